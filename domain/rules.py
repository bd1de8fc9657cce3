"""Small checks shared by the decide functions, with their named limits.

Every limit on outside input has a name and a reason; exceeding it raises, never truncates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from .errors import InvalidAmountError, InvalidCommandError, InvalidDateError
from .money import AMOUNT_MINOR_MAX

KEY_LENGTH_MAX: Final = 64
"""Business keys (invoice numbers, bank references, customer codes): ERP keys are short."""

TEXT_LENGTH_MAX: Final = 200
"""Names, owners, approvers, contract references."""

REASON_LENGTH_MAX: Final = 2000
"""Free-text reasons: enough for a paragraph of explanation, not for a pasted document."""

TERMS_DAYS_MAX: Final = 3650
"""Payment terms beyond ten years are an input error, not a trade credit."""


def require_key(field: str, value: str) -> str:
    """A non-blank business key without surrounding spaces or control characters."""
    return _require_text(field, value, KEY_LENGTH_MAX)


def require_text(field: str, value: str, *, length_max: int = TEXT_LENGTH_MAX) -> str:
    return _require_text(field, value, length_max)


def require_reason(field: str, value: str) -> str:
    return _require_text(field, value, REASON_LENGTH_MAX)


def _require_text(field: str, value: str, length_max: int) -> str:
    if not isinstance(value, str):
        raise InvalidCommandError(f"{field} must be text, got {type(value).__name__}", field=field)
    if not value.strip():
        raise InvalidCommandError(f"{field} must not be blank", field=field)
    if value != value.strip():
        raise InvalidCommandError(
            f"{field} {value!r} has leading or trailing spaces", field=field, value=value
        )
    if len(value) > length_max:
        raise InvalidCommandError(
            f"{field} is {len(value)} characters long; at most {length_max} allowed",
            field=field,
            length=len(value),
            length_max=length_max,
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidCommandError(f"{field} contains control characters", field=field)
    return value


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
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidDateError(f"{field} must be a date, got {value!r}", field=field)
    return value


def require_recorded_at(recorded_at: datetime) -> datetime:
    """Record-keeping instants must be timezone-aware (UTC by convention)."""
    if not isinstance(recorded_at, datetime) or recorded_at.utcoffset() is None:
        raise InvalidDateError(
            f"recorded_at must be a timezone-aware datetime, got {recorded_at!r}",
            field="recorded_at",
        )
    return recorded_at
