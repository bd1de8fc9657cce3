"""Portfolio facts: one fold over the whole log keeping every fact the collection read models
need, each with its business date, so that any of them can be asked "as of" any date.

Builds on the ageing fold (invoices and their dated movements) and adds customers' dated
histories (owner, credit line, rating, blacklist, supply hold, terms, calendar, contacts,
balance confirmations), disputes, payments, promises, collection actions, diagnoses, waivers of
negotiation before legal and the escalation policy versions. Invariant: nothing here decides
anything; the queries in ``promises``, ``escalation`` and ``kpis`` do, from these facts and an
``as_of`` date.

Like the ageing state it is mutated in place for speed; ``fold`` returns the state it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Final, TypeAlias, TypeVar
from uuid import UUID

import attrs

from arledger.domain.calendar import expected_pay_on
from arledger.domain.events import (
    ActionChannel,
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    BankruptcyFiled,
    CollectionActionRecorded,
    CollectionOwnerChanged,
    CollectionTargetSet,
    ContactRole,
    CreditLineSet,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    DelinquencyDiagnosed,
    DelinquencyType,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    EscalationPolicyAdopted,
    Event,
    FraudSuspected,
    GoodsInLieuApplied,
    InvoiceAddedToAccount,
    KeyContactSet,
    NegotiationWaived,
    PaymentApplied,
    PaymentCalendarSet,
    PaymentReceived,
    PaymentReversed,
    PaymentTermsChanged,
    PaymentTermsKind,
    PaymentUnapplied,
    PromiseMade,
    PromiseSuperseded,
    PromiseTranche,
    PromiseWithdrawn,
    ReconciliationResolution,
    ReconciliationResolved,
    RiskRated,
    RiskRating,
    SupplyHeld,
    SupplyReleased,
)
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force

from . import ageing
from .ageing import InvoiceFacts
from .dispatch import TypeDispatch

V = TypeVar("V")

PaymentCalendar: TypeAlias = tuple[int | None, tuple[int, ...]]
"""A payment calendar: the book-closing day (or None) and the payment-run days of the month."""
NO_CALENDAR: Final[PaymentCalendar] = (None, ())


def value_on(history: Sequence[tuple[date, V]], on: date, default: V) -> V:
    """The value a dated history had on ``on``: the last entry dated on or before it.

    Entries are kept in recording order; for equal dates the later-recorded one wins.
    """
    result = default
    for entry_on, value in history:
        if entry_on <= on:
            result = value
    return result


@attrs.define
class CustomerHistory:
    customer_id: UUID
    customer_code: str
    name: str
    currency: str
    opened_on: date
    owners: list[tuple[date, str]]
    terms: list[tuple[date, tuple[PaymentTermsKind, int]]]
    credit_lines: list[tuple[date, int]] = attrs.field(factory=list)
    ratings: list[tuple[date, RiskRating]] = attrs.field(factory=list)
    blacklisted: list[tuple[date, bool]] = attrs.field(factory=list)
    bankruptcy_filed: list[date] = attrs.field(factory=list)
    """The day the customer's bankruptcy was filed (at most one)."""
    fraud_suspected: list[date] = attrs.field(factory=list)
    """The day fraud was suspected of the customer (at most one)."""
    supply_held: list[tuple[date, bool]] = attrs.field(factory=list)
    calendars: list[tuple[date, PaymentCalendar]] = attrs.field(factory=list)
    """The payment calendar's history: each from the date it was set (``set_on``)."""
    contacts: dict[ContactRole, tuple[str, str, str]] = attrs.field(factory=dict)
    confirmations: list[Confirmation] = attrs.field(factory=list)
    invoice_ids: list[UUID] = attrs.field(factory=list)
    reconciliations: list[Reconciliation] = attrs.field(factory=list)
    targets: list[tuple[date, date, int]] = attrs.field(factory=list)
    """Collection plan targets as set: (set on, month's first day, amount), recording order."""

    def owner_on(self, on: date) -> str:
        return value_on(self.owners, on, self.owners[0][1])

    def target_on(self, month_on: date, on: date) -> int:
        """The collection target for the month starting ``month_on`` as set by ``on`` (the
        last set on or before it; of one day, the last recorded); 0 when none."""
        return value_on(
            [(set_on, amount) for set_on, month, amount in self.targets if month == month_on],
            on,
            0,
        )

    def credit_line_on(self, on: date) -> int | None:
        return value_on(self.credit_lines, on, None)

    def rating_on(self, on: date) -> RiskRating | None:
        return value_on(self.ratings, on, None)

    def is_blacklisted_on(self, on: date) -> bool:
        return value_on(self.blacklisted, on, False)

    def is_bankrupt_on(self, on: date) -> bool:
        """Whether the customer's bankruptcy was filed by ``on``."""
        return any(filed_on <= on for filed_on in self.bankruptcy_filed)

    def is_fraud_suspected_on(self, on: date) -> bool:
        """Whether fraud was suspected of the customer by ``on``."""
        return any(suspected_on <= on for suspected_on in self.fraud_suspected)

    def is_supply_held_on(self, on: date) -> bool:
        return value_on(self.supply_held, on, False)

    def calendar_on(self, on: date) -> PaymentCalendar:
        """The payment calendar in force on ``on``: none (pay on the due date) before the
        first one was set."""
        return value_on(self.calendars, on, NO_CALENDAR)

    def reconciliations_open_on(self, on: date) -> tuple[OpenReconciliation, ...]:
        """The reconciliation items open at the end of ``on``, in order of opening."""
        return tuple(
            OpenReconciliation(
                confirmation_reference=item.confirmation_reference,
                difference_minor=item.difference_minor,
                currency=item.currency,
                opened_on=item.opened_on,
            )
            for item in self.reconciliations
            if item.is_open_on(on)
        )


