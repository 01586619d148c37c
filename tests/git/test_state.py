"""GitState read from real repositories in every shape a user's checkout can have."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.git.state import matching_protection, read_git_state, read_head

from tests.repos import RepoFactory, run_git


def test_branch_head_and_clean_counts(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    repo.git("switch", "-q", "-c", "feature/x")
    state = read_git_state(repo.root)
    assert state.is_repo is True
    assert state.branch == "feature/x"
    assert state.head == repo.git("rev-parse", "--short", "HEAD").strip()
    assert (state.detached, state.unborn, state.protected) == (False, False, False)
    assert (state.dirty, state.untracked, state.changed_files) == (0, 0, ())
    assert Path(state.toplevel or "").resolve() == repo.root.resolve()
    assert set(state.branches) == {"main", "feature/x"}


def test_state_from_a_subfolder(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"a/b/c.py": ""}, commit=True)
    state = read_git_state(repo.root / "a" / "b")
    assert state.branch == "main"
    assert Path(state.toplevel or "").resolve() == repo.root.resolve()


def test_detached_head_reports_the_commit(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    first = repo.head()
    repo.write("b.txt", "b")
    repo.commit("second")
    repo.git("checkout", "-q", "--detach", first)
    state = read_git_state(repo.root)
    assert state.detached is True
    assert state.branch is None
    assert state.protected is False
    assert state.head is not None and first.startswith(state.head)


def test_unborn_repository(git_repo: RepoFactory) -> None:
    repo = git_repo()
    repo.write("new.py", "print(1)\n")
    state = read_git_state(repo.root)
    assert state.is_repo is True
    assert state.unborn is True
    assert state.branch == "main"
    assert state.head is None
    assert state.protected is True
    assert state.untracked == 1
    assert state.changed_files == ("new.py",)


def test_not_a_repository(tmp_path: Path) -> None:
    state = read_git_state(tmp_path)
    assert state.is_repo is False
    assert state.branch is None
    assert state.protected is False


def test_linked_worktree(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = git_repo(commit=True)
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", "-b", "feature/wt", str(linked))
    assert (linked / ".git").is_file()
    (linked / "edit.py").write_text("x = 1\n")
    state = read_git_state(linked)
    assert state.branch == "feature/wt"
    assert state.linked_worktree is True
    assert Path(state.toplevel or "").resolve() == linked.resolve()
    assert state.untracked == 1
    main_state = read_git_state(repo.root)
    assert main_state.linked_worktree is False
    assert main_state.untracked == 0


def test_a_dot_git_file_pointing_at_a_separate_git_dir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    run_git(
        tmp_path, "init", "-q", "-b", "develop", f"--separate-git-dir={tmp_path / 'store.git'}", str(work)
    )
    assert (work / ".git").is_file()
    (work / "a.py").write_text("")
    state = read_git_state(work)
    assert state.is_repo is True
    assert state.branch == "develop"
    assert state.protected is True
    assert Path(state.git_dir or "").resolve() == (tmp_path / "store.git").resolve()
    assert state.untracked == 1


def test_dirty_and_untracked_counts(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"a.py": "a\n", "b.py": "b\n", "c.py": "c\n", "d.py": "d\n"}, commit=True)
    repo.write("a.py", "changed\n")  # unstaged
    repo.write("b.py", "staged\n")
    repo.git("add", "b.py")
    repo.git("rm", "-q", "c.py")  # staged deletion
    repo.git("mv", "d.py", "renamed.py")  # staged rename
    repo.write("new/one.py", "")
    repo.write("new/two.py", "")
    repo.write(".gitignore", "*.log\n")
    repo.write("ignored.log", "")
    state = read_git_state(repo.root)
    assert state.dirty == 4
    assert state.untracked == 3  # new/one.py, new/two.py, .gitignore (ignored.log is not counted)
    assert set(state.changed_files) == {
        "a.py",
        "b.py",
        "c.py",
        "renamed.py",
        "new/one.py",
        "new/two.py",
        ".gitignore",
    }


def test_changed_file_names_with_spaces_and_unicode(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    repo.write("with space/naïve file.py", "")
    state = read_git_state(repo.root)
    assert state.changed_files == ("with space/naïve file.py",)


@pytest.mark.parametrize(
    ("branch", "patterns", "expected"),
    [
        ("main", ("main", "master", "develop"), "main"),
        ("master", ("main", "master", "develop"), "master"),
        ("develop", ("main", "master", "develop"), "develop"),
        ("release/1.2", ("main", "release/*"), "release/*"),
        ("release", ("release/*",), None),
        ("feature/main", ("main",), None),
        ("hotfix-7", ("hotfix-?",), "hotfix-?"),
        (None, ("main",), None),
    ],
)
def test_matching_protection(branch: str | None, patterns: tuple[str, ...], expected: str | None) -> None:
    assert matching_protection(branch, patterns) == expected


def test_protected_by_a_glob_pattern(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    repo.git("switch", "-q", "-c", "release/2.0")
    state = read_git_state(repo.root, ("main", "release/*"))
    assert (state.protected, state.protected_pattern) == (True, "release/*")
    assert read_git_state(repo.root, ("main",)).protected is False


def test_remote_branches_are_listed_with_their_remote(git_repo: RepoFactory) -> None:
    upstream = git_repo(name="upstream", commit=True)
    upstream.git("branch", "feature/remote-only")
    clone = upstream.root.parent / "clone"
    run_git(upstream.root.parent, "clone", "-q", str(upstream.root), str(clone))
    state = read_git_state(clone)
    assert "main" in state.branches
    assert "origin/feature/remote-only" in state.branches
    assert "origin/HEAD" not in state.branches


def test_operation_and_index_lock_are_reported(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    (repo.root / ".git" / "index.lock").write_text("")
    assert read_git_state(repo.root).index_locked is True


def test_read_head_agrees_with_the_full_state(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    git_dir = repo.root / ".git"
    assert read_head(git_dir) == ("main", False)
    repo.git("switch", "-q", "-c", "feature/nested/name")
    assert read_head(git_dir) == ("feature/nested/name", False)
    repo.git("checkout", "-q", "--detach")
    state = read_git_state(repo.root)
    assert read_head(git_dir) == (state.branch, state.detached) == (None, True)
    assert read_head(repo.root / "missing") == (None, False)


def test_reading_the_state_never_writes_the_index(git_repo: RepoFactory) -> None:
    # A plain `git status` refreshes stale stat data in the index under .git/index.lock; while it holds the
    # lock, the user's own `git checkout` or `git commit` in a terminal fails.
    import os

    repo = git_repo(files={"a.py": "x = 1\n"}, commit=True)
    later = (repo.root / "a.py").stat().st_mtime_ns + 5_000_000_000
    os.utime(repo.root / "a.py", ns=(later, later))  # same content, stale stat data in the index
    index = repo.root / ".git" / "index"
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    state = read_git_state(repo.root)
    assert state.dirty == 0
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    run_git(repo.root, "status", "--porcelain")  # what a plain status does: it does rewrite it
    assert index.read_bytes() != before[0]


def test_outside_a_repository_gitpython_is_not_imported(tmp_path: Path) -> None:
    """No `.git` here or above: "not a repository" is known without GitPython (about 60 ms to import)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from pyengineer.git.state import read_git_state; "
        f"state = read_git_state(Path({str(tmp_path)!r})); print(state.is_repo, 'git' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "False"]
