"""initialize / initialized / shutdown / $/setTrace / workspace folders.

Registered before `initialize` is answered, so this module imports nothing heavy at module level: `publishing`,
`workspaces` and the session's models are imported in the handlers, which run once the deferred handler modules
have loaded them (see handlers/__init__.py).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from pyengineer.lsp import features
from pyengineer.lsp.capabilities import ClientFeatures
from pyengineer.lsp.handlers import not_loaded, replace_feature
from pyengineer.lsp.handlers.configuration import pull_configuration
from pyengineer.lsp.server import PyengineerServer, watch_parent
from pyengineer.session.session import uri_to_path

log = logging.getLogger(__name__)


def _options(params: types.InitializeParams) -> dict[str, Any]:
    options = params.initialization_options
    return dict(options) if isinstance(options, dict) else {}


def _add_workspaces(ls: PyengineerServer, roots: list[Path | None]) -> None:
    from pyengineer.workspace.markers import too_broad_for_a_workspace

    for root in roots:
        if root is None:
            continue
        if too_broad_for_a_workspace(root):
            # A client without folders often sends its cwd, the home folder: scanning and watching all of it
            # would cost minutes and thousands of watches. The files opened find their own projects.
            log.info("not loading %s as a workspace (the home folder, / or above home)", root)
            continue
        ls.session.add_workspace(root)


def _register_pull_diagnostics(ls: PyengineerServer) -> None:
    from pyengineer.lsp.handlers.diagnostics import pull_diagnostics

    replace_feature(ls, types.TEXT_DOCUMENT_DIAGNOSTIC, pull_diagnostics)


def register(server: PyengineerServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: PyengineerServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.client = ClientFeatures.from_lsp(params.capabilities)
        ls.configured = asyncio.Event()
        ls.log_handler.loop = ls.loop
        options = _options(params)
        from pyengineer.lsp.hints import editor_of

        ls.editor = editor_of(params, options)
        settings = options.get("settings")
        ls.session.editor_settings = dict(settings) if isinstance(settings, dict) else {}
        key = options.get("apiKey")
        ls.session.api_key = key if isinstance(key, str) and key else None
        ls.session.trusted = bool(options.get("trusted", False))
        if params.trace:
            ls.log_handler.set_trace(params.trace)
        folders = params.workspace_folders or []
        roots = [uri_to_path(f.uri) for f in folders]
        if not folders and params.root_uri:
            roots = [uri_to_path(params.root_uri)]
        elif not folders and params.root_path:
            roots = [Path(params.root_path)]
        # A workspace's state holds its settings (pydantic), which are imported after the answer.
        ls.when_handlers_loaded(lambda: _add_workspaces(ls, roots))
        # Pull diagnostics only for clients that can pull and can be told to pull again after a branch
        # switch (refreshSupport); the others get pushed diagnostics, never both (that would show twice).
        if ls.client.pull_diagnostics and ls.client.diagnostic_refresh:
            ls.pull_diagnostics = True
            pull = features.PULL_DIAGNOSTICS
            ls.feature(pull.method, pull.options)(not_loaded(pull.method))
            ls.when_handlers_loaded(lambda: _register_pull_diagnostics(ls))
        if params.process_id:
            watch_parent(params.process_id)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: PyengineerServer, params: types.InitializedParams) -> None:
        from pyengineer.lsp import workspaces

        try:
            await pull_configuration(ls)
        finally:
            if ls.configured is not None:
                ls.configured.set()
        for state in list(ls.session.workspaces.values()):
            await workspaces.ensure_loaded(ls, state)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: PyengineerServer, params: None) -> None:
        from pyengineer.lsp import workspaces

        ls.shutting_down = True
        for state in list(ls.session.workspaces.values()):
            workspaces.stop_watcher(ls, state)
        for doc in list(ls.session.documents.values()):
            if doc.publish_task is not None:
                doc.publish_task.cancel()
        ls.executor.shutdown(wait=False, cancel_futures=True)
        ls.agent_executor.shutdown(wait=False, cancel_futures=True)

    @server.feature(types.SET_TRACE)
    def set_trace(ls: PyengineerServer, params: types.SetTraceParams) -> None:
        ls.log_handler.set_trace(params.value)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(ls: PyengineerServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        from pyengineer.lsp import publishing, workspaces

        for folder in params.event.removed:
            path = uri_to_path(folder.uri)
            if path is None:
                continue
            state = ls.session.remove_workspace(path)
            if state is not None:
                workspaces.stop_watcher(ls, state)
                ls.ready.pop(str(state.root), None)
                ls.reload_locks.pop(str(state.root), None)
                ls.last_status.pop(str(state.root), None)
        for folder in params.event.added:
            path = uri_to_path(folder.uri)
            if path is not None:
                _add_workspaces(ls, [path])
                state = ls.session.workspaces.get(path.resolve())
                if state is not None:
                    await workspaces.ensure_loaded(ls, state)
        publishing.republish(ls)
