"""Walk a workspace once: find markers and the Python files, and the imports that matter in each.

The walk never follows a symlinked folder (so no loops and no escapes from the root) and never descends into
skipped, virtual-environment or gitignored folders. Files are read as bytes and tested with one compiled
regex before anything is decoded or parsed: most files import nothing we care about.
"""

from __future__ import annotations

import ast
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyengineer import parallel
from pyengineer.frameworks import BY_MODULE
from pyengineer.lines import source_lines
from pyengineer.notebooks import NOTEBOOK_SUFFIX, NotebookError, read_notebook
from pyengineer.workspace import safe_io
from pyengineer.workspace.ignore import IgnoreRules, is_skipped_dir_name
from pyengineer.workspace.imports import (
    PARSE_ERRORS,
    ImportRecord,
    import_line_numbers,
    imports_from_tokens,
    imports_from_tree,
    parse_module,
)
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


@lru_cache(maxsize=16)
def prefilter_for(modules: frozenset[str]) -> re.Pattern[bytes]:
    """compile_prefilter, once per set of modules (a check asks for the same one for every file)."""
    return compile_prefilter(modules)


def _continues(data: bytes, newline: int) -> bool:
    """True if the line ending at index `newline` (a newline byte) ends with a backslash continuation."""
    return data[newline - 1 : newline] == b"\\" or data[newline - 2 : newline] == b"\\\r"


def import_lines(data: bytes) -> bytes:
    """The lines of `data` that contain `import` (joined by newlines), with their continuation lines.

    Every import statement and every `import_module(`/`__import__(` call contains the word, so testing only
    these lines finds the same files as testing the whole text, while `bytes.find` skips everything else at
    C speed (a regex over the whole text costs about ten times the read). Backslash continuations are joined
    into one line, so `from torch \\` + newline + `import x` still reads as one statement.
    """
    find, rfind = data.find, data.rfind
    size = len(data)
    lines: list[bytes] = []
    pos = find(b"import")
    while pos != -1:
        start = rfind(b"\n", 0, pos) + 1
        while start >= 2 and _continues(data, start - 1):
            start = rfind(b"\n", 0, start - 1) + 1
        end = find(b"\n", pos)
        while end != -1 and _continues(data, end):
            end = find(b"\n", end + 1)
        if end != -1 and data[start:end].rstrip().endswith(b"("):
            # `import_module(` + newline + `"torch")`: the argument is on the next non-blank line.
            after = end + 1
            while after < size and data[after] in b" \t\r\n":
                after += 1
            end = find(b"\n", after)
        if end == -1:
            end = size
        line = data[start:end]
        lines.append(line.replace(b"\\\n", b" ").replace(b"\\\r\n", b" ") if b"\\" in line else line)
        pos = find(b"import", end)
    return b"\n".join(lines)


def may_import(data: bytes, prefilter: re.Pattern[bytes]) -> bool:
    """True if `data` could import one of the prefilter's modules (never False when it does)."""
    return prefilter.search(import_lines(data)) is not None


@dataclass(frozen=True)
class FileScan:
    """What one Python file imports of interest; `stamp` tells whether the file changed since."""

    path: str
    stamp: tuple[int, int]  # (mtime_ns, size)
    imports: tuple[ImportRecord, ...]


def scan_source(text: str, modules: frozenset[str], tree: ast.AST | None = None) -> tuple[ImportRecord, ...]:
    """The imports of `text` whose top-level module is in `modules`."""
    if tree is None:
        try:
            tree = parse_module(text)
        except PARSE_ERRORS:
            return tuple(r for r in imports_from_tokens(text) if r.top_level in modules)
    # Only the nodes that span a line with `import` are walked: a fraction of a long file.
    found = imports_from_tree(tree, source_lines(text), import_line_numbers(text))
    return tuple(r for r in found if r.top_level in modules)


def scan_notebook(
    root: Path, relative: str, modules: frozenset[str], prefilter: re.Pattern[bytes]
) -> FileScan | None:
    """Scan one notebook's code cells as one module; the imports are placed in their cells. None if it
    cannot be read, is malformed (`pyengineer check` reports that) or is not a Python notebook."""
    path = root / relative
    try:
        notebook = read_notebook(path)
        stat = path.stat()
    except (OSError, NotebookError):
        return None
    if not notebook.is_python:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    if not may_import(notebook.text.encode("utf-8", "surrogatepass"), prefilter):
        return FileScan(relative, stamp, ())
    module = notebook.module()
    placed = []
    for record in scan_source(module.text, modules, module.tree):
        cell, line, _ = module.locate(record.line - 1, record.col)
        placed.append(record.model_copy(update={"line": line + 1, "cell": cell}))
    return FileScan(relative, stamp, tuple(placed))


