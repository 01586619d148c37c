"""docs/rules.md for PE101 and PE201: the examples and the console output shown are what pyengineer does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyengineer.cli import main
from pyengineer.engine.registry import load_rules

from tests.repos import RepoFactory, write

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
FIRST_RULES = "PE1,PE2"


def section(code: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    rule = load_rules()[code]
    start = text.index(f"\n## {code} {rule.name}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def block(text: str, label: str, language: str = "python") -> str:
    match = re.search(
        rf"^\*\*{label}\*\*\n(?:[^\n]*\n)*?```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL
    )
    assert match, f"no {label} {language} block"
    return match.group(1)


def console(text: str) -> tuple[list[str], list[str]]:
    """The command and output lines of the first console block."""
    shown = re.search(r"```console\n\$ (.*?)\n(.*?)```", text, re.DOTALL)
    assert shown
    return shown.group(1).split()[1:], shown.group(2).splitlines()


def test_the_table_of_contents_links_every_documented_anchor() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code in ("PE101", "PE201"):
        rule = load_rules()[code]
        assert f"[{code}](#{code.lower()}-{rule.name})" in text
        assert rule.url.endswith(f"#{code.lower()}-{rule.name}")


def test_pe101_example(
    git_repo: RepoFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = section("PE101")
    repo = git_repo(commit=True)
    repo.write("app/routers/users.py", block(text, "Bad"))
    monkeypatch.chdir(repo.root)
    args, expected = console(text)
    assert main([*args, "--select", FIRST_RULES]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == expected
    suggested = re.search(r"suggested: (\S+)\)", expected[0])
    assert suggested
    repo.git("switch", "-q", "-c", suggested.group(1))
    repo.write("app/routers/users.py", block(text, "Good"))
    assert main(["check", "--select", FIRST_RULES]) == 0


def test_pe201_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = section("PE201")
    args, expected = console(text)
    write(tmp_path, args[-1], block(text, "Bad"))
    monkeypatch.chdir(tmp_path)
    # PE201 is info: shown, and failing the check only with --fail-on info.
    assert main([*args, "--select", FIRST_RULES]) == 0
    assert capsys.readouterr().out.splitlines()[:-1] == expected
    assert main([*args, "--select", FIRST_RULES, "--fail-on", "info"]) == 1
    capsys.readouterr()
    write(tmp_path, args[-1], block(text, "Good"))
    assert main([*args, "--select", FIRST_RULES, "--fail-on", "info"]) == 0


def test_pe201_after_the_handoff_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = section("PE201")
    after = text[text.index("**After the hand-off.**") :]
    args, expected = console(after)
    write(tmp_path, args[-1], block(text, "Bad"))
    write(tmp_path, "docs/handoffs/app-scoring.md", "# Hand-off to ai-engineer\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "scoring"\n')  # the project root holds docs/
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--select", FIRST_RULES, "--fail-on", "info"]) == 0  # a hint now
    assert capsys.readouterr().out.splitlines()[:-1] == expected
