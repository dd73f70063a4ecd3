"""`mzt.machine.config`: the limits' defaults, strict types, overrides and the cached read."""

from __future__ import annotations

from pathlib import Path

import pytest

from mzt.machine import config
from mzt.machine.config import ConfigEnvError, MachineConfig, MachineConfigError
from mzt.support.strictmodel import ValidationError


def test_defaults_are_upstreams() -> None:
    limits = MachineConfig()
    assert limits.max_concurrent_sheets == 10
    assert limits.max_concurrent_jobs == 15
    assert limits.max_memory_mb == 8192
    assert limits.max_processes == 50
    assert limits.instruments == {} and limits.models == {}
    assert limits.instrument_limit("claude-code") == 4
    assert limits.model_limit("opus") is None


def test_every_field_is_described() -> None:
    for model in (MachineConfig, config.InstrumentLimit, config.ModelLimit):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_named_limits_apply_to_their_names_only() -> None:
    limits = MachineConfig.model_validate(
        {"instruments": {"cli": {"max_concurrent": 1}}, "models": {"opus": {"max_concurrent": 2}}}
    )
    assert limits.instrument_limit("cli") == 1
    assert limits.instrument_limit("claude-code") == 4
    assert limits.model_limit("opus") == 2
    assert limits.model_limit("sonnet") is None


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"max_concurrent_sheets": "4"}, "int_type"),
        ({"max_concurrent_sheets": True}, "int_type"),
        ({"max_concurrent_sheets": 2.5}, "int_type"),
        ({"max_concurrent_jobs": 0}, "greater_than_equal"),
        ({"max_memory_mb": 100}, "greater_than_equal"),
        ({"max_processes": 4}, "greater_than_equal"),
        ({"instruments": {"cli": {"max_concurrent": 0}}}, "greater_than_equal"),
        ({"instruments": ["cli"]}, "dict_type"),
        ({"models": {"opus": {}}}, "missing"),
        ({"max_concurent_sheets": 4}, "extra_forbidden"),
    ],
)
def test_bad_values_are_refused(data: dict[str, object], kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MachineConfig.model_validate(data)
    assert [e["type"] for e in caught.value.errors()] == [kind]


def test_an_absent_file_gives_the_defaults(tmp_path: Path) -> None:
    assert config.load(home=tmp_path, environ={}) == MachineConfig()


def test_environment_overrides_replace_file_values(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("max_concurrent_sheets: 3\nmax_processes: 20\n")
    env = {"MZT_MAX_CONCURRENT_SHEETS": "7", "MZT_MAX_MEMORY_MB": "1024", "MZT_MAX_PROCESSES": ""}
    limits = config.load(home=tmp_path, environ=env)
    assert limits.max_concurrent_sheets == 7  # the variable wins over the file
    assert limits.max_memory_mb == 1024
    assert limits.max_processes == 20  # an empty variable is unset
    assert limits.max_concurrent_jobs == 15


@pytest.mark.parametrize("value", ["x", "4.0", "-3", "+4", "1_000", "0", "٣", " ", "9" * 20])
def test_a_bad_override_names_its_variable(tmp_path: Path, value: str) -> None:
    env = {"MZT_MAX_CONCURRENT_JOBS": value}  # only an empty value counts as unset
    with pytest.raises(ConfigEnvError) as caught:
        config.load(home=tmp_path, environ=env)
    assert "MZT_MAX_CONCURRENT_JOBS" in caught.value.message
    assert "max_concurrent_jobs" in caught.value.message
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message


def test_an_override_below_the_fields_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigEnvError, match="at least 512"):
        config.load(home=tmp_path, environ={"MZT_MAX_MEMORY_MB": "256"})


def test_the_parse_is_reused_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("max_concurrent_jobs: 2\n")
    first = config.load(home=tmp_path, environ={})
    assert config.load(home=tmp_path, environ={}) is first
    path.write_text("max_concurrent_jobs: 30\n")  # another size: seen at once
    assert config.load(home=tmp_path, environ={}).max_concurrent_jobs == 30


def test_a_dangling_symlink_is_an_error_not_an_absent_file(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(MachineConfigError, match=r"symlink to .*nowhere\.yaml"):
        config.load(home=tmp_path, environ={})


def test_the_path_follows_mzt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MZT_HOME", str(tmp_path / "h"))
    assert config.config_path() == tmp_path / "h" / "config.yaml"


@pytest.mark.parametrize("limit", ["30", "30:00", "2:00:00", "1-12", "1-12:00:00", "UNLIMITED"])
def test_slurm_time_limits_in_sbatch_form_are_taken(limit: str) -> None:
    assert config.SlurmConfig.model_validate({"time_limit": limit}).time_limit == limit


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"time_limit": "ten"}, "not a Slurm time limit"),
        ({"time_limit": "1h"}, "not a Slurm time limit"),
        ({"extra_args": ["--mem=4G", "script.sh"]}, "'script.sh' is not an sbatch option"),
        ({"extra_args": ["--comment=mine"]}, "sets what mzt sets itself"),
        ({"extra_args": ["-oout.txt"]}, "sets what mzt sets itself"),
    ],
)
def test_slurm_options_sbatch_would_misread_are_refused(
    given: dict[str, object], said: str
) -> None:
    with pytest.raises(ValidationError, match=said):
        config.SlurmConfig.model_validate(given)
