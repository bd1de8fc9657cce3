"""Ageing table: open receivables by days past due, as of any date (and known-at instant).

A pure fold over the event log keeps, per invoice, its schedule and its dated movements; the
query ``ageing_report`` then ages what is open on ``as_of``, showing apart what of it is in
open dispute, and grouping by owner as of ``as_of``. Invariant: for every row, the bucket amounts
add up to the open amount, the disputed amount is at most the open amount, and every invoice's
open amount as of any date lies between zero and its amount.

The fold state is mutable on purpose: a portfolio holds thousands of invoices and copying the
state per event would make replay quadratic. ``fold`` still returns the state it was given, so it
composes like any fold, and nothing outside this module mutates it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.events import (
    CollectionOwnerChanged,
    ConcessionApproved,
    CreditNoteApplied,
    CustomerAccountOpened,
    DisputeOpened,
    DisputeResolved,
    Event,
    GoodsInLieuApplied,
    Instalment,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentUnapplied,
)
from arledger.domain.invoice import open_by_instalment
from arledger.domain.policy import AgeingBasis, AgeingPolicy
from arledger.domain.rules import require_date

from .dispatch import TypeDispatch


class AgeingGrouping(enum.Enum):
    INVOICE = "invoice"
    CUSTOMER = "customer"
    OWNER = "owner"
    CURRENCY = "currency"
    PORTFOLIO = "portfolio"


@attrs.define
class CustomerFacts:
    customer_id: UUID
    customer_code: str
    name: str
    collection_owner: str
    currency: str
    # (business date, owner) changes after opening, in recording order
    owner_changes: list[tuple[date, str]] = attrs.field(factory=list)

    def owner_on(self, as_of: date) -> str:
        """The collection owner on ``as_of``: the last change dated on or before it."""
        owner = self.collection_owner
        for changed_on, changed_to in self.owner_changes:
            if changed_on <= as_of:
                owner = changed_to
        return owner


@attrs.define
class InvoiceFacts:
    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    currency: str
    amount_minor: int
    issued_on: date
    due_on: date
    schedule: tuple[Instalment, ...]
    # (business date, minor units settled: positive reduces what is open, negative reopens)
    movements: list[tuple[date, int]] = attrs.field(factory=list)
    # dispute reference -> (amount disputed, opened on, resolved on or None)
    disputes: dict[str, tuple[int, date, date | None]] = attrs.field(factory=dict)
    # manual due-date overrides as (overridden on, new due date), in recording order
    due_date_overrides: list[tuple[date, date]] = attrs.field(factory=list)
    # settlements in goods [以物抵债] as (business date, minor units), also among movements
    goods: list[tuple[date, int]] = attrs.field(factory=list)

    def settled_in_goods_minor_on(self, as_of: date) -> int:
        """What settlements in goods dated on or before ``as_of`` settled of the invoice."""
        return sum(amount for on, amount in self.goods if on <= as_of)

    def due_on_at(self, as_of: date) -> date:
        """The due date in force on ``as_of``: the last override dated on or before it."""
        due_on = self.due_on
        for overridden_on, new_due_on in self.due_date_overrides:
            if overridden_on <= as_of:
                due_on = new_due_on
        return due_on

    def schedule_on(self, as_of: date) -> tuple[Instalment, ...]:
        """The schedule as of ``as_of``: an override moves the one due date of an invoice
        without instalments (an invoice with instalments takes no override)."""
        due_on = self.due_on_at(as_of)
        if due_on == self.due_on:
            return self.schedule
        return (Instalment(due_on=due_on, amount_minor=self.amount_minor),)

    def as_of(self, as_of: date) -> InvoiceFacts:
        """These facts with the due date in force on ``as_of`` as the due date."""
        if not self.due_date_overrides:
            return self
        due_on = self.due_on_at(as_of)
        return attrs.evolve(
            self, due_on=due_on, schedule=self.schedule_on(as_of), due_date_overrides=[]
        )

    def open_minor_on(self, as_of: date) -> int:
        """What is open at the end of ``as_of``: movements dated after it do not count."""
        if self.issued_on > as_of:
            return 0
        settled = sum(amount for on, amount in self.movements if on <= as_of)
        open_minor = self.amount_minor - settled
        assert open_minor >= 0, f"invoice {self.invoice_number} open below zero on {as_of}"
        assert open_minor <= self.amount_minor
        return open_minor

    def disputed_minor_on(self, as_of: date) -> int:
        """What is in open dispute at the end of ``as_of``, at most what is open then."""
        disputed = sum(
            amount
            for amount, opened_on, resolved_on in self.disputes.values()
            if opened_on <= as_of and (resolved_on is None or resolved_on > as_of)
        )
        if disputed == 0:
            return 0
        return min(disputed, self.open_minor_on(as_of))


@attrs.define
class AgeingState:
    customers: dict[UUID, CustomerFacts] = attrs.field(factory=dict)
    invoices: dict[UUID, InvoiceFacts] = attrs.field(factory=dict)


def initial() -> AgeingState:
    return AgeingState()


def fold(state: AgeingState, event: Event) -> AgeingState:
    """Fold one event into the ageing state; events of no interest here are ignored."""
    _FOLDS.fold(state, event)
    return state


_FOLDS: Final = TypeDispatch[AgeingState]()


@_FOLDS.on(CustomerAccountOpened)
def _account_opened(state: AgeingState, event: CustomerAccountOpened) -> None:
    state.customers[event.originator_id] = CustomerFacts(
        customer_id=event.originator_id,
        customer_code=event.customer_code,
        name=event.name,
        collection_owner=event.collection_owner,
        currency=event.currency,
    )


@_FOLDS.on(InvoiceIssued)
def _issued(state: AgeingState, event: InvoiceIssued) -> None:
    state.invoices[event.originator_id] = InvoiceFacts(
        invoice_id=event.originator_id,
        invoice_number=event.invoice_number,
        customer_id=event.customer_id,
        currency=event.currency,
        amount_minor=event.amount_minor,
        issued_on=event.issued_on,
        due_on=event.due_on,
        schedule=event.instalments
        or (Instalment(due_on=event.due_on, amount_minor=event.amount_minor),),
    )


@_FOLDS.on(PaymentApplied, CreditNoteApplied)
def _applied(state: AgeingState, event: PaymentApplied | CreditNoteApplied) -> None:
    state.invoices[event.originator_id].movements.append((event.applied_on, event.amount_minor))


@_FOLDS.on(PaymentUnapplied)
def _unapplied(state: AgeingState, event: PaymentUnapplied) -> None:
    state.invoices[event.originator_id].movements.append((event.unapplied_on, -event.amount_minor))


@_FOLDS.on(ConcessionApproved)
def _conceded(state: AgeingState, event: ConcessionApproved) -> None:
    state.invoices[event.originator_id].movements.append((event.approved_on, event.amount_minor))


@_FOLDS.on(GoodsInLieuApplied)
def _settled_in_goods(state: AgeingState, event: GoodsInLieuApplied) -> None:
    state.invoices[event.originator_id].movements.append((event.applied_on, event.amount_minor))
    state.invoices[event.originator_id].goods.append((event.applied_on, event.amount_minor))


@_FOLDS.on(InvoiceWrittenOff)
def _written_off(state: AgeingState, event: InvoiceWrittenOff) -> None:
    state.invoices[event.originator_id].movements.append((event.written_off_on, event.amount_minor))


@_FOLDS.on(InvoiceReinstated)
def _reinstated(state: AgeingState, event: InvoiceReinstated) -> None:
    state.invoices[event.originator_id].movements.append((event.reinstated_on, -event.amount_minor))


@_FOLDS.on(InvoiceDueDateOverridden)
def _due_date_overridden(state: AgeingState, event: InvoiceDueDateOverridden) -> None:
    state.invoices[event.originator_id].due_date_overrides.append(
        (event.overridden_on, event.due_on)
    )


@_FOLDS.on(DisputeOpened)
def _dispute_opened(state: AgeingState, event: DisputeOpened) -> None:
    state.invoices[event.originator_id].disputes[event.dispute_reference] = (
        event.amount_minor,
        event.opened_on,
        None,
    )


@_FOLDS.on(DisputeResolved)
def _dispute_resolved(state: AgeingState, event: DisputeResolved) -> None:
    disputes = state.invoices[event.originator_id].disputes
    amount, opened_on, _ = disputes[event.dispute_reference]
    disputes[event.dispute_reference] = (amount, opened_on, event.resolved_on)


@_FOLDS.on(CollectionOwnerChanged)
def _owner_changed(state: AgeingState, event: CollectionOwnerChanged) -> None:
    state.customers[event.originator_id].owner_changes.append(
        (event.changed_on, event.collection_owner)
    )


def fold_all(events: Iterable[Event], *, known_at: datetime | None = None) -> AgeingState:
    """Fold a whole log; with ``known_at``, only events recorded by then count (for audits)."""
    state = initial()
    for event in events:
        if known_at is None or event.timestamp <= known_at:
            state = fold(state, event)
    return state


@attrs.frozen(kw_only=True)
class AgeingRow:
    """One line of the table: a group's open amount per bucket, in one currency."""

    key: str
    label: str
    currency: str
    buckets_minor: tuple[int, ...]
    open_minor: int
    days_past_due_max: int
    disputed_minor: int = 0
    """What of ``open_minor`` is in open dispute on the report date (shown apart, not a bucket)."""
    settled_in_goods_minor: int = 0
    """What settlements in goods [以物抵债] dated by the report date settled of the group's open
    invoices: a non-cash settlement, shown apart from cash (not part of ``open_minor``)."""

    @property
    def overdue_minor(self) -> int:
        return self.open_minor - self.buckets_minor[0]


