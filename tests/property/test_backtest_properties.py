"""Policy back-testing on Hypothesis-generated collections histories (the command steps of
test_escalation_properties): a candidate identical to the one policy in force gives identical
rows for both policies and no difference, whatever the policy (any ladder drawn) and step."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from arledger import BacktestPolicy, BacktestStep, EscalationPolicy
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY
from tests.property.test_escalation_properties import START, Step, histories, run
from tests.property.test_escalation_properties import policies as escalation_policies

FROM, TO = f"{START:%Y-%m}", f"{START.year}-06"
"""The months of the histories' window (150 days from START)."""


@given(
    history=histories,
    policy=st.none() | escalation_policies(),
    step=st.sampled_from(BacktestStep),
)
def test_a_candidate_identical_to_the_policy_in_force_changes_nothing(
    history: list[Step], policy: EscalationPolicy | None, step: BacktestStep
) -> None:
    # One policy in force throughout: the drawn one adopted from the first day (or the
    # default), the histories' own adoptions left out.
    steps = [item for item in history if item.name != "adopt"]
    if policy is not None:
        steps = [Step("adopt", (policy, 0)), *steps]
    ledger = run(steps).ledger
    in_force = DEFAULT_ESCALATION_POLICY if policy is None else attrs.evolve(policy, version=2)

    result = ledger.backtest(in_force, FROM, TO, step=step, min_level=1)

    assert result.periods
    for period in result.periods:
        assert period.actual.policy_version == in_force.version
        assert attrs.evolve(period.candidate, policy=BacktestPolicy.ACTUAL) == period.actual
    assert () == result.differences
