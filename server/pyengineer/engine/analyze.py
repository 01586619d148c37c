"""analyze(): run the selected, relevant rules over one parsed document."""

from __future__ import annotations

import ast
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from pyengineer.config import Settings
from pyengineer.engine.noqa import suppressed
from pyengineer.engine.registry import Rule, RuleInput, selected_rules, severity_for
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.workspace.context import WorkspaceContext

log = logging.getLogger(__name__)

_ANY_NOQA = re.compile("noqa", re.IGNORECASE)


@dataclass(frozen=True)
class RuleFailure:
    """A rule that raised instead of finishing: its findings for the file are missing, so it is reported."""

    code: str
    name: str
    path: str  # absolute
    relative: str  # relative to the workspace root, posix
    line: int | None  # 1-based: the line of the syntax node the rule was on, when one can be told
    error: str  # "IndentationError: unexpected indent"
    cell: int | None = None  # in a notebook: the cell's index, and `line` is in the cell (notebooks.py)

    def describe(self) -> str:
        cell = f":cell {self.cell + 1}" if self.cell is not None else ""
        where = f"{self.relative}{cell}:{self.line}" if self.line else self.relative
        return f"rule {self.code} ({self.name}) failed on {where}: {self.error}"


# Called (in the analysing thread) with (key, message) for every problem that costs the user findings: a rule
# that raised, a broken baseline. The language server shows each key once per session and logs every one.
_problem_listeners: list[Callable[[str, str], None]] = []
_listeners_lock = threading.Lock()


def on_problem(listener: Callable[[str, str], None]) -> Callable[[], None]:
    """Call `listener(key, message)` for each problem from now on; returns the function that stops it."""
    with _listeners_lock:
        _problem_listeners.append(listener)

    def remove() -> None:
        with _listeners_lock:
            if listener in _problem_listeners:
                _problem_listeners.remove(listener)

    return remove


def report_problem(key: str, message: str) -> None:
    """Tell the listeners about a problem; `key` says which reports are the same problem ("rule PE701")."""
    with _listeners_lock:
        listeners = list(_problem_listeners)
    for listener in listeners:
        try:
            listener(key, message)
        except Exception:
            log.exception("reporting a problem failed")


def _failure_line(source: ParsedSource, tb: TracebackType | None) -> int | None:
    """The line of the innermost node of `source`'s own tree that a frame of the failing rule held.

    Only nodes of the document's tree count: a rule that re-parses a snippet holds nodes numbered from the
    snippet's first line, which would name the wrong place.
    """
    tree = source.tree
    if tree is None or tb is None:
        return None
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    own = {id(node) for node in ast.walk(tree)}
    for frame in reversed(frames[1:]):  # frames[0] is _run itself
        for value in frame.f_locals.values():
            if isinstance(value, ast.AST) and id(value) in own and hasattr(value, "lineno"):
                line: int = value.lineno
                return line
    return None


def _run(rule: Rule, inp: RuleInput, failures: list[RuleFailure]) -> list[Finding]:
    try:
        return list(rule.check(inp))
    except Exception as exc:
        # One broken rule must not take the others (or the server) down with it, but it is never hidden.
        source = inp.source.whole or inp.source
        failure = RuleFailure(
            code=rule.code,
            name=rule.name,
            path=source.path,
            relative=source.relative,
            line=_failure_line(source, exc.__traceback__),
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
        log.exception("%s", failure.describe())
        failures.append(failure)
        report_problem(
            f"rule {rule.code}",
            f"pyengineer: {failure.describe()}. Its findings are missing for this file; please report it "
            "(the traceback is in the pyengineer log).",
        )
        return []


@dataclass(frozen=True)
class Analysis:
    findings: list[Finding]  # what to show: sorted, noqa and severity settings applied
    # The raw findings of the `local` rules: an edit inside one function keeps those outside it.
    local: list[Finding]
    # The rules that raised on this run (their findings are missing from `findings`).
    failures: tuple[RuleFailure, ...] = ()
    # The raw findings of every rule that is not `late`, before noqa and severity settings: what the results
    # cache keeps (late rules read facts that change often, so they run again on every check).
    early: tuple[Finding, ...] = ()


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
    early: Iterable[Finding] | None = None,
) -> Analysis:
    """analyze(), keeping the local rules' findings apart.

    With `focus` (1-based first and last line of one module- or class-level function), the local rules run
    on that function alone and `kept` holds their findings everywhere else, taken from the previous version.
    With `kept` alone, the local rules do not run: `kept` is what they found.
    With `early` (an earlier Analysis.early of the same text, settings and facts: the results cache), no rule
    but the late ones runs.
    """
    if early is not None:
        # Only the late rules are asked whether they are relevant: that may parse the text, the very cost
        # the cache saves.
        failures: list[RuleFailure] = []
        found = list(early)
        late_input = RuleInput(
            source=source, context=context, settings=settings, changed=changed, prior=tuple(found)
        )
        late_rules = [r for r in selected_rules(settings) if r.late and r.relevant(context, source)]
        late = [f for rule in late_rules for f in _run(rule, late_input, failures)]
        return Analysis(
            findings=_finish(source, settings, found + late),
            local=[],
            failures=tuple(failures),
            early=tuple(found),
        )
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
    failures = []
    for rule in rules:
        if rule.late:
            continue
        if not rule.local:
            others.extend(_run(rule, inp, failures))
        elif focused is not None:
            local.extend(
                f for f in _run(rule, focused, failures) if first - 1 <= f.range.start.line <= last - 1
            )
        elif kept is None:
            local.extend(_run(rule, inp, failures))
        # else: `kept` is what the local rules found (the text and what they read are unchanged)
    findings = local + others
    prior = tuple(findings)
    late_input = RuleInput(source=source, context=context, settings=settings, changed=changed, prior=prior)
    for rule in rules:
        if rule.late:
            findings.extend(_run(rule, late_input, failures))
    return Analysis(
        findings=_finish(source, settings, findings), local=local, failures=tuple(failures), early=prior
    )


def _finish(source: ParsedSource, settings: Settings, findings: list[Finding]) -> list[Finding]:
    result = []
    # Most files hold no noqa comment at all: then no line needs splitting out to be looked at.
    noqa = _ANY_NOQA.search(source.text) is not None
    for finding in findings:
        if noqa and suppressed(source.line_text(finding.range.start.line), finding.code):
            continue
        severity = severity_for(finding.code, finding.severity, settings.severity)
        if severity != finding.severity:
            finding = finding.model_copy(update={"severity": severity})
        result.append(finding)
    result.sort(key=lambda f: (f.range.start.line, f.range.start.character, f.code))
    return result
