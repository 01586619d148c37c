"""Run the project's tests with pytest, in the project's own interpreter, and say where they failed.

`run_tests` starts pytest as a subprocess in its own process group (never through a shell), with `--junitxml`
to a temporary file and a small progress plugin (`pytest_progress/pyengineer_progress.py`) that reports
each test as it finishes. The JUnit report is the record of what happened; the tracebacks in it give the line
of the failing assertion in the test file and the deepest frame in the application's own code.
`failure_findings` turns a run into PE901 findings on those lines (and PE902 when a test has resisted three
fix attempts, as tracked by `FixAttempts`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from pyengineer.config import Settings
from pyengineer.engine.registry import is_selected, severity_for
from pyengineer.errors import WorkspaceTrustError
from pyengineer.findings import Finding, Fix, Range, Severity
from pyengineer.workspace import safe_io
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.scan import walk

PLUGIN_DIR = Path(__file__).parent / "pytest_progress"
PLUGIN_MODULE = "pyengineer_progress"
PROGRESS_ENV = "PYENGINEER_PROGRESS_FILE"

ASK_FIX_COMMAND = "pyengineer.fixTest"
RUN_TESTS_COMMAND = "pyengineer.runTests"

# pytest exit codes
EXIT_OK, EXIT_TESTS_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_USAGE, EXIT_NO_TESTS = 0, 1, 2, 3, 4, 5

_VENV_NAMES = (".venv", "venv")
_KILL_GRACE = 3.0
_OUTPUT_LINES = 400
_DETAILS_CHARS = 6000


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

    @property
    def ok(self) -> bool:
        return self.exit_code in (EXIT_OK, EXIT_NO_TESTS) and not self.failures

    def summary(self) -> str:
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


# -- the interpreter and the command ---------------------------------------------------------------------------


def _venv_python(folder: Path) -> Path | None:
    for candidate in (folder / "bin" / "python", folder / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


def workspace_venv(root: Path) -> Path | None:
    """The Python of the workspace's virtual environment: `.venv`, `venv`, or any folder with a pyvenv.cfg."""
    for name in _VENV_NAMES:
        python = _venv_python(root / name)
        if python is not None:
            return python
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and (p / "pyvenv.cfg").is_file())
    except OSError:
        return None
    for child in children:
        python = _venv_python(child)
        if python is not None:
            return python
    return None


def find_interpreter(root: Path, settings: Settings, fallback: str | None = None) -> str | None:
    """The interpreter that runs the tests.

    An explicit `tests.interpreter` setting wins (that is what it is for); else the workspace's virtual
    environment; else `fallback` (the CLI passes its own `sys.executable`; the editor passes nothing, so that
    tests never run in pyengineer's own environment by accident).
    """
    configured = settings.tests.interpreter
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute() and (root / path).exists():
            return str(root / path)
        if path.is_absolute():
            return str(path)
        return shutil.which(configured) or configured
    venv = workspace_venv(root)
    if venv is not None:
        return str(venv)
    return fallback


def is_test_file(path: str | Path) -> bool:
    name = PurePosixPath(str(path).replace("\\", "/")).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# `manage.py startapp` writes tests in <app>/tests.py: under `--scope file` that file is run as given.
DJANGO_TESTS = "tests.py"


def module_stem(module: Path) -> str:
    """The name tests are named after: `calc` for calc.py, `app` for app/__init__.py."""
    return module.parent.name if module.stem == "__init__" else module.stem


def tests_for_module(root: Path, module: Path, settings: Settings) -> list[str]:
    """Test files (relative, posix) for an application module: test_<name>.py or <name>_test.py."""
    stem = module_stem(module)
    wanted = {f"test_{stem}.py", f"{stem}_test.py"}
    found = [
        p
        for p in walk(root, IgnoreRules.for_root(root, settings.exclude)).python_files
        if p.rsplit("/", 1)[-1] in wanted
    ]
    return sorted(found, key=lambda p: (p.count("/"), p))


