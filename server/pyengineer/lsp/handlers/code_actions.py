"""textDocument/codeAction and codeAction/resolve: quick fixes tied to our diagnostics.

Listing actions is cheap (titles only); the edit or command is filled in on resolve, when the user picks
one, for clients that support resolve. Others get everything at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from pyengineer import names
from pyengineer.actions.fixing import safe_fix_edits
from pyengineer.engine.noqa import lines_inside_strings, with_noqa
from pyengineer.findings import Edit, Finding, Fix, Range
from pyengineer.lsp import features, publishing
from pyengineer.lsp.convert import LineCodec, ranges_overlap, split_lines
from pyengineer.lsp.params import FixActionData, parse
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot
from pyengineer.session.session import path_to_uri
from pyengineer.workspace import safe_io

QUICKFIX = types.CodeActionKind.QuickFix
# Applies the document's safe fixes (what `pyengineer check --fix` would): for editor.codeActionsOnSave.
FIX_ALL = names.FIX_ALL_KIND
KINDS = list(features.options(types.TEXT_DOCUMENT_CODE_ACTION).code_action_kinds)


def _value(kind: Any) -> str:
    # lsprotocol's kinds are str enums, whose str() is their name ("CodeActionKind.QuickFix"), not the value.
    return str(getattr(kind, "value", kind))


def wanted(kind: Any, only: Sequence[Any] | None) -> bool:
    """Whether a client asking for `only` kinds wants actions of `kind` (a requested kind covers its sub-kinds)."""
    name = _value(kind)
    if not only:
        return name != FIX_ALL  # source actions only when asked for: they are not fixes of one finding
    return any(name == _value(k) or name.startswith(f"{_value(k)}.") for k in only)


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
    if ls.client.document_changes:
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
        return safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES, keep_newlines=True)
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


# uri -> (version, lines ending inside a string): tokenizing is needed to add a noqa comment safely, and
# editors ask for code actions on every cursor move.
_string_lines: dict[str, tuple[int | None, set[int]]] = {}
_string_lines_lock = threading.Lock()


def _inside_strings(snapshot: DocumentSnapshot) -> set[int]:
    with _string_lines_lock:
        cached = _string_lines.get(snapshot.uri)
    if cached is not None and cached[0] == snapshot.version:
        return cached[1]
    inside = lines_inside_strings(snapshot.text)
    with _string_lines_lock:
        _string_lines[snapshot.uri] = (snapshot.version, inside)
    return inside


def suppress_fix(
    snapshot: DocumentSnapshot, lines: list[str], finding: Finding, inside: set[int]
) -> Fix | None:
    """The "Suppress with `# noqa: PEnnn`" fix of `finding`, merged into its line's noqa comment; None if it
    cannot be. `lines`: the document's lines; `inside`: those that end inside a string."""
    line = finding.range.start.line
    if finding.path != snapshot.path or finding.code.startswith("PE9") or not 0 <= line < len(lines):
        return None  # test-run findings (PE9xx) are not noqa-filtered: a comment would not hide them
    if line in inside:
        return None
    new = with_noqa(lines[line], finding.code)
    if new is None:
        return None
    edit = Edit(path=snapshot.path, range=Range.of(line, 0, line, len(lines[line])), new_text=new)
    return Fix(title=f"Suppress with # noqa: {finding.code}", edits=(edit,))


def fix_all(snapshot: DocumentSnapshot, findings: list[Finding]) -> Fix | None:
    """The document's safe fixes together, as `pyengineer check --fix` chooses them; None when there are none."""
    own = [f for f in findings if f.fixes and all(e.path == snapshot.path for e in f.fixes[0].edits)]
    edits, fixed = safe_fix_edits(own)
    if not edits:
        return None
    return Fix(title=f"Fix all safe pyengineer findings ({fixed})", edits=tuple(edits), safe=True)


def register(server: PyengineerServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION)  # options: lsp/features.py
    async def code_action(
        ls: PyengineerServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        only = params.context.only
        if not any(wanted(kind, only) for kind in KINDS):
            return None
        result = await publishing.findings_for(ls, params.text_document.uri)
        if result is None:
            return None
        snapshot, findings = result
        actions: list[types.CodeAction] = []
        if wanted(FIX_ALL, only):
            everything = await ls.run_sync(fix_all, snapshot, findings)
            if everything is not None:
                actions.append(
                    fill(ls, types.CodeAction(title=everything.title, kind=FIX_ALL), snapshot, everything)
                )
        if not (wanted(QUICKFIX, only) or wanted(types.CodeActionKind.RefactorRewrite, only)):
            return actions or None
        codec = LineCodec(snapshot.text, ls.position_encoding)
        lazy = _resolvable(ls)
        matching = _matching(findings, snapshot, params, codec) if wanted(QUICKFIX, only) else []
        inside = await ls.run_sync(_inside_strings, snapshot) if matching else set()
        lines = split_lines(snapshot.text) if matching else []
        for index, finding in matching:
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
            suppress = suppress_fix(snapshot, lines, finding, inside)
            if suppress is not None:
                action = types.CodeAction(
                    title=suppress.title,
                    kind=QUICKFIX,
                    diagnostics=_diagnostics_for(params, finding) or None,
                )
                actions.append(fill(ls, action, snapshot, suppress))  # one small edit: never left for resolve
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
