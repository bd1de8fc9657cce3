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
- History: the level is evaluated on every date on which it can change (business dates of the
  customer's facts, each instalment's due date plus each day-count threshold, each promise's
  deadline plus one, each policy's effective date); the changes are the history.
- Next threshold: the same dates after ``as_of``, within ``NEXT_THRESHOLD_HORIZON_DAYS``,
  evaluated on the facts as of ``as_of`` alone ("if nothing happens"): the first date the level
  rises.

Invariant: a status as of a date depends only on facts dated on or before it; every query first
narrows the portfolio to the customer's facts dated by then (``narrow``). So a replay of the
log gives the live answer, and a policy version changes nothing dated before it takes effect.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from math import lcm
from typing import Final, TypeAlias, TypeVar, assert_never
from uuid import UUID

import attrs
import numpy as np

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.events import RiskRating
from arledger.domain.invoice import open_by_instalment
from arledger.domain.money import format_minor, minor_per_major
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    DIAGNOSE,
    NEGOTIATE_FIRST,
    EscalationPolicy,
    Grade,
    Trigger,
    TriggerRule,
    WorklistKey,
)
from arledger.domain.rules import require_date
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES
from arledger.domain.trigger_rules import TRIGGER_RULES, FigureUnit, TriggerRuleSpec

from .ageing import InvoiceFacts
from .portfolio import (
    ActionFacts,
    CustomerHistory,
    DiagnosisFacts,
    OpenReconciliation,
    PaymentFacts,
    PortfolioState,
    PromiseFacts,
    WaiverFacts,
)
from .promises import PromiseJudgement, PromiseStatus, deadline_on, judge

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
    """The level the triggers alone give, before any suspension."""
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
        """An open promise holds the level below what the triggers give."""
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


# Narrowing ------------------------------------------------------------------------------------


def narrow(
    state: PortfolioState,
    customer_id: UUID,
    until_on: date,
    *,
    payments_by_customer: Mapping[UUID, list[UUID]] | None = None,
) -> PortfolioState:
    """A portfolio holding only the customer's facts (and the policies) dated on or before
    ``until_on``: what was known on that day, so that later dates see nothing happen.

    ``payments_by_customer`` (from ``_payments_by_customer``) saves a pass over every payment
    when narrowing for many customers."""
    history = state.customers.get(customer_id)
    if history is None:
        raise CustomerNotFoundError(f"no customer with id {customer_id}", customer_id=customer_id)
    view = PortfolioState()
    invoice_ids = []
    if payments_by_customer is None:
        payments_by_customer = _payments_by_customer(state)
    payment_ids = set(payments_by_customer.get(customer_id, ()))
    for invoice_id in history.invoice_ids:
        invoice = state.ageing.invoices[invoice_id]
        if invoice.issued_on > until_on:
            continue
        invoice_ids.append(invoice_id)
        view.ageing.invoices[invoice_id] = attrs.evolve(
            invoice,
            movements=[movement for movement in invoice.movements if movement[0] <= until_on],
            disputes={
                reference: (amount, opened_on, _by(resolved_on, until_on))
                for reference, (amount, opened_on, resolved_on) in invoice.disputes.items()
                if opened_on <= until_on
            },
        )
        view.disputes[invoice_id] = [
            dispute
            if _by(dispute.resolved_on, until_on) is not None
            else attrs.evolve(dispute, resolved_on=None, outcome=None, upheld_minor=0)
            for dispute in state.disputes.get(invoice_id, ())
            if dispute.opened_on <= until_on
        ]
        applications = state.applications.get(invoice_id, ())
        view.applications[invoice_id] = [entry for entry in applications if entry[1] <= until_on]
        payment_ids.update(entry[0] for entry in view.applications[invoice_id])
    for payment_id in payment_ids:
        payment = state.payments[payment_id]
        if payment.value_on <= until_on:
            view.payments[payment_id] = _payment_until(payment, until_on)
    for invoice_id, entries in view.applications.items():
        view.applications[invoice_id] = [entry for entry in entries if entry[0] in view.payments]
    if customer_id in state.ageing.customers:
        view.ageing.customers[customer_id] = state.ageing.customers[customer_id]
    view.customers[customer_id] = _history_until(history, invoice_ids, until_on)
    for promise in state.promises.values():
        if promise.customer_id == customer_id and promise.made_on <= until_on:
            view.promises[promise.promise_id] = _promise_until(promise, until_on)
            view.promise_ids_by_reference[promise.reference] = promise.promise_id
    view.actions[customer_id] = [
        action for action in state.actions.get(customer_id, ()) if action.taken_on <= until_on
    ]
    view.diagnoses[customer_id] = [
        found for found in state.diagnoses.get(customer_id, ()) if found.diagnosed_on <= until_on
    ]
    view.waivers[customer_id] = [
        waiver for waiver in state.waivers.get(customer_id, ()) if waiver.waived_on <= until_on
    ]
    view.policy_versions = [v for v in state.policy_versions if v.effective_on <= until_on]
    return view


