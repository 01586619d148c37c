"""Settings from pyproject.toml, pyengineer.toml and editor overrides; errors that name key, value and file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyengineer.config import (
    DEFAULT_ML_LIBRARIES,
    Settings,
    find_config_file,
    load_settings,
    settings_from_mapping,
)
from pyengineer.errors import ConfigError
from pyengineer.findings import Severity

from tests.repos import write

FULL = """\
[tool.pyengineer]
protected-branches = ["main", "release/*"]
extend-ml-libraries = ["mlx"]
select = ["PE1", "PE201"]
ignore = ["PE102"]
exclude = ["migrations/"]
handoff-dir = "notes/handoffs"
debounce-ms = 300
type-hints = "all"

[tool.pyengineer.severity]
PE201 = "warning"
PE1 = "error"

[tool.pyengineer.llm]
enabled = false
model = "claude-test"
max-tool-rounds = 3
max-output-tokens = 1024
token-budget = 5000
timeout = 30

[tool.pyengineer.tests]
args = ["-x"]
"""


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings == Settings()
    assert settings.protected_branches == ("main", "master", "develop")
    assert settings.all_ml_libraries == DEFAULT_ML_LIBRARIES
    assert find_config_file(tmp_path) is None


def test_every_setting_from_tool_pyengineer_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", FULL)
    settings = load_settings(tmp_path)
    assert settings.protected_branches == ("main", "release/*")
    assert settings.all_ml_libraries == (*DEFAULT_ML_LIBRARIES, "mlx")
    assert settings.select == ("PE1", "PE201")
    assert settings.ignore == ("PE102",)
    assert settings.exclude == ("migrations/",)
    assert settings.handoff_dir == "notes/handoffs"
    assert settings.debounce_ms == 300
    assert settings.type_hints == "all"
    assert settings.severity == {"PE201": Severity.WARNING, "PE1": Severity.ERROR}
    assert settings.llm.enabled is False
    assert settings.llm.model == "claude-test"
    assert (settings.llm.max_tool_rounds, settings.llm.max_output_tokens) == (3, 1024)
    assert (settings.llm.token_budget, settings.llm.timeout) == (5000, 30.0)
    assert settings.tests.args == ("-x",)


def test_pyengineer_toml_with_or_without_the_tool_table(tmp_path: Path) -> None:
    write(tmp_path, "pyengineer.toml", 'protected-branches = ["trunk"]\n')
    assert load_settings(tmp_path).protected_branches == ("trunk",)
    write(tmp_path, "pyengineer.toml", '[tool.pyengineer]\nprotected-branches = ["stable"]\n')
    assert load_settings(tmp_path).protected_branches == ("stable",)


def test_pyengineer_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.pyengineer]\nprotected-branches = ["from-pyproject"]\n')
    write(tmp_path, "pyengineer.toml", 'select = ["PE2"]\n')
    assert find_config_file(tmp_path) == tmp_path / "pyengineer.toml"
    settings = load_settings(tmp_path)
    # The winning file is the whole configuration; the other is not merged in.
    assert settings.select == ("PE2",)
    assert settings.protected_branches == ("main", "master", "develop")


def test_pyproject_without_our_table_is_not_a_config_file(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert find_config_file(tmp_path) is None
    assert load_settings(tmp_path) == Settings()


def test_overrides_win_over_the_file_and_merge_into_sections(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", FULL)
    settings = load_settings(tmp_path, {"protectedBranches": ["prod"], "llm": {"maxToolRounds": 9}})
    assert settings.protected_branches == ("prod",)
    assert settings.llm.max_tool_rounds == 9
    assert settings.llm.model == "claude-test"  # the rest of the section comes from the file
    assert settings.select == ("PE1", "PE201")


@pytest.mark.parametrize("key", ["protected-branches", "protectedBranches", "protected_branches"])
def test_kebab_camel_and_snake_keys(key: str) -> None:
    assert settings_from_mapping({key: ["x"]}).protected_branches == ("x",)


def test_severity_keys_are_rule_codes_and_not_renamed() -> None:
    settings = settings_from_mapping({"severity": {"PE101": "error"}})
    assert settings.severity == {"PE101": Severity.ERROR}


def config_error(tmp_path: Path, text: str, name: str = "pyproject.toml") -> ConfigError:
    write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    return caught.value


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[tool.pyengineer]\nprotected-branchez = ['main']\n")
    assert error.key == "protected-branchez"
    assert error.path == str(tmp_path / "pyproject.toml")
    assert "unknown key 'protected-branchez'" in str(error)
    assert str(tmp_path / "pyproject.toml") in str(error)


def test_unknown_key_suggests_the_nearest_setting_of_its_own_table(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[tool.pyengineer.llm]\nmodle = 'x'\n")
    assert str(error).endswith("unknown key 'llm.modle' (did you mean 'model'?)")
    # in the style the key was written in: kebab-case in TOML, camelCase from an editor
    error = config_error(tmp_path, "[tool.pyengineer]\nprotected-branchez = ['main']\n")
    assert str(error).endswith("(did you mean 'protected-branches'?)")
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"llm": {"maxToolRound": 3}}, source="editor")
    assert str(caught.value).endswith("unknown key 'llm.maxToolRound' (did you mean 'maxToolRounds'?)")
    error = config_error(tmp_path, "[tool.pyengineer]\nzzz = 1\n")
    assert str(error).endswith("unknown key 'zzz'")  # nothing close: no guess


def test_unknown_key_in_a_section_names_the_dotted_key_as_written(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[tool.pyengineer.llm]\nmax-tool-round = 3\n")
    assert error.key == "llm.max-tool-round"


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("debounce-ms = -5", "debounce-ms", "-5"),
        ('type-hints = "sometimes"', "type-hints", "'sometimes'"),
        ('select = ["E501"]', "select", "'E501'"),
        ('ignore = ["pe1x"]', "ignore", "'pe1x'"),
        ('protected-branches = "main"', "protected-branches", "'main'"),
        ("[tool.pyengineer.llm]\nmax-tool-rounds = 0", "llm.max-tool-rounds", "0"),
        ('[tool.pyengineer.severity]\nPE101 = "loud"', "severity.PE101", "'loud'"),
        ('[tool.pyengineer.severity]\nX1 = "error"', "severity", "X1"),
    ],
)
def test_bad_value_names_the_key_the_value_and_the_file(
    tmp_path: Path, text: str, key: str, value: str
) -> None:
    if not text.startswith("["):
        text = "[tool.pyengineer]\n" + text
    error = config_error(tmp_path, text + "\n")
    message = str(error)
    assert error.key == key
    assert f"'{key}'" in message
    assert value in message
    assert message.startswith(str(tmp_path / "pyproject.toml"))


def test_bad_value_in_pyengineer_toml_names_that_file(tmp_path: Path) -> None:
    error = config_error(tmp_path, "debounce-ms = 'soon'\n", name="pyengineer.toml")
    assert error.path == str(tmp_path / "pyengineer.toml")
    assert error.key == "debounce-ms"
    assert "'soon'" in str(error)


def test_invalid_toml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[tool.pyengineer\n", name="pyengineer.toml")
    assert error.path == str(tmp_path / "pyengineer.toml")
    assert "not valid TOML" in str(error)


def test_tool_pyengineer_must_be_a_table(tmp_path: Path) -> None:
    error = config_error(tmp_path, '[tool]\npyengineer = "yes"\n')
    assert error.key == "tool.pyengineer"


def test_bad_override_names_its_source() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"debounceMs": "later"}, source="editor settings")
    assert caught.value.path == "editor settings"
    assert caught.value.key == "debounceMs"
