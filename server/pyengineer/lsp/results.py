"""What our commands and custom requests answer: typed results with a `status` and one `message`.

One voice per event (docs/protocol.md): a command the client invoked answers with one of these, and the
client shows `message` once; the server does not also send `window/showMessage` for the same outcome.
`status` is "ok", "refused" (an expected refusal: a branch that exists, an untrusted workspace), "failed"
(it was tried and did not work), "cancelled", or a command's own word ("unavailable", "needs-review",
"tests-failed", "no-tests", "limit"). Malformed parameters are not results: they are InvalidParams errors
(lsp/params.py). `message` is one plain sentence for the user: no Markdown, no "pyengineer:" prefix (the
client adds its own name). Results go on the wire dumped by alias (camelCase), as `wire()` does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Status = Literal[
    "ok",
    "refused",
    "failed",
    "cancelled",
    "unavailable",
    "needs-review",
    "tests-failed",
    "no-tests",
    "limit",
]


class Result(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    status: Status
    message: str


class BranchResult(Result):
    """`pyengineer.createBranch`."""

    branch: str | None = None
    previous: str | None = None


class MoveCommitsResult(Result):
    """`pyengineer.moveCommits`: the protected branch's unpushed commits, moved to `branch`."""

    branch: str | None = None
    protected_branch: str | None = None
    upstream: str | None = None
    commits: tuple[str, ...] = ()
    old_tip: str | None = None
    new_tip: str | None = None


class HandoffResult(Result):
    """`pyengineer.handoff`: `path` is absolute (for the client to open), `relative` to the workspace root."""

    path: str | None = None
    relative: str | None = None
    shown: bool = False  # the server already asked the client to show it (window/showDocument)


class TestFailureInfo(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    test_id: str
    message: str


class TestsResult(Result):
    """`pyengineer.runTests`: the counts, the one-line summary, and pytest's own output for a detail view."""

    __test__ = False  # not a pytest class

    ok: bool = False
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    summary: str = ""
    failures: tuple[TestFailureInfo, ...] = ()
    needs_review: tuple[str, ...] = ()
    output: str = ""


class AskResult(Result):
    """`pyengineer.ask`, `pyengineer/ask` and `pyengineer.fixTest`. `explanation` is the model's Markdown
    answer (for a document or a float, not a toast); `kind` names a failure ("network", "authentication"...)."""

    kind: str | None = None
    explanation: str = ""
    applied: bool = False
    reason: str | None = None
    edits: int = 0
    redactions: int = 0
    redaction_kinds: tuple[str, ...] = ()
    usage: dict[str, Any] | None = None


def wire(result: Result) -> dict[str, Any]:
    """The JSON object a command answers with."""
    return result.model_dump(mode="json", by_alias=True)
