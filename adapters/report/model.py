"""The figures of the portfolio report (``arledger report``), gathered from the Ledger's own
answers at one cut of the log.

Invariant: every figure here is one the Ledger gives through its queries (``ageing``,
``kpis_monthly``, ``worklist``), taken at the same log position, so that the report agrees
with ``arledger ageing``, ``kpis`` and ``worklist`` asked at that position; nothing is
recomputed and amounts are never added across currencies.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import NotFoundError
from arledger.domain.policy import Grade
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.escalation.results import WorklistItem
from arledger.projections.kpis import KpiGrouping, KpiReport, KpiRow
from arledger.projections.results import Worklist

if TYPE_CHECKING:
    from arledger.adapters.application.ledger import Ledger

TREND_MONTHS: Final = 12
"""Months of the trend charts: the last twelve whole calendar months on or before the date."""
TOP_OVERDUE_PER_CURRENCY: Final = 10
"""Customers listed per currency as most overdue."""
WORKLIST_ROWS_PER_OWNER: Final = 15
"""Worklist lines shown per owner, most urgent first (the count of the rest is stated): the
report is read on one screen per owner; ``arledger worklist --owner`` lists all."""


@attrs.frozen(kw_only=True)
class TopOverdue:
    """A customer with overdue money: from the ageing by customer, or (for one owner's report)
    from that owner's worklist, where the open amount is not given (None)."""

    customer_code: str
    name: str
    currency: str
    overdue_minor: int
    open_minor: int | None
    days_past_due_max: int


@attrs.frozen(kw_only=True)
class LevelCount:
    """How many customers are at an escalation level with a grade (None: no grade)."""

    level: int
    level_name: str
    grade: Grade | None
    customers: int


@attrs.frozen(kw_only=True)
class OwnerWorklist:
    owner: str
    items: tuple[WorklistItem, ...]
    """The owner's worklist lines in the worklist's order, all of them."""
    overdue_minor_by_currency: tuple[tuple[str, int], ...]

    @property
    def shown(self) -> tuple[WorklistItem, ...]:
        return self.items[:WORKLIST_ROWS_PER_OWNER]


@attrs.frozen(kw_only=True)
class PortfolioReport:
    """What ``arledger report`` draws, as data (``Ledger.report``)."""

    as_of: date
    owner: str | None
    bucket_labels: tuple[str, ...]
    ageing_by_currency: tuple[AgeingRow, ...]
    """One row per currency (key: the currency, or the owner's code for an owner's report)."""
    months: tuple[KpiReport, ...]
    """The trend: one report per month, oldest first, portfolio rows (or the owner's)."""
    top_overdue: tuple[TopOverdue, ...]
    levels: tuple[LevelCount, ...]
    customers_open_not_listed: int | None
    """Customers with open money who are not on the worklist (None for an owner's report,
    whose customers off the worklist the ledger's portfolio answers do not name)."""
    worklists: tuple[OwnerWorklist, ...]
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)

    @property
    def currencies(self) -> tuple[str, ...]:
        seen = {row.currency for row in self.ageing_by_currency}
        seen.update(row.currency for report in self.months for row in report.rows)
        return tuple(sorted(seen))

    def html(self) -> str:
        """The report as one self-contained HTML document (``adapters.report.html``)."""
        from arledger.adapters.report.html import report_html

        return report_html(self)

    def trend(self, currency: str) -> list[tuple[KpiReport, KpiRow | None]]:
        """Each month with the currency's row (None: nothing open, sold or collected)."""
        return [
            (report, next((row for row in report.rows if row.currency == currency), None))
            for report in self.months
        ]


