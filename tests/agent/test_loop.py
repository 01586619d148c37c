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
    AgentRateLimitError,
    AgentRefusedError,
    AgentServerError,
    AgentSpendLimitError,
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


def replace(path: str, old_text: str, new_text: str, **hints: int) -> dict[str, Any]:
    return {"path": path, "old_text": old_text, "new_text": new_text, **hints}


GET_ORDER = "def get_order(order_id):\n"


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
            propose(replace("app/main.py", GET_ORDER, RETYPE)),
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
    assert facts["frameworks"] == ["fastapi"] and facts["project_folder"] == "shop"
    # The branch can change between two asks: it is in the user's turn, not the cached block.
    first = fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    now = json.loads(first.split("<workspace_now>")[1].split("</workspace_now>")[0])
    assert now["git"]["branch"] == "main" and now["git"]["protected_branch"] is True
    assert "recommend a feature branch" in first and "branch" not in context
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
    steps: list[str] = []
    result = ask(project, settings_for(fake_api), max_retries=2, steps=steps)
    assert result.complete
    assert len(fake_api.requests) == 2
    assert any(s.startswith("rate limited (429); retrying in") and "(try 2 of 3)" in s for s in steps)


def test_overloaded_until_the_retries_run_out_says_how_many_tries(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(*[HttpError(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(AgentOverloadedError) as raised:
        ask(project, settings_for(fake_api), max_retries=2)
    message = str(raised.value)
    assert "overloaded (529)" in message
    assert "(3 tries; stopped because the retries ran out (llm.max-retries = 2))" in message
    assert len(fake_api.requests) == 3


def test_the_sdk_does_not_retry_behind_our_back(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(HttpError(529, "overloaded_error", "Overloaded"), turn(propose()))
    with pytest.raises(AgentOverloadedError, match=r"\(1 try; stopped because the retries ran out"):
        ask(project, settings_for(fake_api), max_retries=0)
    assert len(fake_api.requests) == 1


def test_an_overloaded_error_event_in_the_middle_of_a_stream_is_retried(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(
        turn(text("Half an answer that breaks off"), error_after_events=4),
        turn(text("The whole answer.")),
    )
    steps: list[str] = []
    chunks: list[str] = []
    result = ask(project, settings_for(fake_api), max_retries=1, steps=steps, chunks=chunks)
    assert result.complete and result.explanation == "The whole answer."
    assert len(fake_api.requests) == 2
    assert any(s.startswith("the API is overloaded (mid-stream); retrying") for s in steps)
    # The retried turn's text starts on a paragraph of its own.
    assert "".join(chunks).endswith("\n\nThe whole answer.")


def test_a_mid_stream_overload_that_persists_is_a_clear_error(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(*[turn(text("Half an answer"), error_after_events=3)] * 2)
    with pytest.raises(
        AgentOverloadedError, match=r"overloaded.*\(2 tries; stopped because the retries ran out"
    ):
        ask(project, settings_for(fake_api), max_retries=1)


def test_retry_after_is_honoured_only_while_the_deadline_allows(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    # The case: retry-after 20 s under a 5 s timeout hung for 24.7 s, then said "timeout".
    fake_api.add(
        HttpError(429, "rate_limit_error", "slow down", headers={"retry-after-ms": "", "retry-after": "20"})
    )
    started = time.monotonic()
    with pytest.raises(AgentRateLimitError) as raised:
        ask(project, settings_for(fake_api, timeout=5.0), max_retries=3)
    assert time.monotonic() - started < 4
    message = str(raised.value)
    assert "rate limited by the Anthropic API (429)" in message
    assert "(1 try; stopped because the API asked to wait 20 s, but only" in message
    assert "of the timeout of 5 s (llm.timeout))" in message
    assert len(fake_api.requests) == 1


def test_a_short_retry_after_is_waited_for(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        HttpError(429, "rate_limit_error", "slow down", headers={"retry-after-ms": "", "retry-after": "1"}),
        turn(propose()),
    )
    started = time.monotonic()
    result = ask(project, settings_for(fake_api, timeout=20.0), max_retries=1)
    assert result.complete and time.monotonic() - started >= 1.0


def test_a_spend_limit_is_never_retried(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        HttpError(
            429,
            "rate_limit_error",
            "You have reached your specified API usage limits. You will regain access on 2026-01-01.",
        ),
        turn(propose()),
    )
    with pytest.raises(AgentSpendLimitError, match="spend limit or credits are used up") as raised:
        ask(project, settings_for(fake_api), max_retries=3)
    assert raised.value.kind == "spend-limit" and "retrying would not help" in str(raised.value)
    assert len(fake_api.requests) == 1


def test_a_server_error_is_retried_then_reported(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(HttpError(500, "api_error"), HttpError(500, "api_error"))
    with pytest.raises(AgentServerError, match=r"internal error \(500\).*\(2 tries; stopped"):
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
    with pytest.raises(AgentConnectionError, match="could not reach the Anthropic API") as raised:
        ask(project, settings, max_retries=1)
    assert "(2 tries; stopped because the retries ran out" in str(raised.value)


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
        turn(propose(replace("app/main.py", GET_ORDER, RETYPE))),
    )
    result = ask(project, settings_for(fake_api))
    assert result.complete and len(result.edits) == 1
    (bad_read,) = fake_api.requests[1].tool_results()
    assert bad_read["is_error"] and "invalid input" in result_text(bad_read)
    (bad_edit,) = fake_api.requests[2].tool_results()
    assert bad_edit["is_error"] and "old_text" in result_text(bad_edit)


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
    fake_api.add(turn(tool_use("list_files", {})), turn(propose(replace("app/main.py", GET_ORDER, RETYPE))))
    result = ask(project, settings_for(fake_api, max_tool_rounds=1))
    assert result.complete and len(result.edits) == 1


def test_the_token_budget_counts_price_weights_and_stops_before_overspending(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    fake_api.add(
        turn(
            tool_use("list_files", {}),
            input_tokens=1000,
            cache_read_input_tokens=20_000,
            cache_creation_input_tokens=2000,
            output_tokens=100,
        )
    )
    result = ask(project, settings_for(fake_api, token_budget=8000))
    # 1000 + 20000 * 0.1 + 2000 * 1.25 + 100 * 5 = 6000: cache reads are cheap, output is not.
    assert result.usage.weighted == 6000
    assert result.limit == (
        "the token budget of 8000 (llm.token-budget, in price-weighted tokens) was reached after 6000"
    )
    assert len(fake_api.requests) == 1
    # The first answer was capped so that its input and output fit the budget.
    first = fake_api.requests[0].body
    counted = fake_api_tokens(first)
    assert first["max_tokens"] <= (8000 - counted * 1.25) / 5


def fake_api_tokens(body: dict[str, Any]) -> int:
    from tests.agent.fake_api import request_tokens

    return request_tokens(body)


def test_a_budget_smaller_than_the_prompt_sends_nothing(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    result = ask(project, settings_for(fake_api, token_budget=1000))
    assert result.limit is not None and "token budget of 1000" in result.limit
    assert fake_api.requests == []
    # The size was counted by the API, not guessed.
    assert len(fake_api.count_requests) == 1


def test_the_context_window_is_checked_with_count_tokens(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(propose()))
    ask(project, settings_for(fake_api, context_window=30_000, max_output_tokens=64_000))
    (counted,) = fake_api.count_requests
    tokens = fake_api_tokens(counted.body)
    assert fake_api.requests[0].body["max_tokens"] == 30_000 - tokens
    big = "".join(f"value_{n} = {n}  # padding padding padding padding padding\n" for n in range(400))
    too_small = ask(
        project, settings_for(fake_api, context_window=4096), path="app/main.py", document_text=big
    )
    assert len(fake_api.requests) == 1
    assert (
        too_small.limit is not None
        and "context window of 4096 tokens (llm.context-window)" in too_small.limit
    )


def test_without_count_tokens_the_size_is_estimated(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    # A gateway without the endpoint: the request still goes out, sized by an estimate.
    fake_api.count_script.append(HttpError(404, "not_found_error", "no such endpoint"))
    fake_api.add(turn(tool_use("list_files", {})), turn(propose()))
    result = ask(project, settings_for(fake_api))
    assert result.complete and len(fake_api.count_requests) == 1


def test_oversized_tool_results_are_cut_to_the_room_left(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    project.write("app/big.py", "".join(f"value_{n} = {n}  # some padding text here\n" for n in range(1500)))
    fake_api.add(turn(tool_use("read_file", {"path": "app/big.py"})), turn(propose()))
    result = ask(project, settings_for(fake_api, context_window=20_000, max_output_tokens=4096))
    assert result.complete
    second = fake_api.requests[1]
    (cut,) = second.tool_results()
    content = result_text(cut)
    assert "more characters did not fit the room left" in content and "ask for a narrower part" in content
    assert "   1| value_0 = 0" in content
    assert fake_api_tokens(second.body) + second.body["max_tokens"] <= 20_000
    assert second.body["max_tokens"] >= 4096


def test_an_answer_cut_off_by_max_tokens_gives_no_edits(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text("Here is a very long"), stop_reason="max_tokens"))
    result = ask(project, settings_for(fake_api, max_output_tokens=1024))
    assert result.limit == "the answer was cut off by the output limit of 1024 tokens (llm.max-output-tokens)"
    assert result.edits == () and "Here is a very long" in result.explanation
    assert fake_api.requests[0].body["max_tokens"] == 1024


def test_the_default_output_limit_is_16k(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(propose()))
    ask(project, settings_for(fake_api))
    assert fake_api.requests[0].body["max_tokens"] == 16_000


def test_a_stop_sequence_ends_the_turn_like_end_turn(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text("Done here."), stop_reason="stop_sequence"))
    result = ask(project, settings_for(fake_api))
    assert result.complete and result.explanation == "Done here."


def test_a_paused_turn_is_continued(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        turn(text("Looking at the handler first. "), stop_reason="pause_turn"),
        turn(propose(replace("app/main.py", GET_ORDER, RETYPE))),
    )
    result = ask(project, settings_for(fake_api), path="app/main.py")
    assert result.complete and len(result.edits) == 1
    second = fake_api.requests[1].body["messages"]
    # The paused turn went back as it was (without trailing whitespace), with no new user turn after it.
    assert second[-1]["role"] == "assistant"
    assert second[-1]["content"][0]["text"] == "Looking at the handler first."
    assert result.tool_rounds == 0


def test_endless_pauses_stop_as_a_limit(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(*[turn(text("..."), stop_reason="pause_turn")] * 7)
    result = ask(project, settings_for(fake_api))
    assert result.limit is not None and "paused its turn 5 times (pause_turn)" in result.limit
    assert len(fake_api.requests) == 6


def test_a_refusal_is_shown_with_its_explanation(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        turn(
            text("I can help with"),
            stop_reason="refusal",
            stop_details={
                "type": "refusal",
                "category": "cyber",
                "explanation": "This request was declined because it could enable cyber harm.",
            },
        )
    )
    result = ask(project, settings_for(fake_api))
    assert not result.complete and result.edits == ()
    assert result.refusal == "This request was declined because it could enable cyber harm. (category: cyber)"
    assert result.explanation.startswith("The model declined: This request was declined")


def test_a_refusal_without_details_still_says_so(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text(""), stop_reason="refusal"))
    result = ask(project, settings_for(fake_api))
    assert result.refusal is not None and "declined" in result.refusal


def test_the_context_window_exceeded_is_a_limit(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(turn(text("A partial"), stop_reason="model_context_window_exceeded"))
    result = ask(project, settings_for(fake_api))
    assert (
        result.limit == "the answer was cut off by the model's context window (model_context_window_exceeded)"
    )
    assert result.edits == () and result.explanation.startswith("Stopped:")


def test_streamed_turns_are_separated(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    fake_api.add(
        turn(text("Reading the handler."), tool_use("read_file", {"path": "app/main.py"})),
        turn(text("It returns a dict.")),
    )
    chunks: list[str] = []
    ask(project, settings_for(fake_api), chunks=chunks)
    assert "".join(chunks) == "Reading the handler.\n\nIt returns a dict."


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
        turn(
            propose(
                replace(
                    "app/main.py",
                    "def fetch_order(order_id):\n",
                    "def fetch_order(order_id: int) -> dict[str, int]:\n",
                )
            )
        )
    )
    result = ask(
        project, settings_for(fake_api), path="app/main.py", document_text=unsaved, range=Range.of(8, 4)
    )
    assert "def fetch_order(order_id):" in fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    assert "at line 9, column 5" in fake_api.requests[0].body["messages"][0]["content"][0]["text"]
    assert apply_text_edits(unsaved, result.edits).count("order_id: int") == 1


def test_the_cached_prefix_is_byte_identical_across_asks(project: GitRepo, fake_api: FakeMessagesAPI) -> None:
    from tests.agent.fake_api import request_tokens

    fake_api.add(turn(propose()), turn(propose()))
    ask(project, settings_for(fake_api))
    # Between two asks a file appears and the branch changes: only the user's turn may differ.
    project.write("app/new_module.py", "x = 1\n")
    project.git("switch", "-q", "-c", "feature/other")
    second = ask(project, settings_for(fake_api))
    one, two = (r.body for r in fake_api.requests)
    assert one["tools"] == two["tools"] and one["system"] == two["system"]
    assert one["messages"] != two["messages"]
    # The stand-in computes cache hits from the prefix bytes: the whole of tools and system was read back.
    prefix = request_tokens({"tools": two["tools"], "system": two["system"]})
    assert second.usage.cache_read_input_tokens >= prefix > 0


def test_the_first_turn_carries_what_a_senior_engineer_would_hand_over(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    project.write(
        "pyproject.toml",
        '[project]\nname = "shop"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = ["fastapi"]\n\n'
        '[tool.ruff]\nline-length = 100\n\n[tool.ruff.lint]\nselect = ["E", "F", "UP"]\n\n'
        "[tool.mypy]\nstrict = true\n",
    )
    project.write(
        "uv.lock",
        'version = 1\n\n[[package]]\nname = "fastapi"\nversion = "0.115.6"\n\n'
        '[[package]]\nname = "Pydantic"\nversion = "2.10.4"\n\n[[package]]\nname = "idna"\nversion = "3.10"\n',
    )
    project.commit("config")
    project.write("app/main.py", APP_PY + f'\nGITHUB_TOKEN = "{GITHUB_PAT}"\nLIMIT = 10\n')
    fake_api.add(turn(propose()))
    ask(
        project,
        settings_for(fake_api),
        path="app/main.py",
        range=Range.of(8, 0),
        failing_test="tests/test_main.py::test_get FAILED: assert 200 == 404",
    )
    body = fake_api.requests[0].body
    facts = json.loads(
        body["system"][1]["text"].split("<workspace_context>")[1].split("</workspace_context>")[0]
    )
    assert facts["requires_python"] == ">=3.12"
    assert facts["locked_versions"] == {"fastapi": "0.115.6", "pydantic": "2.10.4"}
    assert facts["locked_versions_from"] == "uv.lock"
    assert (
        '"line-length": 100' in facts["tool_settings"]["ruff"]
        and '"strict": true' in facts["tool_settings"]["mypy"]
    )
    first = body["messages"][0]["content"][0]["text"]
    diff = first.split('<uncommitted_diff path="app/main.py">')[1].split("</uncommitted_diff>")[0]
    assert "+LIMIT = 10" in diff and "[REDACTED" in diff and GITHUB_PAT not in fake_api.all_bytes().decode()
    assert "<failing_test>\ntests/test_main.py::test_get FAILED: assert 200 == 404\n</failing_test>" in first
    assert "Python 3.11+" not in body["system"][0]["text"]
