"""Diagnostics as JSON text (lsp/wire.py) against the lsprotocol + cattrs path they replace.

Each case compares with the conversion as it was before the wire: `OldCodec` is a verbatim copy of the former
`LineCodec` conversion, and `convert.diagnostic` + pygls' converter give the former JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pyengineer.findings import Finding, Position, Range, Related, Severity
from pyengineer.lsp import wire
from pyengineer.lsp.convert import LineCodec, diagnostic
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentState
from pygls.protocol import default_converter
from pygls.workspace import Workspace

from tests.lsp.sink import Sink

ENCODINGS = ("utf-16", "utf-8", "utf-32")
URI = "file:///work/project/pkg/módulo.py"

TEXTS = {
    "ascii": "import os\n\ndef f(x):\n    return x\n",
    "surrogates": 'label = "🤖🤖"; import torch\nx = "𝔘𝔫𝔦" + y  # 🤖\n',
    "multibyte": 'naïve = "résumé"\nπ = 3.14159\ns = "日本語テキスト"\n',
    "crlf": "a = 1\r\nbé = 2\r\n\r\nc = '🤖'\r\n",
    "cr": "a = 1\rbé = 2\r\rc = '🤖'\r",
    "mixed": "a = 1\r\nb = 'é'\rc = 3\nd = '🤖'",
    "not-breaks": "a = '\f' ; b = '\x85' ; c = '\u2028' ; d = '🤖'\ne = 1\n",
    "no-final-newline": "x = 'é'",
    "empty": "",
    "lone-surrogate": "s = '\udcff' + 'é'\n",
}


class OldCodec:
    """The code-point -> client conversion as it was (the oracle)."""

    LINE_BREAK = re.compile(r"\r\n|\r|\n")

    def __init__(self, text: str, encoding: str) -> None:
        self.lines = self.LINE_BREAK.split(text)
        self.encoding = encoding

    def _line(self, line: int) -> str:
        if 0 <= line < len(self.lines):
            return self.lines[line]
        return ""

    def _units(self, chars: str) -> int:
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(chars.encode("utf-8", errors="surrogatepass"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return len(chars)
        return len(chars.encode("utf-16-le", errors="surrogatepass")) // 2

    def to_client(self, position: Position) -> tuple[int, int]:
        line = max(0, min(position.line, max(len(self.lines) - 1, 0)))
        text = self._line(line)
        if position.line >= len(self.lines):
            return line, self._units(text)
        return line, self._units(text[: max(0, position.character)])

    def range_to_client(self, rng: Range) -> types.Range:
        (start_line, start), (end_line, end) = self.to_client(rng.start), self.to_client(rng.end)
        return types.Range(start=types.Position(start_line, start), end=types.Position(end_line, end))

    def from_client(self, position: types.Position) -> Position:
        text = self._line(position.line)
        if self.encoding == types.PositionEncodingKind.Utf32:
            return Position(line=position.line, character=min(position.character, len(text)))
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return Position(line=position.line, character=index)
            units += self._units(char)
        return Position(line=position.line, character=len(text))


def positions(text: str) -> list[Position]:
    """Every position of every line, one past each line's end, far past it, and lines past the document."""
    lines = OldCodec.LINE_BREAK.split(text)
    out = [Position(line=n, character=c) for n, line in enumerate(lines) for c in range(len(line) + 2)]
    out += [Position(line=n, character=1000) for n in range(len(lines))]
    out += [Position(line=len(lines) + k, character=c) for k in (0, 5) for c in (0, 3)]
    out += [Position(line=-1, character=2)]
    return out


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_positions_to_client_match_the_old_conversion(name: str, encoding: str) -> None:
    text = TEXTS[name]
    old, new = OldCodec(text, encoding), LineCodec(text, encoding)
    assert new.lines == old.lines
    for position in positions(text):
        converted = new.to_client(position)
        assert (converted.line, converted.character) == old.to_client(position), position


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_positions_from_client_match_the_old_conversion(name: str, encoding: str) -> None:
    text = TEXTS[name]
    old, new = OldCodec(text, encoding), LineCodec(text, encoding)
    for line in range(len(old.lines) + 2):
        for character in range(12):
            position = types.Position(line=line, character=character)
            assert new.from_client(position) == old.from_client(position), position


def finding(line: int, col: int, end_line: int, end_col: int, code: str = "PE501", **kw: Any) -> Finding:
    return Finding(
        code=code,
        message=kw.pop("message", f"finding {code} at {line}:{col} — «quoted» 🤖"),
        path="/work/project/pkg/módulo.py",
        range=Range.of(line, col, end_line, end_col),
        **kw,
    )


def sample_findings(text: str) -> list[Finding]:
    """Findings over every line (whole line, inside it, past its end), across lines and past the document."""
    lines = OldCodec.LINE_BREAK.split(text)
    out: list[Finding] = []
    for n, line in enumerate(lines):
        out.append(finding(n, 0, n, len(line)))
        out.append(finding(n, min(3, len(line)), n, len(line) + 7, code="PE802", severity=Severity.ERROR))
    out.append(finding(0, 2, len(lines) - 1, 1, code="PE101", severity=Severity.INFO))
    out.append(finding(len(lines) + 3, 1, len(lines) + 9, 4, code="PE999", severity=Severity.HINT))
    out.append(finding(-2, 0, 0, 1, code="PE201", message='quotes " and \\ and \n newline'))
    # Related information (PE201's other imports) is converted like the finding's own range.
    related = tuple(
        Related(path="/work/project/pkg/módulo.py", range=Range.of(n, 1, n, 40), message=f"also 🤖 {n}")
        for n in range(len(lines) + 1)
    )
    out.append(finding(0, 0, 0, 1, code="PE201", related=related))
    return out


