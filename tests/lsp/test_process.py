"""The server process: --help, TCP on loopback only, progress for the first scan, exit when the editor dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.conftest import lsp_session, make_repo, wait_for

pytestmark = pytest.mark.timeout(60)


def test_serve_help_documents_stdio_and_tcp() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pyengineer", "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--stdio" in out and "--tcp" in out and "127.0.0.1" in out and "--allow-remote" in out


def test_tcp_refuses_a_non_loopback_address_without_allow_remote() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pyengineer", "serve", "--tcp", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "refusing" in result.stderr and "--allow-remote" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tcp_listens_on_loopback_by_default() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyengineer", "serve", "--tcp", str(port)], stderr=subprocess.PIPE
    )
    try:
        listening = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not listening:
            out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
            listening = "\n".join(line for line in out.splitlines() if f":{port} " in line)
            time.sleep(0.1)
        assert listening, "server never listened"
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_first_scan_reports_progress(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {f"m{i}.py": "import os\n" for i in range(50)})
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        await wait_for(lambda: lsp.statuses)  # type: ignore[attr-defined]
        reports = [r for values in lsp.progress_reports.values() for r in values]
        kinds = [type(r) for r in reports]
        assert types.WorkDoneProgressBegin in kinds and types.WorkDoneProgressEnd in kinds
        assert "50 Python files" in next(
            r.message for r in reports if isinstance(r, types.WorkDoneProgressEnd)
        )


def test_server_exits_when_its_parent_dies(tmp_path: Path) -> None:
    # A stand-in editor: a process that starts the server, tells us the server's pid, then is killed.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import json, subprocess, sys, os, time\n"
            "p = subprocess.Popen([sys.executable, '-m', 'pyengineer', 'serve'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
            "body = json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'initialize', 'params': {'processId': os.getpid(), 'capabilities': {}, 'rootUri': None}})\n"
            "p.stdin.write(f'Content-Length: {len(body)}\\r\\n\\r\\n{body}'.encode()); p.stdin.flush()\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    time.sleep(1.5)  # let the server answer initialize and start watching its parent
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        # A zombie counts as gone: it has exited and only waits to be reaped by init.
        status = Path(f"/proc/{server_pid}/status")
        if status.exists() and "State:\tZ" in status.read_text():
            return
        time.sleep(0.2)
    os.kill(server_pid, signal.SIGKILL)
    raise AssertionError("the server outlived its parent editor")
