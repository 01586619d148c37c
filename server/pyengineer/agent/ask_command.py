"""`pyengineer ask [FILE[:LINE]] "question"`: the agent on the command line.

The answer streams to stdout as it is written; proposed edits are shown as a unified diff and applied only
with `--apply`. Progress, redaction counts and token usage go to stderr, so stdout stays the answer.
The API key comes from the environment only: a key on the command line would show in the process list.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pyengineer.findings import Edit, Finding, Range

EXIT_OK, EXIT_LIMIT, EXIT_ERROR = 0, 1, 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s [-h] [--apply] [--model MODEL] [--root DIR] [FILE[:LINE]] QUESTION"
    parser.add_argument(
        "words",
        nargs="+",
        metavar="WORDS",
        help="an optional file (and 1-based line) the question is about, then the question",
    )
    parser.add_argument("--apply", action="store_true", help="apply the proposed edits to the files")
    parser.add_argument("--model", help="the Claude model to use (default: [tool.pyengineer.llm] model)")
    parser.add_argument(
        "--root", metavar="DIR", help="the project root (default: found from FILE or the current folder)"
    )
    parser.epilog = (
        "Needs ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL is honoured). Secrets are redacted before anything is "
        "sent; see docs/agent.md for exactly what is sent."
    )


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
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
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


def run(args: argparse.Namespace) -> int:
    from pyengineer.actions.edits import apply_edits_to_files
    from pyengineer.agent.credentials import availability
    from pyengineer.agent.loop import AgentRequest, run_agent
    from pyengineer.checking import check_paths, load_project
    from pyengineer.workspace.markers import find_root

    out, err = sys.stdout, sys.stderr
    cwd = Path.cwd()
    file, line, question = split_target(args.words, cwd)
    if not question.strip():
        print("pyengineer ask: the question is empty", file=err)
        return EXIT_ERROR
    root = Path(args.root).resolve() if args.root else find_root(file.parent if file else cwd)
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

    printer = _Printer(out, err)
    result = run_agent(
        AgentRequest(
            root=root,
            question=question,
            path=str(file) if file else None,
            range=Range.of(line - 1, 0) if line else None,
            findings=findings,
            context=context.model_dump(mode="json"),
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
    if result.limit is not None:
        print(f"pyengineer ask: stopped: {result.limit}.", file=err)
        return EXIT_LIMIT
    if result.edits:
        if args.apply:
            written = apply_edits_to_files(result.edits, [root])
            print(f"Applied {len(result.edits)} edit(s) to {len(written)} file(s).", file=err)
            if context.git.protected:
                print(f"Note: you are on the protected branch {context.git.branch!r}.", file=err)
        else:
            print("Nothing was changed (with --apply, the proposed edits are applied).", file=err)
    return EXIT_OK
