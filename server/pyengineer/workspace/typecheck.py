"""Whether the project type-checks, and which files its mypy / pyright settings hold to annotations.

PE501 (missing type hints) speaks only where the project asked for annotations: mypy with `strict` or
`disallow_untyped_defs` (globally or for the module, and not `disable_error_code = ["no-untyped-def"]`), pyright
in strict mode (or for `strict` paths). A mypy or pyright configuration that does not ask for annotations, or a
`py.typed` marker, still type-checks: it allows unannotated functions (mypy's default), so PE501 does not ask
for them either. It follows the configuration: mypy's `files`, `exclude` and per-module overrides
(`ignore_errors = true`, `disallow_untyped_defs = false / true`), pyright's `include` / `exclude` / `ignore`.
"""

from __future__ import annotations

import fnmatch
import json
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict

_MAX_CONFIG_BYTES = 1_000_000
_MYPY_INI_FILES = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")


class TypeCheckConfig(BaseModel):
    """One type checker's configuration (or a `py.typed` marker) and the files it holds to annotations."""

    model_config = ConfigDict(frozen=True)

    tool: str  # "mypy", "pyright" or "py.typed"
    source: str  # the file it was read from, relative to the root
    files: tuple[str, ...] = ()  # paths or globs checked (empty: the whole project)
    exclude_regexes: tuple[str, ...] = ()  # mypy's `exclude`, matched against the path
    exclude_globs: tuple[str, ...] = ()  # pyright's `exclude` and `ignore`
    untyped_modules: tuple[str, ...] = ()  # mypy module patterns where unannotated functions are allowed
    annotated_modules: tuple[str, ...] = ()  # mypy module patterns that must be annotated
    annotated_globs: tuple[str, ...] = ()  # pyright's `strict` paths
    requires_annotations: bool = (
        False  # everywhere it checks (mypy strict or disallow_untyped_defs, pyright strict)
    )

    def type_checks(self, relative: str) -> bool:
        """True if this configuration type-checks `relative` at all (posix, from the root)."""
        if self.files and not any(_under(relative, f) for f in self.files):
            return False
        for regex in self.exclude_regexes:
            try:
                if re.search(regex, relative):
                    return False
            except re.error:
                continue  # mypy would refuse the pattern; do not let it hide or widen anything
        return not any(_under(relative, g) for g in self.exclude_globs)

    def checks(self, relative: str) -> bool:
        """True if this configuration holds `relative` to type annotations."""
        if not self.type_checks(relative):
            return False
        if any(_under(relative, g) for g in self.annotated_globs):
            return True
        # mypy applies the most specific matching section: the longest pattern stands in for that.
        matched = [(len(p), False) for p in self.untyped_modules if _module_matches(relative, p)]
        matched += [(len(p), True) for p in self.annotated_modules if _module_matches(relative, p)]
        if matched:
            return max(matched)[1]
        return self.requires_annotations


def _under(relative: str, pattern: str) -> bool:
    pattern = pattern.strip().removeprefix("./").rstrip("/")
    if not pattern or pattern == ".":
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, pattern + "/*")
    return relative == pattern or relative.startswith(pattern + "/")


def _module_names(relative: str) -> list[str]:
    """The dotted names `relative` may have as a module: `src/pkg/a.py` -> pkg.a (and src.pkg.a)."""
    parts = list(PurePosixPath(relative).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]


