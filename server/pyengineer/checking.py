"""Check files and folders from disk: the CLI's (and CI's) view of the engine."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengineer.baseline import Baseline, CheckedFile, load_baseline
from pyengineer.config import Settings, find_config_file, load_settings
from pyengineer.engine.analyze import RuleFailure, analyze_parts
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.git.state import read_git_state
from pyengineer.notebooks import NotebookError, NotebookModule, is_notebook, read_notebook
from pyengineer.parallel import balanced_chunks, cpu_count
from pyengineer.results_cache import ResultsCache, load_findings, make_entry, seed_imports, text_digest
from pyengineer.workspace import safe_io
from pyengineer.workspace.context import WorkspaceContext, WorkspaceIndex
from pyengineer.workspace.ignore import relative_posix
from pyengineer.workspace.markers import find_root
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
    cached: int = 0  # files whose findings came from the results cache (the late rules still ran)
    problems: list[str] = field(
        default_factory=list
    )  # files that could not be checked (a malformed notebook)
    notes: list[str] = field(default_factory=list)  # what was checked only in part (a notebook's broken cell)


def load_project(
    root: Path, overrides: dict[str, object] | None = None, jobs: int | None = 1
) -> tuple[Settings, WorkspaceContext]:
    """Settings and a freshly scanned context for the project at `root` (`jobs`: as `WorkspaceIndex.scan`)."""
    settings, context, _, _ = _load_project(root, overrides, jobs)
    return settings, context


def _load_project(
    root: Path, overrides: dict[str, object] | None, jobs: int | None
) -> tuple[Settings, WorkspaceContext, list[str], dict[str, int]]:
    """load_project, the scan's sorted list of the project's Python files and notebooks (relative), and the
    sizes the scan read of them."""
    settings = load_settings(root, overrides, overrides_source="command line")
    config_file = find_config_file(root)
    index = WorkspaceIndex(root, settings, cache_dir())
    index.scan(jobs=jobs)
    git = read_git_state(root, settings.protected_branches)
    context = index.context(git=git, config_file=str(config_file) if config_file else None)
    return settings, context, index.walked, {k: v.stamp[1] for k, v in index.files.items()}


def changed_paths(context: WorkspaceContext) -> set[str]:
    """Absolute paths of the files git reports as modified or untracked."""
    top = context.git.toplevel
    if not top:
        return set()
    return {os.path.normpath(os.path.join(top, p)) for p in context.git.changed_files}


def _python_files(root: Path, target: Path, walked: Sequence[str]) -> Iterable[tuple[str, str]]:
    """The files to check under `target` (absolute, and relative to `root`): from the project's scan, which
    walked from the root (so every .gitignore above `target` applies), sorted; a named file as it is."""
    if target.is_file():
        yield str(target), relative_posix(root, target)
        return
    base = relative_posix(root, target)
    prefix = "" if base == "." else base + "/"
    top = str(root)
    for relative in walked:
        if relative.startswith(prefix):
            yield os.path.join(top, relative), relative


# Less work than this many files to analyse (a cache hit counts HIT_COST of one) is checked in-process:
# starting workers costs more than it saves.
PARALLEL_MIN_FILES = 24
CHUNKS_PER_WORKER = 4  # enough chunks to even out files of unequal cost, few enough to keep overhead low


@dataclass(frozen=True)
class _Project:
    """What checking one project's files needs: given to each worker once, when it starts."""

    root: Path
    settings: Settings
    context: WorkspaceContext
    baseline: Baseline | None


@dataclass(frozen=True)
class _Job:
    index: int  # the file's place in a serial run: results are merged in this order
    project: int
    path: str
    relative: str  # to the project root, posix
    size: int
    changed: bool
    cached: list[Any] | None  # the results cache's [digest, findings, imports] for this file, if it has one


@dataclass(frozen=True)
class _FileResult:
    index: int
    project: int
    relative: str
    findings: list[Finding]
    baselined: int
    failures: tuple[RuleFailure, ...]
    lines: list[str] | None  # with keep_files
    unfiltered: list[Finding] | None  # with keep_files: before the baseline was applied
    entry: list[Any] | None  # the new results-cache entry, when the file was analysed and no rule failed
    hit: bool  # the findings came from the cache
    problem: str | None = None  # why the file could not be checked at all
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Text:
    """What is analysed of one file: its text, or a notebook's code cells as one module (notebooks.py)."""

    text: str
    module: NotebookModule | None = None
    problem: str | None = None  # a notebook that is not one: the error to report instead


