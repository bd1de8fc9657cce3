"""Promise tracking: each promise to pay judged from the payments, as of a date.

A promise is judged on what the customer paid between the day it was made and its promised
date plus the policy's tolerance days (the policy in force on the promised date): payments
allocated to the promised invoices when it names any, else all payments received from the
customer; a payment reversed by ``as_of`` does not count. Then:
- kept: the promised amount was paid (possibly before the deadline);
- open: not yet paid in full and the deadline has not passed;
- partly kept / broken: the deadline passed with part / none of it paid;
- withdrawn / superseded: closed before the deadline, not judged.
A promise in tranches [追款可以分时段进行] is judged tranche by tranche
(``PromiseJudgement.tranches``): money in the window goes to the tranches in date order, so
tranche k is kept when the money counted by its own deadline (its date plus the tolerance of
the policy in force on that date, by the customer's risk rating on the day the promise was
made where the policy's tolerance differs by rating) reaches the sum of tranches 1..k;
otherwise it is open, partly kept or broken by the same rules, on its own deadline. The
promise as a whole (what escalation, the KPIs, the back-test and the engine count) follows
from its tranches: kept when every tranche is kept (judged on the day the last was reached);
broken the day after the first missed tranche's deadline, so a missed first tranche breaks
the promise then, not at the end (partly kept when money had been paid toward the tranches
due by that deadline); else withdrawn or superseded when closed; else open. What it counts as
paid is the sum of what each tranche counts. A promise of one date is one tranche, the
promise itself, judged as before.
Invariant: paid_minor never exceeds what was received in the window, and a promise's status
as of a date depends only on facts dated on or before it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import attrs

from arledger.domain.rules import require_date

from .portfolio import PortfolioState, PromiseFacts


class PromiseStatus(enum.Enum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


JUDGED = (PromiseStatus.KEPT, PromiseStatus.PARTLY_KEPT, PromiseStatus.BROKEN)


@attrs.frozen(kw_only=True)
class TrancheJudgement:
    """One tranche of a promise judged as of a date: the money counted toward it is what the
    window holds by its deadline beyond the earlier tranches' sum, at most its amount."""

    promised_on: date
    promised_minor: int
    paid_minor: int
    status: PromiseStatus
    deadline_on: date
    judged_on: date | None


@attrs.frozen(kw_only=True)
class PromiseJudgement:
    promise_id: UUID
    reference: str
    customer_id: UUID
    status: PromiseStatus
    promised_minor: int
    paid_minor: int
    currency: str
    made_on: date
    promised_on: date
    deadline_on: date
    judged_on: date | None
    """When the status became final: the day paid in full, or the day after the deadline."""
    tranches: tuple[TrancheJudgement, ...] = ()
    """Each tranche judged on its own, in date order (one, the promise itself, when it has a
    single date)."""


def deadline_on(state: PortfolioState, promise: PromiseFacts) -> date:
    return tranche_deadline_on(state, promise, promise.promised_on)


def tranche_deadline_on(state: PortfolioState, promise: PromiseFacts, promised_on: date) -> date:
    """A promised date (the promise's or one of its tranches') plus the tolerance days of the
    policy in force on it for the customer's risk rating on the day the promise was made."""
    policy = state.policy_on(promised_on)
    tolerance = policy.promise_tolerance_days
    if policy.promise_tolerance_days_by_rating:
        customer = state.customers.get(promise.customer_id)
        rating = None if customer is None else customer.rating_on(promise.made_on)
        tolerance = policy.promise_tolerance_days_for(None if rating is None else rating.value)
    return promised_on + timedelta(days=tolerance)


def _payments_in_window(
    state: PortfolioState, promise: PromiseFacts, last_on: date, as_of: date
) -> list[tuple[date, int]]:
    """(date, amount) of money counting toward the promise, dated from made_on to last_on."""
    if promise.invoice_ids:
        found = []
        for invoice_id in promise.invoice_ids:
            for payment_id, on, amount in state.applications.get(invoice_id, ()):
                payment = state.payments[payment_id]
                if amount > 0 and promise.made_on <= on <= last_on and payment.counts_on(as_of):
                    found.append((on, amount))
        return sorted(found)
    return sorted(
        (payment.value_on, payment.amount_minor)
        for payment in state.payments.values()
        if payment.customer_id == promise.customer_id
        and payment.currency == promise.currency
        and promise.made_on <= payment.value_on <= last_on
        and payment.counts_on(as_of)
    )


def judge(state: PortfolioState, promise: PromiseFacts, as_of: date) -> PromiseJudgement | None:
    """The promise as of ``as_of``; None when it was not yet made then."""
    if promise.made_on > as_of:
        return None
    tranches = _tranches(state, promise, as_of)
    status, judged_on = _whole(promise, tranches)
    return PromiseJudgement(
        promise_id=promise.promise_id,
        reference=promise.reference,
        customer_id=promise.customer_id,
        status=status,
        promised_minor=promise.amount_minor,
        paid_minor=sum(tranche.paid_minor for tranche in tranches),
        currency=promise.currency,
        made_on=promise.made_on,
        promised_on=promise.promised_on,
        deadline_on=deadline_on(state, promise),
        judged_on=judged_on,
        tranches=tranches,
    )


