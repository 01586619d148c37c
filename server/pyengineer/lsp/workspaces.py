"""Workspace lifecycle in the server: load, scan with progress, watch, react to changes, report status.

Every trigger (the first load, a watcher batch, a settings change or rescan, a save) goes through one path,
`reload_facts`: settings -> index -> git -> context computed in a worker thread (`compute`), then swapped in
once, on the loop; `announce` then sends the status and republishes. The loop is the only writer of a
workspace's state.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer import names
from pyengineer.config import Settings
from pyengineer.errors import ConfigError
from pyengineer.git.state import matching_protection, read_git_state, read_head
from pyengineer.lines import source_lines
from pyengineer.lsp import publishing
from pyengineer.lsp.progress import WorkProgress
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceFacts, WorkspaceState
from pyengineer.session.session import path_to_uri
from pyengineer.workspace import safe_io
from pyengineer.workspace.context import WorkspaceContext, WorkspaceIndex
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.scan_cache import cache_dir
from pyengineer.workspace.watcher import ChangeBatch, WorkspaceWatcher

log = logging.getLogger(__name__)

STATUS_METHOD = names.STATUS
CONFIG_FILE_NAMES = {"pyproject.toml", "pyengineer.toml"}


def ready_event(ls: PyengineerServer, state: WorkspaceState) -> asyncio.Event:
    """The event set once `state` is loaded; asking for it starts the load if nothing has yet.

    Creating the event and starting the load are one step: an event nobody will ever set (a settings change
    arriving before the first load started) would make everyone waiting on it wait forever.
    """
    key = str(state.root)
    event = ls.ready.get(key)
    if event is None:
        event = ls.ready[key] = asyncio.Event()
        ls.spawn(load(ls, state))
    return event


async def ensure_loaded(ls: PyengineerServer, state: WorkspaceState) -> None:
    """Load a workspace once (later calls return at once); the first scan reports progress."""
    ready_event(ls, state)


@dataclass(frozen=True)
class Reload:
    """What a trigger asks `reload` to bring up to date."""

    settings: bool = False  # read the config files and editor settings again
    rescan: bool = False  # a new index from scratch
    build: bool = False  # scan when there is no index yet (the first load, a settings change)
    paths: frozenset[Path] = frozenset()  # files changed on disk: update the index for these
    git: bool = True  # read the git state again
    rearm: bool = False  # before a rescan, place the watches again from scratch
    report: Callable[[int, int], None] | None = None  # scan progress (done, total)


def compute(
    state: WorkspaceState,
    before: WorkspaceFacts,
    settings: tuple[Settings, ConfigError | None, Path | None],
    rebuild: bool,
    what: Reload,
) -> WorkspaceFacts:
    """The workspace's next facts (a worker thread): reads disk and git, writes nothing the loop reads but
    the index (thread-safe), and returns a new value for the loop to swap in."""
    current, error, config_file = settings
    if state.single_file:
        return WorkspaceFacts(current, error, config_file, context=_single_file_context(state))
    index = before.index
    if rebuild:
        index = WorkspaceIndex(state.root, current, cache_dir())
        index.scan(what.report)
    elif index is not None and what.paths:
        index.update(what.paths)
    git = read_git_state(state.root, current.protected_branches) if what.git else before.git
    context = before.context
    if index is not None:
        context = index.context(git=git, config_file=str(config_file) if config_file else None)
    return WorkspaceFacts(current, error, config_file, index, git, context, scanned=before.scanned or rebuild)


def _reload_lock(ls: PyengineerServer, state: WorkspaceState) -> asyncio.Lock:
    return ls.reload_locks.setdefault(str(state.root), asyncio.Lock())


async def reload_facts(ls: PyengineerServer, state: WorkspaceState, what: Reload) -> WorkspaceFacts:
    """The one way a workspace's state changes after a trigger: settings -> index -> git -> context, all off
    the loop, then one swap on the loop. Reloads of a workspace run one at a time, each from the facts the
    last one left. Returns the facts it replaced."""
    async with _reload_lock(ls, state):
        before = state.facts
        settings: tuple[Settings, ConfigError | None, Path | None] = (
            before.settings,
            before.config_error,
            before.config_file,
        )
        if what.settings:
            settings = await ls.run_sync(ls.session.load_settings, state)
        index = before.index
        rebuild = not state.single_file and (
            what.rescan
            or (index is None and what.build)
            or (index is not None and what.settings and index.settings != settings[0])
        )
        watcher = ls.watchers.get(str(state.root))
        if rebuild and what.rearm and watcher is not None:
            # Watch again from scratch before the scan, so nothing changed during it is missed: the root may
            # have been re-created, watches lost, or the inotify limits raised since the fallback to polling.
            watcher.rules = IgnoreRules.for_root(state.root, settings[0].exclude)
            await ls.run_sync(watcher.rearm)
        started = time.perf_counter()
        facts = await ls.run_sync(compute, state, before, settings, rebuild, what)
        log.debug("reloaded %s in %.0f ms", state.root, (time.perf_counter() - started) * 1000)
        state.swap(facts)
        if what.settings:
            publish_config_diagnostic(ls, state)
        return before


def announce(ls: PyengineerServer, state: WorkspaceState, resend: bool = True) -> None:
    """Tell the client what changed: the status, then every open document's diagnostics."""
    send_status(ls, state)
    publishing.republish(ls, state.root, resend=resend)


