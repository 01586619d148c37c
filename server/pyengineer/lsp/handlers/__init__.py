"""One module per request/notification family; `register_all` wires them to a server."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyengineer.lsp.server import PyengineerServer


def register_all(server: PyengineerServer) -> None:
    from pyengineer.lsp.handlers import (
        ask,
        code_actions,
        commands,
        configuration,
        documents,
        hover,
        lifecycle,
        tests,
        watched_files,
    )

    for module in (
        lifecycle,
        configuration,
        documents,
        code_actions,
        commands,
        hover,
        watched_files,
        ask,
        tests,
    ):
        module.register(server)
