"""Business rules of issue 9 through the Ledger, on each store (in-memory, SQLite, PostgreSQL).

The domain's unit tests decide single commands; these run the same rules through the Ledger's
sessions, its transactions and, on SQLite and PostgreSQL, its stored read models.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from arledger import AgeingGrouping, DuplicateKeyConflictError, Ledger, Money
from arledger.adapters.ingest.importer import ColumnMapping, import_file
from arledger.adapters.read_models.runner_events import EventDecoder, RecorderEventReader
from arledger.domain import ids
from arledger.domain.errors import (
    AccountCurrencyError,
    AllocationKeyConflictError,
    ImportRowError,
    PromiseAmountError,
)
from arledger.domain.events import (
    DisputeOutcome,
    DisputeReason,
    PaymentAllocated,
    PaymentApplied,
)
from tests.conftest import FixedClock


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def acme(env: dict[str, str]) -> Ledger:
    """A ledger with ACME (USD) owing INV-1, 100.00 issued 2024-01-01 due 2024-01-31."""
    ledger = Ledger(env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2024, 1, 1),
        due_on=date(2024, 1, 31),
    )
    return ledger


def open_by_invoice(ledger: Ledger, as_of: date) -> dict[str, int]:
    report = ledger.ageing(as_of, grouping=AgeingGrouping.INVOICE)
    return {row.key: row.open_minor for row in report.rows}


# 9.8: a bounce after a write-off ---------------------------------------------------------------


def test_money_a_bounce_reopens_on_a_written_off_invoice_is_aged_and_can_be_settled(store_env):
    ledger = acme(store_env)
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("40.00"), value_on=date(2024, 2, 10)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("40.00")})
    ledger.write_off("INV-1", written_off_on=date(2024, 6, 30), reason="insolvent", approver="cfo")
    ledger.reverse_payment("BANK-1", reversed_on=date(2024, 7, 15), reason="bounced")

    reopened = ledger.ageing(date(2024, 7, 31), grouping=AgeingGrouping.INVOICE)
    assert {} == open_by_invoice(ledger, date(2024, 7, 14))
    assert [("INV-1", 4_000, 182)] == [
        (row.key, row.open_minor, row.days_past_due_max) for row in reopened.rows
    ]

    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("40.00"), value_on=date(2024, 8, 1)
    )
    ledger.allocate_payment("BANK-2")  # oldest due first finds the reopened 40.00

    assert {} == open_by_invoice(ledger, date(2024, 8, 1))
    assert 0 == ledger.invoice("INV-1").open_minor
    assert 6_000 == ledger.invoice("INV-1").written_off_minor
    ledger.close()


def test_money_a_bounce_reopens_on_a_written_off_invoice_can_be_written_off_again(store_env):
    ledger = acme(store_env)
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("40.00"), value_on=date(2024, 2, 10)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("40.00")})
    ledger.write_off("INV-1", written_off_on=date(2024, 6, 30), reason="insolvent", approver="cfo")
    ledger.reverse_payment("BANK-1", reversed_on=date(2024, 7, 15), reason="bounced")

    ledger.write_off("INV-1", written_off_on=date(2024, 9, 30), reason="still bust", approver="cfo")

    assert {"INV-1": 4_000} == open_by_invoice(ledger, date(2024, 9, 29))
    assert {} == open_by_invoice(ledger, date(2024, 9, 30))
    ledger.reinstate("INV-1", reinstated_on=date(2024, 10, 1), reason="paid", approver="cfo")
    assert {"INV-1": 10_000} == open_by_invoice(ledger, date(2024, 10, 1))
    ledger.close()


# 9.6: a promise is never larger than what is open ----------------------------------------------


def test_promises_larger_than_what_is_open_are_refused_and_escalate_nobody(store_env):
    ledger = acme(store_env)
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("100.00"), value_on=date(2024, 1, 20)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("100.00")})
    ledger.set_credit_line(
        customer_code="ACME",
        amount=usd("1000.00"),
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="new customer",
    )
    events_before = sum(1 for _ in ledger.iter_events())

    for number, named in enumerate((["INV-1"], [], ["INV-1"]), 1):
        with pytest.raises(PromiseAmountError) as refused:
            ledger.make_promise(
                customer_code="ACME",
                promise_reference=f"P-{number}",
                amount=usd("5000.00"),
                promised_on=date(2024, 2, 10 + number),
                made_on=date(2024, 2, 1 + number),
                contact="Mr Wu",
                invoice_numbers=named,
            )
        assert 0 == refused.value.open_minor

    assert events_before == sum(1 for _ in ledger.iter_events())
    assert 0 == ledger.escalation_status("ACME", date(2024, 6, 30)).level
    assert ledger.check_credit("ACME", usd("10.00"), date(2024, 6, 30)).approved
    ledger.close()


def test_a_promise_of_what_is_open_on_the_day_it_is_made_is_accepted(store_env):
    ledger = acme(store_env)
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("30.00"), value_on=date(2024, 2, 20)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("30.00")})

    made = ledger.make_promise(
        customer_code="ACME",
        promise_reference="P-1",
        amount=usd("70.00"),
        promised_on=date(2024, 3, 10),
        made_on=date(2024, 3, 1),
        contact="Mr Wu",
    )
    before_payment = ledger.make_promise(
        customer_code="ACME",
        promise_reference="P-2",
        amount=usd("100.00"),
        promised_on=date(2024, 2, 25),
        made_on=date(2024, 2, 15),
        contact="Mr Wu",
        invoice_numbers=["INV-1"],
    )

    assert [7_000, 10_000] == [event.amount_minor for event in [*made, *before_payment]]
    ledger.close()


# 9.4: one currency per customer -----------------------------------------------------------------


def test_an_account_takes_invoices_and_payments_in_its_own_currency_only(store_env):
    ledger = acme(store_env)
    events_before = sum(1 for _ in ledger.iter_events())

    with pytest.raises(AccountCurrencyError) as invoice_refused:
        ledger.issue_invoice(
            "INV-EUR",
            customer_code="ACME",
            amount=Money.parse("900000.00", "EUR"),
            issued_on=date(2024, 1, 2),
        )
    with pytest.raises(AccountCurrencyError) as payment_refused:
        ledger.receive_payment(
            "BANK-EUR",
            payer_code="ACME",
            amount=Money.parse("50.00", "EUR"),
            value_on=date(2024, 1, 3),
        )

    for refused in (invoice_refused, payment_refused):
        assert ("ACME", "USD", "EUR") == (
            refused.value.customer_code,
            refused.value.account_currency,
            refused.value.currency,
        )
    assert events_before == sum(1 for _ in ledger.iter_events())
    assert {"USD"} == {row.currency for row in ledger.ageing(date(2024, 3, 31)).rows}
    ledger.close()


INVOICES_CSV = (
    "Customer,Invoice,Amount,Currency,Issued\n"
    "ACME,I-1,60.00,USD,2024-01-01\n"
    "ACME,I-2,50.00,EUR,2024-01-02\n"
    "ACME,I-3,10.00,USD,2024-01-03\n"
)
INVOICE_COLUMNS = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "currency": "Currency",
        "issued_on": "Issued",
    }
)


def test_an_import_refuses_the_rows_in_another_currency_than_the_customers(tmp_path):
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    path = tmp_path / "invoices.csv"
    path.write_text(INVOICES_CSV, encoding="utf-8")

    with pytest.raises(ImportRowError) as refused:
        import_file(ledger, path, INVOICE_COLUMNS)
    assert [(3, "currency")] == [(p.line, p.field) for p in refused.value.problems]
    assert "EUR" in refused.value.problems[0].reason
    assert 0 == sum(1 for _ in ledger.iter_events())

    result = import_file(ledger, path, INVOICE_COLUMNS, rejects_to=tmp_path / "rejects.csv")
    assert [3] == [problem.line for problem in result.rejected]
    assert 2 == result.invoices_issued
    report = ledger.ageing(date(2024, 1, 31), grouping=AgeingGrouping.CUSTOMER)
    assert [("ACME", "USD", 7_000)] == [(r.key, r.currency, r.open_minor) for r in report.rows]


# 9.5: a credit-note number is a business key across the ledger ------------------------------


def test_a_credit_note_number_credits_one_invoice_once(store_env):
    ledger = acme(store_env)
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("100.00"), issued_on=date(2024, 1, 1)
    )
    note = {"credit_note_number": "CN-1", "applied_on": date(2024, 1, 5), "reason": "damaged"}
    first = ledger.apply_credit_note("INV-1", amount=usd("100.00"), **note, approver="cfo")
    events_after_first = sum(1 for _ in ledger.iter_events())

    again = ledger.apply_credit_note("INV-1", amount=usd("100.00"), **note, approver="cfo")
    with pytest.raises(DuplicateKeyConflictError) as other_invoice:
        ledger.apply_credit_note("INV-2", amount=usd("100.00"), **note, approver="cfo")
    with pytest.raises(DuplicateKeyConflictError) as other_amount:
        ledger.apply_credit_note("INV-1", amount=usd("60.00"), **note, approver="cfo")

    assert 2 == len(first)
    assert [] == again
    assert ("CN-1", "INV-2") == (
        other_invoice.value.credit_note_number,
        other_invoice.value.invoice_number,
    )
    assert "CN-1" == other_amount.value.credit_note_number
    assert events_after_first == sum(1 for _ in ledger.iter_events())
    assert {"INV-2": 10_000} == open_by_invoice(ledger, date(2024, 1, 31))
    ledger.close()


def test_upheld_disputes_bring_their_own_credit_notes_and_never_share_a_number(store_env):
    ledger = acme(store_env)
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("100.00"), issued_on=date(2024, 1, 1)
    )
    for number in ("INV-1", "INV-2"):
        ledger.open_dispute(
            invoice_number=number,
            dispute_reference="D-1",  # dispute references are the invoice's own keys
            amount=usd("30.00"),
            reason_code=DisputeReason.QUALITY,
            root_cause="scratched",
            opened_on=date(2024, 1, 10),
        )
    uphold = {
        "dispute_reference": "D-1",
        "outcome": DisputeOutcome.UPHELD,
        "resolved_on": date(2024, 1, 20),
        "note": "confirmed",
    }

    ledger.resolve_dispute(invoice_number="INV-1", **uphold, approver="cfo")  # credit note D-1-CN
    with pytest.raises(DuplicateKeyConflictError):
        ledger.resolve_dispute(invoice_number="INV-2", **uphold, approver="cfo")
    ledger.resolve_dispute(
        invoice_number="INV-2", credit_note_number="D-1-CN-INV-2", **uphold, approver="cfo"
    )

    assert {"INV-1": 7_000, "INV-2": 7_000} == open_by_invoice(ledger, date(2024, 1, 31))
    ledger.close()


# 9.3: an allocation retried with its key is applied once ---------------------------------------


def paid(env: dict[str, str]) -> Ledger:
    """ACME owes INV-1 (100.00) and INV-2 (50.00); BANK-1 brings 120.00."""
    ledger = acme(env)
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("50.00"), issued_on=date(2024, 1, 5)
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("120.00"), value_on=date(2024, 2, 1)
    )
    return ledger


def test_an_explicit_allocation_retried_with_its_key_is_applied_once(store_env):
    ledger = paid(store_env)
    split = {"INV-1": usd("80.00"), "INV-2": usd("20.00")}

    first = ledger.allocate_payment("BANK-1", split, allocation_key="remit-7")
    events_after_first = sum(1 for _ in ledger.iter_events())
    again = ledger.allocate_payment("BANK-1", split, allocation_key="remit-7")

    assert first == again  # the first result, recorded once
    assert events_after_first == sum(1 for _ in ledger.iter_events())
    assert {"INV-1": 2_000, "INV-2": 3_000} == open_by_invoice(ledger, date(2024, 2, 1))
    assert 2_000 == ledger.payment("BANK-1").unapplied_minor
    with pytest.raises(AllocationKeyConflictError) as refused:
        ledger.allocate_payment("BANK-1", {"INV-1": usd("20.00")}, allocation_key="remit-7")
    assert ("remit-7", "BANK-1") == (refused.value.allocation_key, refused.value.bank_reference)
    ledger.close()


def test_an_automatic_allocation_retried_with_its_key_is_applied_once(store_env):
    ledger = paid(store_env)

    first = ledger.allocate_payment("BANK-1", allocation_key="auto-1")
    again = ledger.allocate_payment("BANK-1", allocation_key="auto-1")

    assert first == again
    assert {"INV-2": 3_000} == open_by_invoice(ledger, date(2024, 2, 1))
    ledger.close()


def test_an_allocation_key_survives_a_restart_and_is_seen_by_another_process(
    persistent_store_env,
):
    ledger = paid(persistent_store_env)
    first = ledger.allocate_payment("BANK-1", {"INV-1": usd("100.00")}, allocation_key="K")
    ledger.close()

    other = Ledger(persistent_store_env, clock=FixedClock())  # as a new process would
    again = other.allocate_payment("BANK-1", {"INV-1": usd("100.00")}, allocation_key="K")

    assert first == again
    assert {"INV-2": 5_000} == open_by_invoice(other, date(2024, 2, 1))
    other.close()


def test_a_session_retries_a_keyed_allocation_it_made_itself_as_a_no_op(store_env):
    ledger = paid(store_env)
    session = ledger.session()
    split = {"INV-1": usd("100.00")}

    first = session.allocate_payment(bank_reference="BANK-1", allocations=split, allocation_key="K")
    again = session.allocate_payment(bank_reference="BANK-1", allocations=split, allocation_key="K")
    session.commit()

    assert first == again
    assert {"INV-2": 5_000} == open_by_invoice(ledger, date(2024, 2, 1))
    ledger.close()


def test_allocations_stored_before_keys_existed_still_load(persistent_store_env):
    # A PaymentAllocated stored as it was written before the allocation_key field existed.
    ledger = paid(persistent_store_env)
    invoice_id = ids.invoice_id("INV-1")
    payment_id = ids.payment_id("BANK-1")
    applied = {
        "timestamp": "2026-01-01T00:00:30+00:00",
        "payment_id": str(payment_id),
        "amount_minor": 1000,
        "currency": "USD",
        "applied_on": "2024-02-01",
    }
    allocated = {
        "timestamp": "2026-01-01T00:00:30+00:00",
        "invoice_id": str(invoice_id),
        "amount_minor": 1000,
        "currency": "USD",
        "allocated_on": "2024-02-01",
    }
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=invoice_id,
                originator_version=2,
                topic=get_topic(PaymentApplied),
                state=json.dumps(applied).encode(),
            ),
            StoredEvent(
                originator_id=payment_id,
                originator_version=2,
                topic=get_topic(PaymentAllocated),
                state=json.dumps(allocated).encode(),
            ),
        ]
    )
    ledger.close()

    reader = Ledger(persistent_store_env, clock=FixedClock())
    loaded = [e for e in reader.iter_events() if isinstance(e, PaymentAllocated)]
    decoded = EventDecoder(reader.mapper).decode(RecorderEventReader(reader.recorder).read(1, 100))

    assert [None] == [event.allocation_key for event in loaded]
    assert loaded == [e for e in decoded if isinstance(e, PaymentAllocated)]
    assert {} == reader.payment("BANK-1").allocation_keys
    assert {"INV-1": 9_000, "INV-2": 5_000} == open_by_invoice(reader, date(2024, 2, 1))
    reader.allocate_payment("BANK-1", {"INV-1": usd("10.00")}, allocation_key="K")
    assert {"INV-1": 8_000, "INV-2": 5_000} == open_by_invoice(reader, date(2024, 2, 1))
    reader.close()
