"""The customer's payment calendar: booking date and expected pay date of an invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from arledger.domain import ids
from arledger.domain.calendar import booking_on, expected_pay_on
from arledger.domain.events import (
    CustomerAccountOpened,
    InvoiceAddedToAccount,
    InvoiceIssued,
    PaymentCalendarSet,
    PaymentTermsKind,
)
from arledger.projections import portfolio

AT = datetime(2026, 1, 1, tzinfo=UTC)


def pay_on(
    issued_on: date,
    due_on: date,
    book_closing_day: int | None = None,
    payment_run_days: Sequence[int] = (),
) -> date:
    return expected_pay_on(
        issued_on=issued_on,
        due_on=due_on,
        book_closing_day=book_closing_day,
        payment_run_days=payment_run_days,
    )


# Booking ------------------------------------------------------------------------------------


def test_an_invoice_arriving_on_the_closing_day_is_booked_at_once() -> None:
    assert date(2024, 3, 25) == booking_on(date(2024, 3, 25), 25)


def test_an_invoice_arriving_after_the_closing_day_is_booked_next_month() -> None:
    assert date(2024, 4, 1) == booking_on(date(2024, 3, 26), 25)


def test_an_invoice_arriving_after_the_closing_day_in_december_is_booked_in_january() -> None:
    assert date(2025, 1, 1) == booking_on(date(2024, 12, 28), 25)


def test_without_a_closing_day_an_invoice_is_booked_at_once() -> None:
    assert date(2024, 3, 31) == booking_on(date(2024, 3, 31), None)


# Expected pay date --------------------------------------------------------------------------


def test_without_run_days_the_money_comes_on_the_due_date() -> None:
    assert date(2024, 4, 25) == pay_on(date(2024, 3, 26), date(2024, 4, 25))


def test_without_run_days_the_money_waits_for_the_booking_when_that_is_later() -> None:
    # Issued after the closing day and due on issue: booked on 1 April.
    assert date(2024, 4, 1) == pay_on(date(2024, 3, 26), date(2024, 3, 26), 25)


def test_booking_after_the_closing_day_moves_the_payment_run_to_next_month() -> None:
    # Due 28 March; booked 1 April; the April run on the 10th pays it.
    assert date(2024, 4, 10) == pay_on(date(2024, 3, 26), date(2024, 3, 28), 25, (10, 25))


def test_booking_on_the_closing_day_pays_on_the_next_run_this_month() -> None:
    assert date(2024, 3, 25) == pay_on(date(2024, 3, 25), date(2024, 3, 25), 25, (10, 25))


def test_the_money_comes_on_the_first_run_day_on_or_after_the_due_date() -> None:
    assert date(2024, 5, 10) == pay_on(date(2024, 4, 1), date(2024, 5, 1), None, (10, 25))
    assert date(2024, 5, 10) == pay_on(date(2024, 4, 1), date(2024, 5, 10), None, (10, 25))
    assert date(2024, 5, 25) == pay_on(date(2024, 4, 1), date(2024, 5, 11), None, (10, 25))


def test_a_due_date_after_the_last_run_day_waits_for_next_months_first() -> None:
    assert date(2024, 6, 10) == pay_on(date(2024, 4, 1), date(2024, 5, 26), None, (10, 25))


def test_a_run_on_the_31st_pays_on_the_last_day_of_a_30_day_month() -> None:
    assert date(2024, 4, 30) == pay_on(date(2024, 4, 1), date(2024, 4, 15), None, (31,))


def test_a_run_on_the_31st_pays_on_29_february_in_a_leap_year() -> None:
    assert date(2024, 2, 29) == pay_on(date(2024, 2, 1), date(2024, 2, 15), None, (31,))


def test_a_run_on_the_31st_pays_on_the_31st_in_a_31_day_month() -> None:
    assert date(2024, 5, 31) == pay_on(date(2024, 5, 1), date(2024, 5, 15), None, (31,))


def test_the_expected_pay_date_is_never_before_due_or_booking() -> None:
    for day in range(1, 29):
        issued_on = date(2024, 1, day)
        due_on = date(2024, 2, day)
        expected = pay_on(issued_on, due_on, 20, (5, 15, 31))

        assert expected >= due_on
        assert expected >= booking_on(issued_on, 20)


# Through the portfolio ----------------------------------------------------------------------


def calendar_ledger(
    book_closing_day: int | None, payment_run_days: tuple[int, ...]
) -> portfolio.PortfolioState:
    customer_id = ids.customer_id("C1")
    invoice_id = ids.invoice_id("INV-1")
    envelope = {"originator_id": customer_id, "timestamp": AT}
    return portfolio.fold_all(
        [
            CustomerAccountOpened(
                **envelope,
                originator_version=1,
                customer_code="C1",
                name="Acme",
                currency="USD",
                collection_owner="li",
                terms_kind=PaymentTermsKind.NET,
                terms_days=0,
                opened_on=date(2024, 1, 1),
            ),
            PaymentCalendarSet(
                **envelope,
                originator_version=2,
                book_closing_day=book_closing_day,
                payment_run_days=payment_run_days,
                set_on=date(2024, 1, 1),
            ),
            InvoiceIssued(
                originator_id=invoice_id,
                originator_version=1,
                timestamp=AT,
                invoice_number="INV-1",
                customer_id=customer_id,
                amount_minor=100,
                currency="USD",
                issued_on=date(2024, 3, 26),
                due_on=date(2024, 3, 26),
            ),
            InvoiceAddedToAccount(
                **envelope, originator_version=3, invoice_id=invoice_id, invoice_number="INV-1"
            ),
        ]
    )


@pytest.mark.parametrize(
    ("book_closing_day", "payment_run_days", "expected"),
    [
        (None, (), date(2024, 3, 26)),
        (25, (), date(2024, 4, 1)),
        (25, (10, 25), date(2024, 4, 10)),
        (None, (31,), date(2024, 3, 31)),
    ],
)
def test_the_portfolio_gives_each_invoice_its_expected_pay_date(
    book_closing_day: int | None, payment_run_days: tuple[int, ...], expected: date
) -> None:
    state = calendar_ledger(book_closing_day, payment_run_days)

    assert expected == state.expected_pay_on(ids.invoice_id("INV-1"))
