"""Malformed JSON-RPC over a raw pipe: the right error responses, no crash, no hang.

Each test writes bytes to the real `python -m pyengineer serve` and reads its answers with a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyengineer.lsp.server import MAX_HEADER_BYTES

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(60)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"app.py": "import os\n"})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RawServer]:
    raw = RawServer(tmp_path)
    yield raw
    raw.close()


def hover(server: RawServer, uri: str, line: int = 0) -> int:
    return server.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}}
    )


def assert_serving(server: RawServer, uri: str) -> None:
    """The server answers a well-formed request correctly (a hover on a non-import line is null)."""
    answer = server.response(hover(server, uri), timeout=10)
    assert answer == {"jsonrpc": "2.0", "id": answer["id"], "result": None}
    assert server.alive()


def test_requests_before_initialize_get_server_not_initialized(server: RawServer, repo: Path) -> None:
    uri = (repo / "app.py").as_uri()
    answer = server.response(hover(server, uri), timeout=10)
    assert answer["error"]["code"] == SERVER_NOT_INITIALIZED
    # A notification before initialize is dropped without an answer (notifications have none) or a crash.
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}},
    )
    assert "capabilities" in server.initialize(repo)["result"]
    assert_serving(server, uri)


GARBAGE = [
    b"Content-Length: abc\r\n\r\n{}",  # non-numeric length
    b"Content-Length: -5\r\n\r\n{}",  # negative length
    b'{"jsonrpc": "2.0", "method": "initialized"}',  # a body without any header
    b"Content-Length: 4\r\n\r\n" + b'{"jsonrpc": "2.0"}',  # length shorter than the body
    b"Content-Type: text/plain\r\n\r\n",  # headers without a length
]


def test_bad_json_and_bad_frames_get_answers_and_never_wedge_the_reader(
    server: RawServer, repo: Path
) -> None:
    """Bad JSON gets a Parse error (null id); after each broken frame the reader finds the next header
    again, and every later message is served."""
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    for body in (
        b"{not json",
        b'{"jsonrpc": "2.0", "id": 5, "method": ',
        b"\xff\xfe\x00garbage",
        b"[]",
        b"42",
    ):
        server.frame(body)
        if body.startswith((b"{", b"\xff")):
            answer = server.response(None, timeout=10)
            assert answer["error"]["code"] == PARSE_ERROR
        assert_serving(server, uri)
    for garbage in GARBAGE:
        server.write(garbage)
        assert_serving(server, uri)
        assert_serving(server, uri)
    # A length longer than the body: the next requests are eaten as the rest of that body (the protocol
    # cannot tell); once it is complete the reader is back in step and requests are answered again.
    server.write(b'Content-Length: 300\r\n\r\n{"jsonrpc": "2.0"}')
    swallowed = [hover(server, uri) for _ in range(3)]
    assert_serving(server, uri)
    server.pump(0.2)
    answered = {m.get("id") for m in server.received}
    assert not answered & set(swallowed[:2])


def test_unknown_methods_and_wrong_param_types(server: RawServer, repo: Path) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    answer = server.response(server.request("pyengineer/noSuchMethod", {}), timeout=10)
    assert answer["error"]["code"] == METHOD_NOT_FOUND
    server.notify("pyengineer/noSuchNotification", {"x": 1})
    server.notify("$/someClientExtension", {})
    for params in (
        {"textDocument": 5, "position": "x"},
        {"textDocument": {"uri": uri}},
        {"textDocument": {"uri": uri}, "position": {"line": "zero", "character": 0}},
        [1, 2, 3],
    ):
        answer = server.response(server.request("textDocument/hover", params), timeout=10)
        assert answer["error"]["code"] == INVALID_PARAMS, answer
    # String ids are answered with the same id.
    answer = server.response(server.request("textDocument/hover", {"bad": True}, msg_id="abc"))  # type: ignore[arg-type]
    assert answer["error"]["code"] == INVALID_PARAMS
    # Notifications with wrong types have no answer, but must not break the document store.
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "text": 5}})
    server.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": "file:///never/opened.py", "version": 2}, "contentChanges": [{"text": "x"}]},
    )
    server.notify("workspace/didChangeConfiguration", {"settings": "not an object"})
    assert_serving(server, uri)


def test_after_shutdown_requests_are_refused_and_exit_is_clean(server: RawServer, repo: Path) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    assert server.response(server.request("shutdown"), timeout=10)["result"] is None
    answer = server.response(hover(server, uri), timeout=10)
    assert answer["error"]["code"] == INVALID_REQUEST
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}},
    )
    server.notify("exit", None)
    assert server.proc.wait(10) == 0


def test_exit_without_shutdown_exits_with_an_error_code(server: RawServer, repo: Path) -> None:
    server.initialize(repo)
    server.notify("exit", None)
    assert server.proc.wait(10) == 1


def test_closed_stdin_ends_the_server(server: RawServer, repo: Path) -> None:
    server.initialize(repo)
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    server.proc.wait(10)
    assert server.proc.returncode is not None


def test_shutdown_is_answered_while_a_command_waits_on_the_client(server: RawServer, repo: Path) -> None:
    """A hand-off command waits for the client's answer to window/showDocument, which never comes; shutdown
    must still be answered. pygls runs executeCommand as a generator whose future calls back at once when
    cancelled, and its own shutdown cancelled futures while iterating over their dict (RuntimeError: the
    shutdown request was never answered)."""
    server.initialize(repo, {"window": {"showDocument": {"support": True}}})
    model = repo / "model.py"
    model.write_text("import torch\n")
    uri = model.as_uri()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "import torch\n"}},
    )
    command = server.request(
        "workspace/executeCommand", {"command": "pyengineer.handoff", "arguments": [{"uri": uri}]}
    )
    deadline = time.monotonic() + 20
    while not server.notifications("window/showDocument"):
        assert time.monotonic() < deadline, "the hand-off never asked the client to show the document"
        server.pump(0.1)
    answer = server.response(server.request("shutdown"), timeout=10)
    assert "error" not in answer and answer["result"] is None, answer
    server.pump(0.5)
    assert not any(m.get("id") == command and "result" in m and m["result"] for m in server.received)
    server.notify("exit", None)
    assert server.proc.wait(10) == 0


def _answer_with_null_id(server: RawServer, code: int) -> dict[str, object]:
    answer = server.response(None, timeout=10)
    # JSON-RPC 2.0: the member is required, null when the id could not be read (pygls omitted it).
    assert "id" in answer and answer["id"] is None, answer
    assert answer["error"]["code"] == code, answer
    return answer


INVALID_REQUESTS = [
    b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/hover", "params": {}}',  # wedged pygls
    b'{"jsonrpc": "2.0", "id": [1, 2], "method": "textDocument/hover", "params": {}}',
    b'{"jsonrpc": "2.0", "id": true, "method": "textDocument/hover", "params": {}}',
    b'[{"jsonrpc": "2.0", "id": 3, "method": "textDocument/hover", "params": {}}]',  # a batch
    b"[]",
    b"null",
    b"42",
    b"{}",
    b'{"jsonrpc": "2.0", "method": 5}',
    b'{"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover", "params": 5}',
]


@pytest.mark.parametrize("body", INVALID_REQUESTS, ids=lambda b: b.decode()[:40])
def test_invalid_requests_get_invalid_request_with_a_null_id_and_the_server_goes_on(
    server: RawServer, repo: Path, body: bytes
) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    server.frame(body)
    if b'"id": 4' in body:
        assert server.response(4, timeout=10)["error"]["code"] == INVALID_REQUEST
    else:
        _answer_with_null_id(server, INVALID_REQUEST)
    assert_serving(server, uri)
    assert_serving(server, uri)


@pytest.mark.parametrize("version", [None, "1.0", 2])
def test_a_missing_or_wrong_jsonrpc_member_is_answered_with_the_request_id(
    server: RawServer, repo: Path, version: object
) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    message: dict[str, object] = {"id": 77, "method": "textDocument/hover", "params": {}}
    if version is not None:
        message["jsonrpc"] = version
    server.frame(json.dumps(message).encode())
    answer = server.response(77, timeout=10)
    assert answer["error"]["code"] == INVALID_REQUEST and "jsonrpc" in answer["error"]["message"]
    assert_serving(server, uri)


def test_parse_errors_are_answered_with_a_null_id_even_100000_levels_deep(
    server: RawServer, repo: Path
) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    server.frame(b"{not json")
    _answer_with_null_id(server, PARSE_ERROR)
    server.frame(b"[" * 100_000 + b"]" * 100_000)  # RecursionError in the decoder, no answer at all
    _answer_with_null_id(server, PARSE_ERROR)
    server.frame(b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": ' + b"[" * 100_000)
    _answer_with_null_id(server, PARSE_ERROR)
    assert_serving(server, uri)


def test_an_oversized_content_length_is_refused_and_the_stream_resynchronised(
    server: RawServer, repo: Path
) -> None:
    """`Content-Length: 99999999999` made pygls read that much at once: MemoryError, the server died."""
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    server.write(b'Content-Length: 99999999999\r\n\r\n{"jsonrpc": "2.0", "method": "initialized"}')
    answer = _answer_with_null_id(server, INVALID_REQUEST)
    assert "99999999999" in str(answer["error"])
    assert_serving(server, uri)
    assert server.rss_kb() < 500_000


def test_a_header_above_the_maximum_is_refused_and_the_stream_resynchronised(
    server: RawServer, repo: Path
) -> None:
    server.initialize(repo)
    uri = (repo / "app.py").as_uri()
    server.write(b"X-Padding: " + b"x" * (MAX_HEADER_BYTES * 4) + b"\r\n")
    _answer_with_null_id(server, INVALID_REQUEST)
    assert_serving(server, uri)
    # A header block of many short lines counts as a whole.
    server.write(b"X-Line: 1234567890\r\n" * (MAX_HEADER_BYTES // 10))
    _answer_with_null_id(server, INVALID_REQUEST)
    assert_serving(server, uri)
