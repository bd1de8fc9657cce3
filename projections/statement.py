"""Statement of account (对账单): what one customer owed at the start of a period, every movement
of its balance in the period with its date and reference, and what it owed at the end.

A fold over the log keeps the portfolio facts (``projections.portfolio``: invoices, payments,
policy versions) and, per customer, every event that changes what the customer owes, in log
order, with its business date, kind and reference. The query ``statement_of_account`` then
cuts one customer's movements to a period.

The balance is what the ageing ages: the customer's open invoices. A payment changes it when
(and by what) it is applied to an invoice, so money received but not yet applied is shown apart
as unapplied cash, as on the ageing it is not netted. Invariant: the opening balance plus the
period's signed movements is the closing balance, and the closing balance is the customer's
open total of the ageing as of the period's last day (the buckets of the statement are that
ageing row). Both hold because every movement is dated on or after its invoice's issue date,
which the domain enforces.

Like the portfolio state the fold state is mutated in place; ``fold`` returns the state it was
given.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Final, TypeAlias, assert_never, get_args
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.events import (
    AllocationRuleAdopted,
    AuthorityPolicyAdopted,
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    BankruptcyFiled,
    CashHandedOver,
    CollectionActionRecorded,
    CollectionOwnerChanged,
    CollectionTargetSet,
    ConcessionApproved,
    CreditLineSet,
    CreditNoteApplied,
    CreditNoteRegistered,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    DelinquencyDiagnosed,
    DisputeOpened,
    DisputeResolved,
    EscalationPolicyAdopted,
    Event,
    ExchangeRateRecorded,
    FraudSuspected,
    GoodsInLieuApplied,
    GoodsInLieuApproved,
    GoodsInLieuProposed,
    GoodsInLieuSettled,
    InvoiceAddedToAccount,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    KeyContactSet,
    NegotiationWaived,
    PaymentAllocated,
    PaymentApplied,
    PaymentCalendarSet,
    PaymentCollected,
    PaymentReceived,
    PaymentReversed,
    PaymentTermsChanged,
    PaymentUnapplied,
    PromiseMade,
    PromiseSuperseded,
    PromiseWithdrawn,
    ReconciliationResolved,
    ReductionApproved,
    ReductionRejected,
    ReductionRequested,
    RiskRated,
    SupplyHeld,
    SupplyReleased,
)
from arledger.domain.policy import AgeingPolicy
from arledger.domain.rules import require_date, require_period

from . import ageing, portfolio, unapplied
from .ageing import AgeingRow
from .portfolio import PortfolioState

BalanceEvent: TypeAlias = (
    InvoiceIssued
    | PaymentApplied
    | PaymentUnapplied
    | CreditNoteApplied
    | ConcessionApproved
    | GoodsInLieuApplied
    | InvoiceWrittenOff
    | InvoiceReinstated
)
"""Every event that changes what a customer owes: the invoice side of the ledger."""

BALANCE_EVENTS: Final[tuple[type[Event], ...]] = get_args(BalanceEvent)

OTHER_EVENTS: Final[tuple[type[Event], ...]] = (
    # The payment side of an allocation or reversal: its invoice side (PaymentApplied,
    # PaymentUnapplied) is the movement, so counting both would count the money twice.
    PaymentReceived,
    PaymentAllocated,
    PaymentReversed,
    # The credit-note number's registration; the invoice's CreditNoteApplied is the movement.
    CreditNoteRegistered,
    # A dispute moves nothing: an upheld one comes with its CreditNoteApplied.
    DisputeOpened,
    DisputeResolved,
    CustomerAccountOpened,
    InvoiceAddedToAccount,
    CreditLineSet,
    RiskRated,
    CustomerBlacklisted,
    CustomerCleared,
    BankruptcyFiled,
    FraudSuspected,
    PaymentTermsChanged,
    PaymentCalendarSet,
    CollectionOwnerChanged,
    KeyContactSet,
    SupplyHeld,
    SupplyReleased,
    BalanceConfirmationSent,
    BalanceConfirmationAcknowledged,
    ReconciliationResolved,
    AllocationRuleAdopted,
    CollectionTargetSet,
    # A settlement in goods moves the balance through its invoices' GoodsInLieuApplied.
    GoodsInLieuProposed,
    GoodsInLieuApproved,
    GoodsInLieuSettled,
    PromiseMade,
    PromiseWithdrawn,
    PromiseSuperseded,
    CollectionActionRecorded,
    DelinquencyDiagnosed,
    NegotiationWaived,
    EscalationPolicyAdopted,
    # The authority policy and reduction requests: an approved request's reduction is its own
    # event (CreditNoteApplied, ConcessionApproved, InvoiceWrittenOff).
    AuthorityPolicyAdopted,
    ReductionRequested,
    ReductionApproved,
    ReductionRejected,
    # A due date moved by hand gives time; it moves no money.
    InvoiceDueDateOverridden,
    ExchangeRateRecorded,
    PaymentCollected,
    CashHandedOver,
)
"""Events that leave every customer's balance as it was (a test checks that these and
``BALANCE_EVENTS`` are every event of the ledger, once)."""


class MovementKind(enum.Enum):
    """What a statement line records; stored by value."""

    INVOICE = "invoice"
    PAYMENT = "payment"
    PAYMENT_REVERSAL = "payment_reversal"
    CREDIT_NOTE = "credit_note"
    CONCESSION = "concession"
    GOODS_IN_LIEU = "goods_in_lieu"
    """A non-cash settlement: goods accepted at their approved value [以物抵债]."""
    WRITE_OFF = "write_off"
    REINSTATEMENT = "reinstatement"


@attrs.frozen(kw_only=True)
class Movement:
    """One change of a customer's balance, as recorded (before any period is chosen).

    ``amount_minor`` is signed: positive raises what the customer owes (an invoice, a payment
    reversed, a write-off reinstated), negative lowers it.
    """

    on: date
    kind: MovementKind
    reference: str
    invoice_number: str
    amount_minor: int
    note: str = ""


@attrs.frozen(kw_only=True)
class StatementLine:
    """A movement in the statement's period with the balance after it."""

    on: date
    kind: MovementKind
    reference: str
    """The invoice number, the payment's bank reference or the credit-note number; for a
    concession, write-off or reinstatement, the invoice number (they have no number of their
    own)."""
    invoice_number: str
    amount_minor: int
    balance_minor: int
    note: str = ""


