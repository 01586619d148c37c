"""Compute and publish diagnostics: debounced, off the loop, and never for a stale document version."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer.baseline import filter_document
from pyengineer.engine.incremental import DocumentAnalyzer
from pyengineer.findings import Finding
from pyengineer.lsp import wire
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot
from pyengineer.workspace import safe_io

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
# Documents longer than this (generated code, data dumped into a .py) are not analysed: parsing and the
# rules take minutes on a 20 MB file, and every keystroke would start that again. The same limit as files
# on disk (the scan, `pyengineer check`), counted in characters here.
MAX_ANALYZED_CHARS = safe_io.MAX_SOURCE_BYTES
_told_too_large: set[str] = set()  # documents the user was told are not analysed (once each)
_published: dict[str, tuple[int | None, list[Finding]]] = {}  # uri -> the version and findings last pushed
# The last analysis of each open document is kept (up to this many characters), so the next version is
# analysed incrementally when the edit allows (engine/incremental.py) and a republish after a branch switch
# or a settings change re-runs only the rules, not the parser.
MAX_KEPT_PARSE_CHARS = 500_000
_analyzers: dict[str, DocumentAnalyzer] = {}
# The documents an analyzer may be kept for: open ones. An analysis queued in the worker pool can run after
# its document was closed; it used to create the analyzer again, which then held that document's parse
# (up to MAX_KEPT_PARSE_CHARS of source, several MB of syntax tree) until the server exited.
_open: set[str] = set()
_analyzers_lock = threading.Lock()
# uri -> what shows its diagnostics in place of a textDocument/publishDiagnostics for that uri (a notebook's
# go to its cells: lsp/notebooks.py), in push and pull mode alike; called only for the current revision.
publishers: dict[str, Callable[[PyengineerServer, DocumentSnapshot, list[Finding]], None]] = {}


def analyzer(snapshot: DocumentSnapshot) -> DocumentAnalyzer:
    """The analyzer that keeps the document's last analysis (a throwaway one for a closed document)."""
    with _analyzers_lock:
        found = _analyzers.get(snapshot.uri)
        if found is None or found.path != snapshot.path:
            found = DocumentAnalyzer(snapshot.path, snapshot.relative, MAX_KEPT_PARSE_CHARS)
            if snapshot.uri in _open:
                _analyzers[snapshot.uri] = found
        return found


def track(uri: str) -> None:
    """`uri` is open: its analyzer is kept between analyses (until `forget`)."""
    if uri not in _open:  # read without the lock: the keystroke path pays for a set lookup only
        with _analyzers_lock:
            _open.add(uri)


def forget(uri: str) -> None:
    with _analyzers_lock:
        _open.discard(uri)
        _analyzers.pop(uri, None)


def analyze_snapshot(snapshot: DocumentSnapshot) -> list[Finding]:
    """The findings for one snapshot (pure; runs in a worker thread)."""
    if len(snapshot.text) > MAX_ANALYZED_CHARS:
        log.info(
            "%s is not analysed: %d characters (the limit is %d)",
            snapshot.relative,
            len(snapshot.text),
            MAX_ANALYZED_CHARS,
        )
        return []
    findings = analyzer(snapshot).analyze(
        snapshot.text, snapshot.context, snapshot.settings, snapshot.changed, snapshot.relative
    )
    # The editor reports what the baseline does not hold, as `pyengineer check` does.
    return filter_document(
        snapshot.root,
        snapshot.settings,
        snapshot.path,
        snapshot.text,
        findings,
        snapshot.context.git.toplevel,
    )


def to_diagnostics(
    ls: PyengineerServer, snapshot: DocumentSnapshot, findings: list[Finding]
) -> list[dict[str, Any]]:
    """The findings as JSON-ready diagnostics (pull reports; pushes are written as text by `wire`)."""
    return wire.document(snapshot.uri, ls.position_encoding).items(snapshot.text, snapshot.version, findings)


async def wait_ready(ls: PyengineerServer, root: Path) -> bool:
    """Wait for the workspace's first load (at most READY_TIMEOUT); False if it was loaded already."""
    event = ls.ready.get(str(root))
    if event is not None and event.is_set():
        return False
    if event is None:
        from pyengineer.lsp.workspaces import ensure_loaded

        await ensure_loaded(ls, ls.session.workspace_for(root))
        event = ls.ready.get(str(root))
    if event is not None and not event.is_set():
        try:
            await asyncio.wait_for(event.wait(), READY_TIMEOUT)
        except TimeoutError:
            log.warning("workspace %s is still loading; analysing with what is known", root)
    return True


async def findings_for(ls: PyengineerServer, uri: str) -> tuple[DocumentSnapshot, list[Finding]] | None:
    """Findings for the current version of `uri`, from the cache when they are fresh."""
    snapshot = ls.session.snapshot(uri)
    if snapshot is None:
        return None
    if await wait_ready(ls, snapshot.root):
        # The load may have brought settings and a context: snapshot again.
        snapshot = ls.session.snapshot(uri)
        if snapshot is None:
            return None
    cached = ls.findings.get(uri)
    if cached is not None and cached[0] == snapshot.revision and cached[1] == ls.generation:
        return snapshot, cached[2]
    findings = await asyncio.shield(_analysis(ls, snapshot))
    # Test findings were computed on the saved text; once the user edits the file their lines may be stale,
    # but they stay until the next run says otherwise (as a test explorer's marks do).
    return snapshot, findings + list(ls.test_findings.get(snapshot.path, ()))


