"""The command line: demo, import and ageing, in process and as ``python -m arledger``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.cli.summary import next_commands, summary_lines
from arledger.adapters.synthetic.demo import DEMO_AS_OF, DemoOutcome, generate_demo
from arledger.domain.events import (
    CollectionActionRecorded,
    CustomerAccountOpened,
    DisputeOpened,
    InvoiceIssued,
    PromiseMade,
)
from arledger.projections import ageing

IBM_CSV = Path(__file__).resolve().parents[1] / "data" / "ibm-late-payment-histories.csv"
BUCKET_LABELS = ["current", "1-30", "31-60", "61-90", "91-120", "over 120"]


def sqlite_env(path: Path) -> dict[str, str]:
    return {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}


def event_count(env: dict[str, str]) -> int:
    return sum(1 for _ in Ledger(env).iter_events())


def run_module(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arledger", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory, runner: CliRunner
) -> tuple[dict[str, str], str]:
    """A SQLite store holding the default demo, recorded once through the CLI, and what the
    demo printed."""
    env = sqlite_env(tmp_path_factory.mktemp("demo") / "demo.db")
    result = runner.invoke(app, ["demo"], env=env)
    assert 0 == result.exit_code, result.output
    assert "Recorded the demo book" in result.stdout
    assert "Ageing as of 2024-12-31 by portfolio" in result.stdout
    assert "Customers with the most overdue money" in result.stdout
    return env, result.stdout


@pytest.fixture(scope="module")
def demo_store(demo_run: tuple[dict[str, str], str]) -> dict[str, str]:
    return demo_run[0]


def test_demo_records_200_customers_and_2000_invoices_in_every_state(demo_store):
    events = list(Ledger(demo_store).iter_events())
    kinds = Counter(type(event) for event in events)
    state = ageing.fold_all(events)

    outcomes: Counter[DemoOutcome] = Counter()
    for invoice in state.invoices.values():
        settled = sum(amount for _on, amount in invoice.movements)
        if settled == 0:
            outcomes[DemoOutcome.UNPAID] += 1
        elif settled < invoice.amount_minor:
            outcomes[DemoOutcome.PARTIAL] += 1
        elif max(on for on, _amount in invoice.movements) <= invoice.due_on:
            outcomes[DemoOutcome.ON_TIME] += 1
        else:
            outcomes[DemoOutcome.LATE] += 1
    currencies = {customer.currency for customer in state.customers.values()}
    instalment_invoices = [i for i in state.invoices.values() if len(i.schedule) > 1]

    assert 200 == kinds[CustomerAccountOpened]
    assert 2000 == kinds[InvoiceIssued]
    assert set(DemoOutcome) == set(outcomes)
    assert {"CNY", "EUR", "USD"} == currencies
    assert instalment_invoices
    # The book's collections work: promises, disputes and collection actions.
    assert kinds[PromiseMade] > 0
    assert kinds[DisputeOpened] > 0
    assert kinds[CollectionActionRecorded] > 0


def test_demo_prints_the_ledgers_summary_before_its_tables_and_the_commands_to_try(
    demo_run,
):
    demo_store, stdout = demo_run
    summary = Ledger(demo_store).summary(DEMO_AS_OF)
    lines = summary_lines(summary)

    printed = stdout.splitlines()
    start = printed.index(lines[0])
    assert lines == printed[start : start + len(lines)]
    assert start < stdout.index("Ageing as of 2024-12-31 by portfolio")
    # The figures are the ledger's: the open money per currency of its ageing, with separators.
    ageing_report = Ledger(demo_store).ageing(DEMO_AS_OF, grouping=ageing.AgeingGrouping.CURRENCY)
    for row in ageing_report.rows:
        amount = f"{Decimal(row.open_minor).scaleb(-2):,} {row.currency} open"
        assert any(line.strip().startswith(amount) for line in lines), amount
    assert 3 == len(summary.currencies)
    tried = next_commands(summary)
    assert tried == printed[len(printed) - len(tried) :]
    assert summary.most_urgent_customer is not None
    assert f"arledger explain {summary.most_urgent_customer} --as-of 2024-12-31" in stdout


def test_summary_prints_the_ledgers_summary_of_the_date(demo_store, runner):
    result = runner.invoke(app, ["summary", "--as-of", "2024-11-30"], env=demo_store)

    assert 0 == result.exit_code, result.output
    expected = summary_lines(Ledger(demo_store).summary(date(2024, 11, 30)))
    assert expected == result.stdout.splitlines()
    assert expected[0].startswith("The book as of 2024-11-30 (DSO over 2024-09-01 .. 2024-11-30)")


def test_demo_run_again_on_the_same_store_adds_nothing(demo_store, runner):
    events_before = event_count(demo_store)

    result = runner.invoke(app, ["demo"], env=demo_store)

    assert 0 == result.exit_code, result.output
    assert "already recorded" in result.stdout
    assert events_before == event_count(demo_store)


def test_demo_is_fixed_by_its_seed_and_not_by_today():
    first = generate_demo(7)
    again = generate_demo(7)
    other = generate_demo(8)

    assert first == again
    assert first.invoices != other.invoices
    assert DEMO_AS_OF == first.as_of
    assert all(invoice.issued_on <= DEMO_AS_OF for invoice in first.invoices)


def test_ageing_csv_has_the_buckets_and_they_add_up_to_each_open_total(demo_store, runner):
    result = runner.invoke(
        app,
        ["ageing", "--as-of", "2024-09-30", "--by", "customer", "--format", "csv"],
        env=demo_store,
    )

    assert 0 == result.exit_code, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    rows = list(reader)
    expected_header = ["as_of", "grouping", "key", "label", "currency", *BUCKET_LABELS]
    assert [*expected_header, "open", "disputed", "days_past_due_max"] == reader.fieldnames
    assert len(rows) >= 100
    for row in rows:
        assert ("2024-09-30", "customer") == (row["as_of"], row["grouping"])
        assert Decimal(row["open"]) == sum(Decimal(row[label]) for label in BUCKET_LABELS)
        assert "." in row["open"]  # exact decimal strings, two places for CNY/USD/EUR


def test_ageing_json_rows_and_totals_add_up_per_currency(demo_store, runner):
    result = runner.invoke(
        app,
        ["ageing", "--as-of", "2024-12-31", "--by", "owner", "--format", "json"],
        env=demo_store,
    )

    assert 0 == result.exit_code, result.output
    report = json.loads(result.stdout)
    assert ("2024-12-31", "owner", BUCKET_LABELS) == (
        report["as_of"],
        report["grouping"],
        report["bucket_labels"],
    )
    open_by_currency: Counter[str] = Counter()
    for row in report["rows"]:
        buckets = [Decimal(amount) for amount in row["buckets"].values()]
        assert BUCKET_LABELS == list(row["buckets"])
        assert Decimal(row["open"]) == sum(buckets)
        open_by_currency[row["currency"]] += Decimal(row["open"])  # type: ignore[assignment]
    totals = {total["currency"]: Decimal(total["open"]) for total in report["totals"]}
    assert dict(open_by_currency) == totals


def test_ageing_as_a_table_shows_the_buckets_and_the_totals(demo_store, runner):
    result = runner.invoke(
        app, ["ageing", "--as-of", "2024-12-31", "--by", "currency"], env=demo_store
    )

    assert 0 == result.exit_code, result.output
    for label in BUCKET_LABELS:
        assert label in result.stdout
    for currency in ("CNY", "EUR", "USD"):
        assert currency in result.stdout


def test_ageing_refuses_a_date_that_is_not_iso_with_a_usage_error(runner, tmp_path):
    result = runner.invoke(
        app, ["ageing", "--as-of", "31/12/2024"], env=sqlite_env(tmp_path / "x.db")
    )

    assert 2 == result.exit_code
    assert "YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.output


def test_a_configuration_error_is_one_line_on_stderr_without_a_traceback(runner):
    result = runner.invoke(
        app, ["ageing", "--as-of", "2024-12-31"], env={"ARLEDGER_STORE": "bogus"}
    )

    assert 2 == result.exit_code
    assert ["error: ARLEDGER_STORE='bogus'; expected one of memory, postgres, sqlite"] == (
        result.stderr.splitlines()
    )


def test_a_store_that_cannot_be_opened_is_one_line_on_stderr(runner, tmp_path):
    env = sqlite_env(tmp_path / "no such directory" / "x.db")

    result = runner.invoke(app, ["ageing", "--as-of", "2024-12-31"], env=env)

    assert 1 == result.exit_code
    assert 1 == len(result.stderr.splitlines())
    assert "cannot be used" in result.stderr


def test_import_with_the_ibm_preset_then_again_then_ageing_as_python_m_arledger(tmp_path):
    env = sqlite_env(tmp_path / "x.db")

    first = run_module("import", str(IBM_CSV), "--preset", "ibm", env=env, cwd=tmp_path)
    events_after_first = event_count(env)
    second = run_module("import", str(IBM_CSV), "--preset", "ibm", env=env, cwd=tmp_path)
    report = run_module(
        "ageing",
        "--as-of",
        "2013-06-30",
        "--by",
        "customer",
        "--format",
        "json",
        env=env,
        cwd=tmp_path,
    )

    assert 0 == first.returncode, first.stderr
    assert "2466 invoices issued" in first.stdout
    assert "100 customers opened" in first.stdout
    said = " ".join(first.stdout.split())  # rich wraps long lines
    assert 'Not imported: column Disputed ("Yes" on 561 of 2466 rows)' in said
    assert 0 == second.returncode, second.stderr
    assert "already recorded" in second.stdout
    assert 'column Disputed ("Yes" on 561 of 2466 rows)' in " ".join(second.stdout.split())
    assert events_after_first == event_count(env)
    assert 0 == report.returncode, report.stderr
    rows = json.loads(report.stdout)["rows"]
    assert rows
    assert {"USD"} == {row["currency"] for row in rows}


def test_import_reports_bad_rows_on_stderr_exits_1_and_records_nothing(runner, tmp_path):
    env = sqlite_env(tmp_path / "x.db")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": {
                    "customer_code": "customer",
                    "invoice_number": "number",
                    "amount": "amount",
                    "issued_on": "issued",
                    "due_on": "due",
                }
            }
        ),
        encoding="utf-8",
    )
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "customer,number,amount,issued,due\n"
        "C1,I-1,10.00,2024-01-01,2024-01-31\n"
        "C1,I-2,1.234,2024-01-01,2024-01-31\n"
        "C1,I-3,10.00,2024-01-31,2024-01-01\n",
        encoding="utf-8",
    )

    result = runner.invoke(
        app, ["import", str(invoices), "--mapping", str(mapping), "--currency", "EUR"], env=env
    )

    assert 1 == result.exit_code
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and lines[0].endswith(
        "2 problem(s); nothing was recorded"
    )
    assert lines[1].startswith("  line 3, amount: 1.234 has more decimals than EUR allows")
    assert lines[2].startswith("  line 4, due_on: invoice I-3: due date 2024-01-01 is before")
    assert "Traceback" not in result.output
    assert 0 == event_count(env)


def test_import_of_payments_with_a_mapping_through_the_cli(runner, tmp_path):
    env = sqlite_env(tmp_path / "x.db")
    invoice_mapping = tmp_path / "invoices.json"
    invoice_mapping.write_text(
        json.dumps(
            {
                "columns": {
                    "customer_code": "customer",
                    "invoice_number": "number",
                    "amount": "amount",
                    "issued_on": "issued",
                    "terms_days": "terms",
                },
                "currency": "EUR",
            }
        ),
        encoding="utf-8",
    )
    payment_mapping = tmp_path / "payments.json"
    payment_mapping.write_text(
        json.dumps(
            {
                "columns": {
                    "bank_reference": "reference",
                    "customer_code": "payer",
                    "amount": "amount",
                    "value_on": "value date",
                    "invoice_number": "invoice",
                    "currency": "currency",
                }
            }
        ),
        encoding="utf-8",
    )
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "customer,number,amount,issued,terms\nC1,I-1,100,2024-01-01,30\nC1,I-2,50,2024-01-10,30\n",
        encoding="utf-8",
    )
    payments = tmp_path / "payments.csv"
    payments.write_text(
        "reference,payer,amount,value date,invoice,currency\n"
        "B-1,C1,50.00,2024-02-01,I-2,EUR\n"
        "B-2,C1,30.00,2024-02-02,,EUR\n",
        encoding="utf-8",
    )

    imported = runner.invoke(
        app, ["import", str(invoices), "--mapping", str(invoice_mapping)], env=env
    )
    paid = runner.invoke(
        app,
        ["import", str(payments), "--kind", "payments", "--mapping", str(payment_mapping)],
        env=env,
    )
    report = runner.invoke(
        app, ["ageing", "--as-of", "2024-03-31", "--by", "invoice", "--format", "json"], env=env
    )

    assert 0 == imported.exit_code, imported.output
    assert 0 == paid.exit_code, paid.output
    assert "2 payments received" in paid.stdout
    rows = {row["key"]: row["open"] for row in json.loads(report.stdout)["rows"]}
    assert {"I-1": "70.00"} == rows


def test_import_needs_exactly_one_of_a_preset_or_a_mapping(runner, tmp_path):
    result = runner.invoke(app, ["import", str(IBM_CSV)], env=sqlite_env(tmp_path / "x.db"))

    assert 2 == result.exit_code
    assert "--preset" in result.stderr


def test_python_m_arledger_help_lists_every_command(tmp_path):
    result = run_module("--help", env={}, cwd=tmp_path)

    assert 0 == result.returncode, result.stderr
    for command in ("demo", "import", "ageing"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["demo", "import", "ageing"])
def test_every_command_explains_itself_with_help(runner, command):
    result = runner.invoke(app, [command, "--help"])

    assert 0 == result.exit_code
    assert "Usage:" in result.stdout
    assert len(result.stdout.splitlines()) > 8
