"""`pyengineer ask` end to end: the real CLI, the real SDK, the fake Messages API."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pyengineer.agent.ask_command import split_target
from pyengineer.cli import main

from tests.agent.conftest import APP_PY, TEST_KEY
from tests.agent.fake_api import FakeMessagesAPI, HttpError, Turn, text, tool_use, turn
from tests.repos import GitRepo

RETYPED = "def get_order(order_id: int) -> dict[str, int]:\n"


@pytest.fixture
def cli_env(project: GitRepo, fake_api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch) -> FakeMessagesAPI:
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    monkeypatch.chdir(project.root)
    return fake_api


def retype_reply() -> list[Turn]:
    edit = {
        "path": "app/main.py",
        "old_text": "def get_order(order_id):\n",
        "new_text": RETYPED,
        "start_line": 9,
    }
    return [
        turn(text("Reading the handler first."), tool_use("read_file", {"path": "app/main.py"})),
        turn(tool_use("propose_edits", {"edits": [edit], "explanation": "Annotated `get_order`."})),
    ]


def test_ask_streams_the_answer_and_shows_a_diff_without_changing_anything(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(*retype_reply())
    code = main(["ask", "app/main.py:9", "add", "type hints"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("Reading the handler first.\n")
    assert "Annotated `get_order`." in out
    assert "--- a/app/main.py\n+++ b/app/main.py\n" in out
    assert "-def get_order(order_id):\n+" + RETYPED in out
    assert "Nothing was changed" in err and "2 calls: input " in err
    assert (project.root / "app/main.py").read_text() == APP_PY
    first = cli_env.requests[0].body["messages"][0]["content"][0]["text"]
    assert "add type hints" in first and "The user is in app/main.py at line 9, column 1." in first


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "--apply", "app/main.py", "add type hints"],
        ["ask", "app/main.py", "--apply", "add type hints"],
        ["ask", "app/main.py", "add", "type", "hints", "--apply"],
    ],
)
def test_ask_apply_writes_the_edits_wherever_the_flag_is(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    project.git("switch", "-q", "-c", "feature/typing")
    cli_env.add(*retype_reply())
    assert main(argv) == 0
    assert (project.root / "app/main.py").read_text() == APP_PY.replace("def get_order(order_id):\n", RETYPED)
    assert "Applied 1 edit(s) to 1 file(s)." in capsys.readouterr().err
    assert "add type hints" in cli_env.requests[0].body["messages"][0]["content"][0]["text"]


def test_ask_apply_on_a_protected_branch_without_a_terminal_refuses_before_anything(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(*retype_reply())
    assert main(["ask", "app/main.py", "--apply", "add type hints"]) == 1
    err = capsys.readouterr().err
    assert "not applied: you are on the protected branch 'main'" in err and "git switch -c " in err
    assert (project.root / "app/main.py").read_text() == APP_PY
    assert cli_env.requests == [] and project.branch() == "main"


def test_a_syntax_breaking_edit_is_never_applied(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    project.git("switch", "-q", "-c", "feature/typing")
    broken = {"path": "app/main.py", "old_text": "def get_order(order_id):\n", "new_text": "def get_db(:\n"}
    cli_env.add(*[turn(tool_use("propose_edits", {"edits": [broken], "explanation": "x"})) for _ in range(9)])
    assert main(["ask", "--apply", "app/main.py", "fix it"]) == 1
    assert (project.root / "app/main.py").read_text() == APP_PY
    (refusal,) = cli_env.requests[1].tool_results()
    assert refusal["is_error"] and "does not parse" in str(refusal["content"])
    assert "stopped: the limit of 8 tool rounds" in capsys.readouterr().err


def test_ask_without_a_file_and_with_another_model(
    cli_env: FakeMessagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(turn(text("Use pydantic settings.")))
    assert main(["ask", "--model", "claude-haiku-4-5", "how", "should", "I", "load", "config?"]) == 0
    assert capsys.readouterr().out == "Use pydantic settings.\n"
    assert cli_env.requests[0].body["model"] == "claude-haiku-4-5"
    assert "how should I load config?" in cli_env.requests[0].body["messages"][0]["content"][0]["text"]


def test_ask_without_a_key_says_how_to_enable_it(
    cli_env: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert main(["ask", "why?"]) == 2
    assert "set ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert cli_env.requests == []


def test_ask_reports_a_limit_with_exit_code_1(
    cli_env: FakeMessagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(turn(text("A long answer"), stop_reason="max_tokens"))
    assert main(["ask", "why?"]) == 1
    assert "stopped: the answer was cut off by the output limit" in capsys.readouterr().err


def test_ask_reports_api_errors_with_exit_code_2(
    cli_env: FakeMessagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(HttpError(401, "authentication_error", "invalid x-api-key"))
    assert main(["ask", "why?"]) == 2
    err = capsys.readouterr().err
    assert "rejected the API key (401)" in err and TEST_KEY not in err


def test_ask_reports_a_refusal_with_its_explanation_and_exit_code_3(
    cli_env: FakeMessagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    details = {"type": "refusal", "category": None, "explanation": "This request was declined."}
    cli_env.add(Turn([text("I")], stop_reason="refusal", stop_details=details))
    assert main(["ask", "why?"]) == 3
    out, err = capsys.readouterr()
    assert "The model declined: This request was declined." in out
    assert "pyengineer ask: the model declined: This request was declined." in err


def test_an_unreachable_api_is_one_error_line(project: GitRepo) -> None:
    # A real process: pytest's own log handlers would hide a second copy printed by the logging fallback.
    import os

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": TEST_KEY,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pyengineer", "ask", "why?"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len([line for line in lines if "could not reach the Anthropic API" in line]) == 1, done.stderr
    assert "tries; stopped because the retries ran out" in done.stderr


def test_streamed_turns_are_separated_by_a_blank_line(
    cli_env: FakeMessagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(
        turn(text("Reading the handler."), tool_use("read_file", {"path": "app/main.py"})),
        turn(text("It returns a dict.")),
    )
    assert main(["ask", "what", "does", "it", "return?"]) == 0
    assert capsys.readouterr().out == "Reading the handler.\n\nIt returns a dict.\n"


def test_ask_test_hands_the_failing_output_to_the_agent(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(
        "tests/test_main.py",
        "from app.main import get_order\n\n\ndef test_get():\n    assert get_order(3) == {'id': 4}\n",
    )
    project.write("app/main.py", "def get_order(order_id):\n    return {'id': order_id}\n")
    cli_env.add(turn(text("The test expects the wrong id.")))
    assert main(["ask", "--test", "tests/test_main.py::test_get", "fix", "it"]) == 0, capsys.readouterr().err
    first = cli_env.requests[0].body["messages"][0]["content"][0]["text"]
    failing = first.split("<failing_test>")[1].split("</failing_test>")[0]
    assert "tests/test_main.py::test_get failed" in failing and "assert {'id': 3} == {'id': 4}" in failing
    assert "The user is in tests/test_main.py at line 5" in first


def test_ask_test_of_a_passing_test_sends_nothing(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("tests/test_ok.py", "def test_ok():\n    assert True\n")
    assert main(["ask", "--test", "tests/test_ok.py::test_ok", "fix it"]) == 0
    assert "did not fail" in capsys.readouterr().err and cli_env.requests == []


def test_split_target(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    assert split_target(["app.py:3", "fix", "it"], tmp_path) == ((tmp_path / "app.py").resolve(), 3, "fix it")
    assert split_target(["app.py", "fix"], tmp_path) == ((tmp_path / "app.py").resolve(), None, "fix")
    assert split_target(["why", "is", "it", "slow"], tmp_path) == (None, None, "why is it slow")
    assert split_target(["app.py"], tmp_path) == (None, None, "app.py")


def test_ask_help_works_from_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyengineer", "ask", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "[FILE[:LINE]] QUESTION" in done.stdout and "--apply" in done.stdout


def test_ask_apply_on_a_protected_branch_in_a_terminal_offers_the_feature_branch_first(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    import os
    import pty
    import select
    import time

    fake_api.add(*retype_reply())
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": TEST_KEY,
        "ANTHROPIC_BASE_URL": fake_api.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pyengineer", "ask", "app/main.py", "--apply", "add type hints"],
        cwd=project.root,
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"[Y/n]" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                seen += os.read(master, 4096)
        # Asked before anything was written.
        assert b"protected branch 'main'" in seen, seen
        assert (project.root / "app/main.py").read_text() == APP_PY
        os.write(master, b"y\n")
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
        os.close(master)
    assert process.returncode == 0, seen
    assert project.branch() != "main" and project.branch().startswith(("fix/", "feature/"))
    assert (project.root / "app/main.py").read_text() == APP_PY.replace("def get_order(order_id):\n", RETYPED)
    assert b"+def get_order(order_id: int)" in out
