"""The agent through the real server: code actions, the ask command, confirmation, progress, cancel, no key.

`pyengineer serve` runs as a subprocess, driven by pytest-lsp's client; the anthropic SDK inside it talks to
the fake Messages API running in this test process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.agent.conftest import TEST_KEY
from tests.agent.fake_api import FakeMessagesAPI, text, tool_use, turn
from tests.lsp.conftest import agent_env, code_actions_on, lsp_session, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(120)

TYPED = "def predict(x: list[float]) -> torch.Tensor:\n"


def record_apply_edits(lsp: LanguageClient, applied: bool = True) -> list[types.ApplyWorkspaceEditParams]:
    received: list[types.ApplyWorkspaceEditParams] = []

    @lsp.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        received.append(params)
        return types.ApplyWorkspaceEditResult(applied=applied)

    return received


def vscode_with_lazy_commands() -> types.ClientCapabilities:
    """VS Code's capabilities, resolving commands lazily too (so actions arrive as CodeActions to the test)."""
    caps = client_capabilities("visual-studio-code")
    caps.text_document.code_action.resolve_support = types.ClientCodeActionResolveOptions(
        properties=["edit", "command"]
    )
    return caps


async def agent_action(lsp: LanguageClient, uri: str, code: str) -> types.CodeAction:
    await wait_for_codes(lsp, uri, lambda c: code in c)
    diagnostic = next(d for d in lsp.diagnostics[uri] if d.code == code)
    actions = await code_actions_on(lsp, uri, diagnostic)
    titles = [a.title for a in actions or []]
    # The diagnostic's range is a selection too, so the refactor action is offered beside the fix.
    assert "Ask python-engineer for a fix" in titles and "Ask python-engineer..." in titles
    action = next(a for a in actions or [] if a.title == "Ask python-engineer for a fix")
    assert isinstance(action, types.CodeAction)
    return action


def retype_script(api: FakeMessagesAPI) -> None:
    edit = {
        "path": "model.py",
        "old_text": "def predict(x):\n",
        "new_text": TYPED,
    }
    api.add(
        turn(text("Reading the model."), tool_use("read_file", {"path": "model.py"})),
        turn(tool_use("propose_edits", {"edits": [edit], "explanation": "Typed `predict`."})),
    )


async def test_ask_for_a_fix_ends_in_an_edit_the_user_confirms(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    before = model.read_text()
    retype_script(fake_api)
    caps = vscode_with_lazy_commands()
    async with lsp_session(
        [repo], init_options={"apiKey": TEST_KEY}, capabilities=caps, env=agent_env(fake_api)
    ) as lsp:
        applied = record_apply_edits(lsp)
        uri = open_doc(lsp, model)
        action = await agent_action(lsp, uri, "PE201")
        assert action.kind == types.CodeActionKind.QuickFix and action.disabled is None
        assert action.command is None
        # Listing (and resolving) actions never calls the LLM.
        resolved = await lsp.code_action_resolve_async(action)
        assert fake_api.requests == []
        assert resolved.command is not None and resolved.command.command == "pyengineer.ask"

        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=resolved.command.command, arguments=resolved.command.arguments)
        )
        assert result["status"] == "ok" and result["applied"] is True, result
        assert result["explanation"] == "Typed `predict`."

        (params,) = applied
        assert params.label == "python-engineer: 1 edit in 1 file"
        annotation = params.edit.change_annotations["python-engineer"]
        assert annotation.needs_confirmation is True
        (change,) = params.edit.document_changes
        assert change.text_document.uri == uri and change.text_document.version == 1
        (text_edit,) = change.edits
        assert text_edit.new_text == TYPED and text_edit.annotation_id == "python-engineer"
        assert (text_edit.range.start.line, text_edit.range.end.line) == (3, 4)
        # The server applied nothing itself: the editor does, after the user confirms.
        assert model.read_text() == before

        first = fake_api.requests[0].body
        assert "PE201" in first["messages"][0]["content"][0]["text"]
        assert "import torch" in first["messages"][0]["content"][0]["text"]
        reports = [r for values in lsp.progress_reports.values() for r in values]
        messages = [getattr(r, "message", None) for r in reports]
        assert "reading model.py" in messages and "thinking" in messages
        assert any(isinstance(r, types.WorkDoneProgressBegin) and r.cancellable for r in reports)
        status = await wait_for(lambda: [s for s in lsp.statuses if s.get("usage")])
        assert status[-1]["usage"]["last"]["apiCalls"] == 2


