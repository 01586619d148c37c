"""Conversions between engine values and LSP values, including position encodings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer.engine.registry import load_rules
from pyengineer.findings import Finding, Position, Range, Severity

SOURCE = "pyengineer"
# LSP (and Python) end lines at \r\n, \r and \n only; str.splitlines would also split at \f, \x85, U+2028...
LINE_BREAK = re.compile(r"\r\n|\r|\n")

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


_START = types.Position(line=0, character=0)

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def split_lines(text: str) -> list[str]:
    """The lines of `text` as LSP counts them, without their ends (never an empty list)."""
    if "\r" not in text:
        return text.split("\n")  # the same lines, several times faster than the regex
    return LINE_BREAK.split(text)


def client_units(chars: str, encoding: str) -> int:
    """The length of `chars` in the client's position units (code units of `encoding`)."""
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
    """The client column of code-point `character` on `line`, clamped to the line (past the end of the
    document: the end of the last line), so no range ever leaves the document."""
    text = lines[clamped_line(lines, line)] if lines else ""
    if line >= len(lines) or character >= len(text):
        return client_units(text, encoding)
    return client_units(text[: max(0, character)], encoding)


class LineCodec:
    """Convert code-point columns to and from the client's position encoding for one text."""

    def __init__(self, text: str, encoding: str) -> None:
        self.lines = split_lines(text)
        self.encoding = str(getattr(encoding, "value", encoding))

    def _line(self, line: int) -> str:
        if 0 <= line < len(self.lines):
            return self.lines[line]
        return ""

    def _units(self, chars: str) -> int:
        return client_units(chars, self.encoding)

    def to_client(self, position: Position) -> types.Position:
        return types.Position(
            line=clamped_line(self.lines, position.line),
            character=character_to_client(self.lines, position.line, position.character, self.encoding),
        )

    def range_to_client(self, rng: Range) -> types.Range:
        return types.Range(start=self.to_client(rng.start), end=self.to_client(rng.end))

    def from_client(self, position: types.Position) -> Position:
        text = self._line(position.line)
        if self.encoding == UTF32:
            return Position(line=position.line, character=min(position.character, len(text)))
        if text.isascii():
            return Position(line=position.line, character=max(0, min(position.character, len(text))))
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return Position(line=position.line, character=index)
            units += self._units(char)
        return Position(line=position.line, character=len(text))

    def range_from_client(self, rng: types.Range) -> Range:
        return Range(start=self.from_client(rng.start), end=self.from_client(rng.end))


def diagnostic(
    finding: Finding, codec: LineCodec, data: dict[str, Any] | None = None, uri: str | None = None
) -> types.Diagnostic:
    rule = load_rules().get(finding.code)
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=codec.range_to_client(info.range)), message=info.message
        )
        if info.path == finding.path
        # The start of another file (PE201's hand-off document) needs no text of it to convert.
        else types.DiagnosticRelatedInformation(
            location=types.Location(
                uri=Path(info.path).as_uri(), range=types.Range(start=_START, end=_START)
            ),
            message=info.message,
        )
        for info in finding.related
        if uri is not None and (info.path == finding.path or info.range == Range.of(0, 0))
    ]
    return types.Diagnostic(
        range=codec.range_to_client(finding.range),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=rule.url) if rule else None,
        source=SOURCE,
        data=data if data is not None else {"code": finding.code},
        related_information=related or None,
    )


def ranges_overlap(a: Range, b: Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end
