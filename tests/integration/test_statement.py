"""``Ledger.statement``: a customer's statement of account, on every read-model path.

ACME (USD, 30 days) has, by 2024-01-31, INV-3 400.00 (issued 2024-01-05) and INV-1 1,200.00
(2024-01-10) open: the opening balance of February-March is 1,600.00. In the period: INV-2
800.00 issued on 02-15; BANK-1 500.00 applied to INV-1 on 02-20; credit note CN-1 100.00 on
INV-2 on 03-01; BANK-2 300.00 applied to INV-1 on 03-05 and bounced on 03-12; a concession of
50.00 on INV-2 on 03-15; INV-3 written off on 03-25. BANK-3 250.00 arrives on 03-20 and is not
applied. After the period: INV-3 reinstated on 04-05. Closing balance: INV-1 700.00 + INV-2
650.00 = 1,350.00; unapplied cash 250.00.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from arledger import (
    AgeingGrouping,
    CustomerNotFoundError,
    Ledger,
    Money,
    MovementKind,
    Statement,
)
from arledger.adapters.cli.app import app
from arledger.adapters.cli.statement import STATEMENT_COLUMNS
from arledger.domain.errors import InvalidDateError
from arledger.domain.events import PaymentApplied
from tests.conftest import FixedClock

FROM_ON = date(2024, 2, 1)
TO_ON = date(2024, 3, 31)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def record_example(ledger: Ledger) -> None:
    ledger.open_account(
        "ACME",
        name="Acme Ltd",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.open_account(
        "BETA", name="Beta Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-3", customer_code="ACME", amount=usd("400.00"), issued_on=date(2024, 1, 5)
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("1200.00"), issued_on=date(2024, 1, 10)
    )
    ledger.issue_invoice(
        "B-1", customer_code="BETA", amount=usd("999.00"), issued_on=date(2024, 2, 1)
    )
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("800.00"), issued_on=date(2024, 2, 15)
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("500.00"), value_on=date(2024, 2, 20)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("500.00")})
    ledger.apply_credit_note(
        "INV-2",
        credit_note_number="CN-1",
        amount=usd("100.00"),
        applied_on=date(2024, 3, 1),
        reason="damaged goods",
        approver="cfo",
    )
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("300.00"), value_on=date(2024, 3, 5)
    )
    ledger.allocate_payment("BANK-2", {"INV-1": usd("300.00")})
    ledger.reverse_payment("BANK-2", reversed_on=date(2024, 3, 12), reason="bounced")
    ledger.approve_concession(
        "INV-2",
        amount=usd("50.00"),
        approved_on=date(2024, 3, 15),
        reason="late delivery",
        approver="cfo",
    )
    ledger.receive_payment(
        "BANK-3", payer_code="ACME", amount=usd("250.00"), value_on=date(2024, 3, 20)
    )
    ledger.write_off(
        "INV-3", written_off_on=date(2024, 3, 25), reason="customer insolvent", approver="cfo"
    )
    ledger.reinstate(
        "INV-3", reinstated_on=date(2024, 4, 5), reason="customer paid after all", approver="cfo"
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    """The example on the in-memory store (replayed), on SQLite and on PostgreSQL (the query
    engine over the columnar log)."""
    if request.param == "memory":
        env = {"ARLEDGER_STORE": "memory"}
    elif request.param == "sqlite":
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    else:
        env = request.getfixturevalue("postgres_schema")
    result = Ledger(env=env, clock=FixedClock())
    record_example(result)
    return result


def test_the_worked_example_lists_every_movement_with_its_reference_and_running_balance(
    ledger: Ledger,
) -> None:
    statement = ledger.statement("ACME", FROM_ON, TO_ON)
    assert isinstance(statement, Statement)
    assert ("ACME", "Acme Ltd", "USD") == (
        statement.customer_code,
        statement.customer_name,
        statement.currency,
    )
    assert 160000 == statement.opening_balance_minor
    expected = [
        (date(2024, 2, 15), MovementKind.INVOICE, "INV-2", "INV-2", 80000, 240000),
        (date(2024, 2, 20), MovementKind.PAYMENT, "BANK-1", "INV-1", -50000, 190000),
        (date(2024, 3, 1), MovementKind.CREDIT_NOTE, "CN-1", "INV-2", -10000, 180000),
        (date(2024, 3, 5), MovementKind.PAYMENT, "BANK-2", "INV-1", -30000, 150000),
        (date(2024, 3, 12), MovementKind.PAYMENT_REVERSAL, "BANK-2", "INV-1", 30000, 180000),
        (date(2024, 3, 15), MovementKind.CONCESSION, "INV-2", "INV-2", -5000, 175000),
        (date(2024, 3, 25), MovementKind.WRITE_OFF, "INV-3", "INV-3", -40000, 135000),
    ]
    assert expected == [
        (
            line.on,
            line.kind,
            line.reference,
            line.invoice_number,
            line.amount_minor,
            line.balance_minor,
        )
        for line in statement.lines
    ]
    assert ["", "", "damaged goods", "", "bounced", "late delivery", "customer insolvent"] == [
        line.note for line in statement.lines
    ]
    assert 135000 == statement.closing_balance_minor
    assert -25000 == statement.movements_minor
    assert 25000 == statement.unapplied_cash_minor
    assert 110000 == statement.net_balance_minor


def test_the_closing_balance_is_aged_as_the_ledger_ages_that_customer(ledger: Ledger) -> None:
    statement = ledger.statement("ACME", FROM_ON, TO_ON)
    report = ledger.ageing(TO_ON, grouping=AgeingGrouping.CUSTOMER)
    (row,) = [row for row in report.rows if row.key == "ACME"]
    assert row == statement.ageing
    assert report.bucket_labels == statement.bucket_labels
    assert statement.closing_balance_minor == row.open_minor
    # INV-1 700.00 due 2024-02-09 (51 days past due), INV-2 650.00 due 2024-03-16 (15 days).
    assert ("current", "1-30", "31-60") == statement.bucket_labels[:3]
    assert (0, 65000, 70000, 0, 0, 0) == statement.ageing.buckets_minor
    assert 51 == statement.ageing.days_past_due_max


def test_a_later_period_opens_with_the_last_closing_and_shows_the_reinstatement(
    ledger: Ledger,
) -> None:
    march = ledger.statement("ACME", FROM_ON, TO_ON)
    april = ledger.statement("ACME", date(2024, 4, 1), date(2024, 4, 30))
    assert march.closing_balance_minor == april.opening_balance_minor
    assert [(date(2024, 4, 5), MovementKind.REINSTATEMENT, 40000)] == [
        (line.on, line.kind, line.amount_minor) for line in april.lines
    ]
    assert 175000 == april.closing_balance_minor


def test_a_period_before_the_first_invoice_is_empty(ledger: Ledger) -> None:
    statement = ledger.statement("ACME", date(2023, 1, 1), date(2023, 12, 31))
    assert (0, (), 0, 0) == (
        statement.opening_balance_minor,
        statement.lines,
        statement.closing_balance_minor,
        statement.unapplied_cash_minor,
    )
    assert 0 == statement.ageing.open_minor
    assert "ACME" == statement.ageing.key


def test_known_at_shows_the_statement_as_recorded_by_then(ledger: Ledger) -> None:
    # Cut the log just after BANK-1 was allocated: its application is known, nothing later.
    (allocated,) = [e for e in ledger.iter_events() if isinstance(e, PaymentApplied)][:1]
    statement = ledger.statement("ACME", FROM_ON, TO_ON, known_at=allocated.timestamp)
    assert [MovementKind.INVOICE, MovementKind.PAYMENT] == [line.kind for line in statement.lines]
    assert (160000, 190000, 0) == (
        statement.opening_balance_minor,
        statement.closing_balance_minor,
        statement.unapplied_cash_minor,
    )
    assert statement.ageing.open_minor == statement.closing_balance_minor


def test_a_balance_confirmation_records_the_statements_closing_balance(ledger: Ledger) -> None:
    statement = ledger.statement("ACME", FROM_ON, TO_ON)
    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-2024-03",
        balance_as_of=TO_ON,
        sent_on=date(2024, 4, 2),
    )
    (confirmation,) = ledger.balance_confirmations("ACME")
    assert (TO_ON, statement.closing_balance_minor) == (
        confirmation.balance_as_of,
        confirmation.ledger_balance_minor,
    )


def test_an_unknown_customer_is_refused(ledger: Ledger) -> None:
    with pytest.raises(CustomerNotFoundError) as raised:
        ledger.statement("NOPE", FROM_ON, TO_ON)
    assert "NOPE" == raised.value.customer_code  # type: ignore[attr-defined]


def test_a_customer_not_yet_recorded_at_known_at_is_refused(ledger: Ledger) -> None:
    before = datetime(2025, 12, 31, tzinfo=UTC)
    with pytest.raises(CustomerNotFoundError, match="ACME"):
        ledger.statement("ACME", FROM_ON, TO_ON, known_at=before)


def test_a_period_that_starts_after_it_ends_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidDateError, match="after it ends") as raised:
        ledger.statement("ACME", TO_ON, FROM_ON)
    assert (TO_ON, FROM_ON) == (raised.value.start_on, raised.value.end_on)  # type: ignore[attr-defined]


def test_a_period_outside_the_ledgers_dates_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidDateError):
        ledger.statement("ACME", date(1800, 1, 1), TO_ON)


# The command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("statement") / "ledger.db"),
    }
    record_example(Ledger(env=env, clock=FixedClock()))
    return env


PERIOD = ["--from", "2024-02-01", "--to", "2024-03-31"]


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["statement", *args], env=env)


def test_cli_json_carries_every_figure_as_exact_decimals(cli_store: dict[str, str]) -> None:
    result = invoke(cli_store, "ACME", *PERIOD, "--format", "json")
    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert ("ACME", "USD", "2024-02-01", "2024-03-31", None) == (
        data["customer_code"],
        data["currency"],
        data["from_on"],
        data["to_on"],
        data["known_at"],
    )
    assert ("1600.00", "1350.00", "250.00", "1100.00") == (
        data["opening_balance"],
        data["closing_balance"],
        data["unapplied_cash"],
        data["net_balance"],
    )
    assert [
        ("2024-02-15", "invoice", "INV-2", "800.00", "2400.00"),
        ("2024-02-20", "payment", "BANK-1", "-500.00", "1900.00"),
        ("2024-03-01", "credit_note", "CN-1", "-100.00", "1800.00"),
        ("2024-03-05", "payment", "BANK-2", "-300.00", "1500.00"),
        ("2024-03-12", "payment_reversal", "BANK-2", "300.00", "1800.00"),
        ("2024-03-15", "concession", "INV-2", "-50.00", "1750.00"),
        ("2024-03-25", "write_off", "INV-3", "-400.00", "1350.00"),
    ] == [
        (line["on"], line["kind"], line["reference"], line["amount"], line["balance"])
        for line in data["lines"]
    ]
    assert {"1-30": "650.00", "31-60": "700.00"} == {
        label: amount for label, amount in data["ageing"]["buckets"].items() if amount != "0.00"
    }
    assert ("1350.00", "1350.00") == (data["ageing"]["open"], data["ageing"]["overdue"])


def test_cli_csv_has_the_opening_movements_closing_cash_and_ageing(
    cli_store: dict[str, str],
) -> None:
    result = invoke(cli_store, "ACME", *PERIOD, "--format", "csv")
    assert 0 == result.exit_code, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(STATEMENT_COLUMNS) == list(rows[0])
    assert ("opening_balance", "2024-02-01", "1600.00") == (
        rows[0]["kind"],
        rows[0]["on"],
        rows[0]["balance"],
    )
    movements = [row for row in rows if row["amount"] and row["balance"]]
    assert 7 == len(movements)
    assert ("write_off", "INV-3", "-400.00", "customer insolvent") == (
        movements[-1]["kind"],
        movements[-1]["reference"],
        movements[-1]["amount"],
        movements[-1]["note"],
    )
    (closing,) = [row for row in rows if row["kind"] == "closing_balance"]
    (cash,) = [row for row in rows if row["kind"] == "unapplied_cash"]
    assert ("2024-03-31", "1350.00", "250.00") == (
        closing["on"],
        closing["balance"],
        cash["amount"],
    )
    ageing_rows = {row["reference"]: row["amount"] for row in rows if row["kind"] == "ageing"}
    assert "650.00" == ageing_rows["1-30"]
    assert "700.00" == ageing_rows["31-60"]
    assert "1350.00" == str(sum(Decimal(amount) for amount in ageing_rows.values()))
    assert all(row["customer_code"] == "ACME" and row["currency"] == "USD" for row in rows)


def test_cli_table_shows_the_balances_and_the_ageing(cli_store: dict[str, str]) -> None:
    result = invoke(cli_store, "ACME", *PERIOD)
    assert 0 == result.exit_code, result.output
    for text in ("opening balance", "1,600.00", "payment reversal", "CN-1", "closing balance"):
        assert text in result.stdout
    caption = " ".join(result.stdout.split())
    assert "Unapplied cash 250.00 USD; net of it the customer owes 1,100.00 USD." in caption
    assert "Closing balance aged as of 2024-03-31" in caption  # the title wraps to the table


def test_cli_known_at_gives_the_statement_as_recorded_then(cli_store: dict[str, str]) -> None:
    ledger = Ledger(env=cli_store)
    (applied, *_) = [e for e in ledger.iter_events() if isinstance(e, PaymentApplied)]
    known_at = applied.timestamp.isoformat()
    result = invoke(cli_store, "ACME", *PERIOD, "--known-at", known_at, "--format", "json")
    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert known_at == data["known_at"]
    assert ["invoice", "payment"] == [line["kind"] for line in data["lines"]]
    assert "1900.00" == data["closing_balance"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["NOPE", *PERIOD], 1, "no customer account 'NOPE'"),
        (["ACME", "--from", "2024-03-31", "--to", "2024-02-01"], 2, "is after --to"),
        (["ACME", "--from", "2024-02-30", "--to", "2024-03-31"], 2, "not a date"),
        (["ACME", *PERIOD, "--known-at", "2026-01-01T00:00:00"], 2, "no UTC offset"),
        (["ACME", *PERIOD, "--known-at", "yesterday"], 2, "not an instant"),
        (["ACME", *PERIOD, "--csv-raw"], 2, "--csv-raw is for --format csv"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(
    cli_store: dict[str, str], args: list[str], code: int, message: str
) -> None:
    result = invoke(cli_store, *args)
    assert code == result.exit_code
    assert message in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())
    assert "Traceback" not in result.output


def test_the_readme_statement_example_prints_what_its_comments_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    (example,) = [block for block in blocks if "ledger.statement(" in block]
    # It continues the library example and the collections example before it.
    earlier = blocks[: blocks.index(example)]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARLEDGER_STORE", raising=False)
    monkeypatch.delenv("ARLEDGER_DB", raising=False)
    namespace: dict[str, object] = {}
    for block in earlier:
        if "ledger." in block:
            exec(block, namespace)
    capsys.readouterr()

    exec(example, namespace)

    printed = capsys.readouterr().out.splitlines()
    commented = [line.removeprefix("# ") for line in example.splitlines() if line.startswith("# ")]
    assert "0 60000" == printed[0]
    assert commented == printed[1:4]
    assert "'31-60': 60000" in printed[4]
    assert "0 60000" == printed[5]


def test_cli_csv_neutralises_a_formula_in_a_note_unless_raw(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("100.00"), issued_on=date(2024, 2, 1)
    )
    formula = '=HYPERLINK("http://example.com","click")'
    ledger.apply_credit_note(
        "INV-1",
        credit_note_number="CN-1",
        amount=usd("10.00"),
        applied_on=date(2024, 2, 2),
        reason=formula,
        approver="cfo",
    )
    notes = {}
    for raw in (False, True):
        result = invoke(env, "ACME", *PERIOD, "--format", "csv", *(["--csv-raw"] if raw else []))
        assert 0 == result.exit_code, result.output
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        (credit,) = [row for row in rows if row["kind"] == "credit_note"]
        assert "-10.00" == credit["amount"]  # a plain number stays a number
        notes[raw] = credit["note"]
    assert {False: "'" + formula, True: formula} == notes
