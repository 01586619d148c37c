"""Property tests: the tolerant import scanner never crashes, and on valid code it agrees with `ast` exactly."""

from __future__ import annotations

import ast

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyengineer.lines import source_lines as split_lines
from pyengineer.workspace.imports import imports_from_tokens, imports_from_tree, scan_imports

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MODULES = st.sampled_from(["torch", "torch.nn", "os", "a.b.c", "sklearn", "np", "pandas", "x_y", "ünï"])
ALIASES = st.sampled_from(["", " as nn", " as _x"])


@st.composite
def import_statement(draw: st.DrawFn) -> str:
    """One simple statement that imports (on one or more physical lines)."""
    module = draw(MODULES)
    other = draw(MODULES)
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return f"import {module}{draw(ALIASES)}"
    if kind == 1:
        return f"import {module}{draw(ALIASES)}, {other}{draw(ALIASES)}"
    if kind == 2:
        return f"from {module} import name{draw(ALIASES)}"
    if kind == 3:
        return f"from {module} import (\n    a,\n    b as c,\n)"
    if kind == 4:
        return f"import {module}, \\\n    {other}"
    if kind == 5:
        return f"from {module} \\\n    import name"
    if kind == 6:
        return f"importlib.import_module({module!r})"
    if kind == 7:
        return f"mod = __import__({module!r})"
    if kind == 8:
        return f"from . import {module.split('.')[0]}"
    if kind == 9:
        return f"from .{module} import name"
    if kind == 10:
        return f"import_module({module!r}, package)"
    return f"import {module} as a, {other}"


OTHER_STATEMENTS = st.sampled_from(
    [
        "x = 1",
        "print('import torch')",
        "s = 'from torch import nn'",
        "pass  # import torch",
        "y = (1,\n     2)",
        "z = [\n    'import os',\n]",
        "pass",
        "value = obj.import_module",
        'doc = """\nimport torch\n"""',
        "f(__import__)",
        "x = import_module(name)",
        "y = 1 \x0c+ 2",  # a form feed is whitespace to Python, a line break to str.splitlines
        "é = 'ü'; z = 3",
    ]
)


def simple_statement() -> st.SearchStrategy[str]:
    return st.one_of(import_statement(), OTHER_STATEMENTS)


@st.composite
def simple_line(draw: st.DrawFn) -> str:
    """A simple statement, or several joined by semicolons."""
    first = draw(simple_statement())
    if "\n" in first or "#" in first or not draw(st.booleans()):
        return first
    second = draw(import_statement())
    if "\n" in second:
        return first
    return f"{first}; {second}"


HEADERS = st.sampled_from(
    [
        "def f():",
        "async def g(a, b=1):",
        "class C:",
        "if TYPE_CHECKING:",
        "if typing.TYPE_CHECKING:",
        "if (TYPE_CHECKING):",
        "if x:",
        "try:",
        "for i in range(3):",
        "while False:",
        "with ctx() as c:",
    ]
)


def indent(block: list[str], by: str = "    ") -> list[str]:
    return [by + line if line else line for piece in block for line in piece.split("\n")]


def block(depth: int) -> st.SearchStrategy[list[str]]:
    """A list of statements (each possibly multi-line), nested up to `depth` levels."""
    if depth == 0:
        return st.lists(simple_line(), min_size=1, max_size=4)
    return st.lists(st.one_of(simple_line().map(lambda s: [s]), compound(depth)), min_size=1, max_size=4).map(
        lambda parts: [line for part in parts for line in part]
    )


@st.composite
def compound(draw: st.DrawFn, depth: int) -> list[str]:
    header = draw(HEADERS)
    one_line = draw(simple_line())
    if draw(st.booleans()) and "\n" not in one_line:
        lines = [f"{header} {one_line}"]  # the one-line form: `if TYPE_CHECKING: import x`
    else:
        lines = [header, *indent(draw(block(depth - 1)))]
    if header == "try:":
        lines += ["except ImportError:", *indent(draw(block(depth - 1)))]
        if draw(st.booleans()):
            lines += ["finally:", "    pass"]
    elif header.startswith("if "):
        for _ in range(draw(st.integers(0, 2))):
            lines += [
                draw(st.sampled_from(["elif TYPE_CHECKING:", "elif y:"])),
                *indent(draw(block(depth - 1))),
            ]
        if draw(st.booleans()):
            lines += ["else:", *indent(draw(block(depth - 1)))]
    return lines


PROGRAMS = st.tuples(st.booleans(), block(3), st.sampled_from(["\n", "\r\n"])).map(
    lambda t: (("from __future__ import annotations\n" if t[0] else "") + "\n".join(t[1]) + "\n").replace(
        "\n", t[2]
    )
)


def tree_records(source: str) -> list[tuple[object, ...]]:
    tree = ast.parse(source)
    return [
        (r.module, r.line, r.col, r.end_col, r.type_only, r.dynamic)
        for r in imports_from_tree(tree, split_lines(source))
    ]


def token_records(source: str) -> list[tuple[object, ...]]:
    return [(r.module, r.line, r.col, r.end_col, r.type_only, r.dynamic) for r in imports_from_tokens(source)]


@FAST
@given(PROGRAMS)
@example("import torch.nn as nn\nfrom torch import nn\n")
@example("if TYPE_CHECKING:\n    import torch\nelse:\n    import numpy\nimport sklearn\n")
@example("if TYPE_CHECKING: import torch\nimport numpy\n")
@example("def f():\n    try:\n        import torch\n    except ImportError:\n        torch = None\n")
@example("x = 1; import torch; from sklearn import svm\n")
def test_tolerant_scanner_matches_ast_on_valid_code(source: str) -> None:
    compile(source, "<generated>", "exec")  # the grammar only makes valid programs
    assert token_records(source) == tree_records(source)


@FAST
@given(st.text(max_size=300))
@example("\rü")  # Python 3.12's tokenizer raised UnicodeDecodeError on this
@example("\x00import torch")
@example(" 0\n\x00")  # Python 3.13's tokenizer raised SystemError on this
def test_tolerant_scanner_never_crashes_on_random_text(text: str) -> None:
    records = imports_from_tokens(text)
    for record in records:
        assert record.module
        assert record.line >= 1
    scan_imports(text)  # the combined entry point neither


PIECES = st.sampled_from(
    [
        "import ",
        "from ",
        " import ",
        "torch",
        ".",
        "nn",
        " as ",
        "(",
        ")",
        "[",
        "'",
        '"""',
        "\\",
        "\n",
        "    ",
        "\t",
        ":",
        ";",
        ",",
        "if TYPE_CHECKING:",
        "def f(",
        "importlib.import_module(",
        "#",
        "\x00",
        "\r",
        "ü",
    ]
)


@FAST
@given(st.lists(PIECES, max_size=40).map("".join))
def test_tolerant_scanner_never_crashes_on_python_like_fragments(text: str) -> None:
    for record in imports_from_tokens(text):
        assert record.module and not record.module.startswith(".")
