"""Shared fixtures: real git repositories and project trees built in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.fake_api import FakeMessagesAPI
from tests.repos import GitRepo, RepoFactory, run_git

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every git process (ours, GitPython's, the CLI's) sees a known identity and no user or system config."""
    home = tmp_path_factory.getbasetemp() / "git-home"
    home.mkdir(exist_ok=True)
    global_config = home / ".gitconfig"
    if not global_config.exists():
        global_config.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[RepoFactory]:
    """Factory: `git_repo()` is an empty repo on `main`; `git_repo(files={...}, commit=True)` adds files."""
    made = 0

    def make(
        name: str | None = None,
        files: dict[str, str] | None = None,
        commit: bool = False,
        branch: str = "main",
    ) -> GitRepo:
        nonlocal made
        made += 1
        root = tmp_path / (name or f"repo{made}")
        root.mkdir(parents=True)
        run_git(root, "init", "-q", "-b", branch)
        repo = GitRepo(root)
        for relative, text in (files or {}).items():
            repo.write(relative, text)
        if commit:
            if not files:
                repo.write("README.md", "hello\n")
            repo.commit("initial")
        return repo

    yield make


@pytest.fixture
def fake_api() -> Iterator[FakeMessagesAPI]:
    """The local Messages API stand-in (the only stand-in allowed): the real SDK is pointed at it."""
    api = FakeMessagesAPI().start()
    yield api
    api.stop()
