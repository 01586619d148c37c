"""The agent's tools: read-only views of the workspace, and `propose_edits`, the way the model answers.

Every tool is confined to the workspace root: no absolute paths, no `..`, no symlink that leads outside,
nothing gitignored, nothing on the secret-file list (`.env*`, `*.pem`, SSH keys...). Every result is redacted
(`pyengineer.redaction`) and capped in size before it is returned, because it is sent to the LLM as is.
Tool input is validated with pydantic; invalid input becomes a tool error the model can correct, not a crash.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

import pathspec
import regex
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pyengineer.config import Settings
from pyengineer.errors import PyengineerError
from pyengineer.findings import Edit, Range
from pyengineer.lines import LineIndex, source_lines
from pyengineer.redaction import PLACEHOLDER_PREFIX, Redacted, find_secrets, redact, secret_file_kind
from pyengineer.workspace.ignore import IgnoreRules, is_secret_file
from pyengineer.workspace.scan import walk

MAX_FILE_BYTES = 2_000_000
MAX_RESULT_CHARS = 60_000
MAX_READ_LINES = 2_000
MAX_LIST_ENTRIES = 500
MAX_SEARCH_MATCHES = 100
MAX_SEARCH_LINE_CHARS = 240
MAX_SEARCH_SECONDS = 10.0
MAX_WALK_FILES = 50_000
MAX_PATTERN_CHARS = 500
MAX_DIFF_PATHSPECS = 2_000
GIT_TIMEOUT_SECONDS = 20.0

# git's well-known id of the empty tree: what an unborn branch is diffed against.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class ToolError(PyengineerError):
    """A tool could not do what the model asked; the message goes back to the model as the tool result."""


# -- tool input models ---------------------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadFileInput(_Input):
    """Read a text file of the workspace, with 1-based line numbers."""

    path: str = Field(description="Path relative to the workspace root, with forward slashes.")
    start_line: int | None = Field(default=None, ge=1, description="First line to return (1-based).")
    end_line: int | None = Field(default=None, ge=1, description="Last line to return (1-based, inclusive).")


class ListFilesInput(_Input):
    """List the workspace's files (gitignored and secret files are never listed)."""

    glob: str = Field(
        default="**",
        description="A gitignore-style glob: '*.py' matches at any depth, 'server/**/*.py' under server/.",
    )


class SearchInput(_Input):
    """Search the workspace's text files with a Python regular expression, line by line."""

    regex: str = Field(description="A Python `re` pattern, matched against each line.")
    glob: str | None = Field(
        default=None, description="Only search files matching this gitignore-style glob."
    )


class GitDiffInput(_Input):
    """Show uncommitted changes (staged and unstaged, against HEAD) as a unified diff."""

    path: str | None = Field(default=None, description="Limit the diff to this file or folder.")


class ProjectContextInput(_Input):
    """Describe the project: kind, package manager, frameworks, git branch, files that use ML libraries."""


class ProposedEdit(_Input):
    """One replacement, anchored on the exact text it replaces (as Anthropic's text editor's str_replace)."""

    path: str = Field(description="Path relative to the workspace root; a new file is created if missing.")
    old_text: str = Field(
        description="The exact text to replace, copied from read_file without the line-number prefixes, "
        "including indentation; it must occur exactly once in the file (add surrounding lines until it "
        "does). Empty to create a new file, or to insert at start_line."
    )
    new_text: str = Field(description="The replacement text, with its own newlines.")
    start_line: int | None = Field(
        default=None,
        ge=1,
        description="Hint: the 1-based line where old_text starts (picks between repeats); with an empty "
        "old_text, the line to insert before.",
    )
    end_line: int | None = Field(
        default=None, ge=1, description="Hint: the 1-based line where old_text ends."
    )


