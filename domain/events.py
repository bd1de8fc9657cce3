"""Domain events: immutable, past-tense facts of the receivables ledger.

Every event carries the envelope (``originator_id``, ``originator_version``, ``timestamp``: when
it was recorded, UTC) and every business value needed to apply it, including amounts the command
worked out, so that folding an event never needs a rule, the clock or configuration.
Amounts are never negative; the event type gives the direction.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, Final, TypeAlias, get_args
from uuid import UUID

import attrs

# The columnar layout resolves the types of an authority policy's fields in this module.
from .authority import ApproverRole as ApproverRole
from .authority import AuthorityPeriod as AuthorityPeriod
from .authority import AuthorityPolicy, ReductionKind
from .authority import RoleAuthority as RoleAuthority
from .policy import EscalationPolicy


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
class PromiseTranche:
    """One dated part of a promise to pay in tranches [追款可以分时段进行]."""

    promised_on: date
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
    interest_minor: int = 0
    """Of ``amount_minor``, what is interest (BGB 367: settled after fees, before principal)."""
    fees_minor: int = 0
    """Of ``amount_minor``, what is fees and costs (settled first); the rest is principal.
    Invoices issued before components existed are all principal."""


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
    """``approver`` (and ``second_approver`` where the authority policy asks for two): who
    approved it; None on credit notes recorded before every reduction named its approver."""

    credit_note_number: str
    amount_minor: int
    currency: str
    applied_on: date
    reason: str
    approver: str | None = None
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class ConcessionApproved(Event):
    """An explicit, approved reduction of what the customer owes; never implicit."""

    amount_minor: int
    currency: str
    approved_on: date
    reason: str
    approver: str
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class InvoiceWrittenOff(Event):
    """The open amount at the time is written off as a bad debt."""

    amount_minor: int
    currency: str
    written_off_on: date
    reason: str
    approver: str
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class InvoiceReinstated(Event):
    """A write-off is undone: the written-off amount is due again."""

    amount_minor: int
    currency: str
    reinstated_on: date
    reason: str
    approver: str


@attrs.frozen(kw_only=True)
class GoodsInLieuApplied(Event):
    """Part of an approved settlement in goods [以物抵债] settles this invoice (a non-cash
    settlement, the invoice side of ``GoodsInLieuSettled``): at the approved value, never at
    the goods' appraisal."""

    settlement_reference: str
    amount_minor: int
    currency: str
    applied_on: date


@attrs.frozen(kw_only=True)
class InvoiceDueDateOverridden(Event):
    """The invoice's due date moved by hand (a postponement, or an earlier date), approved: from
    ``overridden_on`` on, the invoice ages, escalates and is reminded from ``due_on`` instead
    of ``previous_due_on`` (the due date in force before it)."""

    due_on: date
    previous_due_on: date
    overridden_on: date
    reason: str
    approver: str


# Payment --------------------------------------------------------------------------------------


class ReceiptMethod(enum.Enum):
    """How a payment reached the company: by the bank, or in person as cash or a cheque."""

    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"


@attrs.frozen(kw_only=True)
class PaymentReceived(Event):
    bank_reference: str
    payer_customer_id: UUID
    amount_minor: int
    currency: str
    value_on: date


@attrs.frozen(kw_only=True)
class PaymentAllocated(Event):
    """Part of the payment settles an invoice (the payment side of an allocation).

    ``allocation_key``: the client's idempotency key of the allocation this is part of, if it
    gave one (events recorded before keys existed have none).
    """

    invoice_id: UUID
    amount_minor: int
    currency: str
    allocated_on: date
    allocation_key: str | None = None


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


@attrs.frozen(kw_only=True)
class PaymentCollected(Event):
    """The payment (just received) was collected in person by ``received_by`` as cash or a
    cheque on its value date, not paid to the bank: finance holds it only from its handover
    (``CashHandedOver``). Recorded with the ``PaymentReceived`` it follows, in one transaction;
    a payment without it came by bank transfer (every payment recorded before it existed)."""

    received_by: str
    method: ReceiptMethod


