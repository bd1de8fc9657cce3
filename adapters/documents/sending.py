"""Sending a letter: the file written in full, then the letter recorded as a collection action.

``Ledger.send_letter`` renders the letter (``render``), writes it aside in the output's folder
(``write_aside``), records the commands of ``letter_commands`` under the idempotency key of
``idempotency_key`` (one letter of a kind per customer and day), and only then renames the file
into place; a refused record removes the file written aside. So a letter is recorded only once
its document was written in full, and a refusal leaves neither a record nor a file.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import attrs

from arledger.adapters.documents.render import DocumentFormat, Language, document_format, grouped
from arledger.domain import commands as c
from arledger.domain.errors import LetterOutputError
from arledger.domain.events import ActionChannel, Event
from arledger.projections.letters import Letter, LetterKind

CHANNELS = {
    LetterKind.CONFIRMATION: ActionChannel.FINANCE_LETTER,
    LetterKind.DEMAND: ActionChannel.DEMAND_LETTER,
    LetterKind.STATEMENT: ActionChannel.FINANCE_LETTER,
}
"""The collection tool each letter is: a demand letter (催款函) is the legal level's tool; a
balance confirmation and a statement are finance's letters (财务催款信)."""


@attrs.frozen(kw_only=True)
class LetterSent:
    """A letter written to ``path`` and recorded as sent (``recorded`` False: the same letter
    was already recorded that day, and nothing was recorded again; the file was written)."""

    letter: Letter
    language: Language
    output: DocumentFormat
    path: str
    size_bytes: int
    recorded: bool
    events: tuple[Event, ...]
    """The collection action (and, for a balance confirmation, its ``BalanceConfirmationSent``)
    recorded, or those of the first recording when ``recorded`` is False."""


def idempotency_key(letter: Letter) -> str:
    """One letter of a kind per customer and day: a re-run records nothing twice."""
    return f"letter:{letter.kind.value}:{letter.customer_code}:{letter.dated_on.isoformat()}"


def letter_commands(letter: Letter, *, collector: str) -> list[c.Command]:
    """The commands that record the letter as sent: a collection action naming the letter's
    kind, reference and figures (and, for a demand, the follow-up the day after the date it
    asks payment by); a balance confirmation is also recorded as such, under the letter's
    reference, so that the customer's stamped reply can be acknowledged against it."""
    amount = f"{grouped(letter.balance_minor, letter.currency)} {letter.currency}"
    overdue = f"{grouped(letter.overdue_minor, letter.currency)} {letter.currency}"
    next_step = ""
    next_step_on = None
    if letter.kind is LetterKind.CONFIRMATION:
        outcome = (
            f"balance confirmation letter {letter.reference} sent: balance {amount} on "
            f"{letter.as_of}, statement from {letter.statement.from_on}, to be stamped and "
            "returned"
        )
    elif letter.kind is LetterKind.DEMAND:
        assert letter.pay_by_on is not None
        outcome = (
            f"demand letter {letter.reference} sent: {overdue} overdue on {letter.as_of} "
            f"(balance {amount}), to be paid by {letter.pay_by_on}"
        )
        next_step = f"check the payment demanded by letter {letter.reference}"
        next_step_on = letter.pay_by_on + timedelta(days=1)
    else:
        outcome = (
            f"statement of account {letter.reference} sent: {letter.statement.from_on} to "
            f"{letter.as_of}, balance {amount}, overdue {overdue}"
        )
    commands: list[c.Command] = []
    if letter.kind is LetterKind.CONFIRMATION:
        commands.append(
            c.SendBalanceConfirmation(
                customer_code=letter.customer_code,
                confirmation_reference=letter.reference,
                balance_as_of=letter.as_of,
                sent_on=letter.dated_on,
                statement_from_on=letter.statement.from_on,
            )
        )
    commands.append(
        c.RecordAction(
            customer_code=letter.customer_code,
            channel=CHANNELS[letter.kind],
            taken_on=letter.dated_on,
            collector=collector,
            contact=letter.contact or letter.customer_name,
            outcome=outcome,
            next_step=next_step,
            next_step_on=next_step_on,
        )
    )
    return commands


def check_output(path: Path, *, overwrite: bool) -> DocumentFormat:
    """The format of the letter's file, refusing a path it cannot be written to.

    Raises:
        LetterOutputError: another suffix, a missing folder, a directory, or a file that
            exists when ``overwrite`` is False.
    """
    output = document_format(path)
    if not path.parent.is_dir():
        raise LetterOutputError(
            f"the folder of {str(path)!r} does not exist: nothing written or recorded",
            path=str(path),
            conflict="missing folder",
        )
    if path.is_dir():
        raise LetterOutputError(
            f"{str(path)!r} is a folder: nothing written or recorded",
            path=str(path),
            conflict="directory",
        )
    if path.exists() and not overwrite:
        raise LetterOutputError(
            f"{str(path)!r} exists: ask to overwrite it (--overwrite); nothing written or recorded",
            path=str(path),
            conflict="exists",
        )
    return output


def write_aside(path: Path, content: bytes) -> Path:
    """Write ``content`` in full to a new file beside ``path`` (flushed to disk); the caller
    renames it into place or removes it."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    # mkstemp creates the file readable and writable by its owner only (0600), which it keeps:
    # a letter holds a customer's figures, as a rejects file does.
    return Path(name)
