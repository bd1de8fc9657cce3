"""Escalation status: where a customer stands on the policy's escalation ladder, as of a date.

Everything is worked out from the portfolio facts and the policy version in force on the date
asked about (``PortfolioState.policy_on``); nothing is stored and nothing is scheduled.

- Figures: per open invoice, the undisputed overdue amount and the days past due of its oldest
  undisputed overdue part (``as_of - due_on``, an instalment due today is not overdue). Unless
  the policy says disputed money counts, what is in open dispute is taken off the invoice's
  overdue parts, oldest first (as the credit note of an upheld dispute would be), so a fully
  disputed invoice adds neither money nor days. Broken promises are those judged broken (and,
  by policy, partly kept) as of the date.
- Raw level: the highest level with a firing trigger. Reasons: for each rule, its firing
  trigger of the highest level, with the policy version, threshold, actual figure and the
  invoices (and promises) involved.
- Suspension: while a promise is open (made and neither kept, withdrawn, superseded nor past
  its date plus tolerance) and the policy lets promises suspend, the levels reached through the
  passage of time (days past due, overdue amount, broken promises) stay capped at the level
  they gave on the day the earliest open promise was made. Levels from decisions (risk rating,
  blacklisting) are never suspended. Open disputes are listed as suspensions for their invoices.
- Adjustment: the level (after any suspension) is then adjusted for the customer's standing
  on the date, its latest diagnosis's type and any bankruptcy filed or fraud suspected by
  then (``EscalationPolicy.adjusted_level``: a type's offset, pause and route, the distress
  effects' floors); the raw level stays the triggers' own.
- History: the level is evaluated on every date on which it can change (business dates of the
  customer's facts, each instalment's due date plus each day-count threshold, each promise's
  deadline plus one, each policy's effective date, each diagnosis and distress event); the
  changes are the history.
- Next threshold: the same dates after ``as_of``, within ``NEXT_THRESHOLD_HORIZON_DAYS``,
  evaluated on the facts as of ``as_of`` alone ("if nothing happens"): the first date the level
  rises.

Invariant: a status as of a date depends only on facts dated on or before it; every query first
narrows the portfolio to the customer's facts dated by then (``narrow``). So a replay of the
log gives the live answer, and a policy version changes nothing dated before it takes effect.

Modules: ``results`` (the result types), ``evaluate`` (the ladder evaluated on candidate dates),
``status`` (one customer's status, next action and history), ``worklist`` (the priority order)
and ``explain`` (words and figures); every name is re-exported here, as before the split.
"""

from __future__ import annotations

from arledger.domain.trigger_rules import TIME_RULES

from .evaluate import (
    _RULE_SLOTS,
    ROWS_X_DAYS_MAX,
    _broken,
    _by,
    _CompiledTrigger,
    _Evaluator,
    _history_until,
    _InstalmentRows,
    _LeanLevels,
    _payment_until,
    _payments_by_customer,
    _promise_until,
    _Raw,
    _Timeline,
    candidate_day_counts,
    evaluate,
    narrow,
)
from .explain import _describe, _describe_suspension, _listed, _rating, explain, format_money
from .results import (
    EXPLAIN_INVOICES_SHOWN_MAX,
    NEXT_THRESHOLD_HORIZON_DAYS,
    RATING_ORDINAL,
    EscalationStatus,
    Evaluation,
    InvoiceFigures,
    LevelChange,
    NextAction,
    NextStep,
    PreDueReminder,
    Reason,
    Suspension,
    SuspensionKind,
    ThresholdCrossing,
    WorklistItem,
)
from .status import (
    _entered_on,
    _history,
    _next_action,
    escalation_status,
    latest_diagnosis,
    negotiated_on,
    next_step,
    pre_due_reminders,
    waits_for_diagnosis,
    waits_for_negotiation,
)
from .worklist import WorklistFigures, sort_worklist, worklist, worklist_order

__all__ = [
    "EXPLAIN_INVOICES_SHOWN_MAX",
    "NEXT_THRESHOLD_HORIZON_DAYS",
    "RATING_ORDINAL",
    "ROWS_X_DAYS_MAX",
    "TIME_RULES",
    "_RULE_SLOTS",
    "EscalationStatus",
    "Evaluation",
    "InvoiceFigures",
    "LevelChange",
    "NextAction",
    "NextStep",
    "PreDueReminder",
    "Reason",
    "Suspension",
    "SuspensionKind",
    "ThresholdCrossing",
    "WorklistFigures",
    "WorklistItem",
    "_CompiledTrigger",
    "_Evaluator",
    "_InstalmentRows",
    "_LeanLevels",
    "_Raw",
    "_Timeline",
    "_broken",
    "_by",
    "_describe",
    "_describe_suspension",
    "_entered_on",
    "_history",
    "_history_until",
    "_listed",
    "_next_action",
    "_payment_until",
    "_payments_by_customer",
    "_promise_until",
    "_rating",
    "candidate_day_counts",
    "escalation_status",
    "evaluate",
    "explain",
    "format_money",
    "latest_diagnosis",
    "narrow",
    "negotiated_on",
    "next_step",
    "pre_due_reminders",
    "sort_worklist",
    "waits_for_diagnosis",
    "waits_for_negotiation",
    "worklist",
    "worklist_order",
]
