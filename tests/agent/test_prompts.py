"""The prompts render: persona, workspace block and request, with what each must say."""

from __future__ import annotations

import json
from pathlib import Path

from pyengineer.agent.project_facts import project_facts
from pyengineer.agent.prompts import (
    EXCERPT_RADIUS,
    excerpt,
    render_context_block,
    render_request,
    render_system_prompt,
    render_workspace_now,
)
from pyengineer.config import Settings
from pyengineer.findings import Finding, Range, Severity
from pyengineer.workspace.context import build_context

from tests.repos import GitRepo, RepoFactory


def test_the_persona_covers_the_engineer_the_hand_off_and_the_branch() -> None:
    prompt = render_system_prompt()
    for topic in (
        "FastAPI",
        "Django",
        "Flask",
        "pandas",
        "SQLAlchemy",
        "asyncpg",
        "Poetry",
        "pydantic",
        "pytest",
    ):
        assert topic in prompt
    assert "ai-engineer" in prompt and "hand-off" in prompt
    assert "feature branch" in prompt
    assert "propose_edits" in prompt and "[REDACTED:kind]" in prompt


def test_the_context_block_renders_a_real_workspace(git_repo: RepoFactory) -> None:
    repo: GitRepo = git_repo(
        "svc",
        files={
            "pyproject.toml": '[project]\nname = "svc"\nversion = "0"\ndependencies = ["django", "torch"]\n',
            "svc/model.py": "import torch\n",
        },
        commit=True,
    )
    context = build_context(repo.root, Settings()).model_dump(mode="json")
    block = render_context_block(context, project_facts(repo.root))
    facts = json.loads(block.split("<workspace_context>")[1].split("</workspace_context>")[0])
    assert facts["project_folder"] == "svc" and facts["git_repository"] is True
    assert "django" in facts["frameworks"]
    assert facts["requires_python"] is None and facts["locked_versions"] == {}
    # What changes between asks is not in the cached block but in the user's turn.
    assert "ml_files" not in facts and "git" not in facts and "python_file_count" not in facts
    now_block = render_workspace_now(context)
    now = json.loads(now_block.split("<workspace_now>")[1].split("</workspace_now>")[0])
    assert now["ml_files"] == [{"path": "svc/model.py", "libraries": ["torch"]}]
    assert now["git"]["branch"] == "main" and now["git"]["protected_branch"] is True
    assert "protected branch 'main'" in now_block and "hand-off" in now_block
    assert str(Path(repo.root).parent) not in block + now_block


def test_the_context_block_is_stable_for_caching() -> None:
    context = {"root": "/home/u/p", "frameworks": ["flask"], "git": {"branch": "feat/x", "is_repo": True}}
    assert render_context_block(context) == render_context_block(dict(reversed(list(context.items()))))
    assert "protected" not in render_context_block(context).split("</workspace_context>")[1]
    # Volatile facts do not reach the cached block at all.
    changed = {**context, "python_file_count": 99, "git": {"branch": "main", "is_repo": True, "untracked": 3}}
    assert render_context_block(changed) == render_context_block(context)


def test_the_request_names_the_place_the_diagnostics_and_shows_an_excerpt() -> None:
    text = "".join(f"line_{n} = {n}\n" for n in range(1, 201))
    finding = Finding(
        code="PE301",
        message="bare except",
        path="/p/app.py",
        range=Range.of(99, 0),
        severity=Severity.WARNING,
        detail="Catch what the `try` body raises,\nand log the rest.",
    )
    rendered = render_request(
        "  Fix this  ", path="app.py", range_=Range.of(99, 4, 100, 2), file_text=text, findings=(finding,)
    )
    assert rendered.startswith("<request>\nFix this\n</request>")
    assert "The user is in app.py lines 100:5 to 101:3." in rendered
    assert (
        "- PE301 (warning) line 100: bare except\n  Catch what the `try` body raises, and log the rest."
        in rendered
    )
    assert "100| line_100 = 100" in rendered
    assert f"{100 - EXCERPT_RADIUS}| " in rendered and "line_30 = 30\n" not in rendered


def test_a_small_file_is_shown_whole() -> None:
    assert excerpt("a = 1\nb = 2\n", Range.of(1, 0)) == "1| a = 1\n2| b = 2"
