"""Ageing table (projections/ageing.py) and its policy (domain/policy.py).

Each test builds its history with the domain's decide functions (given commands), folds the
events into the ageing read model and reads the table as of a date. Days past due are
``as_of - due_on``; zero or less is current, so an invoice due today is not yet overdue.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from arledger.domain import credit_note as credit_note_module
from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain.errors import ConfigurationError, InvalidDateError
from arledger.domain.events import (
    CREDIT_NOTE_EVENTS,
    CUSTOMER_EVENTS,
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    Event,
    Instalment,
)
from arledger.domain.policy import AgeingBasis, AgeingPolicy
from arledger.projections.ageing import (
    AgeingGrouping,
    AgeingReport,
    AgeingRow,
    ageing_report,
    days_past_due,
    fold_all,
    top_overdue_customers,
)

INVOICE = AgeingGrouping.INVOICE
CUSTOMER = AgeingGrouping.CUSTOMER
OWNER = AgeingGrouping.OWNER
CURRENCY = AgeingGrouping.CURRENCY
PORTFOLIO = AgeingGrouping.PORTFOLIO

DEFAULT_LABELS = ("current", "1-30", "31-60", "61-90", "91-120", "over 120")
ISSUED_ON = date(2025, 1, 1)
DUE_ON = date(2025, 1, 31)
FAR_FUTURE = date(2099, 12, 31)


class Book:
    """A tiny ledger for tests: decides with the domain, evolves the states, keeps the log.

    Every command is recorded one second after the previous one, so ``known_at`` can cut the
    log between any two commands.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.states: dict[UUID, Any] = {}
        self.recorded_at = datetime(2026, 1, 1, tzinfo=UTC)

    # Given ------------------------------------------------------------------------------------

    def _tick(self) -> datetime:
        self.recorded_at += timedelta(seconds=1)
        return self.recorded_at

    def _record(self, events: Sequence[Event]) -> list[Event]:
        for event in events:
            if type(event) in INVOICE_EVENTS:
                evolve = invoice_module.evolve
            elif type(event) in PAYMENT_EVENTS:
                evolve = payment_module.evolve
            elif type(event) in CREDIT_NOTE_EVENTS:
                evolve = credit_note_module.evolve
            else:
                assert type(event) in CUSTOMER_EVENTS
                evolve = customer_module.evolve
            self.states[event.originator_id] = evolve(self.states.get(event.originator_id), event)
        self.events.extend(events)
        return list(events)

    def invoice(self, number: str) -> invoice_module.Invoice:
        state: invoice_module.Invoice = self.states[ids.invoice_id(number)]
        return state

    def payment(self, reference: str) -> payment_module.Payment:
        state: payment_module.Payment = self.states[ids.payment_id(reference)]
        return state

    def open_account(
        self, code: str, *, owner: str = "owner-a", currency: str = "USD", name: str = ""
    ) -> list[Event]:
        return self._record(
            customer_module.open_account(
                self.states.get(ids.customer_id(code)),
                customer_code=code,
                name=name or f"{code} Ltd",
                currency=currency,
                collection_owner=owner,
                opened_on=date(2024, 1, 1),
                recorded_at=self._tick(),
            )
        )

    def issue(
        self,
        number: str,
        code: str,
        amount_minor: int,
        *,
        issued_on: date = ISSUED_ON,
        due_on: date | None = DUE_ON,
        instalments: Sequence[Instalment] = (),
        currency: str = "USD",
    ) -> list[Event]:
        return self._record(
            invoice_module.issue_invoice(
                self.states.get(ids.invoice_id(number)),
                self.states.get(ids.customer_id(code)),
                invoice_number=number,
                customer_code=code,
                amount_minor=amount_minor,
                currency=currency,
                issued_on=issued_on,
                due_on=due_on,
                instalments=instalments,
                recorded_at=self._tick(),
            )
        )

    def pay(
        self,
        reference: str,
        code: str,
        amount_minor: int,
        *,
        value_on: date,
        allocations: Mapping[str, int] | None = None,
        currency: str = "USD",
    ) -> list[Event]:
        """Receive a payment and allocate it: explicitly, or oldest due date first."""
        recorded_at = self._tick()
        self._record(
            payment_module.receive_payment(
                self.states.get(ids.payment_id(reference)),
                self.states.get(ids.customer_id(code)),
                bank_reference=reference,
                payer_code=code,
                amount_minor=amount_minor,
                currency=currency,
                value_on=value_on,
                recorded_at=recorded_at,
            )
        )
        payment = self.payment(reference)
        if allocations is None:
            invoices = [
                self.states[invoice_id]
                for invoice_id in self.states[ids.customer_id(code)].invoice_ids
            ]
            targets = payment_module.plan_oldest_due_first(payment, invoices)
        else:
            targets = [(self.invoice(number), amount) for number, amount in allocations.items()]
        return self._record(
            payment_module.allocate_payment(payment, targets, recorded_at=recorded_at)
        )

    def reverse(self, reference: str, *, reversed_on: date) -> list[Event]:
        payment = self.payment(reference)
        return self._record(
            payment_module.reverse_payment(
                payment,
                [self.states[invoice_id] for invoice_id in payment.allocations],
                reversed_on=reversed_on,
                reason="cheque bounced",
                recorded_at=self._tick(),
            )
        )

    def credit(self, number: str, note: str, amount_minor: int, *, applied_on: date) -> None:
        invoice = self.invoice(number)
        self._record(
            invoice_module.apply_credit_note(
                invoice,
                self.states[invoice.customer_id],
                self.states.get(ids.credit_note_id(note)),
                credit_note_number=note,
                amount_minor=amount_minor,
                currency=invoice.currency,
                applied_on=applied_on,
                reason="damaged goods",
                recorded_at=self._tick(),
                approver="cfo",
            )
        )

    def concede(self, number: str, amount_minor: int, *, approved_on: date) -> None:
        self._record(
            invoice_module.approve_concession(
                self.invoice(number),
                amount_minor=amount_minor,
                approved_on=approved_on,
                reason="late delivery",
                approver="cfo",
                recorded_at=self._tick(),
            )
        )

    def write_off(self, number: str, *, written_off_on: date) -> None:
        self._record(
            invoice_module.write_off(
                self.invoice(number),
                written_off_on=written_off_on,
                reason="customer insolvent",
                approver="cfo",
                recorded_at=self._tick(),
            )
        )

    def reinstate(self, number: str, *, reinstated_on: date) -> None:
        self._record(
            invoice_module.reinstate(
                self.invoice(number),
                reinstated_on=reinstated_on,
                reason="administrator pays a dividend",
                approver="cfo",
                recorded_at=self._tick(),
            )
        )

    # When -------------------------------------------------------------------------------------

    def report(
        self,
        as_of: date,
        *,
        grouping: AgeingGrouping = INVOICE,
        policy: AgeingPolicy | None = None,
        known_at: datetime | None = None,
    ) -> AgeingReport:
        state = fold_all(self.events, known_at=known_at)
        return ageing_report(state, as_of, policy=policy, grouping=grouping)


