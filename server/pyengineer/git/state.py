"""GitState: what branch the user is on and whether working there is safe.

Reads go through GitPython (imported lazily: it is not needed to start the server). Every function here
returns data or a GitState that says "not a repository"; none raises for a folder that is not a repo.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from git import Repo

log = logging.getLogger(__name__)

# `git status` is given this long; then it is asked again without untracked files (see _status).
STATUS_TIMEOUT = 30.0


class GitState(BaseModel):
    model_config = ConfigDict(frozen=True)

    is_repo: bool = False
    toplevel: str | None = None
    git_dir: str | None = None
    branch: str | None = None  # None when detached or not a repo
    detached: bool = False
    head: str | None = None  # short commit id, None when unborn
    unborn: bool = False
    protected: bool = False
    protected_pattern: str | None = None
    dirty: int = 0  # tracked files with staged or unstaged changes
    untracked: int = 0
    changed_files: tuple[str, ...] = ()  # dirty + untracked, relative to toplevel, posix
    operation: str | None = None  # "merge", "rebase", "cherry-pick", "revert", "bisect" in progress
    index_locked: bool = False
    linked_worktree: bool = False
    branches: tuple[str, ...] = ()  # local branch names and remote ones as "origin/x"


# Config that would make a read-only git command run a program named in the repository's own config.
NO_PROGRAMS = ("-c", "core.fsmonitor=false")

OPERATION_MARKERS = (
    ("MERGE_HEAD", "merge"),
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


def matching_protection(branch: str | None, patterns: Iterable[str]) -> str | None:
    """The first protected-branch pattern (exact name or glob such as `release/*`) that `branch` matches."""
    if branch is None:
        return None
    for pattern in patterns:
        if fnmatch.fnmatchcase(branch, pattern):
            return pattern
    return None


def open_repo(path: Path) -> Repo | None:
    """The repository containing `path`, or None."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def read_head(git_dir: Path) -> tuple[str | None, bool]:
    """(branch, detached) read straight from HEAD, with no git process: for the hot path of a branch switch.

    The full state (status, branches) still comes from read_git_state; this only says which branch it is.
    """
    try:
        text = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None, False
    if text.startswith("ref: refs/heads/"):
        return text[len("ref: refs/heads/") :], False
    return None, not text.startswith("ref:")


def operation_in_progress(git_dir: Path) -> str | None:
    for name, operation in OPERATION_MARKERS:
        if (git_dir / name).exists():
            return operation
    return None


def _status(repo: Repo) -> tuple[int, int, tuple[str, ...]]:
    """Dirty count, untracked count and the changed paths, from one `git status` call."""
    # core.fsmonitor names a program that `git status` runs: a workspace's .git/config must not make merely
    # opening the folder execute something. --no-optional-locks: status otherwise takes .git/index.lock to
    # refresh the index, and the user's own checkout or commit in a terminal fails while we hold it.
    from git import GitCommandError

    command = [
        "git",
        "--no-optional-locks",
        *NO_PROGRAMS,
        "status",
        "--porcelain=v1",
        "-z",
        "--ignore-submodules=dirty",
    ]
    try:
        out = repo.git.execute([*command, "--untracked-files=all"], kill_after_timeout=STATUS_TIMEOUT)
    except GitCommandError as exc:
        if "did not complete" not in str(exc.stderr):
            raise
        # git opens the .gitignore of every folder it lists, and blocks for ever on one that is a FIFO (or on
        # a hung network file system): without untracked files it reads none of them.
        log.warning(
            "git status did not finish within %.0f s in %s (is a .gitignore a FIFO?); untracked files are "
            "not counted",
            STATUS_TIMEOUT,
            repo.working_tree_dir,
        )
        out = repo.git.execute([*command, "--untracked-files=no"], kill_after_timeout=STATUS_TIMEOUT)
    dirty = untracked = 0
    changed: list[str] = []
    fields = out.split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == "??":
            untracked += 1
        else:
            dirty += 1
        if code[0] in "RC":
            i += 1  # the rename source follows as its own field
        changed.append(path)
    return dirty, untracked, tuple(changed)


def branch_names(repo: Repo) -> tuple[str, ...]:
    out = repo.git.for_each_ref("--format=%(refname)", "refs/heads", "refs/remotes")
    names = []
    for ref in out.splitlines():
        if ref.startswith("refs/heads/"):
            names.append(ref[len("refs/heads/") :])
        elif ref.startswith("refs/remotes/") and not ref.endswith("/HEAD"):
            names.append(ref[len("refs/remotes/") :])
    return tuple(names)


def read_git_state(path: Path, protected_branches: Iterable[str] = ("main", "master", "develop")) -> GitState:
    """The git state of the repository containing `path` (a GitState with is_repo=False if none)."""
    import git

    repo = open_repo(path)
    if repo is None or repo.bare:
        return GitState()
    try:
        git_dir = Path(repo.git_dir)
        common_dir = Path(repo.common_dir)
        head_ref = repo.head
        detached = head_ref.is_detached
        unborn = not head_ref.is_valid()
        branch: str | None = None
        if not detached:
            # For an unborn branch HEAD still names it (refs/heads/main) though no commit exists.
            branch = head_ref.reference.path.removeprefix("refs/heads/")
        head = repo.git.rev_parse("--short", "HEAD") if not unborn else None
        dirty, untracked, changed = _status(repo)
        pattern = matching_protection(branch, protected_branches)
        return GitState(
            is_repo=True,
            toplevel=str(repo.working_tree_dir),
            git_dir=str(git_dir),
            branch=branch,
            detached=detached,
            head=head,
            unborn=unborn,
            protected=pattern is not None,
            protected_pattern=pattern,
            dirty=dirty,
            untracked=untracked,
            changed_files=changed,
            operation=operation_in_progress(git_dir),
            index_locked=(git_dir / "index.lock").exists(),
            linked_worktree=os.path.realpath(git_dir) != os.path.realpath(common_dir),
            branches=branch_names(repo),
        )
    except (git.GitCommandError, ValueError, OSError):
        # A repository in a state git itself cannot read (corrupt HEAD, vanished mid-read): report what is
        # certain rather than guessing.
        return GitState(is_repo=True, toplevel=str(repo.working_tree_dir))
    finally:
        repo.close()
