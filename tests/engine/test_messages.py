"""Every rule speaks in one plain sentence a user reads in the Problems panel (at most MAX_MESSAGE characters,
no Markdown), with the why and the how in its Markdown `detail` for the hover.

The rule unit tests hold every finding they make to this too (tests/engine/rules/rule_harness.py); here the
rules run on docs/rules.md's Bad examples through `pyengineer check`'s own pipeline, and PE101/PE201 in the
shapes that made the longest messages (a long branch name, many ML libraries, an ML project, a hand-off).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.checking import check_paths
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.registry import MAX_MESSAGE, Rule, load_rules
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding, Severity
from pyengineer.git.state import GitState
from pyengineer.workspace.context import MlFile, WorkspaceContext
from pyengineer.workspace.handoffs import handoff_path

from tests.engine.rules.rule_harness import assert_readable
from tests.engine.rules.test_docs_examples import _docs, _project, examples, sections


def _pack() -> list[Rule]:
    return [r for r in load_rules().values() if r.code[2] in "345678"]


@pytest.mark.parametrize("rule", _pack(), ids=lambda r: r.code)
def test_the_documented_bad_example_reads_in_one_short_plain_sentence(rule: Rule, tmp_path: Path) -> None:
    bad = examples(sections(_docs())[rule.code][1])["bad"]
    project = _project(tmp_path / "bad", rule, bad)
    overrides: dict[str, object] | None = None if rule.default else {"select": ["PE", rule.code]}
    (checked,) = check_paths([project], overrides)
    found = [f for f in checked.findings if f.code == rule.code]
    assert found
    for finding in found:
        assert_readable(finding)


def _context(root: Path, git: GitState, **update: object) -> WorkspaceContext:
    context = WorkspaceContext(root=str(root), python_project=True, python_project_reason="test", git=git)
    return context.model_copy(update=update)


def _run(root: Path, text: str, context: WorkspaceContext, code: str, relative: str) -> Finding:
    source = ParsedSource(str(root / relative), text, relative)
    (finding,) = analyze(source, context, Settings(select=(code,)), changed=True)
    return finding


def test_pe101_with_a_long_branch_name_and_file_path(tmp_path: Path) -> None:
    git = GitState(
        is_repo=True,
        branch="release/2026-12-maintenance-window",
        head="abc1234",
        protected=True,
        protected_pattern="release/*",
        ahead=2,
        upstream="origin/release/2026-12-maintenance-window",
    )
    relative = "services/billing/integrations/payment_providers/stripe_webhook_handlers.py"
    finding = _run(tmp_path, "import fastapi\n", _context(tmp_path, git), "PE101", relative)
    assert_readable(finding)
    assert "release/2026-12-maintenance-window" in finding.message
    # The suggestion does not fit beside that branch: it is in the hover, with the commits to move.
    assert "git switch -c feature/api-stripe-webhook-handlers" in finding.detail
    assert "Move 2 commits" in finding.detail


def test_pe201_in_every_shape(tmp_path: Path) -> None:
    plain = _context(tmp_path, GitState())
    many = "import torch\nimport sklearn\nimport transformers\nimport xgboost\nimport lightgbm\n"
    ml_files = tuple(MlFile(path=f"m{i}.py", libraries=("torch",), imports=()) for i in range(300))
    ml_project = plain.model_copy(update={"ml_files": ml_files, "python_file_count": 1000})
    shapes = {
        "one": ("import torch\n", plain),
        "many": (many, plain),
        "type-only": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n", plain),
        "ml project": (many, ml_project),
    }
    for name, (text, context) in shapes.items():
        finding = _run(tmp_path, text, context, "PE201", "app/scoring.py")
        assert_readable(finding)
        assert "hand" not in finding.message.lower(), (
            name
        )  # no hand-off exists yet: nothing says "handed off"
    document = handoff_path(tmp_path, "app/scoring.py", "docs/handoffs")
    document.parent.mkdir(parents=True)
    document.write_text("# Hand-off\n", encoding="utf-8")
    handed = _run(tmp_path, many, plain, "PE201", "app/scoring.py")
    assert_readable(handed)
    assert handed.message == "ML code handed off to the ai-engineer: see docs/handoffs/app-scoring.md"
    assert handed.severity == Severity.HINT
    assert f"]({document.as_uri()})" in handed.detail
    assert handed.related[0].path == str(document) and handed.related[0].message == "the hand-off document"
    assert handed.fixes[0].title == "Update the hand-off document"


def test_max_message_fits_the_problems_panel() -> None:
    # Neovim's virtual text was cut at 160 columns with the file's own code beside it; 100 leaves room.
    assert MAX_MESSAGE == 100