def buckets(**by_label: int) -> tuple[int, ...]:
    """Bucket amounts of the default policy by label: buckets(current=5, d31_60=7)."""
    names = ("current", "d1_30", "d31_60", "d61_90", "d91_120", "over_120")
    assert set(by_label) <= set(names), by_label
    return tuple(by_label.get(name, 0) for name in names)


def table(report: AgeingReport) -> dict[tuple[str, str], tuple[int, ...]]:
    """The report as {(key, currency): bucket amounts}."""
    return {(row.key, row.currency): row.buckets_minor for row in report.rows}


def label_of(report: AgeingReport, row: AgeingRow) -> str:
    """The label of the one bucket that holds the row's money."""
    (index,) = [i for i, amount in enumerate(row.buckets_minor) if amount]
    return report.bucket_labels[index]


@pytest.fixture
def book() -> Book:
    given = Book()
    given.open_account("ACME", owner="alice")
    return given


# Policy ---------------------------------------------------------------------------------------


def test_default_policy_ages_by_due_date_into_six_buckets_from_current_to_over_120() -> None:
    policy = AgeingPolicy()

    assert (30, 60, 90, 120) == policy.edges_days
    assert AgeingBasis.DUE_DATE == policy.basis
    assert DEFAULT_LABELS == policy.bucket_labels


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-400, "current"),
        (-1, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "over 120"),
        (10_000, "over 120"),
    ],
)
def test_each_day_count_falls_in_exactly_one_default_bucket(days: int, expected: str) -> None:
    policy = AgeingPolicy()

    assert expected == policy.bucket_labels[policy.bucket_index(days)]


def test_configured_edges_make_their_own_buckets() -> None:
    policy = AgeingPolicy(edges_days=[7, 14])

    assert (7, 14) == policy.edges_days
    assert ("current", "1-7", "8-14", "over 14") == policy.bucket_labels
    assert [0, 1, 1, 2, 2, 3] == [policy.bucket_index(d) for d in (0, 1, 7, 8, 14, 15)]


