"""Notebook documents (LSP 3.17 `notebookDocument/*`): a notebook's code cells analysed as one module.

The notebook is one Session document, keyed by the notebook's URI, whose text is the module the notebook
core builds from its Python code cells (magics masked). So everything a document has, a notebook has too:
debouncing, the incremental analysis, the stale-revision checks, republishing after a branch switch, PE101
and PE201. Only the edges differ:

- diagnostics are pushed per cell URI, with in-cell ranges (`DocumentState.publisher`), and only to the cells
  whose diagnostics changed; a removed cell and a closed notebook get theirs cleared;
- code actions and hovers asked for a cell are asked of the module (the position moved down to the cell's
  first module line) and their edits and ranges moved back into the cell (`wrap_cell_features`). An edit
  that would span two cells cannot be expressed in either: that action is left out.

The cells' texts are pygls' (it applies each cell's incremental changes before our handlers run); a keystroke
in one cell rebuilds only that cell's part of the module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from lsprotocol import types

from pyengineer.findings import Finding
from pyengineer.lsp import publishing, wire, workspaces
from pyengineer.lsp.convert import client_units
from pyengineer.lsp.handlers import ask
from pyengineer.lsp.notebook_state import CellPart, Layout, Notebook
from pyengineer.lsp.notebook_state import key as _key
from pyengineer.lsp.server import PyengineerServer
from pyengineer.notebooks import BrokenCell, CellSpan, NotebookModule, mask_ipython
from pyengineer.session import DocumentSnapshot
from pyengineer.workspace.imports import PARSE_ERRORS, parse_module

log = logging.getLogger(__name__)

PYTHON = "python"
# How long a request about a cell waits for the module of the latest change to be built.
BUILD_WAIT = 10.0


def _code_cells(ls: PyengineerServer, uri: str) -> list[tuple[str, str, int | None]]:
    """(cell URI, source, version) of the notebook's Python code cells, in order, from pygls' copy."""
    notebook = ls.workspace.get_notebook_document(notebook_uri=uri)
    if notebook is None:
        return []
    cells = []
    documents = ls.workspace.text_documents
    for cell in notebook.cells:
        if cell.kind != types.NotebookCellKind.Code:
            continue
        document = documents.get(_key(cell.document))
        if document is None or (document.language_id or PYTHON) != PYTHON:
            continue
        cells.append((cell.document, document.source, document.version))
    return cells


def _part(source: str) -> CellPart:
    """Mask the cell's IPython syntax and parse it alone: Jupyter runs a cell by itself, so a cell that parses
    alone parses in the module, and a broken one is blanked (the others are checked in full)."""
    body, masked = mask_ipython(source)
    try:
        parse_module(body)
    except SyntaxError as exc:
        lines = source.count("\n") + 1
        where = (max((exc.lineno or 1) - 1, 0), max((exc.offset or 1) - 1, 0), exc.msg)
        return CellPart("\n" * (lines - 1), frozenset(range(lines)), where)
    except PARSE_ERRORS:
        pass  # too deep or too large to parse: the analysis says what it says of such code
    return CellPart(body, masked, None)


def _build(
    cells: list[tuple[str, str, int | None]], parts: dict[str, CellPart]
) -> tuple[Layout, dict[str, CellPart]]:
    """The module of the cells (a worker thread). `parts`: the last build's, by cell source: a keystroke
    masks and parses only the cell it changed, where `NotebookModule.from_cells` would do the whole notebook
    (5,000 lines: ~0.3 s of the keystroke)."""
    kept: dict[str, CellPart] = {}
    spans: list[CellSpan] = []
    broken: list[BrokenCell] = []
    bodies: list[str] = []
    originals: list[str] = []
    line = 0
    for position, (_, raw, _) in enumerate(cells):
        source = raw.replace("\r\n", "\n").replace("\r", "\n") if "\r" in raw else raw
        part = kept.get(source) or parts.get(source) or _part(source)
        kept[source] = part
        count = source.count("\n") + 1
        spans.append(CellSpan(position, position, line, count, part.masked))
        if part.broken is not None:
            broken.append(BrokenCell(position, *part.broken))
        bodies.append(part.body)
        originals.append(source)
        line += count
    module = NotebookModule("\n".join(bodies), tuple(spans), None, tuple(broken), tuple(originals))
    layout = Layout(module, tuple(uri for uri, _, _ in cells), tuple(version for _, _, version in cells))
    return layout, kept


async def _rebuild(ls: PyengineerServer, state: Notebook, version: int | None, first: bool = False) -> None:
    """Build the module of the notebook as it is now and make it the Session document's text."""
    change = state.changes
    async with state.lock:
        if not ls.notebooks.is_open(state):
            return  # closed meanwhile
        layout, state.parts = await ls.run_sync(_build, _code_cells(ls, state.uri), state.parts)
        if not ls.notebooks.is_open(state):
            return
        if first:
            doc = ls.session.open_document(state.uri, layout.module.text, version)
        elif (doc := ls.session.documents.get(state.uri)) is not None:
            if doc.text != layout.module.text or state.layout is None or state.layout.cells != layout.cells:
                doc = ls.session.change_document(state.uri, layout.module.text, version)
        if doc is None:
            if first:
                log.info("notebook %s is not a file: not analysed", state.uri)
                ls.notebooks.close(state.uri)
            return
        ls.notebooks.set_layout(state, layout, doc.revision, change)
    if first:
        doc.publisher = publish
        await workspaces.ensure_loaded(ls, ls.session.workspace_for(doc.path))
    publishing.schedule(ls, state.uri, 0 if first else None)


