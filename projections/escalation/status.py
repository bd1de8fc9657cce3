"""One customer's escalation status: its level, when it was entered, its next action."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from uuid import UUID

from arledger.domain.policy import (
    DIAGNOSE,
    NEGOTIATE_FIRST,
)
from arledger.domain.rules import require_date
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES

from ..portfolio import (
    ActionFacts,
    DiagnosisFacts,
    PortfolioState,
    WaiverFacts,
)
from .evaluate import _Evaluator, narrow
from .results import (
    NEXT_THRESHOLD_HORIZON_DAYS,
    RATING_ORDINAL,
    EscalationStatus,
    Evaluation,
    LevelChange,
    NextAction,
    NextStep,
    PreDueReminder,
    ThresholdCrossing,
)


def escalation_status(state: PortfolioState, customer_id: UUID, as_of: date) -> EscalationStatus:
    """Level, grade, reasons, suspensions, next action, history and next threshold."""
    require_date("as_of", as_of)
    view = narrow(state, customer_id, as_of)
    evaluator = _Evaluator(view, customer_id)
    current = evaluator.evaluate(as_of)
    candidates = evaluator.candidate_dates()
    history = _history(evaluator, sorted({on for on in candidates if on < as_of} | {as_of}))
    assert current.level == (history[-1].level if history else 0)
    entered_on = history[-1].on if history and current.level > 0 else None
    rung = view.policy_on(as_of).level(current.level)
    next_action, actions_done = _next_action(
        view, customer_id, as_of, current, entered_on, evaluator.standing(as_of)
    )
    _, bankrupt, fraud = evaluator.standing(as_of)
    horizon_on = as_of + timedelta(days=NEXT_THRESHOLD_HORIZON_DAYS)
    crossing = None
    ahead_dates = sorted(on for on in candidates if as_of < on <= horizon_on)
    for on, (level_ahead, _) in zip(ahead_dates, evaluator.levels(ahead_dates), strict=True):
        if level_ahead > current.level:
            ahead = evaluator.evaluate(on)
            assert ahead.level == level_ahead
            crossing = ThresholdCrossing(
                on=on, level=ahead.level, level_name=ahead.level_name, reasons=ahead.reasons
            )
            break
    customer = view.customers[customer_id]
    return EscalationStatus(
        customer_id=customer_id,
        customer_code=customer.customer_code,
        name=customer.name,
        owner=customer.owner_on(as_of),
        as_of=as_of,
        current=current,
        level_entered_on=entered_on,
        next_action=next_action,
        actions_done=actions_done,
        history=history,
        next_threshold=crossing,
        supply_hold_recommended=view.policy_on(as_of).supply_hold_at(
            rung.level, bankrupt=bankrupt, fraud=fraud
        ),
        reconciliations=customer.reconciliations_open_on(as_of),
        next_step=next_step(view, customer_id, as_of),
        pre_due_reminders=pre_due_reminders(view, customer_id, as_of),
    )


def _next_action(
    view: PortfolioState,
    customer_id: UUID,
    as_of: date,
    current: Evaluation,
    entered_on: date | None,
    standing: tuple[str | None, bool, bool],
) -> tuple[NextAction | None, tuple[str, ...]]:
    """The first required action of the current level (``EscalationPolicy.required_actions``
    for the customer's ``standing`` on ``as_of``: the latest diagnosis's type, bankruptcy
    filed, fraud suspected) not taken since it was entered (due ``action_due_days`` after
    entering), and those taken. An action the standing routes to, or requires in place of
    the level's, waits for no negotiation: it is not the escalation."""
    if entered_on is None:
        return None, ()
    policy = view.policy_on(as_of)
    rung = policy.level(current.level)
    delinquency_type, bankrupt, fraud = standing
    required = policy.required_actions(
        current.level, delinquency_type, bankrupt=bankrupt, fraud=fraud
    )
    replaced = policy.replaces_actions(delinquency_type, bankrupt=bankrupt, fraud=fraud)
    taken = {
        action.channel.value
        for action in view.actions.get(customer_id, ())
        if entered_on <= action.taken_on <= as_of
    }
    done = tuple(action for action in required if action in taken)
    due_on = entered_on + timedelta(days=rung.action_due_days)
    for action in required:
        if action not in taken:
            if not replaced and waits_for_diagnosis(view, customer_id, as_of, current.level):
                action = DIAGNOSE
            elif not replaced and waits_for_negotiation(view, customer_id, as_of, current.level):
                action = NEGOTIATE_FIRST
            return NextAction(
                action=action, level=rung.level, due_on=due_on, is_overdue=due_on < as_of
            ), done
    return None, done


def latest_diagnosis(
    state: PortfolioState, customer_id: UUID, as_of: date
) -> DiagnosisFacts | None:
    """The diagnosis that stands on ``as_of``: the latest dated by then (of one day, the last
    recorded)."""
    found = None
    for diagnosis in state.diagnoses.get(customer_id, ()):
        dated = diagnosis.diagnosed_on <= as_of
        if dated and (found is None or diagnosis.diagnosed_on >= found.diagnosed_on):
            found = diagnosis
    return found


def waits_for_diagnosis(state: PortfolioState, customer_id: UUID, as_of: date, level: int) -> bool:
    """Whether the policy in force on ``as_of`` wants the customer's cause of late payment
    diagnosed at ``level`` (``diagnose_from_level``) and none is recorded by ``as_of``."""
    from_level = state.policy_on(as_of).diagnose_from_level
    if from_level == 0 or level < from_level:
        return False
    return not any(
        diagnosis.diagnosed_on <= as_of for diagnosis in state.diagnoses.get(customer_id, ())
    )


