"""Promise tracking: each promise to pay judged from the payments, as of a date.

A promise is judged on what the customer paid between the day it was made and its promised
date plus the policy's tolerance days (the policy in force on the promised date): payments
allocated to the promised invoices when it names any, else all payments received from the
customer; a payment reversed by ``as_of`` does not count. Then:
- kept: the promised amount was paid (possibly before the deadline);
- open: not yet paid in full and the deadline has not passed;
- partly kept / broken: the deadline passed with part / none of it paid;
- withdrawn / superseded: closed before the deadline, not judged.
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


def deadline_on(state: PortfolioState, promise: PromiseFacts) -> date:
    tolerance = state.policy_on(promise.promised_on).promise_tolerance_days
    return promise.promised_on + timedelta(days=tolerance)


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
    deadline = deadline_on(state, promise)
    window_end = min(deadline, as_of)
    paid = 0
    paid_in_full_on = None
    for on, amount in _payments_in_window(state, promise, window_end, as_of):
        paid += amount
        if paid >= promise.amount_minor and paid_in_full_on is None:
            paid_in_full_on = on
    paid = min(paid, promise.amount_minor)
    closed_on = promise.withdrawn_on or promise.superseded_on
    judged_on: date | None
    if paid_in_full_on is not None and (closed_on is None or paid_in_full_on <= closed_on):
        status, judged_on = PromiseStatus.KEPT, paid_in_full_on
    elif closed_on is not None and closed_on <= min(as_of, deadline):
        status = (
            PromiseStatus.WITHDRAWN
            if promise.withdrawn_on is not None
            else PromiseStatus.SUPERSEDED
        )
        judged_on = None
    elif as_of <= deadline:
        status, judged_on = PromiseStatus.OPEN, None
    else:
        status = PromiseStatus.PARTLY_KEPT if paid > 0 else PromiseStatus.BROKEN
        judged_on = deadline + timedelta(days=1)
    return PromiseJudgement(
        promise_id=promise.promise_id,
        reference=promise.reference,
        customer_id=promise.customer_id,
        status=status,
        promised_minor=promise.amount_minor,
        paid_minor=paid,
        currency=promise.currency,
        made_on=promise.made_on,
        promised_on=promise.promised_on,
        deadline_on=deadline,
        judged_on=judged_on,
    )


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
