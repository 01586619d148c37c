"""Why an agent request failed, one class per thing the user can act on."""

from __future__ import annotations

from typing import ClassVar

from pyengineer.errors import AgentError


class AgentRequestError(AgentError):
    """An agent request that failed; `kind` is a stable short name for logs and the status line."""

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None) -> None:
        self.status = status
        self.request_id = request_id
        super().__init__(message)


class AgentUnavailableError(AgentRequestError):
    """No API key, or the agent is disabled in the settings."""

    kind = "unavailable"


class AgentAuthenticationError(AgentRequestError):
    kind = "authentication"


class AgentPermissionError(AgentRequestError):
    kind = "permission"


class AgentModelNotFoundError(AgentRequestError):
    kind = "model-not-found"


class AgentBadRequestError(AgentRequestError):
    kind = "bad-request"


class AgentRateLimitError(AgentRequestError):
    kind = "rate-limit"


class AgentSpendLimitError(AgentRateLimitError):
    """A 429 that waiting does not cure: the spend limit or the credits of the organisation are used up."""

    kind = "spend-limit"


class AgentServerError(AgentRequestError):
    kind = "server-error"


class AgentOverloadedError(AgentRequestError):
    kind = "overloaded"


class AgentTimeoutError(AgentRequestError):
    kind = "timeout"


class AgentConnectionError(AgentRequestError):
    kind = "network"


class AgentCancelledError(AgentRequestError):
    kind = "cancelled"


class AgentRefusedError(AgentRequestError):
    """The request itself is refused before anything is sent (for example, it is about a secret file)."""

    kind = "refused"
