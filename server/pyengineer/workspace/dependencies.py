"""Declared dependencies: PEP 621, Poetry tables, Pipfile and requirements files (with their -r includes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyengineer.workspace import safe_io

# A PEP 508 requirement starts with the distribution name; everything after it (extras, specifiers,
# markers) does not change which library it is.
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")
_EDITABLE = re.compile(r"^\s*(?:-e|--editable)(?:\s+|=)")
# `name [extras] @ url`: a PEP 508 direct reference names its distribution before the URL.
_DIRECT_REFERENCE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@")


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `Flask_SQLAlchemy` and `flask-sqlalchemy` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str | None:
    """The distribution named by one PEP 508 requirement string, or None for options, URLs and blanks."""
    requirement = _EDITABLE.sub("", requirement)  # `-e <url>#egg=name` names a distribution too
    text = requirement.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    direct = _DIRECT_REFERENCE.match(text)
    if direct:
        return canonical_name(direct.group(1))
    if "://" in text or text.startswith((".", "/")):
        egg = re.search(r"#egg=([A-Za-z0-9._-]+)", requirement)
        return canonical_name(egg.group(1)) if egg else None
    match = _REQUIREMENT_NAME.match(text)
    return canonical_name(match.group(1)) if match else None


def read_requirements(path: Path, _seen: set[Path] | None = None) -> tuple[list[str], list[Path]]:
    """Distributions named in a requirements file, and every file it includes (recursively, once each)."""
    seen = _seen if _seen is not None else set()
    resolved = path.resolve()
    if resolved in seen:
        return [], []
    seen.add(resolved)
    try:
        text = safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES)
    except OSError:
        return [], []
    names: list[str] = []
    included: list[Path] = []
    # Backslash continuations join physical lines into one requirement.
    for line in text.replace("\\\n", " ").splitlines():
        include = _INCLUDE.match(line)
        if include:
            target = (path.parent / include.group(1)).resolve()
            if target.is_file() and target not in seen:
                included.append(target)
                more_names, more_files = read_requirements(target, seen)
                names.extend(more_names)
                included.extend(more_files)
            continue
        name = requirement_name(line)
        if name:
            names.append(name)
    return names, included


def _names(requirements: Iterable[Any]) -> list[str]:
    out = []
    for item in requirements:
        if isinstance(item, str):
            name = requirement_name(item)
            if name:
                out.append(name)
    return out


def pyproject_dependencies(data: dict[str, Any]) -> list[str]:
    """Distributions declared in a parsed pyproject.toml: PEP 621, PEP 735 groups, Poetry, PDM, uv."""
    names: list[str] = []
    project = data.get("project", {})
    if isinstance(project, dict):
        names += _names(project.get("dependencies", []) or [])
        for group in (project.get("optional-dependencies", {}) or {}).values():
            if isinstance(group, list):
                names += _names(group)
    for group in (data.get("dependency-groups", {}) or {}).values():
        if isinstance(group, list):
            names += _names(group)
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry", {})
    if isinstance(poetry, dict):
        tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
        for group in (poetry.get("group", {}) or {}).values():
            if isinstance(group, dict):
                tables.append(group.get("dependencies", {}))
        for table in tables:
            if isinstance(table, dict):
                names += [canonical_name(n) for n in table if n.lower() != "python"]
    pdm = tool.get("pdm", {})
    if isinstance(pdm, dict):
        for group in (pdm.get("dev-dependencies", {}) or {}).values():
            if isinstance(group, list):
                names += _names(group)
    uv = tool.get("uv", {})
    if isinstance(uv, dict):
        names += _names(uv.get("dev-dependencies", []) or [])
    return names


def pipfile_dependencies(path: Path) -> list[str]:
    import tomllib  # (imported where a Pipfile is read)

    try:
        data = tomllib.loads(safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES, errors="strict"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    names: list[str] = []
    for section in ("packages", "dev-packages"):
        table = data.get(section, {})
        if isinstance(table, dict):
            names += [canonical_name(n) for n in table]
    return names


def setup_cfg_dependencies(path: Path) -> list[str]:
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read_string(safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES), str(path))
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    names: list[str] = []
    if parser.has_option("options", "install_requires"):
        names += _names(parser.get("options", "install_requires").splitlines())
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            names += _names(value.splitlines())
    return names