def _payments_by_customer(state: PortfolioState) -> dict[UUID, list[UUID]]:
    index: dict[UUID, list[UUID]] = {}
    for payment in state.payments.values():
        index.setdefault(payment.customer_id, []).append(payment.payment_id)
    return index


def _by(on: date | None, until_on: date) -> date | None:
    """``on`` if it happened by ``until_on``, else None (not yet happened)."""
    return on if on is not None and on <= until_on else None


def _payment_until(payment: PaymentFacts, until_on: date) -> PaymentFacts:
    return attrs.evolve(payment, reversed_on=_by(payment.reversed_on, until_on))


def _promise_until(promise: PromiseFacts, until_on: date) -> PromiseFacts:
    superseded_on = _by(promise.superseded_on, until_on)
    return attrs.evolve(
        promise,
        withdrawn_on=_by(promise.withdrawn_on, until_on),
        superseded_on=superseded_on,
        superseded_by=None if superseded_on is None else promise.superseded_by,
    )


def _history_until(
    history: CustomerHistory, invoice_ids: list[UUID], until_on: date
) -> CustomerHistory:
    def dated(entries: list[tuple[date, V]]) -> list[tuple[date, V]]:
        return [entry for entry in entries if entry[0] <= until_on]

    return attrs.evolve(
        history,
        # The opening owner stays first: owner_on falls back to it for any earlier date.
        owners=history.owners[:1] + dated(history.owners[1:]),
        credit_lines=dated(history.credit_lines),
        ratings=dated(history.ratings),
        blacklisted=dated(history.blacklisted),
        supply_held=dated(history.supply_held),
        invoice_ids=invoice_ids,
    )


# Evaluation -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Raw:
    """What the triggers give on a date, before suspension."""

    policy: EscalationPolicy
    invoices: tuple[InvoiceFigures, ...]
    overdue_minor: int
    disputed_minor: int
    days_past_due_max: int
    overdue_invoices: int
    """How many invoices have counted overdue money (``OVERDUE_INVOICE_COUNT``'s figure)."""
    judgements: tuple[PromiseJudgement, ...]
    broken: tuple[PromiseJudgement, ...]
    rating: RiskRating | None
    is_blacklisted: bool
    fired: tuple[Reason, ...]

    @property
    def level(self) -> int:
        return max((reason.level for reason in self.fired), default=0)

    @property
    def time_level(self) -> int:
        return max((r.level for r in self.fired if r.rule in TIME_RULES), default=0)

    @property
    def decision_level(self) -> int:
        return max((r.level for r in self.fired if r.rule not in TIME_RULES), default=0)


def _broken(
    policy: EscalationPolicy, judgements: Iterable[PromiseJudgement]
) -> tuple[PromiseJudgement, ...]:
    """The judgements the policy counts as broken promises (partly kept ones too, if it says)."""
    statuses = {PromiseStatus.BROKEN}
    if policy.partly_kept_counts_as_broken:
        statuses.add(PromiseStatus.PARTLY_KEPT)
    return tuple(j for j in judgements if j.status in statuses)


@attrs.frozen
class _LeanLevels:
    """What the level on a date needs: the levels fired by time-driven and by other rules,
    and since when a promise has been open (for the cap)."""

    policy: EscalationPolicy
    time_level: int
    decision_level: int
    open_promise_since: date | None


