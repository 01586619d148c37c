"""The import direction between layers: each package imports only the layers below it.

Base (findings, lines, frameworks, errors, config) < git < workspace < engine < testing/actions/agent < the
front ends (lsp, mcp, cli). A module-level or a deferred (function-level) import counts the same: either
makes the lower layer depend on the upper one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "pyengineer"

FRONT_ENDS = ("pyengineer.lsp", "pyengineer.mcp", "pyengineer.cli", "pyengineer.session")
ABOVE_GIT = ("pyengineer.actions", "pyengineer.agent", "pyengineer.testing", *FRONT_ENDS)
FORBIDDEN = {
    "lines.py": ("pyengineer",),
    "frameworks.py": ("pyengineer",),
    "git": ("pyengineer.workspace", "pyengineer.engine", *ABOVE_GIT),
    "workspace": ("pyengineer.engine", *ABOVE_GIT),
    # PE901/PE902 are built from a test run's result: the engine may read testing's data, never run tests.
    "engine": ("pyengineer.actions", "pyengineer.agent", "pyengineer.testing.runner", *FRONT_ENDS),
    "testing": ("pyengineer.actions", "pyengineer.agent", *FRONT_ENDS),
}
ALLOWED = {"lines.py": ("pyengineer.findings",)}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    where = PACKAGE / layer
    files = [where] if where.suffix == ".py" else sorted(where.rglob("*.py"))
    leaks = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
        and name not in ALLOWED.get(layer, ())
    ]
    assert leaks == []
