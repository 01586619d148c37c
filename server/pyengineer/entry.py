"""The `pyengineer` command's entry point: the few calls that must start fast, then the full command line.

`pyengineer guard` runs before every tool call of a coding agent and `--version` is what scripts probe, so neither
imports argparse, pydantic or the engine (measured in bench/run's guard rows).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["guard"]:
        from pyengineer.guard import run_hook

        return run_hook()
    if arguments == ["--version"]:
        from pyengineer import __version__

        print(f"pyengineer {__version__}")
        return 0
    from pyengineer.cli import main as cli_main

    return cli_main(arguments)
