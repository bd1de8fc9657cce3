"""Goods in lieu of money [以物抵债]: a customer's settlement in goods, proposed, approved, settled.

A settlement in goods is a non-cash settlement that only ever enters the ledger as an approved,
valued event, never as a casual promise to take useless goods (防备客户以无用产品来抵债务):

1. proposed (``GoodsInLieuProposed``): the goods, quantity and unit, the appraised value and
   who appraised it; valued at once with the haircut of the policy in force on the proposal's
   date: ``valued_minor`` = appraised x (1 - haircut), rounded down to the minor unit (the goods
   never settle more than the policy lets them be worth);
2. approved (``GoodsInLieuApproved``) by a named approver, with a reason, at the valued amount,
   if ``require_within_authority`` allows it;
3. settled (``GoodsInLieuSettled`` on the account and one ``GoodsInLieuApplied`` per invoice,
   saved together): the approved value, exactly, spread over the customer's invoices. What the
   goods do not cover stays open on the invoices, or is conceded explicitly (a concession).

The states live on the customer account (``CustomerAccount.goods_settlements``), keyed by
``settlement_reference``. Invariant: a settlement moves proposed -> approved -> settled, once
each; the settled amounts add up to the approved value, which is the valued one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Final, TypedDict
from uuid import UUID

import attrs

from .approval import NO_AUTHORITY_POLICY, Authority
from .approval import require_within_authority as approval_limits
from .errors import (
    GoodsSettlementApprovalError,
    GoodsSettlementNotFoundError,
    GoodsSettlementStateError,
    InvalidAmountError,
    InvalidDateError,
    TooManyItemsError,
)
from .events import (
    Event,
    GoodsAllocation,
    GoodsInLieuApproved,
    GoodsInLieuProposed,
    GoodsInLieuSettled,
)
from .money import AMOUNT_MINOR_MAX
from .policy import BPS_PER_UNIT, EscalationPolicy
from .rules import (
    require_date,
    require_key,
    require_person,
    require_positive,
    require_reason,
    require_recorded_at,
    require_text,
)

if TYPE_CHECKING:
    from .customer import CustomerAccount
    from .invoice import Invoice

SETTLED_INVOICES_MAX: Final = 1000
"""Most invoices one settlement in goods may settle; more is a data error, refused."""
QUANTITY_MAX: Final = 10**12


class GoodsSettlementStatus(enum.Enum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    SETTLED = "settled"


@attrs.frozen(kw_only=True)
class GoodsSettlement:
    """One settlement in goods as the account knows it."""

    settlement_reference: str
    goods: str
    quantity: int
    unit: str
    appraised_minor: int
    currency: str
    appraiser: str
    haircut_bps: int
    valued_minor: int
    proposed_on: date
    status: GoodsSettlementStatus = GoodsSettlementStatus.PROPOSED
    approver: str | None = None
    approved_on: date | None = None
    settled_on: date | None = None


def valued_minor(appraised_minor: int, haircut_bps: int) -> int:
    """The appraised value less the haircut, rounded down to the minor unit (exact integers):
    100,000.00 appraised with a 3,000 bps haircut is valued 70,000.00."""
    assert 0 <= haircut_bps <= BPS_PER_UNIT
    value = appraised_minor * (BPS_PER_UNIT - haircut_bps) // BPS_PER_UNIT
    assert 0 <= value <= appraised_minor
    return value


def require_within_authority(
    settlement: GoodsSettlement, approver: str, authority: Authority = NO_AUTHORITY_POLICY
) -> None:
    """Refuse an approval outside the approver's authority.

    The one place the authority of an approver of goods in lieu is checked: the approver is a
    named person, not the goods' own appraiser (four eyes on every valuation), and, under the
    authority policy in force on the approval's date (``authority``), holds a role whose limits
    in the settlement's currency cover its valued amount (as for a reduction, with nothing else
    counted in the period). A value above the role's two-approver threshold is refused: a
    settlement in goods has one approver.
    """
    require_person("approver", approver)
    if approver.casefold() == settlement.appraiser.casefold():
        raise GoodsSettlementApprovalError(
            f"settlement in goods {settlement.settlement_reference}: {approver} appraised the "
            "goods and may not also approve them",
            settlement_reference=settlement.settlement_reference,
            approver=approver,
            appraiser=settlement.appraiser,
            amount_minor=settlement.valued_minor,
        )
    what = f"the settlement in goods {settlement.settlement_reference}"
    needed = approval_limits(
        authority,
        approver=approver,
        amount_minor=settlement.valued_minor,
        currency=settlement.currency,
        what=what,
    )
    if needed > 1:
        raise GoodsSettlementApprovalError(
            f"{what} of {settlement.valued_minor} minor units is above the two-approver "
            f"threshold of {approver}'s role: a settlement in goods that large is approved by "
            "someone whose role has a higher threshold",
            settlement_reference=settlement.settlement_reference,
            approver=approver,
            appraiser=settlement.appraiser,
            amount_minor=settlement.valued_minor,
        )


def evolve(
    settlements: dict[str, GoodsSettlement],
    event: GoodsInLieuProposed | GoodsInLieuApproved | GoodsInLieuSettled,
) -> dict[str, GoodsSettlement]:
    """The account's settlements in goods after one of their events (a new dict)."""
    reference = event.settlement_reference
    match event:
        case GoodsInLieuProposed():
            assert reference not in settlements
            assert event.valued_minor == valued_minor(event.appraised_minor, event.haircut_bps)
            state = GoodsSettlement(
                settlement_reference=reference,
                goods=event.goods,
                quantity=event.quantity,
                unit=event.unit,
                appraised_minor=event.appraised_minor,
                currency=event.currency,
                appraiser=event.appraiser,
                haircut_bps=event.haircut_bps,
                valued_minor=event.valued_minor,
                proposed_on=event.proposed_on,
            )
        case GoodsInLieuApproved():
            proposed = settlements[reference]
            assert proposed.status is GoodsSettlementStatus.PROPOSED
            assert event.approved_minor == proposed.valued_minor
            state = attrs.evolve(
                proposed,
                status=GoodsSettlementStatus.APPROVED,
                approver=event.approver,
                approved_on=event.approved_on,
            )
        case GoodsInLieuSettled():
            approved = settlements[reference]
            assert approved.status is GoodsSettlementStatus.APPROVED
            assert sum(part.amount_minor for part in event.allocations) == approved.valued_minor
            state = attrs.evolve(
                approved, status=GoodsSettlementStatus.SETTLED, settled_on=event.settled_on
            )
    return {**settlements, reference: state}


