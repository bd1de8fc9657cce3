"""CSV import of invoices and payments through a column mapping, all or nothing.

A ``ColumnMapping`` says which column of the file holds each field the ledger needs, how dates
are written, and where the currency comes from (a column, else one fixed currency). Presets cover
known exports (``ibm``: the sample late-payment histories); any other export is described by a
JSON file.

Invariant: a file is recorded whole or not at all. Every row is parsed and then decided in one
``Session``; the session is committed once, only when no row has a problem, and otherwise every
problem is reported with its line number, field and reason. Ids come from business keys
(customer code, invoice number, bank reference), so importing the same file again records
nothing new.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import attrs
from eventsourcing.persistence import IntegrityError

from arledger.domain import ids
from arledger.domain.customer import DEFAULT_TERMS_DAYS
from arledger.domain.errors import (
    ArledgerError,
    ConcurrencyError,
    ConfigurationError,
    CurrencyMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    ImportRowError,
    InvalidDateError,
    InvoiceNotFoundError,
    MoneyError,
    OverAllocationError,
    PaymentNotFoundError,
)
from arledger.domain.money import Money, check_currency, parse_amount
from arledger.domain.payment import plan_oldest_due_first
from arledger.domain.rules import TERMS_DAYS_MAX

from .ledger import Ledger, Session

IMPORT_ROWS_MAX: Final = 100_000
"""Data rows per file. One file is one transaction: a larger export belongs in several files
(one per period), so that a single commit stays within seconds and memory stays small."""

IMPORT_FILE_BYTES_MAX: Final = 64 * 1024 * 1024
"""Size of an import file: 100,000 rows of a wide ERP export fit in well under 64 MiB."""

FIELD_LENGTH_MAX: Final = 200
"""Characters in one cell we read. Keys are shorter still (the domain checks them); a longer cell
is a shifted column or a pasted document, not a value."""

IMPORT_PROBLEMS_MAX: Final = 100
"""Problems kept for the report. Beyond this the file is plainly in the wrong shape; the report
says how many more rows were bad instead of listing them all."""

MAPPING_BYTES_MAX: Final = 64 * 1024
"""Size of a JSON mapping file: a mapping names a dozen columns."""

SETTLEMENT_REFERENCE_PREFIX: Final = "SETTLE-"
"""Bank reference of the payment an invoice file's settled date stands for: prefix + number."""

DEFAULT_CURRENCY: Final = "USD"
DEFAULT_OWNER: Final = "unassigned"


class ImportKind(enum.Enum):
    """What a file's rows are."""

    INVOICES = "invoices"
    PAYMENTS = "payments"


FIELDS_REQUIRED: Final[dict[ImportKind, tuple[str, ...]]] = {
    ImportKind.INVOICES: ("customer_code", "invoice_number", "amount", "issued_on"),
    ImportKind.PAYMENTS: ("bank_reference", "customer_code", "amount", "value_on"),
}
FIELDS_OPTIONAL: Final[dict[ImportKind, tuple[str, ...]]] = {
    ImportKind.INVOICES: (
        "due_on",
        "terms_days",
        "settled_on",
        "paid_amount",
        "currency",
        "customer_name",
        "collection_owner",
        "contract_reference",
    ),
    ImportKind.PAYMENTS: ("invoice_number", "currency", "customer_name", "collection_owner"),
}
DATE_FIELDS: Final = frozenset({"issued_on", "due_on", "settled_on", "value_on"})


# Mapping --------------------------------------------------------------------------------------


def _check_columns(_instance: object, _attribute: object, columns: Mapping[str, str]) -> None:
    known = {field for fields in FIELDS_REQUIRED.values() for field in fields}
    known |= {field for fields in FIELDS_OPTIONAL.values() for field in fields}
    for field, column in columns.items():
        if field not in known:
            raise ConfigurationError(
                f"mapping names an unknown field {field!r}; known fields: "
                f"{', '.join(sorted(known))}",
                field=field,
            )
        if not isinstance(column, str) or not column.strip():
            raise ConfigurationError(
                f"mapping field {field!r} needs a column name, got {column!r}", field=field
            )


