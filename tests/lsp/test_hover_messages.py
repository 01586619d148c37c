"""Through the real server: short plain diagnostic messages with the rule link in codeDescription, the why and
the how in the hover (Markdown for clients that render it, plain text for the others), and PE201 once the
hand-off document exists (a hint that links to it; the document holds no absolute paths)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pyengineer.engine.registry import MAX_MESSAGE, load_rules
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp.conftest import code_actions_on, lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(120)

APP = (
    "import time\n"
    "from datetime import datetime\n"
    "\n"
    "\n"
    "async def poll(job: str) -> None:\n"
    "    time.sleep(1)\n"
    "\n"
    "\n"
    "def stamp() -> datetime:\n"
    "    return datetime.utcnow()\n"
)


def _capabilities(formats: list[types.MarkupKind] | None) -> types.ClientCapabilities:
    caps = client_capabilities("neovim@v0.11.0")
    assert caps.text_document is not None
    caps.text_document.hover = types.HoverClientCapabilities(content_format=formats)
    return caps


async def _hover(lsp: LanguageClient, uri: str, line: int, character: int) -> types.Hover | None:
    return await lsp.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )


@pytest.mark.parametrize(
    ("formats", "kind"),
    [
        ([types.MarkupKind.Markdown, types.MarkupKind.PlainText], types.MarkupKind.Markdown),
        ([types.MarkupKind.PlainText], types.MarkupKind.PlainText),
        (None, types.MarkupKind.PlainText),  # a client that says nothing gets what every client can show
    ],
)
async def test_hover_explains_the_finding_in_the_format_the_client_renders(
    tmp_path: Path, formats: list[types.MarkupKind] | None, kind: types.MarkupKind
) -> None:
    repo = make_repo(tmp_path / "svc", {"app.py": APP}, branch="work")
    async with lsp_session([repo], capabilities=_capabilities(formats)) as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: {"PE301", "PE803"} <= c)
        for diagnostic in lsp.diagnostics[uri]:
            rule = load_rules()[str(diagnostic.code)]
            assert len(diagnostic.message) <= MAX_MESSAGE and "`" not in diagnostic.message
            assert diagnostic.code_description is not None
            assert diagnostic.code_description.href == rule.url
            assert rule.url.endswith(f"docs/rules.md#{rule.code.lower()}-{rule.name}")

        pe301 = next(d for d in lsp.diagnostics[uri] if d.code == "PE301")
        assert pe301.message == "time.sleep() blocks the event loop in async def poll"
        hover = await _hover(lsp, uri, 5, 6)
        assert hover is not None and isinstance(hover.contents, types.MarkupContent)
        assert hover.contents.kind == kind
        value = hover.contents.value
        assert pe301.message not in value  # the editor shows the message beside the hover already
        assert "every other request, task and timer waits" in value
        if kind == types.MarkupKind.Markdown:
            assert value.startswith("**PE301** blocking-call-in-async ([rule](https://")
            assert "`await asyncio.sleep(...)`" in value
        else:
            assert "`" not in value and "**" not in value and "](" not in value
            assert value.startswith("PE301 blocking-call-in-async (rule (https://")
            assert "Use await asyncio.sleep(...)." in value
        assert hover.range is not None and hover.range.start.line == 5

        quick_fixes = await code_actions_on(lsp, uri, pe301)
        titles = [a.title for a in quick_fixes or []]
        assert "Replace with await asyncio.sleep(...)" in titles and "Suppress with # noqa: PE301" in titles
        assert not any("`" in t for t in titles)
        assert await _hover(lsp, uri, 2, 0) is None  # no finding, no import: nothing to say


async def test_pe201_after_the_hand_off_is_a_hint_that_links_to_the_document(
    ml_repo: tuple[Path, Path],
) -> None:
    repo, model = ml_repo
    caps = _capabilities([types.MarkupKind.Markdown])
    async with lsp_session([repo], capabilities=caps) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        before = next(d for d in lsp.diagnostics[uri] if d.code == "PE201")
        assert before.message == "'torch' is an ML library: model code belongs to the ai-engineer role"
        assert before.severity == types.DiagnosticSeverity.Information
        hover = await _hover(lsp, uri, 0, 9)
        assert hover is not None and "**Hand off to ai-engineer**" in hover.contents.value  # type: ignore[union-attr]
        # The hover says it once: the ML-import note is not added beside the finding's.
        assert hover.contents.value.count("ai-engineer") == 1  # type: ignore[union-attr]

        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.handoff", arguments=[{"uri": uri}])
        )
        document = Path(result["path"])
        text = document.read_text(encoding="utf-8")
        assert str(repo) not in text and str(Path.home()) not in text  # no absolute local path
        assert f"- Project: `{repo.name}`" in text and "- File: `model.py`" in text

        def handed_off() -> types.Diagnostic | None:
            return next(
                (d for d in lsp.diagnostics.get(uri, []) if d.code == "PE201" and "handed off" in d.message),
                None,
            )

        after = await wait_for(handed_off)
        assert after.message == "ML code handed off to the ai-engineer: see docs/handoffs/model.md"
        assert after.severity == types.DiagnosticSeverity.Hint
        assert after.related_information is not None
        link = after.related_information[0]
        assert link.location.uri == document.as_uri() and link.message == "the hand-off document"
        assert link.location.range == types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        )
        hover = await _hover(lsp, uri, 0, 9)
        assert hover is not None
        assert f"[docs/handoffs/model.md]({document.as_uri()})" in hover.contents.value  # type: ignore[union-attr]
        actions = await code_actions_on(lsp, uri, after)
        assert "Update the hand-off document" in [a.title for a in actions or []]