@attrs.frozen(kw_only=True)
class CashHandedOver(Event):
    """The cash or cheque collected in person was handed to finance (``received_by_finance``)
    on ``handed_on``."""

    handed_on: date
    received_by_finance: str


# Credit note ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreditNoteRegistered(Event):
    """A credit-note number is taken: it credits this invoice with this amount, and no other
    (the number's registration, saved with the invoice's ``CreditNoteApplied``)."""

    credit_note_number: str
    invoice_id: UUID
    customer_id: UUID
    amount_minor: int
    currency: str
    applied_on: date
    reason: str


CUSTOMER_EVENTS: tuple[type[Event], ...] = (CustomerAccountOpened, InvoiceAddedToAccount)
INVOICE_EVENTS: tuple[type[Event], ...] = (
    InvoiceIssued,
    PaymentApplied,
    PaymentUnapplied,
    CreditNoteApplied,
    ConcessionApproved,
    InvoiceWrittenOff,
    InvoiceReinstated,
    GoodsInLieuApplied,
    InvoiceDueDateOverridden,
)
PAYMENT_EVENTS: tuple[type[Event], ...] = (
    PaymentReceived,
    PaymentAllocated,
    PaymentReversed,
    PaymentCollected,
    CashHandedOver,
)
CREDIT_NOTE_EVENTS: tuple[type[Event], ...] = (CreditNoteRegistered,)


# Collections (issue 3) ------------------------------------------------------------------------


class RiskRating(enum.Enum):
    """Credit risk grade of a customer, A (best) to D (worst); stored by value."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class ContactRole(enum.Enum):
    """Key persons on the customer's side (DOMAIN.md: parties and roles)."""

    ACCEPTOR = "acceptor"
    PAYMENT_RESPONSIBLE = "payment_responsible"
    PAYMENT_APPROVER = "payment_approver"
    KEY_PERSON = "key_person"


class DisputeReason(enum.Enum):
    QUALITY = "quality"
    DELIVERY = "delivery"
    PRICING = "pricing"
    QUANTITY = "quantity"
    DOCUMENTS = "documents"
    OTHER = "other"


class DisputeOutcome(enum.Enum):
    UPHELD = "upheld"
    REJECTED = "rejected"


class ActionChannel(enum.Enum):
    """Collection tools, from mild to severe."""

    PHONE = "phone"
    EMAIL = "email"
    FAX = "fax"
    OVERDUE_NOTICE = "overdue_notice"
    FINANCE_LETTER = "finance_letter"
    VISIT = "visit"
    DEMAND_LETTER = "demand_letter"
    LAWYER_LETTER = "lawyer_letter"
    LEGAL_FILING = "legal_filing"


class ReconciliationResolution(enum.Enum):
    """How a reconciliation item (a difference a customer acknowledged on a balance
    confirmation) was closed: explained by a credit note, a payment found or a dispute opened
    for it (each named by its reference in the log), or accepted by an approver."""

    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    DISPUTE = "dispute"
    ACCEPTED = "accepted"


class DelinquencyType(enum.Enum):
    """The seven diagnosed causes of late payment (DOMAIN.md), and fraud suspected
    [恶意欺诈] (the third cause of bad debt), diagnosable since issue 14: a new value, so
    stored diagnoses decode unchanged."""

    WEAK_CHASING = "weak_chasing"
    CONTRACT_DISPUTE = "contract_dispute"
    OVERSTOCK = "overstock"
    POOR_BUSINESS = "poor_business"
    CASH_FLOW_SQUEEZE = "cash_flow_squeeze"
    DELIBERATE_DELAY = "deliberate_delay"
    ACCIDENT = "accident"
    FRAUD_SUSPECTED = "fraud_suspected"


