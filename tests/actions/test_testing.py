"""The test runner on a small real project, in a real virtual environment created for the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from pyengineer.cli import main
from pyengineer.config import Settings
from pyengineer.engine.rules.failing_tests import failure_findings
from pyengineer.errors import WorkspaceTrustError
from pyengineer.testing.attempts import FixAttempts
from pyengineer.testing.interpreter import find_interpreter
from pyengineer.testing.junit import traceback_frames
from pyengineer.testing.results import TestFailure, TestProgress, TestRun
from pyengineer.testing.runner import run_tests
from pyengineer.testing.targets import resolve_targets

CALC = """\
def add(a, b):
    return a + b


def mean(values):
    return sum(values) / len(values)
"""

TEST_CALC = """\
from app.calc import add, mean


def test_add():
    assert add(2, 3) == 5


def test_mean_of_nothing():
    assert mean([]) == 0
"""


def _make_venv(folder: Path, with_pytest: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if with_pytest:
        # No network needed: the venv sees the pytest that runs this suite through a .pth file.
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(site, "host_pytest.pth").write_text(str(Path(pytest.__file__).parent.parent) + "\n")
    return python


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real virtual environments, made once per session: one that can run pytest, one without it."""
    base = tmp_path_factory.mktemp("venvs")
    return {
        "pytest": _make_venv(base / "with-pytest", with_pytest=True).parent.parent,
        "bare": _make_venv(base / "bare", with_pytest=False).parent.parent,
    }


def _project(root: Path, venv: Path | None, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "calc"\n[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n'
    )
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if venv is not None:
        (root / ".venv").symlink_to(venv, target_is_directory=True)
    return root


@pytest.fixture(autouse=True)
def _fast_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test venv sees this suite's own plugins (pytest-lsp, hypothesis...): skip loading them, they are slow."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def calc_project(tmp_path: Path, venvs: dict[str, Path]) -> Path:
    return _project(
        tmp_path / "calc",
        venvs["pytest"],
        {
            "app/__init__.py": "",
            "app/calc.py": CALC,
            "tests/__init__.py": "",
            "tests/test_calc.py": TEST_CALC,
        },
    )


def test_runs_in_the_workspace_venv_and_locates_the_failure(calc_project: Path) -> None:
    seen: list[TestProgress] = []
    run = run_tests(calc_project, "project", trusted=True, on_progress=seen.append)
    assert run.interpreter == str(calc_project / ".venv" / "bin" / "python")
    assert run.command[1:3] == ("-m", "pytest") and any(a.startswith("--junitxml=") for a in run.command)
    assert (run.exit_code, run.passed, run.failed, run.errors) == (1, 1, 1, 0)
    assert run.outcomes == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::test_mean_of_nothing": "failed",
    }
    (failure,) = run.failures
    assert failure.test_id == "tests/test_calc.py::test_mean_of_nothing"
    assert failure.message == "ZeroDivisionError: division by zero"
    assert (failure.test_file, failure.test_line) == (str(calc_project / "tests/test_calc.py"), 9)
    assert (failure.app_file, failure.app_line) == (str(calc_project / "app/calc.py"), 6)
    # Progress came while running: the collected count, then the tests one by one.
    assert seen and seen[-1].collected == 2 and (seen[-1].passed, seen[-1].failed) == (1, 1)

    findings = failure_findings(run)
    test_findings = findings[str(calc_project / "tests/test_calc.py")]
    app_findings = findings[str(calc_project / "app/calc.py")]
    assert [(f.code, f.line, f.message) for f in test_findings] == [
        ("PE901", 8, "test_mean_of_nothing failed: ZeroDivisionError: division by zero")
    ]
    assert test_findings[0].range.start.character == 4  # the assertion, not its indentation
    assert [(f.code, f.line) for f in app_findings] == [("PE901", 5)]
    assert "fails here" in app_findings[0].message
    ask = test_findings[0].fixes[0]
    assert ask.command == "pyengineer.fixTest" and ask.arguments[0]["test_id"] == failure.test_id
    assert "ZeroDivisionError" in ask.arguments[0]["output"]


