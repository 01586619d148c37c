"""PE9xx: test results. The test runner (`pyengineer test`, `pyengineer.runTests`) reports these, not `analyze`.

They are registered here so that their codes, severities and docs live in the same table as every other rule,
and `select`/`ignore`/`severity` settings apply to them too. `failure_findings` turns a finished run
(`testing.results.TestRun`) into findings on the failing lines; the checks registered for `analyze` find
nothing, because a document alone says nothing about how its tests ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyengineer.config import Settings
from pyengineer.engine.registry import MAX_MESSAGE, RuleInput, finding, is_selected, rule, severity_for
from pyengineer.findings import Finding, Fix, Range, Severity
from pyengineer.lines import LineIndex
from pyengineer.testing.attempts import FixAttempts
from pyengineer.testing.results import ASK_FIX_COMMAND, RUN_TESTS_COMMAND, Scope, TestRun
from pyengineer.workspace import safe_io


@rule(
    "PE901",
    "test-failure",
    "A test failed: reported on the failing assertion and on the application line in the traceback",
    severity=Severity.ERROR,
)
def test_failure(inp: RuleInput) -> Iterator[Finding]:
    return iter(())


@rule(
    "PE902",
    "needs-senior-review",
    "A test still fails after three fix-and-rerun cycles: stop patching and get a senior engineer to look",
    severity=Severity.ERROR,
)
def needs_senior_review(inp: RuleInput) -> Iterator[Finding]:
    return iter(())


class _Lines:
    """The files failures point into, each read once per run."""

    def __init__(self) -> None:
        self.cache: dict[str, LineIndex] = {}

    def range(self, path: str, line: int) -> Range:
        """The 1-based `line` of `path` from its first non-blank character to its end."""
        if path not in self.cache:
            try:
                text = safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES)
            except OSError:
                text = ""
            # Lines as the traceback counts them: a form feed is not a line break (str.splitlines says it is).
            self.cache[path] = LineIndex(text)
        return self.cache[path].content_range(max(line - 1, 0))


def _reported(
    code: str,
    path: str,
    where: Range,
    message: str,
    settings: Settings,
    fixes: tuple[Fix, ...] = (),
    data: dict[str, Any] | None = None,
) -> Finding:
    """`registry.finding` with the `severity` settings applied (what `analyze` does for the other rules).

    A test's failure message is often several lines (an assertion's diff, a traceback's last frames): the
    Problems panel and virtual text get its first line, cut to MAX_MESSAGE; the hover gets all of it."""
    short, detail = _one_line(message)
    found = finding(code, path, where, short, fixes=fixes, data=data, detail=detail)
    severity = severity_for(code, found.severity, settings.severity)
    return found if severity == found.severity else found.model_copy(update={"severity": severity})


def _one_line(message: str) -> tuple[str, str]:
    """(the message as one line of at most MAX_MESSAGE characters, the whole message as Markdown or "")."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    first = lines[0] if lines else message.strip()
    if len(lines) <= 1 and len(first) <= MAX_MESSAGE:
        return first, ""
    if len(first) > MAX_MESSAGE:
        first = first[: MAX_MESSAGE - 1].rstrip() + "…"
    # Test output is shown as it was printed: a fence keeps Markdown from reading it as markup.
    fence = "````" if "```" in message else "```"
    return first, f"{fence}text\n{message.strip()}\n{fence}"


def failure_findings(
    run: TestRun, attempts: FixAttempts | None = None, settings: Settings | None = None
) -> dict[str, list[Finding]]:
    """PE901 (and PE902) findings for each failure, by absolute path: on the failing line of the test file and
    on the line of application code the traceback went through. The test files of tests that passed get an
    empty list, which clears what an earlier run published there."""
    settings = settings or Settings()
    lines = _Lines()
    result: dict[str, list[Finding]] = {}
    for node_id in run.outcomes:
        result.setdefault(os.path.normpath(Path(run.root) / node_id.split("::", 1)[0]), [])
    for failure in run.failures:
        review = attempts is not None and attempts.needs_review(failure.test_id)
        offer_fix = attempts is None or attempts.can_offer_fix(failure.test_id)
        fixes: list[Fix] = []
        request = {
            "test_id": failure.test_id,
            "root": run.root,
            "message": failure.message,
            "output": failure.details,
            "test_file": failure.test_file,
            "test_line": failure.test_line,
            "app_file": failure.app_file,
            "app_line": failure.app_line,
        }
        if offer_fix and failure.kind != "collection":
            fixes.append(
                Fix(
                    title="Ask python-engineer for a fix",
                    command=ASK_FIX_COMMAND,
                    arguments=(request,),
                    preferred=True,
                )
            )
        fixes.append(
            Fix(
                title="Run this test again" if failure.kind != "collection" else "Run these tests again",
                command=RUN_TESTS_COMMAND,
                arguments=({"scope": Scope.FILE.value, "target": failure.test_id},),
            )
        )
        data = {"test_id": failure.test_id, "kind": failure.kind, "output": failure.details}
        places: list[tuple[str, int, str]] = []
        if failure.test_file is not None:
            if failure.kind == "collection":
                text = f"Collecting tests from this file failed: {failure.message}"
            else:
                text = (
                    f"{failure.name} {'failed' if failure.kind == 'failed' else 'errored'}: {failure.message}"
                )
            places.append((failure.test_file, failure.test_line or 1, text))
        if failure.app_file is not None and failure.app_line is not None:
            places.append(
                (failure.app_file, failure.app_line, f"{failure.name} fails here: {failure.message}")
            )
        for path, line, text in places:
            findings = result.setdefault(path, [])
            where = lines.range(path, line)
            if is_selected("PE901", settings.select, settings.ignore):
                findings.append(
                    _reported(
                        "PE901",
                        path,
                        where,
                        text,
                        settings,
                        fixes=tuple(fixes),
                        data={**data, "role": "test" if path == failure.test_file else "application"},
                    )
                )
            if (
                review
                and attempts is not None
                and path == failure.test_file
                and is_selected("PE902", settings.select, settings.ignore)
            ):
                findings.append(
                    _reported(
                        "PE902",
                        path,
                        where,
                        f"{failure.name} needs senior review: {attempts.summary(failure.test_id)}",
                        settings,
                        data={"test_id": failure.test_id, "attempts": attempts.count(failure.test_id)},
                    )
                )
    return result
