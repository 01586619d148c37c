"""A FastAPI sample workspace through the server: the rule pack's codes, and a quick fix applied as an editor would."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from lsprotocol import types
from pyengineer.actions.edits import apply_text_edits
from pyengineer.findings import Edit, Position, Range

from tests.lsp.conftest import lsp_session, make_repo, open_doc, wait_for_codes

pytestmark = pytest.mark.timeout(90)

APP = """\
import time
from datetime import datetime

from fastapi import FastAPI

app = FastAPI()


@app.post("/users")
async def create_user(payload: dict):
    time.sleep(1)
    return {"name": payload["name"], "email": payload["email"], "created": datetime.utcnow()}
"""


def apply_workspace_edit(text: str, uri: str, edit: types.WorkspaceEdit) -> str:
    """Apply a WorkspaceEdit to one document's text, as the editor does when the user picks the action."""
    text_edits: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri
        text_edits += [e for e in change.edits if isinstance(e, types.TextEdit)]
    for changed_uri, edits in (edit.changes or {}).items():
        assert changed_uri == uri
        text_edits += list(edits)
    # The client speaks UTF-8 positions here (Neovim 0.11 offers it) and the file is ASCII: columns match.
    return apply_text_edits(
        text,
        [
            Edit(
                path="x",
                range=Range(
                    start=Position(line=e.range.start.line, character=e.range.start.character),
                    end=Position(line=e.range.end.line, character=e.range.end.character),
                ),
                new_text=e.new_text,
            )
            for e in text_edits
        ],
    )


async def test_fastapi_workspace_gets_the_rule_pack_and_a_quick_fix_applies(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "api",
        {"requirements.txt": "fastapi\n", "app/__init__.py": "", "app/main.py": APP},
        branch="work",
    )
    main = repo / "app" / "main.py"
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, main)
        found = await wait_for_codes(lsp, uri, lambda c: {"PE301", "PE401", "PE803"} <= c)
        assert "PE101" not in found  # not a protected branch
        pe301 = next(d for d in lsp.diagnostics[uri] if d.code == "PE301")
        assert pe301.range.start.line == 10
        actions = await lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=pe301.range,
                context=types.CodeActionContext(diagnostics=[pe301], only=[types.CodeActionKind.QuickFix]),
            )
        )
        fix = next(a for a in actions or [] if isinstance(a, types.CodeAction) and "asyncio.sleep" in a.title)
        resolved = await lsp.code_action_resolve_async(fix)
        assert resolved.edit is not None
        fixed = apply_workspace_edit(APP, uri, resolved.edit)
        ast.parse(fixed)
        assert "await asyncio.sleep(1)" in fixed and "time.sleep" not in fixed.split("import time", 1)[1]
        assert "import asyncio\n" in fixed

        # The editor applies it and tells the server: PE301 goes away, the others stay.
        lsp.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
            )
        )
        await wait_for_codes(lsp, uri, lambda c: "PE301" not in c and {"PE401", "PE803"} <= c)
