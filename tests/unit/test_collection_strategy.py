"""Collection strategy on the worklist (issue 14): next steps come back, chasing before due,
negotiation before legal.

Every scenario runs an in-memory ledger with a fixed clock and asks the worklist twice, from
the query engine (``read_models="stored"``) and replayed from the folds (``"replay"``); the
two must be equal, and each scenario's expectation is checked on that one answer.

Invoices are issued on 2025-01-01 and due on 2025-01-31 unless the scenario says otherwise.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence.serialization import CONVERTER
from arledger.adapters.read_models.columnar import NULL_DATE, decode_policy
from arledger.domain.errors import ConfigurationError, InvalidCommandError
from arledger.domain.events import ActionChannel, DelinquencyType, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    DIAGNOSE,
    NEGOTIATE_FIRST,
    EscalationPolicy,
    NegotiationRule,
    PreDueReminderRule,
)
from arledger.projections.escalation import NextAction, NextStep, PreDueReminder, WorklistItem
from arledger.projections.fast.reports import ABSENT_DATE
from arledger.projections.results import Worklist
from tests.conftest import FixedClock

ISSUED_ON = date(2025, 1, 1)
DUE_ON = date(2025, 1, 31)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def new_ledger(*codes: str) -> Ledger:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for code in codes or ("ACME",):
        ledger.open_account(
            code, name=f"{code} Ltd", currency="USD", collection_owner="li", opened_on=ISSUED_ON
        )
    return ledger


def issue(
    ledger: Ledger, number: str, amount: str, *, code: str = "ACME", due_on: date = DUE_ON
) -> None:
    ledger.issue_invoice(
        number, customer_code=code, amount=usd(amount), issued_on=ISSUED_ON, due_on=due_on
    )


def act(
    ledger: Ledger,
    channel: ActionChannel,
    on: date,
    *,
    code: str = "ACME",
    next_step: str = "",
    next_step_on: date | None = None,
) -> None:
    ledger.record_action(
        customer_code=code,
        channel=channel,
        taken_on=on,
        collector="li",
        contact="AP clerk",
        outcome="agreed to check",
        next_step=next_step,
        next_step_on=next_step_on,
    )


def adopt(ledger: Ledger, effective_on: date = ISSUED_ON, **settings: object) -> None:
    ledger.adopt_policy(
        policy=attrs.evolve(DEFAULT_ESCALATION_POLICY, version=2, **settings),
        effective_on=effective_on,
        approver="CFO",
        reason="collection strategy",
    )


def worklist(ledger: Ledger, as_of: date, owner: str | None = None) -> Worklist:
    """The worklist from the engine, checked equal to the replayed one."""
    ledger.read_models = "replay"
    replayed = ledger.worklist(as_of, owner=owner)
    ledger.read_models = "stored"
    engine = ledger.worklist(as_of, owner=owner)
    assert replayed == engine
    return engine


def item_of(found: Worklist, code: str = "ACME") -> WorklistItem | None:
    return next((item for item in found if item.customer_code == code), None)


# Next steps come back --------------------------------------------------------------------------


def test_a_next_step_puts_a_customer_with_nothing_overdue_on_the_worklist_on_its_date() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    act(
        ledger,
        ActionChannel.PHONE,
        date(2025, 1, 10),
        next_step="call back about the PO",
        next_step_on=date(2025, 1, 20),
    )

    assert item_of(worklist(ledger, date(2025, 1, 19))) is None
    item = item_of(worklist(ledger, date(2025, 1, 20)))

    assert item is not None
    assert 0 == item.level
    expected = NextStep(
        step="call back about the PO",
        due_on=date(2025, 1, 20),
        is_overdue=False,
        agreed_on=date(2025, 1, 10),
        collector="li",
    )
    assert expected == item.next_step


def test_a_next_step_not_followed_up_by_its_date_is_flagged_overdue() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    act(
        ledger,
        ActionChannel.EMAIL,
        date(2025, 1, 10),
        next_step="send PO",
        next_step_on=date(2025, 1, 20),
    )

    item = item_of(worklist(ledger, date(2025, 1, 25)))

    assert item is not None
    assert item.next_step is not None
    assert item.next_step.is_overdue


def test_a_later_action_replaces_the_next_step_and_takes_the_customer_off() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    act(
        ledger,
        ActionChannel.PHONE,
        date(2025, 1, 10),
        next_step="call back",
        next_step_on=date(2025, 1, 20),
    )
    act(ledger, ActionChannel.PHONE, date(2025, 1, 21), next_step="", next_step_on=None)

    assert item_of(worklist(ledger, date(2025, 1, 20))) is not None
    assert item_of(worklist(ledger, date(2025, 1, 22))) is None


def test_the_next_step_goes_to_the_owners_worklist() -> None:
    ledger = new_ledger("ACME", "BETA")
    ledger.change_owner(customer_code="BETA", collection_owner="wang", changed_on=ISSUED_ON)
    act(
        ledger,
        ActionChannel.PHONE,
        date(2025, 1, 2),
        code="BETA",
        next_step="visit",
        next_step_on=date(2025, 1, 3),
    )

    assert [] == [item.customer_code for item in worklist(ledger, date(2025, 1, 5), owner="li")]
    assert ["BETA"] == [
        item.customer_code for item in worklist(ledger, date(2025, 1, 5), owner="wang")
    ]


def test_the_status_and_explanation_show_the_next_step() -> None:
    ledger = new_ledger()
    act(
        ledger,
        ActionChannel.PHONE,
        date(2025, 1, 2),
        next_step="call the CFO",
        next_step_on=date(2025, 1, 9),
    )

    status = ledger.escalation_status("ACME", date(2025, 1, 5))
    text = ledger.explain("ACME", date(2025, 1, 12)).text

    assert status.next_step is not None
    assert (date(2025, 1, 9), False) == (status.next_step.due_on, status.next_step.is_overdue)
    assert "Next step: call the CFO, on 2025-01-09 (overdue); agreed 2025-01-02 by li" in text


# Chasing before due -----------------------------------------------------------------------------


def c_rated_with_reminders(days_before_due: int = 5) -> Ledger:
    ledger = new_ledger("ACME", "BETA")
    for code, rating in (("ACME", RiskRating.C), ("BETA", RiskRating.A)):
        ledger.rate_risk(customer_code=code, rating=rating, rated_on=ISSUED_ON, reason="review")
        issue(ledger, f"{code}-1", "5000.00", code=code)
    adopt(
        ledger,
        pre_due_reminders=(
            PreDueReminderRule(days_before_due=days_before_due, rating_at_or_worse=3),
        ),
    )
    return ledger


def test_an_invoice_of_a_c_rated_customer_appears_for_a_pre_due_reminder_5_days_before_due() -> (
    None
):
    ledger = c_rated_with_reminders()

    assert item_of(worklist(ledger, date(2025, 1, 25))) is None  # six days before
    item = item_of(worklist(ledger, date(2025, 1, 26)))

    assert item is not None
    expected = PreDueReminder(
        invoice_number="ACME-1",
        due_on=DUE_ON,
        open_minor=500_000,
        remind_from_on=date(2025, 1, 26),
    )
    assert (expected,) == item.pre_due_reminders
    assert 0 == item.level


def test_an_a_rated_customer_is_not_chased_before_due_by_a_rule_for_c_and_worse() -> None:
    ledger = c_rated_with_reminders()

    assert item_of(worklist(ledger, date(2025, 1, 28)), "BETA") is None


def test_the_invoice_stays_for_a_reminder_until_its_due_date_and_then_escalates() -> None:
    ledger = c_rated_with_reminders()

    on_due = item_of(worklist(ledger, DUE_ON))
    after = item_of(worklist(ledger, date(2025, 2, 1)))

    assert on_due is not None
    assert 1 == len(on_due.pre_due_reminders)
    assert after is not None
    assert ((), 1) == (after.pre_due_reminders, after.level)


def test_a_recorded_reminder_satisfies_the_pre_due_reminder() -> None:
    ledger = c_rated_with_reminders()
    act(ledger, ActionChannel.EMAIL, date(2025, 1, 27))

    assert item_of(worklist(ledger, date(2025, 1, 26))) is not None
    assert item_of(worklist(ledger, date(2025, 1, 28))) is None


def test_a_reminder_before_the_window_opens_does_not_count() -> None:
    ledger = c_rated_with_reminders()
    act(ledger, ActionChannel.PHONE, date(2025, 1, 20))

    assert item_of(worklist(ledger, date(2025, 1, 27))) is not None


def test_an_action_on_a_channel_that_is_no_reminder_does_not_satisfy_it() -> None:
    ledger = c_rated_with_reminders()
    act(ledger, ActionChannel.VISIT, date(2025, 1, 27))

    assert item_of(worklist(ledger, date(2025, 1, 28))) is not None


def test_a_rule_by_amount_covers_large_invoices_of_any_customer() -> None:
    ledger = new_ledger()
    issue(ledger, "SMALL", "9999.99")
    issue(ledger, "LARGE", "10000.00")
    adopt(
        ledger,
        pre_due_reminders=(PreDueReminderRule(days_before_due=10, amount_at_least_major=10_000),),
    )

    item = item_of(worklist(ledger, date(2025, 1, 21)))

    assert item is not None
    assert ("LARGE",) == tuple(found.invoice_number for found in item.pre_due_reminders)


def test_a_paid_invoice_needs_no_reminder() -> None:
    ledger = c_rated_with_reminders()
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("5000.00"), value_on=date(2025, 1, 20)
    )
    ledger.allocate_payment("BANK-1", {"ACME-1": usd("5000.00")}, allocated_on=date(2025, 1, 20))

    assert item_of(worklist(ledger, date(2025, 1, 27))) is None


def test_without_a_pre_due_rule_no_invoice_is_chased_before_due() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "500000.00")

    assert [] == list(worklist(ledger, date(2025, 1, 30)))


def test_pre_due_reminders_are_in_the_explanation() -> None:
    ledger = c_rated_with_reminders()

    text = ledger.explain("ACME", date(2025, 1, 27)).text

    assert "invoice ACME-1: 5,000.00 USD due 2025-01-31, remind from 2025-01-26" in text


def test_a_pre_due_rule_with_negative_days_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        PreDueReminderRule(days_before_due=-1)


# Negotiation before legal -----------------------------------------------------------------------


def at_legal_with_negotiation_rule() -> Ledger:
    """ACME at level 4 legal from 2025-05-02 (91 days past due)."""
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, negotiation=NegotiationRule(from_level=4, within_days=180))
    return ledger


def test_a_legal_level_next_action_is_negotiate_first_until_a_visit_is_recorded() -> None:
    ledger = at_legal_with_negotiation_rule()

    before = item_of(worklist(ledger, date(2025, 5, 5)))
    act(ledger, ActionChannel.VISIT, date(2025, 5, 6))
    after = item_of(worklist(ledger, date(2025, 5, 7)))

    assert before is not None
    assert after is not None
    assert 4 == before.level
    expected = NextAction(
        action=NEGOTIATE_FIRST, level=4, due_on=date(2025, 5, 16), is_overdue=False
    )
    assert expected == before.next_action
    assert after.next_action is not None
    assert "lawyer_letter" == after.next_action.action


def test_a_demand_letter_at_the_demand_level_counts_as_the_negotiation() -> None:
    ledger = at_legal_with_negotiation_rule()
    act(ledger, ActionChannel.DEMAND_LETTER, date(2025, 4, 10))

    item = item_of(worklist(ledger, date(2025, 5, 5)))

    assert item is not None
    assert item.next_action is not None
    assert "lawyer_letter" == item.next_action.action


def test_a_negotiation_older_than_the_window_does_not_count() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, negotiation=NegotiationRule(from_level=4, within_days=10))
    act(ledger, ActionChannel.VISIT, date(2025, 4, 10))

    item = item_of(worklist(ledger, date(2025, 5, 5)))

    assert item is not None
    assert item.next_action is not None
    assert NEGOTIATE_FIRST == item.next_action.action


def test_below_the_rules_level_the_required_actions_do_not_wait() -> None:
    ledger = at_legal_with_negotiation_rule()

    item = item_of(worklist(ledger, date(2025, 4, 5)))  # level 3 demand

    assert item is not None
    assert item.next_action is not None
    assert (3, "demand_letter") == (item.level, item.next_action.action)


def test_the_explanation_says_why_legal_waits_and_what_lifted_it() -> None:
    ledger = at_legal_with_negotiation_rule()

    waiting = ledger.explain("ACME", date(2025, 5, 5)).text
    act(ledger, ActionChannel.VISIT, date(2025, 5, 6))
    done = ledger.explain("ACME", date(2025, 5, 7)).text

    assert "Next action: negotiate first" in waiting
    assert "Negotiation before legal (from level 4): none recorded in the 180 days" in waiting
    assert "Negotiation before legal (from level 4): visit on 2025-05-06 by li" in done


def test_an_approvers_override_lets_the_legal_actions_go_ahead_and_explain_names_it() -> None:
    ledger = at_legal_with_negotiation_rule()
    ledger.waive_negotiation(
        customer_code="ACME", waived_on=date(2025, 5, 6), approver="CFO", reason="customer gone"
    )

    before = item_of(worklist(ledger, date(2025, 5, 5)))
    after = item_of(worklist(ledger, date(2025, 5, 7)))
    text = ledger.explain("ACME", date(2025, 5, 7)).text

    assert before is not None
    assert after is not None
    assert before.next_action is not None
    assert after.next_action is not None
    actions = (before.next_action.action, after.next_action.action)
    assert (NEGOTIATE_FIRST, "lawyer_letter") == actions
    assert "(from level 4): waived by CFO on 2025-05-06: customer gone" in text


def test_an_override_without_an_approver_is_refused_and_nothing_is_recorded() -> None:
    ledger = at_legal_with_negotiation_rule()
    count = len(list(ledger.iter_events()))

    with pytest.raises(InvalidCommandError) as raised:
        ledger.waive_negotiation(
            customer_code="ACME", waived_on=date(2025, 5, 6), approver=" ", reason="gone"
        )

    assert "approver" == raised.value.field
    assert count == len(list(ledger.iter_events()))


# Strategy per delinquency type: diagnose first ------------------------------------------------


def test_a_customer_at_the_diagnosis_level_without_a_diagnosis_is_to_be_diagnosed_first() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, diagnose_from_level=2, negotiation=NegotiationRule(from_level=4))

    reminder = item_of(worklist(ledger, date(2025, 2, 5)))  # level 1: below the rule
    pursuit = item_of(worklist(ledger, date(2025, 3, 5)))  # level 2
    ledger.diagnose(
        customer_code="ACME",
        delinquency_type=DelinquencyType.CASH_FLOW_SQUEEZE,
        diagnosed_on=date(2025, 3, 6),
        note="waiting for its own customer's payment",
    )
    diagnosed = item_of(worklist(ledger, date(2025, 3, 7)))
    legal = item_of(worklist(ledger, date(2025, 5, 5)))  # diagnosed: negotiation is next
    text = ledger.explain("ACME", date(2025, 3, 5)).text

    actions = [
        None if item is None or item.next_action is None else item.next_action.action
        for item in (reminder, pursuit, diagnosed, legal)
    ]
    assert ["overdue_notice", DIAGNOSE, "finance_letter", NEGOTIATE_FIRST] == actions
    assert "Diagnosis (from level 2): none recorded" in text
    assert "Diagnosis (from level 2): cash flow squeeze on 2025-03-06" in (
        ledger.explain("ACME", date(2025, 3, 7)).text
    )


def test_a_deliberate_delay_diagnosis_adds_the_actions_the_policy_maps_it_to() -> None:
    ledger = new_ledger("ACME", "BETA")
    for code in ("ACME", "BETA"):
        issue(ledger, f"{code}-1", "5000.00", code=code)
        act(ledger, ActionChannel.OVERDUE_NOTICE, date(2025, 2, 1), code=code)
        act(ledger, ActionChannel.PHONE, date(2025, 2, 2), code=code)
    adopt(ledger, delinquency_actions={"deliberate_delay": ("demand_letter", "phone")})
    ledger.diagnose(
        customer_code="ACME",
        delinquency_type=DelinquencyType.DELIBERATE_DELAY,
        diagnosed_on=date(2025, 2, 3),
        note="pays its other suppliers on time",
    )

    found = worklist(ledger, date(2025, 2, 4))
    status = ledger.escalation_status("ACME", date(2025, 2, 4))

    acme, beta = item_of(found, "ACME"), item_of(found, "BETA")
    assert acme is not None
    assert beta is not None
    expected = NextAction(
        action="demand_letter", level=1, due_on=date(2025, 2, 4), is_overdue=False
    )
    assert expected == acme.next_action
    assert beta.next_action is None  # not diagnosed: the level's own actions are all taken
    assert ("phone", "overdue_notice") == status.actions_done  # the type's first


def test_a_strategy_for_an_unknown_delinquency_type_is_refused() -> None:
    ledger = new_ledger()

    with pytest.raises(ConfigurationError) as raised:
        adopt(ledger, delinquency_actions={"bad_luck": ("visit",)})

    assert "delinquency_actions" == raised.value.field


def test_policies_stored_before_the_strategy_settings_decode_with_them_off() -> None:
    old = EscalationPolicy(version=2)
    data = CONVERTER.unstructure(old)
    for name in (
        "pre_due_reminders",
        "pre_due_reminder_channels",
        "negotiation",
        "diagnose_from_level",
        "delinquency_actions",
    ):
        del data[name]

    decoded = decode_policy(json.dumps(data))

    assert ((), None, 0) == (
        decoded.pre_due_reminders,
        decoded.negotiation,
        decoded.diagnose_from_level,
    )
    assert old == decoded


def test_the_fast_paths_missing_date_is_the_columnar_logs_null_date() -> None:
    """``reports.ABSENT_DATE`` reads ``next_step_on`` of actions without a next step."""
    assert NULL_DATE == ABSENT_DATE