@attrs.frozen(kw_only=True)
class Statement:
    """A customer's statement of account for ``from_on``..``to_on`` (both included).

    ``opening_balance_minor`` is what was open at the end of the day before ``from_on``;
    ``closing_balance_minor`` what was open at the end of ``to_on``; ``ageing`` ages the
    closing balance with the policy in force on ``to_on`` (``bucket_labels``);
    ``unapplied_cash_minor`` is money received by ``to_on``, not reversed by then, and not
    applied to an invoice by then: a credit of the customer not netted in the balance.
    """

    customer_code: str
    customer_name: str
    currency: str
    from_on: date
    to_on: date
    opening_balance_minor: int
    lines: tuple[StatementLine, ...]
    closing_balance_minor: int
    bucket_labels: tuple[str, ...]
    ageing: AgeingRow
    unapplied_cash_minor: int
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def movements_minor(self) -> int:
        """The period's movements, signed, added up."""
        return sum(line.amount_minor for line in self.lines)

    @property
    def net_balance_minor(self) -> int:
        """The closing balance less unapplied cash: what the customer owes, net of money it has
        paid that is not yet applied (negative: the customer is in credit)."""
        return self.closing_balance_minor - self.unapplied_cash_minor


@attrs.define
class StatementState:
    portfolio: PortfolioState = attrs.field(factory=portfolio.initial)
    # customer id -> its movements in log order
    movements: dict[UUID, list[Movement]] = attrs.field(factory=dict)
    bank_references: dict[UUID, str] = attrs.field(factory=dict)


def initial() -> StatementState:
    return StatementState()


def fold(state: StatementState, event: Event) -> StatementState:
    """Fold one event: the portfolio facts, and the movement it is, if it changes a balance."""
    portfolio.fold(state.portfolio, event)
    if isinstance(event, PaymentReceived):
        state.bank_references[event.originator_id] = event.bank_reference
    elif isinstance(event, BalanceEvent):
        invoice = state.portfolio.ageing.invoices[event.originator_id]
        movement = _movement(state, event, invoice.invoice_number)
        state.movements.setdefault(invoice.customer_id, []).append(movement)
    return state


def _movement(state: StatementState, event: BalanceEvent, invoice_number: str) -> Movement:
    match event:
        case InvoiceIssued():
            return Movement(
                on=event.issued_on,
                kind=MovementKind.INVOICE,
                reference=invoice_number,
                invoice_number=invoice_number,
                amount_minor=event.amount_minor,
            )
        case PaymentApplied():
            return Movement(
                on=event.applied_on,
                kind=MovementKind.PAYMENT,
                reference=state.bank_references[event.payment_id],
                invoice_number=invoice_number,
                amount_minor=-event.amount_minor,
            )
        case PaymentUnapplied():
            return Movement(
                on=event.unapplied_on,
                kind=MovementKind.PAYMENT_REVERSAL,
                reference=state.bank_references[event.payment_id],
                invoice_number=invoice_number,
                amount_minor=event.amount_minor,
                note=event.reason,
            )
        case CreditNoteApplied():
            return Movement(
                on=event.applied_on,
                kind=MovementKind.CREDIT_NOTE,
                reference=event.credit_note_number,
                invoice_number=invoice_number,
                amount_minor=-event.amount_minor,
                note=event.reason,
            )
        case ConcessionApproved():
            return Movement(
                on=event.approved_on,
                kind=MovementKind.CONCESSION,
                reference=invoice_number,
                invoice_number=invoice_number,
                amount_minor=-event.amount_minor,
                note=event.reason,
            )
        case GoodsInLieuApplied():
            return Movement(
                on=event.applied_on,
                kind=MovementKind.GOODS_IN_LIEU,
                reference=event.settlement_reference,
                invoice_number=invoice_number,
                amount_minor=-event.amount_minor,
            )
        case InvoiceWrittenOff():
            return Movement(
                on=event.written_off_on,
                kind=MovementKind.WRITE_OFF,
                reference=invoice_number,
                invoice_number=invoice_number,
                amount_minor=-event.amount_minor,
                note=event.reason,
            )
        case InvoiceReinstated():
            return Movement(
                on=event.reinstated_on,
                kind=MovementKind.REINSTATEMENT,
                reference=invoice_number,
                invoice_number=invoice_number,
                amount_minor=event.amount_minor,
                note=event.reason,
            )
        case _:
            assert_never(event)


