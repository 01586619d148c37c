"""Notebook documents through the real server: a client sending notebookDocument/didOpen, didChange (a cell's
text, a cell added, a cell removed) and didClose; diagnostics per cell URI with in-cell ranges, code actions
and hovers asked for a cell, PE101/PE201 for a notebook on a protected branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp.conftest import code_actions_on, lsp_session, make_repo, wait_for

pytestmark = pytest.mark.timeout(90)

CODE = types.NotebookCellKind.Code
MARKUP = types.NotebookCellKind.Markup


def notebook_capabilities() -> types.ClientCapabilities:
    """VS Code's capabilities, with notebook document sync (pytest-lsp's copy of them leaves it out)."""
    caps = client_capabilities("visual-studio-code")
    caps.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities(execution_summary_support=True)
    )
    return caps


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """A real nbformat 4 file of (cell_type, source) cells, with an output and metadata."""
    data = {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source.splitlines(True)}
            | (
                {
                    "execution_count": 1,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
                }
                if kind == "code"
                else {}
            )
            for kind, source in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def cell_uri(path: Path, index: int) -> str:
    # VS Code's form: the notebook's path with a fragment naming the cell.
    return f"vscode-notebook-cell:{path}#W{index}sZmlsZQ%3D%3D"


class Client:
    """Sends a notebook's cells as VS Code does, keeping its cell URIs and versions."""

    def __init__(self, lsp: LanguageClient, path: Path) -> None:
        self.lsp = lsp
        self.path = path
        self.uri = path.as_uri()
        self.version = 1
        self.cells: list[tuple[str, types.NotebookCellKind]] = []
        self.versions: dict[str, int] = {}
        self.created = 0

    def _item(
        self, kind: types.NotebookCellKind, text: str
    ) -> tuple[types.NotebookCell, types.TextDocumentItem]:
        uri = cell_uri(self.path, self.created)
        self.created += 1
        self.versions[uri] = 1
        language = "python" if kind == CODE else "markdown"
        return types.NotebookCell(kind=kind, document=uri), types.TextDocumentItem(
            uri=uri, language_id=language, version=1, text=text
        )

    def open(self, cells: list[tuple[types.NotebookCellKind, str]]) -> list[str]:
        made = [self._item(kind, text) for kind, text in cells]
        self.cells = [(cell.document, cell.kind) for cell, _ in made]
        self.lsp.notebook_document_did_open(
            types.DidOpenNotebookDocumentParams(
                notebook_document=types.NotebookDocument(
                    uri=self.uri,
                    notebook_type="jupyter-notebook",
                    version=self.version,
                    cells=[c for c, _ in made],
                ),
                cell_text_documents=[item for _, item in made],
            )
        )
        return [cell.document for cell, _ in made]

    def _change(self, cells: types.NotebookDocumentCellChanges) -> None:
        self.version += 1
        self.lsp.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                change=types.NotebookDocumentChangeEvent(cells=cells),
            )
        )

    def edit(self, uri: str, line: int, start: int, end: int, text: str) -> None:
        """An incremental edit of one cell's text, as a keystroke sends it."""
        self.versions[uri] += 1
        rng = types.Range(
            start=types.Position(line=line, character=start), end=types.Position(line=line, character=end)
        )
        self._change(
            types.NotebookDocumentCellChanges(
                text_content=[
                    types.NotebookDocumentCellContentChanges(
                        document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                        changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
                    )
                ]
            )
        )

    def insert(self, at: int, kind: types.NotebookCellKind, text: str) -> str:
        cell, item = self._item(kind, text)
        self.cells.insert(at, (cell.document, kind))
        self._change(
            types.NotebookDocumentCellChanges(
                structure=types.NotebookDocumentCellChangeStructure(
                    array=types.NotebookCellArrayChange(start=at, delete_count=0, cells=[cell]),
                    did_open=[item],
                )
            )
        )
        return cell.document

    def remove(self, at: int) -> str:
        uri, _ = self.cells.pop(at)
        self._change(
            types.NotebookDocumentCellChanges(
                structure=types.NotebookDocumentCellChangeStructure(
                    array=types.NotebookCellArrayChange(start=at, delete_count=1),
                    did_close=[types.TextDocumentIdentifier(uri=uri)],
                )
            )
        )
        return uri

    def close(self) -> None:
        self.lsp.notebook_document_did_close(
            types.DidCloseNotebookDocumentParams(
                notebook_document=types.NotebookDocumentIdentifier(uri=self.uri),
                cell_text_documents=[types.TextDocumentIdentifier(uri=uri) for uri, _ in self.cells],
            )
        )


