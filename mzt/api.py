"""The library facade: what the command line (or any program) calls. Nothing here prints.

Functions take keyword arguments and return typed results; problems the user can act
on are raised as `MztError` subclasses with a hint and an exit code.

Every name loads on first use, from the package that owns it, so a command pays at
start-up only for the path it takes: `mzt status` never imports the score models, and
`mzt validate` never imports the runner.
"""

from __future__ import annotations

from mzt.support.lazy import exports

# Not `typing`: importing it is a visible share of `mzt status`'s whole answer.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from mzt.execute.choice import NAMES as EXECUTORS
    from mzt.execute.remote import load_folder as load_attempt_folder
    from mzt.execute.remote import run_folder as run_attempt_folder
    from mzt.instruments.circuits import clear as clear_circuits
    from mzt.instruments.info import (
        InstrumentInfo,
        problem_json,
    )
    from mzt.instruments.info import describe as describe_instrument
    from mzt.instruments.info import gather as gather_instruments
    from mzt.instruments.loader import load_instruments
    from mzt.instruments.ratelimits import clear as clear_rate_limits
    from mzt.machine.config import MachineConfig
    from mzt.machine.config import config_path as machine_config_path
    from mzt.machine.config import load as load_machine_config
    from mzt.machine.configfile import ConfigCheck
    from mzt.machine.configfile import check_file as check_machine_config
    from mzt.machine.configshow import EffectiveConfig
    from mzt.machine.configshow import effective as effective_machine_config
    from mzt.run.launch import resume_job
    from mzt.run.modification import (
        Modification,
        check_modification,
    )
    from mzt.run.preflight import (
        RunRefused,
        check_runnable,
    )
    from mzt.run.quick import answer_noop as answer_noop_run
    from mzt.run.quick import run_score
    from mzt.run.recovery import (
        RecoveryReport,
        recover_job,
    )
    from mzt.run.reporting import (
        NullReporter,
        Progress,
        Reporter,
        Tally,
        Wait,
    )
    from mzt.run.results import (
        RunOptions,
        RunResult,
    )
    from mzt.score.plan import (
        Plan,
        SheetPlan,
    )
    from mzt.score.preparation import (
        PreparedScore,
        Preview,
        Validation,
        prepare_score,
        preview_prompt,
        resolve_workspace,
        validate_score,
    )
    from mzt.score.starter import init_score
    from mzt.state.registry import known_jobs
    from mzt.support.errors import (
        ForeignHostError,
        Issue,
        MztError,
        ScoreError,
        UsageError,
    )
    from mzt.support.exitcodes import ExitCode
    from mzt.support.fsutil import ensure_private_dir
    from mzt.support.logsetup import configure_logging
    from mzt.support.moments import parse_moment
    from mzt.support.paths import (
        crash_dir,
        registry_dir,
    )
    from mzt.support.redact import redact
    from mzt.support.terminal import sanitize_terminal
    from mzt.views.circuits import circuit_records
    from mzt.views.clear_report import ClearReport
    from mzt.views.clearing import (
        DeclinedError,
        clear_jobs,
        parse_duration,
    )
    from mzt.views.diagnose import (
        Diagnosis,
        diagnose,
    )
    from mzt.views.diagnose_extras import log_tails
    from mzt.views.diagnose_extras import resources as job_resources
    from mzt.views.doctor import (
        DoctorReport,
        doctor,
    )
    from mzt.views.forced_pause import force_pause
    from mzt.views.history import (
        ErrorEntry,
        ErrorsReport,
        HistoryReport,
        errors_report,
        history_report,
        open_view,
    )
    from mzt.views.log_follow import follow_job as follow_job_logs
    from mzt.views.log_tail import read_tail
    from mzt.views.logs import (
        AttemptLogs,
        LogChunk,
        await_attempt,
        select_attempt,
    )
    from mzt.views.logs import follow as follow_logs
    from mzt.views.lookup import (
        JobView,
        read_job,
    )
    from mzt.views.lookup import locate as locate_job
    from mzt.views.registered import empty_overview
    from mzt.views.status import find as find_watch_target
    from mzt.views.status import (
        job_status,
        list_document,
        overview_document,
    )
    from mzt.views.steering import (
        DEFAULT_WAIT_TIMEOUT,
        STOPPED_STATUSES,
        CancelOutcome,
        cancel_and_wait,
        request_cancel,
        request_pause,
        wait_for_status,
    )
    from mzt.views.top import TopFrame
    from mzt.views.top import frames as top_frames
    from mzt.views.watch import WatchFrame
    from mzt.views.watch import follow as watch_job

