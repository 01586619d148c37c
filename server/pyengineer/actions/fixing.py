"""Choose the safe fixes that `pyengineer check --fix` applies together, as ruff does."""

from __future__ import annotations

from collections.abc import Iterable

from pyengineer.findings import Edit, Finding, Position


def _key(position: Position) -> tuple[int, int]:
    return position.line, position.character


def _overlaps(a: Edit, b: Edit) -> bool:
    if a.path != b.path or a.cell != b.cell:  # a notebook's cells have their own lines
        return False
    a_start, a_end, b_start, b_end = (
        _key(a.range.start),
        _key(a.range.end),
        _key(b.range.start),
        _key(b.range.end),
    )
    if a_start == a_end == b_start == b_end:
        return False  # two insertions at one place: both apply, one after the other
    return (
        a_start < b_end
        and b_start < a_end
        or (a_start == b_start and (a_start == a_end) != (b_start == b_end))
    )


def safe_fix_edits(findings: Iterable[Finding]) -> tuple[list[Edit], int]:
    """The edits of each finding's first fix when it is safe, and how many findings they fix.

    Identical edits from different findings (two fixes adding the same `import asyncio`) are applied once; a fix
    whose edits would overlap an already chosen one is left for the next `--fix` run.
    """
    chosen: list[Edit] = []
    seen: set[Edit] = set()
    fixed = 0
    for finding in findings:
        if not finding.fixes or not finding.fixes[0].safe or not finding.fixes[0].edits:
            continue
        edits = [e for e in finding.fixes[0].edits if e not in seen]
        if any(_overlaps(new, old) for new in edits for old in chosen):
            continue
        chosen.extend(edits)
        seen.update(edits)
        fixed += 1
    return chosen, fixed
