"""What pytest's JUnit (xunit1) report says: counts, per-test outcomes, and each failure located in the test
file and in the deepest frame of the application's own code."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

from pyengineer.testing.interpreter import VENV_NAMES
from pyengineer.testing.results import TestFailure
from pyengineer.testing.targets import is_test_file

_DETAILS_CHARS = 6000

_PYTEST_LOCATION = re.compile(r"^(?P<path>(?:[A-Za-z]:)?[^\s:][^:\n]*?\.py):(?P<line>\d+):", re.MULTILINE)
_NATIVE_LOCATION = re.compile(r'^\s*File "(?P<path>[^"]+\.py)", line (?P<line>\d+)', re.MULTILINE)
_NOT_APPLICATION = ("site-packages", "dist-packages", "/lib/python", "\\lib\\python", "<frozen", "_pytest")


def traceback_frames(details: str, base: Path) -> list[tuple[str, int]]:
    """(absolute path, 1-based line) of each frame in a pytest or Python traceback, outermost first."""
    found: list[tuple[int, str, int]] = []
    for pattern in (_PYTEST_LOCATION, _NATIVE_LOCATION):
        for match in pattern.finditer(details):
            location = Path(match.group("path"))
            if not location.is_absolute():
                location = base / location
            found.append((match.start(), os.path.normpath(location), int(match.group("line"))))
    found.sort()
    frames: list[tuple[str, int]] = []
    for _, where, line in found:
        if not frames or frames[-1] != (where, line):
            frames.append((where, line))
    return frames


def _is_application(path: str, root: Path) -> bool:
    if any(marker in path for marker in _NOT_APPLICATION):
        return False
    try:
        relative = Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    parts = relative.parts
    if any(p in VENV_NAMES or p.startswith(".") for p in parts[:-1]):
        return False
    return not (is_test_file(relative.name) or relative.name == "conftest.py")


def _message_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= 300 else text[:297] + "..."


def _node_id(case: ElementTree.Element) -> tuple[str, str]:
    """(node id, file) of a JUnit xunit1 testcase."""
    name = case.get("name", "")
    file = case.get("file", "")
    classname = case.get("classname", "")
    if not file:
        return (f"{classname}::{name}" if classname else name), ""
    module = file[:-3].replace("/", ".").replace("\\", ".") if file.endswith(".py") else file
    rest = classname[len(module) :].strip(".") if classname.startswith(module) else ""
    parts = [file, *(p for p in rest.split(".") if p), name]
    return "::".join(parts), file


def parse_junit(
    path: Path, rootdir: Path, cwd: Path
) -> tuple[dict[str, int], list[TestFailure], dict[str, str]]:
    """Counts, failures and per-test outcomes from a JUnit XML report."""
    tree = ElementTree.parse(path)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failures: list[TestFailure] = []
    outcomes: dict[str, str] = {}
    for suite in tree.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, "0") or 0)
        for case in suite.iter("testcase"):
            node_id, file = _node_id(case)
            problem = case.find("failure")
            kind = "failed"
            if problem is None:
                problem = case.find("error")
                kind = "error"
            if problem is None:
                outcomes.setdefault(node_id, "skipped" if case.find("skipped") is not None else "passed")
                continue
            message = problem.get("message", "")
            details = (problem.text or "").strip()
            if kind == "error" and message == "collection failure":
                kind = "collection"
                node_id = file or node_id
                message = _collection_message(details) or message
            outcomes[node_id] = "failed" if kind == "failed" else "error"
            test_file = os.path.normpath(rootdir / file) if file else None
            failures.append(
                _locate(
                    TestFailure(
                        test_id=node_id,
                        name=case.get("name", node_id) if kind != "collection" else file,
                        kind=kind,
                        message=_message_line(message) or kind,
                        details=details[-_DETAILS_CHARS:],
                        test_file=test_file,
                        test_line=int(case.get("line", "0")) + 1 if case.get("line") else None,
                    ),
                    cwd,
                )
            )
    return counts, failures, outcomes


def _collection_message(details: str) -> str:
    errors = [line[1:].strip() for line in details.splitlines() if line.startswith("E ")]
    if errors:
        return errors[-1]
    lines = [line.strip() for line in details.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _locate(failure: TestFailure, cwd: Path) -> TestFailure:
    """Fill in the failing line of the test file and the deepest application frame from the traceback."""
    frames = traceback_frames(failure.details, cwd)
    test_file = failure.test_file
    test_line = failure.test_line
    if test_file is not None:
        in_test = [line for path, line in frames if os.path.normpath(path) == test_file]
        if in_test:
            test_line = in_test[-1]
    elif frames:
        test_file, test_line = frames[-1]
    app = [(p, n) for p, n in frames if p != test_file and _is_application(p, cwd)]
    app_file, app_line = app[-1] if app else (None, None)
    return replace(
        failure, test_file=test_file, test_line=test_line or 1, app_file=app_file, app_line=app_line
    )
