"""`pyengineer mcp` driven by the `mcp` SDK's own client: the server runs as a subprocess over stdio, on a real
temporary git repository (protected and feature branches, dirty files, an ML file, a failing test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.repos import GitRepo, RepoFactory

PYENGINEER = str(Path(sys.executable).with_name("pyengineer"))

pytestmark = pytest.mark.timeout(300)

TOOLS = {
    "project_context",
    "branch_status",
    "create_feature_branch",
    "move_commits_off_protected_branch",
    "check",
    "explain_rule",
    "run_tests",
    "write_handoff",
}


def project(git_repo: RepoFactory, tmp_path: Path) -> GitRepo:
    remote = git_repo(
        "remote",
        files={
            "pyproject.toml": '[project]\nname = "shop"\ndependencies = ["fastapi", "torch"]\n',
            "app/__init__.py": "",
            "app/api.py": "def total(items):\n    return sum(items)\n",
            "app/model.py": "import torch\n\n\nclass Net(torch.nn.Module):\n    pass\n",
            "tests/test_api.py": "from app.api import total\n\n\ndef test_total():\n    assert total([1, 2]) == 4\n",
        },
        commit=True,
    )
    clone = tmp_path / "shop"
    subprocess.run(["git", "clone", "-q", str(remote.root), str(clone)], check=True)
    repo = GitRepo(clone)
    repo.write("app/api.py", "def total(items):\n    return sum(items)  # edited\n")  # dirty
    repo.write("notes.md", "untracked\n")
    return repo


def server(cwd: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=PYENGINEER, args=["mcp", *extra], cwd=str(cwd))


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: types.CallToolResult) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_every_tool_on_a_real_repository(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = project(git_repo, tmp_path)
    dirty_bytes = (repo.root / "app/api.py").read_bytes()
    async with Client(server(repo.root, "--trust")) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        for tool in listed.tools:
            assert tool.description and len(tool.description) > 40, tool.name
            assert tool.output_schema is not None, tool.name

        context = structured(await client.call_tool("project_context", {}))
        assert context["root"] == str(repo.root.resolve())
        assert "app/model.py" in [f["path"] for f in context["ml_files"]]
        assert next(iter(context)) == "summary" and context["summary"]["branch"] == "main"

        status = structured(await client.call_tool("branch_status", {"files": ["app/api.py"]}))
        assert status["branch"] == "main" and status["protected"] is True
        assert status["dirty"] == 1 and status["untracked"] == 1
        assert status["upstream"] == "origin/main" and status["ahead"] == 0
        assert status["suggested_branches"][0].startswith("feature/")
        assert "create_feature_branch" in status["advice"]

        checked = structured(await client.call_tool("check", {"paths": ["app"]}))
        codes = {f["code"] for f in checked["findings"]}
        assert {"PE101", "PE201"} <= codes
        assert checked["files_checked"] == 3

        rule = structured(await client.call_tool("explain_rule", {"code": "pe201"}))
        assert rule["code"] == "PE201" and rule["documentation"].startswith("## PE201")
        assert "unknown rule" in error_text(await client.call_tool("explain_rule", {"code": "PE999"}))

        handoff = structured(await client.call_tool("write_handoff", {"file": "app/model.py"}))
        assert Path(handoff["path"]).is_file()
        assert handoff["path"].startswith(str(repo.root.resolve() / "docs" / "handoffs"))
        assert "Net" in handoff["text"]

        for attempt in (1, 2, 3):
            tests = structured(await client.call_tool("run_tests", {"target": "tests/test_api.py"}))
            assert not tests["ok"] and tests["failed"] == 1
            failure = tests["failures"][0]
            assert failure["test_id"].endswith("test_total") and failure["test_line"] == 5
            assert failure["attempts"] == attempt
            assert failure["needs_senior_review"] is (attempt == 3)
        assert [e["code"] for e in tests["escalations"]] == ["PE902"]
        assert "needs senior review" in tests["escalations"][0]["message"]
        assert tests["ran"] and tests["no_tests_reason"] is None
        untested = structured(await client.call_tool("run_tests", {"target": "app/model.py"}))
        assert not untested["ran"] and untested["summary"].startswith("no tests ran: no tests found for app/")

        created = structured(await client.call_tool("create_feature_branch", {}))
        assert created["previous"] == "main" and created["branch"].startswith("feature/")
        assert created["carried_changes"] >= 2
        assert repo.branch() == created["branch"]
        assert (repo.root / "app/api.py").read_bytes() == dirty_bytes

        after = structured(await client.call_tool("branch_status", {}))
        assert after["protected"] is False and "fine" in after["advice"]


async def test_bad_arguments_are_tool_errors_naming_the_field_and_nothing_acts(
    git_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = project(git_repo, tmp_path)
    before = repo.state()
    async with Client(server(repo.root)) as client:
        for arguments in ({"name": 5}, {"name": ["feature/x"]}, {"name": {"a": 1}}):
            assert "name" in error_text(await client.call_tool("create_feature_branch", arguments))
        assert "files" in error_text(await client.call_tool("branch_status", {"files": "app/api.py"}))
        outside = error_text(await client.call_tool("check", {"paths": ["/etc"]}))
        assert "outside the workspace" in outside
        escaped = error_text(await client.call_tool("write_handoff", {"file": "../remote/app/model.py"}))
        assert "outside the workspace" in escaped
        refused = error_text(await client.call_tool("create_feature_branch", {"name": "bad..name"}))
        assert "not a valid branch name" in refused
        untrusted = error_text(await client.call_tool("run_tests", {}))
        assert "not trusted" in untrusted and "--trust" in untrusted
    assert repo.state() == before


async def test_moving_commits_off_main(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = project(git_repo, tmp_path)
    repo.commit("work on main")
    tip = repo.head()
    async with Client(server(repo.root)) as client:
        status = structured(await client.call_tool("branch_status", {}))
        assert status["ahead"] == 1 and "move_commits_off_protected_branch" in status["advice"]
        moved = structured(
            await client.call_tool("move_commits_off_protected_branch", {"name": "feature/work"})
        )
        assert moved["branch"] == "feature/work" and moved["old_tip"] == tip
        again = error_text(await client.call_tool("move_commits_off_protected_branch", {"name": "feature/y"}))
        assert "not a protected branch" in again
    assert repo.branch() == "feature/work"
    assert repo.git("rev-parse", "main").strip() == repo.git("rev-parse", "origin/main").strip()


async def test_roots_come_from_the_client_when_it_offers_them(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = project(git_repo, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def roots(_context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=repo.root.resolve().as_uri(), name="shop")])

    async with Client(server(elsewhere), list_roots_callback=roots, mode="legacy") as client:
        status = structured(await client.call_tool("branch_status", {}))
        assert status["repository"] == str(repo.root.resolve())
    async with Client(server(elsewhere)) as client:
        status = structured(await client.call_tool("branch_status", {}))
        assert status["repository"] is None  # no roots offered: the folder it was started in, not a repo


async def test_resources_serve_the_rules_and_the_context(git_repo: RepoFactory, tmp_path: Path) -> None:
    repo = project(git_repo, tmp_path)
    async with Client(server(repo.root)) as client:
        listed = await client.list_resources()
        assert {"pyengineer://rules", "pyengineer://context"} <= {str(r.uri) for r in listed.resources}
        rules = await client.read_resource("pyengineer://rules/PE101")
        text = rules.contents[0]
        assert isinstance(text, types.TextResourceContents) and text.text.startswith("## PE101")


def test_http_refuses_a_non_loopback_address_without_allow_remote(tmp_path: Path) -> None:
    run = subprocess.run(
        [PYENGINEER, "mcp", "--http", "8765", "--host", "0.0.0.0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "--allow-remote" in run.stderr


async def test_streamable_http_on_loopback(git_repo: RepoFactory, tmp_path: Path) -> None:
    import socket
    import time

    repo = project(git_repo, tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [PYENGINEER, "mcp", "--http", str(port)],
        cwd=repo.root,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            status = structured(await client.call_tool("branch_status", {}))
            assert status["branch"] == "main"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_check_locates_a_notebook_finding_by_cell(git_repo: RepoFactory, tmp_path: Path) -> None:
    """A coding agent that checks a notebook gets the cell and the in-cell position, as `check --format json`."""
    repo = project(git_repo, tmp_path)
    notebook = (Path(__file__).parent / "cli" / "notebooks" / "explore.ipynb").read_text(encoding="utf-8")
    repo.write("explore.ipynb", notebook)
    async with Client(server(repo.root)) as client:
        checked = structured(
            await client.call_tool("check", {"paths": ["explore.ipynb"], "select": ["PE301", "PE701"]})
        )
    located = {(f["code"], f["cell"], f["start"]["line"]) for f in checked["findings"]}
    # explore.ipynb: PE301 on the 2nd line of cell 5, PE701 on the 1st line of cell 6 (tests/cli).
    assert located == {("PE301", 5, 2), ("PE701", 6, 1)}, checked["findings"]
