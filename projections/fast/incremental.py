"""Incremental updates of the fast path: the portfolio as of one date kept up to date as batches
of new events arrive, recomputing only the customers the batch touches.

``IncrementalPortfolio`` holds the log so far (the ``fast_path.SELECT`` columns, in growable
buffers), an index of every row by the customer it belongs to, and the result for one
(``as_of``, ``known_at``, ageing policy). ``apply(batch)`` appends the batch's rows, finds the
customers they belong to, runs ``fast_path.fast_portfolio`` (a black box here) on the sub-log of
every row of those customers, and writes that result into their rows of the whole result.

Why a customer is the unit: every figure of a customer, its invoices and its promises is a
function of that customer's rows alone, plus the policy versions (which touch everyone) and the
set of currencies (which numbers the currency codes). A row belongs to a customer through its
aggregate: a movement or dispute through its invoice's ``InvoiceIssued.customer_id``, a reversal
through its payment's ``PaymentReceived.payer_customer_id``, a promise's closing through its
``PromiseMade.customer_id``, a rating or blacklisting directly. Nothing crosses customers
because the domain forbids it: a payment settles only its payer's invoices
(``domain.payment``, "no triangular debt") and a promise names only its customer's invoices
(``domain.promise``). A log that breaks either rule is refused (``IncrementalRefusedError``),
as is a row whose aggregate is unknown, because either would make one customer's figures depend
on another's rows. A batch with an ``EscalationPolicyAdopted``, or one that brings a new
currency, changes everyone: it is applied by a full recompute (``Update.full``).

Invariant: after every ``apply`` the result equals ``fast_portfolio`` on the whole log so far,
array for array (tested). Per batch the work is proportional to the batch and to the rows of
the customers it touches, never to the log, amortised: rows are indexed by customer (an index
of each customer's rows plus the recent rows, merged into the index once they pass a share of
it), the sub-log's ids are renumbered densely (the fast path sizes its id map by the largest
id), and the result is updated in place. The merge, and the growth of a full buffer, are the
O(log) steps a batch now and then pays for the many after it. The result is a view of this
object's buffers: the next ``apply`` supersedes it (it is updated in place, or left stale when a
buffer grows); copy the arrays to keep a result. With ``known_at``, rows recorded after it are
dropped as they arrive: they would never count for this result.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final, TypeVar, cast
from uuid import UUID

import attrs
import numba
import numpy as np
import numpy.typing as npt

from arledger.domain.errors import ArledgerError
from arledger.domain.events import ALL_EVENTS
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast.portfolio import (
    Columns,
    CustomerColumns,
    FastPortfolio,
    InvoiceColumns,
    PromiseColumns,
    fast_portfolio,
    microseconds,
    take_rows,
)

F = TypeVar("F", bound=Callable[..., Any])
Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]

SELECT: Final = fast_path.SELECT
POLICIES: Final = "EscalationPolicyAdopted"
"""The one table that belongs to no customer: a policy version changes everyone's figures."""

CUSTOMER, INVOICE, PAYMENT, PROMISE = 1, 2, 3, 4
"""Kinds of aggregate an id can be (0: none known)."""
AGGREGATES: Final = {
    "CustomerAccountOpened": CUSTOMER,
    "InvoiceIssued": INVOICE,
    "PaymentReceived": PAYMENT,
    "PromiseMade": PROMISE,
}
"""The tables whose rows create an aggregate (the result's rows are theirs)."""
OWNER_COLUMNS: Final[Mapping[str, tuple[str, int]]] = {
    "CustomerAccountOpened": ("originator_id", CUSTOMER),
    "InvoiceIssued": ("customer_id", CUSTOMER),
    "PaymentReceived": ("payer_customer_id", CUSTOMER),
    "PromiseMade": ("customer_id", CUSTOMER),
    "PaymentApplied": ("originator_id", INVOICE),
    "PaymentUnapplied": ("originator_id", INVOICE),
    "CreditNoteApplied": ("originator_id", INVOICE),
    "ConcessionApproved": ("originator_id", INVOICE),
    "GoodsInLieuApplied": ("originator_id", INVOICE),
    "InvoiceWrittenOff": ("originator_id", INVOICE),
    "InvoiceReinstated": ("originator_id", INVOICE),
    "DisputeOpened": ("originator_id", INVOICE),
    "DisputeResolved": ("originator_id", INVOICE),
    "InvoiceDueDateOverridden": ("originator_id", INVOICE),
    "PaymentReversed": ("originator_id", PAYMENT),
    "PromiseWithdrawn": ("originator_id", PROMISE),
    "PromiseSuperseded": ("originator_id", PROMISE),
    "RiskRated": ("originator_id", CUSTOMER),
    "CustomerBlacklisted": ("originator_id", CUSTOMER),
    "CustomerCleared": ("originator_id", CUSTOMER),
    "DelinquencyDiagnosed": ("customer_id", CUSTOMER),
    "BankruptcyFiled": ("originator_id", CUSTOMER),
    "FraudSuspected": ("originator_id", CUSTOMER),
}
"""Per table: the id column that leads a row to its customer, and the kind of that id."""
assert set(OWNER_COLUMNS) | {POLICIES} == set(SELECT), "a fast-path table without an owner"
TABLES: Final = tuple(OWNER_COLUMNS)
"""Tables indexed by customer; a row's chain entry records its table as the index here."""
ROW_BITS: Final = 26
ROW_MAX: Final = (1 << ROW_BITS) - 1
"""A chain entry holds its table (the high bits: 18 tables fit in the five left) and its row
(the low ``ROW_BITS``) in one int32: 67 million rows a table, six times the 10M-invoice log."""
assert len(TABLES) < 1 << (31 - ROW_BITS)

