"""Generate the benchmark repository: a git repo of N Python files (default 20,000) that looks like a real project.

Packages under `src/shop/`, a mirrored `tests/` tree (some files import pytest), a few ML files (torch, numpy,
pandas, sklearn), a FastAPI layer, a `.gitignore`, a gitignored `generated/` folder and a `.venv/` virtual
environment full of site-packages: the last two must be skipped by every tool, and their files are not counted.

The repo has two branches: `main` and `bench-switch`, which changes 1,000 files (some gain an ML import), for
the branch-switch benchmarks. The same arguments always give byte-identical files (seeded), and a finished repo
is reused: the generator writes `<repo>.done` next to it only when everything, git included, succeeded.

    bench/generate_repo.py                 # 20,000 files under the user cache dir; prints the path
    bench/generate_repo.py --files 2000    # the small repo of `bench/run --quick`
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

GENERATOR_VERSION = 1
SWITCH_BRANCH = "bench-switch"
SWITCH_FILES = 1000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
}

STDLIB_IMPORTS = [
    "import os",
    "import json",
    "import logging",
    "import re",
    "import time",
    "from dataclasses import dataclass, field",
    "from pathlib import Path",
    "from typing import Any",
    "from collections import defaultdict",
    "import itertools",
    "import functools",
    "from datetime import datetime, timezone",
]
ML_IMPORTS = [
    "import numpy as np",
    "import pandas as pd",
    "import torch",
    "from torch import nn",
    "from sklearn.linear_model import LogisticRegression",
]


def bench_cache_dir() -> Path:
    """Where generated repos and the bench venv live: outside the repository, under the user cache dir."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pyengineer-bench"


def default_repo_path(files: int) -> Path:
    return bench_cache_dir() / f"repo-{files}-v{GENERATOR_VERSION}"


def _function(rng: random.Random, name: str) -> list[str]:
    kind = rng.randrange(4)
    lines = [f"def {name}(items: list[Any], limit: int = {rng.randrange(2, 50)}) -> dict[str, int]:"]
    lines.append(f'    """Count the {name.replace("_", " ")} of `items`, at most `limit` of them."""')
    lines.append("    counts: dict[str, int] = defaultdict(int)")
    if kind == 0:
        lines += [
            "    for i, item in enumerate(items):",
            "        if i >= limit:",
            "            break",
            "        key = str(item).strip().lower()",
            "        counts[key] += 1",
        ]
    elif kind == 1:
        lines += [
            "    try:",
            "        data = json.loads(json.dumps(items))",
            "    except (TypeError, ValueError) as exc:",
            '        logging.getLogger(__name__).warning("bad items: %s", exc)',
            "        return {}",
            "    for item in data[:limit]:",
            "        counts[type(item).__name__] += 1 if item else 0",
        ]
    elif kind == 2:
        lines += [
            '    pattern = re.compile(r"[a-z]+_[0-9]+")',
            "    for item in itertools.islice(items, limit):",
            "        for match in pattern.finditer(str(item)):",
            "            counts[match.group(0)] += len(match.group(0))",
        ]
    else:
        lines += [
            "    started = time.monotonic()",
            "    while items and len(counts) < limit:",
            "        head, *items = items",
            "        counts[repr(head)[:20]] = int(time.monotonic() - started)",
        ]
    lines.append("    return dict(counts)")
    return lines


def _class(rng: random.Random, name: str) -> list[str]:
    fields = [f"field_{i}" for i in range(rng.randrange(2, 6))]
    lines = ["@dataclass", f"class {name}:", f'    """A {name} record."""', ""]
    for f in fields:
        lines.append(f"    {f}: int = {rng.randrange(100)}")
    lines.append("    tags: list[str] = field(default_factory=list)")
    lines += [
        "",
        "    def total(self) -> int:",
        f"        return {' + '.join('self.' + f for f in fields)}",
        "",
        "    def describe(self) -> str:",
        f'        return f"{name}({{self.total()}}, {{len(self.tags)}} tags)"',
    ]
    return lines


