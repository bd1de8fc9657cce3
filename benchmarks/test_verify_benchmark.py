"""``Ledger.verify`` in events per second, against plain decoding of the same events.

A generated SQLite ledger (``generate_to_store``: the bulk path, so every event is chained),
its stored read models caught up and its columnar segments persisted, as a running service
leaves them. Each round times:
- baseline: reading every stored event in pages and decoding it with the read path's decoder
  (``EventDecoder``), which is the least any verify must do;
- verify in one process: the full pass (chain, decoding, replay of every aggregate, read
  models and segments against a fresh fold);
- verify in two processes: the same pass shared with its second process (``verify._Worker``:
  the chain and the replay there, the read models' fold here), forced whatever the log's size
  and the machine's load.
The three alternate round by round, so load on the shared machine hits them alike. Events per
second (median; wall time, and CPU time: of this process, of the second one, and the busier
one's, which is the wall time on two free cores and which load disturbs less), the ratios
verify/baseline and two processes/one, and the load average go to ``benchmark.extra_info`` and
the figures printed at the end of the run. Asserted: every pass finds nothing and reads every
event, the second process ran in the two-process passes only, and verify costs at most
``RATIO_MAX`` times the baseline (a ratio, never an absolute time). The large profile also
edits one record of the store in the middle of the log and asserts verify finds it there.

Budget: the default profile (``INVOICES``, about 30,000 events) runs in under 60 s; the
large profile (``pytest benchmarks -m large -s``) verifies about 1,000,000 events (or the
store named by ``ARLEDGER_BENCHMARK_VERIFY_DB``, copied first: e.g. the generated
100,000-invoice store, 616,652 events) three times, for the issue's figure (>= 100,000
events/s wanted).
"""
# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from arledger import FindingKind, VerifyReport
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.audit import verify as verify_module
from arledger.adapters.read_models.engine import SQLiteEventReader
from arledger.adapters.read_models.runner_events import EventDecoder
from arledger.adapters.synthetic.generate import generate_to_store
from benchmarks.conftest import copy_store
from benchmarks.figures import report_figures

SEED: Final = 12
INVOICES: Final = 5_000
"""About 30,000 events: generated, caught up and verified three times in about 11 s of CPU
(75 s of wall time here at load 11)."""
LARGE_INVOICES: Final = 170_000
"""About 1,000,000 events."""
ROUNDS: Final = 3
PAGE: Final = 20_000
RATIO_MAX: Final = 20.0
"""verify over plain decoding, at most: ten times the issue's target (>= 100,000 events/s
against ~200,000 decoded per second here, about 2x), so a run fails far outside noise, never
on an absolute time. Verify decodes too, then hashes each record, replays it through its
aggregate's evolve, folds it into the portfolio and the columnar log, and compares what is
stored. Measured before 2026-12-07: 8.5x loaded, 12.0x quiet (16,405 events/s against
196,269). Since the collector is kept off the pass's states (``verify._collector_spared``)
and the per-event loops were trimmed, at load 15 (2026-12-07): 3.9x wall, 10,895 events/s
against 42,523; in CPU time 47,521 against 183,287 (3.9x). The target (2x) is still missed:
what remains is Python per event (CPU of a pass over 121,319 events: the aggregates' replay
about 25%, reading rows and freeing the states at the end about 20%, the portfolio fold 16%,
the columnar writer 11%, comparing partitions 9%, decoding 8%, hashing 6%, segments 5%).
At 1.08M events, quiet, two processes (2026-12-07 23:03, after comparing the read models while
the second process finishes, splitting the chain between the two and the folds' dispatch by
class): 3.1x wall, 65,330 events/s against 204,186."""


def stored_ledger(directory: Path, invoices: int) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(directory / f"verify-{invoices}.db")}
    ledger = Ledger(env=env)
    try:
        generate_to_store(ledger, invoices, SEED)
    finally:
        ledger.close()
    caught_up(env)
    return env


def caught_up(env: dict[str, str]) -> None:
    """The store's read models caught up and its segments persisted, as a service leaves them."""
    ledger = Ledger(env=env)
    try:
        ledger.projection_runner().catch_up()
        ledger.query_engine().refresh()
        ledger.query_engine().persist()
    finally:
        ledger.close()


def decode_all(ledger: Ledger) -> int:
    """The baseline: every stored event read and decoded, nothing else."""
    connections = ledger.read_model_connections()
    reader = SQLiteEventReader(connections, ledger.recorder.events_table_name)
    decoder = EventDecoder(ledger.mapper)
    count = 0
    start = 1
    while True:
        rows = reader.read(start, PAGE)
        decoder.decode(rows)
        count += len(rows)
        if len(rows) < PAGE:
            return count
        start = rows[-1][0] + 1


@pytest.fixture(scope="module")
def default_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield stored_ledger(tmp_path_factory.mktemp("verify"), INVOICES)


@attrs.frozen
class Timed:
    """One verify pass: its report, wall time, CPU time of this process and of the second
    process verify started (``_Worker``; 0 when the pass ran in one process)."""

    report: VerifyReport
    wall_s: float
    cpu_s: float
    worker_cpu_s: float

    @property
    def critical_cpu_s(self) -> float:
        """The CPU time of the busier process: the wall time on two free cores."""
        return max(self.cpu_s, self.worker_cpu_s)


def timed_verify(ledger: Ledger) -> Timed:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu = time.perf_counter(), time.process_time()
    report = ledger.verify()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return Timed(report, wall, cpu, worker)


