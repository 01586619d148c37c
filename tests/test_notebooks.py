"""The notebook core (notebooks.py): the strict reader, IPython masking, the line map, the writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyengineer.actions.edits import apply_cell_edits
from pyengineer.findings import Edit, Finding, Fix, Range
from pyengineer.notebooks import (
    NotebookError,
    NotebookModule,
    mask_ipython,
    parse_notebook,
    read_notebook,
    write_notebook,
)


def notebook_json(*cells: dict[str, Any], indent: int | None = 1, **extra: Any) -> str:
    data = {
        "cells": list(cells),
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
        **extra,
    }
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def code(source: str | list[str], **extra: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
        **extra,
    }


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


# --- the reader


def test_reads_cells_of_every_kind_with_source_as_list_or_string(tmp_path: Path) -> None:
    path = tmp_path / "explore.ipynb"
    path.write_text(
        notebook_json(
            markdown("# Title"),
            code(["import os\n", "x = 1"]),
            {"cell_type": "raw", "metadata": {}, "source": "raw text"},
            code("y = 2\n"),
        )
    )
    notebook = read_notebook(path)
    assert [c.kind for c in notebook.cells] == ["markdown", "code", "raw", "code"]
    assert [c.index for c in notebook.code_cells] == [1, 3]
    assert notebook.cells[1].source == "import os\nx = 1" and notebook.cells[1].source_is_list
    assert notebook.cells[3].source == "y = 2\n" and not notebook.cells[3].source_is_list
    assert notebook.is_python


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not a notebook: invalid JSON at line 1 column 2"),
        ("[]", "not a notebook: the JSON is a list, not an object"),
        ('{"cells": []}', "the required key 'nbformat' is missing"),
        ('{"nbformat": 3, "cells": []}', "nbformat 3 is not supported, only nbformat 4"),
        ('{"nbformat": 4, "cells": {}}', "'cells' must be a list, not an object"),
        ('{"nbformat": 4, "cells": [1]}', "cell 1 must be an object, not a number"),
        ('{"nbformat": 4, "cells": [{"cell_type": "kode", "source": ""}]}', "cell 1: 'cell_type' must be"),
        ('{"nbformat": 4, "cells": [{"cell_type": "code"}]}', "cell 1: the required key 'source' is missing"),
        ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": [1]}]}', "cell 1: 'source' must be a"),
        (
            '{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "outputs": 3}]}',
            "'outputs' must be",
        ),
        ('{"nbformat": 4, "metadata": [], "cells": []}', "'metadata' must be an object, not a list"),
    ],
)
def test_a_malformed_notebook_is_an_error_naming_the_file_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(NotebookError) as caught:
        parse_notebook(text, "nb/explore.ipynb")
    assert str(caught.value).startswith("nb/explore.ipynb: ")
    assert problem in str(caught.value)


def test_a_notebook_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(b'{"nbformat": 4, "cells": [], "x": "\xff"}')
    with pytest.raises(NotebookError, match="not UTF-8"):
        read_notebook(path)


def test_an_r_notebook_is_not_python() -> None:
    text = notebook_json(code("x <- 1"), metadata={"kernelspec": {"language": "R", "name": "ir"}})
    assert not parse_notebook(text, "r.ipynb").is_python


# --- masking


def test_line_magics_shell_escapes_and_help_are_masked_without_moving_code() -> None:
    cell = "%matplotlib inline\nfiles = !ls\npd.read_csv?\n?np.load\nimport os\n  !echo hi"
    text, masked = mask_ipython(cell)
    assert text.split("\n") == ["pass", "files = ...", "pass", "pass", "import os", "  pass"]
    assert masked == {0, 1, 2, 3, 5}


def test_a_cell_magic_masks_the_whole_cell() -> None:
    text, masked = mask_ipython("\n%%bash\necho hi\nimport os")
    assert text == "\n\n\n" and masked == {1, 2, 3}


def test_python_that_looks_like_magic_is_left_alone() -> None:
    cell = 'y = (1\n     != 2)\ns = """\n%not a magic\n"""\nz = 1 + \\\n    2\nprint("50%")'
    assert mask_ipython(cell) == (cell, frozenset())


def test_a_magic_inside_a_block_keeps_the_block_valid() -> None:
    module = NotebookModule.from_cells(["for x in range(3):\n    !echo {x}\n    %time f(x)"])
    assert module.tree is not None and not module.broken


def test_a_continued_magic_masks_its_continuation_lines() -> None:
    text, masked = mask_ipython("%time f(1, \\\n  2)\nx = 1")
    assert text == "pass\n\nx = 1" and masked == {0, 1}


# --- the module and the line map


def test_cells_become_one_module_in_order_and_positions_map_both_ways() -> None:
    module = NotebookModule.from_cells(["import os\n", "x = os.sep", "", "y = 1\nz = 2"], [1, 3, 4, 6])
    assert module.text == "import os\n\nx = os.sep\n\ny = 1\nz = 2"
    assert [(s.cell, s.first_line, s.line_count) for s in module.spans] == [
        (1, 0, 2),
        (3, 2, 1),
        (4, 3, 1),
        (6, 4, 2),
    ]
    assert module.locate(5, 3) == (6, 1, 3)
    assert module.position(6, 1, 3) == (5, 3)
    assert module.locate(2, 0) == (3, 0, 0)
    assert module.locate(99, 0) == (6, 1, 5)  # past the end: the end of the last cell


def test_a_broken_cell_is_blanked_and_the_others_still_parse() -> None:
    module = NotebookModule.from_cells(["import os", "def f(:\n    pass", "x = os.sep"], [0, 2, 3])
    assert module.tree is not None
    assert [(b.cell, b.line) for b in module.broken] == [(2, 0)]
    assert module.text.split("\n") == ["import os", "", "", "x = os.sep"]
    assert module.span(2).masked == {0, 1}


def test_findings_and_their_fixes_are_placed_in_cells() -> None:
    module = NotebookModule.from_cells(["%pip install x\nimport os\n", "def f():\n    return os.sep"], [0, 1])
    path = "/p/nb.ipynb"

    def finding(rng: Range, *edit_ranges: Range) -> Finding:
        edits = tuple(Edit(path=path, range=r, new_text="") for r in edit_ranges)
        return Finding(code="PE999", message="m", path=path, range=rng, fixes=(Fix(title="t", edits=edits),))

    placed = module.to_cells(
        [
            finding(Range.of(4, 11, 4, 13), Range.of(4, 4, 4, 13)),
            finding(Range.of(1, 0, 1, 9), Range.of(1, 0, 2, 0)),  # the whole line 'import os'
            finding(Range.of(1, 0, 1, 9), Range.of(0, 0, 1, 0)),  # touches the masked %pip line: dropped
            finding(Range.of(1, 0, 1, 9), Range.of(2, 0, 3, 0)),  # ends at the next cell's start
        ]
    )
    assert (placed[0].cell, placed[0].range) == (1, Range.of(1, 11, 1, 13))
    assert placed[0].fixes[0].edits[0].cell == 1 and placed[0].fixes[0].edits[0].range == Range.of(
        1, 4, 1, 13
    )
    assert placed[1].fixes[0].edits[0].range == Range.of(1, 0, 2, 0) and placed[1].fixes[0].edits[0].cell == 0
    assert placed[2].fixes == ()
    assert placed[3].fixes[0].edits[0].range == Range.of(2, 0, 2, 0)


def test_apply_cell_edits_changes_only_the_named_cells() -> None:
    edits = [Edit(path="p", range=Range.of(0, 0, 0, 9), new_text="import sys", cell=3)]
    assert apply_cell_edits({1: "a = 1", 3: "import os\n"}, edits) == {3: "import sys\n"}


# --- the writer


@pytest.mark.parametrize("indent", [1, 2, 4, None])
def test_the_writer_keeps_the_layout_and_changes_only_the_edited_sources(indent: int | None) -> None:
    outputs = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    text = notebook_json(
        markdown("# Résumé"),
        code(["import os\n", "import sys\n", "x = 1"], outputs=outputs, execution_count=3),
        code("y = 2\n"),
        indent=indent,
    )
    notebook = parse_notebook(text, "n.ipynb")
    new = write_notebook(notebook, {1: "import os\nx = 1", 2: "y = 3\n"})
    expected = json.loads(text)
    expected["cells"][1]["source"] = ["import os\n", "x = 1"]
    expected["cells"][2]["source"] = "y = 3\n"
    assert new == json.dumps(expected, indent=indent, ensure_ascii=False) + "\n"


def test_the_writer_keeps_key_order_escapes_crlf_and_one_line_lists() -> None:
    text = (
        '{\r\n  "nbformat": 4,\r\n  "cells": [\r\n    {"source": ["a = 1\\n", "b = \\u00e9"], "cell_type": "code", '
        '"outputs": [], "metadata": {"z": 1, "a": 2.50}}\r\n  ],\r\n  "metadata": {}\r\n}'
    )
    notebook = parse_notebook(text, "n.ipynb")
    new = write_notebook(notebook, {0: "a = 2\nb = é"})
    assert new == text.replace('"a = 1\\n"', '"a = 2\\n"')


def test_writing_nothing_changed_returns_the_same_bytes() -> None:
    text = notebook_json(code(["x = 1\n", "y = 2"]))
    notebook = parse_notebook(text, "n.ipynb")
    assert write_notebook(notebook, {0: "x = 1\ny = 2"}) == text
    assert write_notebook(notebook, {}) == text


def test_an_emptied_list_source_is_an_empty_list() -> None:
    text = notebook_json(code(["x = 1\n"]), code("z"))
    new = json.loads(write_notebook(parse_notebook(text, "n.ipynb"), {0: ""}))
    assert new["cells"][0]["source"] == []
