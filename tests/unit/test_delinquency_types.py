"""Strategy per delinquency type, and distress (issue 14, item 2): level adjustments per
diagnosed type, bankruptcy filed and fraud suspected, from the handbook.

Every worklist is asked twice, from the query engine and replayed from the folds, and the two
must be equal (``tests.unit.test_collection_strategy.worklist``). Invoices of 5,000.00 are
issued on 2025-01-01 and due on 2025-01-31: under the default ladder level 1 from 2025-02-01,
level 2 from 2025-03-03 (31 days), level 3 from 2025-04-02 (61), level 4 from 2025-05-02 (91).
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import attrs
import numpy as np
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence.serialization import CONVERTER
from arledger.adapters.read_models.columnar import decode_policy
from arledger.domain.errors import ConfigurationError, CustomerStateError
from arledger.domain.events import (
    ActionChannel,
    BankruptcyFiled,
    DelinquencyType,
    FraudSuspected,
)
from arledger.domain.policy import (
    DEFAULT_ESCALATION_POLICY,
    DISPUTE_HANDLING,
    FILE_CLAIM,
    NEGOTIATE_FIRST,
    DelinquencyAdjustment,
    DistressEffect,
    EscalationPolicy,
    NegotiationRule,
)
from arledger.projections.fast.portfolio import (
    DELINQUENCY_TYPES,
    STANDINGS,
    _Policies,
    standing_index,
    standing_of,
)
from tests.unit.test_collection_strategy import act, adopt, issue, item_of, new_ledger, worklist

FASTER: dict[str, DelinquencyAdjustment] = {
    "deliberate_delay": DelinquencyAdjustment(level_offset=1),
}
"""Deliberate delay [故意拖欠] escalates one level faster."""
ROUTED: dict[str, DelinquencyAdjustment] = {
    "contract_dispute": DelinquencyAdjustment(level_max=2, routes_to=DISPUTE_HANDLING),
}
"""A contract dispute [合同纠纷] is paused at most at level 2 and goes to dispute handling."""


def diagnose(ledger: Ledger, code: str, found: DelinquencyType, on: date) -> None:
    ledger.diagnose(customer_code=code, delinquency_type=found, diagnosed_on=on, note="visited")


# Level adjustments per type ---------------------------------------------------------------------


def test_a_deliberate_delay_diagnosis_escalates_one_level_faster_as_the_policy_says() -> None:
    ledger = new_ledger("ACME", "BETA")
    for code in ("ACME", "BETA"):
        issue(ledger, f"{code}-1", "5000.00", code=code)
    adopt(ledger, delinquency_adjustments=FASTER)
    diagnose(ledger, "ACME", DelinquencyType.DELIBERATE_DELAY, date(2025, 2, 3))

    february = worklist(ledger, date(2025, 2, 10))
    april = worklist(ledger, date(2025, 4, 5))
    status = ledger.escalation_status("ACME", date(2025, 2, 10))

    levels = [
        (item.customer_code, item.level) for found in (february, april) for item in found.items
    ]
    assert [("ACME", 2), ("BETA", 1), ("ACME", 4), ("BETA", 3)] == levels
    assert [(date(2025, 2, 1), 1), (date(2025, 2, 3), 2)] == [
        (change.on, change.level) for change in status.history
    ]
    assert status.next_threshold is not None
    assert (date(2025, 3, 3), 3) == (status.next_threshold.on, status.next_threshold.level)
    assert 1 == status.current.raw_level  # the triggers alone
    text = ledger.explain("ACME", date(2025, 2, 10)).text
    assert "Strategy for deliberate delay (diagnosed 2025-02-03, policy version 2): levels +1" in (
        text
    )


def test_a_later_diagnosis_of_another_type_ends_the_adjustment() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, delinquency_adjustments=FASTER)
    diagnose(ledger, "ACME", DelinquencyType.DELIBERATE_DELAY, date(2025, 2, 3))
    diagnose(ledger, "ACME", DelinquencyType.CASH_FLOW_SQUEEZE, date(2025, 2, 20))

    found = [item_of(worklist(ledger, on)) for on in (date(2025, 2, 10), date(2025, 2, 21))]

    assert [2, 1] == [None if item is None else item.level for item in found]


def test_a_customer_with_nothing_overdue_is_not_lifted_by_a_diagnosis() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, delinquency_adjustments=FASTER)
    diagnose(ledger, "ACME", DelinquencyType.DELIBERATE_DELAY, date(2025, 1, 10))

    assert item_of(worklist(ledger, date(2025, 1, 20))) is None
    assert 0 == ledger.escalation_status("ACME", date(2025, 1, 20)).level


def test_a_contract_dispute_routes_to_dispute_handling_with_escalation_paused() -> None:
    ledger = new_ledger("ACME", "BETA")
    for code in ("ACME", "BETA"):
        issue(ledger, f"{code}-1", "5000.00", code=code)
    adopt(ledger, delinquency_adjustments=ROUTED, negotiation=NegotiationRule(from_level=2))
    diagnose(ledger, "ACME", DelinquencyType.CONTRACT_DISPUTE, date(2025, 2, 3))

    found = worklist(ledger, date(2025, 4, 5))  # the triggers give level 3
    status = ledger.escalation_status("ACME", date(2025, 4, 5))

    acme, beta = item_of(found, "ACME"), item_of(found, "BETA")
    assert acme is not None
    assert beta is not None
    assert (2, True) == (acme.level, acme.is_suspended)
    assert acme.next_action is not None
    assert (DISPUTE_HANDLING, 2) == (acme.next_action.action, acme.next_action.level)
    assert beta.next_action is not None
    assert (3, NEGOTIATE_FIRST) == (beta.level, beta.next_action.action)
    assert not status.supply_hold_recommended  # level 2 holds no supply; level 3 would
    text = ledger.explain("ACME", date(2025, 4, 5)).text
    assert "held by an open promise or the delinquency strategy" in text
    assert "escalation paused at most at level 2; routed to dispute handling" in text
    assert "Next action: dispute handling" in text


def test_a_routed_action_taken_is_done() -> None:
    """A type routed to a channel (a visit) is satisfied by an action on it."""
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(ledger, delinquency_adjustments={"overstock": DelinquencyAdjustment(routes_to="visit")})
    diagnose(ledger, "ACME", DelinquencyType.OVERSTOCK, date(2025, 2, 3))
    before = item_of(worklist(ledger, date(2025, 2, 4)))
    act(ledger, ActionChannel.VISIT, date(2025, 2, 5))
    after = item_of(worklist(ledger, date(2025, 2, 6)))

    assert before is not None
    assert before.next_action is not None
    assert "visit" == before.next_action.action
    assert after is not None
    assert after.next_action is None


def test_fraud_suspected_is_a_diagnosable_type_the_policy_may_adjust_for() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(
        ledger,
        delinquency_adjustments={"fraud_suspected": DelinquencyAdjustment(level_offset=3)},
    )
    diagnose(ledger, "ACME", DelinquencyType.FRAUD_SUSPECTED, date(2025, 2, 3))

    item = item_of(worklist(ledger, date(2025, 2, 4)))

    assert item is not None
    assert 4 == item.level
    assert "fraud_suspected" == DelinquencyType.FRAUD_SUSPECTED.value


# Distress: bankruptcy filed, fraud suspected ------------------------------------------------------


def test_a_bankruptcy_filed_puts_the_customer_at_the_top_with_the_claim_its_only_action() -> None:
    ledger = new_ledger("ACME", "BETA")
    issue(ledger, "ACME-1", "5000.00", code="ACME")
    issue(ledger, "BETA-1", "5000.00", code="BETA", due_on=date(2025, 6, 30))
    for code in ("ACME", "BETA"):
        events = ledger.file_bankruptcy(
            customer_code=code, filed_on=date(2025, 2, 5), reason="court case 2025-17"
        )
        assert [BankruptcyFiled] == [type(event) for event in events]

    found = worklist(ledger, date(2025, 2, 6))
    status = ledger.escalation_status("ACME", date(2025, 2, 6))

    acme, beta = item_of(found, "ACME"), item_of(found, "BETA")
    assert acme is not None
    assert beta is not None  # nothing overdue: listed all the same
    assert (4, 4) == (acme.level, beta.level)
    assert acme.next_action is not None
    assert (FILE_CLAIM, date(2025, 2, 19)) == (acme.next_action.action, acme.next_action.due_on)
    assert status.supply_hold_recommended
    assert [(date(2025, 2, 1), 1), (date(2025, 2, 5), 4)] == [
        (change.on, change.level) for change in status.history
    ]
    assert 1 == ledger.escalation_status("ACME", date(2025, 2, 4)).level  # not before it
    text = ledger.explain("ACME", date(2025, 2, 6)).text
    assert "Bankruptcy filed on 2025-02-05: at least level 4; supply held; required actions: " in (
        text
    )
    assert "file the claim with the administrator" in text


def test_a_bankruptcy_filed_twice_is_refused_and_nothing_is_recorded() -> None:
    ledger = new_ledger()
    ledger.file_bankruptcy(customer_code="ACME", filed_on=date(2025, 2, 5), reason="court")
    before = len(list(ledger.iter_events()))

    with pytest.raises(CustomerStateError):
        ledger.file_bankruptcy(customer_code="ACME", filed_on=date(2025, 2, 6), reason="again")

    assert before == len(list(ledger.iter_events()))


def test_fraud_suspected_holds_supply_at_the_top_level_at_once() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    events = ledger.suspect_fraud(
        customer_code="ACME", suspected_on=date(2025, 2, 3), reason="goods resold, firm gone"
    )

    item = item_of(worklist(ledger, date(2025, 2, 3)))
    status = ledger.escalation_status("ACME", date(2025, 2, 3))

    assert [FraudSuspected] == [type(event) for event in events]
    assert item is not None
    assert item.next_action is not None
    assert (4, "lawyer_letter") == (item.level, item.next_action.action)  # the top's own
    assert status.supply_hold_recommended
    assert "Fraud suspected on 2025-02-03: at least level 4; supply held" in (
        ledger.explain("ACME", date(2025, 2, 3)).text
    )
    with pytest.raises(CustomerStateError):
        ledger.suspect_fraud(customer_code="ACME", suspected_on=date(2025, 2, 4), reason="again")


def test_the_distress_effects_are_policy_data() -> None:
    ledger = new_ledger()
    issue(ledger, "INV-1", "5000.00")
    adopt(
        ledger,
        fraud_suspected=DistressEffect(
            level_at_least=3, required_actions=("visit",), supply_hold=True
        ),
    )
    ledger.suspect_fraud(customer_code="ACME", suspected_on=date(2025, 2, 3), reason="suspect")

    item = item_of(worklist(ledger, date(2025, 2, 4)))

    assert item is not None
    assert item.next_action is not None
    assert (3, "visit") == (item.level, item.next_action.action)


# Policy data -------------------------------------------------------------------------------------


def test_an_adjustment_for_an_unknown_type_or_beyond_the_ladder_is_refused() -> None:
    ledger = new_ledger()

    with pytest.raises(ConfigurationError) as unknown:
        adopt(ledger, delinquency_adjustments={"bad_luck": DelinquencyAdjustment(level_offset=1)})
    with pytest.raises(ConfigurationError) as beyond:
        adopt(ledger, delinquency_adjustments={"accident": DelinquencyAdjustment(level_max=5)})
    with pytest.raises(ConfigurationError):
        DelinquencyAdjustment(level_max=0)

    assert "delinquency_adjustments" == unknown.value.field
    assert "delinquency_adjustments" == beyond.value.field
    assert [] == [type(event) for event in ledger.iter_events() if "Policy" in type(event).__name__]


def test_policies_stored_before_the_adjustments_decode_with_none_and_the_default_effects() -> None:
    old = EscalationPolicy(version=2)
    data = CONVERTER.unstructure(old)
    for name in ("delinquency_adjustments", "bankruptcy_filed", "fraud_suspected"):
        del data[name]

    decoded = decode_policy(json.dumps(data))

    assert old == decoded
    assert {} == decoded.delinquency_adjustments
    assert (FILE_CLAIM,) == decoded.bankruptcy_filed.required_actions


def test_the_fast_paths_adjustment_table_is_the_policys_rule_for_every_standing() -> None:
    """The kernels read ``adjusted_level`` as a table indexed by ``standing_index``."""
    policy = EscalationPolicy(
        delinquency_adjustments={
            "deliberate_delay": DelinquencyAdjustment(level_offset=2),
            "contract_dispute": DelinquencyAdjustment(level_offset=-1, level_max=2),
        },
        bankruptcy_filed=DistressEffect(level_at_least=3),
    )
    table = _Policies([(0, policy)], ("USD",)).adjust

    assert (2, STANDINGS, 5) == table.shape
    assert len(DELINQUENCY_TYPES) == len(DelinquencyType)
    for index in range(STANDINGS):
        found, bankrupt, fraud = standing_of(index)
        code = -1 if found is None else DELINQUENCY_TYPES.index(found)
        assert index == standing_index(code, int(bankrupt), int(fraud))
        expected = [
            policy.adjusted_level(level, found, bankrupt=bankrupt, fraud=fraud)
            for level in range(5)
        ]
        assert expected == table[1, index].tolist()
    assert np.array_equal(
        table[0, standing_index(-1, 0, 0)], np.arange(5)
    )  # the default policy, no standing: as the triggers say
    delay = DELINQUENCY_TYPES.index("deliberate_delay")
    dispute = DELINQUENCY_TYPES.index("contract_dispute")
    assert [0, 3, 4, 4, 4] == table[1, standing_index(delay, 0, 0)].tolist()
    assert [0, 1, 1, 2, 2] == table[1, standing_index(dispute, 0, 0)].tolist()
    assert [3, 3, 3, 3, 3] == table[1, standing_index(dispute, 1, 0)].tolist()
    assert 2 == DEFAULT_ESCALATION_POLICY.adjusted_level(2, "deliberate_delay")  # none adopted


# Back-testing a strategy --------------------------------------------------------------------


def test_a_backtest_shows_what_a_faster_strategy_for_deliberate_delay_would_have_done() -> None:
    """The candidate escalates deliberate delay one level faster; a bankrupt customer is on
    supply hold under both, though the candidate's ladder holds supply at no level."""
    ledger = new_ledger("ACME", "BETA", "GAMMA")
    for code in ("ACME", "BETA", "GAMMA"):
        issue(ledger, f"{code}-1", "5000.00", code=code)
    diagnose(ledger, "ACME", DelinquencyType.DELIBERATE_DELAY, date(2025, 2, 3))
    ledger.file_bankruptcy(customer_code="GAMMA", filed_on=date(2025, 2, 5), reason="court")
    levels = tuple(
        attrs.evolve(rung, supply_hold=False) for rung in DEFAULT_ESCALATION_POLICY.levels
    )
    candidate = attrs.evolve(
        DEFAULT_ESCALATION_POLICY, version=9, levels=levels, delinquency_adjustments=FASTER
    )

    found = ledger.backtest(candidate, "2025-02", "2025-02")

    (period,) = found.periods
    assert (0, 2, 0, 0, 1) == period.actual.customers_by_level  # ACME, BETA 1; GAMMA 4
    assert (0, 1, 1, 0, 1) == period.candidate.customers_by_level  # ACME one level up
    assert (1, 1) == (period.actual.on_supply_hold, period.candidate.on_supply_hold)
    assert [("ACME", 1, 2)] == [
        (d.customer_code, d.actual_level, d.candidate_level) for d in found.differences
    ]
