"""Where hand-off documents live: one per source file under `handoff-dir`, so a rerun updates it.

Here rather than in actions/handoff.py because PE201 (the engine) reads it too: after the hand-off is
written, the finding links to the document instead of asking for it.
"""

from __future__ import annotations

from pathlib import Path

from pyengineer.git.naming import slugify


def handoff_path(root: Path, relative: str, folder: str) -> Path:
    """The hand-off document of `relative` (posix, relative to the workspace `root`)."""
    return root / folder / f"{slugify(relative.removesuffix('.py'), limit=80) or 'handoff'}.md"


def existing_handoff(root: Path, relative: str, folder: str) -> Path | None:
    """The hand-off document of `relative` when it has been written (a regular file), else None."""
    document = handoff_path(root, relative, folder)
    try:
        return document if document.is_file() else None
    except OSError:
        return None  # a name too long, a folder we may not read: no document we could link to


def workspace_relative(root: Path, path: Path) -> str:
    """`path` as the workspace shows it: relative to `root` (posix) when inside it, else its file name."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
