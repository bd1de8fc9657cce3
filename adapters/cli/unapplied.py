"""``arledger unapplied-cash``: money received and not applied to an invoice, as of a date.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own like the statement. Invariant: as every query command, an error arledger
raises on purpose is one line on stderr and exit code 1 (refused) or 2 (bad usage), never a
traceback; the table, CSV and JSON carry the same figures, the CSV and JSON as exact decimal
strings.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import date, datetime
from typing import Annotated, Any, Final

import typer

from arledger.adapters import csv_output
from arledger.adapters.cli.app import (
    _CSV_RAW_OPTION,
    OutputFormat,
    _check_csv_raw,
    _ledger,
    _reported_errors,
    _stdout,
    app,
    at_position_option,
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import Column, FittedTable, Kind, amount_cell
from arledger.adapters.data_output import to_data
from arledger.domain.money import format_minor
from arledger.projections.unapplied import UnappliedCashReport

UNAPPLIED_COLUMNS: Final = (
    "customer_code",
    "currency",
    "bank_reference",
    "value_on",
    "amount",
    "unapplied",
)


@app.command("unapplied-cash")
def unapplied_cash_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Cash received and not applied by the end of this day.",
            show_default=False,
        ),
    ],
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer (its code).")
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The report")] = None,
    at_position: Annotated[int | None, at_position_option("The report")] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
) -> None:
    """Print unapplied cash as of a date: per customer and currency, every payment received
    by --as-of (not reversed) with what of it no invoice settles yet, by bank reference.
    """
    _check_csv_raw(csv_raw, output_format)
    with _reported_errors():
        report = _ledger().unapplied_cash(
            as_of, customer_code=customer, known_at=known_at, at_position=at_position
        )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(unapplied_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(unapplied_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(_unapplied_table(report))


def unapplied_json(
    report: UnappliedCashReport, *, known_at: datetime | None = None
) -> dict[str, Any]:
    """The report as JSON-ready data; amounts are exact decimal strings in their currency."""
    return {
        "as_of": report.as_of.isoformat(),
        "known_at": None if known_at is None else known_at.isoformat(),
        "as_of_log": to_data(report.as_of_log),
        "rows": [
            {
                "customer_code": row.customer_code,
                "customer_name": row.customer_name,
                "currency": row.currency,
                "unapplied": format_minor(row.unapplied_minor, row.currency),
                "payments": [
                    {
                        "bank_reference": payment.bank_reference,
                        "value_on": payment.value_on.isoformat(),
                        "amount": format_minor(payment.amount_minor, row.currency),
                        "unapplied": format_minor(payment.unapplied_minor, row.currency),
                    }
                    for payment in row.payments
                ],
            }
            for row in report.rows
        ],
        "totals": {
            currency: format_minor(amount, currency)
            for currency, amount in sorted(report.totals_minor.items())
        },
    }


def unapplied_csv(report: UnappliedCashReport, *, raw: bool = False) -> str:
    """One CSV line per payment with unapplied money. Cells are neutralised for spreadsheets
    unless ``raw``."""
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(UNAPPLIED_COLUMNS)
    for row in report.rows:
        for payment in row.payments:
            writer.writerow(
                [
                    row.customer_code,
                    row.currency,
                    payment.bank_reference,
                    payment.value_on.isoformat(),
                    format_minor(payment.amount_minor, row.currency),
                    format_minor(payment.unapplied_minor, row.currency),
                ]
            )
    return buffer.getvalue()


def _unapplied_table(report: UnappliedCashReport) -> FittedTable:
    table = FittedTable(
        Column("Customer", Kind.CODE, key=True),
        Column("Currency", Kind.CODE, key=True),
        Column("Bank reference", Kind.CODE, key=True),
        Column("Received", Kind.CODE),
        Column("Amount", Kind.AMOUNT),
        Column("Unapplied", Kind.AMOUNT),
        title=f"Unapplied cash as of {report.as_of}",
    )
    for row in report.rows:
        for payment in row.payments:
            table.add_row(
                row.customer_code,
                row.currency,
                payment.bank_reference,
                str(payment.value_on),
                amount_cell(payment.amount_minor, row.currency),
                amount_cell(payment.unapplied_minor, row.currency),
            )
        table.add_row(
            row.customer_code,
            row.currency,
            "total",
            "",
            "",
            amount_cell(row.unapplied_minor, row.currency),
            style="bold",
        )
    if not report.rows:
        table.caption = "No unapplied cash."
    return table
