"""Settings: one pydantic model, defaults in one place.

Sources, lowest to highest precedence: the defaults below, `[tool.pyengineer]` in pyproject.toml (or a
`pyengineer.toml` beside it, which wins, as ruff.toml does over pyproject.toml), then editor settings.
Keys may be written kebab-case (TOML style), camelCase (editor style) or snake_case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pyengineer.errors import ConfigError, did_you_mean
from pyengineer.git.head import DEFAULT_PROTECTED_BRANCHES
from pyengineer.severity import Severity
from pyengineer.workspace import safe_io

CONFIG_FILE_NAMES = ("pyengineer.toml", "pyproject.toml")


DEFAULT_ML_LIBRARIES = (
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "flax",
    "sklearn",
    "transformers",
    "xgboost",
    "lightgbm",
    "catboost",
    "onnxruntime",
    "diffusers",
    "accelerate",
    "peft",
    "lightning",
    "pytorch_lightning",
    "tf_keras",
)

DEFAULT_MODEL = "claude-sonnet-5-5"

DEFAULT_BASELINE = ".pyengineer-baseline.json"

_RULE_CODE = re.compile(r"^PE\d{0,3}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LlmSettings(_Section):
    """The LLM agent: which model, and the limits of one request."""

    enabled: bool = True
    model: str = DEFAULT_MODEL
    max_tool_rounds: int = Field(default=8, ge=1, le=50)
    # A multi-file edit with its tests needs room: 4k cut such answers off.
    max_output_tokens: int = Field(default=16_000, ge=256, le=128_000)
    # In input-token price weights: cache reads count 0.1, cache writes 1.25, output 5 (docs/agent.md).
    token_budget: int = Field(default=200_000, ge=1_000)
    # The model's context window in tokens: no request is sent that would not fit in it.
    context_window: int = Field(default=200_000, ge=4_096, le=2_000_000)
    # Our own retries of 429 / 529 / overloaded / 5xx / network errors, each within `timeout`.
    max_retries: int = Field(default=3, ge=0, le=10)
    timeout: float = Field(default=120.0, gt=0, le=3600)
    base_url: str | None = None


class TestSettings(_Section):
    """The project's test runner."""

    __test__ = False  # not a pytest test class despite the name

    interpreter: str | None = None
    args: tuple[str, ...] = ()
    timeout: float = Field(default=600.0, gt=0)


class Settings(_Section):
    """Everything a user can configure."""

    protected_branches: tuple[str, ...] = DEFAULT_PROTECTED_BRANCHES
    ml_libraries: tuple[str, ...] = DEFAULT_ML_LIBRARIES
    extend_ml_libraries: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = Field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    handoff_dir: str = "docs/handoffs"
    # 0: no wait; analyses start at once and a change during one is coalesced (lsp/publishing.schedule)
    debounce_ms: int = Field(default=0, ge=0, le=10_000)
    # auto: public functions, only in files the project's mypy/pyright settings (or py.typed) type-check
    type_hints: str = Field(default="auto", pattern="^(auto|public|all|off)$")
    # `pyengineer check` exits 1 only for findings at this severity or above (see docs/cli.md).
    fail_on: Severity = Severity.WARNING
    # The baseline file (relative to the project root): findings recorded there are not reported again.
    baseline: str = DEFAULT_BASELINE
    llm: LlmSettings = LlmSettings()
    tests: TestSettings = TestSettings()

    @field_validator("select", "ignore")
    @classmethod
    def _rule_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not _RULE_CODE.match(code):
                raise ValueError(f"{code!r} is not a rule code or prefix such as 'PE101' or 'PE3'")
        return value

    @field_validator("severity")
    @classmethod
    def _severity_codes(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        for code in value:
            if not _RULE_CODE.match(code):
                raise ValueError(f"{code!r} is not a rule code or prefix such as 'PE101' or 'PE3'")
        return value

    @field_validator("fail_on")
    @classmethod
    def _fail_on(cls, value: Severity) -> Severity:
        if value == Severity.HINT:
            raise ValueError("must be 'error', 'warning' or 'info' (hints never fail a check)")
        return value

    @field_validator("baseline")
    @classmethod
    def _baseline_path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a file name such as '.pyengineer-baseline.json'")
        return value

    @property
    def all_ml_libraries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.ml_libraries, *self.extend_ml_libraries)))


