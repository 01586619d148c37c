"""PE801: SQL built from strings instead of bound parameters."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, replace

from pyengineer.engine.code_kinds import is_test_path
from pyengineer.engine.registry import RuleInput, rule
from pyengineer.engine.syntax import SyntaxIndex, syntax_index
from pyengineer.engine.web_endpoints import keyword_value
from pyengineer.findings import Edit, Finding, Fix, Severity

_TEXT_FUNCTIONS = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "sqlmodel.text"}
)
_READ_SQL = frozenset({"pandas.read_sql", "pandas.read_sql_query"})
_EXECUTE_METHODS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql", "raw", "mogrify"})
_ASYNCPG_METHODS = frozenset({"fetch", "fetchrow", "fetchval"})
_SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|create|drop|alter|with|replace|merge|from|where|values|truncate|grant|"
    r"limit|order by|group by|join)\b",
    re.IGNORECASE,
)
_SIMPLE_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")


@dataclass(frozen=True)
class _Built:
    how: str  # "an f-string", "% formatting", "str.format()", "concatenation"
    node: ast.expr  # the string expression itself
    literal: str  # the constant text in it (to recognise SQL)


def _constant_names(index: SyntaxIndex) -> frozenset[str]:
    """Module-level UPPER_CASE names bound to a string constant: safe to interpolate (no user input)."""

    def compute() -> frozenset[str]:
        names = set()
        for stmt in index.tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                for target in stmt.targets:
                    if isinstance(target, ast.Name) and target.id.isupper():
                        names.add(target.id)
        return frozenset(names)

    return index.memo("pe801.constants", compute)


def _is_static(index: SyntaxIndex, node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in _constant_names(index)
    if isinstance(node, ast.JoinedStr):
        return all(_is_static(index, v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return _is_static(index, node.value)
    if isinstance(node, ast.BinOp):
        return _is_static(index, node.left) and _is_static(index, node.right)
    if isinstance(node, ast.Tuple):
        return all(_is_static(index, e) for e in node.elts)
    return False


def _literal_text(node: ast.expr) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def _built(index: SyntaxIndex, node: ast.expr) -> _Built | None:
    """How `node` builds a string from non-constant parts, or None if it is a constant or not a string."""
    if _is_static(index, node):
        return None
    if isinstance(node, ast.JoinedStr):
        return _Built("an f-string", node, _literal_text(node))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            return _Built("% formatting", node, node.left.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        text = _literal_text(node)
        if text:
            return _Built("string concatenation", node, text)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return _Built("str.format()", node, node.func.value.value)
    return None


def _resolve(index: SyntaxIndex, node: ast.expr, call: ast.Call) -> tuple[_Built, ast.expr] | None:
    """The built string passed as `node`, following a local variable back to its assignment."""
    built = _built(index, node)
    if built is not None:
        return built, node
    if not isinstance(node, ast.Name):
        return None
    scope = index.scope(call)
    found: _Built | None = None
    literal = ""
    for stmt in ast.walk(scope):
        if getattr(stmt, "lineno", 0) > call.lineno or index.scope(stmt) is not scope:
            continue
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
        ):
            found = _built(index, stmt.value)
            literal += " " + _literal_text(stmt.value)
        elif (
            isinstance(stmt, ast.AugAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id == node.id
        ):
            literal += " " + _literal_text(stmt.value)
            if not _is_static(index, stmt.value):
                found = _Built("string concatenation (+=)", stmt.value, "")
    if found is not None:
        found = replace(found, literal=f"{found.literal} {literal}")
    return (found, node) if found is not None else None


# -- where an interpolated part goes: a value (injectable, and a placeholder can take it) or an identifier ----

# The SQL before a value: a comparison, LIKE, LIMIT/OFFSET, BETWEEN, or inside `IN (...)` / `VALUES (...)`.
_VALUE_BEFORE = re.compile(
    r"(?:[=<>]|\b(?:i?like|limit|offset|between)|\b(?:in|values)\s*\([^()]*)\s*$", re.IGNORECASE
)
_UTILITY_STATEMENT = re.compile(
    r"\s*(?:create|alter|drop|copy|grant|revoke|truncate|comment|notify|listen|set|reset|vacuum|analyze|"
    r"pragma|attach|detach|use|show|describe|explain\s+(?!select))\b",
    re.IGNORECASE,
)
_BINDABLE_STATEMENT = re.compile(
    r"\s*\(?\s*(?:select|insert|update|delete|with|replace|merge)\b", re.IGNORECASE
)
_PLACEHOLDERS_TEXT = re.compile(r"\?|%s|:\w+|\$\d")
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{([^{}!:]*)(?:![rsa])?(?::[^{}]*)?\}")
_PERCENT_FIELD = re.compile(r"%%|%(?:\(([^)]*)\))?[-#0 +]*\d*(?:\.\d+)?([sdifr])")


@dataclass(frozen=True)
class _Part:
    """One interpolated part of a SQL string and where it lands."""

    node: ast.expr | None  # None when the part cannot be told (a dict of % values)
    position: str  # value | quoted (inside a '...' literal) | whole-quoted ('{x}') | identifier
    constant: bool  # an UPPER_CASE name, a number, int(...): not user input


def _quoted(prefix: str) -> bool:
    """Inside a single-quoted SQL literal after `prefix` (doubled quotes escape one)."""
    return prefix.replace("''", "").count("'") % 2 == 1


def _position(prefix: str, following: str) -> str:
    if _quoted(prefix):
        whole = prefix.endswith("'") and following.startswith("'")
        return "whole-quoted" if whole else "quoted"
    return "value" if _VALUE_BEFORE.search(prefix) else "identifier"


def _local_constant(index: SyntaxIndex, node: ast.Name, depth: int) -> bool:
    """A local name every assignment of which is a constant: `batch_size = 500`, `offset += batch_size`,
    `placeholders = ", ".join(["%s"] * n)`. A parameter or a loop variable is not."""
    scope = index.scope(node)
    values: list[ast.expr] = []
    for stmt in ast.walk(scope):
        if index.scope(stmt) is not scope:
            continue
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
        ):
            values.append(stmt.value)
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.target.id == node.id:
                if stmt.value is None:
                    return False
                values.append(stmt.value)
        elif isinstance(stmt, ast.For | ast.AsyncFor | ast.comprehension | ast.withitem | ast.NamedExpr):
            target = getattr(stmt, "target", None) or getattr(stmt, "optional_vars", None)
            if target is not None and any(
                isinstance(n, ast.Name) and n.id == node.id for n in ast.walk(target)
            ):
                return False
    return bool(values) and all(_constant_part(index, v, depth + 1) for v in values)


def _constant_part(index: SyntaxIndex, node: ast.expr | None, depth: int = 0) -> bool:
    if node is None or depth > 4:
        return False
    if isinstance(node, ast.FormattedValue):
        return _constant_part(index, node.value, depth)
    if isinstance(node, ast.Constant):
        return True
    if _is_static(index, node):
        return True
    if isinstance(node, ast.BinOp):
        return _constant_part(index, node.left, depth + 1) and _constant_part(index, node.right, depth + 1)
    chain: list[str] = []
    inner: ast.expr = node
    while isinstance(inner, ast.Attribute):
        chain.append(inner.attr)
        inner = inner.value
    if isinstance(inner, ast.Name):
        chain.append(inner.id)
    if any(part.lstrip("_").isupper() and any(c.isalpha() for c in part) for part in chain):
        # A constant, imported or a class attribute or an enum member (`DEFAULT_WORKSPACE_NAME`, `self.TABLE`,
        # `SkillStatus.ACTIVE.value`).
        return True
    if isinstance(node, ast.Name) and _local_constant(index, node, depth):
        return True
    if isinstance(node, ast.Call):
        callee = node.func.id if isinstance(node.func, ast.Name) else ""
        if callee in ("int", "float", "len", "bool"):
            return True
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join":
            # `",".join("?" * len(ids))`: placeholders, the values are bound.
            return bool(_PLACEHOLDERS_TEXT.search(_literal_text(node)))
    if isinstance(node, ast.List | ast.ListComp) and _PLACEHOLDERS_TEXT.search(_literal_text(node)):
        return True  # `["%s"] * n`, `["%s" for _ in keys]`
    return False


def _parts(index: SyntaxIndex, node: ast.expr) -> list[_Part]:
    """The interpolated parts of the string `node` builds, each with where it lands in the SQL."""
    parts: list[_Part] = []
    if isinstance(node, ast.JoinedStr):
        prefix = ""
        for i, value in enumerate(node.values):
            if isinstance(value, ast.Constant):
                prefix += str(value.value)
                continue
            following = node.values[i + 1] if i + 1 < len(node.values) else None
            after = str(following.value) if isinstance(following, ast.Constant) else ""
            parts.append(_Part(value, _position(prefix, after), _constant_part(index, value)))
            prefix += "?"
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        template = str(node.left.value)
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        n = 0
        for m in _PERCENT_FIELD.finditer(template):
            if m.group(0) == "%%":
                continue
            item = values[n] if m.group(1) is None and n < len(values) else None
            if m.group(1) is None:
                n += 1
            position = _position(template[: m.start()], template[m.end() :])
            numeric = m.group(2) in "dif"
            parts.append(_Part(item, position, numeric or _constant_part(index, item)))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        template = str(getattr(node.func.value, "value", ""))
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        n = 0
        for m in _FORMAT_FIELD.finditer(template):
            if m.group(1) is None:
                continue
            field = m.group(1).split(".", 1)[0].split("[", 1)[0]
            argument: ast.expr | None
            if field == "":
                argument = node.args[n] if n < len(node.args) else None
                n += 1
            elif field.isdigit():
                argument = node.args[int(field)] if int(field) < len(node.args) else None
            else:
                argument = keywords.get(field)
            position = _position(template[: m.start()], template[m.end() :])
            parts.append(_Part(argument, position, _constant_part(index, argument)))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        operands: list[ast.expr] = []

        def flatten(n: ast.expr) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                flatten(n.left)
                flatten(n.right)
            else:
                operands.append(n)

        flatten(node)
        prefix = ""
        for i, operand in enumerate(operands):
            if isinstance(operand, ast.Constant) and isinstance(operand.value, str):
                prefix += operand.value
                continue
            if isinstance(operand, ast.JoinedStr):
                inner = _parts(index, operand)
                parts.extend(inner)
                prefix += _literal_text(operand)
                continue
            following = operands[i + 1] if i + 1 < len(operands) else None
            after = (
                following.value
                if isinstance(following, ast.Constant) and isinstance(following.value, str)
                else ""
            )
            parts.append(_Part(operand, _position(prefix, after), _constant_part(index, operand)))
            prefix += "?"
    return parts


def _injectable(parts: list[_Part]) -> bool:
    """A non-constant part lands where SQL takes a value: that is what a quote in the data breaks."""
    return any(p.position != "identifier" and not p.constant for p in parts)


def _style(index: SyntaxIndex, is_text: bool, method: str) -> str:
    """The driver's placeholder style: `:name`, `?`, `%s` or `$1`."""
    if is_text:
        return ":name"
    if index.imports_module("asyncpg") and method in (*_ASYNCPG_METHODS, "execute"):
        return "$1"
    if index.imports_module("sqlite3"):
        return "?"
    if index.imports_module("psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql", "django"):
        return "%s"
    if index.imports_module("sqlalchemy", "sqlmodel"):
        return ":name"
    return ""


