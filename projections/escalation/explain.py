"""Explanations in words and figures of a customer's status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import assert_never
from uuid import UUID

from arledger.domain.money import format_minor
from arledger.domain.policy import (
    EscalationPolicy,
    TriggerRule,
    action_in_words,
)
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES

from ..portfolio import (
    PortfolioState,
    WaiverFacts,
)
from ..promises import PromiseStatus, judge_all
from .results import (
    EXPLAIN_INVOICES_SHOWN_MAX,
    NEXT_THRESHOLD_HORIZON_DAYS,
    RATING_ORDINAL,
    EscalationStatus,
    Reason,
    Suspension,
    SuspensionKind,
)
from .status import escalation_status, latest_diagnosis, negotiated_on

BROKEN_STATUSES = (PromiseStatus.BROKEN, PromiseStatus.PARTLY_KEPT)

# Explanation ----------------------------------------------------------------------------------


def explain(
    state: PortfolioState,
    customer_id: UUID,
    as_of: date,
    *,
    status: EscalationStatus | None = None,
) -> str:
    """Why the customer stands at its level on ``as_of``, in words and figures (from
    ``status``, that customer's ``escalation_status`` on ``as_of``, when already worked out)."""
    if status is None:
        status = escalation_status(state, customer_id, as_of)
    assert status.customer_id == customer_id
    assert status.as_of == as_of
    current = status.current
    policy = state.policy_on(as_of)
    currency = current.currency
    standing_lines = _standing(state, customer_id, as_of, policy, current.level)
    adjusted = bool(standing_lines)
    lines = [
        f"{status.customer_code} ({status.name}), owner {status.owner}, as of {as_of}, "
        f"policy version {current.policy_version}",
        f"Level {current.level} {current.level_name}"
        + (
            f" (the triggers alone give level {current.raw_level}; held by an open promise"
            + (" or the delinquency strategy" if adjusted else "")
            + ")"
            if current.is_suspended
            else ""
        ),
    ]
    lines.extend(standing_lines)
    if current.grade is None:
        lines.append("Grade: none, nothing counted is overdue")
    else:
        lines.append(
            f"Grade: {current.grade.value.replace('_', ' ')} "
            f"({current.days_past_due_max} days past due, long after {policy.long_after_days}; "
            f"{format_money(current.overdue_minor, currency)} overdue, large above "
            f"{format_money(policy.large_above_minor(currency), currency)})"
        )
    disputed_note = "counted" if policy.disputed_counts else "not counted"
    lines.append(
        f"Overdue {format_money(current.overdue_minor, currency)}; in dispute "
        f"{format_money(current.disputed_minor, currency)} ({disputed_note} by policy); "
        f"broken promises {current.broken_promises}"
    )
    lines.append("Reasons:" if current.reasons else "Reasons: no trigger fires")
    lines.extend(f"  - {_describe(reason, currency, policy)}" for reason in current.reasons)
    lines.extend(f"  - {line}" for line in _missed_tranches(state, customer_id, as_of))
    lines.append("Suspensions:" if current.suspensions else "Suspensions: none")
    for suspension in current.suspensions:
        lines.append(f"  - {_describe_suspension(suspension, currency)}")
    if status.next_action is not None:
        action = status.next_action
        lines.append(
            f"Next action: {action_in_words(action.action)}, due {action.due_on}"
            + (" (overdue)" if action.is_overdue else "")
            + f"; level {current.level} entered {status.level_entered_on}"
        )
    elif current.level > 0:
        lines.append(f"Next action: none, every required action of level {current.level} taken")
    else:
        lines.append("Next action: none required")
    if policy.diagnose_from_level and current.level >= policy.diagnose_from_level:
        diagnoses = [d for d in state.diagnoses.get(customer_id, ()) if d.diagnosed_on <= as_of]
        lines.append(
            f"Diagnosis (from level {policy.diagnose_from_level}): "
            + (
                "none recorded, so the level's actions wait: diagnose the cause first"
                if not diagnoses
                else f"{diagnoses[-1].delinquency_type.value.replace('_', ' ')} on "
                f"{diagnoses[-1].diagnosed_on}: {diagnoses[-1].note}"
            )
        )
    rule = policy.negotiation
    if rule is not None and current.level >= rule.from_level:
        channels = ", ".join(channel.replace("_", " ") for channel in rule.channels)
        negotiation = negotiated_on(state, customer_id, as_of)
        lines.append(
            f"Negotiation before legal (from level {rule.from_level}): "
            + (
                f"none recorded in the {rule.within_days} days to {as_of} ({channels}) and no "
                "approver's override, so the level's actions wait: negotiate first"
                if negotiation is None
                else f"waived by {negotiation.approver} on {negotiation.waived_on}: "
                f"{negotiation.reason}"
                if isinstance(negotiation, WaiverFacts)
                else f"{negotiation.channel.value.replace('_', ' ')} on {negotiation.taken_on} "
                f"by {negotiation.collector}: {negotiation.outcome}"
            )
        )
    if status.next_step is not None:
        step = status.next_step
        lines.append(
            f"Next step: {step.step}, on {step.due_on}"
            + (" (overdue)" if step.is_overdue else "")
            + f"; agreed {step.agreed_on} by {step.collector}"
        )
    if status.pre_due_reminders:
        lines.append("Pre-due reminders wanted (chasing before due):")
        lines.extend(
            f"  - invoice {item.invoice_number}: {format_money(item.open_minor, currency)} "
            f"due {item.due_on}, remind from {item.remind_from_on}"
            for item in status.pre_due_reminders
        )
    lines.append("History:" if status.history else "History: always level 0")
    lines.extend(
        f"  {change.on} level {change.previous_level} -> {change.level} {change.level_name} "
        f"(policy version {change.policy_version})"
        for change in status.history
    )
    if status.next_threshold is None:
        lines.append(
            f"Next threshold: none within {NEXT_THRESHOLD_HORIZON_DAYS} days if nothing happens"
        )
    else:
        crossing = status.next_threshold
        firing = "; ".join(
            _describe(reason, currency, policy)
            for reason in crossing.reasons
            if reason.level == crossing.level
        )
        lines.append(
            f"Next threshold: {crossing.on} level {crossing.level} {crossing.level_name} "
            f"if nothing happens ({firing})"
        )
    lines.append(
        "Supply hold: " + ("recommended" if status.supply_hold_recommended else "not recommended")
    )
    if status.reconciliations:
        lines.append("Reconciliation items open (differences the customer acknowledged):")
        lines.extend(
            f"  - confirmation {item.confirmation_reference}: difference "
            f"{format_money(item.difference_minor, item.currency)} open since {item.opened_on}"
            for item in status.reconciliations
        )
    return "\n".join(lines)


def _standing(
    state: PortfolioState, customer_id: UUID, as_of: date, policy: EscalationPolicy, level: int
) -> list[str]:
    """Lines on what adjusts the level on ``as_of``: the latest diagnosis's type where the
    policy adjusts for it, a bankruptcy filed, fraud suspected (``adjusted_level``)."""
    lines = []
    top = len(policy.levels) - 1
    diagnosis = latest_diagnosis(state, customer_id, as_of)
    adjustment = (
        None
        if diagnosis is None
        else policy.delinquency_adjustments.get(diagnosis.delinquency_type.value)
    )
    if diagnosis is not None and adjustment is not None and level >= 1:
        found = diagnosis.delinquency_type.value.replace("_", " ")
        effects = []
        if adjustment.level_offset:
            effects.append(f"levels {adjustment.level_offset:+d} (between 1 and {top})")
        if adjustment.level_max is not None:
            effects.append(f"escalation paused at most at level {adjustment.level_max}")
        if adjustment.routes_to is not None:
            effects.append(f"routed to {action_in_words(adjustment.routes_to)}")
        lines.append(
            f"Strategy for {found} (diagnosed {diagnosis.diagnosed_on}, policy version "
            f"{policy.version}): " + ("; ".join(effects) or "no level adjustment")
        )
    customer = state.customers[customer_id]
    for name, dates, effect in (
        ("Bankruptcy filed", customer.bankruptcy_filed, policy.bankruptcy_filed),
        ("Fraud suspected", customer.fraud_suspected, policy.fraud_suspected),
    ):
        known = [on for on in dates if on <= as_of]
        if not known:
            continue
        floor = top if effect.level_at_least is None else effect.level_at_least
        actions = (
            ", ".join(action_in_words(action) for action in effect.required_actions)
            if effect.required_actions
            else "the level's own"
        )
        lines.append(
            f"{name} on {known[0]}: at least level {floor}; supply "
            + ("held" if effect.supply_hold else "not held by it")
            + f"; required actions: {actions} (policy version {policy.version})"
        )
    return lines


def format_money(amount_minor: int, currency: str) -> str:
    """An amount for people: thousands separated, exact decimals, then the currency."""
    return f"{Decimal(format_minor(amount_minor, currency)):,} {currency}"


def _describe(reason: Reason, currency: str, policy: EscalationPolicy) -> str:
    name = policy.level(reason.level).name if reason.level < len(policy.levels) else "?"
    rule = reason.rule
    match rule:
        case TriggerRule.DAYS_PAST_DUE:
            figure = f"{reason.actual} days past due >= {reason.threshold}"
        case TriggerRule.OVERDUE_AMOUNT:
            actual = format_money(reason.actual, currency)
            figure = f"{actual} overdue >= {format_money(reason.threshold, currency)}"
        case TriggerRule.BROKEN_PROMISES:
            figure = f"{reason.actual} broken promises >= {reason.threshold}"
        case TriggerRule.RISK_RATING:
            worst = _rating(reason.threshold)
            figure = f"risk rating {_rating(reason.actual)} at or worse than {worst}"
        case TriggerRule.BLACKLISTED:
            figure = "on the blacklist"
        case TriggerRule.OVERDUE_INVOICE_COUNT:
            figure = f"{reason.actual} invoices overdue >= {reason.threshold}"
        case _ as unreachable:
            assert_never(unreachable)
    involved = []
    if reason.invoice_numbers:
        involved.append("invoices " + _listed(reason.invoice_numbers))
    if reason.promise_references:
        involved.append("promises " + ", ".join(reason.promise_references))
    where = "; ".join([f"policy version {reason.policy_version}", *involved])
    return f"level {reason.level} {name}: {rule.value.replace('_', ' ')}, {figure} ({where})"


def _missed_tranches(state: PortfolioState, customer_id: UUID, as_of: date) -> list[str]:
    """Why a promise in tranches is broken before its last date: the tranche it missed."""
    lines = []
    for judgement in judge_all(state, as_of, customer_id=customer_id):
        if len(judgement.tranches) < 2 or judgement.status not in BROKEN_STATUSES:
            continue
        missed = min(
            (t for t in judgement.tranches if t.status in BROKEN_STATUSES),
            key=lambda t: t.deadline_on,
        )
        lines.append(
            f"promise {judgement.reference} {judgement.status.value.replace('_', ' ')} on "
            f"{judgement.judged_on}: its tranche of "
            f"{format_money(missed.promised_minor, judgement.currency)} due {missed.promised_on} "
            f"(deadline {missed.deadline_on}) had "
            f"{format_money(missed.paid_minor, judgement.currency)} paid"
        )
    return lines


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:EXPLAIN_INVOICES_SHOWN_MAX])
    if len(names) <= EXPLAIN_INVOICES_SHOWN_MAX:
        return shown
    return f"{shown} and {len(names) - EXPLAIN_INVOICES_SHOWN_MAX} more"


def _rating(ordinal: int) -> str:
    for rating, number in RATING_ORDINAL.items():
        if number == ordinal:
            return rating.value
    return str(ordinal)


def _describe_suspension(suspension: Suspension, currency: str) -> str:
    amount = format_money(suspension.amount_minor, currency)
    invoices = f" on {', '.join(suspension.invoice_numbers)}" if suspension.invoice_numbers else ""
    if suspension.kind is SuspensionKind.DISPUTE:
        return (
            f"dispute {suspension.reference}{invoices}: {amount} open since {suspension.since_on}"
        )
    held = (
        f"; escalation held at level {suspension.level_cap}"
        if suspension.level_cap is not None
        else "; the policy lets no promise suspend escalation"
    )
    return (
        f"promise {suspension.reference}{invoices}: {amount} made {suspension.since_on}, "
        f"open until {suspension.until_on}{held}"
    )
