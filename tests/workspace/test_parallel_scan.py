"""The cold scan spread over processes: the same index, context and cache as one process, and only where a
fork is safe (the command line, never a process with other threads running, as the language server is)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest
from pyengineer.config import Settings
from pyengineer.parallel import fork_is_safe
from pyengineer.workspace.context import WorkspaceIndex, build_context
from pyengineer.workspace.safe_io import MAX_SOURCE_BYTES
from pyengineer.workspace.scan import PARALLEL_MIN_FILES

from tests.repos import write

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# About 300 files of the stdlib, two of them (pickletester, test_buffer) importing numpy.
PACKAGES = (
    "asyncio",
    "email",
    "json",
    "http",
    "concurrent",
    "logging",
    "unittest",
    "xml",
    "importlib",
    "idlelib",
)
MODULES = ("test/pickletester.py", "test/test_buffer.py")
HOUR_AGO = 3600


def notebook(*sources: str) -> str:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in sources
    ]
    metadata = {"kernelspec": {"name": "python3", "language": "python"}, "language_info": {"name": "python"}}
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of part of the stdlib, with ML, framework and database imports, notebooks, and files that
    cannot be read or parsed; every file an hour old (so the scan cache keeps them all)."""
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        for path in sorted((STDLIB / package).rglob("*.py")):
            target = root / "lib" / path.relative_to(STDLIB)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for module in MODULES:
        write(root, f"lib/{module}", (STDLIB / module).read_text(encoding="utf-8"))
    write(root, "pyproject.toml", '[project]\nname = "tree"\ndependencies = ["fastapi", "sqlalchemy"]\n')
    write(root, "ml/train.py", "import os\nimport torch.nn as nn\nfrom sklearn.linear_model import Ridge\n")
    write(root, "ml/typed.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tensorflow\n")
    write(root, "ml/lazy.py", 'import importlib\nm = importlib.import_module("transformers")\n')
    write(root, "api/app.py", "from fastapi import FastAPI\n\napp = FastAPI()\n")
    write(
        root,
        "api/db.py",
        "from sqlalchemy import create_engine\nfrom sqlalchemy.orm import sessionmaker\n\n"
        'engine = create_engine("sqlite://")\nSessionLocal = sessionmaker(bind=engine)\n',
    )
    write(root, "tests/test_app.py", "import pytest\nfrom api.app import app\n")
    # Broken in the ways a worker meets: a syntax error and a NUL byte (the tokenizer fallback finds the
    # import), bytes that are not UTF-8, and a file above the size limit (not read; warned).
    write(root, "broken/syntax.py", "import xgboost\ndef broken(:\n")
    write(root, "broken/nul.py", b"import lightgbm\nx = '\x00'\n")
    write(root, "broken/latin1.py", b"import pandas\n# caf\xe9\n")
    write(root, "broken/huge.py", "import torch\n" + "x = 1\n" * (MAX_SOURCE_BYTES // 6 + 1))
    write(root, "notebooks/explore.ipynb", notebook("import pandas as pd\n", "import torch\nx = 1\n"))
    write(root, "notebooks/damaged.ipynb", '{"cells": [')
    write(root, "notebooks/plain.ipynb", notebook("print(1)\n"))
    old = (os.stat(root).st_mtime - HOUR_AGO,) * 2
    for folder, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), old)
    return root


def scanned(root: Path, jobs: int, cache: Path | None = None) -> WorkspaceIndex:
    index = WorkspaceIndex(root, Settings(), cache)
    index.scan(jobs=jobs)
    return index


def test_the_tree_is_large_enough_to_fork(tree: Path) -> None:
    index = scanned(tree, 1)
    assert len(index.files) >= PARALLEL_MIN_FILES + 20
    context = index.context()
    # Not a vacuous comparison below: the tree has ML files, frameworks, database objects and notebooks.
    assert [r.module for r in index.files["lib/test/pickletester.py"].imports] == ["numpy"]
    assert {"ml/train.py", "notebooks/explore.ipynb", "broken/syntax.py"} <= {
        f.path for f in context.ml_files
    }
    assert "broken/huge.py" not in index.files and "notebooks/damaged.ipynb" not in index.files
    assert {"fastapi", "sqlalchemy"} <= set(context.frameworks)
    assert context.sync_engines == ("api/db.py:engine",)


