"""The files changed relative to a commit: what `pyengineer check --changed [REF]` checks (pre-commit's mode)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pyengineer.errors import PyengineerError
from pyengineer.git.state import NO_PROGRAMS, open_repo

if TYPE_CHECKING:
    from git import Repo

# Tried in order when no REF is given: the remote's default branch, then the usual local names.
DEFAULT_BASES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")


class ChangedFilesError(PyengineerError):
    """--changed cannot tell what changed (not a repository, an unknown REF)."""


def is_commit(path: Path, ref: str) -> bool:
    """Whether `ref` names a commit in the repository containing `path`."""
    from git import GitCommandError

    repo = open_repo(path)
    if repo is None or ref.startswith("-"):
        return False
    try:
        repo.git.execute(["git", *NO_PROGRAMS, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"])
        return True
    except GitCommandError:
        return False
    finally:
        repo.close()


def changed_files(path: Path, ref: str | None = None) -> tuple[Path, frozenset[str]]:
    """(the repository's top folder, absolute paths of the Python files changed) for the repo holding `path`.

    Changed: different from REF in the work tree (committed since, staged or not), plus untracked files
    that are not ignored. Without REF, the merge base of HEAD and the default branch (origin/HEAD, else
    main or master) is the base; a repository with no commit yet has every file changed. Deleted files are
    left out: there is nothing to check.
    """
    from git import GitCommandError

    repo = open_repo(path)
    if repo is None or repo.working_tree_dir is None:
        raise ChangedFilesError(f"--changed: {path} is not inside a git repository")
    try:
        top = Path(repo.working_tree_dir)
        git = [*("git", "--no-optional-locks"), *NO_PROGRAMS]
        base = _base(repo, git, ref)
        names: list[str] = []
        if base is not None:
            # One diff of the work tree against the base: commits since it, staged and unstaged changes.
            diff = [*git, "diff", "--name-only", "-z", "--no-ext-diff", "--no-textconv", "--diff-filter=d"]
            names += repo.git.execute([*diff, base, "--"]).split("\0")
        else:
            names += repo.git.execute([*git, "ls-files", "-z", "--cached"]).split("\0")
        names += repo.git.execute([*git, "ls-files", "-z", "--others", "--exclude-standard"]).split("\0")
    except GitCommandError as exc:
        raise ChangedFilesError(f"--changed: git failed in {path}: {exc.stderr.strip() or exc}") from exc
    finally:
        repo.close()
    found = {
        os.path.normpath(top / name)
        for name in names
        if name.endswith((".py", ".pyi", ".ipynb")) and os.path.isfile(top / name)
    }
    return top, frozenset(found)


def _base(repo: Repo, git: list[str], ref: str | None) -> str | None:
    """The commit to compare with, or None when the repository has no commit yet."""
    from git import GitCommandError

    def commit(name: str) -> str | None:
        try:
            out: str = repo.git.execute([*git, "rev-parse", "--verify", "-q", f"{name}^{{commit}}"])
        except GitCommandError:
            return None
        return out.strip()

    if ref is not None:
        if ref.startswith("-") or (found := commit(ref)) is None:
            raise ChangedFilesError(
                f"--changed: {ref!r} is not a commit, branch or tag of {repo.working_tree_dir}"
            )
        return found
    head = commit("HEAD")
    if head is None:
        return None
    for name in DEFAULT_BASES:
        target = commit(name)
        if target is None:
            continue
        try:
            merge_base: str = repo.git.execute([*git, "merge-base", head, target])
        except GitCommandError:
            continue  # unrelated histories: try the next name
        return merge_base.strip()
    # No default branch to compare with: what is not committed yet is what changed.
    return head
