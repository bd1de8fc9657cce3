"""``arledger rates record|list`` and the reporting-currency views of ``ageing``, ``kpis`` and
``worklist`` (``--reporting-currency``).

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package). Invariant: a
reporting-currency view always names every rate it used (pair, rate, effective date, source),
and its JSON carries the per-currency report it was converted from, unchanged; amounts are
exact decimal strings in the reporting currency.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from arledger.adapters import csv_output
from arledger.adapters.cli.app import (
    _ledger,
    _reported_errors,
    _stdout,
    app,
    known_at_option,
    parse_iso_date,
    usage_error,
)
from arledger.adapters.cli.formats import (
    Column,
    FittedTable,
    Kind,
    amount_cell,
    first_rows,
    instant_text,
    money_cell,
    with_more,
)
from arledger.domain.exchange_rate import ExchangeRate
from arledger.domain.money import format_minor
from arledger.projections.reporting import (
    ReportingAgeingReport,
    ReportingKpiReport,
    ReportingWorklist,
)

rates_app = typer.Typer(
    help="Exchange rates as dated facts, for reports in a reporting currency.",
    no_args_is_help=True,
)
app.add_typer(rates_app, name="rates")


def parse_rate(value: str | Decimal) -> Decimal:
    """A rate as an exact decimal ("7.1234"); text that is not one is a usage error."""
    if isinstance(value, Decimal):
        return value
    try:
        rate = Decimal(value.strip())
    except InvalidOperation:
        usage_error(f"{value!r} is not a decimal rate such as 7.1234")
    if not rate.is_finite():
        usage_error(f"{value!r} is not a decimal rate such as 7.1234")
    return rate


@rates_app.command("record")
def rates_record(
    from_currency: Annotated[
        str, typer.Option("--from", help="The currency one unit of which the rate prices.")
    ],
    to_currency: Annotated[str, typer.Option("--to", help="The currency the rate is in.")],
    rate: Annotated[
        Decimal,
        typer.Option("--rate", parser=parse_rate, metavar="DECIMAL", help="1 --from = RATE --to."),
    ],
    effective_on: Annotated[
        date,
        typer.Option(
            "--effective-on",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="In force from this day until a later-dated rate for the pair.",
        ),
    ],
    source: Annotated[
        str, typer.Option("--source", help="Where the figure comes from (a fixing, a quote).")
    ],
) -> None:
    """Record an exchange rate. The same rate again records nothing; another rate for the
    same pair and day corrects it from now on (the first stays in the history)."""
    with _reported_errors():
        events = _ledger().record_exchange_rate(
            from_currency=from_currency,
            to_currency=to_currency,
            rate=rate,
            effective_on=effective_on,
            source=source,
        )
    what = "recorded" if events else "already recorded; nothing new"
    _stdout().print(
        f"1 {from_currency} = {rate} {to_currency} from {effective_on.isoformat()} "
        f"({source}): {what}"
    )


@rates_app.command("list")
def rates_list(
    known_at: Annotated[datetime | None, known_at_option("The list")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List every exchange rate recorded, in recording order."""
    with _reported_errors():
        rates = _ledger().exchange_rates(known_at=known_at)
    if as_json:
        sys.stdout.write(json.dumps([rate_json(rate) for rate in rates], indent=2) + "\n")
        return
    table = FittedTable(
        Column("From", Kind.CODE, key=True),
        Column("To", Kind.CODE, key=True),
        Column("Rate", Kind.NUMBER),
        Column("Effective on", Kind.CODE),
        Column("Source", drop=1),
        Column("Recorded at", Kind.CODE, drop=2),
        title="Exchange rates",
    )
    for rate in rates:
        table.add_row(
            rate.from_currency,
            rate.to_currency,
            rate.rate_text,
            rate.effective_on.isoformat(),
            rate.source,
            rate.recorded_at.isoformat(),
        )
    if not rates:
        table.caption = "No exchange rates recorded."
    _stdout().print(table)


def rate_json(rate: ExchangeRate) -> dict[str, Any]:
    return {
        "from_currency": rate.from_currency,
        "to_currency": rate.to_currency,
        "rate": rate.rate_text,
        "rate_numerator": rate.rate_numerator,
        "rate_denominator": rate.rate_denominator,
        "effective_on": rate.effective_on.isoformat(),
        "source": rate.source,
        "recorded_at": rate.recorded_at.isoformat(),
    }


def rates_caption(rates: tuple[ExchangeRate, ...]) -> str:
    """The rates used, one per currency, as a table caption."""
    if not rates:
        return "No conversion needed: every amount is in the reporting currency."
    return "Rates used: " + "; ".join(
        f"1 {rate.from_currency} = {rate.rate_text} {rate.to_currency} from "
        f"{rate.effective_on.isoformat()} ({rate.source})"
        for rate in rates
    )


# Reporting-currency views --------------------------------------------------------------------


