"""A pytest plugin that tells pyengineer how a run is going, loaded with `-p pyengineer_progress`.

It runs inside the project's own interpreter, which does not have pyengineer installed: so it is a module of its
own (its folder goes on PYTHONPATH), imports only the standard library, and keeps to Python 3.8 syntax. Events
are JSON lines appended to the file named by PYENGINEER_PROGRESS_FILE; without it the plugin does nothing.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

_stream: IO[str] | None = None


def _emit(event: dict[str, Any]) -> None:
    global _stream
    if _stream is None:
        path = os.environ.get("PYENGINEER_PROGRESS_FILE")
        if not path:
            return
        _stream = open(path, "a", encoding="utf-8", buffering=1)  # held open for the whole run
    _stream.write(json.dumps(event) + "\n")
    _stream.flush()


def pytest_sessionstart(session: Any) -> None:
    _emit({"event": "start", "rootdir": str(session.config.rootpath)})


def pytest_collection_finish(session: Any) -> None:
    _emit({"event": "collected", "count": len(session.items)})


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _emit({"event": "collect-error", "nodeid": report.nodeid})


def pytest_runtest_logreport(report: Any) -> None:
    # One event per test: its call (or its setup, when setup failed or skipped it), plus failed teardowns.
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _emit({"event": "test", "nodeid": report.nodeid, "outcome": report.outcome, "when": report.when})
    elif report.when == "teardown" and report.failed:
        _emit({"event": "test", "nodeid": report.nodeid, "outcome": "error", "when": report.when})


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    _emit({"event": "finished", "exitstatus": int(exitstatus)})
    global _stream
    if _stream is not None:
        _stream.close()
        _stream = None
