"""The columnar fast path: the ageing, escalation and promise read models of a whole portfolio,
as of a date (and known-at instant), from the NumPy columns of the event log.

It recomputes what the pure folds give (``ageing.ageing_report``, ``escalation.evaluate``,
``promises.judge``) with Numba loops over arrays (``fast_kernels``) instead of Python objects:
the rules are the folds', restated once as loops, and a differential test holds the two equal
field by field. Input: ``adapters.columnar.columns(log, select=SELECT)``; ids are the log's
int32 id indexes, dates int32 days since 1970-01-01, and no invoice number is ever read.

Invariant: like every query of the folds, a result as of a date depends only on facts dated on
or before it and, with ``known_at``, only on events recorded by then; the one exception is the
folds' own: a promise's ``deadline_on`` is its promised date plus the tolerance of the policy in
force on that date, as ``promises.judge`` on the whole state has it, even when that policy takes
effect after ``as_of``. (``escalation.evaluate`` narrows the state first and so takes the policy
in force on the earlier of the two dates; the statuses, and so every figure here, are the same
either way, because both deadlines then lie after ``as_of``.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from arledger.domain.errors import InvalidDateError
from arledger.domain.events import DelinquencyType, RiskRating
from arledger.domain.money import minor_per_major
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    AgeingBasis,
    AgeingPolicy,
    EscalationPolicy,
    Grade,
    TriggerRule,
)
from arledger.domain.rules import require_date
from arledger.projections.ageing import AgeingRow
from arledger.projections.escalation import RATING_ORDINAL, Evaluation
from arledger.projections.fast import kernels
from arledger.projections.fast.codes import GRADES as GRADES
from arledger.projections.fast.codes import RULES as RULES
from arledger.projections.fast.codes import STATUSES as STATUSES
from arledger.projections.fast.kernels import Applications, Payments

EPOCH: Final = date(1970, 1, 1)
INT64_MAX: Final = int(np.iinfo(np.int64).max)
THRESHOLD_MAX: Final = INT64_MAX // 1000
"""Trigger thresholds above this are capped to it: the kernels multiply amount thresholds by
up to 1,000 minor units per major unit, and no overdue sum of a log reaches the capped value."""
NO_DATE: Final = kernels.NO_DATE
"""A date that never comes, in date columns of the result (no judged date, for example)."""

DELINQUENCY_TYPES: Final = tuple(found.value for found in DelinquencyType)
"""The delinquency types in the adjustment tables' order (``EscalationPolicy.adjustment_table``)."""
STANDINGS: Final = (len(DELINQUENCY_TYPES) + 1) * 4
"""Standings a level is adjusted for: no diagnosis or a type, by bankruptcy filed, by fraud
suspected (``standing_index``)."""


def standing_index(type_code: Any, bankrupt: Any, fraud: Any) -> Any:
    """The standing's index in the adjustment tables (``EscalationPolicy.adjustment_table``):
    ``type_code`` the place in ``DELINQUENCY_TYPES`` (-1: no diagnosis), the flags 0 or 1."""
    return ((type_code + 1) * 2 + bankrupt) * 2 + fraud


def standing_of(index: int) -> tuple[str | None, bool, bool]:
    """The (latest diagnosis's type, bankruptcy filed, fraud suspected) of a standing index."""
    rest, fraud = divmod(index, 2)
    code, bankrupt = divmod(rest, 2)
    return (None if code == 0 else DELINQUENCY_TYPES[code - 1], bool(bankrupt), bool(fraud))


Columns = Mapping[str, Mapping[str, Any]]
Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]

SELECT: Final[Mapping[str, tuple[str, ...]]] = {
    "CustomerAccountOpened": ("originator_id", "timestamp", "currency"),
    "InvoiceIssued": (
        "originator_id",
        "timestamp",
        "customer_id",
        "amount_minor",
        "issued_on",
        "due_on",
        "instalments",
    ),
    "PaymentApplied": ("originator_id", "timestamp", "payment_id", "amount_minor", "applied_on"),
    "PaymentUnapplied": ("originator_id", "timestamp", "amount_minor", "unapplied_on"),
    "CreditNoteApplied": ("originator_id", "timestamp", "amount_minor", "applied_on"),
    "ConcessionApproved": ("originator_id", "timestamp", "amount_minor", "approved_on"),
    "GoodsInLieuApplied": ("originator_id", "timestamp", "amount_minor", "applied_on"),
    "InvoiceWrittenOff": ("originator_id", "timestamp", "amount_minor", "written_off_on"),
    "InvoiceReinstated": ("originator_id", "timestamp", "amount_minor", "reinstated_on"),
    "DisputeOpened": (
        "originator_id",
        "timestamp",
        "dispute_reference",
        "amount_minor",
        "opened_on",
    ),
    "DisputeResolved": ("originator_id", "timestamp", "dispute_reference", "resolved_on"),
    "InvoiceDueDateOverridden": ("originator_id", "timestamp", "due_on", "overridden_on"),
    "PaymentReceived": (
        "originator_id",
        "timestamp",
        "payer_customer_id",
        "amount_minor",
        "currency",
        "value_on",
    ),
    "PaymentReversed": ("originator_id", "timestamp", "reversed_on"),
    "PromiseMade": (
        "originator_id",
        "timestamp",
        "customer_id",
        "amount_minor",
        "currency",
        "promised_on",
        "made_on",
        "invoice_ids",
        "tranches",
    ),
    "PromiseWithdrawn": ("originator_id", "timestamp", "withdrawn_on"),
    "PromiseSuperseded": ("originator_id", "timestamp", "superseded_on"),
    "RiskRated": ("originator_id", "timestamp", "seq", "rating", "rated_on"),
    "CustomerBlacklisted": ("originator_id", "timestamp", "seq", "blacklisted_on"),
    "CustomerCleared": ("originator_id", "timestamp", "seq", "cleared_on"),
    "EscalationPolicyAdopted": ("timestamp", "policy", "effective_on"),
    "DelinquencyDiagnosed": ("timestamp", "seq", "customer_id", "diagnosed_on", "delinquency_type"),
    "BankruptcyFiled": ("originator_id", "timestamp", "seq", "filed_on"),
    "FraudSuspected": ("originator_id", "timestamp", "seq", "suspected_on"),
}
"""The columns the fast path reads, per event class: pass it to ``columns(log, select=...)``.
String columns are only the few with few distinct values (currencies, ratings, policies) and
dispute references, needed to match a resolution to its dispute."""

