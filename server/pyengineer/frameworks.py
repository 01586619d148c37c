"""Which frameworks and libraries a name (distribution or import) stands for.

Plain data at the base of the package: the workspace scan detects frameworks with it, and `git/naming`
names branches with it, so neither layer imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    distributions: tuple[str, ...]
    modules: tuple[str, ...]
    kind: str  # "web", "data", "database", "testing", "tasks", "validation"


FRAMEWORKS = (
    Framework("fastapi", "FastAPI", ("fastapi", "fastapi-slim"), ("fastapi",), "web"),
    Framework("starlette", "Starlette", ("starlette",), ("starlette",), "web"),
    Framework("django", "Django", ("django",), ("django",), "web"),
    Framework(
        "djangorestframework", "Django REST framework", ("djangorestframework",), ("rest_framework",), "web"
    ),
    Framework("flask", "Flask", ("flask",), ("flask",), "web"),
    Framework(
        "sqlalchemy",
        "SQLAlchemy",
        ("sqlalchemy", "flask-sqlalchemy", "sqlmodel"),
        ("sqlalchemy", "sqlmodel"),
        "database",
    ),
    Framework("alembic", "Alembic", ("alembic",), ("alembic",), "database"),
    Framework("asyncpg", "asyncpg", ("asyncpg",), ("asyncpg",), "database"),
    Framework(
        "psycopg",
        "psycopg",
        ("psycopg", "psycopg2", "psycopg2-binary", "psycopg-binary"),
        ("psycopg", "psycopg2"),
        "database",
    ),
    Framework("redis", "Redis", ("redis", "aioredis"), ("redis", "aioredis"), "database"),
    Framework("pandas", "pandas", ("pandas",), ("pandas",), "data"),
    Framework("polars", "Polars", ("polars",), ("polars",), "data"),
    Framework("numpy", "NumPy", ("numpy",), ("numpy",), "data"),
    Framework(
        "pydantic",
        "pydantic",
        ("pydantic", "pydantic-settings"),
        ("pydantic", "pydantic_settings"),
        "validation",
    ),
    Framework("pytest", "pytest", ("pytest",), ("pytest",), "testing"),
    Framework("celery", "Celery", ("celery",), ("celery",), "tasks"),
    Framework("requests", "Requests", ("requests",), ("requests",), "http"),
    Framework("httpx", "HTTPX", ("httpx",), ("httpx",), "http"),
    Framework("aiohttp", "aiohttp", ("aiohttp",), ("aiohttp",), "web"),
)

BY_DISTRIBUTION = {dist: fw for fw in FRAMEWORKS for dist in fw.distributions}
BY_MODULE = {module: fw for fw in FRAMEWORKS for module in fw.modules}
BY_KEY = {fw.key: fw for fw in FRAMEWORKS}

WEB_FRAMEWORKS = frozenset(fw.key for fw in FRAMEWORKS if fw.kind == "web")
DATA_LIBRARIES = frozenset(fw.key for fw in FRAMEWORKS if fw.kind == "data")
