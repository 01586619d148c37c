"""The Session owns what the server knows; handlers read immutable snapshots of it.

Mutations happen on the server's event loop; slow work (scans, git, config reads) runs in worker threads
and returns new immutable values that the loop swaps in, so a snapshot is never half-updated.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    import asyncio

    from pyengineer.config import Settings
    from pyengineer.engine.incremental import DocumentAnalyzer
    from pyengineer.errors import ConfigError
    from pyengineer.findings import Finding
    from pyengineer.git.state import GitState
    from pyengineer.workspace.context import WorkspaceContext, WorkspaceIndex

# The models (pydantic) are imported where they are first needed, not here: the server constructs its
# Session before it answers `initialize`, and importing them costs more than the rest of that answer.

log = logging.getLogger(__name__)

# Every text a document takes gets the next revision. The editor's version cannot tell texts apart: a
# client may send the same version twice with new text (or restart its count on reopen), and findings
# cached or computed for the old text were published for the new one.
_revisions = itertools.count(1)


def uri_to_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def path_to_uri(path: Path | str) -> str:
    return Path(path).absolute().as_uri()


# The last analysis of each open document is kept (up to this many characters), so the next version is
# analysed incrementally when the edit allows (engine/incremental.py) and a republish after a branch switch
# or a settings change re-runs only the rules, not the parser.
MAX_KEPT_PARSE_CHARS = 500_000


@dataclass(eq=False)
class DocumentState:
    """Everything the server holds for one open document, and its only owner.

    Opening creates it, changes go through it, and closing drops it from `Session.documents`: nothing else
    keeps a document's text, parse, findings or diagnostics, so closing frees all of it. (These used to be
    spread over the server's attributes and three module globals, and a closed document's analysis queued in
    the pool re-created its analyzer, which then held its parse until the server exited.)
    Written on the event loop only; worker threads get a `DocumentSnapshot`.
    """

    uri: str
    path: Path
    text: str
    version: int | None
    edited: bool = False  # the user typed in it since it was opened
    revision: int = field(default_factory=lambda: next(_revisions))  # this text, among all texts
    # The document's incremental analyzer (its last parse), created by the first snapshot; a snapshot
    # carries it to the worker thread, so an analysis that outlives the document does not re-create it.
    analyzer: DocumentAnalyzer | None = None
    # (revision, generation, findings) of the last analysis published or pulled: code actions and pulls of
    # the same text in the same workspace state reuse it. The generation is the server's
    # (ServerState.generation), bumped whenever workspace state changes.
    findings: tuple[int, int, list[Finding]] | None = None
    # (revision, generation, future) of the analysis running in the worker pool: requests for the same text
    # (code actions, pulls) wait for it rather than start another.
    running: tuple[int, int, asyncio.Future[list[Finding]]] | None = None
    # The diagnostics as last written (lsp/wire.DocumentDiagnostics, kept per finding for the next publish);
    # opaque here so that session/ stays free of the LSP layer.
    wire: Any = None
    published: tuple[int | None, list[Finding]] | None = None  # (version, findings) last pushed
    told_too_large: bool = False  # the user was told this document is too large to analyse
    # The publish in progress (lsp/publishing.schedule); `analysing`: it is past its debounce wait, so a
    # change need not restart it (it analyses the newest text before it publishes).
    publish_task: asyncio.Task[None] | None = None
    analysing: bool = False
    # Shows the findings in place of a textDocument/publishDiagnostics for `uri` (a notebook's go to its
    # cells), push and pull alike: called on the loop with (server, snapshot, findings) of the current text.
    publisher: Callable[[Any, DocumentSnapshot, list[Finding]], None] | None = None

    def replace_text(self, text: str, version: int | None) -> None:
        self.text = text
        self.version = version
        self.revision = next(_revisions)
        self.edited = True

    def current_analyzer(self, relative: str) -> DocumentAnalyzer:
        if self.analyzer is None:
            from pyengineer.engine.incremental import DocumentAnalyzer

            self.analyzer = DocumentAnalyzer(str(self.path), relative, MAX_KEPT_PARSE_CHARS)
        return self.analyzer


Document = DocumentState  # the name the handlers have used


def _default_settings() -> Settings:
    from pyengineer.config import Settings

    return Settings()


def _default_git() -> GitState:
    from pyengineer.git.state import GitState

    return GitState()


@dataclass(frozen=True)
class WorkspaceFacts:
    """What is known about one workspace root, as one frozen value.

    Computed in a worker thread (lsp/workspaces.compute) and swapped in whole, on the event loop, by
    `WorkspaceState.swap`: a reader sees the settings, the index, the git state and the context of one
    moment, never some of one reload and some of the next. (The index object itself is updated in place by
    that worker; it is thread-safe, and only one reload of a workspace runs at a time.)
    """

    settings: Settings = field(default_factory=_default_settings)  # the last good ones
    config_error: ConfigError | None = None
    config_file: Path | None = None
    index: WorkspaceIndex | None = None
    git: GitState = field(default_factory=_default_git)
    context: WorkspaceContext | None = None
    scanned: bool = False


@dataclass
class WorkspaceState:
    """One workspace root and its current facts (read them through the properties; write only by `swap`)."""

    root: Path
    uri: str
    # A stray file's folder (no project found near it, see markers.find_project_root): its files are analysed
    # one by one; the folder is never scanned nor watched, and git is not asked about it.
    single_file: bool = False
    facts: WorkspaceFacts = field(default_factory=WorkspaceFacts)

    def swap(self, facts: WorkspaceFacts) -> None:
        """Make `facts` current. On the event loop only: it is the one writer of a workspace's state."""
        self.facts = facts

    @property
    def settings(self) -> Settings:
        return self.facts.settings

    @property
    def config_error(self) -> ConfigError | None:
        return self.facts.config_error

    @property
    def config_file(self) -> Path | None:
        return self.facts.config_file

    @property
    def index(self) -> WorkspaceIndex | None:
        return self.facts.index

    @property
    def git(self) -> GitState:
        return self.facts.git

    @property
    def context(self) -> WorkspaceContext | None:
        return self.facts.context

    @property
    def scanned(self) -> bool:
        return self.facts.scanned

    def current_context(self) -> WorkspaceContext:
        if self.context is not None:
            return self.context
        from pyengineer.workspace.context import WorkspaceContext

        return WorkspaceContext(
            root=str(self.root), python_project=False, python_project_reason="not scanned yet"
        )


