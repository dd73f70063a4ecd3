"""End to end: rate limits are waited out, shared with sibling runs, and bounded."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import Project, wait_for

LIMIT = "You've hit your limit · resets in 2 seconds"


def limited_score(project: Project, name: str = "job", **extra: object) -> dict[str, object]:
    ws = "{{ workspace }}"
    return {
        "name": name,
        "instrument": "fake",
        "sheet": {"size": 1, "total_items": 1},
        "rate_limit": {"min_wait_seconds": 1, "max_waits": 5},
        "retry": {"max_retries": 1},
        "prompt": {
            "template": (
                f"FAKE: stamp {ws}/calls\nFAKE: count {ws}/count\n"
                f"FAKE: limit-until {ws}/count 2 {LIMIT}\n"
                f"FAKE: write {ws}/done-{{{{ sheet_num }}}} ok\n"
            )
        },
        "validations": [{"type": "file_exists", "path": "{workspace}/done-{sheet_num}"}],
        **extra,
    }


def record_path(project: Project, instrument: str = "fake") -> object:
    return project.home / "ratelimits" / f"{instrument}.json"


def test_a_limit_is_waited_out_without_spending_retries(project: Project) -> None:
    project.fake_profile()
    score = project.score(limited_score(project))
    started = time.monotonic()
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 2  # the printed reset time was honoured
    sheet = project.sheets("job")[1]
    assert sheet["attempt_count"] == 2 and sheet["normal_attempts"] == 0
    record = json.loads(record_path(project).read_text())
    assert record["instrument"] == "fake" and record["set_by_job"] == "job"
    assert set(record) == {"instrument", "limited_until", "reason", "set_by_job", "set_at"}
    state = project.state("job")
    assert state["rate_limit_waits"] + state["quota_waits"] == 1


def test_a_sibling_run_waits_for_the_shared_record(project: Project) -> None:
    project.fake_profile()
    first = project.score(limited_score(project, "first"), "first.yaml")
    proc = project.start("run", first)
    wait_for(lambda: record_path(project).exists(), timeout=30)
    until = json.loads(record_path(project).read_text())["limited_until"]
    ws = "{{ workspace }}"
    sibling = project.score(
        {
            "name": "second",
            "workspace": "./ws2",
            "instrument": "fake",
            "sheet": {"size": 1, "total_items": 1},
            "rate_limit": {"min_wait_seconds": 1},
            "prompt": {"template": f"FAKE: stamp {ws}/calls\nFAKE: write {ws}/done ok\n"},
            "validations": [{"type": "file_exists", "path": "{workspace}/done"}],
        },
        "second.yaml",
    )
    second = project.mzt("run", sibling)
    proc.communicate(timeout=60)
    assert proc.returncode == 0 and second.returncode == 0, second.stderr
    from datetime import datetime

    limit_end = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()
    [called] = map(float, (project.root / "ws2" / "calls").read_text().split())
    assert called >= limit_end - 0.5, "the sibling called the instrument during the limit"


def test_a_free_fallback_is_used_instead_of_waiting(project: Project) -> None:
    project.fake_profile()
    project.fake_profile("spare")
    data = limited_score(project, instrument_fallbacks=["spare"])
    data["rate_limit"] = {"min_wait_seconds": 600}
    score = project.score(data)
    started = time.monotonic()
    result = project.mzt("run", score)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # it did not sit out the ten-minute limit
    sheet = project.sheets("job")[1]
    assert sheet["instrument_name"] == "spare"
    [move] = sheet["instrument_fallback_history"]
    assert (move["from"], move["to"], move["reason"]) == ("fake", "spare", "rate_limited")


def test_running_out_of_waits_pauses_the_job(project: Project) -> None:
    project.fake_profile()
    data = limited_score(project)
    data["rate_limit"] = {"min_wait_seconds": 600, "max_waits": 1, "max_quota_waits": 1}
    score = project.score(data)
    result = project.mzt("run", score)
    assert result.returncode == 3, result.stderr
    state = project.state("job")
    assert state["status"] == "paused" and state["resume_at"]
    assert "wait" in state["error_message"]
    cleared = project.mzt("clear-rate-limits", "fake")
    assert cleared.returncode == 0 and not record_path(project).exists()


def test_a_limit_printed_with_exit_0_is_still_a_limit(project: Project) -> None:
    project.fake_profile()
    ws = "{{ workspace }}"
    data = limited_score(project)
    data["prompt"] = {
        "template": (
            f"FAKE: count {ws}/count\n"
            f"FAKE: limit-until {ws}/count 2 {LIMIT}\n"
            f"FAKE: write {ws}/done-{{{{ sheet_num }}}} ok\n"
        )
    }
    # The fake prints the notice and exits 1; an exit-0 CLI is simulated by success codes.
    path = project.home / "instruments" / "fake.yaml"
    import yaml

    profile = yaml.safe_load(path.read_text())
    profile["cli"]["errors"] = {"success_exit_codes": [0, 1]}
    path.write_text(yaml.safe_dump(profile))
    result = project.mzt("run", project.score(data))
    assert result.returncode == 0, result.stderr
    sheet = project.sheets("job")[1]
    assert sheet["attempt_count"] == 2 and sheet["normal_attempts"] == 0
    assert record_path(project).exists()
