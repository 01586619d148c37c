"""WorkspaceContext: what the project is, as plain data; and the index that keeps it current."""

from __future__ import annotations

import ast
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from pyengineer.config import Settings
from pyengineer.frameworks import BY_DISTRIBUTION, BY_KEY, BY_MODULE
from pyengineer.git.state import GitState, read_git_state
from pyengineer.notebooks import NOTEBOOK_SUFFIX
from pyengineer.parallel import cpu_count
from pyengineer.workspace.dependencies import (
    pipfile_dependencies,
    pyproject_dependencies,
    read_requirements,
    setup_cfg_dependencies,
)
from pyengineer.workspace.ignore import (
    IgnoreRules,
    is_skipped_dir_name,
    is_virtualenv,
    relative_inside,
    relative_posix,
)
from pyengineer.workspace.imports import PARSE_ERRORS, ImportRecord, parse_module
from pyengineer.workspace.markers import (
    Marker,
    detect_package_manager,
    find_root,
    load_pyproject,
    marker_kind,
)
from pyengineer.workspace.scan import (
    FileScan,
    compile_prefilter,
    interesting_modules,
    scan_file,
    scan_files,
    walk,
)
from pyengineer.workspace.scan_cache import ScanCache, cache_dir
from pyengineer.workspace.typecheck import TypeCheckConfig, type_check_configs


class MlImport(BaseModel):
    model_config = ConfigDict(frozen=True)

    library: str
    module: str
    line: int
    type_only: bool = False
    dynamic: bool = False
    # In a notebook: the cell's 1-based number in the notebook's cells (markdown and raw cells counted, as
    # `check` shows it: "cell 3"); `line` is then the line in the cell.
    cell: int | None = None


class MlFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    libraries: tuple[str, ...]
    imports: tuple[MlImport, ...]
    notebook: bool = False  # a Jupyter notebook (its imports are located by cell)


class ContextSummary(BaseModel):
    """What a reader of the context wants first: what the project is, in a few values (the rest follows)."""

    model_config = ConfigDict(frozen=True)

    project: str  # "python" or "not python"
    package_manager: str | None = None
    frameworks: tuple[str, ...] = ()
    python_files: int = 0
    ml_files: int = 0
    branch: str | None = None  # None when detached or not a repository
    protected: bool = False
    changed_files: int = 0


