"""The simplified ageing-and-grading query, written once per engine, for the fast-path benchmarks.

The query, precisely (as of the end of ``as_of``, under one ``EscalationPolicy``, default
thresholds unless given):

1. Per invoice (``InvoiceIssued``), what is settled by ``as_of``: the sum of its movements dated
   on or before ``as_of``, signed as ``projections/ageing.py``'s fold signs them. These reduce
   what is open: ``PaymentApplied`` (``applied_on``), ``CreditNoteApplied`` (``applied_on``),
   ``ConcessionApproved`` (``approved_on``), ``GoodsInLieuApplied`` (``applied_on``),
   ``InvoiceWrittenOff`` (``written_off_on``); these reopen it: ``PaymentUnapplied``
   (``unapplied_on``), ``InvoiceReinstated`` (``reinstated_on``). Open = amount - settled; an
   invoice issued after ``as_of`` is not open.
2. The due date is the one in force on ``as_of`` (``InvoiceFacts.due_on_at``): that of the
   invoice's last ``InvoiceDueDateOverridden`` (in recording order) with ``overridden_on`` on or
   before ``as_of``, else the issued ``due_on``. An invoice with instalments takes no override.
3. What is open ages part by part, exactly as ``ageing.invoice_buckets`` does: the parts are the
   instalments (the whole invoice on its ``due_on`` when it has none), settlements go to the
   oldest part first, and each open part is ``as_of - due_on`` days past due, bucketed by the
   policy's edges (0 or fewer: current; then 1-30, 31-60, 61-90, 91-120, over 120).
4. Per customer (rows only for customers with something open): open amount, bucket amounts,
   overdue amount (open minus the current bucket), the largest days past due of an open part
   (floored at zero), and the 2x2 grade of ``EscalationPolicy.grade``: long when the days past
   due exceed ``long_after_days``, large when overdue exceeds ``large_above_major`` major units of
   the customer's currency; no grade when nothing is overdue. Plus the bucket totals per
   currency.

What it leaves out of the full read models: disputes, owners, known-at (bitemporal) cut-offs and
policies adopted over time. So it is the ageing table by customer of ``ageing_report`` (minus the
disputed column) plus the grade, and the fold is its oracle.

Engines, each from the same ``ColumnarLog`` to the same ``CustomerAgeing``: a Numba kernel, NumPy
(``np.add.at``), a Polars lazy query and DuckDB SQL over the Arrow tables (registered without a
copy), plus the baselines: the fold over decoded events and one NumPy sum over exactly the
columns the query reads (the memory-bandwidth floor). And the product's fast path
(``projections/fast/portfolio.py``), which computes far more (escalation, promises, disputes) and is
held to the same answer. Benchmarks only: nothing in the product imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

import attrs
import duckdb
import numba
import numpy as np
import polars as pl
import pyarrow as pa

from arledger.adapters.persistence.store import quoted_identifier
from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import ColumnarLog, Columns, decode_policy
from arledger.domain.events import Event
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY, EscalationPolicy, Grade
from arledger.projections import ageing
from arledger.projections.fast import portfolio as fast_path

SETTLEMENTS: Final[dict[str, tuple[str, int]]] = {
    "PaymentApplied": ("applied_on", 1),
    "CreditNoteApplied": ("applied_on", 1),
    "ConcessionApproved": ("approved_on", 1),
    "GoodsInLieuApplied": ("applied_on", 1),
    "InvoiceWrittenOff": ("written_off_on", 1),
    "PaymentUnapplied": ("unapplied_on", -1),
    "InvoiceReinstated": ("reinstated_on", -1),
}
"""Movement class -> (its business date column, +1 if it reduces what is open, -1 if it reopens)."""

INVOICE_COLUMNS: Final = ("originator_id", "customer_id", "amount_minor", "issued_on", "due_on")
OVERRIDES: Final = "InvoiceDueDateOverridden"
OVERRIDE_COLUMNS: Final = ("originator_id", "due_on", "overridden_on")
SELECT: Final[dict[str, tuple[str, ...]]] = {
    "CustomerAccountOpened": ("originator_id", "currency"),
    "InvoiceIssued": (*INVOICE_COLUMNS, "instalments"),
    OVERRIDES: OVERRIDE_COLUMNS,
    **{name: ("originator_id", "amount_minor", on) for name, (on, _sign) in SETTLEMENTS.items()},
}
"""Every column the query reads, per class (what the bandwidth pass sums)."""

GRADES: Final = tuple(Grade)
"""Grade codes in results: the index here (2 * long + large), -1 for no grade."""
assert GRADES == (
    Grade.FINANCE_FOLLOW_UP,
    Grade.FOCUSED_PURSUIT,
    Grade.SETTLE,
    Grade.LEGAL_COLLECTION,
)
NO_GRADE: Final = -1


@attrs.frozen(kw_only=True)
class Query:
    """The query's parameters: the report date and the policy giving edges and thresholds."""

    as_of: date
    policy: EscalationPolicy = DEFAULT_ESCALATION_POLICY

    @property
    def as_of_day(self) -> int:
        return (self.as_of - columnar.EPOCH).days

    @property
    def edges(self) -> np.ndarray:
        return np.asarray(self.policy.ageing.edges_days, dtype=np.int64)

    @property
    def width(self) -> int:
        return len(self.policy.ageing.bucket_labels)

    def large_above_minor(self, currencies: Sequence[str]) -> np.ndarray:
        """The 'large' threshold per currency code (minor units), in the order given."""
        return np.asarray([self.policy.large_above_minor(c) for c in currencies], dtype=np.int64)


