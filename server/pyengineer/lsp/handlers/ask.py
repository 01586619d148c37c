"""The python-engineer agent in the editor: code actions, the `pyengineer.ask` command, progress, cancellation.

Listing code actions never calls the LLM: "Ask python-engineer for a fix" (on a pyengineer diagnostic) and
"Ask python-engineer..." (on a selection) carry the `pyengineer.ask` command, which runs the agent in a worker
thread with cancellable `$/progress`. The proposed edits reach the editor as one `workspace/applyEdit` with
a label, that the user confirms (a change annotation that needs confirmation, or a message with Apply /
Discard for clients without annotations); nothing is applied when the document changed meanwhile.
The same work is offered as the `pyengineer/ask` request, which `$/cancelRequest` cancels.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from pyengineer import names
from pyengineer.agent.credentials import availability
from pyengineer.agent.errors import AgentCancelledError, AgentRequestError
from pyengineer.findings import Edit, Finding, Fix, Range
from pyengineer.lsp import publishing, workspaces
from pyengineer.lsp.convert import LineCodec, ranges_overlap
from pyengineer.lsp.handlers.code_actions import workspace_edit
from pyengineer.lsp.hints import hints_for
from pyengineer.lsp.params import AskArgs, ClientRange, command_argument, parse
from pyengineer.lsp.progress import WorkProgress
from pyengineer.lsp.results import AskResult, wire
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import DocumentSnapshot, WorkspaceState
from pyengineer.session.session import path_to_uri, uri_to_path

if TYPE_CHECKING:
    # The agent loop (and through it the tools and pydantic models) loads on the first request, not at start.
    from pyengineer.agent.loop import AgentResult

log = logging.getLogger(__name__)

ASK_COMMAND = names.ASK
ASK_REQUEST = names.ASK_REQUEST
RESOLVER = "agent"
FIX_TITLE = "Ask python-engineer for a fix"
SELECTION_TITLE = "Ask python-engineer..."
ANNOTATION_ID = "python-engineer"
MAX_MESSAGE_CHARS = 1500
NOT_FOR_THE_AGENT = frozenset({"PE101"})

FIX_QUESTION = "Fix the pyengineer diagnostics at this place ({codes}), with the smallest correct change."
SELECTION_QUESTION = "Review the selected code and propose concrete improvements."
HANDOFF_QUESTION = (
    "Draft the summary section of a hand-off note to the ai-engineer for this file: in a few short Markdown "
    "bullet points, what the ML code does, what is unfinished or risky, and what the ai-engineer should do "
    "next. Call propose_edits with no edits and the summary as the explanation."
)


def _kind_wanted(params: types.CodeActionParams, kind: str) -> bool:
    only = params.context.only
    return not only or any(kind.startswith(str(getattr(k, "value", k))) for k in only)


def _range_json(rng: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def _range_from_args(value: ClientRange) -> types.Range:
    return types.Range(
        start=types.Position(line=value.start.line, character=value.start.character),
        end=types.Position(line=value.end.line, character=value.end.character),
    )


async def agent_code_actions(
    ls: PyengineerServer, params: types.CodeActionParams, snapshot: DocumentSnapshot, findings: list[Finding]
) -> list[types.CodeAction]:
    """The agent's actions for a place: titles and arguments only; the LLM runs when one is picked."""
    if not snapshot.settings.llm.enabled:
        return []
    codec = LineCodec(snapshot.text, ls.position_encoding)
    requested = codec.range_from_client(params.range)
    # Never for the branch rules: PE101's fix is a branch (its own quick fix), not an edit a model could write.
    # The client names the diagnostics the user is on: the fix is for those, not every finding nearby.
    named = {str(d.code) for d in params.context.diagnostics if d.source == "pyengineer"}
    here = [
        f
        for f in findings
        if ranges_overlap(f.range, requested)
        and f.code not in NOT_FOR_THE_AGENT
        and (not named or f.code in named)
    ]
    available, reason = availability(snapshot.settings, ls.session.api_key, hints_for(ls.editor))
    greyed = ls.client.code_action_disabled
    if not available and not greyed:
        # A client that cannot grey an action out would offer one that only says "no key": offer none.
        return []
    actions: list[types.CodeAction] = []
    arguments = {"uri": snapshot.uri, "range": _range_json(params.range)}
    if here and _kind_wanted(params, types.CodeActionKind.QuickFix.value):
        codes = sorted({f.code for f in here})
        actions.append(
            types.CodeAction(
                title=FIX_TITLE,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[d for d in params.context.diagnostics if d.source == "pyengineer"] or None,
                data={"resolver": RESOLVER, **arguments, "mode": "fix", "codes": codes},
            )
        )
    if requested.start != requested.end and _kind_wanted(params, types.CodeActionKind.RefactorRewrite.value):
        actions.append(
            types.CodeAction(
                title=SELECTION_TITLE,
                kind=types.CodeActionKind.RefactorRewrite,
                data={"resolver": RESOLVER, **arguments, "mode": "selection"},
            )
        )
    code_action_caps = getattr(ls.client_capabilities.text_document, "code_action", None)
    resolve_support = getattr(code_action_caps, "resolve_support", None)
    lazy = "command" in (getattr(resolve_support, "properties", None) or ())
    for action in actions:
        if not available:
            # The editor shows the action greyed out with the reason: how to enable the agent.
            action.disabled = types.CodeActionDisabled(reason=reason)
        elif not lazy:
            # Without resolve support the command comes now; it runs when picked.
            _fill_command(action)
    return actions


