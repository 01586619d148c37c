"""PE1xx: branch safety."""

from __future__ import annotations

from collections.abc import Iterator

from pyengineer import names
from pyengineer.engine.registry import MAX_MESSAGE, RuleInput, rule
from pyengineer.findings import Finding, Fix, Range, Severity
from pyengineer.git.naming import suggest_branch_names

CREATE_BRANCH_COMMAND = names.CREATE_BRANCH
MOVE_COMMITS_COMMAND = names.MOVE_COMMITS


@rule(
    "PE101",
    "protected-branch",
    "A Python file is being changed on a protected branch",
    severity=Severity.WARNING,
    late=True,
)
def protected_branch(inp: RuleInput) -> Iterator[Finding]:
    git = inp.context.git
    if not (git.protected and inp.changed and git.branch):
        return
    fix = any(f.severity == Severity.ERROR or f.code.startswith("PE9") for f in inp.prior)
    names = suggest_branch_names(inp.source.relative, inp.source.imported_top_levels, git.branches, fix=fix)
    first_line = inp.source.line_text(0)
    message = f"Protected branch '{git.branch}': create a feature branch for this change"
    if names and len(suggested := f"{message} (suggested: {names[0]})") <= MAX_MESSAGE:
        message = suggested
    how = (
        f"**Create branch '{names[0]}'** (the quick fix) runs `git switch -c {names[0]}`: staged, unstaged "
        "and untracked changes come along as they are."
        if names
        else "Create one with `git switch -c <name>`: your changes come along as they are."
    )
    if git.ahead and git.upstream and names:
        how += f" **Move {_commits(git.ahead)} off '{git.branch}'** takes the unpushed commits too."
    yield inp.report(
        "PE101",
        message=message,
        detail=(
            f"`{git.branch}` is protected: reviewed work lands there, and a change made on it directly is easy "
            f"to push by accident and hard to review.\n\n{how}"
        ),
        range=Range.of(0, 0, 0, len(first_line)),
        fixes=tuple(
            Fix(
                title=f"Create branch '{name}' (keeps your changes)",
                command=CREATE_BRANCH_COMMAND,
                arguments=({"name": name, "path": inp.source.path},),
                preferred=i == 0,
            )
            for i, name in enumerate(names)
        )
        + _move_commits_fix(inp, names),
        data={"branch": git.branch, "names": names},
    )


def _commits(count: int) -> str:
    return f"{count} commit{'s' if count != 1 else ''}"


def _move_commits_fix(inp: RuleInput, names: list[str]) -> tuple[Fix, ...]:
    """When the protected branch already holds commits its upstream lacks: the rescue, offered beside the
    branch creation (it carries the commits as well as the uncommitted changes)."""
    git = inp.context.git
    if not (git.ahead and git.upstream and names):
        return ()
    return (
        Fix(
            title=f"Move {_commits(git.ahead)} off '{git.branch}' to '{names[0]}' (keeps your changes)",
            command=MOVE_COMMITS_COMMAND,
            arguments=({"name": names[0], "path": inp.source.path},),
        ),
    )
