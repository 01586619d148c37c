"""Incremental analysis must give exactly what a full analysis of the same text gives, edit after edit."""

from __future__ import annotations

import ast
import random
import sysconfig
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyengineer.config import Settings
from pyengineer.engine.analyze import analyze
from pyengineer.engine.incremental import DocumentAnalyzer
from pyengineer.engine.source import ParsedSource
from pyengineer.engine.syntax import SyntaxIndex, known_index
from pyengineer.git.state import GitState
from pyengineer.workspace.context import WorkspaceContext

STDLIB = Path(sysconfig.get_paths()["stdlib"])

CONTEXT = WorkspaceContext(
    root="/project",
    python_project=True,
    python_project_reason="pyproject.toml",
    frameworks=("fastapi", "starlette", "flask", "django", "pandas", "sqlalchemy", "httpx", "pydantic"),
    git=GitState(is_repo=True, branch="main", protected=True),
)
SETTINGS = Settings(select=("PE", "PE401", "PE402", "PE801"), type_hints="public")

# Every rule family has something to say about this module, and it has functions at module level, methods,
# nested classes, decorators, a Starlette app factory and function-level imports.
APP = """\
import asyncio
import sqlite3
import time
from datetime import datetime

import httpx
import pandas as pd
import requests
from fastapi import APIRouter, Depends, FastAPI
from starlette.routing import Route

app = FastAPI()
router = APIRouter()
API_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def get_user():
    return {"name": "me"}


@app.get("/items/{item_id}")
async def read_item(item_id, user=Depends(get_user)):
    time.sleep(1)
    response = requests.get("https://example.com")
    return {"id": item_id, "body": response.text}


@app.post("/items")
async def create_item(payload: dict):
    name = payload["name"]
    price = payload["price"]
    conn = sqlite3.connect("db.sqlite")
    conn.execute("INSERT INTO items VALUES ('" + name + "')")
    return {"created": name, "price": price}


class Reports:
    limit = 10

    def totals(self, frame):
        out = []
        for _, row in frame.iterrows():
            out.append(row["total"])
        for i, row in frame.iterrows():
            frame.at[i, "net"] = row["total"] - row["tax"]
        return out

    async def refresh(self):
        try:
            await asyncio.sleep(0)
        except:
            pass
        stamp = datetime.utcnow()
        return stamp

    class Nested:
        def deep(self, value):
            import json

            password = "hunter2hunter2"
            return json.dumps(value)


def homepage(request):
    return {"hello": "world"}


def make_app():
    routes = [Route("/", homepage)]
    return routes


def load(path):
    frame = pd.read_csv(path)
    with httpx.Client() as client:
        client.get("https://example.com")
    return frame
"""

SNIPPETS = [
    "x = 1",
    "time.sleep(2)",
    "import numpy as np",
    "import json",
    "from time import sleep",
    'secret_key = "sk_live_abcdefghijklmnopqrstuvwx"',
    "try:\n{i}    pass\n{i}except Exception:\n{i}    pass",
    "return {'a': 1}",
    "for _, row in df.iterrows():\n{i}    pass",
    "cursor.execute('select * from t where id = ' + x)",
    "datetime.utcnow()",
    "yield 1",
    "routes = [Route('/x', load)]",
    "def inner(a):\n{i}    return a",
    "(",
    '"""',
    "    indented_too_far = 1",
    "",
]


def _functions(text: str) -> list[tuple[int, int]]:
    """(first body line, last line), 1-based, of every function in `text`."""
    spans = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans.append((node.body[0].lineno, node.end_lineno or node.lineno))
    return spans


