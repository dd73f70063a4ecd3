from __future__ import annotations

from mzt.support.numbers import spans


def test_spans_join_runs_and_sort() -> None:
    assert spans([7, 1, 2, 3, 3, 9, 10]) == "1-3, 7, 9-10"
    assert spans([4]) == "4"
    assert spans([]) == ""
