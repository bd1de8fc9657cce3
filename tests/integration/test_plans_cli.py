"""``arledger plan``: a monthly collection target set and the plans shown from the command line
(issue 14, item 1), on a SQLite ledger where ACME owes INV-1 500,000.00 USD and promised
100,000.00 in March; a refusal is one line on stderr with exit code 1 and records nothing."""

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
    for code in ("ACME", "BETA"):
        ledger.open_account(
            code, name=code, currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
        )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=Money.parse("500000", "USD"),
        issued_on=date(2025, 1, 1), due_on=date(2025, 1, 31),
    )  # fmt: skip
    ledger.make_promise(
        customer_code="ACME", promise_reference="P-1", amount=Money.parse("100000", "USD"),
        promised_on=date(2025, 3, 20), made_on=date(2025, 3, 1), contact="CFO",
    )  # fmt: skip
    ledger.close()
    return env


def events_in(env: dict[str, str]) -> int:
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        return len(list(ledger.iter_events()))
    finally:
        ledger.close()


def test_a_target_is_set_and_the_plans_show_the_gap_and_the_plan_without_a_promise(
    tmp_path: Path,
) -> None:
    env = store(tmp_path)
    runner = CliRunner()
    for code, amount in (("ACME", "200000.00"), ("BETA", "50000.00")):
        done = runner.invoke(
            app,
            ["plan", "set", "--customer", code, "--month", "2025-03", "--target", amount,
             "--set-by", "li", "--set-on", "2025-02-25"],
            env=env,
        )  # fmt: skip
        assert 0 == done.exit_code, done.output
    assert "200,000.00" in done.stdout or "50,000.00" in done.stdout  # thousands separated

    shown = runner.invoke(
        app, ["plan", "show", "--month", "2025-03", "--by", "owner", "--format", "json"], env=env
    )
    assert 0 == shown.exit_code, shown.output
    data = json.loads(shown.stdout)
    (row,) = data["rows"]
    assert ("li", 25_000_000, 10_000_000, 15_000_000) == (
        row["key"],
        row["target_minor"],
        row["committed_minor"],
        row["gap_to_target_minor"],
    )
    assert ["BETA"] == row["uncommitted"]

    table = runner.invoke(app, ["plan", "show", "--month", "2025-03"], env=env)
    assert 0 == table.exit_code, table.output
    assert "100,000.00" in table.stdout  # ACME's gap to target


def test_a_refused_target_is_one_line_and_records_nothing(tmp_path: Path) -> None:
    env = store(tmp_path)
    before = events_in(env)
    runner = CliRunner()
    for month, amount in (("2025-3", "1.00"), ("2025-03", "-5.00")):
        refused = runner.invoke(
            app,
            ["plan", "set", "--customer", "ACME", "--month", month, "--target", amount,
             "--set-by", "li", "--set-on", "2025-02-25"],
            env=env,
        )  # fmt: skip
        assert 1 == refused.exit_code, refused.output
        assert 1 == len(refused.stderr.strip().splitlines())
    assert before == events_in(env)
