"""Rule modules, one per family; importing this package registers them all."""

from pyengineer.engine.rules import (
    api,
    async_code,
    branch,
    datetime_rule,
    exceptions,
    ml,
    pandas_code,
    sql,
    typing_hints,
)

__all__ = [
    "api",
    "async_code",
    "branch",
    "datetime_rule",
    "exceptions",
    "ml",
    "pandas_code",
    "sql",
    "typing_hints",
]
