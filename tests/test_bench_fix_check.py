"""The safe-fix check of bench/precision (issue 14 section 6) catches a fix that breaks the code or repeats.

A tiny real project with one real safe fix (PE301: `time.sleep` in `async def` -> `await asyncio.sleep`), checked
through the harness's own `check_fixes`, which runs `pyengineer check --fix` in this process: the broken fixers
are the real rule's fix, changed here by monkeypatching for the length of one test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pyengineer.engine.rules import async_code
from pyengineer.findings import Edit, Fix, Position, Range

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "import time\n\n\nasync def handler() -> None:\n    time.sleep(1)\n"


@pytest.fixture(scope="module")
def precision() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_precision", ROOT / "bench" / "precision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_precision"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_precision"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    source = tmp_path / "source" / "app"
    source.mkdir(parents=True)
    (source / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    (source / "service.py").write_text(SOURCE)
    return source


def test_a_sound_fix_passes_and_leaves_the_source_alone(
    precision: ModuleType, project: Path, tmp_path: Path
) -> None:
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert result.failures == []
    assert result.applied == {"PE301": 1}
    assert result.files_changed == 1
    assert "await asyncio.sleep(1)" in (tmp_path / "work" / "app" / "service.py").read_text()
    assert (project / "service.py").read_text() == SOURCE  # only the copy was fixed


def test_a_fix_that_breaks_compilation_fails_naming_file_and_rule(
    precision: ModuleType, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = async_code._sleep_fix

    def broken(index: async_code.SyntaxIndex, call: async_code.ast.Call) -> Fix | None:
        fix = real(index, call)
        assert fix is not None
        edits = tuple(
            e.model_copy(update={"new_text": "await ("}) if e.new_text == "await " else e for e in fix.edits
        )
        return fix.model_copy(update={"edits": edits})

    monkeypatch.setattr(async_code, "_sleep_fix", broken)
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert any(
        "app/service.py" in f and "no longer compiles" in f and "PE301" in f for f in result.failures
    ), result.failures


def test_a_fix_that_applies_again_fails_as_not_idempotent(
    precision: ModuleType, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def repeating(index: async_code.SyntaxIndex, call: async_code.ast.Call) -> Fix | None:
        # Adds a comment above the call and leaves the call as it was: the finding and its fix come back.
        start = Position(line=call.lineno - 1, character=0)
        edit = Edit(path=index.source.path, range=Range(start=start, end=start), new_text="    # slept\n")
        return Fix(title="comment", edits=(edit,), safe=True, preferred=True)

    monkeypatch.setattr(async_code, "_sleep_fix", repeating)
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert any("app/service.py" in f and "not idempotent" in f and "PE301" in f for f in result.failures), (
        result.failures
    )


def test_a_finding_the_fixes_bring_in_fails(
    precision: ModuleType, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = async_code._sleep_fix

    def leaky(index: async_code.SyntaxIndex, call: async_code.ast.Call) -> Fix | None:
        # The real fix, plus a new blocking call in a new coroutine: a finding that was not there before.
        fix = real(index, call)
        assert fix is not None
        end = Position(line=len(index.source.text.splitlines()), character=0)
        extra = Edit(
            path=index.source.path,
            range=Range(start=end, end=end),
            new_text="\n\nasync def other() -> None:\n    time.sleep(2)\n",
        )
        return fix.model_copy(update={"edits": (*fix.edits, extra), "safe": True})

    monkeypatch.setattr(async_code, "_sleep_fix", leaky)
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert any("PE301 in other: a new finding" in f for f in result.failures), result.failures


def test_the_result_is_written_as_json(precision: ModuleType, project: Path, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert json.loads(json.dumps(result.as_json())) == {
        "project": "app",
        "applied": {"PE301": 1},
        "files_changed": 1,
        "failures": [],
    }


def _notebook(*sources: str, markdown_first: bool = False) -> str:
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
        for s in sources
    ]
    if markdown_first:
        cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": "# Notes"})
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def test_a_notebooks_fix_is_checked_like_a_modules(
    precision: ModuleType, project: Path, tmp_path: Path
) -> None:
    (project / "explore.ipynb").write_text(
        _notebook("%matplotlib inline\nimport time\n", SOURCE.split("\n\n\n")[1])
    )
    (tmp_path / "work").mkdir()
    result = precision.check_fixes("app", project, ["PE301"], tmp_path / "work")
    assert result.failures == []
    assert result.applied == {"PE301": 2} and result.files_changed == 2
    fixed = json.loads((tmp_path / "work" / "app" / "explore.ipynb").read_text())
    assert "    await asyncio.sleep(1)\n" in fixed["cells"][1]["source"]


def test_notebook_findings_are_keyed_by_their_cells_lines(
    precision: ModuleType, project: Path, tmp_path: Path
) -> None:
    from pyengineer.checking import check_paths

    path = project / "explore.ipynb"
    path.write_text(_notebook("import time\n", "async def handler():\n    time.sleep(1)\n"))
    reported = precision.keyed(
        "app", project, check_paths([path], {"select": ["PE301"]}, use_cache=False)[0].findings
    )
    assert [(r.key, r.cell, r.line, r.text) for r in reported] == [
        (
            "app|explore.ipynb|PE301|handler|" + precision.line_hash("time.sleep(1)") + "|0",
            2,
            2,
            "time.sleep(1)",
        )
    ]
    # A markdown cell added above: the cell's number moves, the key does not.
    path.write_text(
        _notebook("import time\n", "async def handler():\n    time.sleep(1)\n", markdown_first=True)
    )
    again = precision.keyed(
        "app", project, check_paths([path], {"select": ["PE301"]}, use_cache=False)[0].findings
    )
    assert [(r.key, r.cell) for r in again] == [(reported[0].key, 3)]
    files, lines = precision.count_lines(project)
    assert files == 2 and lines == 5 + 4  # service.py, and the notebook's code lines (not its JSON)