def ageing_in_json(report: ReportingAgeingReport, per_currency: dict[str, Any]) -> dict[str, Any]:
    currency = report.reporting_currency
    return {
        "as_of": report.as_of.isoformat(),
        "known_at": instant_text(report.known_at),
        "reporting_currency": currency,
        "grouping": report.grouping.value,
        "bucket_labels": list(report.bucket_labels),
        "rows": [
            {
                "key": row.key,
                "label": row.label,
                "currencies": list(row.currencies),
                "buckets": {
                    label: format_minor(amount, currency)
                    for label, amount in zip(report.bucket_labels, row.buckets_minor, strict=True)
                },
                "open": format_minor(row.open_minor, currency),
                "overdue": format_minor(row.overdue_minor, currency),
                "disputed": format_minor(row.disputed_minor, currency),
                "days_past_due_max": row.days_past_due_max,
            }
            for row in report.rows
        ],
        "rates_used": [rate_json(rate) for rate in report.rates_used],
        "per_currency": per_currency,
    }


def ageing_in_table(report: ReportingAgeingReport) -> FittedTable:
    currency = report.reporting_currency
    table = FittedTable(
        Column("Group", key=True),
        Column("Currencies", key=True),
        *(Column(label, Kind.AMOUNT) for label in report.bucket_labels),
        Column("Open", Kind.AMOUNT, style="bold"),
        title=f"Ageing as of {report.as_of} in {currency}",
        caption=rates_caption(report.rates_used),
    )
    for row in report.rows:
        table.add_row(
            row.label,
            ", ".join(row.currencies),
            *(amount_cell(amount, currency) for amount in row.buckets_minor),
            amount_cell(row.open_minor, currency),
        )
    return table


def kpis_in_json(report: ReportingKpiReport, per_currency: dict[str, Any]) -> dict[str, Any]:
    currency = report.reporting_currency

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "start_on": report.start_on.isoformat(),
        "end_on": report.end_on.isoformat(),
        "known_at": instant_text(report.known_at),
        "reporting_currency": currency,
        "grouping": report.grouping.value,
        "rows": [
            {
                "key": row.key,
                "label": row.label,
                "currencies": list(row.currencies),
                "beginning_ar": format_minor(row.receivables_minor_beginning, currency),
                "credit_sales": format_minor(row.credit_sales_minor, currency),
                "ending_ar": format_minor(row.receivables_minor_ending, currency),
                "current_ar": format_minor(row.receivables_minor_current, currency),
                "cash_collected": format_minor(row.cash_collected_minor, currency),
                "settled_in_goods": format_minor(row.settled_in_goods_minor, currency),
                "dso_days": text(row.dso_days),
                "dso_days_best_possible": text(row.dso_days_best_possible),
                "days_delinquent_average": text(row.days_delinquent_average),
                "cei_total_sales": text(row.cei_total_sales),
                "cei_monthly_average": text(row.cei_monthly_average),
                "collection_rate": text(row.collection_rate),
                "collection_rate_in_goods": text(row.collection_rate_in_goods),
                "ecl": format_minor(row.ecl_minor, currency),
            }
            for row in report.rows
        ],
        "rates_used": [rate_json(rate) for rate in report.rates_used],
        "per_currency": per_currency,
    }


def _rates_cell(rates: tuple[ExchangeRate, ...], currencies: tuple[str, ...]) -> str:
    """The rates a row was converted at (its currencies' own), each with its date and source;
    empty when every amount was in the reporting currency."""
    return "; ".join(
        f"1 {rate.from_currency} = {rate.rate_text} {rate.to_currency} from "
        f"{rate.effective_on.isoformat()} ({rate.source})"
        for rate in rates
        if rate.from_currency in currencies
    )


def ageing_in_csv(report: ReportingAgeingReport, *, raw: bool = False) -> str:
    """One CSV line per group: the converted buckets, open, overdue and disputed amounts in the
    reporting currency, the currencies they were converted from and the rates used (the
    per-currency figures are ``ageing --format csv`` without ``--reporting-currency``)."""
    currency = report.reporting_currency
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(
        [
            "as_of",
            "reporting_currency",
            "grouping",
            "key",
            "label",
            "currencies",
            *report.bucket_labels,
            "open",
            "overdue",
            "disputed",
            "days_past_due_max",
            "rates_used",
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                report.as_of.isoformat(),
                currency,
                report.grouping.value,
                row.key,
                row.label,
                " ".join(row.currencies),
                *(format_minor(amount, currency) for amount in row.buckets_minor),
                format_minor(row.open_minor, currency),
                format_minor(row.overdue_minor, currency),
                format_minor(row.disputed_minor, currency),
                "" if row.days_past_due_max is None else row.days_past_due_max,
                _rates_cell(report.rates_used, row.currencies),
            ]
        )
    return buffer.getvalue()


