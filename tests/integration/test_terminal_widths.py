"""Every CLI table fits the terminal it is printed in, and no amount in it is ever cut.

Each table command runs at 80, 120 and 200 columns (``COLUMNS``, which the command line's
console follows when stdout is not a terminal) on a small generated ledger (300 invoices in
CNY, USD and EUR: amounts in the millions, names of up to ~40 characters); the same command's
JSON gives the figures, and each one must appear whole in the table, with thousands separators.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.synthetic import generate

WIDTHS = (80, 120, 200)
AS_OF = "2025-06-30"
SEED = 15


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("widths") / "ledger.db"),
    }
    ledger = Ledger(env, clock=generate.recording_clock())
    try:
        generate.generate_to_store(ledger, 300, SEED)
    finally:
        ledger.close()
    return env


def run(store: dict[str, str], args: list[str], width: int = 200) -> Any:
    result = CliRunner().invoke(app, args, env={**store, "COLUMNS": str(width)})
    assert 0 == result.exit_code, result.output
    return result


def shown(amount: str) -> str:
    """An exact decimal string of the JSON as a table shows it: 1234567.80 -> 1,234,567.80."""
    return f"{Decimal(amount):,}"


def missing(amounts: list[str], text: str) -> list[str]:
    """The amounts not found whole in ``text`` (no digit, comma or point joined on either side:
    a cut amount, or one without its separators, is not found)."""
    return [
        amount
        for amount in amounts
        if not re.search(rf"(?<![\d,.]){re.escape(shown(amount))}(?![\d,])", text)
    ]


def fits(text: str, width: int) -> None:
    too_wide = [line for line in text.splitlines() if cell_len(line) > width]
    assert [] == too_wide
    assert "…" not in text  # rich's mark of a cut cell


def ageing_amounts(data: dict[str, Any]) -> list[str]:
    amounts = []
    for row in [*data["rows"], *data["totals"]]:
        amounts += [*row["buckets"].values(), row["open"]]
        amounts += [row["disputed"]] if "disputed" in row else []
    return amounts


KPI_SHOWN = ("credit_sales", "ending_ar", "cash_collected", "settled_in_goods", "ecl")


def kpi_amounts(data: dict[str, Any]) -> list[str]:
    return [row[name] for row in data["rows"] for name in KPI_SHOWN]


def statement_amounts(data: dict[str, Any]) -> list[str]:
    ageing = data["ageing"]
    return [
        data["opening_balance"],
        data["closing_balance"],
        *(value for line in data["lines"] for value in (line["amount"], line["balance"])),
        *ageing["buckets"].values(),
        ageing["open"],
        ageing["disputed"],
        data["unapplied_cash"],
        data["net_balance"],
    ]


def table_cases(store: dict[str, str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """(name, table command, the amounts its JSON gives) of every table command."""
    for by in ("portfolio", "currency", "owner", "customer", "invoice"):
        args = ["ageing", "--as-of", AS_OF, "--by", by]
        data = json.loads(run(store, [*args, "--format", "json"]).stdout)
        yield f"ageing by {by}", args, ageing_amounts(data)
    for by in ("portfolio", "owner"):
        args = ["kpis", "--as-of", AS_OF, "--by", by]
        data = json.loads(run(store, [*args, "--format", "json"]).stdout)
        yield f"kpis by {by}", args, kpi_amounts(data)
    args = ["kpis", "--monthly", "--from", "2025-01", "--to", "2025-06"]
    data = json.loads(run(store, [*args, "--format", "json"]).stdout)
    yield "kpis monthly", args, [a for period in data["periods"] for a in kpi_amounts(period)]
    args = ["worklist", "--as-of", AS_OF, "--limit", "0"]
    data = json.loads(run(store, ["worklist", "--as-of", AS_OF, "--format", "json"]).stdout)
    assert data["items"], "the generated ledger has customers to chase"
    yield "worklist", args, [item["overdue"] for item in data["items"]]
    customer = data["items"][0]["customer_code"]
    args = ["statement", customer, "--from", "2025-01-01", "--to", AS_OF]
    data = json.loads(run(store, [*args, "--format", "json"]).stdout)
    yield "statement", args, statement_amounts(data)


@pytest.fixture(scope="module")
def cases(store: dict[str, str]) -> list[tuple[str, list[str], list[str]]]:
    return list(table_cases(store))


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_fits_the_terminal_and_shows_every_amount_whole(
    store: dict[str, str], cases: list[tuple[str, list[str], list[str]]], width: int
) -> None:
    for name, args, amounts in cases:
        text = run(store, args, width).stdout
        fits(text, width)
        assert any(Decimal(amount) >= 1_000 for amount in amounts), name  # separators shown
        assert [] == missing(amounts, text), name


@pytest.mark.parametrize("width", WIDTHS)
def test_explain_wraps_at_words_for_the_width_and_keeps_the_overdue_amount_whole(
    store: dict[str, str], width: int
) -> None:
    data = json.loads(run(store, ["worklist", "--as-of", AS_OF, "--format", "json"]).stdout)
    first = data["items"][0]
    text = run(store, ["explain", first["customer_code"], "--as-of", AS_OF], width).stdout
    fits(text, width)
    assert [] == missing([first["overdue"]], text)


def test_a_wide_terminal_shows_the_table_as_rows_and_a_narrow_one_drops_or_turns_it(
    store: dict[str, str],
) -> None:
    args = ["ageing", "--as-of", AS_OF, "--by", "customer"]
    wide, narrow = run(store, args, 200).stdout, run(store, args, 80).stdout
    # 200 columns: one line per customer, its name beside its code.
    assert any(line.startswith("│ G15-C") and "│" in line[6:] for line in wide.splitlines())
    # 80 columns: a block per customer, headed by its code and name, the buckets as pairs.
    assert not any(line.startswith("│ G15-C") for line in narrow.splitlines())
    assert any(re.match(r"G15-C\d+ {2}\S", line) for line in narrow.splitlines())


def test_next_actions_and_grades_are_words_not_codes(store: dict[str, str]) -> None:
    text = run(store, ["worklist", "--as-of", AS_OF, "--limit", "0"], 200).stdout
    codes = (
        *("lawyer_letter", "legal_filing", "demand_letter", "finance_letter", "overdue_notice"),
        *("finance_follow_up", "focused_pursuit", "legal_collection", "negotiate_first"),
    )
    assert [] == [code for code in codes if code in text]
    assert "lawyer's letter" in text or "legal filing" in text or "visit" in text


def test_a_worklist_for_an_unknown_owner_is_refused_and_records_nothing(
    store: dict[str, str],
) -> None:
    ledger = Ledger(store)
    try:
        head = ledger.recorder.max_notification_id()
        known = sorted(ledger.owners())
    finally:
        ledger.close()
    result = CliRunner().invoke(app, ["worklist", "--as-of", AS_OF, "--owner", "nobody"], env=store)

    assert 1 == result.exit_code
    assert "" == result.stdout
    assert "owner 'nobody'" in result.stderr
    assert known[0] in result.stderr  # the owners it does know
    ledger = Ledger(store)
    try:
        assert head == ledger.recorder.max_notification_id()
    finally:
        ledger.close()
    # A known owner with customers to chase gets their worklist.
    owned = run(store, ["worklist", "--as-of", AS_OF, "--owner", known[0], "--format", "json"])
    assert known[0] == json.loads(owned.stdout)["owner"]


def test_an_unknown_customer_is_refused_with_its_code(store: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["explain", "NOBODY-1", "--as-of", AS_OF], env=store)

    assert 1 == result.exit_code
    assert "'NOBODY-1'" in result.stderr
