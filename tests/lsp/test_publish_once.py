"""One `textDocument/publishDiagnostics` per `didOpen`, whether the workspace is loaded yet or not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from tests.lsp.conftest import lsp_session, make_repo, open_doc, wait_for

# Without pull diagnostics the server pushes them: the only kind a publish count means anything for.
PUSH_ONLY = client_capabilities("neovim")


Published = list[tuple[str, int | None, int]]  # (uri, version, number of diagnostics) of each push


def _record(published: Published) -> Callable[[LanguageClient], None]:
    def setup(lsp: LanguageClient) -> None:
        # pytest-lsp's client has its own handler (it fills lsp.diagnostics): count, then hand over to it.
        features = lsp.protocol.fm.features
        builtin = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

        def on_publish(params: types.PublishDiagnosticsParams) -> None:
            published.append((params.uri, params.version, len(params.diagnostics)))
            builtin(params)

        features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_publish

    return setup


async def _publishes_for(lsp: LanguageClient, published: Published, path: Path) -> Published:
    uri = open_doc(lsp, path)
    await wait_for(lambda: any(p[0] == uri for p in published), timeout=30)
    await asyncio.sleep(1.5)  # anything else that was going to come for this open has come by now
    return [p for p in published if p[0] == uri]


async def test_did_open_right_after_initialize_publishes_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"model.py": "x = 1\n", "requirements.txt": "torch\n"})
    (repo / "model.py").write_text("import torch\n", encoding="utf-8")
    published: Published = []
    async with lsp_session([repo], capabilities=PUSH_ONLY, setup=_record(published)) as lsp:
        ours = await _publishes_for(lsp, published, repo / "model.py")
        assert len(ours) == 1, ours


async def test_did_open_in_a_loaded_workspace_publishes_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"model.py": "x = 1\n", "other.py": "y = 2\n"})
    published: Published = []
    async with lsp_session([repo], capabilities=PUSH_ONLY, setup=_record(published)) as lsp:
        await _publishes_for(lsp, published, repo / "other.py")  # the workspace is loaded after this
        ours = await _publishes_for(lsp, published, repo / "model.py")
        assert len(ours) == 1, ours
