"""The pyengineer language server: a pygls LanguageServer holding the Session and the background services."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol.language_server import lsp_method

from pyengineer import __version__
from pyengineer.lsp.capabilities import ClientFeatures
from pyengineer.lsp.features import NOTEBOOK_SYNC
from pyengineer.lsp.logging_bridge import ClientLogHandler
from pyengineer.lsp.notebook_state import NotebookStates
from pyengineer.lsp.pygls_compat import (
    CompatProtocol,
    CompatServer,
    reply_error,
    report_error,
    use_lsp_documents,
    write_frame,
)
from pyengineer.session import Session

if TYPE_CHECKING:
    from pyengineer.findings import Finding
    from pyengineer.workspace.watcher import ChangeBatch, WorkspaceWatcher

log = logging.getLogger("pyengineer")
T = TypeVar("T")


class _ExitWhenClientGone:
    """A writer wrapper: once the client has closed our stdout nothing can reach it, so exit at once
    rather than fail (and log) every message that follows."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.closed = False

    def write(self, data: bytes) -> Any:
        if self.closed:
            # `exit` closed our stdout, and tasks cancelled on the way out still log (and so write): a write
            # to the closed file raised ValueError, which was reported, logged and written again, without end.
            return None
        try:
            return self.inner.write(data)
        except BrokenPipeError:
            log.warning("the client closed the connection; exiting")
            logging.shutdown()
            os._exit(0)

    def close(self) -> Any:
        self.closed = True
        return self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PyengineerProtocol(CompatProtocol):
    """pygls' protocol, preferring UTF-8 positions whenever the client offers them (no transcoding).

    It also answers every request, as JSON-RPC and LSP require, where pygls would stay silent and leave the
    client waiting: requests with malformed params (InvalidParams), requests before `initialize`
    (ServerNotInitialized) and requests after `shutdown` (InvalidRequest).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_received = False
        # Messages that arrived after `initialize` while the handler modules were loading, handled in arrival
        # order once they are in (None: not loading).
        self.held: list[Any] | None = None

    def set_writer(self, writer: Any, *args: Any, **kwargs: Any) -> None:
        super().set_writer(_ExitWhenClientGone(writer), *args, **kwargs)

    def receive(self, body: bytes) -> None:
        """Decode one message body, check it is a JSON-RPC 2.0 message, and handle it.

        In place of pygls' `json.loads(body, object_hook=structure_message)` (pygls.io_.run_async), which
        answered nothing, or wedged, for what JSON-RPC 2.0 says must be answered: a parse error gets -32700
        and a body that is not a request, notification or response (a batch, `null`, `{}`, a missing or
        wrong `jsonrpc`, an `id` that is an object or a list) gets -32600, each with `"id": null` unless the
        message's own id could be read. An object id reached pygls' futures table as a dict key: TypeError
        on every later request, a server wedged for good.
        """
        try:
            data = json.loads(body)
        except RecursionError:
            # The C decoder recurses once per nesting level: 100,000 `[` raise here, not a JSONDecodeError.
            self.send_error(None, JsonRpcParseError("the message nests deeper than the JSON decoder allows"))
            return
        except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError: the client's bug, logged
            log.warning("answering a message that is not valid JSON with a parse error: %s", exc)
            self.send_error(None, JsonRpcParseError(f"the message is not valid JSON: {exc}"))
            return
        problem = envelope_problem(data)
        if problem is not None:
            log.warning("invalid JSON-RPC message: %s", problem.reason)
            if problem.answer:
                self.send_error(problem.reply_to, JsonRpcInvalidRequest(problem.reason))
            return
        params = data.get("params")  # before structuring: pygls' hook replaces it in `data`
        try:
            message = self.structure_message(data)
        except JsonRpcException as exc:
            # The params do not fit the method's type (lsprotocol): InvalidParams for a request.
            log.warning("cannot decode %s: %s", data.get("method"), exc)
            if "method" in data and "id" in data:
                self.send_error(data["id"], exc)
            return
        if "method" in data and self.get_message_type(data["method"]) is None:
            # A method lsprotocol does not know (ours: pyengineer/...): pygls turns its params into
            # namedtuples, renaming keys that are not identifiers; the handler validates the JSON value with
            # its own pydantic model instead (lsp/params.py).
            message.params = params
        self.handle_message(message)

    def send_error(self, msg_id: int | str | None, error: JsonRpcException) -> None:
        """Answer with a JSON-RPC error; `msg_id` None writes `"id": null`, which pygls' own responses
        omit (its converter drops None members), although JSON-RPC 2.0 requires the member."""
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["data"] = error.data
        response = {"jsonrpc": "2.0", "id": msg_id, "error": body}
        write_frame(self, json.dumps(response).encode("utf-8"))

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method is not None and self.held is not None:
            # Only messages with a method are held: a response completes a request we sent, and must not wait.
            self.held.append(message)
            if method == types.EXIT:
                # pygls exits by raising SystemExit out of its read loop, and only there does that end the
                # process (from a loop callback, its stdin reader thread would keep it alive): wait for the
                # load and handle everything held, `exit` last, right here.
                cast(PyengineerServer, self._server).finish_loading()
            return
        is_request = method is not None and getattr(message, "id", None) is not None
        if (
            method is not None
            and not self.initialize_received
            and method not in (types.INITIALIZE, types.EXIT)
        ):
            if is_request:
                error: JsonRpcException = JsonRpcServerNotInitialized(f"{method} before initialize")
                reply_error(self, message.id, error)
            log.debug("dropping %s received before initialize", method)
            return
        if is_request and self._shutdown and method != types.EXIT:
            error = JsonRpcInvalidRequest(f"{method} after shutdown: the server is shutting down")
            reply_error(self, message.id, error)
            return
        first_initialize = method == types.INITIALIZE and not self.initialize_received
        super().handle_message(message)
        if first_initialize:
            # The answer has been written: now load what the other handlers need (see handlers/__init__.py).
            cast(PyengineerServer, self._server).load_handlers()

    def release_held(self) -> None:
        """Handle the messages held while the handlers loaded, in the order they arrived."""
        held, self.held = self.held or [], None
        for message in held:
            try:
                self.handle_message(message)
            except Exception as exc:  # as pygls' reader loop does for a message it cannot handle
                log.exception("unable to handle a held message")
                report_error(self, exc, JsonRpcException)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        self.initialize_received = True
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            encodings = list(general.position_encodings)
            if types.PositionEncodingKind.Utf8 in encodings:
                encodings.remove(types.PositionEncodingKind.Utf8)
                general.position_encodings = [types.PositionEncodingKind.Utf8, *encodings]
        result = yield from super().lsp_initialize(params)
        use_lsp_documents(self.workspace)
        return result


@dataclass(eq=False, repr=False)
class ServerState:
    """The server's own state, declared in one place (PyengineerServer inherits it; read as `ls.<field>`).

    Everything here is read and written on the event loop only. What belongs to one open document is in its
    `DocumentState`, what belongs to one workspace root in its `WorkspaceState` (session/session.py); this is
    what is left: the client, the loading and the extension points.
    """

    client: ClientFeatures = field(default_factory=ClientFeatures)  # resolved at `initialize` (lifecycle.py)
    # Bumped whenever workspace state changes (settings, git, index, test results): findings of an older
    # generation are not reused (DocumentState.findings).
    generation: int = 0
    last_status: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # root -> pyengineer/status last sent
    ready: dict[str, asyncio.Event] = field(default_factory=dict)  # root -> set once its first load is done
    watchers: dict[str, WorkspaceWatcher] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop | None = None
    pull_diagnostics: bool = False  # the client pulls diagnostics (never both push and pull)
    shutting_down: bool = False
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    config_diagnostic_uris: set[str] = field(default_factory=set)
    # Workspace root -> changes that arrived while a batch of that workspace was being handled.
    queued_batches: dict[str, ChangeBatch] = field(default_factory=dict)
    # Workspace root -> held while a reload of that workspace computes its next facts (workspaces.py).
    reload_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # Set once the editor's settings have been pulled after `initialized`; loading waits for it.
    configured: asyncio.Event | None = None
    llm_usage: dict[str, dict[str, Any]] = field(default_factory=dict)  # root -> the agent's token usage
    # The open notebooks' cells and layouts (their modules are Session documents): lsp/notebooks.py.
    notebooks: NotebookStates = field(default_factory=NotebookStates)
    # "vscode", "neovim" or "other", from initialize (lsp/hints.py): whose commands our advice names.
    editor: str = "other"
    # The deferred handler modules are registered (see handlers/__init__.py); callbacks waiting for that.
    handlers_loaded: bool = False
    on_handlers_loaded: list[Callable[[], None]] = field(default_factory=list)
    _load_thread: threading.Thread | None = None
    _loaded_modules: list[ModuleType] = field(default_factory=list)
    _load_error: BaseException | None = None
    # The pending hand-back of closed documents' memory (publishing.release_memory).
    memory_release: asyncio.TimerHandle | None = None
    # Extension points for feature modules (the agent, the test runner) to add code actions:
    # async (ls, params, snapshot, findings) -> actions, and async (ls, action) -> action by resolver name.
    extra_code_actions: list[Callable[..., Awaitable[list[types.CodeAction]]]] = field(default_factory=list)
    code_action_resolvers: dict[str, Callable[..., Awaitable[types.CodeAction]]] = field(default_factory=dict)
    # Async callables (ls, state, source) -> str | None that draft the hand-off summary (the agent).
    handoff_drafters: list[Callable[..., Awaitable[str | None]]] = field(default_factory=list)
    # Test-run findings (PE901/PE902) by absolute path, merged into each document's diagnostics.
    test_findings: dict[str, list[Finding]] = field(default_factory=dict)
    # root -> the fix attempts per failing test (the test runner's FixAttempts; Any so that module may move)
    fix_attempts: dict[str, Any] = field(default_factory=dict)


class PyengineerServer(CompatServer, ServerState):
    def __init__(self) -> None:
        super().__init__(
            "pyengineer",
            __version__,
            protocol_cls=PyengineerProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=NOTEBOOK_SYNC,
            max_workers=4,
        )
        self.session = Session()
        # Git, disk and analysis work runs here, never on the message loop.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pyengineer-work")
        # Agent requests wait on the network for minutes and run the model's searches: their own threads, so
        # that however many run, diagnostics always have the pool above.
        self.agent_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pyengineer-agent")
        self.log_handler = ClientLogHandler(self.window_log_message)
        ServerState.__init__(self)

    def serve_stream(self, stdin: Any = None, stdout: Any = None) -> None:
        # pygls' stdio server with our reader and loop (MessageReader, run_messages): bounded frames, one
        # thread hop per message, and every malformed message answered as JSON-RPC 2.0 says.
        from pygls.io_ import StdoutWriter

        stop_event = self.new_stop_event()
        reader = MessageReader(stdin or sys.stdin.buffer, self.thread_pool)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(run_messages(stop_event, reader, cast(PyengineerProtocol, self.protocol)))
        except BrokenPipeError:
            log.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def start_tcp(self, host: str, port: int) -> None:
        """Serve one client on a TCP port, through the same reader and loop as stdio.

        pygls' own TCP server reads with asyncio streams and its run_async, which has none of the bounds and
        answers of run_messages; like pygls', it serves one connection and shuts down when it closes.
        """
        import socket

        with socket.create_server((host, port)) as listener:
            log.info("listening on %s:%s", host, port)
            connection, _ = listener.accept()
        with connection, connection.makefile("rb") as stdin, connection.makefile("wb") as stdout:
            self.serve_stream(ResyncingInput(stdin), stdout)

    def load_handlers(self) -> None:
        """Import the deferred handler modules in a thread and hold incoming messages until they are in.

        Called once `initialize` has been answered, on the loop. The import (~0.4 s of CPU) stays off the loop;
        the swap, the `when_handlers_loaded` callbacks and the held messages run on it once the import is done.
        """
        protocol = cast(PyengineerProtocol, self.protocol)
        if self.handlers_loaded or protocol.held is not None:
            return
        from pyengineer.lsp.handlers import import_deferred

        loop = asyncio.get_running_loop()
        protocol.held = []

        def work() -> None:
            try:
                self._loaded_modules = import_deferred()
            except BaseException as exc:
                self._load_error = exc
            try:
                loop.call_soon_threadsafe(self.finish_loading)
            except RuntimeError:
                pass  # the loop has closed: the server is exiting

        self._load_thread = threading.Thread(target=work, name="pyengineer-load", daemon=True)
        self._load_thread.start()

    def finish_loading(self) -> None:
        """Swap the imported handlers in, run what waited for them and handle the held messages (on the loop).

        Called by the loading thread when it is done, or directly (waiting for it) when `exit` arrives first.
        """
        if self.handlers_loaded:
            return
        if self._load_thread is not None:
            self._load_thread.join()
        from pyengineer.lsp.handlers import register_deferred

        if self._load_error is not None:
            log.error(
                "loading the pyengineer handlers failed; their requests will fail", exc_info=self._load_error
            )
        else:
            try:
                register_deferred(self, self._loaded_modules)
            except Exception:
                log.exception("registering the pyengineer handlers failed; their requests will fail")
        self.handlers_loaded = True
        callbacks, self.on_handlers_loaded = self.on_handlers_loaded, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("start-up step after loading the handlers failed")
        if gc.get_freeze_count():
            # Start-up froze the heap (cli.tune_garbage_collector) before these modules existed: freeze them too,
            # so the collector's passes during analysis do not walk them.
            gc.freeze()
        cast(PyengineerProtocol, self.protocol).release_held()

    def when_handlers_loaded(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the loop once the deferred handlers are in, before any held message is handled."""
        if self.handlers_loaded:
            callback()
        else:
            self.on_handlers_loaded.append(callback)

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the worker pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Start a background task that is kept alive until done and whose errors are logged."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self.background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    @property
    def position_encoding(self) -> str:
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        # An enum's str() is its name, not its value ("utf-8"), so unwrap it.
        return str(getattr(encoding, "value", encoding))

    def notify(self, method: str, params: Any) -> None:
        self.protocol.notify(method, params)

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))


