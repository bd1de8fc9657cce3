"""The worklist: customers needing action, in the policy's priority order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from math import lcm
from typing import TypeAlias

from arledger.domain.policy import (
    EscalationPolicy,
    WorklistKey,
)
from arledger.domain.rules import require_date
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES

from ..portfolio import (
    PortfolioState,
)
from .evaluate import _Evaluator, _payments_by_customer, narrow
from .results import WorklistItem
from .status import _entered_on, _next_action, next_step, pre_due_reminders


def worklist(state: PortfolioState, as_of: date, *, owner: str | None = None) -> list[WorklistItem]:
    """Customers at level 1 or above on ``as_of``, or with a reconciliation item open then, a
    next step due by then or an invoice wanting a pre-due reminder (of one owner, if given),
    most urgent first.

    The order follows ``worklist_priority`` of the policy in force on ``as_of``, each key
    descending, then the customer code. Overdue amounts in different currencies are compared
    as a share of each currency's "large" threshold (``large_above_minor``), never as raw minor
    units: 50,000.00 USD and 50,000.00 CNY are not the same urgency.
    """
    require_date("as_of", as_of)
    policy = state.policy_on(as_of)
    payments_by_customer = _payments_by_customer(state)
    items = []
    for customer_id, customer in state.customers.items():
        if customer.opened_on > as_of:
            continue
        if owner is not None and customer.owner_on(as_of) != owner:
            continue
        # The worklist needs no history or next threshold: only the date the level was
        # entered, for the next action, so it walks back instead of replaying every change.
        view = narrow(state, customer_id, as_of, payments_by_customer=payments_by_customer)
        evaluator = _Evaluator(view, customer_id)
        current = evaluator.evaluate(as_of)
        reconciliations = customer.reconciliations_open_on(as_of)
        step = next_step(view, customer_id, as_of)
        if step is not None and step.due_on > as_of:
            step = None  # not yet: the customer comes back on the step's date
        reminders = pre_due_reminders(view, customer_id, as_of)
        if current.level == 0 and not reconciliations and step is None and not reminders:
            continue
        entered_on = _entered_on(evaluator, as_of)
        next_action, _ = _next_action(
            view, customer_id, as_of, current, entered_on, evaluator.standing(as_of)
        )
        items.append(
            WorklistItem(
                customer_id=customer_id,
                customer_code=customer.customer_code,
                name=customer.name,
                owner=customer.owner_on(as_of),
                currency=current.currency,
                level=current.level,
                level_name=current.level_name,
                grade=current.grade,
                overdue_minor=current.overdue_minor,
                days_past_due_max=current.days_past_due_max,
                broken_promises=current.broken_promises,
                is_suspended=current.is_suspended,
                next_action=next_action,
                reconciliations=reconciliations,
                next_step=step,
                pre_due_reminders=reminders,
            )
        )
    return sort_worklist(items, policy)


def sort_worklist(items: list[WorklistItem], policy: EscalationPolicy) -> list[WorklistItem]:
    """The worklist order (``worklist_order``) of ``items``."""
    order = worklist_order(
        [
            (
                item.level,
                item.overdue_minor,
                item.days_past_due_max,
                item.broken_promises,
                item.currency,
                item.customer_code,
            )
            for item in items
        ],
        policy,
    )
    return [items[index] for index in order]


WorklistFigures: TypeAlias = tuple[int, int, int, int, str, str]
"""Level, overdue minor units, days past due, broken promises, currency, customer code."""


def worklist_order(figures: Sequence[WorklistFigures], policy: EscalationPolicy) -> list[int]:
    """Positions of ``figures`` in worklist order: ``policy.worklist_priority``'s keys
    descending, then the customer code. Overdue amounts compare as shares of each currency's
    "large" threshold, exactly: every share is scaled to one common denominator (the
    thresholds' least common multiple), so the keys are integers and no fraction is built."""
    denominators = {
        currency: max(1, policy.large_above_minor(currency)) for *_, currency, _ in figures
    }
    common = lcm(*denominators.values()) if denominators else 1
    scale = {currency: common // denominator for currency, denominator in denominators.items()}
    position = {
        WorklistKey.LEVEL: 0,
        WorklistKey.OVERDUE_AMOUNT: 1,
        WorklistKey.DAYS_PAST_DUE: 2,
        WorklistKey.BROKEN_PROMISES: 3,
    }
    chosen = [position[key] for key in policy.worklist_priority]
    keys = []
    for level, overdue, days_past_due, broken, currency, _ in figures:
        values = (level, overdue * scale[currency], days_past_due, broken)
        keys.append(tuple(values[at] for at in chosen))
    order = sorted(range(len(figures)), key=lambda index: figures[index][5])
    order.sort(key=keys.__getitem__, reverse=True)  # stable: codes stay ascending within ties
    return order
