"""Apply text edits to files: all or nothing per file, refusing overlaps."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit, Position


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


def apply_edits_to_files(edits: Iterable[Edit]) -> dict[str, str]:
    """Apply edits to files on disk, grouped by path; returns the new text of each file written."""
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    # Compute every new text before writing anything, so one bad file leaves all files untouched.
    results: dict[str, str] = {}
    for path, file_edits in by_path.items():
        file = Path(path)
        # newline="" keeps CRLF files CRLF: a fix must not rewrite every line ending.
        original = ""
        if file.exists():
            with open(file, encoding="utf-8", newline="") as handle:
                original = handle.read()
        results[path] = apply_text_edits(original, file_edits)
    for path, new_text in results.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(new_text)
    return results
