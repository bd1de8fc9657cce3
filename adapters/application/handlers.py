"""One handler per command: load what the command names, ask the domain to decide, record.

``handle(command, unit_of_work)`` returns the events the command recorded (for an allocation
retried with its ``allocation_key``, the events the first one recorded). A handler decides
nothing itself: the rules are in the domain functions it calls; it only finds the states they
need in the unit of work and turns ``Money`` into the minor units and currency they take.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Final, TypeVar
from uuid import UUID

from arledger.adapters.application.unit_of_work import UnitOfWork
from arledger.domain import collection_case as case_module
from arledger.domain import commands as c
from arledger.domain import customer as customer_module
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain import promise as promise_module
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import InvalidTextError
from arledger.domain.events import (
    Event,
    PaymentAllocated,
    PaymentApplied,
    ReconciliationResolution,
)
from arledger.domain.invoice import Invoice
from arledger.domain.money import Money, require_money
from arledger.domain.payment import Payment
from arledger.domain.rules import require_date
from arledger.projections import statement as statement_projection
from arledger.projections.statement import Statement

C = TypeVar("C", bound=c.Command)
Handler = Callable[[Any, UnitOfWork], list[Event]]

HANDLERS: Final[dict[type[c.Command], Handler]] = {}
"""The handler of each command class."""


def handles(cls: type[C]) -> Callable[[Callable[[C, UnitOfWork], list[Event]]], Handler]:
    """Register the decorated function as the handler of ``cls``."""

    def register(handler: Callable[[C, UnitOfWork], list[Event]]) -> Handler:
        assert cls not in HANDLERS, f"two handlers for {cls.__name__}"
        HANDLERS[cls] = handler
        return handler

    return register


def handle(command: c.Command, uow: UnitOfWork) -> list[Event]:
    """Decide ``command`` against the states in ``uow`` and record its events there."""
    return HANDLERS[type(command)](command, uow)


def _same_currency(holder: Invoice | CustomerAccount, amount: Money) -> None:
    """Refuse an amount in another currency than the invoice's or the account's."""
    Money.zero(holder.currency) + amount  # raises CurrencyMismatchError when they differ


def _registration(uow: UnitOfWork, credit_note_number: object) -> CreditNote | None:
    """The registration of a credit-note number; None for a value that is no key at all (the
    domain function then refuses it, naming the field the caller gave: the number, or the
    dispute reference it was made from)."""
    if not isinstance(credit_note_number, str):
        return None
    try:
        return uow.credit_note(credit_note_number)
    except InvalidTextError:
        return None


# Receivables ------------------------------------------------------------------------------


@handles(c.OpenAccount)
def open_account(command: c.OpenAccount, uow: UnitOfWork) -> list[Event]:
    code = command.customer_code
    existing = uow.customer(code) if isinstance(code, str) else None
    return uow.record(
        customer_module.open_account(
            existing,
            customer_code=code,
            name=command.name,
            currency=command.currency,
            collection_owner=command.collection_owner,
            opened_on=command.opened_on,
            terms_kind=command.terms_kind,
            terms_days=command.terms_days,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.IssueInvoice)
def issue_invoice(command: c.IssueInvoice, uow: UnitOfWork) -> list[Event]:
    amount = require_money("amount", command.amount)
    number, code = command.invoice_number, command.customer_code
    existing = uow.invoice(number) if isinstance(number, str) else None
    account = uow.customer(code) if isinstance(code, str) else None
    return uow.record(
        invoice_module.issue_invoice(
            existing,
            account,
            invoice_number=number,
            customer_code=code,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            issued_on=command.issued_on,
            due_on=command.due_on,
            instalments=command.instalments,
            contract_reference=command.contract_reference,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ReceivePayment)
def receive_payment(command: c.ReceivePayment, uow: UnitOfWork) -> list[Event]:
    amount = require_money("amount", command.amount)
    reference, code = command.bank_reference, command.payer_code
    existing = uow.payment(reference) if isinstance(reference, str) else None
    payer = uow.customer(code) if isinstance(code, str) else None
    return uow.record(
        payment_module.receive_payment(
            existing,
            payer,
            bank_reference=reference,
            payer_code=code,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            value_on=command.value_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.AllocatePayment)
def allocate_payment(command: c.AllocatePayment, uow: UnitOfWork) -> list[Event]:
    """Explicitly (invoice number -> amount) or, without ``allocations``, automatically to the
    payer's open invoices by the payer's allocation rule in force on the payment's value date
    (the day the money arrived, so a late or retried allocation follows the same rule as a
    prompt one, and a rule adopted later changes nothing received before it); a retry with the
    same ``allocation_key`` and content records nothing and returns the first allocation's
    events."""
    payment = uow.require_payment(command.bank_reference)
    explicit: list[tuple[Invoice, int]] | None = None
    if command.allocations is not None:
        explicit = []
        for target in command.allocations:
            invoice = uow.require_invoice(target.invoice_number)
            amount = require_money("amount", target.amount)
            if amount.currency != payment.currency:
                amount = amount + Money.zero(payment.currency)  # raises the mismatch
            explicit.append((invoice, amount.amount_minor))
    key = command.allocation_key
    if key is not None and payment_module.replayed_allocation(
        payment, allocation_key=key, targets=explicit, allocated_on=command.allocated_on
    ):
        return _keyed_allocation(uow, payment, key)
    if explicit is None:
        payer = uow.customer_by_id(payment.payer_customer_id)
        assert payer is not None
        rule, effective_on = payer.allocation_rule_on(payment.value_on)
        targets = payment_module.plan_automatic(
            rule, payment, uow.invoices_of(payer), effective_on=effective_on
        )
    else:
        targets = explicit
    return uow.record(
        payment_module.allocate_payment(
            payment,
            targets,
            allocated_on=command.allocated_on,
            allocation_key=key,
            recorded_at=uow.recorded_at,
        )
    )


def _keyed_allocation(uow: UnitOfWork, payment: Payment, allocation_key: str) -> list[Event]:
    """The events an allocation with this key recorded, in the order it returned them: each
    invoice's ``PaymentApplied`` then the payment's ``PaymentAllocated``. Read from the store
    (and the unit of work's pending events), so a retry from another process or after a
    restart gets the same answer."""
    allocated = [
        event
        for event in uow.events_of(payment.id)
        if isinstance(event, PaymentAllocated) and event.allocation_key == allocation_key
    ]
    result: list[Event] = []
    taken: set[tuple[UUID, int]] = set()
    for part in allocated:
        # The invoice side was recorded in the same command: same payment, amount and
        # recording instant (the invoice's version is not on the payment's event).
        applied = next(
            event
            for event in uow.events_of(part.invoice_id)
            if isinstance(event, PaymentApplied)
            and event.payment_id == payment.id
            and event.amount_minor == part.amount_minor
            and event.timestamp == part.timestamp
            and (event.originator_id, event.originator_version) not in taken
        )
        taken.add((applied.originator_id, applied.originator_version))
        result += [applied, part]
    return result


@handles(c.ReversePayment)
def reverse_payment(command: c.ReversePayment, uow: UnitOfWork) -> list[Event]:
    payment = uow.require_payment(command.bank_reference)
    invoices = [uow.invoice_by_id(invoice_id) for invoice_id in payment.allocations]
    return uow.record(
        payment_module.reverse_payment(
            payment,
            [invoice for invoice in invoices if invoice is not None],
            reversed_on=command.reversed_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ApplyCreditNote)
def apply_credit_note(command: c.ApplyCreditNote, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    amount = require_money("amount", command.amount)
    account = uow.customer_by_id(invoice.customer_id)
    assert account is not None
    number = command.credit_note_number
    registered = _registration(uow, number)
    return uow.record(
        invoice_module.apply_credit_note(
            invoice,
            account,
            registered,
            credit_note_number=number,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            applied_on=command.applied_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ApproveConcession)
def approve_concession(command: c.ApproveConcession, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    _same_currency(invoice, command.amount)
    return uow.record(
        invoice_module.approve_concession(
            invoice,
            amount_minor=command.amount.amount_minor,
            approved_on=command.approved_on,
            reason=command.reason,
            approver=command.approver,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.WriteOff)
def write_off(command: c.WriteOff, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        invoice_module.write_off(
            uow.require_invoice(command.invoice_number),
            written_off_on=command.written_off_on,
            reason=command.reason,
            approver=command.approver,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.Reinstate)
def reinstate(command: c.Reinstate, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        invoice_module.reinstate(
            uow.require_invoice(command.invoice_number),
            reinstated_on=command.reinstated_on,
            reason=command.reason,
            approver=command.approver,
            recorded_at=uow.recorded_at,
        )
    )


# Collections: the account -----------------------------------------------------------------


@handles(c.SetCreditLine)
def set_credit_line(command: c.SetCreditLine, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    _same_currency(account, command.amount)
    capital = command.registered_capital
    if capital is not None:
        _same_currency(account, capital)
    return uow.record(
        customer_module.set_credit_line(
            account,
            amount_minor=command.amount.amount_minor,
            effective_on=command.effective_on,
            approver=command.approver,
            reason=command.reason,
            registered_capital_minor=None if capital is None else capital.amount_minor,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.RateRisk)
def rate_risk(command: c.RateRisk, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.rate_risk(
            uow.require_customer(command.customer_code),
            rating=command.rating,
            rated_on=command.rated_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.Blacklist)
def blacklist(command: c.Blacklist, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.blacklist(
            uow.require_customer(command.customer_code),
            blacklisted_on=command.blacklisted_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ClearBlacklist)
def clear_blacklist(command: c.ClearBlacklist, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.clear_blacklist(
            uow.require_customer(command.customer_code),
            cleared_on=command.cleared_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ChangeTerms)
def change_terms(command: c.ChangeTerms, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.change_terms(
            uow.require_customer(command.customer_code),
            terms_kind=command.terms_kind,
            terms_days=command.terms_days,
            changed_on=command.changed_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.SetPaymentCalendar)
def set_payment_calendar(command: c.SetPaymentCalendar, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.set_payment_calendar(
            uow.require_customer(command.customer_code),
            book_closing_day=command.book_closing_day,
            payment_run_days=tuple(command.payment_run_days),
            set_on=command.set_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ChangeOwner)
def change_owner(command: c.ChangeOwner, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.change_owner(
            uow.require_customer(command.customer_code),
            collection_owner=command.collection_owner,
            changed_on=command.changed_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.SetKeyContact)
def set_key_contact(command: c.SetKeyContact, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.set_key_contact(
            uow.require_customer(command.customer_code),
            role=command.role,
            name=command.name,
            phone=command.phone,
            email=command.email,
            set_on=command.set_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.HoldSupply)
def hold_supply(command: c.HoldSupply, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.hold_supply(
            uow.require_customer(command.customer_code),
            held_on=command.held_on,
            reason=command.reason,
            by_policy=command.by_policy,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ReleaseSupply)
def release_supply(command: c.ReleaseSupply, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.release_supply(
            uow.require_customer(command.customer_code),
            released_on=command.released_on,
            reason=command.reason,
            by_policy=command.by_policy,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.SendBalanceConfirmation)
def send_balance_confirmation(command: c.SendBalanceConfirmation, uow: UnitOfWork) -> list[Event]:
    """Issue a confirmation from the customer's statement of account for the period ending on
    ``balance_as_of`` (from the account's opening unless a start is given): its closing
    balance, which is the ageing's open total on that day, and its count of lines."""
    account = uow.require_customer(command.customer_code)
    to_on = require_date("balance_as_of", command.balance_as_of)
    from_on = command.statement_from_on
    if from_on is None:
        from_on = min(account.opened_on, to_on)
    statement = _statement(uow, account, require_date("statement_from_on", from_on), to_on)
    return uow.record(
        customer_module.send_balance_confirmation(
            account,
            confirmation_reference=command.confirmation_reference,
            balance_as_of=to_on,
            ledger_balance_minor=statement.closing_balance_minor,
            sent_on=command.sent_on,
            statement_from_on=from_on,
            statement_lines=len(statement.lines),
            recorded_at=uow.recorded_at,
        )
    )


def _statement(uow: UnitOfWork, account: CustomerAccount, from_on: date, to_on: date) -> Statement:
    """The account's statement of account as this unit of work sees it: the customer's events
    in the log (as ``Ledger.statement`` reads them) and those recorded in the unit so far, so
    that an account opened or an invoice issued earlier in the same session counts."""
    ledger = uow.ledger
    recorded: Iterable[Event]
    if ledger.read_models != "replay":
        recorded = ledger.query_engine().customer_events(account.id, None)
    else:
        recorded = ledger.iter_events()
    state = statement_projection.fold_all(itertools.chain(recorded, uow.pending))
    return statement_projection.statement_of_account(state, account.id, from_on, to_on)


@handles(c.AcknowledgeBalanceConfirmation)
def acknowledge_balance_confirmation(
    command: c.AcknowledgeBalanceConfirmation, uow: UnitOfWork
) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    _same_currency(account, command.confirmed_balance)
    return uow.record(
        customer_module.acknowledge_balance_confirmation(
            account,
            confirmation_reference=command.confirmation_reference,
            confirmed_balance_minor=command.confirmed_balance.amount_minor,
            acknowledged_on=command.acknowledged_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ResolveReconciliation)
def resolve_reconciliation(command: c.ResolveReconciliation, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    return uow.record(
        customer_module.resolve_reconciliation(
            account,
            confirmation_reference=command.confirmation_reference,
            resolution=command.resolution,
            reference=command.reference,
            reference_on=_resolution_on(uow, account, command.resolution, command.reference),
            resolved_on=command.resolved_on,
            note=command.note,
            recorded_at=uow.recorded_at,
        )
    )


def _resolution_on(
    uow: UnitOfWork, account: CustomerAccount, resolution: object, reference: object
) -> date | None:
    """The business date of the customer's credit note, payment or dispute ``reference`` in
    the log (applied, value or opened on); None if the log holds none of the customer's, or
    the reference is no key at all (the domain function then refuses it, naming the field)."""
    if not isinstance(reference, str):
        return None
    try:
        if resolution is ReconciliationResolution.CREDIT_NOTE:
            credit_note = uow.credit_note(reference)
            if credit_note is not None and credit_note.customer_id == account.id:
                return credit_note.applied_on
        elif resolution is ReconciliationResolution.PAYMENT:
            payment = uow.payment(reference)
            if payment is not None and payment.payer_customer_id == account.id:
                return payment.value_on
        elif resolution is ReconciliationResolution.DISPUTE:
            for invoice in uow.invoices_of(account):
                opening = invoice.dispute_openings.get(reference)
                if opening is not None:
                    return opening[3]
    except InvalidTextError:
        return None
    return None


@handles(c.AcceptReconciliation)
def accept_reconciliation(command: c.AcceptReconciliation, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.accept_reconciliation(
            uow.require_customer(command.customer_code),
            confirmation_reference=command.confirmation_reference,
            approver=command.approver,
            accepted_on=command.accepted_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.AdoptAllocationRule)
def adopt_allocation_rule(command: c.AdoptAllocationRule, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.adopt_allocation_rule(
            uow.require_customer(command.customer_code),
            rule=command.rule,
            effective_on=command.effective_on,
            approver=command.approver,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


# Collections: disputes, promises, actions, policy -------------------------------------------


@handles(c.OpenDispute)
def open_dispute(command: c.OpenDispute, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    _same_currency(invoice, command.amount)
    return uow.record(
        invoice_module.open_dispute(
            invoice,
            dispute_reference=command.dispute_reference,
            amount_minor=command.amount.amount_minor,
            reason_code=command.reason_code,
            root_cause=command.root_cause,
            opened_on=command.opened_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ResolveDispute)
def resolve_dispute(command: c.ResolveDispute, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    if command.upheld is not None:
        _same_currency(invoice, command.upheld)
    number = invoice_module.dispute_credit_note_number(
        command.dispute_reference, command.credit_note_number
    )
    registered = _registration(uow, number)
    return uow.record(
        invoice_module.resolve_dispute(
            invoice,
            dispute_reference=command.dispute_reference,
            outcome=command.outcome,
            resolved_on=command.resolved_on,
            note=command.note,
            upheld_minor=None if command.upheld is None else command.upheld.amount_minor,
            credit_note_number=command.credit_note_number,
            registered=registered,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.MakePromise)
def make_promise(command: c.MakePromise, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    amount = require_money("amount", command.amount)
    reference = command.promise_reference
    existing = uow.promise(reference) if isinstance(reference, str) else None
    invoices = [uow.require_invoice(number) for number in command.invoice_numbers]
    # Naming no invoice, a promise is held to what the whole account has open.
    account_invoices = [] if invoices else uow.invoices_of(account)
    supersedes = command.supersedes
    return uow.record(
        promise_module.make_promise(
            existing,
            account,
            promise_reference=reference,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            promised_on=command.promised_on,
            made_on=command.made_on,
            contact=command.contact,
            invoices=invoices,
            account_invoices=account_invoices,
            supersedes=None if supersedes is None else uow.require_promise(supersedes),
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.WithdrawPromise)
def withdraw_promise(command: c.WithdrawPromise, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        promise_module.withdraw_promise(
            uow.require_promise(command.promise_reference),
            withdrawn_on=command.withdrawn_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.RecordAction)
def record_action(command: c.RecordAction, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    return uow.record(
        case_module.record_action(
            uow.case(command.customer_code),
            account,
            channel=command.channel,
            taken_on=command.taken_on,
            collector=command.collector,
            contact=command.contact,
            outcome=command.outcome,
            next_step=command.next_step,
            next_step_on=command.next_step_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.Diagnose)
def diagnose(command: c.Diagnose, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    return uow.record(
        case_module.diagnose(
            uow.case(command.customer_code),
            account,
            delinquency_type=command.delinquency_type,
            diagnosed_on=command.diagnosed_on,
            note=command.note,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.WaiveNegotiation)
def waive_negotiation(command: c.WaiveNegotiation, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    return uow.record(
        case_module.waive_negotiation(
            uow.case(command.customer_code),
            account,
            waived_on=command.waived_on,
            approver=command.approver,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.AdoptPolicy)
def adopt_policy(command: c.AdoptPolicy, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        policy_book_module.adopt_policy(
            uow.policy_book(),
            policy=command.policy,
            effective_on=command.effective_on,
            approver=command.approver,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )
