"""Project markers, the project root, and the package manager they point to."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from pyengineer.workspace import safe_io

ROOT_MARKER_FILES = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    "hatch.toml",
)
LOCK_FILES = {"poetry.lock": "poetry", "uv.lock": "uv", "pdm.lock": "pdm", "Pipfile.lock": "pipenv"}


class Marker(BaseModel):
    """A file or folder that says something about the project, with its path relative to the root."""

    model_config = ConfigDict(frozen=True)

    kind: str  # the file name, "requirements", "venv" or "python-files"
    path: str
    detail: str = ""


def marker_kind(name: str, parent_name: str = "") -> str | None:
    """The marker kind of a file called `name` (in a folder called `parent_name`), or None."""
    if name in ROOT_MARKER_FILES:
        return name
    if fnmatch.fnmatchcase(name, "requirements*.txt") or fnmatch.fnmatchcase(name, "requirements*.in"):
        return "requirements"
    if parent_name == "requirements" and name.endswith((".txt", ".in")):
        return "requirements"
    return None


# How far above an open file (outside every workspace folder) the server looks for its project: the file's own
# folder and this many parents. Further up is more likely a home or a downloads folder than the project.
PROJECT_SEARCH_PARENTS = 3


def too_broad_for_a_workspace(folder: Path) -> bool:
    """True for `/`, the home folder and the folders above it: never scanned and watched as one project."""
    folder = folder.resolve()
    try:
        home = Path.home().resolve()
    except (KeyError, RuntimeError):  # no HOME and no passwd entry
        home = None
    return folder == folder.parent or (home is not None and (folder == home or folder in home.parents))


def _has_marker(folder: Path) -> bool:
    if any((folder / name).is_file() for name in ROOT_MARKER_FILES):
        return True
    try:
        return any(marker_kind(p.name) == "requirements" for p in folder.iterdir() if p.is_file())
    except OSError:
        return False


def find_project_root(path: Path, parents: int = PROJECT_SEARCH_PARENTS) -> Path | None:
    """The project of a file opened outside every workspace folder, or None for a stray file.

    Only the file's folder and `parents` folders above it are looked at, and never `/`, the home folder or
    above it: a `~/scratch.py` must not make a workspace (a scan, a watcher) of the whole home folder. A git
    toplevel in that range wins over a nearer marker, as in `find_root`.
    """
    start = path.resolve()
    if not start.is_dir():
        start = start.parent
    window = [f for f in (start, *start.parents)[: parents + 1] if not too_broad_for_a_workspace(f)]
    for folder in window:
        if (folder / ".git").exists():
            return folder
    for folder in window:
        if _has_marker(folder):
            return folder
    return None


def find_root(start: Path) -> Path:
    """The project root for `start`: the git toplevel, else the nearest folder with a marker, else start."""
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    for folder in (start, *start.parents):
        if _has_marker(folder):
            return folder
    return start


def load_pyproject(path: Path) -> dict[str, Any]:
    import tomllib  # (imported where a TOML file is read: a folder without one needs none)

    try:
        return tomllib.loads(safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES, errors="strict"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def detect_package_manager(markers: list[Marker], pyproject: dict[str, Any]) -> tuple[str | None, str]:
    """The package manager and the evidence for it: lock files first, then [tool.X] tables, then files."""
    root_files = {m.path for m in markers}
    for lock, manager in LOCK_FILES.items():
        if lock in root_files:
            return manager, f"{lock} found"
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    for table in ("poetry", "uv", "pdm"):
        if table in tool:
            return table, f"[tool.{table}] in pyproject.toml"
    # [tool.hatch.build] alone only configures the build backend; environments mean hatch manages installs.
    if "hatch.toml" in root_files or isinstance(tool.get("hatch"), dict) and "envs" in tool["hatch"]:
        return "hatch", "hatch environments configured"
    backend = str(pyproject.get("build-system", {}).get("build-backend", ""))
    if backend.startswith("poetry"):
        return "poetry", f"build-backend {backend}"
    if backend.startswith("pdm"):
        return "pdm", f"build-backend {backend}"
    if "Pipfile" in root_files:
        return "pipenv", "Pipfile found"
    for marker in markers:
        if marker.kind in ("requirements", "pyproject.toml", "setup.py", "setup.cfg"):
            return "pip", f"{marker.path} found"
    return None, "no packaging files"
