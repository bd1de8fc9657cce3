"""Reductions and their approvals, as an auditor reads them: every credit note (an upheld
dispute's too), concession, write-off and manual due-date override with its date, customer,
amount, approvers and reason, and the reduction requests still waiting for approval.

Invariant: one row per reduction event in the log, in recording order; a request is pending
from its ``ReductionRequested`` until the approval that applies it or its rejection.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from uuid import UUID

import attrs

from arledger.domain.approval import AuthorityVersion, authority_in_force
from arledger.domain.authority import ReductionKind
from arledger.domain.events import (
    AuthorityPolicyAdopted,
    ConcessionApproved,
    CreditNoteApplied,
    CustomerAccountOpened,
    Event,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceWrittenOff,
    ReductionApproved,
    ReductionRejected,
    ReductionRequested,
)
from arledger.domain.rules import require_period


@attrs.frozen(kw_only=True)
class ReductionRow:
    """One reduction of what a customer owes. ``approver`` is None on a credit note recorded
    before every reduction named its approver; ``reference`` is the credit-note number (empty
    for a concession or write-off; for a due-date override, the due dates from and to, and
    ``amount_minor`` 0: it gives time, it takes no money off)."""

    kind: ReductionKind
    reduced_on: date
    customer_code: str
    invoice_number: str
    amount_minor: int
    currency: str
    approver: str | None
    second_approver: str | None
    reason: str
    reference: str
    recorded_at: datetime


@attrs.frozen(kw_only=True)
class ReductionsReport:
    """The reductions dated ``from_on``..``to_on`` (both included), filtered as asked."""

    from_on: date
    to_on: date
    approver: str | None
    customer_code: str | None
    rows: tuple[ReductionRow, ...]

    def total_minor(self, currency: str) -> int:
        return sum(row.amount_minor for row in self.rows if row.currency == currency)


@attrs.frozen(kw_only=True)
class PendingApproval:
    """A reduction request waiting for (another) approval."""

    request_reference: str
    kind: ReductionKind
    customer_code: str
    invoice_number: str
    amount_minor: int
    currency: str
    reduce_on: date
    reason: str
    requested_by: str
    requested_on: date
    approved_by: tuple[str, ...]
    due_on: date | None = None
    """For a due-date override: the due date asked for."""


@attrs.define
class _Request:
    requested: ReductionRequested
    approved_by: tuple[str, ...] = ()
    closed: bool = False


@attrs.define
class ReductionsState:
    customer_codes: dict[UUID, str] = attrs.field(factory=dict)
    # invoice id -> (invoice number, customer id, currency)
    invoices: dict[UUID, tuple[str, UUID, str]] = attrs.field(factory=dict)
    # invoice id -> its due date in force after every override recorded so far
    due_on: dict[UUID, date] = attrs.field(factory=dict)
    rows: list[ReductionRow] = attrs.field(factory=list)
    requests: dict[UUID, _Request] = attrs.field(factory=dict)
    authority_versions: list[AuthorityVersion] = attrs.field(factory=list)


def initial() -> ReductionsState:
    return ReductionsState()


def _row(
    state: ReductionsState,
    event: CreditNoteApplied | ConcessionApproved | InvoiceWrittenOff,
    kind: ReductionKind,
    reduced_on: date,
    reference: str,
) -> ReductionRow:
    invoice_number, customer_id, _currency = state.invoices[event.originator_id]
    return ReductionRow(
        kind=kind,
        reduced_on=reduced_on,
        customer_code=state.customer_codes[customer_id],
        invoice_number=invoice_number,
        amount_minor=event.amount_minor,
        currency=event.currency,
        approver=event.approver or None,
        second_approver=event.second_approver,
        reason=event.reason,
        reference=reference,
        recorded_at=event.timestamp,
    )


def fold(state: ReductionsState, event: Event) -> None:
    """Apply one event (in place); events that neither reduce nor name a request are skipped."""
    match event:
        case CustomerAccountOpened():
            state.customer_codes[event.originator_id] = event.customer_code
        case InvoiceIssued():
            state.invoices[event.originator_id] = (
                event.invoice_number,
                event.customer_id,
                event.currency,
            )
            state.due_on[event.originator_id] = event.due_on
        case InvoiceDueDateOverridden():
            state.due_on[event.originator_id] = event.due_on
            invoice_number, customer_id, currency = state.invoices[event.originator_id]
            state.rows.append(
                ReductionRow(
                    kind=ReductionKind.DUE_DATE_OVERRIDE,
                    reduced_on=event.overridden_on,
                    customer_code=state.customer_codes[customer_id],
                    invoice_number=invoice_number,
                    amount_minor=0,
                    currency=currency,
                    approver=event.approver,
                    second_approver=None,
                    reason=event.reason,
                    reference=f"due {event.previous_due_on} -> {event.due_on}",
                    recorded_at=event.timestamp,
                )
            )
        case CreditNoteApplied():
            state.rows.append(
                _row(
                    state,
                    event,
                    ReductionKind.CREDIT_NOTE,
                    event.applied_on,
                    event.credit_note_number,
                )
            )
        case ConcessionApproved():
            state.rows.append(_row(state, event, ReductionKind.CONCESSION, event.approved_on, ""))
        case InvoiceWrittenOff():
            state.rows.append(_row(state, event, ReductionKind.WRITE_OFF, event.written_off_on, ""))
        case AuthorityPolicyAdopted():
            state.authority_versions.append(
                AuthorityVersion(effective_on=event.effective_on, policy=event.policy)
            )
        case ReductionRequested():
            state.requests[event.originator_id] = _Request(requested=event)
        case ReductionApproved():
            request = state.requests[event.originator_id]
            request.approved_by = (*request.approved_by, event.approver)
            request.closed = event.applied
        case ReductionRejected():
            state.requests[event.originator_id].closed = True
        case _:
            pass


def fold_all(events: Iterable[Event]) -> ReductionsState:
    state = initial()
    for event in events:
        fold(state, event)
    return state


def reductions(
    state: ReductionsState,
    from_on: date,
    to_on: date,
    *,
    approver: str | None = None,
    customer_code: str | None = None,
) -> ReductionsReport:
    """Every reduction dated in the period, by ``approver`` (first or second) and of
    ``customer_code`` if given, in recording order."""
    require_period(from_on, to_on)
    rows = tuple(
        row
        for row in state.rows
        if from_on <= row.reduced_on <= to_on
        and (approver is None or approver in (row.approver, row.second_approver))
        and (customer_code is None or row.customer_code == customer_code)
    )
    return ReductionsReport(
        from_on=from_on,
        to_on=to_on,
        approver=approver,
        customer_code=customer_code,
        rows=rows,
    )


def _may_approve(state: ReductionsState, request: _Request, approver: str) -> bool:
    """Whether ``approver`` is one the request waits for: not one who approved it already, and
    (once an authority policy is in force on its date) named with a role whose per-reduction
    limit in its currency covers it."""
    if approver in request.approved_by:
        return False
    requested = request.requested
    policy = authority_in_force(state.authority_versions, requested.reduce_on)
    if policy is None:
        return True
    role = policy.role_of(approver)
    limits = None if role is None else policy.limits(role, requested.currency)
    if limits is None:
        return False
    if requested.kind is ReductionKind.DUE_DATE_OVERRIDE:
        assert requested.due_on is not None
        days = (requested.due_on - state.due_on[requested.invoice_id]).days
        return limits.postponement_days_max is None or days <= limits.postponement_days_max
    return requested.amount_minor <= limits.reduction_max_minor


def pending_approvals(
    state: ReductionsState, *, approver: str | None = None
) -> tuple[PendingApproval, ...]:
    """Reduction requests still waiting for approval (those ``approver`` may approve, if
    given), oldest request first."""
    pending = []
    for request in state.requests.values():
        if request.closed or (approver is not None and not _may_approve(state, request, approver)):
            continue
        requested = request.requested
        invoice_number, _customer_id, _currency = state.invoices[requested.invoice_id]
        pending.append(
            PendingApproval(
                request_reference=requested.request_reference,
                kind=requested.kind,
                customer_code=state.customer_codes[requested.customer_id],
                invoice_number=invoice_number,
                amount_minor=requested.amount_minor,
                currency=requested.currency,
                reduce_on=requested.reduce_on,
                reason=requested.reason,
                requested_by=requested.requested_by,
                requested_on=requested.requested_on,
                approved_by=request.approved_by,
                due_on=requested.due_on,
            )
        )
    return tuple(pending)
