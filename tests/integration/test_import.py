"""CSV import: presets and JSON mappings, settlements and payments, all-or-nothing validation."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.ingest import importer
from arledger.adapters.ingest.importer import (
    ColumnMapping,
    ImportKind,
    import_file,
    load_mapping,
    preset,
)
from arledger.domain import ids
from arledger.domain.errors import ConfigurationError, ImportRowError
from arledger.domain.events import CustomerAccountOpened, InvoiceIssued, PaymentReceived
from arledger.projections import ageing

IBM_CSV = Path(__file__).resolve().parents[1] / "data" / "ibm-late-payment-histories.csv"

INVOICE_MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "customer_name": "Name",
        "collection_owner": "Owner",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "currency": "Currency",
        "issued_on": "Issued",
        "due_on": "Due",
    },
    date_format="%d.%m.%Y",
)
INVOICE_HEADER = "Customer,Name,Owner,Invoice,Amount,Currency,Issued,Due\n"

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


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.iter_events())


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(error: pytest.ExceptionInfo[ImportRowError]) -> list[tuple[int, str]]:
    return [(problem.line, problem.field) for problem in error.value.problems]


@pytest.fixture
def ledger(clock) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger({"ARLEDGER_STORE": "memory"}, clock=clock)


@pytest.fixture
def store_ledger(store_env, clock) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger(store_env, clock=clock)


def test_ibm_preset_imports_every_invoice_settled_in_full_and_a_second_import_adds_nothing(
    tmp_path, clock
):
    ledger = Ledger(
        {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ibm.db")}, clock=clock
    )

    result = import_file(ledger, IBM_CSV, preset("ibm"))

    kinds = Counter(type(event) for event in ledger.iter_events())
    assert 2466 == result.rows
    assert 100 == result.customers_opened
    assert 2466 == result.invoices_issued
    assert 2466 == result.payments_received
    assert 100 == kinds[CustomerAccountOpened]
    assert 2466 == kinds[InvoiceIssued]
    assert 2466 == kinds[PaymentReceived]
    invoice = ledger.invoice("0000611365")  # the file's first row, line 2
    assert ids.customer_id("0379-NEVHP") == invoice.customer_id
    assert (5594, "USD") == (invoice.amount_minor, invoice.currency)
    assert (date(2013, 1, 2), date(2013, 2, 1)) == (invoice.issued_on, invoice.due_on)
    assert 0 == invoice.open_minor
    payment = ledger.payment("SETTLE-0000611365")
    assert date(2013, 1, 15) == payment.value_on
    assert {invoice.id: 5594} == payment.allocations
    customer = ledger.customer("0379-NEVHP")
    assert ("0379-NEVHP", "unassigned", "USD") == (
        customer.name,
        customer.collection_owner,
        customer.currency,
    )
    events_before = event_count(ledger)

    again = import_file(ledger, IBM_CSV, preset("ibm"))

    assert again.already_recorded
    assert events_before == event_count(ledger)


def test_the_ibm_disputed_column_is_reported_as_not_imported_with_its_yes_rows(ledger, tmp_path):
    """The file flags 561 of its 2,466 invoices as disputed, with no amount, dates or outcome:
    nothing to record a dispute from, so the import says what it left out."""
    result = import_file(ledger, IBM_CSV, preset("ibm"))

    assert [("Disputed", "Yes", 561, 2466)] == [
        (left.column, left.value, left.rows, result.rows) for left in result.not_imported
    ]
    assert "amount" in result.not_imported[0].reason
    again = import_file(ledger, IBM_CSV, preset("ibm"))
    assert again.already_recorded
    assert 561 == again.not_imported[0].rows
    no = write(tmp_path, "no.csv", IBM_CSV.read_text(encoding="utf-8").replace(",Yes,", ",No,"))
    assert () == import_file(ledger, no, preset("ibm")).not_imported


def test_ibm_import_leaves_nothing_open_after_the_last_settlement(ledger):
    import_file(ledger, IBM_CSV, preset("ibm"), currency="CNY")

    state = ageing.fold_all(ledger.iter_events())
    open_mid_2013 = ageing.ageing_report(state, date(2013, 6, 30)).rows
    open_at_end = ageing.ageing_report(state, date(2014, 1, 31)).rows

    assert ["CNY"] == [row.currency for row in open_mid_2013]
    assert () == open_at_end


def test_a_new_customer_opens_on_its_earliest_invoice_date_in_the_file(ledger, tmp_path):
    path = write(
        tmp_path,
        "invoices.csv",
        INVOICE_HEADER
        + "K1,Kunde Eins,Maria,R-2,10.00,EUR,15.03.2024,14.04.2024\n"
        + "K1,Kunde Eins,Maria,R-1,20.00,EUR,01.02.2024,02.03.2024\n",
    )

    import_file(ledger, path, INVOICE_MAPPING)

    customer = ledger.customer("K1")
    assert date(2024, 2, 1) == customer.opened_on
    assert ("Kunde Eins", "Maria", "EUR") == (
        customer.name,
        customer.collection_owner,
        customer.currency,
    )


def test_customers_already_open_are_used_as_they_are(ledger, tmp_path):
    ledger.open_account(
        "K1",
        name="Kunde Eins GmbH",
        currency="EUR",
        collection_owner="Li Wei",
        opened_on=date(2020, 1, 1),
    )
    path = write(
        tmp_path,
        "invoices.csv",
        INVOICE_HEADER + "K1,Another Name,Maria,R-1,20.00,EUR,01.02.2024,02.03.2024\n",
    )

    result = import_file(ledger, path, INVOICE_MAPPING)

    customer = ledger.customer("K1")
    assert 0 == result.customers_opened
    assert ("Kunde Eins GmbH", "Li Wei") == (customer.name, customer.collection_owner)
    assert (customer.id,) == (ledger.invoice("R-1").customer_id,)


def test_bad_rows_are_reported_with_line_and_field_and_nothing_of_the_file_is_recorded(
    store_ledger, tmp_path
):
    good = write(
        tmp_path, "good.csv", INVOICE_HEADER + "K1,K1,Li,R-1,10.00,USD,01.01.2024,31.01.2024\n"
    )
    import_file(store_ledger, good, INVOICE_MAPPING)
    events_before = event_count(store_ledger)
    bad = write(
        tmp_path,
        "bad.csv",
        INVOICE_HEADER
        + "K2,K2,Li,R-2,10.00,USD,01.01.2024,31.01.2024\n"  # line 2: fine on its own
        + "K2,K2,Li,R-3,10.00,USD,2024-01-05,31.01.2024\n"  # line 3: not the date format
        + "K2,K2,Li,R-4,1.234,USD,01.01.2024,31.01.2024\n"  # line 4: sub-cent amount
        + "K2,K2,Li,R-5,10.00,USD,01.02.2024,31.01.2024\n"  # line 5: due before issue
        + "K2,K2,Li,R-6,10.00,XYZ,01.01.2024,31.01.2024\n"  # line 6: unknown currency
        + "K2,K2,Li,R-7,-5.00,USD,01.01.2024,31.01.2024\n"  # line 7: negative amount
        + "K3,K3,Li,,10.00,USD,01.01.2024,31.01.2024\n",  # line 8: no invoice number
    )

    with pytest.raises(ImportRowError) as error:
        import_file(store_ledger, bad, INVOICE_MAPPING)

    expected = [
        (3, "issued_on"),
        (4, "amount"),
        (5, "due_on"),
        (6, "currency"),
        (7, "amount"),
        (8, "invoice_number"),
    ]
    assert expected == problems_of(error)
    assert 6 == error.value.problems_total
    assert "line 4, amount: 1.234 has more decimals than USD allows (2)" in error.value.message
    assert "nothing was recorded" in error.value.message
    assert events_before == event_count(store_ledger)
    with pytest.raises(LookupError):
        store_ledger.invoice("R-2")


def test_an_invoice_imported_again_with_other_content_is_a_conflict_on_its_line(ledger, tmp_path):
    first = write(
        tmp_path, "a.csv", INVOICE_HEADER + "K1,K1,Li,R-1,10.00,USD,01.01.2024,31.01.2024\n"
    )
    import_file(ledger, first, INVOICE_MAPPING)
    changed = write(
        tmp_path,
        "b.csv",
        INVOICE_HEADER
        + "K1,K1,Li,R-2,12.00,USD,01.01.2024,31.01.2024\n"
        + "K1,K1,Li,R-1,11.00,USD,01.01.2024,31.01.2024\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, changed, INVOICE_MAPPING)

    assert [(3, "invoice_number")] == problems_of(error)


def test_a_settlement_that_bounced_since_is_left_alone_when_the_file_is_imported_again(
    ledger, tmp_path
):
    mapping = ColumnMapping(
        columns={**INVOICE_MAPPING.columns, "settled_on": "Settled"}, date_format="%d.%m.%Y"
    )
    path = write(
        tmp_path,
        "invoices.csv",
        INVOICE_HEADER.replace("Due", "Due,Settled")
        + "K1,K1,Li,R-1,10.00,USD,01.01.2024,31.01.2024,20.01.2024\n",
    )
    import_file(ledger, path, mapping)
    ledger.reverse_payment("SETTLE-R-1", reversed_on=date(2024, 1, 25), reason="bounced")
    events_before = event_count(ledger)

    again = import_file(ledger, path, mapping)

    assert again.already_recorded
    assert events_before == event_count(ledger)
    assert 1000 == ledger.invoice("R-1").open_minor


def test_a_file_that_is_not_utf8_is_refused_with_the_line_of_the_first_bad_byte(ledger, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (INVOICE_HEADER + "K1,K1,Li,R-1,10.00,USD,01.01.2024,31.01.2024\n").encode()
        + "K2,Müller,Li,R-2,10.00,USD,01.01.2024,31.01.2024\n".encode("latin-1")
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, INVOICE_MAPPING)

    assert [(3, "encoding")] == problems_of(error)
    assert "UTF-8" in error.value.message
    assert 0 == event_count(ledger)


def test_a_mapped_column_missing_from_the_header_is_reported_on_line_1(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", "Customer,Invoice\nK1,R-1\n")

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, INVOICE_MAPPING)

    assert (1, "customer_name") == problems_of(error)[0][:2]


def test_a_file_over_the_row_limit_is_refused_rather_than_truncated(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "IMPORT_ROWS_MAX", 2)
    rows = "".join(f"K1,K1,Li,R-{n},10.00,USD,01.01.2024,31.01.2024\n" for n in range(1, 4))
    path = write(tmp_path, "invoices.csv", INVOICE_HEADER + rows)

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, INVOICE_MAPPING)

    assert [(4, "file")] == problems_of(error)
    assert 0 == event_count(ledger)


def test_problems_beyond_the_reported_maximum_are_counted_and_said(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "IMPORT_PROBLEMS_MAX", 2)
    rows = "".join(f"K1,K1,Li,R-{n},1.001,USD,01.01.2024,31.01.2024\n" for n in range(1, 6))
    path = write(tmp_path, "invoices.csv", INVOICE_HEADER + rows)

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, INVOICE_MAPPING)

    assert [(2, "amount"), (3, "amount")] == problems_of(error)
    assert 5 == error.value.problems_total
    assert "and 3 more" in error.value.message


def test_an_overlong_cell_is_reported_with_its_field(ledger, tmp_path):
    name = "N" * (importer.FIELD_LENGTH_MAX + 1)
    path = write(
        tmp_path, "invoices.csv", INVOICE_HEADER + f"K1,{name},Li,R-1,10,USD,01.01.2024,\n"
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, INVOICE_MAPPING)

    assert [(2, "customer_name")] == problems_of(error)


def test_a_json_mapping_imports_terms_and_partial_settlements(ledger, tmp_path):
    mapping_path = write(
        tmp_path,
        "mapping.json",
        json.dumps(
            {
                "columns": {
                    "customer_code": "客户",
                    "invoice_number": "发票号",
                    "amount": "金额",
                    "issued_on": "开票日期",
                    "terms_days": "账期",
                    "settled_on": "回款日期",
                    "paid_amount": "回款金额",
                    "collection_owner": "业务员",
                },
                "date_format": "%Y/%m/%d",
                "currency": "CNY",
            },
            ensure_ascii=False,
        ),
    )
    path = write(
        tmp_path,
        "发票.csv",
        "客户,发票号,金额,开票日期,账期,回款日期,回款金额,业务员\n"
        'HD001,FP-1,"1,000.00",2024/03/01,45,2024/04/10,400.00,王芳\n'
        "HD001,FP-2,500,2024/03/05,45,2024/04/01,,王芳\n"
        "HD002,FP-3,80.5,2024/03/07,,,,\n",
    )

    mapping = load_mapping(mapping_path)
    result = import_file(ledger, path, mapping)

    assert (2, 3, 2) == (result.customers_opened, result.invoices_issued, result.payments_received)
    partly = ledger.invoice("FP-1")
    assert (date(2024, 4, 15), 100000, 60000, "CNY") == (
        partly.due_on,
        partly.amount_minor,
        partly.open_minor,
        partly.currency,
    )
    assert 0 == ledger.invoice("FP-2").open_minor
    assert date(2024, 4, 6) == ledger.invoice("FP-3").due_on  # the account's default net 30
    assert "王芳" == ledger.customer("HD001").collection_owner
    assert "unassigned" == ledger.customer("HD002").collection_owner
    assert 45 == ledger.customer("HD001").terms_days
    events_before = event_count(ledger)
    assert import_file(ledger, path, mapping).already_recorded
    assert events_before == event_count(ledger)


def test_a_mapping_that_lacks_a_required_field_or_names_an_unknown_one_is_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        ColumnMapping(columns={"customer": "Customer"})
    with pytest.raises(ConfigurationError):
        PAYMENT_MAPPING.require_fields(ImportKind.INVOICES)
    broken = write(tmp_path, "broken.json", "{not json")
    with pytest.raises(ConfigurationError):
        load_mapping(broken)


def test_payments_are_allocated_to_the_named_invoice_or_oldest_due_first(store_ledger, tmp_path):
    invoices = write(
        tmp_path,
        "invoices.csv",
        INVOICE_HEADER
        + "K1,K1,Li,R-1,100.00,EUR,01.01.2024,31.01.2024\n"
        + "K1,K1,Li,R-2,200.00,EUR,05.01.2024,04.02.2024\n"
        + "K1,K1,Li,R-3,300.00,EUR,10.01.2024,15.01.2024\n",
    )
    import_file(store_ledger, invoices, INVOICE_MAPPING)
    payments = write(
        tmp_path,
        "payments.csv",
        "Reference,Payer,Amount,Value date,Invoice\n"
        "BANK-1,K1,200.00,2024-02-01,R-2\n"  # explicit: settles R-2 in full
        + "BANK-2,K1,350.00,2024-02-10,\n"  # automatic: R-3 (due first), then 50 of R-1
        + "BANK-3,K9,10.00,2024-02-11,\n",  # a new payer with nothing open: stays unapplied
    )

    result = import_file(store_ledger, payments, PAYMENT_MAPPING, kind=ImportKind.PAYMENTS)

    assert (3, 1) == (result.payments_received, result.customers_opened)
    open_minor = {
        number: store_ledger.invoice(number).open_minor for number in ("R-1", "R-2", "R-3")
    }
    assert {"R-1": 5000, "R-2": 0, "R-3": 0} == open_minor
    assert 1000 == store_ledger.payment("BANK-3").unapplied_minor
    assert date(2024, 2, 11) == store_ledger.customer("K9").opened_on
    events_before = event_count(store_ledger)
    again = import_file(store_ledger, payments, PAYMENT_MAPPING, kind=ImportKind.PAYMENTS)
    assert again.already_recorded
    assert events_before == event_count(store_ledger)


def test_a_payment_larger_than_its_invoice_or_for_an_unknown_invoice_is_reported(ledger, tmp_path):
    invoices = write(
        tmp_path, "invoices.csv", INVOICE_HEADER + "K1,K1,Li,R-1,100.00,EUR,01.01.2024,31.01.2024\n"
    )
    import_file(ledger, invoices, INVOICE_MAPPING)
    events_before = event_count(ledger)
    payments = write(
        tmp_path,
        "payments.csv",
        "Reference,Payer,Amount,Value date,Invoice\n"
        "BANK-1,K1,150.00,2024-02-01,R-1\n"
        "BANK-2,K1,10.00,2024-02-01,R-404\n"
        "BANK-3,K1,10.00,2024-02-31,R-1\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, payments, PAYMENT_MAPPING, kind=ImportKind.PAYMENTS)

    assert [(2, "amount"), (3, "invoice_number"), (4, "value_on")] == problems_of(error)
    assert events_before == event_count(ledger)


# Cells that must be refused as bad rows (issue 9) ------------------------------------------------

TERMS_MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
        "terms_days": "Terms",
    },
    date_format="%Y-%m-%d",
)
TERMS_HEADER = "Customer,Invoice,Amount,Issued,Terms\n"


@pytest.mark.parametrize("terms", ["²", "①", "٣٠", "３０", "3²", "𝟑𝟎"])
def test_terms_days_written_with_digits_other_than_ascii_are_a_bad_row(ledger, tmp_path, terms):
    """``str.isdigit`` is true for superscripts, circled and other scripts' digits; ``int``
    fails on the first two and reads the others: only 0-9 are days."""
    path = write(
        tmp_path,
        "invoices.csv",
        TERMS_HEADER + "K1,R-1,10.00,2024-01-01,30\n" + f"K1,R-2,10.00,2024-01-01,{terms}\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, TERMS_MAPPING)
    assert [(3, "terms_days")] == problems_of(error)
    assert 0 == event_count(ledger)

    result = import_file(ledger, path, TERMS_MAPPING, rejects_to=tmp_path / "rejects.csv")
    assert [(3, "terms_days")] == [(p.line, p.field) for p in result.rejected]
    assert 1 == result.invoices_issued
    assert date(2024, 1, 31) == ledger.invoice("R-1").due_on


@pytest.mark.parametrize("issued", ["2024-01-1٠", "２024-01-10", "2024-0𝟏-10"])
def test_dates_written_with_digits_other_than_ascii_are_a_bad_row(ledger, tmp_path, issued):
    """``strptime`` reads any script's digits where the format has a number: 2024-01-1٠ would
    be 10 January."""
    path = write(
        tmp_path,
        "invoices.csv",
        TERMS_HEADER + "K1,R-1,10.00,2024-01-01,30\n" + f"K1,R-2,10.00,{issued},30\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, TERMS_MAPPING)

    assert [(3, "issued_on")] == problems_of(error)
    assert 0 == event_count(ledger)


def test_a_date_format_with_letters_other_than_ascii_still_reads(ledger, tmp_path):
    mapping = attrs.evolve(TERMS_MAPPING, date_format="%Y年%m月%d日")
    path = write(tmp_path, "invoices.csv", TERMS_HEADER + "K1,R-1,10.00,2024年01月10日,30\n")

    import_file(ledger, path, mapping)

    assert date(2024, 1, 10) == ledger.invoice("R-1").issued_on


CELLS_MAPPING = ColumnMapping(
    columns={
        "customer_code": "cust",
        "invoice_number": "inv",
        "issued_on": "issued",
        "amount": "amt",
        "customer_name": "name",
    },
)


def test_a_row_with_more_cells_than_the_header_is_refused_not_cut_short(ledger, tmp_path):
    """1,000.00 unquoted is two cells: the amount must not be read as 1.00."""
    path = write(
        tmp_path,
        "invoices.csv",
        "cust,inv,issued,amt,name\n"
        "C1,INV-0,2024-01-10,5.00,Acme\n"
        "C1,INV-1,2024-01-10,1,000.00,Acme\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, CELLS_MAPPING)

    assert [(3, "row")] == problems_of(error)
    assert "6 cells but the header has 5 columns" in error.value.message
    assert 0 == event_count(ledger)


def test_a_row_with_fewer_cells_than_the_header_is_refused_not_read_without_its_last_fields(
    ledger, tmp_path
):
    path = write(
        tmp_path,
        "invoices.csv",
        "cust,inv,issued,amt,name\nC1,INV-0,2024-01-10,5.00,Acme\nC1,INV-1,2024-01-10,5.00\n",
    )

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, CELLS_MAPPING)

    assert [(3, "row")] == problems_of(error)
    assert "4 cells but the header has 5 columns" in error.value.message
    assert 0 == event_count(ledger)


def test_a_row_with_the_wrong_number_of_cells_is_rejected_alone_on_request(ledger, tmp_path):
    path = write(
        tmp_path,
        "invoices.csv",
        "cust,inv,issued,amt,name\n"
        "C1,INV-0,2024-01-10,5.00,Acme\n"
        "C1,INV-1,2024-01-10,1,000.00,Acme\n"
        "C1,INV-2,2024-01-10,7.00\n",
    )

    result = import_file(ledger, path, CELLS_MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(3, "row"), (4, "row")] == [(p.line, p.field) for p in result.rejected]
    assert 500 == ledger.invoice("INV-0").amount_minor
    with pytest.raises(LookupError):
        ledger.invoice("INV-1")


@pytest.mark.parametrize(
    "header",
    ["cust,inv,issued,amt,amt", "cust,inv,issued,amt,name, cust", "cust,x,inv,issued,amt,x"],
)
def test_a_header_with_two_columns_of_the_same_name_is_refused(ledger, tmp_path, header):
    cells = ",".join(["C1", "INV-1", "2024-01-10", "5.00", "A", "B"][: len(header.split(","))])
    path = write(tmp_path, "invoices.csv", f"{header}\n{cells}\n")

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, CELLS_MAPPING, rejects_to=tmp_path / "rejects.csv")

    assert [(1, "header")] == problems_of(error)
    assert "twice" in error.value.message
    assert 0 == event_count(ledger)
    assert not (tmp_path / "rejects.csv").exists()


def test_one_bad_row_is_reported_on_one_line(ledger, tmp_path):
    path = write(tmp_path, "invoices.csv", "cust,inv,issued,amt,name\nC1,INV-1,2024-01-10,0,A\n")

    with pytest.raises(ImportRowError) as error:
        import_file(ledger, path, CELLS_MAPPING)

    assert [f"{path}: line 2, amount: 0 must be positive; nothing was recorded"] == (
        error.value.message.splitlines()
    )
