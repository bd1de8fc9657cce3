"""Customer account aggregate: given events, when a command, then events or an error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from arledger.domain import ids
from arledger.domain.customer import CustomerAccount, add_invoice, open_account
from arledger.domain.errors import (
    ArledgerError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    InvalidCommandError,
    InvalidDateError,
    UnknownCurrencyError,
)
from arledger.domain.events import (
    CustomerAccountOpened,
    Event,
    InvoiceAddedToAccount,
    PaymentTermsKind,
)
from arledger.domain.rules import TERMS_DAYS_MAX
from tests.given import given_customer as given
from tests.given import then

AT = datetime(2026, 1, 1, tzinfo=UTC)
CODE = "C1"
CUSTOMER_ID = ids.customer_id(CODE)
OPENED_ON = date(2024, 1, 1)


def opened(
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET, terms_days: int = 30
) -> CustomerAccountOpened:
    return CustomerAccountOpened(
        originator_id=CUSTOMER_ID,
        originator_version=1,
        timestamp=AT,
        customer_code=CODE,
        name="Acme Trading",
        currency="USD",
        collection_owner="li",
        terms_kind=terms_kind,
        terms_days=terms_days,
        opened_on=OPENED_ON,
    )


def indexed(number: str, version: int = 0) -> InvoiceAddedToAccount:
    return InvoiceAddedToAccount(
        originator_id=CUSTOMER_ID,
        originator_version=version,
        timestamp=AT,
        invoice_id=ids.invoice_id(number),
        invoice_number=number,
    )


def open_(existing: CustomerAccount | None = None, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "customer_code": CODE,
        "name": "Acme Trading",
        "currency": "USD",
        "collection_owner": "li",
        "opened_on": OPENED_ON,
        "recorded_at": AT,
    }
    command.update(fields)
    return open_account(existing, **command)


def test_opening_an_account_records_it_with_net_30_terms_by_default() -> None:
    then([opened()], open_())
    account = given(opened())
    assert CUSTOMER_ID == account.id
    assert () == account.invoice_ids


def test_opening_the_same_account_again_is_a_no_op() -> None:
    then([], open_(given(opened())))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Acme Holding"},
        {"currency": "EUR"},
        {"collection_owner": "wang"},
        {"opened_on": OPENED_ON + timedelta(days=1)},
        {"terms_days": 60},
        {"terms_kind": PaymentTermsKind.PREPAYMENT},
    ],
)
def test_opening_the_same_code_with_different_details_is_a_conflict(
    change: dict[str, Any],
) -> None:
    with pytest.raises(DuplicateKeyConflictError) as raised:
        open_(given(opened()), **change)
    assert CODE == raised.value.customer_code
    assert CUSTOMER_ID == raised.value.customer_id


@pytest.mark.parametrize(
    "terms_kind", [PaymentTermsKind.PREPAYMENT, PaymentTermsKind.CASH_ON_DELIVERY]
)
def test_cash_terms_carry_no_credit_days(terms_kind: PaymentTermsKind) -> None:
    then([opened(terms_kind, 0)], open_(terms_kind=terms_kind, terms_days=45))
    assert OPENED_ON == given(opened(terms_kind, 0)).due_on_for(OPENED_ON)


def test_repeating_a_cash_terms_opening_with_other_days_is_still_a_no_op() -> None:
    existing = given(opened(PaymentTermsKind.PREPAYMENT, 0))
    then([], open_(existing, terms_kind=PaymentTermsKind.PREPAYMENT, terms_days=45))


def test_net_terms_give_the_due_date_terms_days_after_issue() -> None:
    account = given(opened(PaymentTermsKind.NET, 45))
    assert date(2024, 3, 16) == account.due_on_for(date(2024, 1, 31))


@pytest.mark.parametrize("terms_days", [-1, TERMS_DAYS_MAX + 1, 1.5, "30"])
def test_terms_days_must_be_a_whole_number_in_range(terms_days: Any) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        open_(terms_days=terms_days)
    assert "terms_days" == raised.value.field


def test_terms_days_at_the_maximum_are_accepted() -> None:
    assert TERMS_DAYS_MAX == open_(terms_days=TERMS_DAYS_MAX)[0].terms_days  # type: ignore[attr-defined]


def test_unknown_payment_terms_are_refused() -> None:
    with pytest.raises(InvalidCommandError):
        open_(terms_kind="net")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_code", ""),
        ("customer_code", " C1"),
        ("customer_code", "C" * 65),
        ("customer_code", "C\x071"),
        ("name", "   "),
        ("collection_owner", "x" * 201),
    ],
)
def test_keys_and_names_must_be_clean_text(field: str, value: str) -> None:
    with pytest.raises(InvalidCommandError) as raised:
        open_(**{field: value})
    assert field == raised.value.field


def test_an_account_in_an_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrencyError):
        open_(currency="ABC")


def test_the_opening_date_must_be_a_date_and_the_instant_aware() -> None:
    with pytest.raises(InvalidDateError):
        open_(opened_on=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidDateError):
        open_(recorded_at=datetime(2026, 1, 1))


def test_an_invoice_is_indexed_on_its_account_once() -> None:
    account = given(opened())
    events = add_invoice(
        account, invoice_id=ids.invoice_id("INV-1"), invoice_number="INV-1", recorded_at=AT
    )
    then([indexed("INV-1", 2)], events)
    account = given(opened(), *events)
    assert (ids.invoice_id("INV-1"),) == account.invoice_ids
    then(
        [],
        add_invoice(
            account, invoice_id=ids.invoice_id("INV-1"), invoice_number="INV-1", recorded_at=AT
        ),
    )


def test_invoices_stay_indexed_in_the_order_they_were_added() -> None:
    account = given(opened(), indexed("INV-2"), indexed("INV-1"))
    assert (ids.invoice_id("INV-2"), ids.invoice_id("INV-1")) == account.invoice_ids


def test_folding_the_same_invoice_into_the_index_twice_is_a_broken_invariant() -> None:
    with pytest.raises(AssertionError):
        given(opened(), indexed("INV-1"), indexed("INV-1"))


def test_ids_are_the_same_for_the_same_business_key_and_differ_by_kind() -> None:
    assert ids.customer_id("X") == ids.customer_id("X")
    assert ids.customer_id("X") != ids.customer_id("Y")
    assert ids.customer_id("X") != ids.invoice_id("X")
    assert ids.invoice_id("X") != ids.payment_id("X")


def test_customer_errors_are_arledger_errors_and_value_or_lookup_errors() -> None:
    assert issubclass(DuplicateKeyConflictError, ArledgerError)
    assert issubclass(DuplicateKeyConflictError, ValueError)
    assert issubclass(CustomerNotFoundError, ArledgerError)
    assert issubclass(CustomerNotFoundError, LookupError)
