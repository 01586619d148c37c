"""PE803 naive UTC datetimes."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, dedent, fixed_text


def test_utcnow_with_from_import_extends_the_import(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        from datetime import datetime, timedelta


        def expires() -> datetime:
            return datetime.utcnow() + timedelta(hours=1)
        """,
    )
    assert len(findings) == 1
    # Nothing in the file works with aware datetimes: the value may meet naive ones, so the fix is not safe.
    assert not findings[0].fixes[0].safe
    assert fixed_text(findings[0]) == dedent(
        """
        from datetime import datetime, timedelta, timezone


        def expires() -> datetime:
            return datetime.now(timezone.utc) + timedelta(hours=1)
        """
    )


def test_module_import_and_alias_and_utcfromtimestamp(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        import datetime as dt


        def stamp(ts: float) -> dt.datetime:
            return dt.datetime.utcfromtimestamp(ts)
        """,
    )
    assert "return dt.datetime.fromtimestamp(ts, dt.timezone.utc)" in fixed_text(findings[0])


def test_timezone_name_taken_by_django_gets_an_alias(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        from datetime import datetime

        from django.utils import timezone


        def now() -> datetime:
            return datetime.utcnow()
        """,
        frameworks=("django",),
    )
    assert "django.utils.timezone.now()" in findings[0].detail
    text = fixed_text(findings[0])
    assert "from datetime import datetime, timezone as datetime_timezone\n" in text
    assert "return datetime.now(datetime_timezone.utc)" in text


def test_aware_datetimes_and_other_utcnow_are_fine(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        from datetime import datetime, timezone

        import arrow


        def now() -> datetime:
            arrow.utcnow()
            return datetime.now(timezone.utc)
        """,
    )
    assert findings == []


def test_fix_is_unsafe_where_the_value_meets_naive_datetimes(tmp_path: Path) -> None:
    # The real-service case: `created_at` comes naive from the database; an aware `now` raises TypeError.
    findings = check(
        tmp_path,
        "PE803",
        """
        import datetime


        def age(row) -> datetime.timedelta:
            return datetime.datetime.utcnow() - row.created_at
        """,
    )
    assert [f.fixes[0].safe for f in findings] == [False]
    assert "naive datetimes" in findings[0].fixes[0].title


def test_fix_is_safe_where_the_file_already_uses_aware_utc_or_makes_it_aware_at_once(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        from datetime import datetime, timezone


        def started() -> datetime:
            return datetime.utcnow().replace(tzinfo=timezone.utc)
        """,
    )
    assert findings[0].fixes[0].safe
    aware = check(
        tmp_path,
        "PE803",
        """
        from datetime import UTC, datetime


        def now() -> datetime:
            return datetime.now(UTC)


        def stamp(ts: float) -> datetime:
            return datetime.utcfromtimestamp(ts)
        """,
        relative="app/other.py",
    )
    assert aware[0].fixes[0].safe
    assert "return datetime.fromtimestamp(ts, timezone.utc)" in fixed_text(aware[0])


def test_utcnow_passed_as_a_default_factory_is_found(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE803",
        """
        import datetime

        from sqlalchemy import Column, DateTime

        created = Column(DateTime, default=datetime.datetime.utcnow)
        later = datetime.datetime.utcnow
        """,
    )
    assert [(f.line, f.data["reference"]) for f in findings] == [(4, True), (5, True)]
    fix = findings[0].fixes[0]
    assert not fix.safe
    assert "default=lambda: datetime.datetime.now(datetime.timezone.utc))" in fixed_text(findings[0])
