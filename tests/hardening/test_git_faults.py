"""create_branch under git faults not covered in tests/git/test_branching.py.

Already covered there (and listed in docs/reliability.md): an index.lock file, merge/rebase/cherry-pick in
progress, detached HEAD, unborn repo, `feature` vs `feature/x`, a plain linked worktree, invalid names.
Here: a lock held by a live git process, submodules, linked worktrees with every kind of uncommitted work,
a `.git` file pointing elsewhere (and at nothing), a read-only repository, unicode and very long names.
Every operation, success or refusal, must leave the working tree, the index and every untracked (and
ignored) file byte-identical.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyengineer.errors import GitSafetyError, NotAGitRepositoryError
from pyengineer.git.branching import create_branch
from pyengineer.git.state import read_git_state

from tests.git.test_branching import work_in_progress
from tests.repos import GitRepo, RepoFactory, run_git

pytestmark = pytest.mark.timeout(60)


def unchanged_except_head(before: dict[str, object], after: dict[str, object]) -> None:
    """Everything but HEAD and the refs is byte-identical."""
    for key in ("index", "cached", "status", "files"):
        assert after[key] == before[key], key


def refused(repo: GitRepo, name: str, match: str, path: Path | None = None) -> None:
    before = repo.state()
    with pytest.raises(GitSafetyError, match=match):
        create_branch(path or repo.root, name)
    assert repo.state() == before


def test_refuses_while_a_live_git_process_holds_the_index_lock(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    # `git commit -a` takes index.lock and keeps it while the editor runs: a real second process.
    env = {**os.environ, "GIT_EDITOR": "sleep 20;:"}  # the editor gets the file name as "$1"
    holder = subprocess.Popen(
        ["git", "commit", "-a", "-q"],
        cwd=repo.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not (repo.root / ".git" / "index.lock").exists():
            assert time.monotonic() < deadline, "git commit never took the lock"
            time.sleep(0.05)
        files = repo.snapshot()
        with pytest.raises(GitSafetyError, match="index.lock"):
            create_branch(repo.root, "feature/while-locked")
        assert repo.snapshot() == files
        assert repo.branch() == "main"
        assert read_git_state(repo.root).index_locked
    finally:
        holder.kill()
        holder.wait(10)


@pytest.fixture
def with_submodule(git_repo: RepoFactory) -> tuple[GitRepo, GitRepo]:
    library = git_repo("library", files={"lib/__init__.py": "VERSION = 1\n"}, commit=True)
    main = git_repo("main-project", files={"app.py": "import lib\n"}, commit=True)
    main.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library.root), "vendor/lib")
    main.commit("add the submodule")
    return main, GitRepo(main.root / "vendor" / "lib")


def test_create_branch_in_a_superproject_leaves_its_submodule_alone(
    with_submodule: tuple[GitRepo, GitRepo],
) -> None:
    main, sub = with_submodule
    work_in_progress(main)
    sub.write("lib/__init__.py", "VERSION = 2  # unstaged, in the submodule\n")
    sub.write("lib/untracked.py", "keep me\n")
    before_main, before_sub = main.state(), sub.state()
    assert create_branch(main.root, "feature/with-submodule") == "main"
    assert main.branch() == "feature/with-submodule"
    unchanged_except_head(before_main, main.state())
    assert sub.state() == before_sub


def test_create_branch_inside_a_submodule(with_submodule: tuple[GitRepo, GitRepo]) -> None:
    main, sub = with_submodule
    sub.write("lib/new.py", "x = 1\n")
    before_main, before_sub = main.state(), sub.state()
    create_branch(sub.root / "lib", "feature/in-submodule")
    assert sub.branch() == "feature/in-submodule"  # the submodule's own repository, not the superproject
    unchanged_except_head(before_sub, sub.state())
    assert main.state() == before_main


def test_create_branch_in_a_linked_worktree_with_every_kind_of_change(
    git_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = git_repo(commit=True)
    linked = GitRepo(tmp_path / "linked")
    repo.git("worktree", "add", "-q", "-b", "develop", str(linked.root))
    work_in_progress(linked)
    before, before_main = linked.state(), repo.state()
    assert create_branch(linked.root / "app", "feature/linked") == "develop"
    assert linked.branch() == "feature/linked"
    unchanged_except_head(before, linked.state())
    after_main = repo.state()
    assert after_main["files"] == before_main["files"] and after_main["index"] == before_main["index"]
    assert repo.branch() == "main"
    # The branch checked out in the main worktree cannot be taken here, and nothing moves.
    refused(linked, "main", "already exists")


def test_create_branch_through_a_dot_git_file(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main", f"--separate-git-dir={tmp_path / 'elsewhere.git'}")
    repo = GitRepo(work)
    assert (work / ".git").is_file()
    work_in_progress(repo)
    before = repo.state()
    assert create_branch(work, "feature/dot-git-file") == "main"
    assert repo.branch() == "feature/dot-git-file"
    unchanged_except_head(before, repo.state())


def test_a_dot_git_file_pointing_at_nothing(tmp_path: Path) -> None:
    work = tmp_path / "broken"
    work.mkdir()
    (work / ".git").write_text(f"gitdir: {tmp_path / 'missing.git'}\n")
    (work / "app.py").write_text("x = 1\n")
    with pytest.raises((GitSafetyError, NotAGitRepositoryError)):
        create_branch(work, "feature/x")
    assert (work / "app.py").read_text() == "x = 1\n"
    assert (work / ".git").read_text() == f"gitdir: {tmp_path / 'missing.git'}\n"
    state = read_git_state(work)  # reading the state never raises
    assert state.branch is None


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` read-only for real: a read-only bind mount as root (chmod means nothing to root)."""
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
        return
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(
            f"running as root without mount rights, cannot make a folder read-only: {mounted.stderr!r}"
        )
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_repository_is_refused_and_still_readable(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    before = repo.state()
    with read_only(repo.root):
        with pytest.raises(OSError):
            (repo.root / "probe").write_text("x")
        with pytest.raises(GitSafetyError, match="git refused"):
            create_branch(repo.root, "feature/read-only")
        state = read_git_state(repo.root)
        assert state.branch == "main" and state.dirty > 0
        assert repo.state() == before
    assert repo.state() == before


@pytest.mark.parametrize(
    "name", ["feature/ünïcödé", "fix/名前-😀", "feature/" + "a" * 200, "feature/" + "/".join(["part"] * 40)]
)
def test_unicode_and_long_names_carry_everything(git_repo: RepoFactory, name: str) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    before = repo.state()
    create_branch(repo.root, name)
    assert repo.branch() == name
    unchanged_except_head(before, repo.state())


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("feature/" + "a" * 300, id="component-longer-than-a-file-name"),
        pytest.param("feature/" + "/".join(["b" * 250] * 20), id="path-longer-than-PATH_MAX"),
    ],
)
def test_names_too_long_for_the_filesystem_are_refused(git_repo: RepoFactory, name: str) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    refused(repo, name, "cannot be a branch name")
    assert repo.branch() == "main"