def module_text(rng: random.Random, package: str, siblings: list[str], extra_imports: list[str]) -> str:
    imports = sorted(set(rng.sample(STDLIB_IMPORTS, rng.randrange(4, 8)) + ["import json", "import logging"]))
    imports += ["import itertools", "import re", "import time", "from collections import defaultdict"]
    imports += ["from dataclasses import dataclass, field", "from typing import Any"]
    imports = sorted(set(imports)) + extra_imports
    if siblings:
        imports.append(f"from {package} import {rng.choice(siblings)}  # noqa: F401")
    out = [
        '"""Generated module for the pyengineer benchmark."""',
        "",
        *imports,
        "",
        "",
        "log = logging.getLogger(__name__)",
        "",
    ]
    for i in range(rng.randrange(1, 3)):
        out += ["", *_class(rng, f"Record{i}{rng.randrange(1000)}"), ""]
    for i in range(rng.randrange(2, 6)):
        out += ["", *_function(rng, f"count_things_{i}"), ""]
    return "\n".join(out).rstrip() + "\n"


def test_text(rng: random.Random, module: str, uses_pytest: bool) -> str:
    out = ['"""Generated tests."""', ""]
    if uses_pytest:
        out += ["import pytest", ""]
    out += [f"from {module} import count_things_0", "", ""]
    out += ["def test_counts_empty() -> None:", "    assert count_things_0([]) == {}", "", ""]
    if uses_pytest:
        out += [
            '@pytest.mark.parametrize("items", [[1], ["a", "b"], [None]])',
            "def test_counts_some(items: list[object]) -> None:",
            "    assert isinstance(count_things_0(items), dict)",
        ]
    else:
        out += ["def test_counts_one() -> None:", '    assert isinstance(count_things_0(["x"]), dict)']
    return "\n".join(out) + "\n"


def ml_text(rng: random.Random) -> str:
    imports = rng.sample(ML_IMPORTS, rng.randrange(2, 5))
    body = [
        "",
        "",
        "def train(rows: list[list[float]], epochs: int = 3) -> float:",
        '    """A tiny training loop."""',
        "    loss = 0.0",
        "    for _ in range(epochs):",
        "        for row in rows:",
        "            loss += sum(row) / (len(row) or 1)",
        "    return loss",
    ]
    return "\n".join(['"""Generated ML module."""', "", *imports, *body]) + "\n"


def web_text(rng: random.Random, index: int) -> str:
    return (
        '"""Generated API module."""\n\nfrom fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n'
        f'@router.get("/items/{index}")\ndef read_items_{index}() -> dict[str, int]:\n'
        f'    return {{"index": {index}, "value": {rng.randrange(1000)}}}\n'
    )


