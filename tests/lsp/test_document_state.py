"""The DocumentState owns an open document: the real server's handlers, real analysis, publishes read back.

The server runs in-process (its handlers called as pygls calls them, its output written to a sink) so that
what it holds after a close can be inspected; tests/hardening/test_documents.py checks the same from outside.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pyengineer.findings import Finding
from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.handlers import import_deferred, register_deferred
from pyengineer.lsp.server import PyengineerServer, create_server
from pyengineer.session import DocumentSnapshot
from pygls.workspace import Workspace

from tests.lsp.conftest import make_repo, wait_for
from tests.lsp.sink import Sink

ML_TEXT = "import torch\n"
MOVED_TEXT = "\n\n\nimport torch\n"


@asynccontextmanager
async def server(repo: Path) -> AsyncIterator[tuple[PyengineerServer, Sink]]:
    ls = create_server()
    ls.protocol._workspace = Workspace(repo.as_uri(), position_encoding="utf-16")
    sink = Sink()
    ls.protocol.set_writer(sink)
    ls.loop = asyncio.get_running_loop()
    register_deferred(ls, import_deferred())
    ls.handlers_loaded = True
    ls.session.add_workspace(repo)
    try:
        yield ls, sink
    finally:
        ls.shutting_down = True
        for doc in ls.session.documents.values():
            if doc.publish_task is not None:
                doc.publish_task.cancel()
        for watcher in ls.watchers.values():
            watcher.stop()
        ls.executor.shutdown(wait=True, cancel_futures=True)


async def handle(ls: PyengineerServer, method: str, params: Any) -> None:
    result = ls.protocol.fm.features[method](params)
    if asyncio.iscoroutine(result):
        await result


def open_params(uri: str, text: str, version: int = 1) -> types.DidOpenTextDocumentParams:
    return types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", version, text))


def replace_params(uri: str, text: str, version: int) -> types.DidChangeTextDocumentParams:
    return types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [types.TextDocumentContentChangeWholeDocument(text=text)],
    )


def pe201_lines(params: dict[str, Any]) -> list[int]:
    return [d["range"]["start"]["line"] for d in params["diagnostics"] if d["code"] == "PE201"]


def gated(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[DocumentSnapshot]]:
    """Make the first analysis wait for the returned event; every analysis is recorded, and real."""
    gate = threading.Event()
    seen: list[DocumentSnapshot] = []
    real: Callable[[DocumentSnapshot], list[Finding]] = publishing.analyze_snapshot

    def analyze(snapshot: DocumentSnapshot) -> list[Finding]:
        seen.append(snapshot)
        if len(seen) == 1:
            gate.wait(20)
        return real(snapshot)

    monkeypatch.setattr(publishing, "analyze_snapshot", analyze)
    return gate, seen


async def test_closing_a_document_frees_everything_it_held(tmp_path: Path) -> None:
    """The text, the analyzer (its parse), the findings and the kept diagnostics go with the close. They
    were module globals and server attributes: an analysis queued when the document closed re-created the
    analyzer, which held its parse for good (memory growth on close)."""
    repo = make_repo(tmp_path / "repo", {"model.py": ML_TEXT})
    uri = (repo / "model.py").as_uri()
    async with server(repo) as (ls, sink):
        await handle(ls, types.TEXT_DOCUMENT_DID_OPEN, open_params(uri, ML_TEXT))
        await wait_for(lambda: sink.publishes(uri), 20)
        doc = ls.session.documents[uri]
        assert doc.analyzer is not None and doc.wire is not None and doc.findings is not None
        held = [weakref.ref(doc), weakref.ref(doc.analyzer), weakref.ref(doc.wire)]
        del doc
        await handle(
            ls,
            types.TEXT_DOCUMENT_DID_CLOSE,
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)),
        )
        await asyncio.sleep(0.05)
        gc.collect()
        assert [ref() for ref in held] == [None, None, None]
        assert sink.publishes(uri)[-1]["diagnostics"] == []
        # pygls' workspace kept no copy of the text either.
        assert uri not in ls.workspace.text_documents


async def test_a_result_for_an_older_text_of_the_same_version_is_never_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1 again, with new text, while the first text is being analysed: the first text's result has
    the version the client is at, and must still not be published (the owner compares texts, not versions)."""
    repo = make_repo(tmp_path / "repo", {"model.py": ML_TEXT})
    uri = (repo / "model.py").as_uri()
    gate, seen = gated(monkeypatch)
    async with server(repo) as (ls, sink):
        # Loaded first, so that no workspace change (which would also make the first result stale) comes
        # between: only the text tells the two results apart.
        await workspaces.ready_event(ls, ls.session.workspace_for(repo / "model.py")).wait()
        await handle(ls, types.TEXT_DOCUMENT_DID_OPEN, open_params(uri, ML_TEXT))
        await wait_for(lambda: seen, 20)
        await handle(ls, types.TEXT_DOCUMENT_DID_CHANGE, replace_params(uri, MOVED_TEXT, 1))
        gate.set()
        published = await wait_for(lambda: sink.publishes(uri), 20)
        await asyncio.sleep(0.2)  # and nothing after it
        published = sink.publishes(uri)
        assert [pe201_lines(p) for p in published] == [[3]]
        assert [s.text for s in seen] == [ML_TEXT, MOVED_TEXT]


async def test_edits_during_an_analysis_are_coalesced_to_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default settings: no debounce wait, the analysis starts with the change; edits that arrive while it
    runs start nothing, and the next analysis is of the newest text only, which alone is published."""
    repo = make_repo(tmp_path / "repo", {"model.py": ML_TEXT})
    uri = (repo / "model.py").as_uri()
    gate, seen = gated(monkeypatch)
    async with server(repo) as (ls, sink):
        await handle(ls, types.TEXT_DOCUMENT_DID_OPEN, open_params(uri, ML_TEXT))
        await wait_for(lambda: seen, 20)
        await wait_for(lambda: ls.ready[str(repo.resolve())].is_set(), 20)
        assert ls.session.workspace_for(repo / "model.py").settings.debounce_ms == 0
        for version in range(2, 7):
            text = "\n" * version + ML_TEXT
            await handle(ls, types.TEXT_DOCUMENT_DID_CHANGE, replace_params(uri, text, version))
            await asyncio.sleep(0.01)
        assert len(seen) == 1, "an edit during the analysis started another one"
        gate.set()
        await wait_for(lambda: sink.publishes(uri), 20)
        await asyncio.sleep(0.2)
        published = sink.publishes(uri)
        assert [(p["version"], pe201_lines(p)) for p in published] == [(6, [6])]
        assert [s.version for s in seen] == [1, 6]
