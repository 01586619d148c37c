"""The arguments of our commands and the params of our custom requests, as strict pydantic models.

Every `workspace/executeCommand` of ours takes at most one object argument, and every `pyengineer/...`
request one object of params. They are validated here before a handler acts: a wrong type (`[5]`,
`[null]`, `{"name": 7}`), an unknown field or a second argument is answered with InvalidParams (-32602)
whose message names the field, and nothing is done. Strict means no coercion: 7 is not the branch "7".
The shapes are those the VS Code extension and the Neovim plugin send, and those the server puts into its
own code actions (engine/rules, testing/, engine/rules/failing_tests.py); docs/protocol.md lists them.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pygls.exceptions import JsonRpcInvalidParams

M = TypeVar("M", bound="Params")


class Params(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Target(Params):
    """What a command is about: a document `uri`, or a `path` (the server's own code actions send paths)."""

    uri: str | None = None
    path: str | None = None


class CreateBranchArgs(Target):
    # Left out: the best suggestion for the file. An empty name is a mistake, not a request for one.
    name: str | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank (leave it out to use the best suggestion)")
        return value.strip() if value is not None else None


class Position(Params):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class ClientRange(Params):
    start: Position
    end: Position


class AskArgs(Params):
    """`pyengineer.ask` and the `pyengineer/ask` request."""

    uri: str | None = None
    range: ClientRange | None = None
    question: str | None = None
    mode: Literal["fix", "selection"] | None = None
    codes: list[str] | None = None  # the codes the action was offered for (informative)
    # The failure and output of a test, for the fix-test path (engine/rules/failing_tests.py's PE901 action).
    failing_test: str | None = None


class RunTestsArgs(Target):
    scope: Literal["file", "module", "project"] | None = None
    target: str | None = None  # a test id or path (the "Run this test again" action)


class FixTestArgs(Params):
    """A failure, as `engine/rules/failing_tests.failure_findings` puts it into the PE901 action."""

    test_id: str = Field(min_length=1)
    root: str | None = None
    message: str = ""
    output: str = ""
    test_file: str | None = None
    test_line: int | None = None
    app_file: str | None = None
    app_line: int | None = None


class FixActionData(Params):
    """The `data` of a quick fix for one of our findings, back in `codeAction/resolve`."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)  # the client may add its own keys

    uri: str
    code: str
    index: int
    fix: int
    version: int | None = None


class SetApiKeyParams(Params):
    """`pyengineer/setApiKey`: null (or "") clears the key."""

    apiKey: str | None = None


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "argument"


def invalid_params(where: str, error: ValidationError) -> JsonRpcInvalidParams:
    """InvalidParams naming each bad field, with the fields in `data` for programs."""
    problems = [{"field": _field(e["loc"]), "message": e["msg"]} for e in error.errors()]
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JsonRpcInvalidParams(f"{where}: invalid arguments: {text}", data={"problems": problems})


def parse(model: type[M], value: Any, where: str) -> M:
    """`value` validated as `model`, or InvalidParams naming the field."""
    if value is None:
        value = {}
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise invalid_params(where, exc) from None


def command_argument(model: type[M], command: str, args: tuple[Any, ...]) -> M:
    """The one optional object argument of `command`, validated as `model`."""
    if len(args) > 1:
        raise JsonRpcInvalidParams(f"{command}: takes one object argument, got {len(args)} arguments")
    if not args:
        return parse(model, {}, command)
    value = args[0]
    if value is None:
        raise JsonRpcInvalidParams(f"{command}: argument: must be an object, not null")
    if isinstance(value, list) and not value:
        # Lua has one table type, and an empty one can reach the wire as [] instead of {}.
        value = {}
    return parse(model, value, command)
