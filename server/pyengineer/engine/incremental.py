"""Incremental analysis of an open document: after an edit inside one function, re-check that function alone.

Typing happens inside function bodies. For such an edit the engine parses the edited function's lines by
themselves, splices the new function into the previous version's tree and syntax index, runs the `local` rules
on that function alone and keeps their findings everywhere else (moved when the edit added or removed lines).
The other rules (few and cheap: PE101, PE201, PE402) run on the whole document as before. Anything else, or
anything that cannot be proven to give what a full analysis would, takes the full path: parse and check the
whole document. tests/engine/test_incremental.py checks, edit by edit, that both paths agree.
"""

from __future__ import annotations

import ast
import bisect
import logging
import threading
from dataclasses import dataclass

from pyengineer.config import Settings
from pyengineer.engine.analyze import Analysis, analyze_parts
from pyengineer.engine.source import ParsedSource
from pyengineer.engine.syntax import (
    BODY_FACTS,
    FocusedIndex,
    SyntaxIndex,
    adopt_index,
    known_index,
    syntax_index,
)
from pyengineer.findings import Finding, Position, Range
from pyengineer.lines import line_ending, source_lines
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.imports import (
    PARSE_ERRORS,
    ImportRecord,
    imports_from_tokens,
    imports_from_tree,
    parse_module,
)

log = logging.getLogger(__name__)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class NotIncremental(Exception):
    """The edit cannot be analysed incrementally; the reason is for the debug log."""


class _Unparsable(NotIncremental):
    """The edited function does not parse by itself (the user is halfway through typing something).

    Raised before anything was changed: the previous version is intact and can stay the base of the next step.
    """

    def __init__(self, why: str, region: _Region, lines: list[str], delta: int) -> None:
        super().__init__(why)
        self.region = region
        self.lines = lines
        self.delta = delta


@dataclass
class _Kept:
    """The last analysis of a document, and what it was computed with."""

    source: ParsedSource
    context: WorkspaceContext
    settings: Settings
    changed: bool
    analysis: Analysis


@dataclass(frozen=True)
class _Region:
    """A module- or class-level function and the lines it owns."""

    node: FunctionNode
    container: list[ast.stmt]  # the body it is in
    owner: ast.Module | ast.ClassDef
    first: int  # 1-based line of its first decorator (or of `def`)
    last: int  # 1-based last line it owns: up to the next statement (its trailing comments and blank lines)
    body: int  # 1-based line of its first body statement


