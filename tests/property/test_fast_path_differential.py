"""The columnar fast path (projections/fast/portfolio.py) equals the pure folds, field by field.

For every invoice: its ``ageing_report`` row (grouped by invoice) and the escalation's figures
of it; for every customer: ``escalation.evaluate`` and its ``ageing_report`` row (grouped by
customer); for every promise: ``promises.judge``. Compared on Hypothesis-generated collections
histories (the command steps of test_escalation_properties, plus a second policy version with
other thresholds effective mid-period), several as-of dates, a known-at cut and drawn ageing
policies; and on a demo ledger of 10,000 invoices with disputes, promises, ratings and a
policy version added through the Ledger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger, Session
from arledger.adapters.read_models.columnar import ColumnarLog, columns, decode_policy, to_columnar
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.domain.errors import ArledgerError
from arledger.domain.events import DisputeOutcome, DisputeReason, Event, PromiseMade, RiskRating
from arledger.domain.money import Money
from arledger.domain.policy import (
    DISPUTE_HANDLING,
    FILE_CLAIM,
    AgeingBasis,
    AgeingPolicy,
    DelinquencyAdjustment,
    DistressEffect,
    EscalationPolicy,
    NegotiationRule,
    PreDueReminderRule,
)
from arledger.projections import ageing, escalation, portfolio, promises
from arledger.projections.fast.portfolio import (
    NO_DATE,
    SELECT,
    STATUSES,
    customer_values,
    fast_portfolio,
    on_date,
    settlement_split_always,
    values_of,
)
from tests.conftest import FixedClock
from tests.property.test_escalation_properties import (
    INVOICES,
    START,
    WINDOW_DAYS,
    Step,
    histories,
    open_on,
    run,
)
from tests.property.test_escalation_properties import policies as escalation_policies


def assert_fast_path_equals_folds(
    events: Sequence[Event],
    as_of: date,
    *,
    known_at: datetime | None = None,
    ageing_policy: AgeingPolicy | None = None,
    folded: portfolio.PortfolioState | None = None,
    log: ColumnarLog | None = None,
) -> None:
    """``folded`` and ``log``, when given, are ``fold_all(events, known_at=known_at)`` and
    ``to_columnar(events)`` computed once by a caller comparing several dates (both are pure
    functions of the events; no query mutates them)."""
    if log is None:
        log = to_columnar(events)
    ids = [UUID(bytes=raw) for raw in log.ids.column("id").to_pylist()]
    result = fast_portfolio(
        columns(log, select=SELECT),
        as_of,
        decode_policy=decode_policy,
        known_at=known_at,
        ageing_policy=ageing_policy,
        invoice_buckets=True,
    )
    state = portfolio.fold_all(events, known_at=known_at) if folded is None else folded
    invoices = result.invoices
    customers = result.customers

    assert set(state.ageing.invoices) == {ids[i] for i in invoices.invoice_id}
    assert set(state.customers) == {ids[c] for c in customers.customer_id}
    assert state.policy_on(as_of) == result.policy

    # Every invoice: the ageing row grouped by invoice, and the escalation's figures.
    report = ageing.ageing_report(
        state.ageing, as_of, policy=ageing_policy, grouping=ageing.AgeingGrouping.INVOICE
    )
    rows = {row.key: row for row in report.rows}
    evaluations = {
        customer_id: escalation.evaluate(state, customer_id, as_of)
        for customer_id in state.customers
    }
    figures = {
        figure.invoice_number: figure
        for evaluation in evaluations.values()
        for figure in evaluation.invoices
    }
    for index, invoice_id in enumerate(invoices.invoice_id):
        facts = state.ageing.invoices[ids[invoice_id]]
        assert ids[customers.customer_id[invoices.customer[index]]] == facts.customer_id
        number = facts.invoice_number
        row = rows.get(number)
        fast_row = (
            tuple(int(amount) for amount in invoices.buckets_minor[index]),
            int(invoices.open_minor[index]),
            int(invoices.ageing_days_max[index]),
            int(invoices.disputed_minor[index]),
        )
        if row is None:
            assert 0 == fast_row[1]
        else:
            assert (
                row.buckets_minor,
                row.open_minor,
                row.days_past_due_max,
                row.disputed_minor,
            ) == (fast_row)
        figure = figures.get(number)
        fast_figure = (
            int(invoices.open_minor[index]),
            int(invoices.disputed_minor[index]),
            int(invoices.overdue_minor[index]),
            int(invoices.days_past_due[index]),
        )
        if figure is None:
            assert 0 == fast_figure[0]
        else:
            expected = (
                figure.open_minor,
                figure.disputed_minor,
                figure.overdue_minor,
                figure.days_past_due,
            )
            assert expected == fast_figure

    # Every customer: evaluate and the ageing row grouped by customer.
    by_customer = ageing.ageing_report(
        state.ageing, as_of, policy=ageing_policy, grouping=ageing.AgeingGrouping.CUSTOMER
    )
    customer_rows = {row.key: row for row in by_customer.rows}
    assert len(customer_rows) == len(by_customer.rows), "one currency per customer"
    for index, customer_id in enumerate(customers.customer_id):
        history = state.customers[ids[customer_id]]
        row = customer_rows.get(history.customer_code)
        assert history.currency == result.currencies[customers.currency[index]]
        expected_values = values_of(evaluations[history.customer_id], row)
        assert expected_values == customer_values(result, index)

    # Every promise: judge on the whole state, as judge_all and the KPIs do.
    judged = result.promises
    assert set(state.promises) == {ids[p] for p in judged.promise_id}
    for index, promise_id in enumerate(judged.promise_id):
        promise = state.promises[ids[promise_id]]
        judgement = promises.judge(state, promise, as_of)
        if judgement is None:
            assert -1 == judged.status[index]
            continue
        judged_on = None if judged.judged_on[index] == NO_DATE else on_date(judged.judged_on[index])
        assert (
            judgement.status,
            judgement.paid_minor,
            judgement.deadline_on,
            judgement.judged_on,
        ) == (
            STATUSES[judged.status[index]],
            int(judged.paid_minor[index]),
            on_date(judged.deadline_on[index]),
            judged_on,
        )


ageing_policies = st.builds(
    lambda edges, basis: AgeingPolicy(edges_days=tuple(sorted(edges)), basis=basis),
    st.sets(st.integers(1, 150), min_size=1, max_size=5),
    st.sampled_from(AgeingBasis),
)


@given(
    history=histories,
    policy=escalation_policies(),
    effective=st.integers(0, WINDOW_DAYS),
    dates=st.lists(st.integers(0, WINDOW_DAYS + 60), min_size=1, max_size=3),
    cut=st.floats(0, 1),
    ageing_policy=st.none() | ageing_policies,
    split=st.booleans(),
    data=st.data(),
)
def test_the_fast_path_equals_the_folds_on_generated_histories(
    history: list[Step],
    policy: EscalationPolicy,
    effective: int,
    dates: list[int],
    cut: float,
    ageing_policy: AgeingPolicy | None,
    split: bool,
    data: st.DataObject,
) -> None:
    """Every as-of date, on the whole log and on the log as known at a cut in its recording.

    Besides dates drawn over the whole window, dates while a promise may be open (from the
    day it was made to past its deadline), where suspension and deadlines decide. ``split``:
    the settlement pass split between threads, as on ledgers of over 131,072 invoices.
    """
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    events = list(ledger.iter_events())
    stamps = sorted({event.timestamp for event in events})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    made = [event.made_on for event in events if isinstance(event, PromiseMade)]
    on_promises = [made_on + timedelta(days=data.draw(st.integers(0, 45))) for made_on in made[:2]]
    with settlement_split_always() if split else contextlib.nullcontext():
        for as_of in [START + timedelta(days=offset) for offset in dates] + on_promises:
            assert_fast_path_equals_folds(events, as_of, ageing_policy=ageing_policy)
            assert_fast_path_equals_folds(
                events, as_of, known_at=known_at, ageing_policy=ageing_policy
            )


# A bounce after a write-off (issue 9.8): the money it reopens is open, aged from the invoice's
# due dates, and settled by a payment, a credit note, a concession, goods in lieu (proposed,
# approved, then settling the invoice at the value after the policy's haircut) or a further
# write-off.

SETTLEMENTS: Final = (
    "pay", "auto", "credit_note", "concession", "goods", "write_off", "reinstate", None,
)  # fmt: skip


@attrs.frozen
class WrittenOffThenBounced:
    """Pay part of an invoice, write the rest off, bounce the payment (its date drawn before or
    after the write-off's), then settle what reopened. Refused commands are left out."""

    number: str
    percent: int
    paid: int
    written_off_after: int
    bounced_after: int
    settlement: str | None
    settled_after: int
    settled_percent: int

    def __call__(self, session: Session) -> list[Event]:
        events: list[Event] = []

        def attempt(command: Any, **fields: Any) -> None:
            with contextlib.suppress(ArledgerError):
                events.extend(command(**fields))

        invoice = session.require_invoice(self.number)
        customer = session.customer_by_id(invoice.customer_id)
        assert customer is not None
        first = f"WO-{self.number}-1"
        paid = Money(max(1, invoice.open_minor * self.percent // 100), invoice.currency)
        paid_on = START + timedelta(days=self.paid)
        attempt(
            session.receive_payment,
            bank_reference=first,
            payer_code=customer.customer_code,
            amount=paid,
            value_on=paid_on,
        )
        attempt(
            session.allocate_payment,
            bank_reference=first,
            allocations={self.number: paid},
            allocated_on=paid_on,
        )
        written_off_on = paid_on + timedelta(days=self.written_off_after)
        attempt(
            session.write_off,
            invoice_number=self.number,
            written_off_on=written_off_on,
            reason="insolvent",
            approver="cfo",
        )
        attempt(
            session.reverse_payment,
            bank_reference=first,
            reversed_on=paid_on + timedelta(days=self.bounced_after),
            reason="bounced",
        )
        after = session.require_invoice(self.number)
        reopened = after.open_minor
        on = max(written_off_on, after.reduction_floor_on) + timedelta(days=self.settled_after)
        amount = Money(max(1, reopened * self.settled_percent // 100), invoice.currency)
        if self.settlement in ("pay", "auto"):
            second = f"WO-{self.number}-2"
            attempt(
                session.receive_payment,
                bank_reference=second,
                payer_code=customer.customer_code,
                amount=amount,
                value_on=on,
            )
            attempt(
                session.allocate_payment,
                bank_reference=second,
                allocations={self.number: amount} if self.settlement == "pay" else None,
                allocated_on=on,
            )
        elif self.settlement == "credit_note":
            attempt(
                session.apply_credit_note,
                invoice_number=self.number,
                credit_note_number=f"CN-{self.number}",
                amount=amount,
                applied_on=on,
                reason="goodwill",
                approver="cfo",
            )
        elif self.settlement == "concession":
            attempt(
                session.approve_concession,
                invoice_number=self.number,
                amount=amount,
                approved_on=on,
                reason="goodwill",
                approver="cfo",
            )
        elif self.settlement == "goods":
            reference = f"GIL-{self.number}"
            attempt(
                session.propose_goods_in_lieu,
                customer_code=customer.customer_code,
                settlement_reference=reference,
                goods="stock",
                quantity=self.settled_percent,
                unit="piece",
                appraised=amount,
                appraiser="appraiser",
                proposed_on=on,
            )
            attempt(
                session.approve_goods_in_lieu,
                customer_code=customer.customer_code,
                settlement_reference=reference,
                approver="cfo",
                reason="saleable stock",
                approved_on=on,
            )
            settlements = session.require_customer(customer.customer_code).goods_settlements
            if reference in settlements:
                attempt(
                    session.settle_goods_in_lieu,
                    customer_code=customer.customer_code,
                    settlement_reference=reference,
                    allocations={
                        self.number: Money(settlements[reference].valued_minor, invoice.currency)
                    },
                    settled_on=on,
                )
        elif self.settlement in ("write_off", "reinstate"):
            attempt(
                getattr(session, self.settlement),
                invoice_number=self.number,
                reason="review",
                approver="cfo",
                **{"written_off_on" if self.settlement == "write_off" else "reinstated_on": on},
            )
        return events


written_off_cases = st.builds(
    WrittenOffThenBounced,
    st.sampled_from(INVOICES),
    st.integers(1, 99),
    st.integers(0, 60),
    st.integers(0, 40),
    st.integers(0, 80),
    st.sampled_from(SETTLEMENTS),
    st.integers(0, 40),
    st.sampled_from((30, 100, 150)),
)


@given(
    history=histories,
    cases=st.lists(written_off_cases, min_size=1, max_size=3),
    dates=st.lists(st.integers(0, WINDOW_DAYS + 120), min_size=1, max_size=3),
    cut=st.floats(0, 1),
)
def test_the_fast_path_equals_the_folds_when_a_bounce_reopens_a_written_off_invoice(
    history: list[Step],
    cases: list[WrittenOffThenBounced],
    dates: list[int],
    cut: float,
) -> None:
    ledger = run([*history, *cases]).ledger  # type: ignore[list-item]
    events = list(ledger.iter_events())
    stamps = sorted({event.timestamp for event in events})
    known_at = stamps[min(int(cut * len(stamps)), len(stamps) - 1)]
    moved = sorted(
        {
            on
            for event in events
            for on in (getattr(event, "unapplied_on", None), getattr(event, "written_off_on", None))
            if on is not None
        }
    )
    for as_of in [START + timedelta(days=offset) for offset in dates] + moved:
        assert_fast_path_equals_folds(events, as_of)
        assert_fast_path_equals_folds(events, as_of, known_at=known_at)


def test_the_fast_path_equals_the_folds_on_each_way_of_settling_reopened_money() -> None:
    for settlement in SETTLEMENTS:
        case = WrittenOffThenBounced("I-1", 40, 40, 20, 30, settlement, 5, 100)
        history = [Step("issue", ("I-1", 0, 10_000, 0, 30)), case]
        events = list(run(history).ledger.iter_events())  # type: ignore[list-item]
        kinds = [type(event).__name__ for event in events]
        after_bounce = kinds[kinds.index("PaymentUnapplied") + 1 :]
        assert "InvoiceWrittenOff" in kinds[: kinds.index("PaymentUnapplied")]
        settled_by = {
            "pay": "PaymentApplied",
            "auto": "PaymentApplied",
            "credit_note": "CreditNoteApplied",
            "concession": "ConcessionApproved",
            "goods": "GoodsInLieuApplied",
            "write_off": "InvoiceWrittenOff",
            "reinstate": "InvoiceReinstated",
        }
        if settlement is not None:
            assert settled_by[settlement] in after_bounce, settlement
        for offset in range(0, 140, 7):
            assert_fast_path_equals_folds(events, START + timedelta(days=offset))


# Invoices falling due while a promise is open: where suspension caps the level.
suspension_histories = st.tuples(
    st.lists(
        st.builds(
            lambda number, *a: Step("issue", (number, *a)),
            st.sampled_from(INVOICES),
            st.just(0),
            st.integers(1, 15_000_000),
            st.integers(0, 30),
            st.integers(0, 40),
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(
        st.builds(
            lambda *a: Step("promise", (0, *a)),
            st.sampled_from(("P-1", "P-2")),
            st.integers(10_000_000, 40_000_000),
            st.integers(20, 80),
            st.integers(10, 40),
            st.booleans(),
        ),
        min_size=1,
        max_size=2,
    ),
    st.lists(
        st.builds(
            lambda *a: Step("pay", a),
            st.sampled_from(("BANK-1", "BANK-2")),
            st.sampled_from(INVOICES),
            st.integers(1, 15_000_000),
            st.integers(20, 120),
            st.none() | st.integers(0, 30),
        ),
        max_size=2,
    ),
).map(lambda parts: parts[0] + parts[1] + parts[2])


@given(
    history=suspension_histories,
    policy=escalation_policies(),
    effective=st.integers(0, WINDOW_DAYS),
    offsets=st.lists(st.integers(0, 50), min_size=1, max_size=3),
)
def test_the_fast_path_equals_the_folds_while_promises_are_open(
    history: list[Step], policy: EscalationPolicy, effective: int, offsets: list[int]
) -> None:
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    events = list(ledger.iter_events())
    made = min((e.made_on for e in events if isinstance(e, PromiseMade)), default=START)
    for offset in offsets:
        assert_fast_path_equals_folds(events, made + timedelta(days=offset))


# A demo ledger of 10,000 invoices with collections facts added -------------------------------

DEMO_INVOICES: Final = 10_000
DEMO_CUSTOMERS: Final = 200


@attrs.frozen
class PromiseTerms:
    reference: str
    customer_code: str
    amount: Money
    made_on: date
    promised_on: date
    named: tuple[str, ...]

    def make(self, session: Session) -> list[Event]:
        """The promise, at most what its invoices (or the account) had open when it was made;
        nothing when nothing was open (a promise of more is refused)."""
        open_minor = open_on(session, self.customer_code, list(self.named), self.made_on)
        if open_minor == 0:
            return []
        return session.make_promise(
            customer_code=self.customer_code,
            promise_reference=self.reference,
            amount=Money(min(self.amount.amount_minor, open_minor), self.amount.currency),
            promised_on=self.promised_on,
            made_on=self.made_on,
            contact="AP",
            invoice_numbers=self.named,
        )


STRICTER = EscalationPolicy(
    version=2,
    long_after_days=45,
    large_above_major=20_000,
    disputed_counts=True,
    promise_tolerance_days=7,
    partly_kept_counts_as_broken=False,
    pre_due_reminders=(
        PreDueReminderRule(days_before_due=5, rating_at_or_worse=3),
        PreDueReminderRule(days_before_due=10, amount_at_least_major=50_000),
    ),
    negotiation=NegotiationRule(from_level=4, within_days=120),
    diagnose_from_level=3,
    delinquency_actions={"deliberate_delay": ("demand_letter",), "poor_business": ("visit",)},
    delinquency_adjustments={
        "deliberate_delay": DelinquencyAdjustment(level_offset=1),
        "cash_flow_squeeze": DelinquencyAdjustment(level_max=2, routes_to=DISPUTE_HANDLING),
    },
    bankruptcy_filed=DistressEffect(level_at_least=3, required_actions=(FILE_CLAIM,)),
)
"""A second policy version with other thresholds: grades, broken promises and overdue money
change from the day it takes effect; invoices of C- and D-rated customers and large ones want
reminders before due, the legal level waits for a negotiation, undiagnosed customers from level
3 are to be diagnosed and two diagnosed types have their countermeasures first; deliberate
delay escalates one level faster, a cash-flow squeeze is paused at level 2 and routed to
dispute handling (a stand-in the generated ledgers diagnose), a bankruptcy filed puts the
customer at level 3 at least, fraud suspected at the top (the default)."""


def demo_with_collections(seed: int) -> list[Event]:
    """The demo ledger plus disputes, promises (named and not), withdrawals, ratings, a blacklist
    and a stricter policy version effective mid-year, added through the Ledger."""
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    demo = generate_demo(seed, customers=DEMO_CUSTOMERS, invoices=DEMO_INVOICES)
    record_demo(ledger, demo)
    ledger.run(
        lambda s: s.adopt_policy(
            policy=STRICTER, effective_on=date(2024, 7, 1), approver="CFO", reason="review"
        )
    )
    ratings = tuple(RiskRating)
    for number, invoice in enumerate(demo.invoices):
        if number % 37 == 0:
            reference = f"DSP-{number}"
            opened_on = invoice.due_on + timedelta(days=number % 20)

            def open_dispute(s, invoice=invoice, reference=reference, opened_on=opened_on):  # type: ignore[no-untyped-def]
                state = s.require_invoice(invoice.invoice_number)
                amount = max(1, state.open_minor // 2)
                return s.open_dispute(
                    invoice_number=invoice.invoice_number,
                    dispute_reference=reference,
                    amount=Money(amount, invoice.amount.currency),
                    reason_code=DisputeReason.QUALITY,
                    root_cause="damaged",
                    opened_on=opened_on,
                )

            try:
                ledger.run(open_dispute)
                if number % 2 == 0:
                    ledger.run(
                        lambda s, invoice=invoice, reference=reference, opened_on=opened_on: (
                            s.resolve_dispute(
                                invoice_number=invoice.invoice_number,
                                dispute_reference=reference,
                                outcome=DisputeOutcome.REJECTED,
                                resolved_on=opened_on + timedelta(days=40),
                                note="no fault",
                                approver="cfo",
                            )
                        )
                    )
            except ArledgerError:
                pass
        if number % 53 == 0:
            made_on = invoice.due_on + timedelta(days=number % 30)
            reference = f"PRM-{number}"
            promise = PromiseTerms(
                reference=reference,
                customer_code=invoice.customer_code,
                amount=Money(invoice.amount.amount_minor // 3 + 1, invoice.amount.currency),
                made_on=made_on,
                promised_on=made_on + timedelta(days=number % 25),
                named=(invoice.invoice_number,) if number % 2 else (),
            )
            made = ledger.run(promise.make)
            if made and number % 5 == 0:
                ledger.run(
                    lambda s, reference=reference, made_on=made_on: s.withdraw_promise(
                        promise_reference=reference,
                        withdrawn_on=made_on + timedelta(days=3),
                        reason="renegotiated",
                    )
                )
    for number, customer in enumerate(demo.customers):
        if number % 9 == 0:
            ledger.run(
                lambda s, customer=customer, number=number: s.rate_risk(
                    customer_code=customer.customer_code,
                    rating=ratings[number % 4],
                    rated_on=date(2024, 1 + number % 12, 15),
                    reason="review",
                )
            )
    ledger.run(
        lambda s: s.blacklist(
            customer_code=demo.customers[3].customer_code,
            blacklisted_on=date(2024, 9, 1),
            reason="fraud",
        )
    )
    return list(ledger.iter_events())


@pytest.mark.slow
def test_the_fast_path_equals_the_folds_on_a_demo_ledger_of_10000_invoices() -> None:
    events = demo_with_collections(20240101)
    assert DEMO_INVOICES == sum(1 for event in events if type(event).__name__ == "InvoiceIssued")
    assert any(isinstance(event, PromiseMade) for event in events)
    stamps = sorted({event.timestamp for event in events})
    known_at = stamps[len(stamps) * 2 // 3]
    for as_of in (date(2024, 3, 31), date(2024, 7, 15), date(2024, 12, 31)):
        assert_fast_path_equals_folds(events, as_of)
    assert_fast_path_equals_folds(
        events,
        date(2024, 10, 31),
        known_at=known_at,
        ageing_policy=AgeingPolicy(edges_days=(15, 45)),
    )
