"""The fast path against its baselines: one ageing-and-grading query, every engine, one log.

The query is the simplified ageing + 2x2 grading of ``benchmarks/fast_engines.py`` (its
docstring defines it). Every engine reads the same columnar log
(``adapters/read_models/columnar.py``) in the same process and must give the same per-customer
answer; timings are medians, and each engine's ratios to the baselines measured in the same
run go into ``benchmark.extra_info``:

- the fold: ``projections.ageing`` fold + ``ageing_report`` + the grade, over decoded events
  (decoding is not timed);
- Polars (lazy) and DuckDB (SQL over the Arrow tables), and the better of the two;
- the bandwidth pass: one NumPy sum over exactly the columns the query reads.

The log is the seeded synthetic ledger of ``adapters/synthetic/generate.py`` (about six events an
invoice: payments, bounces, credit notes, concessions, write-offs, disputes, promises,
actions). It makes no reinstatements, so the answers are also checked on the demo ledger with
every kind of movement added through the ledger's commands.

Small profile (CI): ``SMALL_INVOICES`` invoices (about 120,000 events); the whole file takes
well under 3 minutes on a loaded 2-core machine. Results are asserted (every engine equals the
fold, at two report dates, on both logs); timings never are.

Large profile, by hand: ``pytest benchmarks -m large`` ages ``LARGE_INVOICES`` invoices and
writes ``benchmarks/results/fast-path-<date>.json`` (medians, ratios, sizes, peak memory, the
machine). There the fold is too slow and too big to run over the whole log (decoded events
alone would need tens of GB), so it runs on a slice of whole customers and is scaled by events;
the JSON and the printout say so.

Targets (issue 5), for the full fast path at 10M invoices: >= 4x faster than the better of
Polars and DuckDB, >= 100x faster than the fold, within 6x of the bandwidth pass, peak memory
under 3x the columnar log, first call in a new process under 1 s, a 10,000-event incremental
update under 5 ms. Figures are recorded, never asserted.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import ColumnarLog
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.adapters.synthetic.generate import generate_columnar
from arledger.domain.events import Event
from arledger.domain.money import Money
from arledger.projections.fast import portfolio as fast_path
from benchmarks import fast_engines
from benchmarks import test_fast_incremental_benchmark as incremental
from benchmarks.fast_engines import CustomerAgeing, Query, assert_same
from tests.conftest import FixedClock

SEED: Final = 20_240_101
SMALL_INVOICES: Final = 20_000
LARGE_INVOICES: Final = 10_000_000
"""The large profile's size (the issue's figures are for 10M invoices, about 26M events)."""
DEMO_INVOICES: Final = 2_000
"""The demo ledger with every movement (the generator makes no concessions or reinstatements)."""
DEMO_CUSTOMERS: Final = 200
AS_OF: Final = date(2025, 12, 31)
"""The generated ledgers' last day (``generate.END_ON_DEFAULT``)."""
AS_OF_MID_YEAR: Final = date(2025, 6, 30)
"""A second report date, before much of the log's business dates, so the date cut-offs bite."""
DEMO_AS_OF: Final = (date(2024, 12, 31), date(2024, 6, 30))
"""The same two dates for the demo ledger, which covers 2024."""
SMALL_ROUNDS: Final = 5
LARGE_ROUNDS: Final = 3
FOLD_SLICE_EVENTS: Final = 300_000
"""Above this many events the large profile folds a slice of whole customers (and scales it)."""
TINY_INVOICES: Final = 200
"""The log of the first-call-in-a-new-process measurement."""
RESULTS: Final = Path(__file__).parent / "results"
REPOSITORY: Final = Path(__file__).parents[1]


# The log ---------------------------------------------------------------------------------------


def build_log(invoices: int, seed: int = SEED) -> ColumnarLog:
    """The benchmark's columnar log: the seeded synthetic ledger of
    ``adapters/synthetic/generate.py``."""
    return generate_columnar(invoices, seed)