_EXPORTS: dict[str, tuple[str, str]] = {
    "AttemptLogs": ("mzt.views.logs", "AttemptLogs"),
    "CancelOutcome": ("mzt.views.steering", "CancelOutcome"),
    "ClearReport": ("mzt.views.clear_report", "ClearReport"),
    "ConfigCheck": ("mzt.machine.configfile", "ConfigCheck"),
    "DEFAULT_WAIT_TIMEOUT": ("mzt.views.steering", "DEFAULT_WAIT_TIMEOUT"),
    "DeclinedError": ("mzt.views.clearing", "DeclinedError"),
    "Diagnosis": ("mzt.views.diagnose", "Diagnosis"),
    "DoctorReport": ("mzt.views.doctor", "DoctorReport"),
    "EffectiveConfig": ("mzt.machine.configshow", "EffectiveConfig"),
    "ErrorEntry": ("mzt.views.history", "ErrorEntry"),
    "ErrorsReport": ("mzt.views.history", "ErrorsReport"),
    "EXECUTORS": ("mzt.execute.choice", "NAMES"),
    "ExitCode": ("mzt.support.exitcodes", "ExitCode"),
    "ForeignHostError": ("mzt.support.errors", "ForeignHostError"),
    "HistoryReport": ("mzt.views.history", "HistoryReport"),
    "InstrumentInfo": ("mzt.instruments.info", "InstrumentInfo"),
    "Issue": ("mzt.support.errors", "Issue"),
    "JobView": ("mzt.views.lookup", "JobView"),
    "LogChunk": ("mzt.views.logs", "LogChunk"),
    "MachineConfig": ("mzt.machine.config", "MachineConfig"),
    "Modification": ("mzt.run.modification", "Modification"),
    "MztError": ("mzt.support.errors", "MztError"),
    "NullReporter": ("mzt.run.reporting", "NullReporter"),
    "Plan": ("mzt.score.plan", "Plan"),
    "PreparedScore": ("mzt.score.preparation", "PreparedScore"),
    "Preview": ("mzt.score.preparation", "Preview"),
    "Progress": ("mzt.run.reporting", "Progress"),
    "Reporter": ("mzt.run.reporting", "Reporter"),
    "Tally": ("mzt.run.reporting", "Tally"),
    "Wait": ("mzt.run.reporting", "Wait"),
    "RecoveryReport": ("mzt.run.recovery", "RecoveryReport"),
    "RunOptions": ("mzt.run.results", "RunOptions"),
    "RunRefused": ("mzt.run.preflight", "RunRefused"),
    "RunResult": ("mzt.run.results", "RunResult"),
    "STOPPED_STATUSES": ("mzt.views.steering", "STOPPED_STATUSES"),
    "ScoreError": ("mzt.support.errors", "ScoreError"),
    "SheetPlan": ("mzt.score.plan", "SheetPlan"),
    "TopFrame": ("mzt.views.top", "TopFrame"),
    "UsageError": ("mzt.support.errors", "UsageError"),
    "Validation": ("mzt.score.preparation", "Validation"),
    "WatchFrame": ("mzt.views.watch", "WatchFrame"),
    "answer_noop_run": ("mzt.run.quick", "answer_noop"),
    "await_attempt": ("mzt.views.logs", "await_attempt"),
    "cancel_and_wait": ("mzt.views.steering", "cancel_and_wait"),
    "check_machine_config": ("mzt.machine.configfile", "check_file"),
    "check_modification": ("mzt.run.modification", "check_modification"),
    "check_runnable": ("mzt.run.preflight", "check_runnable"),
    "circuit_records": ("mzt.views.circuits", "circuit_records"),
    "clear_circuits": ("mzt.instruments.circuits", "clear"),
    "clear_jobs": ("mzt.views.clearing", "clear_jobs"),
    "clear_rate_limits": ("mzt.instruments.ratelimits", "clear"),
    "configure_logging": ("mzt.support.logsetup", "configure_logging"),
    "crash_dir": ("mzt.support.paths", "crash_dir"),
    "describe_instrument": ("mzt.instruments.info", "describe"),
    "diagnose": ("mzt.views.diagnose", "diagnose"),
    "doctor": ("mzt.views.doctor", "doctor"),
    "effective_machine_config": ("mzt.machine.configshow", "effective"),
    "empty_overview": ("mzt.views.registered", "empty_overview"),
    "ensure_private_dir": ("mzt.support.fsutil", "ensure_private_dir"),
    "errors_report": ("mzt.views.history", "errors_report"),
    "find_watch_target": ("mzt.views.status", "find"),
    "follow_job_logs": ("mzt.views.log_follow", "follow_job"),
    "force_pause": ("mzt.views.forced_pause", "force_pause"),
    "follow_logs": ("mzt.views.logs", "follow"),
    "gather_instruments": ("mzt.instruments.info", "gather"),
    "history_report": ("mzt.views.history", "history_report"),
    "init_score": ("mzt.score.starter", "init_score"),
    "job_status": ("mzt.views.status", "job_status"),
    "list_document": ("mzt.views.status", "list_document"),
    "job_resources": ("mzt.views.diagnose_extras", "resources"),
    "known_jobs": ("mzt.state.registry", "known_jobs"),
    "load_instruments": ("mzt.instruments.loader", "load_instruments"),
    "load_machine_config": ("mzt.machine.config", "load"),
    "locate_job": ("mzt.views.lookup", "locate"),
    "log_tails": ("mzt.views.diagnose_extras", "log_tails"),
    "machine_config_path": ("mzt.machine.config", "config_path"),
    "open_view": ("mzt.views.history", "open_view"),
    "overview_document": ("mzt.views.status", "overview_document"),
    "parse_duration": ("mzt.views.clearing", "parse_duration"),
    "prepare_score": ("mzt.score.preparation", "prepare_score"),
    "preview_prompt": ("mzt.score.preparation", "preview_prompt"),
    "problem_json": ("mzt.instruments.info", "problem_json"),
    "read_job": ("mzt.views.lookup", "read_job"),
    "read_tail": ("mzt.views.log_tail", "read_tail"),
    "recover_job": ("mzt.run.recovery", "recover_job"),
    "redact": ("mzt.support.redact", "redact"),
    "registry_dir": ("mzt.support.paths", "registry_dir"),
    "request_cancel": ("mzt.views.steering", "request_cancel"),
    "request_pause": ("mzt.views.steering", "request_pause"),
    "resolve_workspace": ("mzt.score.preparation", "resolve_workspace"),
    "resume_job": ("mzt.run.launch", "resume_job"),
    "load_attempt_folder": ("mzt.execute.remote", "load_folder"),
    "run_attempt_folder": ("mzt.execute.remote", "run_folder"),
    "run_score": ("mzt.run.quick", "run_score"),
    "sanitize_terminal": ("mzt.support.terminal", "sanitize_terminal"),
    "parse_moment": ("mzt.support.moments", "parse_moment"),
    "select_attempt": ("mzt.views.logs", "select_attempt"),
    "top_frames": ("mzt.views.top", "frames"),
    "validate_score": ("mzt.score.preparation", "validate_score"),
    "wait_for_status": ("mzt.views.steering", "wait_for_status"),
    "watch_job": ("mzt.views.watch", "follow"),
}


