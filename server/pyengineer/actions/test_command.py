"""`pyengineer test [PATH] [--scope file|module|project]`: run the project's tests and show failures where they are."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pyengineer.config import load_settings
from pyengineer.engine.rules.failing_tests import failure_findings
from pyengineer.reporting import display_path
from pyengineer.testing.interpreter import default_fallback
from pyengineer.testing.results import Scope, TestProgress, TestRun
from pyengineer.testing.runner import run_tests
from pyengineer.workspace.markers import find_root

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_NO_TESTS = 5  # pytest's own code for "no tests collected", so CI scripts read it the same way


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="a test file, an application module (runs its tests), a folder, or a node id (file.py::test_x)",
    )
    parser.add_argument(
        "--scope",
        choices=[s.value for s in Scope],
        default=None,
        help="file: PATH itself (default when PATH is given); module: the tests of the module PATH; "
        "project: everything (default without PATH)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--interpreter", metavar="PYTHON", help="run pytest with this interpreter")
    parser.add_argument(
        "--allow-no-tests",
        action="store_true",
        help="exit 0 instead of 5 when no tests are collected (for CI on projects that have none yet)",
    )


def run(args: argparse.Namespace) -> int:
    target: str | None = args.path
    start = Path(target.split("::", 1)[0]) if target else Path.cwd()
    if target and not start.exists():
        print(f"pyengineer: {start}: no such file or folder", file=sys.stderr)
        return EXIT_ERROR
    root = find_root(start.resolve())
    settings = load_settings(root)
    scope = args.scope or (Scope.FILE if target else Scope.PROJECT)
    if target and "::" not in target:
        target = str(Path(target).resolve())
    elif target:
        file, _, rest = target.partition("::")
        target = f"{Path(file).resolve()}::{rest}"
    interactive = args.format == "text" and sys.stderr.isatty()

    def show(progress: TestProgress) -> None:
        if interactive:
            total = f"/{progress.collected}" if progress.collected is not None else ""
            print(
                f"\r{progress.done}{total} tests: {progress.passed} passed, {progress.failed} failed",
                end="",
                file=sys.stderr,
                flush=True,
            )

    result = run_tests(
        root,
        scope,
        target,
        settings,
        trusted=True,  # the user running the CLI trusts the code they point it at
        on_progress=show,
        interpreter=args.interpreter,
        fallback_interpreter=default_fallback(),
    )
    if interactive:
        print(file=sys.stderr)
    if args.format == "json":
        print(json.dumps(_as_json(result), indent=2))
    else:
        _print_text(result)
    if result.exit_code is None or result.pytest_missing or result.cancelled or result.timed_out:
        return EXIT_ERROR
    if not result.ok:
        return EXIT_FAILED
    if result.exit_code == EXIT_NO_TESTS and not args.allow_no_tests:
        return EXIT_NO_TESTS
    return EXIT_PASSED


def _print_text(result: TestRun) -> None:
    for path, findings in sorted(failure_findings(result).items()):
        for finding in findings:
            print(
                f"{display_path(path)}:{finding.line + 1}:{finding.column + 1}: {finding.code} {finding.message}"
            )
    if result.message:
        print(result.message, file=sys.stderr)
    if not result.ran:
        print(result.summary())  # "no tests ran: <reason>", never "0 passed"
    elif result.exit_code is not None and not result.pytest_missing:
        print(f"{result.summary()} in {result.duration:.1f}s")


def _as_json(result: TestRun) -> dict[str, object]:
    return {
        "root": result.root,
        "scope": result.scope,
        "targets": list(result.targets),
        "interpreter": result.interpreter,
        "exit_code": result.exit_code,
        "passed": result.passed,
        "failed": result.failed,
        "errors": result.errors,
        "skipped": result.skipped,
        "message": result.message,
        "ran": result.ran,
        "no_tests_reason": result.no_tests_reason,
        "summary": result.summary(),
        "failures": [
            {
                "test_id": f.test_id,
                "kind": f.kind,
                "message": f.message,
                "test_file": f.test_file,
                "test_line": f.test_line,
                "app_file": f.app_file,
                "app_line": f.app_line,
            }
            for f in result.failures
        ],
    }
