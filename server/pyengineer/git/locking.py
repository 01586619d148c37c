"""One lock per repository for the actions that change it (create a branch, switch, commit...).

Git serialises its own writes with lock files, and refuses rather than waits: two `git switch -c` at once
either fail on `index.lock` or both succeed, each believing it left the branch it started on. So every
git-changing action in this process holds the repository's lock from its checks to its last write, and
what it reports (the branch it left) is read inside it. The lock is keyed by the repository's common git
directory, resolved, so every worktree and every spelling of a path of one repository share it; the
language server, the CLI and any other front end get it by calling the git layer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _lock_for(common_dir: Path) -> threading.Lock:
    key = os.path.realpath(common_dir)
    with _guard:
        lock = _locks.get(key)
        if lock is None:
            # One small Lock per repository the process ever changed: not worth evicting.
            lock = _locks[key] = threading.Lock()
        return lock


@contextmanager
def repository_lock(common_dir: Path) -> Iterator[None]:
    """Hold the lock of the repository whose common git directory is `common_dir` (blocking)."""
    with _lock_for(common_dir):
        yield
