"""The command line's output formats: CSV, JSON and rich tables of the query results
(ageing, KPIs, worklist), apart from the commands that print them (``queries``, ``app``)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from rich.table import Table

from arledger.adapters import csv_output
from arledger.adapters.data_output import (
    JsonData,
    amount_text,
    amounts_text,
    record_of,
    records_of,
    to_data,
)
from arledger.domain.money import format_minor
from arledger.projections import ageing, escalation, kpis
from arledger.projections.results import Worklist


def instant_text(known_at: datetime | None) -> str | None:
    return None if known_at is None else known_at.isoformat()


def top_overdue_table(rows: Sequence[ageing.AgeingRow]) -> Table:
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
        "known_at": instant_text(known_at),
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


def ageing_table(report: ageing.AgeingReport) -> Table:
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
        "known_at": instant_text(known_at),
        "as_of_log": to_data(report.as_of_log),
        "days": report.days,
        "grouping": data["grouping"],
        "policy_version": data["policy_version"],
        "bucket_labels": data["bucket_labels"],
        "provision_rates_bps": list(report.provision_rates_bps),
        "provision_rates": [str(rate) for rate in report.provision_rates],
        "rows": rows,
    }


def kpis_table(reports: Sequence[kpis.KpiReport], *, title: str) -> Table:
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
        "known_at": instant_text(known_at),
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


def reconciliations_table(items: Sequence[escalation.WorklistItem]) -> Table:
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


def worklist_table(
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
