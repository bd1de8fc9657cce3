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

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import numpy as np
import numpy.typing as npt

from arledger.domain.policy import AgeingPolicy
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.escalation import NextAction, WorklistItem, worklist_order
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast.portfolio import NO_DATE, FastPortfolio, days, on_date
from arledger.projections.fast.timeline import FastTimeline
from arledger.projections.portfolio import OpenReconciliation

Columns = Mapping[str, Mapping[str, Any]]

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
    "CollectionActionRecorded": ("timestamp", "customer_id", "channel", "taken_on"),
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
    currency = _strings(invoices, "currency")[open_rows]
    if grouping is AgeingGrouping.INVOICE:
        assert invoice_numbers is not None, "the invoice grouping needs the invoice numbers"
        numbers = np.asarray(invoice_numbers, dtype=object)[open_rows]
        keys, labels = numbers, numbers
    elif grouping is AgeingGrouping.PORTFOLIO:
        keys = labels = np.full(len(open_rows), "portfolio", dtype=object)
    elif grouping is AgeingGrouping.CURRENCY:
        keys = labels = currency
    else:
        customers = _known(columns, "CustomerAccountOpened", known_at)
        customer = figures.customer[open_rows]
        if grouping is AgeingGrouping.CUSTOMER:
            keys = _strings(customers, "customer_code")[customer]
            labels = _strings(customers, "name")[customer]
        else:
            keys = labels = owners_on(columns, as_of, known_at)[customer]
    return _grouped(as_of, policy, grouping, keys, labels, currency, figures, open_rows)


def _grouped(
    as_of: date,
    policy: AgeingPolicy,
    grouping: AgeingGrouping,
    keys: npt.NDArray[np.object_],
    labels: npt.NDArray[np.object_],
    currency: npt.NDArray[np.object_],
    figures: fast_path.InvoiceColumns,
    open_rows: npt.NDArray[np.int64],
) -> AgeingReport:
    groups: dict[tuple[str, str], int] = {}
    group = np.empty(len(open_rows), dtype=np.int64)
    for index, pair in enumerate(zip(keys.tolist(), currency.tolist(), strict=True)):
        group[index] = groups.setdefault(pair, len(groups))
    count = len(groups)
    width = len(policy.bucket_labels)
    buckets = np.zeros((count, width), dtype=np.int64)
    np.add.at(buckets, group, figures.buckets_minor[open_rows])
    open_minor = np.zeros(count, dtype=np.int64)
    np.add.at(open_minor, group, figures.open_minor[open_rows])
    disputed = np.zeros(count, dtype=np.int64)
    np.add.at(disputed, group, figures.disputed_minor[open_rows])
    days_max = np.zeros(count, dtype=np.int64)
    np.maximum.at(days_max, group, figures.ageing_days_max[open_rows].astype(np.int64))
    label_of: dict[int, str] = {}
    for index, label in zip(group.tolist(), labels.tolist(), strict=True):
        label_of[index] = label  # the last invoice's label, as the fold keeps it
    rows = []
    for pair in sorted(groups):
        index = groups[pair]
        rows.append(
            AgeingRow(
                key=pair[0],
                label=label_of[index],
                currency=pair[1],
                buckets_minor=tuple(int(amount) for amount in buckets[index]),
                open_minor=int(open_minor[index]),
                days_past_due_max=int(days_max[index]),
                disputed_minor=int(disputed[index]),
            )
        )
    return AgeingReport(as_of=as_of, policy=policy, grouping=grouping, rows=tuple(rows))


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


def worklist_rows(
    columns: Columns, result: FastPortfolio, *, owner: str | None = None
) -> npt.NDArray[np.int64]:
    """Customer rows on the worklist: opened by the date, at level 1 or more or with a
    reconciliation item open, of ``owner``."""
    customers = _known(columns, "CustomerAccountOpened", result.known_at)
    opened = customers["opened_on"] <= days(result.as_of)
    reconciling = np.zeros(len(opened), dtype=bool)
    reconciling[list(open_reconciliations(columns, result.as_of, result.known_at))] = True
    chosen = opened & ((result.customers.level >= 1) | reconciling)
    if owner is not None:
        chosen &= owners_on(columns, result.as_of, result.known_at) == owner
    return np.flatnonzero(chosen)


