"""The baseline: findings recorded on purpose (`pyengineer check --add-baseline`) and not reported again.

Adopting a checker on an existing codebase means accepting today's findings and failing only on new ones. Each
entry is keyed so that it survives edits elsewhere in the file: the rule, the file (relative to the project
root), the enclosing symbol (`Class.method`, or "" at module level), a hash of the finding's line with
surrounding whitespace stripped, and how many findings share that key. A line moved, re-indented or pushed
down by an edit above keeps its entry; a changed line, or one more occurrence of the same line in the same
function, is new.

A baseline that cannot be read or is not what `--add-baseline` writes is a BaselineError naming the file and
the entry: it is never taken as empty (that would report everything as new) nor silently ignored. The module
is LSP-agnostic: the CLI and the language server both call `load_baseline` and `Baseline.filter`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pyengineer.config import Settings
from pyengineer.engine.analyze import report_problem
from pyengineer.errors import PyengineerError
from pyengineer.findings import Finding
from pyengineer.lines import source_lines
from pyengineer.workspace.ignore import relative_posix

BASELINE_VERSION = 1
MAX_BASELINE_BYTES = 64 * 1024 * 1024
_HASH_CHARS = 16
_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")


class BaselineError(PyengineerError):
    """The baseline file cannot be used; the message names the file and, when it is one, the entry."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"baseline {path}: {what}")
        self.path = path
        self.what = what


class BaselineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(pattern=r"^PE\d{3}$")
    path: str = Field(min_length=1)
    symbol: str
    line_hash: str = Field(pattern=rf"^[0-9a-f]{{{_HASH_CHARS}}}$")
    count: int = Field(ge=1)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.rule, self.path, self.symbol, self.line_hash


class BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    tool: str = "pyengineer"
    comment: str = ""
    entries: list[BaselineEntry]


def line_hash(text: str) -> str:
    """The hash of a finding's line: whitespace around it does not count (re-indenting keeps the entry)."""
    return hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]


def enclosing_symbols(lines: Sequence[str]) -> list[str]:
    """For each 0-based line, the qualified name of the def/class it is in ("" at module level).

    Read from the text (indentation), not the syntax tree, so it is the same for a document that does not
    parse and costs one pass: the key only needs to be the same when the baseline is written and read.
    """
    symbols: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent of the def line, qualified name)
    current = ""
    for line in lines:
        body = line.rstrip("\r\n")
        stripped = body.lstrip(" \t")
        if stripped and not stripped.startswith("#"):
            indent = len(body) - len(stripped)
            while stack and indent <= stack[-1][0]:
                stack.pop()
            match = _DEF.match(body)
            if match:
                parent = stack[-1][1] if stack else ""
                name = f"{parent}.{match.group('name')}" if parent else match.group("name")
                stack.append((indent, name))
            current = stack[-1][1] if stack else ""
        symbols.append(current)
    return symbols


@dataclass
class Baseline:
    """Entries by key, and the file they came from."""

    path: Path
    counts: dict[tuple[str, str, str, str], int]
    paths: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.paths = frozenset(key[1] for key in self.counts)

    def holds(self, relative: str) -> bool:
        """True when some entry is for the file at `relative` (the others need no work at all)."""
        return relative in self.paths

    def filter(self, relative: str, lines: Sequence[str], findings: Iterable[Finding]) -> list[Finding]:
        """`findings` of the file at `relative` (posix, from the project root) that the baseline does not hold.

        Of several findings with one key, the first `count` (in position order) are the recorded ones.
        """
        findings = list(findings)
        if not findings or relative not in self.paths:
            return findings
        symbols = enclosing_symbols(lines)
        used: dict[tuple[str, str, str, str], int] = {}
        kept = []
        for finding, key in zip(findings, finding_keys(relative, lines, findings, symbols), strict=True):
            seen = used.get(key, 0)
            if seen < self.counts.get(key, 0):
                used[key] = seen + 1
                continue
            kept.append(finding)
        return kept


def finding_keys(
    relative: str, lines: Sequence[str], findings: Sequence[Finding], symbols: Sequence[str] | None = None
) -> list[tuple[str, str, str, str]]:
    """The baseline key of each finding of one file."""
    if symbols is None:
        symbols = enclosing_symbols(lines)
    keys = []
    for finding in findings:
        line = finding.range.start.line
        text = lines[line] if 0 <= line < len(lines) else ""
        symbol = symbols[line] if 0 <= line < len(symbols) else ""
        keys.append((finding.code, relative, symbol, line_hash(text)))
    return keys


def baseline_path(root: Path, settings: Settings) -> Path:
    return (root / settings.baseline).absolute()


