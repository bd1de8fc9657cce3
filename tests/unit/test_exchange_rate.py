"""Exchange rates as dated facts (issue 13, item 5): recording, the rate in force on a date,
and conversion rounded once, half up in minor units of the target currency."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from arledger.domain import exchange_rate
from arledger.domain.errors import ExchangeRateNotFoundError
from arledger.domain.events import ExchangeRateRecorded
from arledger.domain.exchange_rate import ExchangeRate, convert_minor, rate_in_force

AT = datetime(2026, 1, 1, tzinfo=UTC)


def rate(
    text: str,
    effective_on: date,
    *,
    pair: tuple[str, str] = ("USD", "CNY"),
    recorded_at: datetime = AT,
) -> ExchangeRate:
    numerator, denominator = Decimal(text).as_integer_ratio()
    return ExchangeRate(
        from_currency=pair[0],
        to_currency=pair[1],
        rate_numerator=numerator,
        rate_denominator=denominator,
        effective_on=effective_on,
        source="desk",
        recorded_at=recorded_at,
    )


def test_a_rate_is_recorded_as_an_exact_fraction_and_folds_back_with_its_stamp():
    (event,) = exchange_rate.record_exchange_rate(
        None,
        from_currency="USD",
        to_currency="CNY",
        rate=Decimal("7.1234"),
        effective_on=date(2024, 1, 1),
        source="PBOC central parity",
        recorded_at=AT,
    )
    assert isinstance(event, ExchangeRateRecorded)
    assert (35617, 5000) == (event.rate_numerator, event.rate_denominator)
    book = exchange_rate.fold([event])
    assert book is not None
    (recorded,) = book.rates
    assert "7.1234" == recorded.rate_text
    assert AT == recorded.recorded_at


def test_the_rate_in_force_is_the_latest_dated_on_or_before_the_day():
    rates = [rate("7.1", date(2024, 1, 1)), rate("7.3", date(2024, 7, 1))]
    assert "7.1" == rate_in_force(rates, "USD", "CNY", date(2024, 6, 30)).rate_text
    assert "7.3" == rate_in_force(rates, "USD", "CNY", date(2024, 7, 1)).rate_text


def test_of_two_rates_for_one_day_the_later_recorded_wins_unless_known_at_is_before_it():
    first = rate("7.1", date(2024, 1, 1))
    correction = rate("7.2", date(2024, 1, 1), recorded_at=AT + timedelta(days=1))
    assert correction == rate_in_force([first, correction], "USD", "CNY", date(2024, 3, 1))
    assert first == rate_in_force(
        [first, correction], "USD", "CNY", date(2024, 3, 1), known_at=AT + timedelta(hours=1)
    )


def test_no_rate_in_force_names_the_pair_and_the_day():
    rates = [rate("7.1", date(2024, 1, 1)), rate("0.9", date(2023, 1, 1), pair=("USD", "EUR"))]
    with pytest.raises(ExchangeRateNotFoundError) as raised:
        rate_in_force(rates, "USD", "CNY", date(2023, 12, 31))
    assert ("USD", "CNY", date(2023, 12, 31)) == (
        raised.value.from_currency,
        raised.value.to_currency,
        raised.value.on,
    )
    with pytest.raises(ExchangeRateNotFoundError):
        rate_in_force(rates, "CNY", "USD", date(2024, 3, 1))  # no inverse is assumed


@pytest.mark.parametrize(
    ("amount_minor", "text", "pair", "expected"),
    [
        (1, "2.5", ("USD", "CNY"), 3),  # exactly half: up
        (-1, "2.5", ("USD", "CNY"), -3),  # symmetric: away from zero
        (1, "2.49", ("USD", "CNY"), 2),
        (100_000, "7.1", ("USD", "CNY"), 710_000),
        (100, "150.5", ("USD", "JPY"), 151),  # 1.00 USD -> 150.5 yen, no minor unit: 151
        (15_051, "0.0066", ("JPY", "USD"), 9_934),  # 15,051 yen -> 99.3366 USD
        (1, "1.0005", ("USD", "KWD"), 10),  # 0.01 USD -> 0.010005 KWD -> 10 fils
    ],
)
def test_conversion_is_exact_then_rounded_half_up_in_target_minor_units(
    amount_minor, text, pair, expected
):
    assert expected == convert_minor(amount_minor, rate(text, date(2024, 1, 1), pair=pair))
