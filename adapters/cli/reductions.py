"""``arledger reductions``, ``arledger pending-approvals`` and ``arledger override-due-date``:
every reduction of what customers owe in a period with its approvers and reason (what an
auditor asks first), the reduction requests waiting for an approver, and a due date moved by
hand.

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
from collections.abc import Sequence
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
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import FittedTable, Kind, record_table
from arledger.adapters.data_output import JsonData
from arledger.domain.money import format_minor
from arledger.projections.reductions import PendingApproval, ReductionsReport

REDUCTION_COLUMNS: Final = (
    "reduced_on",
    "kind",
    "customer_code",
    "invoice_number",
    "reference",
    "currency",
    "amount",
    "approver",
    "second_approver",
    "reason",
)


@app.command("reductions")
def reductions_command(
    from_on: Annotated[
        date,
        typer.Option(
            "--from",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="First day of the period (included).",
            show_default=False,
        ),
    ],
    to_on: Annotated[
        date,
        typer.Option(
            "--to",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Last day of the period (included).",
            show_default=False,
        ),
    ],
    approver: Annotated[
        str | None, typer.Option("--approver", help="Only what this person approved.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer (its code).")
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The report")] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
) -> None:
    """Print every credit note (an upheld dispute's too), concession and write-off dated in
    the period, with its customer, invoice, amount, approvers and reason."""
    _check_csv_raw(csv_raw, output_format)
    with _reported_errors():
        report = _ledger().reductions(
            from_on, to_on, approver=approver, customer_code=customer, known_at=known_at
        )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(reductions_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(reductions_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(_reductions_table(report))


def _cells(report: ReductionsReport) -> list[list[str]]:
    return [
        [
            row.reduced_on.isoformat(),
            row.kind.value,
            row.customer_code,
            row.invoice_number,
            row.reference,
            row.currency,
            format_minor(row.amount_minor, row.currency),
            row.approver or "",
            row.second_approver or "",
            row.reason,
        ]
        for row in report.rows
    ]


def reductions_json(
    report: ReductionsReport, *, known_at: datetime | None = None
) -> dict[str, Any]:
    """The report as JSON-ready data; amounts are exact decimal strings in their currency."""
    currencies = sorted({row.currency for row in report.rows})
    return {
        "from": report.from_on.isoformat(),
        "to": report.to_on.isoformat(),
        "approver": report.approver,
        "customer_code": report.customer_code,
        "known_at": None if known_at is None else known_at.isoformat(),
        "rows": [dict(zip(REDUCTION_COLUMNS, cells, strict=True)) for cells in _cells(report)],
        "totals": {
            currency: format_minor(report.total_minor(currency), currency)
            for currency in currencies
        },
    }


def reductions_csv(report: ReductionsReport, *, raw: bool = False) -> str:
    """One CSV line per reduction. Cells are neutralised for spreadsheets unless ``raw``."""
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(REDUCTION_COLUMNS)
    for cells in _cells(report):
        writer.writerow(cells)
    return buffer.getvalue()


def _reductions_table(report: ReductionsReport) -> FittedTable:
    return record_table(
        REDUCTION_COLUMNS,
        _cells(report),
        kinds=_KINDS,
        keys=("reduced_on", "kind", "customer_code"),
        drops={"reason": 1, "second_approver": 2},
        title=f"Reductions {report.from_on} to {report.to_on}"
        + (f", approved by {report.approver}" if report.approver else "")
        + (f", customer {report.customer_code}" if report.customer_code else ""),
        caption=None if report.rows else "No reductions.",
    )


_KINDS: Final = {
    "reduced_on": Kind.CODE,
    "reduce_on": Kind.CODE,
    "requested_on": Kind.CODE,
    "due_on": Kind.CODE,
    "customer_code": Kind.CODE,
    "invoice_number": Kind.CODE,
    "reference": Kind.CODE,
    "request_reference": Kind.CODE,
    "currency": Kind.CODE,
    "amount": Kind.AMOUNT,
}
"""The columns of the reductions' tables that are not text."""


PENDING_COLUMNS: Final = (
    "request_reference",
    "kind",
    "customer_code",
    "invoice_number",
    "currency",
    "amount",
    "reduce_on",
    "requested_by",
    "requested_on",
    "approved_by",
    "reason",
    "due_on",
)


@app.command("pending-approvals")
def pending_approvals_command(
    approver: Annotated[
        str | None,
        typer.Option("--approver", help="Only the requests this person may approve."),
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The list")] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
) -> None:
    """Print the reduction requests waiting for approval, oldest first (for --approver, those
    the authority policy lets them approve and they have not approved yet)."""
    _check_csv_raw(csv_raw, output_format)
    with _reported_errors():
        pending = _ledger().pending_approvals(approver=approver, known_at=known_at)
    rows = _pending_cells(pending)
    if output_format is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv_output.writer(buffer, raw=csv_raw, lineterminator="\n")
        writer.writerow(PENDING_COLUMNS)
        for cells in rows:
            writer.writerow(cells)
        sys.stdout.write(buffer.getvalue())
    elif output_format is OutputFormat.JSON:
        data = {
            "approver": approver,
            "known_at": None if known_at is None else known_at.isoformat(),
            "requests": pending_json(pending),
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _stdout().print(pending_table(pending, title="Reductions waiting for approval"))


def _pending_cells(pending: Sequence[PendingApproval]) -> list[list[str]]:
    return [
        [
            request.request_reference,
            request.kind.value,
            request.customer_code,
            request.invoice_number,
            request.currency,
            format_minor(request.amount_minor, request.currency),
            request.reduce_on.isoformat(),
            request.requested_by,
            request.requested_on.isoformat(),
            ", ".join(request.approved_by),
            request.reason,
            "" if request.due_on is None else request.due_on.isoformat(),
        ]
        for request in pending
    ]


def pending_json(pending: Sequence[PendingApproval]) -> list[JsonData]:
    """The requests as JSON-ready rows; amounts are exact decimal strings in their currency."""
    rows: list[JsonData] = [
        dict(zip(PENDING_COLUMNS, cells, strict=True)) for cells in _pending_cells(pending)
    ]
    return rows


def pending_table(pending: Sequence[PendingApproval], *, title: str) -> FittedTable:
    rows = _pending_cells(pending)
    return record_table(
        PENDING_COLUMNS,
        rows,
        kinds=_KINDS,
        keys=("request_reference", "kind", "customer_code"),
        drops={"reason": 1, "approved_by": 2, "due_on": 2, "requested_on": 3},
        title=title,
        caption=None if rows else "Nothing waits for approval.",
    )


@app.command("override-due-date")
def override_due_date_command(
    invoice_number: Annotated[str, typer.Argument(help="The invoice whose due date moves.")],
    due_on: Annotated[
        date,
        typer.Option(
            "--due-on",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The new due date.",
            show_default=False,
        ),
    ],
    overridden_on: Annotated[
        date,
        typer.Option(
            "--on",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="From this day the invoice ages from the new due date.",
            show_default=False,
        ),
    ],
    approver: Annotated[str, typer.Option(help="Who approved it.", show_default=False)],
    reason: Annotated[str, typer.Option(help="Why.", show_default=False)],
) -> None:
    """Move an invoice's due date by hand, approved within the authority policy (a role may
    postpone by at most its postponement_days_max); listed by `arledger reductions`."""
    with _reported_errors():
        events = _ledger().override_due_date(
            invoice_number,
            due_on=due_on,
            overridden_on=overridden_on,
            reason=reason,
            approver=approver,
        )
    what = "recorded" if events else "already recorded; nothing new"
    _stdout().print(
        f"{invoice_number} due on {due_on.isoformat()} from {overridden_on.isoformat()}, "
        f"approved by {approver}: {what}"
    )
