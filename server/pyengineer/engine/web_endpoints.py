"""The web endpoints of a file: FastAPI, Starlette and Flask routes, Django and DRF views."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from pyengineer.engine.syntax import FunctionNode, SyntaxIndex, assigned_names, assignment, body_fact

FASTAPI_DECORATORS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route", "websocket"}
)
FLASK_DECORATORS = frozenset({"route", "get", "post", "put", "patch", "delete"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DJANGO_HANDLERS = frozenset(
    {
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "list",
        "create",
        "retrieve",
        "update",
        "partial_update",
        "destroy",
    }
)

_CONSTRUCTORS = {
    "fastapi.FastAPI": "fastapi",
    "fastapi.APIRouter": "fastapi",
    "fastapi.routing.APIRouter": "fastapi",
    "flask.Flask": "flask",
    "flask.Blueprint": "flask",
    "starlette.applications.Starlette": "starlette",
    "starlette.routing.Router": "starlette",
}


@dataclass(frozen=True)
class Endpoint:
    """One request handler."""

    function: FunctionNode
    framework: str  # fastapi | starlette | flask | django | djangorestframework
    router: str  # the app/router/blueprint it is registered on, the view class, or "<module>"
    decorator: ast.Call | None  # `@router.get(...)` for decorator-registered routes
    methods: tuple[str, ...]
    path: str | None
    view_class: ast.ClassDef | None = None


@dataclass(frozen=True)
class Router:
    name: str
    framework: str
    call: ast.Call  # `APIRouter(...)`, `Flask(__name__)`...


def routers(index: SyntaxIndex) -> dict[str, Router]:
    """Module-level names bound to an app, router or blueprint object."""

    def compute() -> dict[str, Router]:
        found: dict[str, Router] = {}
        for stmt in index.tree.body:
            assigned = assignment(stmt)
            if assigned is None or not isinstance(assigned[1], ast.Call):
                continue
            targets, value = assigned
            assert isinstance(value, ast.Call)
            framework = _CONSTRUCTORS.get(index.qualified_name(value.func) or "")
            if framework is None:
                continue
            for name in assigned_names(targets):
                found[name] = Router(name, framework, value)
        return found

    return index.memo("routers", compute)


def _default_framework(index: SyntaxIndex) -> str | None:
    for framework in ("fastapi", "flask", "starlette"):
        if index.imports_module(framework):
            return framework
    return None


def _literal_strings(node: ast.expr | None) -> tuple[str, ...]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return tuple(
            e.value.upper() for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        )
    return ()


def keyword_value(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _decorated_route(index: SyntaxIndex, func: FunctionNode, default: str | None) -> Endpoint | None:
    for decorator in func.decorator_list:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
            continue
        target = decorator.func.value
        name = index.segment(target)
        router = routers(index).get(name) if isinstance(target, ast.Name) else None
        framework = router.framework if router is not None else default
        attr = decorator.func.attr
        if framework in ("fastapi", "starlette") and attr in FASTAPI_DECORATORS | {"route"}:
            pass
        elif framework == "flask" and attr in FLASK_DECORATORS:
            pass
        else:
            continue
        if attr in ("route", "api_route"):
            methods = _literal_strings(keyword_value(decorator, "methods")) or ("GET",)
        elif attr == "websocket":
            methods = ("WEBSOCKET",)
        else:
            methods = (attr.upper(),)
        path_arg = (
            decorator.args[0]
            if decorator.args
            else keyword_value(decorator, "path") or keyword_value(decorator, "rule")
        )
        path = (
            path_arg.value if isinstance(path_arg, ast.Constant) and isinstance(path_arg.value, str) else None
        )
        assert framework is not None
        return Endpoint(func, framework, name, decorator, methods, path)
    return None


def _starlette_routes(index: SyntaxIndex) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Functions named as the endpoint of `Route("/path", handler)`, anywhere in the document."""
    return _routes_in(index, index.document_nodes(ast.Call))


@body_fact
def _routes_in_function(index: SyntaxIndex) -> tuple[tuple[str, str | None, tuple[str, ...]], ...]:
    # An app factory's body can name module-level functions as endpoints.
    return tuple((name, *route) for name, route in _routes_in(index, index.of_type(ast.Call)).items())


def _routes_in(index: SyntaxIndex, calls: list[ast.Call]) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    found: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    if not index.imports_module("starlette", "fastapi"):
        return found  # without either import no call can resolve to their Route classes
    for call in calls:
        if index.qualified_name(call.func) not in ("starlette.routing.Route", "fastapi.routing.APIRoute"):
            continue
        endpoint = call.args[1] if len(call.args) > 1 else keyword_value(call, "endpoint")
        if isinstance(endpoint, ast.Name):
            first = call.args[0] if call.args else keyword_value(call, "path")
            path = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            found[endpoint.id] = (path, _literal_strings(keyword_value(call, "methods")) or ("GET",))
    return found


def _is_view_class(cls: ast.ClassDef) -> bool:
    for base in cls.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name.endswith(("View", "ViewSet", "APIView")):
            return True
    return False


def _first_param(func: FunctionNode, skip_self: bool) -> str | None:
    params = [*func.args.posonlyargs, *func.args.args]
    if skip_self:
        params = params[1:]
    return params[0].arg if params else None


def endpoints(index: SyntaxIndex) -> list[Endpoint]:
    """Every request handler defined in the file, in source order."""

    def compute() -> list[Endpoint]:
        default = _default_framework(index)
        starlette = _starlette_routes(index)
        django = index.imports_module("django", "rest_framework")
        drf = index.imports_module("rest_framework")
        found: list[Endpoint] = []
        functions: list[FunctionNode] = [
            *index.of_type(ast.FunctionDef),
            *index.of_type(ast.AsyncFunctionDef),
        ]
        functions.sort(key=lambda f: (f.lineno, f.col_offset))
        for func in functions:
            parent = index.parent(func)
            route = _decorated_route(index, func, default) if func.decorator_list else None
            if route is not None:
                found.append(route)
            elif parent is index.tree and func.name in starlette:
                path, methods = starlette[func.name]
                found.append(Endpoint(func, "starlette", "<module>", None, methods, path))
            elif django and parent is index.tree and _first_param(func, False) == "request":
                framework = "djangorestframework" if drf else "django"
                found.append(Endpoint(func, framework, "<module>", None, ("ANY",), None))
            elif (
                django
                and isinstance(parent, ast.ClassDef)
                and index.parent(parent) is index.tree
                and func.name in DJANGO_HANDLERS
                and _is_view_class(parent)
                and _first_param(func, True) == "request"
            ):
                framework = "djangorestframework" if drf else "django"
                found.append(
                    Endpoint(
                        func, framework, parent.name, None, (func.name.upper(),), None, view_class=parent
                    )
                )
        return found

    return index.memo("endpoints", compute)


def endpoint_for(index: SyntaxIndex, func: ast.AST | None) -> Endpoint | None:
    if func is None:
        return None
    for endpoint in endpoints(index):
        if endpoint.function is func:
            return endpoint
    return None
