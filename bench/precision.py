"""Measured precision of every rule on real code nobody here wrote (bench/corpus/projects.toml).

    bench/precision            # the whole corpus (downloads it once, ~80 MB, into the corpus cache)
    bench/precision --quick    # the `quick = true` subset (CI, after the pytest step)
    bench/precision --rule PE802 --todo   # also write the unlabelled sample with its context, to label it

For every rule: how many findings, per 1,000 lines, the strict precision over the labelled findings it still
reports (tp / (tp + fp + debatable)), the recall on the kept true positives, and the findings of its sample
that have no label yet. The labels live in bench/corpus/labels/PEnnn.jsonl, one JSON object a line:

    {"key": "PROJECT|PATH|RULE|SYMBOL|LINEHASH|N", "label": "tp" | "fp" | "debatable", "reason": "...",
     "keep": true,  # a true positive that must stay found (counts for recall)
     "line": 12, "text": "the line, stripped"}  # for the reader only: the key is what matches

The key survives unrelated edits: the project name (not its version), the file's path in the project, the rule,
the innermost enclosing `def`/`class` (dotted, or `<module>`), a hash of the finding's stripped line, and the
occurrence of that (path, rule, symbol, hash) in the file. Notebooks (.ipynb) are checked as `pyengineer
check` checks them: their code cells as one module; the symbol and the occurrence are counted in that module,
the line hashed is the cell's, and a label's `line` is the line in cell `cell` (so a new markdown cell above
moves nothing). The sample of a rule is its findings ordered by a
seeded hash of their keys, first N: a fixed draw that only moves by the findings that come or go.

Exit status 1 when a default-on rule reports a labelled false positive again, a kept true positive is lost, a
rule raised, or (full run) a default-on rule's strict precision is under 90%. Opt-in rules (off by default for
their measured precision) are measured and reported the same way; their labelled false positives are their known
state and do not fail the run. Writes bench/results/precision[-quick].json.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import traceback
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROJECTS = HERE / "corpus" / "projects.toml"
LABELS = HERE / "corpus" / "labels"
RESULTS = HERE / "results"
SEED = "pyengineer-precision-1"
SAMPLE = 30
THRESHOLD = 0.90
LABEL_VALUES = ("tp", "fp", "debatable")


# -- the corpus -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    sdist: str
    sha256: str
    kind: str
    why: str
    quick: bool = False


def load_corpus(path: Path = PROJECTS) -> tuple[str, list[Project]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    projects = []
    for i, entry in enumerate(data.get("project", [])):
        try:
            projects.append(Project(**entry))
        except TypeError as exc:
            raise SystemExit(f"{path}: project #{i + 1} ({entry.get('name', '?')}): {exc}") from None
    return str(data.get("corpus_version", "?")), projects


def cache_root() -> Path:
    configured = os.environ.get("PYENGINEER_CORPUS_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "pyengineer-corpus"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(project: Project, cache: Path) -> Path:
    """The verified sdist of `project` in the cache, downloaded with pip on first use."""
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    target = sdists / project.sdist
    if target.is_file() and _sha256(target) == project.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=sdists) as tmp:
        # --no-binary NAME (not :all:): the sdist of the project itself, with its build backend from wheels
        # (pip prepares the metadata of what it downloads).
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            project.name,
            f"{project.name}=={project.version}",
            "-d",
            tmp,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        got = Path(tmp) / project.sdist
        if done.returncode != 0 or not got.is_file():
            raise SystemExit(
                f"could not download {project.name}=={project.version} ({project.sdist}):\n"
                + (done.stderr.strip() or done.stdout.strip())
            )
        actual = _sha256(got)
        if actual != project.sha256:
            raise SystemExit(
                f"{project.sdist}: sha256 {actual} does not match the pinned {project.sha256}: refusing it"
            )
        got.replace(target)
    return target


def unpack(project: Project, sdist: Path, cache: Path) -> Path:
    """The unpacked source tree (unpacked once; a `.complete` stamp marks a finished unpack)."""
    dest = cache / "src" / f"{project.name}-{project.version}"
    stamp = dest / ".pyengineer-complete"
    if stamp.is_file() and stamp.read_text() == project.sha256:
        return _top(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise SystemExit(f"{sdist}: unsafe member {member}")
            archive.extractall(dest)
    else:
        with tarfile.open(sdist) as archive:
            archive.extractall(dest, filter="data")  # no links out, no absolute paths, no devices
    stamp.write_text(project.sha256)
    return _top(dest)


def _top(dest: Path) -> Path:
    entries = [p for p in dest.iterdir() if p.name != ".pyengineer-complete"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


# -- keys -------------------------------------------------------------------------------------------------------


def _symbols(text: str) -> list[tuple[int, int, str]]:
    """(first line, last line, dotted name) of every def and class, 1-based, outermost first."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def enclosing(symbols: list[tuple[int, int, str]], line: int) -> str:
    """The innermost def/class around 1-based `line` (the last match is the innermost: outer ones come first)."""
    best = "<module>"
    for first, last, name in symbols:
        if first <= line <= last:
            best = name
    return best


