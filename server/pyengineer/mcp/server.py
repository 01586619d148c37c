"""`pyengineer mcp`: pyengineer's branch safety, checks, tests and hand-offs as Model Context Protocol tools.

Thin wiring on the official `mcp` SDK (2.x, `MCPServer`): each tool validates its arguments with the SDK's
pydantic model of the function signature (a bad argument is a tool error naming the field, before anything
runs), calls the same engine, git and action code as the editor and the CLI in a worker thread, and returns a
pydantic model, which the SDK publishes as the tool's output schema and sends as structured content.

Workspace roots: the client's roots when it offers them (`roots/list`), else the folder the server was started
in. Every path argument must resolve inside one of them.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from pyengineer import __version__
from pyengineer.errors import PyengineerError
from pyengineer.git.rescue import MovedCommits
from pyengineer.workspace.context import WorkspaceContext

INSTRUCTIONS = """\
pyengineer keeps a senior Python engineer's discipline around your edits. Before you change code, call
branch_status: if the branch is protected (main, master, develop...), call create_feature_branch first (it keeps
every uncommitted change). If commits were already made on a protected branch, move_commits_off_protected_branch
puts them on a feature branch. Use check for findings with fixes, run_tests for the project's tests (three
failed fix attempts on one test escalate to senior review), and write_handoff for ML model code, which belongs to
the ai-engineer role."""

T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class BranchStatus(_Out):
    repository: str | None = Field(description="the repository's top folder, null outside git")
    branch: str | None = Field(description="the checked-out branch, null when detached or outside git")
    detached: bool
    unborn: bool = Field(description="no commit yet")
    protected: bool
    protected_reason: str | None = Field(description="why the branch counts as protected, if it does")
    dirty: int = Field(description="tracked files with staged or unstaged changes")
    untracked: int
    upstream: str | None
    ahead: int = Field(description="commits on the branch that its upstream lacks")
    behind: int
    operation: str | None = Field(description="a merge, rebase... in progress")
    suggested_branches: list[str] = Field(description="feature-branch names for the files being changed")
    advice: str


class BranchCreated(_Out):
    branch: str
    previous: str = Field(description="the branch (or short commit) checked out before")
    carried_changes: int = Field(description="uncommitted and untracked files carried over, byte for byte")


class FixOut(_Out):
    title: str
    safe: bool
    command: str | None
    arguments: list[Any]
    edits: list[dict[str, Any]]


class FindingOut(_Out):
    code: str
    name: str | None
    message: str
    detail: str = Field(default="", description="why it matters and how to fix it (Markdown)")
    severity: str
    path: str
    cell: int | None = Field(
        default=None,
        description="in a notebook: the cell's number (1-based, every cell counted); start and end are in it",
    )
    start: dict[str, int]
    end: dict[str, int]
    url: str | None
    fixes: list[FixOut]


class CheckResult(_Out):
    files_checked: int
    findings: list[FindingOut]
    summary: str


class RuleDoc(_Out):
    code: str
    name: str
    summary: str
    default_severity: str
    url: str
    documentation: str


class TestFailureOut(_Out):
    __test__ = False

    test_id: str
    kind: str
    message: str
    test_file: str | None
    test_line: int | None
    app_file: str | None
    app_line: int | None
    attempts: int = Field(description="runs in a row in which this test failed")
    needs_senior_review: bool


class TestsResult(_Out):
    __test__ = False

    ok: bool
    summary: str = Field(description='the counts, or "no tests ran: <reason>" when no test ran')
    ran: bool = Field(description="false when no test ran (see no_tests_reason); the counts are then all 0")
    no_tests_reason: str | None
    passed: int
    failed: int
    errors: int
    skipped: int
    message: str | None
    failures: list[TestFailureOut]
    escalations: list[FindingOut] = Field(
        description="PE902: the tests whose budget of three attempts is spent"
    )


class Handoff(_Out):
    path: str
    text: str


# ------------------------------------------------------------------------------------------------- the roots


def _uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


async def workspace_roots(ctx: Context | None, fallback: Path) -> list[Path]:
    """The client's roots when it declares the capability and answers, else `fallback`."""
    capabilities = ctx.client_capabilities if ctx is not None else None
    if ctx is not None and capabilities is not None and capabilities.roots is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # roots are deprecated from protocol 2026-07-28 on
                listed = await ctx.session.list_roots()
        except Exception:  # no back channel, or the client failed: the working folder still serves
            listed = None
        if listed is not None:
            roots = [p.resolve() for p in (_uri_path(str(r.uri)) for r in listed.roots) if p is not None]
            if roots:
                return roots
    return [fallback.resolve()]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


