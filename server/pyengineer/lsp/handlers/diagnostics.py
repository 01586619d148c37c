"""textDocument/diagnostic (pull), for clients that prefer pulling; registered at initialize when supported."""

from __future__ import annotations

from lsprotocol import types

from pyengineer.lsp import publishing
from pyengineer.lsp.server import PyengineerServer
from pyengineer.lsp.wire import FullReport


async def pull_diagnostics(ls: PyengineerServer, params: types.DocumentDiagnosticParams) -> FullReport:
    # A RelatedFullDocumentDiagnosticReport on the wire, without cattrs walking every diagnostic (see wire.py).
    result = await publishing.findings_for(ls, params.text_document.uri)
    if result is None:
        return FullReport([])
    snapshot, findings = result
    doc = ls.session.documents.get(snapshot.uri)
    if doc is not None and doc.revision == snapshot.revision:
        doc.findings = (snapshot.revision, ls.generation, findings)
    return FullReport(publishing.to_diagnostics(ls, snapshot, findings))
