"""The command line: its application, shared options and errors, ``arledger demo`` and ``import``.

The store is the one ``Ledger()`` picks from the environment (SQLite ``arledger.db`` in the
working directory unless ``ARLEDGER_STORE`` / ``ARLEDGER_DB`` say otherwise). Invariant: an error
arledger raises on purpose ends the command with a plain message on stderr and exit code 1 (bad
data or a refused command) or 2 (bad usage or configuration), never with a traceback.
"""

from __future__ import annotations

import calendar
import enum
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from eventsourcing.persistence import (
    InfrastructureFactoryError,
    IntegrityError,
    PersistenceError,
)
from rich.console import Console

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.formats import ageing_table, top_overdue_table
from arledger.adapters.cli.progress import LateProgressBar
from arledger.adapters.ingest.importer import (
    IMPORT_PROBLEMS_MAX,
    PRESETS,
    ColumnMapping,
    ImportKind,
    ImportResult,
    RejectsConflict,
    import_file,
    load_mapping,
    preset,
)
from arledger.adapters.persistence.bulk import progress_bar
from arledger.adapters.persistence.store import (
    describe_store,
    first_line,
    is_driver_error,
    store_env,
)
from arledger.adapters.synthetic.demo import (
    DEMO_AS_OF,
    DEMO_SEED_DEFAULT,
    SEED_MAX,
    record_book,
)
from arledger.domain.errors import (
    ArledgerError,
    ConfigurationError,
    InvalidDateError,
    RejectsPathError,
)
from arledger.domain.rules import require_date
from arledger.projections import ageing

EXIT_REFUSED: Final = 1
"""Bad data or a command the domain refused: nothing was recorded."""
EXIT_USAGE: Final = 2
"""Bad usage or configuration (the same code click uses for usage errors)."""

TOP_OVERDUE_DEFAULT: Final = 10
TABLE_WIDTH_UNATTENDED: Final = 160
"""Width of tables when stdout is not a terminal and COLUMNS does not say one (tables fit
whatever width they are printed in: ``formats.FittedTable``)."""

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_INSTANT: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?"
)


app = typer.Typer(
    name="arledger",
    help="arledger: an event-sourced accounts-receivable ledger.\n\n"
    "The store is SQLite arledger.db in the working directory, or the one ARLEDGER_STORE "
    "(sqlite|memory|postgres) and ARLEDGER_DB name.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Markdown rewraps docstring paragraphs to the terminal instead of keeping source lines.
    rich_markup_mode="markdown",
)


