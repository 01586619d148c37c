"""`pyengineer guard`: branch safety for coding agents, as a Claude Code `PreToolUse` hook.

Claude Code runs the hook before every tool call, with the call as JSON on stdin (`tool_name`, `tool_input`,
`cwd`, ...). On a protected branch the guard denies file edits inside the repository (Edit, Write, MultiEdit,
NotebookEdit) and Bash commands that would commit to, push to, reset or rebase a protected branch, by printing
the hook's documented answer (`hookSpecificOutput.permissionDecision = "deny"` with a reason the model reads)
and exiting 0. Everything else gets no output and exit 0, which leaves the decision to Claude Code's own
permission rules (an explicit "allow" would skip the user's prompts, which is not ours to do).

It runs before every tool call, so it is built for speed (docs/agents.md, "How fast the guard answers"): no
pydantic, no GitPython, no engine, and not `typing`, `subprocess` or `tomllib` either on the way to an answer that
needs none of them. The branch is read from `.git/HEAD` (bounded and typed, `git.head`); git processes run only on
the way to a denial (is the file ignored, which branch names exist), both at once, started with `os.posix_spawn`.
The hook payload crosses a process boundary, so it is still checked field by field (`HookCall.parse`), and a
payload that is not what the contract says is an error on stderr with exit 1, which Claude Code shows to the user
and treats as "not blocked": a broken hook must not wedge every tool call of a session.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pyengineer.git.head import (
    DEFAULT_PROTECTED_BRANCHES,
    NO_PROGRAMS,
    find_git_dir,
    matching_protection,
    read_head,
)

# `typing` alone costs the guard a tenth of its start-up, and every annotation here is a string (`__future__`):
# mypy takes an `if TYPE_CHECKING:` block as true whatever the name is bound to.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EDIT_TOOLS = {
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}
HOOK_MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash"
HOOK_COMMAND = "pyengineer guard"
# A Write carries the whole file; Claude Code caps tool input well below this.
MAX_INPUT_BYTES = 4 * 1024 * 1024
# Claude Code gives the hook 10 s (the `timeout` --install writes); a git process must finish well within it.
GIT_TIMEOUT = 8.0

# Plain classes, not dataclasses: `dataclasses` imports `inspect`, which alone costs more than the rest of the
# guard's start-up.


class HookInputError(ValueError):
    """The hook payload is not shaped as Claude Code documents it."""


class HookCall:
    """The fields of a PreToolUse payload the guard reads."""

    def __init__(
        self, tool_name: str, tool_input: dict[str, Any], cwd: Path, hook_event_name: str = "PreToolUse"
    ) -> None:
        self.tool_name = tool_name
        self.tool_input = tool_input
        self.cwd = cwd
        self.hook_event_name = hook_event_name

    @classmethod
    def parse(cls, raw: bytes, fallback_cwd: Path) -> HookCall:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise HookInputError(f"the hook input is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HookInputError("the hook input must be a JSON object")
        tool_name = data.get("tool_name")
        if not isinstance(tool_name, str):
            raise HookInputError("'tool_name' must be a string")
        tool_input = data.get("tool_input", {})
        if not isinstance(tool_input, dict):
            raise HookInputError("'tool_input' must be an object")
        cwd = data.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise HookInputError("'cwd' must be a string")
        event = data.get("hook_event_name", "PreToolUse")
        if not isinstance(event, str):
            raise HookInputError("'hook_event_name' must be a string")
        return cls(tool_name, tool_input, Path(cwd) if cwd else fallback_cwd, event)


class Decision:
    def __init__(self, deny: bool, reason: str = "") -> None:
        self.deny = deny
        self.reason = reason

    def output(self) -> str:
        if not self.deny:
            return ""
        answer = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": self.reason,
            }
        }
        return json.dumps(answer)


ALLOW = Decision(False)


# ----------------------------------------------------------------------------------------------- the repository


class GitProcess:
    """One read-only git command, started at once and waited for when its answer is needed, so that two of
    them can run side by side.

    `os.posix_spawn`, not `subprocess`: importing `subprocess` (threading, selectors, signal) costs the guard
    more than running git does. No shell; stdin and stderr are /dev/null; `NO_PROGRAMS` keeps the
    repository's own config from making git run a program.
    """

    def __init__(self, root: Path, *args: str) -> None:
        self.args = args
        self.deadline = time.monotonic() + GIT_TIMEOUT
        read_end, write_end = os.pipe()  # both close-on-exec: the child has `write_end` as its stdout only
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write_end, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        try:
            self.pid = os.posix_spawnp(
                "git", ["git", *NO_PROGRAMS, "-C", str(root), *args], os.environ, file_actions=actions
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._stdout = read_end
        self._result: tuple[int, str] | None = None

    def result(self) -> tuple[int, str]:
        """(exit code, stdout); TimeoutError when git has not finished within GIT_TIMEOUT of its start."""
        if self._result is None:
            import select

            chunks: list[bytes] = []
            poller = select.poll()
            poller.register(self._stdout, select.POLLIN)
            try:
                while True:
                    left = self.deadline - time.monotonic()
                    if left <= 0 or not poller.poll(left * 1000):
                        import signal

                        os.kill(self.pid, signal.SIGKILL)
                        os.waitpid(self.pid, 0)
                        raise TimeoutError(
                            f"git {' '.join(self.args)} did not finish within {GIT_TIMEOUT:.0f} s"
                        )
                    chunk = os.read(self._stdout, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
            finally:
                os.close(self._stdout)
            _, status = os.waitpid(self.pid, 0)
            self._result = os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")
        return self._result


class Repo:
    """A repository as the guard sees it: where it is, its protection patterns, the branch HEAD names."""

    def __init__(self, root: Path, git_dir: Path, patterns: tuple[str, ...], branch: str | None) -> None:
        self.root = root
        self.git_dir = git_dir
        self.patterns = patterns
        self.branch = branch
        self._listing: GitProcess | None = None

    def protected(self, branch: str | None) -> bool:
        return matching_protection(branch, self.patterns) is not None

    def list_branches(self) -> None:
        """Start listing the branch names now, to have them when `existing_branches` is asked."""
        if self._listing is None:
            self._listing = GitProcess(
                self.root, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes"
            )

    def existing_branches(self) -> tuple[str, ...]:
        self.list_branches()
        assert self._listing is not None
        return tuple(self._listing.result()[1].split())

    def has_local_branch(self, name: str) -> bool:
        return name in self.existing_branches()

    def ignored(self, path: Path) -> bool:
        return GitProcess(self.root, "check-ignore", "-q", "--", str(path)).result()[0] == 0

    def suggestion(self, paths: Iterable[str] = ()) -> str:
        from pyengineer.git.naming import suggest_branch_names

        relative = next(iter(paths), None)
        names = suggest_branch_names(relative, (), self.existing_branches())
        return names[0] if names else "feature/work"


# Settings are cached only from a config file this small (real ones are a few KiB), so a cache file stays small.
_MAX_CACHED_CONFIG = 64 * 1024


def _names_pyengineer(data: bytes) -> bool:
    """Whether pyproject.toml bytes have a `[tool.pyengineer]` table (or, not being TOML, may have one)."""
    import tomllib

    try:
        return "pyengineer" in tomllib.loads(data.decode("utf-8")).get("tool", {})
    except ValueError:  # TOMLDecodeError and UnicodeDecodeError: load_settings reports it
        return True


class SettingsCache:
    """The protected-branch patterns that pyengineer's settings gave for exactly these config bytes.

    Validating settings means pydantic, which costs the guard five times all the rest of its work: once per
    change of the config file is enough. One small JSON file per repository under `caches.cache_dir()`,
    trusted only when it names this pyengineer version, this config file and holds its exact bytes; a
    missing, stale or unreadable cache is simply not used (`PYENGINEER_CACHE_DIR=off` turns it off).
    """

    FORMAT = 1

    def __init__(self, root: Path, config: Path, data: bytes) -> None:
        from pyengineer import __version__
        from pyengineer.caches import cache_dir

        folder = cache_dir()
        self.folder = folder / "guard" if folder is not None and len(data) <= _MAX_CACHED_CONFIG else None
        self.key = {
            "format": self.FORMAT,
            "version": __version__,
            "config": str(config),
            "bytes": data.decode("latin-1"),  # any bytes, one character each
        }
        if self.folder is not None:
            import zlib

            self.path = self.folder / f"{zlib.crc32(os.fsencode(root)):08x}.json"  # the key tells roots apart

    def load(self) -> tuple[str, ...] | None:
        if self.folder is None:
            return None
        from pyengineer.workspace.safe_io import read_bytes

        try:
            cached = json.loads(read_bytes(self.path, 8 * _MAX_CACHED_CONFIG, warn=False))
        except (OSError, ValueError):
            return None
        if not isinstance(cached, dict) or any(cached.get(k) != v for k, v in self.key.items()):
            return None
        patterns = cached.get("protected_branches")
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            return None
        return tuple(patterns)

    def save(self, patterns: tuple[str, ...]) -> None:
        if self.folder is None:
            return
        from pyengineer.workspace.safe_io import write_text

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(self.folder, self.path, json.dumps({**self.key, "protected_branches": list(patterns)}))
        except OSError:
            pass  # a read-only or full cache folder only makes the next call slower


def protected_patterns(root: Path) -> tuple[str, ...]:
    """The repository's protected-branch patterns: the defaults unless its pyengineer config says otherwise.

    The config file is found as `config.find_config_file` finds it. A pyproject.toml that does not spell
    "pyengineer" (nor escapes a letter in a quoted key) cannot configure it and is not parsed; otherwise the
    answer is the cached one for exactly these bytes, or the full, validated settings (the slow path, with
    pydantic, and with its errors), which are then cached.
    """
    own = root / "pyengineer.toml"
    pyproject = root / "pyproject.toml"
    config = own if own.is_file() else pyproject if pyproject.is_file() else None
    if config is None:
        return DEFAULT_PROTECTED_BRANCHES
    from pyengineer.workspace.safe_io import MAX_CONFIG_BYTES, read_bytes

    try:
        data = read_bytes(config, MAX_CONFIG_BYTES, warn=False)
    except OSError:  # a FIFO, a device, too large, unreadable: load_settings says so
        from pyengineer.config import load_settings

        return load_settings(root).protected_branches
    if config == pyproject and b"pyengineer" not in data and b"\\" not in data:
        return DEFAULT_PROTECTED_BRANCHES
    cache = SettingsCache(root, config, data)
    cached = cache.load()
    if cached is not None:
        return cached
    patterns: tuple[str, ...]
    if config == pyproject and not _names_pyengineer(data):
        patterns = DEFAULT_PROTECTED_BRANCHES
    else:
        from pyengineer.config import load_settings

        patterns = load_settings(root).protected_branches
    try:
        unchanged = read_bytes(config, MAX_CONFIG_BYTES, warn=False) == data
    except OSError:
        unchanged = False
    if unchanged:  # what load_settings read is what the key holds
        cache.save(patterns)
    return patterns


def open_repo(path: Path) -> Repo | None:
    found = find_git_dir(path)
    if found is None:
        return None
    root, git_dir = found
    branch, _ = read_head(git_dir)
    return Repo(root, git_dir, protected_patterns(root), branch)


def _feature_hint(repo: Repo, paths: Iterable[str] = ()) -> str:
    name = repo.suggestion(paths)
    return (
        f"Create a feature branch first: `git switch -c {name}` (it keeps every uncommitted change), "
        "or the pyengineer MCP tool create_feature_branch."
    )


# ------------------------------------------------------------------------------------------------ file edits


def check_edit(call: HookCall) -> Decision:
    key = EDIT_TOOLS[call.tool_name]
    value = call.tool_input.get(key)
    if not isinstance(value, str) or not value:
        return ALLOW  # Claude Code validates its own tool input; nothing here names a file
    path = Path(value)
    if not path.is_absolute():
        path = call.cwd / path
    repo = open_repo(path)
    if repo is None or not repo.protected(repo.branch):
        return ALLOW
    try:
        relative = os.path.relpath(path, repo.root)
    except ValueError:
        return ALLOW
    if relative.startswith(".."):
        return ALLOW
    if relative == ".git" or relative.startswith(".git" + os.sep):
        return ALLOW  # not code that a commit would carry
    repo.list_branches()  # the denial's suggestion needs them: listed while git checks the ignore rules
    if repo.ignored(path):
        repo.existing_branches()  # waited for all the same, so that no process is left behind
        return ALLOW  # not code that a commit would carry
    return Decision(
        True,
        f"pyengineer: '{repo.branch}' is a protected branch, so {Path(relative).as_posix()} must not be changed "
        f"on it. {_feature_hint(repo, [Path(relative).as_posix()])}",
    )


# ------------------------------------------------------------------------------------------------ bash commands

_SEPARATORS = {"&&", "||", ";", "|", "&", "\n", "(", ")", ";;", "|&"}
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"sudo", "command", "exec", "nice", "nohup", "time", "env", "builtin"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}
# Options of `git` itself that take a value as the next word.
_GIT_VALUE_OPTIONS = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}
_COMMITTING = {"commit", "merge", "cherry-pick", "revert", "am"}
_ABORTS = {"--abort", "--quit", "--skip", "--show-current-patch", "--edit-todo"}
_RESET_MODES = {"--hard", "--soft", "--mixed", "--keep", "--merge"}


def split_commands(command: str) -> Iterator[list[str]]:
    """The simple commands of a shell command line, as word lists (quotes removed, separators dropped)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    for token in lexer:
        if token in _SEPARATORS or set(token) <= set(";&|()\n"):
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


