"""Reporting currency: the ageing table, the KPIs and the worklist's order in one currency.

Each report here is built from the per-currency report the ledger already answers (by the
query engine or by a replay: the two are equal, so these are too) and the exchange rates in
force on the report's date; the per-currency report is carried unchanged beside the converted
one, with every rate used (pair, rate, effective date, source).

Rounding, chosen once: every amount is converted where it is kept per currency, at the finest
grain the report shows (one group's one bucket in one currency), half up in minor units of the
reporting currency (``exchange_rate.convert_minor``), and the converted amounts are then added.
So a converted table adds up across and down exactly, and its open total is the sum of its
converted buckets; converting a currency's open total in one step may differ from that sum by
up to half a minor unit per bucket added. Amounts already in the reporting currency are not
touched.

Invariant: a reporting-currency report changes only when its per-currency report or a rate in
force on its date (as known at its ``known_at``) changes; a rate dated later never moves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs

from arledger.domain.exchange_rate import ExchangeRate, convert_minor, rate_in_force
from arledger.domain.money import check_currency
from arledger.domain.policy import EscalationPolicy
from arledger.projections.ageing import AgeingGrouping, AgeingReport
from arledger.projections.escalation import WorklistItem, worklist_order
from arledger.projections.kpis import (
    DAYS_PER_MONTH_CEI,
    KpiGrouping,
    KpiReport,
    days_of,
    percent_of,
    period_days,
    ratio_of,
)
from arledger.projections.results import Worklist


class RateTable:
    """The rates to one reporting currency in force on one date, looked up once per currency
    and remembered in the order first used (``used``)."""

    def __init__(
        self,
        rates: Sequence[ExchangeRate],
        reporting_currency: str,
        on: date,
        known_at: datetime | None,
    ) -> None:
        self.rates = rates
        self.reporting_currency = check_currency(reporting_currency)
        self.on = on
        self.known_at = known_at
        self._found: dict[str, ExchangeRate] = {}

    def convert(self, amount_minor: int, currency: str) -> int:
        if currency == self.reporting_currency:
            return amount_minor
        rate = self._found.get(currency)
        if rate is None:
            rate = self._found[currency] = rate_in_force(
                self.rates, currency, self.reporting_currency, self.on, known_at=self.known_at
            )
        return convert_minor(amount_minor, rate)

    @property
    def used(self) -> tuple[ExchangeRate, ...]:
        return tuple(sorted(self._found.values(), key=lambda rate: rate.from_currency))


# Ageing ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReportingAgeingRow:
    """One group's open amounts per bucket, all its currencies converted and added."""

    key: str
    label: str
    currencies: tuple[str, ...]
    """The currencies the group's amounts were in (converted into the reporting currency)."""
    buckets_minor: tuple[int, ...]
    open_minor: int
    """The sum of ``buckets_minor``."""
    disputed_minor: int
    days_past_due_max: int

    @property
    def overdue_minor(self) -> int:
        return self.open_minor - self.buckets_minor[0]


@attrs.frozen(kw_only=True)
class ReportingAgeingReport:
    """The ageing table as of ``as_of`` in ``reporting_currency``, with the rates used and the
    per-currency table it was converted from (``per_currency``, exact and unchanged)."""

    as_of: date
    reporting_currency: str
    grouping: AgeingGrouping
    bucket_labels: tuple[str, ...]
    rows: tuple[ReportingAgeingRow, ...]
    rates_used: tuple[ExchangeRate, ...]
    per_currency: AgeingReport
    known_at: datetime | None = None

    def totals_minor(self) -> tuple[int, ...]:
        """Bucket totals over all rows, in the reporting currency."""
        totals = [0] * len(self.bucket_labels)
        for row in self.rows:
            for index, amount in enumerate(row.buckets_minor):
                totals[index] += amount
        return tuple(totals)


