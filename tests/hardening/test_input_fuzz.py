"""Hostile documents through didOpen/didChange against the real server over stdio (one server per module).

Hypothesis builds documents from random Unicode (lone surrogates included: JSON carries them as \\ud800
escapes), NUL bytes, CR/LF/CRLF mixes, syntax newer than the server's Python and deep nesting, then edits
them incrementally, in range and out of range, overlapping. After each example the server must answer the
next requests within a bound, publish diagnostics for the last version, and no diagnostic range may leave
the document (lines and UTF-16 columns counted as LSP counts them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pyengineer.lsp.pygls_compat import LspTextDocument

from tests.hardening.rawpipe import RawServer
from tests.lsp.conftest import make_repo

pytestmark = pytest.mark.timeout(150)

ANSWER_BOUND = 15.0  # seconds for any request, or for the diagnostics of the last version
LSP_LINE_BREAK = re.compile(r"\r\n|\r|\n")

NEWER_SYNTAX = [
    "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",  # PEP 758 (3.14)
    "type Point = tuple[float, float]\ntype Tree[T] = T | list[Tree[T]]\n",  # PEP 695 (3.12)
    "def first[T](items: list[T]) -> T:\n    return items[0]\n",
    "class Box[T: int]:\n    pass\n",
    'name = "x"\nmsg = f"{"nested " + f"{name!r:>{10}}"}"\n',  # PEP 701 (3.12)
    'x = f"{\n    1 + 2  # a comment inside\n}"\n',
    "match point:\n    case (0, 0):\n        pass\n    case _:\n        pass\n",
    "async def f():\n    async with a as b, c as d:\n        await b\n",
    't"template {x}"\n',  # PEP 750 (3.14)
]
PYTHON_BITS = [
    "import pandas as pd\n",
    "for _, row in pd.DataFrame().iterrows():\n    pass\n",
    "import torch\n",
    "from fastapi import FastAPI\napp = FastAPI()\n",
    "@app.get('/items/{i}')\ndef item(i):\n    return i\n",
    "except Exception:\n    pass\n",
    "password = 'hunter2hunter2'\n",
    "def f(x=[]):\n    return x\n",
    "\t\tbad indent\n",
    "(((\n",
    '"""unterminated\n',
]


def deep(kind: str, depth: int) -> str:
    if kind == "parens":
        return "x = " + "(" * depth + "1" + ")" * depth + "\n"
    if kind == "plus":
        return "x = " + "1+" * depth + "1\n"
    if kind == "unary":
        return "x = " + "-" * depth + "1\n"
    if kind == "calls":
        return "x = " + "f(" * depth + ")" * depth + "\n"
    if kind == "lists":
        return "x = " + "[" * depth + "]" * depth + "\n"
    return "".join("    " * i + "if x:\n" for i in range(min(depth, 100))) + "    " * 100 + "pass\n"


fragment = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=40),  # any code point, lone surrogates too
    st.sampled_from(["\0", "\r", "\n", "\r\n", "\n\r", "\t", "\x0c", "\u2028", "\x85", "\ufeff", "😀", "é"]),
    st.sampled_from(NEWER_SYNTAX),
    st.sampled_from(PYTHON_BITS),
    st.builds(
        deep, st.sampled_from(["parens", "plus", "unary", "calls", "lists", "ifs"]), st.integers(1, 3000)
    ),
)
documents = st.lists(fragment, max_size=12).map("".join)


def wire(text: str) -> str:
    """`text` as the server receives it: JSON joins an escaped surrogate pair into one code point."""
    result: str = json.loads(json.dumps(text))
    return result


def lsp_lines(text: str) -> list[str]:
    return LSP_LINE_BREAK.split(text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


@st.composite
def edit_for(draw: st.DrawFn, lines_hint: int, width_hint: int) -> dict[str, Any]:
    """An incremental change: usually in range, sometimes past the end, reversed or overlapping."""
    line = st.integers(0, lines_hint + 3)
    char = st.integers(0, width_hint + 5)
    start = {"line": draw(line), "character": draw(char)}
    if draw(st.booleans()):
        end = {"line": start["line"] + draw(st.integers(0, 2)), "character": draw(char)}
    else:
        end = {"line": draw(line), "character": draw(char)}  # may end before it starts
    return {"range": {"start": start, "end": end}, "text": draw(fragment)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawServer, Path]]:
    base = tmp_path_factory.mktemp("fuzz")
    repo = make_repo(base / "repo", {"app.py": "print('hello')\n", "requirements.txt": "pandas\n"})
    raw = RawServer(base)
    raw.initialize(repo, {"general": {"positionEncodings": ["utf-16"]}})
    yield raw, repo
    assert raw.close() == 0, (base / "server-stderr.txt").read_text(errors="replace")[-3000:]


uris = count()


def open_document(raw: RawServer, repo: Path, text: str) -> str:
    uri = (repo / f"fuzz_{next(uris)}.py").as_uri()
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    return uri


def diagnostics_for(raw: RawServer, uri: str, version: int) -> list[dict[str, Any]]:
    """The diagnostics published for `version` of `uri` (waiting at most ANSWER_BOUND)."""
    deadline = time.monotonic() + ANSWER_BOUND
    while time.monotonic() < deadline:
        for message in raw.notifications("textDocument/publishDiagnostics"):
            params = message["params"]
            if params["uri"] == uri and params.get("version") == version:
                return list(params["diagnostics"])
        assert raw.alive(), "server died"
        raw.pump(0.05)
    raise AssertionError(f"no diagnostics for {uri} v{version} within {ANSWER_BOUND}s")