def test_a_single_edge_splits_current_from_overdue() -> None:
    policy = AgeingPolicy(edges_days=(1,))

    assert ("current", "1-1", "over 1") == policy.bucket_labels
    assert [0, 1, 2] == [policy.bucket_index(d) for d in (0, 1, 2)]


@pytest.mark.parametrize(
    "edges",
    [(), (0,), (-1, 30), (30, 30), (60, 30), (30, 90, 60), (30.0,), ("30",), (True, 30)],
)
def test_invalid_bucket_edges_raise_configuration_error(edges: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        AgeingPolicy(edges_days=edges)

    assert tuple(edges) == raised.value.edges
    assert isinstance(raised.value, ValueError)


# Days past due and the boundary ---------------------------------------------------------------


def test_days_past_due_is_as_of_minus_the_due_date() -> None:
    assert 0 == days_past_due(DUE_ON, DUE_ON)
    assert 1 == days_past_due(DUE_ON + timedelta(days=1), DUE_ON)
    assert -3 == days_past_due(DUE_ON - timedelta(days=3), DUE_ON)


def test_an_invoice_due_today_is_current(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)

    report = book.report(DUE_ON)

    assert {("INV-1", "USD"): buckets(current=10_000)} == table(report)
    assert 0 == report.rows[0].overdue_minor


def test_an_invoice_due_yesterday_is_in_the_1_to_30_bucket(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)

    report = book.report(DUE_ON + timedelta(days=1))

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(report)
    assert 10_000 == report.rows[0].overdue_minor
    assert 1 == report.rows[0].days_past_due_max


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (-29, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "over 120"),
    ],
)
def test_an_invoice_is_aged_by_whole_days_past_its_due_date(
    book: Book, days: int, expected: str
) -> None:
    book.issue("INV-1", "ACME", 10_000)

    report = book.report(DUE_ON + timedelta(days=days))

    (row,) = report.rows
    assert expected == label_of(report, row)
    assert 10_000 == row.open_minor
    assert max(days, 0) == row.days_past_due_max


