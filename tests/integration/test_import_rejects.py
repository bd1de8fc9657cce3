"""Importing with a rejects file: the good rows are recorded, each bad row is written out.

Nothing of a rejected row is recorded, not even half of it: a settlement that fails takes its
invoice with it, a customer first seen on a rejected row opens from a kept row or not at all,
and rows that stand on a rejected one (a repeat of its key, a customer whose account could not
be opened) are rejected with it. The default stays all or nothing.
"""

from __future__ import annotations

import csv
import errno
import stat
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.ingest import importer
from arledger.adapters.ingest.importer import (
    REJECT_COLUMNS,
    ColumnMapping,
    ImportKind,
    RejectsConflict,
    RowProblem,
    import_file,
)
from arledger.domain.errors import ConfigurationError, ImportRowError, RejectsPathError
from arledger.domain.events import InvoiceIssued, PaymentReceived

MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "customer_name": "Name",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "currency": "Currency",
        "issued_on": "Issued",
        "due_on": "Due",
        "settled_on": "Settled",
        "paid_amount": "Paid",
    },
    date_format="%d.%m.%Y",
)
HEADER = "Customer,Name,Invoice,Amount,Currency,Issued,Due,Settled,Paid\n"
HEADER_CELLS = HEADER.strip().split(",")

PAYMENT_MAPPING = ColumnMapping(
    columns={
        "bank_reference": "Reference",
        "customer_code": "Payer",
        "amount": "Amount",
        "value_on": "Value date",
        "invoice_number": "Invoice",
    },
    currency="EUR",
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.iter_events())


def invoice_numbers(ledger: Ledger) -> list[str]:
    return [
        event.invoice_number for event in ledger.iter_events() if isinstance(event, InvoiceIssued)
    ]


def problems(rejected: Iterable[RowProblem]) -> list[tuple[int, str]]:
    return [(problem.line, problem.field) for problem in rejected]


@pytest.fixture
def ledger(clock) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger({"ARLEDGER_STORE": "memory"}, clock=clock)


@pytest.fixture
def store_ledger(store_env, clock) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger(store_env, clock=clock)


MIXED = (
    HEADER
    + "K1,Kunde Eins,R-1,10.00,EUR,01.01.2024,31.01.2024,,\n"  # line 2: good
    + "K1,Kunde Eins,R-2,1.234,EUR,02.01.2024,31.01.2024,,\n"  # line 3: sub-cent amount
    + "K1,Kunde Eins,R-3,10.00,EUR,03.01.2024,02.01.2024,,\n"  # line 4: due before issue
    + "K2,Kunde Zwei,R-4,20.00,XYZ,01.01.2024,31.01.2024,,\n"  # line 5: unknown currency
    + "K2,Kunde Zwei,R-5,20.00,EUR,30.02.2024,31.03.2024,,\n"  # line 6: impossible date
    + "K2,Kunde Zwei,R-6,30.00,EUR,05.01.2024,04.02.2024,10.01.2024,40.00\n"  # 7: overpaid
    + "K2,Kunde Zwei,R-7,30.00,EUR,05.01.2024,04.02.2024,10.01.2024,\n"  # line 8: good, settled
    + "K1,Kunde Eins,R-1,10.00,EUR,01.01.2024,31.01.2024,,\n"  # line 9: repeats line 2 exactly
    + "K1,Kunde Eins,R-1,11.00,EUR,01.01.2024,31.01.2024,,\n"  # line 10: R-1 with another amount
    + "K1,Kunde Eins,,10.00,EUR,01.01.2024,31.01.2024,,\n"  # line 11: no invoice number
    + "K3,Kunde Drei,R-8,10.00,EUR,01.01.0024,31.01.2024,,\n"  # line 12: year 24
)
MIXED_EXPECTED = [
    (3, "amount"),
    (4, "due_on"),
    (5, "currency"),
    (6, "issued_on"),
    (7, "paid_amount"),
    (10, "invoice_number"),
    (11, "invoice_number"),
    (12, "issued_on"),
]


