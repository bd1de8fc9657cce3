"""The escalation timelines of the fast path (projections/fast/timeline.py) equal the folds'.

For every customer, field by field: the level on ``as_of`` (also the fast path's own), the day
it was entered and the next threshold crossing of ``escalation.escalation_status``, and the
worklist's next-action due date (``escalation.worklist``). Compared on Hypothesis-generated
collections histories (the command steps of test_escalation_properties, with policy versions
among them and one more effective mid-period), several as-of dates, a known-at cut, and on a
synthetic ledger of 10,000 invoices (``generate_columnar``) with a stricter policy version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final
from uuid import UUID

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.columnar import (
    columns,
    decode_policy,
    from_columnar,
    to_columnar,
)
from arledger.adapters.synthetic.generate import END_ON_DEFAULT, generate_columnar
from arledger.domain.errors import CustomerNotFoundError
from arledger.domain.events import EscalationPolicyAdopted, Event, PromiseMade
from arledger.domain.policy import EscalationPolicy
from arledger.projections import escalation, portfolio
from arledger.projections.fast import kernels
from arledger.projections.fast.portfolio import (
    NO_DATE,
    fast_portfolio,
    on_date,
    settlement_split_always,
)
from arledger.projections.fast.timeline import SELECT, fast_timeline, timeline_values, values_of
from tests.conftest import FixedClock
from tests.property.test_escalation_properties import (
    CUSTOMERS,
    START,
    WINDOW_DAYS,
    Step,
    histories,
    run,
)
from tests.property.test_escalation_properties import policies as escalation_policies
from tests.property.test_fast_path_differential import STRICTER, assert_fast_path_equals_folds


def assert_timelines_equal_folds(
    events: Sequence[Event], as_of: date, *, known_at: datetime | None = None
) -> int:
    """Every customer's timeline equals the folds'; returns how many are at level 1 or more."""
    log = to_columnar(events)
    ids = [UUID(bytes=raw) for raw in log.ids.column("id").to_pylist()]
    selected = columns(log, select=SELECT)
    result = fast_timeline(selected, as_of, decode_policy=decode_policy, known_at=known_at)
    levels = fast_portfolio(selected, as_of, decode_policy=decode_policy, known_at=known_at)
    state = portfolio.fold_all(events, known_at=known_at)
    customer_ids = levels.customers.customer_id

    assert state.policy_on(as_of) == result.policy
    assert list(range(len(customer_ids))) == result.customer.tolist()
    assert levels.customers.level.tolist() == result.level.tolist()
    worklist = {item.customer_id: item for item in escalation.worklist(state, as_of)}
    for index, row in enumerate(result.customer):
        customer_id = ids[customer_ids[row]]
        status = escalation.escalation_status(state, customer_id, as_of)
        assert values_of(status) == timeline_values(result, index)
        # The worklist's next action falls due the level's action_due_days after entering it.
        item = worklist.get(customer_id)
        if status.level == 0:
            # Listed at level 0 only while a reconciliation item is open, a next step has come
            # due or an invoice wants a pre-due reminder, with no action due.
            step_due = status.next_step is not None and status.next_step.due_on <= as_of
            listed = bool(status.reconciliations or step_due or status.pre_due_reminders)
            assert (item is None) == (not listed)
            assert item is None or item.next_action is None
            assert NO_DATE == result.action_due_on[index]
            continue
        assert item is not None
        assert status.next_action == item.next_action
        if item.next_action is not None:
            assert item.next_action.due_on == on_date(result.action_due_on[index])

    # The worklist's query: the customers at level 1 or more, without the next threshold.
    rows = np.flatnonzero(levels.customers.level >= 1)[::-1]
    worklist_result = fast_timeline(
        selected,
        as_of,
        decode_policy=decode_policy,
        known_at=known_at,
        customers=rows,
        next_threshold=False,
    )
    assert rows.tolist() == worklist_result.customer.tolist()
    everyone = {int(row): index for index, row in enumerate(result.customer)}
    for index, row in enumerate(worklist_result.customer):
        expected = timeline_values(result, everyone[int(row)])
        got = timeline_values(worklist_result, index)
        assert (expected.level, expected.level_entered_on, None) == (
            got.level,
            got.level_entered_on,
            got.next_threshold,
        )
        assert result.action_due_on[everyone[int(row)]] == worklist_result.action_due_on[index]
    return len(rows)


@given(
    history=histories,
    policy=escalation_policies(),
    effective=st.integers(0, WINDOW_DAYS),
    dates=st.lists(st.integers(0, WINDOW_DAYS + 60), min_size=1, max_size=3),
    cut=st.floats(0, 1),
    split=st.booleans(),
    data=st.data(),
)
def test_the_timelines_equal_the_folds_on_generated_histories(
    history: list[Step],
    policy: EscalationPolicy,
    effective: int,
    dates: list[int],
    cut: float,
    split: bool,
    data: st.DataObject,
) -> None:
    """Every as-of date on the whole log and on the log as known at a cut in its recording;
    besides dates over the whole window, dates while a promise may be open, where suspension
    and deadlines decide. ``split``: the settlement pass split between threads (which gathers
    the held invoices' movements the walk reads), as on ledgers of over 131,072 invoices."""
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    events = list(ledger.iter_events())
    stamps = sorted({event.timestamp for event in events})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    made = [event.made_on for event in events if isinstance(event, PromiseMade)]
    on_promises = [made_on + timedelta(days=data.draw(st.integers(0, 45))) for made_on in made[:2]]
    with settlement_split_always() if split else contextlib.nullcontext():
        for as_of in [START + timedelta(days=offset) for offset in dates] + on_promises:
            assert_timelines_equal_folds(events, as_of)
            assert_timelines_equal_folds(events, as_of, known_at=known_at)


# A synthetic ledger of 10,000 invoices -------------------------------------------------------

SYNTHETIC_INVOICES: Final = 10_000
SYNTHETIC_SEED: Final = 20_261_130


def synthetic_events() -> list[Event]:
    """The generated ledger (every behaviour profile), then a stricter policy version effective
    mid-period, adopted through a Ledger after the generator's own recording times."""
    events = list(from_columnar(generate_columnar(SYNTHETIC_INVOICES, SYNTHETIC_SEED)))
    ledger = Ledger(
        env={"ARLEDGER_STORE": "memory"}, clock=FixedClock(datetime(2027, 1, 1, tzinfo=UTC))
    )
    adopted = ledger.adopt_policy(
        policy=STRICTER, effective_on=date(2025, 7, 1), approver="CFO", reason="review"
    )
    ledger.close()
    assert [EscalationPolicyAdopted] == [type(event) for event in adopted]
    return events + adopted


@pytest.mark.slow
def test_the_timelines_equal_the_folds_on_a_synthetic_ledger_of_10000_invoices() -> None:
    events = synthetic_events()
    for as_of in (date(2024, 9, 30), date(2025, 7, 15), END_ON_DEFAULT):
        # Not vacuous: hundreds of customers on the worklist.
        assert 100 <= assert_timelines_equal_folds(events, as_of)
        assert_sweep_equals_reference(events, as_of)
    with settlement_split_always():
        assert 100 <= assert_timelines_equal_folds(events, END_ON_DEFAULT)
    known_at = events[len(events) * 2 // 3].timestamp
    assert_timelines_equal_folds(events, date(2025, 10, 15), known_at=known_at)
    assert_sweep_equals_reference(events, date(2025, 10, 15), known_at=known_at)


# The sweep over open invoices against every invoice at every date ----------------------------


def assert_sweep_equals_reference(
    events: Sequence[Event], as_of: date, *, known_at: datetime | None = None
) -> None:
    """``fast_timeline`` keeping the open invoices as it walks (``kernels.Sweep``) gives what
    it gives evaluating every invoice of a customer at each of its candidate dates."""
    selected = columns(to_columnar(events), select=SELECT)
    swept, reference = (
        fast_timeline(
            selected,
            as_of,
            decode_policy=decode_policy,
            known_at=known_at,
            incremental=incremental,
        )
        for incremental in (True, False)
    )
    for name in ("customer", "level", "level_entered_on", "action_due_on"):
        assert getattr(reference, name).tolist() == getattr(swept, name).tolist(), name
    assert reference.next_threshold_on.tolist() == swept.next_threshold_on.tolist()
    assert reference.next_threshold_level.tolist() == swept.next_threshold_level.tolist()


@given(
    history=histories,
    policy=escalation_policies(),
    effective=st.integers(0, WINDOW_DAYS),
    dates=st.lists(st.integers(0, WINDOW_DAYS + 60), min_size=1, max_size=3),
    cut=st.floats(0, 1),
)
def test_the_sweep_equals_the_per_date_evaluation_on_generated_histories(
    history: list[Step], policy: EscalationPolicy, effective: int, dates: list[int], cut: float
) -> None:
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    events = list(ledger.iter_events())
    stamps = sorted({event.timestamp for event in events})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    for as_of in [START + timedelta(days=offset) for offset in dates]:
        assert_sweep_equals_reference(events, as_of)
        assert_sweep_equals_reference(events, as_of, known_at=known_at)


@given(
    spans=st.lists(
        st.tuples(st.integers(0, 60), st.one_of(st.integers(0, 60), st.just(NO_DATE))),
        max_size=40,
    ),
    days=st.lists(st.integers(-5, 65), min_size=1, max_size=30),
)
def test_the_sweep_holds_the_invoices_open_on_each_day_it_moves_to(
    spans: list[tuple[int, int]], days: list[int]
) -> None:
    """Whichever way the walk moves (back while the level holds, ahead to the next threshold,
    back to the day a promise was made), the open slots are those issued by the day and not
    closed by it, each once."""
    size = len(spans)
    issued_on = np.asarray([issued for issued, _ in spans], np.int32)
    closed_from = np.asarray([closed for _, closed in spans], np.int32)
    owned = (np.arange(size, dtype=np.int64), issued_on, closed_from)
    sweep = (
        np.empty(size, np.int32),
        np.empty(size, np.int32),
        np.empty(size, np.int32),
        np.empty(size, np.int32),
        np.zeros(3, np.int64),
    )
    kernels._sort_owned(owned, size, sweep)
    for day in days:
        count = kernels._sweep_to(day, owned, size, sweep)
        expected = [slot for slot, (issued, closed) in enumerate(spans) if issued <= day < closed]
        assert expected == sorted(sweep[2][:count].tolist())
        assert all(sweep[3][slot] == place for place, slot in enumerate(sweep[2][:count]))


@pytest.mark.parametrize("row", [-1, len(CUSTOMERS)])
def test_a_row_that_is_no_customer_is_refused(row: int) -> None:
    """A row outside the customers' table is refused with the row named, never read (a
    negative one would otherwise be taken from the end)."""
    ledger = run([]).ledger
    selected = columns(to_columnar(list(ledger.iter_events())), select=SELECT)
    assert len(CUSTOMERS) == len(selected["CustomerAccountOpened"]["originator_id"])
    with pytest.raises(CustomerNotFoundError) as refused:
        fast_timeline(selected, START, decode_policy=decode_policy, customers=[0, row])
    assert row == refused.value.row


# Promises whose windows hold more movements than judge's scratch buffers -------------------


@given(
    movements=st.lists(
        st.tuples(st.integers(0, 400), st.integers(1, 1_000)),
        min_size=1,
        max_size=3 * kernels.SCRATCH,
    ),
    share=st.floats(0, 1.2),
)
def test_reaching_finds_the_first_date_the_running_total_reaches_the_amount(
    movements: list[tuple[int, int]], share: float
) -> None:
    """Insertion sort for a handful of movements, heap sort beyond ``SCRATCH``: either way,
    the smallest date by which the movements add up to the amount (``NO_DATE``: never)."""
    amount = max(1, int(share * sum(value for _, value in movements)))
    expected = next(
        (
            day
            for day in sorted({day for day, _ in movements})
            if sum(value for on, value in movements if on <= day) >= amount
        ),
        NO_DATE,
    )
    dates = np.asarray([day for day, _ in movements], np.int32)
    amounts = np.asarray([value for _, value in movements], np.int64)
    assert expected == kernels._reaching(dates, amounts, len(movements), amount)


def test_a_promise_kept_by_more_payments_than_the_scratch_buffers_hold() -> None:
    """A promise naming an invoice paid in more instalments than ``judge``'s buffers hold is
    judged from buffers of its own, as the folds judge it, on the fast path and its timeline."""
    payments = kernels.SCRATCH + 6
    issue = Step("issue", ("I-1", 0, 100 * payments, 0, 10))
    promise = Step("promise", (0, "P-1", 100 * (payments - 3), 1, 120, True))
    steps = [issue, promise] + [
        Step("pay", (f"BANK-{n}", "I-1", 100, 2 + n, None)) for n in range(payments)
    ]
    events = list(run(steps).ledger.iter_events())
    assert payments == sum(1 for event in events if type(event).__name__ == "PaymentReceived")
    for as_of in (START + timedelta(days=days) for days in (30, payments, payments + 5, 200)):
        assert_fast_path_equals_folds(events, as_of)
        assert_timelines_equal_folds(events, as_of)
