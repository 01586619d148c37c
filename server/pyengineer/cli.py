"""The `pyengineer` command line: thin wiring from arguments to the engine."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyengineer import __version__
from pyengineer.errors import ConfigError, PyengineerError

if TYPE_CHECKING:
    from pyengineer.checking import ProjectCheck
    from pyengineer.engine.analyze import RuleFailure

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: str) -> list[str]:
    from pyengineer.engine.registry import unknown_code

    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    for code in codes:
        problem = unknown_code(code)
        if problem is not None:  # a typo would otherwise select nothing, or fail on the code's spelling
            raise argparse.ArgumentTypeError(problem)
    return codes


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number of 1 or more, got {value}")
    return number


def _check(args: argparse.Namespace) -> int:
    from pyengineer.checking import changed_paths, check_paths
    from pyengineer.reporting import render_json, render_sarif, render_text

    overrides: dict[str, object] = {}
    if args.select is not None:
        overrides["select"] = args.select
    if args.ignore is not None:
        overrides["ignore"] = args.ignore
    if args.fail_on is not None:
        overrides["fail_on"] = args.fail_on
    paths = [Path(p) for p in args.paths] or [Path.cwd()]
    for path in paths:
        if not path.exists():
            print(f"pyengineer: {path}: no such file or folder", file=sys.stderr)
            return EXIT_ERROR
    # With --add-baseline every finding is wanted (the baseline is rewritten from them), not only new ones.
    use_baseline = not args.add_baseline
    speed: dict[str, Any] = {"jobs": args.jobs, "use_cache": not args.no_cache}
    if args.changed is not None:
        from pyengineer.git.changes import changed_files, is_commit

        ref = args.changed or None
        if ref is not None and Path(ref).exists() and not is_commit(Path.cwd(), ref):
            # `check --changed src/`: argparse took the folder for REF.
            paths = [Path(ref), *(paths if args.paths else [])]
            ref = None
        speed["only"] = frozenset().union(*(changed_files(p, ref)[1] for p in paths))
    projects = check_paths(
        paths, overrides or None, use_baseline=use_baseline, keep_files=args.add_baseline, **speed
    )
    if args.fix:
        from pyengineer.actions.edits import apply_edits_to_files
        from pyengineer.actions.fixing import safe_fix_edits

        all_findings = [f for p in projects for f in p.findings]
        linked = sorted({f.path for f in all_findings if f.fixes and Path(f.path).is_symlink()})
        for link in linked:
            # Fixes are never written through a link (docs/security.md); the file it points to has its own.
            print(f"pyengineer: {link}: is a symbolic link; its fixes are not applied", file=sys.stderr)
        edits, fixed = safe_fix_edits(f for f in all_findings if f.path not in linked)
        go_on = _may_fix_here(projects, {e.path for e in edits}, args.allow_protected_branch)
        if go_on is None:
            return EXIT_ERROR
        if edits and go_on:
            changed_before = set().union(*(changed_paths(p.context) for p in projects))
            written = set(apply_edits_to_files(edits, [p.root for p in projects]))
            # Report what is left after fixing, as ruff does. The files --fix wrote are not the user's change:
            # on a protected branch they must not come back as PE101.
            ours = frozenset(os.path.normpath(p) for p in written) - changed_before
            projects = check_paths(
                paths,
                overrides or None,
                use_baseline=use_baseline,
                unchanged=ours,
                keep_files=args.add_baseline,
                **speed,
            )
            print(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.", file=sys.stderr)
    failures = [f for p in projects for f in p.failures]
    for failure in failures:
        print(f"pyengineer: error: {failure.describe()}", file=sys.stderr)
    problems = [problem for p in projects for problem in p.problems]
    for problem in problems:
        print(f"pyengineer: error: {problem}", file=sys.stderr)
    for note in (n for p in projects for n in p.notes):
        print(f"pyengineer: {note}", file=sys.stderr)
    if args.add_baseline:
        return _write_baselines(projects, failures)
    findings = [f for p in projects for f in p.findings]
    baselined = sum(p.baselined for p in projects)
    render = {"text": render_text, "json": render_json, "sarif": render_sarif}[args.format]
    sys.stdout.write(render(findings, failures, baselined, problems))
    if failures or problems:
        return EXIT_ERROR
    failing = any(f.severity.rank >= p.settings.fail_on.rank for p in projects for f in p.findings)
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def _write_baselines(projects: Sequence[ProjectCheck], failures: Sequence[RuleFailure]) -> int:
    from pyengineer.baseline import write_baseline

    if failures:
        # A rule that did not run found nothing: recording that would let its findings in unseen later.
        print("pyengineer: the baseline was not written because a rule failed to run.", file=sys.stderr)
        return EXIT_ERROR
    for project in projects:
        checked = {f.relative for f in project.files}
        path, count = write_baseline(project.root, project.settings, project.files, checked)
        print(f"Recorded {count} finding{'s' if count != 1 else ''} in {path}.", file=sys.stderr)
    return EXIT_CLEAN


def _may_fix_here(projects: Sequence[ProjectCheck], paths: set[str], allowed: bool) -> bool | None:
    """Whether --fix may write `paths`: True to go on, False to report without fixing, None to exit 2.

    python-engineer discipline: code is not changed on a protected branch without asking. In a terminal the
    user chooses (create a feature branch, go on, or stop); without one the fix is refused, with the reason,
    unless --allow-protected-branch says go on.
    """
    for project in projects:
        git = project.context.git
        mine = sorted(p for p in paths if Path(p).is_relative_to(project.root))
        if allowed or not mine or not (git.protected and git.branch):
            continue
        name = _fix_branch_name(project, mine)
        where = f"the protected branch '{git.branch}' of {project.root}"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            print(
                f"pyengineer: --fix would change {_count_files(mine)} on {where}; nothing was changed. "
                f"Create a feature branch first (git switch -c {name}), or pass --allow-protected-branch.",
                file=sys.stderr,
            )
            return None
        print(
            f"--fix would change {_count_files(mine)} on {where}:\n"
            f"  [b] create the branch '{name}' and fix there (uncommitted changes come along)\n"
            f"  [g] go on and fix on '{git.branch}'\n"
            "  [s] stop: change nothing",
            file=sys.stderr,
        )
        print("Choice [b/g/s] (s): ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer in ("b", "branch"):
            from pyengineer.git.branching import create_branch

            create_branch(project.root, name)  # GitSafetyError (exit 2) when it cannot be done safely
            print(f"Switched to the new branch '{name}'.", file=sys.stderr)
        elif answer not in ("g", "go", "go on"):
            print("Stopped: nothing was changed.", file=sys.stderr)
            return False
    return True


def _count_files(paths: Sequence[str]) -> str:
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''}"


def _fix_branch_name(project: ProjectCheck, paths: Sequence[str]) -> str:
    """A fix/ branch named after the one file being fixed, or after the fixes when there are several."""
    from pyengineer.git.naming import make_unique, suggest_branch_names
    from pyengineer.workspace.ignore import relative_posix

    branches = project.context.git.branches
    if len(paths) == 1:
        names = suggest_branch_names(relative_posix(project.root, Path(paths[0])), (), branches, fix=True)
        if names:
            return names[0]
    return make_unique("fix/pyengineer-fixes", branches)


def _context(args: argparse.Namespace) -> int:
    # A one-shot run that builds many objects and frees them by reference counting (the imports' classes
    # and schemas, a FileScan per file): the collector's passes over them buy nothing (a few percent of the
    # run), and frozen objects are not written by a pass in the scan's forked workers either. What is alive
    # at the end is frozen too: the interpreter's exit then skips its last collection over all of it (about
    # 40 ms). A caller that runs the command in its own process (the tests do) gets its thresholds back.
    thresholds = gc.get_threshold()
    tune_garbage_collector()
    try:
        return _print_context(args)
    finally:
        gc.freeze()
        gc.set_threshold(*thresholds)


def _print_context(args: argparse.Namespace) -> int:
    from pyengineer.config import load_settings
    from pyengineer.workspace.context import build_context
    from pyengineer.workspace.markers import find_root

    path = Path(args.path)
    if not path.exists():
        print(f"pyengineer: {path}: no such file or folder", file=sys.stderr)
        return EXIT_ERROR
    root = find_root(path)
    context = build_context(root, load_settings(root), jobs=None)
    if args.json:
        print(json.dumps(context.model_dump(mode="json"), indent=2))
        return EXIT_CLEAN
    from pyengineer.context_summary import summarize

    sys.stdout.write(summarize(context))
    return EXIT_CLEAN


def _serve(args: argparse.Namespace) -> int:
    from pyengineer.lsp.server import serve

    tune_garbage_collector()
    code: int = serve(tcp=args.tcp, allow_remote=args.allow_remote, log_file=args.log_file)
    return code


def _guard(args: argparse.Namespace) -> int:
    from pyengineer import guard

    if args.git_hook:
        return guard.run_git_hook()
    if args.install is None:
        return guard.run_hook()
    root = Path(args.path).resolve()
    from pyengineer.git.head import find_git_dir

    found = find_git_dir(root)
    project = found[0] if found is not None else root
    try:
        path, changed = guard.install_claude(project)
    except guard.InstallError as exc:
        print(f"pyengineer: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if changed:
        print(f"Added the pyengineer guard to {path} (PreToolUse: {guard.HOOK_MATCHER}).")
    else:
        print(f"{path} already runs the pyengineer guard; nothing changed.")
    return EXIT_CLEAN


def _branch(args: argparse.Namespace) -> int:
    from pyengineer.config import load_settings
    from pyengineer.git.head import find_git_dir
    from pyengineer.git.rescue import move_commits_off_protected_branch

    found = find_git_dir(Path(args.path).resolve())
    if found is None:
        print(f"pyengineer: {args.path} is not inside a git repository", file=sys.stderr)
        return EXIT_ERROR
    root = found[0]
    moved = move_commits_off_protected_branch(
        root, args.move_commits or None, load_settings(root).protected_branches
    )
    count = len(moved.commits)
    print(
        f"Moved {count} commit{'s' if count != 1 else ''} off {moved.protected_branch} to {moved.branch} "
        f"(now checked out); {moved.protected_branch} is back at {moved.upstream} ({moved.new_tip[:7]}). "
        f"Your working tree and index are unchanged; the old tip {moved.old_tip[:7]} is in the reflog."
    )
    return EXIT_CLEAN


def _mcp(args: argparse.Namespace) -> int:
    from pyengineer.mcp.server import run

    return run(http=args.http, host=args.host, allow_remote=args.allow_remote, trusted=args.trust)


def tune_garbage_collector() -> None:
    """GC settings for the long-running server, measured with bench/run (keystroke p50 1.5x, p95 4x faster).

    One analysis of a 5,000-line file allocates some 10^5 AST nodes, and with CPython's default threshold (700)
    the cyclic collector runs hundreds of times during it, its older generations walking the whole heap (the
    workspace index, every imported module). Freezing what start-up built takes that out of every pass (the
    server freezes again once the handler modules it imports after `initialize` are in), and a larger first
    threshold lets a parse finish between passes. Trees and findings hold no reference cycles:
    reference counting frees them either way.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def build_parser(serving: bool = False, command: str | None = None) -> argparse.ArgumentParser:
    """The command line parser. `serving`: for `pyengineer serve`, whose start-up time editors wait on, the
    commands that import the agent and the test runner are left out (they are not needed to serve).
    `command`: the subcommand about to run; `ask` and `test` get their full options only when named there."""
    parser = argparse.ArgumentParser(
        prog="pyengineer",
        description="A Git-aware Python engineering assistant: checks, project context, and an LSP daemon.",
    )
    parser.add_argument("--version", action="version", version=f"pyengineer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    check = commands.add_parser(
        "check",
        help="check files or folders and print findings (exit 1 when something is found)",
        description=(
            "Check Python files like ruff check: exit 0 when clean (or only info and hints), 1 with findings "
            "at the --fail-on severity or above, 2 on errors (bad options or configuration, a broken baseline, "
            "a rule that failed to run)."
        ),
    )
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: the current folder)"
    )
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output format")
    check.add_argument(
        "--select", type=_codes, metavar="CODES", help="only these rule codes or prefixes (PE1,PE201)"
    )
    check.add_argument("--ignore", type=_codes, metavar="CODES", help="skip these rule codes or prefixes")
    check.add_argument("--fix", action="store_true", help="apply the safe fixes")
    check.add_argument(
        "--fail-on",
        type=str.lower,
        choices=("error", "warning", "info"),
        metavar="SEVERITY",
        help="exit 1 only for findings at this severity or above: error, warning (the default) or info",
    )
    check.add_argument(
        "--add-baseline",
        action="store_true",
        help="record today's findings in the baseline file; later runs report only new ones",
    )
    check.add_argument(
        "--allow-protected-branch",
        action="store_true",
        help="let --fix change files on a protected branch without asking",
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="analyse every file again, without reading or writing the results cache",
    )
    check.add_argument(
        "--changed",
        nargs="?",
        const="",
        metavar="REF",
        help="only the Python files changed since REF (default: the merge base with the default branch), "
        "staged, unstaged and untracked ones included",
    )
    check.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="processes to check with (default: one per core; 1 checks in this process)",
    )
    check.set_defaults(run=_check)

    context = commands.add_parser(
        "context",
        help="describe the project: markers, package manager, frameworks, ML files, git branch",
        description="Describe the project containing PATH (default: the current folder).",
    )
    context.add_argument("path", nargs="?", default=".", metavar="PATH")
    context.add_argument("--json", action="store_true", help="print the context as JSON")
    context.set_defaults(run=_context)

    serve = commands.add_parser(
        "serve",
        help="run the language server for editors",
        description=(
            "Run the pyengineer language server. By default it speaks LSP over stdio, which is what editors "
            "expect when they start the server themselves. With --tcp it listens on a TCP port instead "
            "(loopback only unless --allow-remote is given)."
        ),
    )
    serve.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (the default)")
    serve.add_argument(
        "--tcp",
        metavar="[HOST:]PORT",
        help="listen on TCP instead of stdio; HOST defaults to 127.0.0.1",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --tcp to bind a non-loopback address (anyone who can reach it can read your code)",
    )
    serve.add_argument("--log-file", metavar="FILE", help="also write the server log to FILE")
    serve.set_defaults(run=_serve)
    if serving:
        return parser

    guard = commands.add_parser(
        "guard",
        help="branch safety for coding agents: a Claude Code PreToolUse hook (reads the hook JSON on stdin)",
        description=(
            "Run as a Claude Code PreToolUse hook: on a protected branch, deny file edits inside the repository "
            "and git commands that commit, push, reset or rebase a protected branch. With --install claude, add "
            "the hook to .claude/settings.json of the repository (merged, idempotent)."
        ),
    )
    guard.add_argument("--install", choices=("claude",), help="add the hook to the agent's project settings")
    guard.add_argument("--path", default=".", help="the project for --install (default: the current folder)")
    guard.add_argument(
        "--git-hook",
        action="store_true",
        help="run as a git pre-commit/pre-push hook: exit 1 on a protected branch (the pre-commit framework's "
        "pyengineer-protected-branch hook)",
    )
    guard.set_defaults(run=_guard)

    branch = commands.add_parser(
        "branch",
        help="branch rescue: move commits made on a protected branch onto a feature branch",
        description=(
            "With --move-commits [NAME]: create NAME (default: a suggested feature branch) at HEAD, check it out, "
            "and move the protected branch back to its upstream. The working tree and index stay exactly as "
            "they are; nothing changes when it cannot be done safely."
        ),
    )
    branch.add_argument(
        "--move-commits",
        nargs="?",
        const="",
        metavar="NAME",
        required=True,
        help="the feature branch to create",
    )
    branch.add_argument(
        "--path", default=".", help="a folder inside the repository (default: the current one)"
    )
    branch.set_defaults(run=_branch)

    mcp = commands.add_parser(
        "mcp",
        help="run the Model Context Protocol server for coding agents (stdio; --http PORT for streamable HTTP)",
        description="Serve pyengineer's tools (branch safety, checks, tests, hand-offs) to MCP clients.",
    )
    mcp.add_argument("--http", type=int, metavar="PORT", help="streamable HTTP on PORT instead of stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="the address for --http (default: 127.0.0.1)")
    mcp.add_argument("--allow-remote", action="store_true", help="allow --host to be a non-loopback address")
    mcp.add_argument(
        "--trust", action="store_true", help="the workspace's code may run: enables the run_tests tool"
    )
    mcp.set_defaults(run=_mcp)

    # `ask` and `test` take their options from their own modules, which import the agent, pydantic models and
    # the test runner (~0.5 s): they are imported only to run (or explain) that command. `pyengineer --help`
    # lists both from the help strings here.
    ask_help = "ask the python-engineer agent (Claude) a question about your code"
    if command == "ask":
        try:
            from pyengineer.agent import ask_command
        except ImportError:
            pass
        else:
            ask = commands.add_parser(
                "ask",
                help=ask_help,
                description="Ask the python-engineer agent; proposed edits are shown as a diff.",
            )
            ask_command.configure_parser(ask)
            ask.set_defaults(run=ask_command.run)
    else:
        commands.add_parser("ask", help=ask_help)
    test = commands.add_parser(
        "test",
        help="run the project's tests with pytest and show failures where they happened",
        description=(
            "Run pytest in the project's interpreter: exit 0 when tests pass, 1 on failures, 2 on errors, "
            "5 (as pytest) when no tests were collected (--allow-no-tests makes that 0)."
        ),
    )
    if command == "test":
        from pyengineer.actions import test_command

        test_command.configure_parser(test)
        test.set_defaults(run=test_command.run)

    return parser


class _StderrWarnings(logging.Handler):
    """Warnings of the engine (a file skipped as too large or not a regular file, a rule that failed) as
    `pyengineer: ...` lines on stderr; written to the current sys.stderr, so in-process runs capture them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"pyengineer: {record.getMessage()}\n")
        except (OSError, ValueError):
            pass


def _warnings_to_stderr() -> None:
    logger = logging.getLogger("pyengineer")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings(logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(serving=arguments[:1] == ["serve"], command=first)
    args = parser.parse_args(arguments)
    if args.command != "serve":  # the server sends its warnings to the editor
        _warnings_to_stderr()
    try:
        code: int = args.run(args)
        return code
    except ConfigError as exc:
        print(f"pyengineer: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except PyengineerError as exc:
        print(f"pyengineer: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
