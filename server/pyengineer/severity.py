"""`Severity`: how serious a finding is; apart from findings.py, so that settings need no finding model."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"

    @property
    def rank(self) -> int:
        """Higher is more severe: error 3, warning 2, info 1, hint 0 (for `fail-on`)."""
        return _RANK[self]


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1, Severity.HINT: 0}
