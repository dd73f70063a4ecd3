"""Prepare one attempt of a sheet: which instrument, what prompt, which checks.

Called on the runner's main thread just before a sheet is launched, so it may read the
checkpoint (attempt counts, earlier sheets' results) but never writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mzt.execute.attempt import AttemptSpec
from mzt.instruments import Registry
from mzt.run.inputs import gather_injections, previous_files, previous_outputs
from mzt.run.prompting import Completion, PromptParts, assemble
from mzt.score.bounds import LIMIT_CODE
from mzt.score.fields import TemplateError
from mzt.score.instrumentation import InstrumentChoice
from mzt.score.plan import SheetPlan
from mzt.score.preparation import PreparedScore
from mzt.score.templating import (
    compile_template,
    default_prompt,
    prompt_variables,
    render,
    validation_context,
)
from mzt.state import CheckpointState, SheetState
from mzt.support import paths, records
from mzt.support.output_log import log_max_bytes
from mzt.validation.engine import (
    failure_line,
    requirement_lines,
    satisfied_line,
    snapshot_mtimes,
)
from mzt.validation.report import ValidationReport

BASELINE_KEY = "mtime_baseline"


@records.record
class SheetPreparer:
    """Builds `AttemptSpec`s for a prepared score."""

    prepared: PreparedScore
    instruments: Registry
    environ: Mapping[str, str]
    instrument_override: str | None = None
    # Polled while a prompt renders: once true, rendering raises `RenderStopped`.
    stop_asked: Callable[[], bool] = records.field(default=lambda: False)
    # Where the instrument really runs, given its configured folder (a worktree under
    # `isolation`); may raise PromptError, which fails the sheet.
    place: Callable[[CheckpointState, int, Path], Path] = records.field(
        default=lambda _state, _num, folder: folder
    )

    def __post_init__(self) -> None:
        loaded = self.prepared.loaded
        self.score = loaded.score
        self.plan = self.prepared.plan
        self.workspace = self.prepared.workspace
        self.template = compile_template(loaded.template) if loaded.template else None
        self.last_reports: dict[int, ValidationReport] = {}
        self.max_log_bytes = log_max_bytes(self.environ)  # a bad value stops the run here

    def chain(self, sheet: SheetPlan) -> list[InstrumentChoice]:
        """The sheet's instruments: primary first, then fallbacks."""
        return list(sheet.chain(self.instrument_override))

    def choice(self, sheet: SheetPlan, record: SheetState) -> InstrumentChoice:
        """The instrument the sheet's next (or last) attempt runs on."""
        chain = self.chain(sheet)
        return chain[min(record.current_instrument_index, len(chain) - 1)]

    def checks(
        self, sheet: SheetPlan, choice: InstrumentChoice
    ) -> tuple[list[tuple[int, Any]], dict[str, Any]]:
        """The sheet's validation rules and the context that fills their fields."""
        ws = str(self.workspace)
        context = validation_context(self.plan, sheet, self.score, ws, choice.name)
        return [(i, self.score.validations[i]) for i in sheet.validations], context

    def prepare(self, state: CheckpointState, num: int) -> AttemptSpec:
        return self._spec(state, num, ahead=False)

    def foresee(self, state: CheckpointState, num: int | None) -> AttemptSpec | None:
        """The spec `prepare` would give ``num``'s first attempt if nothing changed first,
        built without a trace: no baseline kept, no worktree made (the caller asks only
        when the run isolates nothing). None for no sheet, a sheet tried before, one that
        skip rules may skip, or a prompt that does not render."""
        if num is None:
            return None
        sheet = self.plan.sheet(num)
        if state.sheet(num).attempt_count or sheet.skip_when or sheet.skip_when_command:
            return None
        try:
            return self._spec(state, num, ahead=True)
        except Exception:  # prepare meets it again when the sheet really starts
            return None

    def _spec(self, state: CheckpointState, num: int, *, ahead: bool) -> AttemptSpec:
        sheet = self.plan.sheet(num)
        record = state.sheet(num)
        choice = self.choice(sheet, record)
        instrument = self.instruments.get(choice.profile)
        attempt = record.attempt_count + 1
        mode = record.execution_mode or ("retry" if record.normal_attempts else "normal")
        rules, context = self.checks(sheet, choice)
        baseline = self._baseline(record, rules, context, keep=not ahead)
        prompt = self._prompt(state, sheet, record, choice, rules, context, mode)
        folder = self._workdir(choice)
        model = record.model if record.model else choice.model
        return AttemptSpec(
            sheet_num=num,
            attempt=attempt,
            mode=mode,
            instrument_name=choice.name,
            instrument=instrument,
            model=model,
            config=choice.config,
            prompt=prompt,
            workdir=folder if ahead else self.place(state, num, folder),
            workspace=self.workspace,
            timeout=choice.timeout_seconds,
            idle_timeout=(
                self.score.stale_detection.idle_timeout_seconds
                if self.score.stale_detection.enabled
                else None
            ),
            stdout_log=paths.attempt_log(
                self.workspace, self.prepared.job_id, num, attempt, "stdout"
            ),
            stderr_log=paths.attempt_log(
                self.workspace, self.prepared.job_id, num, attempt, "stderr"
            ),
            tail_bytes=int(choice.config.get("max_output_capture_bytes") or 51200),
            rules=rules,
            context=context,
            baseline=baseline,
            environ=self.environ,
            rate_limit_patterns=tuple(self.score.rate_limit.detection_patterns),
            output_path=paths.sheet_output(self.workspace, self.prepared.job_id, num),
            max_log_bytes=self.max_log_bytes,
        )

    def _baseline(
        self,
        record: SheetState,
        rules: list[tuple[int, Any]],
        context: Mapping[str, Any],
        *,
        keep: bool,
    ) -> dict[int, float]:
        """Modification times before the sheet's first attempt, kept in the checkpoint."""
        stored = stored_baseline(record)
        if stored is not None:
            return stored
        data = dict(record.outcome_data or {})
        baseline = snapshot_mtimes(rules, context)
        if baseline and keep:
            # An empty one is not kept: the sheet's rules and paths are the same at every
            # attempt, so taking it again gives nothing again.
            data[BASELINE_KEY] = {str(k): v for k, v in baseline.items()}
            record.outcome_data = data  # type: ignore[assignment]
        return baseline

    def _workdir(self, choice: InstrumentChoice) -> Path:
        return configured_workdir(choice, self.prepared.loaded.base_dir, self.workspace)

    def _prompt(
        self,
        state: CheckpointState,
        sheet: SheetPlan,
        record: SheetState,
        choice: InstrumentChoice,
        rules: list[tuple[int, Any]],
        context: Mapping[str, Any],
        mode: str,
    ) -> str:
        ws = str(self.workspace)
        statuses = _StatusView(state)
        cross = self.score.cross_sheet
        base = prompt_variables(self.plan, sheet, self.score, ws, instrument_name=choice.name)
        injected = gather_injections(sheet.injections, base, self.workspace)
        skipped = [d for d in sheet.dependencies if statuses.get(d) == "skipped"]
        variables = prompt_variables(
            self.plan,
            sheet,
            self.score,
            ws,
            instrument_name=choice.name,
            previous_outputs=previous_outputs(
                cross, self.plan, sheet, statuses, self.workspace, self.prepared.job_id
            ),
            previous_files=previous_files(cross, sheet, self.workspace),
            skipped_upstream=skipped,
            injected=injected.as_mapping(),
        )
        if self.template is None:
            body = default_prompt(self.plan, sheet, self.score)
        else:
            try:
                body = render(self.template, variables, stop=self.stop_asked)
            except TemplateError as exc:
                raise PromptError(sheet.num, str(exc), exc.code) from None
        instrument = self.instruments.get(choice.profile)
        raw = bool(instrument and instrument.raw_prompt)
        completion = None
        if mode == "completion" and sheet.num in self.last_reports:
            report = self.last_reports[sheet.num]
            completion = Completion(
                attempt=record.completion_attempts,
                max_attempts=self.score.retry.max_completion_attempts,
                satisfied=[satisfied_line(r) for r in report.results if r.passed],
                missing=[failure_line(r) for r in report.results if not r.passed],
            )
        parts = PromptParts(
            body=body,
            sheet_num=sheet.num,
            total_sheets=self.plan.total_sheets,
            job_name=self.score.name,
            workspace=ws,
            parallel=self.score.parallel.enabled,
            retry_number=record.normal_attempts,
            skills=injected.skill,
            tools=injected.tool,
            context=injected.context,
            requirements=requirement_lines(rules, context),
            extensions=sheet.prompt_extensions,
            completion=completion,
        )
        return assemble(parts, raw=raw)


