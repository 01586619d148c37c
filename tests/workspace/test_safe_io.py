"""safe_io on real files: writes that never follow a link out of the workspace, reads of regular files only.

The end-to-end cases (the hand-off through the server, `check --fix`, a FIFO `.gitignore` under the real server)
are in tests/hardening/test_hostile_files.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pyengineer.config import Settings, load_settings
from pyengineer.errors import ConfigError
from pyengineer.workspace import safe_io
from pyengineer.workspace.context import WorkspaceIndex
from pyengineer.workspace.dependencies import read_requirements
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.safe_io import FileTooLargeError, UnsafeFileError
from pyengineer.workspace.scan import walk


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the workspace that an attacker would like overwritten (a stand-in for ~/.bashrc)."""
    target = tmp_path / "home" / ".bashrc"
    target.parent.mkdir()
    target.write_text("export PATH=/usr/bin\n")
    return target


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


# --- writes --------------------------------------------------------------------------------------------------


def test_a_write_creates_the_folders_and_the_file(root: Path) -> None:
    safe_io.write_text(root, root / "docs" / "handoffs" / "app.md", "hello\n")
    assert (root / "docs" / "handoffs" / "app.md").read_text() == "hello\n"
    assert os.listdir(root / "docs" / "handoffs") == ["app.md"]  # no temporary file left behind


def test_a_planted_tmp_link_is_never_written_through(root: Path, outside: Path) -> None:
    (root / "docs").mkdir()
    os.symlink(outside, root / "docs" / "app.md.tmp")
    safe_io.write_text(root, root / "docs" / "app.md", "hand-off\n")
    assert outside.read_text() == "export PATH=/usr/bin\n"
    assert (root / "docs" / "app.md").read_text() == "hand-off\n"
    assert os.readlink(root / "docs" / "app.md.tmp") == str(outside)


def test_the_target_itself_a_symlink_is_refused_naming_it(root: Path, outside: Path) -> None:
    os.symlink(outside, root / "app.md")
    with pytest.raises(UnsafeFileError, match=r"app\.md: is a symbolic link"):
        safe_io.write_text(root, root / "app.md", "x")
    assert outside.read_text() == "export PATH=/usr/bin\n"
    assert os.path.islink(root / "app.md")


def test_a_symlink_to_a_file_inside_the_workspace_is_refused_too(root: Path) -> None:
    (root / "real.py").write_text("a = 1\n")
    os.symlink(root / "real.py", root / "alias.py")
    with pytest.raises(UnsafeFileError, match="alias.py: is a symbolic link"):
        safe_io.write_text(root, root / "alias.py", "b = 2\n")
    assert (root / "real.py").read_text() == "a = 1\n"


def test_a_symlinked_parent_folder_leading_outside_is_refused(root: Path, outside: Path) -> None:
    os.symlink(outside.parent, root / "docs")
    with pytest.raises(UnsafeFileError, match=r"docs/\.bashrc: .*docs is a symbolic link to .*outside the"):
        safe_io.write_text(root, root / "docs" / ".bashrc", "pwned\n")
    with pytest.raises(UnsafeFileError, match="outside the workspace"):
        safe_io.write_text(root, root / "docs" / "new" / "file.md", "x")
    assert outside.read_text() == "export PATH=/usr/bin\n"
    assert os.listdir(outside.parent) == [".bashrc"]


def test_a_deeper_link_to_a_parent_outside_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "a").mkdir()
    os.symlink("../..", root / "a" / "up")  # ws/a/up -> tmp_path
    with pytest.raises(UnsafeFileError, match="outside the workspace"):
        safe_io.write_text(root, root / "a" / "up" / "escaped.txt", "x")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_symlinked_folder_that_stays_inside_is_followed(root: Path) -> None:
    (root / "documentation").mkdir()
    os.symlink("documentation", root / "docs")
    safe_io.write_text(root, root / "docs" / "app.md", "inside\n")
    assert (root / "documentation" / "app.md").read_text() == "inside\n"


def test_a_path_outside_the_workspace_is_refused(root: Path, outside: Path) -> None:
    with pytest.raises(UnsafeFileError, match="is outside the workspace"):
        safe_io.write_text(root, outside, "x")
    with pytest.raises(UnsafeFileError, match="is outside the workspace"):
        safe_io.write_text(root, root / ".." / "home" / ".bashrc", "x")
    assert outside.read_text() == "export PATH=/usr/bin\n"


def test_a_workspace_root_that_is_itself_a_link_is_written_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    safe_io.write_text(tmp_path / "link", tmp_path / "link" / "a.txt", "1")
    safe_io.write_text(tmp_path / "link", tmp_path / "real" / "b.txt", "2")
    assert sorted(os.listdir(tmp_path / "real")) == ["a.txt", "b.txt"]


def test_a_fifo_or_a_folder_at_the_target_is_refused(root: Path) -> None:
    os.mkfifo(root / "pipe.md")
    (root / "folder.md").mkdir()
    with pytest.raises(UnsafeFileError, match="pipe.md: is a FIFO"):
        safe_io.write_text(root, root / "pipe.md", "x")
    with pytest.raises(UnsafeFileError, match="folder.md: is a folder"):
        safe_io.write_text(root, root / "folder.md", "x")


