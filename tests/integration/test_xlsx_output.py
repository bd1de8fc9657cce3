"""``--format xlsx --out FILE.xlsx`` of ageing, kpis, worklist and statement: each workbook,
read back with openpyxl, holds the figures of the JSON output of the same command on the same
ledger (the generated one of ``test_report``), with amounts as numbers in the currency's
decimals, dates as dates, and the header row frozen.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters import xlsx_output
from arledger.adapters.cli.app import app
from arledger.domain.money import Money
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock
from tests.integration.test_report import AS_OF
from tests.integration.test_report import store as store  # the module's generated ledger


def run(store: dict[str, str], *arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments), env=store)
    assert 0 == result.exit_code, result.output
    return result.stdout


def json_and_sheets(
    store: dict[str, str], tmp_path: Path, *arguments: str
) -> tuple[Any, list[Worksheet]]:
    data = json.loads(run(store, *arguments, "--format", "json"))
    out = tmp_path / "out.xlsx"
    said = run(store, *arguments, "--format", "xlsx", "--out", str(out))
    assert str(out) in said
    workbook = openpyxl.load_workbook(out)
    for sheet in workbook.worksheets:
        assert "A2" == sheet.freeze_panes, sheet.title
    return data, workbook.worksheets


def records(sheet: Worksheet) -> list[dict[str, Any]]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def number(value: object) -> Decimal | None:
    """A cell's number as the decimal it was written as (floats print shortest-exact)."""
    if value is None:
        return None
    assert isinstance(value, int | float), value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def on(value: object) -> str | None:
    if value is None:
        return None
    assert isinstance(value, datetime), value
    return value.date().isoformat()


def assert_amount_formats(sheet: Worksheet, columns: set[str]) -> None:
    """Every amount cell shows its row's currency's decimals with thousands separators."""
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        currency = row[header.index("currency")].value
        for cell, name in zip(row, header, strict=True):
            if name in columns and cell.value is not None:
                assert xlsx_output.amount_format(str(currency)) == cell.number_format, name


@pytest.mark.parametrize("grouping", ["customer", "currency"])
def test_ageing_workbook_holds_the_json_figures(
    store: dict[str, str], tmp_path: Path, grouping: str
) -> None:
    data, sheets = json_and_sheets(
        store, tmp_path, "ageing", "--as-of", str(AS_OF), "--by", grouping
    )

    labels = data["bucket_labels"]
    rows = records(sheets[0])
    assert len(data["rows"]) == len(rows) > 0
    for expected, actual in zip(data["rows"], rows, strict=True):
        assert (expected["key"], expected["label"], expected["currency"]) == (
            actual["key"],
            actual["label"],
            actual["currency"],
        )
        for label in labels:
            assert decimal(expected["buckets"][label]) == number(actual[label])
        for name in ("open", "overdue", "disputed"):
            assert decimal(expected[name]) == number(actual[name]), name
        assert expected["days_past_due_max"] == actual["days_past_due_max"]
    assert_amount_formats(sheets[0], {*labels, "open", "overdue", "disputed"})
    totals = records(sheets[1])
    assert [t["currency"] for t in data["totals"]] == [t["currency"] for t in totals]
    for expected, actual in zip(data["totals"], totals, strict=True):
        assert decimal(expected["open"]) == number(actual["open"])


def test_kpis_monthly_workbook_holds_the_json_figures(
    store: dict[str, str], tmp_path: Path
) -> None:
    data, sheets = json_and_sheets(
        store, tmp_path, "kpis", "--monthly", "--from", "2025-01", "--to", "2025-06"
    )

    expected_rows = [(period, row) for period in data["periods"] for row in period["rows"]]
    rows = records(sheets[0])
    assert len(expected_rows) == len(rows) > 6
    amounts = ("beginning_ar", "credit_sales", "ending_ar", "current_ar", "overdue_ar")
    amounts += ("cash_collected", "settled_in_goods", "promised", "promised_paid", "ecl")
    ratios = ("dso_days", "dso_days_countback", "dso_days_best_possible")
    ratios += ("days_delinquent_average", "cei_total_sales", "cei_monthly_average")
    ratios += ("collection_rate", "collection_rate_in_goods")
    ratios += ("promise_kept_rate_by_count", "promise_kept_rate_by_amount")
    for (period, expected), actual in zip(expected_rows, rows, strict=True):
        assert (period["start_on"], period["end_on"]) == (
            on(actual["start_on"]),
            on(actual["end_on"]),
        )
        assert (expected["key"], expected["currency"]) == (actual["key"], actual["currency"])
        for name in amounts:
            assert decimal(expected[name]) == number(actual[name]), name
        for name in ratios:
            assert decimal(expected[name]) == number(actual[name]), name
        assert expected["promises_judged"] == actual["promises_judged"]
    assert any(row["dso_days"] is not None for row in rows)
    assert_amount_formats(sheets[0], set(amounts))


