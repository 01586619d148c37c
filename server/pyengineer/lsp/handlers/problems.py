"""Problems that cost the user findings (a rule that raised, a broken baseline): logged, and shown once.

The engine reports them from the analysing thread (engine/analyze.py `report_problem`); each one is logged
and the first of each kind (one per rule, one per baseline error) of the session is shown with
window/showMessage, so a failing rule is never silent and never a popup per keystroke.
"""

from __future__ import annotations

import logging
import threading

from lsprotocol import types

from pyengineer.engine.analyze import on_problem
from pyengineer.lsp.server import PyengineerServer

log = logging.getLogger(__name__)


def register(server: PyengineerServer) -> None:
    shown: set[str] = set()
    lock = threading.Lock()

    def listener(key: str, message: str) -> None:
        with lock:
            first = key not in shown
            shown.add(key)
        if not first:
            return
        log.error("%s", message)
        loop = server.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(server.show_message, message, types.MessageType.Error)
        except RuntimeError:
            pass  # the loop is shutting down

    on_problem(listener)
