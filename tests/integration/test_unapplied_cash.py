"""``Ledger.unapplied_cash``: money received and not applied, as of a date, on every read-model
path, and the same figure as the statement of account's.

The statement's worked example (tests/integration/test_statement.py) plus BETA paying BANK-B
1,200.00 on 2024-02-10, of which 999.00 is allocated to B-1 on 2024-02-25. ACME's BANK-1 is
applied whole on its value date, BANK-2 bounces on 03-12 and BANK-3 250.00 (03-20) is never
applied. So on 2024-02-15 BETA has 1,200.00 unapplied; on 2024-03-31 BETA 201.00 and ACME
250.00 (BANK-3 only: BANK-2 was applied, then unapplied by its reversal, and no longer counts).
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from arledger import (
    CustomerNotFoundError,
    Ledger,
    UnappliedCashReport,
    UnappliedCashRow,
    UnappliedPayment,
)
from arledger.adapters.cli.app import app
from arledger.domain.errors import InvalidDateError
from arledger.domain.events import PaymentApplied
from tests.conftest import FixedClock
from tests.integration.test_statement import record_example, usd


def record(ledger: Ledger) -> None:
    record_example(ledger)
    ledger.receive_payment(
        "BANK-B", payer_code="BETA", amount=usd("1200.00"), value_on=date(2024, 2, 10)
    )
    ledger.allocate_payment("BANK-B", {"B-1": usd("999.00")}, allocated_on=date(2024, 2, 25))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "memory":
        env = {"ARLEDGER_STORE": "memory"}
    elif request.param == "sqlite":
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    else:
        env = request.getfixturevalue("postgres_schema")
    result = Ledger(env=env, clock=FixedClock())
    record(result)
    return result


def test_cash_received_and_not_yet_allocated_is_listed_with_its_bank_reference(
    ledger: Ledger,
) -> None:
    report = ledger.unapplied_cash(date(2024, 2, 15))
    assert isinstance(report, UnappliedCashReport)
    assert (
        UnappliedCashRow(
            customer_code="BETA",
            customer_name="Beta Ltd",
            currency="USD",
            unapplied_minor=120000,
            payments=(
                UnappliedPayment(
                    bank_reference="BANK-B",
                    value_on=date(2024, 2, 10),
                    amount_minor=120000,
                    unapplied_minor=120000,
                ),
            ),
        ),
    ) == report.rows


def test_at_the_end_of_march_a_partial_allocation_and_an_unapplied_payment_remain(
    ledger: Ledger,
) -> None:
    report = ledger.unapplied_cash(date(2024, 3, 31))
    assert [
        ("ACME", "USD", 25000, [("BANK-3", date(2024, 3, 20), 25000, 25000)]),
        ("BETA", "USD", 20100, [("BANK-B", date(2024, 2, 10), 120000, 20100)]),
    ] == [
        (
            row.customer_code,
            row.currency,
            row.unapplied_minor,
            [
                (p.bank_reference, p.value_on, p.amount_minor, p.unapplied_minor)
                for p in row.payments
            ],
        )
        for row in report.rows
    ]
    assert {"USD": 45100} == report.totals_minor


def test_the_statement_shows_the_same_unapplied_cash_as_of_its_end_date(ledger: Ledger) -> None:
    for to_on in (date(2024, 2, 15), date(2024, 2, 25), date(2024, 3, 10), date(2024, 3, 31)):
        report = ledger.unapplied_cash(to_on)
        for code in ("ACME", "BETA"):
            statement = ledger.statement(code, date(2024, 1, 1), to_on)
            by_code = {row.customer_code: row.unapplied_minor for row in report.rows}
            assert by_code.get(code, 0) == statement.unapplied_cash_minor, (code, to_on)
            one = ledger.unapplied_cash(to_on, customer_code=code)
            assert [row for row in report.rows if row.customer_code == code] == list(one.rows)


def test_a_payment_applied_then_reversed_leaves_nothing_unapplied(ledger: Ledger) -> None:
    # BANK-2 300.00 was applied on its value date 03-05: nothing of it is unapplied on 03-10.
    report = ledger.unapplied_cash(date(2024, 3, 10), customer_code="ACME")
    assert () == report.rows


def test_known_at_shows_the_cash_as_recorded_by_then(ledger: Ledger) -> None:
    # Cut just after BANK-1 was allocated: BANK-B was not yet recorded.
    (allocated,) = [e for e in ledger.iter_events() if isinstance(e, PaymentApplied)][:1]
    assert () == ledger.unapplied_cash(date(2024, 3, 31), known_at=allocated.timestamp).rows
    assert 2 == len(ledger.unapplied_cash(date(2024, 3, 31)).rows)


def test_an_unknown_customer_is_refused(ledger: Ledger) -> None:
    with pytest.raises(CustomerNotFoundError, match="NOPE"):
        ledger.unapplied_cash(date(2024, 3, 31), customer_code="NOPE")


def test_a_date_outside_the_ledgers_dates_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidDateError):
        ledger.unapplied_cash(date(1800, 1, 1))


# The command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("unapplied") / "ledger.db"),
    }
    record(Ledger(env=env, clock=FixedClock()))
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["unapplied-cash", *args], env=env)


def test_cli_json_carries_each_payment_as_exact_decimals(cli_store: dict[str, str]) -> None:
    result = invoke(cli_store, "--as-of", "2024-03-31", "--format", "json")
    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert ("2024-03-31", None, {"USD": "451.00"}) == (
        data["as_of"],
        data["known_at"],
        data["totals"],
    )
    assert [
        ("ACME", "250.00", [("BANK-3", "2024-03-20", "250.00", "250.00")]),
        ("BETA", "201.00", [("BANK-B", "2024-02-10", "1200.00", "201.00")]),
    ] == [
        (
            row["customer_code"],
            row["unapplied"],
            [
                (p["bank_reference"], p["value_on"], p["amount"], p["unapplied"])
                for p in row["payments"]
            ],
        )
        for row in data["rows"]
    ]


def test_cli_table_names_the_bank_references(cli_store: dict[str, str]) -> None:
    result = invoke(cli_store, "--as-of", "2024-03-31", "--customer", "BETA")
    assert 0 == result.exit_code, result.output
    assert "BANK-B" in result.stdout
    assert "201.00" in result.stdout
    assert "BANK-3" not in result.stdout


def test_cli_known_at_before_anything_was_recorded_lists_nothing(
    cli_store: dict[str, str],
) -> None:
    before = datetime(2000, 1, 1).isoformat() + "+00:00"
    result = invoke(cli_store, "--as-of", "2024-03-31", "--known-at", before, "--format", "json")
    assert 0 == result.exit_code, result.output
    assert [] == json.loads(result.stdout)["rows"]


def test_cli_refuses_an_unknown_customer_in_one_line(cli_store: dict[str, str]) -> None:
    result = invoke(cli_store, "--as-of", "2024-03-31", "--customer", "NOPE")
    assert 1 == result.exit_code
    assert "NOPE" in result.stderr
    assert "Traceback" not in result.output
