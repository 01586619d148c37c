"""PE4xx: web API endpoints: request validation, authentication, response models."""

from __future__ import annotations

import ast
import keyword
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyengineer.engine.code_kinds import is_test_path
from pyengineer.engine.import_edits import need_name
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import FunctionNode, SyntaxIndex, assigned_names, assignment, syntax_index
from pyengineer.engine.web_endpoints import Endpoint, endpoints, keyword_value, routers
from pyengineer.findings import Edit, Finding, Fix, Range, Severity

WEB_FRAMEWORKS = ("fastapi", "starlette", "flask", "django", "djangorestframework")

# -- PE401 unvalidated request body ----------------------------------------------------------------------------

_DICT_TYPES = frozenset({"dict", "Dict", "typing.Dict", "builtins.dict"})
_NOT_BODY = frozenset({"Depends", "Query", "Path", "Header", "Cookie", "Form", "File", "Security"})
_REQUEST_TYPES = frozenset({"fastapi.Request", "starlette.requests.Request", "fastapi.requests.Request"})
_RAW_BODY_METHODS = frozenset({"json", "form", "body"})
_FLASK_BODY = frozenset({"json", "get_json", "form", "values", "data", "files"})
_DJANGO_BODY = frozenset({"POST", "body", "data", "FILES"})
_VALIDATORS = frozenset(
    {
        "model_validate",
        "model_validate_json",
        "parse_obj",
        "parse_raw",
        "validate_python",
        "validate_json",
        "is_valid",
        "load",
        "get_serializer",
        "validate",
        "full_clean",  # Django model validation of the fields just set
        "authenticate",  # credentials checked by the auth backends
    }
)
_RESERVED_FIELDS = frozenset(
    {"dict", "json", "copy", "schema", "construct", "validate", "fields", "parse_obj"}
)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _validates(func: FunctionNode) -> bool:
    """True if `func` hands data to a validator: a pydantic model, a form, a serializer, a schema."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        if name in _VALIDATORS or name.endswith(("Form", "Serializer", "Schema")):
            return True
        if name[:1].isupper() and any(kw.arg is None for kw in node.keywords):
            return True  # Model(**data)
    return False


@dataclass
class _KeyReads:
    """How an endpoint reads its `payload: dict`: the keys, their defaults, and whether a fix can rewrite it."""

    required: dict[str, None] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)  # key -> default source text
    rewrites: list[tuple[ast.AST, str]] = field(default_factory=list)  # node -> `payload.key`
    whole: list[ast.Name] = field(default_factory=list)  # uses of the whole dict
    fixable: bool = True


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _valid_field(key: str) -> bool:
    return (
        key.isidentifier()
        and not keyword.iskeyword(key)
        and not key.startswith(("_", "model_"))
        and key not in _RESERVED_FIELDS
    )


def _key_reads(index: SyntaxIndex, func: FunctionNode, name: str) -> _KeyReads:
    reads = _KeyReads()
    for node in ast.walk(func):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        if not isinstance(node.ctx, ast.Load):
            reads.fixable = False  # the dict is reassigned: leave it to the user
            continue
        parent = index.parent(node)
        grand = index.parent(parent) if parent is not None else None
        if isinstance(parent, ast.Subscript) and parent.value is node:
            key = parent.slice
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and isinstance(parent.ctx, ast.Load)
            ):
                if not _valid_field(key.value):
                    reads.fixable = False
                reads.required[key.value] = None
                reads.rewrites.append((parent, key.value))
            else:
                reads.fixable = False
            continue
        if (
            isinstance(parent, ast.Attribute)
            and parent.attr == "get"
            and isinstance(grand, ast.Call)
            and grand.func is parent
            and grand.args
            and not grand.keywords
            and isinstance(grand.args[0], ast.Constant)
            and isinstance(grand.args[0].value, str)
        ):
            key_name = grand.args[0].value
            default = grand.args[1] if len(grand.args) > 1 else None
            default_text = index.segment(default) if default is not None else "None"
            if not _valid_field(key_name) or (default is not None and not _literal(default)):
                reads.fixable = False
            if reads.optional.get(key_name, default_text) != default_text:
                reads.fixable = False  # two different defaults for one key
            reads.optional[key_name] = default_text
            reads.rewrites.append((grand, key_name))
            continue
        if isinstance(parent, ast.Attribute):
            reads.fixable = False  # payload.items(), payload.update(...)...
            continue
        reads.whole.append(node)
    return reads


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Request"


def _field_type(default_text: str) -> str:
    try:
        value = ast.literal_eval(default_text)
    except (ValueError, SyntaxError):
        return "Any"
    if value is None:
        return "Any"
    for kind in (bool, int, float, str):
        if type(value) is kind:
            return kind.__name__
    if isinstance(value, list):
        return "list[Any]"
    if isinstance(value, dict):
        return "dict[str, Any]"
    return "Any"


def _top_statement(index: SyntaxIndex, node: ast.AST) -> ast.stmt:
    for ancestor in [node, *index.ancestors(node)]:
        if index.parent(ancestor) is index.tree and isinstance(ancestor, ast.stmt):
            return ancestor
    raise ValueError("node outside the module")


def _model_fix(index: SyntaxIndex, endpoint: Endpoint, param: ast.arg, reads: _KeyReads) -> Fix | None:
    if not reads.fixable or not (reads.required or reads.optional) or param.annotation is None:
        return None
    func = endpoint.function
    model = _camel(func.name) + "Request"
    n = 2
    while model in index.module_names:
        model = f"{_camel(func.name)}Request{n}"
        n += 1
    base = need_name(index, "pydantic", "BaseModel")
    field_lines: list[str] = []
    uses_any = False
    for key in reads.required:
        field_lines.append(f"    {key}: Any")
        uses_any = True
    for key, default in reads.optional.items():
        if key in reads.required:
            continue
        kind = _field_type(default)
        uses_any |= "Any" in kind
        field_lines.append(f"    {key}: {kind} = {default}")
    any_name = "Any"
    edits: list[Edit] = []
    if uses_any:
        any_need = need_name(index, "typing", "Any")
        any_name = any_need.name
        if any_need.edit is not None:
            edits.append(any_need.edit)
        field_lines = [
            line.replace(": Any", f": {any_name}").replace("[Any]", f"[{any_name}]") for line in field_lines
        ]
        field_lines = [line.replace(", Any]", f", {any_name}]") for line in field_lines]
    if base.edit is not None:
        edits.append(base.edit)
    top = _top_statement(index, func)
    first_line = min([top.lineno, *(d.lineno for d in getattr(top, "decorator_list", []))])
    stub = f"class {model}({base.name}):\n" + "\n".join(field_lines) + "\n\n\n"
    edits.append(Edit(path=index.source.path, range=Range.of(first_line - 1, 0), new_text=stub))
    edits.append(Edit(path=index.source.path, range=index.range(param.annotation), new_text=model))
    for node, key in reads.rewrites:
        edits.append(Edit(path=index.source.path, range=index.range(node), new_text=f"{param.arg}.{key}"))
    for name in reads.whole:
        edits.append(
            Edit(path=index.source.path, range=index.range(name), new_text=f"{param.arg}.model_dump()")
        )
    return Fix(
        title=f"Declare a pydantic model {model} for {param.arg}",
        edits=tuple(edits),
        safe=not reads.whole,
        preferred=True,
    )


def _dict_body_params(index: SyntaxIndex, func: FunctionNode) -> Iterator[ast.arg]:
    args = func.args
    params = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(params) - len(args.defaults)) + list(args.defaults)
    pairs = [*zip(params, defaults, strict=True), *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    for param, default in pairs:
        annotation = param.annotation
        if annotation is None:
            continue
        target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
        if index.qualified_name(target) not in _DICT_TYPES:
            continue
        if isinstance(default, ast.Call) and _call_name(default.func) in _NOT_BODY:
            continue
        yield param


def _request_params(index: SyntaxIndex, func: FunctionNode, framework: str) -> set[str]:
    names = set()
    for param in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        if param.annotation is not None and index.qualified_name(param.annotation) in _REQUEST_TYPES:
            names.add(param.arg)
        elif framework == "starlette" and param.arg == "request":
            names.add(param.arg)
    return names


def _raw_reads(index: SyntaxIndex, endpoint: Endpoint) -> Iterator[tuple[ast.expr, str]]:
    """Places where an endpoint reads the raw request body, with how it is spelled."""
    func = endpoint.function
    if endpoint.framework in ("fastapi", "starlette"):
        requests = _request_params(index, func, endpoint.framework)
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in requests
                and node.func.attr in _RAW_BODY_METHODS
            ):
                parent = index.parent(node)
                shown = node if not isinstance(parent, ast.Await) else parent
                yield shown, index.segment(shown)
    elif endpoint.framework == "flask":
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in _FLASK_BODY
                and index.qualified_name(node.value) == "flask.request"
            ):
                yield node, index.segment(node)
    else:
        params = [*func.args.posonlyargs, *func.args.args]
        request = params[1 if endpoint.view_class is not None else 0].arg if params else "request"
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in _DJANGO_BODY
                and isinstance(node.value, ast.Name)
                and node.value.id == request
            ):
                yield node, index.segment(node)


def _advice(framework: str) -> str:
    if framework in ("fastapi", "starlette"):
        return "declare a pydantic model parameter and FastAPI validates it and documents it in OpenAPI"
    if framework == "flask":
        return "validate it with a pydantic model (`Model.model_validate(request.get_json())`) or a schema"
    if framework == "djangorestframework":
        return "validate it with a serializer (`serializer = ItemSerializer(data=request.data)`)"
    return "bind it to a Django form (`form = ItemForm(request.POST)`, then `form.is_valid()`)"


@rule(
    "PE401",
    "unvalidated-request-body",
    "A view reads the raw request body (a `dict` parameter, `request.json()`, `request.POST`) without validation",
    severity=Severity.WARNING,
    frameworks=WEB_FRAMEWORKS,
    local=True,
)
def unvalidated_request_body(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None or is_test_path(inp.source.relative):
        return  # mock callbacks and test views
    for endpoint in endpoints(index):
        func = endpoint.function
        if endpoint.framework == "fastapi":
            for param in _dict_body_params(index, func):
                reads = _key_reads(index, func, param.arg)
                keys = list(dict.fromkeys([*reads.required, *reads.optional]))
                if len(keys) < 2:
                    # A free-form mapping by design (labels, values to validate against a stored schema) or a
                    # generic envelope (`payload["body"]`): measured on the corpus, none wanted a model.
                    continue
                shown = ", ".join(keys[:6]) + ("..." if len(keys) > 6 else "")
                assert param.annotation is not None
                fix = _model_fix(index, endpoint, param, reads)
                yield inp.report(
                    "PE401",
                    message=f"{func.name} takes any JSON object as {param.arg}: declare a pydantic model",
                    detail=(
                        f"`{param.arg}: {index.segment(param.annotation)}` accepts any JSON object: FastAPI "
                        "validates nothing and the OpenAPI docs show an untyped body."
                        + (
                            f" The quick fix writes a model from the keys this endpoint reads ({shown})."
                            if fix
                            else ""
                        )
                    ),
                    range=index.range(param),
                    fixes=(fix,) if fix is not None else (),
                    data={"function": func.name, "parameter": param.arg, "keys": keys},
                )
        if _validates(func):
            continue
        raw = list(_raw_reads(index, endpoint))
        # `request.POST["a"]` and `request.POST.get("b")` are two reads of one body: their keys add up, and a
        # hand-off anywhere (`Form(request.POST)`) hands it all.
        groups: dict[str, tuple[ast.expr, list[str] | None]] = {}
        for node, spelled in raw:
            first, so_far = groups.get(spelled, (node, []))
            found = _data_keys(index, func, node)
            groups[spelled] = (first, None if so_far is None or found is None else [*so_far, *found])
        keyed = [(n, sp, list(dict.fromkeys(k))) for sp, (n, k) in groups.items() if k and len(set(k)) >= 2]
        if not keyed:
            continue
        node, spelled, keys = keyed[0]
        yield inp.report(
            "PE401",
            message=f"{func.name} reads the raw request body ({spelled}) without validating it",
            detail=(
                "Whatever the client sends reaches the code as it is: missing keys raise deep inside, wrong types "
                f"pass. {_advice(endpoint.framework)[0].upper()}{_advice(endpoint.framework)[1:]}."
            ),
            range=index.range(node),
            data={"function": func.name, "read": spelled, "keys": keys},
        )


_BODY_PARSERS = frozenset({"loads", "json", "get_json", "form"})


def _body_value(index: SyntaxIndex, node: ast.expr) -> ast.expr:
    """The expression that holds the parsed body: `json.loads(request.body)`, `await request.json()`."""
    current: ast.expr = node
    while True:
        parent = index.parent(current)
        if isinstance(parent, ast.Await):
            current = parent
        elif isinstance(parent, ast.Attribute) and parent.attr in ("decode",) and parent.value is current:
            grand = index.parent(parent)
            current = grand if isinstance(grand, ast.Call) else parent
        elif (
            isinstance(parent, ast.Call)
            and current in parent.args
            and _call_name(parent.func) in _BODY_PARSERS
        ):
            current = parent
        elif isinstance(parent, ast.Call) and parent.func is current:
            current = parent  # `request.get_json()`: the read was the attribute
        else:
            return current


def _data_keys(index: SyntaxIndex, func: FunctionNode, read: ast.expr) -> list[str] | None:
    """The keys an endpoint takes from the body it read, as data: not keys only tested (`"save" in
    request.POST`) or compared to a constant (`action == "publish"`); None when the body is handed whole to
    something (a form, a converter, `.update()`), which then owns its validation.

    Measured on the corpus (bench/precision): a raw read with fewer than two such keys was a control field (a
    submit button, `next`), a hand-off, or raw bytes for a signature or protobuf."""
    body = _body_value(index, read)
    uses: list[ast.expr] = [body]
    parent = index.parent(body)
    if (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        name = parent.targets[0].id
        uses = [
            n
            for n in ast.walk(func)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        ]
    keys: dict[str, None] = {}
    for use in uses:
        holder = index.parent(use)
        key: ast.expr | None = None
        at: ast.AST | None = None
        if isinstance(holder, ast.Subscript) and holder.value is use:
            key, at = holder.slice, holder
        elif isinstance(holder, ast.Attribute) and holder.attr == "get":
            call = index.parent(holder)
            if isinstance(call, ast.Call) and call.args:
                key, at = call.args[0], call
        elif isinstance(holder, ast.Call | ast.keyword) or (
            isinstance(holder, ast.Attribute) and holder.attr in ("items", "keys", "values", "copy")
        ):
            return None  # handed whole to a call, or iterated by hand with its own checks
        elif isinstance(holder, ast.Compare) and use is not holder.left:
            continue  # `"x" in request.POST`
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or at is None:
            continue
        if (
            key.value in _CONTROL_KEYS
            or key.value.endswith(_CONTROL_SUFFIXES)
            or _only_compared(index, func, at)
        ):
            continue  # a control field: which button, which action, where to go next
        keys[key.value] = None
    return list(keys)


_CONTROL_KEYS = frozenset({"next", "action", "submit", "csrfmiddlewaretoken", "_method"})
_CONTROL_SUFFIXES = ("_action", "_submit")  # `order_action`, `login_submit`: which handler, which button


def _compared_to_constant(index: SyntaxIndex, node: ast.AST) -> bool:
    compared = index.parent(node)
    return isinstance(compared, ast.Compare) and all(
        isinstance(c, ast.Constant) for c in [compared.left, *compared.comparators] if c is not node
    )


def _only_compared(index: SyntaxIndex, func: FunctionNode, read: ast.AST) -> bool:
    """`read == "x"`, or `action = read` where every use of `action` is such a comparison."""
    if _compared_to_constant(index, read):
        return True
    parent = index.parent(read)
    if not (
        isinstance(parent, ast.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0], ast.Name)
    ):
        return False
    name = parent.targets[0].id
    uses = [
        n for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    ]
    return bool(uses) and all(_compared_to_constant(index, u) for u in uses)


# -- PE402 endpoint without auth -------------------------------------------------------------------------------

_AUTH_NAME = re.compile(
    r"current_?\w*user|auth|login|token|jwt|verify|permission|require|admin|api_?key|oauth|principal|"
    r"credential|session_user|authenticated|logged_in|is_staff|superuser",
    re.IGNORECASE,
)
_AUTH_DECORATOR = re.compile(
    r"(login|auth|jwt|token|permission|role|admin|staff|superuser)\w*_(required|accepted)|requires?_\w+|"
    r"user_passes_test|permission_classes|authentication_classes|protected|authenticated",
    re.IGNORECASE,
)
# Django's HTTP-method decorators read like `requires_*` but restrict the method, not the user.
_NOT_AUTH_DECORATORS = frozenset(
    {"require_POST", "require_GET", "require_safe", "require_http_methods", "requires_csrf_token"}
)
# A view class that decides its permissions in code.
_PERMISSION_METHODS = frozenset({"get_permissions", "has_permission", "check_permissions", "test_func"})
_AUTH_MIXINS = re.compile(r"LoginRequired|PermissionRequired|UserPassesTest|AccessMixin", re.IGNORECASE)
_PUBLIC = re.compile(
    r"log_?in|log_?out|sign_?in|sign_?up|register|token|health|ready|readiness|liveness|alive|ping|status|"
    r"docs|openapi|public|webhook|callback|password_reset|forgot|verify_email|version|metrics|favicon",
    re.IGNORECASE,
)
_OPEN_PERMISSIONS = frozenset({"AllowAny"})


@dataclass(frozen=True)
class _Unit:
    """One thing that is protected or not: a route, a function view, or a view class."""

    name: str
    group: str
    node: FunctionNode | ast.ClassDef
    auth: str | None  # source text of the auth marker (to copy into the fix), None when unprotected
    auth_kind: str  # decorator | dependency | parameter | mixin | attribute
    public: bool  # its name or path says it is public on purpose
    endpoint: Endpoint


def _depends_target(index: SyntaxIndex, node: ast.expr) -> tuple[str, bool] | None:
    """For `Depends(x)` / `Security(x)`: (the name of x, whether it is Security)."""
    if not isinstance(node, ast.Call):
        return None
    callee = _call_name(node.func)
    if callee not in ("Depends", "Security"):
        return None
    target = node.args[0] if node.args else keyword_value(node, "dependency")
    return (index.segment(target) if target is not None else "", callee == "Security")


def _auth_dependency(index: SyntaxIndex, node: ast.expr | None) -> bool:
    if node is None:
        return False
    found = _depends_target(index, node)
    if found is not None:
        name, security = found
        return security or bool(_AUTH_NAME.search(name))
    if isinstance(node, ast.Subscript) and _call_name(node.value) == "Annotated":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return any(_auth_dependency(index, e) for e in elts[1:])
    if isinstance(node, ast.List | ast.Tuple):
        return any(_auth_dependency(index, e) for e in node.elts)
    return False


def _auth_aliases(index: SyntaxIndex) -> frozenset[str]:
    """`CurrentUser = Annotated[User, Depends(get_current_user)]` at module level."""

    def compute() -> frozenset[str]:
        names: set[str] = set()
        for stmt in index.tree.body:
            assigned = assignment(stmt)
            if assigned is not None and _auth_dependency(index, assigned[1]):
                names.update(assigned_names(assigned[0]))
        return frozenset(names)

    return index.memo("pe402.aliases", compute)


def _fastapi_auth(index: SyntaxIndex, endpoint: Endpoint) -> tuple[str | None, str]:
    decorator = endpoint.decorator
    if decorator is not None:
        deps = keyword_value(decorator, "dependencies")
        if deps is not None and _auth_dependency(index, deps):
            return index.segment(deps), "dependency"
    func = endpoint.function
    args = func.args
    params = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(params) - len(args.defaults)) + list(args.defaults)
    aliases = _auth_aliases(index)
    for param, default in [
        *zip(params, defaults, strict=True),
        *zip(args.kwonlyargs, args.kw_defaults, strict=True),
    ]:
        annotated = _auth_dependency(index, param.annotation) or (
            isinstance(param.annotation, ast.Name) and param.annotation.id in aliases
        )
        if annotated or _auth_dependency(index, default):
            text = index.segment(param)
            if default is not None:
                text += f"{' = ' if param.annotation is not None else '='}{index.segment(default)}"
            return text, "parameter"
    return None, ""


def _decorator_auth(index: SyntaxIndex, node: FunctionNode | ast.ClassDef) -> str | None:
    for decorator in node.decorator_list:
        callee = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = _call_name(callee)
        if name == "permission_classes" and isinstance(decorator, ast.Call):
            if all(
                _call_name(e) in _OPEN_PERMISSIONS
                for e in _elements(decorator.args[0] if decorator.args else None)
            ):
                return None
        if name in _NOT_AUTH_DECORATORS:
            continue
        if _AUTH_DECORATOR.search(name):
            return index.segment(decorator)
    return None


def _route_auth(index: SyntaxIndex, func: FunctionNode) -> tuple[str | None, bool]:
    """`@router.get(..., auth=[...])` (django-ninja) and `guards=[...]`: (marker text, public on purpose)."""
    for decorator, name in [
        (d, name) for d in func.decorator_list if isinstance(d, ast.Call) for name in ("auth", "guards")
    ]:
        value = keyword_value(decorator, name)
        if value is None:
            continue
        if isinstance(value, ast.Constant) and value.value is None:
            return None, True  # `auth=None`: open on purpose
        if any(
            _call_name(e.func if isinstance(e, ast.Call) else e) == "AllowAnonymous" for e in _elements(value)
        ):
            return None, True
        return index.segment(value), False
    return None, False


def _elements(node: ast.expr | None) -> list[ast.expr]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return list(node.elts)
    return [node] if node is not None else []


def _class_auth(index: SyntaxIndex, cls: ast.ClassDef) -> tuple[str | None, str, bool]:
    """(marker text, kind, explicitly public) of a Django/DRF view class."""
    for base in cls.bases:
        if _AUTH_MIXINS.search(_call_name(base)):
            return index.segment(base), "mixin", False
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "permission_classes" for t in stmt.targets
        ):
            classes = [_call_name(e) for e in _elements(stmt.value)]
            if classes and all(c in _OPEN_PERMISSIONS for c in classes):
                return None, "", True
            if classes:
                return index.segment(stmt), "attribute", False
    decorated = _decorator_auth(index, cls)
    if decorated is not None:
        return decorated, "decorator", False
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in _PERMISSION_METHODS:
            return None, "", True  # decides in code (`get_permissions()`): nothing to copy, nothing to report
    return None, "", False


def _units(index: SyntaxIndex) -> list[_Unit]:
    units: list[_Unit] = []
    seen_classes: set[int] = set()
    protected_routers: set[str] = set()
    for name, router in routers(index).items():
        if _auth_dependency(index, keyword_value(router.call, "dependencies")):
            protected_routers.add(name)
    for endpoint in endpoints(index):
        func = endpoint.function
        public = bool(_PUBLIC.search(func.name) or (endpoint.path and _PUBLIC.search(endpoint.path)))
        if endpoint.framework in ("fastapi", "starlette"):
            if endpoint.router in protected_routers:
                continue
            auth, kind = _fastapi_auth(index, endpoint)
            if auth is None:
                decorated = _decorator_auth(index, func)
                auth, kind = (decorated, "decorator") if decorated else (None, "")
            units.append(_Unit(func.name, endpoint.router, func, auth, kind, public, endpoint))
        elif endpoint.view_class is not None:
            cls = endpoint.view_class
            if id(cls) in seen_classes:
                continue
            seen_classes.add(id(cls))
            auth, kind, open_on_purpose = _class_auth(index, cls)
            public = open_on_purpose or bool(_PUBLIC.search(cls.name))
            units.append(_Unit(cls.name, "<module>", cls, auth, kind, public, endpoint))
        else:
            if endpoint.decorator is None and not func.decorator_list:
                # A module-level `def f(request)` with no decorator at all is as often a helper as a view
                # (`_check_can_view_revisions(request, page)`): only routed or decorated functions count.
                continue
            if func.name.startswith("_"):
                continue
            routed, open_route = _route_auth(index, func)
            if routed is not None:
                units.append(_Unit(func.name, endpoint.router, func, routed, "route", public, endpoint))
                continue
            public = public or open_route
            decorated = _decorator_auth(index, func)
            units.append(
                _Unit(
                    func.name,
                    endpoint.router,
                    func,
                    decorated,
                    "decorator" if decorated else "",
                    public,
                    endpoint,
                )
            )
    return units


def _insert_decorator(index: SyntaxIndex, node: FunctionNode | ast.ClassDef, text: str) -> Edit:
    """A decorator line directly above `def` (below route decorators, which must stay outermost)."""
    indent = index.source.line_text(node.lineno - 1)[: index.source.column(node.lineno, node.col_offset)]
    return Edit(path=index.source.path, range=Range.of(node.lineno - 1, 0), new_text=f"{indent}@{text}\n")


def _parameter_edit(index: SyntaxIndex, func: FunctionNode, text: str) -> Edit | None:
    """Append the parameter `text` to the signature of `func`, keeping it valid."""
    args = func.args
    has_default = "=" in text.split(":", 1)[-1] if ":" in text else "=" in text
    every: list[ast.AST] = [*args.posonlyargs, *args.args, *args.defaults]
    if args.vararg:
        every.append(args.vararg)
    every.extend(args.kwonlyargs)
    every.extend(d for d in args.kw_defaults if d is not None)
    if args.kwarg:
        return None  # after **kwargs nothing can follow
    if not every:
        line = func.lineno
        row = index.source.line_text(line - 1)
        at = row.find("(", index.name_range(func).end.character)
        if at < 0:
            return None
        return Edit(path=index.source.path, range=Range.of(line - 1, at + 1), new_text=text)
    last = max(every, key=lambda n: (getattr(n, "end_lineno", 0), getattr(n, "end_col_offset", 0)))
    end = index.range(last).end
    prefix = ", "
    if not has_default and args.defaults and not args.vararg and not args.kwonlyargs:
        prefix = ", *, "
    return Edit(path=index.source.path, range=Range(start=end, end=end), new_text=prefix + text)


def _auth_fix(index: SyntaxIndex, unit: _Unit, model: _Unit) -> Fix | None:
    assert model.auth is not None
    if model.auth_kind == "decorator":
        return Fix(title=f"Add {model.auth}", edits=(_insert_decorator(index, unit.node, model.auth),))
    if model.auth_kind == "dependency" and unit.endpoint.decorator is not None:
        decorator = unit.endpoint.decorator
        if keyword_value(decorator, "dependencies") is not None:
            return None
        end = index.range(decorator).end
        before = Range.of(end.line, end.character - 1)
        separator = ", " if decorator.args or decorator.keywords else ""
        return Fix(
            title=f"Add dependencies={model.auth}",
            edits=(
                Edit(path=index.source.path, range=before, new_text=f"{separator}dependencies={model.auth}"),
            ),
        )
    if model.auth_kind == "parameter" and isinstance(unit.node, ast.FunctionDef | ast.AsyncFunctionDef):
        name = model.auth.split(":", 1)[0].split("=", 1)[0].strip()
        taken = {
            a.arg for a in [*unit.node.args.posonlyargs, *unit.node.args.args, *unit.node.args.kwonlyargs]
        }
        if name in taken:
            return None
        edit = _parameter_edit(index, unit.node, model.auth)
        return Fix(title=f"Add the parameter {model.auth}", edits=(edit,)) if edit else None
    if model.auth_kind == "mixin" and isinstance(unit.node, ast.ClassDef) and unit.node.bases:
        start = index.range(unit.node.bases[0]).start
        return Fix(
            title=f"Inherit from {model.auth}",
            edits=(
                Edit(path=index.source.path, range=Range(start=start, end=start), new_text=f"{model.auth}, "),
            ),
        )
    if model.auth_kind == "attribute" and isinstance(unit.node, ast.ClassDef):
        first = unit.node.body[0]
        indent = index.source.line_text(first.lineno - 1)[
            : index.source.column(first.lineno, first.col_offset)
        ]
        line = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
        gap = "\n" if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else ""
        return Fix(
            title=f"Add {model.auth}",
            edits=(
                Edit(
                    path=index.source.path,
                    range=Range.of(line - 1, 0),
                    new_text=f"{indent}{model.auth}\n{gap}",
                ),
            ),
        )
    return None


@rule(
    "PE402",
    "endpoint-without-auth",
    "Most endpoints of a router require authentication, and this one does not",
    severity=Severity.WARNING,
    frameworks=WEB_FRAMEWORKS,
    # Opt-in: 0 of 16 right on the corpus before narrowing (docs/rules.md "Measured precision"). Auth lives
    # in too many places one file cannot see (project-wide permission defaults, routers included with
    # dependencies elsewhere, per-request checks in the body).
    default=False,
)
def endpoint_without_auth(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None or is_test_path(inp.source.relative):
        return  # test apps leave routes open on purpose
    groups: dict[str, list[_Unit]] = {}
    for unit in _units(index):
        groups.setdefault(unit.group, []).append(unit)
    for group, units in groups.items():
        protected = [u for u in units if u.auth is not None]
        open_units = [u for u in units if u.auth is None and not u.public]
        # "Most": a strict majority of the endpoints that are not public by name (login, health...).
        if len(protected) < 2 or len(protected) <= len(open_units):
            continue
        markers = Counter(u.auth for u in protected)
        common, _ = markers.most_common(1)[0]
        model = next(u for u in protected if u.auth == common)
        where = "this module" if group == "<module>" else f"`{group}`"
        for unit in open_units:
            fix = _auth_fix(index, unit, model)
            node = unit.node
            yield inp.report(
                "PE402",
                message=(
                    f"{unit.name} has no authentication, unlike {len(protected)} of {len(units)} endpoints here"
                ),
                detail=(
                    f"{len(protected)} of {len(units)} endpoints in {where} require `{common}`. If this one is "
                    "public on purpose, say so with `# noqa: PE402`."
                ),
                range=index.name_range(node),
                fixes=(fix,) if fix is not None else (),
                data={
                    "endpoint": unit.name,
                    "auth": common,
                    "protected": len(protected),
                    "total": len(units),
                },
            )


# -- PE403 response without a model ----------------------------------------------------------------------------


def _returned_dicts(index: SyntaxIndex, func: FunctionNode) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and node.value is not None and index.function(node) is func:
            value = node.value
            if isinstance(value, ast.Dict | ast.DictComp) or (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
            ):
                found.append(value)
    return found


@rule(
    "PE403",
    "response-without-model",
    "A FastAPI endpoint returns a dict with no `response_model` or return annotation",
    severity=Severity.INFO,
    frameworks=("fastapi",),
    local=True,
)
def response_without_model(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    for endpoint in endpoints(index):
        func = endpoint.function
        decorator = endpoint.decorator
        if endpoint.framework != "fastapi" or decorator is None or func.returns is not None:
            continue
        if any(kw.arg in ("response_model", "response_class") for kw in decorator.keywords):
            continue
        dicts = _returned_dicts(index, func)
        if not dicts:
            continue
        keys = [
            k.value
            for d in dicts
            if isinstance(d, ast.Dict)
            for k in d.keys
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        ]
        keys = list(dict.fromkeys(keys))
        shown = f" (keys: {', '.join(keys[:4])}{'...' if len(keys) > 4 else ''})" if keys else ""
        yield inp.report(
            "PE403",
            message=f"{func.name} returns a dict with no response model{shown}",
            detail=(
                "FastAPI sends whatever lands in the dict (a password hash, an internal id) and OpenAPI shows no "
                "schema: declare a pydantic `response_model`."
            ),
            range=index.name_range(func),
            data={"function": func.name, "keys": keys},
        )