def waits_for_negotiation(
    state: PortfolioState, customer_id: UUID, as_of: date, level: int
) -> bool:
    """Whether the policy in force on ``as_of`` holds the actions of ``level`` until a
    negotiation is recorded (``NegotiationRule``), and none is: no action on one of its
    channels dated within its window up to ``as_of``."""
    rule = state.policy_on(as_of).negotiation
    if rule is None or level < rule.from_level:
        return False
    return negotiated_on(state, customer_id, as_of) is None


def negotiated_on(
    state: PortfolioState, customer_id: UUID, as_of: date
) -> ActionFacts | WaiverFacts | None:
    """The latest negotiation or approver's override counted on ``as_of`` under the policy in
    force then (an action on one of ``NegotiationRule.channels``, or a waiver, dated within
    ``within_days`` days up to ``as_of``; of one day, a waiver before an action); None when
    there is none, or the policy asks for none."""
    rule = state.policy_on(as_of).negotiation
    if rule is None:
        return None
    since = as_of - timedelta(days=rule.within_days)
    found: ActionFacts | WaiverFacts | None = None
    found_on = date.min
    for action in state.actions.get(customer_id, ()):
        counted = action.channel.value in rule.channels and since <= action.taken_on <= as_of
        if counted and (found is None or action.taken_on >= found_on):
            found, found_on = action, action.taken_on
    for waiver in state.waivers.get(customer_id, ()):
        if since <= waiver.waived_on <= as_of and (found is None or waiver.waived_on >= found_on):
            found, found_on = waiver, waiver.waived_on
    return found


def next_step(state: PortfolioState, customer_id: UUID, as_of: date) -> NextStep | None:
    """The next step agreed by the customer's latest action taken by ``as_of`` (the last
    recorded among those of one day), if it has a date; None otherwise. A later action
    replaces the plan: taking it is the follow-up, and it agrees the next step, if any."""
    latest = None
    for action in state.actions.get(customer_id, ()):
        if action.taken_on <= as_of and (latest is None or action.taken_on >= latest.taken_on):
            latest = action
    if latest is None or latest.next_step_on is None:
        return None
    return NextStep(
        step=latest.next_step,
        due_on=latest.next_step_on,
        is_overdue=latest.next_step_on < as_of,
        agreed_on=latest.taken_on,
        collector=latest.collector,
    )


def pre_due_reminders(
    state: PortfolioState, customer_id: UUID, as_of: date
) -> tuple[PreDueReminder, ...]:
    """The customer's open invoices that the policy in force on ``as_of`` wants a reminder for
    before their due date (``EscalationPolicy.pre_due_days``, by the rating on ``as_of`` and
    the open amount then), whose window (``PreDueReminder``) holds ``as_of`` and in which no
    reminder was recorded (an action on a ``pre_due_reminder_channels`` channel, taken from
    the window's first day to ``as_of``); by due date, then invoice number."""
    policy = state.policy_on(as_of)
    if not policy.pre_due_reminders:
        return ()
    customer = state.customers[customer_id]
    rating = customer.rating_on(as_of)
    ordinal = 0 if rating is None else RATING_ORDINAL[rating]
    channels = set(policy.pre_due_reminder_channels)
    reminded = [
        action.taken_on
        for action in state.actions.get(customer_id, ())
        if action.channel.value in channels and action.taken_on <= as_of
    ]
    found = []
    for facts in state.invoices_of(customer_id):
        invoice = facts.as_of(as_of)
        if invoice.issued_on > as_of or invoice.due_on < as_of:
            continue
        open_minor = invoice.open_minor_on(as_of)
        if open_minor == 0:
            continue
        days_before = policy.pre_due_days(ordinal, open_minor, customer.currency)
        if days_before is None:
            continue
        remind_from_on = max(invoice.issued_on, invoice.due_on - timedelta(days=days_before))
        if as_of < remind_from_on or any(remind_from_on <= on for on in reminded):
            continue
        found.append(
            PreDueReminder(
                invoice_number=invoice.invoice_number,
                due_on=invoice.due_on,
                open_minor=open_minor,
                remind_from_on=remind_from_on,
            )
        )
    return tuple(sorted(found, key=lambda item: (item.due_on, item.invoice_number)))


def _entered_on(evaluator: _Evaluator, as_of: date) -> date | None:
    """When the current level was entered, found walking back from ``as_of`` (the date of the
    history's last change, without evaluating the whole history)."""
    level = evaluator.evaluate(as_of).level
    if level == 0:
        return None
    entered_on = as_of
    for on in sorted((on for on in evaluator.candidate_dates() if on < as_of), reverse=True):
        if evaluator.evaluate(on).level != level:
            return entered_on
        entered_on = on
    return entered_on


def _history(evaluator: _Evaluator, dates: Sequence[date]) -> tuple[LevelChange, ...]:
    changes = []
    level = 0
    for on, (level_on, policy) in zip(dates, evaluator.levels(dates), strict=True):
        if level_on != level:
            changes.append(
                LevelChange(
                    on=on,
                    level=level_on,
                    level_name=policy.level(level_on).name,
                    previous_level=level,
                    policy_version=policy.version,
                )
            )
            level = level_on
    return tuple(changes)
