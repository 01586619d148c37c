"""Applying text edits: positions in code points, several edits at once, overlaps refused, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.actions.edits import apply_edits_to_files, apply_text_edits
from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit, Position, Range
from pyengineer.lines import LineIndex


def edit(path: str, line: int, col: int, end_line: int, end_col: int, text: str) -> Edit:
    return Edit(path=path, range=Range.of(line, col, end_line, end_col), new_text=text)


@pytest.mark.parametrize(
    ("line", "character", "offset"),
    [(0, 0, 0), (0, 3, 3), (0, 99, 5), (1, 2, 8), (2, 0, 11), (9, 0, 11)],
)
def test_offset_of_clamps_to_the_line_and_the_text(line: int, character: int, offset: int) -> None:
    assert LineIndex("héllo\nwörld").offset(Position(line=line, character=character)) == offset


def test_several_edits_apply_against_the_original_positions() -> None:
    text = "import os\nimport sys\nx = 1\n"
    edits = [edit("f", 1, 7, 1, 10, "json"), edit("f", 0, 0, 0, 0, "# head\n"), edit("f", 2, 4, 2, 5, "2")]
    assert apply_text_edits(text, edits) == "# head\nimport os\nimport json\nx = 2\n"


def test_columns_are_code_points() -> None:
    assert apply_text_edits("é😀 = 1\n", [edit("f", 0, 2, 0, 2, "x")]) == "é😀x = 1\n"


def test_overlapping_edits_are_refused() -> None:
    with pytest.raises(PyengineerError, match="overlap"):
        apply_text_edits("abcdef", [edit("f", 0, 0, 0, 3, "x"), edit("f", 0, 2, 0, 4, "y")])


def test_files_are_written_all_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    bad = tmp_path / "bad.py"
    good.write_text("a = 1\n")
    bad.write_text("b = 2\n")
    edits = [
        edit(str(good), 0, 4, 0, 5, "10"),
        edit(str(bad), 0, 0, 0, 1, "x"),
        edit(str(bad), 0, 0, 0, 2, "y"),  # overlaps the one before
    ]
    with pytest.raises(PyengineerError):
        apply_edits_to_files(edits, [tmp_path])
    assert good.read_text() == "a = 1\n"
    assert bad.read_text() == "b = 2\n"
    written = apply_edits_to_files(edits[:2], [tmp_path])
    assert good.read_text() == "a = 10\n"
    assert bad.read_text() == "x = 2\n"
    assert written == {str(good): "a = 10\n", str(bad): "x = 2\n"}


def test_an_edit_to_a_missing_file_creates_it(tmp_path: Path) -> None:
    target = tmp_path / "new" / "module.py"
    apply_edits_to_files([edit(str(target), 0, 0, 0, 0, "X = 1\n")], [tmp_path])
    assert target.read_text() == "X = 1\n"
