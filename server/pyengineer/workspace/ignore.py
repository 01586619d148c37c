"""Which paths a scan skips: tool folders, virtual environments, .gitignore'd and user-excluded paths."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyengineer.workspace import safe_io

if TYPE_CHECKING:  # imported where a .gitignore or `exclude` is compiled: a tree with none never needs it
    import pathspec

# Folders no user wants scanned, whatever their .gitignore says.
ALWAYS_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".eggs",
        "site-packages",
        "build",
        "dist",
        ".idea",
        ".vscode",
        ".ipynb_checkpoints",  # Jupyter's autosaved copies of every notebook: checking them repeats each finding
    }
)

# Matched against the lower-cased path and each of its components (`is_secret_file`), so `.ENV`, `ID_RSA`,
# `server.PEM` and `SECRETS.yaml` are secret files too: on case-insensitive filesystems they are the same file.
SECRET_FILE_PATTERNS = (
    # Environment files in every spelling: .env, .env.local, .env-prod, .envrc, prod.env, prod.env.bak.
    ".env*",
    "*.env",
    "*.env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.p8",
    "*.ppk",
    "*.jks",
    "*.keystore",
    # Private SSH keys (id_rsa, id_ed25519...), not every file whose name starts with "id_".
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".git-credentials",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".htpasswd",
    ".boto",
    ".s3cfg",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "*.tfvars.json",
    "credentials",
    "credentials.*",
    "*credentials*.json",
    "secrets.*",
    # Kubernetes client configs hold cluster tokens and client keys.
    "kubeconfig",
    "kubeconfig.*",
    "*.kubeconfig",
    # Folders whose every file is a credential or key material.
    ".ssh",
    ".gnupg",
    ".kube",
    ".aws",
    ".docker",
)
# Every pattern names one file or folder (no `/`), so a path is secret when any of its components matches one:
# gitignore's reading of such patterns, as one regex (pathspec tries the patterns one by one, 25x slower).
_SECRET_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in SECRET_FILE_PATTERNS))


def is_secret_file(relative_path: str) -> bool:
    """True for files that commonly hold credentials and must never be read for the LLM.

    Case-insensitive, and true when any folder on the path is a secret one (`.ssh/config`, `.env/x`): callers
    may pass a whole relative path or one name.
    """
    parts = relative_path.replace("\\", "/").casefold().split("/")
    return any(_SECRET_NAME.match(part) for part in parts if part)


def is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def is_skipped_dir_name(name: str) -> bool:
    return name in ALWAYS_SKIPPED_DIRS or name.endswith(".egg-info")


@dataclass
class _Layer:
    prefix: str  # the folder holding the .gitignore, relative to root, "" or ending in "/"
    spec: pathspec.GitIgnoreSpec


@dataclass
class IgnoreRules:
    """The .gitignore files of a tree (nested ones included) plus the user's exclude patterns.

    Later (deeper) .gitignore files override earlier ones for the paths below them, as git does.
    """

    root: Path
    exclude: pathspec.GitIgnoreSpec | None = None
    _layers: dict[str, _Layer] = field(default_factory=dict)
    _loaded: set[str] = field(default_factory=set)

    @classmethod
    def for_root(cls, root: Path, exclude: Iterable[str] = ()) -> IgnoreRules:
        patterns = list(exclude)
        rules = cls(root=root, exclude=_spec(patterns) if patterns else None)
        rules.load_gitignore("")
        return rules

    def load_gitignore(self, folder: str) -> None:
        """Read `folder/.gitignore` (folder relative to root, "" for the root) if there is one."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        self._loaded.add(prefix)
        path = self.root / prefix / ".gitignore" if prefix else self.root / ".gitignore"
        try:
            # Never through a symlink (git does not follow one either), never a FIFO or a device, bounded.
            lines = safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES, follow_symlinks=False).splitlines()
        except OSError:
            self._layers.pop(prefix, None)
            return
        self._layers[prefix] = _Layer(prefix, _spec(lines))

    def is_ignored(self, relative: str, is_dir: bool = False) -> bool:
        """True if `relative` (posix, relative to root) is excluded or gitignored."""
        probe = relative + "/" if is_dir else relative
        if self.exclude is not None and _decision(self.exclude, probe, is_dir):
            return True
        # Deepest .gitignore first: the first one with an opinion decides.
        for prefix in sorted(self._layers, key=len, reverse=True):
            if not probe.startswith(prefix):
                continue
            decision = _decision(self._layers[prefix].spec, probe[len(prefix) :], is_dir)
            if decision is not None:
                return decision
        return False

    def is_ignored_anywhere(self, relative: str, is_dir: bool = False) -> bool:
        """Like is_ignored, but also true when any parent folder of `relative` is ignored or skipped."""
        parts = relative.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent + "/" not in self._loaded:
                self.load_gitignore(parent)
            if is_skipped_dir_name(parts[i - 1]) or self.is_ignored(parent, is_dir=True):
                return True
            if is_virtualenv(self.root / parent):
                return True
        return self.is_ignored(relative, is_dir=is_dir)


def _spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _decision(spec: pathspec.GitIgnoreSpec, probe: str, is_dir: bool) -> bool | None:
    """Whether `spec` ignores `probe` (True), re-includes it (False) or says nothing (None).

    A folder (`probe` ends in '/') is decided as git decides it: by the last pattern that matches the folder
    itself. pathspec's priorities are made for files and get folders wrong (`*` then `!*/` re-includes
    every folder), and its regex for `x/**` matches `x/`, though git reads it as what is inside x.
    """
    if not is_dir:
        result = spec.check_file(probe)
        return None if result.include is None else bool(result.include)
    for pattern in reversed(spec.patterns):
        if pattern.include is None:
            continue
        matched = pattern.match_file(probe)
        if matched is None:
            continue
        match = matched.match
        if match.end() == len(probe) and not match.groupdict().get("ps_d"):
            continue  # only the '/' we appended matched: `x/**` names the contents, not the folder
        return bool(pattern.include)
    return None


def relative_posix(root: Path, path: Path) -> str:
    top, inner = os.fspath(root), os.fspath(path)
    # The common case, a normalised absolute path under a normalised absolute root, without relpath's
    # abspath/split work (a check of 20,000 files asks this for each of them).
    if (
        inner.startswith(top)
        and inner[len(top) : len(top) + 1] == os.sep
        and os.path.isabs(top)
        and os.path.normpath(inner) == inner
        and os.path.normpath(top) == top
    ):
        return inner[len(top) + 1 :].replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")


def relative_inside(root: Path, path: Path) -> str | None:
    """`path` relative to `root` (posix), or None when it is not under `root`."""
    try:
        relative = relative_posix(root, path)
    except ValueError:  # another drive, on Windows
        return None
    return None if relative.startswith("..") else relative
