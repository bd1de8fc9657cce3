"""Collection KPIs on the columnar fast path: ``kpi_report`` computed from NumPy columns.

The input is what ``adapters.columnar.columns(log, select=SELECT)`` gives: per event class, one
array per field (ids as int32 indexes, dates as int32 days since 1970-01-01, timestamps int64
microseconds, strings as codes plus ``<column>.dictionary``, lists as offsets plus children).
Every per-invoice, per-payment and per-promise step is a vectorised NumPy operation; only the
last step, one ``KpiRow`` per group and currency, runs in Python, because it needs the exact
``Decimal`` arithmetic of ``projections.kpis`` and there are few groups.

Invariant: ``kpi_report_fast(columns(to_columnar(log)), ...)`` equals
``kpi_report(fold_all(log), ...)`` for the same period, grouping and known-at instant, field by
field (``==`` on the reports). Amounts stay int64 minor units throughout; the sums are exact
because the total of all amounts is checked against ``SUM_MINOR_MAX`` first.

What the fast path relies on from the columnar layout: the rows of one class's table are in log
order (the writer appends them so), which is what "the later-recorded one wins" needs for owner
changes, reversals, withdrawals and supersessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from arledger.domain.errors import InvalidAmountError
from arledger.domain.money import AMOUNT_MINOR_MAX, currency_exponent
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    AgeingBasis,
    AgeingPolicy,
    EscalationPolicy,
    LossRate,
)
from arledger.domain.rules import require_period
from arledger.projections.fast import kernels
from arledger.projections.fast.portfolio import (
    MOVEMENTS,
    RATING_OF,
    RATINGS,
    microseconds,
    promise_schedule,
)
from arledger.projections.kpis import (
    DAYS_PER_MONTH_CEI,
    KpiGrouping,
    KpiReport,
    KpiRow,
    countback_dso,
    days_of,
    expected_credit_loss,
    parse_grouping,
    percent_of,
    period_days,
    ratio_of,
)
from arledger.projections.promises import PromiseRates

Columns = Mapping[str, Mapping[str, Any]]
"""Per class name, per column name: a NumPy array (or, for ``<name>.dictionary``, a tuple)."""

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_ENVELOPE: Final = ("originator_id", "timestamp")
SELECT: Final[dict[str, tuple[str, ...]]] = {
    "CustomerAccountOpened": (*_ENVELOPE, "customer_code", "name", "collection_owner"),
    "CollectionOwnerChanged": (*_ENVELOPE, "collection_owner", "changed_on"),
    "InvoiceIssued": (
        *_ENVELOPE,
        "customer_id",
        "amount_minor",
        "currency",
        "issued_on",
        "due_on",
        "instalments",
    ),
    "PaymentApplied": (*_ENVELOPE, "payment_id", "amount_minor", "applied_on"),
    "PaymentUnapplied": (*_ENVELOPE, "amount_minor", "unapplied_on"),
    "CreditNoteApplied": (*_ENVELOPE, "amount_minor", "applied_on"),
    "ConcessionApproved": (*_ENVELOPE, "amount_minor", "approved_on"),
    "GoodsInLieuApplied": (*_ENVELOPE, "amount_minor", "applied_on"),
    "InvoiceWrittenOff": (*_ENVELOPE, "amount_minor", "written_off_on"),
    "InvoiceReinstated": (*_ENVELOPE, "amount_minor", "reinstated_on"),
    "PaymentReceived": (*_ENVELOPE, "payer_customer_id", "amount_minor", "currency", "value_on"),
    "PaymentReversed": (*_ENVELOPE, "reversed_on"),
    "PromiseMade": (
        *_ENVELOPE,
        "customer_id",
        "amount_minor",
        "currency",
        "promised_on",
        "made_on",
        "invoice_ids",
        "tranches",
    ),
    "PromiseWithdrawn": (*_ENVELOPE, "withdrawn_on"),
    "RiskRated": (*_ENVELOPE, "seq", "rating", "rated_on"),
    "PromiseSuperseded": (*_ENVELOPE, "superseded_on"),
    "EscalationPolicyAdopted": ("timestamp", "policy", "effective_on"),
}
"""The columns ``kpi_report_fast`` reads: pass it as ``select`` to ``columns``."""


SUM_MINOR_MAX: Final = 2**62
"""Most the amounts read may add up to (in minor units, all currencies together): every int64
sum below is then exact with room to spare. That is 4.6 million invoices at the 10**12 bound of
one amount; a log beyond it is refused rather than summed with a silent overflow."""

RATE_PRODUCT_EXACT_MAX: Final = 2**62
"""Largest numerator x denominator of a loss rate whose losses are worked out in int64 (a
larger one sends the rows the exact-integer way of the fold)."""

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAY_OFFSET: Final = 2**31
"""Added to an int32 day so that it sorts as an unsigned 32-bit number in a composite key."""


def _day(on: date) -> int:
    return on.toordinal() - _EPOCH_ORDINAL


def _date(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


def _month(days: npt.NDArray[Any]) -> Ints:
    """Months since January 1970 of days since 1970-01-01."""
    months: Ints = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months


def _sums(index: npt.NDArray[Any], values: npt.NDArray[Any], size: int) -> Ints:
    """Exact int64 sums of ``values`` per ``index`` (0..size-1)."""
    out = np.zeros(size, np.int64)
    np.add.at(out, index, values.astype(np.int64, copy=False))
    return out


def _dense(keys: Ints) -> tuple[Ints, Ints]:
    """(distinct keys ascending, index of each key among them): ``np.unique`` with
    ``return_inverse``, by a presence table instead of a sort when the keys span little."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    if span > 4 * len(keys) + 4096:
        distinct, inverse = np.unique(keys, return_inverse=True)
        return distinct.astype(np.int64), inverse.astype(np.int64)
    present = np.zeros(span, np.bool_)
    present[keys - low] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    distinct_keys: Ints = np.flatnonzero(present).astype(np.int64) + low
    inverse_keys: Ints = rank[keys - low]
    return distinct_keys, inverse_keys


def _last_per(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """(distinct keys, position of each key's last occurrence): the later-recorded one wins."""
    reversed_keys = keys[::-1]
    distinct, first_in_reversed = np.unique(reversed_keys, return_index=True)
    return distinct, len(keys) - 1 - first_in_reversed


def _first_per(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    distinct, first = np.unique(keys, return_index=True)
    return distinct, first


def _segment_starts(owners: npt.NDArray[Any]) -> Ints:
    """For an array sorted by owner, the index where each element's owner run starts."""
    if len(owners) == 0:
        return np.zeros(0, np.int64)
    change = np.empty(len(owners), np.bool_)
    change[0] = True
    np.not_equal(owners[1:], owners[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    result: Ints = starts[np.cumsum(change) - 1].astype(np.int64)
    return result


def _cumsum_within(owners: npt.NDArray[Any], values: Ints) -> Ints:
    """Running sums of ``values`` restarting at each owner run (``owners`` sorted)."""
    running = np.cumsum(values)
    before = running - values
    result: Ints = running - before[_segment_starts(owners)]
    return result


def _expand(lo: Ints, hi: Ints) -> tuple[Ints, Ints]:
    """(which range, position) for every position of the ranges [lo, hi)."""
    counts = np.maximum(hi - lo, 0)
    which = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    positions = lo[which] + np.arange(len(which), dtype=np.int64) - starts[which]
    return which, positions


def _unify(dictionaries: Iterable[Sequence[str]]) -> tuple[list[str], list[Ints]]:
    """One code space for several string dictionaries: (values, per dictionary its codes map)."""
    dictionaries = list(dictionaries)
    values = sorted({value for dictionary in dictionaries for value in dictionary})
    code = {value: index for index, value in enumerate(values)}
    maps = [np.array([code[v] for v in d] or [0], dtype=np.int64) for d in dictionaries]
    return values, maps


# Policy versions ------------------------------------------------------------------------------


def _policy_versions(
    cols: Columns, known: Mask, decode_policy: Callable[[str], EscalationPolicy]
) -> list[tuple[int, EscalationPolicy]]:
    """(effective day, policy) of every adopted version known, in log order."""
    table = cols["EscalationPolicyAdopted"]
    dictionary = table["policy.dictionary"]
    parsed: dict[int, EscalationPolicy] = {}
    versions = []
    for code, effective_day in zip(
        table["policy"][known].tolist(), table["effective_on"][known].tolist(), strict=True
    ):
        terms = parsed.get(code)
        if terms is None:
            terms = parsed[code] = decode_policy(dictionary[code])
        versions.append((effective_day, terms))
    return versions


def _terms_on(versions: Sequence[tuple[int, EscalationPolicy]], day: int) -> EscalationPolicy:
    """``policy_book.policy_in_force`` on the fast path's days."""
    in_force = DEFAULT_ESCALATION_POLICY
    for effective_day, terms in versions:
        if effective_day <= day and terms.version > in_force.version:
            in_force = terms
    return in_force


def _tolerances(terms: EscalationPolicy) -> Ints:
    """The promise tolerance of a policy by rating ordinal (0: not rated)."""
    return np.asarray(
        [terms.promise_tolerance_days_for(RATING_OF.get(ordinal)) for ordinal in range(5)],
        np.int64,
    )


def _tolerance_on(
    versions: Sequence[tuple[int, EscalationPolicy]],
    days: npt.NDArray[Any],
    ratings: npt.NDArray[Any],
) -> Ints:
    """The promise tolerance of the policy in force on each day for each rating ordinal (same
    scan, vectorised)."""
    tolerance: Ints = _tolerances(DEFAULT_ESCALATION_POLICY)[ratings]
    in_force = np.full(len(days), DEFAULT_ESCALATION_POLICY.version, np.int64)
    for effective_day, terms in versions:
        take = (effective_day <= days) & (terms.version > in_force)
        tolerance[take] = _tolerances(terms)[ratings[take]]
        in_force[take] = terms.version
    return tolerance


def _ratings_on(
    cols: Columns,
    known_at_us: int | None,
    customer_of_id: Ints,
    customer_count: int,
    customer: Ints,
    on: npt.NDArray[Any],
) -> npt.NDArray[np.int32]:
    """The risk rating ordinal (0: not rated) of each customer row on each date, as
    ``CustomerHistory.rating_on``: the last recorded rating dated on or before it."""
    rated = cols["RiskRated"]
    known = _known(rated, known_at_us)
    ordinals = np.asarray([RATINGS[value] for value in rated["rating.dictionary"]] or [0], np.int32)
    owner = customer_of_id[rated["originator_id"][known]]
    start, order = kernels.group(np.ascontiguousarray(owner, np.int32), customer_count)
    history = (
        start,
        np.ascontiguousarray(rated["rated_on"][known][order], np.int32),
        np.ascontiguousarray(rated["seq"][known][order], np.int64),
        np.ascontiguousarray(ordinals[rated["rating"][known]][order], np.int32),
    )
    return kernels.values_on(
        history,
        np.ascontiguousarray(customer, np.int32),
        np.ascontiguousarray(on, np.int32),
        0,
    )


def _known(table: Mapping[str, Any], known_at_us: int | None) -> Mask:
    timestamps = table["timestamp"]
    if known_at_us is None:
        return np.ones(len(timestamps), np.bool_)
    known: Mask = timestamps <= known_at_us
    return known


def _id_space(cols: Columns) -> int:
    """One more than the largest id index any selected column holds."""
    largest = -1
    for name, table in cols.items():
        for column in ("originator_id", "customer_id", "payment_id", "payer_customer_id"):
            values = table.get(column)
            if values is not None and len(values):
                largest = max(largest, int(values.max()))
        if name == "PromiseMade" and len(table["invoice_ids.values"]):
            largest = max(largest, int(table["invoice_ids.values"].max()))
    return largest + 1


def _check_headroom(cols: Columns) -> None:
    total = 0.0
    for table in cols.values():
        amounts = table.get("amount_minor")
        if amounts is not None and len(amounts):
            total += float(np.abs(amounts).sum(dtype=np.float64))
    if total > SUM_MINOR_MAX:
        raise InvalidAmountError(
            f"the log's amounts add up to about {total:.3g} minor units, more than the fast "
            f"path sums exactly ({SUM_MINOR_MAX}); use projections.kpis.kpi_report",
            total_minor_approximate=total,
        )


@attrs.frozen(kw_only=True)
class _Groups:
    """Group and currency of each invoice and promise, densely numbered."""

    count: int
    of_invoice: Ints
    of_promise: Ints
    keys: list[tuple[str, str, str]]
    """Per group: (key, label, currency)."""


def _customer_groups(
    cols: Columns,
    kind: KpiGrouping,
    known_at_us: int | None,
    customer_of_id: Ints,
    opened_known: Mask,
    end_day: int,
) -> tuple[Ints, list[tuple[str, str]]]:
    """Per customer row: its group index, and per group index its (key, label)."""
    opened = cols["CustomerAccountOpened"]
    customers = int(opened_known.sum())
    if kind is KpiGrouping.PORTFOLIO:
        return np.zeros(customers, np.int64), [("portfolio", "portfolio")]
    if kind is KpiGrouping.CUSTOMER:
        codes = opened["customer_code"][opened_known].astype(np.int64)
        names = opened["name"][opened_known]
        code_values = opened["customer_code.dictionary"]
        name_values = opened["name.dictionary"]
        # Customer codes are unique (the customer id is derived from the code), so each
        # customer is a group of its own.
        labels = [
            (code_values[code], name_values[name])
            for code, name in zip(codes.tolist(), names.tolist(), strict=True)
        ]
        return np.arange(customers, dtype=np.int64), labels
    assert kind is KpiGrouping.OWNER
    changes = cols["CollectionOwnerChanged"]
    values, (opening_map, change_map) = _unify(
        (opened["collection_owner.dictionary"], changes["collection_owner.dictionary"])
    )
    owner = opening_map[opened["collection_owner"][opened_known]]
    counted = _known(changes, known_at_us) & (changes["changed_on"] <= end_day)
    changed_customers = customer_of_id[changes["originator_id"][counted]]
    assert (changed_customers >= 0).all(), "an owner change for an account not opened"
    customer_rows, last = _last_per(changed_customers)
    owner[customer_rows] = change_map[changes["collection_owner"][counted][last]]
    return owner, [(value, value) for value in values]


def kpi_report_fast(
    cols: Columns,
    start_on: date,
    end_on: date,
    *,
    decode_policy: Callable[[str], EscalationPolicy],
    grouping: KpiGrouping | str = KpiGrouping.PORTFOLIO,
    known_at: datetime | None = None,
) -> KpiReport:
    """``kpis.kpi_report(portfolio.fold_all(log, known_at=known_at), start_on, end_on)``: the
    report of ``kpi_sums_fast``'s sums (see there)."""
    return kpi_report_of_sums(
        kpi_sums_fast(
            cols,
            start_on,
            end_on,
            decode_policy=decode_policy,
            grouping=grouping,
            known_at=known_at,
        )
    )


@attrs.frozen(kw_only=True)
class KpiSums:
    """What a KPI report is worked out from: per group (key, label, currency) the integer sums
    of its invoices and promises, and its credit sales per month back from the end month.

    Every figure is a sum over customers, so the sums of logs holding different customers (a
    customer-partitioned log's partitions: ``combined_kpi_sums``) add up to the sums of the
    whole log, and the report of the added sums is the whole log's report; never an average
    of the partitions' averages."""

    start_on: date
    end_on: date
    grouping: KpiGrouping
    policy: EscalationPolicy
    """The policy in force on ``end_on`` (its buckets and provision rates)."""
    keys: tuple[tuple[str, str, str], ...]
    beginning: Ints
    sales: Ints
    ending: Ints
    cash: Ints
    goods: Ints
    buckets: Ints
    """Per group, per bucket: the ending receivables."""
    promises: tuple[Ints, Ints, Ints, Ints]
    """Per group: promises judged, kept, promised and paid (minor units)."""
    monthly: tuple[Ints, Ints, Ints]
    """(group, months back from the end month, credit sales): one entry per group and month
    with sales (several for one group and month once sums are combined)."""


def kpi_sums_fast(
    cols: Columns,
    start_on: date,
    end_on: date,
    *,
    decode_policy: Callable[[str], EscalationPolicy],
    grouping: KpiGrouping | str = KpiGrouping.PORTFOLIO,
    known_at: datetime | None = None,
) -> KpiSums:
    """The sums ``kpi_report_fast`` reports, of ``cols`` (``columns(log, select=SELECT)``).

    ``cols`` is ``columns(log, select=SELECT)`` (or with more columns); ``decode_policy`` turns
    an adopted policy's stored form back into the policy, as for ``fast_path.fast_portfolio``.

    Raises:
        InvalidDateError: ``start_on`` is after ``end_on``, or ``known_at`` is naive.
        ConfigurationError: ``grouping`` is not portfolio, owner or customer.
        InvalidAmountError: the log's amounts add up to more than ``SUM_MINOR_MAX``.
    """
    kind = parse_grouping(grouping)
    require_period(start_on, end_on)
    _check_headroom(cols)
    known_at_us = None if known_at is None else microseconds(known_at)
    start_day, end_day = _day(start_on), _day(end_on)
    beginning_day = start_day - 1
    ids = _id_space(cols)

    versions = _policy_versions(
        cols, _known(cols["EscalationPolicyAdopted"], known_at_us), decode_policy
    )
    policy = _terms_on(versions, end_day)

    # Customers and their groups.
    opened = cols["CustomerAccountOpened"]
    opened_known = _known(opened, known_at_us)
    customer_of_id = np.full(ids, -1, np.int64)
    customer_of_id[opened["originator_id"][opened_known]] = np.arange(
        int(opened_known.sum()), dtype=np.int64
    )
    group_of_customer, group_labels = _customer_groups(
        cols, kind, known_at_us, customer_of_id, opened_known, end_day
    )

    # Invoices issued by the end of the period.
    issued = cols["InvoiceIssued"]
    invoice_known = _known(issued, known_at_us)
    invoice_of_id = np.full(ids, -1, np.int64)
    invoice_of_id[issued["originator_id"][invoice_known]] = np.flatnonzero(invoice_known)
    included = invoice_known & (issued["issued_on"] <= end_day)
    rows = np.flatnonzero(included)
    invoice_customer = customer_of_id[issued["customer_id"][rows]]
    assert (invoice_customer >= 0).all(), "an invoice of an account not opened"

    # Promises made by the end of the period.
    made = cols["PromiseMade"]
    promise_rows = np.flatnonzero(_known(made, known_at_us) & (made["made_on"] <= end_day))
    promise_customer = customer_of_id[made["customer_id"][promise_rows]]
    assert (promise_customer >= 0).all(), "a promise of an account not opened"

    currencies, (invoice_currency_map, promise_currency_map, payment_currency_map) = _unify(
        (
            issued["currency.dictionary"],
            made["currency.dictionary"],
            cols["PaymentReceived"]["currency.dictionary"],
        )
    )
    invoice_currency = invoice_currency_map[issued["currency"][rows]]
    promise_currency = promise_currency_map[made["currency"][promise_rows]]
    groups = _group(
        group_of_customer[invoice_customer] * len(currencies) + invoice_currency,
        group_of_customer[promise_customer] * len(currencies) + promise_currency,
        len(currencies),
        group_labels,
        currencies,
    )

    facts = _invoice_facts(cols, rows, invoice_of_id, known_at_us, end_day)
    group_of_row = np.full(len(issued["issued_on"]), -1, np.int64)
    group_of_row[rows] = groups.of_invoice
    g = groups.of_invoice
    beginning = _sums(g, facts.open_on(beginning_day), groups.count)
    open_end = facts.open_on(end_day)
    ending = _sums(g, open_end, groups.count)
    issued_on = issued["issued_on"][rows]
    sales = _sums(g, np.where(issued_on >= start_day, facts.amount, 0), groups.count)
    buckets = _buckets(cols, rows, open_end, end_day, policy.ageing, g, groups.count)
    monthly = _monthly_sales(g, issued_on, facts.amount, end_day)
    cash = _cash(cols, group_of_row, invoice_of_id, known_at_us, start_day, end_day, groups.count)
    goods = _cash(
        cols, group_of_row, invoice_of_id, known_at_us, start_day, end_day, groups.count,
        tables=_GOODS,
    )  # fmt: skip
    promise_rating = _ratings_on(
        cols, known_at_us, customer_of_id, len(group_of_customer), promise_customer,
        made["made_on"][promise_rows],
    )  # fmt: skip
    promises = _promise_rates(
        cols, promise_rows, groups.of_promise, versions, known_at_us, start_day, end_day, ids,
        payment_currency_map, promise_currency, len(currencies), groups.count, promise_rating,
    )  # fmt: skip

    return KpiSums(
        start_on=start_on,
        end_on=end_on,
        grouping=kind,
        policy=policy,
        keys=tuple(groups.keys),
        beginning=beginning,
        sales=sales,
        ending=ending,
        cash=cash,
        goods=goods,
        buckets=buckets,
        promises=promises,
        monthly=monthly,
    )


def combined_kpi_sums(parts: Sequence[KpiSums]) -> KpiSums:
    """The sums of several logs of different customers (same period, grouping and policy):
    each group's sums added (a group such as an owner or the portfolio spans the logs)."""
    first = parts[0]
    for other in parts[1:]:
        assert (other.start_on, other.end_on, other.grouping) == (
            first.start_on,
            first.end_on,
            first.grouping,
        ), "KPI sums of different periods or groupings"
        assert other.policy == first.policy, "KPI sums under different policies"
    index: dict[tuple[str, str, str], int] = {}
    for part in parts:
        for key in part.keys:
            index.setdefault(key, len(index))
    count = len(index)
    bucket_count = len(first.policy.ageing.bucket_labels)

    def added(of: Callable[[KpiSums], Ints]) -> Ints:
        total = np.zeros(count, np.int64)
        for part in parts:
            total[_remap(part, index)] += of(part)
        return total

    buckets = np.zeros((count, bucket_count), np.int64)
    for part in parts:
        buckets[_remap(part, index)] += part.buckets.reshape(len(part.keys), bucket_count)
    remapped = [_remap(part, index) for part in parts]
    return KpiSums(
        start_on=first.start_on,
        end_on=first.end_on,
        grouping=first.grouping,
        policy=first.policy,
        keys=tuple(index),
        beginning=added(lambda part: part.beginning),
        sales=added(lambda part: part.sales),
        ending=added(lambda part: part.ending),
        cash=added(lambda part: part.cash),
        goods=added(lambda part: part.goods),
        buckets=buckets,
        promises=(
            added(lambda part: part.promises[0]),
            added(lambda part: part.promises[1]),
            added(lambda part: part.promises[2]),
            added(lambda part: part.promises[3]),
        ),
        monthly=(
            np.concatenate(
                [np.zeros(0, np.int64)]
                + [to[part.monthly[0]] for to, part in zip(remapped, parts, strict=True)]
            ),
            np.concatenate([np.zeros(0, np.int64)] + [part.monthly[1] for part in parts]),
            np.concatenate([np.zeros(0, np.int64)] + [part.monthly[2] for part in parts]),
        ),
    )


def _remap(part: KpiSums, index: Mapping[tuple[str, str, str], int]) -> Ints:
    """Per group of ``part``, its group in ``index``."""
    return np.array([index[key] for key in part.keys], np.int64)


def kpi_report_of_sums(sums: KpiSums) -> KpiReport:
    """The KPI report of ``sums``: the rows of the groups with anything to report, in (key,
    currency) order, each worked out from its sums with the very operations of ``kpis._row``."""
    start_on, end_on, policy = sums.start_on, sums.end_on, sums.policy
    groups_count = len(sums.keys)
    beginning, sales, ending, cash, goods = (
        sums.beginning, sums.sales, sums.ending, sums.cash, sums.goods,
    )  # fmt: skip
    buckets, promises = sums.buckets, sums.promises
    countback = _countback_parts(*sums.monthly, ending, _day(end_on), groups_count)
    keys = sums.keys
    judged = promises[0]
    non_empty = np.flatnonzero(
        (beginning != 0) | (ending != 0) | (sales != 0) | (cash != 0) | (goods != 0) | (judged != 0)
    )
    order = np.array(
        sorted(non_empty.tolist(), key=lambda i: (keys[i][0], keys[i][2])),
        np.int64,
    )
    ecl, ecl_exact = _expected_credit_loss(buckets[order], policy.provision_rates)
    # Python ints, row by row: the Decimal arithmetic of the rows needs them.
    columns_of_rows = zip(
        order.tolist(),
        beginning[order].tolist(),
        sales[order].tolist(),
        ending[order].tolist(),
        cash[order].tolist(),
        goods[order].tolist(),
        buckets[order].tolist(),
        ecl.tolist(),
        ecl_exact.tolist(),
        *(part[order].tolist() for part in countback),
        *(part[order].tolist() for part in promises),
        strict=True,
    )
    report_rows = tuple(
        _row(
            keys[i],
            days=period_days(start_on, end_on),
            beginning=beginning_minor,
            sales=sales_minor,
            ending=ending_minor,
            cash=cash_minor,
            goods=goods_minor,
            buckets=tuple(buckets_minor),
            ecl_by_bucket=tuple(ecl_minor) if exact else None,
            countback=countback_dso(
                ending_minor,
                _countback_months(covered, sales_before, days_before, sales_month, days_month),
            ),
            rates=PromiseRates(
                judged_count=judged_count,
                kept_count=kept_count,
                promised_minor=promised_minor,
                paid_minor=paid_minor,
            ),
            provision_rates=policy.provision_rates,
        )
        for (
            i, beginning_minor, sales_minor, ending_minor, cash_minor, goods_minor, buckets_minor,
            ecl_minor,
            exact, covered, sales_before, days_before, sales_month, days_month, judged_count,
            kept_count, promised_minor, paid_minor,
        ) in columns_of_rows
    )  # fmt: skip
    return KpiReport(
        start_on=start_on,
        end_on=end_on,
        grouping=sums.grouping,
        rows=report_rows,
        bucket_labels=policy.ageing.bucket_labels,
        provision_rates=policy.provision_rates,
        policy_version=policy.version,
    )


def _group(
    invoice_keys: Ints,
    promise_keys: Ints,
    currency_count: int,
    group_labels: Sequence[tuple[str, str]],
    currencies: Sequence[str],
) -> _Groups:
    distinct, inverse = _dense(np.concatenate([invoice_keys, promise_keys]))
    keys = []
    for composite in distinct.tolist():
        group, currency = divmod(composite, currency_count)
        key, label = group_labels[group]
        keys.append((key, label, currencies[currency]))
    inverse = inverse.astype(np.int64)
    return _Groups(
        count=len(distinct),
        of_invoice=inverse[: len(invoice_keys)],
        of_promise=inverse[len(invoice_keys) :],
        keys=keys,
    )


@attrs.frozen(kw_only=True)
class _InvoiceFacts:
    """Per included invoice: its amount and its dated settlements (for ``open_on``)."""

    amount: Ints
    issued_on: npt.NDArray[np.int32]
    settled_on: npt.NDArray[np.int32]
    """Movement days, sorted by invoice then day."""
    settled_invoice: Ints
    settled_minor: Ints

    def open_on(self, day: int) -> Ints:
        """What each invoice has open at the end of ``day`` (0 before it is issued)."""
        counted = self.settled_on <= day
        settled = _sums(
            self.settled_invoice[counted], self.settled_minor[counted], len(self.amount)
        )
        open_minor: Ints = np.where(self.issued_on <= day, self.amount - settled, 0)
        assert (open_minor >= 0).all(), f"an invoice open below zero on {_date(day)}"
        assert (open_minor <= self.amount).all()
        return open_minor


def _invoice_facts(
    cols: Columns,
    rows: npt.NDArray[np.intp],
    invoice_of_id: Ints,
    known_at_us: int | None,
    end_day: int,
) -> _InvoiceFacts:
    issued = cols["InvoiceIssued"]
    position_of_row = np.full(len(issued["issued_on"]), -1, np.int64)
    position_of_row[rows] = np.arange(len(rows), dtype=np.int64)
    invoices: list[Ints] = []
    days: list[npt.NDArray[np.int32]] = []
    amounts: list[Ints] = []
    for name, day_column, sign in MOVEMENTS:
        table = cols[name]
        known = _known(table, known_at_us) & (table[day_column] <= end_day)
        invoice_rows = invoice_of_id[table["originator_id"][known]]
        assert (invoice_rows >= 0).all(), f"{name} for an invoice not issued"
        position = position_of_row[invoice_rows]
        kept = position >= 0
        invoices.append(position[kept])
        days.append(table[day_column][known][kept])
        amounts.append(sign * table["amount_minor"][known][kept].astype(np.int64))
    return _InvoiceFacts(
        amount=issued["amount_minor"][rows].astype(np.int64),
        issued_on=issued["issued_on"][rows],
        settled_on=np.concatenate(days),
        settled_invoice=np.concatenate(invoices),
        settled_minor=np.concatenate(amounts),
    )


def _buckets(
    cols: Columns,
    rows: npt.NDArray[np.intp],
    open_end: Ints,
    end_day: int,
    ageing: AgeingPolicy,
    group: Ints,
    group_count: int,
) -> npt.NDArray[np.int64]:
    """Per group, the open amounts by ageing bucket on the end day (``ageing.invoice_buckets``).

    Each invoice's settled amount goes to its oldest instalments first, so instalment i keeps
    open clip(cumulative amount up to i - settled, 0, amount of i).
    """
    issued = cols["InvoiceIssued"]
    offsets = issued["instalments.offsets"]
    counts = (offsets[1:] - offsets[:-1])[rows]
    has_schedule = counts > 0
    # Instalments of the invoices that have a schedule, in schedule order.
    scheduled = np.flatnonzero(has_schedule)
    which, child = _expand(offsets[rows[scheduled]], offsets[rows[scheduled] + 1])
    part_invoice = np.concatenate([scheduled[which], np.flatnonzero(~has_schedule)])
    part_due = np.concatenate(
        [issued["instalments.due_on"][child], issued["due_on"][rows[~has_schedule]]]
    )
    part_amount = np.concatenate(
        [
            issued["instalments.amount_minor"][child].astype(np.int64),
            issued["amount_minor"][rows[~has_schedule]].astype(np.int64),
        ]
    )
    # Schedules are contiguous and in order within the first part; single parts are their own run.
    cumulative = np.concatenate(
        [
            _cumsum_within(scheduled[which], part_amount[: len(which)]),
            part_amount[len(which) :],
        ]
    )
    amount = issued["amount_minor"][rows].astype(np.int64)
    settled = (amount - open_end)[part_invoice]
    part_open = np.clip(cumulative - settled, 0, part_amount)
    if ageing.basis is AgeingBasis.DUE_DATE:
        basis_day = part_due.astype(np.int64)
    else:
        basis_day = issued["issued_on"][rows][part_invoice].astype(np.int64)
    days_past_due = end_day - basis_day
    bucket = bucket_indexes(days_past_due, ageing)
    width = len(ageing.bucket_labels)
    flat = _sums(group[part_invoice] * width + bucket, part_open, group_count * width)
    result: npt.NDArray[np.int64] = flat.reshape(group_count, width)
    return result


def bucket_indexes(basis_days: Ints, ageing: AgeingPolicy) -> Ints:
    """``AgeingPolicy.bucket_index`` of each day count, vectorised (the kernels' ``_bucket``
    is a third copy: tests/unit/test_trigger_rules.py ties the three)."""
    edges = np.array(ageing.edges_days, np.int64)
    buckets: Ints = np.where(basis_days <= 0, 0, np.searchsorted(edges, basis_days, "left") + 1)
    return buckets


def _monthly_sales(
    group: Ints, issued_on: npt.NDArray[np.int32], amount: Ints, end_day: int
) -> tuple[Ints, Ints, Ints]:
    """Per group and month back from the end month with sales: (group, months back, sales)."""
    end_month = int(_month(np.array([end_day], np.int32))[0])
    back = end_month - _month(issued_on)
    assert (back >= 0).all()
    return _per_group_month(group, back, amount)


def _per_group_month(group: Ints, back: Ints, sales: Ints) -> tuple[Ints, Ints, Ints]:
    """``sales`` summed per (group, months back), ascending."""
    months = int(back.max()) + 1 if len(back) else 1
    distinct, inverse = _dense(group * months + back)
    summed = _sums(inverse, sales, len(distinct))
    entry_group, entry_back = np.divmod(distinct, months)
    return entry_group, entry_back, summed


def _countback_parts(
    group: Ints,
    back: Ints,
    monthly_sales: Ints,
    ending: Ints,
    end_day: int,
    group_count: int,
) -> tuple[Ints, Ints, Ints, Ints, Ints]:
    """Per group, where the countback of ``kpis.countback_dso`` ends: (covered, sales of the
    newer months, their days, sales of the covering month, its days), covered 0 when the
    months ran out before the ending receivables were covered. ``group``, ``back`` and
    ``monthly_sales``: credit sales per group and months back from the end month (a group and
    month may come more than once: they are summed).

    Walking back month by month from the end month, the first month whose running sales reach
    the ending receivables covers the rest; the months before it (newer) count whole.
    """
    end_month = int(_month(np.array([end_day], np.int32))[0])
    entry_group, entry_back, sales = _per_group_month(group, back, monthly_sales)
    running = _cumsum_within(entry_group, sales)
    reached = np.flatnonzero((running >= ending[entry_group]) & (ending[entry_group] > 0))
    covering_groups, first = _first_per(entry_group[reached])
    entry = reached[first]
    month = end_month - entry_back[entry]
    month_start = _month_day(month)
    next_start = _month_day(month + 1)
    month_end = np.minimum(next_start - 1, end_day)
    parts = [np.zeros(group_count, np.int64) for _ in range(5)]
    parts[0][covering_groups] = 1
    parts[1][covering_groups] = running[entry] - sales[entry]
    parts[2][covering_groups] = np.where(entry_back[entry] == 0, 0, end_day - next_start + 1)
    parts[3][covering_groups] = sales[entry]
    parts[4][covering_groups] = month_end - month_start + 1
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def _month_day(months: Ints) -> Ints:
    """The first day (days since 1970-01-01) of months since January 1970."""
    first: Ints = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first


def _countback_months(
    covered: int, sales_before: int, days_before: int, sales_in_month: int, days_in_month: int
) -> list[tuple[int, int]]:
    """The months ``countback_dso`` needs to give the fold's answer: the newer months taken
    whole as one entry (their summed sales and days: the same integers added), then the
    covering month; none when the months ran out (or nothing is open)."""
    if not covered:
        return []
    monthly = [(sales_before, days_before)] if days_before else []
    monthly.append((sales_in_month, days_in_month))
    return monthly


def _expected_credit_loss(buckets: Ints, provision_rates: Sequence[LossRate]) -> tuple[Ints, Mask]:
    """``kpis.expected_credit_loss`` per row and bucket in integers, and per row whether it
    could be worked out so (else the row takes the fold's way, which raises as the fold does).

    amount x numerator / denominator, rounded half-even to the minor unit, as
    ``LossRate.loss_minor`` gives it. Worked out as (high x denominator + low) x numerator /
    denominator so that nothing overflows int64: low x numerator < denominator x numerator, which
    ``RATE_PRODUCT_EXACT_MAX`` bounds, and high x numerator is at most the amount (a rate is at
    most 1); for amounts whose loss is at most ``AMOUNT_MINOR_MAX`` (``to_minor`` refuses more).
    """
    assert buckets.shape[1] == len(provision_rates)
    if not all(
        0 <= rate.numerator <= rate.denominator
        and rate.numerator * rate.denominator <= RATE_PRODUCT_EXACT_MAX
        for rate in provision_rates
    ):
        return np.zeros_like(buckets), np.zeros(len(buckets), np.bool_)
    numerators = np.array([rate.numerator for rate in provision_rates], np.int64)
    denominators = np.array([rate.denominator for rate in provision_rates], np.int64)
    approximate = buckets.astype(np.float64) * numerators / denominators
    safe: Mask = np.all(approximate < 2 * AMOUNT_MINOR_MAX, axis=1)
    high, low = np.divmod(np.where(safe[:, None], buckets, 0), denominators)
    quotient, remainder = np.divmod(low * numerators, denominators)
    quotient += high * numerators
    twice = 2 * remainder
    quotient += (twice > denominators) | ((twice == denominators) & (quotient % 2 == 1))
    exact: Mask = safe & np.all(quotient <= AMOUNT_MINOR_MAX, axis=1)
    losses: Ints = quotient.astype(np.int64)
    return losses, exact


_GOODS: Final = (("GoodsInLieuApplied", "applied_on", 1),)
"""The non-cash settlements ``_cash`` adds up for ``settled_in_goods_minor``."""


def _cash(
    cols: Columns,
    group_of_row: Ints,
    invoice_of_id: Ints,
    known_at_us: int | None,
    start_day: int,
    end_day: int,
    group_count: int,
    *,
    tables: Sequence[tuple[str, str, int]] = (
        ("PaymentApplied", "applied_on", 1),
        ("PaymentUnapplied", "unapplied_on", -1),
    ),
) -> Ints:
    """Per group, payments applied minus unapplied in the period on its invoices (or, with
    ``tables=_GOODS``, what settlements in goods settled in it)."""
    groups: list[Ints] = []
    amounts: list[Ints] = []
    for name, day_column, sign in tables:
        table = cols[name]
        on = table[day_column]
        counted = _known(table, known_at_us) & (start_day <= on) & (on <= end_day)
        group = group_of_row[invoice_of_id[table["originator_id"][counted]]]
        kept = group >= 0
        groups.append(group[kept])
        amounts.append(sign * table["amount_minor"][counted][kept].astype(np.int64))
    return _sums(np.concatenate(groups), np.concatenate(amounts), group_count)


def _promise_rates(
    cols: Columns,
    promise_rows: npt.NDArray[np.intp],
    promise_group: Ints,
    versions: Sequence[tuple[int, EscalationPolicy]],
    known_at_us: int | None,
    start_day: int,
    end_day: int,
    ids: int,
    payment_currency_map: Ints,
    promise_currency: Ints,
    currency_count: int,
    group_count: int,
    promise_rating: npt.NDArray[np.int32],
) -> tuple[Ints, Ints, Ints, Ints]:
    """Per group: promises judged, kept, promised and paid (``promises.judge`` as of the end).

    Only promises whose deadline (their last tranche's) falls in the period are judged here,
    as the KPI asks. Each tranche is judged as a promise of the sum of the tranches up to it by
    its own deadline (the window's money reaching that sum); the promise is kept when all are,
    broken when one was missed, and counts as paid what its tranches count.
    """
    made = cols["PromiseMade"]
    count = len(promise_rows)
    amount = made["amount_minor"][promise_rows].astype(np.int64)
    assert (amount > 0).all(), "a promise is for a positive amount"
    made_on = made["made_on"][promise_rows].astype(np.int64)
    promised_on = made["promised_on"][promise_rows]
    deadline = promised_on.astype(np.int64) + _tolerance_on(versions, promised_on, promise_rating)

    # The tranches of the promises judged: ``of`` the promise (index into promise_rows).
    tranche_start, tranche_on_all, tranche_amount_all = promise_schedule(made)
    of, tranche = _expand(tranche_start[promise_rows], tranche_start[promise_rows + 1])
    tranche_on = tranche_on_all[tranche]
    tranche_amount = tranche_amount_all[tranche]
    first_of = np.searchsorted(of, np.arange(count, dtype=np.int64), "left")
    cumulative = np.cumsum(tranche_amount)
    before = cumulative - tranche_amount - (cumulative - tranche_amount)[first_of][of]
    target = before + tranche_amount
    assert (_sums(of, tranche_amount, count) == amount).all(), "tranches add up to the promise"
    tranche_deadline = tranche_on.astype(np.int64) + _tolerance_on(
        versions, tranche_on, promise_rating[of]
    )
    window_end = np.minimum(tranche_deadline, end_day)

    # Payments: which count on the end day (received by then and not reversed by then).
    received = cols["PaymentReceived"]
    received_known = _known(received, known_at_us)
    payment_of_id = np.full(ids, -1, np.int64)
    payment_of_id[received["originator_id"][received_known]] = np.flatnonzero(received_known)
    reversed_on = np.full(len(received_known), np.iinfo(np.int64).max, np.int64)
    reversals = cols["PaymentReversed"]
    reversal_known = _known(reversals, known_at_us)
    reversed_payments, last = _last_per(payment_of_id[reversals["originator_id"][reversal_known]])
    reversed_on[reversed_payments] = reversals["reversed_on"][reversal_known][last]
    payment_counts = received_known & (received["value_on"] <= end_day) & (reversed_on > end_day)

    tranche_count = len(of)
    money = np.zeros(tranche_count, np.int64)
    reached_on = np.full(tranche_count, np.iinfo(np.int64).max, np.int64)
    offsets = made["invoice_ids.offsets"]
    named = ((offsets[1:] - offsets[:-1])[promise_rows] > 0)[of]
    _paid_on_named(
        cols, promise_rows[of], named, target, made_on[of], window_end, payment_of_id,
        payment_counts, known_at_us, money, reached_on,
    )  # fmt: skip
    _paid_by_customer(
        cols, promise_rows[of], ~named, target, made_on[of], window_end, payment_of_id,
        payment_counts, payment_currency_map[received["currency"]], promise_currency[of],
        currency_count, money, reached_on,
    )  # fmt: skip
    tranche_paid = np.clip(money - before, 0, tranche_amount)

    # Withdrawn or superseded: the later-recorded event of each kind wins, withdrawal first.
    closed_on = np.full(count, np.iinfo(np.int64).max, np.int64)
    promise_of_id = np.full(ids, -1, np.int64)
    promise_of_id[made["originator_id"][promise_rows]] = np.arange(count, dtype=np.int64)
    for name, column in (
        ("PromiseSuperseded", "superseded_on"),
        ("PromiseWithdrawn", "withdrawn_on"),
    ):
        table = cols[name]
        known = _known(table, known_at_us)
        promises = promise_of_id[table["originator_id"][known]]
        relevant = promises >= 0
        closed_promises, last = _last_per(promises[relevant])
        closed_on[closed_promises] = table[column][known][relevant][last]
    tranche_closed_on = closed_on[of]
    has_closed = tranche_closed_on != np.iinfo(np.int64).max
    kept = (reached_on != np.iinfo(np.int64).max) & (reached_on <= tranche_closed_on)
    closed_first = ~kept & has_closed & (tranche_closed_on <= np.minimum(end_day, tranche_deadline))
    still_open = ~kept & ~closed_first & (end_day <= tranche_deadline)
    missed = ~kept & ~closed_first & ~still_open

    promise_kept = _sums(of, ~kept, count) == 0
    promise_broken = _sums(of, missed, count) > 0
    judged = (promise_kept | promise_broken) & (start_day <= deadline) & (deadline <= end_day)
    paid = _sums(of, tranche_paid, count)

    group = promise_group[judged]
    return (
        _sums(group, np.ones(len(group), np.int64), group_count),
        _sums(group, promise_kept[judged].astype(np.int64), group_count),
        _sums(group, amount[judged], group_count),
        _sums(group, paid[judged], group_count),
    )


def _paid_on_named(
    cols: Columns,
    promise_rows: npt.NDArray[np.intp],
    named: Mask,
    amount: Ints,
    made_on: Ints,
    window_end: Ints,
    payment_of_id: Ints,
    payment_counts: Mask,
    known_at_us: int | None,
    paid_total: Ints,
    paid_in_full: Ints,
) -> None:
    """Money applied to a promise's invoices in its window, and the day it reached the promise."""
    made = cols["PromiseMade"]
    offsets = made["invoice_ids.offsets"]
    promises = np.flatnonzero(named)
    pair_promise, pair_child = _expand(
        offsets[promise_rows[promises]], offsets[promise_rows[promises] + 1]
    )
    pair_promise = promises[pair_promise]
    pair_invoice = made["invoice_ids.values"][pair_child]

    # Only applications to named invoices can count: sort just those by invoice.
    applied = cols["PaymentApplied"]
    is_named = np.zeros(len(payment_of_id), np.bool_)
    is_named[pair_invoice] = True
    candidates = np.flatnonzero(_known(applied, known_at_us) & is_named[applied["originator_id"]])
    by_invoice = candidates[np.argsort(applied["originator_id"][candidates], kind="stable")]
    invoice_sorted = applied["originator_id"][by_invoice]
    lo = np.searchsorted(invoice_sorted, pair_invoice, "left").astype(np.int64)
    hi = np.searchsorted(invoice_sorted, pair_invoice, "right").astype(np.int64)
    which, position = _expand(lo, hi)
    promise = pair_promise[which]
    application = by_invoice[position]
    on = applied["applied_on"][application].astype(np.int64)
    money = applied["amount_minor"][application].astype(np.int64)
    counts = (
        (money > 0)
        & (made_on[promise] <= on)
        & (on <= window_end[promise])
        & payment_counts[payment_of_id[applied["payment_id"][application]]]
    )
    promise, on, money = promise[counts], on[counts], money[counts]
    order = np.lexsort((on, promise))
    promise, on, money = promise[order], on[order], money[order]
    running = _cumsum_within(promise, money)
    paid_total += _sums(promise, money, len(paid_total))
    reached = np.flatnonzero(running >= amount[promise])
    first_promises, first = _first_per(promise[reached])
    paid_in_full[first_promises] = on[reached[first]]


def _paid_by_customer(
    cols: Columns,
    promise_rows: npt.NDArray[np.intp],
    unnamed: Mask,
    amount: Ints,
    made_on: Ints,
    window_end: Ints,
    payment_of_id: Ints,
    payment_counts: Mask,
    payment_currency: Ints,
    promise_currency: Ints,
    currency_count: int,
    paid_total: Ints,
    paid_in_full: Ints,
) -> None:
    """Money received from a promise's customer in its currency and window, and when it sufficed.

    Payments are sorted by (customer and currency, value day); a promise's window is then one
    range of them, its total a difference of prefix sums and the day it was reached a binary
    search in them (amounts are positive, so the prefix sums only grow).
    """
    made = cols["PromiseMade"]
    received = cols["PaymentReceived"]
    promises = np.flatnonzero(unnamed)
    promise_customer = made["customer_id"][promise_rows[promises]]
    # Only payments of customers with such promises can count: sort just those.
    is_wanted = np.zeros(len(payment_of_id), np.bool_)
    is_wanted[promise_customer] = True
    rows = np.flatnonzero(is_wanted[received["payer_customer_id"]])
    payer = (
        received["payer_customer_id"][rows].astype(np.int64) * currency_count
        + payment_currency[rows]
    )
    distinct, payer_key = _dense(payer)
    composite = (payer_key << 32) | (received["value_on"][rows].astype(np.int64) + _DAY_OFFSET)
    order = np.argsort(composite, kind="stable")
    composite_sorted = composite[order]
    value_on_sorted = received["value_on"][rows][order].astype(np.int64)
    counted = np.where(payment_counts[rows][order], received["amount_minor"][rows][order], 0)
    prefix = np.concatenate([np.zeros(1, np.int64), np.cumsum(counted.astype(np.int64))])

    wanted = promise_customer.astype(np.int64) * currency_count + promise_currency[promises]
    slot = np.searchsorted(distinct, wanted)
    found = slot < len(distinct)
    found[found] = distinct[slot[found]] == wanted[found]
    promises, slot = promises[found], slot[found].astype(np.int64)
    lo = np.searchsorted(composite_sorted, (slot << 32) | (made_on[promises] + _DAY_OFFSET), "left")
    hi = np.searchsorted(
        composite_sorted, (slot << 32) | (window_end[promises] + _DAY_OFFSET), "right"
    )
    hi = np.maximum(hi, lo)
    paid_total[promises] += prefix[hi] - prefix[lo]
    # The first prefix reaching what was promised ends on the payment that completed it.
    completing = np.searchsorted(prefix, prefix[lo] + amount[promises], "left") - 1
    reached = completing < hi
    paid_in_full[promises[reached]] = value_on_sorted[completing[reached]]


def _row(
    names: tuple[str, str, str],
    *,
    days: int,
    beginning: int,
    sales: int,
    ending: int,
    cash: int,
    goods: int,
    buckets: tuple[int, ...],
    ecl_by_bucket: tuple[int, ...] | None,
    countback: Decimal | None,
    rates: PromiseRates,
    provision_rates: Sequence[LossRate],
) -> KpiRow:
    """One row from the group's sums, with the very operations of ``kpis._row``."""
    key, label, currency = names
    current = buckets[0]
    assert sum(buckets) == ending
    assert 0 <= current <= ending

    dso = days_of(ratio_of(ending, sales), days)
    dso_best = days_of(ratio_of(current, sales), days)
    delinquent = None if dso is None or dso_best is None else dso - dso_best

    sales_monthly = Decimal(sales) * DAYS_PER_MONTH_CEI / days
    cei_total = ratio_of(beginning + sales - ending, beginning + sales - current)
    cei_monthly = ratio_of(beginning + sales_monthly - ending, beginning + sales_monthly - current)

    currency_exponent(currency)  # An unknown currency is refused here as the fold refuses it.
    if ecl_by_bucket is None:
        ecl_by_bucket = expected_credit_loss(buckets, provision_rates, currency)
    return KpiRow(
        key=key,
        label=label,
        currency=currency,
        receivables_minor_beginning=beginning,
        credit_sales_minor=sales,
        receivables_minor_ending=ending,
        receivables_minor_current=current,
        cash_collected_minor=cash,
        settled_in_goods_minor=goods,
        dso_days=dso,
        dso_days_countback=countback,
        dso_days_best_possible=dso_best,
        days_delinquent_average=delinquent,
        cei_total_sales=percent_of(cei_total),
        cei_monthly_average=percent_of(cei_monthly),
        collection_rate=percent_of(ratio_of(cash, beginning + sales)),
        collection_rate_in_goods=percent_of(ratio_of(goods, beginning + sales)),
        promises_judged=rates.judged_count,
        promises_kept=rates.kept_count,
        promised_minor=rates.promised_minor,
        promised_minor_paid=rates.paid_minor,
        promise_kept_rate_by_count=percent_of(rates.kept_rate_by_count),
        promise_kept_rate_by_amount=percent_of(rates.kept_rate_by_amount),
        buckets_minor=buckets,
        ecl_minor_by_bucket=ecl_by_bucket,
        ecl_minor=sum(ecl_by_bucket),
    )