def test_a_parallel_scan_gives_the_serial_index_context_and_cache(tree: Path, tmp_path: Path) -> None:
    serial = scanned(tree, 1, tmp_path / "serial")
    parallel = scanned(tree, 2, tmp_path / "parallel")
    assert (serial.forked, parallel.forked) == (0, 1)
    assert list(parallel.files.items()) == list(serial.files.items())  # same scans, same order
    assert parallel.context().model_dump_json() == serial.context().model_dump_json()
    (serial_cache,) = (tmp_path / "serial").rglob("*.json")
    (parallel_cache,) = (tmp_path / "parallel").rglob("*.json")
    assert parallel_cache.read_bytes() == serial_cache.read_bytes()
    assert len(json.loads(serial_cache.read_bytes())["files"]) == len(serial.files)


def test_more_processes_than_cores_still_give_the_serial_index(tree: Path) -> None:
    serial = scanned(tree, 1)
    parallel = scanned(tree, 5)
    assert parallel.forked == 4
    assert list(parallel.files.items()) == list(serial.files.items())


def test_the_context_command_prints_what_a_serial_scan_gives(tree: Path) -> None:
    """`pyengineer context --json` as a process (one scan process per core here) against a serial scan."""
    env = {**os.environ, "PYENGINEER_CACHE_DIR": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "pyengineer", "context", "--json", str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    expected = build_context(tree, Settings(), config_file=None, jobs=1).model_dump(mode="json")
    assert done.stdout == json.dumps(expected, indent=2) + "\n"
    # The file too large to read was read by a worker or by the parent: warned once either way.
    assert done.stderr.count("broken/huge.py") == 1


def test_a_file_too_large_is_warned_once_by_check_though_a_worker_scanned_it(tmp_path: Path) -> None:
    """The scan's workers send their warnings to the parent, which records them as said: `check` reading
    the same file afterwards does not warn a second time."""
    for i in range(PARALLEL_MIN_FILES + 10):
        write(tmp_path, f"pkg/m{i:03}.py", "import os\n\nprint(os.sep)\n")
    write(tmp_path, "pkg/huge.py", "x = 1\n" * (MAX_SOURCE_BYTES // 6 + 1))
    env = {**os.environ, "PYENGINEER_CACHE_DIR": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "pyengineer", "check", "--jobs", "2", "--no-cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr.count("huge.py") == 1, done.stderr


def test_a_small_scan_stays_in_this_process(tree: Path, tmp_path: Path) -> None:
    for i in range(20):
        write(tmp_path, f"m{i}.py", "import torch\n" if i % 2 else "import os\n")
    small = scanned(tmp_path, 4)
    assert small.forked == 0 and len(small.files) == 20
    # A warm cache with one file changed: one file to scan, in this process.
    cache = tmp_path / "cache"
    scanned(tree, 2, cache)
    changed = tree / "ml" / "train.py"
    changed.write_text(changed.read_text(encoding="utf-8") + "import jax\n", encoding="utf-8")
    try:
        warm = scanned(tree, 2, cache)
        assert warm.forked == 0
        assert [m.module for m in warm.files["ml/train.py"].imports][-1] == "jax"
    finally:
        changed.write_text(changed.read_text(encoding="utf-8").replace("import jax\n", ""), encoding="utf-8")
        os.utime(changed, (os.stat(tree).st_mtime - HOUR_AGO,) * 2)


def test_a_scan_in_a_worker_thread_never_forks(tree: Path) -> None:
    """The language server scans from a worker thread of a process whose other threads (event loop,
    watcher) run: a fork there could leave the child holding a lock for ever, so it scans in-process."""
    serial = scanned(tree, 1)
    seen: list[WorkspaceIndex] = []
    thread = threading.Thread(target=lambda: seen.append(scanned(tree, 2)))
    thread.start()
    thread.join(timeout=300)
    (index,) = seen
    assert index.forked == 0
    assert list(index.files.items()) == list(serial.files.items())


def test_a_scan_beside_a_running_thread_never_forks(tree: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not fork_is_safe()
        assert scanned(tree, 2).forked == 0
    finally:
        stop.set()
        other.join()
    assert fork_is_safe()
