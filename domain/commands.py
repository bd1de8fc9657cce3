"""Commands as data: one frozen record per thing a caller can ask the ledger to do.

A command names what to do in business terms (keys, ``Money``, dates, enums); it decides
nothing. The handlers (``arledger.adapters.application.handlers``) load the aggregates it names
and ask the domain functions to decide; ``Ledger.execute`` runs one or more commands in one
transaction. Fields are not validated here: the domain functions refuse bad values with the
same typed errors whichever way a command arrives (a convenience method, JSON, a test), and
a command that would be refused is still a value that can be logged.

Invariant: the fields of a command are exactly the keyword arguments of its ``Ledger``
convenience method, so the two cannot drift (``tests/unit/test_commands.py`` checks it); the
session's methods are derived from these classes (``adapters/application/session.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

import attrs

from .authority import AuthorityPolicy, ReductionKind
from .customer import DEFAULT_TERMS_DAYS
from .events import (
    ActionChannel,
    AllocationRule,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Instalment,
    PaymentTermsKind,
    PromiseTranche,
    ReceiptMethod,
    ReconciliationResolution,
    RiskRating,
)
from .money import Money
from .policy import EscalationPolicy


@attrs.frozen(kw_only=True)
class Command:
    """Base of every command."""


@attrs.frozen(kw_only=True)
class InvoiceAmount:
    """One explicit target of an allocation: how much of a payment goes to which invoice."""

    invoice_number: str
    amount: Money


# Converters: a caller may give a list or a mapping; the command keeps a tuple, so it stays a
# hashable value that compares, logs and digests the same however it was built. mypy reads
# each converter's parameter as the constructor's (a generic one would lose the item type).


def invoice_amounts(
    allocations: Mapping[str, Money] | Sequence[InvoiceAmount] | None,
) -> tuple[InvoiceAmount, ...] | None:
    """An allocation's targets as the command holds them: a mapping (invoice number ->
    amount) becomes ``InvoiceAmount`` records, in its order."""
    if allocations is None or isinstance(allocations, tuple):
        return allocations
    if isinstance(allocations, Mapping):
        return tuple(
            InvoiceAmount(invoice_number=number, amount=amount)
            for number, amount in allocations.items()
        )
    return tuple(allocations)


def _instalments(instalments: Sequence[Instalment]) -> tuple[Instalment, ...]:
    return tuple(instalments)


def _tranches(tranches: Sequence[PromiseTranche]) -> tuple[PromiseTranche, ...]:
    return tuple(tranches)


def _texts(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(texts)


def _days(days: Sequence[int]) -> tuple[int, ...]:
    return tuple(days)


# Receivables ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OpenAccount(Command):
    """Open a customer account: one currency, one collection owner, payment terms."""

    customer_code: str
    name: str
    currency: str
    collection_owner: str
    opened_on: date
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET
    terms_days: int = DEFAULT_TERMS_DAYS


@attrs.frozen(kw_only=True)
class IssueInvoice(Command):
    """Issue an invoice to a customer; without ``due_on`` the due date comes from the terms."""

    invoice_number: str
    customer_code: str
    amount: Money
    issued_on: date
    due_on: date | None = None
    instalments: tuple[Instalment, ...] = attrs.field(default=(), converter=_instalments)
    contract_reference: str = ""
    interest: Money | None = None
    """Of ``amount``, what is interest (none: all principal but for fees)."""
    fees: Money | None = None
    """Of ``amount``, what is fees and costs."""


@attrs.frozen(kw_only=True)
class ReceivePayment(Command):
    """Record money received from a payer, not yet allocated to invoices."""

    bank_reference: str
    payer_code: str
    amount: Money
    value_on: date
    method: ReceiptMethod = ReceiptMethod.BANK_TRANSFER
    received_by: str | None = None
    """Who collected it in person, for cash or a cheque (None for a bank transfer)."""


@attrs.frozen(kw_only=True)
class HandOverCash(Command):
    """Record that cash or a cheque collected in person was handed to finance."""

    bank_reference: str
    handed_on: date
    received_by_finance: str


@attrs.frozen(kw_only=True)
class AllocatePayment(Command):
    """Allocate a payment: to the listed invoices, or (``allocations`` None) to the payer's
    open invoices by the payer's allocation rule in force on the payment's value date (oldest
    due date first unless one was adopted). ``allocation_key`` (the client's, unique per
    payment) makes a retry record nothing and answer the first allocation's events."""

    bank_reference: str
    allocations: tuple[InvoiceAmount, ...] | None = attrs.field(
        default=None, converter=invoice_amounts
    )
    allocated_on: date | None = None
    allocation_key: str | None = None