# --- diagnostics -----------------------------------------------------------------------------------------


def split_by_cell(
    layout: Layout, snapshot: DocumentSnapshot, findings: list[Finding]
) -> dict[str, list[Finding]]:
    """The module's findings as in-cell findings, by cell URI (every code cell has an entry).

    Only the notebook's own findings: one located in another file (a test run's) is not shown in a cell.
    """
    by_cell: dict[str, list[Finding]] = {uri: [] for uri in layout.cells}
    own = [finding for finding in findings if finding.path == snapshot.path]
    for finding in layout.module.to_cells(own):
        if finding.cell is not None:
            by_cell[layout.cells[finding.cell]].append(finding)
    return by_cell


def publish(ls: PyengineerServer, snapshot: DocumentSnapshot, findings: list[Finding]) -> None:
    """Push the module's findings to the cells whose diagnostics changed (DocumentState.publisher)."""
    state = ls.notebooks.get(snapshot.uri)
    if state is None or state.layout is None or state.revision != snapshot.revision:
        return  # not the layout these findings were computed for: the newer revision's analysis publishes
    if state.built != state.changes:
        return  # a cell has changed since: its module is being built, and its analysis will publish
    layout = state.layout
    for (cell_uri, cell_findings), version in zip(
        split_by_cell(layout, snapshot, findings).items(), layout.versions, strict=True
    ):
        if state.pushed.get(cell_uri) == (version, cell_findings):
            continue
        state.pushed[cell_uri] = (version, cell_findings)
        text = layout.module.originals[layout.cells.index(cell_uri)]
        written = state.wires.get(cell_uri)
        if written is None or written.encoding != ls.position_encoding:
            written = state.wires[cell_uri] = wire.DocumentDiagnostics(cell_uri, ls.position_encoding)
        wire.publish_diagnostics(ls, written, text, version, cell_findings)


def _clear_cell(ls: PyengineerServer, state: Notebook, cell_uri: str) -> None:
    if state.pushed.pop(cell_uri, None) is not None:
        state.wires.pop(cell_uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell_uri, diagnostics=[]))


# --- handlers --------------------------------------------------------------------------------------------


