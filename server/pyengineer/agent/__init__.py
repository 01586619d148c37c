"""The python-engineer LLM agent: grounded suggestions from Claude, as edits the user reviews.

Front ends call `run_agent` from a worker thread and `availability` for the status line. Importing this
package does not import the anthropic SDK; a request that is sent does.
"""

from typing import TYPE_CHECKING, Any

from pyengineer.agent.credentials import availability

if TYPE_CHECKING:
    from pyengineer.agent.loop import AgentRequest, AgentResult, Usage, run_agent

__all__ = ["AgentRequest", "AgentResult", "Usage", "availability", "run_agent"]


def __getattr__(name: str) -> Any:
    # The loop and its tools load when first used, so the server's start (which only asks `availability`)
    # does not pay for them.
    if name in ("AgentRequest", "AgentResult", "Usage", "run_agent"):
        from pyengineer.agent import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
