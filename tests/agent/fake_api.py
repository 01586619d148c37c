"""A local fake of the Anthropic Messages API, for driving the real SDK in tests.

Each test scripts the replies in order: a model turn (text and tool_use blocks, streamed as SSE when the
request asks for a stream, else JSON), an HTTP error, a stream that stalls until the client hangs up, or a
stream that breaks off with an `error` event (`overloaded_error` mid-stream, as the real API can).
Every request is recorded (raw body bytes, parsed JSON, headers), so tests can assert what left the process.

Usage is computed from the request unless a turn scripts it: one token per 4 bytes of the canonical JSON of
tools, system and messages, and prompt caching as the API documents it. The prefix (tools, then system,
then messages) up to each `cache_control` breakpoint is written to the cache; a later request whose prefix
bytes match a written one reads those tokens from it (`cache_read_input_tokens`). `count_tokens` answers
`POST /v1/messages/count_tokens` with the same tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# -- scripted replies --------------------------------------------------------------------------------------


@dataclass
class Turn:
    """A model message: content blocks, a stop reason and usage numbers."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    # None: computed from the request (the tokenizer and the prompt cache below).
    input_tokens: int | None = None
    output_tokens: int = 20
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    # Stall after this many SSE events until the client disconnects (for cancellation tests).
    stall_after_events: int | None = None
    # Send an SSE `error` event of this type after `error_after_events` events, then end the stream.
    error_after_events: int | None = None
    error_type: str = "overloaded_error"
    # The refusal's `stop_details` (stop_reason "refusal").
    stop_details: dict[str, Any] | None = None


@dataclass
class HttpError:
    status: int
    error_type: str
    message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)


Reply = Turn | HttpError

# Tokens per byte of the fake tokenizer: one token per 4 bytes, roughly what real text averages.
BYTES_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def _canonical(block: Any) -> str:
    """A prompt unit's bytes as the cache sees them: the breakpoint marker itself is not content."""
    if isinstance(block, dict):
        block = {key: value for key, value in block.items() if key != "cache_control"}
    return json.dumps(block, sort_keys=True, ensure_ascii=False)


def prompt_units(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The request's prompt in cache order (tools, system, messages): (unit bytes, is a breakpoint)."""
    units: list[tuple[str, bool]] = []
    for tool in body.get("tools") or []:
        units.append((_canonical(tool), "cache_control" in tool))
    system = body.get("system")
    if isinstance(system, str):
        units.append((_canonical(system), False))
    else:
        for block in system or []:
            units.append((_canonical(block), "cache_control" in block))
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [content] if isinstance(content, str) else list(content or [])
        for index, block in enumerate(blocks):
            marker = f"{message.get('role')}:" if index == 0 else ""
            units.append((marker + _canonical(block), isinstance(block, dict) and "cache_control" in block))
    return units


class PromptCache:
    """Prefixes written at cache breakpoints, by the hash of their bytes, with their token counts."""

    def __init__(self) -> None:
        self.written: dict[str, int] = {}
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(uncached input, cache read, cache write) tokens for a request, writing its breakpoints."""
        digest = hashlib.sha256()
        tokens = 0
        read = 0
        last_breakpoint = 0
        breakpoints: list[tuple[str, int]] = []
        with self._lock:
            for unit, is_breakpoint in prompt_units(body):
                digest.update(unit.encode() + b"\0")
                tokens += count_tokens(unit)
                key = digest.hexdigest()
                if key in self.written:
                    read = max(read, self.written[key])
                if is_breakpoint:
                    last_breakpoint = tokens
                    breakpoints.append((key, tokens))
            for key, at in breakpoints:
                self.written[key] = at
        write = max(last_breakpoint - read, 0)
        return tokens - read - write, read, write


def request_tokens(body: dict[str, Any]) -> int:
    return sum(count_tokens(unit) for unit, _ in prompt_units(body))


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


_ids = iter(range(1, 1_000_000))


def tool_use(name: str, tool_input: Any, tool_id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id or f"toolu_{next(_ids):04d}", "name": name, "input": tool_input}


def turn(*blocks: dict[str, Any], **kwargs: Any) -> Turn:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    kwargs.setdefault("stop_reason", stop)
    return Turn(list(blocks), **kwargs)


# -- recorded requests ------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last user message."""
        last = self.body["messages"][-1]
        content = last["content"] if isinstance(last["content"], list) else []
        return [block for block in content if block.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])


