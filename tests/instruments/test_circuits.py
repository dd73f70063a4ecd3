"""Circuit breakers: the state machine, and the shared file runs keep it in."""

from __future__ import annotations

import json
import multiprocessing
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mzt.instruments import circuits
from mzt.instruments.circuits import Circuit, FileCircuits, MemoryCircuits

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def fail(circuit: Circuit, now: datetime = NOW, threshold: int = 3) -> Circuit:
    return circuits.failed(
        circuit, threshold=threshold, rest=60, now=now, reason="exited 1", job="job"
    )


def test_the_threshold_of_failures_in_a_row_opens_the_circuit() -> None:
    circuit = Circuit("x")
    for _ in range(2):
        circuit = fail(circuit)
    assert circuit.state == "closed" and circuit.consecutive_failures == 2
    circuit = fail(circuit)
    assert circuit.state == "open" and circuit.consecutive_failures == 3
    assert circuit.until == NOW + timedelta(seconds=60)
    assert (circuit.reason, circuit.set_by_job) == ("exited 1", "job")


def test_a_success_in_between_starts_the_count_again() -> None:
    circuit = fail(fail(Circuit("x")))
    circuit = circuits.succeeded(circuit, NOW)
    assert circuit.consecutive_failures == 0
    assert fail(fail(circuit)).state == "closed"
    untouched = Circuit("x")
    assert circuits.succeeded(untouched, NOW) is untouched  # nothing to write


def test_an_open_circuit_holds_attempts_until_its_rest_is_over() -> None:
    opened = fail(fail(fail(Circuit("x"))))
    same, verdict = circuits.admit(opened, "a", 100, NOW + timedelta(seconds=59))
    assert same == opened and not verdict.allowed
    assert verdict.until == opened.until
    assert opened.shown(NOW) == "open" and opened.seconds_left(NOW) == 60
    later = NOW + timedelta(seconds=61)
    assert opened.shown(later) == "half_open" and opened.seconds_left(later) == 0


def test_after_the_rest_one_trial_runs_and_decides() -> None:
    opened = fail(fail(fail(Circuit("x"))))
    later = NOW + timedelta(seconds=61)
    trial, verdict = circuits.admit(opened, "a", 100, later)
    assert verdict.allowed and verdict.trial
    assert trial.state == "half_open" and trial.trial == "a"
    # Everyone else waits for the trial, at most until its lease ends.
    _, other = circuits.admit(trial, "b", 100, later)
    assert not other.allowed and other.holder == "a"
    assert other.until == later + timedelta(seconds=100)
    # The trial asking again (a held sheet looking once more) is still let through.
    assert circuits.admit(trial, "a", 100, later)[1].allowed
    closed = circuits.succeeded(trial, later)
    assert closed.state == "closed" and closed.consecutive_failures == 0 and not closed.trial
    reopened = fail(trial, later)
    assert reopened.state == "open" and reopened.until == later + timedelta(seconds=60)
    assert not reopened.trial


def test_a_stopped_or_lost_trial_lets_the_next_attempt_try() -> None:
    later = NOW + timedelta(seconds=61)
    trial, _ = circuits.admit(fail(fail(fail(Circuit("x")))), "a", 100, later)
    freed = circuits.released(trial, "a", later)
    assert freed.state == "half_open" and not freed.trial
    assert circuits.released(trial, "b", later) is trial  # only the holder frees it
    after, verdict = circuits.admit(freed, "b", 100, later)
    assert verdict.trial and after.trial == "b"
    # A run that died mid-trial holds it only until the lease ends.
    expired, verdict = circuits.admit(trial, "c", 100, later + timedelta(seconds=101))
    assert verdict.trial and expired.trial == "c"


def test_the_memory_book_keeps_circuits_for_one_run() -> None:
    book = MemoryCircuits()
    before, after = book.update("x", fail)
    assert before == Circuit("x") and after.consecutive_failures == 1
    assert book.get("x") == after and book.get("y") == Circuit("y")


def test_the_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    book = FileCircuits(tmp_path)
    for _ in range(3):
        book.update("claude-code", fail)
    path = tmp_path / "circuits" / "claude-code.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["state"] == "open" and data["consecutive_failures"] == 3
    assert book.get("claude-code").until == NOW + timedelta(seconds=60)
    assert [c.instrument for c in circuits.all_records(tmp_path)] == ["claude-code"]
    assert list(path.parent.glob("*.tmp*")) == []


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b'{"instrument": "x", "state": "melted"}', b"[1, 2]", b"\xff\xfe"],
)
def test_a_damaged_record_reads_as_closed_with_a_note(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / "circuits"
    folder.mkdir(mode=0o700)
    (folder / "x.json").write_bytes(content)
    book = FileCircuits(tmp_path)
    circuit = book.get("x")
    assert circuit.state == "closed" and "taken as closed" in circuit.note
    before, after = book.update("x", fail)  # replaced at the next change
    assert before.note and after.consecutive_failures == 1
    assert book.get("x").note == "" and book.get("x").consecutive_failures == 1


def test_a_folder_at_the_record_reads_as_closed(tmp_path: Path) -> None:
    (tmp_path / "circuits" / "x.json").mkdir(parents=True)
    assert FileCircuits(tmp_path).get("x").note


def _fail_many(home: str, count: int) -> None:
    book = FileCircuits(Path(home))
    for _ in range(count):
        book.update("shared", lambda c: fail(c, threshold=100))


def test_concurrent_updates_from_two_runs_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_fail_many, args=(str(tmp_path), 150)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert FileCircuits(tmp_path).get("shared").consecutive_failures == 300


def test_clear_forgets_one_or_all(tmp_path: Path) -> None:
    book = FileCircuits(tmp_path)
    book.update("a", fail)
    book.update("b", fail)
    assert circuits.clear("a", home=tmp_path) == ["a"]
    assert circuits.clear("a", home=tmp_path) == []
    assert circuits.clear(home=tmp_path) == ["b"]
    assert circuits.all_records(tmp_path) == []
