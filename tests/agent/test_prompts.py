"""The prompts render: persona, workspace block and request, with what each must say."""

from __future__ import annotations

import json
from pathlib import Path

from pyengineer.agent.prompts import (
    EXCERPT_RADIUS,
    excerpt,
    render_context_block,
    render_request,
    render_system_prompt,
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
    block = render_context_block(context)
    facts = json.loads(block.split("<workspace_context>")[1].split("</workspace_context>")[0])
    assert facts["project_folder"] == "svc"
    assert "django" in facts["frameworks"]
    assert facts["ml_files"] == [{"path": "svc/model.py", "libraries": ["torch"]}]
    assert facts["git"]["branch"] == "main" and facts["git"]["protected_branch"] is True
    assert "protected branch 'main'" in block and "hand-off" in block
    assert str(Path(repo.root).parent) not in block


def test_the_context_block_is_stable_for_caching() -> None:
    context = {"root": "/home/u/p", "frameworks": ["flask"], "git": {"branch": "feat/x", "is_repo": True}}
    assert render_context_block(context) == render_context_block(dict(reversed(list(context.items()))))
    assert "protected" not in render_context_block(context).split("</workspace_context>")[1]


def test_the_request_names_the_place_the_diagnostics_and_shows_an_excerpt() -> None:
    text = "".join(f"line_{n} = {n}\n" for n in range(1, 201))
    finding = Finding(
        code="PE301",
        message="bare except",
        path="/p/app.py",
        range=Range.of(99, 0),
        severity=Severity.WARNING,
    )
    rendered = render_request(
        "  Fix this  ", path="app.py", range_=Range.of(99, 4, 100, 2), file_text=text, findings=(finding,)
    )
    assert rendered.startswith("<request>\nFix this\n</request>")
    assert "The user is in app.py lines 100:5 to 101:3." in rendered
    assert "- PE301 (warning) line 100: bare except" in rendered
    assert "100| line_100 = 100" in rendered
    assert f"{100 - EXCERPT_RADIUS}| " in rendered and "line_30 = 30\n" not in rendered


def test_a_small_file_is_shown_whole() -> None:
    assert excerpt("a = 1\nb = 2\n", Range.of(1, 0)) == "1| a = 1\n2| b = 2"
