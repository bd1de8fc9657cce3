"""The KPI fast path (projections/fast/kpis.py) on its edges: an empty log, what it reads, what
it refuses, and its integer expected credit loss against the Decimal one. The differential
properties in tests/property compare whole reports with the fold's."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.columnar import SCHEMAS, columns, decode_policy, to_columnar
from arledger.domain.errors import InvalidAmountError, InvalidDateError
from arledger.domain.money import Money
from arledger.domain.policy import LossRate
from arledger.projections.fast.kpis import (
    RATE_PRODUCT_EXACT_MAX,
    SELECT,
    SUM_MINOR_MAX,
    _expected_credit_loss,
    kpi_report_fast,
)
from arledger.projections.kpis import KpiGrouping, expected_credit_loss, kpi_report
from arledger.projections.portfolio import fold_all
from tests.conftest import FixedClock
from tests.strategies import loss_rates

Q1 = (date(2025, 1, 1), date(2025, 3, 31))


def small_columns() -> dict[str, dict[str, Any]]:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.issue_invoice(
        "A-1",
        customer_code="ACME",
        amount=Money(100_000, "USD"),
        issued_on=date(2025, 1, 10),
        due_on=date(2025, 2, 9),
    )
    return columns(to_columnar(list(ledger.iter_events())), SELECT)


def test_an_empty_log_gives_the_folds_empty_report_for_every_grouping() -> None:
    cols = columns(to_columnar([]), SELECT)
    for grouping in KpiGrouping:
        expected = kpi_report(fold_all([]), *Q1, grouping=grouping)
        assert () == expected.rows
        assert expected == kpi_report_fast(
            cols, *Q1, grouping=grouping, decode_policy=decode_policy
        )


def test_the_selection_names_only_columns_of_the_layout() -> None:
    for name, column_names in SELECT.items():
        assert set(column_names) <= set(SCHEMAS[name].names), name


def test_one_invoice_gives_one_row_with_its_amount_open() -> None:
    report = kpi_report_fast(small_columns(), *Q1, grouping="customer", decode_policy=decode_policy)
    (row,) = report.rows
    assert ("ACME", "Acme", "USD") == (row.key, row.label, row.currency)
    assert (0, 100_000, 100_000) == (
        row.receivables_minor_beginning,
        row.credit_sales_minor,
        row.receivables_minor_ending,
    )


def test_a_naive_known_at_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        kpi_report_fast(
            small_columns(), *Q1, known_at=datetime(2026, 1, 1), decode_policy=decode_policy
        )


def test_amounts_beyond_what_int64_sums_hold_exactly_are_refused() -> None:
    cols = small_columns()
    issued = dict(cols["InvoiceIssued"])
    issued["amount_minor"] = np.array([SUM_MINOR_MAX + 1], np.int64)
    cols["InvoiceIssued"] = issued
    with pytest.raises(InvalidAmountError):
        kpi_report_fast(cols, *Q1, decode_policy=decode_policy)


@given(
    buckets=st.lists(
        st.lists(
            st.integers(0, 10**13)
            | st.integers(0, 10**18)
            | st.sampled_from((0, 1, 5_000, 15_000, 25_000)),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=8,
    ),
    rates=st.lists(
        (st.integers(0, 10_000) | st.sampled_from((1, 5_000, 9_999))).map(LossRate.of_bps)
        | loss_rates(),
        min_size=3,
        max_size=3,
    ),
)
def test_losses_worked_out_in_integers_are_the_decimal_losses(
    buckets: list[list[int]], rates: list[LossRate]
) -> None:
    """Half-even ties included (an amount of 5,000 at 1 bp is half a minor unit), in basis
    points and in exact fractions (2,000/23,000); a loss over ``AMOUNT_MINOR_MAX`` is left to
    the fold's way, which refuses it."""
    losses, exact = _expected_credit_loss(np.array(buckets, np.int64), rates)
    for row, row_losses, row_exact in zip(buckets, losses.tolist(), exact.tolist(), strict=True):
        if row_exact:
            assert expected_credit_loss(row, rates, "USD") == tuple(row_losses)
        elif all(rate.numerator * rate.denominator <= RATE_PRODUCT_EXACT_MAX for rate in rates):
            with pytest.raises(InvalidAmountError):
                expected_credit_loss(row, rates, "USD")
        # else: a rate too wide for int64 sends every row the fold's way (the test below)


def test_rates_the_integers_cannot_hold_take_the_folds_way() -> None:
    # numerator x denominator beyond int64's room: the fold's Python integers work it out.
    wide = LossRate(numerator=10**11 + 1, denominator=10**12)
    rates = [LossRate.of_bps(5), wide]
    _, exact = _expected_credit_loss(np.array([[10, 20]], np.int64), rates)
    assert [False] == exact.tolist()
    assert (0, 2) == expected_credit_loss([10, 20], rates, "USD")
