"""A writer for a server driven in-process: it keeps every byte the server writes, and reads them back as
LSP frames (headers and JSON body, split by Content-Length)."""

from __future__ import annotations

import json
from typing import Any


class Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    def frames(self) -> list[tuple[dict[str, str], Any]]:
        """(headers, parsed JSON body) per message written, in order."""
        out = []
        data = self.data
        while data:
            head, _, rest = data.partition(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode("ascii").split("\r\n"))
            length = int(headers["Content-Length"])
            out.append((headers, json.loads(rest[:length].decode("utf-8"))))
            data = rest[length:]
        return out

    def publishes(self, uri: str) -> list[dict[str, Any]]:
        """The params of every textDocument/publishDiagnostics for `uri`."""
        return [
            body["params"]
            for _, body in self.frames()
            if body.get("method") == "textDocument/publishDiagnostics" and body["params"]["uri"] == uri
        ]
