"""Filesystem faults under the watcher and the index, in process: the real WorkspaceWatcher (inotify) and
the real WorkspaceIndex on real folders. Real inotify exhaustion (a user namespace with lowered limits) is in
test_watch_server.py, through the real server.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyengineer.config import Settings
from pyengineer.workspace.context import WorkspaceIndex
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.watcher import ChangeBatch, WorkspaceWatcher

from tests.privileges import rerun_unprivileged
from tests.repos import write

pytestmark = pytest.mark.timeout(60)


class Batches:
    """Collects the watcher's batches; `wait` returns once a batch matching `check` has arrived."""

    def __init__(self) -> None:
        self.items: list[ChangeBatch] = []
        self.cond = threading.Condition()

    def __call__(self, batch: ChangeBatch) -> None:
        with self.cond:
            self.items.append(batch)
            self.cond.notify_all()

    def paths(self) -> set[Path]:
        with self.cond:
            return {p for b in self.items for p in b.paths}

    def wait(self, check: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching batch within {timeout}s; got {self.items}")
                self.cond.wait(remaining)


def tree(root: Path) -> Path:
    write(root, "app.py", "import os\n")
    write(root, "pkg/__init__.py", "")
    write(root, "pkg/model.py", "import torch\n")
    write(root, "pkg/sub/deep.py", "x = 1\n")
    return root


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, WorkspaceIndex, WorkspaceWatcher, Batches]]:
    root = tree(tmp_path / "ws")
    index = WorkspaceIndex(root, Settings())
    index.scan()
    batches = Batches()
    watcher = WorkspaceWatcher(root, IgnoreRules.for_root(root), batches, quiet_seconds=0.1)
    watcher.start(index.folders)
    yield root, index, watcher, batches
    stopped = time.monotonic()
    watcher.stop()
    assert time.monotonic() - stopped < 6, "stopping the watcher hung"


def test_a_symlink_loop_neither_hangs_the_scan_nor_the_watcher(
    watched: tuple[Path, WorkspaceIndex, WorkspaceWatcher, Batches],
) -> None:
    root, index, watcher, batches = watched
    # A folder appears holding a loop back to the root and a self-loop.
    (root / "new").mkdir()
    os.symlink(root, root / "new" / "loop")
    os.symlink("self", root / "new" / "self")
    write(root, "new/mod.py", "import pandas\n")
    # The folder's creation is what the watcher reports (files written before its new watch is in place
    # may not be), and a new folder makes the index walk again.
    batches.wait(lambda b: root / "new" in b.paths())
    time.sleep(0.3)
    assert index.update(batches.paths())
    assert "new/mod.py" in index.files
    assert not any("loop" in f for f in index.files), "the index followed a symlink loop"
    fresh = WorkspaceIndex(root, Settings())
    fresh.scan()
    assert sorted(fresh.files) == sorted(index.files)


def test_a_watched_folder_replaced_by_a_symlink_out_of_the_root(
    watched: tuple[Path, WorkspaceIndex, WorkspaceWatcher, Batches], tmp_path: Path
) -> None:
    root, index, watcher, batches = watched
    outside = tree(tmp_path / "outside")
    shutil.rmtree(root / "pkg")
    os.symlink(outside / "pkg", root / "pkg")
    batches.wait(lambda b: root / "pkg" in b.paths())
    index.update(batches.paths())
    # The symlinked folder is not followed: nothing from outside the root enters the index.
    assert sorted(index.files) == ["app.py"]
    # Writes outside the root, through the symlinked folder's target, are not reported as workspace changes.
    seen = len(batches.items)
    write(outside, "pkg/model.py", "import tensorflow\n")
    time.sleep(0.5)
    assert all(not str(p).startswith(str(outside)) for p in batches.paths())
    assert len(batches.items) == seen


def test_the_root_deleted_or_moved_while_watched(
    watched: tuple[Path, WorkspaceIndex, WorkspaceWatcher, Batches], tmp_path: Path
) -> None:
    root, index, watcher, batches = watched
    moved = tmp_path / "moved"
    os.rename(root, moved)
    time.sleep(0.5)
    index.update(batches.paths())  # must not raise on paths that are gone
    shutil.rmtree(moved)
    time.sleep(0.5)
    index.update(batches.paths())
    index.scan()  # a rescan of a vanished root is empty, not an exception
    assert index.files == {}
    # The root comes back (a re-clone): a new scan sees it again.
    tree(root)
    index.scan()
    assert "pkg/model.py" in index.files


def test_a_permission_denied_subfolder_is_skipped(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if rerun_unprivileged(request):  # root reads a chmod 000 folder anyway
        return
    root = tree(tmp_path / "ws")
    write(root, "secret/hidden.py", "import torch\n")
    (root / "secret").chmod(0)
    try:
        index = WorkspaceIndex(root, Settings())
        index.scan()
        assert "pkg/model.py" in index.files and not any(f.startswith("secret/") for f in index.files)
        batches = Batches()
        watcher = WorkspaceWatcher(root, IgnoreRules.for_root(root), batches, quiet_seconds=0.1)
        watcher.start(index.folders)
        write(root, "later.py", "x = 1\n")
        batches.wait(lambda b: root / "later.py" in b.paths())
        watcher.stop()
    finally:
        (root / "secret").chmod(0o755)


def test_an_unreadable_folder_vanishing_mid_walk_is_skipped(tmp_path: Path) -> None:
    """What can still be checked as root: a folder whose listing fails with EACCES (as a chmod 000 folder
    does for a normal user; the failure is injected into os.scandir) is skipped, never fatal."""
    root = tree(tmp_path / "ws")
    index = WorkspaceIndex(root, Settings())
    (root / "gone").mkdir()
    original = os.scandir

    def flaky(path: Any = ".") -> Any:
        if str(path).endswith("/gone"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return original(path)

    os.scandir = flaky
    try:
        index.scan()
    finally:
        os.scandir = original
    assert "pkg/model.py" in index.files


def test_the_root_deleted_and_made_again_at_once_is_watched_again(
    watched: tuple[Path, WorkspaceIndex, WorkspaceWatcher, Batches],
) -> None:
    root, index, watcher, batches = watched
    # Made again at once, the folder often gets the very inode number back: the watcher must not rely on it.
    shutil.rmtree(root)
    tree(root)
    batches.wait(lambda b: any(x.rescan for x in b.items))
    assert watcher.mode == "inotify" and watcher.watch_count == 3  # root, pkg, pkg/sub
    write(root, "pkg/sub/later.py", "import sklearn\n")
    batches.wait(lambda b: root / "pkg/sub/later.py" in b.paths())
