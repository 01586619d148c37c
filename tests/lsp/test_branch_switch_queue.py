"""A branch switch is republished at once, even while an earlier batch of file changes is still being applied."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pyengineer.git.state import read_git_state
from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceFacts
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.watcher import ChangeBatch

from tests.lsp.conftest import git, make_repo


async def test_a_branch_switch_does_not_wait_for_the_batch_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "repo")
    git(root, "branch", "feature/x")
    ls = PyengineerServer()
    state = ls.session.add_workspace(root)
    git_state = read_git_state(root, state.settings.protected_branches)
    context = WorkspaceContext(
        root=str(root), python_project=True, python_project_reason="test", git=git_state
    )
    state.swap(replace(state.facts, git=git_state, context=context))
    assert state.git.branch == "main" and state.git.protected

    gate = threading.Event()
    refreshing = threading.Event()
    republished: list[str | None] = []

    def slow_compute(state: Any, before: WorkspaceFacts, *args: Any) -> WorkspaceFacts:
        # The index update of a checkout that rewrote a thousand files, in the worker pool.
        refreshing.set()
        gate.wait(10)
        git_state = read_git_state(root, before.settings.protected_branches)
        assert before.context is not None
        return replace(before, git=git_state, context=before.context.model_copy(update={"git": git_state}))

    monkeypatch.setattr(workspaces, "compute", slow_compute)
    monkeypatch.setattr(workspaces, "send_status", lambda ls, state: None)
    monkeypatch.setattr(
        publishing, "republish", lambda ls, root=None, resend=True: republished.append(state.git.branch)
    )
    try:
        first = asyncio.ensure_future(
            workspaces.handle_batch(ls, state, ChangeBatch(paths={root / "app.py"}, git_changed=False))
        )
        await asyncio.get_running_loop().run_in_executor(None, refreshing.wait, 10)
        git(root, "checkout", "-q", "feature/x")  # HEAD moves while the first batch is still being applied
        await workspaces.handle_batch(
            ls, state, ChangeBatch(paths={root / ".git" / "HEAD"}, git_changed=True)
        )
        assert republished == ["feature/x"], "the branch switch waited for the batch before it"
        assert not state.git.protected
        gate.set()
        await asyncio.wait_for(first, 10)
        assert state.git.branch == "feature/x"
    finally:
        gate.set()
        ls.executor.shutdown(wait=True)