MOVEMENTS: Final = (
    ("PaymentApplied", "applied_on", 1),
    ("PaymentUnapplied", "unapplied_on", -1),
    ("CreditNoteApplied", "applied_on", 1),
    ("ConcessionApproved", "approved_on", 1),
    ("GoodsInLieuApplied", "applied_on", 1),
    ("InvoiceWrittenOff", "written_off_on", 1),
    ("InvoiceReinstated", "reinstated_on", -1),
)
"""Every event that changes what an invoice has open, with its date column and direction (the
ageing fold's movements)."""

SETTLE_SPLIT_INVOICES: Final = 65536
"""Invoices per thread from which the settlement pass is split between threads
(``kernels.settle``); below, one part on the calling thread (``kernels.settle_part``)."""
_settle_split = [SETTLE_SPLIT_INVOICES]


@contextlib.contextmanager
def settlement_split_always() -> Iterator[None]:
    """Within it, every settlement pass is split between threads, whatever the ledger's size:
    ``arledger warm-up`` compiles ``kernels.settle`` on its small ledger so (only ledgers of
    over 131,072 invoices on two threads call it, and the first query of such a ledger after an
    install compiled it: 1.4 s here), and the tests compare both ways on small ledgers. The
    answers are the same either way; a query on another thread meanwhile splits its pass too."""
    _settle_split[0] = 0
    try:
        yield
    finally:
        _settle_split[0] = SETTLE_SPLIT_INVOICES


RATINGS: Final = {rating.value: RATING_ORDINAL[rating] for rating in RiskRating}
RATING_OF: Final = {ordinal: value for value, ordinal in RATINGS.items()}
"""A rating's value by its ordinal (none for 0: not rated)."""


# The result -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class InvoiceColumns:
    """Per invoice, in the order of the ``InvoiceIssued`` table (known by ``known_at``).

    Figures are zero for an invoice with nothing open on the date (or not yet issued).
    ``overdue_minor`` and ``days_past_due`` are the escalation's (without what is in dispute,
    unless the policy counts it; due-date basis, of the oldest counted overdue part);
    ``buckets_minor`` and ``ageing_days_max`` the ageing's (under the ageing policy's basis).
    """

    invoice_id: Int32s
    """The log's id index (a row of the ``ids`` table)."""
    customer: Int32s
    """Row of the customer in ``CustomerColumns``."""
    open_minor: Int64s
    disputed_minor: Int64s
    overdue_minor: Int64s
    days_past_due: Int32s
    ageing_days_max: Int32s
    buckets_minor: Int64s
    """Shape (invoices, buckets), the ageing policy's buckets; (0, buckets) unless asked for."""


@attrs.frozen(kw_only=True, eq=False)
class CustomerColumns:
    """Per customer, in the order of the ``CustomerAccountOpened`` table.

    ``reasons`` has shape (customers, rules, 3): level, threshold and actual figure of each
    rule's firing trigger of the highest level (level -1 when the rule does not fire), in the
    rule's unit (days, minor units, a count, a rating ordinal, 1).
    """

    customer_id: Int32s
    currency: Int32s
    """Index into ``FastPortfolio.currencies``."""
    open_minor: Int64s
    buckets_minor: Int64s
    ageing_days_max: Int64s
    disputed_minor: Int64s
    overdue_minor: Int64s
    days_past_due_max: Int64s
    broken_promises: Int64s
    rating: Int32s
    """Rating ordinal (1=A .. 4=D), 0 when not rated."""
    is_blacklisted: npt.NDArray[np.bool_]
    raw_level: Int64s
    level: Int64s
    level_cap: Int64s
    """The level an open promise holds time-driven escalation at; -1 when none does."""
    grade: npt.NDArray[np.int8]
    reasons: Int64s
    standing: Int32s
    """What adjusts the level on the date (``standing_index``: the latest diagnosis's type,
    bankruptcy filed, fraud suspected); ``standing_of`` reads it."""


@attrs.frozen(kw_only=True, eq=False)
class PromiseColumns:
    """Per promise, in the order of the ``PromiseMade`` table, judged as ``promises.judge``."""

    promise_id: Int32s
    customer: Int32s
    status: npt.NDArray[np.int8]
    paid_minor: Int64s
    deadline_on: Int32s
    judged_on: Int32s
    """``NO_DATE`` when the status is not final."""


@attrs.frozen(kw_only=True, eq=False)
class FastPortfolio:
    as_of: date
    known_at: datetime | None
    policy: EscalationPolicy
    """The escalation policy in force on ``as_of``."""
    ageing_policy: AgeingPolicy
    currencies: tuple[str, ...]
    invoices: InvoiceColumns
    customers: CustomerColumns
    promises: PromiseColumns

    @property
    def policy_version(self) -> int:
        return self.policy.version


@attrs.frozen(kw_only=True)
class CustomerValues:
    """One customer's figures as plain values, comparable with what the folds give."""

    ageing: tuple[tuple[int, ...], int, int, int] | None
    """(bucket amounts, open, days past due max, disputed) of its ageing row; None if no row."""
    policy_version: int
    level: int
    raw_level: int
    grade: Grade | None
    overdue_minor: int
    disputed_minor: int
    days_past_due_max: int
    broken_promises: int
    rating: RiskRating | None
    is_blacklisted: bool
    reasons: tuple[tuple[TriggerRule, int, int, int], ...]
    """(rule, level, threshold, actual), highest level first, then in rule order."""


def customer_values(result: FastPortfolio, customer: int) -> CustomerValues:
    """The fast path's figures for the customer in row ``customer``."""
    columns = result.customers
    ageing = None
    if columns.open_minor[customer] > 0:
        ageing = (
            tuple(int(amount) for amount in columns.buckets_minor[customer]),
            int(columns.open_minor[customer]),
            int(columns.ageing_days_max[customer]),
            int(columns.disputed_minor[customer]),
        )
    reasons = [
        (RULES[rule], int(level), int(threshold), int(actual))
        for rule, (level, threshold, actual) in enumerate(columns.reasons[customer])
        if level >= 0
    ]
    reasons.sort(key=lambda reason: (-reason[1], RULES.index(reason[0])))
    rating = int(columns.rating[customer])
    grade = int(columns.grade[customer])
    return CustomerValues(
        ageing=ageing,
        policy_version=result.policy_version,
        level=int(columns.level[customer]),
        raw_level=int(columns.raw_level[customer]),
        grade=None if grade < 0 else GRADES[grade],
        overdue_minor=int(columns.overdue_minor[customer]),
        disputed_minor=int(columns.disputed_minor[customer]),
        days_past_due_max=int(columns.days_past_due_max[customer]),
        broken_promises=int(columns.broken_promises[customer]),
        rating=None if rating == 0 else _rating(rating),
        is_blacklisted=bool(columns.is_blacklisted[customer]),
        reasons=tuple(reasons),
    )


