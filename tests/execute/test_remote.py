"""`mzt slurm-attempt FOLDER`: one attempt run by a separate process, as a Slurm job runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mzt.execute import remote, wire
from mzt.score.models.validation import ValidationRule
from mzt.support import records
from tests.execute.specs import shell_spec


def _folder(
    tmp_path: Path, script: str, rules: tuple[tuple[int, ValidationRule], ...] = ()
) -> Path:
    folder = tmp_path / "attempt"
    folder.mkdir()
    # The environment stays out, as the conductor sends it.
    spec = records.replace(shell_spec(tmp_path, script), environ={}, rules=rules)
    (folder / remote.SPEC_NAME).write_bytes(wire.dumps(spec))
    return folder


def _attempt(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mzt", "slurm-attempt", str(folder)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_attempt_runs_in_the_job_environment_and_reports(tmp_path: Path) -> None:
    folder = _folder(tmp_path, f'echo "$SLURM_JOB_ID $SECRET_ISH" > {tmp_path}/out')
    done = _attempt(folder, SLURM_JOB_ID="4242", SLURMD_NODENAME="node7", SECRET_ISH="v4lue-9")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "4242 v4lue-9\n"
    data = (folder / remote.REPORT_NAME).read_bytes()
    assert json.loads(data)["where"] == {"slurm_job_id": "4242", "node": "node7"}
    report = wire.load_report(data)
    assert report.execution_success and report.outcome.exit_code == 0
    # The environment is never written down: the report carries the spec as it was sent.
    assert report.spec.environ == {} and b"v4lue-9" not in data


def test_a_failing_attempt_still_reports_its_verdict(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "exit 3")
    assert _attempt(folder).returncode == 0
    report = wire.load_report((folder / remote.REPORT_NAME).read_bytes())
    assert report.outcome.exit_code == 3 and report.error is not None


@pytest.mark.parametrize("content", [None, b"{not json", b'{"schema": "mzt.attempt.v1"}'])
def test_a_folder_without_a_usable_spec_runs_nothing(tmp_path: Path, content: bytes | None) -> None:
    folder = tmp_path / "attempt"
    folder.mkdir()
    if content is not None:
        (folder / remote.SPEC_NAME).write_bytes(content)
    with pytest.raises(remote.AttemptFileError):
        remote.load_folder(folder)
    done = _attempt(folder)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nothing was run" in done.stderr and not (folder / remote.REPORT_NAME).exists()


def test_the_job_script_quotes_its_paths(tmp_path: Path) -> None:
    odd = tmp_path / "it's here; rm -rf x"
    odd.mkdir()
    script = odd / "job.sh"
    script.write_text(remote.job_script(odd, "/bin/echo"))
    script.chmod(0o700)
    done = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    assert done.stdout == f"-m mzt slurm-attempt {odd}\n"


# The attempt through the real entry point, then the modules it imported (its fast path
# ends with os._exit: here an ordinary exit, so the list can be written).
_PROBE = """
import json, os, sys
from mzt.entry import main
os._exit = sys.exit
sys.argv = ["mzt", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def _modules_of_attempt(folder: Path, **env: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "slurm-attempt", str(folder)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (folder / remote.REPORT_NAME).exists(), done.stderr
    return set(json.loads(done.stderr.rpartition("\nMODULES ")[2]))


def test_a_silent_attempt_loads_no_redaction_rules_and_a_talking_one_redacts(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    silent = _modules_of_attempt(_folder(tmp_path / "a", "true"))
    assert {"mzt.support.redact", "re2", "shutil"}.isdisjoint(silent)
    talking = _folder(tmp_path / "b", 'echo "key $API_TOKEN"')
    _modules_of_attempt(talking, API_TOKEN="s3cr3t-value-123456")
    report = wire.load_report((talking / remote.REPORT_NAME).read_bytes())
    assert "s3cr3t-value-123456" not in report.outcome.stdout_tail
    assert "key [REDACTED" in report.outcome.stdout_tail


def test_an_attempt_without_rules_loads_no_validation_engine_and_one_with_rules_runs_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bare = _folder(tmp_path / "a", "true")
    assert "mzt.validation.engine" not in _modules_of_attempt(bare)
    report = wire.load_report((bare / remote.REPORT_NAME).read_bytes())
    assert report.validation is not None and report.validation.results == ()
    made = tmp_path / "b" / "made.txt"
    checked = _folder(
        tmp_path / "b",
        f"echo hi > {made}",
        ((0, ValidationRule(type="file_exists", path=str(made), retry_count=0)),),
    )
    assert "mzt.validation.engine" in _modules_of_attempt(checked)
    report = wire.load_report((checked / remote.REPORT_NAME).read_bytes())
    assert report.validation is not None and report.validation.passed_indices == (0,)
    assert report.execution_success
