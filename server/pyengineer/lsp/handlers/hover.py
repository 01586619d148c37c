"""Hover on an ML import: which role owns it, and whether a hand-off document exists."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from pyengineer.actions.handoff import handoff_path
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
