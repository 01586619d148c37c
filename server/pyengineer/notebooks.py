"""Jupyter notebooks (nbformat 4.x) as one Python module: read, map positions, write back.

A base module like findings.py (the workspace scan, the engine, the CLI and the LSP all use it).

The engine checks Python modules; a notebook's code cells are checked as ONE module in cell order (an import
in cell 1 counts in cell 5, as it does when the notebook runs). This module is the whole bridge, and knows
nothing of the CLI or the LSP:

- `read_notebook(path)` / `parse_notebook(text, path)` -> `Notebook`: a strict nbformat 4.x reader. A file
  that is not a notebook raises `NotebookError`, whose message names the file and what is wrong
  ("explore.ipynb: cell 4: 'source' must be a string or a list of strings"). The read is bounded
  (`MAX_NOTEBOOK_BYTES`, through `workspace.safe_io`).
- `NotebookModule.from_cells(texts, cells=None)`: the module made of code-cell texts, e.g. what the editor
  holds after `notebookDocument/didOpen`/`didChange`. `cells[i]` is the number the caller knows text i by
  (default: i); `Notebook.module()` passes the cells' indexes in the file's `cells` array, markdown and raw
  cells included. IPython syntax is masked line for line (`%magic`, `!shell`, `x = !cmd`, `obj?`, `?obj`;
  a `%%cell` magic masks its whole cell), so it neither breaks the parse nor produces findings; a cell that
  still does not parse is blanked (`broken` says which, and why) so the other cells are checked in full.
  Masking never moves a line or a column of unmasked code: columns map one to one, lines by an offset.
- `module.text` is what to analyse (`ParsedSource(path, module.text, relative)`); `module.tree` its tree.
- `module.locate(line, character)` -> `(cell, line, character)` (0-based, in-cell), `module.position(cell,
  line, character)` -> the module's (line, character); `module.cell_at(line)` -> the `CellSpan`.
- `module.to_cells(findings)`: module-coordinate findings as in-cell ones (`Finding.cell` set, ranges,
  related places and fix edits in the cell's own lines). A fix whose edits cross a cell boundary or touch
  masked IPython syntax is dropped, never applied half.
- `actions.edits.apply_cell_edits(texts, edits)`: the new text of each cell the edits (`Edit.cell`) change;
  `actions.edits.apply_edits_to_files` writes the edits of a notebook's findings into the notebook.
- `write_notebook(notebook, sources)`: the notebook's JSON text with the given cells' sources replaced and
  every other byte as it was (indent, key order, escapes, trailing newline, outputs, metadata); `source`
  stays a list of lines or a string, as each cell had it.
- `json_position(notebook, cell, line, character)`: where an in-cell position is written in the file's JSON
  (1-based line and column; SARIF regions).

Cell numbers in the models (`Finding.cell`, `Edit.cell`, `Related.cell`, `RuleFailure.cell`) are the 0-based
index in the notebook's `cells`; what users see (text "cell 3", JSON `cell`) is that index + 1. The results
cache and baselines hold module coordinates (the cache is keyed by `module.text`), `to_cells` runs after them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyengineer.errors import PyengineerError
from pyengineer.workspace import safe_io
from pyengineer.workspace.imports import PARSE_ERRORS, parse_module

if TYPE_CHECKING:
    # Imported where findings are placed in cells: the workspace scan reads notebooks without building them.
    from pyengineer.findings import Edit, Finding, Fix, Range

NOTEBOOK_SUFFIX = ".ipynb"
# Notebooks keep their outputs (plots as base64 PNG) next to the code: far larger than modules of the same
# code. Above this a notebook is not read, like a module above safe_io.MAX_SOURCE_BYTES.
MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
CELL_TYPES = ("code", "markdown", "raw")


class NotebookError(PyengineerError):
    """A file that is not a readable nbformat 4 notebook. `str()` is "<path>: <problem>"."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def is_notebook(path: Path | str) -> bool:
    return str(path).endswith(NOTEBOOK_SUFFIX)


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    index: int  # in the file's `cells` array, markdown and raw cells included (shown 1-based: "cell 3")
    kind: str  # "code", "markdown" or "raw"
    source: str  # the joined text; \r\n and \r read as \n
    source_is_list: bool  # `source` was a list of lines in the file (nbformat's usual form)