@attrs.frozen(kw_only=True, eq=False)
class CustomerAgeing:
    """The query's answer: one row per customer with something open, by ``customer_id``.

    ``customer_id`` is the customer's index in the log's ``ids`` table (ascending); arrays are
    aligned with it; ``buckets_minor`` has one column per bucket. ``totals_by_currency`` holds
    every currency with something open.
    """

    customer_id: np.ndarray
    currency: tuple[str, ...]
    open_minor: np.ndarray
    overdue_minor: np.ndarray
    days_past_due_max: np.ndarray
    grade: np.ndarray
    buckets_minor: np.ndarray
    totals_by_currency: dict[str, tuple[int, ...]]

    def __len__(self) -> int:
        return len(self.customer_id)

    def rows(self) -> list[tuple[Any, ...]]:
        """Plain Python rows, for comparing and for showing where two answers differ."""
        return [
            (
                int(self.customer_id[i]),
                self.currency[i],
                int(self.open_minor[i]),
                int(self.overdue_minor[i]),
                int(self.days_past_due_max[i]),
                int(self.grade[i]),
                tuple(int(x) for x in self.buckets_minor[i]),
            )
            for i in range(len(self))
        ]


def assert_same(expected: CustomerAgeing, actual: CustomerAgeing, *, label: str) -> None:
    """Fail with the first differing customer when two answers differ in any figure."""
    assert expected.totals_by_currency == actual.totals_by_currency, label
    assert len(expected) == len(actual), f"{label}: {len(expected)} != {len(actual)} customers"
    same = (
        np.array_equal(expected.customer_id, actual.customer_id)
        and expected.currency == actual.currency
        and np.array_equal(expected.open_minor, actual.open_minor)
        and np.array_equal(expected.overdue_minor, actual.overdue_minor)
        and np.array_equal(expected.days_past_due_max, actual.days_past_due_max)
        and np.array_equal(expected.grade, actual.grade)
        and np.array_equal(expected.buckets_minor, actual.buckets_minor)
    )
    if not same:
        pairs = zip(expected.rows(), actual.rows(), strict=True)
        first = next((pair for pair in pairs if pair[0] != pair[1]), None)
        raise AssertionError(f"{label}: first differing customer {first}")


