"""Policy book: given adopted versions, when one more is adopted, then events or an error;
and which version is in force on a date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from arledger.domain import ids
from arledger.domain import policy_book as policy_book_module
from arledger.domain.errors import (
    ConfigurationError,
    DuplicateKeyConflictError,
    InvalidCommandError,
)
from arledger.domain.events import EscalationPolicyAdopted, Event
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY, EscalationPolicy, Grade
from arledger.domain.policy_book import PolicyBook, PolicyVersion, adopt_policy, policy_in_force
from tests.given import given_policy_book as given

AT = datetime(2026, 1, 1, tzinfo=UTC)
BOOK_ID = ids.policy_book_id()


def policy(version: int, **fields: Any) -> EscalationPolicy:
    return EscalationPolicy(version=version, **fields)


def adopted(version: int, effective_on: date, **fields: Any) -> EscalationPolicyAdopted:
    return EscalationPolicyAdopted(
        originator_id=BOOK_ID,
        originator_version=0,
        timestamp=AT,
        policy=policy(version, **fields),
        effective_on=effective_on,
        approver="cfo",
        reason="board decision",
    )


def adopt(book: PolicyBook | None, version: int, effective_on: date, **fields: Any) -> list[Event]:
    return adopt_policy(
        book,
        policy=policy(version, **fields),
        effective_on=effective_on,
        approver="cfo",
        reason="board decision",
        recorded_at=AT,
    )


# Adopting -----------------------------------------------------------------------------------


def test_the_default_policy_is_version_one() -> None:
    assert 1 == DEFAULT_ESCALATION_POLICY.version


def test_the_first_adopted_version_opens_the_book() -> None:
    events = adopt(None, 2, date(2024, 7, 1), long_after_days=45)

    assert [
        attrs.evolve(adopted(2, date(2024, 7, 1), long_after_days=45), originator_version=1)
    ] == events


def test_a_higher_version_is_adopted_after_the_latest() -> None:
    book = given(adopted(2, date(2024, 7, 1)))

    events = adopt(book, 5, date(2024, 1, 1))

    assert 2 == events[0].originator_version
    after = policy_book_module.fold(events, book)
    assert after is not None
    assert 5 == after.latest_version


@pytest.mark.parametrize("version", [0, 1])
def test_a_version_not_above_the_default_is_refused(version: int) -> None:
    with pytest.raises(ConfigurationError) as caught:
        adopt(None, version, date(2024, 7, 1))

    assert 1 == caught.value.latest_version


def test_a_version_below_the_latest_adopted_is_refused() -> None:
    book = given(adopted(2, date(2024, 7, 1)), adopted(4, date(2024, 9, 1)))

    with pytest.raises(ConfigurationError) as caught:
        adopt(book, 3, date(2024, 8, 1))

    assert 3 == caught.value.policy_version
    assert 4 == caught.value.latest_version


def test_the_same_version_with_the_same_content_is_a_no_op() -> None:
    book = given(adopted(2, date(2024, 7, 1), large_above_major=50_000))

    assert [] == adopt(book, 2, date(2024, 7, 1), large_above_major=50_000)


@pytest.mark.parametrize(
    ("effective_on", "fields"),
    [
        (date(2024, 7, 2), {"large_above_major": 50_000}),
        (date(2024, 7, 1), {"large_above_major": 60_000}),
    ],
)
def test_the_same_version_with_other_content_is_refused(
    effective_on: date, fields: dict[str, Any]
) -> None:
    book = given(adopted(2, date(2024, 7, 1), large_above_major=50_000))

    with pytest.raises(DuplicateKeyConflictError) as caught:
        adopt(book, 2, effective_on, **fields)

    assert 2 == caught.value.policy_version


def test_adopting_something_other_than_a_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        adopt_policy(
            None,
            policy={"version": 2},  # type: ignore[arg-type]
            effective_on=date(2024, 7, 1),
            approver="cfo",
            reason="x",
            recorded_at=AT,
        )


def test_a_policy_without_an_approver_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        adopt_policy(
            None,
            policy=policy(2),
            effective_on=date(2024, 7, 1),
            approver="",
            reason="x",
            recorded_at=AT,
        )


def test_an_inconsistent_policy_cannot_even_be_built() -> None:
    with pytest.raises(ConfigurationError):
        EscalationPolicy(version=2, provision_rates_bps=(0, 100))


# In force -----------------------------------------------------------------------------------


def versions(*entries: tuple[int, date]) -> list[PolicyVersion]:
    return [PolicyVersion(effective_on=on, policy=policy(number)) for number, on in entries]


def test_the_default_is_in_force_before_any_adoption() -> None:
    assert DEFAULT_ESCALATION_POLICY == policy_in_force([], date(2024, 7, 1))


def test_the_default_is_in_force_before_the_first_version_takes_effect() -> None:
    assert 1 == policy_in_force(versions((2, date(2024, 7, 1))), date(2024, 6, 30)).version


def test_a_version_is_in_force_from_its_effective_date() -> None:
    assert 2 == policy_in_force(versions((2, date(2024, 7, 1))), date(2024, 7, 1)).version


def test_the_highest_version_effective_on_or_before_the_date_wins() -> None:
    book = versions((2, date(2024, 7, 1)), (3, date(2024, 9, 1)), (4, date(2024, 8, 1)))

    assert 2 == policy_in_force(book, date(2024, 7, 31)).version
    assert 4 == policy_in_force(book, date(2024, 8, 1)).version
    assert 4 == policy_in_force(book, date(2024, 9, 1)).version


def test_a_version_back_dated_below_an_earlier_one_takes_over_from_its_own_date() -> None:
    book = versions((2, date(2024, 7, 1)), (3, date(2024, 1, 1)))

    assert 3 == policy_in_force(book, date(2024, 1, 1)).version
    assert 3 == policy_in_force(book, date(2024, 8, 1)).version


def test_the_policy_in_force_decides_the_grade() -> None:
    book = [
        PolicyVersion(
            effective_on=date(2024, 7, 1),
            policy=policy(2, long_after_days=60, large_above_major=1_000),
        )
    ]

    before = policy_in_force(book, date(2024, 6, 30))
    after = policy_in_force(book, date(2024, 7, 1))

    assert Grade.SETTLE == before.grade(45, 200_000, "USD")
    assert Grade.FOCUSED_PURSUIT == after.grade(45, 200_000, "USD")


@pytest.mark.parametrize(
    ("days_past_due", "overdue_minor", "grade"),
    [
        (30, 10_000_000, Grade.FINANCE_FOLLOW_UP),
        (30, 10_000_001, Grade.FOCUSED_PURSUIT),
        (31, 10_000_000, Grade.SETTLE),
        (31, 10_000_001, Grade.LEGAL_COLLECTION),
    ],
)
def test_the_default_grade_is_long_after_30_days_and_large_above_100000(
    days_past_due: int, overdue_minor: int, grade: Grade
) -> None:
    assert grade == DEFAULT_ESCALATION_POLICY.grade(days_past_due, overdue_minor, "USD")
