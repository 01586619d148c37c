"""`# noqa` and `# noqa: PE301, PE302` suppression comments, as ruff reads them."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def suppressed(line_text: str, code: str) -> bool:
    """True if `line_text` carries a noqa comment that covers `code`."""
    if "#" not in line_text:
        return False
    for match in _NOQA.finditer(line_text):
        codes = match.group("codes")
        if codes is None:
            return True
        if code.upper() in {c.strip().upper() for c in codes.split(",")}:
            return True
    return False
