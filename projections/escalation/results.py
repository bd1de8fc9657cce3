"""The escalation's results: evaluations, statuses, worklist items and their parts."""

from __future__ import annotations

import enum
from datetime import date
from typing import Final, TypeVar
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.events import RiskRating
from arledger.domain.policy import (
    Grade,
    TriggerRule,
)
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES
from arledger.domain.trigger_rules import FigureUnit

from ..portfolio import (
    OpenReconciliation,
)

V = TypeVar("V")

NEXT_THRESHOLD_HORIZON_DAYS: Final = 3 * 365 + 1
"""How far past ``as_of`` the next threshold is looked for: three years covers every trigger of
a sensible policy on any invoice already due; a crossing further off is not predicted."""

EXPLAIN_INVOICES_SHOWN_MAX: Final = 10
"""Invoices named per reason in ``explain``; the reason itself keeps them all."""

RATING_ORDINAL: Final = {RiskRating.A: 1, RiskRating.B: 2, RiskRating.C: 3, RiskRating.D: 4}
"""The RISK_RATING trigger fires for a rating at or worse than its threshold (1=A .. 4=D)."""


class SuspensionKind(enum.Enum):
    PROMISE = "promise"
    DISPUTE = "dispute"


@attrs.frozen(kw_only=True)
class InvoiceFigures:
    """One open invoice as the escalation rules see it on a date."""

    invoice_number: str
    open_minor: int
    disputed_minor: int
    overdue_minor: int
    """Overdue and counted: without what is in dispute unless the policy counts disputed money."""
    days_past_due: int
    """Of the oldest counted overdue part; 0 when nothing counted is overdue."""


@attrs.frozen(kw_only=True)
class Reason:
    """A firing trigger. ``threshold`` and ``actual`` are in the rule's figure's unit, which
    ``unit`` names so that a reader of the JSON need not know the rule table: days, minor
    units of the account's currency, a count of promises, a rating ordinal (1=A .. 4=D), or
    a flag (1 for blacklisted)."""

    rule: TriggerRule
    level: int
    policy_version: int
    unit: FigureUnit
    threshold: int
    actual: int
    invoice_numbers: tuple[str, ...] = ()
    promise_references: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Suspension:
    kind: SuspensionKind
    reference: str
    since_on: date
    until_on: date | None
    """A promise's date plus tolerance; None for a dispute (until resolved)."""
    amount_minor: int
    invoice_numbers: tuple[str, ...]
    level_cap: int | None
    """The level time-driven escalation is held at; None when this suspends no level."""


@attrs.frozen(kw_only=True)
class Evaluation:
    """The customer's standing on one date, under the policy in force that day."""

    customer_id: UUID
    on: date
    currency: str
    policy_version: int
    level: int
    level_name: str
    raw_level: int
    """The level the triggers alone give, before any suspension or adjustment (``level`` is
    adjusted for the customer's standing: ``EscalationPolicy.adjusted_level``)."""
    grade: Grade | None
    overdue_minor: int
    disputed_minor: int
    days_past_due_max: int
    broken_promises: int
    rating: RiskRating | None
    is_blacklisted: bool
    invoices: tuple[InvoiceFigures, ...]
    reasons: tuple[Reason, ...]
    suspensions: tuple[Suspension, ...]

    @property
    def is_suspended(self) -> bool:
        """An open promise, or a diagnosed type's pause (``DelinquencyAdjustment.level_max``),
        holds the level below what the triggers give."""
        return self.level < self.raw_level


@attrs.frozen(kw_only=True)
class LevelChange:
    on: date
    level: int
    level_name: str
    previous_level: int
    policy_version: int


@attrs.frozen(kw_only=True)
class NextAction:
    action: str
    level: int
    due_on: date
    is_overdue: bool


@attrs.frozen(kw_only=True)
class NextStep:
    """The next step agreed by the customer's latest collection action (the last taken, the
    last recorded among those taken on one day), due on its date; a later action replaces it."""

    step: str
    due_on: date
    is_overdue: bool
    """Still open after its date: no action taken since it was agreed, and ``due_on`` passed."""
    agreed_on: date
    """The day the action that agreed it was taken."""
    collector: str


@attrs.frozen(kw_only=True)
class PreDueReminder:
    """An open invoice the policy wants a reminder for before it falls due, none recorded
    yet: from ``remind_from_on`` (its due date less the rule's days, not before it was
    issued) to ``due_on`` (included: an invoice due today is not yet overdue)."""

    invoice_number: str
    due_on: date
    open_minor: int
    remind_from_on: date


@attrs.frozen(kw_only=True)
class ThresholdCrossing:
    on: date
    level: int
    level_name: str
    reasons: tuple[Reason, ...]


@attrs.frozen(kw_only=True)
class EscalationStatus:
    customer_id: UUID
    customer_code: str
    name: str
    owner: str
    as_of: date
    current: Evaluation
    level_entered_on: date | None
    next_action: NextAction | None
    actions_done: tuple[str, ...]
    """Required actions of the current level already taken since it was entered."""
    history: tuple[LevelChange, ...]
    next_threshold: ThresholdCrossing | None
    supply_hold_recommended: bool
    reconciliations: tuple[OpenReconciliation, ...] = ()
    """Reconciliation items open on ``as_of``: differences the customer acknowledged on a
    balance confirmation, not yet resolved or accepted (they move no level)."""
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""
    next_step: NextStep | None = None
    """The next step of the latest action, if it has a date (due or not yet)."""
    pre_due_reminders: tuple[PreDueReminder, ...] = ()
    """Invoices wanting a reminder before their due date on ``as_of`` (``PreDueReminder``)."""

    @property
    def level(self) -> int:
        return self.current.level

    @property
    def level_name(self) -> str:
        return self.current.level_name

    @property
    def grade(self) -> Grade | None:
        return self.current.grade

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.current.reasons

    @property
    def suspensions(self) -> tuple[Suspension, ...]:
        return self.current.suspensions

    @property
    def policy_version(self) -> int:
        return self.current.policy_version


@attrs.frozen(kw_only=True)
class WorklistItem:
    customer_id: UUID
    customer_code: str
    name: str
    owner: str
    currency: str
    level: int
    level_name: str
    grade: Grade | None
    overdue_minor: int
    days_past_due_max: int
    broken_promises: int
    is_suspended: bool
    next_action: NextAction | None
    reconciliations: tuple[OpenReconciliation, ...] = ()
    """Reconciliation items open on the worklist's date, in order of opening: a customer
    with one is listed whatever its level, so that the collector follows the difference up."""
    next_step: NextStep | None = None
    """The next step agreed by the latest action, when its date has come (on or before the
    worklist's date): the customer is listed whatever its level."""
    pre_due_reminders: tuple[PreDueReminder, ...] = ()
    """Invoices wanting a reminder before their due date, by due date then number: the
    customer is listed whatever its level."""
