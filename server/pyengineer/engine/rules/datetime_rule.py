"""PE803: naive "UTC" datetimes from `utcnow()` / `utcfromtimestamp()`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from pyengineer.engine.import_edits import need_name
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import SyntaxIndex, syntax_index
from pyengineer.findings import Edit, Finding, Fix, Severity

_NAIVE = {
    "datetime.datetime.utcnow": "now",
    "datetime.datetime.utcfromtimestamp": "fromtimestamp",
}


def _fix(index: SyntaxIndex, call: ast.Call, replacement: str) -> Fix | None:
    assert isinstance(call.func, ast.Attribute)
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    expected = 0 if replacement == "now" else 1
    if len(call.args) != expected:
        return None
    timezone = need_name(index, "datetime", "timezone")
    owner = index.segment(call.func.value)
    arguments = [index.segment(a) for a in call.args] + [f"{timezone.name}.utc"]
    edits = [
        Edit(
            path=index.source.path,
            range=index.range(call),
            new_text=f"{owner}.{replacement}({', '.join(arguments)})",
        )
    ]
    if timezone.edit is not None:
        edits.append(timezone.edit)
    return Fix(
        title=f"Replace with `{owner}.{replacement}({', '.join(arguments)})`",
        edits=tuple(edits),
        safe=True,
        preferred=True,
    )


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
    for call in index.of_type(ast.Call):
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in ("utcnow", "utcfromtimestamp"):
            continue
        replacement = _NAIVE.get(index.qualified_name(call.func) or "")
        if replacement is None:
            continue
        django = (
            " In Django code, `django.utils.timezone.now()` does this for you."
            if inp.context.uses("django")
            else ""
        )
        fix = _fix(index, call, replacement)
        yield Finding(
            code="PE803",
            message=(
                f"`{call.func.attr}()` returns a naive datetime that only means UTC by convention: `.astimezone()`, "
                "`.timestamp()` and comparisons treat it as local time, and it is deprecated since Python 3.12. "
                f"Use an aware datetime: `datetime.{replacement}({'ts, ' if replacement != 'now' else ''}timezone.utc)`."
                + django
            ),
            path=inp.source.path,
            range=index.range(call),
            severity=Severity.WARNING,
            fixes=(fix,) if fix is not None else (),
            data={"call": call.func.attr},
        )
