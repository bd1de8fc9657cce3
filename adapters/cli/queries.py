"""The query commands: ``arledger ageing``, ``kpis``, ``worklist`` and ``explain`` (their
output formats are in ``formats``); they register on ``app.app``."""

from __future__ import annotations

import enum
import itertools
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Annotated, Final

import typer
from rich.text import Text

from arledger.adapters.cli.app import (
    _CSV_RAW_OPTION,
    OutputFormat,
    _check_csv_raw,
    _ledger,
    _query_ledger,
    _reported_errors,
    _stdout,
    app,
    at_position_option,
    known_at_option,
    parse_iso_date,
    parse_period_end,
    parse_period_start,
    usage_error,
)
from arledger.adapters.cli.formats import (
    ageing_csv,
    ageing_json,
    ageing_table,
    first_rows,
    instant_text,
    kpis_csv,
    kpis_json,
    kpis_table,
    reconciliations_table,
    with_more,
    worklist_json,
    worklist_table,
)
from arledger.adapters.cli.xlsx import (
    FORMAT_HELP,
    OUT_OPTION,
    SheetFormat,
    text_format,
    write_workbook,
)
from arledger.adapters.data_output import (
    to_data,
)
from arledger.domain.errors import (
    ConfigurationError,
)
from arledger.projections import ageing, kpis

