"""Promise-to-pay aggregate: what a customer promised, when, for which invoices, and by whom.

Invariant: a promise is made once and then may only be withdrawn or superseded, once. Whether
it was kept is not recorded here: it is judged from payments by the promise projection.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Final, assert_never
from uuid import UUID

import attrs

from . import ids
from .customer import CustomerAccount
from .errors import (
    CurrencyMismatchError,
    CustomerMismatchError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    PromiseAmountError,
    PromiseStateError,
    RepeatedInvoiceError,
)
from .events import (
    Event,
    PromiseEvent,
    PromiseMade,
    PromiseSuperseded,
    PromiseTranche,
    PromiseWithdrawn,
)
from .invoice import Invoice
from .rules import (
    require_date,
    require_key,
    require_positive,
    require_reason,
    require_recorded_at,
    require_text,
)

TRANCHES_MAX: Final = 120
"""Ten years of monthly tranches; a longer schedule is a data error."""


class PromiseState(enum.Enum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


@attrs.frozen(kw_only=True)
class Promise:
    id: UUID
    version: int
    promise_reference: str
    customer_id: UUID
    amount_minor: int
    currency: str
    promised_on: date
    made_on: date
    contact: str
    invoice_ids: tuple[UUID, ...]
    tranches: tuple[PromiseTranche, ...] = ()
    state: PromiseState = PromiseState.OPEN
    closed_on: date | None = None


def evolve(state: Promise | None, event: Event) -> Promise:
    assert isinstance(event, PromiseEvent), f"not a promise event: {type(event).__name__}"
    match event:
        case PromiseMade():
            assert state is None
            return Promise(
                id=event.originator_id,
                version=event.originator_version,
                promise_reference=event.promise_reference,
                customer_id=event.customer_id,
                amount_minor=event.amount_minor,
                currency=event.currency,
                promised_on=event.promised_on,
                made_on=event.made_on,
                contact=event.contact,
                invoice_ids=event.invoice_ids,
                tranches=event.tranches,
            )
        case PromiseWithdrawn():
            return attrs.evolve(
                _next(state, event),
                state=PromiseState.WITHDRAWN,
                closed_on=event.withdrawn_on,
            )
        case PromiseSuperseded():
            return attrs.evolve(
                _next(state, event),
                state=PromiseState.SUPERSEDED,
                closed_on=event.superseded_on,
            )
        case _ as unreachable:
            assert_never(unreachable)


def _next(state: Promise | None, event: Event) -> Promise:
    """The open promise an event closes, at the event's version."""
    assert state is not None
    assert state.state is PromiseState.OPEN
    assert event.originator_version == state.version + 1
    return attrs.evolve(state, version=event.originator_version)


def fold(events: Iterable[Event], state: Promise | None = None) -> Promise | None:
    for event in events:
        state = evolve(state, event)
    return state


def make_promise(
    existing: Promise | None,
    customer: CustomerAccount,
    *,
    promise_reference: str,
    amount_minor: int,
    currency: str,
    promised_on: date,
    made_on: date,
    contact: str,
    invoices: Sequence[Invoice] = (),
    account_invoices: Sequence[Invoice] = (),
    supersedes: Promise | None = None,
    tranches: Sequence[PromiseTranche] = (),
    recorded_at: datetime,
) -> list[Event]:
    """Record a promise to pay; optionally replacing an open one (which is then superseded).

    A promise is never larger than what the invoices it names had open on the day it was made,
    or, naming none, what the whole account had open then: ``account_invoices`` must then be
    every invoice of the account. (Promising more than is owed would be judged broken and
    escalate a customer who owes nothing.) ``tranches``, when given, are the promise's dated
    parts: strictly increasing dates from ``made_on``, the last on ``promised_on``, adding up
    to ``amount_minor``; one tranche is the same as none.
    """
    require_key("promise_reference", promise_reference)
    require_positive("amount_minor", amount_minor)
    require_date("promised_on", promised_on)
    require_date("made_on", made_on)
    require_text("contact", contact)
    require_recorded_at(recorded_at)
    if promised_on < made_on:
        raise InvalidDateError(
            f"promise {promise_reference}: promised date {promised_on} is before {made_on}, "
            "when it was made",
            promise_reference=promise_reference,
        )
    if currency != customer.currency:
        raise CurrencyMismatchError(
            f"promise {promise_reference} is in {currency}; {customer.customer_code}'s account "
            f"is in {customer.currency}",
            currency=currency,
            other_currency=customer.currency,
        )
    for invoice in invoices:
        if invoice.customer_id != customer.id:
            raise CustomerMismatchError(
                f"invoice {invoice.invoice_number} is not {customer.customer_code}'s",
                invoice_number=invoice.invoice_number,
                promise_reference=promise_reference,
                customer_code=customer.customer_code,
            )
    schedule = _check_tranches(
        tranches,
        promise_reference=promise_reference,
        amount_minor=amount_minor,
        promised_on=promised_on,
        made_on=made_on,
    )
    invoice_ids = tuple(invoice.id for invoice in invoices)
    if len(set(invoice_ids)) != len(invoice_ids):
        raise RepeatedInvoiceError(
            "an invoice is named twice in the promise", promise_reference=promise_reference
        )
    made = PromiseMade(
        originator_id=ids.promise_id(promise_reference),
        originator_version=1,
        timestamp=recorded_at,
        promise_reference=promise_reference,
        customer_id=customer.id,
        amount_minor=amount_minor,
        currency=currency,
        promised_on=promised_on,
        made_on=made_on,
        contact=contact,
        invoice_ids=invoice_ids,
        tranches=schedule,
    )
    if existing is not None:
        same = (
            existing.customer_id == customer.id
            and existing.amount_minor == amount_minor
            and existing.currency == currency
            and existing.promised_on == promised_on
            and existing.made_on == made_on
            and existing.contact == contact
            and existing.invoice_ids == invoice_ids
            and existing.tranches == schedule
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"promise {promise_reference} was already recorded with different content",
            promise_reference=promise_reference,
        )
    _require_open_enough(
        customer,
        promise_reference=promise_reference,
        amount_minor=amount_minor,
        currency=currency,
        made_on=made_on,
        invoices=invoices or account_invoices,
        named=bool(invoices),
    )
    events: list[Event] = []
    if supersedes is not None:
        if supersedes.customer_id != customer.id:
            raise CustomerMismatchError(
                "a promise can only supersede the same customer's promise",
                promise_reference=promise_reference,
                customer_code=customer.customer_code,
            )
        _require_open(supersedes)
        if made_on < supersedes.made_on:
            raise InvalidDateError(
                f"promise {promise_reference} made {made_on}, before the promise it replaces",
                promise_reference=promise_reference,
            )
        events.append(
            PromiseSuperseded(
                originator_id=supersedes.id,
                originator_version=supersedes.version + 1,
                timestamp=recorded_at,
                superseded_on=made_on,
                superseded_by=promise_reference,
            )
        )
    events.append(made)
    return events


