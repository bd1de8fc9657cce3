"""One customer's queries are answered from the query engine's columnar log, not the stored
partitions: no catch-up of the whole log (at 1M invoices a first escalation status after only
portfolio queries used to fold every event into the partitions, minutes), and the same answers
as the replay.

The engine finds the customer's rows through ``RowsByValue`` indexes, which sort the rows they
have seen and scan the ones appended since: the Hypothesis test below holds them to a plain
comparison of every row, however the rows arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arledger import Ledger, Money
from arledger.adapters.application import ledger as ledger_module
from arledger.adapters.read_models import engine as engine_module
from arledger.adapters.read_models.engine import RowsByValue
from arledger.domain import ids
from arledger.domain.events import ActionChannel
from arledger.projections.portfolio import fold_all

AS_OF = date(2025, 6, 30)
CURRENCY = "EUR"
CODES = ("K-1", "K-2")


def seed(ledger: Ledger, first: int, count: int) -> None:
    session = ledger.session()
    for n in range(first, first + count):
        session.issue_invoice(
            invoice_number=f"INV-{n}",
            customer_code=CODES[n % 2],
            amount=Money(100_00 + n, CURRENCY),
            issued_on=date(2025, 1, 1) + timedelta(days=3 * n % 150),
        )
    session.commit()


def customer_answers(ledger: Ledger, code: str) -> list[object]:
    return [
        ledger.escalation_status(code, AS_OF),
        ledger.explain(code, AS_OF),
        ledger.promises(code, AS_OF),
        ledger.collection_case(code, AS_OF),
        ledger.check_credit(code, Money(1_000_00, CURRENCY), AS_OF),
        ledger.balance_confirmations(code),
        ledger.expected_pay_on("INV-0" if code == CODES[0] else "INV-1"),
    ]


def test_a_customers_queries_leave_the_stored_partitions_where_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sorted indexes and scanned tails both serve the queries below.
    monkeypatch.setattr(engine_module, "TAIL_ROWS_MIN", 4)
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    with closing(Ledger(env)) as ledger, closing(Ledger(env, read_models="replay")) as replay:
        for code in CODES:
            ledger.open_account(
                code,
                name=f"Customer {code}",
                currency=CURRENCY,
                collection_owner="li",
                opened_on=date(2024, 12, 1),
            )
        for first in range(0, 40, 8):
            seed(ledger, first, 8)
            ledger.make_promise(
                customer_code=CODES[0],
                promise_reference=f"P-{first}",
                amount=Money(50_00, CURRENCY),
                promised_on=date(2025, 1, 26) + timedelta(days=3 * first % 150),
                made_on=date(2025, 1, 6) + timedelta(days=3 * first % 150),
                contact="ap@example.com",
                invoice_numbers=(f"INV-{first}",),
            )
            for code in CODES:
                assert customer_answers(replay, code) == customer_answers(ledger, code)

        runner = ledger.projection_runner().status()
        assert runner.head > 0
        assert 0 == runner.position  # no catch-up of the partitions
        assert runner.head == ledger.query_engine().status()["position"]


@given(
    batches=st.lists(st.lists(st.integers(0, 30), max_size=40), min_size=1, max_size=6),
    wanted=st.sets(st.integers(0, 32), max_size=6),
    tail_rows=st.integers(1, 50),
)
@settings(max_examples=80)
def test_rows_by_value_finds_the_rows_a_comparison_of_every_row_finds(
    batches: list[list[int]], wanted: set[int], tail_rows: int
) -> None:
    """Rows appended batch by batch, asked after each: sorted, scanned and re-sorted alike."""
    index = RowsByValue()
    seen: list[int] = []
    looked_for = np.array(sorted(wanted), np.int32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "TAIL_ROWS_MIN", tail_rows)
        for batch in batches:
            seen += batch
            column = pa.chunked_array([pa.array(seen, pa.int32())])
            expected = np.flatnonzero(np.isin(np.array(seen, np.int32), looked_for))

            is_wanted = np.isin(np.arange(32), looked_for)

            assert expected.tolist() == index.rows_of(column, looked_for, is_wanted).tolist()


def test_a_customers_kept_events_take_in_only_new_events_and_answer_every_cut(
    tmp_path: Path,
) -> None:
    """The engine keeps a customer's decoded events: after new events it decodes only the new
    rows (the events decoded before are the same objects), and every cut (``known_at``,
    ``upto``) equals what a new engine decodes from the same log."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    with closing(Ledger(env)) as ledger:
        for code in CODES:
            ledger.open_account(
                code,
                name=f"Customer {code}",
                currency=CURRENCY,
                collection_owner="li",
                opened_on=date(2024, 12, 1),
            )
        seed(ledger, 0, 8)
        engine = ledger.query_engine()
        customer_id = ids.customer_id(CODES[0])
        before = engine.customer_events(customer_id, None)
        position = engine.status()["position"]
        known_at = before[len(before) // 2].timestamp
        seed(ledger, 8, 8)
        after = engine.customer_events(customer_id, None)
        assert len(after) > len(before)
        assert all(old is new for old, new in zip(before, after[: len(before)], strict=False))
        with closing(Ledger(env)) as fresh:
            other = fresh.query_engine()
            for cut in ({}, {"upto": position}):
                for instant in (None, known_at):
                    expected = other.customer_events(customer_id, instant, **cut)
                    assert expected == engine.customer_events(customer_id, instant, **cut)
            assert before == other.customer_events(customer_id, None, upto=position)
        assert [] == engine.customer_events(ids.customer_id("K-404"), None)
        state = engine.customer_state(customer_id, None, fold_all)
        assert state is engine.customer_state(customer_id, None, fold_all)  # kept
        assert state == fold_all(after)
        seed(ledger, 16, 2)
        assert state is not engine.customer_state(customer_id, None, fold_all)  # new events


def test_a_customer_larger_than_the_kept_events_answers_as_the_replay_again_and_after_new_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A customer with more events than the engine keeps in all (``CUSTOMER_EVENTS_CACHED``,
    made small here), asked in turn with another customer: its status and explanation equal
    the replay's on every ask, at every cut, and after new events of its own (a payment, an
    action), whose answers differ from the ones kept before them."""
    monkeypatch.setattr(engine_module, "CUSTOMER_EVENTS_CACHED", 10)
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    with closing(Ledger(env)) as ledger, closing(Ledger(env, read_models="replay")) as replay:
        for code in CODES:
            ledger.open_account(
                code,
                name=f"Customer {code}",
                currency=CURRENCY,
                collection_owner="li",
                opened_on=date(2024, 12, 1),
            )
        seed(ledger, 0, 40)
        big = CODES[0]
        engine = ledger.query_engine()
        assert len(engine.customer_events(ids.customer_id(big), None)) > 10
        position = engine.status()["position"]

        def answers(on: Ledger, code: str, **cut: int) -> list[object]:
            return [
                on.escalation_status(code, AS_OF, **cut),
                on.explain(code, AS_OF, **cut),
                on.escalation_status(code, AS_OF - timedelta(days=60), **cut),
            ]

        before = answers(replay, big)
        for _ in range(2):  # the second ask is the kept answer
            assert before == answers(ledger, big)
            assert answers(replay, CODES[1]) == answers(ledger, CODES[1])
        ledger.receive_payment(
            "BANK-1", payer_code=big, amount=Money(5_000_00, CURRENCY), value_on=AS_OF
        )
        ledger.record_action(
            customer_code=big,
            channel=ActionChannel.PHONE,
            taken_on=AS_OF - timedelta(days=1),
            collector="li",
            contact="ap@example.com",
            outcome="will pay",
            next_step="call again",
            next_step_on=AS_OF + timedelta(days=7),
        )
        after = answers(replay, big)
        assert before[0].next_step != after[0].next_step  # the new events count
        assert after == answers(ledger, big)
        assert after == answers(ledger, big)
        assert before == answers(ledger, big, at_position=position)
        assert answers(replay, big, at_position=position) == answers(
            ledger, big, at_position=position
        )


def test_a_customers_fold_takes_in_only_new_events_unless_someone_else_holds_it(
    tmp_path: Path,
) -> None:
    """After new events of a customer, its status folds only them onto the fold its last
    answers were made from (no fold of its whole history again), and answers as the replay;
    a fold handed out (``customer_state``: a promise report holds it) or still being read by
    an answer is never changed: the next answer folds the history afresh."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    folds: list[tuple[int, bool]] = []
    counting = [False]  # the replay's folds (of the whole log) are not counted

    def counted(events: Any, *, known_at: Any = None, onto: Any = None) -> Any:
        events = list(events)
        if counting[0]:
            folds.append((len(events), onto is not None))
        return fold_all(events, known_at=known_at, onto=onto)

    def through_engine(query: Callable[[], object]) -> object:
        counting[0] = True
        try:
            return query()
        finally:
            counting[0] = False

    code = CODES[0]
    with closing(Ledger(env)) as ledger, closing(Ledger(env, read_models="replay")) as replay:
        for each in CODES:
            ledger.open_account(
                each,
                name=f"Customer {each}",
                currency=CURRENCY,
                collection_owner="li",
                opened_on=date(2024, 12, 1),
            )
        seed(ledger, 0, 12)
        engine = ledger.query_engine()
        customer_id = ids.customer_id(code)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ledger_module, "fold_portfolio", counted)
            expected = replay.escalation_status(code, AS_OF)
            assert expected == through_engine(lambda: ledger.escalation_status(code, AS_OF))
            history = len(engine.customer_events(customer_id, None))
            assert [(history, False)] == folds

            seed(ledger, 12, 4)  # two invoices of the customer: two events each
            expected = replay.explain(code, AS_OF)
            assert expected == through_engine(lambda: ledger.explain(code, AS_OF))
            assert [(history, False), (4, True)] == folds

            held = through_engine(lambda: engine.customer_state(customer_id, None, counted))
            held_before = fold_all(engine.customer_events(customer_id, None))
            assert held_before == held
            seed(ledger, 16, 2)
            expected = replay.escalation_status(code, AS_OF)
            assert expected == through_engine(lambda: ledger.escalation_status(code, AS_OF))
            assert (history + 6, False) == folds[-1]  # afresh
            assert held_before == held  # unchanged

            # New events recorded while an answer is read from the fold: the answer asked
            # then folds afresh, and the fold being read stays as it was.
            reading = fold_all(engine.customer_events(customer_id, None))
            inner: list[object] = []

            def answer(state: Any) -> object:
                seed(ledger, 18, 2)
                inner.append(ledger.escalation_status(code, AS_OF))
                assert reading == state
                return state

            through_engine(
                lambda: engine.customer_answer(customer_id, None, counted, "reading", answer)
            )
            assert (history + 8, False) == folds[-1]
            assert [replay.escalation_status(code, AS_OF)] == inner
