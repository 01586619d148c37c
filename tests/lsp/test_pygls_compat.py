"""Each pygls internal lsp/pygls_compat.py relies on, checked against the installed pygls.

A pygls upgrade that renames or changes one of them fails here, with the internal's name, instead of somewhere
downstream (a leak, a silent wrong edit, an unanswered request). Run this file first after bumping pygls.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pyengineer.lsp import pygls_compat
from pyengineer.lsp.handlers import import_deferred, register_deferred
from pyengineer.lsp.pygls_compat import CompatServer, LspTextDocument, apply_changes, write_frame
from pyengineer.lsp.server import PyengineerServer, create_server
from pygls.exceptions import JsonRpcInvalidRequest
from pygls.lsp.server import LanguageServer
from pygls.workspace import PositionCodec, TextDocument, Workspace

from tests.lsp.conftest import wait_for
from tests.lsp.sink import Sink


def with_sink() -> tuple[PyengineerServer, Sink]:
    ls = create_server()
    ls.protocol._workspace = Workspace(None, position_encoding="utf-16")
    sink = Sink()
    ls.protocol.set_writer(sink)
    return ls, sink


def test_start_io_runs_our_loop_through_start_io_async() -> None:
    """`_start_io_async`: pygls' `start_io` (not under WebAssembly) hands its streams to it."""
    seen: list[tuple[Any, Any]] = []

    class Probe(CompatServer):
        def serve_stream(self, stdin: Any, stdout: Any) -> None:
            seen.append((stdin, stdout))

    stdin, stdout = io.BytesIO(), io.BytesIO()
    Probe("probe", "0").start_io(stdin, stdout)
    assert seen == [(stdin, stdout)]


def test_shutdown_sets_the_stop_event() -> None:
    """`_stop_event`: pygls' `shutdown()` sets it, which ends our message loop as it ends pygls'."""
    server = LanguageServer("probe", "0")
    event = CompatServer.new_stop_event(server)  # type: ignore[arg-type]
    assert isinstance(event, threading.Event) and server._stop_event is event
    server.shutdown()
    assert event.is_set()


def test_incremental_changes_go_through_apply_incremental_change_and_its_codec() -> None:
    """`TextDocument._apply_incremental_change` and `._position_codec`: `apply_change` dispatches an
    incremental change to the former, and the latter converts client units."""
    calls: list[Any] = []

    class Spy(LspTextDocument):
        def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
            calls.append(change)
            super()._apply_incremental_change(change)

    doc = Spy("file:///x.py", "é = 1\n", sync_kind=types.TextDocumentSyncKind.Incremental)
    assert isinstance(doc._position_codec, PositionCodec)
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(0, 1), types.Position(0, 1)), text="x"
    )
    doc.apply_change(change)
    assert calls == [change] and doc.source == "éx = 1\n"
    # pygls' own algorithm still exists for the cases the splice hands back to it.
    reference = TextDocument("file:///x.py", "é = 1\n")
    TextDocument._apply_incremental_change(reference, change)
    assert reference.source == doc.source


def test_apply_changes_keeps_pygls_rules_for_full_and_incremental_changes() -> None:
    changes: list[types.TextDocumentContentChangeEvent] = [
        types.TextDocumentContentChangeWholeDocument(text="a\nb\n"),
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 0), types.Position(1, 1)), text="😀"
        ),
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 2), types.Position(1, 2)),
            text="!",  # after the surrogates
        ),
    ]
    assert apply_changes("file:///x.py", "old", changes, "utf-16") == "a\n😀!\n"


async def test_reply_error_answers_through_send_response() -> None:
    """`_send_response(msg_id, None, error)` writes a JSON-RPC error for that id."""
    ls, sink = with_sink()
    pygls_compat.reply_error(ls.protocol, 7, JsonRpcInvalidRequest("no"))
    await asyncio.sleep(0)
    [(_, message)] = sink.frames()
    assert message["id"] == 7 and message["error"]["code"] == JsonRpcInvalidRequest.CODE


def test_write_frame_frames_as_pygls_does() -> None:
    """`_include_headers`, `CONTENT_TYPE`, `CHARSET`: our pre-encoded bodies get pygls' own headers."""
    ls, sink = with_sink()
    assert ls.protocol._include_headers is True
    ls.protocol.notify("pyengineer/probe", {"a": 1})
    write_frame(ls.protocol, b'{"jsonrpc":"2.0","method":"pyengineer/probe","params":{"a":1}}')
    (theirs_head, theirs), (ours_head, ours) = sink.frames()
    assert ours == theirs
    # the same headers, but for the length (pygls' json.dumps puts spaces after separators)
    assert {**ours_head, "Content-Length": ""} == {**theirs_head, "Content-Length": ""}
    assert ours_head["Content-Length"] == "62"