def _fill_command(action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    arguments = {key: data[key] for key in ("uri", "range", "mode", "codes") if key in data}
    action.command = types.Command(title=action.title, command=ASK_COMMAND, arguments=[arguments])
    return action


async def resolve_agent_action(ls: PyengineerServer, action: types.CodeAction) -> types.CodeAction:
    if action.command is None:
        _fill_command(action)
    return action


# -- running the agent ----------------------------------------------------------------------------------------


async def _run_cancellable(
    ls: PyengineerServer, work: partial[AgentResult], cancel: threading.Event
) -> AgentResult:
    """Run the agent in its own pool (never the diagnostics'); return as soon as `cancel` is set.

    The agent closes its HTTP stream at once on cancel and wakes from a wait between retries; the editor's
    request is answered now either way, and the thread ends on its own a moment later.
    """
    future = asyncio.get_running_loop().run_in_executor(ls.agent_executor, work)
    # When we stop waiting, the thread's own outcome (usually AgentCancelledError) is not news: consume it.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    while True:
        done, _ = await asyncio.wait([future], timeout=0.1)
        if done:
            return future.result()
        if cancel.is_set():
            raise AgentCancelledError("the request was cancelled")


def record_usage(ls: PyengineerServer, state: WorkspaceState, result: AgentResult) -> None:
    """Keep the last request's usage (and the workspace's running totals) for `pyengineer/status`."""
    key = str(state.root)
    previous = ls.llm_usage.get(key) or {}
    totals = dict(previous.get("totals") or {})
    usage = result.usage
    for name, value in (
        ("inputTokens", usage.input_tokens),
        ("outputTokens", usage.output_tokens),
        ("cacheReadInputTokens", usage.cache_read_input_tokens),
        ("cacheCreationInputTokens", usage.cache_creation_input_tokens),
        ("requests", 1),
    ):
        totals[name] = int(totals.get(name, 0)) + value
    ls.llm_usage[key] = {
        "model": result.model,
        "last": {
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "cacheReadInputTokens": usage.cache_read_input_tokens,
            "cacheCreationInputTokens": usage.cache_creation_input_tokens,
            "apiCalls": usage.api_calls,
            "redactions": result.redactions,
            "limit": result.limit,
        },
        "totals": totals,
    }
    workspaces.send_status(ls, state)


async def _state_for(ls: PyengineerServer, path: Path | None) -> WorkspaceState:
    if path is not None:
        state = ls.session.workspace_for(path)
    elif ls.session.workspaces:
        state = next(iter(ls.session.workspaces.values()))
    else:
        raise ValueError("no workspace is open; pass a 'uri'")
    await workspaces.ensure_loaded(ls, state)
    await workspaces.ready_event(ls, state).wait()
    return state


def _open_documents(ls: PyengineerServer, root: Path, skip: str | None) -> dict[str, str]:
    return {
        str(doc.path): doc.text
        for uri, doc in ls.session.documents.items()
        if uri != skip and doc.path.is_relative_to(root)
    }


def _open_versions(ls: PyengineerServer) -> dict[str, int | None]:
    # The revision, not the editor's version: a client may send the same version twice with new text.
    return {uri: doc.revision for uri, doc in ls.session.documents.items()}


def _stale(ls: PyengineerServer, edits: tuple[Edit, ...], before: dict[str, int | None]) -> bool:
    """True if a file to edit was changed in (or opened into) the editor since the agent started."""
    now = _open_versions(ls)
    return any(now.get(uri) != before.get(uri) for uri in {path_to_uri(e.path) for e in edits})


def _annotate(edit: types.WorkspaceEdit, label: str, description: str) -> types.WorkspaceEdit:
    """Mark every text edit as needing the user's confirmation (the client shows a preview first)."""
    changes: list[Any] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            change = types.TextDocumentEdit(
                text_document=change.text_document,
                edits=[
                    types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ANNOTATION_ID)
                    if isinstance(e, types.TextEdit)
                    else e
                    for e in change.edits
                ],
            )
        changes.append(change)
    edit.document_changes = changes
    edit.change_annotations = {
        ANNOTATION_ID: types.ChangeAnnotation(label=label, needs_confirmation=True, description=description)
    }
    return edit