@attrs.define
class Confirmation:
    reference: str
    balance_as_of: date
    ledger_balance_minor: int
    currency: str
    sent_on: date
    confirmed_balance_minor: int | None = None
    difference_minor: int | None = None
    acknowledged_on: date | None = None
    statement_from_on: date | None = None
    """The statement's first day (its last is ``balance_as_of``); None before confirmations
    were issued from a statement."""
    statement_lines: int | None = None

    @property
    def has_difference(self) -> bool:
        """Flagged: the customer confirmed a balance other than the ledger's."""
        return bool(self.difference_minor)


@attrs.define
class Reconciliation:
    """A difference a customer acknowledged on a balance confirmation (``difference_minor``:
    confirmed - ledger, signed), to be followed up until resolved by a credit note, a payment
    found or a dispute (``reference``), or accepted by an ``approver``."""

    confirmation_reference: str
    difference_minor: int
    currency: str
    opened_on: date
    resolution: ReconciliationResolution | None = None
    reference: str = ""
    approver: str = ""
    resolved_on: date | None = None
    note: str = ""

    def is_open_on(self, on: date) -> bool:
        return self.opened_on <= on and (self.resolved_on is None or self.resolved_on > on)


@attrs.frozen(kw_only=True)
class OpenReconciliation:
    """A reconciliation item open on a date, as the worklist and the status show it."""

    confirmation_reference: str
    difference_minor: int
    currency: str
    opened_on: date


@attrs.define
class DisputeFacts:
    reference: str
    invoice_id: UUID
    amount_minor: int
    reason_code: DisputeReason
    root_cause: str
    opened_on: date
    resolved_on: date | None = None
    outcome: DisputeOutcome | None = None
    upheld_minor: int = 0

    def is_open_on(self, on: date) -> bool:
        return self.opened_on <= on and (self.resolved_on is None or self.resolved_on > on)


@attrs.define
class PaymentFacts:
    payment_id: UUID
    bank_reference: str
    customer_id: UUID
    amount_minor: int
    currency: str
    value_on: date
    reversed_on: date | None = None

    def counts_on(self, on: date) -> bool:
        """Received by ``on`` and not reversed by then."""
        return self.value_on <= on and (self.reversed_on is None or self.reversed_on > on)