def register(server: PyengineerServer) -> None:
    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    async def did_open(ls: PyengineerServer, params: types.DidOpenNotebookDocumentParams) -> None:
        # pygls has put the notebook and its cells into its workspace.
        notebook = params.notebook_document
        state = ls.notebooks.open(notebook.uri, changes=1)
        await _rebuild(ls, state, notebook.version, first=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    async def did_change(ls: PyengineerServer, params: types.DidChangeNotebookDocumentParams) -> None:
        # pygls has applied the change (cells added, removed, edited) to its copy.
        state = ls.notebooks.get(params.notebook_document.uri)
        if state is None:
            return
        state.changes += 1
        state.current.clear()
        structure = params.change.cells.structure if params.change.cells is not None else None
        for closed in (structure.did_close or []) if structure is not None else []:
            _clear_cell(ls, state, closed.uri)
        await _rebuild(ls, state, params.notebook_document.version)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    async def did_save(ls: PyengineerServer, params: types.DidSaveNotebookDocumentParams) -> None:
        doc = ls.session.documents.get(params.notebook_document.uri)
        if doc is None:
            return
        state = ls.session.workspace_for(doc.path)
        if str(state.root) not in ls.watchers and state.index is not None:
            await ls.run_sync(state.index.update, [doc.path])
        # The saved notebook is now dirty in git's eyes; git state decides PE101 for it.
        await workspaces.refresh_git(ls, state)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def did_close(ls: PyengineerServer, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        state = ls.notebooks.close(uri)
        publishing.clear(ls, ls.session.close_document(uri), uri)
        if state is None:
            return
        for cell_uri in list(state.pushed):
            _clear_cell(ls, state, cell_uri)

    wrap_cell_features(server)


# --- requests about a cell -------------------------------------------------------------------------------


def _shift_position(position: types.Position, by: int) -> types.Position:
    return types.Position(line=position.line + by, character=position.character)


def _shift_range(rng: types.Range, by: int) -> types.Range:
    return types.Range(start=_shift_position(rng.start, by), end=_shift_position(rng.end, by))


def _cell_range(
    module: NotebookModule, rng: types.Range, encoding: str
) -> tuple[CellSpan, types.Range] | None:
    """A module range (client units) as a range in one cell; None when it spans cells or touches a masked
    IPython line (whose module text is not the cell's). A range ending at the very start of the next cell
    (a whole last line) ends at the end of its cell instead."""
    span = module.cell_at(rng.start.line)
    if span is None:
        return None
    end_line, end_character = rng.end.line, rng.end.character
    if end_line >= span.end_line:
        if end_line != span.end_line or end_character != 0:
            return None
        end_line = span.end_line - 1
        end_character = client_units(module.originals[span.position].split("\n")[-1], encoding)
    first = span.first_line
    if any(line - first in span.masked for line in range(rng.start.line, end_line + 1)):
        return None
    return span, types.Range(
        start=types.Position(line=rng.start.line - first, character=rng.start.character),
        end=types.Position(line=end_line - first, character=end_character),
    )


def _to_cell_edits(
    ls: PyengineerServer, layout: Layout, edits: Sequence[Any]
) -> dict[str, list[types.TextEdit]] | None:
    """Module text edits as edits of the cells they fall in (None: one cannot be placed in a cell)."""
    by_cell: dict[str, list[types.TextEdit]] = {}
    for edit in edits:
        placed = _cell_range(layout.module, edit.range, ls.position_encoding)
        if placed is None:
            return None
        span, rng = placed
        by_cell.setdefault(layout.cell_uri(span), []).append(
            types.TextEdit(range=rng, new_text=edit.new_text)
        )
    return by_cell


def _cell_workspace_edit(
    ls: PyengineerServer, state: Notebook, layout: Layout, edit: types.WorkspaceEdit
) -> types.WorkspaceEdit | None:
    """`edit` with the notebook module's edits addressed to its cells (None when that cannot be done)."""
    notebook = _key(state.uri)
    versions = dict(zip(layout.cells, layout.versions, strict=True))
    if edit.document_changes is not None:
        changes: list[Any] = []
        for change in edit.document_changes:
            if not isinstance(change, types.TextDocumentEdit) or _key(change.text_document.uri) != notebook:
                changes.append(change)
                continue
            cells = _to_cell_edits(ls, layout, change.edits)
            if cells is None:
                return None
            changes.extend(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=cell_uri, version=versions[cell_uri]
                    ),
                    edits=list(cell_edits),
                )
                for cell_uri, cell_edits in cells.items()
            )
        return types.WorkspaceEdit(document_changes=changes, change_annotations=edit.change_annotations)
    if edit.changes is not None:
        by_uri: dict[str, Sequence[types.TextEdit]] = {}
        for uri, text_edits in edit.changes.items():
            if _key(uri) != notebook:
                by_uri[uri] = text_edits
                continue
            cells = _to_cell_edits(ls, layout, text_edits)
            if cells is None:
                return None
            by_uri.update(cells)
        return types.WorkspaceEdit(changes=by_uri, change_annotations=edit.change_annotations)
    return edit


