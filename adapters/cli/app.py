"""The command line: ``arledger demo``, ``arledger import`` and ``arledger ageing``.

The store is the one ``Ledger()`` picks from the environment (SQLite ``arledger.db`` in the
working directory unless ``ARLEDGER_STORE`` / ``ARLEDGER_DB`` say otherwise). Invariant: an error
arledger raises on purpose ends the command with a plain message on stderr and exit code 1 (bad
data or a refused command) or 2 (bad usage or configuration), never with a traceback.
"""

from __future__ import annotations

import calendar
import enum
import io
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from eventsourcing.persistence import (
    InfrastructureFactoryError,
    IntegrityError,
    PersistenceError,
)
from rich.console import Console
from rich.table import Table

from arledger.adapters import csv_output
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.data_output import (
    JsonData,
    amount_text,
    amounts_text,
    record_of,
    records_of,
    to_data,
)
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
from arledger.adapters.persistence.bulk import Progress, progress_bar
from arledger.adapters.persistence.store import (
    describe_store,
    first_line,
    is_driver_error,
    store_env,
)
from arledger.adapters.read_models import columnar
from arledger.adapters.synthetic import generate
from arledger.adapters.synthetic.demo import (
    DEMO_AS_OF,
    DEMO_SEED_DEFAULT,
    SEED_MAX,
    generate_demo,
    record_demo,
)
from arledger.domain.errors import (
    ArledgerError,
    ConfigurationError,
    InvalidDateError,
    RejectsPathError,
)
from arledger.domain.events import Event
from arledger.domain.money import format_minor
from arledger.domain.rules import require_date
from arledger.projections import ageing, escalation, kpis, portfolio
from arledger.projections.results import Worklist

EXIT_REFUSED: Final = 1
"""Bad data or a command the domain refused: nothing was recorded."""
EXIT_USAGE: Final = 2
"""Bad usage or configuration (the same code click uses for usage errors)."""

TOP_OVERDUE_DEFAULT: Final = 10
TABLE_WIDTH_UNATTENDED: Final = 160
"""Width of tables when stdout is not a terminal, so that piped tables do not wrap numbers."""

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


def _instant_text(known_at: datetime | None) -> str | None:
    return None if known_at is None else known_at.isoformat()


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
    console = Console(highlight=False)
    if not console.is_terminal:
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
    return Ledger()


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
    """Record a seeded demo ledger (200 customers, 5,000 invoices) and print its ageing.

    Invoices in CNY, USD and EUR, some with instalment schedules, paid on time, late, in part
    or not at all. Running it again on the same store adds nothing.
    """
    report_on = as_of or DEMO_AS_OF
    with _reported_errors():
        ledger = _ledger()
        plan = generate_demo(seed)
        status = _stderr().status("Recording the demo ledger...")
        with status:
            result = record_demo(
                ledger,
                plan,
                progress=lambda done, total: status.update(
                    f"Recording the demo ledger: {done} of {total} commands"
                ),
            )
        out = _stdout()
        where = ledger.store_description
        if result.already_recorded:
            out.print(
                f"The demo ledger (seed {seed}) is already recorded in {where}: nothing added."
            )
        else:
            out.print(
                f"Recorded the demo ledger (seed {seed}) in {where}: {result.customers} customers, "
                f"{result.invoices} invoices, {result.payments} payments "
                f"({result.events_recorded} events)."
            )
        state = ledger.portfolio()
        report = portfolio.ageing_report(state, report_on)  # the policy in force on report_on
        out.print(_ageing_table(report))
        out.print(
            _top_overdue_table(
                ageing.top_overdue_customers(
                    state.ageing, report_on, limit=top, policy=report.policy
                )
            )
        )


def _top_overdue_table(rows: Sequence[ageing.AgeingRow]) -> Table:
    table = Table(title="Customers with the most overdue money", title_justify="left")
    table.add_column("Currency")
    table.add_column("Customer")
    table.add_column("Name")
    table.add_column("Overdue", justify="right", no_wrap=True)
    table.add_column("Open", justify="right", no_wrap=True)
    table.add_column("Days past due (max)", justify="right")
    for row in rows:
        table.add_row(
            row.currency,
            row.key,
            row.label,
            format_minor(row.overdue_minor, row.currency),
            format_minor(row.open_minor, row.currency),
            str(row.days_past_due_max),
        )
    return table


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


# ageing ---------------------------------------------------------------------------------------


