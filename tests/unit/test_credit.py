"""Credit check (projections/credit.py), from DOMAIN.md: exposure = open receivables + the new
order; over the credit line the order is blocked, and so it is for a blacklisted customer, one
on supply hold, or one whose escalation level is at or above the policy's credit block level
(3, demand, by default). Every reason that applies is given, not only the first.

ACME (USD) has a 50,000.00 line from 2025-01-01 and one 20,000.00 invoice due 2025-01-31.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.domain.errors import AccountCurrencyError, CurrencyMismatchError, InvalidAmountError
from arledger.domain.events import DisputeReason, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from arledger.projections.credit import CreditReason, CreditReasonKind, check_credit
from tests.conftest import FixedClock

OPENED_ON = date(2025, 1, 1)
AS_OF = date(2025, 2, 10)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def acme(*, line: str | None = "50000.00") -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=OPENED_ON
    )
    if line is not None:
        ledger.set_credit_line(
            customer_code="ACME",
            amount=usd(line),
            effective_on=OPENED_ON,
            approver="finance",
            reason="half the registered capital",
        )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=usd("20000.00"),
        issued_on=OPENED_ON,
        due_on=date(2025, 1, 31),
    )
    return ledger


def test_an_order_within_the_line_is_approved() -> None:
    decision = acme().check_credit("ACME", usd("30000.00"), AS_OF)

    assert (True, ()) == (decision.approved, decision.reasons)
    assert (2_000_000, 5_000_000, 5_000_000, 0) == (
        decision.open_minor,
        decision.exposure_minor,
        decision.credit_line_minor,
        decision.headroom_minor,
    )


def test_an_order_over_the_line_is_blocked_by_how_much() -> None:
    decision = acme().check_credit("ACME", usd("30000.01"), AS_OF)

    assert False is decision.approved
    assert (
        CreditReason(
            kind=CreditReasonKind.OVER_CREDIT_LINE,
            message="exposure 50,000.01 USD is over the credit line 50,000.00 USD by 0.01 USD",
            excess_minor=1,
        ),
    ) == decision.reasons
    assert -1 == decision.headroom_minor


def test_without_a_credit_line_every_order_is_blocked() -> None:
    decision = acme(line=None).check_credit("ACME", usd("1.00"), AS_OF)

    assert (False, (CreditReasonKind.NO_CREDIT_LINE,)) == (decision.approved, decision.kinds)
    assert None is decision.credit_line_minor


def test_a_zero_line_grants_no_credit() -> None:
    decision = acme(line="0.00").check_credit("ACME", usd("1.00"), AS_OF)

    assert (CreditReasonKind.OVER_CREDIT_LINE,) == decision.kinds
    assert 2_000_100 == decision.reasons[0].excess_minor


def test_paid_money_frees_the_line_again() -> None:
    ledger = acme()
    ledger.receive_payment("BANK-1", payer_code="ACME", amount=usd("20000.00"), value_on=AS_OF)
    ledger.allocate_payment("BANK-1", {"INV-1": usd("20000.00")}, allocated_on=AS_OF)

    before = ledger.check_credit("ACME", usd("50000.00"), date(2025, 2, 9))
    after = ledger.check_credit("ACME", usd("50000.00"), AS_OF)

    assert (False, True) == (before.approved, after.approved)


def test_a_blacklisted_customer_is_blocked_even_within_the_line() -> None:
    ledger = acme()
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2025, 2, 1), reason="fraud")

    decision = ledger.check_credit("ACME", usd("100.00"), AS_OF)

    assert (CreditReasonKind.BLACKLISTED, CreditReasonKind.ESCALATION_LEVEL) == decision.kinds
    assert 4 == decision.reasons[1].level


def test_a_customer_on_supply_hold_is_blocked_until_released() -> None:
    ledger = acme()
    ledger.hold_supply(customer_code="ACME", held_on=date(2025, 2, 1), reason="overdue")
    ledger.release_supply(customer_code="ACME", released_on=date(2025, 2, 20), reason="paid")

    held = ledger.check_credit("ACME", usd("100.00"), AS_OF)
    released = ledger.check_credit("ACME", usd("100.00"), date(2025, 2, 20))

    assert (CreditReasonKind.SUPPLY_HELD,) == held.kinds
    assert True is released.approved


def test_an_escalation_level_at_the_credit_block_level_blocks() -> None:
    ledger = acme()

    at_level_2 = ledger.check_credit("ACME", usd("100.00"), date(2025, 3, 10))
    at_level_3 = ledger.check_credit("ACME", usd("100.00"), date(2025, 4, 2))

    assert (2, True) == (at_level_2.level, at_level_2.approved)
    assert (3, (CreditReasonKind.ESCALATION_LEVEL,)) == (at_level_3.level, at_level_3.kinds)
    assert (
        "escalation level 3 demand is at or above the credit block level 3 (policy version 1)"
        == at_level_3.reasons[0].message
    )


def test_the_credit_block_level_comes_from_the_policy_in_force() -> None:
    ledger = acme()
    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, credit_block_level=1),
        effective_on=date(2025, 2, 5),
        approver="CFO",
        reason="tighter credit",
    )

    before = ledger.check_credit("ACME", usd("100.00"), date(2025, 2, 4))
    after = ledger.check_credit("ACME", usd("100.00"), date(2025, 2, 5))

    assert (True, 3) == (before.approved, before.credit_block_level)
    assert ((CreditReasonKind.ESCALATION_LEVEL,), 1, 2) == (
        after.kinds,
        after.credit_block_level,
        after.policy_version,
    )


def test_every_applicable_reason_is_listed() -> None:
    ledger = acme()
    ledger.rate_risk(customer_code="ACME", rating=RiskRating.D, rated_on=AS_OF, reason="losses")
    ledger.hold_supply(customer_code="ACME", held_on=AS_OF, reason="risk")
    ledger.blacklist(customer_code="ACME", blacklisted_on=AS_OF, reason="fraud")

    decision = ledger.check_credit("ACME", usd("40000.00"), AS_OF)

    assert (
        CreditReasonKind.OVER_CREDIT_LINE,
        CreditReasonKind.BLACKLISTED,
        CreditReasonKind.SUPPLY_HELD,
        CreditReasonKind.ESCALATION_LEVEL,
    ) == decision.kinds
    assert 1_000_000 == decision.reasons[0].excess_minor


def test_disputed_money_still_counts_toward_exposure() -> None:
    ledger = acme()
    ledger.open_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        amount=usd("20000.00"),
        reason_code=DisputeReason.QUALITY,
        root_cause="damaged",
        opened_on=date(2025, 2, 1),
    )

    decision = ledger.check_credit("ACME", usd("30000.01"), AS_OF)

    assert (CreditReasonKind.OVER_CREDIT_LINE,) == decision.kinds


def test_an_order_in_another_currency_is_refused() -> None:
    with pytest.raises(AccountCurrencyError) as raised:
        acme().check_credit("ACME", Money.parse("100.00", "EUR"), AS_OF)

    assert "ACME" == raised.value.customer_code
    assert "USD" == raised.value.account_currency
    assert "EUR" == raised.value.currency
    assert isinstance(raised.value, CurrencyMismatchError)


def test_a_negative_order_is_refused() -> None:
    ledger = acme()
    customer_id = ledger.customer("ACME").id

    with pytest.raises(InvalidAmountError):
        check_credit(
            ledger.portfolio(), customer_id, order_amount_minor=-1, currency="USD", as_of=AS_OF
        )