_REPORTING_CURRENCY_OPTION: Final = typer.Option(
    "--reporting-currency",
    metavar="CODE",
    help="Convert into this currency at the rates in force on the date (recorded with "
    "`arledger rates record`), naming each rate used; table or JSON.",
    show_default=False,
)


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
    sheet_format: Annotated[
        SheetFormat, typer.Option("--format", help=FORMAT_HELP)
    ] = SheetFormat.TABLE,
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
    reporting_currency: Annotated[str | None, _REPORTING_CURRENCY_OPTION] = None,
    out: Annotated[Path | None, OUT_OPTION] = None,
) -> None:
    """Print the ageing table: open receivables by days past due, per currency.

    Buckets are those of the escalation policy version in force on the as-of date (by default
    current, 1-30, 31-60, 61-90, 91-120 and over 120 days past due; due on the as-of date counts
    as current), or the --edges given. Amounts are never added across currencies.
    """
    output_format = text_format(sheet_format, out, reporting_currency=reporting_currency)
    _check_csv_raw(csv_raw, output_format)
    if reporting_currency is not None:
        _ageing_in(
            as_of, by, output_format, edges, known_at, at_position, reporting_currency, csv_raw
        )
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
    if sheet_format is SheetFormat.XLSX:
        write_workbook(out, _xlsx().ageing_workbook(report, known_at=known_at), "the ageing")
    elif output_format is OutputFormat.CSV:
        sys.stdout.write(ageing_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(ageing_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(ageing_table(report))


def _ageing_in(
    as_of: date,
    by: ageing.AgeingGrouping,
    output_format: OutputFormat,
    edges: str | None,
    known_at: datetime | None,
    at_position: int | None,
    reporting_currency: str,
    csv_raw: bool,
) -> None:
    from arledger.adapters.cli import rates

    if edges is not None:
        usage_error("--edges is not available with --reporting-currency")
    with _reported_errors():
        report = _query_ledger().ageing_in(
            reporting_currency, as_of, grouping=by, known_at=known_at, at_position=at_position
        )
    if output_format is OutputFormat.JSON:
        data = rates.ageing_in_json(report, ageing_json(report.per_currency, known_at=known_at))
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif output_format is OutputFormat.CSV:
        sys.stdout.write(rates.ageing_in_csv(report, raw=csv_raw))
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
    sheet_format: Annotated[
        SheetFormat, typer.Option("--format", help=FORMAT_HELP)
    ] = SheetFormat.TABLE,
    known_at: Annotated[datetime | None, known_at_option("The KPIs")] = None,
    at_position: Annotated[int | None, at_position_option("The KPIs")] = None,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
    reporting_currency: Annotated[str | None, _REPORTING_CURRENCY_OPTION] = None,
    out: Annotated[Path | None, OUT_OPTION] = None,
) -> None:
    """Print the collection KPIs of a period, per currency: DSO (standard, countback, best
    possible), average days delinquent, CEI (total sales and monthly average), collection rate,
    promise-kept rates and the expected credit loss by provision matrix.

    Days are to 0.1 and percentages to 0.01; a ratio whose denominator is zero is left empty.
    The definitions are in the docstring of arledger.projections.kpis. With --monthly, every
    calendar month of --from..--to in one call (a trend): one table row, CSV line or JSON
    period per month.
    """
    output_format = text_format(sheet_format, out, reporting_currency=reporting_currency)
    if monthly:
        if reporting_currency is not None:
            usage_error("--monthly does not take --reporting-currency yet: ask month by month")
        _kpis_monthly(
            start_on, end_on, as_of, by, output_format, known_at, at_position, csv_raw, out
        )
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
        from arledger.adapters.cli import rates

        with _reported_errors():
            converted = _query_ledger().kpis_in(
                reporting_currency,
                start_on,
                end_on,
                grouping=by,
                known_at=known_at,
                at_position=at_position,
            )
        if output_format is OutputFormat.JSON:
            data = rates.kpis_in_json(
                converted, kpis_json(converted.per_currency, known_at=known_at)
            )
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        elif output_format is OutputFormat.CSV:
            sys.stdout.write(rates.kpis_in_csv(converted, raw=csv_raw))
        else:
            _stdout().print(rates.kpis_in_table(converted))
        return
    with _reported_errors():
        report = _query_ledger().kpis(
            start_on, end_on, grouping=by, known_at=known_at, at_position=at_position
        )
    if out is not None:
        write_workbook(out, _xlsx().kpis_workbook(report, known_at=known_at), "the KPIs")
    elif output_format is OutputFormat.CSV:
        sys.stdout.write(kpis_csv(report, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(kpis_json(report, known_at=known_at), indent=2) + "\n")
    else:
        _stdout().print(
            kpis_table(
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
    out: Path | None,
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
    if out is not None:
        workbook = _xlsx().kpis_workbook(*series.reports, known_at=known_at)
        write_workbook(out, workbook, "the KPIs by month")
    elif output_format is OutputFormat.CSV:
        sys.stdout.write(kpis_csv(*series.reports, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        data = {
            "grouping": series.grouping.value,
            "known_at": instant_text(known_at),
            "as_of_log": to_data(series.reports[0].as_of_log),
            "periods": [kpis_json(report, known_at=known_at) for report in series.reports],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        first, last = series.reports[0], series.reports[-1]
        _stdout().print(
            kpis_table(
                series.reports,
                title=f"KPIs by month, {first.start_on:%Y-%m} to {last.end_on:%Y-%m}, "
                f"by {series.grouping.value}",
            )
        )


# worklist and explain -------------------------------------------------------------------------


WORKLIST_TABLE_ROWS: Final = 100
"""Customers a worklist table shows by default: a terminal is read from the top, and drawing
tens of thousands of rows takes longer than answering the query (JSON holds all)."""


class WorklistFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"
    XLSX = "xlsx"


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
        typer.Option(
            "--format",
            help="A table for people, JSON with exact decimal amounts, or an Excel workbook "
            "(xlsx, with --out).",
        ),
    ] = WorklistFormat.TABLE,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=0,
            help="Show the first N customers in the table, and of the cash held and the"
            " requests waiting for approval under it (0: all). JSON always holds all.",
        ),
    ] = WORKLIST_TABLE_ROWS,
    known_at: Annotated[datetime | None, known_at_option("The worklist")] = None,
    at_position: Annotated[int | None, at_position_option("The worklist")] = None,
    reporting_currency: Annotated[str | None, _REPORTING_CURRENCY_OPTION] = None,
    out: Annotated[Path | None, OUT_OPTION] = None,
) -> None:
    """Print the customers at escalation level 1 or above, most urgent first, and those with
    a reconciliation item open (a difference acknowledged on a balance confirmation).

    The order is the escalation policy's priority (by default level, then overdue amount as a
    share of the currency's "large" threshold, days past due, broken promises). Each line
    gives the next required action and when it is due; open reconciliation items follow in a
    table of their own.
    """
    text_format(SheetFormat(output_format.value), out, reporting_currency=reporting_currency)
    if reporting_currency is not None:
        from arledger.adapters.cli import rates

        with _reported_errors():
            converted = _query_ledger().worklist_in(
                reporting_currency, as_of, owner=owner, known_at=known_at, at_position=at_position
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
    if output_format is WorklistFormat.XLSX:
        workbook = _xlsx().worklist_workbook(items, known_at=known_at)
        write_workbook(out, workbook, "the worklist")
    elif output_format is WorklistFormat.JSON:
        from arledger.adapters.cli import reductions

        data = worklist_json(items, known_at=known_at)
        data["pending_approvals"] = reductions.pending_json(items.pending_approvals)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _stdout().print(worklist_table(as_of, owner, items, limit=limit))
        if any(item.reconciliations for item in items):
            _stdout().print(reconciliations_table(items))
        if items.cash_held:
            from arledger.adapters.cli import handover

            held, more = first_rows(items.cash_held, limit, "amounts held")
            table = handover.cash_held_table(
                held, title="Cash not handed over by the people collecting it"
            )
            _stdout().print(with_more(table, more))
        if items.pending_approvals:
            from arledger.adapters.cli import reductions

            pending, more = first_rows(items.pending_approvals, limit, "requests")
            table = reductions.pending_table(
                pending,
                title="Reductions waiting for approval"
                + (f" by {owner}" if owner is not None else ""),
            )
            _stdout().print(with_more(table, more))


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
    console = _stdout()
    if console.is_terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        # Wrapped at words for the width it is read in (a terminal would cut a line anywhere,
        # through an amount); piped without COLUMNS, the lines are the explanation's own.
        console.print(Text(text), soft_wrap=False)
    else:
        sys.stdout.write(text + "\n")


def _xlsx() -> ModuleType:
    """``adapters.xlsx_output``, imported when a workbook is asked for: openpyxl takes a
    noticeable part of a second to import, which no other output pays."""
    from arledger.adapters import xlsx_output

    return xlsx_output
