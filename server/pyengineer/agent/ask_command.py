"""`pyengineer ask [FILE[:LINE]] "question"`: the agent on the command line.

The answer streams to stdout as it is written; proposed edits are shown as a unified diff and applied only
with `--apply`. Progress, redaction counts and token usage go to stderr, so stdout stays the answer.
The API key comes from the environment only: a key on the command line would show in the process list.
On a protected branch, `--apply` first offers to create a feature branch (in a terminal) or refuses (without
one), before anything is written.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pyengineer.findings import Edit, Finding, Range
from pyengineer.lines import lines_with_ends

if TYPE_CHECKING:
    from pyengineer.workspace.context import WorkspaceContext

EXIT_OK, EXIT_LIMIT, EXIT_ERROR, EXIT_REFUSED = 0, 1, 2, 3
USAGE = "%(prog)s [-h] [--apply] [--model MODEL] [--root DIR] [--test NODEID] [FILE[:LINE]] QUESTION"
MAX_TEST_OUTPUT_CHARS = 6_000


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true", help="apply the proposed edits to the files")
    parser.add_argument("--model", help="the Claude model to use (default: [tool.pyengineer.llm] model)")
    parser.add_argument(
        "--root", metavar="DIR", help="the project root (default: found from FILE or the current folder)"
    )
    parser.add_argument(
        "--test",
        metavar="NODEID",
        help="run this pytest node id first and hand its failure (message, traceback, output) to the agent",
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.usage = USAGE
    # The words take the rest of the line, options included (`ask FILE --apply "q"`): `run` parses them
    # again, intermixed, which a parser with subcommands cannot do itself.
    parser.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="WORDS",
        help="an optional file (and 1-based line) the question is about, then the question",
    )
    _add_options(parser)
    parser.epilog = (
        "Needs ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL is honoured). Secrets are redacted before anything is "
        "sent; see docs/agent.md for exactly what is sent. Exit codes: 0 answered, 1 stopped by a limit or "
        "not applied, 2 error, 3 the model declined."
    )


def _reparse(args: argparse.Namespace) -> argparse.Namespace:
    """The words again, with options allowed anywhere among them; options given before them are kept."""
    parser = argparse.ArgumentParser(prog="pyengineer ask", usage=USAGE)
    parser.add_argument("words", nargs="*")
    _add_options(parser)
    words = list(args.words)
    del args.words
    return parser.parse_intermixed_args(words, namespace=args)


def split_target(words: Sequence[str], cwd: Path) -> tuple[Path | None, int | None, str]:
    """(file, 1-based line, question): the first word is a target only if it names an existing file."""
    if len(words) >= 2:
        first = words[0]
        name, _, line = first.rpartition(":") if ":" in first else (first, "", "")
        if line.isdigit() and name and (cwd / name).is_file():
            return (cwd / name).resolve(), int(line), " ".join(words[1:])
        if (cwd / first).is_file():
            return (cwd / first).resolve(), None, " ".join(words[1:])
    return None, None, " ".join(words)


def unified_diff(edits: Sequence[Edit], root: Path) -> str:
    """The edits as one unified diff, file by file, paths relative to root."""
    from pyengineer.actions.edits import apply_text_edits

    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    chunks: list[str] = []
    for path, file_edits in by_path.items():
        file = Path(path)
        before = file.read_text(encoding="utf-8") if file.exists() else ""
        after = apply_text_edits(before, file_edits)
        try:
            shown = file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = path
        chunks.extend(
            difflib.unified_diff(
                lines_with_ends(before),  # the file's own lines: a form feed does not end one
                lines_with_ends(after),
                fromfile=f"a/{shown}" if file.exists() else "/dev/null",
                tofile=f"b/{shown}",
            )
        )
    text = "".join(
        chunk if chunk.endswith("\n") else chunk + "\n\\ No newline at end of file\n" for chunk in chunks
    )
    return text


class _Printer:
    """Streams the answer to stdout and progress to stderr, keeping the two from running into each other."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.mid_line = False
        self.progress_shown = err.isatty()
        self.streamed: list[str] = []

    def text(self, chunk: str) -> None:
        self.streamed.append(chunk)
        self.out.write(chunk)
        self.out.flush()
        self.mid_line = not chunk.endswith("\n")

    def progress(self, step: str) -> None:
        if not self.progress_shown:
            return
        if self.mid_line:
            self.out.write("\n")
            self.mid_line = False
        self.err.write(f"... {step}\n")
        self.err.flush()

    def end_text(self) -> None:
        if self.mid_line:
            self.out.write("\n")
            self.mid_line = False


def _failing_test(root: Path, node_id: str, err: TextIO) -> tuple[str | None, Path | None, int | None]:
    """Run one test; (its failure report, the file and 1-based line to look at), or Nones when it passes."""
    from pyengineer.config import load_settings
    from pyengineer.testing.interpreter import default_fallback
    from pyengineer.testing.results import Scope
    from pyengineer.testing.runner import run_tests

    settings = load_settings(root)
    file, _, rest = node_id.partition("::")
    target = f"{(Path.cwd() / file).resolve()}::{rest}" if rest else str((Path.cwd() / file).resolve())
    print(f"... running {node_id}", file=err)
    # The user asked to run it: the CLI trusts the code it is pointed at, as `pyengineer test` does.
    run = run_tests(root, Scope.FILE, target, settings, trusted=True, fallback_interpreter=default_fallback())
    if not run.failures:
        why = run.message or run.summary()
        print(f"pyengineer ask: {node_id} did not fail ({why}); nothing to fix.", file=err)
        return None, None, None
    failure = run.failures[0]
    report = (
        f"{failure.test_id} {failure.kind}: {failure.message}\n\n{failure.details.strip()}\n\n"
        f"pytest output (tail):\n{run.output[-MAX_TEST_OUTPUT_CHARS:].strip()}"
    )
    place = failure.app_file or failure.test_file
    line = failure.app_line if failure.app_file else failure.test_line
    return report, Path(place) if place else None, line