def found(lsp: LanguageClient, uri: str) -> list[tuple[str, int, int, int, int]]:
    """(code, start line, start character, end line, end character) of the diagnostics last pushed for `uri`."""
    return sorted(
        (str(d.code), d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character)
        for d in lsp.diagnostics.get(uri, [])
    )


def codes_of(lsp: LanguageClient, uri: str) -> list[str]:
    return [code for code, *_ in found(lsp, uri)]


async def wait_codes(lsp: LanguageClient, uri: str, expected: list[str]) -> None:
    await wait_for(lambda: codes_of(lsp, uri) == expected, timeout=20)


BARE_EXCEPT = "try:\n    pass\nexcept:\n    pass\n"


async def test_cells_get_in_cell_diagnostics_and_follow_edits_additions_and_removals(tmp_path: Path) -> None:
    # On a feature branch: no PE101 in the way.
    repo = make_repo(
        tmp_path / "repo", {"pyproject.toml": "[project]\nname = 'demo'\n"}, branch="feature/explore"
    )
    path = repo / "explore.ipynb"
    write_notebook(path, [("markdown", "# Explore\n"), ("code", "import os\n")])
    async with lsp_session([repo], capabilities=notebook_capabilities()) as lsp:
        sync = lsp.server_capabilities.notebook_document_sync  # type: ignore[attr-defined]
        assert sync is not None and sync.notebook_selector[0].notebook == "jupyter-notebook"
        client = Client(lsp, path)
        title, first, magic, last = client.open(
            [
                (MARKUP, "# Explore\n\nSome *markdown* with except: in it.\n"),
                (CODE, "import os\nprint(os.getcwd())\n"),
                # A magic and a shell escape are masked: no parse error, no finding for them.
                (CODE, "%matplotlib inline\n!pip list\n" + BARE_EXCEPT),
                (CODE, "value = os.sep\n"),
            ]
        )
        await wait_codes(lsp, magic, ["PE601"])
        # In the cell's own lines: `except:` is the cell's line 4 (0-based), not the module's.
        assert found(lsp, magic)[0][1:3] == (4, 0)
        await wait_for(lambda: first in lsp.diagnostics and last in lsp.diagnostics)
        assert codes_of(lsp, first) == [] and codes_of(lsp, last) == []
        assert title not in lsp.diagnostics  # markdown cells are not Python

        # One keystroke-sized edit in the last cell: a bare except there, its diagnostics there.
        client.edit(last, 1, 0, 0, BARE_EXCEPT)
        await wait_codes(lsp, last, ["PE601"])
        assert found(lsp, last)[0][1:3] == (3, 0)
        assert codes_of(lsp, magic) == ["PE601"]

        # A cell added above moves nothing in the other cells' own lines.
        added = client.insert(1, CODE, "def f(items=[]):\n    return items\n")
        await wait_for(lambda: added in lsp.diagnostics, timeout=20)
        assert found(lsp, magic)[0][1:3] == (4, 0)
        assert found(lsp, last)[0][1:3] == (3, 0)

        # A cell that does not parse (typing in progress) is left out; the others keep their diagnostics.
        client.edit(added, 0, 0, 0, "def broken(:\n")
        await wait_codes(lsp, added, [])
        client.edit(last, 0, 0, 0, "import sys\n")
        await wait_for(lambda: found(lsp, last) and found(lsp, last)[0][1] == 4, timeout=20)
        assert codes_of(lsp, magic) == ["PE601"] and codes_of(lsp, last) == ["PE601"]

        # A removed cell's diagnostics are cleared.
        removed = client.remove(3)
        assert removed == magic
        await wait_codes(lsp, magic, [])
        assert codes_of(lsp, last) == ["PE601"]

        client.close()
        await wait_codes(lsp, last, [])


