from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mzt.score.models.validation import ValidationRule
from mzt.state.models import SheetState
from mzt.state.records import ValidationDetailDict
from mzt.support.process import StopRequest
from mzt.validation import checks as validation_checks
from mzt.validation.engine import run_validations, snapshot_mtimes
from mzt.validation.report import ValidationReport
from mzt.validation.texts import failure_line, requirement_lines, satisfied_line


def rule(**fields: Any) -> ValidationRule:
    """A rule with no re-checks unless asked, and short delays when asked."""
    return ValidationRule(**{"retry_count": 0, "retry_delay_ms": 10, **fields})


def context(workspace: Path, **extra: Any) -> dict[str, Any]:
    return {"workspace": str(workspace), "sheet_num": 2, "instance": 1, **extra}


def check(
    workspace: Path,
    *rules: ValidationRule,
    ctx: dict[str, Any] | None = None,
    baseline: dict[int, float] | None = None,
    **kwargs: Any,
) -> ValidationReport:
    return run_validations(
        list(enumerate(rules)),
        ctx if ctx is not None else context(workspace),
        workspace=workspace,
        baseline=baseline or {},
        environ={"PATH": os.environ["PATH"]},
        **kwargs,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- the five types -------------------------------------------------------------------------


def test_file_exists(tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    report = check(
        tmp_path,
        rule(type="file_exists", path="{workspace}/here.txt"),
        rule(type="file_exists", path="{workspace}/gone.txt"),
        rule(type="file_exists", path="{workspace}/dir"),
    )
    ok, missing, directory = report.results
    assert ok.passed and ok.path == str(tmp_path / "here.txt") and ok.failure_category is None
    assert not missing.passed and missing.failure_category == "missing"
    assert "does not exist" in (missing.error_message or "")
    assert missing.suggested_fix == f"Create the file {tmp_path / 'gone.txt'}."
    assert not directory.passed and "is a directory" in (directory.error_message or "")


def test_relative_paths_are_anchored_at_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "out-2.txt").write_text("x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "out-2.txt").write_text("x")
    monkeypatch.chdir(elsewhere)
    report = check(workspace, rule(type="file_exists", path="out-{sheet_num}.txt"))
    assert report.all_passed
    assert report.results[0].path == str(workspace / "out-2.txt")
    os.remove(workspace / "out-2.txt")
    assert not check(workspace, rule(type="file_exists", path="out-{sheet_num}.txt")).all_passed


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "h.txt").write_text("x")
    report = check(tmp_path / "nowhere", rule(type="file_exists", path="~/h.txt"))
    assert report.all_passed and report.results[0].path == str(tmp_path / "h.txt")


def test_file_modified_against_the_baseline(tmp_path: Path) -> None:
    unchanged, touched, created = (tmp_path / n for n in ("same", "touched", "created"))
    for path in (unchanged, touched):
        path.write_text("old")
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    rules = [
        rule(type="file_modified", path="{workspace}/same"),
        rule(type="file_modified", path="{workspace}/touched"),
        rule(type="file_modified", path="{workspace}/created"),
        rule(type="file_modified", path="{workspace}/never"),
    ]
    ctx = context(tmp_path)
    baseline = snapshot_mtimes(list(enumerate(rules)), ctx)
    assert baseline == {0: 1e9, 1: 1e9, 2: 0.0, 3: 0.0}
    os.utime(touched, ns=(1_000_000_000_001_000_000, 1_000_000_000_001_000_000))  # +1 ms
    created.write_text("new")
    report = check(tmp_path, *rules, ctx=ctx, baseline=baseline)
    same, moved, new, never = report.results
    assert not same.passed and same.failure_category == "not_modified"
    assert moved.passed and new.passed
    assert not never.passed and never.failure_category == "missing"


def test_file_modified_without_a_baseline_entry_accepts_any_existing_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "f").write_text("x")
    assert check(tmp_path, rule(type="file_modified", path="{workspace}/f")).all_passed


