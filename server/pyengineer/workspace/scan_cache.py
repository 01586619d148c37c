"""The scan cache on disk: per-file (mtime_ns, size) -> interesting imports, so a restart rescans only changes.

One small JSON file per workspace root under the user cache dir (`$PYENGINEER_CACHE_DIR`, else
`$XDG_CACHE_HOME/pyengineer`, else `~/.cache/pyengineer`; `PYENGINEER_CACHE_DIR=off` turns it off). A cache
written by another pyengineer version, for another list of interesting modules or another ImportRecord shape
is ignored. Files modified in the last few seconds before a save are left out: their mtime may not change on
the next edit within the file system's timestamp granularity (git's "racily clean" problem).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pyengineer import __version__
from pyengineer.caches import cache_dir as cache_dir  # where it always was for its callers
from pyengineer.workspace.imports import ImportRecord
from pyengineer.workspace.scan import FileScan

log = logging.getLogger(__name__)

FORMAT = 1
KEEP_FILES = 64  # cache files kept (one per workspace root); the least recently written go first
RACY_NS = 3_000_000_000


class ScanCache:
    """Load and save the scan results of one workspace root."""

    def __init__(self, folder: Path, root: Path, modules: frozenset[str]) -> None:
        self.root = str(root)
        digest = hashlib.sha256(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        self.path = folder / "scan" / f"{digest}.json"
        self.key = hashlib.sha256(
            json.dumps(
                [FORMAT, __version__, sorted(modules), list(ImportRecord.model_fields)], separators=(",", ":")
            ).encode()
        ).hexdigest()

    def load(self) -> dict[str, FileScan]:
        """The cached scans (empty when there is no usable cache)."""
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("key") != self.key or data.get("root") != self.root:
            return {}
        files: dict[str, FileScan] = {}
        fields = list(ImportRecord.model_fields)
        try:
            for relative, (mtime_ns, size, records) in data["files"].items():
                imports = tuple(ImportRecord(**dict(zip(fields, r, strict=True))) for r in records)
                files[relative] = FileScan(relative, (int(mtime_ns), int(size)), imports)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring a damaged scan cache %s: %s", self.path, exc)
            return {}
        return files

    def save(self, files: dict[str, FileScan]) -> None:
        """Write `files` atomically (errors are logged, never raised: the cache is only an optimisation)."""
        racy = time.time_ns() - RACY_NS
        entries: dict[str, Any] = {
            relative: [
                scan.stamp[0],
                scan.stamp[1],
                [[getattr(r, name) for name in ImportRecord.model_fields] for r in scan.imports],
            ]
            for relative, scan in files.items()
            if scan.stamp[0] < racy
        }
        payload = json.dumps({"key": self.key, "root": self.root, "files": entries}, separators=(",", ":"))
        try:
            write_cache_file(self.path, payload)
        except OSError as exc:
            log.warning("cannot write the scan cache %s: %s", self.path, exc)


def write_cache_file(path: Path, payload: str) -> None:
    """Write one cache file atomically (a temporary file, then rename), keeping the KEEP_FILES newest of its
    folder (one per workspace root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    caches = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in caches[KEEP_FILES:]:
        old.unlink(missing_ok=True)
