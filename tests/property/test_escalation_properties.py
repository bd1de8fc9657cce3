"""Properties of the escalation status (projections/escalation/) over random collections
histories: invoices, payments and bounces, disputes, promises, ratings, blacklisting, actions
(with next steps), diagnoses, overrides of negotiation before legal and policy versions, run
through an in-memory ``Ledger`` (refused commands are skipped).

- The status replayed from the stored log equals the live one, folded from the events as the
  commands returned them, and the one the Ledger answers.
- Adopting a policy version effective on E changes no evaluation or status dated before E;
  from E on, the new version decides.
- The history is consistent with day-by-day evaluation, the worklist agrees with the status,
  and the next threshold is the first day the level rises if nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import attrs
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger, Session
from arledger.domain.errors import ArledgerError
from arledger.domain.events import (
    ActionChannel,
    AllocationRule,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    PromiseTranche,
    ReceiptMethod,
    ReconciliationResolution,
    RiskRating,
)
from arledger.domain.money import Money
from arledger.domain.policy import (
    DISPUTE_HANDLING,
    RATING_VALUES,
    DelinquencyAdjustment,
    EscalationPolicy,
    NegotiationRule,
    PreDueReminderRule,
)
from arledger.projections import escalation
from arledger.projections import portfolio as portfolio_module
from arledger.projections import promises as promises_module
from arledger.projections.escalation.evaluate import _NO_PROMISE, _Evaluator
from arledger.projections.promises import PromiseStatus
from tests.conftest import FixedClock
from tests.strategies import ladders

START: Final = date(2025, 1, 1)
WINDOW_DAYS: Final = 150
CUSTOMERS: Final = (("ACME", "USD", "li"), ("BETA", "CNY", "wang"), ("GAMMA", "JPY", "li"))
"""Three currencies, one without minor units: amount thresholds in major units scale per
currency."""
CURRENCIES: Final = tuple(sorted({currency for _, currency, _ in CUSTOMERS}))
INVOICES: Final = ("I-1", "I-2", "I-3")

day_offsets = st.integers(0, WINDOW_DAYS)
amounts_minor = st.integers(1, 15_000_000)
invoice_numbers = st.sampled_from(INVOICES)
customer_indexes = st.integers(0, len(CUSTOMERS) - 1)


def _on(offset: int) -> date:
    return START + timedelta(days=offset)


Op = Callable[[Session], list[Event]]


@attrs.frozen
class Step:
    """One command for a session, shown by name and arguments when a property fails."""

    name: str
    args: tuple[Any, ...]

    def __call__(self, session: Session) -> list[Event]:
        result: list[Event] = OPS[self.name](session, *self.args)
        return result


def _issue(
    session: Session,
    number: str,
    customer: int,
    amount: int,
    issued: int,
    days: int,
    fees_percent: int = 0,
) -> list[Event]:
    """``fees_percent`` of the amount is fees, as much again interest (the component-order
    allocation rule settles them first)."""
    code, currency, _ = CUSTOMERS[customer]
    part = Money(amount * fees_percent // 100, currency)
    return session.issue_invoice(
        invoice_number=number,
        customer_code=code,
        amount=Money(amount, currency),
        issued_on=_on(issued),
        due_on=_on(issued + days),
        interest=part,
        fees=part,
    )


def _pay(
    session: Session, reference: str, number: str, amount: int, on: int, bounce: int | None
) -> list[Event]:
    invoice = session.require_invoice(number)
    customer = session.customer_by_id(invoice.customer_id)
    assert customer is not None
    money = Money(min(amount, max(1, invoice.open_minor)), invoice.currency)
    events = session.receive_payment(
        bank_reference=reference, payer_code=customer.customer_code, amount=money, value_on=_on(on)
    )
    events += session.allocate_payment(
        bank_reference=reference, allocations={number: money}, allocated_on=_on(on)
    )
    if bounce is not None:
        events += _bounce(session, reference, on + bounce)
    return events


def _cash(
    session: Session, reference: str, number: str, amount: int, on: int, held: int | None
) -> list[Event]:
    """Cash collected in person; handed to finance ``held`` days later and allocated then (it
    settles only from its handover), or (None) still held."""
    invoice = session.require_invoice(number)
    customer = session.customer_by_id(invoice.customer_id)
    assert customer is not None
    money = Money(min(amount, max(1, invoice.open_minor)), invoice.currency)
    events = session.receive_payment(
        bank_reference=reference,
        payer_code=customer.customer_code,
        amount=money,
        value_on=_on(on),
        method=ReceiptMethod.CASH,
        received_by="zhang",
    )
    if held is not None:
        events += session.hand_over_cash(
            bank_reference=reference, handed_on=_on(on + held), received_by_finance="cashier"
        )
        events += session.allocate_payment(
            bank_reference=reference, allocations={number: money}, allocated_on=_on(on + held)
        )
    return events


def _bounce(session: Session, reference: str, on: int) -> list[Event]:
    return session.reverse_payment(bank_reference=reference, reversed_on=_on(on), reason="bounced")


def _dispute(session: Session, number: str, reference: str, amount: int, on: int) -> list[Event]:
    invoice = session.require_invoice(number)
    return session.open_dispute(
        invoice_number=number,
        dispute_reference=reference,
        amount=Money(min(amount, max(1, invoice.open_minor)), invoice.currency),
        reason_code=DisputeReason.QUALITY,
        root_cause="damaged",
        opened_on=_on(on),
    )


def _resolve(
    session: Session,
    number: str,
    reference: str,
    on: int,
    outcome: DisputeOutcome = DisputeOutcome.REJECTED,
) -> list[Event]:
    return session.resolve_dispute(
        invoice_number=number,
        dispute_reference=reference,
        outcome=outcome,
        resolved_on=_on(on),
        note="inspected",
        approver="cfo",
    )


def _promise(
    session: Session,
    customer: int,
    reference: str,
    amount: int,
    made: int,
    days: int,
    named: bool,
    supersedes: str | None = None,
    tranches: int = 1,
) -> list[Event]:
    """A promise of ``amount`` by ``days`` after it was made, in up to ``tranches`` dated
    parts spread over those days (largest first)."""
    code, currency, _ = CUSTOMERS[customer]
    account = session.require_customer(code)
    numbers = []
    if named:
        for invoice_id in account.invoice_ids:
            invoice = session.invoice_by_id(invoice_id)
            assert invoice is not None
            numbers.append(invoice.invoice_number)
    amount = min(amount, max(1, open_on(session, code, numbers[:1], _on(made))))
    return session.make_promise(
        customer_code=code,
        promise_reference=reference,
        amount=Money(amount, currency),
        promised_on=_on(made + days),
        made_on=_on(made),
        contact="AP",
        invoice_numbers=numbers[:1],
        supersedes=supersedes,
        tranches=tranche_schedule(amount, made, days, tranches),
    )


def tranche_schedule(
    amount: int, made: int, days: int, tranches: int
) -> tuple[PromiseTranche, ...]:
    """``amount`` in up to ``tranches`` dated parts spread over the ``days`` after ``made``
    (largest first); none (a promise of one date) when it is one part."""
    parts = max(1, min(tranches, days, amount))
    if parts == 1:
        return ()
    dates = [_on(made + days * k // parts) for k in range(1, parts + 1)]
    amounts = [amount // parts + (1 if k < amount % parts else 0) for k in range(parts)]
    return tuple(
        PromiseTranche(promised_on=on, amount_minor=part)
        for on, part in zip(dates, amounts, strict=True)
    )


def _target(
    session: Session, customer: int, on: int, amount: int, months_ahead: int
) -> list[Event]:
    """The owner sets the customer's collection target for the month ``months_ahead`` after
    the one of ``on`` (0: takes it back)."""
    code, currency, owner = CUSTOMERS[customer]
    set_on = _on(on)
    month = set_on.month - 1 + months_ahead
    return session.set_collection_target(
        customer_code=code,
        month_on=date(set_on.year + month // 12, month % 12 + 1, 1),
        target=Money(amount, currency),
        set_by=owner,
        set_on=set_on,
    )


def open_on(session: Session, code: str, numbers: list[str], on: date) -> int:
    """What the named invoices (or, naming none, the account) had open on ``on``: no promise
    may be larger (a larger one is refused, so these histories keep to it)."""
    if numbers:
        invoices = [session.require_invoice(number) for number in numbers]
    else:
        invoices = session.invoices_of(session.require_customer(code))
    return sum(invoice.open_minor_on(on) for invoice in invoices)


def _keep(session: Session, reference: str, percent: int, days_early: int) -> list[Event]:
    """The customer pays ``percent`` of the promise ``days_early`` before its promised date,
    to its named invoice (else oldest due first)."""
    promise = session.require_promise(reference)
    customer = session.customer_by_id(promise.customer_id)
    assert customer is not None
    amount = Money(max(1, promise.amount_minor * percent // 100), promise.currency)
    on = promise.promised_on - timedelta(days=days_early)
    bank_reference = f"KEEP-{reference}-{percent}-{days_early}"
    events = session.receive_payment(
        bank_reference=bank_reference,
        payer_code=customer.customer_code,
        amount=amount,
        value_on=on,
    )
    allocations = None
    if promise.invoice_ids:
        invoice = session.invoice_by_id(promise.invoice_ids[0])
        assert invoice is not None
        share = min(amount.amount_minor, invoice.open_minor)
        if share == 0:
            return events
        allocations = {invoice.invoice_number: Money(share, promise.currency)}
    events += session.allocate_payment(
        bank_reference=bank_reference, allocations=allocations, allocated_on=on
    )
    return events


def _withdraw(session: Session, reference: str, on: int) -> list[Event]:
    return session.withdraw_promise(promise_reference=reference, withdrawn_on=_on(on), reason="x")


def _rate(session: Session, customer: int, rating: RiskRating, on: int) -> list[Event]:
    return session.rate_risk(
        customer_code=CUSTOMERS[customer][0], rating=rating, rated_on=_on(on), reason="review"
    )


def _blacklist(session: Session, customer: int, on: int) -> list[Event]:
    return session.blacklist(
        customer_code=CUSTOMERS[customer][0], blacklisted_on=_on(on), reason="fraud"
    )


def _act(
    session: Session, customer: int, channel: ActionChannel, on: int, next_days: int | None = None
) -> list[Event]:
    """An action, agreeing a next step ``next_days`` after it when given."""
    return session.record_action(
        customer_code=CUSTOMERS[customer][0],
        channel=channel,
        taken_on=_on(on),
        collector="li",
        contact="AP",
        outcome="called",
        next_step="" if next_days is None else "follow up",
        next_step_on=None if next_days is None else _on(on + next_days),
    )


def _diagnose(
    session: Session, customer: int, delinquency_type: DelinquencyType, on: int
) -> list[Event]:
    return session.diagnose(
        customer_code=CUSTOMERS[customer][0],
        delinquency_type=delinquency_type,
        diagnosed_on=_on(on),
        note="stalling",
    )


def _distress(session: Session, customer: int, bankrupt: bool, on: int) -> list[Event]:
    """A bankruptcy filed or fraud suspected (a second of a kind is refused and skipped)."""
    code = CUSTOMERS[customer][0]
    if bankrupt:
        return session.file_bankruptcy(customer_code=code, filed_on=_on(on), reason="court")
    return session.suspect_fraud(customer_code=code, suspected_on=_on(on), reason="resold")


def _waive(session: Session, customer: int, on: int) -> list[Event]:
    return session.waive_negotiation(
        customer_code=CUSTOMERS[customer][0], waived_on=_on(on), approver="CFO", reason="gone"
    )


def _change_owner(session: Session, customer: int, owner: str, on: int) -> list[Event]:
    return session.change_owner(
        customer_code=CUSTOMERS[customer][0], collection_owner=owner, changed_on=_on(on)
    )


def _confirm(
    session: Session, customer: int, reference: str, on: int, confirmed: int, days: int
) -> list[Event]:
    """A balance confirmation issued from the statement up to ``on`` and acknowledged
    ``days`` later with ``confirmed`` (minor units): a difference opens a reconciliation
    item."""
    code, currency, _ = CUSTOMERS[customer]
    events = session.send_balance_confirmation(
        customer_code=code, confirmation_reference=reference, balance_as_of=_on(on), sent_on=_on(on)
    )
    events += session.acknowledge_balance_confirmation(
        customer_code=code,
        confirmation_reference=reference,
        confirmed_balance=Money(confirmed, currency),
        acknowledged_on=_on(on + days),
    )
    return events


def _reconcile(
    session: Session,
    customer: int,
    reference: str,
    resolution: ReconciliationResolution,
    explained_by: str,
    on: int,
) -> list[Event]:
    """The confirmation's reconciliation item resolved by a payment or dispute (refused when
    it is not the customer's), or accepted. ``explained_by`` "FOUND": the customer's payment
    (unapplied) or dispute is recorded first, on the same day."""
    code, currency, _ = CUSTOMERS[customer]
    if resolution is ReconciliationResolution.ACCEPTED:
        return session.accept_reconciliation(
            customer_code=code,
            confirmation_reference=reference,
            approver="CFO",
            accepted_on=_on(on),
            reason="small",
        )
    events: list[Event] = []
    if explained_by == "FOUND" and resolution is ReconciliationResolution.PAYMENT:
        explained_by = f"FOUND-{reference}"
        events += session.receive_payment(
            bank_reference=explained_by,
            payer_code=code,
            amount=Money(1_000, currency),
            value_on=_on(on),
        )
    elif explained_by == "FOUND":
        explained_by = f"DR-{reference}"
        for invoice in session.invoices_of(session.require_customer(code)):
            if invoice.open_minor > sum(invoice.open_disputes.values()):
                events += _dispute(session, invoice.invoice_number, explained_by, 1, on)
                break
    return events + session.resolve_reconciliation(
        customer_code=code,
        confirmation_reference=reference,
        resolution=resolution,
        reference=explained_by,
        resolved_on=_on(on),
        note="explained",
    )


def _allocation_rule(session: Session, customer: int, rule: AllocationRule, on: int) -> list[Event]:
    return session.adopt_allocation_rule(
        customer_code=CUSTOMERS[customer][0],
        rule=rule,
        effective_on=_on(on),
        approver="CFO",
        reason="house rule",
    )


def _exchange_rate(session: Session, pair: int, rate_thousandths: int, on: int) -> list[Event]:
    from_currency = CURRENCIES[pair % len(CURRENCIES)]
    return session.record_exchange_rate(
        from_currency=from_currency,
        to_currency="CNY" if from_currency != "CNY" else "USD",
        rate=Decimal(rate_thousandths).scaleb(-3),
        effective_on=_on(on),
        source="desk",
    )


def _override(session: Session, number: str, due: int, on: int) -> list[Event]:
    """The invoice's due date moved by hand to ``due`` from ``on`` (a postponement mostly)."""
    return session.override_due_date(
        invoice_number=number,
        due_on=_on(due),
        overridden_on=_on(on),
        reason="agreed extension",
        approver="CFO",
    )


