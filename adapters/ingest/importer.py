"""CSV import of invoices and payments through a column mapping, all or nothing.

A ``ColumnMapping`` says which column of the file holds each field the ledger needs, how dates
are written, and where the currency comes from (a column, else one fixed currency). Presets cover
known exports (``ibm``: the sample late-payment histories); any other export is described by a
JSON file.

Invariant: by default a file is recorded whole or not at all. Every row is parsed and then
decided in one ``Session``; the session is written only when no row has a problem, and
otherwise every problem is reported with its line number, field and reason. Ids come from
business keys (customer code, invoice number, bank reference), so importing the same file again
records nothing new. The write goes in batches of whole rows, one transaction each
(``arledger.adapters.persistence.bulk``): a write cut short (a crash, a conflict) leaves whole
rows, and importing the file again records exactly the rest.

A row must have exactly one cell per header column, and the header must name each column once:
otherwise no cell can be trusted to be in its column (an unquoted 1,000.00 is two cells).

Opt-in (``rejects_to``): the good rows are recorded and every rejected row is written to a CSV
file with its line, field and reason before its original cells. Nothing of a rejected row is
recorded: each row is decided in a savepoint of the session (``UnitOfWork.savepoint``), kept
only when all of the row's commands succeed, a row that repeats the key of a rejected row or
belongs to a customer whose account could not be opened is rejected too, and a customer is
opened only from rows that are kept. The rejects file never replaces anything but an earlier
rejects file, and that only when asked (``check_rejects_path``); it is written aside and renamed
when complete, its cells neutralised for spreadsheets (``csv_output``), which reading it back
undoes.

Columns a preset knows and does not import (``ColumnMapping.not_imported``: the IBM sample's
Disputed flag) are counted and reported in the result, never dropped in silence.
"""

from __future__ import annotations

import csv
import enum
import errno
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import attrs

from arledger.adapters import csv_output
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.application.session import Session
from arledger.adapters.persistence import bulk
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
    InvalidCommandError,
    InvalidDateError,
    InvoiceNotFoundError,
    MoneyError,
    OverAllocationError,
    PaymentNotFoundError,
    RejectsPathError,
)
from arledger.domain.events import AllocationRule
from arledger.domain.money import Money, check_currency, parse_amount
from arledger.domain.payment import plan_automatic
from arledger.domain.rules import DATE_MAX, DATE_MIN, TERMS_DAYS_MAX

IMPORT_ROWS_MAX: Final = 100_000
"""Data rows per file. A file is decided whole in memory before it is written: a larger export
belongs in several files (one per period), so that memory stays small."""

IMPORT_FILE_BYTES_MAX: Final = 64 * 1024 * 1024
"""Size of an import file: 100,000 rows of a wide ERP export fit in well under 64 MiB."""

FIELD_LENGTH_MAX: Final = 200
"""Characters in one cell we read. Keys are shorter still (the domain checks them); a longer cell
is a shifted column or a pasted document, not a value."""

IMPORT_PROBLEMS_MAX: Final = 100
"""Problems kept for the report. Beyond this the file is plainly in the wrong shape; the report
says how many more rows were bad instead of listing them all."""

IMPORT_YEAR_MIN: Final = DATE_MIN.year
IMPORT_YEAR_MAX: Final = DATE_MAX.year
"""Years a date in a file may have. Earlier or later is a mistyped year or a shifted column
(an amount or serial number read as a date), not an invoice, due or payment date."""

MAPPING_BYTES_MAX: Final = 64 * 1024
"""Size of a JSON mapping file: a mapping names a dozen columns."""

SETTLEMENT_REFERENCE_PREFIX: Final = "SETTLE-"
"""Bank reference of the payment an invoice file's settled date stands for: prefix + number."""

DEFAULT_CURRENCY: Final = "USD"
DEFAULT_OWNER: Final = "unassigned"

REJECT_COLUMNS: Final = ("reject_line", "reject_field", "reject_reason")
"""Leading columns of a rejects file, before the row's original cells. Named so that they cannot
be taken for a column of the export: the same mapping reads the corrected rejects file."""


REJECTS_HEAD_BYTES_MAX: Final = 64 * 1024
"""Bytes read from the start of an existing file to tell whether it is a rejects file."""

