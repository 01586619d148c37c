"""The outcome of a test run: what ran, what failed and where, and why nothing ran when nothing did."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pyengineer import names

# The commands the PE901 fixes run (the LSP layer registers them); declared once, in names.py.
ASK_FIX_COMMAND = names.FIX_TEST
RUN_TESTS_COMMAND = names.RUN_TESTS

# pytest exit codes
EXIT_OK, EXIT_TESTS_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_TESTS = 0, 1, 2, 3, 4, 5


class Scope(StrEnum):
    FILE = "file"  # the current test file (or the tests of the current module, if it is not a test file)
    MODULE = "module"  # the tests of the current module
    PROJECT = "project"  # everything pytest collects from the root


@dataclass(frozen=True)
class TestFailure:
    """One failed or broken test, located in the test file and in the application code."""

    __test__ = False

    test_id: str  # pytest node id: tests/test_calc.py::TestX::test_m
    name: str  # test_m
    kind: str  # "failed" | "error" | "collection"
    message: str  # the assertion or exception message, one line
    details: str  # the traceback pytest printed
    test_file: str | None = None  # absolute path
    test_line: int | None = None  # 1-based line of the failing assertion (or the test's `def`)
    app_file: str | None = None  # absolute path of the deepest frame in the project's own code
    app_line: int | None = None


@dataclass
class TestProgress:
    """Counts so far, reported while the run goes on."""

    __test__ = False

    collected: int | None = None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    current: str | None = None  # the node id of the test that just finished

    @property
    def done(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped


@dataclass(frozen=True)
class TestRun:
    """The outcome of one pytest run."""

    __test__ = False

    root: str
    scope: str
    targets: tuple[str, ...]
    command: tuple[str, ...] = ()
    interpreter: str | None = None
    exit_code: int | None = None  # None when pytest did not run (no interpreter, no tests for the module...)
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: tuple[TestFailure, ...] = ()
    outcomes: dict[str, str] = field(default_factory=dict)  # node id -> passed / failed / error / skipped
    message: str | None = None  # what the user should know beyond the counts (no tests, pytest missing...)
    cancelled: bool = False
    timed_out: bool = False
    pytest_missing: bool = False
    duration: float = 0.0
    output: str = ""  # the tail of pytest's own output
    # Why no test ran, in a few words, when none did: no test found for the target, no interpreter, pytest
    # missing, nothing collected, a collection error, cancelled before the first result. None when tests ran.
    # A run without tests must not read "0 passed", which looks like success.
    no_tests_reason: str | None = None

    @property
    def ran(self) -> bool:
        """True when at least one test ran (its outcome, whatever it is, is in the counts)."""
        return self.no_tests_reason is None

    @property
    def ok(self) -> bool:
        return self.exit_code in (EXIT_OK, EXIT_NO_TESTS) and not self.failures

    def summary(self) -> str:
        """The counts ("3 passed, 1 failed"), or "no tests ran: <reason>" when none ran."""
        if self.no_tests_reason is not None:
            return f"no tests ran: {self.no_tests_reason}"
        parts = [f"{self.passed} passed"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        text = ", ".join(parts)
        if self.cancelled:
            text += " (cancelled)"
        elif self.timed_out:
            text += " (timed out)"
        return text
