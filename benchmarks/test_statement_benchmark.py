"""``Ledger.statement`` on a generated ledger in a SQLite store: the query engine's path (that
customer's events taken from the columnar log, folded) against a replay of the whole log.

Medium profile (CI): 10,000 invoices. The statement of the customer with the most open money,
for the last year of the ledger, is timed warm (the columnar log loaded) through the engine
and through ``read_models="replay"`` in the same run; the ratio goes into
``benchmark.extra_info`` and is printed. Asserted: the two answers are equal, the statement
reconciles with the ageing, and the engine is at least 5x faster than the replay (a floor far
under what it gives, never an absolute time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.synthetic.generate import END_ON_DEFAULT
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.statement import Statement
from benchmarks.conftest import generated_store
from benchmarks.timing import median_s

SEED: Final = 20_261_206
INVOICES: Final = 10_000
TO_ON: Final = END_ON_DEFAULT
FROM_ON: Final = TO_ON - timedelta(days=364)
ROUNDS: Final = 5
ENGINE_X_REPLAY_MIN: Final = 5.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield generated_store(
        tmp_path_factory.mktemp("statement") / f"generated-{INVOICES}.db", INVOICES, SEED
    )


@pytest.mark.slow
def test_statement_through_the_engine_against_replay(benchmark: Any, store: dict[str, str]) -> None:
    ledger = Ledger(env=store)
    try:
        rows = ledger.ageing(TO_ON, grouping=AgeingGrouping.CUSTOMER).rows
        top = max(rows, key=lambda row: (row.open_minor, row.key))

        def engine() -> Statement:
            return ledger.statement(top.key, FROM_ON, TO_ON)

        answer = engine()  # warm: columnar log loaded
        engine_s = median_s(engine, ROUNDS)
        benchmark.pedantic(engine, rounds=ROUNDS, iterations=1)
        ledger.read_models = "replay"
        try:
            started = time.perf_counter()
            replayed = engine()
            replay_s = time.perf_counter() - started
        finally:
            ledger.read_models = "stored"
        assert answer == replayed
        assert top == answer.ageing
        assert answer.closing_balance_minor == answer.opening_balance_minor + sum(
            line.amount_minor for line in answer.lines
        )
        figures = {
            "invoices": INVOICES,
            "events": ledger.recorder.max_notification_id(),
            "customer_lines": len(answer.lines),
            "engine_s": engine_s,
            "replay_s": replay_s,
            "engine_x_replay": replay_s / engine_s,
        }
        benchmark.extra_info.update(figures)
        print(figures)
        assert figures["engine_x_replay"] >= ENGINE_X_REPLAY_MIN
    finally:
        ledger.close()