def _check_tranches(
    tranches: Sequence[PromiseTranche],
    *,
    promise_reference: str,
    amount_minor: int,
    promised_on: date,
    made_on: date,
) -> tuple[PromiseTranche, ...]:
    """The schedule to record: the tranches as given, or none for a single one (which is the
    whole promise on its date, recorded as every promise of one date is)."""
    schedule = tuple(tranches)
    if not schedule:
        return ()
    if len(schedule) > TRANCHES_MAX:
        raise InvalidCommandError(
            f"promise {promise_reference}: {len(schedule)} tranches; at most {TRANCHES_MAX}",
            field="tranches",
        )
    previous: date | None = None
    for tranche in schedule:
        if not isinstance(tranche, PromiseTranche):
            raise InvalidCommandError(
                f"promise {promise_reference}: a tranche must be a PromiseTranche, "
                f"got {type(tranche).__name__}",
                field="tranches",
            )
        require_date("tranches.promised_on", tranche.promised_on)
        require_positive("tranches.amount_minor", tranche.amount_minor)
        if tranche.promised_on < made_on or (
            previous is not None and tranche.promised_on <= previous
        ):
            raise InvalidDateError(
                f"promise {promise_reference}: tranche dates must increase from {made_on}, "
                f"when it was made; got {tranche.promised_on}",
                field="tranches.promised_on",
                promise_reference=promise_reference,
            )
        previous = tranche.promised_on
    if previous != promised_on:
        raise InvalidDateError(
            f"promise {promise_reference}: the last tranche is on {previous}, "
            f"not on the promised date {promised_on}",
            field="tranches.promised_on",
            promise_reference=promise_reference,
        )
    total = sum(tranche.amount_minor for tranche in schedule)
    if total != amount_minor:
        raise InvalidAmountError(
            f"promise {promise_reference}: tranches sum to {total}, not {amount_minor}",
            field="tranches.amount_minor",
            amount_minor=total,
        )
    return schedule if len(schedule) > 1 else ()


def _require_open_enough(
    customer: CustomerAccount,
    *,
    promise_reference: str,
    amount_minor: int,
    currency: str,
    made_on: date,
    invoices: Sequence[Invoice],
    named: bool,
) -> None:
    if not named:
        assert {invoice.id for invoice in invoices} == set(customer.invoice_ids), (
            "a promise naming no invoice is checked against every invoice of the account"
        )
    open_minor = sum(
        invoice.open_minor_on(made_on) for invoice in invoices if invoice.currency == currency
    )
    if amount_minor > open_minor:
        what = "the invoices it names" if named else f"{customer.customer_code}'s account"
        raise PromiseAmountError(
            f"promise {promise_reference} of {amount_minor} is more than {what} had open on "
            f"{made_on}, when it was made: {open_minor} (minor units of {currency})",
            promise_reference=promise_reference,
            customer_code=customer.customer_code,
            amount_minor=amount_minor,
            open_minor=open_minor,
            made_on=made_on,
        )


def _require_open(promise: Promise) -> None:
    if promise.state is not PromiseState.OPEN:
        raise PromiseStateError(
            f"promise {promise.promise_reference} is {promise.state.value}",
            promise_reference=promise.promise_reference,
        )


def withdraw_promise(
    promise: Promise, *, withdrawn_on: date, reason: str, recorded_at: datetime
) -> list[Event]:
    require_date("withdrawn_on", withdrawn_on)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    _require_open(promise)
    if withdrawn_on < promise.made_on:
        raise InvalidDateError(
            f"promise {promise.promise_reference} withdrawn before it was made",
            promise_reference=promise.promise_reference,
        )
    return [
        PromiseWithdrawn(
            originator_id=promise.id,
            originator_version=promise.version + 1,
            timestamp=recorded_at,
            withdrawn_on=withdrawn_on,
            reason=reason,
        )
    ]
