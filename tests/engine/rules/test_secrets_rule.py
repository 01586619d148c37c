"""PE802 hard-coded secrets, found by the shared detector in pyengineer.redaction."""

from __future__ import annotations

from pathlib import Path

from pyengineer.redaction import find_secrets

from tests.engine.rules.rule_harness import check, fixed_text

# Built at run time so that this test file does not itself hold a token-shaped literal.
STRIPE_LIKE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI_LIKE = "sk-" + "1234567890abcdefghijklmnopqrstuvwxyz"


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
    assert STRIPE_LIKE not in finding.message + finding.detail  # never repeat the secret
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
    assert "BaseSettings" in findings[0].detail
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


def test_names_of_keys_and_fields_are_not_secrets(tmp_path: Path) -> None:
    # From the corpus (bench/corpus/labels/PE802.jsonl): `*_KEY` constants that name a dict key, a config field
    # or an environment variable, and a template path on a `password_*` attribute.
    findings = check(
        tmp_path,
        "PE802",
        """
        API_ADD_TITLE_RES_KEY = "add_title"
        CLIENT_SECRET = "client_secret"
        _TOKEN_USAGE_METADATA_KEY = "mlflow.trace.tokenUsage"
        CACHE_CREATION_INPUT_TOKEN_KEY = "llm.token_count.prompt_details.cache_write"


        class Loader:
            context_key = "permission_by_codename"
            addr_key = "MASTER_ADDR"
            password_required_template = "tests/event_page_password_required.html"
        """,
    )
    assert findings == []


def test_variables_prose_comments_and_protocol_constants_are_not_secrets(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE802",
        '''
        """Log in with `pass = hunter22` only on a dev box."""

        # SQLALCHEMY_DATABASE_URI = 'postgresql://scott:s3cr3tpw@db.internal:5432/myapp'
        WS_KEY = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's GUID, public
        DEMO_URL = "postgresql://scott:tiger@localhost:5432/myapp"


        def connect(password2):
            return make_engine(user="app", password=password2)
        ''',
    )
    assert findings == []


def test_django_tests_module_and_conftest_fixtures_are_test_code(tmp_path: Path) -> None:
    fixture = 'PASSWORD = "Tr0ub4dor&3x"\n'
    assert check(tmp_path, "PE802", fixture, relative="shop/tests.py") == []
    assert check(tmp_path, "PE802", fixture, relative="conftest.py") == []
    assert check(tmp_path, "PE802", fixture, relative="examples/app/config.py") == []
    # The same line in application code is a secret.
    assert len(check(tmp_path, "PE802", fixture, relative="shop/settings.py")) == 1


def test_a_secret_phrase_and_a_real_database_password_are_found(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE802",
        """
        SECRET: str = "super secret jwt secret"
        DATABASE_URL = "postgresql://app:Xy7pQ2rTz@db.internal:5432/app"
        """,
    )
    assert [f.line for f in findings] == [0, 1]
    assert findings[0].data["name"] == "SECRET"
    text = Path(findings[0].path).read_text()
    line = text.splitlines()[0]
    assert (
        line[findings[0].range.start.character : findings[0].range.end.character] == "super secret jwt secret"
    )


def test_class_paths_urls_documentation_and_prose_are_not_secrets(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE802",
        f'''
        from pydantic import Field

        AUTH_CONFIGS = {{"no_auth": "feast.permissions.auth_model.NoAuthConfig"}}
        _DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
        password_description = "The user's password for authentication"
        MESSAGE = "URIs of the form 'models://scope:prefix@databricks/model-name' are deprecated"


        class Secret:
            value: str = Field(examples=[{{"username": "johndoe", "password": "s3cr3t"}}])


        def scorer():
            """Flags outputs like: {OPENAI_LIKE}"""
        ''',
    )
    assert findings == []


def test_names_that_say_the_value_is_not_live(tmp_path: Path) -> None:
    text = '_LEGACY_DEFAULT_ADMIN_PASSWORD = "password1234"\nFAKE_API_TOKEN = "a1b2c3d4e5f6g7h8i9"\n'
    assert check(tmp_path, "PE802", text) == []
