"""Automatic allocation under each allocation rule: which open invoices a payment settles, in
what order and how much, as pure functions of the payment and the payer's invoices."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.domain import payment as payment_module
from arledger.domain.customer import adopt_allocation_rule
from arledger.domain.errors import (
    AutomaticAllocationRefusedError,
    InvalidChoiceError,
    InvalidDateError,
    InvalidTextError,
)
from arledger.domain.events import AllocationRule, AllocationRuleAdopted
from arledger.domain.payment import (
    allocate_payment,
    plan_automatic,
    plan_oldest_issued_first,
    plan_proportional,
    split_proportionally,
)
from tests.given import given_customer, given_payment, then
from tests.unit.test_collections_customer import after, envelope, opened
from tests.unit.test_payment import AT, OTHER_CUSTOMER_ID, invoice, received


def test_oldest_issued_first_orders_by_issue_date_not_due_date() -> None:
    # Issued first but due last (long terms): oldest issued first settles it first.
    long_terms = invoice("INV-1", 1000, issued_on=date(2024, 1, 1), due_on=date(2024, 5, 1))
    short_terms = invoice("INV-2", 1000, issued_on=date(2024, 1, 10), due_on=date(2024, 2, 1))
    payment = given_payment(received(1500))
    assert [(long_terms, 1000), (short_terms, 500)] == plan_oldest_issued_first(
        payment, [short_terms, long_terms]
    )
    assert [(short_terms, 1000), (long_terms, 500)] == plan_automatic(
        AllocationRule.OLDEST_DUE_FIRST, payment, [short_terms, long_terms]
    )


def test_proportional_splits_by_open_amount_and_gives_left_over_units_to_largest_fractions() -> (
    None
):
    a = invoice("INV-A", 100, due_on=date(2024, 2, 1))
    b = invoice("INV-B", 200, due_on=date(2024, 3, 1))
    c = invoice("INV-C", 400, due_on=date(2024, 4, 1))
    # 100 over 100/200/400: exact shares 14.28, 28.57, 57.14; rounded down 14, 28, 57 = 99;
    # the one unit left goes to the largest fraction, B's .57.
    plan = plan_proportional(given_payment(received(100)), [c, a, b])
    assert [(a, 14), (b, 29), (c, 57)] == plan


def test_proportional_ties_for_a_left_over_unit_go_to_the_oldest_due() -> None:
    older = invoice("INV-2", 100, due_on=date(2024, 2, 1))
    newer = invoice("INV-1", 100, due_on=date(2024, 3, 1))
    assert [(older, 1)] == plan_proportional(given_payment(received(1)), [newer, older])


def test_proportional_pays_everything_in_full_when_the_payment_covers_it() -> None:
    a = invoice("INV-A", 300)
    b = invoice("INV-B", 700, due_on=date(2024, 3, 1))
    assert [(a, 300), (b, 700)] == plan_proportional(given_payment(received(1500)), [b, a])


def test_proportional_skips_invoices_of_other_payers() -> None:
    own = invoice("INV-1", 300)
    theirs = invoice("INV-2", 300, customer_id=OTHER_CUSTOMER_ID)
    assert [(own, 200)] == plan_proportional(given_payment(received(200)), [theirs, own])


def test_explicit_only_refuses_automatic_allocation_naming_the_rule() -> None:
    payment = given_payment(received(500))
    with pytest.raises(AutomaticAllocationRefusedError) as refused:
        plan_automatic(
            AllocationRule.EXPLICIT_ONLY,
            payment,
            [invoice("INV-1", 1000)],
            effective_on=date(2024, 1, 1),
        )
    assert refused.value.allocation_rule == "explicit_only"
    assert refused.value.bank_reference == payment.bank_reference
    assert refused.value.effective_on == date(2024, 1, 1)
    assert "explicit_only" in str(refused.value)


open_amounts = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=12)


@given(amount=st.integers(min_value=0, max_value=10**13), open_minor=open_amounts)
def test_proportional_split_is_exact_and_never_over_an_open_amount(
    amount: int, open_minor: list[int]
) -> None:
    shares = split_proportionally(amount, open_minor)
    assert sum(shares) == min(amount, sum(open_minor))
    assert all(0 <= share <= open for share, open in zip(shares, open_minor, strict=True))
    # No share is more than one unit away from its exact proportional value.
    if amount < sum(open_minor):
        total = sum(open_minor)
        assert all(
            abs(share * total - amount * open) < total
            for share, open in zip(shares, open_minor, strict=True)
        )


@given(
    rule=st.sampled_from([r for r in AllocationRule if r is not AllocationRule.EXPLICIT_ONLY]),
    amount=st.integers(min_value=1, max_value=10**9),
    invoices=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**8),
            st.integers(min_value=0, max_value=400),
            st.integers(min_value=0, max_value=90),
        ),
        max_size=8,
    ),
)
def test_every_automatic_rule_allocates_min_of_payment_and_open_total_within_open_amounts(
    rule: AllocationRule, amount: int, invoices: list[tuple[int, int, int]]
) -> None:
    payer_invoices = [
        invoice(
            f"INV-{n}",
            open_minor,
            issued_on=date(2024, 1, 1).fromordinal(date(2024, 1, 1).toordinal() + issued),
            due_on=date(2024, 1, 1).fromordinal(date(2024, 1, 1).toordinal() + issued + terms),
        )
        for n, (open_minor, issued, terms) in enumerate(invoices)
    ]
    payment = given_payment(received(amount))
    plan = plan_automatic(rule, payment, payer_invoices)
    open_total = sum(inv.open_minor for inv in payer_invoices)
    # Money is conserved: what is allocated plus what stays unapplied is the payment.
    allocated = sum(share for _, share in plan)
    assert allocated == min(amount, open_total)
    if plan:
        events = allocate_payment(payment, plan, recorded_at=AT)
        after = payment_module.fold(events[1::2], payment)
        assert after is not None
        assert after.unapplied_minor + after.allocated_minor == amount
        assert after.allocated_minor == allocated
    assert all(0 < share <= inv.open_minor for inv, share in plan)
    assert len({inv.id for inv, _ in plan}) == len(plan)


# Adopting a rule on the account -------------------------------------------------------------


def adopted(rule: AllocationRule, effective_on: date) -> AllocationRuleAdopted:
    return AllocationRuleAdopted(
        **envelope(0), rule=rule, effective_on=effective_on, approver="cfo", reason="pro rata"
    )


def test_a_rule_is_adopted_with_its_approver_and_is_in_force_from_its_date() -> None:
    account = given_customer(opened())

    events = adopt_allocation_rule(
        account,
        rule=AllocationRule.PROPORTIONAL,
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="pro rata",
        recorded_at=AT,
    )

    then(
        [
            attrs.evolve(
                adopted(AllocationRule.PROPORTIONAL, date(2024, 7, 1)), originator_version=2
            )
        ],
        events,
    )
    state = after(account, events)
    assert (AllocationRule.OLDEST_DUE_FIRST, None) == state.allocation_rule_on(date(2024, 6, 30))
    assert (AllocationRule.PROPORTIONAL, date(2024, 7, 1)) == state.allocation_rule_on(
        date(2024, 7, 1)
    )


def test_a_later_adoption_takes_over_from_its_date_and_the_earlier_stays_in_force_before() -> None:
    account = given_customer(
        opened(),
        adopted(AllocationRule.PROPORTIONAL, date(2024, 7, 1)),
        adopted(AllocationRule.EXPLICIT_ONLY, date(2024, 9, 1)),
    )
    assert AllocationRule.PROPORTIONAL == account.allocation_rule_on(date(2024, 8, 31))[0]
    assert AllocationRule.EXPLICIT_ONLY == account.allocation_rule_on(date(2024, 9, 1))[0]


def test_the_same_adoption_again_is_a_no_op() -> None:
    account = given_customer(opened(), adopted(AllocationRule.PROPORTIONAL, date(2024, 7, 1)))
    assert [] == adopt_allocation_rule(
        account,
        rule=AllocationRule.PROPORTIONAL,
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="pro rata",
        recorded_at=AT,
    )


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"rule": "proportional"}, InvalidChoiceError, "rule"),
        ({"approver": ""}, InvalidTextError, "approver"),
        ({"reason": " "}, InvalidTextError, "reason"),
        ({"effective_on": date(2024, 6, 30)}, InvalidDateError, "effective_on"),
    ],
)
def test_a_bad_adoption_is_refused_naming_the_field(
    changes: dict[str, object], error: type[Exception], field: str
) -> None:
    account = given_customer(opened(), adopted(AllocationRule.PROPORTIONAL, date(2024, 7, 1)))
    fields: dict[str, Any] = {
        "rule": AllocationRule.OLDEST_ISSUED_FIRST,
        "effective_on": date(2024, 8, 1),
        "approver": "cfo",
        "reason": "contract",
        **changes,
    }
    with pytest.raises(error) as refused:
        adopt_allocation_rule(account, **fields, recorded_at=AT)
    assert field == refused.value.field  # type: ignore[attr-defined]