def _confirm_branch(root: Path, context: WorkspaceContext, edits: Sequence[Edit], err: TextIO) -> bool:
    """On a protected branch, before writing: offer a feature branch in a terminal; refuse without one."""
    from pyengineer.errors import GitSafetyError
    from pyengineer.git.branching import create_branch
    from pyengineer.git.naming import suggest_branch_names

    git = context.git
    first = Path(edits[0].path).resolve() if edits else None
    relative = (
        first.relative_to(root.resolve()).as_posix()
        if first and first.is_relative_to(root.resolve())
        else None
    )
    names = suggest_branch_names(relative, existing=git.branches, fix=True) or ["fix/python-engineer"]
    if not (sys.stdin.isatty() and err.isatty()):
        print(
            f"pyengineer ask: not applied: you are on the protected branch {git.branch!r}. Create a feature "
            f"branch first (for example: git switch -c {names[0]}), then run the command again.",
            file=err,
        )
        return False
    err.write(
        f"You are on the protected branch {git.branch!r}. Create the branch {names[0]!r} (your uncommitted "
        "changes come along) and apply the edits there? [Y/n] "
    )
    err.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("", "y", "yes"):
        print("Nothing was changed.", file=err)
        return False
    try:
        previous = create_branch(root, names[0])
    except GitSafetyError as exc:
        print(f"pyengineer ask: not applied: could not create the branch {names[0]!r}: {exc}", file=err)
        return False
    print(f"Switched to the new branch {names[0]!r} (from {previous!r}).", file=err)
    return True


def run(args: argparse.Namespace) -> int:
    from pyengineer.actions.edits import apply_edits_to_files
    from pyengineer.agent.credentials import availability
    from pyengineer.agent.loop import AgentRequest, run_agent
    from pyengineer.checking import check_paths, load_project
    from pyengineer.workspace.markers import find_root

    out, err = sys.stdout, sys.stderr
    args = _reparse(args)
    cwd = Path.cwd()
    file, line, question = split_target(args.words, cwd)
    if not question.strip():
        print("pyengineer ask: the question is empty", file=err)
        return EXIT_ERROR
    root = Path(args.root).resolve() if args.root else find_root(file.parent if file else cwd)
    failing_test: str | None = None
    if args.test:
        failing_test, place, place_line = _failing_test(root, args.test, err)
        if failing_test is None:
            return EXIT_OK
        if file is None and place is not None and place.is_file():
            file, line = place, place_line
    findings: tuple[Finding, ...] = ()
    if file is not None:
        (project,) = check_paths([file]) or (None,)
        settings, context = (project.settings, project.context) if project else load_project(root)
        if project is not None and line is not None:
            findings = tuple(
                f for f in project.findings if f.range.start.line <= line - 1 <= f.range.end.line
            )
    else:
        settings, context = load_project(root)
    if args.model:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"model": args.model})})
    available, reason = availability(settings)
    if not available:
        print(f"pyengineer ask: {reason}", file=err)
        return EXIT_ERROR
    if args.apply and context.git.protected and not (sys.stdin.isatty() and err.isatty()):
        # Refused before anything is sent: the edits could not be applied here anyway.
        _confirm_branch(root, context, (), err)
        return EXIT_LIMIT

    printer = _Printer(out, err)
    result = run_agent(
        AgentRequest(
            root=root,
            question=question,
            path=str(file) if file else None,
            range=Range.of(line - 1, 0) if line else None,
            findings=findings,
            context=context.model_dump(mode="json"),
            failing_test=failing_test,
        ),
        settings,
        on_progress=printer.progress,
        on_text=printer.text,
    )
    printer.end_text()
    # A plain-text answer was streamed already; an explanation given with edits was not.
    if result.explanation.strip() and result.explanation.strip() not in "".join(printer.streamed):
        out.write(f"\n{result.explanation.strip()}\n")
    if result.edits:
        out.write("\n" + unified_diff(result.edits, root))
    if result.redactions:
        kinds = ", ".join(result.redaction_kinds)
        print(f"{result.redactions} secret(s) redacted before sending ({kinds}).", file=err)
    print(f"{result.model}: {result.usage.summary()}.", file=err)
    if result.refusal is not None:
        print(f"pyengineer ask: the model declined: {result.refusal}", file=err)
        return EXIT_REFUSED
    if result.limit is not None:
        print(f"pyengineer ask: stopped: {result.limit}.", file=err)
        return EXIT_LIMIT
    if result.edits:
        if not args.apply:
            print("Nothing was changed (with --apply, the proposed edits are applied).", file=err)
        elif context.git.protected and not _confirm_branch(root, context, result.edits, err):
            return EXIT_LIMIT
        else:
            written = apply_edits_to_files(result.edits, [root])
            print(f"Applied {len(result.edits)} edit(s) to {len(written)} file(s).", file=err)
    return EXIT_OK
