"""PE7xx: pandas code that works row by row instead of column by column."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import SyntaxIndex, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Severity

_ROW_ITERATORS = frozenset({"iterrows", "itertuples"})
_VECTOR_OPS = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
)
_FRAME = "__pyengineer_frame__"
_COMPREHENSIONS: tuple[type[ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp], ...] = (
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
# Wrappers a per-row comprehension passes through on its way into a column: `pd.Series([...])`.
_COLUMN_WRAPPERS = frozenset({"Series", "array", "asarray", "list", "Categorical"})


def _row_iteration(node: ast.expr) -> ast.Call | None:
    """`df.iterrows()` / `df.itertuples(...)`, or None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _ROW_ITERATORS
    ):
        return node
    return None


def _row_name(target: ast.expr, rows: ast.Call | None) -> str | None:
    """The row variable of `for i, row in df.iterrows()` / `for row in df.itertuples()`."""
    if rows is None or not isinstance(rows.func, ast.Attribute):
        return None
    if rows.func.attr == "iterrows":
        if isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name):
            return target.elts[1].id
        return None
    return target.id if isinstance(target, ast.Name) else None


def _is_column_arithmetic(expr: ast.expr, row: str) -> bool:
    """`row["a"] * row.b + 1`: arithmetic (or one comparison) on the row's columns, constants, outer names."""
    transformer = _RowToFrame(row)
    converted = transformer.visit(copy.deepcopy(expr))
    return transformer.ok and any(isinstance(n, ast.Subscript) for n in ast.walk(converted))


def _as_columns(expr: ast.expr, row: str, frame: str) -> str:
    """`expr` with the row's columns read from the frame instead, for a message."""
    converted = _RowToFrame(row).visit(copy.deepcopy(expr))
    return ast.unparse(converted).replace(_FRAME, frame)


def _cell_writes(loop: ast.For, row: str) -> list[tuple[str, ast.expr]]:
    """(column, value) of a loop body that only writes cells: `df.at[i, "total"] = row["a"] * row["b"]`.
    Empty unless every statement is such a write of column arithmetic."""
    writes: list[tuple[str, ast.expr]] = []
    for stmt in loop.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            return []
        target = stmt.targets[0]
        if not (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Attribute)
            and target.value.attr in ("at", "loc")
            and isinstance(target.slice, ast.Tuple)
            and len(target.slice.elts) == 2
        ):
            return []
        column = target.slice.elts[1]
        if not (isinstance(column, ast.Constant) and isinstance(column.value, str)):
            return []
        if not _is_column_arithmetic(stmt.value, row):
            return []
        writes.append((column.value, stmt.value))
    return writes if not loop.orelse else []


def _built_column(index: SyntaxIndex, comp: ast.expr) -> str | None:
    """The column a comprehension becomes (`df["x"] = [...]`, `df.assign(x=[...])`), as text; None if it does not."""
    node: ast.AST = comp
    parent = index.parent(node)
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _COLUMN_WRAPPERS:
            node, parent = parent, index.parent(parent)
    if isinstance(parent, ast.Assign) and parent.value is node:
        for target in parent.targets:
            if isinstance(target, ast.Subscript) or (
                isinstance(target, ast.Attribute) and target.attr not in ("index", "columns")
            ):
                column = target.slice if isinstance(target, ast.Subscript) else None
                if column is None or isinstance(column, ast.Constant | ast.Name | ast.Attribute):
                    return index.snippet(target, 40)
    if isinstance(parent, ast.keyword) and parent.arg:
        call = index.parent(parent)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "assign":
            return f"{index.snippet(call.func.value, 30)}[{parent.arg!r}]"
    return None


def _axis_is_rows(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "axis" and isinstance(kw.value, ast.Constant):
            return kw.value.value in (1, "columns")
    return False


class _RowToFrame(ast.NodeTransformer):
    """Rewrite `row["a"]` / `row.a` to a column of the frame; fails on anything that is not vectorizable."""

    def __init__(self, row: str) -> None:
        self.row = row
        self.ok = True

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == self.row:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                return ast.Subscript(
                    value=ast.Name(id=_FRAME, ctx=ast.Load()), slice=node.slice, ctx=ast.Load()
                )
        self.ok = False
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == self.row:
            column = ast.Constant(value=node.attr)
            return ast.Subscript(value=ast.Name(id=_FRAME, ctx=ast.Load()), slice=column, ctx=ast.Load())
        self.ok = False
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.row:
            self.ok = False  # the whole row used as a value
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        allowed = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.Load, ast.Name, *_VECTOR_OPS)
        if not isinstance(node, allowed):
            self.ok = False
            return node
        if isinstance(node, ast.Compare) and len(node.ops) != 1:
            self.ok = False  # a < b < c does not vectorize
        return super().generic_visit(node)


