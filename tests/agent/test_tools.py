"""The agent's tools on real files and real git repos: confinement, redaction, limits, edit validation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pyengineer.agent.tools import (
    MAX_LIST_ENTRIES,
    AgentTools,
    ToolOutcome,
    Workspace,
    tool_definitions,
)

from tests.agent.conftest import APP_PY
from tests.agent.secret_corpus import AWS_KEY_ID, CORPUS, GITHUB_PAT, corpus_file
from tests.repos import GitRepo


def tools_for(root: Path, **workspace: Any) -> AgentTools:
    return AgentTools(Workspace(root, **workspace), lambda: {"project_folder": root.name})


def ok(outcome: ToolOutcome) -> str:
    assert not outcome.is_error, outcome.content
    return outcome.content


def refused(outcome: ToolOutcome) -> str:
    assert outcome.is_error, f"expected a refusal, got: {outcome.content[:200]}"
    return outcome.content


# -- definitions ------------------------------------------------------------------------------------------


def test_tool_definitions_are_self_contained_json_schemas() -> None:
    definitions = {d["name"]: d for d in tool_definitions()}
    assert set(definitions) == {
        "read_file",
        "list_files",
        "search",
        "git_diff",
        "project_context",
        "propose_edits",
    }
    for definition in definitions.values():
        assert definition["input_schema"]["type"] == "object"
        assert "$ref" not in str(definition["input_schema"])
        assert definition["description"]
    edits = definitions["propose_edits"]["input_schema"]["properties"]["edits"]["items"]
    assert edits["required"] == ["path", "old_text", "new_text"]
    assert edits["properties"]["start_line"]["anyOf"][0]["minimum"] == 1
    assert definitions["read_file"]["input_schema"]["required"] == ["path"]


# -- confinement ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../../etc/passwd", "leaves the workspace"),
        ("app/../../outside.py", "leaves the workspace"),
        ("/etc/passwd", "absolute"),
        ("C:\\Windows\\win.ini", "absolute"),
        (".env", "secrets"),
        ("config/.env.production", "secrets"),
        ("deploy/server.pem", "secrets"),
        ("keys/id_ed25519", "secrets"),
        (".git/config", "version-control"),
        ("local/notes.py", "gitignored"),
        ("debug.log", "gitignored"),
        ("", "empty"),
    ],
)
def test_read_file_refuses_paths_outside_what_the_model_may_see(
    project: GitRepo, path: str, reason: str
) -> None:
    for name in ("config/.env.production", "deploy/server.pem", "keys/id_ed25519"):
        project.write(name, "SECRET=1\n")
    message = refused(tools_for(project.root).run("read_file", {"path": path}))
    assert reason in message
    assert "do not send" not in message and "SECRET=1" not in message


def test_symlinks_out_of_the_root_and_onto_secret_files_are_refused(project: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("TOP_SECRET = 'outside'\n")
    os.symlink(outside / "secret.py", project.root / "app" / "linked.py")
    os.symlink(outside, project.root / "linked_dir")
    os.symlink(project.root / ".env", project.root / "app" / "settings_link.py")
    tools = tools_for(project.root)
    assert "outside the workspace" in refused(tools.run("read_file", {"path": "app/linked.py"}))
    assert "outside the workspace" in refused(tools.run("read_file", {"path": "linked_dir/secret.py"}))
    assert "secrets" in refused(tools.run("read_file", {"path": "app/settings_link.py"}))
    listing = ok(tools.run("list_files", {"glob": "**"}))
    assert "linked" not in listing
    assert ok(tools.run("search", {"regex": "not-for-the-model"})).startswith("no matches")


def test_the_request_file_is_readable_even_when_gitignored_but_never_a_secret_file(project: GitRepo) -> None:
    workspace = Workspace(project.root, allowed=frozenset({"local/notes.py", ".env"}))
    tools = AgentTools(workspace, dict)
    assert "do not send" in ok(tools.run("read_file", {"path": "local/notes.py"}))
    assert "secrets" in refused(tools.run("read_file", {"path": ".env"}))


# -- read_file --------------------------------------------------------------------------------------------


def test_read_file_numbers_lines_and_slices(project: GitRepo) -> None:
    tools = tools_for(project.root)
    whole = ok(tools.run("read_file", {"path": "app/main.py"}))
    assert whole.startswith("app/main.py (lines 1-10 of 10)")
    assert " 9| def get_order(order_id):" in whole
    part = ok(tools.run("read_file", {"path": "app/main.py", "start_line": 8, "end_line": 9}))
    assert part.splitlines()[1:] == ['8| @app.get("/orders/{order_id}")', "9| def get_order(order_id):"]
    assert "1 more lines after" in part
    assert "past the end" in refused(tools.run("read_file", {"path": "app/main.py", "start_line": 50}))


def test_read_file_refuses_binary_missing_and_huge_files(project: GitRepo) -> None:
    project.write("data/blob.bin", b"\x00\x01\x02binary")
    project.write("data/big.txt", "x" * 2_100_000)
    tools = tools_for(project.root)
    assert "binary" in refused(tools.run("read_file", {"path": "data/blob.bin"}))
    assert "too large" in refused(tools.run("read_file", {"path": "data/big.txt"}))
    assert "does not exist" in refused(tools.run("read_file", {"path": "app/missing.py"}))


def test_read_file_redacts_and_keeps_line_numbers(project: GitRepo) -> None:
    text = corpus_file()
    project.write("app/settings.py", text)
    tools = tools_for(project.root)
    result = ok(tools.run("read_file", {"path": "app/settings.py"}))
    for secret in CORPUS:
        for needle in secret.needles:
            assert needle not in result
    last_line = len(text.rstrip("\n").split("\n"))
    assert f"{last_line}|     pass" in result
    assert tools.redactions.count == len(CORPUS)


def test_editor_buffers_win_over_disk(project: GitRepo) -> None:
    workspace = Workspace(project.root, overlays={"app/main.py": "UNSAVED = 1\n"})
    assert "UNSAVED = 1" in ok(AgentTools(workspace, dict).run("read_file", {"path": "app/main.py"}))


# -- list_files and search --------------------------------------------------------------------------------


def test_list_files_hides_ignored_and_secret_files(project: GitRepo) -> None:
    project.write(".venv/lib/site.py", "x = 1\n")
    project.write("node_modules/pkg/index.js", "x\n")
    listing = ok(tools_for(project.root).run("list_files", {"glob": "**"})).splitlines()
    assert listing == [".gitignore", "app/__init__.py", "app/main.py", "pyproject.toml"]
    assert ok(tools_for(project.root).run("list_files", {"glob": "*.py"})).splitlines() == [
        "app/__init__.py",
        "app/main.py",
    ]
    assert "no files match" in ok(tools_for(project.root).run("list_files", {"glob": "*.rs"}))


def test_list_files_is_capped(project: GitRepo) -> None:
    for i in range(MAX_LIST_ENTRIES + 20):
        project.write(f"gen/m{i:04d}.py", "")
    listing = ok(tools_for(project.root).run("list_files", {"glob": "gen/*"}))
    assert "20 more; narrow the glob" in listing


def test_search_finds_lines_and_never_confirms_a_secret(project: GitRepo) -> None:
    project.write("app/keys.py", f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\nTOKEN = "{GITHUB_PAT}"\n')
    tools = tools_for(project.root)
    hits = ok(tools.run("search", {"regex": r"def \w+\(", "glob": "*.py"}))
    assert hits == "app/main.py:9: def get_order(order_id):"
    # Searching for the secret itself finds nothing: matching runs on the redacted text.
    assert "no matches" in ok(tools.run("search", {"regex": AWS_KEY_ID}))
    shown = ok(tools.run("search", {"regex": "AWS_ACCESS_KEY_ID"}))
    assert AWS_KEY_ID not in shown and "[REDACTED:aws-access-key-id]" in shown
    assert "not-for-the-model" not in ok(tools.run("search", {"regex": "API_TOKEN|not-for"}))
    assert "invalid regex" in refused(tools.run("search", {"regex": "(unclosed"}))


# -- git_diff ---------------------------------------------------------------------------------------------


def test_git_diff_shows_changes_redacted_and_hides_secret_and_ignored_files(project: GitRepo) -> None:
    project.write("config/.env.local", "X=1\n")
    project.write("app/.gitignore", "")
    project.git("add", "-f", "config/.env.local")
    project.commit("track an env file by mistake", "config/.env.local", "app/.gitignore")
    project.write("config/.env.local", f"GITHUB_TOKEN={GITHUB_PAT}\n")
    project.write("app/main.py", APP_PY + f'\nSTRIPE = "{CORPUS[15].value}"\n')
    project.write("app/new.py", "untracked = True\n")
    diff = ok(tools_for(project.root).run("git_diff", {}))
    assert "+++ b/app/main.py" in diff
    assert CORPUS[15].value not in diff and "[REDACTED:stripe-key]" in diff
    assert ".env.local" not in diff and GITHUB_PAT not in diff
    assert "1 changed file(s) not shown" in diff
    only = ok(tools_for(project.root).run("git_diff", {"path": "app/main.py"}))
    assert "+++ b/app/main.py" in only
    assert "secrets" in refused(tools_for(project.root).run("git_diff", {"path": ".env"}))


def test_git_diff_in_an_unborn_repo_and_outside_git(git_repo: Any, tmp_path: Path) -> None:
    repo = git_repo("unborn")
    repo.write("main.py", "print('hi')\n")
    repo.git("add", "main.py")
    assert "+print('hi')" in ok(tools_for(repo.root).run("git_diff", {}))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a git repository" in refused(tools_for(plain).run("git_diff", {}))


# -- invalid input ----------------------------------------------------------------------------------------


def test_invalid_input_is_a_tool_error_not_an_exception(project: GitRepo) -> None:
    tools = tools_for(project.root)
    assert "invalid input" in refused(tools.run("read_file", {"path": 5}))
    assert "extra" in refused(tools.run("read_file", {"path": "app/main.py", "mode": "rw"})).lower()
    assert "start_line" in refused(tools.run("read_file", {"path": "app/main.py", "start_line": 0}))
    assert "unknown tool" in refused(tools.run("delete_file", {"path": "app/main.py"}))
    assert "invalid input" in refused(tools.run("search", "not an object"))


def test_progress_labels_name_the_file(project: GitRepo) -> None:
    tools = tools_for(project.root)
    assert tools.describe("read_file", {"path": "app/main.py"}) == "reading app/main.py"
    assert tools.describe("git_diff", {}) == "reading the git diff"
    assert tools.describe("search", {"regex": "def"}) == "searching for 'def'"
