"""The customer's payment calendar: when money can realistically arrive.

Invariant: the expected pay date is never before the due date, never before the invoice can be
booked (after the book-closing day it waits for the next month's books), and falls on one of
the customer's payment-run days when it has any.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from typing import Final

SEARCH_MONTHS_MAX: Final = 24
"""Payment-run days are days of the month, so a run day is always found within a month or two;
the bound only guards the loop."""


def _day_in_month(year: int, month: int, day: int) -> date:
    """``day`` of the month, clamped to its last day (a run on the 31st pays on 30 April)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def booking_on(issued_on: date, book_closing_day: int | None) -> date:
    """When the customer books the invoice: at once, or the first of next month when it
    arrives after the book-closing day."""
    if book_closing_day is None or issued_on.day <= book_closing_day:
        return issued_on
    year, month = (
        (issued_on.year + 1, 1)
        if issued_on.month == 12
        else (
            issued_on.year,
            issued_on.month + 1,
        )
    )
    return date(year, month, 1)


def expected_pay_on(
    *,
    issued_on: date,
    due_on: date,
    book_closing_day: int | None,
    payment_run_days: Sequence[int],
) -> date:
    """The first payment-run day on or after both the due date and the booking date."""
    earliest = max(due_on, booking_on(issued_on, book_closing_day))
    if not payment_run_days:
        return earliest
    year, month = earliest.year, earliest.month
    for _ in range(SEARCH_MONTHS_MAX):
        for day in sorted(payment_run_days):
            candidate = _day_in_month(year, month, day)
            if candidate >= earliest:
                return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("no payment-run day found")  # unreachable for days 1..31
