"""``Ledger``: the public command API, an eventsourcing Application over the pure domain.

A command loads the aggregates it needs, asks the domain to decide, and saves every resulting
event in one transaction (``Application.save`` is atomic across aggregates). A version conflict
means another writer got there first: the command is re-run from fresh state a bounded number of
times, then ``ConcurrencyError`` is raised. Nothing is recorded when the domain refuses.

A ``Session`` is the unit of work behind every command: it caches the states it loaded, applies
new events to them at once (so later commands in the same session see them), and commits all
pending events together. Imports and the demo use one session for many commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Final, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper

from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    ConcurrencyError,
    CustomerNotFoundError,
    InvoiceNotFoundError,
    PaymentNotFoundError,
)
from arledger.domain.events import (
    CUSTOMER_EVENTS,
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    Event,
    Instalment,
    PaymentTermsKind,
)
from arledger.domain.invoice import Invoice
from arledger.domain.money import Money
from arledger.domain.payment import Payment
from arledger.domain.policy import AgeingPolicy
from arledger.projections import ageing

from .serialization import CattrsMapper, register_event_topics
from .store import describe_store, store_env

T = TypeVar("T")

RETRIES_MAX: Final = 5
"""Re-runs of a command after a version conflict before giving up: conflicts on the same few
aggregates resolve within a couple of tries; more means a hot spot worth reporting."""

EVENTS_PER_READ_MAX: Final = 5000
"""Page size when reading the whole log: bounds memory per round trip."""

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The one place arledger reads the wall clock: recording instants, in UTC."""
    return datetime.now(UTC)


