"""PE301 blocking calls in coroutines, PE302 sync ORM work in async endpoints."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, dedent, fixed_text


def test_time_sleep_in_coroutine_is_fixed_with_asyncio_sleep_and_import(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        \"\"\"Poller.\"\"\"
        import time

        import httpx


        async def poll(client: httpx.AsyncClient) -> None:
            while True:
                time.sleep(5)
        """,
    )
    assert len(findings) == 1
    finding = findings[0]
    assert "time.sleep()" in finding.message and "poll" in finding.message
    assert (finding.line, finding.column) == (8, 8)
    fix = finding.fixes[0]
    assert fix.safe
    assert fixed_text(finding) == dedent(
        """
        \"\"\"Poller.\"\"\"
        import asyncio
        import time

        import httpx


        async def poll(client: httpx.AsyncClient) -> None:
            while True:
                await asyncio.sleep(5)
        """
    )


def test_from_import_sleep_and_existing_asyncio_alias(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        import asyncio as aio
        from time import sleep


        async def tick() -> None:
            sleep(0.5)  # wait
        """,
    )
    assert [f.code for f in findings] == ["PE301"]
    assert fixed_text(findings[0]) == dedent(
        """
        import asyncio as aio
        from time import sleep


        async def tick() -> None:
            await aio.sleep(0.5)  # wait
        """
    )


def test_sleep_not_in_statement_position_has_no_safe_fix(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        import time


        async def tick() -> None:
            values = [time.sleep(1) for _ in range(3)]
        """,
    )
    assert len(findings) == 1
    assert not any(fix.safe for fix in findings[0].fixes)


def test_blocking_libraries_and_suggestions_use_the_project_context(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        import sqlite3
        import subprocess
        import urllib.request

        import requests


        async def handler(url: str) -> None:
            response = requests.get(url, timeout=5)
            urllib.request.urlopen(url)
            subprocess.run(["ls"])
            sqlite3.connect("db.sqlite")
        """,
        frameworks=("httpx",),
    )
    assert [f.data["call"] for f in findings] == [
        "requests.get()",
        "urlopen()",
        "subprocess.run()",
        "sqlite3.connect()",
    ]
    assert "httpx is already a dependency" in findings[0].detail
    assert "aiosqlite" in findings[3].detail
    to_thread = findings[0].fixes[0]
    assert not to_thread.safe
    assert "response = await asyncio.to_thread(requests.get, url, timeout=5)" in fixed_text(
        findings[0], to_thread
    )


def test_no_findings_outside_coroutines_or_in_nested_sync_functions(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        import asyncio
        import time

        import requests


        def sync_work() -> None:
            time.sleep(1)
            requests.get("https://example.com")


        async def main() -> None:
            def in_thread() -> None:
                time.sleep(1)

            await asyncio.to_thread(in_thread)
            await asyncio.sleep(1)
            callback = lambda: time.sleep(1)  # noqa: E731
        """,
    )
    assert findings == []


def test_local_function_named_sleep_is_not_time_sleep(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        def sleep(seconds: float) -> None: ...


        async def main() -> None:
            sleep(1)
        """,
    )
    assert findings == []


def test_sync_session_in_plain_coroutine_is_pe301(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        from sqlalchemy.orm import Session, sessionmaker

        SessionLocal = sessionmaker()


        async def cleanup() -> None:
            with SessionLocal() as session:
                session.execute("DELETE FROM t")
                session.commit()
        """,
    )
    assert [f.data["call"] for f in findings] == ["session.execute()", "session.commit()"]


FASTAPI_APP = """
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

app = FastAPI()


def get_db() -> Session: ...


@app.post("/items")
async def create_item(name: str, db: Session = Depends(get_db)) -> dict[str, str]:
    item = Item(name=name)
    db.add(item)
    db.commit()
    db.refresh(item)
    return {"name": item.name}


@app.get("/items")
def list_items(db: Session = Depends(get_db)) -> list[str]:
    return [i.name for i in db.query(Item).all()]


@app.get("/async-ok")
async def ok() -> dict[str, str]:
    return {"ok": "yes"}
"""


def test_sync_orm_in_async_fastapi_endpoint_is_pe302_once(tmp_path: Path) -> None:
    findings = check(tmp_path, "PE302", FASTAPI_APP, frameworks=("fastapi", "sqlalchemy"))
    assert len(findings) == 1
    finding = findings[0]
    assert "create_item" in finding.message
    assert finding.data["calls"] == ["db.commit()", "db.refresh()"]
    assert "threadpool" in finding.detail
    fix = finding.fixes[0]
    assert not fix.safe
    assert "\ndef create_item(name: str" in fixed_text(finding, fix)
    # PE301 leaves the endpoint's ORM calls to PE302.
    assert check(tmp_path, "PE301", FASTAPI_APP, frameworks=("fastapi", "sqlalchemy")) == []


