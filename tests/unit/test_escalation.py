"""Escalation status, worklist and explanation (projections/escalation/), from DOMAIN.md.

Every scenario runs an in-memory ledger with a fixed clock and the default policy unless it
adopts another version. Under the default policy (domain/policy.py) an account is graded by age
(long after 30 days past due) x amount (large above 100,000.00 of its currency) and climbs the
ladder: 1 reminder from 1 day past due; 2 pursuit from 31 days, 100,000.00 overdue or one broken
promise; 3 demand from 61 days, two broken promises or rating D; 4 legal from 91 days, three
broken promises or the blacklist. Promises have 3 tolerance days; disputed money does not count.

Invoices are issued on 2025-01-01 and due on 2025-01-31, so 2025-02-01 is 1 day past due,
2025-03-03 is 31 and 2025-03-17 is 45.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from arledger import to_data
from arledger.adapters.application.ledger import Ledger
from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.events import ActionChannel, DisputeOutcome, DisputeReason, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import (
    EscalationLevel,
    EscalationPolicy,
    Grade,
    Trigger,
    TriggerRule,
    WorklistKey,
)
from arledger.domain.trigger_rules import FigureUnit
from arledger.projections import escalation
from arledger.projections.ageing import AgeingGrouping, ageing_report
from arledger.projections.escalation import (
    LevelChange,
    NextAction,
    Reason,
    SuspensionKind,
)
from tests.conftest import FixedClock

ISSUED_ON = date(2025, 1, 1)
DUE_ON = date(2025, 1, 31)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def new_ledger() -> Ledger:
    return Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())


def open_account(
    ledger: Ledger, code: str = "ACME", *, currency: str = "USD", owner: str = "li"
) -> None:
    ledger.open_account(
        code, name=f"{code} Ltd", currency=currency, collection_owner=owner, opened_on=ISSUED_ON
    )


def issue(
    ledger: Ledger, number: str, amount: Money, *, code: str = "ACME", due_on: date = DUE_ON
) -> None:
    ledger.issue_invoice(
        number, customer_code=code, amount=amount, issued_on=ISSUED_ON, due_on=due_on
    )


def pay(ledger: Ledger, reference: str, invoice: str, amount: Money, on: date) -> None:
    ledger.receive_payment(reference, payer_code="ACME", amount=amount, value_on=on)
    ledger.allocate_payment(reference, {invoice: amount}, allocated_on=on)


def promise(ledger: Ledger, reference: str, amount: Money, *, made_on: date, on: date) -> None:
    ledger.make_promise(
        customer_code="ACME",
        promise_reference=reference,
        amount=amount,
        promised_on=on,
        made_on=made_on,
        contact="CFO Zhang",
        invoice_numbers=["INV-1"],
    )


def one_invoice(amount: str) -> Ledger:
    ledger = new_ledger()
    open_account(ledger)
    issue(ledger, "INV-1", usd(amount))
    return ledger


def adopt(ledger: Ledger, policy: EscalationPolicy, effective_on: date) -> None:
    ledger.adopt_policy(
        policy=policy, effective_on=effective_on, approver="CFO", reason="policy review"
    )


# Grading by age x amount -----------------------------------------------------------------------


def test_120_000_overdue_45_days_grades_as_legal_collection() -> None:
    ledger = one_invoice("120000.00")

    status = ledger.escalation_status("ACME", date(2025, 3, 17))

    assert Grade.LEGAL_COLLECTION == status.grade
    assert (2, "pursuit") == (status.level, status.level_name)
    assert (45, 12_000_000) == (status.current.days_past_due_max, status.current.overdue_minor)


def test_20_000_overdue_10_days_grades_as_finance_follow_up() -> None:
    ledger = one_invoice("20000.00")

    status = ledger.escalation_status("ACME", date(2025, 2, 10))

    assert Grade.FINANCE_FOLLOW_UP == status.grade
    assert (1, "reminder") == (status.level, status.level_name)


def test_120_000_overdue_10_days_grades_as_focused_pursuit() -> None:
    ledger = one_invoice("120000.00")

    assert Grade.FOCUSED_PURSUIT == ledger.escalation_status("ACME", date(2025, 2, 10)).grade


def test_20_000_overdue_45_days_grades_as_settle() -> None:
    ledger = one_invoice("20000.00")

    assert Grade.SETTLE == ledger.escalation_status("ACME", date(2025, 3, 17)).grade


def test_30_days_past_due_is_still_short_and_31_is_long() -> None:
    ledger = one_invoice("20000.00")

    grades = [
        ledger.escalation_status("ACME", on).grade for on in (date(2025, 3, 2), date(2025, 3, 3))
    ]

    assert [Grade.FINANCE_FOLLOW_UP, Grade.SETTLE] == grades


def test_exactly_100_000_is_not_large_for_the_grade() -> None:
    ledger = one_invoice("100000.00")

    assert Grade.FINANCE_FOLLOW_UP == ledger.escalation_status("ACME", date(2025, 2, 10)).grade


def test_an_invoice_due_today_is_not_overdue_and_has_no_grade() -> None:
    ledger = one_invoice("20000.00")

    status = ledger.escalation_status("ACME", DUE_ON)

    assert (0, None, ()) == (status.level, status.grade, status.reasons)


def test_the_large_threshold_is_per_currency() -> None:
    ledger = new_ledger()
    open_account(ledger, "NIPPON", currency="JPY")
    issue(ledger, "J-1", Money.parse("2000000", "JPY"), code="NIPPON")
    adopt(
        ledger,
        EscalationPolicy(version=2, large_above_major_by_currency={"JPY": 15_000_000}),
        ISSUED_ON,
    )

    assert Grade.FINANCE_FOLLOW_UP == ledger.escalation_status("NIPPON", date(2025, 2, 10)).grade


# The ladder and its reasons --------------------------------------------------------------------


def test_one_day_past_due_is_a_reminder_with_its_reason() -> None:
    ledger = one_invoice("20000.00")

    status = ledger.escalation_status("ACME", date(2025, 2, 1))

    expected = Reason(
        rule=TriggerRule.DAYS_PAST_DUE,
        level=1,
        policy_version=1,
        unit=FigureUnit.DAYS,
        threshold=1,
        actual=1,
        invoice_numbers=("INV-1",),
    )
    assert (expected,) == status.reasons


def test_100_000_overdue_is_pursuit_at_once_with_the_amount_as_the_reason() -> None:
    ledger = one_invoice("100000.00")

    status = ledger.escalation_status("ACME", date(2025, 2, 1))

    assert 2 == status.level
    assert (
        Reason(
            rule=TriggerRule.OVERDUE_AMOUNT,
            level=2,
            policy_version=1,
            unit=FigureUnit.MINOR_UNITS,
            threshold=10_000_000,
            actual=10_000_000,
            invoice_numbers=("INV-1",),
        )
        == status.reasons[0]
    )
    data = to_data(status.reasons[0])
    assert isinstance(data, dict)
    assert ("minor_units", 10_000_000) == (data["unit"], data["threshold"])


def test_days_past_due_climb_the_ladder_at_31_61_and_91_days() -> None:
    ledger = one_invoice("20000.00")
    days = [1, 30, 31, 60, 61, 90, 91]

    levels = [
        ledger.escalation_status("ACME", date.fromordinal(DUE_ON.toordinal() + n)).level
        for n in days
    ]

    assert [1, 1, 2, 2, 3, 3, 4] == levels


def test_the_oldest_invoice_decides_the_days_and_every_overdue_invoice_is_listed() -> None:
    ledger = one_invoice("20000.00")
    issue(ledger, "INV-2", usd("1000.00"), due_on=date(2025, 2, 28))

    status = ledger.escalation_status("ACME", date(2025, 3, 5))

    assert (
        Reason(
            rule=TriggerRule.DAYS_PAST_DUE,
            level=2,
            policy_version=1,
            unit=FigureUnit.DAYS,
            threshold=31,
            actual=33,
            invoice_numbers=("INV-1",),
        )
        == status.reasons[0]
    )
    assert 2_100_000 == status.current.overdue_minor


def test_a_risk_rating_of_d_puts_the_customer_at_demand() -> None:
    ledger = one_invoice("20000.00")
    ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.D, rated_on=date(2025, 2, 5), reason="losses"
    )

    status = ledger.escalation_status("ACME", date(2025, 2, 10))

    assert (3, "demand") == (status.level, status.level_name)
    assert (
        Reason(
            rule=TriggerRule.RISK_RATING,
            level=3,
            policy_version=1,
            unit=FigureUnit.RATING_ORDINAL,
            threshold=4,
            actual=4,
        )
        == status.reasons[0]
    )
    assert status.supply_hold_recommended


def test_a_risk_rating_of_c_does_not_fire_the_d_trigger() -> None:
    ledger = one_invoice("20000.00")
    ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.C, rated_on=date(2025, 2, 5), reason="late"
    )

    assert 1 == ledger.escalation_status("ACME", date(2025, 2, 10)).level


def test_blacklisting_goes_straight_to_legal_even_with_nothing_overdue() -> None:
    ledger = one_invoice("20000.00")
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2025, 1, 10), reason="fraud")

    status = ledger.escalation_status("ACME", date(2025, 1, 10))

    assert (4, "legal", None) == (status.level, status.level_name, status.grade)
    assert TriggerRule.BLACKLISTED == status.reasons[0].rule
    assert status.supply_hold_recommended


def test_clearing_the_blacklist_drops_the_level_again() -> None:
    ledger = one_invoice("20000.00")
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2025, 1, 10), reason="fraud")
    ledger.clear_blacklist(customer_code="ACME", cleared_on=date(2025, 1, 20), reason="cleared")

    assert 0 == ledger.escalation_status("ACME", date(2025, 1, 25)).level


def test_paying_in_full_brings_the_level_back_to_zero() -> None:
    ledger = one_invoice("20000.00")
    pay(ledger, "BANK-1", "INV-1", usd("20000.00"), date(2025, 2, 10))

    status = ledger.escalation_status("ACME", date(2025, 2, 10))

    assert (0, None, None) == (status.level, status.grade, status.next_action)


def test_a_bounced_payment_re_escalates() -> None:
    ledger = one_invoice("20000.00")
    pay(ledger, "BANK-1", "INV-1", usd("20000.00"), date(2025, 2, 5))
    ledger.reverse_payment("BANK-1", reversed_on=date(2025, 3, 10), reason="bounced")

    before = ledger.escalation_status("ACME", date(2025, 3, 9))
    after = ledger.escalation_status("ACME", date(2025, 3, 10))

    assert 0 == before.level
    assert (2, 38) == (after.level, after.current.days_past_due_max)
    assert [
        (date(2025, 2, 1), 1),
        (date(2025, 2, 5), 0),
        (date(2025, 3, 10), 2),
    ] == [(change.on, change.level) for change in after.history]


# Promises --------------------------------------------------------------------------------------


def test_an_open_promise_holds_the_level_where_it_was_when_made() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))

    status = ledger.escalation_status("ACME", date(2025, 3, 5))

    assert (1, 2) == (status.level, status.current.raw_level)
    assert status.current.is_suspended
    (suspension,) = status.suspensions
    assert (SuspensionKind.PROMISE, "P-1", date(2025, 2, 20), date(2025, 3, 13), 1) == (
        suspension.kind,
        suspension.reference,
        suspension.since_on,
        suspension.until_on,
        suspension.level_cap,
    )


def test_a_kept_promise_suspends_escalation_until_paid_and_the_level_then_falls() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))
    pay(ledger, "BANK-1", "INV-1", usd("20000.00"), date(2025, 3, 10))

    status = ledger.escalation_status("ACME", date(2025, 3, 20))

    assert 0 == status.level
    assert [(date(2025, 2, 1), 1), (date(2025, 3, 10), 0)] == [
        (change.on, change.level) for change in status.history
    ]


def test_a_broken_promise_raises_the_level_the_day_after_its_tolerance() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("5000.00"), made_on=date(2025, 2, 5), on=date(2025, 2, 10))

    on_deadline = ledger.escalation_status("ACME", date(2025, 2, 13))
    day_after = ledger.escalation_status("ACME", date(2025, 2, 14))

    assert 1 == on_deadline.level
    assert 2 == day_after.level
    assert (
        Reason(
            rule=TriggerRule.BROKEN_PROMISES,
            level=2,
            policy_version=1,
            unit=FigureUnit.PROMISES,
            threshold=1,
            actual=1,
            invoice_numbers=("INV-1",),
            promise_references=("P-1",),
        )
        == day_after.reasons[0]
    )


def test_a_promise_that_runs_out_lets_the_held_level_rise() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))

    status = ledger.escalation_status("ACME", date(2025, 3, 14))

    assert (2, ()) == (status.level, status.suspensions)
    assert (
        LevelChange(
            on=date(2025, 3, 14), level=2, level_name="pursuit", previous_level=1, policy_version=1
        )
        == status.history[-1]
    )


def test_partly_kept_promises_count_as_broken_unless_the_policy_says_otherwise() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("5000.00"), made_on=date(2025, 2, 5), on=date(2025, 2, 10))
    pay(ledger, "BANK-1", "INV-1", usd("1000.00"), date(2025, 2, 10))
    lenient = EscalationPolicy(version=2, partly_kept_counts_as_broken=False)

    by_default = ledger.escalation_status("ACME", date(2025, 2, 20))
    adopt(ledger, lenient, ISSUED_ON)
    leniently = ledger.escalation_status("ACME", date(2025, 2, 20))

    assert (2, 1) == (by_default.level, by_default.current.broken_promises)
    assert (1, 0) == (leniently.level, leniently.current.broken_promises)


def test_two_broken_promises_reach_demand() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("5000.00"), made_on=date(2025, 2, 2), on=date(2025, 2, 5))
    promise(ledger, "P-2", usd("5000.00"), made_on=date(2025, 2, 10), on=date(2025, 2, 12))

    status = ledger.escalation_status("ACME", date(2025, 2, 16))

    assert (3, 2) == (status.level, status.current.broken_promises)


def test_a_promise_does_not_suspend_the_blacklist() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 2), on=date(2025, 2, 28))
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2025, 2, 10), reason="fraud")

    assert 4 == ledger.escalation_status("ACME", date(2025, 2, 10)).level


def test_a_policy_without_promise_suspension_lets_the_level_rise_during_a_promise() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))
    adopt(ledger, EscalationPolicy(version=2, promise_suspends=False), ISSUED_ON)

    status = ledger.escalation_status("ACME", date(2025, 3, 5))

    assert (2, None) == (status.level, status.suspensions[0].level_cap)


# Disputes --------------------------------------------------------------------------------------


def dispute(ledger: Ledger, invoice: str, amount: Money, on: date, reference: str = "D-1") -> None:
    ledger.open_dispute(
        invoice_number=invoice,
        dispute_reference=reference,
        amount=amount,
        reason_code=DisputeReason.QUALITY,
        root_cause="damaged goods",
        opened_on=on,
    )


def test_a_fully_disputed_invoice_is_neither_overdue_nor_graded_by_default() -> None:
    ledger = one_invoice("20000.00")
    dispute(ledger, "INV-1", usd("20000.00"), date(2025, 2, 3))

    status = ledger.escalation_status("ACME", date(2025, 3, 17))

    assert (0, None, 0, 2_000_000) == (
        status.level,
        status.grade,
        status.current.overdue_minor,
        status.current.disputed_minor,
    )
    (suspension,) = status.suspensions
    assert (SuspensionKind.DISPUTE, "D-1", ("INV-1",)) == (
        suspension.kind,
        suspension.reference,
        suspension.invoice_numbers,
    )


def test_a_policy_that_counts_disputed_money_grades_the_disputed_invoice() -> None:
    ledger = one_invoice("20000.00")
    dispute(ledger, "INV-1", usd("20000.00"), date(2025, 2, 3))
    adopt(ledger, EscalationPolicy(version=2, disputed_counts=True), ISSUED_ON)

    status = ledger.escalation_status("ACME", date(2025, 3, 17))

    assert (2, Grade.SETTLE, 2_000_000) == (
        status.level,
        status.grade,
        status.current.overdue_minor,
    )


def test_a_partly_disputed_large_invoice_grades_on_the_undisputed_amount() -> None:
    ledger = one_invoice("120000.00")
    dispute(ledger, "INV-1", usd("30000.00"), date(2025, 2, 3))

    status = ledger.escalation_status("ACME", date(2025, 3, 17))

    assert (Grade.SETTLE, 9_000_000, 3_000_000) == (
        status.grade,
        status.current.overdue_minor,
        status.current.disputed_minor,
    )


def test_a_rejected_dispute_counts_again_from_its_resolution() -> None:
    ledger = one_invoice("20000.00")
    dispute(ledger, "INV-1", usd("20000.00"), date(2025, 2, 3))
    ledger.resolve_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        outcome=DisputeOutcome.REJECTED,
        resolved_on=date(2025, 3, 10),
        note="goods were fine",
    )

    status = ledger.escalation_status("ACME", date(2025, 3, 10))

    assert (2, Grade.SETTLE, ()) == (status.level, status.grade, status.suspensions)


def test_the_ageing_report_shows_disputed_amounts_apart() -> None:
    ledger = one_invoice("120000.00")
    issue(ledger, "INV-2", usd("5000.00"))
    dispute(ledger, "INV-1", usd("30000.00"), date(2025, 2, 3))

    report = ledger.ageing(date(2025, 3, 17), grouping=AgeingGrouping.INVOICE)
    before = ledger.ageing(date(2025, 2, 2), grouping=AgeingGrouping.INVOICE)

    assert [("INV-1", 12_000_000, 3_000_000), ("INV-2", 500_000, 0)] == [
        (row.key, row.open_minor, row.disputed_minor) for row in report.rows
    ]
    assert [0, 0] == [row.disputed_minor for row in before.rows]


def test_the_ageing_owner_grouping_uses_the_owner_as_of_the_report_date() -> None:
    ledger = one_invoice("20000.00")
    ledger.change_owner(customer_code="ACME", collection_owner="wang", changed_on=date(2025, 3, 1))
    state = ledger.portfolio().ageing

    before = ageing_report(state, date(2025, 2, 28), grouping=AgeingGrouping.OWNER)
    after = ageing_report(state, date(2025, 3, 1), grouping=AgeingGrouping.OWNER)

    assert ["li"] == [row.key for row in before.rows]
    assert ["wang"] == [row.key for row in after.rows]


# Next action, history and next threshold -------------------------------------------------------


def record(ledger: Ledger, channel: ActionChannel, on: date) -> None:
    ledger.record_action(
        customer_code="ACME",
        channel=channel,
        taken_on=on,
        collector="li",
        contact="AP clerk",
        outcome="will check",
    )


def test_the_next_action_is_the_first_required_one_not_yet_taken_with_its_due_date() -> None:
    ledger = one_invoice("20000.00")
    record(ledger, ActionChannel.OVERDUE_NOTICE, date(2025, 2, 2))

    status = ledger.escalation_status("ACME", date(2025, 2, 3))

    assert NextAction(action="phone", level=1, due_on=date(2025, 2, 4), is_overdue=False) == (
        status.next_action
    )
    assert (date(2025, 2, 1), ("overdue_notice",)) == (
        status.level_entered_on,
        status.actions_done,
    )


def test_a_required_action_past_its_due_date_is_overdue() -> None:
    ledger = one_invoice("20000.00")

    status = ledger.escalation_status("ACME", date(2025, 2, 10))

    assert (
        NextAction(action="overdue_notice", level=1, due_on=date(2025, 2, 4), is_overdue=True)
        == status.next_action
    )


def test_actions_taken_before_the_level_was_entered_do_not_count_for_it() -> None:
    ledger = one_invoice("20000.00")
    record(ledger, ActionChannel.FINANCE_LETTER, date(2025, 2, 10))

    status = ledger.escalation_status("ACME", date(2025, 3, 5))

    assert (
        NextAction(action="finance_letter", level=2, due_on=date(2025, 3, 10), is_overdue=False)
        == status.next_action
    )


def test_with_every_required_action_taken_there_is_no_next_action() -> None:
    ledger = one_invoice("20000.00")
    record(ledger, ActionChannel.OVERDUE_NOTICE, date(2025, 2, 1))
    record(ledger, ActionChannel.PHONE, date(2025, 2, 2))

    status = ledger.escalation_status("ACME", date(2025, 2, 3))

    assert (None, ("overdue_notice", "phone")) == (status.next_action, status.actions_done)


def test_the_next_threshold_is_the_date_the_days_reach_the_next_trigger() -> None:
    ledger = one_invoice("20000.00")

    crossing = ledger.escalation_status("ACME", date(2025, 2, 15)).next_threshold

    assert crossing is not None
    assert (date(2025, 3, 3), 2, "pursuit") == (crossing.on, crossing.level, crossing.level_name)
    assert TriggerRule.DAYS_PAST_DUE == crossing.reasons[0].rule


def test_the_next_threshold_assumes_nothing_happens_after_the_as_of_date() -> None:
    ledger = one_invoice("20000.00")
    pay(ledger, "BANK-1", "INV-1", usd("20000.00"), date(2025, 2, 20))

    crossing = ledger.escalation_status("ACME", date(2025, 2, 15)).next_threshold

    assert crossing is not None
    assert date(2025, 3, 3) == crossing.on


def test_an_open_promise_moves_the_next_threshold_to_the_day_after_its_tolerance() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))

    crossing = ledger.escalation_status("ACME", date(2025, 2, 25)).next_threshold

    assert crossing is not None
    assert (date(2025, 3, 14), 2) == (crossing.on, crossing.level)


def test_at_the_top_of_the_ladder_there_is_no_next_threshold() -> None:
    ledger = one_invoice("20000.00")

    assert None is ledger.escalation_status("ACME", date(2025, 6, 1)).next_threshold


def test_status_of_an_unknown_customer_id_is_refused() -> None:
    ledger = one_invoice("20000.00")
    state = ledger.portfolio()
    with pytest.raises(CustomerNotFoundError):
        escalation.escalation_status(state, UUID(int=0), date(2025, 2, 1))


# Policy versions -------------------------------------------------------------------------------


def test_a_new_policy_version_decides_only_from_its_effective_date() -> None:
    ledger = one_invoice("20000.00")
    stricter = EscalationPolicy(version=2, long_after_days=10)
    adopt(ledger, stricter, date(2025, 2, 15))

    before = ledger.escalation_status("ACME", date(2025, 2, 14))
    after = ledger.escalation_status("ACME", date(2025, 2, 15))

    assert (Grade.FINANCE_FOLLOW_UP, 1) == (before.grade, before.policy_version)
    assert (Grade.SETTLE, 2) == (after.grade, after.policy_version)
    assert 2 == after.reasons[0].policy_version


def test_a_policy_with_an_earlier_trigger_moves_the_level_change_in_history() -> None:
    ledger = one_invoice("20000.00")
    levels = EscalationPolicy().levels
    level_2 = levels[2]
    earlier = EscalationPolicy(
        version=2,
        levels=(
            *levels[:2],
            EscalationLevel(
                level=2,
                name=level_2.name,
                triggers=(Trigger(rule=TriggerRule.DAYS_PAST_DUE, threshold=15),),
                required_actions=level_2.required_actions,
                action_due_days=level_2.action_due_days,
            ),
            *levels[3:],
        ),
    )
    adopt(ledger, earlier, date(2025, 2, 10))

    status = ledger.escalation_status("ACME", date(2025, 2, 20))

    assert [(date(2025, 2, 1), 1, 1), (date(2025, 2, 15), 2, 2)] == [
        (change.on, change.level, change.policy_version) for change in status.history
    ]


# Worklist --------------------------------------------------------------------------------------


def worklist_ledger() -> Ledger:
    """ACME (li): 120,000.00 USD 45 days; BETA (wang): 20,000.00 USD 45 days; CNCO (li):
    500,000.00 CNY 10 days; DELTA (wang): nothing overdue."""
    ledger = new_ledger()
    for code, currency, owner in (
        ("ACME", "USD", "li"),
        ("BETA", "USD", "wang"),
        ("CNCO", "CNY", "li"),
        ("DELTA", "USD", "wang"),
    ):
        open_account(ledger, code, currency=currency, owner=owner)
    issue(ledger, "A-1", usd("120000.00"), code="ACME")
    issue(ledger, "B-1", usd("20000.00"), code="BETA")
    issue(ledger, "C-1", Money.parse("500000.00", "CNY"), code="CNCO", due_on=date(2025, 3, 7))
    issue(ledger, "D-1", usd("1000.00"), code="DELTA", due_on=date(2025, 4, 30))
    return ledger


AS_OF = date(2025, 3, 17)


def test_the_worklist_lists_customers_needing_action_most_urgent_first() -> None:
    ledger = worklist_ledger()

    items = ledger.worklist(AS_OF)

    assert [("CNCO", 2), ("ACME", 2), ("BETA", 2)] == [(i.customer_code, i.level) for i in items]


def test_the_worklist_compares_amounts_across_currencies_by_their_large_threshold() -> None:
    ledger = worklist_ledger()
    adopt(
        ledger,
        EscalationPolicy(version=2, large_above_major_by_currency={"CNY": 1_000_000}),
        ISSUED_ON,
    )

    items = ledger.worklist(AS_OF)

    assert ["ACME", "CNCO", "BETA"] == [item.customer_code for item in items]


def test_the_worklist_priority_is_policy_configurable() -> None:
    ledger = worklist_ledger()
    by_age = EscalationPolicy(
        version=2, worklist_priority=(WorklistKey.DAYS_PAST_DUE, WorklistKey.OVERDUE_AMOUNT)
    )
    adopt(ledger, by_age, ISSUED_ON)

    items = ledger.worklist(AS_OF)

    assert ["ACME", "BETA", "CNCO"] == [item.customer_code for item in items]
    assert (AS_OF, None, 2, 3) == (items.as_of, items.owner, items.policy_version, len(items))
    assert items[0] == next(iter(items))


def test_the_worklist_names_what_it_was_asked_and_the_policy_version_that_ordered_it() -> None:
    ledger = worklist_ledger()

    items = ledger.worklist(AS_OF, owner="wang")

    assert (AS_OF, "wang", 1) == (items.as_of, items.owner, items.policy_version)
    assert ("BETA",) == tuple(item.customer_code for item in items.items)


def test_the_worklist_filters_by_owner_as_of_the_date() -> None:
    ledger = worklist_ledger()
    ledger.change_owner(customer_code="BETA", collection_owner="li", changed_on=date(2025, 3, 16))

    li = [item.customer_code for item in ledger.worklist(AS_OF, owner="li")]
    wang_before = [i.customer_code for i in ledger.worklist(date(2025, 3, 15), owner="wang")]

    assert ["CNCO", "ACME", "BETA"] == li
    assert ["BETA"] == wang_before


def test_the_worklist_carries_the_next_action_and_figures() -> None:
    ledger = worklist_ledger()

    beta = next(item for item in ledger.worklist(AS_OF) if item.customer_code == "BETA")

    assert (Grade.SETTLE, 2_000_000, 45, 0, "wang") == (
        beta.grade,
        beta.overdue_minor,
        beta.days_past_due_max,
        beta.broken_promises,
        beta.owner,
    )
    assert (
        NextAction(action="finance_letter", level=2, due_on=date(2025, 3, 10), is_overdue=True)
        == beta.next_action
    )


# Explain ---------------------------------------------------------------------------------------


def test_explain_says_why_in_words_and_figures() -> None:
    ledger = one_invoice("120000.00")
    promise(ledger, "P-1", usd("5000.00"), made_on=date(2025, 2, 5), on=date(2025, 2, 10))

    explanation = ledger.explain("ACME", AS_OF)

    expected = "\n".join(
        [
            "ACME (ACME Ltd), owner li, as of 2025-03-17, policy version 1",
            "Level 2 pursuit",
            "Grade: legal collection (45 days past due, long after 30; 120,000.00 USD overdue, "
            "large above 100,000.00 USD)",
            "Overdue 120,000.00 USD; in dispute 0.00 USD (not counted by policy); "
            "broken promises 1",
            "Reasons:",
            "  - level 2 pursuit: days past due, 45 days past due >= 31 "
            "(policy version 1; invoices INV-1)",
            "  - level 2 pursuit: overdue amount, 120,000.00 USD overdue >= 100,000.00 USD "
            "(policy version 1; invoices INV-1)",
            "  - level 2 pursuit: broken promises, 1 broken promises >= 1 "
            "(policy version 1; invoices INV-1; promises P-1)",
            "Suspensions: none",
            "Next action: finance dunning letter, due 2025-02-08 (overdue); "
            "level 2 entered 2025-02-01",
            "History:",
            "  2025-02-01 level 0 -> 2 pursuit (policy version 1)",
            "Next threshold: 2025-04-02 level 3 demand if nothing happens (level 3 demand: "
            "days past due, 61 days past due >= 61 (policy version 1; invoices INV-1))",
            "Supply hold: not recommended",
        ]
    )
    assert expected == explanation.text
    assert expected == str(explanation)
    assert ledger.escalation_status("ACME", AS_OF) == explanation.status


def test_explain_names_the_promise_holding_the_level() -> None:
    ledger = one_invoice("20000.00")
    promise(ledger, "P-1", usd("20000.00"), made_on=date(2025, 2, 20), on=date(2025, 3, 10))

    text = ledger.explain("ACME", date(2025, 3, 5)).text

    assert "Level 1 reminder (the triggers alone give level 2; held by an open promise)" in text
    assert (
        "  - promise P-1 on INV-1: 20,000.00 USD made 2025-02-20, open until 2025-03-13; "
        "escalation held at level 1"
    ) in text.splitlines()


# The number of overdue invoices ----------------------------------------------------------------


def three_unpaid_invoices_policy() -> EscalationPolicy:
    """Level 2 on three invoices past due (whatever they add up to), as handbooks phrase it."""
    levels = EscalationPolicy().levels
    level_2 = levels[2]
    return EscalationPolicy(
        version=2,
        levels=(
            *levels[:2],
            EscalationLevel(
                level=2,
                name=level_2.name,
                triggers=(Trigger(rule=TriggerRule.OVERDUE_INVOICE_COUNT, threshold=3),),
                required_actions=level_2.required_actions,
                action_due_days=level_2.action_due_days,
            ),
            *levels[3:],
        ),
    )


def test_three_small_overdue_invoices_reach_the_count_trigger_and_two_do_not() -> None:
    ledger = new_ledger()
    open_account(ledger)
    adopt(ledger, three_unpaid_invoices_policy(), ISSUED_ON)
    for number in ("INV-1", "INV-2", "INV-3"):
        issue(ledger, number, usd("10.00"))
    pay(ledger, "BANK-1", "INV-2", usd("10.00"), date(2025, 2, 10))
    on = date(2025, 2, 5)

    three = ledger.escalation_status("ACME", on)
    (reason,) = [r for r in three.reasons if r.rule is TriggerRule.OVERDUE_INVOICE_COUNT]
    assert (2, 3, 3, FigureUnit.INVOICES) == (
        three.level,
        reason.threshold,
        reason.actual,
        reason.unit,
    )
    assert ("INV-1", "INV-2", "INV-3") == reason.invoice_numbers
    assert "3 invoices overdue >= 3" in str(ledger.explain("ACME", on))

    two = ledger.escalation_status("ACME", date(2025, 2, 10))
    assert 1 == two.level
    assert TriggerRule.OVERDUE_INVOICE_COUNT not in {r.rule for r in two.reasons}


def test_an_invoice_wholly_in_dispute_is_not_counted_as_overdue() -> None:
    ledger = new_ledger()
    open_account(ledger)
    adopt(ledger, three_unpaid_invoices_policy(), ISSUED_ON)
    for number in ("INV-1", "INV-2", "INV-3"):
        issue(ledger, number, usd("10.00"))
    dispute(ledger, "INV-3", usd("10.00"), date(2025, 2, 3))

    status = ledger.escalation_status("ACME", date(2025, 2, 5))

    assert 1 == status.level
    assert TriggerRule.OVERDUE_INVOICE_COUNT not in {r.rule for r in status.reasons}