def _finish(
    customer_id: np.ndarray,
    currency_code: np.ndarray,
    currencies: Sequence[str],
    open_minor: np.ndarray,
    buckets_minor: np.ndarray,
    days_past_due_max: np.ndarray,
    query: Query,
) -> CustomerAgeing:
    """Overdue, grade and totals from per-customer sums (any order); rows by ``customer_id``."""
    order = np.argsort(customer_id, kind="stable")
    customer_id = customer_id[order].astype(np.int64)
    currency_code = currency_code[order]
    open_minor = open_minor[order].astype(np.int64)
    buckets_minor = buckets_minor[order].astype(np.int64)
    days_past_due_max = np.maximum(days_past_due_max[order].astype(np.int64), 0)
    overdue_minor = open_minor - buckets_minor[:, 0]
    large = overdue_minor > query.large_above_minor(currencies)[currency_code]
    long = days_past_due_max > query.policy.long_after_days
    grade = np.where(overdue_minor > 0, 2 * long + large, NO_GRADE).astype(np.int64)
    totals: dict[str, tuple[int, ...]] = {}
    for code in np.unique(currency_code):
        summed = buckets_minor[currency_code == code].sum(axis=0)
        totals[currencies[int(code)]] = tuple(int(x) for x in summed)
    return CustomerAgeing(
        customer_id=customer_id,
        currency=tuple(currencies[int(code)] for code in currency_code),
        open_minor=open_minor,
        overdue_minor=overdue_minor,
        days_past_due_max=days_past_due_max,
        grade=grade,
        buckets_minor=buckets_minor,
        totals_by_currency=dict(sorted(totals.items())),
    )


# Columns shared by the NumPy and Numba engines ------------------------------------------------


def read_columns(log: ColumnarLog) -> Columns:
    """The NumPy columns the query reads (``columnar.columns`` with ``SELECT``)."""
    return columnar.columns(log, SELECT)


def column_bytes(cols: Columns) -> int:
    """Bytes in the arrays the query reads (what the bandwidth pass streams through)."""
    return sum(
        array.nbytes
        for per_class in cols.values()
        for array in per_class.values()
        if isinstance(array, np.ndarray)
    )


def _index_of(originator_id: np.ndarray, size: int) -> np.ndarray:
    """Row number per id index (-1 where the id is not a row of this table)."""
    index = np.full(size, -1, dtype=np.int32)
    index[originator_id] = np.arange(len(originator_id), dtype=np.int32)
    return index


def _id_count(cols: Columns) -> int:
    """One more than the largest id index the query reads (the lookup arrays' size)."""
    largest = [
        int(array.max())
        for per_class in cols.values()
        for name in ("originator_id", "customer_id")
        if (array := per_class.get(name)) is not None and len(array)
    ]
    return max(largest, default=-1) + 1


# Numba ----------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _settle_kernel(
    settled: np.ndarray,
    invoice_of_id: np.ndarray,
    originator_id: np.ndarray,
    amount_minor: np.ndarray,
    on_day: np.ndarray,
    as_of_day: int,
    sign: int,
) -> None:
    for k in range(originator_id.shape[0]):
        if on_day[k] <= as_of_day:
            settled[invoice_of_id[originator_id[k]]] += sign * amount_minor[k]


@numba.njit(cache=True, nogil=True)
def _override_kernel(
    due_on: np.ndarray,
    invoice_of_id: np.ndarray,
    originator_id: np.ndarray,
    new_due_on: np.ndarray,
    overridden_on: np.ndarray,
    as_of_day: int,
) -> None:
    for k in range(originator_id.shape[0]):  # recording order: the last override wins
        if overridden_on[k] <= as_of_day:
            due_on[invoice_of_id[originator_id[k]]] = new_due_on[k]


@numba.njit(cache=True, nogil=True)
def _bucket(days: int, edges: np.ndarray) -> Any:
    if days <= 0:
        return 0
    for index in range(edges.shape[0]):
        if days <= edges[index]:
            return index + 1
    return edges.shape[0] + 1


