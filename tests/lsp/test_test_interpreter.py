"""The server's interpreter is not the project's: when the editor runs the server from an environment of its
own (the VS Code extension's private environment), the tests still run in the project's virtual environment,
and without one the server says so rather than running them with its own Python."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.actions.test_testing import _make_venv
from tests.lsp.conftest import lsp_session, make_repo

pytestmark = pytest.mark.timeout(120)

SERVER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

# Passes only in the interpreter whose prefix the test file names (written in by the fixture).
TEST_WHERE = """\
import sys
from pathlib import Path


def test_runs_in_the_project_environment():
    assert Path(sys.prefix).resolve() == Path({prefix!r}).resolve(), sys.prefix
"""


def _project(root: Path, venv: Path | None) -> Path:
    prefix = str(venv) if venv is not None else sys.prefix
    repo = make_repo(
        root,
        {
            "pyproject.toml": '[project]\nname = "where"\n[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n',
            "tests/__init__.py": "",
            "tests/test_where.py": TEST_WHERE.format(prefix=prefix),
            ".gitignore": ".venv\n",
        },
        branch="work",
    )
    if venv is not None:
        (repo / ".venv").symlink_to(venv, target_is_directory=True)
    return repo


async def _run_tests(project: Path) -> dict[str, object]:
    async with lsp_session(
        [project], client="visual-studio-code", env=SERVER_ENV, init_options={"trusted": True}
    ) as lsp:
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.runTests", arguments=[{"scope": "project"}])
        )
    assert isinstance(result, dict)
    return result


async def test_tests_run_in_the_projects_venv_not_the_servers(tmp_path: Path) -> None:
    venv = _make_venv(tmp_path / "project-env", with_pytest=True).parent.parent
    assert Path(sys.prefix).resolve() != venv.resolve()  # the server runs from another environment
    result = await _run_tests(_project(tmp_path / "where", venv))
    # The test passes only where sys.prefix is the project's venv: in the server's Python it would fail.
    assert (result["passed"], result["failed"]) == (1, 0), result


async def test_without_a_project_venv_the_servers_python_is_not_used(tmp_path: Path) -> None:
    # This test file would pass in the server's own interpreter: it must not be run there.
    result = await _run_tests(_project(tmp_path / "where", None))
    assert (result["passed"], result["failed"]) == (0, 0), result
    assert "No Python interpreter for the tests" in str(result), result
