"""Settings from the editor: initializationOptions, workspace/configuration pull, didChangeConfiguration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lsprotocol import types

from pyengineer import names
from pyengineer.lsp.server import PyengineerServer

log = logging.getLogger(__name__)

SECTION = names.SECTION
SET_API_KEY = names.SET_API_KEY
# Settings only the editor extension uses (how to start us); the server ignores them.
CLIENT_ONLY = {"serverPath", "interpreter", "trace", "server_path", "server-path"}


def editor_settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if k not in CLIENT_ONLY and v is not None}


async def pull_configuration(ls: PyengineerServer) -> None:
    """Ask the client for the `pyengineer` section, globally and per workspace folder."""
    if not ls.client.configuration:
        return
    states = list(ls.session.workspaces.values())
    items = [types.ConfigurationItem(section=SECTION)] + [
        types.ConfigurationItem(scope_uri=s.uri, section=SECTION) for s in states
    ]
    try:
        result = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return
    if not result:
        return
    ls.session.editor_settings.update(editor_settings(result[0]))
    for state, value in zip(states, result[1:], strict=False):
        ls.session.folder_settings[state.root] = editor_settings(value)


def register(server: PyengineerServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: PyengineerServer, params: types.DidChangeConfigurationParams
    ) -> None:
        # Imported here, not at the top: this module is registered before `initialize` is answered.
        from pyengineer.lsp import workspaces

        settings = params.settings
        if (
            isinstance(settings, Mapping)
            and "apiKey" in settings
            and isinstance(settings.get("apiKey"), str | None)
        ):
            ls.session.api_key = settings.get("apiKey") or None
        if ls.client.configuration:
            # Pull even when settings came with the notification: a pushed object holds only the global
            # values, and folder-level settings of a multi-root workspace would be lost.
            await pull_configuration(ls)
        elif isinstance(settings, Mapping) and isinstance(settings.get(SECTION), Mapping):
            ls.session.editor_settings = editor_settings(settings[SECTION])
            ls.session.folder_settings.clear()
        for state in list(ls.session.workspaces.values()):
            ls.spawn(workspaces.reload(ls, state))

    @server.feature(SET_API_KEY)
    def set_api_key(ls: PyengineerServer, params: Any) -> None:
        from pygls.exceptions import JsonRpcInvalidParams

        from pyengineer.lsp import workspaces
        from pyengineer.lsp.params import SetApiKeyParams, parse

        try:
            key = parse(SetApiKeyParams, params, SET_API_KEY).apiKey
        except JsonRpcInvalidParams as exc:
            # A notification has no answer: say it where the user looks, and keep the key there was.
            log.warning("%s", exc)
            ls.show_message(f"pyengineer: {exc}", types.MessageType.Error)
            return
        ls.session.api_key = key or None
        log.info("Anthropic API key %s", "set" if ls.session.api_key else "cleared")
        for state in list(ls.session.workspaces.values()):
            workspaces.send_status(ls, state)
