"""Branch names: git's ref-name rules, and suggestions in the team's style (feature/api-users, fix/...)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath

from pyengineer.workspace.frameworks import DATA_LIBRARIES, WEB_FRAMEWORKS

_GENERIC_STEMS = {
    "__init__",
    "__main__",
    "main",
    "app",
    "core",
    "base",
    "common",
    "module",
    "models",
    "utils",
}
_WEB_PATH_PARTS = {"api", "apis", "routes", "routers", "views", "endpoints", "handlers", "web", "server"}
_DATA_PATH_PARTS = {"etl", "pipeline", "pipelines", "data", "ingest", "transform", "transforms", "jobs"}
_MAX_TOPIC = 40


def ref_name_problem(name: str) -> str | None:
    """Why `name` is not a valid branch name by `git check-ref-format --branch` rules, or None if it is."""
    if not name:
        return "the name is empty"
    if name == "@":
        return "'@' alone is not allowed"
    if name.startswith("-"):
        return "a branch name cannot start with '-'"
    if name == "HEAD":
        return "'HEAD' is reserved"
    for char in name:
        if ord(char) < 0o40 or ord(char) == 0o177:
            return "control characters are not allowed"
        if char in " ~^:?*[\\":
            return f"{char!r} is not allowed in a branch name"
    if ".." in name:
        return "'..' is not allowed"
    if "@{" in name:
        return "'@{' is not allowed"
    if "//" in name or name.startswith("/") or name.endswith("/"):
        return "empty path components (a leading, trailing or doubled '/') are not allowed"
    if name.endswith("."):
        return "a branch name cannot end with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"the component {component!r} starts with '.'"
        if component.endswith(".lock"):
            return f"the component {component!r} ends with '.lock'"
    return None


def slugify(text: str, limit: int = _MAX_TOPIC) -> str:
    """Lowercase ASCII words joined by '-': `UserProfile_views` -> `user-profile-views`."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] or slug[:limit]
    return slug.strip("-")


def topic_for(path: str | None) -> str:
    """The topic of a change to `path`: the module name, or its package when the name says nothing."""
    if not path:
        return "changes"
    parts = PurePosixPath(path.replace("\\", "/"))
    stem = parts.stem
    if stem.startswith("test_"):
        stem = stem[len("test_") :]
    elif stem.endswith("_test"):
        stem = stem[: -len("_test")]
    if stem in _GENERIC_STEMS:
        for parent in reversed(parts.parent.parts):
            if parent not in _WEB_PATH_PARTS | {"src", "server", "tests", "test", "."}:
                stem = parent if stem in ("__init__", "__main__", "main", "app") else f"{parent}-{stem}"
                break
    return slugify(stem) or "changes"


def branch_kind(path: str | None, imported: Iterable[str], fix: bool = False) -> str:
    """The prefix for a change: 'fix', 'feature/api', 'feature/data-pipeline' or 'feature'."""
    if fix:
        return "fix"
    modules = set(imported)
    parts = set(PurePosixPath(path).parts) if path else set()
    if modules & WEB_FRAMEWORKS or modules & {"fastapi", "flask", "django", "rest_framework"}:
        return "feature/api"
    if modules & DATA_LIBRARIES:
        return "feature/data-pipeline"
    if parts & _WEB_PATH_PARTS:
        return "feature/api"
    if parts & _DATA_PATH_PARTS:
        return "feature/data-pipeline"
    return "feature"


def make_unique(name: str, existing: Iterable[str]) -> str:
    """`name`, or `name-2`, `name-3`... so that it clashes with no local or remote branch."""
    taken = set()
    for branch in existing:
        taken.add(branch)
        if "/" in branch:
            taken.add(branch.split("/", 1)[1])  # origin/feature/x also takes feature/x
    # git stores refs as files: "feature" and "feature/x" cannot both exist, and no suffix on the last
    # component fixes a taken folder, so the folders from the taken one down are folded into the name.
    taken_prefix = _taken_prefix(name, taken)
    if taken_prefix is not None:
        name = taken_prefix + "-" + name[len(taken_prefix) + 1 :].replace("/", "-")
    candidate, n = name, 2
    while candidate in taken or any(t.startswith(candidate + "/") for t in taken):
        candidate = f"{name}-{n}"
        n += 1
    return candidate


def _taken_prefix(name: str, taken: set[str]) -> str | None:
    """The shortest leading folder path of `name` that is itself a taken branch name."""
    parts = name.split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if prefix in taken:
            return prefix
    return None


def suggest_branch_names(
    path: str | None,
    imported: Iterable[str] = (),
    existing: Iterable[str] = (),
    fix: bool = False,
    limit: int = 3,
) -> list[str]:
    """Branch names for work on `path` (relative), best first, each valid and not yet taken."""
    existing = tuple(existing)
    imported = tuple(imported)
    topic = topic_for(path)
    kind = branch_kind(path, imported, fix)
    candidates = []
    if kind == "feature/api":
        candidates.append(f"feature/api-{topic}")
    elif kind == "feature/data-pipeline":
        candidates.append(f"feature/data-pipeline-{topic}")
    elif kind == "fix":
        candidates.append(f"fix/{topic}")
    candidates.append(f"feature/{topic}")
    if kind != "fix":
        candidates.append(f"fix/{topic}")
    names: list[str] = []
    for candidate in candidates:
        unique = make_unique(candidate, existing)
        if ref_name_problem(unique) is None and unique not in names:
            names.append(unique)
    return names[:limit]
