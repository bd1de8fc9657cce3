"""Monthly collection plans [追款计划]: per customer and month, the target its owner set, the
customer's commitment (the promise tranches falling due in the month) and what was collected,
as of a date; grouped by customer, collection owner or team.

- **target**: the last ``CollectionTargetSet`` for the month set on or before ``as_of`` (0:
  none, or taken back).
- **committed**: the tranches of the customer's promises (a promise of one date is one
  tranche) promised in the month, made by ``as_of`` and not withdrawn or superseded by then
  (``promises.judge``): what the customer agreed to pay this month [承诺].
- **collected**: cash received from the customer with a value date in the month, by
  ``as_of``, not reversed by then (settlements in goods are not cash, as in the KPIs).
- **gap to target** = target - committed, at least 0: the part of the target no promise
  covers, which needs measures (答应追款10万元…目标是20万元: a gap of 100,000.00).
- **gap to commitment** = committed - collected, at least 0: promised money still to come.
- a customer with a target and no commitment is flagged (``no_commitment``): a plan without a
  promise behind it is empty [客户没有做出追款承诺…计划是落空的].

Grouped by owner, the target and commitment belong to the plan's owner (the collection owner
in charge on the month's first day, or the opening owner of an account opened later), and each
payment to the owner in charge on its value date, so that a review is period-correct when an
account changes hands mid-month. By team, an owner's team is their manager in the policy in
force on ``as_of`` (``EscalationPolicy.managers``), or the owner themself without one. A
group's gaps are worked out from its totals. Amounts of different currencies are never added:
one row per group and currency.

Invariant: every figure depends only on facts dated on or before ``as_of``; a group's target,
committed and collected are the sums of its customers' shares.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.rules import require_date

from .portfolio import CustomerHistory, PaymentFacts, PortfolioState, PromiseFacts
from .promises import PromiseStatus, judge

CLOSED = (PromiseStatus.WITHDRAWN, PromiseStatus.SUPERSEDED)
"""Tranches no longer committed: their promise was taken back or replaced before them."""


class PlanGrouping(enum.Enum):
    CUSTOMER = "customer"
    OWNER = "owner"
    TEAM = "team"


@attrs.frozen(kw_only=True)
class CommittedTranche:
    """One tranche committed for the month, judged as of the plan's date."""

    promise_reference: str
    promised_on: date
    promised_minor: int
    paid_minor: int
    status: PromiseStatus


@attrs.frozen(kw_only=True)
class CustomerPlan:
    """One customer's plan for the month; amounts in minor units of ``currency``."""

    customer_code: str
    currency: str
    owner: str
    """The plan's owner: the collection owner in charge on the month's first day."""
    target_minor: int
    committed_minor: int
    collected_minor: int
    gap_to_target_minor: int
    gap_to_commitment_minor: int
    no_commitment: bool
    """A target and no commitment: the plan has no promise behind it."""
    tranches: tuple[CommittedTranche, ...]
    collected_by_owner: tuple[tuple[str, int], ...]
    """What was collected per owner in charge on each payment's value date."""


@attrs.frozen(kw_only=True)
class PlanRow:
    """One group's plans in one currency."""

    key: str
    currency: str
    customers: int
    """Customers with a target, a commitment or money collected in the month."""
    target_minor: int
    committed_minor: int
    collected_minor: int
    gap_to_target_minor: int
    gap_to_commitment_minor: int
    uncommitted: tuple[str, ...]
    """Codes of the customers with a target and no commitment (flagged)."""

    @property
    def collection_rate(self) -> Decimal | None:
        """Collected / target (None without a target): the review's figure."""
        if self.target_minor == 0:
            return None
        return Decimal(self.collected_minor) / Decimal(self.target_minor)

    @property
    def commitment_rate(self) -> Decimal | None:
        """Committed / target (None without a target)."""
        if self.target_minor == 0:
            return None
        return Decimal(self.committed_minor) / Decimal(self.target_minor)


@attrs.frozen(kw_only=True)
class CollectionPlan:
    month_on: date
    """The month's first day."""
    as_of: date
    grouping: PlanGrouping
    rows: tuple[PlanRow, ...]
    """By key, then currency."""
    customers: tuple[CustomerPlan, ...]
    """Every customer with a target, a commitment or money collected in the month, by code."""
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """Where in the log the answer stands (set by the Ledger)."""


