"""Lines as Python and LSP count them, and positions in them: one `LineIndex` for every layer.

`ast`, the tokenizer and LSP end a line at `\\r\\n`, `\\r` and `\\n` only. `str.splitlines` also ends one at
`\\f`, `\\v`, `\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029, which are ordinary characters to Python: splitting
with it shifts every line number after one of them (a form feed between two functions is common in older
code), so nothing that turns a line number into a place uses it.

This module sits beside `findings.py` at the base of the package (it imports nothing of pyengineer's but
`findings`): the workspace scan, the engine, the LSP position codec, actions, the test runner and the
agent's tools all count lines with it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyengineer.findings import Position, Range

LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A line with its end; the last line only when it is not empty.
_LINE_WITH_END = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Where str.splitlines breaks a line and LSP (and Python) do not.
_SPLITLINES_ONLY = ("\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")

# Position encodings (LSP `PositionEncodingKind` values): what a column counts.
UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def split_lines(text: str) -> list[str]:
    """The lines of `text` as LSP counts them, without their ends: n line breaks give n + 1 lines (never an
    empty list; the last one is "" when the text ends with a line break)."""
    if "\r" not in text:
        return text.split("\n")  # the same lines, several times faster than the regex
    return LINE_BREAK.split(text)


def source_lines(text: str) -> list[str]:
    """The lines of `text` as Python counts them: `split_lines` without the empty line after a final break
    ("" has no lines)."""
    lines = split_lines(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def lines_with_ends(text: str) -> list[str]:
    """The lines of `text` with their line breaks; `"".join` of them is `text`."""
    # str.splitlines is 5x faster than the regex, and the same unless the text holds one of the other
    # characters it breaks at (each `in` is one C scan).
    if not any(c in text for c in _SPLITLINES_ONLY):
        return text.splitlines(True)
    lines: list[str] = _LINE_WITH_END.findall(text)
    return lines


def line_ending(text: str) -> str:
    """The one line ending `text` uses ("\\n" or "\\r\\n"), or "" when it mixes them: then its `split_lines`
    joined back cannot rebuild it."""
    if "\r" not in text:
        return "\n"
    if text.count("\r") == text.count("\r\n") == text.count("\n"):
        return "\r\n"
    return ""


def char_column(lines: list[str], line: int, byte_col: int) -> int:
    """Convert ast's UTF-8 byte column on 1-based `line` to a code-point column."""
    if 0 < line <= len(lines):
        text = lines[line - 1]
        if not text.isascii():
            return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
    return byte_col


def client_units(chars: str, encoding: str) -> int:
    """The length of `chars` in code units of `encoding` (an LSP position encoding)."""
    if encoding == UTF32 or chars.isascii():
        return len(chars)
    if encoding == UTF8:
        return len(chars.encode("utf-8", errors="surrogatepass"))
    return len(chars.encode("utf-16-le", errors="surrogatepass")) // 2


def clamped_line(lines: list[str], line: int) -> int:
    """The line a position on `line` is shown on: negative lines go to the first, past the end to the last."""
    last = len(lines) - 1
    return line if 0 <= line <= last else (0 if line < 0 or last < 0 else last)


def character_to_client(lines: list[str], line: int, character: int, encoding: str) -> int:
    """The column in `encoding` units of code-point `character` on `line`, clamped to the line (past the end
    of the document: the end of the last line), so no range ever leaves the document."""
    text = lines[clamped_line(lines, line)] if lines else ""
    if line >= len(lines) or character >= len(text):
        return client_units(text, encoding)
    return client_units(text[: max(0, character)], encoding)


def character_from_client(text: str, units: int, encoding: str) -> int:
    """The code-point column on the line `text` of a column counted in `encoding` units, clamped to the line."""
    if encoding == UTF32 or text.isascii():
        return max(0, min(units, len(text)))
    counted = 0
    for index, char in enumerate(text):
        if counted >= units:
            return index
        counted += client_units(char, encoding)
    return len(text)


class LineIndex:
    """One text's lines, line starts and columns: (0-based line, code-point column) <-> string offset, and
    columns in UTF-8/16/32 units for LSP clients."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = split_lines(text)  # LSP's lines, without their ends

    def line(self, line: int) -> str:
        """The text of 0-based `line` without its end, or "" outside the text."""
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    @cached_property
    def starts(self) -> list[int]:
        """The offset where each line starts."""
        return [0, *(match.end() for match in LINE_BREAK.finditer(self.text))]

    def offset(self, position: Position) -> int:
        """The string index of a position, clamped to its line (a line past the end: the end of the text)."""
        if position.line < 0:
            return 0
        if position.line >= len(self.lines):
            return len(self.text)
        start = self.starts[position.line]
        return start + max(0, min(position.character, len(self.lines[position.line])))

    def position(self, offset: int) -> Position:
        """The (0-based line, code-point column) of a string index (clamped to the text)."""
        from pyengineer.findings import Position  # (lazily: the scan reads lines with no finding model)

        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        return Position(line=line, character=min(offset - self.starts[line], len(self.lines[line])))

    def content_range(self, line: int) -> Range:
        """0-based `line` from its first non-blank character to its end (empty past the text)."""
        from pyengineer.findings import Range

        text = self.line(line)
        return Range.of(line, len(text) - len(text.lstrip()), line, len(text))

    def to_client(self, line: int, character: int, encoding: str) -> int:
        """The `encoding` column of code-point `character` on `line` (see `character_to_client`)."""
        return character_to_client(self.lines, line, character, encoding)

    def from_client(self, line: int, units: int, encoding: str) -> int:
        """The code-point column of a column in `encoding` units on `line`."""
        return character_from_client(self.line(line), units, encoding)