def test_configured_edges_are_used_by_the_report(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    policy = AgeingPolicy(edges_days=(10, 45))

    report = book.report(DUE_ON + timedelta(days=11), policy=policy)

    assert ("current", "1-10", "11-45", "over 45") == report.bucket_labels
    assert {("INV-1", "USD"): (0, 0, 10_000, 0)} == table(report)


def test_the_issue_date_basis_ages_from_the_issue_date_instead_of_the_due_date(
    book: Book,
) -> None:
    book.issue("INV-1", "ACME", 10_000, issued_on=date(2025, 1, 1), due_on=date(2025, 3, 2))
    as_of = date(2025, 2, 15)  # 45 days after issue, 15 days before due
    by_issue = AgeingPolicy(basis=AgeingBasis.ISSUE_DATE)

    by_due_date = book.report(as_of)
    by_issue_date = book.report(as_of, policy=by_issue)

    assert {("INV-1", "USD"): buckets(current=10_000)} == table(by_due_date)
    assert {("INV-1", "USD"): buckets(d31_60=10_000)} == table(by_issue_date)
    assert 45 == by_issue_date.rows[0].days_past_due_max


def test_with_the_issue_date_basis_an_invoice_issued_today_is_current(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    by_issue = AgeingPolicy(basis=AgeingBasis.ISSUE_DATE)

    assert {("INV-1", "USD"): buckets(current=10_000)} == table(
        book.report(ISSUED_ON, policy=by_issue)
    )
    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(
        book.report(ISSUED_ON + timedelta(days=1), policy=by_issue)
    )


# Groupings ------------------------------------------------------------------------------------


@pytest.fixture
def portfolio() -> Book:
    """Three customers, two owners, as of 2025-03-15 (due 2025-01-31 is 43 days past due)."""
    given = Book()
    given.open_account("ACME", owner="alice", name="Acme Trading")
    given.open_account("BOLT", owner="alice", name="Bolt Supplies")
    given.open_account("CRANE", owner="bob", name="Crane Logistics")
    given.issue("A-1", "ACME", 10_000)  # 43 days: 31-60
    given.issue("A-2", "ACME", 5_000, issued_on=date(2025, 3, 1), due_on=date(2025, 3, 31))
    given.issue("B-1", "BOLT", 7_000, issued_on=date(2024, 10, 1), due_on=date(2024, 10, 31))
    given.issue("C-1", "CRANE", 2_000, due_on=date(2025, 3, 14))  # 1 day: 1-30
    given.issue("C-2", "CRANE", 4_000)
    given.pay("PAY-C2", "CRANE", 4_000, value_on=date(2025, 2, 1), allocations={"C-2": 4_000})
    return given


AS_OF = date(2025, 3, 15)


def test_the_invoice_grouping_has_one_row_per_open_invoice(portfolio: Book) -> None:
    report = portfolio.report(AS_OF, grouping=INVOICE)

    assert {
        ("A-1", "USD"): buckets(d31_60=10_000),
        ("A-2", "USD"): buckets(current=5_000),
        ("B-1", "USD"): buckets(over_120=7_000),
        ("C-1", "USD"): buckets(d1_30=2_000),
    } == table(report)
    assert ["A-1", "A-2", "B-1", "C-1"] == [row.key for row in report.rows]


def test_the_customer_grouping_totals_each_customer_under_its_code_and_name(
    portfolio: Book,
) -> None:
    report = portfolio.report(AS_OF, grouping=CUSTOMER)

    assert {
        ("ACME", "USD"): buckets(current=5_000, d31_60=10_000),
        ("BOLT", "USD"): buckets(over_120=7_000),
        ("CRANE", "USD"): buckets(d1_30=2_000),
    } == table(report)
    assert ["Acme Trading", "Bolt Supplies", "Crane Logistics"] == [r.label for r in report.rows]
    assert [15_000, 7_000, 2_000] == [row.open_minor for row in report.rows]
    assert [10_000, 7_000, 2_000] == [row.overdue_minor for row in report.rows]
    assert [43, 135, 1] == [row.days_past_due_max for row in report.rows]


def test_the_owner_grouping_totals_the_customers_of_each_collection_owner(
    portfolio: Book,
) -> None:
    report = portfolio.report(AS_OF, grouping=OWNER)

    assert {
        ("alice", "USD"): buckets(current=5_000, d31_60=10_000, over_120=7_000),
        ("bob", "USD"): buckets(d1_30=2_000),
    } == table(report)


def test_the_currency_and_portfolio_groupings_total_everything_open(portfolio: Book) -> None:
    expected = buckets(current=5_000, d1_30=2_000, d31_60=10_000, over_120=7_000)

    assert {("USD", "USD"): expected} == table(portfolio.report(AS_OF, grouping=CURRENCY))
    assert {("portfolio", "USD"): expected} == table(portfolio.report(AS_OF, grouping=PORTFOLIO))


def test_the_portfolio_is_the_default_grouping(portfolio: Book) -> None:
    state = fold_all(portfolio.events)

    assert PORTFOLIO == ageing_report(state, AS_OF).grouping


def test_a_fully_settled_customer_has_no_row(portfolio: Book) -> None:
    portfolio.pay("PAY-B1", "BOLT", 7_000, value_on=date(2025, 3, 1), allocations={"B-1": 7_000})

    report = portfolio.report(AS_OF, grouping=CUSTOMER)

    assert ["ACME", "CRANE"] == [row.key for row in report.rows]


def test_amounts_in_different_currencies_are_never_added_together() -> None:
    # One currency per customer (an account takes nothing in another), several per owner.
    given = Book()
    given.open_account("ACME", owner="alice")
    given.open_account("BOLT", owner="alice", currency="EUR")
    given.open_account("CASK", owner="alice", currency="EUR")
    given.open_account("DOJO", owner="alice", currency="JPY")
    given.issue("A-USD", "ACME", 10_000)
    given.issue("C-EUR", "CASK", 3_000, currency="EUR")
    given.issue("D-JPY", "DOJO", 500, currency="JPY")
    given.issue("B-EUR", "BOLT", 4_000, currency="EUR")
    as_of = DUE_ON + timedelta(days=5)

    by_customer = given.report(as_of, grouping=CUSTOMER)
    by_owner = given.report(as_of, grouping=OWNER)
    by_portfolio = given.report(as_of, grouping=PORTFOLIO)
    by_currency = given.report(as_of, grouping=CURRENCY)

    assert {
        ("ACME", "USD"): buckets(d1_30=10_000),
        ("BOLT", "EUR"): buckets(d1_30=4_000),
        ("CASK", "EUR"): buckets(d1_30=3_000),
        ("DOJO", "JPY"): buckets(d1_30=500),
    } == table(by_customer)
    assert {
        ("alice", "EUR"): buckets(d1_30=7_000),
        ("alice", "JPY"): buckets(d1_30=500),
        ("alice", "USD"): buckets(d1_30=10_000),
    } == table(by_owner)
    assert {
        ("portfolio", "EUR"): buckets(d1_30=7_000),
        ("portfolio", "JPY"): buckets(d1_30=500),
        ("portfolio", "USD"): buckets(d1_30=10_000),
    } == table(by_portfolio)
    assert ["EUR", "JPY", "USD"] == [row.key for row in by_currency.rows]
    expected_totals = {
        "EUR": buckets(d1_30=7_000),
        "JPY": buckets(d1_30=500),
        "USD": buckets(d1_30=10_000),
    }
    for report in (by_customer, by_owner, by_portfolio, by_currency):
        assert expected_totals == report.totals_by_currency()


def test_top_overdue_customers_ranks_each_currency_on_its_own(portfolio: Book) -> None:
    portfolio.open_account("DELTA", owner="bob", currency="EUR")
    portfolio.issue("D-1", "DELTA", 1_000_000, currency="EUR")

    top = top_overdue_customers(fold_all(portfolio.events), AS_OF, limit=2)

    assert [("DELTA", "EUR"), ("ACME", "USD"), ("BOLT", "USD")] == [
        (row.key, row.currency) for row in top
    ]


# Instalments ----------------------------------------------------------------------------------


SCHEDULE = (
    Instalment(due_on=date(2025, 1, 31), amount_minor=10_000),
    Instalment(due_on=date(2025, 2, 28), amount_minor=10_000),
    Instalment(due_on=date(2025, 3, 31), amount_minor=10_000),
)
AS_OF_APRIL = date(2025, 4, 15)  # 74, 46 and 15 days past the three due dates


def test_instalments_age_by_their_own_due_dates(book: Book) -> None:
    book.issue("INV-1", "ACME", 30_000, due_on=None, instalments=SCHEDULE)

    report = book.report(AS_OF_APRIL)

    assert {("INV-1", "USD"): buckets(d1_30=10_000, d31_60=10_000, d61_90=10_000)} == table(report)
    assert 74 == report.rows[0].days_past_due_max


def test_instalments_not_yet_due_are_current(book: Book) -> None:
    book.issue("INV-1", "ACME", 30_000, due_on=None, instalments=SCHEDULE)

    report = book.report(date(2025, 2, 28))

    assert {("INV-1", "USD"): buckets(current=20_000, d1_30=10_000)} == table(report)


def test_a_partial_payment_settles_the_oldest_instalment_first(book: Book) -> None:
    book.issue("INV-1", "ACME", 30_000, due_on=None, instalments=SCHEDULE)
    book.pay("PAY-1", "ACME", 15_000, value_on=date(2025, 2, 10), allocations={"INV-1": 15_000})

    report = book.report(AS_OF_APRIL)

    assert {("INV-1", "USD"): buckets(d1_30=10_000, d31_60=5_000)} == table(report)
    assert 46 == report.rows[0].days_past_due_max


def test_with_the_issue_date_basis_every_instalment_ages_from_the_issue_date(book: Book) -> None:
    book.issue("INV-1", "ACME", 30_000, due_on=None, instalments=SCHEDULE)
    by_issue = AgeingPolicy(basis=AgeingBasis.ISSUE_DATE)

    report = book.report(AS_OF_APRIL, policy=by_issue)  # 104 days after issue

    assert {("INV-1", "USD"): buckets(d91_120=30_000)} == table(report)


def test_a_payment_spread_oldest_due_first_leaves_the_latest_invoice_open(book: Book) -> None:
    book.issue("OLD", "ACME", 6_000, due_on=date(2025, 1, 10))
    book.issue("NEW", "ACME", 6_000, due_on=date(2025, 2, 20))
    book.pay("PAY-1", "ACME", 8_000, value_on=date(2025, 2, 1))

    report = book.report(date(2025, 3, 1))

    assert {("NEW", "USD"): buckets(d1_30=4_000)} == table(report)


# What counts as of a date ---------------------------------------------------------------------


def test_an_invoice_issued_after_as_of_is_absent(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000, issued_on=date(2025, 2, 1), due_on=date(2025, 3, 1))

    assert () == book.report(date(2025, 1, 31)).rows
    assert {("INV-1", "USD"): buckets(current=10_000)} == table(book.report(date(2025, 2, 1)))


def test_a_payment_dated_after_as_of_does_not_count_yet(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 4_000, value_on=date(2025, 2, 20), allocations={"INV-1": 4_000})

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(date(2025, 2, 19)))
    assert {("INV-1", "USD"): buckets(d1_30=6_000)} == table(book.report(date(2025, 2, 20)))


def test_a_full_payment_removes_the_invoice_from_its_value_date(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 2, 20), allocations={"INV-1": 10_000})

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(date(2025, 2, 19)))
    assert () == book.report(date(2025, 2, 20)).rows


