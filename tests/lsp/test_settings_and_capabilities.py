"""Editor settings (initializationOptions, configuration pull, didChangeConfiguration), folders and capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.conftest import lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(90)


async def test_initialization_options_settings_apply(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    options = {"settings": {"protectedBranches": ["release/*"], "ignore": ["PE2"]}}
    async with lsp_session([repo], client="neovim@v0.11.0", init_options=options) as lsp:
        uri = open_doc(lsp, model)
        await wait_for(lambda: uri in lsp.diagnostics)
        assert lsp.diagnostics[uri] == [] or not {"PE101", "PE201"} & {
            str(d.code) for d in lsp.diagnostics[uri]
        }
        status = await wait_for(lambda: lsp.statuses)  # type: ignore[attr-defined]
        assert status[-1]["protected"] is False


async def test_configuration_pull_and_did_change_configuration(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    async with lsp_session(
        [repo], client="neovim@v0.11.0", configuration={"protectedBranches": ["release/*"]}
    ) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c and "PE101" not in c)
        lsp.set_configuration({"protectedBranches": ["main"]}, section="pyengineer")
        lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        # Settings pushed in the notification itself are used as they are.
        lsp.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"pyengineer": {"protectedBranches": ["develop"]}})
        )
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c)


async def test_workspace_folders_can_be_added_and_removed(tmp_path: Path) -> None:
    first = make_repo(tmp_path / "one")
    second = make_repo(tmp_path / "two", {"lib.py": "x = 1\n"})
    (second / "lib.py").write_text("import xgboost\n", encoding="utf-8")
    async with lsp_session([first], client="neovim@v0.11.0") as lsp:
        await wait_for(lambda: lsp.statuses)  # type: ignore[attr-defined]
        lsp.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(
                    added=[types.WorkspaceFolder(uri=second.as_uri(), name="two")], removed=[]
                )
            )
        )
        status = await wait_for(
            lambda: [s for s in lsp.statuses if s["root"] == str(second)]  # type: ignore[attr-defined]
        )
        assert status[-1]["mlFileCount"] == 1
        context = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="pyengineer.showContext", arguments=[{"uri": (second / "lib.py").as_uri()}]
            )
        )
        assert context["root"] == str(second)


async def test_no_progress_or_show_document_for_clients_without_them(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    caps = client_capabilities("neovim@v0.11.0")
    caps.window = types.WindowClientCapabilities(work_done_progress=False, show_document=None)
    async with lsp_session([repo], capabilities=caps) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.handoff", arguments=[{"uri": uri}])
        )
        assert Path(result["path"]).is_file()
        assert lsp.shown_documents == []
        assert lsp.progress_reports == {}


async def test_logs_reach_the_client_and_set_trace_is_accepted(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        await wait_for(lambda: any("watching" in m.message for m in lsp.log_messages))
        lsp.set_trace(types.SetTraceParams(value=types.TraceValue.Verbose))
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
