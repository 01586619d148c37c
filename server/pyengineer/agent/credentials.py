"""Where the API key comes from, and whether the agent can run: cheap, without importing the SDK.

Credentials come from the caller (the editor's settings) or from the SDK's own environment variables,
`ANTHROPIC_API_KEY` (or `ANTHROPIC_AUTH_TOKEN` for a gateway). The key is never logged, echoed or written down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pyengineer.config import Settings

API_KEY_ENV = "ANTHROPIC_API_KEY"
AUTH_TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

HOW_TO_ENABLE = (
    f"set {API_KEY_ENV} in the environment of the editor or terminal (or pass an API key in the editor's "
    "pyengineer settings) to enable the python-engineer agent"
)


@dataclass(frozen=True)
class Credentials:
    """An API key or a bearer token for a gateway; never shown in reprs or logs."""

    api_key: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    source: str = ""

    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.api_key, self.auth_token) if value)


def resolve_credentials(api_key: str | None = None) -> Credentials | None:
    """The key passed by the caller, else the SDK's environment variables, else None."""
    if api_key and api_key.strip():
        return Credentials(api_key=api_key.strip(), source="settings")
    env_key = os.environ.get(API_KEY_ENV, "").strip()
    if env_key:
        return Credentials(api_key=env_key, source=API_KEY_ENV)
    env_token = os.environ.get(AUTH_TOKEN_ENV, "").strip()
    if env_token:
        return Credentials(auth_token=env_token, source=AUTH_TOKEN_ENV)
    return None


def availability(settings: Settings, api_key: str | None = None) -> tuple[bool, str]:
    """Whether the agent can run, and a sentence saying why not (or which model it will use)."""
    if not settings.llm.enabled:
        return False, "the python-engineer agent is disabled in the settings ([tool.pyengineer.llm] enabled)"
    credentials = resolve_credentials(api_key)
    if credentials is None:
        return False, HOW_TO_ENABLE
    return True, f"python-engineer agent ready ({settings.llm.model}, key from {credentials.source})"
