"""The test runner through the server: trust, PE901 where the failure happened, cleared when it passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from tests.actions.test_testing import CALC, TEST_CALC, _make_venv
from tests.lsp.conftest import lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(120)

SERVER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_venv(tmp_path_factory.mktemp("venv") / "env", with_pytest=True).parent.parent


@pytest.fixture
def project(tmp_path: Path, venv: Path) -> Path:
    repo = make_repo(
        tmp_path / "calc",
        {
            "pyproject.toml": '[project]\nname = "calc"\n[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n',
            "app/__init__.py": "",
            "app/calc.py": CALC,
            "tests/__init__.py": "",
            "tests/test_calc.py": TEST_CALC,
            ".gitignore": ".venv\n",
        },
        branch="work",
    )
    (repo / ".venv").symlink_to(venv, target_is_directory=True)
    return repo


async def test_untrusted_workspace_runs_no_tests(project: Path) -> None:
    async with lsp_session([project], client="neovim@v0.11.0", env=SERVER_ENV) as lsp:
        await wait_for(lambda: lsp.statuses)  # type: ignore[attr-defined]
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.runTests", arguments=[{"scope": "project"}])
        )
        assert result["status"] == "refused" and "trust" in result["message"], result
        assert lsp.messages == []


async def test_failures_are_published_where_they_happened_and_cleared_when_fixed(project: Path) -> None:
    test_file = project / "tests" / "test_calc.py"
    app_file = project / "app" / "calc.py"
    async with lsp_session(
        [project], client="neovim@v0.11.0", env=SERVER_ENV, init_options={"trusted": True}
    ) as lsp:
        test_uri = open_doc(lsp, test_file)
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.runTests", arguments=[{"scope": "project"}])
        )
        assert (result["passed"], result["failed"]) == (1, 1)
        assert result["failures"][0]["testId"] == "tests/test_calc.py::test_mean_of_nothing"
        # On the failing assertion in the open test file...
        await wait_for_codes(lsp, test_uri, lambda c: "PE901" in c)
        pe901 = next(d for d in lsp.diagnostics[test_uri] if d.code == "PE901")
        assert pe901.range.start.line == 8 and "ZeroDivisionError" in pe901.message
        # ...and on the application line the traceback went through (a file that is not open: pushed).
        app_uri = app_file.as_uri()
        await wait_for(lambda: any(d.code == "PE901" for d in lsp.diagnostics.get(app_uri, [])))
        assert next(d for d in lsp.diagnostics[app_uri] if d.code == "PE901").range.start.line == 5
        # The quick fixes: ask the agent (with the failure output) or run the test again.
        actions = await lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=test_uri),
                range=pe901.range,
                context=types.CodeActionContext(diagnostics=[pe901]),
            )
        )
        titles = {a.title for a in actions or []}
        assert {"Ask python-engineer for a fix", "Run this test again"} <= titles
        assert any(t.startswith("Run") for t in titles)
        assert lsp.progress_reports  # counts were reported while it ran

        app_file.write_text(
            CALC.replace(
                "return sum(values) / len(values)", "return sum(values) / len(values) if values else 0"
            )
        )
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.runTests", arguments=[{"scope": "project"}])
        )
        assert (result["passed"], result["failed"]) == (2, 0)
        await wait_for_codes(lsp, test_uri, lambda c: "PE901" not in c)
        await wait_for(lambda: not any(d.code == "PE901" for d in lsp.diagnostics.get(app_uri, [])))