def _read(path: str) -> str | None:
    try:
        # Bounded: a file above the limit is skipped, and the warning names it (on stderr).
        return safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES, keep_newlines=True)
    except OSError:
        return None


def _load(path: str, relative: str) -> _Text | None:
    """The text to analyse of the file at `path`; None when it cannot be read (or is not Python)."""
    if not is_notebook(path):
        text = _read(path)
        return None if text is None else _Text(text)
    try:
        notebook = read_notebook(path)
    except NotebookError as exc:
        return _Text("", problem=f"{relative}: {exc.problem}")
    except OSError:
        return None
    if not notebook.is_python:
        return None
    # The results cache keys a notebook by its module's text: a new output or a moved markdown cell does not
    # change what the rules see (the findings are placed in the cells after the cache, from the current map).
    module = notebook.module()
    return _Text(module.text, module)


def _in_cell(failure: RuleFailure, module: NotebookModule) -> RuleFailure:
    """A rule failure on a notebook, its line placed in its cell."""
    if not failure.line:
        return failure
    cell, line, _ = module.locate(failure.line - 1, 0)
    return dataclasses.replace(failure, cell=cell, line=line + 1)


def _problem(job: _Job, relative: str, problem: str) -> _FileResult:
    return _FileResult(job.index, job.project, relative, [], 0, (), None, None, None, False, problem)


def _check_file(job: _Job, project: _Project, keep_lines: bool, caching: bool) -> _FileResult | None:
    relative = job.relative
    loaded = _load(job.path, relative)
    if loaded is None:
        return None
    if loaded.problem is not None:
        return _problem(job, relative, loaded.problem)
    text = loaded.text
    source = ParsedSource(job.path, text, relative)
    digest = text_digest(text) if caching else ""
    early = None
    if job.cached is not None and job.cached[0] == digest:
        early = load_findings(job.cached[1])
        if early is not None:
            seed_imports(source, job.cached)
    analysis = analyze_parts(source, project.context, project.settings, changed=job.changed, early=early)
    entry = None
    if caching and early is None and not analysis.failures:
        entry = make_entry(digest, analysis.early, source)
    findings = analysis.findings
    failures = analysis.failures
    if project.baseline is not None:
        findings = project.baseline.filter(source.relative, source.lines, findings)
    notes: tuple[str, ...] = ()
    if loaded.module is not None:
        # Baselines and the cache hold the module's positions; what is shown is in the cells.
        findings = loaded.module.to_cells(findings)
        failures = tuple(_in_cell(f, loaded.module) for f in failures)
        notes = tuple(
            f"{relative}:cell {b.cell + 1}:{b.line + 1}:{b.column + 1}: syntax error: {b.message}; "
            "the cell is left out of the checks until it parses (the other cells are checked)"
            for b in loaded.module.broken
        )
    return _FileResult(
        index=job.index,
        project=job.project,
        relative=source.relative,
        findings=findings,
        baselined=len(analysis.findings) - len(findings),
        failures=failures,
        lines=source.lines if keep_lines else None,
        unfiltered=analysis.findings if keep_lines else None,
        entry=entry,
        hit=early is not None,
        notes=notes,
    )


# A worker's share of the parent's state, set once by _start_worker (inherited, not pickled, under fork).
_worker: tuple[list[_Project], bool, bool] | None = None


def _start_worker(projects: list[_Project], keep_lines: bool, caching: bool) -> None:
    global _worker
    _worker = (projects, keep_lines, caching)


def _run_chunk(chunk: list[_Job]) -> list[_FileResult]:
    assert _worker is not None
    projects, keep_lines, caching = _worker
    results = [_check_file(job, projects[job.project], keep_lines, caching) for job in chunk]
    return [r for r in results if r is not None]


# A file the results cache holds is read, hashed and given the late rules only: about this fraction of the
# cost of analysing it (measured on the 20,000-file bench repository: ~0.1 ms against ~2 ms a file).
HIT_COST = 1 / 16


def _cost(job: _Job) -> int:
    """What checking `job` is expected to cost, in bytes analysed."""
    size = max(job.size, 1)
    return max(1, int(size * HIT_COST)) if job.cached is not None else size


def _chunks(jobs: Sequence[_Job], count: int) -> list[list[_Job]]:
    """`jobs` in `count` chunks of about equal expected cost, the costliest first."""
    return balanced_chunks(jobs, _cost, count)