class _Envelope(TypedDict):
    originator_id: UUID
    originator_version: int
    timestamp: datetime


def _envelope(account: CustomerAccount, recorded_at: datetime) -> _Envelope:
    """The envelope of the account's next event."""
    require_recorded_at(recorded_at)
    return _Envelope(
        originator_id=account.id, originator_version=account.version + 1, timestamp=recorded_at
    )


def _require_settlement(account: CustomerAccount, reference: str) -> GoodsSettlement:
    require_key("settlement_reference", reference)
    settlement = account.goods_settlements.get(reference)
    if settlement is None:
        raise GoodsSettlementNotFoundError(
            f"customer {account.customer_code} has no settlement in goods {reference!r}",
            customer_code=account.customer_code,
            settlement_reference=reference,
        )
    return settlement


def _require_status(settlement: GoodsSettlement, status: GoodsSettlementStatus, to: str) -> None:
    if settlement.status is not status:
        raise GoodsSettlementStateError(
            f"settlement in goods {settlement.settlement_reference} is {settlement.status.value}; "
            f"only a {status.value} one can be {to}",
            settlement_reference=settlement.settlement_reference,
            status=settlement.status.value,
        )


def _require_on_or_after(reference: str, field: str, on: date, floor_on: date) -> None:
    require_date(field, on)
    if on < floor_on:
        raise InvalidDateError(
            f"settlement in goods {reference}: {field} {on} is before {floor_on}",
            field=field,
            floor_on=floor_on,
        )


def propose(
    account: CustomerAccount,
    policy: EscalationPolicy,
    *,
    settlement_reference: str,
    goods: str,
    quantity: int,
    unit: str,
    appraised_minor: int,
    currency: str,
    appraiser: str,
    proposed_on: date,
    recorded_at: datetime,
) -> list[Event]:
    """Record the customer's offer of goods, valued with ``policy``'s haircut (the policy in
    force on ``proposed_on``); the same proposal again is a no-op."""
    from .customer import require_account_currency

    require_key("settlement_reference", settlement_reference)
    require_text("goods", goods)
    require_key("unit", unit)
    require_person("appraiser", appraiser)
    require_positive("appraised_minor", appraised_minor)
    require_date("proposed_on", proposed_on)
    if type(quantity) is not int or not 0 < quantity <= QUANTITY_MAX:
        raise InvalidAmountError(
            f"quantity must be a whole number from 1 to {QUANTITY_MAX:,}, got {quantity!r}",
            field="quantity",
        )
    require_account_currency(account, currency, f"settlement in goods {settlement_reference}")
    haircut_bps = policy.goods_in_lieu_haircut_bps
    content = {
        "goods": goods,
        "quantity": quantity,
        "unit": unit,
        "appraised_minor": appraised_minor,
        "currency": currency,
        "appraiser": appraiser,
        "haircut_bps": haircut_bps,
        "valued_minor": valued_minor(appraised_minor, haircut_bps),
        "proposed_on": proposed_on,
    }
    existing = account.goods_settlements.get(settlement_reference)
    if existing is not None:
        if all(getattr(existing, name) == value for name, value in content.items()):
            return []
        raise GoodsSettlementStateError(
            f"settlement in goods {settlement_reference} was proposed already, with other "
            "goods, amounts, haircut or date",
            settlement_reference=settlement_reference,
            status=existing.status.value,
        )
    return [
        GoodsInLieuProposed(
            **_envelope(account, recorded_at),
            settlement_reference=settlement_reference,
            goods=goods,
            quantity=quantity,
            unit=unit,
            appraised_minor=appraised_minor,
            currency=currency,
            appraiser=appraiser,
            haircut_bps=haircut_bps,
            valued_minor=valued_minor(appraised_minor, haircut_bps),
            proposed_on=proposed_on,
        )
    ]


