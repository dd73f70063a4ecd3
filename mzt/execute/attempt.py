"""One attempt of one sheet, as a worker thread runs it: instrument, then validations.

The runner's main thread prepares an `AttemptSpec` (the prompt is already assembled,
the state already says the sheet is in progress) and applies the returned
`AttemptReport`; nothing here touches the checkpoint, so there is one writer however
many attempts run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mzt.instruments import Instrument, InstrumentError, InstrumentResult, Invocation
from mzt.instruments.classify import ErrorInfo, classify, validation_error
from mzt.instruments.limits import detect_limit, parse_structured
from mzt.score.models import ValidationRule
from mzt.state.atomic import atomic_write
from mzt.support import records
from mzt.support.fsutil import ensure_private_dir, entry_exists, kind_of, read_regular_file
from mzt.support.output_log import DEFAULT_LOG_MAX_BYTES
from mzt.support.process import Outcome, ProcessRequest, Started, StopRequest, run_process, spawn
from mzt.support.spawnhold import SpawnHook
from mzt.validation.report import ValidationReport

MAX_PARSED_OUTPUT = 10 * 1024 * 1024  # bytes of stdout read back for result parsing
INTERNAL_ERROR = ErrorInfo("E999", "fatal", False, "mzt failed while running the attempt")


@records.record(frozen=True, slots=True)
class AttemptSpec:
    """Everything a worker needs to run one attempt."""

    sheet_num: int
    attempt: int
    mode: str  # normal, retry or completion
    instrument_name: str  # as the score names it
    instrument: Instrument | None  # None: the profile is unknown
    model: str | None
    config: Mapping[str, Any]
    prompt: str
    workdir: Path
    workspace: Path
    timeout: float
    idle_timeout: float | None
    stdout_log: Path
    stderr_log: Path
    tail_bytes: int
    rules: Sequence[tuple[int, ValidationRule]]
    context: Mapping[str, Any]
    baseline: Mapping[int, float]
    environ: Mapping[str, str]
    rate_limit_patterns: Sequence[str]
    output_path: Path | None = None  # the sheet's result file (outputs/<job>/sheet-N.md)
    max_log_bytes: int = DEFAULT_LOG_MAX_BYTES  # per stream (MZT_LOG_MAX_BYTES)


@records.record(frozen=True, slots=True)
class Published:
    """The attempt's result text was written before its validations ran.

    ``previous`` is what the file held before (None: no file), so the runner can put it
    back when the attempt does not complete the sheet: the file always holds the result
    of the sheet's last successful attempt, yet validations can check it.
    """

    path: Path
    previous: bytes | None


@records.record(frozen=True, slots=True)
class AttemptReport:
    """What happened in one attempt."""

    spec: AttemptSpec
    outcome: Outcome
    result: InstrumentResult | None
    validation: ValidationReport | None
    error: ErrorInfo | None
    published: Published | None = None

    @property
    def execution_success(self) -> bool:
        return (
            self.result is not None and self.result.success and self.outcome.reason == "completed"
        )

    @property
    def stopped(self) -> bool:
        """The attempt was cut short by a cancel or a signal: its result does not count."""
        if self.outcome.reason in ("cancelled", "interrupted"):
            return True
        return self.validation is not None and self.validation.stopped is not None


def execute(
    spec: AttemptSpec,
    should_stop: Callable[[], StopRequest | None],
    on_spawned: SpawnHook | None = None,
) -> AttemptReport:
    """Run the instrument, then the validations; never raises.

    ``on_spawned`` sees the instrument's process while it is held, before it runs.
    An unexpected error inside mzt fails this attempt (with the error in its record)
    rather than the whole run, which may have other sheets in flight.
    """
    try:
        return _execute(spec, should_stop, on_spawned)
    except Exception as exc:  # the run must survive a bug in one attempt
        return _internal_error(spec, exc)


def _internal_error(spec: AttemptSpec, exc: Exception) -> AttemptReport:
    import traceback

    detail = "".join(traceback.format_exception_only(exc)).strip()
    outcome = _not_started(f"internal error while running the attempt: {detail}")
    return AttemptReport(spec, outcome, None, None, INTERNAL_ERROR)


def _execute(
    spec: AttemptSpec,
    should_stop: Callable[[], StopRequest | None],
    on_spawned: SpawnHook | None,
) -> AttemptReport:
    if spec.instrument is None:
        outcome = _not_started(f"unknown instrument {spec.instrument_name!r}")
        return AttemptReport(spec, outcome, None, None, classify(outcome))
    if spec.instrument.profile.kind == "http":
        report = _execute_http(spec, should_stop)
        if report is not None:
            return report
    return _execute_command(spec, should_stop, on_spawned)


def _execute_http(
    spec: AttemptSpec, should_stop: Callable[[], StopRequest | None]
) -> AttemptReport | None:
    """An attempt through the HTTP client; None when the profile needs its command."""
    # Imported here: urllib and ssl cost a command-line run start-up time for nothing.
    from mzt.instruments.http import call_http_api
    from mzt.instruments.http import supported as http_supported

    assert spec.instrument is not None
    if http_supported(spec.instrument.profile):
        call = call_http_api(
            spec.instrument.profile,
            spec.prompt,
            model=spec.model,
            config=spec.config,
            timeout=spec.timeout,
            environ=spec.environ,
            should_stop=should_stop,
            stdout_log=spec.stdout_log,
            stderr_log=spec.stderr_log,
            tail_bytes=spec.tail_bytes,
            builtin=spec.instrument.source == "built-in",
        )
        return _validate(spec, call.outcome, call.result, call.error, should_stop)
    return None


@records.record(frozen=True, slots=True)
class StartedAttempt:
    """An attempt whose child is spawned and held (`start`); `finish` runs the rest."""

    spec: AttemptSpec
    process: Started
    invocation: Invocation


def start(spec: AttemptSpec) -> StartedAttempt | None:
    """Spawn the attempt's child held, in the calling thread; None: leave it to `execute`.

    The thread that records the handle can spawn the child itself and so needs no
    hand-over to a worker and back before the child runs; only the watching is left to
    the worker (`finish`). Anything but a command ready to spawn — an HTTP instrument,
    an error to report — is `execute`'s, which then sees the same attempt whole.
    """
    instrument = spec.instrument
    if instrument is None or instrument.profile.kind == "http" or not instrument.runnable:
        return None
    try:
        prepared = _prepare(spec)
    except Exception:  # reported by `execute`, which meets it again
        return None
    if isinstance(prepared, AttemptReport):
        return None
    invocation, request = prepared
    started = spawn(request, held=True)
    if isinstance(started, Outcome):
        invocation.cleanup()
        return None
    return StartedAttempt(spec, started, invocation)


def drop(attempt: StartedAttempt) -> None:
    """Stop a started attempt's held child unstarted and clean up after it."""
    try:
        attempt.process.drop()
    finally:
        attempt.invocation.cleanup()


