"""The watcher inside the real `pyengineer serve`: its threads, real inotify exhaustion, a re-created
workspace folder, and a stray file in a home folder. Threads and inotify watches are counted from /proc.

Exhaustion is real: the server runs in a user namespace (`unshare --user --map-root-user`) whose own inotify
limit (`/proc/sys/user/max_inotify_watches`, or `max_inotify_instances`) is lowered. Those two files are per
user namespace, so the limit binds the server and nothing else. (`/proc/sys/fs/inotify/max_user_watches` is
not: writing it from inside the namespace changes the whole machine's limit; never do that.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.lsp.conftest import git, lsp_session, make_repo, open_doc, wait_for, wait_for_codes

pytestmark = pytest.mark.timeout(180)

CLIENT = "neovim@v0.11.0"
# Generous: the worker pool, pygls, the parent watch, the watcher's two. The old watcher needed one per folder.
MAX_THREADS = 40
ML = "import torch\n\n\ndef predict(x):\n    return torch.tensor(x)\n"
# A row loop PE701 reports (it fills a column with arithmetic on the row's columns).
PANDAS_LOOP = (
    "import pandas as pd\n\ndf = pd.DataFrame()\nfor i, row in df.iterrows():\n"
    '    df.loc[i, "total"] = row["a"] * row["b"]\n'
)


def server_pid(lsp: LanguageClient) -> int:
    server = lsp._server  # the asyncio subprocess pygls started
    assert server is not None
    return server.pid


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def inotify_watches(pid: int) -> int:
    """The inotify watches the process holds, over all its inotify descriptors (one line per watch)."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        total += text.count("inotify wd:")
    return total


def statuses(lsp: LanguageClient) -> list[dict[str, Any]]:
    return lsp.statuses  # type: ignore[attr-defined, no-any-return]


def last_status(lsp: LanguageClient, root: Path) -> dict[str, Any] | None:
    mine = [s for s in statuses(lsp) if s.get("root") == str(root.resolve())]
    return mine[-1] if mine else None


def many_folders(root: Path, top: int, per: int) -> None:
    for i in range(top):
        for j in range(per):
            (root / f"pkg{i}" / f"sub{j}").mkdir(parents=True, exist_ok=True)


async def rescan(lsp: LanguageClient) -> Any:
    return await lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command="pyengineer.rescan", arguments=[])
    )


async def test_three_thousand_folders_cost_no_thread_each_and_a_branch_switch_is_seen(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n", "requirements.txt": "torch\n"})
    many_folders(repo, 30, 100)  # 3,000 folders (+ 30 + the root)
    (repo / "node_modules" / "big").mkdir(parents=True)  # ignored: never watched
    async with lsp_session([repo], client=CLIENT) as lsp:
        await wait_for(lambda: last_status(lsp, repo), timeout=60)
        pid = server_pid(lsp)
        await wait_for(lambda: inotify_watches(pid) >= 3031, timeout=60)
        threads = thread_count(pid)
        assert threads <= MAX_THREADS, f"{threads} threads for 3,031 watched folders"
        assert last_status(lsp, repo)["watching"] == "inotify"  # type: ignore[index]

        git(repo, "checkout", "-q", "-b", "feature/watch")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("branch") == "feature/watch", timeout=15)

        # A folder created now is watched too: a file written into it later still arrives.
        (repo / "pkg7" / "sub7" / "fresh").mkdir()
        await asyncio.sleep(0.5)
        (repo / "pkg7" / "sub7" / "fresh" / "model.py").write_text(ML, encoding="utf-8")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("mlFileCount") == 1, timeout=15)
        assert thread_count(pid) <= MAX_THREADS


def _namespaces_work() -> bool:
    try:
        probe = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-root-user",
                "sh",
                "-c",
                "echo 5 > /proc/sys/user/max_inotify_watches",
            ],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(
    not _namespaces_work(),
    reason="needs unprivileged user namespaces (unshare --user) to lower inotify limits",
)
@pytest.mark.parametrize(
    ("limit", "value"),
    [("max_inotify_watches", 200), ("max_inotify_instances", 0)],
    ids=["watches", "instances"],
)
async def test_inotify_limits_reached_fall_back_to_polling_and_say_so_once(
    tmp_path: Path, limit: str, value: int
) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n", "requirements.txt": "torch\n"})
    many_folders(repo, 3, 100)  # 300 folders: more than 200 watches
    launcher = [
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        f'echo {value} > /proc/sys/user/{limit} && exec "$0" "$@"',
    ]
    async with lsp_session([repo], client=CLIENT, launcher=launcher) as lsp:
        status = await wait_for(
            lambda: (s := last_status(lsp, repo)) is not None and s.get("watching") == "polling" and s,
            timeout=60,
        )
        assert "polling" in status["watchProblem"] and "max_user" in status["watchProblem"]

        def told() -> list[types.ShowMessageParams]:
            return [m for m in lsp.messages if "polling" in m.message]

        await wait_for(told, timeout=10)
        assert told()[0].type == types.MessageType.Warning
        # A folder that could never have had a watch (past the 200th): its change arrives by polling.
        (repo / "pkg2" / "sub99" / "model.py").write_text(ML, encoding="utf-8")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("mlFileCount") == 1, timeout=20)
        git(repo, "checkout", "-q", "-b", "feature/polled")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("branch") == "feature/polled", timeout=20)
        # A rescan tries inotify again, meets the same limit, polls again, and does not say it twice.
        await rescan(lsp)
        await asyncio.sleep(1.0)
        assert (last_status(lsp, repo) or {}).get("watching") == "polling"
        assert len(told()) == 1, [m.message for m in told()]