@attrs.define
class PromiseFacts:
    promise_id: UUID
    reference: str
    customer_id: UUID
    amount_minor: int
    currency: str
    promised_on: date
    made_on: date
    contact: str
    invoice_ids: tuple[UUID, ...]
    withdrawn_on: date | None = None
    superseded_on: date | None = None
    superseded_by: str | None = None
    tranches: tuple[PromiseTranche, ...] = ()
    """The dated parts (none: the whole amount on ``promised_on``)."""

    @property
    def schedule(self) -> tuple[PromiseTranche, ...]:
        """The tranches, or the whole amount as one tranche on the promised date."""
        if self.tranches:
            return self.tranches
        return (PromiseTranche(promised_on=self.promised_on, amount_minor=self.amount_minor),)


@attrs.define
class ActionFacts:
    customer_id: UUID
    channel: ActionChannel
    taken_on: date
    collector: str
    contact: str
    outcome: str
    next_step: str
    next_step_on: date | None


@attrs.define
class DiagnosisFacts:
    customer_id: UUID
    delinquency_type: DelinquencyType
    diagnosed_on: date
    note: str


@attrs.define
class WaiverFacts:
    """An approver's override of negotiation before legal (``NegotiationWaived``)."""

    customer_id: UUID
    waived_on: date
    approver: str
    reason: str


@attrs.define
class PortfolioState:
    ageing: ageing.AgeingState = attrs.field(factory=ageing.initial)
    customers: dict[UUID, CustomerHistory] = attrs.field(factory=dict)
    disputes: dict[UUID, list[DisputeFacts]] = attrs.field(factory=dict)
    payments: dict[UUID, PaymentFacts] = attrs.field(factory=dict)
    # invoice id -> [(payment id, business date, minor units: + applied, - unapplied)]
    applications: dict[UUID, list[tuple[UUID, date, int]]] = attrs.field(factory=dict)
    # Per invoice, what settlements in goods settled of it: (settlement reference, on, amount).
    goods_applications: dict[UUID, list[tuple[str, date, int]]] = attrs.field(factory=dict)
    promises: dict[UUID, PromiseFacts] = attrs.field(factory=dict)
    promise_ids_by_reference: dict[str, UUID] = attrs.field(factory=dict)
    actions: dict[UUID, list[ActionFacts]] = attrs.field(factory=dict)
    diagnoses: dict[UUID, list[DiagnosisFacts]] = attrs.field(factory=dict)
    waivers: dict[UUID, list[WaiverFacts]] = attrs.field(factory=dict)
    policy_versions: list[PolicyVersion] = attrs.field(factory=list)

    def policy_on(self, on: date) -> EscalationPolicy:
        return policy_in_force(self.policy_versions, on)

    def invoices_of(self, customer_id: UUID) -> list[InvoiceFacts]:
        history = self.customers.get(customer_id)
        if history is None:
            return []
        return [self.ageing.invoices[invoice_id] for invoice_id in history.invoice_ids]

    def expected_pay_on(self, invoice_id: UUID) -> date:
        """When the customer's payment calendar lets the invoice's money arrive.

        The calendar is the one in force on the invoice's due date: the day the customer's
        payment process takes the invoice up. A calendar set later (with a later ``set_on``)
        changes the expected pay date of invoices due from then on, never of those due
        before: history is not rewritten by a new calendar."""
        invoice = self.ageing.invoices[invoice_id]
        customer = self.customers[invoice.customer_id]
        book_closing_day, payment_run_days = customer.calendar_on(invoice.due_on)
        return expected_pay_on(
            issued_on=invoice.issued_on,
            due_on=invoice.due_on,
            book_closing_day=book_closing_day,
            payment_run_days=payment_run_days,
        )

    def disputed_minor_on(self, invoice_id: UUID, on: date) -> int:
        """What is in open dispute on ``on``, at most what is open then."""
        disputed = sum(
            dispute.amount_minor
            for dispute in self.disputes.get(invoice_id, ())
            if dispute.is_open_on(on)
        )
        if disputed == 0:
            return 0
        return min(disputed, self.ageing.invoices[invoice_id].open_minor_on(on))