@attrs.frozen(kw_only=True)
class ReversePayment(Command):
    """Reverse a payment (returned by the bank): what it settled is open again."""

    bank_reference: str
    reversed_on: date
    reason: str


@attrs.frozen(kw_only=True)
class ApplyCreditNote(Command):
    """Credit an invoice; a credit-note number credits one invoice, once. Approved by
    ``approver`` (and ``second_approver`` where the authority policy asks for two) within the
    authority policy in force on ``applied_on``."""

    invoice_number: str
    credit_note_number: str
    amount: Money
    applied_on: date
    reason: str
    approver: str
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class ApproveConcession(Command):
    """Approve a concession (a discount agreed after issue) on an invoice."""

    invoice_number: str
    amount: Money
    approved_on: date
    reason: str
    approver: str
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class OverrideDueDate(Command):
    """Move an invoice's due date by hand (approved, with a reason): from ``overridden_on`` on
    it ages, escalates and is reminded from ``due_on``."""

    invoice_number: str
    due_on: date
    overridden_on: date
    reason: str
    approver: str


@attrs.frozen(kw_only=True)
class WriteOff(Command):
    """Book what is open on an invoice as a bad debt."""

    invoice_number: str
    written_off_on: date
    reason: str
    approver: str
    second_approver: str | None = None


@attrs.frozen(kw_only=True)
class Reinstate(Command):
    """Undo an invoice's write-off."""

    invoice_number: str
    reinstated_on: date
    reason: str
    approver: str


# Collections: the account -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SetCreditLine(Command):
    """Set the customer's credit line from ``effective_on``."""

    customer_code: str
    amount: Money
    effective_on: date
    approver: str
    reason: str
    registered_capital: Money | None = None


@attrs.frozen(kw_only=True)
class RateRisk(Command):
    """Rate the customer's credit risk."""

    customer_code: str
    rating: RiskRating
    rated_on: date
    reason: str


@attrs.frozen(kw_only=True)
class Blacklist(Command):
    """Put the customer on the blacklist."""

    customer_code: str
    blacklisted_on: date
    reason: str


@attrs.frozen(kw_only=True)
class ClearBlacklist(Command):
    """Take the customer off the blacklist."""

    customer_code: str
    cleared_on: date
    reason: str


@attrs.frozen(kw_only=True)
class FileBankruptcy(Command):
    """Record that the customer's bankruptcy was filed."""

    customer_code: str
    filed_on: date
    reason: str


@attrs.frozen(kw_only=True)
class SuspectFraud(Command):
    """Record that fraud [恶意欺诈] is suspected of the customer."""

    customer_code: str
    suspected_on: date
    reason: str


@attrs.frozen(kw_only=True)
class ChangeTerms(Command):
    """Change the payment terms of the customer's future invoices."""

    customer_code: str
    terms_kind: PaymentTermsKind
    terms_days: int
    changed_on: date


@attrs.frozen(kw_only=True)
class SetPaymentCalendar(Command):
    """Set the customer's book-closing day and payment-run days (days of the month), in force
    from ``set_on`` (calendars are dated history: an earlier-due invoice keeps its calendar)."""

    customer_code: str
    book_closing_day: int | None
    payment_run_days: tuple[int, ...] = attrs.field(converter=_days)
    set_on: date


@attrs.frozen(kw_only=True)
class ChangeOwner(Command):
    """Hand the account to another collection owner."""

    customer_code: str
    collection_owner: str
    changed_on: date


@attrs.frozen(kw_only=True)
class SetKeyContact(Command):
    """Name the customer's contact for a role."""

    customer_code: str
    role: ContactRole
    name: str
    set_on: date
    phone: str = ""
    email: str = ""


@attrs.frozen(kw_only=True)
class HoldSupply(Command):
    """Stop supplying the customer (``by_policy``: because the escalation policy says so)."""

    customer_code: str
    held_on: date
    reason: str
    by_policy: bool = False


@attrs.frozen(kw_only=True)
class ReleaseSupply(Command):
    """Supply the customer again."""

    customer_code: str
    released_on: date
    reason: str
    by_policy: bool = False


