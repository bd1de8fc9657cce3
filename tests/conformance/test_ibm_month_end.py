"""Month-end ageing of the IBM late-payment histories against an independent computation.

The sample file (2,466 invoices of 100 customers, 2012-2013, all settled by early 2014) is
booked into an in-memory ledger through the domain commands: an account per customer, each
invoice with its own due date, and one payment per invoice, value-dated on its settlement date
and allocated explicitly to it. The oracle below reads the same CSV rows with nothing but the
standard library: an invoice is open at the end of ``as_of`` when it was issued on or before
``as_of`` and settled after it; it is ``as_of - DueDate`` days past due, and zero or less is
current. Both sides must agree on every bucket, per customer and for the portfolio, at every
month end of 2012 and 2013.

Reading the ageing through ``Ledger.ageing`` deserialises the whole log on every call (about half
a second here), so the full sweep of 24 month ends folds the ledger's log once, exactly as
``Ledger.ageing`` does, and a sample of month ends goes through ``Ledger.ageing`` itself.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arledger import AgeingGrouping, AgeingPolicy, Ledger, Money
from arledger.projections.ageing import AgeingReport, AgeingState, ageing_report, fold_all
from tests.conftest import FixedClock

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "ibm-late-payment-histories.csv"

CUSTOMER = AgeingGrouping.CUSTOMER
PORTFOLIO = AgeingGrouping.PORTFOLIO
EDGES_DAYS = (30, 60, 90, 120)  # the default policy, restated here on purpose
# No invoice of the sample is settled more than 45 days late, so the default edges leave the
# buckets past 60 days empty; these narrower edges make every bucket hold money.
EDGES_DAYS_NARROW = (5, 10, 20, 40)
SAMPLED_MONTH_ENDS = (date(2012, 3, 31), date(2012, 12, 31), date(2013, 6, 30))


def month_ends(first: date, last: date) -> Iterator[date]:
    year, month = first.year, first.month
    while True:
        following = date(year + month // 12, month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end > last:
            return
        yield end
        year, month = following.year, following.month


MONTH_ENDS = tuple(month_ends(date(2012, 1, 31), date(2013, 12, 31)))


def parse_day(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


def cents(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with SAMPLE.open(newline="") as sample:
        return list(csv.DictReader(sample))


# The oracle -----------------------------------------------------------------------------------


def oracle_bucket(days: int, edges: tuple[int, ...]) -> int:
    if days <= 0:
        return 0
    for index, edge in enumerate(edges, start=1):
        if days <= edge:
            return index
    return len(edges) + 1


def oracle_ageing(
    rows: list[dict[str, str]], as_of: date, edges: tuple[int, ...] = EDGES_DAYS
) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """(buckets per customer with something open, portfolio buckets), in cents."""
    width = len(edges) + 2
    per_customer: dict[str, list[int]] = {}
    portfolio = [0] * width
    for row in rows:
        if not parse_day(row["InvoiceDate"]) <= as_of < parse_day(row["SettledDate"]):
            continue
        index = oracle_bucket((as_of - parse_day(row["DueDate"])).days, edges)
        amount = cents(row["InvoiceAmount"])
        per_customer.setdefault(row["customerID"], [0] * width)[index] += amount
        portfolio[index] += amount
    return {code: tuple(b) for code, b in per_customer.items()}, tuple(portfolio)


# The ledger -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger(rows: list[dict[str, str]]) -> Ledger:
    """The sample booked through the domain commands in one session and one transaction."""
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    opened_on: dict[str, date] = {}
    for row in rows:
        issued_on = parse_day(row["InvoiceDate"])
        code = row["customerID"]
        opened_on[code] = min(issued_on, opened_on.get(code, issued_on))
    session = ledger.session()
    for code in sorted(opened_on):
        session.open_account(
            customer_code=code,
            name=code,
            currency="USD",
            collection_owner="unassigned",
            opened_on=opened_on[code],
        )
    for row in rows:
        number = row["invoiceNumber"]
        amount = Money.parse(row["InvoiceAmount"], "USD")
        session.issue_invoice(
            invoice_number=number,
            customer_code=row["customerID"],
            amount=amount,
            issued_on=parse_day(row["InvoiceDate"]),
            due_on=parse_day(row["DueDate"]),
        )
        reference = f"SETTLE-{number}"
        session.receive_payment(
            bank_reference=reference,
            payer_code=row["customerID"],
            amount=amount,
            value_on=parse_day(row["SettledDate"]),
        )
        session.allocate_payment(bank_reference=reference, allocations={number: amount})
    session.commit()
    return ledger


@pytest.fixture(scope="module")
def folded(ledger: Ledger) -> AgeingState:
    """The ageing fold over the ledger's whole log, read back from the store once."""
    return fold_all(ledger.iter_events())