@dataclass(frozen=True)
class Notebook:
    path: str
    text: str  # the file's JSON text as read
    cells: tuple[Cell, ...]
    language: str | None  # metadata.kernelspec.language or metadata.language_info.name, lower case

    @property
    def is_python(self) -> bool:
        """Python or unknown: an R or Julia kernel's code cells are not Python and are not checked."""
        return self.language is None or self.language in ("python", "python3", "ipython", "ipython3")

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "code"]

    @cached_property
    def source_spans(self) -> list[tuple[int, int] | None]:
        """Per cell, the (start, end) offsets in `text` of its `source` value."""
        return _source_spans(self.text)

    @cached_property
    def ensure_ascii(self) -> bool:
        """The file escapes non-ASCII characters (`\\u00e9`) instead of writing them (Jupyter's way)."""
        escaped = re.search(
            r"\\u(?:00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})", self.text
        )
        return escaped is not None and self.text.isascii()

    def module(self) -> NotebookModule:
        code = self.code_cells
        return NotebookModule.from_cells([c.source for c in code], [c.index for c in code])


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _language(metadata: Mapping[str, Any]) -> str | None:
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str) and section[field]:
            return str(section[field]).lower()
    return None


def parse_notebook(text: str, path: Path | str) -> Notebook:
    """The notebook in `text` (the file at `path`); NotebookError naming the file and the problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            path, f"not a notebook: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise NotebookError(path, "not a notebook: the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise NotebookError(path, f"not a notebook: the JSON is {_kind_of(data)}, not an object")
    major = data.get("nbformat")
    if "nbformat" not in data or "cells" not in data:
        missing = "nbformat" if "nbformat" not in data else "cells"
        raise NotebookError(path, f"not a notebook: the required key '{missing}' is missing")
    if not isinstance(major, int) or isinstance(major, bool):
        raise NotebookError(path, f"'nbformat' must be a number, not {_kind_of(major)}")
    if major != 4:
        hint = " (convert it with `jupyter nbconvert --to notebook`)" if major < 4 else ""
        raise NotebookError(path, f"nbformat {major} is not supported, only nbformat 4{hint}")
    minor = data.get("nbformat_minor", 0)
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise NotebookError(path, f"'nbformat_minor' must be a number, not {_kind_of(minor)}")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise NotebookError(path, f"'metadata' must be an object, not {_kind_of(metadata)}")
    raw_cells = data["cells"]
    if not isinstance(raw_cells, list):
        raise NotebookError(path, f"'cells' must be a list, not {_kind_of(raw_cells)}")
    cells = []
    for index, raw in enumerate(raw_cells):
        where = f"cell {index + 1}"
        if not isinstance(raw, dict):
            raise NotebookError(path, f"{where} must be an object, not {_kind_of(raw)}")
        kind = raw.get("cell_type")
        if kind not in CELL_TYPES:
            shown = f"'{kind}'" if isinstance(kind, str) else _kind_of(kind)
            raise NotebookError(path, f"{where}: 'cell_type' must be code, markdown or raw, not {shown}")
        if "source" not in raw:
            raise NotebookError(path, f"{where}: the required key 'source' is missing")
        source = raw["source"]
        if isinstance(source, list):
            if not all(isinstance(line, str) for line in source):
                raise NotebookError(path, f"{where}: 'source' must be a string or a list of strings")
            joined = "".join(source)
        elif isinstance(source, str):
            joined = source
        else:
            raise NotebookError(
                path, f"{where}: 'source' must be a string or a list of strings, not {_kind_of(source)}"
            )
        if "metadata" in raw and not isinstance(raw["metadata"], dict):
            raise NotebookError(
                path, f"{where}: 'metadata' must be an object, not {_kind_of(raw['metadata'])}"
            )
        if kind == "code":
            outputs = raw.get("outputs", [])
            if not isinstance(outputs, list):
                raise NotebookError(path, f"{where}: 'outputs' must be a list, not {_kind_of(outputs)}")
            count = raw.get("execution_count")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
                raise NotebookError(
                    path, f"{where}: 'execution_count' must be a number or null, not {_kind_of(count)}"
                )
        cells.append(Cell(index, kind, _normalise(joined), isinstance(source, list)))
    return Notebook(str(path), text, tuple(cells), _language(metadata))


def read_notebook(path: Path | str, *, follow_symlinks: bool = True, warn: bool = True) -> Notebook:
    """The notebook at `path`, read bounded; OSError when it cannot be read, NotebookError when malformed."""
    data = safe_io.read_bytes(path, MAX_NOTEBOOK_BYTES, follow_symlinks=follow_symlinks, warn=warn)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(path, f"not a notebook: not UTF-8 (byte {exc.start})") from None
    return parse_notebook(text, path)


# --- masking IPython syntax -----------------------------------------------------------------------------------

# `x = !ls`, `files = %sx ls`: an assignment from a magic or a shell escape.
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*)[!%]")
_HELP = re.compile(r"^\s*(?:\?\??[\w.*]+|[\w.*\[\]()]+\?\??)\s*$")  # `obj?`, `obj??`, `?obj`, `np.*load*?`
_OPEN = "([{"
_CLOSE = ")]}"


def _scan_line(line: str, depth: int, quote: str | None) -> tuple[int, str | None, bool]:
    """Bracket depth, the open triple quote, and whether the line continues (a backslash), after `line`."""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            if quote in ("'", '"'):
                if i >= n:  # an unterminated one-line string: Python would not parse it either
                    quote = None
            continue
        if ch == "#":
            return depth, None, False
        if ch in "'\"":
            triple = line[i : i + 3]
            quote = triple if triple in ('"""', "'''") else ch
            i += len(quote)
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        i += 1
    continued = quote in (None, "'", '"') and line.endswith("\\")
    if quote in ("'", '"') and not continued:
        quote = None
    return depth, quote, continued