# The largest header block and body a message may have (docs/protocol.md). Headers are two short lines; a
# body is at most a whole document (VS Code does not sync files above 50 MB to extensions).
MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
_ID_TYPES = (int, str)


class EnvelopeProblem(NamedTuple):
    reply_to: int | str | None  # the id to answer with (None: `"id": null`)
    reason: str
    answer: bool  # False for a malformed response: a response is never answered


def _valid_id(value: Any) -> bool:
    # LSP ids are integers or strings (JSON-RPC allows fractions too, and LSP does not); bool is an int in Python.
    return isinstance(value, _ID_TYPES) and not isinstance(value, bool)


def envelope_problem(data: Any) -> EnvelopeProblem | None:
    """Why `data` is not a JSON-RPC 2.0 request, notification or response (None when it is one)."""
    if isinstance(data, list):
        return EnvelopeProblem(None, "batches are not supported: LSP sends one message per frame", True)
    if not isinstance(data, dict):
        return EnvelopeProblem(None, "a JSON-RPC message must be an object", True)
    msg_id = data.get("id")
    reply_to = msg_id if _valid_id(msg_id) else None
    if data.get("jsonrpc") != "2.0":
        return EnvelopeProblem(reply_to, 'a JSON-RPC 2.0 message must have "jsonrpc": "2.0"', True)
    if "method" in data:
        if not isinstance(data["method"], str):
            return EnvelopeProblem(reply_to, '"method" must be a string', True)
        if "id" in data and not _valid_id(msg_id):
            return EnvelopeProblem(None, 'a request "id" must be an integer or a string', True)
        # `"params": null` is not JSON-RPC either, but clients send it (for `exit`, `shutdown`): taken as absent.
        if data.get("params") is not None and not isinstance(data["params"], dict | list):
            return EnvelopeProblem(reply_to, '"params" must be an object or an array', True)
        return None
    if "id" not in data or not (_valid_id(msg_id) or (msg_id is None and "error" in data)):
        return EnvelopeProblem(None, 'a message needs a "method" (a request) or the "id" of a response', True)
    if ("result" in data) == ("error" in data):
        return EnvelopeProblem(None, 'a response must have either "result" or "error"', False)
    return None


