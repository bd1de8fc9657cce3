"""Excel workbooks (``--format xlsx``) of the ageing, the worklist, a statement of account and
the KPIs, written with openpyxl.

Decided once: an amount is a number in major units with its currency's decimals (an exact
``Decimal`` from the integer minor units, written to the file as its decimal text), shown with
thousands separators and exactly that many decimals (``#,##0.00`` for CNY, ``#,##0`` for JPY);
the currency is a column of its own, so a sheet can be filtered and summed per currency and
amounts of different currencies are never in one cell. A spreadsheet holds 15 significant
digits: amounts up to 9,999,999,999,999.99 read back exactly (the JSON output is exact beyond).
Ratios are numbers (days to 0.1, percentages to 0.01, as the JSON); a ratio without a
denominator is an empty cell. Dates are dates (``yyyy-mm-dd``). Every sheet has one header row,
frozen, with a filter; a sheet ``about`` says what the workbook holds (date, cut of the log).

Invariant: every figure is the one the JSON output of the same command holds (the tests read
the workbook back and compare); text cells are written as text, never as formulas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final, TypeAlias

import attrs
from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.money import currency_exponent
from arledger.projections.ageing import AgeingReport
from arledger.projections.kpis import KpiReport, KpiRow
from arledger.projections.results import Worklist
from arledger.projections.statement import Statement

Value: TypeAlias = str | int | Decimal | date | None
DATE_FORMAT: Final = "yyyy-mm-dd"
DAYS_FORMAT: Final = "0.0"
PERCENT_FORMAT: Final = "0.00"
_HEADER_FONT: Final = Font(bold=True)
_HEADER_FILL: Final = PatternFill("solid", start_color="FFDDE4EE")
_WIDTH_MAX: Final = 48


@attrs.frozen
class Cell:
    value: Value
    number_format: str | None = None


def amount_format(currency: str) -> str:
    """The number format of an amount of ``currency``: its decimals, thousands separators."""
    exponent = currency_exponent(currency)
    return "#,##0" if exponent == 0 else "#,##0." + "0" * exponent


def amount(amount_minor: int, currency: str) -> Cell:
    """An amount as a number in major units with the currency's decimals."""
    exponent = currency_exponent(currency)
    value = Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
    return Cell(value, amount_format(currency))


def ratio(value: Decimal | None, number_format: str) -> Cell:
    return Cell(value, number_format)


def day(value: date | None) -> Cell:
    return Cell(value, DATE_FORMAT)


def _write_sheet(
    sheet: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Cell | Value]]
) -> None:
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = [len(header) for header in headers]
    for values in rows:
        row_index = sheet.max_row + 1
        for column, item in enumerate(values, start=1):
            given = item if isinstance(item, Cell) else Cell(item)
            target = sheet.cell(row=row_index, column=column)
            if isinstance(given.value, str):
                # Set as text: openpyxl would read "=..." as a formula (a customer named
                # =HYPERLINK(...) stays text, as in the CSV output).
                target.value = given.value
                target.data_type = TYPE_STRING
            else:
                target.value = given.value
            if given.number_format is not None:
                target.number_format = given.number_format
            widths[column - 1] = max(widths[column - 1], len(_shown(given)))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(width + 2, _WIDTH_MAX)
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = sheet.dimensions


def _shown(cell: Cell) -> str:
    if isinstance(cell.value, Decimal):
        return f"{cell.value:,}"
    return "" if cell.value is None else str(cell.value)


def _about(workbook: Workbook, facts: Sequence[tuple[str, Value]], log: AsOfLog | None) -> None:
    sheet = workbook.create_sheet("about")
    position: list[tuple[str, Value]] = []
    if log is not None:
        position.append(("log position", log.position))
        if log.committed_at is not None:
            position.append(("committed at", log.committed_at.isoformat()))
    _write_sheet(sheet, ("what", "value"), [list(fact) for fact in (*facts, *position)])


def _bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _first_sheet(workbook: Workbook, title: str) -> Worksheet:
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title
    return sheet


def _instant(known_at: datetime | None) -> str | None:
    return None if known_at is None else known_at.isoformat()


# Ageing -----------------------------------------------------------------------------------------