def values_of(evaluation: Evaluation, row: AgeingRow | None) -> CustomerValues:
    """The same values from the folds: ``escalation.evaluate`` and the customer's row of
    ``ageing_report`` grouped by customer (None when it has none)."""
    return CustomerValues(
        ageing=None
        if row is None
        else (row.buckets_minor, row.open_minor, row.days_past_due_max, row.disputed_minor),
        policy_version=evaluation.policy_version,
        level=evaluation.level,
        raw_level=evaluation.raw_level,
        grade=evaluation.grade,
        overdue_minor=evaluation.overdue_minor,
        disputed_minor=evaluation.disputed_minor,
        days_past_due_max=evaluation.days_past_due_max,
        broken_promises=evaluation.broken_promises,
        rating=evaluation.rating,
        is_blacklisted=evaluation.is_blacklisted,
        reasons=tuple(
            (reason.rule, reason.level, reason.threshold, reason.actual)
            for reason in evaluation.reasons
        ),
    )


def _rating(ordinal: int) -> RiskRating:
    return next(rating for rating, number in RATING_ORDINAL.items() if number == ordinal)


def days(on: date) -> int:
    """A date as the fast path's int (days since 1970-01-01)."""
    return (on - EPOCH).days


def on_date(day: int) -> date:
    """A date column's value back as a date."""
    return date.fromordinal(EPOCH.toordinal() + int(day))


def on_dates(days: npt.NDArray[np.integer[Any]]) -> list[date]:
    """Date column values back as dates, as ``on_date`` gives them one at a time (NumPy's
    day-precision datetimes count days from the same epoch and convert to ``date``)."""
    dates: list[date] = np.asarray(days, np.int64).astype("datetime64[D]").tolist()
    return dates


# The query ------------------------------------------------------------------------------------


def fast_portfolio(
    columns: Columns,
    as_of: date,
    *,
    decode_policy: Callable[[str], EscalationPolicy],
    known_at: datetime | None = None,
    ageing_policy: AgeingPolicy | None = None,
    invoice_buckets: bool = False,
    policy: EscalationPolicy | None = None,
) -> FastPortfolio:
    """Ageing, escalation and promises of every invoice, customer and promise as of ``as_of``.

    Args:
        columns: ``adapters.columnar.columns(log, select=SELECT)``.
        decode_policy: an ``EscalationPolicyAdopted.policy`` column value (the policy's JSON
            form) to the policy; the adapters own that form.
        known_at: only events recorded (timestamped) by then count.
        ageing_policy: the buckets and basis of the ageing (default: ``AgeingPolicy()``, as
            ``ageing_report``'s).
        invoice_buckets: also each invoice's bucket amounts (``InvoiceColumns.buckets_minor``,
            8 bytes per bucket per invoice: 480 MB for ten million invoices); without it that
            array has no rows, and the customers' bucket totals are made all the same.
        policy: the one policy in force on every date, instead of the adopted versions (a
            back-test's candidate: promise deadlines and held levels under it too).
    """
    require_date("as_of", as_of)
    return fast_portfolio_of(
        known_tables(columns, known_at),
        as_of,
        decode_policy=decode_policy,
        known_at=known_at,
        ageing_policy=ageing_policy,
        invoice_buckets=invoice_buckets,
        policy=policy,
    )


def fast_portfolio_of(
    tables: dict[str, dict[str, Any]],
    as_of: date,
    *,
    decode_policy: Callable[[str], EscalationPolicy],
    known_at: datetime | None = None,
    ageing_policy: AgeingPolicy | None = None,
    invoice_buckets: bool = False,
    policy: EscalationPolicy | None = None,
) -> FastPortfolio:
    """``fast_portfolio`` on tables already cut by ``known_tables`` (one cut for several
    dates: a back-test's period ends)."""
    ageing_policy = ageing_policy or AgeingPolicy()
    on = days(as_of)
    prepared = _Prepared(tables, decode_policy, on, policy=policy)
    return prepared.run(on, as_of, known_at, ageing_policy, invoice_buckets)


def known_tables(columns: Columns, known_at: datetime | None) -> dict[str, dict[str, Any]]:
    """The tables of ``SELECT``'s classes, with every column ``columns`` has for them (more
    than ``SELECT``'s, if selected), cut to the rows recorded by ``known_at`` when given.

    Every array is handed on read-only (a view where it was writable): the kernels then see one
    argument type whatever made the columns (Arrow, the incremental path's buffers, a cut), so
    one set of compiled variants serves them all, the set ``arledger warm-up`` compiles."""
    tables = {
        name: {key: _read_only(value) for key, value in columns.get(name, {}).items()}
        for name in SELECT
    }
    if known_at is not None:
        limit = microseconds(known_at)
        tables = {name: _known(table, limit) for name, table in tables.items()}
    return tables


def microseconds(at: datetime) -> int:
    """A recorded instant as the columns' int: microseconds since the epoch, UTC."""
    if at.utcoffset() is None:
        raise InvalidDateError(f"known_at must be timezone-aware, got {at!r}", known_at=at)
    # The epoch in UTC, not in ``at``'s zone: subtracting two datetimes of one tzinfo ignores
    # their offset, which would move the cut by the zone's offset.
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def take_rows(table: Mapping[str, Any], rows: npt.NDArray[np.integer[Any]]) -> dict[str, Any]:
    """Some rows of one class's columns (``columns`` layout), in the order given: list columns
    get new offsets and their children's rows; dictionaries are kept as they are. Each new
    array is read-only where its column is (``_like``), so a cut feeds the kernels the argument
    types the whole columns do: the same compiled variants, those ``arledger warm-up`` made."""
    lists = [key[: -len(".offsets")] for key in table if key.endswith(".offsets")]
    result: dict[str, Any] = {}
    for key, value in table.items():
        if key.endswith(".dictionary"):
            result[key] = value
            continue
        owner = next((name for name in lists if key.startswith(name + ".")), None)
        if owner is None:
            result[key] = _like(value, value[rows])
            continue
        if key != owner + ".offsets":
            continue
        starts = value[:-1][rows]
        lengths = value[1:][rows] - starts
        ends = np.cumsum(lengths)
        result[key] = _like(value, np.concatenate((np.zeros(1, np.int64), ends)).astype(np.int64))
        # Each kept parent's run of child positions, in order.
        child_rows = np.repeat(starts - ends + lengths, lengths) + np.arange(
            int(ends[-1]) if len(ends) else 0
        )
        for child, child_value in table.items():
            if child.startswith(owner + ".") and child != key and not child.endswith(".dictionary"):
                result[child] = _like(child_value, child_value[child_rows])
    return result


