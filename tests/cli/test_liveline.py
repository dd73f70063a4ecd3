"""The live status line: its text, its width, its colour, and how it sits under the lines."""

from __future__ import annotations

import io
import re

import pytest

from mzt.api import Progress, Tally, Wait
from mzt.cli import console, liveline
from mzt.cli.progress import LineReporter

SGR = re.compile(r"\x1b\[[0-9;]*m")


def progress(**changes: object) -> Progress:
    base: dict[str, object] = {
        "done": 1,
        "total": 3,
        "failed": 0,
        "running": 2,
        "waiting": 0,
        "next_wait": None,
        "retries": 0,
        "elapsed": 75.0,
        "eta": 130.0,
        "cost": 0.0,
    }
    base.update(changes)
    return Progress(**base)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_line_says_where_the_run_stands() -> None:
    wait = Wait(sheet=3, kind="retry", reason="validation failed", seconds_left=11.2)
    text = liveline.render(
        progress(waiting=1, next_wait=wait, retries=2, failed=1, cost=0.125),
        width=200,
        color=False,
    )
    assert text == (
        "1/3 done \u00b7 1 failed \u00b7 2 running \u00b7 1 waiting: sheet 3 retry in 12s"
        " (validation failed) \u00b7 2 retries \u00b7 elapsed 1m15s \u00b7 ETA 2m10s \u00b7 $0.12"
    )


def test_eta_is_a_dash_until_a_sheet_finished_and_gone_when_all_are_done() -> None:
    assert "ETA \u2014" in liveline.render(progress(eta=None), width=200, color=False)
    assert "ETA -" in liveline.render(progress(eta=None), width=200, color=False, fancy=False)
    assert "ETA <1s" in liveline.render(progress(eta=0.4), width=200, color=False)
    done = liveline.render(progress(done=3, eta=None, running=0), width=200, color=False)
    assert "ETA" not in done
    assert done.startswith("3/3 done")


@pytest.mark.parametrize("width", [1, 5, 12, 20, 33, 60])
def test_line_never_reaches_the_last_column(width: int) -> None:
    wait = Wait(3, "rate_limited", "the instrument is rate limited " * 5, 3600)
    for color in (False, True):
        text = liveline.render(
            progress(waiting=1, next_wait=wait, cost=3.5), width=width, color=color
        )
        plain = SGR.sub("", text)
        assert len(plain) <= width - 1
        assert plain == liveline.render(
            progress(waiting=1, next_wait=wait, cost=3.5), width=width, color=False
        )


def test_a_narrow_line_drops_the_reason_before_the_times() -> None:
    wait = Wait(3, "retry", "validation failed: out-3.txt missing", 8)
    text = liveline.render(progress(waiting=1, next_wait=wait), width=100, color=False)
    assert text == (
        "1/3 done \u00b7 2 running \u00b7 1 waiting: sheet 3 retry in 8s"
        " \u00b7 elapsed 1m15s \u00b7 ETA 2m10s"
    )


def test_wide_characters_count_as_two_columns() -> None:
    wait = Wait(1, "retry", "\u6f22\u5b57" * 30, 5)
    text = liveline.render(progress(waiting=1, next_wait=wait), width=200, color=False)
    # The reason is cut to 40 columns: 19 wide characters and the one-column mark.
    assert text.count("\u6f22") + text.count("\u5b57") == 19
    text = liveline.render(progress(waiting=1, next_wait=wait), width=50, color=False)
    columns = sum(2 if "\u4e00" <= c <= "\u9fff" else 1 for c in text)
    assert columns <= 49
    assert text.endswith("\u2026")


def test_colour_only_when_asked_and_outside_text_cannot_inject() -> None:
    wait = Wait(2, "retry", "evil \x1b]0;title\x07\x1b[2J out", 1)
    coloured = liveline.render(progress(waiting=1, next_wait=wait), width=200, color=True)
    assert "\x1b[1m1/3 done\x1b[0m" in coloured
    plain = liveline.render(progress(waiting=1, next_wait=wait), width=200, color=False)
    assert "\x1b" not in plain
    assert "evil out" in plain  # the sequences are gone, the words stay
    assert SGR.sub("", coloured) == plain


def test_tally_counts_events_and_estimates_from_finished_sheets() -> None:
    clock = Clock()
    tally = Tally(clock)
    tally.run_started(total=5, done=1, concurrency=2)
    tally.sheet_started(2)
    tally.sheet_started(3)
    assert tally.snapshot().eta is None
    clock.now += 10
    tally.sheet_finished(2, "completed")
    tally.sheet_waiting(3, "retry", 30, "exit 1")
    clock.now += 5
    tally.sheet_started(3)  # its second attempt: still timed from its first start
    clock.now += 15
    tally.sheet_finished(3, "failed")
    tally.sheet_finished(4, "skipped")  # never ran: not part of the estimate
    tally.spent(0.5)
    snap = tally.snapshot()
    assert (snap.done, snap.total, snap.failed, snap.running) == (4, 5, 1, 0)
    assert snap.retries == 1
    assert snap.elapsed == 30
    assert snap.cost == 0.5
    # (10 s + 30 s) / 2 sheets × 1 left / min(2 lanes, 1 left)
    assert snap.eta == pytest.approx(20.0)
    tally.sheet_started(5)
    clock.now += 8
    assert tally.snapshot().eta == pytest.approx(12.0)  # the running sheet had 8 s of its 20
    clock.now += 30
    assert tally.snapshot().eta == 0.0  # longer than the mean: no time is "left"