def test_a_credit_note_dated_after_as_of_does_not_count_yet(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.credit("INV-1", "CN-1", 2_500, applied_on=date(2025, 2, 5))

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(date(2025, 2, 4)))
    assert {("INV-1", "USD"): buckets(d1_30=7_500)} == table(book.report(date(2025, 2, 5)))


def test_an_approved_concession_reduces_the_open_amount_from_its_date(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.concede("INV-1", 1_000, approved_on=date(2025, 2, 5))

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(date(2025, 2, 4)))
    assert {("INV-1", "USD"): buckets(d1_30=9_000)} == table(book.report(date(2025, 2, 5)))


def test_a_reversal_dated_after_as_of_does_not_reopen_the_invoice_yet(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 1, 20), allocations={"INV-1": 10_000})
    book.reverse("PAY-1", reversed_on=date(2025, 2, 10))

    assert () == book.report(date(2025, 2, 9)).rows


def test_a_reversal_dated_on_or_before_as_of_reopens_the_invoice_at_its_original_age(
    book: Book,
) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 1, 20), allocations={"INV-1": 10_000})
    book.reverse("PAY-1", reversed_on=date(2025, 2, 10))

    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(date(2025, 2, 10)))
    assert {("INV-1", "USD"): buckets(d31_60=10_000)} == table(book.report(date(2025, 3, 5)))


