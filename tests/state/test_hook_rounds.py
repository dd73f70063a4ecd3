"""Which hooks a checkpoint's last round owes."""

from __future__ import annotations

from mzt.state import hook_rounds as rounds


def result(round_id: str, index: int, outcome: str) -> dict[str, object]:
    return {"round": round_id, "index": index, "outcome": outcome}


def test_only_the_last_round_counts() -> None:
    kept = [
        result("a", 1, "succeeded"),
        result("a", 2, "failed"),
        result("a", 3, "skipped"),
        result("b", 2, "succeeded"),
        result("b", 3, "failed"),
    ]
    assert [r["index"] for r in rounds.last_round(kept)] == [2, 3]
    assert [r["index"] for r in rounds.owed(kept)] == [3]
    assert [r["index"] for r in rounds.failures(kept)] == [3]
    assert rounds.held(kept) == []


def test_held_and_skipped_are_owed_refused_is_not() -> None:
    kept = [result("a", 1, "held"), result("a", 2, "held"), result("a", 3, "refused")]
    assert [r["index"] for r in rounds.owed(kept)] == [1, 2]
    assert len(rounds.held(kept)) == 2 and rounds.failures(kept) == []
    assert rounds.owed([result("a", 1, "refused")]) == []


def test_nothing_recorded() -> None:
    assert rounds.last_round([]) == [] and rounds.owed([]) == []


def test_configured_counts_the_stored_hooks() -> None:
    assert rounds.configured(None) == 0
    assert rounds.configured({"on_success": [{"type": "run_command"}] * 2}) == 2
    assert rounds.configured({"on_success": "odd"}) == 0


def test_status_fields_count_the_last_round_failures() -> None:
    kept = [result("a", 1, "failed"), result("b", 1, "failed"), "junk"]
    fields = rounds.status_fields(kept, {"on_success": [{}]})
    assert fields["hooks_configured"] == 1 and fields["hook_failures"] == 1
    assert len(fields["hook_results"]) == 2
    assert rounds.status_fields(None, None) == {
        "hooks_configured": 0,
        "hook_results": [],
        "hook_failures": 0,
    }