def demo_log(invoices: int, seed: int) -> ColumnarLog:
    """The demo ledger with every kind of movement the query reads, as a columnar log: the
    generated ledger has no reinstatements (and concessions only of a few slow payers), so this one
    makes them."""
    demo = generate_demo(seed, customers=DEMO_CUSTOMERS, invoices=invoices)
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=FixedClock())
    record_demo(ledger, demo)
    session = ledger.session()
    # Deterministic picks, disjoint by index, each kind of movement on about one invoice in 20;
    # the dates fall on both sides of both report dates.
    for index, invoice in enumerate(demo.invoices):
        number = invoice.invoice_number
        amount = invoice.amount
        later = invoice.issued_on + timedelta(days=15 + index % 90)
        if invoice.payment is None:
            kind = index % 80
            if kind < 4:
                session.apply_credit_note(
                    invoice_number=number,
                    credit_note_number=f"CN-{index}",
                    amount=Money(amount.amount_minor // 4, amount.currency),
                    applied_on=later,
                    reason="price adjustment",
                    approver="cfo",
                )
            elif kind < 8:
                session.approve_concession(
                    invoice_number=number,
                    amount=Money(amount.amount_minor // 10, amount.currency),
                    approved_on=later,
                    reason="late delivery",
                    approver="cfo",
                )
            elif kind < 12:
                session.write_off(
                    invoice_number=number, written_off_on=later, reason="insolvent", approver="cfo"
                )
                if kind < 10:
                    session.reinstate(
                        invoice_number=number,
                        reinstated_on=later + timedelta(days=30),
                        reason="customer paid after all",
                        approver="cfo",
                    )
        elif index % 20 == 0:
            session.reverse_payment(
                bank_reference=invoice.payment.bank_reference,
                reversed_on=invoice.payment.value_on + timedelta(days=index % 60),
                reason="bounced",
            )
        if index % 300 == 0:
            session.commit()
    session.commit()
    log = columnar.to_columnar(ledger.iter_events())
    ledger.close()
    return log


def decoded(log: ColumnarLog) -> list[Event]:
    return list(columnar.from_columnar(log))


def slice_of_customers(log: ColumnarLog, events_max: int) -> tuple[ColumnarLog, float]:
    """A log of whole customers (the first ones opened) with about ``events_max`` events.

    Rows of classes whose originator is a customer or an invoice are kept when it belongs to
    the slice; rows of any other class (payments, allocations) are kept in the same proportion
    of the slice's invoices, first ones first, so the mix of events the fold skips stays as it
    is. Returns the slice and the fraction of the log's invoices it holds.
    """
    fraction = min(1.0, events_max / log.event_count)
    customers = log.tables["CustomerAccountOpened"].column("originator_id")
    chosen = customers.slice(0, max(1, int(len(customers) * fraction)))
    invoices = log.tables["InvoiceIssued"]
    mine = pc.is_in(invoices.column("customer_id"), value_set=chosen.combine_chunks())
    chosen_invoices = invoices.filter(mine).column("originator_id")
    fraction = len(chosen_invoices) / max(invoices.num_rows, 1)
    members = pa.concat_arrays([chosen.combine_chunks(), chosen_invoices.combine_chunks()])
    known = pa.concat_arrays(
        [customers.combine_chunks(), invoices.column("originator_id").combine_chunks()]
    )
    tables = {}
    for name, table in log.tables.items():
        originator = table.column("originator_id")
        if pc.all(pc.is_in(originator, value_set=known)).as_py():
            tables[name] = table.filter(pc.is_in(originator, value_set=members))
        else:
            tables[name] = table.slice(0, round(table.num_rows * fraction))
    return ColumnarLog(ids=log.ids, tables=tables), fraction


# Timing ------------------------------------------------------------------------------------------


def median_seconds(function: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    """Median wall time over ``rounds`` calls (after none: the engines' warm-up is their own)."""
    times = []
    result = None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def ratios(seconds: float, baselines: dict[str, float]) -> dict[str, float]:
    """How many times faster than each baseline (``fold``, ``polars``, ...) and than the better
    of Polars and DuckDB; for the bandwidth pass, how many times slower than it."""
    out = {f"x_faster_than_{name}": baselines[name] / seconds for name in baselines}
    engines = [baselines[name] for name in ("polars", "duckdb") if name in baselines]
    if engines:
        out["x_faster_than_better_of_polars_duckdb"] = min(engines) / seconds
    if "bandwidth" in baselines:
        del out["x_faster_than_bandwidth"]
        out["x_bandwidth_pass"] = seconds / baselines["bandwidth"]
    return out


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# Child processes: the first call, and peak memory ------------------------------------------------

CHILD: Final = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()

def peak_rss_bytes():
    # VmHWM: this process image's own peak (ru_maxrss may carry the parent's over fork/exec).
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

from datetime import date
from arledger.adapters.read_models import columnar
engine, as_of = sys.argv[2], date.fromisoformat(sys.argv[3])
if engine == "fast_path":
    # Only what a service calling the fast path imports (no Polars, DuckDB or benchmarks).
    from arledger.projections.fast import portfolio as fast_path

    def run(log):
        columns = columnar.columns(log, fast_path.SELECT)
        return fast_path.fast_portfolio(
            columns, as_of, decode_policy=columnar.decode_policy
        )
else:
    from benchmarks import fast_engines

    def run(log):
        return fast_engines.ENGINES[engine](log, fast_engines.Query(as_of=as_of))
imported = time.perf_counter()
log = columnar.read_parquet(Path(sys.argv[1]))
loaded = time.perf_counter()
rss_loaded = peak_rss_bytes()
run(log)
done = time.perf_counter()
rss_done = peak_rss_bytes()
from benchmarks import fast_engines
answer = fast_engines.ENGINES[engine](log, fast_engines.Query(as_of=as_of))
print(json.dumps({
    "import_s": imported - started,
    "load_s": loaded - imported,
    "first_call_s": done - loaded,
    "peak_rss_loaded_bytes": rss_loaded,
    "peak_rss_bytes": rss_done,
    "log_bytes": log.nbytes,
    "totals": answer.totals_by_currency,
}))
"""
"""Loads a Parquet log, runs one engine once, prints its timings and peak memory, then the
totals of its answer (computed again, after the measurements, to check them)."""


def write_log(log: ColumnarLog, directory: Path) -> None:
    """The in-memory log as a Parquet directory that ``columnar.read_parquet`` reads back."""
    sink = columnar.ParquetSink(directory)
    for batch in log.ids.to_batches():
        sink("ids", batch)
    for name, table in log.tables.items():
        for batch in table.to_batches():
            sink(name, batch)
    sink.close()


def run_child(directory: Path, engine: str, as_of: date) -> dict[str, Any]:
    """One fresh interpreter running ``CHILD``; adds the wall time the parent saw."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), engine, as_of.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert 0 == completed.returncode, completed.stderr
    figures: dict[str, Any] = json.loads(completed.stdout)
    figures["process_wall_s"] = time.perf_counter() - started
    figures["totals"] = {c: tuple(t) for c, t in figures["totals"].items()}
    return figures


def first_call(directory: Path, engine: str, as_of: date) -> dict[str, Any]:
    """The first call in a new process with a warm Numba cache: run twice, report the second."""
    run_child(directory, engine, as_of)
    return run_child(directory, engine, as_of)


# The machine -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What ran the benchmark: platform, CPU, cores, memory and the libraries' versions."""
    cpuinfo = Path("/proc/cpuinfo")
    model = "unknown"
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_bytes = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_bytes = int(line.split()[1]) * 1024
    return {
        "platform": platform.platform(),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes,
        "python": platform.python_version(),
        **{
            package: metadata.version(package)
            for package in ("numpy", "numba", "polars", "duckdb", "pyarrow")
        },
    }


# Small profile (CI) ------------------------------------------------------------------------------


class Small:
    """The small log, its decoded events, its columns and the fold's answer."""

    def __init__(self, log: ColumnarLog) -> None:
        self.log = log
        self.events = decoded(log)
        self.columns = fast_engines.read_columns(log)
        self.query = Query(as_of=AS_OF)
        self.codes = fast_engines.customer_ids_by_code(log)
        self.fold = fast_engines.fold_answer(
            fast_engines.fold_engine(self.events, self.query), self.codes, self.query
        )
        self.medians: dict[str, float] = {}

    def baseline(self, name: str) -> float:
        """A baseline's median in this run: the one its own benchmark recorded, else measured."""
        if name not in self.medians:
            self.medians[name] = median_seconds(self.runner(name), SMALL_ROUNDS)[0]
        return self.medians[name]

    def runner(self, name: str) -> Callable[[], Any]:
        if name == "fold":
            return lambda: fast_engines.fold_engine(self.events, self.query)
        if name == "bandwidth":
            return lambda: fast_engines.bandwidth_pass(self.columns)
        engine = fast_engines.ENGINES[name]
        return lambda: engine(self.log, self.query)


@pytest.fixture(scope="module")
def small() -> Small:
    return Small(build_log(SMALL_INVOICES))


def record(benchmark: Any, small: Small, name: str, result: Any) -> None:
    """Median and ratios to the baselines (other than itself) into ``extra_info``."""
    seconds = benchmark.stats.stats.median
    small.medians[name] = seconds
    baselines = {
        other: small.baseline(other)
        for other in ("fold", "polars", "duckdb", "bandwidth")
        if other != name
    }
    benchmark.extra_info.update(
        {
            "median_s": seconds,
            "events": small.log.event_count,
            "invoices": small.log.tables["InvoiceIssued"].num_rows,
            **ratios(seconds, baselines),
        }
    )


@pytest.fixture(scope="module")
def every_movement() -> ColumnarLog:
    return demo_log(DEMO_INVOICES, SEED)


def test_the_logs_hold_every_movement_the_query_reads(
    small: Small, every_movement: ColumnarLog
) -> None:
    assert 2 * SMALL_INVOICES < small.log.event_count < 8 * SMALL_INVOICES
    assert SMALL_INVOICES == small.log.tables["InvoiceIssued"].num_rows
    assert small.log.tables["DisputeOpened"].num_rows > 0
    # Each movement is in one log or the other: the demo has every kind but goods in lieu,
    # which only the generator makes (on a share of its defaulted invoices).
    for name in fast_engines.SETTLEMENTS:
        in_logs = [log.tables[name].num_rows for log in (small.log, every_movement)
                   if name in log.tables]  # fmt: skip
        assert sum(in_logs) > 0, name
    assert small.log.tables["GoodsInLieuApplied"].num_rows > 0
    # Approved concession requests: their concessions settle part of the invoice.
    assert small.log.tables["ConcessionApproved"].num_rows > 0
    instalments = small.columns["InvoiceIssued"]["instalments.offsets"]
    assert 0 < np.count_nonzero(np.diff(instalments)) < SMALL_INVOICES


def answers_equal_the_folds(log: ColumnarLog, events: list[Event], as_of: date) -> None:
    query = Query(as_of=as_of)
    report = fast_engines.fold_engine(events, query)
    expected = fast_engines.fold_answer(report, fast_engines.customer_ids_by_code(log), query)
    assert len(expected) > 100
    assert set(expected.grade) == {fast_engines.NO_GRADE, 0, 1, 2, 3}
    for name, engine in fast_engines.ENGINES.items():
        assert_same(expected, engine(log, query), label=name)
    cols = fast_engines.read_columns(log)
    assert_same(expected, fast_engines.numba_from_columns(cols, query), label="numba kernel")
    assert_same(expected, fast_engines.numpy_from_columns(cols, query), label="numpy kernel")


@pytest.mark.parametrize("as_of", [AS_OF, AS_OF_MID_YEAR], ids=str)
def test_every_engine_gives_the_folds_answer(small: Small, as_of: date) -> None:
    answers_equal_the_folds(small.log, small.events, as_of)


@pytest.mark.parametrize("as_of", DEMO_AS_OF, ids=str)
def test_every_engine_gives_the_folds_answer_with_every_movement(
    every_movement: ColumnarLog, as_of: date
) -> None:
    answers_equal_the_folds(every_movement, decoded(every_movement), as_of)


@pytest.mark.benchmark(group="fast-path-small")
def test_bandwidth_pass_over_the_columns_the_query_reads(benchmark: Any, small: Small) -> None:
    """Baseline: the floor any engine pays to read the columns once."""
    total = benchmark.pedantic(
        fast_engines.bandwidth_pass, args=(small.columns,), rounds=SMALL_ROUNDS, iterations=1
    )
    record(benchmark, small, "bandwidth", total)
    benchmark.extra_info["bytes"] = fast_engines.column_bytes(small.columns)
    benchmark.extra_info["gb_per_s"] = (
        fast_engines.column_bytes(small.columns) / small.medians["bandwidth"] / 1e9
    )

    assert total != 0


@pytest.mark.benchmark(group="fast-path-small")
def test_fold_and_ageing_report_over_decoded_events(benchmark: Any, small: Small) -> None:
    """Baseline: the naive replay (decoding the events is not timed)."""
    report = benchmark.pedantic(
        fast_engines.fold_engine, args=(small.events, small.query), rounds=3, iterations=1
    )
    record(benchmark, small, "fold", report)

    assert_same(
        small.fold, fast_engines.fold_answer(report, small.codes, small.query), label="fold"
    )


@pytest.mark.parametrize("engine", list(fast_engines.ENGINES))
@pytest.mark.benchmark(group="fast-path-small")
def test_engine_from_the_columnar_log(benchmark: Any, small: Small, engine: str) -> None:
    """Each engine end to end from the log (NumPy and Numba include pulling the columns out).
    Budget: none asserted; at this size fixed costs (query planning, threads) weigh heavily."""
    fast_engines.ENGINES[engine](small.log, small.query)  # Numba's cache load, Polars' threads
    answer = benchmark.pedantic(
        fast_engines.ENGINES[engine],
        args=(small.log, small.query),
        rounds=SMALL_ROUNDS,
        iterations=1,
    )
    record(benchmark, small, engine, answer)

    assert_same(small.fold, answer, label=engine)


@pytest.mark.benchmark(group="fast-path-small")
def test_numba_kernel_from_prepared_columns(benchmark: Any, small: Small) -> None:
    """The kernels alone, the columns already pulled out: what the bandwidth pass compares with."""
    answer = benchmark.pedantic(
        fast_engines.numba_from_columns,
        args=(small.columns, small.query),
        rounds=SMALL_ROUNDS,
        iterations=1,
    )
    record(benchmark, small, "numba_kernel", answer)

    assert_same(small.fold, answer, label="numba kernel")


def fast_path_from_columns(cols: columnar.Columns, query: Query) -> fast_path.FastPortfolio:
    """The full fast path with its columns already pulled out of the log."""
    return fast_path.fast_portfolio(
        cols,
        query.as_of,
        decode_policy=fast_engines.decode_policy,
        ageing_policy=query.policy.ageing,
    )


@pytest.mark.benchmark(group="fast-path-small")
def test_full_fast_path_from_prepared_columns(benchmark: Any, small: Small) -> None:
    """The product's fast path (ageing, escalation and promises), columns already pulled out."""
    cols = columnar.columns(small.log, fast_path.SELECT)
    fast_path_from_columns(cols, small.query)
    result = benchmark.pedantic(
        fast_path_from_columns, args=(cols, small.query), rounds=SMALL_ROUNDS, iterations=1
    )
    record(benchmark, small, "fast_path_kernels", result)
    benchmark.extra_info["incremental_update"] = "benchmarks/test_fast_incremental_benchmark.py"

    assert len(small.codes) == len(result.customers.customer_id)
    assert small.fold.open_minor.sum() == result.customers.open_minor.sum()


@pytest.mark.parametrize("engine", ["fast_path", "numba"])
def test_first_call_in_a_new_process_with_a_warm_numba_cache(engine: str, tmp_path: Path) -> None:
    """Target (issue 5): under 1 s. A fresh interpreter loads a tiny Parquet log and runs the
    engine once; run twice so the second finds the compiled kernels cached."""
    tiny = build_log(TINY_INVOICES)
    write_log(tiny, tmp_path / "tiny")
    figures = first_call(tmp_path / "tiny", engine, AS_OF)
    print(f"\nfirst call in a new process ({engine}, {tiny.event_count} events): {figures}")

    expected = fast_engines.ENGINES[engine](tiny, Query(as_of=AS_OF)).totals_by_currency
    assert expected == figures["totals"]
    assert figures["first_call_s"] > 0


# Large profile (by hand) -------------------------------------------------------------------------


def fast_path_column_figures(log: ColumnarLog, query: Query, rounds: int) -> dict[str, Any]:
    """The bandwidth pass over every column the fast path reads, and its kernels alone."""
    cols = columnar.columns(log, fast_path.SELECT)
    bandwidth, _ = median_seconds(lambda: fast_engines.bandwidth_pass(cols), 5)
    fast_path_from_columns(cols, query)  # warm-up: Numba's cache load
    kernels, _ = median_seconds(lambda: fast_path_from_columns(cols, query), rounds)
    return {
        "bandwidth_fast_path_columns": {
            "median_s": bandwidth,
            "bytes": fast_engines.column_bytes(cols),
            "gb_per_s": fast_engines.column_bytes(cols) / bandwidth / 1e9,
            "note": "every column projections/fast/portfolio.py reads (it computes more than the"
            " query)",
        },
        "fast_path_kernels": {"median_s": kernels, "note": "columns already pulled out"},
    }


def in_process_figures(
    log: ColumnarLog, query: Query, rounds: int
) -> tuple[dict[str, Any], dict[str, dict[str, tuple[int, ...]]]]:
    """Every engine's median and ratios on ``log`` (answers asserted equal), and the totals of
    the answers the child processes must reproduce."""
    cols = fast_engines.read_columns(log)
    figures: dict[str, Any] = {}
    bandwidth, _ = median_seconds(lambda: fast_engines.bandwidth_pass(cols), 5)
    figures["bandwidth"] = {
        "median_s": bandwidth,
        "bytes": fast_engines.column_bytes(cols),
        "gb_per_s": fast_engines.column_bytes(cols) / bandwidth / 1e9,
        "threads": 1,
    }
    figures.update(fast_path_column_figures(log, query, rounds))
    answers: dict[str, CustomerAgeing] = {}
    for name, engine in fast_engines.ENGINES.items():
        engine(log, query)  # warm-up: Numba's cache load, thread pools
        seconds, answers[name] = median_seconds(lambda engine=engine: engine(log, query), rounds)
        figures[name] = {"median_s": seconds}
    fast_engines.numba_from_columns(cols, query)
    seconds, answers["numba_kernel"] = median_seconds(
        lambda: fast_engines.numba_from_columns(cols, query), rounds
    )
    figures["numba_kernel"] = {"median_s": seconds}
    for name, answer in answers.items():
        assert_same(answers["numpy"], answer, label=name)
    figures["fold"] = fold_figures(log, query)
    baselines = {name: figures[name]["median_s"] for name in ("fold", "polars", "duckdb")}
    baselines["bandwidth"] = bandwidth
    for name in (*fast_engines.ENGINES, "numba_kernel", "fast_path_kernels"):
        own = {other: s for other, s in baselines.items() if other != name}
        figures[name].update(ratios(figures[name]["median_s"], own))
    # 10,000-event batches through projections.fast_incremental, on the same log.
    figures["incremental_update"] = incremental.run(None, log, incremental.ROUNDS)
    return figures, {name: answer.totals_by_currency for name, answer in answers.items()}


def fold_figures(log: ColumnarLog, query: Query) -> dict[str, Any]:
    """The fold: over the whole log when small enough, else over a slice of whole customers,
    scaled by events (said in the figures); its answer asserted equal to Numba's on the same."""
    if log.event_count <= FOLD_SLICE_EVENTS:
        part, fraction = log, 1.0
    else:
        part, fraction = slice_of_customers(log, FOLD_SLICE_EVENTS)
    events = decoded(part)
    seconds, report = median_seconds(lambda: fast_engines.fold_engine(events, query), 1)
    assert_same(
        fast_engines.fold_answer(report, fast_engines.customer_ids_by_code(part), query),
        fast_engines.numba_engine(part, query),
        label="fold on the slice",
    )
    scale = log.event_count / len(events)
    return {
        "median_s": seconds * scale,
        "measured_s": seconds,
        "measured_on": "whole log" if part is log else "slice of whole customers",
        "measured_events": len(events),
        "measured_invoices": part.tables["InvoiceIssued"].num_rows,
        "measured_invoice_fraction": fraction,
        "scaled_by_events": scale,
        "rounds": 1,
        "note": "decoding events not timed"
        + ("" if part is log else "; measured on a slice, time scaled by events"),
    }


def large_profile(invoices: int, results: Path, *, rounds: int = LARGE_ROUNDS) -> dict[str, Any]:
    """Every engine at ``invoices`` invoices; writes ``results/fast-path-<date>.json``.

    The child processes (first call, peak memory) run after this process has let go of the
    log, so that the two never hold it at once.
    """
    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as scratch:
        built = time.perf_counter()
        log = build_log(invoices)
        built = time.perf_counter() - built
        write_log(log, Path(scratch) / "log")
        sizes = {
            "invoices": log.tables["InvoiceIssued"].num_rows,
            "customers": log.tables["CustomerAccountOpened"].num_rows,
            "events": log.event_count,
            "columnar_log_bytes": log.nbytes,
        }
        figures, totals = in_process_figures(log, Query(as_of=AS_OF), rounds)
        del log
        peak = peak_rss_bytes()
        tiny = build_log(TINY_INVOICES)
        write_log(tiny, Path(scratch) / "tiny")
        for name in ("fast_path", "numba"):
            call = first_call(Path(scratch) / "tiny", name, AS_OF)
            call["log_events"] = tiny.event_count
            figures[f"first_call_{name}"] = call
            child = run_child(Path(scratch) / "log", name, AS_OF)
            assert totals[name] == child["totals"]
            child["peak_rss_over_log_bytes"] = child["peak_rss_bytes"] / sizes["columnar_log_bytes"]
            child["note"] = f"a fresh process: read_parquet then the {name} engine once"
            figures[f"peak_memory_{name}"] = child
    result = {
        "profile": "large",
        "command": "pytest benchmarks -m large",
        "started_at": started_at.isoformat(),
        "query": "the simplified ageing + 2x2 grading of benchmarks/fast_engines.py (docstring)",
        "as_of": AS_OF.isoformat(),
        **sizes,
        "build_log_s": built,
        "rounds": rounds,
        "peak_rss_bytes": peak,
        "figures": figures,
        "machine": machine(),
    }
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"fast-path-{started_at.date().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    result["path"] = str(path)
    return result


@pytest.mark.large
def test_large_profile_writes_its_figures_to_results() -> None:
    """By hand: ``pytest benchmarks -m large -s``. Writes the JSON; asserts only the answers."""
    result = large_profile(LARGE_INVOICES, RESULTS)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    print(markdown_table(result))

    assert LARGE_INVOICES == result["invoices"]
    assert Path(result["path"]).exists()


def markdown_table(result: dict[str, Any]) -> str:
    """The figures as the README's table: engine, median, and ratios to the baselines."""
    lines = [
        "| engine | median s | x faster than fold | x faster than better of Polars/DuckDB "
        "| x bandwidth pass |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures in result["figures"].items():
        if "median_s" not in figures:
            continue
        cells = [
            figures.get(key)
            for key in (
                "x_faster_than_fold",
                "x_faster_than_better_of_polars_duckdb",
                "x_bandwidth_pass",
            )
        ]
        shown = " | ".join("" if cell is None else f"{cell:.1f}" for cell in cells)
        lines.append(f"| {name} | {figures['median_s']:.3f} | {shown} |")
    return "\n".join(lines)
