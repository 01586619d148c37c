"""PE802: secrets written into the source.

Detection is `pyengineer.redaction.find_secrets`, the one detector the agent also uses to redact what it sends,
so a secret is recognised the same way everywhere. This rule only places the matches and suggests where the
value should come from in this project.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator

from pyengineer.engine.code_kinds import is_example_path, is_test_path
from pyengineer.engine.import_edits import need_module
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.source import ParsedSource
from pyengineer.engine.syntax import SyntaxIndex, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Range, Severity
from pyengineer.lines import line_ending
from pyengineer.redaction import (
    ASSIGNMENT_KIND,
    SecretMatch,
    find_secrets,
    is_placeholder,
    secret_name_kind,
)


class _Offsets:
    """Convert string offsets of a text to (0-based line, code-point column)."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        for i, char in enumerate(text):
            if char == "\n":
                self.starts.append(i + 1)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]


def _env_name(match: SecretMatch) -> str:
    base = (match.name or match.kind).rsplit(".", 1)[-1]
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base)
    return re.sub(r"\W+", "_", base).strip("_").upper() or "SECRET"


def _literal_at(index: SyntaxIndex, start: tuple[int, int], end: tuple[int, int]) -> ast.Constant | None:
    """The string literal that holds the secret found from `start` to `end` ((line, column) pairs), if any."""
    for node in index.of_type(ast.Constant):
        if not isinstance(node.value, str):
            continue
        span = index.range(node)
        if (span.start.line, span.start.character) <= start and end <= (span.end.line, span.end.character):
            parent = index.parent(node)
            return None if isinstance(parent, ast.JoinedStr) else node
    return None


def _scanned(source: ParsedSource) -> tuple[str, int]:
    """The text to look for secrets in and its first line: the whole file, or the lines a rule re-run is
    focused on (an edit inside one function re-checks that function alone)."""
    if source.focus is None:
        return source.text, 0
    end = line_ending(source.text)
    if not end:
        return source.text, 0  # mixed line ends: the lines alone cannot rebuild the text; scan it all
    first, last = source.focus
    return end.join(source.lines[first - 1 : last]) + end, first - 1


def _where_from(inp: RuleInput) -> str:
    if inp.context.uses("django"):
        return "read it from the environment in settings.py (`os.environ[...]`, or django-environ)"
    if "pydantic_settings" in inp.source.imported_top_levels:
        return "declare it as a field of your pydantic `BaseSettings` class and set it in the environment"
    if inp.context.uses("pydantic") and inp.context.uses("fastapi"):
        return "load it with pydantic-settings (`BaseSettings`) from the environment or a git-ignored `.env`"
    return "read it from the environment (`os.environ[...]`) or a secret manager"


# Token formats that are secret by their shape alone, whoever wrote them and wherever: reported in test and
# example code too (a live vendor key in a fixture is still live). The others (assignments to secret-sounding
# names, URL passwords, JWTs, Basic headers) are fixtures and demo values there, measured on the corpus
# (bench/precision): every one of them in test code was a fake.
_VENDOR_KINDS = frozenset(
    {
        "aws-access-key-id",
        "aws-secret-access-key",
        "gcp-api-key",
        "gcp-oauth-client-secret",
        "github-token",
        "gitlab-token",
        "anthropic-api-key",
        "openai-api-key",
        "slack-token",
        "slack-webhook",
        "stripe-key",
        "npm-token",
        "pypi-token",
        "huggingface-token",
        "sendgrid-key",
    }
)
# A value shaped like a name (`add_title`, `mlflow.trace.session`, `tests/page.html`, `MASTER_ADDR`) is the
# name of a field, a key or an environment variable, not a credential.
_KEY_LIKE = re.compile(
    r"[a-z][a-z0-9]*(?:[._\-/:]+[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+"
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"  # a dotted path: `feast.permissions.auth_model.NoAuthConfig`
    r"|https?://[^\s:@/]+(?::\d+)?(?:/\S*)?"  # a URL with no credentials in it
)
_NOT_REAL_WORDS = frozenset({"legacy", "fake", "dummy", "mock", "example", "sample", "placeholder"})
# Keyword arguments whose strings document a field: `Field(examples=[{"password": "s3cr3t"}])`.
_DOCUMENTING_KEYWORDS = frozenset({"examples", "example", "description", "help", "help_text", "doc"})
_LOCAL_HOSTS = frozenset(
    {"localhost", "127.0.0.1", "0.0.0.0", "::1", "example.com", "example.org", "host", ""}
)
_DEMO_PASSWORDS = frozenset({"tiger", "password", "pass", "secret", "pw", "pwd", "passwd", "test"})


