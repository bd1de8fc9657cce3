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
from arledger.domain import approval as approval_module
from arledger.domain import collection_case as case_module
from arledger.domain import commands as c
from arledger.domain import customer as customer_module
from arledger.domain import exchange_rate as exchange_rate_module
from arledger.domain import goods_in_lieu
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain import promise as promise_module
from arledger.domain.approval import Authority, ReductionRequest
from arledger.domain.authority import ReductionKind
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import InvalidChoiceError, InvalidCommandError, InvalidTextError
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


def _authority(uow: UnitOfWork, invoice: Invoice, field: str, on: date) -> Authority:
    """What a reduction of ``invoice`` dated ``on`` is held to: the authority policy in force
    then and what each role already approved for the invoice's customer in its period."""
    authority = _policy_authority(uow, field, on)
    if authority.policy is None:
        return authority
    account = uow.customer_by_id(invoice.customer_id)
    assert account is not None
    reductions = [
        reduction for each in uow.invoices_of(account) for reduction in each.approved_reductions
    ]
    book = uow.authority_book()
    assert book is not None
    return Authority(
        policy=authority.policy,
        approved_minor_by_role=approval_module.approved_in_period(reductions, book.versions, on),
    )


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
            interest_minor=_component(command.interest, amount, "interest"),
            fees_minor=_component(command.fees, amount, "fees"),
            recorded_at=uow.recorded_at,
        )
    )


def _component(part: Money | None, amount: Money, field: str) -> int:
    """An invoice component's minor units, in the invoice's currency (0 when not given)."""
    if part is None:
        return 0
    part = require_money(field, part)
    Money.zero(amount.currency) + part  # raises CurrencyMismatchError when they differ
    return part.amount_minor


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
            method=command.method,
            received_by=command.received_by,
        )
    )