async def test_code_actions_and_hover_in_a_cell_address_the_cell(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo", {"pyproject.toml": "[project]\nname = 'demo'\n", "requirements.txt": "torch\n"}
    )
    path = repo / "train.ipynb"
    write_notebook(path, [("code", "x = 1\n")])
    # A client that pulls diagnostics (as VS Code does): a cell's are pushed all the same.
    caps = notebook_capabilities()
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities()  # type: ignore[union-attr]
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)  # type: ignore[union-attr]
    async with lsp_session([repo], capabilities=caps) as lsp:
        assert lsp.server_capabilities.diagnostic_provider is not None  # type: ignore[attr-defined]
        client = Client(lsp, path)
        head, body = client.open([(CODE, "import torch\n"), (CODE, "y = 1\n" + BARE_EXCEPT)])
        await wait_for(lambda: "PE601" in codes_of(lsp, body), timeout=20)
        diagnostic = next(d for d in lsp.diagnostics[body] if d.code == "PE601")
        actions = await code_actions_on(lsp, body, diagnostic)
        assert actions
        # The agent edits the file it was asked about: for a cell that would be the .ipynb's JSON. Not offered.
        assert not any(a.title.startswith("Ask python-engineer") for a in actions)
        suppress = next(a for a in actions if isinstance(a, types.CodeAction) and "noqa" in a.title)
        assert suppress.edit is not None and suppress.edit.document_changes is not None
        change = suppress.edit.document_changes[0]
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.uri == body and change.text_document.version == 1
        edit = change.edits[0]
        assert edit.range.start.line == 3  # `except:`, in the cell's own lines
        assert edit.new_text.startswith("except:") and "noqa: PE601" in edit.new_text

        # The quick fix, applied as the editor applies it, makes the finding go away.
        client.edit(body, 3, 0, edit.range.end.character, edit.new_text)
        await wait_for(lambda: "PE601" not in codes_of(lsp, body), timeout=20)

        hover: Any = await lsp.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=head),
                position=types.Position(line=0, character=9),
            )
        )
        assert hover is not None and "ai-engineer" in hover.contents.value
        assert hover.range.start.line == 0 and hover.range.start.character == 7


async def test_protected_branch_and_ml_marking_for_a_notebook(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo", {"pyproject.toml": "[project]\nname = 'demo'\n", "requirements.txt": "torch\n"}
    )
    path = repo / "model.ipynb"
    write_notebook(path, [("code", "x = 1\n")])
    from tests.lsp.conftest import git

    git(repo, "add", "model.ipynb")
    git(repo, "commit", "-q", "-m", "notebook")
    async with lsp_session([repo], capabilities=notebook_capabilities()) as lsp:
        client = Client(lsp, path)
        (first,) = client.open([(CODE, "x = 1\n")])
        await wait_for(lambda: first in lsp.diagnostics, timeout=20)
        assert "PE101" not in codes_of(lsp, first)  # unchanged: nothing is being changed on main
        second = client.insert(1, CODE, "import torch\n\nmodel = torch.nn.Linear(2, 2)\n")
        await wait_for(lambda: "PE201" in codes_of(lsp, second), timeout=20)
        pe201 = next(d for d in lsp.diagnostics[second] if d.code == "PE201")
        assert pe201.range.start.line == 0
        await wait_for(lambda: "PE101" in codes_of(lsp, first) + codes_of(lsp, second), timeout=20)
        # Saved: git now sees the notebook changed, and PE101 stays.
        path.write_text(path.read_text(encoding="utf-8").replace('"x = 1', '"import torch'), encoding="utf-8")
        lsp.notebook_document_did_save(
            types.DidSaveNotebookDocumentParams(
                notebook_document=types.NotebookDocumentIdentifier(uri=client.uri)
            )
        )
        await wait_for(lambda: "PE101" in codes_of(lsp, first) + codes_of(lsp, second), timeout=20)
