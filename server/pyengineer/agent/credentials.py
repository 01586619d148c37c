"""Where the API key comes from, and whether the agent can run: cheap, without importing the SDK.

Credentials come from the caller (the editor's secret storage or settings) or from the SDK's own environment
variables, `ANTHROPIC_API_KEY` (or `ANTHROPIC_AUTH_TOKEN` for a gateway). The key is never logged, echoed or
written down. The advice in the messages comes from `Hints`: each front end names its own command or setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pyengineer.config import Settings

API_KEY_ENV = "ANTHROPIC_API_KEY"
AUTH_TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


@dataclass(frozen=True)
class Hints:
    """What the user can do, in the front end they are in, about the key, the base URL and enabling the agent.

    Each is a phrase that fits after "to fix this,": the CLI's are environment variables and pyproject keys,
    an editor's are its own command and setting (lsp/hints.py picks them from the client).
    """

    set_key: str
    base_url: str
    enable: str
    replace_key: str = ""  # when a key is set but rejected; empty means `set_key` says it

    @property
    def fix_key(self) -> str:
        return self.replace_key or self.set_key


CLI_HINTS = Hints(
    set_key=f"set {API_KEY_ENV} in the environment",
    base_url=f"{BASE_URL_ENV} or [tool.pyengineer.llm] base-url",
    enable="[tool.pyengineer.llm] enabled in pyproject.toml",
    replace_key=f"check {API_KEY_ENV}",
)


def no_key_message(hints: Hints) -> str:
    """The one sentence shown when there is no key: what to do, where the user is."""
    return f"no Anthropic API key: {hints.set_key} to enable the python-engineer agent"


def disabled_message(hints: Hints) -> str:
    return f"the python-engineer agent is disabled ({hints.enable})"


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


def availability(
    settings: Settings, api_key: str | None = None, hints: Hints = CLI_HINTS
) -> tuple[bool, str]:
    """Whether the agent can run, and a sentence saying why not (or which model it will use)."""
    if not settings.llm.enabled:
        return False, disabled_message(hints)
    credentials = resolve_credentials(api_key)
    if credentials is None:
        return False, no_key_message(hints)
    return True, f"python-engineer agent ready ({settings.llm.model}, key from {credentials.source})"