def test_the_file_mode_is_kept(root: Path) -> None:
    script = root / "run.py"
    script.write_text("print(1)\n")
    script.chmod(0o750)
    safe_io.write_text(root, script, "print(2)\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "print(2)\n"


def test_check_writable_refuses_without_creating_anything(root: Path, outside: Path) -> None:
    os.symlink(outside, root / "bad.py")
    with pytest.raises(UnsafeFileError, match="bad.py: is a symbolic link"):
        safe_io.check_writable(root, root / "bad.py")
    safe_io.check_writable(root, root / "new" / "folder" / "ok.py")
    assert sorted(os.listdir(root)) == ["bad.py"]


# --- reads ---------------------------------------------------------------------------------------------------


def test_a_regular_file_is_read(root: Path) -> None:
    (root / "a.txt").write_bytes(b"one\r\ntwo\n")
    assert safe_io.read_text(root / "a.txt", 100) == "one\ntwo\n"
    assert safe_io.read_text(root / "a.txt", 100, keep_newlines=True) == "one\r\ntwo\n"


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / ".gitignore")  # nobody writes to it: a plain open() would block for ever
    with pytest.raises(UnsafeFileError, match=r"\.gitignore: is a FIFO"):
        safe_io.read_bytes(root / ".gitignore", 100)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin", "/dev/null"])
def test_a_link_to_a_device_is_refused(root: Path, device: str) -> None:
    os.symlink(device, root / "linked")
    with pytest.raises(UnsafeFileError, match="not a regular file|is a symbolic link"):
        safe_io.read_bytes(root / "linked", 1 << 20)
    with pytest.raises(UnsafeFileError, match="is a symbolic link"):
        safe_io.read_bytes(root / "linked", 1 << 20, follow_symlinks=False)


def test_a_link_is_not_followed_when_asked(root: Path) -> None:
    (root / "real").write_text("*.log\n")
    os.symlink("real", root / ".gitignore")
    assert safe_io.read_text(root / ".gitignore", 100) == "*.log\n"
    with pytest.raises(UnsafeFileError, match="is a symbolic link"):
        safe_io.read_text(root / ".gitignore", 100, follow_symlinks=False)


def test_a_sparse_huge_file_is_refused_before_reading(root: Path) -> None:
    huge = root / "huge.py"
    with open(huge, "wb") as handle:
        handle.truncate(2 << 30)  # 2 GiB, sparse: nothing on disk, everything if read
    with pytest.raises(FileTooLargeError, match=r"huge\.py: is 2 GiB, above the 2 MiB limit"):
        safe_io.read_bytes(huge, safe_io.MAX_SOURCE_BYTES)


def test_a_refused_read_is_warned_about_once(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    os.mkfifo(root / "pipe")
    for _ in range(3):
        with pytest.raises(UnsafeFileError):
            safe_io.read_bytes(root / "pipe", 100)
    assert [r.getMessage() for r in caplog.records] == [
        f"{root / 'pipe'}: is a FIFO, not a regular file; skipped"
    ]
    with pytest.raises(FileNotFoundError):
        safe_io.read_bytes(root / "missing", 100)  # a missing file is no warning
    assert len(caplog.records) == 1


# --- the callers ---------------------------------------------------------------------------------------------


def test_the_scan_skips_a_python_file_above_the_limit_with_a_warning(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (root / "ok.py").write_text("import torch\n")
    with open(root / "generated.py", "wb") as handle:
        handle.write(b"import torch\n")
        handle.truncate(safe_io.MAX_SOURCE_BYTES + 1)  # sparse: one byte over the limit
    index = WorkspaceIndex(root, Settings())
    index.scan()
    assert sorted(index.files) == ["ok.py"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{root / 'generated.py'}: is 2,097,153 bytes, above the 2 MiB limit; skipped"
    ]


def test_gitignores_that_are_fifos_or_links_are_not_read_and_the_walk_finishes(root: Path) -> None:
    (root / "real-ignore").write_text("*.py\n")
    (root / "a").mkdir()
    (root / "b").mkdir()
    os.mkfifo(root / ".gitignore")
    os.symlink("/dev/zero", root / "a" / ".gitignore")
    os.symlink("../real-ignore", root / "b" / ".gitignore")  # git does not follow this one either
    for folder in ("", "a/", "b/"):
        (root / f"{folder}m.py").write_text("x = 1\n")
    assert walk(root, IgnoreRules.for_root(root)).python_files == ["a/m.py", "b/m.py", "m.py"]


def test_a_config_file_above_the_limit_is_an_error_naming_it(root: Path) -> None:
    with open(root / "pyengineer.toml", "wb") as handle:
        handle.truncate(100 << 20)
    with pytest.raises(ConfigError, match=r"pyengineer\.toml: is 100 MiB, above the 4 MiB limit"):
        load_settings(root)


def test_requirements_that_are_not_regular_files_are_not_read(root: Path) -> None:
    (root / "requirements.txt").write_text("-r extra.txt\nfastapi\n")
    os.mkfifo(root / "extra.txt")
    names, included = read_requirements(root / "requirements.txt")
    assert names == ["fastapi"] and included == []
