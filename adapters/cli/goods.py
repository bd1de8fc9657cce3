"""``arledger goods``: settlements in goods [以物抵债], proposed, approved, settled, shown.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own like the statement. Amounts are typed in major units of the customer's
account currency. Invariant: an error arledger raises on purpose is one line on stderr and exit
code 1 (refused) or 2 (bad usage), never a traceback, and a refused command records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

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
from arledger.adapters.cli.formats import Column, FittedTable, Kind, money_cell, words
from arledger.domain.errors import InvalidCommandError
from arledger.domain.goods_in_lieu import GoodsSettlement
from arledger.domain.money import Money

goods_app = typer.Typer(
    help="Settlements in goods (以物抵债): propose, approve, settle, show.",
    no_args_is_help=True,
)
app.add_typer(goods_app, name="goods")

_CUSTOMER = typer.Option("--customer", help="The customer's code.", show_default=False)
_REFERENCE = typer.Option("--reference", help="The settlement's reference.", show_default=False)


def _on(help_text: str) -> Any:  # typer.Option is typed Any
    return typer.Option(
        parser=parse_iso_date, metavar="YYYY-MM-DD", help=help_text, show_default=False
    )


@goods_app.command("propose")
def propose_command(
    customer: Annotated[str, _CUSTOMER],
    reference: Annotated[str, _REFERENCE],
    goods: Annotated[str, typer.Option(help="What the goods are.", show_default=False)],
    quantity: Annotated[int, typer.Option(help="How many units.", show_default=False)],
    unit: Annotated[str, typer.Option(help="The unit (piece, tonne, ...).", show_default=False)],
    appraised: Annotated[
        str, typer.Option(help="Appraised value, major units (100000.00).", show_default=False)
    ],
    appraiser: Annotated[str, typer.Option(help="Who appraised them.", show_default=False)],
    proposed_on: Annotated[date, _on("Date of the proposal (its policy's haircut applies).")],
) -> None:
    """Record goods offered in lieu of money, valued with the policy's haircut."""
    with _reported_errors():
        ledger = _ledger()
        currency = ledger.customer(customer).currency
        ledger.propose_goods_in_lieu(
            customer_code=customer,
            settlement_reference=reference,
            goods=goods,
            quantity=quantity,
            unit=unit,
            appraised=Money.parse(appraised, currency),
            appraiser=appraiser,
            proposed_on=proposed_on,
        )
        _print_settlements(ledger.goods_settlements(customer), only=reference)


@goods_app.command("approve")
def approve_command(
    customer: Annotated[str, _CUSTOMER],
    reference: Annotated[str, _REFERENCE],
    approver: Annotated[str, typer.Option(help="Who approves (not the appraiser).")],
    reason: Annotated[str, typer.Option(help="Why the goods are accepted.")],
    approved_on: Annotated[date, _on("Date of the approval.")],
) -> None:
    """Approve a proposed settlement in goods at its valued amount."""
    with _reported_errors():
        ledger = _ledger()
        ledger.approve_goods_in_lieu(
            customer_code=customer,
            settlement_reference=reference,
            approver=approver,
            reason=reason,
            approved_on=approved_on,
        )
        _print_settlements(ledger.goods_settlements(customer), only=reference)


@goods_app.command("settle")
def settle_command(
    customer: Annotated[str, _CUSTOMER],
    reference: Annotated[str, _REFERENCE],
    invoice: Annotated[
        list[str],
        typer.Option(
            "--invoice",
            help="NUMBER=AMOUNT (major units), once per invoice; the amounts add up to the "
            "approved value.",
            show_default=False,
        ),
    ],
    settled_on: Annotated[date, _on("Date the goods were received.")],
) -> None:
    """Settle invoices with an approved settlement in goods, at its approved value."""
    with _reported_errors():
        ledger = _ledger()
        currency = ledger.customer(customer).currency
        allocations: dict[str, Money] = {}
        for item in invoice:
            number, separator, amount = item.partition("=")
            if not separator:
                raise InvalidCommandError(
                    f"--invoice takes NUMBER=AMOUNT, got {item!r}", field="invoice"
                )
            allocations[number] = Money.parse(amount, currency)
        ledger.settle_goods_in_lieu(
            customer_code=customer,
            settlement_reference=reference,
            allocations=allocations,
            settled_on=settled_on,
        )
        _print_settlements(ledger.goods_settlements(customer), only=reference)


@goods_app.command("show")
def show_command(
    customer: Annotated[str, _CUSTOMER],
    known_at: Annotated[datetime | None, known_at_option("The settlements")] = None,
    at_position: Annotated[int | None, at_position_option("The settlements")] = None,
) -> None:
    """Print the customer's settlements in goods: appraised, haircut, valued, status."""
    with _reported_errors():
        settlements = _ledger().goods_settlements(
            customer, known_at=known_at, at_position=at_position
        )
    _print_settlements(settlements)


def _print_settlements(settlements: Sequence[GoodsSettlement], only: str | None = None) -> None:
    table = FittedTable(
        Column("Reference", Kind.CODE, key=True),
        Column("Goods", key=True),
        Column("Quantity", Kind.NUMBER),
        Column("Appraised", Kind.AMOUNT),
        Column("Haircut", Kind.NUMBER),
        Column("Valued", Kind.AMOUNT),
        Column("Status"),
        Column("Appraiser", drop=2),
        Column("Approver", drop=1),
        title="Settlements in goods",
    )
    for settlement in settlements:
        if only is not None and settlement.settlement_reference != only:
            continue
        table.add_row(
            settlement.settlement_reference,
            settlement.goods,
            f"{settlement.quantity:,} {settlement.unit}",
            money_cell(settlement.appraised_minor, settlement.currency),
            f"{Decimal(settlement.haircut_bps).scaleb(-2).normalize():f}%",
            money_cell(settlement.valued_minor, settlement.currency),
            words(settlement.status.value),
            settlement.appraiser,
            settlement.approver or "",
        )
    _stdout().print(table)