def _read_only(value: Any) -> Any:
    """An array as a read-only view (itself if it is one); anything else as it is."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


def _like(column: npt.NDArray[Any], taken: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``taken`` (a new array of some of ``column``'s rows), read-only if ``column`` is."""
    if not column.flags.writeable:
        taken.flags.writeable = False
    return taken


def _known(table: dict[str, Any], limit: int) -> dict[str, Any]:
    """The rows of one class's columns recorded by ``limit`` (microseconds)."""
    timestamp = table.get("timestamp")
    if timestamp is None or len(timestamp) == 0:
        return table
    keep = timestamp <= limit
    if keep.all():
        return table
    return take_rows(table, np.flatnonzero(keep))


def due_on_in_force(
    invoices: Mapping[str, Any],
    overrides: Mapping[str, Any],
    row_of_id: npt.NDArray[np.integer[Any]],
    on: int,
) -> Int32s:
    """Each invoice's due date in force on ``on`` (``InvoiceFacts.due_on_at``): the due date
    of its last override dated on or before ``on``, in recording order, else the issued one.
    Read-only like the columns it stands for, so the kernels see the argument types they were
    compiled for."""
    due_on = _int32(invoices["due_on"])
    if len(overrides.get("originator_id", ())) == 0:
        return due_on
    rows = np.flatnonzero(np.asarray(overrides["overridden_on"]) <= on)
    if len(rows) == 0:
        return due_on
    target = np.asarray(row_of_id)[np.asarray(overrides["originator_id"])[rows]]
    assert (target >= 0).all()  # an override is recorded only on a known invoice
    # The last row of each invoice: the first of the reversed rows, counted from the end.
    _, first_reversed = np.unique(target[::-1], return_index=True)
    last = len(target) - 1 - first_reversed
    due_on = due_on.copy()
    due_on[target[last]] = np.asarray(overrides["due_on"])[rows[last]]
    due_on.flags.writeable = False
    return due_on


def _joined(values: npt.NDArray[Any], parts: list[slice]) -> npt.NDArray[Any]:
    """The parts of a buffer, one after the other (the part itself when there is one)."""
    if len(parts) == 1:
        return values[parts[0]]
    return np.concatenate([values[part] for part in parts])


def promise_schedule(promises: Mapping[str, Any]) -> tuple[Int64s, Int32s, Int64s]:
    """(offsets, date, amount) of every promise's tranches, in table order: its recorded
    tranches, or the whole amount on its promised date when it has none (``PromiseFacts.
    schedule``), so that every promise has at least one."""
    offsets = np.asarray(promises["tranches.offsets"], np.int64)
    counts = np.diff(offsets)
    sizes = np.maximum(counts, 1)
    start = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=start[1:])
    tranche_on = np.empty(int(start[-1]), np.int32)
    amount = np.empty(int(start[-1]), np.int64)
    single = counts == 0
    tranche_on[start[:-1][single]] = promises["promised_on"][single]
    amount[start[:-1][single]] = promises["amount_minor"][single]
    owner = np.repeat(np.arange(len(counts)), counts)
    recorded = int(offsets[-1]) if len(offsets) else 0
    target = start[:-1][owner] + (np.arange(recorded) - offsets[owner])
    tranche_on[target] = promises["tranches.promised_on"]
    amount[target] = promises["tranches.amount_minor"]
    return start, tranche_on, amount


def _int32(values: Any) -> Int32s:
    return np.ascontiguousarray(values, dtype=np.int32)


def _int64(values: Any) -> Int64s:
    return np.ascontiguousarray(values, dtype=np.int64)


