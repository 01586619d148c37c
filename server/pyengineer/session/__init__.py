"""Session state: workspaces, open documents and settings; hands out immutable snapshots."""

from pyengineer.session.session import DocumentSnapshot, Session, WorkspaceState

__all__ = ["DocumentSnapshot", "Session", "WorkspaceState"]
