"""Findings, fixes and edits: what the engine produces and every front end renders."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"

    @property
    def rank(self) -> int:
        """Higher is more severe: error 3, warning 2, info 1, hint 0 (for `fail-on`)."""
        return _RANK[self]


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1, Severity.HINT: 0}


class Position(BaseModel):
    """A 0-based line and a 0-based column counted in Unicode code points of the line."""

    model_config = ConfigDict(frozen=True)

    line: int
    character: int


class Range(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: Position
    end: Position

    @classmethod
    def of(cls, line: int, col: int, end_line: int | None = None, end_col: int | None = None) -> Range:
        """A range from plain numbers; a missing end makes it empty at the start."""
        return cls(
            start=Position(line=line, character=col),
            end=Position(
                line=line if end_line is None else end_line,
                character=col if end_col is None else end_col,
            ),
        )


class Edit(BaseModel):
    """Replace `range` of the file at `path` (absolute) with `new_text`."""

    model_config = ConfigDict(frozen=True)

    path: str
    range: Range
    new_text: str
    # In a notebook: the cell's index in the file's `cells` array, and `range` is in the cell's own lines.
    cell: int | None = None


class Fix(BaseModel):
    """A way to resolve a finding: text edits to apply, or a command for the front end to run."""

    model_config = ConfigDict(frozen=True)

    title: str
    edits: tuple[Edit, ...] = ()
    command: str | None = None
    arguments: tuple[Any, ...] = ()
    # Safe fixes are applied by `pyengineer check --fix`; unsafe ones only on request in the editor.
    safe: bool = False
    preferred: bool = False


class Related(BaseModel):
    """Another place that belongs to a finding (LSP relatedInformation): the file's other ML imports."""

    model_config = ConfigDict(frozen=True)

    path: str
    range: Range
    message: str
    cell: int | None = None  # as Edit.cell


class Finding(BaseModel):
    """One thing worth telling the user about a place in a file."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    path: str
    range: Range
    severity: Severity = Severity.WARNING
    fixes: tuple[Fix, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)
    related: tuple[Related, ...] = ()
    # In a notebook (notebooks.py): the cell's index in the file's `cells` array, and `range` is in the
    # cell's own lines. None in a module, and in the module-coordinate findings analysis makes of a notebook.
    cell: int | None = None

    @property
    def line(self) -> int:
        return self.range.start.line

    @property
    def column(self) -> int:
        return self.range.start.character
