"""`pyengineer --version` and `--help` start as fast as a script can: nothing heavy is imported to answer them.

Which modules a real process imports is read from `python -X importtime` (not timed: the bench times it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Each costs tens to hundreds of milliseconds to import, and neither answer needs any of them.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "anthropic",
    "pyengineer.engine",
    "pyengineer.config",
    "pyengineer.agent",
)
HEAVY_FOR_HELP = (*HEAVY, "pyengineer.actions", "pyengineer.workspace", "pyengineer.checking", "pathspec")


def imported_modules(*arguments: str) -> tuple[set[str], str]:
    """The modules `python -m pyengineer ARGUMENTS` imported, and what it printed."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pyengineer", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name)
    return modules, done.stdout


def heavy_among(modules: set[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy))


def test_version_imports_nothing_heavy() -> None:
    modules, printed = imported_modules("--version")
    assert printed.startswith("pyengineer ")
    assert "pyengineer.entry" in modules  # the importtime listing did see our own modules
    assert heavy_among(modules, (*HEAVY, "argparse", "pyengineer.cli")) == []


@pytest.mark.parametrize("arguments", [("--help",), ("-h",)])
def test_help_imports_no_model_no_engine_no_agent(arguments: tuple[str, ...]) -> None:
    modules, printed = imported_modules(*arguments)
    # Every command is still listed, ask and test included, from the help strings alone.
    for command in ("check", "context", "serve", "ask", "test"):
        assert f"    {command} " in printed
    assert "pyengineer.cli" in modules
    assert heavy_among(modules, HEAVY_FOR_HELP) == []


def test_ask_and_test_still_get_their_own_options() -> None:
    _, test_help = imported_modules("test", "--help")
    assert "--scope" in test_help and "--allow-no-tests" in test_help
    _, ask_help = imported_modules("ask", "--help")
    assert "--apply" in ask_help and "QUESTION" in ask_help


def test_context_outside_a_repository_imports_no_gitpython_engine_agent_or_pool(tmp_path: Path) -> None:
    """`pyengineer context` pays for what it prints: no GitPython where there is no `.git` (about 60 ms), no
    finding model (settings and the scan need none), no engine or agent, no TOML or ini parser where there is
    no such file, and its scan forks without multiprocessing or concurrent.futures (about 30 ms)."""
    (tmp_path / "app.py").write_text("import torch\n", encoding="utf-8")
    modules, printed = imported_modules("context", str(tmp_path))
    assert "torch" in printed
    assert "pyengineer.workspace.context" in modules
    unneeded = (
        "git",
        "pyengineer.findings",
        "pyengineer.engine",
        "pyengineer.agent",
        "anthropic",
        "multiprocessing",
        "concurrent",
        "tomllib",  # no TOML file in the folder: nothing to parse
        "configparser",
        "pathspec",  # no .gitignore and no `exclude`: no ignore pattern to compile
    )
    assert heavy_among(modules, unneeded) == []
