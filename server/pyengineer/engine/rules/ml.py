"""PE2xx: the ML boundary between the python-engineer and ai-engineer roles."""

from __future__ import annotations

from collections.abc import Iterator

from pyengineer.engine.registry import RuleInput, rule
from pyengineer.findings import Finding, Fix, Range, Severity

HANDOFF_COMMAND = "pyengineer.handoff"


@rule(
    "PE201",
    "ml-boundary",
    "An ML library is imported: model code is the ai-engineer's",
    severity=Severity.INFO,
)
def ml_boundary(inp: RuleInput) -> Iterator[Finding]:
    libraries = set(inp.settings.all_ml_libraries)
    for record in inp.source.imports:
        if record.top_level not in libraries:
            continue
        how = " (type-checking only)" if record.type_only else " (dynamic import)" if record.dynamic else ""
        yield Finding(
            code="PE201",
            message=(
                f"'{record.top_level}' is an ML library{how}: ML model code belongs to the ai-engineer role. "
                "Keep the Python side to data preparation, validation and serving; hand the model work off."
            ),
            path=inp.source.path,
            range=Range.of(record.line - 1, record.col, record.line - 1, record.end_col),
            severity=Severity.HINT if record.type_only else Severity.INFO,
            fixes=(
                Fix(
                    title="Hand off to ai-engineer",
                    command=HANDOFF_COMMAND,
                    arguments=({"path": inp.source.path},),
                    preferred=True,
                ),
            ),
            data={"library": record.top_level, "module": record.module},
        )