def test_pe302_does_not_offer_def_when_the_endpoint_awaits(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE302",
        """
        from typing import Annotated

        from fastapi import APIRouter, Depends
        from sqlalchemy.orm import Session

        router = APIRouter()
        SessionDep = Annotated[Session, Depends(get_db)]


        @router.put("/items/{item_id}")
        async def update(item_id: int, db: SessionDep) -> None:
            await notify(item_id)
            db.execute(update_stmt)
        """,
        frameworks=("fastapi",),
    )
    assert len(findings) == 1
    assert findings[0].fixes == ()


def test_pe302_is_only_for_fastapi_or_starlette_workspaces(tmp_path: Path) -> None:
    # A Flask workspace with no fastapi import: the rule is not relevant.
    assert check(tmp_path, "PE302", "async def f(db):\n    db.commit()\n", frameworks=("flask",)) == []


def test_no_sleep_fix_in_a_test_that_blocks_on_purpose(tmp_path: Path) -> None:
    text = """
        import time


        async def test_watchdog_notices_a_blocked_loop() -> None:
            time.sleep(0.5)


        async def helper() -> None:
            time.sleep(0.5)
        """
    # In a test file a lone sleep is deliberate and not reported at all (see the test below).
    assert check(tmp_path, "PE301", text, relative="tests/test_watchdog.py") == []
    # In application code only the test-named coroutine keeps its sleep.
    in_app = check(tmp_path, "PE301", text, relative="app/watchdog.py")
    assert [bool(f.fixes) for f in in_app] == [False, True]


def test_awaited_calls_are_not_blocking_whatever_the_annotation(tmp_path: Path) -> None:
    # prefect's run_history: `session: sa.orm.Session` that is an AsyncSession at run time, and awaited.
    findings = check(
        tmp_path,
        "PE301",
        """
        import sqlalchemy as sa


        async def run_history(session: sa.orm.Session, counts):
            result = await session.execute(counts)
            return result.all()
        """,
    )
    assert findings == []


def test_tests_that_block_on_purpose_are_not_reported_but_polling_is(tmp_path: Path) -> None:
    text = """
    import sqlite3
    import time


    async def test_keepalive_timeout_sync_sleep(client):
        await client.get("/")
        time.sleep(0.5)  # a harder case than asyncio.sleep, on purpose
        db = sqlite3.connect("fixture.db")


    async def wait_for_state(client):
        for _ in range(10):
            if await client.ready():
                return
            time.sleep(0.1)
    """
    findings = check(tmp_path, "PE301", text, relative="tests/test_client.py")
    assert [f.data["function"] for f in findings] == ["wait_for_state"]
    # The same code outside the tests is reported everywhere.
    assert len(check(tmp_path, "PE301", text, relative="app/client.py")) == 3


def test_requests_session_calls_block_too(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE301",
        """
        import requests


        async def fetch(url):
            first = requests.Session().get(url)
            with requests.Session() as session:
                second = session.post(url, json={})
            return first, second
        """,
    )
    assert [f.data["call"] for f in findings] == ["requests.Session().get()", "requests.Session().post()"]


def test_engine_and_session_factory_imported_from_another_module(tmp_path: Path) -> None:
    # The workspace index records module-level sync engines and session factories (a cross-file fact), so a
    # coroutine in another module that uses them is found; an async engine is not.
    from pyengineer.checking import check_paths

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\ndependencies = ["sqlalchemy"]\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(
        dedent(
            """
            from sqlalchemy import create_engine
            from sqlalchemy.ext.asyncio import create_async_engine
            from sqlalchemy.orm import sessionmaker

            engine = create_engine("sqlite:///shop.db")
            async_engine = create_async_engine("sqlite+aiosqlite:///shop.db")
            SessionLocal = sessionmaker(bind=engine)
            """
        )
    )
    (tmp_path / "app" / "jobs.py").write_text(
        dedent(
            """
            from sqlalchemy import text

            from app.db import SessionLocal, async_engine, engine
            from .db import engine as same_engine


            async def nightly() -> None:
                with engine.connect() as conn:
                    conn.execute(text("DELETE FROM carts"))
                with SessionLocal() as session:
                    session.commit()
                same_engine.begin()
                async with async_engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            """
        )
    )
    (project,) = check_paths([tmp_path], {"select": ["PE301"]})
    calls = sorted(f.data["call"] for f in project.findings)
    assert calls == ["engine.connect()", "same_engine.begin()", "session.commit()"]
