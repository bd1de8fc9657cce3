"""``arledger worklist`` and ``explain`` show the collection strategy's reasons in words.

USD, owner li: ACME (rated C) A-1 5,000.00 issued 2025-01-01, due 2025-01-31; a policy version
from 2025-01-01 wants a reminder 5 days before due for customers rated C or worse. BETA (no
invoice overdue) agreed on a call on 2025-01-10 that it sends its purchase order by 2025-01-20.
Asked on 2025-01-27: ACME for a pre-due reminder, BETA for its overdue next step.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import attrs
import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.events import ActionChannel, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY, PreDueReminderRule
from tests.conftest import FixedClock

AS_OF = ["--as-of", "2025-01-27"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("strategy") / "ledger.db"),
    }
    ledger = Ledger(env=env, clock=FixedClock())
    for code in ("ACME", "BETA"):
        ledger.open_account(
            code,
            name=f"{code.title()} Ltd",
            currency="USD",
            collection_owner="li",
            opened_on=date(2025, 1, 1),
        )
    ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.C, rated_on=date(2025, 1, 1), reason="review"
    )
    ledger.issue_invoice(
        "A-1",
        customer_code="ACME",
        amount=Money.parse("5000.00", "USD"),
        issued_on=date(2025, 1, 1),
        due_on=date(2025, 1, 31),
    )
    ledger.record_action(
        customer_code="BETA",
        channel=ActionChannel.PHONE,
        taken_on=date(2025, 1, 10),
        collector="li",
        contact="buyer",
        outcome="order pending",
        next_step="get the purchase order",
        next_step_on=date(2025, 1, 20),
    )
    ledger.adopt_policy(
        policy=attrs.evolve(
            DEFAULT_ESCALATION_POLICY,
            version=2,
            pre_due_reminders=(PreDueReminderRule(days_before_due=5, rating_at_or_worse=3),),
        ),
        effective_on=date(2025, 1, 1),
        approver="CFO",
        reason="chase before due",
    )
    ledger.close()
    return env


def test_worklist_json_gives_the_pre_due_reminder_and_the_overdue_next_step(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["worklist", *AS_OF, "--format", "json"], env=store)

    assert 0 == result.exit_code, result.output
    items = {item["customer_code"]: item for item in json.loads(result.stdout)["items"]}
    assert [
        {
            "invoice_number": "A-1",
            "due_on": "2025-01-31",
            "open": "5000.00",
            "remind_from_on": "2025-01-26",
        }
    ] == items["ACME"]["pre_due_reminders"]
    assert {
        "step": "get the purchase order",
        "due_on": "2025-01-20",
        "is_overdue": True,
        "agreed_on": "2025-01-10",
        "collector": "li",
    } == items["BETA"]["next_step"]


def test_worklist_table_says_why_each_customer_is_listed(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["worklist", *AS_OF], env=store)

    assert 0 == result.exit_code, result.output
    # The reasons' cell wraps within its row: read the table's cells as running text.
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "ACME Acme Ltd li 0 current" in text
    assert "pre-due reminder: A-1 due 2025-01-31" in text
    assert "next step 'get the purchase order' on 2025-01-20 !" in text


def test_explain_lists_the_pre_due_reminder(runner: CliRunner, store: dict[str, str]) -> None:
    result = runner.invoke(app, ["explain", "ACME", *AS_OF], env=store)

    assert 0 == result.exit_code, result.output
    assert "Pre-due reminders wanted (chasing before due):" in result.stdout
    assert "invoice A-1: 5,000.00 USD due 2025-01-31, remind from 2025-01-26" in result.stdout
