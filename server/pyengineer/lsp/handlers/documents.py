"""didOpen / didChange / didSave / didClose: every change goes through the document's DocumentState.

The Session's DocumentState is the one copy of an open document's text: pygls' workspace keeps none
(lsp/pygls_compat.py), and a change is applied here to the state's text.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.pygls_compat import apply_changes
from pyengineer.lsp.server import PyengineerServer

log = logging.getLogger(__name__)


def register(server: PyengineerServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: PyengineerServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        previous = ls.session.documents.get(doc.uri)
        if previous is not None and previous.publish_task is not None:
            previous.publish_task.cancel()  # opened twice without a close: the new text starts afresh
        opened = ls.session.open_document(doc.uri, doc.text, doc.version)
        if opened is None:
            return
        await workspaces.ensure_loaded(ls, ls.session.workspace_for(opened.path))
        publishing.schedule(ls, doc.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PyengineerServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.session.documents.get(uri)
        if doc is None:
            log.warning("ignoring a change to %s, which is not open", uri)
            return
        text = apply_changes(uri, doc.text, params.content_changes, ls.position_encoding)
        doc.replace_text(text, params.text_document.version)
        publishing.schedule(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)  # options: lsp/features.py
    async def did_save(ls: PyengineerServer, params: types.DidSaveTextDocumentParams) -> None:
        doc = ls.session.documents.get(params.text_document.uri)
        if doc is None:
            return
        state = ls.session.workspace_for(doc.path)
        # The saved file is now dirty in git's eyes; git state decides PE101 for it. Without a watcher of
        # our own, the index learns about the file here too.
        unwatched = str(state.root) not in ls.watchers
        await workspaces.refresh_git(ls, state, frozenset({doc.path}) if unwatched else frozenset())

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PyengineerServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        publishing.clear(ls, ls.session.close_document(uri), uri)
