"""analyze(): run the selected, relevant rules over one parsed document."""

from __future__ import annotations

import logging

from pyengineer.config import Settings
from pyengineer.engine.noqa import suppressed
from pyengineer.engine.registry import Rule, RuleInput, selected_rules, severity_for
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.workspace.context import WorkspaceContext

log = logging.getLogger(__name__)


def _run(rule: Rule, inp: RuleInput) -> list[Finding]:
    try:
        return list(rule.check(inp))
    except Exception:
        # One broken rule must not take the others (or the server) down with it.
        log.exception("rule %s (%s) failed on %s", rule.code, rule.name, inp.source.path)
        return []


def analyze(
    source: ParsedSource,
    context: WorkspaceContext,
    settings: Settings,
    changed: bool = False,
) -> list[Finding]:
    """Every finding for `source`, sorted by position, with noqa and severity settings applied."""
    rules = [r for r in selected_rules(settings) if r.relevant(context, source)]
    inp = RuleInput(source=source, context=context, settings=settings, changed=changed)
    findings: list[Finding] = []
    for rule in rules:
        if not rule.late:
            findings.extend(_run(rule, inp))
    late_input = RuleInput(
        source=source, context=context, settings=settings, changed=changed, prior=tuple(findings)
    )
    for rule in rules:
        if rule.late:
            findings.extend(_run(rule, late_input))
    result = []
    for finding in findings:
        if suppressed(source.line_text(finding.range.start.line), finding.code):
            continue
        severity = severity_for(finding.code, finding.severity, settings.severity)
        if severity != finding.severity:
            finding = finding.model_copy(update={"severity": severity})
        result.append(finding)
    result.sort(key=lambda f: (f.range.start.line, f.range.start.character, f.code))
    return result
