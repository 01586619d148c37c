"""MessageReader reads what pygls' own stdin reader reads, message for message, at one thread hop each,
and refuses (then skips) a header or a body above its bounds."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyengineer.lsp.server import MessageReader, ResyncingInput, run_messages
from pygls.io_ import StdinAsyncReader, run_async

BAD = "not JSON"


class _Recorder:
    """Stands in for the protocol: records what each loop decodes (pygls' and ours)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    # pygls' run_async: json.loads(body, object_hook=structure_message), then handle_message
    def structure_message(self, data: dict[str, Any]) -> Any:
        return data

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)

    def error(self, exc: Exception, source: Any) -> None:
        self.messages.append(BAD)

    # ours: run_messages hands over the body and asks for errors to be sent
    def receive(self, body: bytes) -> None:
        try:
            self.messages.append(json.loads(body))
        except ValueError:
            self.messages.append(BAD)

    def send_error(self, msg_id: Any, error: Exception) -> None:
        self.messages.append(("refused", str(error)))


def _frame(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


PIECES = [
    _frame({"jsonrpc": "2.0", "method": "a"}),
    _frame({"jsonrpc": "2.0", "id": 1, "method": "b", "params": {"text": "é\r\n"}}),
    b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n",
    b"garbage without a newline",
    b"\r\n",
    b"Content-Length: 5\r\n\r\n{}",  # a body shorter than its length
    b"Content-Length: x\r\n",
]


def _input(data: bytes) -> ResyncingInput:
    return ResyncingInput(io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]


def _ours(data: bytes, **limits: int) -> list[Any]:
    recorder = _Recorder()
    with ThreadPoolExecutor(max_workers=1) as executor:
        reader = MessageReader(_input(data), executor, **limits)
        asyncio.run(run_messages(threading.Event(), reader, recorder))  # type: ignore[arg-type]
    return recorder.messages


def _pygls(data: bytes) -> list[Any]:
    recorder = _Recorder()
    with ThreadPoolExecutor(max_workers=1) as executor:
        reader = StdinAsyncReader(_input(data), executor)  # type: ignore[arg-type]
        asyncio.run(run_async(threading.Event(), reader, recorder, error_handler=recorder.error))  # type: ignore[arg-type]
    return recorder.messages


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_the_same_messages_as_pygls_reader(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert _ours(data) == _pygls(data)


@pytest.mark.parametrize("count", [1, 3])
def test_reads_every_message(count: int) -> None:
    data = b"".join(_frame({"jsonrpc": "2.0", "method": f"m{i}"}) for i in range(count))
    assert [m["method"] for m in _ours(data)] == [f"m{i}" for i in range(count)]


def test_a_header_above_the_bound_is_refused_and_the_next_message_read() -> None:
    """An endless header line is read in bounded pieces, refused once, and skipped to the next header."""
    data = (
        b"X-Junk: "
        + b"a" * 100_000
        + b"\r\nMore-Junk: 1\r\n\r\n"
        + _frame({"jsonrpc": "2.0", "method": "next"})
    )
    messages = _ours(data, max_header=1024)
    assert messages[0][0] == "refused" and "1024 bytes" in messages[0][1]
    assert messages[1:] == [{"jsonrpc": "2.0", "method": "next"}]


def test_a_body_above_the_bound_is_refused_without_reading_it() -> None:
    """`Content-Length: 99999999999` was read at once by pygls (MemoryError); here it is refused, and what
    follows it (here the short body actually sent) is skipped up to the next header."""
    data = (
        b"Content-Length: 99999999999\r\n\r\n"
        + b'{"jsonrpc": "2.0"}'
        + _frame({"jsonrpc": "2.0", "method": "next"})
    )
    messages = _ours(data)
    assert messages[0][0] == "refused" and "99999999999 bytes" in messages[0][1]
    assert messages[1:] == [{"jsonrpc": "2.0", "method": "next"}]