@handles(c.HandOverCash)
def hand_over_cash(command: c.HandOverCash, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        payment_module.hand_over_cash(
            uow.require_payment(command.bank_reference),
            handed_on=command.handed_on,
            received_by_finance=command.received_by_finance,
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
    if payment.received_by is not None:
        book = uow.policy_book()
        policy = policy_book_module.policy_in_force(
            () if book is None else book.versions, payment.value_on
        )
        payment_module.require_handed_over(
            payment,
            settles_on_handover=policy.cash_settles_on_handover,
            allocated_on=command.allocated_on,
        )
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
            approver=command.approver,
            second_approver=command.second_approver,
            authority=_authority(uow, invoice, "applied_on", command.applied_on),
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
            second_approver=command.second_approver,
            authority=_authority(uow, invoice, "approved_on", command.approved_on),
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.OverrideDueDate)
def override_due_date(command: c.OverrideDueDate, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    return uow.record(
        invoice_module.override_due_date(
            invoice,
            due_on=command.due_on,
            overridden_on=command.overridden_on,
            reason=command.reason,
            approver=command.approver,
            authority=_policy_authority(uow, "overridden_on", command.overridden_on),
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.WriteOff)
def write_off(command: c.WriteOff, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    return uow.record(
        invoice_module.write_off(
            invoice,
            written_off_on=command.written_off_on,
            reason=command.reason,
            approver=command.approver,
            second_approver=command.second_approver,
            authority=_authority(uow, invoice, "written_off_on", command.written_off_on),
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


@handles(c.FileBankruptcy)
def file_bankruptcy(command: c.FileBankruptcy, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.file_bankruptcy(
            uow.require_customer(command.customer_code),
            filed_on=command.filed_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.SuspectFraud)
def suspect_fraud(command: c.SuspectFraud, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        customer_module.suspect_fraud(
            uow.require_customer(command.customer_code),
            suspected_on=command.suspected_on,
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


@handles(c.SetCollectionTarget)
def set_collection_target(command: c.SetCollectionTarget, uow: UnitOfWork) -> list[Event]:
    target = require_money("target", command.target)
    return uow.record(
        customer_module.set_collection_target(
            uow.require_customer(command.customer_code),
            month_on=command.month_on,
            amount_minor=target.amount_minor,
            currency=target.currency,
            set_by=command.set_by,
            set_on=command.set_on,
            note=command.note,
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


# Goods in lieu [以物抵债] ---------------------------------------------------------------------


@handles(c.ProposeGoodsInLieu)
def propose_goods_in_lieu(command: c.ProposeGoodsInLieu, uow: UnitOfWork) -> list[Event]:
    """Valued with the haircut of the policy in force on the proposal's date."""
    account = uow.require_customer(command.customer_code)
    appraised = require_money("appraised", command.appraised)
    proposed_on = require_date("proposed_on", command.proposed_on)
    book = uow.policy_book()
    policy = policy_book_module.policy_in_force(() if book is None else book.versions, proposed_on)
    return uow.record(
        goods_in_lieu.propose(
            account,
            policy,
            settlement_reference=command.settlement_reference,
            goods=command.goods,
            quantity=command.quantity,
            unit=command.unit,
            appraised_minor=appraised.amount_minor,
            currency=appraised.currency,
            appraiser=command.appraiser,
            proposed_on=proposed_on,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.ApproveGoodsInLieu)
def approve_goods_in_lieu(command: c.ApproveGoodsInLieu, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        goods_in_lieu.approve(
            uow.require_customer(command.customer_code),
            settlement_reference=command.settlement_reference,
            approver=command.approver,
            reason=command.reason,
            approved_on=command.approved_on,
            recorded_at=uow.recorded_at,
            authority=_policy_authority(uow, "approved_on", command.approved_on),
        )
    )


def _policy_authority(uow: UnitOfWork, field: str, on: date) -> Authority:
    """The authority policy in force on ``on``, with nothing approved before counted (as
    such for approvals that are not reductions: a settlement in goods)."""
    require_date(field, on)
    book = uow.authority_book()
    policy = None if book is None else approval_module.authority_in_force(book.versions, on)
    return approval_module.NO_AUTHORITY_POLICY if policy is None else Authority(policy=policy)


@handles(c.SettleGoodsInLieu)
def settle_goods_in_lieu(command: c.SettleGoodsInLieu, uow: UnitOfWork) -> list[Event]:
    account = uow.require_customer(command.customer_code)
    targets: list[tuple[Invoice, int]] = []
    for target in command.allocations:
        invoice = uow.require_invoice(target.invoice_number)
        amount = require_money("amount", target.amount)
        _same_currency(invoice, amount)
        targets.append((invoice, amount.amount_minor))
    return uow.record(
        goods_in_lieu.settle(
            account,
            targets,
            settlement_reference=command.settlement_reference,
            settled_on=command.settled_on,
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
            approver=command.approver,
            authority=_authority(uow, invoice, "resolved_on", command.resolved_on),
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
            tranches=command.tranches,
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


# Approval of reductions -------------------------------------------------------------------


@handles(c.AdoptAuthorityPolicy)
def adopt_authority_policy(command: c.AdoptAuthorityPolicy, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        approval_module.adopt_authority_policy(
            uow.authority_book(),
            policy=command.policy,
            effective_on=command.effective_on,
            approver=command.approver,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


def _reduction(
    uow: UnitOfWork,
    request: ReductionRequest | c.RequestReduction,
    invoice: Invoice,
    *,
    amount_minor: int,
    approvers: tuple[str, ...],
    authority: Authority,
) -> list[Event]:
    """The invoice's events for a requested reduction, decided by the same domain function a
    direct one is (so a request that could not be applied is refused when it is made)."""
    reason, on = request.reason, request.reduce_on
    first, second = approvers[0], approvers[1] if len(approvers) > 1 else None
    match request.kind:
        case ReductionKind.CREDIT_NOTE:
            number = request.credit_note_number
            account = uow.customer_by_id(invoice.customer_id)
            assert account is not None
            if number is None:
                raise InvalidCommandError(
                    "a credit note request names its credit_note_number",
                    field="credit_note_number",
                    invoice_number=invoice.invoice_number,
                )
            return invoice_module.apply_credit_note(
                invoice,
                account,
                _registration(uow, number),
                credit_note_number=number,
                amount_minor=amount_minor,
                currency=invoice.currency,
                applied_on=on,
                reason=reason,
                approver=first,
                second_approver=second,
                authority=authority,
                recorded_at=uow.recorded_at,
            )
        case ReductionKind.CONCESSION:
            return invoice_module.approve_concession(
                invoice,
                amount_minor=amount_minor,
                approved_on=on,
                reason=reason,
                approver=first,
                second_approver=second,
                authority=authority,
                recorded_at=uow.recorded_at,
            )
        case ReductionKind.WRITE_OFF:
            return invoice_module.write_off(
                invoice,
                written_off_on=on,
                reason=reason,
                approver=first,
                second_approver=second,
                authority=authority,
                recorded_at=uow.recorded_at,
            )
        case ReductionKind.DUE_DATE_OVERRIDE:
            if request.due_on is None:
                raise InvalidCommandError(
                    "a due-date override request names its new due_on",
                    field="due_on",
                    invoice_number=invoice.invoice_number,
                )
            return invoice_module.override_due_date(
                invoice,
                due_on=request.due_on,
                overridden_on=on,
                reason=reason,
                approver=first,
                authority=authority,
                recorded_at=uow.recorded_at,
            )
    raise InvalidChoiceError(
        "a reduction is a credit note, a concession, a write-off or a due-date override, got "
        f"{request.kind!r}",
        field="kind",
        value=request.kind,
    )


@handles(c.RequestReduction)
def request_reduction(command: c.RequestReduction, uow: UnitOfWork) -> list[Event]:
    invoice = uow.require_invoice(command.invoice_number)
    if command.kind in (ReductionKind.WRITE_OFF, ReductionKind.DUE_DATE_OVERRIDE):
        if command.amount is not None:
            raise InvalidCommandError(
                f"a {command.kind.value.replace('_', ' ')} takes what is open: give no amount",
                field="amount",
                invoice_number=invoice.invoice_number,
            )
        amount_minor = invoice.open_minor
    else:
        amount = require_money("amount", command.amount)
        _same_currency(invoice, amount)
        amount_minor = amount.amount_minor
    require_date("reduce_on", command.reduce_on)
    if (command.due_on is None) != (command.kind is not ReductionKind.DUE_DATE_OVERRIDE):
        raise InvalidCommandError(
            "due_on is given for a due-date override request, and only for one",
            field="due_on",
            invoice_number=invoice.invoice_number,
        )
    requested = approval_module.request_reduction(
        uow.reduction_request(command.request_reference),
        request_reference=command.request_reference,
        kind=command.kind,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        reduce_on=command.reduce_on,
        reason=command.reason,
        requested_by=command.requested_by,
        requested_on=command.requested_on,
        credit_note_number=command.credit_note_number,
        recorded_at=uow.recorded_at,
        due_on=command.due_on,
    )
    if requested:
        # Decided now as if approved without limits, and the events dropped: a request the
        # invoice would refuse (more than is open, a date before an earlier movement, a
        # credit-note number taken) is refused when it is made, not when it is approved.
        _reduction(
            uow,
            command,
            invoice,
            amount_minor=amount_minor,
            approvers=(command.requested_by,),
            authority=approval_module.NO_AUTHORITY_POLICY,
        )
    return uow.record(requested)


@handles(c.ApproveReduction)
def approve_reduction(command: c.ApproveReduction, uow: UnitOfWork) -> list[Event]:
    request = uow.require_reduction_request(command.request_reference)
    invoice = uow.invoice_by_id(request.invoice_id)
    assert invoice is not None
    authority = _authority(uow, invoice, "reduce_on", request.reduce_on)
    amount_minor = (
        invoice.open_minor
        if request.kind in (ReductionKind.WRITE_OFF, ReductionKind.DUE_DATE_OVERRIDE)
        else request.amount_minor
    )
    approved = approval_module.approve_reduction(
        request,
        authority,
        approver=command.approver,
        approved_on=command.approved_on,
        amount_minor=amount_minor,
        recorded_at=uow.recorded_at,
        postponement_days=None
        if request.due_on is None
        else (request.due_on - invoice.current_due_on).days,
    )
    if not approved.applied:
        return uow.record([approved])
    reduction = _reduction(
        uow,
        request,
        invoice,
        amount_minor=amount_minor,
        approvers=(*request.approvers, command.approver),
        authority=authority,
    )
    return uow.record([approved, *reduction])


@handles(c.RejectReduction)
def reject_reduction(command: c.RejectReduction, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        approval_module.reject_reduction(
            uow.require_reduction_request(command.request_reference),
            rejected_by=command.rejected_by,
            rejected_on=command.rejected_on,
            reason=command.reason,
            recorded_at=uow.recorded_at,
        )
    )


@handles(c.RecordExchangeRate)
def record_exchange_rate(command: c.RecordExchangeRate, uow: UnitOfWork) -> list[Event]:
    return uow.record(
        exchange_rate_module.record_exchange_rate(
            uow.rate_book(),
            from_currency=command.from_currency,
            to_currency=command.to_currency,
            rate=command.rate,
            effective_on=command.effective_on,
            source=command.source,
            recorded_at=uow.recorded_at,
        )
    )
