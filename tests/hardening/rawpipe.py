"""A raw JSON-RPC pipe to the real `python -m pyengineer serve`: we write the bytes ourselves.

pytest-lsp's client cannot send malformed frames, and it is too slow to flood the server with 2,000
notifications; this helper can do both, and it reads the server's memory and CPU time from /proc.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lsp.conftest import GIT_ENV

CLK_TCK = os.sysconf("SC_CLK_TCK")


class RawServer:
    """`pyengineer serve` over stdio; messages are dicts, frames are bytes, reads are bounded."""

    def __init__(self, cwd: Path, log_file: Path | None = None) -> None:
        env = {**os.environ, **GIT_ENV}
        env.pop("ANTHROPIC_API_KEY", None)
        args = [sys.executable, "-m", "pyengineer", "serve"]
        if log_file is not None:
            args += ["--log-file", str(log_file)]
        self.stderr_path = cwd / "server-stderr.txt"
        self._stderr = open(self.stderr_path, "wb")  # closed in close()
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=cwd, env=env
        )
        self.buffer = b""
        self.received: list[dict[str, Any]] = []
        self.next_id = 1000

    # --- writing ------------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def frame(self, body: bytes) -> None:
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict[str, Any]) -> None:
        self.frame(json.dumps(message).encode("utf-8"))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any = None, msg_id: int | None = None) -> int:
        if msg_id is None:
            self.next_id += 1
            msg_id = self.next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    # --- reading ------------------------------------------------------------------------------------------

    def pump(self, timeout: float) -> None:
        """Read whatever arrives within `timeout` seconds into `received`."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.05))
            if not ready and remaining <= 0:
                return
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return
                self.buffer += chunk
                self._parse()

    def _parse(self) -> None:
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = None
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            assert length is not None, f"server wrote a frame without Content-Length: {head!r}"
            if len(rest) < length:
                return
            self.received.append(json.loads(rest[:length]))
            self.buffer = rest[length:]

    def response(self, msg_id: int | None, timeout: float = 10.0) -> dict[str, Any]:
        """The response to request `msg_id` (None: a response with a null id), waiting at most `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.received:
                if "method" not in message and message.get("id") == msg_id:
                    self.received.remove(message)
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no response to {msg_id!r} within {timeout}s; got {self.received[-5:]}")
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.proc.returncode} while waiting for {msg_id!r}"
                )
            self.pump(0.05)

    def notifications(self, method: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("method") == method]

    # --- lifecycle ----------------------------------------------------------------------------------------

    def initialize(
        self,
        root: Path | None,
        capabilities: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "capabilities": capabilities or {},
            "initializationOptions": options or {},
            "rootUri": root.as_uri() if root else None,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}] if root else None,
        }
        result = self.response(self.request("initialize", params), timeout=20)
        self.notify("initialized", {})
        return result

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        return cpu_seconds(self.proc.pid)

    def close(self) -> int | None:
        try:
            if self.alive():
                try:
                    msg_id = self.request("shutdown")
                    self.response(msg_id, timeout=5)
                    self.notify("exit", None)
                    self.proc.wait(5)
                except (AssertionError, OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            if self.alive():
                self.proc.kill()
                self.proc.wait(5)
            self._stderr.close()
        return self.proc.returncode


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields after the command: state is [0], utime is field 14 overall -> [11], stime [12].
    return (int(fields[11]) + int(fields[12])) / CLK_TCK
