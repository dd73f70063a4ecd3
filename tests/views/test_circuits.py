"""Circuit breakers as read commands show them: records now, a job's transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mzt.instruments.circuits import Circuit, FileCircuits
from mzt.views.circuits import circuit_records, job_circuits

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MZT_HOME", str(tmp_path))
    return tmp_path


def test_no_folder_means_no_records(home: Path) -> None:
    assert circuit_records() == []
    assert job_circuits([], ["cli"], NOW) == {"circuits": [], "history": []}


def test_a_rest_that_is_over_shows_as_half_open(home: Path) -> None:
    book = FileCircuits(home)
    until = NOW + timedelta(seconds=30)
    book.update("a", lambda c: Circuit("a", "open", 5, until, set_by_job="j"))
    book.update("b", lambda c: Circuit("b", "open", 5, NOW - timedelta(seconds=1)))
    shown = {c["instrument"]: c for c in circuit_records(now=NOW)}
    assert shown["a"]["state"] == "open" and shown["a"]["seconds_left"] == 30
    assert shown["b"]["state"] == "half_open" and shown["b"]["seconds_left"] == 0
    assert [c["instrument"] for c in circuit_records(["b"], now=NOW)] == ["b"]


def test_a_job_sees_its_instruments_and_those_its_history_names(home: Path) -> None:
    book = FileCircuits(home)
    for name in ("mine", "named", "other"):
        book.update(name, lambda c, name=name: Circuit(name, "open", 5, NOW))
    history = [{"state": "open", "instrument": "named"}] * 30
    doc = job_circuits(history, ["mine"], NOW)
    assert sorted(c["instrument"] for c in doc["circuits"]) == ["mine", "named"]
    assert len(doc["history"]) == 20  # the newest transitions only


def test_a_damaged_record_is_shown_closed_with_its_note(home: Path) -> None:
    (home / "circuits").mkdir()
    (home / "circuits" / "x.json").write_text("garbage")
    [shown] = circuit_records(now=NOW)
    assert shown["state"] == "closed" and "damaged" in shown["note"]
