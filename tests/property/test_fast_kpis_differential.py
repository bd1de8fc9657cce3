"""The KPI fast path (projections/fast/kpis.py) against the pure fold (projections/kpis.py).

Every report is compared whole with ``==``: every row, every field, every exact Decimal. The
ledgers come from the Ledger's commands: the collections histories of the escalation
properties (payments and bounces, disputes, promises, owner changes, policy versions), extended
here with write-offs, reinstatements, credit notes, concessions, instalment schedules,
promises naming several invoices and superseded promises; the command sequences of
``tests.strategies`` (every invoice movement, several currencies, refused commands); the
seeded demo ledger, bare and with collections work on top; and the synthetic ledger of
``adapters.generate`` with 10,000 invoices. Periods are calendar months, quarters and years,
arbitrary stretches, periods before any event and periods after the last, each also as known
at an instant inside the log.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger, Session
from arledger.adapters.read_models.columnar import (
    columns,
    decode_policy,
    from_columnar,
    to_columnar,
)
from arledger.adapters.synthetic.demo import DemoLedger, generate_demo, record_demo
from arledger.adapters.synthetic.generate import generate_columnar
from arledger.domain.errors import ArledgerError, ConfigurationError, InvalidDateError
from arledger.domain.events import Event, Instalment, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import (
    RATING_VALUES,
    AgeingBasis,
    AgeingPolicy,
    EscalationPolicy,
    LossRate,
)
from arledger.projections.fast.kpis import SELECT, Columns, kpi_report_fast
from arledger.projections.kpis import KpiGrouping, KpiReport, kpi_report
from arledger.projections.portfolio import PortfolioState, fold_all
from arledger.projections.promises import PromiseStatus, judge_all
from tests.conftest import FixedClock
from tests.property import test_escalation_properties as escalation_cases
from tests.property.test_fast_path_differential import (
    SETTLEMENTS,
    WrittenOffThenBounced,
    written_off_cases,
)
from tests.strategies import WINDOW_START, Command, command_sequences

# Periods -------------------------------------------------------------------------------------


def month_of(on: date) -> tuple[date, date]:
    start = on.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def quarter_of(on: date) -> tuple[date, date]:
    start = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
    return start, month_of(date(start.year, start.month + 2, 1))[1]


def year_of(on: date) -> tuple[date, date]:
    return date(on.year, 1, 1), date(on.year, 12, 31)


@st.composite
def periods(draw: st.DrawFn, around: date, days: int) -> tuple[date, date]:
    """A month, quarter, year or stretch of days near ``around`` (from before it to after)."""
    anchor = around + timedelta(days=draw(st.integers(-90, days + 90)))
    shape = draw(st.sampled_from(("month", "quarter", "year", "days")))
    if shape == "month":
        return month_of(anchor)
    if shape == "quarter":
        return quarter_of(anchor)
    if shape == "year":
        return year_of(anchor)
    return anchor, anchor + timedelta(days=draw(st.integers(0, 120)))


def cut_known_at(events: Sequence[Event], index: int) -> datetime | None:
    """The timestamp of one event of the log (None for an empty log): a cut inside it."""
    if not events:
        return None
    return events[index % len(events)].timestamp


def assert_fast_equals_fold(
    events: Sequence[Event],
    period_list: Sequence[tuple[date, date]],
    *,
    known_at: datetime | None = None,
) -> int:
    """Compare every grouping and period; returns how many rows were compared."""
    cols = columns(to_columnar(events), SELECT)
    state = fold_all(events, known_at=known_at)
    compared = 0
    for start_on, end_on in period_list:
        for grouping in KpiGrouping:
            expected = kpi_report(state, start_on, end_on, grouping=grouping)
            actual = kpi_report_fast(
                cols,
                start_on,
                end_on,
                grouping=grouping,
                known_at=known_at,
                decode_policy=decode_policy,
            )
            assert expected == actual, f"{grouping.value} {start_on}..{end_on} known at {known_at}"
            compared += len(expected.rows)
    return compared


# Collections histories, extended -------------------------------------------------------------


def _on(offset: int) -> date:
    return escalation_cases.START + timedelta(days=offset)


def _issue_in_instalments(
    session: Session, number: str, customer: int, amount: int, issued: int, parts: int
) -> list[Event]:
    code, currency, _ = escalation_cases.CUSTOMERS[customer]
    amount = max(amount, parts)
    share = amount // parts
    schedule = tuple(
        Instalment(
            due_on=_on(issued + 20 * (index + 1)),
            amount_minor=share if index < parts - 1 else amount - share * (parts - 1),
        )
        for index in range(parts)
    )
    return session.issue_invoice(
        invoice_number=number,
        customer_code=code,
        amount=Money(amount, currency),
        issued_on=_on(issued),
        due_on=schedule[-1].due_on,
        instalments=schedule,
    )


def _movement(session: Session, kind: str, number: str, amount: int, on: int) -> list[Event]:
    invoice = session.require_invoice(number)
    money = Money(min(amount, max(1, invoice.open_minor)), invoice.currency)
    if kind == "credit_note":
        return session.apply_credit_note(
            invoice_number=number,
            credit_note_number=f"CN-{number}-{on}",
            amount=money,
            applied_on=_on(on),
            reason="damaged goods",
            approver="cfo",
        )
    if kind == "concession":
        return session.approve_concession(
            invoice_number=number, amount=money, approved_on=_on(on), reason="goodwill",
            approver="cfo",
        )  # fmt: skip
    if kind == "write_off":
        return session.write_off(
            invoice_number=number, written_off_on=_on(on), reason="insolvent", approver="cfo"
        )
    assert kind == "reinstate"
    return session.reinstate(
        invoice_number=number, reinstated_on=_on(on), reason="recovered", approver="cfo"
    )


def _promise_more(
    session: Session,
    customer: int,
    reference: str,
    amount: int,
    made: int,
    days: int,
    named: int,
    supersedes: str | None,
    tranches: int = 1,
) -> list[Event]:
    """A promise naming up to ``named`` invoices, possibly superseding an earlier one, in up
    to ``tranches`` dated parts."""
    code, currency, _ = escalation_cases.CUSTOMERS[customer]
    account = session.require_customer(code)
    numbers = []
    for invoice_id in account.invoice_ids[:named]:
        invoice = session.invoice_by_id(invoice_id)
        assert invoice is not None
        numbers.append(invoice.invoice_number)
    amount = min(amount, max(1, escalation_cases.open_on(session, code, numbers, _on(made))))
    return session.make_promise(
        customer_code=code,
        promise_reference=reference,
        amount=Money(amount, currency),
        promised_on=_on(made + days),
        made_on=_on(made),
        contact="AP",
        invoice_numbers=numbers,
        supersedes=supersedes,
        tranches=escalation_cases.tranche_schedule(amount, made, days, tranches),
    )


def _adopt_ageing(session: Session, edges: tuple[int, ...], by_issue: bool, on: int) -> list[Event]:
    """A policy version with other ageing buckets and provision rates (and its basis)."""
    policy = EscalationPolicy(
        ageing=AgeingPolicy(
            edges_days=edges, basis=AgeingBasis.ISSUE_DATE if by_issue else AgeingBasis.DUE_DATE
        ),
        provision_rates_bps=tuple(range(100, 100 * (len(edges) + 3), 100)),
        # Every other version has exact sub-basis-point rates (n x 2,000/23,000).
        provision_loss_rates=None
        if on % 2
        else tuple(
            LossRate(numerator=min(2000 * (i + 1), 23000), denominator=23000)
            for i in range(len(edges) + 2)
        ),
        promise_tolerance_days=on % 7,
    )
    book = session.policy_book()
    version = 2 if book is None else book.latest_version + 1
    return session.adopt_policy(
        policy=attrs.evolve(policy, version=version),
        effective_on=_on(on),
        approver="CFO",
        reason="review",
    )


def _withdraw_after(session: Session, reference: str, days: int) -> list[Event]:
    """Withdraw a promise ``days`` after it was made (before that is refused)."""
    promise = session.require_promise(reference)
    return session.withdraw_promise(
        promise_reference=reference,
        withdrawn_on=promise.made_on + timedelta(days=days),
        reason="customer asked",
    )


def _supersede_after(
    session: Session, reference: str, new_reference: str, days: int, amount: int, named: int
) -> list[Event]:
    """A new promise of the same customer, made ``days`` after ``reference``, replacing it."""
    promise = session.require_promise(reference)
    customer = session.customer_by_id(promise.customer_id)
    assert customer is not None
    index = [code for code, _, _ in escalation_cases.CUSTOMERS].index(customer.customer_code)
    made = (promise.made_on - escalation_cases.START).days + days
    return _promise_more(session, index, new_reference, amount, made, days, named, reference)


def _adopt_tolerance(
    session: Session, tolerance: int, on: int, by_rating: dict[str, int] | None = None
) -> list[Event]:
    """A policy version that only changes the promise tolerance (by rating too, if given)."""
    book = session.policy_book()
    version = 2 if book is None else book.latest_version + 1
    return session.adopt_policy(
        policy=EscalationPolicy(
            version=version,
            promise_tolerance_days=tolerance,
            promise_tolerance_days_by_rating=by_rating or {},
        ),
        effective_on=_on(on),
        approver="CFO",
        reason="review",
    )


def _promise_case(
    session: Session,
    customer: int,
    reference: str,
    amount: int,
    made: int,
    days: int,
    named: int,
    payments: tuple[tuple[int, int, int | None], ...],
    closing: tuple[str, int] | None,
    tranches: int = 1,
) -> list[Event]:
    """A promise, then payments toward it (days after it was made, percent of the promise,
    bounced some days later or not) and perhaps its withdrawal or replacement.

    Each command that the ledger refuses is left out; the rest of the case still happens.
    """
    events: list[Event] = []

    def attempt(command: Callable[..., list[Event]], *args: Any, **fields: Any) -> None:
        with contextlib.suppress(ArledgerError):
            events.extend(command(*args, **fields))

    attempt(_promise_more, session, customer, reference, amount, made, days, named, None, tranches)
    code, currency, _ = escalation_cases.CUSTOMERS[customer]
    account = session.require_customer(code)
    for number, (after, percent, bounce) in enumerate(payments):
        bank_reference = f"{reference}-PAY-{number}-{len(events)}"
        invoices = [session.invoice_by_id(invoice_id) for invoice_id in account.invoice_ids]
        open_invoices = [i for i in invoices if i is not None and i.open_minor > 0]
        if not open_invoices:
            break
        invoice = open_invoices[0]
        value_on = _on(made + after)
        # All of the payment counts toward a promise naming no invoice, only what is applied
        # toward one that names the invoice.
        received = Money(max(1, amount * percent // 100), currency)
        applied = Money(min(received.amount_minor, invoice.open_minor), currency)
        attempt(
            session.receive_payment,
            bank_reference=bank_reference,
            payer_code=code,
            amount=received,
            value_on=value_on,
        )
        attempt(
            session.allocate_payment,
            bank_reference=bank_reference,
            allocations={invoice.invoice_number: applied},
            allocated_on=value_on,
        )
        if bounce is not None:
            attempt(
                session.reverse_payment,
                bank_reference=bank_reference,
                reversed_on=value_on + timedelta(days=bounce),
                reason="bounced",
            )
    if closing is not None:
        kind, after = closing
        if kind == "withdraw":
            attempt(_withdraw_after, session, reference, after)
        else:
            attempt(_supersede_after, session, reference, f"{reference}-R", after, amount, 0)
    return events


EXTRA_OPS: Final[dict[str, Callable[..., list[Event]]]] = {
    "promise_case": _promise_case,
    "instalments": _issue_in_instalments,
    "movement": _movement,
    "promise_more": _promise_more,
    "adopt_ageing": _adopt_ageing,
    "withdraw_after": _withdraw_after,
    "supersede_after": _supersede_after,
    "adopt_tolerance": _adopt_tolerance,
}


@attrs.frozen
class ExtraStep:
    name: str
    args: tuple[Any, ...]

    def __call__(self, session: Session) -> list[Event]:
        return EXTRA_OPS[self.name](session, *self.args)


invoice_numbers = st.sampled_from((*escalation_cases.INVOICES, "I-4"))
extra_steps = st.one_of(
    st.builds(
        lambda *a: ExtraStep("instalments", a),
        st.just("I-4"),
        escalation_cases.customer_indexes,
        escalation_cases.amounts_minor,
        st.integers(0, 60),
        st.integers(1, 4),
    ),
    st.builds(
        lambda *a: ExtraStep("movement", a),
        st.sampled_from(("credit_note", "concession", "write_off", "reinstate")),
        invoice_numbers,
        escalation_cases.amounts_minor,
        escalation_cases.day_offsets,
    ),
    st.builds(
        lambda *a: ExtraStep("promise_more", a),
        escalation_cases.customer_indexes,
        escalation_cases.promise_references,
        escalation_cases.amounts_minor,
        escalation_cases.day_offsets,
        st.integers(0, 30),
        st.integers(0, 3),
        st.none() | escalation_cases.promise_references,
    ),
    st.builds(
        lambda *a: ExtraStep("adopt_ageing", a),
        st.lists(st.integers(1, 150), min_size=1, max_size=5, unique=True).map(
            lambda edges: tuple(sorted(edges))
        ),
        st.booleans(),
        escalation_cases.day_offsets,
    ),
)
extended_histories = st.tuples(
    escalation_cases.histories,
    st.lists(st.one_of(extra_steps, escalation_cases.steps), max_size=14),
).map(lambda parts: parts[0] + parts[1])


promise_references = st.sampled_from(("P-1", "P-2", "P-3", "P-4", "P-5"))
# Mostly less than a payment brings, so that promises are kept too, not only broken.
promised_amounts = st.integers(1, 3_000_000) | st.integers(1, 20_000_000)
bank_references = st.sampled_from(tuple(f"BANK-{n}" for n in range(1, 13)))
pay_steps = st.builds(
    lambda *a: escalation_cases.Step("pay", a),
    bank_references,
    invoice_numbers,
    escalation_cases.amounts_minor,
    escalation_cases.day_offsets,
    st.none() | st.integers(0, 60),
)
promise_cases = st.builds(
    lambda *a: ExtraStep("promise_case", a),
    escalation_cases.customer_indexes,
    promise_references,
    promised_amounts,
    st.integers(0, 120),
    st.sampled_from((0, 7, 15, 30)),
    st.integers(0, 3),
    st.lists(
        # Sampled rather than drawn from ranges: Hypothesis favours the ends of a range, and
        # the middle is where payments land inside the promise's window.
        st.tuples(
            st.sampled_from((-2, 0, 3, 10, 18, 33)),
            st.sampled_from((25, 60, 100, 110)),
            st.sampled_from((None, None, 0, 5, 20)),
        ),
        max_size=3,
    ).map(tuple),
    st.none() | st.tuples(st.sampled_from(("withdraw", "supersede")), st.sampled_from((0, 5, 40))),
    st.sampled_from((1, 1, 2, 3)),  # tranches: mostly a promise of one date
)
promise_steps = st.one_of(
    promise_cases,
    promise_cases,
    promise_cases,
    pay_steps,
    pay_steps,
    pay_steps,
    st.builds(lambda *a: escalation_cases.Step("bounce", a), bank_references, st.integers(0, 150)),
    st.builds(
        lambda *a: ExtraStep("promise_more", a),
        escalation_cases.customer_indexes,
        promise_references,
        promised_amounts,
        st.integers(0, 120),
        st.integers(0, 30),
        st.integers(0, 3),
        st.none(),
        st.sampled_from((1, 2, 3)),
    ),
    st.builds(lambda *a: ExtraStep("withdraw_after", a), promise_references, st.integers(0, 30)),
    st.builds(
        lambda *a: ExtraStep("supersede_after", a),
        promise_references,
        promise_references,
        st.integers(0, 20),
        promised_amounts,
        st.integers(0, 3),
    ),
    st.builds(
        lambda *a: ExtraStep("adopt_tolerance", a),
        st.integers(0, 15),
        st.integers(0, 120),
        st.dictionaries(st.sampled_from(RATING_VALUES), st.integers(0, 20), max_size=4),
    ),
    st.builds(
        lambda *a: escalation_cases.Step("rate", a),
        escalation_cases.customer_indexes,
        st.sampled_from(RiskRating),
        st.integers(0, 120),
    ),
)
# The invoices first, then promises with the payments, bounces and policy versions that judge
# them: kept, partly kept, broken, withdrawn, superseded, open at the end of a period.
promise_histories = st.tuples(
    escalation_cases.histories.map(lambda steps: steps[: len(escalation_cases.INVOICES)]),
    st.lists(promise_steps, min_size=4, max_size=24),
).map(lambda parts: parts[0] + parts[1])


def run_steps(steps: Sequence[Callable[[Session], list[Event]]]) -> list[Event]:
    """The log of a Ledger that ran ``steps`` after opening the collections customers."""
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for code, currency, owner in escalation_cases.CUSTOMERS:
        ledger.run(
            lambda s, c=code, cur=currency, o=owner: s.open_account(
                customer_code=c,
                name=f"{c} Ltd",
                currency=cur,
                collection_owner=o,
                opened_on=escalation_cases.START,
            )
        )
    for step in steps:
        try:
            ledger.run(step)
        except ArledgerError:
            continue
    return list(ledger.iter_events())


@given(
    steps=extended_histories,
    period_list=st.lists(periods(escalation_cases.START, escalation_cases.WINDOW_DAYS), max_size=3),
    cut=st.integers(0, 10_000),
)
def test_collections_histories_give_the_same_kpis_on_the_fast_path(
    steps: list[Callable[[Session], list[Event]]],
    period_list: list[tuple[date, date]],
    cut: int,
) -> None:
    events = run_steps(steps)
    period_list = [quarter_of(escalation_cases.START), *period_list]
    assert_fast_equals_fold(events, period_list)
    assert_fast_equals_fold(events, period_list[:2], known_at=cut_known_at(events, cut))


@given(steps=promise_histories, cuts=st.lists(st.integers(0, 10_000), min_size=1, max_size=2))
def test_promises_are_judged_alike_on_the_fast_path_in_every_month(
    steps: list[Callable[[Session], list[Event]]], cuts: list[int]
) -> None:
    events = run_steps(steps)
    months = [month_of(_on(31 * n)) for n in range(6)]
    half_year = (months[0][0], months[-1][1])
    assert_fast_equals_fold(events, [*months, half_year])
    for cut in cuts:
        assert_fast_equals_fold(events, [half_year, months[2]], known_at=cut_known_at(events, cut))


@given(
    steps=st.tuples(
        escalation_cases.histories,
        st.lists(written_off_cases, min_size=1, max_size=3),
    ).map(lambda parts: [*parts[0], *parts[1]]),
    period_list=st.lists(periods(escalation_cases.START, escalation_cases.WINDOW_DAYS), max_size=3),
    cut=st.integers(0, 10_000),
)
def test_money_a_bounce_reopens_on_written_off_invoices_gives_the_same_kpis_on_the_fast_path(
    steps: list[Callable[[Session], list[Event]]],
    period_list: list[tuple[date, date]],
    cut: int,
) -> None:
    events = run_steps(steps)
    months = [month_of(_on(31 * n)) for n in range(8)]
    assert_fast_equals_fold(events, [*months, *period_list])
    assert_fast_equals_fold(events, months[2:5], known_at=cut_known_at(events, cut))


def test_each_way_of_settling_reopened_money_gives_the_same_kpis_on_the_fast_path() -> None:
    for settlement in SETTLEMENTS:
        case = WrittenOffThenBounced("I-1", 40, 40, 20, 30, settlement, 5, 100)
        issue = escalation_cases.Step("issue", ("I-1", 0, 10_000, 0, 30))
        events = run_steps([issue, case])
        assert any(type(event).__name__ == "PaymentUnapplied" for event in events)
        assert_fast_equals_fold(events, [month_of(_on(31 * n)) for n in range(6)])


def run_commands(commands: Sequence[Command]) -> list[Event]:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    for command in commands:
        try:
            ledger.run(command)
        except ArledgerError:
            continue
    return list(ledger.iter_events())


@given(
    commands=command_sequences(),
    period_list=st.lists(periods(WINDOW_START, 90), min_size=1, max_size=3),
    cut=st.integers(0, 10_000),
)
def test_invoice_movements_in_any_currency_give_the_same_kpis_on_the_fast_path(
    commands: list[Command], period_list: list[tuple[date, date]], cut: int
) -> None:
    events = run_commands(commands)
    assert_fast_equals_fold(events, period_list)
    assert_fast_equals_fold(events, period_list[:1], known_at=cut_known_at(events, cut))


# The demo ledger -----------------------------------------------------------------------------


DEMO_CHUNKS: Final = 5


def record_demo_in_chunks(ledger: Ledger, demo: DemoLedger) -> None:
    """Record the demo's invoices in chunks, each recorded at its own instant.

    A session records all its events at one instant, so a demo recorded in one go could not be
    cut by a known-at time. Opening the same accounts again records nothing.
    """
    size = -(-len(demo.invoices) // DEMO_CHUNKS)
    for first in range(0, len(demo.invoices), size):
        record_demo(ledger, attrs.evolve(demo, invoices=demo.invoices[first : first + size]))


def demo_events(seed: int, customers: int, invoices: int) -> list[Event]:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    record_demo_in_chunks(ledger, generate_demo(seed, customers=customers, invoices=invoices))
    return list(ledger.iter_events())


def demo_periods() -> list[tuple[date, date]]:
    """Months, quarters and the year of the demo, a period before it and one after it."""
    return [
        month_of(date(2024, 1, 15)),
        month_of(date(2024, 2, 29)),
        month_of(date(2024, 12, 31)),
        quarter_of(date(2024, 5, 1)),
        quarter_of(date(2024, 12, 1)),
        year_of(date(2024, 1, 1)),
        year_of(date(2023, 6, 1)),
        (date(2024, 12, 31), date(2025, 6, 30)),
        (date(2024, 3, 10), date(2024, 3, 10)),
    ]


@pytest.mark.parametrize(
    ("seed", "customers", "invoices"), [(1, 5, 40), (2, 30, 600), (3, 80, 2000)]
)
def test_demo_ledgers_give_the_same_kpis_on_the_fast_path(
    seed: int, customers: int, invoices: int
) -> None:
    events = demo_events(seed, customers, invoices)
    assert 0 < assert_fast_equals_fold(events, demo_periods())
    middle = events[len(events) // 2].timestamp
    assert 0 < assert_fast_equals_fold(events, demo_periods()[3:6], known_at=middle)


def busy_demo_events(seed: int, invoices: int) -> list[Event]:
    """A demo ledger plus collections work on it: owner changes, two policy versions (other
    buckets, tolerance and basis), promises kept, partly kept, broken, withdrawn and superseded,
    payments toward them, bounced payments, credit notes and write-offs."""
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    demo = generate_demo(seed, customers=max(5, invoices // 20), invoices=invoices)
    record_demo_in_chunks(ledger, demo)
    rng = random.Random(seed)
    session = ledger.session()
    for version, effective_on, ageing, tolerance in (
        (2, date(2024, 7, 1), AgeingPolicy(edges_days=(15, 45, 90)), 5),
        (3, date(2024, 10, 1), AgeingPolicy(edges_days=(60,), basis=AgeingBasis.ISSUE_DATE), 0),
    ):
        session.adopt_policy(
            policy=EscalationPolicy(
                version=version,
                ageing=ageing,
                provision_rates_bps=tuple(range(100, 100 * (len(ageing.edges_days) + 3), 100)),
                provision_loss_rates=None
                if version == 2
                else tuple(
                    LossRate(numerator=2000 * (i + 1), denominator=23000)
                    for i in range(len(ageing.edges_days) + 2)
                ),
                promise_tolerance_days=tolerance,
            ),
            effective_on=effective_on,
            approver="CFO",
            reason="review",
        )
    for number, customer in enumerate(rng.sample(demo.customers, len(demo.customers) // 4)):
        session.change_owner(
            customer_code=customer.customer_code,
            collection_owner=f"owner {number % 3}",
            changed_on=date(2024, rng.randint(1, 12), 1),
        )
    session.commit()
    # One unit of work per piece, so that each is recorded at its own instant, and the bounces
    # of payments toward promises last, so that a known-at cut can fall between the two.
    later: list[Callable[[Session], list[Event]]] = []
    for number, invoice in enumerate(rng.sample(demo.invoices, len(demo.invoices) // 5)):
        with contextlib.suppress(ArledgerError):
            step = ledger.run(
                lambda session, n=number, i=invoice: _collections_work(session, rng, n, i)
            )
            if step is not None:
                later.append(step)
    for step in later:
        with contextlib.suppress(ArledgerError):
            ledger.run(step)
    return list(ledger.iter_events())


def _collections_work(
    session: Session, rng: random.Random, number: int, invoice: Any
) -> Callable[[Session], list[Event]] | None:
    """One piece of collections work on a demo invoice, chosen by ``rng``; some pieces return
    what to do later (a bounce), to be recorded after the rest."""
    on = invoice.issued_on + timedelta(days=rng.randint(0, 90))
    currency = invoice.amount.currency
    reference = f"P-{number}"
    choice = rng.randrange(8)
    if choice == 0 and invoice.payment is not None:
        session.reverse_payment(
            bank_reference=invoice.payment.bank_reference,
            reversed_on=max(on, invoice.payment.value_on),
            reason="bounced",
        )
        return None
    if choice == 1:
        session.apply_credit_note(
            invoice_number=invoice.invoice_number,
            credit_note_number=f"CN-{number}",
            amount=Money(1 + invoice.amount.amount_minor // 10, currency),
            applied_on=on,
            reason="damaged goods",
            approver="cfo",
        )
        return None
    if choice == 2:
        session.write_off(
            invoice_number=invoice.invoice_number,
            written_off_on=on,
            reason="insolvent",
            approver="cfo",
        )
        return None
    amount = max(1, invoice.amount.amount_minor // rng.randint(1, 4))
    promised_on = on + timedelta(days=rng.randint(0, 40))
    session.make_promise(
        customer_code=invoice.customer_code,
        promise_reference=reference,
        amount=Money(amount, currency),
        promised_on=promised_on,
        made_on=on,
        contact="AP",
        invoice_numbers=(invoice.invoice_number,) if choice % 2 else (),
    )
    if choice == 5:
        session.withdraw_promise(
            promise_reference=reference,
            withdrawn_on=on + timedelta(days=rng.randint(0, 20)),
            reason="customer asked",
        )
    elif choice == 6:
        session.make_promise(
            customer_code=invoice.customer_code,
            promise_reference=f"{reference}-R",
            amount=Money(amount, currency),
            promised_on=promised_on + timedelta(days=10),
            made_on=on + timedelta(days=rng.randint(0, 10)),
            contact="AP",
            supersedes=reference,
        )
    elif choice in (3, 4, 7):
        # Money toward the promise: before, in or after its window, all of it or a part.
        value_on = on + timedelta(days=rng.randint(-5, 50))
        bank_reference = f"PAY-{reference}"
        paid = Money(max(1, amount * rng.choice((30, 100, 100, 120)) // 100), currency)
        session.receive_payment(
            bank_reference=bank_reference,
            payer_code=invoice.customer_code,
            amount=paid,
            value_on=value_on,
        )
        open_minor = session.require_invoice(invoice.invoice_number).open_minor
        if open_minor:
            session.allocate_payment(
                bank_reference=bank_reference,
                allocations={
                    invoice.invoice_number: Money(min(open_minor, paid.amount_minor), currency)
                },
                allocated_on=max(value_on, invoice.issued_on),
            )
        if choice == 7:
            reversed_on = value_on + timedelta(days=rng.randint(0, 30))
            return lambda later: later.reverse_payment(
                bank_reference=bank_reference, reversed_on=reversed_on, reason="bounced"
            )
    return None


@pytest.mark.parametrize("seed", [21, 22])
def test_busy_ledgers_give_the_same_kpis_on_the_fast_path_month_by_month(seed: int) -> None:
    events = busy_demo_events(seed, 1500)
    months = [month_of(date(2024, month, 1)) for month in range(1, 13)]
    assert 0 < assert_fast_equals_fold(events, [*months, quarter_of(date(2025, 1, 1))])
    # Cuts in the demo's recording and in the collections work recorded after it.
    for percent in (50, 90, 95, 98):
        known_at = events[len(events) * percent // 100].timestamp
        assert_fast_equals_fold(events, months[5::3], known_at=known_at)
    # What was compared covers every promise outcome, not only empty rows.
    state = fold_all(events)
    statuses = {judgement.status for judgement in judge_all(state, date(2024, 12, 31))}
    assert set(PromiseStatus) == statuses


@pytest.mark.slow
def test_a_synthetic_ledger_of_ten_thousand_invoices_gives_the_same_kpis_on_the_fast_path() -> None:
    log = generate_columnar(10_000, 5)
    events = list(from_columnar(log))
    cols = columns(log, SELECT)
    state = fold_all(events)
    period_list = [
        month_of(date(2024, 2, 1)),
        quarter_of(date(2025, 11, 1)),
        year_of(date(2024, 1, 1)),
        year_of(date(2023, 1, 1)),
        (date(2025, 6, 16), date(2026, 3, 15)),
    ]
    rows = 0
    for start_on, end_on in period_list:
        for grouping in KpiGrouping:
            expected = kpi_report(state, start_on, end_on, grouping=grouping)
            assert expected == kpi_report_fast(
                cols, start_on, end_on, grouping=grouping, decode_policy=decode_policy
            )
            rows += len(expected.rows)
    # The comparison covered promises, owners and customers, not just empty rows.
    report = kpi_report(state, *year_of(date(2025, 1, 1)), grouping=KpiGrouping.OWNER)
    assert sum(row.promises_judged for row in report.rows) > 0
    assert len({row.key for row in report.rows}) > 3
    assert rows > 1000
    for percent in (30, 80):
        known_at = events[len(events) * percent // 100].timestamp
        quarter = quarter_of(date(2025, 4, 1))
        state = fold_all(events, known_at=known_at)
        for grouping in KpiGrouping:
            expected = kpi_report(state, *quarter, grouping=grouping)
            actual = kpi_report_fast(
                cols, *quarter, grouping=grouping, known_at=known_at, decode_policy=decode_policy
            )
            assert expected == actual


# Refusals -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_log() -> tuple[PortfolioState, Columns]:
    events = demo_events(5, 5, 30)
    return fold_all(events), columns(to_columnar(events), SELECT)


def test_a_period_ending_before_it_starts_is_refused_the_same_way(
    small_log: tuple[PortfolioState, Columns],
) -> None:
    state, cols = small_log
    start_on, end_on = date(2024, 5, 2), date(2024, 5, 1)
    with pytest.raises(InvalidDateError) as expected:
        kpi_report(state, start_on, end_on)
    with pytest.raises(InvalidDateError) as actual:
        kpi_report_fast(cols, start_on, end_on, decode_policy=decode_policy)
    assert str(expected.value) == str(actual.value)
    assert expected.value.details == actual.value.details


@pytest.mark.parametrize(
    ("start_on", "end_on"),
    [(date(1, 1, 1), date(2024, 1, 31)), (date(2024, 1, 1), date(9999, 12, 31))],
)
def test_a_period_outside_the_dates_the_ledger_accepts_is_refused_the_same_way(
    small_log: tuple[PortfolioState, Columns], start_on: date, end_on: date
) -> None:
    state, cols = small_log
    with pytest.raises(InvalidDateError) as expected:
        kpi_report(state, start_on, end_on)
    with pytest.raises(InvalidDateError) as actual:
        kpi_report_fast(cols, start_on, end_on, decode_policy=decode_policy)
    assert str(expected.value) == str(actual.value)
    assert expected.value.details == actual.value.details


def test_an_unknown_grouping_is_refused_the_same_way(
    small_log: tuple[PortfolioState, Columns],
) -> None:
    state, cols = small_log
    with pytest.raises(ConfigurationError) as expected:
        kpi_report(state, date(2024, 1, 1), date(2024, 3, 31), grouping="region")
    with pytest.raises(ConfigurationError) as actual:
        kpi_report_fast(
            cols,
            date(2024, 1, 1),
            date(2024, 3, 31),
            grouping="region",
            decode_policy=decode_policy,
        )
    assert str(expected.value) == str(actual.value)


def test_groupings_given_by_name_give_the_same_report(
    small_log: tuple[PortfolioState, Columns],
) -> None:
    state, cols = small_log
    for grouping in KpiGrouping:
        expected: KpiReport = kpi_report(state, *year_of(date(2024, 1, 1)), grouping=grouping)
        assert expected == kpi_report_fast(
            cols, *year_of(date(2024, 1, 1)), grouping=grouping.value, decode_policy=decode_policy
        )