def test_a_reversal_reopens_only_what_the_bounced_payment_settled(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 3_000, value_on=date(2025, 1, 10), allocations={"INV-1": 3_000})
    book.pay("PAY-2", "ACME", 7_000, value_on=date(2025, 1, 20), allocations={"INV-1": 7_000})
    book.reverse("PAY-1", reversed_on=date(2025, 2, 10))

    assert () == book.report(date(2025, 2, 9)).rows
    assert {("INV-1", "USD"): buckets(d1_30=3_000)} == table(book.report(date(2025, 2, 10)))


def test_a_written_off_invoice_leaves_the_ageing_from_its_write_off_date(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 4_000, value_on=date(2025, 2, 1), allocations={"INV-1": 4_000})
    book.write_off("INV-1", written_off_on=date(2025, 6, 30))

    assert {("INV-1", "USD"): buckets(over_120=6_000)} == table(book.report(date(2025, 6, 29)))
    assert () == book.report(date(2025, 6, 30)).rows
    assert () == book.report(FAR_FUTURE).rows


def test_a_reinstated_invoice_is_aged_again_from_its_reinstatement_date(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.write_off("INV-1", written_off_on=date(2025, 2, 15))
    book.reinstate("INV-1", reinstated_on=date(2025, 4, 1))

    assert () == book.report(date(2025, 3, 31)).rows
    # Reinstated money is as old as its due date, not as old as the reinstatement.
    assert {("INV-1", "USD"): buckets(d31_60=10_000)} == table(book.report(date(2025, 4, 1)))


def test_money_a_bounce_reopens_after_a_write_off_is_aged_from_its_due_date(book: Book) -> None:
    # The write-off of 30 June covered the 6,000 open then; the 4,000 payment bounces on
    # 15 July, so that money was never received and is owed again, as old as the invoice.
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 4_000, value_on=date(2025, 2, 1), allocations={"INV-1": 4_000})
    book.write_off("INV-1", written_off_on=date(2025, 6, 30))
    book.reverse("PAY-1", reversed_on=date(2025, 7, 15))

    assert () == book.report(date(2025, 7, 14)).rows
    assert {("INV-1", "USD"): buckets(over_120=4_000)} == table(book.report(date(2025, 7, 15)))

    book.pay("PAY-2", "ACME", 4_000, value_on=date(2025, 8, 1))  # oldest due first

    assert () == book.report(date(2025, 8, 1)).rows
    assert {("INV-1", "USD"): buckets(over_120=4_000)} == table(book.report(date(2025, 7, 31)))


def test_a_write_off_cannot_be_dated_before_an_earlier_payment_on_the_invoice(
    book: Book,
) -> None:
    # Regression: the write-off takes the amount open after the payment of 2025-03-10. Dated
    # 2025-03-05, it would leave the written-off invoice 60.00 open in the ageing on 03-05..03-09.
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 4_000, value_on=date(2025, 3, 10), allocations={"INV-1": 4_000})

    with pytest.raises(InvalidDateError) as raised:
        book.write_off("INV-1", written_off_on=date(2025, 3, 5))

    assert date(2025, 3, 10) == raised.value.floor_on


