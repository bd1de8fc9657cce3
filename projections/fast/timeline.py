"""Escalation timelines on the columnar fast path: per customer, the day its current level was
entered and the next threshold crossing, as of a date (and known-at instant), from the NumPy
columns of the event log.

These are ``escalation.escalation_status``'s ``level_entered_on`` and ``next_threshold`` (its
date and level), and so the worklist's next-action due date (the day entered plus the level's
``action_due_days``), for many customers at once. As the folds do, each customer is evaluated
on its own candidate dates (``escalation._Evaluator.candidate_dates``), on the facts dated by
``as_of`` alone (``escalation.narrow``): back from ``as_of`` while the level holds, and ahead,
within ``NEXT_THRESHOLD_HORIZON_DAYS``, until it rises. The level on a date is the fast path's
(``fast_kernels``: ``_age``, ``_disputed``, ``judge``, ``_levels``) for one customer on any date
(``fast_kernels.timeline_part``), over ``fast_path``'s prepared arrays with every fact dated
after ``as_of`` made ``NO_DATE`` (never happens): that is what narrowing does.

Invariant: a result as of a date depends only on facts dated on or before it and, with
``known_at``, only on events recorded by then; it equals the folds' field by field, as the
differential tests check. One rule of the domain is relied on: a payment is applied only to
invoices of its payer (``domain.payment``), so the payments ``narrow`` keeps for a customer
are those it paid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.policy import EscalationPolicy
from arledger.projections.escalation import (
    NEXT_THRESHOLD_HORIZON_DAYS,
    EscalationStatus,
    candidate_day_counts,
)
from arledger.projections.fast import kernels
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast.portfolio import NO_DATE, Columns, days, on_date

Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

SELECT: Final[Mapping[str, tuple[str, ...]]] = {
    **fast_path.SELECT,
    "CustomerAccountOpened": (*fast_path.SELECT["CustomerAccountOpened"], "opened_on"),
}
"""The columns read: the fast path's, and the day each account was opened (a candidate date
of the folds'). Pass it to ``columns(log, select=...)``; ``fast_portfolio`` reads it too."""

PARALLEL_CUSTOMERS_MIN: Final = 512
"""Fewer customers than this are done on the calling thread: starting threads (and handing
each part the arrays) would cost more than it saves."""


@attrs.frozen(kw_only=True, eq=False)
class FastTimeline:
    """Per customer asked about, in the order asked; dates are days since 1970-01-01."""

    as_of: date
    known_at: datetime | None
    policy: EscalationPolicy
    """The escalation policy in force on ``as_of``."""
    customer: Int32s
    """Row of the customer in the ``CustomerAccountOpened`` table (``CustomerColumns``)."""
    level: Int64s
    """On ``as_of``: the fast path's ``CustomerColumns.level``."""
    level_entered_on: Int32s
    """The day the level was entered; ``NO_DATE`` at level 0."""
    action_due_on: Int32s
    """The day the level's required actions fall due (entered plus ``action_due_days``);
    ``NO_DATE`` at level 0."""
    next_threshold_on: Int32s
    """The first day the level rises if nothing happens; ``NO_DATE``: not within the horizon
    (or not asked for)."""
    next_threshold_level: Int64s
    """The level it rises to that day; -1 where there is no such day."""


@attrs.frozen(kw_only=True)
class TimelineValues:
    """One customer's timeline as plain values, comparable with what the folds give."""

    level: int
    level_entered_on: date | None
    next_threshold: tuple[date, int] | None
    """(on, level) of the next threshold crossing."""


def timeline_values(result: FastTimeline, index: int) -> TimelineValues:
    """The values of the ``index``-th customer asked about."""
    entered_on = int(result.level_entered_on[index])
    crossing_on = int(result.next_threshold_on[index])
    return TimelineValues(
        level=int(result.level[index]),
        level_entered_on=None if entered_on == NO_DATE else on_date(entered_on),
        next_threshold=None
        if crossing_on == NO_DATE
        else (on_date(crossing_on), int(result.next_threshold_level[index])),
    )


