"""Customer account aggregate: who the customer is, its terms, owner and its invoices.

Invariant: an account is opened once; its invoice index lists each invoice once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from uuid import UUID

import attrs

from . import ids
from .errors import DuplicateKeyConflictError, InvalidCommandError
from .events import CustomerAccountOpened, Event, InvoiceAddedToAccount, PaymentTermsKind
from .money import check_currency
from .rules import TERMS_DAYS_MAX, require_date, require_key, require_recorded_at, require_text


@attrs.frozen(kw_only=True)
class CustomerAccount:
    id: UUID
    version: int
    customer_code: str
    name: str
    currency: str
    collection_owner: str
    terms_kind: PaymentTermsKind
    terms_days: int
    opened_on: date
    invoice_ids: tuple[UUID, ...] = ()

    def due_on_for(self, issued_on: date) -> date:
        """The due date the account's terms give an invoice issued on ``issued_on``."""
        if (
            self.terms_kind is PaymentTermsKind.NET
            or self.terms_kind is PaymentTermsKind.INSTALMENTS
        ):
            return issued_on + timedelta(days=self.terms_days)
        return issued_on


def evolve(state: CustomerAccount | None, event: Event) -> CustomerAccount:
    """Apply one customer event; no validation beyond invariants."""
    if isinstance(event, CustomerAccountOpened):
        assert state is None
        return CustomerAccount(
            id=event.originator_id,
            version=event.originator_version,
            customer_code=event.customer_code,
            name=event.name,
            currency=event.currency,
            collection_owner=event.collection_owner,
            terms_kind=event.terms_kind,
            terms_days=event.terms_days,
            opened_on=event.opened_on,
        )
    assert state is not None
    assert event.originator_version == state.version + 1
    if isinstance(event, InvoiceAddedToAccount):
        assert event.invoice_id not in state.invoice_ids
        return attrs.evolve(
            state,
            version=event.originator_version,
            invoice_ids=(*state.invoice_ids, event.invoice_id),
        )
    raise AssertionError(f"not a customer event: {type(event).__name__}")


def fold(events: Iterable[Event], state: CustomerAccount | None = None) -> CustomerAccount | None:
    for event in events:
        state = evolve(state, event)
    return state


def open_account(
    existing: CustomerAccount | None,
    *,
    customer_code: str,
    name: str,
    currency: str,
    collection_owner: str,
    opened_on: date,
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET,
    terms_days: int = 30,
    recorded_at: datetime,
) -> list[Event]:
    """Open a customer account; repeating the same opening is a no-op."""
    require_key("customer_code", customer_code)
    require_text("name", name)
    check_currency(currency)
    require_text("collection_owner", collection_owner)
    require_date("opened_on", opened_on)
    require_recorded_at(recorded_at)
    if not isinstance(terms_kind, PaymentTermsKind):
        raise InvalidCommandError(f"unknown payment terms {terms_kind!r}", field="terms_kind")
    if type(terms_days) is not int or not 0 <= terms_days <= TERMS_DAYS_MAX:
        raise InvalidCommandError(
            f"terms_days must be a whole number from 0 to {TERMS_DAYS_MAX}, got {terms_days!r}",
            field="terms_days",
            terms_days=terms_days,
        )
    if terms_kind in (PaymentTermsKind.PREPAYMENT, PaymentTermsKind.CASH_ON_DELIVERY):
        terms_days = 0
    account_id = ids.customer_id(customer_code)
    opened = CustomerAccountOpened(
        originator_id=account_id,
        originator_version=1,
        timestamp=recorded_at,
        customer_code=customer_code,
        name=name,
        currency=currency,
        collection_owner=collection_owner,
        terms_kind=terms_kind,
        terms_days=terms_days,
        opened_on=opened_on,
    )
    if existing is not None:
        same = (
            existing.customer_code == customer_code
            and existing.name == name
            and existing.currency == currency
            and existing.collection_owner == collection_owner
            and existing.terms_kind == terms_kind
            and existing.terms_days == terms_days
            and existing.opened_on == opened_on
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"customer {customer_code} is already open with different details",
            customer_code=customer_code,
            customer_id=account_id,
        )
    return [opened]


def add_invoice(
    account: CustomerAccount, *, invoice_id: UUID, invoice_number: str, recorded_at: datetime
) -> list[Event]:
    if invoice_id in account.invoice_ids:
        return []
    return [
        InvoiceAddedToAccount(
            originator_id=account.id,
            originator_version=account.version + 1,
            timestamp=recorded_at,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
        )
    ]
