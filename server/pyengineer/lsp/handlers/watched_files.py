"""workspace/didChangeWatchedFiles from clients that send it, without doubling our own watcher's work."""

from __future__ import annotations

from lsprotocol import types

from pyengineer.lsp import workspaces
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceState
from pyengineer.session.session import uri_to_path
from pyengineer.workspace.watcher import ChangeBatch


def register(server: PyengineerServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(
        ls: PyengineerServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        batches: dict[str, tuple[WorkspaceState, ChangeBatch]] = {}
        for change in params.changes:
            path = uri_to_path(change.uri)
            if path is None:
                continue
            state = ls.session.workspace_for(path)
            if str(state.root) in ls.watchers:
                continue  # our own watcher already saw it
            batch = batches.setdefault(str(state.root), (state, ChangeBatch()))[1]
            if ".git" in path.parts:
                batch.git_changed = True
            else:
                batch.paths.add(path)
        for state, batch in batches.values():
            await workspaces.handle_batch(ls, state, batch)
