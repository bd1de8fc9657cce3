"""Numba kernels of the columnar fast path: plain loops over NumPy arrays, compiled once and
cached on disk (``cache=True``), so a new process pays the compilation only the first time.

Each kernel restates one piece of a pure fold's sequential semantics (oldest instalment settled
first, disputed money taken off the oldest overdue parts, a promise judged from the payments in
its window) as a loop, because those rules are sequential by nature and a loop states them
exactly; ``fast_path`` prepares the arrays and is the public API. Invariant: every kernel is a
function of its inputs only and writes nothing but the output arrays it is given; a date of
``NO_DATE`` means "never" (not yet happened, or no evaluation for this customer).

Codes shared with ``fast_path``: promise status is the index in ``PromiseStatus`` (``NOT_MADE``
before it was made); a rule is the index in ``TriggerRule``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])

NO_DATE: Final = np.iinfo(np.int32).max
"""A date that never comes: an unresolved dispute, an unreversed payment, a skipped customer."""

NOT_MADE: Final = -1
OPEN: Final = 0
KEPT: Final = 1
PARTLY_KEPT: Final = 2
BROKEN: Final = 3
WITHDRAWN: Final = 4
SUPERSEDED: Final = 5

RULES: Final = 5
DAYS_PAST_DUE: Final = 0
OVERDUE_AMOUNT: Final = 1
BROKEN_PROMISES: Final = 2
RISK_RATING: Final = 3
BLACKLISTED: Final = 4

Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def _kernel(function: F) -> F:
    """``numba.njit(cache=True)``, typed for mypy (numba ships no type hints)."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


@_kernel
def group(keys: Int32s, group_count: int) -> tuple[Int64s, Int64s]:
    """(start, order): rows of each key in ``order[start[k]:start[k + 1]]``, in row order.

    A counting sort: linear, where an argsort of millions of rows would cost a second. Rows
    with a negative key are left out.
    """
    start = np.zeros(group_count + 1, np.int64)
    for row in range(keys.shape[0]):
        if keys[row] >= 0:
            start[keys[row] + 1] += 1
    for key in range(group_count):
        start[key + 1] += start[key]
    fill = start[:-1].copy()
    order = np.empty(start[group_count], np.int64)
    for row in range(keys.shape[0]):
        key = keys[row]
        if key >= 0:
            order[fill[key]] = row
            fill[key] += 1
    return start, order


@_kernel
def group_wanted(
    ids: Int32s, row_of_id: Int32s, wanted: Bools, group_count: int
) -> tuple[Int64s, Int64s]:
    """``group`` keyed by the row of each id, leaving out rows whose key is not ``wanted``."""
    keys = np.empty(ids.shape[0], np.int32)
    for row in range(ids.shape[0]):
        key = row_of_id[ids[row]]
        keys[row] = key if key >= 0 and wanted[key] else -1
    return group(keys, group_count)


@_kernel
def settle(
    invoice_of_id: Int32s,
    originator_id: Int32s,
    on: Int32s,
    amount_minor: Int64s,
    sign: int,
    customer_of_invoice: Int32s,
    on_by_customer: Int32s,
    open_minor: Int64s,
) -> None:
    """Take each movement dated on or before its customer's date off its invoice's open
    amount (``sign`` -1 for a movement that reopens)."""
    for row in range(originator_id.shape[0]):
        invoice = invoice_of_id[originator_id[row]]
        if invoice < 0:
            continue
        limit = on_by_customer[customer_of_invoice[invoice]]
        if limit != NO_DATE and on[row] <= limit:
            open_minor[invoice] -= sign * amount_minor[row]


@_kernel
def dispute(
    invoice_of_id: Int32s,
    originator_id: Int32s,
    amount_minor: Int64s,
    opened_on: Int32s,
    resolved_on: Int32s,
    customer_of_invoice: Int32s,
    on_by_customer: Int32s,
    disputed_minor: Int64s,
) -> None:
    """Add each dispute open on its customer's date (opened by then, not resolved by then)."""
    for row in range(originator_id.shape[0]):
        invoice = invoice_of_id[originator_id[row]]
        if invoice < 0:
            continue
        limit = on_by_customer[customer_of_invoice[invoice]]
        if limit != NO_DATE and opened_on[row] <= limit and resolved_on[row] > limit:
            disputed_minor[invoice] += amount_minor[row]


