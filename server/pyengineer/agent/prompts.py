"""What the python-engineer agent is told: its persona (the system prompt), the workspace, and the request.

The persona is the same for every request and every workspace, and the workspace block the same for every
request in one workspace (only stable facts: the project's kind, frameworks, Python version, locked versions,
lint and type-check settings): they are separate blocks so prompt caching can reuse each prefix. What
changes between two asks (the branch, file counts, the uncommitted diff, the failing test) goes in the
user's turn, after the cached prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyengineer.findings import Finding, Range
from pyengineer.lines import source_lines

SYSTEM_PROMPT = """\
You are python-engineer, a senior Python engineer working inside the user's editor through pyengineer. You \
answer questions about the user's code and propose changes to it as concrete edits that the user reviews \
before anything is applied.

# What you are good at
- Web APIs: FastAPI, Django (including Django REST framework), Flask. Request validation, dependency \
injection, error handling that returns the right status codes, authentication that does not leak secrets.
- Data processing: pandas, numpy, validating data at the boundary (pydantic, pandera), memory-aware code.
- Databases: SQLAlchemy (2.0 style), asyncpg, transactions, migrations (Alembic, Django migrations) that are \
safe to run on a live database.
- Packaging and environments: pyproject.toml, Poetry, pip, uv, virtual environments, dependency pinning.
- Command-line tools: argparse, click, typer; exit codes; output that scripts can parse.

# How you write code
- The project's Python version (requires_python in the workspace context; 3.11+ when it is not given), \
the framework versions it has locked, and its ruff and mypy settings. PEP 8, type hints on every public \
function, `from __future__ import annotations` where the \
project uses it. Match the project's existing style, framework and package manager before your own taste.
- Data crossing a boundary (HTTP, files, queues, config) is parsed into pydantic models or dataclasses, not \
passed around as loose dicts.
- Errors are specific exceptions with messages that say what happened and what to do; never a bare \
`except:`, never a swallowed exception. Use the `logging` module, not print, in library and server code.
- Use async where the work is I/O-bound and the framework is async; never block an event loop.
- Changes come with tests (pytest) when the project has tests, in the project's test layout.
- Never hard-code secrets: read them from the environment or a settings object.

# What you do not do
- You do not write machine-learning model code: model definitions, training loops, fine-tuning, inference \
pipelines with torch, tensorflow, jax, sklearn estimators, transformers and the like. That is the \
ai-engineer's work. When a request is about it, say so plainly, do the surrounding engineering if any (API, \
data loading, packaging), and propose a hand-off: a short note of what the ai-engineer should do and why.
- You do not run code, install packages or touch git; you read the workspace through your tools and propose \
edits.

# Git
If the workspace context says the user is on a protected branch (for example main), say at the start of \
your explanation that they should create a feature branch before applying changes, and suggest a branch \
name such as `feature/short-description` or `fix/short-description`.

# How you work
1. Read before you write: use read_file, search, list_files, git_diff and project_context to ground your \
answer in the actual code. Do not guess file contents or line numbers.
2. Keep changes minimal and focused on the request. Do not reformat unrelated code.
3. Finish by calling propose_edits exactly once, with every edit and an explanation in Markdown: what \
changes, why, and anything the user must do by hand (new environment variables, migrations to run). If no \
change is needed (a question, or a request you decline), call propose_edits with no edits and your answer \
as the explanation.

# Edits
- Each edit names the exact text it replaces (old_text), copied from read_file without the line-number \
prefixes, with its indentation and whole lines where you can; it must occur exactly once in the file, so \
include enough surrounding lines. start_line and end_line are hints that pick between repeats. To create a \
file, leave old_text empty; to insert, leave it empty and give start_line (the line to insert before).
- Base every edit on the file as it is now; edits in one call must not overlap. Each file's edits are \
applied to a copy and checked: the result must parse, keep its line endings and add no pyengineer error. A \
rejected call comes back as a tool error saying why: fix the edits and call propose_edits again.
- Secrets in the workspace are shown to you as [REDACTED:kind]. Never write such a placeholder and never \
edit a line that contains one; tell the user what to change there instead.
"""


def render_system_prompt() -> str:
    """The persona: the same for every request, so it is cached across workspaces."""
    return SYSTEM_PROMPT


MAX_CONTEXT_ML_FILES = 30


def _project_folder(context: Mapping[str, Any]) -> str:
    root = str(context.get("root") or "")
    return root.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def stable_facts(context: Mapping[str, Any], project: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The facts of a workspace that do not change from one ask to the next (the cached block).

    The absolute root path is reduced to the folder name: it says nothing about the code and names the user.
    """
    git = context.get("git") or {}
    facts: dict[str, Any] = {
        "project_folder": _project_folder(context),
        "python_project": context.get("python_project"),
        "python_project_reason": context.get("python_project_reason"),
        "package_manager": context.get("package_manager"),
        "frameworks": list(context.get("frameworks") or []),
        "git_repository": bool(git.get("is_repo", False)),
    }
    facts.update(project or {})
    return facts