@contextmanager
def processes(monkeypatch: pytest.MonkeyPatch, count: int) -> Iterator[None]:
    """verify's pass in one process, or with its second process whatever the log's size."""
    with monkeypatch.context() as patch:
        patch.setattr(verify_module, "WORKER_EVENTS_MIN", 0 if count == 2 else 1 << 62)
        patch.setattr(verify_module, "_core_spare", lambda: True)  # even on a busy machine
        yield


def pass_figures(prefix: str, events: int, passes: list[Timed]) -> dict[str, object]:
    """A pass's figures (medians over ``passes``): events per second of wall time, of this
    process's CPU time and of the busier process's (two free cores)."""
    return {
        f"{prefix}_events_per_s": round(events / statistics.median(t.wall_s for t in passes)),
        f"{prefix}_cpu_s": round(statistics.median(t.cpu_s for t in passes), 2),
        f"{prefix}_worker_cpu_s": round(statistics.median(t.worker_cpu_s for t in passes), 2),
        f"{prefix}_critical_cpu_events_per_s": round(
            events / statistics.median(t.critical_cpu_s for t in passes)
        ),
    }


@pytest.mark.benchmark(group="verify")
def test_verify_against_plain_decoding(
    benchmark: Any, default_store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(env=default_store)
    baseline_s: list[float] = []
    baseline_cpu_s: list[float] = []
    one: list[Timed] = []
    two: list[Timed] = []

    def timed() -> None:
        started, cpu = time.perf_counter(), time.process_time()
        events = decode_all(ledger)
        baseline_s.append(time.perf_counter() - started)
        baseline_cpu_s.append(time.process_time() - cpu)
        with processes(monkeypatch, 1):
            one.append(timed_verify(ledger))
        with processes(monkeypatch, 2):
            two.append(timed_verify(ledger))
        assert events == one[-1].report.events_checked
        assert events == two[-1].report.events_checked

    benchmark.pedantic(timed, rounds=ROUNDS, iterations=1)
    ledger.close()

    assert [] == [str(f) for t in one + two for f in t.report.findings]
    assert 0 == one[-1].worker_cpu_s  # the second process ran in the two-process passes only
    assert 0 < two[-1].worker_cpu_s
    events = one[-1].report.events_checked
    figures: dict[str, object] = {
        "events": events,
        "baseline_events_per_s": round(events / statistics.median(baseline_s)),
        "cpu_baseline_events_per_s": round(events / statistics.median(baseline_cpu_s)),
        **pass_figures("one_process", events, one),
        **pass_figures("two_processes", events, two),
        "ratio_verify_to_baseline": round(
            statistics.median(t.wall_s for t in one) / statistics.median(baseline_s), 2
        ),
        "ratio_two_processes_to_one": round(
            statistics.median(t.wall_s for t in two) / statistics.median(t.wall_s for t in one), 2
        ),
        "load_average": round(os.getloadavg()[0], 2),
    }
    benchmark.extra_info.update(figures)
    report_figures("verify (SQLite, default profile)", figures)
    assert figures["ratio_verify_to_baseline"] <= RATIO_MAX


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A copy of the store named by ``ARLEDGER_BENCHMARK_VERIFY_DB`` (a SQLite file made by
    ``generated_store``; it is never written), its read models caught up and its segments
    persisted; otherwise a store generated here (``LARGE_INVOICES``)."""
    directory = tmp_path_factory.mktemp("verify-large")
    given = os.environ.get("ARLEDGER_BENCHMARK_VERIFY_DB")
    if not given:
        return stored_ledger(directory, LARGE_INVOICES)
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(directory / "verify.db")}
    copy_store(Path(given), Path(env["ARLEDGER_DB"]))
    caught_up(env)
    return env


@pytest.mark.large
def test_verify_at_1m_events(large_store: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's figure: a full pass at about 1,000,000 events (>= 100,000 events/s wanted),
    with its second process (as verify runs at this size) and in one process, and a tampered
    copy found."""
    ledger = Ledger(env=large_store)
    started, cpu = time.perf_counter(), time.process_time()
    events = decode_all(ledger)
    baseline = time.perf_counter() - started
    baseline_cpu = time.process_time() - cpu
    with processes(monkeypatch, 2):
        two = timed_verify(ledger)
    with processes(monkeypatch, 1):
        one = timed_verify(ledger)
    assert [] == [str(f) for f in two.report.findings + one.report.findings]
    assert events == two.report.events_checked == one.report.events_checked
    assert 0 < two.worker_cpu_s

    # One record edited in the middle of the log: found at its position.
    edited = events // 2
    with sqlite3.connect(large_store["ARLEDGER_DB"], isolation_level=None) as connection:
        connection.execute(
            "UPDATE stored_events SET state = state || ' ' WHERE rowid = ?", (edited,)
        )
    connection.close()
    tampered = ledger.verify()
    ledger.close()
    assert edited == tampered.first_bad_position
    assert FindingKind.CHAIN in {f.kind for f in tampered.findings}

    figures: dict[str, object] = {
        "events": events,
        "baseline_events_per_s": round(events / baseline),
        "cpu_baseline_events_per_s": round(events / baseline_cpu),
        **pass_figures("two_processes", events, [two]),
        **pass_figures("one_process", events, [one]),
        "ratio_verify_to_baseline": round(two.wall_s / baseline, 2),
        "ratio_two_processes_to_one": round(two.wall_s / one.wall_s, 2),
        "load_average": round(os.getloadavg()[0], 2),
    }
    report_figures("verify (SQLite, 1M events)", figures)
    print(f"\nverify at {events:,} events: {figures}")
    assert figures["ratio_verify_to_baseline"] <= RATIO_MAX
