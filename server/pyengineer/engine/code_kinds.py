"""What kind of code a file is by its path: test code, example and documentation code.

Rules that speak differently about fixtures and demos (PE802, PE301) ask here, so that "is this a test" has one
answer across the engine (Django's `tests.py`, `conftest.py` and `tests/` folders included).
"""

from __future__ import annotations

from pathlib import PurePosixPath

_TEST_PARTS = frozenset({"tests", "test", "testing", "testapp"})
_EXAMPLE_PARTS = frozenset({"examples", "example", "docs", "docs_src", "doc", "samples", "sample", "demo"})


def is_test_path(relative: str) -> bool:
    """Test code: `test_*.py`, `*_test.py`, Django's `tests.py`, `conftest.py`, or under a tests folder."""
    path = PurePosixPath(relative.replace("\\", "/"))
    name = path.name
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", "_test.ipynb"))
        or name in ("tests.py", "conftest.py")
        or bool(_TEST_PARTS & set(path.parts[:-1]))
    )


def is_example_path(relative: str) -> bool:
    """Example, sample and documentation code (`examples/`, `docs/`, `docs_src/`...)."""
    return bool(_EXAMPLE_PARTS & set(PurePosixPath(relative.replace("\\", "/")).parts[:-1]))
