"""Statements of account over random command sequences (valid and refused alike).

For every customer and period: the opening balance plus the signed movements is the closing
balance, the closing balance and its buckets are the customer's row of the ageing as of the
period's end, consecutive periods chain, and each balance-changing event of the customer is
one line of a statement covering all dates.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import contextlib
import itertools
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.domain.errors import ArledgerError
from arledger.domain.events import InvoiceIssued, PaymentTermsKind
from arledger.domain.money import Money
from arledger.domain.rules import DATE_MAX, DATE_MIN
from arledger.projections import statement
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.portfolio import ageing_report
from arledger.projections.statement import BALANCE_EVENTS
from tests.conftest import FixedClock
from tests.strategies import (
    BANK_REFERENCES,
    CREDIT_NOTE_NUMBERS,
    INVOICE_NUMBERS,
    WINDOW_START,
    Command,
    command_sequences,
    window_dates,
)


def _recorded(commands: list[Command]) -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for command in commands:
        # A refused command records nothing (tests/property/test_ledger_properties.py).
        with contextlib.suppress(ArledgerError):
            ledger.run(command)
    return ledger


invoice_amounts = st.integers(300, 1200).map(lambda minor: Money(minor, "USD"))
usd_amounts = st.integers(1, 300).map(lambda minor: Money(minor, "USD"))
approved = {"reason": "agreed", "approver": "cfo"}
# Invoices and payments in the first half of the window, movements after: fewer are refused for
# being dated before what they move.
early_dates = st.integers(0, 45).map(lambda days: WINDOW_START + timedelta(days=days))
late_dates = st.integers(46, 120).map(lambda days: WINDOW_START + timedelta(days=days))


@st.composite
def movement_commands(draw: st.DrawFn) -> Command:
    """A command that moves a USD customer's balance, with good text: refused, if at all, for
    its amount or date (so that every movement kind happens often)."""
    invoice_number = draw(st.sampled_from(INVOICE_NUMBERS))
    on = draw(late_dates)
    kind = draw(st.sampled_from(MOVEMENT_COMMANDS))
    if kind == "allocate_payment":
        allocations = draw(st.none() | st.just({invoice_number: draw(usd_amounts)}))
        return Command(
            kind,
            {
                "bank_reference": draw(st.sampled_from(BANK_REFERENCES)),
                "allocations": allocations,
                "allocated_on": on,
            },
        )
    if kind == "reverse_payment":
        bank_reference = draw(st.sampled_from(BANK_REFERENCES))
        return Command(kind, {"bank_reference": bank_reference, "reversed_on": on, "reason": "x"})
    if kind == "apply_credit_note":
        fields = {
            "credit_note_number": draw(st.sampled_from(CREDIT_NOTE_NUMBERS)),
            "amount": draw(usd_amounts),
            "applied_on": on,
            "reason": "returned",
            "approver": "cfo",
        }
    elif kind == "approve_concession":
        fields = {"amount": draw(usd_amounts), "approved_on": on, **approved}
    elif kind == "write_off":
        fields = {"written_off_on": on, **approved}
    else:
        fields = {"reinstated_on": on, **approved}
    return Command(kind, {"invoice_number": invoice_number, **fields})


MOVEMENT_COMMANDS = (
    "allocate_payment",
    "allocate_payment",
    "reverse_payment",
    "apply_credit_note",
    "approve_concession",
    "write_off",
    "reinstate",
    "reinstate",
)


@st.composite
def one_customer_sequences(draw: st.DrawFn) -> list[Command]:
    """One USD customer, its invoices and payments, then 4 to 20 movements."""
    opening = {
        "customer_code": "C1",
        "name": "Customer C1",
        "currency": "USD",
        "collection_owner": "li",
        "opened_on": WINDOW_START,
        "terms_kind": PaymentTermsKind.NET,
        "terms_days": 30,
    }
    commands = [Command("open_account", opening)]
    for invoice_number in INVOICE_NUMBERS:
        fields = {
            "customer_code": "C1",
            "amount": draw(usd_amounts),
            "issued_on": draw(window_dates),
        }
        commands.append(Command("issue_invoice", {"invoice_number": invoice_number, **fields}))
    for bank_reference in BANK_REFERENCES:
        amount = draw(invoice_amounts)
        fields = {"payer_code": "C1", "amount": amount, "value_on": draw(early_dates)}
        commands.append(Command("receive_payment", {"bank_reference": bank_reference, **fields}))
    return commands + draw(st.lists(movement_commands(), min_size=4, max_size=20))


@given(
    commands=command_sequences() | one_customer_sequences(),
    cuts=st.lists(window_dates, min_size=2, max_size=4, unique=True).map(sorted),
)
def test_statements_reconcile_with_the_ageing_and_chain_period_to_period(
    commands: list[Command], cuts: list[date]
) -> None:
    ledger = _recorded(commands)
    events = list(ledger.iter_events())
    state = statement.fold_all(events)
    customer_of = {
        event.originator_id: event.customer_id
        for event in events
        if isinstance(event, InvoiceIssued)
    }
    for customer_id, customer in state.portfolio.customers.items():
        whole = statement.statement_of_account(state, customer_id, DATE_MIN, DATE_MAX)
        balance_events = [
            event
            for event in events
            if isinstance(event, BALANCE_EVENTS) and customer_of[event.originator_id] == customer_id
        ]
        assert len(balance_events) == len(whole.lines)
        assert 0 == whole.opening_balance_minor
        periods = [(DATE_MIN, cuts[0])] + [
            (start + timedelta(days=1), end) for start, end in itertools.pairwise(cuts)
        ]
        previous_closing = 0
        for from_on, to_on in periods:
            result = statement.statement_of_account(state, customer_id, from_on, to_on)
            assert previous_closing == result.opening_balance_minor
            assert result.closing_balance_minor == (
                result.opening_balance_minor + result.movements_minor
            )
            running = result.opening_balance_minor
            for line in result.lines:
                assert from_on <= line.on <= to_on
                running += line.amount_minor
                assert running == line.balance_minor
            assert [line.on for line in result.lines] == sorted(line.on for line in result.lines)
            report = ageing_report(state.portfolio, to_on, grouping=AgeingGrouping.CUSTOMER)
            rows = [row for row in report.rows if row.key == customer.customer_code]
            assert [result.ageing] == rows or (not rows and 0 == result.closing_balance_minor)
            assert result.closing_balance_minor == result.ageing.open_minor
            assert report.bucket_labels == result.bucket_labels
            assert 0 <= result.unapplied_cash_minor
            previous_closing = result.closing_balance_minor
