"""docs/rules.md is the spec: `pyengineer check` finds exactly what it says on each rule's examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyengineer.checking import check_paths
from pyengineer.engine.registry import Rule, load_rules
from pyengineer.frameworks import BY_KEY

DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
_HEADING = re.compile(r"^## (PE\d{3}) ([a-z0-9-]+)\s*$", re.MULTILINE)
_BLOCK = re.compile(r"^\*\*(Bad|Good)\*\*\s*\n+```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sections(text: str) -> dict[str, tuple[str, str]]:
    """code -> (name in the heading, the section's text)."""
    found: dict[str, tuple[str, str]] = {}
    matches = list(_HEADING.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        found[match.group(1)] = (match.group(2), text[match.end() : end])
    return found


def examples(section: str) -> dict[str, str]:
    return {kind.lower(): code for kind, code in _BLOCK.findall(section)}


def _docs() -> str:
    if not DOCS.is_file():
        pytest.fail(f"{DOCS} is missing: every rule must be documented there")
    return DOCS.read_text(encoding="utf-8")


def test_every_rule_has_a_section_named_like_its_docs_anchor() -> None:
    documented = sections(_docs())
    for code, rule in load_rules().items():
        assert code in documented, f"docs/rules.md has no '## {code} {rule.name}' section"
        assert documented[code][0] == rule.name, (
            f"{code}: heading says {documented[code][0]}, rule is {rule.name}"
        )


def _checked_rules() -> list[Rule]:
    # PE1xx/PE2xx depend on git state and ML imports (their own tests cover their docs); PE9xx come from test runs.
    return [r for r in load_rules().values() if r.code[2] in "345678"]


def _project(root: Path, rule: Rule, code: str) -> Path:
    root.mkdir(parents=True)
    dependencies = ", ".join(
        f'"{BY_KEY[f].distributions[0]}"' for f in sorted(rule.frameworks) if f in BY_KEY
    )
    # PE501 speaks only where the project type-checks.
    mypy = "\n[tool.mypy]\nstrict = true\n" if rule.code.startswith("PE5") else ""
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "example"\ndependencies = [{dependencies}]\n{mypy}'
    )
    (root / "app").mkdir()
    (root / "app" / "example.py").write_text(code, encoding="utf-8")
    return root


@pytest.mark.parametrize("rule", _checked_rules(), ids=lambda r: r.code)
def test_check_finds_exactly_the_documented_code(rule: Rule, tmp_path: Path) -> None:
    documented = sections(_docs())
    assert rule.code in documented
    blocks = examples(documented[rule.code][1])
    assert set(blocks) == {"bad", "good"}, f"{rule.code} needs a **Bad** and a **Good** python example"
    for kind, code in blocks.items():
        compile(code, f"{rule.code}-{kind}", "exec")
        project = _project(tmp_path / kind, rule, code)
        # An opt-in rule runs when its exact code is selected; "PE" keeps every default rule on beside it.
        overrides: dict[str, object] | None = None if rule.default else {"select": ["PE", rule.code]}
        (checked,) = check_paths([project], overrides)
        found = sorted({f.code for f in checked.findings})
        if kind == "bad":
            assert found == [rule.code], f"{rule.code} bad example: expected only {rule.code}, got {found}"
        else:
            assert found == [], f"{rule.code} good example: expected nothing, got {found}"
