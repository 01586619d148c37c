"""Start-up and shutdown over a raw pipe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[RawServer]:
    server = RawServer(tmp_path)
    yield server
    server.close()


def test_exit_while_initialized_waits_on_the_client_ends_the_server(raw: RawServer, tmp_path: Path) -> None:
    """`initialized` asks the client for its settings, which never answers; `exit` still ends the server (code 1,
    no shutdown). The cancelled request's log used to be written to the closed stdout, failing and being logged
    again without end."""
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n"})
    raw.initialize(repo, {"workspace": {"configuration": True}})
    raw.pump(1.0)
    assert any(m.get("method") == "workspace/configuration" for m in raw.received)
    raw.notify("exit", None)
    assert raw.proc.wait(20) == 1
    assert raw.stderr_path.stat().st_size < 100_000
