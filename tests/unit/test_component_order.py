"""Allocation by component (issue 13.3, BGB 366/367): an invoice may carry interest and fees
besides its principal; under the component-order rule a payment settles the fees of every open
invoice first, then their interest, then their principal, each pass oldest due first, and an
invoice settles its own components in that order. Invoices recorded without components are all
principal."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from arledger import Ledger, Money
from arledger.adapters.cli.app import app
from arledger.domain import invoice as invoice_module
from arledger.domain.errors import CurrencyMismatchError, InvalidCommandError
from arledger.domain.events import AllocationRule, InvoiceIssued, PaymentApplied
from tests.conftest import FixedClock


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def _book(rule: AllocationRule | None) -> Ledger:
    """ACME owes A (1,000 principal, 100 interest, 50 fees; due 2024-01-31) and B (500
    principal, 20 fees; due 2024-02-29), and pays 200 on 2024-03-01."""
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="EUR", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    if rule is not None:
        ledger.adopt_allocation_rule(
            customer_code="ACME",
            rule=rule,
            effective_on=date(2024, 1, 1),
            approver="CFO",
            reason="BGB 367",
        )
    ledger.issue_invoice(
        "A",
        customer_code="ACME",
        amount=eur(1150),
        interest=eur(100),
        fees=eur(50),
        issued_on=date(2024, 1, 1),
        due_on=date(2024, 1, 31),
    )
    ledger.issue_invoice(
        "B",
        customer_code="ACME",
        amount=eur(520),
        fees=eur(20),
        issued_on=date(2024, 1, 15),
        due_on=date(2024, 2, 29),
    )
    ledger.receive_payment("BANK-1", payer_code="ACME", amount=eur(200), value_on=date(2024, 3, 1))
    return ledger


def _applied(ledger: Ledger) -> dict[str, int]:
    events = ledger.allocate_payment("BANK-1")
    numbers = {ledger.invoice(n).id: n for n in ("A", "B")}
    return {
        numbers[e.originator_id]: e.amount_minor for e in events if isinstance(e, PaymentApplied)
    }


def test_fees_then_interest_then_principal_across_the_payers_invoices() -> None:
    ledger = _book(AllocationRule.COMPONENT_ORDER)
    # Fees: A 50, B 20; interest: A 100; principal: A 30 (oldest due first).
    assert {"A": 180, "B": 20} == _applied(ledger)
    assert (0, 0, 970) == ledger.invoice("A").open_by_component
    assert (0, 0, 500) == ledger.invoice("B").open_by_component


def test_oldest_due_first_takes_the_oldest_invoice_whole_whatever_its_components() -> None:
    ledger = _book(None)
    assert {"A": 200} == _applied(ledger)
    # Within the invoice the 200 still settles its fees, then its interest, then principal.
    assert (0, 0, 950) == ledger.invoice("A").open_by_component
    assert (20, 0, 500) == ledger.invoice("B").open_by_component


def test_a_replay_gives_the_live_invoices_with_their_components() -> None:
    ledger = _book(AllocationRule.COMPONENT_ORDER)
    _applied(ledger)
    for number in ("A", "B"):
        events = [e for e in ledger.iter_events() if e.originator_id == ledger.invoice(number).id]
        assert ledger.invoice(number) == invoice_module.fold(events)


def test_interest_and_fees_above_the_amount_are_refused_and_nothing_is_recorded() -> None:
    ledger = _book(None)
    before = len(list(ledger.iter_events()))
    with pytest.raises(InvalidCommandError) as refused:
        ledger.issue_invoice(
            "C",
            customer_code="ACME",
            amount=eur(100),
            interest=eur(80),
            fees=eur(30),
            issued_on=date(2024, 1, 1),
        )
    assert "fees" == refused.value.field
    with pytest.raises(CurrencyMismatchError):
        ledger.issue_invoice(
            "C",
            customer_code="ACME",
            amount=eur(100),
            fees=Money(10, "USD"),
            issued_on=date(2024, 1, 1),
        )
    assert before == len(list(ledger.iter_events()))


def test_an_invoice_without_components_is_all_principal() -> None:
    ledger = _book(None)
    ledger.issue_invoice("C", customer_code="ACME", amount=eur(300), issued_on=date(2024, 1, 1))
    issued = [e for e in ledger.iter_events() if isinstance(e, InvoiceIssued)][-1]
    assert (0, 0) == (issued.interest_minor, issued.fees_minor)
    assert (0, 0, 300) == ledger.invoice("C").open_by_component


def test_the_cli_adopts_the_component_order_rule(tmp_path: object) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": f"{tmp_path}/ledger.db"}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="EUR", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.close()
    adopt = [
        "allocation-rule",
        "adopt",
        "--customer",
        "ACME",
        "--rule",
        "component_order",
        "--effective-on",
        "2024-07-01",
        "--approver",
        "CFO",
        "--reason",
        "BGB 367",
    ]
    result = CliRunner().invoke(app, adopt, env={**env, "COLUMNS": "200"})
    assert 0 == result.exit_code, result.output
    on_july = Ledger(env=env).customer("ACME").allocation_rule_on(date(2024, 7, 2))
    assert AllocationRule.COMPONENT_ORDER == on_july[0]