def test_the_good_rows_are_recorded_and_each_bad_row_is_written_with_line_field_and_reason(
    store_ledger, tmp_path
):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"

    result = import_file(store_ledger, path, MAPPING, rejects_to=rejects)

    assert MIXED_EXPECTED == problems(result.rejected)
    assert (11, 8, 2, 2, 1) == (
        result.rows,
        result.rows_rejected,
        result.customers_opened,
        result.invoices_issued,
        result.payments_received,
    )
    assert ["R-1", "R-7"] == sorted(invoice_numbers(store_ledger))
    assert 0 == store_ledger.invoice("R-7").open_minor
    assert result.events_recorded == event_count(store_ledger)
    written = read_rejects(rejects)
    assert [*REJECT_COLUMNS, *HEADER_CELLS] == written[0]
    assert [str(line) for line, _field in MIXED_EXPECTED] == [row[0] for row in written[1:]]
    assert [field for _line, field in MIXED_EXPECTED] == [row[1] for row in written[1:]]
    assert "1.234 has more decimals than EUR allows (2)" == written[1][2]
    assert MIXED.splitlines()[2].split(",") == written[1][3:]
    assert "due date 2024-01-02 is before issue date 2024-01-03" in written[2][2]
    assert "already issued with different content" in written[6][2]
    assert "outside the years 1900 to 2199" in written[8][2]


def test_by_default_the_same_file_records_nothing_and_reports_every_bad_row(store_ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)

    with pytest.raises(ImportRowError) as refused:
        import_file(store_ledger, path, MAPPING)

    assert MIXED_EXPECTED == problems(refused.value.problems)
    assert 0 == event_count(store_ledger)


def test_a_row_whose_settlement_fails_leaves_neither_its_invoice_nor_its_payment(ledger, tmp_path):
    path = write(
        tmp_path,
        "invoices.csv",
        HEADER + "K1,K1,R-1,10.00,EUR,01.01.2024,31.01.2024,10.01.2024,12.00\n",  # overpaid
    )

    result = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(2, "paid_amount")] == problems(result.rejected)
    assert (0, 0, 0) == (result.events_recorded, result.invoices_issued, event_count(ledger))
    assert not result.already_recorded
    with pytest.raises(LookupError):
        ledger.invoice("R-1")
    with pytest.raises(LookupError):
        ledger.customer("K1")  # opened only for that row, so not opened at all


def test_a_repeat_of_a_rejected_row_is_rejected_with_it_and_a_repeat_of_a_kept_row_stands(
    ledger, tmp_path
):
    path = write(
        tmp_path,
        "invoices.csv",
        HEADER
        + "K1,K1,R-1,10.00,EUR,05.01.2024,01.01.2024,,\n"  # line 2: due before issue
        + "K1,K1,R-1,10.00,EUR,05.01.2024,31.01.2024,,\n"  # line 3: a fixed R-1, after a bad one
        + "K1,K1,R-2,10.00,EUR,05.01.2024,31.01.2024,,\n"  # line 4: good
        + "K1,K1,R-2,10.00,EUR,05.01.2024,31.01.2024,,\n"  # line 5: same again, a no-op
        + "K1,K1,R-3,1.001,EUR,05.01.2024,31.01.2024,,\n"  # line 6: bad amount
        + "K1,K1,R-3,1.00,EUR,05.01.2024,31.01.2024,,\n",  # line 7: R-3 again
    )

    result = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(2, "due_on"), (3, "invoice_number"), (6, "amount"), (7, "invoice_number")] == (
        problems(result.rejected)
    )
    assert "invoice R-1 was rejected on line 2" == result.rejected[1].reason
    assert "invoice R-3 was rejected on line 6" == result.rejected[3].reason
    assert ["R-2"] == invoice_numbers(ledger)


def test_every_row_of_a_customer_whose_account_cannot_be_opened_is_rejected(ledger, tmp_path):
    code = "K" * 65  # readable as a cell, too long for a customer code
    path = write(
        tmp_path,
        "invoices.csv",
        HEADER
        + f"{code},N,R-1,10.00,EUR,05.01.2024,31.01.2024,,\n"
        + "K2,N,R-2,10.00,EUR,05.01.2024,31.01.2024,,\n"
        + f"{code},N,R-3,10.00,EUR,01.01.2024,31.01.2024,,\n",  # the earliest: opens the account
    )

    result = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(2, "customer_code"), (4, "customer_code")] == problems(result.rejected)
    assert "customer_code is 65 characters long" in result.rejected[1].reason
    assert result.rejected[0].reason.startswith(
        f"the account of customer {code} could not be opened (line 4, customer_code: "
    )
    assert ["R-2"] == invoice_numbers(ledger)


