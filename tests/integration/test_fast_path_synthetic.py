"""The fast path equals the folds on a synthetic ledger of 10,000 invoices (issue 5).

The generated ledger (every behaviour profile: prompt and late payers, partial payers, promise
breakers, disputers, bounced payments, defaulters written off, instalments, three currencies)
is recorded in a memory ledger; a stricter escalation policy is then adopted through the Ledger,
effective mid-period, so that dates on either side are judged by different versions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from arledger import Ledger
from arledger.adapters.read_models.columnar import columns, decode_policy, to_columnar
from arledger.adapters.synthetic.generate import END_ON_DEFAULT, generate_to_store
from arledger.domain.events import DisputeOpened, EscalationPolicyAdopted, PromiseMade
from arledger.projections.ageing import AgeingPolicy
from arledger.projections.fast.portfolio import SELECT, fast_portfolio
from arledger.projections.portfolio import fold_all
from tests.conftest import FixedClock
from tests.property.test_fast_path_differential import STRICTER, assert_fast_path_equals_folds

INVOICES = 10_000
SEED = 20_261_130


@pytest.mark.slow
def test_the_fast_path_equals_the_folds_on_a_synthetic_ledger_of_10000_invoices() -> None:
    # After the generator's own recording times (it records one command a second from the
    # day after the period ends).
    clock = FixedClock(datetime(2027, 1, 1, tzinfo=UTC))
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=clock)
    generate_to_store(ledger, INVOICES, SEED)
    ledger.adopt_policy(
        policy=STRICTER, effective_on=date(2025, 7, 1), approver="CFO", reason="review"
    )
    events = list(ledger.iter_events())
    ledger.close()
    assert any(isinstance(event, DisputeOpened) for event in events)
    assert any(isinstance(event, PromiseMade) for event in events)
    assert isinstance(events[-1], EscalationPolicyAdopted)

    # The comparison is not vacuous: the ledger reaches several levels, all four grades,
    # broken promises, disputed money and suspensions by open promises.
    result = fast_portfolio(
        columns(to_columnar(events), select=SELECT), END_ON_DEFAULT, decode_policy=decode_policy
    )
    customers = result.customers
    assert 3 <= len(set(customers.level.tolist()))
    assert {-1, 0, 1, 2, 3} == set(customers.grade.tolist())
    assert 0 < customers.broken_promises.max()
    assert 0 < customers.disputed_minor.sum()
    assert (customers.level_cap >= 0).any()

    # One fold and one columnar log for the four dates (the 10,000-invoice fold is most of the
    # test's time; the comparison per date is the same).
    folded, log = fold_all(events), to_columnar(events)
    for as_of in (date(2024, 9, 30), date(2025, 6, 30), date(2025, 10, 15), END_ON_DEFAULT):
        assert_fast_path_equals_folds(events, as_of, folded=folded, log=log)
    # Known at: the load two thirds through (the policy not yet adopted), other ageing edges.
    known_at = events[len(events) * 2 // 3].timestamp
    assert_fast_path_equals_folds(
        events,
        date(2025, 10, 15),
        known_at=known_at,
        ageing_policy=AgeingPolicy(edges_days=(15, 45, 120)),
    )
