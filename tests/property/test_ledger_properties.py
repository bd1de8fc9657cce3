"""Properties of the Ledger over random command sequences, valid and refused alike.

Each sequence runs through an in-memory ``Ledger``. A refused command must record nothing; an
accepted one records exactly the events it returned. Afterwards money must be conserved on both
sides of every allocation, the stored log must fold back to the very states the sessions held,
and the ageing table must age exactly what is open on each as-of date.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any, TypeAlias
from uuid import UUID

import attrs
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger, Session
from arledger.adapters.application.unit_of_work import AggregateKind
from arledger.domain import approval as approval_module
from arledger.domain import collection_case as case_module
from arledger.domain import credit_note as credit_note_module
from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import promise as promise_module
from arledger.domain.approval import AuthorityBook, ReductionRequest
from arledger.domain.collection_case import CollectionCase
from arledger.domain.credit_note import CreditNote
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import ArledgerError
from arledger.domain.events import (
    AUTHORITY_EVENTS,
    CASE_EVENTS,
    CREDIT_NOTE_EVENTS,
    CUSTOMER_EVENTS,
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    PROMISE_EVENTS,
    REDUCTION_REQUEST_EVENTS,
    AllocationRule,
    ConcessionApproved,
    CreditNoteApplied,
    Event,
    GoodsInLieuApplied,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    PaymentAllocated,
    PaymentApplied,
    PaymentUnapplied,
)
from arledger.domain.goods_in_lieu import GoodsSettlementStatus, valued_minor
from arledger.domain.invoice import Invoice
from arledger.domain.payment import Payment
from arledger.domain.promise import Promise
from arledger.projections import ageing
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock
from tests.strategies import (
    BANK_REFERENCES,
    CUSTOMER_CODES,
    DATE_MAX,
    WINDOW_DAYS,
    WINDOW_START,
    Command,
    command_sequences,
    window_dates,
)

State: TypeAlias = (
    CustomerAccount
    | Invoice
    | Payment
    | CreditNote
    | Promise
    | CollectionCase
    | AuthorityBook
    | ReductionRequest
)


@attrs.define
class Run:
    """A ledger after a command sequence, and what the sessions saw along the way."""

    ledger: Ledger
    live: dict[UUID, State]
    accepted: list[Command]
    refused: list[tuple[Command, ArledgerError]]


def _session_states(session: Session) -> dict[UUID, State]:
    states: dict[UUID, State] = {}
    for kind in (
        AggregateKind.CUSTOMER,
        AggregateKind.INVOICE,
        AggregateKind.PAYMENT,
        AggregateKind.CREDIT_NOTE,
        AggregateKind.PROMISE,
        AggregateKind.CASE,
        AggregateKind.AUTHORITY_BOOK,
        AggregateKind.REDUCTION_REQUEST,
    ):
        states.update(session.states(kind))
    return states


def _event_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def _auto_allocation_expectation(
    ledger: Ledger, command: Command
) -> tuple[int, list[Invoice], AllocationRule]:
    """What automatic allocation must allocate under the payer's rule in force on the value
    date, worked out here without the domain's planners."""
    session = ledger.session()
    payment = session.payment(command.fields["bank_reference"])
    if payment is None:
        return 0, [], AllocationRule.OLDEST_DUE_FIRST
    payer = session.customer_by_id(payment.payer_customer_id)
    assert payer is not None
    rule = AllocationRule.OLDEST_DUE_FIRST
    for effective_on, adopted in payer.allocation_rules:
        if effective_on <= payment.value_on:
            rule = adopted
    eligible = []
    for invoice_id in payer.invoice_ids:
        invoice = session.invoice_by_id(invoice_id)
        assert invoice is not None
        # Open money of a written-off invoice is what a later bounce reopened: it qualifies.
        if invoice.currency == payment.currency and invoice.open_minor > 0:
            eligible.append(invoice)
    if rule is AllocationRule.OLDEST_ISSUED_FIRST:
        eligible.sort(key=lambda i: (i.issued_on, i.due_on, i.invoice_number))
    else:
        eligible.sort(key=lambda i: (i.due_on, i.issued_on, i.invoice_number))
    return min(payment.unapplied_minor, sum(i.open_minor for i in eligible)), eligible, rule


