"""Hover on an ML import (which role owns it, whether a hand-off document exists) and on a rule code in a
`# noqa` comment (the rule's summary and its documentation)."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from pyengineer.actions.handoff import handoff_path
from pyengineer.engine.noqa import code_spans
from pyengineer.engine.registry import rule_for
from pyengineer.findings import Range
from pyengineer.lsp.convert import LineCodec
from pyengineer.lsp.publishing import MAX_ANALYZED_CHARS
from pyengineer.lsp.server import PyengineerServer
from pyengineer.workspace.imports import scan_imports


def register(server: PyengineerServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: PyengineerServer, params: types.HoverParams) -> types.Hover | None:
        snapshot = ls.session.snapshot(params.text_document.uri)
        if snapshot is None:
            return None
        codec = LineCodec(snapshot.text, ls.position_encoding)
        position = codec.from_client(params.position)
        libraries = set(snapshot.settings.all_ml_libraries)
        line_text = codec.lines[position.line] if 0 <= position.line < len(codec.lines) else ""
        if "noqa" in line_text.lower():
            rule_hover = _noqa_hover(codec, position.line, position.character, line_text)
            if rule_hover is not None:
                return rule_hover
        if "import" not in line_text:
            return None
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
            document = handoff_path(snapshot.root, snapshot.relative, snapshot.settings.handoff_dir)
            exists = document.is_file()
            relative = (
                document.relative_to(snapshot.root) if snapshot.root in document.parents else Path(document)
            )
            lines = [
                f"**{record.top_level}** is an ML library: model code here belongs to the **ai-engineer** role.",
                "",
                "The python-engineer side owns data preparation, validation and API serving around it.",
                "",
                f"Hand-off document: `{relative}` ({'exists' if exists else 'not written yet: use the Hand off to ai-engineer action'}).",
            ]
            return types.Hover(
                contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n".join(lines)),
                range=codec.range_to_client(
                    Range.of(record.line - 1, record.col, record.line - 1, record.end_col)
                ),
            )
        return None


def _noqa_hover(codec: LineCodec, line: int, character: int, line_text: str) -> types.Hover | None:
    """The summary and link of the PE rule whose code in a noqa comment is under the cursor."""
    for start, end, code in code_spans(line_text):
        if not start <= character <= end:
            continue
        rule = rule_for(code)
        if rule is None:
            return None  # another tool's code (E501), or a code no rule has
        text = f"**{rule.code}** `{rule.name}` ({rule.severity.value})\n\n{rule.summary}.\n\n[Documentation]({rule.url})"
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
            range=codec.range_to_client(Range.of(line, start, line, end)),
        )
    return None
