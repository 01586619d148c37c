"""Rules report through the registry: the code's severity is written once, in its `@rule`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pyengineer.engine.registry import finding, load_rules
from pyengineer.findings import Range, Severity

RULES_DIR = Path(__file__).resolve().parents[2] / "server" / "pyengineer" / "engine" / "rules"


def test_a_finding_takes_the_registered_severity_unless_the_rule_lowers_it() -> None:
    rules = load_rules()
    for code in ("PE101", "PE403", "PE802", "PE901"):
        made = finding(code, "/p/a.py", Range.of(0, 0), "m")
        assert (made.code, made.severity, made.path) == (code, rules[code].severity, "/p/a.py")
    assert finding("PE802", "/p/a.py", Range.of(0, 0), "m", severity=Severity.WARNING).severity == "warning"
    with pytest.raises(KeyError):
        finding("PE999", "/p/a.py", Range.of(0, 0), "m")


@pytest.mark.parametrize("module", sorted(p.name for p in RULES_DIR.glob("*.py")))
def test_no_rule_builds_a_finding_itself_or_repeats_its_severity(module: str) -> None:
    tree = ast.parse((RULES_DIR / module).read_text(encoding="utf-8"))
    defaults = {code: rule.severity for code, rule in load_rules().items()}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        assert name != "Finding", f"{module}:{node.lineno} builds a Finding: report through inp.report"
        if name in ("report", "finding", "_reported") and node.args:
            code = node.args[0]
            severity = next((k.value for k in node.keywords if k.arg == "severity"), None)
            if isinstance(code, ast.Constant) and isinstance(severity, ast.Attribute):
                assert severity.attr.lower() != defaults[code.value].value, (
                    f"{module}:{node.lineno} repeats {code.value}'s registered severity"
                )