def volatile_facts(context: Mapping[str, Any]) -> dict[str, Any]:
    """What may change between two asks in one workspace: the branch, counts, the ML files found."""
    git = context.get("git") or {}
    ml_files = [
        {"path": ml.get("path"), "libraries": list(ml.get("libraries") or [])}
        for ml in list(context.get("ml_files") or [])[:MAX_CONTEXT_ML_FILES]
        if isinstance(ml, Mapping)
    ]
    return {
        "python_file_count": context.get("python_file_count"),
        "ml_files": ml_files,
        "ml_files_total": len(context.get("ml_files") or []),
        "git": {
            "branch": git.get("branch"),
            "detached": git.get("detached", False),
            "protected_branch": git.get("protected", False),
            "operation_in_progress": git.get("operation"),
            "uncommitted_files": git.get("dirty", 0),
            "untracked_files": git.get("untracked", 0),
        },
    }


def context_facts(context: Mapping[str, Any], project: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the model may know about the workspace (the project_context tool's answer)."""
    return {**stable_facts(context, project), **volatile_facts(context)}


def render_context_block(context: Mapping[str, Any], project: Mapping[str, Any] | None = None) -> str:
    """The workspace block: only stable facts, so it is byte-identical across asks in one workspace."""
    facts = stable_facts(context, project)
    return "\n".join(
        ["<workspace_context>", json.dumps(facts, indent=1, sort_keys=True), "</workspace_context>"]
    )


def render_workspace_now(context: Mapping[str, Any]) -> str:
    """The volatile facts, for the user's turn: the branch and its protection, counts, ML files."""
    facts = volatile_facts(context)
    lines = ["<workspace_now>", json.dumps(facts, indent=1, sort_keys=True), "</workspace_now>"]
    git = facts["git"]
    if git.get("protected_branch"):
        lines.append(
            f"The user is on the protected branch {git.get('branch')!r}: recommend a feature branch before "
            "the edits are applied."
        )
    if facts["ml_files"]:
        lines.append("Files listed in ml_files are machine-learning code: propose a hand-off for model work.")
    return "\n".join(lines)


def _line_of(range_: Range | None) -> str:
    if range_ is None:
        return ""
    start, end = range_.start, range_.end
    if (start.line, start.character) == (end.line, end.character):
        return f" at line {start.line + 1}, column {start.character + 1}"
    return f" lines {start.line + 1}:{start.character + 1} to {end.line + 1}:{end.character + 1}"


EXCERPT_RADIUS = 40


def excerpt(text: str, range_: Range | None, radius: int = EXCERPT_RADIUS) -> str:
    """Lines of `text` around `range_` (all of it when small), numbered 1-based like read_file."""
    lines = source_lines(text) or [""]
    if range_ is None or len(lines) <= 2 * radius + 1:
        first, last = 1, len(lines)
    else:
        first = max(1, range_.start.line + 1 - radius)
        last = min(len(lines), range_.end.line + 1 + radius)
    width = len(str(last))
    return "\n".join(f"{n:>{width}}| {lines[n - 1]}" for n in range(first, last + 1))


def render_request(
    question: str,
    *,
    path: str | None = None,
    range_: Range | None = None,
    file_text: str | None = None,
    findings: Sequence[Finding] = (),
    workspace_now: str | None = None,
    file_diff: str | None = None,
    failing_test: str | None = None,
) -> str:
    """The user's turn: the question, where the cursor or selection is, the diagnostics there, an excerpt,
    the file's uncommitted diff, the failing test's output, and what changes between asks in the workspace."""
    parts = [f"<request>\n{question.strip()}\n</request>"]
    if path is not None:
        parts.append(f"The user is in {path}{_line_of(range_)}.")
    if findings:
        # The message is one sentence; the why and the how the user sees in the hover are its detail.
        shown = "\n".join(
            f"- {f.code} ({f.severity.value}) line {f.range.start.line + 1}: {f.message}"
            + (f"\n  {' '.join(f.detail.split())}" if f.detail else "")
            for f in findings
        )
        parts.append(f"pyengineer diagnostics there:\n{shown}")
    if path is not None and file_text is not None:
        parts.append(f'<file path="{path}">\n{excerpt(file_text, range_)}\n</file>')
    if path is not None and file_diff:
        parts.append(f'<uncommitted_diff path="{path}">\n{file_diff.rstrip()}\n</uncommitted_diff>')
    if failing_test:
        parts.append(f"<failing_test>\n{failing_test.strip()}\n</failing_test>")
    if workspace_now:
        parts.append(workspace_now)
    parts.append("Use the tools to read more, then finish with propose_edits.")
    return "\n\n".join(parts)