def _is_ipython(line: str) -> bool:
    stripped = line.lstrip()
    if not stripped:
        return False
    if stripped[0] in "%!" and not stripped.startswith("!="):
        return True
    return _ASSIGNED_MAGIC.match(line) is not None or _HELP.match(line) is not None


def _masked(line: str) -> str:
    """A statement that stands where `line` stood: `pass` at its indentation, `x = ...` for an assignment."""
    assigned = _ASSIGNED_MAGIC.match(line)
    if assigned is not None:
        return assigned.group(1) + "..."
    indent = line[: len(line) - len(line.lstrip())]
    return indent + "pass"


def mask_ipython(text: str) -> tuple[str, frozenset[int]]:
    """`text` (one cell, \\n line ends) with its IPython syntax made plain Python, and the 0-based masked lines.

    Only a line that starts a logical line can be IPython syntax: a `!` or `%` inside brackets, a string or
    after a backslash is Python's. A cell whose first non-blank line is a `%%` cell magic is blanked whole
    (its body is another language, or text for the magic).
    """
    lines = text.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("%%"):
        return "\n".join("" for _ in lines), frozenset(i for i, line in enumerate(lines) if line)
    if not any(map(_is_ipython, lines)):
        # Nothing that could be IPython syntax: the scan below (every character, in Python) would change
        # nothing, and costs a keystroke in a long cell 40 ms.
        return text, frozenset()
    masked: set[int] = set()
    out: list[str] = []
    depth, quote, continued = 0, None, False
    magic_continues = False
    for number, line in enumerate(lines):
        if magic_continues:
            masked.add(number)
            out.append("")
            magic_continues = line.endswith("\\")
            continue
        if depth == 0 and quote is None and not continued and _is_ipython(line):
            masked.add(number)
            out.append(_masked(line))
            magic_continues = line.endswith("\\")
            continue
        depth, quote, continued = _scan_line(line, depth, quote)
        out.append(line)
    return "\n".join(out), frozenset(masked)


