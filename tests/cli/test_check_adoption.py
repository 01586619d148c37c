"""Adopting `pyengineer check` on an existing codebase: --fail-on, the baseline, rule failures, --fix on a
protected branch. The real CLI, in process and as a subprocess, on real files and git repositories."""

from __future__ import annotations

import ast
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyengineer.baseline import BaselineError, enclosing_symbols, load_baseline
from pyengineer.config import Settings
from pyengineer.engine.registry import RULES, RuleInput, rule
from pyengineer.findings import Finding, Range, Severity

from tests.cli.test_check import TEXT_LINE, run_cli, run_main
from tests.repos import GitRepo, RepoFactory

BLOCKING = """\
import time


async def handler():
    time.sleep(1)
    return 1
"""


def findings_of(out: str) -> list[tuple[str, str, str]]:
    return [(m["path"], m["line"], m["code"]) for m in map(TEXT_LINE.match, out.splitlines()) if m]


# --- --fail-on ------------------------------------------------------------------------------------------


@pytest.fixture
def info_only(tmp_path: Path) -> Path:
    """A project whose only finding is PE201 (info)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "m"\n')
    (tmp_path / "model.py").write_text("import torch\n")
    return tmp_path


def test_info_only_findings_are_shown_and_exit_0_by_default(
    info_only: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, info_only, "check", "--select", "PE201")
    assert code == 0
    assert out.splitlines() == [
        "model.py:1:8: PE201 [info] 'torch' is an ML library: model code belongs to the ai-engineer role",
        "Found 1 finding.",
    ]


@pytest.mark.parametrize(("fail_on", "expected"), [("info", 1), ("INFO", 1), ("warning", 0), ("error", 0)])
def test_fail_on_option(
    info_only: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fail_on: str,
    expected: int,
) -> None:
    code, _, _ = run_main(capsys, monkeypatch, info_only, "check", "--select", "PE201", "--fail-on", fail_on)
    assert code == expected


def test_fail_on_from_the_configuration_and_the_option_wins(
    info_only: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (info_only / "pyproject.toml").write_text('[project]\nname = "m"\n[tool.pyengineer]\nfail-on = "info"\n')
    assert run_main(capsys, monkeypatch, info_only, "check", "--select", "PE201")[0] == 1
    assert (
        run_main(capsys, monkeypatch, info_only, "check", "--select", "PE201", "--fail-on", "warning")[0] == 0
    )


def test_warning_fails_under_the_default_and_not_under_fail_on_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text(BLOCKING)
    assert run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE301")[0] == 1
    assert run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE301", "--fail-on", "error")[0] == 0


def test_fail_on_hint_in_the_configuration_is_an_error_naming_the_key(
    info_only: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (info_only / "pyproject.toml").write_text('[tool.pyengineer]\nfail-on = "hint"\n')
    code, out, err = run_main(capsys, monkeypatch, info_only, "check")
    assert code == 2 and out == ""
    assert "'fail-on'" in err and "hints never fail" in err


def test_fail_on_rejects_other_values(tmp_path: Path) -> None:
    result = run_cli("check", "--fail-on", "hint", cwd=tmp_path)
    assert result.returncode == 2 and "--fail-on" in result.stderr


# --- the baseline -----------------------------------------------------------------------------------------

LEGACY = """\
import time


class Service:
    async def fetch(self):
        time.sleep(1)
        time.sleep(1)

    async def other(self):
        time.sleep(2)