class ResyncingInput:
    """stdin for the message reader that finds the next message header after garbage.

    Headers are read line by line and only a line that *is* `Content-Length: N` counts. After a bad header,
    or a body shorter than its Content-Length, the next header arrives glued to the end of the bad bytes on
    one line, so no header would ever match again and every later message would be lost. Cutting such a
    line at its `Content-Length:` puts the reader back in step.
    """

    HEADER = b"Content-Length:"

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self.stream.readline(size)
        start = line.find(self.HEADER)
        if start > 0:
            log.warning("skipped %d bytes of malformed input before a message header", start)
            return line[start:]
        return line

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        return data


class Refused(NamedTuple):
    """A message the reader would not take (too large); answered with -32600 and skipped."""

    reason: str


class MessageReader:
    """The stdin reader of the message loop: one whole message per thread hop, headers and bodies bounded.

    It follows pygls' header rules (pygls.io_.run_async: lines before the first `Content-Length: N` line are
    ignored, the body starts after the next empty line), but pygls reads each header line and the body in a
    separate hop of its thread pool (0.1-0.3 ms of every keystroke each) and trusts what it reads: a header
    line is read whatever its length, and `Content-Length: 99999999999` is read at once (MemoryError, the
    server is gone). Here a header block above MAX_HEADER_BYTES or a body above MAX_BODY_BYTES is refused,
    and the input is skipped, in bounded pieces, up to the next `Content-Length:` line.
    """

    CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d{1,20})\r\n$")

    def __init__(
        self,
        stream: Any,
        executor: Any,
        max_header: int = MAX_HEADER_BYTES,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.stream = stream
        self.executor = executor
        self.max_header = max_header
        self.max_body = max_body
        self._skipping = False  # after a refusal: skip input until the next Content-Length line

    def read_frame(self) -> bytes | Refused | None:
        """The next message body, a refusal, or None at the end of the input (blocking)."""
        length = 0
        size = 0
        while True:
            line: bytes = self.stream.readline(self.max_header + 1)
            if not line:
                return None
            match = None if length else self.CONTENT_LENGTH.fullmatch(line)
            if self._skipping:
                if match is None:
                    continue
                self._skipping = False
            size += len(line)
            if size > self.max_header:
                self._skipping = True
                return Refused(f"a message header is larger than {self.max_header} bytes; it was skipped")
            if match is not None:
                length = int(match.group(1))
            if length and not line.strip():
                if length > self.max_body:
                    self._skipping = True
                    return Refused(
                        f"a message of {length} bytes is larger than the {self.max_body} bytes allowed; "
                        "it was skipped"
                    )
                body: bytes = self.stream.read(length)
                return body or None

    def frame(self) -> Awaitable[bytes | Refused | None]:
        return asyncio.get_running_loop().run_in_executor(self.executor, self.read_frame)


async def run_messages(
    stop_event: threading.Event, reader: MessageReader, protocol: PyengineerProtocol
) -> None:
    """The message loop, in place of pygls.io_.run_async: read a frame, answer a refusal, handle a body.

    A handler's SystemExit (`exit`) ends the loop, as in pygls' own, and so the process.
    """
    while not stop_event.is_set():
        frame = await reader.frame()
        if frame is None:
            break
        if isinstance(frame, Refused):
            log.warning("refused a message: %s", frame.reason)
            protocol.send_error(None, JsonRpcInvalidRequest(frame.reason))
            continue
        try:
            protocol.receive(frame)
        except Exception as exc:  # as pygls' loop does for a message it cannot handle
            log.exception("unable to handle a message")
            report_error(protocol, exc, JsonRpcException)


def create_server() -> PyengineerServer:
    from pyengineer.lsp.handlers import register_all

    server = PyengineerServer()
    register_all(server)
    return server


def watch_parent(pid: int, interval: float = 1.0) -> None:
    """Exit when the editor that started us is gone, so no orphan daemons are left behind."""

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            if not alive():
                log.warning("parent process %s is gone; exiting", pid)
                os._exit(0)

    threading.Thread(target=loop, name="pyengineer-parent-watch", daemon=True).start()


def parse_tcp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"--tcp expects [HOST:]PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # only --tcp needs it

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configure_logging(log_file: str | None) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("pyengineer %(levelname)s %(name)s: %(message)s"))
    root.addHandler(stderr)
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # Third-party chatter stays out of the user's log panel.
    for noisy in ("pygls", "watchdog", "git", "httpx", "httpcore", "anthropic", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def end_children() -> None:
    """SIGKILL every child process still running: a `git status` blocked opening a FIFO would otherwise outlive
    the server for good. Children are found in /proc (Linux); elsewhere nothing is done."""
    me = str(os.getpid()).encode()
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()  # after "(command)": state, ppid, ...
            if fields[1] == me:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, IndexError):
            continue  # gone meanwhile


