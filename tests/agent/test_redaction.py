"""The secret detector: every kind found, placeholders and code left alone, line numbers kept."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyengineer.redaction import ASSIGNMENT_KIND, find_secrets, redact, secret_file_kind, secret_name_kind

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


# -- values of no known format: the entropy test -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "token = get_token()",
        "TOKEN_x = get_token_for(user2)",
        "session_key = build_key(request)",
        'HMAC_SEED = "seed"',
        'SIGNING_SALT = "short1"',
        'SESSION_SIGNING = "django.core.signing"',
        'api_version = "2024-06-01"',
        'SESSION_ENGINE = "django.contrib.sessions.backends.db"',
        "ACCESS_LOG = logs/access_2024.log",
        'revision = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"',
        'checksum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        'id = "550e8400-e29b-41d4-a716-446655440000"',
        'integrity = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"',
        'name = "MyVeryLongClassName2Factory"',
        'ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"',
        'label = "user_id_2_column_name"',
        "CC=x86_64-linux-gnu-gcc",
        'flag = "PIP_NO_USE_PEP517=true"',
        "url = 'http://api.internal:8080/v1/orders?notify=ops@acme.io'",
        'token_x = "deadbeefdeadbeefdeadbeefdeadbeef"',
        "cert = _lib.sk_X509_value(certs, i)",
        "nid_cert = self._lib.NID_pbe_WithSHA1And3_Key_TripleDES_CBC",
        "public_key = ed25519.Ed25519PublicKey.from_public_bytes(data)",
    ],
)
def test_ordinary_code_and_ids_pass_the_entropy_test_unredacted(text: str) -> None:
    assert find_secrets(text) == []


def test_unknown_format_values_on_config_lines_are_redacted_whatever_the_name() -> None:
    value = "Zr8qLw2NbX5vKt9mPc3YhD7s"
    text = f"[service]\nendpoint = https://api.acme.io\nfrobnicator = {value}\n"
    (match,) = find_secrets(text)
    assert (match.kind, text[match.start : match.end]) == ("high-entropy-string", value)
    # A guess of the entropy test is redacted but is not a hard-coded-secret finding (PE802).
    assert find_secrets(text, guesses=False) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            '{\n  "type": "service_account",\n  "project_id": "p",\n  "private_key_id": "ab12",\n}',
            "service-account",
        ),
        (
            '+  "type": "service_account",\n+  "private_key": "-----BEGIN PRIVATE KEY-----\\nMII",',
            "service-account",
        ),
        ("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://k8s:6443\n", "kubeconfig"),
        ('{"type": "service_account_like", "private_key": "x"}', None),
        ("apiVersion: apps/v1\nkind: Deployment\nspec: {}\n", None),
    ],
)
def test_credential_files_are_recognised_by_their_content(text: str, kind: str | None) -> None:
    assert secret_file_kind(text) == kind


@pytest.mark.parametrize(
    ("alphabet", "named", "literal"),
    [
        ("0123456789abcdef", 0.99, None),
        (string.ascii_letters + string.digits, 0.95, 0.9),
        (string.ascii_letters + string.digits + "-_", 0.95, 0.9),
        (string.ascii_lowercase + string.digits, 0.9, None),
    ],
    ids=["hex", "base62", "urlsafe", "lower-digits"],
)
def test_the_entropy_test_catches_random_values_of_every_alphabet(
    alphabet: str, named: float, literal: float | None
) -> None:
    rng = random.Random(7)
    values = [
        "".join(rng.choice(alphabet) for _ in range(length))
        for length in (20, 24, 32, 40, 64)
        for _ in range(60)
    ]
    on_names = sum(bool(find_secrets(f'SIGNING_SEED = "{v}"')) for v in values) / len(values)
    assert on_names >= named
    if literal is not None:
        alone = sum(bool(find_secrets(f'connect("{v}")')) for v in values) / len(values)
        assert alone >= literal


# --- the scan's shortcuts find what the whole-text patterns find --------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "postgres://admin:s3cretpass@db.example.com/app",
        "a = 'redis://u:p4ssw0rd@h:6379/0'\nb = 'http://x.org/a://b'\nc = 'amqp://g:Gu3st!x@mq/'",
        "no newline at the end: ftp://me:Xy7zz9@files.example.com",
        "x://a:b@c ://\n\n://:@\nsmtp://user:pa55word@mail.example.com:25 and https://u:v@w.example.com",
    ],
)
def test_url_passwords_found_line_by_line_are_those_of_the_whole_text(text: str) -> None:
    from pyengineer.redaction import _URL_PASSWORD, _url_passwords

    assert [m.span("v") for m in _url_passwords(text)] == [m.span("v") for m in _URL_PASSWORD.finditer(text)]


def test_offsets_hold_after_a_character_that_lowers_to_two() -> None:
    # 'İ'.lower() is two characters: the candidate lines must still point at the right place.
    text = "name = 'İstanbul'\nDB_PASSWORD = 'kW9#mZ2!qR7$vL4x'\n"
    (match,) = find_secrets(text)
    assert text[match.start : match.end] == "kW9#mZ2!qR7$vL4x"


def test_a_stripe_key_is_found_by_its_prefix() -> None:
    key = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    (match,) = find_secrets(f"stripe.api_key = {key!r}\n")
    assert match.kind == "stripe-key"
