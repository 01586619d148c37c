"""PE1xx: branch safety."""

from __future__ import annotations

from collections.abc import Iterator

from pyengineer import names
from pyengineer.engine.registry import RuleInput, rule
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
    yield inp.report(
        "PE101",
        message=(
            f"You are changing {inp.source.relative} on the protected branch '{git.branch}'. "
            f"Create a feature branch first (suggested: {names[0]})."
            if names
            else f"You are changing {inp.source.relative} on the protected branch '{git.branch}'. "
            "Create a feature branch first."
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


def _move_commits_fix(inp: RuleInput, names: list[str]) -> tuple[Fix, ...]:
    """When the protected branch already holds commits its upstream lacks: the rescue, offered beside the
    branch creation (it carries the commits as well as the uncommitted changes)."""
    git = inp.context.git
    if not (git.ahead and git.upstream and names):
        return ()
    count = f"{git.ahead} commit{'s' if git.ahead != 1 else ''}"
    return (
        Fix(
            title=f"Move {count} off '{git.branch}' to '{names[0]}' (keeps your changes)",
            command=MOVE_COMMITS_COMMAND,
            arguments=({"name": names[0], "path": inp.source.path},),
        ),
    )
