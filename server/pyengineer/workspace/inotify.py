"""One Linux inotify instance with many watches, read by one thread.

watchdog's observer gives every scheduled folder its own emitter thread (3,000 folders, 3,000 threads), and
its recursive watch places watches in ignored trees too (a node_modules of 100,000 folders). This wrapper is
the part of inotify the workspace watcher needs: add or remove a watch on one folder, and hand each raw
event to a callback from a single reader thread. Which folders to watch, and what an event means, is the
watcher's business (`workspace/watcher.py`).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger(__name__)

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000

# Writes only: reads (IN_ACCESS, IN_OPEN, IN_CLOSE_NOWRITE) are never asked for, so our own reads and git's
# cost no events at all. A symlinked folder is not followed (IN_DONT_FOLLOW + IN_ONLYDIR refuse it).
FOLDER_MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
)

# The errors that mean "the kernel's inotify limits are reached", not "this one folder cannot be watched".
LIMIT_ERRORS = frozenset({errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM})

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)
_READ_SIZE = 1 << 16


class RawEvent(NamedTuple):
    wd: int
    mask: int
    cookie: int
    name: str  # "" for events about the watched folder itself


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    return libc


def available() -> bool:
    """True on a libc with inotify (Linux)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    return all(hasattr(libc, name) for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"))


def _error(what: str, path: str | None = None) -> OSError:
    code = ctypes.get_errno()
    if code == errno.ENOSPC:
        message = "inotify watch limit reached (fs.inotify.max_user_watches)"
    elif code == errno.EMFILE:
        message = "inotify instance limit reached (fs.inotify.max_user_instances)"
    else:
        message = f"{what}: {os.strerror(code)}"
    return OSError(code, message, path) if path is not None else OSError(code, message)


class Inotify:
    """An inotify file descriptor, its watches (wd -> folder) and the thread that reads it."""

    def __init__(self, on_event: Callable[[RawEvent], None]) -> None:
        self._libc = _libc()
        self._on_event = on_event
        fd = self._libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if fd < 0:
            raise _error("inotify_init1")
        self._fd = fd
        self._wake_r, self._wake_w = os.pipe()
        self._closed = threading.Event()
        self._released = False
        self._release_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read_loop, name="pyengineer-inotify", daemon=True)
        self._thread.start()

    def add(self, path: str) -> int:
        """Watch one folder (not recursively); the watch descriptor. Watching a folder twice returns its wd."""
        wd = int(self._libc.inotify_add_watch(self._fd, os.fsencode(path), FOLDER_MASK))
        if wd < 0:
            raise _error("inotify_add_watch", path)
        return wd

    def remove(self, wd: int) -> None:
        # EINVAL: the kernel already dropped it (the folder was deleted); nothing to do.
        self._libc.inotify_rm_watch(self._fd, wd)

    def close(self) -> None:
        """Stop reading and release the descriptor (and with it every watch). Safe from any thread."""
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._wake_w, b"x")
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if thread is None or not thread.is_alive():
            self._release()

    def _release(self) -> None:
        """Close the descriptors, once: a number closed twice may by then belong to another file."""
        with self._release_lock:
            if self._released:
                return
            self._released = True
        for fd in (self._fd, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_loop(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while not self._closed.is_set():
                ready = {fd for fd, _ in poller.poll()}
                if self._closed.is_set() or self._fd not in ready:
                    continue
                try:
                    data = os.read(self._fd, _READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    log.warning("reading inotify events failed: %s", exc)
                    return
                for event in _parse(data):
                    if self._closed.is_set():
                        return
                    try:
                        self._on_event(event)
                    except Exception:
                        log.exception("handling an inotify event failed")
        finally:
            if self._closed.is_set():
                # close() may have given up waiting for this thread (or been called from it).
                self._release()


def _parse(data: bytes) -> list[RawEvent]:
    events = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        name = data[start : start + length].rstrip(b"\0")
        events.append(RawEvent(wd, mask, cookie, os.fsdecode(name)))
        offset = start + length
    return events