@attrs.frozen(kw_only=True)
class AgeingReport:
    as_of: date
    policy: AgeingPolicy
    grouping: AgeingGrouping
    rows: tuple[AgeingRow, ...]
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def bucket_labels(self) -> tuple[str, ...]:
        return self.policy.bucket_labels

    def totals_by_currency(self) -> dict[str, tuple[int, ...]]:
        """Bucket totals over all rows, per currency."""
        totals: dict[str, list[int]] = {}
        for row in self.rows:
            acc = totals.setdefault(row.currency, [0] * len(row.buckets_minor))
            for index, amount in enumerate(row.buckets_minor):
                acc[index] += amount
        return {currency: tuple(amounts) for currency, amounts in sorted(totals.items())}


def days_past_due(as_of: date, basis_on: date) -> int:
    """Whole days from the basis date to ``as_of``; zero or less means not yet overdue."""
    return (as_of - basis_on).days


def invoice_buckets(
    invoice: InvoiceFacts, as_of: date, policy: AgeingPolicy, *, overridden: bool = True
) -> tuple[list[int], int, int]:
    """(bucket amounts, open amount, largest days past due of an open part) for one invoice.

    Instalments age by their own due dates; settlements go to the oldest instalment first.
    With the issue-date basis, every part ages from the issue date.
    """
    buckets = [0] * len(policy.bucket_labels)
    open_minor = invoice.open_minor_on(as_of)
    if open_minor == 0:
        return buckets, 0, 0
    settled = invoice.amount_minor - open_minor
    days_max = 0
    # ``overridden``: by the due date in force on ``as_of`` (a due-date override's); the KPIs
    # keep the issued due dates.
    schedule = invoice.schedule_on(as_of) if overridden else invoice.schedule
    for due_on, part_open in open_by_instalment(schedule, settled):
        if part_open == 0:
            continue
        basis_on = due_on if policy.basis is AgeingBasis.DUE_DATE else invoice.issued_on
        days = days_past_due(as_of, basis_on)
        buckets[policy.bucket_index(days)] += part_open
        days_max = max(days_max, days)
    assert sum(buckets) == open_minor
    return buckets, open_minor, days_max


