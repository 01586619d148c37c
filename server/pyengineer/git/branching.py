"""Create a feature branch without losing a byte: refuse rather than risk anything."""

from __future__ import annotations

from pathlib import Path

from pyengineer.errors import GitSafetyError, NotAGitRepositoryError
from pyengineer.git.naming import ref_name_problem
from pyengineer.git.state import branch_names, open_repo, operation_in_progress


def create_branch(path: Path, name: str, base: str | None = None) -> str:
    """Check out a new branch `name` at `base` (default HEAD), carrying all uncommitted and untracked work.

    Returns the previous branch name (or short commit when detached). Raises GitSafetyError with the reason,
    having changed nothing, when it cannot be done safely.
    """
    import git

    problem = ref_name_problem(name)
    if problem is not None:
        raise GitSafetyError(f"'{name}' is not a valid branch name: {problem}.")
    repo = open_repo(path)
    if repo is None:
        raise NotAGitRepositoryError(f"{path} is not inside a git repository.")
    try:
        git_dir = Path(repo.git_dir)
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
                raise GitSafetyError(
                    f"'{name}' clashes with the existing branch '{other}'; pick another name."
                )
            if name.startswith(other + "/"):
                raise GitSafetyError(
                    f"'{name}' clashes with the existing branch '{other}'; pick another name."
                )
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
    finally:
        repo.close()
