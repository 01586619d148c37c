"""Run rules on real files written to a temporary project, and apply their fixes the way the CLI does."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from pathlib import Path

from pyengineer.actions.edits import apply_text_edits
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding, Fix
from pyengineer.workspace.context import WorkspaceContext


def check(
    root: Path,
    code: str,
    text: str,
    *,
    frameworks: Iterable[str] = (),
    relative: str = "app/module.py",
    settings: Settings | None = None,
) -> list[Finding]:
    """Write `text` (dedented) to `root/relative` and return the findings of rule `code` for it."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    source = ParsedSource(str(path), path.read_text(encoding="utf-8"), relative)
    context = WorkspaceContext(
        root=str(root), python_project=True, python_project_reason="test", frameworks=tuple(frameworks)
    )
    chosen = (settings or Settings()).model_copy(update={"select": (code,)})
    return [f for f in analyze(source, context, chosen) if f.code == code]


def fixed_text(finding: Finding, fix: Fix | None = None) -> str:
    """The file of `finding` with `fix` (default: its first fix) applied; it must still parse."""
    chosen = fix or finding.fixes[0]
    original = Path(finding.path).read_text(encoding="utf-8")
    result = apply_text_edits(original, chosen.edits)
    ast.parse(result)
    return result


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
