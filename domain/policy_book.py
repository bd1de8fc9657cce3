"""Policy book aggregate: the versions of the escalation policy and when each takes effect.

Invariant: adopted versions are numbered strictly increasing, above the built-in default
(version 1, in force from the beginning); the policy in force on a date is the highest-numbered
version whose effective date is on or before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from uuid import UUID

import attrs

from . import ids
from .errors import ConfigurationError, DuplicateKeyConflictError
from .events import DelinquencyType, EscalationPolicyAdopted, Event
from .policy import DEFAULT_ESCALATION_POLICY, EscalationPolicy
from .rules import (
    require_date,
    require_person,
    require_reason,
    require_recorded_at,
    require_text,
)


@attrs.frozen(kw_only=True)
class PolicyVersion:
    effective_on: date
    policy: EscalationPolicy


@attrs.frozen(kw_only=True)
class PolicyBook:
    id: UUID
    version: int
    versions: tuple[PolicyVersion, ...] = ()

    @property
    def latest_version(self) -> int:
        if not self.versions:
            return DEFAULT_ESCALATION_POLICY.version
        return self.versions[-1].policy.version


def evolve(state: PolicyBook | None, event: Event) -> PolicyBook:
    assert isinstance(event, EscalationPolicyAdopted)
    if state is None:
        state = PolicyBook(id=event.originator_id, version=0)
    assert event.originator_version == state.version + 1
    assert event.policy.version > state.latest_version
    return attrs.evolve(
        state,
        version=event.originator_version,
        versions=(
            *state.versions,
            PolicyVersion(effective_on=event.effective_on, policy=event.policy),
        ),
    )


def fold(events: Iterable[Event], state: PolicyBook | None = None) -> PolicyBook | None:
    for event in events:
        state = evolve(state, event)
    return state


def policy_in_force(versions: Sequence[PolicyVersion], on: date) -> EscalationPolicy:
    """The policy that decides matters dated ``on``."""
    in_force = DEFAULT_ESCALATION_POLICY
    for version in versions:
        if version.effective_on <= on and version.policy.version > in_force.version:
            in_force = version.policy
    return in_force


def adopt_policy(
    book: PolicyBook | None,
    *,
    policy: EscalationPolicy,
    effective_on: date,
    approver: str,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """Adopt a new policy version; the same version again with the same content is a no-op."""
    if not isinstance(policy, EscalationPolicy):
        raise ConfigurationError("adopt an EscalationPolicy", policy=policy)
    require_date("effective_on", effective_on)
    require_person("approver", approver)
    require_reason("reason", reason)
    for index, level in enumerate(policy.levels):
        require_text(f"levels[{index}].name", level.name)
        for action in level.required_actions:
            require_text(f"levels[{index}].required_actions", action)
    types = {delinquency_type.value for delinquency_type in DelinquencyType}
    for name, actions in policy.delinquency_actions.items():
        if name not in types:
            raise ConfigurationError(
                f"delinquency_actions names {name!r}, not a delinquency type",
                field="delinquency_actions",
            )
        for action in actions:
            require_text(f"delinquency_actions[{name}]", action)
    for name, adjustment in policy.delinquency_adjustments.items():
        if name not in types:
            raise ConfigurationError(
                f"delinquency_adjustments names {name!r}, not a delinquency type",
                field="delinquency_adjustments",
            )
        if adjustment.routes_to is not None:
            require_text(f"delinquency_adjustments[{name}].routes_to", adjustment.routes_to)
    for field, effect in (
        ("bankruptcy_filed", policy.bankruptcy_filed),
        ("fraud_suspected", policy.fraud_suspected),
    ):
        for action in effect.required_actions:
            require_text(f"{field}.required_actions", action)
    require_recorded_at(recorded_at)
    known = {} if book is None else {v.policy.version: v for v in book.versions}
    if policy.version in known:
        if known[policy.version] == PolicyVersion(effective_on=effective_on, policy=policy):
            return []
        raise DuplicateKeyConflictError(
            f"policy version {policy.version} was already adopted with different content",
            policy_version=policy.version,
        )
    latest = DEFAULT_ESCALATION_POLICY.version if book is None else book.latest_version
    if policy.version <= latest:
        raise ConfigurationError(
            f"policy version {policy.version} must be above the latest, {latest}",
            policy_version=policy.version,
            latest_version=latest,
        )
    return [
        EscalationPolicyAdopted(
            originator_id=ids.policy_book_id(),
            originator_version=1 if book is None else book.version + 1,
            timestamp=recorded_at,
            policy=policy,
            effective_on=effective_on,
            approver=approver,
            reason=reason,
        )
    ]