# --- the module -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpan:
    """Where one code cell's lines are in the module."""

    cell: int  # the caller's number for the cell (Notebook.module(): its index in the file's `cells`)
    position: int  # its place among the module's cells (0 for the first code cell)
    first_line: int  # 0-based module line of the cell's first line
    line_count: int  # lines of the cell (an empty cell, or one ending in \n, counts its last empty line)
    masked: frozenset[int]  # 0-based in-cell lines of IPython syntax (or of the whole broken cell)

    @property
    def end_line(self) -> int:
        """The module line after the cell's last."""
        return self.first_line + self.line_count


@dataclass(frozen=True)
class BrokenCell:
    cell: int
    line: int  # 0-based, in the cell
    column: int  # 0-based
    message: str  # "invalid syntax"


class NotebookModule:
    """The code cells of a notebook as one module (see the module docstring)."""

    def __init__(
        self,
        text: str,
        spans: tuple[CellSpan, ...],
        tree: ast.Module | None,
        broken: tuple[BrokenCell, ...],
        originals: tuple[str, ...],
    ) -> None:
        self.text = text
        self.spans = spans
        self.tree = tree
        self.broken = broken
        self.originals = originals  # the cells' texts as given (\n line ends)
        self._by_cell = {span.cell: span for span in spans}
        self._starts = [span.first_line for span in spans]

    @classmethod
    def from_cells(cls, texts: Sequence[str], cells: Sequence[int] | None = None) -> NotebookModule:
        numbers = list(range(len(texts))) if cells is None else list(cells)
        if len(numbers) != len(texts):
            raise ValueError("one cell number per cell text")
        originals = tuple(_normalise(t) for t in texts)
        masked = [mask_ipython(t) for t in originals]
        bodies = [m[0] for m in masked]
        hidden = [set(m[1]) for m in masked]
        counts = [t.count("\n") + 1 for t in originals]
        starts = [sum(counts[:i]) for i in range(len(counts))]
        broken: list[BrokenCell] = []
        tree: ast.Module | None = None
        # Each round blanks the cell the parse failed in; a notebook of n cells needs at most n rounds.
        for _ in range(len(bodies) + 1):
            try:
                tree = parse_module("\n".join(bodies))
                break
            except SyntaxError as exc:
                line = (exc.lineno or 1) - 1
                at = _place(starts, line)
                if at is None or any(b.cell == numbers[at] for b in broken):
                    break
                broken.append(
                    BrokenCell(numbers[at], line - starts[at], max(0, (exc.offset or 1) - 1), exc.msg)
                )
                bodies[at] = "\n".join("" for _ in range(counts[at]))
                hidden[at] = set(range(counts[at]))
            except PARSE_ERRORS:
                break
        spans = tuple(
            CellSpan(numbers[i], i, starts[i], counts[i], frozenset(hidden[i])) for i in range(len(bodies))
        )
        return cls("\n".join(bodies), spans, tree, tuple(broken), originals)

    # --- positions

    def cell_at(self, line: int) -> CellSpan | None:
        """The cell holding 0-based module `line` (None past the end)."""
        at = _place(self._starts, line)
        if at is None:
            return None
        span = self.spans[at]
        return span if line < span.end_line else None

    def locate(self, line: int, character: int) -> tuple[int, int, int]:
        """(cell, in-cell line, character) of a module position; past the end: the end of the last cell."""
        span = self.cell_at(line)
        if span is None:
            if not self.spans:
                return 0, 0, 0
            span = self.spans[-1 if line >= 0 else 0]
            if line < 0:
                return span.cell, 0, 0
            last = self.originals[span.position].split("\n")[-1]
            return span.cell, span.line_count - 1, len(last)
        return span.cell, line - span.first_line, character

    def position(self, cell: int, line: int, character: int) -> tuple[int, int]:
        """The module (line, character) of an in-cell position; KeyError for a cell that is not in it."""
        span = self._by_cell[cell]
        return span.first_line + min(max(line, 0), span.line_count - 1), character

    def span(self, cell: int) -> CellSpan:
        return self._by_cell[cell]

    # --- findings

    def _cell_range(self, rng: Range) -> tuple[int, Range] | None:
        """The in-cell range of a module range within one cell; a range ending at the very start of the next
        cell (a whole last line) ends at the end of its cell instead. None when it spans cells."""
        start = self.cell_at(rng.start.line)
        if start is None:
            return None
        end_line, end_char = rng.end.line, rng.end.character
        if end_line >= start.end_line:
            if end_line == start.end_line and end_char == 0:
                end_line = start.end_line - 1
                end_char = len(self.originals[start.position].split("\n")[-1])
            else:
                return None
        from pyengineer.findings import Range

        first = start.first_line
        return start.cell, Range.of(rng.start.line - first, rng.start.character, end_line - first, end_char)

    def _touches_masked(self, cell: int, rng: Range) -> bool:
        masked = self._by_cell[cell].masked
        last = rng.end.line if rng.end.character or rng.end.line == rng.start.line else rng.end.line - 1
        return any(line in masked for line in range(rng.start.line, last + 1))

    def _edit(self, edit: Edit) -> Edit | None:
        placed = self._cell_range(edit.range)
        if placed is None or self._touches_masked(*placed):
            return None
        cell, rng = placed
        return edit.model_copy(update={"range": rng, "cell": cell})

    def to_cells(self, findings: Iterable[Finding]) -> list[Finding]:
        """`findings` (module coordinates, this notebook's) placed in their cells; see the module docstring."""
        from pyengineer.findings import Range

        placed = []
        for finding in findings:
            where = self._cell_range(finding.range)
            if where is None:
                cell, line, character = self.locate(finding.range.start.line, finding.range.start.character)
                where = cell, Range.of(line, character)
            cell, rng = where
            fixes: list[Fix] = []
            for fix in finding.fixes:
                edits = [self._edit(e) if e.path == finding.path else e for e in fix.edits]
                if any(e is None for e in edits):
                    continue  # never half a fix
                fixes.append(fix.model_copy(update={"edits": tuple(e for e in edits if e is not None)}))
            related = []
            for item in finding.related:
                if item.path != finding.path:
                    related.append(item)
                    continue
                at = self._cell_range(item.range)
                if at is not None:
                    related.append(item.model_copy(update={"range": at[1], "cell": at[0]}))
            placed.append(
                finding.model_copy(
                    update={"range": rng, "cell": cell, "fixes": tuple(fixes), "related": tuple(related)}
                )
            )
        return placed


