"""Find the imports of a Python file: precisely with `ast`, tolerantly with the tokenizer when it is broken.

Both scanners return the same records for valid code (a property test holds them to it), so a file in the
middle of an edit still tells us which libraries it uses.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import tokenize
import warnings
from collections.abc import Iterator
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from pyengineer.lines import char_column, source_lines

_DYNAMIC_IMPORTERS = {"import_module", "__import__"}


class ImportRecord(BaseModel):
    """One imported module: `import a.b` gives "a.b"; `from a import b` gives "a"."""

    model_config = ConfigDict(frozen=True)

    module: str
    line: int  # 1-based line of the import keyword (or the call, for dynamic imports)
    col: int  # 0-based column (code points) of the module name
    end_col: int
    type_only: bool = False  # under `if TYPE_CHECKING:`
    dynamic: bool = False  # importlib.import_module("x") / __import__("x")
    # A notebook's import in the workspace scan: the cell's index in the notebook, `line` in the cell's lines.
    cell: int | None = None

    @property
    def top_level(self) -> str:
        return self.module.split(".", 1)[0]


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    # One per module name: re's own cache holds 512 patterns, and a large tree imports thousands of names.
    return re.compile(r"\b" + re.escape(name).replace(r"\.", r"\s*\.\s*") + r"\b")


def _name_column(lines: list[str], line: int, default: int, name: str, after: int) -> int:
    """Where `name` is written on `line` at or after column `after` (ast does not record module positions)."""
    if 0 < line <= len(lines):
        text = lines[line - 1]
        found = _name_pattern(name).search(text, after)
        if found:
            return found.start()
    return default


def import_line_numbers(text: str) -> list[int] | None:
    """The 1-based numbers of the lines of `text` that contain `import`, or None when ast would number the
    lines differently (a lone `\r` ends a line too). Every import statement and every `import_module(`/
    `__import__(` call has the word on one of its lines, so a node spanning none of them holds no import."""
    if "\r" in text:
        return None
    numbers: list[int] = []
    line, last = 1, 0
    pos = text.find("import")
    while pos != -1:
        line += text.count("\n", last, pos)
        last = pos
        if not numbers or numbers[-1] != line:
            numbers.append(line)
        pos = text.find("import", pos + 6)
    return numbers


def imports_from_tree(tree: ast.AST, lines: list[str], near: list[int] | None = None) -> list[ImportRecord]:
    """The imports of a parsed module, in source order. `near`: `import_line_numbers` of its text; the nodes
    that span none of those lines are not walked (most of a long file), with the same result."""
    records: list[ImportRecord] = []
    find = bisect.bisect_left

    def visit(node: ast.AST, type_only: bool) -> None:
        if near is not None:
            end = getattr(node, "end_lineno", None)
            if end is not None:
                at = find(near, node.lineno)  # type: ignore[attr-defined]
                if at == len(near) or near[at] > end:
                    return
        if isinstance(node, ast.Import):
            for alias in node.names:
                col = char_column(lines, alias.lineno, alias.col_offset)
                records.append(
                    ImportRecord(
                        module=alias.name,
                        line=node.lineno,
                        col=col,
                        end_col=col + len(alias.name),
                        type_only=type_only,
                    )
                )
            return
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                start = char_column(lines, node.lineno, node.col_offset)
                col = _name_column(lines, node.lineno, start, node.module, start + 4)
                records.append(
                    ImportRecord(
                        module=node.module,
                        line=node.lineno,
                        col=col,
                        end_col=col + len(node.module),
                        type_only=type_only,
                    )
                )
            return
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else None
            )
            arg = node.args[0]
            if name in _DYNAMIC_IMPORTERS and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if arg.value and not arg.value.startswith("."):
                    col = char_column(lines, arg.lineno, arg.col_offset)
                    end = char_column(lines, arg.lineno, arg.end_col_offset or arg.col_offset)
                    records.append(
                        ImportRecord(
                            module=arg.value,
                            line=node.lineno,
                            col=col,
                            end_col=end if arg.end_lineno == arg.lineno else col,
                            type_only=type_only,
                            dynamic=True,
                        )
                    )
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            visit(node.test, type_only)
            for stmt in node.body:
                visit(stmt, True)
            for stmt in node.orelse:
                visit(stmt, type_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    records.sort(key=lambda r: (r.line, r.col))
    return records


# --- the tolerant scanner ---------------------------------------------------------------------------------

_STATEMENT_BOUNDARY = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_SKIPPED = {tokenize.NL, tokenize.COMMENT}


def _tokens(source: str) -> Iterator[tokenize.TokenInfo]:
    """Tokens of `source`; on a tokenizer error, skip the broken line and carry on after it."""
    # NUL is never valid in Python source, and Python 3.13's tokenizer can crash on it (SystemError):
    # a space in its place keeps every column where it was.
    lines = [line + "\n" for line in source_lines(source.replace("\x00", " "))]
    start = 0
    while start < len(lines):
        chunk = "".join(lines[start:])
        last_line = start
        try:
            for tok in tokenize.generate_tokens(io.StringIO(chunk).readline):
                if tok.type == tokenize.ERRORTOKEN and not tok.string.strip():
                    continue
                shifted = tok._replace(
                    start=(tok.start[0] + start, tok.start[1]), end=(tok.end[0] + start, tok.end[1])
                )
                last_line = shifted.start[0]
                yield shifted
            return
        except (tokenize.TokenError, SyntaxError, ValueError):
            # (Python 3.12+ also raises UnicodeDecodeError, a ValueError, on input such as "\\rü".)
            # Restart on the line after the one that broke; a fresh tokenizer also resets indentation.
            start = max(last_line, start + 1)
            yield tokenize.TokenInfo(tokenize.NEWLINE, "", (start, 0), (start, 0), "")


def imports_from_tokens(source: str) -> list[ImportRecord]:
    """The imports of `source`, which may not parse. Matches `imports_from_tree` on valid code."""
    records: list[ImportRecord] = []
    toks = [t for t in _tokens(source) if t.type not in _SKIPPED]
    n = len(toks)
    depth = 0
    # Stack of indentation levels that are `if TYPE_CHECKING:` blocks (by nesting depth in INDENTs).
    indent_level = 0
    type_checking_levels: list[int] = []
    pending_type_checking = False  # saw `if TYPE_CHECKING:` + NEWLINE, waiting for its INDENT
    inline_type_checking = False  # `if TYPE_CHECKING: import x` on one line
    at_statement_start = True
    i = 0

    def dotted(j: int) -> tuple[str, int, int, int]:
        """A dotted name starting at token j: (name, col, end_col, index after it)."""
        if j >= n or toks[j].type != tokenize.NAME:
            return "", 0, 0, j
        parts = [toks[j].string]
        col, end_col = toks[j].start[1], toks[j].end[1]
        line = toks[j].start[0]
        k = j + 1
        while k + 1 < n and toks[k].string == "." and toks[k + 1].type == tokenize.NAME:
            parts.append(toks[k + 1].string)
            if toks[k + 1].start[0] == line:
                end_col = toks[k + 1].end[1]
            k += 2
        return ".".join(parts), col, end_col, k

    while i < n:
        tok = toks[i]
        if (
            not at_statement_start
            and tok.type == tokenize.NAME
            and tok.string in ("import", "from")
            and i > 0
            and toks[i - 1].end[0] < tok.start[0]
            and not _ends_with_backslash(toks[i - 1])
        ):
            # An unclosed bracket or an unfinished line above (code being typed): valid code never
            # starts a continuation line with `import`/`from` (except after a backslash), so this is a
            # new statement.
            depth = 0
            at_statement_start = True
        if tok.type in _STATEMENT_BOUNDARY or (tok.type == tokenize.OP and tok.string == ";" and depth == 0):
            if tok.type == tokenize.NEWLINE:
                inline_type_checking = False
                depth = 0
            elif tok.type == tokenize.INDENT:
                indent_level += 1
                if pending_type_checking:
                    type_checking_levels.append(indent_level)
                    pending_type_checking = False
            elif tok.type == tokenize.DEDENT:
                if type_checking_levels and type_checking_levels[-1] == indent_level:
                    type_checking_levels.pop()
                indent_level = max(0, indent_level - 1)
            at_statement_start = True
            i += 1
            continue
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth = max(0, depth - 1)
            elif tok.string == ":" and depth == 0:
                # After a compound statement's colon a simple statement may follow on the same line.
                at_statement_start = True
                i += 1
                continue
        type_only = bool(type_checking_levels) or inline_type_checking
        if at_statement_start and tok.type == tokenize.NAME:
            if tok.string in ("if", "elif") and i + 1 < n:
                inline_type_checking = False
                # `if TYPE_CHECKING:`, `elif typing.TYPE_CHECKING:`, `if (TYPE_CHECKING):`
                j = i + 1
                while j < n and toks[j].string == "(":
                    j += 1
                name, _, _, k = dotted(j)
                unclosed = j - i - 1
                while unclosed and k < n and toks[k].string == ")":
                    unclosed -= 1
                    k += 1
                if (
                    not unclosed
                    and name.split(".")[-1] == "TYPE_CHECKING"
                    and k < n
                    and toks[k].string == ":"
                ):
                    if k + 1 < n and toks[k + 1].type == tokenize.NEWLINE:
                        pending_type_checking = True
                    else:
                        inline_type_checking = True
            elif tok.string == "else":
                inline_type_checking = False
            elif tok.string == "import":
                k = i + 1
                while k < n:
                    name, col, end_col, k = dotted(k)
                    if not name:
                        break
                    records.append(
                        ImportRecord(
                            module=name, line=tok.start[0], col=col, end_col=end_col, type_only=type_only
                        )
                    )
                    if k < n and toks[k].string == "as":
                        k += 2
                    if k < n and toks[k].string == ",":
                        k += 1
                        continue
                    break
                i = k
                at_statement_start = False
                continue
            elif tok.string == "from" and i + 1 < n and toks[i + 1].type == tokenize.NAME:
                name, col, end_col, k = dotted(i + 1)
                if name and k < n and toks[k].string == "import":
                    records.append(
                        ImportRecord(
                            module=name, line=tok.start[0], col=col, end_col=end_col, type_only=type_only
                        )
                    )
                i = k
                at_statement_start = False
                continue
        if (
            tok.type == tokenize.NAME
            and tok.string in _DYNAMIC_IMPORTERS
            and i + 2 < n
            and toks[i + 1].string == "("
            and toks[i + 2].type == tokenize.STRING
            and (i + 3 >= n or toks[i + 3].string in (")", ","))
        ):
            value = _string_value(toks[i + 2].string)
            if value and not value.startswith("."):
                start_line = toks[i - 2].start[0] if i >= 2 and toks[i - 1].string == "." else tok.start[0]
                records.append(
                    ImportRecord(
                        module=value,
                        line=start_line,
                        col=toks[i + 2].start[1],
                        end_col=toks[i + 2].end[1],
                        type_only=type_only,
                        dynamic=True,
                    )
                )
        at_statement_start = False
        i += 1
    records.sort(key=lambda r: (r.line, r.col))
    return records


def _ends_with_backslash(tok: tokenize.TokenInfo) -> bool:
    """True if the physical line of `tok` continues after it with a backslash (`from a \\`)."""
    lines = source_lines(tok.line)
    return bool(lines) and lines[-1][tok.end[1] :].strip() == "\\"


def _string_value(literal: str) -> str | None:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


# What ast.parse raises for text it cannot turn into a tree (SystemError: see parse_module).
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, SystemError)


def parse_module(source: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse` without the user's warnings, and robust to a CPython 3.11 bug: parsing in several
    threads at once can raise a spurious "AST constructor recursion depth mismatch" SystemError (gh-106905),
    so that error is retried once before it is believed."""
    with warnings.catch_warnings():
        # Invalid escape sequences and the like in the user's code are not ours to print.
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source, filename=filename)
        except SystemError:
            return ast.parse(source, filename=filename)


def scan_imports(source: str, tree: ast.AST | None = None) -> list[ImportRecord]:
    """The imports of `source`: from `tree` if given or parseable, else by the tolerant scanner."""
    if tree is None:
        try:
            tree = parse_module(source)
        except PARSE_ERRORS:
            return imports_from_tokens(source)
    return imports_from_tree(tree, source_lines(source))
