"""Authority policy as data: who may approve a reduction of what a customer owes, and how much.

A reduction is a credit note (an upheld dispute's too), a concession, a write-off or a manual
due-date override (it reduces no amount but gives the customer time: the policy may cap the
days a role may postpone by). The policy
names each approver's role and, per role and currency, the largest reduction the role may
approve, the most it may approve for one customer in one period, and the amount above which a
second approver is needed. Versions are adopted with effective dates (``AuthorityPolicyAdopted``)
and a reduction is held to the version in force on its business date.

Invariant: every approver's role has limits; limits are positive minor units; a role has at
most one set of limits per currency; an approver is named once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import Final

import attrs

from .errors import ConfigurationError


class ReductionKind(enum.Enum):
    """What reduces an invoice on someone's authority; stored by value."""

    CREDIT_NOTE = "credit_note"
    CONCESSION = "concession"
    WRITE_OFF = "write_off"
    DUE_DATE_OVERRIDE = "due_date_override"


class AuthorityPeriod(enum.Enum):
    """The calendar period a role's per-customer limit counts over; stored by value."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    def start_on(self, on: date) -> date:
        """The first day of the period that holds ``on``."""
        match self:
            case AuthorityPeriod.MONTH:
                return on.replace(day=1)
            case AuthorityPeriod.QUARTER:
                return date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
            case AuthorityPeriod.YEAR:
                return date(on.year, 1, 1)


@attrs.frozen(kw_only=True)
class ApproverRole:
    """A person who may approve reductions, and the role whose limits hold them."""

    approver: str
    role: str


@attrs.frozen(kw_only=True)
class RoleAuthority:
    """What a role may approve in one currency.

    ``reduction_max_minor``: the largest single reduction; ``customer_period_max_minor``: the
    most, summed, for one customer in one period (the policy's); ``two_approvers_above_minor``:
    a reduction above it needs a second approver (None: never); ``postponement_days_max``: the
    most days the role may move a due date later by in one override (None: no limit in days).
    """

    role: str
    currency: str
    reduction_max_minor: int
    customer_period_max_minor: int
    two_approvers_above_minor: int | None = None
    postponement_days_max: int | None = None


def _approvers(approvers: Iterable[ApproverRole]) -> tuple[ApproverRole, ...]:
    return tuple(approvers)


def _roles(roles: Iterable[RoleAuthority]) -> tuple[RoleAuthority, ...]:
    return tuple(roles)


def _check_policy(policy: AuthorityPolicy) -> None:
    names = [entry.approver for entry in policy.approvers]
    if len(names) != len(set(names)):
        raise ConfigurationError("an approver is named twice", policy=policy, field="approvers")
    keys = [(limit.role, limit.currency) for limit in policy.roles]
    if len(keys) != len(set(keys)):
        raise ConfigurationError(
            "a role has two sets of limits in one currency", policy=policy, field="roles"
        )
    for limit in policy.roles:
        amounts = [limit.reduction_max_minor, limit.customer_period_max_minor]
        if limit.two_approvers_above_minor is not None:
            amounts.append(limit.two_approvers_above_minor)
        if any(type(amount) is not int or amount <= 0 for amount in amounts):
            raise ConfigurationError(
                f"role {limit.role}'s limits must be positive minor units", policy=policy
            )
        days_max = limit.postponement_days_max
        if days_max is not None and (type(days_max) is not int or days_max < 0):
            raise ConfigurationError(
                f"role {limit.role}'s postponement_days_max must be a whole number of days from 0",
                policy=policy,
                field="postponement_days_max",
            )
    roles = {limit.role for limit in policy.roles}
    missing = sorted({entry.role for entry in policy.approvers} - roles)
    if missing:
        raise ConfigurationError(
            f"roles without limits: {missing}", policy=policy, missing=missing, field="roles"
        )
    if type(policy.version) is not int or policy.version < 1:
        raise ConfigurationError(
            "an authority policy version is a whole number from 1", policy=policy
        )


@attrs.frozen(kw_only=True)
class AuthorityPolicy:
    """One version of the authority limits (see the module docstring)."""

    version: int
    approvers: tuple[ApproverRole, ...] = attrs.field(converter=_approvers)
    roles: tuple[RoleAuthority, ...] = attrs.field(converter=_roles)
    period: AuthorityPeriod = AuthorityPeriod.MONTH

    def __attrs_post_init__(self) -> None:
        _check_policy(self)

    def role_of(self, approver: str) -> str | None:
        for entry in self.approvers:
            if entry.approver == approver:
                return entry.role
        return None

    def limits(self, role: str, currency: str) -> RoleAuthority | None:
        for limit in self.roles:
            if limit.role == role and limit.currency == currency:
                return limit
        return None


APPROVERS_MAX: Final = 2
"""A reduction is approved by one person, or by two where the policy asks for a second."""