def ageing_report(
    state: AgeingState,
    as_of: date,
    *,
    policy: AgeingPolicy | None = None,
    grouping: AgeingGrouping = AgeingGrouping.PORTFOLIO,
) -> AgeingReport:
    """Age every open invoice as of ``as_of`` and total the buckets by ``grouping``.

    Rows are per group and currency, ordered by key; groups with nothing open are left out.
    """
    require_date("as_of", as_of)
    policy = policy or AgeingPolicy()
    width = len(policy.bucket_labels)
    groups: dict[tuple[str, str], list[int]] = {}
    labels: dict[tuple[str, str], str] = {}
    days_max: dict[tuple[str, str], int] = {}
    disputed: dict[tuple[str, str], int] = {}
    goods: dict[tuple[str, str], int] = {}
    for invoice in state.invoices.values():
        buckets, open_minor, invoice_days_max = invoice_buckets(invoice, as_of, policy)
        if open_minor == 0:
            continue
        key, label = _group_key(state, invoice, grouping, as_of)
        group = (key, invoice.currency)
        acc = groups.setdefault(group, [0] * (width + 1))
        for index, amount in enumerate(buckets):
            acc[index] += amount
        acc[width] += open_minor
        labels[group] = label
        days_max[group] = max(days_max.get(group, 0), invoice_days_max)
        disputed[group] = disputed.get(group, 0) + invoice.disputed_minor_on(as_of)
        goods[group] = goods.get(group, 0) + invoice.settled_in_goods_minor_on(as_of)
    rows = []
    for group in sorted(groups):
        acc = groups[group]
        row = AgeingRow(
            key=group[0],
            label=labels[group],
            currency=group[1],
            buckets_minor=tuple(acc[:width]),
            open_minor=acc[width],
            days_past_due_max=days_max[group],
            disputed_minor=disputed[group],
            settled_in_goods_minor=goods[group],
        )
        assert sum(row.buckets_minor) == row.open_minor
        assert 0 <= row.disputed_minor <= row.open_minor
        rows.append(row)
    return AgeingReport(as_of=as_of, policy=policy, grouping=grouping, rows=tuple(rows))