def test_a_customer_opens_from_its_earliest_kept_row_not_from_a_rejected_one(ledger, tmp_path):
    path = write(
        tmp_path,
        "invoices.csv",
        HEADER
        + "K1,Name From Line 2,R-1,10.00,EUR,01.01.2024,01.01.2023,,\n"  # earliest; due < issue
        + "K1,Name From Line 3,R-2,10.00,EUR,20.01.2024,19.02.2024,,\n",
    )

    result = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(2, "due_on")] == problems(result.rejected)
    customer = ledger.customer("K1")
    assert ("Name From Line 3", date(2024, 1, 20)) == (customer.name, customer.opened_on)


def test_rows_that_are_not_utf8_are_rejected_alone_and_written_with_their_bytes_escaped(
    ledger, tmp_path
):
    path = tmp_path / "invoices.csv"
    path.write_bytes(
        HEADER.encode()
        + "K1,Müller,R-1,10.00,EUR,01.01.2024,31.01.2024,,\n".encode()
        + "K2,Müller,R-2,10.00,EUR,01.01.2024,31.01.2024,,\n".encode("latin-1")
        + "K3,Ødegård,R-3,10.00,EUR,01.01.2024,31.01.2024,,\n".encode()
    )
    rejects = tmp_path / "rejects.csv"

    result = import_file(ledger, path, MAPPING, rejects_to=rejects)

    assert [(3, "encoding")] == problems(result.rejected)
    assert "byte 0xfc in column 'Name'" in result.rejected[0].reason
    assert ["R-1", "R-3"] == invoice_numbers(ledger)
    assert "M\\xfcller" == read_rejects(rejects)[1][4]


def test_payments_for_unknown_invoices_or_from_others_than_the_invoices_customer_are_rejected(
    ledger, tmp_path
):
    invoices = write(
        tmp_path,
        "invoices.csv",
        HEADER
        + "K1,K1,R-1,100.00,EUR,01.01.2024,31.01.2024,,\n"
        + "K1,K1,R-2,50.00,EUR,02.01.2024,31.01.2024,,\n",
    )
    import_file(ledger, invoices, MAPPING)
    payments = write(
        tmp_path,
        "payments.csv",
        "Reference,Payer,Amount,Value date,Invoice\n"
        "B-1,K1,100.00,2024-02-01,R-1\n"  # line 2: good
        "B-2,K1,10.00,2024-02-01,R-404\n"  # line 3: unknown invoice
        "B-3,K9,10.00,2024-02-01,R-2\n"  # line 4: unknown payer paying K1's invoice
        "B-4,K1,60.00,2024-02-01,R-2\n"  # line 5: more than R-2's open amount
        "B-1,K1,90.00,2024-02-01,R-1\n"  # line 6: B-1 again with another amount
        "B-5,K1,20.00,2024-02-03,\n",  # line 7: good, settles the oldest due first (R-2)
    )
    received = sum(1 for e in ledger.iter_events() if isinstance(e, PaymentReceived))

    result = import_file(
        ledger,
        payments,
        PAYMENT_MAPPING,
        kind=ImportKind.PAYMENTS,
        rejects_to=tmp_path / "rejects.csv",
    )

    expected = [(3, "invoice_number"), (4, "customer_code"), (5, "amount"), (6, "bank_reference")]
    assert expected == problems(result.rejected)
    assert (2, 0) == (result.payments_received, result.customers_opened)
    assert received + 2 == sum(1 for e in ledger.iter_events() if isinstance(e, PaymentReceived))
    assert (0, 3000) == (ledger.invoice("R-1").open_minor, ledger.invoice("R-2").open_minor)
    with pytest.raises(LookupError):
        ledger.customer("K9")  # opened only for its rejected row


