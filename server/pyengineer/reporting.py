"""Render findings for terminals and machines: text like ruff, a stable JSON schema, and SARIF 2.1.0."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyengineer import __version__
from pyengineer.engine.analyze import RuleFailure
from pyengineer.engine.registry import load_rules
from pyengineer.findings import Finding, Fix, Range, Severity
from pyengineer.notebooks import Notebook, NotebookError, json_position, read_notebook

JSON_SCHEMA_VERSION = 1
_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def display_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def text_line(finding: Finding) -> str:
    """`path:line:column: CODE [severity] message`, line and column 1-based; in a notebook
    `path:cell N:line:column: ...` (N counts every cell of the notebook from 1, line and column are in the cell)."""
    cell = f"cell {finding.cell + 1}:" if finding.cell is not None else ""
    return (
        f"{display_path(finding.path)}:{cell}{finding.line + 1}:{finding.column + 1}: "
        f"{finding.code} [{finding.severity.value}] {finding.message}"
    )


def _cell(cell: int | None) -> int | None:
    """The 1-based cell number shown for a notebook position (the models hold the 0-based index)."""
    return cell + 1 if cell is not None else None


def render_text(
    findings: Sequence[Finding],
    failures: Sequence[RuleFailure] = (),
    baselined: int = 0,
    problems: Sequence[str] = (),
) -> str:
    """One line per finding, then a summary. "All checks passed!" only when every rule ran and found nothing
    and every file could be read (`problems`: the files that could not be, such as a malformed notebook)."""
    lines = [text_line(f) for f in findings]
    fixable = sum(1 for f in findings if any(fix.safe and fix.edits for fix in f.fixes))
    notes = []
    if fixable:
        notes.append(f"{fixable} fixable with --fix")
    if baselined:
        notes.append(f"{baselined} more in the baseline")
    if findings:
        summary = f"Found {_plural(len(findings), 'finding')}" + (f" ({', '.join(notes)})." if notes else ".")
    elif failures or problems:
        summary = "No findings" + (f" ({', '.join(notes)})" if notes else "")
    else:
        summary = "All checks passed!" + (f" ({', '.join(notes)})" if notes else "")
    lines.append(summary)
    if failures:
        rules = sorted({f.code for f in failures})
        lines.append(
            f"{_plural(len(rules), 'rule')} failed to run ({', '.join(rules)}): their findings are missing; "
            "see the errors on stderr."
        )
    if problems:
        lines.append(f"{_plural(len(problems), 'file')} could not be checked; see the errors on stderr.")
    return "\n".join(lines) + "\n"


def failure_json(failure: RuleFailure) -> dict[str, Any]:
    return {
        "code": failure.code,
        "name": failure.name,
        "path": failure.path,
        "cell": _cell(failure.cell),
        "line": failure.line,
        "error": failure.error,
    }


def _fix_json(fix: Fix) -> dict[str, Any]:
    return {
        "title": fix.title,
        "safe": fix.safe,
        "command": fix.command,
        "arguments": list(fix.arguments),
        "edits": [
            {
                "path": e.path,
                "cell": _cell(e.cell),
                "start": {"line": e.range.start.line + 1, "column": e.range.start.character + 1},
                "end": {"line": e.range.end.line + 1, "column": e.range.end.character + 1},
                "new_text": e.new_text,
            }
            for e in fix.edits
        ],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    rule = load_rules().get(finding.code)
    return {
        "code": finding.code,
        "name": rule.name if rule else None,
        "message": finding.message,
        "severity": finding.severity.value,
        "path": finding.path,
        # In a notebook: the cell's number (1-based, every cell counted), and start/end are in the cell.
        "cell": _cell(finding.cell),
        "start": {"line": finding.range.start.line + 1, "column": finding.range.start.character + 1},
        "end": {"line": finding.range.end.line + 1, "column": finding.range.end.character + 1},
        "url": rule.url if rule else None,
        "fixes": [_fix_json(fix) for fix in finding.fixes],
        "related": [
            {
                "path": r.path,
                "cell": _cell(r.cell),
                "start": {"line": r.range.start.line + 1, "column": r.range.start.character + 1},
                "end": {"line": r.range.end.line + 1, "column": r.range.end.character + 1},
                "message": r.message,
            }
            for r in finding.related
        ],
    }


def render_json(
    findings: Sequence[Finding],
    failures: Sequence[RuleFailure] = (),
    baselined: int = 0,
    problems: Sequence[str] = (),
) -> str:
    return (
        json.dumps(
            {
                "version": JSON_SCHEMA_VERSION,
                "tool": {"name": "pyengineer", "version": __version__},
                "findings": [finding_json(f) for f in findings],
                "rule_failures": [failure_json(f) for f in failures],
                "baselined": baselined,
                "file_errors": list(problems),
            },
            indent=2,
        )
        + "\n"
    )


def sarif_uri(path: str) -> str:
    """A SARIF artifact URI: relative to the current folder when inside it (as code scanning wants), else file://."""
    shown = display_path(path)
    if os.path.isabs(shown):
        return Path(shown).as_uri()
    return quote(shown.replace(os.sep, "/"), safe="/")


