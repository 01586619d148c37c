"""Conversions between engine values and LSP values, including position encodings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer import names
from pyengineer.engine.registry import load_rules
from pyengineer.findings import Finding, Position, Range, Severity
from pyengineer.lines import LineIndex
from pyengineer.lines import clamped_line as clamped_line  # re-exported: the LSP layer imports them from here
from pyengineer.lines import client_units as client_units
from pyengineer.lines import split_lines as split_lines

SOURCE = names.SOURCE

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


class LineCodec:
    """Convert code-point columns to and from the client's position encoding for one text (the counting is
    `lines.LineIndex`'s; this adds lsprotocol's types)."""

    def __init__(self, text: str, encoding: str) -> None:
        self.index = LineIndex(text)
        self.lines = self.index.lines
        self.encoding = str(getattr(encoding, "value", encoding))

    def to_client(self, position: Position) -> types.Position:
        return types.Position(
            line=clamped_line(self.lines, position.line),
            character=self.index.to_client(position.line, position.character, self.encoding),
        )

    def range_to_client(self, rng: Range) -> types.Range:
        return types.Range(start=self.to_client(rng.start), end=self.to_client(rng.end))

    def from_client(self, position: types.Position) -> Position:
        return Position(
            line=position.line,
            character=self.index.from_client(position.line, position.character, self.encoding),
        )

    def range_from_client(self, rng: types.Range) -> Range:
        return Range(start=self.from_client(rng.start), end=self.from_client(rng.end))


_START = types.Position(line=0, character=0)


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