def finish(attempt: StartedAttempt, should_stop: Callable[[], StopRequest | None]) -> AttemptReport:
    """Watch a started attempt's child once its hold is settled, then its validations."""
    try:
        try:
            outcome = attempt.process.proceed(should_stop)
        finally:
            attempt.invocation.cleanup()
        return _conclude(attempt.spec, outcome, should_stop)
    except Exception as exc:  # the run must survive a bug in one attempt
        return _internal_error(attempt.spec, exc)


def _execute_command(
    spec: AttemptSpec,
    should_stop: Callable[[], StopRequest | None],
    on_spawned: SpawnHook | None,
) -> AttemptReport:
    prepared = _prepare(spec)
    if isinstance(prepared, AttemptReport):
        return prepared
    invocation, request = prepared
    try:
        outcome = run_process(
            records.replace(request, on_spawned=on_spawned), should_stop=should_stop
        )
    finally:
        invocation.cleanup()
    return _conclude(spec, outcome, should_stop)


def _prepare(spec: AttemptSpec) -> tuple[Invocation, ProcessRequest] | AttemptReport:
    """The attempt's command, ready to spawn, or the report of why it cannot be."""
    assert spec.instrument is not None
    if not spec.instrument.runnable:
        outcome = _not_started(f"the instrument {spec.instrument_name!r} cannot be run by mzt")
        return AttemptReport(spec, outcome, None, None, classify(outcome))
    if spec.instrument.locate(spec.environ.get("PATH")) is None:
        # Not the PATH itself: it is long, repeated for every fallback, and `mzt
        # instruments check` shows the folders searched.
        outcome = _not_started(f"Executable not found: {spec.instrument.executable} is not on PATH")
        return AttemptReport(spec, outcome, None, None, classify(outcome))
    try:
        invocation = spec.instrument.invocation(
            spec.prompt,
            model=spec.model,
            config=spec.config,
            workdir=spec.workdir,
            timeout_seconds=spec.timeout,
            environ=spec.environ,
        )
    except InstrumentError as exc:
        outcome = _not_started(str(exc))
        return AttemptReport(spec, outcome, None, None, classify(outcome))
    if not invocation.cwd.is_dir():
        # Spawning would fail with ENOENT too, which reads as a missing executable.
        invocation.cleanup()
        return _bad_workdir(spec, invocation.cwd)
    request = ProcessRequest(
        argv=invocation.argv,
        cwd=invocation.cwd,
        env=invocation.env,
        stdin=invocation.stdin,
        timeout=spec.timeout,
        idle_timeout=spec.idle_timeout,
        stdout_log=spec.stdout_log,
        stderr_log=spec.stderr_log,
        tail_bytes=spec.tail_bytes,
        max_log_bytes=spec.max_log_bytes,
    )
    return invocation, request


