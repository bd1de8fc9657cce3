"""Invoice aggregate: what a customer owes for one sale, and everything that reduced it.

Invariant: open = amount - payments applied (net of reversals) - credit notes - concessions
- written off, and 0 <= open <= amount at every version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Final, assert_never
from uuid import UUID

import attrs

from . import ids
from .approval import (
    NO_AUTHORITY_POLICY,
    Authority,
    approvers_of,
    require_approval,
    require_postponement_within_authority,
)
from .credit_note import CreditNote
from .customer import CustomerAccount, add_invoice, require_account_currency
from .errors import (
    CurrencyMismatchError,
    CustomerNotFoundError,
    DisputedAmountError,
    DisputeNotFoundError,
    DisputeStateError,
    DuplicateKeyConflictError,
    InvalidChoiceError,
    InvalidCommandError,
    InvalidDateError,
    InvalidInstalmentScheduleError,
    InvoiceStateError,
    OverAllocationError,
    TooManyItemsError,
)
from .events import (
    ConcessionApproved,
    CreditNoteApplied,
    CreditNoteRegistered,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    Event,
    GoodsInLieuApplied,
    Instalment,
    InvoiceDueDateOverridden,
    InvoiceEvent,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentUnapplied,
)
from .money import check_currency
from .rules import (
    TEXT_LENGTH_MAX,
    require_date,
    require_key,
    require_person,
    require_positive,
    require_reason,
    require_recorded_at,
    require_text,
)

INSTALMENTS_MAX: Final = 120
"""Ten years of monthly instalments; a longer schedule is a data error."""

DUE_DAYS_MAX: Final = 3650
"""A due date more than ten years after issue is a data error, not a trade credit."""


@attrs.frozen(kw_only=True)
class Invoice:
    id: UUID
    version: int
    invoice_number: str
    customer_id: UUID
    amount_minor: int
    currency: str
    issued_on: date
    due_on: date
    instalments: tuple[Instalment, ...]
    contract_reference: str
    interest_minor: int = 0
    fees_minor: int = 0
    applied_by_payment: dict[UUID, int] = attrs.field(factory=dict)
    credited_minor: int = 0
    conceded_minor: int = 0
    settled_in_goods_minor: int = 0
    written_off_minor: int = 0
    is_written_off: bool = False
    written_off_on: date | None = None
    # credit-note number -> (amount, applied on, reason) of each credit note applied here
    credit_notes: dict[str, tuple[int, date, str]] = attrs.field(factory=dict)
    open_disputes: dict[str, int] = attrs.field(factory=dict)
    dispute_openings: dict[str, tuple[int, DisputeReason, str, date]] = attrs.field(factory=dict)
    # Business dates of movements, kept so that every as-of view of the invoice is a consistent
    # one: reductions are never dated before the latest reopening, and reopenings never before
    # any earlier movement (see ``reduction_floor_on`` and ``reopening_floor_on``).
    last_movement_on: date | None = None
    reopened_on: date | None = None
    # Every movement as (business date, minor units: + reduces what is open, - reopens), in
    # recording order, so that what was open on any date can be told (``open_minor_on``).
    movements: tuple[tuple[date, int], ...] = ()
    # Every approved reduction as (business date, minor units, approvers), for the authority
    # policy's per-customer-per-period limit (``approval.approved_in_period``).
    approved_reductions: tuple[tuple[date, int, tuple[str, ...]], ...] = ()
    # Every manual due-date override as (overridden on, new due date, reason), in recording
    # order.
    due_date_overrides: tuple[tuple[date, date, str], ...] = ()

    @property
    def current_due_on(self) -> date:
        """The due date in force after every override (``due_on`` is the issued one)."""
        return self.due_date_overrides[-1][1] if self.due_date_overrides else self.due_on

    @property
    def open_by_component(self) -> tuple[int, int, int]:
        """What is open of (fees, interest, principal): whatever settled the invoice settled
        its fees first, then its interest, then its principal (BGB 367)."""
        settled = self.amount_minor - self.open_minor
        open_parts = []
        for part in (self.fees_minor, self.interest_minor, self.principal_minor):
            taken = min(settled, part)
            settled -= taken
            open_parts.append(part - taken)
        assert settled == 0
        fees, interest, principal = open_parts
        return fees, interest, principal

    @property
    def principal_minor(self) -> int:
        return self.amount_minor - self.interest_minor - self.fees_minor

    @property
    def applied_minor(self) -> int:
        return sum(self.applied_by_payment.values())

    @property
    def open_minor(self) -> int:
        return (
            self.amount_minor
            - self.applied_minor
            - self.credited_minor
            - self.conceded_minor
            - self.settled_in_goods_minor
            - self.written_off_minor
        )

    def open_minor_on(self, on: date) -> int:
        """What was open at the end of ``on``: nothing before the issue date, and movements
        dated after ``on`` do not count (as the ageing fold's ``InvoiceFacts`` reads it)."""
        if on < self.issued_on:
            return 0
        open_minor = self.amount_minor - sum(
            amount for moved_on, amount in self.movements if moved_on <= on
        )
        assert 0 <= open_minor <= self.amount_minor
        return open_minor

    @property
    def disputed_minor(self) -> int:
        """What is in open dispute, at most what is still open."""
        return min(sum(self.open_disputes.values()), self.open_minor)

    @property
    def reduction_floor_on(self) -> date:
        """Earliest date a new reduction (payment, credit note, concession) may carry."""
        return max(self.issued_on, self.reopened_on or self.issued_on)

    @property
    def reopening_floor_on(self) -> date:
        """Earliest date a new reopening (payment reversal, reinstatement) or write-off may
        carry: none may be dated before an earlier movement."""
        return max(self.issued_on, self.last_movement_on or self.issued_on)

    @property
    def schedule(self) -> tuple[Instalment, ...]:
        """The instalments, or the whole amount as one instalment on the due date."""
        if self.instalments:
            return self.instalments
        return (Instalment(due_on=self.due_on, amount_minor=self.amount_minor),)


def open_by_instalment(
    schedule: Sequence[Instalment], settled_minor: int
) -> list[tuple[date, int]]:
    """Open amount of each instalment when ``settled_minor`` has been settled in all.

    Settlements go to the oldest instalment first, so what stays open is the latest part.
    """
    assert settled_minor >= 0
    remaining = settled_minor
    result = []
    for instalment in schedule:
        taken = min(remaining, instalment.amount_minor)
        remaining -= taken
        result.append((instalment.due_on, instalment.amount_minor - taken))
    assert remaining == 0, "settled more than the schedule holds"
    return result


def _check_invariants(state: Invoice) -> Invoice:
    assert state.open_minor >= 0, f"invoice {state.invoice_number} open below zero"
    assert state.open_minor <= state.amount_minor
    assert state.open_minor == state.amount_minor - sum(amount for _on, amount in state.movements)
    assert all(amount >= 0 for amount in state.applied_by_payment.values())
    return state


def evolve(state: Invoice | None, event: Event) -> Invoice:
    """Apply one invoice event; checks invariants, decides nothing."""
    assert isinstance(event, InvoiceEvent), f"not a invoice event: {type(event).__name__}"
    if isinstance(event, InvoiceIssued):
        assert state is None
        return Invoice(
            id=event.originator_id,
            version=event.originator_version,
            invoice_number=event.invoice_number,
            customer_id=event.customer_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            issued_on=event.issued_on,
            due_on=event.due_on,
            instalments=event.instalments,
            contract_reference=event.contract_reference,
            interest_minor=event.interest_minor,
            fees_minor=event.fees_minor,
        )
    assert state is not None
    assert event.originator_version == state.version + 1
    version = event.originator_version
    match event:
        case PaymentApplied():
            applied = dict(state.applied_by_payment)
            applied[event.payment_id] = applied.get(event.payment_id, 0) + event.amount_minor
            new = attrs.evolve(
                state,
                version=version,
                applied_by_payment=applied,
                last_movement_on=_later(state.last_movement_on, event.applied_on),
                movements=(*state.movements, (event.applied_on, event.amount_minor)),
            )
        case PaymentUnapplied():
            applied = dict(state.applied_by_payment)
            applied[event.payment_id] = applied.get(event.payment_id, 0) - event.amount_minor
            if applied[event.payment_id] == 0:
                del applied[event.payment_id]
            new = attrs.evolve(
                state,
                version=version,
                applied_by_payment=applied,
                last_movement_on=_later(state.last_movement_on, event.unapplied_on),
                reopened_on=event.unapplied_on,
                movements=(*state.movements, (event.unapplied_on, -event.amount_minor)),
            )
        case CreditNoteApplied():
            assert event.credit_note_number not in state.credit_notes
            new = attrs.evolve(
                state,
                version=version,
                credited_minor=state.credited_minor + event.amount_minor,
                credit_notes={
                    **state.credit_notes,
                    event.credit_note_number: (event.amount_minor, event.applied_on, event.reason),
                },
                last_movement_on=_later(state.last_movement_on, event.applied_on),
                movements=(*state.movements, (event.applied_on, event.amount_minor)),
                approved_reductions=_approved(state, event.applied_on, event),
            )
        case ConcessionApproved():
            new = attrs.evolve(
                state,
                version=version,
                conceded_minor=state.conceded_minor + event.amount_minor,
                last_movement_on=_later(state.last_movement_on, event.approved_on),
                movements=(*state.movements, (event.approved_on, event.amount_minor)),
                approved_reductions=_approved(state, event.approved_on, event),
            )
        case GoodsInLieuApplied():
            new = attrs.evolve(
                state,
                version=version,
                settled_in_goods_minor=state.settled_in_goods_minor + event.amount_minor,
                last_movement_on=_later(state.last_movement_on, event.applied_on),
                movements=(*state.movements, (event.applied_on, event.amount_minor)),
            )
        case InvoiceWrittenOff():
            new = attrs.evolve(
                state,
                version=version,
                written_off_minor=state.written_off_minor + event.amount_minor,
                is_written_off=True,
                written_off_on=event.written_off_on,
                last_movement_on=_later(state.last_movement_on, event.written_off_on),
                movements=(*state.movements, (event.written_off_on, event.amount_minor)),
                approved_reductions=_approved(state, event.written_off_on, event),
            )
        case InvoiceReinstated():
            assert event.amount_minor == state.written_off_minor
            new = attrs.evolve(
                state,
                version=version,
                written_off_minor=0,
                is_written_off=False,
                written_off_on=None,
                last_movement_on=_later(state.last_movement_on, event.reinstated_on),
                reopened_on=event.reinstated_on,
                movements=(*state.movements, (event.reinstated_on, -event.amount_minor)),
            )
        case DisputeOpened():
            assert event.dispute_reference not in state.dispute_openings
            new = attrs.evolve(
                state,
                version=version,
                open_disputes={**state.open_disputes, event.dispute_reference: event.amount_minor},
                dispute_openings={
                    **state.dispute_openings,
                    event.dispute_reference: (
                        event.amount_minor,
                        event.reason_code,
                        event.root_cause,
                        event.opened_on,
                    ),
                },
            )
        case InvoiceDueDateOverridden():
            assert event.previous_due_on == state.current_due_on
            assert not state.instalments
            new = attrs.evolve(
                state,
                version=version,
                due_date_overrides=(
                    *state.due_date_overrides,
                    (event.overridden_on, event.due_on, event.reason),
                ),
            )
        case DisputeResolved():
            open_disputes = dict(state.open_disputes)
            del open_disputes[event.dispute_reference]
            new = attrs.evolve(state, version=version, open_disputes=open_disputes)
        case _ as unreachable:
            assert_never(unreachable)
    return _check_invariants(new)


def _approved(
    state: Invoice, on: date, event: CreditNoteApplied | ConcessionApproved | InvoiceWrittenOff
) -> tuple[tuple[date, int, tuple[str, ...]], ...]:
    approvers = approvers_of(event.approver, event.second_approver)
    return (*state.approved_reductions, (on, event.amount_minor, approvers))


def _later(known: date | None, on: date) -> date:
    return on if known is None or on > known else known


def fold(events: Iterable[Event], state: Invoice | None = None) -> Invoice | None:
    for event in events:
        state = evolve(state, event)
    return state


# Commands -------------------------------------------------------------------------------------


def issue_invoice(
    existing: Invoice | None,
    customer: CustomerAccount | None,
    *,
    invoice_number: str,
    customer_code: str,
    amount_minor: int,
    currency: str,
    issued_on: date,
    due_on: date | None = None,
    instalments: Sequence[Instalment] = (),
    contract_reference: str = "",
    interest_minor: int = 0,
    fees_minor: int = 0,
    recorded_at: datetime,
) -> list[Event]:
    """Issue an invoice to an open account; the same invoice again is a no-op.

    The due date is ``due_on``, else the last instalment's, else the account's terms.
    Returns the invoice's event and the account's index entry, to be saved together.
    """
    require_key("invoice_number", invoice_number)
    require_positive("amount_minor", amount_minor)
    check_currency(currency)
    require_date("issued_on", issued_on)
    require_recorded_at(recorded_at)
    if contract_reference:
        require_text("contract_reference", contract_reference, length_max=TEXT_LENGTH_MAX)
    if customer is None:
        raise CustomerNotFoundError(
            f"no customer account {customer_code!r}; open it before invoicing",
            customer_code=customer_code,
            invoice_number=invoice_number,
        )
    schedule = tuple(instalments)
    _check_schedule(invoice_number, amount_minor, issued_on, schedule)
    for field, part in (("interest", interest_minor), ("fees", fees_minor)):
        if type(part) is not int or part < 0:
            raise InvalidCommandError(
                f"invoice {invoice_number}: {field} must be zero or more minor units",
                field=field,
                invoice_number=invoice_number,
            )
    if interest_minor + fees_minor > amount_minor:
        raise InvalidCommandError(
            f"invoice {invoice_number}: interest {interest_minor} and fees {fees_minor} are "
            f"more than the amount {amount_minor}",
            field="fees",
            invoice_number=invoice_number,
        )
    if due_on is None:
        due_on = schedule[-1].due_on if schedule else customer.due_on_for(issued_on)
    require_date("due_on", due_on)
    if due_on < issued_on:
        raise InvalidDateError(
            f"invoice {invoice_number}: due date {due_on} is before issue date {issued_on}",
            invoice_number=invoice_number,
            issued_on=issued_on,
            due_on=due_on,
        )
    if due_on > issued_on + timedelta(days=DUE_DAYS_MAX):
        raise InvalidDateError(
            f"invoice {invoice_number}: due date {due_on} is over {DUE_DAYS_MAX} days after issue",
            invoice_number=invoice_number,
            due_on=due_on,
        )
    if schedule and schedule[-1].due_on != due_on:
        raise InvalidInstalmentScheduleError(
            f"invoice {invoice_number}: due date {due_on} is not the last instalment's "
            f"({schedule[-1].due_on})",
            invoice_number=invoice_number,
        )
    invoice_id = ids.invoice_id(invoice_number)
    issued = InvoiceIssued(
        originator_id=invoice_id,
        originator_version=1,
        timestamp=recorded_at,
        invoice_number=invoice_number,
        customer_id=customer.id,
        amount_minor=amount_minor,
        currency=currency,
        issued_on=issued_on,
        due_on=due_on,
        instalments=schedule,
        contract_reference=contract_reference,
        interest_minor=interest_minor,
        fees_minor=fees_minor,
    )
    if existing is not None:
        same = (
            existing.customer_id == customer.id
            and existing.amount_minor == amount_minor
            and existing.currency == currency
            and existing.issued_on == issued_on
            and existing.due_on == due_on
            and existing.instalments == schedule
            and existing.contract_reference == contract_reference
            and existing.interest_minor == interest_minor
            and existing.fees_minor == fees_minor
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"invoice {invoice_number} was already issued with different content",
            invoice_number=invoice_number,
            invoice_id=invoice_id,
        )
    # Checked after the repeat above, so that re-sending an invoice recorded before this rule
    # stays a no-op.
    require_account_currency(
        customer, currency, f"invoice {invoice_number}", invoice_number=invoice_number
    )
    return [
        issued,
        *add_invoice(
            customer, invoice_id=invoice_id, invoice_number=invoice_number, recorded_at=recorded_at
        ),
    ]


def _check_schedule(
    invoice_number: str, amount_minor: int, issued_on: date, schedule: tuple[Instalment, ...]
) -> None:
    if not schedule:
        return
    if len(schedule) > INSTALMENTS_MAX:
        raise TooManyItemsError(
            f"invoice {invoice_number}: {len(schedule)} instalments; at most {INSTALMENTS_MAX}",
            invoice_number=invoice_number,
        )
    for instalment in schedule:
        require_positive("instalment amount_minor", instalment.amount_minor)
        require_date("instalment due_on", instalment.due_on)
    if sum(i.amount_minor for i in schedule) != amount_minor:
        raise InvalidInstalmentScheduleError(
            f"invoice {invoice_number}: instalments sum to "
            f"{sum(i.amount_minor for i in schedule)}, not the amount {amount_minor}",
            invoice_number=invoice_number,
            amount_minor=amount_minor,
        )
    due_dates = [i.due_on for i in schedule]
    if due_dates != sorted(set(due_dates)):
        raise InvalidInstalmentScheduleError(
            f"invoice {invoice_number}: instalment due dates must be strictly increasing",
            invoice_number=invoice_number,
        )
    if due_dates[0] < issued_on:
        raise InvalidDateError(
            f"invoice {invoice_number}: instalment due {due_dates[0]} before issue {issued_on}",
            invoice_number=invoice_number,
        )


def _require_reducible(invoice: Invoice, amount_minor: int, what: str) -> None:
    """Only what is open may be reduced. On a written-off invoice that is the money a later
    bounce reopened (the write-off covered only what was open when it was recorded): it may be
    settled, credited, conceded or written off again like any open money."""
    require_positive("amount_minor", amount_minor)
    if invoice.is_written_off and amount_minor > invoice.open_minor:
        raise InvoiceStateError(
            f"invoice {invoice.invoice_number} is written off and has {invoice.open_minor} "
            f"open (reopened by a bounce since), less than the {what} of {amount_minor}; "
            "reinstate it to settle more",
            invoice_number=invoice.invoice_number,
            invoice_id=invoice.id,
            amount_minor=amount_minor,
            open_minor=invoice.open_minor,
        )
    if amount_minor > invoice.open_minor:
        raise OverAllocationError(
            f"{what} of {amount_minor} exceeds invoice {invoice.invoice_number}'s open amount "
            f"{invoice.open_minor}",
            invoice_number=invoice.invoice_number,
            invoice_id=invoice.id,
            amount_minor=amount_minor,
            open_minor=invoice.open_minor,
        )


def _require_not_before(invoice: Invoice, field: str, on: date, floor_on: date) -> None:
    """Movements may not be back-dated before the invoice's issue or an earlier movement."""
    require_date(field, on)
    if on < floor_on:
        raise InvalidDateError(
            f"invoice {invoice.invoice_number}: {field} {on} is before {floor_on}, the issue "
            f"date or the date of an earlier movement on it",
            invoice_number=invoice.invoice_number,
            field=field,
            floor_on=floor_on,
        )


def apply_credit_note(
    invoice: Invoice,
    account: CustomerAccount,
    registered: CreditNote | None,
    *,
    credit_note_number: str,
    amount_minor: int,
    currency: str,
    applied_on: date,
    reason: str,
    approver: str,
    authority: Authority = NO_AUTHORITY_POLICY,
    second_approver: str | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """Reduce the invoice by a credit note and register its number for the whole ledger.

    ``registered`` is the number's registration, if it was used before (on any invoice): the
    same credit note again is a no-op, any other content (another invoice, amount, date or
    reason) a ``DuplicateKeyConflictError``. Returns the invoice's ``CreditNoteApplied`` and
    the number's ``CreditNoteRegistered``, to be saved together.
    """
    require_key("credit_note_number", credit_note_number)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    assert account.id == invoice.customer_id, "the invoice's own account"
    if registered is not None:
        same = registered.is_the_same(
            invoice_id=invoice.id,
            amount_minor=amount_minor,
            currency=currency,
            applied_on=applied_on,
            reason=reason,
        )
        if same:
            return []
        raise _credit_note_taken(invoice, credit_note_number, registered.invoice_id)
    recorded = invoice.credit_notes.get(credit_note_number)
    if recorded is not None:
        # Applied here before numbers were registered: the invoice remembers its content.
        if recorded == (amount_minor, applied_on, reason) and currency == invoice.currency:
            return []
        raise _credit_note_taken(invoice, credit_note_number, invoice.id)
    require_account_currency(
        account,
        currency,
        f"credit note {credit_note_number}",
        credit_note_number=credit_note_number,
        invoice_number=invoice.invoice_number,
    )
    if currency != invoice.currency:
        raise CurrencyMismatchError(
            f"credit note {credit_note_number} is in {currency}, invoice "
            f"{invoice.invoice_number} in {invoice.currency}",
            credit_note_number=credit_note_number,
            invoice_number=invoice.invoice_number,
            currency=currency,
            other_currency=invoice.currency,
        )
    return _credited(
        invoice,
        credit_note_number=credit_note_number,
        amount_minor=amount_minor,
        applied_on=applied_on,
        reason=reason,
        approvers=approvers_of(approver, second_approver),
        authority=authority,
        recorded_at=recorded_at,
    )


def _credit_note_taken(
    invoice: Invoice, credit_note_number: str, used_on_invoice_id: UUID
) -> DuplicateKeyConflictError:
    where = "this invoice" if used_on_invoice_id == invoice.id else "another invoice"
    return DuplicateKeyConflictError(
        f"credit note {credit_note_number} was already applied to {where} with different "
        f"content; a credit-note number credits one invoice, once",
        credit_note_number=credit_note_number,
        credit_note_id=ids.credit_note_id(credit_note_number),
        invoice_number=invoice.invoice_number,
        used_on_invoice_id=used_on_invoice_id,
    )


def _credited(
    invoice: Invoice,
    *,
    credit_note_number: str,
    amount_minor: int,
    applied_on: date,
    reason: str,
    approvers: tuple[str, ...],
    authority: Authority,
    recorded_at: datetime,
) -> list[Event]:
    """The invoice's ``CreditNoteApplied`` and the number's ``CreditNoteRegistered``."""
    _require_reducible(invoice, amount_minor, "credit note")
    _require_not_before(invoice, "applied_on", applied_on, invoice.reduction_floor_on)
    require_approval(
        authority,
        approvers=approvers,
        amount_minor=amount_minor,
        currency=invoice.currency,
        what=f"credit note {credit_note_number} on invoice {invoice.invoice_number}",
    )
    return [
        CreditNoteApplied(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            credit_note_number=credit_note_number,
            amount_minor=amount_minor,
            currency=invoice.currency,
            applied_on=applied_on,
            reason=reason,
            approver=approvers[0],
            second_approver=approvers[1] if len(approvers) > 1 else None,
        ),
        CreditNoteRegistered(
            originator_id=ids.credit_note_id(credit_note_number),
            originator_version=1,
            timestamp=recorded_at,
            credit_note_number=credit_note_number,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            amount_minor=amount_minor,
            currency=invoice.currency,
            applied_on=applied_on,
            reason=reason,
        ),
    ]


def approve_concession(
    invoice: Invoice,
    *,
    amount_minor: int,
    approved_on: date,
    reason: str,
    approver: str,
    authority: Authority = NO_AUTHORITY_POLICY,
    second_approver: str | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """An explicit, approved reduction of the invoice (never an implicit edit)."""
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    _require_reducible(invoice, amount_minor, "concession")
    _require_not_before(invoice, "approved_on", approved_on, invoice.reduction_floor_on)
    require_approval(
        authority,
        approvers=approvers_of(approver, second_approver),
        amount_minor=amount_minor,
        currency=invoice.currency,
        what=f"concession on invoice {invoice.invoice_number}",
    )
    return [
        ConcessionApproved(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            amount_minor=amount_minor,
            currency=invoice.currency,
            approved_on=approved_on,
            reason=reason,
            approver=approver,
            second_approver=second_approver or None,
        )
    ]


def override_due_date(
    invoice: Invoice,
    *,
    due_on: date,
    overridden_on: date,
    reason: str,
    approver: str,
    authority: Authority = NO_AUTHORITY_POLICY,
    recorded_at: datetime,
) -> list[Event]:
    """Move the invoice's due date by hand, approved: from ``overridden_on`` on it ages from
    ``due_on``. The same override again (same date, due date and reason) is a no-op.

    Only an invoice without an instalment schedule, with something open, and not written
    off; ``due_on`` within ``DUE_DAYS_MAX`` of the issue date; ``overridden_on`` not before the
    issue date nor an earlier override (so every as-of view sees one due date). A postponement
    is held to the approver's ``postponement_days_max`` in the authority policy in force on
    ``overridden_on``."""
    require_date("due_on", due_on)
    require_date("overridden_on", overridden_on)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    what = f"due-date override of invoice {invoice.invoice_number}"
    if invoice.due_date_overrides and invoice.due_date_overrides[-1] == (
        overridden_on,
        due_on,
        reason,
    ):
        return []
    if invoice.instalments:
        raise InvalidCommandError(
            f"{what}: the invoice has an instalment schedule, whose dates are its own; agree "
            "a payment plan instead",
            field="due_on",
            invoice_number=invoice.invoice_number,
        )
    if invoice.is_written_off or invoice.open_minor == 0:
        raise InvoiceStateError(
            f"{what}: nothing is open on it to give time for",
            invoice_number=invoice.invoice_number,
            invoice_id=invoice.id,
            open_minor=invoice.open_minor,
        )
    if due_on < invoice.issued_on or due_on > invoice.issued_on + timedelta(days=DUE_DAYS_MAX):
        raise InvalidDateError(
            f"{what}: due_on {due_on} must be from the issue date {invoice.issued_on} and "
            f"within {DUE_DAYS_MAX} days of it",
            invoice_number=invoice.invoice_number,
            field="due_on",
        )
    if due_on == invoice.current_due_on:
        raise InvalidCommandError(
            f"{what}: the invoice is already due on {due_on}",
            field="due_on",
            invoice_number=invoice.invoice_number,
        )
    floor_on = max([invoice.issued_on, *(entry[0] for entry in invoice.due_date_overrides)])
    _require_not_before(invoice, "overridden_on", overridden_on, floor_on)
    require_postponement_within_authority(
        authority,
        approver=approver,
        postponement_days=(due_on - invoice.current_due_on).days,
        currency=invoice.currency,
        what=what,
    )
    return [
        InvoiceDueDateOverridden(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            due_on=due_on,
            previous_due_on=invoice.current_due_on,
            overridden_on=overridden_on,
            reason=reason,
            approver=approver,
        )
    ]


def apply_goods_in_lieu(
    invoice: Invoice,
    *,
    settlement_reference: str,
    amount_minor: int,
    applied_on: date,
    recorded_at: datetime,
) -> GoodsInLieuApplied:
    """The invoice side of an approved settlement in goods: ``amount_minor`` of the approved
    value settles what is open (``goods_in_lieu.settle`` decides the settlement itself)."""
    require_recorded_at(recorded_at)
    _require_reducible(invoice, amount_minor, "settlement in goods")
    _require_not_before(invoice, "settled_on", applied_on, invoice.reduction_floor_on)
    return GoodsInLieuApplied(
        originator_id=invoice.id,
        originator_version=invoice.version + 1,
        timestamp=recorded_at,
        settlement_reference=settlement_reference,
        amount_minor=amount_minor,
        currency=invoice.currency,
        applied_on=applied_on,
    )


def write_off(
    invoice: Invoice,
    *,
    written_off_on: date,
    reason: str,
    approver: str,
    authority: Authority = NO_AUTHORITY_POLICY,
    second_approver: str | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """Write off whatever is open on the invoice as a bad debt.

    On an invoice written off already, what is open is money a later bounce reopened: a further
    approved write-off takes it, and a reinstatement undoes every write-off together.
    """
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    if invoice.is_written_off and invoice.open_minor == 0:
        raise InvoiceStateError(
            f"invoice {invoice.invoice_number} is already written off",
            invoice_number=invoice.invoice_number,
        )
    if invoice.open_minor == 0:
        raise InvoiceStateError(
            f"invoice {invoice.invoice_number} has nothing open to write off",
            invoice_number=invoice.invoice_number,
        )
    # The amount written off is what is open after every movement recorded so far, so the
    # write-off may not be dated before the latest of them: dated earlier, an as-of view
    # between the two dates would show a written-off invoice still partly open.
    _require_not_before(invoice, "written_off_on", written_off_on, invoice.reopening_floor_on)
    require_approval(
        authority,
        approvers=approvers_of(approver, second_approver),
        amount_minor=invoice.open_minor,
        currency=invoice.currency,
        what=f"write-off of invoice {invoice.invoice_number}",
    )
    return [
        InvoiceWrittenOff(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            amount_minor=invoice.open_minor,
            currency=invoice.currency,
            written_off_on=written_off_on,
            reason=reason,
            approver=approver,
            second_approver=second_approver or None,
        )
    ]


def reinstate(
    invoice: Invoice, *, reinstated_on: date, reason: str, approver: str, recorded_at: datetime
) -> list[Event]:
    """Undo the write-offs: everything written off is due again."""
    require_reason("reason", reason)
    require_person("approver", approver)
    require_recorded_at(recorded_at)
    require_date("reinstated_on", reinstated_on)
    if not invoice.is_written_off:
        raise InvoiceStateError(
            f"invoice {invoice.invoice_number} is not written off",
            invoice_number=invoice.invoice_number,
        )
    _require_not_before(invoice, "reinstated_on", reinstated_on, invoice.reopening_floor_on)
    return [
        InvoiceReinstated(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            amount_minor=invoice.written_off_minor,
            currency=invoice.currency,
            reinstated_on=reinstated_on,
            reason=reason,
            approver=approver,
        )
    ]


def payment_applied(
    invoice: Invoice,
    *,
    payment_id: UUID,
    amount_minor: int,
    applied_on: date,
    recorded_at: datetime,
) -> PaymentApplied:
    """The invoice side of an allocation; the payment module decides, this checks the invoice."""
    _require_reducible(invoice, amount_minor, "payment allocation")
    return PaymentApplied(
        originator_id=invoice.id,
        originator_version=invoice.version + 1,
        timestamp=recorded_at,
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        applied_on=max(applied_on, invoice.reduction_floor_on),
    )


def payment_unapplied(
    invoice: Invoice, *, payment_id: UUID, unapplied_on: date, reason: str, recorded_at: datetime
) -> PaymentUnapplied:
    amount_minor = invoice.applied_by_payment.get(payment_id, 0)
    assert amount_minor > 0, "unapplying a payment that settles nothing here"
    return PaymentUnapplied(
        originator_id=invoice.id,
        originator_version=invoice.version + 1,
        timestamp=recorded_at,
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        unapplied_on=max(unapplied_on, invoice.reopening_floor_on),
        reason=reason,
    )


# Disputes -------------------------------------------------------------------------------------


def open_dispute(
    invoice: Invoice,
    *,
    dispute_reference: str,
    amount_minor: int,
    reason_code: DisputeReason,
    root_cause: str,
    opened_on: date,
    recorded_at: datetime,
) -> list[Event]:
    """The customer disputes part or all of what is open; the same dispute again is a no-op."""
    require_key("dispute_reference", dispute_reference)
    require_positive("amount_minor", amount_minor)
    if not isinstance(reason_code, DisputeReason):
        raise InvalidChoiceError(
            f"dispute reason must be one of {', '.join(r.value for r in DisputeReason)}, "
            f"got {reason_code!r}",
            field="reason_code",
            value=reason_code,
        )
    require_reason("root_cause", root_cause)
    require_recorded_at(recorded_at)
    if dispute_reference in invoice.dispute_openings:
        if invoice.dispute_openings[dispute_reference] == (
            amount_minor,
            reason_code,
            root_cause,
            opened_on,
        ):
            return []
        raise DuplicateKeyConflictError(
            f"dispute {dispute_reference} was already opened with different content",
            dispute_reference=dispute_reference,
            invoice_number=invoice.invoice_number,
        )
    if invoice.is_written_off and invoice.open_minor == 0:
        raise InvoiceStateError(
            f"invoice {invoice.invoice_number} is written off; nothing to dispute",
            invoice_number=invoice.invoice_number,
        )
    undisputed_minor = invoice.open_minor - sum(invoice.open_disputes.values())
    if amount_minor > undisputed_minor:
        raise DisputedAmountError(
            f"dispute of {amount_minor} exceeds invoice {invoice.invoice_number}'s open "
            f"undisputed amount {max(undisputed_minor, 0)}",
            invoice_number=invoice.invoice_number,
            amount_minor=amount_minor,
            open_minor=invoice.open_minor,
            undisputed_minor=max(undisputed_minor, 0),
        )
    _require_not_before(invoice, "opened_on", opened_on, invoice.issued_on)
    return [
        DisputeOpened(
            originator_id=invoice.id,
            originator_version=invoice.version + 1,
            timestamp=recorded_at,
            dispute_reference=dispute_reference,
            amount_minor=amount_minor,
            currency=invoice.currency,
            reason_code=reason_code,
            root_cause=root_cause,
            opened_on=opened_on,
        )
    ]


def resolve_dispute(
    invoice: Invoice,
    *,
    dispute_reference: str,
    outcome: DisputeOutcome,
    resolved_on: date,
    note: str,
    upheld_minor: int | None = None,
    credit_note_number: str | None = None,
    registered: CreditNote | None,
    approver: str | None = None,
    authority: Authority = NO_AUTHORITY_POLICY,
    recorded_at: datetime,
) -> list[Event]:
    """Close a dispute. Upheld: a credit note for the upheld amount (default: all of it),
    numbered ``credit_note_number`` or ``<dispute reference>-CN``, approved by ``approver``
    within ``authority``; ``registered`` is that number's registration if it was ever used,
    which refuses it (a new credit note needs a new number). Rejected: the amount returns to
    collection (no approver needed)."""
    require_key("dispute_reference", dispute_reference)
    require_reason("note", note)
    require_recorded_at(recorded_at)
    if not isinstance(outcome, DisputeOutcome):
        raise InvalidChoiceError(
            f"dispute outcome must be upheld or rejected, got {outcome!r}",
            field="outcome",
            value=outcome,
        )
    if dispute_reference not in invoice.dispute_openings:
        raise DisputeNotFoundError(
            f"invoice {invoice.invoice_number} has no dispute {dispute_reference!r}",
            invoice_number=invoice.invoice_number,
            dispute_reference=dispute_reference,
        )
    if dispute_reference not in invoice.open_disputes:
        raise DisputeStateError(
            f"dispute {dispute_reference} on invoice {invoice.invoice_number} is already resolved",
            invoice_number=invoice.invoice_number,
            dispute_reference=dispute_reference,
        )
    opened_on = invoice.dispute_openings[dispute_reference][3]
    _require_not_before(invoice, "resolved_on", resolved_on, opened_on)
    disputed = invoice.open_disputes[dispute_reference]
    if outcome is DisputeOutcome.REJECTED:
        if upheld_minor:
            raise InvalidCommandError(
                "a rejected dispute upholds nothing", upheld_minor=upheld_minor
            )
        upheld = 0
    else:
        upheld = min(disputed, invoice.open_minor) if upheld_minor is None else upheld_minor
        require_positive("upheld_minor", upheld)
        if upheld > disputed:
            raise DisputedAmountError(
                f"upholding {upheld} exceeds the disputed {disputed}",
                invoice_number=invoice.invoice_number,
                amount_minor=upheld,
                disputed_minor=disputed,
            )
    resolved = DisputeResolved(
        originator_id=invoice.id,
        originator_version=invoice.version + 1,
        timestamp=recorded_at,
        dispute_reference=dispute_reference,
        outcome=outcome,
        upheld_minor=upheld,
        currency=invoice.currency,
        resolved_on=resolved_on,
        note=note,
    )
    if upheld == 0:
        return [resolved]
    number = dispute_credit_note_number(dispute_reference, credit_note_number)
    require_key("credit_note_number", number)
    if registered is not None:
        raise _credit_note_taken(invoice, number, registered.invoice_id)
    if number in invoice.credit_notes:
        raise _credit_note_taken(invoice, number, invoice.id)
    credit = _credited(
        evolve(invoice, resolved),
        credit_note_number=number,
        amount_minor=upheld,
        applied_on=resolved_on,
        reason=f"dispute {dispute_reference} upheld",
        approvers=approvers_of(approver),
        authority=authority,
        recorded_at=recorded_at,
    )
    return [resolved, *credit]


def dispute_credit_note_number(dispute_reference: str, credit_note_number: str | None) -> str:
    """The number of an upheld dispute's credit note: the one given, else ``<reference>-CN``."""
    return credit_note_number or f"{dispute_reference}-CN"