SHARED_DICTIONARY: Final = "currency"
"""The string column whose dictionary numbers the result's currencies: passed whole to every
sub-log (the other dictionaries are cut down to the values the sub-log uses)."""
GROWTH: Final = 1.25
"""Buffers grow by a quarter (plus ``HEADROOM_MIN``): amortised O(1) per row, and a 10M-row
buffer does not double its memory at once."""
HEADROOM_MIN: Final = 4_096
RECENT_SHARE: Final = 1 / 16
RECENT_MIN: Final = 1 << 18
"""Recent rows are merged into the by-customer index past a sixteenth of it (or 262,144
rows): each batch scans at most that many (about a millisecond at 10M invoices), and the O(log)
merge comes once in that many rows."""
SHARE_FULL: Final = 0.25
"""Above this share of the customers touched, one full recompute is cheaper than gathering."""


def _kernel(function: F) -> F:
    """``numba.njit(cache=True)``, typed for mypy (numba ships no type hints)."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


def _id_columns() -> dict[str, tuple[str, ...]]:
    """Per table, the columns (as ``columns`` names them) holding ids: read from the event
    classes' UUID fields, so a column the fast path starts reading cannot be missed."""
    classes = {cls.__name__: cls for cls in ALL_EVENTS}
    found: dict[str, tuple[str, ...]] = {}
    for name, selected in SELECT.items():
        hints = typing.get_type_hints(classes[name])
        keys = []
        for column in selected:
            hint = hints.get(column)
            if hint is UUID:
                keys.append(column)
            elif typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is UUID:
                keys.append(f"{column}.values")
        found[name] = tuple(keys)
    return found


ID_COLUMNS: Final = _id_columns()


@attrs.define(kw_only=True, slots=False)
class IncrementalRefusedError(ArledgerError, ValueError):
    """A batch (or base log) the incremental update cannot take; nothing was changed.

    ``table`` and ``reason`` say which rows and why: an unknown aggregate, an aggregate created
    twice, or a link across customers that the domain forbids.
    """

    table: str | None = None
    reason: str | None = None
    rows: int | None = None
    """How many rows of the batch were refused, when counted."""


@attrs.frozen(kw_only=True)
class Update:
    """What the last ``apply`` did (for callers and tests: which path it took, how much)."""

    events: int
    """Rows of the batch the result reads (known by ``known_at``)."""
    full: bool
    """True when everyone was recomputed (a policy version, a new currency, a large batch)."""
    customers: int
    """Customers recomputed."""
    rows: int
    """Rows of the sub-log the fast path ran on."""


# Growable buffers -----------------------------------------------------------------------------


