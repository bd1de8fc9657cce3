"""Evaluating a customer against the policy's ladder: candidate dates, triggers, levels."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Final, TypeAlias, assert_never
from uuid import UUID

import attrs
import numpy as np

from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.events import RiskRating
from arledger.domain.invoice import open_by_instalment
from arledger.domain.money import minor_per_major
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    EscalationPolicy,
    Trigger,
    TriggerRule,
)
from arledger.domain.trigger_rules import TIME_RULES as TIME_RULES
from arledger.domain.trigger_rules import TRIGGER_RULES, TriggerRuleSpec

from ..ageing import InvoiceFacts
from ..portfolio import (
    CustomerHistory,
    PaymentFacts,
    PortfolioState,
    PromiseFacts,
)
from ..promises import PromiseJudgement, PromiseStatus, judge, tranche_deadline_on
from .results import (
    RATING_ORDINAL,
    Evaluation,
    InvoiceFigures,
    Reason,
    Suspension,
    SuspensionKind,
    V,
)

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
    # Names bound once, and no comprehension for what an invoice does not have (disputes,
    # applications, overrides): the loop runs once per invoice, 22,000 times for the largest
    # customer at 1M invoices.
    invoices = state.ageing.invoices
    disputes_of = state.disputes
    applications_of = state.applications
    view_invoices = view.ageing.invoices
    view_disputes = view.disputes
    view_applications = view.applications
    applied: list[UUID] = []
    for invoice_id in history.invoice_ids:
        invoice = invoices[invoice_id]
        if invoice.issued_on > until_on:
            continue
        invoice_ids.append(invoice_id)
        movements = [movement for movement in invoice.movements if movement[0] <= until_on]
        changed = len(movements) != len(invoice.movements)
        disputes: dict[str, tuple[int, date, date | None]] = {}
        if invoice.disputes:
            disputes = {
                reference: (amount, opened_on, _by(resolved_on, until_on))
                for reference, (amount, opened_on, resolved_on) in invoice.disputes.items()
                if opened_on <= until_on
            }
            changed = changed or disputes != invoice.disputes
        # Nothing after ``until_on`` (every invoice, on today's date): the facts themselves,
        # read only, as the copy would be (the copies were a tenth of a status's time).
        if changed:
            invoice = attrs.evolve(invoice, movements=movements, disputes=disputes)
        # The due date in force on ``until_on`` is the invoice's due date on every earlier
        # date of the view: an override (a postponement) restarts the days past due.
        if invoice.due_date_overrides:
            invoice = invoice.as_of(until_on)
        view_invoices[invoice_id] = invoice
        found = disputes_of.get(invoice_id)
        view_disputes[invoice_id] = (
            [
                dispute
                if _by(dispute.resolved_on, until_on) is not None
                else attrs.evolve(dispute, resolved_on=None, outcome=None, upheld_minor=0)
                for dispute in found
                if dispute.opened_on <= until_on
            ]
            if found
            else []
        )
        entries = applications_of.get(invoice_id)
        if entries:
            kept = [entry for entry in entries if entry[1] <= until_on]
            applied.extend([entry[0] for entry in kept])
        else:
            kept = []
        view_applications[invoice_id] = kept
    payment_ids.update(applied)  # in the order the invoices' loop met them, as one at a time
    for payment_id in payment_ids:
        payment = state.payments[payment_id]
        if payment.value_on <= until_on:
            view.payments[payment_id] = _payment_until(payment, until_on)
    view_payments = view.payments
    for invoice_id, entries in view_applications.items():
        if entries:
            view_applications[invoice_id] = [
                entry for entry in entries if entry[0] in view_payments
            ]
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
    if _by(payment.reversed_on, until_on) == payment.reversed_on:
        return payment  # nothing to cut: the facts themselves, read only
    return attrs.evolve(payment, reversed_on=None)


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
        bankruptcy_filed=[on for on in history.bankruptcy_filed if on <= until_on],
        fraud_suspected=[on for on in history.fraud_suspected if on <= until_on],
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
    def broken_promises(self) -> int:
        return len(self.broken)

    @property
    def level(self) -> int:
        return max((reason.level for reason in self.fired), default=0)

    @property
    def time_level(self) -> int:
        return max((r.level for r in self.fired if r.rule in TIME_RULES), default=0)

    @property
    def decision_level(self) -> int:
        return max((r.level for r in self.fired if r.rule not in TIME_RULES), default=0)


@attrs.frozen(kw_only=True)
class _Figures:
    """What the rules measure on a date (``_Evaluator._figure``), as the level alone needs
    it: ``_Raw``'s totals, without the invoices and the judgements behind them."""

    overdue_minor: int
    days_past_due_max: int
    overdue_invoices: int
    broken_promises: int
    rating: RiskRating | None
    is_blacklisted: bool


