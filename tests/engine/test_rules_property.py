"""Every rule on generated valid modules: none may raise (a rule that raises loses its findings for the file).

The modules are built from small composable snippets, written the way black formats code: multi-line lambdas
inside `apply(..., axis=1)`, comprehensions, decorators, `match`, walrus, nested f-strings, async code,
classes, try/except. Each rule's check runs directly (not through analyze(), which catches and reports), on
the whole module and, for local rules, on one function alone as the editor's incremental path does. The safe
fixes they offer must leave a module that still compiles.
"""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyengineer.actions.edits import apply_text_edits
from pyengineer.config import Settings
from pyengineer.engine.registry import Rule, RuleInput, load_rules
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.git.state import GitState
from pyengineer.workspace.context import WorkspaceContext

HEADER = """\
import asyncio
import os
import sqlite3
import time
from datetime import datetime
from typing import Annotated

import pandas as pd
import requests
from fastapi import APIRouter, Depends, FastAPI, Request

app = FastAPI()
router = APIRouter()
"""

# Statements that fit in any function body (sync or async). `{v}` is a generated variable name.
ANY_STATEMENTS = [
    'df["total"] = df.apply(\n    lambda row: row["price"]\n    * row["quantity"],\n    axis=1,\n)',
    'df["label"] = df.apply(\n    lambda r: (\n        "big"\n        if r["size"] > 10\n        else "small"\n    ),\n    axis=1,\n)',
    'for index, row in df.iterrows():\n    df.at[index, "total"] = row["a"] + row["b"]',
    'totals = [row["a"] * 2 for _, row in df.iterrows()]',
    "{v} = {{key: value for key, value in items.items() if value}}",
    "{v} = sum(x * x for x in range(10) if x % 2)",
    "if ({v} := len(items)) > 10:\n    print({v})",
    'match command:\n    case {{"action": "go", **rest}}:\n        print(rest)\n    case [first, *others]:\n        print(first, others)\n    case Point(x=0, y=0) | None:\n        pass\n    case str() as text if text:\n        print(text)\n    case _:\n        pass',
    "{v} = f\"{{name!r:>{{width}}}} {{f'{{value:.2f}}'}} {{'nested'}}\"",
    'cursor.execute(f"SELECT * FROM users WHERE id = {{user_id}}")',
    "cursor.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)",
    'cursor.execute(\n    "UPDATE t SET a = "\n    + value\n    + " WHERE id = 1"\n)',
    "time.sleep(0.1)",
    "{v} = requests.get(url, timeout=5)",
    "{v} = requests.Session().post(url, json={{}})",
    "{v} = sqlite3.connect(path).execute(query).fetchall()",
    "{v} = open(path).read()",
    "{v} = datetime.utcnow()",
    "{v} = datetime.now()",
    'password = "hunter2-but-longer-secret"',
    '{v}_key = "permission_by_codename"',
    'token = os.environ["API_TOKEN"]',
    "try:\n    {v} = int(text)\nexcept ValueError:\n    pass",
    'try:\n    {v} = risky()\nexcept Exception as exc:\n    raise RuntimeError("failed")',
    "try:\n    {v} = risky()\nexcept (KeyError, IndexError):\n    {v} = None\nelse:\n    print({v})\nfinally:\n    cleanup()",
    "try:\n    pass\nexcept:  # noqa: E722\n    pass",
    "with open(path) as handle, open(other) as second:\n    {v} = handle.read() + second.read()",
    'assert {v} is not None, "message"',
    "del {v}",
    "{v} = lambda x, *a, k=1, **kw: (x, a, k, kw)",
    "{v} = [\n    item\n    for group in groups\n    for item in group\n    if item\n]",
    "{v}: Annotated[int, Depends(get_user)] = 1",
    "import torch\n{v} = torch.tensor([1.0])",
    "{v} = 'a' \\\n    'b'",
    '{v} = """\nmultiline\n  text with def fake():\n"""',
    'print(*args, sep="", **kwargs)',
    '{v} = pd.read_csv(path).groupby("a").agg({{"b": "sum"}})',
    "return {v}",
    'raise ValueError("bad") from None',
]
SYNC_STATEMENTS = ["yield {v}", "{v} = [(yield)]"]
ASYNC_STATEMENTS = [
    "await asyncio.sleep(0)",
    "{v} = await request.json()",
    "body = await request.body()",
    "async with session.get(url) as response:\n    {v} = await response.text()",
    "async for chunk in stream():\n    print(chunk)",
    "{v} = [x async for x in aiter()]",
    "{v} = await asyncio.gather(*(fetch(u) for u in urls))",
]
if sys.version_info >= (3, 12):
    # PEP 701: the same quotes inside a replacement field, backslashes and comments in them.
    ANY_STATEMENTS += [
        '{v} = f"{{"nested " + f"{{value}}"}}"',
        "{v} = f\"{{'\\n'.join(lines)}}\"",
    ]