async def resolve_path(ctx: Context | None, fallback: Path, path: str | None) -> tuple[Path, list[Path]]:
    """An argument path, resolved and confined to the workspace roots (default: the first root)."""
    roots = await workspace_roots(ctx, fallback)
    if path is None or path == "":
        return roots[0], roots
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    candidate = candidate.resolve()
    if not _inside(candidate, roots):
        raise ToolError(f"path: {path} is outside the workspace ({', '.join(map(str, roots))})")
    if not candidate.exists():
        raise ToolError(f"path: {path} does not exist")
    return candidate, roots


async def _run(function: Callable[..., T], *args: Any) -> T:
    """Blocking work (git, disk, the engine, pytest) off the event loop; our refusals become tool errors."""
    try:
        return await anyio.to_thread.run_sync(lambda: function(*args))
    except PyengineerError as exc:
        raise ToolError(str(exc)) from None


# ------------------------------------------------------------------------------------------------- the tools


class _Attempts:
    """The three-try budget, per workspace root: a test failing in consecutive runs counts one attempt each."""

    def __init__(self) -> None:
        from pyengineer.testing.attempts import FixAttempts

        self._lock = threading.Lock()
        self._by_root: dict[Path, FixAttempts] = {}
        self._factory = FixAttempts

    def for_root(self, root: Path) -> Any:
        with self._lock:
            return self._by_root.setdefault(root, self._factory())


def _project(path: Path) -> Any:
    from pyengineer.checking import load_project
    from pyengineer.workspace.markers import find_root

    root = find_root(path)
    settings, context = load_project(root)
    return root, settings, context


def _branch_status(path: Path, files: list[str]) -> BranchStatus:
    from pyengineer.config import load_settings
    from pyengineer.git.naming import suggest_branch_names
    from pyengineer.git.state import read_git_state
    from pyengineer.workspace.markers import find_root

    settings = load_settings(find_root(path))
    git = read_git_state(path, settings.protected_branches)
    changing = files or list(git.changed_files)
    python = [f for f in changing if f.endswith(".py")] or changing
    suggestions = suggest_branch_names(python[0] if python else None, (), git.branches) if git.is_repo else []
    if not git.is_repo:
        advice = "Not a git repository: there is no branch to protect."
    elif git.protected:
        advice = f"'{git.branch}' is protected: call create_feature_branch before changing code" + (
            f" (suggested: {suggestions[0]})." if suggestions else "."
        )
        if git.ahead:
            advice += (
                f" It already has {git.ahead} commit(s) that {git.upstream} lacks: "
                "move_commits_off_protected_branch puts them on a feature branch."
            )
    elif git.detached:
        advice = "HEAD is detached: create a branch before committing."
    else:
        advice = f"'{git.branch}' is not protected: changing code here is fine."
    reason = None
    if git.protected:
        pattern = git.protected_pattern
        reason = (
            f"it matches the protected-branch pattern '{pattern}'"
            if pattern != git.branch
            else f"'{pattern}' is listed in protected-branches"
        )
    carried = {
        "branch",
        "detached",
        "unborn",
        "protected",
        "dirty",
        "untracked",
        "upstream",
        "ahead",
        "behind",
    }
    return BranchStatus(
        **git.model_dump(include=carried | {"operation"}),
        repository=git.toplevel,
        protected_reason=reason,
        suggested_branches=suggestions,
        advice=advice,
    )


def _create_branch(path: Path, name: str | None) -> BranchCreated:
    from pyengineer.git.branching import create_branch
    from pyengineer.git.state import read_git_state

    status = _branch_status(path, [])
    if name is None:
        if not status.suggested_branches:
            raise ToolError("name: no branch name could be suggested here; pass one")
        name = status.suggested_branches[0]
    git = read_git_state(path)
    previous = create_branch(path, name)
    return BranchCreated(branch=name, previous=previous, carried_changes=git.dirty + git.untracked)


def _move_commits(path: Path, name: str | None) -> MovedCommits:
    from pyengineer.config import load_settings
    from pyengineer.git.rescue import move_commits_off_protected_branch
    from pyengineer.workspace.markers import find_root

    settings = load_settings(find_root(path))
    return move_commits_off_protected_branch(path, name, settings.protected_branches)


def _findings_out(findings: list[Any]) -> list[FindingOut]:
    from pyengineer.reporting import finding_json

    return [FindingOut.model_validate(finding_json(f)) for f in findings]


def _check(targets: list[Path], select: list[str] | None, ignore: list[str] | None) -> CheckResult:
    from pyengineer.checking import check_paths

    overrides: dict[str, object] = {}
    if select:
        overrides["select"] = [c.upper() for c in select]
    if ignore:
        overrides["ignore"] = [c.upper() for c in ignore]
    projects = check_paths(targets, overrides or None)
    findings = [f for p in projects for f in p.findings]
    files = sum(p.files_checked for p in projects)
    summary = f"{len(findings)} finding(s) in {files} file(s)" if findings else f"All {files} file(s) passed."
    return CheckResult(files_checked=files, findings=_findings_out(findings), summary=summary)


