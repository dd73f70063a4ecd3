"""End to end: a prompt that renders for ever never keeps a run from stopping.

Sheet 1 is quick; sheet 2's template loops through an expensive body for minutes
(its loops read a variable, so `validate` cannot see them). Once sheet 1 is done
and the main thread is visibly burning CPU on sheet 2's prompt, a signal or the
cancel file must end the run within 2 seconds, exactly as between sheets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import Project, wait_for

SPIN = (
    "{% if sheet_num == 1 %}touch {{ workspace }}/one{% else %}"
    "{% for i in range(n) %}{% for j in range(n) %}"
    "{{ (('x' * 100000) | replace('x', 'yy'))[:0] }}"
    "{% endfor %}{% endfor %}{% endif %}"
)


def _score(project: Project) -> Path:
    return project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 2},
            "prompt": {"template": SPIN, "variables": {"n": 100000}},
            "validations": [{"type": "file_exists", "path": "{workspace}/one"}],
        }
    )


def _cpu_seconds(pid: int) -> float:
    """CPU time of the process's main thread (the one that renders prompts)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_and_wait_for_rendering(project: Project) -> subprocess.Popen[str]:
    proc = project.start("run", _score(project))

    def first_done() -> bool:
        try:
            return project.sheets("job")[1]["status"] == "completed"
        except (OSError, ValueError, AssertionError, KeyError):
            return False

    wait_for(first_done, timeout=60)
    spent = _cpu_seconds(proc.pid)
    wait_for(lambda: _cpu_seconds(proc.pid) - spent >= 0.3, timeout=30)
    assert proc.poll() is None, "the run ended before the stop was asked"
    return proc


def _stop_time(proc: subprocess.Popen[str]) -> tuple[float, str]:
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    return time.monotonic() - started, err


def test_sigterm_stops_a_runaway_render_within_two_seconds(project: Project) -> None:
    proc = _start_and_wait_for_rendering(project)
    proc.send_signal(signal.SIGTERM)
    elapsed, err = _stop_time(proc)
    assert proc.returncode == 143, err
    assert elapsed < 2, f"took {elapsed:.1f} s"
    assert "Traceback" not in err
    assert project.state("job")["status"] == "paused"
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "completed"
    assert (sheets[2]["status"], sheets[2]["attempt_count"]) == ("pending", 0)


def test_cancel_file_stops_a_runaway_render_within_two_seconds(project: Project) -> None:
    proc = _start_and_wait_for_rendering(project)
    (project.workspace / ".marianne-cancel-job").touch()
    elapsed, err = _stop_time(proc)
    assert proc.returncode == 4, err
    assert elapsed < 2, f"took {elapsed:.1f} s"
    assert "Traceback" not in err
    assert project.state("job")["status"] == "cancelled"
    sheets = project.sheets("job")
    assert sheets[1]["status"] == "completed"
    assert sheets[2]["status"] == "cancelled"
    assert sheets[2]["attempt_count"] == 0
    assert not (project.workspace / ".marianne-cancel-job").exists()


def test_a_prompt_past_a_bound_fails_its_sheet_with_e307(project: Project) -> None:
    score = project.score(
        {
            "name": "job",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 1},
            "prompt": {"template": "echo {{ 'x' * n }}", "variables": {"n": 10**9}},
        }
    )
    result = project.mzt("run", score, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    sheet = project.sheets("job")[1]
    assert (sheet["status"], sheet["error_code"]) == ("failed", "E307"), sheet
    assert "10,000,000" in (sheet["error_message"] or "")
    assert sheet["attempt_count"] == 0