def test_module_scope_runs_the_tests_of_the_module(calc_project: Path) -> None:
    targets, problem = resolve_targets(calc_project, "module", calc_project / "app/calc.py", Settings())
    assert (targets, problem) == (["tests/test_calc.py"], None)
    run = run_tests(calc_project, "file", "tests/test_calc.py::test_add", trusted=True)
    assert (run.passed, run.failed, run.failures) == (1, 0, ())
    assert run.ok
    missing, problem = resolve_targets(calc_project, "module", calc_project / "app/__init__.py", Settings())
    assert missing == [] and problem is not None and "test_app.py" in problem


def test_no_tests_collection_errors_and_missing_pytest(tmp_path: Path, venvs: dict[str, Path]) -> None:
    empty = _project(tmp_path / "empty", venvs["pytest"], {"app/main.py": "print('hi')\n"})
    run = run_tests(empty, trusted=True)
    assert run.exit_code == 5 and run.message == "No tests were collected from the project."
    assert run.ok and failure_findings(run) == {}
    # Nothing ran: the summary says so instead of "0 passed", which reads like success (#20 item 5).
    assert not run.ran and run.summary() == "no tests ran: no tests were collected from the project"

    broken = _project(
        tmp_path / "broken", venvs["pytest"], {"tests/test_broken.py": "import missing_module\n"}
    )
    run = run_tests(broken, trusted=True)
    (failure,) = run.failures
    assert (
        failure.kind == "collection"
        and failure.message == "ModuleNotFoundError: No module named 'missing_module'"
    )
    assert run.message == "1 file could not be collected; no tests ran."
    assert run.summary() == "no tests ran: 1 file could not be collected"
    (finding,) = failure_findings(run)[str(broken / "tests/test_broken.py")]
    assert finding.line == 0 and finding.message.startswith("Collecting tests from this file failed")

    bare = _project(tmp_path / "bare", venvs["bare"], {"tests/test_x.py": "def test_x():\n    pass\n"})
    run = run_tests(bare, trusted=True)
    assert run.pytest_missing
    assert run.message is not None and "pytest is not installed" in run.message
    assert f"{bare / '.venv' / 'bin' / 'python'} -m pip install pytest" in run.message
    assert run.summary() == f"no tests ran: pytest is not installed in {bare / '.venv' / 'bin' / 'python'}"


def test_a_run_that_never_started_says_why_no_tests_ran(tmp_path: Path) -> None:
    """No test file for the module, or no interpreter (the editor passes no fallback): never "0 passed"."""
    project = _project(tmp_path / "p", None, {"app/__init__.py": "", "app/calc.py": CALC})
    run = run_tests(project, "module", project / "app/calc.py", trusted=True, fallback_interpreter="python3")
    assert run.exit_code is None and not run.ran
    assert run.summary().startswith("no tests ran: no tests found for app/calc.py: looked for test_calc.py")
    (project / "tests").mkdir()
    (project / "tests/test_calc.py").write_text(TEST_CALC)
    run = run_tests(project, "project", trusted=True)
    assert run.summary() == "no tests ran: no Python interpreter for the tests"
    assert "0 passed" not in run.summary()


def test_cancel_kills_the_whole_process_group(tmp_path: Path, venvs: dict[str, Path]) -> None:
    pid_file = tmp_path / "child.pid"
    slow = _project(
        tmp_path / "slow",
        venvs["pytest"],
        {
            "tests/test_slow.py": f"""
            import subprocess
            import time


            def test_quick():
                pass


            def test_slow():
                child = subprocess.Popen(["sleep", "60"])
                open({str(pid_file)!r}, "w").write(str(child.pid))
                time.sleep(60)
            """
        },
    )
    cancel = threading.Event()

    def cancel_when_the_grandchild_runs() -> None:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_when_the_grandchild_runs, daemon=True).start()
    started = time.monotonic()
    run = run_tests(slow, trusted=True, cancel=cancel)
    assert run.cancelled and time.monotonic() - started < 50
    assert run.passed == 1 and run.message == "Test run cancelled."
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (killed) parent's reaper counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state != "Z"


def test_untrusted_workspace_is_refused(calc_project: Path) -> None:
    with pytest.raises(WorkspaceTrustError):
        run_tests(calc_project, trusted=False)


