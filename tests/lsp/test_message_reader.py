"""MessageReader reads what pygls' own stdin reader reads, message for message, at one thread hop each."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyengineer.lsp.server import MessageReader, ResyncingInput
from pygls.io_ import StdinAsyncReader, run_async


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


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


def _read_all(data: bytes, reader_class: Any) -> list[Any]:
    import asyncio

    recorder = _Recorder()
    with ThreadPoolExecutor(max_workers=1) as executor:
        reader = reader_class(ResyncingInput(io.BufferedReader(io.BytesIO(data))), executor)  # type: ignore[arg-type]
        asyncio.run(run_async(threading.Event(), reader, recorder))  # type: ignore[arg-type]
    return recorder.messages


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_the_same_messages_as_pygls_reader(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert _read_all(data, MessageReader) == _read_all(data, StdinAsyncReader)


@pytest.mark.parametrize("count", [1, 3])
def test_reads_every_message(count: int) -> None:
    data = b"".join(_frame({"jsonrpc": "2.0", "method": f"m{i}"}) for i in range(count))
    assert [m["method"] for m in _read_all(data, MessageReader)] == [f"m{i}" for i in range(count)]
