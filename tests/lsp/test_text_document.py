"""The server's copy of a document: lines as the editor counts them, and incremental edits applied exactly."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pyengineer.lsp.pygls_compat import LspTextDocument
from pygls.workspace import TextDocument

PIECES = [
    "a",
    "é",
    "😀",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\f",
    "\u2028",
    "\x85",
    "\t",
    "x = 1",
    "\v",
    "abc\n",
    "xyz\r\n",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def _document(text: str) -> LspTextDocument:
    return LspTextDocument(
        "file:///x.py", source=text, version=1, sync_kind=types.TextDocumentSyncKind.Incremental
    )


@given(texts)
def test_lines_are_broken_where_lsp_breaks_them(text: str) -> None:
    # The oracle: LSP's line ends (\r\n, \r, \n) and nothing else, written out here independently.
    assert list(_document(text).lines) == re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


@settings(max_examples=1000)
@given(
    texts,
    st.integers(0, 12),
    st.integers(0, 12),
    st.integers(0, 12),
    st.integers(0, 12),
    st.sampled_from(["", "z", "\n", "y\r\nw", "😀"]),
)
def test_an_incremental_change_gives_what_pygls_line_by_line_rebuild_gives(
    text: str, start_line: int, start_char: int, end_line: int, end_char: int, new_text: str
) -> None:
    def change() -> types.TextDocumentContentChangePartial:
        # a new one each time: pygls' position codec clamps the positions it is given in place
        return types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(start_line, start_char), types.Position(end_line, end_char)),
            text=new_text,
        )

    ours = _document(text)
    ours.apply_change(change())
    reference = _document(text)
    # pygls' own algorithm, over our lines: the result the splice must reproduce
    TextDocument._apply_incremental_change(reference, change())
    assert ours.source == reference.source