@_kernel
def latest(
    customer_of_id: Int32s,
    originator_id: Int32s,
    seq: Int64s,
    on: Int32s,
    value: Int32s,
    on_by_customer: Int32s,
    seq_best: Int64s,
    value_best: Int32s,
) -> None:
    """The value of a dated history on each customer's date: among the entries dated on or
    before it, the last recorded (highest ``seq``), as ``portfolio.value_on`` has it."""
    for row in range(originator_id.shape[0]):
        customer = customer_of_id[originator_id[row]]
        if customer < 0:
            continue
        limit = on_by_customer[customer]
        if limit != NO_DATE and on[row] <= limit and seq[row] > seq_best[customer]:
            seq_best[customer] = seq[row]
            value_best[customer] = value[row]


@_kernel
def invoice_pass(
    customer_of_invoice: Int32s,
    on_by_customer: Int32s,
    disputed_counts_by_customer: Bools,
    amount_minor: Int64s,
    issued_on: Int32s,
    due_on: Int32s,
    schedule_offsets: Int64s,
    schedule_due_on: Int32s,
    schedule_amount_minor: Int64s,
    open_minor: Int64s,
    disputed_minor: Int64s,
    edges_days: Int64s,
    issue_basis: bool,
    overdue_out: Int64s,
    days_out: Int32s,
    ageing_days_out: Int32s,
    buckets_out: Int64s,
    customer_out: Int64s,
    customer_buckets_out: Int64s,
) -> None:
    """Per invoice on its customer's date: what is open, disputed, overdue and counted, days
    past due, and the ageing buckets; summed per customer.

    ``open_minor`` comes in as amount minus what ``settle`` counted and ``disputed_minor`` as
    what ``dispute`` counted; both leave clamped (0 for an invoice not yet issued). The
    per-invoice outputs may be empty (then only the customer sums are made), as may
    ``buckets_out`` (per-invoice buckets: 8 bytes per bucket per invoice) and the bucket width
    (then no ageing). ``customer_out`` columns: open, disputed, overdue, days past due max,
    ageing days max.
    """
    with_invoices = overdue_out.shape[0] > 0
    with_buckets = buckets_out.shape[0] > 0
    width = customer_buckets_out.shape[1]
    edge_count = edges_days.shape[0]
    for invoice in range(customer_of_invoice.shape[0]):
        customer = customer_of_invoice[invoice]
        on = on_by_customer[customer]
        if on == NO_DATE:
            continue
        amount = amount_minor[invoice]
        open_amount = open_minor[invoice] if issued_on[invoice] <= on else 0
        overdue = 0
        days_max = 0
        ageing_days_max = 0
        disputed = 0
        if open_amount > 0:
            assert open_amount <= amount
            disputed = min(disputed_minor[invoice], open_amount)
            uncounted = 0 if disputed_counts_by_customer[customer] else disputed
            remaining = amount - open_amount
            first = schedule_offsets[invoice]
            last = schedule_offsets[invoice + 1]
            parts = last - first if last > first else 1
            for part in range(parts):
                if last > first:
                    part_due_on = schedule_due_on[first + part]
                    part_amount = schedule_amount_minor[first + part]
                else:
                    part_due_on = due_on[invoice]
                    part_amount = amount
                # Settlements go to the oldest instalment first (``open_by_instalment``).
                taken = min(remaining, part_amount)
                remaining -= taken
                part_open = part_amount - taken
                if part_open == 0:
                    continue
                days = on - part_due_on
                if width:
                    basis_days = on - issued_on[invoice] if issue_basis else days
                    index = 0
                    if basis_days > 0:
                        index = edge_count + 1
                        for edge in range(edge_count):
                            if basis_days <= edges_days[edge]:
                                index = edge + 1
                                break
                    customer_buckets_out[customer, index] += part_open
                    if with_buckets:
                        buckets_out[invoice, index] += part_open
                    ageing_days_max = max(ageing_days_max, basis_days)
                if days < 1:
                    continue
                # Disputed money comes off the oldest overdue parts first.
                taken_off = min(part_open, uncounted)
                uncounted -= taken_off
                if part_open > taken_off:
                    overdue += part_open - taken_off
                    days_max = max(days_max, days)
            assert remaining == 0
            customer_out[customer, 0] += open_amount
            customer_out[customer, 1] += disputed
            customer_out[customer, 2] += overdue
            customer_out[customer, 3] = max(customer_out[customer, 3], days_max)
            customer_out[customer, 4] = max(customer_out[customer, 4], ageing_days_max)
        else:
            assert open_amount == 0
        if with_invoices:
            open_minor[invoice] = open_amount
            disputed_minor[invoice] = disputed
            overdue_out[invoice] = overdue
            days_out[invoice] = days_max
            ageing_days_out[invoice] = ageing_days_max


