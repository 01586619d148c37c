"""The walk: what it skips, what it never follows, and the ML files it finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyengineer.config import Settings
from pyengineer.workspace.context import WorkspaceIndex, build_context
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.scan import walk

from tests.privileges import rerun_unprivileged
from tests.repos import RepoFactory, write


def python_files(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    return walk(root, IgnoreRules.for_root(root, exclude)).python_files


@pytest.mark.parametrize(
    "folder",
    [
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        "pkg.egg-info",
        ".tox",
        ".mypy_cache",
        "site-packages",
    ],
)
def test_tool_folders_are_skipped(tmp_path: Path, folder: str) -> None:
    write(tmp_path, "keep.py", "import torch\n")
    write(tmp_path, f"{folder}/skipped.py", "import torch\n")
    write(tmp_path, f"nested/{folder}/skipped.py", "import torch\n")
    assert python_files(tmp_path) == ["keep.py"]


def test_any_folder_holding_pyvenv_cfg_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "keep.py", "")
    write(tmp_path, "tools/py311/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "tools/py311/lib/site.py", "import torch\n")
    result = walk(tmp_path, IgnoreRules.for_root(tmp_path))
    assert result.python_files == ["keep.py"]
    assert [(m.kind, m.path) for m in result.markers] == [("venv", "tools/py311")]


def test_gitignore_files_nested_with_negation(git_repo: RepoFactory) -> None:
    repo = git_repo()
    repo.write(".gitignore", "generated/\n*.gen.py\nlogs\n")
    repo.write("src/.gitignore", "scratch_*.py\n!scratch_keep.py\n")
    repo.write("src/deeper/.gitignore", "!*.gen.py\n")
    files = [
        "app.py",
        "generated/out.py",
        "x.gen.py",
        "logs/run.py",
        "src/scratch_1.py",
        "src/scratch_keep.py",
        "src/main.py",
        "src/deeper/y.gen.py",
        "src/deeper/scratch_2.py",
    ]
    for relative in files:
        repo.write(relative, "")
    # What git itself considers ignored is the oracle.
    ignored_by_git = set(repo.git("ls-files", "--others", "--ignored", "--exclude-standard").split())
    expected = sorted(f for f in files if f not in ignored_by_git)
    assert expected == ["app.py", "src/deeper/y.gen.py", "src/main.py", "src/scratch_keep.py"]
    assert python_files(repo.root) == expected


TREE = [
    "a.py",
    "abc.py",
    "a b.py",
    "#h.py",
    "!bang.py",
    "b/a.py",
    "b/c/a.py",
    "b/logs/z.py",
    "doc/x.py",
    "doc/sub/y.py",
    "logs/z.py",
    "foo/baz.py",
    "foo/bar/baz.py",
    "x/foo/bar/q.py",
    "deep/a/b/c/d.py",
    "Src/M.py",
]


@pytest.mark.parametrize(
    "patterns",
    [
        ["*.py", "!a.py"],
        ["/a.py"],
        ["b/"],
        ["b/*"],
        ["b/**", "!b/c/"],
        ["b/**", "!b/c/", "!b/c/**"],  # x/** is what is inside x, so b/c can come back
        ["*", "!*/", "!*.py"],  # the whitelist idiom: ignore everything but folders and .py files
        ["**/logs"],
        ["logs/"],
        ["doc/**/y.py"],
        ["foo/**/baz.py"],
        ["**/foo/bar"],
        ["a?c.py", "[#!]*.py"],
        ["\\#h.py", "\\!bang.py", "a\\ b.py"],
        ["doc", "!doc/x.py"],  # a file in an ignored folder cannot be re-included
        ["doc/*", "!doc/x.py"],
        ["/*/", "!/doc/"],
        ["**/c/**"],
        ["deep/a/", "*/a.py"],
        ["d*/"],
    ],
)
def test_gitignore_patterns_agree_with_git(git_repo: RepoFactory, patterns: list[str]) -> None:
    repo = git_repo()
    for relative in TREE:
        repo.write(relative, "")
    repo.write(".gitignore", "\n".join(patterns) + "\n")
    listed = repo.git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
    assert python_files(repo.root) == sorted(f for f in listed if f.endswith(".py"))


def test_user_excludes_apply_like_gitignore_patterns(tmp_path: Path) -> None:
    for relative in ("a.py", "migrations/0001.py", "pkg/migrations/0002.py", "pkg/b.py", "docs/conf.py"):
        write(tmp_path, relative, "")
    assert python_files(tmp_path, ("migrations/", "/docs")) == ["a.py", "pkg/b.py"]


def test_a_symlink_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret_model.py", "import torch\n")
    root = tmp_path / "project"
    write(root, "main.py", "")
    os.symlink(outside, root / "linked_dir")
    os.symlink(outside / "secret_model.py", root / "linked_file.py")
    assert python_files(root) == ["main.py"]
    assert build_context(root, Settings()).ml_files == ()


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "pkg/mod.py", "")
    os.symlink(tmp_path, tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "pkg", tmp_path / "pkg" / "self")
    os.symlink("dangling-target", tmp_path / "pkg" / "dangling.py")
    os.symlink(tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "b.py")
    os.symlink(tmp_path / "pkg" / "b.py", tmp_path / "pkg" / "a.py")  # a file loop
    assert python_files(tmp_path) == ["pkg/mod.py"]


def test_a_symlinked_file_inside_the_root_is_scanned_once_under_its_link_name(tmp_path: Path) -> None:
    write(tmp_path, "real/model.py", "import torch\n")
    os.symlink(tmp_path / "real" / "model.py", tmp_path / "alias.py")
    assert python_files(tmp_path) == ["alias.py", "real/model.py"]


def test_unreadable_folders_are_skipped_not_fatal(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if rerun_unprivileged(request):  # root reads every folder
        return
    write(tmp_path, "ok.py", "")
    write(tmp_path, "locked/x.py", "")
    (tmp_path / "locked").chmod(0)
    try:
        assert python_files(tmp_path) == ["ok.py"]
    finally:
        (tmp_path / "locked").chmod(0o755)


# --- ML files -------------------------------------------------------------------------------------------


def test_ml_files_with_the_line_of_each_import(tmp_path: Path) -> None:
    write(
        tmp_path,
        "models/net.py",
        "import os\nimport torch.nn as nn\nfrom torch import optim\n\ndef f():\n    import sklearn\n",
    )
    write(
        tmp_path,
        "models/typed.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tensorflow\n",
    )
    write(tmp_path, "models/lazy.py", 'import importlib\nm = importlib.import_module("transformers")\n')
    write(tmp_path, "models/broken.py", "import xgboost\ndef broken(:\n")
    write(tmp_path, "plain.py", "import json\n")
    context = build_context(tmp_path, Settings())
    by_path = {ml.path: ml for ml in context.ml_files}
    assert sorted(by_path) == ["models/broken.py", "models/lazy.py", "models/net.py", "models/typed.py"]
    net = by_path["models/net.py"]
    assert net.libraries == ("torch", "sklearn")
    assert [(m.module, m.line) for m in net.imports] == [("torch.nn", 2), ("torch", 3), ("sklearn", 6)]
    (typed,) = by_path["models/typed.py"].imports
    assert (typed.library, typed.line, typed.type_only) == ("tensorflow", 3, True)
    (lazy,) = by_path["models/lazy.py"].imports
    assert (lazy.library, lazy.line, lazy.dynamic) == ("transformers", 2, True)
    assert [(m.library, m.line) for m in by_path["models/broken.py"].imports] == [("xgboost", 1)]


@pytest.mark.parametrize(
    "library",
    [
        "torch",
        "tensorflow",
        "keras",
        "jax",
        "flax",
        "sklearn",
        "transformers",
        "xgboost",
        "lightgbm",
        "catboost",
        "onnxruntime",
        "diffusers",
        "accelerate",
        "peft",
        "lightning",
        "pytorch_lightning",
        "tf_keras",
    ],
)
def test_every_default_ml_library_is_detected(tmp_path: Path, library: str) -> None:
    write(tmp_path, "m.py", f"from {library}.sub import thing\n")
    assert [ml.libraries for ml in build_context(tmp_path, Settings()).ml_files] == [(library,)]


def test_ml_library_list_can_be_extended(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import torch\n")
    write(tmp_path, "b.py", "import mlx.core as mx\n")
    settings = Settings(extend_ml_libraries=("mlx",))
    assert [ml.path for ml in build_context(tmp_path, settings).ml_files] == ["a.py", "b.py"]


def test_ml_library_list_can_be_replaced(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import torch\n")
    write(tmp_path, "b.py", "import mlx.core as mx\n")
    settings = Settings(ml_libraries=("mlx",))
    assert [ml.path for ml in build_context(tmp_path, settings).ml_files] == ["b.py"]


def test_ml_library_list_from_the_config_file(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.pyengineer]\nextend-ml-libraries = ["mlx"]\n')
    write(tmp_path, "b.py", "import mlx.core as mx\n")
    assert [ml.path for ml in build_context(tmp_path).ml_files] == ["b.py"]


def test_a_name_that_only_starts_like_an_ml_library_is_not_one(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import torchvision_like\nimport jaxtyping\nimport sklearnish\n")
    assert build_context(tmp_path, Settings()).ml_files == ()


# --- the index keeps up with changes ---------------------------------------------------------------------


def test_index_update_adds_changes_and_removes_files(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "import os\n")
    index = WorkspaceIndex(tmp_path, Settings())
    index.scan()
    assert index.context().ml_files == ()
    write(tmp_path, "a.py", "import torch\n# longer now\n")
    write(tmp_path, "b.py", "import jax\n")
    assert index.update([tmp_path / "a.py", tmp_path / "b.py"]) is True
    assert [ml.path for ml in index.context().ml_files] == ["a.py", "b.py"]
    (tmp_path / "a.py").unlink()
    assert index.update([tmp_path / "a.py"]) is True
    assert [ml.path for ml in index.context().ml_files] == ["b.py"]
    assert index.update([tmp_path / "b.py"]) is False  # unchanged


def test_index_update_ignores_skipped_and_ignored_paths(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "gen/\n")
    write(tmp_path, "a.py", "")
    index = WorkspaceIndex(tmp_path, Settings())
    index.scan()
    write(tmp_path, "gen/m.py", "import torch\n")
    write(tmp_path, ".venv/lib/m.py", "import torch\n")
    write(tmp_path, "env2/pyvenv.cfg", "")
    write(tmp_path, "env2/m.py", "import torch\n")
    assert index.update([tmp_path / "gen/m.py", tmp_path / ".venv/lib/m.py", tmp_path / "env2/m.py"]) is False
    assert index.context().ml_files == ()


def test_index_update_rereads_a_changed_gitignore_and_markers(tmp_path: Path) -> None:
    write(tmp_path, "gen/model.py", "import torch\n")
    index = WorkspaceIndex(tmp_path, Settings())
    index.scan()
    assert [ml.path for ml in index.context().ml_files] == ["gen/model.py"]
    assert index.context().package_manager is None
    write(tmp_path, ".gitignore", "gen/\n")
    write(tmp_path, "poetry.lock", "")
    assert index.update([tmp_path / ".gitignore", tmp_path / "poetry.lock"]) is True
    context = index.context()
    assert context.ml_files == ()
    assert context.package_manager == "poetry"
