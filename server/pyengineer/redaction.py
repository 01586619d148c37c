"""The one secret detector of pyengineer: find secrets in text and replace them before anything leaves.

`find_secrets` is shared by the LLM agent (everything it sends goes through `redact`) and by the hard-coded
secret rule, so a secret is recognised the same way everywhere. Two families of detection:

- token formats that are secret wherever they appear (AWS key ids, GitHub tokens, JWTs, PEM private keys...);
- assignments of a literal to a secret-sounding name (`API_KEY = "..."`, `password: ...`, `DB_TOKEN=...` in
  a `.env` file), where the name is the evidence and the value is checked not to be a placeholder or code;
- an entropy test for values of no known format: a random-looking value assigned to a name that only sounds
  like a secret (`SESSION_SIGNING=9f8e...`, `HMAC_SEED = "..."`, `TOKEN_x = ...`), and string literals or
  `NAME=value` lines whose value could only have come from a random generator (mixed case and digits, high
  Shannon entropy, short segments: `"q7Rk2LmX9vTzB4wN8pYd"`, not `"MyClassName2Factory"` or a hex digest).

`secret_file_kind` recognises files that are secret by their content wherever they are (service-account JSON,
kubeconfig); the secret file *names* are in `pyengineer.workspace.ignore`.

Matches report offsets into the text (never the secret itself, so they are safe to log).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PLACEHOLDER_PREFIX = "[REDACTED:"

ASSIGNMENT_KIND = "secret-assignment"
# A value found by the entropy test alone, with no secret-sounding name: redacted before anything is sent, but
# not reported as a hard-coded secret by PE802 (a random-looking test fixture is not a finding).
HIGH_ENTROPY_KIND = "high-entropy-string"


@dataclass(frozen=True)
class SecretMatch:
    """One secret: `text[start:end]` is the secret value; for assignments `name` is what it is assigned to."""

    kind: str
    start: int
    end: int
    name: str | None = None


@dataclass(frozen=True)
class Redacted:
    """Text with every secret replaced by `[REDACTED:<kind>]`, and what was replaced (input offsets)."""

    text: str
    count: int
    kinds: tuple[str, ...]
    matches: tuple[SecretMatch, ...] = ()


def placeholder(kind: str) -> str:
    return f"{PLACEHOLDER_PREFIX}{kind}]"


# -- token formats --------------------------------------------------------------------------------

# Most token formats must not be glued to other token characters, or `xghp_...` inside a longer identifier
# would be cut in the middle; these lookarounds stand in for \b, which treats `-` as a boundary.
_B = r"(?<![A-Za-z0-9_\-])"
_E = r"(?![A-Za-z0-9_\-])"


def _has_digit_and_letter(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _looks_random(value: str) -> bool:
    """Long, with digits, upper and lower case: no one names a variable like that."""
    return (
        len(value) >= 12
        and any(c.isdigit() for c in value)
        and any(c.isupper() for c in value)
        and any(c.islower() for c in value)
    )


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class _Format:
    kind: str
    pattern: re.Pattern[str]
    # The secret is the named group "v" when the pattern has one (the rest is context), else the whole match.
    check: Callable[[str], bool] | None = None
    # Must not follow a token character (the pattern was written starting with _B).
    bounded: bool = False
    # Lowercase words one of which a match must contain: text without any is not scanned at all.
    hints: tuple[str, ...] = ()


def _format(
    kind: str,
    pattern: str,
    flags: int = 0,
    check: Callable[[str], bool] | None = None,
    hints: tuple[str, ...] = (),
) -> _Format:
    # A leading lookbehind stops `re` from jumping to the literal prefix (`ghp_`, `AKIA`): the boundary is
    # checked by hand instead, which makes these scans several times faster on large files.
    bounded = pattern.startswith(_B)
    return _Format(kind, re.compile(pattern.removeprefix(_B), flags), check, bounded, hints)


_PEM_LABEL = r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"

_FORMATS: tuple[_Format, ...] = (
    # A private key without its END line (cut off, or pasted half) is still a private key: redact to the end.
    _format(
        "private-key",
        _PEM_LABEL + r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
        re.S,
    ),
    _format("aws-access-key-id", _B + r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _E),
    _format(
        "aws-secret-access-key",
        r"(?i)aws[\w.\-]{0,30}?(?:secret|_sk)[\w.\-]{0,30}?[\"']?\s*(?:=>|[:=]|\s)\s*[\"']?"
        r"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        hints=("aws",),
    ),
    _format("gcp-api-key", _B + r"AIza[0-9A-Za-z_\-]{35}" + _E),
    _format("gcp-oauth-client-secret", _B + r"GOCSPX-[A-Za-z0-9_\-]{28}" + _E),
    _format("gcp-access-token", _B + r"ya29\.[0-9A-Za-z_\-]{20,}" + _E),
    _format(
        "azure-key",
        r"(?i)(?:AccountKey|SharedAccessKey|PrimaryKey|SecondaryKey)\s*=\s*(?P<v>[A-Za-z0-9+/]{20,}={0,2})",
        hints=("accountkey", "sharedaccesskey", "primarykey", "secondarykey"),
    ),
    _format("azure-sas-token", r"(?i)[?&;]sig=(?P<v>[A-Za-z0-9%+/=]{16,})", hints=("sig=",)),
    _format("github-token", _B + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})" + _E),
    _format("gitlab-token", _B + r"gl(?:pat|dt|rt|ptt|soat|cbt|ffct)-[A-Za-z0-9_\-]{20,}" + _E),
    _format("anthropic-api-key", _B + r"sk-ant-[A-Za-z0-9_\-]{20,}" + _E),
    _format(
        "openai-api-key",
        _B + r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}" + _E,
        check=_has_digit_and_letter,
    ),
    _format("slack-token", _B + r"(?:xox[abposr]-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,})" + _E),
    _format(
        "slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,}"
    ),
    _format(
        "stripe-key",
        _B + r"(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})" + _E,
        # No literal prefix for `re` to jump to: without hints this one format cost a third of the scan.
        hints=("sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_"),
    ),
    _format("npm-token", _B + r"npm_[A-Za-z0-9]{36}" + _E),
    _format("pypi-token", _B + r"pypi-AgE[A-Za-z0-9_\-]{50,}" + _E),
    _format("huggingface-token", _B + r"hf_[A-Za-z0-9]{30,}" + _E, check=_has_digit_and_letter),
    _format("sendgrid-key", _B + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _E),
    _format("jwt", _B + r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*"),
    _format(
        "authorization-header",
        r"(?i)authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+(?P<v>[A-Za-z0-9._~+/=\-]{12,})",
        hints=("authorization",),
    ),
)

# -- passwords in URLs and connection strings ------------------------------------------------------------

# The password may hold `/` and `@` (generated passwords do, unencoded): it runs to the last `@` of the URL, unless
# it reads as a port and a path (`http://host:8080/x?to=a@b` has no password).
_URL_PASSWORD = re.compile(
    r"(?<![\w+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{1,30}://[^\s:/?#@'\"<>]*:(?P<v>[^\s'\"<>]{1,200})@(?=[^\s@'\"<>/]*[\w\]])"
)
_PORT_AND_PATH = re.compile(r"\d{1,5}(?:[/?#]|$)")
_CONNECTION_PASSWORDS = (
    re.compile(r"(?i);\s*(?:password|pwd)\s*=\s*(?P<v>[^;\"'\r\n]+)"),
    re.compile(r"(?i)(?<![\w])(?:password|pwd)\s*=\s*(?P<v>[^;\"'\s]+)\s*;"),
)

# -- assignments to secret-sounding names ------------------------------------------------------------

# `NAME = "v"`, `NAME: str = "v"`, `"NAME": "v"`, `NAME: "v"`, `name="v"`, `os.environ["NAME"] = "v"`.
# String prefixes r/b/u are allowed; f-strings are expressions, not literals, and are left alone.
_QUOTED_ASSIGNMENT = re.compile(
    r"(?<![\w.\-])(?P<name>[A-Za-z_][\w.\-]*)(?:[\"']\]?)?[ \t]*"
    r"(?::[ \t]*[\w\[\]|., ]+?[ \t]*=|:=|=>|=|:)[ \t]*[rRuUbB]{0,2}"
    r"(?:\"(?P<v1>(?:\\.|[^\"\\\n])*)\"|'(?P<v2>(?:\\.|[^'\\\n])*)')"
)
# `.env`, INI, YAML, shell and query strings: `NAME=value`, `export NAME=value`, `name: value`, `--pwd=value`,
# `?token=value`. Not anchored to the line start: `env DB_PASSWORD=x cmd` and `-e TOKEN=x` hold secrets too.
# The value stops at whitespace, quotes, brackets and separators; whether it is code is decided afterwards.
_BARE_ASSIGNMENT = re.compile(
    r"(?<![\w.])(?P<name>[A-Za-z_][\w.\-]*)[ \t]*[=:][ \t]*(?P<v>[^\s'\"#=`(){}\[\],;&|][^\s'\"`(){}\[\],;&|]*)"
)

# Words that make a name secret wherever they are in it: `SECRET_KEY_BASE`, `db_password_prod`.
_STRONG_WORDS = frozenset({"secret", "password", "passwd", "passphrase", "apikey", "secretkey", "privatekey"})
# Words that make a name secret when they end it: `GITHUB_TOKEN`, `api_key`, `db_pwd`, `client_credentials`.
_SUFFIX_WORDS = (
    frozenset({"key", "token", "pwd", "pass", "credential", "credentials", "auth"}) | _STRONG_WORDS
)
# A secret word followed by one of these names something about the secret, not the secret itself.
_NOT_SECRET_LAST_WORDS = frozenset(
    {
        "name", "names", "id", "ids", "url", "uri", "urls", "path", "paths", "file", "files", "dir", "type",
        "length", "len", "size", "env", "var", "variable", "field", "header", "prefix", "suffix", "format",
        "regex", "pattern", "kind", "count", "expiry", "expires", "ttl", "timeout", "lifetime", "enabled",
        "required", "endpoint", "param", "parameter", "hint", "label", "help", "policy", "rotation", "min",
        "max", "attempts", "validators", "validator", "reset", "changed", "column", "hash", "hasher",
        "hashers", "algorithm", "mode", "source", "location", "store", "backend", "manager", "provider",
        "class", "version", "option", "options", "flag", "scheme", "schema", "at",
    }
)  # fmt: skip
# `X_key` names that are keys of something (a row, a dict, a cache) rather than credentials.
_NOT_SECRET_KEY_OWNERS = frozenset(
    {
        "primary", "foreign", "sort", "cache", "partition", "lookup", "dict", "map", "group", "row", "column",
        "index", "unique", "composite", "natural", "public", "pub", "registry", "hot", "idempotency",
        "translation", "i18n", "message", "msg", "config", "setting", "settings", "s3", "object", "bucket",
        "file", "json", "field", "attr", "template", "session", "route", "url", "query", "state", "event",
        "metric", "label", "tag", "type", "storage", "dedup", "shard", "hash", "order", "range",
        "entity", "model", "record", "item", "cursor", "page", "next", "continuation", "csrf", "form",
    }
)  # fmt: skip
# `next_token` and friends are pagination cursors, not credentials.
_NOT_SECRET_TOKEN_OWNERS = frozenset({"next", "page", "continuation", "pagination", "cursor", "csrf", "form"})

_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pass", "passphrase"})

_PLACEHOLDER_WORDS = frozenset(
    {
        "", "none", "null", "nil", "undefined", "true", "false", "yes", "no", "secret", "secrets", "password",
        "passwd", "pass", "token", "key", "apikey", "api_key", "test", "testing", "demo", "sample", "dummy",
        "example", "changeme", "change_me", "change-me", "placeholder", "todo", "fixme", "tbd", "empty",
        "default", "string", "str", "bearer", "basic", "required", "optional", "user", "username", "admin",
        "root", "postgres", "guest", "redacted", "hidden", "masked", "notasecret", "not-a-secret",
    }
)  # fmt: skip
_PLACEHOLDER_SHAPES = re.compile(
    r"""(?x)^(?:
        <[^>]*> | \$\{[^}]*\} | \$\(?[A-Za-z_]\w*\)? | \{\{.*\}\} | \{[^{}]*\} | %\([^)]*\)[sd] | %[sd]
        | \*+ | [xX]{3,} | \.{2,} | -+ | _+ | \#+ | \?+ | 0+
    )$"""
)
_PLACEHOLDER_FRAGMENTS = (
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "xxxxx",
    "redacted",
    "****",
)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _words(name: str) -> list[str]:
    """`self.apiKey` -> ["api", "key"]; `AWS_SECRET-ACCESS.KEY` -> ["key"] of the last dotted part only."""
    last = name.rsplit(".", 1)[-1]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last)
    return [w for w in re.split(r"[_\-]+", snake.lower()) if w]


def secret_name_kind(name: str) -> str | None:
    """The kind of secret ("password" or "secret") a name like `DB_PASSWORD` or `apiKey` holds, else None."""
    words = _words(name)
    if not words:
        return None
    last = words[-1]
    if last in _NOT_SECRET_LAST_WORDS:
        return None
    owner = words[-2] if len(words) > 1 else ""
    if last in _SUFFIX_WORDS:
        if last == "key" and owner in _NOT_SECRET_KEY_OWNERS:
            return None
        if last == "token" and owner in _NOT_SECRET_TOKEN_OWNERS:
            return None
        return "password" if last in _PASSWORD_WORDS else "secret"
    if any(w in _STRONG_WORDS for w in words):
        return "password" if any(w in _PASSWORD_WORDS for w in words) else "secret"
    return None


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret: empty, `changeme`, `<your-key>`, `${TOKEN}`, `xxxx`..."""
    stripped = value.strip()
    lowered = stripped.lower()
    if lowered in _PLACEHOLDER_WORDS or _PLACEHOLDER_SHAPES.match(stripped):
        return True
    if lowered.startswith(("your", PLACEHOLDER_PREFIX.lower())):
        return True
    if any(fragment in lowered for fragment in _PLACEHOLDER_FRAGMENTS):
        return True
    # One character repeated (`aaaaaaaa`) is a filler, not a secret.
    return len(set(lowered)) == 1