def fold_all(events: Iterable[Event], *, known_at: datetime | None = None) -> StatementState:
    """Fold a whole log; with ``known_at``, only events recorded by then count (for audits)."""
    state = initial()
    for event in events:
        if known_at is None or event.timestamp <= known_at:
            fold(state, event)
    return state


def statement_of_account(
    state: StatementState, customer_id: UUID, from_on: date, to_on: date
) -> Statement:
    """The customer's statement for ``from_on``..``to_on``: lines by date, then log order.

    Raises ``InvalidDateError`` for a period that starts after it ends or lies outside the
    ledger's dates, and ``CustomerNotFoundError`` for a customer the state does not hold.
    """
    require_period(require_date("from_on", from_on), require_date("to_on", to_on))
    facts = state.portfolio
    customer = facts.customers.get(customer_id)
    if customer is None:
        raise CustomerNotFoundError(f"no customer account {customer_id}", customer_id=customer_id)
    invoices = facts.invoices_of(customer_id)
    day_before = from_on - timedelta(days=1)
    opening_minor = sum(invoice.open_minor_on(day_before) for invoice in invoices)
    in_period = [
        movement
        for movement in state.movements.get(customer_id, ())
        if from_on <= movement.on <= to_on
    ]
    # sorted() is stable: movements of one day keep their log order.
    in_period.sort(key=lambda movement: movement.on)
    lines = []
    balance_minor = opening_minor
    for movement in in_period:
        balance_minor += movement.amount_minor
        lines.append(
            StatementLine(
                on=movement.on,
                kind=movement.kind,
                reference=movement.reference,
                invoice_number=movement.invoice_number,
                amount_minor=movement.amount_minor,
                balance_minor=balance_minor,
                note=movement.note,
            )
        )
    closing_minor = sum(invoice.open_minor_on(to_on) for invoice in invoices)
    assert balance_minor == closing_minor, "opening + movements must be the closing balance"
    policy = facts.policy_on(to_on).ageing
    row = _ageing_row(facts, customer_id, to_on, policy)
    assert row.open_minor == closing_minor
    return Statement(
        customer_code=customer.customer_code,
        customer_name=customer.name,
        currency=customer.currency,
        from_on=from_on,
        to_on=to_on,
        opening_balance_minor=opening_minor,
        lines=tuple(lines),
        closing_balance_minor=closing_minor,
        bucket_labels=policy.bucket_labels,
        ageing=row,
        unapplied_cash_minor=unapplied_cash_minor(facts, customer_id, to_on),
    )


def _ageing_row(
    facts: PortfolioState, customer_id: UUID, as_of: date, policy: AgeingPolicy
) -> AgeingRow:
    """The customer's row of the ageing by customer as of ``as_of`` (zeros if nothing is open),
    worked out by the ageing's own functions on that customer's invoices only."""
    customer = facts.customers[customer_id]
    one_customer = ageing.AgeingState(
        customers={customer_id: facts.ageing.customers[customer_id]},
        invoices={invoice.invoice_id: invoice for invoice in facts.invoices_of(customer_id)},
    )
    report = ageing.ageing_report(
        one_customer, as_of, policy=policy, grouping=ageing.AgeingGrouping.CUSTOMER
    )
    for row in report.rows:
        if row.currency == customer.currency:
            return row
    return AgeingRow(
        key=customer.customer_code,
        label=customer.name,
        currency=customer.currency,
        buckets_minor=(0,) * len(policy.bucket_labels),
        open_minor=0,
        days_past_due_max=0,
    )


def unapplied_cash_minor(facts: PortfolioState, customer_id: UUID, as_of: date) -> int:
    """Money the customer paid by ``as_of``, not reversed by then, and not applied by then:
    the total of its row in ``unapplied.unapplied_cash`` as of that date (the same function
    works out both, so the statement and the unapplied cash query agree)."""
    return sum(unapplied.unapplied_minor_by_payment(facts, as_of, customer_id).values())
