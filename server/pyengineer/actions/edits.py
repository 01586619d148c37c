"""Apply text edits to files: all or nothing per file, refusing overlaps."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit
from pyengineer.lines import LineIndex
from pyengineer.workspace import safe_io


def apply_text_edits(text: str, edits: Iterable[Edit]) -> str:
    """`text` with `edits` applied; raises PyengineerError if two edits overlap."""
    offset_of = LineIndex(text).offset
    spans = sorted(
        ((offset_of(e.range.start), offset_of(e.range.end), e.new_text) for e in edits),
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


def apply_edits_to_files(edits: Iterable[Edit], roots: Iterable[Path]) -> dict[str, str]:
    """Apply edits to files on disk, grouped by path; returns the new text of each file written.

    Every file must be inside one of the workspace `roots`, and is written by `safe_io.write_text` (never
    through a symlink, never outside the root): a refused path raises UnsafeFileError naming it.
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