class _Prepared:
    """The arrays the kernels read, built once per query on the date ``on``: rows by id, codes
    made common, and what each invoice has settled by then (one pass over the movements).

    ``held``: customers (by row) whose invoices' movements dated by ``on`` are kept in
    ``self.held`` besides those the query itself needs (``fast_timeline`` reads them)."""

    def __init__(
        self,
        tables: dict[str, dict[str, Any]],
        decode_policy: Callable[[str], EscalationPolicy],
        on: int,
        held: npt.NDArray[np.bool_] | None = None,
        policy: EscalationPolicy | None = None,
    ) -> None:
        self.tables = tables
        customers = tables["CustomerAccountOpened"]
        invoices = tables["InvoiceIssued"]
        payments = tables["PaymentReceived"]
        promises = tables["PromiseMade"]
        id_columns = [
            table["originator_id"] for table in tables.values() if "originator_id" in table
        ]
        id_columns += [
            invoices["customer_id"],
            tables["PaymentApplied"]["payment_id"],
            payments["payer_customer_id"],
            promises["customer_id"],
            promises["invoice_ids.values"],
            tables["DelinquencyDiagnosed"]["customer_id"],
        ]
        id_count = 1 + max((int(column.max()) for column in id_columns if len(column)), default=0)
        # Customers, invoices, payments and promises are different aggregates, so their ids
        # never collide: one array maps any of them to its row in its own table.
        row_of_id = np.full(id_count, -1, np.int32)
        for name in ("CustomerAccountOpened", "InvoiceIssued", "PaymentReceived", "PromiseMade"):
            kernels.index_rows(_int32(tables[name]["originator_id"]), row_of_id)
        self.row_of_id = row_of_id
        self.customer_count = len(customers["originator_id"])
        self.invoice_count = len(invoices["originator_id"])

        self.currencies: tuple[str, ...] = tuple(
            sorted(
                set(customers["currency.dictionary"])
                | set(payments["currency.dictionary"])
                | set(promises["currency.dictionary"])
            )
        )
        self.minor_per_major = _int64([minor_per_major(code) for code in self.currencies])
        self.customer_currency = self._currency(customers)

        self.schedule: kernels.Schedule = (
            _int64(invoices["amount_minor"]),
            _int32(invoices["issued_on"]),
            due_on_in_force(invoices, tables["InvoiceDueDateOverridden"], row_of_id, on),
            _int64(invoices["instalments.offsets"]),
            _int32(invoices["instalments.due_on"]),
            _int64(invoices["instalments.amount_minor"]),
        )
        self.disputes = self._disputes(tables["DisputeOpened"], tables["DisputeResolved"])

        reversed_on = np.full(len(payments["originator_id"]), NO_DATE, np.int32)
        reversals = tables["PaymentReversed"]
        reversed_on[row_of_id[reversals["originator_id"]]] = reversals["reversed_on"]
        self.payment_reversed_on = reversed_on
        self.payment_value_on = _int32(payments["value_on"])

        promise_count = len(promises["originator_id"])
        self.promise_customer = _int32(row_of_id[promises["customer_id"]])
        self.policies = (
            self._policies(tables["EscalationPolicyAdopted"], decode_policy)
            if policy is None
            else _Policies([], self.currencies, base=policy)
        )
        closings = []
        for name, column in (
            ("PromiseWithdrawn", "withdrawn_on"),
            ("PromiseSuperseded", "superseded_on"),
        ):
            closed_on = np.full(promise_count, NO_DATE, np.int32)
            closed_on[row_of_id[tables[name]["originator_id"]]] = tables[name][column]
            closings.append(closed_on)
        invoice_rows = _int32(row_of_id[promises["invoice_ids.values"]])
        tranche_offsets, self.tranche_on, tranche_amount = promise_schedule(promises)
        self.promises: kernels.Promises = (
            self.promise_customer,
            _int32(promises["made_on"]),
            _int64(promises["amount_minor"]),
            self._currency(promises),
            closings[0],
            closings[1],
            _int32(promises["promised_on"]),
            _int64(promises["invoice_ids.offsets"]),
            invoice_rows,
            tranche_offsets,
            tranche_amount,
        )
        self.promise_start, self.promise_order = kernels.group(
            self.promise_customer, self.customer_count
        )
        self.policy_now = int(self.policies.index_on(np.asarray([on], np.int32))[0])
        self.ratings = self._ratings(tables["RiskRated"])
        self.diagnoses = self._diagnoses(tables["DelinquencyDiagnosed"])
        self.distress = tuple(
            (
                _int32(table["originator_id"]),
                _int64(table["seq"]),
                _int32(table[column]),
                np.ones(len(table["seq"]), np.int32),
            )
            for table, column in (
                (tables["BankruptcyFiled"], "filed_on"),
                (tables["FraudSuspected"], "suspected_on"),
            )
        )
        """Bankruptcies filed and frauds suspected, each a dated history of flags (1)."""
        # The tolerance of a promise's tranches goes by the customer's rating on the day the
        # promise was made (``promises.tranche_deadline_on``).
        promise_rating = kernels.values_on(
            self.rating_history(), self.promise_customer, self.promises[1], 0
        )
        self.tranche_rating = _int32(np.repeat(promise_rating, np.diff(tranche_offsets)))
        self.deadline_on = self.policies.deadline_on(self.tranche_on, self.tranche_rating)
        """Per tranche."""
        # The invoices' disputed amounts, written by ``figures``, hold until then what held
        # invoices had settled on the since date (``kernels.settle_since``).
        self.disputed_minor = np.empty(self.invoice_count, np.int64)
        self.customer_of_invoice, marks = self._marks(on, _int32(invoices["customer_id"]), held)
        # The group of each named invoice (``marks`` says which) goes where the invoices' days
        # past due go later (``figures``): a fresh array fewer in each query.
        self.days_past_due = np.empty(self.invoice_count, np.int32)
        group_of_invoice = self.days_past_due
        group_of_named, groups = kernels.named_groups(invoice_rows, marks, group_of_invoice)
        self.settled_minor, named_rows, named_groups, self.held = self._settle(
            on, marks, group_of_invoice
        )

        self.applications: Applications = (
            group_of_named,
            *kernels.group_applications(
                groups,
                named_rows,
                named_groups,
                row_of_id,
                _int32(tables["PaymentApplied"]["payment_id"]),
                _int32(tables["PaymentApplied"]["applied_on"]),
                _int64(tables["PaymentApplied"]["amount_minor"]),
                self.payment_value_on,
                self.payment_reversed_on,
            ),
        )
        self.payments = self._payments(payments, promises)

    def _marks(
        self, on: int, customer_id: Int32s, held: npt.NDArray[np.bool_] | None
    ) -> tuple[Int32s, npt.NDArray[np.int8]]:
        """(customer row of each invoice, its ``kernels.HELD`` mark): the invoices of the
        customers that may have a promise open on ``on`` (made by then, deadline not passed),
        when the policy then holds levels for open promises, and of the ``held`` customers;
        the others are never held."""
        candidate = np.zeros(self.customer_count, np.bool_) if held is None else held.copy()
        if self.policies.promise_suspends[self.policy_now]:
            made_on = self.promises[1]
            customers = self.promise_customer[
                (made_on <= on) & (on <= self.horizon_on()) & (self.promise_customer >= 0)
            ]
            candidate[customers] = True
        customer_of_invoice = np.empty(self.invoice_count, np.int32)
        marks = np.empty(self.invoice_count, np.int8)
        kernels.invoice_customers(
            kernels.threads(),
            self.row_of_id,
            customer_id,
            candidate,
            customer_of_invoice,
            marks,
            self.disputed_minor,
        )
        return customer_of_invoice, marks

    def horizon_on(self) -> Int32s:
        """Per promise, the latest of its tranches' deadlines: it cannot be open after it."""
        if not len(self.promise_customer):
            return np.empty(0, np.int32)
        return _int32(np.maximum.reduceat(self.deadline_on, self.promises[9][:-1]))

    def last_deadline_on(self) -> Int32s:
        """Per promise, its last tranche's deadline: the promise's own (``promises.judge``)."""
        return self.deadline_on[self.promises[9][1:] - 1]

    def _settle(
        self, on: int, marks: npt.NDArray[np.int8], group_of_invoice: Int32s
    ) -> tuple[Int64s, Int64s, Int32s, tuple[Int32s, Int32s, Int64s]]:
        """(settled by ``on`` per invoice, the rows of applications to named invoices and
        their groups, the movements of held invoices dated by ``on``: invoice, date, signed
        amount)."""
        threads = kernels.threads()
        # Split between threads only where the rows are many enough to pay for it.
        parts = threads if self.invoice_count >= _settle_split[0] * threads else 1
        rows = sum(len(self.tables[name]["originator_id"]) for name, _, _ in MOVEMENTS)
        applied = len(self.tables["PaymentApplied"]["originator_id"])
        settled = np.zeros(self.invoice_count, np.int64)
        # Each part has a region of the buffers as long as all rows could need; only the pages
        # written are ever touched.
        named_rows = np.empty(parts * applied, np.int64)
        named_groups = np.empty(parts * applied, np.int32)
        held_invoice = np.empty(parts * rows, np.int32)
        held_on = np.empty(parts * rows, np.int32)
        held_minor = np.empty(parts * rows, np.int64)
        counts = np.empty((parts, 2), np.int64)
        counts[:, 0] = np.arange(parts) * applied
        counts[:, 1] = np.arange(parts) * rows
        for name, column, sign in MOVEMENTS:
            table = self.tables[name]
            if not len(table["originator_id"]):
                continue
            columns = (
                self.row_of_id,
                _int32(table["originator_id"]),
                _int32(table[column]),
                _int64(table["amount_minor"]),
                sign,
                on,
                marks,
                group_of_invoice,
                settled,
                named_rows if name == "PaymentApplied" else named_rows[:0],
                named_groups,
                held_invoice,
                held_on,
                held_minor,
            )
            if parts > 1:
                kernels.settle(threads, *columns, counts)
            else:
                counts[0] = kernels.settle_part(
                    0, self.invoice_count, *columns, int(counts[0, 0]), int(counts[0, 1])
                )
        named = [slice(part * applied, counts[part, 0]) for part in range(parts)]
        held = [slice(part * rows, counts[part, 1]) for part in range(parts)]
        return (
            settled,
            _joined(named_rows, named),
            _joined(named_groups, named),
            (
                _joined(held_invoice, held),
                _joined(held_on, held),
                _joined(held_minor, held),
            ),
        )

    def _currency(self, table: Mapping[str, Any]) -> Int32s:
        """A table's currency codes as indexes into ``currencies`` (a copy of the column when its
        dictionary is already in that order, as it is when all tables have the same: always a
        new, writable array, so the kernels see one argument type whatever the data, and the
        variants ``arledger warm-up`` compiles are the ones every ledger uses)."""
        codes = [self.currencies.index(code) for code in table["currency.dictionary"]]
        if codes == list(range(len(codes))):
            return np.array(table["currency"], dtype=np.int32)
        return _int32(np.asarray(codes or [0], np.int32)[table["currency"]])

    def _disputes(self, opened: Mapping[str, Any], resolved: Mapping[str, Any]) -> kernels.Disputes:
        """The disputes chained by invoice, with the date each was resolved (``NO_DATE``: not).

        A resolution names a dispute of its invoice by reference (unique per invoice). Where
        the invoice has one dispute, that is the one, so references are compared (as strings of
        the two tables' dictionaries) only for invoices with several.
        """
        first = np.full(self.invoice_count, -1, np.int32)
        after = kernels.link(self.row_of_id, _int32(opened["originator_id"]), first)
        resolved_on = np.full(len(opened["originator_id"]), NO_DATE, np.int32)
        ambiguous = np.zeros(len(resolved["originator_id"]), np.bool_)
        kernels.match_resolutions(
            self.row_of_id,
            first,
            after,
            _int32(resolved["originator_id"]),
            _int32(resolved["resolved_on"]),
            resolved_on,
            ambiguous,
        )
        for row in np.flatnonzero(ambiguous):
            reference = resolved["dispute_reference.dictionary"][resolved["dispute_reference"][row]]
            dispute = int(first[self.row_of_id[resolved["originator_id"][row]]])
            opened_references = opened["dispute_reference.dictionary"]
            while (
                dispute >= 0
                and opened_references[opened["dispute_reference"][dispute]] != reference
            ):
                dispute = int(after[dispute])
            assert dispute >= 0, "a dispute resolved before it was opened"
            resolved_on[dispute] = resolved["resolved_on"][row]
        return (
            first,
            after,
            _int64(opened["amount_minor"]),
            _int32(opened["opened_on"]),
            resolved_on,
        )

    def _payments(self, payments: Mapping[str, Any], promises: Mapping[str, Any]) -> Payments:
        """Payments grouped by payer, for the customers with a promise naming no invoice."""
        unnamed = np.zeros(self.customer_count, np.bool_)
        offsets = promises["invoice_ids.offsets"]
        customers = self.promise_customer[np.diff(offsets) == 0]
        unnamed[customers[customers >= 0]] = True
        # Without such a customer no payment is read: the payments' columns are not prepared.
        wanted = bool(unnamed.any())
        no_rows = np.empty(0, np.int32)
        return kernels.group_payments(
            self.row_of_id,
            unnamed,
            self.customer_count,
            _int32(payments["payer_customer_id"]) if wanted else no_rows,
            self.payment_value_on,
            _int64(payments["amount_minor"]),
            self._currency(payments) if wanted else no_rows,
            self.payment_reversed_on,
        )

    def _ratings(self, rated: Mapping[str, Any]) -> tuple[Int32s, Int64s, Int32s, Int32s]:
        ordinals = np.asarray(
            [RATINGS[value] for value in rated["rating.dictionary"]] or [0], np.int32
        )
        return (
            _int32(rated["originator_id"]),
            _int64(rated["seq"]),
            _int32(rated["rated_on"]),
            _int32(ordinals[rated["rating"]]),
        )

    def _diagnoses(self, diagnosed: Mapping[str, Any]) -> tuple[Int32s, Int64s, Int32s, Int32s]:
        """(customer id, rank, diagnosed on, type code) per diagnosis: the rank orders them by
        date, then log order, so that the last ranked dated by a day is the diagnosis that
        stands then (``escalation.latest_diagnosis``) as ``kernels.latest`` reads it."""
        diagnosed_on = _int32(diagnosed["diagnosed_on"])
        rank = np.empty(len(diagnosed_on), np.int64)
        rank[np.lexsort((diagnosed["seq"], diagnosed_on))] = np.arange(len(diagnosed_on))
        codes = np.asarray(
            [DELINQUENCY_TYPES.index(value) for value in diagnosed["delinquency_type.dictionary"]]
            or [0],
            np.int32,
        )
        return (
            _int32(diagnosed["customer_id"]),
            rank,
            diagnosed_on,
            _int32(codes[diagnosed["delinquency_type"]]),
        )

    def diagnosis_history(self) -> kernels.History:
        """The diagnoses' type codes as a dated history by customer (ranked: ``_diagnoses``)."""
        return self._by_customer(*self.diagnoses)

    def _by_customer(
        self, originator_id: Int32s, seq: Int64s, dated_on: Int32s, value: Int32s
    ) -> kernels.History:
        customer = self.row_of_id[originator_id] if len(originator_id) else _int32([])
        start, order = kernels.group(_int32(customer), self.customer_count)
        return start, _int32(dated_on[order]), _int64(seq[order]), _int32(value[order])

    def standing(self, on: int) -> Int32s:
        """Per customer, its ``standing_index`` on ``on``."""
        on_by_customer = np.full(self.customer_count, on, np.int32)
        type_code = np.full(self.customer_count, -1, np.int32)
        kernels.latest(
            self.row_of_id,
            *self.diagnoses,
            on_by_customer,
            np.full(self.customer_count, -1, np.int64),
            type_code,
        )
        flags = []
        for history in self.distress:
            flag = np.zeros(self.customer_count, np.int32)
            kernels.latest(
                self.row_of_id,
                *history,
                on_by_customer,
                np.full(self.customer_count, -1, np.int64),
                flag,
            )
            flags.append(flag)
        return _int32(standing_index(type_code, flags[0], flags[1]))

    def rating_history(self) -> kernels.History:
        """The risk ratings (ordinals) as a dated history by customer."""
        originator_id, seq, rated_on, ordinal = self.ratings
        customer = self.row_of_id[originator_id] if len(originator_id) else _int32([])
        start, order = kernels.group(_int32(customer), self.customer_count)
        return start, _int32(rated_on[order]), _int64(seq[order]), _int32(ordinal[order])

    def _policies(
        self, adopted: Mapping[str, Any], decode_policy: Callable[[str], EscalationPolicy]
    ) -> _Policies:
        texts = adopted["policy.dictionary"]
        decoded = {code: decode_policy(text) for code, text in enumerate(texts)}
        versions = [
            (int(effective_on), decoded[int(code)])
            for code, effective_on in zip(adopted["policy"], adopted["effective_on"], strict=True)
        ]
        return _Policies(versions, self.currencies)

    def customer_rows(self, on: int) -> tuple[Int32s, Int32s]:
        """(rating ordinal, blacklisted 0/1) per customer on ``on``."""
        customer_of_id = self.row_of_id
        on_by_customer = np.full(self.customer_count, on, np.int32)
        rating = np.zeros(self.customer_count, np.int32)
        seq_best = np.full(self.customer_count, -1, np.int64)
        originator_id, seq, rated_on, ordinal = self.ratings
        kernels.latest(
            customer_of_id, originator_id, seq, rated_on, ordinal, on_by_customer, seq_best, rating
        )
        blacklisted = np.zeros(self.customer_count, np.int32)
        seq_best = np.full(self.customer_count, -1, np.int64)
        for name, column, value in (
            ("CustomerBlacklisted", "blacklisted_on", 1),
            ("CustomerCleared", "cleared_on", 0),
        ):
            table = self.tables[name]
            kernels.latest(
                customer_of_id,
                _int32(table["originator_id"]),
                _int64(table["seq"]),
                _int32(table[column]),
                np.full(len(table["originator_id"]), value, np.int32),
                on_by_customer,
                seq_best,
                blacklisted,
            )
        return rating, blacklisted

    def figures(
        self,
        on: int,
        policy_now: int,
        since_by_customer: Int32s,
        policy_since: Int32s,
        ageing: AgeingPolicy,
        invoice_buckets: bool,
    ) -> tuple[list[npt.NDArray[Any]], Int64s, Int64s, Int64s]:
        """``settle`` and ``invoice_pass`` on ``on`` and on each customer's since date:
        (per-invoice columns: open, disputed, overdue, days past due, ageing days, buckets;
        customer columns; customer buckets; customer columns on the since date)."""
        invoice_count = self.invoice_count
        held = bool((since_by_customer != NO_DATE).any())
        settled = self.settled_minor
        disputed = self.disputed_minor
        # What held invoices had settled on the since date is in ``disputed`` until the invoice
        # pass reads it and writes the invoice's disputed amount over it.
        settled_since = disputed if held else np.empty(0, np.int64)
        if held:
            kernels.settle_since(
                *self.held, self.customer_of_invoice, since_by_customer, settled_since
            )
        width = len(ageing.bucket_labels)
        # ``settled`` becomes the open amounts: the two are never needed at once.
        open_minor = settled
        overdue = np.empty(invoice_count, np.int64)
        days_max = self.days_past_due
        ageing_days = np.empty(invoice_count, np.int32)
        buckets = np.zeros((invoice_count if invoice_buckets else 0, width), np.int64)
        customer_out = np.zeros((self.customer_count, 6), np.int64)
        customer_buckets = np.zeros((self.customer_count, width), np.int64)
        customer_since = np.zeros((self.customer_count, 3), np.int64)
        policies = self.policies
        kernels.invoice_pass(
            kernels.threads(),
            self.customer_of_invoice,
            on,
            bool(policies.disputed_counts[policy_now]),
            since_by_customer,
            policies.disputed_counts[policy_since],
            self.schedule,
            settled,
            settled_since,
            self.disputes,
            _int64(ageing.edges_days),
            ageing.basis is AgeingBasis.ISSUE_DATE,
            open_minor,
            disputed,
            overdue,
            days_max,
            ageing_days,
            buckets,
            customer_out,
            customer_buckets,
            customer_since,
        )
        return (
            [open_minor, disputed, overdue, days_max, ageing_days, buckets],
            customer_out,
            customer_buckets,
            customer_since,
        )

    def run(
        self,
        on: int,
        as_of: date,
        known_at: datetime | None,
        ageing_policy: AgeingPolicy,
        invoice_buckets: bool,
    ) -> FastPortfolio:
        policies = self.policies
        customer_count = self.customer_count
        policy_now = self.policy_now
        deadline_on = self.deadline_on
        promise_count = len(self.promise_customer)
        status = np.empty(promise_count, np.int8)
        paid = np.empty(promise_count, np.int64)
        judged_on = np.empty(promise_count, np.int32)
        kernels.promise_pass(
            kernels.threads(),
            on,
            deadline_on,
            self.promises,
            self.applications,
            self.payments,
            status,
            paid,
            judged_on,
        )
        broken = np.empty(customer_count, np.int64)
        since = np.empty(customer_count, np.int32)
        kernels.promise_summary(
            kernels.threads(),
            status,
            self.promises[1],
            bool(policies.partly_kept_counts[policy_now]),
            self.promise_start,
            self.promise_order,
            broken,
            since,
        )
        # The time-driven level is held where it stood on the day the earliest open promise
        # was made: the same evaluation, on that day, for the customers with one.
        suspends = policies.promise_suspends[policy_now]
        since_by_customer = since if suspends else np.full(customer_count, NO_DATE, np.int32)
        policy_since = policies.index_on(since_by_customer)
        invoice_columns, figures, customer_buckets, figures_since = self.figures(
            on, policy_now, since_by_customer, policy_since, ageing_policy, invoice_buckets
        )
        rating, blacklisted = self.customer_rows(on)
        standing = self.standing(on)
        reasons = np.zeros((customer_count, kernels.RULES, 3), np.int64)
        raw_level = np.empty(customer_count, np.int64)
        level = np.empty(customer_count, np.int64)
        level_cap = np.empty(customer_count, np.int64)
        grade = np.empty(customer_count, np.int8)
        kernels.customer_pass(
            kernels.threads(),
            on,
            policy_now,
            since_by_customer,
            policy_since,
            self.customer_currency,
            self.minor_per_major,
            standing,
            policies.adjust,
            figures,
            figures_since,
            broken,
            rating,
            blacklisted,
            deadline_on,
            self.promise_start,
            self.promise_order,
            self.promises,
            self.applications,
            self.payments,
            policies.partly_kept_counts,
            policies.triggers,
            min(policies.long_after_days[policy_now], INT64_MAX),
            policies.large_above_minor[policy_now],
            reasons,
            raw_level,
            level,
            level_cap,
            grade,
        )
        overdue = figures[:, 2]
        days_max = figures[:, 3]

        invoices = self.tables["InvoiceIssued"]
        return FastPortfolio(
            as_of=as_of,
            known_at=known_at,
            policy=policies.policies[policy_now],
            ageing_policy=ageing_policy,
            currencies=self.currencies,
            invoices=InvoiceColumns(
                invoice_id=_int32(invoices["originator_id"]),
                customer=self.customer_of_invoice,
                open_minor=invoice_columns[0],
                disputed_minor=invoice_columns[1],
                overdue_minor=invoice_columns[2],
                days_past_due=invoice_columns[3],
                ageing_days_max=invoice_columns[4],
                buckets_minor=invoice_columns[5],
            ),
            customers=CustomerColumns(
                customer_id=_int32(self.tables["CustomerAccountOpened"]["originator_id"]),
                currency=self.customer_currency,
                open_minor=figures[:, 0],
                buckets_minor=customer_buckets,
                ageing_days_max=figures[:, 4],
                disputed_minor=figures[:, 1],
                overdue_minor=overdue,
                days_past_due_max=days_max,
                broken_promises=broken,
                rating=rating,
                is_blacklisted=blacklisted == 1,
                raw_level=raw_level,
                level=level,
                level_cap=level_cap,
                grade=grade,
                reasons=reasons,
                standing=standing,
            ),
            promises=PromiseColumns(
                promise_id=_int32(self.tables["PromiseMade"]["originator_id"]),
                customer=self.promise_customer,
                status=status,
                paid_minor=paid,
                deadline_on=self.last_deadline_on(),
                judged_on=judged_on,
            ),
        )


