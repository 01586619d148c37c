"""Every file pyengineer reads from or writes into a workspace goes through here.

A workspace is often a repository somebody else prepared (`git clone` is what users do every day), and git
stores symlinks, so any path in it may be a link to `~/.bashrc`, `/dev/zero` or `/dev/stdin`, and a file may be
a FIFO or a sparse 2 GiB `.py`. Two rules follow (docs/security.md, "Files in a hostile repository"):

- **Writes never follow a link out.** `write_text` walks from the workspace root one folder at a time with
  `O_NOFOLLOW`; a symlinked folder is followed only when it resolves inside the root; the file itself may
  not be a symlink. The new text goes to a temporary file with a random name opened `O_CREAT|O_EXCL|
  O_NOFOLLOW` in the same folder, is fsynced and renamed over the target (`rename` replaces a link itself,
  never what it points to), keeping the old file's permission bits. A refusal names the path.
- **Reads are bounded and typed.** `read_bytes`/`read_text` open only regular files (checked before the open,
  so no device is ever opened, and again on the descriptor), with `O_NONBLOCK` so a FIFO swapped in between
  cannot block the open, `O_NOFOLLOW` where a link is not allowed, and read at most a limit.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

from pyengineer.errors import PyengineerError

# `logging` and `secrets` are imported where they are used: together they cost `pyengineer guard`, which reads
# a config file through here before every tool call of a coding agent, more than the rest of its start-up.
# Python files larger than this are not read (scan, `pyengineer check`) nor analysed (the editor, where the
# limit counts characters): real modules are far smaller, and parsing a 20 MB file takes minutes and gigabytes.
MAX_SOURCE_BYTES = 2 * 1024 * 1024
# .gitignore, pyproject.toml, pyengineer.toml, requirements files, Pipfile, setup.cfg: a 4 MiB one is absurd
# already (a requirements file with hashes for 300 packages is ~300 KB).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# A file the agent or a fix edits: read whole before the edit.
MAX_EDITED_BYTES = MAX_SOURCE_BYTES

_MAX_LINKS = 40  # symlinked folders followed in one path, as the kernel's ELOOP limit
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class UnsafeFileError(PyengineerError, OSError):
    """A path that is refused: a write that would leave the workspace or go through a symlink, a read of
    something that is not a regular file. An OSError too, so callers that skip unreadable files skip it.
    `str()` is "<path>: <reason>"."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class FileTooLargeError(UnsafeFileError):
    """A file above the size limit of its kind; it is not read."""

    def __init__(self, path: Path | str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        shown = (
            human_size(size) if size >= 2 * limit else f"{size:,} bytes"
        )  # "2.0 MiB, above 2 MiB" misleads
        super().__init__(path, f"is {shown}, above the {human_size(limit)} limit")


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size // scale} {unit}" if size % scale == 0 else f"{size / scale:.1f} {unit}"
    return f"{size:,} bytes"


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


# --- warnings ------------------------------------------------------------------------------------------------

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(message: str) -> None:
    """Log `message` as a warning the first time it is seen in this process (rescans see the same files)."""
    with _warned_lock:
        if message in _warned:
            return
        if len(_warned) > 10_000:
            _warned.clear()
        _warned.add(message)
    import logging

    logging.getLogger(__name__).warning("%s", message)


# --- reads ---------------------------------------------------------------------------------------------------


def _check_regular(path: Path | str, st: os.stat_result, limit: int) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(path, "is a symbolic link, which is not followed here")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(path, f"is {_kind(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise FileTooLargeError(path, st.st_size, limit)


def read_bytes(path: Path | str, limit: int, *, follow_symlinks: bool = True, warn: bool = True) -> bytes:
    """The bytes of the regular file at `path` (see `read_file`)."""
    return read_file(path, limit, follow_symlinks=follow_symlinks, warn=warn)[0]


def read_file(
    path: Path | str, limit: int, *, follow_symlinks: bool = True, warn: bool = True
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at `path`, at most `limit` of them, and its stat as opened.

    Raises FileNotFoundError and the like as `open` does, UnsafeFileError when `path` is not a regular file
    (or is a symlink and `follow_symlinks` is False), FileTooLargeError above `limit`. With `warn`, a refused
    file is logged once as a warning (the caller skips it; the user should know why).
    """
    try:
        # stat before open: opening a device can have effects of its own (a tape rewinds, a tty hangs up).
        _check_regular(path, os.stat(path, follow_symlinks=follow_symlinks), limit)
        flags = _READ_FLAGS | (0 if follow_symlinks else os.O_NOFOLLOW)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP and not follow_symlinks:
                raise UnsafeFileError(path, "is a symbolic link, which is not followed here") from None
            raise
        try:
            # Again on the descriptor: the path may have been swapped between the stat and the open.
            opened = os.fstat(fd)
            _check_regular(path, opened, limit)
            chunks: list[bytes] = []
            total = 0
            while total <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            if total > limit:  # it grew while being read
                raise FileTooLargeError(path, total, limit)
            return b"".join(chunks), opened
        finally:
            os.close(fd)
    except UnsafeFileError as exc:
        if warn:
            warn_once(f"{exc}; skipped")
        raise


def read_text(
    path: Path | str,
    limit: int,
    *,
    follow_symlinks: bool = True,
    warn: bool = True,
    errors: str = "replace",
    keep_newlines: bool = False,
) -> str:
    """`read_bytes` decoded as UTF-8; line endings become \\n as `Path.read_text` makes them, unless
    `keep_newlines` (positions in an editor count the \\r of a CRLF)."""
    text = read_bytes(path, limit, follow_symlinks=follow_symlinks, warn=warn).decode("utf-8", errors)
    if not keep_newlines and "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# --- writes --------------------------------------------------------------------------------------------------


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _relative_parts(root: Path | str, path: Path | str) -> tuple[str, list[str]]:
    """The real root and the parts of `path` below it (lexically: links are judged while walking)."""
    real_root = os.path.realpath(root)
    absolute = os.path.normpath(os.path.join(real_root, path))
    for base in (os.path.normpath(os.path.abspath(root)), real_root):
        if _inside(absolute, base) and absolute != base:
            return real_root, os.path.relpath(absolute, base).split(os.sep)
    raise UnsafeFileError(path, f"is outside the workspace {root}; pyengineer writes only inside it")


def is_inside(root: Path | str, path: Path | str) -> bool:
    """True if `path` (as written, or below the resolved root) lies inside `root`; links are not judged."""
    try:
        _relative_parts(root, path)
    except UnsafeFileError:
        return False
    return True


def _open_folder(
    real_root: str, parts: list[str], shown: Path | str, create: bool, links: int = 0
) -> int | None:
    """A descriptor of the folder `real_root/parts...`, never leaving the root; missing folders are created
    (`create`) or give None (the check before a write: nothing is made until every file passed)."""
    fd = os.open(real_root, _DIR_FLAGS)
    current = real_root
    try:
        for index, part in enumerate(parts):
            try:
                next_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(part, 0o777, dir_fd=fd)
                next_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                here = os.path.join(current, part)
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                if not stat.S_ISLNK(mode):
                    raise UnsafeFileError(shown, f"{here} is {_kind(mode)}, not a folder") from None
                target = os.path.realpath(here)
                if not _inside(target, real_root):
                    raise UnsafeFileError(
                        shown,
                        f"{here} is a symbolic link to {target}, outside the workspace; "
                        "pyengineer does not write through it",
                    ) from None
                if links >= _MAX_LINKS:
                    raise UnsafeFileError(shown, "too many symbolic links") from None
                # A link that stays inside the root is walked as the folder it resolves to.
                rest = os.path.relpath(target, real_root).split(os.sep) if target != real_root else []
                rest = [p for p in rest if p != "."] + parts[index + 1 :]
                return _open_folder(real_root, rest, shown, create, links + 1)
            os.close(fd)
            fd, current = next_fd, os.path.join(current, part)
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def _existing_mode(folder: int, name: str, shown: Path | str) -> int | None:
    """The permission bits of the file `name` in `folder` (None when there is none); refuses a link."""
    try:
        existing = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(existing.st_mode):
        raise UnsafeFileError(
            shown,
            "is a symbolic link; pyengineer does not write through it (remove the link to let "
            "pyengineer write the file)",
        )
    if not stat.S_ISREG(existing.st_mode):
        raise UnsafeFileError(shown, f"is {_kind(existing.st_mode)}, not a regular file")
    return stat.S_IMODE(existing.st_mode)


def check_writable(root: Path | str, path: Path | str) -> None:
    """Raise what `write_bytes(root, path, ...)` would raise for the path itself, creating and writing nothing:
    lets a caller writing several files refuse them all before writing the first."""
    real_root, parts = _relative_parts(root, path)
    folder = _open_folder(real_root, parts[:-1], path, create=False)
    if folder is not None:
        try:
            _existing_mode(folder, parts[-1], path)
        finally:
            os.close(folder)


def write_bytes(root: Path | str, path: Path | str, data: bytes) -> None:
    """Replace (or create) the file at `path` inside the workspace `root` with `data`, atomically.

    Raises UnsafeFileError naming the path when it is outside `root`, when a folder on the way is a symlink
    that leads outside, or when the file itself is a symlink or not a regular file.
    """
    real_root, parts = _relative_parts(root, path)
    name = parts[-1]
    folder = _open_folder(real_root, parts[:-1], path, create=True)
    assert folder is not None  # created when missing
    try:
        mode = _existing_mode(folder, name, path)
        # A random name, created exclusively and never through a link: a name planted in the repository
        # (the old `<name>.md.tmp`) can neither be predicted nor followed.
        import secrets

        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600 if mode is not None else 0o666,
            dir_fd=folder,
        )
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if mode is not None:
                    os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=folder)
            except OSError:
                pass
            raise
        try:
            os.fsync(folder)  # the rename itself survives a crash
        except OSError:
            pass
    finally:
        os.close(folder)


def write_text(root: Path | str, path: Path | str, text: str) -> None:
    """`write_bytes` of `text` as UTF-8, line endings as they are in `text`."""
    write_bytes(root, path, text.encode("utf-8"))