# Reconciliation -------------------------------------------------------------------------------


@pytest.fixture
def busy() -> Book:
    """Every kind of movement on two currencies, settled between January and July 2025."""
    given = Book()
    given.open_account("ACME", owner="alice")
    given.open_account("BOLT", owner="bob", currency="EUR")
    given.issue("A-1", "ACME", 12_345)
    given.issue("A-2", "ACME", 30_000, due_on=None, instalments=SCHEDULE)
    given.issue("A-3", "ACME", 9_999, issued_on=date(2025, 3, 1), due_on=date(2025, 4, 30))
    given.issue("B-1", "BOLT", 50_000, currency="EUR")
    given.issue("B-2", "BOLT", 8_000, currency="EUR", due_on=date(2025, 5, 1))
    given.pay("PAY-A", "ACME", 20_000, value_on=date(2025, 2, 10))
    given.pay("PAY-B", "BOLT", 10_000, value_on=date(2025, 3, 1), currency="EUR")
    given.credit("A-3", "CN-1", 999, applied_on=date(2025, 3, 20))
    given.concede("B-2", 500, approved_on=date(2025, 5, 15))
    given.reverse("PAY-B", reversed_on=date(2025, 4, 10))
    given.write_off("B-1", written_off_on=date(2025, 6, 1))
    given.reinstate("B-1", reinstated_on=date(2025, 7, 1))
    return given


MONTH_ENDS_2025 = [date(2025, month + 1, 1) - timedelta(days=1) for month in range(1, 12)]


@pytest.mark.parametrize("grouping", list(AgeingGrouping))
def test_bucket_totals_equal_the_open_amounts_in_every_grouping(
    busy: Book, grouping: AgeingGrouping
) -> None:
    state = fold_all(busy.events)
    for as_of in MONTH_ENDS_2025:
        report = ageing_report(state, as_of, grouping=grouping)
        open_by_currency: dict[str, int] = {}
        for invoice in state.invoices.values():
            open_minor = invoice.open_minor_on(as_of)
            open_by_currency[invoice.currency] = (
                open_by_currency.get(invoice.currency, 0) + open_minor
            )
        for row in report.rows:
            assert row.open_minor == sum(row.buckets_minor)
            assert row.open_minor > 0
        expected = {currency: total for currency, total in open_by_currency.items() if total}
        actual = {currency: sum(t) for currency, t in report.totals_by_currency().items()}
        assert expected == actual


def test_the_ageing_agrees_with_the_invoice_aggregates_once_every_movement_is_dated(
    busy: Book,
) -> None:
    invoices = [busy.invoice(n) for n in ("A-1", "A-2", "A-3", "B-1", "B-2")]
    expected = {(i.invoice_number, i.currency): i.open_minor for i in invoices if i.open_minor}

    report = busy.report(FAR_FUTURE)

    assert expected == {(row.key, row.currency): row.open_minor for row in report.rows}


# Known at (bitemporal) ------------------------------------------------------------------------


def test_events_recorded_after_known_at_are_ignored(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    issued_at = book.recorded_at
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 1, 20), allocations={"INV-1": 10_000})
    as_of = date(2025, 2, 15)

    assert () == book.report(as_of).rows
    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(
        book.report(as_of, known_at=issued_at)
    )


def test_an_event_recorded_exactly_at_known_at_counts(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 1, 20), allocations={"INV-1": 10_000})
    paid_at = book.recorded_at

    assert () == book.report(date(2025, 2, 15), known_at=paid_at).rows
    assert 1 == len(book.report(date(2025, 2, 15), known_at=paid_at - timedelta(seconds=1)).rows)


def test_an_invoice_recorded_after_known_at_is_absent(book: Book) -> None:
    known_at = book.recorded_at
    book.issue("INV-1", "ACME", 10_000)

    assert () == book.report(date(2025, 2, 15), known_at=known_at).rows


def test_a_back_dated_reversal_recorded_after_known_at_is_not_yet_known(book: Book) -> None:
    book.issue("INV-1", "ACME", 10_000)
    book.pay("PAY-1", "ACME", 10_000, value_on=date(2025, 1, 20), allocations={"INV-1": 10_000})
    known_at = book.recorded_at
    book.reverse("PAY-1", reversed_on=date(2025, 2, 1))
    as_of = date(2025, 2, 15)

    assert () == book.report(as_of, known_at=known_at).rows
    assert {("INV-1", "USD"): buckets(d1_30=10_000)} == table(book.report(as_of))