def _run_jobs(
    jobs: list[_Job], projects: list[_Project], keep_lines: bool, caching: bool, workers: int
) -> list[_FileResult]:
    # Files to analyse count whole, cache hits a fraction: a warm run of a few hundred files stays here.
    weight = sum(1.0 if job.cached is None else HIT_COST for job in jobs)
    if workers <= 1 or weight < PARALLEL_MIN_FILES:
        results = [_check_file(job, projects[job.project], keep_lines, caching) for job in jobs]
        return [r for r in results if r is not None]
    # fork: workers start in milliseconds with the engine imported and the projects' state inherited.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunks = _chunks(jobs, workers * CHUNKS_PER_WORKER)
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(projects, keep_lines, caching),
    ) as pool:
        merged = [r for part in pool.map(_run_chunk, chunks) for r in part]
    merged.sort(key=lambda r: r.index)
    return merged


def check_paths(
    paths: Sequence[Path],
    overrides: dict[str, object] | None = None,
    use_baseline: bool = True,
    unchanged: frozenset[str] = frozenset(),
    keep_files: bool = False,
    jobs: int | None = None,
    use_cache: bool = True,
    only: frozenset[str] | None = None,
) -> list[ProjectCheck]:
    """Analyze every Python file under `paths`, grouped by project root.

    With `use_baseline` the findings the project's baseline holds are left out (BaselineError when it is
    broken). `unchanged`: absolute paths not to count as being changed even if git says so (the files
    `--fix` itself just wrote: its edits are not the user's change on a protected branch). `keep_files`
    keeps each file's lines and findings in `files` (for writing a baseline). `jobs`: processes to use
    (default: one per core; runs of a few files stay in-process). `use_cache`: reuse and update the results
    cache (see results_cache.py) unless caching is turned off. The output is the same either way: findings in
    the order of a serial, uncached run. `only`: absolute, normalised paths: the files under `paths` not
    among them are skipped (`--changed`), after the same ignore rules as always.
    """
    projects: dict[Path, ProjectCheck] = {}
    walked: list[list[str]] = []
    sizes: list[dict[str, int]] = []
    caches: list[ResultsCache | None] = []
    folder = cache_dir() if use_cache else None
    states: list[_Project] = []
    work: list[_Job] = []  # every file to check, in processes when there are enough of them
    index = 0
    seen: set[str] = set()
    for target in paths:
        # A file named through a link stays under its link name, in the link's project: resolving it would
        # make a committed `src/app.py -> ~/elsewhere.py` a file of another project, which --fix would write.
        target = target.parent.resolve() / target.name if target.is_symlink() else target.resolve()
        root = find_root(target)
        project = projects.get(root)
        if project is None:
            settings, context, files, file_sizes = _load_project(root, overrides, jobs)
            walked.append(files)
            sizes.append(file_sizes)
            project = projects[root] = ProjectCheck(root, settings, context)
            if use_baseline:
                project.baseline = load_baseline(root, settings)
            cache = ResultsCache(folder, root, settings, context) if folder is not None else None
            if cache is not None:
                cache.load()
            caches.append(cache)
            states.append(_Project(root, settings, context, project.baseline))
        number = list(projects).index(root)
        cache = caches[number]
        changed = changed_paths(project.context) - unchanged
        for path, relative in _python_files(root, target, walked[number]):
            absolute = os.path.normpath(path)
            if absolute in seen or (only is not None and absolute not in only):
                continue
            seen.add(absolute)
            size = sizes[number].get(relative)  # as the scan saw it a moment ago: only chunks are sized by it
            if size is None:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    continue
            entry = cache.lookup(relative) if cache is not None else None
            # A cached file is still read and hashed (where it is checked): only the same text reuses its entry.
            work.append(_Job(index, number, path, relative, size, absolute in changed, entry))
            index += 1
    checks = list(projects.values())
    results = _run_jobs(work, states, keep_files, folder is not None, cpu_count() if jobs is None else jobs)
    stored: list[dict[str, list[Any]]] = [{} for _ in checks]
    checked: list[list[str]] = [[] for _ in checks]
    for result in results:
        number = result.project
        project = checks[number]
        project.notes.extend(result.notes)
        if result.problem is not None:
            project.problems.append(result.problem)
            continue
        project.failures.extend(result.failures)
        if result.lines is not None and result.unfiltered is not None:
            project.files.append(CheckedFile(result.relative, result.lines, result.unfiltered))
        project.findings.extend(result.findings)
        project.baselined += result.baselined
        project.files_checked += 1
        project.cached += result.hit
        checked[number].append(result.relative)
        if result.entry is not None:
            stored[number][result.relative] = result.entry
    for number, cache in enumerate(caches):
        if cache is not None:
            cache.update(stored[number], checked[number], frozenset(walked[number]))
            cache.save()
    return checks
