"""`pyengineer check`: output formats, selection, exit codes; in process and as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyengineer import __version__
from pyengineer.cli import main

from tests.repos import GitRepo, RepoFactory

TEXT_LINE = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<code>PE\d{3}) \[(?P<severity>error|warning|info|hint)\] "
    r"(?P<message>.+)$"
)
FIRST_RULES = ["--select", "PE1,PE2"]  # the rules pack (PE3xx+) grows independently of these tests


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m pyengineer ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "pyengineer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def run_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str
) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ml_on_main(git_repo: RepoFactory) -> GitRepo:
    """A fresh repo on main whose committed model.py was edited to import torch."""
    repo = git_repo(files={"model.py": "def predict(x):\n    return x\n", "util.py": "X = 1\n"}, commit=True)
    repo.write("model.py", "import torch\n\n\ndef predict(x):\n    return torch.tensor(x)\n")
    return repo


def test_acceptance_fresh_repo_on_main_with_an_edited_file_importing_torch(ml_on_main: GitRepo) -> None:
    result = run_cli("check", str(ml_on_main.root), cwd=ml_on_main.root)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    pe101 = [line for line in lines if TEXT_LINE.match(line) and " PE101 " in line]
    pe201 = [line for line in lines if TEXT_LINE.match(line) and " PE201 " in line]
    assert pe101 == [
        "model.py:1:1: PE101 [warning] You are changing model.py on the protected branch 'main'. "
        "Create a feature branch first (suggested: feature/model)."
    ]
    assert len(pe201) == 1 and pe201[0].startswith("model.py:1:8: PE201 [info] 'torch' is an ML library")
    assert lines[-1].startswith("Found ")
    # util.py is committed and unchanged: no PE101 for it.
    assert not any(line.startswith("util.py") and "PE101" in line for line in lines)


def test_text_format_lines_and_summary(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", *FIRST_RULES)
    assert code == 1
    *findings, summary = out.splitlines()
    assert summary == "Found 2 findings."
    parsed = [TEXT_LINE.match(line) for line in findings]
    assert all(parsed), findings
    assert [(m["path"], m["line"], m["col"], m["code"], m["severity"]) for m in parsed if m] == [
        ("model.py", "1", "1", "PE101", "warning"),
        ("model.py", "1", "8", "PE201", "info"),
    ]


def test_exit_0_and_all_checks_passed_when_nothing_is_found(
    git_repo: RepoFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(files={"model.py": "import torch\n"}, commit=True)
    repo.git("switch", "-q", "-c", "feature/x")
    repo.write("model.py", "import os\n")
    code, out, _ = run_main(capsys, monkeypatch, repo.root, "check", *FIRST_RULES)
    assert (code, out) == (0, "All checks passed!\n")


def test_untracked_file_on_main_is_a_change(
    git_repo: RepoFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(commit=True)
    repo.write("pkg/new_module.py", "X = 1\n")
    code, out, _ = run_main(capsys, monkeypatch, repo.root, "check", "--select", "PE101")
    assert code == 1
    assert out.splitlines()[0].startswith("pkg/new_module.py:1:1: PE101 [warning] ")


def test_select_and_ignore(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", "--select", "pe2")
    assert {m["code"] for m in map(TEXT_LINE.match, out.splitlines()) if m} == {"PE201"}
    _, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", *FIRST_RULES, "--ignore", "PE201")
    assert {m["code"] for m in map(TEXT_LINE.match, out.splitlines()) if m} == {"PE101"}
    code, out, _ = run_main(
        capsys, monkeypatch, ml_on_main.root, "check", "--select", "PE1", "--ignore", "PE1"
    )
    assert (code, out) == (0, "All checks passed!\n")


def test_a_single_file_argument_checks_only_that_file(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ml_on_main.write("other.py", "import jax\n")
    _, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", *FIRST_RULES, "model.py")
    assert {line.split(":")[0] for line in out.splitlines()[:-1]} == {"model.py"}


def test_gitignored_and_venv_files_are_not_checked(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ml_on_main.write(".gitignore", "generated/\n")
    ml_on_main.write("generated/out.py", "import torch\n")
    ml_on_main.write(".venv/lib/site.py", "import torch\n")
    _, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", "--select", "PE201")
    assert {line.split(":")[0] for line in out.splitlines()[:-1]} == {"model.py"}


# --- exit 2 ---------------------------------------------------------------------------------------------


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_bad_select_code_exits_2_naming_the_value(tmp_path: Path) -> None:
    result = run_cli("check", "--select", "E501", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "'E501'" in result.stderr and "select" in result.stderr


def test_a_rule_code_that_does_not_exist_gets_the_nearest_real_one(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    result = run_cli("check", "--select", "PE30l", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "argument --select: unknown rule code 'PE30L' (did you mean 'PE301'?)" in result.stderr
    # well formed but no such rule: before, it selected nothing and reported "All checks passed!"
    result = run_cli("check", "--ignore", "PE11", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "unknown rule code 'PE11'" in result.stderr
    # prefixes of real codes are still fine
    assert run_cli("check", "--select", "PE3,PE10", str(tmp_path), cwd=tmp_path).returncode == 0


def test_an_unknown_config_key_suggests_the_real_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pyengineer]\nignroe = ['PE101']\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key 'ignroe' (did you mean 'ignore'?)" in result.stderr


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", "--format", "xml", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize(
    ("name", "text", "key", "value"),
    [
        ("pyproject.toml", "[tool.pyengineer]\nprotected-branchez = ['main']\n", "protected-branchez", None),
        ("pyproject.toml", "[tool.pyengineer]\ndebounce-ms = 'soon'\n", "debounce-ms", "'soon'"),
        ("pyengineer.toml", "[llm]\nmax-tool-rounds = 0\n", "llm.max-tool-rounds", "0"),
    ],
)
def test_config_error_is_printed_and_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    text: str,
    key: str,
    value: str | None,
) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "a.py").write_text("import torch\n")
    for command in (["check"], ["context"], ["context", "--json"]):
        code, out, err = run_main(capsys, monkeypatch, tmp_path, *command, str(tmp_path))
        assert code == 2, command
        assert out == ""
        assert err.startswith(f"pyengineer: configuration error: {tmp_path / name}: ")
        assert f"'{key}'" in err
        if value is not None:
            assert value in err


def test_config_error_from_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pyengineer]\nselect = 'PE1'\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"pyengineer: configuration error: {tmp_path / 'pyproject.toml'}: ")
    assert "'select'" in result.stderr and "'PE1'" in result.stderr


# --- JSON -----------------------------------------------------------------------------------------------


def test_json_format_schema(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", *FIRST_RULES, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"version", "tool", "findings", "rule_failures", "baselined", "file_errors"}
    assert (report["rule_failures"], report["baselined"], report["file_errors"]) == ([], 0, [])
    assert report["version"] == 1
    assert report["tool"] == {"name": "pyengineer", "version": __version__}
    pe101, pe201 = report["findings"]
    for finding in (pe101, pe201):
        assert set(finding) == {
            "code", "name", "message", "severity", "path", "cell", "start", "end", "url", "fixes", "related"
        }  # fmt: skip
        assert finding["cell"] is None  # a module, not a notebook
        assert finding["path"] == str(ml_on_main.root.resolve() / "model.py")
        assert set(finding["start"]) == set(finding["end"]) == {"line", "column"}
        for fix in finding["fixes"]:
            assert set(fix) == {"title", "safe", "command", "arguments", "edits"}
    assert (pe101["code"], pe101["name"], pe101["severity"]) == ("PE101", "protected-branch", "warning")
    assert pe101["url"].endswith("#pe101-protected-branch")
    assert pe101["start"] == {"line": 1, "column": 1}
    assert pe101["fixes"][0]["command"] == "pyengineer.createBranch"
    assert pe101["fixes"][0]["arguments"][0]["name"] == "feature/model"
    assert (pe201["code"], pe201["name"], pe201["severity"]) == ("PE201", "ml-boundary", "info")
    assert (pe201["start"], pe201["end"]) == ({"line": 1, "column": 8}, {"line": 1, "column": 13})


def test_json_format_with_no_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("X = 1\n")
    code, out, _ = run_main(capsys, monkeypatch, tmp_path, "check", *FIRST_RULES, "--format", "json")
    assert code == 0
    assert json.loads(out)["findings"] == []


# --- SARIF ----------------------------------------------------------------------------------------------


def no_nulls(value: Any, where: str = "$") -> list[str]:
    """Paths of null values: SARIF properties are omitted when absent, never null."""
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in no_nulls(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in no_nulls(v, f"{where}[{i}]")]
    return []


def test_sarif_format_has_the_required_2_1_0_shape(
    ml_on_main: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, ml_on_main.root, "check", *FIRST_RULES, "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pyengineer" and driver["version"] == __version__
    rule_ids = [r["id"] for r in driver["rules"]]
    assert {"PE101", "PE201"} <= set(rule_ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"none", "note", "warning", "error"}
        assert rule["helpUri"].startswith("https://")
    assert len(run["results"]) == 2
    for result in run["results"]:
        assert result["ruleId"] == rule_ids[result["ruleIndex"]]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "model.py"
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])
    assert no_nulls(sarif) == []


def test_sarif_uri_is_a_posix_relative_uri_with_spaces_escaped(
    git_repo: RepoFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(commit=True)
    repo.write("my models/net 1.py", "import torch\n")
    _, out, _ = run_main(capsys, monkeypatch, repo.root, "check", "--select", "PE201", "--format", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20models/net%201.py"


# --- the real console entry points ----------------------------------------------------------------------


def test_python_m_pyengineer_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, f"pyengineer {__version__}")


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli(cwd=tmp_path).returncode == 2


def test_sarif_uri_outside_the_current_folder_is_a_file_uri(
    git_repo: RepoFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(commit=True)
    repo.write("net.py", "import torch\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, out, _ = run_main(
        capsys, monkeypatch, elsewhere, "check", "--select", "PE201", "--format", "sarif", str(repo.root)
    )
    (result,) = json.loads(out)["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (repo.root.resolve() / "net.py").as_uri()


def test_a_subfolder_checks_only_its_files_with_the_whole_project_context(
    git_repo: RepoFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(
        files={"pyproject.toml": "[tool.pyengineer]\nextend-ml-libraries = ['mlx']\n"}, commit=True
    )
    repo.write("pkg/a.py", "import mlx\n")
    repo.write("other/b.py", "import torch\n")
    code, out, _ = run_main(
        capsys, monkeypatch, repo.root / "pkg", "check", "--select", "PE201", "--fail-on", "info"
    )
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()[:-1]] == [
        "a.py"
    ]  # relative to the current folder