def _with_created_files(edit: types.WorkspaceEdit, new_files: list[str]) -> types.WorkspaceEdit:
    creates: list[Any] = [
        types.CreateFile(uri=path_to_uri(p), options=types.CreateFileOptions(ignore_if_exists=True))
        for p in new_files
    ]
    edit.document_changes = [*creates, *(edit.document_changes or [])]
    return edit


def _label(result: AgentResult) -> str:
    files = {e.path for e in result.edits}
    return (
        f"python-engineer: {len(result.edits)} edit{'s' if len(result.edits) != 1 else ''} in "
        f"{len(files)} file{'s' if len(files) != 1 else ''}"
    )


def _summary(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...]"


async def _offer_edits(
    ls: PyengineerServer,
    state: WorkspaceState,
    snapshot: DocumentSnapshot | None,
    result: AgentResult,
    versions: dict[str, int | None],
) -> tuple[bool, str]:
    """Send the edits for the user to accept; (applied, why not)."""
    if _stale(ls, result.edits, versions):
        return False, "a file changed while python-engineer was working; nothing was applied, ask again"
    new_files = [e.path for e in result.edits if not Path(e.path).exists()]
    if new_files and not ls.client.resource_operations:
        return False, "your editor cannot create files through LSP; run pyengineer ask --apply in a terminal"
    # Without a document of the request, every file's positions are converted from its text on disk.
    anchor = snapshot or DocumentSnapshot(
        uri="",
        path="",
        relative="",
        text="",
        version=None,
        changed=False,
        settings=state.settings,
        context=state.current_context(),
        root=state.root,
    )
    edit = workspace_edit(ls, anchor, Fix(title="python-engineer", edits=result.edits))
    if new_files and edit.document_changes is not None:
        edit = _with_created_files(edit, sorted(set(new_files)))
    label = _label(result)
    annotations = ls.client.change_annotations
    if annotations and edit.document_changes is not None:
        edit = _annotate(edit, label, _summary(result.explanation)[:200])
    else:
        choice = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=f"{label}.\n\n{_summary(result.explanation)}",
                actions=[types.MessageActionItem(title="Apply"), types.MessageActionItem(title="Discard")],
            )
        )
        if choice is None or choice.title != "Apply":
            return False, "discarded"
    response = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    if not response.applied:
        return False, response.failure_reason or "the editor did not apply the edits"
    return True, ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


