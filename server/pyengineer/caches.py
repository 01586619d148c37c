"""Where pyengineer keeps its caches: one place for the scan cache, the results cache and the guard's settings.

A base module with no imports beyond `os` and `pathlib`: `pyengineer guard` looks here before every tool call of
a coding agent.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """The folder holding pyengineer's caches, or None when caching is turned off."""
    configured = os.environ.get("PYENGINEER_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "0", "off", "false", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pyengineer"
