"""docs/architecture.md must match the code: every module of the package is named in its tables."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "server" / "pyengineer"


def _modules() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        # The pytest plugin the runner injects is a data file of the test runner, not a module of ours.
        if "pytest_progress/" in relative:
            continue
        found.append(relative)
    return found


def test_every_module_is_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for relative in _modules():
        folder, _, name = relative.rpartition("/")
        stem = name.removesuffix(".py")
        if relative in doc or (name == "__init__.py" and f"{folder}/" in doc):
            continue
        # A handler module is named in the row of its folder: `lsp/handlers/` | ... `stem` ...
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{folder}/`")), "")
        if folder and re.search(rf"`{re.escape(stem)}`", row):
            continue
        missing.append(relative)
    assert missing == [], f"modules not in docs/architecture.md: {missing}"
