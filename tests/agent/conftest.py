"""Fixtures for the agent: the fake Messages API, a clean SDK environment, a small project in a real git repo."""

from __future__ import annotations

import pytest
from pyengineer.config import LlmSettings, Settings

from tests.agent.fake_api import FakeMessagesAPI
from tests.repos import GitRepo, RepoFactory

TEST_KEY = "sk-ant-api03-test-key-for-the-fake-server-only-0000000000"

APP_PY = '''\
"""The orders API."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/orders/{order_id}")
def get_order(order_id):
    return {"id": order_id}
'''


@pytest.fixture(autouse=True)
def _sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real credentials, gateway or profile from the developer's machine can reach a test."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CONFIG_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def settings_for(api: FakeMessagesAPI, **llm: object) -> Settings:
    """Settings whose llm.base_url points at the fake server; `llm` overrides other limits."""
    return Settings(llm=LlmSettings.model_validate({"base_url": api.base_url, "timeout": 20.0, **llm}))


@pytest.fixture
def project(git_repo: RepoFactory) -> GitRepo:
    """A small FastAPI project, committed, with a .gitignore'd folder and a .env beside it."""
    repo = git_repo(
        "shop",
        files={
            "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1.0"\ndependencies = ["fastapi"]\n',
            "app/__init__.py": "",
            "app/main.py": APP_PY,
            ".gitignore": "local/\n*.log\n",
        },
        commit=True,
    )
    repo.write("local/notes.py", "PRIVATE = 'do not send'\n")
    repo.write("debug.log", "log line\n")
    repo.write(".env", "API_TOKEN=not-for-the-model\n")
    return repo
