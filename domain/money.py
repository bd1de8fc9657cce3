"""Money: integer minor units with an ISO 4217 currency.

Invariant: an amount is always an ``int`` number of the currency's minor unit; the exponent of
each currency comes from ``CURRENCY_EXPONENTS`` alone. Decimals appear only when parsing and
formatting, and every Decimal-to-int conversion goes through ``to_minor`` with a named rounding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

import attrs

from .errors import (
    AmountPrecisionError,
    CurrencyMismatchError,
    InvalidAmountError,
    UnknownCurrencyError,
)

# Exponents per ISO 4217 (number of decimal places of the minor unit). Changing one later means
# migrating stored data, so the table only grows. The list covers the currencies of world trade
# and of the practitioners behind DOMAIN.md; add a code with its ISO exponent when needed.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    # zero decimals
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0,
    # three decimals
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
    # two decimals
    "CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "HKD": 2,
    "SGD": 2, "TWD": 2, "INR": 2, "IDR": 2, "MYR": 2, "THB": 2, "PHP": 2, "PKR": 2, "BDT": 2,
    "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "TRY": 2, "RUB": 2,
    "UAH": 2, "ILS": 2, "AED": 2, "SAR": 2, "QAR": 2, "EGP": 2, "ZAR": 2, "NGN": 2, "KES": 2,
    "MAD": 2, "MXN": 2, "BRL": 2, "ARS": 2, "COP": 2, "PEN": 2,
}  # fmt: skip

_GROUPED_THOUSANDS: Final = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
"""A comma is read only as a thousands separator ("1,234.50"). Anywhere else it is refused:
"1,50" is 1.50 in much of Europe, and silently dropping the comma would book 150.00."""

_PLAIN_DECIMAL: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
"""What an amount in text may look like once thousands separators are gone: ASCII digits with at
most one decimal point. Exponents are refused: a spreadsheet writes "1.23457E+11" for a figure
it has already rounded, and Decimal would book that rounded figure as if it were exact."""

AMOUNT_BLANKS: Final = " \t"
"""Characters ignored around an amount in text (a padded spreadsheet cell), and nowhere else."""

AMOUNT_MINOR_MAX: Final = 10**15
"""Largest amount accepted in one figure: 10 trillion units of a 2-decimal currency.

Bounds every parsed amount so that a runaway input (a pasted serial number, an overflowed ERP
export) is rejected instead of booked.
"""


def currency_exponent(currency: str) -> int:
    """Return the minor-unit exponent of ``currency``; raise for an unknown code."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except (KeyError, TypeError):
        raise UnknownCurrencyError(
            f"unknown currency {currency!r}; expected an ISO 4217 code such as USD, EUR, CNY",
            currency=currency,
        ) from None


def minor_per_major(currency: str) -> int:
    """Minor units in one major unit: 100 for USD, 1 for JPY, 1000 for KWD."""
    scale: int = 10 ** currency_exponent(currency)
    return scale


def require_money(field: str, value: object) -> Money:
    """``value`` when it is ``Money``; commands take amounts as Money, never as text or floats."""
    if not isinstance(value, Money):
        raise InvalidAmountError(
            f"{field} must be Money, got {type(value).__name__}", field=field, value=value
        )
    return value


def check_currency(currency: str) -> str:
    """Return ``currency`` when it is a known code, else raise ``UnknownCurrencyError``."""
    currency_exponent(currency)
    return currency


def to_minor(value: Decimal, currency: str, *, rounding: str | None = None) -> int:
    """Convert a decimal major-unit amount to minor units.

    With ``rounding=None`` (the default) the conversion must be exact: sub-minor precision raises
    ``AmountPrecisionError``. Rate calculations pass a named rounding mode such as
    ``ROUND_HALF_EVEN``.
    """
    exponent = currency_exponent(currency)
    if not isinstance(value, Decimal):
        raise AmountPrecisionError(
            f"amount must be a Decimal, got {type(value).__name__}", value=value
        )
    if not value.is_finite():
        raise InvalidAmountError(f"amount {value} is not a finite number", value=value)
    scaled = value.scaleb(exponent)
    integral = scaled.to_integral_value(rounding=rounding or ROUND_HALF_EVEN)
    if rounding is None and integral != scaled:
        raise AmountPrecisionError(
            f"{value} has more decimals than {currency} allows ({exponent})",
            value=value,
            currency=currency,
            exponent=exponent,
        )
    result = int(integral)
    if abs(result) > AMOUNT_MINOR_MAX:
        raise InvalidAmountError(
            f"{value} {currency} exceeds the largest accepted amount", value=value
        )
    return result


