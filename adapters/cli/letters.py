"""``arledger letter``: a balance confirmation (欠款征询函), a demand letter (催款函) or a
statement of account (对账单) written as PDF or HTML, and recorded as sent.

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own like the statement. Invariant: as every command, an error arledger raises on
purpose is one line on stderr and exit code 1 (refused) or 2 (bad usage: a path, template or
option), never a traceback; a refused letter leaves no file and no record.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from arledger.adapters.cli.app import _ledger, _reported_errors, _stdout, app, parse_iso_date
from arledger.adapters.documents.render import Language, grouped
from arledger.projections.letters import DEMAND_PAY_WITHIN_DAYS, LetterKind

TEMPLATE_DIR_ENV = "ARLEDGER_LETTER_TEMPLATES"
"""The environment variable naming a company's template folder when --template-dir is not
given."""


_NAMES = {
    LetterKind.CONFIRMATION: "balance confirmation",
    LetterKind.DEMAND: "demand letter",
    LetterKind.STATEMENT: "statement of account",
}


def _on(help_text: str, *names: str) -> Any:  # typer.Option is typed Any
    return typer.Option(
        *names, parser=parse_iso_date, metavar="YYYY-MM-DD", help=help_text, show_default=False
    )


@app.command("letter")
def letter_command(
    kind: Annotated[
        LetterKind,
        typer.Argument(
            help="confirmation (欠款征询函, to be stamped and returned), demand (催款函) or "
            "statement (对账单).",
            show_default=False,
        ),
    ],
    customer: Annotated[str, typer.Argument(help="The customer code.", show_default=False)],
    as_of: Annotated[date, _on("The balance date: the figures as of the end of that day.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="The file to write: FILE.pdf or FILE.html.",
            show_default=False,
        ),
    ],
    language: Annotated[
        Language, typer.Option("--language", help="English or Chinese (简体中文).")
    ] = Language.EN,
    template_dir: Annotated[
        Path | None,
        typer.Option(
            "--template-dir",
            envvar=TEMPLATE_DIR_ENV,
            help="A folder of your own templates ({kind}.{language}.html, base.html, "
            "letterhead.html, tables.html); those it lacks come from arledger's.",
            show_default=False,
        ),
    ] = None,
    sender: Annotated[
        str, typer.Option("--sender", help="Your company's name, for the letterhead.")
    ] = "",
    from_on: Annotated[
        date | None, _on("First day of the statement (default: the account's opening).", "--from")
    ] = None,
    sent_on: Annotated[
        date | None, _on("The letter's date, recorded as the action's (default: --as-of).")
    ] = None,
    pay_by: Annotated[
        date | None,
        _on(f"A demand letter's deadline (default: {DEMAND_PAY_WITHIN_DAYS} days after its date)."),
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option(
            help="Who sends it (default: the customer's collection owner).", show_default=False
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    plaintext: Annotated[
        bool, typer.Option(help="Write the letter even if the store is encrypted.")
    ] = False,
) -> None:
    """Write a letter to a customer with the ledger's figures, and record it as sent.

    The statement of account from --from to --as-of (lines, closing balance, its ageing),
    the open invoices, and for a demand letter the overdue total to pay by --pay-by. The file
    is written first, then a collection action naming the letter is recorded (a balance
    confirmation also as such, under the letter's number). One letter of a kind per customer
    and day: running it again writes the file and records nothing twice.
    """
    with _reported_errors():
        sent = _ledger().send_letter(
            kind,
            customer,
            as_of,
            out,
            language=language,
            template_dir=template_dir,
            sender=sender,
            from_on=from_on,
            sent_on=sent_on,
            pay_by_on=pay_by,
            collector=collector,
            overwrite=overwrite,
            plaintext=plaintext,
        )
    letter = sent.letter
    currency = letter.currency
    figure = (
        f"overdue {grouped(letter.overdue_minor, currency)} {currency} to pay by {letter.pay_by_on}"
        if letter.kind is LetterKind.DEMAND
        else f"balance {grouped(letter.balance_minor, currency)} {currency} on {letter.as_of}"
    )
    if sent.recorded:
        record = f"recorded as sent on {letter.dated_on}"
    else:
        record = (
            f"already recorded as sent on {letter.dated_on}: nothing recorded again "
            "(one letter of a kind per customer and day)"
        )
    _stdout().print(
        f"Wrote {sent.path} ({sent.output.value.upper()}, {sent.size_bytes:,} bytes): "
        f"{_NAMES[kind]} {letter.reference} to {letter.customer_code}, {figure}; {record}.",
        soft_wrap=True,
    )
