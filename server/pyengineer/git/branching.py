"""Create a feature branch without losing a byte: refuse rather than risk anything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pyengineer.errors import GitSafetyError, NotAGitRepositoryError
from pyengineer.git.locking import repository_lock
from pyengineer.git.naming import ref_name_problem
from pyengineer.git.state import branch_names, open_repo, operation_in_progress

if TYPE_CHECKING:
    from git import Repo

# A ref is a file under .git/refs/heads (plus git's ".lock" while it is written): each component must fit
# in a file name and the whole path in PATH_MAX, or git fails halfway, leaving empty folders under refs/.
NAME_MAX_BYTES = 255 - len(".lock")
PATH_MAX_BYTES = 4095


def _too_long_for_disk(common_dir: Path, name: str) -> str | None:
    for component in name.split("/"):
        if len(os.fsencode(component)) > NAME_MAX_BYTES:
            return (
                f"the part {component[:20]!r}... is longer than a file name may be ({NAME_MAX_BYTES} bytes)"
            )
    ref_path = os.fsencode(common_dir / "refs" / "heads" / name) + b".lock"
    if len(ref_path) > PATH_MAX_BYTES:
        return f"the name is too long for the file system ({len(ref_path)} bytes of path)"
    return None


def create_branch(path: Path, name: str, base: str | None = None) -> str:
    """Check out a new branch `name` at `base` (default HEAD), carrying all uncommitted and untracked work.

    Returns the previous branch name (or short commit when detached). Raises GitSafetyError with the reason,
    having changed nothing, when it cannot be done safely. Holds the repository's lock (git/locking.py)
    from the first check to the switch, so concurrent calls run one after the other and each reports the
    branch it really left.
    """
    problem = ref_name_problem(name)
    if problem is not None:
        raise GitSafetyError(f"'{name}' is not a valid branch name: {problem}.")
    repo = open_repo(path)
    if repo is None:
        raise NotAGitRepositoryError(f"{path} is not inside a git repository.")
    try:
        with repository_lock(Path(repo.common_dir)):
            return _create_locked(repo, name, base)
    finally:
        repo.close()


def _create_locked(repo: Repo, name: str, base: str | None) -> str:
    import git

    git_dir = Path(repo.git_dir)
    too_long = _too_long_for_disk(Path(repo.common_dir), name)
    if too_long is not None:
        raise GitSafetyError(f"'{name[:60]}...' cannot be a branch name: {too_long}.")
    operation = operation_in_progress(git_dir)
    if operation is not None:
        raise GitSafetyError(
            f"A {operation} is in progress; finish or abort it before creating a branch "
            f"(git {operation} --continue or --abort)."
        )
    if (git_dir / "index.lock").exists():
        raise GitSafetyError(
            f"{git_dir / 'index.lock'} exists: another git process is running (or crashed). "
            "Wait for it to finish, or remove the lock file if no git process is running."
        )
    existing = set(branch_names(repo))
    if name in existing:
        raise GitSafetyError(f"A branch named '{name}' already exists; pick another name.")
    for other in existing:
        if other.startswith(name + "/"):
            raise GitSafetyError(f"'{name}' clashes with the existing branch '{other}'; pick another name.")
        if name.startswith(other + "/"):
            raise GitSafetyError(f"'{name}' clashes with the existing branch '{other}'; pick another name.")
    unborn = not repo.head.is_valid()
    previous = (
        repo.head.commit.hexsha[:7]
        if repo.head.is_detached
        else repo.head.reference.path.removeprefix("refs/heads/")
    )
    if unborn:
        if base is not None:
            raise GitSafetyError("The repository has no commits yet, so there is no base to branch from.")
        # No commit to point at: renaming the unborn branch is the only branching there is, and it
        # touches neither the index nor the working tree.
        repo.git.symbolic_ref("HEAD", f"refs/heads/{name}")
        return previous
    args = ["-c", name] + ([base] if base else [])
    try:
        # `git switch -c` keeps local changes and refuses (changing nothing) if they would be overwritten.
        repo.git.switch(*args)
    except git.GitCommandError as exc:
        detail = (exc.stderr or str(exc)).strip().removeprefix("stderr:").strip(" '\n")
        raise GitSafetyError(f"git refused to create '{name}': {detail}") from None
    return previous