def _adopt(session: Session, policy: EscalationPolicy, on: int) -> list[Event]:
    book = session.policy_book()
    version = 2 if book is None else book.latest_version + 1
    return session.adopt_policy(
        policy=attrs.evolve(policy, version=version),
        effective_on=_on(on),
        approver="CFO",
        reason="review",
    )


OPS: Final[dict[str, Callable[..., list[Event]]]] = {
    "issue": _issue,
    "pay": _pay,
    "bounce": _bounce,
    "dispute": _dispute,
    "resolve": _resolve,
    "promise": _promise,
    "withdraw": _withdraw,
    "keep": _keep,
    "rate": _rate,
    "blacklist": _blacklist,
    "act": _act,
    "waive": _waive,
    "diagnose": _diagnose,
    "distress": _distress,
    "change_owner": _change_owner,
    "target": _target,
    "confirm": _confirm,
    "reconcile": _reconcile,
    "adopt": _adopt,
    "allocation_rule": _allocation_rule,
    "exchange_rate": _exchange_rate,
    "cash": _cash,
    "override": _override,
}


@st.composite
def policies(draw: st.DrawFn) -> EscalationPolicy:
    """Any policy over any ladder (``tests.strategies.ladders``: every trigger rule at any
    level and threshold), with "large" thresholds per currency (its version is set when
    adopted)."""
    policy = EscalationPolicy(
        long_after_days=draw(st.integers(0, 90)),
        large_above_major=draw(st.integers(0, 200_000)),
        large_above_major_by_currency=draw(
            st.dictionaries(st.sampled_from(CURRENCIES), st.integers(0, 200_000), max_size=2)
        ),
        disputed_counts=draw(st.booleans()),
        promise_tolerance_days=draw(st.integers(0, 10)),
        promise_suspends=draw(st.booleans()),
        partly_kept_counts_as_broken=draw(st.booleans()),
        levels=draw(ladders()),
        credit_block_level=draw(st.integers(1, 4)),
        pre_due_reminders=draw(st.lists(pre_due_rules, max_size=2)),
        pre_due_reminder_channels=draw(
            st.lists(st.sampled_from(CHANNEL_NAMES), min_size=1, max_size=3, unique=True)
        ),
        negotiation=draw(st.none() | negotiation_rules),
        diagnose_from_level=draw(st.integers(0, 4)),
        delinquency_actions=draw(
            st.dictionaries(
                st.sampled_from(STRATEGY_TYPES).map(lambda found: found.value),
                st.lists(st.sampled_from(CHANNEL_NAMES), min_size=1, max_size=2).map(tuple),
                max_size=2,
            )
        ),
        # Drawn last: the derandomized samples of the strategy-coverage tests keep the
        # draws above as they were before tolerance by rating existed.
        promise_tolerance_days_by_rating=draw(
            st.dictionaries(st.sampled_from(RATING_VALUES), st.integers(0, 10), max_size=4)
        ),
    )
    # Drawn after the policy, for the same reason, and within its ladder: level adjustments
    # for the types the histories diagnose (faster, slower, paused, routed elsewhere).
    top = len(policy.levels) - 1
    if top < 1:
        return policy
    adjustments = st.builds(
        DelinquencyAdjustment,
        level_offset=st.integers(-top, top),
        level_max=st.none() | st.integers(1, top),
        routes_to=st.none() | st.sampled_from((DISPUTE_HANDLING, *CHANNEL_NAMES)),
    )
    return attrs.evolve(
        policy,
        delinquency_adjustments=draw(
            st.dictionaries(
                st.sampled_from(STRATEGY_TYPES).map(lambda found: found.value),
                adjustments,
                max_size=2,
            )
        ),
    )


