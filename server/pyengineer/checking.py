"""Check files and folders from disk: the CLI's (and CI's) view of the engine."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyengineer.baseline import Baseline, CheckedFile, load_baseline
from pyengineer.config import Settings, find_config_file, load_settings
from pyengineer.engine.analyze import RuleFailure, analyze_parts
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.git.state import read_git_state
from pyengineer.workspace import safe_io
from pyengineer.workspace.context import WorkspaceContext, WorkspaceIndex
from pyengineer.workspace.ignore import IgnoreRules, relative_posix
from pyengineer.workspace.markers import find_root
from pyengineer.workspace.scan import walk
from pyengineer.workspace.scan_cache import cache_dir


@dataclass
class ProjectCheck:
    root: Path
    settings: Settings
    context: WorkspaceContext
    findings: list[Finding] = field(default_factory=list)
    files_checked: int = 0
    failures: list[RuleFailure] = field(default_factory=list)  # rules that raised: their findings are missing
    baseline: Baseline | None = None
    baselined: int = 0  # findings left out because the baseline holds them
    files: list[CheckedFile] = field(default_factory=list)  # with keep_files: every file's findings


def load_project(root: Path, overrides: dict[str, object] | None = None) -> tuple[Settings, WorkspaceContext]:
    """Settings and a freshly scanned context for the project at `root`."""
    settings = load_settings(root, overrides, overrides_source="command line")
    config_file = find_config_file(root)
    index = WorkspaceIndex(root, settings, cache_dir())
    index.scan()
    git = read_git_state(root, settings.protected_branches)
    return settings, index.context(git=git, config_file=str(config_file) if config_file else None)


def changed_paths(context: WorkspaceContext) -> set[str]:
    """Absolute paths of the files git reports as modified or untracked."""
    top = context.git.toplevel
    if not top:
        return set()
    return {os.path.normpath(os.path.join(top, p)) for p in context.git.changed_files}


def _python_files(root: Path, target: Path, settings: Settings) -> Iterable[Path]:
    if target.is_file():
        yield target
        return
    base = relative_posix(root, target)
    prefix = "" if base == "." else base + "/"
    # Walk from the root so that every .gitignore above `target` applies.
    for relative in walk(root, IgnoreRules.for_root(root, settings.exclude)).python_files:
        if relative.startswith(prefix):
            yield root / relative


def check_paths(
    paths: Sequence[Path],
    overrides: dict[str, object] | None = None,
    use_baseline: bool = True,
    unchanged: frozenset[str] = frozenset(),
    keep_files: bool = False,
) -> list[ProjectCheck]:
    """Analyze every Python file under `paths`, grouped by project root.

    With `use_baseline` the findings the project's baseline holds are left out (BaselineError when it is
    broken). `unchanged`: absolute paths not to count as being changed even if git says so (the files
    `--fix` itself just wrote: its edits are not the user's change on a protected branch). `keep_files`
    keeps each file's lines and findings in `files` (for writing a baseline).
    """
    projects: dict[Path, ProjectCheck] = {}
    seen: set[Path] = set()
    for target in paths:
        # A file named through a link stays under its link name, in the link's project: resolving it would
        # make a committed `src/app.py -> ~/elsewhere.py` a file of another project, which --fix would write.
        target = target.parent.resolve() / target.name if target.is_symlink() else target.resolve()
        root = find_root(target)
        project = projects.get(root)
        if project is None:
            settings, context = load_project(root, overrides)
            project = projects[root] = ProjectCheck(root, settings, context)
            if use_baseline:
                project.baseline = load_baseline(root, settings)
        changed = changed_paths(project.context) - unchanged
        for path in _python_files(root, target, project.settings):
            if path in seen:
                continue
            seen.add(path)
            try:
                # Bounded: a file above the limit is skipped, and the warning names it (on stderr).
                text = safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES, keep_newlines=True)
            except OSError:
                continue
            source = ParsedSource(str(path), text, relative_posix(root, path))
            analysis = analyze_parts(
                source, project.context, project.settings, changed=os.path.normpath(path) in changed
            )
            project.failures.extend(analysis.failures)
            if keep_files:
                project.files.append(CheckedFile(source.relative, source.lines, analysis.findings))
            findings = analysis.findings
            if project.baseline is not None:
                findings = project.baseline.filter(source.relative, source.lines, findings)
                project.baselined += len(analysis.findings) - len(findings)
            project.findings.extend(findings)
            project.files_checked += 1
    return list(projects.values())
