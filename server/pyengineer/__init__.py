"""pyengineer: a Git-aware Python engineering assistant for every LSP editor."""

__version__ = "0.1.0"
