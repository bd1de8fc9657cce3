"""Collection KPIs (projections/kpis.py): DSO, countback DSO, best possible DSO, ADD, both CEI
variants, collection rate, promise-kept rates and expected credit loss, by hand.

The ledger below runs in memory with a fixed clock. The first quarter of 2025 (90 days, so the
CEI's average month is a third of the quarter's sales) is the main period. Figures in the
comments are major units.

USD, owner li (ACME; zhao from 15 March) and wang (BETA); CNY, owner li (CNCO):
- A-1 ACME 10,000.00 issued 2024-12-01 due 2024-12-31; 6,000.00 paid on 2025-01-20.
- A-2 ACME  2,000.00 issued 2025-01-10 due 2025-02-09;   500.00 paid on 2025-03-20.
- A-3 ACME  3,000.00 issued 2025-03-15 due 2025-04-14.
- B-1 BETA  4,000.00 issued 2025-02-01 due 2025-03-03; 1,000.00 paid on 2025-03-22.
- C-1 CNCO 50,000.00 CNY issued 2025-02-15 due 2025-03-17.
Promises: ACME 500.00 for A-2 by 2025-03-18 (kept on 03-20, within 3 tolerance days); BETA
2,000.00 by 2025-03-20 on any invoice (1,000.00 paid by the deadline 03-23: partly kept); ACME
100.00 by 2025-04-10 (broken, its deadline is in April).
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence.serialization import make_converter
from arledger.domain.errors import (
    ConfigurationError,
    GroupingTypeError,
    InvalidAmountError,
    InvalidDateError,
)
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy, LossRate
from arledger.projections.kpis import (
    KpiGrouping,
    KpiReport,
    KpiRow,
    calendar_months_back,
    countback_dso,
    kpi_report,
    kpis_as_of,
    trailing_period,
)
from tests.conftest import FixedClock

Q1_START = date(2025, 1, 1)
Q1_END = date(2025, 3, 31)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def minor(text: str) -> int:
    """Minor units of a 2-decimal amount written in major units."""
    return Money.parse(text, "USD").amount_minor


def memory_ledger() -> Ledger:
    return Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    ledger = memory_ledger()
    for code, name, currency, owner in (
        ("ACME", "Acme Trading", "USD", "li"),
        ("BETA", "Beta Distribution", "USD", "wang"),
        ("CNCO", "China Co", "CNY", "li"),
    ):
        ledger.open_account(
            code,
            name=name,
            currency=currency,
            collection_owner=owner,
            opened_on=date(2024, 11, 1),
        )
    for number, code, amount, issued_on, due_on in (
        ("A-1", "ACME", usd("10000.00"), date(2024, 12, 1), date(2024, 12, 31)),
        ("A-2", "ACME", usd("2000.00"), date(2025, 1, 10), date(2025, 2, 9)),
        ("A-3", "ACME", usd("3000.00"), date(2025, 3, 15), date(2025, 4, 14)),
        ("B-1", "BETA", usd("4000.00"), date(2025, 2, 1), date(2025, 3, 3)),
        ("C-1", "CNCO", Money.parse("50000.00", "CNY"), date(2025, 2, 15), date(2025, 3, 17)),
    ):
        ledger.issue_invoice(
            number, customer_code=code, amount=amount, issued_on=issued_on, due_on=due_on
        )
    ledger.make_promise(
        customer_code="ACME",
        promise_reference="PR-1",
        amount=usd("500.00"),
        promised_on=date(2025, 3, 18),
        made_on=date(2025, 3, 10),
        contact="Ms Zhou",
        invoice_numbers=["A-2"],
    )
    ledger.make_promise(
        customer_code="BETA",
        promise_reference="PR-2",
        amount=usd("2000.00"),
        promised_on=date(2025, 3, 20),
        made_on=date(2025, 3, 15),
        contact="Mr Qian",
    )
    ledger.make_promise(
        customer_code="ACME",
        promise_reference="PR-3",
        amount=usd("100.00"),
        promised_on=date(2025, 4, 10),
        made_on=date(2025, 3, 25),
        contact="Ms Zhou",
    )
    for reference, code, amount, value_on, invoice in (
        ("P-1", "ACME", "6000.00", date(2025, 1, 20), "A-1"),
        ("P-2", "ACME", "500.00", date(2025, 3, 20), "A-2"),
        ("P-3", "BETA", "1000.00", date(2025, 3, 22), "B-1"),
    ):
        ledger.receive_payment(reference, payer_code=code, amount=usd(amount), value_on=value_on)
        ledger.allocate_payment(reference, {invoice: usd(amount)})
    ledger.change_owner(customer_code="ACME", collection_owner="zhao", changed_on=date(2025, 3, 15))
    return ledger


def row_of(report: KpiReport, key: str, currency: str) -> KpiRow:
    [row] = [row for row in report.rows if (row.key, row.currency) == (key, currency)]
    return row


# Countback DSO ---------------------------------------------------------------------------------


def test_worked_countback_example_gives_73_point_7_days() -> None:
    # 212,000 - 100,000 - 80,000 leaves 32,000 of the third month's 70,000: 30 + 30 + 13.7.
    monthly = [(minor("100000"), 30), (minor("80000"), 30), (minor("70000"), 30)]

    assert Decimal("73.7") == countback_dso(minor("212000"), monthly)


def test_countback_within_the_newest_month_is_a_fraction_of_it() -> None:
    assert Decimal("15.0") == countback_dso(50_000, [(100_000, 30), (80_000, 30)])


def test_countback_counts_a_month_without_sales_as_whole_days() -> None:
    assert Decimal("52.0") == countback_dso(300_000, [(0, 31), (400_000, 28)])


def test_countback_of_no_receivables_is_zero_days() -> None:
    assert Decimal("0.0") == countback_dso(0, [])


def test_countback_is_none_when_the_sales_run_out_before_the_receivables() -> None:
    assert countback_dso(300_000, [(100_000, 30), (100_000, 30)]) is None


def test_countback_refuses_negative_receivables() -> None:
    with pytest.raises(InvalidAmountError):
        countback_dso(-1, [(100, 30)])


def test_calendar_months_back_start_with_the_month_cut_at_the_end_date() -> None:
    expected = [
        (date(2025, 3, 1), date(2025, 3, 15)),
        (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 1, 1), date(2025, 1, 31)),
    ]

    assert expected == calendar_months_back(date(2025, 3, 15), date(2025, 1, 20))


# Periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "months", "expected"),
    [
        (date(2025, 3, 31), 3, (date(2025, 1, 1), date(2025, 3, 31))),
        (date(2025, 2, 28), 1, (date(2025, 2, 1), date(2025, 2, 28))),
        (date(2025, 3, 15), 1, (date(2025, 2, 16), date(2025, 3, 15))),
        (date(2025, 3, 30), 1, (date(2025, 3, 1), date(2025, 3, 30))),
        (date(2024, 3, 15), 12, (date(2023, 3, 16), date(2024, 3, 15))),
    ],
)
def test_trailing_period_ends_on_the_as_of_date(
    as_of: date, months: int, expected: tuple[date, date]
) -> None:
    assert expected == trailing_period(as_of, months)


def test_trailing_period_needs_at_least_one_month() -> None:
    with pytest.raises(ConfigurationError):
        trailing_period(date(2025, 3, 31), 0)


def test_a_period_ending_before_it_starts_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidDateError):
        ledger.kpis(Q1_END, Q1_START)


def test_a_grouping_given_as_text_is_refused_with_a_typed_error(ledger: Ledger) -> None:
    with pytest.raises(GroupingTypeError) as refused:
        ledger.kpis(Q1_START, Q1_END, grouping="owner")  # type: ignore[arg-type]

    assert "owner" == refused.value.grouping
    assert "KpiGrouping" == refused.value.expected
    assert isinstance(refused.value, TypeError)


def test_an_unknown_grouping_text_is_refused_by_the_projection(ledger: Ledger) -> None:
    with pytest.raises(ConfigurationError):
        kpi_report(ledger.portfolio(), Q1_START, Q1_END, grouping="region")


# The quarter, per portfolio ---------------------------------------------------------------------


def test_portfolio_rows_are_one_per_currency(ledger: Ledger) -> None:
    report = ledger.kpis(Q1_START, Q1_END)

    assert KpiGrouping.PORTFOLIO == report.grouping
    assert 90 == report.days
    assert [("portfolio", "CNY"), ("portfolio", "USD")] == [
        (row.key, row.currency) for row in report.rows
    ]


def test_portfolio_amounts_of_the_quarter(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    # B = A-1 open on 31 Dec; S = A-2 + A-3 + B-1; cash = 6,000 + 500 + 1,000;
    # E = 4,000 + 1,500 + 3,000 + 3,000 = B + S - cash; C = A-3, due 14 April.
    assert minor("10000.00") == row.receivables_minor_beginning
    assert minor("9000.00") == row.credit_sales_minor
    assert minor("7500.00") == row.cash_collected_minor
    assert minor("11500.00") == row.receivables_minor_ending
    assert minor("3000.00") == row.receivables_minor_current
    assert minor("8500.00") == row.receivables_minor_overdue


def test_portfolio_dso_best_possible_dso_and_average_days_delinquent(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    assert Decimal("115.0") == row.dso_days  # 11,500 / 9,000 x 90
    assert Decimal("30.0") == row.dso_days_best_possible  # 3,000 / 9,000 x 90
    assert Decimal("85.0") == row.days_delinquent_average


def test_portfolio_countback_dso_walks_back_calendar_months(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    # 11,500 - March 3,000 (31 days) - February 4,000 (28) - January 2,000 (31) leaves
    # 2,500 of December's 10,000: 90 + 7.75 = 97.75, to 97.8 half-even.
    assert Decimal("97.8") == row.dso_days_countback


def test_portfolio_cei_in_both_published_variants(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    # (10,000 + 9,000 - 11,500) / (10,000 + 9,000 - 3,000) = 7,500 / 16,000 = 46.875 %.
    assert Decimal("46.88") == row.cei_total_sales
    # Average month 9,000 / 3: (10,000 + 3,000 - 11,500) / (10,000 + 3,000 - 3,000) = 15 %.
    assert Decimal("15.00") == row.cei_monthly_average


def test_portfolio_collection_rate_is_cash_over_beginning_ar_and_sales(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    assert Decimal("39.47") == row.collection_rate  # 7,500 / 19,000


def test_portfolio_promise_rates_count_promises_judged_with_deadline_in_period(
    ledger: Ledger,
) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "USD")

    # PR-1 kept, PR-2 partly kept (1,000 of 2,000); PR-3's deadline is in April.
    assert (2, 1) == (row.promises_judged, row.promises_kept)
    assert (minor("2500.00"), minor("1500.00")) == (row.promised_minor, row.promised_minor_paid)
    assert Decimal("50.00") == row.promise_kept_rate_by_count
    assert Decimal("60.00") == row.promise_kept_rate_by_amount


def test_portfolio_expected_credit_loss_by_the_default_provision_matrix(
    ledger: Ledger,
) -> None:
    report = ledger.kpis(Q1_START, Q1_END)
    row = row_of(report, "portfolio", "USD")

    assert ("current", "1-30", "31-60", "61-90", "91-120", "over 120") == report.bucket_labels
    assert (50, 200, 1000, 2500, 5000, 10000) == report.provision_rates_bps
    # On 31 March: A-3 current, B-1 28 days, A-2 50 days, A-1 90 days past due.
    expected_buckets = tuple(minor(a) for a in ("3000", "3000", "1500", "4000", "0", "0"))
    assert expected_buckets == row.buckets_minor
    # 0.5 % x 3,000; 2 % x 3,000; 10 % x 1,500; 25 % x 4,000.
    expected_ecl = tuple(minor(a) for a in ("15.00", "60.00", "150.00", "1000.00", "0", "0"))
    assert expected_ecl == row.ecl_minor_by_bucket
    assert minor("1225.00") == row.ecl_minor


def test_currencies_are_never_mixed(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_START, Q1_END), "portfolio", "CNY")

    assert 5_000_000 == row.credit_sales_minor
    assert 5_000_000 == row.receivables_minor_ending
    assert 0 == row.receivables_minor_current
    assert Decimal("90.0") == row.dso_days
    assert Decimal("59.0") == row.dso_days_countback  # nothing in March, all of February
    assert Decimal("0.00") == row.cei_total_sales
    assert Decimal("0.00") == row.collection_rate
    assert 100_000 == row.ecl_minor  # 2 % of 50,000.00 in 1-30
    assert row.promise_kept_rate_by_count is None


# Per customer and per owner -------------------------------------------------------------------


def test_customer_rows_of_the_quarter(ledger: Ledger) -> None:
    report = ledger.kpis(Q1_START, Q1_END, grouping=KpiGrouping.CUSTOMER)
    acme = row_of(report, "ACME", "USD")
    beta = row_of(report, "BETA", "USD")

    assert "Acme Trading" == acme.label
    # ACME: B 10,000, S 5,000, cash 6,500, E 8,500, C 3,000.
    assert (Decimal("153.0"), Decimal("54.0"), Decimal("99.0")) == (
        acme.dso_days,
        acme.dso_days_best_possible,
        acme.days_delinquent_average,
    )
    # 8,500 - 3,000 (31) - 0 (28) - 2,000 (31) leaves 3,500 of 10,000: 90 + 10.85 -> 100.8.
    assert Decimal("100.8") == acme.dso_days_countback
    assert Decimal("54.17") == acme.cei_total_sales  # 6,500 / 12,000
    assert Decimal("36.54") == acme.cei_monthly_average  # (11,666.67 - 8,500) / 8,666.67
    assert Decimal("43.33") == acme.collection_rate  # 6,500 / 15,000
    assert (Decimal("100.00"), Decimal("100.00")) == (
        acme.promise_kept_rate_by_count,
        acme.promise_kept_rate_by_amount,
    )
    # BETA: B 0, S 4,000, cash 1,000, E 3,000, all overdue.
    assert (Decimal("67.5"), Decimal("0.0"), Decimal("67.5")) == (
        beta.dso_days,
        beta.dso_days_best_possible,
        beta.days_delinquent_average,
    )
    assert Decimal("52.0") == beta.dso_days_countback  # March 31 days + 3,000 / 4,000 x 28
    assert Decimal("25.00") == beta.cei_total_sales
    # The average month (1,333.33) is below what is still open: the variant goes negative.
    assert Decimal("-125.00") == beta.cei_monthly_average
    assert Decimal("25.00") == beta.collection_rate
    assert (Decimal("0.00"), Decimal("50.00")) == (
        beta.promise_kept_rate_by_count,
        beta.promise_kept_rate_by_amount,
    )


def test_owner_rows_use_the_owner_on_the_last_day_of_the_period(ledger: Ledger) -> None:
    report = ledger.kpis(Q1_START, Q1_END, grouping=KpiGrouping.OWNER)

    assert [("li", "CNY"), ("wang", "USD"), ("zhao", "USD")] == [
        (row.key, row.currency) for row in report.rows
    ]
    zhao = row_of(report, "zhao", "USD")
    assert minor("10000.00") == zhao.receivables_minor_beginning  # all of ACME's history
    assert Decimal("153.0") == zhao.dso_days


def test_owner_before_the_change_keeps_the_account(ledger: Ledger) -> None:
    report = ledger.kpis(date(2025, 1, 1), date(2025, 1, 31), grouping=KpiGrouping.OWNER)

    # In January only ACME (li until 15 March) had receivables; BETA and CNCO came later.
    assert [("li", "USD")] == [(row.key, row.currency) for row in report.rows]
    assert minor("6000.00") == report.rows[0].cash_collected_minor


# Zero denominators and the as-of form --------------------------------------------------------


def test_a_period_without_sales_has_no_dso(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(date(2025, 4, 1), date(2025, 4, 30)), "portfolio", "USD")

    assert 0 == row.credit_sales_minor
    assert row.dso_days is None
    assert row.dso_days_best_possible is None
    assert row.days_delinquent_average is None
    # The countback still answers: nothing sold in April, then March's 3,000 and so on.
    assert Decimal("127.8") == row.dso_days_countback  # 30 + 97.75, to 0.1 half-even
    assert Decimal("0.00") == row.collection_rate


def test_a_customer_without_judged_promises_has_no_promise_rates(ledger: Ledger) -> None:
    report = ledger.kpis(date(2025, 4, 1), date(2025, 4, 30), grouping=KpiGrouping.CUSTOMER)

    # PR-3 was broken in April; BETA promised nothing due then.
    assert Decimal("0.00") == row_of(report, "ACME", "USD").promise_kept_rate_by_count
    beta = row_of(report, "BETA", "USD")
    assert 0 == beta.promises_judged
    assert beta.promise_kept_rate_by_count is None
    assert beta.promise_kept_rate_by_amount is None


def test_a_period_before_any_invoice_has_no_rows(ledger: Ledger) -> None:
    assert () == ledger.kpis(date(2024, 1, 1), date(2024, 6, 30)).rows


def test_kpis_as_of_a_date_cover_the_trailing_months(ledger: Ledger) -> None:
    state = ledger.portfolio()

    assert kpi_report(state, Q1_START, Q1_END, grouping="owner") == kpis_as_of(
        state, Q1_END, months=3, grouping="owner"
    )


def test_a_single_day_period_is_allowed(ledger: Ledger) -> None:
    row = row_of(ledger.kpis(Q1_END, Q1_END), "portfolio", "USD")

    assert minor("11500.00") == row.receivables_minor_beginning
    assert row.dso_days is None


# Expected credit loss: rounding and policy versions --------------------------------------------


@pytest.fixture(scope="module")
def yen_ledger() -> Ledger:
    ledger = memory_ledger()
    ledger.open_account(
        "NIHON",
        name="Nihon KK",
        currency="JPY",
        collection_owner="sato",
        opened_on=date(2025, 4, 1),
    )
    yen = Money.parse("100", "JPY")
    ledger.issue_invoice(
        "J-1",
        customer_code="NIHON",
        amount=yen,
        issued_on=date(2025, 5, 1),
        due_on=date(2025, 6, 30),
    )
    ledger.issue_invoice(
        "J-2",
        customer_code="NIHON",
        amount=Money.parse("75", "JPY"),
        issued_on=date(2025, 5, 1),
        due_on=date(2025, 6, 15),
    )
    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, provision_rates_bps=(150, 200, 1000, 2500, 5000, 10000)),
        effective_on=date(2025, 6, 30),
        approver="cfo",
        reason="higher provision on current receivables",
    )
    return ledger


def test_expected_credit_loss_rounds_each_bucket_half_even(yen_ledger: Ledger) -> None:
    report = yen_ledger.kpis(date(2025, 6, 1), date(2025, 6, 29))
    row = row_of(report, "portfolio", "JPY")

    assert 1 == report.policy_version
    assert (100, 75, 0, 0, 0, 0) == row.buckets_minor
    # 0.5 % of 100 = 0.5 -> 0 and 2 % of 75 = 1.5 -> 2 (half-even, per bucket).
    assert (0, 2, 0, 0, 0, 0) == row.ecl_minor_by_bucket
    assert 2 == row.ecl_minor


def test_expected_credit_loss_uses_the_policy_in_force_at_the_end_of_the_period(
    yen_ledger: Ledger,
) -> None:
    report = yen_ledger.kpis(date(2025, 6, 1), date(2025, 6, 30))
    row = row_of(report, "portfolio", "JPY")

    assert 2 == report.policy_version
    assert (150, 200, 1000, 2500, 5000, 10000) == report.provision_rates_bps
    # J-1 due on the last day is still current: 1.5 % of 100 = 1.5 -> 2.
    assert (100, 75, 0, 0, 0, 0) == row.buckets_minor
    assert (2, 2, 0, 0, 0, 0) == row.ecl_minor_by_bucket
    assert 4 == row.ecl_minor


def test_cei_is_none_when_everything_billed_is_still_current(yen_ledger: Ledger) -> None:
    row = row_of(yen_ledger.kpis(date(2025, 5, 1), date(2025, 5, 31)), "portfolio", "JPY")

    # B 0, S = E = C = 175: nothing was collectible in May.
    assert row.cei_total_sales is None
    # The average month (175 x 30 / 31) is below C: the denominator is negative, also None.
    assert row.cei_monthly_average is None
    assert Decimal("0.00") == row.collection_rate
    assert (Decimal("31.0"), Decimal("31.0"), Decimal("0.0")) == (
        row.dso_days,
        row.dso_days_best_possible,
        row.days_delinquent_average,
    )


def test_the_ageing_grouping_given_as_text_is_refused_with_a_typed_error(ledger: Ledger) -> None:
    with pytest.raises(GroupingTypeError) as refused:
        ledger.ageing(Q1_END, grouping="customer")  # type: ignore[arg-type]

    assert "AgeingGrouping" == refused.value.expected


# Expected credit loss: exact loss rates (sub-basis-point precision) ----------------------------

PUBLISHED_RATE = LossRate(numerator=2000, denominator=23000)
"""The loss rate of a published provision matrix: 2,000/23,000 (8.6956...%, no whole bps)."""


def test_an_exact_loss_rate_reproduces_the_published_provision_figures() -> None:
    # 60,000 x 2,000/23,000 = 5,217.39 -> 5,217; 317,020 x 2,000/23,000 = 27,566.96 -> 27,567.
    assert 5217 == PUBLISHED_RATE.loss_minor(60_000)
    assert 27567 == PUBLISHED_RATE.loss_minor(317_020)
    assert PUBLISHED_RATE.bps is None
    assert 250 == LossRate.of_bps(250).bps


def test_an_exact_loss_rate_rounds_a_tie_half_even() -> None:
    assert 2 == LossRate(numerator=1, denominator=2).loss_minor(5)
    assert 4 == LossRate(numerator=1, denominator=2).loss_minor(7)


def test_a_policy_with_exact_loss_rates_gives_the_published_figures_in_the_kpis() -> None:
    ledger = memory_ledger()
    ledger.open_account(
        "PUB", name="Published Co", currency="JPY", collection_owner="sato",
        opened_on=date(2025, 1, 1),
    )  # fmt: skip
    ledger.issue_invoice(
        "P-1", customer_code="PUB", amount=Money.parse("60000", "JPY"),
        issued_on=date(2025, 6, 1), due_on=date(2025, 7, 31),
    )  # fmt: skip
    ledger.issue_invoice(
        "P-2", customer_code="PUB", amount=Money.parse("317020", "JPY"),
        issued_on=date(2025, 5, 1), due_on=date(2025, 6, 20),
    )  # fmt: skip
    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, provision_loss_rates=(PUBLISHED_RATE,) * 6),
        effective_on=date(2025, 6, 1),
        approver="cfo",
        reason="provision matrix from the published loss rates",
    )
    report = ledger.kpis(date(2025, 6, 1), date(2025, 6, 30))
    row = row_of(report, "portfolio", "JPY")

    assert (PUBLISHED_RATE,) * 6 == report.provision_rates
    assert (None,) * 6 == report.provision_rates_bps
    assert (60_000, 317_020, 0, 0, 0, 0) == row.buckets_minor
    assert (5217, 27567, 0, 0, 0, 0) == row.ecl_minor_by_bucket
    assert 32784 == row.ecl_minor


def test_a_policy_adopted_in_basis_points_decodes_with_the_same_rates() -> None:
    converter = make_converter()
    stored = converter.unstructure(EscalationPolicy(version=2))
    del stored["provision_loss_rates"]  # as stored before exact rates existed

    policy = converter.structure(stored, EscalationPolicy)

    assert policy.provision_loss_rates is None
    assert tuple(LossRate.of_bps(bps) for bps in (50, 200, 1000, 2500, 5000, 10000)) == (
        policy.provision_rates
    )


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 10), (11, 10), (1, 0), (1, 10**13)])
def test_a_loss_rate_outside_zero_to_one_is_refused(numerator: int, denominator: int) -> None:
    with pytest.raises(ConfigurationError) as refused:
        LossRate(numerator=numerator, denominator=denominator)
    assert "provision_loss_rates" == refused.value.field


def test_a_policy_with_too_few_loss_rates_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="2 provision loss rates for 6 ageing buckets"):
        EscalationPolicy(provision_loss_rates=(PUBLISHED_RATE,) * 2)