# uri -> (server, revision, generation, the analysis running in the worker pool). An editor asks for code
# actions (and a pull client for diagnostics) right after each change, while the publish of that version is
# being analysed: they wait for that analysis rather than run a second one. Awaited through asyncio.shield, so
# the next keystroke cancelling the publish does not cancel it for the others.
_running: dict[str, tuple[PyengineerServer, int, int, asyncio.Future[list[Finding]]]] = {}


def _analysis(ls: PyengineerServer, snapshot: DocumentSnapshot) -> asyncio.Future[list[Finding]]:
    uri = snapshot.uri
    running = _running.get(uri)
    if (
        running is not None
        and running[0] is ls
        and running[1] == snapshot.revision
        and running[2] == ls.generation
    ):
        return running[3]
    future = asyncio.get_running_loop().run_in_executor(ls.executor, analyze_snapshot, snapshot)
    entry = _running[uri] = (ls, snapshot.revision, ls.generation, future)

    def done(finished: asyncio.Future[list[Finding]]) -> None:
        if _running.get(uri) is entry:
            del _running[uri]
        if not finished.cancelled():
            finished.exception()  # raised to whoever awaits it; no "never retrieved" log when nobody does

    future.add_done_callback(done)
    return future


def schedule(ls: PyengineerServer, uri: str, delay: float | None = None) -> None:
    """(Re)start the diagnostics countdown for `uri`; only the last call in a burst does the work."""
    track(uri)
    previous = ls.pending_diagnostics.pop(uri, None)
    if previous is not None and not previous.done():
        previous.cancel()
    ls.pending_diagnostics[uri] = ls.spawn(_publish_later(ls, uri, delay))


async def _publish_later(ls: PyengineerServer, uri: str, delay: float | None) -> None:
    if delay is None:
        doc = ls.session.documents.get(uri)
        if doc is None:
            return
        delay = ls.session.workspace_for(doc.path).settings.debounce_ms / 1000
    if delay > 0:
        await asyncio.sleep(delay)
    generation = ls.generation
    result = await findings_for(ls, uri)
    if result is None:
        return
    snapshot, findings = result
    doc = ls.session.documents.get(uri)
    if doc is None or doc.revision != snapshot.revision:
        log.debug(
            "dropping diagnostics for %s v%s: document is at v%s", uri, snapshot.version, doc and doc.version
        )
        return
    ls.findings[uri] = (snapshot.revision, generation, findings)
    if len(snapshot.text) > MAX_ANALYZED_CHARS and uri not in _told_too_large:
        _told_too_large.add(uri)
        ls.show_message(
            f"pyengineer: {snapshot.relative} is not analysed: {len(snapshot.text):,} characters is above the "
            f"limit of {MAX_ANALYZED_CHARS:,} (docs/reliability.md)",
            types.MessageType.Warning,
        )
    if (publisher := publishers.get(uri)) is not None:
        publisher(ls, snapshot, findings)
    elif not ls.pull_diagnostics and _published.get(uri) != (snapshot.version, findings):
        # The first load of a workspace republishes what the didOpen just published, for the same version:
        # the client is sent a version's diagnostics again only when they differ.
        _published[uri] = (snapshot.version, findings)
        wire.publish_diagnostics(ls, uri, snapshot.text, snapshot.version, findings)
    # A keystroke's analysis fills the cyclic GC's young generations; left alone, a collection (2-3.5 ms for
    # the second generation in the keystroke bench) fires in the middle of a later keystroke. Collected here,
    # once the diagnostics are written, it costs ~0.1 ms and nobody waits for it.
    gc.collect(1)


def republish(ls: PyengineerServer, root: Path | None = None, resend: bool = True) -> None:
    """Recompute diagnostics now for every open document (of one workspace, or all).

    `resend`: push the result even when it equals what the client has (after a branch switch or a settings
    change the client is told the diagnostics are current). The workspace's first load passes False: it
    follows the didOpen's own publish of the same version, and sending it again showed everything twice.
    """
    ls.generation += 1
    for uri, doc in list(ls.session.documents.items()):
        if root is None or ls.session.workspace_for(doc.path).root == root:
            if resend:
                _published.pop(uri, None)
            schedule(ls, uri, 0)
    if ls.pull_diagnostics and ls.client_supports("workspace.diagnostics.refresh_support"):
        ls.workspace_diagnostic_refresh(None)


# Once documents stop closing for this long, the memory they held is handed back (release_memory).
RELEASE_DELAY = 1.0
_release: asyncio.TimerHandle | None = None


def _trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): its allocator gives memory back by itself, or not at all
        return None
    trim: Callable[[int], int] = libc.malloc_trim
    return trim


def release_memory() -> None:
    """Collect the closed documents' cycles and give the freed heap back to the system (a worker thread).

    What a closed document held (its parse, syntax index and findings, tens of MB for a few hundred files) is
    freed, but glibc keeps freed blocks in its per-thread arenas, so without `malloc_trim` the server's RSS
    stayed at its high-water mark for good.
    """
    gc.collect()
    trim = _trim()
    if trim is not None:
        trim(0)


def _release_later(ls: PyengineerServer) -> None:
    global _release
    if _release is not None:
        _release.cancel()
    loop = asyncio.get_running_loop()

    def start() -> None:
        if not ls.shutting_down:
            loop.run_in_executor(ls.executor, release_memory)

    _release = loop.call_later(RELEASE_DELAY, start)


def clear(ls: PyengineerServer, uri: str) -> None:
    _release_later(ls)
    task = ls.pending_diagnostics.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.findings.pop(uri, None)
    wire.forget(uri)
    forget(uri)
    _told_too_large.discard(uri)
    _published.pop(uri, None)
    if not ls.pull_diagnostics:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
