"""Should the engine parse incrementally? ast.parse vs tree-sitter full parse vs tree-sitter re-parse after a keystroke.

Run with an interpreter that has `tree-sitter` and `tree-sitter-python` (the bench venv, not the project's):

    ~/.cache/pyengineer-bench/pylsp-venv/bin/pip install tree-sitter tree-sitter-python
    ~/.cache/pyengineer-bench/pylsp-venv/bin/python bench/incremental_parse.py

Prints, for the stdlib files nearest 500 and 5,000 lines, the median of each over repeated runs, and the cost
of the one thing tree-sitter cannot save us: walking the resulting tree from Python (which every rule needs).
"""

from __future__ import annotations

import ast
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import tree_sitter_python  # type: ignore[import-not-found]
from run import stdlib_file  # the same files as the keystroke bench (bench/ is on sys.path when run)
from tree_sitter import Language, Parser, Point  # type: ignore[import-not-found]

REPEATS = 15


def timed(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def walk_ast(tree: ast.AST) -> int:
    return sum(1 for _ in ast.walk(tree))


def walk_ts(tree: object) -> int:
    cursor = tree.walk()  # type: ignore[attr-defined]
    count = 0
    while True:
        count += 1
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return count


def measure(parser: Parser, path: Path) -> list[str]:
    """One table row for `path`."""
    text = path.read_text(encoding="utf-8")
    data = text.encode()
    tree = parser.parse(data)
    # A keystroke in the middle of the file: insert one character at the end of a line.
    middle = text.count("\n") // 2
    offset = sum(len(line.encode()) for line in text.splitlines(keepends=True)[:middle])
    line_end = data.index(b"\n", offset)
    edited = data[:line_end] + b"x" + data[line_end:]
    column = line_end - offset

    def reparse() -> object:
        old = tree.copy()
        old.edit(
            start_byte=line_end,
            old_end_byte=line_end,
            new_end_byte=line_end + 1,
            start_point=Point(middle, column),
            old_end_point=Point(middle, column),
            new_end_point=Point(middle, column + 1),
        )
        return parser.parse(edited, old)

    module = ast.parse(text)
    return [
        path.name,
        str(text.count("\n")),
        f"{timed(lambda: ast.parse(text)) * 1000:.2f}",
        f"{timed(lambda: walk_ast(module)) * 1000:.2f}",
        f"{timed(lambda: parser.parse(data)) * 1000:.2f}",
        f"{timed(reparse) * 1000:.2f}",
        f"{timed(lambda: walk_ts(tree)) * 1000:.2f}",
    ]


def main() -> int:
    parser = Parser(Language(tree_sitter_python.language()))
    print(f"python {sys.version.split()[0]}; {REPEATS} runs each, medians in ms")
    print("file | lines | ast.parse | ast walk | ts full parse | ts re-parse after 1 char | ts walk (Python)")
    for lines in (500, 5000):
        print(" | ".join(measure(parser, stdlib_file(lines))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