def test_content_contains(tmp_path: Path) -> None:
    (tmp_path / "f.md").write_text("# Title\n\nDONE: yes\n")
    report = check(
        tmp_path,
        rule(type="content_contains", path="{workspace}/f.md", pattern="DONE: yes"),
        rule(type="content_contains", path="{workspace}/f.md", pattern="done: yes"),
        rule(type="content_contains", path="{workspace}/nope.md", pattern="x"),
    )
    found, wrong_case, missing = report.results
    assert found.passed and found.actual_value == "found"
    assert wrong_case.failure_category == "content" and wrong_case.actual_value == "not found"
    assert "`done: yes`" in (wrong_case.suggested_fix or "")
    assert missing.failure_category == "missing"


def test_content_of_non_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 \xff\xfe MARKER ok\n")
    report = check(
        tmp_path,
        rule(type="content_contains", path="{workspace}/latin1.txt", pattern="MARKER ok"),
        rule(type="content_regex", path="{workspace}/latin1.txt", pattern=r"^caf\ufffd "),
        rule(type="content_contains", path="{workspace}/latin1.txt", pattern="café"),
    )
    assert [r.passed for r in report.results] == [True, True, False]


def test_content_regex_is_multiline(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("first\nstatus: 42\nlast\n")
    report = check(
        tmp_path,
        rule(type="content_regex", path="{workspace}/r.txt", pattern=r"^status: \d+$"),
        rule(type="content_regex", path="{workspace}/r.txt", pattern=r"^status: [a-z]+$"),
    )
    assert [r.passed for r in report.results] == [True, False]
    assert report.results[1].failure_category == "content"


def test_content_read_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation_checks, "MAX_CONTENT_BYTES", 16)
    (tmp_path / "big").write_text("0123456789" * 3 + "TAIL")
    report = check(
        tmp_path,
        rule(type="content_contains", path="{workspace}/big", pattern="012345"),
        rule(type="content_contains", path="{workspace}/big", pattern="TAIL"),
    )
    head, tail = report.results
    assert head.passed and "only the first 16 bytes were read" in head.actual_value
    assert not tail.passed and "only the first 16 bytes" in (tail.error_message or "")


def test_content_of_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    started = time.monotonic()
    report = check(tmp_path, rule(type="content_contains", path="{workspace}/pipe", pattern="x"))
    assert time.monotonic() - started < 10  # reading the FIFO would block for ever
    assert not report.all_passed and "not a regular file" in (report.results[0].error_message or "")