CHANNEL_NAMES: Final = tuple(channel.value for channel in ActionChannel)
STRATEGY_TYPES: Final = (DelinquencyType.DELIBERATE_DELAY, DelinquencyType.CONTRACT_DISPUTE)
"""The delinquency types the histories diagnose and the policies map to actions: two, so that
a policy's strategy often names the type diagnosed, and sometimes another."""
pre_due_rules = st.builds(
    PreDueReminderRule,
    days_before_due=st.integers(0, 20),
    rating_at_or_worse=st.integers(0, 4),
    amount_at_least_major=st.sampled_from((0, 0, 1_000, 50_000)),
)
"""Pre-due reminder rules: every rating threshold, amounts most invoices reach or few do."""
negotiation_rules = st.builds(
    NegotiationRule,
    from_level=st.integers(1, 4),
    channels=st.lists(st.sampled_from(CHANNEL_NAMES), min_size=1, max_size=3, unique=True),
    within_days=st.integers(0, 120),
)


payment_references = st.sampled_from(("BANK-1", "BANK-2", "BANK-3"))
dispute_references = st.sampled_from(("D-1", "D-2"))
promise_references = st.sampled_from(("P-1", "P-2", "P-3"))
confirmation_references = st.sampled_from(("BC-1", "BC-2"))
RESOLUTIONS: Final = (
    ReconciliationResolution.PAYMENT,
    ReconciliationResolution.DISPUTE,
    ReconciliationResolution.ACCEPTED,
)
"""How the histories close reconciliation items (no credit note: their numbers come from
upheld disputes, which a random history rarely pairs with a confirmation)."""