def parse_amount(text: str | Decimal | int, currency: str) -> int:
    """Parse an exact decimal amount ("1234.50", Decimal, or int major units) to minor units.

    Text is ASCII digits with an optional sign, at most one decimal point and commas between
    groups of three digits ("-1,234.50"), with spaces or tabs around it; anything else
    (underscores, inner spaces, other scripts' digits, exponents, NaN, Infinity) is refused.
    Floats are refused: their binary value is not the decimal the user meant.
    """
    if isinstance(text, bool | float):
        raise AmountPrecisionError(
            f"floats are not accepted for money ({text!r}); pass a str or Decimal", value=text
        )
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    elif isinstance(text, str):
        # Only ASCII blanks around the figure are ignored. Nothing inside it is: Decimal() and
        # int() read "1_000" as 1000, "１２" as 12 and " NaN " as not-a-number; an amount is
        # ASCII digits, one sign, one decimal point and commas between thousands, or refused.
        cleaned = text.strip(AMOUNT_BLANKS)
        if "," in cleaned:
            if not _GROUPED_THOUSANDS.fullmatch(cleaned):
                raise InvalidAmountError(
                    f"{text!r}: a comma may only separate thousands, as in 1,234.50", value=text
                )
            cleaned = cleaned.replace(",", "")
        if not _PLAIN_DECIMAL.fullmatch(cleaned):
            raise InvalidAmountError(
                f"{text!r} is not a decimal amount such as 1234.50", value=text
            )
        try:
            value = Decimal(cleaned)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            raise InvalidAmountError(f"{text!r} is not a decimal amount", value=text) from None
    else:
        raise InvalidAmountError(f"cannot read an amount from {type(text).__name__}", value=text)
    return to_minor(value, currency)


def format_minor(amount_minor: int, currency: str) -> str:
    """Exact decimal string of a minor-unit amount, e.g. 123456 USD -> '1234.56'."""
    exponent = currency_exponent(currency)
    return str(Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


@attrs.frozen(order=False)
class Money:
    """An amount of one currency in integer minor units."""

    amount_minor: int
    currency: str = attrs.field(validator=lambda _i, _a, v: check_currency(v))

    def __attrs_post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise AmountPrecisionError(
                f"Money needs integer minor units, got {self.amount_minor!r}",
                value=self.amount_minor,
            )

    @classmethod
    def parse(cls, text: str | Decimal | int, currency: str) -> Money:
        return cls(parse_amount(text, currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        require_money("amount", other)
        if self.currency != other.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}",
                currency=self.currency,
                other_currency=other.currency,
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor >= other.amount_minor

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        return f"{format_minor(self.amount_minor, self.currency)} {self.currency}"

    def allocate(self, weights: Sequence[int]) -> tuple[Money, ...]:
        """Split by ``weights`` with the largest-remainder method; parts sum to the whole."""
        return tuple(
            Money(part, self.currency)
            for part in split_largest_remainder(self.amount_minor, weights)
        )


def split_largest_remainder(total_minor: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_minor`` in proportion to non-negative integer ``weights``.

    Each part gets the floor of its exact share; the minor units left over go one each to the
    parts with the largest remainders (ties to the earlier part), so the parts always add up to
    the whole and no part differs from its exact share by a full unit.
    """
    if not weights:
        raise InvalidAmountError("cannot split over no weights", total_minor=total_minor)
    if any(w < 0 for w in weights):
        raise InvalidAmountError("split weights must not be negative", weights=list(weights))
    weight_total = sum(weights)
    if weight_total == 0:
        raise InvalidAmountError("split weights must not all be zero", weights=list(weights))
    sign = -1 if total_minor < 0 else 1
    magnitude = abs(total_minor)
    floors = [magnitude * w // weight_total for w in weights]
    remainders = [magnitude * w % weight_total for w in weights]
    leftover = magnitude - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    parts = [sign * f for f in floors]
    assert sum(parts) == total_minor
    return parts


def sum_minor(amounts: Iterable[Money], currency: str) -> Money:
    """Add amounts of one currency, starting from zero of ``currency``."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
