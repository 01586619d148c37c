"""The open notebooks' state: one `NotebookStates` per server (`ServerState.notebooks`), its only owner.

A notebook is also one Session document (its module's text, analysis and findings live in its
`DocumentState`); what is kept here is what only a notebook has: which cells the module was built from, where
each cell sits in it, and what was last pushed to each cell. lsp/notebooks.py is the only writer, on the
event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:  # annotations only: the server imports this module before it answers `initialize`
    from pyengineer.findings import Finding
    from pyengineer.lsp import wire
    from pyengineer.notebooks import CellSpan, NotebookModule


def key(uri: str) -> str:
    """A notebook's or cell's URI as pygls keys its documents (unquoted)."""
    return unquote(uri)


@dataclass(frozen=True)
class Layout:
    """The module of one state of the notebook, and the cells it was built from (cell k: `cells[k]`)."""

    module: NotebookModule
    cells: tuple[str, ...]  # the code cells' URIs, in order
    versions: tuple[int | None, ...]  # their versions when the module was built

    def cell_uri(self, span: CellSpan) -> str:
        return self.cells[span.cell]


@dataclass(frozen=True)
class CellPart:
    """One cell's share of the module: its masked text (blank lines if it does not parse) and masked lines."""

    body: str
    masked: frozenset[int]
    broken: tuple[int, int, str] | None  # (line, column, message) of the syntax error that blanked it


@dataclass
class Notebook:
    uri: str
    layout: Layout | None = None
    revision: int = 0  # the Session document's revision `layout` belongs to
    changes: int = 0  # didOpen/didChange received
    built: int = 0  # the change `layout` was built after
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # builds commit in the order changes came
    current: asyncio.Event = field(default_factory=asyncio.Event)  # set while built == changes
    # cell URI -> (version, findings) last pushed; a cell not here was never sent anything.
    pushed: dict[str, tuple[int | None, list[Finding]]] = field(default_factory=dict)
    # cell URI -> the diagnostics as last written to it (wire.DocumentDiagnostics), for the next publish.
    wires: dict[str, wire.DocumentDiagnostics] = field(default_factory=dict)
    by_cell: dict[str, CellSpan] = field(default_factory=dict)  # cell URI (unquoted) -> its span
    parts: dict[str, CellPart] = field(default_factory=dict)  # the last build's cells, by source


class NotebookStates:
    """The open notebooks, by URI, and which notebook each code cell belongs to."""

    def __init__(self) -> None:
        self._by_uri: dict[str, Notebook] = {}  # notebook URI (unquoted) -> its state
        self._cell_owner: dict[str, str] = {}  # cell URI -> notebook URI, both unquoted

    def open(self, uri: str, changes: int) -> Notebook:
        state = self._by_uri[key(uri)] = Notebook(uri=uri, changes=changes)
        return state

    def get(self, uri: str) -> Notebook | None:
        return self._by_uri.get(key(uri))

    def is_open(self, state: Notebook) -> bool:
        """True while `state` is the open notebook of its URI (not closed, nor closed and opened again)."""
        return self._by_uri.get(key(state.uri)) is state

    def close(self, uri: str) -> Notebook | None:
        """Forget the notebook `uri` and its cells; its state, if it was open."""
        state = self._by_uri.pop(key(uri), None)
        if state is not None:
            self._unmap_cells(state)
        return state

    def locate(self, uri: str) -> tuple[Notebook, CellSpan] | None:
        """The open notebook and the span of its cell `uri` (None: not a cell of an open notebook)."""
        owner = self._cell_owner.get(key(uri))
        state = self._by_uri.get(owner) if owner is not None else None
        if state is None:
            return None
        span = state.by_cell.get(key(uri))
        return (state, span) if span is not None else None

    def set_layout(self, state: Notebook, layout: Layout, revision: int, change: int) -> None:
        """Make `layout` (built after change number `change`, at the document's `revision`) the current one."""
        self._unmap_cells(state)
        state.layout, state.revision, state.built = layout, revision, change
        state.by_cell = {key(layout.cell_uri(span)): span for span in layout.module.spans}
        notebook = key(state.uri)
        for cell in state.by_cell:
            self._cell_owner[cell] = notebook
        if state.built == state.changes:
            state.current.set()

    def __len__(self) -> int:
        return len(self._by_uri)

    def _unmap_cells(self, state: Notebook) -> None:
        notebook = key(state.uri)
        for cell in state.by_cell:
            if self._cell_owner.get(cell) == notebook:
                del self._cell_owner[cell]