_NO_PROMISE: Final = 1 << 22
"""No promise open (``_Evaluator._promise_figures``): past any date's ordinal."""


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
class _PromiseSteps:
    """A promise's judgements as they change: ``judgements[k]`` is its judgement on every
    date from ``dates[k]`` (ascending, the first the day it was made) to the next."""

    promise: PromiseFacts
    dates: list[date]
    judgements: list[PromiseJudgement]


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
    np.ndarray,
    np.ndarray,
    np.ndarray,
]
ORDINALS_SPAN: Final = 1 << 22
"""More than any date's ordinal (``date.max`` is 3,652,059): a movement's key is its invoice's
row times this plus its ordinal, so one sorted array orders every invoice's movements."""


class _Evaluator:
    """Evaluates one customer on any date over a narrowed portfolio, remembering each date."""

    def __init__(self, view: PortfolioState, customer_id: UUID) -> None:
        self.view = view
        self.customer = view.customers[customer_id]
        self.invoices = view.invoices_of(customer_id)
        self.promises = [p for p in view.promises.values() if p.customer_id == customer_id]
        self.diagnoses = view.diagnoses.get(customer_id, [])
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
        self._promise_steps: list[_PromiseSteps] | None = None

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
        """The customer's promises made by ``on``, judged on ``on``: each one's judgement from
        the last date on or before ``on`` on which it can change (``_steps``)."""
        found = []
        for steps in self._steps():
            index = bisect_right(steps.dates, on)
            if index:
                found.append(steps.judgements[index - 1])
        return tuple(found)

    def _steps(self) -> list[_PromiseSteps]:
        """Per promise (in ``self.promises``' order), its judgement on every date on which it
        can change, made once: the history judged every promise on every candidate date, the
        most of a large customer's status (promises x dates ``judge`` calls)."""
        if self._promise_steps is None:
            by_value = sorted(self.view.payments.values(), key=lambda p: p.value_on)
            values_on = [payment.value_on for payment in by_value]
            self._promise_steps = [
                self._steps_of(promise, by_value, values_on) for promise in self.promises
            ]
        return self._promise_steps

    def _steps_of(
        self, promise: PromiseFacts, by_value: list[PaymentFacts], values_on: list[date]
    ) -> _PromiseSteps:
        """The dates from the promise's making on which ``judge(view, promise, on)`` can give
        another judgement than the day before (a superset is harmless), each with its
        judgement, which holds until the next. ``judge`` reads ``on`` only through: the day
        it was made; which money counts (a payment's or an application's date in the window
        from the making to the last deadline, a payment's value and reversal dates:
        ``counts_on``); whether it was closed (withdrawn or superseded) by then; and whether
        a tranche's deadline has passed (the day after it)."""
        view = self.view
        deadlines = [tranche_deadline_on(view, promise, t.promised_on) for t in promise.schedule]
        last_on = max(deadlines)
        changes = {promise.made_on}
        changes.update(deadline + timedelta(days=1) for deadline in deadlines)
        for closed_on in (promise.withdrawn_on, promise.superseded_on):
            if closed_on is not None:
                changes.add(closed_on)
        payments: list[PaymentFacts] = []
        if promise.invoice_ids:
            for invoice_id in promise.invoice_ids:
                for payment_id, on, _amount in view.applications.get(invoice_id, ()):
                    if promise.made_on <= on <= last_on and payment_id in view.payments:
                        changes.add(on)
                        payments.append(view.payments[payment_id])
        else:
            first = bisect_left(values_on, promise.made_on)
            payments = by_value[first : bisect_right(values_on, last_on)]
        for payment in payments:
            changes.add(payment.value_on)
            if payment.reversed_on is not None:
                changes.add(payment.reversed_on)
        dates = sorted(on for on in changes if on >= promise.made_on)
        judgements = []
        for on in dates:
            judgement = judge(view, promise, on)
            assert judgement is not None  # made by then
            judgements.append(judgement)
        return _PromiseSteps(promise=promise, dates=dates, judgements=judgements)

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

    def _fired_levels(self, policy: EscalationPolicy, raw: _Figures) -> tuple[int, int]:
        """The highest levels fired by time-driven rules and by the others (``_fire``'s
        ``time_level`` and ``decision_level``): the rule table's comparison of ``_figure``'s
        figures, as ``_check`` makes it, without building the reasons. Each rule's figure is
        measured once, not once per trigger: the history fires hundreds of dates."""
        time_level = decision_level = 0
        figures: list[int | None] = [None] * len(_RULE_SLOTS)
        for slot, rule, level, threshold, spec in self._triggers(policy):
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
        self._lean_levels(sorted({on for on in dates if on not in self._lean}))
        # The days the caps are taken on (the earliest open promise's making), all at once.
        self._lean_levels(
            sorted(
                {
                    lean.open_promise_since
                    for lean in (self._lean[on] for on in dates)
                    if lean.open_promise_since is not None
                    and lean.policy.promise_suspends
                    and lean.open_promise_since not in self._lean
                }
            )
        )
        result = []
        for on in dates:
            lean = self._lean[on]
            level = max(lean.time_level, lean.decision_level)
            if lean.open_promise_since is not None and lean.policy.promise_suspends:
                cap = self._lean[lean.open_promise_since].time_level
                level = max(min(lean.time_level, cap), lean.decision_level)
            result.append((self._adjusted(level, lean.policy, on), lean.policy))
        return result

    def standing(self, on: date) -> tuple[str | None, bool, bool]:
        """What adjusts the level on ``on`` (``EscalationPolicy.adjusted_level``): the type of
        the latest diagnosis dated by then (of one day, the last recorded; None: none), and
        whether a bankruptcy was filed and fraud suspected by then."""
        found = None
        for diagnosis in self.diagnoses:
            if diagnosis.diagnosed_on <= on and (
                found is None or diagnosis.diagnosed_on >= found.diagnosed_on
            ):
                found = diagnosis
        return (
            None if found is None else found.delinquency_type.value,
            self.customer.is_bankrupt_on(on),
            self.customer.is_fraud_suspected_on(on),
        )

    def _adjusted(self, level: int, policy: EscalationPolicy, on: date) -> int:
        delinquency_type, bankrupt, fraud = self.standing(on)
        return policy.adjusted_level(level, delinquency_type, bankrupt=bankrupt, fraud=fraud)

    def _lean_levels(self, dates: Sequence[date]) -> None:
        """``_LeanLevels`` for each date. The rules fire on totals only (the key below holds
        every figure ``_measure`` reads), so dates with the same totals are fired once."""
        if not dates:
            return
        policies = [self.view.policy_on(on) for on in dates]
        overdue, _disputed, days_past_due, overdue_invoices = self._totals(dates, policies)
        day = np.array([on.toordinal() for on in dates], dtype=np.int64)
        broken_counts, partly_counts, open_since = self._promise_figures(day)
        fired: dict[tuple[object, ...], tuple[int, int]] = {}
        for index, on in enumerate(dates):
            policy = policies[index]
            broken = broken_counts[index]
            if policy.partly_kept_counts_as_broken:
                broken += partly_counts[index]
            rating = self.customer.rating_on(on)
            is_blacklisted = self.customer.is_blacklisted_on(on)
            key = (
                policy.version,
                overdue[index],
                days_past_due[index],
                overdue_invoices[index],
                broken,
                rating,
                is_blacklisted,
            )
            if key not in fired:
                fired[key] = self._fired_levels(
                    policy,
                    _Figures(
                        overdue_minor=overdue[index],
                        days_past_due_max=days_past_due[index],
                        overdue_invoices=overdue_invoices[index],
                        broken_promises=broken,
                        rating=rating,
                        is_blacklisted=is_blacklisted,
                    ),
                )
            since = open_since[index]
            self._lean[on] = _LeanLevels(
                policy=policy,
                time_level=fired[key][0],
                decision_level=fired[key][1],
                open_promise_since=None if since == _NO_PROMISE else date.fromordinal(since),
            )

    def _promise_figures(self, day: np.ndarray) -> tuple[list[int], list[int], list[int]]:
        """Per day (ordinals, in any order): how many of the customer's promises are judged
        broken and how many partly kept on it, and the earliest day an open one was made
        (``_NO_PROMISE``: none open), as ``_judgements`` would judge them on each day: from
        each promise's judgements as they change (``_steps``), placed on the days by
        bisection rather than every promise judged on every day."""
        order = np.argsort(day, kind="stable")
        ascending = day[order]
        starts: list[int] = []
        ends: list[int] = []
        statuses: list[PromiseStatus] = []
        made: list[int] = []
        for steps in self._steps():
            ordinals = [on.toordinal() for on in steps.dates]
            starts.extend(ordinals)
            ends.extend(ordinals[1:])
            ends.append(_NO_PROMISE)
            statuses.extend(judgement.status for judgement in steps.judgements)
            made.extend([ordinals[0]] * len(ordinals))
        size = len(day)
        first = np.searchsorted(ascending, np.array(starts, dtype=np.int64), side="left")
        after = np.searchsorted(ascending, np.array(ends, dtype=np.int64), side="left")
        broken = np.zeros(size + 1, dtype=np.int64)
        partly = np.zeros(size + 1, dtype=np.int64)
        since = np.full(size, _NO_PROMISE, dtype=np.int64)
        for index, status in enumerate(statuses):
            lo, hi = int(first[index]), int(after[index])
            if lo == hi:
                continue
            if status is PromiseStatus.BROKEN:
                broken[lo] += 1
                broken[hi] -= 1
            elif status is PromiseStatus.PARTLY_KEPT:
                partly[lo] += 1
                partly[hi] -= 1
            elif status is PromiseStatus.OPEN:
                np.minimum(since[lo:hi], made[index], out=since[lo:hi])
        result = []
        for sums in (np.cumsum(broken[:size]), np.cumsum(partly[:size]), since):
            placed = np.empty(size, dtype=np.int64)
            placed[order] = sums
            result.append(placed.tolist())
        return result[0], result[1], result[2]

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
        invoice_of, amount, before, due, issued, invoice_amount, closed, move_key, move_settled = (
            rows
        )
        # Each invoice's first movement in the keys, and 0 settled before it (index -1 below).
        invoice_key = np.arange(len(invoice_amount), dtype=np.int64) * ORDINALS_SPAN
        moves_first = np.searchsorted(move_key, invoice_key, side="left")
        settled_after = np.r_[move_settled, np.int64(0)]
        # Days in blocks, so that the arrays stay a few MB whatever the customer's size; a
        # block's rows are those of the invoices open on some day of it (issued by its last
        # day, not settled in full before its first): of a large customer's history, most
        # invoices are settled, which made most of the rows x days computed.
        block = max(1, ROWS_X_DAYS_MAX // len(invoice_of))
        start = 0
        while start < len(day):
            days_on = day[start : start + block]
            done = slice(start, start + len(days_on))
            start += len(days_on)
            live = (issued <= days_on.max()) & (closed > days_on.min())
            rows_live = live[invoice_of]
            live_rows = int(np.count_nonzero(rows_live))
            # The next block as large as these live rows allow, at most twice this one (the
            # rows live on more days may be many more).
            block = max(1, min(2 * len(days_on), ROWS_X_DAYS_MAX // max(live_rows, 1)))
            if live_rows == 0:
                continue  # nothing open on these days: zeros
            of = invoice_of[rows_live]
            # Rows are in invoice order: each invoice's first instalment row starts its run.
            firsts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
            # Every row's invoice's settled amount on every day of the block, one bisection of
            # all the movements (one per invoice was 1.6M NumPy calls for a customer of 22,000
            # invoices): the last movement of the invoice by that day, or none (-1: 0).
            found = np.searchsorted(move_key, invoice_key[of, None] + days_on, side="right")
            settled_of = settled_after[np.where(found > moves_first[of, None], found - 1, -1)]
            is_open = (days_on >= issued[of, None]) & (settled_of < invoice_amount[of, None])
            row_amount = amount[rows_live, None]
            taken = np.minimum(np.maximum(settled_of - before[rows_live, None], 0), row_amount)
            part_open = row_amount - taken
            days = days_on - due[rows_live, None]
            counted = is_open & (part_open > 0) & (days >= 1)
            overdue[done] = np.where(counted, part_open, 0).sum(axis=0)
            days_past_due[done] = np.where(counted, days, 0).max(axis=0)
            overdue_invoices[done] = np.logical_or.reduceat(counted, firsts, axis=0).sum(axis=0)
        return overdue, days_past_due, overdue_invoices

    def _instalment_rows(self) -> _InstalmentRows | None:
        """The undisputed invoices' instalments as arrays (invoice, amount, amount of the
        instalments before it, due ordinal), the invoices' issue ordinals, amounts and the
        ordinals from which nothing is open (``_Timeline.closed_from``; ``ORDINALS_SPAN`` if
        none), and every movement's key (``ORDINALS_SPAN``; ascending: invoices in order,
        each one's movements by date) with its invoice's settled amount after it. None when
        there is none. Made once per evaluation."""
        if self._rows_made:
            return self._rows
        self._rows_made = True
        invoice_of: list[int] = []
        amount: list[int] = []
        before: list[int] = []
        due: list[int] = []
        issued: list[int] = []
        invoice_amount: list[int] = []
        move_key: list[int] = []
        move_settled: list[int] = []
        closed: list[int] = []
        for timeline in self._timelines:
            if timeline.has_disputes:
                continue
            invoice = timeline.invoice
            index = len(issued)
            issued.append(invoice.issued_on.toordinal())
            invoice_amount.append(invoice.amount_minor)
            closed.append(
                ORDINALS_SPAN if timeline.closed_from is None else timeline.closed_from.toordinal()
            )
            move_key.extend(index * ORDINALS_SPAN + on.toordinal() for on in timeline.dates)
            move_settled.extend(timeline.settled)
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
            np.array(closed, dtype=np.int64),
            np.array(move_key, dtype=np.int64),
            np.array(move_settled, dtype=np.int64),
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
    def _figure(rule: TriggerRule, raw: _Raw | _Figures) -> int:
        """The rule's figure on the raw figures (0 when there is nothing to measure)."""
        match rule:
            case TriggerRule.DAYS_PAST_DUE:
                return raw.days_past_due_max if raw.overdue_minor > 0 else 0
            case TriggerRule.OVERDUE_AMOUNT:
                return raw.overdue_minor
            case TriggerRule.BROKEN_PROMISES:
                return raw.broken_promises
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
        level = self._adjusted(level, policy, on)
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
        invoices = self.invoices
        disputes_of = self.view.disputes
        applications_of = self.view.applications
        # Each kind of date gathered by one comprehension over the invoices, and the day counts
        # added to each distinct due date once: a customer of 22,000 invoices has a few
        # thousand distinct due dates (a loop per invoice was a third of its status).
        dates = {customer.opened_on}
        dates.update([invoice.issued_on for invoice in invoices])
        dates.update([on for invoice in invoices for on, _ in invoice.movements])
        due = {instalment.due_on for invoice in invoices for instalment in invoice.schedule}
        dates.update([on + timedelta(days=n) for on in due for n in day_counts])
        disputes = [
            dispute for invoice in invoices for dispute in disputes_of.get(invoice.invoice_id, ())
        ]
        dates.update([dispute.opened_on for dispute in disputes])
        dates.update([d.resolved_on for d in disputes if d.resolved_on is not None])
        dates.update(
            [on for invoice in invoices for _, on, _ in applications_of.get(invoice.invoice_id, ())]
        )
        payments = self.view.payments.values()
        dates.update([payment.value_on for payment in payments])
        dates.update([p.reversed_on for p in payments if p.reversed_on is not None])
        for promise in self.promises:
            dates.add(promise.made_on)
            # Each tranche is judged on its own deadline: a missed one breaks the promise.
            dates.update(
                tranche_deadline_on(self.view, promise, tranche.promised_on) + timedelta(days=1)
                for tranche in promise.schedule
            )
            for closed_on in (promise.withdrawn_on, promise.superseded_on):
                if closed_on is not None:
                    dates.add(closed_on)
        dates.update(on for on, _ in customer.ratings)
        dates.update(on for on, _ in customer.blacklisted)
        dates.update(v.effective_on for v in self.view.policy_versions)
        dates.update(diagnosis.diagnosed_on for diagnosis in self.diagnoses)
        dates.update(customer.bankruptcy_filed)
        dates.update(customer.fraud_suspected)
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
