"""Findings, fixes and edits: what the engine produces and every front end renders."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# In a module of its own so that config.py (and `pyengineer context`) need not build the models below.
from pyengineer.severity import Severity as Severity


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
    # One plain sentence for the Problems panel and the terminal (about 100 characters, no Markdown).
    message: str
    path: str
    range: Range
    severity: Severity = Severity.WARNING
    fixes: tuple[Fix, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)
    related: tuple[Related, ...] = ()
    # Markdown: why it matters and how to fix it, shown in the editor's hover (plain text where the client
    # renders no Markdown) and in `--format json`.
    detail: str = ""
    # In a notebook (notebooks.py): the cell's index in the file's `cells` array, and `range` is in the
    # cell's own lines. None in a module, and in the module-coordinate findings analysis makes of a notebook.
    cell: int | None = None

    @property
    def line(self) -> int:
        return self.range.start.line

    @property
    def column(self) -> int:
        return self.range.start.character