@attrs.frozen(kw_only=True)
class SendBalanceConfirmation(Command):
    """Send the customer its statement of account for ``statement_from_on``..``balance_as_of``
    (default: from the account's opening) to confirm its closing balance."""

    customer_code: str
    confirmation_reference: str
    balance_as_of: date
    sent_on: date
    statement_from_on: date | None = None


@attrs.frozen(kw_only=True)
class AcknowledgeBalanceConfirmation(Command):
    """Record the balance the customer confirmed (a difference is flagged, not corrected)."""

    customer_code: str
    confirmation_reference: str
    confirmed_balance: Money
    acknowledged_on: date


@attrs.frozen(kw_only=True)
class ResolveReconciliation(Command):
    """Close the reconciliation item a confirmation's difference opened, with the credit note,
    payment (bank reference) or dispute of the customer that explains it."""

    customer_code: str
    confirmation_reference: str
    resolution: ReconciliationResolution
    reference: str
    resolved_on: date
    note: str


@attrs.frozen(kw_only=True)
class AcceptReconciliation(Command):
    """Close the reconciliation item a confirmation's difference opened by accepting the
    difference, on an approver's authority."""

    customer_code: str
    confirmation_reference: str
    approver: str
    accepted_on: date
    reason: str


@attrs.frozen(kw_only=True)
class AdoptAllocationRule(Command):
    """Adopt the rule automatic allocation follows for the customer's payments with a value
    date from ``effective_on`` (oldest due first, oldest issued first, proportional, or
    explicit only: unallocated cash waits for an allocation naming the invoices)."""

    customer_code: str
    rule: AllocationRule
    effective_on: date
    approver: str
    reason: str


# Goods in lieu [以物抵债] ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ProposeGoodsInLieu(Command):
    """Record a customer's offer of goods in lieu of money, appraised by a named appraiser; it
    is valued at once with the haircut of the policy in force on ``proposed_on``."""

    customer_code: str
    settlement_reference: str
    goods: str
    quantity: int
    unit: str
    appraised: Money
    appraiser: str
    proposed_on: date


@attrs.frozen(kw_only=True)
class ApproveGoodsInLieu(Command):
    """Approve a proposed settlement in goods at its valued amount (within the approver's
    authority), with a reason."""

    customer_code: str
    settlement_reference: str
    approver: str
    reason: str
    approved_on: date


@attrs.frozen(kw_only=True)
class SettleGoodsInLieu(Command):
    """The goods are received: the approved value settles the listed invoices of the customer,
    exactly (what the goods do not cover stays open, or is conceded explicitly)."""

    customer_code: str
    settlement_reference: str
    allocations: tuple[InvoiceAmount, ...] = attrs.field(converter=invoice_amounts)
    settled_on: date


# Collections: disputes, promises, actions, policy -------------------------------------------


@attrs.frozen(kw_only=True)
class OpenDispute(Command):
    """Open a dispute over part of an invoice: the disputed amount is not chased."""

    invoice_number: str
    dispute_reference: str
    amount: Money
    reason_code: DisputeReason
    root_cause: str
    opened_on: date


@attrs.frozen(kw_only=True)
class ResolveDispute(Command):
    """Resolve a dispute; an upheld one credits the invoice (``upheld``, default all of it)
    with a credit note numbered ``credit_note_number`` (default from the dispute), approved by
    ``approver`` (required when upheld)."""

    invoice_number: str
    dispute_reference: str
    outcome: DisputeOutcome
    resolved_on: date
    note: str
    upheld: Money | None = None
    credit_note_number: str | None = None
    approver: str | None = None


@attrs.frozen(kw_only=True)
class SetCollectionTarget(Command):
    """Set the customer's collection plan target for the month starting ``month_on``
    (0 takes it back)."""

    customer_code: str
    month_on: date
    target: Money
    set_by: str
    set_on: date
    note: str = ""


@attrs.frozen(kw_only=True)
class MakePromise(Command):
    """Record a promise to pay ``amount`` by ``promised_on`` (for the named invoices, or the
    account), possibly replacing an earlier promise (``supersedes``, its reference)."""

    customer_code: str
    promise_reference: str
    amount: Money
    promised_on: date
    made_on: date
    contact: str
    invoice_numbers: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    supersedes: str | None = None
    tranches: tuple[PromiseTranche, ...] = attrs.field(default=(), converter=_tranches)
    """Dated parts in minor units of ``amount``'s currency, adding up to it, the last on
    ``promised_on``; none: the whole amount on ``promised_on``."""