class _Buffer:
    """An array with spare capacity along its first axis: appended to in place."""

    __slots__ = ("data", "size")

    def __init__(self, data: npt.NDArray[Any], size: int | None = None) -> None:
        self.data = data
        self.size = len(data) if size is None else size

    @classmethod
    def empty(cls, like: npt.NDArray[Any], capacity: int = 0) -> _Buffer:
        return cls(np.empty((capacity, *like.shape[1:]), like.dtype), 0)

    def reserve(self, size: int) -> None:
        """Capacity for ``size`` rows (the values beyond ``self.size`` are undefined)."""
        capacity = len(self.data)
        if size <= capacity:
            return
        # Headroom even on the first fill: a base log of millions of rows must not be copied
        # again by the first batch.
        capacity = max(size + size // 8, int(capacity * GROWTH)) + HEADROOM_MIN
        data = np.empty((capacity, *self.data.shape[1:]), self.data.dtype)
        data[: self.size] = self.data[: self.size]
        self.data = data

    def extend(self, values: npt.NDArray[Any]) -> None:
        size = self.size + len(values)
        self.reserve(size)
        self.data[self.size : size] = values
        self.size = size

    def resize(self, size: int, fill: Any) -> None:
        """Grow to ``size`` rows, the new ones set to ``fill``."""
        if size > self.size:
            self.reserve(size)
            self.data[self.size : size] = fill
            self.size = size

    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.size]


class _Dictionary:
    """One string column's values, shared by every table with that column: batch codes are
    remapped into it (a batch's own dictionary is its own numbering)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.code_of: dict[Any, int] = {}
        self._last: tuple[tuple[Any, ...], Int32s] | None = None

    def lookup(self, dictionary: tuple[Any, ...]) -> Int32s:
        """State code of each of the batch dictionary's codes (adds new values)."""
        last = self._last
        if last is not None and last[0] is dictionary:
            return last[1]
        codes = np.empty(len(dictionary), np.int32)
        for index, value in enumerate(dictionary):
            code = self.code_of.get(value)
            if code is None:
                code = self.code_of[value] = len(self.values)
                self.values.append(value)
            codes[index] = code
        self._last = (dictionary, codes)
        return codes

    def truncate(self, size: int) -> None:
        """Forget the values added after the first ``size`` (a refused batch's)."""
        for value in self.values[size:]:
            del self.code_of[value]
        del self.values[size:]
        self._last = None


class _Table:
    """One event class's columns so far; list columns as offsets plus child buffers."""

    def __init__(self, name: str, base: Mapping[str, Any]) -> None:
        self.name = name
        # Only the fast path's columns (a list column with its children and offsets).
        base = {key: value for key, value in base.items() if key.split(".")[0] in SELECT[name]}
        self.lists = tuple(key[: -len(".offsets")] for key in base if key.endswith(".offsets"))
        self.strings = tuple(
            key[: -len(".dictionary")] for key in base if key.endswith(".dictionary")
        )
        self.plain = tuple(
            key for key in base if not key.endswith(".dictionary") and self._owner(key) is None
        )
        self.children = {
            owner: tuple(
                key
                for key in base
                if key.startswith(owner + ".")
                and key != owner + ".offsets"
                and not key.endswith(".dictionary")
            )
            for owner in self.lists
        }
        for children in self.children.values():
            assert not any(child in self.strings for child in children), "string list child"
        self.buffers = {key: _Buffer.empty(np.asarray(base[key])) for key in self.plain}
        for owner in self.lists:
            self.buffers[owner + ".offsets"] = _Buffer(np.zeros(1, np.int64))
            for child in self.children[owner]:
                self.buffers[child] = _Buffer.empty(np.asarray(base[child]))
        self.count = 0

    def _owner(self, key: str) -> str | None:
        return next((owner for owner in self.lists if key.startswith(owner + ".")), None)

    def append(self, rows: Mapping[str, npt.NDArray[Any]], count: int) -> None:
        for key in self.plain:
            self.buffers[key].extend(rows[key])
        for owner in self.lists:
            offsets = self.buffers[owner + ".offsets"]
            children = self.children[owner]
            base = int(offsets.view()[-1])
            added = rows[owner + ".offsets"]
            offsets.extend(added[1:] - added[0] + base)
            for child in children:
                self.buffers[child].extend(rows[child])
        self.count += count

    def view(self, dictionaries: Mapping[str, _Dictionary]) -> dict[str, Any]:
        table: dict[str, Any] = {key: buffer.view() for key, buffer in self.buffers.items()}
        for key in self.strings:
            table[key + ".dictionary"] = tuple(dictionaries[key].values)
        return table

    def take(self, rows: Int64s, dictionaries: Mapping[str, _Dictionary]) -> dict[str, Any]:
        """The rows given (in that order), string columns with a dictionary of the values they
        use (the shared one whole)."""
        table = take_rows({key: buffer.view() for key, buffer in self.buffers.items()}, rows)
        for key in self.strings:
            values = dictionaries[key].values
            if key == SHARED_DICTIONARY:
                table[key + ".dictionary"] = tuple(values)
                continue
            used, codes = np.unique(table[key], return_inverse=True)
            table[key] = codes.astype(np.int32).reshape(-1)
            table[key + ".dictionary"] = tuple(values[int(code)] for code in used)
        return table