async def run_ask(ls: PyengineerServer, arg: AskArgs, cancel: threading.Event) -> dict[str, Any]:
    """Run one agent request for the editor and offer its edits; the answer is an `AskResult` on the wire.

    Nothing here sends window/showMessage: the client shows the answer's `message` (and `explanation`) once.
    """
    uri = arg.uri or None
    path = uri_to_path(uri) if uri else None
    try:
        state = await _state_for(ls, path)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None
    settings = state.settings
    hints = hints_for(ls.editor)
    available, reason = availability(settings, ls.session.api_key, hints)
    if not available:
        return wire(AskResult(status="unavailable", message=_sentence(reason) + "."))
    snapshot: DocumentSnapshot | None = None
    findings: tuple[Finding, ...] = ()
    rng: Range | None = None
    if uri is not None:
        found = await publishing.findings_for(ls, uri)
        if found is not None:
            snapshot, all_findings = found
            if arg.range is not None:
                client_range = _range_from_args(arg.range)
                rng = LineCodec(snapshot.text, ls.position_encoding).range_from_client(client_range)
                findings = tuple(f for f in all_findings if ranges_overlap(f.range, rng))
    mode = arg.mode
    question = arg.question
    if not question:
        codes = ", ".join(sorted({f.code for f in findings})) or "none found"
        question = FIX_QUESTION.format(codes=codes) if mode == "fix" else SELECTION_QUESTION
    from pyengineer.agent.loop import AgentRequest, run_agent

    request = AgentRequest(
        root=state.root,
        question=question,
        path=snapshot.path if snapshot else (str(path) if path else None),
        range=rng,
        document_text=snapshot.text if snapshot else None,
        findings=findings,
        open_documents=_open_documents(ls, state.root, uri),
        context=state.current_context().model_dump(mode="json"),
        failing_test=arg.failing_test,
        hints=hints,
    )
    progress = WorkProgress(ls, cancel, "agent")
    await progress.begin("python-engineer")
    versions = _open_versions(ls)
    if snapshot is not None:
        versions[snapshot.uri] = snapshot.revision
    try:
        result = await _run_cancellable(
            ls,
            partial(
                run_agent,
                request,
                settings,
                api_key=ls.session.api_key,
                on_progress=progress.report,
                cancel=cancel,
            ),
            cancel,
        )
    except asyncio.CancelledError:
        cancel.set()
        progress.end("cancelled")
        raise
    except AgentCancelledError:
        progress.end("cancelled")
        return wire(AskResult(status="cancelled", message="The request was cancelled."))
    except AgentRequestError as exc:
        progress.end("failed")
        status = "unavailable" if exc.kind == "unavailable" else "failed"
        return wire(AskResult(status=status, kind=exc.kind, message=_sentence(str(exc))))  # type: ignore[arg-type]
    record_usage(ls, state, result)
    if result.redactions:
        log.info("python-engineer: %d secret(s) redacted before sending", result.redactions)
    answer: dict[str, Any] = {
        "explanation": result.explanation,
        "edits": len(result.edits),
        "redactions": result.redactions,
        "redaction_kinds": tuple(result.redaction_kinds),
        "usage": result.usage.model_dump(),
    }
    if result.refusal is not None:
        progress.end("declined")
        message = f"python-engineer declined: {result.refusal}"
        return wire(AskResult(status="refused", message=message, **answer))
    if result.limit is not None:
        progress.end("stopped")
        return wire(
            AskResult(status="limit", message=f"python-engineer stopped early: {result.limit}.", **answer)
        )
    progress.end(f"{len(result.edits)} edit(s) proposed")
    if cancel.is_set():
        return wire(AskResult(status="cancelled", message="The request was cancelled."))
    if not result.edits:
        return wire(AskResult(status="ok", message="python-engineer answered (no edits proposed).", **answer))
    applied, why = await _offer_edits(ls, state, snapshot, result, versions)
    if applied:
        message = f"python-engineer's edit{'s were' if len(result.edits) != 1 else ' was'} applied."
    elif why == "discarded":
        message = "The proposed edits were discarded."
    else:
        message = f"Nothing was applied: {why}."
    return wire(AskResult(status="ok", message=message, applied=applied, reason=why or None, **answer))


async def draft_handoff_summary(ls: PyengineerServer, state: WorkspaceState, source: Any) -> str | None:
    """The LLM-drafted summary section of a hand-off document, or None when the agent is not available."""
    available, _ = availability(state.settings, ls.session.api_key)
    if not available:
        return None
    from pyengineer.agent.loop import AgentRequest, run_agent

    request = AgentRequest(
        root=state.root,
        question=HANDOFF_QUESTION,
        path=str(source.path),
        document_text=source.text,
        context=state.current_context().model_dump(mode="json"),
    )
    cancel = threading.Event()
    progress = WorkProgress(ls, cancel, "agent")
    await progress.begin("python-engineer: drafting the hand-off")
    try:
        result = await asyncio.get_running_loop().run_in_executor(
            ls.agent_executor,
            partial(
                run_agent,
                request,
                state.settings,
                api_key=ls.session.api_key,
                on_progress=progress.report,
                cancel=cancel,
            ),
        )
    except asyncio.CancelledError:
        cancel.set()
        raise
    except AgentRequestError as exc:
        log.warning("the hand-off summary could not be drafted: %s", exc)
        return None
    finally:
        progress.end("done")
    record_usage(ls, state, result)
    return result.explanation.strip() or None if result.complete else None


def register(server: PyengineerServer) -> None:
    server.extra_code_actions.append(agent_code_actions)
    server.code_action_resolvers[RESOLVER] = resolve_agent_action
    server.handoff_drafters.append(draft_handoff_summary)

    @server.command(ASK_COMMAND)
    async def ask_command(ls: PyengineerServer, *args: Any) -> dict[str, Any]:
        return await run_ask(ls, command_argument(AskArgs, ASK_COMMAND, args), threading.Event())

    @server.feature(ASK_REQUEST)
    async def ask_request(ls: PyengineerServer, params: Any) -> dict[str, Any]:
        # Run as an asyncio task by pygls, so $/cancelRequest cancels it: run_ask turns that into `cancel`.
        return await run_ask(ls, parse(AskArgs, params, ASK_REQUEST), threading.Event())
