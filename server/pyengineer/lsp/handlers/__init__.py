"""One module per request/notification family; `register_all` wires them to a server.

Start-up is the time an editor waits for the `initialize` answer, and most of it would go to importing what the
handlers use (pydantic and our models, the engine, git, watchdog, the agent, the test runner). So only
`lifecycle` and `configuration`, which import none of that, are registered before the answer. The other modules
are imported in a thread once it has been sent (`import_deferred`) and swapped in on the loop
(`register_deferred`); until then the server holds every incoming message and handles them in order afterwards
(`PyengineerServer.load_handlers`). `initialize` advertises their features from `DEFERRED_FEATURES` and
`DEFERRED_COMMANDS`, which must list exactly what those modules register: tests/lsp/test_startup.py compares.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError

if TYPE_CHECKING:
    from pyengineer.lsp.server import PyengineerServer

# Imported after `initialize` has been answered, registered in this order.
DEFERRED_MODULES = (
    "documents",
    "code_actions",
    "commands",
    "hover",
    "watched_files",
    "ask",
    "tests",
    "problems",
    "notebooks",  # after code_actions and hover: it extends their handlers to notebook cells
)

# What DEFERRED_MODULES register (method -> options), advertised by `initialize` before they are imported.
DEFERRED_FEATURES: dict[str, Any] = {
    types.TEXT_DOCUMENT_DID_OPEN: None,
    types.TEXT_DOCUMENT_DID_CHANGE: None,
    types.TEXT_DOCUMENT_DID_SAVE: types.TextDocumentSaveRegistrationOptions(include_text=False),
    types.TEXT_DOCUMENT_DID_CLOSE: None,
    types.TEXT_DOCUMENT_CODE_ACTION: types.CodeActionOptions(
        code_action_kinds=[
            types.CodeActionKind.QuickFix,
            types.CodeActionKind.RefactorRewrite,
            f"{types.CodeActionKind.SourceFixAll.value}.pyengineer",  # code_actions.FIX_ALL
        ],
        resolve_provider=True,
    ),
    types.CODE_ACTION_RESOLVE: None,
    types.TEXT_DOCUMENT_HOVER: None,
    types.WORKSPACE_DID_CHANGE_WATCHED_FILES: None,
    "pyengineer/ask": None,
    types.NOTEBOOK_DOCUMENT_DID_OPEN: None,
    types.NOTEBOOK_DOCUMENT_DID_CHANGE: None,
    types.NOTEBOOK_DOCUMENT_DID_SAVE: None,
    types.NOTEBOOK_DOCUMENT_DID_CLOSE: None,
}
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
DEFERRED_COMMANDS = (
    "pyengineer.suggestBranchNames",
    "pyengineer.createBranch",
    "pyengineer.moveCommits",
    "pyengineer.handoff",
    "pyengineer.showContext",
    "pyengineer.rescan",
    "pyengineer.ask",
    "pyengineer.runTests",
    "pyengineer.fixTest",
)


def not_loaded(name: str) -> Callable[..., Any]:
    """A placeholder for a handler whose module is not imported yet.

    The server holds messages until the modules are swapped in, so it only runs if importing them failed.
    """

    def placeholder(ls: Any, *args: Any) -> None:
        raise JsonRpcInternalError(f"pyengineer could not load its handler for {name}; see the server log")

    placeholder.pyengineer_placeholder = True  # type: ignore[attr-defined]
    return placeholder


def register_all(server: PyengineerServer) -> None:
    from pyengineer.lsp.handlers import configuration, lifecycle

    lifecycle.register(server)
    configuration.register(server)
    for method, options in DEFERRED_FEATURES.items():
        server.feature(method, options)(not_loaded(method))
    for command in DEFERRED_COMMANDS:
        server.command(command)(not_loaded(command))


def import_deferred() -> list[ModuleType]:
    """Import the deferred handler modules (and so everything they use). Runs in a worker thread."""
    return [importlib.import_module(f"{__name__}.{name}") for name in DEFERRED_MODULES]


def register_deferred(server: PyengineerServer, modules: list[ModuleType]) -> None:
    """Replace the placeholders with the real handlers (on the loop, before any held message is handled)."""
    fm = server.protocol.fm
    for method in DEFERRED_FEATURES:
        fm.features.pop(method, None)
        fm.feature_options.pop(method, None)
    for command in DEFERRED_COMMANDS:
        fm.commands.pop(command, None)
    for module in modules:
        module.register(server)


def replace_feature(server: PyengineerServer, method: str, handler: Callable[..., Any]) -> None:
    """Swap the handler registered for `method` (a placeholder) for `handler`, keeping its options."""
    fm = server.protocol.fm
    fm.features.pop(method, None)
    options = fm.feature_options.pop(method, None)
    server.feature(method, options)(handler)