def ageing_in(
    report: AgeingReport,
    rates: Sequence[ExchangeRate],
    reporting_currency: str,
    *,
    known_at: datetime | None = None,
) -> ReportingAgeingReport:
    """``report`` converted into ``reporting_currency`` at the rates in force on its date.

    Raises:
        ExchangeRateNotFoundError: a currency of the report has no rate to the reporting
            currency in force on the report's date (naming the pair and the date).
    """
    table = RateTable(rates, reporting_currency, report.as_of, known_at)
    width = len(report.bucket_labels)
    buckets: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    currencies: dict[str, set[str]] = {}
    disputed: dict[str, int] = {}
    days_max: dict[str, int] = {}
    for row in report.rows:
        assert len(row.buckets_minor) == width
        converted = [table.convert(amount, row.currency) for amount in row.buckets_minor]
        acc = buckets.setdefault(row.key, [0] * width)
        for index, amount in enumerate(converted):
            acc[index] += amount
        labels.setdefault(row.key, row.label)
        currencies.setdefault(row.key, set()).add(row.currency)
        disputed[row.key] = disputed.get(row.key, 0) + table.convert(
            row.disputed_minor, row.currency
        )
        days_max[row.key] = max(days_max.get(row.key, 0), row.days_past_due_max)
    rows = tuple(
        ReportingAgeingRow(
            key=key,
            label=labels[key],
            currencies=tuple(sorted(currencies[key])),
            buckets_minor=tuple(amounts),
            open_minor=sum(amounts),
            disputed_minor=disputed[key],
            days_past_due_max=days_max[key],
        )
        for key, amounts in buckets.items()
    )
    return ReportingAgeingReport(
        as_of=report.as_of,
        reporting_currency=reporting_currency,
        grouping=report.grouping,
        bucket_labels=report.bucket_labels,
        rows=rows,
        rates_used=table.used,
        per_currency=report,
        known_at=known_at,
    )


# KPIs -----------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReportingKpiRow:
    """One group's KPIs with every currency converted and added. The ratios are worked out
    again from the converted amounts with the per-currency formulas. The countback DSO is not
    given here: it counts the ending receivables back through each calendar month's credit
    sales to the group's first invoice, and a per-currency row carries only the period's total
    sales, not the months (the per-currency countback stays in ``per_currency``)."""

    key: str
    label: str
    currencies: tuple[str, ...]
    receivables_minor_beginning: int
    credit_sales_minor: int
    receivables_minor_ending: int
    receivables_minor_current: int
    cash_collected_minor: int
    settled_in_goods_minor: int
    """Non-cash, apart from ``cash_collected_minor`` as in the per-currency row."""
    dso_days: Decimal | None
    dso_days_best_possible: Decimal | None
    days_delinquent_average: Decimal | None
    cei_total_sales: Decimal | None
    """Percent."""
    cei_monthly_average: Decimal | None
    """Percent."""
    collection_rate: Decimal | None
    """Percent: cash collected only."""
    collection_rate_in_goods: Decimal | None
    """Percent: settled in goods / (B + S), the non-cash counterpart."""
    promised_minor: int
    promised_minor_paid: int
    buckets_minor: tuple[int, ...]
    ecl_minor: int


@attrs.frozen(kw_only=True)
class ReportingKpiReport:
    """The KPIs of ``start_on``..``end_on`` in ``reporting_currency``: every amount converted at
    the rate in force on ``end_on`` (the period's flows as well as its balances: one rate per
    currency for the whole report, shown in ``rates_used``), with the per-currency report it
    was converted from (``per_currency``, exact and unchanged)."""

    start_on: date
    end_on: date
    reporting_currency: str
    grouping: KpiGrouping
    bucket_labels: tuple[str, ...]
    rows: tuple[ReportingKpiRow, ...]
    rates_used: tuple[ExchangeRate, ...]
    per_currency: KpiReport
    known_at: datetime | None = None


_KPI_AMOUNTS = (
    "receivables_minor_beginning",
    "credit_sales_minor",
    "receivables_minor_ending",
    "receivables_minor_current",
    "cash_collected_minor",
    "settled_in_goods_minor",
    "promised_minor",
    "promised_minor_paid",
    "ecl_minor",
)