class AllocationRule(enum.Enum):
    """How an automatic allocation (a payment allocated without naming invoices) spreads the
    money over the payer's open invoices; stored by value. Chosen per account with an
    effective date (``AllocationRuleAdopted``); ``OLDEST_DUE_FIRST`` until one is adopted."""

    OLDEST_DUE_FIRST = "oldest_due_first"
    OLDEST_ISSUED_FIRST = "oldest_issued_first"
    EXPLICIT_ONLY = "explicit_only"
    """No automatic allocation: the money stays unapplied until someone names the invoices."""
    PROPORTIONAL = "proportional"
    """Each open invoice gets a share of the money in proportion to its open amount."""
    COMPONENT_ORDER = "component_order"
    """By component (BGB 366/367): the fees of every open invoice first, then their interest,
    then their principal; within each component oldest due first."""


@attrs.frozen(kw_only=True)
class CreditLineSet(Event):
    """The credit line granted, or changed; ``amount_minor`` 0 means no credit."""

    amount_minor: int
    currency: str
    effective_on: date
    approver: str
    reason: str
    registered_capital_minor: int | None = None


@attrs.frozen(kw_only=True)
class RiskRated(Event):
    rating: RiskRating
    rated_on: date
    reason: str


@attrs.frozen(kw_only=True)
class CustomerBlacklisted(Event):
    blacklisted_on: date
    reason: str


@attrs.frozen(kw_only=True)
class CustomerCleared(Event):
    """Taken off the blacklist."""

    cleared_on: date
    reason: str


@attrs.frozen(kw_only=True)
class BankruptcyFiled(Event):
    """The customer's bankruptcy (insolvency proceedings) filed, from ``filed_on``: the
    escalation policy's ``bankruptcy_filed`` effect applies from then on."""

    filed_on: date
    reason: str


@attrs.frozen(kw_only=True)
class FraudSuspected(Event):
    """Fraud [恶意欺诈] suspected of the customer, from ``suspected_on``: the escalation
    policy's ``fraud_suspected`` effect applies from then on."""

    suspected_on: date
    reason: str


@attrs.frozen(kw_only=True)
class PaymentTermsChanged(Event):
    terms_kind: PaymentTermsKind
    terms_days: int
    changed_on: date


@attrs.frozen(kw_only=True)
class PaymentCalendarSet(Event):
    """The customer's payment process: book-closing day and payment-run days of the month, in
    force from ``set_on`` until the next calendar's (``PortfolioState.expected_pay_on`` uses the
    one in force on an invoice's due date)."""

    book_closing_day: int | None
    payment_run_days: tuple[int, ...]
    set_on: date


@attrs.frozen(kw_only=True)
class CollectionOwnerChanged(Event):
    collection_owner: str
    changed_on: date


@attrs.frozen(kw_only=True)
class CollectionTargetSet(Event):
    """The monthly collection plan's target for the customer: what its owner aims to collect
    in the month starting ``month_on`` (a first day of a month). A later target for the same
    month replaces the earlier one (0: the plan has no target); the history keeps both."""

    month_on: date
    amount_minor: int
    currency: str
    set_by: str
    set_on: date
    note: str = ""


@attrs.frozen(kw_only=True)
class AllocationRuleAdopted(Event):
    """The customer's allocation rule, in force for payments with a value date from
    ``effective_on`` until the next adoption's; approved by a named person. Allocations made
    before are recorded amounts (``PaymentAllocated``) and stay as they were."""

    rule: AllocationRule
    effective_on: date
    approver: str
    reason: str


@attrs.frozen(kw_only=True)
class GoodsInLieuProposed(Event):
    """The customer offers goods in lieu of money [以物抵债], appraised and valued.

    ``valued_minor`` is the appraised value less the policy's haircut (``haircut_bps`` of the
    policy in force on ``proposed_on``), rounded down to the minor unit: the most the goods may
    settle once approved. ``quantity`` is in the goods' own ``unit`` (pieces, tonnes, ...).
    """

    settlement_reference: str
    goods: str
    quantity: int
    unit: str
    appraised_minor: int
    currency: str
    appraiser: str
    haircut_bps: int
    valued_minor: int
    proposed_on: date


