"""The ways out ruff users expect, through the real server: suppress with noqa, fix all on save, hover on a
noqa code; and the baseline and rule failures as the editor sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.conftest import lsp_session, make_repo, open_doc, wait_for, wait_for_codes
from tests.lsp.test_fastapi_workspace import apply_workspace_edit

pytestmark = pytest.mark.timeout(90)

APP = """\
import time
from datetime import datetime


async def handler():
    time.sleep(1)  # noqa: E501
    when = datetime.utcnow()
    note = f\"\"\"
    {datetime.utcnow()}
    \"\"\"
    return when, note


async def other():
    time.sleep(2)
"""


async def actions_at(
    lsp: LanguageClient, uri: str, line: int, only: list[str] | None = None
) -> list[types.CodeAction]:
    diagnostics = [d for d in lsp.diagnostics[uri] if d.range.start.line == line]
    result = await lsp.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)
            ),
            context=types.CodeActionContext(diagnostics=diagnostics, only=only),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def change(lsp: LanguageClient, uri: str, text: str, version: int) -> None:
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_every_finding_offers_suppress_with_noqa_merged_into_the_existing_comment(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "svc", {"requirements.txt": "fastapi\n", "app.py": APP}, branch="work")
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: {"PE301", "PE803"} <= c)
        # Line 6 already has a noqa comment for E501: that code is kept and ours added.
        suppress = [a for a in await actions_at(lsp, uri, 5) if a.title == "Suppress with # noqa: PE301"]
        assert len(suppress) == 1 and suppress[0].kind == types.CodeActionKind.QuickFix
        assert suppress[0].edit is not None
        text = apply_workspace_edit(APP, uri, suppress[0].edit)
        assert text.splitlines()[5] == "    time.sleep(1)  # noqa: E501, PE301"
        # Line 7 has no comment yet.
        (pe803,) = [a for a in await actions_at(lsp, uri, 6) if a.title.startswith("Suppress")]
        assert pe803.title == "Suppress with # noqa: PE803" and pe803.edit is not None
        text = apply_workspace_edit(text, uri, pe803.edit)
        assert text.splitlines()[6] == "    when = datetime.utcnow()  # noqa: PE803"
        # Inside a multi-line f-string a comment would become text: not offered.
        assert not [a for a in await actions_at(lsp, uri, 8) if a.title.startswith("Suppress")]
        change(lsp, uri, text, 2)
        await wait_for(
            lambda: [d.range.start.line for d in lsp.diagnostics.get(uri, []) if d.code == "PE301"] == [14]
        )
        assert [d.range.start.line for d in lsp.diagnostics[uri] if d.code == "PE803"] == [8]


async def test_source_fix_all_applies_the_documents_safe_fixes_and_is_advertised(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "svc", {"requirements.txt": "fastapi\n", "app.py": APP}, branch="work")
    async with lsp_session([repo], client="visual-studio-code") as lsp:
        provider = lsp.server_capabilities.code_action_provider  # type: ignore[attr-defined]
        assert "source.fixAll.pyengineer" in provider.code_action_kinds
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE301" in c)
        for only in (["source.fixAll"], ["source.fixAll.pyengineer"], ["source"]):
            actions = await actions_at(lsp, uri, 0, only=only)
            assert [a.kind for a in actions] == ["source.fixAll.pyengineer"], only
        (fix_all,) = actions
        assert fix_all.edit is not None
        fixed = apply_workspace_edit(APP, uri, fix_all.edit)
        assert "time.sleep" not in fixed and fixed.count("await asyncio.sleep(") == 2
        compile(fixed, "app.py", "exec")
        # A quick-fix request does not get the source action, and the other way round.
        assert all(
            a.kind == types.CodeActionKind.QuickFix for a in await actions_at(lsp, uri, 5, ["quickfix"])
        )
        assert await actions_at(lsp, uri, 5, ["source.organizeImports"]) == []


async def test_hover_on_a_noqa_code_shows_the_rules_summary_and_link(tmp_path: Path) -> None:
    text = "import time\n\n\nasync def f():\n    time.sleep(1)  # noqa: E501, PE301\n"
    repo = make_repo(tmp_path / "svc", {"app.py": text}, branch="work")
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        line = text.splitlines()[4]

        async def hover(column: int) -> types.Hover | None:
            return await lsp.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=4, character=column),
                )
            )

        result = await hover(line.index("PE301") + 2)
        assert result is not None and isinstance(result.contents, types.MarkupContent)
        assert "**PE301** `blocking-call-in-async`" in result.contents.value
        assert "docs/rules.md#pe301-blocking-call-in-async" in result.contents.value
        assert result.range is not None and result.range.start.character == line.index("PE301")
        assert await hover(line.index("E501") + 1) is None  # another tool's code
        assert await hover(2) is None


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyengineer", *args], cwd=root, capture_output=True, text=True
    )


async def test_the_editor_reports_only_findings_not_in_the_baseline(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "svc", {"requirements.txt": "fastapi\n", "app.py": APP}, branch="work")
    assert cli(repo, "check", "--select", "PE301", "--add-baseline").returncode == 0
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE803" in c)
        assert "PE301" not in {d.code for d in lsp.diagnostics[uri]}
        # A new blocking call is new; the baselined ones stay hidden.
        change(lsp, uri, APP + "\n\nasync def third():\n    time.sleep(3)\n", 2)
        await wait_for(
            lambda: [d.range.start.line for d in lsp.diagnostics[uri] if d.code == "PE301"] == [18]
        )


async def test_a_broken_baseline_is_shown_to_the_user_once_and_nothing_is_hidden(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "svc", {"requirements.txt": "fastapi\n", "app.py": APP}, branch="work")
    (repo / ".pyengineer-baseline.json").write_text(
        json.dumps({"version": 1, "entries": [{"rule": "PE301"}]})
    )
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE301" in c)
        errors = await wait_for(lambda: [m for m in lsp.messages if m.type == types.MessageType.Error])
        assert len(errors) == 1
        assert ".pyengineer-baseline.json: entry 1, field 'path': Field required" in errors[0].message
        change(lsp, uri, APP + "\n", 2)
        await wait_for(lambda: any(d.range.start.line == 14 for d in lsp.diagnostics[uri]))
        assert len([m for m in lsp.messages if m.type == types.MessageType.Error]) == 1


BROKEN_RULE_PLUGIN = '''\
"""Registers a rule with a bug in the server process (loaded through PYTHONPATH as sitecustomize)."""
from pyengineer.engine.registry import rule


@rule("PE998", "broken-for-tests", "A rule that raises, for the tests")
def broken(inp):
    raise IndentationError("unexpected indent")
    yield
'''


async def test_a_rule_that_raises_is_logged_and_shown_once_per_session(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(BROKEN_RULE_PLUGIN)
    repo = make_repo(tmp_path / "svc", {"a.py": "import time\n", "b.py": "X = 1\n"}, branch="work")
    async with lsp_session([repo], client="neovim@v0.11.0", env={"PYTHONPATH": str(plugin)}) as lsp:
        open_doc(lsp, repo / "a.py")
        open_doc(lsp, repo / "b.py")
        shown = await wait_for(lambda: [m for m in lsp.messages if "PE998" in m.message])
        assert shown[0].type == types.MessageType.Error
        assert "rule PE998 (broken-for-tests) failed on " in shown[0].message
        assert "IndentationError: unexpected indent" in shown[0].message
        await wait_for(lambda: sum("PE998" in m.message for m in lsp.log_messages) >= 2)  # both files logged
        assert len([m for m in lsp.messages if "PE998" in m.message]) == 1


async def test_the_baseline_at_the_git_toplevel_applies_to_a_subfolder_workspace(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mono", {"requirements.txt": "fastapi\n", "svc/app.py": APP}, branch="work")
    assert cli(repo, "check", "--select", "PE301", "--add-baseline").returncode == 0
    async with lsp_session([repo / "svc"], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "svc" / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE803" in c)
        assert "PE301" not in {d.code for d in lsp.diagnostics[uri]}