def _to_columns(columns: Mapping[str, str]) -> dict[str, str]:
    return dict(columns)


def _check_fixed_currency(_instance: object, _attribute: object, currency: str | None) -> None:
    if currency is not None:
        check_currency(currency)


@attrs.frozen(kw_only=True)
class ColumnMapping:
    """Which column holds each field, how dates are written, and the currency source.

    ``columns`` maps a field name (``customer_code``, ``amount``, ...) to a column of the file's
    header. The currency is the ``currency`` column when mapped, else ``currency`` here, else the
    importer's default.
    """

    columns: Mapping[str, str] = attrs.field(converter=_to_columns, validator=_check_columns)
    date_format: str = "%Y-%m-%d"
    currency: str | None = attrs.field(default=None, validator=_check_fixed_currency)

    def require_fields(self, kind: ImportKind) -> None:
        """Raise ``ConfigurationError`` unless every field ``kind`` needs is mapped."""
        missing = [field for field in FIELDS_REQUIRED[kind] if field not in self.columns]
        if missing:
            raise ConfigurationError(
                f"the mapping lacks {', '.join(missing)} needed to import {kind.value}",
                missing=missing,
                kind=kind.value,
            )
        allowed = set(FIELDS_REQUIRED[kind]) | set(FIELDS_OPTIONAL[kind])
        extra = sorted(set(self.columns) - allowed)
        if extra:
            raise ConfigurationError(
                f"fields {', '.join(extra)} do not apply to {kind.value}", extra=extra
            )

    def with_currency(self, currency: str | None) -> ColumnMapping:
        """The same mapping with a fixed currency; ``None`` keeps the mapping's own."""
        if currency is None:
            return self
        return attrs.evolve(self, currency=currency)


PRESETS: Final[dict[str, ColumnMapping]] = {
    # IBM's public late-payment histories: one row per invoice, settled in full on SettledDate,
    # US-style month/day/year dates, no currency column (the currency is given on import).
    "ibm": ColumnMapping(
        columns={
            "customer_code": "customerID",
            "invoice_number": "invoiceNumber",
            "amount": "InvoiceAmount",
            "issued_on": "InvoiceDate",
            "due_on": "DueDate",
            "settled_on": "SettledDate",
        },
        date_format="%m/%d/%Y",
    ),
}


def preset(name: str) -> ColumnMapping:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigurationError(
            f"no preset {name!r}; presets: {', '.join(sorted(PRESETS))}", preset=name
        ) from None


def load_mapping(path: Path) -> ColumnMapping:
    """Read a mapping from JSON: {"columns": {field: column}, "date_format": ..., "currency": ...}.

    Raises:
        ConfigurationError: the file is unreadable, not JSON, or not a valid mapping.
    """
    try:
        size = path.stat().st_size
        if size > MAPPING_BYTES_MAX:
            raise ConfigurationError(
                f"mapping {path} is {size} bytes; at most {MAPPING_BYTES_MAX}", path=str(path)
            )
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"cannot read mapping {path}: {error}", path=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ConfigurationError(
            f'mapping {path} must be a JSON object with a "columns" object', path=str(path)
        )
    unknown = sorted(set(data) - {"columns", "date_format", "currency"})
    if unknown:
        raise ConfigurationError(
            f"mapping {path} has unknown keys {', '.join(unknown)}", path=str(path)
        )
    date_format = data.get("date_format", "%Y-%m-%d")
    currency = data.get("currency")
    if not isinstance(date_format, str) or not (currency is None or isinstance(currency, str)):
        raise ConfigurationError(
            f"mapping {path}: date_format and currency must be strings", path=str(path)
        )
    return ColumnMapping(columns=data["columns"], date_format=date_format, currency=currency)