@app.command("ageing")
def ageing_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Age open invoices as of the end of this day.",
        ),
    ],
    by: Annotated[
        ageing.AgeingGrouping,
        typer.Option("--by", help="One row per portfolio, currency, owner, customer or invoice."),
    ] = ageing.AgeingGrouping.PORTFOLIO,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    edges: Annotated[
        str | None,
        typer.Option(
            "--edges",
            metavar="DAYS,DAYS,...",
            help="Bucket edges for this view only, e.g. 30,60,90 (increasing whole days); by "
            "default the policy's.",
            show_default=False,
        ),
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The table")] = None,
    at_position: Annotated[int | None, at_position_option("The table")] = None,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
    reporting_currency: Annotated[
        str | None,
        typer.Option(
            "--reporting-currency",
            metavar="CODE",
            help="Convert into this currency at the rates in force on the date (recorded with "
            "`arledger rates record`), naming each rate used; table or JSON.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the ageing table: open receivables by days past due, per currency.

    Buckets are those of the escalation policy version in force on the as-of date (by default
    current, 1-30, 31-60, 61-90, 91-120 and over 120 days past due; due on the as-of date counts
    as current), or the --edges given. Amounts are never added across currencies.
    """
    _check_csv_raw(csv_raw, output_format)
    if reporting_currency is not None:
        if at_position is not None:
            usage_error(
                "--reporting-currency does not take --at-position (its rates are cut by --known-at)"
            )
        _ageing_in(as_of, by, output_format, edges, known_at, reporting_currency)
        return
    with _reported_errors():
        edges_days = None if edges is None else parse_edges(edges)
        report = _query_ledger().ageing(
            as_of,
            grouping=by,
            edges_days=edges_days,
            known_at=known_at,
            at_position=at_position,
        )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(ageing_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(ageing_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(_ageing_table(report))


def _reporting_format(output_format: OutputFormat) -> None:
    if output_format is OutputFormat.CSV:
        usage_error("--reporting-currency gives a table or JSON, not CSV")


def _ageing_in(
    as_of: date,
    by: ageing.AgeingGrouping,
    output_format: OutputFormat,
    edges: str | None,
    known_at: datetime | None,
    reporting_currency: str,
) -> None:
    from arledger.adapters.cli import rates

    _reporting_format(output_format)
    if edges is not None:
        usage_error("--edges is not available with --reporting-currency")
    with _reported_errors():
        report = _query_ledger().ageing_in(
            reporting_currency, as_of, grouping=by, known_at=known_at
        )
    if output_format is OutputFormat.JSON:
        data = rates.ageing_in_json(report, ageing_json(report.per_currency, known_at=known_at))
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _stdout().print(rates.ageing_in_table(report))


def parse_edges(text: str) -> tuple[int, ...]:
    """``--edges``: comma-separated, strictly increasing, positive whole days."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isascii() and part.lstrip("-").isdigit() for part in parts):
        raise ConfigurationError(
            f"--edges {text!r}: bucket edges must be whole numbers of days separated by "
            "commas, e.g. 30,60,90",
            edges=text,
        )
    days = tuple(int(part) for part in parts)
    if any(day <= 0 for day in days):
        raise ConfigurationError(
            f"--edges {text!r}: bucket edges must be positive numbers of days", edges=text
        )
    if any(later <= earlier for earlier, later in itertools.pairwise(days)):
        raise ConfigurationError(
            f"--edges {text!r}: bucket edges must be strictly increasing", edges=text
        )
    return days


def ageing_csv(report: ageing.AgeingReport, *, raw: bool = False) -> str:
    """One CSV line per row: as-of date, grouping, key, label, currency, buckets, open, the part
    of it in open dispute, and the largest days past due. Cells are neutralised for
    spreadsheets unless ``raw`` (``csv_output``)."""
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(
        [
            "as_of",
            "grouping",
            "key",
            "label",
            "currency",
            *report.bucket_labels,
            "open",
            "disputed",
            "days_past_due_max",
        ]
    )
    data = record_of(to_data(report))
    for row in records_of(data["rows"]):
        writer.writerow(
            [
                data["as_of"],
                data["grouping"],
                row["key"],
                row["label"],
                row["currency"],
                *amounts_text(row, "buckets_minor"),
                amount_text(row, "open_minor"),
                amount_text(row, "disputed_minor"),
                row["days_past_due_max"],
            ]
        )
    return buffer.getvalue()


def ageing_json(
    report: ageing.AgeingReport, *, known_at: datetime | None = None
) -> dict[str, JsonData]:
    """The report as JSON-ready data (``to_data``); amounts are exact decimal strings.
    ``known_at``: the cut it was asked at (null: everything recorded), so that the file says
    which ledger it reflects."""
    data = record_of(to_data(report))
    labels: list[JsonData] = list(report.bucket_labels)

    def buckets(record: dict[str, JsonData], field: str) -> JsonData:
        return dict(zip(map(str, labels), amounts_text(record, field), strict=True))

    totals = [
        {"currency": currency, "buckets_minor": to_data(amounts), "open_minor": sum(amounts)}
        for currency, amounts in report.totals_by_currency().items()
    ]
    return {
        "as_of": data["as_of"],
        "known_at": _instant_text(known_at),
        "as_of_log": to_data(report.as_of_log),
        "grouping": data["grouping"],
        "basis": record_of(data["policy"])["basis"],
        "bucket_labels": labels,
        "rows": [
            {
                "key": row["key"],
                "label": row["label"],
                "currency": row["currency"],
                "buckets": buckets(row, "buckets_minor"),
                "open": amount_text(row, "open_minor"),
                # A property of the row (open less the current bucket), not a field.
                "overdue": amount_text(
                    {**row, "overdue_minor": value.overdue_minor}, "overdue_minor"
                ),
                "disputed": amount_text(row, "disputed_minor"),
                "days_past_due_max": row["days_past_due_max"],
            }
            for row, value in zip(records_of(data["rows"]), report.rows, strict=True)
        ],
        "totals": [
            {
                "currency": total["currency"],
                "buckets": buckets(total, "buckets_minor"),
                "open": amount_text(total, "open_minor"),
            }
            for total in records_of(to_data(totals))
        ],
    }


def _ageing_table(report: ageing.AgeingReport) -> Table:
    grouping = report.grouping
    table = Table(
        title=f"Ageing as of {report.as_of} by {grouping.value} (days past due)",
        title_justify="left",
        show_footer=False,
    )
    show_key = grouping not in (ageing.AgeingGrouping.PORTFOLIO, ageing.AgeingGrouping.CURRENCY)
    show_label = grouping is ageing.AgeingGrouping.CUSTOMER
    if show_key:
        table.add_column(grouping.value.capitalize())
    if show_label:
        table.add_column("Name")
    table.add_column("Currency")
    for label in report.bucket_labels:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("Open", justify="right", no_wrap=True, style="bold")
    table.add_column("of which disputed", justify="right", no_wrap=True)
    lead_columns = int(show_key) + int(show_label)
    for row in report.rows:
        table.add_row(
            *([row.key] if show_key else []),
            *([row.label] if show_label else []),
            row.currency,
            *(format_minor(amount, row.currency) for amount in row.buckets_minor),
            format_minor(row.open_minor, row.currency),
            format_minor(row.disputed_minor, row.currency),
        )
    if show_key and report.rows:
        table.add_section()
        for currency, amounts in report.totals_by_currency().items():
            table.add_row(
                "total",
                *([""] * (lead_columns - 1)),
                currency,
                *(format_minor(amount, currency) for amount in amounts),
                format_minor(sum(amounts), currency),
                format_minor(
                    sum(row.disputed_minor for row in report.rows if row.currency == currency),
                    currency,
                ),
                style="bold",
            )
    if not report.rows:
        table.caption = "Nothing is open on this date."
    return table


def main() -> None:
    """Entry point of the ``arledger`` script and of ``python -m arledger``."""
    app()


# kpis -----------------------------------------------------------------------------------------


@app.command("kpis")
def kpis_command(
    start_on: Annotated[
        date | None,
        typer.Option(
            "--from",
            parser=parse_period_start,
            metavar="YYYY-MM[-DD]",
            help="First day of the period (with --to); a month means its first day.",
            show_default=False,
        ),
    ] = None,
    end_on: Annotated[
        date | None,
        typer.Option(
            "--to",
            parser=parse_period_end,
            metavar="YYYY-MM[-DD]",
            help="Last day of the period, included (with --from); a month means its last day.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        date | None,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Instead of --from/--to: the trailing --months ending on this day.",
            show_default=False,
        ),
    ] = None,
    months: Annotated[
        int,
        typer.Option(min=1, max=kpis.TRAILING_MONTHS_MAX, help="Months before --as-of."),
    ] = 3,
    monthly: Annotated[
        bool,
        typer.Option(
            "--monthly",
            help="One period per calendar month from the month of --from to the month of --to.",
        ),
    ] = False,
    by: Annotated[
        kpis.KpiGrouping,
        typer.Option("--by", help="One row per portfolio, owner or customer (and currency)."),
    ] = kpis.KpiGrouping.PORTFOLIO,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    known_at: Annotated[datetime | None, known_at_option("The KPIs")] = None,
    at_position: Annotated[int | None, at_position_option("The KPIs")] = None,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
    reporting_currency: Annotated[
        str | None,
        typer.Option(
            "--reporting-currency",
            metavar="CODE",
            help="Convert into this currency at the rates in force on the date (recorded with "
            "`arledger rates record`), naming each rate used; table or JSON.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the collection KPIs of a period, per currency: DSO (standard, countback, best
    possible), average days delinquent, CEI (total sales and monthly average), collection rate,
    promise-kept rates and the expected credit loss by provision matrix.

    Days are to 0.1 and percentages to 0.01; a ratio whose denominator is zero is left empty.
    The definitions are in the docstring of arledger.projections.kpis. With --monthly, every
    calendar month of --from..--to in one call (a trend): one table row, CSV line or JSON
    period per month.
    """
    if monthly:
        if reporting_currency is not None:
            usage_error("--monthly does not take --reporting-currency yet: ask month by month")
        _kpis_monthly(start_on, end_on, as_of, by, output_format, known_at, at_position, csv_raw)
        return
    if as_of is not None:
        if start_on is not None or end_on is not None:
            usage_error("give either --as-of or --from and --to, not both")
        with _reported_errors():
            start_on, end_on = kpis.trailing_period(as_of, months)
    if start_on is None or end_on is None:
        usage_error("give --from and --to, or --as-of")
    if start_on > end_on:
        usage_error(f"--from {start_on} is after --to {end_on}")
    _check_csv_raw(csv_raw, output_format)
    if reporting_currency is not None:
        if at_position is not None:
            usage_error(
                "--reporting-currency does not take --at-position (its rates are cut by --known-at)"
            )
        from arledger.adapters.cli import rates

        _reporting_format(output_format)
        with _reported_errors():
            converted = _query_ledger().kpis_in(
                reporting_currency, start_on, end_on, grouping=by, known_at=known_at
            )
        if output_format is OutputFormat.JSON:
            data = rates.kpis_in_json(
                converted, kpis_json(converted.per_currency, known_at=known_at)
            )
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            _stdout().print(rates.kpis_in_table(converted))
        return
    with _reported_errors():
        report = _query_ledger().kpis(
            start_on, end_on, grouping=by, known_at=known_at, at_position=at_position
        )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(kpis_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(kpis_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(
            _kpis_table(
                [report],
                title=f"KPIs {report.start_on} to {report.end_on} ({report.days} days) "
                f"by {report.grouping.value}",
            )
        )


def _kpis_monthly(
    start_on: date | None,
    end_on: date | None,
    as_of: date | None,
    by: kpis.KpiGrouping,
    output_format: OutputFormat,
    known_at: datetime | None,
    at_position: int | None,
    csv_raw: bool,
) -> None:
    if as_of is not None or start_on is None or end_on is None:
        usage_error("--monthly takes --from and --to (months, YYYY-MM), not --as-of")
    if start_on > end_on:
        usage_error(f"--from {start_on} is after --to {end_on}")
    _check_csv_raw(csv_raw, output_format)
    with _reported_errors():
        series = _query_ledger().kpis_monthly(
            start_on, end_on, grouping=by, known_at=known_at, at_position=at_position
        )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(kpis_csv(*series.reports, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        data = {
            "grouping": series.grouping.value,
            "known_at": _instant_text(known_at),
            "as_of_log": to_data(series.reports[0].as_of_log),
            "periods": [kpis_json(report, known_at=known_at) for report in series.reports],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        first, last = series.reports[0], series.reports[-1]
        _stdout().print(
            _kpis_table(
                series.reports,
                title=f"KPIs by month, {first.start_on:%Y-%m} to {last.end_on:%Y-%m}, "
                f"by {series.grouping.value}",
            )
        )


KPI_COLUMNS: Final = (
    "start_on",
    "end_on",
    "grouping",
    "key",
    "label",
    "currency",
    "beginning_ar",
    "credit_sales",
    "ending_ar",
    "current_ar",
    "overdue_ar",
    "cash_collected",
    "settled_in_goods",
    "dso_days",
    "dso_days_countback",
    "dso_days_best_possible",
    "days_delinquent_average",
    "cei_total_sales",
    "cei_monthly_average",
    "collection_rate",
    "collection_rate_in_goods",
    "promises_judged",
    "promises_kept",
    "promised",
    "promised_paid",
    "promise_kept_rate_by_count",
    "promise_kept_rate_by_amount",
)
"""The KPI figures of a CSV line, before the expected credit loss per bucket and in total."""


KPI_AMOUNTS: Final = {
    "beginning_ar": "receivables_minor_beginning",
    "credit_sales": "credit_sales_minor",
    "ending_ar": "receivables_minor_ending",
    "current_ar": "receivables_minor_current",
    "overdue_ar": "receivables_minor_overdue",
    "cash_collected": "cash_collected_minor",
    "settled_in_goods": "settled_in_goods_minor",
    "promised": "promised_minor",
    "promised_paid": "promised_minor_paid",
}
"""The CLI's name of each KPI amount -> the ``KpiRow`` field (minor units) it is written from;
every other figure of ``KPI_COLUMNS`` has its field's name."""


def kpi_values(report: kpis.KpiReport) -> list[dict[str, JsonData]]:
    """Each row's figures by name (from ``to_data``, taken once for the whole report): amounts
    as exact decimal strings, ratios as strings or None."""
    head = record_of(to_data(report))
    lines = []
    for row, data in zip(report.rows, records_of(head["rows"]), strict=True):
        data["receivables_minor_overdue"] = row.receivables_minor_overdue  # a property
        values: dict[str, JsonData] = {}
        for column in KPI_COLUMNS:
            if column in KPI_AMOUNTS:
                values[column] = amount_text(data, KPI_AMOUNTS[column])
            else:  # the period and grouping are the report's
                values[column] = data[column] if column in data else head[column]
        ecl = amounts_text(data, "ecl_minor_by_bucket")
        for label, amount in zip(report.bucket_labels, ecl, strict=True):
            values[f"ecl {label}"] = amount
        values["ecl"] = amount_text(data, "ecl_minor")
        lines.append(values)
    return lines


def kpi_columns(report: kpis.KpiReport) -> list[str]:
    """The names of ``kpi_values``, in order: the CSV header."""
    return [
        *KPI_COLUMNS,
        *(f"ecl {label}" for label in report.bucket_labels),
        "ecl",
    ]


def kpis_csv(*reports: kpis.KpiReport, raw: bool = False) -> str:
    """One CSV line per row of each report (a monthly series: every month under one header);
    a ratio with a zero denominator is an empty field, and so is an expected-credit-loss bucket
    a month's policy does not have (the header holds every bucket of the series, in order of
    first appearance). Cells are neutralised for spreadsheets unless ``raw`` (``csv_output``)."""
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    columns = list(dict.fromkeys(column for report in reports for column in kpi_columns(report)))
    writer.writerow(columns)
    for report in reports:
        for values in kpi_values(report):
            writer.writerow([_csv_cell(values.get(column)) for column in columns])
    return buffer.getvalue()


def _csv_cell(value: JsonData) -> JsonData:
    return "" if value is None else value


def kpis_json(report: kpis.KpiReport, *, known_at: datetime | None = None) -> dict[str, JsonData]:
    """The report as JSON-ready data (``to_data``); amounts and ratios are exact decimal
    strings or null. ``known_at`` as for ``ageing_json``."""
    data = record_of(to_data(report))
    rows: list[JsonData] = []
    for values in kpi_values(report):
        for name in ("start_on", "end_on", "grouping"):
            del values[name]
        rows.append(values)
    return {
        "start_on": data["start_on"],
        "end_on": data["end_on"],
        "known_at": _instant_text(known_at),
        "as_of_log": to_data(report.as_of_log),
        "days": report.days,
        "grouping": data["grouping"],
        "policy_version": data["policy_version"],
        "bucket_labels": data["bucket_labels"],
        "provision_rates_bps": list(report.provision_rates_bps),
        "provision_rates": [str(rate) for rate in report.provision_rates],
        "rows": rows,
    }


def _kpis_table(reports: Sequence[kpis.KpiReport], *, title: str) -> Table:
    """One row per group and currency of each report; a Month column when there are several."""
    table = Table(title=title, title_justify="left")
    by_month = len(reports) > 1
    show_key = reports[0].grouping is not kpis.KpiGrouping.PORTFOLIO
    if by_month:
        table.add_column("Month", no_wrap=True)
    if show_key:
        table.add_column(reports[0].grouping.value.capitalize())
    table.add_column("Currency")
    for heading in (
        "Sales",
        "AR end",
        "Cash",
        "Goods",
        "DSO",
        "DSO cb",
        "DSO best",
        "ADD",
        "CEI %",
        "CEI/m %",
        "Coll. %",
        "Goods %",
        "Kept n%",
        "Kept amt%",
        "ECL",
    ):
        table.add_column(heading, justify="right", no_wrap=True)

    def ratio(value: Decimal | None) -> str:
        return "-" if value is None else str(value)

    rows = [(report, row) for report in reports for row in report.rows]
    for report, row in rows:
        table.add_row(
            *([f"{report.start_on:%Y-%m}"] if by_month else []),
            *([row.key] if show_key else []),
            row.currency,
            format_minor(row.credit_sales_minor, row.currency),
            format_minor(row.receivables_minor_ending, row.currency),
            format_minor(row.cash_collected_minor, row.currency),
            format_minor(row.settled_in_goods_minor, row.currency),
            ratio(row.dso_days),
            ratio(row.dso_days_countback),
            ratio(row.dso_days_best_possible),
            ratio(row.days_delinquent_average),
            ratio(row.cei_total_sales),
            ratio(row.cei_monthly_average),
            ratio(row.collection_rate),
            ratio(row.collection_rate_in_goods),
            ratio(row.promise_kept_rate_by_count),
            ratio(row.promise_kept_rate_by_amount),
            format_minor(row.ecl_minor, row.currency),
        )
    table.caption = (
        "DSO cb: countback DSO; ADD: average days delinquent; CEI/m: CEI on the average "
        "30-day month's sales; Coll.: collection rate (cash); Goods: settled in goods (non-cash), "
        "and its rate; Kept n% / amt%: promises kept by count / "
        "by amount; ECL: expected credit loss. '-': no denominator."
        if rows
        else "No receivables, sales, cash or promises in this period."
    )
    return table


# worklist and explain -------------------------------------------------------------------------


WORKLIST_TABLE_ROWS: Final = 100
"""Customers a worklist table shows by default: a terminal is read from the top, and drawing
tens of thousands of rows takes longer than answering the query (JSON holds all)."""


class WorklistFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"


@app.command("worklist")
def worklist_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Who needs collection action at the end of this day.",
        ),
    ],
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="Only this collection owner's customers (owner on --as-of).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        WorklistFormat,
        typer.Option("--format", help="A table for people, or JSON with exact decimal amounts."),
    ] = WorklistFormat.TABLE,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=0,
            help="Show the first N customers in the table (0: all). JSON always holds all.",
        ),
    ] = WORKLIST_TABLE_ROWS,
    known_at: Annotated[datetime | None, known_at_option("The worklist")] = None,
    at_position: Annotated[int | None, at_position_option("The worklist")] = None,
    reporting_currency: Annotated[
        str | None,
        typer.Option(
            "--reporting-currency",
            metavar="CODE",
            help="Convert into this currency at the rates in force on the date (recorded with "
            "`arledger rates record`), naming each rate used; table or JSON.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the customers at escalation level 1 or above, most urgent first, and those with
    a reconciliation item open (a difference acknowledged on a balance confirmation).

    The order is the escalation policy's priority (by default level, then overdue amount as a
    share of the currency's "large" threshold, days past due, broken promises). Each line
    gives the next required action and when it is due; open reconciliation items follow in a
    table of their own.
    """
    if reporting_currency is not None:
        if at_position is not None:
            usage_error(
                "--reporting-currency does not take --at-position (its rates are cut by --known-at)"
            )
        from arledger.adapters.cli import rates

        with _reported_errors():
            converted = _query_ledger().worklist_in(
                reporting_currency, as_of, owner=owner, known_at=known_at
            )
        if output_format is WorklistFormat.JSON:
            data = rates.worklist_in_json(
                converted, worklist_json(converted.per_currency, known_at=known_at)
            )
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            _stdout().print(rates.worklist_in_table(converted, limit=limit))
        return
    with _reported_errors():
        items = _query_ledger().worklist(
            as_of, owner=owner, known_at=known_at, at_position=at_position
        )
    if output_format is WorklistFormat.JSON:
        sys.stdout.write(json.dumps(worklist_json(items, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(_worklist_table(as_of, owner, items, limit=limit))
        if any(item.reconciliations for item in items):
            _stdout().print(_reconciliations_table(items))
        if items.cash_held:
            from arledger.adapters.cli import handover

            _stdout().print(
                handover.cash_held_table(
                    items.cash_held, title="Cash not handed over by the people collecting it"
                )
            )


def worklist_json(worklist: Worklist, *, known_at: datetime | None = None) -> dict[str, JsonData]:
    """The worklist as JSON-ready data (``to_data``); amounts are exact decimal strings.
    ``known_at`` as for ``ageing_json``."""
    data = record_of(to_data(worklist))
    items: list[JsonData] = []
    for rank, item in enumerate(records_of(data["items"]), start=1):
        action = None if item["next_action"] is None else record_of(item["next_action"])
        items.append(
            {
                "rank": rank,
                **{
                    name: item[name]
                    for name in (
                        "customer_code",
                        "name",
                        "owner",
                        "level",
                        "level_name",
                        "grade",
                        "currency",
                    )
                },
                "overdue": amount_text(item, "overdue_minor"),
                "days_past_due_max": item["days_past_due_max"],
                "broken_promises": item["broken_promises"],
                "suspended": item["is_suspended"],
                "next_action": None if action is None else action["action"],
                "next_action_due_on": None if action is None else action["due_on"],
                "reconciliations": [
                    {
                        "confirmation_reference": found["confirmation_reference"],
                        "difference": amount_text(found, "difference_minor"),
                        "opened_on": found["opened_on"],
                    }
                    for found in records_of(item["reconciliations"])
                ],
                "next_step": None
                if item["next_step"] is None
                else {
                    name: record_of(item["next_step"])[name]
                    for name in ("step", "due_on", "is_overdue", "agreed_on", "collector")
                },
                "pre_due_reminders": [
                    {
                        "invoice_number": found["invoice_number"],
                        "due_on": found["due_on"],
                        "open": amount_text({**found, "currency": item["currency"]}, "open_minor"),
                        "remind_from_on": found["remind_from_on"],
                    }
                    for found in records_of(item["pre_due_reminders"])
                ],
            }
        )
    return {
        "as_of": data["as_of"],
        "known_at": _instant_text(known_at),
        "as_of_log": to_data(worklist.as_of_log),
        "owner": data["owner"],
        "items": items,
        "cash_held": [
            {
                "bank_reference": held.bank_reference,
                "customer_code": held.customer_code,
                "currency": held.currency,
                "amount": format_minor(held.amount_minor, held.currency),
                "method": held.method.value,
                "received_by": held.received_by,
                "manager": held.manager,
                "collected_on": held.collected_on.isoformat(),
                "days_held": held.days_held,
            }
            for held in worklist.cash_held
        ],
    }


def _reconciliations_table(items: Sequence[escalation.WorklistItem]) -> Table:
    """The reconciliation items open on the worklist's customers, in worklist order: the
    collector follows each difference up until it is resolved or accepted."""
    table = Table(title="Reconciliation items open")
    for header in ("Customer", "Confirmation", "Currency", "Difference", "Open since"):
        table.add_column(
            header, no_wrap=True, justify="right" if header == "Difference" else "left"
        )
    for item in items:
        for found in item.reconciliations:
            table.add_row(
                item.customer_code,
                found.confirmation_reference,
                found.currency,
                format_minor(found.difference_minor, found.currency),
                found.opened_on.isoformat(),
            )
    table.caption = "Difference: the balance the customer confirmed less the ledger's."
    return table


def _worklist_also(item: escalation.WorklistItem) -> str:
    """The worklist's reasons beside the level, in words: the next step agreed, due or
    overdue, and the invoices wanting a reminder before their due date."""
    reasons = []
    if item.next_step is not None:
        step = item.next_step
        reasons.append(
            f"next step {step.step!r} on {step.due_on.isoformat()}"
            + (" !" if step.is_overdue else "")
        )
    reminders = item.pre_due_reminders
    if reminders:
        shown = ", ".join(
            f"{found.invoice_number} due {found.due_on.isoformat()}" for found in reminders[:3]
        )
        more = f" and {len(reminders) - 3} more" if len(reminders) > 3 else ""
        reasons.append(f"pre-due reminder: {shown}{more}")
    return "; ".join(reasons) or "-"


def _worklist_table(
    as_of: date, owner: str | None, items: Sequence[escalation.WorklistItem], *, limit: int = 0
) -> Table:
    title = f"Worklist as of {as_of.isoformat()}" + (f", owner {owner}" if owner else "")
    table = Table(title=title)
    total = len(items)
    if limit and total > limit:
        items = list(items)[:limit]
    # Codes, amounts and dates never wrap; names and grades may.
    for header in ("#", "Customer", "Name", "Owner", "Level", "Grade", "Currency"):
        table.add_column(header, no_wrap=header in ("Customer", "Currency"))
    for header in ("Overdue", "Days past due", "Broken"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("Next action", no_wrap=True)
    table.add_column("Due", no_wrap=True)
    table.add_column("Also")
    for rank, item in enumerate(items, start=1):
        action = item.next_action
        table.add_row(
            str(rank),
            item.customer_code,
            item.name,
            item.owner,
            f"{item.level} {item.level_name}" + (" (held)" if item.is_suspended else ""),
            "-" if item.grade is None else item.grade.value.replace("_", " "),
            item.currency,
            format_minor(item.overdue_minor, item.currency),
            str(item.days_past_due_max),
            str(item.broken_promises),
            "-" if action is None else action.action,
            "-"
            if action is None
            else action.due_on.isoformat() + (" !" if action.is_overdue else ""),
            _worklist_also(item),
        )
    table.caption = (
        "Held: an open promise holds the level; '!': the action or next step is overdue;"
        " diagnose: find the cause of late payment first; negotiate_first: the level's"
        " actions wait for a negotiation (a visit or demand letter) or an approver's override."
        if items
        else "No customer needs collection action on this date."
    )
    if len(items) < total:
        table.caption += (
            f" The first {len(items):,} of {total:,} customers: --limit 0 shows all,"
            " --format json gives them as data."
        )
    return table


@app.command("explain")
def explain_command(
    customer: Annotated[str, typer.Argument(help="The customer code.", show_default=False)],
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of", parser=parse_iso_date, metavar="YYYY-MM-DD", help="Explain as of this day."
        ),
    ],
    known_at: Annotated[datetime | None, known_at_option("The explanation")] = None,
    at_position: Annotated[int | None, at_position_option("The explanation")] = None,
) -> None:
    """Explain a customer's escalation level: why, in words and figures.

    Level, grade, each firing rule with its threshold, actual figure, policy version and
    invoices; suspensions; the next required action; level history; and the date the next
    threshold is crossed if nothing happens.
    """
    with _reported_errors():
        text = _ledger().explain(customer, as_of, known_at=known_at, at_position=at_position).text
    sys.stdout.write(text + "\n")


# generate -------------------------------------------------------------------------------------


class GenerateOut(enum.Enum):
    STORE = "store"
    PARQUET = "parquet"


@app.command("generate")
def generate_command(
    invoices: Annotated[
        int,
        typer.Option(
            min=generate.INVOICES_MIN, max=generate.INVOICES_MAX, help="Invoices to generate."
        ),
    ],
    seed: Annotated[
        int, typer.Option(min=0, max=generate.SEED_MAX, help="Same seed, same ledger.")
    ] = 0,
    out: Annotated[
        GenerateOut, typer.Option(help="Record in the store, or write Parquet to --directory.")
    ] = GenerateOut.STORE,
    directory: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the Parquet files (new, empty or an earlier export, which is "
            "replaced once the new one is complete); --out parquet."
        ),
    ] = None,
) -> None:
    """Generate a synthetic ledger with behaviour profiles, deterministic per seed.

    Customers pay promptly, late, chronically late or in part, break promises, dispute, bounce
    payments or default and are written off; invoices in CNY, USD and EUR, some in instalments.
    """
    if out is GenerateOut.PARQUET and directory is None:
        typer.echo("error: --out parquet needs --directory", err=True)
        raise typer.Exit(EXIT_USAGE)
    if out is GenerateOut.STORE and directory is not None:
        typer.echo("error: --directory is for --out parquet", err=True)
        raise typer.Exit(EXIT_USAGE)
    if directory is not None:
        _utf8_directory(directory)
    with _reported_errors(), progress_bar(_stderr(), "Generating", unit="invoices") as progress:
        if directory is not None:
            rows = generate.generate_parquet(invoices, seed, directory, progress=progress)
            events = sum(count for name, count in rows.items() if name != "ids")
            where = str(directory)
        else:
            ledger = _ledger()
            try:
                events = generate.generate_to_store(ledger, invoices, seed, progress=progress)
            except IntegrityError:
                typer.echo(
                    f"error: {ledger.store_description} already holds ledger keys of seed {seed} "
                    f"(G{seed}-...): an earlier run recorded them, in full or, if it was "
                    "interrupted, in part (whole transactions); nothing more was recorded: "
                    "use another seed or a new store",
                    err=True,
                )
                raise typer.Exit(EXIT_REFUSED) from None
            where = ledger.store_description
    _stdout().print(f"Generated {invoices} invoice(s) (seed {seed}): {events} event(s) in {where}.")


# export ---------------------------------------------------------------------------------------

EXPORT_PROGRESS_EVERY: Final = 10_000


def _counted(events: Iterable[Event], total: int, progress: Progress | None) -> Iterator[Event]:
    done = 0
    for event in events:
        yield event
        done += 1
        if progress is not None and done % EXPORT_PROGRESS_EVERY == 0:
            progress(done, total)
    if progress is not None:
        progress(done, total)


@app.command("export")
def export_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder for the Parquet files (new, empty or an earlier export, which is "
            "replaced once the new one is complete)."
        ),
    ],
    page_rows: Annotated[
        int, typer.Option(min=1, help="Rows per page (Parquet row group) and event class.")
    ] = columnar.PAGE_ROWS_DEFAULT,
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="With an encrypted store (CIPHER_TOPIC, CIPHER_KEY), write the export anyway: "
            "Parquet files are plaintext (refused without it).",
        ),
    ] = False,
) -> None:
    """Export the event log to Parquet in the columnar layout the fast path reads."""
    _utf8_directory(directory)
    with _reported_errors():
        columnar.export_target(directory)  # a folder it may not replace: refused before any work
        ledger = _ledger()
        ledger.check_plaintext_output(directory, output="export", plaintext=plaintext)
        head = ledger.recorder.max_notification_id() or 0
        with progress_bar(_stderr(), f"Exporting to {directory}") as progress:
            rows = columnar.write_parquet(
                _counted(ledger.iter_events(), head, progress), directory, page_rows=page_rows
            )
    events = sum(count for name, count in rows.items() if name != "ids")
    _stdout().print(
        f"Exported {events} event(s) in {len(rows) - 1} table(s) and {rows['ids']} id(s) "
        f"from {ledger.store_description} to {directory}."
    )


projections_app = typer.Typer(
    help="The read models stored beside the event log (SQLite and PostgreSQL stores).",
    no_args_is_help=True,
)
app.add_typer(projections_app, name="projections")


@projections_app.command("status")
def projections_status() -> None:
    """How far the stored read models are behind the event log."""
    with _reported_errors():
        ledger = _ledger()
        status = ledger.projection_runner().status()
        engine = ledger.query_engine().status()
    _stdout().print(
        f"{ledger.store_description}: read models at event {status.position} of "
        f"{status.head}; lag {status.lag} event(s)"
    )
    _stdout().print(
        f"Columnar log: {engine['persisted']:,} event(s) in stored segments "
        f"(this process caught up to {engine['events']:,})"
    )


@projections_app.command("catch-up")
def projections_catch_up() -> None:
    """Fold the events recorded since the last run into the stored read models."""
    with _reported_errors():
        ledger = _ledger()
        runner = ledger.projection_runner()
        with progress_bar(_stderr(), "Catching up") as progress:
            count = runner.catch_up(progress)
        status = runner.status()
        engine = ledger.query_engine()
        engine.persist()
    _stdout().print(f"Folded {count} event(s); read models at event {status.position}.")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Clear the stored read models and fold the whole event log again, in batches."""
    with _reported_errors():
        ledger = _ledger()
        runner = ledger.projection_runner()
        with progress_bar(_stderr(), "Rebuilding") as progress:
            count = runner.rebuild(progress)
        ledger.query_engine().rebuild()
        ledger.query_engine().persist()
    _stdout().print(f"Rebuilt the read models from {count} event(s).")


# audits ---------------------------------------------------------------------------------------


@app.command("verify")
def verify_command(
    from_position: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="Resume the chain and decoding checks at this position (a full pass, without "
            "it, also replays every aggregate and compares the read models).",
        ),
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="A chain link printed by an earlier verify: it must still be in the chain.",
        ),
    ] = None,
) -> None:
    """Check the event log's hash chain, decode and replay it, and compare the stored read
    models with a fresh fold; one line per finding, exit 1 on any."""
    with _reported_errors():
        ledger = _ledger()
        report = ledger.verify(from_position, expect_head)
    out = _stdout()
    for finding in report.findings:
        out.print(_printable(str(finding)), markup=False, soft_wrap=True)
    if report.findings_omitted:
        out.print(f"... and {report.findings_omitted} more finding(s)")
    what = "checked" if not report.replayed else "checked, replayed, read models compared"
    out.print(
        f"{ledger.store_description}: {report.events_checked} event(s) from position "
        f"{report.from_position} {what}: "
        + ("ok" if report.ok else f"{len(report.findings) + report.findings_omitted} finding(s)")
    )
    if report.head_link:
        out.print(f"chain head: position {report.head_position} link {report.head_link}")
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