async def load(ls: PyengineerServer, state: WorkspaceState) -> None:
    if ls.configured is not None and not ls.configured.is_set():
        # A document opened right after `initialized` must not be checked with settings the editor is
        # about to replace.
        try:
            await asyncio.wait_for(ls.configured.wait(), 10)
        except TimeoutError:
            log.warning("the editor did not answer workspace/configuration; using the settings at hand")
    progress = WorkProgress(ls, None, "scan")
    summary = "failed"

    def report(done: int, total: int) -> None:
        if total:
            progress.report(f"{done}/{total} files", done * 100 // total)

    try:
        if not state.single_file:
            await progress.begin(f"pyengineer: scanning {state.root.name}", message=None, percentage=0)
        await reload_facts(ls, state, Reload(settings=True, build=True, report=report))
        if state.single_file:
            summary = "single file: not scanned, not watched"
        else:
            await start_watcher(ls, state)
            summary = f"{state.context.python_file_count if state.context else 0} Python files"
    except Exception:
        log.exception("loading workspace %s failed", state.root)
    finally:
        progress.end(summary)
        event = ls.ready.get(str(state.root))
        if event is not None:  # None when the folder was removed while it loaded
            event.set()
    announce(ls, state, resend=False)


def _single_file_context(state: WorkspaceState) -> WorkspaceContext:
    return WorkspaceContext(
        root=str(state.root),
        python_project=True,
        python_project_reason="a file outside every workspace folder, with no project near it: "
        "analysed on its own (the folder is not scanned or watched)",
    )


async def start_watcher(ls: PyengineerServer, state: WorkspaceState) -> None:
    key = str(state.root)
    if key in ls.watchers or state.index is None or ls.loop is None or state.single_file:
        return
    loop = ls.loop
    git_dirs: list[Path] = []
    if state.git.git_dir:
        git_dirs.append(Path(state.git.git_dir))
        common = Path(state.git.git_dir)
        if common.parent.name == "worktrees":
            git_dirs.append(common.parent.parent)

    def on_batch(batch: ChangeBatch) -> None:
        future = asyncio.run_coroutine_threadsafe(handle_batch(ls, state, batch), loop)
        future.add_done_callback(_log_failure)

    def on_problem(message: str) -> None:
        loop.call_soon_threadsafe(_tell_watch_problem, ls, state, message)

    watcher = WorkspaceWatcher(
        state.root,
        IgnoreRules.for_root(state.root, state.settings.exclude),
        on_batch,
        git_dirs=git_dirs,
        on_problem=on_problem,
    )
    # Placing thousands of watches takes a while: not on the event loop.
    ls.watchers[key] = watcher
    try:
        await ls.run_sync(watcher.start, state.index.folders)
    except Exception:
        ls.watchers.pop(key, None)
        log.exception("cannot watch %s; changes made outside the editor will need a rescan", state.root)
        _tell_watch_problem(
            ls,
            state,
            f"cannot watch {state.root}; run '{names.RESCAN}' after changes made outside the editor",
        )
        return
    if ls.shutting_down or state.root not in ls.session.workspaces:
        watcher.stop()  # the folder was removed (or the server shut down) while the watches were placed
        ls.watchers.pop(key, None)
        return
    log.info(
        "watching %s (%d watches%s)", state.root, watcher.watch_count, ", polling" if watcher.polling else ""
    )


def _tell_watch_problem(ls: PyengineerServer, state: WorkspaceState, message: str) -> None:
    """Watching is degraded (polling after the inotify limits, or not watching at all): say so, once (the
    watcher reports each kind of problem once), and in the status the editor shows."""
    if ls.shutting_down:
        return
    ls.show_message(f"pyengineer: {message}", types.MessageType.Warning)
    send_status(ls, state)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("handling file changes failed", exc_info=future.exception())


def stop_watcher(ls: PyengineerServer, state: WorkspaceState) -> None:
    watcher = ls.watchers.pop(str(state.root), None)
    if watcher is not None:
        watcher.stop()


async def handle_batch(ls: PyengineerServer, state: WorkspaceState, batch: ChangeBatch) -> None:
    """React to changes made outside the editor (a terminal checkout, a file saved by another tool).

    One batch per workspace is handled at a time; batches that arrive meanwhile are merged and handled
    next, so a storm that lasts many seconds (the watcher flushes at least once a second) costs a few
    refreshes instead of one per second, and two refreshes never race on the same index.
    """
    if ls.shutting_down or state.root not in ls.session.workspaces or state.single_file:
        return
    key = str(state.root)
    queued = ls.queued_batches.get(key)
    if queued is not None:
        log.debug(
            "changes in %s: %d paths, git=%s (queued behind the batch being applied)",
            state.root,
            len(batch.paths),
            batch.git_changed,
        )
        queued.paths |= batch.paths
        queued.git_changed |= batch.git_changed
        queued.rescan |= batch.rescan
        # The batch before may take seconds (a checkout rewrote a thousand files); a branch switch in this
        # one must not wait for it.
        _republish_if_branch_moved(ls, state, batch, _touches_config(state, batch))
        return
    ls.queued_batches[key] = ChangeBatch()
    try:
        while batch:
            await _handle_one_batch(ls, state, batch)
            batch, ls.queued_batches[key] = ls.queued_batches[key], ChangeBatch()
            if ls.shutting_down or state.root not in ls.session.workspaces:
                return
    finally:
        ls.queued_batches.pop(key, None)


def _touches_config(state: WorkspaceState, batch: ChangeBatch) -> bool:
    # A rescan (the root was re-created, events were lost) may bring a new config file too.
    return batch.rescan or any(p.name in CONFIG_FILE_NAMES and p.parent == state.root for p in batch.paths)


def _republish_if_branch_moved(
    ls: PyengineerServer, state: WorkspaceState, batch: ChangeBatch, config_touched: bool
) -> None:
    """A branch switch: the branch decides PE101 in every open document. Reading HEAD takes no git process,
    so the editor hears about it before `git status` and the index catch up with the rewritten files.

    HEAD is read for every batch, not only those that saw `.git` change: a checkout's rewritten files reach
    the server first (the watcher flushes a long burst every second), and while the server applies them the
    watcher's own thread is slowed, so the batch that saw HEAD move can come a second or two later.
    The one write outside `reload_facts`, and on the loop too: only the branch fields change, and the reload
    running meanwhile (if any) reads the git state again after it.
    """
    if not (batch and state.git.git_dir and state.context is not None):
        return
    if config_touched:
        return  # the settings (protected branches among them) are reloaded first
    branch, detached = read_head(Path(state.git.git_dir))
    if (branch, detached) == (state.git.branch, state.git.detached):
        return
    pattern = matching_protection(branch, state.settings.protected_branches)
    git = state.git.model_copy(
        update={
            "branch": branch,
            "detached": detached,
            "protected": pattern is not None,
            "protected_pattern": pattern,
        }
    )
    state.swap(replace(state.facts, git=git, context=state.context.model_copy(update={"git": git})))
    announce(ls, state)


async def _handle_one_batch(ls: PyengineerServer, state: WorkspaceState, batch: ChangeBatch) -> None:
    config_touched = _touches_config(state, batch)
    log.debug(
        "changes in %s: %d paths, git=%s, config=%s, rescan=%s",
        state.root,
        len(batch.paths),
        batch.git_changed,
        config_touched,
        batch.rescan,
    )
    _republish_if_branch_moved(ls, state, batch, config_touched)
    before = (
        await reload_facts(
            ls,
            state,
            Reload(settings=config_touched, rescan=batch.rescan, paths=frozenset(batch.paths)),
        )
    ).context
    after = state.current_context()
    send_status(ls, state)
    if (
        before is None
        or _affects_diagnostics(before, after)
        or config_touched
        or ((batch.git_changed or batch.rescan) and before.git != after.git)
    ):
        publishing.republish(ls, state.root)


def _affects_diagnostics(before: WorkspaceContext, after: WorkspaceContext) -> bool:
    return (
        before.git.branch != after.git.branch
        or before.git.protected != after.git.protected
        or before.git.changed_files != after.git.changed_files
        or before.frameworks != after.frameworks
        or before.ml_files != after.ml_files
    )


async def reload(ls: PyengineerServer, state: WorkspaceState, rescan: bool = False) -> None:
    """Settings changed (editor or file) or a rescan was asked for: reload and republish."""
    await ready_event(ls, state).wait()
    await reload_facts(ls, state, Reload(settings=True, rescan=rescan, build=True, rearm=True))
    if not state.single_file and str(state.root) not in ls.watchers:
        await start_watcher(ls, state)  # it could not start before (the folder was missing, say)
    announce(ls, state)


async def refresh_git(
    ls: PyengineerServer, state: WorkspaceState, paths: frozenset[Path] = frozenset()
) -> None:
    """The git state (and the index for `paths`, files saved while nothing watches) changed: reload them."""
    if state.single_file:
        return  # git is not asked about a stray file's folder (it may be a whole home folder's repository)
    await reload_facts(ls, state, Reload(paths=paths))
    announce(ls, state)


def _key_line(path: Path, key: str | None) -> int:
    if not key or not path.is_file():
        return 0
    last = key.split(".")[-1]
    try:
        lines = source_lines(safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES, warn=False))
    except OSError:
        return 0
    pattern = re.compile(r"^\s*[\"']?" + re.escape(last) + r"[\"']?\s*=")
    for number, line in enumerate(lines):
        if pattern.match(line):
            return number
    return 0