@attrs.frozen(kw_only=True)
class WithdrawPromise(Command):
    """Withdraw an open promise to pay."""

    promise_reference: str
    withdrawn_on: date
    reason: str


@attrs.frozen(kw_only=True)
class RecordAction(Command):
    """Record a collection action (a call, a letter, ...) and the next step agreed."""

    customer_code: str
    channel: ActionChannel
    taken_on: date
    collector: str
    contact: str
    outcome: str
    next_step: str = ""
    next_step_on: date | None = None


@attrs.frozen(kw_only=True)
class WaiveNegotiation(Command):
    """Let the actions of a level that waits for a negotiation go ahead without one."""

    customer_code: str
    waived_on: date
    approver: str
    reason: str


@attrs.frozen(kw_only=True)
class Diagnose(Command):
    """Record why the customer is late (the delinquency type)."""

    customer_code: str
    delinquency_type: DelinquencyType
    diagnosed_on: date
    note: str


@attrs.frozen(kw_only=True)
class AdoptPolicy(Command):
    """Adopt a version of the escalation policy from ``effective_on``."""

    policy: EscalationPolicy
    effective_on: date
    approver: str
    reason: str


# Approval of reductions -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AdoptAuthorityPolicy(Command):
    """Adopt a version of the authority policy (approver roles and their limits) from
    ``effective_on``."""

    policy: AuthorityPolicy
    effective_on: date
    approver: str
    reason: str


@attrs.frozen(kw_only=True)
class RequestReduction(Command):
    """Ask for a credit note, concession, write-off or due-date override on an invoice, dated
    ``reduce_on``, to be applied when approved (``ApproveReduction``). ``amount`` for a credit
    note or concession (a write-off takes what is open); ``credit_note_number`` for a credit
    note; ``due_on`` (the new due date) for a due-date override."""

    request_reference: str
    kind: ReductionKind
    invoice_number: str
    reduce_on: date
    reason: str
    requested_by: str
    requested_on: date
    amount: Money | None = None
    credit_note_number: str | None = None
    due_on: date | None = None


@attrs.frozen(kw_only=True)
class ApproveReduction(Command):
    """Approve a requested reduction; the approval that completes what the authority policy
    asks for (one approver, or two) applies it."""

    request_reference: str
    approver: str
    approved_on: date


@attrs.frozen(kw_only=True)
class RejectReduction(Command):
    """Refuse a requested reduction: it will not be applied."""

    request_reference: str
    rejected_by: str
    rejected_on: date
    reason: str


@attrs.frozen(kw_only=True)
class RecordExchangeRate(Command):
    """Record that one ``from_currency`` is worth ``rate`` ``to_currency`` from
    ``effective_on``, as ``source`` gave it (reporting-currency queries use it)."""

    from_currency: str
    to_currency: str
    rate: Decimal
    effective_on: date
    source: str


ALL_COMMANDS: tuple[type[Command], ...] = (
    OpenAccount,
    IssueInvoice,
    ReceivePayment,
    HandOverCash,
    AllocatePayment,
    ReversePayment,
    ApplyCreditNote,
    ApproveConcession,
    OverrideDueDate,
    WriteOff,
    Reinstate,
    SetCreditLine,
    RateRisk,
    Blacklist,
    ClearBlacklist,
    FileBankruptcy,
    SuspectFraud,
    ChangeTerms,
    SetPaymentCalendar,
    ChangeOwner,
    SetKeyContact,
    HoldSupply,
    ReleaseSupply,
    SendBalanceConfirmation,
    AcknowledgeBalanceConfirmation,
    ResolveReconciliation,
    AcceptReconciliation,
    AdoptAllocationRule,
    ProposeGoodsInLieu,
    ApproveGoodsInLieu,
    SettleGoodsInLieu,
    OpenDispute,
    ResolveDispute,
    MakePromise,
    WithdrawPromise,
    RecordAction,
    Diagnose,
    WaiveNegotiation,
    AdoptPolicy,
    AdoptAuthorityPolicy,
    RequestReduction,
    ApproveReduction,
    RejectReduction,
    RecordExchangeRate,
    SetCollectionTarget,
)
"""Every command, in the order the README lists them."""
