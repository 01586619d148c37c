"""Load: 2,000 didChange notifications as fast as the client can write them, with code actions in between.

The server must keep up (debounced diagnostics, every code action answered), its memory must stay bounded,
and the diagnostics it publishes last must be those of the last version.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(120)

CHANGES = 2_000
BASE = "import pandas as pd\n\n\ndef load(path):\n    # typing here: \n    return pd.read_csv(path)\n"
LOOP = 'for i, row in pd.DataFrame().iterrows():\n    pd.DataFrame().at[i, "t"] = row["a"] * 2\n'


def test_two_thousand_changes_with_code_actions(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": BASE, "requirements.txt": "pandas\n"})
    raw = RawServer(tmp_path)
    try:
        raw.initialize(repo)
        uri = (repo / "app.py").as_uri()
        raw.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": BASE}},
        )
        raw.pump(2.0)
        rss_before = raw.rss_kb()
        cpu_before = raw.cpu_seconds()
        rss_peak = rss_before
        actions: list[int] = []
        column = len("    # typing here: ")
        started = time.monotonic()
        for n in range(CHANGES):
            version = n + 2
            if n == CHANGES - 1:
                # The last change adds a loop that PE701 flags: only the last version has that diagnostic.
                change = {
                    "range": {"start": {"line": 6, "character": 0}, "end": {"line": 6, "character": 0}},
                    "text": LOOP,
                }
            else:
                char = column + n
                change = {
                    "range": {"start": {"line": 4, "character": char}, "end": {"line": 4, "character": char}},
                    "text": "x",
                }
            raw.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            )
            if n % 50 == 0:
                actions.append(
                    raw.request(
                        "textDocument/codeAction",
                        {
                            "textDocument": {"uri": uri},
                            "range": {
                                "start": {"line": 0, "character": 0},
                                "end": {"line": 5, "character": 0},
                            },
                            "context": {"diagnostics": []},
                        },
                    )
                )
            if n % 100 == 0:
                raw.pump(0)  # keep the server's output pipe drained, as an editor does
                rss_peak = max(rss_peak, raw.rss_kb())
        sent = time.monotonic() - started
        last = CHANGES + 1
        for msg_id in actions:
            answer = raw.response(msg_id, timeout=30)
            assert "error" not in answer, answer
        deadline = time.monotonic() + 30
        final = None
        while time.monotonic() < deadline and final is None:
            raw.pump(0.1)
            rss_peak = max(rss_peak, raw.rss_kb())
            published = [
                m["params"]
                for m in raw.notifications("textDocument/publishDiagnostics")
                if m["params"]["uri"] == uri
            ]
            if published and published[-1].get("version") == last:
                final = published
        caught_up = time.monotonic() - started
        assert final is not None, (
            f"the last version's diagnostics never came; last published: {published[-1:]}"
        )
        raw.pump(1.0)  # nothing stale may follow
        published = [
            m["params"]
            for m in raw.notifications("textDocument/publishDiagnostics")
            if m["params"]["uri"] == uri
        ]
        assert published[-1]["version"] == last
        versions = [p["version"] for p in published]
        assert versions == sorted(versions), "an older version was published after a newer one"
        codes = {d["code"]: d for d in published[-1]["diagnostics"]}
        assert "PE701" in codes and codes["PE701"]["range"]["start"]["line"] == 6
        assert all(
            "PE701" not in {d["code"] for d in p["diagnostics"]}
            for p in published[:-1]
            if p["version"] < last
        )
        rss_after = raw.rss_kb()
        cpu = raw.cpu_seconds() - cpu_before
        print(
            f"\n{CHANGES} changes sent in {sent:.2f}s, caught up after {caught_up:.2f}s; "
            f"{len(published)} publishes; {len(actions)} code actions answered; "
            f"RSS {rss_before // 1024} -> peak {rss_peak // 1024} -> {rss_after // 1024} MB; CPU {cpu:.1f}s"
        )
        assert len(published) < CHANGES / 10, "diagnostics were not debounced"
        assert rss_peak - rss_before < 150 * 1024, "memory grew by more than 150 MB"
    finally:
        raw.close()
