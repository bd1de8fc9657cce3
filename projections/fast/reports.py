"""Reports from the fast path's arrays: the ageing table (every grouping) and the worklist, as
the folds give them (``ageing.ageing_report``, ``escalation.worklist``), field by field and in
the same order.

``fast_portfolio`` and ``fast_timeline`` give the figures per invoice and per customer; this
module adds what a report needs around them: the customers' codes, names and owners on the
date, the invoices' numbers, grouping and sorting, and the worklist's next action (the first
required action of the level not taken since the level was entered). Input: the same
``columns`` (with ``REPORT_SELECT``'s columns too), already cut to ``known_at`` by
``fast_path.known_tables`` where the report is "as known at" an instant.

Invariant: ``ageing_report(...)`` equals ``ageing.ageing_report`` on the folded log, and
``worklist(...)`` equals ``escalation.worklist``, as the differential tests check.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from itertools import repeat
from math import lcm
from typing import Any, Final, TypeVar
from uuid import UUID

import attrs
import numpy as np
import numpy.typing as npt

from arledger.domain.money import minor_per_major
from arledger.domain.policy import (
    DIAGNOSE,
    NEGOTIATE_FIRST,
    AgeingPolicy,
    EscalationPolicy,
    WorklistKey,
)
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.escalation import (
    NextAction,
    NextStep,
    PreDueReminder,
    WorklistItem,
    worklist_order,
)
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast.portfolio import (
    NO_DATE,
    FastPortfolio,
    days,
    on_date,
    on_dates,
    standing_of,
)
from arledger.projections.fast.timeline import FastTimeline, fast_timeline
from arledger.projections.portfolio import OpenReconciliation

Columns = Mapping[str, Mapping[str, Any]]
T = TypeVar("T")

ABSENT_DATE: Final = np.iinfo(np.int32).min
"""A missing date in a date column (``next_step_on`` of an action without a next step): the
columnar log's null date (``adapters.read_models.columnar.NULL_DATE``, tied by a test)."""

REPORT_SELECT: Final[Mapping[str, tuple[str, ...]]] = {
    "CustomerAccountOpened": (
        "originator_id",
        "timestamp",
        "currency",
        "opened_on",
        "customer_code",
        "name",
        "collection_owner",
    ),
    "InvoiceIssued": (*fast_path.SELECT["InvoiceIssued"], "currency"),
    "CollectionOwnerChanged": ("originator_id", "timestamp", "collection_owner", "changed_on"),
    "CollectionActionRecorded": (
        "timestamp",
        "customer_id",
        "channel",
        "taken_on",
        "collector",
        "next_step",
        "next_step_on",
    ),
    "NegotiationWaived": ("timestamp", "customer_id", "waived_on"),
    "DelinquencyDiagnosed": ("timestamp", "customer_id", "diagnosed_on", "delinquency_type"),
    "BalanceConfirmationAcknowledged": (
        "originator_id",
        "timestamp",
        "confirmation_reference",
        "difference_minor",
        "currency",
        "acknowledged_on",
    ),
    "ReconciliationResolved": (
        "originator_id",
        "timestamp",
        "confirmation_reference",
        "resolved_on",
    ),
}
"""Columns the reports read beyond the fast path's (``columns(log, select=...)``); the invoice
numbers (``InvoiceIssued.invoice_number``, costly at scale) only for the invoice grouping."""


def _known(columns: Columns, name: str, known_at: datetime | None) -> dict[str, Any]:
    table = dict(columns.get(name, {}))
    if known_at is None or "timestamp" not in table:
        return table
    keep = table["timestamp"] <= fast_path.microseconds(known_at)
    if keep.all():
        return table
    return fast_path.take_rows(table, np.flatnonzero(keep))


def _strings(table: Mapping[str, Any], column: str) -> npt.NDArray[np.object_]:
    """A dictionary-coded string column as an object array of its values."""
    values = np.asarray(table[f"{column}.dictionary"], dtype=object)
    return values[table[column]] if len(values) else np.empty(0, dtype=object)


def _strings_at(
    table: Mapping[str, Any], column: str, rows: npt.NDArray[np.integer[Any]]
) -> list[str]:
    """Some rows of a dictionary-coded string column, as ``_strings(...)[rows]`` gives them
    (only those rows decoded: the whole column is hundreds of thousands of rows at scale)."""
    values: list[str] = np.asarray(table[f"{column}.dictionary"], dtype=object)[
        table[column][rows]
    ].tolist()
    return values


