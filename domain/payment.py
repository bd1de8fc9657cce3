"""Payment aggregate: money received, where it went, and whether it bounced.

Invariant: allocations never exceed the amount received; unapplied = amount - allocations
(zero once reversed, when every allocation has been released back to its invoice).
Allocation decides events for the payment and its invoices together; they are saved atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Final, assert_never
from uuid import UUID

import attrs

from . import ids
from .customer import CustomerAccount, require_account_currency
from .errors import (
    AllocationKeyConflictError,
    AutomaticAllocationRefusedError,
    CashNotHandedOverError,
    CurrencyMismatchError,
    CustomerMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    InvalidChoiceError,
    InvalidCommandError,
    InvalidDateError,
    NothingToAllocateError,
    OverAllocationError,
    PaymentStateError,
    RepeatedInvoiceError,
    TooManyItemsError,
)
from .events import (
    AllocationReleased,
    AllocationRule,
    CashHandedOver,
    Event,
    PaymentAllocated,
    PaymentCollected,
    PaymentEvent,
    PaymentReceived,
    PaymentReversed,
    ReceiptMethod,
)
from .invoice import Invoice, payment_applied, payment_unapplied
from .money import check_currency
from .rules import (
    require_date,
    require_key,
    require_person,
    require_positive,
    require_reason,
    require_recorded_at,
)

ALLOCATION_TARGETS_MAX: Final = 1000
"""One payment settling more than a thousand invoices is a remittance file, not a command."""


@attrs.frozen(kw_only=True)
class Payment:
    id: UUID
    version: int
    bank_reference: str
    payer_customer_id: UUID
    amount_minor: int
    currency: str
    value_on: date
    allocations: dict[UUID, int] = attrs.field(factory=dict)
    is_reversed: bool = False
    reversed_on: date | None = None
    # allocation key -> (allocated on, ((invoice id, amount), ...) in the order allocated)
    allocation_keys: dict[str, tuple[date, tuple[tuple[UUID, int], ...]]] = attrs.field(
        factory=dict
    )
    method: ReceiptMethod = ReceiptMethod.BANK_TRANSFER
    received_by: str | None = None
    """Who collected it in person (cash or a cheque); None for a bank transfer."""
    handed_over_on: date | None = None
    received_by_finance: str | None = None

    @property
    def allocated_minor(self) -> int:
        return sum(self.allocations.values())

    @property
    def unapplied_minor(self) -> int:
        if self.is_reversed:
            return 0
        return self.amount_minor - self.allocated_minor


def evolve(state: Payment | None, event: Event) -> Payment:
    """Apply one payment event; checks invariants, decides nothing."""
    assert isinstance(event, PaymentEvent), f"not a payment event: {type(event).__name__}"
    if isinstance(event, PaymentReceived):
        assert state is None
        return Payment(
            id=event.originator_id,
            version=event.originator_version,
            bank_reference=event.bank_reference,
            payer_customer_id=event.payer_customer_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            value_on=event.value_on,
        )
    assert state is not None
    assert event.originator_version == state.version + 1
    match event:
        case PaymentAllocated():
            allocations = dict(state.allocations)
            allocations[event.invoice_id] = (
                allocations.get(event.invoice_id, 0) + event.amount_minor
            )
            keys = state.allocation_keys
            if event.allocation_key is not None:
                on, parts = keys.get(event.allocation_key, (event.allocated_on, ()))
                assert on == event.allocated_on, "one keyed allocation has one date"
                keys = {
                    **keys,
                    event.allocation_key: (on, (*parts, (event.invoice_id, event.amount_minor))),
                }
            new = attrs.evolve(
                state,
                version=event.originator_version,
                allocations=allocations,
                allocation_keys=keys,
            )
        case PaymentCollected():
            assert state.version == 1, "collected in person: recorded with its receipt"
            new = attrs.evolve(
                state,
                version=event.originator_version,
                method=event.method,
                received_by=event.received_by,
            )
        case CashHandedOver():
            assert state.received_by is not None
            assert state.handed_over_on is None
            new = attrs.evolve(
                state,
                version=event.originator_version,
                handed_over_on=event.handed_on,
                received_by_finance=event.received_by_finance,
            )
        case PaymentReversed():
            assert {r.invoice_id: r.amount_minor for r in event.released} == state.allocations
            new = attrs.evolve(
                state,
                version=event.originator_version,
                allocations={},
                is_reversed=True,
                reversed_on=event.reversed_on,
            )
        case _ as unreachable:
            assert_never(unreachable)
    assert new.allocated_minor <= new.amount_minor
    return new


def fold(events: Iterable[Event], state: Payment | None = None) -> Payment | None:
    for event in events:
        state = evolve(state, event)
    return state


# Commands -------------------------------------------------------------------------------------


def receive_payment(
    existing: Payment | None,
    payer: CustomerAccount | None,
    *,
    bank_reference: str,
    payer_code: str,
    amount_minor: int,
    currency: str,
    value_on: date,
    recorded_at: datetime,
    method: ReceiptMethod = ReceiptMethod.BANK_TRANSFER,
    received_by: str | None = None,
) -> list[Event]:
    """Record money received; the same bank reference with the same content is a no-op.

    Cash or a cheque (``method``) names the person who collected it (``received_by``) and is
    recorded with a ``PaymentCollected``; a bank transfer names nobody."""
    require_key("bank_reference", bank_reference)
    require_positive("amount_minor", amount_minor)
    check_currency(currency)
    require_date("value_on", value_on)
    require_recorded_at(recorded_at)
    if not isinstance(method, ReceiptMethod):
        raise InvalidChoiceError(
            f"method must be a ReceiptMethod, got {method!r}",
            field="method",
            value=method,
            bank_reference=bank_reference,
        )
    if method is ReceiptMethod.BANK_TRANSFER:
        if received_by is not None:
            raise InvalidCommandError(
                f"payment {bank_reference}: a bank transfer is not received by a person; "
                f"give method cash or cheque with received_by {received_by!r}",
                field="received_by",
                value=received_by,
                bank_reference=bank_reference,
            )
    else:
        if received_by is None:
            raise InvalidCommandError(
                f"payment {bank_reference}: {method.value} collected in person needs "
                "received_by (who collected it)",
                field="received_by",
                bank_reference=bank_reference,
            )
        require_person("received_by", received_by)
    if payer is None:
        raise CustomerNotFoundError(
            f"no customer account {payer_code!r} for payment {bank_reference}",
            customer_code=payer_code,
            bank_reference=bank_reference,
        )
    payment_id = ids.payment_id(bank_reference)
    if existing is not None:
        same = (
            existing.payer_customer_id == payer.id
            and existing.amount_minor == amount_minor
            and existing.currency == currency
            and existing.value_on == value_on
            and existing.method == method
            and existing.received_by == received_by
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"bank reference {bank_reference} was already recorded with different content",
            bank_reference=bank_reference,
            payment_id=payment_id,
        )
    # After the repeat above: a payment recorded before this rule re-sent stays a no-op.
    require_account_currency(
        payer, currency, f"payment {bank_reference}", bank_reference=bank_reference
    )
    events: list[Event] = [
        PaymentReceived(
            originator_id=payment_id,
            originator_version=1,
            timestamp=recorded_at,
            bank_reference=bank_reference,
            payer_customer_id=payer.id,
            amount_minor=amount_minor,
            currency=currency,
            value_on=value_on,
        )
    ]
    if received_by is not None:
        events.append(
            PaymentCollected(
                originator_id=payment_id,
                originator_version=2,
                timestamp=recorded_at,
                received_by=received_by,
                method=method,
            )
        )
    return events


def hand_over_cash(
    payment: Payment,
    *,
    handed_on: date,
    received_by_finance: str,
    recorded_at: datetime,
) -> list[Event]:
    """Record that the cash or cheque collected in person was handed to finance on
    ``handed_on``; the same handover again is a no-op."""
    require_date("handed_on", handed_on)
    require_person("received_by_finance", received_by_finance)
    require_recorded_at(recorded_at)
    if payment.received_by is None:
        raise PaymentStateError(
            f"payment {payment.bank_reference} came by bank transfer; nothing to hand over",
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
        )
    if payment.handed_over_on is not None:
        if (payment.handed_over_on, payment.received_by_finance) == (
            handed_on,
            received_by_finance,
        ):
            return []
        raise DuplicateKeyConflictError(
            f"payment {payment.bank_reference} was already handed over on "
            f"{payment.handed_over_on.isoformat()} to {payment.received_by_finance}",
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
        )
    if handed_on < payment.value_on:
        raise InvalidDateError(
            f"payment {payment.bank_reference}: handed over on {handed_on} before it was "
            f"collected on {payment.value_on}",
            field="handed_on",
            value=handed_on,
            bank_reference=payment.bank_reference,
        )
    return [
        CashHandedOver(
            originator_id=payment.id,
            originator_version=payment.version + 1,
            timestamp=recorded_at,
            handed_on=handed_on,
            received_by_finance=received_by_finance,
        )
    ]


def require_handed_over(
    payment: Payment, *, settles_on_handover: bool, allocated_on: date | None
) -> None:
    """Refuse to settle invoices with cash or a cheque collected in person before its handover
    to finance, when the policy says it settles only from then (``CashNotHandedOverError``)."""
    if payment.received_by is None or not settles_on_handover:
        return
    on = payment.value_on if allocated_on is None else allocated_on
    if payment.handed_over_on is None or on < payment.handed_over_on:
        handed = (
            "not handed over"
            if payment.handed_over_on is None
            else f"handed over only on {payment.handed_over_on.isoformat()}"
        )
        raise CashNotHandedOverError(
            f"payment {payment.bank_reference}: {payment.method.value} collected by "
            f"{payment.received_by} is {handed}; it settles invoices from its handover to "
            f"finance (allocation date {on.isoformat()})",
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
            received_by=payment.received_by,
            allocated_on=on,
        )


def _open_candidates(
    payment: Payment, invoices: Iterable[Invoice], key: Callable[[Invoice], tuple[Any, ...]]
) -> list[Invoice]:
    """The payer's open invoices in the payment's currency, in the rule's order.

    Only open invoices of the payer in the payment's currency qualify (on a written-off invoice
    only money a later bounce reopened is open).
    """
    return sorted(
        (
            invoice
            for invoice in invoices
            if invoice.customer_id == payment.payer_customer_id
            and invoice.currency == payment.currency
            and invoice.open_minor > 0
        ),
        key=key,
    )


def _by_due_date(invoice: Invoice) -> tuple[date, date, str]:
    return (invoice.due_on, invoice.issued_on, invoice.invoice_number)


def _by_issue_date(invoice: Invoice) -> tuple[date, date, str]:
    return (invoice.issued_on, invoice.due_on, invoice.invoice_number)


def _in_order(amount_minor: int, candidates: Sequence[Invoice]) -> list[tuple[Invoice, int]]:
    """Fill the candidates one after the other until the money runs out."""
    remaining = amount_minor
    plan = []
    for invoice in candidates:
        if remaining == 0:
            break
        amount = min(remaining, invoice.open_minor)
        plan.append((invoice, amount))
        remaining -= amount
    return plan


def plan_oldest_due_first(
    payment: Payment, invoices: Iterable[Invoice]
) -> list[tuple[Invoice, int]]:
    """Spread the unapplied amount over the payer's open invoices, oldest due date first.

    Ties on the due date go to the earlier issue date, then the invoice number.
    """
    return _in_order(payment.unapplied_minor, _open_candidates(payment, invoices, _by_due_date))


def plan_oldest_issued_first(
    payment: Payment, invoices: Iterable[Invoice]
) -> list[tuple[Invoice, int]]:
    """Spread the unapplied amount over the payer's open invoices, oldest issue date first.

    Ties on the issue date go to the earlier due date, then the invoice number.
    """
    return _in_order(payment.unapplied_minor, _open_candidates(payment, invoices, _by_issue_date))


def plan_component_order(
    payment: Payment, invoices: Iterable[Invoice]
) -> list[tuple[Invoice, int]]:
    """Spread the unapplied amount by component (BGB 366/367): the open fees of the payer's
    invoices first, then their open interest, then their principal, each pass oldest due
    first (ties as ``plan_oldest_due_first``). An invoice settles its own components in the
    same order (``Invoice.open_by_component``), so the amounts planned for it take its fees,
    then its interest, then its principal; one line per invoice, in the order first reached.
    """
    candidates = _open_candidates(payment, invoices, _by_due_date)
    remaining = payment.unapplied_minor
    planned: dict[UUID, int] = {}
    for component in range(3):
        for invoice in candidates:
            if remaining == 0:
                break
            amount = min(remaining, invoice.open_by_component[component])
            if amount:
                planned[invoice.id] = planned.get(invoice.id, 0) + amount
                remaining -= amount
    by_id = {invoice.id: invoice for invoice in candidates}
    plan = [(by_id[invoice_id], amount) for invoice_id, amount in planned.items()]
    assert all(amount <= invoice.open_minor for invoice, amount in plan)
    return plan


def split_proportionally(amount_minor: int, open_minor: Sequence[int]) -> list[int]:
    """Split ``amount_minor`` over open amounts in proportion to them, in whole minor units.

    Each share is first rounded down; the minor units left over (fewer than there are open
    amounts) go one each to the largest rounded-off fractions, ties to the earlier position
    (the largest-remainder method: no share moves by more than one unit from its exact value).
    When the amount covers every open amount, each is paid in full. So the shares sum to
    ``min(amount_minor, sum(open_minor))`` exactly and none exceeds its open amount: a share
    rounded down from below an open amount is at most that amount less one unit.
    """
    assert amount_minor >= 0 and all(amount > 0 for amount in open_minor)
    total = sum(open_minor)
    if amount_minor >= total:
        return list(open_minor)
    shares = [amount_minor * amount // total for amount in open_minor]
    left_over = amount_minor - sum(shares)
    by_fraction = sorted(
        range(len(open_minor)), key=lambda i: (-(amount_minor * open_minor[i] % total), i)
    )
    for i in by_fraction[:left_over]:
        shares[i] += 1
    return shares


def plan_proportional(payment: Payment, invoices: Iterable[Invoice]) -> list[tuple[Invoice, int]]:
    """Spread the unapplied amount over the payer's open invoices in proportion to their open
    amounts (``split_proportionally``); the oldest due invoice wins a tie for a left-over unit.
    An invoice whose share rounds to nothing is left out."""
    candidates = _open_candidates(payment, invoices, _by_due_date)
    shares = split_proportionally(
        payment.unapplied_minor, [invoice.open_minor for invoice in candidates]
    )
    return [(invoice, share) for invoice, share in zip(candidates, shares, strict=True) if share]


def plan_automatic(
    rule: AllocationRule,
    payment: Payment,
    invoices: Iterable[Invoice],
    *,
    effective_on: date | None = None,
) -> list[tuple[Invoice, int]]:
    """The automatic allocation of the payment under ``rule`` (the payer's rule in force on
    the payment's value date, adopted on ``effective_on``; None for the default).

    Raises ``AutomaticAllocationRefusedError`` under ``EXPLICIT_ONLY``: the money waits
    unapplied for an allocation that names the invoices.
    """
    match rule:
        case AllocationRule.OLDEST_DUE_FIRST:
            return plan_oldest_due_first(payment, invoices)
        case AllocationRule.OLDEST_ISSUED_FIRST:
            return plan_oldest_issued_first(payment, invoices)
        case AllocationRule.PROPORTIONAL:
            return plan_proportional(payment, invoices)
        case AllocationRule.COMPONENT_ORDER:
            return plan_component_order(payment, invoices)
        case AllocationRule.EXPLICIT_ONLY:
            raise AutomaticAllocationRefusedError(
                f"payment {payment.bank_reference}: the payer's allocation rule "
                f"{rule.value} (in force on {payment.value_on}) allows no automatic "
                "allocation; name the invoices",
                bank_reference=payment.bank_reference,
                allocation_rule=rule.value,
                effective_on=effective_on,
            )
        case _ as unreachable:
            assert_never(unreachable)


def replayed_allocation(
    payment: Payment,
    *,
    allocation_key: str,
    targets: Sequence[tuple[Invoice, int]] | None,
    allocated_on: date | None,
) -> bool:
    """Whether an allocation with this key was already made on the payment with this content.

    The content is the allocation date (default: the value date) and, for an explicit
    allocation, the invoices and amounts (in any order); an automatic allocation
    (``targets`` None) lets the ledger choose, so it repeats whatever the key allocated.
    Raises ``AllocationKeyConflictError`` when the key was used with other content.
    """
    require_key("allocation_key", allocation_key)
    recorded = payment.allocation_keys.get(allocation_key)
    if recorded is None:
        return False
    recorded_on, parts = recorded
    on = payment.value_on if allocated_on is None else allocated_on
    same = on == recorded_on and (
        targets is None
        or sorted((invoice.id, amount) for invoice, amount in targets) == sorted(parts)
    )
    if not same:
        raise AllocationKeyConflictError(
            f"payment {payment.bank_reference}: allocation key {allocation_key!r} was already "
            "used for another allocation",
            allocation_key=allocation_key,
            idempotency_key=allocation_key,
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
        )
    return True


def allocate_payment(
    payment: Payment,
    targets: Sequence[tuple[Invoice, int]],
    *,
    allocated_on: date | None = None,
    allocation_key: str | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """Allocate parts of the payment to invoices; payment and invoice events, saved together.

    Each target is (invoice, amount in minor units). The invoice side is dated the later of the
    allocation date (default: the payment's value date) and the invoice's issue date, since money
    cannot settle an invoice before it exists. With an ``allocation_key`` (the client's, unique
    per payment), an allocation retried with the same content is a no-op (nothing new), with
    other content an ``AllocationKeyConflictError``; the key is recorded on each
    ``PaymentAllocated``.
    """
    require_recorded_at(recorded_at)
    if allocation_key is not None and replayed_allocation(
        payment, allocation_key=allocation_key, targets=targets, allocated_on=allocated_on
    ):
        return []
    if payment.is_reversed:
        raise PaymentStateError(
            f"payment {payment.bank_reference} was reversed; it cannot be allocated",
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
        )
    if not targets:
        raise NothingToAllocateError(
            f"payment {payment.bank_reference}: no invoice to allocate to",
            bank_reference=payment.bank_reference,
        )
    if len(targets) > ALLOCATION_TARGETS_MAX:
        raise TooManyItemsError(
            f"payment {payment.bank_reference}: {len(targets)} targets; "
            f"at most {ALLOCATION_TARGETS_MAX}",
            bank_reference=payment.bank_reference,
        )
    on = payment.value_on if allocated_on is None else require_date("allocated_on", allocated_on)
    if on < payment.value_on:
        raise InvalidDateError(
            f"payment {payment.bank_reference}: allocation date {on} is before value date "
            f"{payment.value_on}",
            bank_reference=payment.bank_reference,
        )
    seen: set[UUID] = set()
    total = 0
    for invoice, amount in targets:
        require_positive("amount_minor", amount)
        if invoice.id in seen:
            raise RepeatedInvoiceError(
                f"invoice {invoice.invoice_number} is named twice in one allocation",
                invoice_number=invoice.invoice_number,
                bank_reference=payment.bank_reference,
            )
        seen.add(invoice.id)
        if invoice.currency != payment.currency:
            raise CurrencyMismatchError(
                f"payment {payment.bank_reference} is in {payment.currency}, invoice "
                f"{invoice.invoice_number} in {invoice.currency}",
                bank_reference=payment.bank_reference,
                invoice_number=invoice.invoice_number,
                currency=payment.currency,
                other_currency=invoice.currency,
            )
        if invoice.customer_id != payment.payer_customer_id:
            # Triangular debt: never net one customer's money against another's receivable.
            raise CustomerMismatchError(
                f"payment {payment.bank_reference} is from another customer than invoice "
                f"{invoice.invoice_number}'s",
                bank_reference=payment.bank_reference,
                invoice_number=invoice.invoice_number,
            )
        total += amount
    if total > payment.unapplied_minor:
        raise OverAllocationError(
            f"payment {payment.bank_reference}: allocating {total} exceeds its unapplied amount "
            f"{payment.unapplied_minor}",
            bank_reference=payment.bank_reference,
            payment_id=payment.id,
            amount_minor=total,
            unapplied_minor=payment.unapplied_minor,
        )
    events: list[Event] = []
    version = payment.version
    for invoice, amount in targets:
        events.append(
            payment_applied(
                invoice,
                payment_id=payment.id,
                amount_minor=amount,
                applied_on=on,
                recorded_at=recorded_at,
            )
        )
        version += 1
        events.append(
            PaymentAllocated(
                originator_id=payment.id,
                originator_version=version,
                timestamp=recorded_at,
                invoice_id=invoice.id,
                amount_minor=amount,
                currency=payment.currency,
                allocated_on=on,
                allocation_key=allocation_key,
            )
        )
    return events


def reverse_payment(
    payment: Payment,
    invoices: Sequence[Invoice],
    *,
    reversed_on: date,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """The payment bounced: release every allocation so its invoices reopen.

    ``invoices`` must hold every invoice the payment settles.
    """
    require_reason("reason", reason)
    require_date("reversed_on", reversed_on)
    require_recorded_at(recorded_at)
    if payment.is_reversed:
        raise PaymentStateError(
            f"payment {payment.bank_reference} is already reversed",
            bank_reference=payment.bank_reference,
        )
    if reversed_on < payment.value_on:
        raise InvalidDateError(
            f"payment {payment.bank_reference}: reversal {reversed_on} before value date "
            f"{payment.value_on}",
            bank_reference=payment.bank_reference,
        )
    by_id = {invoice.id: invoice for invoice in invoices}
    assert set(payment.allocations) <= set(by_id), "reverse_payment needs every settled invoice"
    events: list[Event] = [
        payment_unapplied(
            by_id[invoice_id],
            payment_id=payment.id,
            unapplied_on=reversed_on,
            reason=reason,
            recorded_at=recorded_at,
        )
        for invoice_id in payment.allocations
    ]
    for unapplied, invoice_id in zip(events, payment.allocations, strict=True):
        assert unapplied.amount_minor == payment.allocations[invoice_id]  # type: ignore[attr-defined]
    events.append(
        PaymentReversed(
            originator_id=payment.id,
            originator_version=payment.version + 1,
            timestamp=recorded_at,
            reversed_on=reversed_on,
            reason=reason,
            released=tuple(
                AllocationReleased(invoice_id=invoice_id, amount_minor=amount)
                for invoice_id, amount in payment.allocations.items()
            ),
        )
    )
    return events


def require_payment_key(bank_reference: str) -> UUID:
    require_key("bank_reference", bank_reference)
    return ids.payment_id(bank_reference)
