"""Approval of reductions: the authority book (versions of the authority policy), reduction
requests, and the rule every reduction is held to.

Invariant: a reduction (credit note, upheld dispute's credit note, concession, write-off) is
recorded only with a named approver; once an authority policy is in force on its date, only
with approvers the policy names, each within their role's limits per reduction and per
customer per period (the role's: what everyone holding it approved for the customer in the
period counts), and with two distinct approvers above the role's two-approver threshold.
Before any authority policy is adopted a named approver is enough (the ledger had no limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Final, assert_never
from uuid import UUID

import attrs

from . import ids
from .authority import APPROVERS_MAX, AuthorityPolicy, ReductionKind, RoleAuthority
from .errors import (
    ApprovalError,
    ApproverRequiredError,
    AuthorityLimitError,
    ConfigurationError,
    DuplicateKeyConflictError,
    ReductionRequestStateError,
    SecondApproverRequiredError,
    UnknownApproverError,
)
from .events import (
    AuthorityPolicyAdopted,
    Event,
    ReductionApproved,
    ReductionRejected,
    ReductionRequested,
    ReductionRequestEvent,
)
from .money import format_minor
from .rules import require_date, require_person, require_reason, require_recorded_at

# Authority book -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AuthorityVersion:
    effective_on: date
    policy: AuthorityPolicy


@attrs.frozen(kw_only=True)
class AuthorityBook:
    id: UUID
    version: int
    versions: tuple[AuthorityVersion, ...] = ()

    @property
    def latest_version(self) -> int:
        return self.versions[-1].policy.version if self.versions else 0


def evolve_book(state: AuthorityBook | None, event: Event) -> AuthorityBook:
    assert isinstance(event, AuthorityPolicyAdopted)
    if state is None:
        state = AuthorityBook(id=event.originator_id, version=0)
    assert event.originator_version == state.version + 1
    assert event.policy.version > state.latest_version
    return attrs.evolve(
        state,
        version=event.originator_version,
        versions=(
            *state.versions,
            AuthorityVersion(effective_on=event.effective_on, policy=event.policy),
        ),
    )


def fold_book(events: Iterable[Event], state: AuthorityBook | None = None) -> AuthorityBook | None:
    for event in events:
        state = evolve_book(state, event)
    return state


def authority_in_force(versions: Sequence[AuthorityVersion], on: date) -> AuthorityPolicy | None:
    """The authority policy that holds a reduction dated ``on``; None before the first."""
    in_force: AuthorityPolicy | None = None
    for version in versions:
        if version.effective_on <= on and (
            in_force is None or version.policy.version > in_force.version
        ):
            in_force = version.policy
    return in_force


def adopt_authority_policy(
    book: AuthorityBook | None,
    *,
    policy: AuthorityPolicy,
    effective_on: date,
    approver: str,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """Adopt a version of the authority policy; the same version again with the same content
    is a no-op."""
    if not isinstance(policy, AuthorityPolicy):
        raise ConfigurationError("adopt an AuthorityPolicy", policy=policy)
    require_date("effective_on", effective_on)
    require_person("approver", approver)
    require_reason("reason", reason)
    for index, entry in enumerate(policy.approvers):
        require_person(f"approvers[{index}].approver", entry.approver)
        require_person(f"approvers[{index}].role", entry.role)
    require_recorded_at(recorded_at)
    known = {} if book is None else {v.policy.version: v for v in book.versions}
    if policy.version in known:
        if known[policy.version] == AuthorityVersion(effective_on=effective_on, policy=policy):
            return []
        raise DuplicateKeyConflictError(
            f"authority policy version {policy.version} was already adopted with different content",
            policy_version=policy.version,
        )
    latest = 0 if book is None else book.latest_version
    if policy.version <= latest:
        raise ConfigurationError(
            f"authority policy version {policy.version} must be above the latest, {latest}",
            policy_version=policy.version,
            latest_version=latest,
        )
    return [
        AuthorityPolicyAdopted(
            originator_id=ids.authority_book_id(),
            originator_version=1 if book is None else book.version + 1,
            timestamp=recorded_at,
            policy=policy,
            effective_on=effective_on,
            approver=approver,
            reason=reason,
        )
    ]


# The rule -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Authority:
    """What a reduction is checked against: the authority policy in force on its date (None:
    none adopted yet) and, per role, what that role already approved for the same customer in
    the policy's period holding that date (worked out by the caller from the customer's
    invoices, ``approved_in_period``)."""

    policy: AuthorityPolicy | None
    approved_minor_by_role: Mapping[str, int] = attrs.field(factory=dict)


NO_AUTHORITY_POLICY: Final = Authority(policy=None)
"""Before any authority policy is adopted: a named approver is enough."""


def approved_in_period(
    reductions: Iterable[tuple[date, int, tuple[str, ...]]],
    versions: Sequence[AuthorityVersion],
    on: date,
) -> dict[str, int]:
    """Per role, the sum of reductions (business date, amount, approvers) dated in the period
    of the policy in force on ``on`` that holds ``on``.

    The per-customer-per-period limit is the role's (the issue: "the most each role may
    approve per customer per period"), so two managers cannot each approve the role's whole
    allowance for one customer. A reduction counts once toward each role among its approvers
    (two approvers of one role: once), the role being the one its approver held under the
    policy in force on that reduction's own date: a promotion does not carry what was approved
    in the old role into the new one. A reduction dated before any policy was in force had no
    role and counts toward none.
    """
    policy = authority_in_force(versions, on)
    if policy is None:
        return {}
    start_on = policy.period.start_on(on)
    totals: dict[str, int] = {}
    for reduced_on, amount_minor, approvers in reductions:
        if policy.period.start_on(reduced_on) != start_on:
            continue
        then = authority_in_force(versions, reduced_on)
        if then is None:
            continue
        roles = {role for name in approvers if (role := then.role_of(name)) is not None}
        for role in roles:
            totals[role] = totals.get(role, 0) + amount_minor
    return totals


def approvers_of(approver: str | None, second_approver: str | None = None) -> tuple[str, ...]:
    return tuple(name for name in (approver, second_approver) if name)


def _money(amount_minor: int, currency: str) -> str:
    return f"{format_minor(amount_minor, currency)} {currency}"


def _role_limits(
    authority: Authority, *, approver: str, currency: str, what: str
) -> tuple[str, RoleAuthority] | None:
    """(role, its limits in ``currency``) of a named approver under the policy in force; None
    before any policy (a named approver is enough). Refuses a missing approver, one the policy
    does not name, and a role without limits in the currency."""
    if not isinstance(approver, str) or not approver:
        raise ApproverRequiredError(
            f"{what} names no approver: every reduction is approved by a named person",
            field="approver",
        )
    require_person("approver", approver)
    policy = authority.policy
    if policy is None:
        return None
    role = policy.role_of(approver)
    if role is None:
        raise UnknownApproverError(
            f"{approver} may not approve {what}: no role in authority policy version "
            f"{policy.version}",
            approver=approver,
            policy_version=policy.version,
            field="approver",
        )
    limits = policy.limits(role, currency)
    if limits is None:
        raise UnknownApproverError(
            f"{approver} ({role}) may not approve {what}: the role has no limits in {currency} "
            f"in authority policy version {policy.version}",
            approver=approver,
            role=role,
            currency=currency,
            policy_version=policy.version,
            field="approver",
        )
    return role, limits


def require_postponement_within_authority(
    authority: Authority,
    *,
    approver: str,
    postponement_days: int,
    currency: str,
    what: str,
) -> None:
    """Refuse an approver the policy does not name, or a due date moved later by more days
    than their role may grant (``postponement_days_max``); a due date moved earlier only
    needs a named approver the policy knows."""
    found = _role_limits(authority, approver=approver, currency=currency, what=what)
    if found is None:
        return
    role, limits = found
    days_max = limits.postponement_days_max
    if days_max is not None and postponement_days > days_max:
        assert authority.policy is not None
        raise AuthorityLimitError(
            f"{what} postpones the due date by {postponement_days} days, over the {days_max} "
            f"days that {approver}'s role, {role}, may grant",
            approver=approver,
            role=role,
            limit="postponement days",
            limit_days=days_max,
            postponement_days=postponement_days,
            currency=currency,
            policy_version=authority.policy.version,
        )


def require_within_authority(
    authority: Authority,
    *,
    approver: str,
    amount_minor: int,
    currency: str,
    what: str,
) -> int:
    """Refuse an approver the policy does not name or a reduction over their role's limits;
    returns how many approvers the reduction needs (1, or 2 above the role's threshold)."""
    found = _role_limits(authority, approver=approver, currency=currency, what=what)
    if found is None:
        return 1
    role, limits = found
    policy = authority.policy
    assert policy is not None
    if amount_minor > limits.reduction_max_minor:
        raise AuthorityLimitError(
            f"{what} of {_money(amount_minor, currency)} is over the "
            f"{_money(limits.reduction_max_minor, currency)} per reduction that {approver}'s "
            f"role, {role}, may approve",
            approver=approver,
            role=role,
            limit="per reduction",
            limit_minor=limits.reduction_max_minor,
            amount_minor=amount_minor,
            currency=currency,
            policy_version=policy.version,
        )
    approved = authority.approved_minor_by_role.get(role, 0)
    if approved + amount_minor > limits.customer_period_max_minor:
        period = policy.period.value
        limit_text = _money(limits.customer_period_max_minor, currency)
        raise AuthorityLimitError(
            f"{what} of {_money(amount_minor, currency)} with {_money(approved, currency)} "
            f"already approved for the customer this {period} by the role {role} is over the "
            f"{limit_text} per customer per {period} that {approver}'s role, {role}, may "
            "approve",
            approver=approver,
            role=role,
            limit="per customer per period",
            limit_minor=limits.customer_period_max_minor,
            amount_minor=amount_minor,
            approved_minor=approved,
            currency=currency,
            policy_version=policy.version,
        )
    threshold = limits.two_approvers_above_minor
    return 2 if threshold is not None and amount_minor > threshold else 1


def require_approval(
    authority: Authority,
    *,
    approvers: tuple[str, ...],
    amount_minor: int,
    currency: str,
    what: str,
) -> None:
    """Refuse a reduction recorded at once unless its approvers are enough for the policy."""
    if not approvers:
        raise ApproverRequiredError(
            f"{what} names no approver: every reduction is approved by a named person",
            field="approver",
        )
    if len(set(approvers)) != len(approvers):
        raise ApprovalError(
            f"{what}: the second approver must be another person than the first",
            approver=approvers[0],
            field="second_approver",
        )
    needed = max(
        require_within_authority(
            authority, approver=name, amount_minor=amount_minor, currency=currency, what=what
        )
        for name in approvers
    )
    if needed > len(approvers):
        raise SecondApproverRequiredError(
            f"{what} of {_money(amount_minor, currency)} needs a second approver: request it "
            "and have another person approve it",
            approver=approvers[0],
            amount_minor=amount_minor,
            currency=currency,
            policy_version=None if authority.policy is None else authority.policy.version,
        )


# Reduction requests ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReductionRequest:
    id: UUID
    version: int
    request_reference: str
    kind: ReductionKind
    invoice_id: UUID
    customer_id: UUID
    amount_minor: int
    currency: str
    reduce_on: date
    reason: str
    requested_by: str
    requested_on: date
    credit_note_number: str | None
    due_on: date | None = None
    approvers: tuple[str, ...] = ()
    applied: bool = False
    rejected: bool = False

    @property
    def is_pending(self) -> bool:
        return not self.applied and not self.rejected

    def is_the_same(self, other: ReductionRequested) -> bool:
        return (
            self.kind,
            self.invoice_id,
            self.amount_minor,
            self.currency,
            self.reduce_on,
            self.reason,
            self.requested_by,
            self.requested_on,
            self.credit_note_number,
            self.due_on,
        ) == (
            other.kind,
            other.invoice_id,
            other.amount_minor,
            other.currency,
            other.reduce_on,
            other.reason,
            other.requested_by,
            other.requested_on,
            other.credit_note_number,
            other.due_on,
        )


def evolve_request(state: ReductionRequest | None, event: Event) -> ReductionRequest:
    assert isinstance(event, ReductionRequestEvent)
    if isinstance(event, ReductionRequested):
        assert state is None
        return ReductionRequest(
            id=event.originator_id,
            version=event.originator_version,
            request_reference=event.request_reference,
            kind=event.kind,
            invoice_id=event.invoice_id,
            customer_id=event.customer_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            reduce_on=event.reduce_on,
            reason=event.reason,
            requested_by=event.requested_by,
            requested_on=event.requested_on,
            credit_note_number=event.credit_note_number,
            due_on=event.due_on,
        )
    assert state is not None
    assert event.originator_version == state.version + 1
    assert state.is_pending
    match event:
        case ReductionApproved():
            assert event.approver not in state.approvers
            assert len(state.approvers) < APPROVERS_MAX
            return attrs.evolve(
                state,
                version=event.originator_version,
                approvers=(*state.approvers, event.approver),
                applied=event.applied,
            )
        case ReductionRejected():
            return attrs.evolve(state, version=event.originator_version, rejected=True)
        case _ as unreachable:
            assert_never(unreachable)


def fold_request(
    events: Iterable[Event], state: ReductionRequest | None = None
) -> ReductionRequest | None:
    for event in events:
        state = evolve_request(state, event)
    return state


def request_reduction(
    existing: ReductionRequest | None,
    *,
    request_reference: str,
    kind: ReductionKind,
    invoice_id: UUID,
    customer_id: UUID,
    amount_minor: int,
    currency: str,
    reduce_on: date,
    reason: str,
    requested_by: str,
    requested_on: date,
    credit_note_number: str | None,
    recorded_at: datetime,
    due_on: date | None = None,
) -> list[Event]:
    """Record a request for a reduction, to be applied when approved; the same request again is
    a no-op. The invoice's own rules (what is open, dates) are checked by the caller with the
    invoice function that will apply it."""
    require_person("requested_by", requested_by)
    require_reason("reason", reason)
    require_date("requested_on", requested_on)
    require_recorded_at(recorded_at)
    requested = ReductionRequested(
        originator_id=ids.reduction_request_id(request_reference),
        originator_version=1,
        timestamp=recorded_at,
        request_reference=request_reference,
        kind=kind,
        invoice_id=invoice_id,
        customer_id=customer_id,
        amount_minor=amount_minor,
        currency=currency,
        reduce_on=reduce_on,
        reason=reason,
        requested_by=requested_by,
        requested_on=requested_on,
        credit_note_number=credit_note_number,
        due_on=due_on,
    )
    if existing is not None:
        if existing.is_the_same(requested):
            return []
        raise DuplicateKeyConflictError(
            f"reduction request {request_reference} was already made with different content",
            field="request_reference",
        )
    return [requested]


def approve_reduction(
    request: ReductionRequest,
    authority: Authority,
    *,
    approver: str,
    approved_on: date,
    amount_minor: int,
    recorded_at: datetime,
    postponement_days: int | None = None,
) -> ReductionApproved:
    """One approval; ``applied`` when it completes what the policy asks for (the caller then
    records the invoice's reduction with it). ``amount_minor`` is what the reduction takes now
    (a write-off takes what is open at approval); a due-date override gives instead the days
    it moves the due date by (``postponement_days``) and needs one approver."""
    require_date("approved_on", approved_on)
    require_recorded_at(recorded_at)
    what = f"reduction request {request.request_reference}"
    if not request.is_pending:
        state = "applied" if request.applied else "rejected"
        raise ReductionRequestStateError(
            f"{what} was already {state}",
            request_reference=request.request_reference,
            approver=approver,
        )
    if approver in request.approvers:
        raise ReductionRequestStateError(
            f"{what} was already approved by {approver}: a second approver is another person",
            request_reference=request.request_reference,
            approver=approver,
        )
    if request.kind is ReductionKind.DUE_DATE_OVERRIDE:
        assert postponement_days is not None
        require_postponement_within_authority(
            authority,
            approver=approver,
            postponement_days=postponement_days,
            currency=request.currency,
            what=what,
        )
        return ReductionApproved(
            originator_id=request.id,
            originator_version=request.version + 1,
            timestamp=recorded_at,
            approver=approver,
            approved_on=approved_on,
            applied=True,
        )
    approvers = (*request.approvers, approver)
    needed = max(
        require_within_authority(
            authority,
            approver=name,
            amount_minor=amount_minor,
            currency=request.currency,
            what=what,
        )
        for name in approvers
    )
    return ReductionApproved(
        originator_id=request.id,
        originator_version=request.version + 1,
        timestamp=recorded_at,
        approver=approver,
        approved_on=approved_on,
        applied=len(approvers) >= needed,
    )


def reject_reduction(
    request: ReductionRequest,
    *,
    rejected_by: str,
    rejected_on: date,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    require_person("rejected_by", rejected_by)
    require_date("rejected_on", rejected_on)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    if not request.is_pending:
        raise ReductionRequestStateError(
            f"reduction request {request.request_reference} was already "
            f"{'applied' if request.applied else 'rejected'}",
            request_reference=request.request_reference,
        )
    return [
        ReductionRejected(
            originator_id=request.id,
            originator_version=request.version + 1,
            timestamp=recorded_at,
            rejected_by=rejected_by,
            rejected_on=rejected_on,
            reason=reason,
        )
    ]
