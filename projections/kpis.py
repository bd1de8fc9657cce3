"""Collection KPIs for a period (or the trailing months ending on a date), per portfolio, owner
or customer, one row per group and currency.

Every figure is computed per currency: amounts in different currencies are never added, so a
group with invoices in two currencies has two rows. Amounts are integer minor units; ratios
are ``Decimal`` (days to 0.1, percentages to 0.01, both ROUND_HALF_EVEN) or ``None`` when their
denominator is zero or negative. Invariant: for every row, the ageing buckets of the ending
receivables add up to the ending receivables, bucket 0 is the current receivables, and the
expected credit loss is the sum of its per-bucket parts.

Definitions. The period is ``start_on``..``end_on``, both days included; ``days`` =
(end_on - start_on).days + 1. B, S, E and C below are those of the row's group and currency.

- B, beginning AR: open at the end of ``start_on - 1 day``.
- S, credit sales: the amounts of invoices issued in the period.
- E, ending AR: open at the end of ``end_on``.
- C, current AR: the part of E not yet overdue on ``end_on``, i.e. bucket 0 of the ageing
  policy in force on ``end_on`` (an instalment due on ``end_on`` is current).
- DSO (standard) = E / S x days.
- DSO (countback), see ``countback_dso``: the months are calendar months ending at ``end_on``
  (the month containing ``end_on`` counts from its 1st to ``end_on``, then earlier whole
  months), back to the month of the group's earliest invoice. It depends on ``end_on`` only.
- Best possible DSO = C / S x days.
- ADD, average days delinquent = DSO - best possible DSO, taken between the two rounded
  figures so that a row always reads consistently (the exact difference is (E - C) / S x days).
- CEI, collection effectiveness index, in the two published variants:
  ``cei_total_sales`` = (B + S - E) / (B + S - C) x 100, the whole period's credit sales;
  ``cei_monthly_average`` = (B + S/m - E) / (B + S/m - C) x 100 with the average month's credit
  sales, m = days / 30 (30-day months, so a 90-day quarter has m = 3 and any period length
  works without deciding what a part of a calendar month is worth).
- Collection rate = cash collected / (B + S) x 100, where cash collected is what payments
  settled in the period: PaymentApplied minus PaymentUnapplied (a bounced payment) dated in the
  period, on the group's invoices. Credit notes, concessions and write-offs are not cash.
- Settled in goods: what approved settlements in goods [以物抵债] settled in the period
  (GoodsInLieuApplied dated in it) on the group's invoices; a non-cash settlement, shown apart
  from cash collected, with its own rate: collection rate in goods = settled in goods / (B + S)
  x 100.
- Promise-kept rates, over the promises judged kept, partly kept or broken as of ``end_on``
  whose deadline (promised date plus the policy's tolerance days) falls in the period: by count
  kept / judged x 100; by amount paid toward them / promised x 100 (``projections.promises``).
  A promise whose deadline is ``end_on`` itself and is not yet paid is still open then, so it
  is not counted.
- Expected credit loss by provision matrix: for each ageing bucket of E (policy in force on
  ``end_on``), bucket amount x the bucket's loss rate (``EscalationPolicy.provision_rates``, an
  exact fraction such as 2,000/23,000 or basis points / 10,000), rounded half-even to the
  minor unit per bucket and row (``LossRate.loss_minor``, in exact integers); the total is the
  sum of the rounded buckets (so a portfolio row may differ by rounding from the sum of
  customer rows).

Grouping by owner uses the collection owner as of ``end_on`` for the whole period: the KPIs
judge whoever holds the account at the end. A group and currency gets a row when any of B, S,
E, cash collected or judged promises is not zero.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import ConfigurationError, InvalidAmountError, InvalidDateError
from arledger.domain.money import AMOUNT_MINOR_MAX, currency_exponent
from arledger.domain.policy import LossRate
from arledger.domain.rules import require_date, require_period

from .ageing import invoice_buckets
from .portfolio import CustomerHistory, PortfolioState
from .promises import JUDGED, PromiseJudgement, judge_all, promise_rates

DAYS_QUANTUM: Final = Decimal("0.1")
PERCENT_QUANTUM: Final = Decimal("0.01")
DAYS_PER_MONTH_CEI: Final = 30
"""Month length behind ``cei_monthly_average``: m = days / 30."""
TRAILING_MONTHS_MAX: Final = 120
"""Most months ``kpis_as_of`` looks back: ten years is already more than any review needs."""


class KpiGrouping(enum.Enum):
    PORTFOLIO = "portfolio"
    OWNER = "owner"
    CUSTOMER = "customer"


@attrs.frozen(kw_only=True)
class KpiRow:
    """One group's KPIs in one currency; amounts in minor units, days and percentages Decimal."""

    key: str
    label: str
    currency: str
    receivables_minor_beginning: int
    credit_sales_minor: int
    receivables_minor_ending: int
    receivables_minor_current: int
    cash_collected_minor: int
    settled_in_goods_minor: int
    """Non-cash: what settlements in goods settled in the period (never in ``cash_collected``)."""
    dso_days: Decimal | None
    dso_days_countback: Decimal | None
    dso_days_best_possible: Decimal | None
    days_delinquent_average: Decimal | None
    cei_total_sales: Decimal | None
    """Percent."""
    cei_monthly_average: Decimal | None
    """Percent."""
    collection_rate: Decimal | None
    """Percent: cash collected only."""
    collection_rate_in_goods: Decimal | None
    """Percent: settled in goods / (B + S), the non-cash counterpart of ``collection_rate``."""
    promises_judged: int
    promises_kept: int
    promised_minor: int
    promised_minor_paid: int
    promise_kept_rate_by_count: Decimal | None
    """Percent."""
    promise_kept_rate_by_amount: Decimal | None
    """Percent."""
    buckets_minor: tuple[int, ...]
    """The ending receivables per ageing bucket."""
    ecl_minor_by_bucket: tuple[int, ...]
    ecl_minor: int

    @property
    def receivables_minor_overdue(self) -> int:
        return self.receivables_minor_ending - self.receivables_minor_current


