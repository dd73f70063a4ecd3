"""A run with nothing in flight that waits for a machine slot takes it as soon as the slot
watcher says one came free, not at its next look a second later."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mzt import api
from mzt.machine import slots
from mzt.machine.slot_watch import QUIET_SECONDS
from mzt.run.machine_gate import Hold, MachineGate
from tests.helpers import minimal, write_score


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("MZT_HOME", str(folder))
    monkeypatch.setenv("MZT_MAX_CONCURRENT_SHEETS", "1")
    return folder


@pytest.mark.timeout(60)
def test_a_slot_freed_while_the_run_waits_is_taken_at_once(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = slots.take_all([("sheets", 1)], slots.Holder("other", str(tmp_path)), home=home)
    assert held is not None
    freed: list[float] = []
    looks: list[float] = []
    original = MachineGate.admit

    def admit(
        self: MachineGate, num: int, profile: str, instrument: str, model: str | None
    ) -> Hold | None:
        looks.append(time.monotonic())
        hold = original(self, num, profile, instrument, model)
        # Once the run trusts its watch to wake it (the long recheck), free the slot right
        # after a look that found it full: only the watcher's wake-up can make the next
        # look come early.
        if hold is not None and hold.recheck >= QUIET_SECONDS and not freed:
            held.release()
            freed.append(time.monotonic())
        return hold

    monkeypatch.setattr(MachineGate, "admit", admit)
    data = minimal(workspace="./ws", instrument="cli", prompt={"template": "true"})
    data["sheet"] = {"size": 1, "total_items": 1}
    result = api.run_score(write_score(tmp_path, data))
    assert result.exit_code == 0, result.message
    assert freed, "the run never waited with its watch up"
    after = [moment - freed[0] for moment in looks if moment > freed[0]]
    assert after and after[0] < 0.5, f"the run looked again {after[0]:.2f} s after the release"
