"""The agent's search through the real server: a regex that backtracks forever cannot hang it.

`(x+x+)+y` on one long line of x's never ends with Python's `re`, which holds the GIL all the while: the whole
server froze, diagnostics included. The search now runs with the `regex` package's timeout (the GIL released
while it matches) on the agent's own thread pool, and the model gets a tool error it can act on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.agent.conftest import TEST_KEY
from tests.agent.fake_api import FakeMessagesAPI, result_text, tool_use, turn
from tests.lsp.conftest import agent_env, lsp_session, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(120)

CATASTROPHIC = "(x+x+)+y"


def searching(lsp: Any) -> bool:
    reports = [r for values in lsp.progress_reports.values() for r in values]
    return any(getattr(r, "message", None) == f"searching for {CATASTROPHIC!r}" for r in reports)


async def test_a_catastrophic_search_is_stopped_and_diagnostics_flow_meanwhile(
    ml_repo: tuple[Path, Path], fake_api: FakeMessagesAPI
) -> None:
    repo, model = ml_repo
    (repo / "data.txt").write_text("x" * 5_000 + "\n", encoding="utf-8")
    other = repo / "score.py"
    other.write_text("import torch\n\n\ndef score(x):\n    return torch.tensor(x)\n", encoding="utf-8")
    fake_api.add(
        turn(tool_use("search", {"regex": CATASTROPHIC})),
        turn(tool_use("propose_edits", {"edits": [], "explanation": "There is no y."})),
    )
    env = agent_env(fake_api)
    async with lsp_session([repo], init_options={"apiKey": TEST_KEY}, env=env) as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE201" in c)
        ask = asyncio.ensure_future(
            lsp.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="pyengineer.ask", arguments=[{"uri": uri, "question": "Where is y?"}]
                )
            )
        )
        await wait_for(lambda: searching(lsp), timeout=30)
        # While the regex runs, a newly opened file gets its diagnostics.
        other_uri = open_doc(lsp, other)
        await wait_for_codes(lsp, other_uri, lambda c: "PE201" in c, timeout=30)
        assert not ask.done()
        await asyncio.wait_for(ask, 60)
    (result,) = fake_api.requests[1].tool_results()
    assert result.get("is_error") is True
    message = result_text(result)
    assert "time limit" in message and "data.txt" in message and "catastrophically" in message