@attrs.frozen(kw_only=True)
class KpiReport:
    start_on: date
    end_on: date
    grouping: KpiGrouping
    rows: tuple[KpiRow, ...]
    bucket_labels: tuple[str, ...]
    """The ageing buckets of the policy in force on ``end_on``."""
    provision_rates: tuple[LossRate, ...]
    """The provision matrix of the policy in force on ``end_on``, one exact rate per bucket."""
    policy_version: int
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def provision_rates_bps(self) -> tuple[int | None, ...]:
        """The rates in whole basis points (None for a rate that is not a whole number of them)."""
        return tuple(rate.bps for rate in self.provision_rates)

    @property
    def days(self) -> int:
        return period_days(self.start_on, self.end_on)


def period_days(start_on: date, end_on: date) -> int:
    """Days in the period, both ends included."""
    return (end_on - start_on).days + 1


def quantize_days(value: Decimal) -> Decimal:
    return value.quantize(DAYS_QUANTUM, rounding=ROUND_HALF_EVEN)


def quantize_percent(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_EVEN)


def ratio_of(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator, or None when there is nothing (or less) to divide by."""
    if denominator <= 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def days_of(ratio: Decimal | None, days: int) -> Decimal | None:
    return None if ratio is None else quantize_days(ratio * days)


def percent_of(ratio: Decimal | None) -> Decimal | None:
    return None if ratio is None else quantize_percent(ratio * 100)


def countback_dso(ending_ar_minor: int, monthly: Sequence[tuple[int, int]]) -> Decimal | None:
    """Days sales outstanding by the countback method, to 0.1 day.

    ``monthly`` holds (credit sales in minor units, days) per month, newest month first. While
    what is left of the receivables exceeds a month's sales, that month's sales are taken off
    and its days counted; the month that covers the rest adds rest / sales x its days. With no
    receivables the answer is 0.0. When the months given run out before the receivables are
    covered, the answer is None: the receivables are older than the sales history, so any
    number of days would understate them. (The KPI passes every month back to the group's first
    invoice, which always covers what is open.)

    Example: 212,000 against 100,000 / 80,000 / 70,000 in 30-day months is
    30 + 30 + 32,000 / 70,000 x 30 = 73.7 days.
    """
    if ending_ar_minor < 0:
        raise InvalidAmountError(
            "receivables must not be negative", ending_ar_minor=ending_ar_minor
        )
    remaining = ending_ar_minor
    days_total = Decimal(0)
    if remaining == 0:
        return quantize_days(days_total)
    for sales_minor, days in monthly:
        if sales_minor < 0:
            raise InvalidAmountError("monthly sales must not be negative", sales_minor=sales_minor)
        if days <= 0:
            raise InvalidDateError("a month has at least one day", days=days)
        if remaining > sales_minor:
            remaining -= sales_minor
            days_total += days
        else:
            return quantize_days(days_total + Decimal(remaining) * days / Decimal(sales_minor))
    return None


def calendar_months_back(end_on: date, first_on: date) -> list[tuple[date, date]]:
    """(first day, last day) of calendar months, newest first, ending at ``end_on``.

    The first entry is the month containing ``end_on`` cut at ``end_on``; the list goes back to
    the month containing ``first_on`` (just that first entry when ``first_on`` is later).
    """
    months = []
    month_start = end_on.replace(day=1)
    month_end = end_on
    while True:
        months.append((month_start, month_end))
        if month_start <= first_on:
            return months
        month_end = month_start - timedelta(days=1)
        month_start = month_end.replace(day=1)


def trailing_period(as_of: date, months: int) -> tuple[date, date]:
    """The ``months`` months ending on ``as_of``: (start_on, as_of).

    On a month's last day this is whole calendar months (31 March, 3 -> 1 January); otherwise
    it starts the day after the same day ``months`` months earlier (15 March, 1 -> 16 February),
    that day being clamped to the end of a shorter month.
    """
    if not 1 <= months <= TRAILING_MONTHS_MAX:
        raise ConfigurationError(
            f"trailing months must be from 1 to {TRAILING_MONTHS_MAX}, got {months}",
            months=months,
        )
    require_date("as_of", as_of)
    last_day = calendar.monthrange(as_of.year, as_of.month)[1]
    if as_of.day == last_day:
        start_on = _add_months(as_of.replace(day=1), -(months - 1))
    else:
        start_on = _add_months(as_of, -months) + timedelta(days=1)
    return require_date("start_on", start_on), as_of


@attrs.frozen(kw_only=True)
class KpiSeries:
    """The KPIs of consecutive calendar months, one ``KpiReport`` per month, oldest first: a
    trend (DSO, CEI, collection rate by month) in one call."""

    grouping: KpiGrouping
    reports: tuple[KpiReport, ...]


def monthly_periods(from_on: date, to_on: date) -> tuple[tuple[date, date], ...]:
    """The calendar months from the month of ``from_on`` to the month of ``to_on``, both
    included, each as (first day, last day); at most ``TRAILING_MONTHS_MAX`` of them."""
    require_period(from_on, to_on)
    first = from_on.year * 12 + from_on.month - 1
    last = to_on.year * 12 + to_on.month - 1
    if last - first + 1 > TRAILING_MONTHS_MAX:
        raise ConfigurationError(
            f"a monthly series is at most {TRAILING_MONTHS_MAX} months, "
            f"got {last - first + 1} ({from_on:%Y-%m} to {to_on:%Y-%m})",
            months=last - first + 1,
        )
    periods = []
    for index in range(first, last + 1):
        year, month = divmod(index, 12)
        start_on = date(year, month + 1, 1)
        periods.append((start_on, start_on.replace(day=calendar.monthrange(year, month + 1)[1])))
    return tuple(periods)


def kpi_series(
    state: PortfolioState,
    from_on: date,
    to_on: date,
    *,
    grouping: KpiGrouping = KpiGrouping.PORTFOLIO,
) -> KpiSeries:
    """``kpi_report`` for each calendar month of ``monthly_periods(from_on, to_on)``."""
    return KpiSeries(
        grouping=grouping,
        reports=tuple(
            kpi_report(state, start_on, end_on, grouping=grouping)
            for start_on, end_on in monthly_periods(from_on, to_on)
        ),
    )


def _add_months(on: date, months: int) -> date:
    index = on.year * 12 + on.month - 1 + months
    year, month = divmod(index, 12)
    day = min(on.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def parse_grouping(grouping: KpiGrouping | str) -> KpiGrouping:
    if isinstance(grouping, KpiGrouping):
        return grouping
    try:
        return KpiGrouping(grouping)
    except ValueError:
        choices = ", ".join(g.value for g in KpiGrouping)
        raise ConfigurationError(
            f"unknown KPI grouping {grouping!r}; expected one of {choices}", grouping=grouping
        ) from None


@attrs.define
class _Group:
    """What one group and currency adds up to while the invoices are read."""

    label: str
    buckets_minor: list[int]
    receivables_minor_beginning: int = 0
    receivables_minor_ending: int = 0
    credit_sales_minor: int = 0
    cash_collected_minor: int = 0
    settled_in_goods_minor: int = 0
    sales_minor_by_month: dict[tuple[int, int], int] = attrs.field(factory=dict)
    first_issued_on: date | None = None
    judgements: list[PromiseJudgement] = attrs.field(factory=list)

    def is_empty(self) -> bool:
        return not (
            self.receivables_minor_beginning
            or self.receivables_minor_ending
            or self.credit_sales_minor
            or self.cash_collected_minor
            or self.settled_in_goods_minor
            or self.judgements
        )


def _group_key(grouping: KpiGrouping, customer: CustomerHistory, end_on: date) -> tuple[str, str]:
    if grouping is KpiGrouping.PORTFOLIO:
        return "portfolio", "portfolio"
    if grouping is KpiGrouping.OWNER:
        owner = customer.owner_on(end_on)
        return owner, owner
    assert grouping is KpiGrouping.CUSTOMER
    return customer.customer_code, customer.name


def kpi_report(
    state: PortfolioState,
    start_on: date,
    end_on: date,
    *,
    grouping: KpiGrouping | str = KpiGrouping.PORTFOLIO,
) -> KpiReport:
    """The KPIs of ``start_on``..``end_on`` (both included), one row per group and currency.

    Raises:
        InvalidDateError: ``start_on`` is after ``end_on``, or either is outside the dates the
            ledger accepts.
        ConfigurationError: ``grouping`` is not portfolio, owner or customer.
    """
    kind = parse_grouping(grouping)
    require_period(start_on, end_on)
    policy = state.policy_on(end_on)
    width = len(policy.ageing.bucket_labels)
    beginning_on = start_on - timedelta(days=1)
    groups: dict[tuple[str, str], _Group] = {}

    def group_of(customer_id: UUID, currency: str) -> _Group:
        customer = state.customers[customer_id]
        key, label = _group_key(kind, customer, end_on)
        return groups.setdefault((key, currency), _Group(label=label, buckets_minor=[0] * width))

    for invoice in state.ageing.invoices.values():
        if invoice.issued_on > end_on:
            continue
        group = group_of(invoice.customer_id, invoice.currency)
        group.receivables_minor_beginning += invoice.open_minor_on(beginning_on)
        buckets, open_minor, _days_max = invoice_buckets(
            invoice, end_on, policy.ageing, overridden=False
        )
        group.receivables_minor_ending += open_minor
        for index, amount in enumerate(buckets):
            group.buckets_minor[index] += amount
        if invoice.issued_on >= start_on:
            group.credit_sales_minor += invoice.amount_minor
        month = (invoice.issued_on.year, invoice.issued_on.month)
        group.sales_minor_by_month[month] = (
            group.sales_minor_by_month.get(month, 0) + invoice.amount_minor
        )
        if group.first_issued_on is None or invoice.issued_on < group.first_issued_on:
            group.first_issued_on = invoice.issued_on
        group.cash_collected_minor += sum(
            amount
            for _payment_id, on, amount in state.applications.get(invoice.invoice_id, ())
            if start_on <= on <= end_on
        )
        group.settled_in_goods_minor += sum(
            amount
            for _reference, on, amount in state.goods_applications.get(invoice.invoice_id, ())
            if start_on <= on <= end_on
        )
    for judgement in judge_all(state, end_on):
        if judgement.status in JUDGED and start_on <= judgement.deadline_on <= end_on:
            group_of(judgement.customer_id, judgement.currency).judgements.append(judgement)

    rows = tuple(
        _row(key, currency, groups[(key, currency)], start_on, end_on, policy.provision_rates)
        for key, currency in sorted(groups)
        if not groups[(key, currency)].is_empty()
    )
    return KpiReport(
        start_on=start_on,
        end_on=end_on,
        grouping=kind,
        rows=rows,
        bucket_labels=policy.ageing.bucket_labels,
        provision_rates=policy.provision_rates,
        policy_version=policy.version,
    )


def kpis_as_of(
    state: PortfolioState,
    as_of: date,
    *,
    months: int = 3,
    grouping: KpiGrouping | str = KpiGrouping.PORTFOLIO,
) -> KpiReport:
    """The KPIs of the ``months`` trailing months ending on ``as_of`` (see ``trailing_period``)."""
    start_on, end_on = trailing_period(as_of, months)
    return kpi_report(state, start_on, end_on, grouping=grouping)


def expected_credit_loss(
    buckets_minor: Sequence[int], provision_rates: Sequence[LossRate], currency: str
) -> tuple[int, ...]:
    """Each bucket times its loss rate, rounded half-even to the minor unit, bucket by bucket.

    Raises ``InvalidAmountError`` for a loss beyond the largest accepted amount (as ``to_minor``).
    """
    assert len(buckets_minor) == len(provision_rates)
    currency_exponent(currency)  # An unknown currency is refused.
    losses = tuple(
        rate.loss_minor(amount_minor)
        for amount_minor, rate in zip(buckets_minor, provision_rates, strict=True)
    )
    for loss_minor in losses:
        if abs(loss_minor) > AMOUNT_MINOR_MAX:
            raise InvalidAmountError(
                f"an expected credit loss of {loss_minor} minor units of {currency} exceeds the "
                "largest accepted amount",
                amount_minor=loss_minor,
            )
    return losses


def _row(
    key: str,
    currency: str,
    group: _Group,
    start_on: date,
    end_on: date,
    provision_rates: Sequence[LossRate],
) -> KpiRow:
    days = period_days(start_on, end_on)
    beginning = group.receivables_minor_beginning
    sales = group.credit_sales_minor
    ending = group.receivables_minor_ending
    current = group.buckets_minor[0]
    assert sum(group.buckets_minor) == ending
    assert 0 <= current <= ending

    dso = days_of(ratio_of(ending, sales), days)
    dso_best = days_of(ratio_of(current, sales), days)
    delinquent = None if dso is None or dso_best is None else dso - dso_best

    sales_monthly = Decimal(sales) * DAYS_PER_MONTH_CEI / days
    cei_total = ratio_of(beginning + sales - ending, beginning + sales - current)
    cei_monthly = ratio_of(beginning + sales_monthly - ending, beginning + sales_monthly - current)

    monthly: list[tuple[int, int]] = []
    if group.first_issued_on is not None:
        for month_start, month_end in calendar_months_back(end_on, group.first_issued_on):
            sales_in_month = group.sales_minor_by_month.get(
                (month_start.year, month_start.month), 0
            )
            monthly.append((sales_in_month, period_days(month_start, month_end)))
    countback = countback_dso(ending, monthly)

    rates = promise_rates(group.judgements)
    ecl_by_bucket = expected_credit_loss(group.buckets_minor, provision_rates, currency)
    return KpiRow(
        key=key,
        label=group.label,
        currency=currency,
        receivables_minor_beginning=beginning,
        credit_sales_minor=sales,
        receivables_minor_ending=ending,
        receivables_minor_current=current,
        cash_collected_minor=group.cash_collected_minor,
        settled_in_goods_minor=group.settled_in_goods_minor,
        dso_days=dso,
        dso_days_countback=countback,
        dso_days_best_possible=dso_best,
        days_delinquent_average=delinquent,
        cei_total_sales=percent_of(cei_total),
        cei_monthly_average=percent_of(cei_monthly),
        collection_rate=percent_of(ratio_of(group.cash_collected_minor, beginning + sales)),
        collection_rate_in_goods=percent_of(
            ratio_of(group.settled_in_goods_minor, beginning + sales)
        ),
        promises_judged=rates.judged_count,
        promises_kept=rates.kept_count,
        promised_minor=rates.promised_minor,
        promised_minor_paid=rates.paid_minor,
        promise_kept_rate_by_count=percent_of(rates.kept_rate_by_count),
        promise_kept_rate_by_amount=percent_of(rates.kept_rate_by_amount),
        buckets_minor=tuple(group.buckets_minor),
        ecl_minor_by_bucket=ecl_by_bucket,
        ecl_minor=sum(ecl_by_bucket),
    )
