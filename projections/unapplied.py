"""Unapplied cash as of a date: money customers paid that is not yet settling an invoice.

A payment received by the date (its value date) and not reversed by then is cash of its payer;
what of it was not applied to an invoice by that date (applications less unapplications dated
by then) is unapplied cash, a credit of the customer that the ageing does not net. Auditors and
cash-application clerks ask for it by customer with the bank references, so each row lists the
payments it is made of.

The statement of account shows the same figure as of its end date: it calls
``unapplied_minor_by_payment`` here, so the two cannot disagree.

Invariant: per payment, 0 <= unapplied <= amount (the domain refuses over-application), and a
row's total is the sum of its payments' unapplied amounts. Pure: a function of the portfolio
facts and the date, no I/O and no clock.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog

from .portfolio import PaymentFacts, PortfolioState


@attrs.frozen(kw_only=True)
class UnappliedPayment:
    """One payment with money not applied by the report's date: its ``bank_reference``,
    ``value_on`` (the day it was received), what was received and what of it is unapplied."""

    bank_reference: str
    value_on: date
    amount_minor: int
    unapplied_minor: int


@attrs.frozen(kw_only=True)
class UnappliedCashRow:
    """One customer's unapplied cash in one currency, payments by value date then reference."""

    customer_code: str
    customer_name: str
    currency: str
    unapplied_minor: int
    payments: tuple[UnappliedPayment, ...]


@attrs.frozen(kw_only=True)
class UnappliedCashReport:
    """Unapplied cash as of ``as_of`` (end of that day): one row per customer and currency
    with any, by customer code then currency; ``totals_minor`` per currency (never added
    across currencies)."""

    as_of: date
    rows: tuple[UnappliedCashRow, ...]
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def totals_minor(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self.rows:
            totals[row.currency] = totals.get(row.currency, 0) + row.unapplied_minor
        return totals


def unapplied_minor_by_payment(
    facts: PortfolioState, as_of: date, customer_id: UUID | None = None
) -> dict[UUID, int]:
    """Per payment counting on ``as_of`` (of ``customer_id`` only, if given), what of it was
    not applied by then; payments fully applied are left out.

    A payment settles only its payer's invoices, so the payer's invoices hold every
    application of its payments.
    """
    payments = [
        payment
        for payment in facts.payments.values()
        if (customer_id is None or payment.customer_id == customer_id) and payment.counts_on(as_of)
    ]
    applied: dict[UUID, int] = {}
    payer_ids = {payment.customer_id for payment in payments}
    for payer_id in payer_ids:
        for invoice_id in facts.customers[payer_id].invoice_ids:
            for payment_id, on, amount_minor in facts.applications.get(invoice_id, ()):
                if on <= as_of:
                    applied[payment_id] = applied.get(payment_id, 0) + amount_minor
    unapplied: dict[UUID, int] = {}
    for payment in payments:
        left = payment.amount_minor - applied.get(payment.payment_id, 0)
        assert 0 <= left <= payment.amount_minor, (
            f"payment {payment.bank_reference} applied beyond its amount"
        )
        if left:
            unapplied[payment.payment_id] = left
    return unapplied


def unapplied_cash(
    facts: PortfolioState, as_of: date, customer_id: UUID | None = None
) -> UnappliedCashReport:
    """The unapplied cash report as of ``as_of``: every customer's, or one customer's."""
    groups: dict[tuple[UUID, str], list[PaymentFacts]] = {}
    left_by_payment = unapplied_minor_by_payment(facts, as_of, customer_id)
    for payment_id in left_by_payment:
        payment = facts.payments[payment_id]
        groups.setdefault((payment.customer_id, payment.currency), []).append(payment)
    rows = []
    for (payer_id, currency), payments in groups.items():
        payments.sort(key=lambda payment: (payment.value_on, payment.bank_reference))
        customer = facts.customers[payer_id]
        lines = tuple(
            UnappliedPayment(
                bank_reference=payment.bank_reference,
                value_on=payment.value_on,
                amount_minor=payment.amount_minor,
                unapplied_minor=left_by_payment[payment.payment_id],
            )
            for payment in payments
        )
        rows.append(
            UnappliedCashRow(
                customer_code=customer.customer_code,
                customer_name=customer.name,
                currency=currency,
                unapplied_minor=sum(line.unapplied_minor for line in lines),
                payments=lines,
            )
        )
    rows.sort(key=lambda row: (row.customer_code, row.currency))
    return UnappliedCashReport(as_of=as_of, rows=tuple(rows))