MODULE_STATEMENTS = [s for s in ANY_STATEMENTS if not s.startswith(("return", "raise"))]

DECORATORS = [
    '@app.get("/items/{{item_id}}")',
    '@app.post("/items")',
    '@router.put("/users/{{user_id}}", dependencies=[Depends(auth)])',
    "@functools.lru_cache(maxsize=None)",
    '@pytest.mark.parametrize(\n    "value",\n    [\n        1,\n        2,\n    ],\n)',
    "@staticmethod",
    "@property",
    "@login_required",
    "@require_POST",
    "@decorator",
]
PARAMETERS = [
    "",
    "request: Request",
    "item_id: int, q: str | None = None",
    "self",
    "x, /, y, *, z=1",
    "*args, **kwargs",
    "user: Annotated[User, Depends(get_current_user)], payload: dict",
    "df: pd.DataFrame",
]
NAMES = ["total", "result", "value", "data", "items_", "response_", "x1", "_private", "Item"]
FILES = [
    "app/api.py",
    "app/routers/users.py",
    "tests/test_api.py",
    "shop/migrations/0001_initial.py",
    "pipelines/etl.py",
    "service/tests.py",
    "conftest.py",
]

names = st.sampled_from(NAMES)


def indent(text: str, prefix: str = "    ") -> str:
    return textwrap.indent(text, prefix, lambda line: True)


@st.composite
def statement(draw: st.DrawFn, is_async: bool) -> str:
    pool = ANY_STATEMENTS + (ASYNC_STATEMENTS if is_async else SYNC_STATEMENTS)
    return draw(st.sampled_from(pool)).format(v=draw(names))


@st.composite
def body(draw: st.DrawFn, is_async: bool, depth: int = 0) -> str:
    parts = draw(st.lists(statement(is_async), min_size=1, max_size=4))
    if depth < 1 and draw(st.booleans()):
        parts.append(draw(function(depth + 1)))  # a nested function
    if depth < 1 and draw(st.integers(0, 3)) == 0:
        parts.append("if condition:\n" + indent(draw(body(is_async, depth + 1))))
    return "\n".join(parts)


@st.composite
def function(draw: st.DrawFn, depth: int = 0, method: bool = False) -> str:
    is_async = draw(st.booleans())
    name = draw(st.sampled_from(["handler", "get_item", "create_user", "test_things", "load", "__init__"]))
    decorators = draw(st.lists(st.sampled_from(DECORATORS), max_size=2))
    params = draw(st.sampled_from(PARAMETERS))
    if method and not params.startswith("self"):
        params = "self" + (", " + params if params and not params.startswith(("x, /",)) else "")
    returns = draw(st.sampled_from(["", " -> None", " -> dict[str, int]", " -> int"]))
    head = f"{'async ' if is_async else ''}def {name}({params}){returns}:"
    docstring = draw(st.sampled_from(["", '"""Docstring: pass = "not a secret"."""\n']))
    text = "\n".join(d.format() for d in decorators)
    text = (text + "\n" if text else "") + head + "\n" + indent(docstring + draw(body(is_async, depth)))
    return text