def line_hash(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:12]


@dataclass
class Reported:
    """One finding as the harness sees it."""

    key: str
    project: str
    path: str
    rule: str
    line: int  # 1-based
    text: str
    message: str
    severity: str
    symbol: str
    cell: int | None = None  # in a notebook: the cell's 1-based number, and `line` is in that cell


def _notebook_code(data: bytes, path: str) -> tuple[str, Any] | None:
    """A notebook's code cells as one module (its cells' own text) and its NotebookModule; None if malformed."""
    from pyengineer.notebooks import NotebookError, parse_notebook

    try:
        module = parse_notebook(data.decode("utf-8", errors="replace"), path).module()
    except NotebookError:
        return None
    return "\n".join(module.originals), module


def keyed(project: str, root: Path, findings: Iterable[Any]) -> list[Reported]:
    """Give each finding its stable key."""
    by_file: dict[str, list[Any]] = {}
    for finding in findings:
        by_file.setdefault(finding.path, []).append(finding)
    out: list[Reported] = []
    for path, items in sorted(by_file.items()):
        try:
            data = Path(path).read_bytes()
        except OSError:
            data = b""
        text = data.decode("utf-8", errors="replace")
        notebook = _notebook_code(data, path) if path.endswith(".ipynb") else None
        if notebook is not None:
            text = notebook[0]
        lines = text.splitlines()
        # A notebook's IPython lines are masked in its module (which parses), as the rules saw it.
        symbols = _symbols(notebook[1].text if notebook is not None else text)
        relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
        seen: Counter[tuple[str, str, str]] = Counter()
        items.sort(key=lambda f: (f.range.start.line, f.range.start.character, f.code))
        if notebook is not None:
            # Keyed in module order (the cell, then the line in it), like a module's findings.
            items.sort(key=lambda f: (notebook[1].position(f.cell, f.range.start.line, 0), f.code))
        for finding in items:
            line = finding.range.start.line + 1
            at = line  # the module line
            if notebook is not None and finding.cell is not None:
                at = notebook[1].position(finding.cell, finding.range.start.line, 0)[0] + 1
            row = lines[at - 1] if 0 < at <= len(lines) else ""
            symbol = enclosing(symbols, at)
            digest = line_hash(row)
            n = seen[(finding.code, symbol, digest)]
            seen[(finding.code, symbol, digest)] += 1
            key = f"{project}|{relative}|{finding.code}|{symbol}|{digest}|{n}"
            out.append(
                Reported(
                    key, project, relative, finding.code, line, row.strip(), finding.message,
                    str(finding.severity), symbol, None if finding.cell is None else finding.cell + 1,
                )
            )  # fmt: skip
    return out


def sample_order(key: str) -> str:
    return hashlib.sha256(f"{SEED}|{key}".encode()).hexdigest()


# -- labels -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    key: str
    label: str
    reason: str
    keep: bool


