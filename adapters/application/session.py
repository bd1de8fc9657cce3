"""``Session``: a unit of work that takes commands, one typed method per command.

``ledger.session()`` gives one; each method builds its command and hands it to its handler
(``arledger.adapters.application.handlers``), so the events are recorded in the session and
saved by ``commit()`` in one transaction. The importer and the demo decide many commands in
one session; ``Ledger.run`` retries a session's work after a version conflict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from arledger.adapters.application.handlers import handle
from arledger.adapters.application.unit_of_work import UnitOfWork
from arledger.domain import commands as c
from arledger.domain.customer import DEFAULT_TERMS_DAYS
from arledger.domain.events import (
    ActionChannel,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    Instalment,
    PaymentTermsKind,
    ReconciliationResolution,
    RiskRating,
)
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy


def invoice_amounts(allocations: Mapping[str, Money]) -> tuple[c.InvoiceAmount, ...]:
    """An allocation's targets (invoice number -> amount) as the command holds them."""
    return tuple(
        c.InvoiceAmount(invoice_number=number, amount=amount)
        for number, amount in allocations.items()
    )


class Session(UnitOfWork):
    """A unit of work with a method per command (keyword arguments only); each returns the
    events its command recorded (or, for a keyed allocation retried, the first ones)."""

    def open_account(
        self,
        *,
        customer_code: str,
        name: str,
        currency: str,
        collection_owner: str,
        opened_on: date,
        terms_kind: PaymentTermsKind = PaymentTermsKind.NET,
        terms_days: int = DEFAULT_TERMS_DAYS,
    ) -> list[Event]:
        """Open a customer account: one currency, one collection owner, payment terms.
        (``OpenAccount``)
        """
        return handle(
            c.OpenAccount(
                customer_code=customer_code,
                name=name,
                currency=currency,
                collection_owner=collection_owner,
                opened_on=opened_on,
                terms_kind=terms_kind,
                terms_days=terms_days,
            ),
            self,
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
        """Issue an invoice to a customer; without ``due_on`` the due date comes from the
        terms. (``IssueInvoice``)
        """
        return handle(
            c.IssueInvoice(
                invoice_number=invoice_number,
                customer_code=customer_code,
                amount=amount,
                issued_on=issued_on,
                due_on=due_on,
                instalments=tuple(instalments),
                contract_reference=contract_reference,
            ),
            self,
        )

    def receive_payment(
        self, *, bank_reference: str, payer_code: str, amount: Money, value_on: date
    ) -> list[Event]:
        """Record money received from a payer, not yet allocated to invoices.
        (``ReceivePayment``)
        """
        return handle(
            c.ReceivePayment(
                bank_reference=bank_reference,
                payer_code=payer_code,
                amount=amount,
                value_on=value_on,
            ),
            self,
        )

    def allocate_payment(
        self,
        *,
        bank_reference: str,
        allocations: Mapping[str, Money] | None = None,
        allocated_on: date | None = None,
        allocation_key: str | None = None,
    ) -> list[Event]:
        """Allocate a payment: to the listed invoices, or (``allocations`` None) to the payer's
        open invoices, oldest due date first. ``allocation_key`` (the client's,
        unique per payment) makes a retry record nothing and answer the first
        allocation's events. (``AllocatePayment``)
        """
        return handle(
            c.AllocatePayment(
                bank_reference=bank_reference,
                allocations=None if allocations is None else invoice_amounts(allocations),
                allocated_on=allocated_on,
                allocation_key=allocation_key,
            ),
            self,
        )

    def reverse_payment(
        self, *, bank_reference: str, reversed_on: date, reason: str
    ) -> list[Event]:
        """Reverse a payment (returned by the bank): what it settled is open again.
        (``ReversePayment``)
        """
        return handle(
            c.ReversePayment(bank_reference=bank_reference, reversed_on=reversed_on, reason=reason),
            self,
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
        """Credit an invoice; a credit-note number credits one invoice, once.
        (``ApplyCreditNote``)
        """
        return handle(
            c.ApplyCreditNote(
                invoice_number=invoice_number,
                credit_note_number=credit_note_number,
                amount=amount,
                applied_on=applied_on,
                reason=reason,
            ),
            self,
        )

    def approve_concession(
        self, *, invoice_number: str, amount: Money, approved_on: date, reason: str, approver: str
    ) -> list[Event]:
        """Approve a concession (a discount agreed after issue) on an invoice.
        (``ApproveConcession``)
        """
        return handle(
            c.ApproveConcession(
                invoice_number=invoice_number,
                amount=amount,
                approved_on=approved_on,
                reason=reason,
                approver=approver,
            ),
            self,
        )

    def write_off(
        self, *, invoice_number: str, written_off_on: date, reason: str, approver: str
    ) -> list[Event]:
        """Book what is open on an invoice as a bad debt. (``WriteOff``)"""
        return handle(
            c.WriteOff(
                invoice_number=invoice_number,
                written_off_on=written_off_on,
                reason=reason,
                approver=approver,
            ),
            self,
        )

    def reinstate(
        self, *, invoice_number: str, reinstated_on: date, reason: str, approver: str
    ) -> list[Event]:
        """Undo an invoice's write-off. (``Reinstate``)"""
        return handle(
            c.Reinstate(
                invoice_number=invoice_number,
                reinstated_on=reinstated_on,
                reason=reason,
                approver=approver,
            ),
            self,
        )

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
        """Set the customer's credit line from ``effective_on``. (``SetCreditLine``)"""
        return handle(
            c.SetCreditLine(
                customer_code=customer_code,
                amount=amount,
                effective_on=effective_on,
                approver=approver,
                reason=reason,
                registered_capital=registered_capital,
            ),
            self,
        )

    def rate_risk(
        self, *, customer_code: str, rating: RiskRating, rated_on: date, reason: str
    ) -> list[Event]:
        """Rate the customer's credit risk. (``RateRisk``)"""
        return handle(
            c.RateRisk(
                customer_code=customer_code, rating=rating, rated_on=rated_on, reason=reason
            ),
            self,
        )

    def blacklist(self, *, customer_code: str, blacklisted_on: date, reason: str) -> list[Event]:
        """Put the customer on the blacklist. (``Blacklist``)"""
        return handle(
            c.Blacklist(customer_code=customer_code, blacklisted_on=blacklisted_on, reason=reason),
            self,
        )

    def clear_blacklist(self, *, customer_code: str, cleared_on: date, reason: str) -> list[Event]:
        """Take the customer off the blacklist. (``ClearBlacklist``)"""
        return handle(
            c.ClearBlacklist(customer_code=customer_code, cleared_on=cleared_on, reason=reason),
            self,
        )

    def change_terms(
        self, *, customer_code: str, terms_kind: PaymentTermsKind, terms_days: int, changed_on: date
    ) -> list[Event]:
        """Change the payment terms of the customer's future invoices. (``ChangeTerms``)"""
        return handle(
            c.ChangeTerms(
                customer_code=customer_code,
                terms_kind=terms_kind,
                terms_days=terms_days,
                changed_on=changed_on,
            ),
            self,
        )

    def set_payment_calendar(
        self,
        *,
        customer_code: str,
        book_closing_day: int | None,
        payment_run_days: Sequence[int],
        set_on: date,
    ) -> list[Event]:
        """Set the customer's book-closing day and payment-run days (days of the month).
        (``SetPaymentCalendar``)
        """
        return handle(
            c.SetPaymentCalendar(
                customer_code=customer_code,
                book_closing_day=book_closing_day,
                payment_run_days=tuple(payment_run_days),
                set_on=set_on,
            ),
            self,
        )

    def change_owner(
        self, *, customer_code: str, collection_owner: str, changed_on: date
    ) -> list[Event]:
        """Hand the account to another collection owner. (``ChangeOwner``)"""
        return handle(
            c.ChangeOwner(
                customer_code=customer_code,
                collection_owner=collection_owner,
                changed_on=changed_on,
            ),
            self,
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
        """Name the customer's contact for a role. (``SetKeyContact``)"""
        return handle(
            c.SetKeyContact(
                customer_code=customer_code,
                role=role,
                name=name,
                set_on=set_on,
                phone=phone,
                email=email,
            ),
            self,
        )

    def hold_supply(
        self, *, customer_code: str, held_on: date, reason: str, by_policy: bool = False
    ) -> list[Event]:
        """Stop supplying the customer (``by_policy``: because the escalation policy says so).
        (``HoldSupply``)
        """
        return handle(
            c.HoldSupply(
                customer_code=customer_code, held_on=held_on, reason=reason, by_policy=by_policy
            ),
            self,
        )

    def release_supply(
        self, *, customer_code: str, released_on: date, reason: str, by_policy: bool = False
    ) -> list[Event]:
        """Supply the customer again. (``ReleaseSupply``)"""
        return handle(
            c.ReleaseSupply(
                customer_code=customer_code,
                released_on=released_on,
                reason=reason,
                by_policy=by_policy,
            ),
            self,
        )

    def send_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        balance_as_of: date,
        sent_on: date,
        statement_from_on: date | None = None,
    ) -> list[Event]:
        """Send the customer its statement of account for ``statement_from_on``..
        ``balance_as_of`` (default: from the account's opening) to confirm its closing balance.
        (``SendBalanceConfirmation``)
        """
        return handle(
            c.SendBalanceConfirmation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                balance_as_of=balance_as_of,
                sent_on=sent_on,
                statement_from_on=statement_from_on,
            ),
            self,
        )

    def acknowledge_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        confirmed_balance: Money,
        acknowledged_on: date,
    ) -> list[Event]:
        """Record the balance the customer confirmed (a difference is flagged, not corrected).
        (``AcknowledgeBalanceConfirmation``)
        """
        return handle(
            c.AcknowledgeBalanceConfirmation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                confirmed_balance=confirmed_balance,
                acknowledged_on=acknowledged_on,
            ),
            self,
        )

    def resolve_reconciliation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        resolution: ReconciliationResolution,
        reference: str,
        resolved_on: date,
        note: str,
    ) -> list[Event]:
        """Close the reconciliation item a confirmation's difference opened, with the credit
        note, payment (bank reference) or dispute of the customer that explains it.
        (``ResolveReconciliation``)
        """
        return handle(
            c.ResolveReconciliation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                resolution=resolution,
                reference=reference,
                resolved_on=resolved_on,
                note=note,
            ),
            self,
        )

    def accept_reconciliation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        approver: str,
        accepted_on: date,
        reason: str,
    ) -> list[Event]:
        """Close the reconciliation item a confirmation's difference opened by accepting the
        difference, on an approver's authority. (``AcceptReconciliation``)
        """
        return handle(
            c.AcceptReconciliation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                approver=approver,
                accepted_on=accepted_on,
                reason=reason,
            ),
            self,
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
        """Open a dispute over part of an invoice: the disputed amount is not chased.
        (``OpenDispute``)
        """
        return handle(
            c.OpenDispute(
                invoice_number=invoice_number,
                dispute_reference=dispute_reference,
                amount=amount,
                reason_code=reason_code,
                root_cause=root_cause,
                opened_on=opened_on,
            ),
            self,
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
        """Resolve a dispute; an upheld one credits the invoice (``upheld``, default all of it)
        with a credit note numbered ``credit_note_number`` (default from the
        dispute). (``ResolveDispute``)
        """
        return handle(
            c.ResolveDispute(
                invoice_number=invoice_number,
                dispute_reference=dispute_reference,
                outcome=outcome,
                resolved_on=resolved_on,
                note=note,
                upheld=upheld,
                credit_note_number=credit_note_number,
            ),
            self,
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
        """Record a promise to pay ``amount`` by ``promised_on`` (for the named invoices, or
        the account), possibly replacing an earlier promise (``supersedes``, its
        reference). (``MakePromise``)
        """
        return handle(
            c.MakePromise(
                customer_code=customer_code,
                promise_reference=promise_reference,
                amount=amount,
                promised_on=promised_on,
                made_on=made_on,
                contact=contact,
                invoice_numbers=tuple(invoice_numbers),
                supersedes=supersedes,
            ),
            self,
        )

    def withdraw_promise(
        self, *, promise_reference: str, withdrawn_on: date, reason: str
    ) -> list[Event]:
        """Withdraw an open promise to pay. (``WithdrawPromise``)"""
        return handle(
            c.WithdrawPromise(
                promise_reference=promise_reference, withdrawn_on=withdrawn_on, reason=reason
            ),
            self,
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
        """Record a collection action (a call, a letter, ...) and the next step agreed.
        (``RecordAction``)
        """
        return handle(
            c.RecordAction(
                customer_code=customer_code,
                channel=channel,
                taken_on=taken_on,
                collector=collector,
                contact=contact,
                outcome=outcome,
                next_step=next_step,
                next_step_on=next_step_on,
            ),
            self,
        )

    def diagnose(
        self,
        *,
        customer_code: str,
        delinquency_type: DelinquencyType,
        diagnosed_on: date,
        note: str,
    ) -> list[Event]:
        """Record why the customer is late (the delinquency type). (``Diagnose``)"""
        return handle(
            c.Diagnose(
                customer_code=customer_code,
                delinquency_type=delinquency_type,
                diagnosed_on=diagnosed_on,
                note=note,
            ),
            self,
        )

    def adopt_policy(
        self, *, policy: EscalationPolicy, effective_on: date, approver: str, reason: str
    ) -> list[Event]:
        """Adopt a version of the escalation policy from ``effective_on``. (``AdoptPolicy``)"""
        return handle(
            c.AdoptPolicy(
                policy=policy, effective_on=effective_on, approver=approver, reason=reason
            ),
            self,
        )