def _conclude(
    spec: AttemptSpec, outcome: Outcome, should_stop: Callable[[], StopRequest | None]
) -> AttemptReport:
    """Interpret the child's outcome, then run the validations."""
    assert spec.instrument is not None
    # A capped log has a gap in the middle: only the tail can still be parsed.
    stdout = (
        outcome.stdout_tail
        if outcome.stdout_log_dropped
        else _read_back(spec.stdout_log, outcome.stdout_tail)
    )
    result = spec.instrument.interpret(
        exit_code=outcome.exit_code if outcome.reason == "completed" else None,
        stdout=stdout,
        stderr=outcome.stderr_tail,
        model=spec.model,
    )
    report_error: ErrorInfo | None = None
    success = result.success and outcome.reason == "completed"
    if not success:
        text = "\n".join(
            filter(None, (result.error_text, outcome.stdout_tail, outcome.stderr_tail))
        )
        report_error = classify(
            outcome,
            output=text,
            rate_limit_patterns=spec.rate_limit_patterns,
            parsed=parse_structured(stdout, outcome.stderr_tail),
            permanent_exit_codes=_permanent_exit_codes(spec),
            deterministic=_deterministic(spec),
        )
    else:
        # Some CLIs (Claude Code) print their usage limit and still exit 0.
        report_error = detect_limit(
            stdout,
            outcome.stderr_tail,
            exit_code=outcome.exit_code,
            patterns=spec.rate_limit_patterns,
        )
    return _validate(spec, outcome, result, report_error, should_stop)


def _permanent_exit_codes(spec: AttemptSpec) -> tuple[int, ...]:
    cli = spec.instrument.profile.cli if spec.instrument is not None else None
    return tuple(cli.errors.permanent_exit_codes) if cli is not None else ()


def _deterministic(spec: AttemptSpec) -> bool:
    cli = spec.instrument.profile.cli if spec.instrument is not None else None
    return cli is not None and cli.errors.deterministic


def _validate(
    spec: AttemptSpec,
    outcome: Outcome,
    result: InstrumentResult,
    report_error: ErrorInfo | None,
    should_stop: Callable[[], StopRequest | None],
) -> AttemptReport:
    """Run the validations after the instrument, unless the attempt was stopped or limited."""
    if outcome.reason in ("cancelled", "interrupted") or (
        report_error and report_error.rate_limited
    ):
        return AttemptReport(spec, outcome, result, None, report_error)
    published = _publish(spec.output_path, result.result_text)
    validation = ValidationReport(())  # what the engine reports for no rules
    if spec.rules:
        # Here: a sheet without rules needs neither the engine nor the checks, templating
        # and fields it imports, and an attempt on a Slurm node starts for one sheet.
        from mzt.validation.engine import run_validations

        validation = run_validations(
            spec.rules,
            spec.context,
            workspace=spec.workspace,
            baseline=spec.baseline,
            environ=spec.environ,
            should_stop=should_stop,
        )
    if report_error is None and not validation.all_passed:
        first = next((r for r in validation.results if not r.passed and not r.skipped), None)
        report_error = validation_error(
            first.failure_category if first else None,
            f"{len(validation.failed_indices)} of {len(validation.results)} validations failed"
            + (f": {first.error_message}" if first and first.error_message else ""),
        )
    return AttemptReport(spec, outcome, result, validation, report_error, published)


def _publish(path: Path | None, text: str) -> Published | None:
    if path is None or not text:
        return None
    try:
        previous: bytes | None = read_regular_file(path)
    except OSError:  # none yet, or something that is no result of ours: nothing to restore
        previous = None
    from mzt.support.redact import redact  # here: an attempt that publishes nothing needs none

    ensure_private_dir(path.parent)
    # Atomic but not fsync'd: a convenience copy; the checkpoint is the durable record.
    atomic_write(path, redact(text).encode("utf-8"), durable=False)
    return Published(path, previous)


def _bad_workdir(spec: AttemptSpec, cwd: Path) -> AttemptReport:
    state = f"is {kind_of(cwd)}, not a folder" if entry_exists(cwd) else "does not exist"
    message = (
        f"The working directory {cwd} {state}: create it, or fix working_directory in the score"
    )
    outcome = _not_started(message)
    return AttemptReport(
        spec, outcome, None, None, ErrorInfo("E603", "configuration", False, message)
    )


def _not_started(message: str) -> Outcome:
    return Outcome(None, None, "error", 0.0, "", message, 0, 0, False, error=message)


def _read_back(log: Path, fallback: str) -> str:
    """The attempt's full (redacted) stdout for parsing, bounded; the tail if unreadable."""
    try:
        data = read_regular_file(log, MAX_PARSED_OUTPUT + 1)
    except OSError:
        return fallback
    if len(data) > MAX_PARSED_OUTPUT:
        return fallback
    return data.decode("utf-8", errors="replace")
