"""Stored read models: caught up in batches with exactly-once tracking, equal to a fresh fold.

Runs on SQLite files and PostgreSQL schemas (the stores that keep read models).
"""

from __future__ import annotations

import gc
from contextlib import closing
from datetime import date
from typing import Any

import pytest

from arledger import AgeingGrouping, Ledger, Money
from arledger.adapters.read_models.runner import (
    ProjectionRunner,
    ReadModelTables,
    StaleRunnerError,
    tables_for,
)
from arledger.projections import portfolio
from tests.conftest import FixedClock


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def record_some_history(ledger: Ledger, customers: int = 6, invoices: int = 4) -> None:
    session = ledger.session()
    for c in range(customers):
        code = f"C{c}"
        session.open_account(
            customer_code=code,
            name=f"Customer {c}",
            currency="USD",
            collection_owner=f"owner-{c % 2}",
            opened_on=date(2024, 1, 1),
        )
        for i in range(invoices):
            session.issue_invoice(
                invoice_number=f"INV-{c}-{i}",
                customer_code=code,
                amount=usd(f"{100 + 10 * i + c}.00"),
                issued_on=date(2024, 1 + i, 5),
            )
        session.receive_payment(
            bank_reference=f"PAY-{c}",
            payer_code=code,
            amount=usd("150.00"),
            value_on=date(2024, 3, 1),
        )
        session.allocate_payment(bank_reference=f"PAY-{c}")
    session.commit()


def fresh_fold(ledger: Ledger) -> portfolio.PortfolioState:
    return portfolio.fold_all(ledger.iter_events())


def same(left: portfolio.PortfolioState, right: portfolio.PortfolioState) -> bool:
    """Equal facts; dict order (the order partitions were read in) does not matter."""
    return left == right


@pytest.fixture
def ledger(persistent_store_env: dict[str, str]) -> Ledger:
    return Ledger(env=persistent_store_env, clock=FixedClock())


def test_queries_read_the_stored_models_and_equal_a_fresh_fold(
    ledger: Ledger, persistent_store_env: dict[str, str]
) -> None:
    record_some_history(ledger)

    stored = ledger.portfolio()
    report = ledger.ageing(date(2024, 6, 30), grouping=AgeingGrouping.INVOICE)

    assert "stored" == ledger.read_models
    assert 0 == ledger.projection_runner().status().lag
    assert same(fresh_fold(ledger), stored)
    replay = Ledger(env=persistent_store_env, read_models="replay")
    assert replay.ageing(date(2024, 6, 30), grouping=AgeingGrouping.INVOICE) == report


def test_new_events_are_caught_up_before_the_next_query(ledger: Ledger) -> None:
    record_some_history(ledger)
    ledger.portfolio()
    ledger.apply_credit_note(
        "INV-0-3",
        credit_note_number="CN-1",
        amount=usd("5.00"),
        applied_on=date(2024, 6, 1),
        reason="rebate",
        approver="cfo",
    )

    status_before = ledger.projection_runner().status()
    stored = ledger.portfolio()

    assert 2 == status_before.lag  # the credit note and its number's registration
    assert same(fresh_fold(ledger), stored)


def test_a_runner_resumes_from_its_last_batch_and_equals_a_rebuild(
    ledger: Ledger, persistent_store_env: dict[str, str]
) -> None:
    record_some_history(ledger)
    first = ProjectionRunner(ledger, batch_size=7)
    first.run_batch()
    first.run_batch()
    position = first.status().position
    first.close()

    second = ProjectionRunner(Ledger(env=persistent_store_env), batch_size=7)
    with closing(second):
        folded = second.catch_up()
        resumed = second.portfolio()
        total = second.rebuild()
        rebuilt = second.portfolio()

    assert 14 == position
    assert total == folded + position
    assert same(rebuilt, resumed)
    assert same(fresh_fold(ledger), rebuilt)


def test_a_stale_runner_writes_nothing(ledger: Ledger) -> None:
    record_some_history(ledger, customers=2)
    runner = ProjectionRunner(ledger, batch_size=5)
    with closing(runner):
        runner.run_batch()

        with pytest.raises(StaleRunnerError):
            runner.tables.write_batch({"x": "{}"}, {}, 0, 99)

        assert 5 == runner.status().position
        assert "x" not in runner.tables.partitions(None)


def test_status_reports_the_lag_behind_the_log(ledger: Ledger) -> None:
    record_some_history(ledger, customers=2)
    with closing(ProjectionRunner(ledger, batch_size=4)) as runner:
        before = runner.status()
        runner.run_batch()
        after = runner.status()

    assert before.head == before.lag
    assert before.head - 4 == after.lag


class CommitsFirst:
    """The tables of a runner, through which another runner commits one batch just before this
    runner's first write (a real race, made to happen at a known point)."""

    def __init__(self, tables: ReadModelTables, other: ProjectionRunner) -> None:
        self.tables = tables
        self.other = other
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    def write_batch(self, *args: Any) -> None:
        if not self.raced:
            self.raced = True
            self.other.run_batch()
        self.tables.write_batch(*args)


def test_a_catch_up_that_lost_a_race_goes_on_from_the_winners_position(
    ledger: Ledger, persistent_store_env: dict[str, str]
) -> None:
    record_some_history(ledger)
    other = ProjectionRunner(Ledger(env=persistent_store_env), batch_size=3)
    tables = CommitsFirst(tables_for(ledger.store_settings), other)
    runner = ProjectionRunner(ledger, batch_size=5, tables=tables)
    with closing(runner), closing(other):
        folded = runner.catch_up()
        status = runner.status()
        stored = runner.portfolio()

    assert tables.raced
    assert status.head - 3 == folded
    assert 0 == status.lag
    assert same(fresh_fold(ledger), stored)


def test_later_batches_of_a_catch_up_grow_with_what_it_has_folded(ledger: Ledger) -> None:
    record_some_history(ledger, customers=12)
    committed: list[int] = []
    with closing(ProjectionRunner(ledger, batch_size=5)) as runner:
        folded = runner.catch_up(lambda position, head: committed.append(position))
        stored = runner.portfolio()

    sizes = [b - a for a, b in zip([0, *committed], committed, strict=False)]
    assert [5, 10, 30, 90] == sizes[:4]
    assert 0 < sizes[-1] <= 2 * committed[-2]
    assert committed[-1] == folded
    assert same(fresh_fold(ledger), stored)


class FailsToWrite:
    """Tables whose writes fail, noting whether the garbage collector was on at the time."""

    def __init__(self, tables: ReadModelTables) -> None:
        self.tables = tables
        self.collector_on: list[bool] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    def write_batch(self, *args: Any) -> None:
        self.collector_on.append(gc.isenabled())
        raise OSError("disk full")


def test_the_collector_pauses_during_a_catch_up_and_is_back_on_after_a_failing_one(
    ledger: Ledger,
) -> None:
    record_some_history(ledger, customers=2)
    tables = FailsToWrite(tables_for(ledger.store_settings))
    runner = ProjectionRunner(ledger, tables=tables)
    with closing(runner):
        with pytest.raises(OSError, match="disk full"):
            runner.catch_up()
        status = runner.status()

    assert [False] == tables.collector_on
    assert gc.isenabled()
    assert 0 == status.position