issue_steps = st.builds(
    lambda *a: Step("issue", a),
    invoice_numbers,
    customer_indexes,
    amounts_minor,
    st.integers(0, 60),
    st.integers(0, 60),
)
pay_steps = st.builds(
    lambda *a: Step("pay", a),
    payment_references,
    invoice_numbers,
    amounts_minor,
    day_offsets,
    st.none() | st.integers(0, 60),
)
bounce_steps = st.builds(lambda *a: Step("bounce", a), payment_references, day_offsets)
promise_steps = st.builds(
    lambda *a: Step("promise", a),
    customer_indexes,
    promise_references,
    amounts_minor,
    day_offsets,
    st.integers(0, 30),
    st.booleans(),
    st.none() | st.none() | promise_references,  # supersedes: mostly none
    st.sampled_from((1, 1, 2, 3)),  # tranches: mostly a promise of one date
)
diagnose_steps = st.builds(
    lambda *a: Step("diagnose", a), customer_indexes, st.sampled_from(STRATEGY_TYPES), day_offsets
)
distress_steps = st.builds(
    lambda *a: Step("distress", a), customer_indexes, st.booleans(), day_offsets
)
# Payments and bounces weigh double: they are what moves most levels up and down.
steps = st.one_of(
    issue_steps,
    pay_steps,
    pay_steps,
    bounce_steps,
    st.builds(
        lambda *a: Step("dispute", a),
        invoice_numbers,
        dispute_references,
        amounts_minor,
        day_offsets,
    ),
    st.builds(
        lambda *a: Step("resolve", a),
        invoice_numbers,
        dispute_references,
        day_offsets,
        st.sampled_from(DisputeOutcome),
    ),
    promise_steps,
    st.builds(lambda *a: Step("withdraw", a), promise_references, day_offsets),
    st.builds(
        lambda *a: Step("rate", a), customer_indexes, st.sampled_from(RiskRating), day_offsets
    ),
    st.builds(lambda *a: Step("blacklist", a), customer_indexes, day_offsets),
    st.builds(
        lambda *a: Step("act", a),
        customer_indexes,
        st.sampled_from(ActionChannel),
        day_offsets,
        st.none() | st.integers(0, 30),
    ),
    st.builds(lambda *a: Step("waive", a), customer_indexes, day_offsets),
    diagnose_steps,
    st.builds(
        lambda *a: Step("change_owner", a),
        customer_indexes,
        st.sampled_from(("li", "zhao")),
        day_offsets,
    ),
    st.builds(
        lambda *a: Step("confirm", a),
        customer_indexes,
        confirmation_references,
        day_offsets,
        st.integers(0, 15_000_000),
        st.integers(0, 30),
    ),
    st.builds(
        lambda *a: Step("reconcile", a),
        customer_indexes,
        confirmation_references,
        st.sampled_from(RESOLUTIONS),
        st.sampled_from(("BANK-1", "BANK-2", "D-1", "D-2")),
        day_offsets,
    ),
    st.builds(lambda *a: Step("adopt", a), policies(), day_offsets),
    # A rule only moves the automatic allocations of kept promises; the folds ignore the event.
    st.builds(
        lambda *a: Step("allocation_rule", a),
        customer_indexes,
        st.sampled_from(AllocationRule),
        day_offsets,
    ),
    # Cash collected in person: its receipt and handover events, then an allocation.
    st.builds(
        lambda *a: Step("cash", a),
        payment_references,
        invoice_numbers,
        amounts_minor,
        day_offsets,
        st.none() | st.integers(0, 30),
    ),
    # A collection plan's target: the escalation folds and the fast path ignore it.
    st.builds(
        lambda *a: Step("target", a),
        customer_indexes,
        day_offsets,
        st.sampled_from((0, 1_000_00, 50_000_00, 200_000_00)),
        st.integers(0, 1),
    ),
    # A due date moved by hand: from its date the invoice ages and escalates from the new one.
    st.builds(
        lambda *a: Step("override", a),
        invoice_numbers,
        st.integers(0, 150),
        day_offsets,
    ),
    # A rate changes no per-currency figure; the folds and the fast path ignore the event.
    st.builds(
        lambda *a: Step("exchange_rate", a),
        st.integers(0, 5),
        st.integers(1, 10_000_000),
        day_offsets,
    ),
)


