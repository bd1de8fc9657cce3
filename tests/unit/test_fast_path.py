"""The columnar fast path on small ledgers whose figures are worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, timedelta, timezone
from uuid import UUID

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.columnar import columns, decode_policy, to_columnar
from arledger.domain.errors import InvalidDateError
from arledger.domain.events import DisputeReason, Event, Instalment
from arledger.domain.money import Money
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    EscalationLevel,
    Grade,
    Trigger,
    TriggerRule,
)
from arledger.projections import ageing
from arledger.projections.fast.portfolio import (
    GRADES,
    SELECT,
    STATUSES,
    FastPortfolio,
    customer_values,
    fast_portfolio,
)
from arledger.projections.portfolio import fold_all
from arledger.projections.promises import PromiseStatus
from tests.conftest import FixedClock
from tests.property.test_fast_path_differential import assert_fast_path_equals_folds


def ledger_with_invoice(instalments: tuple[Instalment, ...] = ()) -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.run(
        lambda s: s.open_account(
            customer_code="ACME",
            name="Acme",
            currency="USD",
            collection_owner="li",
            opened_on=date(2025, 1, 1),
        )
    )
    ledger.run(
        lambda s: s.issue_invoice(
            invoice_number="I-1",
            customer_code="ACME",
            amount=Money(300_00, "USD"),
            issued_on=date(2025, 1, 1),
            due_on=date(2025, 3, 2) if instalments else date(2025, 1, 31),
            instalments=instalments,
        )
    )
    return ledger


def pay(ledger: Ledger, reference: str, amount_minor: int, on: date) -> None:
    ledger.run(
        lambda s: (
            s.receive_payment(
                bank_reference=reference,
                payer_code="ACME",
                amount=Money(amount_minor, "USD"),
                value_on=on,
            )
            + s.allocate_payment(
                bank_reference=reference,
                allocations={"I-1": Money(amount_minor, "USD")},
                allocated_on=on,
            )
        )
    )


def result(events: list[Event], as_of: date, **options: object) -> FastPortfolio:
    log = to_columnar(events)
    return fast_portfolio(
        columns(log, select=SELECT),
        as_of,
        decode_policy=decode_policy,
        **options,  # type: ignore[arg-type]
    )


def test_the_fast_path_reads_no_invoice_number() -> None:
    assert all("invoice_number" not in names for names in SELECT.values())


def test_instalments_age_by_their_own_due_dates_and_the_oldest_is_settled_first() -> None:
    schedule = (
        Instalment(due_on=date(2025, 1, 31), amount_minor=100_00),
        Instalment(due_on=date(2025, 3, 2), amount_minor=200_00),
    )
    ledger = ledger_with_invoice(schedule)
    pay(ledger, "B-1", 60_00, date(2025, 2, 1))

    portfolio = result(list(ledger.iter_events()), date(2025, 3, 10), invoice_buckets=True)

    invoices = portfolio.invoices
    # 40.00 of the first instalment is 38 days past due (31-60); the second, 8 days (1-30).
    assert [0, 200_00, 40_00, 0, 0, 0] == invoices.buckets_minor[0].tolist()
    assert 240_00 == invoices.open_minor[0]
    assert 38 == invoices.days_past_due[0]
    assert 38 == invoices.ageing_days_max[0]


def test_disputed_money_comes_off_the_oldest_overdue_part_first() -> None:
    schedule = (
        Instalment(due_on=date(2025, 1, 31), amount_minor=100_00),
        Instalment(due_on=date(2025, 3, 2), amount_minor=200_00),
    )
    ledger = ledger_with_invoice(schedule)
    ledger.run(
        lambda s: s.open_dispute(
            invoice_number="I-1",
            dispute_reference="D-1",
            amount=Money(100_00, "USD"),
            reason_code=DisputeReason.QUALITY,
            root_cause="damaged",
            opened_on=date(2025, 2, 10),
        )
    )

    portfolio = result(list(ledger.iter_events()), date(2025, 3, 10))

    invoices = portfolio.invoices
    assert 100_00 == invoices.disputed_minor[0]
    # The disputed 100.00 takes the whole first instalment: only the second counts.
    assert 200_00 == invoices.overdue_minor[0]
    assert 8 == invoices.days_past_due[0]


def test_an_open_promise_holds_the_time_driven_level_where_it_stood_when_made() -> None:
    ledger = ledger_with_invoice()
    ledger.run(
        lambda s: s.make_promise(
            customer_code="ACME",
            promise_reference="P-1",
            amount=Money(300_00, "USD"),
            promised_on=date(2025, 3, 20),
            made_on=date(2025, 2, 10),
            contact="AP",
        )
    )

    portfolio = result(list(ledger.iter_events()), date(2025, 3, 15))

    values = customer_values(portfolio, 0)
    # 43 days past due gives level 2; on 10 February, 10 days past due gave level 1.
    assert 2 == values.raw_level
    assert 1 == values.level
    assert 1 == portfolio.customers.level_cap[0]
    assert (TriggerRule.DAYS_PAST_DUE, 2, 31, 43) == values.reasons[0]
    assert PromiseStatus.OPEN is STATUSES[portfolio.promises.status[0]]


def test_a_known_at_cut_leaves_out_events_recorded_later() -> None:
    ledger = ledger_with_invoice()
    pay(ledger, "B-1", 100_00, date(2025, 1, 20))
    events = list(ledger.iter_events())
    before_payment = max(e.timestamp for e in events if type(e).__name__ == "InvoiceIssued")

    everything = result(events, date(2025, 2, 15))
    as_known = result(events, date(2025, 2, 15), known_at=before_payment)

    assert 200_00 == everything.invoices.open_minor[0]
    assert 300_00 == as_known.invoices.open_minor[0]
    ids = [UUID(bytes=raw) for raw in to_columnar(events).ids.column("id").to_pylist()]
    assert ledger.customer("ACME").id == ids[everything.customers.customer_id[0]]


def test_a_known_at_in_any_time_zone_cuts_at_the_same_instant() -> None:
    ledger = ledger_with_invoice()
    pay(ledger, "B-1", 100_00, date(2025, 1, 20))
    events = list(ledger.iter_events())
    paid_at = max(e.timestamp for e in events if type(e).__name__ == "PaymentApplied")
    before = paid_at - timedelta(seconds=1)
    zones = (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)))

    opens = [
        result(events, date(2025, 2, 15), known_at=before.astimezone(zone)).invoices.open_minor[0]
        for zone in zones
    ]

    assert [300_00, 300_00, 300_00] == [int(amount) for amount in opens]
    for zone in zones:
        assert_fast_path_equals_folds(events, date(2025, 2, 15), known_at=before.astimezone(zone))


def test_thresholds_beyond_int64_mean_never_as_in_the_folds() -> None:
    never = attrs.evolve(
        DEFAULT_ESCALATION_POLICY,
        version=2,
        large_above_major=10**19,
        levels=(
            EscalationLevel(level=0, name="none"),
            EscalationLevel(
                level=1,
                name="amount",
                triggers=(Trigger(rule=TriggerRule.OVERDUE_AMOUNT, threshold=10**17),),
            ),
        ),
    )
    ledger = ledger_with_invoice()
    ledger.adopt_policy(policy=never, effective_on=date(2025, 1, 1), approver="CFO", reason="r")
    events = list(ledger.iter_events())

    customer = result(events, date(2025, 3, 1)).customers

    assert 0 == customer.level[0]
    # Never large: a small grade, whatever the age.
    assert customer.grade[0] in {GRADES.index(Grade.FINANCE_FOLLOW_UP), GRADES.index(Grade.SETTLE)}
    assert_fast_path_equals_folds(events, date(2025, 3, 1))


def test_the_fast_path_refuses_an_as_of_date_outside_the_range_as_the_folds_do() -> None:
    ledger = ledger_with_invoice()
    events = list(ledger.iter_events())
    cols = columns(to_columnar(events), SELECT)
    for outside in (date(1, 1, 1), date(2200, 1, 1), date(9999, 12, 31)):
        with pytest.raises(InvalidDateError) as expected:
            ageing.ageing_report(fold_all(events).ageing, outside)
        with pytest.raises(InvalidDateError) as actual:
            fast_portfolio(cols, outside, decode_policy=decode_policy)
        assert expected.value.details == actual.value.details