def generate(root: Path, files: int, seed: int = 7) -> dict[str, int]:
    """Write the tree under `root` (which must not exist). Returns counts of what was written."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    (root / ".gitignore").write_text(".venv/\n__pycache__/\n*.egg-info/\ngenerated/\nbuild/\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["fastapi", "numpy", "pandas", "torch", "scikit-learn"]\n\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\n'
    )
    (root / "README.md").write_text("# shop\n\nA generated benchmark project.\n")
    counts = {"modules": 0, "tests": 0, "ml": 0, "web": 0, "skipped": 0}
    ml_count = max(2, files // 1000)
    web_count = max(2, files // 500)
    test_count = files * 3 // 10
    module_count = files - ml_count - web_count - test_count
    modules: list[str] = []
    per_sub = 20
    subs_per_pkg = 10
    for i in range(module_count):
        pkg, rest = divmod(i, per_sub * subs_per_pkg)
        sub, mod = divmod(rest, per_sub)
        folder = root / "src" / "shop" / f"pkg_{pkg:03d}" / f"sub_{sub:02d}"
        if mod == 0:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").write_text("")
            if sub == 0:
                (folder.parent / "__init__.py").write_text("")
            counts["modules"] += 1 + (sub == 0)
        package = f"shop.pkg_{pkg:03d}.sub_{sub:02d}"
        siblings = [f"mod_{k:02d}" for k in range(mod)]
        name = f"mod_{mod:02d}"
        (folder / f"{name}.py").write_text(module_text(rng, package, siblings, []))
        modules.append(f"{package}.{name}")
        counts["modules"] += 1
    (root / "src" / "shop" / "__init__.py").write_text("")
    counts["modules"] += 1
    # The __init__ files count towards the total: trim tests so the tree holds exactly `files` .py files.
    test_count = files - counts["modules"] - ml_count - web_count
    for i in range(test_count):
        module = modules[i % len(modules)]
        parts = module.split(".")
        folder = root / "tests" / parts[1] / parts[2]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"test_{parts[3]}_{i // len(modules)}.py").write_text(
            test_text(rng, module, uses_pytest=rng.random() < 0.4)
        )
        counts["tests"] += 1
    (root / "ml").mkdir()
    for i in range(ml_count):
        (root / "ml" / f"train_{i:02d}.py").write_text(ml_text(rng))
        counts["ml"] += 1
    (root / "src" / "shop" / "api").mkdir()
    for i in range(web_count):
        (root / "src" / "shop" / "api" / f"routes_{i:03d}.py").write_text(web_text(rng, i))
        counts["web"] += 1
    # Skipped trees: a virtual environment and a gitignored folder of generated code.
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    site = venv / "lib" / "python3.11" / "site-packages"
    for i in range(max(20, files // 10)):
        folder = site / f"vendored_{i // 50:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m_{i % 50:02d}.py").write_text(module_text(rng, "vendored", [], ["import torch"]))
        counts["skipped"] += 1
    (root / "generated").mkdir()
    for i in range(max(10, files // 40)):
        (root / "generated" / f"gen_{i:04d}.py").write_text(
            module_text(rng, "generated", [], ["import numpy"])
        )
        counts["skipped"] += 1
    return counts


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, stdout=subprocess.DEVNULL
    )


def switch_paths(root: Path, count: int = SWITCH_FILES) -> list[Path]:
    """The module files the `bench-switch` branch changes (the same ones every time)."""
    modules = sorted((root / "src" / "shop").glob("pkg_*/sub_*/mod_*.py"))
    step = max(1, len(modules) // count)
    return modules[::step][:count]


def make_switch_branch(root: Path) -> int:
    """Commit `bench-switch`: 1,000 changed files, every tenth gaining a numpy import. Back on main after."""
    git(root, "checkout", "-q", "-b", SWITCH_BRANCH)
    paths = switch_paths(root)
    for i, path in enumerate(paths):
        text = path.read_text()
        extra = "\nimport numpy as np\n\nARRAY = np.zeros(3)\n" if i % 10 == 0 else "\n"
        path.write_text(text + extra + f"\n\ndef switched_{i}() -> int:\n    return {i}\n")
    git(root, "commit", "-q", "-a", "-m", "bench: change 1,000 files")
    git(root, "checkout", "-q", "main")
    return len(paths)


def ensure_repo(files: int, path: Path | None = None, force: bool = False) -> Path:
    """The generated repo of `files` files, made once and reused while its `.done` marker exists."""
    root = path or default_repo_path(files)
    done = root.with_name(root.name + ".done")
    if done.exists() and root.is_dir() and not force:
        return root
    if root.exists():
        shutil.rmtree(root)
    done.unlink(missing_ok=True)
    counts = generate(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated benchmark repository")
    switched = make_switch_branch(root)
    done.write_text(f"{counts} switch={switched}\n")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="Python files in the tree (default 20,000)")
    parser.add_argument("--out", type=Path, help="where to write it (default: under the user cache dir)")
    parser.add_argument("--force", action="store_true", help="regenerate even if a finished copy exists")
    args = parser.parse_args(argv)
    if args.files < 100:
        parser.error("--files must be at least 100")
    print(ensure_repo(args.files, args.out, args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