SQLITE_SIDECARS: Final = ("", "-wal", "-shm", "-journal")
"""Suffixes of the files SQLite keeps for a store: the rejects may go to none of them."""


def is_rejects_header(cells: Sequence[str]) -> bool:
    """Whether a CSV header is that of a rejects file arledger wrote."""
    return tuple(cells[: len(REJECT_COLUMNS)]) == REJECT_COLUMNS


class RejectsConflict(enum.Enum):
    """Why the rejected rows of an import cannot be written to a path."""

    INPUT = "it is the imported file"
    STORE = "it is a file of the ledger's store"
    DIRECTORY = "it is a directory"
    NO_DIRECTORY = "its directory does not exist"
    EXISTS = "it exists; write the rejects to a new file"
    NOT_REJECTS = (
        "it exists and is not a rejects file arledger wrote (its first line does not begin "
        "with reject_line,reject_field,reject_reason), so it is not replaced"
    )


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
        "interest",
        "fees",
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


@attrs.frozen(kw_only=True)
class ColumnNotImported:
    """A column of a known export that the ledger does not import, and why.

    The rows whose cell is ``value`` (ignoring case) are counted on each import and reported
    with ``reason``, so that what a file says and the ledger leaves out is said, not silent.
    """

    column: str
    value: str
    reason: str


def _to_not_imported(columns: Sequence[ColumnNotImported]) -> tuple[ColumnNotImported, ...]:
    return tuple(columns)


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
    not_imported: tuple[ColumnNotImported, ...] = attrs.field(
        default=(), converter=_to_not_imported
    )

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
        # Disputed is a Yes/No flag. The ledger records a dispute with the amount in dispute,
        # the date it was opened, a reason and, once resolved, its date and outcome (upheld
        # with a credit note, or rejected); the file has none of these, and every invoice in
        # it is settled in full. Any mapping (the whole amount, disputed from issue to
        # settlement, rejected) would invent facts, so the flag is counted and reported.
        not_imported=(
            ColumnNotImported(
                column="Disputed",
                value="Yes",
                reason="the file flags disputes without the amount, dates and outcome a "
                "dispute is recorded with, so none is recorded and 'of which disputed' leaves "
                "these invoices out; record them with Ledger.open_dispute if needed",
            ),
        ),
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
class NotImportedRows:
    """A column the import left out (``ColumnNotImported``) and how many rows held ``value``."""

    column: str
    value: str
    reason: str
    rows: int


@attrs.frozen(kw_only=True)
class ImportResult:
    """What an import recorded. All zero when the file was already imported.

    ``rejected`` lists the rows left out, by line, when the import was asked to keep the good
    rows and write the rejects to a file; it is empty otherwise.
    """

    kind: ImportKind
    rows: int
    customers_opened: int
    invoices_issued: int
    payments_received: int
    events_recorded: int
    rejected: tuple[RowProblem, ...] = ()
    not_imported: tuple[NotImportedRows, ...] = ()
    """The mapping's columns not imported that some rows had a value in (whatever was recorded,
    even when the file was already recorded)."""

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    @property
    def already_recorded(self) -> bool:
        return self.events_recorded == 0 and not self.rejected


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
    # utf-8-sig: spreadsheet programs put a byte-order mark before the header. A byte that is not
    # UTF-8 becomes a lone surrogate, so that each row holding one is reported on its own line
    # (and, when keeping the good rows, only those rows are left out).
    return raw.decode("utf-8-sig", errors="surrogateescape")


_UNDECODED: Final = re.compile("[\udc80-\udcff]")
"""What ``surrogateescape`` turns a byte that is not UTF-8 into."""


def _undecoded(cells: Sequence[str], header: Sequence[str]) -> str | None:
    """Why ``cells`` cannot be read as UTF-8, or None when they can."""
    for position, cell in enumerate(cells):
        found = _UNDECODED.search(cell)
        if found is not None:
            column = header[position] if position < len(header) else f"#{position + 1}"
            byte = ord(found.group()) - 0xDC00
            return (
                f"the file is not UTF-8: byte 0x{byte:02x} in column {column!r} cannot be "
                "decoded; save the file as UTF-8 (CSV UTF-8) and import it again"
            )
    return None


