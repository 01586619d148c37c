"""Move commits made on a protected branch onto a feature branch, keeping the working tree and index as they are.

The most asked rescue in git tools' trackers: "I committed on main by mistake". The fix is three ref updates and
no checkout: create the feature branch at HEAD, point HEAD at it (the same commit, so the index and every file on
disk stay byte for byte what they were), then move the protected branch back to its upstream. Git's own reflog
keeps the old tip of the protected branch. Every check comes first; a refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pyengineer.errors import GitSafetyError, NotAGitRepositoryError
from pyengineer.git.naming import ref_name_problem, suggest_branch_names
from pyengineer.git.state import (
    Tracking,
    branches_and_tracking,
    matching_protection,
    open_repo,
    operation_in_progress,
)


class MovedCommits(BaseModel):
    """What the rescue did: the protected branch now points at its upstream, the commits are on `branch`."""

    model_config = ConfigDict(frozen=True)

    branch: str
    protected_branch: str
    upstream: str
    commits: tuple[str, ...]  # short ids, newest first
    old_tip: str
    new_tip: str


def _plan(path: Path, protected_branches: Iterable[str]) -> tuple[str, Tracking, list[str]]:
    """(protected branch, its tracking, the commits to move, newest first) or GitSafetyError."""
    repo = open_repo(path)
    if repo is None:
        raise NotAGitRepositoryError(f"{path} is not inside a git repository.")
    try:
        git_dir = Path(repo.git_dir)
        if repo.head.is_detached:
            raise GitSafetyError("HEAD is detached: there is no branch to move commits off.")
        if not repo.head.is_valid():
            raise GitSafetyError("The repository has no commits yet: there is nothing to move.")
        branch = repo.head.reference.path.removeprefix("refs/heads/")
        if matching_protection(branch, protected_branches) is None:
            raise GitSafetyError(
                f"'{branch}' is not a protected branch: its commits can stay where they are."
            )
        operation = operation_in_progress(git_dir)
        if operation is not None:
            raise GitSafetyError(
                f"A {operation} is in progress; finish or abort it first (git {operation} --continue or --abort)."
            )
        if (git_dir / "index.lock").exists():
            raise GitSafetyError(
                f"{git_dir / 'index.lock'} exists: another git process is running (or crashed). "
                "Wait for it to finish, or remove the lock file if no git process is running."
            )
        _, tracking = branches_and_tracking(repo)
        track = tracking.get(branch, Tracking())
        if track.upstream is None:
            raise GitSafetyError(
                f"'{branch}' has no upstream, so there is no way to tell which commits are yours alone. "
                f"Set one (git branch --set-upstream-to origin/{branch}) or create the branch by hand."
            )
        if track.gone:
            raise GitSafetyError(
                f"The upstream of '{branch}' ({track.upstream}) no longer exists; fetch first."
            )
        if track.ahead == 0:
            raise GitSafetyError(
                f"'{branch}' has no commits that {track.upstream} lacks: they are already pushed, nothing to move."
            )
        commits = repo.git.rev_list("--abbrev-commit", f"{track.upstream_ref}..HEAD").split()
        return branch, track, commits
    finally:
        repo.close()


def default_name(path: Path, protected_branches: Iterable[str]) -> str:
    """The suggested feature branch for the commits on the protected branch, from the files they change."""
    _, track, _ = _plan(path, protected_branches)
    repo = open_repo(path)
    assert repo is not None  # _plan succeeded on the same path
    try:
        changed = repo.git.diff("--name-only", f"{track.upstream_ref}...HEAD").splitlines()
        existing, _ = branches_and_tracking(repo)
    finally:
        repo.close()
    python = [p for p in changed if p.endswith(".py")] or changed
    return suggest_branch_names(python[0] if python else None, (), existing)[0]


def move_commits_off_protected_branch(
    path: Path, name: str | None = None, protected_branches: Iterable[str] = ("main", "master", "develop")
) -> MovedCommits:
    """Put the protected branch's unpushed commits on a new branch `name` and check that branch out.

    Refuses with GitSafetyError, changing nothing, when there is no upstream, nothing unpushed, a git operation
    in progress, or the name is invalid or taken.
    """
    protected_branches = tuple(protected_branches)
    branch, track, commits = _plan(path, protected_branches)
    if name is None:
        name = default_name(path, protected_branches)
    problem = ref_name_problem(name)
    if problem is not None:
        raise GitSafetyError(f"'{name}' is not a valid branch name: {problem}.")
    from pyengineer.git.locking import repository_lock

    repo = open_repo(path)
    assert repo is not None
    try:
        with repository_lock(Path(repo.common_dir)):
            existing, _ = branches_and_tracking(repo)
            for other in existing:
                if other == name or other.startswith(name + "/") or name.startswith(other + "/"):
                    raise GitSafetyError(f"A branch named '{other}' already exists; pick another name.")
            old_tip = repo.git.rev_parse("HEAD")
            upstream_tip = repo.git.rev_parse(f"{track.upstream_ref}^{{commit}}")
            message = f"pyengineer: move {len(commits)} commit(s) off {branch} to {name}"
            # 1. The new branch at HEAD; `update-ref` with an all-zero old value fails if it appeared meanwhile.
            repo.git.update_ref("--create-reflog", "-m", message, f"refs/heads/{name}", old_tip, "0" * 40)
            # 2. HEAD onto it: the same commit, so neither the index nor the working tree is touched.
            repo.git.symbolic_ref("-m", message, "HEAD", f"refs/heads/{name}")
            # 3. The protected branch back to its upstream, only if it still points where we read it.
            repo.git.update_ref(
                "--create-reflog", "-m", message, f"refs/heads/{branch}", upstream_tip, old_tip
            )
            return MovedCommits(
                branch=name,
                protected_branch=branch,
                upstream=track.upstream or "",
                commits=tuple(commits),
                old_tip=old_tip,
                new_tip=upstream_tip,
            )
    finally:
        repo.close()
