"""Moving commits made on a protected branch onto a feature branch: nothing in the work tree or index changes,
the commits stay reachable, and every refusal leaves the repository byte-identical."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyengineer.errors import GitSafetyError
from pyengineer.git.rescue import move_commits_off_protected_branch
from pyengineer.git.state import read_git_state

from tests.git.test_branching import work_in_progress
from tests.repos import GitRepo, RepoFactory

PYENGINEER = str(Path(sys.executable).with_name("pyengineer"))


def with_upstream(git_repo: RepoFactory, tmp_path: Path) -> GitRepo:
    """A clone of a remote whose main is one commit old, so local commits are unpushed."""
    remote = git_repo("remote", files={"README.md": "hi\n"}, commit=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote.root), str(clone)], check=True)
    return GitRepo(clone)


def test_commits_move_to_the_new_branch_and_main_goes_back_to_its_upstream(
    git_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = with_upstream(git_repo, tmp_path)
    upstream = repo.git("rev-parse", "origin/main").strip()
    work_in_progress(repo)  # commits "base" and leaves every kind of uncommitted change
    first = repo.head()
    repo.git("add", "app/models.py")
    repo.git("commit", "-q", "-m", "second")
    repo.write("app/models.py", "class User:\n    name: str\n    age: int\n")  # unstaged again
    tip = repo.head()
    state = read_git_state(repo.root)
    assert (state.branch, state.upstream, state.ahead, state.behind) == ("main", "origin/main", 2, 0)
    before = repo.state()

    moved = move_commits_off_protected_branch(repo.root, "feature/rescued")

    assert moved.branch == "feature/rescued" and moved.protected_branch == "main"
    assert moved.old_tip == tip and moved.new_tip == upstream and len(moved.commits) == 2
    after = repo.state()
    # The index, the staged diff, the status and every file are exactly as they were.
    for key in ("index", "cached", "status", "files"):
        assert after[key] == before[key], key
    assert repo.branch() == "feature/rescued"
    assert repo.head() == tip
    assert repo.git("rev-parse", "main").strip() == upstream
    log = repo.git("rev-list", "feature/rescued").split()
    assert tip in log and first in log
    reflog = repo.git("reflog", "show", "--format=%H", "refs/heads/main").split()
    assert tip in reflog  # the old tip of main is in its reflog
    assert read_git_state(repo.root).ahead == 0


def test_the_default_name_comes_from_the_changed_files(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = with_upstream(git_repo, tmp_path)
    repo.write("app/api/users.py", "def list_users():\n    return []\n")
    repo.commit("users endpoint")
    moved = move_commits_off_protected_branch(repo.root)
    assert moved.branch.startswith("feature/") and "users" in moved.branch
    assert repo.branch() == moved.branch


def test_refusals_change_nothing(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = with_upstream(git_repo, tmp_path)

    def refused(name: str | None, match: str) -> None:
        before = repo.state()
        with pytest.raises(GitSafetyError, match=match):
            move_commits_off_protected_branch(repo.root, name)
        assert repo.state() == before

    refused("feature/x", "already pushed")  # no local commits
    repo.write("a.py", "x = 1\n")
    repo.commit("local")
    repo.git("branch", "feature/taken")
    refused("feature/taken", "already exists")
    refused("feature", "already exists")  # a folder of an existing ref
    refused("bad..name", "not a valid branch name")
    (repo.root / ".git" / "MERGE_HEAD").write_text(repo.head() + "\n")
    refused("feature/x", "merge is in progress")
    (repo.root / ".git" / "MERGE_HEAD").unlink()
    repo.git("branch", "--unset-upstream")
    refused("feature/x", "no upstream")
    repo.git("switch", "-q", "-c", "feature/other")
    refused("feature/x", "not a protected branch")


def test_no_upstream_in_a_fresh_repository(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    before = repo.state()
    with pytest.raises(GitSafetyError, match="no upstream"):
        move_commits_off_protected_branch(repo.root, "feature/x")
    assert repo.state() == before


def test_the_cli(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = with_upstream(git_repo, tmp_path)
    repo.write("etl/load.py", "x = 1\n")
    repo.commit("etl")
    run = subprocess.run(
        [PYENGINEER, "branch", "--move-commits", "feature/etl"], cwd=repo.root, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "Moved 1 commit off main to feature/etl" in run.stdout
    again = subprocess.run(
        [PYENGINEER, "branch", "--move-commits"], cwd=repo.root, capture_output=True, text=True
    )
    assert again.returncode == 2
    assert "not a protected branch" in again.stderr
