"""textDocument/codeAction and codeAction/resolve: quick fixes tied to our diagnostics.

Listing actions is cheap (titles only); the edit or command is filled in on resolve, when the user picks
one, for clients that support resolve. Others get everything at once.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from pyengineer.findings import Finding, Fix
from pyengineer.lsp import publishing
from pyengineer.lsp.convert import LineCodec, ranges_overlap
from pyengineer.lsp.params import FixActionData, parse
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot
from pyengineer.session.session import path_to_uri

QUICKFIX = types.CodeActionKind.QuickFix


def _resolvable(ls: PyengineerServer) -> set[str]:
    """The CodeAction properties this client can fill in later through codeAction/resolve."""
    code_action = getattr(ls.client_capabilities.text_document, "code_action", None)
    support = getattr(code_action, "resolve_support", None)
    return set(getattr(support, "properties", None) or ())


def workspace_edit(ls: PyengineerServer, snapshot: DocumentSnapshot, fix: Fix) -> types.WorkspaceEdit:
    by_uri: dict[str, list[types.TextEdit]] = {}
    for edit in fix.edits:
        uri = path_to_uri(edit.path)
        text = snapshot.text if edit.path == snapshot.path else disk_text(edit.path)
        codec = LineCodec(text, ls.position_encoding)
        by_uri.setdefault(uri, []).append(
            types.TextEdit(range=codec.range_to_client(edit.range), new_text=edit.new_text)
        )
    if ls.client_supports("workspace.workspace_edit.document_changes"):
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=snapshot.version if uri == snapshot.uri else None
                    ),
                    edits=list(edits),
                )
                for uri, edits in by_uri.items()
            ]
        )
    return types.WorkspaceEdit(changes=by_uri)


def disk_text(path: str) -> str:
    """A file's text as on disk (line endings kept, so positions match), or '' if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return handle.read()
    except OSError:
        return ""


def fill(
    ls: PyengineerServer,
    action: types.CodeAction,
    snapshot: DocumentSnapshot,
    fix: Fix,
    skip: frozenset[str] | set[str] = frozenset(),
) -> types.CodeAction:
    """Fill in the edit and command of `action`, except the properties in `skip` (left for resolve)."""
    if fix.edits and "edit" not in skip:
        action.edit = workspace_edit(ls, snapshot, fix)
    if fix.command and "command" not in skip:
        action.command = types.Command(title=fix.title, command=fix.command, arguments=list(fix.arguments))
    return action


def _matching(
    findings: list[Finding], snapshot: DocumentSnapshot, params: types.CodeActionParams, codec: LineCodec
) -> list[tuple[int, Finding]]:
    requested = codec.range_from_client(params.range)
    codes = {d.code for d in params.context.diagnostics if d.source == "pyengineer"}
    out = []
    for i, finding in enumerate(findings):
        if ranges_overlap(finding.range, requested) or (
            finding.code in codes and finding.range.start.line == requested.start.line
        ):
            out.append((i, finding))
    return out


def _diagnostics_for(params: types.CodeActionParams, finding: Finding) -> list[types.Diagnostic]:
    return [d for d in params.context.diagnostics if d.source == "pyengineer" and d.code == finding.code]


def register(server: PyengineerServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[QUICKFIX, types.CodeActionKind.RefactorRewrite], resolve_provider=True
        ),
    )
    async def code_action(
        ls: PyengineerServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        only = params.context.only
        if only and not any(str(kind).startswith(("quickfix", "refactor")) for kind in only):
            return None
        result = await publishing.findings_for(ls, params.text_document.uri)
        if result is None:
            return None
        snapshot, findings = result
        codec = LineCodec(snapshot.text, ls.position_encoding)
        lazy = _resolvable(ls)
        actions: list[types.CodeAction] = []
        for index, finding in _matching(findings, snapshot, params, codec):
            for fix_index, fix in enumerate(finding.fixes):
                action = types.CodeAction(
                    title=fix.title,
                    kind=QUICKFIX,
                    diagnostics=_diagnostics_for(params, finding) or None,
                    is_preferred=fix.preferred or None,
                    data={
                        "uri": snapshot.uri,
                        "version": snapshot.version,
                        "code": finding.code,
                        "index": index,
                        "fix": fix_index,
                    },
                )
                actions.append(fill(ls, action, snapshot, fix, skip=lazy))
        for extra in ls.extra_code_actions:
            actions.extend(await extra(ls, params, snapshot, findings))
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: PyengineerServer, action: types.CodeAction) -> types.CodeAction:
        data: Any = action.data
        if not isinstance(data, dict) or "uri" not in data:
            return action
        if "resolver" in data:
            resolver = ls.code_action_resolvers.get(str(data["resolver"]))
            return await resolver(ls, action) if resolver is not None else action
        fix_data = parse(FixActionData, data, f"{types.CODE_ACTION_RESOLVE} data")
        result = await publishing.findings_for(ls, fix_data.uri)
        if result is None:
            return action
        snapshot, findings = result
        index, fix_index = fix_data.index, fix_data.fix
        if not (0 <= index < len(findings)) or findings[index].code != fix_data.code:
            # The document changed since the list was made: find the same finding by code and title.
            candidates = [
                f
                for f in findings
                if f.code == fix_data.code and any(x.title == action.title for x in f.fixes)
            ]
            if not candidates:
                return action
            finding = candidates[0]
            fix_index = next(i for i, x in enumerate(finding.fixes) if x.title == action.title)
        else:
            finding = findings[index]
        if 0 <= fix_index < len(finding.fixes):
            fill(ls, action, snapshot, finding.fixes[fix_index])
        return action