def _plausible_value(value: str, name_kind: str, bare_name: bool) -> bool:
    if is_placeholder(value):
        return False
    if name_kind == "password":
        return len(value) >= 4
    if len(value) < 8 or any(c.isspace() for c in value):
        return False
    if bare_name:
        # A variable called just `key` or `token` is too common to trust the name: the value must look random.
        return len(value) >= 16 and _has_digit_and_letter(value)
    return True


def _plausible_bare_value(value: str, following: str) -> bool:
    """An unquoted value is a `.env` literal unless it reads like code (`os.environ[...]`, `settings.KEY`)."""
    if value.startswith("$"):
        return False  # a shell variable
    if following in ("(", "[") and not _looks_random(value):
        return False  # a call or a subscript: code, unless the "name" is clearly a token
    if _DOTTED_NAME.fullmatch(value):
        return False
    if _IDENTIFIER.fullmatch(value):
        # `hunter2` is a password and a long mix of letters and digits is a token; `default_password` or
        # `token` is a variable.
        return _has_digit_and_letter(value) and ("_" not in value or len(value) >= 16)
    return True


# -- the entropy test -----------------------------------------------------------------------------------

# Words that make a name sound like a secret without proving it (`SESSION_SIGNING`, `HMAC_SEED`, `TOKEN_x`):
# a value assigned to such a name is redacted when it passes the entropy test.
_WEAK_WORDS = frozenset(
    {
        "key", "keys", "token", "tokens", "secret", "secrets", "signing", "signer", "signature", "sig", "sign",
        "hmac", "seed", "salt", "pepper", "private", "priv", "credential", "credentials", "cred", "creds",
        "auth", "cert", "cipher", "crypt", "crypto", "encryption", "encrypt", "nonce", "otp", "totp", "jwt",
        "session", "cookie", "api", "apikey", "access", "pass", "pwd", "password", "passwd", "bearer", "dsn",
        "license", "licence", "webhook", "master",
    }
)  # fmt: skip
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
# The letter "words" of a value, split at case changes and digits: `MyClassName2` -> My, Class, Name.
_LETTER_SEGMENTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_DIGIT_RUNS = re.compile(r"\d+")
# Values worth the entropy test: one token with no spaces or quotes, not a URL or a path.
# No `.`: `module.Attribute2` is code, and dotted tokens (JWTs) have their own format.
_TOKEN_VALUE = re.compile(r"[A-Za-z0-9+/=_\-~!@#$%^&*]{16,512}")
# Digests with their algorithm are public identifiers (lock files, subresource integrity), not secrets.
_TOKEN_PREFIX = re.compile(r"[A-Za-z0-9+/=_\-~!@#$%^&*]+(?![.\w])")
_DIGEST_PREFIX = re.compile(r"(?i)^(?:sha\d{1,3}|md5|blake2[bs]?)[-:]")


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s character distribution (0 for one repeated character)."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _sequential(value: str) -> bool:
    """`abcdef0123456789`, `ABCDEFGHIJ...`: an alphabet written out, high entropy but no secret."""
    steps = sum(1 for a, b in zip(value, value[1:], strict=False) if abs(ord(a) - ord(b)) == 1)
    return steps > (len(value) - 1) * 0.4