@dataclass(frozen=True)
class DocumentSnapshot:
    """Everything needed to analyze one document, frozen at one version."""

    uri: str
    path: str
    relative: str
    text: str
    version: int | None
    changed: bool  # git says the file is modified or untracked
    settings: Settings
    context: WorkspaceContext
    root: Path
    revision: int = 0  # Document.revision: which text this is (the version alone does not say)
    # The document's analyzer (None: analyse from scratch, for a document that is not open).
    analyzer: DocumentAnalyzer | None = None
    # Typed in since it was opened: then the file is being changed only while the text is not HEAD's
    # (publishing.being_changed compares, off the loop), so an edit undone is no change.
    edited: bool = False


class Session:
    def __init__(self) -> None:
        self.workspaces: dict[Path, WorkspaceState] = {}
        self.documents: dict[str, DocumentState] = {}
        self.editor_settings: dict[str, Any] = {}
        self.folder_settings: dict[Path, dict[str, Any]] = {}
        self.api_key: str | None = None
        self.trusted: bool = False

    # --- workspaces ---------------------------------------------------------------------------------------

    def add_workspace(self, root: Path, single_file: bool = False) -> WorkspaceState:
        root = root.resolve()
        state = self.workspaces.get(root)
        if state is None:
            state = self.workspaces[root] = WorkspaceState(
                root=root, uri=path_to_uri(root), single_file=single_file
            )
        return state

    def remove_workspace(self, root: Path) -> WorkspaceState | None:
        return self.workspaces.pop(root.resolve(), None)

    def workspace_for(self, path: Path) -> WorkspaceState:
        """The innermost workspace containing `path`; a file outside all of them gets the project found near
        it, or, a stray file, a single-file state for its folder (holding only the files directly in it)."""
        best: WorkspaceState | None = None
        for root, state in self.workspaces.items():
            if path == root or (path.parent == root if state.single_file else root in path.parents):
                if best is None or len(str(root)) > len(str(best.root)):
                    best = state
        if best is not None:
            return best
        from pyengineer.workspace.markers import find_project_root

        project = find_project_root(path)
        if project is not None:
            return self.add_workspace(project)
        return self.add_workspace(path.parent, single_file=True)

    def settings_overrides(self, root: Path) -> dict[str, Any]:
        merged = dict(self.editor_settings)
        merged.update(self.folder_settings.get(root, {}))
        return merged

    def load_settings(self, state: WorkspaceState) -> tuple[Settings, ConfigError | None, Path | None]:
        """Settings for a workspace (slow: reads files; a worker thread). On a broken config the last good
        settings stay."""
        from pyengineer.config import find_config_file, load_settings
        from pyengineer.errors import ConfigError

        config_file = find_config_file(state.root)
        try:
            return load_settings(state.root, self.settings_overrides(state.root)), None, config_file
        except ConfigError as exc:
            log.warning("configuration error, keeping the last good settings: %s", exc)
            return state.settings, exc, config_file

    # --- documents ----------------------------------------------------------------------------------------

    def open_document(self, uri: str, text: str, version: int | None) -> DocumentState | None:
        """A new state for `uri` (replacing any earlier one: a second didOpen starts afresh)."""
        path = uri_to_path(uri)
        if path is None:
            return None
        doc = self.documents[uri] = DocumentState(uri, path.absolute(), text, version)
        return doc

    def change_document(self, uri: str, text: str, version: int | None) -> DocumentState | None:
        doc = self.documents.get(uri)
        if doc is None:
            return self.open_document(uri, text, version)
        doc.replace_text(text, version)
        return doc

    def close_document(self, uri: str) -> DocumentState | None:
        """Forget `uri`: the returned state is the last reference the server held to any of it."""
        return self.documents.pop(uri, None)

    def snapshot(self, uri: str) -> DocumentSnapshot | None:
        doc = self.documents.get(uri)
        if doc is None:
            return None
        from pyengineer.workspace.ignore import relative_posix

        state = self.workspace_for(doc.path)
        context = state.current_context()
        relative = relative_posix(state.root, doc.path)
        return DocumentSnapshot(
            uri=uri,
            path=str(doc.path),
            relative=relative,
            analyzer=doc.current_analyzer(relative),
            text=doc.text,
            version=doc.version,
            revision=doc.revision,
            changed=self._git_changed(state.git, doc.path),
            edited=doc.edited,
            settings=state.settings,
            context=context,
            root=state.root,
        )

    @staticmethod
    def _git_changed(git: GitState, path: Path) -> bool:
        if not git.toplevel:
            return False
        try:
            relative = os.path.relpath(path, git.toplevel).replace(os.sep, "/")
        except ValueError:
            return False
        return relative in git.changed_files

    def documents_in(self, state: WorkspaceState) -> list[DocumentState]:
        return [d for d in self.documents.values() if self.workspace_for(d.path) is state]