# -- the server -------------------------------------------------------------------------------------------


class FakeMessagesAPI:
    """An HTTP server on 127.0.0.1 answering POST /v1/messages from a script."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Received] = []
        # count_tokens calls, apart from the messages calls, with their own script of errors.
        self.count_requests: list[Received] = []
        self.count_script: list[HttpError] = []
        self.cache = PromptCache()
        self.disconnected = threading.Event()
        self.stalled = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeMessagesAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def all_bytes(self) -> bytes:
        """Everything the server received: request lines are not kept, headers and bodies are."""
        received = [*self.requests, *self.count_requests]
        return b"\n".join(json.dumps(r.headers).encode() + b"\n" + r.raw for r in received)

    def _next(self) -> Reply:
        with self._lock:
            if not self.script:
                return HttpError(500, "api_error", "the test script has no reply left")
            return self.script.pop(0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {}
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body)
                if self.path.split("?")[0].endswith("/count_tokens"):
                    with api._lock:
                        api.count_requests.append(received)
                        error = api.count_script.pop(0) if api.count_script else None
                    if error is not None:
                        self._error(error)
                    else:
                        self._json(200, {"input_tokens": request_tokens(body)})
                    return
                with api._lock:
                    api.requests.append(received)
                reply = api._next()
                if isinstance(reply, Turn):
                    reply = _with_usage(reply, api.cache, body)
                if isinstance(reply, HttpError):
                    self._error(reply)
                elif body.get("stream"):
                    self._stream(reply, body)
                else:
                    self._json(200, _message(reply, body))

            def _json(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", "req_fake")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, reply: HttpError) -> None:
                payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
                # Retry quickly: the SDK honours retry-after-ms, which keeps retry tests fast.
                headers = {"retry-after-ms": "10", **reply.headers}
                self._json(reply.status, payload, headers)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, reply: Turn, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("request-id", "req_fake")
                self.end_headers()
                try:
                    for count, (event, data) in enumerate(_events(reply, body)):
                        if reply.stall_after_events is not None and count >= reply.stall_after_events:
                            self._stall()
                            return
                        if reply.error_after_events is not None and count >= reply.error_after_events:
                            error = {
                                "type": "error",
                                "error": {"type": reply.error_type, "message": "Overloaded"},
                            }
                            self._chunk(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                            break
                        self._chunk(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    api.disconnected.set()

            def _stall(self) -> None:
                """Keep the stream open and silent until the client closes the connection.

                Silent on purpose: a client blocked in a read must be woken by its own cancellation, not by
                incoming data.
                """
                api.stalled.set()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0.02)
                    if readable:
                        try:
                            data = self.connection.recv(1024)
                        except OSError:
                            data = b""
                        if not data:
                            api.disconnected.set()
                            return

        return Handler


def _with_usage(reply: Turn, cache: PromptCache, body: dict[str, Any]) -> Turn:
    """The turn with the usage the request earns where the script left it open (the cache is written)."""
    uncached, read, write = cache.usage(body)
    return replace(
        reply,
        input_tokens=uncached if reply.input_tokens is None else reply.input_tokens,
        cache_read_input_tokens=read
        if reply.cache_read_input_tokens is None
        else reply.cache_read_input_tokens,
        cache_creation_input_tokens=(
            write if reply.cache_creation_input_tokens is None else reply.cache_creation_input_tokens
        ),
    )


def _usage(reply: Turn, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": reply.cache_read_input_tokens,
        "cache_creation_input_tokens": reply.cache_creation_input_tokens,
    }


def _message(reply: Turn, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-test"),
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "stop_details": reply.stop_details,
        "usage": _usage(reply, reply.output_tokens),
    }


def _events(reply: Turn, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    start = _message(reply, body) | {
        "content": [],
        "stop_reason": None,
        "stop_details": None,
        "usage": _usage(reply, 1),
    }
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            words = block["text"].split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            # Tool input arrives as partial JSON, split mid-token as the real API does.
            encoded = json.dumps(block["input"])
            for i in range(0, len(encoded), 7):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": encoded[i : i + 7]},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "stop_details": reply.stop_details,
            },
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}
