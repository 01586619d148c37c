"""Work-done progress for long work (the first scan, the agent, test runs); a Cancel button sets an Event."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid

from lsprotocol import types

from pyengineer.lsp.server import PyengineerServer

log = logging.getLogger(__name__)


class WorkProgress:
    """Work-done progress for one long piece of work; steps may be reported from any thread.

    With a `cancel` event the client shows a Cancel button that sets it; without one, none is shown.
    Nothing is sent to a client that does not support progress.
    """

    def __init__(self, ls: PyengineerServer, cancel: threading.Event | None, kind: str) -> None:
        self.ls = ls
        self.kind = kind  # names the token ("pyengineer-agent-..."), so logs and clients can tell them apart
        self.cancel = cancel
        self.token: str | None = None
        self.loop = asyncio.get_running_loop()

    async def begin(
        self, title: str, message: str | None = "starting", percentage: int | None = None
    ) -> None:
        if not self.ls.client.work_done_progress:
            return
        token = f"pyengineer-{self.kind}-{uuid.uuid4().hex[:12]}"
        try:
            await self.ls.work_done_progress.create_async(token)
        except Exception:  # a client may refuse progress; the request still runs
            log.debug("window/workDoneProgress/create failed", exc_info=True)
            return
        self.token = token
        self.ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title, message=message, percentage=percentage, cancellable=self.cancel is not None
            ),
        )
        future = self.ls.work_done_progress.tokens.get(token)
        cancel = self.cancel
        if future is not None and cancel is not None:
            # The progress Cancel button cancels this future (pygls): stop the work.
            future.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)

    def report(self, step: str, percentage: int | None = None) -> None:
        token = self.token
        if token is not None:
            report = types.WorkDoneProgressReport(message=step, percentage=percentage)
            self.loop.call_soon_threadsafe(self.ls.work_done_progress.report, token, report)

    def end(self, message: str) -> None:
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(self.token, None)
            self.token = None
