"""Disputes on an invoice: given events, when open or resolve, then events or an error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain.errors import (
    ApproverRequiredError,
    DisputedAmountError,
    DisputeNotFoundError,
    DisputeStateError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvoiceStateError,
)
from arledger.domain.events import (
    CreditNoteApplied,
    CreditNoteRegistered,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    Event,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentUnapplied,
)
from arledger.domain.invoice import Invoice, open_dispute, resolve_dispute
from tests.given import given_invoice as given
from tests.given import then

AT = datetime(2026, 1, 1, tzinfo=UTC)
NUMBER = "INV-1"
INVOICE_ID = ids.invoice_id(NUMBER)
CUSTOMER_ID = ids.customer_id("C1")
ISSUED_ON = date(2024, 1, 10)
OPENED_ON = date(2024, 2, 15)
RESOLVED_ON = date(2024, 3, 1)


# Given, when, then --------------------------------------------------------------------------


def envelope(version: int) -> dict[str, Any]:
    return {"originator_id": INVOICE_ID, "originator_version": version, "timestamp": AT}


def issued(amount_minor: int = 100_000) -> InvoiceIssued:
    return InvoiceIssued(
        **envelope(1),
        invoice_number=NUMBER,
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        issued_on=ISSUED_ON,
        due_on=date(2024, 2, 9),
    )


def paid(amount_minor: int) -> PaymentApplied:
    return PaymentApplied(
        **envelope(0),
        payment_id=ids.payment_id("BR-1"),
        amount_minor=amount_minor,
        currency="USD",
        applied_on=date(2024, 2, 1),
    )


def opened(
    amount_minor: int = 30_000,
    reference: str = "D-1",
    reason_code: DisputeReason = DisputeReason.QUALITY,
    version: int = 0,
) -> DisputeOpened:
    return DisputeOpened(
        **envelope(version),
        dispute_reference=reference,
        amount_minor=amount_minor,
        currency="USD",
        reason_code=reason_code,
        root_cause="scratched panels",
        opened_on=OPENED_ON,
    )


def open_(invoice: Invoice, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "dispute_reference": "D-1",
        "amount_minor": 30_000,
        "reason_code": DisputeReason.QUALITY,
        "root_cause": "scratched panels",
        "opened_on": OPENED_ON,
        "recorded_at": AT,
    }
    command.update(fields)
    return open_dispute(invoice, **command)


def resolve(invoice: Invoice, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "dispute_reference": "D-1",
        "outcome": DisputeOutcome.UPHELD,
        "resolved_on": RESOLVED_ON,
        "note": "inspection confirmed",
        "registered": None,
        "approver": "quality manager",
        "recorded_at": AT,
    }
    command.update(fields)
    return resolve_dispute(invoice, **command)


def resolved(outcome: DisputeOutcome, upheld_minor: int, version: int) -> DisputeResolved:
    return DisputeResolved(
        **envelope(version),
        dispute_reference="D-1",
        outcome=outcome,
        upheld_minor=upheld_minor,
        currency="USD",
        resolved_on=RESOLVED_ON,
        note="inspection confirmed",
    )


def credited(amount_minor: int, version: int, number: str = "D-1-CN") -> CreditNoteApplied:
    return CreditNoteApplied(
        **envelope(version),
        credit_note_number=number,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=RESOLVED_ON,
        reason="dispute D-1 upheld",
        approver="quality manager",
    )


def registered(amount_minor: int, number: str = "D-1-CN") -> CreditNoteRegistered:
    """The registration of the upheld dispute's credit-note number, saved with it."""
    return CreditNoteRegistered(
        originator_id=ids.credit_note_id(number),
        originator_version=1,
        timestamp=AT,
        credit_note_number=number,
        invoice_id=INVOICE_ID,
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=RESOLVED_ON,
        reason="dispute D-1 upheld",
    )


def after(invoice: Invoice, events: Sequence[Event]) -> Invoice:
    """The invoice after the events of a command (a credit note's registration is not its)."""
    own = [event for event in events if event.originator_id == invoice.id]
    state = invoice_module.fold(own, invoice)
    assert state is not None
    return state


