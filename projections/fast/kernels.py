"""Numba kernels of the columnar fast path: plain loops over NumPy arrays, compiled once and
cached on disk (``cache=True``), so a new process pays the compilation only the first time.

Each kernel restates one piece of a pure fold's sequential semantics (oldest instalment settled
first, disputed money taken off the oldest overdue parts, a promise judged from the payments in
its window) as a loop, because those rules are sequential by nature and a loop states them
exactly; ``fast_path`` prepares the arrays and is the public API. Invariant: every kernel is a
function of its inputs only and writes nothing but the output arrays it is given, each output
element by exactly one loop iteration in a fixed order, so a result never depends on how the
work was split between threads; a date of ``NO_DATE`` means "never" (not yet happened, or no
evaluation for this customer).

The portfolio is evaluated on one date, and for the customers an open promise holds (see
``fast_path``) once more on the day their earliest open promise was made: the one pass over
the movements keeps those of the invoices that may be held (a few), and the pass over invoices
does both evaluations at once, so each row is read once. The timeline kernels (the last
section, for ``fast_timeline``) evaluate one customer on any of its dates instead, with the
same building blocks.

The one exception to this package's "no I/O" rule is Numba's own: the compiled kernels are
cached in ``__pycache__`` beside this file (or where ``NUMBA_CACHE_DIR`` says) and Numba reads
its ``NUMBA_*`` settings. Neither changes a result; the code here reads and writes nothing.

Codes shared with ``fast_path`` come from ``codes``, derived from the enums and the rule table:
promise status is the index in ``PromiseStatus`` (``NOT_MADE`` before it was made), a rule the
index in ``TriggerRule``, a grade the index in ``Grade``. Numba compiles them in as constants
and keys its cache on this file only: see ``codes`` before changing an enum's order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from numba.core import cgutils, types
from numba.extending import intrinsic

from .codes import (
    BLACKLISTED,
    BROKEN,
    BROKEN_PROMISES,
    DAYS_PAST_DUE,
    FINANCE_FOLLOW_UP,
    FOCUSED_PURSUIT,
    IS_SET_RULES,
    KEPT,
    LEGAL_COLLECTION,
    MAJOR_UNIT_RULES,
    NOT_MADE,
    OPEN,
    OVERDUE_AMOUNT,
    OVERDUE_INVOICE_COUNT,
    PARTLY_KEPT,
    RISK_RATING,
    RULE_COUNT,
    SETTLE,
    SUPERSEDED,
    TIME_DRIVEN_RULES,
    WITHDRAWN,
)

F = TypeVar("F", bound=Callable[..., Any])

NO_DATE: Final = np.iinfo(np.int32).max
"""A date that never comes: an unresolved dispute, an unreversed payment, a skipped customer."""

RULES: Final = RULE_COUNT
"""Rows of a customer's reasons: one per rule code."""

