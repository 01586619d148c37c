"""Watch a workspace for changes made outside the editor, coalescing bursts into one batch.

Threads cost by the watcher, not by the folder: on Linux one inotify instance (`workspace/inotify.py`) holds a
watch per folder that is not ignored, read by one thread, so node_modules or a virtual environment with
100,000 folders costs no inotify watch and a 3,000-folder tree costs no more threads than a 3-folder one.
Elsewhere one recursive watchdog watch (FSEvents, ReadDirectoryChangesW) covers the root and our ignore rules
filter its events. A control thread coalesces the events into batches, checks once a second that the root is
still the folder it armed (deleted and re-created, moved away: it re-arms and asks for a rescan), and moves to
polling when the kernel's inotify limits are reached (telling the caller once, through `on_problem`).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengineer.workspace import inotify
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

# How often the control thread checks that the root is still the folder it watches (one stat).
ROOT_CHECK_SECONDS = 1.0
# The polling fallback's interval: a walk of the folders that are not ignored, one lstat per entry.
POLL_SECONDS = 1.0

# Folders that vanish, deny access or turn out to be symlinks between the walk and the watch: skipped.
_SKIPPABLE = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.ELOOP})


@dataclass
class ChangeBatch:
    """What changed during one quiet period. `rescan`: events were lost or the root was replaced, so the
    paths do not tell everything; the workspace must be scanned again."""

    paths: set[Path] = field(default_factory=set)
    git_changed: bool = False
    rescan: bool = False

    def __bool__(self) -> bool:
        return bool(self.paths) or self.git_changed or self.rescan


def _identity(path: Path) -> tuple[int, int] | None:
    """The folder's (device, inode): a re-created or replaced folder has another one."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


