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
    assert findings[0].fixes[0].safe
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
    assert "django.utils.timezone.now()" in findings[0].message
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
