"""The agent loop: stream a model turn, run its tool calls, repeat until it proposes edits or a limit stops it.

`run_agent` is the one entry point, synchronous, for a worker thread: the LSP layer and the CLI both call it.
It never applies anything: a result's edits are complete and validated, or there are none.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from pyengineer.agent.credentials import HOW_TO_ENABLE, Credentials, resolve_credentials
from pyengineer.agent.errors import AgentCancelledError, AgentRefusedError, AgentUnavailableError
from pyengineer.agent.prompts import context_facts, render_context_block, render_request, render_system_prompt
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
# Rough characters per token, to estimate the next request's input before sending it.
CHARS_PER_TOKEN = 3


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
            f"output {self.output_tokens}"
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


class AgentResult(BaseModel):
    """The answer: edits for review (all or none) and an explanation, plus what it cost and what was hidden."""

    edits: tuple[Edit, ...] = ()
    explanation: str = ""
    usage: Usage
    redactions: int = 0
    redaction_kinds: tuple[str, ...] = ()
    # Set when a limit stopped the request: which one, in a sentence. No edits then.
    limit: str | None = None
    model: str = ""
    tool_rounds: int = 0

    @property
    def complete(self) -> bool:
        return self.limit is None


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
    max_retries: int = 2,
) -> AgentResult:
    """Ask the python-engineer agent; blocks until it answers, a limit stops it, or `cancel` is set.

    Raises an `AgentRequestError` subclass for what the user must act on (no key, 401, 429, network down,
    cancelled...). Limits (tool rounds, tokens, timeout) are not errors: the result says which limit stopped
    it, and carries no edits.
    """
    if not settings.llm.enabled:
        raise AgentUnavailableError(
            "the python-engineer agent is disabled in the settings ([tool.pyengineer.llm])"
        )
    credentials = resolve_credentials(api_key)
    if credentials is None:
        raise AgentUnavailableError(HOW_TO_ENABLE[0].upper() + HOW_TO_ENABLE[1:])
    return _Run(request, settings, credentials, on_progress, on_text, cancel, max_retries).execute()


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

    # -- building the conversation ------------------------------------------------------------------------

    def _context(self, root: Path) -> Mapping[str, Any]:
        if self.request.context is not None:
            return self.request.context
        from pyengineer.workspace.context import build_context

        return build_context(root, self.settings).model_dump(mode="json")

    def _prepare(self) -> tuple[AgentTools, list[dict[str, Any]], list[dict[str, Any]]]:
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
        tools = AgentTools(workspace, lambda: context_facts(context), self.redactions)
        file_text: str | None = None
        if relative is not None and workspace.exists(relative):
            try:
                file_text = workspace.read_text(relative)
            except (ToolError, OSError):
                file_text = None  # binary or too large: the question still stands without an excerpt
        system = [
            {"type": "text", "text": render_system_prompt(), "cache_control": _EPHEMERAL},
            {
                "type": "text",
                "text": self.redactions.clean(render_context_block(context)),
                "cache_control": _EPHEMERAL,
            },
        ]
        first = render_request(
            self.request.question,
            path=relative,
            range_=self.request.range,
            file_text=file_text,
            findings=self.request.findings,
        )
        messages = [{"role": "user", "content": [{"type": "text", "text": self.redactions.clean(first)}]}]
        return tools, system, messages

    # -- limits -------------------------------------------------------------------------------------------

    def _result(
        self, edits: tuple[Edit, ...] = (), explanation: str = "", limit: str | None = None
    ) -> AgentResult:
        result = AgentResult(
            edits=edits,
            explanation=explanation,
            usage=self.usage,
            redactions=self.redactions.count,
            redaction_kinds=tuple(sorted(self.redactions.kinds)),
            limit=limit,
            model=self.llm.model,
            tool_rounds=self.rounds,
        )
        logger.info(
            "agent request: model=%s rounds=%d %s; %d redaction(s); %s",
            self.llm.model,
            self.rounds,
            self.usage.summary(),
            self.redactions.count,
            f"stopped: {limit}" if limit else f"{len(edits)} edit(s) proposed",
        )
        return result

    def _limited(self, limit: str) -> AgentResult:
        said = "\n\n".join(self.texts).strip()
        explanation = f"Stopped: {limit}. No edits were proposed." + (f"\n\n{said}" if said else "")
        return self._result(explanation=explanation, limit=limit)

    def _output_room(self, payload_chars: int, last_input: int, last_output: int) -> int:
        """Tokens left for the next answer within the budget, after an estimate of the next input."""
        estimated_input = max(last_input + last_output, 0) + payload_chars // CHARS_PER_TOKEN
        return self.llm.token_budget - self.usage.total_tokens - estimated_input

    # -- the loop -----------------------------------------------------------------------------------------

    def execute(self) -> AgentResult:
        # The SDK is slow to import: only a request that is actually sent pays for it.
        from pyengineer.agent.client import make_client

        tools, system, messages = self._prepare()
        definitions = tool_definitions()
        client = make_client(self.settings, self.credentials, max_retries=self.max_retries)
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
        new_chars = len(json.dumps([system, messages, definitions]))
        last_input = last_output = 0
        while True:
            abort.check()
            if abort.timed_out():
                return self._limited(f"the timeout of {self.llm.timeout:g} s (llm.timeout) was reached")
            room = self._output_room(new_chars, last_input, last_output)
            if room < min(MIN_OUTPUT_TOKENS, self.llm.max_output_tokens):
                return self._limited(
                    f"the token budget of {self.llm.token_budget} tokens (llm.token-budget) was reached after "
                    f"{self.usage.total_tokens} tokens"
                )
            max_tokens = min(self.llm.max_output_tokens, room)
            self.progress("thinking")
            message = self._stream(client, abort, system, messages, definitions, max_tokens)
            if message is None:
                return self._limited(f"the timeout of {self.llm.timeout:g} s (llm.timeout) was reached")
            self.usage.add(message.usage)
            last_input = self.usage_of_call(message)
            last_output = message.usage.output_tokens or 0
            text = "".join(block.text for block in message.content if block.type == "text").strip()
            if text:
                self.texts.append(text)
            if message.stop_reason == "max_tokens":
                which = (
                    f"the output limit of {self.llm.max_output_tokens} tokens (llm.max-output-tokens)"
                    if max_tokens == self.llm.max_output_tokens
                    else f"the token budget of {self.llm.token_budget} tokens (llm.token-budget)"
                )
                return self._limited(f"the answer was cut off by {which}")
            calls = [block for block in message.content if block.type == "tool_use"]
            if not calls:
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
            new_chars = len(json.dumps(results))

    @staticmethod
    def usage_of_call(message: Any) -> int:
        usage = message.usage
        return int(
            (usage.input_tokens or 0)
            + (getattr(usage, "cache_read_input_tokens", None) or 0)
            + (getattr(usage, "cache_creation_input_tokens", None) or 0)
        )

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
            import anthropic

            from pyengineer.agent.client import translate_error

            if isinstance(exc, anthropic.APIError):
                base_url = str(client.base_url).rstrip("/")
                error = translate_error(
                    exc, model=self.llm.model, base_url=base_url, credentials=self.credentials
                )
                logger.warning("agent request failed (%s): %s", error.kind, error)
                raise error from None
            raise