def load_labels(folder: Path = LABELS) -> dict[str, dict[str, Label]]:
    """rule -> key -> label. A malformed line is an error naming the file and line."""
    result: dict[str, dict[str, Label]] = {}
    if not folder.is_dir():
        return result
    for path in sorted(folder.glob("*.jsonl")):
        rule = path.stem
        labels = result.setdefault(rule, {})
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{path.relative_to(REPO)}:{n}"
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{where}: not JSON: {exc}") from None
            key, label = entry.get("key"), entry.get("label")
            if not isinstance(key, str) or key.split("|")[2:3] != [rule]:
                raise SystemExit(f"{where}: `key` must be a string naming rule {rule}: {key!r}")
            if label not in LABEL_VALUES:
                raise SystemExit(f"{where}: `label` must be one of {', '.join(LABEL_VALUES)}: {label!r}")
            keep = bool(entry.get("keep", False))
            if keep and label != "tp":
                raise SystemExit(f"{where}: only a true positive can be kept (`keep`)")
            if key in labels:
                raise SystemExit(f"{where}: {key} is labelled twice")
            labels[key] = Label(key, label, str(entry.get("reason", "")), keep)
    return result


# -- running the rules ------------------------------------------------------------------------------------------


@dataclass
class Raised:
    rule: str
    path: str
    error: str


def watch_rules(raised: list[Raised]) -> None:
    """Record every exception a rule raises (and re-raise it, so the engine handles it as it always does)."""
    from pyengineer.engine import registry

    for code, rule in list(registry.load_rules().items()):
        original = rule.check

        def check(inp: Any, original: Any = original, code: str = code) -> Any:
            try:
                return list(original(inp))
            except Exception as exc:
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                where = f"{Path(frame.filename).name}:{frame.lineno}"
                raised.append(Raised(code, inp.source.relative, f"{type(exc).__name__}: {exc} ({where})"))
                raise

        registry.RULES[code] = dataclasses.replace(rule, check=check)


def default_on(code: str) -> bool:
    from pyengineer.engine import registry

    rule = registry.load_rules()[code]
    return rule.default


def count_lines(root: Path) -> tuple[int, int]:
    """(files, lines) of the Python files `pyengineer check` looks at under `root`."""
    from pyengineer.config import load_settings
    from pyengineer.workspace.ignore import IgnoreRules
    from pyengineer.workspace.scan import walk

    settings = load_settings(root)
    walked = walk(root, IgnoreRules.for_root(root, settings.exclude))
    files = walked.python_files + walked.notebooks
    lines = 0
    for relative in files:
        try:
            data = (root / relative).read_bytes()
        except OSError:
            continue
        notebook = _notebook_code(data, relative) if relative.endswith(".ipynb") else None
        # A notebook counts its code cells' lines, not its JSON (outputs, metadata).
        lines += len(notebook[0].splitlines()) if notebook is not None else data.count(b"\n")
    return len(files), lines


def run_project(project: Project, root: Path, rules: list[str]) -> list[Reported]:
    from pyengineer.checking import check_paths

    # Named exactly, so the opt-in rules run too: they are measured as well (only default-on ones must pass).
    overrides: dict[str, object] = {"select": rules}
    checked = check_paths([root], overrides)
    return keyed(project.name, root, (f for p in checked for f in p.findings))


# -- the safe fixes ---------------------------------------------------------------------------------------------


@dataclass
class FixCheck:
    """What applying every safe fix to one copy of a project did (issue 14 section 6)."""

    project: str
    applied: Counter[str] = field(default_factory=Counter)  # rule -> findings fixed by the first --fix
    files_changed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it rebuilds a Counter from its (key, value) pairs, counting the pairs.
        return {
            "project": self.project,
            "applied": dict(sorted(self.applied.items())),
            "files_changed": self.files_changed,
            "failures": list(self.failures),
        }


def _chosen(findings: list[Any]) -> list[Any]:
    """The findings whose safe fix `check --fix` applies in one run (the choice of `safe_fix_edits`).

    A finding is fixed when its first fix is safe and every edit of it was chosen: one left out for an
    overlap has an edit that was not (identical edits of two findings are chosen once, and fix both).
    """
    from pyengineer.actions.fixing import safe_fix_edits

    edits, fixed = safe_fix_edits(findings)
    chosen_edits = set(edits)
    chosen = [
        f
        for f in findings
        if f.fixes and f.fixes[0].safe and f.fixes[0].edits and set(f.fixes[0].edits) <= chosen_edits
    ]
    assert len(chosen) == fixed, (len(chosen), fixed)
    return chosen