Promises = tuple[Int32s, Int32s, Int64s, Int32s, Int32s, Int32s, Int32s, Int64s, Int32s]
"""customer, made on, amount, currency, withdrawn on, superseded on, promised on, named invoices
(offsets, invoice rows)."""
Applications = tuple[Int64s, Int64s, Int32s, Int32s, Int32s, Int64s]
"""By invoice (start, order), row of id, payment id, applied on, amount."""
Payments = tuple[Int64s, Int64s, Int32s, Int64s, Int32s, Int32s]
"""By payer (start, order), value on, amount, currency, reversed on."""


@_kernel
def window_size(
    promise: int, promises: Promises, applications: Applications, payments: Payments
) -> int:
    """How many movements may count toward the promise: the size of ``judge``'s buffers."""
    first = promises[7][promise]
    last = promises[7][promise + 1]
    if last == first:
        customer = promises[0][promise]
        return int(payments[0][customer + 1] - payments[0][customer])
    size = 0
    for named in range(first, last):
        invoice = promises[8][named]
        if invoice >= 0:
            size += applications[0][invoice + 1] - applications[0][invoice]
    return int(size)


@_kernel
def judge(
    promise: int,
    on: int,
    deadline_on: int,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    dates: Int32s,
    amounts: Int64s,
) -> tuple[int, int, int]:
    """(status, paid, paid in full on) of one promise on ``on``, as ``promises.judge`` does.

    Money counts from the day the promise was made to the earlier of its deadline and ``on``:
    applications to the named invoices, else the customer's payments in its currency; a
    payment reversed by ``on`` does not count. ``dates`` and ``amounts`` are scratch buffers of
    at least ``window_size``.
    """
    (
        customer_of,
        made_on,
        amount_of,
        currency_of,
        withdrawn_on,
        superseded_on,
        _promised_on,
        (invoice_offsets),
        invoice_rows,
    ) = promises
    app_start, app_order, row_of_id, app_payment, app_on, app_amount = applications
    pay_start, pay_order, pay_value_on, pay_amount, pay_currency, pay_reversed_on = payments
    made = made_on[promise]
    if made > on:
        return NOT_MADE, 0, NO_DATE
    window_end = min(deadline_on, on)
    amount = amount_of[promise]
    first = invoice_offsets[promise]
    last = invoice_offsets[promise + 1]
    found = 0
    paid = 0
    if last > first:
        for named in range(first, last):
            invoice = invoice_rows[named]
            if invoice < 0:
                continue
            for slot in range(app_start[invoice], app_start[invoice + 1]):
                row = app_order[slot]
                applied_on = app_on[row]
                payment = row_of_id[app_payment[row]]
                if payment < 0 or not made <= applied_on <= window_end:
                    continue
                if pay_value_on[payment] <= on and pay_reversed_on[payment] > on:
                    dates[found] = applied_on
                    amounts[found] = app_amount[row]
                    paid += app_amount[row]
                    found += 1
    else:
        customer = customer_of[promise]
        currency = currency_of[promise]
        for slot in range(pay_start[customer], pay_start[customer + 1]):
            payment = pay_order[slot]
            value_on = pay_value_on[payment]
            if pay_currency[payment] != currency or not made <= value_on <= window_end:
                continue
            if value_on <= on and pay_reversed_on[payment] > on:
                dates[found] = value_on
                amounts[found] = pay_amount[payment]
                paid += pay_amount[payment]
                found += 1
    paid_in_full_on = NO_DATE
    if paid >= amount and found:
        # The day the running total, in date order, first reaches the promised amount.
        order = np.argsort(dates[:found], kind="mergesort")
        running = 0
        for index in order:
            running += amounts[index]
            if running >= amount:
                paid_in_full_on = dates[index]
                break
    paid = min(paid, amount)
    withdrawn = withdrawn_on[promise] <= on
    superseded = superseded_on[promise] <= on
    closed_on = NO_DATE
    if withdrawn:
        closed_on = withdrawn_on[promise]
    elif superseded:
        closed_on = superseded_on[promise]
    if paid_in_full_on != NO_DATE and paid_in_full_on <= closed_on:
        return KEPT, paid, paid_in_full_on
    if closed_on <= min(on, deadline_on):
        return (WITHDRAWN if withdrawn else SUPERSEDED), paid, NO_DATE
    if on <= deadline_on:
        return OPEN, paid, NO_DATE
    return (PARTLY_KEPT if paid > 0 else BROKEN), paid, NO_DATE