def old_json(findings: list[Finding], text: str, encoding: str, version: int | None) -> list[Any]:
    """The diagnostics as pygls wrote them before: lsprotocol objects unstructured by its converter."""
    codec: Any = OldCodec(text, encoding)
    converter = default_converter()
    return [
        converter.unstructure(
            diagnostic(f, codec, {"code": f.code, "uri": URI, "version": version, "index": i}, uri=URI),
            types.Diagnostic,
        )
        for i, f in enumerate(findings)
    ]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_diagnostics_json_and_items_match_the_lsprotocol_path(name: str, encoding: str) -> None:
    text = TEXTS[name]
    found = sample_findings(text)
    for version in (7, None):
        expected = old_json(found, text, encoding, version)
        document = wire.DocumentDiagnostics(URI, encoding)
        encoded = document.diagnostics_json(text, version, found)
        assert encoded.isascii()
        assert json.loads(encoded) == expected
        # Pull items: JSON-ready dicts of the same value.
        assert json.loads(json.dumps(document.items(text, version, found))) == expected


def test_kept_diagnostics_follow_the_text_version_and_order() -> None:
    text = "def f(x):\n    return x\n\ndef g(y):\n    return y\n"
    first, second = finding(0, 4, 0, 5), finding(3, 4, 3, 5)
    document = wire.DocumentDiagnostics(URI, "utf-16")
    document.diagnostics_json(text, 1, [first, second])
    kept = dict(document.entries)

    # The same objects on unchanged lines are reused; the version and index are the publish's own.
    edited = text.replace("return x", "return x  # e")
    assert json.loads(document.diagnostics_json(edited, 2, [second, first])) == old_json(
        [second, first], edited, "utf-16", 2
    )
    assert document.entries[id(first)] is kept[id(first)]
    assert document.entries[id(second)] is kept[id(second)]

    # A finding's own line changed (a wide character before it): converted again.
    widened = "d🤖f f(x):\n" + edited.split("\n", 1)[1]
    assert json.loads(document.diagnostics_json(widened, 3, [first, second])) == old_json(
        [first, second], widened, "utf-16", 3
    )
    assert document.entries[id(first)] is not kept[id(first)]
    assert document.entries[id(second)] is kept[id(second)]

    # The document shrank under a finding: clamped to the new end.
    assert json.loads(document.diagnostics_json("def g", 4, [second])) == old_json(
        [second], "def g", "utf-16", 4
    )
    # Findings no longer published are let go.
    assert list(document.entries) == [id(second)]


def test_kept_diagnostics_live_in_the_document_state_and_are_rebuilt_for_another_encoding() -> None:
    state = DocumentState("file:///x.py", Path("/x.py"), "", 1)
    first = wire.kept(state, "file:///x.py", "utf-16")
    assert state.wire is first
    assert wire.kept(state, "file:///x.py", "utf-16") is first
    assert wire.kept(state, "file:///x.py", "utf-8") is not first
    assert state.wire is not first
    # A document that is not open gets throwaway ones, kept nowhere.
    assert wire.kept(None, "file:///x.py", "utf-8") is not wire.kept(None, "file:///x.py", "utf-8")


def server_with_sink(encoding: str) -> tuple[PyengineerServer, Sink]:
    server = PyengineerServer()
    server.protocol._workspace = Workspace(None, position_encoding=encoding)
    sink = Sink()
    server.protocol.set_writer(sink)
    return server, sink


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_publish_writes_what_pygls_wrote_for_lsprotocol_diagnostics(encoding: str) -> None:
    text = TEXTS["surrogates"]
    found = sample_findings(text)
    server, sink = server_with_sink(encoding)
    assert server.position_encoding == encoding
    wire.publish_diagnostics(server, wire.DocumentDiagnostics(URI, encoding), text, 5, found)
    codec: Any = OldCodec(text, encoding)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=URI,
            version=5,
            diagnostics=[
                diagnostic(f, codec, {"code": f.code, "uri": URI, "version": 5, "index": i}, uri=URI)
                for i, f in enumerate(found)
            ],
        )
    )
    (ours_headers, ours), (theirs_headers, theirs) = sink.frames()
    assert ours == theirs
    assert ours_headers["Content-Type"] == theirs_headers["Content-Type"]
    # Without a version (a client that does not track them), the member is left out as before.
    sink.data = b""
    wire.publish_diagnostics(server, wire.DocumentDiagnostics(URI, encoding), "", None, [])
    [(_, message)] = sink.frames()
    assert message["params"] == {"uri": URI, "diagnostics": []}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_full_pull_report_is_written_as_the_lsprotocol_report(encoding: str) -> None:
    text = TEXTS["multibyte"]
    found = sample_findings(text)
    server, sink = server_with_sink(encoding)
    items = wire.DocumentDiagnostics(URI, server.position_encoding).items(text, 3, found)
    protocol = server.protocol
    protocol._result_types[1] = protocol.get_result_type(types.TEXT_DOCUMENT_DIAGNOSTIC)
    protocol._send_response(1, wire.FullReport(items))
    codec: Any = OldCodec(text, encoding)
    report = types.RelatedFullDocumentDiagnosticReport(
        items=[
            diagnostic(f, codec, {"code": f.code, "uri": URI, "version": 3, "index": i}, uri=URI)
            for i, f in enumerate(found)
        ]
    )
    protocol._result_types[2] = protocol.get_result_type(types.TEXT_DOCUMENT_DIAGNOSTIC)
    protocol._send_response(2, report)
    (_, ours), (_, theirs) = sink.frames()
    assert ours["result"] == theirs["result"]
    assert ours["result"]["kind"] == "full" and len(ours["result"]["items"]) == len(found)
