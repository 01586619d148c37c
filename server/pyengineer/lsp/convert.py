"""Conversions between engine values and LSP values, including position encodings."""

from __future__ import annotations

import re
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


class LineCodec:
    """Convert code-point columns to and from the client's position encoding for one text."""

    def __init__(self, text: str, encoding: str) -> None:
        self.lines = LINE_BREAK.split(text)
        self.encoding = str(getattr(encoding, "value", encoding))

    def _line(self, line: int) -> str:
        if 0 <= line < len(self.lines):
            return self.lines[line]
        return ""

    def _units(self, chars: str) -> int:
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(chars.encode("utf-8", errors="surrogatepass"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return len(chars)
        return len(chars.encode("utf-16-le", errors="surrogatepass")) // 2

    def to_client(self, position: Position) -> types.Position:
        line = max(0, min(position.line, max(len(self.lines) - 1, 0)))
        text = self._line(line)
        if position.line >= len(self.lines):
            # Past the end: clamp to the end of the last line, so no range ever leaves the document.
            return types.Position(line=line, character=self._units(text))
        return types.Position(line=line, character=self._units(text[: max(0, position.character)]))

    def range_to_client(self, rng: Range) -> types.Range:
        return types.Range(start=self.to_client(rng.start), end=self.to_client(rng.end))

    def from_client(self, position: types.Position) -> Position:
        text = self._line(position.line)
        if self.encoding == types.PositionEncodingKind.Utf32:
            return Position(line=position.line, character=min(position.character, len(text)))
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return Position(line=position.line, character=index)
            units += self._units(char)
        return Position(line=position.line, character=len(text))

    def range_from_client(self, rng: types.Range) -> Range:
        return Range(start=self.from_client(rng.start), end=self.from_client(rng.end))


def diagnostic(finding: Finding, codec: LineCodec, data: dict[str, Any] | None = None) -> types.Diagnostic:
    rule = load_rules().get(finding.code)
    return types.Diagnostic(
        range=codec.range_to_client(finding.range),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=rule.url) if rule else None,
        source=SOURCE,
        data=data if data is not None else {"code": finding.code},
    )


def ranges_overlap(a: Range, b: Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end
