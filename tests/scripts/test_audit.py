"""scripts/audit: one plain verdict, which says whether anything was audited at all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AUDIT = REPO / "scripts" / "audit"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def _has_pip_audit() -> bool:
    if not VENV_PYTHON.is_file():
        return False
    found = subprocess.run([str(VENV_PYTHON), "-m", "pip_audit", "--version"], capture_output=True)
    return found.returncode == 0


pytestmark = pytest.mark.skipif(
    os.name != "posix" or not _has_pip_audit(), reason="scripts/audit needs bash and pip-audit in .venv"
)


def _audit(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AUDIT)], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def test_an_unreachable_advisory_service_says_nothing_was_audited() -> None:
    # A real pip-audit whose every request meets a closed port: no package can be checked.
    closed = "http://127.0.0.1:9"
    result = _audit(
        {"HTTPS_PROXY": closed, "HTTP_PROXY": closed, "https_proxy": closed, "http_proxy": closed}
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "NOTHING WAS AUDITED" in result.stderr
    assert "No known vulnerabilities" not in output and "no known vulnerabilities" not in output


def test_the_verdict_is_never_both_clean_and_unaudited() -> None:
    """Whatever the network allows here: audited packages get a count and a verdict; none audited gets only
    NOTHING WAS AUDITED (pip-audit's own "No known vulnerabilities found" used to come first)."""
    result = _audit()
    output = result.stdout + result.stderr
    assert "No known vulnerabilities found" not in output
    if result.returncode == 3:
        assert "NOTHING WAS AUDITED" in result.stderr and "vulnerabilities" not in output
    else:
        assert result.returncode in (0, 1), output
        assert "packages audited" in result.stdout and "NOTHING WAS AUDITED" not in output
