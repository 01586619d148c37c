"""The import scanners on the cases the ML boundary depends on, valid and broken."""

from __future__ import annotations

import ast
import textwrap
import warnings

import pytest
from pyengineer.lines import source_lines as split_lines
from pyengineer.workspace.imports import (
    ImportRecord,
    imports_from_tokens,
    imports_from_tree,
    scan_imports,
)


def both(source: str) -> list[ImportRecord]:
    """Records from the ast scanner, after checking the tolerant scanner agrees on this valid code."""
    source = textwrap.dedent(source)
    from_tree = imports_from_tree(ast.parse(source), split_lines(source))
    assert imports_from_tokens(source) == from_tree
    return from_tree


def summary(records: list[ImportRecord]) -> list[tuple[str, int, bool, bool]]:
    return [(r.module, r.line, r.type_only, r.dynamic) for r in records]


def test_import_with_alias_records_the_dotted_module_and_its_columns() -> None:
    (record,) = both("import torch.nn as nn\n")
    assert (record.module, record.top_level, record.line, record.col, record.end_col) == (
        "torch.nn",
        "torch",
        1,
        7,
        15,
    )


def test_from_import_records_the_module_not_the_name() -> None:
    (record,) = both("from torch import nn\n")
    assert (record.module, record.col, record.end_col) == ("torch", 5, 10)


def test_several_modules_in_one_import_statement() -> None:
    assert summary(both("import os, torch.nn, sklearn as sk\n")) == [
        ("os", 1, False, False),
        ("torch.nn", 1, False, False),
        ("sklearn", 1, False, False),
    ]


def test_imports_inside_functions_classes_and_methods() -> None:
    source = """\
        def load():
            import torch
            return torch

        class Model:
            def fit(self):
                from sklearn.linear_model import LinearRegression
    """
    assert summary(both(source)) == [("torch", 2, False, False), ("sklearn.linear_model", 7, False, False)]


def test_imports_in_try_blocks_and_their_handlers() -> None:
    source = """\
        try:
            import torch
        except ImportError:
            import tensorflow as torch
        finally:
            import jax
    """
    assert [r.module for r in both(source)] == ["torch", "tensorflow", "jax"]


def test_type_checking_imports_are_reported_and_marked_type_only() -> None:
    source = """\
        from typing import TYPE_CHECKING
        import typing

        if TYPE_CHECKING:
            import torch
            from transformers import PreTrainedModel
        else:
            import numpy
        if typing.TYPE_CHECKING:
            import jax
        if TYPE_CHECKING: import keras
        import sklearn
        if x:
            pass
        elif (TYPE_CHECKING):
            import flax
    """
    assert summary(both(source)) == [
        ("typing", 1, False, False),
        ("typing", 2, False, False),
        ("torch", 5, True, False),
        ("transformers", 6, True, False),
        ("numpy", 8, False, False),
        ("jax", 10, True, False),
        ("keras", 11, True, False),
        ("sklearn", 12, False, False),
        ("flax", 16, True, False),
    ]


def test_type_checking_block_nested_in_a_function_ends_with_its_indentation() -> None:
    source = """\
        def f():
            if TYPE_CHECKING:
                import torch
            import xgboost
        import lightgbm
    """
    assert summary(both(source)) == [
        ("torch", 3, True, False),
        ("xgboost", 4, False, False),
        ("lightgbm", 5, False, False),
    ]


@pytest.mark.parametrize(
    "call",
    [
        'importlib.import_module("torch")',
        "importlib.import_module('torch.nn')",
        'import_module("torch", package=None)',
        '__import__("torch")',
        'model = importlib.import_module("torch")',
    ],
)
def test_dynamic_imports_are_found_and_marked_dynamic(call: str) -> None:
    records = both(f"import importlib\n{call}\n")
    dynamic = [r for r in records if r.dynamic]
    assert len(dynamic) == 1
    assert dynamic[0].top_level == "torch"
    assert dynamic[0].line == 2
    # The range covers the string literal, quotes included.
    line = f"{call}\n"
    assert line[dynamic[0].col] in "'\""
    assert line[dynamic[0].end_col - 1] in "'\""


def test_dynamic_imports_of_non_literals_and_relative_names_are_not_guessed() -> None:
    records = both('import_module(name)\nimport_module(".sub", "pkg")\nimport_module(f"torch")\n')
    assert records == []


def test_relative_imports_are_not_reported() -> None:
    assert both("from . import torch\nfrom .torch import nn\nfrom ..models import x\n") == []


def test_imports_in_strings_and_comments_are_not_imports() -> None:
    source = '''\
        # import torch
        text = "import torch"
        doc = """
        from torch import nn
        """
    '''
    assert both(source) == []


