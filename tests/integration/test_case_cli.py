"""``arledger case``: diagnose, bankruptcy and fraud on a small SQLite ledger.

USD: ACME and BETA, each one invoice of 5,000.00 issued 2025-01-01 and due 2025-01-31, so at
level 1 (reminder) from 2025-02-01 under the default policy.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.events import BankruptcyFiled, DelinquencyDiagnosed, FraudSuspected
from arledger.domain.money import Money
from tests.conftest import FixedClock


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    for code in ("ACME", "BETA"):
        ledger.open_account(
            code,
            name=f"{code} Ltd",
            currency="USD",
            collection_owner="li",
            opened_on=date(2025, 1, 1),
        )
        ledger.issue_invoice(
            f"{code}-1",
            customer_code=code,
            amount=Money.parse("5000.00", "USD"),
            issued_on=date(2025, 1, 1),
            due_on=date(2025, 1, 31),
        )
    ledger.close()
    return env


def kinds(env: dict[str, str]) -> list[type]:
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        return [type(event) for event in ledger.iter_events()]
    finally:
        ledger.close()


def test_case_bankruptcy_records_the_filing_and_explains_the_top_level(
    store: dict[str, str],
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "case",
            "bankruptcy",
            "--customer",
            "ACME",
            "--filed-on",
            "2025-02-05",
            "--reason",
            "court case 2025-17",
        ],
        env=store,
    )

    assert 0 == result.exit_code, result.output
    assert "Level 4 legal" in result.stdout
    assert "Bankruptcy filed on 2025-02-05: at least level 4; supply held" in result.stdout
    assert 1 == kinds(store).count(BankruptcyFiled)


def test_case_fraud_and_diagnose_record_their_events(store: dict[str, str]) -> None:
    runner = CliRunner()
    fraud = runner.invoke(
        app,
        [
            "case",
            "fraud",
            "--customer",
            "ACME",
            "--suspected-on",
            "2025-02-05",
            "--reason",
            "goods resold",
        ],
        env=store,
    )
    diagnosed = runner.invoke(
        app,
        [
            "case",
            "diagnose",
            "--customer",
            "BETA",
            "--type",
            "deliberate_delay",
            "--diagnosed-on",
            "2025-02-05",
            "--note",
            "pays others on time",
        ],
        env=store,
    )

    assert 0 == fraud.exit_code, fraud.output
    assert 0 == diagnosed.exit_code, diagnosed.output
    assert "Fraud suspected on 2025-02-05" in fraud.stdout
    assert "Level 1 reminder" in diagnosed.stdout  # the default policy adjusts for no type
    found = kinds(store)
    assert (1, 1) == (found.count(FraudSuspected), found.count(DelinquencyDiagnosed))


def test_a_second_filing_is_refused_with_a_message_and_nothing_recorded(
    store: dict[str, str],
) -> None:
    runner = CliRunner()
    arguments = ["case", "bankruptcy", "--customer", "ACME", "--filed-on", "2025-02-05"]
    first = runner.invoke(app, [*arguments, "--reason", "court"], env=store)
    second = runner.invoke(app, [*arguments, "--reason", "again"], env=store)

    assert 0 == first.exit_code, first.output
    assert 1 == second.exit_code
    assert "already filed" in second.stderr
    assert 1 == kinds(store).count(BankruptcyFiled)


def test_an_unknown_delinquency_type_is_a_usage_error(store: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app,
        [
            "case",
            "diagnose",
            "--customer",
            "BETA",
            "--type",
            "bad_luck",
            "--diagnosed-on",
            "2025-02-05",
            "--note",
            "x",
        ],
        env=store,
    )

    assert 2 == result.exit_code
    assert DelinquencyDiagnosed not in kinds(store)
