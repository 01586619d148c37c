"""PE101 protected-branch and PE201 ml-boundary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.registry import RULES, Rule, RuleInput
from pyengineer.engine.rules.branch import CREATE_BRANCH_COMMAND
from pyengineer.engine.rules.ml import HANDOFF_COMMAND
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding, Range, Severity
from pyengineer.git.state import GitState
from pyengineer.reporting import finding_json
from pyengineer.workspace.context import MlFile, WorkspaceContext

PE101_ONLY = Settings(select=("PE101",))
PE201_ONLY = Settings(select=("PE201",))


def on(git: GitState) -> WorkspaceContext:
    return WorkspaceContext(root="/p", python_project=True, python_project_reason="test", git=git)


def doc(text: str, relative: str = "app/users.py") -> ParsedSource:
    return ParsedSource(f"/p/{relative}", text, relative)


MAIN = GitState(is_repo=True, branch="main", head="abc1234", protected=True, protected_pattern="main")


# --- PE101 ----------------------------------------------------------------------------------------------


def test_pe101_on_a_changed_file_on_a_protected_branch() -> None:
    text = "from fastapi import APIRouter\nrouter = APIRouter()\n"
    (finding,) = analyze(doc(text), on(MAIN), PE101_ONLY, changed=True)
    assert finding.code == "PE101"
    assert finding.severity == Severity.WARNING
    assert finding.range == Range.of(0, 0, 0, len("from fastapi import APIRouter"))
    assert "app/users.py" in finding.message and "'main'" in finding.message
    assert "feature/api-users" in finding.message
    assert finding.fixes[0].command == CREATE_BRANCH_COMMAND
    assert finding.fixes[0].arguments == ({"name": "feature/api-users", "path": "/p/app/users.py"},)
    assert finding.fixes[0].preferred is True
    assert [f.preferred for f in finding.fixes[1:]] == [False] * (len(finding.fixes) - 1)
    assert finding.data["names"][0] == "feature/api-users"


@pytest.mark.parametrize(
    ("git", "changed"),
    [
        (MAIN, False),  # nothing is being changed
        (MAIN.model_copy(update={"protected": False, "branch": "feature/x"}), True),
        (GitState(is_repo=True, detached=True, head="abc1234"), True),
        (GitState(), True),  # not a repository
    ],
)
def test_pe101_is_quiet_otherwise(git: GitState, changed: bool) -> None:
    assert analyze(doc("x = 1\n"), on(git), PE101_ONLY, changed=changed) == []


def test_pe101_suggestions_avoid_existing_branches() -> None:
    git = MAIN.model_copy(update={"branches": ("main", "feature/api-users", "origin/feature/api-users-2")})
    (finding,) = analyze(doc("import fastapi\n"), on(git), PE101_ONLY, changed=True)
    assert finding.data["names"][0] == "feature/api-users-3"


def test_pe101_suggests_a_fix_branch_when_an_error_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def error(inp: RuleInput) -> Iterator[Finding]:
        yield Finding(
            code="PE095", message="bug", path=inp.source.path, range=Range.of(0, 0), severity=Severity.ERROR
        )

    monkeypatch.setitem(RULES, "PE095", Rule("PE095", "an-error", "x", Severity.ERROR, error))
    settings = Settings(select=("PE101", "PE095"))
    findings = analyze(doc("import fastapi\n"), on(MAIN), settings, changed=True)
    (pe101,) = [f for f in findings if f.code == "PE101"]
    assert pe101.data["names"][0] == "fix/users"


def test_pe101_on_an_empty_file() -> None:
    (finding,) = analyze(doc(""), on(MAIN), PE101_ONLY, changed=True)
    assert finding.range == Range.of(0, 0, 0, 0)


# --- PE201 ----------------------------------------------------------------------------------------------


def test_pe201_names_the_library_and_the_role() -> None:
    text = "import os\nimport torch.nn as nn\n"
    (finding,) = analyze(doc(text), on(GitState()), PE201_ONLY)
    assert finding.code == "PE201"
    assert finding.severity == Severity.INFO
    assert finding.message.startswith("'torch' is an ML library:")
    assert "ai-engineer" in finding.message
    assert finding.range == Range.of(1, 7, 1, 15)  # the module name `torch.nn`
    assert finding.fixes[0].command == HANDOFF_COMMAND
    assert finding.fixes[0].arguments == ({"path": "/p/app/users.py"},)
    assert finding.data == {
        "library": "torch",
        "module": "torch.nn",
        "libraries": ["torch"],
        "imports": 1,
        "ml_project": False,
    }
    assert finding.related == ()


def test_pe201_type_checking_import_is_a_hint() -> None:
    text = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from transformers import AutoModel\n"
    (finding,) = analyze(doc(text), on(GitState()), PE201_ONLY)
    assert finding.severity == Severity.HINT
    assert "(type-checking only)" in finding.message
    assert finding.range == Range.of(2, 9, 2, 21)


def test_pe201_dynamic_import() -> None:
    text = 'import importlib\nlib = importlib.import_module("xgboost")\n'
    (finding,) = analyze(doc(text), on(GitState()), PE201_ONLY)
    assert "'xgboost'" in finding.message and "(dynamic import)" in finding.message
    assert text.splitlines()[1][finding.range.start.character : finding.range.end.character] == '"xgboost"'


def test_pe201_one_finding_per_file_the_other_imports_related() -> None:
    # One finding per import line made 322 findings in an 83-file ML repository.
    text = "import torch\nimport numpy\nfrom torch import nn\nimport jax.numpy as jnp\n"
    (finding,) = analyze(doc(text), on(GitState()), PE201_ONLY)
    assert (finding.line, finding.data["libraries"], finding.data["imports"]) == (0, ["torch", "jax"], 3)
    assert finding.message.startswith("'torch', 'jax' are ML libraries:")
    assert [(r.range.start.line, r.message) for r in finding.related] == [
        (2, "also imports 'torch'"),
        (3, "also imports 'jax.numpy'"),
    ]
    assert all(r.path == "/p/app/users.py" for r in finding.related)


def test_pe201_in_an_ml_project_is_a_hint_about_the_project() -> None:
    # 3 of 12 files import ML libraries (ludwig has a third): the purpose is ML, the boundary is the project.
    ml_files = tuple(MlFile(path=f"m{i}.py", libraries=("torch",), imports=()) for i in range(3))
    context = on(GitState()).model_copy(update={"ml_files": ml_files, "python_file_count": 12})
    (finding,) = analyze(doc("import torch\n"), context, PE201_ONLY)
    assert finding.severity == Severity.HINT
    assert finding.data["ml_project"] is True
    assert "3 of 12 Python files" in finding.message
    # 2 of 12: a web app with an ML corner (mlflow has 4%) keeps the per-file note.
    corner = context.model_copy(update={"ml_files": ml_files[:2]})
    (finding,) = analyze(doc("import torch\n"), corner, PE201_ONLY)
    assert finding.severity == Severity.INFO


def test_pe201_follows_the_configured_ml_list() -> None:
    text = "import torch\nimport mlx\n"
    extended = PE201_ONLY.model_copy(update={"extend_ml_libraries": ("mlx",)})
    replaced = PE201_ONLY.model_copy(update={"ml_libraries": ("mlx",)})
    assert [f.data["libraries"] for f in analyze(doc(text), on(GitState()), extended)] == [["torch", "mlx"]]
    assert [f.data["libraries"] for f in analyze(doc(text), on(GitState()), replaced)] == [["mlx"]]


def test_pe201_in_a_broken_file() -> None:
    (finding,) = analyze(doc("import torch\nclass Net(:\n"), on(GitState()), PE201_ONLY)
    assert finding.range == Range.of(0, 7, 0, 12)


def test_pe201_related_imports_are_in_the_json_output() -> None:
    (finding,) = analyze(doc("import torch\nimport jax\n"), on(GitState()), PE201_ONLY)
    assert finding_json(finding)["related"] == [
        {
            "path": "/p/app/users.py",
            "cell": None,
            "start": {"line": 2, "column": 8},
            "end": {"line": 2, "column": 11},
            "message": "also imports 'jax'",
        }
    ]
