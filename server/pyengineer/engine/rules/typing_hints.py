"""PE5xx: type hints on the public surface of a module."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from pathlib import PurePosixPath

from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.source import in_test_code
from pyengineer.engine.syntax import FunctionNode, SyntaxIndex, syntax_index
from pyengineer.engine.web_endpoints import FLASK_DECORATORS, endpoint_for
from pyengineer.findings import Edit, Finding, Fix, Range, Severity

_SKIPPED_DECORATORS = frozenset({"override", "overload", "fixture", "singledispatchmethod", "no_type_check"})
# A signature the project silenced for its checker (`def f(x):  # type: ignore[no-untyped-def]`).
_SILENCED = ("# type: ignore", "# pyright: ignore", "#type: ignore")
_STUB_DECORATORS = frozenset({"abstractmethod", "abstractproperty"})
# Dunders whose return type every checker knows (mypy and pyright check them against object's): asking for
# `-> None` on `__init__` or `-> str` on `__repr__` is noise.
_KNOWN_RETURNS = frozenset(
    {
        "__init__",
        "__post_init__",
        "__init_subclass__",
        "__set_name__",
        "__setattr__",
        "__delattr__",
        "__setitem__",
        "__delitem__",
        "__set__",
        "__delete__",
        "__del__",
        "__str__",
        "__repr__",
        "__format__",
        "__bytes__",
        "__bool__",
        "__len__",
        "__hash__",
        "__contains__",
        "__eq__",
        "__ne__",
        "__enter__",
        "__exit__",
        "__aenter__",
        "__aexit__",
    }
)
# unittest calls these by name, with no arguments but self.
_UNITTEST_METHODS = frozenset(
    {
        "setUp",
        "tearDown",
        "setUpClass",
        "tearDownClass",
        "setUpTestData",
        "asyncSetUp",
        "asyncTearDown",
        "setUpModule",
        "tearDownModule",
    }
)


def _decorator_names(func: FunctionNode) -> set[str]:
    names = set()
    for decorator in func.decorator_list:
        node = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return names


def _is_generated(index: SyntaxIndex, relative: str) -> bool:
    """An alembic revision or a Django migration: generated once, never called by the project's own code."""
    parts = PurePosixPath(relative).parts
    for stmt in index.tree.body:
        assigned = (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "down_revision" for t in assigned):
            return True  # alembic: `revision = ...`, `down_revision = ...`, upgrade() and downgrade()
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Migration" and "migrations" in parts:
            return True
    return False


def _is_test_case(cls: ast.AST | None) -> bool:
    if not isinstance(cls, ast.ClassDef):
        return False
    for base in cls.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name.endswith(("TestCase", "Test", "Tests")):
            return True
    return cls.name.startswith("Test")


def _silenced(index: SyntaxIndex, func: FunctionNode) -> bool:
    """The signature carries a `# type: ignore` / `# pyright: ignore` comment: the project said so already."""
    last = func.body[0].lineno - 1 if func.body else func.lineno
    for line in index.source.lines[func.lineno - 1 : max(last, func.lineno)]:
        if any(marker in line for marker in _SILENCED):
            return True
    return False


def _overload_implementation(index: SyntaxIndex, func: FunctionNode) -> bool:
    """The implementation after `@overload` variants: the overloads are its annotations."""
    parent = index.parent(func)
    body = getattr(parent, "body", [])
    return any(
        isinstance(other, ast.FunctionDef | ast.AsyncFunctionDef)
        and other is not func
        and other.name == func.name
        and "overload" in _decorator_names(other)
        for other in body
    )


def _flask_view(index: SyntaxIndex, func: FunctionNode) -> bool:
    """`@bp.route(...)` / `@bp.get(...)` in a Flask project, the blueprint imported from another module."""
    for decorator in func.decorator_list:
        if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute):
            if decorator.func.attr in FLASK_DECORATORS | {"errorhandler", "before_request", "after_request"}:
                return True
    return False


def _public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _in_scope(index: SyntaxIndex, func: FunctionNode, mode: str) -> tuple[bool, bool]:
    """(checked, is_method) for `func` under the `type_hints` setting."""
    parent = index.parent(func)
    is_method = isinstance(parent, ast.ClassDef)
    if mode == "all":
        return True, is_method
    if parent is index.tree:
        return _public(func.name), False
    if isinstance(parent, ast.ClassDef) and index.parent(parent) is index.tree:
        return _public(func.name) and not parent.name.startswith("_"), True
    return False, is_method


def _is_stub(func: FunctionNode) -> bool:
    """A body that is only a docstring, `...`, `pass` or `raise NotImplementedError`: meant to be overridden."""
    for stmt in func.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or `...`
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            target = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                continue
        return False
    return True


def _returns_nothing(index: SyntaxIndex, func: FunctionNode) -> bool:
    """True if `func` provably returns None: no `return value`, no `yield`, not a stub to override."""

    def compute() -> frozenset[int]:
        # ids of the functions that return a value or yield, from one pass over the shared index
        busy: set[int] = set()
        for ret in index.of_type(ast.Return):
            if ret.value is not None and not (
                isinstance(ret.value, ast.Constant) and ret.value.value is None
            ):
                owner = index.function(ret)
                if owner is not None:
                    busy.add(id(owner))
        for kind in (ast.Yield, ast.YieldFrom):
            for node in index.of_type(kind):
                owner = index.function(node)
                if owner is not None:
                    busy.add(id(owner))
        return frozenset(busy)

    if id(func) in index.memo("pe501.value-returning", compute):
        return False
    if _decorator_names(func) & _STUB_DECORATORS:
        return False
    return not (isinstance(index.parent(func), ast.ClassDef) and _is_stub(func))


