"""Invoice aggregate: given events, when a command, then events or an error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    AccountCurrencyError,
    ArledgerError,
    CurrencyMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvalidInstalmentScheduleError,
    InvoiceStateError,
    OverAllocationError,
    TooManyItemsError,
    UnknownCurrencyError,
)
from arledger.domain.events import (
    ConcessionApproved,
    CreditNoteApplied,
    CreditNoteRegistered,
    CustomerAccountOpened,
    Event,
    Instalment,
    InvoiceAddedToAccount,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentTermsKind,
    PaymentUnapplied,
)
from arledger.domain.invoice import (
    INSTALMENTS_MAX,
    Invoice,
    apply_credit_note,
    approve_concession,
    issue_invoice,
    open_by_instalment,
    payment_applied,
    payment_unapplied,
    reinstate,
    write_off,
)
from tests.given import given_invoice as given
from tests.given import then
from tests.strategies import amounts_minor, instalment_schedules

AT = datetime(2026, 1, 1, tzinfo=UTC)
ISSUED_ON = date(2024, 1, 10)
DUE_ON = date(2024, 2, 9)
NUMBER = "INV-1"
INVOICE_ID = ids.invoice_id(NUMBER)
CUSTOMER_ID = ids.customer_id("C1")
PAYMENT_ID = ids.payment_id("BR-1")
OTHER_PAYMENT_ID = ids.payment_id("BR-2")


# Given, when, then --------------------------------------------------------------------------


def account(
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET, terms_days: int = 30
) -> CustomerAccount:
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
                terms_kind=terms_kind,
                terms_days=terms_days,
                opened_on=date(2024, 1, 1),
            )
        ]
    )
    assert state is not None
    return state


def issued(
    amount_minor: int = 1000,
    *,
    issued_on: date = ISSUED_ON,
    due_on: date = DUE_ON,
    instalments: tuple[Instalment, ...] = (),
) -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=INVOICE_ID,
        originator_version=1,
        timestamp=AT,
        invoice_number=NUMBER,
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        issued_on=issued_on,
        due_on=due_on,
        instalments=instalments,
    )


def _envelope(version: int = 0) -> dict[str, Any]:
    return {"originator_id": INVOICE_ID, "originator_version": version, "timestamp": AT}


def applied(amount_minor: int, on: date, payment_id: Any = PAYMENT_ID) -> PaymentApplied:
    return PaymentApplied(
        **_envelope(),
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=on,
    )


def unapplied(amount_minor: int, on: date, payment_id: Any = PAYMENT_ID) -> PaymentUnapplied:
    return PaymentUnapplied(
        **_envelope(),
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency="USD",
        unapplied_on=on,
        reason="bounced",
    )


def credited(
    amount_minor: int, on: date, note: str = "CN-1", version: int = 0
) -> CreditNoteApplied:
    return CreditNoteApplied(
        **_envelope(version),
        credit_note_number=note,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=on,
        reason="damaged goods",
        approver="cfo",
    )


def conceded(amount_minor: int, on: date, version: int = 0) -> ConcessionApproved:
    return ConcessionApproved(
        **_envelope(version),
        amount_minor=amount_minor,
        currency="USD",
        approved_on=on,
        reason="settlement",
        approver="cfo",
    )


def written_off(amount_minor: int, on: date, version: int = 0) -> InvoiceWrittenOff:
    return InvoiceWrittenOff(
        **_envelope(version),
        amount_minor=amount_minor,
        currency="USD",
        written_off_on=on,
        reason="insolvent",
        approver="cfo",
    )


def reinstated(amount_minor: int, on: date, version: int = 0) -> InvoiceReinstated:
    return InvoiceReinstated(
        **_envelope(version),
        amount_minor=amount_minor,
        currency="USD",
        reinstated_on=on,
        reason="paid after all",
        approver="cfo",
    )


def issue(
    existing: Invoice | None = None, customer: CustomerAccount | None = None, **fields: Any
) -> list[Event]:
    command: dict[str, Any] = {
        "invoice_number": NUMBER,
        "customer_code": "C1",
        "amount_minor": 1000,
        "currency": "USD",
        "issued_on": ISSUED_ON,
        "due_on": DUE_ON,
        "recorded_at": AT,
    }
    command.update(fields)
    return issue_invoice(existing, customer or account(), **command)


def credit(invoice: Invoice, amount_minor: int, on: date, note: str = "CN-1") -> list[Event]:
    """The invoice's side of a credit note whose number is new to the ledger (its registration,
    tested in test_credit_notes.py, is left out)."""
    events = apply_credit_note(
        invoice,
        account(),
        None,
        credit_note_number=note,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=on,
        reason="damaged goods",
        recorded_at=AT,
        approver="cfo",
    )
    return [event for event in events if not isinstance(event, CreditNoteRegistered)]


def concede(invoice: Invoice, amount_minor: int, on: date) -> list[Event]:
    return approve_concession(
        invoice,
        amount_minor=amount_minor,
        approved_on=on,
        reason="settlement",
        approver="cfo",
        recorded_at=AT,
    )


def write(invoice: Invoice, on: date) -> list[Event]:
    return write_off(invoice, written_off_on=on, reason="insolvent", approver="cfo", recorded_at=AT)


def restore(invoice: Invoice, on: date) -> list[Event]:
    return reinstate(
        invoice, reinstated_on=on, reason="paid after all", approver="cfo", recorded_at=AT
    )


# Issuing --------------------------------------------------------------------------------------


def test_issuing_records_the_invoice_and_indexes_it_on_the_account() -> None:
    then(
        [
            issued(),
            InvoiceAddedToAccount(
                originator_id=CUSTOMER_ID,
                originator_version=2,
                timestamp=AT,
                invoice_id=INVOICE_ID,
                invoice_number=NUMBER,
            ),
        ],
        issue(),
    )


def test_a_new_invoice_is_open_for_its_whole_amount() -> None:
    invoice = given(issued(1000))
    assert 1000 == invoice.open_minor
    assert (Instalment(due_on=DUE_ON, amount_minor=1000),) == invoice.schedule


@pytest.mark.parametrize(
    ("terms_kind", "terms_days", "due_on"),
    [
        (PaymentTermsKind.NET, 30, ISSUED_ON + timedelta(days=30)),
        (PaymentTermsKind.INSTALMENTS, 60, ISSUED_ON + timedelta(days=60)),
        (PaymentTermsKind.PREPAYMENT, 0, ISSUED_ON),
        (PaymentTermsKind.CASH_ON_DELIVERY, 0, ISSUED_ON),
    ],
)
def test_without_a_due_date_the_account_terms_give_it(
    terms_kind: PaymentTermsKind, terms_days: int, due_on: date
) -> None:
    events = issue(customer=account(terms_kind, terms_days), due_on=None)
    assert due_on == events[0].due_on  # type: ignore[attr-defined]


def test_a_due_date_on_the_issue_date_is_accepted() -> None:
    assert ISSUED_ON == issue(due_on=ISSUED_ON)[0].due_on  # type: ignore[attr-defined]


def test_a_due_date_before_the_issue_date_is_refused() -> None:
    with pytest.raises(InvalidDateError) as raised:
        issue(due_on=ISSUED_ON - timedelta(days=1))
    assert NUMBER == raised.value.invoice_number
    assert ISSUED_ON == raised.value.issued_on
    assert ISSUED_ON - timedelta(days=1) == raised.value.due_on


def test_a_due_date_over_ten_years_after_issue_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        issue(due_on=ISSUED_ON + timedelta(days=invoice_module.DUE_DAYS_MAX + 1))


@pytest.mark.parametrize("amount_minor", [0, -1, -1000])
def test_an_invoice_amount_must_be_positive(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        issue(amount_minor=amount_minor)
    assert amount_minor == raised.value.amount_minor


def test_an_invoice_in_an_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrencyError):
        issue(currency="XXX")


def test_an_invoice_in_another_currency_than_the_accounts_is_refused() -> None:
    with pytest.raises(AccountCurrencyError) as raised:
        issue(currency="EUR")  # C1's account is in USD

    assert "C1" == raised.value.customer_code
    assert "USD" == raised.value.account_currency
    assert "EUR" == raised.value.currency
    assert NUMBER == raised.value.invoice_number
    assert isinstance(raised.value, CurrencyMismatchError)


def test_invoicing_an_account_that_is_not_open_is_refused() -> None:
    with pytest.raises(CustomerNotFoundError) as raised:
        issue_invoice(
            None,
            None,
            invoice_number=NUMBER,
            customer_code="C9",
            amount_minor=1000,
            currency="USD",
            issued_on=ISSUED_ON,
            recorded_at=AT,
        )
    assert "C9" == raised.value.customer_code
    assert NUMBER == raised.value.invoice_number
    assert isinstance(raised.value, LookupError)


@pytest.mark.parametrize("invoice_number", ["", " INV-1", "INV-1 ", "X" * 65, "INV\x001"])
def test_an_invoice_number_must_be_a_clean_short_key(invoice_number: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        issue(invoice_number=invoice_number)
    assert "invoice_number" == raised.value.field


def test_a_naive_recording_instant_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        issue(recorded_at=datetime(2026, 1, 1))


def test_issuing_the_same_invoice_again_is_a_no_op() -> None:
    then([], issue(given(issued())))


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 999},
        {"currency": "EUR"},
        {"issued_on": ISSUED_ON - timedelta(days=1)},
        {"due_on": DUE_ON + timedelta(days=1)},
        {"contract_reference": "K-7"},
    ],
)
def test_issuing_the_same_number_with_different_content_is_a_conflict(
    change: dict[str, Any],
) -> None:
    with pytest.raises(DuplicateKeyConflictError) as raised:
        issue(given(issued()), **change)
    assert NUMBER == raised.value.invoice_number
    assert INVOICE_ID == raised.value.invoice_id


# Instalments ----------------------------------------------------------------------------------


SCHEDULE = (
    Instalment(due_on=date(2024, 2, 1), amount_minor=300),
    Instalment(due_on=date(2024, 3, 1), amount_minor=700),
)


def test_an_instalment_invoice_is_due_on_its_last_instalment() -> None:
    events = issue(due_on=None, instalments=SCHEDULE)
    then([issued(due_on=date(2024, 3, 1), instalments=SCHEDULE)], events[:1])


def test_an_instalment_schedule_must_sum_to_the_amount() -> None:
    with pytest.raises(InvalidInstalmentScheduleError) as raised:
        issue(amount_minor=1001, due_on=None, instalments=SCHEDULE)
    assert NUMBER == raised.value.invoice_number
    assert 1001 == raised.value.amount_minor


def test_instalment_due_dates_must_strictly_increase() -> None:
    schedule = (SCHEDULE[1], SCHEDULE[0])
    with pytest.raises(InvalidInstalmentScheduleError):
        issue(due_on=None, instalments=schedule)
    same_day = (SCHEDULE[0], attrs.evolve(SCHEDULE[1], due_on=SCHEDULE[0].due_on))
    with pytest.raises(InvalidInstalmentScheduleError):
        issue(due_on=None, instalments=same_day)


def test_an_instalment_due_before_the_issue_date_is_refused() -> None:
    early = (attrs.evolve(SCHEDULE[0], due_on=ISSUED_ON - timedelta(days=1)), SCHEDULE[1])
    with pytest.raises(InvalidDateError):
        issue(due_on=None, instalments=early)


def test_an_instalment_must_be_positive() -> None:
    schedule = (
        attrs.evolve(SCHEDULE[0], amount_minor=0),
        attrs.evolve(SCHEDULE[1], amount_minor=1000),
    )
    with pytest.raises(InvalidAmountError):
        issue(due_on=None, instalments=schedule)


def test_a_due_date_other_than_the_last_instalments_is_refused() -> None:
    with pytest.raises(InvalidInstalmentScheduleError):
        issue(due_on=date(2024, 2, 1), instalments=SCHEDULE)


def test_more_instalments_than_the_maximum_are_refused() -> None:
    count = INSTALMENTS_MAX + 1
    schedule = tuple(
        Instalment(due_on=ISSUED_ON + timedelta(days=n), amount_minor=1) for n in range(count)
    )
    with pytest.raises(TooManyItemsError):
        issue(amount_minor=count, due_on=None, instalments=schedule)


@hypothesis_given(data=st.data(), amount_minor=amounts_minor)
def test_any_schedule_summing_to_the_amount_is_issued_as_given(
    data: st.DataObject, amount_minor: int
) -> None:
    schedule = data.draw(instalment_schedules(amount_minor, ISSUED_ON))
    invoice = given(*issue(amount_minor=amount_minor, due_on=None, instalments=schedule)[:1])
    assert schedule == invoice.schedule
    assert schedule[-1].due_on == invoice.due_on
    assert amount_minor == sum(i.amount_minor for i in invoice.schedule)


def test_settlements_go_to_the_oldest_instalment_first() -> None:
    expected = [(date(2024, 2, 1), 0), (date(2024, 3, 1), 600)]
    assert expected == open_by_instalment(SCHEDULE, 400)


# Reductions -----------------------------------------------------------------------------------


def test_partial_payment_leaves_invoice_open() -> None:
    invoice = given(issued(1000), applied(400, date(2024, 1, 20)))
    assert 600 == invoice.open_minor
    assert 400 == invoice.applied_minor


def test_open_amount_is_the_amount_less_every_reduction() -> None:
    invoice = given(
        issued(1000),
        applied(100, date(2024, 1, 20)),
        applied(50, date(2024, 1, 21), OTHER_PAYMENT_ID),
        credited(200, date(2024, 1, 22)),
        conceded(150, date(2024, 1, 23)),
        written_off(500, date(2024, 1, 24)),
    )
    assert 0 == invoice.open_minor
    assert 1000 == (
        invoice.open_minor
        + invoice.applied_minor
        + invoice.credited_minor
        + invoice.conceded_minor
        + invoice.written_off_minor
    )


def test_a_credit_note_reduces_the_open_amount() -> None:
    invoice = given(issued(1000))
    events = credit(invoice, 300, date(2024, 1, 15))
    then([credited(300, date(2024, 1, 15), version=2)], events)
    assert 700 == given(issued(1000), *events).open_minor


def test_the_same_credit_note_again_is_a_no_op() -> None:
    invoice = given(issued(1000), credited(300, date(2024, 1, 15)))
    then([], credit(invoice, 300, date(2024, 1, 15)))


def test_a_credit_note_larger_than_the_open_amount_is_refused() -> None:
    invoice = given(issued(1000), applied(800, date(2024, 1, 20)))
    with pytest.raises(OverAllocationError) as raised:
        credit(invoice, 201, date(2024, 1, 25))
    assert NUMBER == raised.value.invoice_number
    assert 201 == raised.value.amount_minor
    assert 200 == raised.value.open_minor


def test_a_credit_note_for_exactly_the_open_amount_settles_the_invoice() -> None:
    invoice = given(issued(1000), applied(800, date(2024, 1, 20)))
    assert (
        0
        == given(
            issued(1000), applied(800, date(2024, 1, 20)), *credit(invoice, 200, date(2024, 1, 25))
        ).open_minor
    )


def test_an_approved_concession_reduces_the_open_amount() -> None:
    invoice = given(issued(1000))
    events = concede(invoice, 250, date(2024, 1, 15))
    then([conceded(250, date(2024, 1, 15), version=2)], events)
    assert 750 == given(issued(1000), *events).open_minor


@pytest.mark.parametrize("amount_minor", [0, -5])
def test_a_concession_must_be_positive(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError):
        concede(given(issued()), amount_minor, date(2024, 1, 15))


def test_a_concession_larger_than_the_open_amount_is_refused() -> None:
    with pytest.raises(OverAllocationError) as raised:
        concede(given(issued(1000)), 1001, date(2024, 1, 15))
    assert 1001 == raised.value.amount_minor
    assert 1000 == raised.value.open_minor


def test_a_concession_needs_a_reason_and_an_approver() -> None:
    invoice = given(issued())
    with pytest.raises(InvalidCommandError):
        approve_concession(
            invoice,
            amount_minor=1,
            approved_on=ISSUED_ON,
            reason=" ",
            approver="cfo",
            recorded_at=AT,
        )
    with pytest.raises(InvalidCommandError):
        approve_concession(
            invoice, amount_minor=1, approved_on=ISSUED_ON, reason="ok", approver="", recorded_at=AT
        )


def test_a_payment_allocation_larger_than_the_open_amount_is_refused() -> None:
    invoice = given(issued(1000), credited(900, date(2024, 1, 15)))
    with pytest.raises(OverAllocationError) as raised:
        payment_applied(
            invoice,
            payment_id=PAYMENT_ID,
            amount_minor=101,
            applied_on=date(2024, 1, 20),
            recorded_at=AT,
        )
    assert 100 == raised.value.open_minor


# Write-off and reinstatement --------------------------------------------------------------------


def test_a_write_off_takes_whatever_is_open() -> None:
    invoice = given(issued(1000), applied(400, date(2024, 1, 20)))
    events = write(invoice, date(2024, 6, 30))
    then([written_off(600, date(2024, 6, 30), version=3)], events)
    after = given(issued(1000), applied(400, date(2024, 1, 20)), *events)
    assert 0 == after.open_minor
    assert after.is_written_off
    assert date(2024, 6, 30) == after.written_off_on


def test_a_settled_invoice_has_nothing_to_write_off() -> None:
    with pytest.raises(InvoiceStateError) as raised:
        write(given(issued(1000), applied(1000, date(2024, 1, 20))), date(2024, 6, 30))
    assert NUMBER == raised.value.invoice_number


def test_an_invoice_cannot_be_written_off_twice() -> None:
    with pytest.raises(InvoiceStateError):
        write(given(issued(1000), written_off(1000, date(2024, 6, 30))), date(2024, 7, 1))


@pytest.mark.parametrize(
    "reduce",
    [
        lambda invoice: credit(invoice, 1, date(2024, 7, 1)),
        lambda invoice: concede(invoice, 1, date(2024, 7, 1)),
        lambda invoice: payment_applied(
            invoice,
            payment_id=PAYMENT_ID,
            amount_minor=1,
            applied_on=date(2024, 7, 1),
            recorded_at=AT,
        ),
    ],
)
def test_a_written_off_invoice_takes_no_reduction_until_reinstated(reduce: Any) -> None:
    with pytest.raises(InvoiceStateError):
        reduce(given(issued(1000), written_off(1000, date(2024, 6, 30))))


def test_reinstating_makes_the_written_off_amount_due_again() -> None:
    history = (issued(1000), applied(400, date(2024, 1, 20)), written_off(600, date(2024, 6, 30)))
    events = restore(given(*history), date(2024, 7, 15))
    then([reinstated(600, date(2024, 7, 15), version=4)], events)
    after = given(*history, *events)
    assert 600 == after.open_minor
    assert not after.is_written_off
    assert after.written_off_on is None
    assert date(2024, 7, 15) == after.reopened_on


def test_an_invoice_that_is_not_written_off_cannot_be_reinstated() -> None:
    with pytest.raises(InvoiceStateError) as raised:
        restore(given(issued(1000)), date(2024, 7, 15))
    assert NUMBER == raised.value.invoice_number


def test_a_reinstated_invoice_can_be_written_off_again() -> None:
    invoice = given(
        issued(1000), written_off(1000, date(2024, 6, 30)), reinstated(1000, date(2024, 7, 1))
    )
    then([written_off(1000, date(2024, 7, 2), version=4)], write(invoice, date(2024, 7, 2)))


# A bounce after a write-off (issue 9.8) ---------------------------------------------------------

# 1000 issued; 400 paid on 20 January; the 600 left written off on 30 June; the 400 payment
# bounces on 15 July: the write-off covered only the 600 open then, the 400 was never received.
WRITTEN_OFF_THEN_BOUNCED = (
    issued(1000),
    applied(400, date(2024, 1, 20)),
    written_off(600, date(2024, 6, 30)),
    unapplied(400, date(2024, 7, 15)),
)


def test_a_bounce_after_a_write_off_reopens_the_bounced_money_only() -> None:
    invoice = given(*WRITTEN_OFF_THEN_BOUNCED)

    assert 400 == invoice.open_minor
    assert 600 == invoice.written_off_minor
    assert invoice.is_written_off


@pytest.mark.parametrize(
    ("reduce", "kind"),
    [
        (lambda invoice: credit(invoice, 400, date(2024, 7, 20)), CreditNoteApplied),
        (lambda invoice: concede(invoice, 400, date(2024, 7, 20)), ConcessionApproved),
        (
            lambda invoice: [
                payment_applied(
                    invoice,
                    payment_id=OTHER_PAYMENT_ID,
                    amount_minor=400,
                    applied_on=date(2024, 7, 20),
                    recorded_at=AT,
                )
            ],
            PaymentApplied,
        ),
    ],
)
def test_money_reopened_on_a_written_off_invoice_can_be_settled(reduce: Any, kind: type) -> None:
    invoice = given(*WRITTEN_OFF_THEN_BOUNCED)

    events = reduce(invoice)

    assert [kind] == [type(event) for event in events]
    assert 400 == events[0].amount_minor
    assert 0 == given(*WRITTEN_OFF_THEN_BOUNCED, *events).open_minor


def test_money_reopened_on_a_written_off_invoice_can_be_written_off_again() -> None:
    invoice = given(*WRITTEN_OFF_THEN_BOUNCED)

    events = write(invoice, date(2024, 8, 31))

    then([written_off(400, date(2024, 8, 31), version=5)], events)
    after = given(*WRITTEN_OFF_THEN_BOUNCED, *events)
    assert 0 == after.open_minor
    assert 1000 == after.written_off_minor
    # A reinstatement then undoes both write-offs.
    then([reinstated(1000, date(2024, 9, 1), version=6)], restore(after, date(2024, 9, 1)))


def test_settling_more_than_the_reopened_money_is_refused() -> None:
    invoice = given(*WRITTEN_OFF_THEN_BOUNCED)

    with pytest.raises(InvoiceStateError) as raised:
        credit(invoice, 401, date(2024, 7, 20))

    assert NUMBER == raised.value.invoice_number
    assert 400 == raised.value.open_minor


def test_reopened_money_on_a_written_off_invoice_is_settled_no_earlier_than_the_bounce() -> None:
    with pytest.raises(InvalidDateError):
        credit(given(*WRITTEN_OFF_THEN_BOUNCED), 400, date(2024, 7, 14))


# Payment reversal, seen from the invoice --------------------------------------------------------


def test_a_reversed_payment_reopens_what_it_had_settled() -> None:
    invoice = given(
        issued(1000),
        applied(600, date(2024, 1, 20)),
        applied(400, date(2024, 1, 25), OTHER_PAYMENT_ID),
        unapplied(600, date(2024, 2, 1)),
    )
    assert 600 == invoice.open_minor
    assert {OTHER_PAYMENT_ID: 400} == invoice.applied_by_payment
    assert date(2024, 2, 1) == invoice.reopened_on


def test_unapplying_a_payment_releases_all_it_applied_to_the_invoice() -> None:
    invoice = given(issued(1000), applied(100, date(2024, 1, 20)), applied(50, date(2024, 1, 21)))
    event = payment_unapplied(
        invoice,
        payment_id=PAYMENT_ID,
        unapplied_on=date(2024, 2, 1),
        reason="bounced",
        recorded_at=AT,
    )
    assert attrs.evolve(unapplied(150, date(2024, 2, 1)), originator_version=4) == event


# Back-dating --------------------------------------------------------------------------------


def test_the_reduction_floor_is_the_issue_date_then_the_latest_reopening() -> None:
    assert ISSUED_ON == given(issued()).reduction_floor_on
    reopened = given(issued(), applied(500, date(2024, 3, 1)), unapplied(500, date(2024, 3, 5)))
    assert date(2024, 3, 5) == reopened.reduction_floor_on


def test_the_reopening_floor_is_the_last_movement() -> None:
    assert ISSUED_ON == given(issued()).reopening_floor_on
    moved = given(issued(), applied(100, date(2024, 3, 1)), credited(100, date(2024, 2, 1)))
    assert date(2024, 3, 1) == moved.reopening_floor_on


def test_a_reduction_dated_before_the_issue_date_is_refused() -> None:
    with pytest.raises(InvalidDateError) as raised:
        credit(given(issued()), 100, ISSUED_ON - timedelta(days=1))
    assert ISSUED_ON == raised.value.floor_on
    assert "applied_on" == raised.value.field


def test_a_reduction_dated_before_the_latest_reopening_is_refused() -> None:
    invoice = given(issued(), applied(500, date(2024, 3, 1)), unapplied(500, date(2024, 3, 5)))
    with pytest.raises(InvalidDateError) as raised:
        concede(invoice, 100, date(2024, 3, 4))
    assert date(2024, 3, 5) == raised.value.floor_on
    then([conceded(100, date(2024, 3, 5), version=4)], concede(invoice, 100, date(2024, 3, 5)))


def test_a_reduction_may_be_dated_before_an_earlier_reduction() -> None:
    invoice = given(issued(), applied(500, date(2024, 3, 1)))
    then([credited(100, date(2024, 2, 1), version=3)], credit(invoice, 100, date(2024, 2, 1)))


def test_a_write_off_dated_before_the_latest_reinstatement_is_refused() -> None:
    invoice = given(
        issued(), written_off(1000, date(2024, 6, 30)), reinstated(1000, date(2024, 7, 10))
    )
    with pytest.raises(InvalidDateError):
        write(invoice, date(2024, 7, 9))


def test_a_reinstatement_dated_before_the_last_movement_is_refused() -> None:
    invoice = given(issued(), applied(100, date(2024, 8, 1)), written_off(900, date(2024, 7, 1)))
    with pytest.raises(InvalidDateError) as raised:
        restore(invoice, date(2024, 7, 31))
    assert date(2024, 8, 1) == raised.value.floor_on
    then([reinstated(900, date(2024, 8, 1), version=4)], restore(invoice, date(2024, 8, 1)))


def test_a_payment_applied_before_the_reduction_floor_is_dated_at_the_floor() -> None:
    invoice = given(issued(), applied(500, date(2024, 3, 1)), unapplied(500, date(2024, 3, 5)))
    event = payment_applied(
        invoice,
        payment_id=OTHER_PAYMENT_ID,
        amount_minor=10,
        applied_on=date(2024, 3, 2),
        recorded_at=AT,
    )
    assert date(2024, 3, 5) == event.applied_on


def test_a_payment_unapplied_before_the_reopening_floor_is_dated_at_the_floor() -> None:
    invoice = given(issued(), applied(500, date(2024, 3, 1)), credited(100, date(2024, 3, 9)))
    event = payment_unapplied(
        invoice,
        payment_id=PAYMENT_ID,
        unapplied_on=date(2024, 3, 2),
        reason="bounced",
        recorded_at=AT,
    )
    assert date(2024, 3, 9) == event.unapplied_on


# Folding --------------------------------------------------------------------------------------


def test_folding_a_history_that_settles_more_than_the_amount_is_a_broken_invariant() -> None:
    with pytest.raises(AssertionError):
        given(issued(1000), applied(1001, date(2024, 1, 20)))


def test_folding_an_event_out_of_version_order_is_a_broken_invariant() -> None:
    with pytest.raises(AssertionError):
        invoice_module.fold([issued(), attrs.evolve(credited(1, ISSUED_ON), originator_version=3)])


def test_invoice_errors_are_arledger_errors_and_value_or_lookup_errors() -> None:
    for error in (
        OverAllocationError,
        InvoiceStateError,
        InvalidDateError,
        InvalidInstalmentScheduleError,
        DuplicateKeyConflictError,
        TooManyItemsError,
    ):
        assert issubclass(error, ArledgerError)
        assert issubclass(error, ValueError)
    assert issubclass(CustomerNotFoundError, LookupError)


reductions = st.lists(
    st.tuples(st.sampled_from(("credit", "concede", "apply")), st.integers(1, 10**12)),
    max_size=8,
)


@hypothesis_given(amount_minor=amounts_minor, steps=reductions)
def test_open_amount_never_goes_below_zero_whatever_is_tried(
    amount_minor: int, steps: list[tuple[str, int]]
) -> None:
    history: list[Event] = [issued(amount_minor)]
    for n, (kind, amount) in enumerate(steps):
        invoice = given(*history)
        on = ISSUED_ON + timedelta(days=n)
        try:
            if kind == "credit":
                events = credit(invoice, amount, on, note=f"CN-{n}")
            elif kind == "concede":
                events = concede(invoice, amount, on)
            else:
                events = [
                    payment_applied(
                        invoice,
                        payment_id=PAYMENT_ID,
                        amount_minor=amount,
                        applied_on=on,
                        recorded_at=AT,
                    )
                ]
        except OverAllocationError as error:
            assert amount > invoice.open_minor
            assert amount == error.amount_minor
            continue
        history.extend(events)
    invoice = given(*history)
    assert 0 <= invoice.open_minor
    assert amount_minor == (
        invoice.open_minor + invoice.applied_minor + invoice.credited_minor + invoice.conceded_minor
    )
