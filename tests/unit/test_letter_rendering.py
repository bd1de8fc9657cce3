"""The pure parts of letters (issue 15.4): how amounts, dates, ageing buckets and movement kinds
are written in each language, and which file format a path names."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.documents.render import (
    DAY_FORMATS,
    TEMPLATES,
    WORDS,
    DocumentFormat,
    Language,
    bucket_label,
    chinese_capital,
    document_format,
    grouped,
    template_name,
)
from arledger.domain.errors import LetterOutputError
from arledger.projections.letters import LetterKind
from arledger.projections.statement import MovementKind


@pytest.mark.parametrize(
    ("amount_minor", "currency", "expected"),
    [
        (19_521_000, "CNY", "195,210.00"),
        (-650_050, "CNY", "-6,500.50"),
        (0, "USD", "0.00"),
        (123_456_789, "JPY", "123,456,789"),
        (5, "USD", "0.05"),
    ],
)
def test_amounts_are_written_with_thousands_separators_and_exact_decimals(
    amount_minor: int, currency: str, expected: str
) -> None:
    assert expected == grouped(amount_minor, currency)


def test_dates_are_written_as_people_write_them_in_each_language() -> None:
    assert "31 March 2024" == DAY_FORMATS[Language.EN](date(2024, 3, 31))
    assert "2024年3月31日" == DAY_FORMATS[Language.ZH](date(2024, 3, 31))
    assert "2024年12月1日" == DAY_FORMATS[Language.ZH](date(2024, 12, 1))


@pytest.mark.parametrize(
    ("label", "english", "chinese"),
    [("current", "not yet due", "未逾期"), ("1-30", "1-30 days", "1-30天"),
     ("over 120", "over 120 days", "120天以上")],
)  # fmt: skip
def test_ageing_buckets_are_named_in_each_language(label: str, english: str, chinese: str) -> None:
    assert english == bucket_label(label, Language.EN)
    assert chinese == bucket_label(label, Language.ZH)


def test_every_movement_kind_has_a_word_in_every_language() -> None:
    for language in Language:
        words = WORDS[language]["movement"]
        assert {kind.value for kind in MovementKind} == set(words)
        assert all(word.strip() for word in words.values())


def test_every_letter_has_a_shipped_template_in_every_language() -> None:
    for kind in LetterKind:
        for language in Language:
            assert (TEMPLATES / template_name(kind, language)).is_file()


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.pdf", DocumentFormat.PDF), ("A.PDF", DocumentFormat.PDF),
     ("a.html", DocumentFormat.HTML), ("a.htm", DocumentFormat.HTML)],
)  # fmt: skip
def test_the_suffix_names_the_format(name: str, expected: DocumentFormat) -> None:
    assert expected == document_format(Path(name))


@pytest.mark.parametrize("name", ["a.docx", "a", "a.pdf.txt"])
def test_another_suffix_is_refused(name: str) -> None:
    with pytest.raises(LetterOutputError) as raised:
        document_format(Path(name))

    assert "suffix" == raised.value.conflict


# Capital numerals (大写金额) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_minor", "expected"),
    [
        # The examples of the People's Bank's payment and settlement measures (支付结算办法).
        (140_950, "壹仟肆佰零玖元伍角"),
        (600_714, "陆仟零柒元壹角肆分"),
        (168_032, "壹仟陆佰捌拾元零叁角贰分"),
        (10_700_053, "壹拾万柒仟元零伍角叁分"),
        (1_640_902, "壹万陆仟肆佰零玖元零贰分"),
        (32_504, "叁佰贰拾伍元零肆分"),
        # Whole yuan end in 整; zeros inside are one 零; 拾 is always 壹拾 in finance.
        (19_521_000, "壹拾玖万伍仟贰佰壹拾元整"),
        (1_000, "壹拾元整"),
        (10_001_000, "壹拾万零壹拾元整"),
        (100_000_100, "壹佰万零壹元整"),
        (100_000_000_000, "壹拾亿元整"),
        (10_000_100_000, "壹亿零壹仟元整"),
        (0, "零元整"),
        (50, "伍角"),
        (5, "伍分"),
    ],
)
def test_cny_amounts_are_written_in_capital_numerals(amount_minor: int, expected: str) -> None:
    assert expected == chinese_capital(amount_minor)


def test_negative_amounts_have_no_capital_numerals() -> None:
    with pytest.raises(ValueError, match="negative"):
        chinese_capital(-1)


_VALUES = {digit: value for value, digit in enumerate("零壹贰叁肆伍陆柒捌玖")}
_PLACES = {"拾": 10, "佰": 100, "仟": 1000}


def read_capital(words: str) -> int:
    """The amount in minor units that capital numerals (below 万亿) write: the test's own
    reading, independent of the writer."""
    yuan_words, _, cents_words = words.partition("元")
    if not _:
        yuan_words, cents_words = "", words
    high = middle = section = number = 0
    for char in yuan_words:
        if char in _VALUES:
            number = _VALUES[char]
        elif char in _PLACES:
            section += number * _PLACES[char]
            number = 0
        elif char == "亿":
            high, section, number = section + number, 0, 0
        else:
            assert "万" == char
            middle, section, number = section + number, 0, 0
    yuan = high * 10**8 + middle * 10**4 + section + number
    cents = 0
    for value_char, unit in itertools.pairwise(cents_words):
        if value_char in _VALUES and unit in "角分":
            cents += _VALUES[value_char] * (10 if unit == "角" else 1)
    return yuan * 100 + cents


@given(st.integers(min_value=0, max_value=10**14 - 1))
def test_capital_numerals_read_back_to_the_amount(amount_minor: int) -> None:
    words = chinese_capital(amount_minor)

    assert amount_minor == read_capital(words)
    assert "零零" not in words
    assert not words.startswith("零") or "零元整" == words
    assert words.endswith(("整", "角", "分"))
    assert words.endswith("整") == (amount_minor % 100 == 0)