def _fstring_fix(
    index: SyntaxIndex, call: ast.Call, node: ast.JoinedStr, style: str, is_text: bool
) -> Fix | None:
    """Rewrite `f"... '{x}'"` into a query with placeholders and the values passed as parameters."""
    segment = index.segment(node)
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(segment).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)
        ]
    except (tokenize.TokenError, SyntaxError):
        return None
    if len(tokens) != 1 or tokens[0].type != tokenize.STRING:
        return None  # implicit concatenation of several literals: leave it to the user
    prefix_len = len(segment) - len(segment.lstrip("rRfFbBuU"))
    prefix = segment[:prefix_len]
    quote = (
        segment[prefix_len : prefix_len + 3]
        if segment[prefix_len : prefix_len + 3] in ('"""', "'''")
        else segment[prefix_len]
    )
    body = segment[prefix_len + len(quote) : len(segment) - len(quote)]
    values: list[str] = []
    names: dict[str, str] = {}
    out: list[str] = []
    keep_f = False
    i = 0
    while i < len(body):
        if body.startswith("{{", i) or body.startswith("}}", i):
            out.append(body[i : i + 2])
            i += 2
            continue
        if body[i] == "{":
            match = _SIMPLE_PLACEHOLDER.match(body, i)
            if match is None:
                return None
            expr = match.group(1)
            if expr in _constant_names(index):
                keep_f = True  # a module constant (a table name): it stays interpolated
                out.append(match.group(0))
                i = match.end()
                continue
            if style == ":name":
                name = names.get(expr)
                if name is None:
                    base = expr.rsplit(".", 1)[-1]
                    name = base
                    n = 2
                    while name in names.values():
                        name = f"{base}_{n}"
                        n += 1
                    names[expr] = name
                placeholder = f":{name}"
            elif style == "$1":
                if expr not in values:
                    values.append(expr)
                placeholder = f"${values.index(expr) + 1}"
            else:
                values.append(expr)
                placeholder = style
            quoted = (
                out and out[-1].endswith(("'", '"')) and body[match.end() : match.end() + 1] == out[-1][-1]
            )
            if quoted:
                out[-1] = out[-1][:-1]
                i = match.end() + 1
            else:
                i = match.end()
            out.append(placeholder)
            continue
        if body[i] == "}":
            return None
        literal_char = body[i]
        if style == "%s" and literal_char == "%":
            literal_char = "%%"
        if (style == "?" and literal_char == "?") or (style == ":name" and literal_char == ":"):
            return None  # a literal that the driver would read as a placeholder
        out.append(literal_char)
        i += 1
    if not values and not names:
        return None
    joined = "".join(out)
    if not keep_f:
        prefix = prefix.replace("f", "").replace("F", "")
        joined = joined.replace("{{", "{").replace("}}", "}")
    query = prefix + quote + joined + quote
    if style == ":name":
        if not is_text:
            return None
        binds = ", ".join(f"{name}={expr}" for expr, name in names.items())
        edit = Edit(
            path=index.source.path,
            range=index.range(call),
            new_text=f"{index.segment(call.func)}({query}).bindparams({binds})",
        )
    elif len(call.args) == 1 and not call.keywords:
        if style == "$1":
            new_args = ", ".join([query, *values])
        else:
            new_args = f"{query}, ({', '.join(values)}{',' if len(values) == 1 else ''})"
        edit = Edit(
            path=index.source.path,
            range=index.range(call),
            new_text=f"{index.segment(call.func)}({new_args})",
        )
    else:
        return None
    return Fix(title="Use bound parameters", edits=(edit,), preferred=True)


