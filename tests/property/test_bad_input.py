"""Bad input: generated files with one malformed row, and malformed commands, are refused.

Each file is valid but for one row, broken in one way: an unknown currency, an amount that is
negative, zero, too large, not a number or finer than its currency allows, an impossible or
out-of-range date, a due date before the issue date, a repeated key with other content, an
empty required cell, an unknown customer or invoice, a byte that is not UTF-8, an overlong cell.
By default the import names that row's line and field and records nothing; asked to keep the
good rows it records exactly what importing the file without that row records, and writes the
row to the rejects file. Bad commands raise an ``ArledgerError`` that carries the field or ids,
and record nothing.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.formats import ageing_csv, kpis_csv
from arledger.adapters.csv_output import neutralise, restore
from arledger.adapters.ingest.importer import (
    FIELD_LENGTH_MAX,
    REJECT_COLUMNS,
    ColumnMapping,
    ImportKind,
    import_file,
    preset,
)
from arledger.domain.errors import (
    AccountCurrencyError,
    ArledgerError,
    CurrencyMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    ImportRowError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvalidTextError,
    InvoiceNotFoundError,
    OverAllocationError,
    PaymentNotFoundError,
    UnknownCurrencyError,
)
from arledger.domain.events import (
    ActionChannel,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    InvoiceIssued,
    PaymentReceived,
    PaymentTermsKind,
    RiskRating,
)
from arledger.domain.money import (
    AMOUNT_MINOR_MAX,
    CURRENCY_EXPONENTS,
    Money,
    currency_exponent,
    format_minor,
)
from arledger.domain.policy import AgeingPolicy, EscalationPolicy, LossRate
from arledger.domain.rules import KEY_LENGTH_MAX, REASON_LENGTH_MAX, TEXT_LENGTH_MAX
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.kpis import KpiGrouping, KpiReport, KpiRow
from tests import strategies
from tests.conftest import FixedClock
from tests.strategies import (
    bad_amount_texts,
    bad_keys,
    bad_names,
    bad_notes,
    dates_outside_range,
)

DATE_MIN: Final = date(2000, 1, 1)
DATE_MAX: Final = date(2099, 12, 31)
CURRENCIES: Final = ("USD", "EUR", "JPY", "KWD", "CNY")


# Layouts ----------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Layout:
    """A file shape: header columns (None for a column no field maps) and its mapping."""

    name: str
    kind: ImportKind
    mapping: ColumnMapping
    columns: tuple[tuple[str | None, str], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for field, _column in self.columns if field is not None)

    @property
    def date_format(self) -> str:
        return self.mapping.date_format


IBM: Final = Layout(
    name="ibm",
    kind=ImportKind.INVOICES,
    mapping=preset("ibm"),
    columns=(
        (None, "countryCode"),
        ("customer_code", "customerID"),
        ("invoice_number", "invoiceNumber"),
        ("amount", "InvoiceAmount"),
        ("issued_on", "InvoiceDate"),
        ("due_on", "DueDate"),
        ("settled_on", "SettledDate"),
    ),
)
_INVOICE_COLUMNS: Final = (
    ("customer_code", "Kunde"),
    ("customer_name", "Name"),
    ("invoice_number", "Rechnung"),
    ("amount", "Betrag"),
    ("currency", "Währung"),
    ("issued_on", "Datum"),
    ("due_on", "Fällig"),
    ("settled_on", "Bezahlt am"),
    ("paid_amount", "Bezahlt"),
)
CUSTOM: Final = Layout(
    name="custom",
    kind=ImportKind.INVOICES,
    mapping=ColumnMapping(columns=dict(_INVOICE_COLUMNS), date_format="%d.%m.%Y"),
    columns=_INVOICE_COLUMNS,
)
_PAYMENT_COLUMNS: Final = (
    ("bank_reference", "Reference"),
    ("customer_code", "Payer"),
    ("amount", "Amount"),
    ("currency", "Currency"),
    ("value_on", "Value date"),
    ("invoice_number", "Invoice"),
)
PAYMENTS: Final = Layout(
    name="payments",
    kind=ImportKind.PAYMENTS,
    mapping=ColumnMapping(columns=dict(_PAYMENT_COLUMNS), date_format="%Y-%m-%d"),
    columns=_PAYMENT_COLUMNS,
)


# Valid rows ---------------------------------------------------------------------------------------

keys = st.from_regex(r"[A-Z][A-Z0-9-]{0,11}", fullmatch=True)
names = st.sampled_from(["Acme", "Müller GmbH", "王芳贸易", "Acme, Inc.", 'The "Q" Ltd', "O'Neil"])
business_dates = st.dates(DATE_MIN, DATE_MAX)


@attrs.define(kw_only=True)
class Row:
    """One generated row: its cells by field (and column, for unmapped ones) and its facts."""

    cells: dict[str, str]
    currency: str
    amount_minor: int
    day_on: date
    invoice_number: str = ""


@st.composite
def invoice_rows(draw: st.DrawFn, layout: Layout, rows_min: int = 1) -> list[Row]:
    numbers = draw(st.lists(keys, min_size=rows_min, max_size=6, unique=True))
    codes = draw(st.lists(keys, min_size=1, max_size=3, unique=True))
    customer_names = {code: draw(names) for code in codes}
    # One currency per customer: an account takes nothing in another (a row would be refused).
    currencies = {
        code: draw(st.sampled_from(CURRENCIES)) if "currency" in layout.fields else "USD"
        for code in codes
    }
    rows = []
    for number in numbers:
        code = draw(st.sampled_from(codes))
        currency = currencies[code]
        amount_minor = draw(st.integers(1, 10**9))
        issued_on = draw(business_dates)
        due_on = issued_on + timedelta(days=draw(st.integers(0, 120)))
        settled_after = draw(st.none() | st.integers(-10, 200))
        cells = {
            "countryCode": "391",
            "customer_code": code,
            "customer_name": customer_names[code],
            "invoice_number": number,
            "amount": format_minor(amount_minor, currency),
            "currency": currency,
            "issued_on": issued_on.strftime(layout.date_format),
            "due_on": due_on.strftime(layout.date_format),
            "settled_on": "",
            "paid_amount": "",
        }
        if settled_after is not None:
            settled_on = issued_on + timedelta(days=settled_after)
            cells["settled_on"] = settled_on.strftime(layout.date_format)
            if "paid_amount" in layout.fields and draw(st.booleans()):
                paid_minor = draw(st.integers(1, amount_minor))
                cells["paid_amount"] = format_minor(paid_minor, currency)
        rows.append(
            Row(
                cells=cells,
                currency=currency,
                amount_minor=amount_minor,
                day_on=issued_on,
                invoice_number=number,
            )
        )
    return rows


@st.composite
def payment_rows(draw: st.DrawFn, invoices: list[Row]) -> list[Row]:
    """Payments of the (unsettled) ``invoices``: at most one per invoice, never more than it,
    naming it; then payments left to the oldest-due-first allocation, or from new payers."""
    paid = draw(
        st.lists(st.sampled_from(invoices), min_size=1, max_size=len(invoices), unique_by=id)
    )
    references = draw(st.lists(keys, min_size=len(paid) + 2, max_size=len(paid) + 2, unique=True))
    rows = []
    for invoice, reference in zip(paid, references, strict=False):
        amount_minor = draw(st.integers(1, invoice.amount_minor))
        rows.append(
            _payment(
                reference,
                invoice.cells["customer_code"],
                amount_minor,
                invoice.currency,
                draw(business_dates),
                invoice.invoice_number,
            )
        )
    # One currency per customer: a payer's payments are in its account's currency.
    currency_of = {invoice.cells["customer_code"]: invoice.currency for invoice in invoices}
    for reference in references[len(paid) :]:
        if draw(st.booleans()):
            # A new payer is opened by the file; its money stays unapplied.
            payer = draw(
                st.sampled_from(sorted({i.cells["customer_code"] for i in invoices}))
                | keys.map(lambda key: "P-" + key)
            )
            currency = currency_of.setdefault(payer, draw(st.sampled_from(CURRENCIES)))
            amount_minor = draw(st.integers(1, 10**9))
            rows.append(_payment(reference, payer, amount_minor, currency, draw(business_dates)))
    return rows


def _payment(
    reference: str,
    payer: str,
    amount_minor: int,
    currency: str,
    value_on: date,
    invoice_number: str = "",
) -> Row:
    return Row(
        cells={
            "bank_reference": reference,
            "customer_code": payer,
            "amount": format_minor(amount_minor, currency),
            "currency": currency,
            "value_on": value_on.strftime(PAYMENTS.date_format),
            "invoice_number": invoice_number,
        },
        currency=currency,
        amount_minor=amount_minor,
        day_on=value_on,
        invoice_number=invoice_number,
    )


def render(layout: Layout, rows: list[Row]) -> bytes:
    """The CSV file; a lone surrogate in a cell becomes the byte it stands for."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([column for _field, column in layout.columns])
    for row in rows:
        writer.writerow([row.cells[field or column] for field, column in layout.columns])
    return text.getvalue().encode("utf-8", "surrogateescape")


