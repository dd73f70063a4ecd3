"""`mzt run` on a terminal keeps a live status line under its timestamped lines; in a pipe,
with -q, with NO_COLOR or on a dumb terminal it prints plain lines."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Project, wait_for
from tests.pty_command import PtyCommand

CLEAR = "\r\x1b[K"
SGR = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def gated_score(project: Project) -> Path:
    """Three sheets, one after the other; sheet N runs once the file go-N exists."""
    gate = "until [ -e {{ workspace }}/go-{{ sheet_num }} ]; do sleep 0.02; done"
    return project.score(
        {
            "name": "gated",
            "instrument": "cli",
            "sheet": {"size": 1, "total_items": 3},
            "prompt": {"template": f"{gate}; echo sheet {{{{ sheet_num }}}}"},
        }
    )


class Terminal(PtyCommand):
    """mzt run on a pseudo-terminal of a given width; everything it shows, as text."""

    def __init__(self, project: Project, *args: str, env: dict[str, str], width: int) -> None:
        super().__init__(project.root, ["run", *args], env, rows=24, cols=width)


def terminal_env(project: Project, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in project.env().items() if k not in ("NO_COLOR", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def drive(project: Project, term: Terminal) -> tuple[int, str]:
    """Let sheet 1 through, watch the line say so and tick while sheet 2 waits, then end."""
    ws = project.workspace
    wait_for(lambda: "sheet 1: attempt 1" in term.text(), timeout=60)
    (ws / "go-1").touch()
    wait_for(lambda: "sheet 2: attempt 1" in term.text(), timeout=60)
    # Sheet 2 is held: only the once-a-second redraw can add status lines now.
    wait_for(lambda: term.text().split("sheet 2: attempt 1")[1].count(CLEAR) >= 2, timeout=30)
    (ws / "go-2").touch()
    (ws / "go-3").touch()
    return term.finish()


def status_lines(text: str) -> list[str]:
    """What each redraw left as the bottom line (the part after the last line ending)."""
    return [chunk.rsplit("\n", 1)[-1] for chunk in text.split(CLEAR)[1:]]


def test_live_line_on_a_terminal_stays_below_the_lines_in_colour(project: Project) -> None:
    score = gated_score(project)
    code, text = drive(project, Terminal(project, str(score), env=terminal_env(project), width=150))
    assert code == 0, text
    shown = [SGR.sub("", line) for line in status_lines(text) if line]
    assert any(line.startswith("1/3 done \u00b7 1 running") for line in shown), shown
    assert any("ETA \u2014" in line for line in shown)  # before any sheet finished
    assert all(not STAMP.match(line) for line in shown)  # timestamped lines are never last
    # Each redraw: complete timestamped lines first, the status line after them.
    for chunk in text.split(CLEAR)[1:]:
        *lines, _bottom = chunk.split("\r\n")
        assert all(STAMP.match(line) for line in lines), chunk
    assert "\x1b[1m1/3 done\x1b[0m" in text
    assert "\x1b[32mcompleted\x1b[0m" in text  # the lines are in colour too
    # The job's summary is the last line, and no status line is left under it.
    last = text.rsplit(CLEAR, 1)[1]
    assert STAMP.match(last) and "job \x1b[32mcompleted\x1b[0m: 3/3" in last
    assert last.endswith("\r\n")


def test_a_narrow_line_never_wraps(project: Project) -> None:
    score = gated_score(project)
    code, text = drive(project, Terminal(project, str(score), env=terminal_env(project), width=30))
    assert code == 0, text
    shown = [SGR.sub("", line) for line in status_lines(text) if line]
    assert any(line.startswith("1/3 done") for line in shown), shown
    assert all(len(line) <= 29 for line in shown), shown


def test_no_color_gives_plain_lines_on_a_terminal(project: Project) -> None:
    score = gated_score(project)
    for n in (1, 2, 3):
        (project.workspace / f"go-{n}").parent.mkdir(parents=True, exist_ok=True)
        (project.workspace / f"go-{n}").touch()
    term = Terminal(project, str(score), env=terminal_env(project, NO_COLOR="1"), width=120)
    code, text = term.finish()
    assert code == 0, text
    assert "\x1b" not in text and "\r\x1b" not in text and " done" not in text
    assert "sheet 3: completed" in text and "job completed: 3/3" in text


def test_quiet_on_a_terminal_shows_no_line(project: Project) -> None:
    score = gated_score(project)
    for n in (1, 2, 3):
        (project.workspace / f"go-{n}").parent.mkdir(parents=True, exist_ok=True)
        (project.workspace / f"go-{n}").touch()
    term = Terminal(project, "-q", str(score), env=terminal_env(project), width=120)
    code, text = term.finish()
    assert code == 0, text
    assert "\x1b" not in text and "done" not in text


def test_in_a_pipe_there_is_no_line_and_no_escape(project: Project) -> None:
    score = gated_score(project)
    for n in (1, 2, 3):
        (project.workspace / f"go-{n}").parent.mkdir(parents=True, exist_ok=True)
        (project.workspace / f"go-{n}").touch()
    env = terminal_env(project)
    result = subprocess.run(
        [sys.executable, "-m", "mzt", "run", str(score)],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sheet 3: completed" in result.stdout
    for out in (result.stdout, result.stderr):
        assert "\r" not in out and "\x1b" not in out
    assert "done \u00b7" not in result.stdout


def test_an_interrupted_run_leaves_no_status_line_behind(project: Project) -> None:
    score = gated_score(project)
    term = Terminal(project, str(score), env=terminal_env(project), width=120)
    wait_for(lambda: "1 running" in SGR.sub("", term.text()), timeout=60)
    term.proc.send_signal(signal.SIGINT)
    code, text = term.finish()
    assert code == 130, text
    bottom = SGR.sub("", text.rsplit(CLEAR, 1)[1])
    # After the last erase: the notes and the summary, then the error and hint; no status.
    assert "job paused: 0/3 sheets completed" in bottom, bottom
    assert bottom.endswith("\r\n") and "done \u00b7" not in bottom
