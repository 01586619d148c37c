"""Imports added by quick fixes land where isort would put them."""

from __future__ import annotations

import ast
from pathlib import Path

from pyengineer.actions.edits import apply_text_edits
from pyengineer.engine.import_edits import need_module, need_name
from pyengineer.engine.source import ParsedSource
from pyengineer.engine.syntax import SyntaxIndex, syntax_index

from tests.engine.rules.rule_harness import dedent

# An index refers to its source weakly (it is cached per source): the sources stay alive here.
_SOURCES: list[ParsedSource] = []


def _index(tmp_path: Path, text: str) -> SyntaxIndex:
    path = tmp_path / "m.py"
    path.write_text(dedent(text))
    _SOURCES.append(ParsedSource(str(path), path.read_text(), "m.py"))
    index = syntax_index(_SOURCES[-1])
    assert index is not None
    return index


def _apply(index: SyntaxIndex, edit: object) -> str:
    assert edit is not None
    result = apply_text_edits(index.source.text, [edit])  # type: ignore[list-item]
    ast.parse(result)
    return result


def test_stdlib_import_is_sorted_into_the_stdlib_section(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        """
        from __future__ import annotations

        import json
        import time
        from pathlib import Path

        import httpx
        """,
    )
    need = need_module(index, "asyncio")
    assert need.name == "asyncio"
    assert _apply(index, need.edit) == dedent(
        """
        from __future__ import annotations

        import asyncio
        import json
        import time
        from pathlib import Path

        import httpx
        """
    )


def test_third_party_only_file_gets_a_new_stdlib_section_above(tmp_path: Path) -> None:
    index = _index(tmp_path, "import httpx\n\nx = 1\n")
    assert _apply(index, need_module(index, "os").edit) == "import os\n\nimport httpx\n\nx = 1\n"


def test_no_imports_goes_after_the_docstring(tmp_path: Path) -> None:
    index = _index(tmp_path, '"""Doc."""\nX = 1\n')
    assert _apply(index, need_module(index, "os").edit) == '"""Doc."""\n\nimport os\n\nX = 1\n'


def test_existing_bindings_are_reused(tmp_path: Path) -> None:
    index = _index(tmp_path, "import asyncio as aio\nimport datetime\nfrom typing import Any as A\n")
    assert need_module(index, "asyncio").edit is None and need_module(index, "asyncio").name == "aio"
    assert need_name(index, "datetime", "timezone").name == "datetime.timezone"
    assert need_name(index, "typing", "Any").name == "A"


def test_from_import_is_extended_even_when_parenthesized(tmp_path: Path) -> None:
    index = _index(tmp_path, "from datetime import (\n    date,\n    datetime,\n)\n")
    need = need_name(index, "datetime", "timezone")
    assert _apply(index, need.edit) == "from datetime import (\n    date,\n    datetime, timezone,\n)\n"


def test_a_taken_name_is_imported_under_an_alias(tmp_path: Path) -> None:
    index = _index(tmp_path, "import json\n\nasyncio = None\n")
    need = need_module(index, "asyncio")
    assert need.name == "asyncio_module"
    assert "import asyncio as asyncio_module\n" in _apply(index, need.edit)
