"""`pyengineer guard`: the Claude Code PreToolUse hook, run as Claude Code runs it (a process, JSON on stdin).

Payloads are shaped as the hooks reference documents them: session_id, transcript_path, cwd, permission_mode,
hook_event_name, tool_name, tool_input, tool_use_id; file paths in tool_input are absolute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyengineer.guard import HOOK_MATCHER, check_bash, install_claude, split_commands

from tests.repos import GitRepo, RepoFactory

PYENGINEER = str(Path(sys.executable).with_name("pyengineer"))


def payload(tool: str, tool_input: dict[str, Any], cwd: Path) -> dict[str, Any]:
    return {
        "session_id": "abc123",
        "transcript_path": str(cwd / ".claude" / "transcript.jsonl"),
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_use_id": "toolu_01ABC123",
    }


def hook(
    data: dict[str, Any] | bytes, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return subprocess.run(
        [PYENGINEER, "guard"],
        input=raw.decode(),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        env=env,
    )


def denied(result: subprocess.CompletedProcess[str]) -> str | None:
    """The deny reason, or None when the call is left to Claude Code's own permissions (no output, exit 0)."""
    assert result.returncode == 0, result.stderr
    if not result.stdout.strip():
        return None
    answer = json.loads(result.stdout)
    specific = answer["hookSpecificOutput"]
    assert specific["hookEventName"] == "PreToolUse"
    assert specific["permissionDecision"] == "deny"
    reason: str = specific["permissionDecisionReason"]
    return reason


@pytest.fixture
def on_main(git_repo: RepoFactory) -> GitRepo:
    repo = git_repo(files={"app/api.py": "def f():\n    return 1\n", ".gitignore": "scratch/\n"}, commit=True)
    return repo


def test_file_edits_on_a_protected_branch_are_denied_with_the_branch_and_a_suggestion(
    on_main: GitRepo,
) -> None:
    target = on_main.root / "app" / "api.py"
    for tool, tool_input in [
        ("Edit", {"file_path": str(target), "old_string": "1", "new_string": "2", "replace_all": False}),
        ("Write", {"file_path": str(on_main.root / "app" / "new.py"), "content": "x = 1\n"}),
        ("MultiEdit", {"file_path": str(target), "edits": [{"old_string": "1", "new_string": "2"}]}),
        (
            "NotebookEdit",
            {"notebook_path": str(on_main.root / "explore.ipynb"), "new_source": "x", "edit_mode": "replace"},
        ),
    ]:
        reason = denied(hook(payload(tool, tool_input, on_main.root)))
        assert reason is not None, tool
        assert "'main' is a protected branch" in reason
        assert "git switch -c feature/" in reason


