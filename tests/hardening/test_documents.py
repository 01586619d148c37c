"""Documents through the real server: a repeated version with new text, and memory over open/edit/close."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(300)

ML_TEXT = "import torch\n"
MOVED_TEXT = "\n\n\nimport torch\n"


def open_document(raw: RawServer, uri: str, text: str, version: int = 1) -> None:
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
    )


def replace_text(raw: RawServer, uri: str, text: str, version: int) -> None:
    raw.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )


def last_publish(raw: RawServer, uri: str, count: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        published = [m["params"] for m in raw.notifications("textDocument/publishDiagnostics")]
        mine = [p for p in published if p["uri"] == uri]
        if len(mine) >= count:
            raw.pump(0.5)  # and nothing later
            return [
                p
                for p in (m["params"] for m in raw.notifications("textDocument/publishDiagnostics"))
                if p["uri"] == uri
            ][-1]
        assert time.monotonic() < deadline, f"{len(mine)} publishes for {uri}, expected {count}"
        raw.pump(0.1)


def pe201_lines(params: dict[str, Any]) -> list[int]:
    return [d["range"]["start"]["line"] for d in params["diagnostics"] if d["code"] == "PE201"]


def test_the_same_version_with_new_text_gets_the_new_texts_diagnostics(tmp_path: Path) -> None:
    """The findings cache was keyed by the version alone: version 1 again, with the import moved to line 3,
    published the findings of the first text (on line 0)."""
    repo = make_repo(tmp_path / "repo", {"model.py": ML_TEXT})
    raw = RawServer(tmp_path)
    try:
        raw.initialize(repo)
        uri = (repo / "model.py").as_uri()
        open_document(raw, uri, ML_TEXT)
        assert pe201_lines(last_publish(raw, uri, 1)) == [0]
        replace_text(raw, uri, MOVED_TEXT, 1)
        assert pe201_lines(last_publish(raw, uri, 2)) == [3]
        # A code action request reads the same cache: it must see the new text's finding.
        answer = raw.response(
            raw.request(
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": uri},
                    "range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 5}},
                    "context": {"diagnostics": []},
                },
            ),
            timeout=20,
        )
        assert answer["result"], answer
        # A lower version (a client that restarted its count) is a new text too.
        replace_text(raw, uri, ML_TEXT, 0)
        assert pe201_lines(last_publish(raw, uri, 3)) == [0]
    finally:
        raw.close()