def _snake(key: str) -> str:
    key = key.replace("-", "_")
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


# Mappings whose keys are data (rule codes), not setting names, so they are not renamed.
_DATA_KEYS = {"severity"}


def _normalise(
    data: Mapping[str, Any], originals: dict[tuple[str, ...], str], prefix: tuple[str, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = _snake(str(key))
        originals[(*prefix, name)] = ".".join(
            (*[originals.get(prefix[: i + 1], p) for i, p in enumerate(prefix)], str(key))
        )
        if isinstance(value, Mapping) and name not in _DATA_KEYS:
            value = _normalise(value, originals, (*prefix, name))
        out[name] = value
    return out


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key not in _DATA_KEYS:
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _section_keys(loc: tuple[str, ...]) -> list[str]:
    """The setting names of the table at `loc` (`()` is the top level, `("llm",)` the llm table)."""
    model: type[BaseModel] = Settings
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _styled(written: str, name: str) -> str:
    """A setting's name in the style the user wrote keys in: kebab-case (TOML), camelCase (editors) or snake."""
    if "-" in written:
        return name.replace("_", "-")
    if written[:1].islower() and any(c.isupper() for c in written):
        first, *rest = name.split("_")
        return first + "".join(part.title() for part in rest)
    return name


def _validate(data: dict[str, Any], originals: dict[tuple[str, ...], str], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(part) for part in error["loc"])
        key = originals.get(loc) or ".".join(loc)
        if error["type"] == "extra_forbidden":
            written = key.rsplit(".", 1)[-1]
            hint = did_you_mean(written, [_styled(written, name) for name in _section_keys(loc[:-1])])
            raise ConfigError(f"unknown key '{key}'{hint}", path=source, key=key) from None
        raise ConfigError(
            f"invalid value {error['input']!r} for '{key}': {error['msg']}", path=source, key=key
        ) from None


def settings_from_mapping(
    data: Mapping[str, Any], source: str = "settings", base: Settings | None = None
) -> Settings:
    """Validate one layer of settings on top of `base` (default: the defaults); errors name `source`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"settings must be a table, got {type(data).__name__}", path=source)
    originals: dict[tuple[str, ...], str] = {}
    layer = _normalise(data, originals, ())
    start = base.model_dump(exclude_unset=False) if base is not None else {}
    return _validate(_merge(start, layer), originals, source)


def _read_config(path: Path) -> str:
    # Regular files only, bounded: a config linked to /dev/zero or a FIFO is an error naming the file.
    return safe_io.read_text(path, safe_io.MAX_CONFIG_BYTES, warn=False, errors="strict")


def find_config_file(root: Path) -> Path | None:
    """The file that configures `root`: pyengineer.toml, else a pyproject.toml with [tool.pyengineer]."""
    own = root / "pyengineer.toml"
    if own.is_file():
        return own
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        import tomllib  # (imported where a TOML file is read: a folder without one needs none)

        try:
            data = tomllib.loads(_read_config(pyproject))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            # A broken pyproject.toml may well hold our table: report it rather than silently ignore it.
            return pyproject
        if "pyengineer" in data.get("tool", {}):
            return pyproject
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The pyengineer table of one config file, or a ConfigError naming the file."""
    import tomllib

    try:
        data = tomllib.loads(_read_config(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    except safe_io.UnsafeFileError as exc:
        raise ConfigError(exc.reason, path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read: {exc}", path=path) from None
    if path.name == "pyengineer.toml":
        return dict(data.get("tool", {}).get("pyengineer", data))
    table = data.get("tool", {}).get("pyengineer", {})
    if not isinstance(table, dict):
        raise ConfigError("[tool.pyengineer] must be a table", path=path, key="tool.pyengineer")
    return table


def load_settings(
    root: Path, overrides: Mapping[str, Any] | None = None, overrides_source: str = "editor settings"
) -> Settings:
    """Settings for the project at `root`: defaults < config file < `overrides`."""
    settings = Settings()
    config_file = find_config_file(root)
    if config_file is not None:
        settings = settings_from_mapping(read_config_file(config_file), str(config_file))
    if overrides:
        settings = settings_from_mapping(overrides, overrides_source, base=settings)
    return settings
