"""Credit notes: a credit-note number is a business key across the whole ledger (issue 9.5).

Given the invoice's events and the credit note's registration (if its number was used), when a
credit note is applied or an upheld dispute brings one, then events or an error.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from arledger.domain import credit_note as credit_note_module
from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    AccountCurrencyError,
    CurrencyMismatchError,
    DuplicateKeyConflictError,
    OverAllocationError,
)
from arledger.domain.events import (
    CreditNoteApplied,
    CreditNoteRegistered,
    CustomerAccountOpened,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    Event,
    InvoiceIssued,
    PaymentTermsKind,
)
from arledger.domain.invoice import Invoice, apply_credit_note, resolve_dispute
from tests.given import given_invoice as given

AT = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMER_ID = ids.customer_id("C1")
ISSUED_ON = date(2024, 1, 10)
ON = date(2024, 1, 15)


def account() -> CustomerAccount:
    state = customer_module.fold(
        [
            CustomerAccountOpened(
                originator_id=CUSTOMER_ID,
                originator_version=1,
                timestamp=AT,
                customer_code="C1",
                name="Acme Trading",
                currency="USD",
                collection_owner="li",
                terms_kind=PaymentTermsKind.NET,
                terms_days=30,
                opened_on=date(2024, 1, 1),
            )
        ]
    )
    assert state is not None
    return state


def issued(number: str = "INV-1", amount_minor: int = 1000) -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=ids.invoice_id(number),
        originator_version=1,
        timestamp=AT,
        invoice_number=number,
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        issued_on=ISSUED_ON,
        due_on=date(2024, 2, 9),
    )


def applied(
    number: str = "INV-1", note: str = "CN-1", amount_minor: int = 1000, version: int = 2
) -> CreditNoteApplied:
    return CreditNoteApplied(
        originator_id=ids.invoice_id(number),
        originator_version=version,
        timestamp=AT,
        credit_note_number=note,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=ON,
        reason="damaged goods",
        approver="cfo",
    )


def registered(
    number: str = "INV-1", note: str = "CN-1", amount_minor: int = 1000, reason: str = ""
) -> CreditNoteRegistered:
    return CreditNoteRegistered(
        originator_id=ids.credit_note_id(note),
        originator_version=1,
        timestamp=AT,
        credit_note_number=note,
        invoice_id=ids.invoice_id(number),
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=ON,
        reason=reason or "damaged goods",
    )


def registration(event: CreditNoteRegistered) -> CreditNote:
    state = credit_note_module.fold([event])
    assert state is not None
    return state


def credit(invoice: Invoice, taken: CreditNote | None = None, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "credit_note_number": "CN-1",
        "amount_minor": 1000,
        "currency": "USD",
        "applied_on": ON,
        "reason": "damaged goods",
        "approver": "cfo",
        "recorded_at": AT,
    }
    command.update(fields)
    return apply_credit_note(invoice, account(), taken, **command)


# Applying a credit note -----------------------------------------------------------------------


def test_a_credit_note_reduces_its_invoice_and_takes_its_number_for_the_ledger() -> None:
    events = credit(given(issued()))

    assert [applied(), registered()] == events
    assert ids.credit_note_id("CN-1") == events[1].originator_id
    taken = registration(registered())
    assert (ids.invoice_id("INV-1"), 1000) == (taken.invoice_id, taken.amount_minor)


def test_the_same_credit_note_sent_again_is_a_no_op() -> None:
    invoice = given(issued(), applied())

    assert [] == credit(invoice, registration(registered()))


def test_a_credit_note_number_used_on_another_invoice_is_refused() -> None:
    # CN-1 credited INV-1 in full; applying it to INV-2 as well would credit twice.
    with pytest.raises(DuplicateKeyConflictError) as refused:
        credit(given(issued("INV-2")), registration(registered("INV-1")))

    assert "CN-1" == refused.value.credit_note_number
    assert "INV-2" == refused.value.invoice_number


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 600},
        {"applied_on": date(2024, 1, 16)},
        {"reason": "late delivery"},
    ],
)
def test_the_same_credit_note_number_with_other_content_is_refused(change: dict[str, Any]) -> None:
    invoice = given(issued(), applied(amount_minor=400))
    taken = registration(registered(amount_minor=400))

    with pytest.raises(DuplicateKeyConflictError) as refused:
        credit(invoice, taken, **{"amount_minor": 400, **change})

    assert "CN-1" == refused.value.credit_note_number


def test_a_number_applied_to_the_invoice_before_numbers_were_registered_is_still_known() -> None:
    # A log recorded before the registry: CN-1 on the invoice, no registration.
    invoice = given(issued(), applied(amount_minor=400))

    assert [] == credit(invoice, amount_minor=400)
    with pytest.raises(DuplicateKeyConflictError):
        credit(invoice, amount_minor=500)


def test_a_credit_note_in_another_currency_than_the_accounts_is_refused() -> None:
    with pytest.raises(AccountCurrencyError) as refused:
        credit(given(issued()), currency="EUR")

    assert ("C1", "USD", "EUR") == (
        refused.value.customer_code,
        refused.value.account_currency,
        refused.value.currency,
    )
    assert isinstance(refused.value, CurrencyMismatchError)


def test_a_credit_note_larger_than_what_is_open_takes_no_number() -> None:
    with pytest.raises(OverAllocationError):
        credit(given(issued()), amount_minor=1001)


# An upheld dispute brings its own credit note --------------------------------------------------


def disputed() -> Invoice:
    return given(
        issued(),
        DisputeOpened(
            originator_id=ids.invoice_id("INV-1"),
            originator_version=0,
            timestamp=AT,
            dispute_reference="D-1",
            amount_minor=300,
            currency="USD",
            reason_code=DisputeReason.QUALITY,
            root_cause="scratched panels",
            opened_on=ON,
        ),
    )


def uphold(invoice: Invoice, taken: CreditNote | None, **fields: Any) -> list[Event]:
    return resolve_dispute(
        invoice,
        dispute_reference="D-1",
        outcome=DisputeOutcome.UPHELD,
        resolved_on=date(2024, 2, 1),
        note="inspection confirmed",
        registered=taken,
        approver="cfo",
        recorded_at=AT,
        **fields,
    )


def test_an_upheld_dispute_registers_the_number_of_its_credit_note() -> None:
    events = uphold(disputed(), None)

    assert [DisputeResolved, CreditNoteApplied, CreditNoteRegistered] == [type(e) for e in events]
    note = events[2]
    assert isinstance(note, CreditNoteRegistered)
    assert ("D-1-CN", 300, ids.invoice_id("INV-1")) == (
        note.credit_note_number,
        note.amount_minor,
        note.invoice_id,
    )


def test_an_upheld_dispute_whose_credit_note_number_is_taken_is_refused() -> None:
    # Another invoice's dispute D-1 was upheld first and took "D-1-CN".
    taken = registration(registered("INV-9", "D-1-CN", 300, "dispute D-1 upheld"))

    with pytest.raises(DuplicateKeyConflictError) as refused:
        uphold(disputed(), taken)
    assert "D-1-CN" == refused.value.credit_note_number

    events = uphold(disputed(), None, credit_note_number="CN-D-1-INV-1")
    assert "CN-D-1-INV-1" == events[2].credit_note_number  # type: ignore[attr-defined]