@rule(
    "PE801",
    "sql-built-from-strings",
    "SQL built with f-strings, `%`, `.format()` or `+` is passed to `execute()` / `text()`",
    severity=Severity.ERROR,
    ruff_equivalent="S608",
    local=True,
    # Opt-in: on the corpus, after narrowing to values (not identifiers, constants or DDL), 1 of 5 findings
    # was right (docs/rules.md "Measured precision"): real projects build SQL from configuration, and one file
    # cannot tell a table name from user input.
    default=False,
)
def sql_built_from_strings(inp: RuleInput) -> Iterator[Finding]:
    index = syntax_index(inp.source)
    if index is None or is_test_path(inp.source.relative):
        return  # test code builds SQL from its own fixtures
    for call in index.of_type(ast.Call):
        qualified = index.qualified_name(call.func) or ""
        is_text = qualified in _TEXT_FUNCTIONS
        is_read_sql = qualified in _READ_SQL
        method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        is_execute = method in _EXECUTE_METHODS or (
            method in _ASYNCPG_METHODS and index.imports_module("asyncpg")
        )
        if not (is_text or is_read_sql or is_execute):
            continue
        argument = (
            call.args[0] if call.args else keyword_value(call, "sql") or keyword_value(call, "statement")
        )
        if argument is None:
            continue
        resolved = _resolve(index, argument, call)
        if resolved is None:
            continue
        built, shown = resolved
        if not (is_text or is_read_sql) and not _SQL_WORDS.search(built.literal):
            continue  # `executor.execute(f"...")` that is not SQL
        if _UTILITY_STATEMENT.match(built.literal):
            # DDL and utility statements (`CREATE TABLE {name}`, `COPY INTO`, `NOTIFY`, `SET ...`) take
            # identifiers and options, not bound values; on the corpus they were all built from configuration.
            continue
        parts = _parts(index, built.node)
        if not _injectable(parts):
            # Identifiers (table and column names), constants and placeholder lists: no placeholder can take
            # an identifier, and a constant is no one's input (measured on the corpus: bench/precision).
            continue
        style = _style(index, is_text, method)
        placeholder = {
            ":name": '`:name` placeholders with the values passed separately (`text("... WHERE id = :id")`, '
            '`{"id": user_id}`)',
            "?": '`?` placeholders with the values as the second argument (`execute("... WHERE id = ?", (user_id,))`)',
            "%s": '`%s` placeholders with the values as the second argument (`execute("... WHERE id = %s", (user_id,))`)',
            "$1": '`$1` placeholders with the values as extra arguments (`fetch("... WHERE id = $1", user_id)`)',
            "": "the driver's placeholders (`?`, `%s` or `:name`) with the values passed separately",
        }[style]
        via = f" (built in `{index.snippet(shown, 30)}`)" if shown is not built.node else ""
        fixes: tuple[Fix, ...] = ()
        # The fix binds every part, so it is offered only when every part is a whole value: never for an
        # identifier (`SET ROLE {r}`, `FROM {table}`), never inside a quoted literal (`LIKE '%{x}%'`).
        bindable = all(
            p.position in ("value", "whole-quoted")
            or (isinstance(p.node, ast.FormattedValue) and _is_static(index, p.node.value))  # kept as is
            for p in parts
        )
        # Utility statements (`SET ...`, `ALTER ...`, `CREATE ...`) take no bound parameters on the server.
        bindable = bindable and bool(_BINDABLE_STATEMENT.match(built.literal))
        if (
            bindable
            and isinstance(built.node, ast.JoinedStr)
            and shown is argument
            and built.node is argument
            and style
        ):
            fix = _fstring_fix(index, call, built.node, style, is_text)
            fixes = (fix,) if fix is not None else ()
        yield inp.report(
            "PE801",
            message=f"SQL built with {built.how} is passed to {index.snippet(call.func, 30)}(): bind the values",
            detail=(
                f"The query{via} is built from strings: a value with a quote in it breaks the query or injects SQL. "
                f"Use {placeholder}."
            ),
            range=index.range(argument),
            fixes=fixes,
            data={"how": built.how, "style": style},
        )
