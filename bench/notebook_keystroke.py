"""Keystroke -> diagnostics in a cell of a large notebook, against the same edit in the equivalent module.

The notebook is the 5,000-line stdlib file of the keystroke rows cut into cells at top-level statements
(about 50 lines each); its code cells, joined, are that file. Each keystroke is the keystroke rows' cycle of
four edits, typed on the same line: in the module through textDocument/didChange, in the notebook through
notebookDocument/didChange of the one cell holding that line (in-cell coordinates). The time is from the
change to the publishDiagnostics of that version (of the module, or of the cell).

Called by run.py with itself as `run` (its Session, keystrokes, Row and helpers), so the two rows measure
the same way.
"""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path
from typing import Any

LINES = 5000
CELL_LINES = 50


def split_cells(text: str) -> list[str]:
    """`text` cut at top-level statements into cells of at least CELL_LINES lines ("\\n".join gives it back)."""
    lines = text.split("\n")
    tree = ast.parse(text)
    starts = sorted(
        {
            min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
            for node in tree.body
        }
        | {0}
    )
    cuts = [0]
    for start in starts:
        if start - cuts[-1] >= CELL_LINES:
            cuts.append(start)
    cuts.append(len(lines))
    return ["\n".join(lines[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]


def _change(step: int, line: int, end: int, indent: str) -> Any:
    """The keystroke rows' cycle (run.keystrokes): " # e" typed, taken away, Enter, Backspace."""
    from lsprotocol import types

    at = types.Position(line, end)
    if step == 2:
        return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=" # e")
    if step == 3:
        return types.TextDocumentContentChangePartial(
            range=types.Range(start=at, end=types.Position(line, end + 4)), text=""
        )
    if step == 0:
        return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text="\n" + indent)
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=at, end=types.Position(line + 1, len(indent))), text=""
    )


async def notebook_keystrokes(
    run: Any,
    root: Path,
    path: Path,
    cells: list[str],
    module_line: int,
    edits: int,
    cache: Path,
    warmup: int = 3,
) -> list[float]:
    """Server time from each cell's didChange to that cell's publishDiagnostics."""
    from lsprotocol import types

    session = run.Session()
    await session.start(
        run.pyengineer_command(), root, {"settings": {"debounceMs": 0}}, run.server_env(cache)
    )
    try:
        uris = [f"vscode-notebook-cell:{path}#cell{i}" for i in range(len(cells))]
        session.client.notebook_document_did_open(
            types.DidOpenNotebookDocumentParams(
                notebook_document=types.NotebookDocument(
                    uri=path.as_uri(),
                    notebook_type="jupyter-notebook",
                    version=1,
                    cells=[
                        types.NotebookCell(kind=types.NotebookCellKind.Code, document=uri) for uri in uris
                    ],
                ),
                cell_text_documents=[
                    types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
                    for uri, text in zip(uris, cells, strict=True)
                ],
            )
        )
        # The cell holding the edited line, and the line in it.
        index, first = 0, 0
        while first + cells[index].count("\n") + 1 <= module_line:
            first += cells[index].count("\n") + 1
            index += 1
        uri, line = uris[index], module_line - first
        if not await session.wait_for(lambda: bool(session.published.get(uri)), 120):
            raise RuntimeError("no diagnostics for the notebook's cells within 120 s")
        current = cells[index].split("\n")[line]
        end = len(current)
        indent = current[: len(current) - len(current.lstrip())]
        samples: list[float] = []
        for version in range(2, edits + warmup + 2):
            before = len(session.published.get(uri, []))
            sent = time.perf_counter()
            session.client.notebook_document_did_change(
                types.DidChangeNotebookDocumentParams(
                    notebook_document=types.VersionedNotebookDocumentIdentifier(
                        uri=path.as_uri(), version=version
                    ),
                    change=types.NotebookDocumentChangeEvent(
                        cells=types.NotebookDocumentCellChanges(
                            text_content=[
                                types.NotebookDocumentCellContentChanges(
                                    document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                                    changes=[_change(version % 4, line, end, indent)],
                                )
                            ]
                        )
                    ),
                )
            )

            def arrived(v: int = version, n: int = before) -> bool:
                return any(e[2] == v for e in session.published.get(uri, [])[n:])

            if not await session.wait_for(arrived, 60):
                raise RuntimeError(f"no diagnostics for version {version} of the edited cell within 60 s")
            got = next(e for e in session.published[uri][before:] if e[2] == version)
            if version - 2 >= warmup:
                samples.append(got[0] - sent)
        return samples
    finally:
        await session.stop()


def bench_notebook_keystrokes(run: Any, plan: Any, rows: list[Any], tmp: Path) -> None:
    source = run.stdlib_file(LINES)
    text = source.read_text(encoding="utf-8")
    cells = split_cells(text)
    module = "\n".join(cells)
    root = tmp / "keystroke-notebook"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    module_path = root / source.name
    module_path.write_text(module, encoding="utf-8")
    notebook_path = root / f"{source.stem}.ipynb"
    line = run.edit_line(module)
    theirs = asyncio.run(
        run.keystrokes(
            run.pyengineer_command(),
            root,
            module_path,
            module,
            plan.edits,
            {"settings": {"debounceMs": 0}},
            tmp / "cache",
        )
    )
    ours = asyncio.run(notebook_keystrokes(run, root, notebook_path, cells, line, plan.edits, tmp / "cache"))
    label = f"{source.name} as {len(cells)} cells, {module.count(chr(10)) + 1} lines"
    run.log(
        f"keystroke notebook {label}: p50 {run.median(ours) * 1000:.1f} p95 {run.percentile(ours, 95) * 1000:.1f}"
        f" ms; the module: p50 {run.median(theirs) * 1000:.1f} p95 {run.percentile(theirs, 95) * 1000:.1f} ms"
    )
    info = {"file": str(source), "cells": len(cells), "notebook": ours, "module": theirs}
    rows.append(
        run.Row(
            "keystroke_notebook_p50_vs_module",
            f"keystroke -> diagnostics in a notebook cell p50 ({label})",
            run.median(ours),
            "the same edit in the module, p50",
            run.median(theirs),
            "(report)",
            None,
            extra=info,
        )
    )
    rows.append(
        run.Row(
            "keystroke_notebook_p95_vs_module",
            f"keystroke -> diagnostics in a notebook cell p95 ({label})",
            run.percentile(ours, 95),
            "the same edit in the module, p95",
            run.percentile(theirs, 95),
            "(report)",
            None,
        )
    )
