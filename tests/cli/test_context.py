"""`pyengineer context`: the readable summary and the JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyengineer.cli import main

from tests.cli.test_check import run_cli
from tests.repos import RepoFactory

PYPROJECT = """\
[project]
name = "shop"
dependencies = ["fastapi>=0.110", "pandas"]

[tool.uv]
dev-dependencies = ["pytest"]

[tool.pyengineer]
protected-branches = ["main", "release/*"]
"""


@pytest.fixture
def shop(git_repo: RepoFactory) -> Path:
    repo = git_repo(
        files={
            "pyproject.toml": PYPROJECT,
            "uv.lock": "",
            "shop/api.py": "from fastapi import FastAPI\n",
            "shop/ml/train.py": "import torch.nn as nn\nif TYPE_CHECKING:\n    import sklearn\n",
        },
        commit=True,
    )
    repo.git("switch", "-q", "-c", "release/1.0")
    repo.write("shop/api.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    repo.write("scratch.py", "")
    return repo.root


def test_context_json_has_the_documented_keys(shop: Path) -> None:
    result = run_cli("context", "--json", str(shop / "shop" / "ml"), cwd=shop)
    assert result.returncode == 0, result.stderr
    context = json.loads(result.stdout)
    assert context["root"] == str(shop.resolve())
    assert context["python_project"] is True
    assert context["python_project_reason"] == "pyproject.toml found"
    assert context["package_manager"] == "uv"
    assert context["frameworks"] == ["fastapi", "pandas", "pytest"]
    assert context["config_file"] == str(shop.resolve() / "pyproject.toml")
    (ml,) = context["ml_files"]
    assert ml["path"] == "shop/ml/train.py"
    assert ml["libraries"] == ["torch", "sklearn"]
    assert [(i["module"], i["line"], i["type_only"]) for i in ml["imports"]] == [
        ("torch.nn", 1, False),
        ("sklearn", 3, True),
    ]
    git = context["git"]
    assert git["branch"] == "release/1.0"
    assert git["protected"] is True
    assert git["protected_pattern"] == "release/*"
    assert (git["dirty"], git["untracked"]) == (1, 1)
    assert {"kind": "uv.lock", "path": "uv.lock", "detail": ""} in context["markers"]


def test_context_text_summary(
    shop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shop)
    assert main(["context"]) == 0
    out = capsys.readouterr().out
    assert f"Project root:     {shop.resolve()}" in out
    assert "Kind:             Python project (pyproject.toml found)" in out
    assert "Package manager:  uv (uv.lock found)" in out
    assert "Frameworks:       FastAPI, pandas, pytest" in out
    assert "branch 'release/1.0'" in out and "PROTECTED (release/*)" in out
    assert "1 modified, 1 untracked" in out
    assert "  shop/ml/train.py: torch.nn:1, sklearn:3 (type-only)" in out


def test_context_of_a_folder_that_is_not_a_python_project(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html></html>\n")
    result = run_cli("context", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0  # not an error
    assert "not a Python project" in result.stdout
    assert "not a git repository" in result.stdout
    data = json.loads(run_cli("context", "--json", str(tmp_path), cwd=tmp_path).stdout)
    assert data["python_project"] is False
    assert data["package_manager"] is None
    assert data["git"]["is_repo"] is False
    assert data["git"]["branch"] is None


def test_context_of_an_unborn_repo_and_detached_head(git_repo: RepoFactory) -> None:
    repo = git_repo()
    repo.write("a.py", "")
    out = run_cli("context", str(repo.root), cwd=repo.root).stdout
    assert "branch 'main' (no commits yet)" in out
    repo.commit("first")
    repo.git("checkout", "-q", "--detach")
    out = run_cli("context", str(repo.root), cwd=repo.root).stdout
    assert f"detached HEAD at {repo.git('rev-parse', '--short', 'HEAD').strip()}" in out


def test_context_missing_path_exits_2(tmp_path: Path) -> None:
    result = run_cli("context", str(tmp_path / "missing"), cwd=tmp_path)
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr


def test_context_json_lists_each_evidence_file_once(tmp_path: Path) -> None:
    """A file naming a framework twice (fastapi and fastapi-slim; a dependency and an extra) is one piece of
    evidence: it was listed once per name."""
    (tmp_path / "requirements.txt").write_text("fastapi\nfastapi-slim\nredis\naioredis\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["fastapi"]\n'
        '[project.optional-dependencies]\ndev = ["fastapi>=0.110"]\n'
    )
    (tmp_path / "api.py").write_text("import fastapi\nfrom fastapi import FastAPI\n")
    result = run_cli("context", "--json", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    evidence = json.loads(result.stdout)["framework_evidence"]
    assert evidence["fastapi"] == ["requirements.txt", "pyproject.toml", "import:api.py"]
    assert evidence["redis"] == ["requirements.txt"]


def test_context_opens_with_the_summary(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON and text both start with what the project is, then every field as before (in declared order,
    not sorted: `framework_evidence` used to be the first key a sorting reader showed)."""
    result = run_cli("context", "--json", str(shop), cwd=shop)
    context = json.loads(result.stdout)
    keys = list(context)
    assert keys[:4] == ["summary", "root", "python_project", "python_project_reason"]
    assert keys.index("frameworks") < keys.index("framework_evidence") < keys.index("git")
    assert context["summary"] == {
        "project": "python",
        "package_manager": "uv",
        "frameworks": ["fastapi", "pandas", "pytest"],
        "python_files": context["python_file_count"],
        "ml_files": 1,
        "branch": "release/1.0",
        "protected": True,
        "changed_files": 2,
    }
    assert main(["context", str(shop)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"Summary:          Python project; uv; FastAPI, pandas, pytest; {context['python_file_count']} Python "
        "files, 1 ML file; branch 'release/1.0' (protected), 2 changed files"
    )
