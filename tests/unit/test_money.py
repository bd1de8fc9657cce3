"""Money: the exponent table, exact parsing, single-currency arithmetic, largest-remainder split."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.domain.errors import (
    AmountPrecisionError,
    ArledgerError,
    CurrencyMismatchError,
    InvalidAmountError,
    MoneyError,
    UnknownCurrencyError,
)
from arledger.domain.money import (
    AMOUNT_MINOR_MAX,
    Money,
    currency_exponent,
    format_minor,
    parse_amount,
    split_largest_remainder,
    sum_minor,
    to_minor,
)
from tests.strategies import amounts_minor, currencies


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("CNY", 2), ("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3)],
)
def test_each_currency_has_its_iso_exponent(currency: str, exponent: int) -> None:
    assert exponent == currency_exponent(currency)


@pytest.mark.parametrize(
    ("text", "currency", "amount_minor"),
    [
        ("1234.50", "USD", 123450),
        ("0.01", "EUR", 1),
        ("1,234.5", "CNY", 123450),
        ("  7  ", "GBP", 700),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        (Decimal("99.99"), "USD", 9999),
        (Decimal("12"), "JPY", 12),
        (3, "KWD", 3000),
    ],
)
def test_amounts_parse_exactly_from_str_decimal_and_int(
    text: str | Decimal | int, currency: str, amount_minor: int
) -> None:
    assert amount_minor == parse_amount(text, currency)
    assert Money(amount_minor, currency) == Money.parse(text, currency)


@pytest.mark.parametrize("value", [1.5, 0.1, True])
def test_floats_and_bools_are_refused_as_money(value: float) -> None:
    with pytest.raises(AmountPrecisionError) as raised:
        parse_amount(value, "USD")
    assert value == raised.value.value


@pytest.mark.parametrize(
    ("text", "currency", "exponent"),
    [("1.234", "USD", 2), ("1.5", "JPY", 0), ("0.0001", "KWD", 3), ("0.001", "CNY", 2)],
)
def test_sub_minor_precision_is_refused(text: str, currency: str, exponent: int) -> None:
    with pytest.raises(AmountPrecisionError) as raised:
        parse_amount(text, currency)
    assert currency == raised.value.currency
    assert exponent == raised.value.exponent
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("text", ["1,50", "1,2,3", "12,34.00", ",100", "1,234,56"])
def test_a_comma_that_does_not_separate_thousands_is_refused(text: str) -> None:
    # "1,50" is 1.50 in much of Europe: dropping the comma would book a hundred times more.
    with pytest.raises(InvalidAmountError) as raised:
        parse_amount(text, "EUR")
    assert text == raised.value.value


def test_commas_between_groups_of_three_digits_separate_thousands() -> None:
    assert 123456750 == parse_amount("1,234,567.50", "EUR")
    assert -100000 == parse_amount("-1,000", "EUR")


def test_trailing_zeros_beyond_the_exponent_are_exact_and_accepted() -> None:
    assert 150 == parse_amount("1.5000", "USD")
    assert 2 == parse_amount("2.0", "JPY")


@pytest.mark.parametrize("text", ["abc", "", "1.2.3", "NaN", "Infinity"])
def test_text_that_is_not_a_finite_decimal_is_refused(text: str) -> None:
    with pytest.raises(InvalidAmountError):
        parse_amount(text, "USD")


def test_amounts_above_the_accepted_maximum_are_refused() -> None:
    too_large = Decimal(AMOUNT_MINOR_MAX + 1).scaleb(-2)
    with pytest.raises(InvalidAmountError):
        parse_amount(too_large, "USD")


@pytest.mark.parametrize("currency", ["XYZ", "usd", "", "US"])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(UnknownCurrencyError) as raised:
        Money(100, currency)
    assert currency == raised.value.currency
    with pytest.raises(UnknownCurrencyError):
        parse_amount("1", currency)


def test_money_needs_integer_minor_units() -> None:
    with pytest.raises(AmountPrecisionError):
        Money(Decimal("1.5"), "USD")  # type: ignore[arg-type]


def test_to_minor_rounds_only_with_a_named_rounding_mode() -> None:
    with pytest.raises(AmountPrecisionError):
        to_minor(Decimal("0.125"), "USD")
    assert 12 == to_minor(Decimal("0.125"), "USD", rounding=ROUND_HALF_EVEN)
    assert 14 == to_minor(Decimal("0.135"), "USD", rounding=ROUND_HALF_EVEN)


def test_same_currency_amounts_add_subtract_and_compare() -> None:
    ten = Money(1000, "USD")
    three = Money(300, "USD")
    assert Money(1300, "USD") == ten + three
    assert Money(700, "USD") == ten - three
    assert Money(-300, "USD") == -three
    assert three < ten
    assert ten >= three
    assert Money(1300, "USD") == sum_minor([ten, three], "USD")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_arithmetic_across_currencies_raises_currency_mismatch(combine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CurrencyMismatchError) as raised:
        combine(Money(100, "USD"), Money(100, "EUR"))
    assert "USD" == raised.value.currency
    assert "EUR" == raised.value.other_currency


def test_currency_mismatch_is_a_money_error_and_a_value_error() -> None:
    assert issubclass(CurrencyMismatchError, MoneyError)
    assert issubclass(CurrencyMismatchError, ArledgerError)
    assert issubclass(CurrencyMismatchError, ValueError)


def test_money_formats_exactly_with_the_currency_exponent() -> None:
    assert "1234.56 USD" == str(Money(123456, "USD"))
    assert "1500 JPY" == str(Money(1500, "JPY"))
    assert "0.005 KWD" == str(Money(5, "KWD"))
    assert "-0.01" == format_minor(-1, "EUR")
    assert Decimal("12.34") == Money(1234, "GBP").to_decimal()


def test_split_gives_leftover_units_to_the_largest_remainders_first() -> None:
    assert [34, 33, 33] == split_largest_remainder(100, [1, 1, 1])
    assert [1, 0, 0] == split_largest_remainder(1, [1, 1, 1])
    assert [50, 25, 25] == split_largest_remainder(100, [2, 1, 1])
    assert [0, 0, 7] == split_largest_remainder(7, [0, 0, 5])
    assert [-34, -33, -33] == split_largest_remainder(-100, [1, 1, 1])
    assert (Money(67, "USD"), Money(33, "USD")) == Money(100, "USD").allocate([2, 1])


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_split_refuses_empty_zero_or_negative_weights(weights: list[int]) -> None:
    with pytest.raises(InvalidAmountError):
        split_largest_remainder(100, weights)


@given(
    total_minor=st.integers(-(10**12), 10**12),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(any),
)
def test_split_parts_add_up_to_the_whole_and_stay_within_a_unit_of_the_exact_share(
    total_minor: int, weights: list[int]
) -> None:
    parts = split_largest_remainder(total_minor, weights)
    assert total_minor == sum(parts)
    assert len(weights) == len(parts)
    weight_total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total_minor * weight, weight_total)) < 1


@given(amount_minor=amounts_minor, currency=currencies)
def test_formatting_then_parsing_gives_the_same_amount(amount_minor: int, currency: str) -> None:
    assert amount_minor == parse_amount(format_minor(amount_minor, currency), currency)


# Amounts in text: ASCII digits, one sign, one point, commas between thousands (issue 9.14).


@pytest.mark.parametrize(
    "text",
    [
        "1_000",  # Decimal and int accept underscores between digits
        "1_000.00",
        "1,000_000",
        "1 000",  # a space inside: a thousands separator in much of Europe, or a typo
        "1\u00a0000",
        "1\u202f000",
        "\uff11\uff12",  # full-width digits: int() and Decimal() read them as 12
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\u0967\u0968",  # Devanagari digits
        "\uff11,\uff12\uff13\uff14",
        "12\u3000",  # an ideographic space around the figure
        "\u200b12",  # a zero-width space
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1e3",
        "1E+2",
        "0x10",
        "+-1",
        "--1",
        "1.2.3",
        "1,234.5.6",
        ".",
        "-",
        "1\n",
    ],
)
def test_an_amount_in_text_is_ascii_digits_with_a_sign_a_point_and_thousands_commas(
    text: str,
) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        parse_amount(text, "USD")

    assert text == raised.value.value
    with pytest.raises(InvalidAmountError):
        Money.parse(text, "USD")


@pytest.mark.parametrize(
    ("text", "amount_minor"),
    [
        ("1000", 100000),
        ("+1000", 100000),
        ("-1,000", -100000),
        ("1,000.5", 100050),
        (".5", 50),
        ("5.", 500),
        ("  7  ", 700),
        ("\t7", 700),
        ("0001", 100),
    ],
)
def test_the_documented_forms_of_an_amount_still_parse(text: str, amount_minor: int) -> None:
    assert amount_minor == parse_amount(text, "USD")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")])
def test_a_decimal_that_is_not_a_finite_number_is_refused(value: Decimal) -> None:
    with pytest.raises(InvalidAmountError):
        parse_amount(value, "USD")
