"""Session state: workspaces, open documents and settings; hands out immutable snapshots."""

from pyengineer.session.session import (
    DocumentSnapshot,
    DocumentState,
    Session,
    WorkspaceFacts,
    WorkspaceState,
)

__all__ = ["DocumentSnapshot", "DocumentState", "Session", "WorkspaceFacts", "WorkspaceState"]