async def test_without_a_key_the_actions_say_how_to_enable_the_agent(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    async with lsp_session([repo], env=agent_env(fake_api)) as lsp:
        uri = open_doc(lsp, model)
        action = await agent_action(lsp, uri, "PE201")
        assert action.disabled is not None and "ANTHROPIC_API_KEY" in action.disabled.reason
        # The command, run anyway (a key binding, a stale action), explains itself in its result.
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.ask", arguments=[{"uri": uri, "mode": "fix"}])
        )
        assert result["status"] == "unavailable" and "ANTHROPIC_API_KEY" in result["message"]
        assert lsp.messages == []  # said once, by the client
    assert fake_api.requests == []


async def test_the_progress_cancel_button_aborts_the_request(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    fake_api.add(turn(text("Thinking very slowly"), stall_after_events=3))
    async with lsp_session([repo], init_options={"apiKey": TEST_KEY}, env=agent_env(fake_api)) as lsp:
        applied = record_apply_edits(lsp)
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        known = set(lsp.progress_reports)
        task = asyncio.ensure_future(
            lsp.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="pyengineer.ask", arguments=[{"uri": uri, "question": "why?"}]
                )
            )
        )
        await asyncio.get_running_loop().run_in_executor(None, fake_api.stalled.wait, 30)
        token = next(
            t for t in lsp.progress_reports if t not in known and str(t).startswith("pyengineer-agent")
        )
        lsp.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result: Any = await asyncio.wait_for(task, 10)
        assert result["status"] == "cancelled"
        assert await asyncio.get_running_loop().run_in_executor(None, fake_api.disconnected.wait, 5)
        assert applied == []


async def test_a_client_without_annotations_confirms_through_a_message(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    retype_script(fake_api)
    retype_script(fake_api)
    caps = client_capabilities("neovim@v0.11.0")
    async with lsp_session(
        [repo], init_options={"apiKey": TEST_KEY}, capabilities=caps, env=agent_env(fake_api)
    ) as lsp:
        applied = record_apply_edits(lsp)
        answers = ["Apply", "Discard"]
        prompts: list[str] = []

        @lsp.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def choose(params: types.ShowMessageRequestParams) -> types.MessageActionItem:
            prompts.append(params.message)
            return types.MessageActionItem(title=answers.pop(0))

        uri = open_doc(lsp, model)
        action = await agent_action(lsp, uri, "PE201")
        resolved = await lsp.code_action_resolve_async(action)
        assert resolved.command is not None
        command = types.ExecuteCommandParams(
            command=resolved.command.command, arguments=resolved.command.arguments
        )
        first = await lsp.workspace_execute_command_async(command)
        assert first["applied"] is True
        assert prompts[0].startswith("python-engineer: 1 edit in 1 file.")
        (params,) = applied
        assert params.edit.change_annotations is None
        (text_edit,) = params.edit.changes[uri]
        assert text_edit.new_text == TYPED
        second = await lsp.workspace_execute_command_async(command)
        assert second["applied"] is False and second["reason"] == "discarded"
        assert len(applied) == 1 and len(prompts) == 2


async def test_a_selection_offers_the_refactor_action(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    caps = client_capabilities("neovim@v0.11.0")
    async with lsp_session(
        [repo], init_options={"apiKey": TEST_KEY}, capabilities=caps, env=agent_env(fake_api)
    ) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        selection = types.Range(
            start=types.Position(line=3, character=0), end=types.Position(line=4, character=10)
        )
        actions = await lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selection,
                context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.Refactor]),
            )
        )
        (ask,) = [a for a in actions or [] if a.title.startswith("Ask")]
        assert isinstance(ask, types.CodeAction)
        assert ask.title == "Ask python-engineer..." and ask.kind == types.CodeActionKind.RefactorRewrite
        resolved = await lsp.code_action_resolve_async(ask)
        assert resolved.command is not None and resolved.command.arguments[0]["mode"] == "selection"
    assert fake_api.requests == []


async def test_the_editors_fix_test_path_hands_the_failing_output_to_the_agent(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    fake_api.add(turn(text("The expected value in the test is wrong.")))
    async with lsp_session(
        [repo],
        init_options={"apiKey": TEST_KEY},
        capabilities=vscode_with_lazy_commands(),
        env=agent_env(fake_api),
    ) as lsp:
        open_doc(lsp, model)
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="pyengineer.fixTest",
                arguments=[
                    {
                        "test_id": "tests/test_model.py::test_predict",
                        "app_file": str(model),
                        "app_line": 5,
                        "message": "AssertionError: assert 2 == 3",
                        "output": "E       assert 2 == 3\ntests/test_model.py:7: AssertionError",
                    }
                ],
            )
        )
        assert result["status"] == "ok", result
    first = fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    failing = first.split("<failing_test>")[1].split("</failing_test>")[0]
    assert "tests/test_model.py::test_predict: AssertionError: assert 2 == 3" in failing
    assert "tests/test_model.py:7: AssertionError" in failing
    assert "The user is in model.py at line 5" in first