chain_app = typer.Typer(
    help="The hash chain over the event log (written with the events; see `arledger verify`).",
    no_args_is_help=True,
)
app.add_typer(chain_app, name="chain")


@chain_app.command("build")
def chain_build() -> None:
    """Build, once, the hash chain of a store written before chains existed (refused when it
    has one). Writers wait meanwhile; commit instants are not known for these events."""
    with _reported_errors():
        ledger = _ledger()
        count = ledger.build_chain()
        report = ledger.verify()
    _stdout().print(f"Built the hash chain over {count} event(s) of {ledger.store_description}.")
    if report.head_link:
        _stdout().print(f"chain head: position {report.head_position} link {report.head_link}")


# warm-up --------------------------------------------------------------------------------------


@app.command("warm-up")
def warm_up_command(
    kernels: Annotated[
        bool, typer.Option("--kernels", help="List each kernel and its compiled variants.")
    ] = False,
) -> None:
    """Compile the query engine's Numba kernels into the on-disk cache (run after installing or
    upgrading, so no query waits for compilation). Touches no store."""
    from arledger.adapters.read_models import warm_up

    with _reported_errors(), _stderr().status("Compiling the query engine's kernels"):
        report = warm_up.warm_up()
    if kernels:
        table = Table("kernel", "variants", "compiled", "from cache")
        for kernel in report.kernels:
            table.add_row(
                kernel.name, str(kernel.signatures), str(kernel.compiled), str(kernel.loaded)
            )
        _stdout().print(table)
    _stdout().print(
        f"Warm: {report.signatures} kernel variant(s), {report.compiled} compiled and "
        f"{report.loaded} loaded from the cache, in {report.seconds:.1f} s; "
        f"cache: {report.cache_dir}"
    )
