"""Realistic fake secrets, generated from a fixed seed (so none is a real credential and none is committed).

Each `Secret` is the exact string that must never leave the machine, the kind `find_secrets` should give it,
and a line of code or config that holds it the way people really write them.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

_rng = random.Random(20240611)

UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def rand(alphabet: str, length: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(length))


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Secret:
    kind: str
    value: str
    line: str  # how it appears in a file; contains `value`

    @property
    def needles(self) -> list[str]:
        """Substrings that must not appear anywhere sent: the value, or each line of a multi-line key."""
        if "\n" in self.value or "\\n" in self.value:
            parts = self.value.replace("\\n", "\n").split("\n")
            return [p for p in parts if len(p) >= 16 and "-----" not in p]
        return [self.value]


def _pem(label: str, lines: int = 6, escaped: bool = False) -> str:
    body = [rand(B64, 64) for _ in range(lines)] + [rand(B64, 20) + "=="]
    newline = "\\n" if escaped else "\n"
    return newline.join([f"-----BEGIN {label}-----", *body, f"-----END {label}-----"])


RSA_KEY = _pem("RSA PRIVATE KEY")
OPENSSH_KEY = _pem("OPENSSH PRIVATE KEY")
GCP_SA_KEY = _pem("PRIVATE KEY", escaped=True)

AWS_KEY_ID = "AKIA" + rand(UPPER_DIGITS, 16)
AWS_SECRET = rand(B64, 40)
GCP_API_KEY = "AIza" + rand(URLSAFE, 35)
AZURE_KEY = rand(B64, 86) + "=="
GITHUB_PAT = "ghp_" + rand(ALNUM, 36)
GITHUB_FINE = "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)
GITLAB = "glpat-" + rand(URLSAFE, 20)
ANTHROPIC = "sk-ant-api03-" + rand(URLSAFE, 93) + "AA"
OPENAI_PROJ = "sk-proj-" + rand(URLSAFE, 74)
OPENAI_CLASSIC = "sk-" + rand(ALNUM, 48)
SLACK_BOT = f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}"
SLACK_HOOK = (
    f"https://hooks.slack.com/services/T{rand(UPPER_DIGITS, 8)}/B{rand(UPPER_DIGITS, 10)}/{rand(ALNUM, 24)}"
)
STRIPE_LIVE = "sk_live_" + rand(ALNUM, 24)
STRIPE_RESTRICTED = "rk_live_" + rand(ALNUM, 24)
JWT = (
    _b64url({"alg": "HS256", "typ": "JWT"})
    + "."
    + _b64url({"sub": rand(string.digits, 10), "name": "Ada Lovelace", "iat": 1716239022})
    + "."
    + rand(URLSAFE, 43)
)
DB_URL_PASSWORD = "Qx7" + rand(ALNUM, 13)
SQLSERVER_PASSWORD = "Tz9!" + rand(ALNUM, 12)
ENV_DB_PASSWORD = "pw" + rand(ALNUM, 14)
ENV_WEBHOOK_SECRET = rand(ALNUM, 32)
PY_API_TOKEN = rand(ALNUM, 40)
DJANGO_SECRET = "django-insecure-" + rand(ALNUM + "!@#%^&*(-_=+)", 50).replace('"', "x")
CLIENT_SECRET = rand(URLSAFE, 34)
YAML_PASSWORD = "Yp" + rand(ALNUM, 18)
# Values of no known format, on names that only sound like secrets or on no name at all: found by the entropy
# test. Hex, base62 and lower case with digits, as generators write them.
HEX = "0123456789abcdef"
LOWER_DIGITS = string.ascii_lowercase + string.digits
SESSION_SIGNING = rand(HEX, 64)
HMAC_SEED = rand(ALNUM, 32)
TOKEN_X = rand(LOWER_DIGITS, 28)
YAML_SIGNING_SALT = rand(URLSAFE, 24)
UNNAMED_LITERAL = rand(ALNUM, 30)
# DSNs whose passwords hold what generated passwords hold: `/`, `+`, `@`.
DSN_SLASH_PASSWORD = "Hs8/" + rand(ALNUM, 10) + "+" + rand(ALNUM, 6)
DSN_AT_PASSWORD = "Pk3@" + rand(ALNUM, 12)
LIBPQ_PASSWORD = "Lq5" + rand(ALNUM, 13)

CORPUS: tuple[Secret, ...] = (
    Secret("private-key", RSA_KEY, f'PRIVATE_KEY = """{RSA_KEY}"""'),
    Secret("private-key", OPENSSH_KEY, OPENSSH_KEY),
    Secret("private-key", GCP_SA_KEY, f'  "private_key": "{GCP_SA_KEY}\\n",'),
    Secret("aws-access-key-id", AWS_KEY_ID, f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"'),
    Secret("aws-secret-access-key", AWS_SECRET, f"aws_secret_access_key = {AWS_SECRET}"),
    Secret("gcp-api-key", GCP_API_KEY, f'maps = Client(key="{GCP_API_KEY}")'),
    Secret(
        "azure-key",
        AZURE_KEY,
        f'conn = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_KEY};'
        'EndpointSuffix=core.windows.net"',
    ),
    Secret("github-token", GITHUB_PAT, f"GH = Github('{GITHUB_PAT}')"),
    Secret("github-token", GITHUB_FINE, f"token: {GITHUB_FINE}"),
    Secret("gitlab-token", GITLAB, f'gl = gitlab.Gitlab(url, private_token="{GITLAB}")'),
    Secret("anthropic-api-key", ANTHROPIC, f'client = Anthropic(api_key="{ANTHROPIC}")'),
    Secret("openai-api-key", OPENAI_PROJ, f'OPENAI_API_KEY = "{OPENAI_PROJ}"'),
    Secret("openai-api-key", OPENAI_CLASSIC, f"openai.api_key = '{OPENAI_CLASSIC}'"),
    Secret("slack-token", SLACK_BOT, f'slack = WebClient(token="{SLACK_BOT}")'),
    Secret("slack-webhook", SLACK_HOOK, f'requests.post("{SLACK_HOOK}", json=payload)'),
    Secret("stripe-key", STRIPE_LIVE, f'stripe.api_key = "{STRIPE_LIVE}"'),
    Secret("stripe-key", STRIPE_RESTRICTED, f"STRIPE_RESTRICTED={STRIPE_RESTRICTED}"),
    Secret("jwt", JWT, f'headers = {{"Authorization": "Bearer {JWT}"}}'),
    Secret(
        "url-password",
        DB_URL_PASSWORD,
        f'DATABASE_URL = "postgresql://app:{DB_URL_PASSWORD}@db.internal:5432/app"',
    ),
    Secret(
        "connection-string-password",
        SQLSERVER_PASSWORD,
        f'CONN = "Server=tcp:sql.acme.net,1433;Database=orders;User ID=svc;Password={SQLSERVER_PASSWORD};"',
    ),
    Secret("secret-assignment", ENV_DB_PASSWORD, f"DB_PASSWORD={ENV_DB_PASSWORD}"),
    Secret("secret-assignment", ENV_WEBHOOK_SECRET, f"export WEBHOOK_SECRET={ENV_WEBHOOK_SECRET}"),
    Secret("secret-assignment", PY_API_TOKEN, f'API_TOKEN: str = "{PY_API_TOKEN}"'),
    Secret("secret-assignment", DJANGO_SECRET, f'SECRET_KEY = "{DJANGO_SECRET}"'),
    Secret("secret-assignment", CLIENT_SECRET, f"self.client_secret = '{CLIENT_SECRET}'"),
    Secret("secret-assignment", YAML_PASSWORD, f"  password: {YAML_PASSWORD}"),
    Secret("secret-assignment", SESSION_SIGNING, f"SESSION_SIGNING={SESSION_SIGNING}"),
    Secret("secret-assignment", HMAC_SEED, f'HMAC_SEED = "{HMAC_SEED}"'),
    Secret("secret-assignment", TOKEN_X, f"TOKEN_x = {TOKEN_X}"),
    Secret("secret-assignment", YAML_SIGNING_SALT, f"  signing_salt: {YAML_SIGNING_SALT}"),
    Secret("high-entropy-string", UNNAMED_LITERAL, f'client.connect("{UNNAMED_LITERAL}", retries=3)'),
    Secret(
        "url-password",
        DSN_SLASH_PASSWORD,
        f'engine = create_engine("mysql+pymysql://svc:{DSN_SLASH_PASSWORD}@mysql.internal/shop")',
    ),
    Secret("url-password", DSN_AT_PASSWORD, f"REDIS = 'redis://default:{DSN_AT_PASSWORD}@cache:6379/0'"),
    Secret(
        "secret-assignment",
        LIBPQ_PASSWORD,
        f'conn = psycopg.connect("host=db port=5432 user=app password={LIBPQ_PASSWORD} dbname=shop")',
    ),
)


def corpus_file() -> str:
    """A Python-ish file holding every secret of the corpus, one per line (keys span several lines)."""
    return "\n".join(["import os", "", *[s.line for s in CORPUS], "", "def main() -> None:", "    pass", ""])