def _printable(cell: str) -> str:
    """A cell as UTF-8 text, each byte that was not UTF-8 shown as an escape such as \\xfc."""
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
    """One data row's cells by field name, as text, with its line number and original cells."""

    line: int
    cells: dict[str, str]
    record: tuple[str, ...] = ()


def _read_rows(path: Path, mapping: ColumnMapping) -> tuple[list[str], list[_Row]]:
    """The header and the data rows of ``path``."""
    text = _decode(path)
    records = _records(path, text)
    header_record = next(records, None)
    if header_record is None:
        raise _file_error(path, 1, "header", "the file is empty; expected a header line")
    header_cells = header_record[1]
    # A rejects file was written neutralised for spreadsheets: read back the cells as they were.
    restoring = is_rejects_header(header_cells)
    if restoring:
        header_cells = [csv_output.restore(cell) for cell in header_cells]
    header = [name.strip() for name in header_cells]
    undecoded = _undecoded(header, header)
    if undecoded is not None:
        raise _file_error(path, 1, "encoding", undecoded)
    _check_header_names(path, header)
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
    for line, record in records:
        cells = [csv_output.restore(cell) for cell in record] if restoring else record
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
                record=tuple(cells),
            )
        )
    return header, rows


def _check_header_names(path: Path, header: Sequence[str]) -> None:
    """Refuse a header naming two columns alike: a mapping could not say which one it means,
    and a corrected rejects file could not be read back."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise _file_error(
                path,
                1,
                "header",
                f"column {name!r} is named twice (columns {seen[name]} and {position}); "
                "give each column its own name",
            )
        seen[name] = position


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
    # The parts of the amount that are interest and fees (None: none, all principal), so that
    # a payment allocated by the component order (BGB 366/367) settles them first.
    interest: Money | None = None
    fees: Money | None = None


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


_ASCII_DIGITS: Final = re.compile("[0-9]+")


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
        # strptime reads any script's digits where the format has a number (2024-01-1 followed by
        # an Arabic-Indic zero is 10 January); a date is written with 0-9, whatever letters its
        # format has (such as %Y年%m月%d日).
        if any(character.isdigit() and not character.isascii() for character in value):
            raise _CellError(field, f"{value!r} has digits other than 0-9")
        try:
            parsed = datetime.strptime(value, self.mapping.date_format).date()
        except ValueError:
            raise _CellError(
                field, f"{value!r} is not a date in the format {self.mapping.date_format}"
            ) from None
        if not IMPORT_YEAR_MIN <= parsed.year <= IMPORT_YEAR_MAX:
            raise _CellError(
                field,
                f"{value!r} is outside the years {IMPORT_YEAR_MIN} to {IMPORT_YEAR_MAX} an "
                "import accepts",
            )
        return parsed

    def currency(self) -> str:
        value = self.text("currency") or self.mapping.currency or self.currency_default
        try:
            check_currency(value)
        except MoneyError as error:
            raise _CellError("currency", error.message) from None
        return value

    def money(
        self, field: str, currency: str, *, required: bool = False, zero_allowed: bool = False
    ) -> Money | None:
        value = self.required(field) if required else self.text(field)
        if value is None:
            return None
        try:
            amount_minor = parse_amount(value, currency)
        except MoneyError as error:
            raise _CellError(field, error.message) from None
        if amount_minor < 0 or (amount_minor == 0 and not zero_allowed):
            raise _CellError(
                field, f"{value} must be {'zero or more' if zero_allowed else 'positive'}"
            )
        return Money(amount_minor, currency)

    def days(self, field: str) -> int | None:
        value = self.text(field)
        if value is None:
            return None
        # Only the digits 0-9: str.isdigit() is also true for superscripts and circled digits
        # (which int() cannot read) and for other scripts' digits (which it reads).
        if _ASCII_DIGITS.fullmatch(value) is None or int(value) > TERMS_DAYS_MAX:
            raise _CellError(
                field, f"{value!r} is not a whole number of days (0-9) up to {TERMS_DAYS_MAX}"
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
        interest=reader.money("interest", currency, zero_allowed=True),
        fees=reader.money("fees", currency, zero_allowed=True),
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
    if field == "bank_reference" and kind is ImportKind.INVOICES:
        # An invoice file's settlement takes its bank reference from the invoice number.
        return "invoice_number"
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
        if "bank_reference" in error.details and kind is ImportKind.INVOICES:
            return "settled_on"  # the settlement recorded before differs from this row's
        if "bank_reference" in error.details:
            return "bank_reference"
        if "customer_code" in error.details:
            return "customer_code"
        return "invoice_number"
    if isinstance(error, MoneyError):
        return "amount"
    if (
        isinstance(error, InvalidCommandError)
        and kind is ImportKind.PAYMENTS
        and {"bank_reference", "invoice_number"} <= error.details.keys()
    ):
        # The domain refuses to settle one customer's invoice with another customer's money:
        # the payer is not the invoice's customer.
        return "customer_code"
    return "row"


# Rows are decided each in a savepoint of the session: what a refused row recorded is rolled
# back, so it leaves neither events nor changed states behind, and the rows after it are decided
# as if it were not in the file. A kept row ends a unit: a bulk write never splits it.


def _prefetch(session: Session, rows: Sequence[_InvoiceRow | _PaymentRow]) -> None:
    """Read every customer, invoice and payment the rows name with a few queries, instead of
    one query per key while deciding."""
    bank_references = [
        row.bank_reference
        if isinstance(row, _PaymentRow)
        else f"{SETTLEMENT_REFERENCE_PREFIX}{row.invoice_number}"
        for row in rows
        if isinstance(row, _PaymentRow) or row.settled_on is not None
    ]
    bulk.prefetch(
        session,
        customer_ids=[ids.customer_id(row.customer_code) for row in rows],
        invoice_ids=[ids.invoice_id(row.invoice_number) for row in rows if row.invoice_number],
        payment_ids=[ids.payment_id(reference) for reference in bank_references],
    )


def _open_customers(
    session: Session, rows: Sequence[_InvoiceRow | _PaymentRow], kind: ImportKind
) -> tuple[int, dict[int, str], dict[str, RowProblem]]:
    """Open the accounts of customers new to the ledger.

    A new customer opens on its earliest date among ``rows`` (issue or value date), with the
    name, owner and currency of that row. Customers already open are used as they are.

    Returns:
        (accounts opened, the lines whose rows opened them with their customer codes, the
        problem of each customer whose account could not be opened).
    """
    first_rows: dict[str, _InvoiceRow | _PaymentRow] = {}
    for row in rows:
        known = first_rows.get(row.customer_code)
        if known is None or _row_date(row) < _row_date(known):
            first_rows[row.customer_code] = row
    opened = 0
    opening_lines: dict[int, str] = {}
    failed: dict[str, RowProblem] = {}
    for code, row in first_rows.items():
        try:
            if session.customer(code) is not None:  # refuses a code that is not a key
                continue
            terms_days = row.terms_days if isinstance(row, _InvoiceRow) else None
            with session.savepoint():
                events = session.open_account(
                    customer_code=code,
                    name=row.customer_name or code,
                    currency=row.amount.currency,
                    collection_owner=row.collection_owner or DEFAULT_OWNER,
                    opened_on=_row_date(row),
                    terms_days=DEFAULT_TERMS_DAYS if terms_days is None else terms_days,
                )
        except ArledgerError as error:
            failed[code] = RowProblem(
                line=row.line, field=_field_of(error, kind), reason=error.message
            )
            continue
        session.end_unit()
        if events:
            opened += 1
            opening_lines[row.line] = code
    return opened, opening_lines, failed


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
        interest=row.interest,
        fees=row.fees,
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
    # The payer's rule in force on the value date, as the ledger's automatic allocation uses;
    # under explicit only the money waits unapplied, as with nothing open to settle: a fact,
    # not an error in the file.
    rule, _ = payer.allocation_rule_on(payment.value_on)
    if rule is AllocationRule.EXPLICIT_ONLY:
        return 1
    invoices = [session.invoice_by_id(invoice_id) for invoice_id in payer.invoice_ids]
    plan = plan_automatic(rule, payment, [invoice for invoice in invoices if invoice is not None])
    if plan:
        session.allocate_payment(bank_reference=bank_reference)
    return 1


def _record_row(session: Session, row: _InvoiceRow | _PaymentRow) -> tuple[int, int]:
    """Record one row; returns (invoices issued, payments received)."""
    if isinstance(row, _InvoiceRow):
        return _record_invoice(session, row)
    received = _record_payment(
        session,
        bank_reference=row.bank_reference,
        customer_code=row.customer_code,
        amount=row.amount,
        value_on=row.value_on,
        invoice_number=row.invoice_number,
    )
    return 0, received


_Key = tuple[str, str]
"""A business key as (field, value): ("invoice_number", "R-1")."""

_KEY_NOUNS: Final = {"invoice_number": "invoice", "bank_reference": "payment"}


def _row_keys(kind: ImportKind, raw: _Row) -> tuple[_Key | None, _Key | None]:
    """(the key of what the row records, the key of a record it refers to), from its cells."""
    if kind is ImportKind.INVOICES:
        own, refers = ("invoice_number", raw.cells.get("invoice_number", "")), None
    else:
        own = ("bank_reference", raw.cells.get("bank_reference", ""))
        refers = ("invoice_number", raw.cells.get("invoice_number", ""))
    return (own if own[1] else None), (refers if refers is not None and refers[1] else None)


def _dependency(
    kind: ImportKind,
    raw: _Row,
    row: _InvoiceRow | _PaymentRow,
    customers_failed: Mapping[str, RowProblem],
    keys_rejected: Mapping[_Key, int],
) -> RowProblem | None:
    """The problem of a row that stands on a rejected one, else None."""
    failed = customers_failed.get(row.customer_code)
    if failed is not None:
        if failed.line == raw.line:
            return failed
        return RowProblem(
            line=raw.line,
            field="customer_code",
            reason=f"the account of customer {row.customer_code} could not be opened "
            f"(line {failed.line}, {failed.field}: {failed.reason})",
        )
    for key in _row_keys(kind, raw):
        if key is not None and key in keys_rejected:
            field, value = key
            return RowProblem(
                line=raw.line,
                field=field,
                reason=f"{_KEY_NOUNS[field]} {value} was rejected on line {keys_rejected[key]}",
            )
    return None


@attrs.frozen(kw_only=True)
class _Decision:
    """One pass over a file's rows: a session holding the kept rows' events, and the rest."""

    session: Session
    customers_opened: int
    invoices_issued: int
    payments_received: int
    rejected: dict[int, RowProblem]
    opening_lines: frozenset[int]
    """Lines of the rows whose name, owner, terms and date opened a new customer."""


def _decide(
    ledger: Ledger,
    entries: Sequence[tuple[_Row, _InvoiceRow | _PaymentRow | None]],
    kind: ImportKind,
    rejected_before: Mapping[int, RowProblem],
) -> _Decision:
    """Decide every row in a new session; rows in ``rejected_before`` are left out.

    A row is rejected when a command of it is refused, when its customer's account could not be
    opened, or when it repeats the key of a rejected row (or refers to one): an earlier row with
    the same key that was kept stands, and a differing repeat of it is refused on its own.
    """
    session = ledger.session()
    rejected = dict(rejected_before)
    kept = [row for raw, row in entries if row is not None and raw.line not in rejected]
    _prefetch(session, kept)
    customers_opened, opening_lines, customers_failed = _open_customers(session, kept, kind)
    invoices_issued = 0
    payments_received = 0
    keys_kept: set[_Key] = set()
    keys_rejected: dict[_Key, int] = {}
    for raw, row in entries:
        own, _refers = _row_keys(kind, raw)
        problem = rejected.get(raw.line)
        if problem is None:
            assert row is not None  # a row that could not be read has its cell problem
            problem = _dependency(kind, raw, row, customers_failed, keys_rejected)
        if problem is None:
            assert row is not None
            try:
                with session.savepoint():
                    issued, received = _record_row(session, row)
            except ArledgerError as error:
                problem = RowProblem(
                    line=raw.line, field=_field_of(error, kind), reason=error.message
                )
            else:
                session.end_unit()
                invoices_issued += issued
                payments_received += received
                if own is not None:
                    keys_kept.add(own)
                continue
        rejected[raw.line] = problem
        if own is not None and own not in keys_kept:
            keys_rejected.setdefault(own, raw.line)
    return _Decision(
        session=session,
        customers_opened=customers_opened,
        invoices_issued=invoices_issued,
        payments_received=payments_received,
        rejected=rejected,
        opening_lines=frozenset(opening_lines),
    )


def _parse_row(
    raw: _Row, header: Sequence[str], mapping: ColumnMapping, currency: str, kind: ImportKind
) -> _InvoiceRow | _PaymentRow:
    # A row with more cells than the header has a cell split in two (1,000.00 unquoted) and
    # its later cells shifted; one with fewer has lost some. Either way no cell can be trusted
    # to be in its column.
    if len(raw.record) != len(header):
        hint = (
            "a value holding a comma, such as 1,000.00, must be in double quotes"
            if len(raw.record) > len(header)
            else "give every column a cell, an empty one if need be"
        )
        raise _CellError(
            "row",
            f"{len(raw.record)} cells but the header has {len(header)} columns ({hint})",
        )
    undecoded = _undecoded(raw.record, header)
    if undecoded is not None:
        raise _CellError("encoding", undecoded)
    reader = _CellReader(raw, mapping, currency)
    return _parse_invoice(reader) if kind is ImportKind.INVOICES else _parse_payment(reader)


def _count_not_imported(
    mapping: ColumnMapping, header: Sequence[str], rows: Sequence[_Row]
) -> tuple[NotImportedRows, ...]:
    """The mapping's columns not imported, with the rows holding their value (when any do)."""
    counted = []
    for column in mapping.not_imported:
        if column.column not in header:
            continue
        position = header.index(column.column)
        value = column.value.casefold()
        holding = sum(
            1
            for row in rows
            if position < len(row.record) and row.record[position].strip().casefold() == value
        )
        if holding:
            counted.append(
                NotImportedRows(
                    column=column.column, value=column.value, reason=column.reason, rows=holding
                )
            )
    return tuple(counted)


