"""`arledger projections status|catch-up|rebuild` and the disputed column of `arledger ageing`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from arledger import Ledger, Money
from arledger.adapters.cli.app import app
from arledger.domain.events import DisputeReason
from tests.conftest import FixedClock


def recorded_ledger(tmp_path: Path) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "cli.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "C1", name="Acme", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "I1", customer_code="C1", amount=Money.parse("100.00", "USD"), issued_on=date(2024, 1, 1)
    )
    ledger.open_dispute(
        invoice_number="I1",
        dispute_reference="D1",
        amount=Money.parse("40.00", "USD"),
        reason_code=DisputeReason.QUALITY,
        root_cause="scratches",
        opened_on=date(2024, 2, 1),
    )
    ledger.close()
    return env


def test_status_shows_the_lag_and_catch_up_clears_it(tmp_path: Path) -> None:
    env = recorded_ledger(tmp_path)
    runner = CliRunner()

    before = runner.invoke(app, ["projections", "status"], env=env)
    caught = runner.invoke(app, ["projections", "catch-up"], env=env)
    after = runner.invoke(app, ["projections", "status"], env=env)
    rebuilt = runner.invoke(app, ["projections", "rebuild"], env=env)

    assert 0 == before.exit_code, before.output
    assert "at event 0 of 4; lag 4 event(s)" in before.output
    assert "Folded 4 event(s)" in caught.output
    assert "lag 0 event(s)" in after.output
    assert "Rebuilt the read models from 4 event(s)." in rebuilt.output


def test_in_memory_ledgers_have_no_stored_read_models(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["projections", "status"], env={"ARLEDGER_STORE": "memory"})

    assert 2 == result.exit_code  # a configuration error, as for a bad ARLEDGER_STORE
    assert "stored read models need a SQLite or PostgreSQL store" in result.output


def test_ageing_shows_disputed_amounts_apart(tmp_path: Path) -> None:
    env = recorded_ledger(tmp_path)

    result = CliRunner().invoke(
        app, ["ageing", "--as-of", "2024-03-31", "--by", "customer", "--format", "json"], env=env
    )
    row = json.loads(result.output)["rows"][0]

    assert 0 == result.exit_code, result.output
    assert ("100.00", "40.00") == (row["open"], row["disputed"])
