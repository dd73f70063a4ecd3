from __future__ import annotations

from mzt.support.hints import closest


def test_the_nearest_name_above_the_cutoff_or_none() -> None:
    assert closest("paralel", ["parallel", "prompt", "retry"]) == "parallel"
    assert closest("zzz", ["parallel", "prompt"]) is None
    assert closest("retyr", iter(["retry"]), cutoff=0.9) is None
    assert closest("retyr", iter(["retry"]), cutoff=0.7) == "retry"