# Problems and results -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RowProblem:
    """Why one row cannot be imported: its line in the file (the header is line 1)."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.reason}"


def _file_error(path: Path, line: int, field: str, reason: str) -> ImportRowError:
    """An error for the file as a whole (encoding, header, size, CSV syntax), as one problem."""
    problem = RowProblem(line=line, field=field, reason=reason)
    return ImportRowError(
        f"{path}: {problem}; nothing was recorded",
        path=str(path),
        problems=(problem,),
        problems_total=1,
    )


@attrs.frozen(kw_only=True)
class ImportResult:
    """What an import recorded. All zero when the file was already imported."""

    kind: ImportKind
    rows: int
    customers_opened: int
    invoices_issued: int
    payments_received: int
    events_recorded: int

    @property
    def already_recorded(self) -> bool:
        return self.events_recorded == 0


# Reading the file -----------------------------------------------------------------------------


def _decode(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise _file_error(path, 1, "file", f"cannot be read: {error.strerror}") from None
    if size > IMPORT_FILE_BYTES_MAX:
        raise _file_error(
            path, 1, "file", f"{size} bytes; at most {IMPORT_FILE_BYTES_MAX} per import, split it"
        )
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _file_error(path, 1, "file", f"cannot be read: {error.strerror}") from None
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark before the header.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise _file_error(
            path,
            line,
            "encoding",
            f"the file is not UTF-8: byte 0x{raw[error.start]:02x} cannot be decoded; "
            "save the file as UTF-8 (CSV UTF-8) and import it again",
        ) from None


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each CSV record, header included."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as error:
        raise _file_error(path, reader.line_num, "file", f"not valid CSV ({error})") from None


@attrs.frozen(kw_only=True)
class _Row:
    """One data row's cells by field name, as text, with its line number."""

    line: int
    cells: dict[str, str]


def _read_rows(path: Path, mapping: ColumnMapping) -> list[_Row]:
    text = _decode(path)
    records = _records(path, text)
    header_record = next(records, None)
    if header_record is None:
        raise _file_error(path, 1, "header", "the file is empty; expected a header line")
    header = [name.strip() for name in header_record[1]]
    positions: dict[str, int] = {}
    for field, column in mapping.columns.items():
        if column not in header:
            raise _file_error(
                path,
                1,
                field,
                f"no column {column!r} in the header ({', '.join(header)})",
            )
        positions[field] = header.index(column)
    rows: list[_Row] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, such as a trailing one, carry nothing
        if len(rows) == IMPORT_ROWS_MAX:
            raise _file_error(
                path,
                line,
                "file",
                f"more than {IMPORT_ROWS_MAX} rows; split the file into several files",
            )
        rows.append(
            _Row(
                line=line,
                cells={
                    field: cells[position].strip() if position < len(cells) else ""
                    for field, position in positions.items()
                },
            )
        )
    return rows


# Parsing rows ---------------------------------------------------------------------------------


