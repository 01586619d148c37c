"""The agent loop end to end: the real anthropic SDK against the local fake Messages API."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyengineer.actions.edits import apply_text_edits
from pyengineer.agent.credentials import availability
from pyengineer.agent.errors import (
    AgentAuthenticationError,
    AgentCancelledError,
    AgentConnectionError,
    AgentModelNotFoundError,
    AgentOverloadedError,
    AgentPermissionError,
    AgentRefusedError,
    AgentServerError,
    AgentUnavailableError,
)
from pyengineer.agent.loop import AgentRequest, AgentResult, run_agent
from pyengineer.config import Settings
from pyengineer.findings import Finding, Range

from tests.agent.conftest import APP_PY, TEST_KEY, settings_for
from tests.agent.fake_api import FakeMessagesAPI, HttpError, result_text, text, tool_use, turn
from tests.agent.secret_corpus import CORPUS, GITHUB_PAT, OPENAI_PROJ, STRIPE_LIVE, corpus_file
from tests.repos import GitRepo

RETYPE = "def get_order(order_id: int) -> dict[str, int]:\n"


def propose(*edits: dict[str, Any], explanation: str = "Typed the handler.") -> dict[str, Any]:
    return tool_use("propose_edits", {"edits": list(edits), "explanation": explanation})


def line_edit(path: str, first: int, last: int, new_text: str) -> dict[str, Any]:
    return {
        "path": path,
        "range": {"start": {"line": first, "column": 1}, "end": {"line": last + 1, "column": 1}},
        "new_text": new_text,
    }


def sent_key(headers: dict[str, str]) -> str:
    """The credential the SDK sent (this SDK version sends an API key as a bearer token)."""
    return headers.get("x-api-key") or headers.get("authorization", "")


def ask(
    project: GitRepo,
    settings: Settings,
    question: str = "Add type hints to get_order",
    *,
    api_key: str | None = TEST_KEY,
    steps: list[str] | None = None,
    chunks: list[str] | None = None,
    cancel: threading.Event | None = None,
    max_retries: int = 0,
    **request: Any,
) -> AgentResult:
    return run_agent(
        AgentRequest(root=project.root, question=question, **request),
        settings,
        api_key=api_key,
        on_progress=steps.append if steps is not None else None,
        on_text=chunks.append if chunks is not None else None,
        cancel=cancel,
        max_retries=max_retries,
    )


def test_a_tool_round_trip_ends_in_correct_edits(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        turn(
            text("Let me read the handler."),
            tool_use("read_file", {"path": "app/main.py"}),
            input_tokens=1500,
        ),
        turn(
            propose(line_edit("app/main.py", 9, 9, RETYPE)),
            input_tokens=200,
            cache_read_input_tokens=1400,
            output_tokens=60,
        ),
    )
    steps: list[str] = []
    chunks: list[str] = []
    result = ask(project, settings_for(fake_api), path="app/main.py", steps=steps, chunks=chunks)

    assert result.complete and result.explanation == "Typed the handler."
    (edit,) = result.edits
    assert edit.path == str(project.root.resolve() / "app/main.py")
    assert apply_text_edits(APP_PY, result.edits) == APP_PY.replace("def get_order(order_id):\n", RETYPE)
    assert "".join(chunks) == "Let me read the handler."
    assert "reading app/main.py" in steps and "thinking" in steps and "proposing edits" in steps
    assert (result.usage.input_tokens, result.usage.cache_read_input_tokens, result.usage.output_tokens) == (
        1700,
        1400,
        80,
    )
    assert result.usage.api_calls == 2 and result.tool_rounds == 1

    first, second = (r.body for r in fake_api.requests)
    assert first["model"] == "claude-sonnet-5-5" and first["stream"] is True
    assert "The user is in app/main.py" in first["messages"][0]["content"][0]["text"]
    # The model's own turn goes back verbatim, then the tool result with numbered lines.
    assert second["messages"][1]["content"][1]["name"] == "read_file"
    (tool_result,) = fake_api.requests[1].tool_results()
    assert " 9| def get_order(order_id):" in result_text(tool_result)
    assert not tool_result.get("is_error")


def test_prompt_caching_marks_the_system_prompt_the_context_block_and_the_newest_turn(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(turn(tool_use("list_files", {"glob": "*.py"})), turn(propose()))
    ask(project, settings_for(fake_api))
    for received in fake_api.requests:
        system = received.body["system"]
        assert [block["cache_control"] for block in system] == [{"type": "ephemeral"}] * 2
        assert "python-engineer" in system[0]["text"] and "<workspace_context>" in system[1]["text"]
        marked = [
            block
            for message in received.body["messages"]
            for block in message["content"]
            if isinstance(block, dict) and "cache_control" in block
        ]
        # One moving breakpoint on the newest block: with the two system ones, within the API's four.
        assert marked == [received.body["messages"][-1]["content"][-1]]
    # The cached prefix is identical between rounds: same persona, same context, same tools.
    first, second = (r.body for r in fake_api.requests)
    assert first["system"] == second["system"] and first["tools"] == second["tools"]


def test_the_context_block_describes_the_project_without_the_absolute_root(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(turn(propose()))
    ask(project, settings_for(fake_api))
    context = fake_api.requests[0].body["system"][1]["text"]
    facts = json.loads(context.split("<workspace_context>")[1].split("</workspace_context>")[0])
    assert facts["frameworks"] == ["fastapi"]
    assert facts["git"]["branch"] == "main" and facts["git"]["protected_branch"] is True
    assert "recommend a feature branch" in context
    assert str(project.root.parent) not in fake_api.all_bytes().decode()


def test_the_model_asking_for_files_outside_its_view_is_refused(
    project: GitRepo, fake_api: FakeMessagesAPI, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "creds.py").write_text("OUTSIDE_MARKER = 1\n")
    (project.root / "app" / "escape.py").symlink_to(outside / "creds.py")
    asked = ["../../etc/passwd", "/etc/passwd", "app/escape.py", ".env", "local/notes.py"]
    fake_api.add(
        turn(*(tool_use("read_file", {"path": p}) for p in asked)),
        turn(propose(explanation="I could not read those files.")),
    )
    result = ask(project, settings_for(fake_api))
    assert result.complete and result.edits == ()
    results = fake_api.requests[1].tool_results()
    assert len(results) == len(asked) and all(r["is_error"] for r in results)
    messages = [result_text(r) for r in results]
    for fragment, message in zip(
        ["leaves the workspace", "absolute", "outside the workspace", "secrets", "gitignored"],
        messages,
        strict=True,
    ):
        assert fragment in message
    sent = fake_api.all_bytes().decode()
    assert "root:x:0" not in sent and "OUTSIDE_MARKER" not in sent
    assert "not-for-the-model" not in sent and "do not send" not in sent


def test_no_secret_reaches_the_server_through_any_path(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    # Secrets in a committed file, in uncommitted changes (git diff), in the unsaved editor buffer, in the
    # question, in a diagnostic message and in a file the search tool reads.
    project.write("app/settings.py", corpus_file())
    project.commit("settings", "app/settings.py")
    project.write("app/main.py", APP_PY + f'\nSTRIPE_KEY = "{STRIPE_LIVE}"\n')
    project.write("app/clients.py", f'GITHUB_TOKEN = "{GITHUB_PAT}"\n')
    unsaved = APP_PY + f'\nOPENAI_API_KEY = "{OPENAI_PROJ}"\n'
    finding = Finding(
        code="PE802",
        message=f'hard-coded secret "{OPENAI_PROJ}"',
        path=str(project.root / "app/main.py"),
        range=Range.of(11, 0),
    )
    fake_api.add(
        turn(
            tool_use("read_file", {"path": "app/settings.py"}),
            tool_use("read_file", {"path": "app/main.py"}),
            tool_use("search", {"regex": "TOKEN|KEY|password|secret"}),
            tool_use("git_diff", {}),
            tool_use("list_files", {"glob": "**"}),
            tool_use("project_context", {}),
        ),
        turn(propose(explanation="Move the secrets to the environment.")),
    )
    result = ask(
        project,
        settings_for(fake_api),
        f"Why does {GITHUB_PAT} fail with DATABASE_URL=postgresql://app:{CORPUS[18].value}@db/app ?",
        path="app/main.py",
        document_text=unsaved,
        findings=(finding,),
    )
    assert result.complete
    sent = fake_api.all_bytes()
    decoded = json.dumps([r.body for r in fake_api.requests])
    leaked = [
        needle
        for secret in CORPUS
        for needle in secret.needles
        if needle.encode() in sent or needle in decoded
    ]
    assert leaked == []
    # The tools did run and were redacted, not skipped.
    results = fake_api.requests[1].tool_results()
    assert all(not r.get("is_error") for r in results), [result_text(r) for r in results]
    assert "[REDACTED:github-token]" in result_text(results[2])
    assert "[REDACTED:stripe-key]" in result_text(results[3])
    assert result.redactions >= len(CORPUS) and "private-key" in result.redaction_kinds


def test_cancelling_mid_stream_closes_the_connection_at_once(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(turn(text("I am thinking about this for a long time"), stall_after_events=4))
    cancel = threading.Event()

    def cancel_when_stalled() -> None:
        fake_api.stalled.wait(10)
        time.sleep(0.1)
        cancel.set()

    threading.Thread(target=cancel_when_stalled, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(AgentCancelledError):
        ask(project, settings_for(fake_api), cancel=cancel)
    assert time.monotonic() - started < 5
    # The server sees the connection go within moments of the cancel, though it never sent another byte.
    assert fake_api.disconnected.wait(2)


def test_a_cancel_before_the_request_sends_nothing(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(AgentCancelledError):
        ask(project, settings_for(fake_api), cancel=cancel)
    assert fake_api.requests == []


def test_a_rate_limit_is_retried_then_succeeds(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(HttpError(429, "rate_limit_error", "slow down"), turn(propose()))
    result = ask(project, settings_for(fake_api), max_retries=2)
    assert result.complete
    assert len(fake_api.requests) == 2


def test_overloaded_until_the_retries_run_out_is_a_clear_error(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(*[HttpError(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(AgentOverloadedError, match=r"overloaded \(529\), still after the retries"):
        ask(project, settings_for(fake_api), max_retries=2)
    assert len(fake_api.requests) == 3


def test_an_overloaded_error_event_in_the_middle_of_a_stream(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(HttpError(500, "api_error"), HttpError(500, "api_error"))
    with pytest.raises(AgentServerError, match=r"internal error \(500\)"):
        ask(project, settings_for(fake_api), max_retries=1)


@pytest.mark.parametrize(
    ("status", "error_type", "error", "words"),
    [
        (401, "authentication_error", AgentAuthenticationError, "rejected the API key (401)"),
        (403, "permission_error", AgentPermissionError, "not allowed"),
        (404, "not_found_error", AgentModelNotFoundError, "model 'claude-sonnet-5-5' was not found"),
    ],
)
def test_client_errors_are_not_retried_and_say_what_to_do(
    project: GitRepo,
    fake_api: FakeMessagesAPI,
    caplog: pytest.LogCaptureFixture,
    status: int,
    error_type: str,
    error: type[Exception],
    words: str,
) -> None:
    fake_api.add(HttpError(status, error_type, f"echo of {TEST_KEY}"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(error) as raised:
        ask(project, settings_for(fake_api), max_retries=2)
    assert words in str(raised.value)
    assert len(fake_api.requests) == 1
    # The key went only where it must (the header); never into an error message, a log or a request body.
    assert TEST_KEY not in str(raised.value)
    assert TEST_KEY not in caplog.text
    assert TEST_KEY in sent_key(fake_api.requests[0].headers)
    assert TEST_KEY.encode() not in fake_api.requests[0].raw


def test_network_down_is_a_clear_error(project: GitRepo) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings.model_validate({"llm": {"base_url": f"http://127.0.0.1:{port}", "timeout": 5}})
    with pytest.raises(AgentConnectionError, match="could not reach the Anthropic API"):
        ask(project, settings)


def test_the_timeout_stops_a_stalled_stream_as_a_limit(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text("slow"), stall_after_events=3))
    started = time.monotonic()
    result = ask(project, settings_for(fake_api, timeout=1.0))
    assert time.monotonic() - started < 4
    assert result.limit is not None and "timeout of 1 s" in result.limit
    assert result.edits == () and "Stopped:" in result.explanation


def test_invalid_tool_input_goes_back_to_the_model(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        turn(tool_use("read_file", {"path": 42, "mode": "rw"})),
        turn(propose({"path": "app/main.py", "new_text": "x"})),
        turn(propose(line_edit("app/main.py", 9, 9, RETYPE))),
    )
    result = ask(project, settings_for(fake_api))
    assert result.complete and len(result.edits) == 1
    (bad_read,) = fake_api.requests[1].tool_results()
    assert bad_read["is_error"] and "invalid input" in result_text(bad_read)
    (bad_edit,) = fake_api.requests[2].tool_results()
    assert bad_edit["is_error"] and "range" in result_text(bad_edit)


def test_the_tool_round_limit_stops_cleanly(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(*[turn(tool_use("list_files", {"glob": "*.py"})) for _ in range(3)])
    result = ask(project, settings_for(fake_api, max_tool_rounds=2))
    assert result.limit == "the limit of 2 tool rounds (llm.max-tool-rounds) was reached"
    assert result.edits == () and len(fake_api.requests) == 3
    last_results = fake_api.requests[2].body["messages"][-1]["content"]
    assert "last tool round" in last_results[-1]["text"]


def test_a_final_answer_is_still_accepted_after_the_last_round(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(turn(tool_use("list_files", {})), turn(propose(line_edit("app/main.py", 9, 9, RETYPE))))
    result = ask(project, settings_for(fake_api, max_tool_rounds=1))
    assert result.complete and len(result.edits) == 1


def test_the_token_budget_stops_before_overspending(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(tool_use("list_files", {}), input_tokens=5500, output_tokens=100))
    result = ask(project, settings_for(fake_api, token_budget=7000))
    assert result.limit == "the token budget of 7000 tokens (llm.token-budget) was reached after 5600 tokens"
    assert len(fake_api.requests) == 1
    # The first answer was already capped so that input and output fit the budget.
    assert fake_api.requests[0].body["max_tokens"] < 7000 - 3000


def test_a_budget_smaller_than_the_prompt_sends_nothing(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    result = ask(project, settings_for(fake_api, token_budget=1000))
    assert result.limit is not None and "token budget of 1000 tokens" in result.limit
    assert fake_api.requests == []


def test_an_answer_cut_off_by_max_tokens_gives_no_edits(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text("Here is a very long"), stop_reason="max_tokens"))
    result = ask(project, settings_for(fake_api, max_output_tokens=1024))
    assert result.limit == "the answer was cut off by the output limit of 1024 tokens (llm.max-output-tokens)"
    assert result.edits == () and "Here is a very long" in result.explanation
    assert fake_api.requests[0].body["max_tokens"] == 1024


def test_a_plain_text_answer_is_an_explanation_without_edits(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(turn(text("get_order returns a dict.")))
    result = ask(project, settings_for(fake_api), "What does get_order return?")
    assert result.complete and result.edits == () and result.explanation == "get_order returns a dict."


def test_without_a_key_nothing_is_sent_and_the_message_says_how_to_enable(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    settings = settings_for(fake_api)
    assert availability(settings) == (False, availability(settings)[1])
    assert "ANTHROPIC_API_KEY" in availability(settings)[1]
    with pytest.raises(AgentUnavailableError, match="ANTHROPIC_API_KEY"):
        ask(project, settings, api_key=None)
    assert fake_api.requests == []
    disabled = Settings.model_validate({"llm": {"enabled": False}})
    assert availability(disabled, TEST_KEY)[0] is False
    assert availability(settings, TEST_KEY)[0] is True


def test_the_sdk_environment_variables_work_and_our_base_url_overrides_them(
    project: GitRepo, fake_api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    fake_api.add(turn(propose()))
    assert ask(project, Settings(), api_key=None).complete
    assert TEST_KEY in sent_key(fake_api.requests[0].headers)
    # With llm.base_url set, the environment's gateway is not used.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    fake_api.add(turn(propose()))
    assert ask(project, settings_for(fake_api), api_key=None).complete


def test_a_request_about_a_secret_file_is_refused_before_sending(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    with pytest.raises(AgentRefusedError, match="never sends"):
        ask(project, settings_for(fake_api), path=str(project.root / ".env"))
    assert fake_api.requests == []


def test_unsaved_editor_text_is_what_the_model_sees_and_edits(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    unsaved = APP_PY.replace("def get_order", "def fetch_order")
    fake_api.add(
        turn(propose(line_edit("app/main.py", 9, 9, "def fetch_order(order_id: int) -> dict[str, int]:\n")))
    )
    result = ask(
        project, settings_for(fake_api), path="app/main.py", document_text=unsaved, range=Range.of(8, 4)
    )
    assert "def fetch_order(order_id):" in fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    assert "at line 9, column 5" in fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    assert apply_text_edits(unsaved, result.edits).count("order_id: int") == 1