def values_of(status: EscalationStatus) -> TimelineValues:
    """The same values from the folds' ``escalation_status``."""
    crossing = status.next_threshold
    return TimelineValues(
        level=status.level,
        level_entered_on=status.level_entered_on,
        next_threshold=None if crossing is None else (crossing.on, crossing.level),
    )


def fast_timeline(
    columns: Columns,
    as_of: date,
    *,
    decode_policy: Callable[[str], EscalationPolicy],
    known_at: datetime | None = None,
    customers: npt.ArrayLike | None = None,
    next_threshold: bool = True,
    incremental: bool = True,
) -> FastTimeline:
    """Level, day entered and next threshold crossing of some customers as of ``as_of``.

    Args:
        columns: ``adapters.columnar.columns(log, select=SELECT)``.
        decode_policy: as ``fast_path.fast_portfolio``'s.
        known_at: only events recorded (timestamped) by then count.
        customers: rows of the customers to look at (for the worklist: those whose
            ``fast_portfolio`` level is 1 or more); every customer by default.
        next_threshold: also the next threshold crossing (the worklist does not need it).
        incremental: evaluate each candidate date over the invoices open then, kept as the
            walk moves (``kernels.Sweep``), and judge again only the promises whose judgement
            can still change (``kernels.promise_settled``); False: every invoice and promise
            of the customer at every date, the reference the tests compare it with.

    Raises:
        CustomerNotFoundError: a row is not one of the customers' table (``row``).
    """
    on = days(as_of)
    tables = fast_path.known_tables(columns, known_at)
    opened = tables["CustomerAccountOpened"]
    customer_count = len(opened["originator_id"])
    rows = (
        np.arange(customer_count, dtype=np.int32)
        if customers is None
        else np.ascontiguousarray(customers, np.int32)
    )
    outside = rows[(rows < 0) | (rows >= customer_count)]
    if len(outside):
        row = int(outside[0])
        raise CustomerNotFoundError(f"no customer in row {row} of {customer_count}", row=row)
    selected = np.zeros(customer_count, np.bool_)
    selected[rows] = True
    # The preparation keeps the movements of the selected customers' invoices dated by as_of.
    prepared = fast_path._Prepared(tables, decode_policy, on, held=selected)
    policies = prepared.policies
    policy = policies.policies[prepared.policy_now]
    in_view = [(effective_on, p) for effective_on, p in policies.versions if effective_on <= on]
    effective_on = _int32([effective_on for effective_on, _ in in_view])
    step_dates = _int32(np.unique(effective_on))
    steps: kernels.Steps = (
        step_dates,
        policies.index_on(step_dates),
        policies.disputed_counts,
        policies.partly_kept_counts,
        np.asarray(policies.promise_suspends, np.bool_),
    )
    day_counts = _int64(sorted(candidate_day_counts(p for _, p in in_view)))
    promises, deadline_on = _promises(prepared, on)
    payments = prepared.tables["PaymentReceived"]
    payment_count = len(payments["originator_id"])
    # Every payment of the selected customers, for its dates (the currency is not read).
    customer_payments = kernels.group_payments(
        prepared.row_of_id,
        selected,
        customer_count,
        _int32(payments["payer_customer_id"]),
        prepared.payment_value_on,
        _int64(payments["amount_minor"]),
        np.zeros(payment_count, np.int32),
        prepared.payment_reversed_on,
    )
    blacklisted = tables["CustomerBlacklisted"]
    cleared = tables["CustomerCleared"]
    histories = [
        _history(prepared.row_of_id, selected, on, *prepared.ratings),
        _history(
            prepared.row_of_id,
            selected,
            on,
            _int32(np.concatenate((blacklisted["originator_id"], cleared["originator_id"]))),
            _int64(np.concatenate((blacklisted["seq"], cleared["seq"]))),
            _int32(np.concatenate((blacklisted["blacklisted_on"], cleared["cleared_on"]))),
            _int32(
                np.concatenate((np.ones(len(blacklisted["seq"])), np.zeros(len(cleared["seq"]))))
            ),
        ),
    ]
    applications = _applications(prepared.applications, on)
    cut_payments = _payments(prepared.payments, on)
    facts = kernels.Facts(
        opened_on=_int32(opened["opened_on"]),
        currency=prepared.customer_currency,
        minor_per_major=prepared.minor_per_major,
        invoices=_invoices(prepared, selected, on),
        schedule=prepared.schedule,
        timelines=kernels.timelines(*prepared.held, prepared.schedule[0]),
        disputes=_disputes(prepared.disputes, on),
        day_counts=day_counts,
        customer_payments=customer_payments,
        deadline_on=deadline_on,
        promise_start=prepared.promise_start,
        promise_order=prepared.promise_order,
        promises=promises,
        # Filled by each part of the walk for its customers (``kernels.promise_settled``),
        # before it walks them; left unset (every promise judged at every date) otherwise.
        settled=(
            np.full(len(promises[1]), NO_DATE, np.int32),
            np.zeros(len(promises[1]), np.int8),
        ),
        applications=applications,
        payments=cut_payments,
        ratings=histories[0],
        blacklists=histories[1],
        diagnoses=_history(prepared.row_of_id, selected, on, *prepared.diagnoses),
        bankruptcies=_history(prepared.row_of_id, selected, on, *prepared.distress[0]),
        frauds=_history(prepared.row_of_id, selected, on, *prepared.distress[1]),
        adjust=policies.adjust,
        steps=steps,
        effective_on=effective_on,
        triggers=policies.triggers,
    )
    count = len(rows)
    level = np.empty(count, np.int64)
    entered_on = np.empty(count, np.int32)
    crossing_on = np.empty(count, np.int32)
    crossing_level = np.empty(count, np.int64)
    last = on + NEXT_THRESHOLD_HORIZON_DAYS if next_threshold else on
    level_max = max((rung.level for rung in policy.levels if rung.triggers), default=0)
    if policy.delinquency_adjustments:
        # An offset lifts a level past the triggers' top (a distress effect dated after
        # ``as_of`` is not known then: the walk ahead never meets one).
        level_max = len(policy.levels) - 1
    outputs = (level, entered_on, crossing_on, crossing_level)

    invoice_start = facts.invoices[0]
    owned_max = int((invoice_start[rows + 1] - invoice_start[rows]).max(initial=0))

    sweep_length = owned_max if incremental else 0

    def walk(low: int, high: int) -> None:
        scratch = (
            np.empty(kernels.CANDIDATES_SCRATCH, np.int32),
            np.empty(kernels.SCRATCH, np.int32),
            np.empty(kernels.SCRATCH, np.int64),
            np.empty(2, np.int64),
            (
                np.empty(owned_max, np.int64),
                np.empty(owned_max, np.int32),
                np.empty(owned_max, np.int32),
            ),
            (
                np.empty(sweep_length, np.int32),
                np.empty(sweep_length, np.int32),
                np.empty(sweep_length, np.int32),
                np.empty(sweep_length, np.int32),
                np.zeros(3, np.int64),
            ),
        )
        if incremental:
            kernels.promise_settled(
                low,
                high,
                rows,
                facts.promise_start,
                facts.promise_order,
                facts.deadline_on,
                facts.promises,
                facts.applications,
                facts.payments,
                *facts.settled,
                scratch[1],
                scratch[2],
            )
        kernels.timeline_part(low, high, rows, on, last, level_max, facts, *outputs, scratch)

    # The kernel releases the GIL: parts of the customers on threads of their own, more parts
    # than threads so that none waits long for the last (customers differ in their work, a few
    # a hundred times the others'). Numba's ``parallel=True`` would compile the walk once more,
    # and its parallel loops cannot take a tuple of arrays of one type (``Groups``).
    threads = kernels.threads() if count >= PARALLEL_CUSTOMERS_MIN else 1
    parts = threads * kernels.CHUNKS_PER_THREAD if threads > 1 else 1
    bounds = [(count * part // parts, count * (part + 1) // parts) for part in range(parts)]
    if parts == 1:
        walk(0, count)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for done in pool.map(lambda bound: walk(*bound), bounds):
                assert done is None
    due_days = _int64([rung.action_due_days for rung in policy.levels])
    action_due_on = np.full(count, NO_DATE, np.int32)
    entered = level > 0
    action_due_on[entered] = entered_on[entered] + due_days[level[entered]]
    return FastTimeline(
        as_of=as_of,
        known_at=known_at,
        policy=policy,
        customer=rows,
        level=level,
        level_entered_on=entered_on,
        action_due_on=action_due_on,
        next_threshold_on=crossing_on,
        next_threshold_level=crossing_level,
    )


# Preparation: the facts dated by as_of --------------------------------------------------------


def _cut(dates: Int32s, on: int) -> Int32s:
    """Dates after ``on`` made ``NO_DATE``: as of ``on`` those have not happened."""
    return _int32(np.where(dates > on, NO_DATE, dates))


def _invoices(prepared: Any, selected: Bools, on: int) -> kernels.Groups:
    """The invoices of each selected customer issued by ``on``."""
    customer = prepared.customer_of_invoice
    keep = (customer >= 0) & (prepared.schedule[1] <= on)
    keep[keep] = selected[customer[keep]]
    return kernels.group(_int32(np.where(keep, customer, -1)), prepared.customer_count)


def _disputes(disputes: kernels.Disputes, on: int) -> kernels.Disputes:
    first, after, amount_minor, opened_on, resolved_on = disputes
    return first, after, amount_minor, _cut(opened_on, on), _cut(resolved_on, on)


def _promises(prepared: Any, on: int) -> tuple[kernels.Promises, Int32s]:
    """The promises made by ``on`` (withdrawn and superseded by then), and each tranche's
    deadline under the policy versions effective by ``on``, as ``narrow`` leaves them: the
    policy in force on the earlier of the tranche's date and ``on`` (for the customer's rating
    when the promise was made)."""
    customer, made_on, amount, currency, withdrawn_on, superseded_on, promised_on, *rest = (
        prepared.promises
    )
    policies = prepared.policies
    tranche_on = prepared.tranche_on
    deadline_on = _int32(
        tranche_on
        + policies.tolerance_days[
            policies.index_on(np.minimum(tranche_on, on)), prepared.tranche_rating
        ]
    )
    promises: kernels.Promises = (
        customer,
        _cut(made_on, on),
        amount,
        currency,
        _cut(withdrawn_on, on),
        _cut(superseded_on, on),
        promised_on,
        rest[0],
        rest[1],
        rest[2],
        rest[3],
    )
    return promises, deadline_on


def _applications(applications: kernels.Applications, on: int) -> kernels.Applications:
    group_of_named, start, applied_on, amount, value_on, reversed_on = applications
    return (
        group_of_named,
        start,
        _cut(applied_on, on),
        amount,
        _cut(value_on, on),
        _cut(reversed_on, on),
    )


def _payments(payments: kernels.Payments, on: int) -> kernels.Payments:
    start, value_on, amount, currency, reversed_on = payments
    return start, _cut(value_on, on), amount, currency, _cut(reversed_on, on)


def _history(
    row_of_id: Int32s,
    selected: Bools,
    on: int,
    originator_id: Int32s,
    seq: Int64s,
    dated_on: Int32s,
    value: Int32s,
) -> kernels.History:
    """A dated history's entries dated by ``on``, by selected customer."""
    customer = row_of_id[originator_id] if len(originator_id) else _int32([])
    keep = (customer >= 0) & (dated_on <= on)
    keep[keep] = selected[customer[keep]]
    start, order = kernels.group(_int32(np.where(keep, customer, -1)), len(selected))
    return start, _int32(dated_on[order]), _int64(seq[order]), _int32(value[order])


def _int32(values: Any) -> Int32s:
    return np.ascontiguousarray(values, dtype=np.int32)


def _int64(values: Any) -> Int64s:
    return np.ascontiguousarray(values, dtype=np.int64)