def scan_file(
    root: Path, relative: str, modules: frozenset[str], prefilter: re.Pattern[bytes]
) -> FileScan | None:
    """Scan one file (a module or a notebook); None if it cannot be read."""
    if relative.endswith(NOTEBOOK_SUFFIX):
        return scan_notebook(root, relative, modules, prefilter)
    path = root / relative
    try:
        # Bounded: a file above MAX_SOURCE_BYTES is skipped, with a warning naming it, and never read.
        data, stat = safe_io.read_file(path, safe_io.MAX_SOURCE_BYTES)
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    if not may_import(data, prefilter):
        return FileScan(relative, stamp, ())
    return FileScan(relative, stamp, scan_source(data.decode("utf-8", errors="replace"), modules))


# Fewer files than this to (re)scan are scanned in this process: a fork and the pickled results cost more
# than a few hundred files' reads (about 0.25 ms each, most of them never parsed) would gain.
PARALLEL_MIN_FILES = 256


def scan_files(
    root: Path,
    relatives: Sequence[str],
    modules: frozenset[str],
    prefilter: re.Pattern[bytes],
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[FileScan | None], int]:
    """`scan_file` of each of `relatives`, in order, and the number of processes forked for it (0: none).

    With `jobs` above 1, at least PARALLEL_MIN_FILES files and a process that may fork (`parallel.fork_is_safe`:
    the command line; never the language server, whose threads make a fork unsafe), the files are spread over
    `jobs` processes, this one included, in chunks balanced by file size; the results are the same as in one
    process, in the same order. `progress(done)` is called as files are done (every 200 in one process; at
    the end when forked).
    """
    total = len(relatives)
    if jobs > 1 and total >= PARALLEL_MIN_FILES and parallel.fork_is_safe():
        mapped = parallel.fork_map(
            relatives,
            lambda relative: scan_file(root, relative, modules, prefilter),
            jobs,
            size=lambda relative: _size(root, relative),
        )
        for name, level, message in mapped.logged:
            # The parent logs what the workers would have: its handlers (stderr, the editor) are here, and
            # safe_io's once-only set, so that `check` reading the same file later does not warn again.
            if name == safe_io.__name__:  # the logger safe_io.warn_once writes to
                safe_io.warn_once(message)
            else:
                logging.getLogger(name).log(level, "%s", message)
        if progress is not None:
            progress(total)
        return mapped.results, mapped.forked
    results: list[FileScan | None] = []
    for i, relative in enumerate(relatives):
        results.append(scan_file(root, relative, modules, prefilter))
        if progress is not None and (i % 200 == 0 or i == total - 1):
            progress(i + 1)
    return results, 0


def _size(root: Path, relative: str) -> int:
    try:
        return os.stat(os.path.join(root, relative)).st_size
    except OSError:
        return 0


@dataclass
class WalkResult:
    python_files: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)  # Jupyter notebooks (.ipynb), apart: they are JSON
    markers: list[Marker] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # every folder walked ("" for the root)


def walk(
    root: Path,
    rules: IgnoreRules,
    on_dir: Callable[[str], None] | None = None,
    on_file: Callable[[str, os.DirEntry[str], bool], None] | None = None,
) -> WalkResult:
    """Every non-ignored Python file, notebook and marker under root (paths relative, posix).

    `on_file(relative, entry, ignored)` sees every file of the walked folders, ignored or not (a regular file,
    or a symlink to a file inside the root): the agent lists its visible files from it, and learns where the
    secret files are.
    """
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
            ignored = rules.is_ignored(relative)
            if on_file is not None:
                on_file(relative, entry, ignored)
            if ignored:
                continue
            if entry.name.endswith((".py", ".pyi")):
                result.python_files.append(relative)
            elif entry.name.endswith(NOTEBOOK_SUFFIX):
                result.notebooks.append(relative)
            # Checked for .py files too: setup.py is both a Python file and a marker.
            kind = marker_kind(entry.name, parent_name)
            if kind is not None:
                result.markers.append(Marker(kind=kind, path=relative))
        stack.extend(sorted(subdirs, reverse=True))
    result.python_files.sort()
    result.notebooks.sort()
    return result
