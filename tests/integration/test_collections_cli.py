"""``arledger worklist`` and ``arledger explain`` on a small SQLite ledger.

USD: ACME (owner li) A-1 120,000.00 and BETA (owner wang) B-1 20,000.00, both issued 2025-01-01
and due 2025-01-31, so 45 days past due on 2025-03-17; DELTA (owner wang) D-1 1,000.00 due
2025-04-30, not overdue. A phone call to BETA on 2025-03-05 is recorded.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.events import ActionChannel
from arledger.domain.money import Money
from tests.conftest import FixedClock

AS_OF = ["--as-of", "2025-03-17"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("collections") / "ledger.db"),
    }
    ledger = Ledger(env=env, clock=FixedClock())
    for code, owner, amount, due_on in (
        ("ACME", "li", "120000.00", date(2025, 1, 31)),
        ("BETA", "wang", "20000.00", date(2025, 1, 31)),
        ("DELTA", "wang", "1000.00", date(2025, 4, 30)),
    ):
        ledger.open_account(
            code,
            name=f"{code.title()} Ltd",
            currency="USD",
            collection_owner=owner,
            opened_on=date(2025, 1, 1),
        )
        ledger.issue_invoice(
            f"{code[0]}-1",
            customer_code=code,
            amount=Money.parse(amount, "USD"),
            issued_on=date(2025, 1, 1),
            due_on=due_on,
        )
    ledger.record_action(
        customer_code="BETA",
        channel=ActionChannel.PHONE,
        taken_on=date(2025, 3, 5),
        collector="wang",
        contact="AP clerk",
        outcome="promised to look",
    )
    return env


def test_worklist_json_lists_customers_needing_action_most_urgent_first(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["worklist", *AS_OF, "--format", "json"], env=store)

    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert ("2025-03-17", None) == (data["as_of"], data["owner"])
    assert [
        {
            "rank": 1,
            "customer_code": "ACME",
            "name": "Acme Ltd",
            "owner": "li",
            "level": 2,
            "level_name": "pursuit",
            "grade": "legal_collection",
            "currency": "USD",
            "overdue": "120000.00",
            "days_past_due_max": 45,
            "broken_promises": 0,
            "suspended": False,
            "next_action": "finance_letter",
            "next_action_due_on": "2025-02-08",
            "reconciliations": [],
        },
        {
            "rank": 2,
            "customer_code": "BETA",
            "name": "Beta Ltd",
            "owner": "wang",
            "level": 2,
            "level_name": "pursuit",
            "grade": "settle",
            "currency": "USD",
            "overdue": "20000.00",
            "days_past_due_max": 45,
            "broken_promises": 0,
            "suspended": False,
            "next_action": "finance_letter",
            "next_action_due_on": "2025-03-10",
            "reconciliations": [],
        },
    ] == data["items"]


def test_worklist_filters_by_owner(runner: CliRunner, store: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["worklist", *AS_OF, "--owner", "wang", "--format", "json"], env=store
    )

    assert 0 == result.exit_code, result.output
    assert ["BETA"] == [item["customer_code"] for item in json.loads(result.stdout)["items"]]


def test_worklist_table_shows_each_customer_and_its_next_action(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["worklist", *AS_OF], env=store)

    assert 0 == result.exit_code, result.output
    assert "Worklist as of 2025-03-17" in result.stdout
    acme_line = next(line for line in result.stdout.splitlines() if "ACME" in line)
    assert ["120000.00", "finance_letter", "2025-02-08"] == [
        word for word in acme_line.split() if word in ("120000.00", "finance_letter", "2025-02-08")
    ]
    assert "DELTA" not in result.stdout


def test_worklist_table_shows_the_first_customers_and_says_how_many_more(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["worklist", *AS_OF, "--limit", "1"], env=store)

    assert 0 == result.exit_code, result.output
    assert "ACME" in result.stdout
    assert "BETA" not in result.stdout
    assert "The first 1 of 2 customers: --limit 0 shows all" in " ".join(result.stdout.split())
    everyone = runner.invoke(app, ["worklist", *AS_OF, "--limit", "0"], env=store)
    assert "BETA" in everyone.stdout
    assert "The first" not in everyone.stdout


def test_worklist_on_a_quiet_day_says_so(runner: CliRunner, store: dict[str, str]) -> None:
    result = runner.invoke(app, ["worklist", "--as-of", "2025-01-15"], env=store)

    assert 0 == result.exit_code, result.output
    assert "No customer needs collection action on this date." in result.stdout


def test_explain_says_why_the_customer_stands_at_its_level(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["explain", "BETA", *AS_OF], env=store)

    assert 0 == result.exit_code, result.output
    lines = result.stdout.splitlines()
    assert "Level 2 pursuit" == lines[1]
    assert (
        "  - level 2 pursuit: days past due, 45 days past due >= 31 "
        "(policy version 1; invoices B-1)"
    ) in lines
    assert "Next action: finance_letter, due 2025-03-10 (overdue); level 2 entered 2025-03-03" in (
        lines
    )
    assert "Next threshold: 2025-04-02 level 3 demand if nothing happens" in result.stdout


def test_explain_of_an_unknown_customer_fails_with_a_message(
    runner: CliRunner, store: dict[str, str]
) -> None:
    result = runner.invoke(app, ["explain", "NOBODY", *AS_OF], env=store)

    assert 1 == result.exit_code
    assert "NOBODY" in result.stderr


def test_a_bad_as_of_date_is_a_usage_error(runner: CliRunner, store: dict[str, str]) -> None:
    result = runner.invoke(app, ["worklist", "--as-of", "17/03/2025"], env=store)

    assert 2 == result.exit_code
