"""Commands and custom requests through the real server: arguments validated before anything is done, and
git-changing commands serialised per repository."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import git, make_repo

pytestmark = pytest.mark.timeout(90)

INVALID_PARAMS = -32602


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"app.py": "import os\n", "model.py": "import torch\n"})


@pytest.fixture
def server(tmp_path: Path, repo: Path) -> Iterator[RawServer]:
    raw = RawServer(tmp_path)
    raw.initialize(repo)
    uri = (repo / "model.py").as_uri()
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "import torch\n"}},
    )
    yield raw
    raw.close()


def execute(server: RawServer, command: str, arguments: Any, timeout: float = 30) -> dict[str, Any]:
    params: dict[str, Any] = {"command": command}
    if arguments is not None:
        params["arguments"] = arguments
    return server.response(server.request("workspace/executeCommand", params), timeout=timeout)


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").split()


def head(repo: Path) -> str:
    return git(repo, "symbolic-ref", "--short", "HEAD").strip()


BAD_CREATE_BRANCH = [
    ([5], "argument"),
    ([None], "argument"),
    ([[1, 2]], "argument"),
    ([{"name": 7}], "name"),
    ([{"name": ["feature/x"]}], "name"),
    ([{"name": "  "}], "name"),
    ([{"nmae": "feature/typo"}], "nmae"),
    ([{"name": "feature/x", "uri": 5}], "uri"),
    ([{"name": "feature/x"}, {"name": "feature/y"}], "one object argument"),
]


@pytest.mark.parametrize(("arguments", "field"), BAD_CREATE_BRANCH, ids=lambda v: json.dumps(v)[:40])
def test_create_branch_rejects_bad_arguments_and_does_nothing(
    server: RawServer, repo: Path, arguments: list[Any], field: str
) -> None:
    """Each of these created and checked out a branch (the best suggestion) before."""
    before = branches(repo)
    answer = execute(server, "pyengineer.createBranch", arguments)
    assert answer.get("error", {}).get("code") == INVALID_PARAMS, answer
    assert field in answer["error"]["message"], answer
    assert branches(repo) == before
    assert head(repo) == "main"


BAD_ARGUMENTS = [
    ("pyengineer.suggestBranchNames", [{"uri": 5}], "uri"),
    ("pyengineer.handoff", [{"uri": ["file:///x.py"]}], "uri"),
    ("pyengineer.handoff", ["file:///x.py"], "argument"),
    ("pyengineer.showContext", [7], "argument"),
    ("pyengineer.rescan", [{"uri": {"path": "/"}}], "uri"),
    ("pyengineer.ask", [{"question": 5}], "question"),
    ("pyengineer.ask", [{"range": {"start": {"line": "0", "character": 0}}}], "range.start.line"),
    ("pyengineer.runTests", [{"scope": "everything"}], "scope"),
    ("pyengineer.fixTest", [{"test_id": 1}], "test_id"),
]


@pytest.mark.parametrize(("command", "arguments", "field"), BAD_ARGUMENTS, ids=lambda v: str(v)[:40])
def test_every_command_validates_its_argument(
    server: RawServer, repo: Path, command: str, arguments: list[Any], field: str
) -> None:
    before = sorted(p.name for p in repo.rglob("*") if ".git" not in p.parts)
    answer = execute(server, command, arguments)
    assert answer.get("error", {}).get("code") == INVALID_PARAMS, answer
    assert field in answer["error"]["message"], answer
    assert sorted(p.name for p in repo.rglob("*") if ".git" not in p.parts) == before  # no hand-off written


def test_the_ask_request_validates_its_params(server: RawServer) -> None:
    answer = server.response(server.request("pyengineer/ask", {"uri": 5, "question": "why?"}), timeout=30)
    assert answer["error"]["code"] == INVALID_PARAMS and "uri" in answer["error"]["message"], answer
    # A key that is not a Python identifier used to be renamed by pygls' namedtuples, now it is named.
    answer = server.response(server.request("pyengineer/ask", {"$question": "why?"}), timeout=30)
    assert answer["error"]["code"] == INVALID_PARAMS and "$question" in answer["error"]["message"], answer


def test_a_bad_api_key_notification_is_reported_and_changes_nothing(server: RawServer) -> None:
    server.notify("pyengineer/setApiKey", {"apiKey": 12345})
    deadline = time.monotonic() + 10
    while not any("apiKey" in m["params"]["message"] for m in server.notifications("window/showMessage")):
        assert time.monotonic() < deadline, server.notifications("window/showMessage")
        server.pump(0.1)


def test_what_the_editors_send_still_works(server: RawServer, repo: Path) -> None:
    """The shapes of vscode-extension/src/extension.ts and neovim/lua/pyengineer/init.lua."""
    uri = (repo / "model.py").as_uri()
    suggested = execute(server, "pyengineer.suggestBranchNames", [{"uri": uri}])["result"]
    assert suggested["names"] and suggested["current"] == "main"
    assert "error" not in execute(server, "pyengineer.showContext", [{}])
    assert "error" not in execute(server, "pyengineer.showContext", [[]])  # an empty Lua table
    assert "error" not in execute(server, "pyengineer.showContext", None)
    created = execute(server, "pyengineer.createBranch", [{"uri": uri, "name": " feature/typed "}])
    assert created["result"]["status"] == "ok", created
    assert (created["result"]["branch"], created["result"]["previous"]) == ("feature/typed", "main")
    assert head(repo) == "feature/typed"


def test_three_concurrent_create_branch_are_serialised_and_report_what_happened(
    server: RawServer, repo: Path
) -> None:
    """Sent at once, three createBranch ran side by side: some failed on git's index.lock, and the others all
    said they came from `main` though only one of them did."""
    uri = (repo / "model.py").as_uri()
    (repo / "app.py").write_text("import os\nprint('uncommitted')\n")  # work in progress comes along
    names = ["feature/one", "feature/two", "feature/three"]
    ids = [
        server.request(
            "workspace/executeCommand",
            {"command": "pyengineer.createBranch", "arguments": [{"uri": uri, "name": name}]},
        )
        for name in names
    ]
    answers = [server.response(msg_id, timeout=60) for msg_id in ids]
    assert all("result" in a for a in answers), answers
    moves = {a["result"]["previous"]: a["result"]["branch"] for a in answers}
    assert len(moves) == 3, answers  # each left a different branch
    chain = ["main"]
    while chain[-1] in moves:
        chain.append(moves[chain[-1]])
    assert sorted(chain[1:]) == sorted(names), answers  # main -> a -> b -> c, in the order they ran
    assert head(repo) == chain[-1]
    assert (repo / "app.py").read_text() == "import os\nprint('uncommitted')\n"


def test_code_action_resolve_validates_the_data_it_gets_back(server: RawServer, repo: Path) -> None:
    uri = (repo / "model.py").as_uri()
    action = {"title": "x", "data": {"uri": uri, "code": "PE201", "index": "0", "fix": 0}}
    answer = server.response(server.request("codeAction/resolve", action), timeout=30)
    assert answer.get("error", {}).get("code") == INVALID_PARAMS and "index" in answer["error"]["message"], (
        answer
    )