def _edit(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    try:
        spans = _functions(text)
    except SyntaxError:
        spans = []
    if spans and rng.random() < 0.85:
        first, last = rng.choice(spans)
        k = rng.randint(first - 1, min(last, len(lines) - 1))
    else:
        k = rng.randrange(len(lines))
    line = lines[k]
    indent = line[: len(line) - len(line.lstrip())] or "    "
    op = rng.randrange(7)
    if op == 0:
        lines[k] = line + " # e"
    elif op == 1 and len(lines) > 3:
        del lines[k]
    elif op == 2:
        lines.insert(k, indent + rng.choice(SNIPPETS).replace("{i}", indent))
    elif op == 3:
        lines.insert(k, lines[rng.randrange(len(lines))])
    elif op == 4:
        lines[k] = line[: rng.randrange(len(line) + 1)]
    elif op == 5:
        lines.insert(k + 1, indent)  # Enter at the end of a line
    else:
        lines[k] = line.replace("item", "thing")
    return "\n".join(lines)


def _full(path: str, text: str) -> list[dict[str, object]]:
    return [f.model_dump() for f in analyze(ParsedSource(path, text, "app/main.py"), CONTEXT, SETTINGS, True)]


def _same_index(index: SyntaxIndex, text: str) -> None:
    """The spliced index holds the nodes a fresh one would, at the same positions, in the same order."""
    fresh = SyntaxIndex(ParsedSource("x.py", text), ast.parse(text))
    for kind, nodes in fresh._by_type.items():
        if not hasattr(nodes[0], "lineno"):
            continue
        ours = index._by_type.get(kind, [])
        want = [(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset) for n in nodes]  # type: ignore[attr-defined]
        got = [(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset) for n in ours]  # type: ignore[attr-defined]
        assert got == want, kind.__name__
    assert index.binding_signature() == fresh.binding_signature()
    assert index.module_names == fresh.module_names


def _key(finding: dict[str, object]) -> tuple[object, ...]:
    # PE101 names a fix/ branch when other findings are errors: its message follows what else was found.
    message = "" if finding["code"] == "PE101" else finding["message"]
    return (finding["code"], repr(finding["range"]), message)


def _check_broken(analyzer: DocumentAnalyzer, path: str, valid: str, broken: str) -> None:
    """A text that does not parse gets at least what a full analysis gives it, and otherwise only what the
    last valid version had (the rest of the file did not change)."""
    got = {_key(f.model_dump()) for f in analyzer.analyze(broken, CONTEXT, SETTINGS, True, "app/main.py")}
    full = {_key(f) for f in _full(path, broken)}
    assert full <= got
    before = {(f["code"], _key(f)[2]) for f in _full(path, valid)}
    assert {(code, message) for code, _, message in got - full} <= before


def _replay(text: str, seed: int, edits: int, path: str = "/project/app/main.py") -> DocumentAnalyzer:
    rng = random.Random(seed)
    analyzer = DocumentAnalyzer(path, "app/main.py", 1_000_000)
    analyzer.analyze(text, CONTEXT, SETTINGS, True, "app/main.py")
    for _ in range(edits):
        previous = text
        text = _edit(text, rng)
        try:
            ast.parse(text)
        except SyntaxError:
            # Typing passes through broken states, then mends them: analyse the broken text, then go on from
            # the last one that parsed (which the analyzer keeps as its base).
            _check_broken(analyzer, path, previous, text)
            text = previous
        steps = analyzer.steps
        got = [f.model_dump() for f in analyzer.analyze(text, CONTEXT, SETTINGS, True, "app/main.py")]
        assert got == _full(path, text), f"seed {seed}: findings differ after this edit:\n{text}"
        if analyzer.steps > steps:
            kept = analyzer._kept
            assert kept is not None
            index = known_index(kept.source)
            assert index is not None
            _same_index(index, text)
    return analyzer


def test_the_sample_has_findings_of_every_local_rule() -> None:
    codes = {str(f["code"]) for f in _full("/project/app/main.py", APP)}
    assert {"PE301", "PE401", "PE501", "PE601", "PE701", "PE801", "PE802", "PE803"} <= codes


@pytest.mark.parametrize("seed", range(12))
def test_edits_in_a_framework_module_match_a_full_analysis(seed: int) -> None:
    analyzer = _replay(APP, seed, 25)
    assert analyzer.steps >= 3, "the incremental path was hardly taken: the test would prove little"


@pytest.mark.parametrize("name", ["argparse.py", "json/decoder.py", "asyncio/base_events.py", "textwrap.py"])
def test_edits_in_stdlib_modules_match_a_full_analysis(name: str) -> None:
    path = STDLIB / name
    analyzer = _replay(path.read_text(encoding="utf-8"), zlib.crc32(name.encode()), 12, str(path))
    assert analyzer.steps >= 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_edit_sequences_match_a_full_analysis(seed: int) -> None:
    _replay(APP, seed, 6)


def _analyzer(text: str) -> DocumentAnalyzer:
    analyzer = DocumentAnalyzer("/project/app/main.py", "app/main.py", 1_000_000)
    analyzer.analyze(text, CONTEXT, SETTINGS, True, "app/main.py")
    return analyzer


def _step(analyzer: DocumentAnalyzer, text: str) -> bool:
    """Analyse `text`; True if it was done incrementally. Checks the result against a full analysis."""
    steps = analyzer.steps
    got = [f.model_dump() for f in analyzer.analyze(text, CONTEXT, SETTINGS, True, "app/main.py")]
    assert got == _full("/project/app/main.py", text)
    return analyzer.steps > steps


def test_typing_in_a_method_is_incremental_and_moves_later_findings() -> None:
    analyzer = _analyzer(APP)
    typed = APP.replace(
        '            out.append(row["total"])\n', '            out.append(row["total"])  # e\n'
    )
    assert _step(analyzer, typed)
    # Enter: one more line in the method; every finding below it moves down a line.
    entered = typed.replace("        return out\n", "\n        return out\n")
    assert _step(analyzer, entered)
    # and back
    assert _step(analyzer, typed)


def test_edits_outside_function_bodies_take_the_full_path() -> None:
    analyzer = _analyzer(APP)
    assert not _step(analyzer, APP.replace("app = FastAPI()", "app = FastAPI(title='x')"))
    assert not _step(
        analyzer, APP.replace("    def totals(self, frame):", "    def totals(self, frame, more):")
    )
    assert not _step(analyzer, APP.replace("    limit = 10\n", "    limit = 11\n"))


def test_an_edit_that_reaches_out_of_its_function_takes_the_full_path() -> None:
    analyzer = _analyzer(APP)
    # Dedenting the last line of a method turns it into a class attribute.
    text = APP.replace("        return stamp\n", "    return_stamp = 1\n")
    assert not _step(analyzer, text)
    # An unclosed bracket swallows what follows; the file does not parse.
    assert not _step(analyzer, APP.replace("        return out\n", "        return (out\n"))


def test_a_route_added_in_an_app_factory_changes_other_functions() -> None:
    analyzer = _analyzer(APP)
    text = APP.replace(
        '    routes = [Route("/", homepage)]\n', '    routes = [Route("/", homepage), Route("/l", load)]\n'
    )
    # `load` becomes a Starlette endpoint: findings outside the edited function change, so no reuse.
    assert not _step(analyzer, text)


def test_a_function_level_import_that_changes_bindings_takes_the_full_path() -> None:
    analyzer = _analyzer(APP)
    text = APP.replace("            import json\n", "            import json as sleep\n")
    assert not _step(analyzer, text)
    # The same import again (no change in what is bound): incremental.
    assert _step(analyzer, text.replace("return json.dumps(value)", "return sleep.dumps(value)"))


def test_crlf_documents_are_incremental_too() -> None:
    text = APP.replace("\n", "\r\n")
    analyzer = _analyzer(text)
    assert _step(analyzer, text.replace("out = []", "out = [] # e"))
    mixed = text.replace("out = []\r\n", "out = []\n")
    assert not _step(analyzer, mixed)


def test_a_new_context_reuses_the_parse_but_reruns_every_rule() -> None:
    analyzer = _analyzer(APP)
    other = CONTEXT.model_copy(update={"git": GitState(is_repo=True, branch="feature/x", protected=False)})
    findings = analyzer.analyze(APP, other, SETTINGS, True, "app/main.py")
    assert "PE101" not in {f.code for f in findings}
    assert [f.model_dump() for f in findings] == [
        f.model_dump()
        for f in analyze(ParsedSource("/project/app/main.py", APP, "app/main.py"), other, SETTINGS, True)
    ]


def test_a_function_halfway_through_an_edit_keeps_the_rest_of_the_file() -> None:
    analyzer = _analyzer(APP)
    before = analyzer.analyze(APP, CONTEXT, SETTINGS, True, "app/main.py")
    broken = APP.replace("        return out\n", "        return sum(out\n")
    during = analyzer.analyze(broken, CONTEXT, SETTINGS, True, "app/main.py")
    # A full analysis of a file that does not parse finds only what needs no syntax tree...
    assert {
        f.code for f in analyze(ParsedSource("/x.py", broken, "app/main.py"), CONTEXT, SETTINGS, True)
    } <= {
        "PE101",
        "PE201",
        "PE802",
    }
    # ...while the rest of the file keeps its findings: everything outside `totals` is still reported.
    lines = APP.splitlines()
    first, end = lines.index("    def totals(self, frame):"), lines.index("    async def refresh(self):")
    outside = [f for f in before if not first <= f.range.start.line < end]
    assert {(f.code, f.range) for f in outside} <= {(f.code, f.range) for f in during}
    # Mending the function is a step from the last version that parsed.
    assert _step(analyzer, broken.replace("sum(out\n", "sum(out)\n"))


def test_a_save_or_commit_does_not_stop_the_next_keystroke_being_a_step() -> None:
    analyzer = _analyzer(APP)
    # Saving changes the git state (dirty files) and so the context object, not what local rules read.
    saved = CONTEXT.model_copy(update={"git": GitState(is_repo=True, branch="main", protected=True, dirty=1)})
    text = APP.replace("out = []", "out = [] # e")
    steps = analyzer.steps
    got = analyzer.analyze(text, saved, SETTINGS, False, "app/main.py")
    assert analyzer.steps == steps + 1
    want = analyze(ParsedSource("/project/app/main.py", text, "app/main.py"), saved, SETTINGS, False)
    assert [f.model_dump() for f in got] == [f.model_dump() for f in want]
    assert "PE101" not in {f.code for f in got}  # not edited: no protected-branch warning


def test_a_context_with_other_frameworks_reruns_every_rule() -> None:
    analyzer = _analyzer(APP)
    bare = CONTEXT.model_copy(update={"frameworks": ()})
    text = APP.replace("out = []", "out = [] # e")
    steps = analyzer.steps
    got = analyzer.analyze(text, bare, SETTINGS, True, "app/main.py")
    assert analyzer.steps == steps
    want = analyze(ParsedSource("/project/app/main.py", text, "app/main.py"), bare, SETTINGS, True)
    assert [f.model_dump() for f in got] == [f.model_dump() for f in want]


def test_deleting_a_relative_import_in_a_function_drops_its_binding() -> None:
    text = APP.replace("            import json\n", "            from . import json\n")
    analyzer = _analyzer(text)
    _step(analyzer, text.replace("            from . import json\n", "            pass\n"))
    kept = analyzer._kept
    assert kept is not None
    index = known_index(kept.source)
    assert index is not None
    _same_index(index, kept.source.text)


def test_versions_that_are_gone_leave_nothing_behind() -> None:
    # Every analysed version has a syntax index cached per source; an index holding its source strongly kept
    # every version's text, tree and index alive for good (hundreds of MB over a day of typing).
    import gc

    from pyengineer.engine import syntax

    gc.collect()
    before = len(syntax._CACHE)
    analyzer = _analyzer(APP)
    text = APP
    for i in range(30):
        text = text.replace("out = []", f"out = [] # {i}") if i % 2 == 0 else APP
        analyzer.analyze(text, CONTEXT, SETTINGS, True, "app/main.py")
    analyzer.analyze(
        APP.replace("app = FastAPI()", "app = FastAPI(debug=True)"), CONTEXT, SETTINGS, True, "app/main.py"
    )
    gc.collect()
    assert len(syntax._CACHE) - before <= 2  # the kept version's index (and nothing else)