def test_report_error_reaches_the_server() -> None:
    """`_server._report_server_error(error, source)` exists and reports (pygls' own guard against loops)."""
    ls, _ = with_sink()
    reported: list[Exception] = []
    ls.report_server_error = lambda error, source: reported.append(error)  # type: ignore[method-assign]
    error = RuntimeError("boom")
    pygls_compat.report_error(ls.protocol, error, RuntimeError)
    assert reported == [error]


async def test_notification_futures_are_dropped_and_requests_still_answered(tmp_path: Path) -> None:
    """`_execute_handler`, `_request_futures`, `_send_handler_result`: the future of every notification is
    removed once done (pygls keeps them for good), a request's callback is recognised, and it is answered."""
    ls, sink = with_sink()
    register_deferred(ls, import_deferred())
    ls.handlers_loaded = True
    protocol = ls.protocol
    protocol.initialize_received = True  # type: ignore[attr-defined]
    seen_request_callbacks: list[bool] = []
    original = type(protocol)._execute_handler

    def spy(self: Any, msg_id: Any, handler: Any, callback: Any, *args: Any, **kwargs: Any) -> None:
        seen_request_callbacks.append(pygls_compat.is_request_callback(self, callback))
        original(self, msg_id, handler, callback, *args, **kwargs)

    protocol._execute_handler = spy.__get__(protocol)  # type: ignore[method-assign]
    path = tmp_path / "x.py"
    path.write_text("x = 1\n", encoding="utf-8")
    uri = path.as_uri()
    item = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
    body = {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}}
    protocol.receive(json.dumps(body).encode())  # type: ignore[attr-defined]
    await wait_for(lambda: uri in ls.session.documents, 10)
    await asyncio.sleep(0.05)
    assert protocol._request_futures == {}
    # The text lives in the DocumentState only: the overridden didOpen kept pygls' workspace empty.
    assert ls.workspace.text_documents == {}
    hover = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
    request = {"jsonrpc": "2.0", "id": 3, "method": "textDocument/hover", "params": hover}
    protocol.receive(json.dumps(request).encode())  # type: ignore[attr-defined]
    await wait_for(lambda: any(m.get("id") == 3 for _, m in sink.frames()), 20)
    assert True in seen_request_callbacks and False in seen_request_callbacks
    ls.shutting_down = True
    for doc in ls.session.documents.values():
        if doc.publish_task is not None:
            doc.publish_task.cancel()
    ls.executor.shutdown(wait=True, cancel_futures=True)


def test_our_protocol_overrides_replace_pygls_builtins() -> None:
    """`lsp_method` overrides (shutdown, didOpen/didChange/didClose) are the ones pygls dispatches to."""
    ls, _ = with_sink()
    builtin = ls.protocol.fm.builtin_features
    for method, name in [
        (types.SHUTDOWN, "lsp_shutdown"),
        (types.TEXT_DOCUMENT_DID_OPEN, "lsp_text_document__did_open"),
        (types.TEXT_DOCUMENT_DID_CHANGE, "lsp_text_document__did_change"),
        (types.TEXT_DOCUMENT_DID_CLOSE, "lsp_text_document__did_close"),
    ]:
        assert builtin[method].__func__ is getattr(pygls_compat.CompatProtocol, name), method
    # and the feature manager tables handlers/__init__.py swaps handlers in
    assert isinstance(ls.protocol.fm.features, dict)
    assert isinstance(ls.protocol.fm.feature_options, dict)
    assert isinstance(ls.protocol.fm.commands, dict)
    assert isinstance(ls.protocol.msg_id, object)


def test_documents_pygls_still_keeps_are_lsp_documents() -> None:
    """`Workspace.__class__` swap and `_create_text_document` (with `_sync_kind`, `_position_codec`): the
    notebook cells pygls keeps break lines where LSP does."""
    workspace = Workspace(None, types.TextDocumentSyncKind.Incremental, position_encoding="utf-8")
    pygls_compat.use_lsp_documents(workspace)
    workspace.put_text_document(types.TextDocumentItem("file:///c.py", "python", 1, "a\fb\nc\n"))
    cell = workspace.get_text_document("file:///c.py")
    assert isinstance(cell, LspTextDocument)
    assert list(cell.lines) == ["a\fb\n", "c\n"]
    assert cell.position_codec.encoding == "utf-8"