def test_interpreter_choice(tmp_path: Path, venvs: dict[str, Path]) -> None:
    project = _project(tmp_path / "p", None, {})
    assert find_interpreter(project, Settings()) is None
    assert find_interpreter(project, Settings(), fallback=sys.executable) == sys.executable
    (project / "env").symlink_to(venvs["bare"], target_is_directory=True)
    assert find_interpreter(project, Settings()) == str(project / "env" / "bin" / "python")
    (project / ".venv").symlink_to(venvs["pytest"], target_is_directory=True)
    assert find_interpreter(project, Settings()) == str(project / ".venv" / "bin" / "python")
    configured = Settings.model_validate({"tests": {"interpreter": sys.executable}})
    assert find_interpreter(project, configured) == sys.executable


def test_cli_test_command(calc_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(calc_project)]) == 1
    out = capsys.readouterr().out
    assert ":9:5: PE901 test_mean_of_nothing failed: ZeroDivisionError: division by zero" in out
    assert ":6:5: PE901 test_mean_of_nothing fails here" in out
    assert "1 passed, 1 failed" in out
    assert main(["test", str(calc_project / "tests/test_calc.py") + "::test_add"]) == 0


def test_cli_runs_a_django_tests_py_as_given(
    tmp_path: Path, venvs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Django's `startapp` writes polls/tests.py: `pyengineer test polls/tests.py` runs that very file, where
    it used to look for test_tests.py and find nothing."""
    project = _project(
        tmp_path / "site",
        venvs["pytest"],
        {
            "polls/__init__.py": "",
            "polls/tests.py": "def test_ok():\n    assert True\n\n\ndef test_bad():\n    assert 1 == 2\n",
        },
    )
    assert main(["test", str(project / "polls/tests.py")]) == 1
    captured = capsys.readouterr()
    assert "1 passed, 1 failed" in captured.out and "test_tests.py" not in captured.err
    # module scope still means "the tests of this module", and says what it looked for
    assert main(["test", str(project / "polls/tests.py"), "--scope", "module"]) == 2
    assert "looked for test_tests.py" in capsys.readouterr().err


def test_cli_no_tests_exits_5_like_pytest_unless_allowed(
    tmp_path: Path, venvs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _project(tmp_path / "empty", venvs["pytest"], {"app/main.py": "print('hi')\n"})
    assert main(["test", str(empty)]) == 5
    captured = capsys.readouterr()
    assert "No tests were collected" in captured.err
    assert captured.out.strip() == "no tests ran: no tests were collected from ."
    assert main(["test", str(empty), "--format", "json"]) == 5
    shown = json.loads(capsys.readouterr().out)
    assert (shown["ran"], shown["passed"]) == (False, 0)
    assert shown["summary"] == "no tests ran: no tests were collected from ."
    assert main(["test", str(empty), "--allow-no-tests"]) == 0


def test_native_tracebacks_are_parsed_too(tmp_path: Path) -> None:
    details = 'Traceback (most recent call last):\n  File "tests/test_a.py", line 3, in test_a\n    f()\n  File "/abs/app.py", line 7, in f\n'
    assert traceback_frames(details, tmp_path) == [
        (str(tmp_path / "tests/test_a.py"), 3),
        ("/abs/app.py", 7),
    ]


def _run_with(failures: dict[str, str], passed: tuple[str, ...] = ()) -> TestRun:
    return TestRun(
        root="/p",
        scope="file",
        targets=(),
        exit_code=1 if failures else 0,
        failures=tuple(
            TestFailure(
                test_id=t,
                name=t.rsplit("::", 1)[-1],
                kind="failed",
                message=m,
                details="",
                test_file="/p/t.py",
                test_line=3,
            )
            for t, m in failures.items()
        ),
        outcomes={**{t: "failed" for t in failures}, **{t: "passed" for t in passed}},
    )


def test_fix_attempts_raise_needs_senior_review_after_three_failed_cycles() -> None:
    attempts = FixAttempts()
    test = "t.py::test_a"
    for n in range(1, 4):
        attempts.started(test, f"fix number {n}")
        newly = attempts.settle(_run_with({test: f"assert {n} == 0"}))
        assert attempts.count(test) == n
        assert newly == ([test] if n == 3 else [])
    assert attempts.needs_review(test) and not attempts.can_offer_fix(test)
    assert "1) fix number 1 -> still failing: assert 1 == 0" in attempts.summary(test)

    findings = failure_findings(_run_with({test: "assert 3 == 0"}), attempts)["/p/t.py"]
    assert [f.code for f in findings] == ["PE901", "PE902"]
    assert all(fix.command != "pyengineer.fixTest" for fix in findings[0].fixes)
    # The message is one line for the Problems panel; the attempts, all three, are in the hover.
    assert "needs senior review" in findings[1].message and "fix number 3" in findings[1].detail


def test_fix_attempts_forget_a_test_that_passes_and_ignore_tests_that_did_not_run() -> None:
    attempts = FixAttempts()
    attempts.started("t.py::test_a", "first try")
    assert attempts.settle(_run_with({"t.py::test_b": "x"})) == []  # test_a did not run: still pending
    attempts.settle(_run_with({"t.py::test_a": "still"}))
    assert attempts.count("t.py::test_a") == 1
    attempts.started("t.py::test_a", "second try")
    attempts.settle(_run_with({}, passed=("t.py::test_a",)))
    assert attempts.count("t.py::test_a") == 0 and attempts.can_offer_fix("t.py::test_a")


def test_pe901_lands_on_the_failing_line_after_a_form_feed(tmp_path: Path) -> None:
    """A form feed is whitespace to Python, not a line break: the traceback's line 5 is the assertion.

    `str.splitlines` split the file at the `\f` too, so the finding took its columns from line 4 instead."""
    test_file = tmp_path / "test_ff.py"
    test_file.write_text("import os\n\f\n\ndef test_sep():\n        assert os.sep == '?'\n")
    run = TestRun(
        root=str(tmp_path),
        scope="file",
        targets=(),
        exit_code=1,
        failures=(
            TestFailure(
                test_id="test_ff.py::test_sep",
                name="test_sep",
                kind="failed",
                message="AssertionError",
                details="",
                test_file=str(test_file),
                test_line=5,
            ),
        ),
        outcomes={"test_ff.py::test_sep": "failed"},
    )
    (finding,) = failure_findings(run)[str(test_file)]
    assert (finding.range.start.line, finding.range.start.character) == (4, 8)
    assert finding.range.end.character == len("        assert os.sep == '?'")


def test_settings_select_and_severity_apply_to_test_findings(calc_project: Path) -> None:
    run = _run_with({"t.py::test_a": "boom"})
    assert failure_findings(run, settings=Settings(ignore=("PE901",))) == {"/p/t.py": []}
    (finding,) = failure_findings(run, settings=Settings(severity={"PE9": "warning"}))["/p/t.py"]
    assert finding.severity.value == "warning"


def test_a_long_failure_message_is_one_line_in_the_problems_panel_and_whole_in_the_hover(
    tmp_path: Path, venvs: dict[str, Path]
) -> None:
    """An exception's message can be long and several lines (a validation error lists every field): PE901's
    message is its first line within MAX_MESSAGE, and the detail holds all of it, fenced so it is not read
    as Markdown."""
    test = (
        "def test_config():\n"
        "    problems = [f'field_{i}: value is not a valid integer (got `text` in *bold*)' for i in range(8)]\n"
        "    raise ValueError('the configuration is invalid: ' + '; '.join(problems) + '\\nsee the docs')\n"
    )
    project = _project(tmp_path / "config", venvs["pytest"], {"tests/test_config.py": test})
    run = run_tests(project, trusted=True)
    (failure,) = run.failures
    assert len(failure.message) > 100  # what made the Problems panel and virtual text unreadable
    (finding,) = failure_findings(run)[str(project / "tests/test_config.py")]
    assert "\n" not in finding.message and len(finding.message) <= 100 and finding.message.endswith("…")
    assert finding.message.startswith("test_config failed: ValueError: the configuration is invalid: field_0")
    assert finding.detail.startswith("```text\n") and "field_3" in finding.detail
