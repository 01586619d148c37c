"""PE802: secrets written into the source.

Detection is `pyengineer.redaction.find_secrets`, the one detector the agent also uses to redact what it sends,
so a secret is recognised the same way everywhere. This rule only places the matches and suggests where the
value should come from in this project.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from pyengineer.engine.import_edits import need_module
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.source import ParsedSource
from pyengineer.engine.syntax import SyntaxIndex, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Range, Severity
from pyengineer.redaction import ASSIGNMENT_KIND, SecretMatch, find_secrets
from pyengineer.workspace.imports import line_ending


class _Offsets:
    """Convert string offsets of a text to (0-based line, code-point column)."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        for i, char in enumerate(text):
            if char == "\n":
                self.starts.append(i + 1)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]


def _env_name(match: SecretMatch) -> str:
    base = (match.name or match.kind).rsplit(".", 1)[-1]
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base)
    return re.sub(r"\W+", "_", base).strip("_").upper() or "SECRET"


def _literal_at(index: SyntaxIndex, start: tuple[int, int], end: tuple[int, int]) -> ast.Constant | None:
    """The string literal that holds the secret found from `start` to `end` ((line, column) pairs), if any."""
    for node in index.of_type(ast.Constant):
        if not isinstance(node.value, str):
            continue
        span = index.range(node)
        if (span.start.line, span.start.character) <= start and end <= (span.end.line, span.end.character):
            parent = index.parent(node)
            return None if isinstance(parent, ast.JoinedStr) else node
    return None


def _scanned(source: ParsedSource) -> tuple[str, int]:
    """The text to look for secrets in and its first line: the whole file, or the lines a rule re-run is
    focused on (an edit inside one function re-checks that function alone)."""
    if source.focus is None:
        return source.text, 0
    end = line_ending(source.text)
    if not end:
        return source.text, 0  # mixed line ends: the lines alone cannot rebuild the text; scan it all
    first, last = source.focus
    return end.join(source.lines[first - 1 : last]) + end, first - 1


def _where_from(inp: RuleInput) -> str:
    if inp.context.uses("django"):
        return "read it from the environment in settings.py (`os.environ[...]`, or django-environ)"
    if "pydantic_settings" in inp.source.imported_top_levels:
        return "declare it as a field of your pydantic `BaseSettings` class and set it in the environment"
    if inp.context.uses("pydantic") and inp.context.uses("fastapi"):
        return "load it with pydantic-settings (`BaseSettings`) from the environment or a git-ignored `.env`"
    return "read it from the environment (`os.environ[...]`) or a secret manager"


def _is_test_file(relative: str) -> bool:
    path = PurePosixPath(relative)
    return path.name.startswith("test_") or path.name.endswith("_test.py") or "tests" in path.parts


@rule(
    "PE802",
    "hard-coded-secret",
    "A secret (API key, token, password) is written into the source",
    severity=Severity.ERROR,
    ruff_equivalent="S105, S106, S107",
    local=True,
)
def hard_coded_secret(inp: RuleInput) -> Iterator[Finding]:
    text, first_line = _scanned(inp.source)
    # Values found by the entropy test alone are redacted for the LLM but are not findings: too many are ids.
    matches = find_secrets(text, guesses=False)
    if not matches:
        return
    index = syntax_index(inp.source)
    offsets = _Offsets(text)
    in_tests = _is_test_file(inp.source.relative)
    for match in matches:
        line, col = offsets.position(match.start)
        end_line, end_col = offsets.position(match.end)
        line += first_line
        end_line += first_line
        what = f"assigned to `{match.name}`" if match.name else "in the code"
        kind = "" if match.kind == ASSIGNMENT_KIND else f" (looks like a {match.kind.replace('-', ' ')})"
        fixes: tuple[Fix, ...] = ()
        literal = _literal_at(index, (line, col), (end_line, end_col)) if index is not None else None
        variable = _env_name(match)
        if index is not None and literal is not None:
            os_module = need_module(index, "os")
            edits = [
                Edit(
                    path=inp.source.path,
                    range=index.range(literal),
                    new_text=f'{os_module.name}.environ["{variable}"]',
                )
            ]
            if os_module.edit is not None:
                edits.append(os_module.edit)
            fixes = (
                Fix(title=f'Read it from `os.environ["{variable}"]`', edits=tuple(edits), preferred=True),
            )
        yield Finding(
            code="PE802",
            message=(
                f"A hard-coded secret {what}{kind}: anyone who can read the repository can use it, and it stays "
                f"in git history. {_where_from(inp)[0].upper()}{_where_from(inp)[1:]}; if it was ever committed, "
                "rotate it."
            ),
            path=inp.source.path,
            range=Range.of(line, col, end_line, end_col),
            severity=Severity.WARNING if in_tests else Severity.ERROR,
            fixes=fixes,
            data={"kind": match.kind, "name": match.name, "variable": variable},
        )
