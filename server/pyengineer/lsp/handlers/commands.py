"""workspace/executeCommand: create a branch, hand off ML work, show context, rescan, suggest branch names.

Each answers a typed result (lsp/results.py) that the client shows once; none sends window/showMessage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from pyengineer.errors import GitSafetyError
from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.params import CreateBranchArgs, Target, command_argument
from pyengineer.lsp.results import BranchResult, HandoffResult, MoveCommitsResult, wire
from pyengineer.lsp.server import PyengineerServer
from pyengineer.names import (  # the command IDs, declared once
    CREATE_BRANCH,
    HANDOFF,
    MOVE_COMMITS,
    RESCAN,
    SHOW_CONTEXT,
    SUGGEST_BRANCH_NAMES,
)
from pyengineer.session import WorkspaceState
from pyengineer.session.session import path_to_uri, uri_to_path
from pyengineer.workspace import safe_io

log = logging.getLogger(__name__)


def target_path(ls: PyengineerServer, arg: Target) -> Path | None:
    """The file (or folder) a command is about: `path`, or `uri`, or the only open document."""
    if arg.path is not None:
        return Path(arg.path)
    if arg.uri is not None:
        path = uri_to_path(arg.uri)
        if path is None:
            raise JsonRpcInvalidParams(f"uri: not a file URI: {arg.uri!r}")
        return path
    if len(ls.session.documents) == 1:
        return next(iter(ls.session.documents.values())).path
    return None


def workspace_of(ls: PyengineerServer, path: Path | None) -> WorkspaceState:
    if path is not None:
        return ls.session.workspace_for(path)
    if ls.session.workspaces:
        return next(iter(ls.session.workspaces.values()))
    raise JsonRpcInvalidParams("no workspace is open; pass a 'uri'")


async def _ready(ls: PyengineerServer, state: WorkspaceState) -> None:
    await workspaces.ensure_loaded(ls, state)
    await workspaces.ready_event(ls, state).wait()


def suggestions(ls: PyengineerServer, state: WorkspaceState, path: Path | None) -> list[str]:
    from pyengineer.git.naming import suggest_branch_names
    from pyengineer.workspace.imports import scan_imports

    relative = None
    imported: set[str] = set()
    if path is not None and path.suffix in (".py", ".pyi"):
        relative = path.relative_to(state.root).as_posix() if state.root in path.parents else path.name
        doc = ls.session.documents.get(path_to_uri(path))
        try:
            text = doc.text if doc is not None else safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES)
        except OSError:
            text = ""  # missing, not a regular file or too large (warned): suggest from the name alone
        imported = {r.top_level for r in scan_imports(text)}
    return suggest_branch_names(relative, imported, state.git.branches)


def register(server: PyengineerServer) -> None:
    @server.command(SUGGEST_BRANCH_NAMES)
    async def suggest_branch_names(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        path = target_path(ls, command_argument(Target, SUGGEST_BRANCH_NAMES, args))
        state = workspace_of(ls, path)
        await _ready(ls, state)
        names = await ls.run_sync(suggestions, ls, state, path)
        return {"names": names, "current": state.git.branch, "protected": state.git.protected}

    @server.command(CREATE_BRANCH)
    async def create_branch(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        from pyengineer.git.branching import create_branch as do_create

        arg = command_argument(CreateBranchArgs, CREATE_BRANCH, args)
        path = target_path(ls, arg)
        state = workspace_of(ls, path)
        await _ready(ls, state)
        name = arg.name
        if name is None:
            names = await ls.run_sync(suggestions, ls, state, path)
            if not names:
                raise JsonRpcInvalidParams("name: none given and none could be suggested")
            name = names[0]
        try:
            previous = await ls.run_sync(do_create, state.root, name)
        except GitSafetyError as exc:
            # An expected refusal (the name exists, a rebase is in progress...): the answer says why.
            return wire(BranchResult(status="refused", message=f"Could not create branch '{name}': {exc}"))
        await workspaces.refresh_git(ls, state)
        return wire(
            BranchResult(
                status="ok",
                message=f"Switched to the new branch '{name}' (from '{previous}'); your uncommitted changes "
                "came along.",
                branch=name,
                previous=previous,
            )
        )

    @server.command(MOVE_COMMITS)
    async def move_commits(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        """The protected branch's unpushed commits onto a new feature branch (git/rescue.py): PE101's second
        fix when the branch is ahead of its upstream, and the VS Code command."""
        from pyengineer.git.rescue import move_commits_off_protected_branch

        arg = command_argument(CreateBranchArgs, MOVE_COMMITS, args)
        path = target_path(ls, arg)
        state = workspace_of(ls, path)
        await _ready(ls, state)
        try:
            moved = await ls.run_sync(
                move_commits_off_protected_branch, state.root, arg.name, state.settings.protected_branches
            )
        except GitSafetyError as exc:
            return wire(MoveCommitsResult(status="refused", message=f"Could not move the commits: {exc}"))
        count = len(moved.commits)
        await workspaces.refresh_git(ls, state)
        message = (
            f"Moved {count} commit{'s' if count != 1 else ''} off '{moved.protected_branch}' to the new branch "
            f"'{moved.branch}'; '{moved.protected_branch}' is back at {moved.upstream}, and your uncommitted "
            "changes are as they were."
        )
        return wire(MoveCommitsResult(status="ok", message=message, **moved.model_dump()))

    @server.command(HANDOFF)
    async def handoff(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        from pyengineer.actions.handoff import write_handoff
        from pyengineer.engine.source import ParsedSource

        path = target_path(ls, command_argument(Target, HANDOFF, args))
        if path is None or not (path.is_file() or path_to_uri(path) in ls.session.documents):
            raise JsonRpcInvalidParams("pass the 'uri' of the Python file to hand off")
        state = workspace_of(ls, path)
        await _ready(ls, state)
        doc = ls.session.documents.get(path_to_uri(path))
        try:
            text = doc.text if doc is not None else safe_io.read_text(path, safe_io.MAX_SOURCE_BYTES)
        except OSError as exc:
            raise JsonRpcInvalidParams(f"cannot read {path}: {exc}") from None
        source = ParsedSource(str(path), text, path.relative_to(state.root).as_posix())
        summary = None
        for drafter in ls.handoff_drafters:
            summary = await drafter(ls, state, source)
            if summary:
                break
        try:
            written = await ls.run_sync(
                write_handoff,
                source,
                state.current_context(),
                set(state.settings.all_ml_libraries),
                state.settings.handoff_dir,
                summary,
            )
        except (OSError, ValueError) as exc:
            return wire(
                HandoffResult(status="failed", message=f"Could not write the hand-off document: {exc}")
            )
        # PE201 links to the document now: the kept analysis (same text, same context) predates it.
        handed = ls.session.documents.get(path_to_uri(path))
        if handed is not None:
            handed.analyzer = None
        publishing.republish(ls, state.root)
        relative = written.relative_to(state.root).as_posix()
        shown = False
        if ls.client.show_document:
            answer = await ls.window_show_document_async(
                types.ShowDocumentParams(uri=path_to_uri(written), take_focus=True)
            )
            shown = bool(answer.success)
        return wire(
            HandoffResult(
                status="ok",
                message=f"Hand-off document written to {relative}.",
                path=str(written),
                relative=relative,
                shown=shown,
            )
        )

    @server.command(SHOW_CONTEXT)
    async def show_context(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        state = workspace_of(ls, target_path(ls, command_argument(Target, SHOW_CONTEXT, args)))
        await _ready(ls, state)
        context: dict[str, Any] = state.current_context().model_dump(mode="json")
        return context

    @server.command(RESCAN)
    async def rescan(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        arg = command_argument(Target, RESCAN, args)
        path = target_path(ls, arg) if arg.uri is not None or arg.path is not None else None
        states = [workspace_of(ls, path)] if path is not None else list(ls.session.workspaces.values())
        for state in states:
            await _ready(ls, state)
            await workspaces.reload(ls, state, rescan=True)
        return {"workspaces": [str(s.root) for s in states]}