def test_file_edits_are_allowed_on_a_feature_branch_outside_the_repo_and_in_ignored_files(
    on_main: GitRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.py"
    assert denied(hook(payload("Write", {"file_path": str(outside), "content": ""}, on_main.root))) is None
    scratch = on_main.root / "scratch" / "notes.md"
    assert denied(hook(payload("Write", {"file_path": str(scratch), "content": ""}, on_main.root))) is None
    on_main.git("switch", "-q", "-c", "feature/api")
    target = on_main.root / "app" / "api.py"
    assert denied(hook(payload("Edit", {"file_path": str(target)}, on_main.root))) is None


def test_relative_paths_resolve_against_the_hooks_cwd(on_main: GitRepo) -> None:
    assert denied(hook(payload("Write", {"file_path": "app/x.py", "content": ""}, on_main.root))) is not None


def test_a_linked_worktree_on_a_feature_branch_is_not_the_main_checkout(
    on_main: GitRepo, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    on_main.git("worktree", "add", "-q", "-b", "feature/wt", str(worktree))
    assert denied(hook(payload("Write", {"file_path": str(worktree / "a.py")}, worktree))) is None
    assert denied(hook(payload("Write", {"file_path": str(on_main.root / "a.py")}, worktree))) is not None


def test_configured_protected_branches_are_honoured(
    git_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENGINEER_CACHE_DIR", str(tmp_path / "cache"))  # the guard caches the settings
    repo = git_repo(
        files={"pyproject.toml": '[tool.pyengineer]\nprotected-branches = ["release/*"]\n'}, commit=True
    )
    target = str(repo.root / "a.py")
    assert denied(hook(payload("Write", {"file_path": target}, repo.root))) is None  # main is not listed
    repo.git("switch", "-q", "-c", "release/1.0")
    assert "'release/1.0'" in (denied(hook(payload("Write", {"file_path": target}, repo.root))) or "")


DENIED_ON_MAIN = [
    "git commit -m 'wip'",
    "git commit -am x",
    "git add . && git commit -m x",
    "cd app && git commit -m x",
    "git -c user.name=x commit -m y",
    "GIT_AUTHOR_NAME=x git commit -m y",
    "git push",
    "git push origin main",
    "git push origin HEAD:main",
    "git push origin feature/x:main",
    "git push -f origin +main",
    "git push origin HEAD:refs/heads/main",
    "git push --delete origin main",
    "git push origin :main",
    "git reset --hard HEAD~1",
    "git reset HEAD~2",
    "git reset --soft origin/main",
    "git rebase origin/main",
    "git rebase -i HEAD~3",
    "git merge feature/x",
    "git cherry-pick abc123",
    "echo done; git commit -m x",
    "true || git commit -m x",
    "bash -c 'git commit -m x'",
    "sudo git commit -m x",
    "git status\ngit commit -m x",
    "git branch -f main HEAD~1",
]

ALLOWED_ON_MAIN = [
    "git status",
    "git log --oneline -5",
    "git diff",
    "git fetch origin",
    "git pull --ff-only",
    "git switch -c feature/x && git commit -m x",
    "git checkout -b fix/y && git commit -am y && git push -u origin fix/y",
    "git push origin feature/x",
    "git push origin HEAD:feature/x",
    "git push --tags",
    "git reset",
    "git reset -- app/api.py",
    "git reset HEAD -- app/api.py",
    "git rebase --abort",
    "git merge --abort",
    "git commit --dry-run",
    "echo 'git commit -m x'",
    "grep -r 'git push' .",
    "pytest -q",
    "ls && cat README.md",
]


@pytest.mark.parametrize("command", DENIED_ON_MAIN)
def test_bash_commands_that_change_a_protected_branch_are_denied(on_main: GitRepo, command: str) -> None:
    on_main.git("branch", "feature/x")
    (on_main.root / "app").mkdir(exist_ok=True)
    decision = check_bash(command, on_main.root)
    assert decision.deny, command
    assert "protected branch" in decision.reason


@pytest.mark.parametrize("command", ALLOWED_ON_MAIN)
def test_bash_commands_that_leave_protected_branches_alone_are_allowed(
    on_main: GitRepo, command: str
) -> None:
    on_main.git("branch", "feature/x")
    decision = check_bash(command, on_main.root)
    assert not decision.deny, (command, decision.reason)


def test_git_dash_c_points_at_the_repository_named_not_the_cwd(on_main: GitRepo, tmp_path: Path) -> None:
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    assert check_bash(f"git -C {on_main.root} commit -m x", elsewhere).deny
    assert not check_bash("git commit -m x", elsewhere).deny  # not a repository at all
    on_main.git("switch", "-q", "-c", "feature/z")
    assert not check_bash(f"git -C {on_main.root} commit -m x", elsewhere).deny
    # On a feature branch, pushing to main is still a push to a protected branch.
    assert check_bash(f"git -C {on_main.root} push origin HEAD:main", elsewhere).deny


def test_bash_through_the_process_with_the_documented_payload(on_main: GitRepo) -> None:
    reason = denied(
        hook(payload("Bash", {"command": "git commit -m wip", "description": "Commit"}, on_main.root))
    )
    assert reason is not None and "do not commit to it" in reason
    assert denied(hook(payload("Bash", {"command": "git status"}, on_main.root))) is None
    assert (
        denied(hook(payload("Read", {"file_path": str(on_main.root / "app/api.py")}, on_main.root))) is None
    )


def test_the_shell_splitter_keeps_quoted_separators_inside_words() -> None:
    assert list(split_commands("git commit -m 'a && b'; git push")) == [
        ["git", "commit", "-m", "a && b"],
        ["git", "push"],
    ]


def test_malformed_input_is_an_error_on_stderr_and_not_a_block(tmp_path: Path) -> None:
    for raw in [
        b"not json",
        b"[]",
        json.dumps({"tool_name": 5}).encode(),
        b'{"tool_name": "Bash", "tool_input": 1}',
    ]:
        result = hook(raw, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith("pyengineer guard: ")


def install(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYENGINEER, "guard", "--install", "claude"], cwd=project, capture_output=True, text=True, timeout=60
    )


def test_install_merges_into_existing_settings_and_is_idempotent(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    settings = repo.root / ".claude" / "settings.json"
    existing = {
        "permissions": {"allow": ["Bash(pytest:*)"]},
        "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./audit.sh"}]}]
        },
    }
    settings.parent.mkdir()
    settings.write_text(json.dumps(existing))
    run = install(repo.root)
    assert run.returncode == 0, run.stderr
    merged = json.loads(settings.read_text())
    assert merged["permissions"] == existing["permissions"]
    assert merged["hooks"]["PreToolUse"][0] == existing["hooks"]["PreToolUse"][0]
    ours = merged["hooks"]["PreToolUse"][1]
    assert ours["matcher"] == HOOK_MATCHER
    assert ours["hooks"][0]["command"] == "pyengineer guard"
    before = settings.read_bytes()
    again = install(repo.root)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert settings.read_bytes() == before


