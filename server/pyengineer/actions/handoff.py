"""Write the hand-off document that gives the ai-engineer what they need to take over ML model work."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from pyengineer.engine.source import ParsedSource
from pyengineer.workspace import safe_io
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.handoffs import handoff_path

NOTES_START = "<!-- pyengineer:notes -->"
NOTES_END = "<!-- /pyengineer:notes -->"
SUMMARY_HEADING = "## Summary"


@dataclass
class HandoffFacts:
    """What static analysis can tell about one file's ML boundary."""

    relative: str
    libraries: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    ml_symbols: list[str] = field(default_factory=list)  # functions/classes that touch ML objects
    models: list[str] = field(default_factory=list)  # pydantic models and dataclasses with their fields
    columns: list[str] = field(default_factory=list)  # DataFrame columns seen as df["x"]
    signatures: list[str] = field(default_factory=list)
    syntax_error: str | None = None


def _ml_names(source: ParsedSource, libraries: set[str]) -> set[str]:
    """Local names bound to ML modules or objects (torch, nn, AutoModel...)."""
    names: set[str] = set()
    tree = source.tree
    if tree is None:
        return set(libraries)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in libraries:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in libraries:
            for alias in node.names:
                names.add(alias.asname or alias.name)
    return names


def _references(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _fields(node: ast.ClassDef) -> list[str]:
    out = []
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            out.append(f"{stmt.target.id}: {ast.unparse(stmt.annotation)}")
    return out


def _kind_of_class(node: ast.ClassDef) -> str | None:
    bases = {ast.unparse(b) for b in node.bases}
    if bases & {"BaseModel", "pydantic.BaseModel", "BaseSettings"}:
        return "pydantic model"
    for deco in node.decorator_list:
        text = ast.unparse(deco)
        if text.split("(")[0] in ("dataclass", "dataclasses.dataclass"):
            return "dataclass"
    return None


def collect_facts(source: ParsedSource, context: WorkspaceContext, ml_libraries: set[str]) -> HandoffFacts:
    facts = HandoffFacts(relative=source.relative)
    for record in source.imports:
        if record.top_level in ml_libraries:
            if record.top_level not in facts.libraries:
                facts.libraries.append(record.top_level)
            facts.imports.append(
                f"line {record.line}: {record.module}" + (" (type-only)" if record.type_only else "")
            )
    tree = source.tree
    if tree is None:
        facts.syntax_error = source.syntax_error
        return facts
    names = _ml_names(source, ml_libraries)
    columns: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if isinstance(node.slice.value, str) and re.match(r"^[\w .-]{1,60}$", node.slice.value):
                target = ast.unparse(node.value)
                if "df" in target.lower() or "frame" in target.lower() or "data" in target.lower():
                    columns[f"{target}[{node.slice.value!r}]"] = None
    facts.columns = list(columns)[:40]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.signatures.append(_signature(node))
            if _references(node, names):
                facts.ml_symbols.append(f"function `{node.name}` (line {node.lineno})")
        elif isinstance(node, ast.ClassDef):
            kind = _kind_of_class(node)
            if kind:
                fields = ", ".join(_fields(node)) or "no annotated fields"
                facts.models.append(f"{kind} `{node.name}`: {fields}")
            if _references(node, names):
                facts.ml_symbols.append(f"class `{node.name}` (line {node.lineno})")
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("_"):
                    facts.signatures.append(f"{node.name}.{_signature(item).split(' ', 1)[1]}")
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _references(node, names):
            target = ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
            facts.ml_symbols.append(f"module-level `{target}` (line {node.lineno})")
    return facts


def _bullets(items: list[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else f"- {empty}"


def render_handoff(facts: HandoffFacts, context: WorkspaceContext, summary: str | None, notes: str) -> str:
    git = context.git
    if not git.is_repo:
        branch = "not a git repository"
    elif git.detached:
        branch = f"detached HEAD at {git.head}"
    else:
        branch = f"`{git.branch}`" + (" (protected)" if git.protected else "")
    status = f"{git.dirty} modified, {git.untracked} untracked" if git.is_repo else "n/a"
    questions = [
        "What are the model's exact inputs (shapes, dtypes, units) and outputs the Python side must provide/serve?",
        "Where do trained weights live, how are they versioned, and how does the service load them?",
        "What latency and memory budget does serving have, and is a GPU available in production?",
        "How is the model evaluated, and which metric decides whether a new version ships?",
    ]
    if facts.syntax_error:
        questions.insert(
            0, f"The file does not parse yet ({facts.syntax_error}); which version is authoritative?"
        )
    sections = [
        f"# Hand-off to ai-engineer: `{facts.relative}`",
        "",
        "_Written by pyengineer. The python-engineer role keeps data preparation, validation and API serving; "
        "the model itself is the ai-engineer's._",
        "",
    ]
    if summary:
        sections += [SUMMARY_HEADING, "", summary.strip(), ""]
    sections += [
        "## Where",
        "",
        f"- File: `{facts.relative}`",
        # The workspace's folder name, not its absolute path: the document is committed and shared, and a
        # path on the writer's machine means nothing to its reader (and tells them a user name).
        f"- Project: `{Path(context.root).name}` ({context.package_manager or 'no package manager detected'})",
        f"- Frameworks: {', '.join(context.frameworks) or 'none detected'}",
        f"- Git branch: {branch}; working tree: {status}",
        "",
        "## ML libraries",
        "",
        _bullets([f"`{lib}`" for lib in facts.libraries], "none found"),
        "",
        "Imports:",
        "",
        _bullets(facts.imports, "none"),
        "",
        "## Code that touches ML objects",
        "",
        _bullets(facts.ml_symbols, "no function or class references the ML imports directly"),
        "",
        "## Data in and out",
        "",
        "Models and records:",
        "",
        _bullets(facts.models, "no pydantic models or dataclasses in this file"),
        "",
        "DataFrame columns seen:",
        "",
        _bullets(facts.columns, "none seen"),
        "",
        "Function signatures:",
        "",
        _bullets([f"`{s}`" for s in facts.signatures], "none"),
        "",
        "## Open questions",
        "",
        _bullets(questions, ""),
        "",
        "## Who does what",
        "",
        "- [ ] python-engineer: data preparation and cleaning feeding the model",
        "- [ ] python-engineer: input validation (pydantic models) at the API boundary",
        "- [ ] python-engineer: API serving, error handling, logging and tests around the model call",
        "- [ ] ai-engineer: model architecture and code",
        "- [ ] ai-engineer: training pipeline and experiment tracking",
        "- [ ] ai-engineer: evaluation, metrics and the release decision",
        "",
        "## Notes",
        "",
        NOTES_START,
        notes.strip() or "_Add notes here; pyengineer keeps this section when it updates the document._",
        NOTES_END,
        "",
    ]
    return "\n".join(sections)


def write_handoff(
    source: ParsedSource,
    context: WorkspaceContext,
    ml_libraries: set[str],
    folder: str = "docs/handoffs",
    summary: str | None = None,
) -> Path:
    """Write (or update in place) the hand-off document for `source`; returns its path."""
    root = Path(context.root)
    target = handoff_path(root, source.relative, folder)
    resolved_folder = (root / folder).resolve()
    if resolved_folder != root.resolve() and root.resolve() not in resolved_folder.parents:
        raise ValueError(f"hand-off folder {folder!r} is outside the workspace")
    notes = ""
    try:
        # Not through a link: the document is ours, and a planted link must not feed another file's text.
        previous = safe_io.read_text(target, safe_io.MAX_CONFIG_BYTES, follow_symlinks=False, warn=False)
    except FileNotFoundError:
        previous = ""
    if previous:
        start, end = previous.find(NOTES_START), previous.find(NOTES_END)
        if 0 <= start < end:
            notes = previous[start + len(NOTES_START) : end]
            if notes.strip().startswith("_Add notes here"):
                notes = ""
    facts = collect_facts(source, context, ml_libraries)
    safe_io.write_text(root, target, render_handoff(facts, context, summary, notes))
    return target
