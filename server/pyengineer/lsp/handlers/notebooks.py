"""notebookDocument/didOpen, didChange, didSave, didClose: see lsp/notebooks.py."""

from pyengineer.lsp.notebooks import register

__all__ = ["register"]
