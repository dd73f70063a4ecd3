"""The machine configuration, ``$MZT_HOME/config.yaml``: limits every run here shares.

The file is optional; an absent one means the defaults below (upstream Marianne's
daemon and baton defaults). Four environment variables override single values
(:data:`ENV_OVERRIDES`). The model is strict like a score's: unknown keys are errors with
a "did you mean" hint, ``"4"`` is not a number.

Reading is cheap because every run start asks for it: an absent file costs one ``stat``
and never imports the YAML reader, and a parse is remembered for as long as the file's
size, mtime, ctime and inode stay the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from mzt.support.errors import Issue, MztError, ScoreError
from mzt.support.strictmodel import Field, StrictModel, field_validator

CONFIG_NAME = "config.yaml"
MAX_CONFIG_BYTES = 256 * 1024
DEFAULT_INSTRUMENT_LIMIT = 4


class InstrumentLimit(StrictModel):
    """How many attempts of one instrument may run at once on this machine."""

    max_concurrent: int = Field(
        default=DEFAULT_INSTRUMENT_LIMIT,
        ge=1,
        description="Attempts of this instrument running at once across every run here.",
    )


class ModelLimit(StrictModel):
    """How many attempts asking for one model may run at once on this machine."""

    max_concurrent: int = Field(
        ge=1,
        description="Attempts of this model running at once across every run here, "
        "whatever instrument they use.",
    )


def _no_args() -> list[str]:
    return []


# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, and each of those after
# "days-"; checked here so that a typo is a validate error, not a refused submission.
SLURM_TIME = r"(?:\d+(?:-\d+)?(?::\d+){0,2}|UNLIMITED|INFINITE)"


# What every attempt's sbatch call already says: the comment finds a dead conductor's jobs,
# the output and the folder are the attempt's, the environment carries its variables.
_OWN_LONG = frozenset(
    {
        "--comment",
        "--output",
        "--chdir",
        "--job-name",
        "--open-mode",
        "--export",
        "--wrap",
        "--array",
        "--parsable",
        "--wait",
    }
)
_OWN_SHORT = ("-o", "-D", "-J", "-a", "-W")


def _sets_own(arg: str) -> bool:
    if arg.startswith("--"):
        return arg.split("=", 1)[0] in _OWN_LONG
    return arg.startswith(_OWN_SHORT)


class SlurmConfig(StrictModel):
    """How `--executor slurm` submits each attempt (``sbatch`` options)."""

    partition: str | None = Field(
        default=None,
        description="The partition (sbatch --partition); unset: the cluster's default.",
    )
    account: str | None = Field(
        default=None, description="The account charged (sbatch --account); unset: yours."
    )
    time_limit: str | None = Field(
        default=None,
        description='Each attempt\'s Slurm time limit in sbatch --time form ("30" minutes, '
        '"2:00:00", "1-12:00:00"); unset: the partition\'s. An attempt that reaches it '
        "fails as a timeout (E001) and is retried like one.",
    )
    extra_args: list[str] = Field(
        default_factory=_no_args,
        description='More sbatch arguments, one per item ("--qos=low", "--mem=4G").',
    )

    @field_validator("time_limit")
    @classmethod
    def _slurm_time(cls, value: str | None) -> str | None:
        if value is not None and re.fullmatch(SLURM_TIME, value) is None:
            raise ValueError(
                f'{value!r} is not a Slurm time limit: write minutes ("30"), '
                'hours:minutes:seconds ("2:00:00") or days-hours:minutes:seconds ("1-12:00:00")'
            )
        return value

    @field_validator("extra_args")
    @classmethod
    def _options_only(cls, args: list[str]) -> list[str]:
        # sbatch takes its first word that is not an option as the script to run.
        for arg in args:
            if not arg.startswith("-"):
                raise ValueError(
                    f"{arg!r} is not an sbatch option: write each option with its value in "
                    'one item, as in "--mem=4G"'
                )
            if _sets_own(arg):
                raise ValueError(
                    f"{arg!r} sets what mzt sets itself for every attempt's job (its name, "
                    "comment, output, folder, environment and array): leave it out"
                )
        return args


def _no_slurm() -> SlurmConfig:
    return SlurmConfig()


def _no_instruments() -> dict[str, InstrumentLimit]:
    return {}


def _no_models() -> dict[str, ModelLimit]:
    return {}


class MachineConfig(StrictModel):
    """Every limit of ``$MZT_HOME/config.yaml``; each field's default applies when unset."""

    max_concurrent_sheets: int = Field(
        default=10,
        ge=1,
        description="Attempts running at once across every run on the machine.",
    )
    max_concurrent_jobs: int = Field(
        default=15,
        ge=1,
        description="Jobs (mzt run processes) executing at once on the machine.",
    )
    instruments: dict[str, InstrumentLimit] = Field(
        default_factory=_no_instruments,
        description="Per-instrument limits by instrument name; an instrument not listed "
        f"may run {DEFAULT_INSTRUMENT_LIMIT} attempts at once.",
    )
    models: dict[str, ModelLimit] = Field(
        default_factory=_no_models,
        description="Per-model limits by model name; a model not listed has no limit of its own.",
    )
    max_memory_mb: int = Field(
        default=8192,
        ge=512,
        description="Memory (resident MB of the runs and their agents) at which "
        "backpressure begins to slow and then hold new launches.",
    )
    max_processes: int = Field(
        default=50,
        ge=5,
        description="Child processes (agents and validation commands) of all runs; "
        "over 80 % of it, new launches are held.",
    )
    executor: Literal["local", "slurm"] = Field(
        default="local",
        description="Where attempts run when neither --executor nor MZT_EXECUTOR says: "
        '"local" (processes on this machine) or "slurm" (one Slurm job each).',
    )
    slurm: SlurmConfig = Field(
        default_factory=_no_slurm, description="Options of every attempt's Slurm job."
    )

    def instrument_limit(self, name: str) -> int:
        """The number of attempts of instrument ``name`` that may run at once."""
        limit = self.instruments.get(name)
        return limit.max_concurrent if limit is not None else DEFAULT_INSTRUMENT_LIMIT

    def model_limit(self, name: str) -> int | None:
        """The number of attempts of model ``name`` that may run at once; None: no limit."""
        limit = self.models.get(name)
        return limit.max_concurrent if limit is not None else None