def test_the_ledger_ages_its_own_log_as_of_a_date_and_as_known_at_an_instant() -> None:
    from arledger import Ledger, Money
    from tests.conftest import FixedClock

    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="alice", opened_on=ISSUED_ON
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money(10_000, "USD"),
        issued_on=ISSUED_ON,
        due_on=DUE_ON,
    )
    known_at = ledger.clock()
    ledger.receive_payment(
        "PAY-1", payer_code="ACME", amount=Money(10_000, "USD"), value_on=date(2025, 2, 1)
    )
    ledger.allocate_payment("PAY-1", {"INV-1": Money(10_000, "USD")})

    before = ledger.ageing(date(2025, 1, 31), grouping=CUSTOMER)
    after = ledger.ageing(date(2025, 2, 1), grouping=CUSTOMER)
    as_known = ledger.ageing(date(2025, 2, 1), grouping=CUSTOMER, known_at=known_at)

    assert {("ACME", "USD"): buckets(current=10_000)} == table(before)
    assert () == after.rows
    assert {("ACME", "USD"): buckets(d1_30=10_000)} == table(as_known)


# The ageing policy in force (issue 9.7) -------------------------------------------------------

SHORT_EDGES = AgeingPolicy(edges_days=(15, 45))


def _ledger_with_an_invoice_and_short_edges_from(effective_on: date) -> Any:
    """Given: ACME owes 10,000 due 2025-01-31; version 2, edges (15, 45), from ``effective_on``."""
    from arledger import Ledger, Money
    from arledger.domain.policy import EscalationPolicy
    from tests.conftest import FixedClock

    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="alice", opened_on=ISSUED_ON
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money(10_000, "USD"),
        issued_on=ISSUED_ON,
        due_on=DUE_ON,
    )
    ledger.adopt_policy(
        policy=EscalationPolicy(
            version=2, ageing=SHORT_EDGES, provision_rates_bps=(50, 500, 2500, 10000)
        ),
        effective_on=effective_on,
        approver="cfo",
        reason="shorter buckets",
    )
    return ledger


def test_the_ledger_ages_with_the_buckets_of_the_version_in_force_on_the_as_of_date() -> None:
    ledger = _ledger_with_an_invoice_and_short_edges_from(date(2025, 3, 1))

    before = ledger.ageing(date(2025, 2, 20))  # 20 days past due, version 1 in force
    after = ledger.ageing(date(2025, 3, 10))  # 38 days past due, version 2 in force

    assert DEFAULT_LABELS == before.bucket_labels
    assert "1-30" == label_of(before, before.rows[0])
    assert ("current", "1-15", "16-45", "over 45") == after.bucket_labels
    assert "16-45" == label_of(after, after.rows[0])
    kpis = ledger.kpis(date(2025, 3, 1), date(2025, 3, 10))
    assert kpis.bucket_labels == after.bucket_labels


def test_a_policy_adopted_after_known_at_does_not_age_the_audit_view() -> None:
    ledger = _ledger_with_an_invoice_and_short_edges_from(date(2025, 3, 1))
    adopted_at = max(event.timestamp for event in ledger.iter_events())

    audit = ledger.ageing(date(2025, 3, 10), known_at=adopted_at - timedelta(seconds=1))
    now = ledger.ageing(date(2025, 3, 10), known_at=adopted_at)

    assert DEFAULT_LABELS == audit.bucket_labels
    assert SHORT_EDGES.bucket_labels == now.bucket_labels


def test_an_explicit_policy_still_wins_over_the_one_in_force() -> None:
    ledger = _ledger_with_an_invoice_and_short_edges_from(date(2025, 1, 1))

    report = ledger.ageing(date(2025, 3, 10), policy=AgeingPolicy())

    assert DEFAULT_LABELS == report.bucket_labels


def test_the_portfolio_ageing_query_takes_the_policy_in_force_and_one_off_edges() -> None:
    from arledger.projections import portfolio

    ledger = _ledger_with_an_invoice_and_short_edges_from(date(2025, 3, 1))
    state = portfolio.fold_all(ledger.iter_events())

    in_force = portfolio.ageing_report(state, date(2025, 3, 10))
    one_off = portfolio.ageing_report(state, date(2025, 3, 10), edges_days=(30, 60, 90))

    assert SHORT_EDGES.bucket_labels == in_force.bucket_labels
    assert ("current", "1-30", "31-60", "61-90", "over 90") == one_off.bucket_labels
    assert "31-60" == label_of(one_off, one_off.rows[0])
