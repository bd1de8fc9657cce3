"""``arledger cash-held`` and ``arledger hand-over-cash``: cash and cheques collected in person
and not handed to finance within the policy's days, and recording a handover.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package). Invariant: as
every command, an error arledger raises on purpose is one line on stderr and exit code 1
(refused) or 2 (bad usage); amounts are exact decimal strings.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer

from arledger.adapters.cli.app import (
    _ledger,
    _reported_errors,
    _stdout,
    app,
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import (
    Column,
    FittedTable,
    Kind,
    instant_text,
    money_cell,
    words,
)
from arledger.domain.money import format_minor
from arledger.projections.handover import CashHandoverReport, CashHeld


@app.command("cash-held")
def cash_held_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Money held by the people who collected it at the end of this day.",
        ),
    ],
    manager: Annotated[
        str | None,
        typer.Option("--manager", help="Only the people this manager manages (policy data)."),
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The list")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List cash and cheques collected in person and not handed to finance within the days of
    the policy in force (longest held first), with each collector's manager."""
    with _reported_errors():
        report = _ledger().cash_not_handed_over(as_of, manager=manager, known_at=known_at)
    if as_json:
        sys.stdout.write(json.dumps(cash_held_json(report, known_at), indent=2) + "\n")
    else:
        _stdout().print(cash_held_table(report.rows, title=f"Cash not handed over, {as_of}"))


def cash_row_json(row: CashHeld) -> dict[str, Any]:
    return {
        "bank_reference": row.bank_reference,
        "customer_code": row.customer_code,
        "currency": row.currency,
        "amount": format_minor(row.amount_minor, row.currency),
        "method": row.method.value,
        "received_by": row.received_by,
        "manager": row.manager,
        "collected_on": row.collected_on.isoformat(),
        "days_held": row.days_held,
        "handover_days": row.handover_days,
    }


def cash_held_json(report: CashHandoverReport, known_at: datetime | None) -> dict[str, Any]:
    return {
        "as_of": report.as_of.isoformat(),
        "known_at": instant_text(known_at),
        "manager": report.manager,
        "policy_version": report.policy_version,
        "rows": [cash_row_json(row) for row in report.rows],
    }


def cash_held_table(rows: tuple[CashHeld, ...], *, title: str) -> FittedTable:
    table = FittedTable(
        Column("Bank reference", Kind.CODE, key=True),
        Column("Customer", Kind.CODE, key=True),
        Column("Method"),
        Column("Collected by"),
        Column("Manager", drop=1),
        Column("Collected on", Kind.CODE),
        Column("Days held", Kind.NUMBER),
        Column("Amount", Kind.AMOUNT),
        title=title,
    )
    for row in rows:
        table.add_row(
            row.bank_reference,
            row.customer_code,
            words(row.method.value),
            row.received_by,
            row.manager or "",
            row.collected_on.isoformat(),
            f"{row.days_held} (> {row.handover_days})",
            money_cell(row.amount_minor, row.currency),
        )
    if not rows:
        table.caption = "No cash held longer than the policy allows."
    return table


@app.command("hand-over-cash")
def hand_over_cash_command(
    bank_reference: Annotated[str, typer.Argument(help="The payment collected in person.")],
    handed_on: Annotated[
        date,
        typer.Option(
            "--handed-on",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The day finance received it.",
        ),
    ],
    received_by_finance: Annotated[str, typer.Option("--to", help="Who in finance received it.")],
) -> None:
    """Record that cash or a cheque collected in person was handed to finance."""
    with _reported_errors():
        events = _ledger().hand_over_cash(
            bank_reference, handed_on=handed_on, received_by_finance=received_by_finance
        )
    what = "recorded" if events else "already recorded; nothing new"
    _stdout().print(
        f"{bank_reference} handed over on {handed_on.isoformat()} to {received_by_finance}: {what}"
    )
