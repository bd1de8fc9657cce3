"""As known at T = as if the store held only the events stamped by T, for every query.

For a generated collections history (invoices, payments and bounces, disputes, promises,
ratings, blacklists, owners, policy versions, and the facts only some queries read: payment
calendars, credit lines, balance confirmations) and a cut T, each public query of the
``Ledger`` asked with ``known_at=T`` must equal the same query asked without it of a copy of
the store holding only the events stamped at or before T (recorded order kept). Both of the
original's paths are held to it: the query engine's (``read_models="stored"``: the columnar
log cut by stamp, or the fold of one customer's events from it) and the replay's; the copy
answers by replay, the reference (in memory for the Hypothesis histories; on SQLite, with the
engine's persisted segments loaded by a new Ledger, for a fixed history). A refusal (a
customer or invoice not yet recorded at T) must be the same refusal, its message apart from
the cut it names.

This is "stamped by T", not "committed by T" (issue 12 item 3 is about commit order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.application.session import Session
from arledger.domain.events import Event
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.kpis import KpiGrouping
from arledger.projections.plans import PlanGrouping
from tests.conftest import FixedClock
from tests.property.test_escalation_properties import (
    CUSTOMERS,
    INVOICES,
    START,
    WINDOW_DAYS,
    Step,
    customer_indexes,
    day_offsets,
    histories,
    run,
)

PAYMENTS: Final = ("BANK-1", "BANK-2", "BANK-3")
OWNERS: Final = ("li", "wang", "zhao")
CONFIRMATIONS: Final = ("C-1", "C-2")


def _on(offset: int) -> Any:
    return START + timedelta(days=offset)


def _calendar(
    session: Session, customer: int, closing: int | None, runs: tuple[int, ...], on: int
) -> list[Event]:
    return session.set_payment_calendar(
        customer_code=CUSTOMERS[customer][0],
        book_closing_day=closing,
        payment_run_days=runs,
        set_on=_on(on),
    )


def _credit_line(session: Session, customer: int, major: int, on: int) -> list[Event]:
    code, currency, _ = CUSTOMERS[customer]
    return session.set_credit_line(
        customer_code=code,
        amount=Money.parse(str(major), currency),
        effective_on=_on(on),
        approver="cfo",
        reason="reviewed",
    )


def _confirm(
    session: Session, customer: int, reference: str, on: int, acknowledged: int | None, minor: int
) -> list[Event]:
    code, currency, _ = CUSTOMERS[customer]
    events = session.send_balance_confirmation(
        customer_code=code, confirmation_reference=reference, balance_as_of=_on(on), sent_on=_on(on)
    )
    if acknowledged is not None:
        events += session.acknowledge_balance_confirmation(
            customer_code=code,
            confirmation_reference=reference,
            confirmed_balance=Money(minor, currency),
            acknowledged_on=_on(on + acknowledged),
        )
    return events


EXTRA_OPS: Final[dict[str, Callable[..., list[Event]]]] = {
    "calendar": _calendar,
    "credit_line": _credit_line,
    "confirm": _confirm,
}


@attrs.frozen
class Extra:
    """A command the escalation histories do not generate, shown by name when a case fails."""

    name: str
    args: tuple[Any, ...]

    def __call__(self, session: Session) -> list[Event]:
        result: list[Event] = EXTRA_OPS[self.name](session, *self.args)
        return result


extras = st.one_of(
    st.builds(
        lambda *a: Extra("calendar", a),
        customer_indexes,
        st.none() | st.integers(1, 31),
        st.lists(st.integers(1, 31), unique=True, max_size=3).map(lambda d: tuple(sorted(d))),
        day_offsets,
    ),
    st.builds(
        lambda *a: Extra("credit_line", a),
        customer_indexes,
        st.integers(0, 300_000),
        day_offsets,
    ),
    st.builds(
        lambda *a: Extra("confirm", a),
        customer_indexes,
        st.sampled_from(CONFIRMATIONS),
        day_offsets,
        st.none() | st.integers(0, 30),
        st.integers(0, 20_000_000),
    ),
)


@st.composite
def mixed_histories(draw: st.DrawFn) -> list[Step | Extra]:
    """An escalation history with calendar, credit-line and confirmation commands slipped in
    at drawn places (so that a cut can fall between any two of them)."""
    history: list[Step | Extra] = list(draw(histories))
    for extra in draw(st.lists(extras, max_size=6)):
        history.insert(draw(st.integers(0, len(history))), extra)
    return history


def truncated_copy(ledger: Ledger, known_at: datetime) -> Ledger:
    """A new in-memory store holding the events of ``ledger`` stamped by ``known_at``, in their
    recorded order (the stored records themselves, not re-decided commands)."""
    kept = [
        StoredEvent(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=stored.state,
        )
        for stored in ledger.recorder.select_notifications(1, 1_000_000)
        if ledger.mapper.to_domain_event(stored).timestamp <= known_at
    ]
    copy = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock(), read_models="replay")
    if kept:
        copy.recorder.insert_events(kept)
    return copy


def queries(
    ledger: Ledger, known_at: datetime | None, as_of: Any
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Every public query of the Ledger, each with ``known_at`` (None: all recorded)."""
    start_on = as_of - timedelta(days=90)
    for grouping in AgeingGrouping:
        yield (
            f"ageing {grouping.name}",
            lambda g=grouping: ledger.ageing(as_of, grouping=g, known_at=known_at),
        )
    yield "worklist", lambda: ledger.worklist(as_of, known_at=known_at)
    yield "summary", lambda: ledger.summary(as_of, known_at=known_at)
    for owner in OWNERS:
        yield (
            f"worklist {owner}",
            lambda o=owner: ledger.worklist(as_of, owner=o, known_at=known_at),
        )
    for kpi_grouping in KpiGrouping:
        yield (
            f"kpis {kpi_grouping.name}",
            lambda g=kpi_grouping: ledger.kpis(start_on, as_of, grouping=g, known_at=known_at),
        )
    yield (
        "backtest",
        # The result names its known_at; the truncated store's is None.
        lambda: attrs.evolve(
            ledger.backtest(
                EscalationPolicy(promise_tolerance_days=0),
                f"{as_of:%Y-%m}",
                f"{as_of:%Y-%m}",
                min_level=1,
                known_at=known_at,
            ),
            known_at=None,
        ),
    )
    for plan_grouping in PlanGrouping:
        yield (
            f"collection_plan {plan_grouping.name}",
            lambda g=plan_grouping: ledger.collection_plan(
                as_of.replace(day=1), by=g, as_of=as_of, known_at=known_at
            ),
        )
    yield "portfolio", lambda: ledger.portfolio(known_at=known_at)
    yield "iter_events", lambda: list(ledger.iter_events(known_at=known_at))
    yield (
        "propose_credit_line",
        lambda: ledger.propose_credit_line(
            Money.parse("1000000.00", "USD"), as_of, known_at=known_at
        ),
    )
    for code, currency, _ in (*CUSTOMERS, ("NOBODY", "USD", "")):
        for name in ("escalation_status", "explain", "promises", "collection_case"):
            yield (
                f"{name} {code}",
                lambda c=code, n=name: getattr(ledger, n)(c, as_of, known_at=known_at),
            )
        yield (
            f"check_credit {code}",
            lambda c=code, cur=currency: ledger.check_credit(
                c, Money.parse("5000", cur), as_of, known_at=known_at
            ),
        )
        yield (
            f"balance_confirmations {code}",
            lambda c=code: ledger.balance_confirmations(c, known_at=known_at),
        )
        yield (
            f"statement {code}",
            lambda c=code: ledger.statement(c, start_on, as_of, known_at=known_at),
        )
        yield f"customer {code}", lambda c=code: ledger.customer(c, known_at=known_at)
        yield (
            f"collection_plan {code}",
            lambda c=code: ledger.collection_plan(
                as_of.replace(day=1), as_of=as_of, customer_code=c, known_at=known_at
            ),
        )
    for number in INVOICES:
        yield f"invoice {number}", lambda n=number: ledger.invoice(n, known_at=known_at)
        yield (
            f"expected_pay_on {number}",
            lambda n=number: ledger.expected_pay_on(n, known_at=known_at),
        )
    for reference in PAYMENTS:
        yield f"payment {reference}", lambda r=reference: ledger.payment(r, known_at=known_at)


