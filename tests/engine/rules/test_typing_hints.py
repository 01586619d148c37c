"""PE501 missing type hints, and the `-> None` fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.workspace.context import WorkspaceIndex

from tests.engine.rules import rule_harness
from tests.engine.rules.rule_harness import dedent, fixed_text

PUBLIC = Settings(type_hints="public")


def check(root: Path, code: str, text: str, **kw: Any) -> list[Finding]:
    """The rule's findings with `type-hints = "public"` (everywhere) unless the test chooses."""
    kw.setdefault("settings", PUBLIC)
    return rule_harness.check(root, code, text, **kw)


def check_project(root: Path, files: dict[str, str], settings: Settings | None = None) -> list[Finding]:
    """PE501's findings in every .py of a real project (its config files read by the real workspace index)."""
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(dedent(text), encoding="utf-8")
    chosen = (settings or Settings()).model_copy(update={"select": ("PE501",)})
    index = WorkspaceIndex(root, chosen)
    index.scan()
    context = index.context()
    findings: list[Finding] = []
    for relative in sorted(files):
        if relative.endswith(".py"):
            path = root / relative
            source = ParsedSource(str(path), path.read_text(encoding="utf-8"), relative)
            findings += analyze(source, context, chosen)
    return findings


def where(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(Path(f.path).name, f.data["function"]) for f in findings]


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


UNTYPED = """
def run(job):
    return job
"""


def test_default_reports_only_where_the_project_asks_for_annotations(tmp_path: Path) -> None:
    # No type checker: the project did not ask for types.
    plain = {"pyproject.toml": "[project]\nname = 'x'\n", "app/a.py": UNTYPED}
    assert check_project(tmp_path / "plain", plain) == []
    # py.typed alone asks for nothing: measured, most py.typed packages leave public functions unannotated.
    typed = {"pkg/__init__.py": "", "pkg/py.typed": "", "pkg/a.py": UNTYPED}
    assert check_project(tmp_path / "typed", typed) == []
    # strict, with the very error PE501 reports turned off (jupyter-server does this).
    disabled = {
        "pyproject.toml": '[tool.mypy]\nstrict = true\ndisable_error_code = ["no-untyped-def"]\n',
        "app/a.py": UNTYPED,
    }
    assert check_project(tmp_path / "disabled", disabled) == []
    strict = {"pyproject.toml": "[tool.mypy]\nstrict = true\n", "app/a.py": UNTYPED}
    assert where(check_project(tmp_path / "strict", strict)) == [("a.py", "run")]
    # `type-hints = "public"` asks everywhere.
    assert where(check_project(tmp_path / "plain", plain, PUBLIC)) == [("a.py", "run")]


def test_mypy_files_excludes_and_per_module_overrides_are_followed(tmp_path: Path) -> None:
    findings = check_project(
        tmp_path,
        {
            "pyproject.toml": """
            [tool.mypy]
            strict = true
            files = ["src"]
            exclude = ["src/app/vendored/"]

            [[tool.mypy.overrides]]
            module = "app.legacy.*"
            ignore_errors = true

            [[tool.mypy.overrides]]
            module = ["app.scripts"]
            disallow_untyped_defs = false
            """,
            "src/app/core.py": UNTYPED,
            "src/app/vendored/six.py": UNTYPED,
            "src/app/legacy/old.py": UNTYPED,
            "src/app/scripts.py": UNTYPED,
            "tools/build.py": UNTYPED,
        },
    )
    assert where(findings) == [("core.py", "run")]


def test_mypy_ini_sections_and_pyright_excludes(tmp_path: Path) -> None:
    ini = check_project(
        tmp_path / "ini",
        {
            "mypy.ini": """
            [mypy]
            disallow_untyped_defs = True
            exclude = (?x)(
                ^build/
              )

            [mypy-app.migrations_helpers]
            ignore_errors = True
            """,
            "app/core.py": UNTYPED,
            "app/migrations_helpers.py": UNTYPED,
            "build/gen.py": UNTYPED,
        },
    )
    assert where(ini) == [("core.py", "run")]
    pyright = check_project(
        tmp_path / "pyright",
        {
            "pyrightconfig.json": '{"include": ["app"], "exclude": ["app/generated"], "typeCheckingMode": "strict"}',
            "app/core.py": UNTYPED,
            "app/generated/api.py": UNTYPED,
            "other/x.py": UNTYPED,
        },
    )
    assert where(pyright) == [("core.py", "run")]
    off = check_project(
        tmp_path / "off", {"pyrightconfig.json": '{"typeCheckingMode": "off"}', "app/core.py": UNTYPED}
    )
    assert off == []


