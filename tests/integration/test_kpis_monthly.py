"""KPIs month by month in one call: ``Ledger.kpis_monthly`` and ``arledger kpis --monthly``.

The ledger of test_kpis_cli (USD ACME: A-1 10,000.00 due 2024-12-31, 6,000.00 paid 2025-01-20;
A-2 2,000.00 issued 2025-01-10; CNY CNCO: C-1 50,000.00 issued 2025-02-15), read for the three
months of the first quarter of 2025: each month's report equals the one ``kpis`` gives for it,
through the query engine and through the replayed folds.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from arledger import ConfigurationError, KpiGrouping, Ledger
from arledger.adapters.cli.app import app
from arledger.domain.errors import InvalidDateError
from arledger.projections.kpis import monthly_periods
from tests.integration.test_kpis_cli import store  # noqa: F401  (the module's ledger fixture)

MONTHS = [(date(2025, 1, 1), date(2025, 1, 31)), (date(2025, 2, 1), date(2025, 2, 28))]
MONTHS.append((date(2025, 3, 1), date(2025, 3, 31)))


@pytest.mark.parametrize("read_models", ["stored", "replay"])
@pytest.mark.parametrize("grouping", list(KpiGrouping))
def test_each_month_equals_the_kpis_of_that_month(
    store: dict[str, str],  # noqa: F811
    read_models: str,
    grouping: KpiGrouping,
) -> None:
    ledger = Ledger(env={**store, "ARLEDGER_READ_MODELS": read_models})

    series = ledger.kpis_monthly(date(2025, 1, 15), date(2025, 3, 2), grouping=grouping)

    assert grouping == series.grouping
    assert MONTHS == [(report.start_on, report.end_on) for report in series.reports]
    assert [ledger.kpis(*month, grouping=grouping) for month in MONTHS] == list(series.reports)


def test_the_engine_and_the_replay_give_the_same_series(store: dict[str, str]) -> None:  # noqa: F811
    def series(read_models: str) -> object:
        ledger = Ledger(env={**store, "ARLEDGER_READ_MODELS": read_models})
        return ledger.kpis_monthly(date(2024, 11, 1), date(2025, 4, 30))

    assert series("replay") == series("stored")


def test_months_cross_the_year_and_february_of_a_leap_year() -> None:
    periods = monthly_periods(date(2023, 12, 31), date(2024, 2, 1))

    assert [
        (date(2023, 12, 1), date(2023, 12, 31)),
        (date(2024, 1, 1), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
    ] == list(periods)


def test_a_series_backwards_or_longer_than_ten_years_is_refused(store: dict[str, str]) -> None:  # noqa: F811
    ledger = Ledger(env=store)

    with pytest.raises(InvalidDateError):
        ledger.kpis_monthly(date(2025, 3, 1), date(2025, 1, 1))
    with pytest.raises(ConfigurationError, match="at most 120 months, got 121"):
        ledger.kpis_monthly(date(2015, 1, 1), date(2025, 1, 1))


def test_cli_monthly_csv_has_every_month_under_one_header(store: dict[str, str]) -> None:  # noqa: F811
    result = CliRunner().invoke(
        app,
        ["kpis", "--monthly", "--from", "2025-01", "--to", "2025-03", "--format", "csv"],
        env=store,
    )

    assert 0 == result.exit_code, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        ("2025-01-01", "2025-01-31", "USD"),  # CNCO has nothing before February
        ("2025-02-01", "2025-02-28", "CNY"),
        ("2025-02-01", "2025-02-28", "USD"),
        ("2025-03-01", "2025-03-31", "CNY"),
        ("2025-03-01", "2025-03-31", "USD"),
    ] == [(row["start_on"], row["end_on"], row["currency"]) for row in rows]
    january_usd = rows[0]
    assert ("10000.00", "2000.00", "6000.00", "6000.00") == (
        january_usd["beginning_ar"],
        january_usd["credit_sales"],
        january_usd["ending_ar"],
        january_usd["cash_collected"],
    )
    assert "50000.00" == rows[1]["credit_sales"]  # C-1 issued in February


def test_cli_monthly_json_and_table(store: dict[str, str]) -> None:  # noqa: F811
    runner = CliRunner()
    months = ["kpis", "--monthly", "--from", "2025-01", "--to", "2025-03"]

    data = json.loads(runner.invoke(app, [*months, "--format", "json"], env=store).stdout)
    table = runner.invoke(app, months, env={**store, "COLUMNS": "200"})

    assert ["2025-01-01", "2025-02-01", "2025-03-01"] == [p["start_on"] for p in data["periods"]]
    assert ["6000.00"] == [
        r["cash_collected"] for r in data["periods"][0]["rows"] if r["currency"] == "USD"
    ]
    assert 0 == table.exit_code, table.output
    assert "KPIs by month, 2025-01 to 2025-03" in table.stdout
    assert all(month in table.stdout for month in ("2025-01", "2025-02", "2025-03"))


def test_cli_monthly_without_from_and_to_is_a_usage_error(store: dict[str, str]) -> None:  # noqa: F811
    result = CliRunner().invoke(app, ["kpis", "--monthly", "--as-of", "2025-03-31"], env=store)

    assert 2 == result.exit_code
    assert "--monthly takes --from and --to" in result.output


def test_a_month_in_from_and_to_means_its_first_and_last_day(store: dict[str, str]) -> None:  # noqa: F811
    runner = CliRunner()

    by_month = runner.invoke(
        app, ["kpis", "--from", "2025-01", "--to", "2025-03", "--format", "json"], env=store
    )
    by_day = runner.invoke(
        app, ["kpis", "--from", "2025-01-01", "--to", "2025-03-31", "--format", "json"], env=store
    )

    assert 0 == by_month.exit_code, by_month.output
    assert json.loads(by_day.stdout) == json.loads(by_month.stdout)