def _check_auto_allocation(
    expected_total: int, eligible: list[Invoice], rule: AllocationRule, recorded: list[Event]
) -> None:
    assert rule is not AllocationRule.EXPLICIT_ONLY, "explicit only allocates nothing by itself"
    applied = {e.originator_id: e.amount_minor for e in recorded if isinstance(e, PaymentApplied)}
    assert expected_total == sum(applied.values())
    assert all(
        amount <= invoice.open_minor
        for invoice in eligible
        for amount in [applied.get(invoice.id, 0)]
    )
    assert set(applied) <= {invoice.id for invoice in eligible}
    if rule is AllocationRule.PROPORTIONAL:
        # Each share is within one minor unit of its exact proportional value.
        total = sum(invoice.open_minor for invoice in eligible)
        for invoice in eligible:
            share = applied.get(invoice.id, 0)
            assert abs(share * total - expected_total * invoice.open_minor) < total
        return
    if rule is AllocationRule.COMPONENT_ORDER:
        # BGB 366/367: every eligible invoice's open fees before any interest, and all interest
        # before any principal; an invoice's amount settles its own fees, interest, principal.
        tiers = [0, 0, 0]
        for invoice in eligible:
            left = applied.get(invoice.id, 0)
            for tier, part in enumerate(invoice.open_by_component):
                taken = min(left, part)
                tiers[tier] += taken
                left -= taken
        for tier in (1, 2):
            if tiers[tier]:
                assert all(
                    applied.get(invoice.id, 0) >= sum(invoice.open_by_component[:tier])
                    for invoice in eligible
                ), "a later component was paid before an earlier one was settled"
        return
    # In the rule's order: once an invoice is left partly open, no later one gets anything.
    left_open = False
    for invoice in eligible:
        amount = applied.get(invoice.id, 0)
        if left_open:
            assert 0 == amount
        if amount < invoice.open_minor:
            left_open = True


def run_commands(commands: list[Command]) -> Run:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    run = Run(ledger=ledger, live={}, accepted=[], refused=[])
    for command in commands:
        before = _event_count(ledger)
        auto = command.name == "allocate_payment" and command.fields["allocations"] is None
        if auto:
            expected_total, eligible, rule = _auto_allocation_expectation(ledger, command)

        def work(session: Session, command: Command = command) -> tuple[list[Event], Any]:
            return command(session), _session_states(session)

        try:
            recorded, states = ledger.run(work)
        except ArledgerError as error:
            assert before == _event_count(ledger), f"refused {command!r} recorded events"
            run.refused.append((command, error))
            continue
        if before == _event_count(ledger) and recorded:
            # An allocation retried with its key records nothing and returns what the first
            # one recorded.
            assert command.name == "allocate_payment"
            assert command.fields.get("allocation_key")
            log = list(ledger.iter_events())
            assert all(event in log for event in recorded)
        else:
            assert before + len(recorded) == _event_count(ledger)
            if auto:
                _check_auto_allocation(expected_total, eligible, rule, recorded)
        run.live.update(states)
        run.accepted.append(command)
    return run


def replay(events: list[Event]) -> dict[UUID, State]:
    """Fold a log from scratch with the domain folds, one aggregate per originator id."""
    by_originator: dict[UUID, list[Event]] = defaultdict(list)
    for event in events:
        by_originator[event.originator_id].append(event)
    states: dict[UUID, State] = {}
    for originator_id, stream in by_originator.items():
        kind = type(stream[0])
        fold: Any
        if kind in CUSTOMER_EVENTS:
            fold = customer_module.fold
        elif kind in INVOICE_EVENTS:
            fold = invoice_module.fold
        elif kind in CREDIT_NOTE_EVENTS:
            fold = credit_note_module.fold
        elif kind in PROMISE_EVENTS:
            fold = promise_module.fold
        elif kind in CASE_EVENTS:
            fold = case_module.fold
        elif kind in AUTHORITY_EVENTS:
            fold = approval_module.fold_book
        elif kind in REDUCTION_REQUEST_EVENTS:
            fold = approval_module.fold_request
        else:
            assert kind in PAYMENT_EVENTS
            fold = payment_module.fold
        state = fold(stream)
        assert state is not None
        states[originator_id] = state
    return states