# Opening ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason_code", list(DisputeReason))
def test_a_dispute_is_opened_with_each_reason_code(reason_code: DisputeReason) -> None:
    invoice = given(issued())

    events = open_(invoice, reason_code=reason_code)

    then([opened(reason_code=reason_code, version=2)], events)
    state = after(invoice, events)
    assert 30_000 == state.disputed_minor
    assert 100_000 == state.open_minor


def test_the_reason_codes_are_the_six_of_the_domain() -> None:
    expected = {"quality", "delivery", "pricing", "quantity", "documents", "other"}

    assert expected == {reason.value for reason in DisputeReason}


def test_the_whole_open_amount_may_be_disputed() -> None:
    events = open_(given(issued()), amount_minor=100_000)

    assert 1 == len(events)


def test_disputing_more_than_is_open_is_refused_with_the_amounts() -> None:
    invoice = given(issued(), paid(80_000))

    with pytest.raises(DisputedAmountError) as caught:
        open_(invoice, amount_minor=20_001)

    assert NUMBER == caught.value.invoice_number
    assert 20_001 == caught.value.amount_minor
    assert 20_000 == caught.value.open_minor
    assert 20_000 == caught.value.undisputed_minor


def test_a_second_dispute_may_take_what_is_still_undisputed() -> None:
    invoice = given(issued(), opened(60_000))

    events = open_(invoice, dispute_reference="D-2", amount_minor=40_000)

    then([opened(40_000, "D-2", version=3)], events)
    assert 100_000 == after(invoice, events).disputed_minor


def test_a_second_dispute_over_what_is_still_undisputed_is_refused() -> None:
    invoice = given(issued(), opened(60_000))

    with pytest.raises(DisputedAmountError) as caught:
        open_(invoice, dispute_reference="D-2", amount_minor=40_001)

    assert 40_001 == caught.value.amount_minor
    assert 100_000 == caught.value.open_minor
    assert 40_000 == caught.value.undisputed_minor


@pytest.mark.parametrize("amount_minor", [0, -1])
def test_a_dispute_of_nothing_is_refused(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError):
        open_(given(issued()), amount_minor=amount_minor)


def test_a_dispute_with_an_unknown_reason_code_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        open_(given(issued()), reason_code="colour")


def test_a_dispute_without_a_root_cause_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        open_(given(issued()), root_cause="")


def test_a_dispute_dated_before_the_invoice_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        open_(given(issued()), opened_on=date(2024, 1, 9))


def test_a_written_off_invoice_cannot_be_disputed() -> None:
    written_off = InvoiceWrittenOff(
        **envelope(0),
        amount_minor=100_000,
        currency="USD",
        written_off_on=date(2024, 2, 1),
        reason="insolvent",
        approver="cfo",
    )

    with pytest.raises(InvoiceStateError):
        open_(given(issued(), written_off))


def test_money_a_bounce_reopened_on_a_written_off_invoice_can_be_disputed() -> None:
    # 40,000 paid, the 60,000 left written off, then the payment bounced: 40,000 open again.
    invoice = given(
        issued(),
        paid(40_000),
        InvoiceWrittenOff(
            **envelope(0),
            amount_minor=60_000,
            currency="USD",
            written_off_on=date(2024, 2, 5),
            reason="insolvent",
            approver="cfo",
        ),
        PaymentUnapplied(
            **envelope(0),
            payment_id=ids.payment_id("BR-1"),
            amount_minor=40_000,
            currency="USD",
            unapplied_on=date(2024, 2, 10),
            reason="bounced",
        ),
    )

    events = open_(invoice, amount_minor=40_000)

    assert [40_000] == [event.amount_minor for event in events]  # type: ignore[attr-defined]
    with pytest.raises(DisputedAmountError):
        open_(invoice, dispute_reference="D-2", amount_minor=40_001)


