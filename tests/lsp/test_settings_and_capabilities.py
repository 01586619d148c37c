"""Editor settings (initializationOptions, configuration pull, didChangeConfiguration), folders and capabilities."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

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
        # A client that can be asked is asked, even when it pushes settings: a pushed object lacks folder settings.
        lsp.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"pyengineer": {"protectedBranches": ["develop"]}})
        )
        await wait_for(lambda: len(lsp.statuses) > 1)  # type: ignore[attr-defined]
        assert "PE101" in await wait_for_codes(lsp, uri, lambda c: "PE101" in c)


async def test_pushed_settings_for_clients_that_cannot_be_asked(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    caps = client_capabilities("neovim@v0.11.0")
    assert caps.workspace is not None
    caps.workspace.configuration = False
    async with lsp_session([repo], capabilities=caps) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        lsp.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"pyengineer": {"protectedBranches": ["develop"]}})
        )
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c and "PE201" in c)


async def test_settings_pushed_right_after_initialized_do_not_stall_loading(
    ml_repo: tuple[Path, Path],
) -> None:
    # Neovim 0.8+ sends didChangeConfiguration at once after `initialized` when it has settings: the workspace
    # must still load, report its status and publish diagnostics.
    repo, model = ml_repo

    def slow_configuration(lsp: LanguageClient) -> None:
        # An editor that takes a moment to answer workspace/configuration: the notification overtakes it.
        answer = lsp.protocol.fm.features[types.WORKSPACE_CONFIGURATION]

        async def slowly(params: types.ConfigurationParams) -> Any:
            await asyncio.sleep(1.0)
            return answer(params)

        lsp.protocol.fm.features[types.WORKSPACE_CONFIGURATION] = slowly

    async with lsp_session([repo], client="neovim@v0.11.0", setup=slow_configuration) as lsp:
        lsp.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"pyengineer": {"debounceMs": 100}})
        )
        await wait_for(lambda: lsp.statuses, timeout=15)  # type: ignore[attr-defined]
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)


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