def test_type_checking_that_allows_unannotated_functions_is_followed(tmp_path: Path) -> None:
    # mypy without strict / disallow_untyped_defs accepts unannotated functions, and so does PE501; an
    # override that asks for them for one package is followed there.
    findings = check_project(
        tmp_path / "mypy",
        {
            "pyproject.toml": """
            [tool.mypy]
            ignore_missing_imports = true

            [[tool.mypy.overrides]]
            module = "app.api.*"
            disallow_untyped_defs = true
            """,
            "app/core.py": UNTYPED,
            "app/api/routes.py": UNTYPED,
        },
    )
    assert where(findings) == [("routes.py", "run")]
    basic = check_project(
        tmp_path / "pyright",
        {
            "pyrightconfig.json": '{"typeCheckingMode": "basic", "strict": ["app/typed"]}',
            "app/core.py": UNTYPED,
            "app/typed/model.py": UNTYPED,
        },
    )
    assert where(basic) == [("model.py", "run")]


def test_migrations_unittest_methods_and_dunders_checkers_infer(tmp_path: Path) -> None:
    alembic = check(
        tmp_path,
        "PE501",
        """
        from alembic import op

        revision = "a1b2"
        down_revision = None


        def upgrade():
            op.create_table("t")


        def downgrade():
            op.drop_table("t")
        """,
        relative="migrations/versions/a1b2_add_t.py",
    )
    assert alembic == []
    django = check(
        tmp_path,
        "PE501",
        """
        from django.db import migrations


        def forwards(apps, schema_editor):
            pass


        class Migration(migrations.Migration):
            operations = [migrations.RunPython(forwards)]
        """,
        relative="shop/migrations/0002_data.py",
    )
    assert django == []
    unit = check(
        tmp_path,
        "PE501",
        """
        import unittest


        class ParserTest(unittest.TestCase):
            def setUp(self):
                self.p = make()

            def test_parses(self):
                self.assertTrue(self.p.ok)

            def helper(self, x):
                return x
        """,
        relative="pkg/checks.py",
    )
    assert [f.data["function"] for f in unit] == ["helper"]
    dunders = check(
        tmp_path,
        "PE501",
        """
        class Money:
            def __init__(self):
                self.cents = 0

            def __repr__(self):
                return f"Money({self.cents})"

            def __eq__(self, other: object):
                return isinstance(other, Money) and other.cents == self.cents

            def __add__(self, other):
                return Money()
        """,
        relative="pkg/money.py",
    )
    assert [(f.data["function"], f.data["missing"], f.data["return"]) for f in dunders] == [
        ("__add__", ["other"], True)
    ]


def test_flask_views_are_exempt_project_wide(tmp_path: Path) -> None:
    # The blueprint comes from another module: this file does not import flask itself.
    findings = check(
        tmp_path,
        "PE501",
        """
        from . import bp


        @bp.route("/items/<int:item_id>")
        def item(item_id: int):
            return {"id": item_id}
        """,
        frameworks=("flask",),
        relative="app/views.py",
    )
    assert findings == []


def test_signatures_the_project_silenced_and_overload_implementations(tmp_path: Path) -> None:
    # aiohttp and sqladmin (mypy strict) silence these on purpose; PE501 honours it.
    findings = check(
        tmp_path,
        "PE501",
        """
        from typing import Any, no_type_check, overload


        def pytest_addoption(parser):  # type: ignore[no-untyped-def]
            parser.addoption("--fast")


        def pytest_generate_tests(metafunc):
            return None


        class Table:
            @overload
            def __getitem__(self, index: int) -> int: ...

            @overload
            def __getitem__(self, index: slice) -> list[int]: ...

            def __getitem__(self, index):
                return self._items[index]


        class Meta(type):
            @no_type_check
            def __new__(mcs, name, bases, attrs: dict, **kwargs: Any):
                return super().__new__(mcs, name, bases, attrs)


        def plain(x):
            return x
        """,
        relative="pkg/plugin.py",
    )
    assert [f.data["function"] for f in findings] == ["plain"]