def _secret_looking(value: str) -> bool:
    """Shaped like a generated token: no spaces, long, letters and digits (or very long)."""
    if any(c.isspace() for c in value) or len(value) < 12:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return (has_digit and has_alpha) or len(value) >= 32


def _is_docstring(index: SyntaxIndex, literal: ast.Constant) -> bool:
    parent = index.parent(literal)
    return isinstance(parent, ast.Expr)


def _documents(index: SyntaxIndex, literal: ast.Constant) -> bool:
    """The literal is inside a documenting keyword argument (`examples=[...]`, `help="..."`)."""
    for ancestor in index.ancestors(literal):
        if isinstance(ancestor, ast.keyword):
            return ancestor.arg in _DOCUMENTING_KEYWORDS
        if isinstance(ancestor, ast.stmt):
            return False
    return False


def _credible_assignment(match: SecretMatch, value: str) -> bool:
    """A literal assigned to a secret-sounding name that looks like a secret, not like the name of one."""
    name = match.name or ""
    kind = secret_name_kind(name)
    if kind is None or is_placeholder(value) or _KEY_LIKE.fullmatch(value):
        return False
    if value.lower().replace("-", "_") == name.rsplit(".", 1)[-1].lower():
        return False  # `CLIENT_SECRET = "client_secret"`: the field's own name
    words = set(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_").split("_"))
    if words & _NOT_REAL_WORDS:
        return False  # the name says the value is not a live one (`_LEGACY_DEFAULT_ADMIN_PASSWORD`, `FAKE_TOKEN`)
    if kind == "password":
        return len(value) >= 4 and " " not in value.strip()  # with spaces it is prose (`*_description`)
    return _secret_looking(value)


def _credible_url_password(literal: ast.Constant) -> bool:
    """`postgresql://app:s3cr3t@db.internal/app`, not a demo URL on localhost with `scott:tiger`."""
    value = literal.value if isinstance(literal.value, str) else ""
    if any(c.isspace() for c in value.strip()):
        return False  # a sentence that mentions a URI form (`'models://scope:prefix@databricks/...'`)
    at = value.find("@")
    if at < 0:
        return True
    credentials = value[:at].rsplit("/", 1)[-1]
    password = credentials.partition(":")[2]
    host = value[at + 1 :].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    if not password or password.lower() in _DEMO_PASSWORDS or is_placeholder(password):
        return False
    return host not in _LOCAL_HOSTS and not host.endswith(
        (".example.com", ".example.org", ".local", ".localhost")
    )


def _phrase_secrets(index: SyntaxIndex, taken: set[int]) -> Iterator[tuple[ast.Constant, str]]:
    """`SECRET: str = "super secret jwt secret"`: a phrase assigned to a `*SECRET*` name. The shared detector
    wants token-shaped values (phrases are prose too often), but a phrase is a secret when the name says so."""
    statements: list[ast.Assign | ast.AnnAssign] = [*index.of_type(ast.Assign), *index.of_type(ast.AnnAssign)]
    for node in statements:
        value = node.value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)) or id(value) in taken:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = (
                target.id
                if isinstance(target, ast.Name)
                else target.attr
                if isinstance(target, ast.Attribute)
                else ""
            )
            words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().split("_")
            text = value.value
            if (
                "secret" in words
                and secret_name_kind(name) == "secret"
                and len(text) >= 8
                and not is_placeholder(text)
                and not _KEY_LIKE.fullmatch(text)
                and text.lower().replace(" ", "_") != name.lower()
            ):
                yield value, name
                break


