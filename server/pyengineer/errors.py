"""The exception hierarchy: every error says what happened and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices` to a misspelt `word`, or "" when none is close."""
    import difflib  # only for an error message; every command imports this module

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class PyengineerError(Exception):
    """Base of every error pyengineer raises on purpose."""


class ConfigError(PyengineerError):
    """A configuration file or editor setting is invalid."""

    def __init__(self, message: str, *, path: Path | str | None = None, key: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.key = key
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{message}")


class GitSafetyError(PyengineerError):
    """A git operation was refused because it could not be done without risk to the user's work."""


class NotAGitRepositoryError(GitSafetyError):
    """The folder is not inside a git repository."""


class AgentError(PyengineerError):
    """The LLM agent could not complete a request."""


class WorkspaceTrustError(PyengineerError):
    """An action would run workspace code in a workspace that is not trusted."""
