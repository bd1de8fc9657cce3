"""Projection rebuild on PostgreSQL: our batched runner against the library's stock runner.

Two seeded demo ledgers are recorded once per module, each in a fresh PostgreSQL schema:
- a small one (about 3,000 events), projected both by the eventsourcing library's stock
  ``ProjectionRunner`` (``benchmarks.stock_projection``: the same partitioned portfolio read
  model, one event per transaction) and by our ``ProjectionRunner.rebuild`` (batches);
- the default demo (about 21,000 events), projected by ours only, for its events per second on
  a log big enough that fixed costs do not dominate.

Events per second (median over the rounds, timed around the work itself) and the ratio of ours
to the stock runner go into ``benchmark.extra_info``. Targets from the issue: at least 100x the
stock runner and at least 100,000 events/s. Timings are never asserted (the machine is shared
and noisy); results are: both runners' read models equal each other and a fresh fold of the log.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest
from eventsourcing.projection import ProjectionRunner as StockProjectionRunner
from psycopg.sql import SQL, Identifier

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence.store import store_env
from arledger.adapters.read_models.runner import ProjectionRunner
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.projections import portfolio
from arledger.projections.portfolio import PortfolioState
from benchmarks.stock_projection import (
    PARTITIONS_TABLE,
    ROUTES_TABLE,
    StockPortfolioProjection,
    StockPortfolioView,
)
from tests.conftest import FixedClock, postgres_connection, postgres_schemas

SEED = 20_240_101
SMALL_CUSTOMERS = 100
SMALL_INVOICES = 700
STOCK_TIMEOUT_S = 120.0
"""Generous: the stock runner needs about 20 s for the small log on a loaded 2-core machine."""
OUR_ROUNDS = 7
"""Rounds of ours per log, reported by their median: a rebuild takes a fraction of a second, so
several rounds steady the figure on a shared machine."""

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Log:
    """A recorded demo ledger in its own schema, with the fold it must project to."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.ledger = Ledger(env=env, clock=FixedClock())
        self.head = 0
        self.folded: PortfolioState = portfolio.initial()

    def record(self, customers: int, invoices: int) -> None:
        record_demo(self.ledger, generate_demo(SEED, customers=customers, invoices=invoices))
        self.head = self.ledger.recorder.max_notification_id() or 0
        self.folded = portfolio.fold_all(self.ledger.iter_events())


@pytest.fixture(scope="module")
def schemas() -> Iterator[Callable[[], dict[str, str]]]:
    """Makes fresh schemas (the ledger env for each); drops them all at the end."""
    with postgres_schemas("bench") as make:
        yield make


@pytest.fixture(scope="module")
def small_log(schemas: Callable[[], dict[str, str]]) -> Iterator[Log]:
    log = Log(schemas())
    log.record(SMALL_CUSTOMERS, SMALL_INVOICES)
    yield log
    log.ledger.close()


@pytest.fixture(scope="module")
def demo_log(schemas: Callable[[], dict[str, str]]) -> Iterator[Log]:
    log = Log(schemas())
    log.record(200, 5000)
    yield log
    log.ledger.close()


FIGURES: dict[str, float] = {}
"""Events per second measured in this run, by runner, for the ratio."""


def drop_stock_tables(env: dict[str, str]) -> None:
    schema = env["ARLEDGER_POSTGRES_SCHEMA"]
    tracking = f"{StockPortfolioProjection.name}_tracking"
    with postgres_connection() as connection:
        for table in (PARTITIONS_TABLE, ROUTES_TABLE, tracking):
            connection.execute(
                SQL("DROP TABLE IF EXISTS {}.{}").format(Identifier(schema), Identifier(table))
            )


def run_stock(log: Log, durations: list[float]) -> PortfolioState:
    """The library's runner from an empty view to the log's head; the view's read model."""
    env = {**log.env, **store_env(log.env)}
    started = time.perf_counter()
    with StockProjectionRunner(
        application_class=Ledger,
        projection_class=StockPortfolioProjection,
        view_class=StockPortfolioView,
        env=env,
    ) as runner:
        runner.wait(log.head, timeout=STOCK_TIMEOUT_S)
        durations.append(time.perf_counter() - started)
        view = runner.view
        try:
            return view.portfolio()
        finally:
            view.datastore.close()


def run_ours(log: Log, durations: list[float]) -> PortfolioState:
    with closing(Ledger(env=log.env)) as ledger, closing(ProjectionRunner(ledger)) as runner:
        started = time.perf_counter()
        runner.rebuild()
        durations.append(time.perf_counter() - started)
        return runner.portfolio()


def events_per_second(events: int, durations: list[float]) -> float:
    return events / statistics.median(durations)


def load_average() -> float:
    """The machine's 1-minute load average when a figure was taken: on a shared machine, the
    context that tells a slow run from a slow runner."""
    return round(os.getloadavg()[0], 2)


@pytest.mark.benchmark(group="projection-rebuild-small-log")
def test_the_stock_runner_one_event_per_transaction(benchmark: Any, small_log: Log) -> None:
    durations: list[float] = []
    stored = benchmark.pedantic(
        run_stock,
        args=(small_log, durations),
        setup=lambda: drop_stock_tables(small_log.env),
        rounds=1,
        iterations=1,
    )

    FIGURES["stock"] = events_per_second(small_log.head, durations)
    benchmark.extra_info.update(
        events=small_log.head,
        events_per_second=round(FIGURES["stock"]),
        median_s=statistics.median(durations),
        load_average=load_average(),
    )
    assert small_log.folded == stored


@pytest.mark.benchmark(group="projection-rebuild-small-log")
def test_our_runner_on_the_same_log(benchmark: Any, small_log: Log) -> None:
    durations: list[float] = []
    stored = benchmark.pedantic(
        run_ours, args=(small_log, durations), rounds=OUR_ROUNDS, iterations=1
    )

    FIGURES["ours"] = events_per_second(small_log.head, durations)
    benchmark.extra_info.update(
        events=small_log.head,
        events_per_second=round(FIGURES["ours"]),
        median_s=statistics.median(durations),
        load_average=load_average(),
    )
    if "stock" in FIGURES:
        benchmark.extra_info["ratio_to_stock"] = round(FIGURES["ours"] / FIGURES["stock"], 1)
    assert small_log.folded == stored
    assert 2_500 < small_log.head < 4_000


@pytest.mark.benchmark(group="projection-rebuild-demo-log")
def test_our_runner_on_the_default_demo_log(benchmark: Any, demo_log: Log) -> None:
    durations: list[float] = []
    stored = benchmark.pedantic(
        run_ours, args=(demo_log, durations), rounds=OUR_ROUNDS, iterations=1
    )

    benchmark.extra_info.update(
        events=demo_log.head,
        events_per_second=round(events_per_second(demo_log.head, durations)),
        median_s=statistics.median(durations),
        load_average=load_average(),
    )
    assert demo_log.folded == stored
    assert 20_000 < demo_log.head
