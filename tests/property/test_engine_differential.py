"""The Ledger's portfolio queries answer the same through the query engine as replayed.

Every ageing grouping (invoice rows included, with the policy's edges and with one-off edges),
the worklist (whole and per owner: ranks, levels, entered-on and next-action dates, reasons),
the KPIs (every grouping) and the collection plans (every grouping) are compared with ``==``,
so field by field and in the same order, between ``read_models="stored"`` (the engine's live
columnar log) and ``read_models="replay"`` (the folds over the whole log, the reference
path): on Hypothesis collections histories with a second policy version effective
mid-period, for several as-of dates and a known-at cut; and on a generated ledger of 10,000
invoices in a SQLite store with a stricter policy version, where the engine's log is also
persisted in segments and loaded again by a new Ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.engine import LiveLog
from arledger.adapters.synthetic.generate import END_ON_DEFAULT, generate_to_store
from arledger.domain.errors import ArledgerError
from arledger.domain.policy import EscalationPolicy
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.kpis import KpiGrouping
from arledger.projections.plans import PlanGrouping
from tests.conftest import FixedClock
from tests.property.test_escalation_properties import (
    CUSTOMERS,
    START,
    WINDOW_DAYS,
    Step,
    histories,
    next_step_dates,
    run,
)
from tests.property.test_escalation_properties import policies as escalation_policies
from tests.property.test_fast_path_differential import STRICTER

OWNERS: Final = tuple(sorted({owner for _, _, owner in CUSTOMERS}))
CODES: Final = tuple(code for code, _, _ in CUSTOMERS)


def both(ledger: Ledger, query: Callable[[], Any]) -> tuple[Any, Any]:
    """The answer through the engine, then replayed (the same Ledger, the same store)."""
    ledger.read_models = "stored"
    try:
        engine = query()
        ledger.read_models = "replay"
        replayed = query()
    finally:
        ledger.read_models = "stored"
    return engine, replayed


def queries(
    ledger: Ledger, as_of: date, known_at: datetime | None, owners: tuple[str, ...]
) -> Iterator[tuple[str, Callable[[], Any]]]:
    for grouping in AgeingGrouping:
        yield (
            f"ageing {grouping.name}",
            lambda g=grouping: ledger.ageing(as_of, grouping=g, known_at=known_at),
        )
    yield (
        "ageing edges (15, 45)",
        lambda: ledger.ageing(
            as_of, grouping=AgeingGrouping.CUSTOMER, edges_days=(15, 45), known_at=known_at
        ),
    )
    yield "worklist", lambda: ledger.worklist(as_of, known_at=known_at)
    for owner in owners:  # an owner the history never named is refused, by both paths alike
        yield (
            f"worklist {owner}",
            lambda o=owner: answer_or_error(
                lambda: ledger.worklist(as_of, owner=o, known_at=known_at)
            ),
        )
    month_on = as_of.replace(day=1)
    for plan_grouping in PlanGrouping:
        yield (
            f"collection plan {plan_grouping.name}",
            lambda g=plan_grouping: ledger.collection_plan(
                month_on, by=g, as_of=as_of, known_at=known_at
            ),
        )
    start_on = as_of - timedelta(days=90)
    for kpi_grouping in KpiGrouping:
        yield (
            f"kpis {kpi_grouping.name}",
            lambda g=kpi_grouping: ledger.kpis(start_on, as_of, grouping=g, known_at=known_at),
        )
    # Issue 13: reporting currencies at the rates the history recorded (a pair without a rate in
    # force is refused alike), cash held by collectors, unapplied cash and pending approvals.
    for currency in REPORTING_CURRENCIES:
        yield (
            f"ageing in {currency}",
            lambda c=currency: answer_or_error(
                lambda: ledger.ageing_in(
                    c, as_of, grouping=AgeingGrouping.CUSTOMER, known_at=known_at
                )
            ),
        )
        yield (
            f"kpis in {currency}",
            lambda c=currency: answer_or_error(
                lambda: ledger.kpis_in(c, start_on, as_of, known_at=known_at)
            ),
        )
        yield (
            f"worklist in {currency}",
            lambda c=currency: answer_or_error(
                lambda: ledger.worklist_in(c, as_of, known_at=known_at)
            ),
        )
    yield "cash held", lambda: ledger.cash_not_handed_over(as_of, known_at=known_at)
    yield "unapplied cash", lambda: ledger.unapplied_cash(as_of, known_at=known_at)
    yield "pending approvals", lambda: ledger.pending_approvals(known_at=known_at)


REPORTING_CURRENCIES: Final = ("CNY", "USD")
"""The histories record rates to CNY (and CNY to USD); the generated ledger records none, so
there every conversion is refused alike by both paths."""


def customer_queries(
    ledger: Ledger, as_of: date, known_at: datetime | None, codes: tuple[str, ...]
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """One customer's queries (as known at a cut, if given): the engine folds that customer's
    events from the columnar log (an error, e.g. a customer not yet known, must be the same
    error)."""
    for code in codes:
        for name in ("escalation_status", "explain", "promises", "collection_case"):
            yield (
                f"{name} {code}",
                lambda c=code, n=name: answer_or_error(
                    lambda: getattr(ledger, n)(c, as_of, known_at=known_at)
                ),
            )
        yield (
            f"collection plan {code}",
            lambda c=code: answer_or_error(
                lambda: ledger.collection_plan(
                    as_of.replace(day=1), as_of=as_of, customer_code=c, known_at=known_at
                )
            ),
        )


def answer_or_error(query: Callable[[], Any]) -> Any:
    try:
        return query()
    except Exception as error:  # compared by type and text below
        return (type(error), str(error))


def assert_engine_equals_replay(
    ledger: Ledger,
    as_of: date,
    known_at: datetime | None,
    owners: tuple[str, ...],
    codes: tuple[str, ...] = (),
) -> int:
    """Compare every query; the number of worklist items seen (to show it is not vacuous)."""
    listed = 0
    found = list(queries(ledger, as_of, known_at, owners))
    found += customer_queries(ledger, as_of, known_at, codes)
    for name, query in found:
        engine, replayed = both(ledger, query)
        assert engine == replayed, f"{name} as of {as_of}, known at {known_at}"
        if name == "worklist":
            listed = len(engine)
    return listed


@given(
    history=histories,
    policy=escalation_policies(),
    effective=st.integers(0, WINDOW_DAYS),
    dates=st.lists(st.integers(0, WINDOW_DAYS + 60), min_size=1, max_size=3),
    cut=st.floats(0, 1),
)
@settings(max_examples=25)
@pytest.mark.slow
def test_the_engine_answers_as_the_replay_on_generated_histories(
    history: list[Step],
    policy: EscalationPolicy,
    effective: int,
    dates: list[int],
    cut: float,
) -> None:
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    stamps = sorted({event.timestamp for event in ledger.iter_events()})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    # A next step's own date too: the one day it is listed and not yet overdue.
    as_of_dates = [START + timedelta(days=offset) for offset in dates]
    for as_of in [*as_of_dates, *next_step_dates(history)[:1]]:
        assert_engine_equals_replay(ledger, as_of, None, OWNERS, CODES)
        assert_engine_equals_replay(ledger, as_of, known_at, OWNERS, CODES)


def test_the_engine_follows_new_events_between_queries() -> None:
    """Queries, then more events, then queries again: the live log catches up (no reload)."""
    history = [
        Step("issue", ("I-1", 0, 1_000_00, 0, 30)),
        Step("issue", ("I-2", 1, 2_000_00, 5, 30)),
    ]
    ledger = run(history).ledger
    as_of = START + timedelta(days=WINDOW_DAYS)
    before = assert_engine_equals_replay(ledger, as_of, None, OWNERS)
    engine = ledger.query_engine()
    position = engine.status()["position"]
    ledger.run(Step("issue", ("I-3", 0, 5_000_00, 10, 30)))
    after = assert_engine_equals_replay(ledger, as_of, None, OWNERS)
    assert engine.status()["position"] > position
    assert ledger.query_engine() is engine
    assert after >= before
    assert ledger.worklist(as_of, owner="li")  # the new invoice puts ACME on the worklist


def test_a_worklist_asked_again_at_the_same_position_is_the_answer_kept() -> None:
    """The engine keeps a worklist per log version, date, owner and cut: asked again, the same
    answer (no recomputation); after a new event, a new answer that counts it."""
    history = [Step("issue", ("I-1", 0, 1_000_00, 0, 30))]
    ledger = run(history).ledger
    as_of = START + timedelta(days=WINDOW_DAYS)
    engine = ledger.query_engine()
    first = engine.worklist(as_of, owner="li")
    assert first is engine.worklist(as_of, owner="li")
    assert first is not engine.worklist(as_of, owner="wang")
    ledger.run(Step("issue", ("I-2", 0, 5_000_00, 10, 30)))
    after = engine.worklist(as_of, owner="li")
    assert after is not first
    ledger.read_models = "replay"
    assert ledger.worklist(as_of, owner="li") == after


def assert_same_columns(
    found: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> None:
    assert found.keys() == expected.keys()
    for name, table in expected.items():
        assert found[name].keys() == table.keys(), name
        for key, values in table.items():
            if isinstance(values, tuple):
                assert found[name][key] == values, (name, key)
            else:
                assert found[name][key].dtype == values.dtype, (name, key)
                assert found[name][key].tolist() == values.tolist(), (name, key)


@given(history=histories, split=st.floats(0, 1), date_offset=st.integers(0, WINDOW_DAYS + 60))
@settings(max_examples=20)
def test_columns_extended_with_new_events_equal_columns_converted_at_once(
    history: list[Step], split: float, date_offset: int
) -> None:
    """The live log extends its NumPy columns with each batch of new events (codes mapped into
    the dictionaries so far): the same arrays, dtypes and dictionaries as converting every row
    at once, and the same answers as the replay."""
    cut = int(split * len(history))
    ledger = run(history[:cut]).ledger
    as_of = START + timedelta(days=date_offset)
    engine = ledger.query_engine()
    assert_engine_equals_replay(ledger, as_of, None, OWNERS)
    for step in history[cut:]:
        try:
            ledger.run(step)
        except ArledgerError:
            continue  # a refused step records nothing, as in run()
        engine.log.refresh()
        engine.log.columns()  # extended batch by batch
    assert_engine_equals_replay(ledger, as_of, None, OWNERS)
    fresh = LiveLog(engine.log.reader, engine.log.decoder, None)
    fresh.refresh()
    assert_same_columns(engine.log.columns(), fresh.columns())


GENERATED_INVOICES: Final = 10_000
GENERATED_SEED: Final = 20_261_206


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite store holding a generated ledger of 10,000 invoices and a stricter policy
    version effective mid-period, adopted after the generator's recording times."""
    path = tmp_path_factory.mktemp("engine") / "generated.db"
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}
    ledger = Ledger(env=env, clock=FixedClock(datetime(2027, 1, 1, tzinfo=UTC)))
    generate_to_store(ledger, GENERATED_INVOICES, GENERATED_SEED)
    ledger.adopt_policy(
        policy=STRICTER, effective_on=date(2025, 7, 1), approver="CFO", reason="review"
    )
    ledger.close()
    yield path


