"""Project markers, python_project with its reason, the package manager, and finding the root."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.workspace.context import WorkspaceContext, build_context
from pyengineer.workspace.markers import find_project_root, find_root, too_broad_for_a_workspace

from tests.repos import RepoFactory, write


def markers(context: WorkspaceContext) -> set[tuple[str, str]]:
    return {(m.kind, m.path) for m in context.markers}


@pytest.mark.parametrize(
    ("relative", "kind"),
    [
        ("pyproject.toml", "pyproject.toml"),
        ("setup.py", "setup.py"),
        ("setup.cfg", "setup.cfg"),
        ("requirements.txt", "requirements"),
        ("requirements-dev.txt", "requirements"),
        ("requirements/base.txt", "requirements"),
        ("Pipfile", "Pipfile"),
        ("poetry.lock", "poetry.lock"),
        ("uv.lock", "uv.lock"),
        ("pdm.lock", "pdm.lock"),
    ],
)
def test_each_marker_file_is_found_with_its_path(tmp_path: Path, relative: str, kind: str) -> None:
    write(tmp_path, relative, "")
    context = build_context(tmp_path)
    assert (kind, relative) in markers(context)
    assert context.python_project is True
    assert relative in context.python_project_reason


@pytest.mark.parametrize("folder", [".venv", "venv", "env", "my-environment"])
def test_a_virtual_environment_is_a_marker(tmp_path: Path, folder: str) -> None:
    write(tmp_path, f"{folder}/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, f"{folder}/lib/python3.11/site-packages/torch/__init__.py", "import torch\n")
    context = build_context(tmp_path)
    assert ("venv", folder) in markers(context)
    assert context.python_project is True
    assert f"virtual environment {folder}/" in context.python_project_reason
    assert context.python_file_count == 0  # nothing inside the environment is scanned
    assert context.ml_files == ()


def test_dot_venv_without_pyvenv_cfg_is_still_a_virtual_environment(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    assert ("venv", ".venv") in markers(build_context(tmp_path))


def test_python_files_alone_make_a_python_project(tmp_path: Path) -> None:
    write(tmp_path, "scripts/one.py", "print(1)\n")
    write(tmp_path, "two.py", "print(2)\n")
    context = build_context(tmp_path)
    assert context.python_project is True
    assert context.python_project_reason == "2 .py files found"
    assert context.python_file_count == 2
    assert any(m.kind == "python-files" and m.detail == "2 .py files" for m in context.markers)


def test_a_folder_without_markers_is_not_a_python_project_and_says_so(tmp_path: Path) -> None:
    write(tmp_path, "index.html", "<html></html>\n")
    write(tmp_path, "package.json", "{}\n")
    context = build_context(tmp_path)
    assert context.python_project is False
    assert context.python_project_reason.startswith("not a Python project")
    assert context.package_manager is None
    assert context.markers == ()


def test_requirements_includes_are_followed_and_reported_as_markers(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r requirements/base.txt\nfastapi\n")
    write(tmp_path, "requirements/base.txt", "--requirement ../deps/common.txt\npandas\n")
    write(tmp_path, "deps/common.txt", "-c ../deps/constraints.txt\nredis==5.0\n-r common.txt\n")
    write(tmp_path, "deps/constraints.txt", "celery<6\n")
    context = build_context(tmp_path)
    found = markers(context)
    assert ("requirements", "requirements.txt") in found
    assert ("requirements", "requirements/base.txt") in found
    assert ("requirements", "deps/common.txt") in found
    assert ("requirements", "deps/constraints.txt") in found
    included = {m.path: m.detail for m in context.markers if m.detail.startswith("included by")}
    assert included["deps/common.txt"] == "included by requirements.txt"
    # Frameworks declared anywhere in the include chain count.
    assert {"fastapi", "pandas", "redis", "celery"} <= set(context.frameworks)


# --- package manager ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "manager"),
    [
        ({"pyproject.toml": "[project]\nname='x'\n", "poetry.lock": ""}, "poetry"),
        ({"pyproject.toml": "[tool.poetry]\nname = 'x'\n"}, "poetry"),
        ({"pyproject.toml": "[build-system]\nbuild-backend = 'poetry.core.masonry.api'\n"}, "poetry"),
        ({"pyproject.toml": "[project]\nname='x'\n", "uv.lock": ""}, "uv"),
        ({"pyproject.toml": "[tool.uv]\ndev-dependencies = []\n"}, "uv"),
        ({"pyproject.toml": "[project]\nname='x'\n", "pdm.lock": ""}, "pdm"),
        ({"pyproject.toml": "[tool.pdm]\n"}, "pdm"),
        ({"pyproject.toml": "[tool.hatch.envs.default]\ndependencies = []\n"}, "hatch"),
        ({"pyproject.toml": "[project]\nname='x'\n", "hatch.toml": "[envs.default]\n"}, "hatch"),
        ({"Pipfile": "[packages]\nflask = '*'\n"}, "pipenv"),
        ({"Pipfile": "", "Pipfile.lock": "{}"}, "pipenv"),
        ({"requirements.txt": "flask\n"}, "pip"),
        ({"setup.py": "from setuptools import setup\n"}, "pip"),
        ({"pyproject.toml": "[project]\nname='x'\n[tool.hatch.build]\n"}, "pip"),
    ],
)
def test_package_manager(tmp_path: Path, files: dict[str, str], manager: str) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    context = build_context(tmp_path)
    assert context.package_manager == manager
    assert context.package_manager_reason


def test_a_lock_file_outweighs_a_tool_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.pdm]\n")
    write(tmp_path, "uv.lock", "")
    context = build_context(tmp_path)
    assert (context.package_manager, context.package_manager_reason) == ("uv", "uv.lock found")


def test_a_nested_lock_file_does_not_decide_the_root_package_manager(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask\n")
    write(tmp_path, "vendor/lib/poetry.lock", "")
    assert build_context(tmp_path).package_manager == "pip"


# --- the root -------------------------------------------------------------------------------------------


def test_root_is_the_git_toplevel_from_a_subfolder(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"pkg/sub/pyproject.toml": "", "pkg/sub/deeper/x.py": ""})
    assert find_root(repo.root / "pkg" / "sub" / "deeper") == repo.root.resolve()
    assert find_root(repo.root / "pkg" / "sub" / "deeper" / "x.py") == repo.root.resolve()


def test_root_without_git_is_the_nearest_marker_folder(tmp_path: Path) -> None:
    write(tmp_path, "outer/pyproject.toml", "")
    write(tmp_path, "outer/inner/setup.cfg", "")
    write(tmp_path, "outer/inner/src/pkg/mod.py", "")
    write(tmp_path, "outer/reqs/requirements-dev.txt", "")
    write(tmp_path, "outer/reqs/tools/x.py", "")
    assert find_root(tmp_path / "outer/inner/src/pkg") == (tmp_path / "outer/inner").resolve()
    assert find_root(tmp_path / "outer/reqs/tools") == (tmp_path / "outer/reqs").resolve()
    assert find_root(tmp_path / "outer") == (tmp_path / "outer").resolve()


def test_root_without_git_or_markers_is_the_folder_itself(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_root(tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()


def test_context_from_a_subfolder_describes_the_whole_project(git_repo: RepoFactory) -> None:
    repo = git_repo(
        files={"pyproject.toml": "[project]\nname='x'\n", "src/pkg/deep/model.py": "import torch\n"}
    )
    context = build_context(repo.root / "src" / "pkg" / "deep")
    assert context.root == str(repo.root.resolve())
    assert [ml.path for ml in context.ml_files] == ["src/pkg/deep/model.py"]
    assert ("pyproject.toml", "pyproject.toml") in markers(context)


def test_a_stray_file_finds_no_project_and_never_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    # The home folder is a git repository with a pyproject (dotfiles): still not a project for a stray file.
    write(home, "pyproject.toml", "[project]\nname = 'dotfiles'\n")
    (home / ".git").mkdir()
    write(home, "scratch.py", "x = 1\n")
    write(home, "notes/2024/scratch.py", "x = 1\n")
    assert too_broad_for_a_workspace(home) and too_broad_for_a_workspace(Path("/"))
    assert too_broad_for_a_workspace(home.parent) and not too_broad_for_a_workspace(home / "notes")
    assert find_project_root(home / "scratch.py") is None
    assert find_project_root(home / "notes" / "2024" / "scratch.py") is None


def test_a_project_is_found_within_three_folders_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    write(home, "code/proj/pyproject.toml", "[project]\nname = 'proj'\n")
    write(home, "code/proj/src/pkg/mod.py", "x = 1\n")
    write(home, "code/proj/src/pkg/sub/deeper/mod.py", "x = 1\n")
    write(home, "code/repo/a/b/mod.py", "x = 1\n")
    write(home, "code/repo/a/requirements.txt", "torch\n")
    (home / "code" / "repo" / ".git").mkdir()
    proj = (home / "code" / "proj").resolve()
    assert find_project_root(home / "code/proj/src/pkg/mod.py") == proj  # pkg, src, proj
    assert find_project_root(home / "code/proj/src/pkg/sub/deeper/mod.py") is None  # four folders up
    # A git toplevel in range wins over a nearer marker.
    assert find_project_root(home / "code/repo/a/b/mod.py") == (home / "code" / "repo").resolve()