@attrs.frozen
class _Timeline:
    """An invoice's movements in date order with the amount settled by each, so that the open
    amount on a date is one bisection: the history evaluates many dates."""

    invoice: InvoiceFacts
    dates: list[date]
    settled: list[int]
    closed_from: date | None
    """From this date on nothing is open (settled in full by the last movement)."""
    has_disputes: bool

    @classmethod
    def of(cls, invoice: InvoiceFacts, has_disputes: bool) -> _Timeline:
        dates: list[date] = []
        settled: list[int] = []
        for on, amount in sorted(invoice.movements, key=lambda movement: movement[0]):
            dates.append(on)
            settled.append((settled[-1] if settled else 0) + amount)
        closed = bool(settled) and settled[-1] == invoice.amount_minor
        return cls(invoice, dates, settled, dates[-1] if closed else None, has_disputes)

    def may_be_open_on(self, on: date) -> bool:
        return self.invoice.issued_on <= on and (self.closed_from is None or on < self.closed_from)

    def open_minor_on(self, on: date) -> int:
        """``InvoiceFacts.open_minor_on``, by bisection."""
        if self.invoice.issued_on > on:
            return 0
        index = bisect_right(self.dates, on)
        return self.invoice.amount_minor - (self.settled[index - 1] if index else 0)


ROWS_X_DAYS_MAX: Final = 250_000
"""Instalments x days computed at once by ``_undisputed_totals`` (2 MB an int64 array)."""
_RULE_SLOTS: Final = {rule: slot for slot, rule in enumerate(TriggerRule)}
_CompiledTrigger: TypeAlias = tuple[int, TriggerRule, int, int, TriggerRuleSpec]
_InstalmentRows: TypeAlias = tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    dict[int, tuple[np.ndarray, np.ndarray]],
]