def test_the_same_dispute_submitted_again_is_a_no_op() -> None:
    then([], open_(given(issued(), opened())))


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 20_000},
        {"reason_code": DisputeReason.PRICING},
        {"root_cause": "other cause"},
        {"opened_on": date(2024, 2, 16)},
    ],
)
def test_the_same_dispute_reference_with_other_content_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(DuplicateKeyConflictError) as caught:
        open_(given(issued(), opened()), **change)

    assert "D-1" == caught.value.dispute_reference


# Resolving ----------------------------------------------------------------------------------


def test_an_upheld_dispute_credits_the_whole_disputed_amount_in_the_same_list() -> None:
    invoice = given(issued(), opened())

    events = resolve(invoice)

    then(
        [resolved(DisputeOutcome.UPHELD, 30_000, 3), credited(30_000, 4), registered(30_000)],
        events,
    )
    state = after(invoice, events)
    assert 70_000 == state.open_minor
    assert 0 == state.disputed_minor


def test_a_dispute_may_be_upheld_in_part() -> None:
    invoice = given(issued(), opened())

    events = resolve(invoice, upheld_minor=10_000, credit_note_number="CN-77")

    then(
        [
            resolved(DisputeOutcome.UPHELD, 10_000, 3),
            credited(10_000, 4, "CN-77"),
            registered(10_000, "CN-77"),
        ],
        events,
    )
    assert 90_000 == after(invoice, events).open_minor


def test_upholding_more_than_was_disputed_is_refused() -> None:
    with pytest.raises(DisputedAmountError) as caught:
        resolve(given(issued(), opened()), upheld_minor=30_001)

    assert 30_001 == caught.value.amount_minor
    assert 30_000 == caught.value.disputed_minor


def test_an_upheld_dispute_without_an_approver_is_refused() -> None:
    invoice = given(issued(), opened())

    with pytest.raises(ApproverRequiredError):
        resolve(invoice, approver=None)


def test_a_rejected_dispute_needs_no_approver() -> None:
    invoice = given(issued(), opened())

    events = resolve(invoice, outcome=DisputeOutcome.REJECTED, approver=None)

    then([resolved(DisputeOutcome.REJECTED, 0, 3)], events)


def test_upholding_nothing_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        resolve(given(issued(), opened()), upheld_minor=0)


def test_a_rejected_dispute_credits_nothing_and_the_amount_returns_to_collection() -> None:
    invoice = given(issued(), opened())

    events = resolve(invoice, outcome=DisputeOutcome.REJECTED)

    then([resolved(DisputeOutcome.REJECTED, 0, 3)], events)
    state = after(invoice, events)
    assert 100_000 == state.open_minor
    assert 0 == state.disputed_minor


def test_a_rejected_dispute_that_upholds_an_amount_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        resolve(given(issued(), opened()), outcome=DisputeOutcome.REJECTED, upheld_minor=1)


def test_resolving_a_dispute_twice_is_refused() -> None:
    invoice = given(issued(), opened(), resolved(DisputeOutcome.REJECTED, 0, 0))

    with pytest.raises(DisputeStateError) as caught:
        resolve(invoice)

    assert "D-1" == caught.value.dispute_reference


def test_resolving_an_unknown_dispute_raises_a_lookup_error() -> None:
    with pytest.raises(DisputeNotFoundError) as caught:
        resolve(given(issued(), opened()), dispute_reference="D-404")

    assert isinstance(caught.value, LookupError)
    assert NUMBER == caught.value.invoice_number


def test_a_dispute_resolved_before_it_was_opened_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        resolve(given(issued(), opened()), resolved_on=date(2024, 2, 14))


def test_a_resolved_reference_cannot_be_opened_again_with_other_content() -> None:
    invoice = given(issued(), opened(), resolved(DisputeOutcome.REJECTED, 0, 0))

    with pytest.raises(DuplicateKeyConflictError):
        open_(invoice, amount_minor=10_000)


def test_an_upheld_dispute_credits_at_most_what_is_still_open() -> None:
    invoice = given(issued(), opened(30_000), paid(80_000))

    events = resolve(invoice)

    then(
        [resolved(DisputeOutcome.UPHELD, 20_000, 4), credited(20_000, 5), registered(20_000)],
        events,
    )
    assert 0 == after(invoice, events).open_minor
