"""The agent loop: stream a model turn, run its tool calls, repeat until it proposes edits or a limit stops it.

`run_agent` is the one entry point, synchronous, for a worker thread: the LSP layer and the CLI both call it.
It never applies anything: a result's edits are complete and validated, or there are none.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from pyengineer.agent.credentials import (
    CLI_HINTS,
    Credentials,
    Hints,
    disabled_message,
    no_key_message,
    resolve_credentials,
)
from pyengineer.agent.errors import (
    AgentCancelledError,
    AgentRefusedError,
    AgentRequestError,
    AgentUnavailableError,
)
from pyengineer.agent.prompts import (
    context_facts,
    render_context_block,
    render_request,
    render_system_prompt,
    render_workspace_now,
)
from pyengineer.agent.tools import AgentTools, RedactionLog, ToolError, Workspace, tool_definitions
from pyengineer.config import Settings
from pyengineer.findings import Edit, Finding, Range
from pyengineer.workspace.ignore import is_secret_file

if TYPE_CHECKING:
    import anthropic

logger = logging.getLogger("pyengineer.agent")

_EPHEMERAL = {"type": "ephemeral"}
# The smallest answer worth asking for: below this the budget is as good as spent.
MIN_OUTPUT_TOKENS = 512
# Output room kept for the answer when tool results are cut to fit the context window or the budget.
ANSWER_RESERVE_TOKENS = 4_096
# Rough characters per token, for when the API cannot count the next request (a gateway without
# count_tokens): an over-estimate for code, so the fallback errs on the safe side.
CHARS_PER_TOKEN = 3
# Price weights, in input tokens: what each kind of token costs relative to an uncached input token
# (Anthropic's prompt-caching prices: a cache read is a tenth, a five-minute cache write a quarter more;
# output costs five times input on every current Claude model).
CACHE_READ_WEIGHT = 0.1
CACHE_WRITE_WEIGHT = 1.25
OUTPUT_WEIGHT = 5.0
# pause_turn continuations of one model turn before we stop: each is a full request.
MAX_PAUSE_CONTINUATIONS = 5
# Backoff between our retries: the first waits about this long, each next twice as long, with jitter.
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 8.0


class Usage(BaseModel):
    """Tokens used by one agent request, summed over its API calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    api_calls: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    @property
    def weighted(self) -> int:
        """What was spent, in input-token price weights: the unit of llm.token-budget."""
        return round(
            self.input_tokens
            + self.cache_read_input_tokens * CACHE_READ_WEIGHT
            + self.cache_creation_input_tokens * CACHE_WRITE_WEIGHT
            + self.output_tokens * OUTPUT_WEIGHT
        )

    def add(self, usage: Any) -> None:
        self.api_calls += 1
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        self.cache_read_input_tokens += getattr(usage, "cache_read_input_tokens", None) or 0
        self.cache_creation_input_tokens += getattr(usage, "cache_creation_input_tokens", None) or 0

    def summary(self) -> str:
        return (
            f"{self.api_calls} call{'s' if self.api_calls != 1 else ''}: input {self.input_tokens} tokens "
            f"(+ cache read {self.cache_read_input_tokens}, cache write {self.cache_creation_input_tokens}), "
            f"output {self.output_tokens}; {self.weighted} budget tokens"
        )


class AgentRequest(BaseModel):
    """What the user asked, and where: a file (absolute or relative to root), a range, the diagnostics there."""

    model_config = ConfigDict(frozen=True)

    root: Path
    question: str
    path: str | None = None
    range: Range | None = None
    # The editor's unsaved text of `path`, which the model must see instead of the file on disk.
    document_text: str | None = None
    findings: tuple[Finding, ...] = ()
    # Other unsaved editor buffers, by absolute path: the model reads (and edits) what the user sees.
    open_documents: dict[str, str] = {}
    # `WorkspaceContext.model_dump(mode="json")`; computed when absent.
    context: dict[str, Any] | None = None
    # The failing test's report (node id, message, traceback, output), for "fix this test" requests.
    failing_test: str | None = None
    # What the user can do about the key or the base URL where they are (the CLI's, or their editor's).
    hints: Hints = CLI_HINTS


