"""Verification of the agent's proposed edits: what the user is offered must be at least as sound as before.

Each file's edits are applied to a copy of its text, and the result must:
- keep the file's line endings (a CRLF file stays CRLF, an LF file LF; nothing becomes mixed);
- parse, for Python files;
- define no module- or class-level name twice that was defined once (the mark of an off-by-one range);
- introduce no new error-level finding of pyengineer's own rules (`engine.analyze` before and after).

A problem is returned as text the model can act on (it goes back as a tool error); nothing here raises for
the model's mistakes. Front ends (`--apply`, the editor's `workspace/applyEdit`) only ever see edits that
passed, because `propose_edits` returns its edits only after this check.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyengineer.actions.edits import apply_text_edits
from pyengineer.config import Settings
from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit, Severity
from pyengineer.lines import LineIndex

logger = logging.getLogger("pyengineer.agent")

PYTHON_SUFFIXES = (".py", ".pyi")
# Decorators under which one name is legitimately defined more than once.
_REDEFINING_DECORATORS = ("overload", "setter", "getter", "deleter", "register")
MAX_REPORTED = 5


@dataclass(frozen=True)
class FileChange:
    """One file's proposed edits: its workspace-relative path, its text now ("" when new), the edits."""

    relative: str
    before: str
    edits: tuple[Edit, ...]
    exists: bool = True


def line_ending(text: str) -> str | None:
    """The file's line-ending style: "\\r\\n", "\\n", "mixed", or None when it has no line break."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    if crlf and lf:
        return "mixed"
    if crlf:
        return "\r\n"
    if lf:
        return "\n"
    return None


def with_line_ending(text: str, ending: str | None) -> str:
    """`text` with every line break written as `ending` (LF when the file has no style of its own)."""
    normal = text.replace("\r\n", "\n")
    return normal.replace("\n", "\r\n") if ending == "\r\n" else normal


def _syntax_problem(text: str) -> str | None:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        line = exc.lineno or 0
        shown = LineIndex(text).line(line - 1) if line > 0 else ""
        return f"the result does not parse: line {line}: {exc.msg}" + (
            f" (`{shown.strip()}`)" if shown else ""
        )
    except (ValueError, RecursionError) as exc:
        return f"the result does not parse: {exc}"
    return None


def _is_redefining(node: ast.AST) -> bool:
    decorators = getattr(node, "decorator_list", [])
    return any(ast.unparse(d).split("(")[0].rsplit(".", 1)[-1] in _REDEFINING_DECORATORS for d in decorators)


def _definitions(text: str) -> Counter[str]:
    """Module- and class-level function and class names, each counted once per definition."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return Counter()
    names: Counter[str] = Counter()

    def visit(body: Sequence[ast.stmt], scope: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if not _is_redefining(node):
                    names[scope + node.name] += 1
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{scope}{node.name}.")

    visit(tree.body, "")
    return names


def _error_findings(relative: str, path: str, text: str, context: Any, settings: Settings) -> Counter[str]:
    from pyengineer.engine.analyze import analyze
    from pyengineer.engine.source import ParsedSource

    source = ParsedSource(path, text, relative)
    return Counter(
        f"{f.code}: {f.message}" for f in analyze(source, context, settings) if f.severity == Severity.ERROR
    )


def verify_change(
    change: FileChange, settings: Settings, context: Mapping[str, Any] | None = None
) -> tuple[str, list[str]]:
    """(the file's new text, the problems with it); no problems means the edits may be offered."""
    try:
        after = apply_text_edits(change.before, change.edits)
    except PyengineerError as exc:
        return change.before, [str(exc)]
    problems: list[str] = []
    before_style, after_style = line_ending(change.before), line_ending(after)
    if after_style == "mixed" and before_style != "mixed":
        wanted = {"\r\n": "CRLF", "\n": "LF"}.get(before_style or "", "one style")
        problems.append(
            f"the result mixes line endings; the file uses {wanted}: write new_text with plain \\n"
        )
    if not change.relative.endswith(PYTHON_SUFFIXES):
        return after, problems
    syntax = _syntax_problem(after)
    if syntax is not None:
        return after, [*problems, syntax]
    before_names, after_names = _definitions(change.before), _definitions(after)
    twice = sorted(name for name, count in after_names.items() if count > max(before_names.get(name, 0), 1))
    if twice:
        problems.append(
            "the result defines " + ", ".join(f"`{n}`" for n in twice[:MAX_REPORTED]) + " more than once: "
            "old_text probably did not cover the whole definition being replaced"
        )
    workspace_context = _workspace_context(context)
    if workspace_context is not None:
        path = change.edits[0].path if change.edits else change.relative
        try:
            old = _error_findings(change.relative, path, change.before, workspace_context, settings)
            new = _error_findings(change.relative, path, after, workspace_context, settings)
        except Exception:  # the check itself failing must not block an edit it cannot judge; it is logged
            logger.exception(
                "checking the proposed edit of %s with pyengineer's rules failed", change.relative
            )
        else:
            introduced = sorted((new - old).elements())
            if introduced:
                problems.append(
                    "the result has new pyengineer errors: " + "; ".join(introduced[:MAX_REPORTED])
                )
    return after, problems


def _workspace_context(context: Mapping[str, Any] | None) -> Any:
    from pyengineer.workspace.context import WorkspaceContext

    if context is None:
        # Without the project's context, the rules that need none still judge the edit.
        return WorkspaceContext(root="", python_project=True, python_project_reason="")
    try:
        return WorkspaceContext.model_validate(context)
    except ValueError:
        logger.debug("the workspace context could not be read back for verification", exc_info=True)
        return None