def resolve_targets(
    root: Path, scope: str, target: str | Path | None, settings: Settings
) -> tuple[list[str], str | None]:
    """What to pass to pytest for a scope: (paths or node ids relative to root, or a message why there is none)."""
    if scope == Scope.PROJECT or target is None:
        return [], None
    text = str(target)
    if "::" in text:
        file, _, rest = text.partition("::")
        return [_relative(root, Path(file)) + "::" + rest], None
    path = Path(text)
    if not path.is_absolute():
        path = root / path
    if not path.exists():
        return [], f"{text} does not exist"
    relative = _relative(root, path)
    if path.is_dir() or is_test_file(path):
        return [relative], None
    if scope == Scope.FILE and path.name == DJANGO_TESTS:
        # Django's default test module is not named like pytest's, but pytest collects any file it is given.
        return [relative], None
    tests = tests_for_module(root, path, settings)
    if not tests:
        return [], (
            f"No tests found for {relative}: looked for test_{module_stem(path)}.py and "
            f"{module_stem(path)}_test.py. "
            "Run the project's tests instead, or add a test file."
        )
    return tests, None


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


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


def install_hint(root: Path, interpreter: str) -> str:
    """How to install pytest in this project, in the words of its package manager."""
    if (root / "uv.lock").exists():
        return "uv add --dev pytest"
    if (root / "poetry.lock").exists():
        return "poetry add --group dev pytest"
    if (root / "pdm.lock").exists():
        return "pdm add -dG test pytest"
    if (root / "Pipfile").exists():
        return "pipenv install --dev pytest"
    return f"{interpreter} -m pip install pytest"


# -- parsing the results -----------------------------------------------------------------------------------------

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
    if any(p in _VENV_NAMES or p.startswith(".") for p in parts[:-1]):
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


# -- running -------------------------------------------------------------------------------------------------------


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
        return replace(base, message=problem)
    python = interpreter or find_interpreter(root, settings, fallback_interpreter)
    if python is None:
        return replace(
            base,
            message=(
                "No Python interpreter for the tests: create a virtual environment in .venv, or set "
                "`tests.interpreter` in [tool.pyengineer]."
            ),
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
            return replace(base, message=f"Could not start {python}: {exc.strerror or exc}")
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
            )
        if "No module named pytest" in text:
            return replace(
                base,
                pytest_missing=True,
                message=f"pytest is not installed in {python}. Install it with: {install_hint(root, python)}",
            )
        if not junit.is_file():
            return replace(
                base, message=f"pytest exited with code {exit_code} and wrote no report:\n{_tail(text)}"
            )
        rootdir = Path(reader.rootdir) if reader.rootdir else root
        try:
            counts, failures, outcomes = parse_junit(junit, rootdir, root)
        except ElementTree.ParseError as exc:
            return replace(base, message=f"pytest's JUnit report could not be read: {exc}")
    collection = sum(1 for f in failures if f.kind == "collection")
    failed = counts["failures"]
    errors = counts["errors"]
    passed = max(counts["tests"] - failed - errors - counts["skipped"], 0)
    message = None
    if exit_code == EXIT_NO_TESTS:
        where = "the project" if not targets else ", ".join(targets)
        message = f"No tests were collected from {where}."
    elif collection:
        message = f"{collection} file{'s' if collection != 1 else ''} could not be collected; no tests ran."
    elif exit_code in (EXIT_INTERNAL, EXIT_USAGE):
        message = f"pytest stopped with exit code {exit_code}:\n{_tail(text)}"
    return replace(
        base,
        passed=passed,
        failed=failed,
        errors=errors,
        skipped=counts["skipped"],
        failures=tuple(failures),
        outcomes=outcomes,
        message=message,
    )


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# -- findings --------------------------------------------------------------------------------------------------


class _Lines:
    def __init__(self) -> None:
        self.cache: dict[str, list[str]] = {}

    def range(self, path: str, line: int) -> Range:
        """The 1-based `line` of `path` from its first non-blank character to its end."""
        if path not in self.cache:
            try:
                self.cache[path] = safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES).splitlines()
            except OSError:
                self.cache[path] = []
        lines = self.cache[path]
        index = max(line - 1, 0)
        text = lines[index] if index < len(lines) else ""
        return Range.of(index, len(text) - len(text.lstrip()), index, len(text))


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
                    Finding(
                        code="PE901",
                        message=text,
                        path=path,
                        range=where,
                        severity=severity_for("PE901", Severity.ERROR, settings.severity),
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
                    Finding(
                        code="PE902",
                        message=f"{failure.name} needs senior review: {attempts.summary(failure.test_id)}",
                        path=path,
                        range=where,
                        severity=severity_for("PE902", Severity.ERROR, settings.severity),
                        data={"test_id": failure.test_id, "attempts": attempts.count(failure.test_id)},
                    )
                )
    return result


# -- the fix-and-rerun cycle ---------------------------------------------------------------------------------------


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


def default_fallback() -> str:
    """The CLI's last resort: the interpreter running pyengineer."""
    return sys.executable
