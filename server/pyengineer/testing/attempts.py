"""The fix-and-rerun cycle: how many suggested fixes a failing test has resisted."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyengineer.testing.results import TestRun


@dataclass(frozen=True)
class FixAttempt:
    summary: str  # what the fix changed, in a line
    outcome: str  # the failure message after the rerun


class FixAttempts:
    """Bookkeeping of fix-and-rerun cycles per test: after `limit` failed cycles, stop offering fixes.

    The LSP layer holds one per workspace: `started(test_id, summary)` when a suggested fix is applied, then
    `settle(run)` with the rerun's result. A test that passes is forgotten; one that still fails counts an
    attempt. Pure bookkeeping, thread-safe, no I/O.
    """

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._attempts: dict[str, list[FixAttempt]] = {}
        self._pending: dict[str, str] = {}

    def started(self, test_id: str, summary: str) -> None:
        """A fix for `test_id` was applied; the next run that includes the test settles it."""
        with self._lock:
            self._pending[test_id] = " ".join(summary.split())[:200] or "a suggested fix"

    def settle(self, run: TestRun) -> list[str]:
        """Count the outcome of pending fixes; returns the tests that now need senior review."""
        failures = {f.test_id: f for f in run.failures}
        newly: list[str] = []
        with self._lock:
            for test_id in list(self._pending):
                outcome = run.outcomes.get(test_id)
                if outcome is None and test_id not in failures:
                    continue  # the test did not run this time
                summary = self._pending.pop(test_id)
                if outcome == "passed":
                    self._attempts.pop(test_id, None)
                    continue
                failure = failures.get(test_id)
                history = self._attempts.setdefault(test_id, [])
                history.append(FixAttempt(summary, failure.message if failure else outcome or "failed"))
                if len(history) == self.limit:
                    newly.append(test_id)
            for test_id, outcome in run.outcomes.items():
                if outcome == "passed" and test_id not in self._pending:
                    self._attempts.pop(test_id, None)
        return newly

    def record(self, test_id: str, summary: str, outcome: str) -> None:
        """Count one failed cycle directly (when the caller tracks the rerun itself)."""
        with self._lock:
            self._attempts.setdefault(test_id, []).append(
                FixAttempt(" ".join(summary.split())[:200], outcome)
            )

    def forget(self, test_id: str) -> None:
        with self._lock:
            self._attempts.pop(test_id, None)
            self._pending.pop(test_id, None)

    def count(self, test_id: str) -> int:
        with self._lock:
            return len(self._attempts.get(test_id, ()))

    def attempts(self, test_id: str) -> tuple[FixAttempt, ...]:
        with self._lock:
            return tuple(self._attempts.get(test_id, ()))

    def needs_review(self, test_id: str) -> bool:
        return self.count(test_id) >= self.limit

    def can_offer_fix(self, test_id: str) -> bool:
        return not self.needs_review(test_id)

    def summary(self, test_id: str) -> str:
        history = self.attempts(test_id)
        listed = "; ".join(
            f"{i}) {a.summary} -> still failing: {a.outcome}" for i, a in enumerate(history, 1)
        )
        return f"{len(history)} fix attempts did not make it pass. {listed}"
