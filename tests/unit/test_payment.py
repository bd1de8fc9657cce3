"""Payment aggregate: given events, when a command, then events or an error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    AccountCurrencyError,
    AllocationKeyConflictError,
    ArledgerError,
    CurrencyMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvoiceStateError,
    OverAllocationError,
    PaymentNotFoundError,
    PaymentStateError,
    TooManyItemsError,
)
from arledger.domain.events import (
    AllocationReleased,
    CustomerAccountOpened,
    Event,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentAllocated,
    PaymentApplied,
    PaymentReceived,
    PaymentReversed,
    PaymentTermsKind,
    PaymentUnapplied,
)
from arledger.domain.invoice import Invoice
from arledger.domain.payment import (
    ALLOCATION_TARGETS_MAX,
    Payment,
    allocate_payment,
    plan_oldest_due_first,
    receive_payment,
    replayed_allocation,
    reverse_payment,
)
from tests.given import given_invoice, then
from tests.given import given_payment as given

AT = datetime(2026, 1, 1, tzinfo=UTC)
VALUE_ON = date(2024, 3, 1)
REFERENCE = "BR-1"
PAYMENT_ID = ids.payment_id(REFERENCE)
CUSTOMER_ID = ids.customer_id("C1")
OTHER_CUSTOMER_ID = ids.customer_id("C2")


# Given, when, then --------------------------------------------------------------------------


def account(code: str = "C1") -> CustomerAccount:
    state = customer_module.fold(
        [
            CustomerAccountOpened(
                originator_id=ids.customer_id(code),
                originator_version=1,
                timestamp=AT,
                customer_code=code,
                name=f"Customer {code}",
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


def received(amount_minor: int = 1000, *, currency: str = "USD") -> PaymentReceived:
    return PaymentReceived(
        originator_id=PAYMENT_ID,
        originator_version=1,
        timestamp=AT,
        bank_reference=REFERENCE,
        payer_customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency=currency,
        value_on=VALUE_ON,
    )


def allocated(
    invoice_id: UUID, amount_minor: int, version: int = 0, on: date = VALUE_ON
) -> PaymentAllocated:
    return PaymentAllocated(
        originator_id=PAYMENT_ID,
        originator_version=version,
        timestamp=AT,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        currency="USD",
        allocated_on=on,
    )


def invoice(
    number: str,
    amount_minor: int = 1000,
    *,
    due_on: date = date(2024, 2, 1),
    issued_on: date = date(2024, 1, 2),
    currency: str = "USD",
    customer_id: UUID = CUSTOMER_ID,
) -> Invoice:
    return given_invoice(
        issued(
            number,
            amount_minor,
            due_on=due_on,
            issued_on=issued_on,
            currency=currency,
            customer_id=customer_id,
        )
    )


def issued(
    number: str,
    amount_minor: int = 1000,
    *,
    due_on: date = date(2024, 2, 1),
    issued_on: date = date(2024, 1, 2),
    currency: str = "USD",
    customer_id: UUID = CUSTOMER_ID,
) -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=ids.invoice_id(number),
        originator_version=1,
        timestamp=AT,
        invoice_number=number,
        customer_id=customer_id,
        amount_minor=amount_minor,
        currency=currency,
        issued_on=issued_on,
        due_on=due_on,
    )


def applied(number: str, amount_minor: int, version: int, on: date = VALUE_ON) -> PaymentApplied:
    return PaymentApplied(
        originator_id=ids.invoice_id(number),
        originator_version=version,
        timestamp=AT,
        payment_id=PAYMENT_ID,
        amount_minor=amount_minor,
        currency="USD",
        applied_on=on,
    )


def receive(
    existing: Payment | None = None, payer: CustomerAccount | None = None, **fields: Any
) -> list[Event]:
    command: dict[str, Any] = {
        "bank_reference": REFERENCE,
        "payer_code": "C1",
        "amount_minor": 1000,
        "currency": "USD",
        "value_on": VALUE_ON,
        "recorded_at": AT,
    }
    command.update(fields)
    return receive_payment(existing, payer or account(), **command)


def allocate(payment: Payment, *targets: tuple[Invoice, int], **fields: Any) -> list[Event]:
    return allocate_payment(payment, list(targets), recorded_at=AT, **fields)


def reverse(
    payment: Payment, invoices: Sequence[Invoice], on: date = date(2024, 3, 10)
) -> list[Event]:
    return reverse_payment(payment, invoices, reversed_on=on, reason="bounced", recorded_at=AT)


# Receiving ------------------------------------------------------------------------------------


def test_a_payment_in_another_currency_than_the_payers_account_is_refused() -> None:
    with pytest.raises(AccountCurrencyError) as raised:
        receive(currency="EUR")  # C1's account is in USD

    assert "C1" == raised.value.customer_code
    assert "USD" == raised.value.account_currency
    assert "EUR" == raised.value.currency
    assert REFERENCE == raised.value.bank_reference
    assert isinstance(raised.value, CurrencyMismatchError)


def test_receiving_records_the_payment_wholly_unapplied() -> None:
    events = receive()
    then([received(1000)], events)
    assert 1000 == given(*events).unapplied_minor


def test_receiving_the_same_bank_reference_again_is_a_no_op() -> None:
    then([], receive(given(received(1000))))


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 999},
        {"currency": "EUR"},
        {"value_on": VALUE_ON + timedelta(days=1)},
        {"payer_code": "C2"},
    ],
)
def test_a_bank_reference_reused_with_different_content_is_a_conflict(
    change: dict[str, Any],
) -> None:
    payer = account(change.get("payer_code", "C1"))
    with pytest.raises(DuplicateKeyConflictError) as raised:
        receive(given(received(1000)), payer, **change)
    assert REFERENCE == raised.value.bank_reference
    assert PAYMENT_ID == raised.value.payment_id


@pytest.mark.parametrize("amount_minor", [0, -1])
def test_a_payment_amount_must_be_positive(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        receive(amount_minor=amount_minor)
    assert amount_minor == raised.value.amount_minor


def test_a_payment_from_an_unknown_payer_is_refused() -> None:
    with pytest.raises(CustomerNotFoundError) as raised:
        receive_payment(
            None,
            None,
            bank_reference=REFERENCE,
            payer_code="C9",
            amount_minor=1,
            currency="USD",
            value_on=VALUE_ON,
            recorded_at=AT,
        )
    assert "C9" == raised.value.customer_code
    assert REFERENCE == raised.value.bank_reference


def test_a_value_date_must_be_a_date_not_an_instant() -> None:
    with pytest.raises(InvalidDateError):
        receive(value_on=datetime(2024, 3, 1, tzinfo=UTC))


# Explicit allocation ------------------------------------------------------------------------


def test_an_allocation_records_both_sides_and_keeps_the_rest_unapplied() -> None:
    inv = invoice("INV-1", 1000)
    events = allocate(given(received(600)), (inv, 600))
    then([applied("INV-1", 600, 2), allocated(inv.id, 600, 2)], events)
    payment = given(received(600), events[1])
    assert 0 == payment.unapplied_minor
    assert 400 == given_invoice(issued("INV-1"), events[0]).open_minor


def test_partial_allocation_leaves_the_remainder_on_account() -> None:
    inv = invoice("INV-1", 1000)
    events = allocate(given(received(1500)), (inv, 1000))
    assert 500 == given(received(1500), events[1]).unapplied_minor


def test_an_allocation_to_several_invoices_numbers_the_payment_versions_in_turn() -> None:
    first, second = invoice("INV-1"), invoice("INV-2")
    events = allocate(given(received(1500)), (first, 1000), (second, 300))
    then(
        [
            applied("INV-1", 1000, 2),
            allocated(first.id, 1000, 2),
            applied("INV-2", 300, 2),
            allocated(second.id, 300, 3),
        ],
        events,
    )


def test_an_allocation_above_the_unapplied_amount_is_refused() -> None:
    payment = given(received(1000), allocated(invoice("INV-1").id, 700))
    with pytest.raises(OverAllocationError) as raised:
        allocate(payment, (invoice("INV-2"), 200), (invoice("INV-3"), 101))
    assert REFERENCE == raised.value.bank_reference
    assert 301 == raised.value.amount_minor
    assert 300 == raised.value.unapplied_minor


def test_an_allocation_above_the_invoice_open_amount_is_refused() -> None:
    with pytest.raises(OverAllocationError) as raised:
        allocate(given(received(5000)), (invoice("INV-1", 1000), 1001))
    assert "INV-1" == raised.value.invoice_number
    assert 1001 == raised.value.amount_minor
    assert 1000 == raised.value.open_minor


def test_an_allocation_to_an_invoice_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError) as raised:
        allocate(given(received(1000)), (invoice("INV-1", currency="EUR"), 100))
    assert "INV-1" == raised.value.invoice_number
    assert "USD" == raised.value.currency
    assert "EUR" == raised.value.other_currency


def test_an_allocation_to_another_customers_invoice_is_refused() -> None:
    with pytest.raises(InvalidCommandError) as raised:
        allocate(given(received(1000)), (invoice("INV-1", customer_id=OTHER_CUSTOMER_ID), 100))
    assert "INV-1" == raised.value.invoice_number


def test_an_invoice_named_twice_in_one_allocation_is_refused() -> None:
    inv = invoice("INV-1")
    with pytest.raises(InvalidCommandError):
        allocate(given(received(1000)), (inv, 100), (inv, 100))


def test_an_allocation_needs_at_least_one_invoice() -> None:
    with pytest.raises(InvalidCommandError):
        allocate(given(received(1000)))


@pytest.mark.parametrize("amount_minor", [0, -100])
def test_an_allocated_amount_must_be_positive(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError):
        allocate(given(received(1000)), (invoice("INV-1"), amount_minor))


def test_more_allocation_targets_than_the_maximum_are_refused() -> None:
    inv = invoice("INV-1")
    with pytest.raises(TooManyItemsError):
        allocate(given(received(1000)), *[(inv, 1)] * (ALLOCATION_TARGETS_MAX + 1))


def test_an_allocation_dated_before_the_value_date_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        allocate(
            given(received()), (invoice("INV-1"), 1), allocated_on=VALUE_ON - timedelta(days=1)
        )


def test_the_invoice_side_of_an_allocation_is_not_dated_before_the_invoice() -> None:
    late = invoice("INV-1", issued_on=date(2024, 4, 1), due_on=date(2024, 5, 1))
    events = allocate(given(received()), (late, 100))
    assert date(2024, 4, 1) == events[0].applied_on  # type: ignore[attr-defined]
    assert VALUE_ON == events[1].allocated_on  # type: ignore[attr-defined]


def test_a_written_off_invoice_takes_no_allocation() -> None:
    written = given_invoice(
        issued("INV-1"),
        InvoiceWrittenOff(
            originator_id=ids.invoice_id("INV-1"),
            originator_version=0,
            timestamp=AT,
            amount_minor=1000,
            currency="USD",
            written_off_on=date(2024, 2, 1),
            reason="insolvent",
            approver="cfo",
        ),
    )
    with pytest.raises(InvoiceStateError):
        allocate(given(received()), (written, 100))


def test_a_reversed_payment_cannot_be_allocated() -> None:
    payment = given(
        received(),
        PaymentReversed(
            originator_id=PAYMENT_ID,
            originator_version=0,
            timestamp=AT,
            reversed_on=VALUE_ON,
            reason="bounced",
            released=(),
        ),
    )
    with pytest.raises(PaymentStateError) as raised:
        allocate(payment, (invoice("INV-1"), 100))
    assert REFERENCE == raised.value.bank_reference


@hypothesis_given(
    payment_minor=st.integers(1, 10**12),
    open_minor=st.integers(1, 10**12),
    amount_minor=st.integers(1, 10**12),
)
def test_an_allocation_never_exceeds_the_unapplied_or_the_open_amount(
    payment_minor: int, open_minor: int, amount_minor: int
) -> None:
    payment = given(received(payment_minor))
    inv = invoice("INV-1", open_minor)
    try:
        events = allocate(payment, (inv, amount_minor))
    except OverAllocationError:
        assert amount_minor > min(payment_minor, open_minor)
        return
    assert amount_minor <= min(payment_minor, open_minor)
    assert payment_minor - amount_minor == given(received(payment_minor), events[1]).unapplied_minor
    assert (
        open_minor - amount_minor
        == given_invoice(issued("INV-1", open_minor), events[0]).open_minor
    )


# Allocation keys (issue 9.3) ----------------------------------------------------------------


def keyed(event: PaymentAllocated, key: str = "K-1") -> PaymentAllocated:
    return attrs.evolve(event, allocation_key=key)


def test_an_allocation_with_a_key_records_it_on_each_of_its_allocations() -> None:
    first, second = invoice("INV-1"), invoice("INV-2")

    events = allocate(given(received(1500)), (first, 1000), (second, 300), allocation_key="K-1")

    assert [None, "K-1", None, "K-1"] == [getattr(e, "allocation_key", None) for e in events]
    then(
        [keyed(allocated(first.id, 1000, 2)), keyed(allocated(second.id, 300, 3))],
        events[1::2],
    )
    payment = given(received(1500), *events[1::2])
    assert {"K-1": (VALUE_ON, ((first.id, 1000), (second.id, 300)))} == payment.allocation_keys


def test_an_allocation_retried_with_its_key_is_a_no_op() -> None:
    first, second = invoice("INV-1"), invoice("INV-2")
    payment = given(
        received(1500), keyed(allocated(first.id, 1000)), keyed(allocated(second.id, 300))
    )

    # The same invoices and amounts, in any order; the date defaults to the value date.
    assert [] == allocate(payment, (second, 300), (first, 1000), allocation_key="K-1")
    assert [] == allocate(payment, (first, 1000), (second, 300), allocation_key="K-1",
                          allocated_on=VALUE_ON)  # fmt: skip


def test_without_a_key_the_same_allocation_again_is_applied_again() -> None:
    first = invoice("INV-1")
    payment = given(received(1500), allocated(first.id, 500))

    assert 2 == len(allocate(payment, (first, 500)))


@pytest.mark.parametrize(
    "other",
    [
        {"targets": (("INV-1", 999), ("INV-2", 300))},
        {"targets": (("INV-1", 1000),)},
        {"targets": (("INV-1", 1000), ("INV-3", 300))},
        {"allocated_on": date(2024, 3, 2)},
    ],
)
def test_a_key_reused_with_other_content_is_refused(other: dict[str, Any]) -> None:
    invoices = {number: invoice(number) for number in ("INV-1", "INV-2", "INV-3")}
    payment = given(
        received(5000),
        keyed(allocated(invoices["INV-1"].id, 1000)),
        keyed(allocated(invoices["INV-2"].id, 300)),
    )
    targets = [(invoices[n], a) for n, a in other.get("targets", (("INV-1", 1000), ("INV-2", 300)))]

    with pytest.raises(AllocationKeyConflictError) as refused:
        allocate(payment, *targets, allocation_key="K-1", **{
            k: v for k, v in other.items() if k != "targets"
        })  # fmt: skip

    assert "K-1" == refused.value.allocation_key
    assert REFERENCE == refused.value.bank_reference
    assert isinstance(refused.value, DuplicateKeyConflictError)


def test_a_key_is_a_clean_short_text() -> None:
    with pytest.raises(InvalidCommandError):
        allocate(given(received()), (invoice("INV-1"), 100), allocation_key=" K-1")


def test_an_automatic_allocation_retried_with_its_key_repeats_whatever_it_allocated() -> None:
    first = invoice("INV-1")
    payment = given(received(1500), keyed(allocated(first.id, 1000)))

    assert replayed_allocation(payment, allocation_key="K-1", targets=None, allocated_on=None)
    assert not replayed_allocation(payment, allocation_key="K-2", targets=None, allocated_on=None)
    with pytest.raises(AllocationKeyConflictError):
        replayed_allocation(
            payment, allocation_key="K-1", targets=None, allocated_on=date(2024, 3, 5)
        )


def test_a_keyed_allocation_retried_after_its_payment_bounced_is_still_a_no_op() -> None:
    first = invoice("INV-1")
    payment = given(
        received(1500),
        keyed(allocated(first.id, 1000)),
        PaymentReversed(
            originator_id=PAYMENT_ID,
            originator_version=0,
            timestamp=AT,
            reversed_on=VALUE_ON,
            reason="bounced",
            released=(AllocationReleased(invoice_id=first.id, amount_minor=1000),),
        ),
    )

    assert [] == allocate(payment, (first, 1000), allocation_key="K-1")


# Automatic allocation -----------------------------------------------------------------------


def test_automatic_allocation_settles_the_oldest_due_invoice_first_and_partly_the_next() -> None:
    newest = invoice("INV-3", 1000, due_on=date(2024, 4, 1))
    oldest = invoice("INV-1", 1000, due_on=date(2024, 2, 1))
    middle = invoice("INV-2", 1000, due_on=date(2024, 3, 1))
    plan = plan_oldest_due_first(given(received(1500)), [newest, oldest, middle])
    assert [(oldest, 1000), (middle, 500)] == plan


def test_automatic_allocation_keeps_what_is_left_over_unapplied() -> None:
    inv = invoice("INV-1", 400)
    payment = given(received(1000))
    plan = plan_oldest_due_first(payment, [inv])
    assert [(inv, 400)] == plan
    events = allocate(payment, *plan)
    assert 600 == given(received(1000), events[1]).unapplied_minor


def test_automatic_allocation_breaks_due_date_ties_by_issue_date_then_number() -> None:
    due_on = date(2024, 2, 1)
    later_issue = invoice("INV-A", 100, due_on=due_on, issued_on=date(2024, 1, 5))
    b = invoice("INV-B", 100, due_on=due_on, issued_on=date(2024, 1, 2))
    c = invoice("INV-C", 100, due_on=due_on, issued_on=date(2024, 1, 2))
    plan = plan_oldest_due_first(given(received(250)), [later_issue, c, b])
    assert [(b, 100), (c, 100), (later_issue, 50)] == plan


def test_automatic_allocation_skips_other_currencies_customers_settled_and_written_off() -> None:
    written = given_invoice(
        issued("INV-W", due_on=date(2024, 1, 10)),
        InvoiceWrittenOff(
            originator_id=ids.invoice_id("INV-W"),
            originator_version=0,
            timestamp=AT,
            amount_minor=1000,
            currency="USD",
            written_off_on=date(2024, 2, 1),
            reason="insolvent",
            approver="cfo",
        ),
    )
    settled = given_invoice(
        issued("INV-S", 100, due_on=date(2024, 1, 11)), applied("INV-S", 100, 0)
    )
    others = [
        invoice("INV-E", due_on=date(2024, 1, 12), currency="EUR"),
        invoice("INV-O", due_on=date(2024, 1, 13), customer_id=OTHER_CUSTOMER_ID),
        written,
        settled,
    ]
    target = invoice("INV-1", 1000, due_on=date(2024, 6, 1))
    assert [(target, 300)] == plan_oldest_due_first(given(received(300)), [*others, target])


def test_automatic_allocation_settles_money_a_bounce_reopened_on_a_written_off_invoice() -> None:
    # INV-W: 1000, 400 paid by another payment, the 600 left written off, then the 400 bounced.
    other = ids.payment_id("BR-0")
    written = given_invoice(
        issued("INV-W", due_on=date(2024, 1, 10)),
        attrs.evolve(applied("INV-W", 400, 0, on=date(2024, 1, 20)), payment_id=other),
        InvoiceWrittenOff(
            originator_id=ids.invoice_id("INV-W"),
            originator_version=0,
            timestamp=AT,
            amount_minor=600,
            currency="USD",
            written_off_on=date(2024, 2, 1),
            reason="insolvent",
            approver="cfo",
        ),
        PaymentUnapplied(
            originator_id=ids.invoice_id("INV-W"),
            originator_version=0,
            timestamp=AT,
            payment_id=other,
            amount_minor=400,
            currency="USD",
            unapplied_on=date(2024, 2, 5),
            reason="bounced",
        ),
    )
    later = invoice("INV-1", 1000, due_on=date(2024, 6, 1))

    plan = plan_oldest_due_first(given(received(500)), [later, written])

    assert [(written, 400), (later, 100)] == plan


def test_automatic_allocation_of_a_fully_applied_payment_plans_nothing() -> None:
    payment = given(received(100), allocated(invoice("INV-1").id, 100))
    assert [] == plan_oldest_due_first(payment, [invoice("INV-2")])


# Reversal -----------------------------------------------------------------------------------


def test_a_bounced_payment_releases_every_allocation_and_reopens_its_invoices() -> None:
    first, second = invoice("INV-1"), invoice("INV-2")
    allocation = allocate(given(received(1500)), (first, 1000), (second, 300))
    payment = given(received(1500), allocation[1], allocation[3])
    first = given_invoice(issued("INV-1"), allocation[0])
    second = given_invoice(issued("INV-2"), allocation[2])
    events = reverse(payment, [first, second])
    then(
        [
            PaymentUnapplied(
                originator_id=first.id,
                originator_version=3,
                timestamp=AT,
                payment_id=PAYMENT_ID,
                amount_minor=1000,
                currency="USD",
                unapplied_on=date(2024, 3, 10),
                reason="bounced",
            ),
            PaymentUnapplied(
                originator_id=second.id,
                originator_version=3,
                timestamp=AT,
                payment_id=PAYMENT_ID,
                amount_minor=300,
                currency="USD",
                unapplied_on=date(2024, 3, 10),
                reason="bounced",
            ),
            PaymentReversed(
                originator_id=PAYMENT_ID,
                originator_version=4,
                timestamp=AT,
                reversed_on=date(2024, 3, 10),
                reason="bounced",
                released=(
                    AllocationReleased(invoice_id=first.id, amount_minor=1000),
                    AllocationReleased(invoice_id=second.id, amount_minor=300),
                ),
            ),
        ],
        events,
    )
    reversed_payment = given(received(1500), allocation[1], allocation[3], events[2])
    assert reversed_payment.is_reversed
    assert 0 == reversed_payment.unapplied_minor
    assert {} == reversed_payment.allocations
    assert 1000 == given_invoice(issued("INV-1"), allocation[0], events[0]).open_minor
    assert 1000 == given_invoice(issued("INV-2"), allocation[2], events[1]).open_minor


def test_a_payment_with_no_allocations_can_be_reversed() -> None:
    events = reverse(given(received()), [])
    assert [PaymentReversed] == [type(event) for event in events]
    assert () == events[0].released  # type: ignore[attr-defined]


def test_a_payment_cannot_be_reversed_twice() -> None:
    payment = given(received(), *reverse(given(received()), []))
    with pytest.raises(PaymentStateError) as raised:
        reverse(payment, [])
    assert REFERENCE == raised.value.bank_reference


def test_a_reversal_dated_before_the_value_date_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        reverse(given(received()), [], on=VALUE_ON - timedelta(days=1))


def test_a_reversal_needs_a_reason() -> None:
    with pytest.raises(InvalidCommandError):
        reverse_payment(given(received()), [], reversed_on=VALUE_ON, reason="", recorded_at=AT)


def test_payment_errors_are_arledger_errors_and_value_or_lookup_errors() -> None:
    for error in (
        OverAllocationError,
        PaymentStateError,
        CurrencyMismatchError,
        DuplicateKeyConflictError,
    ):
        assert issubclass(error, ArledgerError)
        assert issubclass(error, ValueError)
    assert issubclass(PaymentNotFoundError, LookupError)
    assert issubclass(PaymentNotFoundError, ArledgerError)


def test_folding_allocations_beyond_the_amount_is_a_broken_invariant() -> None:
    with pytest.raises(AssertionError):
        given(received(100), allocated(invoice("INV-1").id, 101))