@pytest.mark.skipif(
    not _namespaces_work(),
    reason="needs unprivileged user namespaces (unshare --user) to lower inotify limits",
)
async def test_inotify_limit_reached_by_new_folders_later_falls_back_to_polling(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "import os\n", "requirements.txt": "torch\n"})
    many_folders(repo, 1, 150)  # 152 watches with the git dir: under the limit of 200
    launcher = ["unshare", "--user", "--map-root-user", "sh", "-c"]
    launcher.append('echo 200 > /proc/sys/user/max_inotify_watches && exec "$0" "$@"')
    async with lsp_session([repo], client=CLIENT, launcher=launcher) as lsp:
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("watching") == "inotify", timeout=60)
        # An unzip (a checkout) adds 100 folders: the limit is met while the new folders are being watched.
        many_folders(repo / "unzipped", 1, 100)
        status = await wait_for(
            lambda: (s := last_status(lsp, repo)) is not None and s.get("watching") == "polling" and s,
            timeout=30,
        )
        assert "max_user_watches" in status["watchProblem"]
        await wait_for(lambda: [m for m in lsp.messages if "polling" in m.message], timeout=10)
        (repo / "unzipped" / "pkg0" / "sub99" / "model.py").write_text(ML, encoding="utf-8")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("mlFileCount") == 1, timeout=20)
        assert len([m for m in lsp.messages if "polling" in m.message]) == 1


async def test_the_workspace_folder_deleted_and_recreated_is_watched_again(tmp_path: Path) -> None:
    files = {"app.py": "import os\n", "requirements.txt": "torch\n"}
    repo = make_repo(tmp_path / "repo", files)
    async with lsp_session([repo], client=CLIENT) as lsp:
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("branch") == "main", timeout=30)
        await wait_for(lambda: inotify_watches(server_pid(lsp)) > 0, timeout=30)
        shutil.rmtree(repo)
        make_repo(repo, files)  # a tool that re-clones in place
        # Let the deletion's own batch be handled first: the switch must come through the new watches.
        await asyncio.sleep(2.5)
        git(repo, "checkout", "-q", "-b", "after/reclone")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("branch") == "after/reclone", timeout=15)
        assert (last_status(lsp, repo) or {}).get("watching") == "inotify"

        # Deleted, re-created, then a rescan asked for at once: watching restarts, the next switch is seen.
        shutil.rmtree(repo)
        make_repo(repo, files)
        await rescan(lsp)
        await asyncio.sleep(2.5)
        git(repo, "checkout", "-q", "-b", "after/rescan")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("branch") == "after/rescan", timeout=15)
        # And files written in the new tree are seen.
        (repo / "model.py").write_text(ML, encoding="utf-8")
        await wait_for(lambda: (last_status(lsp, repo) or {}).get("mlFileCount") == 1, timeout=15)


async def test_a_stray_file_in_the_home_folder_is_analysed_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    many_folders(home, 15, 100)  # 1,500 folders
    for i in range(15):
        (home / f"pkg{i}" / "mod.py").write_text("import os\n", encoding="utf-8")
    scratch = home / "scratch.py"
    scratch.write_text(PANDAS_LOOP, encoding="utf-8")
    # A project deeper in the same home folder: found from its file, within three folders of it.
    project = home / "code" / "proj"
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'proj'\n", encoding="utf-8")
    module = project / "src" / "pkg" / "mod.py"
    module.write_text(PANDAS_LOOP, encoding="utf-8")

    # A client with no folders that sends rootUri=$HOME.
    async with lsp_session([], client=CLIENT, root_uri=home.as_uri(), env={"HOME": str(home)}) as lsp:
        uri = open_doc(lsp, scratch)
        await wait_for_codes(lsp, uri, lambda codes: "PE701" in codes, timeout=20)
        pid = server_pid(lsp)
        status = await wait_for(lambda: last_status(lsp, home), timeout=10)
        await asyncio.sleep(1.0)
        assert inotify_watches(pid) == 0
        assert thread_count(pid) <= MAX_THREADS
        scans = [
            r
            for values in lsp.progress_reports.values()
            for r in values
            if isinstance(r, types.WorkDoneProgressBegin) and "scanning" in r.title
        ]
        assert scans == [], "the home folder was scanned"
        assert status["singleFile"] is True and status["watching"] == "off"

        # The project's file makes a workspace of the project (scanned and watched), not of the home folder.
        module_uri = open_doc(lsp, module)
        await wait_for_codes(lsp, module_uri, lambda codes: "PE701" in codes, timeout=20)
        project_status = await wait_for(
            lambda: (s := last_status(lsp, project)) is not None and s.get("watching") == "inotify" and s,
            timeout=20,
        )
        assert project_status["singleFile"] is False
        assert 0 < inotify_watches(pid) < 20
