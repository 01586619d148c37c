"""Start-up: `initialize` is answered before the handlers' heavy imports, and nothing is lost meanwhile.

The handler modules other than `lifecycle` and `configuration` are imported in a thread after the answer
(lsp/handlers/__init__.py); `initialize` advertises their features from a static table, and the messages that
arrive while they load are held and handled in order afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyengineer.lsp.handlers import DEFERRED_COMMANDS, DEFERRED_FEATURES, import_deferred, register_deferred
from pyengineer.lsp.server import create_server

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(60)

# Modules that answering `initialize` must not need: each costs tens of milliseconds to import.
HEAVY = (
    "pydantic",
    "pyengineer.config",
    "pyengineer.findings",
    "pyengineer.engine",
    "pyengineer.workspace",
    "pyengineer.git",
    "pyengineer.lsp.publishing",
    "pyengineer.lsp.workspaces",
    "pyengineer.agent",
    "pyengineer.actions",
    "git",
    "watchdog",
)


def registrations(server: Any) -> tuple[set[str], dict[str, Any], set[str]]:
    fm = server.protocol.fm
    return set(fm.features), dict(fm.feature_options), set(fm.commands)


def test_the_static_table_is_what_the_deferred_modules_register() -> None:
    """If this fails, a handler module registers a feature or command that `initialize` would not advertise:
    add it to DEFERRED_FEATURES / DEFERRED_COMMANDS in lsp/handlers/__init__.py."""
    server = create_server()
    before = registrations(server)
    register_deferred(server, import_deferred())
    after = registrations(server)
    assert after == before
    for method in DEFERRED_FEATURES:
        handler = server.protocol.fm.features[method]
        assert not getattr(getattr(handler, "func", handler), "pyengineer_placeholder", False), method
    for command in DEFERRED_COMMANDS:
        handler = server.protocol.fm.commands[command]
        assert not getattr(getattr(handler, "func", handler), "pyengineer_placeholder", False), command


INITIALIZE_IN_PROCESS = textwrap.dedent(
    """
    import asyncio, json, sys

    from pyengineer.lsp.server import create_server

    HEAVY = tuple(sys.argv[1].split(","))
    server = create_server()
    written = []

    class Writer:
        def write(self, data):
            written.append(json.loads(data.split(b"\\r\\n\\r\\n", 1)[1]))

        def close(self):
            pass

    server.protocol.set_writer(Writer())

    def receive(message):
        text = json.dumps({"jsonrpc": "2.0", **message})
        server.protocol.handle_message(json.loads(text, object_hook=server.protocol.structure_message))

    async def main():
        receive({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        answered = [m for m in written if m.get("id") == 1]
        loaded_at_answer = sorted(m for m in sys.modules if m.startswith(HEAVY))
        receive({"method": "initialized", "params": {}})
        receive({"id": 2, "method": "shutdown"})
        held = len(server.protocol.held or [])
        for _ in range(1000):
            if server.handlers_loaded:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        print(json.dumps({
            "answer": answered[0],
            "loaded_at_answer": loaded_at_answer,
            "held": held,
            "shutdown_answered": any(m.get("id") == 2 for m in written),
            "loaded_after": "pyengineer.lsp.publishing" in sys.modules,
        }))

    asyncio.run(main())
    """
)


def test_initialize_is_answered_before_the_heavy_imports_and_held_messages_follow() -> None:
    # A fresh interpreter: the test process has imported everything already.
    out = subprocess.run(
        [sys.executable, "-c", INITIALIZE_IN_PROCESS, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["loaded_at_answer"] == []
    capabilities = report["answer"]["result"]["capabilities"]
    assert capabilities["codeActionProvider"]["resolveProvider"] is True
    assert capabilities["hoverProvider"]
    assert "pyengineer.createBranch" in capabilities["executeCommandProvider"]["commands"]
    assert report["held"] == 2
    assert report["shutdown_answered"]
    assert report["loaded_after"]


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[RawServer]:
    server = RawServer(tmp_path)
    yield server
    server.close()


def test_shutdown_and_exit_sent_with_initialize_still_end_the_server(raw: RawServer, tmp_path: Path) -> None:
    """Shutdown and exit arrive while the handlers are loading: shutdown is answered and the exit code is 0."""
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n"})
    raw.request("initialize", {"processId": None, "rootUri": repo.as_uri(), "capabilities": {}}, msg_id=1)
    raw.request("shutdown", msg_id=2)
    raw.notify("exit", None)
    assert raw.proc.wait(20) == 0
    raw.pump(0.5)
    assert any(m.get("id") == 2 and "result" in m for m in raw.received)


def test_exit_while_initialized_waits_on_the_client_ends_the_server(raw: RawServer, tmp_path: Path) -> None:
    """`initialized` asks the client for its settings, which never answers; `exit` still ends the server (code 1,
    no shutdown). The cancelled request's log used to be written to the closed stdout, failing and being logged
    again without end."""
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n"})
    raw.initialize(repo, {"workspace": {"configuration": True}})
    deadline = time.monotonic() + 20  # the request follows the handlers' import, slower on a loaded machine
    while not any(m.get("method") == "workspace/configuration" for m in raw.received):
        assert time.monotonic() < deadline, "the server never asked for its configuration"
        raw.pump(0.1)
    raw.notify("exit", None)
    assert raw.proc.wait(20) == 1
    assert raw.stderr_path.stat().st_size < 100_000
