"""The test runner in the editor: `pyengineer.runTests`, failures as PE901 diagnostics, and the fix cycle.

Tests run only in a trusted workspace (the editor says so in initializationOptions), in a worker thread with
cancellable `$/progress` that shows passed/failed counts. Failures are published on the failing assertion in
the test file and on the application line the traceback went through; a rerun clears what passed.
`pyengineer.fixTest` asks the agent for a fix with the failure output; after three fix-and-rerun cycles on one
test it is no longer offered and PE902 asks for senior review.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from pyengineer.engine.rules.failing_tests import failure_findings
from pyengineer.errors import WorkspaceTrustError
from pyengineer.findings import Finding
from pyengineer.lsp import publishing
from pyengineer.lsp.convert import LineCodec, diagnostic
from pyengineer.lsp.handlers.code_actions import disk_text
from pyengineer.lsp.handlers.commands import target_path, workspace_of
from pyengineer.lsp.params import AskArgs, ClientRange, FixTestArgs, Position, RunTestsArgs, command_argument
from pyengineer.lsp.progress import WorkProgress
from pyengineer.lsp.results import AskResult, TestFailureInfo, TestsResult, wire
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceState
from pyengineer.session.session import path_to_uri
from pyengineer.testing.attempts import FixAttempts
from pyengineer.testing.results import ASK_FIX_COMMAND, RUN_TESTS_COMMAND, Scope, TestProgress, TestRun
from pyengineer.testing.runner import run_tests

log = logging.getLogger(__name__)


def _progress_text(progress: TestProgress) -> tuple[str, int | None]:
    counts = f"{progress.passed} passed, {progress.failed + progress.errors} failed"
    if progress.collected:
        return f"{counts} ({progress.done}/{progress.collected})", min(
            100, progress.done * 100 // progress.collected
        )
    return counts, None


def attempts_for(ls: PyengineerServer, state: WorkspaceState) -> FixAttempts:
    attempts: FixAttempts = ls.fix_attempts.setdefault(str(state.root), FixAttempts())
    return attempts


def publish_test_findings(
    ls: PyengineerServer, state: WorkspaceState, by_path: dict[str, list[Finding]]
) -> None:
    """Replace the test findings of the workspace with a run's; open documents merge them with rule findings."""
    root = str(state.root)
    # Paths that carried findings from the previous run and have none now are cleared, too.
    stale: dict[str, list[Finding]] = {
        p: [] for p in ls.test_findings if p.startswith(root + "/") and p not in by_path
    }
    for path, findings in {**stale, **by_path}.items():
        if findings:
            ls.test_findings[path] = findings
        else:
            ls.test_findings.pop(path, None)
        uri = path_to_uri(path)
        if uri in ls.session.documents:
            continue  # republished below with the rule findings
        codec = LineCodec(disk_text(path), ls.position_encoding)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[diagnostic(f, codec) for f in findings])
        )
    publishing.republish(ls, state.root)


MAX_OUTPUT_CHARS = 20_000  # pytest's output in the answer, for the client's detail view


def tests_result(run: TestRun, review: list[str]) -> TestsResult:
    """A finished run as the command's answer: the status says what happened, the message in one sentence."""
    if run.cancelled:
        status = "cancelled"
    elif run.failures or run.failed or run.errors:
        status = "tests-failed"
    elif not run.ok:
        status = "failed"  # pytest did not run, or stopped (missing, timed out, crashed)
    elif run.passed == 0:
        status = "no-tests"
    else:
        status = "ok"
    message = run.message or run.summary()
    if review:
        message += f"; {len(review)} test{'s' if len(review) != 1 else ''} need senior review after repeated fix attempts"
    return TestsResult(
        status=status,  # type: ignore[arg-type]
        message=message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."),
        ok=run.ok,
        passed=run.passed,
        failed=run.failed,
        errors=run.errors,
        skipped=run.skipped,
        summary=run.summary(),
        failures=tuple(TestFailureInfo(test_id=f.test_id, message=f.message) for f in run.failures),
        needs_review=tuple(review),
        output=run.output[-MAX_OUTPUT_CHARS:],
    )


