"""What a senior engineer hands over with a question: the project's Python version, locked framework
versions, and its lint and type-check settings.

These are stable facts of a workspace (they change when the project's configuration does), so they go in
the cached system block. Every read is bounded: a regular file of limited size, a limited number of
entries, a limited length of settings text. Nothing here runs a tool or a subprocess.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pyengineer.frameworks import FRAMEWORKS
from pyengineer.workspace.dependencies import canonical_name

MAX_CONFIG_BYTES = 1_000_000
MAX_LOCK_BYTES = 8_000_000
MAX_VERSIONS = 20
MAX_SETTINGS_CHARS = 1_500
REQUIREMENTS_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements/base.txt",
    "requirements/prod.txt",
)
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#,]+)")


def _read(path: Path, limit: int) -> str | None:
    """A regular file's text, when it is one and no larger than `limit` bytes."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _toml(path: Path, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    text = _read(path, limit)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _framework_distributions() -> dict[str, str]:
    return {canonical_name(d): d for framework in FRAMEWORKS for d in framework.distributions} | {
        "pydantic": "pydantic",
        "pytest": "pytest",
    }


def locked_versions(root: Path) -> tuple[dict[str, str], str | None]:
    """(framework distribution -> locked version, the file they came from), at most MAX_VERSIONS."""
    wanted = _framework_distributions()
    for name in ("uv.lock", "poetry.lock", "pdm.lock"):
        data = _toml(root / name, MAX_LOCK_BYTES)
        packages = data.get("package")
        if not isinstance(packages, list):
            continue
        found: dict[str, str] = {}
        for package in packages:
            if not isinstance(package, dict):
                continue
            key = canonical_name(str(package.get("name", "")))
            version = package.get("version")
            if key in wanted and isinstance(version, str):
                found[wanted[key]] = version
        return dict(sorted(found.items())[:MAX_VERSIONS]), name
    for name in REQUIREMENTS_FILES:
        text = _read(root / name, MAX_CONFIG_BYTES)
        if text is None:
            continue
        found = {}
        for line in text.splitlines():
            match = _PIN.match(line)
            if match and canonical_name(match.group(1)) in wanted:
                found[wanted[canonical_name(match.group(1))]] = match.group(2)
        if found:
            return dict(sorted(found.items())[:MAX_VERSIONS]), name
    return {}, None


def _requires_python(pyproject: dict[str, Any]) -> str | None:
    project = pyproject.get("project")
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        return str(project["requires-python"])
    poetry = pyproject.get("tool", {}).get("poetry", {}) if isinstance(pyproject.get("tool"), dict) else {}
    python = poetry.get("dependencies", {}).get("python") if isinstance(poetry, dict) else None
    return python if isinstance(python, str) else None


def _compact(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_SETTINGS_CHARS else text[:MAX_SETTINGS_CHARS] + "...(cut)"


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    text = _read(path, MAX_CONFIG_BYTES)
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def tool_settings(root: Path, pyproject: dict[str, Any]) -> dict[str, str]:
    """The project's ruff and mypy settings, as compact JSON text each, from where each tool reads them."""
    settings: dict[str, str] = {}
    tools = pyproject.get("tool") if isinstance(pyproject.get("tool"), dict) else {}
    for name in ("ruff.toml", ".ruff.toml"):
        ruff = _toml(root / name)
        if ruff:
            settings["ruff"] = f"{name}: {_compact(ruff)}"
            break
    else:
        if isinstance(tools, dict) and isinstance(tools.get("ruff"), dict):
            settings["ruff"] = f"pyproject.toml [tool.ruff]: {_compact(tools['ruff'])}"
    if isinstance(tools, dict) and isinstance(tools.get("mypy"), dict):
        settings["mypy"] = f"pyproject.toml [tool.mypy]: {_compact(tools['mypy'])}"
    else:
        for name, section in (("mypy.ini", "mypy"), (".mypy.ini", "mypy"), ("setup.cfg", "mypy")):
            found = _ini_section(root / name, section)
            if found is not None:
                settings["mypy"] = f"{name} [{section}]: {_compact(found)}"
                break
    return settings


def project_facts(root: Path) -> dict[str, Any]:
    """The stable facts of a project that the model should know before it writes code."""
    pyproject = _toml(root / "pyproject.toml")
    versions, lock = locked_versions(root)
    return {
        "requires_python": _requires_python(pyproject),
        "locked_versions": versions,
        "locked_versions_from": lock,
        "tool_settings": tool_settings(root, pyproject),
    }
