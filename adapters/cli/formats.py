"""The command line's output formats: CSV, JSON and rich tables of the query results
(ageing, KPIs, worklist), apart from the commands that print them (``queries``, ``app``)."""

from __future__ import annotations

import enum
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final, TypeVar

import attrs
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

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
from arledger.domain.policy import action_in_words
from arledger.projections import ageing, escalation, kpis
from arledger.projections.results import Worklist


def instant_text(known_at: datetime | None) -> str | None:
    return None if known_at is None else known_at.isoformat()


def top_overdue_table(rows: Sequence[ageing.AgeingRow]) -> FittedTable:
    table = FittedTable(
        Column("Currency", Kind.CODE, key=True),
        Column("Customer", Kind.CODE, key=True),
        Column("Name", key=True, drop=1),
        Column("Overdue", Kind.AMOUNT),
        Column("Open", Kind.AMOUNT),
        Column("Days past due (max)", Kind.NUMBER),
        title="Customers with the most overdue money",
    )
    for row in rows:
        table.add_row(
            row.currency,
            row.key,
            row.label,
            amount_cell(row.overdue_minor, row.currency),
            amount_cell(row.open_minor, row.currency),
            f"{row.days_past_due_max:,}",
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
                "settled_in_goods": amount_text(row, "settled_in_goods_minor"),
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


def ageing_table(report: ageing.AgeingReport) -> FittedTable:
    grouping = report.grouping
    show_key = grouping not in (ageing.AgeingGrouping.PORTFOLIO, ageing.AgeingGrouping.CURRENCY)
    show_label = grouping is ageing.AgeingGrouping.CUSTOMER
    # Settled in goods [以物抵债], apart from cash: a column only when some row has any.
    show_goods = any(row.settled_in_goods_minor for row in report.rows)
    table = FittedTable(
        *([Column(grouping.value.capitalize(), Kind.CODE, key=True)] if show_key else []),
        *([Column("Name", key=True, drop=1)] if show_label else []),
        Column("Currency", Kind.CODE, key=True),
        *(Column(label, Kind.AMOUNT) for label in report.bucket_labels),
        Column("Open", Kind.AMOUNT, style="bold"),
        Column("of which disputed", Kind.AMOUNT),
        *([Column("settled in goods", Kind.AMOUNT, drop=2)] if show_goods else []),
        title=f"Ageing as of {report.as_of} by {grouping.value} (days past due)",
    )
    lead_columns = int(show_key) + int(show_label)
    for row in report.rows:
        table.add_row(
            *([row.key] if show_key else []),
            *([row.label] if show_label else []),
            row.currency,
            *(amount_cell(amount, row.currency) for amount in row.buckets_minor),
            amount_cell(row.open_minor, row.currency),
            amount_cell(row.disputed_minor, row.currency),
            *([amount_cell(row.settled_in_goods_minor, row.currency)] if show_goods else []),
        )
    if show_key and report.rows:
        table.add_section()
        for currency, amounts in report.totals_by_currency().items():
            table.add_row(
                "total",
                *([""] * (lead_columns - 1)),
                currency,
                *(amount_cell(amount, currency) for amount in amounts),
                amount_cell(sum(amounts), currency),
                amount_cell(
                    sum(row.disputed_minor for row in report.rows if row.currency == currency),
                    currency,
                ),
                *(
                    [
                        amount_cell(
                            sum(
                                row.settled_in_goods_minor
                                for row in report.rows
                                if row.currency == currency
                            ),
                            currency,
                        )
                    ]
                    if show_goods
                    else []
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


def kpis_table(reports: Sequence[kpis.KpiReport], *, title: str) -> FittedTable:
    """One row per group and currency of each report; a Month column when there are several."""
    by_month = len(reports) > 1
    show_key = reports[0].grouping is not kpis.KpiGrouping.PORTFOLIO
    amount, ratio_column = Kind.AMOUNT, Kind.NUMBER
    table = FittedTable(
        *([Column("Month", Kind.CODE, key=True)] if by_month else []),
        *(
            [Column(reports[0].grouping.value.capitalize(), Kind.CODE, key=True)]
            if show_key
            else []
        ),
        Column("Currency", Kind.CODE, key=True),
        Column("Sales", amount),
        Column("AR end", amount),
        Column("Cash", amount),
        Column("Goods", amount),
        Column("DSO", ratio_column),
        Column("DSO cb", ratio_column),
        Column("DSO best", ratio_column),
        Column("ADD", ratio_column),
        Column("CEI %", ratio_column),
        Column("CEI/m %", ratio_column),
        Column("Coll. %", ratio_column),
        Column("Goods %", ratio_column),
        Column("Kept n%", ratio_column),
        Column("Kept amt%", ratio_column),
        Column("ECL", amount),
        title=title,
    )

    def ratio(value: Decimal | None) -> str:
        return "-" if value is None else f"{value:,}"

    rows = [(report, row) for report in reports for row in report.rows]
    for report, row in rows:
        table.add_row(
            *([f"{report.start_on:%Y-%m}"] if by_month else []),
            *([row.key] if show_key else []),
            row.currency,
            amount_cell(row.credit_sales_minor, row.currency),
            amount_cell(row.receivables_minor_ending, row.currency),
            amount_cell(row.cash_collected_minor, row.currency),
            amount_cell(row.settled_in_goods_minor, row.currency),
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
            amount_cell(row.ecl_minor, row.currency),
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


def reconciliations_table(items: Sequence[escalation.WorklistItem]) -> FittedTable:
    """The reconciliation items open on the worklist's customers, in worklist order: the
    collector follows each difference up until it is resolved or accepted."""
    table = FittedTable(
        Column("Customer", Kind.CODE, key=True),
        Column("Confirmation", Kind.CODE, key=True),
        Column("Currency", Kind.CODE, key=True),
        Column("Difference", Kind.AMOUNT),
        Column("Open since", Kind.CODE),
        title="Reconciliation items open",
    )
    for item in items:
        for found in item.reconciliations:
            table.add_row(
                item.customer_code,
                found.confirmation_reference,
                found.currency,
                amount_cell(found.difference_minor, found.currency),
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


def worklist_columns() -> tuple[Column, ...]:
    """The worklist table's columns (the table-layout benchmark lays out the same)."""
    return (
        Column("#", Kind.NUMBER, key=True),
        Column("Customer", Kind.CODE, key=True),
        Column("Name", key=True, drop=1),
        Column("Owner", drop=3),
        Column("Level"),
        Column("Grade", drop=2),
        Column("Overdue", Kind.AMOUNT),
        Column("Days past due", Kind.NUMBER),
        Column("Broken promises", Kind.NUMBER),
        Column("Next action"),
        Column("Due", Kind.CODE),
        Column("Also", drop=4),
    )


def worklist_table(
    as_of: date, owner: str | None, items: Sequence[escalation.WorklistItem], *, limit: int = 0
) -> FittedTable:
    title = f"Worklist as of {as_of.isoformat()}" + (f", owner {owner}" if owner else "")
    items, more = first_rows(tuple(items), limit, "customers")
    table = FittedTable(*worklist_columns(), title=title)
    for rank, item in enumerate(items, start=1):
        action = item.next_action
        table.add_row(
            str(rank),
            item.customer_code,
            item.name,
            item.owner,
            f"{item.level} {item.level_name}" + (" (held)" if item.is_suspended else ""),
            "-" if item.grade is None else words(item.grade.value),
            money_cell(item.overdue_minor, item.currency),
            f"{item.days_past_due_max:,}",
            str(item.broken_promises),
            "-" if action is None else words(action.action),
            "-"
            if action is None
            else action.due_on.isoformat() + (" !" if action.is_overdue else ""),
            _worklist_also(item),
        )
    table.caption = (
        "Held: an open promise, or the pause the policy sets for a diagnosed cause, holds"
        " the level; '!': the action or next step is overdue;"
        " find the cause first: why the customer pays late, before acting; negotiate first:"
        " the level's actions wait for a negotiation (a visit or demand letter) or an"
        " approver's override; file claim: the customer's bankruptcy was filed."
        if items
        else "No customer needs collection action on this date."
    )
    return with_more(table, more)


T = TypeVar("T")


def first_rows(rows: tuple[T, ...], limit: int, what: str) -> tuple[tuple[T, ...], str | None]:
    """The first ``limit`` rows (0: all) of a table, and what to say of the rest (None:
    nothing left out): a terminal is read from the top, and drawing tens of thousands of rows
    takes longer than answering the query (JSON holds all)."""
    if not limit or len(rows) <= limit:
        return rows, None
    return rows[:limit], (
        f"The first {limit:,} of {len(rows):,} {what}: --limit 0 shows all,"
        " --format json gives them as data."
    )


def with_more(table: FittedTable, more: str | None) -> FittedTable:
    """``table`` with ``more`` (``first_rows``'s word on the rows left out) after its caption."""
    if more is not None:
        table.caption = more if not table.caption else f"{table.caption} {more}"
    return table


# Tables that fit the terminal -----------------------------------------------------------------
#
# Every table the command line prints is a ``FittedTable``: it is laid out when printed, for the
# width of the console printing it (80 columns and up), by these rules, so that no amount, code
# or date is ever cut:
# 1. every column at its natural width when that fits;
# 2. else names and other text wrap at words (long words fold), amounts and codes never do;
# 3. else the optional columns drop, least useful first (``Column.drop``), said in the caption;
# 4. else a vertical layout: a few rows turn into columns (one per row, the fields down the
#    side), many rows into one block per row (its key as a heading, then label-value pairs).


class Kind(enum.Enum):
    """How a column's cells may be laid out."""

    TEXT = "text"
    """Names, reasons, levels: wrap at words, a long word folds."""
    CODE = "code"
    """Customer codes, currencies, dates: never wrapped or cut."""
    AMOUNT = "amount"
    """Money: right-aligned, never wrapped or cut."""
    NUMBER = "number"
    """Counts, days, ratios: right-aligned, never wrapped or cut."""


TEXT_WIDTH_MIN: Final = 14
"""The narrowest a text column is made before columns drop (a name then wraps over lines)."""
TRANSPOSE_ROWS_MAX: Final = 8
"""Up to this many rows, a table too wide for the terminal turns its rows into columns."""


@attrs.frozen
class Column:
    """A column of a ``FittedTable``. ``drop``: 0 for a column always shown, else the order in
    which optional columns go when the table does not fit (the highest first). ``key``: the
    column names the row (customer, currency): a block of the vertical layout is headed by it."""

    header: str
    kind: Kind = Kind.TEXT
    drop: int = 0
    key: bool = False
    style: str | None = None

    @property
    def rigid(self) -> bool:
        return self.kind is not Kind.TEXT

    @property
    def justify(self) -> JustifyMethod:
        return "right" if self.kind in (Kind.AMOUNT, Kind.NUMBER) else "left"


@attrs.frozen
class _Row:
    cells: tuple[str, ...]
    style: str | None
    section: bool


class FittedTable:
    """A table laid out for the width of the console that prints it (the rules above).

    Built like a ``rich.table.Table`` (``add_row``, ``add_section``, ``caption``) but from
    ``Column`` descriptions and plain-text cells."""

    def __init__(
        self, *columns: Column, title: str | None = None, caption: str | None = None
    ) -> None:
        self.columns = columns
        self.title = title
        self.caption = caption
        self.rows: list[_Row] = []
        self._section = False
        self._measures: list[_Measure] | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def add_row(self, *cells: str, style: str | None = None) -> None:
        assert len(cells) == len(self.columns), (cells, self.columns)
        self.rows.append(_Row(tuple(cells), style, self._section))
        self._measures = None
        self._section = False

    def add_section(self) -> None:
        self._section = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(options.max_width, 40), options.max_width)

    def layout(self, width: int) -> RenderableType:
        """The table for a console ``width`` columns wide."""
        optional = sorted(
            (index for index, column in enumerate(self.columns) if column.drop),
            key=lambda index: -self.columns[index].drop,
        )
        for dropped in range(len(optional) + 1):
            shown = [index for index in range(len(self.columns)) if index not in optional[:dropped]]
            widths = self._widths(shown, width)
            if widths is not None:
                return self._horizontal(
                    shown, widths, [self.columns[i] for i in optional[:dropped]]
                )
        if len(self.rows) <= TRANSPOSE_ROWS_MAX:
            transposed = self._transposed(width)
            if transposed is not None:
                return transposed
        return self._blocks(width)

    # The horizontal layout ------------------------------------------------------------------

    def _widths(self, shown: Sequence[int], width: int) -> list[int] | None:
        if self._measures is None:  # measured once, whatever is dropped
            self._measures = [
                _measure(
                    column.header,
                    [row.cells[index] for row in self.rows],
                    [column.rigid] * len(self.rows),
                )
                for index, column in enumerate(self.columns)
            ]
        return _fit_widths([self._measures[index] for index in shown], width)

    def _horizontal(
        self, shown: Sequence[int], widths: Sequence[int], dropped: Sequence[Column]
    ) -> Table:
        caption = self.caption
        if dropped and self.rows:
            names = ", ".join(column.header for column in dropped)
            note = f"Not shown at this width: {names} (a wider terminal or --format json)."
            caption = note if caption is None else f"{caption} {note}"
        table = Table(
            title=self.title, title_justify="left", caption=caption, caption_justify="left"
        )
        for index, column_width in zip(shown, widths, strict=True):
            column = self.columns[index]
            table.add_column(
                column.header,
                justify=column.justify,
                width=column_width,
                overflow="fold",
                style=column.style,
            )
        for row in self.rows:
            if row.section:
                table.add_section()
            table.add_row(*(row.cells[index] for index in shown), style=row.style)
        return table

    # The vertical layouts -------------------------------------------------------------------

    def _keys(self) -> list[int]:
        keys = [index for index, column in enumerate(self.columns) if column.key]
        return keys or [0]

    def _heading(self, row: _Row) -> str:
        return "  ".join(row.cells[index] for index in self._keys() if row.cells[index])

    def _transposed(self, width: int) -> Table | None:
        """One column per row, headed by the row's key; the fields down the side."""
        keys = self._keys()
        fields = [index for index in range(len(self.columns)) if index not in keys]
        headers = ["", *(self._heading(row) for row in self.rows)]
        cells = [
            [self.columns[index].header for index in fields],
            *([row.cells[index] for index in fields] for row in self.rows),
        ]
        rigid = [
            [False] * len(fields),
            *([self.columns[index].rigid for index in fields] for _row in self.rows),
        ]
        widths = _fit_widths(
            [
                _measure(header, column, column_rigid)
                for header, column, column_rigid in zip(headers, cells, rigid, strict=True)
            ],
            width,
        )
        if widths is None:
            return None
        table = Table(
            title=self.title, title_justify="left", caption=self.caption, caption_justify="left"
        )
        table.add_column("", width=widths[0], overflow="fold", style="bold")
        for row, column_width, heading in zip(self.rows, widths[1:], headers[1:], strict=True):
            justify: JustifyMethod = "right"
            table.add_column(
                heading, justify=justify, width=column_width, overflow="fold", style=row.style
            )
        for position in range(len(fields)):
            table.add_row(*(column[position] for column in cells))
        return table

    def _blocks(self, width: int) -> Group:
        """One block per row: its key as a heading, its rigid fields as label-value pairs as
        many to a line as fit, its text fields a line each (wrapping)."""
        keys = self._keys()
        pairs = [
            index
            for index in range(len(self.columns))
            if index not in keys and self.columns[index].rigid
        ]
        texts = [
            index
            for index in range(len(self.columns))
            if index not in keys and not self.columns[index].rigid
        ]
        label_width = max((cell_len(self.columns[index].header) for index in pairs), default=0)
        value_width = max(
            (_width_of(row.cells[index]) for row in self.rows for index in pairs), default=0
        )
        # A grid of an indent and ``per_line`` pairs, two spaces between its columns.
        pair_width = label_width + value_width + 4
        per_line = max(1, (width - 1) // pair_width)
        parts: list[RenderableType] = []
        if self.title:
            parts.append(Text(self.title, style="table.title"))
        for row in self.rows:
            if row.section:
                parts.append(Rule(style="dim"))
            parts.append(Text(self._heading(row), style=f"bold {row.style or ''}".strip()))
            for index in texts:
                if row.cells[index]:
                    line = Text("  ")
                    line.append(self.columns[index].header + ": ", style="dim")
                    line.append(row.cells[index])
                    parts.append(line)
            if pairs:
                grid = Table.grid(padding=(0, 2), pad_edge=False)
                grid.add_column(width=1)
                for _ in range(per_line):
                    grid.add_column(width=label_width, style="dim", overflow="fold")
                    grid.add_column(justify="right", width=value_width, overflow="fold")
                filled = [index for index in pairs if row.cells[index]]
                for start in range(0, len(filled), per_line):
                    line_cells: list[str] = [""]
                    for index in filled[start : start + per_line]:
                        line_cells += [self.columns[index].header, row.cells[index]]
                    line_cells += [""] * (1 + 2 * per_line - len(line_cells))
                    grid.add_row(*line_cells)
                parts.append(grid)
        if self.caption:
            parts.append(Text(self.caption, style="table.caption"))
        return Group(*parts)


@attrs.frozen
class _Measure:
    """What a column needs: ``minimum`` (rigid cells whole, text folded to ``TEXT_WIDTH_MIN``,
    the header's longest word), ``natural`` (every cell and the header on one line) and whether
    it holds text (which gets spare room first)."""

    minimum: int
    natural: int
    texty: bool


def _measure(header: str, cells: Sequence[str], rigid: Sequence[bool]) -> _Measure:
    header_word = max((cell_len(word) for word in header.split()), default=0)
    lengths = [_width_of(cell) for cell in cells]
    need = [
        length if is_rigid else min(length, TEXT_WIDTH_MIN)
        for length, is_rigid in zip(lengths, rigid, strict=True)
    ]
    return _Measure(
        minimum=max([header_word, *need, 1]),
        natural=max([_width_of(header), *lengths, 1]),
        texty=not all(rigid),
    )


def _fit_widths(measures: Sequence[_Measure], width: int) -> list[int] | None:
    """Widths of columns (without padding) that fit a boxed table in ``width``, or None.

    Every column gets its minimum; spare room goes to text columns first (fewer wrapped names),
    then lets headers stand on one line."""
    budget = width - (3 * len(measures) + 1)
    widths = [measure.minimum for measure in measures]
    if sum(widths) > budget:
        return None
    spare = budget - sum(widths)
    texty = [index for index, measure in enumerate(measures) if measure.texty]
    for group in (texty, range(len(measures))):
        while spare > 0:
            growing = [index for index in group if widths[index] < measures[index].natural]
            if not growing:
                break
            narrowest = min(growing, key=lambda index: widths[index])
            widths[narrowest] += 1
            spare -= 1
    return widths


def _width_of(cell: str) -> int:
    """The width a cell needs on one line each of its lines (a cell may hold several amounts,
    one a line)."""
    return max((cell_len(line) for line in cell.splitlines()), default=0)


def amount_cell(amount_minor: int, currency: str) -> str:
    """An amount for people: thousands separated, e.g. 1056473 CNY -> '10,564.73'."""
    return f"{Decimal(format_minor(amount_minor, currency)):,}"


def money_cell(amount_minor: int, currency: str) -> str:
    """An amount with its currency, for a cell with no currency column beside it:
    '10,564.73 CNY'."""
    return f"{amount_cell(amount_minor, currency)} {currency}"


def record_table(
    names: Sequence[str],
    records: Sequence[Sequence[str]],
    *,
    kinds: dict[str, Kind],
    keys: Sequence[str] = (),
    drops: dict[str, int] | None = None,
    title: str,
    caption: str | None = None,
) -> FittedTable:
    """A ``FittedTable`` of the same cells as a command's CSV (``names`` its header): an
    ``amount`` cell (an exact decimal string) thousands-separated, a ``kind`` cell in words, a
    column headed by its name in words; ``kinds`` names the columns that are not text."""
    drops = drops or {}
    table = FittedTable(
        *(
            Column(
                words(name).capitalize(),
                kinds.get(name, Kind.TEXT),
                drop=drops.get(name, 0),
                key=name in keys,
            )
            for name in names
        ),
        title=title,
        caption=caption,
    )
    for record in records:
        table.add_row(
            *(
                f"{Decimal(cell):,}"
                if kinds.get(name) is Kind.AMOUNT and cell
                else words(cell)
                if name == "kind"
                else cell
                for name, cell in zip(names, record, strict=True)
            )
        )
    return table


GRADE_WORDS: Final = {
    "finance_follow_up": "finance follow-up",
    "focused_pursuit": "focused pursuit",
    "legal_collection": "legal collection",
}
"""Words for the grades a table shows; actions are ``policy.ACTION_WORDS``."""


def words(code: str) -> str:
    """A code (an action, a grade, a kind) in words: ``lawyer_letter`` -> "lawyer's letter";
    any other code has its underscores turned into spaces."""
    return GRADE_WORDS.get(code) or action_in_words(code)
