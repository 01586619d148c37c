#!/usr/bin/env python3
"""Event storms against the real server: a checkout between branches that differ in 10,000 files, and
`rm -rf` of a 5,000-file folder, while `pyengineer serve` watches the repository.

For each storm it reports how many change batches the server handled (from its debug log), how long git
took and how long until the server's last batch, the server's CPU time during the storm and over the
following seconds (from /proc/PID/stat), and whether the server still answers and reports the right branch.
Bounded: every wait has a deadline, and the script exits non-zero if a bound is broken.

    .venv/bin/python bench/stress_watch.py [--files 10000] [--rm-files 5000] [--idle 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hardening.rawpipe import RawServer  # noqa: E402
from tests.lsp.conftest import git, make_repo  # noqa: E402

PER_FOLDER = 100


def batches_in(log: Path) -> list[tuple[float, int, bool]]:
    """(time, paths, git) for every batch the server handled, from its debug log."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if ": changes in " in line:
            stamp = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
            detail = line.split(": changes in ", 1)[1]
            paths = int(detail.rsplit(": ", 1)[1].split(" paths")[0])
            out.append((stamp, paths, "git=True" in detail))
    return out


def wait_quiet(server: RawServer, log: Path, quiet: float, limit: float) -> float:
    """Wait until the server handled no batch for `quiet` seconds; returns the wall time of its last batch."""
    started = time.time()
    seen, last = -1, started
    while time.time() - last < quiet:
        if time.time() - started > limit:
            raise SystemExit(f"the server never went quiet within {limit}s")
        server.pump(0.1)
        found = batches_in(log)
        if len(found) != seen:
            seen = len(found)
            last = max(time.time(), found[-1][0] if found else 0)
    found = batches_in(log)
    return found[-1][0] if found else started


def storm(
    name: str, server: RawServer, log: Path, action: list[str] | Path, cwd: Path, idle: float
) -> dict[str, object]:
    before = len(batches_in(log))
    cpu_before = server.cpu_seconds()
    started = time.time()
    if isinstance(action, Path):
        shutil.rmtree(action)
    else:
        subprocess.run(action, cwd=cwd, check=True)
    done = time.time()
    last = wait_quiet(server, log, quiet=2.0, limit=120)
    # A single large batch logs when it starts and then works silently: the log going quiet does not mean
    # the server is done. Done is when a half-second window costs it (almost) no CPU.
    deadline = time.time() + 120
    while time.time() < deadline:
        window_start = server.cpu_seconds()
        time.sleep(0.5)
        if server.cpu_seconds() - window_start < 0.025:
            break
    last = max(last, time.time() - 0.5)
    cpu_storm = server.cpu_seconds() - cpu_before
    cpu_idle_before = server.cpu_seconds()
    time.sleep(idle)
    cpu_idle = server.cpu_seconds() - cpu_idle_before
    batches = batches_in(log)[before:]
    result = {
        "storm": name,
        "command_seconds": round(done - started, 2),
        "batches": len(batches),
        "paths": sum(b[1] for b in batches),
        "server_done_after_command_seconds": round(max(0.0, last - done), 2),
        "server_cpu_seconds_during": round(cpu_storm, 2),
        f"server_cpu_seconds_over_next_{idle:g}s": round(cpu_idle, 3),
        "rss_mb": server.rss_kb() // 1024,
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="files that differ between the branches")
    parser.add_argument("--rm-files", type=int, default=5_000, help="files in the folder removed with rm -rf")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU measured after a storm")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pyengineer-storm-") as tmp:
        base = Path(tmp)
        repo = make_repo(base / "repo", {"app.py": "import os\n", "requirements.txt": "torch\n"})
        git(repo, "checkout", "-q", "-b", "many")
        for n in range(args.files):
            path = repo / "gen" / f"f{n // PER_FOLDER:03d}" / f"m{n:05d}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"import torch\nVALUE = {n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "generated")
        git(repo, "checkout", "-q", "main")

        log = base / "server.log"
        server = RawServer(base, log_file=log)
        failures: list[str] = []
        try:
            server.initialize(repo, {"window": {"workDoneProgress": False}})
            wait_quiet(server, log, quiet=2.0, limit=60)
            results = [
                storm(
                    "git checkout (creates files)",
                    server,
                    log,
                    ["git", "checkout", "-q", "many"],
                    repo,
                    args.idle,
                ),
                storm(
                    "git checkout (deletes files)",
                    server,
                    log,
                    ["git", "checkout", "-q", "main"],
                    repo,
                    args.idle,
                ),
            ]
            scratch = repo / "scratch"
            for n in range(args.rm_files):
                path = scratch / f"s{n // PER_FOLDER:03d}" / f"x{n:05d}.py"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("import pandas\n")
            wait_quiet(server, log, quiet=2.0, limit=120)
            results.append(storm(f"rm -rf of {args.rm_files} files", server, log, scratch, repo, args.idle))
            # Still serving, and on the right branch.
            answer = server.response(
                server.request(
                    "workspace/executeCommand", {"command": "pyengineer.showContext", "arguments": []}
                ),
                timeout=30,
            )
            context = answer.get("result") or {}
            branch = (context.get("git") or {}).get("branch")
            print(json.dumps({"final_branch": branch, "ml_files": len(context.get("ml_files") or [])}))
            if branch != "main":
                failures.append(f"final branch is {branch!r}, not 'main'")
            for result in results:
                # The watcher flushes at least once a second during a storm, so a long checkout is several
                # batches; what must not happen is a backlog (more batches than seconds, plus a tail).
                allowed = float(str(result["command_seconds"])) + 5
                if int(str(result["batches"])) > allowed:
                    failures.append(f"{result['storm']}: {result['batches']} batches (allowed {allowed:.0f})")
                idle_key = next(k for k in result if k.startswith("server_cpu_seconds_over_next"))
                if float(str(result[idle_key])) > 0.1 * args.idle:
                    failures.append(f"{result['storm']}: not idle afterwards ({result[idle_key]}s CPU)")
        finally:
            server.close()
        for failure in failures:
            print("FAIL:", failure)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
