"""Hostile repositories (issue 12, items 1 and 2), end to end: the real server over stdio and the real CLI.

A repository somebody else prepared may hold committed symlinks (to `~/.bashrc`, `/dev/zero`, `/dev/stdin`),
and a working tree may hold a FIFO or a sparse 2 GiB `.py`. Nothing is written outside the workspace, nothing
is read without bound, nothing wedges the server. Every process that could, on broken code, read without end is
started with an address-space limit so that a failure is a failed assertion, not a machine out of memory; every
wait has a timeout so that a hang is a failure, not a hung suite. The unit cases are tests/workspace/test_safe_io.py.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import GIT_ENV, git, lsp_session, make_repo, open_doc, wait_for

pytestmark = pytest.mark.timeout(180)

BASHRC = "# the user's shell start-up file\nexport PATH=$HOME/bin:$PATH\n"
MODEL = "import torch\n\n\ndef predict(x):\n    return torch.tensor(x)\n"
# Enough for the server or the CLI (a few hundred MB of address space), far below what reading /dev/zero or
# a 2 GiB file takes.
ADDRESS_SPACE = 1536 << 20


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME for the server with a ~/.bashrc an attacker would like replaced."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".bashrc").write_text(BASHRC)
    return folder


def committed_repo(path: Path, links: dict[str, str]) -> Path:
    """A repo with app.py (importing torch) and `links` (name -> target) committed as symlinks."""
    repo = make_repo(path, {"app.py": MODEL, "requirements.txt": "torch\n"})
    for name, target in links.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, repo / name)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    return repo


async def handoff(lsp: Any, uri: str) -> Any:
    return await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="pyengineer.handoff", arguments=[{"uri": uri}])
    )


# --- 1. writes never follow a link out --------------------------------------------------------------------


async def test_the_handoff_never_writes_through_a_committed_tmp_link(tmp_path: Path, home: Path) -> None:
    """The attack from the issue: `docs/handoffs/app.md.tmp -> ~/.bashrc` is committed; one click on "hand
    off" used to write the document into ~/.bashrc. The document is written; ~/.bashrc is untouched."""
    repo = committed_repo(tmp_path / "repo", {"docs/handoffs/app.md.tmp": str(home / ".bashrc")})
    async with lsp_session([repo], env={"HOME": str(home), "PYENGINEER_CACHE_DIR": "off"}) as lsp:
        uri = open_doc(lsp, repo / "app.py")
        result = await handoff(lsp, uri)
    document = repo / "docs" / "handoffs" / "app.md"
    assert Path(result["path"]) == document and "`torch`" in document.read_text()
    assert (home / ".bashrc").read_text() == BASHRC
    assert os.readlink(repo / "docs" / "handoffs" / "app.md.tmp") == str(home / ".bashrc")
    assert sorted(os.listdir(home)) == [".bashrc"]


async def test_the_handoff_refuses_a_document_that_is_a_link(tmp_path: Path, home: Path) -> None:
    """`docs/handoffs/app.md -> ~/.bashrc`: refused with a message naming the path (it used to be read as the
    previous document, its text kept, and the link replaced)."""
    repo = committed_repo(tmp_path / "repo", {"docs/handoffs/app.md": str(home / ".bashrc")})
    async with lsp_session([repo], env={"HOME": str(home), "PYENGINEER_CACHE_DIR": "off"}) as lsp:
        uri = open_doc(lsp, repo / "app.py")
        result = await handoff(lsp, uri)
    assert result["status"] == "failed", result
    assert (
        "Could not write the hand-off" in result["message"]
        and "app.md: is a symbolic link" in result["message"]
    )
    assert lsp.messages == []  # said once: by the client, from the result
    assert (home / ".bashrc").read_text() == BASHRC
    assert os.path.islink(repo / "docs" / "handoffs" / "app.md")