def cells_of(layout: Layout, row: Row) -> list[str]:
    """The row's cells as the rejects file writes them: bytes not UTF-8 as \\x escapes."""
    return [
        row.cells[field or column]
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "backslashreplace")
        for field, column in layout.columns
    ]


# Breaking one row -------------------------------------------------------------------------------

# A breaker draws how to break ``rows[index]`` in place and returns the field the import must
# name. It may also break the row by making it repeat an earlier one.
Breaker = Callable[[st.DrawFn, Layout, list[Row], int], str]

impossible_days = st.sampled_from([(2, 30), (2, 31), (4, 31), (13, 1), (0, 5), (6, 0), (2, 29)])
years_out_of_range = st.sampled_from([0, 1, 999, 1899, 2200, 9999, 10000, 12345])


def _date_field(draw: st.DrawFn, layout: Layout) -> str:
    fields = [field for field in ("issued_on", "due_on", "value_on") if field in layout.fields]
    return draw(st.sampled_from(fields))


def _impossible_date(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = _date_field(draw, layout)
    month, day = draw(impossible_days)
    year = draw(st.sampled_from([2013, 2023, 2099])) if (month, day) == (2, 29) else 2013
    rows[index].cells[field] = _date_text(layout, year, month, day)
    return field


def _out_of_range_date(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = _date_field(draw, layout)
    rows[index].cells[field] = _date_text(layout, draw(years_out_of_range), 1, 2)
    return field


def _date_text(layout: Layout, year: int, month: int, day: int) -> str:
    return (
        layout.date_format.replace("%Y", f"{year:04d}")
        .replace("%m", f"{month:02d}")
        .replace("%d", f"{day:02d}")
    )


def _wrongly_formatted_date(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = _date_field(draw, layout)
    on = draw(business_dates)
    formats = [
        f for f in ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y") if f != layout.date_format
    ]
    text = draw(
        st.sampled_from([on.strftime(f) for f in formats] + ["yesterday", "2013", "13/13/13"])
    )
    rows[index].cells[field] = text
    return field


def _due_before_issue(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    issued_on = rows[index].day_on
    due_on = issued_on - timedelta(days=draw(st.integers(1, 400)))
    rows[index].cells["due_on"] = due_on.strftime(layout.date_format)
    return "due_on"


def _due_too_late(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    issued_on = rows[index].day_on
    due_on = min(issued_on + timedelta(days=draw(st.integers(3651, 40000))), date(2199, 12, 31))
    rows[index].cells["due_on"] = due_on.strftime(layout.date_format)
    return "due_on"


def _unknown_currency(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["currency"] = draw(
        st.sampled_from(["XYZ", "usd", "US", "EURO", "€", "1", "US D"])
        | st.from_regex(r"[A-Z]{3}", fullmatch=True).filter(lambda c: c not in CURRENCY_EXPONENTS)
    )
    return "currency"


def _negative_amount(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["amount"] = "-" + rows[index].cells["amount"]
    return "amount"


def _zero_amount(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["amount"] = draw(st.sampled_from(["0", "0.00", "-0", "+0", "0.0", ".0"]))
    return "amount"


def _huge_amount(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    amount_minor = draw(st.integers(AMOUNT_MINOR_MAX + 1, 10**24))
    rows[index].cells["amount"] = format_minor(amount_minor, rows[index].currency)
    return "amount"


not_numbers = st.sampled_from(
    [
        "abc", "NaN", "nan", "inf", "-Infinity", "sNaN", "1e3", "1E+2", "2.5e1", "0x10",
        "1,5", "1.2.3", "１２", "$10", "10 USD", "1 000", "--1", "1..0", ".", "+",
    ]
)  # fmt: skip
text_without_digits = st.text(
    st.characters(exclude_categories=["Cs", "Nd"], exclude_characters="\x00"), max_size=30
)


def _amount_not_a_number(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["amount"] = draw(not_numbers | text_without_digits)
    return "amount"


def _amount_too_precise(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    exponent = currency_exponent(rows[index].currency)
    decimals = draw(st.integers(exponent + 1, exponent + 3))
    fraction = draw(st.integers(1, 10**decimals - 1).filter(lambda n: n % 10 != 0))
    major = draw(st.integers(0, 10**6))
    rows[index].cells["amount"] = f"{major}.{fraction:0{decimals}d}"
    return "amount"


def _repeated_key(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    """The row takes the key of an earlier row, with other content."""
    earlier = rows[draw(st.integers(0, index - 1))]
    row = rows[index]
    if layout.kind is ImportKind.INVOICES:
        row.cells["invoice_number"] = earlier.cells["invoice_number"]
        row.cells["due_on"] = (row.day_on + timedelta(days=121)).strftime(layout.date_format)
        return "invoice_number"
    row.cells["bank_reference"] = earlier.cells["bank_reference"]
    row.cells["value_on"] = (earlier.day_on + timedelta(days=1)).strftime(layout.date_format)
    return "bank_reference"


def _empty_required_cell(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = draw(
        st.sampled_from(
            ["customer_code", "invoice_number", "amount", "issued_on"]
            if layout.kind is ImportKind.INVOICES
            else ["bank_reference", "customer_code", "amount", "value_on"]
        )
    )
    rows[index].cells[field] = draw(st.sampled_from(["", " ", "   "]))
    return field


def _overlong_cell(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = draw(st.sampled_from(layout.fields))
    rows[index].cells[field] = draw(st.sampled_from("9xZ")) * draw(
        st.integers(FIELD_LENGTH_MAX + 1, 5 * FIELD_LENGTH_MAX)
    )
    return field


def _overlong_key(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    """A key short enough to read but longer than the domain takes."""
    fields = ["customer_code"]
    fields.append("invoice_number" if layout.kind is ImportKind.INVOICES else "bank_reference")
    field = draw(st.sampled_from(fields))
    length = draw(st.integers(KEY_LENGTH_MAX + 1, FIELD_LENGTH_MAX))
    rows[index].cells[field] = ("K" + rows[index].cells[field] * length)[:length]
    return field


def _control_character_in_key(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    field = "invoice_number" if layout.kind is ImportKind.INVOICES else "bank_reference"
    character = draw(st.sampled_from(["\x01", "\x07", "\x1b", "\x7f\x02"]))
    rows[index].cells[field] = rows[index].cells[field] + character + "X"
    return field


def _not_utf8(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    _field, column = draw(st.sampled_from(layout.columns))
    key = _field or column
    cell = rows[index].cells[key]
    at = draw(st.integers(0, len(cell)))
    byte = draw(st.integers(0x80, 0xFF))
    rows[index].cells[key] = cell[:at] + chr(0xDC00 + byte) + cell[at:]
    return "encoding"


def _overpaid(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    row = rows[index]
    if not row.cells["settled_on"]:
        row.cells["settled_on"] = row.cells["issued_on"]
    paid_minor = row.amount_minor + draw(st.integers(1, 10**6))
    row.cells["paid_amount"] = format_minor(paid_minor, row.currency)
    return "paid_amount"


def _paid_without_settled_date(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["settled_on"] = ""
    rows[index].cells["paid_amount"] = format_minor(1, rows[index].currency)
    return "paid_amount"


def _unknown_invoice(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    rows[index].cells["invoice_number"] = "UNKNOWN-" + draw(keys)
    return "invoice_number"


def _unknown_payer(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    """A payer the ledger does not know pays a known invoice: it is not theirs to pay."""
    rows[index].cells["customer_code"] = "NEW-" + draw(keys)
    return "customer_code"


def _other_currency(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    row = rows[index]
    exponent = currency_exponent(row.currency)
    # A currency with as many decimals or more, so that the amount still reads.
    others = sorted(c for c, e in CURRENCY_EXPONENTS.items() if c != row.currency and e >= exponent)
    row.cells["currency"] = draw(st.sampled_from(others))
    return "currency"


def _over_allocation(draw: st.DrawFn, layout: Layout, rows: list[Row], index: int) -> str:
    row = rows[index]
    # Invoices are at most 10**9 minor units, and each is paid by one row at most.
    row.cells["amount"] = format_minor(draw(st.integers(10**9 + 1, 10**12)), row.currency)
    return "amount"


COMMON: Final[list[Breaker]] = [
    _impossible_date,
    _out_of_range_date,
    _wrongly_formatted_date,
    _negative_amount,
    _zero_amount,
    _huge_amount,
    _amount_not_a_number,
    _amount_too_precise,
    _empty_required_cell,
    _overlong_cell,
    _overlong_key,
    _control_character_in_key,
    _not_utf8,
]
NAMING_AN_INVOICE: Final[list[Breaker]] = [
    _unknown_invoice,
    _unknown_payer,
    _other_currency,
    _over_allocation,
]
"""Payment breakers that need a row naming an invoice."""
BREAKERS: Final[dict[str, list[Breaker]]] = {
    "ibm": [*COMMON, _repeated_key, _due_before_issue, _due_too_late],
    "custom": [
        *COMMON,
        _repeated_key,
        _due_before_issue,
        _due_too_late,
        _unknown_currency,
        _overpaid,
        _paid_without_settled_date,
    ],
    "payments": [*COMMON, _repeated_key, _unknown_currency, *NAMING_AN_INVOICE],
}


@st.composite
def broken_row(
    draw: st.DrawFn, layout: Layout, rows: list[Row], breaker: Breaker
) -> tuple[int, str]:
    """Break one row in place with ``breaker``; returns its index and the field to be named."""
    if breaker is _repeated_key:
        candidates = list(range(1, len(rows)))
    elif breaker in NAMING_AN_INVOICE:
        candidates = [i for i, row in enumerate(rows) if row.invoice_number]
    else:
        candidates = list(range(len(rows)))
    index = draw(st.sampled_from(candidates))
    return index, breaker(draw, layout, rows, index)


# Checking the store -----------------------------------------------------------------------------


def memory_ledger() -> Ledger:
    return Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())


def facts(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every event without its recording instant, by aggregate and version.

    The order across aggregates is left out: which of two new customers opens first depends on
    where their rows are in the file, not on what is recorded.
    """
    return sorted(
        (
            (
                str(event.originator_id),
                event.originator_version,
                type(event).__name__,
                *_content(event),
            )
            for event in ledger.iter_events()
        ),
        key=lambda fact: fact[:2],
    )


def _content(event: Event) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (name, value)
        for name, value in attrs.asdict(event, recurse=False).items()
        if name not in ("timestamp", "originator_id", "originator_version")
    )


def totals(ledger: Ledger) -> tuple[int, Counter[str], Counter[str]]:
    """(events, sum of invoice amounts per currency, sum of payments per currency)."""
    events = 0
    invoiced: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for event in ledger.iter_events():
        events += 1
        if isinstance(event, InvoiceIssued):
            invoiced[event.currency] += event.amount_minor
        elif isinstance(event, PaymentReceived):
            received[event.currency] += event.amount_minor
    return events, invoiced, received


def write(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def check_bad_file(
    layout: Layout,
    rows: list[Row],
    index: int,
    field: str,
    setup: Callable[[Ledger, Path], None] = lambda _ledger, _directory: None,
) -> None:
    line = index + 2  # the header is line 1, and no row before the broken one spans lines
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = write(directory, "bad.csv", render(layout, rows))
        good = write(directory, "good.csv", render(layout, rows[:index] + rows[index + 1 :]))
        rejects = directory / "rejects.csv"

        ledger = memory_ledger()
        setup(ledger, directory)
        before = totals(ledger)
        with pytest.raises(ImportRowError) as refused:
            import_file(ledger, path, layout.mapping, kind=layout.kind)
        assert [(line, field)] == [(p.line, p.field) for p in refused.value.problems]
        assert f"line {line}, {field}: " in refused.value.message
        assert before == totals(ledger)

        result = import_file(ledger, path, layout.mapping, kind=layout.kind, rejects_to=rejects)
        reference = memory_ledger()
        setup(reference, directory)
        import_file(reference, good, layout.mapping, kind=layout.kind)

        assert [(line, field)] == [(p.line, p.field) for p in result.rejected]
        assert facts(reference) == facts(ledger)
        with rejects.open(encoding="utf-8", newline="") as file:
            written = list(csv.reader(file))
        header = [*REJECT_COLUMNS, *(column for _field, column in layout.columns)]
        reason = result.rejected[0].reason
        assert reason
        # The rejects file is for spreadsheets: its cells are neutralised (tests for that rule
        # are in test_csv_output.py and below).
        expected = [str(line), field, reason, *cells_of(layout, rows[index])]
        assert [header, [neutralise(cell) for cell in expected]] == written


# Files --------------------------------------------------------------------------------------------
# Files --------------------------------------------------------------------------------------------

FILE_EXAMPLES_MAX: Final = 15
"""Examples per kind of breakage and layout: 50 of them, three imports per example."""


@pytest.mark.parametrize(
    ("layout", "breaker"),
    [(layout, breaker) for layout in (IBM, CUSTOM) for breaker in BREAKERS[layout.name]],
    ids=lambda value: value.name if isinstance(value, Layout) else value.__name__.strip("_"),
)
@settings(max_examples=FILE_EXAMPLES_MAX)
@given(data=st.data())
def test_an_invoice_file_with_a_bad_row_names_its_line_and_field_and_keeps_good_rows_on_request(
    layout: Layout, breaker: Breaker, data: st.DataObject
) -> None:
    rows = data.draw(invoice_rows(layout, rows_min=2 if breaker is _repeated_key else 1))
    index, field = data.draw(broken_row(layout, rows, breaker), label="row broken, field")

    check_bad_file(layout, rows, index, field)


@pytest.mark.parametrize(
    "breaker", BREAKERS["payments"], ids=lambda breaker: breaker.__name__.strip("_")
)
@settings(max_examples=FILE_EXAMPLES_MAX)
@given(data=st.data())
def test_a_payment_file_with_a_bad_row_names_its_line_and_field_and_keeps_good_rows_on_request(
    breaker: Breaker, data: st.DataObject
) -> None:
    invoices = data.draw(invoice_rows(CUSTOM), label="invoices")
    for invoice in invoices:
        invoice.cells["settled_on"] = invoice.cells["paid_amount"] = ""
    rows = data.draw(payment_rows(invoices), label="payments")
    if breaker is _repeated_key:
        assume(len(rows) > 1)
    index, field = data.draw(broken_row(PAYMENTS, rows, breaker), label="row broken, field")

    def import_invoices(ledger: Ledger, directory: Path) -> None:
        path = write(directory, "invoices.csv", render(CUSTOM, invoices))
        import_file(ledger, path, CUSTOM.mapping)

    check_bad_file(PAYMENTS, rows, index, field, setup=import_invoices)


# Commands -----------------------------------------------------------------------------------------

ON: Final = date(2024, 1, 2)
ISSUED_ON: Final = date(2024, 1, 3)


def setup_ledger(ledger: Ledger) -> None:
    """Two USD customers, invoice R-1 of 10.00 to K1, payment B-1 of 5.00 from K1 (unapplied).

    Every command here is a no-op when repeated, so the same store can be set up again.
    """
    for code in ("K1", "K2"):
        ledger.open_account(
            code, name=code, currency="USD", collection_owner="Li", opened_on=date(2024, 1, 1)
        )
    ledger.issue_invoice(
        "R-1", customer_code="K1", amount=Money(1000, "USD"), issued_on=date(2024, 1, 1)
    )
    ledger.receive_payment("B-1", payer_code="K1", amount=Money(500, "USD"), value_on=ON)


@attrs.frozen
class BadCommand:
    """A command that must be refused: how to run it, what it raises and what that carries."""

    run: Callable[[Ledger], object]
    error: type[ArledgerError]
    attributes: dict[str, object] = attrs.field(factory=dict)


def issue(**fields: Any) -> Callable[[Ledger], object]:
    """Issue invoice R-NEW to K1, 1.00 USD on ISSUED_ON, but for ``fields``."""
    command: dict[str, Any] = {
        "customer_code": "K1",
        "amount": Money(100, "USD"),
        "issued_on": ISSUED_ON,
        **fields,
    }
    number = command.pop("invoice_number", "R-NEW")
    return lambda ledger: ledger.issue_invoice(number, **command)


def receive(**fields: Any) -> Callable[[Ledger], object]:
    """Receive payment B-NEW from K1, 1.00 USD on ON, but for ``fields``."""
    command: dict[str, Any] = {"payer_code": "K1", "amount": Money(100, "USD"), "value_on": ON}
    command.update(fields)
    return lambda ledger: ledger.receive_payment("B-NEW", **command)


def allocate(
    reference: str = "B-1", allocations: dict[str, Any] | None = None, **fields: Any
) -> Callable[[Ledger], object]:
    """Allocate 1.00 USD of B-1 to R-1, but for the arguments given."""
    targets = {"R-1": Money(100, "USD")} if allocations is None else allocations
    return lambda ledger: ledger.allocate_payment(reference, targets, **fields)


not_money = st.one_of(
    st.text(max_size=10),
    st.integers(-(10**6), 10**6),
    st.decimals(),
    st.floats(),
    st.none(),
    st.just({"amount_minor": 100, "currency": "USD"}),
)
not_dates = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.datetimes(),  # naive
    st.datetimes(timezones=st.just(UTC)),  # an instant, even in UTC, is not a business date
    st.just("2024-01-05"),
)
unknown_keys = keys.map(lambda key: "NOPE-" + key)
unknown_currencies = st.text(max_size=5).filter(lambda c: c not in CURRENCY_EXPONENTS)

BAD_COMMANDS: Final[dict[str, st.SearchStrategy[BadCommand]]] = {
    "invoice amount not Money": not_money.map(
        lambda amount: BadCommand(issue(amount=amount), InvalidAmountError, {"field": "amount"})
    ),
    "invoice amount zero or negative": st.integers(-(10**12), 0).map(
        lambda minor: BadCommand(
            issue(amount=Money(minor, "USD")),
            InvalidAmountError,
            {"field": "amount_minor", "amount_minor": minor},
        )
    ),
    "invoice amount over the limit": st.integers(AMOUNT_MINOR_MAX + 1, 10**30).map(
        lambda minor: BadCommand(
            issue(amount=Money(minor, "USD")),
            InvalidAmountError,
            {"field": "amount_minor", "amount_minor": minor},
        )
    ),
    "issue date not a date": (not_dates | st.none()).map(
        lambda value: BadCommand(issue(issued_on=value), InvalidDateError, {"field": "issued_on"})
    ),
    "due date not a date": not_dates.map(
        lambda value: BadCommand(issue(due_on=value), InvalidDateError, {"field": "due_on"})
    ),
    "due date before the issue date": st.integers(1, 1000).map(
        lambda days: BadCommand(
            issue(due_on=ISSUED_ON - timedelta(days=days)),
            InvalidDateError,
            {"invoice_number": "R-NEW", "due_on": ISSUED_ON - timedelta(days=days)},
        )
    ),
    "invoice to an unknown customer": unknown_keys.map(
        lambda code: BadCommand(
            issue(customer_code=code), CustomerNotFoundError, {"customer_code": code}
        )
    ),
    "invoice number too long": st.integers(KEY_LENGTH_MAX + 1, 10 * KEY_LENGTH_MAX).map(
        lambda length: BadCommand(
            issue(invoice_number="R" * length),
            InvalidCommandError,
            {"field": "invoice_number", "length": length},
        )
    ),
    "invoice number blank or padded": st.sampled_from(["", " ", "  R-9", "R-9 ", "\t"]).map(
        lambda number: BadCommand(
            issue(invoice_number=number), InvalidCommandError, {"field": "invoice_number"}
        )
    ),
    "contract reference too long": st.integers(TEXT_LENGTH_MAX + 1, 5 * TEXT_LENGTH_MAX).map(
        lambda length: BadCommand(
            issue(contract_reference="C" * length),
            InvalidCommandError,
            {"field": "contract_reference", "length": length},
        )
    ),
    "invoice number again with another amount": st.integers(1, 10**6)
    .filter(lambda minor: minor != 1000)
    .map(
        lambda minor: BadCommand(
            issue(invoice_number="R-1", amount=Money(minor, "USD"), issued_on=date(2024, 1, 1)),
            DuplicateKeyConflictError,
            {"invoice_number": "R-1"},
        )
    ),
    "payment from an unknown payer": unknown_keys.map(
        lambda code: BadCommand(
            receive(payer_code=code),
            CustomerNotFoundError,
            {"customer_code": code, "bank_reference": "B-NEW"},
        )
    ),
    "payment amount not Money": not_money.map(
        lambda amount: BadCommand(receive(amount=amount), InvalidAmountError, {"field": "amount"})
    ),
    "payment amount zero or negative": st.integers(-(10**12), 0).map(
        lambda minor: BadCommand(
            receive(amount=Money(minor, "USD")), InvalidAmountError, {"amount_minor": minor}
        )
    ),
    "value date not a date": (not_dates | st.none()).map(
        lambda value: BadCommand(receive(value_on=value), InvalidDateError, {"field": "value_on"})
    ),
    "bank reference again with other content": st.integers(1, 10**6)
    .filter(lambda minor: minor != 500)
    .map(
        lambda minor: BadCommand(
            lambda ledger: ledger.receive_payment(
                "B-1", payer_code="K1", amount=Money(minor, "USD"), value_on=ON
            ),
            DuplicateKeyConflictError,
            {"bank_reference": "B-1"},
        )
    ),
    "allocation of an unknown payment": unknown_keys.map(
        lambda reference: BadCommand(
            allocate(reference), PaymentNotFoundError, {"bank_reference": reference}
        )
    ),
    "allocation to an unknown invoice": unknown_keys.map(
        lambda number: BadCommand(
            allocate(allocations={number: Money(100, "USD")}),
            InvoiceNotFoundError,
            {"invoice_number": number},
        )
    ),
    "allocation over the unapplied amount": st.integers(501, AMOUNT_MINOR_MAX).map(
        lambda minor: BadCommand(
            allocate(allocations={"R-1": Money(minor, "USD")}),
            OverAllocationError,
            {"bank_reference": "B-1", "amount_minor": minor, "unapplied_minor": 500},
        )
    ),
    "allocation in another currency": st.sampled_from(["EUR", "JPY", "KWD", "CNY"]).map(
        lambda currency: BadCommand(
            allocate(allocations={"R-1": Money(100, currency)}),
            CurrencyMismatchError,
            {"currency": currency, "other_currency": "USD"},
        )
    ),
    "allocation amount not Money": not_money.map(
        lambda amount: BadCommand(
            allocate(allocations={"R-1": amount}), InvalidAmountError, {"field": "amount"}
        )
    ),
    "allocation date not a date": not_dates.map(
        lambda value: BadCommand(
            allocate(allocated_on=value), InvalidDateError, {"field": "allocated_on"}
        )
    ),
    "account in an unknown currency": (unknown_currencies | st.integers() | st.none()).map(
        lambda currency: BadCommand(
            lambda ledger: ledger.open_account(
                "K-NEW", name="K", currency=currency, collection_owner="Li", opened_on=ON
            ),
            UnknownCurrencyError,
            {"currency": currency},
        )
    ),
    "account name too long": st.integers(TEXT_LENGTH_MAX + 1, 5 * TEXT_LENGTH_MAX).map(
        lambda length: BadCommand(
            lambda ledger: ledger.open_account(
                "K-NEW", name="N" * length, currency="USD", collection_owner="Li", opened_on=ON
            ),
            InvalidCommandError,
            {"field": "name", "length": length},
        )
    ),
    "credit note reason too long": st.integers(REASON_LENGTH_MAX + 1, 3 * REASON_LENGTH_MAX).map(
        lambda length: BadCommand(
            lambda ledger: ledger.apply_credit_note(
                "R-1",
                credit_note_number="CN-1",
                amount=Money(100, "USD"),
                applied_on=ON,
                reason="r" * length,
                approver="cfo",
            ),
            InvalidCommandError,
            {"field": "reason", "length": length},
        )
    ),
    "credit note in another currency": st.sampled_from(["EUR", "JPY"]).map(
        lambda currency: BadCommand(
            lambda ledger: ledger.apply_credit_note(
                "R-1",
                credit_note_number="CN-1",
                amount=Money(100, currency),
                applied_on=ON,
                reason="damaged",
                approver="cfo",
            ),
            AccountCurrencyError,
            {"currency": currency, "account_currency": "USD", "credit_note_number": "CN-1"},
        )
    ),
    "write-off of an unknown invoice": unknown_keys.map(
        lambda number: BadCommand(
            lambda ledger: ledger.write_off(
                number, written_off_on=ON, reason="insolvent", approver="CFO"
            ),
            InvoiceNotFoundError,
            {"invoice_number": number},
        )
    ),
    "reversal of an unknown payment": unknown_keys.map(
        lambda reference: BadCommand(
            lambda ledger: ledger.reverse_payment(reference, reversed_on=ON, reason="bounced"),
            PaymentNotFoundError,
            {"bank_reference": reference},
        )
    ),
}


def check_bad_command(ledger: Ledger, command: BadCommand) -> None:
    before = totals(ledger)
    with pytest.raises(ArledgerError) as raised:
        command.run(ledger)
    assert isinstance(raised.value, command.error)
    for name, value in command.attributes.items():
        assert value == getattr(raised.value, name), name
    assert before == totals(ledger)


@pytest.mark.parametrize("kind", list(BAD_COMMANDS))
@settings(max_examples=20)
@given(data=st.data())
def test_a_bad_command_raises_an_arledger_error_with_its_ids_and_records_nothing(
    kind: str, data: st.DataObject
) -> None:
    command = data.draw(BAD_COMMANDS[kind], label="command")
    ledger = memory_ledger()
    setup_ledger(ledger)

    check_bad_command(ledger, command)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.one_of(list(BAD_COMMANDS.values())))
def test_a_bad_command_records_nothing_on_every_store(
    store_env: dict[str, str], command: BadCommand
) -> None:
    ledger = Ledger(store_env, clock=FixedClock())
    try:
        setup_ledger(ledger)  # a no-op from the second example on: the store is the same

        check_bad_command(ledger, command)
    finally:
        ledger.close()


@given(currency=unknown_currencies | st.integers() | st.none())
def test_money_cannot_be_made_in_an_unknown_currency(currency: Any) -> None:
    with pytest.raises(UnknownCurrencyError) as raised:
        Money(100, currency)
    assert currency == raised.value.currency


# Bad text, dates and amounts in commands and queries (issue 9.11, 9.13, 9.14) -----------------
# Every argument of the Ledger's commands and queries that is a key, a name, a note or a business
# date gets a bad one from tests/strategies.py (bad_keys, bad_names, bad_notes,
# dates_outside_range): the typed error names the argument and nothing is recorded. Amount texts
# that Decimal() would read (bad_amount_texts) are refused by Money.parse and by an import.

PROMISED_ON: Final = date(2024, 1, 20)


def setup_collections(ledger: Ledger) -> None:
    """``setup_ledger``, then promise P-1 of K1 (1.00 USD), dispute D-1 of 1.00 USD on R-1 and
    balance confirmation BC-1 sent to K1; every command a no-op when repeated."""
    setup_ledger(ledger)
    ledger.make_promise(
        customer_code="K1",
        promise_reference="P-1",
        amount=Money(100, "USD"),
        promised_on=PROMISED_ON,
        made_on=ON,
        contact="Mr Wu",
    )
    ledger.open_dispute(
        invoice_number="R-1",
        dispute_reference="D-1",
        amount=Money(100, "USD"),
        reason_code=DisputeReason.QUALITY,
        root_cause="scratched",
        opened_on=ON,
    )
    ledger.send_balance_confirmation(
        customer_code="K1", confirmation_reference="BC-1", balance_as_of=ON, sent_on=ON
    )


@attrs.frozen
class Hole:
    """A Ledger call with good arguments but one, and the field its error must name."""

    method: str
    fields: dict[str, Any]
    argument: str
    field: str = ""

    def run(self, value: Any) -> Callable[[Ledger], object]:
        fields = dict(self.fields)
        if self.argument == "allocations":
            fields["allocations"] = {value: Money(100, "USD")}
        elif self.argument == "invoice_numbers":
            fields["invoice_numbers"] = [value]
        else:
            fields[self.argument] = value
        return lambda ledger: getattr(ledger, self.method)(**fields)

    @property
    def named(self) -> str:
        return self.field or self.argument


USD_1: Final = Money(100, "USD")
_OPEN = {
    "customer_code": "K-NEW",
    "name": "K",
    "currency": "USD",
    "collection_owner": "Li",
    "opened_on": ON,
}
_ISSUE = {"invoice_number": "R-NEW", "customer_code": "K1", "amount": USD_1, "issued_on": ON}
_RECEIVE = {"bank_reference": "B-NEW", "payer_code": "K1", "amount": USD_1, "value_on": ON}
_ALLOCATE = {"bank_reference": "B-1", "allocations": {"R-1": USD_1}, "allocated_on": ON}
_REVERSE = {"bank_reference": "B-1", "reversed_on": ON, "reason": "bounced"}
_CREDIT = {
    "invoice_number": "R-1",
    "credit_note_number": "CN-NEW",
    "amount": USD_1,
    "applied_on": ON,
    "reason": "damaged",
    "approver": "cfo",
}
_CONCEDE = {
    "invoice_number": "R-1",
    "amount": USD_1,
    "approved_on": ON,
    "reason": "goodwill",
    "approver": "cfo",
}
_WRITE_OFF = {"invoice_number": "R-1", "written_off_on": ON, "reason": "gone", "approver": "cfo"}
_REINSTATE = {"invoice_number": "R-1", "reinstated_on": ON, "reason": "back", "approver": "cfo"}
_LINE = {
    "customer_code": "K1",
    "amount": USD_1,
    "effective_on": ON,
    "approver": "cfo",
    "reason": "half the capital",
}
_RATE = {"customer_code": "K1", "rating": RiskRating.B, "rated_on": ON, "reason": "late"}
_BLACKLIST = {"customer_code": "K1", "blacklisted_on": ON, "reason": "fraud"}
_TERMS = {
    "customer_code": "K1",
    "terms_kind": PaymentTermsKind.NET,
    "terms_days": 45,
    "changed_on": ON,
}
_CALENDAR = {"customer_code": "K1", "book_closing_day": 25, "payment_run_days": [10], "set_on": ON}
_OWNER = {"customer_code": "K1", "collection_owner": "Wang", "changed_on": ON}
_CONTACT = {
    "customer_code": "K1",
    "role": ContactRole.ACCEPTOR,
    "name": "Mr Wu",
    "phone": "+86 10 1234",
    "email": "wu@example.com",
    "set_on": ON,
}
_HOLD = {"customer_code": "K1", "held_on": ON, "reason": "overdue"}
_SEND = {
    "customer_code": "K1",
    "confirmation_reference": "BC-NEW",
    "balance_as_of": ON,
    "sent_on": ON,
}
_ACKNOWLEDGE = {
    "customer_code": "K1",
    "confirmation_reference": "BC-1",
    "confirmed_balance": USD_1,
    "acknowledged_on": ON,
}
_DISPUTE = {
    "invoice_number": "R-1",
    "dispute_reference": "D-NEW",
    "amount": USD_1,
    "reason_code": DisputeReason.QUALITY,
    "root_cause": "dented",
    "opened_on": ON,
}
_RESOLVE = {
    "invoice_number": "R-1",
    "dispute_reference": "D-1",
    "outcome": DisputeOutcome.REJECTED,
    "resolved_on": ON,
    "note": "delivered as ordered",
}
_PROMISE = {
    "customer_code": "K1",
    "promise_reference": "P-NEW",
    "amount": USD_1,
    "promised_on": PROMISED_ON,
    "made_on": ON,
    "contact": "Mr Wu",
    "invoice_numbers": ["R-1"],
    "supersedes": "P-1",
}
_WITHDRAW = {"promise_reference": "P-1", "withdrawn_on": ON, "reason": "paid otherwise"}
_ACTION = {
    "customer_code": "K1",
    "channel": ActionChannel.PHONE,
    "taken_on": ON,
    "collector": "Li",
    "contact": "Mr Wu",
    "outcome": "promised to pay",
    "next_step": "call again",
    "next_step_on": PROMISED_ON,
}
_DIAGNOSE = {
    "customer_code": "K1",
    "delinquency_type": DelinquencyType.CASH_FLOW_SQUEEZE,
    "diagnosed_on": ON,
    "note": "waiting for its customers",
}
_WAIVE = {
    "customer_code": "K1",
    "waived_on": ON,
    "approver": "cfo",
    "reason": "customer insolvent",
}
_ADOPT = {
    "policy": EscalationPolicy(version=2),
    "effective_on": ON,
    "approver": "cfo",
    "reason": "looser",
}

KEY_HOLES: Final = (
    Hole("open_account", _OPEN, "customer_code"),
    Hole("open_account", _OPEN, "collection_owner"),
    Hole("issue_invoice", _ISSUE, "invoice_number"),
    Hole("issue_invoice", _ISSUE, "customer_code"),
    Hole("receive_payment", _RECEIVE, "bank_reference"),
    Hole("receive_payment", _RECEIVE, "payer_code", "customer_code"),
    Hole("allocate_payment", _ALLOCATE, "bank_reference"),
    Hole("allocate_payment", _ALLOCATE, "allocations", "invoice_number"),
    Hole("reverse_payment", _REVERSE, "bank_reference"),
    Hole("apply_credit_note", _CREDIT, "invoice_number"),
    Hole("apply_credit_note", _CREDIT, "credit_note_number"),
    Hole("apply_credit_note", _CREDIT, "approver"),
    Hole("approve_concession", _CONCEDE, "approver"),
    Hole("write_off", _WRITE_OFF, "approver"),
    Hole("reinstate", _REINSTATE, "approver"),
    Hole("set_credit_line", _LINE, "customer_code"),
    Hole("set_credit_line", _LINE, "approver"),
    Hole("rate_risk", _RATE, "customer_code"),
    Hole("change_owner", _OWNER, "collection_owner"),
    Hole("send_balance_confirmation", _SEND, "confirmation_reference"),
    Hole("acknowledge_balance_confirmation", _ACKNOWLEDGE, "confirmation_reference"),
    Hole("open_dispute", _DISPUTE, "dispute_reference"),
    Hole("resolve_dispute", _RESOLVE, "dispute_reference"),
    Hole("make_promise", _PROMISE, "promise_reference"),
    Hole("make_promise", _PROMISE, "invoice_numbers", "invoice_number"),
    Hole("make_promise", _PROMISE, "supersedes", "promise_reference"),
    Hole("withdraw_promise", _WITHDRAW, "promise_reference"),
    Hole("record_action", _ACTION, "customer_code"),
    Hole("record_action", _ACTION, "collector"),
    Hole("diagnose", _DIAGNOSE, "customer_code"),
    Hole("waive_negotiation", _WAIVE, "customer_code"),
    Hole("waive_negotiation", _WAIVE, "approver"),
    Hole("adopt_policy", _ADOPT, "approver"),
)
NAME_HOLES: Final = (
    Hole("open_account", _OPEN, "name"),
    Hole("issue_invoice", _ISSUE, "contract_reference"),
    Hole("set_key_contact", _CONTACT, "name"),
    Hole("set_key_contact", _CONTACT, "phone"),
    Hole("set_key_contact", _CONTACT, "email"),
    Hole("make_promise", _PROMISE, "contact"),
    Hole("record_action", _ACTION, "contact"),
)
NOTE_HOLES: Final = (
    Hole("reverse_payment", _REVERSE, "reason"),
    Hole("apply_credit_note", _CREDIT, "reason"),
    Hole("approve_concession", _CONCEDE, "reason"),
    Hole("write_off", _WRITE_OFF, "reason"),
    Hole("reinstate", _REINSTATE, "reason"),
    Hole("set_credit_line", _LINE, "reason"),
    Hole("rate_risk", _RATE, "reason"),
    Hole("blacklist", _BLACKLIST, "reason"),
    Hole("hold_supply", _HOLD, "reason"),
    Hole("open_dispute", _DISPUTE, "root_cause"),
    Hole("resolve_dispute", _RESOLVE, "note"),
    Hole("withdraw_promise", _WITHDRAW, "reason"),
    Hole("record_action", _ACTION, "outcome"),
    Hole("record_action", _ACTION, "next_step"),
    Hole("diagnose", _DIAGNOSE, "note"),
    Hole("waive_negotiation", _WAIVE, "reason"),
    Hole("adopt_policy", _ADOPT, "reason"),
)
DATE_HOLES: Final = (
    Hole("open_account", _OPEN, "opened_on"),
    Hole("issue_invoice", _ISSUE, "issued_on"),
    Hole("issue_invoice", _ISSUE, "due_on"),
    Hole("receive_payment", _RECEIVE, "value_on"),
    Hole("allocate_payment", _ALLOCATE, "allocated_on"),
    Hole("reverse_payment", _REVERSE, "reversed_on"),
    Hole("apply_credit_note", _CREDIT, "applied_on"),
    Hole("approve_concession", _CONCEDE, "approved_on"),
    Hole("write_off", _WRITE_OFF, "written_off_on"),
    Hole("set_credit_line", _LINE, "effective_on"),
    Hole("rate_risk", _RATE, "rated_on"),
    Hole("blacklist", _BLACKLIST, "blacklisted_on"),
    Hole("change_terms", _TERMS, "changed_on"),
    Hole("set_payment_calendar", _CALENDAR, "set_on"),
    Hole("change_owner", _OWNER, "changed_on"),
    Hole("set_key_contact", _CONTACT, "set_on"),
    Hole("hold_supply", _HOLD, "held_on"),
    Hole("send_balance_confirmation", _SEND, "balance_as_of"),
    Hole("send_balance_confirmation", _SEND, "sent_on"),
    Hole("acknowledge_balance_confirmation", _ACKNOWLEDGE, "acknowledged_on"),
    Hole("open_dispute", _DISPUTE, "opened_on"),
    Hole("resolve_dispute", _RESOLVE, "resolved_on"),
    Hole("make_promise", _PROMISE, "promised_on"),
    Hole("make_promise", _PROMISE, "made_on"),
    Hole("withdraw_promise", _WITHDRAW, "withdrawn_on"),
    Hole("record_action", _ACTION, "taken_on"),
    Hole("record_action", _ACTION, "next_step_on"),
    Hole("diagnose", _DIAGNOSE, "diagnosed_on"),
    Hole("waive_negotiation", _WAIVE, "waived_on"),
    Hole("adopt_policy", _ADOPT, "effective_on"),
    # Queries: refused the same way.
    Hole("ageing", {}, "as_of"),
    Hole("worklist", {}, "as_of"),
    Hole("explain", {"customer_code": "K1"}, "as_of"),
    Hole("escalation_status", {"customer_code": "K1"}, "as_of"),
    Hole("check_credit", {"customer_code": "K1", "order_amount": USD_1}, "as_of"),
    Hole("kpis", {"end_on": date(2024, 12, 31)}, "start_on"),
    Hole("kpis", {"start_on": date(2024, 1, 1)}, "end_on"),
    Hole("propose_credit_line", {"registered_capital": USD_1}, "on"),
    Hole("statement", {"customer_code": "K1", "to_on": date(2024, 12, 31)}, "from_on"),
    Hole("statement", {"customer_code": "K1", "from_on": date(2024, 1, 1)}, "to_on"),
)
KEY_QUERY_HOLES: Final = (
    Hole("customer", {}, "customer_code"),
    Hole("invoice", {}, "invoice_number"),
    Hole("payment", {}, "bank_reference"),
    Hole("explain", {"as_of": ON}, "customer_code"),
    Hole("escalation_status", {"as_of": ON}, "customer_code"),
    Hole("check_credit", {"order_amount": USD_1, "as_of": ON}, "customer_code"),
    Hole("balance_confirmations", {}, "customer_code"),
    Hole("expected_pay_on", {}, "invoice_number"),
    Hole("worklist", {"as_of": ON}, "owner"),
    Hole("statement", {"from_on": date(2024, 1, 1), "to_on": date(2024, 12, 31)}, "customer_code"),
)


def bad_text_commands(
    holes: tuple[Hole, ...], values: st.SearchStrategy[str]
) -> st.SearchStrategy[BadCommand]:
    return st.tuples(st.sampled_from(holes), values).map(
        lambda drawn: BadCommand(
            drawn[0].run(drawn[1]), InvalidTextError, {"field": drawn[0].named}
        )
    )


BAD_INPUT_COMMANDS: Final[dict[str, st.SearchStrategy[BadCommand]]] = {
    "key": bad_text_commands(KEY_HOLES, bad_keys),
    "key of a query": bad_text_commands(KEY_QUERY_HOLES, bad_keys),
    "name": bad_text_commands(NAME_HOLES, bad_names),
    "note": bad_text_commands(NOTE_HOLES, bad_notes),
    "date": st.tuples(st.sampled_from(DATE_HOLES), dates_outside_range).map(
        lambda drawn: BadCommand(
            drawn[0].run(drawn[1]),
            InvalidDateError,
            {"field": drawn[0].named, "value": drawn[1]},
        )
    ),
}


_GOOD_VALUES: Final = {
    "allocations": "R-1",
    "invoice_numbers": "R-1",
    "customer_code": "K1",
    "invoice_number": "R-1",
    "bank_reference": "B-1",
    "as_of": ON,
    "on": ON,
    "start_on": date(2024, 1, 1),
    "end_on": date(2024, 12, 31),
    "from_on": date(2024, 1, 1),
    "to_on": date(2024, 12, 31),
    "owner": "Li",
}


def test_every_hole_is_good_but_for_its_bad_argument() -> None:
    """Each call above succeeds with a good value in the hole (a reinstatement once R-1 is
    written off): the refusals below are the bad argument's alone."""
    for hole in (*KEY_HOLES, *NAME_HOLES, *NOTE_HOLES, *DATE_HOLES, *KEY_QUERY_HOLES):
        ledger = memory_ledger()
        setup_collections(ledger)
        if hole.method == "reinstate":
            ledger.write_off(**_WRITE_OFF)
        good = _GOOD_VALUES.get(hole.argument, hole.fields.get(hole.argument))
        if hole.argument in hole.fields and hole.argument not in ("allocations", "invoice_numbers"):
            good = hole.fields[hole.argument]

        hole.run(good)(ledger)


@pytest.mark.parametrize("kind", list(BAD_INPUT_COMMANDS))
@settings(max_examples=60)
@given(data=st.data())
def test_bad_text_or_a_date_out_of_range_is_refused_with_the_typed_error_and_records_nothing(
    kind: str, data: st.DataObject
) -> None:
    command = data.draw(BAD_INPUT_COMMANDS[kind], label="command")
    ledger = memory_ledger()
    setup_collections(ledger)

    check_bad_command(ledger, command)


@given(text=bad_amount_texts())
def test_an_amount_text_decimal_would_forgive_is_refused_by_money_parse(text: str) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        Money.parse(text, "USD")
    assert text == raised.value.value


AMOUNT_IMPORT: Final = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
    },
    date_format="%Y-%m-%d",
    currency="USD",
)


@settings(max_examples=30)
@given(text=bad_amount_texts())
def test_an_imported_amount_decimal_would_forgive_is_a_bad_row_and_records_nothing(
    text: str,
) -> None:
    ledger = memory_ledger()
    setup_ledger(ledger)
    before = totals(ledger)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        [["Customer", "Invoice", "Amount", "Issued"], ["K1", "R-9", text, "2024-01-05"]]
    )
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "invoices.csv", buffer.getvalue().encode("utf-8"))

        with pytest.raises(ImportRowError) as raised:
            import_file(ledger, path, AMOUNT_IMPORT)

    assert [(2, "amount")] == [(problem.line, problem.field) for problem in raised.value.problems]
    assert before == totals(ledger)


# Issue 9: cell counts, repeated column names, digits other than 0-9, formula text -------------
# Kept apart from the breakers above: these change the shape of a file (cells, header) or check
# what arledger writes, rather than one cell's value.

ISSUE_9_EXAMPLES_MAX: Final = 25


def check_refused_row(layout: Layout, content: bytes, good: bytes, line: int) -> list[str]:
    """The file is refused naming ``line`` (field "row") and records nothing; with a rejects
    file it records what ``good`` records. Returns the rejected row as written."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = write(directory, "bad.csv", content)
        ledger = memory_ledger()
        with pytest.raises(ImportRowError) as refused:
            import_file(ledger, path, layout.mapping, kind=layout.kind)
        assert [(line, "row")] == [(p.line, p.field) for p in refused.value.problems]
        assert f"line {line}, row: " in refused.value.message
        assert 0 == totals(ledger)[0]

        rejects = directory / "rejects.csv"
        result = import_file(ledger, path, layout.mapping, kind=layout.kind, rejects_to=rejects)
        reference = memory_ledger()
        import_file(reference, write(directory, "good.csv", good), layout.mapping)
        assert [(line, "row")] == [(p.line, p.field) for p in result.rejected]
        assert facts(reference) == facts(ledger)
        with rejects.open(encoding="utf-8", newline="") as file:
            written = list(csv.reader(file))
        assert 2 == len(written)
        return written[1]


def _rendered(layout: Layout, header: list[str], records: list[list[str]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(records)
    return text.getvalue().encode("utf-8")


def _records(layout: Layout, rows: list[Row]) -> list[list[str]]:
    return [[row.cells[field or column] for field, column in layout.columns] for row in rows]


@pytest.mark.parametrize("layout", [IBM, CUSTOM], ids=lambda layout: layout.name)
@settings(max_examples=ISSUE_9_EXAMPLES_MAX)
@given(data=st.data())
def test_a_row_with_more_or_fewer_cells_than_the_header_is_refused_by_its_line(
    layout: Layout, data: st.DataObject
) -> None:
    rows = data.draw(invoice_rows(layout), label="rows")
    records = _records(layout, rows)
    header = [column for _field, column in layout.columns]
    index = data.draw(st.integers(0, len(rows) - 1), label="row broken")
    change = data.draw(strategies.cell_count_changes(len(header)), label="cells added")
    broken = list(records[index])
    if change > 0:
        extra = data.draw(st.lists(strategies.csv_texts, min_size=change, max_size=change))
        broken += extra
    else:
        broken = broken[:change]
    records[index] = broken
    good = records[:index] + records[index + 1 :]

    written = check_refused_row(
        layout, _rendered(layout, header, records), _rendered(layout, header, good), index + 2
    )

    assert [neutralise(cell) for cell in broken] == written[len(REJECT_COLUMNS) :]


@pytest.mark.parametrize("layout", [IBM, CUSTOM, PAYMENTS], ids=lambda layout: layout.name)
@settings(max_examples=ISSUE_9_EXAMPLES_MAX)
@given(data=st.data())
def test_a_header_naming_a_column_twice_is_refused_whole_even_when_keeping_good_rows(
    layout: Layout, data: st.DataObject
) -> None:
    rows = data.draw(invoice_rows(CUSTOM), label="rows")
    if layout.kind is ImportKind.PAYMENTS:
        rows = data.draw(payment_rows(rows), label="payments")
    header = data.draw(
        strategies.repeated_column_names([column for _field, column in layout.columns]),
        label="header",
    )
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        path = write(directory, "bad.csv", _rendered(layout, header, _records(layout, rows)))
        rejects = directory / "rejects.csv"
        ledger = memory_ledger()

        for keep_good_rows in (False, True):
            with pytest.raises(ImportRowError) as refused:
                import_file(
                    ledger,
                    path,
                    layout.mapping,
                    kind=layout.kind,
                    rejects_to=rejects if keep_good_rows else None,
                )
            assert [(1, "header")] == [(p.line, p.field) for p in refused.value.problems]
            assert "is named twice" in refused.value.message

        assert 0 == totals(ledger)[0]
        assert not rejects.exists()


TERMS: Final = Layout(
    name="terms",
    kind=ImportKind.INVOICES,
    mapping=ColumnMapping(
        columns={
            "customer_code": "Kunde",
            "invoice_number": "Rechnung",
            "amount": "Betrag",
            "issued_on": "Datum",
            "terms_days": "Zahlungsziel",
        },
        date_format="%d.%m.%Y",
    ),
    columns=(
        ("customer_code", "Kunde"),
        ("invoice_number", "Rechnung"),
        ("amount", "Betrag"),
        ("issued_on", "Datum"),
        ("terms_days", "Zahlungsziel"),
    ),
)


@settings(max_examples=ISSUE_9_EXAMPLES_MAX)
@given(data=st.data())
def test_terms_days_with_a_digit_other_than_0_to_9_are_a_bad_row(data: st.DataObject) -> None:
    """``str.isdigit`` admits them; ``int`` crashed on some and read the others."""
    rows = data.draw(invoice_rows(TERMS), label="rows")
    for row in rows:
        row.cells["terms_days"] = str(data.draw(st.integers(0, 120)))
    index = data.draw(st.integers(0, len(rows) - 1), label="row broken")
    rows[index].cells["terms_days"] = data.draw(strategies.non_ascii_digit_texts(), label="days")

    check_bad_file(TERMS, rows, index, "terms_days")


@given(text=strategies.formula_texts | strategies.csv_texts)
def test_neutralising_a_cell_is_undone_by_restoring_it_and_leaves_no_formula(text: str) -> None:
    written = neutralise(text)

    assert text == restore(written)
    assert written in (text, "'" + text)
    if written and written[0] in strategies.FORMULA_STARTS_TEXT:
        assert float(written) == float(text)  # only a plain number starts so


def _ageing_with(key: str, label: str) -> AgeingReport:
    return AgeingReport(
        as_of=ON,
        policy=AgeingPolicy(),
        grouping=AgeingGrouping.CUSTOMER,
        rows=(
            AgeingRow(
                key=key,
                label=label,
                currency="USD",
                buckets_minor=(100, 0, 0, 0, 0, 0),
                open_minor=100,
                days_past_due_max=0,
            ),
        ),
    )


def _kpis_with(key: str, label: str) -> KpiReport:
    row = KpiRow(
        key=key,
        label=label,
        currency="USD",
        receivables_minor_beginning=0,
        credit_sales_minor=0,
        receivables_minor_ending=0,
        receivables_minor_current=0,
        cash_collected_minor=0,
        settled_in_goods_minor=0,
        dso_days=None,
        dso_days_countback=None,
        dso_days_best_possible=None,
        days_delinquent_average=None,
        cei_total_sales=None,
        cei_monthly_average=None,
        collection_rate=None,
        collection_rate_in_goods=None,
        promises_judged=0,
        promises_kept=0,
        promised_minor=0,
        promised_minor_paid=0,
        promise_kept_rate_by_count=None,
        promise_kept_rate_by_amount=None,
        buckets_minor=(0,) * 6,
        ecl_minor_by_bucket=(0,) * 6,
        ecl_minor=0,
    )
    return KpiReport(
        start_on=ON,
        end_on=ON,
        grouping=KpiGrouping.CUSTOMER,
        rows=(row,),
        bucket_labels=AgeingPolicy().bucket_labels,
        provision_rates=(LossRate.of_bps(0),) * 6,
        policy_version=1,
    )


@settings(max_examples=ISSUE_9_EXAMPLES_MAX)
@given(key=strategies.formula_texts, label=strategies.formula_texts)
def test_formula_text_round_trips_through_every_csv_writer_neutralised(
    key: str, label: str
) -> None:
    """ageing and KPI CSV, and the rejects file: the text comes back neutralised, and exactly
    as it was once restored; --csv-raw gives it back as it is."""
    outputs = {
        "ageing": (ageing_csv(_ageing_with(key, label)), 2, 3),
        "kpis": (kpis_csv(_kpis_with(key, label)), 3, 4),
    }
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        layout = CUSTOM
        header = [column for _field, column in layout.columns]
        record = [key, label, "R-1", "0", "EUR", "01.01.2024", "", "", ""]  # amount 0: rejected
        path = write(directory, "bad.csv", _rendered(layout, header, [record]))
        rejects = directory / "rejects.csv"
        import_file(memory_ledger(), path, layout.mapping, rejects_to=rejects)
        with rejects.open(encoding="utf-8", newline="") as file:  # a cell may hold a CR
            outputs["rejects"] = (file.read(), 3, 4)
    raw = {
        "ageing": ageing_csv(_ageing_with(key, label), raw=True),
        "kpis": kpis_csv(_kpis_with(key, label), raw=True),
    }

    for output, (text, key_at, label_at) in outputs.items():
        cells = list(csv.reader(io.StringIO(text, newline="")))[1]
        assert [neutralise(key), neutralise(label)] == [cells[key_at], cells[label_at]], output
        assert [key, label] == [restore(cells[key_at]), restore(cells[label_at])], output
        if output in raw:
            raw_cells = list(csv.reader(io.StringIO(raw[output], newline="")))[1]
            assert [key, label] == [raw_cells[key_at], raw_cells[label_at]], output