def fold_once_per_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replayed queries fold the log once per known-at cut instead of once per query.

    ``read_models="replay"`` decodes and folds the whole log on every query (~1 s per query
    at 10,000 invoices, most of this test's time); the fold is a pure function of the log and
    the cut, the store does not change during the test, and no query mutates the state, so
    the reference answers are the same. Only the replay side is memoised: the engine's own
    answers never go through it."""
    fold = Ledger.portfolio
    folded: dict[datetime | None, Any] = {}

    def portfolio(
        self: Ledger, *, known_at: datetime | None = None, customer_ids: Any = None
    ) -> Any:
        if self.read_models != "replay" or customer_ids is not None:
            return fold(self, known_at=known_at, customer_ids=customer_ids)
        if known_at not in folded:
            folded[known_at] = fold(self, known_at=known_at)
        return folded[known_at]

    monkeypatch.setattr(Ledger, "portfolio", portfolio)


def engine_answers(ledger: Ledger, as_of: date) -> list[tuple[str, Any]]:
    return [(name, query()) for name, query in queries(ledger, as_of, None, ())]


@pytest.mark.slow
def test_the_engine_answers_as_the_replay_on_a_generated_ledger_of_10000_invoices(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold_once_per_cut(monkeypatch)
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(generated)}
    ledger = Ledger(env=env)
    try:
        owners = tuple(sorted({item.owner for item in ledger.worklist(END_ON_DEFAULT)}))
        assert len(owners) >= 2
        # The worklist's first customers (the largest histories among them) and a quiet one.
        listed = [item.customer_code for item in ledger.worklist(END_ON_DEFAULT)]
        codes = (*listed[:3], listed[-1])
        for as_of in (date(2025, 6, 30), date(2025, 7, 15), END_ON_DEFAULT):
            # Not vacuous: hundreds of customers on the worklist.
            assert assert_engine_equals_replay(ledger, as_of, None, owners[:2], codes) >= 100
        stamps = [event.timestamp for event in ledger.iter_events()]
        known_at = stamps[len(stamps) * 2 // 3]
        assert (
            assert_engine_equals_replay(ledger, date(2025, 10, 15), known_at, owners[:1], codes) > 0
        )
        assert ledger.query_engine().persist() or ledger.query_engine().status()["persisted"]
        proven = engine_answers(ledger, END_ON_DEFAULT)  # equal to the replay, above
    finally:
        ledger.close()
    # A new Ledger loads the persisted segments instead of decoding the JSON log again, and
    # answers as the first one did.
    again = Ledger(env=env)
    try:
        engine = again.query_engine()
        assert engine.refresh() == 0
        assert engine.status()["persisted"] == engine.status()["events"]
        assert engine_answers(again, END_ON_DEFAULT) == proven
    finally:
        again.close()