def _whole(
    promise: PromiseFacts, tranches: tuple[TrancheJudgement, ...]
) -> tuple[PromiseStatus, date | None]:
    """(status, judged on) of the promise from its tranches' judgements (see the module's
    docstring): the first missed deadline breaks it; every tranche kept keeps it."""
    missed = [t for t in tranches if t.status in (PromiseStatus.PARTLY_KEPT, PromiseStatus.BROKEN)]
    if missed:
        first = min(missed, key=lambda t: t.deadline_on)
        paid_by_then = sum(t.paid_minor for t in tranches if t.deadline_on <= first.deadline_on)
        broken = PromiseStatus.PARTLY_KEPT if paid_by_then > 0 else PromiseStatus.BROKEN
        return broken, first.judged_on
    if all(t.status is PromiseStatus.KEPT for t in tranches):
        return PromiseStatus.KEPT, max(t.judged_on for t in tranches if t.judged_on is not None)
    if any(t.status is PromiseStatus.OPEN for t in tranches):
        return PromiseStatus.OPEN, None
    if promise.withdrawn_on is not None:
        return PromiseStatus.WITHDRAWN, None
    assert promise.superseded_on is not None
    return PromiseStatus.SUPERSEDED, None


def _status(
    promise: PromiseFacts,
    paid: int,
    paid_in_full_on: date | None,
    deadline: date,
    as_of: date,
) -> tuple[PromiseStatus, date | None]:
    """(status, judged on) of money ``paid`` (in full on ``paid_in_full_on``, if it was)
    against a deadline: the same rules for a promise and for each of its tranches."""
    closed_on = promise.withdrawn_on or promise.superseded_on
    if paid_in_full_on is not None and (closed_on is None or paid_in_full_on <= closed_on):
        return PromiseStatus.KEPT, paid_in_full_on
    if closed_on is not None and closed_on <= min(as_of, deadline):
        if promise.withdrawn_on is not None:
            return PromiseStatus.WITHDRAWN, None
        return PromiseStatus.SUPERSEDED, None
    if as_of <= deadline:
        return PromiseStatus.OPEN, None
    broken = PromiseStatus.PARTLY_KEPT if paid > 0 else PromiseStatus.BROKEN
    return broken, deadline + timedelta(days=1)


def _tranches(
    state: PortfolioState, promise: PromiseFacts, as_of: date
) -> tuple[TrancheJudgement, ...]:
    """Each tranche judged: the window's money, in date order, fills the tranches in date
    order; tranche k counts what came by its own deadline beyond tranches 1..k-1."""
    schedule = promise.schedule
    deadlines = [tranche_deadline_on(state, promise, t.promised_on) for t in schedule]
    movements = _payments_in_window(state, promise, min(max(deadlines), as_of), as_of)
    judged = []
    before = 0
    for tranche, deadline in zip(schedule, deadlines, strict=True):
        window_end = min(deadline, as_of)
        running = 0
        reached_on = None
        for on, amount in movements:
            if on > window_end:
                break
            running += amount
            if reached_on is None and running >= before + tranche.amount_minor:
                reached_on = on
        paid = min(max(running - before, 0), tranche.amount_minor)
        status, judged_on = _status(promise, paid, reached_on, deadline, as_of)
        judged.append(
            TrancheJudgement(
                promised_on=tranche.promised_on,
                promised_minor=tranche.amount_minor,
                paid_minor=paid,
                status=status,
                deadline_on=deadline,
                judged_on=judged_on,
            )
        )
        before += tranche.amount_minor
    assert sum(t.promised_minor for t in judged) == promise.amount_minor
    return tuple(judged)


def judge_all(
    state: PortfolioState, as_of: date, *, customer_id: UUID | None = None
) -> list[PromiseJudgement]:
    """Every promise made by ``as_of`` (of one customer, if given), in order of making."""
    require_date("as_of", as_of)
    judgements = []
    for promise in state.promises.values():
        if customer_id is not None and promise.customer_id != customer_id:
            continue
        judgement = judge(state, promise, as_of)
        if judgement is not None:
            judgements.append(judgement)
    judgements.sort(key=lambda j: (j.made_on, j.reference))
    return judgements


@attrs.frozen(kw_only=True)
class PromiseRates:
    """Kept rates over judged promises (kept, partly kept, broken), by count and by amount."""

    judged_count: int
    kept_count: int
    promised_minor: int
    paid_minor: int

    @property
    def kept_rate_by_count(self) -> Decimal | None:
        if self.judged_count == 0:
            return None
        return Decimal(self.kept_count) / Decimal(self.judged_count)

    @property
    def kept_rate_by_amount(self) -> Decimal | None:
        if self.promised_minor == 0:
            return None
        return Decimal(self.paid_minor) / Decimal(self.promised_minor)


def promise_rates(judgements: Iterable[PromiseJudgement]) -> PromiseRates:
    """Rates over one currency's judgements; amounts of different currencies never mix."""
    judged = [j for j in judgements if j.status in JUDGED]
    assert len({j.currency for j in judged}) <= 1, "promise rates by amount need one currency"
    return PromiseRates(
        judged_count=len(judged),
        kept_count=sum(1 for j in judged if j.status is PromiseStatus.KEPT),
        promised_minor=sum(j.promised_minor for j in judged),
        paid_minor=sum(j.paid_minor for j in judged),
    )