def configured_workdir(choice: InstrumentChoice, base_dir: Path, workspace: Path) -> Path:
    """The instrument's working directory as the score sets it (relative: to the score's
    folder), else the workspace."""
    configured = choice.config.get("working_directory")
    if isinstance(configured, str) and configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (base_dir / path)
    return workspace


def stored_baseline(record: SheetState) -> dict[int, float] | None:
    """The modification times taken before the sheet's first attempt, if it kept any."""
    stored = (record.outcome_data or {}).get(BASELINE_KEY)
    if isinstance(stored, dict):
        return {int(k): float(v) for k, v in stored.items()}
    return None


class _StatusView(Mapping[int, str]):
    """Sheet statuses read on demand: a prompt looks at a few sheets, not all of them."""

    def __init__(self, state: CheckpointState) -> None:
        self.sheets = state.sheets

    def __getitem__(self, num: int) -> str:
        return self.sheets[num].status.value

    def __iter__(self) -> Iterator[int]:
        return iter(self.sheets)

    def __len__(self) -> int:
        return len(self.sheets)


class PromptError(Exception):
    """A sheet's prompt could not be rendered (an undefined variable, a failing filter)."""

    def __init__(self, sheet_num: int, detail: str, code: str = "E301") -> None:
        message = f"sheet {sheet_num}'s prompt cannot be rendered: {detail}"
        if code == LIMIT_CODE:
            message += (
                "; a prompt is bounded in time, size, loop iterations and call depth, "
                "so render less (fix the template, then resume)"
            )
        super().__init__(message)
        self.sheet_num = sheet_num
        self.detail = detail
        self.code = code
