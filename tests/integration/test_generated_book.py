"""A generated ledger with the default profiles looks like a real B2B book (issue 15, item 5):
most open money current or 1-30 days past due, a tail over 90 days of at most a tenth, under a
tenth of the customers at the legal level, promises and disputes open at the end, and the
next steps collectors agree mostly followed up by a later action (issue 14's worklist).

The summary the demo prints (``Ledger.summary``) is checked against the Ledger's own ageing,
KPIs and worklist on the same ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Final
from uuid import UUID

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.synthetic import generate
from arledger.domain.events import CollectionActionRecorded
from arledger.domain.policy import EscalationPolicy
from arledger.projections import kpis, promises
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.promises import PromiseStatus
from arledger.projections.results import Worklist

INVOICES: Final = 5_000
SEED: Final = 20240101
AS_OF: Final = generate.END_ON_DEFAULT
CUSTOMERS: Final = INVOICES // generate.INVOICES_PER_CUSTOMER
FOLLOW_UP_DAYS: Final = 14
"""A next step counts as followed up when a later action of the customer comes by this many
days after the agreed date."""


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    generate.generate_to_store(ledger, INVOICES, SEED)
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def worklist(ledger: Ledger) -> Worklist:
    return ledger.worklist(AS_OF)


def test_most_open_money_is_current_or_1_to_30_days_and_the_tail_over_90_is_small(
    ledger: Ledger,
) -> None:
    report = ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY)
    assert ("current", "1-30", "31-60", "61-90", "91-120", "over 120") == report.bucket_labels
    assert {"CNY", "EUR", "USD"} == {row.currency for row in report.rows}
    for row in report.rows:
        current_or_1_30 = row.buckets_minor[0] + row.buckets_minor[1]
        over_90 = row.buckets_minor[4] + row.buckets_minor[5]
        assert row.open_minor > 0
        assert current_or_1_30 * 2 > row.open_minor, row.currency
        assert over_90 * 10 <= row.open_minor, row.currency
        assert over_90 > 0, row.currency  # a tail, not none


def test_under_a_tenth_of_the_customers_stand_at_the_legal_level(worklist: Worklist) -> None:
    legal = EscalationPolicy().levels[-1]
    at_legal = [item for item in worklist if item.level == legal.level]

    assert "legal" == legal.name
    assert 0 < len(at_legal) < CUSTOMERS // 10
    # Most customers need no action at all: the worklist holds well under half of them.
    assert len(worklist) < CUSTOMERS // 2


def test_promises_and_disputes_are_open_at_the_end(ledger: Ledger) -> None:
    state = ledger.portfolio()
    judged = promises.judge_all(state, AS_OF)
    disputed = ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY)

    assert 0 < sum(j.status is PromiseStatus.OPEN for j in judged)
    assert 0 < sum(row.disputed_minor for row in disputed.rows)


def test_most_agreed_next_steps_are_followed_up_and_some_slip(
    ledger: Ledger, worklist: Worklist
) -> None:
    actions: dict[UUID, list[CollectionActionRecorded]] = defaultdict(list)
    for event in ledger.iter_events():
        if isinstance(event, CollectionActionRecorded):
            actions[event.customer_id].append(event)
    due = followed = 0
    for taken in actions.values():
        for action in taken:
            step_on = action.next_step_on
            # Only steps whose follow-up window closed by the end can be judged.
            if step_on is None or step_on + timedelta(days=FOLLOW_UP_DAYS) > AS_OF:
                continue
            due += 1
            followed += any(
                action.taken_on < later.taken_on <= step_on + timedelta(days=FOLLOW_UP_DAYS)
                for later in taken
            )
    assert due > 1_000
    assert followed >= due * 85 // 100
    assert followed < due  # some slip
    # So an overdue next step alone lists few customers on the worklist.
    only_for_a_step = [
        item
        for item in worklist
        if item.level == 0 and item.next_step is not None and item.next_step.is_overdue
    ]
    assert len(only_for_a_step) < CUSTOMERS // 20


def test_the_summary_holds_the_ledgers_own_figures(ledger: Ledger, worklist: Worklist) -> None:
    summary = ledger.summary(AS_OF)
    by_currency = ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY)
    start_on, _ = kpis.trailing_period(AS_OF, 3)
    kpi_rows = {row.currency: row for row in ledger.kpis(start_on, AS_OF).rows}

    assert start_on == summary.kpi_start_on
    assert 90 == summary.long_overdue_days
    assert [row.currency for row in by_currency.rows] == [c.currency for c in summary.currencies]
    for row, line in zip(by_currency.rows, summary.currencies, strict=True):
        assert row.open_minor == line.open_minor
        assert row.overdue_minor == line.overdue_minor
        assert sum(row.buckets_minor[4:]) == line.long_overdue_minor
        assert row.disputed_minor == line.disputed_minor
        assert kpi_rows[row.currency].dso_days == line.dso_days
        assert line.dso_days is not None
        expected = (Decimal(line.long_overdue_minor) * 100 / Decimal(line.open_minor)).quantize(
            Decimal("0.1")
        )
        assert expected == line.long_overdue_percent
    levels = {(level.level, level.level_name): level.customers for level in summary.levels}
    for (level, _name), count in levels.items():
        assert sum(item.level == level for item in worklist) == count
    assert sum(item.level >= 1 for item in worklist) == sum(levels.values())
    assert len(worklist) == summary.worklist_customers
    assert worklist[0].customer_code == summary.most_urgent_customer
    with_money = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
    assert (
        len([r for r in with_money.rows if r.open_minor > 0]) == summary.customers_with_money_open
    )


def test_a_summary_of_an_empty_ledger_has_no_currencies() -> None:
    empty = Ledger({"ARLEDGER_STORE": "memory"})
    summary = empty.summary(date(2024, 12, 31))
    assert () == summary.currencies
    assert 0 == summary.worklist_customers
    assert summary.most_urgent_customer is None
