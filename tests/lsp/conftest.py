"""End-to-end helpers: the real `pyengineer serve` over stdio, driven by pytest-lsp's real LSP client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from tests.agent.fake_api import FakeMessagesAPI

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A real git repo on `branch` with one commit of `files` (default: a small package)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"app.py": "print('hello')\n", "requirements.txt": "fastapi\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def as_dict(value: Any) -> Any:
    """pygls hands custom notification params over as namedtuples; tests want plain JSON values."""
    if hasattr(value, "_asdict"):
        return {k: as_dict(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    return value


@asynccontextmanager
async def lsp_session(
    folders: list[Path],
    client: str = "visual-studio-code",
    init_options: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    capabilities: types.ClientCapabilities | None = None,
    env: dict[str, str] | None = None,
    setup: Callable[[LanguageClient], None] | None = None,
    root_uri: str | None = None,
    launcher: list[str] | None = None,
) -> AsyncIterator[LanguageClient]:
    """`root_uri` is sent as rootUri (default: the first folder's); `launcher` prefixes the server's command
    (e.g. a user namespace with lower inotify limits); it must exec the server, so its pid is the server's."""
    lsp = make_test_lsp_client()
    if setup is not None:
        setup(lsp)
    lsp.statuses = []  # type: ignore[attr-defined]

    @lsp.feature("pyengineer/status")
    def on_status(params: Any) -> None:
        lsp.statuses.append(as_dict(params))  # type: ignore[attr-defined]

    if configuration is not None:
        lsp.set_configuration(configuration, section="pyengineer")
    server_env = {**os.environ, **GIT_ENV, **(env or {})}
    server_env.pop("ANTHROPIC_API_KEY", None)
    args = ["--log-file", os.environ["PYENGINEER_TEST_LOG"]] if os.environ.get("PYENGINEER_TEST_LOG") else []
    command = [*(launcher or []), sys.executable, "-m", "pyengineer", "serve", *args]
    await lsp.start_io(command[0], *command[1:], env=server_env)
    caps = capabilities or client_capabilities(client)
    result = await lsp.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            process_id=os.getpid(),
            workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders],
            root_uri=root_uri if root_uri is not None else folders[0].as_uri() if folders else None,
            initialization_options=init_options or {},
        )
    )
    lsp.server_capabilities = result.capabilities  # type: ignore[attr-defined]
    try:
        yield lsp
    finally:
        try:
            await asyncio.wait_for(lsp.shutdown_session(), 10)
        finally:
            await lsp.stop()


def open_doc(lsp: LanguageClient, path: Path, version: int = 1) -> str:
    uri = path.as_uri()
    lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=path.read_text(encoding="utf-8")
            )
        )
    )
    return uri


def codes(lsp: LanguageClient, uri: str) -> set[str]:
    return {str(d.code) for d in lsp.diagnostics.get(uri, [])}


@pytest.fixture
def ml_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repo on main with an uncommitted edit to model.py that imports torch."""
    repo = make_repo(tmp_path / "repo", {"model.py": "x = 1\n", "requirements.txt": "torch\n"})
    model = repo / "model.py"
    model.write_text("import torch\n\n\ndef predict(x):\n    return torch.tensor(x)\n", encoding="utf-8")
    return repo, model


async def current_codes(lsp: LanguageClient, uri: str) -> set[str]:
    """The diagnostic codes for `uri`: pulled when the server offers pull diagnostics, else the pushed ones."""
    caps = lsp.server_capabilities  # type: ignore[attr-defined]
    if caps is not None and caps.diagnostic_provider is not None:
        report = await lsp.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        return {str(d.code) for d in getattr(report, "items", [])}
    return codes(lsp, uri)


async def wait_for_codes(
    lsp: LanguageClient, uri: str, check: Callable[[set[str]], bool], timeout: float = 10.0
) -> set[str]:
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        seen = await current_codes(lsp, uri)
        if check(seen):
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"diagnostics for {uri} never satisfied the check; last seen {sorted(seen)}")


def agent_env(api: FakeMessagesAPI) -> dict[str, str]:
    """The server's environment for talking to `api` instead of Anthropic's API."""
    return {"ANTHROPIC_BASE_URL": api.base_url, "NO_PROXY": "127.0.0.1,localhost"}


async def code_actions_on(
    lsp: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[types.CodeAction | types.Command]:
    """The code actions the client gets with the cursor on `diagnostic` (its range, and it as the context)."""
    actions = await lsp.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    return list(actions or [])
