"""PE501 missing type hints, and the `-> None` fix."""

from __future__ import annotations

from pathlib import Path

from pyengineer.config import Settings

from tests.engine.rules.rule_harness import check, dedent, fixed_text

MODULE = """
def save(record, *, force=False):
    if force:
        write(record)
        return
    queue(record)


def load(key: str):
    return cache[key]


def _private(x):
    return x


class Repo:
    def __init__(self, url: str):
        self.url = url

    def close(self):
        \"\"\"Close it.\"\"\"
        self.conn.close()

    def rows(self, query: str):
        yield from self.conn.execute(query)

    def hook(self):
        ...


def annotated(a: int, b: int = 0) -> int:
    return a + b
"""


def test_public_functions_and_methods_without_hints(tmp_path: Path) -> None:
    findings = check(tmp_path, "PE501", MODULE)
    assert [(f.data["function"], f.data["missing"], f.data["return"]) for f in findings] == [
        ("save", ["record", "force"], True),
        ("load", [], True),
        ("close", [], True),
        ("rows", [], True),
        ("hook", [], True),
    ]
    by_name = {f.data["function"]: f for f in findings}
    # Only functions that provably return nothing get the safe `-> None`.
    assert [fix.safe for fix in by_name["save"].fixes] == [True]
    assert by_name["load"].fixes == () and by_name["rows"].fixes == () and by_name["hook"].fixes == ()
    assert "def save(record, *, force=False) -> None:" in fixed_text(by_name["save"])
    assert "    def close(self) -> None:\n" in fixed_text(by_name["close"])


def test_all_mode_includes_private_and_off_mode_nothing(tmp_path: Path) -> None:
    everything = check(tmp_path, "PE501", MODULE, settings=Settings(type_hints="all"))
    assert "_private" in [f.data["function"] for f in everything]
    assert check(tmp_path, "PE501", MODULE, settings=Settings(type_hints="off")) == []


def test_multiline_signature_gets_the_annotation_after_the_closing_paren(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE501",
        """
        async def notify(
            user: str,
            message: str = "(hi)",  # a comment with ) in it
        ):
            await send(user, message)
        """,
    )
    assert fixed_text(findings[0]) == dedent(
        """
        async def notify(
            user: str,
            message: str = "(hi)",  # a comment with ) in it
        ) -> None:
            await send(user, message)
        """
    )


def test_tests_fixtures_and_overrides_are_skipped(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE501",
        """
        import pytest
        from typing import override


        @pytest.fixture
        def client():
            return make()


        def test_it(client):
            assert client


        class Child(Base):
            @override
            def run(self, x):
                return x
        """,
        relative="tests/test_things.py",
    )
    assert findings == []


def test_endpoints_are_not_asked_for_a_return_type(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE501",
        """
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/items/{item_id}")
        def read_item(item_id: int):
            return {"id": item_id}


        @app.get("/search")
        def search(q):
            return []
        """,
        frameworks=("fastapi",),
    )
    assert [(f.data["function"], f.data["missing"], f.data["return"]) for f in findings] == [
        ("search", ["q"], False)
    ]
