"""Which Python runs the tests: the configured one, the workspace's virtual environment, or a fallback."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pyengineer.config import Settings

VENV_NAMES = (".venv", "venv")


def _venv_python(folder: Path) -> Path | None:
    for candidate in (folder / "bin" / "python", folder / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


def workspace_venv(root: Path) -> Path | None:
    """The Python of the workspace's virtual environment: `.venv`, `venv`, or any folder with a pyvenv.cfg."""
    for name in VENV_NAMES:
        python = _venv_python(root / name)
        if python is not None:
            return python
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and (p / "pyvenv.cfg").is_file())
    except OSError:
        return None
    for child in children:
        python = _venv_python(child)
        if python is not None:
            return python
    return None


def find_interpreter(root: Path, settings: Settings, fallback: str | None = None) -> str | None:
    """The interpreter that runs the tests.

    An explicit `tests.interpreter` setting wins (that is what it is for); else the workspace's virtual
    environment; else `fallback` (the CLI passes its own `sys.executable`; the editor passes nothing, so that
    tests never run in pyengineer's own environment by accident).
    """
    configured = settings.tests.interpreter
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute() and (root / path).exists():
            return str(root / path)
        if path.is_absolute():
            return str(path)
        return shutil.which(configured) or configured
    venv = workspace_venv(root)
    if venv is not None:
        return str(venv)
    return fallback


def install_hint(root: Path, interpreter: str) -> str:
    """How to install pytest in this project, in the words of its package manager."""
    if (root / "uv.lock").exists():
        return "uv add --dev pytest"
    if (root / "poetry.lock").exists():
        return "poetry add --group dev pytest"
    if (root / "pdm.lock").exists():
        return "pdm add -dG test pytest"
    if (root / "Pipfile").exists():
        return "pipenv install --dev pytest"
    return f"{interpreter} -m pip install pytest"


def default_fallback() -> str:
    """The CLI's last resort: the interpreter running pyengineer."""
    return sys.executable