def _of(states: dict[UUID, State], kind: type[Any]) -> list[Any]:
    return [state for state in states.values() if isinstance(state, kind)]


# Each dated movement on an invoice: the event type, its business-date field, and +1 when it
# reduces what is open or -1 when it reopens.
MOVEMENTS: dict[type[Event], tuple[str, int]] = {
    PaymentApplied: ("applied_on", 1),
    PaymentUnapplied: ("unapplied_on", -1),
    CreditNoteApplied: ("applied_on", 1),
    ConcessionApproved: ("approved_on", 1),
    GoodsInLieuApplied: ("applied_on", 1),
    InvoiceWrittenOff: ("written_off_on", 1),
    InvoiceReinstated: ("reinstated_on", -1),
}


def open_minor_on(events: list[Event], as_of: date) -> dict[str, int]:
    """Each invoice's open amount at the end of ``as_of``, worked out from the dated events."""
    issued: dict[UUID, InvoiceIssued] = {}
    settled: dict[UUID, int] = defaultdict(int)
    for event in events:
        if isinstance(event, InvoiceIssued):
            issued[event.originator_id] = event
        elif type(event) in MOVEMENTS:
            field, sign = MOVEMENTS[type(event)]
            if getattr(event, field) <= as_of:
                settled[event.originator_id] += sign * event.amount_minor  # type: ignore[attr-defined]
    return {
        invoice.invoice_number: (
            0 if invoice.issued_on > as_of else invoice.amount_minor - settled[invoice_id]
        )
        for invoice_id, invoice in issued.items()
    }


sequences = command_sequences()
as_of_lists = st.lists(window_dates, min_size=1, max_size=3)


@given(commands=sequences)
def test_refused_commands_record_nothing_and_accepted_ones_record_what_they_return(
    commands: list[Command],
) -> None:
    run = run_commands(commands)
    assert len(commands) == len(run.accepted) + len(run.refused)
    assert all(isinstance(error, ValueError | LookupError) for _c, error in run.refused)


@given(commands=sequences)
def test_an_accepted_allocation_retried_with_its_key_records_nothing_and_returns_the_first(
    commands: list[Command],
) -> None:
    # Every allocation gets a key of its own; then each accepted one is sent again.
    keyed = [
        Command(c.name, {**c.fields, "allocation_key": f"R-{n}"})
        if c.name == "allocate_payment"
        else c
        for n, c in enumerate(commands)
    ]
    run = run_commands(keyed)
    for command in run.accepted:
        if command.name != "allocate_payment":
            continue
        before = _event_count(run.ledger)
        again = run.ledger.run(command)
        assert before == _event_count(run.ledger)
        reference, key = command.fields["bank_reference"], command.fields["allocation_key"]
        first = [
            event
            for event in run.ledger.iter_events()
            if isinstance(event, PaymentAllocated)
            and event.allocation_key == key
            and event.originator_id == ids.payment_id(reference)
        ]
        assert first == [event for event in again if isinstance(event, PaymentAllocated)]
        assert len(again) == 2 * len(first)


@given(commands=sequences)
def test_money_received_is_allocated_or_kept_unapplied_per_currency(
    commands: list[Command],
) -> None:
    assert_money_conserved(run_commands(commands))


def assert_money_conserved(run: Run) -> None:
    states = replay(list(run.ledger.iter_events()))
    payments: list[Payment] = _of(states, Payment)
    invoices = {invoice.id: invoice for invoice in _of(states, Invoice)}
    received: dict[str, int] = defaultdict(int)
    kept: dict[str, int] = defaultdict(int)
    allocated: dict[str, int] = defaultdict(int)
    applied: dict[str, int] = defaultdict(int)
    for payment in payments:
        assert 0 <= payment.unapplied_minor
        assert payment.allocated_minor <= payment.amount_minor
        if payment.is_reversed:
            assert {} == payment.allocations
            continue
        received[payment.currency] += payment.amount_minor
        kept[payment.currency] += payment.unapplied_minor
        allocated[payment.currency] += payment.allocated_minor
        for invoice_id, amount_minor in payment.allocations.items():
            # Both sides of every allocation agree.
            assert amount_minor == invoices[invoice_id].applied_by_payment[payment.id]
    for invoice in invoices.values():
        applied[invoice.currency] += invoice.applied_minor
    for currency, amount_minor in received.items():
        assert amount_minor == allocated[currency] + kept[currency]
    assert {c: a for c, a in allocated.items() if a} == {c: a for c, a in applied.items() if a}