def _snapshot(root: Path) -> dict[str, bytes]:
    """The bytes of every regular Python file and notebook under `root`, by relative path (what a fix may have
    changed)."""
    out: dict[str, bytes] = {}
    for pattern in ("*.py", "*.ipynb"):
        for path in root.rglob(pattern):
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _flags(path: str) -> int:
    """Compile flags: a notebook may `await` at the top level (IPython runs its cells so)."""
    return ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if path.endswith(".ipynb") else 0


def _compilable(data: bytes, path: str) -> bytes | str:
    """What must compile of a file: a module's bytes, a notebook's code cells (IPython syntax masked)."""
    if not path.endswith(".ipynb"):
        return data
    notebook = _notebook_code(data, path)
    return notebook[1].text if notebook is not None else "not a notebook any more ("  # fails to compile


def _group(reported: Iterable[Reported]) -> Counter[tuple[str, str, str]]:
    # (path, rule, symbol), not the full key: a fix may rewrite a line another finding sits on, which changes
    # that finding's line hash without making it new.
    return Counter((r.path, r.rule, r.symbol) for r in reported)


def _findings(root: Path, rules: list[str]) -> tuple[list[Any], list[str]]:
    from pyengineer.checking import check_paths

    checked = check_paths([root], {"select": rules}, use_baseline=False)
    failures = [f"rule failed: {failure.describe()}" for p in checked for failure in p.failures]
    return [f for p in checked for f in p.findings if not Path(f.path).is_symlink()], failures


def _fix_with_cli(root: Path, rules: list[str]) -> int:
    """`pyengineer check --fix --allow-protected-branch --select RULES ROOT`, in this process (so a test can
    break a fixer), its report thrown away: the harness reads what it did back from the files."""
    import contextlib
    import io

    from pyengineer.cli import main as cli_main

    sink = io.StringIO()
    argv = ["check", "--fix", "--allow-protected-branch", "--select", ",".join(rules), str(root)]
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return cli_main(argv)


