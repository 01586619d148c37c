"""Run pytest as a subprocess in the project's own interpreter, with progress, cancellation and a timeout.

`run_tests` starts pytest in its own process group (never through a shell), with `--junitxml` to a temporary
file and a small progress plugin (`pytest_progress/pyengineer_progress.py`) that reports each test as it
finishes. The JUnit report (read by `junit.parse_junit`) is the record of what happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from pyengineer.config import Settings
from pyengineer.errors import WorkspaceTrustError
from pyengineer.testing.interpreter import find_interpreter, install_hint
from pyengineer.testing.junit import parse_junit
from pyengineer.testing.results import (
    EXIT_INTERNAL,
    EXIT_NO_TESTS,
    EXIT_USAGE,
    Scope,
    TestProgress,
    TestRun,
)
from pyengineer.testing.targets import resolve_targets

PLUGIN_DIR = Path(__file__).parent / "pytest_progress"
PLUGIN_MODULE = "pyengineer_progress"
PROGRESS_ENV = "PYENGINEER_PROGRESS_FILE"

_KILL_GRACE = 3.0
_OUTPUT_LINES = 400


def build_command(
    interpreter: str, junit_path: Path, targets: Iterable[str], settings: Settings
) -> list[str]:
    """The pytest command line, as a list (it never goes through a shell)."""
    return [
        interpreter,
        "-m",
        "pytest",
        f"--junitxml={junit_path}",
        "-o",
        "junit_family=xunit1",  # xunit1 records each test's file and line
        "-p",
        PLUGIN_MODULE,
        *settings.tests.args,
        *targets,
    ]


class _ProgressReader:
    """Reads the plugin's JSON lines as they are appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = 0
        self.buffer = ""
        self.progress = TestProgress()
        self.rootdir: str | None = None

    def poll(self) -> bool:
        """Read what is new; True if the counts changed."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                handle.seek(self.position)
                chunk = handle.read()
                self.position = handle.tell()
        except OSError:
            return False
        self.buffer += chunk
        changed = False
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            changed |= self._apply(event)
        return changed

    def _apply(self, event: dict[str, object]) -> bool:
        kind = event.get("event")
        progress = self.progress
        if kind == "start":
            self.rootdir = str(event.get("rootdir") or "") or None
            return False
        if kind == "collected":
            count = event.get("count")
            progress.collected = count if isinstance(count, int) else None
            return True
        if kind == "collect-error":
            progress.errors += 1
            return True
        if kind == "test":
            outcome = event.get("outcome")
            node = event.get("nodeid")
            progress.current = node if isinstance(node, str) else None
            if event.get("when") == "teardown":
                progress.errors += 1
            elif outcome == "passed":
                progress.passed += 1
            elif outcome == "skipped":
                progress.skipped += 1
            elif event.get("when") == "setup":
                progress.errors += 1
            else:
                progress.failed += 1
            return True
        return False


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Stop pytest and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        process.wait(_KILL_GRACE)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass
    process.wait()


def run_tests(
    root: Path,
    scope: str = Scope.PROJECT,
    target: str | Path | None = None,
    settings: Settings | None = None,
    *,
    trusted: bool,
    cancel: threading.Event | None = None,
    on_progress: Callable[[TestProgress], None] | None = None,
    interpreter: str | None = None,
    fallback_interpreter: str | None = None,
) -> TestRun:
    """Run pytest for `scope` (`target` is the current file, or a node id) and report what happened.

    Blocking: call it from a worker thread. `cancel` stops the run (the whole process group is killed);
    `on_progress` is called from this thread whenever the counts change. Refuses to run in an untrusted
    workspace, because running tests runs the workspace's code.
    """
    if not trusted:
        raise WorkspaceTrustError(
            "running tests executes the workspace's code; trust the workspace first (in VS Code: "
            "'Workspaces: Manage Workspace Trust')"
        )
    settings = settings or Settings()
    root = root.resolve()
    scope = str(scope)
    targets, problem = resolve_targets(root, scope, target, settings)
    base = TestRun(root=str(root), scope=scope, targets=tuple(targets))
    if problem is not None:
        return replace(base, message=problem, no_tests_reason=problem[:1].lower() + problem[1:].rstrip("."))
    python = interpreter or find_interpreter(root, settings, fallback_interpreter)
    if python is None:
        return replace(
            base,
            message=(
                "No Python interpreter for the tests: create a virtual environment in .venv, or set "
                "`tests.interpreter` in [tool.pyengineer]."
            ),
            no_tests_reason="no Python interpreter for the tests",
        )
    with tempfile.TemporaryDirectory(prefix="pyengineer-tests-") as scratch:
        junit = Path(scratch) / "junit.xml"
        progress_file = Path(scratch) / "progress.jsonl"
        progress_file.touch()
        command = build_command(python, junit, targets, settings)
        base = replace(base, command=tuple(command), interpreter=python)
        env = dict(os.environ)
        env[PROGRESS_ENV] = str(progress_file)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGIN_DIR), env.get("PYTHONPATH", "")) if p)
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if os.name != "posix" else 0,
            )
        except OSError as exc:
            return replace(
                base,
                message=f"Could not start {python}: {exc.strerror or exc}",
                no_tests_reason=f"could not start {python}",
            )
        output: list[str] = []

        def read_output() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                if len(output) > 2 * _OUTPUT_LINES:
                    del output[:_OUTPUT_LINES]

        reader_thread = threading.Thread(target=read_output, name="pytest-output", daemon=True)
        reader_thread.start()
        reader = _ProgressReader(progress_file)
        cancelled = timed_out = False
        deadline = started + settings.tests.timeout
        while process.poll() is None:
            if cancel is not None and cancel.wait(0.1):
                cancelled = True
                _kill_group(process)
                break
            if cancel is None:
                time.sleep(0.1)
            if time.monotonic() > deadline:
                timed_out = True
                _kill_group(process)
                break
            if reader.poll() and on_progress is not None:
                on_progress(replace(reader.progress))
        exit_code = process.wait()
        reader_thread.join(5)
        if reader.poll() and on_progress is not None:
            on_progress(replace(reader.progress))
        duration = time.monotonic() - started
        text = "".join(output[-_OUTPUT_LINES:])
        base = replace(
            base,
            exit_code=exit_code,
            cancelled=cancelled,
            timed_out=timed_out,
            duration=duration,
            output=text,
        )
        if cancelled or timed_out:
            progress = reader.progress
            why = "cancelled" if cancelled else f"stopped after {settings.tests.timeout:g}s (tests.timeout)"
            return replace(
                base,
                passed=progress.passed,
                failed=progress.failed,
                errors=progress.errors,
                skipped=progress.skipped,
                message=f"Test run {why}.",
                no_tests_reason=None if progress.done else why,
            )
        if "No module named pytest" in text:
            return replace(
                base,
                pytest_missing=True,
                message=f"pytest is not installed in {python}. Install it with: {install_hint(root, python)}",
                no_tests_reason=f"pytest is not installed in {python}",
            )
        if not junit.is_file():
            return replace(
                base,
                message=f"pytest exited with code {exit_code} and wrote no report:\n{_tail(text)}",
                no_tests_reason=f"pytest exited with code {exit_code} and wrote no report",
            )
        rootdir = Path(reader.rootdir) if reader.rootdir else root
        try:
            counts, failures, outcomes = parse_junit(junit, rootdir, root)
        except ElementTree.ParseError as exc:
            return replace(
                base,
                message=f"pytest's JUnit report could not be read: {exc}",
                no_tests_reason="pytest's report could not be read",
            )
    collection = sum(1 for f in failures if f.kind == "collection")
    failed = counts["failures"]
    errors = counts["errors"]
    passed = max(counts["tests"] - failed - errors - counts["skipped"], 0)
    message = reason = None
    if exit_code == EXIT_NO_TESTS:
        where = "the project" if not targets else ", ".join(targets)
        message = f"No tests were collected from {where}."
        reason = f"no tests were collected from {where}"
    elif collection:
        files = f"{collection} file{'s' if collection != 1 else ''}"
        message = f"{files} could not be collected; no tests ran."
        reason = f"{files} could not be collected"
    elif exit_code in (EXIT_INTERNAL, EXIT_USAGE):
        message = f"pytest stopped with exit code {exit_code}:\n{_tail(text)}"
        reason = f"pytest stopped with exit code {exit_code}"
    if counts["tests"] > collection:
        reason = (
            None  # some tests ran: their counts are the summary (the message still says what else happened)
        )
    return replace(
        base,
        passed=passed,
        failed=failed,
        errors=errors,
        skipped=counts["skipped"],
        failures=tuple(failures),
        outcomes=outcomes,
        message=message,
        no_tests_reason=reason,
    )


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
