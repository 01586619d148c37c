"""The hooks in .pre-commit-hooks.yaml, run by the real `pre-commit` package with `try-repo` against this
repository (pre-commit clones it locally and pip-installs it into its own environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import GitRepo, RepoFactory

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason="pre-commit is a dev dependency"),
]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(project: GitRepo, home: Path, hook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [PRE_COMMIT, "try-repo", str(ROOT), hook, "--verbose", *extra],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=800,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_hooks_through_pre_commit_try_repo(git_repo: RepoFactory, pre_commit_home: Path) -> None:
    project = git_repo(files={"README.md": "hi\n"}, commit=True)
    project.write(
        "app/views.py", "import requests\n\n\nasync def fetch(url):\n    return requests.get(url)\n"
    )
    project.git("add", "app/views.py")

    on_main = try_repo(project, pre_commit_home, "pyengineer-protected-branch")
    assert on_main.returncode == 1, on_main.stdout + on_main.stderr
    assert "'main' is a protected branch" in on_main.stdout

    project.git("switch", "-q", "-c", "feature/views")
    on_feature = try_repo(project, pre_commit_home, "pyengineer-protected-branch")
    assert on_feature.returncode == 0, on_feature.stdout + on_feature.stderr

    checked = try_repo(project, pre_commit_home, "pyengineer-check", "--files", "app/views.py")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "PE301" in checked.stdout  # requests.get blocks the event loop inside async def

    project.write("app/views.py", "def index() -> str:\n    return 'hi'\n")
    project.git("add", "app/views.py")
    clean = try_repo(project, pre_commit_home, "pyengineer-check", "--files", "app/views.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