@st.composite
def klass(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(["", "(BaseModel)", "(TestCase)", "(Generic[T], metaclass=Meta)"]))
    decorator = draw(st.sampled_from(["", "@dataclass(frozen=True)\n"]))
    members = draw(
        st.lists(
            st.one_of(
                function(method=True),
                st.sampled_from(
                    [
                        "name: str",
                        "count: int = 0",
                        'SECRET_KEY = "abc123abc123abc123"',
                        'class Meta:\n    ordering = ["name"]',
                    ]
                ),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return f"{decorator}class {draw(st.sampled_from(['Service', 'Item', 'TestApi']))}{base}:\n" + indent(
        "\n\n".join(members)
    )


@st.composite
def module_statement(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(MODULE_STATEMENTS)).format(v=draw(names))


@st.composite
def module(draw: st.DrawFn) -> str:
    blocks = draw(
        st.lists(
            st.one_of(function(), klass(), module_statement()),
            min_size=1,
            max_size=5,
        )
    )
    return HEADER + "\n\n" + "\n\n\n".join(blocks) + "\n"


def _context() -> WorkspaceContext:
    frameworks = sorted({f for r in load_rules().values() for f in r.frameworks} | {"pandas", "pytest"})
    git = GitState(
        is_repo=True, toplevel="/", branch="main", protected=True, head="abc1234", branches=("main",)
    )
    return WorkspaceContext(
        root="/project",
        python_project=True,
        python_project_reason="test",
        frameworks=tuple(frameworks),
        git=git,
    )


CONTEXT = _context()
SETTINGS = Settings(type_hints="all")


def _run(rule: Rule, source: ParsedSource, prior: tuple[Finding, ...] = ()) -> list[Finding]:
    return list(
        rule.check(RuleInput(source=source, context=CONTEXT, settings=SETTINGS, changed=True, prior=prior))
    )


def _first_function_lines(tree: ast.Module | None) -> tuple[int, int] | None:
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            return first, node.end_lineno
    return None


def _ensure_valid(text: str) -> None:
    # The generator must make valid modules: a module that does not compile would test the parse-error path.
    compile(text, "<generated>", "exec", dont_inherit=True)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(text=module(), relative=st.sampled_from(FILES))
def test_no_rule_raises_on_valid_modules(text: str, relative: str) -> None:
    _ensure_valid(text)
    source = ParsedSource(f"/project/{relative}", text, relative)
    assert source.tree is not None
    rules = list(load_rules().values())
    findings: list[Finding] = []
    for rule in rules:
        if not rule.late:
            findings.extend(_run(rule, source))
    for rule in rules:
        if rule.late:
            findings.extend(_run(rule, source, tuple(findings)))
    span = _first_function_lines(source.tree)
    if span is not None:
        focused = source.focused(*span)
        for rule in rules:
            if rule.local:
                _run(rule, focused)
    for finding in findings:
        for fix in finding.fixes:
            if fix.safe and fix.edits:
                fixed = apply_text_edits(text, fix.edits)
                try:
                    compile(fixed, "<fixed>", "exec", dont_inherit=True)
                except SyntaxError as exc:  # pragma: no cover - the message is the point
                    pytest.fail(f"{finding.code}'s safe fix {fix.title!r} broke the module: {exc}\n{fixed}")


def test_the_generator_reaches_every_snippet() -> None:
    """Each snippet compiles in a function of its kind, so the property test never feeds a broken module."""
    for snippet in ANY_STATEMENTS + SYNC_STATEMENTS:
        _ensure_valid(HEADER + "def f():\n" + indent(snippet.format(v="value")) + "\n")
    for snippet in ANY_STATEMENTS + ASYNC_STATEMENTS:
        _ensure_valid(HEADER + "async def f():\n" + indent(snippet.format(v="value")) + "\n")
