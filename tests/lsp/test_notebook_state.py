"""NotebookStates: the open notebooks' own state has one owner per server, and closing drops all of it."""

from __future__ import annotations

from pyengineer.lsp.notebook_state import Layout, NotebookStates
from pyengineer.lsp.server import PyengineerServer
from pyengineer.notebooks import CellSpan, NotebookModule

NB = "file:///w/explore%20it.ipynb"
CELL_A = "vscode-notebook-cell:/w/explore%20it.ipynb#A"
CELL_B = "vscode-notebook-cell:/w/explore%20it.ipynb#B"


def _layout(*cells: str) -> Layout:
    spans = tuple(CellSpan(i, i, 2 * i, 2, frozenset()) for i in range(len(cells)))
    module = NotebookModule("x = 1\n\n" * len(cells), spans, None, (), tuple("x = 1\n" for _ in cells))
    return Layout(module, cells, tuple(1 for _ in cells))


def test_cells_are_located_after_a_layout_and_forgotten_on_close() -> None:
    states = NotebookStates()
    state = states.open(NB, changes=1)
    assert states.locate(CELL_A) is None  # no layout built yet
    states.set_layout(state, _layout(CELL_A, CELL_B), revision=1, change=1)
    assert state.current.is_set()
    found = states.locate(CELL_B)
    assert found is not None and found[0] is state and found[1].first_line == 2
    # The same URIs spelled as pygls keys them (unquoted) find the same state.
    assert states.get("file:///w/explore it.ipynb") is state
    # A cell removed from the notebook is no longer one of its cells.
    states.set_layout(state, _layout(CELL_B), revision=2, change=1)
    assert states.locate(CELL_A) is None
    assert states.close(NB) is state
    assert states.locate(CELL_B) is None and states.get(NB) is None and len(states) == 0
    assert not states.is_open(state)


def test_a_notebook_opened_again_is_a_new_state() -> None:
    states = NotebookStates()
    first = states.open(NB, changes=1)
    states.close(NB)
    second = states.open(NB, changes=1)
    assert not states.is_open(first) and states.is_open(second)


def test_each_server_owns_its_own_notebooks() -> None:
    one, two = PyengineerServer(), PyengineerServer()
    one.notebooks.open(NB, changes=1)
    assert one.notebooks.get(NB) is not None
    assert two.notebooks.get(NB) is None