def _read_bounded(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`, None when there is none; BaselineError when unreadable."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaselineError(path, f"cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BaselineError(path, "is not a regular file")
    if info.st_size > MAX_BASELINE_BYTES:
        raise BaselineError(path, f"is larger than {MAX_BASELINE_BYTES // (1024 * 1024)} MB")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as exc:
        raise BaselineError(path, f"cannot be read: {exc.strerror or exc}") from None


def parse_baseline(path: Path, data: bytes) -> Baseline:
    """Validate the bytes of a baseline file; BaselineError naming the entry when one is wrong."""
    try:
        raw: Any = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BaselineError(path, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(raw, dict):
        raise BaselineError(path, "must hold a JSON object with 'version' and 'entries'")
    if raw.get("version") != BASELINE_VERSION:
        raise BaselineError(
            path,
            f"has version {raw.get('version')!r}; this pyengineer reads version {BASELINE_VERSION} "
            "(rewrite it with pyengineer check --add-baseline)",
        )
    try:
        parsed = BaselineFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = list(error["loc"])
        if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
            where = f"entry {loc[1] + 1}" + (f", field '{'.'.join(map(str, loc[2:]))}'" if loc[2:] else "")
        else:
            where = "field '" + ".".join(map(str, loc)) + "'" if loc else "the file"
        raise BaselineError(path, f"{where}: {error['msg']}") from None
    counts: dict[tuple[str, str, str, str], int] = {}
    first: dict[tuple[str, str, str, str], int] = {}
    for number, entry in enumerate(parsed.entries, 1):
        if entry.key in first:
            raise BaselineError(
                path, f"entry {number} repeats entry {first[entry.key]} (same rule, path, symbol and line)"
            )
        first[entry.key] = number
        counts[entry.key] = entry.count
    return Baseline(path, counts)


_cache: dict[Path, tuple[tuple[int, int, int], Baseline]] = {}
_cache_lock = threading.Lock()


def load_baseline(root: Path, settings: Settings) -> Baseline | None:
    """The project's baseline, None when it has none; BaselineError when the file is broken.

    Parsed once per version of the file (its size, mtime and inode), so the editor pays one stat per analysis.
    """
    path = baseline_path(root, settings)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        with _cache_lock:
            _cache.pop(path, None)
        return None
    except OSError as exc:
        raise BaselineError(path, f"cannot be read: {exc.strerror or exc}") from None
    version = (info.st_size, info.st_mtime_ns, info.st_ino)
    with _cache_lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    data = _read_bounded(path)
    if data is None:
        return None
    baseline = parse_baseline(path, data)
    with _cache_lock:
        _cache[path] = (version, baseline)
    return baseline


def filter_document(
    root: Path,
    settings: Settings,
    path: str,
    text: str,
    findings: list[Finding],
    toplevel: str | None = None,
) -> list[Finding]:
    """The editor's view: `findings` of the document at `path` less the baselined ones.

    The baseline is the project's, as `pyengineer check` finds it: at the git toplevel (`toplevel`) when the
    document is inside it (an editor may have opened a subfolder of the repository as its workspace), else at
    the workspace `root`. A broken baseline is reported (log and message, through report_problem) and every
    finding is shown until it is fixed: the user is told, rather than left to wonder why old findings came back.
    """
    if not findings:
        return findings
    project = Path(toplevel) if toplevel and Path(path).is_relative_to(toplevel) else root
    try:
        baseline = load_baseline(project, settings)
    except BaselineError as exc:
        report_problem(
            f"baseline {exc.path}: {exc.what}",
            f"pyengineer: {exc}. Every finding is shown until it is fixed (or rewrite it with "
            "pyengineer check --add-baseline).",
        )
        return findings
    relative = relative_posix(project, Path(path))
    if baseline is None or not baseline.holds(relative):
        return findings
    return baseline.filter(relative, source_lines(text), findings)


@dataclass(frozen=True)
class CheckedFile:
    """One file's findings as the baseline sees them: its relative path, its lines, its findings."""

    relative: str
    lines: Sequence[str]
    findings: Sequence[Finding]


def build_entries(files: Iterable[CheckedFile]) -> list[BaselineEntry]:
    counts: dict[tuple[str, str, str, str], int] = {}
    for file in files:
        for key in finding_keys(file.relative, file.lines, file.findings):
            counts[key] = counts.get(key, 0) + 1
    return [
        BaselineEntry(rule=rule, path=path, symbol=symbol, line_hash=digest, count=count)
        for (rule, path, symbol, digest), count in counts.items()
    ]


def write_baseline(
    root: Path, settings: Settings, files: Sequence[CheckedFile], checked: set[str]
) -> tuple[Path, int]:
    """Record today's findings of `files`; returns the file written and the number of findings recorded.

    Entries of files checked now (`checked`, relative paths) are replaced, so those that no longer occur are
    dropped; entries of other files are kept while the file exists (a check of one folder does not forget
    the rest of the project). A broken existing baseline is an error: it is not overwritten unread.
    """
    path = baseline_path(root, settings)
    entries = build_entries(files)
    previous = load_baseline(root, settings)
    if previous is not None:
        for (rule, rel, symbol, digest), count in previous.counts.items():
            if rel not in checked and (root / rel).is_file():
                entries.append(
                    BaselineEntry(rule=rule, path=rel, symbol=symbol, line_hash=digest, count=count)
                )
    entries.sort(key=lambda e: (e.path, e.symbol, e.rule, e.line_hash))
    document = BaselineFile(
        version=BASELINE_VERSION,
        comment=(
            "Findings accepted by `pyengineer check --add-baseline`: not reported again while the line and its "
            "function stay the same. Rewrite with --add-baseline; see docs/cli.md."
        ),
        entries=entries,
    )
    text = json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(root, path, text)
    return path, sum(e.count for e in entries)


def write_text_atomic(root: Path, path: Path, text: str) -> None:
    """Write the baseline through the workspace's safe writer: atomically, never through a symlink, never
    outside `root`; a refusal is a BaselineError naming the file."""
    from pyengineer.workspace.safe_io import UnsafeFileError, write_text

    try:
        write_text(root, path, text)
    except UnsafeFileError as exc:
        raise BaselineError(path, f"not written: {exc.reason}") from None
