"""Rule modules, one per family; importing this package registers them all."""

from pyengineer.engine.rules import (
    api,
    async_code,
    branch,
    datetime_rule,
    exceptions,
    failing_tests,
    ml,
    pandas_code,
    secrets_rule,
    sql,
    typing_hints,
)

__all__ = [
    "api",
    "async_code",
    "branch",
    "datetime_rule",
    "exceptions",
    "failing_tests",
    "ml",
    "pandas_code",
    "secrets_rule",
    "sql",
    "typing_hints",
]