def initial() -> PortfolioState:
    return PortfolioState()


def fold(state: PortfolioState, event: Event) -> PortfolioState:
    """Fold one event; every event type of the ledger is known here or in the ageing fold."""
    ageing.fold(state.ageing, event)
    _FOLDS.fold(state, event)
    return state


_FOLDS: Final = TypeDispatch[PortfolioState]()


def _account(state: PortfolioState, event: Event) -> CustomerHistory:
    customer = state.customers.get(event.originator_id)
    assert customer is not None
    return customer


@_FOLDS.on(CustomerAccountOpened)
def _account_opened(state: PortfolioState, event: CustomerAccountOpened) -> None:
    state.customers[event.originator_id] = CustomerHistory(
        customer_id=event.originator_id,
        customer_code=event.customer_code,
        name=event.name,
        currency=event.currency,
        opened_on=event.opened_on,
        owners=[(event.opened_on, event.collection_owner)],
        terms=[(event.opened_on, (event.terms_kind, event.terms_days))],
    )


@_FOLDS.on(InvoiceAddedToAccount)
def _invoice_added(state: PortfolioState, event: InvoiceAddedToAccount) -> None:
    _account(state, event).invoice_ids.append(event.invoice_id)


@_FOLDS.on(CollectionOwnerChanged)
def _owner_changed(state: PortfolioState, event: CollectionOwnerChanged) -> None:
    _account(state, event).owners.append((event.changed_on, event.collection_owner))


@_FOLDS.on(CollectionTargetSet)
def _target_set(state: PortfolioState, event: CollectionTargetSet) -> None:
    _account(state, event).targets.append((event.set_on, event.month_on, event.amount_minor))


@_FOLDS.on(CreditLineSet)
def _credit_line_set(state: PortfolioState, event: CreditLineSet) -> None:
    _account(state, event).credit_lines.append((event.effective_on, event.amount_minor))


@_FOLDS.on(RiskRated)
def _risk_rated(state: PortfolioState, event: RiskRated) -> None:
    _account(state, event).ratings.append((event.rated_on, event.rating))


@_FOLDS.on(CustomerBlacklisted)
def _blacklisted(state: PortfolioState, event: CustomerBlacklisted) -> None:
    _account(state, event).blacklisted.append((event.blacklisted_on, True))


@_FOLDS.on(BankruptcyFiled)
def _bankruptcy_filed(state: PortfolioState, event: BankruptcyFiled) -> None:
    _account(state, event).bankruptcy_filed.append(event.filed_on)


@_FOLDS.on(FraudSuspected)
def _fraud_suspected(state: PortfolioState, event: FraudSuspected) -> None:
    _account(state, event).fraud_suspected.append(event.suspected_on)


@_FOLDS.on(CustomerCleared)
def _cleared(state: PortfolioState, event: CustomerCleared) -> None:
    _account(state, event).blacklisted.append((event.cleared_on, False))


@_FOLDS.on(SupplyHeld)
def _supply_held(state: PortfolioState, event: SupplyHeld) -> None:
    _account(state, event).supply_held.append((event.held_on, True))


@_FOLDS.on(SupplyReleased)
def _supply_released(state: PortfolioState, event: SupplyReleased) -> None:
    _account(state, event).supply_held.append((event.released_on, False))


@_FOLDS.on(PaymentTermsChanged)
def _terms_changed(state: PortfolioState, event: PaymentTermsChanged) -> None:
    _account(state, event).terms.append((event.changed_on, (event.terms_kind, event.terms_days)))


@_FOLDS.on(PaymentCalendarSet)
def _calendar_set(state: PortfolioState, event: PaymentCalendarSet) -> None:
    _account(state, event).calendars.append(
        (event.set_on, (event.book_closing_day, event.payment_run_days))
    )