def ageing_workbook(report: AgeingReport, *, known_at: datetime | None = None) -> bytes:
    """Sheet ``ageing``: one row per group and currency (key, label, currency, the buckets,
    open, overdue, disputed, days past due max) as ``ageing --format json``'s rows; sheet
    ``totals``: the buckets per currency."""
    workbook = Workbook()
    labels = list(report.bucket_labels)
    rows: list[list[Cell | Value]] = [
        [
            row.key,
            row.label,
            row.currency,
            *(amount(value, row.currency) for value in row.buckets_minor),
            amount(row.open_minor, row.currency),
            amount(row.overdue_minor, row.currency),
            amount(row.disputed_minor, row.currency),
            row.days_past_due_max,
        ]
        for row in report.rows
    ]
    _write_sheet(
        _first_sheet(workbook, "ageing"),
        (
            "key",
            "label",
            "currency",
            *labels,
            "open",
            "overdue",
            "disputed",
            "days_past_due_max",
        ),
        rows,
    )
    totals: list[list[Cell | Value]] = [
        [
            currency,
            *(amount(value, currency) for value in amounts),
            amount(sum(amounts), currency),
        ]
        for currency, amounts in report.totals_by_currency().items()
    ]
    _write_sheet(workbook.create_sheet("totals"), ("currency", *labels, "open"), totals)
    _about(
        workbook,
        [
            ("report", "ageing (days past due)"),
            ("as_of", report.as_of),
            ("grouping", report.grouping.value),
            ("basis", report.policy.basis.value),
            ("known_at", _instant(known_at)),
        ],
        report.as_of_log,
    )
    return _bytes(workbook)


# Worklist ---------------------------------------------------------------------------------------

WORKLIST_COLUMNS: Final = (
    "rank",
    "customer_code",
    "name",
    "owner",
    "level",
    "level_name",
    "grade",
    "currency",
    "overdue",
    "days_past_due_max",
    "broken_promises",
    "suspended",
    "next_action",
    "next_action_due_on",
    "next_step",
    "next_step_due_on",
    "pre_due_reminders",
    "reconciliations",
)


def worklist_workbook(worklist: Worklist, *, known_at: datetime | None = None) -> bytes:
    """Sheet ``worklist``: one row per customer in the worklist's order, the figures of
    ``worklist --format json`` (reconciliation items and pre-due reminders as counts; the
    JSON lists them)."""
    workbook = Workbook()
    rows: list[list[Cell | Value]] = []
    for rank, item in enumerate(worklist, start=1):
        action = item.next_action
        step = item.next_step
        rows.append(
            [
                rank,
                item.customer_code,
                item.name,
                item.owner,
                item.level,
                item.level_name,
                None if item.grade is None else item.grade.value,
                item.currency,
                amount(item.overdue_minor, item.currency),
                item.days_past_due_max,
                item.broken_promises,
                "yes" if item.is_suspended else "no",
                None if action is None else action.action,
                day(None if action is None else action.due_on),
                None if step is None else step.step,
                day(None if step is None else step.due_on),
                len(item.pre_due_reminders),
                len(item.reconciliations),
            ]
        )
    _write_sheet(_first_sheet(workbook, "worklist"), WORKLIST_COLUMNS, rows)
    _about(
        workbook,
        [
            ("report", "worklist"),
            ("as_of", worklist.as_of),
            ("owner", worklist.owner),
            ("policy_version", worklist.policy_version),
            ("known_at", _instant(known_at)),
        ],
        worklist.as_of_log,
    )
    return _bytes(workbook)


# Statement of account ---------------------------------------------------------------------------

STATEMENT_COLUMNS: Final = (
    "on",
    "kind",
    "reference",
    "invoice_number",
    "amount",
    "balance",
    "note",
)