def looks_random(value: str, *, strict: bool = False) -> bool:
    """The entropy test: True for a value only a random generator would write.

    Thresholds are set so that nearly all random tokens pass (hex of 16+ characters, base62 and base64 of 24+,
    lower case and digits of 32+: 94-100 of 100 at shorter lengths, see docs/security.md), while identifiers (`MyVeryLongClassName2Factory`, `user_id_2_column`), versions, words and
    written-out alphabets do not. `strict` is for values with no secret-sounding name to back them up: mixed
    case, a digit and shorter letter runs are required (about 95 of 100 random 20-character tokens pass), so
    hex digests, UUIDs, lower-case ids and `CamelCase_Names2` are left alone.
    """
    length = len(value)
    if not _TOKEN_VALUE.fullmatch(value) or _DIGEST_PREFIX.match(value):
        return False
    letters = sum(1 for c in value if c.isalpha())
    digits = sum(1 for c in value if c.isdigit())
    if letters < 2 or is_placeholder(value) or _sequential(value) or (strict and digits < 1):
        return False
    entropy = shannon_entropy(value)
    if all(c in _HEX_CHARS or c == "-" for c in value):
        if strict:
            return False
        # Random hex of 16 characters has ~3.2 bits per character, of 64 ~3.8; a repeated pattern far less.
        return digits > 0 and entropy >= min(3.3, 2.6 + 0.02 * (length - 16))
    if entropy < min(4.0, 3.1 + 0.03 * (length - 16)):
        return False
    segments = _LETTER_SEGMENTS.findall(value)
    average = sum(map(len, segments)) / len(segments) if segments else 0.0
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    if strict:
        # `=` inside the value is a `NAME=value` pair, not base64 (whose `=` only pads the end).
        return mixed and length >= 20 and average <= 3.0 and "=" not in value.rstrip("=")
    if digits == 0:
        return mixed and average <= 2.5  # no digit: only very short letter runs say "random"
    if not mixed and digits < 2:
        return False  # one digit in lower-case words is a name (`users2_table`), not a token
    # Lower case and digits alone make longer letter runs by chance: many digit runs also say "random".
    return average <= 3.5 or len(_DIGIT_RUNS.findall(value)) >= 3


