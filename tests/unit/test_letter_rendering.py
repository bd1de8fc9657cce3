"""The pure parts of letters (issue 15.4): how amounts, dates, ageing buckets and movement kinds
are written in each language, and which file format a path names."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arledger.adapters.documents.render import (
    DAY_FORMATS,
    TEMPLATES,
    WORDS,
    DocumentFormat,
    Language,
    bucket_label,
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