def worklist(
    columns: Columns,
    result: FastPortfolio,
    timeline: FastTimeline,
    *,
    id_of: Callable[[int], UUID],
) -> list[WorklistItem]:
    """``escalation.worklist`` from the fast path: ``timeline`` is ``fast_timeline`` for the
    ``worklist_rows`` customers (in that order), ``id_of`` an id index's UUID."""
    as_of, known_at, policy = result.as_of, result.known_at, result.policy
    customers = _known(columns, "CustomerAccountOpened", known_at)
    figures = result.customers
    rows = timeline.customer.astype(np.int64)
    codes = _strings(customers, "customer_code")
    names = _strings(customers, "name")
    owners = owners_on(columns, as_of, known_at)
    currencies = result.currencies
    taken = _actions_taken(columns, customers, rows, timeline, as_of, known_at)
    reconciliations = open_reconciliations(columns, as_of, known_at)
    # Plain lists first: per-element numpy indexing costs more than building the items.
    levels = figures.level[rows].tolist()
    raw_levels = figures.raw_level[rows].tolist()
    grades = figures.grade[rows].tolist()
    overdue = figures.overdue_minor[rows].tolist()
    days_past_due = figures.days_past_due_max[rows].tolist()
    broken = figures.broken_promises[rows].tolist()
    currency_of = [currencies[code] for code in figures.currency[rows].tolist()]
    code_of = codes[rows].tolist()
    entered_on = timeline.level_entered_on.tolist()
    order = worklist_order(
        list(zip(levels, overdue, days_past_due, broken, currency_of, code_of, strict=True)),
        policy,
    )
    originators = customers["originator_id"][rows].tolist()
    names_of = names[rows].tolist()
    owners_of = owners[rows].tolist()
    rungs = {level: policy.level(level) for level in set(levels)}
    items = []
    for index in order:
        rung = rungs[levels[index]]
        grade = grades[index]
        entered = entered_on[index]
        next_action = None
        if entered != NO_DATE:
            due_on = on_date(entered) + timedelta(days=rung.action_due_days)
            done = taken.get(index, set())
            action = next((name for name in rung.required_actions if name not in done), None)
            if action is not None:
                next_action = NextAction(
                    action=action, level=rung.level, due_on=due_on, is_overdue=due_on < as_of
                )
        items.append(
            WorklistItem(
                customer_id=id_of(originators[index]),
                customer_code=code_of[index],
                name=names_of[index],
                owner=owners_of[index],
                currency=currency_of[index],
                level=levels[index],
                level_name=rung.name,
                grade=None if grade < 0 else fast_path.GRADES[grade],
                overdue_minor=overdue[index],
                days_past_due_max=days_past_due[index],
                broken_promises=broken[index],
                is_suspended=levels[index] < raw_levels[index],
                next_action=next_action,
                reconciliations=reconciliations.get(int(rows[index]), ()),
            )
        )
    return items


def _actions_taken(
    columns: Columns,
    customers: Mapping[str, Any],
    rows: npt.NDArray[np.int64],
    timeline: FastTimeline,
    as_of: date,
    known_at: datetime | None,
) -> dict[int, set[str]]:
    """Per worklist position: the channels of actions taken from the day the level was
    entered to ``as_of``, both included."""
    actions = _known(columns, "CollectionActionRecorded", known_at)
    if len(actions.get("customer_id", ())) == 0 or len(rows) == 0:
        return {}
    position_of = np.full(int(customers["originator_id"].max()) + 1, -1, dtype=np.int64)
    position_of[customers["originator_id"][rows]] = np.arange(len(rows))
    customer_ids = actions["customer_id"]
    known = customer_ids < len(position_of)
    position = np.full(len(customer_ids), -1, dtype=np.int64)
    position[known] = position_of[customer_ids[known]]
    taken_on = actions["taken_on"]
    entered = np.where(position >= 0, timeline.level_entered_on[np.maximum(position, 0)], NO_DATE)
    counted = (position >= 0) & (entered <= taken_on) & (taken_on <= days(as_of))
    channels = _strings(actions, "channel")
    taken: dict[int, set[str]] = {}
    for at, channel in zip(position[counted].tolist(), channels[counted].tolist(), strict=True):
        taken.setdefault(at, set()).add(channel)
    return taken
