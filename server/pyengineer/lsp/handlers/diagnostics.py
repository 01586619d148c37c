"""textDocument/diagnostic (pull), for clients that prefer pulling; registered at initialize when supported."""

from __future__ import annotations

from lsprotocol import types

from pyengineer.lsp import publishing
from pyengineer.lsp.server import PyengineerServer


async def pull_diagnostics(
    ls: PyengineerServer, params: types.DocumentDiagnosticParams
) -> types.DocumentDiagnosticReport:
    result = await publishing.findings_for(ls, params.text_document.uri)
    if result is None:
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    snapshot, findings = result
    ls.findings[snapshot.uri] = (snapshot.version, ls.generation, findings)
    return types.RelatedFullDocumentDiagnosticReport(items=publishing.to_diagnostics(ls, snapshot, findings))