@given(commands=sequences)
def test_money_is_conserved_with_settlements_in_goods(commands: list[Command]) -> None:
    """Each settlement in goods settles exactly its approved value (the appraisal less the
    policy's haircut), once, on its own customer's invoices, in the account's currency; the
    invoices hold exactly what the settlements gave them."""
    events = list(run_commands(commands).ledger.iter_events())
    states = replay(events)
    invoices = {invoice.id: invoice for invoice in _of(states, Invoice)}
    applied: dict[tuple[UUID, str], int] = defaultdict(int)
    for event in events:
        if isinstance(event, GoodsInLieuApplied):
            customer_id = invoices[event.originator_id].customer_id
            applied[(customer_id, event.settlement_reference)] += event.amount_minor
    settled: dict[tuple[UUID, str], int] = {}
    for account in _of(states, CustomerAccount):
        for reference, settlement in account.goods_settlements.items():
            assert settlement.currency == account.currency
            assert settlement.valued_minor == valued_minor(
                settlement.appraised_minor, settlement.haircut_bps
            )
            assert settlement.valued_minor <= settlement.appraised_minor
            if settlement.status is GoodsSettlementStatus.SETTLED:
                settled[(account.id, reference)] = settlement.valued_minor
    # Every settled settlement's approved value reached its invoices, and nothing else did.
    assert settled == dict(applied)
    for invoice in invoices.values():
        assert 0 <= invoice.settled_in_goods_minor
        assert 0 <= invoice.open_minor


