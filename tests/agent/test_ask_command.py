"""`pyengineer ask` end to end: the real CLI, the real SDK, the fake Messages API."""

from __future__ import annotations

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
        "range": {"start": {"line": 9, "column": 1}, "end": {"line": 10, "column": 1}},
        "new_text": RETYPED,
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
    assert "Nothing was changed" in err and "2 calls: input 200 tokens" in err
    assert (project.root / "app/main.py").read_text() == APP_PY
    first = cli_env.requests[0].body["messages"][0]["content"][0]["text"]
    assert "add type hints" in first and "The user is in app/main.py at line 9, column 1." in first


def test_ask_apply_writes_the_edits(
    cli_env: FakeMessagesAPI, project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_env.add(*retype_reply())
    assert main(["ask", "--apply", "app/main.py", "add type hints"]) == 0
    assert (project.root / "app/main.py").read_text() == APP_PY.replace("def get_order(order_id):\n", RETYPED)
    assert "Applied 1 edit(s) to 1 file(s)." in capsys.readouterr().err


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