async def _current(state: Notebook) -> Layout | None:
    """The layout of the notebook's latest change, once built (the last one built, if that takes too long)."""
    if not state.current.is_set():
        try:
            await asyncio.wait_for(state.current.wait(), BUILD_WAIT)
        except TimeoutError:
            log.warning("the module of %s is still being built; answering from the last one", state.uri)
    return state.layout


async def _locate_current(ls: PyengineerServer, uri: str) -> tuple[Notebook, Layout, CellSpan] | None:
    found = ls.notebooks.locate(uri)
    if found is None:
        return None
    layout = await _current(found[0])
    found = ls.notebooks.locate(uri)  # the cell may have moved in the module meanwhile
    if found is None or layout is None:
        return None
    return found[0], layout, found[1]


# The agent's actions (handlers/ask.py) carry a range of the text they were asked about, and the agent edits
# that file: in a notebook that would be the .ipynb file's JSON, at the module's lines. Not offered in cells.


def _agent_action(action: Any) -> bool:
    data = getattr(action, "data", None)
    command = getattr(action, "command", None)
    return (isinstance(data, dict) and data.get("resolver") == ask.RESOLVER) or (
        getattr(command, "command", command) == ask.ASK_COMMAND
    )


def _cell_action(ls: PyengineerServer, state: Notebook, layout: Layout, action: Any) -> Any:
    """A code action computed on the module, its edit addressed to the cells (None: it cannot be)."""
    if _agent_action(action):
        return None
    if isinstance(action, types.CodeAction) and action.edit is not None:
        edit = _cell_workspace_edit(ls, state, layout, action.edit)
        if edit is None:
            log.debug("leaving out %r: its edit cannot be placed in notebook cells", action.title)
            return None
        action.edit = edit
    return action


Handler = Callable[..., Awaitable[Any]]


def _code_action(original: Handler) -> Handler:
    async def code_action(ls: PyengineerServer, params: types.CodeActionParams) -> Any:
        found = await _locate_current(ls, params.text_document.uri)
        if found is None:
            return await original(ls, params)
        state, layout, span = found
        moved = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=state.uri),
            range=_shift_range(params.range, span.first_line),
            context=params.context,
            work_done_token=params.work_done_token,
            partial_result_token=params.partial_result_token,
        )
        actions = await original(ls, moved)
        if actions is None:
            return None
        kept = [a for a in (_cell_action(ls, state, layout, action) for action in actions) if a is not None]
        return kept or None

    return code_action


def _resolve(original: Handler) -> Handler:
    async def resolve(ls: PyengineerServer, action: types.CodeAction) -> Any:
        # Actions listed for a cell carry the notebook's URI in their data (they were made on the module).
        data: Any = action.data
        uri = data.get("uri") if isinstance(data, dict) else None
        state = ls.notebooks.get(uri) if isinstance(uri, str) else None
        layout = await _current(state) if state is not None else None
        resolved = await original(ls, action)
        if state is None or layout is None:
            return resolved
        return _cell_action(ls, state, layout, resolved) or action

    return resolve


def _hover(original: Handler) -> Handler:
    async def hover(ls: PyengineerServer, params: types.HoverParams) -> Any:
        found = await _locate_current(ls, params.text_document.uri)
        if found is None:
            return await original(ls, params)
        state, _, span = found
        moved = types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=state.uri),
            position=_shift_position(params.position, span.first_line),
            work_done_token=params.work_done_token,
        )
        result = await original(ls, moved)
        if isinstance(result, types.Hover) and result.range is not None:
            result.range = _shift_range(result.range, -span.first_line)
        return result

    return hover


CELL_FEATURES: dict[str, Callable[[Handler], Handler]] = {
    types.TEXT_DOCUMENT_CODE_ACTION: _code_action,
    types.CODE_ACTION_RESOLVE: _resolve,
    types.TEXT_DOCUMENT_HOVER: _hover,
}


def wrap_cell_features(server: PyengineerServer) -> None:
    """Make the code action, resolve and hover handlers (registered before this module) answer for cells."""
    from pyengineer.lsp.handlers import replace_feature

    for method, wrap in CELL_FEATURES.items():
        registered = server.protocol.fm.features.get(method)
        # pygls keeps the handler wrapped to pass the server; `func` is the handler itself.
        original = getattr(registered, "func", registered)
        if original is None:
            log.error("no %s handler to extend to notebook cells", method)
            continue
        replace_feature(server, method, wrap(original))
