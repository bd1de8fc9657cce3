"""Small checks shared by the decide functions, with their named limits.

Every limit on outside input has a name and a reason; exceeding it raises, never truncates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from .errors import InvalidAmountError, InvalidDateError
from .money import AMOUNT_MINOR_MAX
from .text import (
    KEY_LENGTH_MAX,
    REASON_LENGTH_MAX,
    TEXT_LENGTH_MAX,
    require_key,
    require_person,
    require_text,
)

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "KEY_LENGTH_MAX",
    "REASON_LENGTH_MAX",
    "TERMS_DAYS_MAX",
    "TEXT_LENGTH_MAX",
    "require_date",
    "require_key",
    "require_known_at",
    "require_period",
    "require_person",
    "require_positive",
    "require_reason",
    "require_recorded_at",
    "require_text",
]

TERMS_DAYS_MAX: Final = 3650
"""Payment terms beyond ten years are an input error, not a trade credit."""

DATE_MIN: Final = date(1900, 1, 1)
DATE_MAX: Final = date(2199, 12, 31)
"""The business dates the ledger accepts, in commands and queries alike (``require_date``).

Earlier or later is a mistyped year or a shifted column (an amount or serial number read as a
date), not an invoice, due, payment or report date. The bounds leave the queries room to count
back (months of sales, the day before a period) and forward (due dates, promise deadlines,
next thresholds) without leaving the dates Python can represent."""


def require_reason(field: str, value: str) -> str:
    """Free text of up to a paragraph (reasons, notes, outcomes): lines separated by newlines."""
    return require_text(field, value, length_max=REASON_LENGTH_MAX, multiline=True)


def require_positive(field: str, amount_minor: int) -> int:
    if type(amount_minor) is not int:
        raise InvalidAmountError(
            f"{field} must be an int of minor units, got {amount_minor!r}", field=field
        )
    if amount_minor <= 0:
        raise InvalidAmountError(
            f"{field} must be positive, got {amount_minor}", field=field, amount_minor=amount_minor
        )
    if amount_minor > AMOUNT_MINOR_MAX:
        # The same bound as on parsed amounts: a command must not book what an import refuses.
        raise InvalidAmountError(
            f"{field} {amount_minor} exceeds the largest accepted amount {AMOUNT_MINOR_MAX}",
            field=field,
            amount_minor=amount_minor,
        )
    return amount_minor


def require_date(field: str, value: date) -> date:
    """A business date inside ``DATE_MIN``..``DATE_MAX``."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidDateError(f"{field} must be a date, got {value!r}", field=field)
    if not DATE_MIN <= value <= DATE_MAX:
        raise InvalidDateError(
            f"{field} {value} is outside the dates the ledger accepts, {DATE_MIN} to {DATE_MAX}",
            field=field,
            value=value,
            date_min=DATE_MIN,
            date_max=DATE_MAX,
        )
    return value


def require_period(start_on: date, end_on: date) -> tuple[date, date]:
    """A period of business dates, both ends included: ``start_on`` no later than ``end_on``."""
    require_date("start_on", start_on)
    require_date("end_on", end_on)
    if start_on > end_on:
        raise InvalidDateError(
            f"the period starts on {start_on}, after it ends on {end_on}",
            start_on=start_on,
            end_on=end_on,
        )
    return start_on, end_on


def require_recorded_at(recorded_at: datetime) -> datetime:
    """Record-keeping instants must be timezone-aware (UTC by convention)."""
    if not isinstance(recorded_at, datetime) or recorded_at.utcoffset() is None:
        raise InvalidDateError(
            f"recorded_at must be a timezone-aware datetime, got {recorded_at!r}",
            field="recorded_at",
        )
    return recorded_at


def require_known_at(known_at: datetime | None) -> datetime | None:
    """A query's ``known_at`` cut: None (everything recorded) or a timezone-aware instant.

    Events are stamped in UTC; a naive datetime names no instant (whose 09:30?), and comparing
    it with the stamps would fail deep inside a fold, so it is refused up front."""
    if known_at is None:
        return None
    if not isinstance(known_at, datetime) or known_at.utcoffset() is None:
        raise InvalidDateError(
            f"known_at must be a timezone-aware datetime (or None), got {known_at!r}",
            field="known_at",
        )
    return known_at
