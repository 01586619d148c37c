"""The pyengineer benchmark suite: pyengineer side by side with its peers and floors, on real code.

    bench/run            # the full suite (about 10-15 minutes on 2 cores)
    bench/run --quick    # a smoke run of every measurement, small corpora, few repeats (a minute or two)

Every figure is the median of repeated runs, and every target is a ratio against a peer or a floor measured
in the same run (the machines are shared and noisy). Prints a table and writes bench/results/latest.json.
Nothing here is a timed unit test: a missed target is reported, never an error; a measurement that cannot
run (no pylsp venv in --quick, no git) is reported as skipped.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import generate_repo  # noqa: E402
import notebook_keystroke  # noqa: E402

PYLSP_VENV = generate_repo.bench_cache_dir() / "pylsp-venv"
RESULTS = HERE / "results" / "latest.json"


@dataclass
class Plan:
    quick: bool
    repo_files: int
    scan_repeats: int
    incremental_repeats: int
    switch_repeats: int
    edits: int
    starts: int
    check_repeats: int
    switch_docs: int = 50

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 2_000, 2, 5, 1, 8, 3, 1)
        return cls(False, 20_000, 5, 21, 3, 40, 9, 3)


@dataclass
class Row:
    """One line of the table: pyengineer's median against a reference (a peer or a floor)."""

    id: str
    what: str
    pyengineer: float | None  # seconds
    reference: str
    reference_value: float | None  # seconds
    target: str
    limit: float | None  # pass when ratio <= limit (ratio = pyengineer / reference), or absolute seconds
    absolute: bool = False  # the limit is in seconds, not a ratio
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.pyengineer is None or not self.reference_value:
            return None
        return self.pyengineer / self.reference_value

    @property
    def met(self) -> bool | None:
        if self.limit is None or self.pyengineer is None:
            return None
        if self.absolute:
            return self.pyengineer <= self.limit
        ratio = self.ratio
        return None if ratio is None else ratio <= self.limit


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 40 samples is the 38th smallest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ruff_binary() -> str:
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.exists() else (shutil.which("ruff") or "ruff")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **generate_repo.GIT_ENV}
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True)
    return done.stdout


# --- 1, 2: cold and warm scans --------------------------------------------------------------------------


def bench_scans(name: str, root: Path, plan: Plan, rows: list[Row]) -> None:
    from pyengineer.config import load_settings
    from pyengineer.workspace.context import WorkspaceIndex
    from pyengineer.workspace.scan import walk

    settings = load_settings(root)
    files = walk(root, WorkspaceIndex(root, settings).rules).python_files
    total_bytes = 0
    cache = Path(tempfile.mkdtemp(prefix="pyengineer-bench-cache-"))

    def floor() -> None:
        nonlocal total_bytes
        size = 0
        for relative in files:
            with open(os.path.join(root, relative), "rb") as handle:
                size += len(handle.read())
        total_bytes = size

    def cold() -> None:
        index = WorkspaceIndex(root, settings)
        index.scan()
        index.context()

    def warm() -> None:
        index = WorkspaceIndex(root, settings, cache)
        index.scan()
        index.context()

    def ruff() -> None:
        subprocess.run(
            [ruff_binary(), "check", "--select", "F401", "--no-cache", "--exit-zero", "--quiet", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    warm()  # writes the cache the warm runs read (files older than a few seconds only: see scan_cache.py)
    times: dict[str, list[float]] = {"floor": [], "cold": [], "warm": [], "ruff": []}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("floor", floor),
        ("cold", cold),
        ("warm", warm),
        ("ruff", ruff),
    ]
    for repeat in range(plan.scan_repeats):
        # Rotate the order so no contender always runs right after another one's page-cache or CPU work.
        for key, step in steps[repeat % 4 :] + steps[: repeat % 4]:
            started = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - started)
    shutil.rmtree(cache, ignore_errors=True)
    med = {k: median(v) for k, v in times.items()}
    info = {"files": len(files), "megabytes": round(total_bytes / 1e6, 1), "samples": times}
    log(
        f"{name}: {len(files)} files, {total_bytes / 1e6:.1f} MB: "
        + ", ".join(f"{k} {v:.3f}s" for k, v in med.items())
    )
    rows.append(
        Row(
            f"cold_scan_{name}_vs_ruff",
            f"cold scan, {name} ({len(files)} files)",
            med["cold"],
            "ruff check --select F401 --no-cache",
            med["ruff"],
            "<= 1x ruff" if name == "stdlib" else "(report)",
            1.0 if name == "stdlib" else None,
            extra=info,
        )
    )
    rows.append(
        Row(
            f"cold_scan_{name}_vs_floor",
            f"cold scan, {name}",
            med["cold"],
            "read every .py byte once",
            med["floor"],
            "(report)",
            None,
        )
    )
    rows.append(
        Row(
            f"warm_scan_{name}",
            f"warm scan (cache on disk), {name}",
            med["warm"],
            "read every .py byte once",
            med["floor"],
            "<= 3x floor",
            3.0,
        )
    )


# --- 3: incremental updates -------------------------------------------------------------------------------