def _latest_per_customer(
    rows: npt.NDArray[np.int64], dated_on: npt.NDArray[Any], customer: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(the latest of ``rows`` per customer, those customers ascending): by ``dated_on``, then
    the last in log order (``rows`` ascending) among those of one day.

    One key per row, date then row, and its maximum per customer: a sort of the hundreds of
    thousands of actions of 1M invoices by customer, date and row cost ten times as much."""
    if len(rows) == 0:
        return rows, customer
    first_on = int(dated_on.min())
    span = int(dated_on.max()) - first_on + 1
    limit = int(rows.max()) + 1
    assert span * limit < 2**62  # days of centuries times rows of a log: far below
    key = (dated_on.astype(np.int64) - first_on) * limit + rows
    best = np.full(int(customer.max()) + 1, -1, dtype=np.int64)
    np.maximum.at(best, customer, key)
    customers = np.flatnonzero(best >= 0)
    return best[customers] % limit, customers


def owners_on(columns: Columns, as_of: date, known_at: datetime | None) -> npt.NDArray[np.object_]:
    """Per customer row: the collection owner on ``as_of`` (the last change in log order
    dated on or before it, as ``CustomerFacts.owner_on``)."""
    customers = _known(columns, "CustomerAccountOpened", known_at)
    owners = _strings(customers, "collection_owner").copy()
    changes = _known(columns, "CollectionOwnerChanged", known_at)
    if len(changes.get("originator_id", ())) == 0:
        return owners
    dated = np.flatnonzero(changes["changed_on"] <= days(as_of))
    row_of = _rows_by_id(customers["originator_id"])
    # Later rows (log order) overwrite earlier ones: assignment keeps the last duplicate.
    rows = row_of[changes["originator_id"][dated]]
    owners[rows] = _strings(changes, "collection_owner")[dated]
    return owners


def owners_named(columns: Columns, known_at: datetime | None) -> frozenset[str]:
    """Every collection owner an account opening or an owner change recorded by ``known_at``
    names, whatever its date."""
    customers = _known(columns, "CustomerAccountOpened", known_at)
    changes = _known(columns, "CollectionOwnerChanged", known_at)
    named: set[str] = set()
    for table in (customers, changes):
        if len(table.get("originator_id", ())):
            named.update(_strings(table, "collection_owner").tolist())
    return frozenset(named)


def _rows_by_id(ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """Id index -> row (-1 where the id is not a row)."""
    row_of = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
    row_of[ids] = np.arange(len(ids))
    return row_of


def ageing_report(
    columns: Columns,
    result: FastPortfolio,
    *,
    grouping: AgeingGrouping,
    invoice_numbers: Sequence[str] | None = None,
) -> AgeingReport:
    """``ageing.ageing_report`` from a ``fast_portfolio(..., invoice_buckets=True)`` result.

    ``invoice_numbers``: per invoice row (as known at the result's instant), for the invoice
    grouping only.
    """
    as_of, known_at, policy = result.as_of, result.known_at, result.ageing_policy
    invoices = _known(columns, "InvoiceIssued", known_at)
    figures = result.invoices
    open_rows = np.flatnonzero(figures.open_minor > 0)
    currency = _coded(invoices, "currency", open_rows)
    keys: Coded
    labels: Coded
    if grouping is AgeingGrouping.INVOICE:
        assert invoice_numbers is not None, "the invoice grouping needs the invoice numbers"
        numbers = np.asarray(invoice_numbers, dtype=object)[open_rows]
        keys = labels = (np.arange(len(open_rows)), numbers, ranks(numbers.tolist()))
    elif grouping is AgeingGrouping.PORTFOLIO:
        portfolio = np.asarray(["portfolio"], dtype=object)
        keys = labels = (np.zeros(len(open_rows), dtype=np.int64), portfolio, np.zeros(1, np.int64))
    elif grouping is AgeingGrouping.CURRENCY:
        keys = labels = currency
    else:
        customers = _known(columns, "CustomerAccountOpened", known_at)
        customer = figures.customer[open_rows]
        if grouping is AgeingGrouping.CUSTOMER:
            keys = _coded(customers, "customer_code", customer)
            labels = _coded(customers, "name", customer)
        else:
            owners = owners_on(columns, as_of, known_at)
            keys = labels = (customer, owners, ranks(owners.tolist()))
    goods = settled_in_goods(columns, invoices, as_of, known_at)
    return _grouped(as_of, policy, grouping, keys, labels, currency, figures, open_rows, goods)


def settled_in_goods(
    columns: Columns, invoices: Mapping[str, Any], as_of: date, known_at: datetime | None
) -> npt.NDArray[np.int64]:
    """Per invoice row, what settlements in goods dated by ``as_of`` settled of it
    (``InvoiceFacts.settled_in_goods_minor_on``)."""
    goods_minor = np.zeros(len(invoices["originator_id"]), np.int64)
    applied = _known(columns, "GoodsInLieuApplied", known_at)
    if len(applied.get("originator_id", ())) == 0:
        return goods_minor
    dated = np.flatnonzero(np.asarray(applied["applied_on"]) <= days(as_of))
    rows = _rows_by_id(invoices["originator_id"])[np.asarray(applied["originator_id"])[dated]]
    assert (rows >= 0).all()  # goods settle only invoices known at the same cut
    np.add.at(goods_minor, rows, np.asarray(applied["amount_minor"], np.int64)[dated])
    return goods_minor


Coded = tuple[npt.NDArray[Any], npt.NDArray[np.object_], npt.NDArray[np.int64]]
"""Per row a code; the values the codes stand for (``values[codes]``: the row's values); and
the values' ``ranks``."""


def _coded(table: Mapping[str, Any], column: str, rows: npt.NDArray[Any]) -> Coded:
    """A dictionary-coded string column's codes at ``rows``, its dictionary and their ranks."""
    dictionary = table[f"{column}.dictionary"]
    return table[column][rows], np.asarray(dictionary, dtype=object), dictionary_ranks(dictionary)


def _grouped(
    as_of: date,
    policy: AgeingPolicy,
    grouping: AgeingGrouping,
    keys: Coded,
    labels: Coded,
    currency: Coded,
    figures: fast_path.InvoiceColumns,
    open_rows: npt.NDArray[np.int64],
    goods_minor: npt.NDArray[np.int64],
) -> AgeingReport:
    """Rows per (key, currency) in that order, each labelled as its last invoice is.

    Grouped as arrays: each row's group is the rank of its (key, currency) pair, ranked over
    the distinct values only (``ranks``: Python's string order, as the fold's ``sorted``);
    a stable sort by group then sums each group's run with ``reduceat`` (integers, exact)."""
    if len(open_rows) == 0:
        return AgeingReport(as_of=as_of, policy=policy, grouping=grouping, rows=())
    key_rank = keys[2][keys[0]]
    currency_rank = currency[2][currency[0]]
    pair = key_rank * (int(currency_rank.max(initial=0)) + 1) + currency_rank
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    lasts = np.r_[starts[1:], len(pair)] - 1
    rows = open_rows[order]

    def summed(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.add.reduceat(values[rows].astype(np.int64), starts, axis=0)

    days_max = np.maximum.reduceat(figures.ageing_days_max[rows].astype(np.int64), starts)
    return AgeingReport(
        as_of=as_of,
        policy=policy,
        grouping=grouping,
        rows=tuple(
            frozen_rows(
                AgeingRow,
                key=keys[1][keys[0][order[starts]]].tolist(),
                label=labels[1][labels[0][order[lasts]]].tolist(),
                currency=currency[1][currency[0][order[starts]]].tolist(),
                buckets_minor=[
                    tuple(amounts) for amounts in summed(figures.buckets_minor).tolist()
                ],
                open_minor=summed(figures.open_minor).tolist(),
                # As the fold: the largest days past due of the group, and never below zero.
                days_past_due_max=np.maximum(days_max, 0).tolist(),
                disputed_minor=summed(figures.disputed_minor).tolist(),
                settled_in_goods_minor=summed(goods_minor).tolist(),
            )
        ),
    )


def open_reconciliations(
    columns: Columns, as_of: date, known_at: datetime | None
) -> dict[int, tuple[OpenReconciliation, ...]]:
    """Per customer row: its reconciliation items open at the end of ``as_of``, in order of
    opening (``CustomerHistory.reconciliations_open_on``). An acknowledgement with a
    difference opens one; a resolution of the same confirmation dated by then closes it. There
    are few of either, so plain Python over their rows."""
    acknowledged = _known(columns, "BalanceConfirmationAcknowledged", known_at)
    if len(acknowledged.get("originator_id", ())) == 0:
        return {}
    customers = _known(columns, "CustomerAccountOpened", known_at)
    row_of = _rows_by_id(customers["originator_id"])
    resolved = _known(columns, "ReconciliationResolved", known_at)
    closed: set[tuple[int, str]] = set()
    if len(resolved.get("originator_id", ())) != 0:
        dated = resolved["resolved_on"] <= days(as_of)
        closed = set(
            zip(
                resolved["originator_id"][dated].tolist(),
                _strings(resolved, "confirmation_reference")[dated].tolist(),
                strict=True,
            )
        )
    found: dict[int, list[OpenReconciliation]] = {}
    for customer_id, reference, difference, currency, opened_on in zip(
        acknowledged["originator_id"].tolist(),
        _strings(acknowledged, "confirmation_reference").tolist(),
        acknowledged["difference_minor"].tolist(),
        _strings(acknowledged, "currency").tolist(),
        acknowledged["acknowledged_on"].tolist(),
        strict=True,
    ):
        if difference == 0 or opened_on > days(as_of) or (customer_id, reference) in closed:
            continue
        found.setdefault(int(row_of[customer_id]), []).append(
            OpenReconciliation(
                confirmation_reference=reference,
                difference_minor=difference,
                currency=currency,
                opened_on=on_date(opened_on),
            )
        )
    return {row: tuple(items) for row, items in found.items()}


def next_steps_due(columns: Columns, as_of: date, known_at: datetime | None) -> dict[int, NextStep]:
    """Per customer row: the next step agreed by its latest action taken by ``as_of`` (the
    last in log order among those of one day), when the step's date is on or before
    ``as_of`` (``escalation.next_step``, as the worklist lists it)."""
    actions = _known(columns, "CollectionActionRecorded", known_at)
    if len(actions.get("customer_id", ())) == 0:
        return {}
    customers = _known(columns, "CustomerAccountOpened", known_at)
    row_of = _rows_by_id(customers["originator_id"])
    on = days(as_of)
    taken = np.flatnonzero(actions["taken_on"] <= on)
    if len(taken) == 0:
        return {}
    customer = row_of[actions["customer_id"][taken]]
    assert (customer >= 0).all()  # an action is recorded only for a known customer
    latest, rows = _latest_per_customer(taken, actions["taken_on"][taken], customer)
    step_on = actions["next_step_on"][latest]
    due = (step_on != ABSENT_DATE) & (step_on <= on)
    latest, rows, step_on = latest[due], rows[due], step_on[due]
    # Thousands of customers at 1M invoices: the items made a column at a time, the dates
    # converted by NumPy (``on_dates``) rather than one ``on_date`` call each.
    steps = frozen_rows(
        NextStep,
        step=_strings_at(actions, "next_step", latest),
        due_on=on_dates(step_on),
        is_overdue=(step_on < on).tolist(),
        agreed_on=on_dates(actions["taken_on"][latest]),
        collector=_strings_at(actions, "collector", latest),
    )
    return dict(zip(rows.tolist(), steps, strict=True))


def pre_due_reminders(
    columns: Columns,
    result: FastPortfolio,
    invoice_numbers: Callable[[npt.NDArray[np.int64]], list[str]],
) -> dict[int, tuple[PreDueReminder, ...]]:
    """Per customer row: its invoices wanting a reminder before their due date on the
    result's date (``escalation.pre_due_reminders``), by due date then number.
    ``invoice_numbers`` gives the numbers of rows of the ``InvoiceIssued`` table (as known at
    the result's cut): only the few invoices found are named."""
    policy, on = result.policy, days(result.as_of)
    if not policy.pre_due_reminders:
        return {}
    invoices = _known(columns, "InvoiceIssued", result.known_at)
    open_minor = result.invoices.open_minor
    overrides = _known(columns, "InvoiceDueDateOverridden", result.known_at)
    row_of_invoice = _rows_by_id(invoices["originator_id"])
    issued_on = invoices["issued_on"]
    due_on = fast_path.due_on_in_force(invoices, overrides, row_of_invoice, on)
    found = np.flatnonzero((issued_on <= on) & (due_on >= on) & (open_minor > 0))
    if len(found) == 0:
        return {}
    customer = result.invoices.customer[found].astype(np.int64)
    rating = result.customers.rating[customer]
    amount = open_minor[found]
    per_major = [minor_per_major(currency) for currency in result.currencies]
    currency = result.customers.currency[customer]
    days_before = np.full(len(found), -1, dtype=np.int64)
    for rule in policy.pre_due_reminders:
        # Thresholds in Python integers per currency, capped where no amount can reach them.
        least = np.asarray(
            [min(rule.amount_at_least_major * unit, 2**62) for unit in per_major], np.int64
        )
        covered = (amount >= least[currency]) & (rating >= rule.rating_at_or_worse)
        days_before[covered] = np.maximum(days_before[covered], rule.days_before_due)
    remind_from = np.maximum(issued_on[found], due_on[found] - days_before)
    wanted = (days_before >= 0) & (remind_from <= on)
    # The latest reminder of each customer by the date: one on or after the window's first
    # day satisfies every invoice whose window it falls in.
    actions = _known(columns, "CollectionActionRecorded", result.known_at)
    if len(actions.get("customer_id", ())) != 0:
        names = set(policy.pre_due_reminder_channels)
        is_reminder = np.asarray(
            [channel in names for channel in actions["channel.dictionary"]], dtype=bool
        )
        taken = np.flatnonzero(is_reminder[actions["channel"]] & (actions["taken_on"] <= on))
        customers = _known(columns, "CustomerAccountOpened", result.known_at)
        row_of = _rows_by_id(customers["originator_id"])
        latest = np.full(len(customers["originator_id"]), ABSENT_DATE, dtype=np.int64)
        reminded = row_of[actions["customer_id"][taken]]
        assert (reminded >= 0).all()  # an action is recorded only for a known customer
        np.maximum.at(latest, reminded, actions["taken_on"][taken])
        wanted &= latest[customer] < remind_from
    chosen = np.flatnonzero(wanted)
    numbers = invoice_numbers(found[chosen])
    grouped: dict[int, list[PreDueReminder]] = {}
    for row, number, due, amount_open, start in zip(
        customer[chosen].tolist(),
        numbers,
        due_on[found[chosen]].tolist(),
        amount[chosen].tolist(),
        remind_from[chosen].tolist(),
        strict=True,
    ):
        grouped.setdefault(row, []).append(
            PreDueReminder(
                invoice_number=number,
                due_on=on_date(due),
                open_minor=amount_open,
                remind_from_on=on_date(start),
            )
        )
    return {
        row: tuple(sorted(items, key=lambda item: (item.due_on, item.invoice_number)))
        for row, items in grouped.items()
    }


def worklist_rows(
    columns: Columns,
    result: FastPortfolio,
    reconciliations: Mapping[int, tuple[OpenReconciliation, ...]],
    *,
    owner: str | None = None,
    listed: Iterable[int] = (),
) -> npt.NDArray[np.int64]:
    """Customer rows on the worklist: opened by the date, at level 1 or more or with a
    reconciliation item open (``reconciliations``: ``open_reconciliations`` on the same date
    and cut) or listed whatever their level (``listed``: rows with a next step due or a
    pre-due reminder wanted), of ``owner``."""
    customers = _known(columns, "CustomerAccountOpened", result.known_at)
    opened = customers["opened_on"] <= days(result.as_of)
    reconciling = np.zeros(len(opened), dtype=bool)
    reconciling[list(reconciliations)] = True
    reconciling[list(listed)] = True
    chosen = opened & ((result.customers.level >= 1) | reconciling)
    if owner is not None:
        chosen &= owners_on(columns, result.as_of, result.known_at) == owner
    return np.flatnonzero(chosen)


def worklist_timeline(
    columns: Columns,
    result: FastPortfolio,
    rows: npt.NDArray[np.int64],
    decode_policy: Callable[[str], EscalationPolicy],
) -> FastTimeline:
    """``fast_timeline`` of the ``worklist_rows`` customers (in that order), as the worklist
    reads it (no next threshold): the kernel walks only those at level 1 or more on the
    result's date; those at level 0 (listed for a next step or a reminder: half of them at 1M
    invoices) have no day entered and no action due, which needs no walk."""
    walked = rows[result.customers.level[rows] >= 1]
    found = fast_timeline(
        columns,
        result.as_of,
        decode_policy=decode_policy,
        known_at=result.known_at,
        customers=walked.astype(np.int32),
        next_threshold=False,
    )
    if len(walked) == len(rows):
        return found
    at = np.searchsorted(rows, walked)
    assert (rows[at] == walked).all()  # ``worklist_rows`` are in ascending order

    def spread(values: npt.NDArray[Any], absent: int) -> npt.NDArray[Any]:
        spread_values = np.full(len(rows), absent, dtype=values.dtype)
        spread_values[at] = values
        return spread_values

    return attrs.evolve(
        found,
        customer=rows.astype(np.int32),
        level=spread(found.level, 0),
        level_entered_on=spread(found.level_entered_on, NO_DATE),
        action_due_on=spread(found.action_due_on, NO_DATE),
        next_threshold_on=spread(found.next_threshold_on, NO_DATE),
        next_threshold_level=spread(found.next_threshold_level, -1),
    )


def assembled_worklist(
    columns: Columns,
    result: FastPortfolio,
    decode_policy: Callable[[str], EscalationPolicy],
    numbers_of: Callable[[npt.NDArray[np.int64]], list[str]],
    ids_of: Callable[[npt.NDArray[np.int32]], list[UUID]],
    *,
    owner: str | None = None,
) -> list[WorklistItem]:
    """The worklist's items of ``result`` (its date and cut), ``owner``'s only if given: the
    reconciliation items, next steps due and pre-due reminders that list customers whatever
    their level, the rows, the timeline walked for them, and the items (``worklist``). One
    sequence for every caller: the query engine over the live log, and a partition's log
    (``adapters/read_models/partitions.py``). ``numbers_of`` gives the invoice numbers of
    ``InvoiceIssued`` rows, ``ids_of`` the UUIDs of id indexes."""
    reconciliations = open_reconciliations(columns, result.as_of, result.known_at)
    next_steps = next_steps_due(columns, result.as_of, result.known_at)
    reminders = pre_due_reminders(columns, result, numbers_of)
    rows = worklist_rows(
        columns, result, reconciliations, owner=owner, listed=[*next_steps, *reminders]
    )
    timeline = worklist_timeline(columns, result, rows, decode_policy)
    return worklist(
        columns,
        result,
        timeline,
        reconciliations,
        ids_of=ids_of,
        next_steps=next_steps,
        reminders=reminders,
    )


def worklist(
    columns: Columns,
    result: FastPortfolio,
    timeline: FastTimeline,
    reconciliations: Mapping[int, tuple[OpenReconciliation, ...]],
    *,
    ids_of: Callable[[npt.NDArray[np.int32]], list[UUID]],
    next_steps: Mapping[int, NextStep] | None = None,
    reminders: Mapping[int, tuple[PreDueReminder, ...]] | None = None,
) -> list[WorklistItem]:
    """``escalation.worklist`` from the fast path: ``timeline`` is ``fast_timeline`` for the
    ``worklist_rows`` customers (in that order), ``reconciliations`` what was given to
    ``worklist_rows``, ``ids_of`` the UUIDs of id indexes, ``next_steps`` and ``reminders``
    ``next_steps_due`` and ``pre_due_reminders`` on the same date and cut.

    Every field is computed as a column over all the customers at once and ordered with one
    ``np.lexsort``; Python work per customer is only making its item (``frozen_rows``): at 1M
    invoices (~37,000 customers on the worklist) per-customer Python was most of the time."""
    as_of, known_at, policy = result.as_of, result.known_at, result.policy
    customers = _known(columns, "CustomerAccountOpened", known_at)
    figures = result.customers
    rows = timeline.customer.astype(np.int64)
    levels = figures.level[rows]
    codes = _strings(customers, "customer_code")[rows]
    code_ranks = dictionary_ranks(customers["customer_code.dictionary"])[
        customers["customer_code"][rows]
    ]
    order = _worklist_order(
        levels,
        figures.overdue_minor[rows],
        figures.days_past_due_max[rows],
        figures.broken_promises[rows],
        figures.currency[rows],
        result.currencies,
        codes,
        code_ranks,
        policy,
    )
    next_actions = _next_actions(
        columns, customers, rows, timeline, levels, figures.standing[rows], policy, known_at
    )
    rows, levels = rows[order], levels[order]
    level_names = np.empty(int(levels.max()) + 1 if len(levels) else 0, dtype=object)
    for level in np.unique(levels).tolist():
        level_names[level] = policy.level(level).name
    grades = figures.grade[rows].astype(np.int64)
    grade_names = np.asarray([*fast_path.GRADES, None], dtype=object)
    return frozen_rows(
        WorklistItem,
        customer_id=ids_of(customers["originator_id"][rows]),
        customer_code=codes[order].tolist(),
        name=_strings(customers, "name")[rows].tolist(),
        owner=owners_on(columns, as_of, known_at)[rows].tolist(),
        currency=np.asarray(result.currencies, dtype=object)[figures.currency[rows]].tolist(),
        level=levels.tolist(),
        level_name=level_names[levels].tolist(),
        grade=grade_names[np.where(grades < 0, len(fast_path.GRADES), grades)].tolist(),
        overdue_minor=figures.overdue_minor[rows].tolist(),
        days_past_due_max=figures.days_past_due_max[rows].tolist(),
        broken_promises=figures.broken_promises[rows].tolist(),
        is_suspended=(levels < figures.raw_level[rows]).tolist(),
        next_action=next_actions[order].tolist(),
        reconciliations=_at_rows(reconciliations, rows, ()),
        next_step=_at_rows(next_steps or {}, rows, None),
        pre_due_reminders=_at_rows(reminders or {}, rows, ()),
    )


V = TypeVar("V")


def _at_rows(values: Mapping[int, V], rows: npt.NDArray[np.int64], default: V) -> list[V]:
    """Per position of ``rows`` (distinct customer rows): its customer's entry in ``values``,
    ``default`` where it has none; the entries are placed by NumPy, not looked up row by row
    (tens of thousands of rows on a 1M-invoice worklist, few entries)."""
    found = np.empty(len(rows), dtype=object)
    found.fill(default)
    if values and len(rows):
        keys = np.fromiter(values, dtype=np.int64, count=len(values))
        order = np.argsort(rows)
        at = np.minimum(np.searchsorted(rows, keys, sorter=order), len(rows) - 1)
        listed = rows[order[at]] == keys
        entries = np.fromiter(values.values(), dtype=object, count=len(values))
        found[order[at[listed]]] = entries[listed]
    return found.tolist()


def _worklist_order(
    levels: npt.NDArray[np.int64],
    overdue: npt.NDArray[np.int64],
    days_past_due: npt.NDArray[np.int64],
    broken: npt.NDArray[np.int64],
    currency: npt.NDArray[np.int32],
    currencies: Sequence[str],
    codes: npt.NDArray[np.object_],
    code_ranks: npt.NDArray[np.int64],
    policy: EscalationPolicy,
) -> npt.NDArray[np.int64]:
    """``escalation.worklist_order`` of these columns, by ``np.lexsort``.

    The overdue amounts are scaled to one common denominator as the fold does (a common
    multiple of the currencies' thresholds: any one orders alike); when a scaled amount could
    overflow int64 the fold's exact Python integers order them instead."""
    present = np.unique(currency).tolist()
    denominators = [max(1, policy.large_above_minor(currencies[code])) for code in present]
    common = lcm(*denominators) if denominators else 1
    scale = np.zeros(len(currencies), dtype=np.int64)
    largest = int(overdue.max()) if len(overdue) else 0
    if largest * (common // min(denominators, default=1)) >= 2**62:
        figures = zip(
            levels.tolist(),
            overdue.tolist(),
            days_past_due.tolist(),
            broken.tolist(),
            [currencies[code] for code in currency.tolist()],
            codes.tolist(),
            strict=True,
        )
        return np.asarray(worklist_order(list(figures), policy), dtype=np.int64)
    for code, denominator in zip(present, denominators, strict=True):
        scale[code] = common // denominator
    values = {
        WorklistKey.LEVEL: levels,
        WorklistKey.OVERDUE_AMOUNT: overdue * scale[currency],
        WorklistKey.DAYS_PAST_DUE: days_past_due,
        WorklistKey.BROKEN_PROMISES: broken,
    }
    # lexsort: the last key is the primary one; each priority key descending, then the code
    # ascending (stable: equal codes keep their positions, as the fold's stable sorts do).
    keys = [code_ranks]
    keys.extend(-values[key].astype(np.int64) for key in reversed(policy.worklist_priority))
    return np.lexsort(keys).astype(np.int64)


_RANKED: Final[dict[int, tuple[tuple[str, ...], npt.NDArray[np.int64], list[str]]]] = {}
"""By the dictionary's ``id``: the dictionary, its ranks and its distinct values sorted."""
RANKED_KEPT: Final = 16
"""Dictionaries whose ranks are kept (a log's few string columns, a version or two)."""


def dictionary_ranks(dictionary: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """``ranks`` of a column's dictionary, kept while that very tuple is in use: a log's
    dictionaries are replaced, never changed, when events are appended (``append_columns``),
    and ranking 100,000 customer codes was a third of an ageing by customer at 1M invoices.
    A dictionary that extends one kept (the old values first, then new ones: what appending
    events makes) is ranked from it, at the cost of its new values, not of sorting them all
    again (at 1M invoices, ~0.3 s of CPU after every batch of events that named a new
    customer)."""
    found = _RANKED.get(id(dictionary))
    if found is not None and found[0] is dictionary:
        return found[1]
    extended = None
    for kept in list(_RANKED.values()):
        if _extends(dictionary, kept[0]):
            extended = _ranks_extended(dictionary, kept[0], kept[1], kept[2])
            break
    if extended is None:
        distinct = sorted(set(dictionary))
        ranked = _ranks_in(distinct, dictionary)
    else:
        ranked, distinct = extended
    ranked.flags.writeable = False
    if len(_RANKED) >= RANKED_KEPT:
        _RANKED.clear()
    _RANKED[id(dictionary)] = (dictionary, ranked, distinct)
    return ranked


def _extends(dictionary: tuple[str, ...], kept: tuple[str, ...]) -> bool:
    """Whether ``dictionary`` is ``kept`` followed by more values."""
    if not kept or len(dictionary) <= len(kept):
        return False
    if dictionary[0] is not kept[0] or dictionary[len(kept) - 1] is not kept[-1]:
        return False  # cheap refusal before comparing every value
    return dictionary[: len(kept)] == kept


def _ranks_extended(
    dictionary: tuple[str, ...],
    kept: tuple[str, ...],
    kept_ranks: npt.NDArray[np.int64],
    kept_distinct: list[str],
) -> tuple[npt.NDArray[np.int64], list[str]] | None:
    """The ranks and sorted distinct values of ``dictionary`` (``kept`` then new values), from
    those of ``kept``; None when a new value is among the kept ones or repeated (not what
    appending makes: ranked in full instead)."""
    added = dictionary[len(kept) :]
    order = sorted(range(len(added)), key=added.__getitem__)
    added_sorted = [added[at] for at in order]
    places = [bisect.bisect_left(kept_distinct, value) for value in added_sorted]
    for at, (value, place) in enumerate(zip(added_sorted, places, strict=True)):
        if place < len(kept_distinct) and kept_distinct[place] == value:
            return None
        if at and added_sorted[at - 1] == value:
            return None
    # A kept value moves up by the new values sorted before it (inserted at or below its
    # place); the new value i-th in order has its place's kept values and i new ones below it.
    inserted = np.asarray(places, dtype=np.int64)
    shift = np.searchsorted(inserted, np.arange(len(kept_distinct)), side="right")
    ranked = np.empty(len(dictionary), dtype=np.int64)
    ranked[: len(kept)] = kept_ranks + shift[kept_ranks]
    ranked[len(kept) + np.asarray(order, dtype=np.int64)] = inserted + np.arange(len(added))
    return ranked, sorted(kept_distinct + added_sorted)  # two sorted runs: merged in one pass


def _ranks_in(distinct: list[str], values: Sequence[str]) -> npt.NDArray[np.int64]:
    """Per value, its place in ``distinct`` (sorted, every value in it)."""
    rank_of = dict(zip(distinct, range(len(distinct)), strict=True))
    return np.fromiter(map(rank_of.__getitem__, values), dtype=np.int64, count=len(values))


def ranks(values: Sequence[str]) -> npt.NDArray[np.int64]:
    """Per value: its rank among the distinct values in Python's string order (equal values,
    equal ranks), so that strings sort as integers."""
    return _ranks_in(sorted(set(values)), values)


def _next_actions(
    columns: Columns,
    customers: Mapping[str, Any],
    rows: npt.NDArray[np.int64],
    timeline: FastTimeline,
    levels: npt.NDArray[np.int64],
    standing: npt.NDArray[np.int32],
    policy: EscalationPolicy,
    known_at: datetime | None,
) -> npt.NDArray[np.object_]:
    """Per worklist position: the first required action of its level not taken from the day
    the level was entered to ``as_of`` (both included), due ``action_due_days`` after that
    day; None at level 0 or when every required action was taken. The required actions are
    those of the customer's ``standing`` (``CustomerColumns.standing``: its latest
    diagnosis's type, bankruptcy filed, fraud suspected), and an action that replaces the
    level's waits for no diagnosis or negotiation (``escalation._next_action``). Equal next
    actions are one object (they are frozen values)."""
    as_of = timeline.as_of
    entered = timeline.level_entered_on.astype(np.int64)
    rungs = {level: policy.level(level) for level in np.unique(levels).tolist()}
    standings = {code: standing_of(code) for code in np.unique(standing).tolist()}
    required_of = {
        (level, code): policy.required_actions(level, found[0], bankrupt=found[1], fraud=found[2])
        for level in rungs
        for code, found in standings.items()
    }
    names = sorted(
        {name for required in required_of.values() for name in required}
        | {NEGOTIATE_FIRST, DIAGNOSE}
    )
    column_of = {name: at for at, name in enumerate(names)}
    taken = _actions_taken(columns, customers, rows, timeline, column_of, known_at)
    action = np.full(len(rows), -1, dtype=np.int64)
    due_on = np.full(len(rows), NO_DATE, dtype=np.int64)
    replaced = np.zeros(len(rows), dtype=bool)
    for code, found in standings.items():
        if policy.replaces_actions(found[0], bankrupt=found[1], fraud=found[2]):
            replaced[standing == code] = True
    for level, rung in rungs.items():
        for code in standings:
            mine = (levels == level) & (entered != NO_DATE) & (standing == code)
            due_on[mine] = entered[mine] + rung.action_due_days
            # The first missing action wins: written last, going through them backwards.
            for name in reversed(required_of[level, code]):
                missing = mine & ~taken[:, column_of[name]]
                action[missing] = column_of[name]
    diagnosing = np.zeros(len(rows), dtype=bool)
    if policy.diagnose_from_level:
        waiting = (action >= 0) & (levels >= policy.diagnose_from_level) & ~replaced
        if waiting.any():
            diagnosed = _latest_dated(
                columns,
                customers,
                rows,
                as_of,
                known_at,
                "DelinquencyDiagnosed",
                "diagnosed_on",
            )
            diagnosing = waiting & (diagnosed == ABSENT_DATE)
            action[diagnosing] = column_of[DIAGNOSE]
    rule = policy.negotiation
    if rule is not None:
        waiting = (action >= 0) & (levels >= rule.from_level) & ~diagnosing & ~replaced
        if waiting.any():
            latest = np.maximum(
                _latest_dated(
                    columns,
                    customers,
                    rows,
                    as_of,
                    known_at,
                    "CollectionActionRecorded",
                    "taken_on",
                    rule.channels,
                ),
                _latest_dated(
                    columns, customers, rows, as_of, known_at, "NegotiationWaived", "waived_on"
                ),
            )
            negotiated = latest >= days(as_of) - rule.within_days
            action[waiting & ~negotiated] = column_of[NEGOTIATE_FIRST]
    # One item per distinct (action, level, due date), placed by NumPy.
    chosen = np.flatnonzero(action >= 0)
    distinct, which = np.unique(
        np.stack((action[chosen], levels[chosen], due_on[chosen]), axis=1),
        axis=0,
        return_inverse=True,
    )
    made = np.fromiter(
        (
            NextAction(action=names[name], level=level, due_on=due, is_overdue=due < as_of)
            for name, level, due in ((n, lv, on_date(d)) for n, lv, d in distinct.tolist())
        ),
        dtype=object,
        count=len(distinct),
    )
    result = np.full(len(rows), None, dtype=object)
    result[chosen] = made[which.reshape(-1)]
    return result


def _latest_dated(
    columns: Columns,
    customers: Mapping[str, Any],
    rows: npt.NDArray[np.int64],
    as_of: date,
    known_at: datetime | None,
    name: str,
    dated: str,
    channels: Iterable[str] | None = None,
) -> npt.NDArray[np.int64]:
    """Per worklist position: the latest date (fast-path days) in column ``dated`` of its
    customer's ``name`` events dated by ``as_of`` (actions: only on one of ``channels``);
    ``ABSENT_DATE`` when there is none."""
    latest = np.full(len(rows), ABSENT_DATE, dtype=np.int64)
    table = _known(columns, name, known_at)
    if len(table.get("customer_id", ())) == 0 or len(rows) == 0:
        return latest
    position_of = np.full(int(customers["originator_id"].max()) + 1, -1, dtype=np.int64)
    position_of[customers["originator_id"][rows]] = np.arange(len(rows))
    customer_ids = table["customer_id"]
    position = np.full(len(customer_ids), -1, dtype=np.int64)
    known = customer_ids < len(position_of)
    position[known] = position_of[customer_ids[known]]
    counted = (position >= 0) & (table[dated] <= days(as_of))
    if channels is not None:
        names = set(channels)
        wanted = np.asarray([channel in names for channel in table["channel.dictionary"]], bool)
        counted &= wanted[table["channel"]]
    chosen = np.flatnonzero(counted)
    np.maximum.at(latest, position[chosen], table[dated][chosen])
    return latest


def _actions_taken(
    columns: Columns,
    customers: Mapping[str, Any],
    rows: npt.NDArray[np.int64],
    timeline: FastTimeline,
    column_of: Mapping[str, int],
    known_at: datetime | None,
) -> npt.NDArray[np.bool_]:
    """Per worklist position and action in ``column_of``: whether an action of that channel
    was taken from the day the level was entered to ``as_of``, both included."""
    taken = np.zeros((len(rows), len(column_of)), dtype=np.bool_)
    actions = _known(columns, "CollectionActionRecorded", known_at)
    if len(actions.get("customer_id", ())) == 0 or len(rows) == 0 or not column_of:
        return taken
    position_of = np.full(int(customers["originator_id"].max()) + 1, -1, dtype=np.int64)
    position_of[customers["originator_id"][rows]] = np.arange(len(rows))
    customer_ids = actions["customer_id"]
    known = customer_ids < len(position_of)
    position = np.full(len(customer_ids), -1, dtype=np.int64)
    position[known] = position_of[customer_ids[known]]
    taken_on = actions["taken_on"]
    entered = np.where(position >= 0, timeline.level_entered_on[np.maximum(position, 0)], NO_DATE)
    counted = (position >= 0) & (entered <= taken_on) & (taken_on <= days(timeline.as_of))
    channel_column = np.asarray(
        [column_of.get(channel, -1) for channel in actions["channel.dictionary"]], dtype=np.int64
    )
    column = channel_column[actions["channel"]]
    counted &= column >= 0
    taken[position[counted], column[counted]] = True
    return taken


_SETTERS: Final[dict[type, dict[str, Callable[[Any, Any], None]]]] = {}


def _setters(cls: type) -> dict[str, Callable[[Any, Any], None]]:
    """The slot setters of an attrs class whose ``__init__`` only assigns its fields."""
    found = _SETTERS.get(cls)
    if found is None:
        fields = attrs.fields(cls)
        assert "__slots__" in cls.__dict__, cls
        assert not hasattr(cls, "__attrs_post_init__"), cls
        assert all(field.validator is None and field.converter is None for field in fields), cls
        found = _SETTERS[cls] = {field.name: cls.__dict__[field.name].__set__ for field in fields}
    return found


def frozen_rows(cls: type[T], **values: Sequence[Any]) -> list[T]:
    """Instances of the attrs class ``cls`` from columns of field values (one sequence per
    field, all of one length), equal to calling ``cls(**fields)`` for each row.

    For the trusted fast path only, where the values come from arrays already checked: it
    assigns the slots a column at a time instead of calling ``__init__`` per row (2-3x less
    time for tens of thousands of rows); ``_setters`` refuses a class with validators,
    converters or a post-init, whose ``__init__`` does more than assign."""
    setters = _setters(cls)
    assert values.keys() == setters.keys(), (cls, set(values) ^ set(setters))
    count = len(next(iter(values.values()), ()))
    made: list[T] = list(map(object.__new__, repeat(cls, count)))
    for name, column in values.items():
        assert len(column) == count, (cls, name)
        deque(map(setters[name], made, column), maxlen=0)
    return made
