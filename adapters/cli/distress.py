"""``arledger case``: what the collector finds out about a customer, recorded: the diagnosed
cause of late payment, a bankruptcy filed, fraud suspected.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package). Each command
records one event through the ``Ledger`` and then prints the customer's explanation on the
date recorded, so that the effect the policy gives it (a level adjusted, supply held, the
next action) is seen at once. Invariant: an error arledger raises on purpose is one line on
stderr and exit code 1 (refused) or 2 (bad usage), never a traceback, and a refused command
records nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from arledger.adapters.cli.app import _ledger, _reported_errors, _stdout, app, parse_iso_date
from arledger.domain.events import DelinquencyType

case_app = typer.Typer(
    help="The collection case: diagnose the cause of late payment (拖欠类型), record a "
    "bankruptcy filed or fraud suspected (恶意欺诈).",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")

_CUSTOMER = typer.Option("--customer", help="The customer's code.", show_default=False)


def _on(help_text: str) -> Any:  # typer.Option is typed Any
    return typer.Option(
        parser=parse_iso_date, metavar="YYYY-MM-DD", help=help_text, show_default=False
    )


@case_app.command("diagnose")
def diagnose_command(
    customer: Annotated[str, _CUSTOMER],
    delinquency_type: Annotated[
        DelinquencyType,
        typer.Option("--type", help="The cause found (拖欠类型).", show_default=False),
    ],
    diagnosed_on: Annotated[date, _on("The day the cause was found.")],
    note: Annotated[str, typer.Option(help="What was found.", show_default=False)],
) -> None:
    """Record the diagnosed cause of a customer's late payment, then explain its level."""
    with _reported_errors():
        ledger = _ledger()
        ledger.diagnose(
            customer_code=customer,
            delinquency_type=delinquency_type,
            diagnosed_on=diagnosed_on,
            note=note,
        )
        text = ledger.explain(customer, diagnosed_on).text
    _stdout().print(text, markup=False)


@case_app.command("bankruptcy")
def bankruptcy_command(
    customer: Annotated[str, _CUSTOMER],
    filed_on: Annotated[date, _on("The day the bankruptcy was filed.")],
    reason: Annotated[
        str, typer.Option(help="The court and case, or the source.", show_default=False)
    ],
) -> None:
    """Record that a customer's bankruptcy was filed, then explain its level."""
    with _reported_errors():
        ledger = _ledger()
        ledger.file_bankruptcy(customer_code=customer, filed_on=filed_on, reason=reason)
        text = ledger.explain(customer, filed_on).text
    _stdout().print(text, markup=False)


@case_app.command("fraud")
def fraud_command(
    customer: Annotated[str, _CUSTOMER],
    suspected_on: Annotated[date, _on("The day fraud was suspected.")],
    reason: Annotated[str, typer.Option(help="What raised the suspicion.", show_default=False)],
) -> None:
    """Record that fraud is suspected of a customer, then explain its level."""
    with _reported_errors():
        ledger = _ledger()
        ledger.suspect_fraud(customer_code=customer, suspected_on=suspected_on, reason=reason)
        text = ledger.explain(customer, suspected_on).text
    _stdout().print(text, markup=False)