def test_worklist_workbook_holds_the_json_figures(store: dict[str, str], tmp_path: Path) -> None:
    data, sheets = json_and_sheets(store, tmp_path, "worklist", "--as-of", str(AS_OF))

    rows = records(sheets[0])
    assert len(data["items"]) == len(rows) > 0
    for expected, actual in zip(data["items"], rows, strict=True):
        for name in ("rank", "customer_code", "name", "owner", "level", "level_name", "grade"):
            assert expected[name] == actual[name], name
        assert decimal(expected["overdue"]) == number(actual["overdue"])
        assert expected["days_past_due_max"] == actual["days_past_due_max"]
        assert expected["broken_promises"] == actual["broken_promises"]
        assert expected["next_action"] == actual["next_action"]
        assert expected["next_action_due_on"] == on(actual["next_action_due_on"])
        assert len(expected["pre_due_reminders"]) == actual["pre_due_reminders"]
        assert len(expected["reconciliations"]) == actual["reconciliations"]
    assert_amount_formats(sheets[0], {"overdue"})


def test_statement_workbook_holds_the_json_figures(store: dict[str, str], tmp_path: Path) -> None:
    customer = Ledger(env=store).worklist(AS_OF)[0].customer_code
    data, sheets = json_and_sheets(
        store, tmp_path, "statement", customer, "--from", "2024-01-01", "--to", str(AS_OF)
    )

    rows = records(sheets[0])
    assert len(data["lines"]) + 3 == len(rows)
    assert ("opening_balance", decimal(data["opening_balance"])) == (
        rows[0]["kind"],
        number(rows[0]["balance"]),
    )
    for expected, actual in zip(data["lines"], rows[1:-2], strict=True):
        assert (expected["on"], expected["kind"], expected["reference"]) == (
            on(actual["on"]),
            actual["kind"],
            actual["reference"],
        )
        assert decimal(expected["amount"]) == number(actual["amount"])
        assert decimal(expected["balance"]) == number(actual["balance"])
    assert ("closing_balance", decimal(data["closing_balance"])) == (
        rows[-2]["kind"],
        number(rows[-2]["balance"]),
    )
    assert decimal(data["unapplied_cash"]) == number(rows[-1]["amount"])
    (ageing,) = records(sheets[1])
    for label, amount in data["ageing"]["buckets"].items():
        assert decimal(amount) == number(ageing[label])


def test_a_name_that_looks_like_a_formula_stays_text_and_yen_has_no_decimals(
    tmp_path: Path,
) -> None:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "EVIL",
        name='=HYPERLINK("x","click")',
        currency="JPY",
        collection_owner="li",
        opened_on=date(2025, 1, 1),
    )
    ledger.issue_invoice(
        "J-1",
        customer_code="EVIL",
        amount=Money.parse("1234567", "JPY"),
        issued_on=date(2025, 1, 1),
        due_on=date(2025, 1, 31),
    )
    out = tmp_path / "ageing.xlsx"
    report = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
    out.write_bytes(xlsx_output.ageing_workbook(report))

    sheet = openpyxl.load_workbook(out).worksheets[0]

    (row,) = records(sheet)
    assert '=HYPERLINK("x","click")' == row["label"]
    assert "s" == sheet["B2"].data_type
    assert 1234567 == row["open"]
    assert "#,##0" == sheet.cell(row=2, column=len(row) - 3).number_format


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ageing", "--format", "xlsx"], "give --out FILE.xlsx"),
        (["ageing", "--out", "x.xlsx"], "--out is for --format xlsx"),
        (["ageing", "--format", "xlsx", "--out", "x.csv"], "must end in .xlsx"),
        (
            ["worklist", "--format", "xlsx", "--out", "x.xlsx", "--reporting-currency", "USD"],
            "not xlsx",
        ),
    ],
)
def test_cli_refuses_an_xlsx_without_its_file_and_writes_nothing(
    store: dict[str, str], tmp_path: Path, arguments: list[str], message: str
) -> None:
    arguments = [str(tmp_path / a) if a.startswith("x.") else a for a in arguments]

    result = CliRunner().invoke(app, [*arguments, "--as-of", str(AS_OF)], env=store)

    assert 2 == result.exit_code, result.output
    assert message in result.output
    assert [] == list(tmp_path.iterdir())
