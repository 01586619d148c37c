"""`pyengineer check --fix` applies the safe fixes of the rule pack, end to end on real files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pyengineer.cli import main

SERVICE = '''\
"""A small FastAPI service with fixable problems."""
import time
from datetime import datetime, timezone

from fastapi import FastAPI

app = FastAPI()
STARTED = datetime.now(timezone.utc)


async def wait_and_stamp():
    time.sleep(1)
    time.sleep(2)
    return datetime.utcnow()


@app.post("/items")
async def create_item(payload: dict) -> dict[str, str]:
    return {"name": payload["name"], "sku": payload["sku"], "at": str(datetime.utcnow())}


def log_line(message: str):
    print(message)
'''

FIXED = '''\
"""A small FastAPI service with fixable problems."""
import asyncio
import time
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
STARTED = datetime.now(timezone.utc)


async def wait_and_stamp():
    await asyncio.sleep(1)
    await asyncio.sleep(2)
    return datetime.now(timezone.utc)


class CreateItemRequest(BaseModel):
    name: Any
    sku: Any


@app.post("/items")
async def create_item(payload: CreateItemRequest) -> dict[str, str]:
    return {"name": payload.name, "sku": payload.sku, "at": str(datetime.now(timezone.utc))}


def log_line(message: str) -> None:
    print(message)
'''


def test_check_fix_applies_every_safe_fix_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "service"
    project.mkdir()
    # The project type-checks (PE501 speaks), and the file already works with aware datetimes (PE803's fix
    # is safe).
    (project / "pyproject.toml").write_text(
        '[project]\nname = "service"\ndependencies = ["fastapi"]\n\n[tool.mypy]\nstrict = true\n'
    )
    path = project / "main.py"
    path.write_text(SERVICE)
    code = main(["check", "--fix", "--select", "PE3,PE4,PE5,PE8", str(project)])
    result = path.read_text()
    ast.parse(result)
    assert result == FIXED
    out = capsys.readouterr()
    assert "Fixed 6 findings." in out.err
    # What is left has no safe fix: PE501 on a coroutine that returns a value, PE403 is not selected.
    assert "PE301" not in out.out and "PE803" not in out.out and "PE401" not in out.out
    assert "PE501" in out.out
    assert code == 0  # PE501 is info: it does not fail the check under the default --fail-on warning
    # A second run has nothing left to fix.
    assert main(["check", "--fix", "--select", "PE3,PE8", str(project)]) == 0
    assert path.read_text() == FIXED
