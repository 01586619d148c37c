"""PE802 hard-coded secrets, found by the shared detector in pyengineer.redaction."""

from __future__ import annotations

from pathlib import Path

from pyengineer.redaction import find_secrets

from tests.engine.rules.rule_harness import check, fixed_text

# Built at run time so that this test file does not itself hold a token-shaped literal.
STRIPE_LIKE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def test_secret_assignment_is_reported_and_moved_to_the_environment(tmp_path: Path) -> None:
    text = f'''"""Billing."""
import httpx

STRIPE_API_KEY = "{STRIPE_LIKE}"
TIMEOUT = 10
'''
    findings = check(tmp_path, "PE802", text, relative="billing/client.py")
    assert len(findings) == 1
    finding = findings[0]
    assert finding.data["name"] == "STRIPE_API_KEY"
    assert STRIPE_LIKE not in finding.message  # never repeat the secret
    # The range is exactly the secret value the shared detector found.
    match = find_secrets(Path(finding.path).read_text())[0]
    line_text = text.splitlines()[finding.line]
    assert line_text[finding.range.start.character : finding.range.end.character] == STRIPE_LIKE
    assert (match.end - match.start) == len(STRIPE_LIKE)
    fix = finding.fixes[0]
    assert not fix.safe
    assert (
        fixed_text(finding)
        == '''"""Billing."""
import os

import httpx

STRIPE_API_KEY = os.environ["STRIPE_API_KEY"]
TIMEOUT = 10
'''
    )


def test_password_keyword_argument_and_pydantic_settings_advice(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE802",
        """
        import os

        from pydantic_settings import BaseSettings


        def connect():
            return make_engine(user="app", password="Tr0ub4dor&3x")
        """,
    )
    assert len(findings) == 1
    assert "BaseSettings" in findings[0].message
    assert 'password=os.environ["PASSWORD"]' in fixed_text(findings[0])


def test_placeholders_environment_reads_and_plain_names_are_fine(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE802",
        """
        import os

        API_KEY = os.environ["API_KEY"]
        PASSWORD = "changeme"
        SECRET_KEY = ""
        TOKEN_URL = "https://example.com/oauth/token"
        primary_key = "id"
        """,
    )
    assert findings == []


def test_secrets_in_tests_are_warnings_not_errors(tmp_path: Path) -> None:
    findings = check(tmp_path, "PE802", f'API_TOKEN = "{STRIPE_LIKE}"\n', relative="tests/test_billing.py")
    assert [f.severity.value for f in findings] == ["warning"]
