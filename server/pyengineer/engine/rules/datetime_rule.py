"""PE803: naive "UTC" datetimes from `utcnow()` / `utcfromtimestamp()`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from pyengineer.engine.import_edits import need_name
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import SyntaxIndex, body_fact, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Severity

_NAIVE = {
    "datetime.datetime.utcnow": "now",
    "datetime.datetime.utcfromtimestamp": "fromtimestamp",
}
# Spellings of UTC as a tzinfo: `timezone.utc`, `datetime.UTC` (3.11), `pytz.utc`, `ZoneInfo("UTC")`...
_UTC_NAMES = frozenset(
    {"datetime.timezone.utc", "datetime.UTC", "pytz.utc", "pytz.UTC", "dateutil.tz.UTC", "dateutil.tz.tzutc"}
)
_AWARE_MAKERS = frozenset({"datetime.datetime.now", "datetime.datetime.fromtimestamp"})


def _is_utc(index: SyntaxIndex, expr: ast.expr) -> bool:
    if isinstance(expr, ast.Call):
        name = index.qualified_name(expr.func) or ""
        if name in ("zoneinfo.ZoneInfo", "pytz.timezone"):
            return bool(expr.args) and isinstance(expr.args[0], ast.Constant) and expr.args[0].value == "UTC"
        return name == "dateutil.tz.tzutc"
    return (index.qualified_name(expr) or "") in _UTC_NAMES


def _makes_aware_utc(index: SyntaxIndex, calls: list[ast.Call]) -> bool:
    """True if one of `calls` is `datetime.now(<UTC>)` / `datetime.fromtimestamp(ts, <UTC>)`."""
    for call in calls:
        name = index.qualified_name(call.func) if isinstance(call.func, ast.Attribute) else None
        if name is None or name not in _AWARE_MAKERS:
            continue
        at = 0 if name.endswith(".now") else 1
        tz = (
            call.args[at]
            if len(call.args) > at
            else next((k.value for k in call.keywords if k.arg == "tz"), None)
        )
        if tz is not None and _is_utc(index, tz):
            return True
    return False


@body_fact
def _function_makes_aware_utc(index: SyntaxIndex) -> bool:
    # Whether the fix is safe depends on the whole file: an edit that adds or removes the file's aware
    # datetimes must re-check every function, not only the edited one.
    return _makes_aware_utc(index, index.of_type(ast.Call))


def _made_aware_at_once(index: SyntaxIndex, call: ast.Call) -> bool:
    """`datetime.utcnow().replace(tzinfo=timezone.utc)`: the naive value is never seen, the fix is exact."""
    parent = index.parent(call)
    if not (isinstance(parent, ast.Attribute) and parent.attr == "replace"):
        return False
    outer = index.parent(parent)
    return (
        isinstance(outer, ast.Call)
        and outer.func is parent
        and not outer.args
        and len(outer.keywords) == 1
        and outer.keywords[0].arg == "tzinfo"
        and _is_utc(index, outer.keywords[0].value)
    )


def _fix(index: SyntaxIndex, call: ast.Call, replacement: str, safe: bool) -> Fix | None:
    assert isinstance(call.func, ast.Attribute)
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    expected = 0 if replacement == "now" else 1
    if len(call.args) != expected:
        return None
    timezone = need_name(index, "datetime", "timezone")
    owner = index.segment(call.func.value)
    arguments = [index.segment(a) for a in call.args] + [f"{timezone.name}.utc"]
    new_text = f"{owner}.{replacement}({', '.join(arguments)})"
    return _with_import(index, call, new_text, timezone.edit, safe)


def _reference_fix(index: SyntaxIndex, ref: ast.Attribute) -> Fix | None:
    """`default=datetime.utcnow` -> `default=lambda: datetime.now(timezone.utc)` (never safe: see below)."""
    if ref.attr != "utcnow":
        return None
    timezone = need_name(index, "datetime", "timezone")
    new_text = f"lambda: {index.segment(ref.value)}.now({timezone.name}.utc)"
    # A column default's value goes to the database: an aware value in a naive `timestamp` column is
    # converted or refused depending on the driver, whatever the rest of the file does.
    return _with_import(index, ref, new_text, timezone.edit, safe=False)


def _with_import(
    index: SyntaxIndex, node: ast.expr, new_text: str, import_edit: Edit | None, safe: bool
) -> Fix:
    edits = [Edit(path=index.source.path, range=index.range(node), new_text=new_text)]
    if import_edit is not None:
        edits.append(import_edit)
    caution = "" if safe else " (check comparisons and arithmetic with naive datetimes)"
    return Fix(title=f"Replace with {new_text}{caution}", edits=tuple(edits), safe=safe, preferred=True)


@rule(
    "PE803",
    "naive-utc-datetime",
    "`datetime.utcnow()` / `utcfromtimestamp()` return naive datetimes that only pretend to be UTC",
    severity=Severity.WARNING,
    ruff_equivalent="DTZ003, DTZ004",
    local=True,
)
def naive_utc_datetime(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None:
        return
    django = (
        " In Django, `django.utils.timezone.now()` does this for you." if inp.context.uses("django") else ""
    )
    file_is_aware: bool | None = None
    for node in index.of_type(ast.Attribute):
        if node.attr not in ("utcnow", "utcfromtimestamp"):
            continue
        replacement = _NAIVE.get(index.qualified_name(node) or "")
        if replacement is None:
            continue
        parent = index.parent(node)
        called = isinstance(parent, ast.Call) and parent.func is node
        if called:
            assert isinstance(parent, ast.Call)
            # An aware value where the program had a naive one raises TypeError when it meets a naive
            # datetime (`now - row.created_at` from a naive DB column): the fix is safe only when the value
            # is made aware at once, or the file already works with aware UTC datetimes.
            if file_is_aware is None:
                file_is_aware = _makes_aware_utc(index, index.document_nodes(ast.Call))
            safe = file_is_aware or _made_aware_at_once(index, parent)
            fix = _fix(index, parent, replacement, safe)
            where = index.range(parent)
            what = f"{node.attr}() returns a naive datetime that means"
        else:
            fix = _reference_fix(index, node)
            where = index.range(node)
            what = f"{index.snippet(node, 30)} makes naive datetimes that mean"
        yield inp.report(
            "PE803",
            message=f"{what} UTC only by convention",
            detail=(
                (
                    "Passed as a function, it is called later, and each call returns one. "
                    if not called
                    else ""
                )
                + "`.astimezone()`, `.timestamp()` and comparisons treat it as local time, and it is deprecated "
                f"since Python 3.12. Use an aware datetime: "
                f"`datetime.{replacement}({'ts, ' if replacement != 'now' else ''}timezone.utc)`.{django}"
            ),
            range=where,
            fixes=(fix,) if fix is not None else (),
            data={"call": node.attr, "reference": not called},
        )
