"""The rule table: every rule's code, name, default severity, relevance test and docs link."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pyengineer.config import Settings
from pyengineer.engine.source import ParsedSource
from pyengineer.errors import did_you_mean
from pyengineer.findings import Finding, Fix, Range, Related, Severity
from pyengineer.workspace.context import WorkspaceContext

DOCS_URL = "https://github.com/pyengineer/pyengineer/blob/main/docs/rules.md"
# A finding's message is one plain sentence that fits the Problems panel and Neovim's virtual text; the why and
# the how go in its `detail` (tests/engine/test_messages.py holds every rule to this).
MAX_MESSAGE = 100


@dataclass(frozen=True)
class RuleInput:
    """What a rule sees: the document, the workspace, the settings, and what is known about the edit."""

    source: ParsedSource
    context: WorkspaceContext
    settings: Settings
    changed: bool = False  # the user is changing this file (edited in the editor, or dirty in git)
    prior: tuple[Finding, ...] = ()  # findings of the rules that ran before (for `late` rules)

    def report(
        self,
        code: str,
        *,
        range: Range,
        message: str,
        severity: Severity | None = None,
        fixes: Iterable[Fix] = (),
        data: dict[str, Any] | None = None,
        related: Iterable[Related] = (),
        detail: str = "",
    ) -> Finding:
        """A finding of rule `code` on this document: `finding` with the document's path."""
        return finding(
            code,
            self.source.path,
            range,
            message,
            severity=severity,
            fixes=fixes,
            data=data,
            related=related,
            detail=detail,
        )


Check = Callable[[RuleInput], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: Severity
    check: Check
    # The rule only runs when the workspace uses one of these (empty: always relevant).
    frameworks: frozenset[str] = field(default_factory=frozenset)
    # Late rules run after the others and see their findings (PE101 names a fix/ branch after an error).
    late: bool = False
    # True when ruff has an equivalent rule; docs say which, and users may turn ours off.
    ruff_equivalent: str | None = None
    # Local rules: what they report inside a module- or class-level function depends only on that function
    # and on the module outside function bodies (imports, module-level assignments, signatures, class
    # attributes). After an edit inside one function body the engine re-runs them on that function alone and
    # keeps their other findings. A rule that reads other functions' bodies must not be local (PE402 counts
    # every endpoint) or must declare what it reads as a `body_fact` (see engine/syntax.py).
    local: bool = False
    # Opt-in rules (False) run only when `select` names their exact code: the rules whose measured precision
    # on the real-code corpus (bench/precision, docs/rules.md "Measured precision") is under 90%.
    default: bool = True

    @property
    def url(self) -> str:
        return f"{DOCS_URL}#{self.code.lower()}-{self.name}"

    def relevant(self, context: WorkspaceContext, source: ParsedSource) -> bool:
        if not self.frameworks:
            return True
        return bool(self.frameworks & set(context.frameworks)) or bool(
            self.frameworks & source.imported_top_levels
        )


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    summary: str,
    severity: Severity = Severity.WARNING,
    frameworks: Iterable[str] = (),
    late: bool = False,
    ruff_equivalent: str | None = None,
    local: bool = False,
    default: bool = True,
) -> Callable[[Check], Check]:
    """Register a check function under `code`."""

    def register(check: Check) -> Check:
        if code in RULES:
            raise ValueError(f"rule code {code} registered twice")
        if local and late:
            raise ValueError(f"rule {code}: a late rule sees every finding, so it cannot be local")
        RULES[code] = Rule(
            code, name, summary, severity, check, frozenset(frameworks), late, ruff_equivalent, local, default
        )
        return check

    return register


def finding(
    code: str,
    path: str,
    range: Range,
    message: str,
    *,
    severity: Severity | None = None,
    fixes: Iterable[Fix] = (),
    data: dict[str, Any] | None = None,
    related: Iterable[Related] = (),
    detail: str = "",
) -> Finding:
    """A finding of the registered rule `code`, with the rule's default severity.

    Every rule reports through this (most through `RuleInput.report`), so a code's severity is written once, in
    its `@rule`. `severity` is for a rule that lowers its own default for a reason it states (PE201 on imports
    seen only by the type checker, PE802 in test code); `settings.severity` is applied later, by the caller.
    A code that is not registered is a programming error: KeyError.
    """
    registered = RULES[code]
    return Finding(
        code=code,
        message=message,
        path=path,
        range=range,
        severity=registered.severity if severity is None else severity,
        fixes=tuple(fixes),
        data=data if data is not None else {},
        related=tuple(related),
        detail=detail,
    )


def is_selected(code: str, select: Iterable[str], ignore: Iterable[str], default: bool = True) -> bool:
    """ruff-style selection: a code runs if a select prefix matches (or none is given) and no ignore does.

    An opt-in rule (`default=False`) runs only when `select` names its exact code: `select = ["PE"]` does not
    turn on every rule that was left off for measured imprecision."""
    select = tuple(select)
    if not default:
        if code not in select:
            return False
    elif select and not any(code.startswith(prefix) for prefix in select):
        return False
    return not any(code.startswith(prefix) for prefix in ignore)


def severity_for(code: str, default: Severity, overrides: dict[str, Severity]) -> Severity:
    """The configured severity: the longest matching code prefix wins."""
    best = ""
    for prefix in overrides:
        if code.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return overrides[best] if best else default


def load_rules() -> dict[str, Rule]:
    """The registry with every rule module imported."""
    from pyengineer.engine import rules  # noqa: F401  (importing registers the rules)

    return RULES


def unknown_code(code: str) -> str | None:
    """Why `code` selects no rule (with the nearest real code), or None when it is a rule code or a prefix of one."""
    codes = load_rules()
    if any(known.startswith(code) for known in codes):
        return None
    # Letters typed for the digits they look like (PE30l, PE1O1) are the usual slip: suggest those first.
    lookalike = code[:2] + code[2:].translate(str.maketrans("LIO", "110"))
    if lookalike != code and any(known.startswith(lookalike) for known in codes):
        return f"unknown rule code '{code}' (did you mean '{lookalike}'?)"
    return f"unknown rule code '{code}'{did_you_mean(code, codes)}"


def rule_for(code: str) -> Rule | None:
    return load_rules().get(code)


# (select, ignore) -> (the registry's rules when computed, the selected ones). `check` asks once or twice per
# file with the same settings; the registry is compared by identity, so a rule registered later (tests do)
# is never missed.
_SELECTED: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}


def selected_rules(settings: Settings) -> list[Rule]:
    rules = tuple(load_rules().values())
    key = (tuple(settings.select), tuple(settings.ignore))
    known = _SELECTED.get(key)
    if known is not None and len(known[0]) == len(rules) and all(map(operator.is_, known[0], rules)):
        return list(known[1])
    selected = tuple(r for r in rules if is_selected(r.code, key[0], key[1], r.default))
    if len(_SELECTED) > 64:
        _SELECTED.clear()
    _SELECTED[key] = (rules, selected)
    return list(selected)