@attrs.frozen(kw_only=True)
class GoodsInLieuApproved(Event):
    """An approver accepts the goods at ``approved_minor`` (the valued amount), with a reason."""

    settlement_reference: str
    approved_minor: int
    currency: str
    approver: str
    reason: str
    approved_on: date


@attrs.frozen(kw_only=True)
class GoodsAllocation:
    """What an approved settlement in goods settles of one invoice."""

    invoice_id: UUID
    amount_minor: int


@attrs.frozen(kw_only=True)
class GoodsInLieuSettled(Event):
    """The goods are received: the approved value settles these invoices (each also records a
    ``GoodsInLieuApplied``, saved together); their sum is the approved value."""

    settlement_reference: str
    allocations: tuple[GoodsAllocation, ...]
    currency: str
    settled_on: date


@attrs.frozen(kw_only=True)
class KeyContactSet(Event):
    role: ContactRole
    name: str
    phone: str = ""
    email: str = ""
    set_on: date


@attrs.frozen(kw_only=True)
class SupplyHeld(Event):
    held_on: date
    reason: str
    by_policy: bool


@attrs.frozen(kw_only=True)
class SupplyReleased(Event):
    released_on: date
    reason: str
    by_policy: bool


@attrs.frozen(kw_only=True)
class BalanceConfirmationSent(Event):
    """A balance confirmation (statement to be stamped) with the ledger's open balance.

    Issued from the statement of account for ``statement_from_on``..``balance_as_of``:
    ``ledger_balance_minor`` is its closing balance and ``statement_lines`` its count of
    lines. Both are None on confirmations recorded before they were issued from a statement
    (the balance then came from the ageing, which the statement's closing balance equals).
    """

    confirmation_reference: str
    balance_as_of: date
    ledger_balance_minor: int
    currency: str
    sent_on: date
    statement_from_on: date | None = None
    statement_lines: int | None = None


@attrs.frozen(kw_only=True)
class BalanceConfirmationAcknowledged(Event):
    """The customer confirmed a balance; ``difference_minor`` = confirmed - ledger (signed)."""

    confirmation_reference: str
    confirmed_balance_minor: int
    ledger_balance_minor: int
    difference_minor: int
    currency: str
    acknowledged_on: date


@attrs.frozen(kw_only=True)
class ReconciliationResolved(Event):
    """The reconciliation item of a confirmation is closed: a ``BalanceConfirmationAcknowledged``
    with a non-zero ``difference_minor`` opens one (on its ``acknowledged_on``), this closes it.

    ``reference`` names the credit note, payment (bank reference) or dispute that explains the
    difference (empty when accepted); ``approver`` who accepted it (empty otherwise).
    """

    confirmation_reference: str
    resolution: ReconciliationResolution
    reference: str
    approver: str
    resolved_on: date
    note: str


@attrs.frozen(kw_only=True)
class DisputeOpened(Event):
    dispute_reference: str
    amount_minor: int
    currency: str
    reason_code: DisputeReason
    root_cause: str
    opened_on: date


@attrs.frozen(kw_only=True)
class DisputeResolved(Event):
    """Upheld disputes are accompanied by a ``CreditNoteApplied`` for ``upheld_minor``."""

    dispute_reference: str
    outcome: DisputeOutcome
    upheld_minor: int
    currency: str
    resolved_on: date
    note: str


@attrs.frozen(kw_only=True)
class PromiseMade(Event):
    promise_reference: str
    customer_id: UUID
    amount_minor: int
    currency: str
    promised_on: date
    made_on: date
    contact: str
    invoice_ids: tuple[UUID, ...] = ()
    tranches: tuple[PromiseTranche, ...] = ()
    """Two or more dated parts adding up to ``amount_minor``, the last on ``promised_on``,
    each judged on its own (``projections.promises``); none (every promise recorded before
    tranches, and every promise of one date): the whole amount on ``promised_on``."""


@attrs.frozen(kw_only=True)
class PromiseWithdrawn(Event):
    withdrawn_on: date
    reason: str


@attrs.frozen(kw_only=True)
class PromiseSuperseded(Event):
    superseded_on: date
    superseded_by: str