class Session:
    """A unit of work: cached aggregate states and the events pending for one transaction."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.recorded_at = ledger.clock()
        self.customers: dict[UUID, CustomerAccount | None] = {}
        self.invoices: dict[UUID, Invoice | None] = {}
        self.payments: dict[UUID, Payment | None] = {}
        self.pending: list[Event] = []

    # Loading ----------------------------------------------------------------------------------

    def _load(self, cache: dict[UUID, Any], aggregate_id: UUID, fold: Callable[..., Any]) -> Any:
        if aggregate_id not in cache:
            cache[aggregate_id] = fold(self.ledger.events.get(aggregate_id))
        return cache[aggregate_id]

    def customer_by_id(self, customer_id: UUID) -> CustomerAccount | None:
        state: CustomerAccount | None = self._load(
            self.customers, customer_id, customer_module.fold
        )
        return state

    def customer(self, customer_code: str) -> CustomerAccount | None:
        return self.customer_by_id(ids.customer_id(customer_code))

    def invoice_by_id(self, invoice_id: UUID) -> Invoice | None:
        state: Invoice | None = self._load(self.invoices, invoice_id, invoice_module.fold)
        return state

    def invoice(self, invoice_number: str) -> Invoice | None:
        return self.invoice_by_id(ids.invoice_id(invoice_number))

    def payment(self, bank_reference: str) -> Payment | None:
        state: Payment | None = self._load(
            self.payments, ids.payment_id(bank_reference), payment_module.fold
        )
        return state

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

    # Recording --------------------------------------------------------------------------------

    def record(self, events: Sequence[Event]) -> list[Event]:
        """Apply new events to the cached states and queue them for the commit."""
        for event in events:
            event_type = type(event)
            if event_type in INVOICE_EVENTS:
                self.invoices[event.originator_id] = invoice_module.evolve(
                    self.invoices.get(event.originator_id), event
                )
            elif event_type in PAYMENT_EVENTS:
                self.payments[event.originator_id] = payment_module.evolve(
                    self.payments.get(event.originator_id), event
                )
            else:
                assert event_type in CUSTOMER_EVENTS, event_type
                self.customers[event.originator_id] = customer_module.evolve(
                    self.customers.get(event.originator_id), event
                )
        self.pending.extend(events)
        return list(events)

    def commit(self) -> int:
        """Save every pending event in one transaction; returns how many were saved."""
        count = len(self.pending)
        if count:
            self.ledger.save(*self.pending)
            self.pending = []
        return count

    # Commands ---------------------------------------------------------------------------------

    def open_account(
        self,
        *,
        customer_code: str,
        name: str,
        currency: str,
        collection_owner: str,
        opened_on: date,
        terms_kind: PaymentTermsKind = PaymentTermsKind.NET,
        terms_days: int = 30,
    ) -> list[Event]:
        existing = self.customer(customer_code) if isinstance(customer_code, str) else None
        return self.record(
            customer_module.open_account(
                existing,
                customer_code=customer_code,
                name=name,
                currency=currency,
                collection_owner=collection_owner,
                opened_on=opened_on,
                terms_kind=terms_kind,
                terms_days=terms_days,
                recorded_at=self.recorded_at,
            )
        )

    def issue_invoice(
        self,
        *,
        invoice_number: str,
        customer_code: str,
        amount: Money,
        issued_on: date,
        due_on: date | None = None,
        instalments: Sequence[Instalment] = (),
        contract_reference: str = "",
    ) -> list[Event]:
        existing = self.invoice(invoice_number) if isinstance(invoice_number, str) else None
        account = self.customer(customer_code) if isinstance(customer_code, str) else None
        return self.record(
            invoice_module.issue_invoice(
                existing,
                account,
                invoice_number=invoice_number,
                customer_code=customer_code,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                issued_on=issued_on,
                due_on=due_on,
                instalments=instalments,
                contract_reference=contract_reference,
                recorded_at=self.recorded_at,
            )
        )

    def receive_payment(
        self, *, bank_reference: str, payer_code: str, amount: Money, value_on: date
    ) -> list[Event]:
        existing = self.payment(bank_reference) if isinstance(bank_reference, str) else None
        payer = self.customer(payer_code) if isinstance(payer_code, str) else None
        return self.record(
            payment_module.receive_payment(
                existing,
                payer,
                bank_reference=bank_reference,
                payer_code=payer_code,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                value_on=value_on,
                recorded_at=self.recorded_at,
            )
        )

    def allocate_payment(
        self,
        *,
        bank_reference: str,
        allocations: Mapping[str, Money] | None = None,
        allocated_on: date | None = None,
    ) -> list[Event]:
        """Allocate explicitly (invoice number -> amount) or, without ``allocations``,
        automatically to the payer's open invoices, oldest due date first."""
        payment = self.require_payment(bank_reference)
        if allocations is None:
            payer = self.customer_by_id(payment.payer_customer_id)
            assert payer is not None
            invoices = [self.invoice_by_id(invoice_id) for invoice_id in payer.invoice_ids]
            targets = payment_module.plan_oldest_due_first(
                payment, [invoice for invoice in invoices if invoice is not None]
            )
        else:
            targets = []
            for invoice_number, amount in allocations.items():
                invoice = self.require_invoice(invoice_number)
                if amount.currency != payment.currency:
                    amount = amount + Money.zero(payment.currency)  # raises the mismatch
                targets.append((invoice, amount.amount_minor))
        return self.record(
            payment_module.allocate_payment(
                payment, targets, allocated_on=allocated_on, recorded_at=self.recorded_at
            )
        )

    def reverse_payment(
        self, *, bank_reference: str, reversed_on: date, reason: str
    ) -> list[Event]:
        payment = self.require_payment(bank_reference)
        invoices = [self.invoice_by_id(invoice_id) for invoice_id in payment.allocations]
        return self.record(
            payment_module.reverse_payment(
                payment,
                [invoice for invoice in invoices if invoice is not None],
                reversed_on=reversed_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def apply_credit_note(
        self,
        *,
        invoice_number: str,
        credit_note_number: str,
        amount: Money,
        applied_on: date,
        reason: str,
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        _same_currency(invoice, amount)
        return self.record(
            invoice_module.apply_credit_note(
                invoice,
                credit_note_number=credit_note_number,
                amount_minor=amount.amount_minor,
                applied_on=applied_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def approve_concession(
        self, *, invoice_number: str, amount: Money, approved_on: date, reason: str, approver: str
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        _same_currency(invoice, amount)
        return self.record(
            invoice_module.approve_concession(
                invoice,
                amount_minor=amount.amount_minor,
                approved_on=approved_on,
                reason=reason,
                approver=approver,
                recorded_at=self.recorded_at,
            )
        )

    def write_off(
        self, *, invoice_number: str, written_off_on: date, reason: str, approver: str
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        return self.record(
            invoice_module.write_off(
                invoice,
                written_off_on=written_off_on,
                reason=reason,
                approver=approver,
                recorded_at=self.recorded_at,
            )
        )

    def reinstate(
        self, *, invoice_number: str, reinstated_on: date, reason: str, approver: str
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        return self.record(
            invoice_module.reinstate(
                invoice,
                reinstated_on=reinstated_on,
                reason=reason,
                approver=approver,
                recorded_at=self.recorded_at,
            )
        )


def _same_currency(invoice: Invoice, amount: Money) -> None:
    Money.zero(invoice.currency) + amount  # raises CurrencyMismatchError when they differ


class Ledger(Application[UUID]):
    """The receivables ledger. Store chosen by environment (see ``arledger.adapters.store``).

    ``env`` entries given to the constructor win over ``os.environ``.
    """

    name = "arledger"
    env: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock | None = None,
        retries_max: int = RETRIES_MAX,
    ) -> None:
        self.clock: Clock = clock or system_clock
        self.retries_max = retries_max
        merged = dict(os.environ)
        if env:
            merged.update(env)
        self.store_settings = store_env(merged)
        register_event_topics()
        super().__init__(env=self.store_settings)

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=CattrsMapper
        )

    @property
    def store_description(self) -> str:
        return describe_store(self.store_settings)

    # Units of work ----------------------------------------------------------------------------

    def session(self) -> Session:
        """A unit of work; call ``commit()`` to save its events in one transaction."""
        return Session(self)

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a fresh session and commit; retry on version conflicts."""
        for _attempt in range(self.retries_max):
            session = self.session()
            result = work(session)
            try:
                session.commit()
            except IntegrityError:
                continue
            return result
        raise ConcurrencyError(
            f"gave up after {self.retries_max} attempts: other writers kept changing the same "
            "aggregates",
            attempts=self.retries_max,
        )

    # Commands (each one transaction) ----------------------------------------------------------

    def open_account(self, customer_code: str, **fields: Any) -> UUID:
        self.run(lambda s: s.open_account(customer_code=customer_code, **fields))
        return ids.customer_id(customer_code)

    def issue_invoice(self, invoice_number: str, **fields: Any) -> UUID:
        self.run(lambda s: s.issue_invoice(invoice_number=invoice_number, **fields))
        return ids.invoice_id(invoice_number)

    def receive_payment(self, bank_reference: str, **fields: Any) -> UUID:
        self.run(lambda s: s.receive_payment(bank_reference=bank_reference, **fields))
        return ids.payment_id(bank_reference)

    def allocate_payment(
        self,
        bank_reference: str,
        allocations: Mapping[str, Money] | None = None,
        *,
        allocated_on: date | None = None,
    ) -> list[Event]:
        return self.run(
            lambda s: s.allocate_payment(
                bank_reference=bank_reference, allocations=allocations, allocated_on=allocated_on
            )
        )

    def reverse_payment(
        self, bank_reference: str, *, reversed_on: date, reason: str
    ) -> list[Event]:
        return self.run(
            lambda s: s.reverse_payment(
                bank_reference=bank_reference, reversed_on=reversed_on, reason=reason
            )
        )

    def apply_credit_note(self, invoice_number: str, **fields: Any) -> list[Event]:
        return self.run(lambda s: s.apply_credit_note(invoice_number=invoice_number, **fields))

    def approve_concession(self, invoice_number: str, **fields: Any) -> list[Event]:
        return self.run(lambda s: s.approve_concession(invoice_number=invoice_number, **fields))

    def write_off(self, invoice_number: str, **fields: Any) -> list[Event]:
        return self.run(lambda s: s.write_off(invoice_number=invoice_number, **fields))

    def reinstate(self, invoice_number: str, **fields: Any) -> list[Event]:
        return self.run(lambda s: s.reinstate(invoice_number=invoice_number, **fields))

    # Queries ----------------------------------------------------------------------------------

    def customer(self, customer_code: str) -> CustomerAccount:
        return self.session().require_customer(customer_code)

    def invoice(self, invoice_number: str) -> Invoice:
        return self.session().require_invoice(invoice_number)

    def payment(self, bank_reference: str) -> Payment:
        return self.session().require_payment(bank_reference)

    def iter_events(self, *, page_size: int = EVENTS_PER_READ_MAX) -> Iterator[Event]:
        """Every event in recording order, read in pages."""
        start = 1
        while True:
            page = self.recorder.select_notifications(start, page_size)
            if not page:
                return
            for notification in page:
                yield cast(Event, self.mapper.to_domain_event(notification))
            start = page[-1].id + 1

    def ageing(
        self,
        as_of: date,
        *,
        grouping: ageing.AgeingGrouping = ageing.AgeingGrouping.PORTFOLIO,
        policy: AgeingPolicy | None = None,
        known_at: datetime | None = None,
    ) -> ageing.AgeingReport:
        """The ageing table as of ``as_of``, folded from the whole log."""
        state = ageing.fold_all(self.iter_events(), known_at=known_at)
        return ageing.ageing_report(state, as_of, policy=policy, grouping=grouping)