def test_symlink_loop_is_a_failed_rule(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    report = check(
        tmp_path,
        rule(type="content_contains", path="{workspace}/loop", pattern="x"),
        rule(type="file_exists", path="{workspace}/loop"),
        rule(type="file_modified", path="{workspace}/loop"),
    )
    read, exists, modified = report.results
    assert read.failure_category == "missing" and "Cannot read" in (read.error_message or "")
    assert "Cannot examine" in (exists.error_message or "")
    assert "cannot be examined" in (modified.error_message or "")


def test_unreadable_file_is_a_failed_rule(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # running as root
        pytest.skip("permissions are not enforced for this user")
    report = check(tmp_path, rule(type="content_contains", path="{workspace}/secret", pattern="x"))
    assert "Cannot read" in (report.results[0].error_message or "")


def test_command_succeeds(tmp_path: Path) -> None:
    report = check(
        tmp_path,
        rule(type="command_succeeds", command="test -d {workspace}"),
        rule(type="command_succeeds", command="echo about to fail; echo boom >&2; exit 3"),
    )
    ok, bad = report.results
    assert ok.passed and ok.actual_value == "exit code 0" and ok.command == f"test -d {tmp_path}"
    assert not bad.passed and bad.failure_category == "command"
    assert bad.actual_value == "exit code 3"
    assert bad.output == "about to fail\nboom"


def test_command_gets_exactly_the_given_environment(tmp_path: Path) -> None:
    environ = {"PATH": os.environ["PATH"], "FOO": "bar", "MZT_V_stale": "leftover"}
    report = run_validations(
        [
            (
                0,
                rule(
                    type="command_succeeds",
                    command='test "$FOO" = bar && test -z "$MZT_V_stale" && test -z "$HOME"',
                ),
            )
        ],
        context(tmp_path),
        workspace=tmp_path,
        baseline={},
        environ=environ,
    )
    assert report.all_passed, report.results[0].output


def test_command_output_is_redacted_and_bounded(tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "A" * 40
    report = check(
        tmp_path,
        rule(
            type="command_succeeds",
            command=f"head -c 10000 /dev/zero | tr '\\0' x; echo; echo {key}; exit 1",
        ),
    )
    output = report.results[0].output
    assert len(output) <= 2000 and key not in output and "[REDACTED_ANTHROPIC_KEY]" in output


def test_command_timeout_kills_the_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    report = check(
        tmp_path,
        rule(
            type="command_succeeds",
            command=f"sleep 30 & echo $! > {pidfile}; wait",
            timeout_seconds=0.5,
            retry_count=3,
        ),
    )
    assert time.monotonic() - started < 5
    result = report.results[0]
    assert not result.passed and result.failure_category == "timeout"
    assert result.checks == 1  # a timeout is not re-run
    assert not alive(int(pidfile.read_text()))


# --- substitution and formatting --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ['x"; touch MARK; "', "$(touch MARK)", "`touch MARK`", "'; touch MARK; '", "a\ntouch MARK"],
)
@pytest.mark.parametrize(
    "command",
    [
        "printf %s {val} > seen",
        'printf %s "{val}" > seen',
        "printf %s '{val}' > seen",
        'printf %s "$(printf %s {val})" > seen',
    ],
)
def test_substituted_values_never_inject_shell(tmp_path: Path, command: str, value: str) -> None:
    report = check(
        tmp_path, rule(type="command_succeeds", command=command), ctx=context(tmp_path, val=value)
    )
    assert report.all_passed, report.results[0].output
    assert not (tmp_path / "MARK").exists()
    assert (tmp_path / "seen").read_text() == value


def test_working_directory_is_formatted_and_anchored_at_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub-2").mkdir()
    monkeypatch.chdir("/")
    report = check(
        tmp_path,
        rule(type="command_succeeds", command="pwd > here", working_directory="sub-{sheet_num}"),
        rule(type="command_succeeds", command="true", working_directory="{workspace}/absent"),
    )
    ran, absent = report.results
    assert ran.passed
    assert (tmp_path / "sub-2" / "here").read_text().strip() == str(tmp_path / "sub-2")
    assert not absent.passed and absent.failure_category == "missing"
    assert "does not exist" in (absent.error_message or "")


def test_default_working_directory_is_the_workspace(tmp_path: Path) -> None:
    assert check(tmp_path, rule(type="command_succeeds", command="pwd > here")).all_passed
    assert (tmp_path / "here").read_text().strip() == str(tmp_path)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "file_exists", "path": "{workspace}/{nope}.txt"},
        {"type": "file_modified", "path": "{}"},
        {"type": "content_regex", "path": "{workspace}/f", "pattern": "(unclosed"},
        {"type": "command_succeeds", "command": "true", "working_directory": "{nope}"},
    ],
)
def test_configuration_errors_fail_the_rule_without_raising(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    (tmp_path / "f").write_text("x")
    sleeps: list[float] = []
    report = check(tmp_path, rule(**fields, retry_count=3), sleep=sleeps.append)
    result = report.results[0]
    assert not result.passed and result.failure_category == "config"
    assert result.checks == 1 and sleeps == []  # re-checking cannot help
    assert result.error_message and result.suggested_fix


def test_unknown_field_names_the_field(tmp_path: Path) -> None:
    report = check(tmp_path, rule(type="file_exists", path="{workspace}/{nope}.txt"))
    assert "{nope}" in (report.results[0].error_message or "")
    assert report.results[0].path == "{workspace}/{nope}.txt"


# --- re-checks, stages, stopping ---------------------------------------------------------------


def test_file_that_appears_after_two_rechecks(tmp_path: Path) -> None:
    target = tmp_path / "late.txt"
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            target.write_text("x")

    report = check(
        tmp_path, rule(type="file_exists", path="{workspace}/late.txt", retry_count=5), sleep=sleep
    )
    assert report.all_passed and report.results[0].checks == 3
    assert sleeps == [0.01, 0.01]


def test_file_written_by_a_background_thread_is_found(tmp_path: Path) -> None:
    target = tmp_path / "slow.txt"
    writer = threading.Timer(0.05, target.write_text, args=("x",))
    writer.start()
    try:
        report = check(
            tmp_path,
            rule(
                type="file_exists", path="{workspace}/slow.txt", retry_count=10, retry_delay_ms=20
            ),
        )
    finally:
        writer.join()
    assert report.all_passed and report.results[0].checks > 1


def test_command_that_succeeds_on_the_third_run(tmp_path: Path) -> None:
    counter = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ]"
    report = check(tmp_path, rule(type="command_succeeds", command=counter, retry_count=3))
    assert report.all_passed and report.results[0].checks == 3
    (tmp_path / "count").unlink()
    report = check(tmp_path, rule(type="command_succeeds", command=counter, retry_count=1))
    assert not report.all_passed and report.results[0].checks == 2


