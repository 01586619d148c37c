"""publishing.findings_for: requests that arrive while a version is being analysed share that analysis."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pyengineer.findings import Finding
from pyengineer.lsp import publishing
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot


async def test_requests_during_an_analysis_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "module.py"
    path.write_text("x = 1\n", encoding="utf-8")
    uri = path.as_uri()
    ls = PyengineerServer()
    ls.session.open_document(uri, "x = 1\n", 1)
    ready = asyncio.Event()
    ready.set()
    ls.ready[str(ls.session.workspace_for(path).root)] = ready
    calls: list[int | None] = []
    gate = threading.Event()

    def analyze(snapshot: DocumentSnapshot) -> list[Finding]:
        calls.append(snapshot.version)
        gate.wait(10)
        return []

    monkeypatch.setattr(publishing, "analyze_snapshot", analyze)
    try:
        publish = asyncio.ensure_future(publishing.findings_for(ls, uri))
        code_action = asyncio.ensure_future(publishing.findings_for(ls, uri))
        await asyncio.sleep(0.05)
        # The next keystroke cancels the publish: the code action still gets the analysis it waits for.
        publish.cancel()
        gate.set()
        result = await asyncio.wait_for(code_action, 10)
        assert result is not None and result[1] == []
        assert calls == [1]
        assert ls.session.documents[uri].running is None

        # Another version is analysed on its own.
        ls.session.change_document(uri, "x = 2\n", 2)
        await asyncio.wait_for(publishing.findings_for(ls, uri), 10)
        assert calls == [1, 2]
    finally:
        gate.set()
        ls.executor.shutdown(wait=True)
