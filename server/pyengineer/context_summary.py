"""A readable, terminal-sized summary of a WorkspaceContext."""

from __future__ import annotations

from pyengineer.workspace.context import MlImport, WorkspaceContext
from pyengineer.workspace.frameworks import BY_KEY


def _git_line(context: WorkspaceContext) -> str:
    git = context.git
    if not git.is_repo:
        return "not a git repository"
    if git.detached:
        where = f"detached HEAD at {git.head}"
    elif git.unborn:
        where = f"branch '{git.branch}' (no commits yet)"
    else:
        where = f"branch '{git.branch}' at {git.head}"
    if git.protected:
        where += f" - PROTECTED ({git.protected_pattern}): create a feature branch before changing code"
    extra = f"{git.dirty} modified, {git.untracked} untracked"
    if git.operation:
        extra += f", {git.operation} in progress"
    return f"{where}; {extra}"


def _in_notebooks(evidence: tuple[str, ...]) -> str:
    """ " (notebooks only)" or " (also in 2 notebooks)" when notebooks' imports are evidence for a framework."""
    notebooks = sum(1 for e in evidence if e.startswith("notebook:"))
    if not notebooks:
        return ""
    if notebooks == len(evidence):
        return " (notebooks only)"
    return f" (also in {notebooks} notebook{'s' if notebooks != 1 else ''})"


def _where(ml: MlImport) -> str:
    at = f"cell {ml.cell}:{ml.line}" if ml.cell is not None else str(ml.line)
    return f"{ml.module}:{at}" + (" (type-only)" if ml.type_only else "")


def summarize(context: WorkspaceContext) -> str:
    out = [f"Project root:     {context.root}"]
    kind = "Python project" if context.python_project else "not a Python project"
    out.append(f"Kind:             {kind} ({context.python_project_reason})")
    if context.package_manager:
        out.append(f"Package manager:  {context.package_manager} ({context.package_manager_reason})")
    else:
        out.append("Package manager:  none detected")
    frameworks = ", ".join(
        BY_KEY[k].title + _in_notebooks(context.framework_evidence.get(k, ()))
        for k in context.frameworks
        if k in BY_KEY
    )
    out.append(f"Frameworks:       {frameworks or 'none detected'}")
    out.append(f"Git:              {_git_line(context)}")
    if context.config_file:
        out.append(f"Config:           {context.config_file}")
    if context.markers:
        out.append("Markers:")
        for marker in context.markers:
            detail = f" ({marker.detail})" if marker.detail else ""
            out.append(f"  {marker.kind:<16} {marker.path}{detail}")
    if context.ml_files:
        out.append(f"ML files ({len(context.ml_files)}; model code is the ai-engineer's):")
        for ml in context.ml_files:
            lines = ", ".join(_where(m) for m in ml.imports)
            out.append(f"  {ml.path}{' (notebook)' if ml.notebook else ''}: {lines}")
    else:
        out.append("ML files:         none")
    return "\n".join(out) + "\n"
