"""The book at a glance: what a credit controller reads first, drawn from the answers of the
ageing (by customer), the KPIs of the trailing months and the worklist of one date.

Per currency (amounts in different currencies are never added): the money open, how much of it
is overdue and how much is long overdue (past the ``LONG_OVERDUE_DAYS`` edge of the ageing
policy's buckets), the part in open dispute and the standard DSO of the KPI period; then the
customers with money open and the customers per escalation level on the worklist. Invariant:
every figure equals the one the report it is drawn from gives (open = the sum of the ageing's
buckets, DSO = the KPI row's); the shares are exact ratios rounded only for display.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

import attrs

from arledger.domain.policy import AgeingPolicy
from arledger.projections.ageing import AgeingGrouping, AgeingReport
from arledger.projections.kpis import KpiGrouping, KpiReport
from arledger.projections.results import Worklist

LONG_OVERDUE_DAYS: Final = 90
"""Money more than this many days past due is long overdue: the tail a real book keeps small."""
SHARE_QUANTUM: Final = Decimal("0.1")


@attrs.frozen(kw_only=True)
class CurrencySummary:
    currency: str
    open_minor: int
    overdue_minor: int
    """Open and past its due date: every bucket but current."""
    long_overdue_minor: int
    """Open in the buckets starting after ``long_overdue_days`` past due."""
    disputed_minor: int
    dso_days: Decimal | None
    """The standard DSO of the KPI period (None without credit sales in it)."""

    @property
    def overdue_percent(self) -> Decimal | None:
        return share_percent(self.overdue_minor, self.open_minor)

    @property
    def long_overdue_percent(self) -> Decimal | None:
        return share_percent(self.long_overdue_minor, self.open_minor)


@attrs.frozen(kw_only=True)
class LevelCount:
    level: int
    level_name: str
    customers: int


@attrs.frozen(kw_only=True)
class BookSummary:
    as_of: date
    kpi_start_on: date
    """The KPI period is ``kpi_start_on``..``as_of``."""
    long_overdue_days: int
    """The first day of the long-overdue buckets is the day after this one (an ageing edge)."""
    currencies: tuple[CurrencySummary, ...]
    customers_with_money_open: int
    worklist_customers: int
    levels: tuple[LevelCount, ...]
    """Customers per escalation level 1 and up on the worklist, by level."""
    most_urgent_customer: str | None
    """The code of the worklist's first customer (None when the worklist is empty)."""


def share_percent(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to 0.1 (None when ``whole`` is not positive)."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(SHARE_QUANTUM, ROUND_HALF_EVEN)


def long_overdue_edge(policy: AgeingPolicy, days: int = LONG_OVERDUE_DAYS) -> tuple[int, int]:
    """The first bucket counted long overdue and the edge it starts after: the first bucket
    whose days all lie beyond ``days`` (the edge ``days`` itself under the default buckets),
    or the last bucket when none does (its edge, lower than ``days``, then names it)."""
    low = 1
    for index, edge in enumerate(policy.edges_days, start=1):
        if low > days:
            return index, low - 1
        low = edge + 1
    return len(policy.edges_days) + 1, low - 1


def book_summary(
    ageing_by_customer: AgeingReport, kpis: KpiReport, worklist: Worklist
) -> BookSummary:
    """The summary of one date from its three answers (taken at the same log position)."""
    assert ageing_by_customer.grouping is AgeingGrouping.CUSTOMER
    assert kpis.grouping is KpiGrouping.PORTFOLIO
    assert ageing_by_customer.as_of == kpis.end_on
    assert ageing_by_customer.as_of == worklist.as_of
    first_long, edge = long_overdue_edge(ageing_by_customer.policy)
    dso = {row.currency: row.dso_days for row in kpis.rows}
    disputed: Counter[str] = Counter()
    for row in ageing_by_customer.rows:
        disputed[row.currency] += row.disputed_minor
    currencies = []
    for currency, buckets in ageing_by_customer.totals_by_currency().items():
        open_minor = sum(buckets)
        currencies.append(
            CurrencySummary(
                currency=currency,
                open_minor=open_minor,
                overdue_minor=open_minor - buckets[0],
                long_overdue_minor=sum(buckets[first_long:]),
                disputed_minor=disputed[currency],
                dso_days=dso.get(currency),
            )
        )
    levels: Counter[tuple[int, str]] = Counter(
        (item.level, item.level_name) for item in worklist if item.level >= 1
    )
    return BookSummary(
        as_of=ageing_by_customer.as_of,
        kpi_start_on=kpis.start_on,
        long_overdue_days=edge,
        currencies=tuple(currencies),
        customers_with_money_open=len(
            {row.key for row in ageing_by_customer.rows if row.open_minor > 0}
        ),
        worklist_customers=len(worklist),
        levels=tuple(
            LevelCount(level=level, level_name=name, customers=count)
            for (level, name), count in sorted(levels.items())
        ),
        most_urgent_customer=worklist[0].customer_code if len(worklist) else None,
    )