def kpis_in(
    report: KpiReport,
    rates: Sequence[ExchangeRate],
    reporting_currency: str,
    *,
    known_at: datetime | None = None,
) -> ReportingKpiReport:
    """``report`` converted into ``reporting_currency`` at the rates in force on its end date.

    Raises:
        ExchangeRateNotFoundError: a currency of the report has no rate to the reporting
            currency in force on ``report.end_on``.
    """
    table = RateTable(rates, reporting_currency, report.end_on, known_at)
    width = len(report.bucket_labels)
    sums: dict[str, dict[str, int]] = {}
    buckets: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    currencies: dict[str, set[str]] = {}
    for row in report.rows:
        acc = sums.setdefault(row.key, dict.fromkeys(_KPI_AMOUNTS, 0))
        for name in _KPI_AMOUNTS:
            acc[name] += table.convert(getattr(row, name), row.currency)
        bucket_acc = buckets.setdefault(row.key, [0] * width)
        for index, amount in enumerate(row.buckets_minor):
            bucket_acc[index] += table.convert(amount, row.currency)
        labels.setdefault(row.key, row.label)
        currencies.setdefault(row.key, set()).add(row.currency)
    days = period_days(report.start_on, report.end_on)
    rows = []
    for key, acc in sums.items():
        beginning = acc["receivables_minor_beginning"]
        sales = acc["credit_sales_minor"]
        ending = acc["receivables_minor_ending"]
        current = acc["receivables_minor_current"]
        dso = days_of(ratio_of(ending, sales), days)
        dso_best = days_of(ratio_of(current, sales), days)
        sales_monthly = Decimal(sales) * DAYS_PER_MONTH_CEI / days
        rows.append(
            ReportingKpiRow(
                key=key,
                label=labels[key],
                currencies=tuple(sorted(currencies[key])),
                receivables_minor_beginning=beginning,
                credit_sales_minor=sales,
                receivables_minor_ending=ending,
                receivables_minor_current=current,
                cash_collected_minor=acc["cash_collected_minor"],
                settled_in_goods_minor=acc["settled_in_goods_minor"],
                dso_days=dso,
                dso_days_best_possible=dso_best,
                days_delinquent_average=(
                    None if dso is None or dso_best is None else dso - dso_best
                ),
                cei_total_sales=percent_of(
                    ratio_of(beginning + sales - ending, beginning + sales - current)
                ),
                cei_monthly_average=percent_of(
                    ratio_of(
                        beginning + sales_monthly - ending, beginning + sales_monthly - current
                    )
                ),
                collection_rate=percent_of(
                    ratio_of(acc["cash_collected_minor"], beginning + sales)
                ),
                collection_rate_in_goods=percent_of(
                    ratio_of(acc["settled_in_goods_minor"], beginning + sales)
                ),
                promised_minor=acc["promised_minor"],
                promised_minor_paid=acc["promised_minor_paid"],
                buckets_minor=tuple(buckets[key]),
                ecl_minor=acc["ecl_minor"],
            )
        )
    return ReportingKpiReport(
        start_on=report.start_on,
        end_on=report.end_on,
        reporting_currency=reporting_currency,
        grouping=report.grouping,
        bucket_labels=report.bucket_labels,
        rows=tuple(rows),
        rates_used=table.used,
        per_currency=report,
        known_at=known_at,
    )


# Worklist -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReportingWorklistItem:
    """A worklist item (``item``, in its own currency, unchanged) and its overdue amount in the
    reporting currency, by which the item was ordered."""

    item: WorklistItem
    overdue_minor_reporting: int


@attrs.frozen(kw_only=True)
class ReportingWorklist:
    """The worklist of ``as_of`` ordered by the policy's ``worklist_priority`` with overdue
    amounts compared in ``reporting_currency`` (instead of as shares of each currency's
    "large" threshold), with the rates used and the worklist it reorders (``per_currency``)."""

    as_of: date
    owner: str | None
    policy_version: int
    reporting_currency: str
    items: tuple[ReportingWorklistItem, ...]
    rates_used: tuple[ExchangeRate, ...]
    per_currency: Worklist
    known_at: datetime | None = None


def worklist_in(
    worklist: Worklist,
    policy: EscalationPolicy,
    rates: Sequence[ExchangeRate],
    reporting_currency: str,
    *,
    known_at: datetime | None = None,
) -> ReportingWorklist:
    """``worklist`` ordered with overdue amounts in ``reporting_currency`` (the rates in force
    on its date); ``policy`` is the version that ordered it.

    Raises:
        ExchangeRateNotFoundError: an item's currency has no rate to the reporting currency.
    """
    assert policy.version == worklist.policy_version
    table = RateTable(rates, reporting_currency, worklist.as_of, known_at)
    converted = [table.convert(item.overdue_minor, item.currency) for item in worklist]
    order = worklist_order(
        [
            (
                item.level,
                overdue,
                item.days_past_due_max,
                item.broken_promises,
                reporting_currency,
                item.customer_code,
            )
            for item, overdue in zip(worklist, converted, strict=True)
        ],
        policy,
    )
    return ReportingWorklist(
        as_of=worklist.as_of,
        owner=worklist.owner,
        policy_version=worklist.policy_version,
        reporting_currency=reporting_currency,
        items=tuple(
            ReportingWorklistItem(item=worklist[index], overdue_minor_reporting=converted[index])
            for index in order
        ),
        rates_used=table.used,
        per_currency=worklist,
        known_at=known_at,
    )