def statement_workbook(statement: Statement, *, known_at: datetime | None = None) -> bytes:
    """Sheet ``statement``: the opening balance, every movement with its running balance, the
    closing balance; sheet ``ageing``: the closing balance by bucket, as ``statement --format
    json``."""
    workbook = Workbook()
    currency = statement.currency

    def money(amount_minor: int) -> Cell:
        return amount(amount_minor, currency)

    rows: list[list[Cell | Value]] = [
        [day(statement.from_on), "opening_balance", None, None, None,
         money(statement.opening_balance_minor), None],
    ]  # fmt: skip
    rows.extend(
        [
            day(line.on),
            line.kind.value,
            line.reference,
            line.invoice_number,
            money(line.amount_minor),
            money(line.balance_minor),
            line.note,
        ]
        for line in statement.lines
    )
    rows.append(
        [day(statement.to_on), "closing_balance", None, None, None,
         money(statement.closing_balance_minor), None]
    )  # fmt: skip
    rows.append(
        [day(statement.to_on), "unapplied_cash", None, None,
         money(statement.unapplied_cash_minor), None, None]
    )  # fmt: skip
    _write_sheet(_first_sheet(workbook, "statement"), STATEMENT_COLUMNS, rows)
    row = statement.ageing
    _write_sheet(
        workbook.create_sheet("ageing"),
        ("currency", *statement.bucket_labels, "open", "overdue", "disputed", "days_past_due_max"),
        [
            [
                currency,
                *(money(value) for value in row.buckets_minor),
                money(row.open_minor),
                money(row.overdue_minor),
                money(row.disputed_minor),
                row.days_past_due_max,
            ]
        ],
    )
    _about(
        workbook,
        [
            ("report", "statement of account"),
            ("customer_code", statement.customer_code),
            ("customer_name", statement.customer_name),
            ("currency", currency),
            ("from_on", statement.from_on),
            ("to_on", statement.to_on),
            ("net_balance", money(statement.net_balance_minor).value),
            ("known_at", _instant(known_at)),
        ],
        statement.as_of_log,
    )
    return _bytes(workbook)


# KPIs -------------------------------------------------------------------------------------------

_KPI_AMOUNTS: Final = (
    ("beginning_ar", "receivables_minor_beginning"),
    ("credit_sales", "credit_sales_minor"),
    ("ending_ar", "receivables_minor_ending"),
    ("current_ar", "receivables_minor_current"),
    ("overdue_ar", "receivables_minor_overdue"),
    ("cash_collected", "cash_collected_minor"),
    ("settled_in_goods", "settled_in_goods_minor"),
)
_KPI_DAYS: Final = (
    "dso_days",
    "dso_days_countback",
    "dso_days_best_possible",
    "days_delinquent_average",
)
_KPI_PERCENTS: Final = (
    "cei_total_sales",
    "cei_monthly_average",
    "collection_rate",
    "collection_rate_in_goods",
    "promise_kept_rate_by_count",
    "promise_kept_rate_by_amount",
)
KPI_COLUMNS: Final = (
    "start_on",
    "end_on",
    "key",
    "label",
    "currency",
    *(name for name, _field in _KPI_AMOUNTS),
    *_KPI_DAYS,
    *_KPI_PERCENTS,
    "promises_judged",
    "promises_kept",
    "promised",
    "promised_paid",
    "ecl",
)
"""The columns of sheet ``kpis``, named as in ``kpis --format json`` (the expected credit loss
per bucket is in the JSON and CSV; its total is here)."""


def _kpi_cells(report: KpiReport, row: KpiRow) -> list[Cell | Value]:
    currency = row.currency
    return [
        day(report.start_on),
        day(report.end_on),
        row.key,
        row.label,
        currency,
        *(amount(getattr(row, field), currency) for _name, field in _KPI_AMOUNTS),
        *(ratio(getattr(row, name), DAYS_FORMAT) for name in _KPI_DAYS),
        *(ratio(getattr(row, name), PERCENT_FORMAT) for name in _KPI_PERCENTS),
        row.promises_judged,
        row.promises_kept,
        amount(row.promised_minor, currency),
        amount(row.promised_minor_paid, currency),
        amount(row.ecl_minor, currency),
    ]


def kpis_workbook(*reports: KpiReport, known_at: datetime | None = None) -> bytes:
    """Sheet ``kpis``: one row per group and currency of each report (a monthly series: every
    month, oldest first, under one header)."""
    assert reports
    workbook = Workbook()
    rows = [_kpi_cells(report, row) for report in reports for row in report.rows]
    _write_sheet(_first_sheet(workbook, "kpis"), KPI_COLUMNS, rows)
    _about(
        workbook,
        [
            ("report", "collection KPIs"),
            ("from", reports[0].start_on),
            ("to", reports[-1].end_on),
            ("grouping", reports[0].grouping.value),
            ("known_at", _instant(known_at)),
        ],
        reports[0].as_of_log,
    )
    return _bytes(workbook)
