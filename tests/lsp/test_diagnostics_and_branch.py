"""Diagnostics appear on a protected branch, vanish after the create-branch action, and return on checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.conftest import code_actions_on, git, lsp_session, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(90)


async def test_pull_client_create_branch_action_and_terminal_checkout(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    before = model.read_bytes()
    # A client that pulls diagnostics (with refresh support) and resolves both edit and command lazily.
    caps = client_capabilities("neovim@v0.11.0")
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    async with lsp_session([repo], capabilities=caps) as lsp:
        assert lsp.server_capabilities.diagnostic_provider is not None
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)
        report = await lsp.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        pe101 = next(d for d in report.items if d.code == "PE101")
        assert pe101.source == "pyengineer"
        assert pe101.code_description is not None and "pe101" in pe101.code_description.href
        assert pe101.data and pe101.data["code"] == "PE101"

        actions = await code_actions_on(lsp, uri, pe101)
        assert actions
        titles = [a.title for a in actions]
        assert "Hand off to ai-engineer" in titles
        create = next(
            a for a in actions if isinstance(a, types.CodeAction) and a.title.startswith("Create branch")
        )
        assert create.title == "Create branch 'feature/model' (keeps your changes)"
        assert create.command is None  # filled in only when picked
        resolved = await lsp.code_action_resolve_async(create)
        assert resolved.command is not None and resolved.command.command == "pyengineer.createBranch"
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=resolved.command.command, arguments=resolved.command.arguments)
        )
        assert result["branch"] == "feature/model" and result["previous"] == "main"
        assert result["status"] == "ok" and "feature/model" in result["message"]
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature/model"
        assert model.read_bytes() == before
        assert git(repo, "status", "--porcelain").strip() == "M model.py"
        await wait_for(lambda: lsp.diagnostic_refresh_count > 0)
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c and "PE201" in c)
        # One voice: the client shows the result's message; the server sends no showMessage of its own.
        assert lsp.messages == []

        # A checkout in a terminal: the watcher notices and asks the client to pull again.
        refreshes = lsp.diagnostic_refresh_count
        git(repo, "checkout", "-q", "main")
        await wait_for(lambda: lsp.diagnostic_refresh_count > refreshes, timeout=10)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        await wait_for(lambda: any(s.get("branch") == "main" for s in lsp.statuses))  # type: ignore[attr-defined]


async def test_push_client_branch_command_and_checkout(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    before = model.read_bytes()
    # Neovim 0.11 can pull but cannot be told to pull again (no refreshSupport): everything is pushed.
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        assert lsp.server_capabilities.diagnostic_provider is None
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: {"PE101", "PE201"} <= c)
        status = await wait_for(lambda: [s for s in lsp.statuses if s.get("branch") == "main"])  # type: ignore[attr-defined]
        assert status[-1]["protected"] is True and status[-1]["mlFileCount"] == 1

        suggested = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.suggestBranchNames", arguments=[{"uri": uri}])
        )
        assert suggested["names"][0] == "feature/model" and suggested["protected"] is True
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.createBranch", arguments=[{"uri": uri}])
        )
        assert result["branch"] == "feature/model"
        assert model.read_bytes() == before
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c and "PE201" in c)

        git(repo, "checkout", "-q", "main")
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)


async def test_refused_branch_leaves_repo_untouched(ml_repo: tuple[Path, Path]) -> None:
    repo, model = ml_repo
    git(repo, "branch", "feature/model")
    before_head = git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    before = model.read_bytes()
    async with lsp_session([repo], client="neovim@v0.7.0") as lsp:
        uri = open_doc(lsp, model)
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        # An expected refusal is a typed result, not a JSON-RPC error, and is said once (by the client).
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="pyengineer.createBranch", arguments=[{"uri": uri, "name": "feature/model"}]
            )
        )
        assert result["status"] == "refused" and "already exists" in result["message"], result
        assert lsp.messages == []
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == before_head
    assert model.read_bytes() == before


async def test_pe101_offers_moving_unpushed_commits_and_the_command_moves_them(tmp_path: Path) -> None:
    """A protected branch ahead of its upstream: PE101's second fix moves the commits to a feature branch,
    keeping the uncommitted edit, and PE101 goes away."""
    from tests.lsp.conftest import make_repo

    remote = make_repo(tmp_path / "remote", {"app.py": "x = 1\n"})
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(repo))
    (repo / "app.py").write_text("x = 2\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "work on main")
    tip = git(repo, "rev-parse", "HEAD").strip()
    (repo / "app.py").write_text("x = 3\n", encoding="utf-8")  # and an uncommitted edit on top
    before = (repo / "app.py").read_bytes()
    async with lsp_session([repo], client="neovim@v0.11.0") as lsp:
        uri = open_doc(lsp, repo / "app.py")
        await wait_for_codes(lsp, uri, lambda c: "PE101" in c)
        pe101 = next(d for d in lsp.diagnostics[uri] if d.code == "PE101")
        actions = await code_actions_on(lsp, uri, pe101)
        move = next(
            a for a in actions or [] if isinstance(a, types.CodeAction) and a.title.startswith("Move")
        )
        assert move.title == "Move 1 commit off 'main' to 'feature/app' (keeps your changes)"
        if move.command is None:
            move = await lsp.code_action_resolve_async(move)
        assert move.command is not None and move.command.command == "pyengineer.moveCommits"
        result = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=move.command.command, arguments=move.command.arguments)
        )
        assert result["branch"] == "feature/app" and result["oldTip"] == tip and result["status"] == "ok"
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature/app"
        assert git(repo, "rev-parse", "main").strip() == git(repo, "rev-parse", "origin/main").strip()
        assert (repo / "app.py").read_bytes() == before
        await wait_for_codes(lsp, uri, lambda c: "PE101" not in c)
        assert "Moved 1 commit off 'main'" in result["message"] and lsp.messages == []
        again = await lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="pyengineer.moveCommits", arguments=[{"uri": uri}])
        )
        assert again["status"] == "refused" and "not a protected branch" in again["message"], again
