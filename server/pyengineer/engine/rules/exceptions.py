"""PE6xx: exception handling that hides what went wrong."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator

from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.source import in_test_code
from pyengineer.engine.syntax import SyntaxIndex, assigned_names, assignment, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Range, Severity

_BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
_EVERYTHING = frozenset({"BaseException", "builtins.BaseException"})

# What a call in a `try` body typically raises: the specific exceptions to catch instead of everything.
_RAISES_QUALIFIED = {
    "json.loads": "json.JSONDecodeError",
    "json.load": "json.JSONDecodeError",
    "datetime.datetime.strptime": "ValueError",
    "datetime.datetime.fromisoformat": "ValueError",
    "datetime.date.fromisoformat": "ValueError",
    "subprocess.run": "subprocess.CalledProcessError",
    "subprocess.check_call": "subprocess.CalledProcessError",
    "subprocess.check_output": "subprocess.CalledProcessError",
    "importlib.import_module": "ImportError",
    "yaml.safe_load": "yaml.YAMLError",
    "yaml.load": "yaml.YAMLError",
    "base64.b64decode": "binascii.Error",
    "asyncio.wait_for": "TimeoutError",
    "decimal.Decimal": "decimal.InvalidOperation",
    "uuid.UUID": "ValueError",
    "ipaddress.ip_address": "ValueError",
}
_RAISES_MODULE = {
    "requests": "requests.RequestException",
    "httpx": "httpx.HTTPError",
    "os": "OSError",
    "shutil": "OSError",
    "socket": "OSError",
    "sqlite3": "sqlite3.Error",
    "psycopg2": "psycopg2.Error",
    "boto3": "botocore.exceptions.ClientError",
}
_RAISES_BUILTIN = {"int": "ValueError", "float": "ValueError", "open": "OSError", "getattr": "AttributeError"}
_RAISES_METHOD = {
    "model_validate": "pydantic.ValidationError",
    "model_validate_json": "pydantic.ValidationError",
    "read_text": "OSError",
    "read_bytes": "OSError",
    "write_text": "OSError",
    "unlink": "OSError",
    "mkdir": "OSError",
    "raise_for_status": "HTTPError",
    "decode": "UnicodeDecodeError",
}
_LOGGER_NAMES = ("logger", "log", "LOGGER", "LOG", "_logger", "_log")


def _likely_exceptions(index: SyntaxIndex, try_node: ast.Try | ast.TryStar) -> list[tuple[str, str]]:
    """(exception, the call that raises it) for the calls in a `try` body, in order, without repeats."""
    found: dict[str, str] = {}
    for stmt in try_node.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.setdefault("ImportError", "import")
            if not isinstance(node, ast.Call):
                continue
            name = index.qualified_name(node.func) or ""
            exception = _RAISES_QUALIFIED.get(name)
            if exception is None and index.imported(node.func):
                exception = _RAISES_MODULE.get(name.split(".", 1)[0])
                if exception == "HTTPError":
                    exception = None
            if exception is None and isinstance(node.func, ast.Name) and node.func.id not in index.imports:
                exception = _RAISES_BUILTIN.get(node.func.id)
            if exception is None and isinstance(node.func, ast.Attribute):
                exception = _RAISES_METHOD.get(node.func.attr)
                if exception == "HTTPError":
                    exception = (
                        "requests.HTTPError" if index.imports_module("requests") else "httpx.HTTPStatusError"
                    )
            if exception is not None:
                found.setdefault(exception, index.segment(node.func) + "()")
    return list(found.items())


def _is_broad(index: SyntaxIndex, node: ast.expr | None, names: frozenset[str] = _BROAD) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_is_broad(index, e, names) for e in node.elts)
    return (index.qualified_name(node) or "") in names


def _swallows(handler: ast.ExceptHandler) -> bool:
    for stmt in handler.body:
        if isinstance(stmt, ast.Pass | ast.Continue):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # `...` or a comment-like string
        return False
    return True


def _explained(index: SyntaxIndex, handler: ast.ExceptHandler) -> bool:
    """True if a comment on the `except` line or in its body says why the error is ignored (a best-effort
    fallback, an optional feature): the choice was made on purpose and is documented where it is made."""
    first = handler.lineno
    last = handler.end_lineno or first
    lines = index.source.lines[first - 1 : last]
    if not any("#" in line for line in lines):
        return False
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text.lstrip(" \t")).readline):
            if token.type == tokenize.COMMENT and len(token.string.strip("# \t")) > 2:
                return True
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    return False


def _raises_on_purpose(try_node: ast.Try | ast.TryStar) -> bool:
    """A `try` body that raises itself (`raise ValueError("boom")`): a test provoking an error on purpose."""
    return any(isinstance(node, ast.Raise) for stmt in try_node.body for node in ast.walk(stmt))


_FAILING_CALLS = frozenset(
    {"fail", "assertEqual", "assertTrue", "assertFalse", "assertIn", "assertIs", "assertRaises"}
)


def _asserts(try_node: ast.Try | ast.TryStar) -> bool:
    """The `try` body checks something (`assert`, `self.fail(...)`, `pytest.fail(...)`): swallowing every error
    also swallows the AssertionError, and the test can no longer fail."""
    for stmt in try_node.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assert):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in _FAILING_CALLS or node.func.attr.startswith("assert"):
                    return True
    return False


# Calls whose failure there is nothing to do about: releasing a resource, best-effort cleanup.
_CLEANUP = frozenset(
    {
        "close",
        "aclose",
        "dispose",
        "cleanup",
        "shutdown",
        "terminate",
        "kill",
        "stop",
        "cancel",
        "unlink",
        "remove",
        "rmtree",
        "rmdir",
        "disconnect",
        "release",
        "join",
        "flush",
        "unregister",
        "removeHandler",
        "__exit__",
        "__aexit__",
    }
)


def _is_cleanup(index: SyntaxIndex, try_node: ast.Try | ast.TryStar) -> bool:
    """A `try` whose body only releases resources (`conn.close()`), or that runs while another error or a
    `finally:` is being handled: what could the handler do with a failure there?"""
    calls: list[ast.Call] = []
    for stmt in try_node.body:
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            calls = []
            break
        calls.append(value)
    if calls and all(_call_name(c) in _CLEANUP for c in calls):
        return True
    child: ast.AST = try_node
    for ancestor in index.ancestors(try_node):
        if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return ancestor.name in _CLEANUP if not isinstance(ancestor, ast.Lambda) else False
        if isinstance(ancestor, ast.ExceptHandler):
            return True  # an error while handling an error: the first one is what matters
        if isinstance(ancestor, ast.Try | ast.TryStar) and child in ancestor.finalbody:
            return True
        child = ancestor
    return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _optional_import(try_node: ast.Try | ast.TryStar) -> bool:
    """`try: import x ... except Exception: pass`: an optional dependency, whatever its import raises."""
    return any(isinstance(stmt, ast.Import | ast.ImportFrom) for stmt in try_node.body)


def _reraises(handler: ast.ExceptHandler) -> bool:
    last = handler.body[-1]
    return isinstance(last, ast.Raise) and (
        last.exc is None or (isinstance(last.exc, ast.Name) and last.exc.id == handler.name)
    )


def _logger_name(index: SyntaxIndex) -> str | None:
    def compute() -> str | None:
        for stmt in index.tree.body:
            assigned = assignment(stmt)
            if assigned is None or not isinstance(assigned[1], ast.Call):
                continue
            value = assigned[1]
            assert isinstance(value, ast.Call)
            if (index.qualified_name(value.func) or "").endswith(("getLogger", "get_logger", "getChild")):
                names = assigned_names(assigned[0])
                if names:
                    return names[0]
        return next((n for n in _LOGGER_NAMES if n in index.module_names), None)

    return index.memo("pe601.logger", compute)


def _catch_fix(index: SyntaxIndex, handler: ast.ExceptHandler, exceptions: list[str]) -> Fix | None:
    if not exceptions or any("." in e and e.split(".", 1)[0] not in index.imports for e in exceptions):
        return None  # the fix would need an import the file does not have
    spelled = exceptions[0] if len(exceptions) == 1 else f"({', '.join(exceptions)})"
    if handler.type is not None:
        target = index.range(handler.type)
    else:
        start = index.range(handler).start
        target = Range(start=start, end=Range.of(start.line, start.character + len("except")).end)
        spelled = f"except {spelled}"
    return Fix(
        title=f"Catch {spelled.removeprefix('except ')} instead",
        edits=(Edit(path=index.source.path, range=target, new_text=spelled),),
        preferred=True,
    )


def _log_fix(index: SyntaxIndex, handler: ast.ExceptHandler, logger: str) -> Fix | None:
    first = handler.body[0]
    if not isinstance(first, ast.Pass):
        return None
    owner = index.function(handler)
    where = f" in {owner.name}" if owner is not None else ""
    return Fix(
        title=f"Log it with {logger}.exception(...)",
        edits=(
            Edit(
                path=index.source.path,
                range=index.range(first),
                new_text=f'{logger}.exception("Ignored error{where}")',
            ),
        ),
    )


@rule(
    "PE601",
    "swallowed-exception",
    "A bare `except:` (or a silent `except BaseException:`) catches Ctrl-C and SystemExit and hides bugs",
    severity=Severity.WARNING,
    ruff_equivalent="E722, S110, BLE001",
    local=True,
)
def swallowed_exception(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    logger = None
    test_file = in_test_code(inp.source.relative)
    tries: list[ast.Try | ast.TryStar] = [*index.of_type(ast.Try), *index.of_type(ast.TryStar)]
    for try_node in tries:
        # In tests a swallowed error matters when it is the test's own assertion (the test cannot fail);
        # otherwise it is warm-up, cleanup or an error raised on purpose to see what happens next.
        if test_file and (_raises_on_purpose(try_node) or not _asserts(try_node)):
            continue
        if _optional_import(try_node) or _is_cleanup(index, try_node):
            continue
        for handler in try_node.handlers:
            bare = handler.type is None
            if bare and _reraises(handler):
                continue
            # `except Exception: pass` outside tests is not reported: measured on the corpus, it is nearly
            # always a deliberate best-effort fallback (5 of 30 sampled were worth changing, all bare
            # `except:`). `BaseException` swallows Ctrl-C and SystemExit like a bare `except:`; in a test,
            # any broad handler around the test's own assertion hides the failure.
            if not bare and not (
                _swallows(handler)
                and (
                    _is_broad(index, handler.type, _EVERYTHING)
                    or (test_file and _is_broad(index, handler.type))
                )
            ):
                continue
            owner = index.function(handler)
            if owner is not None and owner.name == "__del__":
                continue  # nothing useful can be done with an error during finalization
            if _explained(index, handler):
                continue
            likely = _likely_exceptions(index, try_node)
            names = [e for e, _ in likely]
            caught = "" if bare else f" {index.snippet(handler.type, 30)}"  # type: ignore[arg-type]
            short = (
                "Bare except: catches Ctrl-C and SystemExit and hides every bug"
                if bare
                else f"except{caught}: that does nothing hides every error, bugs included"
            )
            spelled = "`except:`" if bare else f"`except{caught}:`"
            problem = (
                " also catches KeyboardInterrupt and SystemExit, and hides every bug in the `try` body"
                if bare
                else " that does nothing hides every error in the `try` body, bugs included"
            )
            if test_file:
                short = (
                    "Bare except: catches Ctrl-C and SystemExit, and this test's own failure"
                    if bare
                    else f"except{caught}: that does nothing hides this test's own failure"
                )
                problem += ": here the test's own assertion too, so the test can never fail"
            if likely:
                suggestion = "Catch what it can actually raise: " + ", ".join(
                    f"{e} ({call})" for e, call in likely
                )
            else:
                suggestion = "Catch the specific exceptions you expect"
            logger = logger or _logger_name(index)
            if logger is not None:
                suggestion += f", and log the rest with `{logger}.exception(...)`"
            else:
                suggestion += ", and log what you ignore"
            fixes: list[Fix] = []
            catch = _catch_fix(index, handler, names)
            if catch is not None:
                fixes.append(catch)
            if logger is not None and not bare:
                log_fix = _log_fix(index, handler, logger)
                if log_fix is not None:
                    fixes.append(log_fix)
            start = index.range(handler).start
            header_end = index.range(handler.type).end if handler.type is not None else None
            end = header_end or Range.of(start.line, start.character + len("except")).end
            yield inp.report(
                "PE601",
                message=short,
                detail=f"{spelled}{problem}. {suggestion}.",
                range=Range(start=start, end=end),
                fixes=tuple(fixes),
                data={"bare": bare, "likely": names},
            )


def _short(text: str, limit: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _handler_of(index: SyntaxIndex, node: ast.Raise) -> ast.ExceptHandler | None:
    for ancestor in index.ancestors(node):
        if isinstance(ancestor, ast.ExceptHandler):
            return ancestor
        if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return None
    return None


# Exceptions a web framework turns into a response (400, 403, 404) without logging a traceback: whether the
# caught error is chained to them changes nothing anybody sees.
_RENDERED = (
    "rest_framework.exceptions.",
    "rest_framework.serializers.ValidationError",
    "django.forms.ValidationError",
    "django.forms.forms.ValidationError",
    "django.core.exceptions.ValidationError",
    "django.core.exceptions.PermissionDenied",
    "django.core.exceptions.SuspiciousOperation",
    "django.http.Http404",
    "fastapi.HTTPException",
    "fastapi.exceptions.HTTPException",
    "starlette.exceptions.HTTPException",
    "werkzeug.exceptions.",
)


def _rendered_as_response(index: SyntaxIndex, exc: ast.expr) -> bool:
    target = exc.func if isinstance(exc, ast.Call) else exc
    name = index.qualified_name(target) if isinstance(target, ast.Name | ast.Attribute) else None
    return name is not None and any(
        name == prefix or (prefix.endswith(".") and name.startswith(prefix)) for prefix in _RENDERED
    )


def _free_name(handler: ast.ExceptHandler) -> str:
    used = {n.id for n in ast.walk(handler) if isinstance(n, ast.Name)}
    for name in ("exc", "error", "err", "original"):
        if name not in used:
            return name
    return "caught_exc"


@rule(
    "PE602",
    "raise-without-from",
    "`raise NewError(...)` inside `except` without `from` loses the original error's cause",
    severity=Severity.INFO,
    ruff_equivalent="B904",
    local=True,
)
def raise_without_from(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    for node in index.of_type(ast.Raise):
        if node.exc is None or node.cause is not None:
            continue
        handler = _handler_of(index, node)
        if handler is None:
            continue
        if isinstance(node.exc, ast.Name) and node.exc.id == handler.name:
            continue  # re-raising what was caught
        if _rendered_as_response(index, node.exc):
            continue
        caught = index.segment(handler.type) if handler.type is not None else "everything"
        name = handler.name or _free_name(handler)
        edits: list[Edit] = []
        if handler.name is None and handler.type is not None:
            end = index.range(handler.type).end
            edits.append(Edit(path=inp.source.path, range=Range(start=end, end=end), new_text=f" as {name}"))
        exc_end = index.range(node.exc).end
        fixes: list[Fix] = []
        if handler.type is not None:
            fixes.append(
                Fix(
                    title=f"Chain it: raise ... from {name}",
                    edits=(
                        *edits,
                        Edit(
                            path=inp.source.path,
                            range=Range(start=exc_end, end=exc_end),
                            new_text=f" from {name}",
                        ),
                    ),
                    preferred=True,
                )
            )
        fixes.append(
            Fix(
                title="Hide the original on purpose: raise ... from None",
                edits=(
                    Edit(
                        path=inp.source.path, range=Range(start=exc_end, end=exc_end), new_text=" from None"
                    ),
                ),
            )
        )
        yield inp.report(
            "PE602",
            message=f"raise in except {_short(caught)} without from: the traceback reads as a bug in the handler",
            detail=(
                f"`raise {index.snippet(node.exc)}` without `from`: the traceback says 'During handling of the "
                "above exception, another exception occurred', as if the new error were a bug in the handler. "
                f"Write `raise ... from {name}` to chain it, or `from None` to hide it."
            ),
            range=index.range(node),
            fixes=tuple(fixes),
            data={"caught": caught},
        )