def kpis_in_csv(report: ReportingKpiReport, *, raw: bool = False) -> str:
    """One CSV line per group: the KPIs in the reporting currency, as ``kpis_in_json`` holds
    them, with the currencies converted from and the rates used (no countback DSO: see
    ``ReportingKpiRow``)."""
    currency = report.reporting_currency

    def text(value: Decimal | None) -> str:
        return "" if value is None else str(value)

    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(
        [
            "start_on",
            "end_on",
            "reporting_currency",
            "grouping",
            "key",
            "label",
            "currencies",
            "beginning_ar",
            "credit_sales",
            "ending_ar",
            "current_ar",
            "cash_collected",
            "settled_in_goods",
            "dso_days",
            "dso_days_best_possible",
            "days_delinquent_average",
            "cei_total_sales",
            "cei_monthly_average",
            "collection_rate",
            "collection_rate_in_goods",
            "ecl",
            "rates_used",
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                report.start_on.isoformat(),
                report.end_on.isoformat(),
                currency,
                report.grouping.value,
                row.key,
                row.label,
                " ".join(row.currencies),
                format_minor(row.receivables_minor_beginning, currency),
                format_minor(row.credit_sales_minor, currency),
                format_minor(row.receivables_minor_ending, currency),
                format_minor(row.receivables_minor_current, currency),
                format_minor(row.cash_collected_minor, currency),
                format_minor(row.settled_in_goods_minor, currency),
                text(row.dso_days),
                text(row.dso_days_best_possible),
                text(row.days_delinquent_average),
                text(row.cei_total_sales),
                text(row.cei_monthly_average),
                text(row.collection_rate),
                text(row.collection_rate_in_goods),
                format_minor(row.ecl_minor, currency),
                _rates_cell(report.rates_used, row.currencies),
            ]
        )
    return buffer.getvalue()


def kpis_in_table(report: ReportingKpiReport) -> FittedTable:
    currency = report.reporting_currency
    table = FittedTable(
        Column("Group", key=True),
        Column("Currencies", key=True),
        Column("Ending AR", Kind.AMOUNT),
        Column("Cash collected", Kind.AMOUNT),
        Column("DSO", Kind.NUMBER),
        Column("CEI %", Kind.NUMBER),
        Column("Collection %", Kind.NUMBER),
        Column("ECL", Kind.AMOUNT),
        title=f"KPIs {report.start_on} to {report.end_on} in {currency}",
        caption=rates_caption(report.rates_used),
    )
    for row in report.rows:
        table.add_row(
            row.label,
            ", ".join(row.currencies),
            amount_cell(row.receivables_minor_ending, currency),
            amount_cell(row.cash_collected_minor, currency),
            "" if row.dso_days is None else f"{row.dso_days:,}",
            "" if row.cei_total_sales is None else f"{row.cei_total_sales:,}",
            "" if row.collection_rate is None else f"{row.collection_rate:,}",
            amount_cell(row.ecl_minor, currency),
        )
    return table


def worklist_in_json(worklist: ReportingWorklist, per_currency: dict[str, Any]) -> dict[str, Any]:
    currency = worklist.reporting_currency
    return {
        "as_of": worklist.as_of.isoformat(),
        "known_at": instant_text(worklist.known_at),
        "owner": worklist.owner,
        "policy_version": worklist.policy_version,
        "reporting_currency": currency,
        "items": [
            {
                "customer_code": entry.item.customer_code,
                "level": entry.item.level,
                "currency": entry.item.currency,
                "overdue": format_minor(entry.item.overdue_minor, entry.item.currency),
                "overdue_reporting": format_minor(entry.overdue_minor_reporting, currency),
            }
            for entry in worklist.items
        ],
        "rates_used": [rate_json(rate) for rate in worklist.rates_used],
        "per_currency": per_currency,
    }


def worklist_in_table(worklist: ReportingWorklist, *, limit: int) -> FittedTable:
    currency = worklist.reporting_currency
    table = FittedTable(
        Column("#", Kind.NUMBER, key=True),
        Column("Customer", Kind.CODE, key=True),
        Column("Owner", drop=1),
        Column("Level"),
        Column("Overdue", Kind.AMOUNT),
        Column(f"Overdue in {currency}", Kind.AMOUNT),
        title=f"Worklist as of {worklist.as_of} by overdue amount in {currency} "
        f"(policy version {worklist.policy_version})",
        caption=rates_caption(worklist.rates_used),
    )
    shown, more = first_rows(tuple(worklist.items), limit, "customers")
    for rank, entry in enumerate(shown, start=1):
        item = entry.item
        table.add_row(
            str(rank),
            item.customer_code,
            item.owner,
            f"{item.level} {item.level_name}",
            money_cell(item.overdue_minor, item.currency),
            amount_cell(entry.overdue_minor_reporting, currency),
        )
    return with_more(table, more)
