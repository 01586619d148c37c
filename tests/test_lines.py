"""`LineIndex` and the line splitters: lines where ast and LSP break them, offsets, and client columns."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyengineer.findings import Position
from pyengineer.lines import (
    UTF8,
    UTF16,
    UTF32,
    LineIndex,
    lines_with_ends,
    source_lines,
    split_lines,
)

# Characters str.splitlines breaks at and Python does not.
NOT_BREAKS = ("\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


@pytest.mark.parametrize("char", NOT_BREAKS)
def test_only_cr_lf_and_crlf_end_a_line(char: str) -> None:
    text = f"a = 1\n# {char}\nb = 2\n"
    assert split_lines(text) == ["a = 1", f"# {char}", "b = 2", ""]
    assert source_lines(text) == ["a = 1", f"# {char}", "b = 2"]
    # ast agrees: `b` is on line 3.
    assert ast.parse(text).body[1].lineno == 3
    assert LineIndex(text).line(2) == "b = 2"


def test_split_and_source_lines_at_the_ends() -> None:
    assert split_lines("") == [""] and source_lines("") == []
    assert split_lines("a\r\nb\rc\n") == ["a", "b", "c", ""]
    assert source_lines("a\r\nb\rc") == ["a", "b", "c"]
    assert lines_with_ends("a\r\nb\rc") == ["a\r\n", "b\r", "c"]


def test_offsets_and_positions_round_trip_and_clamp() -> None:
    text = "héllo\r\nwörld\rlast"
    index = LineIndex(text)
    assert index.starts == [0, 7, 13]
    assert index.offset(Position(line=1, character=2)) == 9
    assert index.offset(Position(line=0, character=99)) == 5  # clamped before the \r\n
    assert index.offset(Position(line=9, character=0)) == len(text)
    assert index.position(9) == Position(line=1, character=2)
    assert index.position(6) == Position(line=0, character=5)  # inside the \r\n: the end of the line
    assert index.position(len(text)) == Position(line=2, character=4)


def test_client_columns_in_every_encoding() -> None:
    index = LineIndex("x = '😀é'\n")
    # 😀 is 4 UTF-8 bytes and 2 UTF-16 units; é 2 bytes and 1 unit.
    assert [index.to_client(0, 7, enc) for enc in (UTF8, UTF16, UTF32)] == [11, 8, 7]
    assert [index.from_client(0, units, enc) for units, enc in ((11, UTF8), (8, UTF16), (7, UTF32))] == [
        7,
        7,
        7,
    ]
    assert index.to_client(5, 0, UTF16) == 0  # past the end: the end of the last (empty) line


@given(st.text(alphabet="ab\r\n\f\u2028é", max_size=30))
def test_lines_join_back_and_offsets_agree_with_positions(text: str) -> None:
    index = LineIndex(text)
    assert "".join(lines_with_ends(text)) == text
    for offset in range(len(text) + 1):
        position = index.position(offset)
        assert index.offset(position) <= offset
        assert (
            index.line(position.line)[: position.character]
            == text[index.starts[position.line] : index.offset(position)]
        )
