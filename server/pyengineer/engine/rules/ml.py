"""PE2xx: the ML boundary between the python-engineer and ai-engineer roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pyengineer import names
from pyengineer.engine.noqa import suppressed
from pyengineer.engine.registry import MAX_MESSAGE, RuleInput, rule
from pyengineer.findings import Finding, Fix, Range, Related, Severity
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.handoffs import existing_handoff, workspace_relative
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
    # Late: it reads whether the hand-off document exists, a fact of the file system that the results cache
    # does not key on (late rules run again on every check).
    late=True,
)
def ml_boundary(inp: RuleInput) -> Iterator[Finding]:
    libraries = frozenset(inp.settings.all_ml_libraries)
    # PE201 is late, so it runs on every results-cache hit too: most files cannot import an ML library, and
    # telling so from their import lines spares the parse the cache saved.
    if not inp.source.may_import(libraries):
        return
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
    spelled = ", ".join(f"'{n}'" for n in names[:2]) + (
        f" and {len(names) - 2} more" if len(names) > 2 else ""
    )
    whole_project = ml_project(inp.context)
    root = Path(inp.context.root)
    document = existing_handoff(root, inp.source.relative, inp.settings.handoff_dir)
    keep = "The Python side keeps data preparation, validation and serving around the model."
    if document is not None:
        # Handed off: nothing is left to do here but know where the document is.
        shown = workspace_relative(root, document)
        message = f"ML code handed off to the ai-engineer: see {shown}"
        if len(message) > MAX_MESSAGE:
            message = "ML code handed off to the ai-engineer: see the hand-off document"
        detail = (
            f"The model code is the ai-engineer's: its hand-off document is [{shown}]({document.as_uri()}). "
            f"{keep} After changing the model code, **Update the hand-off document** writes it again and keeps "
            "its notes."
        )
        severity: Severity | None = Severity.HINT
    elif whole_project:
        # In an ML project every file is on the ai-engineer's side: the boundary is the project, and a
        # warning on each file would only repeat it.
        counted = f"{len(inp.context.ml_files)} of {inp.context.python_file_count} Python files"
        message = f"This project is ML code ({counted} import ML libraries): the ai-engineer's"
        detail = (
            f"The boundary is the project, not this file: its code belongs to the ai-engineer role as a whole. "
            f"This file imports {spelled}."
        )
        severity = Severity.HINT  # lower than the rule's own: see the comment above
    else:
        what = f"is an ML library{_how(first)}" if len(names) == 1 else "are ML libraries"
        message = f"{spelled} {what}: model code belongs to the ai-engineer role"
        detail = f"{keep} **Hand off to ai-engineer** writes a document with what they need to take it over."
        severity = Severity.HINT if all(r.type_only for r in records) else Severity.INFO
    yield inp.report(
        "PE201",
        message=message,
        detail=detail,
        range=_range(first),
        severity=severity,
        fixes=(
            Fix(
                title="Update the hand-off document" if document is not None else "Hand off to ai-engineer",
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
            "handoff": str(document) if document is not None else None,
        },
        related=(
            # The document itself, at its start (a client opens it from the Problems panel or the hover).
            *(
                (Related(path=str(document), range=Range.of(0, 0), message="the hand-off document"),)
                if document
                else ()
            ),
            *(
                Related(path=inp.source.path, range=_range(r), message=f"also imports '{r.module}'{_how(r)}")
                for r in others
            ),
        ),
    )