def _module_matches(relative: str, pattern: str) -> bool:
    """mypy's `[mypy-pkg.sub.*]` / `module = "pkg.*"` against the file at `relative`."""
    pattern = pattern.strip()
    if not pattern:
        return False
    for name in _module_names(relative):
        if pattern.endswith(".*") and (name == pattern[:-2] or fnmatch.fnmatchcase(name, pattern)):
            return True
        if fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _read(path: Path) -> str | None:
    """A small regular file's text, or None (missing, a folder or device, too large, not UTF-8)."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_CONFIG_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(s.strip() for s in re.split(r"[,\n]", value) if s.strip())
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"))


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"))


def _untyped_allowed(options: dict[str, Any]) -> bool:
    # `disable_error_code = ["no-untyped-def"]` turns off exactly the error disallow_untyped_defs reports.
    return (
        _true(options.get("ignore_errors"))
        or _false(options.get("disallow_untyped_defs"))
        or "no-untyped-def" in _strings(options.get("disable_error_code"))
    )


def _annotations_required(options: dict[str, Any]) -> bool:
    if _untyped_allowed(options):
        return False
    return _true(options.get("disallow_untyped_defs")) or _true(options.get("strict"))


def _mypy_from_pyproject(pyproject: dict[str, Any]) -> TypeCheckConfig | None:
    tool = pyproject.get("tool")
    mypy = tool.get("mypy") if isinstance(tool, dict) else None
    if not isinstance(mypy, dict):
        return None
    untyped: list[str] = []
    annotated: list[str] = []
    overrides = mypy.get("overrides")
    for override in overrides if isinstance(overrides, list) else []:
        if isinstance(override, dict) and _untyped_allowed(override):
            untyped.extend(_strings(override.get("module")))
        elif isinstance(override, dict) and _true(override.get("disallow_untyped_defs")):
            annotated.extend(_strings(override.get("module")))
    exclude = mypy.get("exclude")
    return TypeCheckConfig(
        tool="mypy",
        source="pyproject.toml",
        files=_strings(mypy.get("files")),
        exclude_regexes=tuple(str(e) for e in exclude)
        if isinstance(exclude, list)
        else (exclude,)
        if isinstance(exclude, str) and exclude.strip()
        else (),
        untyped_modules=tuple(untyped),
        annotated_modules=tuple(annotated),
        requires_annotations=_annotations_required(mypy),
    )


def _mypy_from_ini(root: Path, name: str) -> TypeCheckConfig | None:
    text = _read(root / name)
    if text is None or "[mypy" not in text:
        return None
    import configparser  # (imported where an ini file configures mypy: most projects have none)

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=name)
    except configparser.Error:
        return None
    if not parser.has_section("mypy"):
        return None
    main = dict(parser.items("mypy"))
    untyped: list[str] = []
    annotated: list[str] = []
    for section in parser.sections():
        if not section.startswith("mypy-"):
            continue
        options = dict(parser.items(section))
        if _untyped_allowed(options):
            untyped.extend(_strings(section.removeprefix("mypy-")))
        elif _true(options.get("disallow_untyped_defs")):
            annotated.extend(_strings(section.removeprefix("mypy-")))
    # mypy's ini `exclude` is one regex (a multi-line value is one verbose pattern).
    exclude = main.get("exclude", "").strip()
    return TypeCheckConfig(
        tool="mypy",
        source=name,
        files=_strings(main.get("files", "")),
        exclude_regexes=(re.sub(r"\s+", "", exclude),) if exclude else (),
        untyped_modules=tuple(untyped),
        annotated_modules=tuple(annotated),
        requires_annotations=_annotations_required(main),
    )


def _pyright(root: Path, pyproject: dict[str, Any]) -> TypeCheckConfig | None:
    options: Any = None
    source = "pyrightconfig.json"
    text = _read(root / source)
    if text is not None:
        try:
            options = json.loads(text)
        except ValueError:
            options = None
    if not isinstance(options, dict):
        tool = pyproject.get("tool")
        options = tool.get("pyright") if isinstance(tool, dict) else None
        source = "pyproject.toml"
    if not isinstance(options, dict) or options.get("typeCheckingMode") == "off":
        return None
    # Basic and standard modes infer return types and accept unannotated parameters; strict reports them.
    missing = options.get("reportMissingParameterType")
    return TypeCheckConfig(
        tool="pyright",
        source=source,
        files=_strings(options.get("include")),
        exclude_globs=_strings(options.get("exclude")) + _strings(options.get("ignore")),
        annotated_globs=_strings(options.get("strict")),
        requires_annotations=options.get("typeCheckingMode") == "strict"
        or missing is True
        or missing in ("error", "warning"),
    )


def _py_typed(root: Path, folders: list[str]) -> list[TypeCheckConfig]:
    found = []
    for folder in folders:
        # Packages sit at the top or under src/ (or one level deeper in a monorepo): a few stats, not a walk.
        if not folder or folder.count("/") > 2 or "test" in folder.lower():
            continue
        marker = root / folder / "py.typed"
        try:
            if marker.is_file() and (root / folder / "__init__.py").is_file():
                # py.typed promises types to the package's users, yet measured on the corpus most py.typed
                # packages (mlflow, feast, pandera, prefect) leave many public functions unannotated on
                # purpose: it is recorded, but asks for nothing.
                found.append(TypeCheckConfig(tool="py.typed", source=f"{folder}/py.typed", files=(folder,)))
        except OSError:
            continue
    return found


def type_check_configs(
    root: Path, pyproject: dict[str, Any], folders: list[str]
) -> tuple[TypeCheckConfig, ...]:
    """Every type-checking configuration of the project at `root` (its pyproject.toml already loaded)."""
    configs: list[TypeCheckConfig] = []
    mypy = None
    # mypy reads the first of these it finds: mypy.ini, .mypy.ini, pyproject.toml, setup.cfg.
    for name in _MYPY_INI_FILES:
        mypy = _mypy_from_pyproject(pyproject) if name == "pyproject.toml" else _mypy_from_ini(root, name)
        if mypy is not None:
            break
    if mypy is not None:
        configs.append(mypy)
    pyright = _pyright(root, pyproject)
    if pyright is not None:
        configs.append(pyright)
    configs.extend(_py_typed(root, folders))
    return tuple(configs)
