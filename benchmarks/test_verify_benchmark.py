"""``Ledger.verify`` in events per second, against plain decoding of the same events.

A generated SQLite ledger (``generate_to_store``: the bulk path, so every event is chained),
its stored read models caught up and its columnar segments persisted, as a running service
leaves them. Each round times:
- baseline: reading every stored event in pages and decoding it with the read path's decoder
  (``EventDecoder``), which is the least any verify must do;
- verify: the full pass (chain, decoding, replay of every aggregate, read models and segments
  against a fresh fold).
The two alternate round by round, so load on the shared machine hits them alike. Events per
second (median; wall time, and CPU time of this process, which load disturbs less), the ratio
verify/baseline and the load average go to ``benchmark.extra_info`` and the figures printed at
the end of the run. Asserted: the pass finds nothing, and verify
costs at most ``RATIO_MAX`` times the baseline (a ratio, never an absolute time).

Budget: the default profile (``INVOICES``, about 30,000 events) runs in under 30 s; the
large profile (``pytest benchmarks -m large -s``) verifies about 1,000,000 events once, for the
issue's figure (>= 100,000 events/s wanted).
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.engine import SQLiteEventReader
from arledger.adapters.read_models.runner_events import EventDecoder
from arledger.adapters.synthetic.generate import generate_to_store
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
the columnar writer 11%, comparing partitions 9%, decoding 8%, hashing 6%, segments 5%)."""


def stored_ledger(directory: Path, invoices: int) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(directory / f"verify-{invoices}.db")}
    ledger = Ledger(env=env)
    try:
        generate_to_store(ledger, invoices, SEED)
        ledger.projection_runner().catch_up()
        ledger.query_engine().refresh()
        ledger.query_engine().persist()
    finally:
        ledger.close()
    return env


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


@pytest.mark.benchmark(group="verify")
def test_verify_against_plain_decoding(benchmark: Any, default_store: dict[str, str]) -> None:
    ledger = Ledger(env=default_store)
    baseline_s: list[float] = []
    verify_s: list[float] = []
    baseline_cpu_s: list[float] = []
    verify_cpu_s: list[float] = []
    reports = []

    def timed() -> None:
        started, cpu = time.perf_counter(), time.process_time()
        events = decode_all(ledger)
        baseline_s.append(time.perf_counter() - started)
        baseline_cpu_s.append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        reports.append(ledger.verify())
        verify_s.append(time.perf_counter() - started)
        verify_cpu_s.append(time.process_time() - cpu)
        assert events == reports[-1].events_checked

    benchmark.pedantic(timed, rounds=ROUNDS, iterations=1)
    ledger.close()

    report = reports[-1]
    assert [] == [str(f) for f in report.findings]
    events = report.events_checked
    figures = {
        "events": events,
        "baseline_events_per_s": round(events / statistics.median(baseline_s)),
        "verify_events_per_s": round(events / statistics.median(verify_s)),
        "ratio_verify_to_baseline": round(
            statistics.median(verify_s) / statistics.median(baseline_s), 2
        ),
        "cpu_baseline_events_per_s": round(events / statistics.median(baseline_cpu_s)),
        "cpu_verify_events_per_s": round(events / statistics.median(verify_cpu_s)),
        "load_average": round(os.getloadavg()[0], 2),
    }
    benchmark.extra_info.update(figures)
    report_figures("verify (SQLite, default profile)", figures)
    assert figures["ratio_verify_to_baseline"] <= RATIO_MAX


@pytest.mark.large
def test_verify_at_1m_events(tmp_path: Path) -> None:
    env = stored_ledger(tmp_path, LARGE_INVOICES)
    ledger = Ledger(env=env)
    started, cpu = time.perf_counter(), time.process_time()
    events = decode_all(ledger)
    baseline = time.perf_counter() - started
    baseline_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    report = ledger.verify()
    seconds = time.perf_counter() - started
    verify_cpu = time.process_time() - cpu
    ledger.close()

    assert [] == [str(f) for f in report.findings]
    assert events == report.events_checked
    figures = {
        "events": events,
        "baseline_events_per_s": round(events / baseline),
        "verify_events_per_s": round(events / seconds),
        "verify_s": round(seconds, 1),
        "ratio_verify_to_baseline": round(seconds / baseline, 2),
        "cpu_baseline_events_per_s": round(events / baseline_cpu),
        "cpu_verify_events_per_s": round(events / verify_cpu),
        "load_average": round(os.getloadavg()[0], 2),
    }
    report_figures("verify (SQLite, 1M events)", figures)
    print(f"\nverify at {events:,} events: {figures}")
    assert figures["ratio_verify_to_baseline"] <= RATIO_MAX
