"""The command line's table layout (``formats.FittedTable``): whatever the width from 80
columns, every line fits and every amount and code is whole; the layout degrades from rows to
fewer columns to a vertical layout, in that order."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from arledger.adapters.cli.formats import (
    Column,
    FittedTable,
    Kind,
    amount_cell,
    money_cell,
    words,
)


def render(table: FittedTable, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False, color_system=None).print(table)
    return out.getvalue()


def customers(rows: list[tuple[str, str, int]]) -> FittedTable:
    table = FittedTable(
        Column("Customer", Kind.CODE, key=True),
        Column("Name", key=True, drop=1),
        Column("Currency", Kind.CODE, key=True),
        *(Column(label, Kind.AMOUNT) for label in ("current", "1-30", "31-60", "over 60")),
        Column("Open", Kind.AMOUNT),
        title="Ageing",
    )
    for code, name, amount_minor in rows:
        table.add_row(
            code,
            name,
            "CNY",
            *(amount_cell(amount_minor * part, "CNY") for part in (1, 2, 3, 4)),
            amount_cell(amount_minor * 10, "CNY"),
        )
    return table


def lines_fit(text: str, width: int) -> bool:
    return all(cell_len(line) <= width for line in text.splitlines())


def test_amounts_have_thousands_separators_and_codes_are_words() -> None:
    assert "105,647,359.71" == amount_cell(10_564_735_971, "CNY")
    assert "-1,234.50 USD" == money_cell(-123_450, "USD")
    assert "1,234 JPY" == money_cell(1_234, "JPY")
    assert "lawyer's letter" == words("lawyer_letter")
    assert "legal collection" == words("legal_collection")
    assert "some new action" == words("some_new_action")


def test_a_table_that_fits_keeps_one_line_per_row() -> None:
    table = customers([("C-1", "Acme", 123_456_789)])
    text = render(table, 200)
    row = next(line for line in text.splitlines() if "C-1" in line)
    assert "Acme" in row
    assert "12,345,678.90" in row  # the Open column, on the customer's line


def test_an_optional_column_drops_before_the_table_turns_and_the_caption_says_so() -> None:
    table = customers([("C-1", "A rather long customer name of a trading company", 123_456_789)])
    width = 100  # the amounts fit on the row (99 columns), not with the name beside them (116)
    text = render(table, width)
    assert lines_fit(text, width)
    row = next(line for line in text.splitlines() if "C-1" in line)
    assert "12,345,678.90" in row
    assert "Not shown at this width: Name" in " ".join(text.split())


def test_a_few_rows_too_wide_turn_into_columns() -> None:
    table = customers([("C-1", "Acme", 123_456_789), ("C-2", "Beta", 1)])
    text = render(table, 80)
    assert lines_fit(text, 80)
    open_line = next(line for line in text.splitlines() if line.startswith("│ Open"))
    assert "12,345,678.90" in open_line
    assert "0.10" in open_line


def test_many_rows_too_wide_become_one_block_per_row() -> None:
    table = customers([(f"C-{n}", f"Customer {n}", 100_000_000 + n) for n in range(20)])
    text = render(table, 80)
    assert lines_fit(text, 80)
    assert 20 == sum(1 for line in text.splitlines() if line.startswith("C-"))
    assert "C-7  Customer 7  CNY" in text
    assert "10,000,000.70" in text


@given(
    width=st.integers(min_value=80, max_value=220),
    names=st.lists(
        st.text(alphabet="abc 欠款征询函", min_size=1, max_size=60), min_size=1, max_size=12
    ),
    amounts=st.lists(st.integers(min_value=-(10**14), max_value=10**14), min_size=12, max_size=12),
)
def test_every_line_fits_and_every_amount_is_whole_at_any_width(
    width: int, names: list[str], amounts: list[int]
) -> None:
    rows = [(f"CUSTOMER-{index:06d}", name, amounts[index]) for index, name in enumerate(names)]
    table = customers(rows)
    text = render(table, width)
    assert lines_fit(text, width)
    assert "…" not in text
    for code, _name, amount_minor in rows:
        assert code in text
        assert amount_cell(amount_minor * 10, "CNY") in text