def _weak_secret_name(name: str) -> bool:
    words = _words(name)
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    owner = words[-2] if len(words) > 1 else ""
    if (words[-1] == "key" and owner in _NOT_SECRET_KEY_OWNERS) or (
        words[-1] == "token" and owner in _NOT_SECRET_TOKEN_OWNERS
    ):
        return False  # a public key, a primary key, a pagination token
    return any(word in _WEAK_WORDS for word in words)


# A quoted literal, and a `NAME=value` line (a .env, INI or YAML line), whose value is tested for randomness.
_STRING_LITERAL = re.compile(
    r"(?<![\w\\])(?:\"(?P<v1>[A-Za-z0-9+/=_\-]{20,256})\"|'(?P<v2>[A-Za-z0-9+/=_\-]{20,256})')"
)
_CONFIG_LINE = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z_][\w.\-]*[ \t]*[=:][ \t]*(?P<v>[A-Za-z0-9+/=_\-]{20,256})[ \t]*\r?$"
)


def _random_literals(text: str) -> Iterable[SecretMatch]:
    """String literals and config values that pass the strict entropy test, whatever their name."""
    if '"' in text or "'" in text:
        for m in _STRING_LITERAL.finditer(text):
            group = "v1" if m.group("v1") is not None else "v2"
            if looks_random(m.group(group), strict=True):
                yield SecretMatch(HIGH_ENTROPY_KIND, m.start(group), m.end(group))
    for m in _CONFIG_LINE.finditer(text):
        if looks_random(m.group("v"), strict=True):
            yield SecretMatch(HIGH_ENTROPY_KIND, m.start("v"), m.end("v"))