__getattr__ = exports("mzt.api", _EXPORTS, globals())


__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "EXECUTORS",
    "STOPPED_STATUSES",
    "AttemptLogs",
    "CancelOutcome",
    "ClearReport",
    "ConfigCheck",
    "DeclinedError",
    "Diagnosis",
    "DoctorReport",
    "EffectiveConfig",
    "ErrorEntry",
    "ErrorsReport",
    "ExitCode",
    "ForeignHostError",
    "HistoryReport",
    "InstrumentInfo",
    "Issue",
    "JobView",
    "LogChunk",
    "MachineConfig",
    "Modification",
    "MztError",
    "NullReporter",
    "Plan",
    "PreparedScore",
    "Preview",
    "Progress",
    "RecoveryReport",
    "Reporter",
    "RunOptions",
    "RunRefused",
    "RunResult",
    "ScoreError",
    "SheetPlan",
    "Tally",
    "TopFrame",
    "UsageError",
    "Validation",
    "Wait",
    "WatchFrame",
    "answer_noop_run",
    "await_attempt",
    "cancel_and_wait",
    "check_machine_config",
    "check_modification",
    "check_runnable",
    "circuit_records",
    "clear_circuits",
    "clear_jobs",
    "clear_rate_limits",
    "configure_logging",
    "crash_dir",
    "describe_instrument",
    "diagnose",
    "doctor",
    "effective_machine_config",
    "empty_overview",
    "ensure_private_dir",
    "errors_report",
    "find_watch_target",
    "follow_job_logs",
    "follow_logs",
    "force_pause",
    "gather_instruments",
    "history_report",
    "init_score",
    "job_resources",
    "job_status",
    "known_jobs",
    "list_document",
    "load_attempt_folder",
    "load_instruments",
    "load_machine_config",
    "locate_job",
    "log_tails",
    "machine_config_path",
    "open_view",
    "overview_document",
    "parse_duration",
    "parse_moment",
    "prepare_score",
    "preview_prompt",
    "problem_json",
    "read_job",
    "read_tail",
    "recover_job",
    "redact",
    "registry_dir",
    "request_cancel",
    "request_pause",
    "resolve_workspace",
    "resume_job",
    "run_attempt_folder",
    "run_score",
    "sanitize_terminal",
    "select_attempt",
    "top_frames",
    "validate_score",
    "wait_for_status",
    "watch_job",
]