def trend_months(as_of: date) -> tuple[date, date]:
    """First and last day of the ``TREND_MONTHS`` whole calendar months ending on or before
    ``as_of`` (its own month counts when ``as_of`` is its last day): a month still running
    would be compared with whole ones."""
    last_day = calendar.monthrange(as_of.year, as_of.month)[1]
    end_on = as_of if as_of.day == last_day else as_of.replace(day=1) - timedelta(days=1)
    index = end_on.year * 12 + end_on.month - 1 - (TREND_MONTHS - 1)
    return date(index // 12, index % 12 + 1, 1), end_on


def portfolio_report(
    ledger: Ledger,
    as_of: date,
    *,
    owner: str | None = None,
    known_at: datetime | None = None,
    at_position: int | None = None,
) -> PortfolioReport:
    """Gather the report's figures from ``ledger`` (see ``Ledger.report``)."""
    grouping = AgeingGrouping.CURRENCY if owner is None else AgeingGrouping.OWNER
    ageing = ledger.ageing(as_of, grouping=grouping, known_at=known_at, at_position=at_position)
    # Every later query at the position the first answered at, unless a known_at cut was asked
    # (the same cut again), so that the report reads one state of a ledger still being written.
    if known_at is None and at_position is None and ageing.as_of_log is not None:
        at_position = ageing.as_of_log.position
    from_on, to_on = trend_months(as_of)
    series = ledger.kpis_monthly(
        from_on,
        to_on,
        grouping=KpiGrouping.PORTFOLIO if owner is None else KpiGrouping.OWNER,
        known_at=known_at,
        at_position=at_position,
    )
    worklist = ledger.worklist(as_of, owner=owner, known_at=known_at, at_position=at_position)
    if owner is None:
        rows = ageing.rows
        months = series.reports
        by_customer = ledger.ageing(
            as_of, grouping=AgeingGrouping.CUSTOMER, known_at=known_at, at_position=at_position
        )
        top = _top_from_ageing(by_customer)
        listed = {item.customer_code for item in worklist}
        not_listed: int | None = len(
            {row.key for row in by_customer.rows if row.open_minor > 0} - listed
        )
    else:
        rows = tuple(row for row in ageing.rows if row.key == owner)
        months = tuple(
            attrs.evolve(report, rows=tuple(row for row in report.rows if row.key == owner))
            for report in series.reports
        )
        if not rows and not worklist.items and not any(report.rows for report in months):
            raise NotFoundError(
                f"no collection owner {owner!r}: nothing open, sold or collected in the "
                f"{TREND_MONTHS} months to {as_of} and no customer on the worklist"
            )
        top = _top_from_worklist(worklist)
        not_listed = None
    return PortfolioReport(
        as_of=as_of,
        owner=owner,
        bucket_labels=ageing.bucket_labels,
        ageing_by_currency=tuple(sorted(rows, key=lambda row: row.currency)),
        months=months,
        top_overdue=top,
        levels=_levels(worklist),
        customers_open_not_listed=not_listed,
        worklists=_by_owner(worklist),
        as_of_log=ageing.as_of_log,
    )


def _top_from_ageing(report: AgeingReport) -> tuple[TopOverdue, ...]:
    overdue = sorted(
        (row for row in report.rows if row.overdue_minor > 0),
        key=lambda row: (row.currency, -row.overdue_minor, row.key),
    )
    return _first_per_currency(
        TopOverdue(
            customer_code=row.key,
            name=row.label,
            currency=row.currency,
            overdue_minor=row.overdue_minor,
            open_minor=row.open_minor,
            days_past_due_max=row.days_past_due_max,
        )
        for row in overdue
    )


def _top_from_worklist(worklist: Worklist) -> tuple[TopOverdue, ...]:
    overdue = sorted(
        (item for item in worklist if item.overdue_minor > 0),
        key=lambda item: (item.currency, -item.overdue_minor, item.customer_code),
    )
    return _first_per_currency(
        TopOverdue(
            customer_code=item.customer_code,
            name=item.name,
            currency=item.currency,
            overdue_minor=item.overdue_minor,
            open_minor=None,
            days_past_due_max=item.days_past_due_max,
        )
        for item in overdue
    )


def _first_per_currency(rows: Iterable[TopOverdue]) -> tuple[TopOverdue, ...]:
    result: list[TopOverdue] = []
    counted: dict[str, int] = {}
    for row in rows:
        if counted.get(row.currency, 0) < TOP_OVERDUE_PER_CURRENCY:
            counted[row.currency] = counted.get(row.currency, 0) + 1
            result.append(row)
    return tuple(result)


def _levels(worklist: Worklist) -> tuple[LevelCount, ...]:
    counts: dict[tuple[int, str, Grade | None], set[str]] = {}
    for item in worklist:
        counts.setdefault((item.level, item.level_name, item.grade), set()).add(item.customer_code)
    grades = list(Grade)

    def order(key: tuple[int, str, Grade | None]) -> tuple[int, int]:
        grade = key[2]
        return key[0], len(grades) if grade is None else grades.index(grade)

    return tuple(
        LevelCount(level=level, level_name=name, grade=grade, customers=len(codes))
        for (level, name, grade), codes in sorted(counts.items(), key=lambda kv: order(kv[0]))
    )


def _by_owner(worklist: Worklist) -> tuple[OwnerWorklist, ...]:
    owners: dict[str, list[WorklistItem]] = {}
    for item in worklist:
        owners.setdefault(item.owner, []).append(item)
    result = []
    for owner, items in sorted(owners.items()):
        overdue: dict[str, int] = {}
        for item in items:
            overdue[item.currency] = overdue.get(item.currency, 0) + item.overdue_minor
        result.append(
            OwnerWorklist(
                owner=owner,
                items=tuple(items),
                overdue_minor_by_currency=tuple(sorted(overdue.items())),
            )
        )
    return tuple(result)
