"""One voice per event: commands answer typed results and the server sends no window/showMessage for them;
the advice about the API key and the base URL names what the user can do in the editor they are in.

The real `pyengineer serve` over stdio (pytest-lsp); the agent's API is the fake Messages API or a closed port.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pyengineer.lsp.hints import editor_of
from pytest_lsp import LanguageClient, client_capabilities

from tests.agent.conftest import TEST_KEY
from tests.agent.fake_api import FakeMessagesAPI
from tests.lsp.conftest import agent_env, code_actions_on, git, lsp_session, open_doc, wait_for_codes

pytestmark = pytest.mark.timeout(120)


async def execute(lsp: LanguageClient, command: str, argument: dict[str, Any]) -> Any:
    return await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[argument])
    )


async def quiet(lsp: LanguageClient) -> None:
    """Let any late window/showMessage arrive before the test counts them."""
    await asyncio.sleep(0.5)


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def actions_for(lsp: LanguageClient, uri: str, code: str) -> list[str]:
    diagnostic = next(d for d in lsp.diagnostics[uri] if d.code == code)
    actions = await code_actions_on(lsp, uri, diagnostic)
    return [a.title for a in actions or []]


async def test_every_command_answers_a_typed_result_and_the_server_stays_silent(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    git(repo, "branch", "taken")
    async with lsp_session([repo], init_options={"editor": "vscode"}, env=agent_env(fake_api)) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)

        refused = await execute(lsp, "pyengineer.createBranch", {"uri": uri, "name": "taken"})
        assert refused["status"] == "refused" and "'taken'" in refused["message"], refused

        handoff = await execute(lsp, "pyengineer.handoff", {"uri": uri})
        assert handoff["status"] == "ok" and handoff["relative"] == "docs/handoffs/model.md", handoff
        assert handoff["message"] == "Hand-off document written to docs/handoffs/model.md."
        assert Path(handoff["path"]).is_file()

        ask = await execute(lsp, "pyengineer.ask", {"uri": uri, "question": "Is this safe?"})
        assert ask["status"] == "unavailable", ask
        assert '"pyengineer: Set Anthropic API Key"' in ask["message"], ask["message"]
        assert "ANTHROPIC_API_KEY" not in ask["message"] and "`" not in ask["message"]

        created = await execute(lsp, "pyengineer.createBranch", {"uri": uri, "name": "feature/voice"})
        assert created["status"] == "ok" and created["branch"] == "feature/voice", created
        assert created["message"].startswith("Switched to the new branch 'feature/voice'")

        tests = await execute(lsp, "pyengineer.runTests", {"scope": "project"})
        assert tests["status"] == "refused" and "trust" in tests["message"], tests
        await quiet(lsp)
        # Each outcome was answered, and none was also announced: the client says it once.
        assert lsp.messages == [], [m.message for m in lsp.messages]
    assert fake_api.requests == []


async def test_vscode_hears_its_own_command_and_setting(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    options = {
        "editor": "vscode",
        "apiKey": TEST_KEY,
        "settings": {"llm": {"baseUrl": closed_port(), "maxRetries": 0, "timeout": 5}},
    }
    async with lsp_session([repo], init_options=options) as lsp:
        uri = open_doc(lsp, model)
        answer = await execute(lsp, "pyengineer.ask", {"uri": uri, "question": "Is this safe?"})
        assert answer["status"] == "failed" and answer["kind"] == "network", answer
        assert "pyengineer.llm.baseUrl" in answer["message"], answer["message"]
        assert "llm.base-url" not in answer["message"]
        await quiet(lsp)
        assert lsp.messages == []


async def test_neovim_hears_its_command_only_without_a_key(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    async with lsp_session([repo], client="neovim@v0.11.0", init_options={"editor": "neovim"}) as lsp:
        uri = open_doc(lsp, model)
        answer = await execute(lsp, "pyengineer.ask", {"uri": uri, "question": "Is this safe?"})
        assert answer["status"] == "unavailable" and ":PyengineerApiKey" in answer["message"], answer
        status = lsp.statuses[-1]  # type: ignore[attr-defined]
        assert ":PyengineerApiKey" in status["llm"]["reason"], status
    options = {
        "editor": "neovim",
        "apiKey": TEST_KEY,
        "settings": {"llm": {"baseUrl": closed_port(), "maxRetries": 0, "timeout": 5}},
    }
    async with lsp_session([repo], client="neovim@v0.11.0", init_options=options) as lsp:
        uri = open_doc(lsp, model)
        answer = await execute(lsp, "pyengineer.ask", {"uri": uri, "question": "Is this safe?"})
        assert answer["status"] == "failed" and answer["kind"] == "network", answer
        # A key is set: the advice is the base URL option of setup(), not :PyengineerApiKey.
        assert "baseUrl" in answer["message"] and "setup()" in answer["message"], answer["message"]
        assert ":PyengineerApiKey" not in answer["message"] and "llm.base-url" not in answer["message"]


async def test_the_agent_fix_is_offered_only_where_it_can_run_and_never_on_pe101(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    # Neovim cannot grey an action out (no disabledSupport): without a key it is not offered at all.
    async with lsp_session([repo], client="neovim@v0.11.0", env=agent_env(fake_api)) as lsp:
        assert client_capabilities("neovim@v0.11.0").text_document.code_action.disabled_support is not True
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)
        titles = await actions_for(lsp, uri, "PE201")
        assert "Hand off to ai-engineer" in titles and not any("python-engineer" in t for t in titles), titles
    async with lsp_session(
        [repo], client="neovim@v0.11.0", env=agent_env(fake_api), init_options={"apiKey": TEST_KEY}
    ) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)
        assert "Ask python-engineer for a fix" in await actions_for(lsp, uri, "PE201")
        # PE101 is on the first line with PE201: ask for the actions of PE101's diagnostic alone.
        pe101 = next(d for d in lsp.diagnostics[uri] if d.code == "PE101")
        actions = await lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=pe101.range.start, end=pe101.range.start),
                context=types.CodeActionContext(diagnostics=[pe101], only=[types.CodeActionKind.QuickFix]),
            )
        )
        titles = [a.title for a in actions or []]
        assert any(t.startswith("Create branch") for t in titles), titles
        assert "Ask python-engineer for a fix" not in titles, titles
    assert fake_api.requests == []


def test_the_editor_is_known_from_the_options_or_the_client_info() -> None:
    def params(name: str | None) -> types.InitializeParams:
        info = types.ClientInfo(name=name) if name is not None else None
        return types.InitializeParams(capabilities=types.ClientCapabilities(), client_info=info)

    assert editor_of(params(None), {"editor": "neovim"}) == "neovim"
    assert editor_of(params("Visual Studio Code"), {}) == "vscode"
    assert editor_of(params("code-server"), {}) == "vscode"
    assert editor_of(params("Neovim"), {}) == "neovim"
    assert editor_of(params("Emacs"), {}) == "other"
    assert editor_of(params(None), {"editor": 5}) == "other"