def next_step_dates(history: list[Step]) -> list[date]:
    """The dates the history's actions agree next steps for: the day a step falls due is the
    one day it is on the worklist and not yet overdue."""
    acts = [step.args for step in history if step.name == "act"]
    return sorted({_on(on + days) for _, _, on, days in acts if days is not None})


@st.composite
def promise_episodes(draw: st.DrawFn) -> list[Step]:
    """A promise made, then kept in full or in part, withdrawn, superseded or left to be
    judged: a history of random steps rarely holds a promise and a payment into its window."""
    promise = draw(promise_steps)
    customer, reference, _amount, made, days = promise.args[:5]
    follow = draw(st.sampled_from(("keep", "part", "withdraw", "supersede", "none")))
    if follow in ("keep", "part"):
        percent = 100 if follow == "keep" else draw(st.integers(1, 99))
        return [promise, Step("keep", (reference, percent, draw(st.integers(0, days))))]
    if follow == "withdraw":
        return [promise, Step("withdraw", (reference, made + draw(st.integers(0, days))))]
    if follow == "supersede":
        again = Step("promise", (customer, "P-9", *promise.args[2:6], reference))
        return [promise, again]
    return [promise]


@st.composite
def confirmation_episodes(draw: st.DrawFn) -> list[Step]:
    """A balance confirmation acknowledged, then (mostly) its reconciliation item resolved or
    accepted some days later: random steps rarely pair a resolution with its confirmation."""
    customer = draw(customer_indexes)
    reference = draw(confirmation_references)
    on, days = draw(day_offsets), draw(st.integers(0, 30))
    confirm = Step("confirm", (customer, reference, on, draw(st.integers(0, 15_000_000)), days))
    if draw(st.integers(0, 3)) == 0:
        return [confirm]
    resolution = draw(st.sampled_from(RESOLUTIONS))
    found = (
        dispute_references if resolution is ReconciliationResolution.DISPUTE else payment_references
    )
    explained_by = draw(st.just("FOUND") | found)
    resolved_on = on + days + draw(st.integers(0, 30))
    return [
        confirm,
        Step("reconcile", (customer, reference, resolution, explained_by, resolved_on)),
    ]