class WorkspaceContext(BaseModel):
    """Everything we know about a workspace, cheap to copy and serializable (`pyengineer context --json`).

    Dumped, it opens with `summary` (ContextSummary), then the fields in the order below."""

    model_config = ConfigDict(frozen=True)

    root: str
    python_project: bool
    python_project_reason: str
    markers: tuple[Marker, ...] = ()
    package_manager: str | None = None
    package_manager_reason: str = ""
    frameworks: tuple[str, ...] = ()
    framework_evidence: dict[str, tuple[str, ...]] = {}
    ml_files: tuple[MlFile, ...] = ()
    python_file_count: int = 0
    # Cross-file facts for the rules: module-level sync SQLAlchemy engines and session factories, as
    # "path/of/module.py:name" (`engine = create_engine(...)` in app/db.py -> "app/db.py:engine"). PE301
    # recognises them when another module imports them.
    sync_engines: tuple[str, ...] = ()
    sync_session_factories: tuple[str, ...] = ()
    config_file: str | None = None
    git: GitState = GitState()
    # The project's mypy / pyright configurations and py.typed packages (empty: it does not type-check).
    type_checking: tuple[TypeCheckConfig, ...] = ()

    def uses(self, framework: str) -> bool:
        return framework in self.frameworks

    def summary(self) -> ContextSummary:
        return ContextSummary(
            project="python" if self.python_project else "not python",
            package_manager=self.package_manager,
            frameworks=self.frameworks,
            python_files=self.python_file_count,
            ml_files=len(self.ml_files),
            branch=self.git.branch,
            protected=self.git.protected,
            changed_files=len(self.git.changed_files),
        )

    # The summary leads every dump (the CLI's --json, the editors' Show Context, MCP) instead of whichever key
    # sorts first; it is derived, so reading a dump back ignores it.
    @model_serializer(mode="wrap")
    def _summary_first(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        fields: dict[str, Any] = handler(self)
        mode = "json" if info.mode_is_json() else "python"
        return {"summary": self.summary().model_dump(mode=mode), **fields}

    def annotations_required(self, relative: str) -> bool:
        """True if one of the project's type checkers (or its py.typed) holds `relative` to annotations.
        Never a notebook: mypy and pyright check modules, not .ipynb files."""
        if relative.endswith(NOTEBOOK_SUFFIX):
            return False
        return any(config.checks(relative) for config in self.type_checking)

    def ml_file(self, relative: str) -> MlFile | None:
        for ml in self.ml_files:
            if ml.path == relative:
                return ml
        return None


def ml_imports(imports: Iterable[ImportRecord], ml_libraries: Iterable[str]) -> tuple[MlImport, ...]:
    libraries = ml_libraries if isinstance(ml_libraries, frozenset) else frozenset(ml_libraries)
    return tuple(
        MlImport(
            library=r.top_level,
            module=r.module,
            line=r.line,
            type_only=r.type_only,
            dynamic=r.dynamic,
            cell=r.cell + 1 if r.cell is not None else None,
        )
        for r in imports
        if r.top_level in libraries
    )


class _Derived(NamedTuple):
    ml_file: MlFile | None
    frameworks: tuple[str, ...]
    sync_engines: tuple[str, ...]
    sync_session_factories: tuple[str, ...]


_SYNC_ENGINE_CALLS = frozenset({"create_engine", "engine_from_config"})
_SESSION_FACTORY_CALLS = frozenset({"sessionmaker", "scoped_session"})
_MAX_FACT_BYTES = 2_000_000


def sync_database_objects(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Module-level names bound to a sync SQLAlchemy engine or session factory in the file at `path`:
    `engine = create_engine(url)`, `SessionLocal = sessionmaker(bind=engine)` (not `create_async_engine`, not a
    factory with `class_=AsyncSession`). Only the module's top-level statements are looked at."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_FACT_BYTES:
            return (), ()
        data = path.read_bytes()
    except OSError:
        return (), ()
    if b"create_engine" not in data and b"sessionmaker" not in data and b"engine_from_config" not in data:
        return (), ()
    try:
        tree = parse_module(data.decode("utf-8", errors="replace"))
    except PARSE_ERRORS:
        return (), ()
    engines: list[str] = []
    factories: list[str] = []
    for stmt in tree.body:
        value: ast.expr | None
        targets: list[ast.expr]
        if isinstance(stmt, ast.Assign):
            value, targets = stmt.value, stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            value, targets = stmt.value, [stmt.target]
        else:
            continue
        if not isinstance(value, ast.Call):
            continue
        func = value.func
        called = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        )
        if any(kw.arg == "class_" and "Async" in ast.unparse(kw.value) for kw in value.keywords):
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if called in _SYNC_ENGINE_CALLS:
            engines.extend(names)
        elif called in _SESSION_FACTORY_CALLS:
            factories.extend(names)
    return tuple(engines), tuple(factories)


class WorkspaceIndex:
    """The per-file scan results of one workspace root, updated file by file as things change.

    Thread-safe: the LSP layer updates it from worker threads while handlers read snapshots. With a
    `cache_folder` (see `scan_cache.cache_dir()`), the first scan reuses the results saved by the last run for
    every file whose (mtime, size) is unchanged, and each full scan saves its results there.
    """

    def __init__(self, root: Path, settings: Settings, cache_folder: Path | None = None) -> None:
        self.root = root
        self._root = str(root)
        self.settings = settings
        self._lock = threading.RLock()
        self.files: dict[str, FileScan] = {}
        self.walked: list[str] = []  # the sorted Python files and notebooks the last scan() walked
        # The files that import something of interest (a few percent of them), with what context() needs of
        # each (its MlFile, the frameworks it is evidence for), kept in step with `files` by `_put`/`_drop`: so
        # context() never walks all of a 20,000-file index, nor re-derives the unchanged files.
        self._importing: dict[str, _Derived] = {}
        self._first: str | None = None  # min(files), recomputed only when a file comes or goes
        self._folder_set: frozenset[str] = frozenset()
        self.markers: list[Marker] = []
        self.folders: list[str] = []
        self.rules = IgnoreRules.for_root(root, settings.exclude)
        self._modules = interesting_modules(settings.all_ml_libraries)
        self._ml_libraries = frozenset(settings.all_ml_libraries)
        self._prefilter = compile_prefilter(self._modules)
        self._declared: dict[str, list[str]] = {}
        self._pyproject: dict[str, object] = {}
        self._type_checking: tuple[TypeCheckConfig, ...] = ()
        self._cache = ScanCache(cache_folder, root, self._modules) if cache_folder is not None else None
        self.forked = 0  # the processes the last scan forked (0: it ran in this one)

    def scan(self, progress: Callable[[int, int], None] | None = None, jobs: int | None = 1) -> None:
        """Walk the whole tree and scan every Python file (reusing results for unchanged files).

        `jobs`: the processes to scan in when many files need it (None: one per core; see `scan_files`, which
        forks only where that is safe). The command line passes it; the language server does not (its
        threads make a fork unsafe, and its scan runs in the background, beside the editor's work).
        """
        walked = walk(self.root, IgnoreRules.for_root(self.root, self.settings.exclude))
        # Notebooks are Python files here: their imports count for the ML files and the frameworks.
        python_files = sorted(walked.python_files + walked.notebooks)
        # What this scan walked, kept for `check` (which would otherwise walk the tree a second time).
        self.walked = python_files
        total = len(python_files)
        with self._lock:
            known = self.files
        cached = self._cache.load() if self._cache is not None and not known else {}
        known = known or cached
        kept: dict[str, FileScan] = {}
        todo: list[str] = []  # the files to scan: new, or changed since their known scan
        for relative in python_files:
            previous = known.get(relative)
            if previous is None:
                todo.append(relative)
                continue
            stamp = self._stamp(relative)
            if stamp == previous.stamp:
                kept[relative] = previous
            elif stamp is not None:  # (None: gone since the walk)
                todo.append(relative)
        report = None if progress is None else (lambda done: progress(len(kept) + done, total))
        scanned, self.forked = scan_files(
            self.root, todo, self._modules, self._prefilter, cpu_count() if jobs is None else jobs, report
        )
        if progress is not None and total and not todo:
            progress(total, total)
        found = dict(zip(todo, scanned, strict=True))
        fresh: dict[str, FileScan] = {}
        for relative in python_files:  # in the walk's order, whichever process scanned it
            scan = kept.get(relative)
            if scan is None:
                scan = found.get(relative)
            if scan is not None:
                fresh[relative] = scan
        with self._lock:
            self.files = fresh
            self._importing = {k: self._derive(k, v) for k, v in fresh.items() if v.imports}
            self._first = None
            self.markers = walked.markers
            self.folders = walked.folders
            self._folder_set = frozenset(walked.folders)
            self._reload_declared()
        if self._cache is not None and fresh != cached:
            self._cache.save(fresh)

    def _stamp(self, relative: str) -> tuple[int, int] | None:
        """(mtime_ns, size) of a file now, as `FileScan.stamp` holds it; None when it cannot be stat'ed."""
        try:
            stat = os.stat(os.path.join(self._root, relative))
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _rescan_if_changed(self, relative: str, previous: FileScan | None) -> FileScan | None:
        if previous is not None:
            stamp = self._stamp(relative)
            if stamp is None:
                return None
            if stamp == previous.stamp:
                return previous
        return scan_file(self.root, relative, self._modules, self._prefilter)

    def update(self, paths: Iterable[Path]) -> bool:
        """Bring the index up to date for changed, created or deleted paths. True if anything changed."""
        changed = False
        markers_changed = False
        # folder -> ignored (or inside an ignored folder), decided once per batch
        folders: dict[str, bool] = {}
        for path in paths:
            relative = relative_inside(self.root, path)
            if relative is None:
                continue
            name = relative.rsplit("/", 1)[-1]
            if name == ".gitignore" or marker_kind(
                name, relative.rsplit("/", 2)[-2] if "/" in relative else ""
            ):
                markers_changed = True
                continue
            if not name.endswith((".py", ".pyi", NOTEBOOK_SUFFIX)):
                if not path.exists() and any(k.startswith(relative + "/") for k in self.files):
                    # A folder was removed: drop what was under it.
                    with self._lock:
                        for key in [k for k in self.files if k.startswith(relative + "/")]:
                            self._drop(key)
                    changed = True
                elif path.is_dir() and (
                    ("" if relative == "." else relative) not in self._folder_set or path.is_symlink()
                ):
                    # A new folder (or one replaced by a symlink) may hold anything: walk again (cheap when
                    # warm). A folder already walked only had entries added or removed, and each of those
                    # comes as its own event (a branch switch "modifies" hundreds of folders: rescanning for
                    # each would cost a full walk).
                    markers_changed = True
                continue
            if any(is_skipped_dir_name(p) for p in relative.split("/")[:-1]) or self._ignored(
                relative, folders
            ):
                continue
            with self._lock:
                previous = self.files.get(relative)
            scanned = self._rescan_if_changed(relative, previous) if path.is_file() else None
            with self._lock:
                if scanned is None:
                    changed |= self._drop(relative)
                elif scanned != previous:
                    self._put(relative, scanned)
                    changed = True
        if markers_changed:
            self.rules = IgnoreRules.for_root(self.root, self.settings.exclude)
            self.scan()
            changed = True
        return changed

    def _put(self, relative: str, scanned: FileScan) -> None:
        """Record one file's scan (call with the lock held)."""
        if relative not in self.files:
            self._first = None
        self.files[relative] = scanned
        if scanned.imports:
            self._importing[relative] = self._derive(relative, scanned)
        else:
            self._importing.pop(relative, None)

    def _derive(self, relative: str, scanned: FileScan) -> _Derived:
        """What context() needs of one file: its MlFile (None if it imports no ML library), its frameworks,
        and its sync database objects (read only for the few files that import SQLAlchemy)."""
        ml = ml_imports(scanned.imports, self._ml_libraries)
        ml_file = (
            MlFile(
                path=relative,
                libraries=tuple(dict.fromkeys(m.library for m in ml)),
                imports=ml,
                notebook=relative.endswith(NOTEBOOK_SUFFIX),
            )
            if ml
            else None
        )
        frameworks = (BY_MODULE.get(r.top_level) for r in scanned.imports)
        keys = tuple(dict.fromkeys(f.key for f in frameworks if f is not None))
        engines: tuple[str, ...] = ()
        factories: tuple[str, ...] = ()
        if any(r.top_level in ("sqlalchemy", "sqlmodel") for r in scanned.imports):
            engines, factories = sync_database_objects(self.root / relative)
        return _Derived(ml_file, keys, engines, factories)

    def _drop(self, relative: str) -> bool:
        """Forget one file (call with the lock held). True if it was known."""
        self._importing.pop(relative, None)
        if self.files.pop(relative, None) is None:
            return False
        self._first = None
        return True

    def _ignored(self, relative: str, folders: dict[str, bool]) -> bool:
        """Like `rules.is_ignored_anywhere(relative)`, deciding each parent folder once per batch of changes."""
        folder = relative.rpartition("/")[0]
        ignored = folders.get(folder)
        if ignored is None:
            ignored = False
            if folder:
                self.rules.load_gitignore(folder)
                ignored = self.rules.is_ignored_anywhere(folder, is_dir=True) or is_virtualenv(
                    self.root / folder
                )
            folders[folder] = ignored
        return ignored or self.rules.is_ignored(relative)

    def update_source(self, relative: str, text: str, imports: Iterable[ImportRecord]) -> bool:
        """Record the imports of an open document (its unsaved text is what the user sees)."""
        with self._lock:
            previous = self.files.get(relative)
            records = tuple(r for r in imports if r.top_level in self._modules)
            if previous is not None and previous.imports == records:
                return False
            stamp = previous.stamp if previous is not None else (0, len(text))
            self._put(relative, FileScan(relative, stamp, records))
            return True

    def _reload_declared(self) -> None:
        declared: dict[str, list[str]] = {}
        pyproject: dict[str, object] = {}
        for marker in self.markers:
            path = self.root / marker.path
            names: list[str] = []
            if marker.kind == "pyproject.toml":
                data = load_pyproject(path)
                if marker.path == "pyproject.toml":
                    pyproject = data
                names = pyproject_dependencies(data)
            elif marker.kind == "requirements":
                names, _ = read_requirements(path)
            elif marker.kind == "Pipfile":
                names = pipfile_dependencies(path)
            elif marker.kind == "setup.cfg":
                names = setup_cfg_dependencies(path)
            if names:
                declared[marker.path] = names
        self._declared = declared
        self._pyproject = pyproject
        self._type_checking = type_check_configs(self.root, pyproject, self.folders)

    def context(self, git: GitState | None = None, config_file: str | None = None) -> WorkspaceContext:
        with self._lock:
            importing = sorted(self._importing.items())
            file_count = len(self.files)
            notebook_count = sum(1 for k in self.files if k.endswith(NOTEBOOK_SUFFIX))
            if self._first is None and self.files:
                self._first = min(self.files)
            first = self._first
            markers = list(self.markers)
            declared = dict(self._declared)
            pyproject = dict(self._pyproject)
            type_checking = self._type_checking
        ml_files: list[MlFile] = []
        engines: list[str] = []
        factories: list[str] = []
        evidence: dict[str, list[str]] = {}
        for source, names in declared.items():
            for name in names:
                framework = BY_DISTRIBUTION.get(name)
                if framework is None:
                    continue
                sources = evidence.setdefault(framework.key, [])
                # One file is one piece of evidence, however many of the framework's names it declares.
                if source not in sources:
                    sources.append(source)
        # Most files import nothing of interest: only the others can be ML files or framework evidence.
        for relative, (ml_file, framework_keys, file_engines, file_factories) in importing:
            if ml_file is not None:
                ml_files.append(ml_file)
            engines.extend(f"{relative}:{name}" for name in file_engines)
            factories.extend(f"{relative}:{name}" for name in file_factories)
            # A notebook's imports are evidence marked as such: exploring in pandas is not serving with it.
            kind = "notebook" if relative.endswith(NOTEBOOK_SUFFIX) else "import"
            for key in framework_keys:
                sources = evidence.setdefault(key, [])
                if len(sources) < 20 and f"{kind}:{relative}" not in sources:
                    sources.append(f"{kind}:{relative}")
        # Included requirements files are markers too: the user asked where each marker is.
        all_markers = list(markers)
        for marker in markers:
            if marker.kind == "requirements":
                _, included = read_requirements(self.root / marker.path)
                for inc in included:
                    rel = relative_posix(self.root, inc)
                    if not any(m.path == rel for m in all_markers):
                        all_markers.append(
                            Marker(kind="requirements", path=rel, detail=f"included by {marker.path}")
                        )
        if first is not None:
            all_markers.append(
                Marker(kind="python-files", path=first, detail=_count_files(file_count, notebook_count))
            )
        package_manager, pm_reason = detect_package_manager(all_markers, pyproject)
        python_project, reason = _python_project(all_markers, file_count, notebook_count)
        frameworks = tuple(key for key in BY_KEY if key in evidence)
        return WorkspaceContext(
            root=str(self.root),
            python_project=python_project,
            python_project_reason=reason,
            markers=tuple(all_markers),
            package_manager=package_manager,
            package_manager_reason=pm_reason,
            frameworks=frameworks,
            framework_evidence={k: tuple(v) for k, v in evidence.items()},
            ml_files=tuple(ml_files),
            python_file_count=file_count,
            sync_engines=tuple(engines),
            sync_session_factories=tuple(factories),
            config_file=config_file,
            git=git if git is not None else GitState(),
            type_checking=type_checking,
        )


def _count_files(python_files: int, notebooks: int) -> str:
    """ "12 .py files"; "10 .py files, 2 notebooks" when some of them are notebooks."""
    if not notebooks:
        return f"{python_files} .py file{'s' if python_files != 1 else ''}"
    modules = python_files - notebooks
    shown = f"{modules} .py file{'s' if modules != 1 else ''}, " if modules else ""
    return f"{shown}{notebooks} notebook{'s' if notebooks != 1 else ''}"


def _python_project(markers: list[Marker], python_files: int, notebooks: int = 0) -> tuple[bool, str]:
    for kind in (
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "Pipfile",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "requirements",
    ):
        for marker in markers:
            if marker.kind == kind:
                return True, f"{marker.path} found"
    for marker in markers:
        if marker.kind == "venv":
            return True, f"virtual environment {marker.path}/ found"
    if python_files:
        return True, f"{_count_files(python_files, notebooks)} found"
    return (
        False,
        "not a Python project: no pyproject.toml, setup.py, setup.cfg, requirements*.txt, Pipfile, "
        "lock file, virtual environment, .py file or notebook",
    )


def build_context(
    path: Path, settings: Settings | None = None, config_file: str | None = None, jobs: int | None = 1
) -> WorkspaceContext:
    """Scan the project containing `path` and describe it (the CLI's one-shot entry point). `jobs`: as
    `WorkspaceIndex.scan` takes it (the CLI passes None, one process per core; the agent's tool, in a
    thread, keeps the default)."""
    from pyengineer.config import find_config_file, load_settings

    root = find_root(path)
    if settings is None:
        settings = load_settings(root)
    if config_file is None:
        found = find_config_file(root)
        config_file = str(found) if found else None
    index = WorkspaceIndex(root, settings, cache_dir())
    index.scan(jobs=jobs)
    git = read_git_state(root, settings.protected_branches)
    return index.context(git=git, config_file=config_file)
