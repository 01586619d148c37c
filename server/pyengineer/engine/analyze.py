"""analyze(): run the selected, relevant rules over one parsed document."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Analysis:
    findings: list[Finding]  # what to show: sorted, noqa and severity settings applied
    # The raw findings of the `local` rules: an edit inside one function keeps those outside it.
    local: list[Finding]


def analyze(
    source: ParsedSource,
    context: WorkspaceContext,
    settings: Settings,
    changed: bool = False,
) -> list[Finding]:
    """Every finding for `source`, sorted by position, with noqa and severity settings applied."""
    return analyze_parts(source, context, settings, changed).findings


def analyze_parts(
    source: ParsedSource,
    context: WorkspaceContext,
    settings: Settings,
    changed: bool = False,
    focus: tuple[int, int] | None = None,
    kept: Iterable[Finding] | None = None,
) -> Analysis:
    """analyze(), keeping the local rules' findings apart.

    With `focus` (1-based first and last line of one module- or class-level function), the local rules run
    on that function alone and `kept` holds their findings everywhere else, taken from the previous version.
    With `kept` alone, the local rules do not run: `kept` is what they found.
    """
    rules = [r for r in selected_rules(settings) if r.relevant(context, source)]
    inp = RuleInput(source=source, context=context, settings=settings, changed=changed)
    focused: RuleInput | None = None
    first = last = 0
    if focus is not None:
        first, last = focus
        focused = RuleInput(
            source=source.focused(first, last), context=context, settings=settings, changed=changed
        )
    local: list[Finding] = list(kept or ())
    others: list[Finding] = []
    for rule in rules:
        if rule.late:
            continue
        if not rule.local:
            others.extend(_run(rule, inp))
        elif focused is not None:
            local.extend(f for f in _run(rule, focused) if first - 1 <= f.range.start.line <= last - 1)
        elif kept is None:
            local.extend(_run(rule, inp))
        # else: `kept` is what the local rules found (the text and what they read are unchanged)
    findings = local + others
    late_input = RuleInput(
        source=source, context=context, settings=settings, changed=changed, prior=tuple(findings)
    )
    for rule in rules:
        if rule.late:
            findings.extend(_run(rule, late_input))
    return Analysis(findings=_finish(source, settings, findings), local=local)


def _finish(source: ParsedSource, settings: Settings, findings: list[Finding]) -> list[Finding]:
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