"""


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "legacy"\n')
    (tmp_path / "svc.py").write_text(LEGACY)
    return tmp_path


def baseline_of(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / ".pyengineer-baseline.json").read_text())
    return data


def test_add_baseline_records_findings_and_later_runs_report_only_new_ones(
    legacy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    assert code == 0 and out == ""
    assert f"Recorded 3 findings in {legacy / '.pyengineer-baseline.json'}." in err
    entries = baseline_of(legacy)["entries"]
    assert [(e["rule"], e["path"], e["symbol"], e["count"]) for e in entries] == [  # type: ignore[attr-defined]
        ("PE301", "svc.py", "Service.fetch", 2),
        ("PE301", "svc.py", "Service.other", 1),
    ]
    code, out, _ = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301")
    assert (code, out) == (0, "All checks passed! (3 more in the baseline)\n")

    # Edits elsewhere (a new import, a re-indented body) keep the entries; a third sleep in fetch is new.
    (legacy / "svc.py").write_text(
        "import os\n"
        + LEGACY.replace("        time.sleep(2)", "        time.sleep(2)  ").replace(
            "        time.sleep(1)\n        time.sleep(1)\n",
            "        time.sleep(1)\n        time.sleep(1)\n        time.sleep(1)\n",
        )
    )
    code, out, _ = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301")
    assert code == 1
    assert findings_of(out) == [("svc.py", "9", "PE301")]
    assert out.splitlines()[-1] == "Found 1 finding (1 fixable with --fix, 3 more in the baseline)."

    # JSON and SARIF leave the baselined findings out too.
    _, out, _ = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--format", "json")
    report = json.loads(out)
    assert [f["start"]["line"] for f in report["findings"]] == [9] and report["baselined"] == 3
    _, out, _ = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--format", "sarif")
    assert [
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in json.loads(out)["runs"][0]["results"]
    ] == [9]


def test_rewriting_the_baseline_drops_entries_that_no_longer_occur(
    legacy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (legacy / "gone.py").write_text(BLOCKING)
    run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    assert {e["path"] for e in baseline_of(legacy)["entries"]} == {"svc.py", "gone.py"}  # type: ignore[attr-defined]
    (legacy / "gone.py").unlink()
    (legacy / "svc.py").write_text(LEGACY.replace("        time.sleep(2)\n", "        pass\n"))
    code, _, err = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    assert code == 0 and "Recorded 2 findings" in err
    assert [(e["symbol"], e["count"]) for e in baseline_of(legacy)["entries"]] == [("Service.fetch", 2)]  # type: ignore[attr-defined]


def test_a_baseline_of_one_folder_keeps_the_entries_of_the_others(
    legacy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (legacy / "pkg").mkdir()
    (legacy / "pkg" / "a.py").write_text(BLOCKING)
    run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline", "pkg")
    assert {e["path"] for e in baseline_of(legacy)["entries"]} == {"svc.py", "pkg/a.py"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ('{"version": 7, "entries": []}', "has version 7"),
        ("[]", "must hold a JSON object"),
        (
            '{"version": 1, "entries": [{"rule": "PE301", "path": "a.py", "symbol": "", '
            '"line_hash": "0123456789abcdef", "count": 1}, {"rule": "PE301", "path": "a.py", '
            '"symbol": "", "line_hash": "0123456789abcdef", "count": 0}]}',
            "entry 2, field 'count': Input should be greater than or equal to 1",
        ),
        (
            '{"version": 1, "entries": [{"rule": "PE301", "path": "a.py", "symbol": "", "line_hash": "xyz", '
            '"count": 1}]}',
            "entry 1, field 'line_hash'",
        ),
        (
            '{"version": 1, "entries": [{"rule": "PE301", "path": "a.py", "symbol": "", '
            '"line_hash": "0123456789abcdef", "count": 1, "extra": 1}]}',
            "entry 1, field 'extra'",
        ),
        (
            '{"version": 1, "entries": [{"rule": "PE301", "path": "a.py", "symbol": "", '
            '"line_hash": "0123456789abcdef", "count": 1}, {"rule": "PE301", "path": "a.py", "symbol": "", '
            '"line_hash": "0123456789abcdef", "count": 2}]}',
            "entry 2 repeats entry 1",
        ),
    ],
)
def test_a_broken_baseline_is_an_error_naming_the_file_and_the_entry(
    legacy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    (legacy / ".pyengineer-baseline.json").write_text(text)
    code, out, err = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301")
    assert (code, out) == (2, "")
    assert f"pyengineer: baseline {legacy / '.pyengineer-baseline.json'}: " in err
    assert message in err
    # --add-baseline does not overwrite it unread either.
    assert run_main(capsys, monkeypatch, legacy, "check", "--add-baseline")[0] == 2
    assert (legacy / ".pyengineer-baseline.json").read_text() == text


def test_the_baseline_file_is_configurable(
    legacy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (legacy / "pyproject.toml").write_text('[tool.pyengineer]\nbaseline = "ci/pyengineer-baseline.json"\n')
    run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    assert (legacy / "ci" / "pyengineer-baseline.json").is_file()
    assert not (legacy / ".pyengineer-baseline.json").exists()
    assert run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301")[0] == 0


def test_a_baseline_folder_that_is_a_symlink_out_of_the_project_is_not_written(
    legacy: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (legacy / "ci").symlink_to(outside, target_is_directory=True)
    (legacy / "pyproject.toml").write_text('[tool.pyengineer]\nbaseline = "ci/baseline.json"\n')
    code, _, err = run_main(capsys, monkeypatch, legacy, "check", "--select", "PE301", "--add-baseline")
    assert code == 2 and "outside the workspace" in err
    assert list(outside.iterdir()) == []


def test_enclosing_symbols_follow_indentation() -> None:
    lines = [
        "import x",
        "class A:",
        "    def f(self):",
        "        y = 1",
        "",
        "        # comment",
        "        z = 2",
        "    async def g(self):",
        "        pass",
        "def h():",
        "    def inner():",
        "        pass",
        "    return inner",
        "Z = 1",
    ]
    assert enclosing_symbols(lines) == [
        "",
        "A",
        "A.f",
        "A.f",
        "A.f",
        "A.f",
        "A.f",
        "A.g",
        "A.g",
        "h",
        "h.inner",
        "h.inner",
        "h",
        "",
    ]


def test_load_baseline_rereads_a_changed_file(legacy: Path) -> None:
    settings = Settings()
    assert load_baseline(legacy, settings) is None
    path = legacy / ".pyengineer-baseline.json"
    path.write_text('{"version": 1, "entries": []}')
    baseline = load_baseline(legacy, settings)
    assert baseline is not None and baseline.counts == {}
    path.write_text('{"version": 1, "entries": [}')
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    with pytest.raises(BaselineError, match="not valid JSON"):
        load_baseline(legacy, settings)


# --- a rule that raises ---------------------------------------------------------------------------------


@pytest.fixture
def broken_rule() -> Iterator[str]:
    """A real registered rule that raises on the second function it meets (a bug in a rule, as in PE701)."""

    @rule("PE999", "always-broken", "A rule with a bug, for the tests", severity=Severity.WARNING)
    def broken(inp: RuleInput) -> Iterator[Finding]:
        seen = 0
        for node in ast.walk(inp.source.tree) if inp.source.tree is not None else ():
            if isinstance(node, ast.FunctionDef):
                seen += 1
                if seen == 2:
                    raise IndentationError("unexpected indent")
                yield Finding(
                    code="PE999", message="first", path=inp.source.path, range=Range.of(node.lineno - 1, 0)
                )

    try:
        yield "PE999"
    finally:
        RULES.pop("PE999", None)


def test_a_rule_that_raises_is_reported_on_stderr_with_file_and_line_and_exits_2(
    tmp_path: Path, broken_rule: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mod.py").write_text("def a():\n    pass\n\n\ndef b():\n    pass\n")
    code, out, err = run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE999")
    assert code == 2
    assert (
        "pyengineer: error: rule PE999 (always-broken) failed on mod.py:5: IndentationError: unexpected indent"
        in err
    )
    assert "All checks passed!" not in out
    assert out.splitlines()[-1] == (
        "1 rule failed to run (PE999): their findings are missing; see the errors on stderr."
    )
    # What the rule yielded before it raised is not trusted: it is reported as not having run.
    assert findings_of(out) == []
    _, out, _ = run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE999", "--format", "json")
    assert json.loads(out)["rule_failures"] == [
        {
            "code": "PE999",
            "name": "always-broken",
            "path": str(tmp_path.resolve() / "mod.py"),
            "cell": None,
            "line": 5,
            "error": "IndentationError: unexpected indent",
        }
    ]
    _, out, _ = run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE999", "--format", "sarif")
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["descriptor"] == {"id": "PE999"}


def test_no_rule_failure_when_nothing_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mod.py").write_text("X = 1\n")
    _, out, _ = run_main(capsys, monkeypatch, tmp_path, "check", "--format", "sarif")
    assert json.loads(out)["runs"][0]["invocations"] == [{"executionSuccessful": True}]


def test_no_baseline_is_written_when_a_rule_failed(
    tmp_path: Path, broken_rule: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mod.py").write_text("def a():\n    pass\n\n\ndef b():\n    pass\n")
    code, _, err = run_main(capsys, monkeypatch, tmp_path, "check", "--select", "PE999", "--add-baseline")
    assert code == 2 and "the baseline was not written" in err
    assert not (tmp_path / ".pyengineer-baseline.json").exists()


# --- --fix on a protected branch ------------------------------------------------------------------------


@pytest.fixture
def on_main(git_repo: RepoFactory) -> GitRepo:
    return git_repo(files={"app.py": BLOCKING, "pyproject.toml": '[project]\nname = "a"\n'}, commit=True)


def test_fix_on_a_protected_branch_without_a_terminal_refuses_with_exit_2(on_main: GitRepo) -> None:
    result = run_cli("check", "--fix", "--select", "PE1,PE301", cwd=on_main.root)
    assert result.returncode == 2
    assert "--fix would change 1 file on the protected branch 'main'" in result.stderr
    assert "nothing was changed" in result.stderr and "--allow-protected-branch" in result.stderr
    assert "git switch -c fix/" in result.stderr
    assert (on_main.root / "app.py").read_text() == BLOCKING


def test_allow_protected_branch_fixes_and_its_own_edit_is_not_reported_as_pe101(on_main: GitRepo) -> None:
    result = run_cli("check", "--fix", "--allow-protected-branch", "--select", "PE1,PE301", cwd=on_main.root)
    assert "asyncio.sleep" in (on_main.root / "app.py").read_text()
    assert "Fixed 1 finding." in result.stderr
    assert "PE101" not in result.stdout
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n")
    # A later run sees a changed file on main: that is now the user's change to commit or move.
    assert "PE101" in run_cli("check", "--select", "PE1", cwd=on_main.root).stdout


def test_fix_keeps_pe101_for_files_the_user_had_changed(on_main: GitRepo) -> None:
    on_main.write("app.py", BLOCKING + "\n\nX = 1\n")
    result = run_cli("check", "--fix", "--allow-protected-branch", "--select", "PE1,PE301", cwd=on_main.root)
    assert findings_of(result.stdout) == [("app.py", "1", "PE101")]


def test_fix_on_a_feature_branch_does_not_ask(on_main: GitRepo) -> None:
    on_main.git("switch", "-q", "-c", "feature/x")
    result = run_cli("check", "--fix", "--select", "PE301", cwd=on_main.root)
    assert result.returncode == 0 and "asyncio.sleep" in (on_main.root / "app.py").read_text()


def run_in_terminal(root: Path, answer: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr, answer its question, return (code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pyengineer", *args],
        cwd=root,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    os.close(follower)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not answered and b"Choice [b/g/s]" in output:
            os.write(leader, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    code = process.wait(timeout=30)
    os.close(leader)
    return code, output.decode("utf-8", "replace").replace("\r\n", "\n")


def test_fix_in_a_terminal_asks_and_can_create_a_feature_branch(on_main: GitRepo) -> None:
    code, output = run_in_terminal(on_main.root, "b", "check", "--fix", "--select", "PE1,PE301")
    assert "--fix would change 1 file on the protected branch 'main'" in output
    assert "[b] create the branch 'fix/app'" in output
    assert code == 0, output
    assert on_main.git("branch", "--show-current").strip() == "fix/app"
    assert "asyncio.sleep" in (on_main.root / "app.py").read_text()


def test_fix_in_a_terminal_stop_changes_nothing(on_main: GitRepo) -> None:
    code, output = run_in_terminal(on_main.root, "s", "check", "--fix", "--select", "PE1,PE301")
    assert "Stopped: nothing was changed." in output
    assert code == 1  # the finding is still there, reported as without --fix
    assert (on_main.root / "app.py").read_text() == BLOCKING
    assert on_main.git("branch", "--show-current").strip() == "main"


def test_fix_in_a_terminal_go_on_fixes_on_the_branch(on_main: GitRepo) -> None:
    code, output = run_in_terminal(on_main.root, "g", "check", "--fix", "--select", "PE1,PE301")
    assert code == 0, output
    assert on_main.git("branch", "--show-current").strip() == "main"
    assert "asyncio.sleep" in (on_main.root / "app.py").read_text()
