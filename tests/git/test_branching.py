"""create_branch: carries every uncommitted byte to the new branch, or refuses having changed nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.errors import GitSafetyError, NotAGitRepositoryError
from pyengineer.git.branching import create_branch

from tests.repos import GitRepo, RepoFactory

BINARY = bytes(range(256)) * 4


def work_in_progress(repo: GitRepo) -> None:
    """Commit a base, then leave staged, unstaged, partly staged, deleted and untracked changes."""
    repo.write("app/models.py", "class User:\n    pass\n")
    repo.write("app/views.py", "def index():\n    return 'hi'\n")
    repo.write("app/gone.py", "x = 1\n")
    repo.write("data.bin", BINARY)
    repo.write("crlf.txt", b"one\r\ntwo\r\n")
    repo.commit("base")
    repo.write("app/models.py", "class User:\n    name: str\n")  # unstaged
    repo.write("app/views.py", "def index():\n    return 'staged'\n")
    repo.git("add", "app/views.py")
    repo.write("app/views.py", "def index():\n    return 'staged then edited'\n")  # staged + unstaged
    repo.git("rm", "-q", "--cached", "app/gone.py")  # staged deletion, file left on disk
    repo.write("data.bin", BINARY[::-1])
    repo.git("add", "data.bin")  # staged binary change
    repo.write("crlf.txt", b"one\r\ntwo\r\nthree\r\n")
    repo.write("new/feature.py", "import torch\n")  # untracked
    repo.write("new/empty.py", "")
    repo.write("naïve name.py", "# unicode path\n")
    repo.write("notes.txt", b"no newline at end")
    repo.write(".gitignore", "*.log\n")
    repo.write("debug.log", "ignored but precious\n")


def test_create_branch_carries_staged_unstaged_and_untracked_changes_byte_for_byte(
    git_repo: RepoFactory,
) -> None:
    repo = git_repo()
    work_in_progress(repo)
    before = repo.state()
    base_commit = repo.head()

    previous = create_branch(repo.root, "feature/api-users")

    assert previous == "main"
    after = repo.state()
    assert repo.branch() == "feature/api-users"
    assert repo.head() == base_commit
    assert after["files"] == before["files"]  # every byte of every file, ignored ones too
    assert after["index"] == before["index"]  # git ls-files -s
    assert after["cached"] == before["cached"]  # git diff --cached
    assert after["status"] == before["status"]
    assert "refs/heads/main " + base_commit in str(after["refs"])


def test_create_branch_at_a_base(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"a.py": "1\n"}, commit=True)
    first = repo.head()
    repo.write("a.py", "2\n")
    repo.commit("second")
    repo.write("untracked.py", "keep me\n")
    before = repo.snapshot()
    create_branch(repo.root, "fix/from-first", base=first)
    assert repo.branch() == "fix/from-first"
    assert repo.head() == first
    after = repo.snapshot()
    assert (repo.root / "a.py").read_text() == "1\n"  # a clean tracked file follows the base commit
    assert {k: v for k, v in after.items() if k != "a.py"} == {k: v for k, v in before.items() if k != "a.py"}
    assert (repo.root / "untracked.py").read_text() == "keep me\n"


def test_create_branch_from_a_subfolder_and_from_detached_head(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"pkg/mod.py": ""}, commit=True)
    repo.git("checkout", "-q", "--detach")
    short = repo.git("rev-parse", "--short=7", "HEAD").strip()
    assert create_branch(repo.root / "pkg", "feature/from-detached") == short
    assert repo.branch() == "feature/from-detached"


def test_create_branch_in_a_linked_worktree(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = git_repo(commit=True)
    linked = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "develop", str(linked))
    (linked / "edit.py").write_text("x = 1\n")
    assert create_branch(linked, "feature/edit") == "develop"
    assert GitRepo(linked).branch() == "feature/edit"
    assert repo.branch() == "main"
    assert (linked / "edit.py").read_text() == "x = 1\n"


def test_create_branch_on_an_unborn_repository_renames_the_unborn_branch(git_repo: RepoFactory) -> None:
    repo = git_repo()
    repo.write("first.py", "print(1)\n")
    repo.git("add", "first.py")
    repo.write("second.py", "print(2)\n")
    before = repo.state()
    assert create_branch(repo.root, "feature/first") == "main"
    after = repo.state()
    assert after["head"] == "refs/heads/feature/first"
    assert after["files"] == before["files"]
    assert after["index"] == before["index"]


# --- refusals: each leaves the repository exactly as it was ---------------------------------------------


def refuses(repo: GitRepo, name: str, *, base: str | None = None, match: str) -> None:
    before = repo.state()
    with pytest.raises(GitSafetyError, match=match):
        create_branch(repo.root, name, base=base)
    assert repo.state() == before


@pytest.mark.parametrize(
    "name",
    [
        "",
        "has space",
        "-leading-dash",
        "a..b",
        "ends/",
        "x.lock",
        "a~1",
        "colon:name",
        "HEAD",
        "@",
        ".hidden",
    ],
)
def test_refuses_an_invalid_name(git_repo: RepoFactory, name: str) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    refuses(repo, name, match="not a valid branch name")


def test_refuses_an_existing_name(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    repo.git("branch", "feature/taken")
    work_in_progress(repo)
    refuses(repo, "feature/taken", match="already exists")
    refuses(repo, "main", match="already exists")


def test_refuses_a_name_that_clashes_with_a_branch_folder(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    repo.git("branch", "feature/x")
    repo.git("branch", "topic")
    work_in_progress(repo)
    refuses(repo, "feature", match="clashes with the existing branch 'feature/x'")
    refuses(repo, "topic/y", match="clashes with the existing branch 'topic'")


def test_refuses_during_a_merge_with_conflicts(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"shared.py": "value = 0\n"}, commit=True)
    repo.git("switch", "-q", "-c", "other")
    repo.write("shared.py", "value = 'other'\n")
    repo.commit("other side")
    repo.git("switch", "-q", "main")
    repo.write("shared.py", "value = 'main'\n")
    repo.commit("main side")
    merge = repo.git("merge", "other", check=False)
    assert (repo.root / ".git" / "MERGE_HEAD").exists(), merge
    refuses(repo, "feature/while-merging", match="merge is in progress")


def test_refuses_during_a_rebase(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"shared.py": "value = 0\n"}, commit=True)
    repo.git("switch", "-q", "-c", "topic")
    repo.write("shared.py", "value = 'topic'\n")
    repo.commit("topic side")
    repo.git("switch", "-q", "main")
    repo.write("shared.py", "value = 'main'\n")
    repo.commit("main side")
    repo.git("switch", "-q", "topic")
    repo.git("rebase", "main", check=False)
    git_dir = repo.root / ".git"
    assert (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists()
    refuses(repo, "feature/while-rebasing", match="rebase is in progress")


def test_refuses_during_a_cherry_pick(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"shared.py": "value = 0\n"}, commit=True)
    repo.git("switch", "-q", "-c", "topic")
    repo.write("shared.py", "value = 'topic'\n")
    picked = repo.commit("topic side")
    repo.git("switch", "-q", "main")
    repo.write("shared.py", "value = 'main'\n")
    repo.commit("main side")
    repo.git("cherry-pick", picked, check=False)
    assert (repo.root / ".git" / "CHERRY_PICK_HEAD").exists()
    refuses(repo, "feature/while-picking", match="cherry-pick is in progress")


def test_refuses_while_the_index_is_locked(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    (repo.root / ".git" / "index.lock").write_text("")
    refuses(repo, "feature/locked", match="index.lock")


def test_refuses_a_base_in_an_unborn_repository(git_repo: RepoFactory) -> None:
    repo = git_repo()
    repo.write("first.py", "print(1)\n")
    refuses(repo, "feature/x", base="main", match="no commits yet")


def test_refuses_an_unknown_base(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    work_in_progress(repo)
    refuses(repo, "feature/x", base="no-such-ref", match="git refused")


def test_refuses_when_the_base_would_overwrite_local_changes(git_repo: RepoFactory) -> None:
    repo = git_repo(files={"a.py": "1\n"}, commit=True)
    first = repo.head()
    repo.write("a.py", "2\n")
    repo.commit("second")
    repo.write("a.py", "uncommitted work\n")
    refuses(repo, "feature/old", base=first, match="git refused")


def test_refuses_outside_a_repository(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    with pytest.raises(NotAGitRepositoryError):
        create_branch(tmp_path, "feature/x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]
