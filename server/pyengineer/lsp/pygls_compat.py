"""Every place pyengineer reaches into pygls' internals, in one module (pygls is pinned to one minor range).

Each patch is here because a number or a bug report justifies it, and each has a test in
tests/lsp/test_pygls_compat.py that fails if pygls changes under it (an upgrade of pygls runs that file first).

| internal | why | the number or bug |
| --- | --- | --- |
| `LanguageServer._start_io_async` | our reader and loop (`server.MessageReader`, `run_messages`) in place of pygls' `run_async` | pygls reads each header line and the body in its own thread hop: a `didChange` reaches the handler 0.9 ms after the client writes it instead of 1.3-1.45 ms (docs/performance.md); `Content-Length: 99999999999` was read at once (MemoryError); malformed messages went unanswered (docs/reliability.md) |
| `LanguageServer._stop_event` | set by pygls' `shutdown()`; our loop stops on it as pygls' does | - |
| `Workspace.__class__`, `._create_text_document`, `._sync_kind`, `._position_codec` | the documents pygls still keeps (notebook cells) are `LspTextDocument`s | as below |
| `TextDocument._apply_incremental_change`, `._position_codec` | one string splice per edit, lines broken where LSP breaks them | pygls rebuilt the text line by line in Python on every keystroke; `str.splitlines` lines put edits on the wrong line after a form feed or U+2028 (docs/reliability.md) |
| `JsonRpcProtocol._send_response` | answering requests pygls drops (before `initialize`, after `shutdown`) | LSP and JSON-RPC require an answer: the client waited for ever |
| `JsonRpcProtocol._include_headers`, `_server._report_server_error` | writing pre-encoded JSON with pygls' own framing (`write_frame`) | 479 diagnostics: 15-27 ms through lsprotocol + cattrs, 0.8 ms as kept text (lsp/wire.py, docs/performance.md) |
| `JsonRpcProtocol._execute_handler`, `_request_futures`, `_send_handler_result` | dropping the futures pygls files for notifications | +~20 MB per 200 documents opened, edited and closed, for good (tests/hardening/test_documents.py) |
| `LanguageServerProtocol.lsp_shutdown` (and `msg_id`) | cancelling pending requests over a copy of the futures table | pygls' loop raised "dictionary changed size": `shutdown` was never answered |
| `LanguageServerProtocol.lsp_text_document__did_open/_change/_close` | the document's text is kept once, in the Session's `DocumentState` (its owner); pygls' workspace keeps no copy | two copies of every open document, and two truths that could drift |
| `protocol.fm.features`, `.feature_options`, `.commands` | swapping the deferred handlers in after `initialize` (lsp/features.py) | start-up: `initialize` answered before ~0.4 s of imports (docs/performance.md) |

pygls' workspace is still used for what only it knows: the position encoding it negotiated at `initialize`
(`ls.workspace.position_encoding`).

Notes for upstream (pygls 2.1), each a fix pygls should have:
- `run_async`: one thread hop per message, not per header line; bound header and body sizes; answer a parse
  error with -32700 and an invalid envelope (batch, `null`, object id) with -32600 and `"id": null`, which its
  converter drops (`None` members are omitted).
- `TextDocument.lines` uses `str.splitlines`, which breaks at `\\f`, `\\v`, `\\x1c-\\x1e`, `\\x85`, U+2028/9: wrong
  lines for incremental edits. `_apply_incremental_change` could splice the source instead of rebuilding it.
- `_execute_handler` files notification futures in `_request_futures` and never removes them (a leak).
- `lsp_shutdown` iterates `_request_futures` while cancelling, and a cancel callback mutates it.
- Requests before `initialize` or after `shutdown` are dropped instead of answered with -32002 / -32600.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.workspace import PositionCodec, TextDocument, Workspace

log = logging.getLogger("pyengineer")


def _ascii_column(line: str, character: int) -> int:
    """What pygls' position codec makes of `character` on an ASCII `line` (its clamp included)."""
    length = len(line) - 1 if line.endswith("\r\n") else len(line)
    if length == 0:
        return 0
    return length - 1 if character > length else character