# Kernels --------------------------------------------------------------------------------------


@_kernel
def _merge(
    start: Int64s, order: Int32s, owners: Int32s, entries: Int32s, customer_count: int
) -> tuple[Int64s, Int32s]:
    """The index with the recent entries merged in: (start, order) with customer ``c``'s entries
    in ``order[start[c]:start[c + 1]]``, the indexed ones first, then the recent ones in the
    order given."""
    indexed = start.shape[0] - 1
    merged = np.zeros(customer_count + 1, np.int64)
    for customer in range(indexed):
        merged[customer + 1] = start[customer + 1] - start[customer]
    for owner in owners:
        merged[owner + 1] += 1
    for customer in range(customer_count):
        merged[customer + 1] += merged[customer]
    merged_order = np.empty(merged[customer_count], np.int32)
    fill = merged[:-1].copy()
    for customer in range(indexed):
        length = start[customer + 1] - start[customer]
        merged_order[fill[customer] : fill[customer] + length] = order[
            start[customer] : start[customer + 1]
        ]
        fill[customer] += length
    for index in range(owners.shape[0]):
        merged_order[fill[owners[index]]] = entries[index]
        fill[owners[index]] += 1
    return merged, merged_order


@_kernel
def _gather(
    customers: Int64s,
    start: Int64s,
    order: Int32s,
    owners: Int32s,
    entries: Int32s,
    wanted: npt.NDArray[np.bool_],
) -> Int32s:
    """The entries of the customers given: from the index, then from the recent entries (one
    pass over them). ``wanted`` (one flag per customer) comes in and goes out all False."""
    indexed = start.shape[0] - 1
    count = 0
    for customer in customers:
        wanted[customer] = True
        if customer < indexed:
            count += start[customer + 1] - start[customer]
    for owner in owners:
        if wanted[owner]:
            count += 1
    found = np.empty(count, np.int32)
    count = 0
    for customer in customers:
        if customer < indexed:
            length = start[customer + 1] - start[customer]
            found[count : count + length] = order[start[customer] : start[customer + 1]]
            count += length
    for index in range(owners.shape[0]):
        if wanted[owners[index]]:
            found[count] = entries[index]
            count += 1
    for customer in customers:
        wanted[customer] = False
    return found


@_kernel
def _renumber(ids: Int32s, local_of_id: Int32s, touched: Int32s, count: int) -> int:
    """Ids to dense local numbers in place (first come, first numbered); returns the count."""
    for index in range(ids.shape[0]):
        value = ids[index]
        local = local_of_id[value]
        if local < 0:
            local = count
            local_of_id[value] = local
            touched[count] = value
            count += 1
        ids[index] = local
    return count


# The incremental portfolio --------------------------------------------------------------------


class _CachedDecode:
    """``decode_policy`` once per policy text: the fast path decodes every one on each call."""

    def __init__(self, decode: Callable[[str], EscalationPolicy]) -> None:
        self.decode = decode
        self.cache: dict[str, EscalationPolicy] = {}

    def __call__(self, text: str) -> EscalationPolicy:
        policy = self.cache.get(text)
        if policy is None:
            policy = self.cache[text] = self.decode(text)
        return policy


INVOICE_FIELDS: Final = tuple(
    field.name for field in attrs.fields(InvoiceColumns) if field.name != "invoice_id"
)
CUSTOMER_FIELDS: Final = tuple(
    field.name for field in attrs.fields(CustomerColumns) if field.name != "customer_id"
)
PROMISE_FIELDS: Final = tuple(
    field.name for field in attrs.fields(PromiseColumns) if field.name != "promise_id"
)
ROW_REFERENCES: Final = {"customer"}
"""Result fields holding a customer's row: remapped from the sub-log's rows to the whole's."""


