"""SyntaxIndex: one walk over a parsed document, shared by every rule family.

The rules run on every keystroke (debounced), so they must not each walk the tree again: the index walks it
once, remembers every node's parent, groups nodes by type, and resolves names through the file's imports
(`sleep` after `from time import sleep` is `time.sleep`).
"""

from __future__ import annotations

import ast
import bisect
import operator
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Range
from pyengineer.lines import lines_with_ends

N = TypeVar("N", bound=ast.AST)
T = TypeVar("T")


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


# Fields that never hold a child node, in any node class: names, numbers, flags, and the operator and
# load/store singletons no rule needs to find. `name` is a string only in the classes listed (3.12's
# TypeAlias has a Name there). Skipping them by name saves an isinstance per field on every node: the walk
# is the largest cost of a cold `check` after the parse itself.
_SCALAR_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "kind", "type_comment", "conversion", "is_async", "simple"}
    | {"level", "module", "asname", "tag", "rest", "kwd_attrs"}
)
_STRING_NAMED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.ExceptHandler,
    ast.MatchAs,
    ast.MatchStar,
    ast.alias,
)
_SCALAR_VALUE = (ast.Constant, ast.MatchSingleton)
_CHILD_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _child_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    """The fields of `kind` that may hold child nodes (or lists of them)."""
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = _CHILD_FIELDS[kind] = tuple(
            name
            for name in kind._fields
            if name not in _SCALAR_FIELDS
            and not (name == "name" and issubclass(kind, _STRING_NAMED))
            and not (name == "value" and issubclass(kind, _SCALAR_VALUE))
            and not (name == "names" and issubclass(kind, (ast.Global, ast.Nonlocal)))
        )
    return fields


_ORDER = operator.attrgetter("lineno", "col_offset")


def _index_subtree(
    root: ast.AST, parents: dict[ast.AST, ast.AST], by_type: dict[type[ast.AST], list[ast.AST]]
) -> None:
    """Record the parent of every node under `root` and group the nodes (root included) by type."""
    plan = _CHILD_FIELDS
    stack: list[ast.AST] = [root]
    push = stack.append
    pop = stack.pop
    node_type = ast.AST
    while stack:
        node = pop()
        kind = type(node)
        bucket = by_type.get(kind)
        if bucket is None:
            bucket = by_type[kind] = []
        bucket.append(node)
        fields = plan.get(kind)
        if fields is None:
            fields = _child_fields(kind)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, node_type):
                        parents[item] = node
                        push(item)
            elif isinstance(value, node_type):
                parents[value] = node
                push(value)
    # The stack pops in reverse; rules report in source order (a stable sort: ties keep the walk's order).
    for nodes in by_type.values():
        if len(nodes) > 1 and hasattr(nodes[0], "lineno"):
            nodes.sort(key=_ORDER if hasattr(nodes[0], "col_offset") else _position)


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
ScopeNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef | ast.Module


@dataclass(frozen=True)
class ImportBinding:
    """A name bound by an import: `from time import sleep` binds `sleep` to `time.sleep`."""

    name: str
    qualified: str
    statement: ast.Import | ast.ImportFrom
    module_level: bool
    plain: bool  # `import x` / `import x.y` (binds the package), not `from x import y` or `import x as y`


