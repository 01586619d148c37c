"""The rule engine: one parse, selection, severities, noqa, and a broken rule that must not break the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.noqa import suppressed
from pyengineer.engine.registry import (
    RULES,
    Rule,
    RuleInput,
    is_selected,
    load_rules,
    rule,
    severity_for,
)
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding, Range, Severity
from pyengineer.git.state import GitState
from pyengineer.workspace.context import WorkspaceContext

ON_MAIN = GitState(is_repo=True, branch="main", head="abc1234", protected=True, protected_pattern="main")
SOURCE = "import os\nimport torch  # an ML import\nfrom sklearn import svm\n"
# The first rules only: the rules pack (PE3xx and up) grows independently of these tests.
FIRST = Settings(select=("PE1", "PE2"))


def context(git: GitState = ON_MAIN, frameworks: tuple[str, ...] = ()) -> WorkspaceContext:
    return WorkspaceContext(
        root="/project", python_project=True, python_project_reason="test", frameworks=frameworks, git=git
    )


def source(text: str = SOURCE, relative: str = "app/model.py") -> ParsedSource:
    return ParsedSource(f"/project/{relative}", text, relative)


def codes(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in findings]


def test_first_rules_are_registered_with_their_docs_anchor() -> None:
    rules = load_rules()
    assert rules["PE101"].name == "protected-branch"
    assert rules["PE201"].name == "ml-boundary"
    assert rules["PE101"].url.endswith("docs/rules.md#pe101-protected-branch")
    assert rules["PE201"].url.endswith("docs/rules.md#pe201-ml-boundary")


def test_registering_a_code_twice_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyengineer.engine.registry.RULES", dict(RULES))
    with pytest.raises(ValueError, match="PE101 registered twice"):
        rule("PE101", "again", "duplicate")(lambda inp: ())


def test_findings_sorted_by_position() -> None:
    findings = analyze(source(), context(), FIRST, changed=True)
    assert codes(findings) == [("PE101", 0), ("PE201", 1)]  # PE201: one per file


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        ((), (), ["PE101", "PE201"]),
        (("PE1",), (), ["PE101"]),
        (("PE2",), (), ["PE201"]),
        (("PE",), ("PE20",), ["PE101"]),
        ((), ("PE101",), ["PE201"]),
        (("PE101", "PE201"), ("PE201",), ["PE101"]),
        (("PE09",), (), []),
    ],
)
def test_select_and_ignore_by_code_prefix(
    select: tuple[str, ...], ignore: tuple[str, ...], expected: list[str]
) -> None:
    settings = Settings(select=select, ignore=ignore)
    found = sorted(
        {f.code for f in analyze(source(), context(), settings, changed=True)} & {"PE101", "PE201"}
    )
    assert found == expected


@pytest.mark.parametrize(
    ("code", "select", "ignore", "selected"),
    [
        ("PE301", (), (), True),
        ("PE301", ("PE3",), (), True),
        ("PE301", ("PE30", "PE4"), ("PE301",), False),
        ("PE301", ("PE4",), (), False),
        ("PE301", (), ("PE",), False),
    ],
)
def test_is_selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...], selected: bool) -> None:
    assert is_selected(code, select, ignore) is selected


@pytest.mark.parametrize(
    ("select", "ignore", "selected"),
    [
        ((), (), False),
        (("PE",), (), False),
        (("PE5",), (), False),
        (("PE501",), (), True),
        (("PE501",), ("PE5",), False),
    ],
)
def test_opt_in_rule_runs_only_when_its_code_is_selected(
    select: tuple[str, ...], ignore: tuple[str, ...], selected: bool
) -> None:
    assert is_selected("PE501", select, ignore, default=False) is selected


def test_severity_overrides_longest_prefix_wins() -> None:
    overrides = {"PE": Severity.HINT, "PE2": Severity.ERROR, "PE201": Severity.WARNING}
    assert severity_for("PE201", Severity.INFO, overrides) == Severity.WARNING
    assert severity_for("PE202", Severity.INFO, overrides) == Severity.ERROR
    assert severity_for("PE101", Severity.INFO, overrides) == Severity.HINT
    assert severity_for("PE101", Severity.INFO, {}) == Severity.INFO


def test_severity_overrides_apply_to_findings() -> None:
    settings = FIRST.model_copy(update={"severity": {"PE2": Severity.ERROR}})
    findings = analyze(source(), context(), settings, changed=True)
    assert {f.code: f.severity for f in findings} == {"PE101": Severity.WARNING, "PE201": Severity.ERROR}


@pytest.mark.parametrize(
    ("comment", "suppressed_codes"),
    [
        ("# noqa", {"PE201", "PE101"}),
        ("# noqa: PE201", {"PE201"}),
        ("#noqa:PE201,PE999", {"PE201"}),
        ("# NOQA: pe201", {"PE201"}),
        ("# noqa: PE202", set()),
        ("# noqa: E501", set()),
        ("# no qa", set()),
        ("# some text # noqa: PE201 because", {"PE201"}),
    ],
)
def test_noqa_comments(comment: str, suppressed_codes: set[str]) -> None:
    for code in ("PE201", "PE101"):
        assert suppressed(f"import torch  {comment}", code) is (code in suppressed_codes)


def test_noqa_suppresses_findings_on_its_line_only() -> None:
    text = "import torch  # noqa: PE201\nimport jax\nimport keras  # noqa\n"
    findings = analyze(source(text), context(GitState()), FIRST)
    assert codes(findings) == [("PE201", 1)]


def test_noqa_after_a_form_feed_is_read_from_the_right_line() -> None:
    text = "x = 1\x0c\nimport torch  # noqa: PE201\nimport jax\n"
    findings = analyze(source(text), context(GitState()), FIRST)
    assert codes(findings) == [("PE201", 2)]


def test_coded_noqa_for_another_rule_does_not_suppress() -> None:
    text = "import torch  # noqa: PE101\n"
    assert codes(analyze(source(text), context(GitState()), FIRST)) == [("PE201", 0)]


def test_a_rule_that_raises_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(inp: RuleInput) -> Iterator[Finding]:
        yield Finding(code="PE091", message="half", path=inp.source.path, range=Range.of(0, 0))
        raise RuntimeError("rule bug")

    monkeypatch.setitem(RULES, "PE091", Rule("PE091", "broken", "always fails", Severity.ERROR, broken))
    with caplog.at_level(logging.ERROR, logger="pyengineer.engine.analyze"):
        findings = analyze(source(), context(), Settings(select=("PE1", "PE2", "PE091")), changed=True)
    assert codes(findings) == [("PE101", 0), ("PE201", 1)]  # nothing from the broken rule
    (record,) = caplog.records
    assert "PE091" in record.getMessage() and "app/model.py" in record.getMessage()
    assert record.exc_info is not None and "rule bug" in str(record.exc_info[1])


def test_framework_rules_run_only_where_the_framework_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def always(inp: RuleInput) -> Iterator[Finding]:
        yield Finding(code="PE092", message="x", path=inp.source.path, range=Range.of(0, 0))

    monkeypatch.setitem(
        RULES, "PE092", Rule("PE092", "django-only", "x", Severity.INFO, always, frozenset({"django"}))
    )
    settings = Settings(select=("PE092",))
    assert analyze(source("x = 1\n"), context(GitState()), settings) == []
    assert codes(analyze(source("x = 1\n"), context(GitState(), ("django",)), settings)) == [("PE092", 0)]
    assert codes(analyze(source("import django\n"), context(GitState()), settings)) == [("PE092", 0)]


def test_the_document_is_parsed_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = source()
    seen: list[int] = []

    def spy(inp: RuleInput) -> Iterator[Finding]:
        seen.append(id(inp.source.tree))
        return iter(())

    monkeypatch.setitem(RULES, "PE093", Rule("PE093", "spy-a", "x", Severity.INFO, spy))
    monkeypatch.setitem(RULES, "PE094", Rule("PE094", "spy-b", "x", Severity.INFO, spy))
    analyze(parsed, context(), Settings(select=("PE09",)))
    assert len(seen) == 2 and seen[0] == seen[1] == id(parsed.tree)


def test_a_file_that_does_not_parse_still_gets_findings() -> None:
    parsed = source("import torch\ndef broken(:\n")
    findings = analyze(parsed, context(), FIRST, changed=True)
    assert parsed.tree is None
    assert parsed.syntax_error is not None and "line 2" in parsed.syntax_error
    assert codes(findings) == [("PE101", 0), ("PE201", 0)]
