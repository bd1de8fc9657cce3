"""Letters to a customer (issue 15.4): the figures of a balance confirmation (欠款征询函), a demand
letter (催款函) and a statement of account (对账单), worked out from the statement's fold.

A ``Letter`` carries the statement of account for its period (the lines, the closing balance,
its ageing and the unapplied cash) and the customer's open invoices on the balance date, each
with what of it is overdue; the demand letter demands the overdue total by a date. Rendering
it (HTML, PDF, the language) and recording it as sent belong to the adapters.

Invariant: the open invoices add up to the statement's closing balance, and their overdue parts
to the overdue total of the statement's ageing row (both are worked out by the ageing's own
function, ``ageing.invoice_buckets``, with the policy in force on the balance date).
"""

from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Final
from uuid import UUID

import attrs

from arledger.domain.errors import CustomerStateError, InvalidCommandError, InvalidDateError
from arledger.domain.rules import require_date

from . import ageing
from .statement import Statement, StatementState, statement_of_account

DEMAND_PAY_WITHIN_DAYS: Final = 7
"""Days a demand letter gives by default, from its date to the date it asks payment by: a
week is the usual firm deadline of a demand (催款函) after reminders have gone unanswered."""


class LetterKind(enum.Enum):
    """The documents a customer is sent; stored by value."""

    CONFIRMATION = "confirmation"
    """Balance confirmation (欠款征询函): the statement, to be stamped and returned."""
    DEMAND = "demand"
    """Demand letter (催款函): the overdue invoices, to be paid by a date."""
    STATEMENT = "statement"
    """Statement of account (对账单)."""

    @property
    def reference_prefix(self) -> str:
        return _PREFIXES[self]


_PREFIXES: Final = {
    LetterKind.CONFIRMATION: "BC",
    LetterKind.DEMAND: "DL",
    LetterKind.STATEMENT: "SOA",
}


@attrs.frozen(kw_only=True)
class OpenInvoice:
    """An invoice open at the end of the balance date: what is open, what of it is past due
    (instalments age by their own due dates) and its largest days past due."""

    invoice_number: str
    issued_on: date
    due_on: date
    open_minor: int
    overdue_minor: int
    days_past_due: int


@attrs.frozen(kw_only=True)
class Letter:
    """The figures of one letter to one customer, as of ``as_of`` (the balance date), dated
    ``dated_on``; ``pay_by_on`` is the date a demand letter asks payment by (None otherwise).
    ``reference`` is the letter's number: the kind's prefix, the customer code and the balance
    date (a balance confirmation is recorded under it)."""

    kind: LetterKind
    reference: str
    customer_code: str
    customer_name: str
    currency: str
    contact: str
    """Whom the letter is addressed to at the customer (a key contact), or empty."""
    collection_owner: str
    as_of: date
    dated_on: date
    pay_by_on: date | None
    statement: Statement
    open_invoices: tuple[OpenInvoice, ...]

    @property
    def balance_minor(self) -> int:
        """What the customer owes at the end of the balance date: the statement's closing
        balance, the customer's open total in the ageing."""
        return self.statement.closing_balance_minor

    @property
    def overdue_minor(self) -> int:
        """What of the balance is past due on the balance date (what a demand letter asks)."""
        return self.statement.ageing.overdue_minor

    @property
    def overdue_invoices(self) -> tuple[OpenInvoice, ...]:
        return tuple(invoice for invoice in self.open_invoices if invoice.overdue_minor > 0)


def open_invoices(state: StatementState, customer_id: UUID, as_of: date) -> tuple[OpenInvoice, ...]:
    """The customer's invoices open at the end of ``as_of``, oldest due first, aged with the
    policy in force on that day."""
    facts = state.portfolio
    policy = facts.policy_on(as_of).ageing
    result = []
    for invoice in facts.invoices_of(customer_id):
        buckets, open_minor, days_max = ageing.invoice_buckets(invoice, as_of, policy)
        if open_minor == 0:
            continue
        result.append(
            OpenInvoice(
                invoice_number=invoice.invoice_number,
                issued_on=invoice.issued_on,
                due_on=invoice.due_on_at(as_of),
                open_minor=open_minor,
                overdue_minor=open_minor - buckets[0],
                days_past_due=max(days_max, 0),
            )
        )
    result.sort(key=lambda item: (item.due_on, item.issued_on, item.invoice_number))
    return tuple(result)


def letter(
    state: StatementState,
    customer_id: UUID,
    kind: LetterKind,
    *,
    as_of: date,
    from_on: date,
    dated_on: date,
    pay_by_on: date | None,
    contact: str,
) -> Letter:
    """The letter's figures: the statement for ``from_on``..``as_of`` and the open invoices.

    Raises:
        InvalidDateError: the letter is dated before its balance date, or a demand letter asks
            payment by a date not after its own.
        InvalidCommandError: ``pay_by_on`` given for a letter that demands nothing.
        CustomerStateError: a demand letter for a customer with nothing overdue.
        CustomerNotFoundError: the state holds no such customer.
    """
    require_date("as_of", as_of)
    require_date("dated_on", dated_on)
    if dated_on < as_of:
        raise InvalidDateError(
            f"a letter dated {dated_on} cannot state the balance of a later day, {as_of}",
            field="dated_on",
            value=dated_on,
        )
    if kind is LetterKind.DEMAND:
        if pay_by_on is None:
            pay_by_on = dated_on + timedelta(days=DEMAND_PAY_WITHIN_DAYS)
        require_date("pay_by_on", pay_by_on)
        if pay_by_on <= dated_on:
            raise InvalidDateError(
                f"a demand letter dated {dated_on} must ask payment by a later day, "
                f"not {pay_by_on}",
                field="pay_by_on",
                value=pay_by_on,
            )
    elif pay_by_on is not None:
        raise InvalidCommandError(
            f"only a demand letter asks payment by a date; a {kind.value} letter takes no "
            "pay-by date",
            field="pay_by_on",
        )
    statement = statement_of_account(state, customer_id, from_on, as_of)
    items = open_invoices(state, customer_id, as_of)
    assert sum(item.open_minor for item in items) == statement.closing_balance_minor
    assert sum(item.overdue_minor for item in items) == statement.ageing.overdue_minor
    if kind is LetterKind.DEMAND and statement.ageing.overdue_minor == 0:
        raise CustomerStateError(
            f"{statement.customer_code} has nothing overdue on {as_of}: no demand letter",
            customer_code=statement.customer_code,
        )
    return Letter(
        kind=kind,
        reference=f"{kind.reference_prefix}-{statement.customer_code}-{as_of:%Y%m%d}",
        customer_code=statement.customer_code,
        customer_name=statement.customer_name,
        currency=statement.currency,
        contact=contact,
        collection_owner=state.portfolio.ageing.customers[customer_id].owner_on(as_of),
        as_of=as_of,
        dated_on=dated_on,
        pay_by_on=pay_by_on,
        statement=statement,
        open_invoices=items,
    )
