"""`pyengineer check` and `context` on real Jupyter notebooks (tests/cli/notebooks/), through the real CLI.

explore.ipynb is written as Jupyter writes notebooks (indent 1, sorted keys, UTF-8 unescaped): markdown and
raw cells, line and cell magics, shell escapes and `?` help, outputs (a stream, a PNG, an error), source as a
list of lines and as one string, a cell that does not parse, and a noqa comment.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyengineer.checking import check_paths

from tests.cli.test_check import run_cli, run_main
from tests.cli.test_check_adoption import broken_rule  # noqa: F401 (a fixture)
from tests.repos import GitRepo, RepoFactory

NOTEBOOKS = Path(__file__).parent / "notebooks"
RULES = ["--select", "PE2,PE3,PE7,PE8"]  # the rules that have something to say about explore.ipynb

EXPECTED = [
    "explore.ipynb:cell 5:2:5: PE301 [warning] time.sleep() blocks the event loop inside `async def refresh`",
    "explore.ipynb:cell 5:3:12: PE803 [warning] `utcnow()` returns a naive datetime",
    "explore.ipynb:cell 6:1:19: PE701 [info] `orders.apply(..., axis=1)` calls a Python function once per row",
    "explore.ipynb:cell 10:3:8: PE201 [info] 'torch' is an ML library",
]


@pytest.fixture
def project(git_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A repository on a feature branch holding explore.ipynb and a module; its own results cache."""
    monkeypatch.setenv("PYENGINEER_CACHE_DIR", str(tmp_path / "cache"))
    repo = git_repo(files={"README.md": "hi\n"}, commit=True)
    repo.git("switch", "-q", "-c", "feature/explore")
    shutil.copy(NOTEBOOKS / "explore.ipynb", repo.root / "explore.ipynb")
    repo.write("app.py", "from datetime import datetime\n\nSTARTED = datetime.utcnow()\n")
    return repo