@rule(
    "PE802",
    "hard-coded-secret",
    "A secret (API key, token, password) is written into the source",
    severity=Severity.ERROR,
    ruff_equivalent="S105, S106, S107",
    local=True,
)
def hard_coded_secret(inp: RuleInput) -> Iterator[Finding]:
    text, first_line = _scanned(inp.source)
    # Values found by the entropy test alone are redacted for the LLM but are not findings: too many are ids.
    matches = find_secrets(text, guesses=False)
    if not matches:
        return
    index = syntax_index(inp.source)
    offsets = _Offsets(text)
    in_tests = is_test_path(inp.source.relative) or is_example_path(inp.source.relative)
    taken: set[int] = set()
    for match in matches:
        line, col = offsets.position(match.start)
        end_line, end_col = offsets.position(match.end)
        line += first_line
        end_line += first_line
        literal = _literal_at(index, (line, col), (end_line, end_col)) if index is not None else None
        if not _credible(index, match, literal, text[match.start : match.end], in_tests):
            continue
        if literal is not None:
            taken.add(id(literal))
        yield _finding(inp, index, match, literal, (line, col, end_line, end_col), in_tests)
    if index is not None and not in_tests:
        for literal, name in _phrase_secrets(index, taken):
            span = index.range(literal)
            if inp.source.focus is not None and not (
                inp.source.focus[0] - 1 <= span.start.line <= inp.source.focus[1] - 1
            ):
                continue
            match = SecretMatch(ASSIGNMENT_KIND, 0, 0, name)
            where = (span.start.line, span.start.character + 1, span.end.line, span.end.character - 1)
            yield _finding(inp, index, match, literal, where, in_tests)


def _credible(
    index: SyntaxIndex | None, match: SecretMatch, literal: ast.Constant | None, value: str, in_tests: bool
) -> bool:
    """Whether a match of the shared (deliberately broad: it redacts) detector is worth a finding here."""
    if (
        index is not None
        and literal is not None
        and (_is_docstring(index, literal) or _documents(index, literal))
    ):
        return False  # examples in documentation (`sk-1234567890abcdef...` in a docstring) are fakes
    if match.kind in _VENDOR_KINDS:
        return True
    if in_tests:
        return False
    if index is None:
        return True  # a file that does not parse: the text is all there is
    # In Python, a secret is a string literal: not a comment, not `password=password2`.
    if literal is None:
        return False
    if match.kind == ASSIGNMENT_KIND:
        # The whole literal is the value (not `"friends?access_token=..."` inside a longer string).
        return literal.value == value and _credible_assignment(match, value)
    if match.kind == "url-password":
        return _credible_url_password(literal)
    return True


def _finding(
    inp: RuleInput,
    index: SyntaxIndex | None,
    match: SecretMatch,
    literal: ast.Constant | None,
    where: tuple[int, int, int, int],
    in_tests: bool,
) -> Finding:
    line, col, end_line, end_col = where
    what = f"assigned to {match.name}" if match.name else "in the code"
    kind = "" if match.kind == ASSIGNMENT_KIND else f" (looks like a {match.kind.replace('-', ' ')})"
    fixes: tuple[Fix, ...] = ()
    variable = _env_name(match)
    if index is not None and literal is not None:
        os_module = need_module(index, "os")
        edits = [
            Edit(
                path=inp.source.path,
                range=index.range(literal),
                new_text=f'{os_module.name}.environ["{variable}"]',
            )
        ]
        if os_module.edit is not None:
            edits.append(os_module.edit)
        fixes = (Fix(title=f'Read it from os.environ["{variable}"]', edits=tuple(edits), preferred=True),)
    return inp.report(
        "PE802",
        message=f"Hard-coded secret {what}{kind}",
        detail=(
            "Anyone who can read the repository can use it, and it stays in git history. "
            f"{_where_from(inp)[0].upper()}{_where_from(inp)[1:]}; if it was ever committed, rotate it."
        ),
        range=Range.of(line, col, end_line, end_col),
        severity=Severity.WARNING if in_tests else None,  # a test fixture's fake key is less urgent
        fixes=fixes,
        data={"kind": match.kind, "name": match.name, "variable": variable},
    )