async def test_the_handoff_refuses_a_folder_linked_outside(tmp_path: Path, home: Path) -> None:
    """`docs -> ~`: the hand-off folder resolves outside the workspace; nothing is written there."""
    repo = committed_repo(tmp_path / "repo", {"docs": str(home)})
    async with lsp_session([repo], env={"HOME": str(home), "PYENGINEER_CACHE_DIR": "off"}) as lsp:
        uri = open_doc(lsp, repo / "app.py")
        result = await handoff(lsp, uri)
    assert result["status"] == "failed" and "outside the workspace" in result["message"], result
    assert sorted(os.listdir(home)) == [".bashrc"] and (home / ".bashrc").read_text() == BASHRC


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run(
        [sys.executable, "-m", "pyengineer", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


BLOCKING = "import time\n\n\nasync def wait():\n    time.sleep(1)\n"


def test_check_fix_never_writes_through_a_committed_link(tmp_path: Path) -> None:
    """`src/app.py -> ../../elsewhere/victim.py` is committed; a pre-commit hook runs `pyengineer check --fix`
    on the changed files, naming the link. The victim outside is untouched, the link is named on stderr, and
    the repository's own files are still fixed."""
    victim = tmp_path / "elsewhere" / "victim.py"
    victim.parent.mkdir()
    victim.write_text(BLOCKING)
    repo = committed_repo(tmp_path / "repo", {"src/app.py": "../../elsewhere/victim.py"})
    (repo / "src" / "own.py").write_text(BLOCKING)
    named = run_cli(
        "check", "--fix", "--allow-protected-branch", "--select", "PE3", "src/app.py", "src/own.py", cwd=repo
    )
    assert victim.read_text() == BLOCKING, named.stderr
    assert "src/app.py: is a symbolic link; its fixes are not applied" in named.stderr
    assert "asyncio.sleep" in (repo / "src" / "own.py").read_text()
    folder = run_cli("check", "--fix", "--allow-protected-branch", "--select", "PE3", ".", cwd=repo)
    assert victim.read_text() == BLOCKING, folder.stderr
    assert os.path.islink(repo / "src" / "app.py")


# --- 2. reads are bounded and typed -----------------------------------------------------------------------


def limited_server(cwd: Path) -> RawServer:
    raw = RawServer(cwd)
    # Before `initialize`, the server has read nothing of the workspace yet.
    resource.prlimit(raw.proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    return raw


def status_of(raw: RawServer, repo: Path, timeout: float) -> dict[str, Any]:
    """The first pyengineer/status for `repo`: the workspace load finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in raw.notifications("pyengineer/status"):
            if message["params"].get("root") == str(repo):
                return dict(message["params"])
        assert raw.alive(), raw.stderr_path.read_text(errors="replace")[-3000:]
        raw.pump(0.1)
    raise AssertionError(f"the workspace load did not finish within {timeout}s")


def assert_serving(raw: RawServer, repo: Path) -> None:
    """The server answers requests and publishes diagnostics for a document opened now."""
    uri = (repo / "app.py").as_uri()
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": MODEL}},
    )
    hover = raw.response(
        raw.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 9}}
        ),
        timeout=30,
    )
    assert "ai-engineer" in hover["result"]["contents"]["value"]
    deadline = time.monotonic() + 30
    while not any(m["params"]["uri"] == uri for m in raw.notifications("textDocument/publishDiagnostics")):
        assert time.monotonic() < deadline, "no diagnostics for the opened document"
        raw.pump(0.1)


def exit_ends_the_process(raw: RawServer) -> int:
    raw.response(raw.request("shutdown"), timeout=15)
    raw.notify("exit", None)
    try:
        return raw.proc.wait(15)
    except subprocess.TimeoutExpired:
        raise AssertionError("`exit` did not end the server process") from None


def log_messages(raw: RawServer) -> str:
    return "\n".join(m["params"]["message"] for m in raw.notifications("window/logMessage"))


def test_a_fifo_gitignore_neither_hangs_the_load_nor_keeps_exit_from_ending_the_server(
    tmp_path: Path,
) -> None:
    """Opening a FIFO blocks until somebody writes to it: the workspace load used to hang for ever, and with a
    worker stuck in it `exit` never ended the process. git itself blocks on it too: its status is given a
    time limit, then asked again without untracked files."""
    repo = make_repo(tmp_path / "repo", {"app.py": MODEL, "requirements.txt": "torch\n"})
    os.mkfifo(repo / ".gitignore")
    (repo / "pkg").mkdir()
    os.mkfifo(repo / "pkg" / ".gitignore")
    raw = limited_server(tmp_path)
    try:
        raw.initialize(repo)
        status = status_of(raw, repo, timeout=120)
        assert status["branch"] == "main" and status["mlFileCount"] == 1
        assert f"{repo / '.gitignore'}: is a FIFO, not a regular file; skipped" in log_messages(raw)
        assert_serving(raw, repo)
        assert exit_ends_the_process(raw) == 0
    finally:
        raw.close()


def processes_in(folder: Path) -> list[int]:
    """Processes whose working folder is `folder` (a `git status` the server started there)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == str(folder):
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_exit_ends_the_server_while_git_is_stuck_on_a_fifo(tmp_path: Path) -> None:
    """`exit` ends the process at once, and the `git status` stuck on the FIFO with it (it would otherwise
    stay blocked for good, long after the server)."""
    repo = make_repo(tmp_path / "repo", {"app.py": MODEL})
    os.mkfifo(repo / ".gitignore")
    raw = limited_server(tmp_path)
    try:
        raw.initialize(repo)
        deadline = time.monotonic() + 30
        while not processes_in(repo):  # the load is under way: `git status` is blocked opening the FIFO
            assert time.monotonic() < deadline, "git status never started"
            raw.pump(0.1)
        raw.pump(1.0)
        assert processes_in(repo), "git status was expected to be stuck on the FIFO"
        assert exit_ends_the_process(raw) == 0
        time.sleep(0.5)
        assert processes_in(repo) == []
    finally:
        raw.close()
        for pid in processes_in(repo):  # on failure, do not leave a blocked git behind
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin"])
def test_a_gitignore_linked_to_a_device_is_not_read(tmp_path: Path, device: str) -> None:
    """`.gitignore -> /dev/zero` read until MemoryError (2.6 GB in 8 s); `.gitignore -> /dev/stdin` read the
    server's own LSP input. Neither is read (git does not follow a symlinked .gitignore either); the server
    loads the workspace, keeps serving, and its memory stays small."""
    repo = committed_repo(tmp_path / "repo", {".gitignore": device, "pkg/.gitignore": device})
    raw = limited_server(tmp_path)
    try:
        raw.initialize(repo)
        status_of(raw, repo, timeout=60)
        assert_serving(raw, repo)
        peak_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{raw.proc.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        assert peak_kb < 400 * 1024, f"peak RSS {peak_kb // 1024} MB"
        assert (
            f"{repo / '.gitignore'}: is a symbolic link, which is not followed here; skipped"
            in log_messages(raw)
        )
        assert exit_ends_the_process(raw) == 0
    finally:
        raw.close()


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)  # nothing on disk; everything in memory if read
    return path


def test_a_sparse_two_gib_python_file_is_skipped_with_a_warning_by_the_cli(tmp_path: Path) -> None:
    """It took 2.1 GB of RSS; now `pyengineer check` and `context` name it on stderr and never read it (the
    process runs with a 1.5 GiB address-space limit: reading it would fail)."""
    repo = make_repo(tmp_path / "repo", {"app.py": MODEL, "requirements.txt": "torch\n"})
    sparse(repo / "generated.py", 2 << 30, b"import torch\n")
    warning = f"pyengineer: {repo / 'generated.py'}: is 2 GiB, above the 2 MiB limit; skipped\n"
    checked = run_cli("check", "--fail-on", "info", "--select", "PE2", ".", cwd=repo)
    assert checked.returncode == 1, checked.stderr
    assert checked.stderr.count(warning) == 1, checked.stderr  # the scan and the check: said once
    assert "app.py" in checked.stdout and "generated.py" not in checked.stdout
    named = run_cli("check", "generated.py", cwd=repo)
    assert named.returncode == 0 and warning in named.stderr, named.stderr
    context = run_cli("context", "--json", ".", cwd=repo)
    assert context.returncode == 0 and warning in context.stderr, context.stderr


def test_a_sparse_two_gib_python_file_is_skipped_by_the_server_scan(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": MODEL, "requirements.txt": "torch\n"})
    sparse(repo / "generated.py", 2 << 30, b"import torch\n")
    raw = limited_server(tmp_path)
    try:
        raw.initialize(repo)
        assert status_of(raw, repo, timeout=60)["mlFileCount"] == 1
        assert f"{repo / 'generated.py'}: is 2 GiB, above the 2 MiB limit; skipped" in log_messages(raw)
        assert_serving(raw, repo)
    finally:
        raw.close()


async def test_an_open_document_above_the_limit_is_not_analysed_and_the_user_is_told_once(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": MODEL})
    huge = "import torch\n" + "x = 1  # padding\n" * 140_000  # 2.4 MB
    big = repo / "big.py"
    big.write_text(huge)
    async with lsp_session([repo]) as lsp:
        uri = open_doc(lsp, big)
        await wait_for(lambda: any("is not analysed" in m.message for m in lsp.messages), timeout=60)
        lsp.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=types.Position(1, 0), end=types.Position(1, 0)),
                        text="y = 2\n",
                    )
                ],
            )
        )
        small = open_doc(lsp, repo / "app.py")
        await wait_for(lambda: small in lsp.diagnostics, timeout=60)  # still serving
        await wait_for(lambda: lsp.diagnostics.get(uri) == [] or uri in lsp.diagnostics, timeout=30)
    told = [m for m in lsp.messages if "is not analysed" in m.message]
    assert len(told) == 1, told
    assert told[0].type == types.MessageType.Warning and "big.py" in told[0].message
    assert not lsp.diagnostics.get(uri)