SCRATCH: Final = 64
"""Payments a promise's window holds before ``judge`` needs a larger buffer than its thread's."""
CHUNKS_PER_THREAD: Final = 8
"""Work items per thread in the parallel passes: small enough to even out uneven chunks."""

Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def _kernel(function: F) -> F:
    """``numba.njit(cache=True)``, typed for mypy (numba ships no type hints)."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


def _inline(function: F) -> F:
    """``_kernel`` inlined into its callers (in Numba's IR): a call passes every array of its
    tuples, with a reference count taken and dropped on each, which shared between threads
    would cost more than the work."""
    return cast(F, numba.njit(cache=True, nogil=True, inline="always")(function))


def _parallel_kernel(function: F) -> F:
    """``_kernel`` whose ``numba.prange`` loops run on Numba's threads."""
    return cast(F, numba.njit(cache=True, nogil=True, parallel=True)(function))


@_kernel
def compiled_codes() -> tuple[int, ...]:
    """``codes.COMPILED`` as the cached kernels were compiled with it (see ``codes``)."""
    return (
        RULE_COUNT,
        DAYS_PAST_DUE,
        OVERDUE_AMOUNT,
        BROKEN_PROMISES,
        RISK_RATING,
        BLACKLISTED,
        OVERDUE_INVOICE_COUNT,
        TIME_DRIVEN_RULES,
        MAJOR_UNIT_RULES,
        IS_SET_RULES,
        NOT_MADE,
        OPEN,
        KEPT,
        PARTLY_KEPT,
        BROKEN,
        WITHDRAWN,
        SUPERSEDED,
        FINANCE_FOLLOW_UP,
        FOCUSED_PURSUIT,
        SETTLE,
        LEGAL_COLLECTION,
    )


def threads() -> int:
    """How many threads the parallel kernels split their work between (Numba's setting, read
    outside the kernels: read inside, it would keep them from being cached)."""
    return int(numba.get_num_threads())


@_kernel
def index_rows(originator_id: Int32s, row_of_id: Int32s) -> None:
    """Write each id's row into ``row_of_id`` (what ``row_of_id[ids] = arange`` does, without
    the arange: millions of rows)."""
    for row in range(originator_id.shape[0]):
        row_of_id[originator_id[row]] = row


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
def link(row_of_id: Int32s, originator_id: Int32s, first: Int32s) -> Int32s:
    """next: the rows of each group (the row of each originator) as a chain in row order,
    ``first[g]``, ``next[first[g]]``, ... until -1; rows of unknown originators left out. For
    few rows over many groups, where ``group`` would cost a long ``start`` array. ``first``
    comes filled with -1 (NumPy's allocation of a long array is the faster)."""
    after = np.full(originator_id.shape[0], -1, np.int32)
    for row in range(originator_id.shape[0] - 1, -1, -1):
        key = row_of_id[originator_id[row]]
        if key >= 0:
            after[row] = first[key]
            first[key] = row
    return after


@_kernel
def match_resolutions(
    row_of_id: Int32s,
    first: Int32s,
    after: Int32s,
    originator_id: Int32s,
    resolved_on: Int32s,
    resolved_on_out: Int32s,
    ambiguous_out: Bools,
) -> None:
    """Date each dispute resolved (``resolved_on_out``, by dispute row), for resolutions whose
    invoice has one dispute: a resolution names a dispute of its invoice, so that one. Where an
    invoice has several, ``ambiguous_out`` marks the resolution, to be matched by reference."""
    for row in range(originator_id.shape[0]):
        invoice = row_of_id[originator_id[row]]
        dispute = first[invoice] if invoice >= 0 else -1
        assert dispute >= 0, "a dispute resolved before it was opened"
        if after[dispute] < 0:
            resolved_on_out[dispute] = resolved_on[row]
        else:
            ambiguous_out[row] = True


NAMED: Final = 1
"""``marks`` bit of an invoice some promise names: its applications are gathered by invoice."""
HELD: Final = 2
"""``marks`` bit of an invoice whose customer may have an open promise on the date: its
movements are kept, to be settled again on the day that promise was made."""


@_parallel_kernel
def invoice_customers(
    threads: int,
    row_of_id: Int32s,
    customer_id: Int32s,
    candidate: Bools,
    customer_out: Int32s,
    marks_out: npt.NDArray[np.int8],
    settled_minor_since_out: Int64s,
) -> None:
    """Each invoice's customer row, and ``HELD`` in ``marks_out`` for the invoices of a
    ``candidate`` customer (no other bit set), whose ``settled_minor_since_out`` it zeroes (for
    ``settle_since``; the other entries are never read)."""
    count = customer_id.shape[0]
    chunks = max(1, min(count // 65536, threads * CHUNKS_PER_THREAD))
    for chunk in numba.prange(chunks):
        for invoice in range(count * chunk // chunks, count * (chunk + 1) // chunks):
            customer = row_of_id[customer_id[invoice]]
            customer_out[invoice] = customer
            if customer >= 0 and candidate[customer]:
                marks_out[invoice] = HELD
                settled_minor_since_out[invoice] = 0
            else:
                marks_out[invoice] = 0


@_parallel_kernel
def settle(
    threads: int,
    invoice_of_id: Int32s,
    originator_id: Int32s,
    on: Int32s,
    amount_minor: Int64s,
    sign: int,
    as_of: int,
    marks: npt.NDArray[np.int8],
    group_of_invoice: Int32s,
    settled_minor: Int64s,
    named_rows_out: Int64s,
    named_groups_out: Int32s,
    held_invoice_out: Int32s,
    held_on_out: Int32s,
    held_minor_out: Int64s,
    counts: Int64s,
) -> None:
    """Add each movement dated on or before ``as_of`` to what its invoice has settled
    (``sign`` -1 for a movement that reopens). On the way, one read of ``marks`` per row: the
    rows of ``NAMED`` invoices go to ``named_rows_out`` with their group in ``named_groups_out``
    (a zero-length buffer: none gathered), and the movements of ``HELD`` invoices dated by
    ``as_of`` (invoice, date, signed amount) to the ``held_`` buffers.

    ``counts`` has one row per part: part ``p`` takes the rows of the ``p``-th range of
    invoices (every part reads every row, and adds only its own), so each invoice's sum is
    added by one thread, and writes its gatherings in row order from ``counts[p]`` on (regions
    of the buffers given to it, as long as all its rows could need).
    """
    parts = counts.shape[0]
    invoice_count = settled_minor.shape[0]
    for part in numba.prange(parts):
        low = invoice_count * part // parts
        high = invoice_count * (part + 1) // parts
        counts[part, 0], counts[part, 1] = settle_part(
            low,
            high,
            invoice_of_id,
            originator_id,
            on,
            amount_minor,
            sign,
            as_of,
            marks,
            group_of_invoice,
            settled_minor,
            named_rows_out,
            named_groups_out,
            held_invoice_out,
            held_on_out,
            held_minor_out,
            counts[part, 0],
            counts[part, 1],
        )


@_kernel
def settle_part(
    low: int,
    high: int,
    invoice_of_id: Int32s,
    originator_id: Int32s,
    on: Int32s,
    amount_minor: Int64s,
    sign: int,
    as_of: int,
    marks: npt.NDArray[np.int8],
    group_of_invoice: Int32s,
    settled_minor: Int64s,
    named_rows_out: Int64s,
    named_groups_out: Int32s,
    held_invoice_out: Int32s,
    held_on_out: Int32s,
    held_minor_out: Int64s,
    named: int,
    held: int,
) -> tuple[int, int]:
    """``settle`` for the invoices in rows ``low`` to ``high``, from the buffers' entries
    ``named`` and ``held`` on: their next free entries after it. Called alone (one part, no
    threads to start) for a small log."""
    with_named = named_rows_out.shape[0] > 0
    # One unsigned comparison tells rows of other parts (and of unknown invoices, -1) apart:
    # two signed ones made the loop a third slower.
    span = np.uint64(high - low)
    base = np.uint64(low)
    for row in range(originator_id.shape[0]):
        local = np.uint64(np.int64(invoice_of_id[originator_id[row]]) - low)
        if local >= span:
            continue
        invoice = local + base
        day = on[row]
        mark = marks[invoice]
        if day <= as_of:
            amount = sign * amount_minor[row]
            settled_minor[invoice] += amount
            if mark & HELD:
                held_invoice_out[held] = invoice
                held_on_out[held] = day
                held_minor_out[held] = amount
                held += 1
        if with_named and mark & NAMED:
            named_rows_out[named] = row
            named_groups_out[named] = group_of_invoice[invoice]
            named += 1
    return named, held


@_kernel
def settle_since(
    held_invoice: Int32s,
    held_on: Int32s,
    held_minor: Int64s,
    customer_of_invoice: Int32s,
    since_by_customer: Int32s,
    settled_minor_since: Int64s,
) -> None:
    """Add to what each ``HELD`` invoice had settled on its customer's ``since_by_customer``
    date (when not ``NO_DATE``) the kept movements (``settle``) dated by then; the entries of
    ``HELD`` invoices come zeroed (``invoice_customers``), the others are never read."""
    for entry in range(held_invoice.shape[0]):
        invoice = held_invoice[entry]
        limit = since_by_customer[customer_of_invoice[invoice]]
        if limit != NO_DATE and held_on[entry] <= limit:
            settled_minor_since[invoice] += held_minor[entry]


@_inline
def _newer(on: int, seq: int, limit: int, seq_best: int) -> bool:
    """An entry of a dated history dated by ``limit`` (``NO_DATE``: no date asked) recorded
    after the best so far: on a date, the last recorded entry dated by then holds."""
    return limit != NO_DATE and on <= limit and seq > seq_best


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
        if _newer(on[row], seq[row], on_by_customer[customer], seq_best[customer]):
            seq_best[customer] = seq[row]
            value_best[customer] = value[row]


Disputes = tuple[Int32s, Int32s, Int64s, Int32s, Int32s]
"""By invoice (first, next chains), amount, opened on, resolved on."""
Schedule = tuple[Int64s, Int32s, Int32s, Int64s, Int32s, Int64s]
"""Per invoice: amount, issued on, due on, instalment offsets, instalment due on and amount."""


@_inline
def _disputed(disputes: Disputes, invoice: int, on: int) -> int:
    """What is in dispute on ``invoice`` on ``on``: opened by then, not resolved by then."""
    first, after, amount_minor, opened_on, resolved_on = disputes
    total = 0
    dispute = first[invoice]
    while dispute >= 0:
        if opened_on[dispute] <= on and resolved_on[dispute] > on:
            total += amount_minor[dispute]
        dispute = after[dispute]
    return total


@_inline
def _bucket(basis_days: int, edges_days: Int64s) -> int:
    if basis_days <= 0:
        return 0
    for edge in range(edges_days.shape[0]):
        if basis_days <= edges_days[edge]:
            return edge + 1
    return int(edges_days.shape[0] + 1)


@_inline
def _age(
    invoice: int,
    on: int,
    open_amount: int,
    uncounted: int,
    schedule: Schedule,
    ageing: bool,
    edges_days: Int64s,
    issue_basis: bool,
    customer: int,
    customer_buckets_out: Int64s,
    buckets_out: Int64s,
) -> tuple[int, int, int]:
    """(overdue, days past due, ageing days) of an invoice with ``open_amount`` open on
    ``on``, part by part, ``uncounted`` (disputed money the policy does not count) taken off
    the oldest overdue parts; with ``ageing``, adds its ageing buckets to
    ``customer_buckets_out[customer]`` (when it has columns) and to ``buckets_out[invoice]``
    (when it has rows)."""
    amount_minor, issued_on, due_on, offsets, part_due_on_of, part_amount_of = schedule
    width = customer_buckets_out.shape[1] if ageing else 0
    with_buckets = buckets_out.shape[0] > 0
    amount = amount_minor[invoice]
    remaining = amount - open_amount
    first = offsets[invoice]
    last = offsets[invoice + 1]
    parts = last - first if last > first else 1
    overdue = 0
    days_max = 0
    ageing_days_max = 0
    for part in range(parts):
        if last > first:
            part_due_on = part_due_on_of[first + part]
            part_amount = part_amount_of[first + part]
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
            index = _bucket(basis_days, edges_days)
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
    return overdue, days_max, ageing_days_max


@_inline
def _overdue(
    invoice: int,
    on: int,
    open_amount: int,
    disputed_counts: bool,
    schedule: Schedule,
    disputes: Disputes,
    edges_days: Int64s,
    no_buckets: Int64s,
) -> tuple[int, int]:
    """(overdue, days past due) of an invoice with ``open_amount`` open on ``on``, without
    what is in dispute then (at most what is open) unless the policy counts disputed money;
    no ageing (``no_buckets`` has no rows)."""
    disputed = min(_disputed(disputes, invoice, on), open_amount)
    overdue, days, _ = _age(
        invoice,
        on,
        open_amount,
        0 if disputed_counts else disputed,
        schedule,
        False,
        edges_days,
        False,
        0,
        no_buckets,
        no_buckets,
    )
    return overdue, days


@_parallel_kernel
def invoice_pass(
    threads: int,
    customer_of_invoice: Int32s,
    as_of: int,
    disputed_counts: bool,
    since_by_customer: Int32s,
    disputed_counts_since: Bools,
    schedule: Schedule,
    settled_minor: Int64s,
    settled_minor_since: Int64s,
    disputes: Disputes,
    edges_days: Int64s,
    issue_basis: bool,
    open_out: Int64s,
    disputed_out: Int64s,
    overdue_out: Int64s,
    days_out: Int32s,
    ageing_days_out: Int32s,
    buckets_out: Int64s,
    customer_out: Int64s,
    customer_buckets_out: Int64s,
    customer_since_out: Int64s,
) -> None:
    """Per invoice on ``as_of``: what is open, disputed, overdue and counted, days past due,
    and the ageing buckets; summed per customer. For the invoices of a customer with a
    ``since_by_customer`` date, also its overdue amount and days past due on that date
    (``disputed_counts_since`` of the policy then; no ageing), summed per customer.

    ``settled_minor`` (and ``_since``) come from ``settle`` (and ``settle_since``); each may
    be the same array as an output (``open_out``, ``disputed_out``): an invoice's entry is read
    before its outputs are written. ``buckets_out`` (per-invoice
    buckets: 8 bytes per bucket per invoice) may have no rows. ``customer_out`` columns: open,
    disputed, overdue, days past due max, ageing days max, invoices with overdue money;
    ``customer_since_out``: overdue, days past due max, invoices with overdue money. Each
    thread takes the invoices of one range of customers, so every customer's sums are added by
    one thread, in invoice order.
    """
    customer_count = customer_out.shape[0]
    ranges = threads if customer_count >= 1024 * threads else 1
    for part in numba.prange(ranges):
        _invoices(
            customer_count * part // ranges,
            customer_count * (part + 1) // ranges,
            customer_of_invoice,
            as_of,
            disputed_counts,
            since_by_customer,
            disputed_counts_since,
            schedule,
            settled_minor,
            settled_minor_since,
            disputes,
            edges_days,
            issue_basis,
            open_out,
            disputed_out,
            overdue_out,
            days_out,
            ageing_days_out,
            buckets_out,
            customer_out,
            customer_buckets_out,
            customer_since_out,
        )


@_kernel
def _invoices(
    low: int,
    high: int,
    customer_of_invoice: Int32s,
    as_of: int,
    disputed_counts: bool,
    since_by_customer: Int32s,
    disputed_counts_since: Bools,
    schedule: Schedule,
    settled_minor: Int64s,
    settled_minor_since: Int64s,
    disputes: Disputes,
    edges_days: Int64s,
    issue_basis: bool,
    open_out: Int64s,
    disputed_out: Int64s,
    overdue_out: Int64s,
    days_out: Int32s,
    ageing_days_out: Int32s,
    buckets_out: Int64s,
    customer_out: Int64s,
    customer_buckets_out: Int64s,
    customer_since_out: Int64s,
) -> None:
    """``invoice_pass`` for the invoices of the customers in rows ``low`` to ``high``."""
    amount_minor, issued_on = schedule[0], schedule[1]
    no_buckets = customer_buckets_out[:0]
    # One unsigned comparison tells invoices of other parts apart (as in ``settle_part``).
    span = np.uint64(high - low)
    for invoice in range(customer_of_invoice.shape[0]):
        customer = customer_of_invoice[invoice]
        if np.uint64(np.int64(customer) - low) >= span:
            assert customer >= 0, "an invoice of an unknown customer"
            continue
        # Read before any output of this invoice is written: the settled amounts may share
        # their arrays with outputs (see ``invoice_pass``).
        since = since_by_customer[customer]
        with_since = since != NO_DATE and issued_on[invoice] <= since
        open_since = amount_minor[invoice] - settled_minor_since[invoice] if with_since else 0
        open_amount = 0
        disputed = 0
        overdue = 0
        days_max = 0
        ageing_days_max = 0
        if issued_on[invoice] <= as_of:
            open_amount = amount_minor[invoice] - settled_minor[invoice]
        if open_amount > 0:
            assert open_amount <= amount_minor[invoice]
            disputed = min(_disputed(disputes, invoice, as_of), open_amount)
            overdue, days_max, ageing_days_max = _age(
                invoice,
                as_of,
                open_amount,
                0 if disputed_counts else disputed,
                schedule,
                True,
                edges_days,
                issue_basis,
                customer,
                customer_buckets_out,
                buckets_out,
            )
            customer_out[customer, 0] += open_amount
            customer_out[customer, 1] += disputed
            customer_out[customer, 2] += overdue
            customer_out[customer, 3] = max(customer_out[customer, 3], days_max)
            customer_out[customer, 4] = max(customer_out[customer, 4], ageing_days_max)
            if overdue > 0:
                customer_out[customer, 5] += 1
        else:
            assert open_amount == 0
        open_out[invoice] = open_amount
        disputed_out[invoice] = disputed
        overdue_out[invoice] = overdue
        days_out[invoice] = days_max
        ageing_days_out[invoice] = ageing_days_max
        if not with_since:
            continue
        if open_since > 0:
            assert open_since <= amount_minor[invoice]
            overdue, days_max = _overdue(
                invoice,
                since,
                open_since,
                disputed_counts_since[customer],
                schedule,
                disputes,
                edges_days,
                no_buckets,
            )
            customer_since_out[customer, 0] += overdue
            customer_since_out[customer, 1] = max(customer_since_out[customer, 1], days_max)
            if overdue > 0:
                customer_since_out[customer, 2] += 1
        else:
            assert open_since == 0


Promises = tuple[
    Int32s, Int32s, Int64s, Int32s, Int32s, Int32s, Int32s, Int64s, Int32s, Int64s, Int64s
]
"""customer, made on, amount, currency, withdrawn on, superseded on, promised on, named invoices
(offsets, invoice rows), tranches (offsets, amount): every promise has at least one tranche (a
promise of one date: its whole amount on its date). The deadlines that go with them are per
tranche, in the same order."""
Applications = tuple[Int32s, Int64s, Int32s, Int64s, Int32s, Int32s]
"""The payment applications to the invoices promises name, grouped by invoice: the group of
each named invoice (per ``Promises`` named-invoice entry; -1: an unknown invoice), then per
group (start), then per application in its group: applied on, amount, and its payment's value
on and reversed on (``NO_DATE`` for an unknown payment, which never counts). Gathered once,
so that judging a promise reads its applications in one run."""
Payments = tuple[Int64s, Int32s, Int64s, Int32s, Int32s]
"""The payments of the customers with a promise naming no invoice, grouped by payer: per
customer (start), then per payment in its group: value on, amount, currency, reversed on."""


@_kernel
def named_groups(
    invoice_rows: Int32s, marks: npt.NDArray[np.int8], group_of_invoice: Int32s
) -> tuple[Int32s, int]:
    """(group of each named-invoice entry, groups): one group per invoice some promise names
    (-1: an unknown invoice), numbered in order of first naming, so that promises judged in
    table order read the groups in about that order. Sets ``NAMED`` in ``marks`` and writes
    ``group_of_invoice`` of the named invoices (its other entries are never read)."""
    group_of_named = np.full(invoice_rows.shape[0], -1, np.int32)
    groups = 0
    for named in range(invoice_rows.shape[0]):
        invoice = invoice_rows[named]
        if invoice < 0:
            continue
        if not marks[invoice] & NAMED:
            marks[invoice] |= NAMED
            group_of_invoice[invoice] = groups
            groups += 1
        group_of_named[named] = group_of_invoice[invoice]
    return group_of_named, groups


@_kernel
def group_applications(
    groups: int,
    rows: Int64s,
    group_of_row: Int32s,
    row_of_id: Int32s,
    payment_id: Int32s,
    applied_on: Int32s,
    amount_minor: Int64s,
    value_on: Int32s,
    reversed_on: Int32s,
) -> tuple[Int64s, Int32s, Int64s, Int32s, Int32s]:
    """The applications of each group's invoice (``named_groups``), in row order: (start,
    applied on, amount, payment value on, payment reversed on). ``rows`` and ``group_of_row``:
    the applications to named invoices and their groups, in row order (``settle`` gathers
    them); a counting sort of those alone."""
    start = np.zeros(groups + 1, np.int64)
    for entry in range(rows.shape[0]):
        start[group_of_row[entry] + 1] += 1
    for key in range(groups):
        start[key + 1] += start[key]
    fill = start[:-1].copy()
    size = start[groups]
    slot_applied_on = np.empty(size, np.int32)
    slot_amount = np.empty(size, np.int64)
    slot_value_on = np.empty(size, np.int32)
    slot_reversed_on = np.empty(size, np.int32)
    for entry in range(rows.shape[0]):
        row = rows[entry]
        key = group_of_row[entry]
        slot = fill[key]
        fill[key] += 1
        slot_applied_on[slot] = applied_on[row]
        slot_amount[slot] = amount_minor[row]
        payment = row_of_id[payment_id[row]]
        slot_value_on[slot] = value_on[payment] if payment >= 0 else NO_DATE
        slot_reversed_on[slot] = reversed_on[payment] if payment >= 0 else NO_DATE
    return start, slot_applied_on, slot_amount, slot_value_on, slot_reversed_on


@_kernel
def group_payments(
    row_of_id: Int32s,
    wanted: Bools,
    customer_count: int,
    payer_id: Int32s,
    value_on: Int32s,
    amount_minor: Int64s,
    currency: Int32s,
    reversed_on: Int32s,
) -> tuple[Int64s, Int32s, Int64s, Int32s, Int32s]:
    """The payments of each ``wanted`` customer, in row order: (start, value on, amount,
    currency, reversed on)."""
    keys = np.empty(payer_id.shape[0], np.int32)
    for row in range(payer_id.shape[0]):
        customer = row_of_id[payer_id[row]]
        keys[row] = customer if customer >= 0 and wanted[customer] else -1
    start, order = group(keys, customer_count)
    size = order.shape[0]
    slot_value_on = np.empty(size, np.int32)
    slot_amount = np.empty(size, np.int64)
    slot_currency = np.empty(size, np.int32)
    slot_reversed_on = np.empty(size, np.int32)
    for slot in range(size):
        row = order[slot]
        slot_value_on[slot] = value_on[row]
        slot_amount[slot] = amount_minor[row]
        slot_currency[slot] = currency[row]
        slot_reversed_on[slot] = reversed_on[row]
    return start, slot_value_on, slot_amount, slot_currency, slot_reversed_on


@_inline
def _window(
    promise: int,
    on: int,
    window_end: int,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    dates: Int32s,
    amounts: Int64s,
) -> tuple[int, int]:
    """(how many, total) of the movements counting toward the promise: applications to its
    named invoices, else its customer's payments in its currency, from the day it was made to
    ``window_end``, and not reversed by ``on``. The first ones go into ``dates`` and
    ``amounts``, as many as they hold."""
    customer_of, made_on, currency_of, invoice_offsets = (
        promises[0],
        promises[1],
        promises[3],
        promises[7],
    )
    group_of_named, app_start, app_on, app_amount, app_value_on, app_reversed_on = applications
    pay_start, pay_value_on, pay_amount, pay_currency, pay_reversed_on = payments
    made = made_on[promise]
    room = dates.shape[0]
    first = invoice_offsets[promise]
    last = invoice_offsets[promise + 1]
    found = 0
    paid = 0
    if last > first:
        for named in range(first, last):
            key = group_of_named[named]
            if key < 0:
                continue
            for slot in range(app_start[key], app_start[key + 1]):
                applied_on = app_on[slot]
                if not made <= applied_on <= window_end:
                    continue
                if app_value_on[slot] <= on and app_reversed_on[slot] > on:
                    if found < room:
                        dates[found] = applied_on
                        amounts[found] = app_amount[slot]
                    paid += app_amount[slot]
                    found += 1
    else:
        customer = customer_of[promise]
        currency = currency_of[promise]
        for slot in range(pay_start[customer], pay_start[customer + 1]):
            value_on = pay_value_on[slot]
            if pay_currency[slot] != currency or not made <= value_on <= window_end:
                continue
            if value_on <= on and pay_reversed_on[slot] > on:
                if found < room:
                    dates[found] = value_on
                    amounts[found] = pay_amount[slot]
                paid += pay_amount[slot]
                found += 1
    return found, paid


@_inline
def _sift_dated(dates: Int32s, amounts: Int64s, size: int, position: int) -> None:
    """Restore the heap of the first ``size`` movements, latest on top, below ``position``."""
    day = dates[position]
    value = amounts[position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and dates[child + 1] > dates[child]:
            child += 1
        if dates[child] <= day:
            break
        dates[position] = dates[child]
        amounts[position] = amounts[child]
        position = child
    dates[position] = day
    amounts[position] = value


@_inline
def _reaching(dates: Int32s, amounts: Int64s, found: int, amount: int) -> int:
    """The first date on which the running total of the movements, in date order, reaches
    ``amount``: the smallest date whose movements up to it add up to ``amount``, whatever the
    order of movements of one date. Sorts the buffers' first ``found`` entries in place, by an
    insertion sort (a window holds a handful of movements) or, beyond ``SCRATCH``, a heap sort
    (allocating nothing, and quicker to compile than NumPy's sorts)."""
    if found <= SCRATCH:
        for index in range(1, found):
            day = dates[index]
            value = amounts[index]
            position = index - 1
            while position >= 0 and dates[position] > day:
                dates[position + 1] = dates[position]
                amounts[position + 1] = amounts[position]
                position -= 1
            dates[position + 1] = day
            amounts[position + 1] = value
    else:
        for position in range(found // 2 - 1, -1, -1):
            _sift_dated(dates, amounts, found, position)
        for end in range(found - 1, 0, -1):
            day = dates[end]
            value = amounts[end]
            dates[end] = dates[0]
            amounts[end] = amounts[0]
            dates[0] = day
            amounts[0] = value
            _sift_dated(dates, amounts, end, 0)
    running = 0
    for entry in range(found):
        running += amounts[entry]
        if running >= amount:
            return int(dates[entry])
    return NO_DATE


@_inline
def _window_reaching(
    promise: int,
    on: int,
    window_end: int,
    target: int,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    dates: Int32s,
    amounts: Int64s,
) -> tuple[int, int]:
    """(the money in the promise's window up to ``window_end``, the day its running total
    reached ``target``: ``NO_DATE`` when it did not)."""
    found = -1
    paid = 0
    # Once, or twice where the movements reaching the target are more than the buffers hold:
    # then into buffers of their own (one call site: ``_window`` is inlined once).
    while found < 0 or (paid >= target and found > dates.shape[0]):
        if found >= 0:
            dates = np.empty(found, np.int32)
            amounts = np.empty(found, np.int64)
        found, paid = _window(
            promise, on, window_end, promises, applications, payments, dates, amounts
        )
    reached_on = NO_DATE
    if paid >= target and found:
        reached_on = _reaching(dates, amounts, found, target)
    return paid, reached_on


@_inline
def _tranche_status(
    paid: int, reached_on: int, closed_on: int, withdrawn: bool, deadline_on: int, on: int
) -> int:
    """The status of money ``paid`` (in full on ``reached_on``) against a deadline on ``on``,
    as ``promises._status``: the same rules for every tranche."""
    if reached_on != NO_DATE and reached_on <= closed_on:
        return KEPT
    if closed_on <= min(on, deadline_on):
        return WITHDRAWN if withdrawn else SUPERSEDED
    if on <= deadline_on:
        return OPEN
    return PARTLY_KEPT if paid > 0 else BROKEN


@_inline
def judge(
    promise: int,
    on: int,
    deadline_on: Int32s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    dates: Int32s,
    amounts: Int64s,
) -> tuple[int, int, int]:
    """(status, paid, judged on) of one promise on ``on``, as ``promises.judge`` does: each
    tranche judged on its own deadline (``deadline_on``, per tranche), the promise broken the
    day after the first missed one, kept when every one is kept.

    Money counts from the day the promise was made to the earlier of a tranche's deadline and
    ``on``: applications to the named invoices, else the customer's payments in its currency;
    a payment reversed by ``on`` does not count. ``dates`` and ``amounts`` are scratch buffers
    (a window larger than they are gets buffers of its own).
    """
    made_on, withdrawn_on, superseded_on, tranche_offsets, tranche_amount = (
        promises[1],
        promises[4],
        promises[5],
        promises[9],
        promises[10],
    )
    made = made_on[promise]
    if made > on:
        return NOT_MADE, 0, NO_DATE
    withdrawn = withdrawn_on[promise] <= on
    closed_on = NO_DATE
    if withdrawn:
        closed_on = withdrawn_on[promise]
    elif superseded_on[promise] <= on:
        closed_on = superseded_on[promise]
    before = 0
    paid_total = 0
    missed_on = NO_DATE
    paid_from = NO_DATE
    kept_on = 0
    kept_all = True
    any_open = False
    closed_status = SUPERSEDED
    for tranche in range(tranche_offsets[promise], tranche_offsets[promise + 1]):
        amount = tranche_amount[tranche]
        deadline = deadline_on[tranche]
        money, reached_on = _window_reaching(
            promise,
            on,
            min(deadline, on),
            before + amount,
            promises,
            applications,
            payments,
            dates,
            amounts,
        )
        paid = min(max(money - before, 0), amount)
        status = _tranche_status(paid, reached_on, closed_on, withdrawn, deadline, on)
        paid_total += paid
        if paid > 0:
            paid_from = min(paid_from, deadline)
        if status == KEPT:
            kept_on = max(kept_on, reached_on)
        else:
            kept_all = False
            if status in (PARTLY_KEPT, BROKEN):
                missed_on = min(missed_on, deadline)
            elif status == OPEN:
                any_open = True
            else:
                closed_status = status
        before += amount
    # (No assertion here: one inside a prange loop keeps Numba from running it in parallel;
    # ``promise_schedule`` builds the tranches adding up to the promise.)
    if missed_on != NO_DATE:
        return (PARTLY_KEPT if paid_from <= missed_on else BROKEN), paid_total, missed_on + 1
    if kept_all:
        return KEPT, paid_total, kept_on
    if any_open:
        return OPEN, paid_total, NO_DATE
    return closed_status, paid_total, NO_DATE


@_parallel_kernel
def promise_pass(
    threads: int,
    on: int,
    deadline_on: Int32s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    status_out: npt.NDArray[np.int8],
    paid_out: Int64s,
    judged_on_out: Int32s,
) -> None:
    """Judge every promise on ``on`` against the deadlines given (per tranche): its status,
    what counts as paid, and the day it was judged (paid in full when kept, the day after the
    first missed tranche's deadline when partly kept or broken, else ``NO_DATE``)."""
    count = status_out.shape[0]
    chunks = max(1, min(count // 256, threads * CHUNKS_PER_THREAD))
    for chunk in numba.prange(chunks):
        dates = np.empty(SCRATCH, np.int32)
        amounts = np.empty(SCRATCH, np.int64)
        for promise in range(count * chunk // chunks, count * (chunk + 1) // chunks):
            status, paid, judged_on = judge(
                promise, on, deadline_on, promises, applications, payments, dates, amounts
            )
            status_out[promise] = status
            paid_out[promise] = paid
            judged_on_out[promise] = judged_on


@_inline
def _is_broken(status: int, partly_kept_counts: bool) -> bool:
    """A promise of this status counts as broken (partly kept ones where the policy says)."""
    return status == BROKEN or (status == PARTLY_KEPT and partly_kept_counts)


@_inline
def _tally(
    customer: int,
    on: int,
    deadline_on: Int32s,
    promise_start: Int64s,
    promise_order: Int64s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    partly_kept_counts: bool,
    dates: Int32s,
    amounts: Int64s,
    settled: tuple[Int32s, npt.NDArray[np.int8]],
) -> tuple[int, int]:
    """(how many count as broken, the day the earliest open one was made: ``NO_DATE`` when
    none is open) of the customer's promises judged on ``on``: from the day a promise's
    judgement no longer changes, its status then (``settled``: ``promise_settled``; with no
    entries, every promise is judged)."""
    made_on = promises[1]
    settled_from, settled_status = settled
    broken = 0
    since = NO_DATE
    for slot in range(promise_start[customer], promise_start[customer + 1]):
        promise = promise_order[slot]
        if made_on[promise] > on:
            continue  # not made yet: neither broken nor open
        if settled_from.shape[0] and on >= settled_from[promise]:
            status = int(settled_status[promise])
        else:
            status, _paid, _judged_on = judge(
                promise, on, deadline_on, promises, applications, payments, dates, amounts
            )
        if _is_broken(status, partly_kept_counts):
            broken += 1
        elif status == OPEN:
            since = min(since, made_on[promise])
    return broken, since


@_inline
def _settled_from(
    promise: int,
    deadline_on: int,
    promises: Promises,
    applications: Applications,
    payments: Payments,
) -> int:
    """The first day from which ``judge`` gives the promise one status whatever the day: past
    its deadline (the window is then fixed), its withdrawal or supersession, and the value
    date and reversal of every movement in its window (``NO_DATE``-dated facts never change
    anything); ``NO_DATE`` for a promise not made."""
    made = promises[1][promise]
    if made == NO_DATE or deadline_on == NO_DATE:
        return NO_DATE
    latest = max(made, deadline_on + 1)
    for closed_on in (promises[4][promise], promises[5][promise]):
        if closed_on != NO_DATE:
            latest = max(latest, closed_on)
    first = promises[7][promise]
    last = promises[7][promise + 1]
    if last > first:
        group_of_named, app_start, app_on, _, app_value_on, app_reversed_on = applications
        for named in range(first, last):
            key = group_of_named[named]
            if key < 0:
                continue
            for slot in range(app_start[key], app_start[key + 1]):
                if made <= app_on[slot] <= deadline_on:
                    for day in (app_on[slot], app_value_on[slot], app_reversed_on[slot]):
                        if day != NO_DATE:
                            latest = max(latest, day)
    else:
        pay_start, pay_value_on, _, _, pay_reversed_on = payments
        customer = promises[0][promise]
        for slot in range(pay_start[customer], pay_start[customer + 1]):
            if made <= pay_value_on[slot] <= deadline_on:
                latest = max(latest, pay_value_on[slot])
                if pay_reversed_on[slot] != NO_DATE:
                    latest = max(latest, pay_reversed_on[slot])
    return int(latest)


@_kernel
def promise_settled(
    low: int,
    high: int,
    rows: Int32s,
    promise_start: Int64s,
    promise_order: Int64s,
    deadline_on: Int32s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    settled_from: Int32s,
    settled_status: npt.NDArray[np.int8],
    dates: Int32s,
    amounts: Int64s,
) -> None:
    """Per promise of the customers ``rows[low:high]``: the day from which its judgement no
    longer changes (``_settled_from``) into ``settled_from`` and its status from then on into
    ``settled_status``; the other promises' entries are left as they are (``NO_DATE``: judged
    at every date). The timeline walk judges a customer's promises at each candidate date,
    most of them long settled: this way only the ones still open to change are judged again.
    A customer's promises are its own, so parts of the customers run on threads of their own
    (``dates`` and ``amounts``: scratch of the part's thread)."""
    tranche_offsets = promises[9]
    for at in range(low, high):
        customer = rows[at]
        for slot in range(promise_start[customer], promise_start[customer + 1]):
            promise = promise_order[slot]
            # Tranches in any order: the judgement is fixed once the latest deadline is past.
            first_tranche = tranche_offsets[promise]
            last_deadline = NO_DATE
            if tranche_offsets[promise + 1] > first_tranche:
                last_deadline = deadline_on[first_tranche]
                for tranche in range(first_tranche + 1, tranche_offsets[promise + 1]):
                    last_deadline = max(last_deadline, deadline_on[tranche])
            day = _settled_from(promise, last_deadline, promises, applications, payments)
            if day == NO_DATE:
                continue
            status, _paid, _judged_on = judge(
                promise, day, deadline_on, promises, applications, payments, dates, amounts
            )
            settled_from[promise] = day
            settled_status[promise] = status


@_parallel_kernel
def promise_summary(
    threads: int,
    status: npt.NDArray[np.int8],
    made_on: Int32s,
    partly_kept_counts: bool,
    promise_start: Int64s,
    promise_order: Int64s,
    broken_out: Int64s,
    since_out: Int32s,
) -> None:
    """Per customer, from its promises' statuses: how many count as broken and the day its
    earliest open promise was made (``NO_DATE``: none is open)."""
    count = broken_out.shape[0]
    chunks = max(1, min(count // 65536, threads * CHUNKS_PER_THREAD))
    for chunk in numba.prange(chunks):
        for customer in range(count * chunk // chunks, count * (chunk + 1) // chunks):
            broken = 0
            since = NO_DATE
            for slot in range(promise_start[customer], promise_start[customer + 1]):
                promise = promise_order[slot]
                code = status[promise]
                if _is_broken(code, partly_kept_counts):
                    broken += 1
                elif code == OPEN:
                    since = min(since, made_on[promise])
            broken_out[customer] = broken
            since_out[customer] = since


Triggers = tuple[Int64s, Int32s, Int32s, Int64s]
"""Per policy (start), then per trigger: level, rule, threshold."""


@_inline
def _levels(
    customer: int,
    policy: int,
    overdue: int,
    days: int,
    broken: int,
    rating: int,
    blacklisted: bool,
    overdue_invoices: int,
    minor_per_major: int,
    triggers: Triggers,
    reason_out: Int64s,
) -> tuple[int, int, int]:
    """(raw, time-driven, decision-driven) level of the policy's triggers that fire; each
    rule's firing trigger of the highest level into ``reason_out[customer]`` (when it has
    rows)."""
    trigger_start, trigger_level, trigger_rule, trigger_threshold = triggers
    with_reasons = reason_out.shape[0] > 0
    if with_reasons:
        for rule in range(RULES):
            reason_out[customer, rule, 0] = -1
    raw_level = 0
    time_level = 0
    decision_level = 0
    for trigger in range(trigger_start[policy], trigger_start[policy + 1]):
        level = trigger_level[trigger]
        rule = trigger_rule[trigger]
        threshold = trigger_threshold[trigger]
        # The rule's figure (0: nothing to measure), as ``escalation._measure``; then the
        # rule table's unit and comparison (``codes``' masks), as ``TriggerRuleSpec.fires``.
        # A rule without a branch here never fires (no raise inside the parallel loops):
        # tests/unit/test_trigger_rules.py fails for it.
        actual = 0
        if rule == DAYS_PAST_DUE:
            actual = days if overdue > 0 else 0
        elif rule == OVERDUE_AMOUNT:
            actual = overdue
        elif rule == BROKEN_PROMISES:
            actual = broken
        elif rule == RISK_RATING:
            actual = rating
        elif rule == BLACKLISTED:
            actual = 1 if blacklisted else 0
        elif rule == OVERDUE_INVOICE_COUNT:
            actual = overdue_invoices
        if (MAJOR_UNIT_RULES >> rule) & 1:
            threshold = threshold * minor_per_major
        # Comparison.IS_SET ignores the threshold; Comparison.AT_LEAST does not.
        if actual <= 0 or (not (IS_SET_RULES >> rule) & 1 and actual < threshold):
            continue
        raw_level = max(raw_level, level)
        if (TIME_DRIVEN_RULES >> rule) & 1:
            time_level = max(time_level, level)
        else:
            decision_level = max(decision_level, level)
        if with_reasons and reason_out[customer, rule, 0] < level:
            reason_out[customer, rule, 0] = level
            reason_out[customer, rule, 1] = threshold
            reason_out[customer, rule, 2] = actual
    return raw_level, time_level, decision_level


@_inline
def _held_level(time_level: int, cap: int, decision_level: int) -> int:
    """The level while an open promise holds time-driven escalation at ``cap``: decisions
    (rating, blacklist) are never held."""
    return max(min(time_level, cap), decision_level)


@_parallel_kernel
def customer_pass(
    threads: int,
    as_of: int,
    policy_now: int,
    since_by_customer: Int32s,
    policy_since: Int32s,
    currency_by_customer: Int32s,
    minor_per_major: Int64s,
    standing_by_customer: Int32s,
    adjust: Int64s,
    figures: Int64s,
    figures_since: Int64s,
    broken_by_customer: Int64s,
    rating_by_customer: Int32s,
    blacklisted_by_customer: Int32s,
    deadline_on: Int32s,
    promise_start: Int64s,
    promise_order: Int64s,
    promises: Promises,
    applications: Applications,
    payments: Payments,
    partly_kept_counts: Bools,
    triggers: Triggers,
    long_after_days: int,
    large_above_minor: Int64s,
    reason_out: Int64s,
    raw_level_out: Int64s,
    level_out: Int64s,
    level_cap_out: Int64s,
    grade_out: npt.NDArray[np.int8],
) -> None:
    """Per customer: the triggers on ``as_of``, and for a customer with a ``since_by_customer``
    date the time-driven level on that date (its promises judged then, under the policy then).

    ``figures`` holds ``invoice_pass``'s customer columns (overdue at 2, days past due at 3,
    invoices with overdue money at 5),
    ``figures_since`` its columns on the since date. ``reason_out[customer, rule]``: level,
    threshold, actual of the rule's firing trigger of the highest level (level -1: none fires).
    ``raw_level_out``: the level the triggers give; ``level_cap_out``: the time-driven level on
    the since date (-1: no since date), which caps the time-driven level; ``level_out``: the
    level, the capped time-driven level or the decision-driven one, whichever is higher, where
    there is a cap, then adjusted for the customer's standing (``adjust[policy, standing,
    level]``: ``EscalationPolicy.adjusted_level`` as a table); ``grade_out``: the 2x2 grade
    of the overdue amount (``large_above_minor`` by currency) and days past due
    (``long_after_days``), -1 when nothing is overdue.
    """
    no_reasons = reason_out[:0]
    count = since_by_customer.shape[0]
    chunks = max(1, min(count // 256, threads * CHUNKS_PER_THREAD))
    for chunk in numba.prange(chunks):
        dates = np.empty(SCRATCH, np.int32)
        amounts = np.empty(SCRATCH, np.int64)
        for customer in range(count * chunk // chunks, count * (chunk + 1) // chunks):
            currency = currency_by_customer[customer]
            per_major = minor_per_major[currency]
            overdue = figures[customer, 2]
            grade = -1
            if overdue > 0:
                large = overdue > large_above_minor[currency]
                if figures[customer, 3] > long_after_days:
                    grade = LEGAL_COLLECTION if large else SETTLE
                else:
                    grade = FOCUSED_PURSUIT if large else FINANCE_FOLLOW_UP
            grade_out[customer] = grade
            raw_level, time_level, decision_level = _levels(
                customer,
                policy_now,
                figures[customer, 2],
                figures[customer, 3],
                broken_by_customer[customer],
                rating_by_customer[customer],
                blacklisted_by_customer[customer] == 1,
                figures[customer, 5],
                per_major,
                triggers,
                reason_out,
            )
            raw_level_out[customer] = raw_level
            standing = standing_by_customer[customer]
            level_out[customer] = adjust[policy_now, standing, raw_level]
            level_cap_out[customer] = -1
            since = since_by_customer[customer]
            if since == NO_DATE:
                continue
            policy = policy_since[customer]
            broken, _ = _tally(
                customer,
                since,
                deadline_on,
                promise_start,
                promise_order,
                promises,
                applications,
                payments,
                partly_kept_counts[policy],
                dates,
                amounts,
                (dates[:0], np.zeros(0, np.int8)),
            )
            _, cap, _ = _levels(
                customer,
                policy,
                figures_since[customer, 0],
                figures_since[customer, 1],
                broken,
                0,
                False,
                figures_since[customer, 2],
                per_major,
                triggers,
                no_reasons,
            )
            level_cap_out[customer] = cap
            level_out[customer] = adjust[
                policy_now, standing, _held_level(time_level, cap, decision_level)
            ]


# Timelines: one customer on any date ------------------------------------------------------------
#
# The worklist and the escalation status need, per customer, the day its level was entered and
# the next threshold: its level evaluated on its own candidate dates, each on the facts dated
# by the query's date ``as_of`` alone (``escalation.narrow``), as ``fast_timeline`` says. The
# kernels below evaluate one customer on any date with the building blocks above, over each
# invoice's movements in date order with running sums (bisected) instead of ``settle``'s sums
# on one date, and over facts "cut" to ``as_of`` by ``fast_timeline``: a date after it is
# ``NO_DATE``, never. They are in this file because Numba's cache of a kernel is invalidated
# only by a change of the file it is in, not of the files whose functions it inlines.

Timelines = tuple[Int64s, Int32s, Int64s, Int32s]
"""Per invoice (start), then per kept movement in date order: its date, and what it and those
before it settled (a reopening counts negative); per invoice: the day from which nothing is
open (``NO_DATE``: no such day, or no movements kept)."""
Groups = tuple[Int64s, Int64s]
"""Rows by customer: customer ``c``'s in ``order[start[c]:start[c + 1]]`` (start, order)."""
History = tuple[Int64s, Int32s, Int64s, Int32s]
"""A dated history by customer: per customer (start), then per entry: dated on, ``seq``,
value."""
Steps = tuple[Int32s, Int32s, Bools, Bools, Bools]
"""The policy in force from each of some dates (ascending; before the first, policy 0, the
default), then per policy: disputed money counts, partly kept promises count as broken, open
promises suspend."""


class Facts(NamedTuple):
    """What the timeline kernels read, dated by ``as_of`` (later dates ``NO_DATE``)."""

    opened_on: Int32s
    """Per customer."""
    currency: Int32s
    """Per customer."""
    minor_per_major: Int64s
    """Per currency."""
    invoices: Groups
    """The customer's invoices issued by ``as_of``."""
    schedule: Schedule
    timelines: Timelines
    disputes: Disputes
    day_counts: Int64s
    """Days after a due date on which a level can change (``candidate_day_counts``)."""
    customer_payments: Payments
    """The payments of each customer, for their dates (uncut, currency not read)."""
    deadline_on: Int32s
    """Per promise tranche, under the policy versions effective by ``as_of``."""
    promise_start: Int64s
    promise_order: Int64s
    promises: Promises
    settled: tuple[Int32s, npt.NDArray[np.int8]]
    """Per promise: the day from which its judgement no longer changes, and its status then
    (``promise_settled``; ``NO_DATE``: judged at every date)."""
    applications: Applications
    payments: Payments
    ratings: History
    blacklists: History
    diagnoses: History
    """The diagnoses' type codes (ranked by date, then log order: ``_Prepared._diagnoses``)."""
    bankruptcies: History
    """Bankruptcies filed (value 1)."""
    frauds: History
    """Frauds suspected (value 1)."""
    adjust: Int64s
    """Per policy, standing and level: the adjusted level (``customer_pass``'s ``adjust``)."""
    steps: Steps
    effective_on: Int32s
    """Every policy version's effective date (by ``as_of``)."""
    triggers: Triggers


def _borrow(typingctx: Any, value: Any) -> Any:
    """The value (an array, or a tuple of them, nested or not) with no reference counts: the
    arrays' views with no owner, for which Numba's reference counting is a test of a null
    pointer, where otherwise every array a function unpacks from a tuple is counted (atomically)
    on each call of the inlined building blocks: several times the work of the rules.

    Only for arrays that outlive the kernel that borrows them (its arguments), and never for a
    value it returns or stores."""
    null = cast(Any, cgutils).get_null_value

    def borrow(context: Any, builder: Any, kind: Any, item: Any) -> Any:
        if isinstance(kind, types.Array):
            array = context.make_array(kind)(context, builder, value=item)
            array.meminfo = null(array.meminfo.type)
            array.parent = null(array.parent.type)
            return array._getvalue()
        if isinstance(kind, types.BaseTuple):
            items = [
                borrow(context, builder, element, builder.extract_value(item, index))
                for index, element in enumerate(cast(Any, kind))
            ]
            return context.make_tuple(builder, kind, items)
        return item

    def codegen(context: Any, builder: Any, signature: Any, arguments: Any) -> Any:
        return borrow(context, builder, signature.args[0], arguments[0])

    return value(value), codegen


V = TypeVar("V")
_borrowed = cast(Callable[[V], V], intrinsic(_borrow))


@_kernel
def timelines(
    held_invoice: Int32s, held_on: Int32s, held_minor: Int64s, amount_minor: Int64s
) -> Timelines:
    """The movements ``settle`` kept (of ``HELD`` invoices, dated by its date) as timelines:
    per invoice in date order, with running sums of what they settled."""
    invoice_count = amount_minor.shape[0]
    start, order = group(held_invoice, invoice_count)
    on = np.empty(order.shape[0], np.int32)
    settled = np.empty(order.shape[0], np.int64)
    closed_from = np.full(invoice_count, NO_DATE, np.int32)
    for invoice in range(invoice_count):
        first = start[invoice]
        last = start[invoice + 1]
        if last == first:
            continue
        # Insertion sort by date: an invoice has a handful of movements.
        for slot in range(first, last):
            day = held_on[order[slot]]
            amount = held_minor[order[slot]]
            position = slot - 1
            while position >= first and on[position] > day:
                on[position + 1] = on[position]
                settled[position + 1] = settled[position]
                position -= 1
            on[position + 1] = day
            settled[position + 1] = amount
        running = 0
        for slot in range(first, last):
            running += settled[slot]
            settled[slot] = running
        if running == amount_minor[invoice]:
            closed_from[invoice] = on[last - 1]
    return start, on, settled, closed_from


@_inline
def _settled_on(timelines: Timelines, invoice: int, on: int) -> int:
    """What the invoice's kept movements dated by ``on`` settled (a bisection)."""
    start, dates, settled, _ = timelines
    first = start[invoice]
    low = first
    high = start[invoice + 1]
    while low < high:
        middle = (low + high) // 2
        if dates[middle] <= on:
            low = middle + 1
        else:
            high = middle
    return settled[low - 1] if low > first else 0


@_kernel
def values_on(history: History, owner: Int32s, on: Int32s, default: int) -> Int32s:
    """Per item, its owner's dated history on the item's date (``_value_on``); ``default``
    for an item of no owner (-1)."""
    out = np.empty(owner.shape[0], np.int32)
    for item in range(owner.shape[0]):
        out[item] = default
        if owner[item] >= 0:
            out[item] = _value_on(history, owner[item], on[item], default)
    return out


@_inline
def _value_on(history: History, customer: int, on: int, default: int) -> int:
    """The customer's dated history on ``on`` (``latest`` for one customer on any date)."""
    start, dates, seq, value = history
    seq_best = -1
    result = default
    for slot in range(start[customer], start[customer + 1]):
        if _newer(dates[slot], seq[slot], on, seq_best):
            seq_best = seq[slot]
            result = value[slot]
    return result


@_inline
def _policy_on(on: int, steps: Steps) -> int:
    """The policy in force on ``on`` (a bisection of the dates it changes)."""
    dates, policy_at = steps[0], steps[1]
    low = 0
    high = dates.shape[0]
    while low < high:
        middle = (low + high) // 2
        if dates[middle] <= on:
            low = middle + 1
        else:
            high = middle
    return policy_at[low - 1] if low > 0 else 0


Owned = tuple[Int64s, Int32s, Int32s]
"""One customer's invoices, side by side (``_candidates`` writes them): row, issued on, and
the day from which nothing is open (``Timelines``); a customer with thousands of invoices has
most of them closed on any date, and this way they are passed over without reading a row."""

Sweep = tuple[Int32s, Int32s, Int32s, Int32s, Int64s]
"""The open invoices of one customer on the day last evaluated, kept as the walk moves from
date to date (``_sweep_to``): its ``Owned`` slots by issue date and by the day they close
(``_sort_owned``), the slots open then (``active``, unordered), each slot's place in it (-1:
not there), and (slots issued by the day, slots closed by it, how many are open).

Between two dates only the invoices issued or closed between them change: a customer with
22,000 invoices, a few hundred open at a time, is evaluated at each of its candidate dates over
those few hundred, where a pass over all of them at each date cost most of the worklist."""


@_inline
def _sort_owned(owned: Owned, size: int, sweep: Sweep) -> None:
    """Order the ``size`` invoices ``owned`` for ``_sweep_to``, with none open yet."""
    _, issued_on, closed_from = owned
    by_issued, by_closed, _, position, state = sweep
    by_issued[:size] = np.argsort(issued_on[:size])
    by_closed[:size] = np.argsort(closed_from[:size])
    position[:size] = -1
    state[:] = 0


@_inline
def _touch(slot: int, on: int, owned: Owned, sweep: Sweep, count: int) -> int:
    """Put the slot in or out of the open ones as it is open on ``on`` or not: the count."""
    issued_on, closed_from = owned[1], owned[2]
    active, position = sweep[2], sweep[3]
    place = position[slot]
    if issued_on[slot] <= on < closed_from[slot]:
        if place < 0:
            active[count] = slot
            position[slot] = count
            count += 1
    elif place >= 0:
        count -= 1
        moved = active[count]
        active[place] = moved
        position[moved] = place
        position[slot] = -1
    return count


@_inline
def _sweep_to(on: int, owned: Owned, size: int, sweep: Sweep) -> int:
    """Move the open invoices to those open on ``on`` (issued by it, not closed by it), from
    the day last swept to, later or earlier, touching only the invoices issued or closed in
    between: how many are open, in ``sweep``'s ``active``."""
    issued_on, closed_from = owned[1], owned[2]
    by_issued, by_closed, state = sweep[0], sweep[1], sweep[4]
    issued = state[0]
    closed = state[1]
    count = state[2]
    while issued > 0 and issued_on[by_issued[issued - 1]] > on:
        issued -= 1
        count = _touch(by_issued[issued], on, owned, sweep, count)
    while issued < size and issued_on[by_issued[issued]] <= on:
        count = _touch(by_issued[issued], on, owned, sweep, count)
        issued += 1
    while closed > 0 and closed_from[by_closed[closed - 1]] > on:
        closed -= 1
        count = _touch(by_closed[closed], on, owned, sweep, count)
    while closed < size and closed_from[by_closed[closed]] <= on:
        count = _touch(by_closed[closed], on, owned, sweep, count)
        closed += 1
    state[0] = issued
    state[1] = closed
    state[2] = count
    return int(count)


@_inline
def _figures_on(
    on: int,
    disputed_counts: bool,
    facts: Facts,
    owned: Owned,
    size: int,
    sweep: Sweep,
    no_edges: Int64s,
    no_buckets: Int64s,
) -> tuple[int, int, int]:
    """(overdue, days past due max, invoices with overdue money) of the ``size`` invoices
    ``owned`` on ``on`` (``invoice_pass``'s sums for one customer on any date): over the open
    ones ``_sweep_to`` keeps, or, with a ``sweep`` of no slots (the reference), over them all."""
    rows, issued_on, closed_from = owned
    amount_minor = facts.schedule[0]
    overdue = 0
    days_max = 0
    overdue_invoices = 0
    incremental = sweep[2].shape[0] > 0
    open_count = _sweep_to(on, owned, size, sweep) if incremental else size
    for place in range(open_count):
        slot = sweep[2][place] if incremental else place
        if issued_on[slot] > on or on >= closed_from[slot]:
            continue
        invoice = rows[slot]
        open_amount = amount_minor[invoice] - _settled_on(facts.timelines, invoice, on)
        if open_amount == 0:
            continue
        assert 0 < open_amount <= amount_minor[invoice]
        invoice_overdue, days = _overdue(
            invoice,
            on,
            open_amount,
            disputed_counts,
            facts.schedule,
            facts.disputes,
            no_edges,
            no_buckets,
        )
        overdue += invoice_overdue
        days_max = max(days_max, days)
        if invoice_overdue > 0:
            overdue_invoices += 1
    return overdue, days_max, overdue_invoices


@_inline
def _level_on(
    customer: int,
    on: int,
    facts: Facts,
    owned: Owned,
    size: int,
    sweep: Sweep,
    memo: Int64s,
    dates: Int32s,
    amounts: Int64s,
) -> int:
    """The customer's level on ``on`` (``customer_pass``'s for one customer on any date): the
    triggers of the policy in force then; while a promise is open and that policy suspends,
    the time-driven level held at what it was on the day the earliest open one was made.
    ``owned``: its ``size`` invoices (``_candidates``), ``sweep`` those open (``Sweep``).

    ``memo`` keeps that day and that level, the last computed (the next dates mostly share
    them); ``dates`` and ``amounts`` are ``judge``'s scratch buffers."""
    disputed_counts, partly_kept_counts, suspends = facts.steps[2], facts.steps[3], facts.steps[4]
    no_edges = facts.day_counts[:0]
    no_buckets = no_edges.reshape((0, 0))
    no_reasons = no_edges.reshape((0, RULES, 3))
    minor_per_major = facts.minor_per_major[facts.currency[customer]]
    day = on
    capping = False
    time_then = 0
    decision_then = 0
    level = -1
    # One evaluation in the loop (inlined once): of ``on``, then, where an open promise holds
    # the level and the memo has not the day it was made, of that day.
    while level < 0:
        policy = _policy_on(day, facts.steps)
        overdue, days, overdue_invoices = _figures_on(
            day, disputed_counts[policy], facts, owned, size, sweep, no_edges, no_buckets
        )
        broken, since = _tally(
            customer,
            day,
            facts.deadline_on,
            facts.promise_start,
            facts.promise_order,
            facts.promises,
            facts.applications,
            facts.payments,
            partly_kept_counts[policy],
            dates,
            amounts,
            facts.settled,
        )
        raw_level, time_level, decision_level = _levels(
            customer,
            policy,
            overdue,
            days,
            broken,
            _value_on(facts.ratings, customer, day, 0),
            _value_on(facts.blacklists, customer, day, 0) == 1,
            overdue_invoices,
            minor_per_major,
            facts.triggers,
            no_reasons,
        )
        if capping:
            memo[0] = day
            memo[1] = time_level
            level = _held_level(time_then, time_level, decision_then)
        elif since == NO_DATE or not suspends[policy]:
            level = raw_level
        elif memo[0] == since:
            level = _held_level(time_level, memo[1], decision_level)
        else:
            capping = True
            time_then = time_level
            decision_then = decision_level
            day = since
    # Adjusted for the standing on ``on`` itself (the loop may have moved to a promise's day).
    standing = (
        (_value_on(facts.diagnoses, customer, on, -1) + 1) * 2
        + _value_on(facts.bankruptcies, customer, on, 0)
    ) * 2 + _value_on(facts.frauds, customer, on, 0)
    adjusted: int = facts.adjust[_policy_on(on, facts.steps), standing, level]
    return adjusted


@_inline
def _push(buffer: Int32s, count: int, day: int, as_of: int, last: int) -> int:
    """Add ``day`` to the candidates, unless it is ``as_of`` or after ``last``, where the
    buffer has room: the count of those added, and of those that found no room."""
    if day == as_of or day > last:
        return count
    if count < buffer.shape[0]:
        buffer[count] = day
    return count + 1


@_inline
def _sift_down(heap: Int32s, start: int, size: int, position: int, sign: int) -> None:
    """Restore the heap ``heap[start:start + size]`` below ``position`` (``sign`` 1: the
    largest on top; -1: the smallest)."""
    value = heap[start + position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and sign * heap[start + child + 1] > sign * heap[start + child]:
            child += 1
        if sign * heap[start + child] <= sign * value:
            break
        heap[start + position] = heap[start + child]
        position = child
    heap[start + position] = value


@_inline
def _next_day(heap: Int32s, start: int, size: int, sign: int, previous: int) -> tuple[int, int]:
    """(the top of the heap other than ``previous``, ``NO_DATE`` when none is left; the heap's
    size without it and those equal to ``previous``)."""
    while size > 0:
        day = heap[start]
        size -= 1
        if size > 0:
            heap[start] = heap[start + size]
            _sift_down(heap, start, size, 0, sign)
        if day != previous:
            return day, size
    return NO_DATE, size


@_kernel
def _candidates(
    customer: int, buffer: Int32s, as_of: int, last: int, facts: Facts, owned: Owned
) -> tuple[int, int, int]:
    """The customer's candidate dates other than ``as_of`` and up to ``last``: those of
    ``escalation._Evaluator.candidate_dates`` on the facts dated by ``as_of``.

    (count, past, later): the ``past`` ones (before ``as_of``) in a heap at the start of the
    buffer, the latest on top, the ``later`` ones in a heap after them, the earliest on top;
    a date may be there more than once. A ``count`` beyond the buffer's length: it had no
    room for them all, and holds nothing that can be read. Writes the customer's invoices into
    ``owned`` (as long as the customer's invoices are many)."""
    _, issued_on, due_on, offsets, part_due_on, _ = facts.schedule
    timeline_start, timeline_on = facts.timelines[0], facts.timelines[1]
    first_dispute, after, _, opened_on, resolved_on = facts.disputes
    promises = facts.promises
    made_on, withdrawn_on, superseded_on = promises[1], promises[4], promises[5]
    tranche_offsets = promises[9]
    start, order = facts.invoices
    rows, owned_issued_on, owned_closed_from = owned
    count = _push(buffer, 0, facts.opened_on[customer], as_of, last)
    for slot in range(start[customer], start[customer + 1]):
        invoice = order[slot]
        rows[slot - start[customer]] = invoice
        owned_issued_on[slot - start[customer]] = issued_on[invoice]
        owned_closed_from[slot - start[customer]] = facts.timelines[3][invoice]
        count = _push(buffer, count, issued_on[invoice], as_of, last)
        for entry in range(timeline_start[invoice], timeline_start[invoice + 1]):
            count = _push(buffer, count, timeline_on[entry], as_of, last)
        first = offsets[invoice]
        final = offsets[invoice + 1]
        for part in range(final - first if final > first else 1):
            due = np.int64(part_due_on[first + part] if final > first else due_on[invoice])
            for days in facts.day_counts:
                count = _push(buffer, count, due + days, as_of, last)
        dispute = first_dispute[invoice]
        while dispute >= 0:
            if opened_on[dispute] != NO_DATE:
                count = _push(buffer, count, opened_on[dispute], as_of, last)
                if resolved_on[dispute] != NO_DATE:
                    count = _push(buffer, count, resolved_on[dispute], as_of, last)
            dispute = after[dispute]
    payment_start, value_on, _, _, reversed_on = facts.customer_payments
    for slot in range(payment_start[customer], payment_start[customer + 1]):
        if value_on[slot] <= as_of:
            count = _push(buffer, count, value_on[slot], as_of, last)
            if reversed_on[slot] <= as_of:
                count = _push(buffer, count, reversed_on[slot], as_of, last)
    for slot in range(facts.promise_start[customer], facts.promise_start[customer + 1]):
        promise = facts.promise_order[slot]
        if made_on[promise] == NO_DATE:
            continue
        count = _push(buffer, count, made_on[promise], as_of, last)
        for tranche in range(tranche_offsets[promise], tranche_offsets[promise + 1]):
            count = _push(buffer, count, facts.deadline_on[tranche] + 1, as_of, last)
        for closed_on in (withdrawn_on[promise], superseded_on[promise]):
            if closed_on != NO_DATE:
                count = _push(buffer, count, closed_on, as_of, last)
    for history in (
        facts.ratings,
        facts.blacklists,
        facts.diagnoses,
        facts.bankruptcies,
        facts.frauds,
    ):
        for slot in range(history[0][customer], history[0][customer + 1]):
            count = _push(buffer, count, history[1][slot], as_of, last)
    for day in facts.effective_on:
        count = _push(buffer, count, day, as_of, last)
    if count > buffer.shape[0]:
        return count, 0, 0
    # The past dates first, then the later ones, each as a heap: the walks take a few of each,
    # where sorting them all would cost more.
    past = 0
    for slot in range(count):
        day = buffer[slot]
        if day < as_of:
            buffer[slot] = buffer[past]
            buffer[past] = day
            past += 1
    for heap_start, size, sign in ((0, past, 1), (past, count - past, -1)):
        for position in range(size // 2 - 1, -1, -1):
            _sift_down(buffer, heap_start, size, position, sign)
    return count, past, count - past


CANDIDATES_SCRATCH: Final = 1024
"""Candidate dates a customer has before ``timeline_part`` needs a larger buffer than its
thread's (a customer has some tens)."""


@_kernel
def timeline_part(
    low: int,
    high: int,
    customers: Int32s,
    as_of: int,
    last: int,
    level_max: int,
    facts: Facts,
    level_out: Int64s,
    entered_on_out: Int32s,
    crossing_on_out: Int32s,
    crossing_level_out: Int64s,
    scratch: tuple[Int32s, Int32s, Int64s, Int64s, Owned, Sweep],
) -> None:
    """For ``customers[low:high]``: the level on ``as_of``; the day it was entered, walking
    back over the customer's candidate dates while the level holds (``NO_DATE`` at level 0);
    and the first candidate date after ``as_of``, up to ``last``, on which the level is higher,
    with that level (``NO_DATE`` and -1 where there is none; none is looked for at
    ``level_max``). ``scratch``: buffers for the candidates (``CANDIDATES_SCRATCH``), for
    ``judge`` (``SCRATCH`` dates and amounts), two entries for ``_level_on``'s memo, and
    ``Owned`` and ``Sweep`` as long as the most invoices a customer has (a ``Sweep`` of no
    slots: every invoice evaluated at every date, the reference the sweep is tested against)."""
    facts = _borrowed(facts)
    candidates, dates, amounts, memo, owned, sweep = _borrowed(scratch)
    incremental = sweep[2].shape[0] > 0
    customers = _borrowed(customers)
    for index in range(low, high):
        customer = customers[index]
        buffer = candidates
        count = -1
        while count < 0 or count > buffer.shape[0]:
            if count > buffer.shape[0]:
                buffer = np.empty(count, np.int32)
            count, past, later = _candidates(customer, buffer, as_of, last, facts, owned)
        size = facts.invoices[0][customer + 1] - facts.invoices[0][customer]
        if incremental:
            _sort_owned(owned, size, sweep)
        later_start = past
        memo[0] = NO_DATE
        level = -1
        entered_on = NO_DATE
        crossing_on = NO_DATE
        crossing_level = -1
        # One evaluation in the loop (inlined once): ``as_of``, then back from it while the
        # level holds, then ahead until it rises.
        day = as_of
        backward = True
        while day != NO_DATE:
            found = _level_on(customer, day, facts, owned, size, sweep, memo, dates, amounts)
            if level < 0:
                level = found
                backward = level > 0
                if backward:
                    entered_on = as_of
            elif backward:
                if found == level:
                    entered_on = day
                else:
                    backward = False
            elif found > level:
                crossing_on = day
                crossing_level = found
                break
            previous = day
            day = NO_DATE
            if backward:
                day, past = _next_day(buffer, 0, past, 1, previous)
                backward = day != NO_DATE
            if not backward and level < level_max:
                day, later = _next_day(buffer, later_start, later, -1, previous)
        level_out[index] = level
        entered_on_out[index] = entered_on
        crossing_on_out[index] = crossing_on
        crossing_level_out[index] = crossing_level
