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
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.domain.errors import ArledgerError
from arledger.domain.events import InvoiceIssued
from arledger.domain.money import Money
from arledger.domain.rules import DATE_MAX, DATE_MIN
from arledger.projections import statement
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.portfolio import ageing_report
from arledger.projections.statement import BALANCE_EVENTS
from tests.conftest import FixedClock
from tests.strategies import Command, command_sequences, window_dates


def _recorded(commands: list[Command]) -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for command in commands:
        # A refused command records nothing (tests/property/test_ledger_properties.py).
        with contextlib.suppress(ArledgerError):
            ledger.run(command)
    return ledger


def _in_usd(value: Any) -> Any:
    if isinstance(value, Money):
        return Money(value.amount_minor, "USD")
    if isinstance(value, dict):
        return {key: _in_usd(item) for key, item in value.items()}
    return value


def one_currency(commands: list[Command]) -> list[Command]:
    """The sequence with every account and amount in USD: far fewer commands are refused for a
    currency mismatch, so credit notes, reversals and reinstatements happen more often."""
    result = []
    for command in commands:
        fields = {key: _in_usd(value) for key, value in command.fields.items()}
        if command.name == "open_account":
            fields["currency"] = "USD"
        result.append(Command(command.name, fields))
    return result


@given(
    commands=command_sequences() | command_sequences().map(one_currency),
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