# Issue every invoice first so that most later steps have something to act on; confirmation
# and promise episodes last, after the payments and disputes that decide what is open.
histories = st.tuples(
    st.tuples(
        *(
            st.builds(
                lambda *a, number=number: Step("issue", (number, *a)),
                customer_indexes,
                amounts_minor,
                st.integers(0, 60),
                st.integers(0, 60),
                st.sampled_from((0, 0, 10)),
            )
            for number in INVOICES
        )
    ).map(list),
    st.lists(steps, max_size=16),
    # Diagnoses apart too: among random steps one rarely meets a policy's strategy for it.
    st.lists(diagnose_steps, max_size=2),
    st.lists(confirmation_episodes(), max_size=2),
    st.lists(promise_episodes(), max_size=2),
    # Drawn last, so that the parts above are drawn as before distress existed: a bankruptcy
    # filed or fraud suspected, in one history in three or so.
    st.lists(distress_steps, max_size=1) | st.just([]) | st.just([]),
).map(
    lambda parts: (
        parts[0]
        + parts[1]
        + parts[2]
        + parts[5]
        + [step for episodes in parts[3:5] for episode in episodes for step in episode]
    )
)
as_of_dates = st.lists(st.integers(0, WINDOW_DAYS + 60).map(_on), min_size=1, max_size=3)


@attrs.define
class History:
    ledger: Ledger
    live: portfolio_module.PortfolioState


def run(history: list[Step]) -> History:
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    live = portfolio_module.initial()
    for code, currency, owner in CUSTOMERS:
        for event in ledger.run(
            lambda s, c=code, cur=currency, o=owner: s.open_account(
                customer_code=c, name=c, currency=cur, collection_owner=o, opened_on=START
            )
        ):
            portfolio_module.fold(live, event)
    for step in history:
        try:
            events = ledger.run(step)
        except ArledgerError:
            continue
        for event in events:
            portfolio_module.fold(live, event)
    return History(ledger=ledger, live=live)