def _sarif_location(path: str, line: int, column: int, end_line: int, end_column: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": sarif_uri(path)},
            "region": {
                "startLine": line,
                "startColumn": column,
                "endLine": end_line,
                "endColumn": end_column,
            },
        }
    }


def _sarif_invocation(failures: Sequence[RuleFailure], problems: Sequence[str] = ()) -> dict[str, Any]:
    """The run's invocation: not successful, with one error notification each, when a rule failed or a file
    could not be checked."""
    notifications: list[dict[str, Any]] = [{"level": "error", "message": {"text": p}} for p in problems]
    for failure in failures:
        notification: dict[str, Any] = {
            "level": "error",
            "message": {"text": failure.describe()},
            "descriptor": {"id": failure.code},
        }
        if failure.line and failure.cell is None:  # a notebook's cell line is not a line of its file
            notification["locations"] = [_sarif_location(failure.path, failure.line, 1, failure.line, 1)]
        notifications.append(notification)
    invocation: dict[str, Any] = {"executionSuccessful": not failures and not problems}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


class _NotebookRegions:
    """SARIF regions of notebook findings: lines and columns of the notebook's JSON file (every viewer opens
    an artifact as text), where the cell's source line is written; the cell and its own line and column are
    the result's properties."""

    def __init__(self) -> None:
        self._notebooks: dict[str, Notebook | None] = {}

    def location(self, path: str, cell: int, rng: Range) -> tuple[dict[str, Any], dict[str, Any]]:
        notebook = self._notebooks.get(path, ...)
        if notebook is ...:
            try:
                notebook = read_notebook(path, warn=False)
            except (OSError, NotebookError):
                notebook = None
            self._notebooks[path] = notebook
        start = end = (1, 1)
        if isinstance(notebook, Notebook):
            start = json_position(notebook, cell, rng.start.line, rng.start.character)
            end = json_position(notebook, cell, rng.end.line, rng.end.character)
        properties = {
            "notebookCell": cell + 1,
            "cellStartLine": rng.start.line + 1,
            "cellStartColumn": rng.start.character + 1,
            "cellEndLine": rng.end.line + 1,
            "cellEndColumn": rng.end.character + 1,
        }
        return _sarif_location(path, start[0], start[1], end[0], end[1]), properties


def render_sarif(
    findings: Sequence[Finding],
    failures: Sequence[RuleFailure] = (),
    baselined: int = 0,
    problems: Sequence[str] = (),
) -> str:
    rules = load_rules()
    used = sorted({f.code for f in findings} | set(rules))
    rule_index = {code: i for i, code in enumerate(used)}
    driver_rules = []
    for code in used:
        rule = rules.get(code)
        descriptor: dict[str, Any] = {
            "id": code,
            "name": rule.name if rule else code,
            "shortDescription": {"text": rule.summary if rule else code},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity] if rule else "warning"},
        }
        if rule:
            descriptor["helpUri"] = rule.url  # SARIF omits absent properties; null is invalid
        driver_rules.append(descriptor)
    results = []
    regions = _NotebookRegions()
    for f in findings:
        properties: dict[str, Any] | None = None
        if f.cell is not None:
            location, properties = regions.location(f.path, f.cell, f.range)
        else:
            location = _sarif_location(
                f.path,
                f.range.start.line + 1,
                f.range.start.character + 1,
                f.range.end.line + 1,
                f.range.end.character + 1,
            )
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": rule_index[f.code],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [location],
        }
        if properties is not None:
            result["properties"] = properties
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pyengineer",
                        "version": __version__,
                        "informationUri": "https://github.com/pyengineer/pyengineer",
                        "rules": driver_rules,
                    }
                },
                "invocations": [_sarif_invocation(failures, problems)],
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