class _Evaluator:
    """Evaluates one customer on any date over a narrowed portfolio, remembering each date."""

    def __init__(self, view: PortfolioState, customer_id: UUID) -> None:
        self.view = view
        self.customer = view.customers[customer_id]
        self.invoices = view.invoices_of(customer_id)
        self.promises = [p for p in view.promises.values() if p.customer_id == customer_id]
        self._timelines = [
            _Timeline.of(invoice, bool(view.disputes.get(invoice.invoice_id)))
            for invoice in self.invoices
        ]
        self._raw: dict[date, _Raw] = {}
        self._evaluations: dict[date, Evaluation] = {}
        self._lean: dict[date, _LeanLevels] = {}
        self._compiled: dict[int, tuple[EscalationPolicy, list[_CompiledTrigger]]] = {}
        self._rows_made = False
        self._rows: _InstalmentRows | None = None

    def raw(self, on: date) -> _Raw:
        if on not in self._raw:
            self._raw[on] = self._compute_raw(on)
        return self._raw[on]

    def _compute_raw(self, on: date) -> _Raw:
        policy = self.view.policy_on(on)
        figures = tuple(
            figure
            for figure in (
                self._invoice_figures(timeline, on, policy)
                for timeline in self._timelines
                if timeline.may_be_open_on(on)
            )
            if figure is not None
        )
        judgements = self._judgements(on)
        raw = _Raw(
            policy=policy,
            invoices=figures,
            overdue_minor=sum(figure.overdue_minor for figure in figures),
            disputed_minor=sum(figure.disputed_minor for figure in figures),
            days_past_due_max=max((figure.days_past_due for figure in figures), default=0),
            overdue_invoices=sum(1 for figure in figures if figure.overdue_minor > 0),
            judgements=judgements,
            broken=_broken(policy, judgements),
            rating=self.customer.rating_on(on),
            is_blacklisted=self.customer.is_blacklisted_on(on),
            fired=(),
        )
        return attrs.evolve(raw, fired=self._fire(raw))

    def _judgements(self, on: date) -> tuple[PromiseJudgement, ...]:
        """The customer's promises made by ``on``, judged on ``on``."""
        return tuple(
            judgement
            for judgement in (judge(self.view, promise, on) for promise in self.promises)
            if judgement is not None
        )

    def _invoice_figures(
        self, timeline: _Timeline, on: date, policy: EscalationPolicy
    ) -> InvoiceFigures | None:
        """None when nothing of the invoice is open on ``on``."""
        invoice = timeline.invoice
        open_minor = timeline.open_minor_on(on)
        if open_minor == 0:
            return None
        disputed = 0
        if timeline.has_disputes:
            disputed = self.view.disputed_minor_on(invoice.invoice_id, on)
        uncounted = 0 if policy.disputed_counts else disputed
        overdue = 0
        days_max = 0
        parts = open_by_instalment(invoice.schedule, invoice.amount_minor - open_minor)
        for due_on, part_open in parts:
            days = (on - due_on).days
            if part_open == 0 or days < 1:
                continue
            taken_off = min(part_open, uncounted)
            uncounted -= taken_off
            if part_open > taken_off:
                overdue += part_open - taken_off
                days_max = max(days_max, days)
        return InvoiceFigures(
            invoice_number=invoice.invoice_number,
            open_minor=open_minor,
            disputed_minor=disputed,
            overdue_minor=overdue,
            days_past_due=days_max,
        )

    def _fire(self, raw: _Raw) -> tuple[Reason, ...]:
        """Per rule, the firing trigger of the highest level; highest level first."""
        best: dict[TriggerRule, Reason] = {}
        for level in raw.policy.levels:
            for trigger in level.triggers:
                reason = self._check(trigger, level.level, raw)
                if reason is not None and (
                    trigger.rule not in best or best[trigger.rule].level < level.level
                ):
                    best[trigger.rule] = reason
        rule_order = list(TriggerRule)
        return tuple(sorted(best.values(), key=lambda r: (-r.level, rule_order.index(r.rule))))

    def _fired_levels(self, raw: _Raw) -> tuple[int, int]:
        """The highest levels fired by time-driven rules and by the others (``_fire``'s
        ``time_level`` and ``decision_level``): the rule table's comparison of ``_figure``'s
        figures, as ``_check`` makes it, without building the reasons. Each rule's figure is
        measured once, not once per trigger: the history fires hundreds of dates."""
        time_level = decision_level = 0
        figures: list[int | None] = [None] * len(_RULE_SLOTS)
        for slot, rule, level, threshold, spec in self._triggers(raw.policy):
            actual = figures[slot]
            if actual is None:
                actual = figures[slot] = self._figure(rule, raw)
            if spec.fires(actual, threshold):
                if spec.time_driven:
                    time_level = max(time_level, level)
                else:
                    decision_level = max(decision_level, level)
        return time_level, decision_level

    def _triggers(self, policy: EscalationPolicy) -> list[_CompiledTrigger]:
        """The policy's triggers as (the rule's slot, rule, level, threshold in the figure's
        unit, rule spec), worked out once per policy version for this customer's currency
        (slots, not the rules, index the figures: hashing an enum member is a Python call)."""
        found = self._compiled.get(id(policy))
        if found is not None and found[0] is policy:
            return found[1]
        per_major = minor_per_major(self.customer.currency)
        triggers = []
        for level in policy.levels:
            for trigger in level.triggers:
                spec = TRIGGER_RULES[trigger.rule]
                threshold = spec.threshold_compared(trigger.threshold, per_major)
                slot = _RULE_SLOTS[trigger.rule]
                triggers.append((slot, trigger.rule, level.level, threshold, spec))
        self._compiled[id(policy)] = (policy, triggers)
        return triggers

    def _check(self, trigger: Trigger, level: int, raw: _Raw) -> Reason | None:
        """The trigger's reason when it fires: the rule's figure (``_measure``) compared with
        its threshold as the rule table says (``TRIGGER_RULES``)."""
        spec = TRIGGER_RULES[trigger.rule]
        threshold = spec.threshold_compared(
            trigger.threshold, minor_per_major(self.customer.currency)
        )
        actual, invoice_numbers, promise_references = self._measure(trigger.rule, raw, threshold)
        if not spec.fires(actual, threshold):
            return None
        return Reason(
            rule=trigger.rule,
            level=level,
            policy_version=raw.policy.version,
            unit=spec.figure_unit,
            threshold=threshold,
            actual=actual,
            invoice_numbers=invoice_numbers,
            promise_references=promise_references,
        )

    def levels(self, dates: Sequence[date]) -> list[tuple[int, EscalationPolicy]]:
        """The level (and the policy in force) on each of ``dates``: what ``evaluate(on).level``
        gives, from totals computed for every date at once (``_totals``) instead of one
        evaluation per date. The history and the next threshold walk hundreds of dates."""
        self._lean_levels([on for on in dates if on not in self._lean])
        result = []
        for on in dates:
            lean = self._lean[on]
            level = max(lean.time_level, lean.decision_level)
            if lean.open_promise_since is not None and lean.policy.promise_suspends:
                since = lean.open_promise_since
                self._lean_levels([since] if since not in self._lean else [])
                cap = self._lean[since].time_level
                level = max(min(lean.time_level, cap), lean.decision_level)
            result.append((level, lean.policy))
        return result

    def _lean_levels(self, dates: Sequence[date]) -> None:
        """``_LeanLevels`` for each date. The rules fire on totals only (the key below holds
        every figure ``_measure`` reads), so dates with the same totals are fired once."""
        if not dates:
            return
        policies = [self.view.policy_on(on) for on in dates]
        overdue, disputed, days_past_due, overdue_invoices = self._totals(dates, policies)
        fired: dict[tuple[object, ...], tuple[int, int]] = {}
        for index, on in enumerate(dates):
            policy = policies[index]
            judgements = self._judgements(on)
            broken = _broken(policy, judgements)
            rating = self.customer.rating_on(on)
            is_blacklisted = self.customer.is_blacklisted_on(on)
            key = (
                policy.version,
                overdue[index],
                days_past_due[index],
                overdue_invoices[index],
                len(broken),
                rating,
                is_blacklisted,
            )
            if key not in fired:
                raw = _Raw(
                    policy=policy,
                    invoices=(),
                    overdue_minor=overdue[index],
                    disputed_minor=disputed[index],
                    days_past_due_max=days_past_due[index],
                    overdue_invoices=overdue_invoices[index],
                    judgements=judgements,
                    broken=broken,
                    rating=rating,
                    is_blacklisted=is_blacklisted,
                    fired=(),
                )
                fired[key] = self._fired_levels(raw)
            made = [j.made_on for j in judgements if j.status is PromiseStatus.OPEN]
            self._lean[on] = _LeanLevels(
                policy=policy,
                time_level=fired[key][0],
                decision_level=fired[key][1],
                open_promise_since=min(made, default=None),
            )

    def _totals(
        self, dates: Sequence[date], policies: Sequence[EscalationPolicy]
    ) -> tuple[list[int], list[int], list[int], list[int]]:
        """Per date: overdue, disputed, the most days past due and how many invoices have
        overdue money, over the customer's invoices, as ``_invoice_figures`` sums them: the
        undisputed invoices all at once (``_undisputed_totals``), the disputed ones one at a
        time over every date."""
        day = np.array([on.toordinal() for on in dates], dtype=np.int64)
        counts_disputed = np.array([policy.disputed_counts for policy in policies], dtype=bool)
        overdue, days_past_due, overdue_invoices = self._undisputed_totals(day)
        disputed_total = np.zeros(len(dates), dtype=np.int64)
        for timeline in self._timelines:
            if not timeline.has_disputes:
                continue  # in _undisputed_totals
            invoice = timeline.invoice
            issued = day >= invoice.issued_on.toordinal()
            if not issued.any():
                continue
            settled = np.zeros(len(dates), dtype=np.int64)
            if timeline.dates:
                moved = np.array([on.toordinal() for on in timeline.dates], dtype=np.int64)
                cumulative = np.array([0, *timeline.settled], dtype=np.int64)
                settled = cumulative[np.searchsorted(moved, day, side="right")]
            is_open = issued & (settled < invoice.amount_minor)
            if not is_open.any():
                continue
            uncounted = np.zeros(len(dates), dtype=np.int64)
            if timeline.has_disputes:
                in_dispute = np.array(
                    [
                        self.view.disputed_minor_on(invoice.invoice_id, on) if open_ else 0
                        for on, open_ in zip(dates, is_open.tolist(), strict=True)
                    ],
                    dtype=np.int64,
                )
                disputed_total += in_dispute
                uncounted = np.where(counts_disputed, 0, in_dispute)
            remaining = settled.copy()
            invoice_overdue = np.zeros(len(dates), dtype=np.int64)
            invoice_days = np.zeros(len(dates), dtype=np.int64)
            for instalment in invoice.schedule:
                taken = np.minimum(remaining, instalment.amount_minor)
                remaining -= taken
                part_open = instalment.amount_minor - taken
                days = day - instalment.due_on.toordinal()
                active = is_open & (part_open > 0) & (days >= 1)
                taken_off = np.where(active, np.minimum(part_open, uncounted), 0)
                uncounted = uncounted - taken_off
                counted = active & (part_open > taken_off)
                invoice_overdue += np.where(counted, part_open - taken_off, 0)
                invoice_days = np.where(counted, np.maximum(invoice_days, days), invoice_days)
            overdue += invoice_overdue
            overdue_invoices += invoice_overdue > 0
            days_past_due = np.maximum(days_past_due, invoice_days)
        return (
            overdue.tolist(),
            disputed_total.tolist(),
            days_past_due.tolist(),
            overdue_invoices.tolist(),
        )

    def _undisputed_totals(self, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overdue, the most days past due and how many invoices have overdue money on each day
        (ordinals) over the invoices with no dispute, as ``_totals`` sums them, with every
        instalment of every such invoice a row of one array (instalments x days) rather than
        a loop over invoices: the history of a
        customer with hundreds of invoices walks hundreds of dates.

        Settlements go to the oldest instalment first (``open_by_instalment``), so what an
        instalment has taken on a day is the invoice's settled amount past the instalments
        before it, between 0 and its own amount."""
        rows = self._instalment_rows()
        overdue = np.zeros(len(day), dtype=np.int64)
        days_past_due = np.zeros(len(day), dtype=np.int64)
        overdue_invoices = np.zeros(len(day), dtype=np.int64)
        if rows is None:
            return overdue, days_past_due, overdue_invoices
        invoice_of, amount, before, due, issued, invoice_amount, moves = rows
        # Rows are in invoice order: each invoice's first instalment row starts its run.
        firsts = np.flatnonzero(np.r_[True, invoice_of[1:] != invoice_of[:-1]])
        # Days in blocks, so that the arrays stay a few MB whatever the customer's size.
        block = max(1, ROWS_X_DAYS_MAX // len(invoice_of))
        for start in range(0, len(day), block):
            days_on = day[start : start + block]
            settled = np.zeros((len(invoice_amount), len(days_on)), dtype=np.int64)
            for index, (moved, cumulative) in moves.items():
                settled[index] = cumulative[np.searchsorted(moved, days_on, side="right")]
            settled_of = settled[invoice_of]
            is_open = (days_on >= issued[invoice_of, None]) & (
                settled_of < invoice_amount[invoice_of, None]
            )
            taken = np.minimum(np.maximum(settled_of - before[:, None], 0), amount[:, None])
            part_open = amount[:, None] - taken
            days = days_on - due[:, None]
            counted = is_open & (part_open > 0) & (days >= 1)
            overdue[start : start + block] = np.where(counted, part_open, 0).sum(axis=0)
            days_past_due[start : start + block] = np.where(counted, days, 0).max(axis=0)
            overdue_invoices[start : start + block] = np.logical_or.reduceat(
                counted, firsts, axis=0
            ).sum(axis=0)
        return overdue, days_past_due, overdue_invoices

    def _instalment_rows(self) -> _InstalmentRows | None:
        """The undisputed invoices' instalments as arrays (invoice, amount, amount of the
        instalments before it, due ordinal), the invoices' issue ordinals and amounts, and
        per invoice with movements their ordinals and the settled amount after each (0
        first). None when there is none. Made once per evaluation."""
        if self._rows_made:
            return self._rows
        self._rows_made = True
        invoice_of: list[int] = []
        amount: list[int] = []
        before: list[int] = []
        due: list[int] = []
        issued: list[int] = []
        invoice_amount: list[int] = []
        moves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for timeline in self._timelines:
            if timeline.has_disputes:
                continue
            invoice = timeline.invoice
            index = len(issued)
            issued.append(invoice.issued_on.toordinal())
            invoice_amount.append(invoice.amount_minor)
            if timeline.dates:
                moves[index] = (
                    np.array([on.toordinal() for on in timeline.dates], dtype=np.int64),
                    np.array([0, *timeline.settled], dtype=np.int64),
                )
            so_far = 0
            for instalment in invoice.schedule:
                invoice_of.append(index)
                amount.append(instalment.amount_minor)
                before.append(so_far)
                due.append(instalment.due_on.toordinal())
                so_far += instalment.amount_minor
        if not invoice_of:
            return None
        self._rows = (
            np.array(invoice_of, dtype=np.int64),
            np.array(amount, dtype=np.int64),
            np.array(before, dtype=np.int64),
            np.array(due, dtype=np.int64),
            np.array(issued, dtype=np.int64),
            np.array(invoice_amount, dtype=np.int64),
            moves,
        )
        return self._rows

    def _measure(
        self, rule: TriggerRule, raw: _Raw, threshold: int
    ) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
        """(figure, invoices involved, promises involved) of the rule on the raw figures, for a
        trigger of ``threshold`` (in the figure's unit); the figure is 0 when there is nothing
        to measure. The kernel's ``_levels`` measures the
        same figures (``tests/unit/test_trigger_rules.py`` ties the two)."""
        figure = self._figure(rule, raw)
        match rule:
            case TriggerRule.DAYS_PAST_DUE:
                involved = tuple(
                    f.invoice_number for f in raw.invoices if f.days_past_due >= threshold
                )
                return figure, involved, ()
            case TriggerRule.OVERDUE_AMOUNT:
                involved = tuple(f.invoice_number for f in raw.invoices if f.overdue_minor)
                return figure, involved, ()
            case TriggerRule.BROKEN_PROMISES:
                numbers = {
                    self.view.ageing.invoices[invoice_id].invoice_number
                    for judgement in raw.broken
                    for invoice_id in self.view.promises[judgement.promise_id].invoice_ids
                    if invoice_id in self.view.ageing.invoices
                }
                references = tuple(j.reference for j in raw.broken)
                return figure, tuple(sorted(numbers)), references
            case TriggerRule.OVERDUE_INVOICE_COUNT:
                involved = tuple(f.invoice_number for f in raw.invoices if f.overdue_minor)
                return figure, involved, ()
            case TriggerRule.RISK_RATING | TriggerRule.BLACKLISTED:
                return figure, (), ()
            case _ as unreachable:
                assert_never(unreachable)

    @staticmethod
    def _figure(rule: TriggerRule, raw: _Raw) -> int:
        """The rule's figure on the raw figures (0 when there is nothing to measure)."""
        match rule:
            case TriggerRule.DAYS_PAST_DUE:
                return raw.days_past_due_max if raw.overdue_minor > 0 else 0
            case TriggerRule.OVERDUE_AMOUNT:
                return raw.overdue_minor
            case TriggerRule.BROKEN_PROMISES:
                return len(raw.broken)
            case TriggerRule.RISK_RATING:
                return 0 if raw.rating is None else RATING_ORDINAL[raw.rating]
            case TriggerRule.BLACKLISTED:
                return 1 if raw.is_blacklisted else 0
            case TriggerRule.OVERDUE_INVOICE_COUNT:
                return raw.overdue_invoices
            case _ as unreachable:
                assert_never(unreachable)

    def evaluate(self, on: date) -> Evaluation:
        if on not in self._evaluations:
            self._evaluations[on] = self._compute(on)
        return self._evaluations[on]

    def _compute(self, on: date) -> Evaluation:
        raw = self.raw(on)
        policy = raw.policy
        open_promises = [j for j in raw.judgements if j.status is PromiseStatus.OPEN]
        level = raw.level
        cap: int | None = None
        if open_promises and policy.promise_suspends:
            since = min(j.made_on for j in open_promises)
            cap = self.raw(since).time_level
            level = max(min(raw.time_level, cap), raw.decision_level)
        suspensions = [
            Suspension(
                kind=SuspensionKind.PROMISE,
                reference=j.reference,
                since_on=j.made_on,
                until_on=j.deadline_on,
                amount_minor=j.promised_minor,
                invoice_numbers=self._numbers(self.view.promises[j.promise_id].invoice_ids),
                level_cap=cap,
            )
            for j in open_promises
        ]
        for timeline in self._timelines:
            if not timeline.has_disputes:
                continue
            invoice = timeline.invoice
            for dispute in self.view.disputes[invoice.invoice_id]:
                if dispute.is_open_on(on):
                    suspensions.append(
                        Suspension(
                            kind=SuspensionKind.DISPUTE,
                            reference=dispute.reference,
                            since_on=dispute.opened_on,
                            until_on=None,
                            amount_minor=dispute.amount_minor,
                            invoice_numbers=(invoice.invoice_number,),
                            level_cap=None,
                        )
                    )
        grade = None
        if raw.overdue_minor > 0:
            grade = policy.grade(raw.days_past_due_max, raw.overdue_minor, self.customer.currency)
        return Evaluation(
            customer_id=self.customer.customer_id,
            on=on,
            currency=self.customer.currency,
            policy_version=policy.version,
            level=level,
            level_name=policy.level(level).name,
            raw_level=raw.level,
            grade=grade,
            overdue_minor=raw.overdue_minor,
            disputed_minor=raw.disputed_minor,
            days_past_due_max=raw.days_past_due_max,
            broken_promises=len(raw.broken),
            rating=raw.rating,
            is_blacklisted=raw.is_blacklisted,
            invoices=raw.invoices,
            reasons=raw.fired,
            suspensions=tuple(suspensions),
        )

    def _numbers(self, invoice_ids: Iterable[UUID]) -> tuple[str, ...]:
        return tuple(
            self.view.ageing.invoices[invoice_id].invoice_number
            for invoice_id in invoice_ids
            if invoice_id in self.view.ageing.invoices
        )

    def candidate_dates(self) -> set[date]:
        """Every date on which the level can change (a superset is harmless)."""
        customer = self.customer
        day_counts = candidate_day_counts(v.policy for v in self.view.policy_versions)
        dates = {customer.opened_on}
        for invoice in self.invoices:
            dates.add(invoice.issued_on)
            dates.update(on for on, _ in invoice.movements)
            for instalment in invoice.schedule:
                dates.update(instalment.due_on + timedelta(days=n) for n in day_counts)
            for dispute in self.view.disputes.get(invoice.invoice_id, ()):
                dates.add(dispute.opened_on)
                if dispute.resolved_on is not None:
                    dates.add(dispute.resolved_on)
            dates.update(on for _, on, _ in self.view.applications.get(invoice.invoice_id, ()))
        for payment in self.view.payments.values():
            dates.add(payment.value_on)
            if payment.reversed_on is not None:
                dates.add(payment.reversed_on)
        for promise in self.promises:
            dates.add(promise.made_on)
            dates.add(deadline_on(self.view, promise) + timedelta(days=1))
            for closed_on in (promise.withdrawn_on, promise.superseded_on):
                if closed_on is not None:
                    dates.add(closed_on)
        dates.update(on for on, _ in customer.ratings)
        dates.update(on for on, _ in customer.blacklisted)
        dates.update(v.effective_on for v in self.view.policy_versions)
        return dates


def candidate_day_counts(policies: Iterable[EscalationPolicy]) -> set[int]:
    """Days after an instalment's due date on which a level can change under these policy
    versions (or the default): the first day overdue, and each days-past-due threshold."""
    return {1} | {
        trigger.threshold
        for policy in (DEFAULT_ESCALATION_POLICY, *policies)
        for level in policy.levels
        for trigger in level.triggers
        if trigger.rule is TriggerRule.DAYS_PAST_DUE and trigger.threshold >= 1
    }


# Queries --------------------------------------------------------------------------------------


def evaluate(state: PortfolioState, customer_id: UUID, on: date) -> Evaluation:
    """The customer's level, grade, reasons and suspensions on ``on``."""
    return _Evaluator(narrow(state, customer_id, on), customer_id).evaluate(on)


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
    next_action, actions_done = _next_action(view, customer_id, as_of, current, entered_on)
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
        supply_hold_recommended=rung.supply_hold,
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
) -> tuple[NextAction | None, tuple[str, ...]]:
    """The first required action of the current level (the latest diagnosis's type's first,
    ``EscalationPolicy.required_actions``) not taken since it was entered (due
    ``action_due_days`` after entering), and those taken."""
    if entered_on is None:
        return None, ()
    policy = view.policy_on(as_of)
    rung = policy.level(current.level)
    diagnosis = latest_diagnosis(view, customer_id, as_of)
    required = policy.required_actions(
        current.level, None if diagnosis is None else diagnosis.delinquency_type.value
    )
    taken = {
        action.channel.value
        for action in view.actions.get(customer_id, ())
        if entered_on <= action.taken_on <= as_of
    }
    done = tuple(action for action in required if action in taken)
    due_on = entered_on + timedelta(days=rung.action_due_days)
    for action in required:
        if action not in taken:
            if waits_for_diagnosis(view, customer_id, as_of, current.level):
                action = DIAGNOSE
            elif waits_for_negotiation(view, customer_id, as_of, current.level):
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
    for invoice in state.invoices_of(customer_id):
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
        next_action, _ = _next_action(view, customer_id, as_of, current, entered_on)
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
    lines = [
        f"{status.customer_code} ({status.name}), owner {status.owner}, as of {as_of}, "
        f"policy version {current.policy_version}",
        f"Level {current.level} {current.level_name}"
        + (
            f" (the triggers alone give level {current.raw_level}; held by an open promise)"
            if current.is_suspended
            else ""
        ),
    ]
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
    lines.append("Suspensions:" if current.suspensions else "Suspensions: none")
    for suspension in current.suspensions:
        lines.append(f"  - {_describe_suspension(suspension, currency)}")
    if status.next_action is not None:
        action = status.next_action
        lines.append(
            f"Next action: {action.action}, due {action.due_on}"
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