class SyntaxIndex:
    """Parents, nodes by type and import bindings of one parsed document."""

    # The index is cached per source in a WeakKeyDictionary; a strong reference back to its key would keep
    # every version of every document (text, tree and index) alive for good.
    _source: weakref.ref[ParsedSource]

    @property
    def source(self) -> ParsedSource:
        source = self._source()
        if source is None:
            raise RuntimeError("the document this index describes is gone")
        return source

    @source.setter
    def source(self, value: ParsedSource) -> None:
        self._source = weakref.ref(value)

    def __init__(self, source: ParsedSource, tree: ast.Module) -> None:
        self.source = source
        self.tree = tree
        self._parents: dict[ast.AST, ast.AST] = {}
        self._by_type: dict[type[ast.AST], list[ast.AST]] = {}
        self.imports: dict[str, ImportBinding] = {}
        self.module_names: set[str] = set()  # every name bound at module level (imports, defs, assignments)
        self._memo: dict[str, object] = {}
        self._walk()

    def _walk(self) -> None:
        _index_subtree(self.tree, self._parents, self._by_type)
        self._bind_imports()
        for stmt in self.tree.body:
            self.module_names.update(_bound_names(stmt))

    def _bind_imports(self) -> None:
        self.imports = {}
        for imp in self.of_type(ast.Import):
            self._bind_import(imp)
        for imp_from in self.of_type(ast.ImportFrom):
            self._bind_import(imp_from)

    def splice(
        self,
        source: ParsedSource,
        old: ast.AST,
        new: ast.AST,
        owner: ast.AST,
        first: int,
        delta: int,
        rebind: bool = True,
    ) -> None:
        """Make this index describe `source`, whose tree is the old one with `old` replaced by `new`.

        `new` (already in the tree, under `owner`) holds lines `first`.. of the new text; every node after
        it has to move `delta` lines, as the edit added or removed that many. Only the nodes of `old` and
        `new` are walked: in the by-type lists, which are sorted by position, the old function's nodes are
        one run that the new ones replace. Raises ValueError if the index does not match the tree it is
        told about (the caller then parses afresh). `rebind=False`: neither function holds an import, so the
        bindings stay as they are.
        """
        old_parents: dict[ast.AST, ast.AST] = {}
        old_types: dict[type[ast.AST], list[ast.AST]] = {}
        _index_subtree(old, old_parents, old_types)
        new_parents: dict[ast.AST, ast.AST] = {}
        new_types: dict[type[ast.AST], list[ast.AST]] = {}
        _index_subtree(new, new_parents, new_types)
        start = (first, -1)
        plans: list[tuple[list[ast.AST], int, int, list[ast.AST]]] = []
        # Without moved lines only the kinds the two functions hold change; with them, every list moves.
        kinds = {*self._by_type, *new_types} if delta else {*old_types, *new_types}
        for kind in kinds:
            nodes = self._by_type.setdefault(kind, [])
            gone = old_types.get(kind, [])
            added = new_types.get(kind, [])
            if not (nodes or gone or added):
                continue
            if not hasattr((nodes or gone or added)[0], "lineno"):
                if gone:
                    ids = {id(n) for n in gone}
                    nodes[:] = [n for n in nodes if id(n) not in ids]
                nodes.extend(added)
                continue
            lo = bisect.bisect_left(nodes, start, key=_position)
            hi = lo + len(gone)
            if any(a is not b for a, b in zip(nodes[lo:hi], gone, strict=False)) or hi > len(nodes):
                raise ValueError(f"the index does not hold the replaced function's {kind.__name__} nodes")
            plans.append((nodes, lo, hi, added))
        for nodes, lo, hi, added in plans:
            nodes[lo:hi] = added
            if delta:
                for node in nodes[lo + len(added) :]:
                    node.lineno += delta  # type: ignore[attr-defined]
                    if node.end_lineno is not None:  # type: ignore[attr-defined]
                        node.end_lineno += delta  # type: ignore[attr-defined]
        # A class ends where its last statement ends: the edited function, or one moved after it.
        for ancestor in self.ancestors(old):
            if isinstance(ancestor, ast.ClassDef):
                last = ancestor.body[-1]
                ancestor.end_lineno, ancestor.end_col_offset = last.end_lineno, last.end_col_offset
        for node in old_parents:
            self._parents.pop(node, None)
        self._parents.pop(old, None)
        self._parents.update(new_parents)
        self._parents[new] = owner
        self.source = source
        self._memo = {}
        self.__dict__.pop("_source_lines", None)
        if rebind:
            self._bind_imports()

    def forget_memos(self) -> None:
        self._memo = {}

    def binding_signature(self) -> dict[str, tuple[str, bool, bool]]:
        """What the imports bind, without the statements: equal before and after an edit that kept them."""
        return {name: (b.qualified, b.module_level, b.plain) for name, b in self.imports.items()}

    def _bind_import(self, statement: ast.Import | ast.ImportFrom) -> None:
        module_level = self.parent(statement) is self.tree
        for alias in statement.names:
            if isinstance(statement, ast.Import):
                if alias.asname:
                    binding = ImportBinding(alias.asname, alias.name, statement, module_level, False)
                else:
                    top = alias.name.split(".", 1)[0]
                    binding = ImportBinding(top, top, statement, module_level, True)
            else:
                if alias.name == "*":
                    continue
                base = "." * statement.level + (statement.module or "")
                qualified = f"{base}.{alias.name}" if base and not base.endswith(".") else base + alias.name
                binding = ImportBinding(alias.asname or alias.name, qualified, statement, module_level, False)
            # A module-level import wins over one buried in a function (that is what most code reads).
            previous = self.imports.get(binding.name)
            if previous is None or (module_level and not previous.module_level):
                self.imports[binding.name] = binding

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A value derived from the index, computed once (endpoints, assignments...) and shared by rules."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    # -- queries ------------------------------------------------------------------------------------------

    def of_type(self, cls: type[N]) -> list[N]:
        """Every node of exactly type `cls`, in source order."""
        return self._by_type.get(cls, [])  # type: ignore[return-value]

    def document_nodes(self, cls: type[N]) -> list[N]:
        """Every node of type `cls` in the whole document, even in a FocusedIndex."""
        return self._by_type.get(cls, [])  # type: ignore[return-value]

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        parent = self._parents.get(node)
        while parent is not None:
            yield parent
            parent = self._parents.get(parent)

    def scope(self, node: ast.AST) -> ScopeNode:
        """The function, lambda, class or module whose body holds `node`."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                return ancestor
        return self.tree

    def function(self, node: ast.AST) -> FunctionNode | None:
        """The function whose own body holds `node` (None at module or class level, or inside a lambda)."""
        scope = self.scope(node)
        return scope if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else None

    def coroutine(self, node: ast.AST) -> ast.AsyncFunctionDef | None:
        """The `async def` that runs `node` on the event loop: the nearest function, if it is async."""
        scope = self.scope(node)
        return scope if isinstance(scope, ast.AsyncFunctionDef) else None

    def qualified_name(self, expr: ast.expr) -> str | None:
        """`expr` spelled through the imports: `dt.datetime.utcnow` -> `datetime.datetime.utcnow`."""
        parts: list[str] = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        binding = self.imports.get(expr.id)
        parts.append(binding.qualified if binding is not None else expr.id)
        return ".".join(reversed(parts))

    def imported(self, expr: ast.expr) -> bool:
        """True if the leftmost name of `expr` comes from an import."""
        while isinstance(expr, ast.Attribute):
            expr = expr.value
        return isinstance(expr, ast.Name) and expr.id in self.imports

    def bound_to(self, qualified: str) -> str | None:
        """A local name the file already uses for `qualified` (module-level imports first)."""
        found = None
        for binding in self.imports.values():
            if binding.qualified == qualified:
                if binding.module_level:
                    return binding.name
                found = found or binding.name
        return found

    def imports_module(self, *top_levels: str) -> bool:
        return bool(set(top_levels) & self.source.imported_top_levels)

    # -- positions ----------------------------------------------------------------------------------------

    def range(self, node: ast.AST) -> Range:
        """The code-point range of `node` (ast columns are UTF-8 bytes)."""
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = self.source.column(line, getattr(node, "col_offset", 0))
        end_col = self.source.column(end_line, getattr(node, "end_col_offset", None) or 0)
        return Range.of(line - 1, col, end_line - 1, end_col)

    def name_range(self, node: FunctionNode | ast.ClassDef) -> Range:
        """The range of the name in `def name(` / `class name`."""
        line = node.lineno
        text = self.source.line_text(line - 1)
        start = self.source.column(line, node.col_offset)
        at = text.find(node.name, start)
        if at < 0:
            return Range.of(line - 1, start, line - 1, len(text))
        return Range.of(line - 1, at, line - 1, at + len(node.name))

    def line_range(self, line: int) -> Range:
        """0-based `line` from its first non-blank character to its end."""
        text = self.source.line_text(line)
        return Range.of(line, len(text) - len(text.lstrip()), line, len(text))

    def segment(self, node: ast.AST) -> str:
        """The source text of `node` (like `ast.get_source_segment`, without splitting the file each time)."""
        line = getattr(node, "lineno", None)
        end_line = getattr(node, "end_lineno", None)
        col = getattr(node, "col_offset", None)
        end_col = getattr(node, "end_col_offset", None)
        if line is None or end_line is None or col is None or end_col is None:
            return ""
        lines = self._source_lines
        if end_line > len(lines):
            return ""
        line, end_line, start, stop = int(line), int(end_line), int(col), int(end_col)
        if line == end_line:
            return lines[line - 1].encode()[start:stop].decode(errors="replace")
        first = lines[line - 1].encode()[start:].decode(errors="replace")
        last = lines[end_line - 1].encode()[:stop].decode(errors="replace")
        return "".join([first, *lines[line : end_line - 1], last])

    @cached_property
    def _source_lines(self) -> list[str]:
        return lines_with_ends(self.source.text)  # ast's lines (see `lines`)

    def snippet(self, node: ast.AST, limit: int = 60) -> str:
        """The source text of `node` on one line, shortened for a message."""
        text = " ".join(self.segment(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


class FocusedIndex(SyntaxIndex):
    """The index of a whole document as a rule re-run on one function sees it.

    `of_type` yields only the nodes on lines first..last (the function and nothing else lies there); parents,
    imports, module names and the tree are the whole document's, so a rule still sees the module around the
    function. Memos are its own: they hold what was derived from the function's nodes.
    """

    def __init__(self, whole: SyntaxIndex, source: ParsedSource, first: int, last: int) -> None:
        self.source = source
        self.tree = whole.tree
        self._parents = whole._parents
        self._by_type = whole._by_type
        self.imports = whole.imports
        self.module_names = whole.module_names
        self._memo = {}
        self._first = first
        self._last = last
        self._focused: dict[type[ast.AST], list[ast.AST]] = {}
        if "_source_lines" in whole.__dict__:
            self.__dict__["_source_lines"] = whole.__dict__["_source_lines"]

    def of_type(self, cls: type[N]) -> list[N]:
        found = self._focused.get(cls)
        if found is None:
            nodes = self._by_type.get(cls, [])
            if nodes and hasattr(nodes[0], "lineno"):
                lo = bisect.bisect_left(nodes, (self._first, -1), key=_position)
                hi = bisect.bisect_left(nodes, (self._last + 1, -1), key=_position)
                found = nodes[lo:hi]
            else:
                found = [n for n in nodes if self._inside(n)]
            self._focused[cls] = found
        return found  # type: ignore[return-value]

    def _inside(self, node: ast.AST) -> bool:
        for ancestor in [node, *self.ancestors(node)]:
            line = getattr(ancestor, "lineno", None)
            if line is not None:
                return bool(self._first <= line <= self._last)
        return False


def assignment(stmt: ast.AST) -> tuple[list[ast.expr], ast.expr] | None:
    """(targets, value) of `a = b = value` or `a: T = value`; None for anything else."""
    if isinstance(stmt, ast.Assign):
        return stmt.targets, stmt.value
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return [stmt.target], stmt.value
    return None


def assigned_names(targets: list[ast.expr]) -> list[str]:
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _bound_names(stmt: ast.stmt) -> Iterator[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield stmt.name
    elif isinstance(stmt, ast.Import | ast.ImportFrom):
        for alias in stmt.names:
            yield alias.asname or alias.name.split(".", 1)[0]
    elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    yield node.id
    elif isinstance(stmt, ast.If | ast.Try | ast.With):
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                yield from _bound_names(child)
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                for child in handler.body:
                    yield from _bound_names(child)


# What a function body tells the rest of the module (`Route("/", homepage)` inside an app factory makes
# `homepage` an endpoint). Each fact is computed on the edited function before and after an edit; when one
# differs, the rules run on the whole document instead of that function alone.
BodyFact = Callable[[SyntaxIndex], Hashable]
BODY_FACTS: list[BodyFact] = []


def body_fact(fact: BodyFact) -> BodyFact:
    BODY_FACTS.append(fact)
    return fact


_CACHE: weakref.WeakKeyDictionary[ParsedSource, SyntaxIndex] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def syntax_index(source: ParsedSource) -> SyntaxIndex | None:
    """The shared index of `source` (None when it does not parse); built once per document version."""
    with _LOCK:
        index = _CACHE.get(source)
    if index is not None:
        return index
    if source.focus is not None and source.whole is not None:
        whole = syntax_index(source.whole)
        if whole is None:
            return None
        index = FocusedIndex(whole, source, *source.focus)
    else:
        tree = source.tree
        if tree is None:
            return None
        index = SyntaxIndex(source, tree)
    with _LOCK:
        return _CACHE.setdefault(source, index)


def known_index(source: ParsedSource) -> SyntaxIndex | None:
    """The index already built for `source`, if any (without building one)."""
    with _LOCK:
        return _CACHE.get(source)


def adopt_index(source: ParsedSource, index: SyntaxIndex) -> None:
    """Use `index` (spliced from the previous version's) as the index of `source`."""
    with _LOCK:
        _CACHE[source] = index
