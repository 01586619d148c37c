"""The secret detector: every kind found, placeholders and code left alone, line numbers kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyengineer.redaction import ASSIGNMENT_KIND, find_secrets, redact, secret_name_kind

from tests.agent.secret_corpus import CORPUS, RSA_KEY, Secret, corpus_file


@pytest.mark.parametrize("secret", CORPUS, ids=lambda s: f"{s.kind}:{s.line[:24]}")
def test_every_corpus_secret_is_found_with_its_kind(secret: Secret) -> None:
    matches = find_secrets(secret.line)
    covering = [m for m in matches if m.start <= secret.line.index(secret.value) < m.end]
    assert covering, f"{secret.kind} not found in {secret.line!r}"
    assert covering[0].kind == secret.kind
    assert secret.value in secret.line[covering[0].start : covering[0].end]
    cleaned = redact(secret.line).text
    assert all(needle not in cleaned for needle in secret.needles)
    assert f"[REDACTED:{secret.kind}]" in cleaned


def test_a_whole_file_of_secrets_keeps_its_line_count_and_loses_every_secret() -> None:
    text = corpus_file()
    result = redact(text)
    assert result.count == len(CORPUS)
    assert result.text.count("\n") == text.count("\n")
    # The lines after a multi-line key are where they were: the model addresses edits by line.
    assert result.text.split("\n")[-3] == "def main() -> None:"
    leaked = [needle for secret in CORPUS for needle in secret.needles if needle in result.text]
    assert leaked == []
    assert set(result.kinds) == {s.kind for s in CORPUS}


def test_assignment_reports_the_name_and_exactly_the_value_span() -> None:
    text = 'x = 1\nDB_PASSWORD: str = "s3cr3t-Pa55"  # prod\n'
    (match,) = find_secrets(text)
    assert match.kind == ASSIGNMENT_KIND
    assert match.name == "DB_PASSWORD"
    assert text[match.start : match.end] == "s3cr3t-Pa55"


def test_a_token_format_assigned_to_a_secret_name_keeps_both_kind_and_name() -> None:
    token = "ghp_" + "aB3" * 12
    (match,) = find_secrets(f'GITHUB_TOKEN = "{token}"')
    assert (match.kind, match.name) == ("github-token", "GITHUB_TOKEN")


def test_an_unterminated_private_key_is_redacted_to_the_end() -> None:
    half = RSA_KEY.split("-----END")[0]
    text = "key = '''\n" + half
    result = redact(text)
    assert result.kinds == ("private-key",)
    assert all(line not in result.text for line in half.split("\n")[1:] if line)
    assert result.text.count("\n") == text.count("\n")


@pytest.mark.parametrize(
    "text",
    [
        'API_KEY = os.environ["API_KEY"]',
        "SECRET_KEY = env('SECRET_KEY')",
        "TOKEN = settings.TOKEN",
        'password: str = ""',
        "api_key: SecretStr",
        "token: str | None = None",
        'DB_PASSWORD = "changeme"',
        'API_KEY = "<your-api-key>"',
        'API_KEY = "${API_KEY}"',
        "API_KEY=your_api_key_here",
        'SECRET = "xxxxxxxxxxxxxxxx"',
        'primary_key = "user_id_column"',
        'cache_key = "users:list:v2"',
        'next_token = "abc123def456ghi789"',
        'TOKEN_URL = "https://auth.example.com/token"',
        'password_field = "password"',
        'key = "name"',
        'api_key = f"{prefix}-{suffix}"',
        "if password == user_input:",
        "url = 'postgresql://user:password@localhost/db'",
        "url = 'redis://:${REDIS_PASSWORD}@cache:6379/0'",
        "def login(password: str = '') -> None:",
        "token = token.strip()",
        "PASSWORD = default_password",
        "sk-learn-is-not-a-key-but-a-long-hyphenated-name",
    ],
)
def test_code_and_placeholders_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("DB_PASSWORD", "password"),
        ("apiKey", "secret"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("SECRET_KEY_BASE", "secret"),
        ("client_secret", "secret"),
        ("self.access_token", "secret"),
        ("primary_key", None),
        ("TOKEN_URL", None),
        ("secret_name", None),
        ("username", None),
    ],
)
def test_secret_names(name: str, kind: str | None) -> None:
    assert secret_name_kind(name) == kind


_SEPARATORS = st.sampled_from([" ", "\n", "\t", "(", ")", ",", ";", "[", "]", "{", "}", "<", ">"])
_FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(before=_FILLER, after=_FILLER, sep1=_SEPARATORS, sep2=_SEPARATORS, secret=st.sampled_from(CORPUS))
def test_redaction_never_leaves_a_known_secret_whatever_surrounds_it(
    before: str, after: str, sep1: str, sep2: str, secret: Secret
) -> None:
    text = before + sep1 + secret.line + sep2 + after
    result = redact(text)
    for needle in secret.needles:
        assert needle not in result.text
    assert result.text.count("\n") == text.count("\n")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(CORPUS), min_size=1, max_size=5), _FILLER)
def test_redaction_is_idempotent(secrets: list[Secret], filler: str) -> None:
    text = ("\n" + filler + "\n").join(s.line for s in secrets)
    once = redact(text)
    twice = redact(once.text)
    assert twice.count == 0
    assert twice.text == once.text


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(
        r"\A(?:AKIA[A-Z0-9]{16}|ghp_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9_\-]{20}|sk-ant-[A-Za-z0-9]{40})\Z"
    ),
    st.sampled_from(["x = '{}'", 'call("{}")', "{}", "- {} -", "TOKEN={}"]),
)
def test_generated_tokens_in_common_shapes_are_redacted(token: str, shape: str) -> None:
    assert token not in redact(shape.format(token)).text