def replayed(ledger: Ledger) -> portfolio_module.PortfolioState:
    return portfolio_module.fold_all(list(ledger.iter_events()))


def customer_ids(ledger: Ledger) -> list[Any]:
    return [ledger.customer(code).id for code, _, _ in CUSTOMERS]


@given(history=histories, dates=as_of_dates)
def test_the_status_replayed_from_the_log_equals_the_live_one(
    history: list[Step], dates: list[date]
) -> None:
    run_ = run(history)
    replay = replayed(run_.ledger)

    for customer_id in customer_ids(run_.ledger):
        for as_of in dates:
            live = escalation.escalation_status(run_.live, customer_id, as_of)
            assert live == escalation.escalation_status(replay, customer_id, as_of)
    code = CUSTOMERS[0][0]
    assert escalation.escalation_status(
        run_.live, customer_ids(run_.ledger)[0], dates[0]
    ) == run_.ledger.escalation_status(code, dates[0])
    assert escalation.worklist(run_.live, dates[0]) == list(run_.ledger.worklist(dates[0]))


@given(history=histories, policy=policies(), effective=day_offsets, data=st.data())
def test_a_new_policy_version_changes_nothing_dated_before_its_effective_date(
    history: list[Step], policy: EscalationPolicy, effective: int, data: st.DataObject
) -> None:
    run_ = run(history)
    effective_on = _on(effective)
    before = [_on(d) for d in data.draw(st.lists(st.integers(0, effective), max_size=3))]
    before = [on for on in before if on < effective_on]
    after = [
        _on(d) for d in data.draw(st.lists(st.integers(effective, WINDOW_DAYS + 60), max_size=2))
    ]
    ids = customer_ids(run_.ledger)
    state = replayed(run_.ledger)
    old_status = {(c, on): escalation.escalation_status(state, c, on) for c in ids for on in before}
    old_evaluation = {(c, on): escalation.evaluate(state, c, on) for c in ids for on in before}

    events = run_.ledger.run(lambda s: _adopt(s, policy, effective))
    new_state = replayed(run_.ledger)

    version = events[0].policy.version  # type: ignore[attr-defined]
    for (customer_id, on), status in old_status.items():
        assert status == escalation.escalation_status(new_state, customer_id, on)
        assert old_evaluation[customer_id, on] == escalation.evaluate(new_state, customer_id, on)
    for customer_id in ids:
        for on in after:
            assert version == escalation.evaluate(new_state, customer_id, on).policy_version


def _level_on(state: Any, customer_id: UUID, judged: _Evaluator, overridden: bool, on: date) -> int:
    """The level on ``on`` in the as_of view ``judged``; for a customer with no due-date
    override by as_of also that day's own view's level, which must be the same."""
    seen = judged.evaluate(on).level
    if not overridden:
        assert escalation.evaluate(state, customer_id, on).level == seen
    return seen


@given(history=histories, as_of=st.integers(0, WINDOW_DAYS + 60).map(_on))
def test_history_worklist_and_next_threshold_agree_with_day_by_day_evaluation(
    history: list[Step], as_of: date
) -> None:
    run_ = run(history)
    state = run_.live
    worklist = {item.customer_id: item for item in escalation.worklist(state, as_of)}

    for customer_id in customer_ids(run_.ledger):
        status = escalation.escalation_status(state, customer_id, as_of)
        # The worklist finds the level's entry date walking back; the status from its history.
        # At level 0 a customer is listed only while a reconciliation item is open, a next
        # step is due or an invoice wants a reminder before its due date.
        step_due = status.next_step is not None and status.next_step.due_on <= as_of
        if (
            status.level == 0
            and not status.reconciliations
            and not step_due
            and not status.pre_due_reminders
        ):
            assert customer_id not in worklist
        else:
            item = worklist[customer_id]
            assert (status.level, status.next_action, status.reconciliations) == (
                item.level,
                item.next_action,
                item.reconciliations,
            )
        # Level changes found day by day over a stretch before as_of are those of the history.
        # Within one status every earlier day is judged on the due dates in force on as_of: a
        # due-date override known by then restarts the days past due on the days before it too
        # (README, "override_due_date"). So the days are judged in the as_of view; for a
        # customer with no override by as_of that is each day's own view, as asserted.
        judged = _Evaluator(escalation.narrow(state, customer_id, as_of), customer_id)
        overridden = any(
            overridden_on <= as_of
            for invoice in state.ageing.invoices.values()
            if invoice.customer_id == customer_id
            for overridden_on, _ in invoice.due_date_overrides
        )

        first = as_of - timedelta(days=45)
        level = _level_on(state, customer_id, judged, overridden, first - timedelta(days=1))
        changes = []
        for n in range((as_of - first).days + 1):
            on = first + timedelta(days=n)
            level_then = _level_on(state, customer_id, judged, overridden, on)
            if level_then != level:
                changes.append((on, level_then))
                level = level_then
        assert changes == [(c.on, c.level) for c in status.history if c.on >= first]
        assert status.level == level
        # Nothing happening after as_of: the level first rises on the predicted date.
        view = escalation.narrow(state, customer_id, as_of)
        crossing = status.next_threshold
        horizon = 61 if crossing is None else (crossing.on - as_of).days
        for n in range(1, min(horizon, 60) + 1):
            ahead = escalation.evaluate(view, customer_id, as_of + timedelta(days=n))
            if n < horizon:
                assert ahead.level <= status.level
            else:
                assert crossing is not None
                assert crossing.level == ahead.level


