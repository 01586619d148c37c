"""Render findings for terminals and machines: text like ruff, a stable JSON schema, and SARIF 2.1.0."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyengineer import __version__
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


def render_text(findings: Sequence[Finding]) -> str:
    lines = [f"{display_path(f.path)}:{f.line + 1}:{f.column + 1}: {f.code} {f.message}" for f in findings]
    fixable = sum(1 for f in findings if any(fix.safe and fix.edits for fix in f.fixes))
    if findings:
        summary = f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''}"
        summary += f" ({fixable} fixable with --fix)." if fixable else "."
        lines.append(summary)
    else:
        lines.append("All checks passed!")
    return "\n".join(lines) + "\n"


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


def render_json(findings: Sequence[Finding]) -> str:
    return (
        json.dumps(
            {
                "version": JSON_SCHEMA_VERSION,
                "tool": {"name": "pyengineer", "version": __version__},
                "findings": [finding_json(f) for f in findings],
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


def render_sarif(findings: Sequence[Finding]) -> str:
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
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": sarif_uri(f.path)},
                            "region": {
                                "startLine": f.range.start.line + 1,
                                "startColumn": f.range.start.character + 1,
                                "endLine": f.range.end.line + 1,
                                "endColumn": f.range.end.character + 1,
                            },
                        }
                    }
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
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
