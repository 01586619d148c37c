"""What to pass to pytest for a scope: the file, the tests of a module (test_<name>.py), or the project."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pyengineer.config import Settings
from pyengineer.testing.results import Scope
from pyengineer.workspace.ignore import IgnoreRules
from pyengineer.workspace.scan import walk


def is_test_file(path: str | Path) -> bool:
    name = PurePosixPath(str(path).replace("\\", "/")).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# `manage.py startapp` writes tests in <app>/tests.py: under `--scope file` that file is run as given.
DJANGO_TESTS = "tests.py"


def module_stem(module: Path) -> str:
    """The name tests are named after: `calc` for calc.py, `app` for app/__init__.py."""
    return module.parent.name if module.stem == "__init__" else module.stem


def tests_for_module(root: Path, module: Path, settings: Settings) -> list[str]:
    """Test files (relative, posix) for an application module: test_<name>.py or <name>_test.py."""
    stem = module_stem(module)
    wanted = {f"test_{stem}.py", f"{stem}_test.py"}
    found = [
        p
        for p in walk(root, IgnoreRules.for_root(root, settings.exclude)).python_files
        if p.rsplit("/", 1)[-1] in wanted
    ]
    return sorted(found, key=lambda p: (p.count("/"), p))


def resolve_targets(
    root: Path, scope: str, target: str | Path | None, settings: Settings
) -> tuple[list[str], str | None]:
    """What to pass to pytest for a scope: (paths or node ids relative to root, or a message why there is none)."""
    if scope == Scope.PROJECT or target is None:
        return [], None
    text = str(target)
    if "::" in text:
        file, _, rest = text.partition("::")
        return [_relative(root, Path(file)) + "::" + rest], None
    path = Path(text)
    if not path.is_absolute():
        path = root / path
    if not path.exists():
        return [], f"{text} does not exist"
    relative = _relative(root, path)
    if path.is_dir() or is_test_file(path):
        return [relative], None
    if scope == Scope.FILE and path.name == DJANGO_TESTS:
        # Django's default test module is not named like pytest's, but pytest collects any file it is given.
        return [relative], None
    tests = tests_for_module(root, path, settings)
    if not tests:
        return [], (
            f"No tests found for {relative}: looked for test_{module_stem(path)}.py and "
            f"{module_stem(path)}_test.py. "
            "Run the project's tests instead, or add a test file."
        )
    return tests, None


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
