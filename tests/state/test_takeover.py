"""Taking over another host's run: the refusal, the record, the history event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from mzt.state import JsonStateBackend
from mzt.state.liveness import ProcessIdentity, current_identity
from mzt.state.lock import JobLiveness, LiveVerdict
from mzt.state.takeover import foreign_error, is_foreign, record_take_over, take_over_record
from tests.state.conftest import make_state

FAR = ProcessIdentity(4242, 1_777_000_000.0, "far-away.example", "boot-far")
FOREIGN = JobLiveness(LiveVerdict.FOREIGN, FAR, "pid 4242 on far-away.example ran elsewhere")
WRITTEN = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_only_the_foreign_verdict_is_foreign() -> None:
    assert is_foreign(FOREIGN)
    for verdict in (LiveVerdict.ALIVE, LiveVerdict.DEAD, LiveVerdict.IDLE):
        assert not is_foreign(JobLiveness(verdict, FAR, ""))


def test_the_refusal_says_who_when_where_and_how(tmp_path: Path) -> None:
    state = make_state()
    state.updated_at = WRITTEN
    path = tmp_path / "my ws" / ".marianne" / "job.json"
    error = foreign_error(state, FOREIGN, path)
    assert error.exit_code == 75 and error.code == "FOREIGN_HOST"
    assert "pid 4242 on host far-away.example" in error.message
    assert "last wrote its checkpoint at 2026-05-01T10:00:00Z" in error.message
    assert f"not by this machine ({current_identity().host})" in error.message
    assert str(path) in error.message and "\n" not in error.message
    assert error.hint and f"`mzt resume job -w '{tmp_path / 'my ws'}' --take-over`" in error.hint
    error.take_over_with("mzt cancel job --take-over")
    assert "`mzt cancel job --take-over`" in (error.hint or "")
    assert "never signalled" in (error.hint or "")


def test_the_record_names_both_sides() -> None:
    state = make_state()
    state.updated_at = WRITTEN
    take = take_over_record(state, FOREIGN, "resume")
    here = current_identity()
    assert (take.from_host, take.from_pid, take.command) == ("far-away.example", 4242, "resume")
    assert take.from_started_at == FAR.started_at
    assert take.last_written_at == "2026-05-01T10:00:00Z"
    assert (take.by_host, take.by_pid) == (here.host, here.pid)
    assert take.at.endswith("Z")
    unknown = take_over_record(state, JobLiveness(LiveVerdict.FOREIGN, None, ""), "run")
    assert unknown.from_pid is None and "pid" not in unknown.describe()


def test_the_history_gets_a_taken_over_event(store: JsonStateBackend) -> None:
    state = make_state()
    store.save(state)
    record_take_over(store, state, take_over_record(state, FOREIGN, "run"))
    lines = [json.loads(x) for x in store.history_path("job").read_text().splitlines()]
    event = lines[-1]
    assert event["event"] == "taken_over" and event["from_host"] == "far-away.example"
    assert event["from_pid"] == 4242 and event["command"] == "run"