@attrs.frozen(kw_only=True)
class CollectionActionRecorded(Event):
    customer_id: UUID
    channel: ActionChannel
    taken_on: date
    collector: str
    contact: str
    outcome: str
    next_step: str = ""
    next_step_on: date | None = None


@attrs.frozen(kw_only=True)
class DelinquencyDiagnosed(Event):
    customer_id: UUID
    delinquency_type: DelinquencyType
    diagnosed_on: date
    note: str


@attrs.frozen(kw_only=True)
class NegotiationWaived(Event):
    """An approver lets the actions of a level that waits for a negotiation (the policy's
    ``NegotiationRule``) go ahead without one, from ``waived_on``."""

    customer_id: UUID
    waived_on: date
    approver: str
    reason: str


@attrs.frozen(kw_only=True)
class EscalationPolicyAdopted(Event):
    """A version of the escalation policy, in force from ``effective_on`` until the next one.

    Class version 2: the policy's ``large_above`` and ``large_above_by_currency`` became
    ``large_above_major`` and ``large_above_major_by_currency`` (the unit in the name)."""

    class_version = 2

    policy: EscalationPolicy
    effective_on: date
    approver: str
    reason: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        upcast_policy_v1_v2(state["policy"])


@attrs.frozen(kw_only=True)
class ExchangeRateRecorded(Event):
    """One unit of ``from_currency`` is worth ``rate_numerator / rate_denominator`` units of
    ``to_currency`` from ``effective_on`` (until a later-dated rate for the pair), as ``source``
    gave it. The rate is an exact fraction of integers (a decimal rate 7.1234 is 71234/10000,
    reduced), so no rate is ever rounded. A second rate for the same pair and date recorded
    later corrects the first from then on (the history keeps both)."""

    from_currency: str
    to_currency: str
    rate_numerator: int
    rate_denominator: int
    effective_on: date
    source: str


POLICY_RENAMED_V2: Final = {
    "large_above": "large_above_major",
    "large_above_by_currency": "large_above_major_by_currency",
}
"""Keys of a stored policy renamed in ``EscalationPolicyAdopted`` class version 2."""


def upcast_policy_v1_v2(policy: dict[str, Any]) -> None:
    """A policy's stored state before class version 2, renamed in place (nothing else moved);
    a state already at version 2 is left as it is."""
    for old, new in POLICY_RENAMED_V2.items():
        if old in policy:
            policy[new] = policy.pop(old)


# Approval of reductions (issue 13) -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AuthorityPolicyAdopted(Event):
    """A version of the authority policy, in force from ``effective_on`` until the next one."""

    policy: AuthorityPolicy
    effective_on: date
    approver: str
    reason: str


@attrs.frozen(kw_only=True)
class ReductionRequested(Event):
    """A reduction of an invoice asked for, to be applied when approved (``ReductionApproved``).

    ``amount_minor``: what the credit note or concession takes, or what was open when a
    write-off or a due-date override was asked for (the write-off takes what is open when it is
    approved; an override reduces nothing, the amount says what waits longer);
    ``reduce_on``: the reduction's business date; ``credit_note_number`` only for a credit note.
    """

    request_reference: str
    kind: ReductionKind
    invoice_id: UUID
    customer_id: UUID
    amount_minor: int
    currency: str
    reduce_on: date
    reason: str
    requested_by: str
    requested_on: date
    credit_note_number: str | None = None
    due_on: date | None = None
    """Only for a due-date override: the due date asked for."""


@attrs.frozen(kw_only=True)
class ReductionApproved(Event):
    """One approval of a requested reduction; the one that completes what the policy asks for
    is saved with the invoice's reduction event."""

    approver: str
    approved_on: date
    applied: bool


@attrs.frozen(kw_only=True)
class ReductionRejected(Event):
    """A requested reduction refused: it will not be applied."""

    rejected_by: str
    rejected_on: date
    reason: str


AUTHORITY_EVENTS: tuple[type[Event], ...] = (AuthorityPolicyAdopted,)
REDUCTION_REQUEST_EVENTS: tuple[type[Event], ...] = (
    ReductionRequested,
    ReductionApproved,
    ReductionRejected,
)


