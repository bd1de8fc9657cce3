"""``arledger goods``: a settlement in goods proposed, approved and settled from the command
line (issue 13, item 2), on a SQLite ledger where ACME owes INV-1 120,000.00 USD; a refusal is
one line on stderr with exit code 1 and records nothing."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.money import Money
from tests.conftest import FixedClock


def store(tmp_path: Path) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=Money.parse("120000", "USD"),
        issued_on=date(2025, 1, 1), due_on=date(2025, 1, 31),
    )  # fmt: skip
    ledger.close()
    return env


def test_goods_are_proposed_approved_and_settle_the_invoice_at_the_approved_value(
    tmp_path: Path,
) -> None:
    env = store(tmp_path)
    runner = CliRunner()
    common = ["--customer", "ACME", "--reference", "GIL-1"]

    proposed = runner.invoke(
        app,
        ["goods", "propose", *common, "--goods", "steel coil", "--quantity", "40", "--unit",
         "tonne", "--appraised", "100000.00", "--appraiser", "Zhou", "--proposed-on",
         "2025-03-01"],
        env=env,
    )  # fmt: skip
    assert 0 == proposed.exit_code, proposed.output
    assert "70,000.00 USD" in proposed.stdout
    assert "30%" in proposed.stdout

    refused = runner.invoke(
        app,
        ["goods", "approve", *common, "--approver", "Zhou", "--reason", "saleable",
         "--approved-on", "2025-03-02"],
        env=env,
    )  # fmt: skip
    assert 1 == refused.exit_code
    assert "may not also approve" in refused.stderr

    approved = runner.invoke(
        app,
        ["goods", "approve", *common, "--approver", "CFO Wang", "--reason", "saleable",
         "--approved-on", "2025-03-02"],
        env=env,
    )  # fmt: skip
    assert 0 == approved.exit_code, approved.output

    settled = runner.invoke(
        app,
        ["goods", "settle", *common, "--invoice", "INV-1=70000.00", "--settled-on", "2025-03-05"],
        env=env,
    )
    assert 0 == settled.exit_code, settled.output
    assert "settled" in settled.stdout

    ledger = Ledger(env=env, clock=FixedClock())
    assert Money.parse("50000.00", "USD").amount_minor == ledger.invoice("INV-1").open_minor
    ledger.close()
    shown = runner.invoke(app, ["goods", "show", "--customer", "ACME"], env=env)
    assert 0 == shown.exit_code
    assert "CFO Wang" in shown.stdout

    kpis = runner.invoke(
        app, ["kpis", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json"], env=env
    )
    assert 0 == kpis.exit_code, kpis.output
    [row] = json.loads(kpis.stdout)["rows"]
    # Beginning AR 120,000.00: goods 70,000.00 settled, no cash.
    assert ("0.00", "70000.00") == (row["cash_collected"], row["settled_in_goods"])
    assert ("0.00", "58.33") == (row["collection_rate"], row["collection_rate_in_goods"])

    statement = runner.invoke(
        app, ["statement", "ACME", "--from", "2025-03-01", "--to", "2025-03-31", "--format",
              "json"],
        env=env,
    )  # fmt: skip
    assert 0 == statement.exit_code, statement.output
    assert "goods_in_lieu" in statement.stdout
    assert "GIL-1" in statement.stdout
