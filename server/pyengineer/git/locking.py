"""One lock per repository for every action that changes git state (branch creation, the commit rescue).

The language server runs actions on a worker pool and the MCP server can be asked twice at once: two branch
creations interleaved would each check "the name is free" before either creates it, and each would report the
other's branch as `previous`. The lock is keyed by the repository's common git dir, so linked worktrees of one
repository share it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


@contextmanager
def repository_lock(common_dir: Path) -> Iterator[None]:
    key = os.path.realpath(common_dir)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        yield
