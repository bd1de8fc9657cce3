"""The trigger rule table and the two evaluations that read it: the fold and the kernel; and
the rules that keep separate copies in the fold, the kernels and the fast KPIs (ageing bucket
choice, the policy in force), tied here by property tests.

Adding a trigger rule touches ``domain/trigger_rules.py`` (enum member and row),
``projections/escalation/evaluate.py`` (``_Evaluator._measure``), ``projections/fast/codes.py``
(its code) and ``projections/fast/kernels.py`` (``_levels``' figure), plus ``KERNEL_FIGURES``
here and a way for ``tests.strategies.ladders`` histories to make it fire. Leave one out and: no
row, every import fails; no fold branch, mypy fails (``assert_never``); no code, ``codes`` fails
to import; no kernel branch, ``test_the_kernel_fires_every_rule_as_the_table_says`` fails.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Final

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.domain.policy import RATING_VALUES, AgeingPolicy, EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force
from arledger.domain.trigger_rules import (
    TIME_RULES,
    TRIGGER_RULES,
    Comparison,
    RuleUnit,
    TriggerRule,
)
from arledger.projections import escalation
from arledger.projections.fast import codes, kernels
from arledger.projections.fast import kpis as fast_kpis
from arledger.projections.fast.kpis import bucket_indexes
from arledger.projections.fast.portfolio import RATING_OF, _Policies
from arledger.projections.fast.portfolio import days as portfolio_days

MINOR_PER_MAJOR: Final = 100

Figures = tuple[int, int, int, int, bool, int]
"""``_levels``' figures: overdue minor units, days past due, broken promises, rating ordinal,
blacklisted, invoices with overdue money."""

KERNEL_FIGURES: Final[dict[TriggerRule, Callable[[int], Figures]]] = {
    # Days past due come with overdue money (the domain's invariant: one without the other
    # never happens), so the figure is the days.
    TriggerRule.DAYS_PAST_DUE: lambda days: (int(days > 0), days, 0, 0, False, int(days > 0)),
    TriggerRule.OVERDUE_AMOUNT: lambda minor: (minor, int(minor > 0), 0, 0, False, 0),
    TriggerRule.BROKEN_PROMISES: lambda count: (0, 0, count, 0, False, 0),
    TriggerRule.RISK_RATING: lambda ordinal: (0, 0, 0, ordinal, False, 0),
    TriggerRule.BLACKLISTED: lambda flag: (0, 0, 0, 0, flag > 0, 0),
    # Each overdue invoice holds at least one minor unit overdue, one day past due.
    TriggerRule.OVERDUE_INVOICE_COUNT: lambda count: (count, int(count > 0), 0, 0, False, count),
}
"""How to give ``_levels`` a figure of each rule, every other rule's figure 0."""

ACTUALS: Final = (0, 1, 2, 3, 4, 99, 100, 101, 250)
THRESHOLDS: Final = (0, 1, 2, 3, 4)


def test_every_rule_has_one_row_in_rule_order() -> None:
    assert list(TriggerRule) == list(TRIGGER_RULES)
    assert all(rule is row.rule for rule, row in TRIGGER_RULES.items())


def test_the_rows_say_what_the_rules_meant_before_the_table() -> None:
    """The table restates the rules as they were written in the fold and the kernel."""
    assert {
        TriggerRule.DAYS_PAST_DUE,
        TriggerRule.OVERDUE_AMOUNT,
        TriggerRule.BROKEN_PROMISES,
        TriggerRule.OVERDUE_INVOICE_COUNT,
    } == TIME_RULES
    assert RuleUnit.MAJOR_UNITS is TRIGGER_RULES[TriggerRule.OVERDUE_AMOUNT].unit
    assert Comparison.IS_SET is TRIGGER_RULES[TriggerRule.BLACKLISTED].comparison
    assert escalation.TIME_RULES is TIME_RULES


@pytest.mark.parametrize(
    ("actual", "threshold", "fires"),
    [(0, 0, False), (1, 0, True), (1, 1, True), (1, 2, False), (5, 4, True)],
)
def test_at_least_fires_on_a_positive_figure_reaching_the_threshold(
    actual: int, threshold: int, fires: bool
) -> None:
    assert fires == TRIGGER_RULES[TriggerRule.DAYS_PAST_DUE].fires(actual, threshold)


def test_is_set_ignores_the_threshold() -> None:
    blacklisted = TRIGGER_RULES[TriggerRule.BLACKLISTED]
    assert blacklisted.fires(1, 99)
    assert not blacklisted.fires(0, 0)


def test_an_amount_threshold_is_compared_in_minor_units() -> None:
    assert 150_000 == TRIGGER_RULES[TriggerRule.OVERDUE_AMOUNT].threshold_compared(1_500, 100)
    assert 1_500 == TRIGGER_RULES[TriggerRule.DAYS_PAST_DUE].threshold_compared(1_500, 100)


def test_every_code_names_its_enum_value() -> None:
    assert TriggerRule.DAYS_PAST_DUE is codes.RULES[codes.DAYS_PAST_DUE]
    assert TriggerRule.BLACKLISTED is codes.RULES[codes.BLACKLISTED]
    assert codes.STATUSES[codes.PARTLY_KEPT].value == "partly_kept"
    assert codes.GRADES[codes.LEGAL_COLLECTION].value == "legal_collection"
    time_driven = {
        rule for rule in TriggerRule if (codes.TIME_DRIVEN_RULES >> codes.RULES.index(rule)) & 1
    }
    assert TIME_RULES == time_driven