def _start(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return min([stmt.lineno, *(d.lineno for d in decorators)]) if decorators else stmt.lineno


def _region(tree: ast.Module, line_count: int, lo: int, hi: int) -> _Region:
    """The function whose lines hold every changed line lo..hi (1-based, inclusive; hi < lo for an insertion
    after line hi)."""
    owner: ast.Module | ast.ClassDef = tree
    container = tree.body
    following = line_count + 1  # the line of the statement after the container, or past the end
    anchor = lo if hi >= lo else hi
    while True:
        starts = [_start(stmt) for stmt in container]
        at = bisect.bisect_right(starts, anchor) - 1
        if at < 0:
            raise NotIncremental("the edit is not inside a statement")
        stmt = container[at]
        end = starts[at + 1] - 1 if at + 1 < len(container) else following - 1
        if hi > end:
            raise NotIncremental("the edit spans more than one statement")
        if isinstance(stmt, ast.ClassDef):
            owner, container, following = stmt, stmt.body, end + 1
            continue
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            raise NotIncremental(f"the edit is in a module- or class-level {type(stmt).__name__}")
        body = stmt.body[0]
        return _Region(stmt, container, owner, starts[at], end, body.lineno)


_CHUNK = 4096


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix: slices compared at C speed, halving the step after a
    difference (a char-by-char loop costs a millisecond on a 4 KB stretch)."""
    limit = min(len(a), len(b))
    at = 0
    step = _CHUNK
    while step:
        while at + step <= limit and a[at : at + step] == b[at : at + step]:
            at += step
        step //= 2
    return at


def _common_suffix(a: str, b: str, limit: int) -> int:
    """The length of the longest common suffix, at most `limit`."""
    at = 0
    step = _CHUNK
    while step:
        while (
            at + step <= limit and a[len(a) - at - step : len(a) - at] == b[len(b) - at - step : len(b) - at]
        ):
            at += step
        step //= 2
    return at


def _changed_lines(old_text: str, text: str, old: list[str]) -> tuple[list[str], int, int, int]:
    """(lines of `text`, prefix, old_end, new_end): lines [prefix, old_end) of `old` became
    [prefix, new_end) of the new lines. Only the changed stretch of the new text is split into lines."""
    head = _common_prefix(old_text, text)
    tail = _common_suffix(old_text, text, min(len(old_text), len(text)) - head)
    first = old_text.count("\n", 0, head)
    start = old_text.rfind("\n", 0, head) + 1
    # Widen to whole lines: from the start of the first changed line through the newline that ends the last
    # one (what follows that newline is the same in both texts).
    stop = old_text.find("\n", len(old_text) - tail)
    rest = len(old_text) - stop - 1 if stop >= 0 else 0
    was = source_lines(old_text[start : len(old_text) - rest])
    now = source_lines(text[start : len(text) - rest])
    lines = [*old[:first], *now, *old[first + len(was) :]]
    prefix = 0
    while prefix < min(len(was), len(now)) and was[prefix] == now[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(was), len(now)) - prefix and was[-1 - suffix] == now[-1 - suffix]:
        suffix += 1
    return lines, first + prefix, first + len(was) - suffix, first + len(now) - suffix


def _parse_function(lines: list[str], end: str, region: _Region, last: int) -> FunctionNode:
    """The function on lines region.first..last of the new text, parsed alone with its real line numbers."""
    indent = region.node.col_offset
    # Blank lines in front give the nodes their real line numbers straight from the parser.
    if indent:
        # Indented (a method): under an `if` of its own it parses as it would in its class, and anything the
        # edit dedented out of the function shows up as a second statement.
        chunk = end * (region.first - 2) + "if 1:" + end
    else:
        chunk = end * (region.first - 1)
    chunk += end.join(lines[region.first - 1 : last]) + end
    try:
        module = parse_module(chunk)
    except PARSE_ERRORS as exc:
        raise _Unparsable(
            f"the function does not parse alone: {exc}", region, lines, last - region.last
        ) from None
    body = module.body
    if indent:
        if len(body) != 1 or not isinstance(body[0], ast.If) or body[0].orelse:
            raise NotIncremental("the edit reaches out of the function")
        body = body[0].body
    if len(body) != 1 or type(body[0]) is not type(region.node) or body[0].col_offset != indent:
        raise NotIncremental("the edit reaches out of the function")
    node = body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return node


def _facts(index: SyntaxIndex) -> list[object]:
    return [fact(index) for fact in BODY_FACTS]


def _moved(position: Position, after: int, delta: int, first: int) -> Position:
    if position.line > after:
        # model_construct: these numbers come from a valid Position; validating them again costs 5x more
        return Position.model_construct(line=position.line + delta, character=position.character)
    if position.line >= first:
        raise NotIncremental("a kept finding points into the edited function")
    return position


def _moved_range(rng: Range, after: int, delta: int, first: int) -> Range:
    start = _moved(rng.start, after, delta, first)
    end = _moved(rng.end, after, delta, first)
    if start is rng.start and end is rng.end:
        return rng
    return Range.model_construct(start=start, end=end)


def _kept_finding(finding: Finding, after: int, delta: int, first: int) -> Finding:
    """`finding` (outside the edited lines first..after, 0-based) with its positions moved by the edit."""
    if not delta:
        # Nothing moves; only a position inside the edited lines would make the finding unusable.
        rng = finding.range
        ranges = [rng, *(e.range for fix in finding.fixes for e in fix.edits)]
        for r in ranges:
            if first <= r.start.line <= after or first <= r.end.line <= after:
                raise NotIncremental("a kept finding points into the edited function")
        return finding
    rng = _moved_range(finding.range, after, delta, first)
    fixes = finding.fixes
    moved_fixes = []
    for fix in fixes:
        edits = tuple(
            e.model_copy(update={"range": r})
            if (r := _moved_range(e.range, after, delta, first)) is not e.range
            else e
            for e in fix.edits
        )
        moved_fixes.append(
            fix
            if all(a is b for a, b in zip(edits, fix.edits, strict=True))
            else fix.model_copy(update={"edits": edits})
        )
    if rng is finding.range and all(a is b for a, b in zip(moved_fixes, fixes, strict=True)):
        return finding  # nothing moved: the very same object (the LSP layer caches its wire form by identity)
    return finding.model_copy(update={"range": rng, "fixes": tuple(moved_fixes)})


def _moved_import(record: ImportRecord, delta: int) -> ImportRecord:
    return record.model_copy(update={"line": record.line + delta}) if delta else record


def _spliced_imports(
    old: list[ImportRecord], region: _Region, records: list[ImportRecord], delta: int
) -> list[ImportRecord]:
    """The new version's imports: the old ones around the edited function, `records` for the function."""
    return [
        *(r for r in old if r.line < region.first),
        *records,
        *(_moved_import(r, delta) for r in old if r.line > region.last),
    ]


def _kept_findings(kept: _Kept, region: _Region, delta: int) -> list[Finding]:
    """The kept local findings outside the edited function, moved by the edit (NotIncremental if one of them
    points into the function)."""
    first, after = region.first - 1, region.last - 1  # 0-based, old text
    return [
        _kept_finding(f, after, delta, first)
        for f in kept.analysis.local
        if not first <= f.range.start.line <= after
    ]


def _local_inputs_equal(kept: _Kept, context: WorkspaceContext, settings: Settings) -> bool:
    """True if the local rules would see what they saw for the kept analysis.

    They read the settings and the workspace context, but never its git state (only PE101, which is not local,
    does), and git state is what changes most often: every save and commit.
    """
    if kept.settings is not settings and kept.settings != settings:
        return False
    if kept.context is context:
        return True
    ours = {k: v for k, v in kept.context.__dict__.items() if k != "git"}
    theirs = {k: v for k, v in context.__dict__.items() if k != "git"}
    return ours == theirs


class DocumentAnalyzer:
    """Analyses successive versions of one document, each from the previous one when the edit allows.

    Not thread-safe by itself: `analyze` takes the document's lock, because a step re-uses (and moves) the
    previous version's syntax tree in place.
    """

    def __init__(self, path: str, relative: str, keep_limit: int) -> None:
        self.path = path
        self.relative = relative
        self.keep_limit = keep_limit  # documents longer than this (in characters) are not kept
        self._lock = threading.Lock()
        self._kept: _Kept | None = None
        self.steps = 0  # incremental analyses done (for tests and the debug log)

    def analyze(
        self, text: str, context: WorkspaceContext, settings: Settings, changed: bool, relative: str
    ) -> list[Finding]:
        with self._lock:
            kept = self._kept
            self._kept = None  # a step below may move the kept tree: it is only valid again once stored
            if kept is not None and relative != self.relative:
                kept = None
            self.relative = relative
            if kept is None:
                return self._full(ParsedSource(self.path, text, relative), context, settings, changed)
            reusable = _local_inputs_equal(kept, context, settings)
            if kept.context is not context:
                index = known_index(kept.source)
                if index is not None:
                    index.forget_memos()  # some are keyed by id(context), and ids are reused
            if kept.source.text == text:
                if kept.context is context and kept.settings is settings and kept.changed == changed:
                    analysis = kept.analysis
                elif reusable:
                    # Only git state or the edited flag changed (a save, a commit, a branch switch that left
                    # the frameworks alone): the local rules would say the same again.
                    analysis = analyze_parts(
                        kept.source, context, settings, changed, kept=kept.analysis.local
                    )
                else:
                    analysis = analyze_parts(kept.source, context, settings, changed)
                self._keep(kept.source, context, settings, changed, analysis)
                return analysis.findings
            if reusable:
                try:
                    source, analysis = self._step(kept, text, context, settings, changed)
                except _Unparsable as broken:
                    source = ParsedSource(self.path, text, relative)
                    partial = self._broken(kept, source, broken, context, settings, changed)
                    if partial is None:
                        return self._full(source, context, settings, changed)
                    # The last version that parsed stays the base: the next keystroke that mends the function
                    # is a step from it.
                    self._kept = kept
                    return partial.findings
                except NotIncremental as why:
                    log.debug("%s: full analysis (%s)", self.relative, why)
                except Exception:
                    log.exception(
                        "incremental analysis of %s failed; analysing the whole file", self.relative
                    )
                else:
                    self.steps += 1
                    self._keep(source, context, settings, changed, analysis)
                    return analysis.findings
            return self._full(ParsedSource(self.path, text, relative), context, settings, changed)

    def _full(
        self, source: ParsedSource, context: WorkspaceContext, settings: Settings, changed: bool
    ) -> list[Finding]:
        analysis = analyze_parts(source, context, settings, changed)
        self._keep(source, context, settings, changed, analysis)
        return analysis.findings

    def _keep(
        self,
        source: ParsedSource,
        context: WorkspaceContext,
        settings: Settings,
        changed: bool,
        analysis: Analysis,
    ) -> None:
        if len(source.text) <= self.keep_limit and source.tree is not None:
            self._kept = _Kept(source, context, settings, changed, analysis)

    def _broken(
        self,
        kept: _Kept,
        source: ParsedSource,
        broken: _Unparsable,
        context: WorkspaceContext,
        settings: Settings,
        changed: bool,
    ) -> Analysis | None:
        """The analysis of a text where one function, halfway through an edit, does not parse.

        If the whole file does not parse either (it almost never does then), what is known still holds for the
        rest of the file, which did not change: the local findings outside that function are kept, and the
        function's own text gets what needs no syntax tree (secrets, imports by the tolerant tokenizer). A
        full analysis of a file that does not parse would report only the latter, for the whole file, at the
        cost of tokenizing all of it. None when the whole file (`source`, the new text) parses after all, or a
        kept finding points into the function: the full path then runs, on `source` as parsed here.
        """
        region, lines, delta = broken.region, broken.lines, broken.delta
        last = region.last + delta
        if source.tree is not None:
            return None
        try:
            kept_findings = _kept_findings(kept, region, delta)
        except NotIncremental:
            return None
        chunk = "\n".join(lines[region.first - 1 : last]) + "\n"
        records = [_moved_import(r, region.first - 1) for r in imports_from_tokens(chunk)]
        # Only now, when this is the analysis: a full one of `source` must find its own imports.
        source.__dict__.update(
            lines=lines, imports=_spliced_imports(kept.source.imports, region, records, delta)
        )
        log.debug(
            "%s: lines %d-%d do not parse; the rest of the file keeps its findings",
            self.relative,
            region.first,
            last,
        )
        return analyze_parts(
            source, context, settings, changed, focus=(region.first, last), kept=kept_findings
        )

    def _step(
        self, kept: _Kept, text: str, context: WorkspaceContext, settings: Settings, changed: bool
    ) -> tuple[ParsedSource, Analysis]:
        old = kept.source
        tree = old.tree
        assert tree is not None
        end = line_ending(text)
        if not end or end != line_ending(old.text):
            raise NotIncremental("mixed or changed line endings")
        old_lines = old.lines
        lines, prefix, old_end, new_end = _changed_lines(old.text, text, old_lines)
        if prefix == old_end == new_end:
            raise NotIncremental("only line endings or the end of the file changed")
        # 1-based changed lines lo..hi of the old text (hi == lo - 1: lines were inserted after line hi)
        region = _region(tree, len(old_lines), prefix + 1, old_end)
        if prefix + 1 < region.body or region.body <= region.node.lineno:
            raise NotIncremental("the edit touches the function's signature or decorators")
        # Everything before the first body statement on its line must be indentation: the header ends above.
        head = old_lines[region.body - 1][: region.node.body[0].col_offset]
        if head.strip():
            raise NotIncremental("the body starts on the signature's line")
        delta = len(lines) - len(old_lines)
        last = region.last + delta
        node = _parse_function(lines, end, region, last)

        index = syntax_index(old)
        assert index is not None
        before = FocusedIndex(index, old, region.first, region.last)
        old_facts = _facts(before)
        old_bindings = index.binding_signature()
        old_records = [r for r in old.imports if region.first <= r.line <= region.last]
        # Every import statement and import_module()/__import__() call has the word on one of its lines.
        importing = any("import" in line for line in old_lines[region.first - 1 : region.last]) or any(
            "import" in line for line in lines[region.first - 1 : last]
        )
        records = imports_from_tree(ast.Module(body=[node], type_ignores=[]), lines) if importing else []
        if {r.top_level for r in old_records} != {r.top_level for r in records}:
            raise NotIncremental("the edit changed what the function imports")

        # From here on the old tree and index are changed in place: any failure means a full analysis.
        container = region.container
        position = next(i for i, stmt in enumerate(container) if stmt is region.node)
        container[position] = node
        imports = _spliced_imports(old.imports, region, records, delta)
        source = ParsedSource.derived(self.path, text, self.relative, lines, tree, imports)
        index.splice(source, region.node, node, region.owner, region.first, delta, rebind=importing)
        adopt_index(source, index)
        if index.binding_signature() != old_bindings:
            raise NotIncremental("the edit changed what an import binds")
        if _facts(FocusedIndex(index, source, region.first, last)) != old_facts:
            raise NotIncremental("the edit changed what the function tells the rest of the module")
        if source.imported_top_levels != old.imported_top_levels:
            raise NotIncremental("the edit changed the modules the file imports")

        kept_findings = _kept_findings(kept, region, delta)
        analysis = analyze_parts(
            source, context, settings, changed, focus=(region.first, last), kept=kept_findings
        )
        return source, analysis
