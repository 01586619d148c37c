"""didOpen / didChange / didSave / didClose: keep the Session's documents current and schedule diagnostics."""

from __future__ import annotations

from lsprotocol import types

from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.server import PyengineerServer


def register(server: PyengineerServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: PyengineerServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        opened = ls.session.open_document(doc.uri, doc.text, doc.version)
        if opened is None:
            return
        await workspaces.ensure_loaded(ls, ls.session.workspace_for(opened.path))
        publishing.schedule(ls, doc.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PyengineerServer, params: types.DidChangeTextDocumentParams) -> None:
        # pygls has already applied the (incremental) changes to its copy of the text.
        uri = params.text_document.uri
        text = ls.workspace.get_text_document(uri).source
        ls.session.change_document(uri, text, params.text_document.version)
        publishing.schedule(ls, uri)

    @server.feature(
        types.TEXT_DOCUMENT_DID_SAVE, types.TextDocumentSaveRegistrationOptions(include_text=False)
    )
    async def did_save(ls: PyengineerServer, params: types.DidSaveTextDocumentParams) -> None:
        doc = ls.session.documents.get(params.text_document.uri)
        if doc is None:
            return
        state = ls.session.workspace_for(doc.path)
        if str(state.root) not in ls.watchers and state.index is not None:
            await ls.run_sync(state.index.update, [doc.path])
        # The saved file is now dirty in git's eyes; git state decides PE101 for it.
        await workspaces.refresh_git(ls, state)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PyengineerServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.session.close_document(params.text_document.uri)
        publishing.clear(ls, params.text_document.uri)
