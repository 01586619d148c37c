"""`pyengineer check` in parallel and from the results cache: the same output as a serial, uncached run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyengineer import checking, results_cache
from pyengineer.checking import ProjectCheck, check_paths
from pyengineer.workspace.context import WorkspaceContext

from tests.cli.test_check import run_cli
from tests.cli.test_check_adoption import broken_rule  # noqa: F401 (a fixture)
from tests.repos import GitRepo, RepoFactory

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# A part of the stdlib: packages of many small and a few large files, async code, odd corners.
STDLIB_PARTS = ("json", "email", "asyncio", "concurrent", "logging", "urllib", "wsgiref", "xmlrpc")


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PYENGINEER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def stdlib_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stdlib")
    for name in STDLIB_PARTS:
        shutil.copytree(STDLIB / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "test*"))
    for name in ("argparse.py", "typing.py", "dataclasses.py", "subprocess.py", "pathlib.py"):
        if (STDLIB / name).is_file():
            shutil.copy(STDLIB / name, root / name)
    return root


def _one(projects: list[ProjectCheck]) -> ProjectCheck:
    assert len(projects) == 1
    return projects[0]


def _dump(project: ProjectCheck) -> list[object]:
    return [f.model_dump(mode="json") for f in project.findings]


def test_parallel_and_cached_output_equals_a_serial_uncached_run_on_the_stdlib(
    stdlib_copy: Path, cache_folder: Path
) -> None:
    serial = run_cli("check", "--no-cache", "--jobs", "1", "--format", "json", ".", cwd=stdlib_copy)
    assert serial.returncode == 1, serial.stderr
    assert not (cache_folder / "results").exists()  # --no-cache neither reads nor writes results
    cold = run_cli("check", "--jobs", "2", "--format", "json", ".", cwd=stdlib_copy)
    assert list((cache_folder / "results").glob("*.json"))
    warm = run_cli("check", "--jobs", "2", "--format", "json", ".", cwd=stdlib_copy)
    text_serial = run_cli("check", "--no-cache", "--jobs", "1", ".", cwd=stdlib_copy)
    text_warm = run_cli("check", ".", cwd=stdlib_copy)
    assert json.loads(serial.stdout)["findings"], "the stdlib part gave no findings: the test proves nothing"
    assert cold.stdout == serial.stdout
    assert warm.stdout == serial.stdout
    assert (cold.returncode, warm.returncode) == (1, 1)
    assert text_warm.stdout == text_serial.stdout


def test_in_process_parallel_run_uses_workers_and_the_cache_and_keeps_the_order(
    stdlib_copy: Path, cache_folder: Path
) -> None:
    serial = _one(check_paths([stdlib_copy], jobs=1, use_cache=False))
    assert serial.files_checked > checking.PARALLEL_MIN_FILES
    cold = _one(check_paths([stdlib_copy], jobs=2))
    warm = _one(check_paths([stdlib_copy], jobs=2))
    assert cold.cached == 0
    assert warm.cached == warm.files_checked == serial.files_checked
    assert _dump(cold) == _dump(warm) == _dump(serial)


def test_chunks_are_balanced_by_size() -> None:
    jobs = [
        checking._Job(i, 0, f"/x/{i}.py", f"{i}.py", size, False, None)
        for i, size in enumerate([90, 10, 50, 40, 30, 20])
    ]
    chunks = checking._chunks(jobs, 2)
    totals = sorted(sum(j.size for j in c) for c in chunks)
    assert totals == [120, 120]
    assert sorted(j.index for c in chunks for j in c) == list(range(6))


def test_chunks_weigh_a_cached_file_as_a_fraction_of_one_to_analyse() -> None:
    # One 1,600-byte file to analyse costs as much as sixteen cached ones of the same size.
    entry = ["digest", "[]", []]
    jobs = [checking._Job(0, 0, "/x/new.py", "new.py", 1600, False, None)] + [
        checking._Job(i, 0, f"/x/{i}.py", f"{i}.py", 1600, False, entry) for i in range(1, 17)
    ]
    chunks = checking._chunks(jobs, 2)
    assert sorted(len(c) for c in chunks) == [1, 16]


def test_a_warm_run_in_workers_takes_every_file_from_the_cache_in_order(
    stdlib_copy: Path, cache_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cached files are read and hashed in the workers too, when there are enough of them to pay for it.
    serial = _one(check_paths([stdlib_copy], jobs=1, use_cache=False))
    _one(check_paths([stdlib_copy], jobs=1))
    pools: list[int | None] = []

    class CountedPool(checking.ProcessPoolExecutor):
        def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
            pools.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(checking, "ProcessPoolExecutor", CountedPool)
    assert _one(check_paths([stdlib_copy], jobs=2)).cached == serial.files_checked
    assert pools == []  # a few hundred cached files: cheaper here than in workers
    monkeypatch.setattr(checking, "PARALLEL_MIN_FILES", 2)
    warm = _one(check_paths([stdlib_copy], jobs=2))
    assert pools == [2]
    assert warm.cached == warm.files_checked == serial.files_checked
    assert _dump(warm) == _dump(serial)


def test_a_cache_hit_on_an_ml_file_still_reports_pe201_from_the_recorded_imports(
    project: Path, cache_folder: Path
) -> None:
    (project / "train.py").write_text("import os\nimport torch.nn as nn\n\nmodel = nn.Linear(2, 2)\n")
    (project / "plain.py").write_text("text = 'torch is only named here'\n")
    clean = _dump(_check(project, use_cache=False))
    assert [f["code"] for f in clean if f["path"].endswith("train.py")] == ["PE201"]
    _check(project)
    (path,) = (cache_folder / "results").glob("*.json")
    files = json.loads(path.read_text())["files"]
    assert files["train.py"][2] == ["os", "torch"]
    assert files["plain.py"][2] in ([], None)
    warm = _check(project)
    assert warm.cached == 4 and _dump(warm) == clean
    # An entry whose imports are not a list of names is not believed: the text itself is asked again.
    data = json.loads(path.read_text())
    data["files"]["train.py"][2] = {"not": "a list"}
    path.write_text(json.dumps(data))
    again = _check(project)
    assert again.cached == 4 and _dump(again) == clean


def test_the_entry_of_a_deleted_file_is_dropped(project: Path, cache_folder: Path) -> None:
    _check(project)
    (project / "util.py").unlink()
    _check(project)
    (path,) = (cache_folder / "results").glob("*.json")
    assert sorted(json.loads(path.read_text())["files"]) == ["app.py"]


# --- the cache's key: each part invalidates ----------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\n')
    (root / "app.py").write_text("import os\n\n\ndef handler(request):\n    return os.environ['X']\n")
    (root / "util.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def _check(root: Path, **kwargs: object) -> ProjectCheck:
    return _one(check_paths([root], **kwargs))  # type: ignore[arg-type]


def test_a_warm_run_reanalyses_only_the_file_whose_content_changed(project: Path, cache_folder: Path) -> None:
    assert _check(project).cached == 0
    assert _check(project).cached == 2
    (project / "util.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    warm = _check(project)
    assert warm.cached == 1
    assert _dump(warm) == _dump(_check(project, use_cache=False))


def test_settings_rules_version_and_facts_each_invalidate(
    project: Path, cache_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(project)
    assert _check(project).cached == 2
    # settings
    assert _check(project, overrides={"type_hints": "all"}).cached == 0
    assert _check(project, overrides={"type_hints": "all"}).cached == 2
    # the rule set
    assert _check(project, overrides={"ignore": ["PE2"]}).cached == 0
    assert _check(project).cached == 0  # one cache file per root: the last key wins
    assert _check(project).cached == 2
    # the version
    monkeypatch.setattr(results_cache, "__version__", "0.0.0-other")
    assert _check(project).cached == 0
    assert _check(project).cached == 2
    # the workspace facts rules read: a framework now in use
    (project / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0"\ndependencies = ["django>=4"]\n'
    )
    facts = _check(project)
    assert "django" in facts.context.frameworks
    assert facts.cached == 0
    assert _dump(facts) == _dump(_check(project, use_cache=False))


def test_every_context_field_is_declared_read_or_not_read_by_rules() -> None:
    # A new WorkspaceContext field that rules read must go into the cache key (results_cache.FACT_FIELDS).
    declared = (
        set(results_cache.FACT_FIELDS)
        | set(results_cache.COUNTED_FIELDS)
        | set(results_cache.NOT_READ_BY_RULES)
    )
    assert declared == set(WorkspaceContext.model_fields)


def test_off_turns_the_cache_off(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENGINEER_CACHE_DIR", "off")
    _check(project)
    assert _check(project).cached == 0


def test_a_corrupt_cache_is_ignored_and_rebuilt(project: Path, cache_folder: Path) -> None:
    clean = _dump(_check(project, use_cache=False))
    _check(project)
    (path,) = (cache_folder / "results").glob("*.json")
    path.write_bytes(b"\x00{not json")
    first = _check(project)
    assert first.cached == 0 and _dump(first) == clean
    assert json.loads(path.read_text())["files"]  # rebuilt
    # The right key, but an entry that is not findings: that file is analysed again, never trusted.
    data = json.loads(path.read_text())
    digest = data["files"]["app.py"][0]
    data["files"]["app.py"] = [digest, '[{"code": "PE000", "oops": true}]', []]
    data["files"]["util.py"] = "garbage"
    path.write_text(json.dumps(data))
    again = _check(project)
    assert again.cached == 0 and _dump(again) == clean
    assert _check(project).cached == 2


def test_the_branch_rule_runs_after_the_cache(git_repo: RepoFactory, cache_folder: Path) -> None:
    repo: GitRepo = git_repo(files={"model.py": "def predict(x):\n    return x\n"}, commit=True)
    repo.write("model.py", "def predict(x):\n    return x + 1\n")
    dirty = _check(repo.root)
    assert [f.code for f in dirty.findings].count("PE101") == 1
    repo.commit("edit")
    clean = _check(repo.root)  # the same text: taken from the cache, but no longer being changed
    assert clean.cached == 1
    assert "PE101" not in [f.code for f in clean.findings]
    repo.write("other.py", "X = 1\n")
    assert "PE101" not in [f.code for f in _check(repo.root).findings if f.path.endswith("model.py")]


@pytest.fixture
def many_broken(tmp_path: Path, broken_rule: str) -> Iterator[Path]:  # noqa: F811
    root = tmp_path / "broken"
    root.mkdir()
    for i in range(checking.PARALLEL_MIN_FILES + 6):
        (root / f"mod{i:02}.py").write_text("def a():\n    pass\n\n\ndef b():\n    pass\n")
    yield root


def test_rule_failures_in_workers_are_reported_in_order_and_not_cached(
    many_broken: Path, cache_folder: Path
) -> None:
    serial = _check(many_broken, overrides={"select": ["PE999"]}, jobs=1, use_cache=False)
    parallel = _check(many_broken, overrides={"select": ["PE999"]}, jobs=2)
    assert len(parallel.failures) == parallel.files_checked == checking.PARALLEL_MIN_FILES + 6
    assert parallel.failures == serial.failures
    assert [f.relative for f in parallel.failures] == sorted(f.relative for f in parallel.failures)
    again = _check(many_broken, overrides={"select": ["PE999"]}, jobs=2)
    assert again.cached == 0 and again.failures == serial.failures


def test_the_baseline_still_filters_in_parallel(
    stdlib_copy: Path, tmp_path: Path, cache_folder: Path
) -> None:
    root = tmp_path / "based"
    shutil.copytree(stdlib_copy / "email", root)
    (root / "pyproject.toml").write_text('[project]\nname = "based"\nversion = "0"\n')
    result = run_cli("check", "--add-baseline", ".", cwd=root)
    assert result.returncode == 0, result.stderr
    after = _check(root, jobs=2)
    assert after.findings == [] and after.baselined > 0
    assert _check(root, jobs=2).baselined == after.baselined


# --- --changed ---------------------------------------------------------------------------------------

BAD = "import datetime\n\n\ndef f():\n    return datetime.datetime.utcnow()\n"  # PE803 in every file: a file checked shows


def _checked_files(out: str) -> set[str]:
    return {f["path"].rsplit("/", 1)[-1] for f in json.loads(out)["findings"]}


@pytest.fixture
def changed_repo(git_repo: RepoFactory) -> GitRepo:
    files = {name: BAD for name in ("same.py", "committed.py", "staged.py", "unstaged.py", "gone.py")}
    repo = git_repo(files={**files, ".gitignore": "ignored.py\n"}, commit=True)
    repo.git("switch", "-q", "-c", "feature")
    repo.write("committed.py", BAD + "\n\ndef g(y):\n    return eval(y)\n")
    repo.write("new_committed.py", BAD)
    repo.commit("feature work")
    repo.write("staged.py", BAD + "# staged\n")
    repo.write("new_staged.py", BAD)
    repo.git("add", "staged.py", "new_staged.py")
    repo.write("unstaged.py", BAD + "# unstaged\n")
    repo.write("untracked.py", BAD)
    repo.write("ignored.py", BAD)
    repo.write("notes.txt", "not python\n")
    (repo.root / "gone.py").unlink()
    return repo


CHANGED = {"committed.py", "new_committed.py", "staged.py", "new_staged.py", "unstaged.py", "untracked.py"}


def test_changed_checks_committed_staged_unstaged_and_untracked_files(
    changed_repo: GitRepo, cache_folder: Path
) -> None:
    everything = run_cli("check", "--format", "json", cwd=changed_repo.root)
    assert _checked_files(everything.stdout) == CHANGED | {"same.py"}  # each file has findings
    result = run_cli("check", "--changed", "--format", "json", cwd=changed_repo.root)
    assert result.returncode == everything.returncode, result.stderr
    assert _checked_files(result.stdout) == CHANGED
    # The same findings as a full check has for those files, in the same order.
    full = [f for f in json.loads(everything.stdout)["findings"] if not f["path"].endswith("same.py")]
    assert json.loads(result.stdout)["findings"] == full


def test_changed_against_a_ref_and_under_a_path(changed_repo: GitRepo, cache_folder: Path) -> None:
    # Against HEAD (the feature commit): what was committed on the branch no longer counts.
    result = run_cli("check", "--changed", "HEAD", "--format", "json", cwd=changed_repo.root)
    assert _checked_files(result.stdout) == {"staged.py", "new_staged.py", "unstaged.py", "untracked.py"}
    # `--changed PATH`: a folder, not a ref: the changed files under it (committed on the branch or not).
    changed_repo.write("pkg/inner.py", BAD)
    changed_repo.write("pkg/settled.py", BAD)
    changed_repo.commit("pkg", "pkg/settled.py")
    result = run_cli("check", "--changed", "pkg", "--format", "json", cwd=changed_repo.root)
    assert _checked_files(result.stdout) == {"inner.py", "settled.py"}
    result = run_cli("check", "--changed", "HEAD", "pkg", "--format", "json", cwd=changed_repo.root)
    assert _checked_files(result.stdout) == {"inner.py"}


def test_changed_with_a_default_branch_on_the_remote(git_repo: RepoFactory, cache_folder: Path) -> None:
    upstream = git_repo(name="upstream", files={"base.py": BAD}, commit=True, branch="trunk")
    clone = upstream.root.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(upstream.root), str(clone)], check=True)
    repo = GitRepo(clone)
    repo.git("switch", "-q", "-c", "topic")
    repo.write("topic.py", BAD)
    repo.commit("topic")
    result = run_cli("check", "--changed", "--format", "json", cwd=clone)
    assert _checked_files(result.stdout) == {"topic.py"}  # the merge base with origin/HEAD (trunk)


def test_changed_in_a_repo_without_commits_and_outside_one(
    git_repo: RepoFactory, tmp_path: Path, cache_folder: Path
) -> None:
    repo = git_repo(files={"a.py": BAD})
    result = run_cli("check", "--changed", "--format", "json", cwd=repo.root)
    assert _checked_files(result.stdout) == {"a.py"}
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text(BAD)
    result = run_cli("check", "--changed", cwd=plain)
    assert result.returncode == 2
    assert "is not inside a git repository" in result.stderr
    result = run_cli("check", "--changed", "no-such-ref", cwd=repo.root)
    assert result.returncode == 2
    assert "'no-such-ref' is not a commit" in result.stderr
