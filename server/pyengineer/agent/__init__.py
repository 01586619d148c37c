"""The python-engineer LLM agent: grounded suggestions from Claude, as edits the user reviews.

Front ends call `run_agent` from a worker thread and `availability` for the status line. Importing this
package does not import the anthropic SDK; a request that is sent does.
"""

from pyengineer.agent.credentials import availability
from pyengineer.agent.loop import AgentRequest, AgentResult, Usage, run_agent

__all__ = ["AgentRequest", "AgentResult", "Usage", "availability", "run_agent"]