class _Handler:
    """The watchdog event handler (polling and non-Linux modes): classify each event for the coalescer."""

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
    """Watch one root; call `on_batch(ChangeBatch)` (from the watcher's thread) after each burst.

    `mode` is "inotify" (Linux), "native" (one recursive watchdog watch elsewhere), "polling" (forced, or the
    inotify limits were reached), "waiting" (the root is missing; it is re-armed when it comes back) or
    "stopped". `problem` says why watching is degraded; `on_problem(message)` hears it once per kind.
    """

    def __init__(
        self,
        root: Path,
        rules: IgnoreRules,
        on_batch: Callable[[ChangeBatch], None],
        git_dirs: Iterable[Path] = (),
        quiet_seconds: float = 0.15,
        max_delay_seconds: float = 1.0,
        force_polling: bool = False,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.rules = rules
        self.on_batch = on_batch
        self.on_problem = on_problem
        self.git_dirs = [Path(p) for p in git_dirs]
        self.quiet = quiet_seconds
        self.max_delay = max_delay_seconds
        self.force_polling = force_polling
        self.mode = "stopped"
        self.problem: str | None = None
        self._reported: set[str] = set()
        # Arming, disarming and switching modes (any thread); never held while an event is handled.
        self._control = threading.RLock()
        # The watch tables (reader thread and control thread); held only for a table update or one syscall.
        self._maps = threading.RLock()
        self._inotify: inotify.Inotify | None = None
        self._generation = 0
        self._wd_path: dict[int, Path] = {}
        self._watched: dict[Path, int] = {}
        self._observer: Any = None
        self._observed = 0
        self._root_id: tuple[int, int] | None = None
        # The root's own watch reported it deleted or moved. Needed besides the inode check: a folder deleted
        # and made again at once often gets the very inode number back.
        self._root_lost = False
        self._fallback: OSError | None = None  # a limit error met by the reader thread
        self._resync = False  # inotify's queue overflowed: watch what appeared meanwhile
        self._lock = threading.Lock()
        self._pending = ChangeBatch()
        self._first_event = 0.0
        self._last_event = 0.0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None

    @property
    def polling(self) -> bool:
        return self.mode == "polling"

    @property
    def watch_count(self) -> int:
        return len(self._watched) if self.mode == "inotify" else self._observed

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self, folders: Iterable[str]) -> None:
        """Start watching `folders` (relative to root, "" for the root) and the git folders."""
        with self._control:
            self._arm(list(folders))
        self._flusher = threading.Thread(target=self._run, name="pyengineer-watch", daemon=True)
        self._flusher.start()

    def rearm(self) -> None:
        """Watch again from scratch (a rescan asked for it): walk the tree, retry inotify after a fallback."""
        with self._control:
            if self._stopped.is_set():
                return
            self._disarm()
            self._arm(None)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        with self._control:
            self._disarm()
            self.mode = "stopped"

    def _arm(self, folders: list[str] | None) -> None:
        """Place the watches for the current root (walking it when `folders` is None). Call under _control."""
        self._root_id = _identity(self.root)
        self._root_lost = False
        if self._root_id is None:
            log.info("%s does not exist (yet); watching for it to come back", self.root)
            self.mode = "waiting"
            return
        if folders is None:
            from pyengineer.workspace.scan import walk

            self.rules.load_gitignore("")
            folders = walk(self.root, self.rules).folders
        if self.force_polling:
            self._start_polling()
            return
        try:
            if sys.platform.startswith("linux") and inotify.available():
                self._start_inotify(folders)
            else:
                self._start_native()
        except OSError as exc:
            if exc.errno not in inotify.LIMIT_ERRORS:
                raise
            self._fall_back(exc)
            return
        if self.problem is not None:
            log.info("watching %s with %s again", self.root, self.mode)
        self.problem = None

    def _disarm(self) -> None:
        """Drop every watch (call under _control); the reader thread ends, events in flight are ignored."""
        with self._maps:
            ino, self._inotify = self._inotify, None
            self._generation += 1
            self._wd_path.clear()
            self._watched.clear()
        if ino is not None:
            ino.close()
        observer, self._observer = self._observer, None
        self._observed = 0
        if observer is not None:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join(timeout=5)

    def _fall_back(self, exc: OSError) -> None:
        """The kernel's inotify limits are reached: poll instead, and say so once."""
        self._disarm()
        self.problem = (
            f"{exc.strerror}: watching {self.root} by polling every {POLL_SECONDS:g} s instead, which costs "
            "more CPU. Raise fs.inotify.max_user_watches (or max_user_instances), then run "
            "'pyengineer.rescan' to watch with inotify again."
        )
        log.warning("inotify limits reached (%s); falling back to polling %s", exc, self.root)
        self._start_polling()
        self._report("polling", self.problem)

    def _report(self, kind: str, message: str) -> None:
        if kind in self._reported or self.on_problem is None:
            return
        self._reported.add(kind)
        try:
            self.on_problem(message)
        except Exception:
            log.exception("reporting a watcher problem failed")

    # --- inotify (Linux) ------------------------------------------------------------------------------------

    def _start_inotify(self, folders: list[str]) -> None:
        with self._maps:
            generation = self._generation
        ino = inotify.Inotify(lambda event: self._on_inotify(generation, event))
        with self._maps:
            self._inotify = ino
        try:
            for folder in folders:
                self._watch_folder(folder)
            for git_dir in self.git_dirs:
                self._watch_git_tree(git_dir)
        except BaseException:
            with self._maps:
                self._inotify = None
                self._wd_path.clear()
                self._watched.clear()
            ino.close()
            raise
        self.mode = "inotify"
        ino.start()

    def _watch_path(self, path: Path) -> None:
        """One inotify watch on `path`; limit errors raise, a folder that cannot be watched is skipped."""
        with self._maps:
            ino = self._inotify
            if ino is None or path in self._watched:
                return
            try:
                wd = ino.add(str(path))
            except OSError as exc:
                if exc.errno in _SKIPPABLE:
                    log.debug("not watching %s: %s", path, exc)
                    return
                raise
            previous = self._wd_path.get(wd)
            if previous is not None and previous != path:
                self._watched.pop(previous, None)  # the same folder under a new name (a move we missed)
            self._wd_path[wd] = path
            self._watched[path] = wd

    def _watch_folder(self, folder: str) -> None:
        self._watch_path(self.root / folder if folder else self.root)

    def _watch_git_tree(self, path: Path) -> None:
        """A git dir (or a folder under its refs/): it and, under refs/, every folder below."""
        self._watch_path(path)
        refs = path / "refs" if path in self.git_dirs else path
        for current, dirs, _files in os.walk(refs):
            self._watch_path(Path(current))
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]

    def _unwatch_tree(self, path: Path) -> None:
        """A folder moved away: its watches would report under the old name; drop them."""
        with self._maps:
            ino = self._inotify
            for watched in [p for p in self._watched if p == path or path in p.parents]:
                wd = self._watched.pop(watched)
                self._wd_path.pop(wd, None)
                if ino is not None:
                    ino.remove(wd)

    def _on_inotify(self, generation: int, event: inotify.RawEvent) -> None:
        """One raw event (the reader thread): to a path, then to `on_path` as the watchdog modes do."""
        if event.mask & inotify.IN_Q_OVERFLOW:
            log.warning("inotify's queue overflowed under %s: events were lost; rescanning", self.root)
            self._resync = True
            self._add(None, rescan=True)
            return
        with self._maps:
            if generation != self._generation:
                return
            base = self._wd_path.get(event.wd)
            if base is None:
                return
            if event.mask & inotify.IN_IGNORED:
                self._wd_path.pop(event.wd, None)
                if self._watched.get(base) == event.wd:
                    del self._watched[base]
        if event.mask & (inotify.IN_IGNORED | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF):
            if base == self.root:
                self._lose_root()
            return
        path = base / event.name if event.name else base
        is_dir = bool(event.mask & inotify.IN_ISDIR)
        if event.mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            kind = "created"
        elif event.mask & (inotify.IN_DELETE | inotify.IN_MOVED_FROM):
            kind = "deleted"
            if is_dir and event.mask & inotify.IN_MOVED_FROM:
                self._unwatch_tree(path)
        else:
            kind = "modified"
        self.on_path(path, is_dir, kind)

    # --- watchdog: polling, and one recursive watch off Linux -----------------------------------------------

    def _start_polling(self) -> None:
        from watchdog.observers.polling import PollingObserverVFS

        # lstat: a symlinked folder is an entry, never walked into (no loops, nothing outside the root).
        observer = PollingObserverVFS(os.lstat, self._listdir, polling_interval=POLL_SECONDS)
        self._schedule(observer, recursive_root=True)
        self.mode = "polling"

    def _start_native(self) -> None:
        from watchdog.observers import Observer

        self._schedule(Observer(), recursive_root=True)
        self.mode = "native"

    def _schedule(self, observer: Any, recursive_root: bool) -> None:
        handler = _Handler(self)
        observer.schedule(handler, str(self.root), recursive=recursive_root)
        count = 1
        for git_dir in self.git_dirs:
            if git_dir.is_dir():
                # The git dir itself (HEAD, packed-refs) and refs/, which may be nested (refs/heads/a/b).
                observer.schedule(handler, str(git_dir), recursive=False)
                count += 1
                if (git_dir / "refs").is_dir():
                    observer.schedule(handler, str(git_dir / "refs"), recursive=True)
                    count += 1
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._observed = count

    def _listdir(self, path: str | None) -> Iterator[os.DirEntry[str]]:
        """os.scandir for the polling walk, leaving out the folders the watcher would not watch."""
        folder = Path(path or ".")
        relative = relative_inside(self.root, folder)
        filtered = relative is not None and not any(folder == g or g in folder.parents for g in self.git_dirs)
        with os.scandir(folder) as entries:
            for entry in entries:
                if filtered and self._skipped_folder(entry, relative or ""):
                    continue
                yield entry

    def _skipped_folder(self, entry: os.DirEntry[str], relative: str) -> bool:
        try:
            if not entry.is_dir(follow_symlinks=False):
                return False
        except OSError:
            return True
        child = entry.name if relative in ("", ".") else f"{relative}/{entry.name}"
        return (
            is_skipped_dir_name(entry.name)
            or self.rules.is_ignored(child, is_dir=True)
            or is_virtualenv(Path(entry.path))
        )

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

    def _lose_root(self) -> None:
        """The root was deleted or moved: the control thread re-arms once a folder is there again."""
        self._root_lost = True
        self._wake.set()

    def on_path(self, path: Path, is_directory: bool, event_type: str) -> None:
        if path == self.root and event_type in ("deleted", "moved"):
            self._lose_root()  # from the watchdog modes (polling stops at the root's deletion)
            return
        if any(path == g or g in path.parents for g in self.git_dirs):
            if is_directory and event_type in ("created", "moved") and self.mode == "inotify":
                # A git dir re-created (`rm -rf .git; git init`, a re-clone) or a new folder under refs/.
                if path in self.git_dirs or any(g / "refs" in (path, *path.parents) for g in self.git_dirs):
                    self._guarded(self._watch_git_tree, path)
                    self._add(None, git=True)
                    return
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
        if is_directory and event_type in ("created", "moved") and path.is_dir() and self.mode == "inotify":
            self._guarded(self._watch_new_tree, path)
        self._add(path)

    def _guarded(self, place: Callable[[Path], None], path: Path) -> None:
        """Place watches from the reader thread; a limit error hands over to polling (control thread)."""
        try:
            place(path)
        except OSError as exc:
            if exc.errno not in inotify.LIMIT_ERRORS:
                log.warning("cannot watch %s: %s", path, exc)
                return
            self._fallback = exc
            self._wake.set()

    def _watch_new_tree(self, path: Path) -> None:
        """A folder appeared (mkdir, checkout, unzip): watch it and everything below that is not ignored."""
        for current, dirs, _files in os.walk(path):
            relative = relative_posix(self.root, Path(current))
            if is_virtualenv(Path(current)) or self.rules.is_ignored(relative, is_dir=True):
                dirs[:] = []
                continue
            self._watch_folder(relative)
            dirs[:] = [
                d for d in dirs if not is_skipped_dir_name(d) and not os.path.islink(os.path.join(current, d))
            ]

    # --- the control thread: root checks, fallbacks, coalescing ---------------------------------------------

    def _maintain(self) -> None:
        with self._control:
            if self._stopped.is_set():
                return
            fallback, self._fallback = self._fallback, None
            if fallback is not None and self.mode == "inotify":
                self._fall_back(fallback)
            identity = _identity(self.root)
            if (
                identity != self._root_id
                or (self._root_lost and self.mode != "waiting")
                or (self.mode == "waiting" and identity is not None)
            ):
                gone = identity is None
                log.warning(
                    "%s was %s; %s",
                    self.root,
                    "deleted or moved away" if gone else "replaced (or came back)",
                    "waiting for it to come back" if gone else "watching it again",
                )
                self._disarm()
                self._arm(None)
                self._add(None, rescan=True)
            elif self._resync and self.mode == "inotify":
                self._resync = False
                from pyengineer.workspace.scan import walk

                try:
                    for folder in walk(self.root, self.rules).folders:
                        self._watch_folder(folder)
                    for git_dir in self.git_dirs:
                        self._watch_git_tree(git_dir)
                except OSError as exc:
                    if exc.errno not in inotify.LIMIT_ERRORS:
                        raise
                    self._fall_back(exc)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(ROOT_CHECK_SECONDS)
            if self._stopped.is_set():
                return
            try:
                self._maintain()
            except Exception:
                log.exception("checking the watches of %s failed", self.root)
            self._flush()

    def _add(self, path: Path | None, git: bool = False, rescan: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._first_event = now
            if path is not None:
                self._pending.paths.add(path)
            self._pending.git_changed |= git
            self._pending.rescan |= rescan
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

    def _flush(self) -> None:
        """Hand over the pending batch once it has settled (quiet, or waited long enough)."""
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
                    return
            if self._stopped.is_set():
                return
            time.sleep(min(self.quiet, 0.05))
        try:
            self.on_batch(batch)
        except Exception:
            log.exception("watcher callback failed")
