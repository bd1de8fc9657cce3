"""Domain events: immutable, past-tense facts of the receivables ledger.

Every event carries the envelope (``originator_id``, ``originator_version``, ``timestamp``: when
it was recorded, UTC) and every business value needed to apply it, including amounts the command
worked out, so that folding an event never needs a rule, the clock or configuration.
Amounts are never negative; the event type gives the direction.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from uuid import UUID

import attrs


class PaymentTermsKind(enum.Enum):
    """How a customer is allowed to pay; stored by value."""

    PREPAYMENT = "prepayment"
    CASH_ON_DELIVERY = "cash_on_delivery"
    NET = "net"
    INSTALMENTS = "instalments"


@attrs.frozen(kw_only=True)
class Instalment:
    """One line of an invoice's instalment schedule."""

    due_on: date
    amount_minor: int


@attrs.frozen(kw_only=True)
class Event:
    """Envelope shared by all events (the protocol eventsourcing needs)."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime


# Customer account -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CustomerAccountOpened(Event):
    customer_code: str
    name: str
    currency: str
    collection_owner: str
    terms_kind: PaymentTermsKind
    terms_days: int
    opened_on: date


@attrs.frozen(kw_only=True)
class InvoiceAddedToAccount(Event):
    """The account's index of its invoices, kept for oldest-due-first allocation."""

    invoice_id: UUID
    invoice_number: str


# Invoice --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InvoiceIssued(Event):
    invoice_number: str
    customer_id: UUID
    amount_minor: int
    currency: str
    issued_on: date
    due_on: date
    instalments: tuple[Instalment, ...] = ()
    contract_reference: str = ""


@attrs.frozen(kw_only=True)
class PaymentApplied(Event):
    """Part of a payment settled part of this invoice (the invoice side of an allocation)."""

    payment_id: UUID
    amount_minor: int
    currency: str
    applied_on: date


@attrs.frozen(kw_only=True)
class PaymentUnapplied(Event):
    """A reversed (bounced) payment no longer settles this invoice: the amount reopens."""

    payment_id: UUID
    amount_minor: int
    currency: str
    unapplied_on: date
    reason: str


@attrs.frozen(kw_only=True)
class CreditNoteApplied(Event):
    credit_note_number: str
    amount_minor: int
    currency: str
    applied_on: date
    reason: str


@attrs.frozen(kw_only=True)
class ConcessionApproved(Event):
    """An explicit, approved reduction of what the customer owes; never implicit."""

    amount_minor: int
    currency: str
    approved_on: date
    reason: str
    approver: str


@attrs.frozen(kw_only=True)
class InvoiceWrittenOff(Event):
    """The open amount at the time is written off as a bad debt."""

    amount_minor: int
    currency: str
    written_off_on: date
    reason: str
    approver: str


@attrs.frozen(kw_only=True)
class InvoiceReinstated(Event):
    """A write-off is undone: the written-off amount is due again."""

    amount_minor: int
    currency: str
    reinstated_on: date
    reason: str
    approver: str


# Payment --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PaymentReceived(Event):
    bank_reference: str
    payer_customer_id: UUID
    amount_minor: int
    currency: str
    value_on: date


@attrs.frozen(kw_only=True)
class PaymentAllocated(Event):
    """Part of the payment settles an invoice (the payment side of an allocation)."""

    invoice_id: UUID
    amount_minor: int
    currency: str
    allocated_on: date


@attrs.frozen(kw_only=True)
class AllocationReleased:
    """What a reversal took back from one invoice."""

    invoice_id: UUID
    amount_minor: int


@attrs.frozen(kw_only=True)
class PaymentReversed(Event):
    """The payment bounced: its allocations are released and the invoices reopen."""

    reversed_on: date
    reason: str
    released: tuple[AllocationReleased, ...]


CUSTOMER_EVENTS: tuple[type[Event], ...] = (CustomerAccountOpened, InvoiceAddedToAccount)
INVOICE_EVENTS: tuple[type[Event], ...] = (
    InvoiceIssued,
    PaymentApplied,
    PaymentUnapplied,
    CreditNoteApplied,
    ConcessionApproved,
    InvoiceWrittenOff,
    InvoiceReinstated,
)
PAYMENT_EVENTS: tuple[type[Event], ...] = (PaymentReceived, PaymentAllocated, PaymentReversed)
ALL_EVENTS: tuple[type[Event], ...] = CUSTOMER_EVENTS + INVOICE_EVENTS + PAYMENT_EVENTS
