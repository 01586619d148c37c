"""What the status line says about the LLM agent: enabled, usable, and if not, how to enable it."""

from __future__ import annotations

from typing import Any

from pyengineer.agent.credentials import availability
from pyengineer.lsp.hints import hints_for
from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceState


def llm_status(ls: PyengineerServer, state: WorkspaceState) -> dict[str, Any]:
    llm = state.settings.llm
    available, reason = availability(state.settings, ls.session.api_key, hints_for(ls.editor))
    return {"enabled": llm.enabled, "available": available, "reason": reason, "model": llm.model}
