"""Exchange-rate book: exchange rates recorded as dated facts, and the rate in force on a date.

A rate says what one unit of ``from_currency`` is worth in ``to_currency`` from its effective
date, and where the figure came from (``source``: a central bank fixing, a bank's quote, a
treasury decision). Rates are only ever added: a rate for a pair and a date that already has
one corrects it from then on, and the earlier one stays in the history, so a report known at an
earlier instant still shows the rate it used.

Invariant: the rate in force for a pair on a date is the one with the latest effective date on
or before it, and among rates with that date the one recorded last (``rate_in_force``);
conversion is exact up to one rounding, half up in minor units of the target currency
(``convert_minor``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final
from uuid import UUID

import attrs

from . import ids
from .errors import ExchangeRateNotFoundError, InvalidExchangeRateError
from .events import Event, ExchangeRateRecorded
from .money import check_currency, currency_exponent
from .rules import require_date, require_recorded_at, require_text

RATE_TERM_MAX: Final = 10**15
"""The largest numerator or denominator of a reduced rate: a rate with more significant
digits than that is an input error (a shifted column), not a quote, and the terms stay within
the 64-bit integers of the columnar log."""


@attrs.frozen(kw_only=True)
class ExchangeRate:
    """One recorded rate: 1 ``from_currency`` = ``rate`` ``to_currency`` from ``effective_on``."""

    from_currency: str
    to_currency: str
    rate_numerator: int
    rate_denominator: int
    effective_on: date
    source: str
    recorded_at: datetime

    @property
    def rate(self) -> Fraction:
        return Fraction(self.rate_numerator, self.rate_denominator)

    @property
    def rate_text(self) -> str:
        """The rate as a decimal, exactly when it has a finite decimal form (every rate
        recorded from a decimal has), else to 12 significant digits."""
        decimal = Decimal(self.rate_numerator) / Decimal(self.rate_denominator)
        exact = decimal * self.rate_denominator == self.rate_numerator
        if exact:
            return format(decimal.normalize(), "f")
        return format(decimal.quantize(Decimal("1E-12")).normalize(), "f")


@attrs.frozen(kw_only=True)
class RateBook:
    id: UUID
    version: int
    rates: tuple[ExchangeRate, ...] = ()


def rate_of(event: ExchangeRateRecorded) -> ExchangeRate:
    return ExchangeRate(
        from_currency=event.from_currency,
        to_currency=event.to_currency,
        rate_numerator=event.rate_numerator,
        rate_denominator=event.rate_denominator,
        effective_on=event.effective_on,
        source=event.source,
        recorded_at=event.timestamp,
    )


def evolve(state: RateBook | None, event: Event) -> RateBook:
    assert isinstance(event, ExchangeRateRecorded)
    assert event.rate_numerator > 0
    assert event.rate_denominator > 0
    if state is None:
        state = RateBook(id=event.originator_id, version=0)
    assert event.originator_version == state.version + 1
    return attrs.evolve(
        state, version=event.originator_version, rates=(*state.rates, rate_of(event))
    )


def fold(events: Iterable[Event], state: RateBook | None = None) -> RateBook | None:
    for event in events:
        state = evolve(state, event)
    return state


def rate_terms(rate: Decimal, *, from_currency: str, to_currency: str) -> tuple[int, int]:
    """(numerator, denominator) of a positive decimal rate, reduced; a rate that is not a
    positive finite Decimal, or has too many digits, raises ``InvalidExchangeRateError``."""
    if not isinstance(rate, Decimal) or isinstance(rate, bool):
        raise InvalidExchangeRateError(
            f"an exchange rate must be a Decimal, got {type(rate).__name__}",
            field="rate",
            value=rate,
            from_currency=from_currency,
            to_currency=to_currency,
        )
    if not rate.is_finite() or rate <= 0:
        raise InvalidExchangeRateError(
            f"an exchange rate must be positive and finite, got {rate}",
            field="rate",
            value=rate,
            from_currency=from_currency,
            to_currency=to_currency,
        )
    numerator, denominator = rate.as_integer_ratio()
    if numerator > RATE_TERM_MAX or denominator > RATE_TERM_MAX:
        raise InvalidExchangeRateError(
            f"exchange rate {rate} has more digits than a rate may have",
            field="rate",
            value=rate,
            from_currency=from_currency,
            to_currency=to_currency,
        )
    return numerator, denominator


def record_exchange_rate(
    book: RateBook | None,
    *,
    from_currency: str,
    to_currency: str,
    rate: Decimal,
    effective_on: date,
    source: str,
    recorded_at: datetime,
) -> list[Event]:
    """Record a rate for the pair from ``effective_on``. The same rate again for the same pair,
    date and source, when it is already the one in force from that date, records nothing (a
    repeated import); another rate for that date corrects it from then on."""
    check_currency(from_currency)
    check_currency(to_currency)
    if from_currency == to_currency:
        raise InvalidExchangeRateError(
            f"an exchange rate needs two currencies, got {from_currency} to itself",
            field="to_currency",
            value=to_currency,
            from_currency=from_currency,
            to_currency=to_currency,
        )
    numerator, denominator = rate_terms(rate, from_currency=from_currency, to_currency=to_currency)
    require_date("effective_on", effective_on)
    require_text("source", source)
    require_recorded_at(recorded_at)
    rates = () if book is None else book.rates
    same_day = [
        known
        for known in rates
        if (known.from_currency, known.to_currency, known.effective_on)
        == (from_currency, to_currency, effective_on)
    ]
    if same_day:
        last = same_day[-1]
        if (last.rate_numerator, last.rate_denominator, last.source) == (
            numerator,
            denominator,
            source,
        ):
            return []
    return [
        ExchangeRateRecorded(
            originator_id=ids.rate_book_id(),
            originator_version=1 if book is None else book.version + 1,
            timestamp=recorded_at,
            from_currency=from_currency,
            to_currency=to_currency,
            rate_numerator=numerator,
            rate_denominator=denominator,
            effective_on=effective_on,
            source=source,
        )
    ]


def rate_in_force(
    rates: Sequence[ExchangeRate],
    from_currency: str,
    to_currency: str,
    on: date,
    *,
    known_at: datetime | None = None,
) -> ExchangeRate:
    """The rate for the pair in force on ``on``: the latest effective date on or before it,
    and of rates with that date the one recorded last; only rates recorded by ``known_at``
    count, if given. None in force raises ``ExchangeRateNotFoundError`` naming the pair and
    the date."""
    found: ExchangeRate | None = None
    for rate in rates:
        if (rate.from_currency, rate.to_currency) != (from_currency, to_currency):
            continue
        if rate.effective_on > on:
            continue
        if known_at is not None and rate.recorded_at > known_at:
            continue
        if found is None or (rate.effective_on, rate.recorded_at) >= (
            found.effective_on,
            found.recorded_at,
        ):
            found = rate
    if found is None:
        raise ExchangeRateNotFoundError(
            f"no exchange rate {from_currency} -> {to_currency} in force on {on.isoformat()}"
            + ("" if known_at is None else f" as known at {known_at.isoformat()}"),
            from_currency=from_currency,
            to_currency=to_currency,
            on=on,
            known_at=known_at,
        )
    return found


def convert_minor(amount_minor: int, rate: ExchangeRate) -> int:
    """``amount_minor`` of ``rate.from_currency`` in minor units of ``rate.to_currency``,
    computed exactly and rounded once, half up (away from zero at exactly one half, so a
    negative amount converts to the negative of its positive)."""
    scale_from: int = 10 ** currency_exponent(rate.from_currency)
    scale_to: int = 10 ** currency_exponent(rate.to_currency)
    numerator = abs(amount_minor) * rate.rate_numerator * scale_to
    denominator = rate.rate_denominator * scale_from
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if amount_minor >= 0 else -quotient