def test_the_cached_kernels_were_compiled_with_the_current_codes() -> None:
    """Numba's cache is keyed on kernels.py alone: a stale one keeps old codes (see ``codes``)."""
    assert codes.COMPILED == kernels.compiled_codes()


def _kernel_levels(rule: TriggerRule, actual: int, threshold: int) -> tuple[int, ...]:
    """(raw, time-driven, decision-driven level, reason level, threshold, actual) of one
    trigger of ``rule`` at level 1, evaluated by the kernel on ``actual``."""
    overdue, days, broken, rating, blacklisted, overdue_invoices = KERNEL_FIGURES[rule](actual)
    triggers = (
        np.array([0, 1], np.int64),
        np.array([1], np.int32),
        np.array([codes.RULES.index(rule)], np.int32),
        np.array([threshold], np.int64),
    )
    reasons = np.zeros((1, codes.RULE_COUNT, 3), np.int64)
    levels = kernels._levels(
        0,
        0,
        overdue,
        days,
        broken,
        rating,
        blacklisted,
        overdue_invoices,
        MINOR_PER_MAJOR,
        triggers,
        reasons,
    )
    return (*levels, *(int(value) for value in reasons[0, codes.RULES.index(rule)]))


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_the_kernel_fires_every_rule_as_the_table_says(rule: TriggerRule) -> None:
    spec = TRIGGER_RULES[rule]
    assert rule in KERNEL_FIGURES, f"no way to give the kernel a figure of {rule}"
    actuals = (0, 1) if spec.comparison is Comparison.IS_SET else ACTUALS  # a fact holds or not
    for actual, threshold in itertools.product(actuals, THRESHOLDS):
        compared = spec.threshold_compared(threshold, MINOR_PER_MAJOR)
        fires = spec.fires(actual, compared)
        level = int(fires)
        expected = (
            level,
            level if spec.time_driven else 0,
            0 if spec.time_driven else level,
            *((1, compared, actual) if fires else (-1, 0, 0)),
        )
        assert expected == _kernel_levels(rule, actual, threshold), (actual, threshold)


# Bucket choice has three copies: the fold's, the kernels' and the fast KPIs' (vectorised) ----


@given(
    edges=st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True).map(sorted),
    days=st.lists(st.integers(-30, 500), min_size=1, max_size=50),
)
def test_the_fold_the_kernel_and_the_fast_kpis_choose_the_same_ageing_bucket(
    edges: list[int], days: list[int]
) -> None:
    policy = AgeingPolicy(edges_days=edges)
    edges_array = np.array(edges, np.int64)
    expected = [policy.bucket_index(day) for day in days]

    assert expected == [int(kernels._bucket(day, edges_array)) for day in days]
    assert expected == bucket_indexes(np.array(days, np.int64), policy).tolist()


# The policy in force, a promise's judgement input, has three copies too: the fold's
# (policy_in_force, which promises.deadline_on reads), the fast path's (_Policies) and the fast
# KPIs' (_terms_on, _tolerance_on) ---------------------------------------------------------------

EPOCH_DAY: Final = date(2024, 1, 1)


@given(
    adoptions=st.lists(
        st.tuples(
            st.integers(0, 60),
            st.integers(0, 30),
            st.dictionaries(st.sampled_from(RATING_VALUES), st.integers(0, 30), max_size=4),
        ),
        max_size=4,
    ),
    days=st.lists(st.tuples(st.integers(-5, 70), st.integers(0, 4)), min_size=1, max_size=30),
)
def test_the_fold_the_fast_path_and_the_fast_kpis_agree_on_the_policy_in_force(
    adoptions: list[tuple[int, int, dict[str, int]]], days: list[tuple[int, int]]
) -> None:
    """Versions 2, 3, ... adopted in order, each effective on its own day (a later version may
    take effect earlier), with its own promise tolerance, by rating too (each day is asked for
    a rating ordinal, 0: not rated)."""
    policies = [
        EscalationPolicy(
            version=version, promise_tolerance_days=tolerance, promise_tolerance_days_by_rating=by
        )
        for version, (_, tolerance, by) in enumerate(adoptions, start=2)
    ]
    book = [
        PolicyVersion(effective_on=EPOCH_DAY + timedelta(days=effective), policy=policy)
        for (effective, _, _), policy in zip(adoptions, policies, strict=True)
    ]
    offset = portfolio_days(EPOCH_DAY)
    versions = [
        (offset + effective, policy)
        for (effective, _, _), policy in zip(adoptions, policies, strict=True)
    ]
    on = np.array([offset + day for day, _ in days], np.int32)
    ratings = np.array([rating for _, rating in days], np.int32)
    expected = [
        policy_in_force(book, EPOCH_DAY + timedelta(days=day)).promise_tolerance_days_for(
            RATING_OF.get(rating)
        )
        for day, rating in days
    ]

    assert expected == [
        fast_kpis._terms_on(versions, int(day)).promise_tolerance_days_for(
            RATING_OF.get(int(rating))
        )
        for day, rating in zip(on, ratings, strict=True)
    ]
    assert expected == fast_kpis._tolerance_on(versions, on.astype(np.int64), ratings).tolist()
    assert expected == (_Policies(versions, ()).deadline_on(on, ratings) - on).tolist()
