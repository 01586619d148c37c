"""What the client can do, resolved once at `initialize` (in place of dotted lookups in every handler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types


def _at(node: Any, *path: str) -> Any:
    for part in path:
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


@dataclass(frozen=True)
class ClientFeatures:
    """The client capabilities the server acts on; all False before `initialize`."""

    configuration: bool = False  # workspace/configuration (settings are pulled)
    work_done_progress: bool = False  # window/workDoneProgress/create
    show_document: bool = False  # window/showDocument
    pull_diagnostics: bool = False  # textDocument/diagnostic
    diagnostic_refresh: bool = False  # workspace/diagnostic/refresh
    document_changes: bool = False  # WorkspaceEdit.documentChanges
    resource_operations: bool = False  # create/rename/delete files in a WorkspaceEdit
    change_annotations: bool = False  # WorkspaceEdit change annotations (edits the user confirms)
    code_action_disabled: bool = False  # CodeAction.disabled

    @classmethod
    def from_lsp(cls, capabilities: types.ClientCapabilities | None) -> ClientFeatures:
        def has(*path: str) -> bool:
            return bool(_at(capabilities, *path))

        return cls(
            configuration=has("workspace", "configuration"),
            work_done_progress=has("window", "work_done_progress"),
            show_document=has("window", "show_document", "support"),
            pull_diagnostics=has("text_document", "diagnostic"),
            diagnostic_refresh=has("workspace", "diagnostics", "refresh_support"),
            document_changes=has("workspace", "workspace_edit", "document_changes"),
            resource_operations=has("workspace", "workspace_edit", "resource_operations"),
            change_annotations=has("workspace", "workspace_edit", "change_annotation_support"),
            code_action_disabled=has("text_document", "code_action", "disabled_support"),
        )
