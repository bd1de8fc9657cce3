"""Progress with totals: the generator reports invoices as it writes, a query engine catching
up reports the events it reads to the callback it was given (and to nothing else), and the
command line draws a bar for a catch-up only once it has lasted two seconds."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from rich.console import Console

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.progress import SHOW_AFTER_SECONDS, LateProgressBar
from arledger.adapters.synthetic import generate


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}


def test_generating_into_a_store_reports_invoices_against_the_total_as_batches_are_written(
    tmp_path: Path,
) -> None:
    calls: list[tuple[int, int]] = []
    ledger = Ledger(sqlite_env(tmp_path), clock=generate.recording_clock())
    try:
        generate.generate_to_store(
            ledger, 300, 4, events_per_batch=200, progress=lambda *done: calls.append(done)
        )
    finally:
        ledger.close()
    # One chunk of 300 invoices, written in batches: the bar moves with each one.
    assert len(calls) > 3
    assert {300} == {total for _done, total in calls}
    done = [count for count, _total in calls]
    assert done == sorted(done)
    assert 300 == done[-1]
    assert done[0] < 300


def test_a_query_after_new_events_reports_the_catch_up_to_its_callback_only(
    tmp_path: Path,
) -> None:
    env = sqlite_env(tmp_path)
    writer = Ledger(env, clock=generate.recording_clock())
    try:
        generate.generate_to_store(writer, 200, 5)
        head = writer.recorder.max_notification_id()
    finally:
        writer.close()
    calls: list[tuple[int, int]] = []
    reader = Ledger(env, catch_up_progress=lambda *done: calls.append(done))
    try:
        reader.ageing(date(2025, 6, 30))
        first = list(calls)
        reader.ageing(date(2025, 6, 30))  # nothing new: nothing to read, nothing reported
    finally:
        reader.close()
    assert first, "the first query read the whole log"
    assert (head, head) == first[-1]
    assert all(total == head for _done, total in first)
    assert first == calls


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_catch_up_that_lasts_draws_a_bar_with_its_total_and_takes_it_down() -> None:
    console, out = terminal()
    clock = Ticking()
    bar = LateProgressBar(console, "Catching up", clock=clock)
    bar(1_000, 400_000)
    assert not bar.shown
    clock.now = SHOW_AFTER_SECONDS + 0.5
    bar(50_000, 400_000)
    assert bar.shown
    bar(400_000, 400_000)  # done: the bar goes
    assert "400,000" in out.getvalue() or "400000" in out.getvalue()


def test_a_short_catch_up_draws_nothing() -> None:
    console, out = terminal()
    clock = Ticking()
    bar = LateProgressBar(console, "Catching up", clock=clock)
    bar(1_000, 3_000)
    clock.now = SHOW_AFTER_SECONDS - 0.5
    bar(2_000, 3_000)
    bar(3_000, 3_000)
    assert not bar.shown
    assert "" == out.getvalue()


def test_no_bar_is_drawn_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()
    clock = Ticking()
    bar = LateProgressBar(Console(file=out, force_terminal=False), "Catching up", clock=clock)
    bar(1, 10)
    clock.now = 60.0
    bar(5, 10)
    assert not bar.shown
    assert "" == out.getvalue()
