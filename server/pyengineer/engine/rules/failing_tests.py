"""PE9xx: test results. The test runner (`pyengineer test`, `pyengineer.runTests`) reports these, not `analyze`.

They are registered here so that their codes, severities and docs live in the same table as every other rule,
and `select`/`ignore`/`severity` settings apply to them too (see `actions.testing.failure_findings`).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyengineer.engine.registry import RuleInput, rule
from pyengineer.findings import Finding, Severity


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