def approve(
    account: CustomerAccount,
    *,
    settlement_reference: str,
    approver: str,
    reason: str,
    approved_on: date,
    recorded_at: datetime,
    authority: Authority = NO_AUTHORITY_POLICY,
) -> list[Event]:
    """Approve a proposed settlement in goods at its valued amount, within the authority of
    the policy in force on ``approved_on`` (``authority``)."""
    settlement = _require_settlement(account, settlement_reference)
    require_reason("reason", reason)
    _require_status(settlement, GoodsSettlementStatus.PROPOSED, "approved")
    require_within_authority(settlement, approver, authority)
    _require_on_or_after(settlement_reference, "approved_on", approved_on, settlement.proposed_on)
    return [
        GoodsInLieuApproved(
            **_envelope(account, recorded_at),
            settlement_reference=settlement_reference,
            approved_minor=settlement.valued_minor,
            currency=settlement.currency,
            approver=approver,
            reason=reason,
            approved_on=approved_on,
        )
    ]


def settle(
    account: CustomerAccount,
    targets: Sequence[tuple[Invoice, int]],
    *,
    settlement_reference: str,
    settled_on: date,
    recorded_at: datetime,
) -> list[Event]:
    """The goods are received: their approved value settles the named invoices of the
    customer, exactly (the amounts add up to the approved value; what the goods do not cover
    stays open). Each invoice's ``GoodsInLieuApplied`` comes first, then the account's
    ``GoodsInLieuSettled``."""
    from .invoice import apply_goods_in_lieu

    settlement = _require_settlement(account, settlement_reference)
    _require_status(settlement, GoodsSettlementStatus.APPROVED, "settled")
    assert settlement.approved_on is not None
    _require_on_or_after(settlement_reference, "settled_on", settled_on, settlement.approved_on)
    if not targets:
        raise GoodsSettlementStateError(
            f"settlement in goods {settlement_reference} names no invoice to settle",
            settlement_reference=settlement_reference,
            field="allocations",
        )
    if len(targets) > SETTLED_INVOICES_MAX:
        raise TooManyItemsError(
            f"a settlement in goods settles at most {SETTLED_INVOICES_MAX} invoices",
            field="allocations",
        )
    total = 0
    for invoice, amount_minor in targets:
        require_positive("amount_minor", amount_minor)
        total += amount_minor
        if invoice.customer_id != account.id:
            raise GoodsSettlementStateError(
                f"invoice {invoice.invoice_number} is not {account.customer_code}'s: goods of "
                "one customer never settle another's invoice",
                settlement_reference=settlement_reference,
                invoice_number=invoice.invoice_number,
            )
    assert total <= AMOUNT_MINOR_MAX * SETTLED_INVOICES_MAX
    if total != settlement.valued_minor:
        raise GoodsSettlementStateError(
            f"settlement in goods {settlement_reference} settles {total} in all; its approved "
            f"value is {settlement.valued_minor}, which it must settle exactly",
            settlement_reference=settlement_reference,
            amount_minor=total,
            approved_minor=settlement.valued_minor,
        )
    events: list[Event] = []
    invoices_seen: set[UUID] = set()
    for invoice, amount_minor in targets:
        if invoice.id in invoices_seen:
            raise GoodsSettlementStateError(
                f"invoice {invoice.invoice_number} is named twice in settlement in goods "
                f"{settlement_reference}",
                settlement_reference=settlement_reference,
                invoice_number=invoice.invoice_number,
            )
        invoices_seen.add(invoice.id)
        events.append(
            apply_goods_in_lieu(
                invoice,
                settlement_reference=settlement_reference,
                amount_minor=amount_minor,
                applied_on=settled_on,
                recorded_at=recorded_at,
            )
        )
    events.append(
        GoodsInLieuSettled(
            **_envelope(account, recorded_at),
            settlement_reference=settlement_reference,
            allocations=tuple(
                GoodsAllocation(invoice_id=invoice.id, amount_minor=amount_minor)
                for invoice, amount_minor in targets
            ),
            currency=settlement.currency,
            settled_on=settled_on,
        )
    )
    return events
