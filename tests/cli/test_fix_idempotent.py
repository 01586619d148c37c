"""`pyengineer check --fix` on a sample project with a finding for every rule that offers a safe fix: each
fixed file still compiles, a second --fix changes nothing, and fixing brings no finding that was not there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyengineer.cli import main

from tests.repos import write

# Each file holds findings with safe fixes next to code that must come through unchanged. PE501 needs a
# project that type-checks (the [tool.mypy] table); PE803's fix is safe where the file already makes aware
# UTC datetimes.
SAMPLE = {
    "pyproject.toml": '[project]\nname = "sample"\ndependencies = ["fastapi"]\n\n[tool.mypy]\nstrict = true\n',
    "sample/__init__.py": "",
    "sample/poller.py": '''\
"""Polls a service."""
import time
from datetime import datetime, timezone

STARTED = datetime.now(timezone.utc)


async def poll(url: str):
    while True:
        time.sleep(5)
        print(url, datetime.utcnow())


async def backoff(delay: float):
    if delay:
        time.sleep(delay)  # a comment that stays
    else:
        time.sleep(
            1.5
        )


def report(value: int):
    print(value)
''',
    "sample/clock.py": """\
import datetime as dt
import asyncio as aio

EPOCH = dt.datetime.now(dt.timezone.utc)


def stamp(event: dict[str, object]):
    event["at"] = dt.datetime.utcnow()


async def wait(seconds: float) -> None:
    from time import sleep

    sleep(seconds)
    await aio.sleep(0)
""",
    "sample/crlf.py": "import time\r\n\r\n\r\nasync def tick(n: int):\r\n    time.sleep(n)\r\n",
}
FIXED_RULES = {"PE301", "PE501", "PE803"}


def report(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    main(["check", "--format", "json", *extra, str(root)])
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_fix_twice_is_idempotent_and_every_fixed_file_compiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sample"
    for relative, text in SAMPLE.items():
        write(root, relative, text.encode())  # bytes: CRLF stays CRLF
    before = report(root, capsys)
    safe = {f["code"] for f in before["findings"] if any(x["safe"] and x["edits"] for x in f["fixes"])}  # type: ignore[attr-defined,index]
    assert safe == FIXED_RULES, "a rule gained or lost a safe fix: add it to the sample"

    main(["check", "--fix", str(root)])
    first = capsys.readouterr()
    assert "Fixed " in first.err
    fixed = {p: p.read_bytes() for p in sorted(root.rglob("*.py"))}
    for path, data in fixed.items():
        compile(data, str(path), "exec", dont_inherit=True)
    assert b"\r\n" in fixed[root / "sample" / "crlf.py"] and b"\n" not in fixed[
        root / "sample" / "crlf.py"
    ].replace(b"\r\n", b"")
    assert b"  # a comment that stays" in fixed[root / "sample" / "poller.py"]

    main(["check", "--fix", str(root)])
    second = capsys.readouterr()
    assert "Fixed " not in second.err
    assert {p: p.read_bytes() for p in sorted(root.rglob("*.py"))} == fixed

    after = report(root, capsys)
    keys = {(f["code"], f["path"], f["message"]) for f in before["findings"]}  # type: ignore[attr-defined,index]
    new = [f for f in after["findings"] if (f["code"], f["path"], f["message"]) not in keys]  # type: ignore[attr-defined,index]
    assert new == []
    left = [f for f in after["findings"] if any(x["safe"] and x["edits"] for x in f["fixes"])]  # type: ignore[attr-defined,index]
    assert left == []
