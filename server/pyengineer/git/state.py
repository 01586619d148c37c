"""GitState: what branch the user is on and whether working there is safe.

Reads go through GitPython (imported lazily: it is not needed to start the server). Every function here
returns data or a GitState that says "not a repository"; none raises for a folder that is not a repo.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from pyengineer.git.head import NO_PROGRAMS, find_git_dir, matching_protection, read_head

if TYPE_CHECKING:
    from git import Repo

log = logging.getLogger(__name__)

# `git status` is given this long; then it is asked again without untracked files (see _status).
STATUS_TIMEOUT = 30.0

__all__ = ["NO_PROGRAMS", "GitState", "Tracking", "matching_protection", "read_git_state", "read_head"]


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
    upstream: str | None = None  # the current branch's upstream ("origin/main"), None when it has none
    ahead: int = 0  # commits on the branch that its upstream lacks
    behind: int = 0  # commits on the upstream that the branch lacks


OPERATION_MARKERS = (
    ("MERGE_HEAD", "merge"),
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


def open_repo(path: Path) -> Repo | None:
    """The repository containing `path`, or None."""
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


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


class Tracking(BaseModel):
    """A local branch's upstream and how far apart they are, as `git for-each-ref` reports it."""

    model_config = ConfigDict(frozen=True)

    upstream: str | None = None  # short name: "origin/main"
    upstream_ref: str | None = None  # full ref: "refs/remotes/origin/main"
    ahead: int = 0
    behind: int = 0
    gone: bool = False  # the upstream is configured but its ref no longer exists


_TRACK = re.compile(r"(ahead|behind) (\d+)")


def _tracking(upstream: str, track: str) -> Tracking:
    if not upstream:
        return Tracking()
    counts = {kind: int(n) for kind, n in _TRACK.findall(track)}
    return Tracking(
        upstream=upstream.removeprefix("refs/remotes/").removeprefix("refs/heads/"),
        upstream_ref=upstream,
        ahead=counts.get("ahead", 0),
        behind=counts.get("behind", 0),
        gone="gone" in track,
    )


def branches_and_tracking(repo: Repo) -> tuple[tuple[str, ...], dict[str, Tracking]]:
    """Every local and remote branch name, and each local branch's upstream: one `for-each-ref`."""
    out = repo.git.for_each_ref(
        "--format=%(refname)%00%(upstream)%00%(upstream:track,nobracket)", "refs/heads", "refs/remotes"
    )
    names = []
    tracking: dict[str, Tracking] = {}
    for line in out.splitlines():
        ref, _, rest = line.partition("\0")
        upstream, _, track = rest.partition("\0")
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/") :]
            names.append(name)
            tracking[name] = _tracking(upstream, track)
        elif ref.startswith("refs/remotes/") and not ref.endswith("/HEAD"):
            names.append(ref[len("refs/remotes/") :])
    return tuple(names), tracking


def branch_names(repo: Repo) -> tuple[str, ...]:
    return branches_and_tracking(repo)[0]


def read_git_state(path: Path, protected_branches: Iterable[str] = ("main", "master", "develop")) -> GitState:
    """The git state of the repository containing `path` (a GitState with is_repo=False if none)."""
    if find_git_dir(path) is None:
        # No `.git` here or above: not a repository (or a bare one, which is reported as none either), said
        # without importing GitPython, some 60 ms of a `pyengineer context` run.
        return GitState()
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
        names, tracking = branches_and_tracking(repo)
        track = tracking.get(branch or "", Tracking())
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
            branches=names,
            upstream=track.upstream,
            ahead=track.ahead,
            behind=track.behind,
        )
    except (git.GitCommandError, ValueError, OSError):
        # A repository in a state git itself cannot read (corrupt HEAD, vanished mid-read): report what is
        # certain rather than guessing.
        return GitState(is_repo=True, toplevel=str(repo.working_tree_dir))
    finally:
        repo.close()
