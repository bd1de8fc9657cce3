"""Collection case aggregate: per customer, the actions taken, the diagnosed cause and the
approvers' overrides of negotiation before legal.

Invariant: every action is a fact (who, when, channel, to whom, outcome, next step and its
date); the case is created by its first fact and only ever grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import assert_never
from uuid import UUID

import attrs

from . import ids
from .customer import CustomerAccount
from .errors import InvalidChoiceError, InvalidCommandError, InvalidDateError
from .events import (
    ActionChannel,
    CaseEvent,
    CollectionActionRecorded,
    DelinquencyDiagnosed,
    DelinquencyType,
    Event,
    NegotiationWaived,
)
from .rules import (
    require_date,
    require_person,
    require_reason,
    require_recorded_at,
    require_text,
)


@attrs.frozen(kw_only=True)
class CollectionCase:
    id: UUID
    version: int
    customer_id: UUID
    actions_count: int = 0
    last_action_on: date | None = None
    delinquency_type: DelinquencyType | None = None


def evolve(state: CollectionCase | None, event: Event) -> CollectionCase:
    assert isinstance(event, CaseEvent), f"not a collection case event: {type(event).__name__}"
    if state is None:
        assert event.originator_version == 1
        assert isinstance(
            event, CollectionActionRecorded | DelinquencyDiagnosed | NegotiationWaived
        )
        state = CollectionCase(id=event.originator_id, version=0, customer_id=event.customer_id)
    assert event.originator_version == state.version + 1
    match event:
        case CollectionActionRecorded():
            return attrs.evolve(
                state,
                version=event.originator_version,
                actions_count=state.actions_count + 1,
                last_action_on=max(state.last_action_on or event.taken_on, event.taken_on),
            )
        case DelinquencyDiagnosed():
            return attrs.evolve(
                state, version=event.originator_version, delinquency_type=event.delinquency_type
            )
        case NegotiationWaived():
            return attrs.evolve(state, version=event.originator_version)
        case _ as unreachable:
            assert_never(unreachable)


def fold(events: Iterable[Event], state: CollectionCase | None = None) -> CollectionCase | None:
    for event in events:
        state = evolve(state, event)
    return state


def _envelope_version(case: CollectionCase | None) -> int:
    return 1 if case is None else case.version + 1


def record_action(
    case: CollectionCase | None,
    customer: CustomerAccount,
    *,
    channel: ActionChannel,
    taken_on: date,
    collector: str,
    contact: str,
    outcome: str,
    next_step: str = "",
    next_step_on: date | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """Record a collection action taken (a fact, never a plan)."""
    if not isinstance(channel, ActionChannel):
        raise InvalidChoiceError(
            f"channel must be one of {', '.join(c.value for c in ActionChannel)}, got {channel!r}",
            field="channel",
            value=channel,
        )
    require_date("taken_on", taken_on)
    require_person("collector", collector)
    require_text("contact", contact)
    require_reason("outcome", outcome)
    require_recorded_at(recorded_at)
    if next_step:
        require_reason("next_step", next_step)
    if next_step_on is not None:
        require_date("next_step_on", next_step_on)
        if not next_step:
            raise InvalidCommandError("a next-step date needs the next step", field="next_step")
        if next_step_on < taken_on:
            raise InvalidDateError(
                f"next step on {next_step_on} is before the action on {taken_on}",
                field="next_step_on",
            )
    return [
        CollectionActionRecorded(
            originator_id=ids.collection_case_id(customer.customer_code),
            originator_version=_envelope_version(case),
            timestamp=recorded_at,
            customer_id=customer.id,
            channel=channel,
            taken_on=taken_on,
            collector=collector,
            contact=contact,
            outcome=outcome,
            next_step=next_step,
            next_step_on=next_step_on,
        )
    ]


def diagnose(
    case: CollectionCase | None,
    customer: CustomerAccount,
    *,
    delinquency_type: DelinquencyType,
    diagnosed_on: date,
    note: str,
    recorded_at: datetime,
) -> list[Event]:
    """Record the diagnosed cause of late payment: find the cause before acting."""
    if not isinstance(delinquency_type, DelinquencyType):
        raise InvalidChoiceError(
            f"delinquency type must be one of {', '.join(t.value for t in DelinquencyType)}",
            field="delinquency_type",
            value=delinquency_type,
        )
    require_date("diagnosed_on", diagnosed_on)
    require_reason("note", note)
    require_recorded_at(recorded_at)
    return [
        DelinquencyDiagnosed(
            originator_id=ids.collection_case_id(customer.customer_code),
            originator_version=_envelope_version(case),
            timestamp=recorded_at,
            customer_id=customer.id,
            delinquency_type=delinquency_type,
            diagnosed_on=diagnosed_on,
            note=note,
        )
    ]


def waive_negotiation(
    case: CollectionCase | None,
    customer: CustomerAccount,
    *,
    waived_on: date,
    approver: str,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """An approver's override: the actions of a level that waits for a negotiation go ahead
    without one (negotiation comes before the law, unless someone answers for skipping it)."""
    require_date("waived_on", waived_on)
    require_person("approver", approver)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    return [
        NegotiationWaived(
            originator_id=ids.collection_case_id(customer.customer_code),
            originator_version=_envelope_version(case),
            timestamp=recorded_at,
            customer_id=customer.id,
            waived_on=waived_on,
            approver=approver,
            reason=reason,
        )
    ]