def publish_config_diagnostic(ls: PyengineerServer, state: WorkspaceState) -> None:
    """Show a broken config as a diagnostic on the config file (and clear it once fixed)."""
    error: ConfigError | None = state.config_error
    target = (
        Path(error.path)
        if error is not None and error.path and Path(error.path).is_absolute()
        else state.config_file
    )
    uris = {path_to_uri(state.root / name) for name in CONFIG_FILE_NAMES}
    for uri in uris:
        is_target = target is not None and uri == path_to_uri(target)
        if error is not None and is_target:
            assert target is not None
            line = _key_line(target, error.key)
            diag = types.Diagnostic(
                range=types.Range(
                    start=types.Position(line=line, character=0),
                    end=types.Position(line=line + 1, character=0),
                ),
                message=f"pyengineer configuration error (the last good settings stay in force): {error}",
                severity=types.DiagnosticSeverity.Error,
                source="pyengineer",
                code="config",
            )
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[diag]))
            ls.show_message(f"pyengineer: {error}", types.MessageType.Error)
        elif uri in ls.config_diagnostic_uris:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    ls.config_diagnostic_uris = {path_to_uri(target)} if error is not None and target is not None else set()


def status_payload(ls: PyengineerServer, state: WorkspaceState) -> dict[str, Any]:
    from pyengineer.lsp.llm_status import llm_status

    context = state.current_context()
    git = context.git
    return {
        "workspace": state.uri,
        "root": str(state.root),
        "branch": git.branch,
        "detached": git.detached,
        "head": git.head,
        "protected": git.protected,
        "pythonProject": context.python_project,
        "projectKind": "python" if context.python_project else "not-python",
        "packageManager": context.package_manager,
        "frameworks": list(context.frameworks),
        "mlFileCount": len(context.ml_files),
        "llm": llm_status(ls, state),
        "usage": ls.llm_usage.get(str(state.root)),
        "configError": str(state.config_error) if state.config_error else None,
        "singleFile": state.single_file,
        **watch_status(ls, state),
    }


def watch_status(ls: PyengineerServer, state: WorkspaceState) -> dict[str, Any]:
    """How the workspace is watched: "inotify", "native", "polling", "waiting" (its folder is missing) or
    "off" (a single file, or not loaded yet), and why it is degraded when it is."""
    watcher = ls.watchers.get(str(state.root))
    if watcher is None:
        return {"watching": "off", "watchProblem": None}
    return {"watching": watcher.mode, "watchProblem": watcher.problem}


def send_status(ls: PyengineerServer, state: WorkspaceState) -> None:
    """Send `pyengineer/status` when something in it changed."""
    payload = status_payload(ls, state)
    if ls.last_status.get(str(state.root)) == payload:
        return
    ls.last_status[str(state.root)] = payload
    ls.notify(STATUS_METHOD, payload)
