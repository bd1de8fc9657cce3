"""Policy back-testing: what a candidate escalation policy would have done over a past period,
beside the policy actually in force (``Ledger.backtest``; computed by ``fast.backtest``).

The candidate is used as the single policy throughout: on every date, including the dates
before the period that a period end's figures depend on (a promise's deadline is its promised
date plus the tolerance of the policy then; a promise holds the level it was made at). So the
candidate's figures are what the ledger would show had the candidate been the only policy ever
adopted, and a candidate identical to the one policy in force gives identical figures. The
actual figures are the ledger's own (every adopted version, each from its effective date).

Invariant: pure values and date arithmetic; nothing here reads the clock or does I/O, and a
back-test records nothing.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date, datetime, timedelta
from typing import Final

import attrs

from arledger.domain.errors import InvalidCommandError, InvalidDateError
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy

BACKTEST_MIN_LEVEL: Final = 3
"""The default level from which a customer counts as escalated (the default policy's
"demand", where supply is held)."""


class BacktestStep(enum.Enum):
    """How far apart the period ends are: each month's last day, or each Sunday."""

    MONTH = "month"
    WEEK = "week"


class BacktestPolicy(enum.Enum):
    """Which policy a row is of."""

    ACTUAL = "actual"
    CANDIDATE = "candidate"


@attrs.frozen(kw_only=True)
class EscalatedCustomer:
    """A customer at ``level`` (at least the back-test's ``min_level``) on a period end."""

    customer_code: str
    level: int
    collected_after: tuple[Money, ...]
    """What the customer paid (payments valued after the period end, not reversed), one per
    currency paid in: the money later collected from it."""
    written_off_after: bool
    """An invoice of the customer was written off after the period end: caught before it
    ended written off."""


@attrs.frozen(kw_only=True)
class BacktestRow:
    """One policy's figures on one period end (customers opened by then)."""

    policy: BacktestPolicy
    period_end: date
    policy_version: int
    """The version of the policy in force on the period end (the candidate's own number)."""
    customers_by_level: tuple[int, ...]
    """Customers at each level of that policy, level 0 first."""
    on_supply_hold: int
    """Customers whose supply the policy holds: at a level whose rung says ``supply_hold``,
    or under a distress effect that does (``EscalationPolicy.supply_hold_at``)."""
    at_legal_level: int
    """Customers at the policy's top level (the legal referrals; "legal" in the default)."""
    promises_broken: int
    """Broken promises the policy counts against the customers (summed over customers)."""
    escalated: tuple[EscalatedCustomer, ...]
    """Customers at ``min_level`` or above, by customer code."""
    collected_after: tuple[Money, ...]
    """The escalated customers' ``collected_after``, summed per currency."""
    written_off_caught: int
    """Escalated customers written off after the period end."""


@attrs.frozen(kw_only=True)
class BacktestPeriod:
    period_end: date
    actual: BacktestRow
    candidate: BacktestRow


@attrs.frozen(kw_only=True)
class BacktestDifference:
    """A customer whose level on a period end differs between the two policies."""

    period_end: date
    customer_code: str
    actual_level: int
    candidate_level: int


@attrs.frozen(kw_only=True)
class Backtest:
    """The candidate against the policy in force, period end by period end."""

    from_month: str
    to_month: str
    step: BacktestStep
    known_at: datetime | None
    min_level: int
    """The level from which a customer counts as escalated (``BacktestRow.escalated``)."""
    candidate_version: int
    periods: tuple[BacktestPeriod, ...]
    differences: tuple[BacktestDifference, ...]
    """By period end, then customer code."""


def parse_month(name: str, value: str) -> date:
    """The first day of a ``YYYY-MM`` month; ``InvalidDateError`` naming ``name`` if not one."""
    text = value if isinstance(value, str) else ""
    parts = text.split("-")
    if len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 2 and text.isascii():
        try:
            return date(int(parts[0]), int(parts[1]), 1)
        except ValueError:
            pass
    raise InvalidDateError(f"{name} must be a month YYYY-MM, got {value!r}", field=name)


def require_terms(
    candidate: object, from_month: str, to_month: str, step: object, min_level: object
) -> tuple[date, ...]:
    """A back-test's terms checked, whichever way it runs (the Ledger's engine, a cluster):
    the period ends (``period_ends``).

    Raises:
        InvalidDateError: a month is not ``YYYY-MM``, or ``to_month`` is before ``from_month``.
        InvalidCommandError: ``candidate`` is not an ``EscalationPolicy``, ``step`` not a
            ``BacktestStep`` or ``min_level`` not a positive int.
    """
    if not isinstance(candidate, EscalationPolicy):
        raise InvalidCommandError(
            f"candidate must be an EscalationPolicy, got {type(candidate).__name__}",
            field="candidate",
        )
    if not isinstance(step, BacktestStep):
        raise InvalidCommandError(
            f"step must be a BacktestStep, got {step!r}", field="step", value=step
        )
    if type(min_level) is not int or min_level < 1:
        raise InvalidCommandError(
            f"min_level must be a positive whole level, got {min_level!r}",
            field="min_level",
            value=min_level,
        )
    return period_ends(from_month, to_month, step)


def period_ends(from_month: str, to_month: str, step: BacktestStep) -> tuple[date, ...]:
    """The period ends from the start of ``from_month`` to the end of ``to_month``: every
    month's last day, or every Sunday in between."""
    start = parse_month("from_month", from_month)
    last = parse_month("to_month", to_month)
    end = last.replace(day=calendar.monthrange(last.year, last.month)[1])
    if last < start:
        raise InvalidDateError(
            f"to_month {to_month} is before from_month {from_month}", field="to_month"
        )
    if step is BacktestStep.WEEK:
        first = start + timedelta(days=(6 - start.weekday()) % 7)
        return tuple(first + timedelta(weeks=n) for n in range((end - first).days // 7 + 1))
    ends = []
    year, month = start.year, start.month
    while (year, month) <= (last.year, last.month):
        ends.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(ends)