@_FOLDS.on(KeyContactSet)
def _contact_set(state: PortfolioState, event: KeyContactSet) -> None:
    _account(state, event).contacts[event.role] = (event.name, event.phone, event.email)


@_FOLDS.on(BalanceConfirmationSent)
def _confirmation_sent(state: PortfolioState, event: BalanceConfirmationSent) -> None:
    _account(state, event).confirmations.append(
        Confirmation(
            reference=event.confirmation_reference,
            balance_as_of=event.balance_as_of,
            ledger_balance_minor=event.ledger_balance_minor,
            currency=event.currency,
            sent_on=event.sent_on,
            statement_from_on=event.statement_from_on,
            statement_lines=event.statement_lines,
        )
    )


@_FOLDS.on(BalanceConfirmationAcknowledged)
def _confirmation_acknowledged(
    state: PortfolioState, event: BalanceConfirmationAcknowledged
) -> None:
    customer = _account(state, event)
    for confirmation in customer.confirmations:
        if confirmation.reference == event.confirmation_reference:
            confirmation.confirmed_balance_minor = event.confirmed_balance_minor
            confirmation.difference_minor = event.difference_minor
            confirmation.acknowledged_on = event.acknowledged_on
    if event.difference_minor != 0:
        customer.reconciliations.append(
            Reconciliation(
                confirmation_reference=event.confirmation_reference,
                difference_minor=event.difference_minor,
                currency=event.currency,
                opened_on=event.acknowledged_on,
            )
        )


@_FOLDS.on(ReconciliationResolved)
def _reconciliation_resolved(state: PortfolioState, event: ReconciliationResolved) -> None:
    for item in _account(state, event).reconciliations:
        if item.confirmation_reference == event.confirmation_reference:
            item.resolution = event.resolution
            item.reference = event.reference
            item.approver = event.approver
            item.resolved_on = event.resolved_on
            item.note = event.note


@_FOLDS.on(DisputeOpened)
def _dispute_opened(state: PortfolioState, event: DisputeOpened) -> None:
    state.disputes.setdefault(event.originator_id, []).append(
        DisputeFacts(
            reference=event.dispute_reference,
            invoice_id=event.originator_id,
            amount_minor=event.amount_minor,
            reason_code=event.reason_code,
            root_cause=event.root_cause,
            opened_on=event.opened_on,
        )
    )


@_FOLDS.on(DisputeResolved)
def _dispute_resolved(state: PortfolioState, event: DisputeResolved) -> None:
    for dispute in state.disputes[event.originator_id]:
        if dispute.reference == event.dispute_reference:
            dispute.resolved_on = event.resolved_on
            dispute.outcome = event.outcome
            dispute.upheld_minor = event.upheld_minor


@_FOLDS.on(PaymentReceived)
def _payment_received(state: PortfolioState, event: PaymentReceived) -> None:
    state.payments[event.originator_id] = PaymentFacts(
        payment_id=event.originator_id,
        bank_reference=event.bank_reference,
        customer_id=event.payer_customer_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        value_on=event.value_on,
    )


@_FOLDS.on(PaymentReversed)
def _payment_reversed(state: PortfolioState, event: PaymentReversed) -> None:
    state.payments[event.originator_id].reversed_on = event.reversed_on


@_FOLDS.on(PaymentApplied)
def _payment_applied(state: PortfolioState, event: PaymentApplied) -> None:
    state.applications.setdefault(event.originator_id, []).append(
        (event.payment_id, event.applied_on, event.amount_minor)
    )


@_FOLDS.on(PaymentUnapplied)
def _payment_unapplied(state: PortfolioState, event: PaymentUnapplied) -> None:
    state.applications.setdefault(event.originator_id, []).append(
        (event.payment_id, event.unapplied_on, -event.amount_minor)
    )


