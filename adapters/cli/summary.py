"""``arledger summary``: the book at a glance, in a few lines a credit controller reads first.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package); ``arledger demo``
prints the same lines (``summary_lines``) before its tables. Invariant: every figure printed is
the ``Ledger.summary`` figure (open money per currency and its shares from the ageing, DSO from
the KPIs, customers per level from the worklist), formatted with thousands separators and never
converted between currencies.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import typer

from arledger.adapters.cli.app import (
    _query_ledger,
    _reported_errors,
    _stdout,
    app,
    parse_iso_date,
)
from arledger.domain.money import currency_exponent
from arledger.projections.summary import BookSummary


def money_text(amount_minor: int, currency: str) -> str:
    """``1,234,567.89 CNY``: the exact amount with thousands separators and its currency."""
    exponent = currency_exponent(currency)
    value = Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
    return f"{value:,} {currency}"


def _percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value}%"


def summary_lines(summary: BookSummary) -> list[str]:
    """The summary as plain lines: one per currency, then the customers and their levels."""
    lines = [
        f"The book as of {summary.as_of} (DSO over {summary.kpi_start_on} .. {summary.as_of}):"
    ]
    if not summary.currencies:
        lines.append("  No money open.")
    for row in summary.currencies:
        dso = "n/a" if row.dso_days is None else f"{row.dso_days} days"
        disputed = (
            f"; {money_text(row.disputed_minor, row.currency)} in dispute"
            if row.disputed_minor
            else ""
        )
        lines.append(
            f"  {money_text(row.open_minor, row.currency)} open: "
            f"{_percent(row.overdue_percent)} overdue, "
            f"{_percent(row.long_overdue_percent)} over {summary.long_overdue_days} days; "
            f"DSO {dso}{disputed}"
        )
    levels = ", ".join(f"{level.customers} {level.level_name}" for level in summary.levels)
    lines.append(
        f"  {summary.customers_with_money_open:,} customers with money open; "
        f"{summary.worklist_customers:,} on the worklist"
        + (f", by escalation level: {levels}" if levels else "")
        + "."
    )
    return lines


def next_commands(summary: BookSummary) -> list[str]:
    """Commands worth trying next on the ledger just summed up (its date, and its most urgent
    customer where the worklist has one)."""
    as_of = summary.as_of
    customer = summary.most_urgent_customer or "CUSTOMER"
    year_start = as_of.replace(month=1, day=1)
    return [
        "Try next:",
        f"  arledger worklist --as-of {as_of}            # who to chase, most urgent first",
        f"  arledger explain {customer} --as-of {as_of}  # why it stands at its level",
        f"  arledger statement {customer} --from {year_start} --to {as_of}",
        f"  arledger ageing --as-of {as_of} --by customer",
        f"  arledger kpis --as-of {as_of} --months 12     # DSO, CEI, collection rate",
    ]


@app.command("summary")
def summary_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The date the book is summed up at (KPIs over the 3 months ending on it).",
            show_default=False,
        ),
    ],
) -> None:
    """Print the book at a glance: money open per currency with the shares overdue and over
    90 days, DSO, and the customers per escalation level on the worklist."""
    with _reported_errors():
        summary = _query_ledger().summary(as_of)
        out = _stdout()
        for line in summary_lines(summary):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