def _rows_error(path: Path, rejected: Mapping[int, RowProblem]) -> ImportRowError:
    """The error for a file with bad rows: the first ``IMPORT_PROBLEMS_MAX`` in file order."""
    shown = [rejected[line] for line in sorted(rejected)[:IMPORT_PROBLEMS_MAX]]
    if len(rejected) == 1:
        # One problem, one line, as a problem with the whole file is reported.
        return ImportRowError(
            f"{path}: {shown[0]}; nothing was recorded",
            path=str(path),
            problems=tuple(shown),
            problems_total=1,
        )
    more = len(rejected) - len(shown)
    summary = f"{path}: {len(rejected)} problem(s); nothing was recorded"
    lines = [summary, *(f"  {problem}" for problem in shown)]
    if more:
        lines.append(f"  ... and {more} more (only the first {IMPORT_PROBLEMS_MAX} are shown)")
    return ImportRowError(
        "\n".join(lines),
        path=str(path),
        problems=tuple(shown),
        problems_total=len(rejected),
    )


def _rejects_refused(path: Path, conflict: RejectsConflict) -> RejectsPathError:
    return RejectsPathError(
        f"the rejected rows cannot be written to {path}: {conflict.value}; nothing was recorded",
        path=str(path),
        conflict=conflict,
    )