@numba.njit(cache=True, nogil=True)
def _age_kernel(
    customer_of_id: np.ndarray,
    invoice_customer_id: np.ndarray,
    invoice_amount: np.ndarray,
    invoice_issued: np.ndarray,
    invoice_due: np.ndarray,
    offsets: np.ndarray,
    part_due: np.ndarray,
    part_amount: np.ndarray,
    settled: np.ndarray,
    as_of_day: int,
    edges: np.ndarray,
    customers: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = edges.shape[0] + 2
    buckets = np.zeros((customers, width), dtype=np.int64)
    open_minor = np.zeros(customers, dtype=np.int64)
    days_max = np.zeros(customers, dtype=np.int64)
    for i in range(invoice_amount.shape[0]):
        if invoice_issued[i] > as_of_day:
            continue
        open_i = invoice_amount[i] - settled[i]
        if open_i == 0:
            continue
        c = customer_of_id[invoice_customer_id[i]]
        open_minor[c] += open_i
        start = offsets[i]
        end = offsets[i + 1]
        if start == end:
            days = as_of_day - invoice_due[i]
            buckets[c, _bucket(days, edges)] += open_i
            if days > days_max[c]:
                days_max[c] = days
            continue
        remaining = settled[i]
        for k in range(start, end):
            amount = part_amount[k]
            taken = min(remaining, amount)
            remaining -= taken
            part_open = amount - taken
            if part_open == 0:
                continue
            days = as_of_day - part_due[k]
            buckets[c, _bucket(days, edges)] += part_open
            if days > days_max[c]:
                days_max[c] = days
    return open_minor, buckets, days_max


def numba_from_columns(cols: Columns, query: Query) -> CustomerAgeing:
    """The Numba kernels over prepared columns (single-threaded, compiled once, cached)."""
    size = _id_count(cols)
    customers = cols["CustomerAccountOpened"]
    invoices = cols["InvoiceIssued"]
    invoice_of_id = _index_of(invoices["originator_id"], size)
    customer_of_id = _index_of(customers["originator_id"], size)
    settled = np.zeros(len(invoices["originator_id"]), dtype=np.int64)
    for name, (on, sign) in SETTLEMENTS.items():
        movements = cols[name]
        _settle_kernel(
            settled,
            invoice_of_id,
            movements["originator_id"],
            movements["amount_minor"],
            movements[on],
            query.as_of_day,
            sign,
        )
    due_on = invoices["due_on"].copy()
    overrides = cols[OVERRIDES]
    _override_kernel(
        due_on,
        invoice_of_id,
        overrides["originator_id"],
        overrides["due_on"].astype(due_on.dtype),
        overrides["overridden_on"],
        query.as_of_day,
    )
    open_minor, buckets, days_max = _age_kernel(
        customer_of_id,
        invoices["customer_id"],
        invoices["amount_minor"],
        invoices["issued_on"],
        due_on,
        invoices["instalments.offsets"],
        invoices["instalments.due_on"],
        invoices["instalments.amount_minor"],
        settled,
        query.as_of_day,
        query.edges,
        len(customers["originator_id"]),
    )
    rows = np.flatnonzero(open_minor)
    return _finish(
        customers["originator_id"][rows],
        customers["currency"][rows],
        customers["currency.dictionary"],
        open_minor[rows],
        buckets[rows],
        days_max[rows],
        query,
    )


def numba_engine(log: ColumnarLog, query: Query) -> CustomerAgeing:
    """Numba, from the columnar log (the column extraction included)."""
    return numba_from_columns(read_columns(log), query)


# NumPy ----------------------------------------------------------------------------------------


def numpy_from_columns(cols: Columns, query: Query) -> CustomerAgeing:
    """Whole-array NumPy: ``np.add.at`` for the sums (exact int64, unlike float ``bincount``)."""
    as_of_day = query.as_of_day
    size = _id_count(cols)
    customers = cols["CustomerAccountOpened"]
    invoices = cols["InvoiceIssued"]
    invoice_of_id = _index_of(invoices["originator_id"], size)
    customer_of_id = _index_of(customers["originator_id"], size)
    invoice_count = len(invoices["originator_id"])
    settled = np.zeros(invoice_count, dtype=np.int64)
    for name, (on, sign) in SETTLEMENTS.items():
        movements = cols[name]
        dated = movements[on] <= as_of_day
        amounts = movements["amount_minor"][dated]
        np.add.at(
            settled,
            invoice_of_id[movements["originator_id"][dated]],
            amounts if sign > 0 else -amounts,
        )
    open_minor = invoices["amount_minor"] - settled
    open_minor[invoices["issued_on"] > as_of_day] = 0
    assert (open_minor >= 0).all()
    # Parts: the instalments, or the whole invoice as one part when it has none.
    offsets = invoices["instalments.offsets"]
    counts = np.diff(offsets)
    part_counts = np.maximum(counts, 1)
    part_start = np.cumsum(part_counts) - part_counts
    part_invoice = np.repeat(np.arange(invoice_count), part_counts)
    part_due = np.empty(len(part_invoice), dtype=np.int64)
    part_amount = np.empty(len(part_invoice), dtype=np.int64)
    whole = counts == 0
    part_due[part_start[whole]] = _due_on_in_force(cols, invoice_of_id, as_of_day)[whole]
    part_amount[part_start[whole]] = invoices["amount_minor"][whole]
    child_invoice = np.repeat(np.arange(invoice_count), counts)
    child_slot = part_start[child_invoice] + np.arange(len(child_invoice)) - offsets[child_invoice]
    part_due[child_slot] = invoices["instalments.due_on"]
    part_amount[child_slot] = invoices["instalments.amount_minor"]
    # Oldest part first: a part is settled by what exceeds the parts before it.
    running = np.cumsum(part_amount)
    before = running - part_amount - (running - part_amount)[part_start][part_invoice]
    taken = np.clip(settled[part_invoice] - before, 0, part_amount)
    part_open = part_amount - taken
    live = (part_open > 0) & (open_minor[part_invoice] > 0)
    part_open = part_open[live]
    part_customer = customer_of_id[invoices["customer_id"][part_invoice[live]]]
    days = as_of_day - part_due[live]
    bucket = np.where(days <= 0, 0, 1 + np.searchsorted(query.edges, days, side="left"))
    customer_count = len(customers["originator_id"])
    width = query.width
    buckets = np.zeros(customer_count * width, dtype=np.int64)
    np.add.at(buckets, part_customer * width + bucket, part_open)
    days_max = np.zeros(customer_count, dtype=np.int64)
    np.maximum.at(days_max, part_customer, days)
    open_by_customer = np.zeros(customer_count, dtype=np.int64)
    is_open = open_minor > 0
    np.add.at(
        open_by_customer,
        customer_of_id[invoices["customer_id"][is_open]],
        open_minor[is_open],
    )
    rows = np.flatnonzero(open_by_customer)
    return _finish(
        customers["originator_id"][rows],
        customers["currency"][rows],
        customers["currency.dictionary"],
        open_by_customer[rows],
        buckets.reshape(customer_count, width)[rows],
        days_max[rows],
        query,
    )


def _due_on_in_force(cols: Columns, invoice_of_id: np.ndarray, as_of_day: int) -> np.ndarray:
    """Each invoice's due date in force on ``as_of_day``: its last override dated by then (in
    recording order), else the issued one."""
    due_on = cols["InvoiceIssued"]["due_on"]
    overrides = cols[OVERRIDES]
    rows = np.flatnonzero(overrides["overridden_on"] <= as_of_day)
    if len(rows):
        target = invoice_of_id[overrides["originator_id"][rows]]
        # The last row per invoice: the first of the reversed rows.
        _, first_reversed = np.unique(target[::-1], return_index=True)
        last = len(rows) - 1 - first_reversed
        due_on = due_on.copy()
        due_on[target[last]] = overrides["due_on"][rows[last]]
    return due_on


def numpy_engine(log: ColumnarLog, query: Query) -> CustomerAgeing:
    """NumPy, from the columnar log (the column extraction included)."""
    return numpy_from_columns(read_columns(log), query)


# Polars ---------------------------------------------------------------------------------------


def _table(log: ColumnarLog, name: str, names: Iterable[str]) -> pa.Table:
    table = log.tables.get(name)
    if table is None:
        table = columnar.SCHEMAS[name].empty_table()
    return table.select(list(names))


def _from_table(
    customer_id: np.ndarray,
    currency: Sequence[str],
    figures: Mapping[str, np.ndarray],
    query: Query,
) -> CustomerAgeing:
    """An answer from an engine's per-customer frame (columns ``open``, ``b0``.., ``days_max``)."""
    currencies = tuple(sorted(set(currency)))
    code_of = {name: code for code, name in enumerate(currencies)}
    currency_code = np.asarray([code_of[name] for name in currency], dtype=np.int64)
    buckets = np.stack([figures[f"b{b}"] for b in range(query.width)], axis=1)
    return _finish(
        customer_id,
        currency_code,
        currencies,
        figures["open"],
        buckets.reshape(len(customer_id), query.width),
        figures["days_max"],
        query,
    )


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def polars_engine(log: ColumnarLog, query: Query) -> CustomerAgeing:
    """A Polars lazy query over the Arrow tables (``pl.from_arrow`` does not copy them)."""
    as_of_day = query.as_of_day
    movements = [
        _frame(_table(log, name, ("originator_id", "amount_minor", on)))
        .lazy()
        .select(
            pl.col("originator_id"),
            (pl.col("amount_minor") * sign).alias("amount"),
            pl.col(on).cast(pl.Int32).alias("on"),
        )
        for name, (on, sign) in SETTLEMENTS.items()
    ]
    settled = (
        pl.concat(movements)
        .filter(pl.col("on") <= as_of_day)
        .group_by("originator_id")
        .agg(pl.col("amount").sum().alias("settled"))
    )
    in_force = (
        _frame(_table(log, OVERRIDES, OVERRIDE_COLUMNS))
        .lazy()
        .filter(pl.col("overridden_on").cast(pl.Int32) <= as_of_day)
        .group_by("originator_id")
        .agg(pl.col("due_on").last().alias("due_on_in_force"))  # groups keep the row order
    )
    invoices = _frame(_table(log, "InvoiceIssued", (*INVOICE_COLUMNS, "instalments")))
    customers = _frame(_table(log, "CustomerAccountOpened", ("originator_id", "currency")))
    customers = customers.rename({"originator_id": "customer_id"})
    bucket = pl.lit(len(query.policy.ageing.edges_days) + 1)
    for index, edge in reversed(list(enumerate(query.policy.ageing.edges_days, start=1))):
        bucket = pl.when(pl.col("days") <= edge).then(index).otherwise(bucket)
    bucket = pl.when(pl.col("days") <= 0).then(0).otherwise(bucket)
    parts = (
        invoices.lazy()
        .filter(pl.col("issued_on").cast(pl.Int32) <= as_of_day)
        .join(settled, on="originator_id", how="left")
        .join(in_force, on="originator_id", how="left")
        .with_columns(
            pl.col("settled").fill_null(0),
            pl.coalesce(pl.col("due_on_in_force"), pl.col("due_on")).alias("due_on"),
        )
        .filter(pl.col("amount_minor") > pl.col("settled"))
        .explode("instalments", empty_as_null=True)
        .with_columns(
            pl.coalesce(pl.col("instalments").struct.field("due_on"), pl.col("due_on"))
            .cast(pl.Int32)
            .alias("part_due"),
            pl.coalesce(
                pl.col("instalments").struct.field("amount_minor"), pl.col("amount_minor")
            ).alias("part_amount"),
        )
        .with_columns(
            (pl.col("part_amount").cum_sum().over("originator_id") - pl.col("part_amount")).alias(
                "before"
            )
        )
        .with_columns(
            (
                pl.col("part_amount")
                - (pl.col("settled") - pl.col("before")).clip(0, pl.col("part_amount"))
            ).alias("part_open"),
            (as_of_day - pl.col("part_due")).alias("days"),
        )
        .filter(pl.col("part_open") > 0)
        .with_columns(bucket.alias("bucket"))
    )
    per_customer = (
        parts.group_by("customer_id")
        .agg(
            pl.col("part_open").sum().alias("open"),
            pl.col("days").max().alias("days_max"),
            *[
                pl.col("part_open").filter(pl.col("bucket") == b).sum().alias(f"b{b}")
                for b in range(query.width)
            ],
        )
        .join(customers.lazy(), on="customer_id", how="left")
        .collect()
    )
    return _from_table(
        per_customer["customer_id"].to_numpy(),
        per_customer["currency"].to_list(),
        {name: per_customer[name].to_numpy() for name in per_customer.columns},
        query,
    )


# DuckDB ---------------------------------------------------------------------------------------


def _duckdb_sql(query: Query) -> str:
    movements = "\n    UNION ALL ".join(
        f"SELECT originator_id, {'' if sign > 0 else '-'}amount_minor AS amount, "
        f"{quoted_identifier(on)} AS on_day FROM {quoted_identifier(name)}"
        for name, (on, sign) in SETTLEMENTS.items()
    )
    bucket = f"{len(query.policy.ageing.edges_days) + 1}"
    for index, edge in reversed(list(enumerate(query.policy.ageing.edges_days, start=1))):
        bucket = f"CASE WHEN days <= {edge} THEN {index} ELSE {bucket} END"
    bucket = f"CASE WHEN days <= 0 THEN 0 ELSE {bucket} END"
    bucket_sums = ", ".join(
        f"SUM(CASE WHEN bucket = {b} THEN part_open ELSE 0 END)::BIGINT AS b{b}"
        for b in range(query.width)
    )
    return f"""
WITH movements AS (
    {movements}
), settled AS (
    SELECT originator_id, SUM(amount)::BIGINT AS settled
    FROM movements WHERE on_day <= $as_of GROUP BY originator_id
), in_force AS (
    SELECT originator_id, arg_max(due_on, position) AS due_on
    FROM {OVERRIDES} WHERE overridden_on <= $as_of GROUP BY originator_id
), open_invoices AS (
    SELECT i.originator_id, i.customer_id, COALESCE(s.settled, 0) AS settled,
        CASE WHEN len(i.instalments) = 0
            THEN [{{'due_on': COALESCE(o.due_on, i.due_on), 'amount_minor': i.amount_minor}}]
            ELSE i.instalments END AS schedule
    FROM InvoiceIssued i LEFT JOIN settled s USING (originator_id)
        LEFT JOIN in_force o USING (originator_id)
    WHERE i.issued_on <= $as_of AND i.amount_minor > COALESCE(s.settled, 0)
), parts AS (
    SELECT originator_id, customer_id, settled,
        UNNEST(schedule) AS part, generate_subscripts(schedule, 1) AS position
    FROM open_invoices
), aged AS (
    SELECT customer_id, days,
        part_amount - LEAST(GREATEST(settled - before, 0), part_amount) AS part_open
    FROM (
        SELECT customer_id, settled, part.amount_minor AS part_amount,
            $as_of - part.due_on AS days,
            COALESCE(SUM(part.amount_minor) OVER (
                PARTITION BY originator_id ORDER BY position
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ), 0) AS before
        FROM parts
    )
), bucketed AS (
    SELECT customer_id, days, part_open, {bucket} AS bucket FROM aged WHERE part_open > 0
)
SELECT b.customer_id, c.currency, SUM(part_open)::BIGINT AS open, MAX(days) AS days_max,
    {bucket_sums}
FROM bucketed b JOIN CustomerAccountOpened c ON c.originator_id = b.customer_id
GROUP BY b.customer_id, c.currency
"""


def duckdb_engine(log: ColumnarLog, query: Query) -> CustomerAgeing:
    """DuckDB SQL over the Arrow tables, registered as views (no copy), in a fresh connection."""
    with duckdb.connect() as connection:
        for name, names in SELECT.items():
            table = _table(log, name, names)
            if name == OVERRIDES:  # recording order, for "the last override wins"
                table = table.append_column("position", pa.array(range(table.num_rows), pa.int64()))
            connection.register(name, table)
        table = connection.sql(_duckdb_sql(query), params={"as_of": query.as_of}).to_arrow_table()
    return _from_table(
        table.column("customer_id").to_numpy(),
        table.column("currency").to_pylist(),
        {name: table.column(name).to_numpy() for name in table.column_names},
        query,
    )


# The product's fast path -----------------------------------------------------------------------


def fast_path_engine(log: ColumnarLog, query: Query) -> CustomerAgeing:
    """The full fast path (``projections/fast/portfolio.py``): it computes ageing, escalation and
    promises for every customer; this keeps the figures the simplified query has.

    The fast path's overdue amount and grade are the escalation's, which leave out what is in
    open dispute; for a customer with a disputed amount they are recomputed from its ageing
    figures, as the simplified query defines them. Every other customer keeps its own.
    """
    result = fast_path.fast_portfolio(
        columnar.columns(log, fast_path.SELECT),
        query.as_of,
        decode_policy=decode_policy,
        ageing_policy=query.policy.ageing,
    )
    customers = result.customers
    rows = np.flatnonzero(customers.open_minor > 0)
    answer = _finish(
        customers.customer_id[rows],
        customers.currency[rows],
        result.currencies,
        customers.open_minor[rows],
        customers.buckets_minor[rows],
        customers.ageing_days_max[rows],
        query,
    )
    order = np.argsort(customers.customer_id[rows], kind="stable")
    own = customers.disputed_minor[rows][order] == 0
    return attrs.evolve(
        answer,
        overdue_minor=np.where(own, customers.overdue_minor[rows][order], answer.overdue_minor),
        grade=np.where(own, customers.grade[rows][order], answer.grade).astype(np.int64),
    )


# Baselines ------------------------------------------------------------------------------------


def fold_engine(events: Sequence[Event], query: Query) -> ageing.AgeingReport:
    """The pure fold and its query: ``ageing.fold_all`` then ``ageing_report`` by customer."""
    state = ageing.fold_all(events)
    return ageing.ageing_report(
        state, query.as_of, policy=query.policy.ageing, grouping=ageing.AgeingGrouping.CUSTOMER
    )


def fold_answer(
    report: ageing.AgeingReport, customer_id_of_code: Mapping[str, int], query: Query
) -> CustomerAgeing:
    """The fold's report as a ``CustomerAgeing``, graded by ``EscalationPolicy.grade`` itself."""
    rows = sorted(report.rows, key=lambda row: customer_id_of_code[row.key])
    grades = [
        NO_GRADE
        if row.overdue_minor == 0
        else GRADES.index(
            query.policy.grade(row.days_past_due_max, row.overdue_minor, row.currency)
        )
        for row in rows
    ]
    return CustomerAgeing(
        customer_id=np.asarray([customer_id_of_code[row.key] for row in rows], dtype=np.int64),
        currency=tuple(row.currency for row in rows),
        open_minor=np.asarray([row.open_minor for row in rows], dtype=np.int64),
        overdue_minor=np.asarray([row.overdue_minor for row in rows], dtype=np.int64),
        days_past_due_max=np.asarray([row.days_past_due_max for row in rows], dtype=np.int64),
        grade=np.asarray(grades, dtype=np.int64),
        buckets_minor=np.asarray([row.buckets_minor for row in rows], dtype=np.int64).reshape(
            len(rows), query.width
        ),
        totals_by_currency=report.totals_by_currency(),
    )


def customer_ids_by_code(log: ColumnarLog) -> dict[str, int]:
    """Customer code -> the customer's index in ``ids`` (to line the fold's rows up)."""
    table = _table(log, "CustomerAccountOpened", ("customer_code", "originator_id"))
    return dict(
        zip(
            table.column("customer_code").to_pylist(),
            table.column("originator_id").to_pylist(),
            strict=True,
        )
    )


def bandwidth_pass(cols: Columns) -> int:
    """One NumPy sum over each column the query reads: the floor any engine pays to read them."""
    total = 0
    for per_class in cols.values():
        for array in per_class.values():
            if isinstance(array, np.ndarray):
                total += int(array.sum(dtype=np.int64))
    return total


ENGINES: Final[dict[str, Callable[[ColumnarLog, Query], CustomerAgeing]]] = {
    "fast_path": fast_path_engine,
    "numba": numba_engine,
    "numpy": numpy_engine,
    "polars": polars_engine,
    "duckdb": duckdb_engine,
}
"""The columnar engines, by the name the benchmarks and results use."""
