"""Which branch a path is on, read from the files under `.git` with no git process and no pydantic.

For the hot paths: a branch switch seen by the watcher, and `pyengineer guard`, which a coding agent runs before
every tool call and so must answer in milliseconds. The full state (status, branches, upstream) still comes from
`git.state.read_git_state`.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from pathlib import Path

DEFAULT_PROTECTED_BRANCHES = ("main", "master", "develop")

# Config that would make a read-only git command run a program named in the repository's own config.
NO_PROGRAMS = ("-c", "core.fsmonitor=false")

# HEAD and a `.git` file are a line each; a bigger one is not git's.
_MAX_HEAD_BYTES = 4096
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def _small_text(path: Path) -> str | None:
    """The text of a small regular file, or None for anything else.

    The policy of `workspace.safe_io.read_file`, which this layer may not import: a cloned repository's HEAD
    or `.git` may be a FIFO (an open or read would block the guard, or the server's event loop, for ever), a
    link to a device, or huge. Checked before the open (a device is never opened) and again on the
    descriptor, opened non-blocking, read at most `_MAX_HEAD_BYTES`.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, _READ_FLAGS)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = os.read(fd, _MAX_HEAD_BYTES + 1)
        finally:
            os.close(fd)
    except OSError:
        return None
    if len(data) > _MAX_HEAD_BYTES:
        return None
    return data.decode("utf-8", errors="replace")


def find_git_dir(path: Path) -> tuple[Path, Path] | None:
    """(work tree root, git dir) of the repository containing `path` (which need not exist yet), or None.

    Follows a `.git` file (`gitdir: ...`, as linked worktrees and submodules have).
    """
    current = path if path.is_dir() else path.parent
    while not current.exists() and current != current.parent:
        current = current.parent
    for folder in (current, *current.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return folder, dot_git
        if dot_git.is_file():
            text = (_small_text(dot_git) or "").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return folder, target if target.is_absolute() else (folder / target)
    return None


def read_head(git_dir: Path) -> tuple[str | None, bool]:
    """(branch, detached) read straight from HEAD."""
    text = _small_text(git_dir / "HEAD")
    if text is None:
        return None, False
    text = text.strip()
    if text.startswith("ref: refs/heads/"):
        return text[len("ref: refs/heads/") :], False
    return None, not text.startswith("ref:")


def matching_protection(branch: str | None, patterns: Iterable[str]) -> str | None:
    """The first protected-branch pattern (exact name or glob such as `release/*`) that `branch` matches."""
    if branch is None:
        return None
    for pattern in patterns:
        if fnmatch.fnmatchcase(branch, pattern):
            return pattern
    return None