def _group_key(
    state: AgeingState, invoice: InvoiceFacts, grouping: AgeingGrouping, as_of: date
) -> tuple[str, str]:
    if grouping is AgeingGrouping.INVOICE:
        return invoice.invoice_number, invoice.invoice_number
    if grouping is AgeingGrouping.PORTFOLIO:
        return "portfolio", "portfolio"
    if grouping is AgeingGrouping.CURRENCY:
        return invoice.currency, invoice.currency
    customer = state.customers[invoice.customer_id]
    if grouping is AgeingGrouping.CUSTOMER:
        return customer.customer_code, customer.name
    assert grouping is AgeingGrouping.OWNER
    owner = customer.owner_on(as_of)
    return owner, owner


def top_overdue_customers(
    state: AgeingState, as_of: date, *, limit: int = 10, policy: AgeingPolicy | None = None
) -> list[AgeingRow]:
    """Per currency, the ``limit`` customers with the most overdue money, largest first.

    Amounts in different currencies are never compared, so each currency has its own list.
    """
    report = ageing_report(state, as_of, policy=policy, grouping=AgeingGrouping.CUSTOMER)
    overdue = [row for row in report.rows if row.overdue_minor > 0]
    overdue.sort(key=lambda row: (row.currency, -row.overdue_minor, row.key))
    result: list[AgeingRow] = []
    per_currency: dict[str, int] = {}
    for row in overdue:
        if per_currency.get(row.currency, 0) < limit:
            per_currency[row.currency] = per_currency.get(row.currency, 0) + 1
            result.append(row)
    return result
