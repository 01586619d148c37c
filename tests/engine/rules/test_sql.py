"""PE801 SQL built from strings."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, fixed_text


def test_sqlite_fstring_is_rewritten_to_qmark_parameters(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import sqlite3

        TABLE = "users"


        def find(conn: sqlite3.Connection, name: str, org_id: int) -> list[tuple[str]]:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {TABLE} WHERE name = '{name}' AND org = {org_id}")
            return cur.fetchall()
        """,
    )
    assert len(findings) == 1
    finding = findings[0]
    assert finding.data == {"how": "an f-string", "style": "?"}
    assert "`?` placeholders" in finding.detail
    text = fixed_text(finding)
    assert 'cur.execute(f"SELECT * FROM {TABLE} WHERE name = ? AND org = ?", (name, org_id))' in text, text


def test_sqlalchemy_text_gets_named_binds(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        from sqlalchemy import text


        def delete(conn, user) -> None:
            conn.execute(text(f"DELETE FROM sessions WHERE user_id = {user.id}"))
        """,
    )
    assert (
        'conn.execute(text("DELETE FROM sessions WHERE user_id = :id").bindparams(id=user.id))'
        in fixed_text(findings[0])
    )


def test_psycopg_percent_style_and_variables_followed_to_their_assignment(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import psycopg2


        def search(cur, term: str, limit: int) -> None:
            query = "SELECT id FROM docs WHERE title LIKE '%%%s%%'" % term
            cur.execute(query)
            sql = "SELECT id FROM docs WHERE owner = '{}'".format(term)
            cur.execute(sql)
            stmt = "SELECT id FROM docs"
            stmt += " LIMIT " + str(limit)
            cur.execute(stmt)
            cur.execute(f"SELECT 100% FROM t WHERE a = {term}")
        """,
    )
    assert [f.data["how"] for f in findings] == [
        "% formatting",
        "str.format()",
        "string concatenation (+=)",
        "an f-string",
    ]
    assert all(f.data["style"] == "%s" for f in findings)
    assert "(built in `query`)" in findings[0].detail
    assert 'cur.execute("SELECT 100%% FROM t WHERE a = %s", (term,))' in fixed_text(findings[3])


def test_asyncpg_numbered_parameters(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import asyncpg


        async def get(conn: asyncpg.Connection, uid: int, org: int) -> None:
            await conn.fetch(f"SELECT * FROM t WHERE uid = {uid} AND org = {org} OR owner = {uid}")
        """,
    )
    assert (
        'await conn.fetch("SELECT * FROM t WHERE uid = $1 AND org = $2 OR owner = $1", uid, org)'
        in fixed_text(findings[0])
    )


def test_parameters_constants_and_non_sql_are_fine(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import sqlite3

        TABLE = "users"
        COLUMNS = "id, name"


        def ok(cur: sqlite3.Cursor, name: str, pool) -> None:
            cur.execute("SELECT * FROM users WHERE name = ?", (name,))
            cur.execute(f"SELECT {COLUMNS} FROM {TABLE}")
            cur.execute("SELECT * " + "FROM users")
            pool.execute(f"job-{name}")
        """,
    )
    assert findings == []


def test_identifiers_constants_and_placeholder_lists_are_not_injection(tmp_path: Path) -> None:
    # From the corpus (bench/corpus/labels/PE801.jsonl): DDL over table and column names, imported constants,
    # function names from a constant tuple, and the parameterised `IN (?, ?, ...)` pattern.
    findings = check(
        tmp_path,
        "PE801",
        """
        import sqlite3

        import sqlalchemy as sa
        from app.constants import DEFAULT_WORKSPACE_NAME


        def setup(conn: sqlite3.Connection, table: str, col: str, kind: str, fn: str, keys: list[bytes]) -> None:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_ek ON {table} (entity_key);")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
            conn.execute("select {}()".format(fn))
            conn.execute(f"SELECT * FROM t WHERE entity_key IN ({','.join('?' * len(keys))})", keys)
            conn.execute("SELECT * FROM t WHERE id IN (%s)" % ",".join(["?"] * len(keys)), keys)
            conn.execute(f"SET ROLE {col}")
            default = sa.text(f"'{DEFAULT_WORKSPACE_NAME}'")
        """,
    )
    assert findings == []


def test_values_are_reported_but_fixes_never_bind_identifiers_or_quoted_fragments(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import psycopg2


        def run(cur, table: str, term: str, tz: str, user_id: str) -> None:
            cur.execute(f"SELECT id FROM {table} WHERE owner = {user_id}")
            cur.execute(f"SELECT id FROM docs WHERE title LIKE '%{term}%'")
            cur.execute(f"ALTER DATABASE app SET timezone TO '{tz}'")
            cur.execute(f"SELECT id FROM docs WHERE owner = '{user_id}'")
        """,
    )
    # A utility statement (ALTER) takes no bound values: not reported. An identifier beside the value or a
    # placeholder inside a quoted literal: reported, with no fix.
    assert [f.line for f in findings] == [4, 5, 7]
    assert [bool(f.fixes) for f in findings] == [False, False, True]
    assert 'cur.execute("SELECT id FROM docs WHERE owner = %s", (user_id,))' in fixed_text(findings[2])


def test_enum_values_local_constants_and_local_placeholder_lists(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE801",
        """
        import sqlalchemy as sa


        def migrate(conn, keys, table) -> None:
            default = sa.text(f"'{SkillStatus.ACTIVE.value}'")
            batch_size = 500
            offset = 0
            while True:
                conn.execute(sa.text(f"SELECT * FROM t ORDER BY id LIMIT {batch_size} OFFSET {offset}"))
                offset += batch_size
            placeholders = ",".join(["%s" for _ in keys])
            conn.execute(sa.text(f"SELECT * FROM t WHERE k IN ({placeholders})"))
            conn.execute(sa.text(f"NOTIFY channel, '{table}'"))
        """,
    )
    assert findings == []
    assert (
        check(
            tmp_path,
            "PE801",
            'def f(conn, name):\n    conn.execute(f"SELECT 1 FROM t WHERE a = {name}")\n',
            relative="tests/test_db.py",
        )
        == []
    )


def test_pe801_is_opt_in() -> None:
    from pyengineer.engine.registry import rule_for

    rule = rule_for("PE801")
    assert rule is not None and rule.default is False
