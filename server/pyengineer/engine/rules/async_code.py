"""PE3xx: blocking work inside coroutines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from pyengineer.engine.code_kinds import is_test_path
from pyengineer.engine.import_edits import need_module
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import FunctionNode, SyntaxIndex, assigned_names, assignment, syntax_index
from pyengineer.engine.web_endpoints import Endpoint, endpoint_for
from pyengineer.findings import Edit, Finding, Fix, Range, Severity
from pyengineer.workspace.context import WorkspaceContext

_HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
_SUBPROCESS = frozenset({"run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"})
_DB_CONNECT = {
    "sqlite3.connect": ("sqlite3", "aiosqlite"),
    "psycopg2.connect": ("psycopg2", "asyncpg (or psycopg 3's AsyncConnection)"),
    "psycopg.connect": ("psycopg", "psycopg.AsyncConnection.connect"),
    "pymysql.connect": ("pymysql", "aiomysql"),
    "MySQLdb.connect": ("MySQLdb", "aiomysql"),
    "mysql.connector.connect": ("mysql.connector", "aiomysql"),
}
# Methods of a sync SQLAlchemy Session / Connection / Engine that talk to the database.
_SESSION_IO = frozenset(
    {
        "query",
        "execute",
        "scalars",
        "scalar",
        "get",
        "commit",
        "flush",
        "refresh",
        "merge",
        "delete",
        "rollback",
        "exec",
        "connection",
    }
)
_ENGINE_IO = frozenset({"connect", "begin", "execute", "raw_connection"})
_SYNC_SESSIONS = frozenset(
    {
        "sqlalchemy.orm.Session",
        "sqlalchemy.orm.session.Session",
        "sqlmodel.Session",
        "sqlmodel.orm.session.Session",
    }
)
_SESSION_FACTORIES = frozenset(
    {"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker", "sqlalchemy.orm.scoped_session"}
)
_SYNC_ENGINES = frozenset(
    {"sqlalchemy.create_engine", "sqlalchemy.engine.create_engine", "sqlmodel.create_engine"}
)


@dataclass(frozen=True)
class Blocking:
    """A blocking call: what it is, and what to use instead."""

    call: ast.Call
    what: str
    instead: str
    kind: str  # sleep | http | subprocess | db | orm


def _http_instead(context: WorkspaceContext, source_imports: frozenset[str]) -> str:
    if context.uses("httpx") or "httpx" in source_imports:
        return "`httpx.AsyncClient` (httpx is already a dependency of this project)"
    if context.uses("aiohttp") or "aiohttp" in source_imports:
        return "`aiohttp.ClientSession` (aiohttp is already a dependency of this project)"
    return "`httpx.AsyncClient`, or run it with `await asyncio.to_thread(...)`"


def _requests_session(index: SyntaxIndex, node: ast.expr, func: FunctionNode) -> bool:
    """`requests.Session()`, or a name bound to one in `func` (`s = requests.Session()`, `with ... as s`)."""
    if isinstance(node, ast.Call):
        return index.qualified_name(node.func) in ("requests.Session", "requests.sessions.Session")
    if not isinstance(node, ast.Name):
        return False
    for inner in ast.walk(func):
        if isinstance(inner, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == node.id for t in inner.targets
        ):
            if _requests_session(index, inner.value, func):
                return True
        elif (
            isinstance(inner, ast.withitem)
            and isinstance(inner.optional_vars, ast.Name)
            and inner.optional_vars.id == node.id
            and _requests_session(index, inner.context_expr, func)
        ):
            return True
    return False


def _blocking_library_call(
    index: SyntaxIndex, call: ast.Call, context: WorkspaceContext, func: FunctionNode
) -> Blocking | None:
    target = call.func
    if (
        isinstance(target, ast.Attribute)
        and target.attr in _HTTP_VERBS
        and _requests_session(index, target.value, func)
    ):
        return Blocking(
            call,
            f"requests.Session().{target.attr}()",
            _http_instead(context, index.source.imported_top_levels),
            "http",
        )
    name = index.qualified_name(call.func)
    if name is None or not index.imported(call.func):
        return None
    if name == "time.sleep":
        return Blocking(call, "time.sleep()", "`await asyncio.sleep(...)`", "sleep")
    module, _, attr = name.rpartition(".")
    if module == "requests" and attr in _HTTP_VERBS:
        return Blocking(
            call, f"requests.{attr}()", _http_instead(context, index.source.imported_top_levels), "http"
        )
    if name == "urllib.request.urlopen":
        return Blocking(call, "urlopen()", _http_instead(context, index.source.imported_top_levels), "http")
    if module == "subprocess" and attr in _SUBPROCESS:
        return Blocking(
            call, f"subprocess.{attr}()", "`await asyncio.create_subprocess_exec(...)`", "subprocess"
        )
    if name == "os.system":
        return Blocking(call, "os.system()", "`await asyncio.create_subprocess_shell(...)`", "subprocess")
    if name in _DB_CONNECT:
        driver, replacement = _DB_CONNECT[name]
        known = " (already a dependency)" if context.uses("asyncpg") and "asyncpg" in replacement else ""
        return Blocking(
            call,
            f"{driver}.connect()",
            f"an async driver: {replacement}{known}, or `await asyncio.to_thread(...)`",
            "db",
        )
    return None


# -- sync SQLAlchemy sessions ---------------------------------------------------------------------------------


def _module_assigned(index: SyntaxIndex, qualified: frozenset[str], key: str) -> frozenset[str]:
    """Module-level names assigned from a call to one of `qualified` (`SessionLocal = sessionmaker(...)`)."""

    def compute() -> frozenset[str]:
        names: set[str] = set()
        for stmt in index.tree.body:
            assigned = assignment(stmt)
            if assigned is None:
                continue
            targets, value = assigned
            if not isinstance(value, ast.Call) or index.qualified_name(value.func) not in qualified:
                continue
            if any(kw.arg == "class_" and "Async" in index.segment(kw.value) for kw in value.keywords):
                continue
            names.update(assigned_names(targets))
        return frozenset(names)

    return index.memo(key, compute)


def _is_sync_session_type(index: SyntaxIndex, annotation: ast.expr | None, aliases: frozenset[str]) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Subscript):  # Annotated[Session, Depends(get_db)]
        if (index.qualified_name(annotation.value) or "").endswith("Annotated"):
            inner = annotation.slice
            first = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
            return _is_sync_session_type(index, first, aliases)
        return False
    if isinstance(annotation, ast.Name) and annotation.id in aliases:
        return True
    return index.qualified_name(annotation) in _SYNC_SESSIONS


def _session_aliases(index: SyntaxIndex) -> frozenset[str]:
    """`SessionDep = Annotated[Session, Depends(get_session)]` at module level."""

    def compute() -> frozenset[str]:
        names: set[str] = set()
        for stmt in index.tree.body:
            if isinstance(stmt, ast.Assign) and _is_sync_session_type(index, stmt.value, frozenset()):
                names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        return frozenset(names)

    return index.memo("pe3.session-aliases", compute)


def _imported_objects(index: SyntaxIndex, facts: tuple[str, ...], key: str) -> frozenset[str]:
    """The dotted names another module's objects can be imported as: "app/db.py:engine" -> "app.db.engine",
    "db.engine" (a `src/` layout, a relative import)."""

    def compute() -> frozenset[str]:
        names: set[str] = set()
        for fact in facts:
            path, _, name = fact.rpartition(":")
            module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            parts = module.split(".")
            names.update(".".join([*parts[i:], name]) for i in range(len(parts)))
        return frozenset(names)

    return index.memo(key, compute)


def _imported_from(index: SyntaxIndex, node: ast.expr, facts: tuple[str, ...], key: str) -> bool:
    """`node` is a name imported from another module of the workspace where `facts` says what it is."""
    if not facts or not isinstance(node, ast.Name) or node.id not in index.imports:
        return False
    qualified = (index.qualified_name(node) or "").lstrip(".")
    return qualified in _imported_objects(index, facts, key)


def _is_session_construction(index: SyntaxIndex, value: ast.expr | None, context: WorkspaceContext) -> bool:
    if not isinstance(value, ast.Call):
        return False
    if index.qualified_name(value.func) in _SYNC_SESSIONS:
        return True
    factories = _module_assigned(index, _SESSION_FACTORIES, "pe3.session-factories")
    if isinstance(value.func, ast.Name) and value.func.id in factories:
        return True
    return _imported_from(index, value.func, context.sync_session_factories, f"pe3.factories.{id(context)}")


def session_names(index: SyntaxIndex, func: FunctionNode, context: WorkspaceContext) -> frozenset[str]:
    """Names that hold a sync SQLAlchemy Session inside `func`."""

    def compute() -> frozenset[str]:
        aliases = _session_aliases(index)
        names: set[str] = set()
        args = func.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if _is_sync_session_type(index, arg.annotation, aliases):
                names.add(arg.arg)
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and _is_session_construction(index, node.value, context):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.withitem) and _is_session_construction(
                index, node.context_expr, context
            ):
                if isinstance(node.optional_vars, ast.Name):
                    names.add(node.optional_vars.id)
        return frozenset(names)

    return index.memo(f"pe3.sessions.{id(func)}.{id(context)}", compute)


def _orm_call(
    index: SyntaxIndex, call: ast.Call, func: FunctionNode, context: WorkspaceContext
) -> Blocking | None:
    target = call.func
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
        return None
    owner, method = target.value.id, target.attr
    if method in _SESSION_IO and owner in session_names(index, func, context):
        return Blocking(call, f"{owner}.{method}()", "`AsyncSession` with `await`", "orm")
    engines = _module_assigned(index, _SYNC_ENGINES, "pe3.sync-engines")
    if method in _ENGINE_IO and (
        owner in engines
        or _imported_from(index, target.value, context.sync_engines, f"pe3.engines.{id(context)}")
    ):
        return Blocking(call, f"{owner}.{method}()", "`create_async_engine` with `await`", "orm")
    return None


def _blocking_calls(inp: RuleInput) -> list[tuple[ast.AsyncFunctionDef, Blocking]]:
    index = syntax_index(inp.source)
    if index is None or not index.of_type(ast.AsyncFunctionDef):
        return []

    def compute() -> list[tuple[ast.AsyncFunctionDef, Blocking]]:
        found: list[tuple[ast.AsyncFunctionDef, Blocking]] = []
        in_tests = is_test_path(inp.source.relative)
        for call in index.of_type(ast.Call):
            coroutine = index.coroutine(call)
            if coroutine is None or isinstance(index.parent(call), ast.Await):
                continue  # an awaited call is async, whatever its receiver is annotated as
            blocking = _blocking_library_call(index, call, inp.context, coroutine) or _orm_call(
                index, call, coroutine, inp.context
            )
            if blocking is None or (in_tests and _on_purpose_in_test(index, blocking, coroutine)):
                continue
            found.append((coroutine, blocking))
        return found

    return index.memo(f"pe3.blocking.{id(inp.context)}", compute)


def _on_purpose_in_test(index: SyntaxIndex, blocking: Blocking, coroutine: ast.AsyncFunctionDef) -> bool:
    """In a test, blocking is usually the point: a lone `time.sleep` lets wall-clock time pass (a timeout, a
    keep-alive), a `sqlite3.connect` builds a fixture. A sleep inside a loop polls for something the event loop
    should be doing meanwhile, and that is the bug this rule is for (measured on the corpus: bench/precision)."""
    if blocking.kind == "sleep":
        for ancestor in index.ancestors(blocking.call):
            if ancestor is coroutine:
                return True
            if isinstance(ancestor, ast.For | ast.While | ast.AsyncFor):
                return False
        return True
    return blocking.kind in ("db", "subprocess")


# -- fixes ---------------------------------------------------------------------------------------------------


def _awaitable_position(index: SyntaxIndex, call: ast.Call) -> bool:
    """True if `call` is a whole statement, assigned or returned value, where `await` can go in front of it."""
    parent = index.parent(call)
    if isinstance(parent, ast.Expr | ast.Return):
        return True
    return isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is call


def _sleep_fix(index: SyntaxIndex, call: ast.Call) -> Fix | None:
    if not isinstance(index.parent(call), ast.Expr) or call.keywords or len(call.args) != 1:
        return None
    asyncio = need_module(index, "asyncio")
    call_range = index.range(call)
    func_range = index.range(call.func)
    edits = [
        Edit(
            path=index.source.path,
            range=Range(start=call_range.start, end=call_range.start),
            new_text="await ",
        ),
        Edit(path=index.source.path, range=func_range, new_text=f"{asyncio.name}.sleep"),
    ]
    if asyncio.edit is not None:
        edits.append(asyncio.edit)
    return Fix(title="Replace with await asyncio.sleep(...)", edits=tuple(edits), safe=True, preferred=True)


def _make_sync_fix(index: SyntaxIndex, endpoint: Endpoint) -> Fix | None:
    """`async def` -> `def` for a FastAPI endpoint that awaits nothing (FastAPI then runs it in a threadpool)."""
    func = endpoint.function
    if endpoint.framework != "fastapi":
        return None
    for node in ast.walk(func):
        if node is not func and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            if index.function(node) is func:
                return None
    line = func.lineno
    text = index.source.line_text(line - 1)
    start = index.source.column(line, func.col_offset)
    if not text.startswith("async", start):
        return None
    end = start + len("async")
    while end < len(text) and text[end] in " \t":
        end += 1
    return Fix(
        title=f"Make {func.name} a plain def (FastAPI runs it in a threadpool)",
        edits=(Edit(path=index.source.path, range=Range.of(line - 1, start, line - 1, end), new_text=""),),
    )


# -- the rules -------------------------------------------------------------------------------------------------


@rule(
    "PE301",
    "blocking-call-in-async",
    "A blocking call (sleep, HTTP, subprocess, sync database) inside `async def` stalls the event loop",
    severity=Severity.WARNING,
    ruff_equivalent="ASYNC210, ASYNC221, ASYNC222, ASYNC251 (flake8-async)",
    local=True,
)
def blocking_call_in_async(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    for coroutine, blocking in _blocking_calls(inp):
        endpoint = endpoint_for(index, coroutine)
        if blocking.kind == "orm" and endpoint is not None and endpoint.framework in ("fastapi", "starlette"):
            continue  # PE302 says it with the endpoint's context
        where = "endpoint" if endpoint is not None else "async def"
        message = f"{blocking.what} blocks the event loop in {where} {coroutine.name}"
        detail = (
            "A coroutine runs on the event loop: until this call returns, every other request, task and timer "
            f"waits. Use {blocking.instead}."
        )
        if endpoint is not None and endpoint.framework == "fastapi" and blocking.kind != "sleep":
            detail += " Or declare the endpoint with plain `def`: FastAPI runs those in a threadpool."
        fixes: list[Fix] = []
        if blocking.kind == "sleep" and not _blocks_on_purpose(inp.source.relative, coroutine):
            sleep_fix = _sleep_fix(index, blocking.call)
            if sleep_fix is not None:
                fixes.append(sleep_fix)
        elif blocking.kind in ("http", "db", "subprocess") and _awaitable_position(index, blocking.call):
            fixes.append(_to_thread_fix(index, blocking.call))
        yield inp.report(
            "PE301",
            message=message,
            detail=detail,
            range=index.range(blocking.call),
            fixes=tuple(fixes),
            data={"call": blocking.what, "kind": blocking.kind, "function": coroutine.name},
        )


def _blocks_on_purpose(relative: str, coroutine: ast.AsyncFunctionDef) -> bool:
    """A test function, or any coroutine in test code: a `time.sleep` there is usually the point (a test that
    blocks the loop on purpose, to check a timeout or a watchdog), so it is not "fixed" to asyncio.sleep."""
    return coroutine.name.startswith("test") or is_test_path(relative)


def _to_thread_fix(index: SyntaxIndex, call: ast.Call) -> Fix:
    """`requests.get(url)` -> `await asyncio.to_thread(requests.get, url)` (a statement on its own)."""
    asyncio = need_module(index, "asyncio")
    func_text = index.segment(call.func)
    arguments = [index.segment(a) for a in call.args] + [index.segment(k) for k in call.keywords]
    new_text = f"await {asyncio.name}.to_thread({', '.join([func_text, *arguments])})"
    edits = [Edit(path=index.source.path, range=index.range(call), new_text=new_text)]
    if asyncio.edit is not None:
        edits.append(asyncio.edit)
    return Fix(title="Run it in a thread with await asyncio.to_thread(...)", edits=tuple(edits))


def _title(framework: str) -> str:
    return {"fastapi": "FastAPI", "starlette": "Starlette", "flask": "Flask", "django": "Django"}.get(
        framework, framework
    )


@rule(
    "PE302",
    "sync-orm-in-async-endpoint",
    "An `async def` endpoint does sync database work (a sync SQLAlchemy Session or Engine)",
    severity=Severity.WARNING,
    frameworks=("fastapi", "starlette"),
    local=True,
)
def sync_orm_in_async_endpoint(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    by_endpoint: dict[ast.AsyncFunctionDef, list[Blocking]] = {}
    for coroutine, blocking in _blocking_calls(inp):
        if blocking.kind == "orm":
            by_endpoint.setdefault(coroutine, []).append(blocking)
    for coroutine, calls in by_endpoint.items():
        endpoint = endpoint_for(index, coroutine)
        if endpoint is None or endpoint.framework not in ("fastapi", "starlette"):
            continue
        names = list(dict.fromkeys(b.what for b in calls))
        listed = ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
        remedy = (
            "Declare it with plain `def` (FastAPI runs sync endpoints in a threadpool), or switch to "
            "`AsyncSession` / `create_async_engine` and `await` the calls."
            if endpoint.framework == "fastapi"
            else "Switch to `AsyncSession` / `create_async_engine` and `await` the calls, or wrap the work in "
            "`await asyncio.to_thread(...)`."
        )
        fix = _make_sync_fix(index, endpoint)
        yield inp.report(
            "PE302",
            message=f"async endpoint {coroutine.name} does sync database work ({listed})",
            detail=(
                f"The {_title(endpoint.framework)} endpoint runs on the event loop, so each query blocks every "
                f"other request until the database answers. {remedy}"
            ),
            range=index.range(calls[0].call),
            fixes=(fix,) if fix is not None else (),
            data={"function": coroutine.name, "calls": names},
        )