async def run_and_publish(ls: PyengineerServer, arg: RunTestsArgs, cancel: threading.Event) -> dict[str, Any]:
    path = target_path(ls, arg)
    state = workspace_of(ls, path)
    scope = arg.scope or (Scope.FILE.value if path is not None else Scope.PROJECT.value)
    target = arg.target if arg.target is not None else (str(path) if path is not None else None)
    progress = WorkProgress(ls, cancel, "tests")
    await progress.begin("pyengineer: running tests")
    loop = asyncio.get_running_loop()

    def on_progress(counts: TestProgress) -> None:
        text, percentage = _progress_text(counts)
        progress.report(text, percentage)

    work = partial(
        run_tests,
        state.root,
        scope,
        target,
        state.settings,
        trusted=ls.session.trusted,
        cancel=cancel,
        on_progress=on_progress,
    )
    try:
        run: TestRun = await loop.run_in_executor(ls.executor, work)
    except WorkspaceTrustError as exc:
        progress.end("not trusted")
        return wire(TestsResult(status="refused", message=f"{str(exc)[:1].upper()}{str(exc)[1:]}"))
    except asyncio.CancelledError:
        cancel.set()
        progress.end("cancelled")
        raise
    progress.end(run.summary())
    if run.cancelled:
        return wire(
            TestsResult(status="cancelled", message="The test run was cancelled.", summary=run.summary())
        )
    attempts = attempts_for(ls, state)
    review = attempts.settle(run)
    publish_test_findings(ls, state, failure_findings(run, attempts, state.settings))
    return wire(tests_result(run, review))


async def fix_test(ls: PyengineerServer, arg: FixTestArgs, cancel: threading.Event) -> dict[str, Any]:
    """Ask the agent to fix one failing test, with the failure output in the request."""
    from pyengineer.lsp.handlers.ask import run_ask

    test_id = arg.test_id
    place = arg.app_file or arg.test_file
    if place is None:
        raise JsonRpcInvalidParams("test_file: the failure names no file (pass the PE901 action's argument)")
    state = workspace_of(ls, Path(place))
    attempts = attempts_for(ls, state)
    if not attempts.can_offer_fix(test_id):
        message = f"{test_id} needs senior review: {attempts.summary(test_id)}"
        return wire(AskResult(status="needs-review", message=message))
    line = max((arg.app_line if arg.app_file else arg.test_line) or 1, 1) - 1
    question = (
        f"The test {test_id} fails (its output is below). Find the cause and propose the smallest correct fix. "
        "Fix the application code, not the test, unless the test itself is wrong (then say why)."
    )
    failing_test = f"{test_id}: {arg.message}\n\nOutput:\n{arg.output[:6000]}"
    here = Position(line=line, character=0)
    answer = await run_ask(
        ls,
        AskArgs(
            uri=path_to_uri(place),
            range=ClientRange(start=here, end=here),
            question=question,
            failing_test=failing_test,
            mode="fix",
        ),
        cancel,
    )
    if answer.get("applied"):
        # The next run that includes this test settles the attempt (passes: forgotten; fails: counted).
        attempts.started(test_id, str(answer.get("explanation") or "a suggested fix"))
    return answer


def register(server: PyengineerServer) -> None:
    @server.command(RUN_TESTS_COMMAND)
    async def run_tests_command(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        return await run_and_publish(
            ls, command_argument(RunTestsArgs, RUN_TESTS_COMMAND, args), threading.Event()
        )

    @server.command(ASK_FIX_COMMAND)
    async def fix_test_command(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        return await fix_test(ls, command_argument(FixTestArgs, ASK_FIX_COMMAND, args), threading.Event())
