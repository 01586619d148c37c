"""One confinement for every agent tool, on a real hostile workspace: case-variant and new secret file names,
symlinks and hard links onto secrets, credential files known by their content, a changed file named `*`, and a
search regex that backtracks forever. Then the real SDK against the recording stand-in: a scripted model that
tries every one of these routes gets no secret value on the wire.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyengineer.agent import tools as agent_tools
from pyengineer.agent.errors import AgentRefusedError
from pyengineer.agent.loop import AgentRequest, run_agent
from pyengineer.agent.tools import ToolOutcome
from pyengineer.checking import check_paths
from pyengineer.workspace.ignore import is_secret_file

from tests.agent.conftest import APP_PY, TEST_KEY, settings_for
from tests.agent.fake_api import FakeMessagesAPI, result_text, tool_use, turn
from tests.agent.secret_corpus import CORPUS, corpus_file
from tests.agent.test_tools import ok, refused, tools_for
from tests.repos import GitRepo

# Each secret file holds a marker that redaction would never catch (plain words): only confinement keeps it
# off the wire, so a leak through any route shows.
SECRET_FILES = {
    ".ENV": "confined_mark_env_upper",
    ".Env": "confined_mark_env_title",
    "config/.env-prod": "confined_mark_env_dash",
    ".envrc": "confined_mark_envrc",
    "deploy/prod.env.bak": "confined_mark_env_bak",
    "server.PEM": "confined_mark_pem_upper",
    "keys/ID_RSA": "confined_mark_rsa_upper",
    "SECRETS.yaml": "confined_mark_secrets_upper",
    ".NETRC": "confined_mark_netrc_upper",
    "infra/prod.tfvars": "confined_mark_tfvars",
    "android/release.jks": "confined_mark_jks",
    ".htpasswd": "confined_mark_htpasswd",
    "kubeconfig": "confined_mark_kubeconfig_name",
    ".kube/config": "confined_mark_kube_dir",
}
ENV_MARK = "confined_mark_dotenv"
SERVICE_ACCOUNT_MARK = "confined_mark_service_account"
KUBECONFIG_MARK = "confined_mark_kubeconfig_content"
STAR_MARK = "a_file_named_star_changed"

SERVICE_ACCOUNT = (
    "{\n"
    '  "type": "service_account",\n'
    '  "project_id": "shop-prod",\n'
    '  "private_key_id": "1f2e3d4c",\n'
    '  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n",\n'
    f'  "client_email": "{SERVICE_ACCOUNT_MARK}@shop-prod.iam.gserviceaccount.com"\n'
    "}\n"
)
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
    f"    server: https://{KUBECONFIG_MARK}.internal:6443\n  name: prod\nusers:\n- name: admin\n"
)


def all_marks() -> list[str]:
    return [*SECRET_FILES.values(), ENV_MARK, SERVICE_ACCOUNT_MARK, KUBECONFIG_MARK]


def hostile(project: GitRepo) -> GitRepo:
    """The project with every route to a secret planted in it (files, links, tracked changes)."""
    project.write(".gitignore", "local/\n*.log\n.env\n")
    project.write("star_dir/*", "x = 1\n")
    project.write("deploy/google.json", SERVICE_ACCOUNT)
    project.commit(
        "ignore .env; a file named *; a service account", ".gitignore", "star_dir/*", "deploy/google.json"
    )
    # A tracked .env (added by mistake), changed since: its hunk must not show in git_diff.
    project.write(".env", f"note = {ENV_MARK}\n")
    project.git("add", "-f", ".env")
    project.commit("track .env by mistake", ".env")
    project.write(".env", f"note = {ENV_MARK} changed\n")
    project.write("star_dir/*", f"x = '{STAR_MARK}'\n")
    (project.root / "deploy/google.json").unlink()  # a deleted credential: its removed lines are its content
    for relative, mark in SECRET_FILES.items():
        project.write(relative, f"note = {mark}\n")
    project.write("deploy/cluster.yaml", KUBECONFIG)  # a kubeconfig by its content, under an ordinary name
    root = project.root
    os.symlink(".env", root / "notes.txt")
    (root / "docs").mkdir()
    os.symlink("../.ENV", root / "docs/settings.md")
    os.symlink("keys", root / "conf")
    os.link(root / ".env", root / "backup.txt")
    os.link(root / "SECRETS.yaml", root / "app/cached.py")
    os.link(root / "deploy/cluster.yaml", root / "cluster_copy.yaml")
    project.git("add", "backup.txt")  # a staged hard link to .env: git_diff would print .env's text
    return project


# -- names ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".ENV", ".Env", ".env.Local", ".env-prod", ".envrc", "prod.env", "prod.env.bak", "server.PEM",
        "ID_RSA", "id_ed25519.pub", "SECRETS.yaml", ".NETRC", "_netrc", "prod.tfvars", "prod.tfvars.json",
        "release.jks", ".htpasswd", "kubeconfig", "ci.kubeconfig", ".kube/config", ".ssh/config",
        ".AWS/credentials", "home/.docker/config.json", "a/.Env/b.txt", "credentials.JSON",
    ],
)  # fmt: skip
def test_secret_file_names_are_recognised_in_any_case_and_on_any_component(path: str) -> None:
    assert is_secret_file(path)


@pytest.mark.parametrize("path", ["environment.py", "app/envs.py", "tokens.py", "keys.py", "docs/kube.md"])
def test_ordinary_names_are_not_secret_files(path: str) -> None:
    assert not is_secret_file(path)


@pytest.mark.parametrize("path", [*SECRET_FILES, "conf/ID_RSA"])
def test_read_file_refuses_every_secret_name(project: GitRepo, path: str) -> None:
    hostile(project)
    message = refused(tools_for(project.root).run("read_file", {"path": path}))
    assert "secrets" in message
    assert not any(mark in message for mark in all_marks())


# -- links and content ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("notes.txt", "may hold secrets"),  # a symlink to .env
        ("docs/settings.md", "may hold secrets"),  # a symlink to .ENV
        ("backup.txt", "hard link to a secret file"),  # a hard link to .env (gitignored)
        ("app/cached.py", "hard link to a secret file"),  # a hard link to SECRETS.yaml
        ("deploy/cluster.yaml", "kubeconfig file"),
        ("cluster_copy.yaml", "kubeconfig file"),
    ],
)
def test_links_to_secrets_and_credential_content_are_refused(
    project: GitRepo, path: str, reason: str
) -> None:
    hostile(project)
    assert reason in refused(tools_for(project.root).run("read_file", {"path": path}))


def test_list_files_and_search_see_only_what_read_file_may_read(project: GitRepo) -> None:
    hostile(project)
    tools = tools_for(project.root)
    listing = ok(tools.run("list_files", {"glob": "**"})).splitlines()
    # Names are listed; the credential files known by content are refused when read (below).
    assert listing == [
        ".gitignore",
        "app/__init__.py",
        "app/main.py",
        "cluster_copy.yaml",
        "deploy/cluster.yaml",
        "pyproject.toml",
        "star_dir/*",
    ]
    # Every line of every file the search may read: no secret file is among them.
    everything = ok(tools.run("search", {"regex": "."}))
    assert not any(mark in everything for mark in all_marks())
    assert "app/main.py:9: def get_order(order_id):" in everything
    assert ok(tools.run("search", {"regex": "confined_mark"})).startswith("no matches")
    readable = [p for p in listing if not tools.run("read_file", {"path": p}).is_error]
    assert readable == [p for p in listing if not p.endswith("cluster.yaml") and p != "cluster_copy.yaml"]


def test_the_agent_walks_with_the_scans_rules(project: GitRepo) -> None:
    project.write("build/gen.py", "x = 1\n")  # an always-skipped folder
    project.write("env/pyvenv.cfg", "home = /usr\n")  # a virtual environment by its marker
    project.write("env/lib/site.py", "x = 1\n")
    project.write("local/deep/x.py", "x = 1\n")  # gitignored folder
    project.write("pkg/.gitignore", "generated_*.py\n")  # a nested .gitignore
    project.write("pkg/generated_a.py", "x = 1\n")
    project.write("pkg/real.py", "x = 1\n")
    listing = ok(tools_for(project.root, exclude=("pkg/real.py",)).run("list_files", {"glob": "**"}))
    assert listing.splitlines() == [
        ".gitignore",
        "app/__init__.py",
        "app/main.py",
        "pkg/.gitignore",
        "pyproject.toml",
    ]


# -- git_diff -------------------------------------------------------------------------------------------------


def test_git_diff_takes_paths_literally_and_drops_secret_hunks(project: GitRepo) -> None:
    hostile(project)
    project.write("app/main.py", APP_PY + "\nVERSION = 2\n")
    tools = tools_for(project.root)
    diff = ok(tools.run("git_diff", {}))
    assert "+VERSION = 2" in diff and STAR_MARK in diff
    assert "diff --git a/star_dir/* b/star_dir/*" in diff
    assert not any(mark in diff for mark in all_marks()), diff
    assert ".env" not in diff and "backup.txt" not in diff and "google.json" not in diff
    assert "3 changed file(s) not shown" in diff
    # `*` is the file named `*`, not a glob that would select .env and the rest.
    star = ok(tools.run("git_diff", {"path": "star_dir/*"}))
    assert STAR_MARK in star and "app/main.py" not in star and ENV_MARK not in star
    assert "secrets" in refused(tools.run("git_diff", {"path": ".env"}))
    assert "hard link" in refused(tools.run("git_diff", {"path": "backup.txt"}))


# -- search cannot hang ---------------------------------------------------------------------------------------


def test_a_catastrophic_regex_is_stopped_with_a_clear_error_while_analysis_goes_on(
    project: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_tools, "MAX_SEARCH_SECONDS", 3.0)
    project.write("data/long.txt", "x" * 5_000 + "\n")
    analysed = threading.Event()

    def analyse() -> None:
        # The diagnostics' work, on another thread: it must not wait for the regex.
        check_paths([project.root])
        analysed.set()

    tools = tools_for(project.root)
    tools.workspace.files()  # walked before the race starts
    started = threading.Event()
    outcome: list[ToolOutcome] = []

    def search() -> None:
        started.set()
        outcome.append(tools.run("search", {"regex": "(x+x+)+y"}))

    searcher = threading.Thread(target=search)
    searcher.start()
    started.wait()
    analyser = threading.Thread(target=analyse)
    analyser.start()
    analyser.join(60)
    # The analysis finished while the regex was still running: the match does not hold the GIL.
    assert analysed.is_set()
    assert searcher.is_alive()
    searcher.join(60)
    message = refused(outcome[0])
    assert "time limit of 3 s" in message and "data/long.txt" in message and "catastrophically" in message


_PATTERNS = [
    r"def \w+\(", r"^\s*def", r"\s+$", r"^$", r"$", r"x*", r"a.b", r"(?s)a.*b", r"\bfoo\b", r"[^a]+", r"\n",
    r"a\s+b", r"foo(?!\s)", r"(?<!\S)bar", r"\Afoo", r"o\Z", r"(?i)FOO|BAR", r"(a|ab)(c|bcd)", r"^\W",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_PATTERNS),
    st.lists(st.text(alphabet="abfo \t\rdx(", max_size=12), max_size=8).map("\n".join),
)
def test_search_matches_line_by_line_as_re_does(pattern: str, text: str) -> None:
    """The whole-file pass that finds candidate lines never loses a line `re` would match on its own."""
    expected = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if re.search(pattern, line)]
    found = list(agent_tools._LineSearch(pattern).matching_lines(text, time.monotonic() + 60, "f.py"))
    assert found == expected


# -- on the wire ------------------------------------------------------------------------------------------------


def every_route() -> list[dict[str, Any]]:
    """The tool calls of a model trying every way to a secret."""
    paths = [*SECRET_FILES, ".env", "notes.txt", "docs/settings.md", "conf/ID_RSA", "backup.txt"]
    paths += ["app/cached.py", "deploy/cluster.yaml", "cluster_copy.yaml", "deploy/google.json"]
    calls = [tool_use("read_file", {"path": path}) for path in paths]
    calls += [
        tool_use("read_file", {"path": "app/keys.py"}),
        tool_use("list_files", {"glob": "**"}),
        tool_use("search", {"regex": "."}),
        tool_use("search", {"regex": "confined|note|SIGNING|SEED|TOKEN|password|://"}),
        tool_use("git_diff", {}),
        tool_use("git_diff", {"path": "star_dir/*"}),
        tool_use("git_diff", {"path": "backup.txt"}),
        tool_use("project_context", {}),
    ]
    return calls


def finish() -> dict[str, Any]:
    return tool_use("propose_edits", {"edits": [], "explanation": "Nothing to change."})


def test_no_secret_reaches_the_wire_through_any_tool_or_the_prompt(
    project: GitRepo, fake_api: FakeMessagesAPI
) -> None:
    hostile(project)
    keys = corpus_file()
    project.write("app/keys.py", keys)
    fake_api.add(turn(*every_route()), turn(finish()))
    # The request's own file holds every corpus value: the first turn carries its text.
    result = run_agent(
        AgentRequest(root=project.root, question="Audit the keys", path="app/keys.py", document_text=keys),
        settings_for(fake_api),
        api_key=TEST_KEY,
        max_retries=0,
    )
    assert result.complete
    # The editor's buffer of a hard link to .env is the secret itself: it never becomes the first turn.
    fake_api.add(turn(finish()))
    run_agent(
        AgentRequest(
            root=project.root,
            question="What is in here?",
            path="backup.txt",
            document_text=(project.root / ".env").read_text(),
        ),
        settings_for(fake_api),
        api_key=TEST_KEY,
        max_retries=0,
    )
    # Secret files named as the request's file are refused before anything is sent.
    for path in (".ENV", "notes.txt", "keys/ID_RSA"):
        with pytest.raises(AgentRefusedError):
            run_agent(
                AgentRequest(root=project.root, question="x", path=path),
                settings_for(fake_api),
                api_key=TEST_KEY,
                max_retries=0,
            )
    requests = [r for r in fake_api.requests if "count_tokens" not in r.path]
    assert len(requests) == 3

    sent = fake_api.all_bytes()
    decoded = json.dumps([r.body for r in fake_api.requests])
    values = [needle for secret in CORPUS for needle in secret.needles] + all_marks()
    leaked = [value for value in values if value.encode() in sent or value in decoded]
    assert leaked == []
    # The tools ran and answered (refusals for the routes to secrets), so nothing passed by being skipped.
    results = {r["tool_use_id"]: r for r in requests[1].tool_results()}
    calls = [c for c in requests[1].body["messages"][1]["content"] if c["type"] == "tool_use"]
    answered = {c["input"].get("path", c["input"].get("regex", c["name"])): results[c["id"]] for c in calls}
    assert answered[".ENV"]["is_error"] and answered["backup.txt"]["is_error"]
    assert "[REDACTED:secret-assignment]" in result_text(answered["app/keys.py"])
    assert "[REDACTED:high-entropy-string]" in result_text(answered["app/keys.py"])
    assert STAR_MARK in result_text(answered["star_dir/*"])
    # The request's file went into the first turn, redacted.
    assert "[REDACTED:url-password]" in json.dumps(requests[0].body["messages"])
