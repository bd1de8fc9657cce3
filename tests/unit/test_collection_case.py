"""Collection case: given actions and diagnoses, when one more, then events or an error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from arledger.domain import collection_case as case_module
from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain.collection_case import CollectionCase, diagnose, record_action
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import InvalidCommandError, InvalidDateError
from arledger.domain.events import (
    ActionChannel,
    CollectionActionRecorded,
    CustomerAccountOpened,
    DelinquencyDiagnosed,
    DelinquencyType,
    Event,
    PaymentTermsKind,
)
from arledger.projections import portfolio
from tests.given import given_case as given

AT = datetime(2026, 1, 1, tzinfo=UTC)
CODE = "C1"
CUSTOMER_ID = ids.customer_id(CODE)
CASE_ID = ids.collection_case_id(CODE)
TAKEN_ON = date(2024, 3, 4)


def opened() -> CustomerAccountOpened:
    return CustomerAccountOpened(
        originator_id=CUSTOMER_ID,
        originator_version=1,
        timestamp=AT,
        customer_code=CODE,
        name="Acme Trading",
        currency="USD",
        collection_owner="li",
        terms_kind=PaymentTermsKind.NET,
        terms_days=30,
        opened_on=date(2024, 1, 1),
    )


def customer() -> CustomerAccount:
    state = customer_module.fold([opened()])
    assert state is not None
    return state


def action(
    channel: ActionChannel = ActionChannel.PHONE,
    *,
    version: int = 0,
    taken_on: date = TAKEN_ON,
    next_step: str = "",
    next_step_on: date | None = None,
) -> CollectionActionRecorded:
    return CollectionActionRecorded(
        originator_id=CASE_ID,
        originator_version=version,
        timestamp=AT,
        customer_id=CUSTOMER_ID,
        channel=channel,
        taken_on=taken_on,
        collector="li",
        contact="Mr Wu, treasurer",
        outcome="promised to check with the boss",
        next_step=next_step,
        next_step_on=next_step_on,
    )


def diagnosed(delinquency_type: DelinquencyType, version: int = 0) -> DelinquencyDiagnosed:
    return DelinquencyDiagnosed(
        originator_id=CASE_ID,
        originator_version=version,
        timestamp=AT,
        customer_id=CUSTOMER_ID,
        delinquency_type=delinquency_type,
        diagnosed_on=TAKEN_ON,
        note="their own customers pay late",
    )


def record(case: CollectionCase | None = None, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "channel": ActionChannel.PHONE,
        "taken_on": TAKEN_ON,
        "collector": "li",
        "contact": "Mr Wu, treasurer",
        "outcome": "promised to check with the boss",
        "recorded_at": AT,
    }
    command.update(fields)
    return record_action(case, customer(), **command)


# Actions ------------------------------------------------------------------------------------


def test_the_nine_channels_are_the_tools_of_the_domain() -> None:
    expected = {
        "phone",
        "visit",
        "fax",
        "email",
        "finance_letter",
        "overdue_notice",
        "demand_letter",
        "lawyer_letter",
        "legal_filing",
    }

    assert expected == {channel.value for channel in ActionChannel}


@pytest.mark.parametrize("channel", list(ActionChannel))
def test_the_first_action_on_each_channel_opens_the_case(channel: ActionChannel) -> None:
    events = record(channel=channel)

    assert [action(channel, version=1)] == events
    case = case_module.fold(events)
    assert case is not None
    assert 1 == case.actions_count
    assert TAKEN_ON == case.last_action_on


def test_an_action_records_its_next_step_and_date() -> None:
    events = record(
        given(action()),
        channel=ActionChannel.VISIT,
        next_step="send the demand letter",
        next_step_on=date(2024, 3, 11),
    )

    assert [
        action(
            ActionChannel.VISIT,
            version=2,
            next_step="send the demand letter",
            next_step_on=date(2024, 3, 11),
        )
    ] == events


def test_a_next_step_on_the_day_of_the_action_is_allowed() -> None:
    events = record(next_step="call back this afternoon", next_step_on=TAKEN_ON)

    assert 1 == len(events)


def test_a_next_step_without_a_date_is_allowed() -> None:
    assert 1 == len(record(next_step="wait for their board"))


def test_a_next_step_dated_before_the_action_is_refused() -> None:
    with pytest.raises(InvalidDateError) as caught:
        record(next_step="call back", next_step_on=date(2024, 3, 3))

    assert "next_step_on" == caught.value.field


def test_a_next_step_date_without_a_next_step_is_refused() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        record(next_step_on=date(2024, 3, 11))

    assert "next_step" == caught.value.field


@pytest.mark.parametrize(
    "change",
    [
        {"channel": "carrier pigeon"},
        {"collector": ""},
        {"contact": " "},
        {"outcome": ""},
        {"taken_on": datetime(2024, 3, 4, tzinfo=UTC)},
    ],
)
def test_an_action_missing_a_fact_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidCommandError):
        record(**change)


def test_the_case_counts_actions_and_keeps_the_latest_date_even_when_back_dated() -> None:
    case = given(action(), action(taken_on=date(2024, 3, 1)))

    assert case is not None
    assert 2 == case.actions_count
    assert TAKEN_ON == case.last_action_on


# Diagnosis ----------------------------------------------------------------------------------


def test_the_seven_delinquency_types_and_fraud_suspected_are_those_of_the_domain() -> None:
    """The seven types of the handbook, and fraud suspected [恶意欺诈] (issue 14)."""
    expected = {
        "weak_chasing",
        "contract_dispute",
        "overstock",
        "poor_business",
        "cash_flow_squeeze",
        "deliberate_delay",
        "accident",
        "fraud_suspected",
    }

    assert expected == {kind.value for kind in DelinquencyType}


@pytest.mark.parametrize("delinquency_type", list(DelinquencyType))
def test_each_delinquency_type_is_diagnosed(delinquency_type: DelinquencyType) -> None:
    case = given(action())

    events = diagnose(
        case,
        customer(),
        delinquency_type=delinquency_type,
        diagnosed_on=TAKEN_ON,
        note="their own customers pay late",
        recorded_at=AT,
    )

    assert [diagnosed(delinquency_type, version=2)] == events
    after = case_module.fold(events, case)
    assert after is not None
    assert delinquency_type == after.delinquency_type


def test_a_diagnosis_may_open_the_case() -> None:
    events = diagnose(
        None,
        customer(),
        delinquency_type=DelinquencyType.OVERSTOCK,
        diagnosed_on=TAKEN_ON,
        note="warehouse full",
        recorded_at=AT,
    )

    assert 1 == events[0].originator_version


def test_a_later_diagnosis_replaces_the_earlier_one() -> None:
    case = given(
        diagnosed(DelinquencyType.CASH_FLOW_SQUEEZE), diagnosed(DelinquencyType.DELIBERATE_DELAY)
    )

    assert case is not None
    assert DelinquencyType.DELIBERATE_DELAY == case.delinquency_type


def test_an_unknown_delinquency_type_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        diagnose(
            None,
            customer(),
            delinquency_type="bad luck",  # type: ignore[arg-type]
            diagnosed_on=TAKEN_ON,
            note="x",
            recorded_at=AT,
        )


def test_a_diagnosis_without_a_note_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        diagnose(
            None,
            customer(),
            delinquency_type=DelinquencyType.ACCIDENT,
            diagnosed_on=TAKEN_ON,
            note="",
            recorded_at=AT,
        )


def test_the_portfolio_keeps_every_action_and_diagnosis_of_the_customer() -> None:
    events = [
        opened(),
        action(ActionChannel.PHONE, version=1),
        action(
            ActionChannel.DEMAND_LETTER,
            version=2,
            taken_on=date(2024, 3, 10),
            next_step="lawyer's letter",
            next_step_on=date(2024, 3, 24),
        ),
        diagnosed(DelinquencyType.DELIBERATE_DELAY, version=3),
    ]

    state = portfolio.fold_all(events)

    assert [ActionChannel.PHONE, ActionChannel.DEMAND_LETTER] == [
        a.channel for a in state.actions[CUSTOMER_ID]
    ]
    assert date(2024, 3, 24) == state.actions[CUSTOMER_ID][1].next_step_on
    assert [DelinquencyType.DELIBERATE_DELAY] == [
        d.delinquency_type for d in state.diagnoses[CUSTOMER_ID]
    ]
