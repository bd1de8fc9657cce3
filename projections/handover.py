"""Cash handover: money collected in person (cash or a cheque) and not yet handed to finance.

A fold over the payment events that matter here (``PaymentReceived``, ``PaymentCollected``,
``CashHandedOver``, ``PaymentReversed``), the customers' codes and the policy versions; the
query ``cash_not_handed_over`` lists, as of a date, every amount a person has held longer than
the policy's ``cash_handover_days`` (the policy in force on that date), with the person's
manager from the same policy.

Invariant: an amount is listed as of a date exactly when it was collected on or before that
date, not handed over by it, not reversed by it, and held more than the policy's days; the days
held are ``(as_of - collected_on).days`` (collected today: 0 days).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

import attrs

from arledger.domain.events import (
    CashHandedOver,
    CustomerAccountOpened,
    EscalationPolicyAdopted,
    Event,
    PaymentCollected,
    PaymentReceived,
    PaymentReversed,
    ReceiptMethod,
)
from arledger.domain.policy import EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force


@attrs.define
class _Collected:
    bank_reference: str
    customer_id: UUID
    amount_minor: int
    currency: str
    collected_on: date
    received_by: str = ""
    method: ReceiptMethod = ReceiptMethod.BANK_TRANSFER
    handed_on: date | None = None
    reversed_on: date | None = None


@attrs.define
class HandoverState:
    customer_codes: dict[UUID, str] = attrs.field(factory=dict)
    payments: dict[UUID, _Collected] = attrs.field(factory=dict)
    """Every payment received; only those collected in person have a ``received_by``."""
    policy_versions: list[PolicyVersion] = attrs.field(factory=list)

    def policy_on(self, on: date) -> EscalationPolicy:
        return policy_in_force(self.policy_versions, on)


def fold(state: HandoverState, event: Event) -> HandoverState:
    """Fold one event in place (others are ignored); returns the state."""
    if isinstance(event, CustomerAccountOpened):
        state.customer_codes[event.originator_id] = event.customer_code
    elif isinstance(event, PaymentReceived):
        state.payments[event.originator_id] = _Collected(
            bank_reference=event.bank_reference,
            customer_id=event.payer_customer_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            collected_on=event.value_on,
        )
    elif isinstance(event, PaymentCollected):
        payment = state.payments[event.originator_id]
        payment.received_by = event.received_by
        payment.method = event.method
    elif isinstance(event, CashHandedOver):
        state.payments[event.originator_id].handed_on = event.handed_on
    elif isinstance(event, PaymentReversed):
        reversed_payment = state.payments.get(event.originator_id)
        if reversed_payment is not None:  # the engine's cut holds only collected payments
            reversed_payment.reversed_on = event.reversed_on
    elif isinstance(event, EscalationPolicyAdopted):
        state.policy_versions.append(
            PolicyVersion(effective_on=event.effective_on, policy=event.policy)
        )
    return state


def fold_all(events: Iterable[Event]) -> HandoverState:
    state = HandoverState()
    for event in events:
        fold(state, event)
    return state


@attrs.frozen(kw_only=True)
class CashHeld:
    """Money a person collected and has not handed to finance for more than the policy's days."""

    bank_reference: str
    customer_code: str
    amount_minor: int
    currency: str
    method: ReceiptMethod
    received_by: str
    manager: str | None
    """The person's manager in the policy in force (None: the policy names none)."""
    collected_on: date
    days_held: int
    handover_days: int


@attrs.frozen(kw_only=True)
class CashHandoverReport:
    """Cash and cheques held too long as of ``as_of`` (only ``manager``'s people, if given),
    longest held first, under the policy version ``policy_version``."""

    as_of: date
    manager: str | None
    policy_version: int
    rows: tuple[CashHeld, ...]


def cash_not_handed_over(
    state: HandoverState, as_of: date, *, manager: str | None = None
) -> CashHandoverReport:
    """Money collected in person and held longer than the policy in force on ``as_of`` allows."""
    policy = state.policy_on(as_of)
    rows = []
    for payment in state.payments.values():
        if not payment.received_by or payment.collected_on > as_of:
            continue
        if payment.handed_on is not None and payment.handed_on <= as_of:
            continue
        if payment.reversed_on is not None and payment.reversed_on <= as_of:
            continue
        days_held = (as_of - payment.collected_on).days
        if days_held <= policy.cash_handover_days:
            continue
        person_manager = policy.managers.get(payment.received_by)
        if manager is not None and person_manager != manager:
            continue
        rows.append(
            CashHeld(
                bank_reference=payment.bank_reference,
                customer_code=state.customer_codes[payment.customer_id],
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                method=payment.method,
                received_by=payment.received_by,
                manager=person_manager,
                collected_on=payment.collected_on,
                days_held=days_held,
                handover_days=policy.cash_handover_days,
            )
        )
    rows.sort(key=lambda row: (-row.days_held, row.bank_reference))
    return CashHandoverReport(
        as_of=as_of, manager=manager, policy_version=policy.version, rows=tuple(rows)
    )
