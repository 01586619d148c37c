"""Diagnostics on the wire: findings become JSON text once, and a publish joins the kept texts.

A keystroke republishes every finding of the document. Built as lsprotocol objects, unstructured by cattrs and
encoded by json.dumps, 479 findings cost 30-60 ms, several times the budget of the whole keystroke. Here each
finding's diagnostic is formatted as JSON text once and kept while the same Finding object sits on lines with
the same text (the incremental analysis hands back the very objects of the code an edit did not touch); only
the `version` and `index` of its `data` are added per publish. The notification is written to pygls' writer as
that text. Pull reports get plain dicts, which pygls' json.dumps encodes without cattrs walking them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyengineer.engine.registry import Rule, load_rules
from pyengineer.findings import Finding, Range, Severity
from pyengineer.lsp.convert import _SEVERITY, SOURCE, clamped_line, client_units, split_lines
from pyengineer.lsp.pygls_compat import write_frame
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentState

log = logging.getLogger(__name__)

_string = json.encoder.encode_basestring_ascii  # json.dumps of a str, without its Python-level overhead
# Every piece is ASCII (ensure_ascii, as json.dumps' default), so the body's length in bytes is its length.
_RANGE = '{"range":{"start":{"line":%d,"character":%d},"end":{"line":%d,"character":%d}},'
# The rest of a diagnostic, up to the value of data.version (added per publish, with data.index).
_REST = '"message":%s,"severity":%d,"code":%s,%s"source":%s,"data":{"code":%s,"uri":%s,"version":'
_SOURCE_JSON = _string(SOURCE)
_FILE_START = Range.of(0, 0)


def _character(lines: list[str], line: int, text: str, character: int, encoding: str) -> int:
    """`convert.character_to_client`, given the text of the (clamped) line, with a fast path for ASCII."""
    if line >= len(lines):
        return client_units(text, encoding)  # past the end of the document: the end of the last line
    if character <= 0:
        return 0
    if character >= len(text):
        return client_units(text, encoding)
    return character if text.isascii() else client_units(text[:character], encoding)


class _Entry:
    """One finding's diagnostic, valid while the finding's first and last lines keep their text."""

    __slots__ = (
        "finding",
        "start_line",
        "start_text",
        "end_line",
        "end_text",
        "start",
        "end",
        "head",
        "base",
        "related",
    )

    def __init__(
        self,
        finding: Finding,
        start_line: int,
        start_text: str,
        start: int,
        end_line: int,
        end_text: str,
        end: int,
        rest: str,
        related: list[dict[str, Any]],
    ) -> None:
        self.finding = finding
        self.start_line, self.start_text, self.start = start_line, start_text, start
        self.end_line, self.end_text, self.end = end_line, end_text, end
        self.related = related
        related_json = '"relatedInformation":' + json.dumps(related) + "," if related else ""
        self.head = (_RANGE % (start_line, start, end_line, end)) + related_json + rest
        self.base: dict[str, Any] | None = None

    def item(self, data: dict[str, Any]) -> dict[str, Any]:
        """The diagnostic as a JSON-ready dict: the same value as its text. The parts kept for the next pull
        are shared between the dicts; nothing mutates them (pygls only encodes them)."""
        if self.base is None:
            finding = self.finding
            self.base = {
                "range": {
                    "start": {"line": self.start_line, "character": self.start},
                    "end": {"line": self.end_line, "character": self.end},
                },
                "message": finding.message,
                "severity": int(_SEVERITY[finding.severity]),
                "code": finding.code,
            }
            rule = load_rules().get(finding.code)
            if rule is not None:
                self.base["codeDescription"] = {"href": rule.url}
            self.base["source"] = SOURCE
            if self.related:
                self.base["relatedInformation"] = self.related
        return {**self.base, "data": data}


class DocumentDiagnostics:
    """The diagnostics last sent for one document, kept per finding for the next publish."""

    def __init__(self, uri: str, encoding: str) -> None:
        self.uri = uri
        self.encoding = encoding
        self.uri_json = _string(uri)
        self.entries: dict[int, _Entry] = {}  # id(finding) -> entry; the entry holds the finding alive
        # (code, message, severity) -> _REST: the shifted copies of findings below an inserted line are new
        # objects, but their message, severity and code are those of an earlier publish.
        self.rests: dict[tuple[str, str, Severity], str] = {}

    def _rest(self, finding: Finding, rules: dict[str, Rule]) -> str:
        key = (finding.code, finding.message, finding.severity)
        rest = self.rests.get(key)
        if rest is None:
            rule = rules.get(finding.code)
            code = _string(finding.code)
            description = '"codeDescription":{"href":' + _string(rule.url) + "}," if rule is not None else ""
            rest = self.rests[key] = _REST % (
                _string(finding.message),
                _SEVERITY[finding.severity],
                code,
                description,
                _SOURCE_JSON,
                code,
                self.uri_json,
            )
        return rest

    def _related(self, finding: Finding, lines: list[str]) -> list[dict[str, Any]]:
        """LSP relatedInformation of `finding`: places in this document (the only ones rules name so far)."""
        related = []
        for info in finding.related:
            if info.path != finding.path:
                # Positions in another file need that file's text to convert, except its start (PE201's
                # hand-off document).
                if info.range == _FILE_START:
                    start = {"line": 0, "character": 0}
                    location = {"uri": Path(info.path).as_uri(), "range": {"start": start, "end": start}}
                    related.append({"location": location, "message": info.message})
                continue
            points = []
            for position in (info.range.start, info.range.end):
                line = clamped_line(lines, position.line)
                text = lines[line] if lines else ""
                points.append(
                    {
                        "line": line,
                        "character": _character(
                            lines, position.line, text, position.character, self.encoding
                        ),
                    }
                )
            related.append(
                {
                    "location": {"uri": self.uri, "range": {"start": points[0], "end": points[1]}},
                    "message": info.message,
                }
            )
        return related

    def _entries(self, text: str, findings: Sequence[Finding]) -> list[_Entry]:
        lines = split_lines(text)
        last = len(lines) - 1
        encoding = self.encoding
        kept = self.entries
        if len(self.rests) > 2 * len(findings) + 64:
            self.rests = {}
        rules: dict[str, Rule] | None = None
        entries: dict[int, _Entry] = {}
        out: list[_Entry] = []
        for finding in findings:
            rng = finding.range
            start, end = rng.start, rng.end
            start_line, end_line = start.line, end.line
            if not 0 <= start_line <= last:
                start_line = clamped_line(lines, start_line)
            if not 0 <= end_line <= last:
                end_line = clamped_line(lines, end_line)
            start_text, end_text = lines[start_line], lines[end_line]
            entry = kept.get(id(finding))
            if (
                entry is None
                or entry.finding is not finding
                or entry.start_line != start_line
                or entry.end_line != end_line
                or entry.start_text != start_text
                or entry.end_text != end_text
            ):
                if rules is None:
                    rules = load_rules()
                entry = _Entry(
                    finding,
                    start_line,
                    start_text,
                    _character(lines, start.line, start_text, start.character, encoding),
                    end_line,
                    end_text,
                    _character(lines, end.line, end_text, end.character, encoding),
                    self._rest(finding, rules),
                    self._related(finding, lines) if finding.related else [],
                )
            entries[id(finding)] = entry
            out.append(entry)
        self.entries = entries
        return out

    def diagnostics_json(self, text: str, version: int | None, findings: Sequence[Finding]) -> str:
        """The JSON array of the diagnostics of `findings` in `text` at `version`."""
        entries = self._entries(text, findings)
        tail = ("null" if version is None else str(int(version))) + ',"index":'
        return "[" + ",".join([f"{entry.head}{tail}{index}}}}}" for index, entry in enumerate(entries)]) + "]"

    def items(self, text: str, version: int | None, findings: Sequence[Finding]) -> list[dict[str, Any]]:
        """The same diagnostics as JSON-ready dicts."""
        return [
            entry.item({"code": entry.finding.code, "uri": self.uri, "version": version, "index": index})
            for index, entry in enumerate(self._entries(text, findings))
        ]


def kept(state: DocumentState | None, uri: str, encoding: str) -> DocumentDiagnostics:
    """The diagnostics kept in `uri`'s DocumentState (their only owner: they go when the document closes);
    new ones when the position encoding differs from the last publish's, throwaway ones for a document that
    is not open."""
    found = state.wire if state is not None else None
    if not isinstance(found, DocumentDiagnostics) or found.encoding != encoding:
        found = DocumentDiagnostics(uri, encoding)
        if state is not None:
            state.wire = found
    return found


class FullReport:
    """A full pull report of JSON-ready items.

    Not an attrs class on purpose: pygls' cattrs converter passes an unknown value through unchanged, and its
    json.dumps hook encodes it as its `__dict__` ({"kind": "full", "items": [...]}), so no converter walks the
    items (tests/lsp/test_wire.py checks the bytes pygls writes for it).
    """

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.kind = "full"
        self.items = items


def send_notification(ls: PyengineerServer, method: str, params_json: str) -> None:
    """Write a notification whose params are JSON text already."""
    body = '{"jsonrpc":"2.0","method":' + _string(method) + ',"params":' + params_json + "}"
    write_frame(ls.protocol, body.encode("utf-8"))


def publish_diagnostics(
    ls: PyengineerServer,
    document: DocumentDiagnostics,
    text: str,
    version: int | None,
    findings: Sequence[Finding],
) -> None:
    """textDocument/publishDiagnostics for `findings` in `text` at `version` (`document`: see `kept`)."""
    uri = document.uri
    diagnostics = document.diagnostics_json(text, version, findings)
    version_member = "" if version is None else f',"version":{int(version)}'
    send_notification(
        ls,
        "textDocument/publishDiagnostics",
        f'{{"uri":{_string(uri)}{version_member},"diagnostics":{diagnostics}}}',
    )
