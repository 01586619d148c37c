"""Apply text edits to files: all or nothing per file, refusing overlaps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit, Position
from pyengineer.notebooks import is_notebook, read_notebook, write_notebook
from pyengineer.workspace import safe_io


def offset_of(text: str, position: Position) -> int:
    """The string index of a (0-based line, code-point column) position, clamped to the text."""
    line_start = 0
    for _ in range(position.line):
        newline = text.find("\n", line_start)
        if newline < 0:
            return len(text)
        line_start = newline + 1
    line_end = text.find("\n", line_start)
    if line_end < 0:
        line_end = len(text)
    return min(line_start + position.character, line_end)


def apply_text_edits(text: str, edits: Iterable[Edit]) -> str:
    """`text` with `edits` applied; raises PyengineerError if two edits overlap."""
    spans = sorted(
        ((offset_of(text, e.range.start), offset_of(text, e.range.end), e.new_text) for e in edits),
        key=lambda s: (s[0], s[1]),
    )
    for (_, end, _), (start, _, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise PyengineerError("two edits overlap; apply them one at a time")
    out = []
    cursor = 0
    for start, end, new_text in spans:
        out.append(text[cursor:start])
        out.append(new_text)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def apply_cell_edits(texts: Mapping[int, str], edits: Iterable[Edit]) -> dict[int, str]:
    """The new text of each cell of `texts` (cell -> text) that `edits` (with `Edit.cell` set) change.

    PyengineerError when an edit names a cell that is not there, or two edits overlap.
    """
    by_cell: dict[int, list[Edit]] = {}
    for edit in edits:
        if edit.cell is None or edit.cell not in texts:
            raise PyengineerError(f"an edit names cell {edit.cell}, which is not a code cell of the notebook")
        by_cell.setdefault(edit.cell, []).append(edit)
    return {cell: apply_text_edits(texts[cell], cell_edits) for cell, cell_edits in by_cell.items()}


def _edited_notebook(path: str, edits: list[Edit]) -> str:
    """The JSON text of the notebook at `path` with `edits` (in-cell) applied, its layout kept."""
    notebook = read_notebook(path, follow_symlinks=False, warn=False)
    sources = apply_cell_edits({c.index: c.source for c in notebook.code_cells}, edits)
    return write_notebook(notebook, sources)


def apply_edits_to_files(edits: Iterable[Edit], roots: Iterable[Path]) -> dict[str, str]:
    """Apply edits to files on disk, grouped by path; returns the new text of each file written.

    Edits with `Edit.cell` are in a notebook's cells: the cells are edited and the notebook is written back
    with its JSON layout, outputs and metadata as they were. Every file must be inside one of the workspace
    `roots`, and is written by `safe_io.write_text` (never through a symlink, never outside the root): a
    refused path raises UnsafeFileError naming it.
    """
    roots = list(roots)
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    # Compute every new text, and find each file's root, before writing anything, so one bad file leaves all
    # files untouched.
    results: dict[str, tuple[Path, str]] = {}
    for path, file_edits in by_path.items():
        root = _root_of(path, roots)
        safe_io.check_writable(root, path)
        if is_notebook(path) and any(e.cell is not None for e in file_edits):
            results[path] = root, _edited_notebook(path, file_edits)
            continue
        try:
            # keep_newlines: a fix must not rewrite every line ending of a CRLF file.
            original = safe_io.read_text(
                path,
                safe_io.MAX_EDITED_BYTES,
                follow_symlinks=False,
                warn=False,
                errors="strict",
                keep_newlines=True,
            )
        except FileNotFoundError:
            original = ""
        results[path] = root, apply_text_edits(original, file_edits)
    for path, (root, new_text) in results.items():
        safe_io.write_text(root, path, new_text)
    return {path: text for path, (_, text) in results.items()}


def _root_of(path: str, roots: list[Path]) -> Path:
    for root in roots:
        if safe_io.is_inside(root, path):
            return root
    raise safe_io.UnsafeFileError(path, "is outside the workspace; pyengineer writes only inside it")