@_kernel
def buffers(
    promise_order: Int64s, promises: Promises, applications: Applications, payments: Payments
) -> tuple[Int32s, Int64s]:
    """Scratch buffers for ``judge``, large enough for every promise in ``promise_order``."""
    size = 0
    for promise in promise_order:
        size = max(size, window_size(promise, promises, applications, payments))
    return np.empty(size, np.int32), np.empty(size, np.int64)


@_kernel
def promise_pass(
    on: int,
    deadline_on: Int32s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    status_out: Int32s,
    paid_out: Int64s,
    paid_in_full_on_out: Int32s,
) -> None:
    """Judge every promise on ``on`` against the deadlines given."""
    dates, amounts = buffers(
        np.arange(deadline_on.shape[0], dtype=np.int64), promises, applications, payments
    )
    for promise in range(deadline_on.shape[0]):
        status, paid, paid_in_full_on = judge(
            promise, on, deadline_on[promise], promises, applications, payments, dates, amounts
        )
        status_out[promise] = status
        paid_out[promise] = paid
        paid_in_full_on_out[promise] = paid_in_full_on


@_kernel
def customer_pass(
    on_by_customer: Int32s,
    policy_by_customer: Int32s,
    currency_by_customer: Int32s,
    minor_per_major: Int64s,
    figures: Int64s,
    rating_by_customer: Int32s,
    blacklisted_by_customer: Int32s,
    deadline_on: Int32s,
    promise_start: Int64s,
    promise_order: Int64s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    partly_kept_counts: Bools,
    trigger_start: Int64s,
    trigger_level: Int32s,
    trigger_rule: Int32s,
    trigger_threshold: Int64s,
    reason_out: Int64s,
    customer_out: Int64s,
) -> None:
    """Per customer on its date: broken promises, the earliest open promise, and the triggers.

    ``figures`` holds ``invoice_pass``'s customer columns (overdue at 2, days past due at 3).
    ``reason_out[customer, rule]``: level, threshold, actual of the rule's firing trigger of the
    highest level (level -1: none fires). ``customer_out`` columns: broken promises, made_on of
    the earliest open promise (``NO_DATE``: none), raw level, time level, decision level.
    """
    dates, amounts = buffers(promise_order, promises, applications, payments)
    for customer in range(on_by_customer.shape[0]):
        on = on_by_customer[customer]
        if on == NO_DATE:
            continue
        policy = policy_by_customer[customer]
        broken = 0
        since = NO_DATE
        for slot in range(promise_start[customer], promise_start[customer + 1]):
            promise = promise_order[slot]
            status, _paid, _paid_on = judge(
                promise, on, deadline_on[promise], promises, applications, payments, dates, amounts
            )
            if status == BROKEN or (status == PARTLY_KEPT and partly_kept_counts[policy]):
                broken += 1
            elif status == OPEN:
                since = min(since, promises[1][promise])
        overdue = figures[customer, 2]
        days = figures[customer, 3]
        rating = rating_by_customer[customer]
        raw_level = 0
        time_level = 0
        decision_level = 0
        for rule in range(RULES):
            reason_out[customer, rule, 0] = -1
        for trigger in range(trigger_start[policy], trigger_start[policy + 1]):
            level = trigger_level[trigger]
            rule = trigger_rule[trigger]
            threshold = trigger_threshold[trigger]
            fired = False
            actual = 0
            if rule == DAYS_PAST_DUE:
                fired = overdue > 0 and days >= threshold
                actual = days
            elif rule == OVERDUE_AMOUNT:
                threshold = threshold * minor_per_major[currency_by_customer[customer]]
                fired = overdue > 0 and overdue >= threshold
                actual = overdue
            elif rule == BROKEN_PROMISES:
                fired = broken > 0 and broken >= threshold
                actual = broken
            elif rule == RISK_RATING:
                fired = rating > 0 and rating >= threshold
                actual = rating
            else:
                fired = blacklisted_by_customer[customer] == 1
                actual = 1
            if fired and reason_out[customer, rule, 0] < level:
                reason_out[customer, rule, 0] = level
                reason_out[customer, rule, 1] = threshold
                reason_out[customer, rule, 2] = actual
                raw_level = max(raw_level, level)
                if rule <= BROKEN_PROMISES:
                    time_level = max(time_level, level)
                else:
                    decision_level = max(decision_level, level)
        customer_out[customer, 0] = broken
        customer_out[customer, 1] = since
        customer_out[customer, 2] = raw_level
        customer_out[customer, 3] = time_level
        customer_out[customer, 4] = decision_level