class ProposeEditsInput(_Input):
    """Finish: propose edits for the user to review, and explain them. Call this once, last."""

    edits: list[ProposedEdit] = Field(
        default_factory=list,
        max_length=200,
        description="Edits to propose; may be empty when no change is needed.",
    )
    explanation: str = Field(description="What the edits do and why, in Markdown, for the user.")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    model: type[_Input]


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "read_file",
        "Read a text file of the workspace. Lines come numbered (1-based). Gitignored files, secret files "
        "(.env, keys, credentials) and binary files are refused. Secrets in the text appear as "
        "[REDACTED:kind].",
        ReadFileInput,
    ),
    ToolSpec("list_files", "List workspace files matching a gitignore-style glob, sorted.", ListFilesInput),
    ToolSpec(
        "search",
        "Search workspace text files line by line with a Python regex; returns path:line: text.",
        SearchInput,
    ),
    ToolSpec("git_diff", "Show the uncommitted changes of the workspace against HEAD.", GitDiffInput),
    ToolSpec(
        "project_context",
        "Describe the project: kind, package manager, frameworks, git branch (and whether it is protected), "
        "ML files.",
        ProjectContextInput,
    ),
    ToolSpec(
        "propose_edits",
        "Finish the task: propose edits, each replacing an exact, unique piece of a current file (old_text) "
        "with new_text, and explain them for the user. Each edit is applied to a copy first: the result must "
        "parse, keep the file's line endings and add no pyengineer error, or this tool returns the problem "
        "for you to fix. The user reviews the edits before anything is applied. Never write a "
        "[REDACTED:...] placeholder and never edit a line that holds one.",
        ProposeEditsInput,
    ),
)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` references expanded in place (simpler for the model)."""
    defs = schema.pop("$defs", {})

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return expand(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: expand(value) for key, value in node.items() if key != "title"}
        if isinstance(node, list):
            return [expand(item) for item in node]
        return node

    expanded = expand(schema)
    assert isinstance(expanded, dict)
    return expanded


def tool_definitions() -> list[dict[str, Any]]:
    """The tools in the Messages API format."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "input_schema": _inline_refs(spec.model.model_json_schema()),
        }
        for spec in TOOL_SPECS
    ]


def _validation_message(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:10]:
        where = ".".join(str(part) for part in error["loc"]) or "input"
        problems.append(f"{where}: {error['msg']}")
    return "invalid input: " + "; ".join(problems)


# -- results -------------------------------------------------------------------------------------------------


@dataclass
class RedactionLog:
    """What was redacted from everything sent in one request (counts and kinds, never the secrets)."""

    count: int = 0
    kinds: set[str] = field(default_factory=set)

    def clean(self, text: str) -> str:
        """`text` redacted, and the redactions counted."""
        return self.note(redact(text)).text

    def note(self, result: Redacted) -> Redacted:
        self.count += result.count
        self.kinds.update(result.kinds)
        return result


@dataclass(frozen=True)
class ToolOutcome:
    content: str
    is_error: bool = False
    # Set by a valid propose_edits: the request is finished.
    edits: tuple[Edit, ...] | None = None
    explanation: str = ""


def _truncate(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... truncated: {len(text) - limit} more characters; ask for less]"


# -- the workspace, as the tools see it ----------------------------------------------------------------------


class Workspace:
    """The files of one workspace root that the agent may see, and their text (editor buffers over disk).

    Every path any tool touches goes through `confine`: one check, so that reading, listing, searching and
    diffing cannot disagree about what is visible. The files are walked with the scan's own walker
    (`workspace.scan.walk`) and its ignore rules, so the agent sees what the scan sees, minus secret files.
    """

    def __init__(
        self,
        root: Path,
        *,
        exclude: tuple[str, ...] = (),
        overlays: Mapping[str, str] | None = None,
        allowed: frozenset[str] = frozenset(),
    ) -> None:
        self.root = root.resolve()
        self.rules = IgnoreRules.for_root(self.root, exclude)
        # Unsaved editor buffers by relative path: the model must see what the user sees.
        self.overlays = dict(overlays or {})
        # Files the user pointed at explicitly (the file of the request): readable even when gitignored,
        # but never when they are secret files.
        self.allowed = allowed
        self._files: list[str] | None = None
        self._walk_result: list[tuple[str, os.DirEntry[str]]] | None = None
        # Paths already confined that lead to themselves (no symlink on the way).
        self._confined: set[str] = set()
        # (st_dev, st_ino) of every secret file the walk passed: a hard link to one is the same file.
        self._secret_inodes: set[tuple[int, int]] = set()

    def relative(self, path: str) -> str:
        """`path` checked and normalised to a posix path relative to the root; ToolError if not allowed."""
        if not path or not path.strip():
            raise ToolError("path is empty")
        if "\0" in path:
            raise ToolError("path contains a NUL character")
        posix = path.replace("\\", "/")
        if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or os.path.isabs(path):
            raise ToolError(f"{path!r} is absolute: paths are relative to the workspace root")
        parts = [part for part in posix.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise ToolError(f"{path!r} leaves the workspace: '..' is not allowed")
        if not parts:
            raise ToolError(f"{path!r} is the workspace root, not a file")
        relative = "/".join(parts)
        self.confine(relative, path)
        return relative

    def confine(self, relative: str, asked: str | None = None) -> Path:
        """The real path of `relative` (posix, relative to the root) if the agent may see it, else ToolError.

        Checked on the path as asked and again on where it really leads (every symlink resolved): inside the
        root, no component a secret file or folder by name (case-insensitively), no version-control
        internals, nothing gitignored; and the file is not a hard link to a secret file. A path that does not
        exist (a new file, a deleted one) is judged by its names alone.
        """
        if relative in self._confined:
            return self.root / relative
        asked = relative if asked is None else asked
        self._check_names(relative, asked)
        resolved = Path(os.path.realpath(self.root / relative))
        if not resolved.is_relative_to(self.root):
            raise ToolError(f"{asked!r} is a symlink that leads outside the workspace")
        resolved_relative = resolved.relative_to(self.root).as_posix()
        if resolved_relative != relative:
            self._check_names(resolved_relative, asked)
        try:
            stat = os.stat(resolved)
        except OSError:
            return resolved
        self._check_not_secret_link(stat, asked)
        if resolved_relative == relative:
            # Kept for the request: a file swapped for a link since is still refused where it is opened.
            self._confined.add(relative)
        return resolved

    def _check_names(self, relative: str, asked: str) -> None:
        parts = relative.split("/")
        if is_secret_file(relative):
            raise ToolError(
                f"{asked!r} may hold secrets (.env, keys, credentials): it is never read for the LLM"
            )
        if any(part.casefold() in (".git", ".hg", ".svn") for part in parts):
            raise ToolError(f"{asked!r} is inside version-control internals, which are not readable")
        if relative in self.allowed:
            return
        if self.rules.is_ignored_anywhere(relative):
            raise ToolError(f"{asked!r} is gitignored or excluded: it is not readable")

    def _check_not_secret_link(self, stat: os.stat_result, asked: str) -> None:
        # Only a file with more than one name can be a hard link; only then is the walk needed to know.
        if stat.st_nlink > 1 and (stat.st_dev, stat.st_ino) in self.secret_inodes():
            raise ToolError(
                f"{asked!r} is a hard link to a secret file (.env, keys, credentials): it is never read for "
                "the LLM"
            )

    def secret_inodes(self) -> set[tuple[int, int]]:
        """(st_dev, st_ino) of the secret files in the walked folders (gitignored ones included)."""
        self._walked()
        return self._secret_inodes

    def read_text(self, relative: str) -> str:
        """The text of an allowed file: ToolError when hidden, missing, too large, binary or not UTF-8.

        Confined again here, so no caller can read past the rules, and refused when the content itself is
        a credential file (a service-account key, a kubeconfig) whatever its name.
        """
        resolved = self.confine(relative)
        text = self.overlays[relative] if relative in self.overlays else self._read_disk(relative, resolved)
        kind = secret_file_kind(text)
        if kind is not None:
            raise ToolError(f"{relative!r} is a {kind} file (credentials): it is never read for the LLM")
        return text

    def _read_disk(self, relative: str, resolved: Path) -> str:
        # The resolved path has no symlink left: O_NOFOLLOW refuses one swapped in since, O_NONBLOCK a FIFO
        # that would block the open, and the checks run on the opened file itself.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(resolved, flags)
        except FileNotFoundError:
            raise ToolError(f"{relative!r} does not exist") from None
        except IsADirectoryError:
            raise ToolError(f"{relative!r} is not a file") from None
        with os.fdopen(fd, "rb") as handle:
            stat = os.fstat(handle.fileno())
            if not S_ISREG(stat.st_mode):
                raise ToolError(f"{relative!r} is not a file")
            self._check_not_secret_link(stat, relative)
            if stat.st_size > MAX_FILE_BYTES:
                raise ToolError(
                    f"{relative!r} is too large ({stat.st_size} bytes; the limit is {MAX_FILE_BYTES})"
                )
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ToolError(f"{relative!r} is too large (over {MAX_FILE_BYTES} bytes)")
        if b"\0" in data[:8192]:
            raise ToolError(f"{relative!r} is a binary file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{relative!r} is not UTF-8 text") from None

    def exists(self, relative: str) -> bool:
        return relative in self.overlays or (self.root / relative).is_file()

    def files(self) -> list[str]:
        """Every visible file (what the scan walks, minus secret and hidden ones), sorted; walked once."""
        if self._files is None:
            visible = {
                relative for relative, entry in self._walked() if self._walked_visible(relative, entry)
            }
            self._files = sorted(visible | {p for p in self.overlays if self.is_visible(p)})
        return self._files

    def is_visible(self, relative: str) -> bool:
        """Whether `confine` lets the agent see `relative`."""
        try:
            self.confine(relative)
        except ToolError:
            return False
        return True

    def _walked_visible(self, relative: str, entry: os.DirEntry[str]) -> bool:
        """`confine` for a file the walk found, knowing what the walk already checked.

        The walk applied the ignore rules to the file and every folder above it, never followed a symlinked
        folder and passed no secret name: a file that is not itself a symlink is where its path says, and only
        a hard link to a secret file is left to refuse. A symlink gets the whole check, on its target.
        """
        if entry.is_symlink():
            return self.is_visible(relative)
        if self._secret_inodes:  # no secret file in the walk: no hard link to one either
            try:
                self._check_not_secret_link(entry.stat(follow_symlinks=False), relative)
            except (ToolError, OSError):
                return False
        self._confined.add(relative)
        return True

    def _walked(self) -> list[tuple[str, os.DirEntry[str]]]:
        """The scan's walk (once): the files it does not ignore, and where the secret files are."""
        if self._walk_result is not None:
            return self._walk_result
        found: list[tuple[str, os.DirEntry[str]]] = []

        def on_file(relative: str, entry: os.DirEntry[str], ignored: bool) -> None:
            if is_secret_file(relative):
                try:
                    stat = entry.stat()  # through a symlink: the file it names is the secret one
                except OSError:
                    return
                self._secret_inodes.add((stat.st_dev, stat.st_ino))
            elif not ignored and len(found) < MAX_WALK_FILES:
                found.append((relative, entry))

        walk(self.root, self.rules, on_file=on_file)
        self._walk_result = found
        return found


def _glob_spec(glob: str) -> pathspec.GitIgnoreSpec:
    if len(glob) > MAX_PATTERN_CHARS:
        raise ToolError(f"glob is too long (limit {MAX_PATTERN_CHARS} characters)")
    return pathspec.GitIgnoreSpec.from_lines([glob])


# Pathspecs are literal (a changed file named `*` must not select every file, `.env` included); names are
# printed as they are; the repository's own fsmonitor command never runs.
_GIT_OPTIONS = ("--literal-pathspecs", "-c", "core.quotepath=off", "-c", "core.fsmonitor=false")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # External diff drivers, textconv filters and core.fsmonitor run arbitrary commands: never for a read-only
    # tool (the first two are turned off per command, the monitor here).
    return subprocess.run(
        ["git", *_GIT_OPTIONS, "-C", str(root), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )


# Constructs whose meaning depends on what lies past a line's ends (\A, \Z, \G, lookarounds, turning
# multi-line mode off): patterns with them are matched line by line only.
_SEES_PAST_LINES = re.compile(r"\\[AZzG]|\(\?<?[=!]|\(\?[a-zA-Z]*-[a-zA-Z]*m")


class _LineSearch:
    """A regular expression matched line by line, the way `search` promises, and fast.

    Python's `re` holds the GIL for a whole match and cannot be stopped: `(x+x+)+y` on a long line froze every
    thread of the server. The `regex` package matches with a timeout (CPU seconds) and releases the GIL while
    it does. A timed call costs ~20 µs, too much for every line of a large workspace, so the whole file is
    searched once in multi-line mode to find the lines a match touches (a superset of the matching lines for
    the patterns it is used for), and only those lines are matched on their own.
    """

    def __init__(self, expression: str) -> None:
        self.line = regex.compile(expression)
        self.whole = (
            None if _SEES_PAST_LINES.search(expression) else regex.compile(expression, regex.MULTILINE)
        )

    def matching_lines(self, text: str, deadline: float, relative: str) -> Iterator[tuple[int, str]]:
        """(1-based number, line) of each line of `text` the pattern matches.

        ToolError when one match runs away (catastrophic backtracking); `SearchTimeUp` when the search's time
        is simply used up.
        """
        lines = text.split("\n")
        if self.whole is None:
            candidates: Iterable[int] = range(len(lines))
        else:
            candidates = self._candidate_lines(text, deadline, relative)
        for index in candidates:
            if _timed(self.line, lines[index], 0, deadline, f"{relative}:{index + 1}") is not None:
                yield index + 1, lines[index]

    def _candidate_lines(self, text: str, deadline: float, relative: str) -> Iterator[int]:
        """The 0-based lines that whole-text matches touch, in order, each once."""
        assert self.whole is not None
        position = counted = line = 0  # `line` is the line of offset `counted`
        while position <= len(text):
            found = _timed(self.whole, text, position, deadline, relative)
            if found is None:
                return
            end = max(found.start(), found.end() - 1)  # the match's last character
            line += text.count("\n", counted, found.start())
            last = line + text.count("\n", found.start(), end)
            yield from range(line, last + 1)
            newline = text.find("\n", end)
            if newline < 0:
                return
            position = counted = newline + 1
            line = last + 1


class SearchTimeUp(Exception):
    """The search's time ran out between or within ordinary matches: the hits so far are the answer."""


# One match that runs this long is runaway backtracking, not the end of a long search.
RUNAWAY_MATCH_SECONDS = 1.0


def _timed(
    pattern: regex.Pattern[str], text: str, position: int, deadline: float, where: str
) -> regex.Match[str] | None:
    """`pattern.search(text, position)` within what is left of the search's time (CPU seconds, GIL released)."""
    started = time.monotonic()
    if started >= deadline:
        raise SearchTimeUp
    try:
        return pattern.search(text, position, timeout=deadline - started, concurrent=True)
    except TimeoutError:
        if time.monotonic() - started < RUNAWAY_MATCH_SECONDS:
            raise SearchTimeUp from None
        raise ToolError(
            f"the regex was stopped at the search's time limit of {MAX_SEARCH_SECONDS:.0f} s while matching "
            f"{where}: it backtracks catastrophically (nested repeats such as (x+x+)+y). Use a simpler "
            "pattern or narrow the glob"
        ) from None


_DIFF_HEADER = "diff --git a/"


def _diff_sections(diff: str) -> list[tuple[str | None, str]]:
    """A unified diff cut into per-file sections, each with its path (None when the header is quoted or odd).

    Without renames both sides of a header name the same path (`diff --git a/P b/P`), which is how P is told
    apart even when it contains " b/". git C-quotes names with control characters, quotes or backslashes;
    those sections get None, and so are never shown.
    """
    sections: list[tuple[str | None, str]] = []
    for chunk in re.split(r"(?m)^(?=diff --git )", diff):
        if not chunk:
            continue
        header = chunk.split("\n", 1)[0]
        path: str | None = None
        if header.startswith(_DIFF_HEADER):
            rest = header[len(_DIFF_HEADER) :]
            half = (len(rest) - 3) // 2
            if half > 0 and rest == rest[:half] + " b/" + rest[:half]:
                path = rest[:half]
        sections.append((path, chunk))
    return sections


def _hidden_note(count: int) -> str:
    return f"[{count} changed file(s) not shown: gitignored or secret files]\n" if count else ""


# -- the tools -----------------------------------------------------------------------------------------------


class AgentTools:
    """Runs the model's tool calls against one workspace, redacting everything that goes back."""

    def __init__(
        self,
        workspace: Workspace,
        project_context: Callable[[], Mapping[str, Any]],
        redactions: RedactionLog | None = None,
        *,
        settings: Settings | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self._project_context = project_context
        self.redactions = redactions if redactions is not None else RedactionLog()
        # What proposed edits are verified with: the project's rules and its workspace context.
        self.settings = settings or Settings()
        self.context = context

    def describe(self, name: str, raw: Mapping[str, Any]) -> str:
        """A short progress label for a tool call ("reading server/app.py")."""
        path = raw.get("path") if isinstance(raw, Mapping) else None
        shown = redact(str(path)).text if isinstance(path, str) else ""
        if name == "read_file":
            return f"reading {shown}"
        if name == "list_files":
            return f"listing files {redact(str(raw.get('glob', '**'))).text}"
        if name == "search":
            return f"searching for {redact(str(raw.get('regex', ''))).text!r}"
        if name == "git_diff":
            return f"reading the git diff{' of ' + shown if shown else ''}"
        if name == "project_context":
            return "reading the project context"
        if name == "propose_edits":
            return "proposing edits"
        return f"running {name}"

    def run(self, name: str, raw: Any) -> ToolOutcome:
        """One tool call; never raises for anything the model did wrong."""
        spec = next((s for s in TOOL_SPECS if s.name == name), None)
        if spec is None:
            return ToolOutcome(
                f"unknown tool {name!r}; the tools are: {', '.join(s.name for s in TOOL_SPECS)}", True
            )
        try:
            params = spec.model.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            return ToolOutcome(self.redactions.clean(_validation_message(exc)), True)
        try:
            if isinstance(params, ProposeEditsInput):
                return self._propose_edits(params)
            content = self._dispatch(params)
        except ToolError as exc:
            return ToolOutcome(self.redactions.clean(str(exc)), True)
        except (OSError, subprocess.SubprocessError) as exc:
            return ToolOutcome(self.redactions.clean(f"{name} failed: {exc}"), True)
        return ToolOutcome(_truncate(content))

    def _dispatch(self, params: _Input) -> str:
        if isinstance(params, ReadFileInput):
            return self._read_file(params)
        if isinstance(params, ListFilesInput):
            return self._list_files(params)
        if isinstance(params, SearchInput):
            return self._search(params)
        if isinstance(params, GitDiffInput):
            return self._git_diff(params)
        if isinstance(params, ProjectContextInput):
            return self.redactions.clean(json.dumps(self._project_context(), indent=1, sort_keys=True))
        raise ToolError(f"no handler for {type(params).__name__}")

    def _read_file(self, params: ReadFileInput) -> str:
        relative = self.workspace.relative(params.path)
        # Redact the whole file before slicing: a secret cut in half by the slice would go unrecognised.
        text = self.redactions.clean(self.workspace.read_text(relative))
        lines = source_lines(text)  # the lines ast and the editor count, so start_line means the same line
        total = len(lines)
        first = params.start_line or 1
        last = min(params.end_line or total, total, first + MAX_READ_LINES - 1)
        if total == 0 or text == "":
            return f"{relative}: empty file"
        if first > total:
            raise ToolError(f"{relative!r} has {total} lines; start_line {first} is past the end")
        if params.end_line is not None and params.end_line < first:
            raise ToolError("end_line is before start_line")
        width = len(str(last))
        body = "\n".join(f"{n:>{width}}| {lines[n - 1]}" for n in range(first, last + 1))
        more = f"; {total - last} more lines after" if last < total else ""
        return f"{relative} (lines {first}-{last} of {total}{more}):\n{body}"

    def _list_files(self, params: ListFilesInput) -> str:
        spec = _glob_spec(params.glob)
        matched = [p for p in self.workspace.files() if spec.match_file(p)]
        shown = matched[:MAX_LIST_ENTRIES]
        more = (
            f"\n[... {len(matched) - len(shown)} more; narrow the glob]" if len(matched) > len(shown) else ""
        )
        if not matched:
            return f"no files match {params.glob!r}"
        return self.redactions.clean("\n".join(shown) + more)

    def _search(self, params: SearchInput) -> str:
        if len(params.regex) > MAX_PATTERN_CHARS:
            raise ToolError(f"regex is too long (limit {MAX_PATTERN_CHARS} characters)")
        try:
            pattern = _LineSearch(params.regex)
        except regex.error as exc:
            raise ToolError(f"invalid regex: {exc}") from None
        spec = _glob_spec(params.glob) if params.glob else None
        deadline = time.monotonic() + MAX_SEARCH_SECONDS
        time_up = f"[... search stopped after {MAX_SEARCH_SECONDS:.0f} s; narrow the glob]"
        hits: list[str] = []
        for relative in self.workspace.files():
            if spec is not None and not spec.match_file(relative):
                continue
            if time.monotonic() > deadline:
                hits.append(time_up)
                break
            try:
                text = self.workspace.read_text(relative)
            except (ToolError, OSError):
                continue
            # Search the redacted text, so a guessed secret cannot be confirmed by whether it matches.
            clean = redact(text)
            found_before = len(hits)
            stopped = False
            try:
                for number, line in pattern.matching_lines(clean.text, deadline, relative):
                    shown = line.rstrip("\r")
                    if len(shown) > MAX_SEARCH_LINE_CHARS:
                        shown = shown[:MAX_SEARCH_LINE_CHARS] + " [...]"
                    hits.append(f"{relative}:{number}: {shown}")
                    if len(hits) >= MAX_SEARCH_MATCHES:
                        break
            except SearchTimeUp:
                stopped = True
            if len(hits) > found_before:
                self.redactions.note(clean)
            if stopped:
                hits.append(time_up)
                break
            if len(hits) >= MAX_SEARCH_MATCHES:
                hits.append(f"[... stopped at {MAX_SEARCH_MATCHES} matches; narrow the regex or glob]")
                break
        if not hits:
            return f"no matches for {params.regex!r}"
        return "\n".join(hits)

    def _git_diff(self, params: GitDiffInput) -> str:
        root = self.workspace.root
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            raise ToolError("the workspace is not a git repository")
        base = (
            "HEAD" if _git(root, "rev-parse", "--verify", "--quiet", "HEAD").returncode == 0 else _EMPTY_TREE
        )
        limit: str | None = None
        if params.path is not None:
            posix = params.path.replace("\\", "/").strip("/")
            limit = self.workspace.relative(posix) if posix not in ("", ".") else None
        names = _git(root, "diff", "--relative", "--name-only", "-z", "--no-renames", base, "--")
        if names.returncode != 0:
            raise ToolError(f"git diff failed: {names.stderr.strip()}")
        changed = [n for n in names.stdout.split("\0") if n]
        if limit is not None:
            changed = [n for n in changed if n == limit or n.startswith(limit + "/")]
        # A deleted file is judged by its names; an existing one also by where it leads and what it links.
        visible = [n for n in changed if self.workspace.is_visible(n)]
        if not visible:
            return (
                _hidden_note(len(changed)) + "no uncommitted changes" + (f" under {limit!r}" if limit else "")
            )
        # Paths go to git literally (`--literal-pathspecs` in `_git`): a file named `*` is that file, not a
        # glob for all of them. Past a few thousand the command line would be too long; the sections are
        # filtered below in any case.
        pathspecs = visible if len(visible) <= MAX_DIFF_PATHSPECS else ([limit] if limit else [])
        diff = _git(
            root, "diff", "--relative", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
            "--src-prefix=a/", "--dst-prefix=b/", base, "--", *pathspecs,
        )  # fmt: skip
        if diff.returncode != 0:
            raise ToolError(f"git diff failed: {diff.stderr.strip()}")
        # Whatever git printed, only the sections of visible files that are not credentials by content go on.
        shown = set(visible)
        kept = [
            section
            for path, section in _diff_sections(diff.stdout)
            if path in shown and secret_file_kind(section) is None
        ]
        note = _hidden_note(len(changed) - len(kept))
        if not kept:
            return note + "no uncommitted changes" + (f" under {limit!r}" if limit else "")
        return note + self.redactions.clean("".join(kept))

    # -- propose_edits --------------------------------------------------------------------------------------

    def _propose_edits(self, params: ProposeEditsInput) -> ToolOutcome:
        edits = self.to_edits(params)
        count = len(edits)
        summary = f"{count} edit{'s' if count != 1 else ''} proposed for review"
        return ToolOutcome(summary, edits=tuple(edits), explanation=params.explanation)

    def to_edits(self, params: ProposeEditsInput) -> list[Edit]:
        """The model's edits as verified `Edit`s on absolute paths; ToolError naming the bad one and why.

        Every edit is located by its exact text, then each file's edits are applied to a copy and checked
        (`agent.verify`): only edits whose result is sound come back.
        """
        from pyengineer.agent.verify import FileChange, verify_change

        changes: dict[str, FileChange] = {}
        for index, proposed in enumerate(params.edits):
            where = f"edits[{index}]"
            if PLACEHOLDER_PREFIX in proposed.new_text:
                raise ToolError(
                    f"{where}: new_text contains a {PLACEHOLDER_PREFIX}...] placeholder; secrets are hidden "
                    "from you, so leave the lines that hold them unchanged"
                )
            try:
                relative = self.workspace.relative(proposed.path)
            except ToolError as exc:
                raise ToolError(f"{where}: {exc}") from None
            exists = self.workspace.exists(relative)
            text = self.workspace.read_text(relative) if exists else ""
            edit = _anchored_edit(self.workspace.root / relative, text, proposed, exists, where)
            _refuse_secret_lines(text, edit, where)
            previous = changes.get(relative)
            changes[relative] = FileChange(
                relative, text, (*(previous.edits if previous else ()), edit), exists=exists
            )
        for relative, change in changes.items():
            _, problems = verify_change(change, self.settings, self.context)
            if problems:
                raise ToolError(
                    f"edits to {relative!r} were not accepted: " + "; ".join(problems) + ". Nothing was "
                    "proposed yet: read the file again if needed and call propose_edits with all edits again"
                )
        return [edit for change in changes.values() for edit in change.edits]


def _line_offset(index: LineIndex, line: int, where: str) -> int:
    """The string index where 1-based `line` starts (one past the last line: the end of the text)."""
    starts = index.starts[: len(source_lines(index.text))]
    if line == len(starts) + 1 or (not index.text and line == 1):
        return len(index.text)
    if line > len(starts):
        raise ToolError(f"{where}: start_line {line} is past the end of the file ({len(starts)} lines)")
    return starts[line - 1]


def _anchored_edit(path: Path, text: str, proposed: ProposedEdit, exists: bool, where: str) -> Edit:
    """The edit replacing the one occurrence of `old_text` (the line hints choose between repeats)."""
    from pyengineer.agent.verify import line_ending, with_line_ending

    # Positions are counted as `apply_text_edits` reads them (the editor's and ast's lines).
    index = LineIndex(text)
    ending = line_ending(text)
    style = ending if ending in ("\r\n", "\n") else "\n"
    new_text = with_line_ending(proposed.new_text, style)
    if not proposed.old_text:
        if not exists:
            return Edit(path=str(path), range=Range.of(0, 0), new_text=new_text)
        if proposed.start_line is None:
            raise ToolError(
                f"{where}: old_text is empty but {proposed.path} exists: give the exact text to replace, "
                "or start_line to insert before"
            )
        offset = _line_offset(index, proposed.start_line, where)
        return Edit(
            path=str(path),
            range=Range(start=index.position(offset), end=index.position(offset)),
            new_text=new_text,
        )
    if not exists:
        raise ToolError(f"{where}: {proposed.path} does not exist; to create it, leave old_text empty")
    old_text = with_line_ending(proposed.old_text, style)
    starts: list[int] = []
    found = text.find(old_text)
    while found >= 0:
        starts.append(found)
        found = text.find(old_text, found + 1)
    if not starts:
        raise ToolError(
            f"{where}: old_text was not found in {proposed.path}; copy it exactly as read_file shows it "
            "(without the line numbers and the '| ' after them), with its indentation"
        )
    if len(starts) > 1:
        lines = [index.position(start).line + 1 for start in starts]
        hinted = [
            start
            for start, line in zip(starts, lines, strict=True)
            if proposed.start_line is not None
            and proposed.start_line <= line <= (proposed.end_line or proposed.start_line)
        ]
        if len(hinted) != 1:
            shown = ", ".join(str(line) for line in lines[:10])
            raise ToolError(
                f"{where}: old_text occurs {len(starts)} times in {proposed.path} (at lines {shown}); include "
                "more surrounding lines so it occurs once"
            )
        starts = hinted
    start = starts[0]
    end = start + len(old_text)
    return Edit(
        path=str(path), range=Range(start=index.position(start), end=index.position(end)), new_text=new_text
    )


def _refuse_secret_lines(text: str, edit: Edit, where: str) -> None:
    """Refuse an edit of a line holding a secret: the model saw a placeholder there, not the real text."""
    if not text:
        return
    secret_lines: set[int] = set()
    for match in find_secrets(text):
        first = text.count("\n", 0, match.start)
        secret_lines.update(range(first, first + text.count("\n", match.start, match.end) + 1))
    touched = set(range(edit.range.start.line, edit.range.end.line + 1))
    # An edit ending at column 0 of a line does not touch that line.
    if edit.range.end.character == 0 and edit.range.end.line > edit.range.start.line:
        touched.discard(edit.range.end.line)
    hit = sorted(touched & secret_lines)
    if hit:
        raise ToolError(
            f"{where}: line {hit[0] + 1} holds a redacted secret; edits there are refused because you cannot "
            "see its real text. Leave it unchanged, or tell the user what to change there"
        )
