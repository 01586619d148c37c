"""The names the server shares with its clients and across its layers: command IDs and custom methods.

One place, so the engine (which names the command a finding's fix runs), the LSP layer (which registers it),
and the editors (vscode-extension/, neovim/, which keep their own copies) cannot drift apart:
tests/lsp/test_names.py checks the clients' copies against these. Imports nothing.
"""

from __future__ import annotations

# workspace/executeCommand IDs the server registers.
SUGGEST_BRANCH_NAMES = "pyengineer.suggestBranchNames"
CREATE_BRANCH = "pyengineer.createBranch"
MOVE_COMMITS = "pyengineer.moveCommits"
HANDOFF = "pyengineer.handoff"
SHOW_CONTEXT = "pyengineer.showContext"
RESCAN = "pyengineer.rescan"
ASK = "pyengineer.ask"
RUN_TESTS = "pyengineer.runTests"
FIX_TEST = "pyengineer.fixTest"

COMMANDS = (
    SUGGEST_BRANCH_NAMES,
    CREATE_BRANCH,
    MOVE_COMMITS,
    HANDOFF,
    SHOW_CONTEXT,
    RESCAN,
    ASK,
    RUN_TESTS,
    FIX_TEST,
)

# Custom JSON-RPC methods (docs/protocol.md).
ASK_REQUEST = "pyengineer/ask"  # request, client -> server (cancellable)
SET_API_KEY = "pyengineer/setApiKey"  # notification, client -> server
STATUS = "pyengineer/status"  # notification, server -> client

# The settings section (workspace/configuration) and the diagnostics' `source`.
SECTION = "pyengineer"
SOURCE = "pyengineer"
# The source.fixAll kind of our safe fixes (code actions).
FIX_ALL_KIND = "source.fixAll.pyengineer"
