"""The statement's movement kinds cover every event that changes a customer's balance."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from arledger.domain.errors import CustomerNotFoundError, InvalidDateError
from arledger.domain.events import (
    ALL_EVENTS,
    INVOICE_EVENTS,
    CreditNoteApplied,
    CustomerAccountOpened,
    InvoiceAddedToAccount,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentTermsKind,
)
from arledger.projections import statement
from arledger.projections.statement import BALANCE_EVENTS, OTHER_EVENTS, MovementKind

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_every_event_of_the_ledger_is_either_a_movement_or_named_as_moving_nothing() -> None:
    assert len(ALL_EVENTS) == len(BALANCE_EVENTS) + len(OTHER_EVENTS)
    assert set(ALL_EVENTS) == set(BALANCE_EVENTS) | set(OTHER_EVENTS)
    assert set() == set(BALANCE_EVENTS) & set(OTHER_EVENTS)


def test_the_movements_are_the_invoice_events_as_the_ageing_folds_them() -> None:
    # A due-date override is an invoice event that moves no money.
    assert set(INVOICE_EVENTS) - {InvoiceDueDateOverridden} == set(BALANCE_EVENTS)


def _one_invoice() -> statement.StatementState:
    customer_id, invoice_id = uuid4(), uuid4()
    return statement.fold_all(
        [
            CustomerAccountOpened(
                originator_id=customer_id,
                originator_version=1,
                timestamp=AT,
                customer_code="ACME",
                name="Acme Ltd",
                currency="EUR",
                collection_owner="li",
                terms_kind=PaymentTermsKind.NET,
                terms_days=30,
                opened_on=date(2024, 1, 1),
            ),
            InvoiceIssued(
                originator_id=invoice_id,
                originator_version=1,
                timestamp=AT,
                invoice_number="INV-1",
                customer_id=customer_id,
                amount_minor=12345,
                currency="EUR",
                issued_on=date(2024, 1, 31),
                due_on=date(2024, 3, 1),
            ),
            InvoiceAddedToAccount(
                originator_id=customer_id,
                originator_version=2,
                timestamp=AT,
                invoice_id=invoice_id,
                invoice_number="INV-1",
            ),
        ]
    )


def test_an_invoice_issued_on_the_first_day_is_a_line_and_not_in_the_opening_balance() -> None:
    state = _one_invoice()
    (customer_id,) = state.portfolio.customers
    january = statement.statement_of_account(
        state, customer_id, date(2024, 1, 31), date(2024, 1, 31)
    )
    assert (0, 12345) == (january.opening_balance_minor, january.closing_balance_minor)
    assert [(MovementKind.INVOICE, "INV-1", 12345)] == [
        (line.kind, line.reference, line.amount_minor) for line in january.lines
    ]
    # Not yet due on 2024-03-01 (the due date itself is current), overdue the day after.
    assert (
        12345
        == statement.statement_of_account(
            state, customer_id, date(2024, 2, 1), date(2024, 3, 1)
        ).ageing.buckets_minor[0]
    )
    later = statement.statement_of_account(state, customer_id, date(2024, 2, 1), date(2024, 3, 2))
    assert (12345, (), 12345) == (
        later.opening_balance_minor,
        later.lines,
        later.closing_balance_minor,
    )
    assert 12345 == later.ageing.overdue_minor


def test_a_customer_the_state_does_not_hold_is_refused() -> None:
    state = _one_invoice()
    with pytest.raises(CustomerNotFoundError):
        statement.statement_of_account(state, uuid4(), date(2024, 1, 1), date(2024, 1, 31))


def test_a_period_ending_before_it_starts_is_refused() -> None:
    state = _one_invoice()
    (customer_id,) = state.portfolio.customers
    with pytest.raises(InvalidDateError, match="after it ends"):
        statement.statement_of_account(state, customer_id, date(2024, 2, 1), date(2024, 1, 31))


def test_movements_of_one_day_keep_the_order_they_were_recorded_in() -> None:
    state = _one_invoice()
    (customer_id,) = state.portfolio.customers
    (invoice_id,) = state.portfolio.ageing.invoices
    later_invoice_id = uuid4()
    on = date(2024, 2, 10)
    for event in (
        # A credit note, then an invoice of the same day, then a write-off dated the day before.
        CreditNoteApplied(
            originator_id=invoice_id,
            originator_version=2,
            timestamp=AT,
            credit_note_number="CN-9",
            amount_minor=45,
            currency="EUR",
            applied_on=on,
            reason="short delivery",
        ),
        InvoiceIssued(
            originator_id=later_invoice_id,
            originator_version=1,
            timestamp=AT,
            invoice_number="INV-0",
            customer_id=customer_id,
            amount_minor=100,
            currency="EUR",
            issued_on=on,
            due_on=on,
        ),
        InvoiceAddedToAccount(
            originator_id=customer_id,
            originator_version=3,
            timestamp=AT,
            invoice_id=later_invoice_id,
            invoice_number="INV-0",
        ),
        InvoiceWrittenOff(
            originator_id=invoice_id,
            originator_version=3,
            timestamp=AT,
            amount_minor=12300,
            currency="EUR",
            written_off_on=date(2024, 2, 9),
            reason="insolvent",
            approver="cfo",
        ),
    ):
        statement.fold(state, event)
    result = statement.statement_of_account(state, customer_id, date(2024, 2, 1), on)
    assert [("INV-1", -12300, 45), ("CN-9", -45, 0), ("INV-0", 100, 100)] == [
        (line.reference, line.amount_minor, line.balance_minor) for line in result.lines
    ]
    assert 100 == result.closing_balance_minor
