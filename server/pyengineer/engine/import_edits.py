"""Edits that add an import where an isort-sorted file would have it, reusing what the file imports."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass

from pyengineer.engine.syntax import SyntaxIndex
from pyengineer.findings import Edit, Range
from pyengineer.lines import line_ending

_STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class ImportNeed:
    """The name to write in code for an imported object, and the edit (if any) that makes it available."""

    name: str
    edit: Edit | None


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _top(stmt: ast.Import | ast.ImportFrom) -> str:
    if isinstance(stmt, ast.Import):
        return stmt.names[0].name.split(".", 1)[0]
    return "" if stmt.level else (stmt.module or "").split(".", 1)[0]


def _sort_key(stmt: ast.Import | ast.ImportFrom) -> tuple[int, str]:
    # ruff's isort default: `import x` statements before `from x import y` ones within a section.
    if isinstance(stmt, ast.Import):
        return 0, stmt.names[0].name.lower()
    return 1, (stmt.module or "").lower()


def _insert_at(index: SyntaxIndex, line: int, text: str) -> Edit:
    # In the file's own line ending: an `import asyncio\n` in a CRLF file left it with mixed endings.
    ending = line_ending(index.source.text) or "\n"
    return Edit(path=index.source.path, range=Range.of(line, 0), new_text=text.replace("\n", ending))


def _new_statement_edit(index: SyntaxIndex, statement: str, module: str, is_from: bool) -> Edit:
    """Insert `statement` among the module-level imports of its isort section (stdlib or third-party)."""
    body = index.tree.body
    key = (1 if is_from else 0, module.lower())
    stdlib = module.split(".", 1)[0] in _STDLIB
    imports: list[ast.Import | ast.ImportFrom] = [
        s for s in body if isinstance(s, ast.Import | ast.ImportFrom) and not _is_future(s)
    ]
    section = [s for s in imports if (_top(s) in _STDLIB) == stdlib and _top(s)]
    if section:
        for stmt in section:
            if _sort_key(stmt) > key:
                return _insert_at(index, stmt.lineno - 1, statement + "\n")
        last = section[-1]
        return _insert_at(index, last.end_lineno or last.lineno, statement + "\n")
    if imports:
        if stdlib:
            # The stdlib section comes first: open it above the third-party one.
            return _insert_at(index, imports[0].lineno - 1, statement + "\n\n")
        last = imports[-1]
        return _insert_at(index, last.end_lineno or last.lineno, "\n" + statement + "\n")
    # No imports yet: after the docstring and `from __future__` imports.
    line = 0
    for node in body:
        is_docstring = (
            node is body[0]
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if is_docstring or _is_future(node):
            line = node.end_lineno or node.lineno
        else:
            break
    following = index.source.line_text(line)
    tail = "\n" if following.strip() else ""
    lead = "\n" if line > 0 and index.source.line_text(line - 1).strip() else ""
    return _insert_at(index, line, lead + statement + "\n" + tail)


def need_module(index: SyntaxIndex, module: str) -> ImportNeed:
    """How to refer to `module` (`asyncio`), adding `import asyncio` when the file has no such name."""
    for binding in index.imports.values():
        if binding.qualified == module and binding.module_level and "." not in module:
            return ImportNeed(binding.name, None)
    if module in index.module_names:
        # The name is taken by something else: import under an alias nobody uses.
        alias = _free_name(index, f"{module}_module")
        return ImportNeed(alias, _new_statement_edit(index, f"import {module} as {alias}", module, False))
    return ImportNeed(module, _new_statement_edit(index, f"import {module}", module, False))


def need_name(index: SyntaxIndex, module: str, name: str) -> ImportNeed:
    """How to refer to `module.name` (`timezone`), adding or extending `from module import name`."""
    qualified = f"{module}.{name}"
    existing = index.bound_to(qualified)
    if existing is not None and index.imports[existing].module_level:
        return ImportNeed(existing, None)
    # `import datetime` already gives `datetime.timezone`.
    for binding in index.imports.values():
        if binding.module_level and binding.qualified == module and (binding.plain or "." not in module):
            return ImportNeed(f"{binding.name}.{name}", None)
    local = name if name not in index.module_names else _free_name(index, f"{module.split('.')[-1]}_{name}")
    spelled = name if local == name else f"{name} as {local}"
    for stmt in index.tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == module and stmt.level == 0:
            if any(alias.name == "*" for alias in stmt.names):
                continue
            last = stmt.names[-1]
            end_line = last.end_lineno or stmt.lineno
            end_col = index.source.column(end_line, last.end_col_offset or 0)
            edit = Edit(
                path=index.source.path, range=Range.of(end_line - 1, end_col), new_text=f", {spelled}"
            )
            return ImportNeed(local, edit)
    return ImportNeed(local, _new_statement_edit(index, f"from {module} import {spelled}", module, True))


def _free_name(index: SyntaxIndex, base: str) -> str:
    name = base
    n = 2
    while name in index.module_names or name in index.imports:
        name = f"{base}{n}"
        n += 1
    return name