def bench_incremental(repo: Path, plan: Plan, rows: list[Row]) -> None:
    from pyengineer.config import load_settings
    from pyengineer.workspace.context import WorkspaceIndex

    settings = load_settings(repo)
    index = WorkspaceIndex(repo, settings)
    index.scan()
    index.context()
    target = generate_repo.switch_paths(repo)[-1]
    original = target.read_bytes()
    one: list[float] = []
    try:
        for i in range(plan.incremental_repeats):
            extra = b"import numpy as np\n" if i % 2 == 0 else b"x = 1\n"
            target.write_bytes(original + extra * (1 + i % 3))
            started = time.perf_counter()
            index.update([target])
            index.context()
            one.append(time.perf_counter() - started)
    finally:
        target.write_bytes(original)
        index.update([target])
    changed = [
        repo / p for p in git(repo, "diff", "--name-only", "main", generate_repo.SWITCH_BRANCH).split()
    ]
    many: list[float] = []
    try:
        for i in range(plan.switch_repeats):
            git(repo, "checkout", "-q", generate_repo.SWITCH_BRANCH if i % 2 == 0 else "main")
            started = time.perf_counter()
            index.update(changed)
            index.context()
            many.append(time.perf_counter() - started)
    finally:
        git(repo, "checkout", "-q", "main")
    log(f"incremental: one file {median(one) * 1000:.2f} ms, {len(changed)} files {median(many):.3f} s")
    rows.append(
        Row(
            "incremental_one_file",
            "one saved file -> context updated",
            median(one),
            "(absolute)",
            None,
            "<= 10 ms",
            0.010,
            absolute=True,
            extra={"samples": one},
        )
    )
    rows.append(
        Row(
            "incremental_1000_files",
            f"{len(changed)} files changed (branch switch) -> context updated",
            median(many),
            "(absolute)",
            None,
            "<= 1 s",
            1.0,
            absolute=True,
            extra={"samples": many},
        )
    )


# --- a small LSP client over stdio ------------------------------------------------------------------------


class Session:
    """A pygls LanguageClient driving one server process, timing publishDiagnostics as they arrive.

    Arrival is stamped in the protocol's `structure_message` hook: after the JSON body is decoded, before
    the client converts it to lsprotocol types (client-side work that is not the server's time).
    """

    def __init__(self) -> None:
        from pygls.lsp.client import LanguageClient

        self.client = LanguageClient("pyengineer-bench", "1")
        self.published: dict[str, list[tuple[float, float, int | None, int]]] = {}
        self.statuses: list[float] = []
        self.changed = asyncio.Event()
        protocol = self.client.protocol
        structure = protocol.structure_message

        def stamped(data: dict[str, Any]) -> Any:
            method = data.get("method") if "jsonrpc" in data else None
            if "jsonrpc" in data and "id" in data and "result" in data and method is None:
                # The bench never reads results; pylsp's InitializeResult does not fit lsprotocol's types.
                protocol._result_types.pop(data["id"], None)
            if method == "textDocument/publishDiagnostics":
                params = data.get("params") or {}
                entry = (
                    time.perf_counter(),
                    time.time(),
                    params.get("version"),
                    len(params.get("diagnostics", [])),
                )
                self.published.setdefault(params.get("uri", ""), []).append(entry)
                self.changed.set()
            elif method == "pyengineer/status":
                self.statuses.append(time.perf_counter())
                self.changed.set()
            return structure(data)

        protocol.structure_message = stamped  # type: ignore[method-assign]

        def ignore(params: Any) -> None:
            pass  # timed in `stamped` above; registered so the client does not complain of unknown methods

        for method in (
            "pyengineer/status",
            "textDocument/publishDiagnostics",
            "window/logMessage",
            "window/showMessage",
        ):
            self.client.feature(method)(ignore)

    @property
    def pid(self) -> int:
        server = self.client._server
        assert server is not None
        return server.pid

    async def start(
        self, command: list[str], root: Path, init_options: dict[str, Any], env: dict[str, str]
    ) -> None:
        from lsprotocol import types

        await self.client.start_io(command[0], *command[1:], env=env)
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            ),
        )
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(
                    capabilities=caps,
                    process_id=os.getpid(),
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                    initialization_options=init_options,
                )
            ),
            120,
        )
        self.client.initialized(types.InitializedParams())

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            if predicate():
                break
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    def open(self, path: Path, text: str) -> str:
        from lsprotocol import types

        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        return uri

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        except Exception:  # a server that died is stopped all the same
            pass
        server = self.client._server
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(server.wait(), 5)
            except TimeoutError:
                server.kill()
        try:
            await asyncio.wait_for(self.client.stop(), 5)
        except Exception:  # already gone
            pass


def server_env(cache: Path) -> dict[str, str]:
    env = {**os.environ, **generate_repo.GIT_ENV, "PYENGINEER_CACHE_DIR": str(cache)}
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def pyengineer_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pyengineer", "serve", *extra]


def pylsp_command() -> list[str] | None:
    python = PYLSP_VENV / "bin" / "python"
    return [str(python), str(HERE / "pylsp_nodebounce.py")] if python.exists() else None


def ensure_pylsp(quick: bool) -> list[str] | None:
    """The pylsp command; the full run installs python-lsp-server + pyflakes into the bench venv once."""
    command = pylsp_command()
    if command is not None or quick:
        return command
    log(f"installing python-lsp-server and pyflakes into {PYLSP_VENV} (once)")
    subprocess.run([sys.executable, "-m", "venv", str(PYLSP_VENV)], check=True)
    subprocess.run(
        [str(PYLSP_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "python-lsp-server", "pyflakes"],
        check=True,
    )
    return pylsp_command()


# --- 4: keystroke -> diagnostics -------------------------------------------------------------------------


def stdlib_file(lines: int) -> Path:
    """The stdlib file (outside tests) whose line count is nearest `lines`, that parses with this Python."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    best: tuple[int, str, Path] | None = None
    for path in stdlib.rglob("*.py"):
        relative = path.relative_to(stdlib).as_posix()
        if any(
            part in ("test", "tests", "idlelib", "site-packages", "lib2to3") for part in relative.split("/")
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        distance = abs(text.count("\n") - lines)
        if best is None or (distance, relative) < best[:2]:
            try:
                ast.parse(text)
            except SyntaxError:
                continue
            best = (distance, relative, path)
    assert best is not None
    return best[2]


def edit_line(text: str) -> int:
    """A line in the middle of the file that ends a simple statement, where a trailing comment is harmless."""
    lines = text.splitlines()
    middle = len(lines) // 2
    for offset in range(len(lines)):
        for line in (middle + offset, middle - offset):
            if 0 <= line < len(lines):
                stripped = lines[line].strip()
                if (
                    stripped
                    and not stripped.endswith(("\\", ",", "(", "[", "{", ":"))
                    and '"""' not in stripped
                    and "'''" not in stripped
                    and "#" not in stripped
                    and stripped.isascii()
                ):
                    return line
    return 0


