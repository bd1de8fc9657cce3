"""Letters over random command sequences (valid and refused alike): for every customer and
balance date, each letter's figures are the statement's and the ageing's, its open invoices add
up to the balance and their overdue parts to the overdue total, and every letter renders in
every language with those figures (a template naming a figure some ledger lacks would fail
here, not in front of a customer).
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import contextlib
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.documents.render import Language, grouped, render_html
from arledger.domain.errors import ArledgerError, CustomerStateError
from arledger.projections import letters, statement
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.letters import LetterKind
from arledger.projections.portfolio import ageing_report
from tests.conftest import FixedClock
from tests.strategies import Command, command_sequences, window_dates


def _recorded(commands: list[Command]) -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for command in commands:
        # A refused command records nothing (tests/property/test_ledger_properties.py).
        with contextlib.suppress(ArledgerError):
            ledger.run(command)
    return ledger


@given(commands=command_sequences(), balance_dates=st.lists(window_dates, min_size=1, max_size=2))
def test_every_letter_carries_the_ageings_figures_and_renders_in_every_language(
    commands: list[Command], balance_dates: list[date]
) -> None:
    ledger = _recorded(commands)
    state = statement.fold_all(ledger.iter_events())
    for customer_id, customer in state.portfolio.customers.items():
        opened_on = customer.opened_on
        for as_of in balance_dates:
            if as_of < opened_on:
                continue
            report = ageing_report(state.portfolio, as_of, grouping=AgeingGrouping.CUSTOMER)
            rows = [row for row in report.rows if row.key == customer.customer_code]
            for kind in LetterKind:
                try:
                    letter = letters.letter(
                        state,
                        customer_id,
                        kind,
                        as_of=as_of,
                        from_on=opened_on,
                        dated_on=as_of,
                        pay_by_on=None,
                        contact="",
                    )
                except CustomerStateError:
                    assert LetterKind.DEMAND is kind
                    assert 0 == sum(row.overdue_minor for row in rows)
                    continue
                assert [letter.statement.ageing] == rows or (not rows and 0 == letter.balance_minor)
                assert letter.balance_minor == sum(i.open_minor for i in letter.open_invoices)
                assert letter.overdue_minor == sum(i.overdue_minor for i in letter.open_invoices)
                assert all(0 < i.open_minor for i in letter.open_invoices)
                assert all(0 <= i.overdue_minor <= i.open_minor for i in letter.open_invoices)
                if kind is LetterKind.DEMAND:
                    assert 0 < letter.overdue_minor
                    assert letter.pay_by_on is not None
                    assert as_of < letter.pay_by_on
                for language in Language:
                    html = render_html(letter, language)
                    figure = (
                        letter.overdue_minor if kind is LetterKind.DEMAND else letter.balance_minor
                    )
                    assert grouped(figure, letter.currency) in html
                    assert letter.reference in html
