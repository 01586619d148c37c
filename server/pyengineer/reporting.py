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
from pyengineer.findings import Finding, Fix, Severity

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
    """`path:line:column: CODE [severity] message`, line and column 1-based."""
    return (
        f"{display_path(finding.path)}:{finding.line + 1}:{finding.column + 1}: "
        f"{finding.code} [{finding.severity.value}] {finding.message}"
    )


def render_text(findings: Sequence[Finding], failures: Sequence[RuleFailure] = (), baselined: int = 0) -> str:
    """One line per finding, then a summary. "All checks passed!" only when every rule ran and found nothing."""
    lines = [text_line(f) for f in findings]
    fixable = sum(1 for f in findings if any(fix.safe and fix.edits for fix in f.fixes))
    notes = []
    if fixable:
        notes.append(f"{fixable} fixable with --fix")
    if baselined:
        notes.append(f"{baselined} more in the baseline")
    if findings:
        summary = f"Found {_plural(len(findings), 'finding')}" + (f" ({', '.join(notes)})." if notes else ".")
    elif failures:
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
    return "\n".join(lines) + "\n"


def failure_json(failure: RuleFailure) -> dict[str, Any]:
    return {
        "code": failure.code,
        "name": failure.name,
        "path": failure.path,
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
        "detail": finding.detail,
        "severity": finding.severity.value,
        "path": finding.path,
        "start": {"line": finding.range.start.line + 1, "column": finding.range.start.character + 1},
        "end": {"line": finding.range.end.line + 1, "column": finding.range.end.character + 1},
        "url": rule.url if rule else None,
        "fixes": [_fix_json(fix) for fix in finding.fixes],
        "related": [
            {
                "path": r.path,
                "start": {"line": r.range.start.line + 1, "column": r.range.start.character + 1},
                "end": {"line": r.range.end.line + 1, "column": r.range.end.character + 1},
                "message": r.message,
            }
            for r in finding.related
        ],
    }


def render_json(findings: Sequence[Finding], failures: Sequence[RuleFailure] = (), baselined: int = 0) -> str:
    return (
        json.dumps(
            {
                "version": JSON_SCHEMA_VERSION,
                "tool": {"name": "pyengineer", "version": __version__},
                "findings": [finding_json(f) for f in findings],
                "rule_failures": [failure_json(f) for f in failures],
                "baselined": baselined,
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


def _sarif_invocation(failures: Sequence[RuleFailure]) -> dict[str, Any]:
    """The run's invocation: not successful, with one error notification each, when a rule failed."""
    notifications = []
    for failure in failures:
        notification: dict[str, Any] = {
            "level": "error",
            "message": {"text": failure.describe()},
            "descriptor": {"id": failure.code},
        }
        if failure.line:
            notification["locations"] = [_sarif_location(failure.path, failure.line, 1, failure.line, 1)]
        notifications.append(notification)
    invocation: dict[str, Any] = {"executionSuccessful": not failures}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def render_sarif(
    findings: Sequence[Finding], failures: Sequence[RuleFailure] = (), baselined: int = 0
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
    for f in findings:
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": rule_index[f.code],
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    _sarif_location(
                        f.path,
                        f.range.start.line + 1,
                        f.range.start.character + 1,
                        f.range.end.line + 1,
                        f.range.end.character + 1,
                    )
                ],
            }
        )
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
                "invocations": [_sarif_invocation(failures)],
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
