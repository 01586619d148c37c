"""Event storms, in process: a checkout that creates and then deletes 2,000 files, and `rm -rf` of a
1,000-file folder, under the real WorkspaceWatcher and WorkspaceIndex.

The full-size runs (10,000 files, 5,000 files, against the real server, CPU read from /proc) are in
bench/stress_watch.py, with their figures in docs/reliability.md.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from pyengineer.config import Settings
from pyengineer.workspace.context import WorkspaceIndex
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.watcher import WorkspaceWatcher

from tests.hardening.test_watch_faults import Batches
from tests.repos import GitRepo, RepoFactory, write

pytestmark = pytest.mark.timeout(90)

FOLDERS, PER_FOLDER = 20, 100  # 2,000 files


def settle(batches: Batches, quiet: float = 1.5, limit: float = 30.0) -> float:
    """Wait until no batch has arrived for `quiet` seconds; returns when the last one came (monotonic)."""
    started = time.monotonic()
    last, seen = started, 0
    while time.monotonic() - last < quiet:
        assert time.monotonic() - started < limit, "the watcher never went quiet"
        time.sleep(0.05)
        if len(batches.items) != seen:
            seen, last = len(batches.items), time.monotonic()
    return last


def fresh_files(root: Path) -> list[str]:
    index = WorkspaceIndex(root, Settings())
    index.scan()
    return sorted(index.files)


def test_checkout_of_two_thousand_files_and_rm_rf_coalesce(git_repo: RepoFactory) -> None:
    repo: GitRepo = git_repo(files={"app.py": "import os\n"}, commit=True)
    repo.git("checkout", "-q", "-b", "many")
    for folder in range(FOLDERS):
        for n in range(PER_FOLDER):
            write(repo.root, f"gen/f{folder:02d}/m{n:03d}.py", f"import torch\nVALUE = {n}\n")
    repo.commit("2,000 generated files")
    repo.git("checkout", "-q", "main")

    index = WorkspaceIndex(repo.root, Settings())
    index.scan()
    batches = Batches()
    watcher = WorkspaceWatcher(repo.root, IgnoreRules.for_root(repo.root), batches)
    git_dir = repo.root / ".git"
    watcher.git_dirs = [git_dir]
    watcher.start(index.folders)
    try:
        for branch, expected in (("many", FOLDERS * PER_FOLDER + 1), ("main", 1)):
            batches.items.clear()
            cpu_before = time.process_time()
            started = time.monotonic()
            subprocess.run(["git", "checkout", "-q", branch], cwd=repo.root, check=True)
            git_done = time.monotonic()
            last = settle(batches)
            for batch in batches.items:
                index.update(batch.paths)
            count = len(batches.items)
            paths = len(batches.paths())
            print(
                f"\ncheckout {branch}: git {git_done - started:.2f}s, {count} batches, {paths} paths, "
                f"settled {last - git_done:.2f}s after git, CPU {time.process_time() - cpu_before:.2f}s"
            )
            # Coalesced: the watcher waits while git holds index.lock, so the whole checkout is one update
            # (two at most, when the last writes land just after git released the lock).
            assert 1 <= count <= 2
            assert any(b.git_changed for b in batches.items)
            assert len(index.files) == expected
            assert sorted(index.files) == fresh_files(repo.root)

        # rm -rf of a 1,000-file untracked folder.
        for n in range(1_000):
            write(repo.root, f"scratch/s{n // 100}/x{n:04d}.py", "import pandas\n")
        settle(batches, quiet=0.5)
        for batch in batches.items:
            index.update(batch.paths)
        assert len(index.files) == 1_001
        batches.items.clear()
        started = time.monotonic()
        shutil.rmtree(repo.root / "scratch")
        last = settle(batches)
        for batch in batches.items:
            index.update(batch.paths)
        print(f"rm -rf 1,000 files: {len(batches.items)} batches, settled {last - started:.2f}s")
        assert 1 <= len(batches.items) <= 3
        assert sorted(index.files) == ["app.py"] == fresh_files(repo.root)

        # Back to idle: no work at all while nothing changes.
        cpu_before = time.process_time()
        time.sleep(2.0)
        idle_cpu = time.process_time() - cpu_before
        print(f"idle CPU over 2 s: {idle_cpu:.3f}s")
        assert idle_cpu < 0.2
    finally:
        watcher.stop()