def test_parenthesized_and_backslash_continued_imports() -> None:
    source = """\
        from torch.nn import (
            Linear,
            ReLU,
        )
        import os, \\
            sklearn
        from jax \\
            import numpy
    """
    # A continued statement's records all carry the line of its keyword.
    assert sorted(summary(both(source))) == [
        ("jax", 7, False, False),
        ("os", 5, False, False),
        ("sklearn", 5, False, False),
        ("torch.nn", 1, False, False),
    ]


def test_columns_count_code_points_not_bytes() -> None:
    (record,) = both("é = 1; import torch\n")
    assert "é = 1; import torch"[record.col : record.end_col] == "torch"


# --- broken files: the tolerant scanner ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import torch\ndef broken(:\n    pass\n", ["torch"]),
        ("def broken(:\nimport torch\n", ["torch"]),
        ("x = (1,\nimport torch\n", ["torch"]),  # an unclosed bracket from an edit in progress
        ("import torch.nn as nn\nclass Net(nn.Module:\n    def forward(self, x):\n", ["torch.nn"]),
        ("from sklearn import (\n    svm,\nimport numpy\n", ["sklearn", "numpy"]),
        ("if TYPE_CHECKING:\n    import torch\n  bad indent\nimport jax\n", ["torch", "jax"]),
        ('s = "unterminated\nimport torch\n', ["torch"]),
        # An unclosed string is mid-edit: the lines after it are read as the code they will be again.
        ('s = """never closed\nimport torch\n', ["torch"]),
        ("import torch\n\x00\nimport jax\n", ["torch", "jax"]),
        ("import torch\x00\n", ["torch"]),
        (" 0\n\x00", []),  # crashed Python 3.13's tokenizer (SystemError)
        ("    import torch\n", ["torch"]),  # unexpected indent
        ("print 'py2'\nimport torch\n", ["torch"]),
        ("from torch import\n", ["torch"]),
        ("import\n", []),
        ("from . import\n", []),
        ('importlib.import_module("torch")\ndef broken(:\n', ["torch"]),
    ],
)
def test_tolerant_scanner_finds_imports_in_broken_files(source: str, expected: list[str]) -> None:
    with pytest.raises((SyntaxError, ValueError)):
        ast.parse(source)
    assert [r.module for r in imports_from_tokens(source)] == expected
    # scan_imports falls back to the tolerant scanner by itself.
    assert [r.module for r in scan_imports(source)] == expected


def test_tolerant_scanner_keeps_type_only_in_a_broken_file() -> None:
    source = "if TYPE_CHECKING:\n    import torch\nimport numpy\ndef broken(:\n"
    assert [(r.module, r.type_only) for r in scan_imports(source)] == [("torch", True), ("numpy", False)]


def test_tolerant_scanner_line_numbers_survive_a_broken_line() -> None:
    source = "import os\ndef broken(:\n  x = ]\nimport torch\n"
    assert [(r.module, r.line) for r in scan_imports(source)] == [("os", 1), ("torch", 4)]


def test_a_form_feed_does_not_shift_lines_or_columns() -> None:
    # Python reads a form feed as whitespace; str.splitlines would count it as a line break.
    (record,) = both("x = 1\x0c\né = 2; import torch\n")
    assert (record.line, record.col, record.end_col) == (2, 14, 19)


@pytest.mark.parametrize("separator", ["\x0c", "\x1c", "\x85", "\u2028"])
def test_separators_in_a_broken_file_do_not_shift_lines(separator: str) -> None:
    broken = f"x = 1{separator}\nimport os\ndef broken(:\nimport torch\n"
    assert [(r.module, r.line) for r in scan_imports(broken)] == [("os", 2), ("torch", 4)]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", []),
        ("a", ["a"]),
        ("a\n", ["a"]),
        ("a\r\nb\rc\nd", ["a", "b", "c", "d"]),
        ("a\x0cb\x1c\u2028\n\n", ["a\x0cb\x1c\u2028", ""]),
    ],
)
def test_split_lines(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_newline_convention(newline: str) -> None:
    valid = newline.join(["import os", "def f():", "    import torch", ""])
    assert [(r.module, r.line) for r in both(valid)] == [("os", 1), ("torch", 3)]
    broken = newline.join(["import os", "def broken(:", "import torch", ""])
    assert [(r.module, r.line) for r in scan_imports(broken)] == [("os", 1), ("torch", 3)]


def test_scanning_user_code_emits_no_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r.module for r in scan_imports("import torch\nx = '\\:'\n")] == ["torch"]
    assert [str(w.message) for w in caught] == []


def test_scan_imports_uses_a_given_tree() -> None:
    source = "import torch\n"
    tree = ast.parse("import jax\n")
    assert [r.module for r in scan_imports(source, tree)] == ["jax"]
