"""The results cache of `pyengineer check`: per file, the findings of every rule that is not `late`.

One JSON file per project root under the user cache dir (`scan_cache.cache_dir()`: `$PYENGINEER_CACHE_DIR`,
`off` turns it off), like ruff's. An entry is reused only when all of these are what they were:
- the file's text (its sha256: no mtime, so no racily-clean problem) and its path relative to the root;
- the key of the whole file: the cache format, the pyengineer version, the resolved settings, the selected
  rules, and the workspace facts rules read (`rule_facts`).
Facts that change often are not in the key: the late rules (PE101 reads the branch and whether the file is
being changed, PE201 whether the file's hand-off document exists) run again on every check, on top of the cached
findings; the entry keeps the file's imported modules, so that PE201 need not parse it to know. A cache that does not parse, was made
for another key or root, or holds an entry of the wrong shape is ignored (that entry, or all of it) and
rebuilt; writes are atomic (a temporary file, then rename), and failing to write only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Container, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from pyengineer import __version__
from pyengineer.config import Settings
from pyengineer.engine.registry import selected_rules
from pyengineer.engine.source import ParsedSource
from pyengineer.findings import Finding
from pyengineer.workspace.context import WorkspaceContext
from pyengineer.workspace.scan_cache import write_cache_file

log = logging.getLogger(__name__)

# 3: findings carry `detail`, and every message changed (a cache of the old ones would show them again).
# 5: an entry holds the file's imported top-level modules too (see `make_entry`).
FORMAT = 5

# The WorkspaceContext fields rules read (through `RuleInput.context` or `Rule.relevant`), baked into the key.
# `git` is read by PE101 alone, a late rule, re-run on every check. tests/check/test_results_cache.py fails when
# a field is added to WorkspaceContext without saying here whether rules read it.
# PE201 reads how many files import ML libraries (and says so), not which: only the count is in the key.
FACT_FIELDS = (
    "frameworks",
    "python_file_count",
    "type_checking",  # PE501: the project's mypy/pyright settings
    "sync_engines",  # PE301: sync SQLAlchemy engines and session factories defined in other modules
    "sync_session_factories",
)
COUNTED_FIELDS = ("ml_files",)
NOT_READ_BY_RULES = (
    "root",  # the cache file is per root already
    "python_project",
    "python_project_reason",
    "markers",
    "package_manager",
    "package_manager_reason",
    "framework_evidence",
    "config_file",
    "git",
)


def rule_facts(context: WorkspaceContext) -> dict[str, Any]:
    """The workspace facts the (non-late) rules read: when one changes, every entry is re-analysed."""
    facts: dict[str, Any] = {name: getattr(context, name) for name in FACT_FIELDS}
    facts.update({f"{name}.count": len(getattr(context, name)) for name in COUNTED_FIELDS})
    return facts


def cache_key(settings: Settings, context: WorkspaceContext) -> str:
    parts = [
        FORMAT,
        __version__,
        settings.model_dump(mode="json"),
        sorted((r.code, r.name, r.late) for r in selected_rules(settings)),
        rule_facts(context),
        sorted(Finding.model_fields),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_FINDINGS: TypeAdapter[list[Finding]] = TypeAdapter(list[Finding])


def dump_findings(findings: Iterable[Finding]) -> str:
    """Findings as the JSON text an entry holds (kept as text: pydantic validates it back in one call)."""
    return _FINDINGS.dump_json(list(findings)).decode()


def load_findings(data: Any) -> list[Finding] | None:
    """The findings of one entry, or None when it is not what a cache entry holds (it is never trusted)."""
    if not isinstance(data, str):
        return None
    try:
        return _FINDINGS.validate_json(data)
    except ValueError:
        return None


def make_entry(digest: str, early: Iterable[Finding], source: ParsedSource) -> list[Any]:
    """The entry of an analysed file: [text digest, its early findings, its imported top-level modules].

    The imports are kept when the analysis already had them (null otherwise), so that on a hit the late
    rules' `may_import` (PE201) answers without reading the text again: they are a fact of the text alone.
    """
    imports = sorted(source.imported_top_levels) if "imports" in source.__dict__ else None
    return [digest, dump_findings(early), imports]


def seed_imports(source: ParsedSource, entry: list[Any]) -> None:
    """Give `source` (whose text has the entry's digest) the imported modules the entry recorded, if any."""
    imports = entry[2]
    if isinstance(imports, list) and all(isinstance(name, str) for name in imports):
        source.__dict__["imported_top_levels"] = frozenset(imports)


class ResultsCache:
    """The cached findings of one project root: relative path -> [text digest, raw early findings, imports]."""

    def __init__(self, folder: Path, root: Path, settings: Settings, context: WorkspaceContext) -> None:
        self.root = str(root)
        digest = hashlib.sha256(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        self.path = folder / "results" / f"{digest}.json"
        self.key = cache_key(settings, context)
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False

    def load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("key") != self.key or data.get("root") != self.root:
            return
        files = data.get("files")
        if not isinstance(files, dict):
            log.warning("ignoring a damaged results cache %s", self.path)
            return
        self.entries = {
            k: v for k, v in files.items() if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
        }

    def lookup(self, relative: str) -> list[Any] | None:
        """The [digest, findings, imports] entry of `relative` (still to be checked against the text), if any."""
        return self.entries.get(relative)

    def update(
        self, stored: Mapping[str, list[Any]], checked: Iterable[str], present: Container[str]
    ) -> None:
        """Take the new entries of the files `checked` now, and drop those of files that are gone.

        `present`: the project's files as the scan just walked them; an entry of a file neither there nor
        checked now is dropped without asking the file system.
        A file a rule failed on has no new entry: its old one (for another text) is never matched again.
        """
        checked = set(checked)
        for relative in checked:
            if relative in stored and self.entries.get(relative) != stored[relative]:
                self.entries[relative] = stored[relative]
                self.dirty = True
        for relative in [k for k in self.entries if k not in present and k not in checked]:
            del self.entries[relative]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        payload = json.dumps(
            {"key": self.key, "root": self.root, "files": self.entries}, separators=(",", ":")
        )
        try:
            write_cache_file(self.path, payload)
        except OSError as exc:
            log.warning("cannot write the results cache %s: %s", self.path, exc)