class _CellError(ValueError):
    """A cell that cannot be read; carries the field for the report."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@attrs.frozen(kw_only=True)
class _InvoiceRow:
    line: int
    customer_code: str
    customer_name: str | None
    collection_owner: str | None
    invoice_number: str
    amount: Money
    issued_on: date
    due_on: date | None
    terms_days: int | None
    settled_on: date | None
    paid: Money | None
    contract_reference: str


@attrs.frozen(kw_only=True)
class _PaymentRow:
    line: int
    customer_code: str
    customer_name: str | None
    collection_owner: str | None
    bank_reference: str
    amount: Money
    value_on: date
    invoice_number: str | None


class _CellReader:
    """Reads typed values out of one row, each failure naming its field."""

    def __init__(self, row: _Row, mapping: ColumnMapping, currency_default: str) -> None:
        self.row = row
        self.mapping = mapping
        self.currency_default = currency_default

    def text(self, field: str) -> str | None:
        value = self.row.cells.get(field, "")
        if len(value) > FIELD_LENGTH_MAX:
            raise _CellError(
                field, f"{len(value)} characters long; at most {FIELD_LENGTH_MAX} allowed"
            )
        return value or None

    def required(self, field: str) -> str:
        value = self.text(field)
        if value is None:
            raise _CellError(field, f"is empty (column {self.mapping.columns[field]!r})")
        return value

    def date(self, field: str, *, required: bool = False) -> date | None:
        value = self.required(field) if required else self.text(field)
        if value is None:
            return None
        try:
            return datetime.strptime(value, self.mapping.date_format).date()
        except ValueError:
            raise _CellError(
                field, f"{value!r} is not a date in the format {self.mapping.date_format}"
            ) from None

    def currency(self) -> str:
        value = self.text("currency") or self.mapping.currency or self.currency_default
        try:
            check_currency(value)
        except MoneyError as error:
            raise _CellError("currency", error.message) from None
        return value

    def money(self, field: str, currency: str, *, required: bool = False) -> Money | None:
        value = self.required(field) if required else self.text(field)
        if value is None:
            return None
        try:
            amount_minor = parse_amount(value, currency)
        except MoneyError as error:
            raise _CellError(field, error.message) from None
        if amount_minor <= 0:
            raise _CellError(field, f"{value} must be positive")
        return Money(amount_minor, currency)

    def days(self, field: str) -> int | None:
        value = self.text(field)
        if value is None:
            return None
        if not value.isdigit() or int(value) > TERMS_DAYS_MAX:
            raise _CellError(
                field, f"{value!r} is not a whole number of days up to {TERMS_DAYS_MAX}"
            )
        return int(value)


def _parse_invoice(reader: _CellReader) -> _InvoiceRow:
    currency = reader.currency()
    amount = reader.money("amount", currency, required=True)
    issued_on = reader.date("issued_on", required=True)
    assert amount is not None
    assert issued_on is not None
    due_on = reader.date("due_on")
    terms_days = reader.days("terms_days")
    if due_on is None and terms_days is not None:
        due_on = issued_on + timedelta(days=terms_days)
    settled_on = reader.date("settled_on")
    paid = reader.money("paid_amount", currency)
    if paid is not None and settled_on is None:
        raise _CellError("paid_amount", "given without a settled date")
    if settled_on is not None and paid is None:
        paid = amount  # settled in full unless the file says how much was paid
    return _InvoiceRow(
        line=reader.row.line,
        customer_code=reader.required("customer_code"),
        customer_name=reader.text("customer_name"),
        collection_owner=reader.text("collection_owner"),
        invoice_number=reader.required("invoice_number"),
        amount=amount,
        issued_on=issued_on,
        due_on=due_on,
        terms_days=terms_days,
        settled_on=settled_on,
        paid=paid,
        contract_reference=reader.text("contract_reference") or "",
    )


def _parse_payment(reader: _CellReader) -> _PaymentRow:
    currency = reader.currency()
    amount = reader.money("amount", currency, required=True)
    value_on = reader.date("value_on", required=True)
    assert amount is not None
    assert value_on is not None
    return _PaymentRow(
        line=reader.row.line,
        customer_code=reader.required("customer_code"),
        customer_name=reader.text("customer_name"),
        collection_owner=reader.text("collection_owner"),
        bank_reference=reader.required("bank_reference"),
        amount=amount,
        value_on=value_on,
        invoice_number=reader.text("invoice_number"),
    )


# Deciding rows --------------------------------------------------------------------------------

# Domain errors name the command's field; the report names the mapping's.
_DOMAIN_FIELDS: Final = {
    "amount_minor": "amount",
    "terms_days": "terms_days",
    "name": "customer_name",
}


def _field_of(error: ArledgerError, kind: ImportKind) -> str:
    field = error.details.get("field")
    if field == "opened_on":
        return "issued_on" if kind is ImportKind.INVOICES else "value_on"
    if isinstance(field, str):
        return _DOMAIN_FIELDS.get(field, field)
    if isinstance(error, InvalidDateError):
        return "due_on" if kind is ImportKind.INVOICES else "value_on"
    if isinstance(error, OverAllocationError):
        return "paid_amount" if kind is ImportKind.INVOICES else "amount"
    if isinstance(error, CurrencyMismatchError):
        return "currency"
    if isinstance(error, CustomerNotFoundError):
        return "customer_code"
    if isinstance(error, InvoiceNotFoundError):
        return "invoice_number"
    if isinstance(error, PaymentNotFoundError | DuplicateKeyConflictError):
        if "bank_reference" in error.details:
            return "bank_reference"
        if "customer_code" in error.details:
            return "customer_code"
        return "invoice_number"
    if isinstance(error, MoneyError):
        return "amount"
    return "row"


class _Problems:
    """Collects problems up to ``IMPORT_PROBLEMS_MAX`` and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[RowProblem] = []
        self.total = 0

    def add(self, line: int, field: str, reason: str) -> None:
        self.total += 1
        if len(self.kept) < IMPORT_PROBLEMS_MAX:
            self.kept.append(RowProblem(line=line, field=field, reason=reason))