# Every secret name holds one of these words: only the lines that have one can hold a secret assignment, so
# the (slower) assignment patterns run on those lines alone. Found with `str.find` on an ASCII-lowered copy (of
# the same length, so offsets hold): a regex alternation of these words is twenty times slower.
_SECRET_WORDS = (
    "key", "token", "pwd", "pass", "cred", "auth", "secret", "sig", "hmac", "seed", "salt", "pepper", "priv",
    "cert", "cipher", "crypt", "nonce", "otp", "jwt", "session", "cookie", "api", "access", "bearer", "dsn",
    "licen", "webhook", "master",
)  # fmt: skip
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _candidate_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line holding a secret word, in order."""
    # str.lower() is ten times faster than translate(). It keeps every offset unless a character lowers to
    # two (only U+0130 does); it may lower a few non-ASCII letters to ASCII ones (the Kelvin sign to `k`), which
    # only adds candidate lines, never removes one.
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = text.translate(_ASCII_LOWER)
    size = len(text)
    lines: set[tuple[int, int]] = set()
    for word in _SECRET_WORDS:
        pos = lowered.find(word)
        while pos != -1:
            start = lowered.rfind("\n", 0, pos) + 1
            end = lowered.find("\n", pos)
            end = size if end < 0 else end
            lines.add((start, end))
            # The rest of this line is already a candidate.
            pos = lowered.find(word, end)
    return sorted(lines)


def _assignments(text: str) -> Iterable[SecretMatch]:
    for start, end in _candidate_lines(text):
        yield from _line_assignments(text, start, end)


def _line_assignments(text: str, start: int, end: int) -> Iterable[SecretMatch]:
    for m in _QUOTED_ASSIGNMENT.finditer(text, start, end):
        name = m.group("name")
        name_kind = secret_name_kind(name)
        group = "v1" if m.group("v1") is not None else "v2"
        value = m.group(group)
        if name_kind is None:
            if _weak_secret_name(name) and looks_random(value):
                yield SecretMatch(ASSIGNMENT_KIND, m.start(group), m.end(group), name)
            continue
        if _plausible_value(value, name_kind, bare_name=len(_words(name)) == 1 and name_kind == "secret"):
            yield SecretMatch(ASSIGNMENT_KIND, m.start(group), m.end(group), name)
    for m in _BARE_ASSIGNMENT.finditer(text, start, end):
        name = m.group("name")
        name_kind = secret_name_kind(name)
        value = m.group("v")
        following = text[m.end("v") : m.end("v") + 1]
        if name_kind is None:
            # The value as far as a token goes (`TOKEN_x=v>...` ends at `>`): code never passes the test.
            token = _TOKEN_PREFIX.match(value)
            if token and _weak_secret_name(name) and looks_random(token.group()):
                yield SecretMatch(ASSIGNMENT_KIND, m.start("v"), m.start("v") + token.end(), name)
            continue
        if _plausible_bare_value(value, following) and _plausible_value(
            value, name_kind, bare_name=len(_words(name)) == 1 and name_kind == "secret"
        ):
            yield SecretMatch(ASSIGNMENT_KIND, m.start("v"), m.end("v"), name)


def _span(m: re.Match[str]) -> tuple[int, int]:
    if "v" in m.re.groupindex and m.group("v") is not None:
        return m.start("v"), m.end("v")
    return m.start(), m.end()


def _url_passwords(text: str) -> Iterable[re.Match[str]]:
    """_URL_PASSWORD's matches, searched only on the lines holding `://`: a match holds no whitespace, so it
    never spans lines, and the pattern has no literal prefix to jump to (over the whole text it cost as much
    as every other format together)."""
    pos = text.find("://")
    while pos != -1:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        yield from _URL_PASSWORD.finditer(text, start, end)
        pos = text.find("://", end)


def _formats(text: str) -> Iterable[SecretMatch]:
    lowered = text.lower()
    for fmt in _FORMATS:
        if fmt.hints and not any(hint in lowered for hint in fmt.hints):
            continue
        for m in fmt.pattern.finditer(text):
            if fmt.bounded and m.start() > 0 and text[m.start() - 1] in _TOKEN_CHARS:
                continue
            start, end = _span(m)
            if fmt.check is None or fmt.check(text[start:end]):
                yield SecretMatch(fmt.kind, start, end)
    for m in _url_passwords(text):
        if not is_placeholder(m.group("v")) and not _PORT_AND_PATH.match(m.group("v")):
            yield SecretMatch("url-password", *_span(m))
    for pattern in _CONNECTION_PASSWORDS if ("password" in lowered or "pwd" in lowered) else ():
        for m in pattern.finditer(text):
            value = m.group("v").strip()
            if not is_placeholder(value):
                start = m.start("v")
                yield SecretMatch("connection-string-password", start, start + len(m.group("v").rstrip()))


def _kind_rank(kind: str) -> int:
    """Which kind a merged match keeps: a token format says most, the entropy test alone least."""
    return {ASSIGNMENT_KIND: 1, HIGH_ENTROPY_KIND: 2}.get(kind, 0)


def find_secrets(text: str, *, guesses: bool = True) -> list[SecretMatch]:
    """Every secret in `text`, in order, overlapping detections merged into one match.

    When a token format and a secret-named assignment cover the same value, the match takes the format's kind
    (`openai-api-key`) and the assignment's name (`OPENAI_API_KEY`). `guesses=False` leaves out the values
    found by the entropy test alone (`HIGH_ENTROPY_KIND`): redaction wants them, a lint finding does not.
    """
    found = [*_formats(text), *_assignments(text), *(_random_literals(text) if guesses else ())]
    found.sort(key=lambda s: (s.start, -s.end))
    merged: list[SecretMatch] = []
    for match in found:
        if match.end <= match.start:
            continue
        if merged and match.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.kind, match.kind, key=_kind_rank)
            merged[-1] = SecretMatch(kind, last.start, max(last.end, match.end), last.name or match.name)
        else:
            merged.append(match)
    return merged


def redact(text: str, matches: list[SecretMatch] | None = None) -> Redacted:
    """`text` with each secret replaced by `[REDACTED:<kind>]`.

    A placeholder keeps the newlines of what it replaces, so line numbers after a multi-line private key still
    match the file: the model's edits are addressed by line.
    """
    if matches is None:
        matches = find_secrets(text)
    if not matches:
        return Redacted(text, 0, (), ())
    parts: list[str] = []
    position = 0
    for match in matches:
        parts.append(text[position : match.start])
        parts.append(placeholder(match.kind) + "\n" * text.count("\n", match.start, match.end))
        position = match.end
    parts.append(text[position:])
    kinds = tuple(sorted({m.kind for m in matches}))
    return Redacted("".join(parts), len(matches), kinds, tuple(matches))


# -- files that are secret by their content ------------------------------------------------------------------

# Optional diff markers (`+`, `-`, a space) let the same test run on a file and on a diff of it.
_SERVICE_ACCOUNT = re.compile(r'"type"\s*:\s*"service_account"')
_PRIVATE_KEY_FIELD = re.compile(r'"private_key(?:_id)?"\s*:')
_KUBECONFIG_KIND = re.compile(r"(?m)^[+\- ]?kind:\s*['\"]?Config['\"]?\s*$")
_KUBECONFIG_PARTS = re.compile(r"(?m)^[+\- ]?(?:clusters|users|contexts):\s*$")


def secret_file_kind(text: str) -> str | None:
    """ "service-account" or "kubeconfig" when `text` is such a file (or a diff of one), else None.

    These files are credentials whatever they are called (`sa.json`, `prod.yaml`): their every field is
    sensitive together (the key id, the client email, the cluster's address), so they are refused whole
    rather than redacted field by field.
    """
    if _SERVICE_ACCOUNT.search(text) and _PRIVATE_KEY_FIELD.search(text):
        return "service-account"
    if _KUBECONFIG_KIND.search(text) and _KUBECONFIG_PARTS.search(text):
        return "kubeconfig"
    return None
