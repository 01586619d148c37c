"""Run rules on real files written to a temporary project, and apply their fixes the way the CLI does."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable
from pathlib import Path

from pyengineer.actions.edits import apply_text_edits
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.registry import MAX_MESSAGE
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding, Fix
from pyengineer.workspace.context import WorkspaceContext

# A finding's message and its fixes' titles are plain text (the Problems panel, quick-fix menus, the terminal).
MARKUP = ("`", "**", "](")


def assert_readable(finding: Finding) -> None:
    """One plain sentence of at most MAX_MESSAGE characters; plain fix titles; the why and how in `detail`."""
    message = finding.message
    assert len(message) <= MAX_MESSAGE, f"{finding.code}: {len(message)} characters: {message}"
    assert "\n" not in message and not any(m in message for m in MARKUP), f"{finding.code}: markup: {message}"
    assert not message.endswith("."), f"{finding.code}: a sentence for a list, no full stop: {message}"
    for fix in finding.fixes:
        assert not any(m in fix.title for m in MARKUP), f"{finding.code}: markup in a fix title: {fix.title}"
    assert finding.detail.strip(), f"{finding.code}: no detail for the hover: {message}"
    assert message not in finding.detail, f"{finding.code}: the hover would say the message again"


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
    found = [f for f in analyze(source, context, chosen) if f.code == code]
    for finding in found:
        assert_readable(
            finding
        )  # every rule fixture holds the messages to it (tests/engine/test_messages.py)
    return found


def fixed_text(finding: Finding, fix: Fix | None = None) -> str:
    """The file of `finding` with `fix` (default: its first fix) applied; it must still parse."""
    chosen = fix or finding.fixes[0]
    original = Path(finding.path).read_text(encoding="utf-8")
    result = apply_text_edits(original, chosen.edits)
    ast.parse(result)
    return result


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
