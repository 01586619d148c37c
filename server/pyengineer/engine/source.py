"""ParsedSource: one document, parsed once and shared by every rule."""

from __future__ import annotations

import ast
import copy
from functools import cached_property
from pathlib import PurePosixPath

from pyengineer.lines import LineIndex, char_column, source_lines
from pyengineer.workspace.imports import (
    PARSE_ERRORS,
    ImportRecord,
    import_line_numbers,
    imports_from_tree,
    parse_module,
    scan_imports,
)


class ParsedSource:
    """The text of one Python file with its syntax tree (None when it does not parse) and its imports."""

    # Set on the view `focused()` returns: (first, last) 1-based lines, the one function rules re-check.
    focus: tuple[int, int] | None = None
    whole: ParsedSource | None = None  # the source a focused view was made from

    def __init__(self, path: str, text: str, relative: str | None = None) -> None:
        self.path = path  # absolute
        self.relative = relative if relative is not None else path  # relative to the workspace root, posix
        self.text = text
        self.syntax_error: str | None = None

    @classmethod
    def derived(
        cls,
        path: str,
        text: str,
        relative: str,
        lines: list[str],
        tree: ast.Module,
        imports: list[ImportRecord],
    ) -> ParsedSource:
        """A source whose lines, tree and imports were derived from the previous version's (incremental)."""
        source = cls(path, text, relative)
        # cached_property reads the instance dict first: these are what the properties would compute.
        source.__dict__.update(lines=lines, tree=tree, imports=imports)
        return source

    def focused(self, first: int, last: int) -> ParsedSource:
        """The same source, as seen by rules re-run on lines first..last alone (`syntax_index` honours it)."""
        view = copy.copy(self)  # shares the parsed tree, lines and imports already computed
        view.focus = (first, last)
        view.whole = self
        return view

    @cached_property
    def lines(self) -> list[str]:
        return source_lines(self.text)

    @cached_property
    def line_index(self) -> LineIndex:
        """Offsets and positions in the text (the same lines as `lines`, plus the empty one after a final
        line break)."""
        return LineIndex(self.text)

    @cached_property
    def tree(self) -> ast.Module | None:
        try:
            return parse_module(self.text, filename=self.path)
        except SyntaxError as exc:
            self.syntax_error = f"line {exc.lineno}: {exc.msg}"
        except PARSE_ERRORS as exc:
            self.syntax_error = str(exc) or type(exc).__name__
        return None

    @cached_property
    def imports(self) -> list[ImportRecord]:
        tree = self.tree
        if tree is None:
            return scan_imports(self.text)
        # Only the nodes that span a line with `import` are walked (a fraction of a long file).
        return imports_from_tree(tree, self.lines, import_line_numbers(self.text))

    def may_import(self, modules: frozenset[str]) -> bool:
        """False only when the text cannot import any of `modules`: a test of its import lines, no parse.

        The same prefilter the workspace scan trusts for `ml_files` (workspace/scan.py), so a rule that asks
        this first reports exactly the files the context counts. Once the imports are known it reads them.
        """
        # Known already: from the imports, or without the records (a results-cache hit seeds the names).
        if "imports" in self.__dict__ or "imported_top_levels" in self.__dict__:
            return not self.imported_top_levels.isdisjoint(modules)
        text = self.text
        # A module can only be imported where its name is written: most files name none of them, and a
        # substring search per name is C-speed work, where the import lines' prefilter is a Python loop.
        if not any(name in text for name in modules):
            return False
        from pyengineer.workspace.scan import may_import, prefilter_for

        return may_import(text.encode("utf-8", "surrogatepass"), prefilter_for(modules))

    @cached_property
    def imported_top_levels(self) -> frozenset[str]:
        return frozenset(r.top_level for r in self.imports)

    def column(self, line: int, byte_col: int) -> int:
        """Code-point column of an ast byte offset on 1-based `line`."""
        return char_column(self.lines, line, byte_col)

    def line_text(self, line: int) -> str:
        """The text of 0-based `line`, or '' past the end."""
        return self.lines[line] if 0 <= line < len(self.lines) else ""


def in_test_code(relative: str) -> bool:
    """True for a test module or anything under a tests folder (`relative`: posix, from the workspace root)."""
    path = PurePosixPath(relative)
    return (
        path.name.startswith("test_")
        or path.name.endswith(("_test.py", "_test.ipynb"))
        or path.name in ("conftest.py", "tests.py")  # Django's app-level tests.py
        or any(part in ("tests", "test", "testing") for part in path.parts[:-1])
    )
