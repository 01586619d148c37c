"""`ParsedSource.may_import`: the no-parse test PE201 asks first must never say no to a file that imports."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from pyengineer.engine.source import ParsedSource

STDLIB = Path(sysconfig.get_paths()["stdlib"])

SPELLINGS = [
    "import torch\n",
    "import os, torch.nn as nn\n",
    "from torch import nn\n",
    "from torch.nn import (\n    Linear,\n)\n",
    "import \\\n    torch\n",
    "if True:\n    import torch\n",
    "def f():\n    from torch import nn\n    return nn\n",
    "import importlib\nmodel = importlib.import_module('torch.nn')\n",
    "lib = __import__(\n    'torch'\n)\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
    "x = 1; import torch\n",
    "import torch  # noqa: PE201\n",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_of_an_import_may_import(text: str) -> None:
    source = ParsedSource("/x/m.py", text, "m.py")
    assert source.may_import(frozenset({"torch", "sklearn"}))
    # And once the imports are known, they answer the same.
    assert "torch" in {r.top_level for r in source.imports}
    assert source.may_import(frozenset({"torch"}))


@pytest.mark.parametrize(
    "text",
    [
        "import os\n",
        "torch = 1\n",  # named, not on an import line
        "import torchvision_helpers\n",  # another module whose name starts the same
        "from mytorch import x\n",
    ],
)
def test_a_file_that_cannot_import_the_module_does_not(text: str) -> None:
    assert not ParsedSource("/x/m.py", text, "m.py").may_import(frozenset({"torch"}))


def test_never_no_for_an_import_in_the_stdlib() -> None:
    # Every module each stdlib file imports (a sample of a few hundred files): the prefilter says yes.
    files = sorted(STDLIB.glob("*.py")) + sorted(STDLIB.glob("*/*.py"))
    checked = 0
    for path in files[::4]:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        parsed = ParsedSource(str(path), text, path.name)
        imported = {r.top_level for r in parsed.imports}
        for module in imported:
            assert ParsedSource(str(path), text, path.name).may_import(frozenset({module})), (path, module)
            checked += 1
    assert checked > 500


def test_recorded_imports_answer_without_the_text() -> None:
    source = ParsedSource("/x/m.py", "import torch\n", "m.py")
    source.__dict__["imported_top_levels"] = frozenset({"os"})  # what a results-cache entry recorded
    assert not source.may_import(frozenset({"torch"}))
    assert source.may_import(frozenset({"os"}))