def _open_customers(
    session: Session,
    rows: Sequence[_InvoiceRow | _PaymentRow],
    kind: ImportKind,
    problems: _Problems,
) -> tuple[int, set[str]]:
    """Open the accounts of customers new to the ledger; returns (opened, codes that failed).

    A new customer opens on its earliest date in the file (issue or value date), with the
    name, owner and currency of that row. Customers already open are used as they are.
    """
    first_rows: dict[str, _InvoiceRow | _PaymentRow] = {}
    for row in rows:
        known = first_rows.get(row.customer_code)
        if known is None or _row_date(row) < _row_date(known):
            first_rows[row.customer_code] = row
    opened = 0
    failed: set[str] = set()
    for code, row in first_rows.items():
        try:
            if session.customer(code) is not None:
                continue
            terms_days = row.terms_days if isinstance(row, _InvoiceRow) else None
            opened += bool(
                session.open_account(
                    customer_code=code,
                    name=row.customer_name or code,
                    currency=row.amount.currency,
                    collection_owner=row.collection_owner or DEFAULT_OWNER,
                    opened_on=_row_date(row),
                    terms_days=DEFAULT_TERMS_DAYS if terms_days is None else terms_days,
                )
            )
        except ArledgerError as error:
            failed.add(code)
            problems.add(row.line, _field_of(error, kind), error.message)
    return opened, failed


def _row_date(row: _InvoiceRow | _PaymentRow) -> date:
    return row.issued_on if isinstance(row, _InvoiceRow) else row.value_on


def _record_invoice(session: Session, row: _InvoiceRow) -> tuple[int, int]:
    """Issue the invoice and record its settlement; returns (invoices issued, payments)."""
    issued = session.issue_invoice(
        invoice_number=row.invoice_number,
        customer_code=row.customer_code,
        amount=row.amount,
        issued_on=row.issued_on,
        due_on=row.due_on,
        contract_reference=row.contract_reference,
    )
    if row.settled_on is None:
        return bool(issued), 0
    assert row.paid is not None
    reference = f"{SETTLEMENT_REFERENCE_PREFIX}{row.invoice_number}"
    received = _record_payment(
        session,
        bank_reference=reference,
        customer_code=row.customer_code,
        amount=row.paid,
        value_on=row.settled_on,
        invoice_number=row.invoice_number,
    )
    return bool(issued), received


def _record_payment(
    session: Session,
    *,
    bank_reference: str,
    customer_code: str,
    amount: Money,
    value_on: date,
    invoice_number: str | None,
) -> int:
    """Receive a payment and allocate it; returns 1 when it is new, 0 when already recorded.

    Allocation is not idempotent in the domain (allocating again would settle twice), so a
    payment already in the ledger keeps the allocation it got when it was first recorded. An
    explicit allocation in the file must then agree with the recorded one.
    """
    received = session.receive_payment(
        bank_reference=bank_reference, payer_code=customer_code, amount=amount, value_on=value_on
    )
    if not received:
        payment = session.require_payment(bank_reference)
        # A payment that bounced since keeps its history; the file cannot settle anything again.
        if invoice_number is not None and not payment.is_reversed:
            allocated_minor = payment.allocations.get(ids.invoice_id(invoice_number), 0)
            if allocated_minor != amount.amount_minor:
                raise DuplicateKeyConflictError(
                    f"payment {bank_reference} is already recorded with another allocation "
                    f"(to {invoice_number}: {allocated_minor} of {amount.amount_minor} minor "
                    "units)",
                    bank_reference=bank_reference,
                    invoice_number=invoice_number,
                )
        return 0
    if invoice_number is not None:
        session.allocate_payment(
            bank_reference=bank_reference, allocations={invoice_number: amount}
        )
        return 1
    payment = session.require_payment(bank_reference)
    payer = session.customer_by_id(payment.payer_customer_id)
    assert payer is not None
    invoices = [session.invoice_by_id(invoice_id) for invoice_id in payer.invoice_ids]
    plan = plan_oldest_due_first(payment, [invoice for invoice in invoices if invoice is not None])
    # With nothing open to settle the money stays unapplied, which is a fact, not an error.
    if plan:
        session.allocate_payment(bank_reference=bank_reference)
    return 1