class IncrementalPortfolio:
    """The fast path's portfolio as of one date, brought up to date batch by batch.

    Args:
        columns: the log so far, ``columnar.columns(log, select=fast_path.SELECT)`` (every
            table, even empty; extra columns are ignored).
        as_of, decode_policy, known_at, ageing_policy, invoice_buckets: as ``fast_portfolio``.
        share_full: a batch touching more than this share of the customers is applied by one
            full recompute (the result is the same either way).

    Raises:
        IncrementalRefusedError: the log breaks a rule the per-customer update relies on.
    """

    def __init__(
        self,
        columns: Columns,
        as_of: date,
        *,
        decode_policy: Callable[[str], EscalationPolicy],
        known_at: datetime | None = None,
        ageing_policy: AgeingPolicy | None = None,
        invoice_buckets: bool = False,
        share_full: float = SHARE_FULL,
    ) -> None:
        self.as_of = as_of
        self.share_full = share_full
        self.known_at = known_at
        self.ageing_policy = ageing_policy or AgeingPolicy()
        self.invoice_buckets = invoice_buckets
        self._decode = _CachedDecode(decode_policy)
        self._limit = None if known_at is None else microseconds(known_at)
        for name, selected in SELECT.items():
            given = columns.get(name, {})
            missing = [c for c in selected if c not in given and f"{c}.offsets" not in given]
            if missing:
                raise IncrementalRefusedError(
                    f"{name} lacks columns {missing}", table=name, reason="missing columns"
                )
        self._tables = {name: _Table(name, columns[name]) for name in SELECT}
        self._dictionaries: dict[str, _Dictionary] = {}
        for table in self._tables.values():
            for key in table.strings:
                self._dictionaries.setdefault(key, _Dictionary())
        # Per id: the kind of aggregate and the customer row it belongs to.
        self._kind_of_id = _Buffer(np.zeros(0, np.int8))
        self._owner_of_id = _Buffer(np.zeros(0, np.int32))
        # The rows by customer: an index (customer c's entries in order[start[c]:start[c + 1]],
        # an entry being ``table << ROW_BITS | row``) and the recent entries with their owners,
        # merged into the index when they grow past ``RECENT_SHARE`` of it.
        self._start = np.zeros(1, np.int64)
        self._order = np.zeros(0, np.int32)
        self._recent_owners = _Buffer(np.zeros(0, np.int32))
        self._recent_entries = _Buffer(np.zeros(0, np.int32))
        self._wanted = _Buffer(np.zeros(0, np.bool_))
        self._local_of_id = np.zeros(0, np.int32)
        self._result: dict[str, dict[str, _Buffer]] = {}
        self._policy: EscalationPolicy | None = None
        self._currencies: tuple[str, ...] = ()
        self._broken = False
        self.last_update = Update(events=0, full=True, customers=0, rows=0)
        self._apply(columns, initial=True)
        # The renumbering scratch (one int per id) now, not in the first batch.
        self._local_of_id = np.full(len(self._kind_of_id.data), -1, np.int32)

    @property
    def result(self) -> FastPortfolio:
        """The portfolio as of ``as_of`` over the log so far (a view: see the module)."""
        self._check_usable()
        invoices, customers, promises = (
            {key: buffer.view() for key, buffer in self._result[part].items()}
            for part in ("invoices", "customers", "promises")
        )
        assert self._policy is not None
        return FastPortfolio(
            as_of=self.as_of,
            known_at=self.known_at,
            policy=self._policy,
            ageing_policy=self.ageing_policy,
            currencies=self._currencies,
            invoices=InvoiceColumns(
                invoice_id=self._tables["InvoiceIssued"].buffers["originator_id"].view(),
                **invoices,
            ),
            customers=CustomerColumns(
                customer_id=self._tables["CustomerAccountOpened"].buffers["originator_id"].view(),
                **customers,
            ),
            promises=PromiseColumns(
                promise_id=self._tables["PromiseMade"].buffers["originator_id"].view(),
                **promises,
            ),
        )

    def apply(self, batch: Columns) -> FastPortfolio:
        """Add a batch of new events (the ``columns`` layout; ``seq`` after the log's, ids
        indexes of the same ids table) and return the result over the log so far.

        Raises:
            IncrementalRefusedError: the batch refers to an aggregate the log does not have,
                creates one twice, or links customers; nothing was changed.
        """
        self._check_usable()
        self._apply(batch, initial=False)
        return self.result

    def _check_usable(self) -> None:
        if self._broken:
            raise RuntimeError(
                "an earlier apply failed after validation: this IncrementalPortfolio is "
                "inconsistent; build a new one from the log"
            )

    # Steps of apply ---------------------------------------------------------------------------

    def _apply(self, batch: Columns, *, initial: bool) -> None:
        currencies_before = self._currency_set()
        sizes = {key: len(dictionary.values) for key, dictionary in self._dictionaries.items()}
        try:
            rows = self._known_rows(batch)
            new_currency = self._currency_set() != currencies_before
            events = sum(len(table[self._tables[name].plain[0]]) for name, table in rows.items())
            if events == 0 and not new_currency and not initial:
                self.last_update = Update(events=0, full=False, customers=0, rows=0)
                return
            owners = self._resolve(rows)
        except IncrementalRefusedError:
            for key, dictionary in self._dictionaries.items():
                dictionary.truncate(sizes[key])
            raise
        self._broken = True
        # From here on the state changes: a failure leaves the object marked unusable.
        for name, table in rows.items():
            self._append(name, table, owners.get(name))
        affected = np.unique(np.concatenate([np.zeros(0, np.int32), *owners.values()]))
        customer_count = self._tables["CustomerAccountOpened"].count
        full = (
            initial
            or new_currency
            or len(rows[POLICIES][self._tables[POLICIES].plain[0]]) > 0
            or len(affected) > self.share_full * customer_count
        )
        self._index_recent(always=full)
        if full:
            self._recompute_all(events)
        else:
            self._recompute(affected.astype(np.int64), events)
        self._broken = False

    def _currency_set(self) -> frozenset[Any]:
        dictionary = self._dictionaries.get(SHARED_DICTIONARY)
        return frozenset(() if dictionary is None else dictionary.values)

    def _known_rows(self, batch: Columns) -> dict[str, dict[str, npt.NDArray[Any]]]:
        """Per table, the batch's rows known by ``known_at``, string codes in the state's
        dictionaries (merged first: the fast path's currencies come from whole dictionaries)."""
        found: dict[str, dict[str, npt.NDArray[Any]]] = {}
        for name, state in self._tables.items():
            table = batch.get(name)
            if table is None:
                found[name] = {
                    key: buffer.data[:0] if not key.endswith(".offsets") else np.zeros(1, np.int64)
                    for key, buffer in state.buffers.items()
                }
                continue
            missing = [key for key in state.buffers if key not in table]
            missing += [
                key + ".dictionary" for key in state.strings if key + ".dictionary" not in table
            ]
            if missing:
                raise IncrementalRefusedError(
                    f"{name} lacks columns {missing}", table=name, reason="missing columns"
                )
            selected: dict[str, Any] = {key: table[key] for key in state.buffers}
            for key in state.strings:
                selected[key + ".dictionary"] = table[key + ".dictionary"]
            if self._limit is not None:
                keep = np.flatnonzero(np.asarray(table["timestamp"]) <= self._limit)
                if len(keep) < len(table["timestamp"]):
                    selected = take_rows(selected, keep)
            for key in state.strings:
                lookup = self._dictionaries[key].lookup(tuple(selected.pop(key + ".dictionary")))
                selected[key] = lookup[np.asarray(selected[key], np.int64)]
            found[name] = {
                key: np.asarray(value, state.buffers[key].data.dtype)
                for key, value in selected.items()
            }
        return found

    def _resolve(self, rows: Mapping[str, Mapping[str, npt.NDArray[Any]]]) -> dict[str, Int32s]:
        """The customer row of each new row, per table; ids of new aggregates registered.

        Checks everything before the caller changes anything else: on a refusal the new ids
        are unregistered again and the state is as it was.
        """
        id_max = max(
            (
                int(rows[name][key].max())
                for name, keys in ID_COLUMNS.items()
                for key in keys
                if len(rows[name][key])
            ),
            default=-1,
        )
        self._kind_of_id.resize(id_max + 1, 0)
        self._owner_of_id.resize(id_max + 1, -1)
        for name, table in rows.items():
            count = len(table[self._tables[name].plain[0]])
            if self._tables[name].count + count > ROW_MAX:
                raise IncrementalRefusedError(
                    f"{name}: more than {ROW_MAX} rows", table=name, reason="too many rows"
                )
        kind_of_id = self._kind_of_id.view()
        owner_of_id = self._owner_of_id.view()
        created: list[Int32s] = []
        try:
            owners: dict[str, Int32s] = {}
            # Customers first: the other aggregates belong to them.
            for name in (
                "CustomerAccountOpened",
                "InvoiceIssued",
                "PaymentReceived",
                "PromiseMade",
            ):
                ids = rows[name]["originator_id"]
                self._refuse_if(
                    kind_of_id[ids] != 0, name, "an aggregate created twice or an id reused"
                )
                self._refuse_if(
                    len(np.unique(ids)) < len(ids), name, "an aggregate created twice in the batch"
                )
                if name == "CustomerAccountOpened":
                    owner = (self._tables[name].count + np.arange(len(ids))).astype(np.int32)
                else:
                    owner = self._owner(rows, name, kind_of_id, owner_of_id)
                kind_of_id[ids] = AGGREGATES[name]
                owner_of_id[ids] = owner
                created.append(ids)
                owners[name] = owner
            for name in TABLES:
                if name not in owners:
                    owners[name] = self._owner(rows, name, kind_of_id, owner_of_id)
            applied = rows["PaymentApplied"]
            payment = applied["payment_id"]
            self._refuse_if(kind_of_id[payment] != PAYMENT, "PaymentApplied", "unknown payment")
            self._refuse_if(
                owner_of_id[payment] != owners["PaymentApplied"],
                "PaymentApplied",
                "a payment settles another customer's invoice",
            )
            promised = rows["PromiseMade"]
            named = promised["invoice_ids.values"]
            promise_owner = np.repeat(
                owners["PromiseMade"], np.diff(promised["invoice_ids.offsets"])
            )
            self._refuse_if(kind_of_id[named] != INVOICE, "PromiseMade", "unknown invoice named")
            self._refuse_if(
                owner_of_id[named] != promise_owner,
                "PromiseMade",
                "a promise names another customer's invoice",
            )
        except IncrementalRefusedError:
            for ids in created:
                kind_of_id[ids] = 0
                owner_of_id[ids] = -1
            raise
        return owners

    def _owner(
        self,
        rows: Mapping[str, Mapping[str, npt.NDArray[Any]]],
        name: str,
        kind_of_id: npt.NDArray[np.int8],
        owner_of_id: Int32s,
    ) -> Int32s:
        column, kind = OWNER_COLUMNS[name]
        ids = rows[name][column]
        self._refuse_if(kind_of_id[ids] != kind, name, f"unknown {column}")
        owners: Int32s = owner_of_id[ids]
        return owners

    @staticmethod
    def _refuse_if(bad: npt.NDArray[np.bool_] | bool, table: str, reason: str) -> None:
        count = int(np.count_nonzero(bad))
        if count:
            raise IncrementalRefusedError(
                f"{table}: {reason} ({count} rows)", table=table, reason=reason, rows=count
            )

    def _append(
        self, name: str, rows: Mapping[str, npt.NDArray[Any]], owners: Int32s | None
    ) -> None:
        table = self._tables[name]
        count = len(rows[table.plain[0]])
        first_row = table.count
        table.append(rows, count)
        if owners is None or count == 0:
            return
        assert first_row + count <= ROW_MAX, "checked by _resolve"
        self._recent_owners.extend(owners)
        self._recent_entries.extend(
            (TABLES.index(name) << ROW_BITS)
            + np.arange(first_row, first_row + count, dtype=np.int32)
        )

    def _index_recent(self, *, always: bool) -> None:
        """Merge the recent entries into the index: when asked (a full recompute is O(log)
        anyway) or when they outgrow ``RECENT_SHARE`` of it, so that scanning them stays a
        small part of a batch and merging costs O(1) a row, amortised."""
        recent = self._recent_owners.size
        if not always and recent <= max(RECENT_MIN, RECENT_SHARE * len(self._order)):
            return
        customers = self._tables["CustomerAccountOpened"].count
        self._start, self._order = _merge(
            self._start,
            self._order,
            self._recent_owners.view(),
            self._recent_entries.view(),
            customers,
        )
        self._recent_owners.size = 0
        self._recent_entries.size = 0
        self._wanted.resize(customers, False)

    def _state_columns(self) -> dict[str, dict[str, Any]]:
        return {name: table.view(self._dictionaries) for name, table in self._tables.items()}

    def _recompute_all(self, events: int) -> None:
        result = fast_portfolio(
            self._state_columns(),
            self.as_of,
            decode_policy=self._decode,
            ageing_policy=self.ageing_policy,
            invoice_buckets=self.invoice_buckets,
        )
        self._policy = result.policy
        self._currencies = result.currencies
        self._result = {}
        for part, fields, columns in (
            ("invoices", INVOICE_FIELDS, result.invoices),
            ("customers", CUSTOMER_FIELDS, result.customers),
            ("promises", PROMISE_FIELDS, result.promises),
        ):
            buffers = {}
            for field in fields:
                values = getattr(columns, field)
                # Headroom now, while the copy is part of a full recompute anyway.
                buffer = _Buffer.empty(values, len(values) + max(len(values) // 8, HEADROOM_MIN))
                buffer.extend(values)
                buffers[field] = buffer
            self._result[part] = buffers
        self.last_update = Update(
            events=events,
            full=True,
            customers=len(result.customers.customer_id),
            rows=sum(table.count for table in self._tables.values()),
        )

    def _recompute(self, customers: Int64s, events: int) -> None:
        self._wanted.resize(self._tables["CustomerAccountOpened"].count, False)
        gathered = _gather(
            customers,
            self._start,
            self._order,
            self._recent_owners.view(),
            self._recent_entries.view(),
            self._wanted.data,
        ).astype(np.int64)
        gathered.sort()
        bounds = np.searchsorted(gathered, np.arange(len(TABLES) + 1, dtype=np.int64) << ROW_BITS)
        sub: dict[str, dict[str, Any]] = {}
        row_sets: dict[str, Int64s] = {}
        for index, name in enumerate(TABLES):
            rows = gathered[bounds[index] : bounds[index + 1]] & ROW_MAX
            row_sets[name] = rows
            sub[name] = self._tables[name].take(rows, self._dictionaries)
        policies = self._tables[POLICIES]
        sub[POLICIES] = policies.take(np.arange(policies.count), self._dictionaries)
        self._renumber(sub)
        result = fast_portfolio(
            sub,
            self.as_of,
            decode_policy=self._decode,
            ageing_policy=self.ageing_policy,
            invoice_buckets=self.invoice_buckets,
        )
        assert result.currencies == self._currencies, "currencies changed without a full run"
        assert result.policy == self._policy, "the policy changed without a full run"
        customer_rows = row_sets["CustomerAccountOpened"]
        assert np.array_equal(customer_rows, customers), "a customer's chain lacks its opening"
        for part, fields, columns, name in (
            ("invoices", INVOICE_FIELDS, result.invoices, "InvoiceIssued"),
            ("customers", CUSTOMER_FIELDS, result.customers, "CustomerAccountOpened"),
            ("promises", PROMISE_FIELDS, result.promises, "PromiseMade"),
        ):
            rows = row_sets[name]
            count = self._tables[name].count
            added = count - self._result[part][fields[0]].size
            assert np.array_equal(rows[len(rows) - added :], np.arange(count - added, count)), (
                f"new {part} not recomputed"
            )
            for field in fields:
                buffer = self._result[part][field]
                values = getattr(columns, field)
                if field == "buckets_minor" and part == "invoices" and not self.invoice_buckets:
                    continue
                if field in ROW_REFERENCES:
                    values = customer_rows[values].astype(buffer.data.dtype)
                assert len(values) == len(rows), f"{part}.{field}: rows lost"
                buffer.reserve(count)
                buffer.size = count
                buffer.data[rows] = values
        self.last_update = Update(
            events=events,
            full=False,
            customers=len(customers),
            rows=sum(len(rows) for rows in row_sets.values()),
        )

    def _renumber(self, sub: dict[str, dict[str, Any]]) -> None:
        """The sub-log's ids as dense local numbers: the fast path maps ids to rows with an
        array as long as the largest id, which would make every batch cost the whole log."""
        id_count = self._kind_of_id.size
        if len(self._local_of_id) < id_count:
            self._local_of_id = np.full(len(self._kind_of_id.data), -1, np.int32)
        local_of_id = self._local_of_id
        arrays = [sub[name][key] for name, keys in ID_COLUMNS.items() for key in keys]
        touched = np.empty(sum(len(array) for array in arrays), np.int32)
        count = 0
        for array in arrays:
            count = _renumber(array, local_of_id, touched, count)
        local_of_id[touched[:count]] = -1
