"""What the status line says about the LLM agent: enabled, usable, and if not, how to enable it."""

from __future__ import annotations

import os
from typing import Any

from pyengineer.lsp.server import PyengineerServer
from pyengineer.session import WorkspaceState


def llm_status(ls: PyengineerServer, state: WorkspaceState) -> dict[str, Any]:
    llm = state.settings.llm
    if not llm.enabled:
        return {
            "enabled": False,
            "available": False,
            "reason": "disabled by the llm.enabled setting",
            "model": llm.model,
        }
    if ls.session.api_key or os.environ.get("ANTHROPIC_API_KEY"):
        return {"enabled": True, "available": True, "reason": "ready", "model": llm.model}
    return {
        "enabled": True,
        "available": False,
        "reason": "no API key: set ANTHROPIC_API_KEY, or use 'Set Anthropic API Key' in your editor",
        "model": llm.model,
    }
