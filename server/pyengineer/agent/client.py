"""The Anthropic client for one request, and API errors turned into messages a user can act on.

`ANTHROPIC_BASE_URL` works as the SDK documents it; our `llm.base_url` setting overrides it only when set.
This module imports the SDK, which is slow to import: only the agent loop imports it, when a request runs.
"""

from __future__ import annotations

import re
from typing import Any

import anthropic

from pyengineer.agent.credentials import CLI_HINTS, Credentials, Hints
from pyengineer.agent.errors import (
    AgentAuthenticationError,
    AgentBadRequestError,
    AgentConnectionError,
    AgentModelNotFoundError,
    AgentOverloadedError,
    AgentPermissionError,
    AgentRateLimitError,
    AgentRequestError,
    AgentServerError,
    AgentSpendLimitError,
    AgentTimeoutError,
)
from pyengineer.config import Settings
from pyengineer.redaction import redact

# The organisation's spend limit or credits, not a rate limit: a 429 that no wait cures.
_SPEND_LIMIT = re.compile(
    r"spend(?:ing)? limit|usage limits?\b|credit balance|billing|usage credits|extra usage", re.IGNORECASE
)


def make_client(settings: Settings, credentials: Credentials, *, max_retries: int = 0) -> anthropic.Anthropic:
    """A client for one request; its own connection pool, so closing it cancels only this request.

    The SDK's retries are off by default: the agent loop retries itself, within its deadline.
    """
    return anthropic.Anthropic(
        api_key=credentials.api_key,
        auth_token=credentials.auth_token,
        # None lets the SDK read ANTHROPIC_BASE_URL, as users of the SDK expect.
        base_url=settings.llm.base_url or None,
        max_retries=max_retries,
        timeout=settings.llm.timeout,
    )


def _api_message(exc: anthropic.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return ""


def api_error_type(exc: anthropic.APIStatusError) -> str:
    """The `error.type` of the API's error body ("overloaded_error"...), also for a mid-stream error event."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", ""))
    return ""


def _clean(message: str, credentials: Credentials | None) -> str:
    """An error text from the API or a proxy, with our own credentials and any other secret removed."""
    for secret in credentials.secrets() if credentials else ():
        message = message.replace(secret, "[REDACTED]")
    message = redact(message).text
    return message[:300]


def translate_error(
    exc: Exception,
    *,
    model: str,
    base_url: str,
    credentials: Credentials | None = None,
    hints: Hints = CLI_HINTS,
) -> AgentRequestError:
    """An SDK exception as an AgentRequestError whose message says what happened and what to do."""
    if isinstance(exc, anthropic.APITimeoutError):
        return AgentTimeoutError(f"the request to the Anthropic API at {base_url} timed out; try again")
    if isinstance(exc, anthropic.APIConnectionError):
        return AgentConnectionError(
            f"could not reach the Anthropic API at {base_url}: check the network connection, "
            f"or the proxy or gateway in {hints.base_url}"
        )
    if not isinstance(exc, anthropic.APIStatusError):
        return AgentRequestError(f"the agent request failed: {_clean(str(exc), credentials)}")
    status = exc.status_code
    error_type = api_error_type(exc)
    detail = _clean(_api_message(exc), credentials)
    said = f" (the API said: {detail})" if detail else ""
    request_id = exc.request_id
    if status == 401 or error_type == "authentication_error":
        return AgentAuthenticationError(
            f"the Anthropic API rejected the API key (401){said}: {hints.fix_key}",
            status=status,
            request_id=request_id,
        )
    if status == 403 or error_type == "permission_error":
        return AgentPermissionError(
            f"the API key is not allowed to do this (403){said}: check the key's workspace and model access",
            status=status,
            request_id=request_id,
        )
    if status == 404 or error_type == "not_found_error":
        return AgentModelNotFoundError(
            f"model {model!r} was not found (404){said}: set [tool.pyengineer.llm] model to a model your "
            "account can use",
            status=status,
            request_id=request_id,
        )
    if (status == 429 or error_type == "rate_limit_error") and _SPEND_LIMIT.search(detail):
        return AgentSpendLimitError(
            f"the Anthropic API refused the request: the spend limit or credits are used up (429){said}: "
            "raise the limit or add credits in the Anthropic Console; retrying would not help",
            status=status,
            request_id=request_id,
        )
    if status == 429 or error_type == "rate_limit_error":
        return AgentRateLimitError(
            f"rate limited by the Anthropic API (429){said}: wait a minute and try again, or lower "
            "[tool.pyengineer.llm] token-budget",
            status=status,
            request_id=request_id,
        )
    if status == 529 or error_type == "overloaded_error":
        return AgentOverloadedError(
            f"the Anthropic API is overloaded (529){said}: try again in a few minutes",
            status=status,
            request_id=request_id,
        )
    if status >= 500 or error_type == "api_error":
        return AgentServerError(
            f"the Anthropic API had an internal error ({status}){said}: try again later",
            status=status,
            request_id=request_id,
        )
    if status == 413 or error_type == "request_too_large":
        return AgentBadRequestError(
            f"the request is too large for the API (413){said}: ask about a smaller part of the code",
            status=status,
            request_id=request_id,
        )
    return AgentBadRequestError(
        f"the Anthropic API refused the request ({status}){said}", status=status, request_id=request_id
    )