ENV_OVERRIDES: dict[str, str] = {
    "MZT_MAX_CONCURRENT_SHEETS": "max_concurrent_sheets",
    "MZT_MAX_CONCURRENT_JOBS": "max_concurrent_jobs",
    "MZT_MAX_MEMORY_MB": "max_memory_mb",
    "MZT_MAX_PROCESSES": "max_processes",
}
"""Environment variable → the top-level field it replaces (an empty value is unset)."""


class MachineConfigError(ScoreError):
    """The machine configuration file cannot be used; each issue names its key and line."""

    code = "CONFIG"


class ConfigEnvError(MztError):
    """An override variable holds something that is not an acceptable value."""

    code = "CONFIG_ENV"

    def __init__(self, variable: str, value: str, field: str, minimum: int) -> None:
        self.variable = variable
        shown = value if len(value) <= 40 else value[:37] + "…"
        super().__init__(
            f"The environment variable {variable}={shown!r} is not a usable value for "
            f"{field}: it must be a whole number of at least {minimum}",
            hint=f"set {variable} to a number such as {_default_of(field)}, or unset it "
            "to use the configuration file's value",
        )


def config_path(home: Path | None = None) -> Path:
    """``$MZT_HOME/config.yaml``."""
    from mzt.support.paths import mzt_home

    return (home or mzt_home()) / CONFIG_NAME


_Key = tuple[str, int, int, int, int]
_parsed: dict[str, tuple[_Key, MachineConfig, dict[tuple[str | int, ...], int]]] = {}
_defaults: list[MachineConfig] = []


def defaults() -> MachineConfig:
    """The configuration of an absent file, built once."""
    if not _defaults:
        _defaults.append(MachineConfig())
    return _defaults[0]


def read_file(path: Path) -> tuple[MachineConfig, dict[tuple[str | int, ...], int]] | None:
    """The file's configuration and the line of each key; None when there is no file.

    A symlink is followed (the file may live in a dotfiles folder); what it reaches must
    be a regular file. Raises :class:`MachineConfigError` for anything unusable.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():  # a dangling link is a mistake, not "no configuration"
            raise _file_error(
                path, f"is a symlink to {path.readlink()}, which does not exist"
            ) from None
        return None
    except OSError as exc:
        raise _file_error(path, f"cannot be read: {exc.strerror or exc}") from None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    cached = _parsed.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    from mzt.machine.configfile import parse_config

    config, lines = parse_config(path)
    _parsed[str(path)] = (key, config, lines)
    return config, lines


def load(*, home: Path | None = None, environ: Mapping[str, str] | None = None) -> MachineConfig:
    """The effective machine configuration: the file (absent: defaults), then overrides.

    Raises :class:`MachineConfigError` for a bad file and :class:`ConfigEnvError` for a
    bad override, both exit status 2.
    """
    found = read_file(config_path(home))
    config = found[0] if found is not None else defaults()
    overrides = env_overrides(os.environ if environ is None else environ)
    return config.model_copy(update=overrides) if overrides else config


def env_overrides(environ: Mapping[str, str]) -> dict[str, int]:
    """The fields the environment overrides and their values (empty variables are unset)."""
    found: dict[str, int] = {}
    for variable, field in ENV_OVERRIDES.items():
        raw = environ.get(variable)
        if raw:
            found[field] = _env_int(variable, raw, field)
    return found


def _minimum(field: str) -> int:
    bound = MachineConfig.model_fields[field].ge
    return int(bound) if bound is not None else 1


def _default_of(field: str) -> int:
    value: int = MachineConfig.model_fields[field].default
    return value


def _env_int(variable: str, raw: str, field: str) -> int:
    text = raw.strip()
    minimum = _minimum(field)
    # Decimal digits only: int() would also take "1_000", "+5" or Unicode digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) < minimum:
        raise ConfigEnvError(variable, raw, field, minimum)
    return int(text)


def _file_error(path: Path, what: str, hint: str | None = None) -> MachineConfigError:
    return MachineConfigError(str(path), Issue("FILE", f"the configuration file {what}", hint=hint))
