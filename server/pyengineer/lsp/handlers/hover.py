"""Hover: the why and the how of the findings under the cursor (their `detail`, with the rule's link), on an
ML import (which role owns it, and its hand-off document), and on a rule code in a `# noqa` comment.

The finding's message is not repeated: the editor shows it beside the hover already (VS Code puts the
diagnostic in the same box) or as virtual text (Neovim). Markdown goes to clients whose hover `contentFormat`
lists it; the others get the same text without the markup.
"""

from __future__ import annotations

import re

from lsprotocol import types

from pyengineer.engine.noqa import code_spans
from pyengineer.engine.registry import rule_for
from pyengineer.findings import Finding, Position, Range
from pyengineer.lsp.convert import LineCodec
from pyengineer.lsp.publishing import MAX_ANALYZED_CHARS, findings_for
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot
from pyengineer.workspace.handoffs import existing_handoff, handoff_path, workspace_relative
from pyengineer.workspace.imports import scan_imports

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def plain_text(markdown: str) -> str:
    """`markdown` as a plain-text client shows it: no backticks or bold, a link as its text and target."""
    text = _LINK.sub(lambda m: m[1] if m[1] == m[2] else f"{m[1]} ({m[2]})", markdown)
    return text.replace("**", "").replace("`", "")


def _contents(ls: PyengineerServer, markdown: str) -> types.MarkupContent:
    hover = getattr(ls.client_capabilities.text_document, "hover", None)
    formats = getattr(hover, "content_format", None) or ()
    if types.MarkupKind.Markdown in formats:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=plain_text(markdown))


def _covers(rng: Range, position: Position) -> bool:
    start, end = rng.start, rng.end
    at = (position.line, position.character)
    return (start.line, start.character) <= at <= (end.line, end.character)


def finding_markdown(finding: Finding) -> str:
    """A finding's hover: its code, rule name and link, then its detail."""
    rule = rule_for(finding.code)
    head = f"**{finding.code}**" + (f" {rule.name} ([rule]({rule.url}))" if rule is not None else "")
    return f"{head}\n\n{finding.detail}"


def _extent(finding: Finding) -> tuple[int, int]:
    start, end = finding.range.start, finding.range.end
    return end.line - start.line, end.character - start.character if end.line == start.line else 0


def register(server: PyengineerServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: PyengineerServer, params: types.HoverParams) -> types.Hover | None:
        snapshot = ls.session.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        codec = LineCodec(snapshot.text, ls.position_encoding)
        position = codec.from_client(params.position)
        line_text = codec.lines[position.line] if 0 <= position.line < len(codec.lines) else ""
        if "noqa" in line_text.lower():
            rule_hover = _noqa_hover(ls, codec, position.line, position.character, line_text)
            if rule_hover is not None:
                return rule_hover
        found = await findings_for(ls, snapshot.uri)
        here = [f for f in (found[1] if found else ()) if f.detail and _covers(f.range, position)]
        if here:
            return types.Hover(
                contents=_contents(ls, "\n\n---\n\n".join(finding_markdown(f) for f in here)),
                # Several findings here (PE101 spans the first line): the narrowest is the one pointed at.
                range=codec.range_to_client(min(here, key=_extent).range),
            )
        if "import" not in line_text:
            return None
        return await _ml_import_hover(ls, snapshot, codec, position, line_text)


async def _ml_import_hover(
    ls: PyengineerServer, snapshot: DocumentSnapshot, codec: LineCodec, position: Position, line_text: str
) -> types.Hover | None:
    """An ML import that carries no finding of its own (PE201 sits on the file's first one): who owns it."""
    libraries = set(snapshot.settings.all_ml_libraries)
    # In a huge document (not analysed) only the line is scanned: a whole-file scan would take minutes.
    huge = len(snapshot.text) > MAX_ANALYZED_CHARS
    records = await ls.run_sync(scan_imports, line_text if huge else snapshot.text)
    for record in records:
        if huge:
            record = record.model_copy(update={"line": position.line + 1})
        if record.line - 1 != position.line or not (record.col <= position.character <= record.end_col):
            continue
        if record.top_level not in libraries:
            return None
        folder = snapshot.settings.handoff_dir
        document = existing_handoff(snapshot.root, snapshot.relative, folder)
        if document is not None:
            where = f"handed off in [{workspace_relative(snapshot.root, document)}]({document.as_uri()})"
        else:
            planned = workspace_relative(
                snapshot.root, handoff_path(snapshot.root, snapshot.relative, folder)
            )
            where = f"not handed off yet: **Hand off to ai-engineer** writes `{planned}`"
        text = f"**{record.top_level}** is an ML library: model code is the **ai-engineer**'s, {where}."
        return types.Hover(
            contents=_contents(ls, text),
            range=codec.range_to_client(
                Range.of(record.line - 1, record.col, record.line - 1, record.end_col)
            ),
        )
    return None


def _noqa_hover(
    ls: PyengineerServer, codec: LineCodec, line: int, character: int, line_text: str
) -> types.Hover | None:
    """The summary and link of the PE rule whose code in a noqa comment is under the cursor."""
    for start, end, code in code_spans(line_text):
        if not start <= character <= end:
            continue
        rule = rule_for(code)
        if rule is None:
            return None  # another tool's code (E501), or a code no rule has
        text = f"**{rule.code}** `{rule.name}` ({rule.severity.value})\n\n{rule.summary}.\n\n[Documentation]({rule.url})"
        return types.Hover(
            contents=_contents(ls, text), range=codec.range_to_client(Range.of(line, start, line, end))
        )
    return None