def _strip_prefixes(words: list[str]) -> list[str]:
    """`FOO=1 sudo env -u X git ...` -> `git ...`."""
    i = 0
    while i < len(words):
        word = words[i]
        if _ENV_ASSIGNMENT.match(word):
            i += 1
        elif word in _WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in {"-u", "-n", "-C"} else 1
        else:
            break
    return words[i:]


class _Shell:
    """What the command line has done so far: the folder it is in, and branches it switched to."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.switched: dict[Path, str] = {}  # repo root -> branch checked out earlier in the command line


class GitCall:
    def __init__(self, directory: Path, subcommand: str, args: list[str]) -> None:
        self.directory = directory
        self.subcommand = subcommand
        self.args = args


def parse_git(words: list[str], cwd: Path) -> GitCall | None:
    """`git [-C dir] [-c k=v] ... SUB ARGS` -> GitCall, with -C folders applied in order."""
    if not words or Path(words[0]).name != "git":
        return None
    directory = cwd
    i = 1
    while i < len(words):
        word = words[i]
        if word in _GIT_VALUE_OPTIONS and i + 1 < len(words):
            if word == "-C":
                directory = directory / words[i + 1]
            elif word == "--work-tree":
                directory = directory / words[i + 1]
            i += 2
        elif word.startswith("--git-dir=") or word.startswith("--work-tree="):
            if word.startswith("--work-tree="):
                directory = directory / word.split("=", 1)[1]
            i += 1
        elif word.startswith("-"):
            i += 1
        else:
            return GitCall(directory, word, words[i + 1 :])
    return None


def _positionals(args: list[str]) -> list[str]:
    out = []
    for arg in args:
        if arg == "--":
            break
        if not arg.startswith("-"):
            out.append(arg)
    return out


def _push_targets(call: GitCall, branch: str | None, repo: Repo) -> list[str]:
    """The branch names on the remote that `git push ARGS` would update (or delete)."""
    args = call.args
    flags = {a for a in args if a.startswith("-")}
    if flags & {"--all", "--mirror", "--branches"}:
        return [b for b in repo.existing_branches() if "/" not in b or not b.startswith("origin/")]
    value_options = {"-o", "--push-option", "--repo", "--receive-pack", "--exec"}
    positionals: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in value_options:
            skip = True
        elif not arg.startswith("-"):
            positionals.append(arg)
    refspecs = positionals[1:]
    if not refspecs:
        if "--tags" in flags:
            return []
        return [branch] if branch else []
    targets = []
    for spec in refspecs:
        spec = spec.lstrip("+")
        source, colon, destination = spec.partition(":")
        target = destination if colon else source
        if target in {"HEAD", "@"} or (not colon and source in {"HEAD", "@"}):
            target = branch or ""
        target = target.removeprefix("refs/heads/")
        if target:
            targets.append(target)
    return targets


def _deny_git(call: GitCall, shell: _Shell) -> Decision:
    repo = open_repo(call.directory)
    if repo is None:
        return ALLOW
    branch = shell.switched.get(repo.root, repo.branch)
    sub, args = call.subcommand, call.args
    positionals = _positionals(args)
    # Branch switches change what the rest of the command line commits to.
    if sub in {"switch", "checkout"}:
        creating = next((i for i, a in enumerate(args) if a in {"-c", "-C", "-b", "-B", "--create"}), None)
        if creating is not None and creating + 1 < len(args):
            shell.switched[repo.root] = args[creating + 1]
        elif positionals and (sub == "switch" or repo.has_local_branch(positionals[0])):
            shell.switched[repo.root] = positionals[0]
        return ALLOW
    if sub in _COMMITTING and not (set(args) & _ABORTS) and "--dry-run" not in args:
        if repo.protected(branch):
            what = "commit to" if sub == "commit" else f"{sub} into"
            return Decision(
                True, f"pyengineer: '{branch}' is a protected branch: do not {what} it. {_feature_hint(repo)}"
            )
        return ALLOW
    if sub == "rebase" and not (set(args) & _ABORTS):
        rebased = positionals[1] if len(positionals) > 1 else branch
        if repo.protected(rebased):
            return Decision(
                True,
                f"pyengineer: '{rebased}' is a protected branch: do not rebase it. {_feature_hint(repo)}",
            )
        return ALLOW
    if sub == "reset":
        moves = bool(set(args) & _RESET_MODES) or ("--" not in args and len(positionals) == 1)
        if moves and repo.protected(branch):
            return Decision(
                True,
                f"pyengineer: '{branch}' is a protected branch: do not reset it (it rewrites the branch or throws "
                f"away work). {_feature_hint(repo)}",
            )
        return ALLOW
    if sub == "push":
        for target in _push_targets(call, branch, repo):
            if repo.protected(target):
                return Decision(
                    True,
                    f"pyengineer: '{target}' is a protected branch: do not push to it; push a feature branch "
                    f"and open a pull request. {_feature_hint(repo)}",
                )
        return ALLOW
    if sub == "branch" and set(args) & {"-f", "--force", "-D", "-d", "--delete", "-m", "-M"}:
        for name in positionals:
            if repo.protected(name):
                return Decision(
                    True, f"pyengineer: '{name}' is a protected branch: do not move, rename or delete it."
                )
    return ALLOW


def check_bash(command: str, cwd: Path, depth: int = 0) -> Decision:
    shell = _Shell(cwd)
    try:
        commands = list(split_commands(command))
    except ValueError:
        # Unbalanced quotes: the shell would refuse it too, but a git word inside must not slip through.
        commands = [command.split()]
    for raw in commands:
        words = _strip_prefixes(raw)
        if not words:
            continue
        name = Path(words[0]).name
        if name == "cd" and len(words) > 1:
            shell.cwd = shell.cwd / os.path.expanduser(words[1])
            continue
        if name in _SHELLS and "-c" in words[1:] and depth < 3:
            script = words[words.index("-c") + 1 :]
            if script:
                decision = check_bash(script[0], shell.cwd, depth + 1)
                if decision.deny:
                    return decision
            continue
        call = parse_git(words, shell.cwd)
        if call is None:
            continue
        decision = _deny_git(call, shell)
        if decision.deny:
            return decision
    return ALLOW


# ----------------------------------------------------------------------------------------------------- entry


def decide(call: HookCall) -> Decision:
    if call.hook_event_name != "PreToolUse":
        return ALLOW
    if call.tool_name in EDIT_TOOLS:
        return check_edit(call)
    if call.tool_name == "Bash":
        command = call.tool_input.get("command")
        if isinstance(command, str):
            return check_bash(command, call.cwd)
    return ALLOW


def run_hook(stdin: Any = None, stdout: Any = None, stderr: Any = None) -> int:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    raw = stdin.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        print(f"pyengineer guard: the hook input is larger than {MAX_INPUT_BYTES} bytes", file=stderr)
        return 1
    try:
        call = HookCall.parse(raw, Path.cwd())
        decision = decide(call)
    except HookInputError as exc:
        print(f"pyengineer guard: {exc}", file=stderr)
        return 1
    except Exception as exc:  # a guard that crashes must say so, not block every call
        print(f"pyengineer guard: internal error: {type(exc).__name__}: {exc}", file=stderr)
        return 1
    text = decision.output()
    if text:
        stdout.write(text + "\n")
    return 0


# ------------------------------------------------------------------------------------------------ git hooks


def check_git_hook(cwd: Path, environ: dict[str, str] | None = None) -> Decision:
    """For the pre-commit framework's `pyengineer-protected-branch` hook: refuse a commit on a protected branch,
    and at pre-push a push whose remote branch (`PRE_COMMIT_REMOTE_BRANCH`, set by pre-commit) is protected."""
    environ = dict(os.environ if environ is None else environ)
    repo = open_repo(cwd)
    if repo is None:
        return ALLOW
    remote = environ.get("PRE_COMMIT_REMOTE_BRANCH", "").removeprefix("refs/heads/")
    if remote:
        if repo.protected(remote):
            return Decision(
                True,
                f"'{remote}' is a protected branch: push a feature branch instead. {_feature_hint(repo)}",
            )
        return ALLOW
    if repo.protected(repo.branch):
        return Decision(
            True, f"'{repo.branch}' is a protected branch: do not commit on it. {_feature_hint(repo)}"
        )
    return ALLOW


def run_git_hook(stderr: Any = None) -> int:
    decision = check_git_hook(Path.cwd())
    if decision.deny:
        print(f"pyengineer: {decision.reason}", file=stderr or sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------------- install


class InstallError(ValueError):
    """The settings file exists but cannot be merged into without losing what is there."""


def install_claude(project: Path, command: str = HOOK_COMMAND) -> tuple[Path, bool]:
    """Add the guard to `project/.claude/settings.json`, keeping everything there. (path, changed)."""
    path = project / ".claude" / "settings.json"
    settings: dict[str, Any] = {}
    if path.exists() or path.is_symlink():
        if path.is_symlink() or not path.is_file():
            raise InstallError(f"{path} is not a regular file; not touching it")
        from pyengineer.workspace.safe_io import MAX_CONFIG_BYTES, read_text

        try:
            loaded = json.loads(read_text(path, MAX_CONFIG_BYTES, follow_symlinks=False) or "{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InstallError(
                f"{path} is not valid JSON ({exc}); fix it or remove it, nothing was changed"
            ) from None
        if not isinstance(loaded, dict):
            raise InstallError(f"{path} must hold a JSON object; nothing was changed")
        settings = loaded
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError(f"{path}: 'hooks' must be an object; nothing was changed")
    pre = hooks.setdefault("PreToolUse", [])
    if not isinstance(pre, list):
        raise InstallError(f"{path}: 'hooks.PreToolUse' must be a list; nothing was changed")
    for entry in pre:
        for hook in entry.get("hooks", []) if isinstance(entry, dict) else []:
            if isinstance(hook, dict) and str(hook.get("command", "")).strip().endswith("pyengineer guard"):
                return path, False
    pre.append({"matcher": HOOK_MATCHER, "hooks": [{"type": "command", "command": command, "timeout": 10}]})
    from pyengineer.workspace.safe_io import write_text

    write_text(project, path, json.dumps(settings, indent=2) + "\n")
    return path, True