@_FOLDS.on(GoodsInLieuApplied)
def _goods_applied(state: PortfolioState, event: GoodsInLieuApplied) -> None:
    state.goods_applications.setdefault(event.originator_id, []).append(
        (event.settlement_reference, event.applied_on, event.amount_minor)
    )


@_FOLDS.on(PromiseMade)
def _promise_made(state: PortfolioState, event: PromiseMade) -> None:
    state.promises[event.originator_id] = PromiseFacts(
        promise_id=event.originator_id,
        reference=event.promise_reference,
        customer_id=event.customer_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        promised_on=event.promised_on,
        made_on=event.made_on,
        contact=event.contact,
        invoice_ids=event.invoice_ids,
        tranches=event.tranches,
    )
    state.promise_ids_by_reference[event.promise_reference] = event.originator_id


@_FOLDS.on(PromiseWithdrawn)
def _promise_withdrawn(state: PortfolioState, event: PromiseWithdrawn) -> None:
    state.promises[event.originator_id].withdrawn_on = event.withdrawn_on


@_FOLDS.on(PromiseSuperseded)
def _promise_superseded(state: PortfolioState, event: PromiseSuperseded) -> None:
    promise = state.promises[event.originator_id]
    promise.superseded_on = event.superseded_on
    promise.superseded_by = event.superseded_by


@_FOLDS.on(CollectionActionRecorded)
def _action_recorded(state: PortfolioState, event: CollectionActionRecorded) -> None:
    state.actions.setdefault(event.customer_id, []).append(
        ActionFacts(
            customer_id=event.customer_id,
            channel=event.channel,
            taken_on=event.taken_on,
            collector=event.collector,
            contact=event.contact,
            outcome=event.outcome,
            next_step=event.next_step,
            next_step_on=event.next_step_on,
        )
    )


@_FOLDS.on(DelinquencyDiagnosed)
def _diagnosed(state: PortfolioState, event: DelinquencyDiagnosed) -> None:
    state.diagnoses.setdefault(event.customer_id, []).append(
        DiagnosisFacts(
            customer_id=event.customer_id,
            delinquency_type=event.delinquency_type,
            diagnosed_on=event.diagnosed_on,
            note=event.note,
        )
    )


@_FOLDS.on(NegotiationWaived)
def _waived(state: PortfolioState, event: NegotiationWaived) -> None:
    state.waivers.setdefault(event.customer_id, []).append(
        WaiverFacts(
            customer_id=event.customer_id,
            waived_on=event.waived_on,
            approver=event.approver,
            reason=event.reason,
        )
    )


@_FOLDS.on(EscalationPolicyAdopted)
def _policy_adopted(state: PortfolioState, event: EscalationPolicyAdopted) -> None:
    state.policy_versions.append(
        PolicyVersion(effective_on=event.effective_on, policy=event.policy)
    )


def fold_all(
    events: Iterable[Event],
    *,
    known_at: datetime | None = None,
    onto: PortfolioState | None = None,
) -> PortfolioState:
    """Fold a whole log; with ``known_at``, only events recorded by then count (for audits).
    With ``onto`` (the fold of the events before these), the events are folded onto it, in
    place, and it is returned."""
    state = initial() if onto is None else onto
    for event in events:
        if known_at is None or event.timestamp <= known_at:
            fold(state, event)
    return state


def ageing_report(
    state: PortfolioState,
    as_of: date,
    *,
    grouping: ageing.AgeingGrouping = ageing.AgeingGrouping.PORTFOLIO,
    edges_days: Sequence[int] | None = None,
) -> ageing.AgeingReport:
    """The ageing table as of ``as_of`` with the ageing policy of the escalation policy version
    in force on that date, as every other as-of query uses it.

    ``edges_days`` replaces that policy's bucket edges for a one-off view (its basis stays).
    """
    policy = state.policy_on(as_of).ageing
    if edges_days is not None:
        policy = AgeingPolicy(edges_days=edges_days, basis=policy.basis)
    return ageing.ageing_report(state.ageing, as_of, policy=policy, grouping=grouping)
