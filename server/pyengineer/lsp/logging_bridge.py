"""Forward Python logging to the client's window/logMessage, at the level the client's trace asks for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lsprotocol import types

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


class ClientLogHandler(logging.Handler):
    """Sends records to the client from any thread by hopping onto the server's event loop."""

    def __init__(self, send: Callable[[types.LogMessageParams], None]) -> None:
        super().__init__(level=logging.INFO)
        self.send = send
        self.loop: asyncio.AbstractEventLoop | None = None
        self.broken = False  # the client went away: stop forwarding

    def emit(self, record: logging.LogRecord) -> None:
        # pygls' own records are about the transport: when the client is gone, forwarding them would fail,
        # be logged, and be forwarded again, without end.
        if self.broken or record.name.startswith("pygls") or self.loop is None or self.loop.is_closed():
            return
        try:
            message = self.format(record)
        except Exception:
            return
        level = max((lvl for lvl in _LEVELS if lvl <= record.levelno), default=logging.DEBUG)
        params = types.LogMessageParams(type=_LEVELS[level], message=message)
        try:
            self.loop.call_soon_threadsafe(self._send, params)
        except RuntimeError:
            pass  # the loop is shutting down

    def _send(self, params: types.LogMessageParams) -> None:
        try:
            self.send(params)
        except (BrokenPipeError, ConnectionError, OSError):
            self.broken = True

    def set_trace(self, value: str) -> None:
        self.setLevel(logging.DEBUG if value == types.TraceValue.Verbose else logging.INFO)