def _place(starts: Sequence[int], line: int) -> int | None:
    """The index of the last start at or before `line` (None before the first)."""
    if not starts or line < starts[0]:
        return None
    low, high = 0, len(starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if starts[mid] <= line:
            low = mid
        else:
            high = mid - 1
    return low


# --- edits and writing ----------------------------------------------------------------------------------------


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(text: str, i: int) -> int:
    match = _WHITESPACE.match(text, i)
    return match.end() if match else i


def _source_spans(text: str) -> list[tuple[int, int] | None]:
    """Per cell of the notebook JSON `text`, the (start, end) offsets of its `source` value."""
    spans: list[tuple[int, int] | None] = []
    i = _skip(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("not an object")
    i = _skip(text, i + 1)
    while text[i : i + 1] != "}":
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, _skip(text, i) + 1)  # past the ':'
        if key != "cells":
            i = _DECODER.raw_decode(text, i)[1]
        else:
            i = _skip(text, i + 1)  # past the '['
            while text[i : i + 1] != "]":
                found: tuple[int, int] | None = None
                i = _skip(text, i + 1)  # past the cell's '{'
                while text[i : i + 1] != "}":
                    cell_key, i = _DECODER.raw_decode(text, i)
                    i = _skip(text, _skip(text, i) + 1)
                    end = _DECODER.raw_decode(text, i)[1]
                    if cell_key == "source":
                        found = (i, end)
                    i = _skip(text, end)
                    if text[i : i + 1] == ",":
                        i = _skip(text, i + 1)
                spans.append(found)
                i = _skip(text, i + 1)
                if text[i : i + 1] == ",":
                    i = _skip(text, i + 1)
            i += 1
        i = _skip(text, i)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
    return spans


def _source_lines(text: str) -> list[str]:
    """nbformat's list form: every line keeps its \\n, the last one has none (and is left out when empty)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if lines[-1] == "":
        lines.pop()
    return lines


def _render_source(new: str, old: str, line_start: str, ensure_ascii: bool, newline: str) -> str:
    """The JSON of `new` in the layout of the old `source` value `old` (its line began with `line_start`)."""
    as_list = old.startswith("[")

    def dump(value: str) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii)

    if not as_list:
        return dump(new)
    lines = _source_lines(new)
    if not lines:
        return "[]"
    if "\n" not in old:  # one line: ["a\n", "b"]
        separator = ", " if re.search(r'",\s', old) or old == "[]" else ","
        return "[" + separator.join(dump(line) for line in lines) + "]"
    key_indent = line_start[: len(line_start) - len(line_start.lstrip(" \t"))]
    item = re.search(r"\[\r?\n([ \t]*)", old)
    item_indent = item.group(1) if item else key_indent + " "
    close = re.search(r"\n([ \t]*)\]$", old)
    close_indent = close.group(1) if close else key_indent
    inner = ("," + newline).join(item_indent + dump(line) for line in lines)
    return "[" + newline + inner + newline + close_indent + "]"


def write_notebook(notebook: Notebook, sources: Mapping[int, str]) -> str:
    """The notebook's JSON text with cell `index -> new source` replaced, every other byte as it was.

    A `source` that was a list of lines stays one (in its indentation, one item per line or all on one line);
    a string stays a string. Non-ASCII characters are written as the file wrote them (escaped or not).
    """
    text = notebook.text
    spans = notebook.source_spans
    if len(spans) != len(notebook.cells):
        raise NotebookError(notebook.path, "the cells changed while the notebook was being written")
    ensure_ascii = notebook.ensure_ascii
    newline = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    cursor = 0
    for index, span in enumerate(spans):
        if index not in sources:
            continue
        if span is None:
            raise NotebookError(notebook.path, f"cell {index + 1} has no 'source' to write")
        start, end = span
        line_start = text[text.rfind("\n", 0, start) + 1 : start]
        old_value = text[start:end]
        new = sources[index]
        if notebook.cells[index].source == new:
            continue
        out.append(text[cursor:start])
        out.append(_render_source(new, old_value, line_start, ensure_ascii, newline))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def json_position(notebook: Notebook, cell: int, line: int, character: int) -> tuple[int, int]:
    """The 1-based (line, column) of the notebook's JSON text where in-cell (`line`, `character`) is written:
    inside the string of that source line (SARIF regions, which viewers read in the file as text)."""
    spans = notebook.source_spans
    text = notebook.text
    span = spans[cell] if 0 <= cell < len(spans) else None
    if span is None:
        return 1, 1
    start = span[0]
    lines = notebook.cells[cell].source.split("\n")
    line = min(max(line, 0), len(lines) - 1)
    offset = sum(len(x) + 1 for x in lines[:line]) + min(max(character, 0), len(lines[line]))
    # The strings the source is written in: one, or one per list item (usually one per line).
    items: list[tuple[int, str]] = []
    if text[start] == "[":
        i = _skip(text, start + 1)
        while text[i : i + 1] == '"':
            value, after = _DECODER.raw_decode(text, i)
            items.append((i, value))
            i = _skip(text, after)
            if text[i : i + 1] == ",":
                i = _skip(text, i + 1)
    else:
        items.append((start, _DECODER.raw_decode(text, start)[0]))
    at = start
    for item_start, value in items:
        at = item_start
        if offset < len(value) or (offset == len(value) and not value.endswith("\n")):
            prefix = json.dumps(value[:offset], ensure_ascii=notebook.ensure_ascii)[1:-1]
            at = item_start + 1 + len(prefix)
            break
        offset -= len(value)
    line_start = text.rfind("\n", 0, at) + 1
    return text.count("\n", 0, at) + 1, at - line_start + 1
