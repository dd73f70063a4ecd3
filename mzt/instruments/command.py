"""From a profile to a command line, and from a finished child back to a result.

`Instrument.invocation` builds everything a spawner needs (argv, environment, stdin,
working directory) in the argument order of Marianne's profile-driven backend:

    executable [subcommand] [auto_approve_flag] [output_format_flag [value]]
    [model_flag MODEL] [timeout_flag SECONDS] [working_dir_flag DIR] <prompt part>
    [mcp_disable_args…] [allowed_tools_flag TOOLS] [system_prompt_flag FILE]
    [extra_flags…] [cli_extra_args…]

Nothing from the environment is ever put on the command line (other users can read
a process's arguments); secrets reach the child only through its environment.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from mzt.instruments.parsing import InstrumentResult, interpret_output, price_for
from mzt.instruments.profile import CliCommand, InstrumentProfile, ModelSpec
from mzt.support import records, spawnhold
from mzt.support.errors import MztError
from mzt.support.lazyre import LazyPattern

ARGV_PROMPT_LIMIT = 32 * 1024
"""Bytes of prompt allowed on the command line; a longer prompt goes to stdin (or a file)."""

SYSTEM_ENV_VARS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TMPDIR",
        "TMP",
        "TEMP",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
    }
)
"""Variables a child keeps even when its profile sets ``required_env`` (Marianne's list)."""

NETWORK_ENV_VARS = frozenset(
    {
        "TZ",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    }
)
"""Also kept by mzt: without them an agent behind a proxy or a private CA cannot connect
(and its reset times would be shown in the wrong time zone)."""

# Shells take a script after -c but cannot read a script from stdin without the
# script's own commands reading from that same stdin: a long script goes to a file.
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
_ENV_REF = LazyPattern(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PromptDelivery = Literal["stdin", "argv", "file"]


class InstrumentError(MztError):
    """An instrument cannot be started as asked (HTTP instrument, bad setting)."""

    code = "INSTRUMENT"


@records.record(frozen=True, slots=True)
class Invocation:
    """One ready-to-spawn command. Call `cleanup` (or use ``with``) once the child ended.

    ``temp_dir`` is set when the prompt was written to a private temporary file (a
    long shell script); `cleanup` deletes it. Without one, `cleanup` does nothing.
    """

    argv: tuple[str, ...]
    env: dict[str, str]
    stdin: bytes | None  # None: the child's stdin is /dev/null
    cwd: Path
    delivery: PromptDelivery
    temp_dir: Path | None = None
    warnings: tuple[str, ...] = records.field(default=())

    def cleanup(self) -> None:
        """Delete the temporary prompt file, if any; safe to call more than once."""
        if self.temp_dir is not None:
            import shutil  # only a prompt too long for the command line made a folder

            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> Invocation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


class Instrument:
    """A loaded profile that can build command lines and read results."""

    def __init__(self, profile: InstrumentProfile, source: Path | Literal["built-in"]) -> None:
        self.profile = profile
        self.source = source

    def __repr__(self) -> str:
        return f"Instrument({self.name!r}, source={str(self.source)!r})"

    @property
    def name(self) -> str:
        """The profile's name."""
        return self.profile.name

    @property
    def runnable(self) -> bool:
        """Whether mzt can run it: command-line instruments and the HTTP families it speaks."""
        if self.profile.cli is not None:
            return True
        from mzt.instruments.http_schemas import family

        return family(self.profile) is not None

    @property
    def raw_prompt(self) -> bool:
        """Whether the instrument gets the rendered template alone (no prompt assembly)."""
        return self.profile.raw_prompt

    @property
    def executable(self) -> str | None:
        """The program the profile starts (as written in the profile)."""
        return self.profile.cli.command.executable if self.profile.cli else None

    @property
    def default_timeout(self) -> float:
        """The attempt timeout when the score sets none."""
        return self.profile.default_timeout_seconds

    def locate(self, path: str | None = None) -> str | None:
        """Absolute path of the executable on ``path`` (default: this process's PATH)."""
        executable = self.executable
        if executable is None:
            return None
        search = path if path is not None else os.environ.get("PATH", os.defpath)
        # The look-up that starting it makes, so an attempt searches PATH once, not twice.
        program = str(Path(executable).expanduser())
        found = spawnhold.locate(program, Path(), {"PATH": search})
        return None if isinstance(found, OSError) else str(Path(found).absolute())

    def model_for(self, model: str | None) -> ModelSpec | None:
        """The price and limit entry used for ``model`` (default or first entry if unlisted)."""
        return price_for(self.profile, model)[0]

    def _command(self) -> CliCommand:
        if self.profile.cli is None:
            raise InstrumentError(
                f"the instrument {self.name!r} is an HTTP instrument, which mzt cannot run yet",
                hint="choose a command-line instrument (see `mzt instruments list`)",
            )
        return self.profile.cli.command

    def invocation(
        self,
        prompt: str,
        *,
        model: str | None = None,
        config: Mapping[str, Any] | None = None,
        workdir: Path,
        timeout_seconds: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Invocation:
        """Build the command for one attempt.

        ``model`` wins over ``config["model"]``, which wins over the profile's
        ``default_model``. From ``config`` (the sheet's merged instrument settings)
        this reads ``skip_permissions`` and ``disable_mcp`` (false drops the
        auto-approve flag or the MCP-disabling arguments), ``allowed_tools`` and
        ``system_prompt_file`` (emitted when the profile names a flag for them) and
        ``cli_extra_args`` (appended last). ``environ`` is the parent environment
        (default: this process's). A prompt longer than `ARGV_PROMPT_LIMIT` bytes that
        the profile passes as an argument (or one holding a NUL byte) goes to stdin
        instead, or for a shell script to a private temporary file that
        `Invocation.cleanup` removes.
        """
        command = self._command()
        config = config or {}
        parent = os.environ if environ is None else environ
        chosen = model or _str_or_none(config.get("model")) or self.profile.default_model
        timeout = timeout_seconds
        if timeout is None:
            timeout = self.profile.default_timeout_seconds
        extra = _extra_args(config.get("cli_extra_args"))  # checked before any file exists
        data = prompt.encode("utf-8")
        delivery: PromptDelivery = "stdin" if command.prompt_via_stdin else "argv"
        # A NUL byte cannot be passed in an argument at all: treat it like a long prompt.
        if delivery == "argv" and (len(data) > ARGV_PROMPT_LIMIT or b"\0" in data):
            delivery = "file" if _takes_script(command) else "stdin"

        args = [command.executable]
        if command.subcommand:
            args.append(command.subcommand)
        if command.auto_approve_flag and config.get("skip_permissions") is not False:
            args.append(command.auto_approve_flag)
        if command.output_format_flag:
            args.append(command.output_format_flag)
            if command.output_format_value is not None:
                args.append(command.output_format_value)
        if command.model_flag and chosen:
            args += [command.model_flag, chosen]
        if command.timeout_flag and timeout:
            args += [command.timeout_flag, str(math.ceil(timeout))]
        if command.working_dir_flag:
            args += [command.working_dir_flag, str(workdir)]

        temp_dir: Path | None = None
        if delivery == "file":
            temp_dir, script = _write_private(data)
            args.append(str(script))  # `bash FILE` in place of `bash -c SCRIPT`
        elif delivery == "stdin":
            if command.stdin_sentinel is not None:
                if command.prompt_flag:
                    args.append(command.prompt_flag)
                args.append(command.stdin_sentinel)
        else:
            if command.prompt_flag:
                args.append(command.prompt_flag)
            args.append(prompt)

        if config.get("disable_mcp") is not False:
            args += command.mcp_disable_args
        tools = config.get("allowed_tools")
        if command.allowed_tools_flag and tools:
            listed = tools if isinstance(tools, str) else ",".join(map(str, tools))
            args += [command.allowed_tools_flag, listed]
        system_prompt = _str_or_none(config.get("system_prompt_file"))
        if command.system_prompt_flag and system_prompt:
            args += [command.system_prompt_flag, system_prompt]
        args += command.extra_flags
        args += extra

        env, warnings = _environment(command, parent)
        return Invocation(
            argv=tuple(args),
            env=env,
            stdin=data if delivery == "stdin" else None,
            cwd=workdir,
            delivery=delivery,
            temp_dir=temp_dir,
            warnings=tuple(warnings),
        )

    def interpret(
        self,
        *,
        exit_code: int | None,
        stdout: str,
        stderr: str,
        model: str | None = None,
    ) -> InstrumentResult:
        """Read a finished attempt: success, result or error text, tokens and cost.

        ``stdout`` should be the whole output (a truncated JSON document can only be
        kept as raw text); ``model`` is the model the attempt ran with, for pricing.
        """
        self._command()
        return interpret_output(
            self.profile,
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            model=model or self.profile.default_model,
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _extra_args(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InstrumentError(
        f"cli_extra_args must be a list of strings, not {value!r}",
        hint='write it as a YAML list, such as cli_extra_args: ["--verbose"]',
    )


def _takes_script(command: CliCommand) -> bool:
    return command.prompt_flag == "-c" and Path(command.executable).name in _SHELLS


def _write_private(data: bytes) -> tuple[Path, Path]:
    """A 0600 file in a fresh 0700 folder that only this user can read."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mzt-prompt-"))
    script = folder / "prompt.sh"
    try:
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, script


def _environment(
    command: CliCommand, parent: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The child's environment: filtered by ``required_env`` and topped up with ``env``."""
    if command.required_env is None:
        env = dict(parent)
    else:
        keep = SYSTEM_ENV_VARS | NETWORK_ENV_VARS | set(command.required_env)
        env = {k: v for k, v in parent.items() if k in keep}
    warnings: list[str] = []

    def expand(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in parent:
            return parent[name]
        if default is None:
            warnings.append(f"${{{name}}} is not set in the environment; it expands to nothing")
        return default or ""

    for key, value in command.env.items():
        # References read the full parent environment, not the filtered one.
        env[key] = _ENV_REF.sub(expand, value)
    return env, warnings