class OutputFormat(enum.Enum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def usage_error(message: str) -> NoReturn:
    """End the command with a usage error: one line on stderr, exit code 2.

    Used instead of ``typer.BadParameter``, which prints the usage and a framed box over several
    lines: a script reading stderr gets one line per problem, as for every other refusal.
    """
    typer.echo(f"error: {_printable(message)}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _printable(message: str) -> str:
    """``message`` with any lone surrogate it quotes spelled out, so that printing it cannot
    fail (an import's message lists one bad row per line: its lines are kept)."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


_CSV_RAW_OPTION: Final = typer.Option(
    "--csv-raw",
    help="Write CSV cells as they are. By default a cell beginning with = + - @, a tab or a "
    "carriage return (and not a plain number such as -12.00) gets an apostrophe before it, so "
    "that a spreadsheet shows it instead of evaluating it as a formula.",
)


def _check_csv_raw(csv_raw: bool, output_format: OutputFormat) -> None:
    if csv_raw and output_format is not OutputFormat.CSV:
        typer.echo("error: --csv-raw is for --format csv", err=True)
        raise typer.Exit(EXIT_USAGE)


def parse_iso_date(value: str | date) -> date:
    """A date written as ISO YYYY-MM-DD, inside the dates the ledger accepts (``DATE_MIN`` to
    ``DATE_MAX``); anything else is a usage error."""
    if isinstance(value, date):
        parsed = value
    else:
        text = value.strip()
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(text)
            parsed = date.fromisoformat(text)
        except ValueError:
            usage_error(f"{value!r} is not a date in ISO form YYYY-MM-DD")
    try:
        return require_date("date", parsed)
    except InvalidDateError as error:
        usage_error(error.message)


_ISO_MONTH: Final = re.compile(r"\d{4}-\d{2}")


def parse_period_start(value: str | date) -> date:
    """``parse_iso_date``, or a month YYYY-MM meaning its first day."""
    if isinstance(value, str) and _ISO_MONTH.fullmatch(value.strip()):
        return parse_iso_date(value.strip() + "-01")
    return parse_iso_date(value)


def parse_period_end(value: str | date) -> date:
    """``parse_iso_date``, or a month YYYY-MM meaning its last day."""
    if isinstance(value, str) and _ISO_MONTH.fullmatch(value.strip()):
        first = parse_iso_date(value.strip() + "-01")
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return parse_iso_date(value)


def parse_instant(value: str | datetime) -> datetime:
    """An instant written in ISO 8601 with its offset (``2026-01-01T09:30:00Z``,
    ``...+08:00``); one without an offset is refused, since it would name no instant."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        try:
            if not _ISO_INSTANT.fullmatch(text):
                raise ValueError(text)
            parsed = datetime.fromisoformat(text)
        except ValueError:
            usage_error(
                f"{value!r} is not an instant in ISO form with its offset, "
                "e.g. 2026-01-01T09:30:00Z or 2026-01-01T17:30:00+08:00"
            )
    if parsed.utcoffset() is None:
        usage_error(f"{value!r} has no UTC offset: add Z or +HH:MM")
    return parsed


def known_at_option(what: str) -> Any:
    """``--known-at INSTANT`` of a query command: ``what`` (e.g. "The table") as the ledger
    had recorded it by that instant; a bad or offset-less instant is a usage error."""
    return typer.Option(
        "--known-at",
        parser=parse_instant,
        metavar="INSTANT",
        help=f"{what} as the ledger had committed it by this instant (ISO 8601 with its "
        "offset, e.g. 2026-01-01T09:30:00Z): the log up to the last position committed by "
        "then (by event stamps where the store kept no commit instants).",
        show_default=False,
    )


def at_position_option(what: str) -> Any:
    """``--at-position N`` of a query command: ``what`` as the ledger held it at log position N
    (the ``as_of_log.position`` an earlier answer named); with ``--known-at``, or past the
    log's end, refused in one line."""
    return typer.Option(
        "--at-position",
        metavar="POSITION",
        help=f"{what} as the ledger held it at this log position (an earlier answer's "
        "as_of_log.position reproduces that answer exactly); not with --known-at.",
        show_default=False,
    )


def _utf8_directory(directory: Path) -> Path:
    """A folder for Parquet files: Arrow takes only paths that are UTF-8, and a name holding
    other bytes (decoded by Python as lone surrogates) is refused before anything is written."""
    try:
        str(directory).encode("utf-8")
    except UnicodeEncodeError:
        usage_error(f"the folder {str(directory)!r} is not a UTF-8 path, which Parquet needs")
    return directory


def _stdout() -> Console:
    """The console of the command's answer: the terminal's width, else the width COLUMNS says
    (rich reads it), else ``TABLE_WIDTH_UNATTENDED``."""
    console = Console(highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console = Console(highlight=False, width=TABLE_WIDTH_UNATTENDED)
    return console


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn arledger's own errors into a message on stderr and an exit code."""
    try:
        yield
    except ConfigurationError as error:
        typer.echo(f"error: {_printable(error.message)}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ArledgerError as error:
        typer.echo(f"error: {_printable(error.message)}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except IntegrityError:
        typer.echo(
            "error: another writer changed the same records at the same time; what was being "
            "saved was not recorded, run the command again",
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except (PersistenceError, InfrastructureFactoryError) as error:
        typer.echo(f"error: {_store_name()} cannot be used: {first_line(error)}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except OSError as error:
        # Files the command reads or writes (a folder that is a file, no permission, disk full).
        typer.echo(f"error: {first_line(error)}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except Exception as error:
        # The store failing after it was opened (a server restarted, a disk error), on a
        # connection of arledger's own: the driver's first line, not its traceback.
        if not is_driver_error(error):
            raise
        typer.echo(f"error: {_store_name()} failed: {first_line(error)}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


def _store_name() -> str:
    try:
        return describe_store(store_env(os.environ))
    except ConfigurationError:
        return "the store"


def _ledger() -> Ledger:
    """The ledger of the store the environment names; a catch-up of its query engine that
    lasts (the first query after a large import reads every event recorded since) draws a
    progress bar on stderr."""
    return Ledger(catch_up_progress=LateProgressBar(_stderr(), "Catching up with the log"))


def _query_ledger() -> Ledger:
    """The ledger for a portfolio query; on an empty Numba cache (the first query after an
    install or upgrade, no ``arledger warm-up``) a note on stderr says why it waits."""
    ledger = _ledger()
    if ledger.read_models != "replay":
        from arledger.adapters.read_models import warm_up

        if warm_up.cached() is False:
            _stderr().print(
                "note: compiling the query engine's kernels (first query after an install or "
                "upgrade, about half a minute); `arledger warm-up` does this once at install"
            )
    return ledger


# demo -----------------------------------------------------------------------------------------


@app.command()
def demo(
    seed: Annotated[
        int,
        typer.Option(
            min=0,
            max=SEED_MAX,
            help="Seed of the generator: the same seed always gives the same ledger.",
        ),
    ] = DEMO_SEED_DEFAULT,
    as_of: Annotated[
        date | None,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help=f"Date of the report; by default {DEMO_AS_OF}, the end of the generated year.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int, typer.Option(min=1, max=100, help="Customers listed per currency as most overdue.")
    ] = TOP_OVERDUE_DEFAULT,
) -> None:
    """Record a seeded demo book (200 customers, 2,000 invoices over 2024) and print a summary,
    its ageing and the commands to try next.

    The synthetic generator's ledger with its default behaviour profiles: invoices in CNY, USD
    and EUR, some with instalment schedules, paid on time, late, in part or written off,
    promises, disputes and collection actions. Running it again on the same store adds nothing.
    """
    from arledger.adapters.cli.summary import next_commands, summary_lines

    report_on = as_of or DEMO_AS_OF
    with _reported_errors():
        ledger = _ledger()
        status = _stderr().status("Recording the demo book...")
        with status:
            result = record_book(
                ledger,
                seed,
                progress=lambda done, total: status.update(
                    f"Recording the demo book: {done:,} of {total:,} invoices"
                ),
            )
        out = _stdout()
        where = ledger.store_description
        if result.already_recorded:
            out.print(f"The demo book (seed {seed}) is already recorded in {where}: nothing added.")
        else:
            out.print(
                f"Recorded the demo book (seed {seed}) in {where}: {result.customers:,} "
                f"customers, {result.invoices:,} invoices ({result.events_recorded:,} events)."
            )
        summary = ledger.summary(report_on)
        for line in summary_lines(summary):
            # Wrapped at words for the terminal, so that no line edge cuts through an amount.
            out.print(line, highlight=False, markup=False)
        report = ledger.ageing(report_on)  # the policy in force on report_on
        out.print(ageing_table(report))
        state = ledger.portfolio()
        out.print(
            top_overdue_table(
                ageing.top_overdue_customers(
                    state.ageing, report_on, limit=top, policy=report.policy
                )
            )
        )
        for line in next_commands(summary):
            out.print(line, highlight=False, markup=False, soft_wrap=True)


# import ---------------------------------------------------------------------------------------


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The CSV file (UTF-8, with a header)."
        ),
    ],
    kind: Annotated[
        ImportKind,
        typer.Option(help="What each row is: an invoice (optionally settled) or a payment."),
    ] = ImportKind.INVOICES,
    preset_name: Annotated[
        str | None,
        typer.Option(
            "--preset",
            metavar="NAME",
            help=f"A built-in column mapping: {', '.join(sorted(PRESETS))} (the IBM "
            "late-payment histories: one settled invoice per row).",
        ),
    ] = None,
    mapping_file: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help='A JSON column mapping: {"columns": {"customer_code": "Customer", '
            '"invoice_number": "Invoice", "amount": "Amount", "issued_on": "Date", ...}, '
            '"date_format": "%Y-%m-%d", "currency": "EUR"}.',
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            metavar="CODE",
            help="Currency of rows without a currency column (ISO 4217); by default the "
            "mapping's, else USD.",
            show_default=False,
        ),
    ] = None,
    rejects_to: Annotated[
        Path | None,
        typer.Option(
            "--rejects-to",
            metavar="FILE",
            help="Record the good rows and write each rejected row to this new CSV file (line, "
            "field, reason, then the row's cells) instead of recording nothing when a row is "
            "bad. The file is written even when no row is rejected. Never the store, the "
            "imported file, a directory or an existing file.",
            show_default=False,
        ),
    ] = None,
    overwrite_rejects: Annotated[
        bool,
        typer.Option(
            "--overwrite-rejects",
            help="Let --rejects-to replace a rejects file an earlier import wrote (one whose "
            "first line begins reject_line,reject_field,reject_reason); no other file.",
        ),
    ] = False,
    csv_raw: Annotated[
        bool,
        typer.Option(
            "--csv-raw",
            help="Write the rejects file's cells as they are, not neutralised for spreadsheets "
            "(see ageing --help).",
        ),
    ] = False,
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="With an encrypted store (CIPHER_TOPIC, CIPHER_KEY), let --rejects-to write "
            "the rejected rows in plaintext (refused without it).",
        ),
    ] = False,
) -> None:
    """Import invoices or payments from a CSV file, all rows or none.

    Invoice fields: customer_code, invoice_number, amount, issued_on, and optionally due_on,
    terms_days, settled_on (recorded as a payment `SETTLE-<invoice number>`), paid_amount,
    currency, customer_name, collection_owner, contract_reference. Payment fields:
    bank_reference, customer_code, amount, value_on, and optionally invoice_number (else the
    payment is allocated by the payer's allocation rule in force on its value date: oldest due
    invoices first unless another was adopted; under explicit only it waits unapplied),
    currency, customer_name, collection_owner. New customers are opened from the file;
    importing a file again changes nothing. Bad rows (a cell that cannot be read, a row with
    more or fewer cells than the header) are listed with their line numbers and nothing is
    recorded; with --rejects-to the good rows are recorded, the bad ones (and rows that depend
    on them) are written to that new file, and the exit code is 0.
    """
    if (preset_name is None) == (mapping_file is None):
        usage_error("give exactly one of --preset NAME or --mapping FILE")
    with _reported_errors():
        mapping: ColumnMapping = (
            preset(preset_name) if preset_name is not None else load_mapping(_given(mapping_file))
        )
        if currency is not None:
            mapping = mapping.with_currency(currency.strip().upper())
        ledger = _ledger()
        # A refused file raises ImportRowError: its message lists every bad row by line.
        with progress_bar(_stderr(), f"Importing {file}") as progress:
            try:
                result = import_file(
                    ledger,
                    file,
                    mapping,
                    kind=kind,
                    rejects_to=rejects_to,
                    rejects_overwrite=overwrite_rejects,
                    rejects_raw=csv_raw,
                    rejects_plaintext=plaintext,
                    progress=progress,
                )
            except RejectsPathError as error:
                hint = (
                    " (--overwrite-rejects replaces a rejects file an earlier import wrote)"
                    if error.conflict is RejectsConflict.EXISTS
                    else ""
                )
                typer.echo(f"error: {error.message}{hint}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
        _stdout().print(_import_summary(file, ledger.store_description, result))
        if rejects_to is not None and result.rejected:
            _report_rejects(rejects_to, result)


def _given(path: Path | None) -> Path:
    assert path is not None
    return path


def _import_summary(file: Path, where: str, result: ImportResult) -> str:
    return "\n".join(
        [
            _import_summary_line(file, where, result),
            *(
                f'Not imported: column {left.column} ("{left.value}" on {left.rows} of '
                f"{result.rows} rows): {left.reason}."
                for left in result.not_imported
            ),
        ]
    )


def _import_summary_line(file: Path, where: str, result: ImportResult) -> str:
    if result.already_recorded:
        return f"{file} is already recorded in {where}: nothing changed ({result.rows} rows)."
    kept = result.rows - result.rows_rejected
    if result.events_recorded == 0 and kept:
        return (
            f"The {kept} good rows of {file} are already recorded in {where}: nothing changed "
            f"({result.rows_rejected} of {result.rows} rows rejected)."
        )
    rows = (
        f"{kept} of {result.rows} rows ({result.rows_rejected} rejected)"
        if result.rejected
        else f"{result.rows} rows"
    )
    return (
        f"Imported {rows} of {result.kind.value} from {file} into {where}: "
        f"{result.customers_opened} customers opened, {result.invoices_issued} invoices issued, "
        f"{result.payments_received} payments received ({result.events_recorded} events)."
    )


def _report_rejects(rejects_to: Path, result: ImportResult) -> None:
    """List the rejected rows on stderr, as many as an error report shows."""
    typer.echo(
        f"warning: {result.rows_rejected} row(s) rejected and written to {rejects_to}:", err=True
    )
    shown = result.rejected[:IMPORT_PROBLEMS_MAX]
    for problem in shown:
        typer.echo(f"  {problem}", err=True)
    if result.rows_rejected > len(shown):
        typer.echo(f"  ... and {result.rows_rejected - len(shown)} more", err=True)


def main() -> None:
    """Entry point of the ``arledger`` script and of ``python -m arledger``."""
    app()
