"""What the python-engineer agent is told: its persona (the system prompt), the workspace, and the request.

The persona is the same for every request and every workspace, and the workspace block the same for every
request in one workspace: they are separate blocks so prompt caching can reuse each prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyengineer.findings import Finding, Range

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
- Python 3.11+, PEP 8, type hints on every public function, `from __future__ import annotations` where the \
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
- Ranges use 1-based lines and columns exactly as read_file shows them; the end is exclusive. To replace \
whole lines N through M, use start {line: N, column: 1} and end {line: M+1, column: 1}, and end new_text \
with a newline. To insert before line N, use an empty range at {line: N, column: 1}.
- Base every range on the file as you last read it. Edits in one call must not overlap.
- Secrets in the workspace are shown to you as [REDACTED:kind]. Never write such a placeholder and never \
edit a line that contains one; tell the user what to change there instead.
"""


def render_system_prompt() -> str:
    """The persona: the same for every request, so it is cached across workspaces."""
    return SYSTEM_PROMPT


MAX_CONTEXT_ML_FILES = 30


def context_facts(context: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a workspace context (`WorkspaceContext.model_dump(mode="json")`) the model needs.

    The absolute root path is reduced to the folder name: it says nothing about the code and names the user.
    """
    git = context.get("git") or {}
    root = str(context.get("root") or "")
    ml_files = [
        {"path": ml.get("path"), "libraries": list(ml.get("libraries") or [])}
        for ml in list(context.get("ml_files") or [])[:MAX_CONTEXT_ML_FILES]
        if isinstance(ml, Mapping)
    ]
    facts: dict[str, Any] = {
        "project_folder": root.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1],
        "python_project": context.get("python_project"),
        "python_project_reason": context.get("python_project_reason"),
        "package_manager": context.get("package_manager"),
        "frameworks": list(context.get("frameworks") or []),
        "python_file_count": context.get("python_file_count"),
        "ml_files": ml_files,
        "ml_files_total": len(context.get("ml_files") or []),
        "git": {
            "is_repo": git.get("is_repo", False),
            "branch": git.get("branch"),
            "detached": git.get("detached", False),
            "protected_branch": git.get("protected", False),
            "operation_in_progress": git.get("operation"),
            "uncommitted_files": git.get("dirty", 0),
            "untracked_files": git.get("untracked", 0),
        },
    }
    return facts


def render_context_block(context: Mapping[str, Any]) -> str:
    """The workspace block: the same for every request in one workspace, so it is cached per workspace."""
    facts = context_facts(context)
    lines = ["<workspace_context>", json.dumps(facts, indent=1, sort_keys=True), "</workspace_context>"]
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
    lines = text.split("\n")
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    if range_ is None or len(lines) <= 2 * radius + 1:
        first, last = 1, len(lines)
    else:
        first = max(1, range_.start.line + 1 - radius)
        last = min(len(lines), range_.end.line + 1 + radius)
    width = len(str(last))
    return "\n".join(f"{n:>{width}}| {lines[n - 1].rstrip(chr(13))}" for n in range(first, last + 1))


def render_request(
    question: str,
    *,
    path: str | None = None,
    range_: Range | None = None,
    file_text: str | None = None,
    findings: Sequence[Finding] = (),
) -> str:
    """The user's turn: the question, where the cursor or selection is, the diagnostics there, an excerpt."""
    parts = [f"<request>\n{question.strip()}\n</request>"]
    if path is not None:
        parts.append(f"The user is in {path}{_line_of(range_)}.")
    if findings:
        shown = "\n".join(
            f"- {f.code} ({f.severity.value}) line {f.range.start.line + 1}: {f.message}" for f in findings
        )
        parts.append(f"pyengineer diagnostics there:\n{shown}")
    if path is not None and file_text is not None:
        parts.append(f'<file path="{path}">\n{excerpt(file_text, range_)}\n</file>')
    parts.append("Use the tools to read more, then finish with propose_edits.")
    return "\n\n".join(parts)