def _store_paths(ledger: Ledger) -> list[Path]:
    """The files of the ledger's store, when it is a SQLite file."""
    settings = ledger.store_settings
    if not settings.get("PERSISTENCE_MODULE", "").endswith("sqlite"):
        return []
    name = settings.get("SQLITE_DBNAME", "")
    if name.startswith("file:"):  # a URI: file:path?options
        name = name.removeprefix("file:").split("?", 1)[0]
    if not name or name == ":memory:" or "mode=memory" in settings.get("SQLITE_DBNAME", ""):
        return []
    return [Path(name + suffix) for suffix in SQLITE_SIDECARS]


def _same_file(one: Path, other: Path) -> bool:
    if one.resolve() == other.resolve():
        return True
    try:
        return os.path.samefile(one, other)  # hard links, bind mounts
    except OSError:
        return False  # one of them does not exist


def _is_rejects_file(path: Path) -> bool:
    """Whether ``path`` is a regular file whose first line is a rejects file's header."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False  # a link, a device, a pipe: never read nor replaced
        with path.open("rb") as file:
            head = file.read(REJECTS_HEAD_BYTES_MAX)
    except OSError:
        return False
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return False
    return is_rejects_header(first)


def check_rejects_path(
    ledger: Ledger, rejects_to: Path, imported: Path, *, overwrite: bool = False
) -> None:
    """Refuse a path the rejected rows of importing ``imported`` must not be written to.

    Never the imported file, a file of the ledger's store, or a directory; an existing file
    only with ``overwrite`` and only when it is a rejects file arledger wrote.

    Raises:
        RejectsPathError: with ``conflict``, a ``RejectsConflict``.
    """
    if _same_file(rejects_to, imported):
        raise _rejects_refused(rejects_to, RejectsConflict.INPUT)
    if any(_same_file(rejects_to, store) for store in _store_paths(ledger)):
        raise _rejects_refused(rejects_to, RejectsConflict.STORE)
    if rejects_to.is_dir():
        raise _rejects_refused(rejects_to, RejectsConflict.DIRECTORY)
    if not rejects_to.parent.is_dir():
        raise _rejects_refused(rejects_to, RejectsConflict.NO_DIRECTORY)
    if os.path.lexists(rejects_to):
        if not overwrite:
            raise _rejects_refused(rejects_to, RejectsConflict.EXISTS)
        if not _is_rejects_file(rejects_to):
            raise _rejects_refused(rejects_to, RejectsConflict.NOT_REJECTS)


def _write_rejects(
    path: Path,
    header: Sequence[str],
    rows: Sequence[_Row],
    rejected: Mapping[int, RowProblem],
    *,
    overwrite: bool,
    raw: bool = False,
) -> None:
    """Write each rejected row, in file order: line, field and reason, then its original cells.

    Every rejected row is written, however many: unlike the error report, this file is the
    record of what was left out. The file is written aside (mode 0600) and renamed into place
    when complete, so a write cut short leaves no half file and an earlier rejects file as it
    was. A file that appeared at ``path`` since ``check_rejects_path`` is never replaced; a
    replaced rejects file keeps its mode. Cells are neutralised for spreadsheets unless ``raw``
    (``csv_output``); the importer restores them when it reads the file back.
    """
    # The rejects of a rejects file take its rows' cells without their old line, field and
    # reason: the new file has the columns of the first and reads back with the same mapping.
    skip = len(REJECT_COLUMNS) if is_rejects_header(header) else 0
    records = {row.line: row.record[skip:] for row in rows}
    try:
        # mkstemp creates the file readable and writable by its owner only: rejected rows are
        # customers' data.
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as error:
        raise _rejects_unwritable(path, error) from None
    partial = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            writer = csv_output.writer(file, raw=raw)
            writer.writerow([*REJECT_COLUMNS, *header[skip:]])
            for line in sorted(rejected):
                problem = rejected[line]
                cells = [_printable(cell) for cell in records[line]]
                writer.writerow([line, problem.field, problem.reason, *cells])
            file.flush()
            os.fsync(file.fileno())
        _put_in_place(partial, path, overwrite=overwrite)
    except OSError as error:
        raise _rejects_unwritable(path, error) from None
    finally:
        partial.unlink(missing_ok=True)


def _put_in_place(partial: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite and os.path.lexists(path):
        if not _is_rejects_file(path):
            raise _rejects_refused(path, RejectsConflict.NOT_REJECTS)
        os.chmod(partial, stat.S_IMODE(path.stat().st_mode))
        os.replace(partial, path)
        return
    try:
        # A hard link is made only where nothing is: unlike a rename, it never replaces a file
        # that appeared since the path was checked.
        os.link(partial, path)
    except FileExistsError:
        raise _rejects_refused(path, RejectsConflict.EXISTS) from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(path):
            raise _rejects_refused(path, RejectsConflict.EXISTS) from None
        os.replace(partial, path)


_NO_HARD_LINKS: Final = frozenset({errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP})
"""What ``os.link`` raises on file systems without hard links (FAT, some network shares)."""


def _rejects_unwritable(path: Path, error: OSError) -> ConfigurationError:
    return ConfigurationError(
        f"cannot write the rejected rows to {path}: {error.strerror or error}; nothing was "
        "recorded",
        path=str(path),
    )


# The import -----------------------------------------------------------------------------------


def import_file(
    ledger: Ledger,
    path: Path,
    mapping: ColumnMapping,
    *,
    kind: ImportKind = ImportKind.INVOICES,
    currency: str = DEFAULT_CURRENCY,
    rejects_to: Path | None = None,
    rejects_overwrite: bool = False,
    rejects_raw: bool = False,
    rejects_plaintext: bool = False,
    progress: bulk.Progress | None = None,
) -> ImportResult:
    """Import every row of ``path``, or nothing (written in batches of whole rows).

    ``currency`` is used for rows when the mapping has neither a currency column nor a fixed
    currency. With ``rejects_to``, the good rows are recorded instead and every rejected row is
    written to that CSV file (line, field and reason, then the row's cells); the file is written,
    possibly with no rows, before anything is recorded. It must be a new file, or with
    ``rejects_overwrite`` a rejects file an earlier import wrote (see ``check_rejects_path``,
    checked before anything else); its cells are neutralised for spreadsheets unless
    ``rejects_raw`` (``csv_output``). The rejected rows are written as they are, in plaintext:
    with an encrypted store that takes ``rejects_plaintext`` (``Ledger.check_plaintext_output``).
    ``progress(events written, events to write)`` is called after each batch (see
    ``bulk.write_pending``).

    Raises:
        RejectsPathError: ``rejects_to`` is the imported file, a file of the store, a
            directory, or a file that exists (and, with ``rejects_overwrite``, is not a rejects
            file). Nothing was recorded.
        ConfigurationError: the mapping does not fit ``kind``, or ``rejects_to`` cannot be
            written. Nothing was recorded.
        PlaintextOutputError: the store is encrypted and ``rejects_plaintext`` is False.
            Nothing was recorded.
        ImportRowError: the file cannot be read as CSV with the mapped header, or (without
            ``rejects_to``) some rows are invalid; ``problems`` lists each (line, field,
            reason). Nothing was recorded.
    """
    mapping.require_fields(kind)
    check_currency(currency)
    if rejects_to is not None:
        ledger.check_plaintext_output(
            rejects_to, output="rejects file", plaintext=rejects_plaintext
        )
        check_rejects_path(ledger, rejects_to, path, overwrite=rejects_overwrite)
    header, raw_rows = _read_rows(path, mapping)
    not_imported = _count_not_imported(mapping, header, raw_rows)
    entries: list[tuple[_Row, _InvoiceRow | _PaymentRow | None]] = []
    rejected: dict[int, RowProblem] = {}
    for raw in raw_rows:
        try:
            entries.append((raw, _parse_row(raw, header, mapping, currency, kind)))
        except _CellError as error:
            entries.append((raw, None))
            rejected[raw.line] = RowProblem(line=raw.line, field=error.field, reason=error.reason)
    decision = _decide(ledger, entries, kind, rejected)
    while rejects_to is not None and decision.opening_lines & decision.rejected.keys():
        # A customer was opened from a row rejected afterwards: decide again without that row,
        # so that the account opens from a kept row and nothing of the rejected one is
        # recorded. Each pass starts with more rows rejected than the last, so this ends.
        decision = _decide(ledger, entries, kind, decision.rejected)
    if decision.rejected and rejects_to is None:
        raise _rows_error(path, decision.rejected)
    if rejects_to is not None:
        _write_rejects(
            rejects_to,
            header,
            raw_rows,
            decision.rejected,
            overwrite=rejects_overwrite,
            raw=rejects_raw,
        )
    session = decision.session
    customers_opened = decision.customers_opened
    invoices_issued = decision.invoices_issued
    payments_received = decision.payments_received
    try:
        events_recorded = bulk.write_pending(ledger, session, progress=progress)
    except bulk.PartialWriteError as error:
        raise ConcurrencyError(
            f"{path}: another writer changed the same customers, invoices or payments while "
            f"this file was imported; {error.events_written} of {error.events_total} events "
            "(whole rows) were recorded, import the file again to record the rest",
            path=str(path),
            events_recorded=error.events_written,
        ) from None
    return ImportResult(
        kind=kind,
        rows=len(raw_rows),
        customers_opened=customers_opened,
        invoices_issued=invoices_issued,
        payments_received=payments_received,
        events_recorded=events_recorded,
        rejected=tuple(decision.rejected[line] for line in sorted(decision.rejected)),
        not_imported=not_imported,
    )