async def keystrokes(
    command: list[str],
    root: Path,
    path: Path,
    text: str,
    edits: int,
    init: dict[str, Any],
    cache: Path,
    warmup: int = 3,
    memory: dict[str, int] | None = None,
) -> list[float]:
    """Server time from each didChange to its publishDiagnostics, over `edits` edits typed one by one."""
    from lsprotocol import types

    session = Session()
    await session.start(command, root, init, server_env(cache))
    try:
        uri = session.open(path, text)
        if not await session.wait_for(lambda: bool(session.published.get(uri)), 120):
            raise RuntimeError(f"{command[0]}: no diagnostics for the opened file within 120 s")
        line = edit_line(text)
        current = text.splitlines()[line]
        end = len(current)
        indent = current[: len(current) - len(current.lstrip())]
        samples: list[float] = []
        for version in range(2, edits + warmup + 2):
            # A cycle of four keystrokes that leaves the file valid after each: type " # e" at the end of the
            # line, take it away again, press Enter there (a new line with the same indentation: every line
            # below moves down), and Backspace it away.
            step = version % 4
            at = types.Position(line, end)
            if step == 2:
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=" # e"
                )
            elif step == 3:
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=types.Position(line, end + 4)), text=""
                )
            elif step == 0:
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text="\n" + indent
                )
            else:
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=types.Position(line + 1, len(indent))), text=""
                )
            before = len(session.published.get(uri, []))
            sent = time.perf_counter()
            session.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[change],
                )
            )

            def arrived(v: int = version, n: int = before) -> bool:
                entries = session.published.get(uri, [])[n:]
                return any(e[2] in (v, None) for e in entries)

            if not await session.wait_for(arrived, 60):
                raise RuntimeError(f"{command[0]}: no diagnostics for version {version} within 60 s")
            got = next(e for e in session.published[uri][before:] if e[2] in (version, None))
            if version - 2 >= warmup:
                samples.append(got[0] - sent)
            elif memory is not None and version - 2 == warmup - 1:
                memory["after_warmup"] = resident(session.pid)
        if memory is not None:
            memory["after_edits"] = resident(session.pid)
        return samples
    finally:
        await session.stop()


