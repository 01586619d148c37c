"""Watch a workspace for changes made outside the editor, coalescing bursts into one batch.

Watches are placed folder by folder (never recursively on the root) so that ignored trees such as
node_modules or a virtual environment with 100,000 folders cost no inotify watches and no CPU. When the
kernel runs out of inotify watches, the watcher falls back to polling and says so in the log.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengineer.workspace.ignore import (
    IgnoreRules,
    is_skipped_dir_name,
    is_virtualenv,
    relative_inside,
    relative_posix,
)

log = logging.getLogger(__name__)

# Files under .git whose change means the branch, the refs or an in-progress operation changed.
# `index` and lock files are left out: every `git status` touches them, ours included.
GIT_STATE_NAMES = frozenset(
    {"HEAD", "packed-refs", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "BISECT_LOG", "ORIG_HEAD"}
)


# The longest a batch waits for a running git command (checkout, reset...) to release index.lock.
GIT_BUSY_MAX_WAIT = 30.0

WRITE_EVENTS = frozenset({"created", "deleted", "modified", "moved", "closed"})


@dataclass
class ChangeBatch:
    """What changed during one quiet period."""

    paths: set[Path] = field(default_factory=set)
    git_changed: bool = False

    def __bool__(self) -> bool:
        return bool(self.paths) or self.git_changed


class _Handler:
    """The watchdog event handler: classify each event and hand it to the coalescer."""

    def __init__(self, watcher: WorkspaceWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        # Reads show up as "opened"/"closed_no_write" events; reacting to them would make our own reads
        # (and git's) trigger endless rescans.
        if event.event_type not in WRITE_EVENTS:
            return
        for raw in (getattr(event, "src_path", None), getattr(event, "dest_path", None)):
            if raw:
                path = os.fsdecode(raw)
                self.watcher.on_path(
                    Path(path), bool(getattr(event, "is_directory", False)), event.event_type
                )


class WorkspaceWatcher:
    """Watch one root; call `on_batch(ChangeBatch)` (from the watcher's thread) after each burst."""

    def __init__(
        self,
        root: Path,
        rules: IgnoreRules,
        on_batch: Callable[[ChangeBatch], None],
        git_dirs: Iterable[Path] = (),
        quiet_seconds: float = 0.15,
        max_delay_seconds: float = 1.0,
        force_polling: bool = False,
    ) -> None:
        self.root = root
        self.rules = rules
        self.on_batch = on_batch
        self.git_dirs = [Path(p) for p in git_dirs]
        self.quiet = quiet_seconds
        self.max_delay = max_delay_seconds
        self.force_polling = force_polling
        self.polling = False
        self._observer: Any = None
        self._watched: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pending = ChangeBatch()
        self._first_event = 0.0
        self._last_event = 0.0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self, folders: Iterable[str]) -> None:
        """Start watching `folders` (relative to root, "" for the root) and the git folders."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        folders = list(folders)
        self._observer = PollingObserver(timeout=1.0) if self.force_polling else Observer()
        self.polling = self.force_polling
        try:
            self._schedule_all(folders)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            log.warning(
                "inotify watches exhausted (%s); falling back to polling %s, which costs more CPU. "
                "Raise fs.inotify.max_user_watches to watch with inotify.",
                exc,
                self.root,
            )
            self._observer.unschedule_all()
            self._observer = PollingObserver(timeout=1.0)
            self.polling = True
            self._watched.clear()
            # Polling is recursive by nature; one watch on the root covers everything.
            self._observer.schedule(_Handler(self), str(self.root), recursive=True)
            for git_dir in self.git_dirs:
                if not str(git_dir).startswith(str(self.root)):
                    self._observer.schedule(_Handler(self), str(git_dir), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        self._flusher = threading.Thread(target=self._flush_loop, name="pyengineer-watch-flush", daemon=True)
        self._flusher.start()

    def _schedule_all(self, folders: list[str]) -> None:
        if self.polling:
            self._observer.schedule(_Handler(self), str(self.root), recursive=True)
            self._watched[""] = True
        else:
            for folder in folders:
                self._watch_folder(folder)
        for git_dir in self.git_dirs:
            self._watch_git_dir(git_dir)

    def _watch_folder(self, folder: str) -> None:
        if folder in self._watched or self._observer is None:
            return
        path = self.root / folder if folder else self.root
        self._watched[folder] = self._observer.schedule(_Handler(self), str(path), recursive=False)

    def _watch_git_dir(self, git_dir: Path) -> None:
        for path in (git_dir, git_dir / "refs"):
            if path.is_dir():
                key = f"git:{path}"
                if key not in self._watched:
                    # refs/ may be nested (refs/heads/feature/x): it is small, so a recursive watch is fine.
                    self._watched[key] = self._observer.schedule(
                        _Handler(self), str(path), recursive=path != git_dir
                    )

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    @property
    def watch_count(self) -> int:
        return len(self._watched)

    # --- events -------------------------------------------------------------------------------------------

    def _is_git_path(self, path: Path) -> bool:
        for git_dir in self.git_dirs:
            if path == git_dir or git_dir in path.parents:
                relative = path.relative_to(git_dir).parts
                if not relative:
                    return False
                return relative[0] in GIT_STATE_NAMES or (
                    relative[0] == "refs" and not path.name.endswith(".lock")
                )
        return False

    def on_path(self, path: Path, is_directory: bool, event_type: str) -> None:
        if any(path == g or g in path.parents for g in self.git_dirs):
            if not self._is_git_path(path):
                return
            self._add(None, git=True)
            return
        relative = relative_inside(self.root, path)
        if relative is None:
            return
        parts = relative.split("/")
        if any(is_skipped_dir_name(p) for p in parts[:-1]) or (
            is_directory and is_skipped_dir_name(parts[-1])
        ):
            return
        if self.rules.is_ignored(relative, is_dir=is_directory):
            return
        if is_directory and event_type in ("created", "moved") and path.is_dir() and not self.polling:
            self._watch_new_tree(path)
        self._add(path)

    def _watch_new_tree(self, path: Path) -> None:
        """A folder appeared (mkdir, checkout, unzip): watch it and everything below that is not ignored."""
        for current, dirs, _files in os.walk(path):
            relative = relative_posix(self.root, Path(current))
            if is_virtualenv(Path(current)) or self.rules.is_ignored(relative, is_dir=True):
                dirs[:] = []
                continue
            try:
                self._watch_folder(relative)
            except OSError as exc:
                log.warning("cannot watch %s: %s", current, exc)
                dirs[:] = []
                continue
            dirs[:] = [
                d for d in dirs if not is_skipped_dir_name(d) and not os.path.islink(os.path.join(current, d))
            ]

    def _add(self, path: Path | None, git: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._first_event = now
            if path is not None:
                self._pending.paths.add(path)
            self._pending.git_changed |= git
            self._last_event = now
        self._wake.set()

    def _git_busy(self) -> bool:
        """True while a git command holds a fresh index.lock (a stale one from a crashed git is ignored)."""
        now = time.time()
        for git_dir in self.git_dirs:
            try:
                if now - (git_dir / "index.lock").stat().st_mtime < GIT_BUSY_MAX_WAIT:
                    return True
            except OSError:
                continue
        return False

    def _flush_loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait()
            if self._stopped.is_set():
                return
            while True:
                with self._lock:
                    now = time.monotonic()
                    quiet_for = now - self._last_event
                    waited = now - self._first_event
                    settled = quiet_for >= self.quiet or waited >= self.max_delay
                    # While git rewrites the work tree (checkout, merge, reset hold index.lock) more is coming:
                    # wait for it to finish, so a branch switch arrives as one update.
                    if settled and waited < GIT_BUSY_MAX_WAIT and self._git_busy():
                        settled = False
                    if self._pending and settled:
                        batch, self._pending = self._pending, ChangeBatch()
                        self._wake.clear()
                        break
                    if not self._pending:
                        self._wake.clear()
                        batch = ChangeBatch()
                        break
                time.sleep(min(self.quiet, 0.05))
            if batch:
                try:
                    self.on_batch(batch)
                except Exception:
                    log.exception("watcher callback failed")