def test_stage_fail_fast(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    rules = [
        (0, rule(type="file_exists", path="{workspace}/a", stage=3)),
        (1, rule(type="file_exists", path="{workspace}/a", stage=1)),
        (2, rule(type="file_exists", path="{workspace}/missing", stage=2)),
        (3, rule(type="file_exists", path="{workspace}/a", stage=2)),
        (4, rule(type="command_succeeds", command="touch ran", stage=5)),
    ]
    report = run_validations(rules, context(tmp_path), workspace=tmp_path, baseline={}, environ={})
    assert [r.index for r in report.results] == [1, 2, 3, 0, 4]
    assert [r.passed for r in report.results] == [True, False, True, False, False]
    assert [r.skipped for r in report.results] == [False, False, False, True, True]
    skipped = report.results[3]
    assert skipped.failure_category == "skipped" and skipped.checks == 0
    assert "stage-2" in (skipped.error_message or "")
    assert not (tmp_path / "ran").exists()
    assert report.passed_indices == (1, 3)
    assert report.failed_indices == (2, 0, 4)
    assert report.pass_percent == 40.0


def test_should_stop_stops_between_rules(tmp_path: Path) -> None:
    calls: list[int] = []

    def should_stop() -> StopRequest | None:
        calls.append(1)
        return StopRequest("cancelled") if len(calls) > 1 else None

    report = check(
        tmp_path,
        rule(type="command_succeeds", command="touch one"),
        rule(type="command_succeeds", command="touch two"),
        rule(type="command_succeeds", command="touch three"),
        should_stop=should_stop,
    )
    assert (tmp_path / "one").exists() and not (tmp_path / "two").exists()
    assert report.stopped == StopRequest("cancelled")
    assert [r.skipped for r in report.results] == [False, True, True]
    assert "cancelled" in (report.results[1].error_message or "")


def test_should_stop_interrupts_retry_delays(tmp_path: Path) -> None:
    stop_after = time.monotonic() + 0.2
    report = check(
        tmp_path,
        rule(type="file_exists", path="{workspace}/never", retry_count=10, retry_delay_ms=5000),
        should_stop=lambda: StopRequest("interrupted") if time.monotonic() > stop_after else None,
    )
    assert report.results[0].duration_ms < 2000
    assert report.stopped is not None and report.stopped.reason == "interrupted"


def test_should_stop_ends_a_slow_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    stop_after = time.monotonic() + 0.3
    started = time.monotonic()
    report = check(
        tmp_path,
        rule(type="command_succeeds", command=f"sleep 30 & echo $! > {pidfile}; wait"),
        rule(type="file_exists", path="{workspace}/pid"),
        should_stop=lambda: StopRequest("cancelled") if time.monotonic() > stop_after else None,
    )
    assert time.monotonic() - started < 5
    assert [r.skipped for r in report.results] == [True, True]
    assert report.results[0].checks == 1 and "Not finished" in (
        report.results[0].error_message or ""
    )
    assert not alive(int(pidfile.read_text()))


# --- the report -------------------------------------------------------------------------------


def test_pass_percent_arithmetic(tmp_path: Path) -> None:
    empty = check(tmp_path)
    assert empty.pass_percent == 100.0 and empty.all_passed and empty.details() == []
    (tmp_path / "a").write_text("x")
    report = check(
        tmp_path,
        rule(type="file_exists", path="{workspace}/a"),
        rule(type="file_exists", path="{workspace}/b"),
        rule(type="file_exists", path="{workspace}/c"),
    )
    assert report.pass_percent == pytest.approx(100 / 3)
    assert not report.all_passed
    assert report.passed_indices == (0,) and report.failed_indices == (1, 2)


def test_details_match_the_checkpoint_record(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    report = check(
        tmp_path,
        rule(type="file_exists", path="{workspace}/a", description="the output"),
        rule(type="command_succeeds", command="echo nope; exit 1"),
        rule(type="content_regex", path="{workspace}/a", pattern="y", stage=2),
    )
    details = report.details()
    for detail in details:
        assert set(detail) == set(ValidationDetailDict.__annotations__)
    first, failing, skipped = details
    assert first["passed"] and first["description"] == "the output"
    assert first["path"] == str(tmp_path / "a") and first["error_message"] is None
    assert failing["failure_category"] == "command"
    assert failing["failure_reason"] == "The command `echo nope; exit 1` failed (exit code 1)"
    assert failing["error_message"] == failing["failure_reason"] + "\nnope"
    assert skipped["failure_category"] == "skipped" and not skipped["passed"]
    assert first["checked_at"] and first["checked_at"].endswith("+00:00")
    sheet = SheetState(sheet_num=1, validation_details=details)
    assert SheetState.model_validate_json(sheet.model_dump_json()).validation_details == details


# --- texts for prompts ------------------------------------------------------------------------


def test_requirement_lines(tmp_path: Path) -> None:
    long = "pytest tests/ -x --maxfail=1 -q " + "-k something " * 10
    rules = [
        rule(type="file_exists", path="{workspace}/out-{sheet_num}.md", description="Report"),
        rule(type="file_modified", path="notes.md"),
        rule(type="content_contains", path="{workspace}/a", pattern="DONE"),
        rule(type="content_regex", path="{workspace}/a", pattern=r"^v\d+$"),
        rule(type="command_succeeds", command=long),
        rule(type="file_exists", path="{workspace}/{nope}"),
    ]
    lines = requirement_lines(list(enumerate(rules)), context(tmp_path))
    assert lines == [
        f"Report: Create the file {tmp_path}/out-2.md",
        f"Modify {tmp_path}/notes.md",
        f"{tmp_path}/a must contain: `DONE`",
        f"{tmp_path}/a must match the pattern `^v\\d+$`",
        f"This command must succeed: {long[:59]}…",
        "Create the file {workspace}/{nope}",
    ]


def test_satisfied_and_failure_lines(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    report = check(
        tmp_path,
        rule(type="file_exists", path="{workspace}/a", description="Output"),
        rule(type="file_modified", path="{workspace}/a"),
        rule(type="content_contains", path="{workspace}/a", pattern="x"),
        rule(type="command_succeeds", command="true"),
        rule(type="content_contains", path="{workspace}/a", pattern="needed text"),
        rule(type="command_succeeds", command="printf 'E%.0s' $(seq 500); exit 2"),
        rule(type="file_exists", path="{workspace}/b"),
    )
    results = report.results
    assert satisfied_line(results[0]) == f"[created] {tmp_path}/a — Output"
    assert satisfied_line(results[1]) == f"[updated] {tmp_path}/a"
    assert satisfied_line(results[2]) == f"[verified] {tmp_path}/a contains `x`"
    assert satisfied_line(results[3]) == "[verified] `true` succeeds"
    content = failure_line(results[4])
    assert "does not contain the required text `needed text`" in content
    assert "Fix: Add exactly `needed text`" in content
    command = failure_line(results[5])
    assert "failed (exit code 2)" in command and "Fix: Run" in command
    said = command.split("its output ends with: ", 1)[1].split(". Fix:", 1)[0]
    assert said.startswith("…") and len(said) <= 200
    assert failure_line(results[6]) == (
        f"The file {tmp_path}/b does not exist. Fix: Create the file {tmp_path}/b."
    )