def answer(query: Callable[[], Any], known_at: datetime | None) -> Any:
    """The query's result, or its refusal by type and message (the cut it names removed)."""
    try:
        return query()
    except Exception as error:  # compared by type and text
        text = str(error)
        if known_at is not None:
            text = text.replace(f" recorded by {known_at.isoformat()}", "")
        return (type(error), text)


@given(
    history=mixed_histories(),
    cut=st.floats(0, 1),
    between=st.booleans(),
    as_of_offset=st.integers(0, WINDOW_DAYS + 60),
)
@settings(max_examples=10)
def test_every_query_known_at_t_equals_the_query_on_the_store_cut_at_t(
    history: list[Step | Extra], cut: float, between: bool, as_of_offset: int
) -> None:
    ledger = run(history).ledger  # type: ignore[arg-type]
    stamps = sorted({event.timestamp for event in ledger.iter_events()})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    if between:  # a cut between two stamps (or before the first)
        known_at -= timedelta(milliseconds=500)
    as_of = _on(as_of_offset)
    copy = truncated_copy(ledger, known_at)
    assert len(list(copy.iter_events())) < len(list(ledger.iter_events())) or not between
    expected = {name: answer(query, None) for name, query in queries(copy, None, as_of)}
    for read_models in ("stored", "replay"):
        ledger.read_models = read_models
        for name, query in queries(ledger, known_at, as_of):
            assert expected[name] == answer(query, known_at), f"{name} ({read_models})"