def bench_keystrokes(plan: Plan, rows: list[Row], pylsp: list[str] | None, tmp: Path) -> None:
    for lines in (500, 5000):
        source = stdlib_file(lines)
        text = source.read_text(encoding="utf-8")
        root = tmp / f"keystroke-{lines}"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
        path = root / source.name
        path.write_text(text, encoding="utf-8")
        parse = []
        for _ in range(max(10, plan.edits // 2)):
            started = time.perf_counter()
            ast.parse(text)
            parse.append(time.perf_counter() - started)
        memory: dict[str, int] = {}
        ours = asyncio.run(
            keystrokes(
                pyengineer_command(),
                root,
                path,
                text,
                plan.edits,
                {"settings": {"debounceMs": 0}},
                tmp / "cache",
                memory=memory,
            )
        )
        theirs: list[float] | None = None
        if pylsp is not None:
            theirs = asyncio.run(keystrokes(pylsp, root, path, text, plan.edits, {}, tmp / "cache"))
        count = text.count("\n")
        label = f"{source.name}, {count} lines"
        if not plan.quick or lines == 500:
            bench_default_keystrokes(lines, label, root, path, text, plan, rows, tmp)
        info: dict[str, Any] = {
            "file": str(source),
            "lines": count,
            "pyengineer": ours,
            "pylsp": theirs,
            "ast_parse": parse,
        }
        log(
            f"keystroke {label}: pyengineer p50 {median(ours) * 1000:.1f} p95 {percentile(ours, 95) * 1000:.1f} ms;"
            f" ast.parse {median(parse) * 1000:.1f} ms"
            + (
                f"; pylsp p50 {median(theirs) * 1000:.1f} p95 {percentile(theirs, 95) * 1000:.1f} ms"
                if theirs
                else ""
            )
        )
        growth = (memory.get("after_edits", 0) - memory.get("after_warmup", 0)) / 2**20
        info["rss_after_warmup"] = memory.get("after_warmup")
        info["rss_after_edits"] = memory.get("after_edits")
        log(f"keystroke {source.name}: server RSS {growth:+.1f} MiB over {plan.edits} keystrokes")
        rows.append(
            Row(
                f"keystroke_{lines}_p50_vs_parse",
                f"keystroke -> diagnostics p50 ({label})",
                median(ours),
                "ast.parse of the file",
                median(parse),
                "(report)",
                None,
                extra=info,
            )
        )
        rows.append(
            Row(
                f"keystroke_{lines}_p95_vs_parse",
                f"keystroke -> diagnostics p95 ({label})",
                percentile(ours, 95),
                "ast.parse of the file",
                median(parse),
                "<= 1.5x ast.parse",
                1.5,
            )
        )
        if theirs is not None:
            rows.append(
                Row(
                    f"keystroke_{lines}_p95_vs_pylsp",
                    f"keystroke -> diagnostics p95 ({label})",
                    percentile(ours, 95),
                    "pylsp + pyflakes p95",
                    percentile(theirs, 95),
                    "<= 0.5x pylsp",
                    0.5,
                )
            )
        else:
            rows.append(
                Row(
                    f"keystroke_{lines}_p95_vs_pylsp",
                    f"keystroke -> diagnostics p95 ({label})",
                    percentile(ours, 95),
                    "pylsp + pyflakes (skipped: no bench venv)",
                    None,
                    "<= 0.5x pylsp",
                    None,
                )
            )
        rows.append(
            Row(
                f"memory_keystrokes_{lines}",
                f"server RSS growth over {plan.edits} keystrokes ({label})",
                growth,
                "(MiB, absolute)",
                None,
                "(report)",
                None,
                absolute=True,
            )
        )


def bench_default_keystrokes(
    lines: int, label: str, root: Path, path: Path, text: str, plan: Plan, rows: list[Row], tmp: Path
) -> None:
    """Keystroke -> diagnostics with pyengineer's DEFAULT settings (its debounce included) against `ruff server`,
    the same edits from the same client (ruff publishes when the client has no pull-diagnostics capability)."""
    ours = asyncio.run(keystrokes(pyengineer_command(), root, path, text, plan.edits, {}, tmp / "cache"))
    ruff = asyncio.run(keystrokes([ruff_binary(), "server"], root, path, text, plan.edits, {}, tmp / "cache"))
    log(
        f"keystroke {label}, default settings: pyengineer p50 {median(ours) * 1000:.1f} "
        f"p95 {percentile(ours, 95) * 1000:.1f} ms; ruff server p50 {median(ruff) * 1000:.1f} "
        f"p95 {percentile(ruff, 95) * 1000:.1f} ms"
    )
    info = {"pyengineer": ours, "ruff_server": ruff}
    for pct, limit in ((50, 1.5), (95, 2.0)):
        rows.append(
            Row(
                f"keystroke_{lines}_default_p{pct}_vs_ruff",
                f"keystroke -> diagnostics p{pct}, default settings ({label})",
                percentile(ours, pct) if pct != 50 else median(ours),
                f"ruff server p{pct}",
                percentile(ruff, pct) if pct != 50 else median(ruff),
                f"<= {limit:g}x ruff server",
                limit,
                extra=info if pct == 50 else {},
            )
        )


# --- 5: start-up ------------------------------------------------------------------------------------------


def frame(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: Any) -> dict[str, Any]:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("the server closed its output before answering")
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    message: dict[str, Any] = json.loads(stream.read(length))
    return message


def time_initialize(command: list[str], root: Path, env: dict[str, str]) -> float:
    """Seconds from process start to the `initialize` answer."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "processId": None,
                        "rootUri": root.as_uri(),
                        "capabilities": {},
                        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                    },
                }
            )
        )
        process.stdin.flush()
        while True:
            message = read_message(process.stdout)
            if message.get("id") == 1:
                elapsed = time.perf_counter() - started
                break
        process.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        process.stdin.flush()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return elapsed


def bench_start(plan: Plan, rows: list[Row], tmp: Path) -> None:
    root = tmp / "start"
    root.mkdir()
    (root / "app.py").write_text("print('hi')\n")
    env = server_env(tmp / "cache")
    bare = [sys.executable, str(HERE / "bare_server.py")]
    ours_samples: list[float] = []
    bare_samples: list[float] = []
    for i in range(plan.starts):
        for command, samples in ((bare, bare_samples), (pyengineer_command(), ours_samples))[
            :: 1 if i % 2 else -1
        ]:
            samples.append(time_initialize(command, root, env))
    log(f"start: pyengineer {median(ours_samples):.3f}s, bare pygls {median(bare_samples):.3f}s")
    rows.append(
        Row(
            "start",
            "server start -> initialize answered",
            median(ours_samples),
            "bare pygls server",
            median(bare_samples),
            "<= 1.25x bare pygls",
            1.25,
            extra={"pyengineer": ours_samples, "bare": bare_samples},
        )
    )


# --- guard: the Claude Code hook, which runs before every tool call of a coding agent -------------------------


def bench_guard(plan: Plan, rows: list[Row], tmp: Path) -> None:
    """The Claude Code hook, as the installed console script with its bytecode cached (`cli_env`), in a
    repository on `main`: allow (a Bash call with no git in it), deny (an Edit), and deny in a project whose
    pyproject.toml configures pyengineer (the settings the guard reads from its own cache after the first call)."""
    repo = tmp / "guard-repo"
    configured = tmp / "guard-configured"
    for folder in (repo, configured):
        folder.mkdir()
        git(folder, "init", "-q", "-b", "main")
        (folder / "app.py").write_text("x = 1\n")
    (configured / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.pyengineer]\nprotected-branches = ["main", "release/*"]\n'
    )
    for folder in (repo, configured):
        git(folder, "add", ".")
        git(folder, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init")
    env = cli_env(tmp, PYENGINEER_CACHE_DIR=str(tmp / "guard-cache"))
    guard = [str(Path(sys.executable).with_name("pyengineer")), "guard"]
    calls = {
        "allow": {"tool_name": "Bash", "tool_input": {"command": "pytest -q"}, "cwd": str(repo)},
        "deny": {"tool_name": "Edit", "tool_input": {"file_path": str(repo / "app.py")}, "cwd": str(repo)},
        "deny_configured": {
            "tool_name": "Edit",
            "tool_input": {"file_path": str(configured / "app.py")},
            "cwd": str(configured),
        },
    }
    described = {
        "allow": "allow (Bash pytest)",
        "deny": "deny (Edit on main)",
        "deny_configured": "deny (Edit on main, [tool.pyengineer] in pyproject.toml)",
    }
    repeats = max(plan.starts * 3, 9)  # a quarter of a second each: enough for a median the load moves little
    bare: list[float] = []
    samples: dict[str, list[float]] = {kind: [] for kind in calls}

    def call(kind: str) -> float:
        data = json.dumps({"hook_event_name": "PreToolUse", **calls[kind]})
        started = time.perf_counter()
        done = subprocess.run(guard, input=data, capture_output=True, text=True, check=True, env=env)
        took = time.perf_counter() - started
        assert ("deny" in done.stdout) == kind.startswith("deny"), done.stdout
        return took

    # One call each first: it compiles the bytecode and fills the guard's settings cache, as a session's first does.
    for kind in calls:
        call(kind)
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
        for kind in calls:
            samples[kind].append(call(kind))
    log(
        "guard: "
        + ", ".join(f"{kind} {median(samples[kind]):.3f}s" for kind in calls)
        + f", bare {median(bare):.3f}s"
    )
    for kind in calls:
        rows.append(
            Row(
                f"guard_{kind}",
                f"pyengineer guard, {described[kind]}",
                median(samples[kind]),
                "python -I -c pass",
                median(bare),
                "<= 0.1 s",
                0.1,
                absolute=True,
                extra={"samples": samples[kind], "bare": bare},
            )
        )


# --- 6: memory --------------------------------------------------------------------------------------------


def resident(pid: int) -> int:
    """Current RSS in bytes (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def index_and_measure(root: Path, cache: Path) -> tuple[int, float]:
    """Peak RSS of a server that indexed `root` from cold (empty cache dir), and the seconds it took."""
    session = Session()
    started = time.perf_counter()
    await session.start(pyengineer_command(), root, {}, server_env(cache))
    try:
        if not await session.wait_for(lambda: bool(session.statuses), 600):
            raise RuntimeError(f"the server never reported {root} loaded")
        loaded = session.statuses[0] - started
        return peak_rss(session.pid), loaded
    finally:
        await session.stop()


def bench_memory(name: str, root: Path, rows: list[Row], tmp: Path) -> None:
    cache = tmp / f"cold-cache-{name}"
    peak, loaded = asyncio.run(index_and_measure(root, cache))
    log(f"memory {name}: peak RSS {peak / 2**20:.1f} MiB (loaded in {loaded:.2f}s)")
    limited = name != "stdlib"
    rows.append(
        Row(
            f"memory_{name}",
            f"peak RSS after indexing {name}",
            peak / 2**20,
            "(MiB, absolute)",
            None,
            "<= 150 MB" if limited else "(report)",
            150 * 1e6 / 2**20 if limited else None,
            absolute=True,
            extra={"bytes": peak, "load_seconds": loaded},
        )
    )


# --- 7: branch switch with open documents -----------------------------------------------------------------

_BATCH_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) DEBUG pyengineer\.lsp\.workspaces: changes in "
)


def batch_times(log_file: Path) -> list[float]:
    """Wall-clock times at which the server started handling each watcher batch (from its debug log)."""
    times = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _BATCH_LINE.match(line)
        if match:
            stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            times.append(stamp.timestamp())
    return times


async def branch_switches(repo: Path, plan: Plan, tmp: Path) -> list[dict[str, float]]:
    log_file = tmp / "switch-server.log"
    session = Session()
    await session.start(
        pyengineer_command("--log-file", str(log_file)),
        repo,
        {"settings": {"debounceMs": 0}},
        server_env(tmp / "cache"),
    )
    results = []
    try:
        changing = generate_repo.switch_paths(repo)[: plan.switch_docs // 2]
        steady = sorted(
            set((repo / "src" / "shop").glob("pkg_*/sub_*/mod_*.py")) - set(generate_repo.switch_paths(repo))
        )
        docs = changing + steady[: plan.switch_docs - len(changing)]
        uris = [session.open(p, p.read_text(encoding="utf-8")) for p in docs]
        if not await session.wait_for(lambda: all(session.published.get(u) for u in uris), 300):
            raise RuntimeError("the open documents never got diagnostics")
        await asyncio.sleep(1.0)
        for i in range(plan.switch_repeats):
            branch = generate_repo.SWITCH_BRANCH if i % 2 == 0 else "main"
            counts = {u: len(session.published.get(u, [])) for u in uris}
            batches_before = len(batch_times(log_file))
            wall_start = time.time()
            started = time.perf_counter()
            await asyncio.to_thread(git, repo, "checkout", "-q", branch)
            checked_out = time.perf_counter()

            def republished(counts: dict[str, int] = counts) -> bool:
                return all(len(session.published.get(u, [])) > counts[u] for u in uris)

            if not await session.wait_for(republished, 60):
                raise RuntimeError("diagnostics were not republished after the branch switch")
            # Let the rest of the burst arrive: a later batch republishes again; the last round is the answer.
            quiet = time.perf_counter()
            while True:
                total = sum(len(session.published.get(u, [])) for u in uris)
                await asyncio.sleep(1.5)
                if sum(len(session.published.get(u, [])) for u in uris) == total:
                    break
                quiet = time.perf_counter()
            del quiet
            batches = batch_times(log_file)[batches_before:]
            last_publish_wall = max(session.published[u][-1][1] for u in uris)
            first_round_wall = max(session.published[u][counts[u]][1] for u in uris)
            first_round = max(session.published[u][counts[u]][0] for u in uris)
            result = {
                "checkout_seconds": checked_out - started,
                "checkout_to_first_round": first_round - checked_out,
                "batches": len(batches),
                "first_batch_after_checkout_start": (batches[0] - wall_start) if batches else float("nan"),
                # The target: from the event reaching the server (its first batch) to every document republished.
                "server_first_round": (first_round_wall - batches[0]) if batches else float("nan"),
                "server_last_round": (last_publish_wall - batches[-1]) if batches else float("nan"),
            }
            results.append(result)
            log(f"branch switch {i + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))
    finally:
        await session.stop()
        await asyncio.to_thread(git, repo, "checkout", "-q", "main")
    return results


def bench_branch_switch(repo: Path, plan: Plan, rows: list[Row], tmp: Path) -> None:
    results = asyncio.run(branch_switches(repo, plan, tmp))
    server = median([r["server_first_round"] for r in results])
    rows.append(
        Row(
            "branch_switch_republish",
            f"branch switch -> {plan.switch_docs} open documents republished",
            server,
            "(absolute, from the server's first watcher batch)",
            None,
            "<= 500 ms",
            0.5,
            absolute=True,
            extra={"runs": results},
        )
    )


# --- 8: the command line as a process: check, context, --version (issue 16) ---------------------------------


def pyengineer_cli() -> str:
    """The installed console script: what a user, a pre-commit hook or CI runs."""
    return str(Path(sys.executable).with_name("pyengineer"))


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of the command-line rows: bytecode cached (under `tmp`, not in the source tree), as
    an installed package has it; this environment's PYTHONDONTWRITEBYTECODE=1 would make every start compile
    every module again, which no user's installation does."""
    env = {**os.environ, **generate_repo.GIT_ENV, "PYTHONPYCACHEPREFIX": str(tmp / "pycache"), **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def warm_up_cli(tmp: Path) -> None:
    """One run of each command on a one-file project: writes the bytecode and warms the page cache."""
    project = tmp / "warm-up"
    project.mkdir(exist_ok=True)
    (project / "app.py").write_text("import os\n\nprint(os.sep)\n", encoding="utf-8")
    env = cli_env(tmp, PYENGINEER_CACHE_DIR="off")
    for arguments in (
        ["check", "--no-cache", str(project)],
        ["context", str(project)],
        ["--version"],
        ["--help"],
    ):
        timed_process([pyengineer_cli(), *arguments], env)


def stdlib_python_files(stdlib: Path, packages: tuple[str, ...] | None) -> list[str]:
    """The stdlib's .py files (relative), without site-packages; only those of `packages` when given."""
    found = []
    for path in stdlib.rglob("*.py"):
        relative = path.relative_to(stdlib).as_posix()
        top = relative.split("/")[0]
        if top == "site-packages" or "__pycache__" in relative:
            continue
        if packages is None or top in packages:
            found.append(relative)
    return sorted(found)


def copy_python_tree(source: Path, target: Path, files: list[str]) -> None:
    """The .py files of `source` (relative paths `files`) copied under `target`, which one run may modify."""
    for relative in files:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, destination)


def tree_memory(pid: int) -> tuple[int, int]:
    """(sum of VmRSS, sum of Pss) in bytes over `pid` and every process below it, now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry))
    rss = pss = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            rss += resident(current)
            with open(f"/proc/{current}/smaps_rollup", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue  # it ended between the listing and the read
    return rss, pss


def timed_process(
    command: list[str], env: dict[str, str], watch_memory: bool = False
) -> tuple[float, int, int]:
    """Wall seconds of `command` (output discarded, any exit code), and with `watch_memory` the peak sum of RSS
    and of PSS of its process tree, sampled every 20 ms (forked workers share pages: PSS counts them once)."""
    started = time.perf_counter()
    if not watch_memory:
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - started, 0, 0
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_rss = peak_pss = 0
    while process.poll() is None:
        rss, pss = tree_memory(process.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.02)
    return time.perf_counter() - started, peak_rss, peak_pss


def rotated(repeat: int, steps: list[tuple[str, Callable[[], None]]]) -> list[tuple[str, Callable[[], None]]]:
    shift = repeat % len(steps)
    return steps[shift:] + steps[:shift]


PARSE_FLOOR = """
import ast, sys, warnings
warnings.simplefilter("ignore")
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        ast.parse(data)
    except (SyntaxError, ValueError):
        pass
"""


def bench_check(name: str, root: Path, plan: Plan, rows: list[Row], tmp: Path, memory: bool) -> None:
    """`pyengineer check` as a process, cold, warm and after one change, against ruff and the parse floor."""
    from pyengineer.config import load_settings
    from pyengineer.workspace.ignore import IgnoreRules
    from pyengineer.workspace.scan import walk

    files = walk(root, IgnoreRules.for_root(root, load_settings(root).exclude)).python_files
    listing = tmp / f"files-{name}.txt"
    listing.write_text("\n".join(str(root / f) for f in files) + "\n", encoding="utf-8")
    base = cli_env(tmp)
    cold_env = cli_env(tmp, PYENGINEER_CACHE_DIR="off")  # neither the scan cache nor the results cache
    warm_cache = tmp / f"check-cache-{name}"
    warm_env = cli_env(tmp, PYENGINEER_CACHE_DIR=str(warm_cache))
    ruff_cache = tmp / f"ruff-cache-{name}"
    # Each tool's default output, as a user or a hook runs it (written to /dev/null).
    ours = [pyengineer_cli(), "check", str(root)]
    ruff = [ruff_binary(), "check", "--exit-zero", "--quiet"]
    times: dict[str, list[float]] = {
        k: [] for k in ("cold", "floor", "ruff_cold", "warm", "ruff_warm", "changed", "ruff_changed")
    }
    peaks: list[tuple[int, int]] = []

    def run(key: str, command: list[str], env: dict[str, str], watch: bool = False) -> None:
        seconds, rss, pss = timed_process(command, env, watch)
        times[key].append(seconds)
        if watch:
            peaks.append((rss, pss))

    cold_steps: list[tuple[str, Callable[[], None]]] = [
        ("cold", lambda: run("cold", [*ours[:2], "--no-cache", *ours[2:]], cold_env, memory)),
        ("floor", lambda: run("floor", [sys.executable, "-I", "-c", PARSE_FLOOR, str(listing)], base)),
        ("ruff_cold", lambda: run("ruff_cold", [*ruff, "--no-cache", str(root)], base)),
    ]
    for repeat in range(plan.check_repeats):
        for _key, step in rotated(repeat, cold_steps):
            step()
    # Warm: each tool's own cache, filled by one run first; then nothing changed.
    run("warm", ours, warm_env)
    run("ruff_warm", [*ruff, "--cache-dir", str(ruff_cache), str(root)], base)
    times["warm"].clear()
    times["ruff_warm"].clear()
    warm_steps: list[tuple[str, Callable[[], None]]] = [
        ("warm", lambda: run("warm", ours, warm_env)),
        ("ruff_warm", lambda: run("ruff_warm", [*ruff, "--cache-dir", str(ruff_cache), str(root)], base)),
    ]
    for repeat in range(plan.check_repeats):
        for _key, step in rotated(repeat, warm_steps):
            step()
    # One file changed: each repeat rewrites one module, then both tools run on a cache one file behind.
    target = root / sorted(files)[len(files) // 2]
    original = target.read_bytes()
    try:
        for repeat in range(plan.check_repeats):
            target.write_bytes(original + b"\nCHANGED_%d = %d\n" % (repeat, repeat))
            changed_steps: list[tuple[str, Callable[[], None]]] = [
                ("changed", lambda: run("changed", ours, warm_env)),
                (
                    "ruff_changed",
                    lambda: run("ruff_changed", [*ruff, "--cache-dir", str(ruff_cache), str(root)], base),
                ),
            ]
            for _key, step in rotated(repeat, changed_steps):
                step()
    finally:
        target.write_bytes(original)
    med = {k: median(v) for k, v in times.items()}
    log(f"check {name}: {len(files)} files: " + ", ".join(f"{k} {v:.3f}s" for k, v in med.items()))
    info = {"files": len(files), "samples": times, "changed_file": str(target)}
    stdlib = name == "stdlib"
    label = f"{name}, {len(files)} files"
    rows.append(
        Row(
            f"check_cold_{name}_vs_parse",
            f"check, cold, as a process ({label})",
            med["cold"],
            "one core: ast.parse of every file",
            med["floor"],
            "<= 1.5x parse" if stdlib else "(report)",
            1.5 if stdlib else None,
            extra=info,
        )
    )
    rows.append(
        Row(
            f"check_cold_{name}_vs_ruff",
            f"check, cold ({name})",
            med["cold"],
            "ruff check --no-cache",
            med["ruff_cold"],
            "(report)",
            None,
        )
    )
    rows.append(
        Row(
            f"check_warm_{name}_vs_ruff",
            f"check, warm, nothing changed ({name})",
            med["warm"],
            "ruff check, its cache",
            med["ruff_warm"],
            "<= 1x ruff",
            1.0,
        )
    )
    rows.append(
        Row(
            f"check_changed_{name}_vs_ruff",
            f"check, warm, one file changed ({name})",
            med["changed"],
            "ruff check, its cache",
            med["ruff_changed"],
            "<= 1x ruff",
            1.0,
        )
    )
    if memory and peaks:
        rss = max(p[0] for p in peaks)
        pss = max(p[1] for p in peaks)
        log(
            f"check {name}: peak memory of the process tree: RSS sum {rss / 2**20:.0f} MiB, PSS {pss / 2**20:.0f} MiB"
        )
        rows.append(
            Row(
                f"memory_check_{name}",
                f"peak RSS, all processes, cold check ({name})",
                rss / 2**20,
                "(MiB, sum of the tree's RSS)",
                None,
                "<= 400 MB",
                400 * 1e6 / 2**20,
                absolute=True,
                extra={"rss_bytes": [p[0] for p in peaks], "pss_bytes": [p[1] for p in peaks]},
            )
        )


def bench_context(name: str, root: Path, plan: Plan, rows: list[Row], tmp: Path) -> None:
    """`pyengineer context` as a process with no cache, against `ruff check --select F401 --no-cache`."""
    env = cli_env(tmp, PYENGINEER_CACHE_DIR="off")
    times: dict[str, list[float]] = {"ours": [], "ruff": []}
    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "ours",
            lambda: times["ours"].append(timed_process([pyengineer_cli(), "context", str(root)], env)[0]),
        ),
        (
            "ruff",
            lambda: times["ruff"].append(
                timed_process(
                    [
                        ruff_binary(),
                        "check",
                        "--select",
                        "F401",
                        "--no-cache",
                        "--exit-zero",
                        "--quiet",
                        str(root),
                    ],
                    env,
                )[0]
            ),
        ),
    ]
    for repeat in range(plan.scan_repeats):
        for _key, step in rotated(repeat, steps):
            step()
    log(f"context {name}: pyengineer {median(times['ours']):.3f}s, ruff F401 {median(times['ruff']):.3f}s")
    rows.append(
        Row(
            f"context_cold_{name}",
            f"context, cold, as a process ({name})",
            median(times["ours"]),
            "ruff check --select F401 --no-cache",
            median(times["ruff"]),
            "<= 1x ruff",
            1.0,
            extra={"samples": times},
        )
    )


def bench_version(plan: Plan, rows: list[Row], tmp: Path) -> None:
    """`pyengineer --version` and `--help` (the console script) against a bare interpreter start."""
    env = cli_env(tmp)
    samples: dict[str, list[float]] = {"version": [], "help": [], "bare": []}
    commands = {
        "version": [pyengineer_cli(), "--version"],
        "help": [pyengineer_cli(), "--help"],
        "bare": [sys.executable, "-I", "-c", "pass"],
    }
    for _ in range(2):  # the first start of each warms the page cache
        for command in commands.values():
            timed_process(command, env)
    for repeat in range(max(plan.starts, 5) * 2):
        order = list(commands.items())
        for key, command in order[repeat % 3 :] + order[: repeat % 3]:
            samples[key].append(timed_process(command, env)[0])
    med = {k: median(v) for k, v in samples.items()}
    log(
        f"start: --version {med['version'] * 1000:.1f} ms, --help {med['help'] * 1000:.1f} ms, bare {med['bare'] * 1000:.1f} ms"
    )
    rows.append(
        Row(
            "cli_version",
            "pyengineer --version",
            med["version"],
            "python -I -c pass",
            med["bare"],
            "<= 4x bare",
            4.0,
            extra={"samples": samples},
        )
    )
    rows.append(
        Row("cli_help", "pyengineer --help", med["help"], "python -I -c pass", med["bare"], "(report)", None)
    )


# --- the table --------------------------------------------------------------------------------------------


def fmt_value(row: Row, value: float | None) -> str:
    if value is None:
        return "-"
    if row.id.startswith("memory_keystrokes"):
        return f"{value:+.1f} MiB"
    if row.id.startswith("memory"):
        return f"{value:.0f} MiB"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def render(rows: list[Row]) -> str:
    header = ("measurement", "pyengineer", "reference", "ref value", "ratio", "target", "met")
    table = [header]
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        table.append(
            (
                row.what,
                fmt_value(row, row.pyengineer),
                row.reference,
                fmt_value(row, row.reference_value),
                ratio,
                row.target,
                met,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def environment(plan: Plan) -> dict[str, Any]:
    import lsprotocol
    import pygls
    from pyengineer import __version__

    def version(package: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as get

        try:
            return get(package)
        except PackageNotFoundError:
            return "-"

    ruff = subprocess.run([ruff_binary(), "--version"], capture_output=True, text=True).stdout.strip()
    pylsp = pylsp_command()
    pylsp_version = (
        subprocess.run([pylsp[0], "-m", "pylsp", "--version"], capture_output=True, text=True).stdout.strip()
        if pylsp
        else "-"
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "pyengineer": __version__,
        "pygls": getattr(pygls, "__version__", version("pygls")),
        "lsprotocol": getattr(lsprotocol, "__version__", version("lsprotocol")),
        "ruff": ruff,
        "pylsp": pylsp_version,
        "command": "bench/run" + (" --quick" if plan.quick else ""),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    }


SECTIONS = (
    "scan",
    "incremental",
    "keystroke",
    "notebook",
    "start",
    "memory",
    "switch",
    "guard",
    "check",
    "cli",
)

# --quick checks a few stdlib packages instead of the whole stdlib and the 20,000-file repository.
QUICK_PACKAGES = ("json", "email", "http")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark pyengineer against its peers and floors.")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (small corpora, few repeats)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"where to write the JSON (default {RESULTS})"
    )
    parser.add_argument(
        "--check-repeats", type=int, metavar="N", help="repeats of each check row (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--check-corpus",
        choices=("stdlib", "repo", "both"),
        default="both",
        help="which corpora the check section runs on (default both; --quick: a stdlib subset only)",
    )
    args = parser.parse_args(argv)
    plan = Plan.make(args.quick)
    if args.check_repeats:
        plan.check_repeats = args.check_repeats
    sections = set(args.only or SECTIONS)
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    log(f"generating (or reusing) the {plan.repo_files}-file repository")
    repo = generate_repo.ensure_repo(plan.repo_files)
    pylsp = ensure_pylsp(plan.quick) if "keystroke" in sections else None
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pyengineer-bench-") as scratch:
        tmp = Path(scratch)
        (tmp / "cache").mkdir()
        if "scan" in sections:
            bench_scans("stdlib", stdlib, plan, rows)
            bench_scans(f"repo{plan.repo_files}", repo, plan, rows)
        if "incremental" in sections:
            bench_incremental(repo, plan, rows)
        if "keystroke" in sections:
            bench_keystrokes(plan, rows, pylsp, tmp)
        if "notebook" in sections:
            notebook_keystroke.bench_notebook_keystrokes(sys.modules[__name__], plan, rows, tmp)
        if "start" in sections:
            bench_start(plan, rows, tmp)
        if "memory" in sections:
            bench_memory("stdlib", stdlib, rows, tmp)
            bench_memory(f"repo{plan.repo_files}", repo, rows, tmp)
        if "switch" in sections:
            bench_branch_switch(repo, plan, rows, tmp)
        if "guard" in sections:
            bench_guard(plan, rows, tmp)
        if "check" in sections or "cli" in sections:
            # A copy: the one-file-changed rows modify a file of it.
            copy = tmp / "stdlib"
            std_files = stdlib_python_files(stdlib, QUICK_PACKAGES if plan.quick else None)
            copy_python_tree(stdlib, copy, std_files)
            warm_up_cli(tmp)
            name = "stdlib-subset" if plan.quick else "stdlib"
            if "check" in sections:
                if args.check_corpus != "repo":
                    bench_check(name, copy, plan, rows, tmp, memory=False)
                if not plan.quick and args.check_corpus != "stdlib":
                    bench_check(f"repo{plan.repo_files}", repo, plan, rows, tmp, memory=True)
            if "cli" in sections:
                bench_context(name, copy, plan, rows, tmp)
                bench_version(plan, rows, tmp)
    table = render(rows)
    print(table, end="")
    env = environment(plan)
    env["seconds"] = round(time.perf_counter() - started, 1)
    payload = {
        "environment": env,
        "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows],
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.out} ({env['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
