"""The one table of the deferred features: each method, its options and the handler module that serves it.

`initialize` advertises these before the modules are imported (handlers/__init__.py registers a placeholder
with these options); the modules register their handlers without options, and `register_deferred` keeps the
table's. tests/lsp/test_startup.py checks that the modules register exactly what the table says.
Imports only lsprotocol: it is read before `initialize` is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from pyengineer import names


@dataclass(frozen=True)
class Feature:
    method: str
    module: str  # under pyengineer.lsp.handlers
    options: Any = None


@dataclass(frozen=True)
class Command:
    command: str
    module: str


FEATURES: tuple[Feature, ...] = (
    Feature(types.TEXT_DOCUMENT_DID_OPEN, "documents"),
    Feature(types.TEXT_DOCUMENT_DID_CHANGE, "documents"),
    Feature(
        types.TEXT_DOCUMENT_DID_SAVE,
        "documents",
        types.TextDocumentSaveRegistrationOptions(include_text=False),
    ),
    Feature(types.TEXT_DOCUMENT_DID_CLOSE, "documents"),
    Feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        "code_actions",
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.RefactorRewrite,
                names.FIX_ALL_KIND,
            ],
            resolve_provider=True,
        ),
    ),
    Feature(types.CODE_ACTION_RESOLVE, "code_actions"),
    Feature(types.TEXT_DOCUMENT_HOVER, "hover"),
    Feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, "watched_files"),
    Feature(names.ASK_REQUEST, "ask"),
    # After code_actions and hover: lsp/notebooks.py extends their handlers to notebook cells.
    Feature(types.NOTEBOOK_DOCUMENT_DID_OPEN, "notebooks"),
    Feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE, "notebooks"),
    Feature(types.NOTEBOOK_DOCUMENT_DID_SAVE, "notebooks"),
    Feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE, "notebooks"),
)

# Jupyter notebooks' Python cells are synced as notebook documents (lsp/notebooks.py); advertised through the
# server's `notebook_document_sync` option, which pygls puts in the `initialize` answer.
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
        )
    ],
    save=True,
)

COMMANDS: tuple[Command, ...] = (
    Command(names.SUGGEST_BRANCH_NAMES, "commands"),
    Command(names.CREATE_BRANCH, "commands"),
    Command(names.MOVE_COMMITS, "commands"),
    Command(names.HANDOFF, "commands"),
    Command(names.SHOW_CONTEXT, "commands"),
    Command(names.RESCAN, "commands"),
    Command(names.ASK, "ask"),
    Command(names.RUN_TESTS, "tests"),
    Command(names.FIX_TEST, "tests"),
)

# Handler modules that register no table entry (only listeners): imported with the others.
LISTENER_MODULES = ("problems",)

# textDocument/diagnostic, registered at `initialize` only for clients that pull (handlers/lifecycle.py).
PULL_DIAGNOSTICS = Feature(
    types.TEXT_DOCUMENT_DIAGNOSTIC,
    "diagnostics",
    types.DiagnosticOptions(
        identifier="pyengineer", inter_file_dependencies=True, workspace_diagnostics=False
    ),
)


def modules() -> tuple[str, ...]:
    """The deferred handler modules, in the order they register."""
    listed = [f.module for f in FEATURES] + [c.module for c in COMMANDS] + list(LISTENER_MODULES)
    return tuple(dict.fromkeys(listed))


def options(method: str) -> Any:
    return next((f.options for f in (*FEATURES, PULL_DIAGNOSTICS) if f.method == method), None)
