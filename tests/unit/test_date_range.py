"""Business dates inside DATE_MIN..DATE_MAX (issue 9.13), in commands and queries alike.

Given a command or a query with a date outside the range the ledger accepts (9999-12-31, a
year typed as 0001, or a due date that the terms push past the end), then ``InvalidDateError``
naming the field, and no event; a period that starts after it ends is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from arledger.domain import customer, invoice, policy_book
from arledger.domain.errors import InvalidDateError
from arledger.domain.events import Event, Instalment, RiskRating
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY
from arledger.domain.rules import DATE_MAX, DATE_MIN, require_date, require_period
from arledger.projections import ageing, credit, escalation, kpis, portfolio, promises
from tests.unit.test_text import (
    AT,
    ON,
    account,
    apply_credit_note,
    issue_invoice,
    issued_invoice,
    make_promise,
    on_account,
    on_invoice,
    open_account,
    receive_payment,
    record_action,
)

OUTSIDE = [date.min, DATE_MIN - timedelta(days=1), DATE_MAX + timedelta(days=1), date.max]

DATE_ARGUMENTS: dict[str, tuple[Callable[..., list[Event]], dict[str, Any], str]] = {
    "account opened": (open_account, {}, "opened_on"),
    "invoice issued": (issue_invoice, {}, "issued_on"),
    "invoice due": (issue_invoice, {}, "due_on"),
    "payment value": (receive_payment, {}, "value_on"),
    "credit line effective": (
        on_account(customer.set_credit_line),
        {"amount_minor": 100, "approver": "cfo", "reason": "r"},
        "effective_on",
    ),
    "risk rated": (
        on_account(customer.rate_risk),
        {"rating": RiskRating.B, "reason": "r"},
        "rated_on",
    ),
    "confirmation balance as of": (
        on_account(customer.send_balance_confirmation),
        {
            "confirmation_reference": "BC-1",
            "ledger_balance_minor": 0,
            "sent_on": ON,
            "statement_from_on": ON,
            "statement_lines": 0,
        },
        "balance_as_of",
    ),
    "credit note applied": (
        apply_credit_note,
        {"credit_note_number": "CN-1", "amount_minor": 100, "reason": "damaged"},
        "applied_on",
    ),
    "written off": (
        on_invoice(invoice.write_off),
        {"reason": "insolvent", "approver": "cfo"},
        "written_off_on",
    ),
    "promise made": (make_promise, {}, "made_on"),
    "promised": (make_promise, {}, "promised_on"),
    "action taken": (record_action, {}, "taken_on"),
    "next step": (record_action, {"next_step": "call again"}, "next_step_on"),
    "policy effective": (
        lambda **fields: policy_book.adopt_policy(None, recorded_at=AT, **fields),
        {
            "policy": DEFAULT_ESCALATION_POLICY.__class__(version=2),
            "approver": "cfo",
            "reason": "r",
        },
        "effective_on",
    ),
}


@pytest.mark.parametrize("argument", list(DATE_ARGUMENTS))
@pytest.mark.parametrize("outside", OUTSIDE)
def test_every_business_date_outside_the_range_is_refused(argument: str, outside: date) -> None:
    decide, fields, field = DATE_ARGUMENTS[argument]

    with pytest.raises(InvalidDateError) as raised:
        decide(**{**fields, field: outside})

    assert field == raised.value.field
    assert outside == raised.value.value
    assert str(DATE_MIN) in raised.value.message
    assert str(DATE_MAX) in raised.value.message


def test_the_ends_of_the_range_are_accepted() -> None:
    assert DATE_MIN == require_date("issued_on", DATE_MIN)
    assert DATE_MAX == require_date("issued_on", DATE_MAX)
    assert open_account(opened_on=DATE_MIN)
    assert issue_invoice(issued_on=DATE_MAX, due_on=DATE_MAX)


def test_a_due_date_the_terms_push_past_the_range_is_refused() -> None:
    # The account's terms are net 30: issued on 20 December 2199, due on 19 January 2200.
    with pytest.raises(InvalidDateError) as raised:
        issue_invoice(issued_on=DATE_MAX - timedelta(days=11))

    assert "due_on" == raised.value.field
    assert DATE_MAX + timedelta(days=19) == raised.value.value


def test_an_instalment_due_past_the_range_is_refused() -> None:
    schedule = (
        Instalment(due_on=DATE_MAX, amount_minor=5000),
        Instalment(due_on=DATE_MAX + timedelta(days=1), amount_minor=5000),
    )

    with pytest.raises(InvalidDateError) as raised:
        issue_invoice(issued_on=DATE_MAX - timedelta(days=5), instalments=schedule)

    assert "instalment due_on" == raised.value.field


def test_a_period_that_starts_after_it_ends_is_refused() -> None:
    with pytest.raises(InvalidDateError) as raised:
        require_period(date(2024, 2, 1), date(2024, 1, 31))

    assert date(2024, 2, 1) == raised.value.start_on
    assert date(2024, 1, 31) == raised.value.end_on
    assert (date(2024, 1, 1), date(2024, 1, 1)) == require_period(
        date(2024, 1, 1), date(2024, 1, 1)
    )


# Queries --------------------------------------------------------------------------------------


def state() -> portfolio.PortfolioState:
    events = [*open_account(), *issue_invoice()[:1]]
    issued = issued_invoice()
    assert issued.customer_id == account().id
    return portfolio.fold_all(events)


QUERIES: dict[str, Callable[[portfolio.PortfolioState, date], object]] = {
    "ageing": lambda s, on: ageing.ageing_report(s.ageing, on),
    "top overdue": lambda s, on: ageing.top_overdue_customers(s.ageing, on),
    "escalation status": lambda s, on: escalation.escalation_status(s, account().id, on),
    "worklist": lambda s, on: escalation.worklist(s, on),
    "explain": lambda s, on: escalation.explain(s, account().id, on),
    "credit check": lambda s, on: credit.check_credit(
        s, account().id, order_amount_minor=100, currency="USD", as_of=on
    ),
    "promises": lambda s, on: promises.judge_all(s, on),
    "kpis from": lambda s, on: kpis.kpi_report(s, on, date(2024, 12, 31)),
    "kpis to": lambda s, on: kpis.kpi_report(s, date(2024, 1, 1), on),
    "kpis as of": lambda s, on: kpis.kpis_as_of(s, on),
    "trailing period": lambda _s, on: kpis.trailing_period(on, 3),
}


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("outside", [date.min, date.max, DATE_MAX + timedelta(days=1)])
def test_every_query_refuses_a_date_outside_the_range(query: str, outside: date) -> None:
    with pytest.raises(InvalidDateError) as raised:
        QUERIES[query](state(), outside)

    assert outside == raised.value.value


def test_a_trailing_period_may_not_start_before_the_range() -> None:
    with pytest.raises(InvalidDateError) as raised:
        kpis.trailing_period(DATE_MIN + timedelta(days=20), 3)

    assert "start_on" == raised.value.field
    assert (date(1900, 1, 1), date(1900, 3, 31)) == kpis.trailing_period(date(1900, 3, 31), 3)
