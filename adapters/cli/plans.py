"""``arledger plan``: monthly collection plans [追款计划], targets set and plans shown.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own like the statement. A month is typed ``YYYY-MM``; amounts in major units of
the customer's account currency. Invariant: an error arledger raises on purpose is one line on
stderr and exit code 1 (refused) or 2 (bad usage), never a traceback, and a refused command
records nothing; the table and the JSON carry the same figures (JSON amounts in minor units
beside their currency, as ``arledger.to_data`` writes them).
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer

from arledger.adapters.cli.app import (
    _ledger,
    _query_ledger,
    _reported_errors,
    _stdout,
    app,
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import Column, FittedTable, Kind, amount_cell
from arledger.adapters.data_output import to_data
from arledger.domain.money import Money
from arledger.projections.backtest import parse_month
from arledger.projections.plans import CollectionPlan, PlanGrouping

plan_app = typer.Typer(
    help="Monthly collection plans (追款计划): set a target, show target, committed, "
    "collected and the gaps.",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")

_CUSTOMER = typer.Option("--customer", help="The customer's code.", show_default=False)
_MONTH = typer.Option("--month", metavar="YYYY-MM", help="The plan's month.", show_default=False)


class PlanFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"


@plan_app.command("set")
def set_command(
    customer: Annotated[str, _CUSTOMER],
    month: Annotated[str, _MONTH],
    target: Annotated[
        str,
        typer.Option(
            help="The target, major units (200000.00); 0 takes it back.", show_default=False
        ),
    ],
    set_by: Annotated[str, typer.Option(help="Who sets it (the owner).", show_default=False)],
    set_on: Annotated[
        date,
        typer.Option(
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The day it is set: it counts from then.",
            show_default=False,
        ),
    ],
    note: Annotated[str, typer.Option(help="Why, or the measures agreed.")] = "",
) -> None:
    """Set a customer's collection target for a month, then print the customer's plan."""
    with _reported_errors():
        month_on = parse_month("month", month)
        ledger = _ledger()
        currency = ledger.customer(customer).currency
        ledger.set_collection_target(
            customer_code=customer,
            month_on=month_on,
            target=Money.parse(target, currency),
            set_by=set_by,
            set_on=set_on,
            note=note,
        )
        plan = ledger.collection_plan(month_on, as_of=max(set_on, month_on), customer_code=customer)
    _stdout().print(_table(plan))


@plan_app.command("show")
def show_command(
    month: Annotated[str, _MONTH],
    by: Annotated[
        PlanGrouping, typer.Option("--by", help="One row per customer, owner or team.")
    ] = PlanGrouping.CUSTOMER,
    as_of: Annotated[
        date | None,
        typer.Option(
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="As of the end of this day (default: the month's last day).",
            show_default=False,
        ),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer (its code).")
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The plan")] = None,
    output_format: Annotated[
        PlanFormat, typer.Option("--format", help="A table for people, or JSON.")
    ] = PlanFormat.TABLE,
) -> None:
    """Print the month's plans: target, committed (promise tranches due in the month),
    collected, gap to target (target - committed), gap to commitment (committed - collected),
    and the customers with a target and no commitment (flagged)."""
    with _reported_errors():
        plan = _query_ledger().collection_plan(
            parse_month("month", month),
            by=by,
            as_of=as_of,
            customer_code=customer,
            known_at=known_at,
        )
    if output_format is PlanFormat.JSON:
        sys.stdout.write(json.dumps(plan_json(plan), indent=2) + "\n")
    else:
        _stdout().print(_table(plan))


def plan_json(plan: CollectionPlan) -> dict[str, Any]:
    """The plan as JSON-ready data, rates as exact decimal strings."""
    data: dict[str, Any] = json.loads(json.dumps(to_data(plan)))
    for row, found in zip(data["rows"], plan.rows, strict=True):
        rate = found.collection_rate
        row["collection_rate"] = None if rate is None else str(rate)
    return data


def _table(plan: CollectionPlan) -> FittedTable:
    table = FittedTable(
        Column(plan.grouping.value.capitalize(), Kind.CODE, key=True),
        Column("Currency", Kind.CODE, key=True),
        *(
            Column(heading, Kind.AMOUNT)
            for heading in (
                "Target",
                "Committed",
                "Collected",
                "Gap to target",
                "Gap to commitment",
            )
        ),
        Column("Collected / target", Kind.NUMBER),
        Column("No commitment", drop=1),
        title=f"Collection plans {plan.month_on:%Y-%m} by {plan.grouping.value}, as of "
        f"{plan.as_of}",
    )
    for row in plan.rows:
        rate = row.collection_rate
        table.add_row(
            row.key,
            row.currency,
            *(
                amount_cell(amount, row.currency)
                for amount in (
                    row.target_minor,
                    row.committed_minor,
                    row.collected_minor,
                    row.gap_to_target_minor,
                    row.gap_to_commitment_minor,
                )
            ),
            "" if rate is None else f"{rate * 100:.1f}%",
            ", ".join(row.uncommitted),
        )
    return table