FIXED_HISTORY: Final[list[Step | Extra]] = [
    Step("issue", ("I-1", 0, 1_200_00, 0, 30)),
    Extra("calendar", (0, 25, (10,), 0)),
    Step("issue", ("I-2", 1, 800_000, 10, 30)),
    Step("pay", ("BANK-1", "I-1", 500_00, 40, None)),
    Extra("credit_line", (0, 2_000, 20)),
    Step("promise", (1, "P-1", 300_000, 45, 10, True)),
    Extra("confirm", (0, "C-1", 50, 5, 70_000)),
    Step("pay", ("BANK-2", "I-2", 300_000, 50, 3)),
    Extra("calendar", (0, None, (5,), 120)),
    Step("issue", ("I-3", 0, 50_00, 100, 30)),
    Step("dispute", ("I-3", "D-1", 20_00, 110)),
    Step("change_owner", (1, "zhao", 60)),
]
"""A history touching every kind of fact, for the SQLite store's paths."""


def test_on_sqlite_every_cut_equals_the_store_cut_there(tmp_path: Any) -> None:
    """The stored paths of a SQLite ledger (its engine's log persisted in segments and loaded
    by a new Ledger, the partitions for the copy's own reads apart) against in-memory copies
    cut at every stamp and between stamps."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    writer = Ledger(env=env, clock=FixedClock())
    for code, currency, owner in CUSTOMERS:
        writer.open_account(
            code, name=code, currency=currency, collection_owner=owner, opened_on=START
        )
    for step in FIXED_HISTORY:
        writer.run(step)
    assert writer.query_engine().persist()
    stamps = sorted({event.timestamp for event in writer.iter_events()})
    writer.close()
    ledger = Ledger(env=env, clock=FixedClock())  # loads the persisted segments
    as_of = _on(130)
    try:
        for known_at in [
            *stamps[::3],
            *(stamp - timedelta(milliseconds=500) for stamp in stamps[1::6]),
        ]:
            copy = truncated_copy(ledger, known_at)
            expected = {name: answer(query, None) for name, query in queries(copy, None, as_of)}
            for read_models in ("stored", "replay"):
                ledger.read_models = read_models
                for name, query in queries(ledger, known_at, as_of):
                    assert expected[name] == answer(query, known_at), (
                        f"{name} ({read_models}) known at {known_at}"
                    )
        # Due 31 January under the calendar of the 10th (the one of the 5th came in May).
        assert date(2025, 2, 10) == ledger.expected_pay_on("I-1")
        assert ledger.ageing(as_of, known_at=stamps[3]) != ledger.ageing(as_of)
    finally:
        ledger.close()
