"""Branch names: git's ref-name rules, and suggestions in the team's style (feature/api-users, fix/...)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath

# Module names that say what kind of code a file holds, not what it is about: `users/service.py` is about users.
_ROLE_STEMS = frozenset(
    {
        "__init__", "__main__", "main", "app", "application", "core", "base", "common", "module",
        "models", "model", "utils", "util", "helpers", "helper", "views", "view", "urls", "admin", "apps",
        "forms", "serializers", "schemas", "schema", "service", "services", "api", "routes", "router",
        "routers", "endpoints", "handlers", "handler", "tasks", "crud", "deps", "dependencies", "config",
        "settings", "constants", "exceptions", "errors", "types", "signals", "managers", "db", "database",
        "session", "client", "server", "cli", "commands", "tests", "factories", "fixtures", "wsgi", "asgi",
        "permissions", "filters", "storage", "repository", "interfaces", "security", "auth",
    }
)  # fmt: skip
# Module names that stand for their package (`orders/__init__.py` is the orders package).
_PACKAGE_STEMS = frozenset({"__init__", "__main__", "main", "app", "application"})
# Folders that hold code of every topic: the topic is further in (or out).
_CONTAINER_DIRS = frozenset(
    {
        ".", "src", "lib", "app", "apps", "server", "backend", "source", "code", "pkg", "packages", "internal",
        "tests", "test", "unit", "integration", "functional", "e2e", "api", "apis", "routes", "routers",
        "views", "endpoints", "handlers", "services", "core", "web", "migrations", "versions", "alembic",
        "scripts",
    }
)  # fmt: skip
_WEB_PATH_PARTS = {"api", "apis", "routes", "routers", "views", "endpoints", "handlers", "web", "server"}
_DATA_PATH_PARTS = {"etl", "pipeline", "pipelines", "data", "ingest", "transform", "transforms", "jobs"}
# Words a topic need not repeat after its prefix: not feature/api-api, feature/data-pipeline-pipeline-x.
_PREFIX_WORDS = {"feature/api": {"api", "apis"}, "feature/data-pipeline": {"data", "pipeline", "pipelines"}}
_VERSION_DIR = re.compile(r"^v\d+$")
_MIGRATION_NUMBER = re.compile(r"^(?:\d+|[0-9a-f]{6,})_")  # Django 0003_, alembic 3f2a1b9c0d_
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


def _meaningful_parent(parents: tuple[str, ...]) -> str | None:
    """The innermost folder that names a topic (not src/, tests/, api/, v1/ or a role name such as services/)."""
    for parent in reversed(parents):
        if parent not in _CONTAINER_DIRS and parent not in _ROLE_STEMS and not _VERSION_DIR.match(parent):
            return parent
    return None


def _migration_topic(stem: str, parents: tuple[str, ...]) -> str:
    """`blog/migrations/0002_post_slug.py` -> blog-migration-post-slug; alembic's env.py -> migrations."""
    if stem in ("env", "__init__", "script"):
        return "migrations"
    name = _MIGRATION_NUMBER.sub("", stem)
    if name == "initial" or name.startswith("auto_"):
        name = ""
    folder = parents.index("migrations") if "migrations" in parents else parents.index("alembic")
    app = _meaningful_parent(parents[:folder])
    words = [app, "migration" if name else "migrations", name]
    return "-".join(w for w in words if w)


def topic_for(path: str | None) -> str:
    """The topic of a change to `path`: the module name, with its package when the name only says what kind
    of code it is (`users/service.py` -> users-service), and the package alone for its `__init__.py`."""
    if not path:
        return "changes"
    parts = PurePosixPath(path.replace("\\", "/"))
    parents = tuple(p for p in parts.parent.parts if p != ".")
    stem = parts.stem
    if "migrations" in parents or "alembic" in parents:
        return slugify(_migration_topic(stem, parents)) or "migrations"
    if stem == "conftest":
        parent = _meaningful_parent(parents)
        return slugify(f"{parent}-test-fixtures" if parent else "test-fixtures")
    if stem.startswith("test_"):
        stem = stem[len("test_") :]
    elif stem.endswith("_test"):
        stem = stem[: -len("_test")]
    if stem in _ROLE_STEMS:
        parent = _meaningful_parent(parents)
        if parent is not None:
            stem = parent if stem in _PACKAGE_STEMS else f"{parent}-{stem}"
        elif stem in ("__init__", "__main__"):
            stem = next((p for p in reversed(parents) if p not in (".", "src")), "package")
    return slugify(stem) or "changes"


def _after_prefix(kind: str, topic: str) -> str:
    """`topic` without the words `kind` already says: feature/api + api-users -> users."""
    drop = _PREFIX_WORDS.get(kind, set())
    return "-".join(word for word in topic.split("-") if word not in drop)


def branch_kind(path: str | None, imported: Iterable[str], fix: bool = False) -> str:
    """The prefix for a change: 'fix', 'feature/api', 'feature/data-pipeline' or 'feature'."""
    if fix:
        return "fix"
    modules = set(imported)
    parts = set(PurePosixPath(path).parts) if path else set()
    if "migrations" in parts or "alembic" in parts:
        return "feature"  # a schema change, whichever framework writes it
    if modules:
        # Only with imports to look at: the framework table's dataclasses cost `pyengineer guard` (which names
        # a branch from a path alone, on every denial) more than all the rest of its work.
        from pyengineer.frameworks import DATA_LIBRARIES, WEB_FRAMEWORKS

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
    if kind in ("feature/api", "feature/data-pipeline"):
        rest = _after_prefix(kind, topic)
        candidates.append(f"{kind}-{rest}" if rest else kind)
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
