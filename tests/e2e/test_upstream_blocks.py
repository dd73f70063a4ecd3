"""Scores shaped like Marianne's self-improving examples do what their blocks say.

The score below has the shape of upstream's `quality-continuous` example: an iteration
counter kept in the workspace, a fan-out of parallel reviewers, a synthesis that reads
their outputs, `workspace_lifecycle.archive_on_fresh`, a detached fresh `run_job` hook
that chains the score to itself under `concert`, a `run_command` hook as in
`codebase-rewrite`, and `notifications` as in `observability-demo` (webhook and
Slack-shaped, to a local server). It runs on the scripted fake agent installed as
`claude-code`, through the real `mzt` command, and every iteration is one run of the
chain until `max_chain_depth` ends it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mzt.state.lockprobe import LockProbe, probe_lock
from mzt.support import paths
from tests.e2e.conftest import Project, wait_for

DEPTH = 3  # chained runs after the first: the run at that depth chains no more
RUNS = DEPTH + 1

SCORE = """\
name: "quality-loop"
description: "Reviews, synthesis and fixes, chained to itself for the next iteration"
workspace: "./ws"
instrument: claude-code
pause_between_sheets_seconds: 0
workspace_lifecycle:
  archive_on_fresh: true
  max_archives: 1
sheet:
  size: 1
  total_items: 3
  fan_out: {2: 3}
  dependencies: {2: [1], 3: [2]}
parallel: {enabled: true, max_concurrent: 3}
cross_sheet: {auto_capture_stdout: true, lookback_sheets: 3}
retry: {max_retries: 1, base_delay_seconds: 0.1}
prompt:
  template: |
    {% if stage == 1 %}
    FAKE: count {{ workspace }}/.iteration
    FAKE: write {{ workspace }}/00-setup.md setup
    {% elif stage == 2 %}
    FAKE: write {{ workspace }}/01-review-{{ instance }}.md review {{ instance }}
    FAKE: say reviewer {{ instance }} done
    {% else %}
    FAKE: write {{ workspace }}/02-synthesis.md {{ previous_outputs | length }} reviews
    {% endif %}
validations:
  - {type: file_exists, path: "{workspace}/00-setup.md", condition: "stage == 1"}
  - {type: file_exists, path: "{workspace}/01-review-{instance}.md", condition: "stage == 2"}
  - type: content_contains
    path: "{workspace}/02-synthesis.md"
    pattern: "3 reviews"
    condition: "stage == 3"
notifications:
  - type: webhook
    on_events: [job_start, job_complete]
    config: {url_env: LOOP_WEBHOOK_URL}
  - type: slack
    on_events: [job_complete]
    config: {webhook_url_env: LOOP_SLACK_URL}
on_success:
  - type: run_command
    command: "cat {workspace}/.iteration >> {workspace}/../i.txt; echo >> {workspace}/../i.txt"
    description: "Keep the iteration count outside the workspace"
  - type: run_job
    job_path: "loop.yaml"
    description: "Chain to the next iteration"
    detached: true
    fresh: true
concert:
  enabled: true
  max_chain_depth: @DEPTH@
  cooldown_between_jobs_seconds: 0
  inherit_workspace: true
"""


class _Inbox(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    bodies: list[tuple[str, dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Inbox

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def inbox() -> Iterator[_Inbox]:
    server = _Inbox(("127.0.0.1", 0), _Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _chain_ended(project: Project) -> bool:
    log = project.workspace / "concert.log"
    text = log.read_text() if log.exists() else ""
    lock = paths.lock_file(project.workspace, "quality-loop")
    return "refused" in text and probe_lock(lock) == LockProbe.FREE


def test_a_self_chaining_quality_loop_runs_each_iteration_fresh_until_its_depth(
    project: Project, inbox: _Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.fake_profile("claude-code")
    url = f"http://127.0.0.1:{inbox.server_address[1]}"
    monkeypatch.setenv("LOOP_WEBHOOK_URL", f"{url}/hook")
    monkeypatch.setenv("LOOP_SLACK_URL", f"{url}/slack")
    score = project.root / "loop.yaml"
    score.write_text(SCORE.replace("@DEPTH@", str(DEPTH)))

    first = project.mzt("run", score)
    assert first.returncode == 0, first.stderr
    wait_for(lambda: _chain_ended(project), timeout=120, step=0.2)

    ws = project.workspace
    # Each run of the chain was one iteration, started fresh on the same workspace.
    iterations = [str(n) for n in range(1, RUNS + 1)]
    assert (project.root / "i.txt").read_text().split() == iterations
    assert (ws / ".iteration").read_text().strip() == iterations[-1]  # kept by archiving
    assert (ws / "02-synthesis.md").read_text().strip() == "3 reviews"
    # Every fresh start moved the last iteration's files aside; max_archives keeps one.
    archives = sorted(p.name for p in (ws / "archive").iterdir())
    assert archives == [iterations[-2]]
    kept = sorted(p.name for p in (ws / "archive" / iterations[-2]).iterdir())
    assert "02-synthesis.md" in kept and ".iteration" not in kept
    # The concert log tells the chain: a start per chained run, then the refusal.
    steps = (ws / "concert.log").read_text().splitlines()
    assert [("started" in s, "refused" in s) for s in steps] == [(True, False)] * DEPTH + [
        (False, True)
    ]
    status = json.loads(project.mzt("status", "quality-loop", "-j").stdout)
    assert status["status"] == "completed"
    outcomes = [r["outcome"] for r in status["hook_results"]]
    assert outcomes == ["succeeded", "refused"]
    # Notifications: a job_start and a job_complete per run to the webhook, and a
    # Slack-shaped job_complete per run.
    hooks = [body for where, body in inbox.bodies if where == "/hook"]
    events = [b["event"] for b in hooks]
    assert events.count("job_start") == RUNS and events.count("job_complete") == RUNS
    assert all(b["job_id"] == "quality-loop" and b["total"] == 5 for b in hooks)
    slack = [body for where, body in inbox.bodies if where == "/slack"]
    assert len(slack) == RUNS and all("text" in b for b in slack)
    # A cron re-run of the finished job does nothing and starts no chain.
    again = project.mzt("run", score)
    assert again.returncode == 0
    assert len((ws / "concert.log").read_text().splitlines()) == RUNS