def assert_inside(diagnostics: list[dict[str, Any]], text: str) -> None:
    lines = lsp_lines(text)
    for diagnostic in diagnostics:
        rng = diagnostic["range"]
        start, end = rng["start"], rng["end"]
        assert (start["line"], start["character"]) <= (end["line"], end["character"]), diagnostic
        for position in (start, end):
            assert 0 <= position["line"] < len(lines), (diagnostic, len(lines))
            assert 0 <= position["character"] <= utf16_len(lines[position["line"]]), (
                diagnostic,
                lines[position["line"]][:200],
            )


def assert_answers(raw: RawServer, uri: str, text: str) -> None:
    """Code actions over the whole document and a hover are answered without an error within the bound."""
    lines = lsp_lines(text)
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": len(lines) - 1, "character": 0}}
    started = time.monotonic()
    action = raw.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}},
    )
    hover = raw.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
    )
    for msg_id in (action, hover):
        answer = raw.response(msg_id, timeout=ANSWER_BOUND)
        assert "error" not in answer, answer
    assert time.monotonic() - started < ANSWER_BOUND


def finish(raw: RawServer, uri: str) -> None:
    raw.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    raw.received.clear()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(document=documents, data=st.data())
def test_hostile_documents_and_edits(
    server: tuple[RawServer, Path], document: str, data: st.DataObject
) -> None:
    raw, repo = server
    uri = open_document(raw, repo, document)
    # The server's copy of the text, kept the way the server keeps it (pygls' edit logic on LSP lines), so
    # that ranges are checked against the text they were computed on, even after out-of-range edits.
    mirror = LspTextDocument(uri, source=wire(document), version=1)
    version = 1
    for _ in range(data.draw(st.integers(0, 3), label="changes")):
        lines = lsp_lines(mirror.source)
        changes = data.draw(
            st.lists(edit_for(len(lines), max((len(x) for x in lines), default=0)), min_size=1, max_size=3),
            label="contentChanges",
        )
        version += 1
        raw.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
        )
        for change in changes:
            mirror.apply_change(
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(**change["range"]["start"]),
                        end=types.Position(**change["range"]["end"]),
                    ),
                    text=wire(change["text"]),
                )
            )
    assert_answers(raw, uri, mirror.source)
    assert_inside(diagnostics_for(raw, uri, version), mirror.source)
    finish(raw, uri)


def test_line_breaks_count_as_lsp_counts_them(server: tuple[RawServer, Path]) -> None:
    """CR-only line ends are line breaks for LSP and Python; a form feed or U+2028 is not.

    An incremental edit after such characters must land where the editor put it, and the diagnostic must
    point at the line the editor shows.
    """
    raw, repo = server
    text = "# form\x0cfeed \u2028 and \x85 in a comment\rimport pandas as pd\r\nx = 1\n"
    uri = open_document(raw, repo, text)
    # LSP line 2 is "x = 1": replace it with a loop PE701 flags (it fills a cell with column arithmetic).
    loop = "for i, r in pd.DataFrame().iterrows(): pd.DataFrame().at[i, 't'] = r['a'] * 2"
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 5}},
                    "text": loop,
                }
            ],
        },
    )
    expected = "# form\x0cfeed \u2028 and \x85 in a comment\rimport pandas as pd\r\n" + loop + "\n"
    diagnostics = diagnostics_for(raw, uri, 2)
    assert_inside(diagnostics, expected)
    pe701 = [d for d in diagnostics if d["code"] == "PE701"]
    assert pe701, diagnostics
    assert pe701[0]["range"]["start"]["line"] == 2
    assert pe701[0]["range"]["start"]["character"] == loop.index("pd.DataFrame")
    finish(raw, uri)


def test_a_one_megabyte_line(server: tuple[RawServer, Path]) -> None:
    raw, repo = server
    text = (
        "import pandas as pd\nx = '"
        + "é😀a" * 350_000
        + "'\nfor i, r in pd.DataFrame().iterrows(): pd.DataFrame().at[i, 't'] = r['a'] * 2\n"
    )
    uri = open_document(raw, repo, text)
    assert_answers(raw, uri, text)
    diagnostics = diagnostics_for(raw, uri, 1)
    assert_inside(diagnostics, text)
    assert any(d["code"] == "PE701" and d["range"]["start"]["line"] == 2 for d in diagnostics)
    # An edit at the far end of the long line.
    end = utf16_len(lsp_lines(text)[1])
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {"start": {"line": 1, "character": end}, "end": {"line": 1, "character": end}},
                    "text": " ",
                }
            ],
        },
    )
    assert_inside(diagnostics_for(raw, uri, 2), text.replace("'\nfor", "' \nfor", 1))
    finish(raw, uri)


def test_a_twenty_megabyte_file(server: tuple[RawServer, Path]) -> None:
    raw, repo = server
    block = "def f_{i}(x):\n    return [y * 2 for y in range(x) if y % 3]  # é😀\n\n"
    text = "import torch\n" + "".join(block.format(i=i) for i in range(280_000))
    assert len(text.encode()) > 20_000_000
    text += "for _ in pd.DataFrame().iterrows(): pass\n"
    started = time.monotonic()
    uri = open_document(raw, repo, text)
    diagnostics = diagnostics_for(raw, uri, 1)
    elapsed = time.monotonic() - started
    assert_inside(diagnostics, text)
    assert_answers(raw, uri, text)
    # Not analysed (over publishing.MAX_ANALYZED_CHARS): an empty list, quickly, and the server stays responsive.
    assert diagnostics == []
    assert elapsed < ANSWER_BOUND
    hover = raw.response(
        raw.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 9}}
        ),
        timeout=ANSWER_BOUND,
    )
    assert "ai-engineer" in hover["result"]["contents"]["value"]
    print(f"20 MB file: diagnostics in {elapsed:.1f}s, server RSS {raw.rss_kb() // 1024} MB")
    finish(raw, uri)