def test_the_rejects_file_once_corrected_imports_with_the_same_mapping(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"
    import_file(ledger, path, MAPPING, rejects_to=rejects)
    fixed = read_rejects(rejects)
    fixed[1][6] = "1.23"  # line 3's amount, the first rejected row
    with rejects.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(fixed)

    again = import_file(ledger, rejects, MAPPING, rejects_to=tmp_path / "rejects-2.csv")

    assert 123 == ledger.invoice("R-2").amount_minor
    # The other rows are rejected again, now by their lines in the rejects file.
    assert list(range(3, len(fixed) + 1)) == [p.line for p in again.rejected]
    assert [row[1] for row in fixed[2:]] == [p.field for p in again.rejected]


def test_importing_the_same_file_again_with_rejects_records_nothing_new(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)
    first = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects-1.csv")
    events = event_count(ledger)

    second = import_file(ledger, path, MAPPING, rejects_to=tmp_path / "rejects-2.csv")

    assert 0 == second.events_recorded
    assert problems(first.rejected) == problems(second.rejected)
    assert events == event_count(ledger)
    assert read_rejects(tmp_path / "rejects-1.csv") == read_rejects(tmp_path / "rejects-2.csv")


def test_a_file_without_bad_rows_writes_a_rejects_file_with_only_its_header(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", HEADER + "K1,K1,R-1,10.00,EUR,01.01.2024,,,\n")
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("reject_line,reject_field,reject_reason,A\n9,amount,stale,x\n", "utf-8")

    result = import_file(ledger, path, MAPPING, rejects_to=rejects, rejects_overwrite=True)

    assert () == result.rejected
    assert [[*REJECT_COLUMNS, *HEADER_CELLS]] == read_rejects(rejects)


def test_the_rejects_cannot_overwrite_the_imported_file_or_go_where_nothing_can_be_written(
    ledger, tmp_path
):
    path = write(tmp_path, "invoices.csv", MIXED)

    with pytest.raises(ConfigurationError):
        import_file(ledger, path, MAPPING, rejects_to=tmp_path / "." / "invoices.csv")
    with pytest.raises(ConfigurationError) as unwritable:
        import_file(ledger, path, MAPPING, rejects_to=tmp_path / "no-such-directory" / "r.csv")

    assert "nothing was recorded" in unwritable.value.message
    assert MIXED == path.read_text(encoding="utf-8")
    assert 0 == event_count(ledger)


def test_a_whole_file_problem_records_nothing_even_with_a_rejects_file(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", "Customer,Invoice\nK1,R-1\n")  # columns missing
    rejects = tmp_path / "rejects.csv"

    with pytest.raises(ImportRowError):
        import_file(ledger, path, MAPPING, rejects_to=rejects)

    assert not rejects.exists()
    assert 0 == event_count(ledger)


# Where the rejects may go -----------------------------------------------------------------------


def sqlite_ledger(path: Path, clock) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}, clock=clock)


def test_the_rejects_are_refused_over_the_store_and_nothing_is_recorded(
    tmp_path, clock, monkeypatch
):
    """The reported case: --rejects-to ledger.db with one bad row replaced the store by a CSV."""
    monkeypatch.chdir(tmp_path)
    ledger = sqlite_ledger(Path("ledger.db"), clock)  # relative, as ARLEDGER_DB is by default
    import_file(
        ledger, write(tmp_path, "first.csv", HEADER + "K9,N,R-9,1.00,EUR,01.01.2024,,,\n"), MAPPING
    )
    store = tmp_path / "ledger.db"
    before = store.read_bytes()
    events = event_count(ledger)
    path = write(tmp_path, "invoices.csv", MIXED)

    for overwrite in (False, True):
        with pytest.raises(RejectsPathError) as refused:
            import_file(ledger, path, MAPPING, rejects_to=store, rejects_overwrite=overwrite)
        assert RejectsConflict.STORE is refused.value.conflict
        assert str(store) == refused.value.path
        assert "nothing was recorded" in refused.value.message

    assert before == store.read_bytes()
    assert events == event_count(ledger)
    for sidecar in ("ledger.db-wal", "ledger.db-journal"):
        with pytest.raises(RejectsPathError) as refused:
            import_file(ledger, path, MAPPING, rejects_to=tmp_path / sidecar)
        assert RejectsConflict.STORE is refused.value.conflict
    link = tmp_path / "link.csv"
    link.symlink_to(store)
    with pytest.raises(RejectsPathError):
        import_file(ledger, path, MAPPING, rejects_to=link, rejects_overwrite=True)
    assert before == store.read_bytes()
    assert events == event_count(ledger)


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_rejects_are_refused_over_a_file_arledger_did_not_write(ledger, tmp_path, overwrite):
    path = write(tmp_path, "invoices.csv", MIXED)
    notes = write(tmp_path, "notes.csv", "reject_line,reject_field\nkeep me\n")
    mapping = write(tmp_path, "mapping.json", MAPPING_JSON)

    for existing in (notes, mapping):
        with pytest.raises(RejectsPathError) as refused:
            import_file(ledger, path, MAPPING, rejects_to=existing, rejects_overwrite=overwrite)
        expected = RejectsConflict.NOT_REJECTS if overwrite else RejectsConflict.EXISTS
        assert expected is refused.value.conflict

    assert "reject_line,reject_field\nkeep me\n" == notes.read_text(encoding="utf-8")
    assert MAPPING_JSON == mapping.read_text(encoding="utf-8")
    assert 0 == event_count(ledger)


def test_a_previous_rejects_file_is_replaced_only_when_asked(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("reject_line,reject_field,reject_reason,A\n9,amount,old,x\n", "utf-8")
    before = rejects.read_bytes()

    with pytest.raises(RejectsPathError) as refused:
        import_file(ledger, path, MAPPING, rejects_to=rejects)

    assert RejectsConflict.EXISTS is refused.value.conflict
    assert before == rejects.read_bytes()
    assert 0 == event_count(ledger)
    result = import_file(ledger, path, MAPPING, rejects_to=rejects, rejects_overwrite=True)
    assert len(MIXED_EXPECTED) + 1 == len(read_rejects(rejects))
    assert 0 < result.events_recorded


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_rejects_are_refused_over_a_directory_or_the_imported_file(ledger, tmp_path, overwrite):
    path = write(tmp_path, "invoices.csv", MIXED)
    (tmp_path / "folder").mkdir()
    cases = {
        tmp_path / "folder": RejectsConflict.DIRECTORY,
        tmp_path / "." / "invoices.csv": RejectsConflict.INPUT,
        tmp_path / "no-such-folder" / "rejects.csv": RejectsConflict.NO_DIRECTORY,
    }
    for rejects, conflict in cases.items():
        with pytest.raises(RejectsPathError) as refused:
            import_file(ledger, path, MAPPING, rejects_to=rejects, rejects_overwrite=overwrite)
        assert conflict is refused.value.conflict

    assert MIXED == path.read_text(encoding="utf-8")
    assert [] == list((tmp_path / "folder").iterdir())
    assert 0 == event_count(ledger)


def test_a_rejects_file_imported_again_cannot_take_its_own_rejects(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"
    import_file(ledger, path, MAPPING, rejects_to=rejects)
    before = rejects.read_bytes()

    with pytest.raises(RejectsPathError) as refused:
        import_file(ledger, rejects, MAPPING, rejects_to=rejects, rejects_overwrite=True)

    assert RejectsConflict.INPUT is refused.value.conflict
    assert before == rejects.read_bytes()


def test_a_new_rejects_file_is_private_and_a_replaced_one_keeps_its_mode(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", MIXED)
    new = tmp_path / "new.csv"
    shared = tmp_path / "shared.csv"
    shared.write_text("reject_line,reject_field,reject_reason\n", encoding="utf-8")
    shared.chmod(0o640)

    import_file(ledger, path, MAPPING, rejects_to=new)
    import_file(ledger, path, MAPPING, rejects_to=shared, rejects_overwrite=True)

    assert 0o600 == stat.S_IMODE(new.stat().st_mode)
    assert 0o640 == stat.S_IMODE(shared.stat().st_mode)
    assert read_rejects(new) == read_rejects(shared)


def test_a_rejects_file_cut_short_leaves_the_previous_one_and_records_nothing(
    ledger, tmp_path, monkeypatch
):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("reject_line,reject_field,reject_reason,A\n9,amount,old,x\n", "utf-8")
    before = rejects.read_bytes()
    written: list[str] = []

    def printable_then_disk_full(cell: str) -> str:
        written.append(cell)
        if len(written) > 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return cell

    monkeypatch.setattr(importer, "_printable", printable_then_disk_full)

    with pytest.raises(ConfigurationError) as refused:
        import_file(ledger, path, MAPPING, rejects_to=rejects, rejects_overwrite=True)

    assert "No space left on device; nothing was recorded" in refused.value.message
    assert before == rejects.read_bytes()
    assert ["invoices.csv", "rejects.csv"] == sorted(p.name for p in tmp_path.iterdir())
    assert 0 == event_count(ledger)


def test_a_file_that_appears_at_the_rejects_path_while_importing_is_left_alone(
    ledger, tmp_path, monkeypatch
):
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"
    decide = importer._decide

    def decide_while_someone_writes(*args, **kwargs):  # type: ignore[no-untyped-def]
        rejects.write_text("someone else's\n", encoding="utf-8")
        return decide(*args, **kwargs)

    monkeypatch.setattr(importer, "_decide", decide_while_someone_writes)

    with pytest.raises(RejectsPathError) as refused:
        import_file(ledger, path, MAPPING, rejects_to=rejects)

    assert RejectsConflict.EXISTS is refused.value.conflict
    assert "someone else's\n" == rejects.read_text(encoding="utf-8")
    assert ["invoices.csv", "rejects.csv"] == sorted(p.name for p in tmp_path.iterdir())
    assert 0 == event_count(ledger)


# The command line -------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_import_with_rejects_to_records_the_good_rows_lists_the_bad_and_exits_0(runner, tmp_path):
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "x.db")}
    mapping = write(tmp_path, "mapping.json", MAPPING_JSON)
    path = write(tmp_path, "invoices.csv", MIXED)
    rejects = tmp_path / "rejects.csv"

    result = runner.invoke(
        app,
        ["import", str(path), "--mapping", str(mapping), "--rejects-to", str(rejects)],
        env=env,
    )

    assert 0 == result.exit_code, result.output
    assert "Imported 3 of 11 rows (8 rejected) of invoices" in result.stdout
    lines = result.stderr.splitlines()
    assert f"warning: 8 row(s) rejected and written to {rejects}:" == lines[0]
    assert lines[1].startswith("  line 3, amount: 1.234 has more decimals than EUR allows")
    assert 9 == len(read_rejects(rejects))
    kept = rejects.read_bytes()
    refused_over_rejects = runner.invoke(
        app,
        ["import", str(path), "--mapping", str(mapping), "--rejects-to", str(rejects)],
        env=env,
    )
    assert 2 == refused_over_rejects.exit_code
    assert 1 == len(refused_over_rejects.stderr.splitlines())
    assert "--overwrite-rejects" in refused_over_rejects.stderr
    assert kept == rejects.read_bytes()
    again = runner.invoke(
        app,
        [
            "import",
            str(path),
            "--mapping",
            str(mapping),
            "--rejects-to",
            str(rejects),
            "--overwrite-rejects",
        ],
        env=env,
    )
    assert 0 == again.exit_code, again.output
    said = " ".join(again.stdout.split())  # rich wraps long paths
    assert "The 3 good rows of" in said
    assert "are already recorded in" in said
    refused = runner.invoke(app, ["import", str(path), "--mapping", str(mapping)], env=env)
    assert 1 == refused.exit_code
    assert "8 problem(s); nothing was recorded" in refused.stderr


MAPPING_JSON = (
    '{"columns": {"customer_code": "Customer", "customer_name": "Name", "invoice_number": '
    '"Invoice", "amount": "Amount", "currency": "Currency", "issued_on": "Issued", "due_on": '
    '"Due", "settled_on": "Settled", "paid_amount": "Paid"}, "date_format": "%d.%m.%Y"}'
)


def test_the_rejects_of_a_rejects_file_have_the_columns_of_the_first_and_read_back(
    ledger, tmp_path
):
    path = write(tmp_path, "invoices.csv", MIXED)
    first = tmp_path / "rejects-1.csv"
    second = tmp_path / "rejects-2.csv"
    import_file(ledger, path, MAPPING, rejects_to=first)

    import_file(ledger, first, MAPPING, rejects_to=second)
    written = read_rejects(second)

    assert [*REJECT_COLUMNS, *HEADER_CELLS] == written[0]
    assert [row[3:] for row in read_rejects(first)[1:]] == [row[3:] for row in written[1:]]
    assert [str(line) for line in range(2, len(written) + 1)] == [row[0] for row in written[1:]]
    again = import_file(ledger, second, MAPPING, rejects_to=tmp_path / "rejects-3.csv")
    assert len(written) - 1 == again.rows_rejected
