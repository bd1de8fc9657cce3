"""Allocation rules through the Ledger and the importer (issue 13, item 3): a rule adopted for
an account from a date decides how later payments are allocated automatically, never earlier
ones, and a replay of the log gives the allocations recorded under each rule."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arledger import Ledger, Money
from arledger.adapters.ingest.importer import ColumnMapping, ImportKind, import_file
from arledger.domain import ids
from arledger.domain import payment as payment_module
from arledger.domain.errors import (
    AutomaticAllocationRefusedError,
    ImportRowError,
    InvalidDateError,
)
from arledger.domain.events import AllocationRule, AllocationRuleAdopted, PaymentAllocated
from tests.conftest import FixedClock


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def ledger_with_invoices(env: dict[str, str]) -> Ledger:
    """ACME owes INV-1 100.00 (due 2024-02-01) and INV-2 300.00 (due 2024-03-01)."""
    ledger = Ledger(env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2024, 1, 2),
        due_on=date(2024, 2, 1),
    )
    ledger.issue_invoice(
        "INV-2",
        customer_code="ACME",
        amount=usd("300.00"),
        issued_on=date(2024, 1, 5),
        due_on=date(2024, 3, 1),
    )
    return ledger


def allocated_by_payment(
    ledger: Ledger, references: tuple[str, ...] = ("BANK-1", "BANK-2", "BANK-3")
) -> dict[tuple[str, str], int]:
    """(bank reference, invoice number) -> minor units, from the payments in the log."""
    numbers = {ids.invoice_id(n): n for n in ("INV-1", "INV-2", "INV-3")}
    result = {}
    for reference in references:
        payment = ledger.payment(reference)
        for invoice_id, amount in payment.allocations.items():
            result[(reference, numbers[invoice_id])] = amount
    return result


def test_a_proportional_rule_adopted_mid_year_changes_only_later_allocations(store_env):
    ledger = ledger_with_invoices(store_env)
    # Before the adoption: oldest due first settles INV-1 in full, then 20.00 of INV-2.
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("120.00"), value_on=date(2024, 6, 10)
    )
    ledger.allocate_payment("BANK-1")
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.PROPORTIONAL,
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="customer's remittances cover every invoice pro rata",
    )
    # Received on the last day under the old rule, allocated after the adoption: old rule,
    # so INV-2 (due 2024-03-01) before INV-3 (due 2024-06-25), not pro rata.
    ledger.issue_invoice(
        "INV-3",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2024, 6, 20),
        due_on=date(2024, 6, 25),
    )
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("50.00"), value_on=date(2024, 6, 30)
    )
    ledger.allocate_payment("BANK-2", allocated_on=date(2024, 7, 2))
    # Received under the new rule: open INV-2 230.00 and INV-3 100.00 share 66.00 pro rata:
    # 46.00 and 20.00 exactly.
    ledger.receive_payment(
        "BANK-3", payer_code="ACME", amount=usd("66.00"), value_on=date(2024, 7, 1)
    )
    ledger.allocate_payment("BANK-3")

    expected = {
        ("BANK-1", "INV-1"): 10_000,
        ("BANK-1", "INV-2"): 2_000,
        ("BANK-2", "INV-2"): 5_000,
        ("BANK-3", "INV-2"): 4_600,
        ("BANK-3", "INV-3"): 2_000,
    }
    assert expected == allocated_by_payment(ledger)
    assert {"INV-1": 0, "INV-2": 18_400, "INV-3": 8_000} == {
        n: ledger.invoice(n).open_minor for n in ("INV-1", "INV-2", "INV-3")
    }
    # Replay: the account and every payment folded again from the log agree, and the log
    # holds one allocation per (payment, invoice) as recorded, whatever the rule now says.
    events = list(ledger.iter_events())
    assert [AllocationRule.PROPORTIONAL] == [
        e.rule for e in events if isinstance(e, AllocationRuleAdopted)
    ]
    replayed: dict[tuple[str, str], int] = {}
    references = {ids.payment_id(r): r for r in ("BANK-1", "BANK-2", "BANK-3")}
    numbers = {ids.invoice_id(n): n for n in ("INV-1", "INV-2", "INV-3")}
    for event in events:
        if isinstance(event, PaymentAllocated):
            key = (references[event.originator_id], numbers[event.invoice_id])
            replayed[key] = replayed.get(key, 0) + event.amount_minor
    assert expected == replayed
    for reference in references.values():
        folded = payment_module.fold(
            e for e in events if e.originator_id == ids.payment_id(reference)
        )
        assert folded == ledger.payment(reference)
    ledger.close()


def test_explicit_only_refuses_automatic_allocation_and_the_cash_waits_unapplied():
    ledger = ledger_with_invoices({"ARLEDGER_STORE": "memory"})
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.EXPLICIT_ONLY,
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="remittance advice names the invoices",
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("50.00"), value_on=date(2024, 2, 10)
    )
    before = sum(1 for _ in ledger.iter_events())

    with pytest.raises(AutomaticAllocationRefusedError) as refused:
        ledger.allocate_payment("BANK-1")

    assert ("explicit_only", "BANK-1", date(2024, 1, 1)) == (
        refused.value.allocation_rule,
        refused.value.bank_reference,
        refused.value.effective_on,
    )
    assert before == sum(1 for _ in ledger.iter_events())
    assert 5_000 == ledger.payment("BANK-1").unapplied_minor
    # Naming the invoice is still allowed.
    ledger.allocate_payment("BANK-1", {"INV-2": usd("50.00")})
    assert 25_000 == ledger.invoice("INV-2").open_minor


def test_oldest_issued_first_settles_the_invoice_issued_first_though_due_later():
    ledger = ledger_with_invoices({"ARLEDGER_STORE": "memory"})
    ledger.issue_invoice(
        "INV-3",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2024, 1, 3),
        due_on=date(2024, 1, 10),
    )
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.OLDEST_ISSUED_FIRST,
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="contract clause 7",
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("150.00"), value_on=date(2024, 2, 10)
    )
    ledger.allocate_payment("BANK-1")
    # INV-3 is due first, but INV-1 was issued first.
    assert {("BANK-1", "INV-1"): 10_000, ("BANK-1", "INV-3"): 5_000} == allocated_by_payment(
        ledger, ("BANK-1",)
    )


def test_an_adoption_is_idempotent_and_may_not_be_dated_before_the_latest():
    ledger = ledger_with_invoices({"ARLEDGER_STORE": "memory"})
    adopt = dict(
        customer_code="ACME",
        rule=AllocationRule.PROPORTIONAL,
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="pro rata",
    )
    assert 1 == len(ledger.adopt_allocation_rule(**adopt))
    assert [] == ledger.adopt_allocation_rule(**adopt)
    before = sum(1 for _ in ledger.iter_events())
    with pytest.raises(InvalidDateError) as refused:
        ledger.adopt_allocation_rule(
            **{**adopt, "effective_on": date(2024, 6, 30), "rule": AllocationRule.EXPLICIT_ONLY}
        )
    assert "effective_on" == refused.value.field
    assert before == sum(1 for _ in ledger.iter_events())
    account = ledger.customer("ACME")
    assert (AllocationRule.OLDEST_DUE_FIRST, None) == account.allocation_rule_on(date(2024, 6, 30))
    assert (AllocationRule.PROPORTIONAL, date(2024, 7, 1)) == account.allocation_rule_on(
        date(2024, 7, 1)
    )


PAYMENT_MAPPING = ColumnMapping(
    columns={
        "bank_reference": "Reference",
        "customer_code": "Payer",
        "amount": "Amount",
        "value_on": "Value date",
        "invoice_number": "Invoice",
    },
    currency="USD",
)


def test_the_importer_allocates_by_the_rule_in_force_on_each_value_date(tmp_path: Path):
    ledger = ledger_with_invoices({"ARLEDGER_STORE": "memory"})
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.PROPORTIONAL,
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="pro rata",
    )
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.EXPLICIT_ONLY,
        effective_on=date(2024, 8, 1),
        approver="cfo",
        reason="remittance advice from August",
    )
    path = tmp_path / "payments.csv"
    path.write_text(
        "Reference,Payer,Amount,Value date,Invoice\n"
        "BANK-1,ACME,40.00,2024-06-30,\n"  # oldest due first: INV-1
        "BANK-2,ACME,40.00,2024-07-15,\n"  # proportional over INV-1 60.00 and INV-2 300.00
        "BANK-3,ACME,40.00,2024-08-01,\n",  # explicit only: waits unapplied
        encoding="utf-8",
    )

    result = import_file(ledger, path, PAYMENT_MAPPING, kind=ImportKind.PAYMENTS)

    assert 3 == result.payments_received
    # 40.00 over 60.00 and 300.00: 6.666.. and 33.333..; rounded down 666 and 3333 = 3999,
    # the left-over unit to the larger fraction, INV-1's.
    assert {
        ("BANK-1", "INV-1"): 4_000,
        ("BANK-2", "INV-1"): 667,
        ("BANK-2", "INV-2"): 3_333,
    } == allocated_by_payment(ledger)
    assert 4_000 == ledger.payment("BANK-3").unapplied_minor


INVOICE_MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
        "due_on": "Due",
        "interest": "Interest",
        "fees": "Fees",
    },
    currency="USD",
)


def test_the_importer_reads_components_and_allocates_fees_and_interest_first(tmp_path: Path):
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "Customer,Invoice,Amount,Issued,Due,Interest,Fees\n"
        "ACME,INV-1,100.00,2024-01-02,2024-02-01,10.00,5.00\n"
        "ACME,INV-2,300.00,2024-01-05,2024-03-01,0,20.00\n",
        encoding="utf-8",
    )
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    import_file(ledger, invoices, INVOICE_MAPPING, kind=ImportKind.INVOICES)
    ledger.adopt_allocation_rule(
        customer_code="ACME",
        rule=AllocationRule.COMPONENT_ORDER,
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="BGB 367: costs and interest before principal",
    )
    payments = tmp_path / "payments.csv"
    payments.write_text(
        "Reference,Payer,Amount,Value date,Invoice\nBANK-1,ACME,30.00,2024-04-01,\n",
        encoding="utf-8",
    )

    import_file(ledger, payments, PAYMENT_MAPPING, kind=ImportKind.PAYMENTS)

    # Every invoice's fees (5.00 + 20.00) first, then INV-1's interest with the 5.00 left;
    # oldest due first without the components would have put all 30.00 on INV-1.
    assert {("BANK-1", "INV-1"): 1_000, ("BANK-1", "INV-2"): 2_000} == allocated_by_payment(
        ledger, ("BANK-1",)
    )
    assert (0, 500, 8_500) == ledger.invoice("INV-1").open_by_component
    assert (0, 0, 28_000) == ledger.invoice("INV-2").open_by_component


def test_the_importer_rejects_components_over_the_amount_or_negative(tmp_path: Path):
    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "Customer,Invoice,Amount,Issued,Due,Interest,Fees\n"
        "ACME,INV-1,100.00,2024-01-02,2024-02-01,90.00,20.00\n"
        "ACME,INV-2,300.00,2024-01-05,2024-03-01,-1.00,\n",
        encoding="utf-8",
    )
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())

    with pytest.raises(ImportRowError) as refused:
        import_file(ledger, invoices, INVOICE_MAPPING, kind=ImportKind.INVOICES)

    problems = refused.value.problems or ()
    assert [(2, "fees"), (3, "interest")] == [
        (problem.line, problem.field)  # type: ignore[attr-defined]
        for problem in problems
    ]
    assert 0 == len(list(ledger.iter_events()))