class LspTextDocument(TextDocument):
    """pygls' document with lines broken where the editor breaks them, and an edit applied as one splice.

    Used only to apply a `didChange` to the text the DocumentState holds (`apply_changes`): a throwaway, so
    pygls' rules for full and incremental changes (and their clamps) stay exactly pygls'.
    """

    @property
    def lines(self) -> Sequence[str]:
        # Broken where LSP breaks lines (str.splitlines also ends them at \f, \x85, U+2028...). Imported here:
        # pyengineer.lines imports the pydantic models, which `initialize` must not wait for (test_startup).
        from pyengineer.lines import lines_with_ends

        return tuple(lines_with_ends(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        # pygls rebuilds the whole text line by line in Python on every keystroke; one splice does the same.
        lines = self.lines
        start_line, start_char = change.range.start.line, change.range.start.character
        end_line, end_char = change.range.end.line, change.range.end.character
        if not (start_line < len(lines) and end_line < len(lines)):
            super()._apply_incremental_change(change)  # appending at the end of the document
            return
        if lines[start_line].isascii() and lines[end_line].isascii():
            # Client units (UTF-16 or UTF-8) are characters on an ASCII line: no conversion, only pygls' clamp.
            start_char = _ascii_column(lines[start_line], start_char)
            end_char = _ascii_column(lines[end_line], end_char)
        else:
            rng = self._position_codec.range_from_client_units(lines, change.range)
            start_char, end_char = rng.start.character, rng.end.character
        if (start_line, start_char) > (end_line, end_char):
            super()._apply_incremental_change(change)  # a reversed range: pygls' own result, whatever it is
            return
        begin = sum(map(len, lines[:start_line])) + min(max(start_char, 0), len(lines[start_line]))
        stop = sum(map(len, lines[:end_line])) + min(max(end_char, 0), len(lines[end_line]))
        source = self.source
        self._source = source[:begin] + change.text + source[stop:]


class LspWorkspace(Workspace):
    """pygls' workspace whose documents are `LspTextDocument`s.

    pygls keeps no copy of a text document (CompatProtocol below), but it still keeps the cells of the
    notebooks it syncs: those get LSP's lines and the one-splice edit too."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


def use_lsp_documents(workspace: Workspace) -> None:
    """Make the workspace pygls created at `initialize` (before any document) create `LspTextDocument`s.
    pygls builds it inside its own `lsp_initialize`, so its class is swapped rather than the call replaced."""
    workspace.__class__ = LspWorkspace


_CODECS: dict[str, PositionCodec] = {}


def apply_changes(
    uri: str, text: str, changes: Iterable[types.TextDocumentContentChangeEvent], encoding: str
) -> str:
    """`text` after a didChange's `changes`, in order, positions in the client's `encoding`."""
    codec = _CODECS.get(encoding)
    if codec is None:
        codec = _CODECS[encoding] = PositionCodec(types.PositionEncodingKind(encoding))
    document = LspTextDocument(
        uri, source=text, sync_kind=types.TextDocumentSyncKind.Incremental, position_codec=codec
    )
    for change in changes:
        document.apply_change(change)
    return document.source


def write_frame(protocol: Any, body: bytes) -> None:
    """Write one JSON body to the client, framed as pygls frames its own messages (`_send_data`)."""
    writer = protocol.writer
    if writer is None:
        log.error("unable to send a message: no transport")
        return
    if protocol._include_headers:
        header = (
            f"Content-Length: {len(body)}\r\n"
            f"Content-Type: {protocol.CONTENT_TYPE}; charset={protocol.CHARSET}\r\n\r\n"
        )
        body = header.encode("ascii") + body
    try:
        written = writer.write(body)
        if inspect.isawaitable(written):
            asyncio.ensure_future(written)
    except BrokenPipeError:
        raise
    except Exception as error:
        log.exception("sending a message failed")
        report_error(protocol, error, JsonRpcInternalError)


def report_error(protocol: Any, error: Exception, source: type[Exception]) -> None:
    """Report a server error as pygls does (its `_report_server_error`: a log and, if set, a message)."""
    protocol._server._report_server_error(error, source)


def reply_error(protocol: LanguageServerProtocol, msg_id: Any, error: JsonRpcException) -> None:
    """Answer request `msg_id` with `error`, as pygls answers its own."""
    protocol._send_response(msg_id, None, error.to_response_error())


class CompatProtocol(LanguageServerProtocol):
    """pygls' protocol with its internals patched (the table above); the rest is pyengineer's own."""

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Callable[..., Any],
        callback: Callable[[Any], None],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """pygls' handler runner, with the futures it files for anything but a request removed once done.

        pygls files the future (or asyncio task) of every notification and of every step of its generator
        handlers (didOpen, didChange, didClose, executeCommand...) in `_request_futures` under a fresh uuid,
        and only a request's own entry is ever removed (when its answer is sent). So every keystroke left a
        future behind, with its lock, condition and callbacks: 200 documents opened, edited 20 times and
        closed grew the server by ~20 MB each round, for good. Pending entries stay until they finish, so
        `shutdown` still cancels what is running.
        """
        if not is_request_callback(self, callback):
            forward = callback

            def callback(future: Any) -> None:
                if self._request_futures.get(msg_id) is future:
                    del self._request_futures[msg_id]
                forward(future)

        super()._execute_handler(msg_id, handler, callback, args, kwargs)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Any:
        # pygls' own version cancels the pending requests while iterating over their dict, and a cancel whose
        # callback removes its entry raised "dictionary changed size": shutdown was never answered.
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    # The text of an open document lives in its DocumentState only (session/session.py): pygls' workspace
    # would keep a second copy, updated by its own rules, of every open document.

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None


def is_request_callback(protocol: LanguageServerProtocol, callback: Callable[[Any], None]) -> bool:
    """True if `callback` is the one pygls gives a request's handler (it sends the answer)."""
    return isinstance(callback, partial) and callback.func == protocol._send_handler_result


class CompatServer(LanguageServer):
    """pygls' server with its stdio loop replaced: `start_io` runs `serve_stream` (the subclass's)."""

    def _start_io_async(self, stdin: Any = None, stdout: Any = None) -> None:
        self.serve_stream(stdin, stdout)

    def serve_stream(self, stdin: Any, stdout: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def new_stop_event(self) -> Any:
        """The event pygls' `shutdown()` sets to stop its loop; ours stops on it too."""
        import threading

        self._stop_event = threading.Event()
        return self._stop_event
