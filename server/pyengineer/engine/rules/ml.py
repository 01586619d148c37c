"""PE2xx: the ML boundary between the python-engineer and ai-engineer roles."""

from __future__ import annotations

from collections.abc import Iterator

from pyengineer import names
from pyengineer.engine.noqa import suppressed
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.findings import Finding, Fix, Range, Related, Severity
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.imports import ImportRecord

HANDOFF_COMMAND = names.HANDOFF


def ml_project(context: WorkspaceContext) -> bool:
    """True when the project's purpose is ML: at least a quarter of its Python files import ML libraries.

    Measured on the corpus: the ML frameworks have 78% (pytorch-lightning) and 34% (ludwig, whose configs,
    schemas and tests make up the rest); the applications and libraries with an ML corner 4% or less (mlflow,
    evidently, pandera, feast). A quarter sits in the gap. Below 10 files a share says little about a
    purpose, and the per-file findings are few anyway.
    """
    return context.python_file_count >= 10 and 4 * len(context.ml_files) >= context.python_file_count


def _range(record: ImportRecord) -> Range:
    return Range.of(record.line - 1, record.col, record.line - 1, record.end_col)


def _how(record: ImportRecord) -> str:
    return " (type-checking only)" if record.type_only else " (dynamic import)" if record.dynamic else ""


@rule(
    "PE201",
    "ml-boundary",
    "A file imports an ML library: model code is the ai-engineer's",
    severity=Severity.INFO,
)
def ml_boundary(inp: RuleInput) -> Iterator[Finding]:
    libraries = set(inp.settings.all_ml_libraries)
    # An import accepted with a PE201 noqa comment is not the file's boundary: the finding moves to the next one.
    records = [
        r
        for r in inp.source.imports
        if r.top_level in libraries and not suppressed(inp.source.line_text(r.line - 1), "PE201")
    ]
    if not records:
        return
    # One finding per file, at its first real ML import (a TYPE_CHECKING-only one says little about the
    # file); the other ML imports are its related information, not findings of their own.
    first = next((r for r in records if not r.type_only), records[0])
    others = [r for r in records if r is not first]
    names = list(dict.fromkeys(r.top_level for r in [first, *others]))
    spelled = ", ".join(f"'{n}'" for n in names)
    whole_project = ml_project(inp.context)
    if whole_project:
        # In an ML project every file is on the ai-engineer's side: the boundary is the project, and a
        # warning on each file would only repeat it.
        message = (
            f"This file imports {spelled}: this project is ML code ({len(inp.context.ml_files)} of "
            f"{inp.context.python_file_count} Python files import ML libraries), which belongs to the ai-engineer "
            "role as a whole."
        )
        severity: Severity | None = Severity.HINT  # lower than the rule's own: see the comment above
    else:
        what = f"is an ML library{_how(first)}" if len(names) == 1 else "are ML libraries"
        message = (
            f"{spelled} {what}: ML model code belongs to the ai-engineer role. Keep the Python side to data "
            "preparation, validation and serving; hand the model work off."
        )
        severity = Severity.HINT if all(r.type_only for r in records) else None
    yield inp.report(
        "PE201",
        message=message,
        range=_range(first),
        severity=severity,
        fixes=(
            Fix(
                title="Hand off to ai-engineer",
                command=HANDOFF_COMMAND,
                arguments=({"path": inp.source.path},),
                preferred=True,
            ),
        ),
        data={
            "library": first.top_level,
            "module": first.module,
            "libraries": names,
            "imports": len(records),
            "ml_project": whole_project,
        },
        related=tuple(
            Related(
                path=inp.source.path,
                range=_range(r),
                message=f"also imports '{r.module}'{_how(r)}",
            )
            for r in others
        ),
    )