class AgentResult(BaseModel):
    """The answer: edits for review (all or none) and an explanation, plus what it cost and what was hidden."""

    edits: tuple[Edit, ...] = ()
    explanation: str = ""
    usage: Usage
    redactions: int = 0
    redaction_kinds: tuple[str, ...] = ()
    # Set when a limit stopped the request: which one, in a sentence. No edits then.
    limit: str | None = None
    # Set when the model declined (stop_reason "refusal"): the API's explanation, or ours. No edits then.
    refusal: str | None = None
    model: str = ""
    tool_rounds: int = 0

    @property
    def complete(self) -> bool:
        return self.limit is None and self.refusal is None


class _Closeable(Protocol):
    def close(self) -> None: ...


class _Abort:
    """Watches the cancel event and the deadline; on either, tears down the HTTP stream at once.

    Closing a socket does not wake a thread blocked reading it, so the socket is shut down first.
    """

    def __init__(self, cancel: threading.Event, deadline: float, client: anthropic.Anthropic) -> None:
        self.cancel = cancel
        self.deadline = deadline
        self.client = client
        self.reason: str | None = None
        self._stream: Any = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pyengineer-agent-abort", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)

    def check(self) -> None:
        """Raise if the request was cancelled; the timeout is the caller's to report as a limit."""
        if self.cancel.is_set():
            self.reason = self.reason or "cancelled"
        if self.reason == "cancelled":
            raise AgentCancelledError("the request was cancelled")

    def timed_out(self) -> bool:
        if self.reason is None and time.monotonic() > self.deadline:
            self.reason = "timeout"
        return self.reason == "timeout"

    def attach(self, stream: Any) -> None:
        with self._lock:
            self._stream = stream
        if self.reason is not None:
            self._tear_down()

    def detach(self) -> None:
        with self._lock:
            self._stream = None

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self.cancel.is_set():
                self.reason = "cancelled"
            elif time.monotonic() > self.deadline:
                self.reason = "timeout"
            if self.reason is not None:
                self._tear_down()
                return

    def _tear_down(self) -> None:
        with self._lock:
            stream = self._stream
        if stream is not None:
            _shutdown_socket(stream)
            try:
                stream.close()
            except Exception:  # closing a broken stream may fail in many ways; either way it is closed
                logger.debug("closing the aborted stream failed", exc_info=True)
        # Before the response headers arrive there is no stream yet: closing the client closes its pool.
        self.client.close()


def _shutdown_socket(stream: Any) -> None:
    try:
        network_stream = stream.response.extensions.get("network_stream")
        sock = network_stream.get_extra_info("socket") if network_stream is not None else None
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


def _request_path(root: Path, path: str | None) -> str | None:
    """The request's file relative to root; refused when outside the root or a secret file."""
    if path is None:
        return None
    candidate = Path(path)
    full = candidate if candidate.is_absolute() else root / candidate
    try:
        relative = full.resolve().relative_to(root).as_posix()
    except ValueError:
        raise AgentRefusedError(
            f"{path} is outside the workspace {root.name}/; open its folder first"
        ) from None
    if any(is_secret_file(part) for part in relative.split("/")):
        raise AgentRefusedError(f"{relative} may hold secrets; pyengineer never sends such files to the LLM")
    return relative


def _overlays(root: Path, documents: Mapping[str, str]) -> dict[str, str]:
    """Open editor buffers inside the root, by relative path (the tools still decide what is visible)."""
    overlays: dict[str, str] = {}
    for path, text in documents.items():
        try:
            overlays[Path(path).resolve().relative_to(root).as_posix()] = text
        except ValueError:
            continue
    return overlays