def as_table(report: AgeingReport) -> dict[str, tuple[int, ...]]:
    assert {"USD"} >= {row.currency for row in report.rows}
    for row in report.rows:
        assert row.open_minor == sum(row.buckets_minor)
    return {row.key: row.buckets_minor for row in report.rows}


# The comparison -------------------------------------------------------------------------------


def test_the_sample_is_booked_in_full(rows: list[dict[str, str]], ledger: Ledger) -> None:
    assert 2_466 == len(rows)
    assert 100 == len({row["customerID"] for row in rows})
    # Per invoice: issued, added to the account, received, allocated, applied.
    assert 100 + 5 * 2_466 == sum(1 for _ in ledger.iter_events())


def test_the_month_ends_run_from_january_2012_to_december_2013() -> None:
    assert 24 == len(MONTH_ENDS)
    assert date(2012, 1, 31) == MONTH_ENDS[0]
    assert date(2012, 2, 29) == MONTH_ENDS[1]
    assert date(2013, 12, 31) == MONTH_ENDS[-1]


@pytest.mark.parametrize("as_of", MONTH_ENDS, ids=str)
def test_month_end_ageing_per_customer_and_portfolio_matches_the_oracle(
    rows: list[dict[str, str]], folded: AgeingState, as_of: date
) -> None:
    expected_customers, expected_portfolio = oracle_ageing(rows, as_of)

    by_customer = ageing_report(folded, as_of, grouping=CUSTOMER)
    portfolio = ageing_report(folded, as_of, grouping=PORTFOLIO)

    assert expected_customers == as_table(by_customer)
    assert {"portfolio": expected_portfolio} == as_table(portfolio)


@pytest.mark.parametrize("as_of", MONTH_ENDS, ids=str)
def test_month_end_ageing_with_narrow_edges_matches_the_oracle(
    rows: list[dict[str, str]], folded: AgeingState, as_of: date
) -> None:
    expected_customers, expected_portfolio = oracle_ageing(rows, as_of, EDGES_DAYS_NARROW)
    policy = AgeingPolicy(edges_days=EDGES_DAYS_NARROW)

    by_customer = ageing_report(folded, as_of, grouping=CUSTOMER, policy=policy)
    portfolio = ageing_report(folded, as_of, grouping=PORTFOLIO, policy=policy)

    assert expected_customers == as_table(by_customer)
    assert {"portfolio": expected_portfolio} == as_table(portfolio)


@pytest.mark.parametrize("as_of", SAMPLED_MONTH_ENDS, ids=str)
def test_the_ledgers_own_ageing_query_matches_the_oracle(
    rows: list[dict[str, str]], ledger: Ledger, as_of: date
) -> None:
    expected_customers, expected_portfolio = oracle_ageing(rows, as_of)

    by_customer = ledger.ageing(as_of, grouping=CUSTOMER)
    portfolio = ledger.ageing(as_of, grouping=PORTFOLIO)

    assert expected_customers == as_table(by_customer)
    assert {"portfolio": expected_portfolio} == as_table(portfolio)


def test_the_month_ends_exercise_several_buckets(rows: list[dict[str, str]]) -> None:
    # Guards the comparisons against passing vacuously. With the default edges the sample fills
    # current, 1-30 and 31-60 (at two month ends); with the narrow edges it fills every bucket.
    default = [oracle_ageing(rows, as_of) for as_of in MONTH_ENDS]
    narrow = [oracle_ageing(rows, as_of, EDGES_DAYS_NARROW)[1] for as_of in MONTH_ENDS]
    filled_default = [sum(1 for _, p in default if p[index]) for index in range(6)]
    filled_narrow = [sum(1 for p in narrow if p[index]) for index in range(6)]

    assert [24, 23, 2, 0, 0, 0] == filled_default
    assert all(count > 0 for count in filled_narrow)
    assert min(len(customers) for customers, _ in default) >= 10
    assert max(len(customers) for customers, _ in default) >= 60