def _decide(
    session: Session,
    rows: Sequence[_InvoiceRow | _PaymentRow],
    kind: ImportKind,
    problems: _Problems,
) -> tuple[int, int, int]:
    customers_opened, failed_customers = _open_customers(session, rows, kind, problems)
    invoices_issued = 0
    payments_received = 0
    for row in rows:
        if row.customer_code in failed_customers:
            continue  # already reported on the customer's first row
        try:
            if isinstance(row, _InvoiceRow):
                issued, received = _record_invoice(session, row)
                invoices_issued += issued
                payments_received += received
            else:
                payments_received += _record_payment(
                    session,
                    bank_reference=row.bank_reference,
                    customer_code=row.customer_code,
                    amount=row.amount,
                    value_on=row.value_on,
                    invoice_number=row.invoice_number,
                )
        except ArledgerError as error:
            problems.add(row.line, _field_of(error, kind), error.message)
    return customers_opened, invoices_issued, payments_received


# The import -----------------------------------------------------------------------------------


def import_file(
    ledger: Ledger,
    path: Path,
    mapping: ColumnMapping,
    *,
    kind: ImportKind = ImportKind.INVOICES,
    currency: str = DEFAULT_CURRENCY,
) -> ImportResult:
    """Import every row of ``path`` in one transaction, or nothing.

    ``currency`` is used for rows when the mapping has neither a currency column nor a fixed
    currency.

    Raises:
        ConfigurationError: the mapping does not fit ``kind``.
        ImportRowError: the file cannot be read as CSV with the mapped header, or some rows are
            invalid; ``problems`` lists each (line, field, reason). Nothing was recorded.
    """
    mapping.require_fields(kind)
    check_currency(currency)
    raw_rows = _read_rows(path, mapping)
    problems = _Problems()
    rows: list[_InvoiceRow | _PaymentRow] = []
    for raw in raw_rows:
        reader = _CellReader(raw, mapping, currency)
        try:
            rows.append(
                _parse_invoice(reader) if kind is ImportKind.INVOICES else _parse_payment(reader)
            )
        except _CellError as error:
            problems.add(raw.line, error.field, error.reason)
    session = ledger.session()
    customers_opened, invoices_issued, payments_received = _decide(session, rows, kind, problems)
    if problems.total:
        # Cell problems are found before domain ones; the report reads in file order.
        shown = sorted(problems.kept, key=lambda problem: problem.line)
        more = problems.total - len(shown)
        summary = f"{path}: {problems.total} problem(s); nothing was recorded"
        lines = [summary, *(f"  {problem}" for problem in shown)]
        if more:
            lines.append(f"  ... and {more} more (only the first {IMPORT_PROBLEMS_MAX} are shown)")
        raise ImportRowError(
            "\n".join(lines),
            path=str(path),
            problems=tuple(shown),
            problems_total=problems.total,
        )
    try:
        events_recorded = session.commit()
    except IntegrityError:
        raise ConcurrencyError(
            f"{path}: another writer changed the same customers, invoices or payments while "
            "this file was imported; nothing was recorded, import it again",
            path=str(path),
        ) from None
    return ImportResult(
        kind=kind,
        rows=len(raw_rows),
        customers_opened=customers_opened,
        invoices_issued=invoices_issued,
        payments_received=payments_received,
        events_recorded=events_recorded,
    )