def rules_documentation() -> str:
    """docs/rules.md: packaged with the wheel, or read from the source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_docs" / "rules.md", here.parent.parent / "docs" / "rules.md"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return ""


def rule_section(code: str) -> str:
    text = rules_documentation()
    marker = f"## {code} "
    start = text.find(marker)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(marker))
    return text[start : end if end >= 0 else len(text)].strip()


def _explain(code: str) -> RuleDoc:
    from pyengineer.engine.registry import load_rules

    rules = load_rules()
    rule = rules.get(code.strip().upper())
    if rule is None:
        raise ToolError(f"code: unknown rule {code!r}; known: {', '.join(sorted(rules))}")
    return RuleDoc(
        code=rule.code,
        name=rule.name,
        summary=rule.summary,
        default_severity=rule.severity.value,
        url=rule.url,
        documentation=rule_section(rule.code) or rule.summary,
    )


def _run_tests(path: Path, target: str | None, attempts: Any) -> TestsResult:
    from pyengineer.config import load_settings
    from pyengineer.engine.rules.failing_tests import failure_findings
    from pyengineer.testing.interpreter import default_fallback
    from pyengineer.testing.results import Scope
    from pyengineer.testing.runner import run_tests
    from pyengineer.workspace.markers import find_root

    root = find_root(path)
    settings = load_settings(root)
    scope = Scope.PROJECT if target is None else Scope.FILE
    run = run_tests(root, scope, target, settings, trusted=True, fallback_interpreter=default_fallback())
    failing = {f.test_id for f in run.failures}
    for failure in run.failures:
        attempts.record(failure.test_id, "a fix between runs", failure.message)
    for test_id, outcome in run.outcomes.items():
        if outcome == "passed" and test_id not in failing:
            attempts.forget(test_id)
    escalations = [
        f
        for findings in failure_findings(run, attempts, settings).values()
        for f in findings
        if f.code == "PE902"
    ]
    return TestsResult(
        ok=run.ok,
        summary=run.summary(),
        ran=run.ran,
        no_tests_reason=run.no_tests_reason,
        passed=run.passed,
        failed=run.failed,
        errors=run.errors,
        skipped=run.skipped,
        message=run.message,
        failures=[
            TestFailureOut(
                test_id=f.test_id,
                kind=f.kind,
                message=f.message,
                test_file=f.test_file,
                test_line=f.test_line,
                app_file=f.app_file,
                app_line=f.app_line,
                attempts=attempts.count(f.test_id),
                needs_senior_review=attempts.needs_review(f.test_id),
            )
            for f in run.failures
        ],
        escalations=_findings_out(escalations),
    )


def _handoff(path: Path) -> Handoff:
    from pyengineer.actions.handoff import write_handoff
    from pyengineer.engine.source import ParsedSource

    if not path.is_file() or path.suffix != ".py":
        raise ToolError(f"file: {path} is not a Python file")
    root, settings, context = _project(path)
    from pyengineer.workspace.safe_io import MAX_SOURCE_BYTES, read_text

    try:
        text = read_text(path, MAX_SOURCE_BYTES)
    except OSError as exc:
        raise ToolError(f"file: {exc}") from None
    source = ParsedSource(str(path), text, path.relative_to(root).as_posix())
    try:
        written = write_handoff(source, context, set(settings.all_ml_libraries), settings.handoff_dir)
    except (OSError, ValueError) as exc:
        raise ToolError(f"could not write the hand-off document: {exc}") from None
    return Handoff(path=str(written), text=read_text(written, MAX_SOURCE_BYTES))


def build_server(cwd: Path | None = None, trusted: bool = False) -> MCPServer:
    """The MCP server with every tool and resource; `trusted`: the workspace's code may run (run_tests)."""
    fallback = (cwd or Path.cwd()).resolve()
    attempts = _Attempts()
    server: MCPServer = MCPServer(
        name="pyengineer", title="pyengineer", version=__version__, instructions=INSTRUCTIONS
    )

    @server.tool()
    async def project_context(ctx: Context, path: str | None = None) -> WorkspaceContext:
        """What kind of Python project this is: markers, package manager, frameworks, the files that import
        ML libraries, and the git state. Call it once at the start to learn the project."""
        target, _ = await resolve_path(ctx, fallback, path)
        _, _, context = await _run(_project, target)
        result: WorkspaceContext = context
        return result

    @server.tool()
    async def branch_status(
        ctx: Context, path: str | None = None, files: list[str] | None = None
    ) -> BranchStatus:
        """Call BEFORE changing code: the branch, whether it is protected and why, uncommitted and untracked
        counts, ahead/behind its upstream, and suggested feature-branch names for `files` (relative paths of
        the files you are about to change; default: the files already changed)."""
        target, _ = await resolve_path(ctx, fallback, path)
        return await _run(_branch_status, target, list(files or []))

    @server.tool()
    async def create_feature_branch(
        ctx: Context, name: str | None = None, path: str | None = None
    ) -> BranchCreated:
        """Create and check out a feature branch (default name: the suggested one), carrying every
        uncommitted and untracked change byte for byte. Refuses, changing nothing, with the reason (name taken
        or invalid, a merge or rebase in progress, a git lock held)."""
        target, _ = await resolve_path(ctx, fallback, path)
        return await _run(_create_branch, target, name)

    @server.tool()
    async def move_commits_off_protected_branch(
        ctx: Context, name: str | None = None, path: str | None = None
    ) -> MovedCommits:
        """When commits were made on a protected branch and not pushed: put them on a new feature branch
        `name` (checked out), and move the protected branch back to its upstream. The working tree and index
        stay exactly as they are. Refuses, changing nothing, when there is no upstream, nothing unpushed, a git
        operation in progress, or the name exists."""
        target, _ = await resolve_path(ctx, fallback, path)
        return await _run(_move_commits, target, name)

    @server.tool()
    async def check(
        ctx: Context,
        paths: list[str] | None = None,
        select: list[str] | None = None,
        ignore: list[str] | None = None,
    ) -> CheckResult:
        """Findings (with fixes) for files or folders (default: the whole workspace), as `pyengineer check`
        reports them, honouring the project's configuration. `select`/`ignore`: rule codes or prefixes."""
        targets = [(await resolve_path(ctx, fallback, p))[0] for p in (paths or [None])]  # type: ignore[list-item]
        return await _run(_check, targets, select, ignore)

    @server.tool()
    async def explain_rule(code: str) -> RuleDoc:
        """A rule's documentation: what it finds, why it matters, how to fix it, how to suppress it."""
        return _explain(code)

    @server.tool()
    async def run_tests(ctx: Context, target: str | None = None, path: str | None = None) -> TestsResult:
        """Run the project's tests with pytest (only in a trusted workspace: it runs the project's code).
        `target`: a test file or node id (default: the whole suite). Failures come with their locations; a test
        that fails three runs in a row is escalated (PE902, needs senior review): stop trying to fix it."""
        if not trusted:
            raise ToolError(
                "run_tests runs the workspace's code, and this workspace is not trusted: start the server with "
                "`pyengineer mcp --trust` to allow it"
            )
        root, _ = await resolve_path(ctx, fallback, path)
        resolved_target: str | None = None
        if target:
            file, sep, rest = target.partition("::")
            resolved_file, _ = await resolve_path(ctx, fallback, file)
            resolved_target = f"{resolved_file}{sep}{rest}"
        from pyengineer.workspace.markers import find_root

        budget = attempts.for_root(find_root(root))
        return await _run(_run_tests, root, resolved_target, budget)

    @server.tool()
    async def write_handoff(ctx: Context, file: str) -> Handoff:
        """Write (or update, keeping the notes) the ai-engineer hand-off document for a Python file with ML
        model code; returns its path and text. ML model code belongs to the ai-engineer role."""
        target, _ = await resolve_path(ctx, fallback, file)
        return await _run(_handoff, target)

    @server.resource("pyengineer://rules", mime_type="text/markdown")
    def rules_resource() -> str:
        """Every rule pyengineer has, with its documentation."""
        return rules_documentation()

    @server.resource("pyengineer://rules/{code}", mime_type="text/markdown")
    def rule_resource(code: str) -> str:
        """One rule's documentation."""
        return _explain(code).documentation

    @server.resource("pyengineer://context", mime_type="application/json")
    def context_resource() -> str:
        """The project context of the folder the server was started in."""
        _, _, context = _project(fallback)
        text: str = context.model_dump_json(indent=2)
        return text

    return server


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(
    http: int | None = None, host: str = "127.0.0.1", allow_remote: bool = False, trusted: bool = False
) -> int:
    if http is not None and not _loopback(host) and not allow_remote:
        print(
            f"pyengineer: refusing to serve MCP on {host}: anyone who reaches it can read your code and change "
            "your branches; pass --allow-remote if you mean it",
            file=sys.stderr,
        )
        return 2
    server = build_server(Path(os.getcwd()), trusted=trusted)
    if http is None:
        server.run()
    else:
        if not _loopback(host):
            print(f"pyengineer: warning: MCP over HTTP on non-loopback {host}", file=sys.stderr)
        server.run("streamable-http", host=host, port=http)
    return 0
