"""Hand-off, config reloads, stale versions, multi-root, cancellation and UTF-16 ranges, end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.conftest import codes, lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(90)


async def test_handoff_writes_document_and_asks_client_to_show_it(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.handoff", arguments=[{"uri": uri}])
        )
        document = Path(result["path"])
        assert document.parent == repo / "docs" / "handoffs"
        text = document.read_text(encoding="utf-8")
        assert "`torch`" in text and "function `predict`" in text
        assert "def predict(x)" in text and "Git branch: `main` (protected)" in text
        assert "ai-engineer: model architecture" in text
        assert lsp.shown_documents and lsp.shown_documents[-1].uri == document.as_uri()
        # A second run updates the same document and keeps the user's notes.
        document.write_text(
            text.replace("_Add notes here", "Weights are in s3://bucket. _Add notes here"), encoding="utf-8"
        )
        again = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.handoff", arguments=[{"uri": uri}])
        )
        assert again["path"] == result["path"]
        assert len(list(document.parent.iterdir())) == 1
        assert "Weights are in s3://bucket." in document.read_text(encoding="utf-8")

        hover = await lsp.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=9),
            )
        )
        assert hover is not None and "ai-engineer" in hover.contents.value
        assert f"({document.as_uri()})" in hover.contents.value  # the link to the document written


async def test_config_edit_on_disk_changes_behaviour_and_broken_config_is_a_diagnostic(
    ml_repo: tuple[Path, Path],
) -> None:
    repo, model = ml_repo
    pyproject = repo / "pyproject.toml"
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)
        # Only `release/*` is protected now: PE101 goes away without touching the editor.
        pyproject.write_text('[tool.pyengineer]\nprotected-branches = ["release/*"]\n', encoding="utf-8")
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c and "PE201" in c)
        # A broken config: a diagnostic on the file naming the key, the server stays up, last good settings stay.
        pyproject.write_text('[tool.pyengineer]\nprotected-branchez = ["main"]\n', encoding="utf-8")
        config_uri = pyproject.as_uri()
        await wait_for(lambda: lsp.diagnostics.get(config_uri))
        diag = lsp.diagnostics[config_uri][0]
        assert "protected-branchez" in diag.message and diag.range.start.line == 1
        assert "PE101" not in codes(lsp, uri)
        context = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.showContext", arguments=[{"uri": uri}])
        )
        assert context["git"]["branch"] == "main" and context["ml_files"][0]["path"] == "model.py"
        assert next(iter(context)) == "summary" and context["summary"]["ml_files"] == 1  # the summary leads
        # Fixed again: the config diagnostic clears.
        pyproject.write_text('[tool.pyengineer]\nprotected-branches = ["main"]\n', encoding="utf-8")
        await wait_for(lambda: config_uri in lsp.diagnostics and not lsp.diagnostics[config_uri])
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)


async def test_stale_versions_are_never_published(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    published: list[int | None] = []
    async with lsp_session([repo], client="neovim@v0.11.0", configuration={"debounceMs": 50}) as lsp:
        default = lsp.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

        def record(params: types.PublishDiagnosticsParams) -> None:
            published.append(params.version)
            default(params)

        lsp.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record

        uri = open_doc(lsp, model)
        await wait_for(lambda: published)
        for version in range(2, 40):
            lsp.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=5, character=0),
                                end=types.Position(line=5, character=0),
                            ),
                            text=f"# edit {version}\n",
                        )
                    ],
                )
            )
        await wait_for(lambda: published and published[-1] == 39)
        await asyncio.sleep(0.5)
        # Versions only ever go up, and the burst was coalesced rather than published 38 times.
        assert published == sorted(published)
        assert published[-1] == 39 and len(published) < 20


async def test_multi_root_workspaces_each_have_their_own_context(tmp_path: Path) -> None:
    first = make_repo(tmp_path / "api", {"app.py": "x = 1\n"})
    second = make_repo(tmp_path / "ml", {"train.py": "x = 1\n"}, branch="work")
    (first / "app.py").write_text("import fastapi\n", encoding="utf-8")
    (second / "train.py").write_text("import sklearn\n", encoding="utf-8")
    async with lsp_session([first, second], client="neovim@v0.11.0") as lsp:
        app_uri = open_doc(lsp, first / "app.py")
        train_uri = open_doc(lsp, second / "train.py")
        await wait_for_codes(lsp, app_uri, lambda c: "PE101" in c)
        await wait_for_codes(lsp, train_uri, lambda c: "PE201" in c and "PE101" not in c)
        roots = await wait_for(
            lambda: (
                {s["root"]: s for s in lsp.statuses if s["root"] in (str(first), str(second))}  # type: ignore[attr-defined]
                if len({s["root"] for s in lsp.statuses}) >= 2  # type: ignore[attr-defined]
                else None
            )
        )
        assert roots[str(first)]["branch"] == "main" and roots[str(first)]["protected"] is True
        assert roots[str(second)]["branch"] == "work" and roots[str(second)]["protected"] is False
        assert roots[str(second)]["mlFileCount"] == 1


async def test_utf16_ranges_on_a_line_with_emoji(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"m.py": "x = 1\n"})
    model = repo / "m.py"
    model.write_text('label = "🤖🤖"; import torch\n', encoding="utf-8")
    caps = client_capabilities("neovim@v0.10.0")  # offers only UTF-16
    async with lsp_session([repo], capabilities=caps) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        diag = next(d for d in lsp.diagnostics[uri] if d.code == "PE201")
        # "torch" starts at code point 21; each robot is 2 UTF-16 units (23) and 4 UTF-8 bytes (27).
        assert (diag.range.start.character, diag.range.end.character) == (23, 28)
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:  # offers UTF-8 first
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        diag = next(d for d in lsp.diagnostics[uri] if d.code == "PE201")
        assert (diag.range.start.character, diag.range.end.character) == (27, 32)


async def test_cancel_request_answers_request_cancelled_and_server_keeps_serving(tmp_path: Path) -> None:
    # Enough files that a rescan is still running when the cancel arrives.
    files = {f"pkg{i // 100}/mod{i}.py": f"import os\nVALUE = {i}\n" for i in range(1500)}
    repo = make_repo(tmp_path / "repo", files)
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        await wait_for(lambda: lsp.statuses)  # type: ignore[attr-defined]
        msg_id = "rescan-to-cancel"
        future = lsp.protocol.send_request(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command="pyengineer.rescan", arguments=[]),
            msg_id=msg_id,
        )
        lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        with pytest.raises(Exception, match="(?i)cancel"):
            await asyncio.wait_for(asyncio.wrap_future(future), 20)
        context = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.showContext", arguments=[])
        )
        assert context["python_file_count"] == 1500