COLLECTION_CUSTOMER_EVENTS: tuple[type[Event], ...] = (
    CreditLineSet,
    RiskRated,
    CustomerBlacklisted,
    CustomerCleared,
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
    GoodsInLieuProposed,
    GoodsInLieuApproved,
    GoodsInLieuSettled,
    CollectionTargetSet,
    BankruptcyFiled,
    FraudSuspected,
)
DISPUTE_EVENTS: tuple[type[Event], ...] = (DisputeOpened, DisputeResolved)
PROMISE_EVENTS: tuple[type[Event], ...] = (PromiseMade, PromiseWithdrawn, PromiseSuperseded)
CASE_EVENTS: tuple[type[Event], ...] = (
    CollectionActionRecorded,
    DelinquencyDiagnosed,
    NegotiationWaived,
)
POLICY_EVENTS: tuple[type[Event], ...] = (EscalationPolicyAdopted,)
RATE_EVENTS: tuple[type[Event], ...] = (ExchangeRateRecorded,)
ALL_EVENTS: tuple[type[Event], ...] = (
    CUSTOMER_EVENTS
    + INVOICE_EVENTS
    + PAYMENT_EVENTS
    + COLLECTION_CUSTOMER_EVENTS
    + DISPUTE_EVENTS
    + PROMISE_EVENTS
    + CASE_EVENTS
    + POLICY_EVENTS
    + CREDIT_NOTE_EVENTS
    + AUTHORITY_EVENTS
    + REDUCTION_REQUEST_EVENTS
    + RATE_EVENTS
)


# Each aggregate's events as a union: its ``evolve`` matches over it, so mypy proves (through
# ``assert_never``) that every event is handled; the tuples above list the same classes.
CustomerEvent: TypeAlias = (
    CustomerAccountOpened
    | InvoiceAddedToAccount
    | CreditLineSet
    | RiskRated
    | CustomerBlacklisted
    | CustomerCleared
    | PaymentTermsChanged
    | PaymentCalendarSet
    | CollectionOwnerChanged
    | KeyContactSet
    | SupplyHeld
    | SupplyReleased
    | BalanceConfirmationSent
    | BalanceConfirmationAcknowledged
    | ReconciliationResolved
    | AllocationRuleAdopted
    | GoodsInLieuProposed
    | GoodsInLieuApproved
    | GoodsInLieuSettled
    | CollectionTargetSet
    | BankruptcyFiled
    | FraudSuspected
)
InvoiceEvent: TypeAlias = (
    InvoiceIssued
    | PaymentApplied
    | PaymentUnapplied
    | CreditNoteApplied
    | ConcessionApproved
    | InvoiceWrittenOff
    | InvoiceReinstated
    | GoodsInLieuApplied
    | InvoiceDueDateOverridden
    | DisputeOpened
    | DisputeResolved
)
PaymentEvent: TypeAlias = (
    PaymentReceived | PaymentAllocated | PaymentReversed | PaymentCollected | CashHandedOver
)
PromiseEvent: TypeAlias = PromiseMade | PromiseWithdrawn | PromiseSuperseded
CaseEvent: TypeAlias = CollectionActionRecorded | DelinquencyDiagnosed | NegotiationWaived
ReductionRequestEvent: TypeAlias = ReductionRequested | ReductionApproved | ReductionRejected

assert set(get_args(CustomerEvent)) == set(CUSTOMER_EVENTS + COLLECTION_CUSTOMER_EVENTS)
assert set(get_args(InvoiceEvent)) == set(INVOICE_EVENTS + DISPUTE_EVENTS)
assert set(get_args(PaymentEvent)) == set(PAYMENT_EVENTS)
assert set(get_args(PromiseEvent)) == set(PROMISE_EVENTS)
assert set(get_args(CaseEvent)) == set(CASE_EVENTS)
assert set(get_args(ReductionRequestEvent)) == set(REDUCTION_REQUEST_EVENTS)
