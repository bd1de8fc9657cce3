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
from arledger.domain.events import ActionChannel, InvoiceIssued
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
            "next_step": None,
            "pre_due_reminders": [],
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
            "next_step": None,
            "pre_due_reminders": [],
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
    # The amount with separators and currency, the action in words.
    cells = [cell.strip() for cell in acme_line.split("│")]
    assert ["120,000.00 USD", "finance dunning letter", "2025-02-08 !"] == [
        cell
        for cell in cells
        if cell in ("120,000.00 USD", "finance dunning letter", "2025-02-08 !")
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
    assert (
        "Next action: finance dunning letter, due 2025-03-10 (overdue); level 2 entered 2025-03-03"
        in (lines)
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


# --known-at on every query command ----------------------------------------------------------


def stamp_of_invoice(store: dict[str, str], invoice_number: str) -> str:
    """The instant ``invoice_number`` was recorded, as a --known-at argument."""
    ledger = Ledger(env=store)
    try:
        (issued,) = [
            event
            for event in ledger.iter_events()
            if isinstance(event, InvoiceIssued) and event.invoice_number == invoice_number
        ]
        return issued.timestamp.isoformat()
    finally:
        ledger.close()


def test_known_at_gives_each_query_command_the_ledger_as_recorded_then(
    runner: CliRunner, store: dict[str, str]
) -> None:
    """Cut just after ACME's invoice: BETA and DELTA were not recorded yet."""
    known_at = ["--known-at", stamp_of_invoice(store, "A-1")]

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=store)
        assert 0 == result.exit_code, result.output
        return result.stdout

    worklist = json.loads(run("worklist", *AS_OF, "--format", "json", *known_at))
    assert ["ACME"] == [item["customer_code"] for item in worklist["items"]]
    ageing = json.loads(run("ageing", *AS_OF, "--format", "json", *known_at))
    assert ["120000.00"] == [total["open"] for total in ageing["totals"]]
    ageing_now = json.loads(run("ageing", *AS_OF, "--format", "json"))
    assert ["141000.00"] == [total["open"] for total in ageing_now["totals"]]
    kpis = json.loads(
        run("kpis", "--from", "2025-01-01", "--to", "2025-03-17", "--format", "json", *known_at)
    )
    assert ["120000.00"] == [row["credit_sales"] for row in kpis["rows"]]
    # Each file names the cut it reflects (null: everything recorded).
    assert [known_at[1]] * 3 == [data["known_at"] for data in (worklist, ageing, kpis)]
    assert ageing_now["known_at"] is None
    assert "ACME" in run("explain", "ACME", *AS_OF, *known_at)


def test_known_at_before_a_customer_was_recorded_refuses_its_explanation(
    runner: CliRunner, store: dict[str, str]
) -> None:
    known_at = stamp_of_invoice(store, "A-1")
    result = runner.invoke(app, ["explain", "BETA", *AS_OF, "--known-at", known_at], env=store)

    assert 1 == result.exit_code
    assert f"no customer account 'BETA' recorded by {known_at}" in result.stderr
    assert runner.invoke(app, ["explain", "BETA", *AS_OF], env=store).exit_code == 0


@pytest.mark.parametrize("command", ["ageing", "worklist", "kpis", "explain"])
@pytest.mark.parametrize(
    ("instant", "message"),
    [("2025-03-17T09:30:00", "no UTC offset"), ("yesterday", "not an instant")],
)
def test_a_bad_known_at_is_a_usage_error_in_one_line(
    runner: CliRunner, store: dict[str, str], command: str, instant: str, message: str
) -> None:
    args = {
        "ageing": ["ageing", *AS_OF],
        "worklist": ["worklist", *AS_OF],
        "kpis": ["kpis", *AS_OF],
        "explain": ["explain", "ACME", *AS_OF],
    }[command]
    result = runner.invoke(app, [*args, "--known-at", instant], env=store)

    assert 2 == result.exit_code
    assert message in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())
