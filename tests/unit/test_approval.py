"""The approval rule, the authority policy's own checks and the authority book, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from arledger.domain import approval
from arledger.domain.approval import Authority, AuthorityVersion
from arledger.domain.authority import (
    ApproverRole,
    AuthorityPeriod,
    AuthorityPolicy,
    RoleAuthority,
)
from arledger.domain.errors import (
    ApprovalError,
    ApproverRequiredError,
    AuthorityLimitError,
    ConfigurationError,
    DuplicateKeyConflictError,
    SecondApproverRequiredError,
    UnknownApproverError,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def policy(version: int = 1, *, period: AuthorityPeriod = AuthorityPeriod.MONTH) -> AuthorityPolicy:
    return AuthorityPolicy(
        version=version,
        approvers=(
            ApproverRole(approver="wang", role="manager"),
            ApproverRole(approver="zhao", role="director"),
            ApproverRole(approver="chen", role="director"),
        ),
        roles=(
            RoleAuthority(
                role="manager",
                currency="USD",
                reduction_max_minor=5_000_000,
                customer_period_max_minor=8_000_000,
            ),
            RoleAuthority(
                role="director",
                currency="USD",
                reduction_max_minor=50_000_000,
                customer_period_max_minor=90_000_000,
                two_approvers_above_minor=10_000_000,
            ),
        ),
        period=period,
    )


def check(authority: Authority, amount_minor: int, *approvers: str) -> None:
    approval.require_approval(
        authority, approvers=approvers, amount_minor=amount_minor, currency="USD", what="test"
    )


def test_at_the_limit_is_within_it_and_one_minor_unit_more_is_over() -> None:
    authority = Authority(policy=policy())

    check(authority, 5_000_000, "wang")
    with pytest.raises(AuthorityLimitError) as refused:
        check(authority, 5_000_001, "wang")

    assert ("manager", "per reduction", 5_000_000) == (
        refused.value.role,
        refused.value.limit,
        refused.value.limit_minor,
    )


def test_the_period_limit_counts_what_the_role_already_approved() -> None:
    authority = Authority(policy=policy(), approved_minor_by_role={"manager": 4_000_000})

    check(authority, 4_000_000, "wang")
    with pytest.raises(AuthorityLimitError) as refused:
        check(authority, 4_000_001, "wang")

    assert ("per customer per period", 8_000_000, 4_000_000) == (
        refused.value.limit,
        refused.value.limit_minor,
        refused.value.approved_minor,
    )


def test_a_role_without_limits_in_the_currency_is_refused() -> None:
    with pytest.raises(UnknownApproverError) as refused:
        approval.require_approval(
            Authority(policy=policy()),
            approvers=("wang",),
            amount_minor=1,
            currency="EUR",
            what="test",
        )

    assert ("manager", "EUR") == (refused.value.role, refused.value.currency)


def test_two_approvers_are_needed_above_the_threshold_and_must_be_two_people() -> None:
    authority = Authority(policy=policy())

    check(authority, 10_000_000, "zhao")
    with pytest.raises(SecondApproverRequiredError):
        check(authority, 10_000_001, "zhao")
    with pytest.raises(ApprovalError):
        check(authority, 10_000_001, "zhao", "zhao")
    check(authority, 10_000_001, "zhao", "chen")


def test_without_a_policy_a_named_approver_is_enough_and_none_is_refused() -> None:
    check(approval.NO_AUTHORITY_POLICY, 10**12, "anyone")
    with pytest.raises(ApproverRequiredError):
        check(approval.NO_AUTHORITY_POLICY, 1)
    with pytest.raises(ApproverRequiredError):
        check(approval.NO_AUTHORITY_POLICY, 1, "")


@pytest.mark.parametrize(
    ("period", "on", "start_on"),
    [
        (AuthorityPeriod.MONTH, date(2024, 2, 29), date(2024, 2, 1)),
        (AuthorityPeriod.QUARTER, date(2024, 6, 30), date(2024, 4, 1)),
        (AuthorityPeriod.QUARTER, date(2024, 7, 1), date(2024, 7, 1)),
        (AuthorityPeriod.YEAR, date(2024, 12, 31), date(2024, 1, 1)),
    ],
)
def test_a_period_starts_on_its_first_day(
    period: AuthorityPeriod, on: date, start_on: date
) -> None:
    assert start_on == period.start_on(on)


def test_approved_in_period_sums_each_roles_reductions_of_the_same_period_only() -> None:
    reductions = [
        (date(2024, 3, 31), 100, ("wang",)),
        (date(2024, 4, 1), 200, ("wang",)),
        (date(2024, 4, 30), 300, ("zhao", "chen")),
        (date(2024, 4, 2), 50, ("zhao", "wang")),
        (date(2024, 5, 1), 400, ("wang",)),
    ]
    versions = [AuthorityVersion(effective_on=date(2024, 1, 1), policy=policy())]

    totals = approval.approved_in_period(reductions, versions, date(2024, 4, 15))

    # Two directors on one reduction count it once toward their role; a manager and a
    # director count it toward both roles.
    assert {"manager": 250, "director": 350} == totals


def test_approved_in_period_counts_a_reduction_toward_the_role_held_on_its_date() -> None:
    promoted = AuthorityPolicy(
        version=2,
        approvers=(
            ApproverRole(approver="wang", role="director"),
            ApproverRole(approver="zhao", role="director"),
        ),
        roles=policy().roles,
    )
    versions = [
        AuthorityVersion(effective_on=date(2024, 1, 1), policy=policy()),
        AuthorityVersion(effective_on=date(2024, 4, 10), policy=promoted),
    ]
    reductions = [
        (date(2024, 4, 2), 200, ("wang",)),  # as manager
        (date(2024, 4, 12), 300, ("wang",)),  # as director
        (date(2023, 12, 31), 999, ("wang",)),  # before any policy: another month anyway
    ]

    totals = approval.approved_in_period(reductions, versions, date(2024, 4, 20))

    assert {"manager": 200, "director": 300} == totals


def test_approved_in_period_is_empty_before_any_policy() -> None:
    versions = [AuthorityVersion(effective_on=date(2024, 5, 1), policy=policy())]

    assert {} == approval.approved_in_period(
        [(date(2024, 4, 2), 200, ("wang",))], versions, date(2024, 4, 20)
    )


def test_the_policy_in_force_is_the_highest_version_effective_on_the_date() -> None:
    versions = [
        AuthorityVersion(effective_on=date(2024, 1, 1), policy=policy(1)),
        AuthorityVersion(effective_on=date(2024, 7, 1), policy=policy(2)),
    ]

    assert approval.authority_in_force(versions, date(2023, 12, 31)) is None
    assert 1 == approval.authority_in_force(versions, date(2024, 6, 30)).version  # type: ignore[union-attr]
    assert 2 == approval.authority_in_force(versions, date(2024, 7, 1)).version  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "broken",
    [
        {"approvers": (ApproverRole(approver="li", role="clerk"),)},
        {
            "approvers": (
                ApproverRole(approver="li", role="manager"),
                ApproverRole(approver="li", role="manager"),
            )
        },
        {
            "roles": (
                RoleAuthority(
                    role="manager",
                    currency="USD",
                    reduction_max_minor=0,
                    customer_period_max_minor=1,
                ),
            )
        },
        {"version": 0},
    ],
)
def test_a_policy_that_cannot_be_applied_is_refused(broken: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "version": 1,
        "approvers": (ApproverRole(approver="li", role="manager"),),
        "roles": (
            RoleAuthority(
                role="manager", currency="USD", reduction_max_minor=1, customer_period_max_minor=1
            ),
        ),
    }
    with pytest.raises(ConfigurationError):
        AuthorityPolicy(**{**fields, **broken})  # type: ignore[arg-type]


def test_adopting_the_same_version_again_is_a_no_op_and_other_content_is_refused() -> None:
    (adopted,) = approval.adopt_authority_policy(
        None,
        policy=policy(1),
        effective_on=date(2024, 1, 1),
        approver="board",
        reason="delegation",
        recorded_at=AT,
    )
    book = approval.fold_book([adopted])

    again = approval.adopt_authority_policy(
        book,
        policy=policy(1),
        effective_on=date(2024, 1, 1),
        approver="board",
        reason="delegation",
        recorded_at=AT,
    )
    with pytest.raises(DuplicateKeyConflictError):
        approval.adopt_authority_policy(
            book,
            policy=policy(1, period=AuthorityPeriod.YEAR),
            effective_on=date(2024, 1, 1),
            approver="board",
            reason="delegation",
            recorded_at=AT,
        )
    assert [] == again


def test_a_version_below_the_latest_is_refused() -> None:
    (adopted,) = approval.adopt_authority_policy(
        None,
        policy=policy(2),
        effective_on=date(2024, 1, 1),
        approver="board",
        reason="delegation",
        recorded_at=AT,
    )

    with pytest.raises(ConfigurationError) as refused:
        approval.adopt_authority_policy(
            approval.fold_book([adopted]),
            policy=policy(1),
            effective_on=date(2024, 2, 1),
            approver="board",
            reason="older",
            recorded_at=AT,
        )

    assert (1, 2) == (refused.value.policy_version, refused.value.latest_version)