def serve(tcp: str | None = None, allow_remote: bool = False, log_file: str | None = None) -> int:
    configure_logging(log_file)
    server = create_server()
    logging.getLogger().addHandler(server.log_handler)
    if tcp:
        try:
            host, port = parse_tcp(tcp)
        except ValueError as exc:
            print(f"pyengineer: {exc}", file=sys.stderr)
            return 2
        if not is_loopback(host):
            if not allow_remote:
                print(
                    f"pyengineer: refusing to listen on {host}: anyone who can reach it could read your code. "
                    "Use a loopback address, or pass --allow-remote if you really mean it.",
                    file=sys.stderr,
                )
                return 2
            log.warning(
                "listening on non-loopback address %s: anyone who can reach it can read your code", host
            )
        server.start_tcp(host, port)
    else:
        server.start_io(stdin=ResyncingInput(sys.stdin.buffer))  # type: ignore[arg-type]
        # LSP: exit code 0 only if `shutdown` came first (pygls' own SystemExit(1) is swallowed on the way).
        code = 0 if server.shutting_down else 1
        # Exit now: at interpreter exit concurrent.futures joins every worker thread, and one stuck in a system
        # call (git blocked on a FIFO .gitignore, a hung network file system) would keep the process alive.
        end_children()
        logging.shutdown()
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # `exit` closed it
        os._exit(code)
    return 0