def test_install_refuses_a_settings_file_it_cannot_merge(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    settings = repo.root / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"hooks": [1, 2]')
    before = settings.read_bytes()
    run = install(repo.root)
    assert run.returncode == 2
    assert str(settings) in run.stderr and "not valid JSON" in run.stderr
    assert settings.read_bytes() == before
    settings.write_text('{"hooks": [1, 2]}')
    with pytest.raises(ValueError, match="'hooks' must be an object"):
        install_claude(repo.root)


def test_install_creates_the_file_when_there_is_none(git_repo: RepoFactory) -> None:
    repo = git_repo(commit=True)
    path, changed = install_claude(repo.root)
    assert changed and path == repo.root / ".claude" / "settings.json"
    assert json.loads(path.read_text())["hooks"]["PreToolUse"][0]["matcher"] == HOOK_MATCHER


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_guard_runs_nothing_from_the_repository(on_main: GitRepo, tmp_path: Path) -> None:
    """A repository's core.fsmonitor names a program; the guard's git calls must not run it."""
    marker = tmp_path / "ran"
    script = tmp_path / "monitor.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(script, 0o755)
    on_main.git("config", "core.fsmonitor", str(script))
    denied(hook(payload("Write", {"file_path": str(on_main.root / "app/api.py")}, on_main.root)))
    assert check_bash("git commit -m x", on_main.root).deny
    assert not marker.exists()


# --- what the guard's answer costs (the bench times it; these check what it does to get there) -------------


def guard_imports(data: dict[str, Any], env: dict[str, str]) -> tuple[set[str], str]:
    """The modules the installed `pyengineer guard` script imported to answer `data`, and its answer."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", PYENGINEER, "guard"],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "pyengineer.guard" in modules  # the listing did see our own modules
    return modules, done.stdout


def among(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


# Each costs the guard more than the rest of its answer: GitPython and pydantic hundreds of ms, the engine and
# the settings more, `subprocess`, `dataclasses` (through `inspect`), `tomllib` and `typing` each 5-20 ms.
NEVER = (
    "git",
    "pydantic",
    "pydantic_core",
    "pyengineer.engine",
    "pyengineer.config",
    "pyengineer.workspace.scan",
)
NOT_TO_ALLOW = (*NEVER, "subprocess", "tomllib", "typing", "argparse", "pyengineer.git.naming")
NOT_TO_DENY = (*NEVER, "subprocess", "dataclasses", "tomllib", "typing", "argparse", "pyengineer.frameworks")


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYENGINEER_CACHE_DIR": str(tmp_path / "cache")}


def test_an_allowed_call_imports_no_git_library_no_settings_and_no_subprocess(
    on_main: GitRepo, cache_env: dict[str, str]
) -> None:
    bash = payload("Bash", {"command": "pytest -q"}, on_main.root)
    modules, answer = guard_imports(bash, cache_env)
    assert answer == ""
    assert among(modules, NOT_TO_ALLOW) == []
    on_main.git("switch", "-q", "-c", "feature/x")
    edit = payload("Edit", {"file_path": str(on_main.root / "app" / "api.py")}, on_main.root)
    modules, answer = guard_imports(edit, cache_env)
    assert answer == ""
    assert among(modules, NOT_TO_ALLOW) == []


def test_a_denial_imports_no_git_library_no_settings_and_no_subprocess(
    on_main: GitRepo, cache_env: dict[str, str]
) -> None:
    edit = payload("Edit", {"file_path": str(on_main.root / "app" / "api.py")}, on_main.root)
    modules, answer = guard_imports(edit, cache_env)
    assert "git switch -c feature/" in answer  # the suggestion still comes from git/naming
    assert among(modules, NOT_TO_DENY) == []
    commit = payload("Bash", {"command": "git commit -m wip"}, on_main.root)
    modules, answer = guard_imports(commit, cache_env)
    assert "do not commit to it" in answer
    assert among(modules, NOT_TO_DENY) == []


def test_a_pyproject_that_does_not_name_pyengineer_is_not_parsed(
    git_repo: RepoFactory, cache_env: dict[str, str]
) -> None:
    repo = git_repo(
        files={"pyproject.toml": '[project]\nname = "app"\n[tool.ruff]\nline-length = 100\n'}, commit=True
    )
    edit = payload("Edit", {"file_path": str(repo.root / "app.py")}, repo.root)
    modules, answer = guard_imports(edit, cache_env)
    assert "'main' is a protected branch" in answer
    assert among(modules, NOT_TO_DENY) == []


def test_configured_settings_are_validated_once_per_change_of_the_config(
    git_repo: RepoFactory, cache_env: dict[str, str]
) -> None:
    repo = git_repo(
        files={
            "pyproject.toml": '[project]\nname = "app"\n[tool.pyengineer]\nprotected-branches = ["release/*"]\n'
        },
        commit=True,
    )
    edit = payload("Edit", {"file_path": str(repo.root / "app.py")}, repo.root)
    modules, answer = guard_imports(edit, cache_env)
    assert answer == ""  # main is not listed
    assert "pyengineer.config" in modules  # the first call validates the settings...
    modules, answer = guard_imports(edit, cache_env)
    assert answer == ""
    assert among(modules, ("pydantic", "pyengineer.config")) == []  # ...the next reads what they gave
    # A change of the config is honoured at once, and its errors are reported as before, every time.
    repo.write("pyproject.toml", '[tool.pyengineer]\nprotected-branches = ["main"]\n')
    assert "'main' is a protected branch" in (denied(hook(edit, env=cache_env)) or "")
    repo.write("pyproject.toml", '[tool.pyengineer]\nprotected-branches = "main"\nno-such-key = 1\n')
    for _ in range(2):
        broken = hook(edit, env=cache_env)
        assert broken.returncode == 1 and broken.stdout == ""
        assert "pyproject.toml" in broken.stderr
    repo.write("pyproject.toml", '[tool.pyengineer]\nprotected-branches = ["release/*"]\n')
    assert denied(hook(edit, env=cache_env)) is None
    # A pyengineer.toml beside it wins, as it does for every command.
    repo.write("pyengineer.toml", 'protected-branches = ["main"]\n')
    assert "'main' is a protected branch" in (denied(hook(edit, env=cache_env)) or "")


def test_a_broken_pyproject_that_never_names_pyengineer_does_not_turn_the_guard_off(
    git_repo: RepoFactory, cache_env: dict[str, str]
) -> None:
    """It cannot configure pyengineer, so the defaults hold (the guard used to fail on it, allowing everything)."""
    repo = git_repo(files={"pyproject.toml": "[project\nname = \n"}, commit=True)
    edit = payload("Edit", {"file_path": str(repo.root / "app.py")}, repo.root)
    assert "'main' is a protected branch" in (denied(hook(edit, env=cache_env)) or "")
    repo.write("pyproject.toml", "[tool.pyengineer\n")  # one that may hold our table is still an error
    assert hook(edit, env=cache_env).returncode == 1


def test_a_fifo_head_does_not_hang_the_guard(on_main: GitRepo, cache_env: dict[str, str]) -> None:
    """A cloned repository's HEAD can be anything: a FIFO blocked every open (and the editor's event loop)."""
    head = on_main.root / ".git" / "HEAD"
    head.unlink()
    os.mkfifo(head)
    edit = payload("Edit", {"file_path": str(on_main.root / "app" / "api.py")}, on_main.root)
    assert denied(hook(edit, env=cache_env)) is None  # no branch can be read, so none is protected


def test_a_git_call_that_blocks_is_killed_and_reported(on_main: GitRepo, cache_env: dict[str, str]) -> None:
    """git opens every .gitignore on the way to a file: a FIFO one blocks `check-ignore` for ever."""
    (on_main.root / "blocked").mkdir()
    os.mkfifo(on_main.root / "blocked" / ".gitignore")
    edit = payload("Edit", {"file_path": str(on_main.root / "blocked" / "x.py")}, on_main.root)
    result = hook(edit, env=cache_env)
    assert result.returncode == 1 and result.stdout == ""
    assert "did not finish" in result.stderr
    assert "git check-ignore" in result.stderr