@given(commands=sequences)
def test_every_invoice_reconciles_with_its_events_and_is_never_over_settled(
    commands: list[Command],
) -> None:
    run = run_commands(commands)
    events = list(run.ledger.iter_events())
    states = replay(events)
    payments = {payment.id: payment for payment in _of(states, Payment)}
    totals: dict[UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in events:
        totals_of = totals[event.originator_id]
        if isinstance(event, PaymentApplied):
            totals_of["applied"] += event.amount_minor
        elif isinstance(event, PaymentUnapplied):
            totals_of["applied"] -= event.amount_minor
        elif isinstance(event, CreditNoteApplied):
            totals_of["credited"] += event.amount_minor
        elif isinstance(event, ConcessionApproved):
            totals_of["conceded"] += event.amount_minor
        elif isinstance(event, GoodsInLieuApplied):
            totals_of["in_goods"] += event.amount_minor
        elif isinstance(event, InvoiceWrittenOff):
            totals_of["written_off"] += event.amount_minor
        elif isinstance(event, InvoiceReinstated):
            totals_of["written_off"] -= event.amount_minor
    for invoice in _of(states, Invoice):
        seen = totals[invoice.id]
        assert seen["applied"] == invoice.applied_minor
        assert seen["credited"] == invoice.credited_minor
        assert seen["conceded"] == invoice.conceded_minor
        assert seen["in_goods"] == invoice.settled_in_goods_minor
        assert seen["written_off"] == invoice.written_off_minor
        assert invoice.amount_minor == (
            invoice.open_minor
            + seen["applied"]
            + seen["credited"]
            + seen["conceded"]
            + seen["in_goods"]
            + seen["written_off"]
        )
        assert 0 <= invoice.open_minor <= invoice.amount_minor
        for payment_id, amount_minor in invoice.applied_by_payment.items():
            assert 0 < amount_minor
            assert not payments[payment_id].is_reversed
            assert amount_minor == payments[payment_id].allocations[invoice.id]


@given(commands=sequences)
def test_replaying_the_stored_log_gives_the_states_the_sessions_held(
    commands: list[Command],
) -> None:
    assert_replay_equals_live(run_commands(commands))


def assert_replay_equals_live(run: Run) -> None:
    events = list(run.ledger.iter_events())
    assert run.live == replay(events)
    assert replay(events) == replay(events)
    for state in run.live.values():
        if isinstance(state, Invoice):
            assert state == run.ledger.invoice(state.invoice_number)
        elif isinstance(state, Payment):
            assert state == run.ledger.payment(state.bank_reference)
        elif isinstance(state, CreditNote):
            assert state == run.ledger.session().credit_note(state.credit_note_number)
        elif isinstance(state, Promise):
            assert state == run.ledger.session().promise(state.promise_reference)
        elif isinstance(state, CollectionCase):
            session = run.ledger.session()
            customer = session.customer_by_id(state.customer_id)
            assert customer is not None
            assert state == session.case(customer.customer_code)
        elif isinstance(state, AuthorityBook):
            assert state == run.ledger.session().authority_book()
        elif isinstance(state, ReductionRequest):
            assert state == run.ledger.session().reduction_request(state.request_reference)
        else:
            assert state == run.ledger.customer(state.customer_code)


@given(commands=sequences, as_of_dates=as_of_lists)
def test_ageing_replays_identically_and_ages_exactly_what_is_open(
    commands: list[Command], as_of_dates: list[date]
) -> None:
    run = run_commands(commands)
    events = list(run.ledger.iter_events())
    invoices: list[Invoice] = _of(replay(events), Invoice)
    boundaries = {WINDOW_START - timedelta(days=1), WINDOW_START + timedelta(days=WINDOW_DAYS)}
    for invoice in invoices:
        boundaries |= {invoice.due_on, invoice.due_on + timedelta(days=1)}
    for as_of in [*as_of_dates, *sorted(boundaries), DATE_MAX]:
        report = run.ledger.ageing(as_of, grouping=AgeingGrouping.INVOICE)
        assert report == ageing.ageing_report(
            ageing.fold_all(events), as_of, grouping=AgeingGrouping.INVOICE
        )
        open_on = open_minor_on(events, as_of)
        expected = {number: amount for number, amount in open_on.items() if amount}
        assert expected == {row.key: row.open_minor for row in report.rows}
        for row in report.rows:
            assert row.open_minor == sum(row.buckets_minor)
            assert 0 <= min(row.buckets_minor)
        portfolio = run.ledger.ageing(as_of)
        by_currency: dict[str, int] = defaultdict(int)
        for row in report.rows:
            by_currency[row.currency] += row.open_minor
        assert dict(by_currency) == {
            currency: sum(buckets) for currency, buckets in portfolio.totals_by_currency().items()
        }
    # Long after every movement, the table holds each invoice's current open amount.
    final = run.ledger.ageing(DATE_MAX, grouping=AgeingGrouping.INVOICE)
    assert {i.invoice_number: i.open_minor for i in invoices if i.open_minor} == {
        row.key: row.open_minor for row in final.rows
    }


@given(
    rules=st.lists(st.sampled_from(AllocationRule), min_size=2, max_size=2),
    # Mostly from the start of the window, so that most payments fall under the rule.
    effective_days=st.lists(st.just(0) | st.integers(0, WINDOW_DAYS), min_size=2, max_size=2),
    commands=sequences,
)
def test_under_every_allocation_rule_money_is_conserved_and_replay_equals_live(
    rules: list[AllocationRule], effective_days: list[int], commands: list[Command]
) -> None:
    """Each account adopts a rule from a day in the window, right after the openings: the
    automatic allocations before it follow the default, those after it the rule (checked in
    ``run_commands``), and the log replays to the live states with money conserved."""
    adoptions = [
        Command(
            "adopt_allocation_rule",
            {
                "customer_code": code,
                "rule": rule,
                "effective_on": WINDOW_START + timedelta(days=days),
                "approver": "cfo",
                "reason": "house rule",
            },
        )
        for code, rule, days in zip(CUSTOMER_CODES, rules, effective_days, strict=True)
    ]
    # Every payment is then allocated automatically once more: what is still unapplied meets
    # the rule in force on its value date.
    automatic = [
        Command("allocate_payment", {"bank_reference": reference, "allocations": None})
        for reference in BANK_REFERENCES
    ]
    opens = len(CUSTOMER_CODES)
    run = run_commands([*commands[:opens], *adoptions, *commands[opens:], *automatic])
    assert_money_conserved(run)
    assert_replay_equals_live(run)
