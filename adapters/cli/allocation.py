"""``arledger allocation-rule``: adopt or show a customer's allocation rule (issue 13, item 3).

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own like the statement. Invariant: an error arledger raises on purpose is one line
on stderr and exit code 1 (refused) or 2 (bad usage), never a traceback, and a refused adoption
records nothing.
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import date, datetime
from typing import Annotated

import typer

from arledger.adapters.cli.app import (
    _ledger,
    _reported_errors,
    _stdout,
    app,
    at_position_option,
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import Column, FittedTable, Kind, words
from arledger.domain.customer import CustomerAccount
from arledger.domain.events import AllocationRule

allocation_app = typer.Typer(
    help="How automatic allocation spreads a customer's payments: adopt a rule, show them.",
    no_args_is_help=True,
)
app.add_typer(allocation_app, name="allocation-rule")


class ShowFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"


_CUSTOMER = typer.Option("--customer", help="The customer's code.", show_default=False)


@allocation_app.command("adopt")
def adopt_command(
    customer: Annotated[str, _CUSTOMER],
    rule: Annotated[AllocationRule, typer.Option(help="The rule.", show_default=False)],
    effective_on: Annotated[
        date,
        typer.Option(
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Payments with a value date from this day follow the rule.",
            show_default=False,
        ),
    ],
    approver: Annotated[str, typer.Option(help="Who approved the rule.", show_default=False)],
    reason: Annotated[str, typer.Option(help="Why.", show_default=False)],
) -> None:
    """Adopt the rule automatic allocation follows for a customer's payments from a date
    (oldest due first, oldest issued first, proportional, or explicit only)."""
    with _reported_errors():
        ledger = _ledger()
        ledger.adopt_allocation_rule(
            customer_code=customer,
            rule=rule,
            effective_on=effective_on,
            approver=approver,
            reason=reason,
        )
        account = ledger.customer(customer)
    _print_rules(account, effective_on)


@allocation_app.command("show")
def show_command(
    customer: Annotated[str, _CUSTOMER],
    as_of: Annotated[
        date | None,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Name the rule in force on this value date (default: the latest adopted).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        ShowFormat, typer.Option("--format", help="A table for people, or JSON.")
    ] = ShowFormat.TABLE,
    known_at: Annotated[datetime | None, known_at_option("The rules")] = None,
    at_position: Annotated[int | None, at_position_option("The rules")] = None,
) -> None:
    """Print a customer's allocation rules with their effective dates, and the one in force."""
    with _reported_errors():
        account = _ledger().customer(customer, known_at=known_at, at_position=at_position)
    if output_format is ShowFormat.JSON:
        sys.stdout.write(json.dumps(rules_json(account, as_of), indent=2) + "\n")
    else:
        _print_rules(account, as_of)


def _in_force(account: CustomerAccount, as_of: date | None) -> tuple[AllocationRule, date | None]:
    if as_of is None:
        if not account.allocation_rules:
            return AllocationRule.OLDEST_DUE_FIRST, None
        effective_on, rule = account.allocation_rules[-1]
        return rule, effective_on
    return account.allocation_rule_on(as_of)


def rules_json(account: CustomerAccount, as_of: date | None) -> dict[str, object]:
    """The adopted rules and the one in force (on ``as_of``, else the latest), as JSON data."""
    rule, effective_on = _in_force(account, as_of)
    return {
        "customer_code": account.customer_code,
        "as_of": None if as_of is None else as_of.isoformat(),
        "rule": rule.value,
        "effective_on": None if effective_on is None else effective_on.isoformat(),
        "adopted": [
            {"effective_on": on.isoformat(), "rule": adopted.value}
            for on, adopted in account.allocation_rules
        ],
    }


def _print_rules(account: CustomerAccount, as_of: date | None) -> None:
    rule, effective_on = _in_force(account, as_of)
    table = FittedTable(
        Column("Effective on", Kind.CODE, key=True),
        Column("Rule"),
        title=f"Allocation rules of {account.customer_code}",
    )
    for on, adopted in account.allocation_rules:
        table.add_row(on.isoformat(), words(adopted.value))
    console = _stdout()
    console.print(table)
    since = "by default (none adopted)" if effective_on is None else f"since {effective_on}"
    when = "" if as_of is None else f" on {as_of}"
    console.print(f"In force{when}: {rule.value} {since}")
