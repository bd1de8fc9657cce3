"""``arledger statement``: a customer's statement of account (对账单) for a period.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported at its end), kept in a module of
its own. Invariant: as every query command, an error arledger raises on purpose is one line on
stderr and exit code 1 (refused) or 2 (bad usage), never a traceback; the table, CSV and JSON
carry the same figures, the CSV and JSON as exact decimal strings.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
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
    usage_error,
)
from arledger.adapters.cli.formats import (
    Column,
    FittedTable,
    Kind,
    amount_cell,
    money_cell,
    words,
)
from arledger.adapters.cli.xlsx import (
    FORMAT_HELP,
    OUT_OPTION,
    SheetFormat,
    text_format,
    write_workbook,
)
from arledger.adapters.data_output import to_data
from arledger.domain.money import format_minor
from arledger.projections.statement import Statement

STATEMENT_COLUMNS: Final = (
    "customer_code",
    "currency",
    "on",
    "kind",
    "reference",
    "invoice_number",
    "amount",
    "balance",
    "note",
)


@app.command("statement")
def statement_command(
    customer: Annotated[str, typer.Argument(help="The customer code.", show_default=False)],
    from_on: Annotated[
        date,
        typer.Option(
            "--from",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="First day of the period.",
            show_default=False,
        ),
    ],
    to_on: Annotated[
        date,
        typer.Option(
            "--to",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Last day of the period, included.",
            show_default=False,
        ),
    ],
    known_at: Annotated[datetime | None, known_at_option("The statement")] = None,
    at_position: Annotated[int | None, at_position_option("The statement")] = None,
    sheet_format: Annotated[
        SheetFormat, typer.Option("--format", help=FORMAT_HELP)
    ] = SheetFormat.TABLE,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
    out: Annotated[Path | None, OUT_OPTION] = None,
) -> None:
    """Print a customer's statement of account for a period.

    The opening balance (what was open at the end of the day before --from), every movement of
    the period by date (invoices, payments applied, payment reversals, credit notes,
    concessions, write-offs, reinstatements) with its reference, signed amount and running
    balance, the closing balance (what was open at the end of --to) aged with the policy in
    force on --to, and unapplied cash (received, not applied).
    """
    output_format = text_format(sheet_format, out)
    if from_on > to_on:
        usage_error(f"--from {from_on} is after --to {to_on}")
    _check_csv_raw(csv_raw, output_format)
    with _reported_errors():
        result = _ledger().statement(
            customer, from_on, to_on, known_at=known_at, at_position=at_position
        )
    if out is not None:
        data = _xlsx().statement_workbook(result, known_at=known_at)
        write_workbook(out, data, f"the statement of account of {customer}")
    elif output_format is OutputFormat.CSV:
        sys.stdout.write(statement_csv(result, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(statement_json(result, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(_statement_table(result))
        _stdout().print(_statement_ageing_table(result))


def statement_json(result: Statement, *, known_at: datetime | None = None) -> dict[str, Any]:
    """The statement as JSON-ready data; amounts are exact decimal strings."""

    def money(amount_minor: int) -> str:
        return format_minor(amount_minor, result.currency)

    row = result.ageing
    return {
        "customer_code": result.customer_code,
        "customer_name": result.customer_name,
        "currency": result.currency,
        "from_on": result.from_on.isoformat(),
        "to_on": result.to_on.isoformat(),
        "known_at": None if known_at is None else known_at.isoformat(),
        "as_of_log": to_data(result.as_of_log),
        "opening_balance": money(result.opening_balance_minor),
        "lines": [
            {
                "on": line.on.isoformat(),
                "kind": line.kind.value,
                "reference": line.reference,
                "invoice_number": line.invoice_number,
                "amount": money(line.amount_minor),
                "balance": money(line.balance_minor),
                "note": line.note,
            }
            for line in result.lines
        ],
        "closing_balance": money(result.closing_balance_minor),
        "ageing": {
            "bucket_labels": list(result.bucket_labels),
            "buckets": {
                label: money(amount)
                for label, amount in zip(result.bucket_labels, row.buckets_minor, strict=True)
            },
            "open": money(row.open_minor),
            "overdue": money(row.overdue_minor),
            "disputed": money(row.disputed_minor),
            "days_past_due_max": row.days_past_due_max,
        },
        "unapplied_cash": money(result.unapplied_cash_minor),
        "net_balance": money(result.net_balance_minor),
    }


def statement_csv(result: Statement, *, raw: bool = False) -> str:
    """One CSV line per figure, all with the same columns: the opening balance, each movement,
    the closing balance, unapplied cash, then the closing balance per ageing bucket (its label
    as the reference). Cells are neutralised for spreadsheets unless ``raw``."""

    def money(amount_minor: int) -> str:
        return format_minor(amount_minor, result.currency)

    code, currency = result.customer_code, result.currency
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    opening = money(result.opening_balance_minor)
    writer.writerow([code, currency, result.from_on, "opening_balance", "", "", "", opening, ""])
    for line in result.lines:
        writer.writerow(
            [
                code,
                currency,
                line.on.isoformat(),
                line.kind.value,
                line.reference,
                line.invoice_number,
                money(line.amount_minor),
                money(line.balance_minor),
                line.note,
            ]
        )
    to_on = result.to_on.isoformat()
    closing = money(result.closing_balance_minor)
    unapplied = money(result.unapplied_cash_minor)
    writer.writerow([code, currency, to_on, "closing_balance", "", "", "", closing, ""])
    writer.writerow([code, currency, to_on, "unapplied_cash", "", "", unapplied, "", ""])
    for label, amount in zip(result.bucket_labels, result.ageing.buckets_minor, strict=True):
        writer.writerow([code, currency, to_on, "ageing", label, "", money(amount), "", ""])
    return buffer.getvalue()


def _statement_table(result: Statement) -> FittedTable:
    def money(amount_minor: int) -> str:
        return amount_cell(amount_minor, result.currency)

    table = FittedTable(
        Column("Date", Kind.CODE, key=True),
        Column("Kind", key=True),
        Column("Reference", Kind.CODE, key=True),
        Column("Invoice", Kind.CODE, drop=2),
        Column("Amount", Kind.AMOUNT),
        Column("Balance", Kind.AMOUNT),
        Column("Note", drop=1),
        title=f"Statement of account {result.customer_code} ({result.customer_name}) "
        f"{result.from_on} to {result.to_on}, {result.currency}",
    )
    table.add_row(
        str(result.from_on), "opening balance", "", "", "", money(result.opening_balance_minor), ""
    )
    for line in result.lines:
        table.add_row(
            str(line.on),
            words(line.kind.value),
            line.reference,
            line.invoice_number,
            money(line.amount_minor),
            money(line.balance_minor),
            line.note,
        )
    table.add_section()
    table.add_row(
        str(result.to_on),
        "closing balance",
        "",
        "",
        "",
        money(result.closing_balance_minor),
        "",
        style="bold",
    )
    table.caption = (
        f"Unapplied cash {money_cell(result.unapplied_cash_minor, result.currency)}; net of it "
        f"the customer owes {money_cell(result.net_balance_minor, result.currency)}."
    )
    return table


def _statement_ageing_table(result: Statement) -> FittedTable:
    table = FittedTable(
        Column("Currency", Kind.CODE, key=True),
        *(Column(label, Kind.AMOUNT) for label in result.bucket_labels),
        Column("Open", Kind.AMOUNT, style="bold"),
        Column("of which disputed", Kind.AMOUNT),
        title=f"Closing balance aged as of {result.to_on} (days past due)",
    )
    row = result.ageing
    table.add_row(
        result.currency,
        *(amount_cell(amount, result.currency) for amount in row.buckets_minor),
        amount_cell(row.open_minor, result.currency),
        amount_cell(row.disputed_minor, result.currency),
    )
    return table


def _xlsx() -> ModuleType:
    """``adapters.xlsx_output``, imported when a workbook is asked for: openpyxl takes a
    noticeable part of a second to import, which no other output pays."""
    from arledger.adapters import xlsx_output

    return xlsx_output
