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
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Final, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper
from eventsourcing.utils import Environment

from arledger.adapters.persistence.serialization import CattrsMapper, register_event_topics
from arledger.adapters.persistence.store import (
    describe_store,
    prepare_sqlite_file,
    store_env,
    store_errors,
    table_creation_serialised,
)
from arledger.adapters.read_models.engine import QueryEngine
from arledger.adapters.read_models.runner import ProjectionRunner, StaleRunnerError
from arledger.domain import collection_case as case_module
from arledger.domain import credit_note as credit_note_module
from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain import promise as promise_module
from arledger.domain.collection_case import CollectionCase
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    ConcurrencyError,
    ConfigurationError,
    CustomerNotFoundError,
    InvoiceNotFoundError,
    PaymentNotFoundError,
    PromiseNotFoundError,
)
from arledger.domain.events import (
    CASE_EVENTS,
    COLLECTION_CUSTOMER_EVENTS,
    CREDIT_NOTE_EVENTS,
    CUSTOMER_EVENTS,
    DISPUTE_EVENTS,
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    POLICY_EVENTS,
    PROMISE_EVENTS,
    ActionChannel,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    Instalment,
    PaymentAllocated,
    PaymentApplied,
    PaymentTermsKind,
    RiskRating,
)
from arledger.domain.invoice import Invoice
from arledger.domain.money import Money, require_money
from arledger.domain.payment import Payment
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from arledger.domain.policy_book import PolicyBook
from arledger.domain.promise import Promise
from arledger.domain.rules import require_date, require_period
from arledger.domain.text import require_key, require_person
from arledger.projections import ageing
from arledger.projections import statement as statement_projection
from arledger.projections.portfolio import Confirmation, PortfolioState
from arledger.projections.portfolio import ageing_report as portfolio_ageing_report
from arledger.projections.portfolio import fold_all as fold_portfolio
from arledger.projections.statement import Statement

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
        self.promises: dict[UUID, Promise | None] = {}
        self.cases: dict[UUID, CollectionCase | None] = {}
        self.policy_books: dict[UUID, PolicyBook | None] = {}
        self.credit_notes: dict[UUID, CreditNote | None] = {}
        self.pending: list[Event] = []
        self.unit_ends: list[int] = []
        """Lengths of ``pending`` where a unit ended (``end_unit``): the only places a bulk write
        may cut ``pending`` into transactions (see ``arledger.adapters.persistence.bulk``)."""

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
        return self.customer_by_id(ids.customer_id(require_key("customer_code", customer_code)))

    def invoice_by_id(self, invoice_id: UUID) -> Invoice | None:
        state: Invoice | None = self._load(self.invoices, invoice_id, invoice_module.fold)
        return state

    def invoice(self, invoice_number: str) -> Invoice | None:
        return self.invoice_by_id(ids.invoice_id(require_key("invoice_number", invoice_number)))

    def payment(self, bank_reference: str) -> Payment | None:
        state: Payment | None = self._load(
            self.payments,
            ids.payment_id(require_key("bank_reference", bank_reference)),
            payment_module.fold,
        )
        return state

    def invoices_of(self, account: CustomerAccount) -> list[Invoice]:
        """Every invoice of the account (its index lists only invoices that exist)."""
        invoices = [self.invoice_by_id(invoice_id) for invoice_id in account.invoice_ids]
        assert all(invoice is not None for invoice in invoices)
        return [invoice for invoice in invoices if invoice is not None]

    def credit_note(self, credit_note_number: str) -> CreditNote | None:
        """The registration of a credit-note number, if it was ever used."""
        state: CreditNote | None = self._load(
            self.credit_notes, ids.credit_note_id(credit_note_number), credit_note_module.fold
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
            cache_name, evolve = _EVOLVERS[type(event)]
            cache: dict[UUID, Any] = getattr(self, cache_name)
            cache[event.originator_id] = evolve(cache.get(event.originator_id), event)
        self.pending.extend(events)
        return list(events)

    def end_unit(self) -> None:
        """Mark the events pending so far as whole units (an import's rows, each decided in
        full): a bulk write may start a new transaction here, and nowhere else."""
        if self.pending and (not self.unit_ends or self.unit_ends[-1] != len(self.pending)):
            self.unit_ends.append(len(self.pending))

    def commit(self) -> int:
        """Save every pending event in one transaction; returns how many were saved."""
        count = len(self.pending)
        if count:
            self.ledger.save(*self.pending)
            self.pending = []
            self.unit_ends = []
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
        terms_days: int = customer_module.DEFAULT_TERMS_DAYS,
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
        amount = require_money("amount", amount)
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
        amount = require_money("amount", amount)
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
        allocation_key: str | None = None,
    ) -> list[Event]:
        """Allocate explicitly (invoice number -> amount) or, without ``allocations``,
        automatically to the payer's open invoices, oldest due date first.

        ``allocation_key`` (optional, the client's, unique per payment) makes a retry safe:
        the same key with the same content records nothing and returns the events the first
        allocation recorded; with other content it is refused (``AllocationKeyConflictError``).
        """
        payment = self.require_payment(bank_reference)
        explicit: list[tuple[Invoice, int]] | None = None
        if allocations is not None:
            explicit = []
            for invoice_number, amount in allocations.items():
                invoice = self.require_invoice(invoice_number)
                amount = require_money("amount", amount)
                if amount.currency != payment.currency:
                    amount = amount + Money.zero(payment.currency)  # raises the mismatch
                explicit.append((invoice, amount.amount_minor))
        if allocation_key is not None and payment_module.replayed_allocation(
            payment, allocation_key=allocation_key, targets=explicit, allocated_on=allocated_on
        ):
            return self._keyed_allocation(payment, allocation_key)
        if explicit is None:
            payer = self.customer_by_id(payment.payer_customer_id)
            assert payer is not None
            targets = payment_module.plan_oldest_due_first(payment, self.invoices_of(payer))
        else:
            targets = explicit
        return self.record(
            payment_module.allocate_payment(
                payment,
                targets,
                allocated_on=allocated_on,
                allocation_key=allocation_key,
                recorded_at=self.recorded_at,
            )
        )

    def _keyed_allocation(self, payment: Payment, allocation_key: str) -> list[Event]:
        """The events an allocation with this key recorded, in the order it returned them:
        each invoice's ``PaymentApplied`` then the payment's ``PaymentAllocated``. Read from
        the store (and this session's pending events), so a retry from another process or
        after a restart gets the same answer."""
        allocated = [
            event
            for event in self._events_of(payment.id)
            if isinstance(event, PaymentAllocated) and event.allocation_key == allocation_key
        ]
        result: list[Event] = []
        taken: set[tuple[UUID, int]] = set()
        for part in allocated:
            # The invoice side was recorded in the same command: same payment, amount and
            # recording instant (the invoice's version is not on the payment's event).
            applied = next(
                event
                for event in self._events_of(part.invoice_id)
                if isinstance(event, PaymentApplied)
                and event.payment_id == payment.id
                and event.amount_minor == part.amount_minor
                and event.timestamp == part.timestamp
                and (event.originator_id, event.originator_version) not in taken
            )
            taken.add((applied.originator_id, applied.originator_version))
            result += [applied, part]
        return result

    def _events_of(self, aggregate_id: UUID) -> list[Event]:
        stored = cast(list[Event], list(self.ledger.events.get(aggregate_id)))
        pending = [event for event in self.pending if event.originator_id == aggregate_id]
        return stored + pending

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
        amount = require_money("amount", amount)
        account = self.customer_by_id(invoice.customer_id)
        assert account is not None
        registered = (
            self.credit_note(credit_note_number) if isinstance(credit_note_number, str) else None
        )
        return self.record(
            invoice_module.apply_credit_note(
                invoice,
                account,
                registered,
                credit_note_number=credit_note_number,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
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

    # Collections commands ---------------------------------------------------------------------

    def promise(self, promise_reference: str) -> Promise | None:
        state: Promise | None = self._load(
            self.promises,
            ids.promise_id(require_key("promise_reference", promise_reference)),
            promise_module.fold,
        )
        return state

    def require_promise(self, promise_reference: str) -> Promise:
        state = self.promise(promise_reference)
        if state is None:
            raise PromiseNotFoundError(
                f"no promise to pay {promise_reference!r}", promise_reference=promise_reference
            )
        return state

    def case(self, customer_code: str) -> CollectionCase | None:
        state: CollectionCase | None = self._load(
            self.cases,
            ids.collection_case_id(require_key("customer_code", customer_code)),
            case_module.fold,
        )
        return state

    def policy_book(self) -> PolicyBook | None:
        state: PolicyBook | None = self._load(
            self.policy_books, ids.policy_book_id(), policy_book_module.fold
        )
        return state

    def set_credit_line(
        self,
        *,
        customer_code: str,
        amount: Money,
        effective_on: date,
        approver: str,
        reason: str,
        registered_capital: Money | None = None,
    ) -> list[Event]:
        account = self.require_customer(customer_code)
        _same_currency(account, amount)
        if registered_capital is not None:
            _same_currency(account, registered_capital)
        return self.record(
            customer_module.set_credit_line(
                account,
                amount_minor=amount.amount_minor,
                effective_on=effective_on,
                approver=approver,
                reason=reason,
                registered_capital_minor=None
                if registered_capital is None
                else registered_capital.amount_minor,
                recorded_at=self.recorded_at,
            )
        )

    def rate_risk(
        self, *, customer_code: str, rating: RiskRating, rated_on: date, reason: str
    ) -> list[Event]:
        return self.record(
            customer_module.rate_risk(
                self.require_customer(customer_code),
                rating=rating,
                rated_on=rated_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def blacklist(self, *, customer_code: str, blacklisted_on: date, reason: str) -> list[Event]:
        return self.record(
            customer_module.blacklist(
                self.require_customer(customer_code),
                blacklisted_on=blacklisted_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def clear_blacklist(self, *, customer_code: str, cleared_on: date, reason: str) -> list[Event]:
        return self.record(
            customer_module.clear_blacklist(
                self.require_customer(customer_code),
                cleared_on=cleared_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def change_terms(
        self,
        *,
        customer_code: str,
        terms_kind: PaymentTermsKind,
        terms_days: int,
        changed_on: date,
    ) -> list[Event]:
        return self.record(
            customer_module.change_terms(
                self.require_customer(customer_code),
                terms_kind=terms_kind,
                terms_days=terms_days,
                changed_on=changed_on,
                recorded_at=self.recorded_at,
            )
        )

    def set_payment_calendar(
        self,
        *,
        customer_code: str,
        book_closing_day: int | None,
        payment_run_days: Sequence[int],
        set_on: date,
    ) -> list[Event]:
        return self.record(
            customer_module.set_payment_calendar(
                self.require_customer(customer_code),
                book_closing_day=book_closing_day,
                payment_run_days=tuple(payment_run_days),
                set_on=set_on,
                recorded_at=self.recorded_at,
            )
        )

    def change_owner(
        self, *, customer_code: str, collection_owner: str, changed_on: date
    ) -> list[Event]:
        return self.record(
            customer_module.change_owner(
                self.require_customer(customer_code),
                collection_owner=collection_owner,
                changed_on=changed_on,
                recorded_at=self.recorded_at,
            )
        )

    def set_key_contact(
        self,
        *,
        customer_code: str,
        role: ContactRole,
        name: str,
        set_on: date,
        phone: str = "",
        email: str = "",
    ) -> list[Event]:
        return self.record(
            customer_module.set_key_contact(
                self.require_customer(customer_code),
                role=role,
                name=name,
                phone=phone,
                email=email,
                set_on=set_on,
                recorded_at=self.recorded_at,
            )
        )

    def hold_supply(
        self, *, customer_code: str, held_on: date, reason: str, by_policy: bool = False
    ) -> list[Event]:
        return self.record(
            customer_module.hold_supply(
                self.require_customer(customer_code),
                held_on=held_on,
                reason=reason,
                by_policy=by_policy,
                recorded_at=self.recorded_at,
            )
        )

    def release_supply(
        self, *, customer_code: str, released_on: date, reason: str, by_policy: bool = False
    ) -> list[Event]:
        return self.record(
            customer_module.release_supply(
                self.require_customer(customer_code),
                released_on=released_on,
                reason=reason,
                by_policy=by_policy,
                recorded_at=self.recorded_at,
            )
        )

    def send_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        balance_as_of: date,
        sent_on: date,
    ) -> list[Event]:
        """Record a confirmation sent with the ledger's open balance as of ``balance_as_of``
        (in the account's currency), worked out from the ageing fold."""
        account = self.require_customer(customer_code)
        require_date("balance_as_of", balance_as_of)  # before the ageing, which says "as_of"
        report = self.ledger.ageing(balance_as_of, grouping=ageing.AgeingGrouping.CUSTOMER)
        balance = sum(
            row.open_minor
            for row in report.rows
            if row.key == account.customer_code and row.currency == account.currency
        )
        return self.record(
            customer_module.send_balance_confirmation(
                account,
                confirmation_reference=confirmation_reference,
                balance_as_of=balance_as_of,
                ledger_balance_minor=balance,
                sent_on=sent_on,
                recorded_at=self.recorded_at,
            )
        )

    def acknowledge_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        confirmed_balance: Money,
        acknowledged_on: date,
    ) -> list[Event]:
        account = self.require_customer(customer_code)
        _same_currency(account, confirmed_balance)
        return self.record(
            customer_module.acknowledge_balance_confirmation(
                account,
                confirmation_reference=confirmation_reference,
                confirmed_balance_minor=confirmed_balance.amount_minor,
                acknowledged_on=acknowledged_on,
                recorded_at=self.recorded_at,
            )
        )

    def open_dispute(
        self,
        *,
        invoice_number: str,
        dispute_reference: str,
        amount: Money,
        reason_code: DisputeReason,
        root_cause: str,
        opened_on: date,
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        _same_currency(invoice, amount)
        return self.record(
            invoice_module.open_dispute(
                invoice,
                dispute_reference=dispute_reference,
                amount_minor=amount.amount_minor,
                reason_code=reason_code,
                root_cause=root_cause,
                opened_on=opened_on,
                recorded_at=self.recorded_at,
            )
        )

    def resolve_dispute(
        self,
        *,
        invoice_number: str,
        dispute_reference: str,
        outcome: DisputeOutcome,
        resolved_on: date,
        note: str,
        upheld: Money | None = None,
        credit_note_number: str | None = None,
    ) -> list[Event]:
        invoice = self.require_invoice(invoice_number)
        if upheld is not None:
            _same_currency(invoice, upheld)
        number = invoice_module.dispute_credit_note_number(dispute_reference, credit_note_number)
        registered = self.credit_note(number) if isinstance(number, str) else None
        return self.record(
            invoice_module.resolve_dispute(
                invoice,
                dispute_reference=dispute_reference,
                outcome=outcome,
                resolved_on=resolved_on,
                note=note,
                upheld_minor=None if upheld is None else upheld.amount_minor,
                credit_note_number=credit_note_number,
                registered=registered,
                recorded_at=self.recorded_at,
            )
        )

    def make_promise(
        self,
        *,
        customer_code: str,
        promise_reference: str,
        amount: Money,
        promised_on: date,
        made_on: date,
        contact: str,
        invoice_numbers: Sequence[str] = (),
        supersedes: str | None = None,
    ) -> list[Event]:
        account = self.require_customer(customer_code)
        amount = require_money("amount", amount)
        existing = self.promise(promise_reference) if isinstance(promise_reference, str) else None
        invoices = [self.require_invoice(number) for number in invoice_numbers]
        # Naming no invoice, a promise is held to what the whole account has open.
        account_invoices = [] if invoices else self.invoices_of(account)
        return self.record(
            promise_module.make_promise(
                existing,
                account,
                promise_reference=promise_reference,
                amount_minor=amount.amount_minor,
                currency=amount.currency,
                promised_on=promised_on,
                made_on=made_on,
                contact=contact,
                invoices=invoices,
                account_invoices=account_invoices,
                supersedes=None if supersedes is None else self.require_promise(supersedes),
                recorded_at=self.recorded_at,
            )
        )

    def withdraw_promise(
        self, *, promise_reference: str, withdrawn_on: date, reason: str
    ) -> list[Event]:
        return self.record(
            promise_module.withdraw_promise(
                self.require_promise(promise_reference),
                withdrawn_on=withdrawn_on,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )

    def record_action(
        self,
        *,
        customer_code: str,
        channel: ActionChannel,
        taken_on: date,
        collector: str,
        contact: str,
        outcome: str,
        next_step: str = "",
        next_step_on: date | None = None,
    ) -> list[Event]:
        account = self.require_customer(customer_code)
        return self.record(
            case_module.record_action(
                self.case(customer_code),
                account,
                channel=channel,
                taken_on=taken_on,
                collector=collector,
                contact=contact,
                outcome=outcome,
                next_step=next_step,
                next_step_on=next_step_on,
                recorded_at=self.recorded_at,
            )
        )

    def diagnose(
        self,
        *,
        customer_code: str,
        delinquency_type: DelinquencyType,
        diagnosed_on: date,
        note: str,
    ) -> list[Event]:
        account = self.require_customer(customer_code)
        return self.record(
            case_module.diagnose(
                self.case(customer_code),
                account,
                delinquency_type=delinquency_type,
                diagnosed_on=diagnosed_on,
                note=note,
                recorded_at=self.recorded_at,
            )
        )

    def adopt_policy(
        self, *, policy: EscalationPolicy, effective_on: date, approver: str, reason: str
    ) -> list[Event]:
        return self.record(
            policy_book_module.adopt_policy(
                self.policy_book(),
                policy=policy,
                effective_on=effective_on,
                approver=approver,
                reason=reason,
                recorded_at=self.recorded_at,
            )
        )


_EVOLVERS: Final[dict[type[Event], tuple[str, Callable[[Any, Event], Any]]]] = {
    **{t: ("customers", customer_module.evolve) for t in CUSTOMER_EVENTS},
    **{t: ("customers", customer_module.evolve) for t in COLLECTION_CUSTOMER_EVENTS},
    **{t: ("invoices", invoice_module.evolve) for t in INVOICE_EVENTS},
    **{t: ("invoices", invoice_module.evolve) for t in DISPUTE_EVENTS},
    **{t: ("payments", payment_module.evolve) for t in PAYMENT_EVENTS},
    **{t: ("promises", promise_module.evolve) for t in PROMISE_EVENTS},
    **{t: ("cases", case_module.evolve) for t in CASE_EVENTS},
    **{t: ("policy_books", policy_book_module.evolve) for t in POLICY_EVENTS},
    **{t: ("credit_notes", credit_note_module.evolve) for t in CREDIT_NOTE_EVENTS},
}
"""Which cache and evolve function each event type belongs to."""


def _same_currency(holder: Invoice | CustomerAccount, amount: Money) -> None:
    """Refuse an amount in another currency than the invoice's or the account's."""
    Money.zero(holder.currency) + amount  # raises CurrencyMismatchError when they differ


def _one_transaction(name: str) -> Callable[..., list[Event]]:
    """A Ledger command that runs the Session command ``name`` in its own transaction."""

    def command(self: Ledger, **fields: Any) -> list[Event]:
        return self.run(lambda session: getattr(session, name)(**fields))

    command.__name__ = name
    command.__qualname__ = f"Ledger.{name}"
    command.__doc__ = getattr(Session, name).__doc__
    return command


class Ledger(Application[UUID]):
    """The receivables ledger. Store chosen by environment (see
    ``arledger.adapters.persistence.store``).

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
        read_models: str | None = None,
    ) -> None:
        """``read_models``: ``"stored"`` serves portfolio queries (ageing, worklist, KPIs) from
        the query engine's live columnar log and one customer's queries from the stored read
        models (caught up before each query); ``"replay"`` folds the log on each query (the
        reference path). Default: ``ARLEDGER_READ_MODELS``, else stored for SQLite and
        PostgreSQL, replay in memory (where "stored" keeps the columnar log in memory only).
        """
        self.clock: Clock = clock or system_clock
        self.retries_max = retries_max
        merged = dict(os.environ)
        if env:
            merged.update(env)
        self.store_settings = store_env(merged)
        self.in_memory = self.store_settings["PERSISTENCE_MODULE"].endswith("popo")
        self.read_models = (
            read_models
            or merged.get("ARLEDGER_READ_MODELS")
            or ("replay" if self.in_memory else "stored")
        )
        if self.read_models not in ("stored", "replay"):
            raise ConfigurationError(
                f"read_models={self.read_models!r}; expected 'stored' or 'replay'",
                read_models=self.read_models,
            )
        self._runner: ProjectionRunner | None = None
        self._engine: QueryEngine | None = None
        self._engine_lock = threading.Lock()
        register_event_topics()
        # A store that cannot be opened raises StoreUnavailableError (what, where, what to
        # check), not the driver's error.
        with store_errors(self.store_settings):
            prepare_sqlite_file(self.store_settings)
            with table_creation_serialised(self.store_settings):
                super().__init__(env=self.store_settings)

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """The library's environment, with the store settings ``store_env`` resolved winning.

        The library looks a key up with the application's name as a prefix first
        (``ARLEDGER_POSTGRES_SCHEMA`` before ``POSTGRES_SCHEMA``), and it merges ``os.environ``
        under the settings given: arledger's own ``ARLEDGER_POSTGRES_*`` variables in the
        process environment would otherwise win over what the constructor's ``env`` chose,
        and the library and the read models could use different schemas or timeouts.
        """
        environment = super().construct_env(name, env)
        for key in env or {}:
            environment.pop(f"{name.upper()}_{key}", None)
        return environment

    def projection_runner(self) -> ProjectionRunner:
        """The runner of the stored read models (SQLite and PostgreSQL stores)."""
        if self._runner is None:
            self._runner = ProjectionRunner(self)
        return self._runner

    def query_engine(self) -> QueryEngine:
        """The engine answering portfolio queries from the live columnar log (one per Ledger,
        shared by its threads)."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = QueryEngine.for_ledger(self)
            return self._engine

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        super().close()

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
        allocation_key: str | None = None,
    ) -> list[Event]:
        """Allocate a payment (see ``Session.allocate_payment``); with an ``allocation_key``,
        a retry returns the first result and records nothing."""
        return self.run(
            lambda s: s.allocate_payment(
                bank_reference=bank_reference,
                allocations=allocations,
                allocated_on=allocated_on,
                allocation_key=allocation_key,
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

    # Collections commands, keyword arguments only, each one transaction (see ``Session``).
    set_credit_line = _one_transaction("set_credit_line")
    rate_risk = _one_transaction("rate_risk")
    blacklist = _one_transaction("blacklist")
    clear_blacklist = _one_transaction("clear_blacklist")
    change_terms = _one_transaction("change_terms")
    set_payment_calendar = _one_transaction("set_payment_calendar")
    change_owner = _one_transaction("change_owner")
    set_key_contact = _one_transaction("set_key_contact")
    hold_supply = _one_transaction("hold_supply")
    release_supply = _one_transaction("release_supply")
    send_balance_confirmation = _one_transaction("send_balance_confirmation")
    acknowledge_balance_confirmation = _one_transaction("acknowledge_balance_confirmation")
    open_dispute = _one_transaction("open_dispute")
    resolve_dispute = _one_transaction("resolve_dispute")
    make_promise = _one_transaction("make_promise")
    withdraw_promise = _one_transaction("withdraw_promise")
    record_action = _one_transaction("record_action")
    diagnose = _one_transaction("diagnose")
    adopt_policy = _one_transaction("adopt_policy")

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
        edges_days: Sequence[int] | None = None,
        known_at: datetime | None = None,
    ) -> ageing.AgeingReport:
        """The ageing table as of ``as_of`` (as recorded by ``known_at``, if given).

        Buckets and basis are those of the escalation policy version in force on ``as_of``
        (as known at ``known_at``), like every other query; ``edges_days`` replaces its
        bucket edges for a one-off view, and an explicit ``policy`` replaces it whole.
        Served by the query engine (``read_models="stored"``), or replayed.
        """
        if self.read_models != "replay":
            return self.query_engine().ageing(
                as_of,
                grouping=grouping,
                policy=policy,
                edges_days=None if edges_days is None else tuple(edges_days),
                known_at=known_at,
            )
        state = self.portfolio(known_at=known_at)
        if policy is not None:
            if edges_days is not None:
                policy = AgeingPolicy(edges_days=edges_days, basis=policy.basis)
            return ageing.ageing_report(state.ageing, as_of, policy=policy, grouping=grouping)
        return portfolio_ageing_report(state, as_of, grouping=grouping, edges_days=edges_days)

    # Collections queries: pure read models over a fold of the log --------------------------

    def portfolio(
        self, *, known_at: datetime | None = None, customer_ids: Iterable[UUID] | None = None
    ) -> PortfolioState:
        """Every fact of the ledger with its business date, ready for the as-of queries below.

        From the stored read models (caught up first) unless replaying; ``known_at`` (only
        events recorded by then) always replays, since stored models hold the latest facts.
        ``customer_ids`` limits the stored read to those customers' partitions.
        """
        if self.read_models == "replay" or known_at is not None or self.in_memory:
            return fold_portfolio(self.iter_events(), known_at=known_at)
        runner = self.projection_runner()
        while True:
            try:
                runner.catch_up()
            except StaleRunnerError:
                continue  # another runner committed this batch first: read on from there
            return runner.portfolio(customer_ids)

    def escalation_status(
        self, customer_code: str, as_of: date, *, known_at: datetime | None = None
    ) -> Any:
        """Level, grade, reasons, suspension, next action and history of one customer."""
        from arledger.projections import escalation

        customer_id = self.customer(customer_code).id
        state = self._customer_portfolio(customer_id, known_at)
        return escalation.escalation_status(state, customer_id, as_of)

    def worklist(
        self, as_of: date, *, owner: str | None = None, known_at: datetime | None = None
    ) -> Any:
        """Customers needing action as of ``as_of``, in the policy's priority order."""
        from arledger.projections import escalation

        if owner is not None:
            require_person("owner", owner)
        if self.read_models != "replay":
            return self.query_engine().worklist(as_of, owner=owner, known_at=known_at)
        return escalation.worklist(self.portfolio(known_at=known_at), as_of, owner=owner)

    def explain(self, customer_code: str, as_of: date, *, known_at: datetime | None = None) -> str:
        """Why the customer stands at its level, in words and figures."""
        from arledger.projections import escalation

        customer_id = self.customer(customer_code).id
        state = self._customer_portfolio(customer_id, known_at)
        return escalation.explain(state, customer_id, as_of)

    def _customer_portfolio(self, customer_id: UUID, known_at: datetime | None) -> PortfolioState:
        """One customer's facts: from its stored partition; as known at ``known_at``, from the
        query engine's columnar log (that customer's events only), not a replay of the log."""
        if known_at is not None and self.read_models != "replay":
            events = self.query_engine().customer_events(customer_id, known_at)
            return fold_portfolio(events, known_at=known_at)
        return self.portfolio(known_at=known_at, customer_ids=[customer_id])

    def check_credit(self, customer_code: str, order_amount: Money, as_of: date) -> Any:
        """Approve or block an order, with every reason."""
        from arledger.projections import credit

        customer_id = self.customer(customer_code).id
        return credit.check_credit(
            self.portfolio(customer_ids=[customer_id]),
            customer_id,
            order_amount_minor=order_amount.amount_minor,
            currency=order_amount.currency,
            as_of=as_of,
        )

    def kpis(
        self,
        start_on: date,
        end_on: date,
        *,
        grouping: str = "portfolio",
        known_at: datetime | None = None,
    ) -> Any:
        """Collection KPIs for the period ``start_on``..``end_on`` (inclusive)."""
        from arledger.projections import kpis

        if self.read_models != "replay":
            return self.query_engine().kpis(start_on, end_on, grouping=grouping, known_at=known_at)
        return kpis.kpi_report(
            self.portfolio(known_at=known_at), start_on, end_on, grouping=grouping
        )

    def propose_credit_line(self, registered_capital: Money, on: date) -> Money:
        """The credit line the policy in force on ``on`` proposes for a registered capital."""
        policy = self.portfolio().policy_on(require_date("on", on))
        return Money(
            customer_module.propose_credit_line(registered_capital.amount_minor, policy),
            registered_capital.currency,
        )

    def expected_pay_on(self, invoice_number: str) -> date:
        """When the customer's payment calendar (book-closing and payment-run days) lets the
        invoice's money arrive."""
        invoice = self.invoice(invoice_number)
        state = self.portfolio(customer_ids=[invoice.customer_id])
        return state.expected_pay_on(invoice.id)

    def balance_confirmations(self, customer_code: str) -> list[Confirmation]:
        """The customer's balance confirmations, acknowledged ones with their (flagged)
        difference from the ledger."""
        customer_id = self.customer(customer_code).id
        state = self.portfolio(customer_ids=[customer_id])
        return list(state.customers[customer_id].confirmations)

    def statement(
        self, customer_code: str, from_on: date, to_on: date, *, known_at: datetime | None = None
    ) -> Statement:
        """The customer's statement of account for ``from_on``..``to_on`` (both included):
        opening balance, every movement with its date and reference, closing balance, its
        ageing, and unapplied cash (as recorded by ``known_at``, if given).

        Folds that customer's events: from the query engine's columnar log, or a replay. The
        stored partitions hold balances by date but not each movement's kind and reference.
        """
        require_period(require_date("from_on", from_on), require_date("to_on", to_on))
        customer_id = self.customer(customer_code).id
        if self.read_models != "replay":
            events: Iterable[Event] = self.query_engine().customer_events(customer_id, known_at)
        else:
            events = self.iter_events()
        state = statement_projection.fold_all(events, known_at=known_at)
        if customer_id not in state.portfolio.customers:
            raise CustomerNotFoundError(
                f"no customer account {customer_code!r} as known at {known_at}",
                customer_code=customer_code,
                known_at=known_at,
            )
        return statement_projection.statement_of_account(state, customer_id, from_on, to_on)
