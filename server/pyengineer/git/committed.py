"""Whether an editor buffer holds its file's committed text (HEAD's blob), for PE101's "being changed".

"Typed since opened" is not "changed": an edit undone leaves the buffer equal to HEAD again. Comparing needs
HEAD's blob id for the path: one `git ls-tree` per path and HEAD commit (cached here, run in a worker thread),
then per keystroke a hash of the buffer in git's blob format, which a length check mostly skips.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
from typing import NamedTuple

from pyengineer.git.state import NO_PROGRAMS, GitState

log = logging.getLogger(__name__)

LS_TREE_TIMEOUT = 10.0
# Paths remembered (one entry per open document, normally): the oldest go first past this.
MAX_ENTRIES = 4096
_BOM = b"\xef\xbb\xbf"


class Blob(NamedTuple):
    size: int
    oid: str  # hex object id: 40 digits for SHA-1 repositories, 64 for SHA-256 ones


_cache: dict[tuple[str, str], tuple[str, Blob | None]] = {}  # (toplevel, relative) -> (head, blob)
_lock = threading.Lock()


def committed_blob(toplevel: str, head: str | None, relative: str) -> Blob | None:
    """HEAD's blob for `relative` (posix, relative to `toplevel`), or None when HEAD does not hold it.

    Cached per path until `head` changes; the first call for a path and commit runs git (call it off the
    event loop)."""
    if not head:
        return None  # no commit yet: nothing is committed
    key = (toplevel, relative)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == head:
        return hit[1]
    blob = _read_blob(toplevel, head, relative)
    with _lock:
        _cache[key] = (head, blob)
        while len(_cache) > MAX_ENTRIES:
            del _cache[next(iter(_cache))]
    return blob


def _read_blob(toplevel: str, head: str, relative: str) -> Blob | None:
    # The commit itself, not "HEAD": the cache entry is keyed by it, and HEAD may have moved since it was read.
    # --literal-pathspecs: a file named `*.py` is that file, not a glob.
    command = ["git", "--literal-pathspecs", *NO_PROGRAMS, "ls-tree", "-l", "-z", head, "--", relative]
    try:
        out = subprocess.run(
            command, cwd=toplevel, capture_output=True, timeout=LS_TREE_TIMEOUT, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("cannot read HEAD's blob of %s: %s", relative, exc)
        return None
    for entry in out.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if path.decode("utf-8", "surrogateescape") == relative and len(fields) == 4 and fields[1] == b"blob":
            try:
                return Blob(int(fields[3]), fields[2].decode("ascii"))
            except ValueError:
                return None
    return None


def blob_oid(data: bytes, digits: int = 40) -> str:
    """git's object id of a blob holding `data` (`git hash-object`)."""
    digest = hashlib.sha1(usedforsecurity=False) if digits == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def same_as_committed(text: str, blob: Blob | None) -> bool:
    """True if `text` is the committed content: byte for byte in UTF-8, or once the editor's CRLF line ends
    or a dropped byte-order mark are allowed for (an editor shows neither)."""
    if blob is None:
        return False
    data = text.encode("utf-8", errors="surrogatepass")
    candidates = [data]
    if b"\r\n" in data:
        candidates.append(data.replace(b"\r\n", b"\n"))
    candidates += [_BOM + c for c in candidates]
    return any(len(c) == blob.size and blob_oid(c, len(blob.oid)) == blob.oid for c in candidates)


def differs_from_committed(path: str, text: str, git: GitState) -> bool:
    """True unless `text` is HEAD's content of the file at `path` (absolute). A file outside the repository,
    or one HEAD does not hold, differs."""
    if not git.toplevel:
        return True
    relative = os.path.relpath(path, git.toplevel)
    if relative.startswith(".."):
        # The editor's path may go through a symbolic link that git's (resolved) top level does not.
        relative = os.path.relpath(os.path.realpath(path), git.toplevel)
        if relative.startswith(".."):
            return True
    blob = committed_blob(git.toplevel, git.head, relative.replace(os.sep, "/"))
    return not same_as_committed(text, blob)
