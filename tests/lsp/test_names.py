"""The command IDs and custom methods the editors use are the server's (pyengineer/names.py, lsp/features.py).

The clients keep their own copies (TypeScript and Lua cannot import ours); these tests read them from the
clients' sources, so a renamed command fails here rather than in the editor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pyengineer import names
from pyengineer.lsp import features

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / "vscode-extension"
NEOVIM = REPO / "neovim" / "lua"

SERVER_COMMANDS = {c.command for c in features.COMMANDS}
# Methods the clients may send (requests, notifications) or receive (notifications the server sends).
SERVER_METHODS = {f.method for f in features.FEATURES if f.method.startswith("pyengineer/")} | {
    names.SET_API_KEY,
    names.STATUS,
}
ID = r"pyengineer\.[A-Za-z]+"
METHOD = r"pyengineer/[A-Za-z]+"


def _sources(folder: Path, suffix: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob(f"*{suffix}")))


def test_the_table_registers_every_named_command_once() -> None:
    assert sorted(SERVER_COMMANDS) == sorted(names.COMMANDS)
    assert len(features.COMMANDS) == len(SERVER_COMMANDS)


def test_neovim_runs_only_server_commands_and_methods() -> None:
    lua = _sources(NEOVIM, ".lua")
    executed = set(re.findall(rf'M\.execute\(\s*"({ID})"', lua))
    assert executed, "no M.execute calls found: did the plugin change its shape?"
    assert executed <= SERVER_COMMANDS, executed - SERVER_COMMANDS
    methods = set(re.findall(rf'"({METHOD})"', lua))
    assert methods and methods <= SERVER_METHODS, methods - SERVER_METHODS


def test_vscode_runs_only_server_commands_and_methods_and_its_own_do_not_clash() -> None:
    ts = _sources(VSCODE / "src", ".ts")
    executed = set(re.findall(rf"serverCommand<[^(]*?>\(\s*'({ID})'", ts, flags=re.S))
    assert executed, "no serverCommand calls found: did the extension change its shape?"
    assert executed <= SERVER_COMMANDS, executed - SERVER_COMMANDS
    methods = set(re.findall(rf"'({METHOD})'", ts))
    assert methods and methods <= SERVER_METHODS, methods - SERVER_METHODS
    # The language client registers every command the server advertises; one of the extension's own with
    # the same ID would fail to register ("command already exists").
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    contributed = {c["command"] for c in manifest["contributes"]["commands"]}
    assert contributed and not contributed & SERVER_COMMANDS, contributed & SERVER_COMMANDS