@given(history=histories, as_of=st.integers(0, WINDOW_DAYS + 60).map(_on))
def test_levels_from_totals_equal_full_evaluations_on_every_candidate_date(
    history: list[Step], as_of: date
) -> None:
    """The history's level series (totals over all dates at once) is the full evaluation's."""
    run_ = run(history)
    for customer_id in customer_ids(run_.ledger):
        view = escalation.narrow(run_.live, customer_id, as_of)
        dates = sorted(escalation._Evaluator(view, customer_id).candidate_dates() | {as_of})
        levels = escalation._Evaluator(view, customer_id).levels(dates)
        full = escalation._Evaluator(view, customer_id)
        assert [level for level, _ in levels] == [full.evaluate(on).level for on in dates]
        assert [policy for _, policy in levels] == [view.policy_on(on) for on in dates]


@given(history=histories, as_of=st.integers(0, WINDOW_DAYS + 60).map(_on))
def test_tranches_split_their_promise_and_a_promise_of_one_date_is_its_own_tranche(
    history: list[Step], as_of: date
) -> None:
    """Tranche by tranche: the amounts add up to the promise's, the money counted toward them
    never exceeds the promise's own (it is counted by earlier deadlines, each at most its
    tranche), and a tranche is kept only if the tranches before it were paid by its deadline;
    a promise of one date judges exactly as its single tranche."""
    state = run(history).live
    for judgement in promises_module.judge_all(state, as_of):
        tranches = judgement.tranches
        assert judgement.promised_minor == sum(t.promised_minor for t in tranches)
        assert sum(t.paid_minor for t in tranches) <= judgement.promised_minor
        for tranche in tranches:
            assert 0 <= tranche.paid_minor <= tranche.promised_minor
            if tranche.status is PromiseStatus.KEPT:
                assert tranche.paid_minor == tranche.promised_minor
        if len(tranches) == 1:
            (only,) = tranches
            assert (
                judgement.status,
                judgement.paid_minor,
                judgement.deadline_on,
                judgement.judged_on,
            ) == (only.status, only.paid_minor, only.deadline_on, only.judged_on)
        else:
            assert judgement.deadline_on == tranches[-1].deadline_on


@given(history=histories, as_of=st.integers(0, WINDOW_DAYS + 60).map(_on))
def test_promises_judged_where_they_change_equal_every_promise_judged_every_day(
    history: list[Step], as_of: date
) -> None:
    """The evaluator judges each promise only on the days its judgement can change and looks
    the others up (``_Evaluator._steps``): every day from before the first fact to past the
    horizon, the judgements and the broken, partly kept and open figures the levels read are
    those of judging every promise that day."""
    run_ = run(history)
    days = [START + timedelta(days=n) for n in range(-1, (as_of - START).days + 62)]
    for customer_id in customer_ids(run_.ledger):
        view = escalation.narrow(run_.live, customer_id, as_of)
        evaluator = _Evaluator(view, customer_id)
        promises = [p for p in view.promises.values() if p.customer_id == customer_id]
        expected = [
            tuple(
                judgement
                for judgement in (promises_module.judge(view, p, on) for p in promises)
                if judgement is not None
            )
            for on in days
        ]
        assert expected == [evaluator._judgements(on) for on in days]
        # Days in descending order: the figures come back in the order asked.
        asked = np.array([on.toordinal() for on in reversed(days)], dtype=np.int64)
        broken, partly, open_since = evaluator._promise_figures(asked)
        expected.reverse()
        statuses = [[j.status for j in judgements] for judgements in expected]
        assert [s.count(PromiseStatus.BROKEN) for s in statuses] == broken
        assert [s.count(PromiseStatus.PARTLY_KEPT) for s in statuses] == partly
        made = [
            min(
                (j.made_on.toordinal() for j in judgements if j.status is PromiseStatus.OPEN),
                default=_NO_PROMISE,
            )
            for judgements in expected
        ]
        assert made == open_since