def _vectorized(index: SyntaxIndex, call: ast.Call) -> str | None:
    """`df.apply(lambda r: r["a"] * r["b"], axis=1)` -> `df["a"] * df["b"]`, when the lambda is plain arithmetic."""
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Lambda) or len(call.keywords) != 1:
        return None
    func = call.args[0]
    params = func.args
    if len(params.args) != 1 or params.vararg or params.kwarg or params.kwonlyargs or params.posonlyargs:
        return None
    assert isinstance(call.func, ast.Attribute)
    transformer = _RowToFrame(params.args[0].arg)
    # A copy of the lambda's own tree: re-parsing its text fails on a black-formatted body split over lines
    # (the continuation lines are indented, and only the call's parentheses made that legal).
    body = transformer.visit(copy.deepcopy(func.body))
    if not transformer.ok or not any(isinstance(n, ast.Subscript) for n in ast.walk(body)):
        return None
    frame = index.segment(call.func.value)
    if not isinstance(call.func.value, ast.Name | ast.Attribute | ast.Subscript):
        frame = f"({frame})"
    # Splice the columns into the lambda body's own text, so its quotes and spacing stay the user's.
    text = index.source.text
    offset_of = index.source.line_index.offset
    body_range = index.range(func.body)
    body_start = offset_of(body_range.start)
    pieces: list[str] = []
    cursor = body_start
    row = params.args[0].arg
    references = [
        n
        for n in ast.walk(func.body)
        if isinstance(n, ast.Subscript | ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id == row
    ]
    for ref in sorted(references, key=lambda n: (n.lineno, n.col_offset)):
        ref_range = index.range(ref)
        start = offset_of(ref_range.start)
        pieces.append(text[cursor:start])
        if isinstance(ref, ast.Subscript):
            pieces.append(f"{frame}[{index.segment(ref.slice)}]")
        else:
            pieces.append(f'{frame}["{ref.attr}"]')
        cursor = offset_of(ref_range.end)
    pieces.append(text[cursor : offset_of(body_range.end)])
    joined = "".join(pieces)
    # The body spread over lines was legal inside the call's parentheses; in the call's place it needs its own.
    return f"({joined})" if "\n" in joined or "\r" in joined else joined


@rule(
    "PE701",
    "pandas-row-loop",
    "A pandas DataFrame is processed row by row (`iterrows`, `itertuples`, `apply(axis=1)`)",
    severity=Severity.INFO,
    frameworks=("pandas",),
    local=True,
)
def pandas_row_loop(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None or not index.imports_module("pandas", "modin"):
        return
    # Narrowed by measurement: most row loops in real code do per-row work no column expression can do (an
    # LLM or database call per row, building documents, parsing JSON), so the rule reports only loops,
    # comprehensions and `apply(axis=1)` whose per-row value is plain arithmetic on the row's columns.
    for loop in index.of_type(ast.For):
        rows = _row_iteration(loop.iter)
        row = _row_name(loop.target, rows)
        if rows is None or row is None:
            continue
        assert isinstance(rows.func, ast.Attribute)
        writes = _cell_writes(loop, row)
        if not writes:
            continue
        frame = index.snippet(rows.func.value, 30)
        columns = list(dict.fromkeys(column for column, _ in writes))
        column, value = writes[0]
        example = f'{frame}["{column}"] = {_as_columns(value, row, frame)}'
        yield inp.report(
            "PE701",
            message=f"{frame}.{rows.func.attr}() loop fills columns cell by cell: use column arithmetic",
            detail=(
                f"The loop fills {', '.join(repr(c) for c in columns)} one cell at a time with arithmetic on the "
                "row's columns: typically 100x slower than the same arithmetic on whole columns. Instead: "
                f"`{example}`."
            ),
            range=index.range(rows),
            data={"iterator": rows.func.attr, "columns": columns},
        )
    for kind in _COMPREHENSIONS:
        for comp in index.of_type(kind):
            if len(comp.generators) != 1 or isinstance(comp, ast.DictComp):
                continue
            generator = comp.generators[0]
            rows = _row_iteration(generator.iter)
            row = _row_name(generator.target, rows)
            if rows is None or row is None or generator.ifs or not _is_column_arithmetic(comp.elt, row):
                continue
            built = _built_column(index, comp)
            if built is None:
                continue
            assert isinstance(rows.func, ast.Attribute)
            frame = index.snippet(rows.func.value, 30)
            yield inp.report(
                "PE701",
                message=f"{built} is built row by row over {frame}.{rows.func.attr}(): use column arithmetic",
                detail=(
                    "The comprehension does arithmetic on each row's columns: typically 100x slower than the same "
                    f"arithmetic on whole columns. Instead: `{built} = {_as_columns(comp.elt, row, frame)}`."
                ),
                range=index.range(comp),
                data={"iterator": rows.func.attr, "column": built},
            )
    for call in index.of_type(ast.Call):
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "apply" and _axis_is_rows(call)):
            continue
        frame = index.snippet(call.func.value, 30)
        vectorized = _vectorized(index, call)
        if vectorized is None:
            continue  # a function of the whole row: nothing shows a column expression would do
        fixes: tuple[Fix, ...] = ()
        if vectorized is not None:
            fixes = (
                Fix(
                    title=f"Replace with {' '.join(vectorized.split())}",
                    edits=(Edit(path=inp.source.path, range=index.range(call), new_text=vectorized),),
                    preferred=True,
                ),
            )
        hint = f" Here that is `{' '.join(vectorized.split())}`." if vectorized else ""
        yield inp.report(
            "PE701",
            message=f"{frame}.apply(..., axis=1) calls a Python function once per row: use a column expression",
            detail=f"A Python call per row is typically 100x slower than a vectorized column expression.{hint}",
            range=index.range(call),
            fixes=fixes,
            data={"vectorized": vectorized},
        )
