"""Compute and publish diagnostics: off the loop, coalesced while an analysis runs, never for a stale text."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer.baseline import filter_document
from pyengineer.engine.incremental import DocumentAnalyzer
from pyengineer.findings import Finding
from pyengineer.lsp import wire
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot, DocumentState
from pyengineer.session import session as session_module
from pyengineer.workspace import safe_io

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
# Documents longer than this (generated code, data dumped into a .py) are not analysed: parsing and the
# rules take minutes on a 20 MB file, and every keystroke would start that again. The same limit as files
# on disk (the scan, `pyengineer check`), counted in characters here.
MAX_ANALYZED_CHARS = safe_io.MAX_SOURCE_BYTES
MAX_KEPT_PARSE_CHARS = session_module.MAX_KEPT_PARSE_CHARS


def being_changed(snapshot: DocumentSnapshot) -> bool:
    """PE101's "being changed": git says the file is modified or untracked, or the buffer is not HEAD's text
    (a hash against HEAD's blob, read once per HEAD: see git/committed.py). Runs in a worker thread."""
    from pyengineer.git.committed import differs_from_committed

    git = snapshot.context.git
    if snapshot.changed or not snapshot.edited:
        return snapshot.changed
    # Off a protected branch nothing asks (PE101 is quiet): git is not run for the answer.
    return not git.protected or differs_from_committed(snapshot.path, snapshot.text, git)


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
    # The snapshot carries its document's analyzer; one without (a closed document) is analysed from scratch.
    analyzer = snapshot.analyzer or DocumentAnalyzer(snapshot.path, snapshot.relative, MAX_KEPT_PARSE_CHARS)
    findings = analyzer.analyze(
        snapshot.text, snapshot.context, snapshot.settings, being_changed(snapshot), snapshot.relative
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
    kept = wire.kept(ls.session.documents.get(snapshot.uri), snapshot.uri, ls.position_encoding)
    return kept.items(snapshot.text, snapshot.version, findings)


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
    doc = ls.session.documents[uri]
    cached = doc.findings
    if cached is not None and cached[0] == snapshot.revision and cached[1] == ls.generation:
        return snapshot, cached[2]
    findings = await asyncio.shield(_analysis(ls, doc, snapshot))
    # Test findings were computed on the saved text; once the user edits the file their lines may be stale,
    # but they stay until the next run says otherwise (as a test explorer's marks do).
    return snapshot, findings + list(ls.test_findings.get(snapshot.path, ()))


def _analysis(
    ls: PyengineerServer, doc: DocumentState, snapshot: DocumentSnapshot
) -> asyncio.Future[list[Finding]]:
    """The analysis of `snapshot` in the worker pool: the one already running for the same text and
    workspace state when there is one. An editor asks for code actions (and a pull client for diagnostics)
    right after each change, while that version's publish is being analysed: they wait for it rather than
    run a second one. Awaited through asyncio.shield, so a cancelled waiter does not cancel it for the others.
    """
    running = doc.running
    if running is not None and running[0] == snapshot.revision and running[1] == ls.generation:
        return running[2]
    future = asyncio.get_running_loop().run_in_executor(ls.executor, analyze_snapshot, snapshot)
    entry = doc.running = (snapshot.revision, ls.generation, future)

    def done(finished: asyncio.Future[list[Finding]]) -> None:
        if doc.running is entry:
            doc.running = None
        if not finished.cancelled():
            finished.exception()  # raised to whoever awaits it; no "never retrieved" log when nobody does

    future.add_done_callback(done)
    return future


def schedule(ls: PyengineerServer, uri: str, delay: float | None = None) -> None:
    """Publish `uri`'s diagnostics once the newest text is analysed.

    `delay` None is a keystroke: the workspace's `debounceMs`. With 0 (the default) the analysis starts at
    once, and a change that arrives while it runs does not restart anything: the running publish analyses
    the newest text next and publishes only that (edits faster than the analysis are coalesced, a cheap
    analysis is published as soon as it is done). With a debounce, each change restarts the countdown, and
    only the last change of a burst is analysed.
    """
    doc = ls.session.documents.get(uri)
    if doc is None:
        return
    if delay is None:
        delay = ls.session.workspace_for(doc.path).settings.debounce_ms / 1000
    task = doc.publish_task
    if task is not None and not task.done():
        if delay <= 0 and doc.analysing:
            return  # it re-checks the text (and the generation) before it publishes
        task.cancel()
    doc.analysing = delay <= 0
    doc.publish_task = ls.spawn(_publish(ls, doc, delay))


async def _publish(ls: PyengineerServer, doc: DocumentState, delay: float) -> None:
    if delay > 0:
        await asyncio.sleep(delay)
        doc.analysing = True
    uri = doc.uri
    while True:
        generation = ls.generation
        result = await findings_for(ls, uri)
        if result is None or ls.session.documents.get(uri) is not doc:
            return  # closed (or opened again: a new state with its own publish) meanwhile
        snapshot, findings = result
        if doc.revision == snapshot.revision and ls.generation == generation:
            break
        # A newer text (or workspace state) came while this one was analysed: this result is stale, never
        # published; analyse the newest.
        log.debug("dropping diagnostics for %s v%s: document is at v%s", uri, snapshot.version, doc.version)
    doc.findings = (snapshot.revision, generation, findings)
    if len(snapshot.text) > MAX_ANALYZED_CHARS and not doc.told_too_large:
        doc.told_too_large = True
        ls.show_message(
            f"pyengineer: {snapshot.relative} is not analysed: {len(snapshot.text):,} characters is above the "
            f"limit of {MAX_ANALYZED_CHARS:,} (docs/reliability.md)",
            types.MessageType.Warning,
        )
    if doc.publisher is not None:
        doc.publisher(ls, snapshot, findings)
    elif not ls.pull_diagnostics and doc.published != (snapshot.version, findings):
        # The first load of a workspace republishes what the didOpen just published, for the same version:
        # the client is sent a version's diagnostics again only when they differ.
        doc.published = (snapshot.version, findings)
        kept = wire.kept(doc, uri, ls.position_encoding)
        wire.publish_diagnostics(ls, kept, snapshot.text, snapshot.version, findings)
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
                doc.published = None
            schedule(ls, uri, 0)
    if ls.pull_diagnostics and ls.client.diagnostic_refresh:
        ls.workspace_diagnostic_refresh(None)


# Once documents stop closing for this long, the memory they held is handed back (release_memory).
RELEASE_DELAY = 1.0


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
    if ls.memory_release is not None:
        ls.memory_release.cancel()
    loop = asyncio.get_running_loop()

    def start() -> None:
        if not ls.shutting_down:
            loop.run_in_executor(ls.executor, release_memory)

    ls.memory_release = loop.call_later(RELEASE_DELAY, start)


def clear(ls: PyengineerServer, doc: DocumentState | None, uri: str) -> None:
    """`uri` was closed: stop its publish and clear its diagnostics. Everything else it held went with its
    DocumentState (Session.close_document), which nothing else references."""
    _release_later(ls)
    if doc is not None and doc.publish_task is not None:
        doc.publish_task.cancel()
    if not ls.pull_diagnostics:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