class _Policies:
    """The policy versions as arrays: index 0 is the built-in default, then one per adoption
    in recording order (``policy_book.policy_in_force`` semantics). ``base`` replaces the
    default at index 0: with no versions, the one policy of every date."""

    def __init__(
        self,
        versions: list[tuple[int, EscalationPolicy]],
        currencies: tuple[str, ...],
        base: EscalationPolicy = DEFAULT_ESCALATION_POLICY,
    ) -> None:
        self.versions = versions
        self.policies = [base] + [policy for _, policy in versions]
        policies = self.policies
        self.version = _int64([policy.version for policy in policies])
        self.disputed_counts = np.asarray([p.disputed_counts for p in policies], np.bool_)
        self.partly_kept_counts = np.asarray(
            [p.partly_kept_counts_as_broken for p in policies], np.bool_
        )
        self.promise_suspends = [p.promise_suspends for p in policies]
        # Per policy and rating ordinal (0: not rated).
        self.tolerance_days = _int32(
            [[p.promise_tolerance_days_for(RATING_OF.get(r)) for r in range(5)] for p in policies]
        )
        self.long_after_days = [p.long_after_days for p in policies]
        # Thresholds beyond int64 are capped where no amount can reach them, so that the
        # kernels' int64 arithmetic cannot wrap (a policy may say "never" with a huge figure).
        self.large_above_minor = [
            _int64([min(p.large_above_minor(code), INT64_MAX) for code in currencies] or [0])
            for p in policies
        ]
        levels, rules, thresholds, start = [], [], [], [0]
        for policy in policies:
            for level in policy.levels:
                for trigger in level.triggers:
                    levels.append(level.level)
                    rules.append(RULES.index(trigger.rule))
                    thresholds.append(min(trigger.threshold, THRESHOLD_MAX))
            start.append(len(levels))
        self.triggers: kernels.Triggers = (
            _int64(start),
            _int32(levels),
            _int32(rules),
            _int64(thresholds),
        )
        # Per policy, standing (``standing_index``) and level: the adjusted level
        # (``EscalationPolicy.adjusted_level``, the rule's one home, read as a table).
        width = max(len(policy.levels) for policy in policies)
        self.adjust = _int64(
            [policy.adjustment_table(DELINQUENCY_TYPES, width) for policy in policies]
        ).reshape(len(policies), STANDINGS, width)

    def index_on(self, on: Int32s) -> Int32s:
        """The policy in force on each date: the highest version effective by then."""
        index = np.zeros(len(on), np.int32)
        version = np.full(len(on), self.policies[0].version, np.int64)
        for position, (effective_on, policy) in enumerate(self.versions, start=1):
            newer = (effective_on <= on) & (policy.version > version)
            index[newer] = position
            version[newer] = policy.version
        return index

    def deadline_on(self, promised_on: Int32s, rating: Int32s) -> Int32s:
        """Promised date plus the tolerance of the policy in force on it, for the rating
        ordinal given (the customer's when the promise was made)."""
        return _int32(promised_on + self.tolerance_days[self.index_on(promised_on), rating])
