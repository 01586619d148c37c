"""Walk a workspace once: find markers and the Python files, and the imports that matter in each.

The walk never follows a symlinked folder (so no loops and no escapes from the root) and never descends into
skipped, virtual-environment or gitignored folders. Files are read as bytes and tested with one compiled
regex before anything is decoded or parsed: most files import nothing we care about.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pyengineer.workspace.frameworks import BY_MODULE
from pyengineer.workspace.ignore import IgnoreRules, is_skipped_dir_name
from pyengineer.workspace.imports import ImportRecord, scan_imports
from pyengineer.workspace.markers import Marker, marker_kind


def interesting_modules(ml_libraries: Iterable[str]) -> frozenset[str]:
    """Top-level modules whose imports the index records: ML libraries and known frameworks."""
    return frozenset(ml_libraries) | frozenset(BY_MODULE)


def compile_prefilter(modules: Iterable[str]) -> re.Pattern[bytes]:
    """A bytes regex that matches any file that could import one of `modules` (a superset, never less)."""
    names = b"|".join(re.escape(m.encode()) for m in sorted(modules, key=len, reverse=True))
    return re.compile(
        rb"\b(?:import|from)\b[^\n;]*?\b(?:" + names + rb")\b"
        rb"|(?:import_module|__import__)\s*\(\s*[rbuRBU]?['\"](?:" + names + rb")\b"
    )


@dataclass(frozen=True)
class FileScan:
    """What one Python file imports of interest; `stamp` tells whether the file changed since."""

    path: str
    stamp: tuple[int, int]  # (mtime_ns, size)
    imports: tuple[ImportRecord, ...]


def scan_source(text: str, modules: frozenset[str], tree: ast.AST | None = None) -> tuple[ImportRecord, ...]:
    """The imports of `text` whose top-level module is in `modules`."""
    return tuple(r for r in scan_imports(text, tree) if r.top_level in modules)


def scan_file(
    root: Path, relative: str, modules: frozenset[str], prefilter: re.Pattern[bytes]
) -> FileScan | None:
    """Scan one file; None if it cannot be read."""
    path = root / relative
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    if not prefilter.search(data):
        return FileScan(relative, stamp, ())
    return FileScan(relative, stamp, scan_source(data.decode("utf-8", errors="replace"), modules))


@dataclass
class WalkResult:
    python_files: list[str] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # every folder walked ("" for the root)


def walk(root: Path, rules: IgnoreRules, on_dir: Callable[[str], None] | None = None) -> WalkResult:
    """Every non-ignored Python file and marker under root (paths relative, posix)."""
    result = WalkResult()
    real_root = os.path.realpath(root)
    stack = [""]
    while stack:
        folder = stack.pop()
        absolute = os.path.join(root, folder) if folder else str(root)
        if folder:
            rules.load_gitignore(folder)
        if on_dir is not None:
            on_dir(folder)
        try:
            entries = list(os.scandir(absolute))
        except OSError:
            # Unreadable folders (permissions, vanished mid-walk) are skipped, never fatal.
            continue
        names = {e.name for e in entries}
        if "pyvenv.cfg" in names and folder:
            result.markers.append(Marker(kind="venv", path=folder))
            continue
        result.folders.append(folder)
        parent_name = folder.rsplit("/", 1)[-1] if folder else ""
        subdirs = []
        for entry in entries:
            relative = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if is_skipped_dir_name(entry.name):
                        if entry.name in (".venv", "venv") or os.path.isfile(
                            os.path.join(entry.path, "pyvenv.cfg")
                        ):
                            result.markers.append(Marker(kind="venv", path=relative))
                        continue
                    if not rules.is_ignored(relative, is_dir=True):
                        subdirs.append(relative)
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not os.path.isfile(target) or os.path.commonpath([real_root, target]) != real_root:
                        continue
                elif not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            if rules.is_ignored(relative):
                continue
            if entry.name.endswith((".py", ".pyi")):
                result.python_files.append(relative)
            # Checked for .py files too: setup.py is both a Python file and a marker.
            kind = marker_kind(entry.name, parent_name)
            if kind is not None:
                result.markers.append(Marker(kind=kind, path=relative))
        stack.extend(sorted(subdirs, reverse=True))
    result.python_files.sort()
    return result