def check_fixes(name: str, source: Path, rules: list[str], workdir: Path) -> FixCheck:
    """Apply every safe fix to a copy of `source` (never the source itself) and check the result.

    Every file the fixes change must still compile; a second `--fix` must change nothing; and no finding may
    appear that was not there before (compared by path, rule and enclosing symbol, the fixed ones taken out).
    """
    result = FixCheck(name)
    root = workdir / name
    shutil.copytree(source, root, symlinks=True)
    before, failures = _findings(root, rules)
    result.failures += failures
    chosen = _chosen(before)
    by_path: dict[str, list[str]] = {}
    for finding in chosen:
        result.applied[finding.code] += 1
        by_path.setdefault(Path(finding.path).resolve().relative_to(root.resolve()).as_posix(), []).append(
            finding.code
        )
    old = _group(keyed(name, root, before))  # keyed on the text before the fixes
    original = _snapshot(root)
    _fix_with_cli(root, rules)
    fixed = _snapshot(root)
    changed = sorted(p for p in fixed if original.get(p) != fixed[p])
    result.files_changed = len(changed)
    for path in changed:
        codes = ",".join(sorted(set(by_path.get(path, ["(no safe fix chosen here)"]))))
        try:
            compile(_compilable(fixed[path], path), str(root / path), "exec", _flags(path), dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            was_valid = True
            try:
                original_code = _compilable(original.get(path, b""), path)
                compile(original_code, str(root / path), "exec", _flags(path), dont_inherit=True)
            except (SyntaxError, ValueError):
                was_valid = False
            if was_valid:
                result.failures.append(f"{name}/{path}: no longer compiles after the fixes of {codes}: {exc}")
    for path in sorted(set(by_path) - set(changed)):
        result.failures.append(
            f"{name}/{path}: the safe fixes of {','.join(sorted(set(by_path[path])))} were not written"
        )
    if not changed:
        # Nothing was written: checking the same files again would give the same findings and the same (empty)
        # fixes, so the rest holds already; skipping it keeps the full run from checking the corpus four times.
        return result
    after, failures = _findings(root, rules)
    result.failures += failures
    # Idempotent: a second --fix finds nothing left to change.
    _fix_with_cli(root, rules)
    again = _snapshot(root)
    for path in sorted(p for p in again if again[p] != fixed.get(p)):
        left = sorted(
            {
                f.code
                for f in after
                if f.fixes and f.fixes[0].safe and Path(f.path).resolve() == (root / path).resolve()
            }
        )
        result.failures.append(
            f"{name}/{path}: a second --fix changed it again ({','.join(left) or '?'}): not idempotent"
        )
    # No new finding: per (path, rule, symbol), no more findings after than before less the fixed ones.
    new_reported = keyed(name, root, after)
    new = _group(new_reported)
    for group, count in sorted(new.items()):
        if count > old.get(group, 0):
            path, rule, symbol = group
            lines = sorted(r.line for r in new_reported if (r.path, r.rule, r.symbol) == group)
            result.failures.append(
                f"{name}/{path}:{lines[0]}: {rule} in {symbol}: a new finding after the safe fixes "
                f"({count} after, {old.get(group, 0)} before)"
            )
    return result


# -- the report -------------------------------------------------------------------------------------------------


@dataclass
class RuleResult:
    rule: str
    default_on: bool
    findings: int = 0
    per_kloc: float = 0.0
    tp: int = 0
    fp: int = 0
    debatable: int = 0
    precision: float | None = None
    kept: int = 0
    kept_found: int = 0
    recall: float | None = None
    unlabelled_sample: list[dict[str, Any]] = field(default_factory=list)
    returned_fps: list[str] = field(default_factory=list)
    lost_tps: list[str] = field(default_factory=list)
    by_project: dict[str, int] = field(default_factory=dict)


def measure(
    reported: list[Reported],
    labels: dict[str, dict[str, Label]],
    rules: Iterable[str],
    projects: set[str],
    lines: int,
    sample: int,
) -> dict[str, RuleResult]:
    by_rule: dict[str, list[Reported]] = {}
    for r in reported:
        by_rule.setdefault(r.rule, []).append(r)
    results: dict[str, RuleResult] = {}
    for code in sorted(set(rules) | set(by_rule)):
        found = by_rule.get(code, [])
        known = labels.get(code, {})
        result = RuleResult(code, default_on(code), findings=len(found))
        result.per_kloc = round(1000 * len(found) / lines, 3) if lines else 0.0
        result.by_project = dict(Counter(r.project for r in found))
        keys = {r.key for r in found}
        for r in found:
            label = known.get(r.key)
            if label is None:
                continue
            if label.label == "tp":
                result.tp += 1
            elif label.label == "fp":
                result.fp += 1
                result.returned_fps.append(f"{r.key}  ({label.reason})")
            else:
                result.debatable += 1
        labelled = result.tp + result.fp + result.debatable
        result.precision = round(result.tp / labelled, 4) if labelled else None
        kept = [k for k in known.values() if k.keep and k.key.split("|", 1)[0] in projects]
        result.kept = len(kept)
        result.kept_found = sum(1 for k in kept if k.key in keys)
        result.lost_tps = [f"{k.key}  ({k.reason})" for k in kept if k.key not in keys]
        result.recall = round(result.kept_found / result.kept, 4) if kept else None
        for r in sorted(found, key=lambda r: sample_order(r.key))[:sample]:
            if r.key not in known:
                result.unlabelled_sample.append(dataclasses.asdict(r))
        results[code] = result
    return results


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render(results: dict[str, RuleResult], raised: list[Raised], strict: bool) -> tuple[str, list[str]]:
    rows = [
        f"{'rule':7} {'on':3} {'findings':>8} {'per 1k':>7} {'tp':>4} {'fp':>4} {'deb':>4} {'precision':>9} "
        f"{'recall':>7} {'unlabelled':>10}"
    ]
    failures: list[str] = []
    for code, r in results.items():
        rows.append(
            f"{code:7} {'on' if r.default_on else 'off':3} {r.findings:8} {r.per_kloc:7.2f} {r.tp:4} {r.fp:4} "
            f"{r.debatable:4} {_pct(r.precision):>9} {_pct(r.recall):>7} {len(r.unlabelled_sample):10}"
        )
        # An opt-in rule is off because of its measured false positives: they are its known state, not a
        # regression. A default-on rule must never report a labelled false positive again.
        if r.default_on:
            failures += [f"{code}: labelled false positive reported again: {k}" for k in r.returned_fps]
        failures += [f"{code}: kept true positive lost: {k}" for k in r.lost_tps]
        if strict and r.default_on and r.precision is not None and r.precision < THRESHOLD:
            failures.append(f"{code}: default-on rule at {_pct(r.precision)} strict precision (< 90%)")
    failures += [f"{e.rule} raised on {e.path}: {e.error}" for e in raised]
    return "\n".join(rows), failures


def render_fixes(checks: list[FixCheck]) -> str:
    applied: Counter[str] = Counter()
    for c in checks:
        applied.update(c.applied)
    failed = sum(len(c.failures) for c in checks)
    per_rule = ", ".join(f"{code} {n}" for code, n in sorted(applied.items())) or "none"
    return (
        f"safe fixes: {sum(applied.values())} applied ({per_rule}) in {sum(c.files_changed for c in checks)} "
        f"files of {len(checks)} projects; "
        + (
            "all changed files compile, a second --fix changes nothing, no new finding"
            if not failed
            else f"{failed} failures"
        )
    )


def _context(root: Path, path: str, line: int, around: int = 6, cell: int | None = None) -> str:
    try:
        data = (root / path).read_bytes()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if cell is not None:  # the cell's own lines
        from pyengineer.notebooks import NotebookError, parse_notebook

        try:
            lines = (
                parse_notebook(data.decode("utf-8", errors="replace"), path)
                .cells[cell - 1]
                .source.split("\n")
            )
        except (NotebookError, IndexError):
            return ""
    first = max(1, line - around)
    return "\n".join(
        f"{'>' if n == line else ' '}{n:5} {lines[n - 1]}"
        for n in range(first, min(len(lines), line + around) + 1)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="only the projects marked `quick` (for CI)")
    parser.add_argument("--project", action="append", help="only these projects (repeatable)")
    parser.add_argument("--rule", action="append", help="only run and report these rules (repeatable)")
    parser.add_argument("--sample", type=int, default=SAMPLE, help=f"sample size per rule (default {SAMPLE})")
    parser.add_argument(
        "--todo", action="store_true", help="write the unlabelled sample with context beside the corpus cache"
    )
    fixes = parser.add_mutually_exclusive_group()
    fixes.add_argument(
        "--fixes",
        action="store_true",
        help="also apply every safe fix to a copy of each project and check it (on by default in the full run)",
    )
    fixes.add_argument("--no-fixes", action="store_true", help="skip the safe-fix check")
    parser.add_argument("--show", type=int, default=5, help="unlabelled findings to print per rule")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO / "server"))
    version, projects = load_corpus()
    if args.project:
        unknown = set(args.project) - {p.name for p in projects}
        if unknown:
            raise SystemExit(f"not in {PROJECTS.name}: {', '.join(sorted(unknown))}")
        projects = [p for p in projects if p.name in args.project]
    elif args.quick:
        projects = [p for p in projects if p.quick]
    labels = load_labels()
    cache = cache_root()
    raised: list[Raised] = []
    watch_rules(raised)
    from pyengineer.engine import registry

    rules = sorted(registry.load_rules())
    if args.rule:
        wanted = {r.upper() for r in args.rule}
        if wanted - set(rules):
            raise SystemExit(f"unknown rules: {', '.join(sorted(wanted - set(rules)))}")
        rules = sorted(wanted)
    reported: list[Reported] = []
    roots: dict[str, Path] = {}
    total_files = total_lines = 0
    started = time.monotonic()
    per_project: dict[str, dict[str, Any]] = {}
    for project in projects:
        t0 = time.monotonic()
        root = unpack(project, fetch(project, cache), cache)
        roots[project.name] = root
        files, lines = count_lines(root)
        found = run_project(project, root, rules)
        total_files += files
        total_lines += lines
        reported.extend(found)
        per_project[project.name] = {
            "version": project.version,
            "kind": project.kind,
            "files": files,
            "lines": lines,
            "findings": len(found),
            "seconds": round(time.monotonic() - t0, 2),
        }
        print(
            f"  {project.name} {project.version}: {files} files, {lines} lines, {len(found)} findings "
            f"({per_project[project.name]['seconds']} s)",
            file=sys.stderr,
        )
    results = measure(reported, labels, rules, {p.name for p in projects}, total_lines, args.sample)
    full = not (args.quick or args.project)
    table, failures = render(results, raised, strict=full)
    fix_checks: list[FixCheck] = []
    if args.fixes or (full and not args.no_fixes):
        # The default-on rules, as `pyengineer check --fix` applies them on a project with no configuration.
        fix_rules = [code for code in rules if default_on(code)]
        with tempfile.TemporaryDirectory(prefix="pyengineer-fixes-") as tmp:
            for project in projects:
                checked_fixes = check_fixes(project.name, roots[project.name], fix_rules, Path(tmp))
                fix_checks.append(checked_fixes)
                failures += checked_fixes.failures
                print(
                    f"  fixes {project.name}: {sum(checked_fixes.applied.values())} applied, "
                    f"{checked_fixes.files_changed} files changed, {len(checked_fixes.failures)} failures",
                    file=sys.stderr,
                )
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"\ncorpus {version}: {len(projects)} projects, {total_files} files, {total_lines} lines; "
        f"commit {commit or '?'}; {time.monotonic() - started:.0f} s\n"
    )
    print(table)
    if fix_checks:
        print("\n" + render_fixes(fix_checks))
    todo: list[str] = []
    for code, r in results.items():
        if not r.unlabelled_sample:
            continue
        print(f"\n{code}: {len(r.unlabelled_sample)} sampled findings without a label")
        for item in r.unlabelled_sample[: args.show]:
            where = f"cell {item['cell']}:{item['line']}" if item["cell"] is not None else str(item["line"])
            print(f"  {item['key']}\n    {item['path']}:{where}: {item['text'][:110]}")
        for item in r.unlabelled_sample:
            entry = {
                "key": item["key"],
                "label": "",
                "reason": "",
                "line": item["line"],
                "text": item["text"],
            }
            if item["cell"] is not None:
                entry["cell"] = item["cell"]
            todo.append(json.dumps(entry))
            if args.todo:
                context = _context(roots[item["project"]], item["path"], item["line"], cell=item["cell"])
                where = (
                    f"cell {item['cell']}:{item['line']}" if item["cell"] is not None else str(item["line"])
                )
                todo.append(f"# {item['project']}/{item['path']}:{where}  {item['message'][:200]}\n{context}")
    RESULTS.mkdir(exist_ok=True)
    name = "precision-quick" if args.quick else "precision"
    if args.todo and todo:
        todo_path = cache / f"todo-{name}.txt"  # beside the corpus: never committed
        todo_path.write_text("\n".join(todo) + "\n", encoding="utf-8")
        print(f"\nunlabelled sample with context: {todo_path}")
    out = {
        "corpus_version": version,
        "commit": commit,
        "quick": args.quick,
        "projects": per_project,
        "files": total_files,
        "lines": total_lines,
        "rules": {k: dataclasses.asdict(v) for k, v in results.items()},
        "raised": [dataclasses.asdict(e) for e in raised],
        "fixes": [c.as_json() for c in fix_checks] if fix_checks else None,
        "failures": failures,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    if failures:
        print(f"\nFAILED ({len(failures)}):", file=sys.stderr)
        for failure in failures[:60]:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print("\nprecision: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
