"""The unit of work: the aggregate states commands read, and the events they record, until one
commit saves them all in one transaction.

It tracks, caches and commits; it decides nothing (the handlers do, through the domain). A
state is folded from the store the first time it is asked for, then kept; a recorded event is
applied to its aggregate's cached state at once, so a later command of the same unit of work
sees it. Invariant: every cached state equals the fold of the store's events for that id
followed by the pending events for it.

What other modules use, and all they use: the look-ups (``customer``, ``invoice``, ...,
``events_of``), ``record``, ``savepoint`` (the importer decides each row in one),
``end_unit`` / ``units`` / ``take_pending`` (the bulk writer cuts transactions at unit ends),
``preload`` / ``holds`` (the bulk writer's prefetch), and ``commit``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, cast
from uuid import UUID

from arledger.domain import approval as approval_module
from arledger.domain import collection_case as case_module
from arledger.domain import credit_note as credit_note_module
from arledger.domain import customer as customer_module
from arledger.domain import exchange_rate as exchange_rate_module
from arledger.domain import idempotency as idempotency_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain import promise as promise_module
from arledger.domain.approval import AuthorityBook, ReductionRequest
from arledger.domain.collection_case import CollectionCase
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    CustomerNotFoundError,
    InvoiceNotFoundError,
    PaymentNotFoundError,
    PromiseNotFoundError,
    ReductionRequestNotFoundError,
)
from arledger.domain.events import (
    AUTHORITY_EVENTS,
    CASE_EVENTS,
    COLLECTION_CUSTOMER_EVENTS,
    CREDIT_NOTE_EVENTS,
    CUSTOMER_EVENTS,
    DISPUTE_EVENTS,
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    POLICY_EVENTS,
    PROMISE_EVENTS,
    RATE_EVENTS,
    REDUCTION_REQUEST_EVENTS,
    Event,
)
from arledger.domain.exchange_rate import RateBook
from arledger.domain.idempotency import CommandsAccepted, EventReference
from arledger.domain.invoice import Invoice
from arledger.domain.payment import Payment
from arledger.domain.policy_book import PolicyBook
from arledger.domain.promise import Promise
from arledger.domain.text import require_key

if TYPE_CHECKING:
    from arledger.adapters.application.ledger import Ledger


class AggregateKind(enum.Enum):
    """The kinds of aggregate a unit of work caches, each with its own fold and evolve."""

    CUSTOMER = "customer"
    INVOICE = "invoice"
    PAYMENT = "payment"
    PROMISE = "promise"
    CASE = "case"
    POLICY_BOOK = "policy_book"
    CREDIT_NOTE = "credit_note"
    AUTHORITY_BOOK = "authority_book"
    REDUCTION_REQUEST = "reduction_request"
    RATE_BOOK = "rate_book"


_FOLDS: Final[dict[AggregateKind, Callable[[Iterable[Any]], Any]]] = {
    AggregateKind.CUSTOMER: customer_module.fold,
    AggregateKind.INVOICE: invoice_module.fold,
    AggregateKind.PAYMENT: payment_module.fold,
    AggregateKind.PROMISE: promise_module.fold,
    AggregateKind.CASE: case_module.fold,
    AggregateKind.POLICY_BOOK: policy_book_module.fold,
    AggregateKind.CREDIT_NOTE: credit_note_module.fold,
    AggregateKind.AUTHORITY_BOOK: approval_module.fold_book,
    AggregateKind.REDUCTION_REQUEST: approval_module.fold_request,
    AggregateKind.RATE_BOOK: exchange_rate_module.fold,
}
"""The fold that builds a state of each kind from its events."""

_EVOLVERS: Final[dict[type[Event], tuple[AggregateKind, Callable[[Any, Any], Any]]]] = {
    **{t: (AggregateKind.CUSTOMER, customer_module.evolve) for t in CUSTOMER_EVENTS},
    **{t: (AggregateKind.CUSTOMER, customer_module.evolve) for t in COLLECTION_CUSTOMER_EVENTS},
    **{t: (AggregateKind.INVOICE, invoice_module.evolve) for t in INVOICE_EVENTS},
    **{t: (AggregateKind.INVOICE, invoice_module.evolve) for t in DISPUTE_EVENTS},
    **{t: (AggregateKind.PAYMENT, payment_module.evolve) for t in PAYMENT_EVENTS},
    **{t: (AggregateKind.PROMISE, promise_module.evolve) for t in PROMISE_EVENTS},
    **{t: (AggregateKind.CASE, case_module.evolve) for t in CASE_EVENTS},
    **{t: (AggregateKind.POLICY_BOOK, policy_book_module.evolve) for t in POLICY_EVENTS},
    **{t: (AggregateKind.CREDIT_NOTE, credit_note_module.evolve) for t in CREDIT_NOTE_EVENTS},
    **{t: (AggregateKind.AUTHORITY_BOOK, approval_module.evolve_book) for t in AUTHORITY_EVENTS},
    **{
        t: (AggregateKind.REDUCTION_REQUEST, approval_module.evolve_request)
        for t in REDUCTION_REQUEST_EVENTS
    },
    **{t: (AggregateKind.RATE_BOOK, exchange_rate_module.evolve) for t in RATE_EVENTS},
}
"""Which kind of aggregate each event type belongs to, and its evolve function."""


def evolver_of(event_type: type) -> tuple[AggregateKind, Callable[[Any, Any], Any]] | None:
    """The kind of aggregate an event type belongs to and its evolve function (None: not an
    aggregate's event); ``verify`` replays the log with them."""
    return _EVOLVERS.get(event_type)


_ABSENT: Final = object()
"""In a savepoint's undo log: the id was not cached before the savepoint."""


class UnitOfWork:
    """Cached aggregate states and the events pending for one transaction."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.recorded_at: Final[datetime] = ledger.clock()
        """The instant every event of this unit of work is recorded at (read once)."""
        self._states: dict[AggregateKind, dict[UUID, Any]] = {kind: {} for kind in AggregateKind}
        self._pending: list[Event] = []
        self._accepted: list[CommandsAccepted] = []
        """Idempotency records to save with the pending events (bookkeeping, not events)."""
        self._unit_ends: list[int] = []
        # One undo log per open savepoint, innermost last: (kind, id) -> state before it.
        self._undo: list[dict[tuple[AggregateKind, UUID], Any]] = []

    @property
    def ledger(self) -> Ledger:
        """The application this unit of work reads from and commits to."""
        return self._ledger

    # Loading ----------------------------------------------------------------------------------

    def _load(self, kind: AggregateKind, aggregate_id: UUID) -> Any:
        cache = self._states[kind]
        if aggregate_id not in cache:
            cache[aggregate_id] = _FOLDS[kind](self._ledger.events.get(aggregate_id))
        return cache[aggregate_id]

    def holds(self, kind: AggregateKind, aggregate_id: UUID) -> bool:
        """Whether the state of that aggregate (or its absence) is cached."""
        return aggregate_id in self._states[kind]

    def preload(self, kind: AggregateKind, states: Mapping[UUID, Any]) -> None:
        """Cache states read from the store in bulk (None: no such aggregate). Ids already
        cached are left alone: their cached state may hold pending events."""
        cache = self._states[kind]
        for aggregate_id, state in states.items():
            cache.setdefault(aggregate_id, state)

    def states(self, kind: AggregateKind) -> dict[UUID, Any]:
        """A copy of the cached states of one kind (absent aggregates left out), as the
        commands so far left them: what tests compare with a fold of the log."""
        return {key: state for key, state in self._states[kind].items() if state is not None}

    def customer_by_id(self, customer_id: UUID) -> CustomerAccount | None:
        return cast(CustomerAccount | None, self._load(AggregateKind.CUSTOMER, customer_id))

    def customer(self, customer_code: str) -> CustomerAccount | None:
        return self.customer_by_id(ids.customer_id(require_key("customer_code", customer_code)))

    def invoice_by_id(self, invoice_id: UUID) -> Invoice | None:
        return cast(Invoice | None, self._load(AggregateKind.INVOICE, invoice_id))

    def invoice(self, invoice_number: str) -> Invoice | None:
        return self.invoice_by_id(ids.invoice_id(require_key("invoice_number", invoice_number)))

    def payment_by_id(self, payment_id: UUID) -> Payment | None:
        return cast(Payment | None, self._load(AggregateKind.PAYMENT, payment_id))

    def payment(self, bank_reference: str) -> Payment | None:
        return self.payment_by_id(ids.payment_id(require_key("bank_reference", bank_reference)))

    def promise(self, promise_reference: str) -> Promise | None:
        promise_id = ids.promise_id(require_key("promise_reference", promise_reference))
        return cast(Promise | None, self._load(AggregateKind.PROMISE, promise_id))

    def case(self, customer_code: str) -> CollectionCase | None:
        case_id = ids.collection_case_id(require_key("customer_code", customer_code))
        return cast(CollectionCase | None, self._load(AggregateKind.CASE, case_id))

    def policy_book(self) -> PolicyBook | None:
        return cast(PolicyBook | None, self._load(AggregateKind.POLICY_BOOK, ids.policy_book_id()))

    def authority_book(self) -> AuthorityBook | None:
        return cast(
            AuthorityBook | None, self._load(AggregateKind.AUTHORITY_BOOK, ids.authority_book_id())
        )

    def reduction_request(self, request_reference: str) -> ReductionRequest | None:
        request_id = ids.reduction_request_id(require_key("request_reference", request_reference))
        return cast(
            ReductionRequest | None, self._load(AggregateKind.REDUCTION_REQUEST, request_id)
        )

    def require_reduction_request(self, request_reference: str) -> ReductionRequest:
        state = self.reduction_request(request_reference)
        if state is None:
            raise ReductionRequestNotFoundError(
                f"no reduction request {request_reference!r}",
                request_reference=request_reference,
            )
        return state

    def rate_book(self) -> RateBook | None:
        return cast(RateBook | None, self._load(AggregateKind.RATE_BOOK, ids.rate_book_id()))

    def credit_note(self, credit_note_number: str) -> CreditNote | None:
        """The registration of a credit-note number, if it was ever used."""
        credit_note_id = ids.credit_note_id(require_key("credit_note_number", credit_note_number))
        return cast(CreditNote | None, self._load(AggregateKind.CREDIT_NOTE, credit_note_id))

    def invoices_of(self, account: CustomerAccount) -> list[Invoice]:
        """Every invoice of the account (its index lists only invoices that exist)."""
        invoices = [self.invoice_by_id(invoice_id) for invoice_id in account.invoice_ids]
        assert all(invoice is not None for invoice in invoices)
        return [invoice for invoice in invoices if invoice is not None]

    def require_customer(self, customer_code: str) -> CustomerAccount:
        state = self.customer(customer_code)
        if state is None:
            raise CustomerNotFoundError(
                f"no customer account {customer_code!r}", customer_code=customer_code
            )
        return state

    def require_invoice(self, invoice_number: str) -> Invoice:
        state = self.invoice(invoice_number)
        if state is None:
            raise InvoiceNotFoundError(
                f"no invoice {invoice_number!r}", invoice_number=invoice_number
            )
        return state

    def require_payment(self, bank_reference: str) -> Payment:
        state = self.payment(bank_reference)
        if state is None:
            raise PaymentNotFoundError(
                f"no payment with bank reference {bank_reference!r}",
                bank_reference=bank_reference,
            )
        return state

    def require_promise(self, promise_reference: str) -> Promise:
        state = self.promise(promise_reference)
        if state is None:
            raise PromiseNotFoundError(
                f"no promise to pay {promise_reference!r}", promise_reference=promise_reference
            )
        return state

    def idempotency_record(self, idempotency_key: str) -> CommandsAccepted | None:
        """What was accepted under the key, if it was used (read from the store each time)."""
        record_id = ids.idempotency_key_id(require_key("idempotency_key", idempotency_key))
        accepted = [record for record in self._accepted if record.originator_id == record_id]
        return idempotency_module.fold([*self._ledger.events.get(record_id), *accepted])

    def events_at(self, references: Iterable[EventReference]) -> list[Event]:
        """The stored (or pending) events at those places in the log."""
        found: list[Event] = []
        for reference in references:
            version = reference.originator_version
            pending = [
                event
                for event in self._pending
                if (event.originator_id, event.originator_version)
                == (reference.originator_id, version)
            ]
            stored = pending or cast(
                list[Event],
                list(self._ledger.events.get(reference.originator_id, gt=version - 1, lte=version)),
            )
            assert len(stored) == 1, f"no event at {reference}"
            found.append(stored[0])
        return found

    def events_of(self, aggregate_id: UUID) -> list[Event]:
        """The aggregate's stored events, then those pending for it here."""
        stored = cast(list[Event], list(self._ledger.events.get(aggregate_id)))
        pending = [event for event in self._pending if event.originator_id == aggregate_id]
        return stored + pending

    # Recording --------------------------------------------------------------------------------

    def record(self, events: Sequence[Event]) -> list[Event]:
        """Apply new events to the cached states and queue them for the commit."""
        for event in events:
            kind, evolve = _EVOLVERS[type(event)]
            cache = self._states[kind]
            if self._undo:
                self._undo[-1].setdefault(
                    (kind, event.originator_id), cache.get(event.originator_id, _ABSENT)
                )
            cache[event.originator_id] = evolve(cache.get(event.originator_id), event)
        self._pending.extend(events)
        return list(events)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Keep what the block records only if it ends normally.

        On an exception the states and events recorded inside are rolled back and the exception
        propagates: the unit of work is as if the block had not run (the importer decides each
        row so, and a refused row leaves nothing behind). Savepoints nest.
        """
        pending_before = len(self._pending)
        unit_ends_before = len(self._unit_ends)
        self._undo.append({})
        try:
            yield
        except BaseException:
            undo = self._undo.pop()
            for (kind, aggregate_id), before in undo.items():
                if before is _ABSENT:
                    del self._states[kind][aggregate_id]
                else:
                    self._states[kind][aggregate_id] = before
            del self._pending[pending_before:]
            del self._unit_ends[unit_ends_before:]
            raise
        undo = self._undo.pop()
        if self._undo:
            for key, before in undo.items():
                self._undo[-1].setdefault(key, before)

    def accept(self, record: CommandsAccepted) -> None:
        """Save an idempotency record with the pending events, in the same transaction."""
        assert not self._undo, "an idempotency record is not taken back"
        self._accepted.append(record)

    def end_unit(self) -> None:
        """Mark the events pending so far as whole units (an import's rows, each decided in
        full): a bulk write may start a new transaction here, and nowhere else."""
        if self._pending and (not self._unit_ends or self._unit_ends[-1] != len(self._pending)):
            self._unit_ends.append(len(self._pending))

    @property
    def pending(self) -> list[Event]:
        """A copy of the events pending, in recording order."""
        return list(self._pending)

    def units(self) -> list[list[Event]]:
        """The pending events cut into their units (see ``end_unit``), in order; events after
        the last mark form one unit."""
        pending = self._pending
        ends = [end for end in self._unit_ends if 0 < end < len(pending)]
        assert ends == sorted(set(ends)), "unit ends must increase"
        bounds = [0, *ends, len(pending)]
        return [pending[start:stop] for start, stop in pairwise(bounds) if start < stop]

    def take_pending(self) -> list[list[Event]]:
        """The pending events in their units, handed over: this unit of work forgets them (the
        caller saves them; the cached states still include them)."""
        assert not self._undo, "cannot hand over events inside a savepoint"
        assert not self._accepted, "idempotency records are saved by commit"
        units = self.units()
        self._pending = []
        self._unit_ends = []
        return units

    def commit(self) -> int:
        """Save every pending event in one transaction; returns how many were saved."""
        assert not self._undo, "cannot commit inside a savepoint"
        count = len(self._pending)
        if count or self._accepted:
            self._ledger.save(*self._pending, *self._accepted)
            self._pending = []
            self._unit_ends = []
            self._accepted = []
        return count