def _return_annotation_position(index: SyntaxIndex, func: FunctionNode) -> tuple[int, int] | None:
    """(0-based line, column) just after the `)` closing the parameters of `func`."""
    first = func.lineno
    last = func.body[0].lineno if func.body else first
    lines = index.source.lines[first - 1 : max(last, first)]
    header = "\n".join(lines) + "\n"
    depth = 0
    seen_def = False
    close: tuple[int, int] | None = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(header).readline):
            if tok.type == tokenize.NAME and tok.string == "def" and not seen_def:
                seen_def = True
            elif not seen_def or tok.type != tokenize.OP:
                continue
            elif tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
                if depth == 0 and tok.string == ")":
                    close = (first - 1 + tok.end[0] - 1, tok.end[1])
            elif tok.string == ":" and depth == 0:
                return close
            elif tok.string == "->" and depth == 0:
                return None
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None


def _missing(func: FunctionNode, is_method: bool) -> tuple[list[str], bool]:
    args = func.args
    params = [*args.posonlyargs, *args.args]
    static = "staticmethod" in _decorator_names(func)
    if is_method and not static and params:
        params = params[1:]  # self / cls
    every = [
        *params,
        *([args.vararg] if args.vararg else []),
        *args.kwonlyargs,
        *([args.kwarg] if args.kwarg else []),
    ]
    missing = [p.arg for p in every if p.annotation is None]
    no_return = func.returns is None and func.name not in _KNOWN_RETURNS
    return missing, no_return


@rule(
    "PE501",
    "missing-type-hints",
    "A public function or method has no type hints, in code the project type-checks (see `type-hints`)",
    severity=Severity.INFO,
    ruff_equivalent="ANN001, ANN201, ANN202, ANN204 (flake8-annotations)",
    local=True,
)
def missing_type_hints(inp: RuleInput) -> Iterator[Finding]:
    mode = inp.settings.type_hints
    if mode == "off":
        return
    relative = inp.source.relative
    if mode == "auto" and not inp.context.annotations_required(relative):
        return  # the project's own type checking does not ask for annotations here
    index = syntax_index(inp.source)
    if index is None or _is_generated(index, relative):
        return
    test_file = in_test_code(relative)
    flask = inp.context.uses("flask")
    functions: list[FunctionNode] = [*index.of_type(ast.FunctionDef), *index.of_type(ast.AsyncFunctionDef)]
    functions.sort(key=lambda f: (f.lineno, f.col_offset))
    for func in functions:
        checked, is_method = _in_scope(index, func, mode)
        if not checked or _decorator_names(func) & _SKIPPED_DECORATORS:
            continue
        if (test_file and func.name.startswith("test")) or func.name.startswith("pytest_"):
            continue  # pytest finds tests and hooks (plugins too) by name; nobody calls them with wrong types
        if _silenced(index, func) or _overload_implementation(index, func):
            continue
        if (
            is_method
            and _is_test_case(index.parent(func))
            and (func.name.startswith("test") or func.name in _UNITTEST_METHODS)
        ):
            continue  # unittest runs these by name
        missing, no_return = _missing(func, is_method)
        if no_return and flask and _flask_view(index, func):
            no_return = False  # a Flask view returns whatever Flask turns into a response
        if no_return and endpoint_for(index, func) is not None:
            # The framework consumes an endpoint's return value: PE403 asks for a response model instead.
            no_return = False
        if not missing and not no_return:
            continue
        parts = []
        if missing:
            shown = ", ".join(missing) if len(missing) <= 2 else f"{len(missing)} parameters"
            parts.append(
                ("parameter " if len(missing) == 1 else "" if len(missing) > 2 else "parameters ") + shown
            )
        if no_return:
            parts.append("the return type")
        kind = "method" if is_method else "function"
        public = "public " if _public(func.name) and mode != "all" else ""
        fixes: list[Fix] = []
        if no_return and _returns_nothing(index, func):
            position = _return_annotation_position(index, func)
            if position is not None:
                line, col = position
                fixes.append(
                    Fix(
                        title="Add -> None (the function returns nothing)",
                        edits=(Edit(path=inp.source.path, range=Range.of(line, col), new_text=" -> None"),),
                        safe=True,
                        preferred=True,
                    )
                )
        yield inp.report(
            "PE501",
            message=f"{f'{public}{kind}'.capitalize()} {func.name} has no type hints for {' and '.join(parts)}",
            detail=(
                (f"Not annotated: {', '.join(f'`{m}`' for m in missing)}. " if len(missing) > 2 else "")
                + "Callers and mypy cannot check how it is used, and the project type-checks this code."
            ),
            range=index.name_range(func),
            fixes=tuple(fixes),
            data={"function": func.name, "missing": missing, "return": no_return},
        )
