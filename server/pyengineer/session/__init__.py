"""Session state: workspaces, open documents and settings; hands out immutable snapshots."""

from pyengineer.session.session import DocumentSnapshot, DocumentState, Session, WorkspaceState

__all__ = ["DocumentSnapshot", "DocumentState", "Session", "WorkspaceState"]