def _assistant_content(message: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "text" and block.text:
            blocks.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    return blocks


def _with_cache_marker(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with a cache breakpoint on the last block, so the next round reuses this round's prefix."""
    if not messages:
        return messages
    last = dict(messages[-1])
    content = [dict(block) for block in last["content"]]
    content[-1]["cache_control"] = _EPHEMERAL
    last["content"] = content
    return [*messages[:-1], last]


def run_agent(
    request: AgentRequest,
    settings: Settings,
    *,
    api_key: str | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    max_retries: int | None = None,
) -> AgentResult:
    """Ask the python-engineer agent; blocks until it answers, a limit stops it, or `cancel` is set.

    Raises an `AgentRequestError` subclass for what the user must act on (no key, 401, 429 after our
    retries, network down, cancelled...). Limits (tool rounds, tokens, context window, timeout) are not
    errors: the result says which limit stopped it, and carries no edits; so does a refusal.
    `max_retries` overrides llm.max-retries.
    """
    if not settings.llm.enabled:
        raise AgentUnavailableError(disabled_message(request.hints))
    credentials = resolve_credentials(api_key)
    if credentials is None:
        raise AgentUnavailableError(no_key_message(request.hints))
    retries = settings.llm.max_retries if max_retries is None else max_retries
    return _Run(request, settings, credentials, on_progress, on_text, cancel, retries).execute()


class _Retry(Exception):
    """An API failure worth another try: the translated error, and how long the API asked us to wait."""

    def __init__(self, error: AgentRequestError, why: str, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.why = why
        self.retry_after = retry_after


def _retry_after(exc: Any) -> float | None:
    """Seconds the API asked us to wait (retry-after-ms, or retry-after in seconds), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


class _Run:
    """The state of one agent request."""

    def __init__(
        self,
        request: AgentRequest,
        settings: Settings,
        credentials: Credentials,
        on_progress: Callable[[str], None] | None,
        on_text: Callable[[str], None] | None,
        cancel: threading.Event | None,
        max_retries: int,
    ) -> None:
        self.request = request
        self.settings = settings
        self.llm = settings.llm
        self.credentials = credentials
        self.progress = on_progress or (lambda _step: None)
        self.on_text = on_text
        self.cancel = cancel or threading.Event()
        self.max_retries = max_retries
        self.usage = Usage()
        self.redactions = RedactionLog()
        self.rounds = 0
        self.texts: list[str] = []
        # Text was streamed and the next streamed text starts a new turn: separate them.
        self._separate = False
        # False once the API could not count tokens: from then on, the next request's size is estimated.
        self._can_count = True
        # The size of the last request (input) plus its answer: what the next request starts from.
        self._known_tokens = 0
        self._known_chars = 0

    # -- building the conversation ------------------------------------------------------------------------

    def _context(self, root: Path) -> Mapping[str, Any]:
        if self.request.context is not None:
            return self.request.context
        from pyengineer.workspace.context import build_context

        return build_context(root, self.settings).model_dump(mode="json")

    def _prepare(self) -> tuple[AgentTools, list[dict[str, Any]], list[dict[str, Any]]]:
        from pyengineer.agent.project_facts import project_facts

        root = self.request.root.resolve()
        relative = _request_path(root, self.request.path)
        overlays = _overlays(root, self.request.open_documents)
        if relative is not None and self.request.document_text is not None:
            overlays[relative] = self.request.document_text
        workspace = Workspace(
            root,
            exclude=self.settings.exclude,
            overlays=overlays,
            allowed=frozenset({relative}) if relative else frozenset(),
        )
        self.progress("reading the project")
        context = self._context(root)
        project = project_facts(root)
        tools = AgentTools(
            workspace,
            lambda: context_facts(context, project),
            self.redactions,
            settings=self.settings,
            context=context,
        )
        file_text: str | None = None
        file_diff: str | None = None
        if relative is not None and workspace.exists(relative):
            try:
                file_text = workspace.read_text(relative)
            except (ToolError, OSError):
                file_text = None  # binary or too large: the question still stands without an excerpt
            # The git_diff tool itself: the same confinement and redaction as when the model asks for it.
            diff = tools.run("git_diff", {"path": relative})
            if not diff.is_error and "diff --git" in diff.content:
                file_diff = _cut(diff.content, FIRST_TURN_DIFF_CHARS)
        system = [
            {"type": "text", "text": render_system_prompt(), "cache_control": _EPHEMERAL},
            {
                "type": "text",
                "text": self.redactions.clean(render_context_block(context, project)),
                "cache_control": _EPHEMERAL,
            },
        ]
        first = render_request(
            self.request.question,
            path=relative,
            range_=self.request.range,
            file_text=file_text,
            findings=self.request.findings,
            workspace_now=render_workspace_now(context),
            file_diff=file_diff,
            failing_test=_cut(self.request.failing_test, FIRST_TURN_TEST_CHARS)
            if self.request.failing_test
            else None,
        )
        messages = [{"role": "user", "content": [{"type": "text", "text": self.redactions.clean(first)}]}]
        return tools, system, messages

    # -- results and limits -------------------------------------------------------------------------------

    def _result(
        self,
        edits: tuple[Edit, ...] = (),
        explanation: str = "",
        limit: str | None = None,
        refusal: str | None = None,
    ) -> AgentResult:
        result = AgentResult(
            edits=edits,
            explanation=explanation,
            usage=self.usage,
            redactions=self.redactions.count,
            redaction_kinds=tuple(sorted(self.redactions.kinds)),
            limit=limit,
            refusal=refusal,
            model=self.llm.model,
            tool_rounds=self.rounds,
        )
        outcome = f"{len(edits)} edit(s) proposed"
        if limit:
            outcome = f"stopped: {limit}"
        elif refusal:
            outcome = f"refused: {refusal}"
        logger.info(
            "agent request: model=%s rounds=%d %s; %d redaction(s); %s",
            self.llm.model,
            self.rounds,
            self.usage.summary(),
            self.redactions.count,
            outcome,
        )
        return result

    def _limited(self, limit: str) -> AgentResult:
        said = "\n\n".join(self.texts).strip()
        explanation = f"Stopped: {limit}. No edits were proposed." + (f"\n\n{said}" if said else "")
        return self._result(explanation=explanation, limit=limit)

    def _budget_limit(self) -> str:
        return (
            f"the token budget of {self.llm.token_budget} (llm.token-budget, in price-weighted tokens) was "
            f"reached after {self.usage.weighted}"
        )

    def _context_limit(self, tokens: int) -> str:
        return (
            f"the next request ({tokens} tokens) would not fit the context window of {self.llm.context_window} "
            "tokens (llm.context-window) with room for an answer"
        )

    def _timeout_limit(self) -> str:
        return f"the timeout of {self.llm.timeout:g} s (llm.timeout) was reached"

    # -- token accounting ---------------------------------------------------------------------------------

    def _count(
        self,
        client: anthropic.Anthropic,
        abort: _Abort,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        definitions: list[dict[str, Any]],
    ) -> int:
        """The input tokens of the next request: counted by the API, else estimated from the last usage."""
        chars = len(json.dumps([system, messages, definitions]))
        if self._can_count:
            import anthropic

            try:
                counted = client.messages.count_tokens(
                    model=self.llm.model,
                    system=system,  # type: ignore[arg-type]
                    tools=definitions,  # type: ignore[arg-type]
                    messages=messages,  # type: ignore[arg-type]
                    timeout=max(min(abort.deadline - time.monotonic(), 30.0), 1.0),
                )
                return int(counted.input_tokens)
            except anthropic.APIError as exc:
                abort.check()
                # A gateway or proxy without the endpoint: estimate from now on, but never fail for it.
                logger.info(
                    "count_tokens is not available (%s); estimating request sizes", type(exc).__name__
                )
                self._can_count = False
        return self._known_tokens + max(chars - self._known_chars, 0) // CHARS_PER_TOKEN

    def _input_weight(self, tokens: int) -> float:
        """The expected price weight of sending `tokens`: the known prefix is a cache read, the rest a write."""
        cached = min(self._known_tokens, tokens)
        return cached * CACHE_READ_WEIGHT + (tokens - cached) * CACHE_WRITE_WEIGHT

    def _output_room(self, tokens: int) -> tuple[int, str]:
        """(tokens the next answer may take, the limit that binds first) for a request of `tokens`."""
        by_context = self.llm.context_window - tokens
        by_budget = int(
            (self.llm.token_budget - self.usage.weighted - self._input_weight(tokens)) / OUTPUT_WEIGHT
        )
        if by_budget < by_context:
            return min(self.llm.max_output_tokens, by_budget), "budget"
        return min(self.llm.max_output_tokens, by_context), "context"

    def _fit_results(
        self,
        client: anthropic.Anthropic,
        abort: _Abort,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        definitions: list[dict[str, Any]],
    ) -> int:
        """Cut the newest tool results until the next request leaves room for an answer; its token count.

        The cut results say so, with how much is missing, so the model can ask for a narrower part.
        """
        tokens = self._count(client, abort, system, messages, definitions)
        reserve = min(self.llm.max_output_tokens, ANSWER_RESERVE_TOKENS)
        results = [b for b in messages[-1]["content"] if b.get("type") == "tool_result"]
        for _ in range(3):
            room, binding = self._output_room(tokens)
            if room >= reserve or not results:
                return tokens
            result_chars = sum(len(str(b["content"])) for b in results)
            if result_chars == 0:
                return tokens
            # Characters per token of this request, from its own count; the cut errs on the large side.
            ratio = max(len(json.dumps([system, messages, definitions])) / max(tokens, 1), 1.0)
            excess_chars = int((reserve - room) * OUTPUT_WEIGHT * ratio * 1.2) + 200
            if binding == "context":
                excess_chars = int((reserve - room) * ratio * 1.2) + 200
            _cut_largest(results, excess_chars)
            tokens = self._count(client, abort, system, messages, definitions)
        return tokens

    # -- the loop -----------------------------------------------------------------------------------------

    def execute(self) -> AgentResult:
        # The SDK is slow to import: only a request that is actually sent pays for it.
        from pyengineer.agent.client import make_client

        tools, system, messages = self._prepare()
        definitions = tool_definitions()
        # The SDK's own retries are off: ours (in _call) are bounded by the deadline and say what happened.
        client = make_client(self.settings, self.credentials, max_retries=0)
        abort = _Abort(self.cancel, time.monotonic() + self.llm.timeout, client)
        abort.start()
        try:
            return self._loop(client, abort, tools, system, messages, definitions)
        finally:
            abort.stop()
            client.close()

    def _loop(
        self,
        client: anthropic.Anthropic,
        abort: _Abort,
        tools: AgentTools,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        definitions: list[dict[str, Any]],
    ) -> AgentResult:
        pauses = 0
        abort.check()
        tokens = self._count(client, abort, system, messages, definitions)
        while True:
            abort.check()
            if abort.timed_out():
                return self._limited(self._timeout_limit())
            max_tokens, binding = self._output_room(tokens)
            if max_tokens < min(MIN_OUTPUT_TOKENS, self.llm.max_output_tokens):
                return self._limited(
                    self._budget_limit() if binding == "budget" else self._context_limit(tokens)
                )
            self.progress("thinking")
            message = self._call(client, abort, system, messages, definitions, max_tokens)
            if message is None:
                return self._limited(self._timeout_limit())
            self.usage.add(message.usage)
            self._known_tokens = self.usage_of_call(message) + (message.usage.output_tokens or 0)
            self._known_chars = len(json.dumps([system, messages, definitions]))
            text = "".join(block.text for block in message.content if block.type == "text").strip()
            if text:
                self.texts.append(text)
            stop = message.stop_reason
            if stop == "pause_turn":
                # The API paused a long turn: send it back as it is, and the model carries on from there.
                pauses += 1
                if pauses > MAX_PAUSE_CONTINUATIONS:
                    return self._limited(
                        f"the model paused its turn {MAX_PAUSE_CONTINUATIONS} times (pause_turn) without finishing"
                    )
                messages.append({"role": "assistant", "content": _paused_content(message)})
                tokens = self._count(client, abort, system, messages, definitions)
                continue
            pauses = 0
            self._separate = bool(text) or self._separate
            if stop == "refusal":
                return self._refused(message)
            if stop == "max_tokens":
                which = (
                    f"the output limit of {self.llm.max_output_tokens} tokens (llm.max-output-tokens)"
                    if max_tokens == self.llm.max_output_tokens
                    else f"the room left ({max_tokens} tokens) in the token budget or the context window"
                )
                return self._limited(f"the answer was cut off by {which}")
            if stop == "model_context_window_exceeded":
                return self._limited(
                    "the answer was cut off by the model's context window (model_context_window_exceeded)"
                )
            calls = [block for block in message.content if block.type == "tool_use"]
            if not calls:
                # end_turn, stop_sequence (or a stop reason this version does not know): the answer is final.
                if stop not in ("end_turn", "stop_sequence", "tool_use"):
                    logger.warning("unknown stop reason %r: taking the answer as final", stop)
                return self._result(explanation="\n\n".join(self.texts).strip())
            out_of_rounds = self.rounds >= self.llm.max_tool_rounds
            if out_of_rounds:
                # Only a final answer is still accepted; anything else would be one round too many.
                calls = [call for call in calls if call.name == "propose_edits"]
            results: list[dict[str, Any]] = []
            finished = None
            for call in calls:
                abort.check()
                self.progress(tools.describe(call.name, call.input if isinstance(call.input, dict) else {}))
                outcome = tools.run(call.name, call.input)
                if outcome.edits is not None:
                    finished = outcome
                block: dict[str, Any] = {
                    "type": "tool_result",
                    "tool_use_id": call.id,
                    "content": outcome.content,
                }
                if outcome.is_error:
                    block["is_error"] = True
                results.append(block)
            if finished is not None and finished.edits is not None:
                explanation = finished.explanation.strip() or "\n\n".join(self.texts).strip()
                return self._result(edits=finished.edits, explanation=explanation)
            if out_of_rounds:
                return self._limited(
                    f"the limit of {self.llm.max_tool_rounds} tool rounds (llm.max-tool-rounds) was reached"
                )
            self.rounds += 1
            if self.rounds >= self.llm.max_tool_rounds:
                results.append(
                    {
                        "type": "text",
                        "text": "That was your last tool round: call propose_edits now with what you have.",
                    }
                )
            messages.append({"role": "assistant", "content": _assistant_content(message)})
            messages.append({"role": "user", "content": results})
            tokens = self._fit_results(client, abort, system, messages, definitions)

    def _refused(self, message: Any) -> AgentResult:
        details = getattr(message, "stop_details", None)
        explanation = getattr(details, "explanation", None) if details is not None else None
        category = getattr(details, "category", None) if details is not None else None
        reason = explanation or "the model declined to answer this request (no explanation was given)"
        if category:
            reason += f" (category: {category})"
        said = "\n\n".join(self.texts).strip()
        text = f"The model declined: {reason}" + (f"\n\n{said}" if said else "")
        return self._result(explanation=text, refusal=reason)

    @staticmethod
    def usage_of_call(message: Any) -> int:
        usage = message.usage
        return int(
            (usage.input_tokens or 0)
            + (getattr(usage, "cache_read_input_tokens", None) or 0)
            + (getattr(usage, "cache_creation_input_tokens", None) or 0)
        )

    # -- one model turn, retried ---------------------------------------------------------------------------

    def _call(
        self,
        client: anthropic.Anthropic,
        abort: _Abort,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        definitions: list[dict[str, Any]],
        max_tokens: int,
    ) -> Any:
        """One model turn, retried on 429 / 529 / overloaded / 5xx / network errors while the deadline allows.

        Returns the final message, or None when the deadline passed. Raises the translated error when the
        retries run out or the next wait would pass the deadline, saying how many tries were made and why it
        stopped.
        """
        tries = 0
        while True:
            tries += 1
            try:
                return self._stream(client, abort, system, messages, definitions, max_tokens)
            except _Retry as retry:
                if tries > self.max_retries:
                    stop = f"the retries ran out (llm.max-retries = {self.max_retries})"
                    raise _with_tries(retry.error, tries, stop) from None
                backoff = min(RETRY_BASE_SECONDS * 2 ** (tries - 1), RETRY_MAX_SECONDS)
                wait = backoff * random.uniform(0.5, 1.0)
                if retry.retry_after is not None:
                    wait = max(wait, retry.retry_after)
                left = abort.deadline - time.monotonic()
                if wait >= left:
                    asked = (
                        f"the API asked to wait {retry.retry_after:g} s"
                        if retry.retry_after
                        else (f"the next try was due in {wait:.1f} s")
                    )
                    stop = f"{asked}, but only {max(left, 0):.1f} s were left of the timeout of {self.llm.timeout:g} s (llm.timeout)"
                    raise _with_tries(retry.error, tries, stop) from None
                self.progress(
                    f"{retry.why}; retrying in {wait:.1f} s (try {tries + 1} of {self.max_retries + 1})"
                )
                if self.cancel.wait(wait):
                    raise AgentCancelledError("the request was cancelled") from None

    def _stream(
        self,
        client: anthropic.Anthropic,
        abort: _Abort,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        definitions: list[dict[str, Any]],
        max_tokens: int,
    ) -> Any:
        """One streamed model turn: the final message, or None when the deadline passed during it."""
        writing = False
        try:
            with client.messages.stream(
                model=self.llm.model,
                max_tokens=max_tokens,
                system=system,  # type: ignore[arg-type]
                tools=definitions,  # type: ignore[arg-type]
                messages=_with_cache_marker(messages),  # type: ignore[arg-type]
            ) as stream:
                abort.attach(stream)
                try:
                    for event in stream:
                        if event.type == "text":
                            if not writing:
                                writing = True
                                self.progress("writing the answer")
                                if self._separate and self.on_text is not None:
                                    # A new turn's text: a paragraph apart from the last one's.
                                    self.on_text("\n\n")
                                self._separate = False
                            if self.on_text is not None:
                                self.on_text(event.text)
                    return stream.get_final_message()
                finally:
                    abort.detach()
        except AgentCancelledError:
            raise
        except Exception as exc:
            # Whatever the stream raised once we tore it down is the teardown, not an API failure.
            if abort.reason == "cancelled" or self.cancel.is_set():
                raise AgentCancelledError("the request was cancelled") from None
            # The HTTP client's own read timeout can fire a moment before the watcher thread notices the
            # deadline: past the deadline, it is our timeout limit either way.
            if abort.timed_out():
                return None
            if writing:
                self._separate = True  # the retried turn's text starts on its own paragraph
            import anthropic

            if not isinstance(exc, anthropic.APIError):
                raise
            raise self._classify(client, exc) from None

    def _classify(self, client: anthropic.Anthropic, exc: Exception) -> Exception:
        """A _Retry for what another try may cure, else the translated error to raise."""
        import anthropic

        from pyengineer.agent.client import api_error_type, translate_error

        base_url = str(client.base_url).rstrip("/")
        error = translate_error(
            exc,
            model=self.llm.model,
            base_url=base_url,
            credentials=self.credentials,
            hints=self.request.hints,
        )
        logger.info("agent API call failed (%s): %s", error.kind, error)
        if isinstance(exc, anthropic.APITimeoutError):
            return error  # only past our own deadline, which the caller reports as the timeout limit
        if isinstance(exc, anthropic.APIConnectionError):
            return _Retry(error, "the API could not be reached", None)
        if not isinstance(exc, anthropic.APIStatusError):
            return error
        kind = api_error_type(exc)
        status = exc.status_code
        # A mid-stream error event arrives on a 200 response: its type says what it is.
        if kind == "overloaded_error" or status == 529:
            return _Retry(error, "the API is overloaded" + (" (mid-stream)" if status == 200 else ""), None)
        if kind == "rate_limit_error" or status == 429:
            if error.kind == "spend-limit":
                return error
            return _Retry(error, "rate limited (429)", _retry_after(exc))
        if kind == "api_error" or status >= 500:
            return _Retry(error, f"the API had an internal error ({status})", _retry_after(exc))
        return error


def _with_tries(error: AgentRequestError, tries: int, stop: str) -> AgentRequestError:
    """The error, with how many tries were made and why we stopped trying."""
    note = f" ({tries} {'try' if tries == 1 else 'tries'}; stopped because {stop})"
    return type(error)(str(error) + note, status=error.status, request_id=error.request_id)


FIRST_TURN_DIFF_CHARS = 8_000
FIRST_TURN_TEST_CHARS = 8_000


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: {len(text) - limit} more characters]"


_CUT_NOTE = "\n[cut: "


def _cut_largest(results: list[dict[str, Any]], chars: int) -> None:
    """Take about `chars` characters off the largest tool results, each cut saying how much is missing."""
    while chars > 0:
        block = max(results, key=lambda b: len(str(b["content"]).split(_CUT_NOTE)[0]))
        content, _, earlier = str(block["content"]).partition(_CUT_NOTE)
        if not content:
            return
        missing = int(earlier.split(" ", 1)[0]) if earlier[:1].isdigit() else 0
        keep = max(len(content) - chars, 0)
        chars -= len(content) - keep
        missing += len(content) - keep
        block["content"] = (
            content[:keep]
            + f"{_CUT_NOTE}{missing} more characters did not fit the room left (context window "
            "or token budget); ask for a narrower part, e.g. a line range]"
        )


def _paused_content(message: Any) -> list[dict[str, Any]]:
    """A paused turn's content, to send back as it is (trailing whitespace would be refused by the API)."""
    blocks = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
    blocks = [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]
    if blocks and blocks[-1].get("type") == "text":
        blocks[-1]["text"] = blocks[-1]["text"].rstrip()
    return blocks
