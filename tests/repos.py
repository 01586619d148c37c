"""Helpers for building real git repositories and project trees in tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real git in `cwd`; raise with git's stderr when `check` and it fails."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def write(root: Path, relative: str, text: str | bytes = "") -> Path:
    """Create `root/relative` (and its folders) holding `text`."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


class GitRepo:
    """A real repository on disk with small helpers for building test scenarios."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str, check: bool = True) -> str:
        return run_git(self.root, *args, check=check).stdout

    def write(self, relative: str, text: str | bytes = "") -> Path:
        return write(self.root, relative, text)

    def commit(self, message: str = "commit", *paths: str) -> str:
        """Stage `paths` (default: everything) and commit; returns the new commit id."""
        self.git("add", "--", *(paths or (".",)))
        self.git("commit", "-q", "--no-verify", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def branch(self) -> str:
        return self.git("symbolic-ref", "--short", "-q", "HEAD", check=False).strip()

    def branches(self) -> list[str]:
        return self.git("for-each-ref", "--format=%(refname)").split()

    def snapshot(self) -> dict[str, str]:
        """Digest of every file in the work tree (outside .git), symlinks by their target."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root).as_posix()
            if relative == ".git" or relative.startswith(".git/"):
                continue
            if path.is_symlink():
                out[relative] = "link:" + os.readlink(path)
            elif path.is_file():
                out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def state(self) -> dict[str, object]:
        """Everything a git operation could change: HEAD, refs, index, staged diff, files on disk."""
        return {
            "head": self.git("symbolic-ref", "-q", "HEAD", check=False).strip()
            or self.git("rev-parse", "HEAD", check=False).strip(),
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "index": self.git("ls-files", "-s"),
            "cached": self.git("diff", "--cached", "--binary"),
            "status": self.git("status", "--porcelain=v1", "--untracked-files=all"),
            "files": self.snapshot(),
        }


RepoFactory = Callable[..., "GitRepo"]
