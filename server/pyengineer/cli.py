"""The `pyengineer` command line: thin wiring from arguments to the engine."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pyengineer import __version__
from pyengineer.errors import ConfigError, PyengineerError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def _check(args: argparse.Namespace) -> int:
    from pyengineer.actions.edits import apply_edits_to_files
    from pyengineer.checking import check_paths
    from pyengineer.reporting import render_json, render_sarif, render_text

    overrides: dict[str, object] = {}
    if args.select is not None:
        overrides["select"] = args.select
    if args.ignore is not None:
        overrides["ignore"] = args.ignore
    paths = [Path(p) for p in args.paths] or [Path.cwd()]
    for path in paths:
        if not path.exists():
            print(f"pyengineer: {path}: no such file or folder", file=sys.stderr)
            return EXIT_ERROR
    projects = check_paths(paths, overrides or None)
    findings = [f for p in projects for f in p.findings]
    if args.fix:
        from pyengineer.actions.fixing import safe_fix_edits

        linked = sorted({f.path for f in findings if f.fixes and Path(f.path).is_symlink()})
        for link in linked:
            # Fixes are never written through a link (docs/security.md); the file it points to has its own.
            print(f"pyengineer: {link}: is a symbolic link; its fixes are not applied", file=sys.stderr)
        edits, fixed = safe_fix_edits(f for f in findings if f.path not in linked)
        if edits:
            apply_edits_to_files(edits, [p.root for p in projects])
            # Report what is left after fixing, as ruff does.
            projects = check_paths(paths, overrides or None)
            findings = [f for p in projects for f in p.findings]
            print(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.", file=sys.stderr)
    render = {"text": render_text, "json": render_json, "sarif": render_sarif}[args.format]
    sys.stdout.write(render(findings))
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _context(args: argparse.Namespace) -> int:
    from pyengineer.config import load_settings
    from pyengineer.workspace.context import build_context
    from pyengineer.workspace.markers import find_root

    path = Path(args.path)
    if not path.exists():
        print(f"pyengineer: {path}: no such file or folder", file=sys.stderr)
        return EXIT_ERROR
    root = find_root(path)
    context = build_context(root, load_settings(root))
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


def build_parser(serving: bool = False) -> argparse.ArgumentParser:
    """The command line parser. `serving`: for `pyengineer serve`, whose start-up time editors wait on, the
    commands that import the agent and the test runner are left out (they are not needed to serve)."""
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
        description="Check Python files like `ruff check`: exit 0 when clean, 1 with findings, 2 on errors.",
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

    try:
        from pyengineer.agent import ask_command
    except ImportError:
        pass
    else:
        ask = commands.add_parser(
            "ask",
            help="ask the python-engineer agent (Claude) a question about your code",
            description="Ask the python-engineer agent; proposed edits are shown as a diff.",
        )
        ask_command.configure_parser(ask)
        ask.set_defaults(run=ask_command.run)

    from pyengineer.actions import test_command

    test = commands.add_parser(
        "test",
        help="run the project's tests with pytest and show failures where they happened",
        description="Run pytest in the project's interpreter: exit 0 when tests pass, 1 on failures, 2 on errors.",
    )
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
    parser = build_parser(serving=arguments[:1] == ["serve"])
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
