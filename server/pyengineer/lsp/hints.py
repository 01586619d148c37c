"""Which editor we serve, and the advice about the API key and the base URL that fits it.

A hint must name what the user can do where they are: in VS Code the "pyengineer: Set Anthropic API Key"
command and the `pyengineer.llm.baseUrl` setting, in Neovim `:PyengineerApiKey` and the `settings.llm.baseUrl`
option of `setup()`, in any other client the server's environment (the CLI's hints). Our two clients say who
they are in `initializationOptions.editor`; other builds of them are recognised by `clientInfo.name`
("Visual Studio Code", "code-server", "VSCodium", "Neovim").
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from lsprotocol import types

if TYPE_CHECKING:
    from pyengineer.agent.credentials import Hints

Editor = Literal["vscode", "neovim", "other"]


def editor_of(params: types.InitializeParams, options: dict[str, Any]) -> Editor:
    """The editor from our clients' `initializationOptions.editor`, else from `clientInfo.name`."""
    said = options.get("editor")
    if said in ("vscode", "neovim"):
        return "vscode" if said == "vscode" else "neovim"
    name = (params.client_info.name if params.client_info is not None else "").lower()
    if "code" in name or "vscodium" in name:  # Visual Studio Code, code-server, Code - OSS, VSCodium
        return "vscode"
    if "neovim" in name or name == "nvim":
        return "neovim"
    return "other"


@cache
def hints_for(editor: str) -> Hints:
    """The hints for `editor` (built on first use: `editor_of` runs in `initialize`, before pydantic loads)."""
    from pyengineer.agent.credentials import API_KEY_ENV, BASE_URL_ENV, CLI_HINTS, Hints

    if editor == "vscode":
        return Hints(
            set_key='run "pyengineer: Set Anthropic API Key" from the Command Palette',
            base_url="the pyengineer.llm.baseUrl setting",
            enable="the pyengineer.llm.enabled setting, or [tool.pyengineer.llm] enabled in pyproject.toml",
            replace_key='run "pyengineer: Set Anthropic API Key" to replace the key',
        )
    if editor == "neovim":
        return Hints(
            set_key=f"run :PyengineerApiKey, or pass api_key to setup() (or set {API_KEY_ENV} for Neovim)",
            base_url="settings = { llm = { baseUrl = ... } } in setup()",
            enable="settings = { llm = { enabled = true } } in setup(), or [tool.pyengineer.llm] enabled",
            # A key is set: `:PyengineerApiKey` is advice for a missing key only.
            replace_key=f"check the api_key given to setup() or {API_KEY_ENV}",
        )
    return Hints(
        set_key=f"pass apiKey in initializationOptions, or set {API_KEY_ENV} in the server's environment",
        base_url=f"{BASE_URL_ENV} in the server's environment or [tool.pyengineer.llm] base-url",
        enable=CLI_HINTS.enable,
        replace_key=f"check the apiKey in initializationOptions or {API_KEY_ENV}",
    )
