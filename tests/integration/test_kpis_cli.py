"""``arledger kpis`` on a small SQLite ledger: the first quarter of 2025 (90 days).

USD, ACME (owner li): A-1 10,000.00 issued 2024-12-01 due 2024-12-31, 6,000.00 paid on
2025-01-20; A-2 2,000.00 issued 2025-01-10 due 2025-02-09. CNY, CNCO (owner wang): C-1
50,000.00 issued 2025-02-15 due 2025-03-17. No promises, so the promise rates are empty.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.money import Money
from tests.conftest import FixedClock

QUARTER = ["--from", "2025-01-01", "--to", "2025-03-31"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("kpis") / "ledger.db"),
    }
    ledger = Ledger(env=env, clock=FixedClock())
    for code, name, currency, owner in (
        ("ACME", "Acme Trading", "USD", "li"),
        ("CNCO", "China Co", "CNY", "wang"),
    ):
        ledger.open_account(
            code, name=name, currency=currency, collection_owner=owner, opened_on=date(2024, 11, 1)
        )
    for number, code, amount, issued_on, due_on in (
        ("A-1", "ACME", Money.parse("10000", "USD"), date(2024, 12, 1), date(2024, 12, 31)),
        ("A-2", "ACME", Money.parse("2000", "USD"), date(2025, 1, 10), date(2025, 2, 9)),
        ("C-1", "CNCO", Money.parse("50000", "CNY"), date(2025, 2, 15), date(2025, 3, 17)),
    ):
        ledger.issue_invoice(
            number, customer_code=code, amount=amount, issued_on=issued_on, due_on=due_on
        )
    ledger.receive_payment(
        "P-1", payer_code="ACME", amount=Money.parse("6000", "USD"), value_on=date(2025, 1, 20)
    )
    ledger.allocate_payment("P-1", {"A-1": Money.parse("6000", "USD")})
    return env


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_kpis_csv_has_one_line_per_currency_with_exact_figures(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["kpis", *QUARTER, "--format", "csv"], env=store)

    assert 0 == result.exit_code, result.output
    cny, usd = csv_rows(result.stdout)
    assert ("portfolio", "USD") == (usd["key"], usd["currency"])
    expected = {
        "beginning_ar": "10000.00",
        "credit_sales": "2000.00",
        "ending_ar": "6000.00",
        "current_ar": "0.00",
        "cash_collected": "6000.00",
        "settled_in_goods": "0.00",  # no settlement in goods: non-cash, apart from cash
        "dso_days": "270.0",  # 6,000 / 2,000 x 90
        "dso_days_countback": "102.4",  # 31 + 28 + 31 + 4,000 / 10,000 x 31
        "dso_days_best_possible": "0.0",
        "days_delinquent_average": "270.0",
        "cei_total_sales": "50.00",  # 6,000 / 12,000
        "cei_monthly_average": "43.75",  # (10,666.67 - 6,000) / 10,666.67
        "collection_rate": "50.00",
        "collection_rate_in_goods": "0.00",
        "promise_kept_rate_by_count": "",
        "promise_kept_rate_by_amount": "",
        "ecl 31-60": "200.00",  # 10 % of A-2
        "ecl 61-90": "1000.00",  # 25 % of what is left of A-1
        "ecl": "1200.00",
    }
    assert expected == {name: usd[name] for name in expected}
    assert ("CNY", "50000.00", "90.0", "59.0", "1000.00") == (
        cny["currency"],
        cny["ending_ar"],
        cny["dso_days"],
        cny["dso_days_countback"],
        cny["ecl"],
    )


def test_kpis_json_gives_strings_for_figures_and_null_for_missing_ratios(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["kpis", *QUARTER, "--by", "owner", "--format", "json"], env=store)

    assert 0 == result.exit_code, result.output
    report = json.loads(result.stdout)
    assert (90, "owner", 1) == (report["days"], report["grouping"], report["policy_version"])
    assert [50, 200, 1000, 2500, 5000, 10000] == report["provision_rates_bps"]
    li, wang = report["rows"]
    assert ("li", "USD", "270.0") == (li["key"], li["currency"], li["dso_days"])
    assert ("wang", "CNY", "0.00") == (wang["key"], wang["currency"], wang["cei_total_sales"])
    assert li["promise_kept_rate_by_count"] is None


def test_kpis_as_of_a_date_covers_the_trailing_months(
    runner: CliRunner, store: dict[str, str]
) -> None:
    by_period = runner.invoke(app, ["kpis", *QUARTER, "--format", "json"], env=store)
    as_of = runner.invoke(
        app, ["kpis", "--as-of", "2025-03-31", "--months", "3", "--format", "json"], env=store
    )

    assert 0 == as_of.exit_code, as_of.output
    assert json.loads(by_period.stdout) == json.loads(as_of.stdout)


def test_kpis_table_shows_the_figures_per_customer(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["kpis", *QUARTER, "--by", "customer"], env=store)

    assert 0 == result.exit_code, result.output
    assert "ACME" in result.stdout
    assert "CNCO" in result.stdout
    assert "270.0" in result.stdout
    assert "102.4" in result.stdout


def test_kpis_of_an_empty_period_print_only_the_csv_header(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(
        app, ["kpis", "--from", "2024-01-01", "--to", "2024-06-30", "--format", "csv"], env=store
    )

    assert 0 == result.exit_code, result.output
    [header] = result.stdout.splitlines()
    assert header.startswith("start_on,end_on,grouping,key,label,currency,")
    assert header.endswith(",ecl over 120,ecl")


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--from", "2025-01-01"],
        ["--from", "2025-03-31", "--to", "2025-01-01"],
        ["--as-of", "2025-03-31", *QUARTER],
        ["--as-of", "2025-03-31", "--months", "0"],
        [*QUARTER, "--by", "region"],
        ["--from", "31/03/2025", "--to", "2025-03-31"],
    ],
)
def test_kpis_refuse_a_bad_period_or_grouping_as_a_usage_error(
    runner: CliRunner, store: dict[str, str], arguments: list[str]
) -> None:
    result = runner.invoke(app, ["kpis", *arguments], env=store)

    assert 2 == result.exit_code
    assert "Traceback" not in result.output