def month_end(month_on: date) -> date:
    """The last day of the month starting ``month_on``."""
    following = date(month_on.year + month_on.month // 12, month_on.month % 12 + 1, 1)
    return following - timedelta(days=1)


def customer_plan(
    state: PortfolioState,
    customer: CustomerHistory,
    month_on: date,
    as_of: date,
    *,
    promises: Iterable[PromiseFacts] | None = None,
    payments: Iterable[PaymentFacts] | None = None,
) -> CustomerPlan:
    """The customer's plan for the month starting ``month_on`` as of ``as_of``;
    ``promises`` and ``payments``, when given, are the customer's (else found in ``state``)."""
    last_on = month_end(month_on)
    target = customer.target_on(month_on, as_of)
    if promises is None:
        promises = [p for p in state.promises.values() if p.customer_id == customer.customer_id]
    if payments is None:
        payments = [p for p in state.payments.values() if p.customer_id == customer.customer_id]
    tranches = []
    for promise in promises:
        assert promise.customer_id == customer.customer_id
        judgement = judge(state, promise, as_of)
        if judgement is None:
            continue
        for tranche in judgement.tranches:
            if month_on <= tranche.promised_on <= last_on and tranche.status not in CLOSED:
                tranches.append(
                    CommittedTranche(
                        promise_reference=promise.reference,
                        promised_on=tranche.promised_on,
                        promised_minor=tranche.promised_minor,
                        paid_minor=tranche.paid_minor,
                        status=tranche.status,
                    )
                )
    tranches.sort(key=lambda t: (t.promised_on, t.promise_reference))
    by_owner: dict[str, int] = defaultdict(int)
    for payment in payments:
        if (
            payment.customer_id == customer.customer_id
            and payment.currency == customer.currency
            and month_on <= payment.value_on <= last_on
            and payment.counts_on(as_of)
        ):
            by_owner[customer.owner_on(payment.value_on)] += payment.amount_minor
    committed = sum(t.promised_minor for t in tranches)
    collected = sum(by_owner.values())
    return CustomerPlan(
        customer_code=customer.customer_code,
        currency=customer.currency,
        owner=customer.owner_on(month_on),
        target_minor=target,
        committed_minor=committed,
        collected_minor=collected,
        gap_to_target_minor=max(target - committed, 0),
        gap_to_commitment_minor=max(committed - collected, 0),
        no_commitment=target > 0 and committed == 0,
        tranches=tuple(tranches),
        collected_by_owner=tuple(sorted(by_owner.items())),
    )


def collection_plan(
    state: PortfolioState,
    month_on: date,
    as_of: date | None = None,
    *,
    grouping: PlanGrouping = PlanGrouping.CUSTOMER,
    customer_ids: Iterable[UUID] | None = None,
) -> CollectionPlan:
    """Every customer's plan for the month starting ``month_on`` (as of its last day unless
    ``as_of`` is given), grouped; only ``customer_ids``' if given."""
    require_date("month_on", month_on)
    assert month_on.day == 1, "a plan's month is named by its first day"
    as_of = month_end(month_on) if as_of is None else require_date("as_of", as_of)
    wanted = None if customer_ids is None else set(customer_ids)
    # Each customer's promises and payments, gathered once: a plan reads only its own.
    promises_of: dict[UUID, list[PromiseFacts]] = defaultdict(list)
    for promise in state.promises.values():
        promises_of[promise.customer_id].append(promise)
    payments_of: dict[UUID, list[PaymentFacts]] = defaultdict(list)
    for payment in state.payments.values():
        payments_of[payment.customer_id].append(payment)
    plans = []
    for customer in state.customers.values():
        if wanted is not None and customer.customer_id not in wanted:
            continue
        if customer.opened_on > as_of:
            continue
        plan = customer_plan(
            state,
            customer,
            month_on,
            as_of,
            promises=promises_of.get(customer.customer_id, ()),
            payments=payments_of.get(customer.customer_id, ()),
        )
        if plan.target_minor or plan.committed_minor or plan.collected_minor:
            plans.append(plan)
    plans.sort(key=lambda p: p.customer_code)
    managers = state.policy_on(as_of).managers
    return CollectionPlan(
        month_on=month_on,
        as_of=as_of,
        grouping=grouping,
        rows=_rows(plans, grouping, managers),
        customers=tuple(plans),
    )


@attrs.define
class _Totals:
    customers: set[str] = attrs.field(factory=set)
    target: int = 0
    committed: int = 0
    collected: int = 0
    uncommitted: list[str] = attrs.field(factory=list)


def _rows(
    plans: list[CustomerPlan], grouping: PlanGrouping, managers: dict[str, str]
) -> tuple[PlanRow, ...]:
    def key_of(owner: str) -> str:
        if grouping is PlanGrouping.TEAM:
            return managers.get(owner, owner)
        return owner

    totals: dict[tuple[str, str], _Totals] = defaultdict(_Totals)
    for plan in plans:
        if grouping is PlanGrouping.CUSTOMER:
            shares = [(plan.customer_code, plan.collected_minor)]
            plan_key = plan.customer_code
        else:
            shares = [(key_of(owner), amount) for owner, amount in plan.collected_by_owner]
            plan_key = key_of(plan.owner)
        if plan.target_minor or plan.committed_minor:
            group = totals[(plan_key, plan.currency)]
            group.customers.add(plan.customer_code)
            group.target += plan.target_minor
            group.committed += plan.committed_minor
            if plan.no_commitment:
                group.uncommitted.append(plan.customer_code)
        for key, amount in shares:
            group = totals[(key, plan.currency)]
            group.customers.add(plan.customer_code)
            group.collected += amount
    rows = []
    for (key, currency), group in sorted(totals.items()):
        rows.append(
            PlanRow(
                key=key,
                currency=currency,
                customers=len(group.customers),
                target_minor=group.target,
                committed_minor=group.committed,
                collected_minor=group.collected,
                gap_to_target_minor=max(group.target - group.committed, 0),
                gap_to_commitment_minor=max(group.committed - group.collected, 0),
                uncommitted=tuple(sorted(group.uncommitted)),
            )
        )
    return tuple(rows)
