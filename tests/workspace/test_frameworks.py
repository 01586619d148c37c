"""Frameworks and libraries: from declared dependencies (every format) and from imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.config import Settings
from pyengineer.errors import ConfigError
from pyengineer.workspace.context import build_context
from pyengineer.workspace.dependencies import (
    pyproject_dependencies,
    read_requirements,
    requirement_name,
)

from tests.repos import write

PEP621 = """\
[project]
name = "shop"
dependencies = [
  "FastAPI[all]>=0.110",
  "SQLAlchemy[asyncio] ~= 2.0",
  "pydantic>=2; python_version >= '3.11'",
]

[project.optional-dependencies]
cache = ["redis>=5"]
tasks = ["celery[redis]==5.4.0"]

[dependency-groups]
test = ["pytest>=8"]
"""

POETRY = """\
[tool.poetry]
name = "shop"

[tool.poetry.dependencies]
python = "^3.11"
Django = "^5.0"
asyncpg = { version = "^0.29", optional = true }

[tool.poetry.dev-dependencies]
pytest = "*"

[tool.poetry.group.data.dependencies]
pandas = "^2"
numpy = ">=1.26"

[tool.poetry.group.db.dependencies]
alembic = "^1.13"
"""

REQUIREMENTS = """\
# web
Flask==3.0.2  # pinned for the demo
flask_sqlalchemy>=3 ; python_version >= "3.8"
redis[hiredis]>=5.0,<6 \\
    --hash=sha256:abc
alembic ~= 1.13
-e git+https://example.com/repo.git#egg=Celery
https://example.com/pkgs/asyncpg-0.29.tar.gz#egg=asyncpg
--index-url https://pypi.example.com/simple

    pytest
"""


def test_pep621_dependencies_optional_groups_and_dependency_groups(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PEP621)
    frameworks = build_context(tmp_path).frameworks
    assert set(frameworks) == {"fastapi", "sqlalchemy", "pydantic", "redis", "celery", "pytest"}


def test_poetry_tables_and_groups(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", POETRY)
    context = build_context(tmp_path)
    assert set(context.frameworks) == {"django", "asyncpg", "pytest", "pandas", "numpy", "alembic"}
    assert context.framework_evidence["django"] == ("pyproject.toml",)


def test_requirements_with_specifiers_extras_markers_comments_and_urls(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", REQUIREMENTS)
    names, included = read_requirements(tmp_path / "requirements.txt")
    assert names == ["flask", "flask-sqlalchemy", "redis", "alembic", "celery", "asyncpg", "pytest"]
    assert included == []
    frameworks = set(build_context(tmp_path).frameworks)
    assert frameworks == {"flask", "sqlalchemy", "redis", "alembic", "celery", "asyncpg", "pytest"}


def test_pipfile_and_setup_cfg(tmp_path: Path) -> None:
    write(tmp_path, "Pipfile", '[packages]\nflask = "*"\n[dev-packages]\npytest = "*"\n')
    write(
        tmp_path,
        "setup.cfg",
        "[options]\ninstall_requires =\n    pandas>=2\n    numpy\n[options.extras_require]\njobs = celery\n",
    )
    assert set(build_context(tmp_path).frameworks) == {"flask", "pytest", "pandas", "numpy", "celery"}


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("Django>=4", "django"),
        ("zope.interface", "zope-interface"),
        ("Flask_SQLAlchemy[async] (>=3)", "flask-sqlalchemy"),
        ("numpy; python_version<'3.12'", "numpy"),
        ("pandas @ https://example.com/pandas.whl", "pandas"),
        ("  # only a comment", None),
        ("--extra-index-url https://x", None),
        ("./local/pkg", None),
        ("", None),
    ],
)
def test_requirement_name(requirement: str, name: str | None) -> None:
    assert requirement_name(requirement) == name


def test_requirements_include_cycles_terminate(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r other.txt\nflask\n")
    write(tmp_path, "other.txt", "-r requirements.txt\ndjango\n")
    names, included = read_requirements(tmp_path / "requirements.txt")
    assert sorted(names) == ["django", "flask"]
    assert included == [(tmp_path / "other.txt").resolve()]


def test_broken_pyproject_gives_no_dependencies_rather_than_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[project\nname = ")
    context = build_context(tmp_path, settings=Settings())
    assert context.python_project is True
    assert context.frameworks == ()


def test_broken_pyproject_is_reported_as_a_config_error_naming_the_file(tmp_path: Path) -> None:
    # It may hold [tool.pyengineer]: silently running with the defaults would hide the mistake.
    write(tmp_path, "pyproject.toml", "[project\nname = ")
    with pytest.raises(ConfigError) as caught:
        build_context(tmp_path)
    assert caught.value.path == str(tmp_path / "pyproject.toml")
    assert "not valid TOML" in str(caught.value)


def test_poetry_python_entry_is_not_a_dependency() -> None:
    data = {"tool": {"poetry": {"dependencies": {"python": "^3.11", "Flask": "*"}}}}
    assert pyproject_dependencies(data) == ["flask"]


@pytest.mark.parametrize(
    ("source", "framework"),
    [
        ("from fastapi import FastAPI\n", "fastapi"),
        ("from django.db import models\n", "django"),
        ("import flask\n", "flask"),
        ("from sqlalchemy.orm import Session\n", "sqlalchemy"),
        ("from alembic import op\n", "alembic"),
        ("import asyncpg\n", "asyncpg"),
        ("import redis.asyncio as redis\n", "redis"),
        ("import pandas as pd\n", "pandas"),
        ("import numpy as np\n", "numpy"),
        ("from pydantic import BaseModel\n", "pydantic"),
        ("import pytest\n", "pytest"),
        ("from celery import Celery\n", "celery"),
    ],
)
def test_frameworks_from_imports(tmp_path: Path, source: str, framework: str) -> None:
    write(tmp_path, "app/module.py", f"def f():\n    pass\n{source}")
    context = build_context(tmp_path)
    assert context.frameworks == (framework,)
    assert context.framework_evidence[framework] == ("import:app/module.py",)


def test_frameworks_from_imports_in_a_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "api.py", "from fastapi import FastAPI\napp = FastAPI(\n")
    assert build_context(tmp_path).frameworks == ("fastapi",)


def test_a_mention_in_a_string_is_not_a_framework(tmp_path: Path) -> None:
    write(tmp_path, "notes.py", 'TEXT = "import django"\n# import flask\n')
    assert build_context(tmp_path).frameworks == ()
