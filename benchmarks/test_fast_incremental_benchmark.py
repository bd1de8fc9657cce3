"""The incremental fast path against a full recompute: 10,000-event batches at 1M invoices
(small profile, CI) and 10M (large profile, by hand: ``pytest benchmarks -m large -s``).

Budget (issue 5, acceptance 4): a 10,000-event incremental update under 5 ms at 10M invoices.
Recorded, never asserted: the median ms per batch, the full recompute's median ms measured in
the same run, and their ratio go into ``benchmark.extra_info`` (and are printed). What is
asserted is the answer: after the batches the incremental result equals ``fast_portfolio`` on
the whole log, array for array.

The log is the seeded synthetic ledger (``generate.generate_parquet``, read back with
``columnar.read_parquet``). The portfolio is built from the log without its last
``(1 + rounds) * BATCH_EVENTS`` events; each round applies the next ``BATCH_EVENTS`` events of
the log (one warm-up batch first), so the last timed batch is the log's last 10,000 events. A
batch's columns are ``columnar.columns`` of its own slice of the log (its own dictionaries), as
a live feed would give them. "Events" counts every event of the log, also those the fast path
does not read (collection actions, allocations); ``extra_info`` also gives the rows the batch
adds to the fast path's tables, the customers it touches and the rows recomputed.

The large profile reads the 10M log from the directory in ``ARLEDGER_BENCHMARK_LARGE_LOG``
when set (a ``generate_parquet(10_000_000, SEED, ...)`` directory), else generates it (some
minutes and about 4 GB of disk in the temporary directory).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np
import pytest

from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import ColumnarLog, decode_policy
from arledger.adapters.synthetic.generate import generate_parquet
from arledger.projections.fast.incremental import IncrementalPortfolio
from arledger.projections.fast.portfolio import SELECT, FastPortfolio, fast_portfolio

SEED: Final = 20_240_101
SMALL_INVOICES: Final = 1_000_000
LARGE_INVOICES: Final = 10_000_000
LARGE_LOG_VARIABLE: Final = "ARLEDGER_BENCHMARK_LARGE_LOG"
BATCH_EVENTS: Final = 10_000
ROUNDS: Final = 5
FULL_ROUNDS: Final = 3
AS_OF: Final = date(2025, 12, 31)
"""The generated ledgers' last day."""


def assert_same(expected: FastPortfolio, actual: FastPortfolio) -> None:
    assert (expected.policy, expected.currencies) == (actual.policy, actual.currencies)
    for part in ("invoices", "customers", "promises"):
        for field in attrs.fields(type(getattr(expected, part))):
            want = getattr(getattr(expected, part), field.name)
            got = getattr(getattr(actual, part), field.name)
            assert want.dtype == got.dtype, f"{part}.{field.name}"
            assert np.array_equal(want, got), f"{part}.{field.name}"


def run(benchmark: Any | None, log: ColumnarLog, rounds: int) -> dict[str, Any]:
    """Time ``apply`` per batch against the full recompute; assert the answers agree.

    ``benchmark``: pytest-benchmark's fixture, or None to time the same rounds by hand (the
    fast path's large profile records these figures in its results file)."""
    total = log.event_count
    cuts = [total - (1 + rounds - index) * BATCH_EVENTS for index in range(rounds + 2)]
    started = time.perf_counter()
    portfolio = IncrementalPortfolio(
        columnar.columns(log.between(0, cuts[0]), select=SELECT),
        AS_OF,
        decode_policy=decode_policy,
    )
    build_s = time.perf_counter() - started
    batches = iter(
        [
            columnar.columns(log.between(after, upto), select=SELECT)
            for after, upto in itertools.pairwise(cuts)
        ]
    )
    timings: list[float] = []
    updates = []

    def apply(batch: Any) -> FastPortfolio:
        started = time.perf_counter()
        result = portfolio.apply(batch)
        timings.append(time.perf_counter() - started)
        updates.append(portfolio.last_update)
        return result

    if benchmark is None:
        for _ in range(rounds + 1):  # one warm-up batch, as pedantic's
            apply(next(batches))
    else:
        benchmark.pedantic(
            apply, setup=lambda: ((next(batches),), {}), rounds=rounds, warmup_rounds=1
        )
    for batch in batches:  # any batch a disabled benchmark left over
        portfolio.apply(batch)

    whole = columnar.columns(log, select=SELECT)
    full_timings = []
    for _ in range(FULL_ROUNDS):
        started = time.perf_counter()
        expected = fast_portfolio(whole, AS_OF, decode_policy=decode_policy)
        full_timings.append(time.perf_counter() - started)
    assert_same(expected, portfolio.result)
    assert not any(update.full for update in updates)

    timed = timings[1:] or timings  # the first is the warm-up batch
    incremental_ms = statistics.median(timed) * 1000
    full_ms = statistics.median(full_timings) * 1000
    figures = {
        "invoices": log.tables["InvoiceIssued"].num_rows,
        "events": total,
        "batch_events": BATCH_EVENTS,
        "incremental_ms_median": round(incremental_ms, 3),
        "incremental_ms_each": [round(seconds * 1000, 3) for seconds in timed],
        "full_recompute_ms_median": round(full_ms, 1),
        "full_over_incremental": round(full_ms / incremental_ms, 1),
        "build_s": round(build_s, 2),
        "batch_rows_read": statistics.median(update.events for update in updates),
        "customers_recomputed": statistics.median(update.customers for update in updates),
        "rows_recomputed": statistics.median(update.rows for update in updates),
        "target_ms": 5,
    }
    if benchmark is not None:
        benchmark.extra_info.update(figures)
    print(json.dumps(figures, indent=2))
    return figures


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> ColumnarLog:
    directory = tmp_path_factory.mktemp("incremental-1m")
    generate_parquet(SMALL_INVOICES, SEED, directory)
    return columnar.read_parquet(directory)


@pytest.mark.benchmark(group="fast-incremental")
def test_a_10000_event_batch_at_1m_invoices_against_a_full_recompute(
    benchmark: Any, small_log: ColumnarLog
) -> None:
    """Budget: under 5 ms a batch (the issue's target is at 10M; this is the CI size)."""
    run(benchmark, small_log, ROUNDS)


@pytest.mark.large
@pytest.mark.benchmark(group="fast-incremental-large")
def test_a_10000_event_batch_at_10m_invoices_against_a_full_recompute(
    benchmark: Any, tmp_path: Path
) -> None:
    """Budget (issue 5): under 5 ms a batch at 10M invoices."""
    given = os.environ.get(LARGE_LOG_VARIABLE)
    directory = Path(given) if given else tmp_path / "incremental-10m"
    if not given:
        generate_parquet(LARGE_INVOICES, SEED, directory)
    log = columnar.read_parquet(directory)
    assert LARGE_INVOICES == log.tables["InvoiceIssued"].num_rows
    run(benchmark, log, ROUNDS)