def _report(out: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(out)
    return report


def test_text_output_locates_findings_by_cell_and_line_in_the_cell(project: GitRepo) -> None:
    result = run_cli("check", *RULES, "explore.ipynb", cwd=project.root)
    assert result.returncode == 1, result.stderr
    *lines, summary = result.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    for line, expected in zip(lines, EXPECTED, strict=True):
        assert line.startswith(expected), line
    assert summary == "Found 4 findings (1 fixable with --fix)."
    # Magics (%matplotlib, !pip, `orders.head?`, %%bash with an `import torch` in it, !echo in a loop) found
    # nothing and broke nothing; the PE803 on cell 6 has a noqa comment; markdown and raw cells are not code.
    assert "cell 6:2" not in result.stdout and "cell 7" not in result.stdout


def test_a_broken_cell_is_reported_and_the_other_cells_are_checked(project: GitRepo) -> None:
    result = run_cli("check", *RULES, ".", cwd=project.root)
    assert result.returncode == 1
    assert (
        "pyengineer: explore.ipynb:cell 9:1:12: syntax error: invalid syntax; the cell is left out of the checks "
        "until it parses (the other cells are checked)"
    ) in result.stderr
    # The cell after the broken one still counts: torch is imported in cell 10.
    assert "explore.ipynb:cell 10:3:8: PE201" in result.stdout


def test_a_folder_check_includes_notebooks_and_modules(project: GitRepo) -> None:
    result = run_cli("check", *RULES, cwd=project.root)
    paths = [line.split(":", 1)[0] for line in result.stdout.splitlines()[:-1]]
    assert paths.count("explore.ipynb") == 4 and paths.count("app.py") == 1


def test_json_has_the_cell_and_in_cell_positions(
    project: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, project.root, "check", *RULES, "--format", "json")
    assert code == 1
    findings = _report(out)["findings"]
    by_code = {(f["path"].rsplit("/", 1)[-1], f["code"]): f for f in findings}
    pe301 = by_code["explore.ipynb", "PE301"]
    assert pe301["cell"] == 5
    assert (pe301["start"], pe301["end"]) == ({"line": 2, "column": 5}, {"line": 2, "column": 18})
    edits = pe301["fixes"][0]["edits"]
    # The fix adds `import asyncio` in the first code cell (cell 2, before `import time`) and awaits in cell 5.
    assert sorted((e["cell"], e["start"]["line"], e["start"]["column"], e["new_text"]) for e in edits) == [
        (2, 3, 1, "import asyncio\n"),
        (5, 2, 5, "asyncio.sleep"),
        (5, 2, 5, "await "),
    ]
    assert by_code["app.py", "PE803"]["cell"] is None


def test_sarif_regions_point_at_the_source_line_in_the_notebook_file(
    project: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_main(capsys, monkeypatch, project.root, "check", *RULES, "--format", "sarif")
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    pe301 = next(r for r in results if r["ruleId"] == "PE301")
    location = pe301["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "explore.ipynb"
    region = location["region"]
    file_lines = (project.root / "explore.ipynb").read_text().splitlines()
    line = file_lines[region["startLine"] - 1]
    assert line == '    "    time.sleep(1)\\n",'
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == "time.sleep(1)"
    assert pe301["properties"] == {
        "notebookCell": 5,
        "cellStartLine": 2,
        "cellStartColumn": 5,
        "cellEndLine": 2,
        "cellEndColumn": 18,
    }
    # A source written as one string: the region is inside that string, on its line of the file.
    pe701 = next(r for r in results if r["ruleId"] == "PE701")
    region = pe701["locations"][0]["physicalLocation"]["region"]
    line = file_lines[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 :].startswith("orders.apply(")


def test_fix_edits_the_cells_and_keeps_the_notebook_layout_outputs_and_metadata(project: GitRepo) -> None:
    path = project.root / "explore.ipynb"
    before = path.read_text()
    result = run_cli("check", *RULES, "--fix", "explore.ipynb", cwd=project.root)
    assert "Fixed 1 finding." in result.stderr
    after = path.read_text()
    assert "PE301" not in result.stdout and "cell 5:3:12: PE803" in result.stdout
    old, new = json.loads(before), json.loads(after)
    assert new["cells"][1]["source"][1:4] == ["%load_ext autoreload\n", "import asyncio\n", "import time\n"]
    assert new["cells"][4]["source"] == [
        "async def refresh():\n",
        "    await asyncio.sleep(1)\n",
        "    return datetime.utcnow()",
    ]
    # Nothing else moved: every other cell, the outputs, the metadata; and the file is still written as
    # Jupyter writes it (so `git diff` shows the two changed lines and nothing else).
    for number, (a, b) in enumerate(zip(old["cells"], new["cells"], strict=True)):
        if number not in (1, 4):
            assert a == b
        assert (a["metadata"], a.get("outputs")) == (b["metadata"], b.get("outputs"))
    assert old["metadata"] == new["metadata"]
    assert after == json.dumps(new, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    diff = project.git(
        "diff", "--no-index", "--unified=0", "--", str(NOTEBOOKS / "explore.ipynb"), str(path), check=False
    )
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        '+    "import asyncio\\n",',
        '-    "    time.sleep(1)\\n",',
        '+    "    await asyncio.sleep(1)\\n",',
    ]


def test_fix_keeps_a_string_source_a_string(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = git_repo(files={"README.md": "hi\n"}, commit=True)
    repo.git("switch", "-q", "-c", "feature/x")
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": "import time\n\nasync def go():\n    time.sleep(2)\n",
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    path = repo.write("n.ipynb", json.dumps(notebook, indent=2))  # no trailing newline, indent 2
    result = run_cli("check", "--select", "PE301", "--fix", "--no-cache", "n.ipynb", cwd=repo.root)
    assert result.returncode == 0, result.stdout + result.stderr
    notebook["cells"][0]["source"] = (
        "import asyncio\nimport time\n\nasync def go():\n    await asyncio.sleep(2)\n"
    )
    assert path.read_text() == json.dumps(notebook, indent=2)


def test_a_malformed_notebook_is_an_error_naming_it_and_the_rest_is_checked(
    project: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(NOTEBOOKS / "malformed.ipynb", project.root / "malformed.ipynb")
    shutil.copy(NOTEBOOKS / "truncated.ipynb", project.root / "truncated.ipynb")
    result = run_cli("check", *RULES, cwd=project.root)
    assert result.returncode == 2
    assert (
        "pyengineer: error: malformed.ipynb: cell 1: 'source' must be a string or a list of strings, not a number"
    ) in result.stderr
    assert "pyengineer: error: truncated.ipynb: not a notebook: invalid JSON at line " in result.stderr
    assert "Traceback" not in result.stderr
    assert "explore.ipynb:cell 5:2:5: PE301" in result.stdout and "app.py:3:" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 files could not be checked; see the errors on stderr."
    code, out, _ = run_main(capsys, monkeypatch, project.root, "check", *RULES, "--format", "json")
    assert code == 2
    assert [e.split(":")[0] for e in _report(out)["file_errors"]] == ["malformed.ipynb", "truncated.ipynb"]
    code, out, _ = run_main(capsys, monkeypatch, project.root, "check", *RULES, "--format", "sarif")
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert len(invocation["toolExecutionNotifications"]) == 2


def test_notebooks_respect_ignores_and_jupyter_checkpoints(project: GitRepo) -> None:
    shutil.copy(NOTEBOOKS / "explore.ipynb", project.root / "scratch.ipynb")
    checkpoints = project.root / ".ipynb_checkpoints"
    checkpoints.mkdir()
    shutil.copy(NOTEBOOKS / "explore.ipynb", checkpoints / "explore-checkpoint.ipynb")
    project.write(".gitignore", "scratch.ipynb\n")
    result = run_cli("check", *RULES, cwd=project.root)
    assert "scratch.ipynb" not in result.stdout and "checkpoint" not in result.stdout
    assert "explore.ipynb:cell 5:2:5" in result.stdout


def test_a_notebook_of_another_language_is_not_checked(project: GitRepo) -> None:
    shutil.copy(NOTEBOOKS / "analysis_r.ipynb", project.root / "analysis_r.ipynb")
    result = run_cli("check", *RULES, "analysis_r.ipynb", cwd=project.root)
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n")


def test_the_results_cache_keys_a_notebook_by_its_code(project: GitRepo) -> None:
    first = check_paths([project.root / "explore.ipynb"], {"select": ["PE2", "PE3", "PE7", "PE8"]})[0]
    again = check_paths([project.root / "explore.ipynb"], {"select": ["PE2", "PE3", "PE7", "PE8"]})[0]
    assert (first.cached, again.cached) == (0, 1)
    assert again.findings == first.findings
    # New outputs and a new markdown cell at the top: the code is the same, so the cache is used, and the
    # findings move to their cells' new numbers.
    path = project.root / "explore.ipynb"
    data = json.loads(path.read_text())
    data["cells"][1]["outputs"] = []
    data["cells"].insert(0, {"cell_type": "markdown", "id": "new", "metadata": {}, "source": ["# New"]})
    path.write_text(json.dumps(data, indent=1))
    moved = check_paths([path], {"select": ["PE2", "PE3", "PE7", "PE8"]})[0]
    assert moved.cached == 1
    assert [f.cell for f in moved.findings] == [(f.cell or 0) + 1 for f in first.findings]
    # A changed cell: analysed again.
    data["cells"][5]["source"] = ["async def refresh():\n", "    return datetime.utcnow()"]
    path.write_text(json.dumps(data, indent=1))
    changed = check_paths([path], {"select": ["PE2", "PE3", "PE7", "PE8"]})[0]
    assert changed.cached == 0
    assert "PE301" not in {f.code for f in changed.findings}


def test_a_test_notebook_is_test_code(git_repo: RepoFactory) -> None:
    # PE601 leaves a test's warm-up `except:` alone; the path rules read is the notebook's own.
    cell = "try:\n    x = 1\nexcept:\n    pass\n"
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": cell}
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    repo = git_repo(files={"README.md": "hi\n"}, commit=True)
    repo.git("switch", "-q", "-c", "feature/x")
    repo.write("analysis.ipynb", json.dumps(notebook))
    repo.write("test_analysis.ipynb", json.dumps(notebook))
    result = run_cli("check", "--select", "PE601", "--no-cache", cwd=repo.root)
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:-1]] == ["analysis.ipynb"]


def test_changed_includes_notebooks(project: GitRepo) -> None:
    project.commit("add the notebook")
    assert run_cli("check", *RULES, "--changed", "HEAD", cwd=project.root).returncode == 0
    path = project.root / "explore.ipynb"
    path.write_text(path.read_text().replace("time.sleep(1)", "time.sleep(2)"))
    result = run_cli("check", *RULES, "--changed", "HEAD", cwd=project.root)
    assert "explore.ipynb:cell 5:2:5: PE301" in result.stdout and "app.py" not in result.stdout


def test_context_counts_notebooks_and_marks_their_ml_imports(project: GitRepo) -> None:
    result = run_cli("context", "--json", ".", cwd=project.root)
    context = json.loads(result.stdout)
    assert context["python_file_count"] == 2
    marker = next(m for m in context["markers"] if m["kind"] == "python-files")
    assert marker["detail"] == "1 .py file, 1 notebook"
    (ml_file,) = context["ml_files"]
    assert ml_file["path"] == "explore.ipynb" and ml_file["notebook"] is True
    # The `import torch` of the %%bash cell and of the markdown are not imports; cell 10's is.
    assert [(i["module"], i["cell"], i["line"]) for i in ml_file["imports"]] == [("torch", 10, 3)]
    assert context["framework_evidence"]["pandas"] == ["notebook:explore.ipynb"]
    text = run_cli("context", ".", cwd=project.root).stdout
    assert "  explore.ipynb (notebook): torch:cell 10:3" in text
    assert "pandas (notebooks only)" in text


def test_a_project_of_notebooks_alone_is_a_python_project(git_repo: RepoFactory) -> None:
    repo = git_repo()
    shutil.copy(NOTEBOOKS / "explore.ipynb", repo.root / "explore.ipynb")
    context = json.loads(run_cli("context", "--json", ".", cwd=repo.root).stdout)
    assert (context["python_project"], context["python_project_reason"]) == (True, "1 notebook found")


def test_the_baseline_holds_notebook_findings_across_a_new_cell(project: GitRepo) -> None:
    added = run_cli("check", *RULES, "--add-baseline", "explore.ipynb", cwd=project.root)
    assert added.returncode == 0, added.stderr
    assert run_cli("check", *RULES, "explore.ipynb", cwd=project.root).stdout == (
        "All checks passed! (4 more in the baseline)\n"
    )
    path = project.root / "explore.ipynb"
    data = json.loads(path.read_text())
    data["cells"].insert(0, {"cell_type": "markdown", "id": "top", "metadata": {}, "source": ["# Top"]})
    data["cells"][5]["source"] += ["\n", "later = datetime.utcnow()"]
    path.write_text(json.dumps(data, indent=1))
    result = run_cli("check", *RULES, "explore.ipynb", cwd=project.root)
    *lines, summary = result.stdout.splitlines()
    assert [line.split(" [")[0] for line in lines] == ["explore.ipynb:cell 6:4:9: PE803"]
    assert summary == "Found 1 finding (4 more in the baseline)."


def test_a_rule_that_fails_on_a_notebook_is_reported_in_its_cell(
    tmp_path: Path,
    broken_rule: str,  # noqa: F811 (the fixture)
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Two functions"},
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "def a():\n    pass\n",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "x = 1\ndef b():\n    pass",
        },
    ]
    (tmp_path / "two.ipynb").write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    code, out, err = run_main(
        capsys, monkeypatch, tmp_path, "check", "--select", broken_rule, "--format", "json"
    )
    assert code == 2
    assert (
        "rule PE999 (always-broken) failed on two.ipynb:cell 3:2: IndentationError: unexpected indent" in err
    )
    (failure,) = _report(out)["rule_failures"]
    assert (failure["cell"], failure["line"]) == (3, 2)