def test_tally_names_the_wait_that_ends_first() -> None:
    clock = Clock()
    tally = Tally(clock)
    tally.run_started(total=3, done=0, concurrency=3)
    tally.sheet_waiting(1, "retry", 60, "late")
    tally.sheet_waiting(2, "rate_limited", 10, "soon")
    clock.now += 4
    snap = tally.snapshot()
    assert snap.waiting == 2
    assert snap.next_wait == Wait(2, "rate_limited", "soon", 6.0)
    tally.sheet_started(2)
    assert tally.snapshot().next_wait == Wait(1, "retry", "late", 56.0)
    tally.sheet_finished(1, "completed")
    assert tally.snapshot().eta is None  # sheet 1 never ran in this run


def test_reporter_keeps_the_status_line_under_each_line_and_erases_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(liveline.time, "monotonic", clock)
    stream = io.StringIO()
    reporter = LineReporter(stream, live=True)
    reporter.run_started("job", 2, "/ws", "starting", 0, 1)
    clock.now += 0.2
    reporter.sheet_started(1, 1, "cli", "normal")
    reporter.close()
    out = stream.getvalue()
    chunks = out.split(liveline.CLEAR)
    assert chunks[0] == ""
    # A stream without a known encoding gets the plain ASCII line.
    assert chunks[1].endswith("0/2 done | 0 running | elapsed 0s | ETA -")
    assert "job: starting, 2 sheets, workspace /ws\n" in chunks[1]
    assert "sheet 1: attempt 1 on cli\n0/2 done | 1 running" in chunks[2]
    assert out.endswith(liveline.CLEAR)  # nothing is left on the last line
    reporter.sheet_finished(1, "completed", "")
    assert stream.getvalue().count(liveline.CLEAR) == 3  # closed: lines only from here


def test_reporter_without_live_line_writes_plain_lines() -> None:
    stream = io.StringIO()
    reporter = LineReporter(stream)
    reporter.run_started("job", 1, "/ws", "starting", 0, 1)
    reporter.sheet_finished(1, "failed", "boom \x1b[31mred\x1b[0m\r\nnext")
    reporter.tick()
    reporter.close()
    out = stream.getvalue()
    assert "\x1b" not in out and "\r" not in out
    assert out.endswith("sheet 1: failed (boom red\nnext)\n")


def test_a_tick_redraws_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(liveline.time, "monotonic", clock)
    stream = io.StringIO()
    reporter = LineReporter(stream, live=True)
    reporter.note("hello")
    before = stream.getvalue()
    clock.now += 0.5
    reporter.tick()
    assert stream.getvalue() == before
    clock.now += 0.6
    reporter.tick()
    assert stream.getvalue().startswith(before + liveline.CLEAR)
    assert stream.getvalue().count("\n") == 1


def test_a_burst_of_lines_shares_one_render_and_a_tick_catches_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(liveline.time, "monotonic", clock)
    stream = io.StringIO()
    reporter = LineReporter(stream, live=True)
    reporter.run_started("job", 3, "/ws", "starting", 0, 1)
    reporter.sheet_started(1, 1, "cli", "normal")  # same instant: drawn with the old render
    assert status_lines_of(stream)[-1].startswith("0/3 done | 0 running")
    reporter.tick()
    assert len(status_lines_of(stream)) == 2  # too soon to render again
    clock.now += 0.1
    reporter.tick()
    assert status_lines_of(stream)[-1].startswith("0/3 done | 1 running")
    clock.now += 0.5
    reporter.tick()
    assert len(status_lines_of(stream)) == 3  # nothing new, and under a second


def status_lines_of(stream: io.StringIO) -> list[str]:
    return [chunk.rsplit("\n", 1)[-1] for chunk in stream.getvalue().split(liveline.CLEAR)[1:]]


def test_wanted_only_on_a_terminal_that_is_not_dumb(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert liveline.wanted(Tty())
    assert not liveline.wanted(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not liveline.wanted(Tty())
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("NO_COLOR", "")
    assert not liveline.wanted(Tty())


def test_colour_only_on_a_terminal_that_can_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert console.color_enabled(Tty()) and not console.color_enabled(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not console.color_enabled(Tty())
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("NO_COLOR", "")
    assert not console.color_enabled(Tty())
