"""Synthetic ledgers: a seeded plan per chunk of customers, emitted straight in the columnar layout.

A ledger is a pure function of ``(invoices, seed)`` and the documented options (period,
``chunk_customers``). Customers are cut into chunks of ``chunk_customers``; each chunk draws its
plan from its own ``numpy.random.Generator(PCG64(SeedSequence([seed, chunk])))``, with vectorised
NumPy: customers (currency, collection owner, behaviour profile, terms), their invoices (some with
instalment schedules) and what happens to each invoice (payments, bounced payments, disputes,
promises, collection actions, write-offs, and for one defaulted invoice in ten a settlement in
goods before the write-off; a few late payers' due dates postponed by hand with an approver, and
a few prompt payments collected in cash and handed to finance, some later than the policy's
three days, and concession requests: some approved, applying the concession, some rejected, a
few left waiting), every amount in integer minor units. The
first event of the log adopts the book's authority policy (``authority_policy``: a collections
manager, a finance director and a chief financial officer, with limits per role and currency
and a two-approver threshold), in force before any account opens: every reduction names
approvers within it (above the finance director's threshold the chief financial officer
approves an upheld dispute or goods alone, or a write-off as the second approver), then the
USD and EUR rates to CNY (``RATE_PAIRS``), at the start and monthly, so the book reads in a
reporting currency. Changing
``chunk_customers`` changes the ledger (other draws); the default is fixed.

The log order is the order in which the domain commands would record the ledger: chunk after chunk,
and within a chunk by business date, then customer, then command kind (account before invoice
before dispute before payment before action before promise before write-off before goods in lieu),
then invoice. Commands dated after the period's end have not happened and are left out, which never
strands a later command: everything a command needs is dated on or before it. Each command is
recorded one second after the previous one, from midnight UTC after the period's end, as if the
history were loaded in one run (as an import of ERP history is): timestamps grow with ``seq`` and
never depend on the chunking of the work. Every command's events share its timestamp.

Invariant: the events are valid by construction and equal, event for event, to what ``Ledger``
records when ``replay`` feeds it ``commands`` with ``recording_clock`` (tested at small sizes).
Ids are the domain's uuid5 of the business keys; the ``ids`` table lists them in order of first
appearance, which is always the creating event's ``originator_id``. Only NumPy arrays of one chunk
are held at a time: a log of any size streams through the sink in pages.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence import bulk
from arledger.adapters.read_models.columnar import (
    EPOCH,
    IDS_SCHEMA,
    PAGE_ROWS_DEFAULT,
    SCHEMAS,
    TIMESTAMP,
    Collector,
    ColumnarLog,
    Pages,
    ParquetSink,
    from_columnar,
    policy_text,
)
from arledger.adapters.read_models.partitions import (
    PartitionedExport,
    partitioned_target,
    write_partitioned_columns,
)
from arledger.adapters.synthetic.demo import NAME_PLACES, NAME_TRADES, OWNERS
from arledger.domain import ids as domain_ids
from arledger.domain.authority import (
    ApproverRole,
    AuthorityPeriod,
    AuthorityPolicy,
    ReductionKind,
    RoleAuthority,
)
from arledger.domain.errors import InvalidCommandError
from arledger.domain.events import (
    ActionChannel,
    AllocationRule,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    Instalment,
    PaymentTermsKind,
    PromiseTranche,
    ReceiptMethod,
    RiskRating,
)
from arledger.domain.exchange_rate import rate_terms
from arledger.domain.ids import ARLEDGER_NAMESPACE
from arledger.domain.money import Money

Sink = Callable[[str, pa.RecordBatch], None]
Progress = Callable[[int, int], None]
"""Called after each chunk with (invoices done, invoices in all)."""

INVOICES_MIN: Final = 1
INVOICES_MAX: Final = 10_000_000
"""The issue's largest ledger; invoice numbers have eight digits, customer codes seven."""
SEED_MAX: Final = 2**32 - 1
"""Seeds are part of the business keys (``G<seed>-...``), so they stay short."""
INVOICES_PER_CUSTOMER: Final = 10
"""Customers = invoices / 10 (rounded up); each customer has at least one invoice."""
CHUNK_CUSTOMERS_DEFAULT: Final = 5_000
"""Customers per chunk: about 50,000 invoices and 200,000 events, a few tens of MB of arrays.
Part of the ledger's definition (each chunk has its own random stream)."""
START_ON_DEFAULT: Final = date(2024, 1, 1)
END_ON_DEFAULT: Final = date(2025, 12, 31)
"""The default period. Nothing reads the clock: the same arguments give the same ledger."""
TICK: Final = timedelta(seconds=1)
"""Recording time between two commands (the test suite's ``FixedClock`` step)."""

_NEVER: Final = 1 << 40
"""A business day (days since 1970) that never comes: 'this does not happen'."""
_CUSTOMER_DIGITS: Final = 7
_INVOICE_DIGITS: Final = 8

CURRENCIES: Final = ("CNY", "USD", "EUR")
_CURRENCY_P: Final = (0.5, 0.3, 0.2)
AMOUNT_SCALE: Final = (7, 1, 1)
"""Major-unit scale of a typical amount per currency (CNY, USD, EUR), so values look alike."""
CONTACTS: Final = (
    "Zhao Lei (finance)",
    "Sun Li (purchasing)",
    "Zhou Qiang (CFO)",
    "Wu Hong (accounts payable)",
    "Emma Brown (accounts payable)",
    "Lukas Meyer (finance)",
)
_PLACES: Final = tuple(NAME_PLACES[currency][:6] for currency in CURRENCIES)
"""Six place names per currency (CNY, USD, EUR), from the demo's: names index them by 6 * c."""
_TRADES: Final = NAME_TRADES
_MAGNITUDE_P: Final = (0.30, 0.35, 0.25, 0.10)
"""Odds of an invoice's order of magnitude (1x, 10x, 100x, 1,000x a 100-999 mantissa): many
small invoices and a few large ones, so that no handful of invoices weighs on the whole book."""
_NET_DAYS: Final = (30, 30, 45, 60, 90)
INSTALMENT_DAYS: Final = (30, 60, 90)
"""An instalment invoice is due in three parts, 30, 60 and 90 days after issue."""
APPROVER: Final = "Finance Director"
CREDIT_APPROVER: Final = "Credit Committee"
SENIOR_APPROVER: Final = "Chief Financial Officer"
"""Approves what is above the finance director's two-approver threshold: alone an upheld
dispute's credit note or a settlement in goods (each has one approver), as the second approver
of a write-off."""
MANAGER_APPROVER: Final = "Collections Manager"
"""Grants the shorter postponements of a due date (up to ``_MANAGER_POSTPONEMENT_DAYS``)."""
_AUTHORITY_APPROVER: Final = "Board of Directors"
_AUTHORITY_REASON: Final = "delegation of authority for reductions"
_AUTHORITY_YEARS_BEFORE: Final = 2
"""The authority policy is in force from 1 January this many years before the period: before
every account opens (at most 720 days before the period), so every reduction is held to it."""
_MANAGER_POSTPONEMENT_DAYS: Final = 15
RATE_PAIRS: Final = (("USD", "CNY"), ("EUR", "CNY"))
"""The exchange rates the generated book records, so that it reads in CNY (``ageing_in``): one
per pair at the book's start (the authority policy's date) and one on the first day of every
month of the period."""
_RATE_BASES: Final = (71_000, 78_000)
"""Each pair's first rate in ten-thousandths (7.1000 and 7.8000 CNY); each month moves by a
random step of at most 0.5% either way, drawn from a stream of its own (``_RATE_STREAM``)."""
_RATE_STREAM: Final = 1 << 32
"""The rates' own random stream, ``SeedSequence([seed, _RATE_STREAM])``: no chunk has that
number, so drawing the rates changes no other draw."""
_RATE_SOURCE: Final = "PBOC central parity"


@attrs.frozen
class _RoleLimits:
    """A role's limits in major units of a currency's typical scale (``AMOUNT_SCALE``)."""

    role: str
    reduction_max: int
    customer_period_max: int
    two_approvers_above: int | None
    postponement_days_max: int


_ROLES: Final = (
    _RoleLimits("collections manager", 10_000, 30_000, None, _MANAGER_POSTPONEMENT_DAYS),
    _RoleLimits("finance director", 200_000, 2_000_000, 50_000, 30),
    _RoleLimits("chief financial officer", 2_000_000, 50_000_000, None, 90),
)
"""The generated book's authority (scale units: CNY 7x). The chief financial officer's single
reduction covers the largest generated invoice (999,000.99 scale units), so every upheld dispute
above the finance director's threshold has one approver who may grant it; write-offs and goods
are of slow payers' invoices (at most 99,900.99). The per-customer-per-month limits leave room
over what the generator's largest customers reach: at 1,000,000 invoices (seed 11) the most
reduced in one customer-month, all roles together, was 1,679,847 scale units."""
_FINANCE_DIRECTOR_THRESHOLD: Final = _ROLES[1].two_approvers_above
assert _FINANCE_DIRECTOR_THRESHOLD is not None


def authority_policy() -> AuthorityPolicy:
    """The authority policy the generated book adopts at its start (version 1)."""
    return AuthorityPolicy(
        version=1,
        approvers=(
            ApproverRole(approver=MANAGER_APPROVER, role=_ROLES[0].role),
            ApproverRole(approver=APPROVER, role=_ROLES[1].role),
            ApproverRole(approver=SENIOR_APPROVER, role=_ROLES[2].role),
        ),
        roles=tuple(
            RoleAuthority(
                role=limits.role,
                currency=currency,
                reduction_max_minor=limits.reduction_max * scale * 100,
                customer_period_max_minor=limits.customer_period_max * scale * 100,
                two_approvers_above_minor=None
                if limits.two_approvers_above is None
                else limits.two_approvers_above * scale * 100,
                postponement_days_max=limits.postponement_days_max,
            )
            for limits in _ROLES
            for currency, scale in zip(CURRENCIES, AMOUNT_SCALE, strict=True)
        ),
        period=AuthorityPeriod.MONTH,
    )


def _above_threshold(amount_minor: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """Per amount (minor units, currency index): over the finance director's two-approver
    threshold, so the chief financial officer approves it (or approves it too)."""
    assert _FINANCE_DIRECTOR_THRESHOLD is not None
    limit = np.array(AMOUNT_SCALE)[currency] * _FINANCE_DIRECTOR_THRESHOLD * 100
    above: np.ndarray = amount_minor > limit
    return above


class Profile(enum.Enum):
    """How a customer behaves; it sets the odds of what happens to each of its invoices."""

    PROMPT = "prompt"
    LATE = "late"
    CHRONICALLY_LATE = "chronically_late"
    PARTIAL_PAYER = "partial_payer"
    PROMISE_BREAKER = "promise_breaker"
    DISPUTER = "disputer"
    DEFAULTER = "defaulter"
    BOUNCED_PAYER = "bounced_payer"


PROFILES: Final = tuple(Profile)
PROFILE_WEIGHTS: Final = (47, 25, 6, 8, 4, 6, 2, 2)
"""Per cent of customers of each profile, in ``PROFILES`` order: a book like a real B2B one
(issue 15), where most open money is current or 1-30 days late, under a tenth is over 90 days
and under a tenth of the customers stand at the legal level; the slow payers are a minority."""
_SLOW_PROFILES: Final = (
    Profile.CHRONICALLY_LATE,
    Profile.PARTIAL_PAYER,
    Profile.PROMISE_BREAKER,
    Profile.DEFAULTER,
    Profile.BOUNCED_PAYER,
)
_SLOW_MAGNITUDE_MAX: Final = 100
"""The largest magnitude of a slow payer's invoice: their credit is kept short."""


class _Fate(enum.IntEnum):
    """What happens to one invoice."""

    PROMPT = 0  # paid in full on or before the due date
    LATE = 1  # paid 1-60 days late, a reminder call after a week
    LATE_PROMISED = 2  # a call and a promise after the due date, kept
    CHRONIC = 3  # paid 45-150 days late after call, notice and demand letter
    PARTIAL = 4  # part paid around the due date; most pay the rest later, the rest is written off
    PROMISE_BROKEN = 5  # a promise broken; some make a second one (superseding), broken too
    DISPUTED = 6  # disputed, upheld (credit note) or rejected, the rest paid
    DEFAULT = 7  # chased up to a lawyer's letter and written off (some part paid first)
    BOUNCED = 8  # paid on time, the payment bounced, paid again


# Per cent of each profile's invoices by fate (rows: PROFILES order; columns: _Fate order).
_FATE_WEIGHTS: Final = np.array(
    [
        [92, 8, 0, 0, 0, 0, 0, 0, 0],
        [15, 60, 25, 0, 0, 0, 0, 0, 0],
        [0, 20, 0, 80, 0, 0, 0, 0, 0],
        [30, 30, 0, 0, 40, 0, 0, 0, 0],
        [0, 30, 40, 0, 0, 30, 0, 0, 0],
        [30, 20, 0, 0, 0, 0, 50, 0, 0],
        [0, 0, 0, 30, 0, 0, 0, 70, 0],
        [30, 20, 0, 0, 0, 0, 0, 0, 50],
    ],
    dtype=np.int64,
)
_FATE_CUMULATIVE: Final = np.cumsum(_FATE_WEIGHTS, axis=1)
assert (_FATE_CUMULATIVE[:, -1] == 100).all()


@attrs.frozen
class _ActionKind:
    channel: ActionChannel
    outcome: str
    next_step: str
    next_step_days: int | None


_ACTIONS: Final = (
    _ActionKind(ActionChannel.PHONE, "customer will pay soon", "call again", 7),
    _ActionKind(ActionChannel.PHONE, "promised to pay", "check the payment", 14),
    _ActionKind(ActionChannel.EMAIL, "asked for the balance", "", None),
    _ActionKind(ActionChannel.OVERDUE_NOTICE, "overdue notice sent", "", None),
    _ActionKind(ActionChannel.DEMAND_LETTER, "demand letter sent", "escalate to legal", 30),
    _ActionKind(ActionChannel.FINANCE_LETTER, "finance dunning letter sent", "", None),
    _ActionKind(ActionChannel.LAWYER_LETTER, "lawyer's letter sent", "prepare a filing", 30),
    _ActionKind(ActionChannel.PHONE, "payment bounced; asked to pay again", "check it", 7),
    _ActionKind(ActionChannel.PHONE, "promised again", "check the payment", 14),
    _ActionKind(ActionChannel.EMAIL, "reminded of the invoice falling due", "", None),
    _ActionKind(ActionChannel.PHONE, "followed up as agreed", "", None),
)
(
    _A_REMINDER,
    _A_PROMISE,
    _A_BALANCE,
    _A_NOTICE,
    _A_DEMAND,
    _A_FINANCE,
    _A_LAWYER,
    _A_BOUNCE,
    _A_PROMISE_AGAIN,
    _A_PRE_DUE,
    _A_FOLLOW_UP,
) = range(len(_ACTIONS))
_ACTION_SLOTS: Final = 5
"""Actions planned per invoice (the last one the pre-due reminder); each may have a follow-up
in the slot ``_ACTION_SLOTS`` further on, so the plan holds twice as many."""
_STEP_DAYS: Final = np.array([a.next_step_days or 0 for a in _ACTIONS], dtype=np.int64)
_HAS_STEP: Final = np.array([a.next_step_days is not None for a in _ACTIONS])
_FOLLOW_UP_PERCENT: Final = 88
"""Of the agreed next steps no later action of the invoice answers, the share the collector
follows up: the rest slip and stay on the worklist as overdue next steps."""
_FOLLOW_UP_ON_TIME_PERCENT: Final = 75
"""Of the follow-ups, the share taken on the agreed day or within two days after; the others
slip 3-14 days."""
_FOLLOW_UP_NEAR_DAYS: Final = 7
"""An action of the same invoice taken by this many days after the agreed date is itself the
follow-up (the next rung of its chase): no separate call is made."""
_PARTIAL_REST_PAID_PERCENT: Final = 80
"""Of the invoices paid in part, the share whose rest is paid later; the others' is written off."""
_PRE_DUE_DAYS: Final = 5
"""Chasing before due: a reminder this many days before the due date (not before issue)."""
_PRE_DUE_PERCENT_RATED: Final = 70
"""Of the invoices of customers rated C or D, the share reminded before due (their collectors
chase before due, as the handbooks ask for poor payers)..."""
_PRE_DUE_PERCENT_LARGE: Final = 40
"""...and of the other customers' large invoices (100,000 and more of the currency's scale)."""

_DISPUTE_REASONS: Final = tuple(DisputeReason)
_ROOT_CAUSES: Final = (
    "batch failed incoming inspection",
    "goods arrived two weeks late",
    "price differs from the contract",
    "short delivery",
    "invoice without delivery note",
    "customer disputes the scope",
)
_RESOLVE_NOTES: Final = ("credit note agreed", "delivery records confirm the invoice")
_RATING_REASON: Final = "payment behaviour review"
_DIAGNOSED_DAYS: Final = 7
"""A customer rated C or D is diagnosed this many days after its rating: the cause of late
payment is found before acting."""
_DIAGNOSES: Final = {
    Profile.CHRONICALLY_LATE: (
        DelinquencyType.CASH_FLOW_SQUEEZE,
        "pays when its own customers pay",
    ),
    Profile.BOUNCED_PAYER: (DelinquencyType.DELIBERATE_DELAY, "sends payments that bounce"),
    Profile.DEFAULTER: (DelinquencyType.POOR_BUSINESS, "sales falling, stock unsold"),
}
"""The diagnosed cause per profile, for the profiles the generator rates (C or D)."""
_DIAGNOSIS_TYPES: Final = tuple(DelinquencyType)
_DIAGNOSIS_NOTES: Final = tuple(note for _, note in _DIAGNOSES.values())
_CREDIT_REASON: Final = "opening credit review"
_REVERSAL_REASON: Final = "bounced: insufficient funds"
_WRITE_OFF_REASON: Final = "uncollectable after legal letter"
_GOODS: Final = "finished goods returned from the customer's stock"
_GOODS_UNIT: Final = "lot"
APPRAISER: Final = "Warehouse Appraiser"
_GOODS_REASON: Final = "goods saleable; better than a write-off"
_GOODS_HAIRCUT_BPS: Final = 3000
"""The default escalation policy's haircut: the generator adopts no escalation policy, so every
proposal uses it."""
_GOODS_SHARE: Final = 10
_RULE_CHANGE_SHARE: Final = 20
"""One customer in twenty adopts another allocation rule during the period."""
_RULES_ADOPTED: Final = (
    AllocationRule.OLDEST_ISSUED_FIRST,
    AllocationRule.PROPORTIONAL,
    AllocationRule.EXPLICIT_ONLY,
)
_RULE_REASON: Final = "customer's remittance practice"
_OVERRIDE_SHARE: Final = 20
"""One late-paying invoice (without instalments) in twenty has its due date postponed by hand,
a few days before it falls due: a customer asking for time, granted by the finance director."""
_OVERRIDE_DAYS_BEFORE: Final = 3
_OVERRIDE_POSTPONED_DAYS: Final = (15, 30)
_OVERRIDE_REASON: Final = "customer asked for time: budget released next month"
_CASH_SHARE: Final = 25
"""One promptly paid invoice in twenty-five is paid in cash to its collection owner, who hands
it to finance 0-2 days later, or (one in five of them) 5-15 days later: held longer than the
policy's three days. Finance allocates it the day after the handover (it settles only from
then)."""
_CASH_LATE_SHARE: Final = 5
_REQUEST_SHARE: Final = 3
"""One invoice in three of a broken promise or a chronic payer gets a concession request from
its collection owner (the customer asks for a discount), the day after the promise or 20 days
after due. A week later finance decides, on the request's own draw (``_REQUEST_REJECTED_SHARE``
values): one in five waits for approval (on the approvers' worklists), two approved, two
rejected; a request whose invoice gets a second promise is rejected instead of approved (that
promise is of the whole invoice, more than a concession would leave open)."""
_REQUEST_CHRONIC_DAYS: Final = 20
_REQUEST_REJECTED_SHARE: Final = 5
_REQUEST_APPROVED_DRAWS: Final = (1, 2)
"""The values of the request's ``_REQUEST_REJECTED_SHARE`` draw that approve it (0 leaves it
pending, the rest reject it)."""
_REQUEST_DECIDED_DAYS: Final = 7
_REQUEST_REASON: Final = "customer asks for a discount to pay"
_REJECT_REASON: Final = "no discount for a broken promise"
FINANCE_CASHIER: Final = "Finance Cashier"
"""One defaulted invoice in ten is partly settled in goods before the rest is written off."""


class _Kind(enum.IntEnum):
    """Commands, in the order they run on one customer's same business day."""

    OPEN = 0
    CREDIT = 1
    OWNER = 2
    RATE = 3
    ISSUE = 4
    DISPUTE = 5
    RESOLVE = 6
    RECEIVE = 7
    ALLOCATE = 8
    REVERSE = 9
    ACTION = 10
    PROMISE = 11
    WRITE_OFF = 12
    GOODS_PROPOSE = 13
    GOODS_APPROVE = 14
    GOODS_SETTLE = 15
    ALLOCATION_RULE = 16
    DIAGNOSE = 17
    TARGET = 18
    DUE_DATE_OVERRIDE = 19
    HAND_OVER = 20
    REDUCTION_REQUEST = 21
    REDUCTION_REJECT = 22
    AUTHORITY = 23
    EXCHANGE_RATE = 24
    BANKRUPTCY = 25
    FRAUD = 26
    REDUCTION_APPROVE = 27


def _of_kind(
    kind: np.ndarray, which: _Kind, fact: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Per command, ``fact`` of the commands of kind ``which`` (given their positions), False
    for the others. An invoice's facts are looked up on its own commands only: a customer's
    command carries no invoice (-1) and a rate's carries its month in that column, which may
    pass the chunk's invoices."""
    found = np.zeros(len(kind), bool)
    at = np.flatnonzero(kind == which)
    found[at] = fact(at)
    return found


_EVENTS_PER_COMMAND: Final = np.array(
    [1, 1, 1, 1, 2, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2],
    dtype=np.int64,
)
"""Events of each command kind; an upheld dispute adds two (its credit note and the note's
registration), a superseding promise one, cash collected in person one (its collection). An
approved concession request is one approval that completes the policy (one approver) and so
records the invoice's ``ConcessionApproved`` with it."""


# The plan -------------------------------------------------------------------------------------


@attrs.define(eq=False)
class _Plan:
    """One chunk: NumPy arrays per customer and per invoice (days are days since 1970)."""

    seed: int
    chunk: int
    customer_first: int
    invoice_first: int
    # Customers
    currency: np.ndarray
    owner: np.ndarray
    profile: np.ndarray
    instalment_terms: np.ndarray
    terms_days: np.ndarray
    opened_on: np.ndarray
    place: np.ndarray
    trade: np.ndarray
    contact: np.ndarray
    credit_line: np.ndarray
    owner_new: np.ndarray
    owner_changed_on: np.ndarray
    rating: np.ndarray
    rated_on: np.ndarray
    # Invoices, in number order
    customer: np.ndarray
    issued_on: np.ndarray
    due_on: np.ndarray
    amount: np.ndarray
    fate: np.ndarray
    pay_on: np.ndarray  # (n, 2)
    pay_amount: np.ndarray  # (n, 2)
    reversed_on: np.ndarray
    dispute_on: np.ndarray
    resolved_on: np.ndarray
    disputed: np.ndarray
    upheld: np.ndarray
    dispute_reason: np.ndarray
    promise_made: np.ndarray  # (n, 2)
    promise_on: np.ndarray  # (n, 2)
    action_on: np.ndarray  # (n, 2 * _ACTION_SLOTS): planned actions, then their follow-ups
    action_kind: np.ndarray  # (n, 2 * _ACTION_SLOTS)
    written_off_on: np.ndarray
    goods_on: np.ndarray  # the proposal's date; approved 5 days later, settled 10 days later
    goods_appraised: np.ndarray
    # Customers again (drawn after everything else): an allocation rule adopted, and from when.
    rule_adopted: np.ndarray  # index into _RULES_ADOPTED, -1: none
    rule_effective_on: np.ndarray
    # Invoices again: a due date postponed by hand on ``overridden_on`` (never: none) to
    # ``overridden_due_on``.
    overridden_on: np.ndarray
    overridden_due_on: np.ndarray
    # Invoices again: the first payment collected in cash and handed to finance on this day
    # (never: by bank transfer).
    handed_on: np.ndarray
    # Invoices again: a concession requested on ``request_on`` (never: none) for
    # ``request_amount``, rejected on ``request_rejected_on`` or approved (the concession
    # applied) on ``request_approved_on`` (never for both: still pending).
    request_on: np.ndarray
    request_amount: np.ndarray
    request_rejected_on: np.ndarray
    request_approved_on: np.ndarray
    # The day the authority policy is in force from (recorded in the first chunk only).
    authority_on: int = 0
    # The exchange rates (recorded in the first chunk only): effective days, and per day and
    # pair of ``RATE_PAIRS`` the rate in ten-thousandths.
    rate_on: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64))
    rate_ten_thousandths: np.ndarray = attrs.field(
        factory=lambda: np.zeros((0, len(RATE_PAIRS)), dtype=np.int64)
    )

    def allocated_on(self, invoice: np.ndarray, sub: np.ndarray | int) -> np.ndarray:
        """When each payment is allocated: on its value date, or for cash the day after its
        handover to finance."""
        pay_on = self.pay_on[invoice, sub]
        handed = self.handed_on[invoice]
        cash = (np.asarray(sub) == 0) & (handed < _NEVER)
        allocated: np.ndarray = np.where(cash, handed + 1, pay_on)
        return allocated

    def is_cash(self, invoice: np.ndarray, sub: np.ndarray | int) -> np.ndarray:
        cash: np.ndarray = (np.asarray(sub) == 0) & (self.handed_on[invoice] < _NEVER)
        return cash

    @property
    def goods_valued(self) -> np.ndarray:
        """What the goods settle: appraised less the default haircut, rounded down."""
        valued: np.ndarray = self.goods_appraised * (10_000 - _GOODS_HAIRCUT_BPS) // 10_000
        return valued


def _random(seed: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, chunk])))


def _plan(
    seed: int,
    chunk: int,
    customers: tuple[int, int],
    invoices: tuple[int, int],
    start: int,
    end: int,
) -> _Plan:
    """Draw one chunk's plan (all amounts integers; floats only weigh random choices)."""
    rng = _random(seed, chunk)
    nc = customers[1] - customers[0]
    ni = invoices[1] - invoices[0]
    span = end - start + 1
    authority_on = (
        date((EPOCH + timedelta(days=start)).year - _AUTHORITY_YEARS_BEFORE, 1, 1) - EPOCH
    ).days
    currency = rng.choice(len(CURRENCIES), nc, p=_CURRENCY_P)
    owner = rng.integers(0, len(OWNERS), nc)
    profile = rng.choice(len(PROFILES), nc, p=np.array(PROFILE_WEIGHTS) / 100)
    instalment_terms = rng.integers(0, 10, nc) == 0
    terms_days = np.where(
        instalment_terms, INSTALMENT_DAYS[-1], np.array(_NET_DAYS)[rng.integers(0, 5, nc)]
    )
    opened_on = start - rng.integers(30, 721, nc)
    place = rng.integers(0, len(_PLACES[0]), nc)
    trade = rng.integers(0, len(_TRADES), nc)
    contact = rng.integers(0, len(CONTACTS), nc)
    scale = np.array(AMOUNT_SCALE)[currency]
    credit_line = rng.integers(5, 51, nc) * 10_000 * 100 * scale
    changes_owner = rng.integers(0, 20, nc) == 0
    owner_new = np.where(
        changes_owner, (owner + rng.integers(1, len(OWNERS), nc)) % len(OWNERS), -1
    )
    owner_changed_on = start + rng.integers(0, span, nc)
    rating = np.full(nc, -1)
    rating[profile == PROFILES.index(Profile.CHRONICALLY_LATE)] = 2
    rating[profile == PROFILES.index(Profile.BOUNCED_PAYER)] = 2
    rating[profile == PROFILES.index(Profile.DEFAULTER)] = 3
    rated_on = start + rng.integers(90, max(span, 91), nc)

    # Invoices: at least one per customer, the rest to a few big customers (Pareto weights).
    counts = np.ones(nc, dtype=np.int64) if ni >= nc else np.zeros(nc, dtype=np.int64)
    weights = rng.pareto(1.5, nc) + 1.0
    counts += rng.multinomial(ni - int(counts.sum()), weights / weights.sum())
    customer = np.repeat(np.arange(nc), counts)
    issued_on = start + rng.integers(0, span, ni)
    order = np.lexsort((customer, issued_on))
    customer = customer[order]
    issued_on = issued_on[order]
    mantissa = rng.integers(100, 1000, ni)
    magnitude = 10 ** rng.choice(len(_MAGNITUDE_P), ni, p=_MAGNITUDE_P)
    # Credit control sells slow payers less: their invoices stay below the largest magnitude.
    slow = np.isin(profile[customer], [PROFILES.index(p) for p in _SLOW_PROFILES])
    magnitude = np.where(slow, np.minimum(magnitude, _SLOW_MAGNITUDE_MAX), magnitude)
    amount = (mantissa * magnitude * np.array(AMOUNT_SCALE)[currency[customer]]) * 100 + (
        rng.integers(0, 100, ni)
    )
    terms = terms_days[customer]
    due_on = issued_on + terms
    fate = (rng.integers(0, 100, ni)[:, None] >= _FATE_CUMULATIVE[profile[customer]]).sum(axis=1)

    def draw(low: int, high: int) -> np.ndarray:
        """One draw per invoice from low..high inclusive (drawn for all, used by some)."""
        return rng.integers(low, high + 1, ni)

    never = np.full(ni, _NEVER, dtype=np.int64)
    pay_on = np.stack([never, never], axis=1)
    pay_amount = np.zeros((ni, 2), dtype=np.int64)
    reversed_on = never.copy()
    dispute_on = never.copy()
    resolved_on = never.copy()
    promise_made = np.stack([never, never], axis=1)
    promise_on = np.stack([never, never], axis=1)
    action_on = np.full((ni, 2 * _ACTION_SLOTS), _NEVER, dtype=np.int64)
    action_kind = np.zeros((ni, 2 * _ACTION_SLOTS), dtype=np.int64)
    written_off_on = never.copy()

    on_time = issued_on + rng.integers(0, terms + 1)
    late_days = draw(1, 60)
    chronic_days = draw(45, 150)
    percent = draw(30, 90)
    second = draw(0, 1) == 1
    delay_a = draw(0, 30)
    delay_b = draw(30, 90)
    promise_a = draw(1, 30)
    promise_b = draw(7, 21)
    promise_c = draw(10, 30)
    promise_d = draw(7, 21)
    early = draw(0, 2)
    disputed = np.maximum(amount * draw(10, 100) // 100, 1)
    upheld_is = draw(0, 4) < 3
    dispute_reason = draw(0, len(_DISPUTE_REASONS) - 1)
    default_percent = draw(10, 40)
    write_off_days = draw(180, 240)
    rest_paid = draw(0, 99) < _PARTIAL_REST_PAID_PERCENT

    def at(f: _Fate) -> np.ndarray:
        mask: np.ndarray = fate == f
        return mask

    def slot(mask: np.ndarray, index: int, on: np.ndarray, kind: int) -> None:
        action_on[mask, index] = on[mask]
        action_kind[mask, index] = kind

    m = at(_Fate.PROMPT)
    pay_on[m, 0] = on_time[m]
    pay_amount[m, 0] = amount[m]

    m = at(_Fate.LATE)
    pay_on[m, 0] = due_on[m] + late_days[m]
    pay_amount[m, 0] = amount[m]
    slot(m & (late_days > 7), 0, due_on + 7, _A_REMINDER)

    m = at(_Fate.LATE_PROMISED)
    made = due_on + (promise_a + 2) // 3  # 1-10 days after the due date
    promised = made + promise_b - 4  # 3-17 days after it was made
    promise_made[m, 0] = made[m]
    promise_on[m, 0] = promised[m]
    pay_on[m, 0] = np.maximum(made, promised - early)[m]
    pay_amount[m, 0] = amount[m]
    slot(m, 0, made, _A_PROMISE)

    m = at(_Fate.CHRONIC)
    paid = due_on + chronic_days
    pay_on[m, 0] = paid[m]
    pay_amount[m, 0] = amount[m]
    for index, (days, kind) in enumerate(((15, _A_REMINDER), (45, _A_NOTICE), (90, _A_DEMAND))):
        slot(m & (due_on + days < paid), index, due_on + days, kind)

    m = at(_Fate.PARTIAL)
    first = due_on + delay_a
    part = np.maximum(amount * percent // 100, 1)
    pay_on[m, 0] = first[m]
    pay_amount[m, 0] = part[m]
    rest = m & rest_paid
    pay_on[rest, 1] = (first + delay_b)[rest]
    pay_amount[rest, 1] = (amount - part)[rest]
    slot(m & (pay_on[:, 1] > first + 14), 0, first + 14, _A_BALANCE)
    # The rest never paid is chased to a lawyer's letter and written off, as a defaulted
    # invoice is: a real book does not carry it open for years.
    unpaid = m & ~rest_paid
    for index, (days, kind) in enumerate(((90, _A_DEMAND), (150, _A_LAWYER)), start=1):
        slot(unpaid, index, due_on + days, kind)
    written_off_on[unpaid] = (due_on + write_off_days)[unpaid]

    m = at(_Fate.PROMISE_BROKEN)
    made = due_on + 9 + promise_a  # 10-39 days after the due date
    promised = made + promise_b
    again = promised + promise_c
    promise_made[m, 0] = made[m]
    promise_on[m, 0] = promised[m]
    slot(m, 0, made, _A_PROMISE)
    twice = m & second
    promise_made[twice, 1] = again[twice]
    promise_on[twice, 1] = (again + promise_d)[twice]
    slot(twice, 1, again, _A_PROMISE_AGAIN)
    paid = np.where(second, again + promise_d + 15, promised) + delay_b // 2
    pay_on[m, 0] = paid[m]
    pay_amount[m, 0] = amount[m]

    m = at(_Fate.DISPUTED)
    opened = issued_on + 3 + promise_b - 7  # 3-17 days after issue
    resolved = opened + 10 + 2 * promise_c - 20  # 10-50 days after opening
    dispute_on[m] = opened[m]
    resolved_on[m] = resolved[m]
    upheld = np.where(m & upheld_is, disputed, 0)
    remaining = amount - upheld
    paying = m & (remaining > 0)
    pay_on[paying, 0] = (resolved + delay_a // 2)[paying]
    pay_amount[paying, 0] = remaining[paying]

    m = at(_Fate.DEFAULT)
    pays_part = m & (draw(0, 9) < 3)
    pay_on[pays_part, 0] = (due_on + delay_a // 2)[pays_part]
    pay_amount[pays_part, 0] = np.maximum(amount * default_percent // 100, 1)[pays_part]
    for index, (days, kind) in enumerate(
        ((15, _A_REMINDER), (45, _A_FINANCE), (90, _A_DEMAND), (150, _A_LAWYER))
    ):
        slot(m, index, due_on + days, kind)
    written_off_on[m] = (due_on + write_off_days)[m]

    m = at(_Fate.BOUNCED)
    pay_on[m, 0] = on_time[m]
    pay_amount[m, 0] = amount[m]
    bounced = on_time + 2 + delay_a // 6  # 2-7 days after the value date
    reversed_on[m] = bounced[m]
    pay_on[m, 1] = (bounced + 3 + delay_a // 2)[m]
    pay_amount[m, 1] = amount[m]
    slot(m, 0, bounced + 1, _A_BOUNCE)

    # Goods in lieu (drawn last, so every draw above is what it was before they existed): some
    # defaulted invoices are partly settled in goods 120 days after the due date, appraised at
    # 50-100% of what is open, before the rest is written off.
    goods_is = draw(0, _GOODS_SHARE - 1) == 0
    goods_percent = draw(50, 100)
    open_before = amount - pay_amount[:, 0]
    goods = at(_Fate.DEFAULT) & goods_is & (open_before >= 100)
    goods_on = np.where(goods, due_on + 120, _NEVER)
    goods_appraised = np.where(goods, open_before * goods_percent // 100, 0)

    # An allocation rule adopted by a few customers mid-period. Payments here are allocated
    # explicitly (the generator names each invoice), so the rule records a fact and changes no
    # allocation; under explicit only it is what the account's cash would wait for.
    changes_rule = rng.integers(0, _RULE_CHANGE_SHARE, nc) == 0
    rule_adopted = np.where(changes_rule, rng.integers(0, len(_RULES_ADOPTED), nc), -1)
    rule_effective_on = start + rng.integers(0, span, nc)

    # Pre-due reminders, drawn last so that every draw above stays as it was for a seed.
    percent_pre_due = rng.integers(0, 100, ni)
    remind_on = np.maximum(issued_on, due_on - _PRE_DUE_DAYS)
    rated_poor = rating[customer] >= 2
    large = magnitude >= 1000
    reminded = np.where(
        rated_poor,
        percent_pre_due < _PRE_DUE_PERCENT_RATED,
        large & (percent_pre_due < _PRE_DUE_PERCENT_LARGE),
    )
    # Only while nothing is paid: nobody reminds a customer of an invoice it has settled.
    slot(reminded & (pay_on[:, 0] > remind_on), _ACTION_SLOTS - 1, remind_on, _A_PRE_DUE)

    _follow_up(rng, action_on, action_kind)

    # Due dates postponed by hand (drawn after everything else, so every draw above stays as
    # it was for a seed): a few late payers' invoices without instalments, some days before the
    # due date, while nothing is paid (a late payer pays after the due date).
    postponed = (
        at(_Fate.LATE)
        & ~instalment_terms[customer]
        & (rng.integers(0, _OVERRIDE_SHARE, ni) == 0)
        & (due_on - _OVERRIDE_DAYS_BEFORE >= issued_on)
    )
    postponed_days = np.array(_OVERRIDE_POSTPONED_DAYS)[rng.integers(0, 2, ni)]
    overridden_on = np.where(postponed, due_on - _OVERRIDE_DAYS_BEFORE, _NEVER)
    overridden_due_on = np.where(postponed, due_on + postponed_days, _NEVER)

    # Cash collected in person (drawn after the overrides, for the same reason).
    cash = at(_Fate.PROMPT) & (rng.integers(0, _CASH_SHARE, ni) == 0)
    held_late = rng.integers(0, _CASH_LATE_SHARE, ni) == 0
    held_days = np.where(held_late, rng.integers(5, 16, ni), rng.integers(0, 3, ni))
    handed_on = np.where(cash, pay_on[:, 0] + held_days, _NEVER)

    # Concession requests (drawn after the cash, for the same reason): while the invoice is
    # open, the day after a broken promise's first promise (its payment follows by a week or
    # more) or 20 days after a chronic payer's due date.
    broken, chronic = at(_Fate.PROMISE_BROKEN), at(_Fate.CHRONIC)
    requested = (broken | chronic) & (rng.integers(0, _REQUEST_SHARE, ni) == 0)
    request_amount = np.where(requested, np.maximum(amount * rng.integers(3, 11, ni) // 100, 1), 0)
    # A chronic payer pays 45 days after due at the earliest: it asks 20 days after due.
    asked_on = np.where(broken, promise_made[:, 0] + 1, due_on + _REQUEST_CHRONIC_DAYS)
    request_on = np.where(requested, asked_on, _NEVER)
    verdict = rng.integers(0, _REQUEST_REJECTED_SHARE, ni)
    # Approved (derived from the same draw, so every draw stays as it was for a seed) only
    # when no second promise follows: that promise is of the whole invoice, more than would be
    # open after the concession. The approved invoice's payment is what the concession leaves.
    approved = requested & np.isin(verdict, _REQUEST_APPROVED_DRAWS) & ~(broken & second)
    rejected = requested & (verdict != 0) & ~approved
    request_rejected_on = np.where(rejected, request_on + _REQUEST_DECIDED_DAYS, _NEVER)
    request_approved_on = np.where(approved, request_on + _REQUEST_DECIDED_DAYS, _NEVER)
    # The payment follows the decision: a broken promise's by 22 days or more after the
    # request, a chronic payer's 45 days after due at the earliest.
    assert (pay_on[approved, 0] > request_approved_on[approved]).all()
    pay_amount[approved, 0] -= request_amount[approved]

    return _Plan(
        seed=seed,
        chunk=chunk,
        customer_first=customers[0],
        invoice_first=invoices[0],
        currency=currency,
        owner=owner,
        profile=profile,
        instalment_terms=instalment_terms,
        terms_days=terms_days,
        opened_on=opened_on,
        place=place,
        trade=trade,
        contact=contact,
        credit_line=credit_line,
        owner_new=owner_new,
        owner_changed_on=owner_changed_on,
        rating=rating,
        rated_on=rated_on,
        customer=customer,
        issued_on=issued_on,
        due_on=due_on,
        amount=amount,
        fate=fate,
        pay_on=pay_on,
        pay_amount=pay_amount,
        reversed_on=reversed_on,
        dispute_on=dispute_on,
        resolved_on=resolved_on,
        disputed=np.where(at(_Fate.DISPUTED), disputed, 0),
        upheld=upheld,
        dispute_reason=dispute_reason,
        promise_made=promise_made,
        promise_on=promise_on,
        action_on=action_on,
        action_kind=action_kind,
        written_off_on=written_off_on,
        goods_on=goods_on,
        goods_appraised=goods_appraised,
        rule_adopted=rule_adopted,
        rule_effective_on=rule_effective_on,
        overridden_on=overridden_on,
        overridden_due_on=overridden_due_on,
        handed_on=handed_on,
        request_on=request_on,
        request_amount=request_amount,
        request_rejected_on=request_rejected_on,
        request_approved_on=request_approved_on,
        authority_on=authority_on,
        **(_rates(seed, authority_on, start, end) if chunk == 0 else {}),
    )


def _rates(seed: int, authority_on: int, start: int, end: int) -> dict[str, np.ndarray]:
    """The exchange rates' days (the book's start, then each month's first day in the period)
    and values: a walk from ``_RATE_BASES`` in steps of at most 0.5% (rounded down to the
    ten-thousandth), from the rates' own random stream."""
    first = EPOCH + timedelta(days=start)
    last = EPOCH + timedelta(days=end)
    days = [authority_on]
    month = date(first.year, first.month, 1)
    if month < first:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    while month <= last:
        days.append((month - EPOCH).days)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _RATE_STREAM])))
    steps = rng.integers(-50, 51, (len(days), len(RATE_PAIRS)))
    steps[0] = 0
    values = np.empty((len(days), len(RATE_PAIRS)), dtype=np.int64)
    value = np.array(_RATE_BASES, dtype=np.int64)
    for index in range(len(days)):
        value = value + value * steps[index] // 10_000
        values[index] = value
    return {"rate_on": np.array(days, dtype=np.int64), "rate_ten_thousandths": values}


def _follow_up(rng: np.random.Generator, action_on: np.ndarray, action_kind: np.ndarray) -> None:
    """Plan the collectors' follow-ups of the agreed next steps, in the slots after the planned
    actions (drawn after every other draw of the plan, so that those stay as they were).

    A next step is answered by the invoice's next action when that comes by
    ``_FOLLOW_UP_NEAR_DAYS`` after the agreed date; otherwise ``_FOLLOW_UP_PERCENT`` of them get a
    call on the day or up to two days later, or a few slipping 3-14 days, and the rest none.
    The payment settling an invoice is no follow-up: "check the payment" is a call.
    """
    planned = action_on[:, :_ACTION_SLOTS]
    kinds = action_kind[:, :_ACTION_SLOTS]
    percent = rng.integers(0, 100, planned.shape)
    slip = np.where(
        rng.integers(0, 100, planned.shape) < _FOLLOW_UP_ON_TIME_PERCENT,
        rng.integers(0, 3, planned.shape),
        rng.integers(3, 15, planned.shape),
    )
    step_on = planned + _STEP_DAYS[kinds]
    # The invoice's first action after each one (``_NEVER`` when none).
    after = planned[:, None, :] > planned[:, :, None]
    following = np.where(after, planned[:, None, :], _NEVER).min(axis=2)
    needed = (
        (planned < _NEVER)
        & _HAS_STEP[kinds]
        & (following > step_on + _FOLLOW_UP_NEAR_DAYS)
        & (percent < _FOLLOW_UP_PERCENT)
    )
    follow_ups = action_on[:, _ACTION_SLOTS:]
    follow_ups[needed] = (step_on + slip)[needed]
    action_kind[:, _ACTION_SLOTS:][needed] = _A_FOLLOW_UP


# Commands in log order ------------------------------------------------------------------------


@attrs.define(eq=False)
class _Commands:
    """A chunk's commands sorted in log order, with where each one's events start."""

    kind: np.ndarray
    on: np.ndarray
    customer: np.ndarray
    invoice: np.ndarray
    sub: np.ndarray
    first: np.ndarray  # local seq (0-based) of the command's first event
    events: int


def _commands(plan: _Plan, end: int) -> _Commands:
    nc = len(plan.currency)
    ni = len(plan.amount)
    customers = np.arange(nc)
    invoices = np.arange(ni)
    parts: list[tuple[_Kind, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        kind: _Kind, on: np.ndarray, customer: np.ndarray, invoice: np.ndarray, sub: int
    ) -> None:
        keep = on <= end
        parts.append((kind, on[keep], customer[keep], invoice[keep], np.full(int(keep.sum()), sub)))

    none = np.full(nc, -1)
    if plan.chunk == 0:
        # The authority policy, once for the ledger, before anything else happens.
        alone = np.array([-1])
        add(_Kind.AUTHORITY, np.array([plan.authority_on]), alone, alone, 0)
        months = np.arange(len(plan.rate_on))
        for pair in range(len(RATE_PAIRS)):
            add(_Kind.EXCHANGE_RATE, plan.rate_on, np.full(len(months), -1), months, pair)
    add(_Kind.OPEN, plan.opened_on, customers, none, 0)
    add(_Kind.CREDIT, plan.opened_on, customers, none, 0)
    add(
        _Kind.OWNER,
        np.where(plan.owner_new >= 0, plan.owner_changed_on, _NEVER),
        customers,
        none,
        0,
    )
    add(_Kind.RATE, np.where(plan.rating >= 0, plan.rated_on, _NEVER), customers, none, 0)
    adopted_on = np.where(plan.rule_adopted >= 0, plan.rule_effective_on, _NEVER)
    add(_Kind.ALLOCATION_RULE, adopted_on, customers, none, 0)
    add(_Kind.DIAGNOSE, _diagnosed_on(plan), customers, none, 0)
    add(_Kind.BANKRUPTCY, _distress_on(plan)[0], customers, none, 0)
    add(_Kind.FRAUD, _distress_on(plan)[1], customers, none, 0)
    add(_Kind.TARGET, _targets(plan)[0], customers, none, 0)
    owner_of = plan.customer
    add(_Kind.ISSUE, plan.issued_on, owner_of, invoices, 0)
    add(_Kind.DISPUTE, plan.dispute_on, owner_of, invoices, 0)
    add(_Kind.RESOLVE, plan.resolved_on, owner_of, invoices, 0)
    for second in (0, 1):
        add(_Kind.RECEIVE, plan.pay_on[:, second], owner_of, invoices, second)
        add(_Kind.ALLOCATE, plan.allocated_on(invoices, second), owner_of, invoices, second)
        add(_Kind.PROMISE, plan.promise_made[:, second], owner_of, invoices, second)
    add(_Kind.REVERSE, plan.reversed_on, owner_of, invoices, 0)
    for index in range(plan.action_on.shape[1]):
        add(_Kind.ACTION, plan.action_on[:, index], owner_of, invoices, index)
    add(_Kind.WRITE_OFF, plan.written_off_on, owner_of, invoices, 0)
    add(_Kind.DUE_DATE_OVERRIDE, plan.overridden_on, owner_of, invoices, 0)
    add(_Kind.HAND_OVER, plan.handed_on, owner_of, invoices, 0)
    add(_Kind.REDUCTION_REQUEST, plan.request_on, owner_of, invoices, 0)
    add(_Kind.REDUCTION_REJECT, plan.request_rejected_on, owner_of, invoices, 0)
    add(_Kind.REDUCTION_APPROVE, plan.request_approved_on, owner_of, invoices, 0)
    goods = plan.goods_on < _NEVER
    for goods_kind, days in (
        (_Kind.GOODS_PROPOSE, 0), (_Kind.GOODS_APPROVE, 5), (_Kind.GOODS_SETTLE, 10),
    ):  # fmt: skip
        add(goods_kind, np.where(goods, plan.goods_on + days, _NEVER), owner_of, invoices, 0)

    kind = np.concatenate([np.full(len(p[1]), int(p[0])) for p in parts])
    on = np.concatenate([p[1] for p in parts])
    customer = np.concatenate([p[2] for p in parts])
    invoice = np.concatenate([p[3] for p in parts])
    sub = np.concatenate([p[4] for p in parts])
    order = np.lexsort((sub, invoice, kind, customer, on))
    kind, on, customer, invoice, sub = (a[order] for a in (kind, on, customer, invoice, sub))
    counts = _EVENTS_PER_COMMAND[kind]
    upheld = _of_kind(kind, _Kind.RESOLVE, lambda at: plan.upheld[invoice[at]] > 0)
    superseding = (kind == _Kind.PROMISE) & (sub == 1)
    collected = _of_kind(kind, _Kind.RECEIVE, lambda at: plan.is_cash(invoice[at], sub[at]))
    counts = counts + 2 * upheld + superseding + collected
    ends = np.cumsum(counts)
    return _Commands(
        kind=kind,
        on=on,
        customer=customer,
        invoice=invoice,
        sub=sub,
        first=ends - counts,
        events=int(ends[-1]) if len(ends) else 0,
    )


# Strings and ids ------------------------------------------------------------------------------


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((numbers[:, None] // powers) % 10 + 48).astype(np.uint8)


def _text(value: str, rows: int) -> np.ndarray:
    raw = np.frombuffer(value.encode(), dtype=np.uint8)
    return np.broadcast_to(raw, (rows, len(raw)))


def _keys(
    prefix: str, numbers: np.ndarray, width: int, suffix: np.ndarray | None = None
) -> np.ndarray:
    """Fixed-width ASCII keys, one row of bytes each: prefix, zero-padded number[, -digit]."""
    rows = len(numbers)
    parts = [_text(prefix, rows), _digits(numbers, width)]
    if suffix is not None:
        parts += [_text("-", rows), _digits(suffix, 1)]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _strings(keys: np.ndarray) -> pa.Array:
    """A string array over fixed-width key rows (no Python object per row)."""
    rows, width = keys.shape
    offsets = (np.arange(rows + 1, dtype=np.int32) * width).astype(np.int32)
    return pa.StringArray.from_buffers(
        rows, pa.py_buffer(offsets.tobytes()), pa.py_buffer(keys.tobytes())
    )


def _uuid5(kind: str, keys: np.ndarray) -> np.ndarray:
    """``domain.ids`` uuid5 of each key row, as (rows, 16) bytes (version 5, RFC 4122 variant)."""
    rows, width = keys.shape
    base = hashlib.sha1(ARLEDGER_NAMESPACE.bytes + f"{kind}:".encode(), usedforsecurity=False)
    data = keys.tobytes()
    digests = bytearray()
    for start in range(0, rows * width, width):
        hasher = base.copy()
        hasher.update(data[start : start + width])
        digests += hasher.digest()
    raw = np.frombuffer(bytes(digests), dtype=np.uint8).reshape(rows, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _pool(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(codes.astype(np.int64)))


def _constant(value: str, rows: int) -> pa.Array:
    return _pool((value,), np.zeros(rows, dtype=np.int64))


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    values = pa.array(days.astype(np.int32), mask=None if valid is None else ~valid)
    return values.view(pa.date32())


def _ints(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64))


def _ids(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32))


# Events of one chunk --------------------------------------------------------------------------


@attrs.define(eq=False)
class _Chunk:
    ids: pa.RecordBatch
    batches: dict[str, pa.RecordBatch]
    first: np.ndarray  # global seq (1-based) of each command's first event, in log order
    events: int
    commands: int


class _Aggregates:
    """One index space for the chunk's aggregates: customers, cases, invoices, payments (two
    per invoice), promises (two per invoice), credit-note registrations and reduction requests
    (one per invoice each), and the authority and rate books (used by the first chunk only)."""

    def __init__(self, customers: int, invoices: int) -> None:
        self.case_base = customers
        self.invoice_base = 2 * customers
        self.payment_base = self.invoice_base + invoices
        self.promise_base = self.payment_base + 2 * invoices
        self.credit_note_base = self.promise_base + 2 * invoices
        self.request_base = self.credit_note_base + invoices
        self.authority = self.request_base + invoices
        self.rate_book = self.authority + 1
        self.size = self.rate_book + 1

    def invoice(self, invoice: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.invoice_base + invoice
        return result

    def payment(self, invoice: np.ndarray, sub: np.ndarray | int) -> np.ndarray:
        result: np.ndarray = self.payment_base + 2 * invoice + sub
        return result

    def promise(self, invoice: np.ndarray, sub: np.ndarray | int) -> np.ndarray:
        result: np.ndarray = self.promise_base + 2 * invoice + sub
        return result

    def credit_note(self, invoice: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.credit_note_base + invoice
        return result

    def request(self, invoice: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.request_base + invoice
        return result


def _build(
    plan: _Plan, end: int, *, seq_base: int, ids_base: int, tick_base: int, recorded_from: int
) -> _Chunk:
    """The chunk's events as record batches (one per class present), and its new ids."""
    commands = _commands(plan, end)
    nc = len(plan.currency)
    ni = len(plan.amount)
    space = _Aggregates(nc, ni)
    total = commands.events
    agg_by_seq = np.full(total, -1, dtype=np.int64)
    kind = commands.kind

    # Which commands make each class's rows, the event's place in its command, its aggregate.
    rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def rows_of(
        name: str,
        mask: np.ndarray,
        offset: np.ndarray | int,
        aggregate: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        positions = np.flatnonzero(mask)
        offsets = offset[positions] if isinstance(offset, np.ndarray) else offset
        local = commands.first[positions] + offsets
        agg = np.asarray(aggregate(positions), dtype=np.int64)
        agg_by_seq[local] = agg
        rows[name] = (positions, local, agg)

    cust = commands.customer
    inv = commands.invoice
    sub = commands.sub
    upheld = _of_kind(kind, _Kind.RESOLVE, lambda at: plan.upheld[inv[at]] > 0)
    rows_of(
        "AuthorityPolicyAdopted",
        kind == _Kind.AUTHORITY,
        0,
        lambda p: np.full(len(p), space.authority),
    )
    rows_of(
        "ExchangeRateRecorded",
        kind == _Kind.EXCHANGE_RATE,
        0,
        lambda p: np.full(len(p), space.rate_book),
    )
    rows_of("CustomerAccountOpened", kind == _Kind.OPEN, 0, lambda p: cust[p])
    rows_of("CreditLineSet", kind == _Kind.CREDIT, 0, lambda p: cust[p])
    rows_of("CollectionOwnerChanged", kind == _Kind.OWNER, 0, lambda p: cust[p])
    rows_of("RiskRated", kind == _Kind.RATE, 0, lambda p: cust[p])
    rows_of("AllocationRuleAdopted", kind == _Kind.ALLOCATION_RULE, 0, lambda p: cust[p])
    rows_of("InvoiceIssued", kind == _Kind.ISSUE, 0, lambda p: space.invoice(inv[p]))
    rows_of("InvoiceAddedToAccount", kind == _Kind.ISSUE, 1, lambda p: cust[p])
    rows_of("DisputeOpened", kind == _Kind.DISPUTE, 0, lambda p: space.invoice(inv[p]))
    rows_of("DisputeResolved", kind == _Kind.RESOLVE, 0, lambda p: space.invoice(inv[p]))
    rows_of("CreditNoteApplied", upheld, 1, lambda p: space.invoice(inv[p]))
    rows_of("CreditNoteRegistered", upheld, 2, lambda p: space.credit_note(inv[p]))
    rows_of("PaymentReceived", kind == _Kind.RECEIVE, 0, lambda p: space.payment(inv[p], sub[p]))
    collected = _of_kind(kind, _Kind.RECEIVE, lambda at: plan.is_cash(inv[at], sub[at]))
    rows_of("PaymentCollected", collected, 1, lambda p: space.payment(inv[p], sub[p]))
    rows_of("CashHandedOver", kind == _Kind.HAND_OVER, 0, lambda p: space.payment(inv[p], 0))
    rows_of(
        "ReductionRequested",
        kind == _Kind.REDUCTION_REQUEST,
        0,
        lambda p: space.request(inv[p]),
    )
    rows_of("ReductionRejected", kind == _Kind.REDUCTION_REJECT, 0, lambda p: space.request(inv[p]))
    approve = kind == _Kind.REDUCTION_APPROVE
    rows_of("ReductionApproved", approve, 0, lambda p: space.request(inv[p]))
    rows_of("ConcessionApproved", approve, 1, lambda p: space.invoice(inv[p]))
    rows_of("PaymentApplied", kind == _Kind.ALLOCATE, 0, lambda p: space.invoice(inv[p]))
    rows_of("PaymentAllocated", kind == _Kind.ALLOCATE, 1, lambda p: space.payment(inv[p], sub[p]))
    rows_of("PaymentUnapplied", kind == _Kind.REVERSE, 0, lambda p: space.invoice(inv[p]))
    rows_of("PaymentReversed", kind == _Kind.REVERSE, 1, lambda p: space.payment(inv[p], 0))
    rows_of("CollectionActionRecorded", kind == _Kind.ACTION, 0, lambda p: nc + cust[p])
    rows_of("DelinquencyDiagnosed", kind == _Kind.DIAGNOSE, 0, lambda p: nc + cust[p])
    rows_of("BankruptcyFiled", kind == _Kind.BANKRUPTCY, 0, lambda p: cust[p])
    rows_of("FraudSuspected", kind == _Kind.FRAUD, 0, lambda p: cust[p])
    rows_of("CollectionTargetSet", kind == _Kind.TARGET, 0, lambda p: cust[p])
    superseding = (kind == _Kind.PROMISE) & (sub == 1)
    rows_of("PromiseSuperseded", superseding, 0, lambda p: space.promise(inv[p], 0))
    rows_of(
        "PromiseMade", kind == _Kind.PROMISE, superseding.astype(np.int64),
        lambda p: space.promise(inv[p], sub[p]),
    )  # fmt: skip
    rows_of("InvoiceWrittenOff", kind == _Kind.WRITE_OFF, 0, lambda p: space.invoice(inv[p]))
    rows_of(
        "InvoiceDueDateOverridden",
        kind == _Kind.DUE_DATE_OVERRIDE,
        0,
        lambda p: space.invoice(inv[p]),
    )
    rows_of("GoodsInLieuProposed", kind == _Kind.GOODS_PROPOSE, 0, lambda p: cust[p])
    rows_of("GoodsInLieuApproved", kind == _Kind.GOODS_APPROVE, 0, lambda p: cust[p])
    settle = kind == _Kind.GOODS_SETTLE
    rows_of("GoodsInLieuApplied", settle, 0, lambda p: space.invoice(inv[p]))
    rows_of("GoodsInLieuSettled", settle, 1, lambda p: cust[p])
    assert (agg_by_seq >= 0).all(), "every event belongs to an aggregate"

    # Versions: each event's rank among its aggregate's events, in log order.
    by_aggregate = np.argsort(agg_by_seq, kind="stable")
    sorted_aggs = agg_by_seq[by_aggregate]
    starts = np.flatnonzero(np.r_[True, sorted_aggs[1:] != sorted_aggs[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, total]))
    version_by_seq = np.empty(total, dtype=np.int64)
    version_by_seq[by_aggregate] = np.arange(total) - group_start + 1

    # Ids in order of first appearance: the creating event (version 1) always names it first.
    created = agg_by_seq[version_by_seq == 1]
    id_of = np.full(space.size, -1, dtype=np.int64)
    id_of[created] = ids_base + np.arange(len(created))
    id_bytes = _id_bytes(plan, space, created)

    tick = TICK // timedelta(microseconds=1)
    timestamps = recorded_from + (tick_base + np.arange(len(kind)) + 1) * tick
    batches: dict[str, pa.RecordBatch] = {}
    for name, (positions, local, agg) in rows.items():
        if not len(positions):
            continue
        envelope = [
            _ints(seq_base + local + 1),
            _ids(id_of[agg]),
            _ints(version_by_seq[local]),
            pa.array(timestamps[positions]).view(TIMESTAMP),
        ]
        fields = _FIELDS[name](
            plan,
            _Rows(
                customer=cust[positions],
                invoice=inv[positions],
                sub=sub[positions],
                ids=id_of,
                space=space,
            ),
        )
        batches[name] = pa.record_batch(envelope + fields, schema=SCHEMAS[name])
    return _Chunk(
        ids=_id_batch(id_bytes),
        batches=batches,
        first=seq_base + commands.first + 1,
        events=total,
        commands=len(kind),
    )


def _id_batch(id_bytes: np.ndarray) -> pa.RecordBatch:
    rows = len(id_bytes)
    array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), rows, [None, pa.py_buffer(np.ascontiguousarray(id_bytes).tobytes())]
    )
    return pa.record_batch([array], schema=IDS_SCHEMA)


def _id_bytes(plan: _Plan, space: _Aggregates, created: np.ndarray) -> np.ndarray:
    """The uuid5 of each created aggregate, in creation order."""
    out = np.empty((len(created), 16), dtype=np.uint8)
    prefix = f"G{plan.seed}-"
    kinds: list[tuple[int, int, str, Callable[[np.ndarray], np.ndarray]]] = [
        (0, space.case_base, "customer", lambda a: _customer_keys(plan, a)),
        (space.case_base, space.invoice_base, "collection-case",
         lambda a: _customer_keys(plan, a - space.case_base)),
        (space.invoice_base, space.payment_base, "invoice",
         lambda a: _invoice_keys(plan, a - space.invoice_base)),
        (space.payment_base, space.promise_base, "payment",
         lambda a: _keys(prefix + "P", _number(plan, (a - space.payment_base) // 2),
                         _INVOICE_DIGITS, (a - space.payment_base) % 2 + 1)),
        (space.promise_base, space.credit_note_base, "promise",
         lambda a: _keys(prefix + "R", _number(plan, (a - space.promise_base) // 2),
                         _INVOICE_DIGITS, (a - space.promise_base) % 2 + 1)),
        (space.credit_note_base, space.request_base, "credit-note",
         lambda a: _credit_note_keys(plan, a - space.credit_note_base)),
        (space.request_base, space.authority, "reduction-request",
         lambda a: _request_keys(plan, a - space.request_base)),
    ]  # fmt: skip
    for low, high, kind, keys in kinds:
        mask = (created >= low) & (created < high)
        if mask.any():
            out[mask] = _uuid5(kind, keys(created[mask]))
    for aggregate, uuid in (
        (space.authority, domain_ids.authority_book_id()),
        (space.rate_book, domain_ids.rate_book_id()),
    ):
        out[created == aggregate] = np.frombuffer(uuid.bytes, dtype=np.uint8)
    return out


def _number(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    """The invoice's number in the ledger (1-based)."""
    return plan.invoice_first + invoice + 1


def _customer_keys(plan: _Plan, customer: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-C", plan.customer_first + customer + 1, _CUSTOMER_DIGITS)


def _invoice_keys(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-I", _number(plan, invoice), _INVOICE_DIGITS)


def _dispute_keys(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-D", _number(plan, invoice), _INVOICE_DIGITS)


def _credit_note_keys(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    """The upheld dispute's credit-note number, the ledger's default ``<dispute>-CN``."""
    keys = _dispute_keys(plan, invoice)
    return np.ascontiguousarray(np.concatenate([keys, _text("-CN", len(keys))], axis=1))


# Field columns per class ----------------------------------------------------------------------


@attrs.frozen
class _Rows:
    """The commands making one class's rows: their customers, invoices and subs (payment,
    promise or action slot), and the chunk's id index per aggregate."""

    customer: np.ndarray
    invoice: np.ndarray
    sub: np.ndarray
    ids: np.ndarray
    space: _Aggregates

    @property
    def count(self) -> int:
        return len(self.customer)


Fields = Callable[[_Plan, _Rows], list[pa.Array]]


def _currency(plan: _Plan, customer: np.ndarray) -> pa.Array:
    return _pool(CURRENCIES, plan.currency[customer])


def _opened(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    number = plan.customer_first + customer + 1
    names = pc.binary_join_element_wise(
        _pool(tuple(x for places in _PLACES for x in places), plan.currency[customer] * 6
              + plan.place[customer]),
        _pool(_TRADES, plan.trade[customer]),
        _strings(_digits(number, _CUSTOMER_DIGITS)),
        " ",
    )  # fmt: skip
    instalments = plan.instalment_terms[customer]
    return [
        _strings(_customer_keys(plan, customer)),
        names,
        _currency(plan, customer),
        _pool(OWNERS, plan.owner[customer]),
        _pool(
            (PaymentTermsKind.NET.value, PaymentTermsKind.INSTALMENTS.value),
            instalments.astype(np.int64),
        ),
        _ints(plan.terms_days[customer]),
        _dates(plan.opened_on[customer]),
    ]


def _credit_line(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    return [
        _ints(plan.credit_line[customer]),
        _currency(plan, customer),
        _dates(plan.opened_on[customer]),
        _constant(CREDIT_APPROVER, rows.count),
        _constant(_CREDIT_REASON, rows.count),
        pa.nulls(rows.count, pa.int64()),
    ]


def _owner_changed(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    return [_pool(OWNERS, plan.owner_new[customer]), _dates(plan.owner_changed_on[customer])]


def _rated(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    return [
        _pool(tuple(r.value for r in RiskRating), plan.rating[customer]),
        _dates(plan.rated_on[customer]),
        _constant(_RATING_REASON, rows.count),
    ]


def _rule_adopted(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    return [
        _pool(tuple(rule.value for rule in _RULES_ADOPTED), plan.rule_adopted[customer]),
        _dates(plan.rule_effective_on[customer]),
        _constant(APPROVER, rows.count),
        _constant(_RULE_REASON, rows.count),
    ]


def _diagnosed_on(plan: _Plan) -> np.ndarray:
    """Per customer: the day its cause of late payment is diagnosed (``_NEVER``: not)."""
    profiles = np.array([PROFILES[index] in _DIAGNOSES for index in range(len(PROFILES))])
    diagnosed = (plan.rating >= 2) & profiles[plan.profile]
    on: np.ndarray = np.where(diagnosed, plan.rated_on + _DIAGNOSED_DAYS, _NEVER)
    return on


def _diagnosis_codes(plan: _Plan, customer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the code of its diagnosed type (in ``_DIAGNOSIS_TYPES``) and note."""
    types = np.zeros(len(PROFILES), dtype=np.int64)
    notes = np.zeros(len(PROFILES), dtype=np.int64)
    for number, (profile, (found, _)) in enumerate(_DIAGNOSES.items()):
        types[PROFILES.index(profile)] = _DIAGNOSIS_TYPES.index(found)
        notes[PROFILES.index(profile)] = number
    return types[plan.profile[customer]], notes[plan.profile[customer]]


def _diagnosed(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    types, notes = _diagnosis_codes(plan, customer)
    return [
        _ids(rows.ids[customer]),
        _pool(tuple(found.value for found in _DIAGNOSIS_TYPES), types),
        _dates(_diagnosed_on(plan)[customer]),
        _pool(_DIAGNOSIS_NOTES, notes),
    ]


# Distress (issue 14 item 2): derived from the draws above, drawing nothing, so that every
# other figure stays as it was for a seed.
_BANKRUPTCY_DAYS: Final = 30
"""Half the defaulters rated C or D (by customer number) file for bankruptcy this many days
after their rating: about 1% of the customers."""
_FRAUD_DAYS: Final = 14
"""A third of the bounced payers rated C or D (by customer number) are suspected of fraud
this many days after their rating: about 1% of the customers."""
_BANKRUPTCY_REASON: Final = "insolvency proceedings opened by the court"
_FRAUD_REASON: Final = "goods resold below cost, bounced payments"


def _distress_on(plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the day its bankruptcy is filed and the day fraud is suspected of it
    (``_NEVER``: not)."""
    number = np.arange(len(plan.profile))
    rated = plan.rating >= 2
    profile = np.asarray(PROFILES, dtype=object)[plan.profile]
    bankrupt = rated & (profile == Profile.DEFAULTER) & (number % 2 == 0)
    fraud = rated & (profile == Profile.BOUNCED_PAYER) & (number % 3 == 0)
    return (
        np.where(bankrupt, plan.rated_on + _BANKRUPTCY_DAYS, _NEVER),
        np.where(fraud, plan.rated_on + _FRAUD_DAYS, _NEVER),
    )


def _bankruptcy_filed(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    return [
        _dates(_distress_on(plan)[0][rows.customer]),
        _constant(_BANKRUPTCY_REASON, rows.count),
    ]


def _fraud_suspected(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    return [
        _dates(_distress_on(plan)[1][rows.customer]),
        _constant(_FRAUD_REASON, rows.count),
    ]


# Monthly collection plans and promises in tranches (issue 14 item 1): derived from the draws
# above, drawing nothing, so that every other figure stays as it was for a seed.
_TARGET_DAYS: Final = 3
"""Days after a customer's rating that its owner sets next month's collection target, when
the customer has promised nothing."""
_TARGET_SHARE: Final = 5
"""Without a promise, the target is a fifth of the credit line (at least one minor unit)."""
_TARGET_NOTE: Final = "agreed with the customer's finance"
_TRANCHE_EVERY: Final = 4
"""One promise in four (by invoice number) with a window of at least ``_TRANCHE_DAYS_MIN``
days is made in two tranches: half (rounded up) at mid-window, the rest on its date."""
_TRANCHE_DAYS_MIN: Final = 14


def _targets(plan: _Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: (the day its owner sets a collection target, ``_NEVER``: none; the
    target month's first day; the target). A customer who promises gets a plan the day of its
    first promise, for the month of the promised date, of twice the promised amount (the
    handbook's gap between target and commitment); a customer rated B or worse who promised
    nothing gets one a few days after the rating for the next month, of a fifth of its credit
    line: a plan with no promise behind it."""
    nc = len(plan.currency)
    made = plan.promise_made[:, 0]
    order = np.lexsort((np.arange(len(made)), made, plan.customer))
    first = np.full(nc, -1, dtype=np.int64)
    promising = order[made[order] < _NEVER]
    customers = plan.customer[promising]
    keep = np.r_[True, customers[1:] != customers[:-1]] if len(customers) else customers > 0
    first[customers[keep]] = promising[keep]
    promised = first >= 0
    chosen = np.maximum(first, 0)
    rated = ~promised & (plan.rating >= 1)
    set_on = np.where(promised, made[chosen], np.where(rated, plan.rated_on + _TARGET_DAYS, _NEVER))
    month_of = np.where(promised, plan.promise_on[chosen, 0], set_on)
    month_on = _month_on(month_of, np.where(promised, 0, 1))
    amount = np.where(
        promised,
        2 * plan.amount[chosen],
        np.maximum(plan.credit_line // _TARGET_SHARE, 1),
    )
    return set_on, month_on, amount


def _month_on(days: np.ndarray, months_after: np.ndarray) -> np.ndarray:
    """The first day of the month ``months_after`` the one of ``days`` (days since 1970)."""
    months = np.minimum(days, 10**6).astype("datetime64[D]").astype("datetime64[M]")
    result: np.ndarray = (months + months_after).astype("datetime64[D]").astype(np.int64)
    return result


def _target_set(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    customer = rows.customer
    set_on, month_on, amount = (values[customer] for values in _targets(plan))
    return [
        _dates(month_on),
        _ints(amount),
        _currency(plan, customer),
        _pool(OWNERS, _owner_on(plan, customer, set_on)),
        _dates(set_on),
        _constant(_TARGET_NOTE, rows.count),
    ]


def _tranche_parts(
    plan: _Plan, invoice: np.ndarray, made_on: np.ndarray, promised_on: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(in tranches, first tranche's date, first tranche's amount) of each promise."""
    window = promised_on - made_on
    number = plan.invoice_first + invoice + 1
    amount = plan.amount[invoice]
    split = (number % _TRANCHE_EVERY == 0) & (window >= _TRANCHE_DAYS_MIN) & (amount >= 2)
    return split, made_on + window // 2, amount - amount // 2


def _tranches(
    plan: _Plan, invoice: np.ndarray, made_on: np.ndarray, promised_on: np.ndarray
) -> pa.Array:
    split, first_on, first_minor = _tranche_parts(plan, invoice, made_on, promised_on)
    counts = np.where(split, 2, 0)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
    on = np.stack([first_on, promised_on], axis=1)[split].ravel()
    parts = np.stack([first_minor, plan.amount[invoice] - first_minor], axis=1)[split].ravel()
    field_type = SCHEMAS["PromiseMade"].field("tranches").type
    values = pa.StructArray.from_arrays(
        [_dates(on), _ints(parts)], fields=list(field_type.value_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=field_type)


def _schedule(plan: _Plan, invoice: np.ndarray) -> pa.Array:
    """Three instalments for invoices of instalment customers, largest remainder split."""
    has = plan.instalment_terms[plan.customer[invoice]]
    parts = len(INSTALMENT_DAYS)
    counts = np.where(has, parts, 0)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
    chosen = invoice[has]
    amount = plan.amount[chosen]
    base = amount // parts
    remainder = amount % parts
    amounts = base[:, None] + (np.arange(parts)[None, :] < remainder[:, None])
    assert (amounts.sum(axis=1) == amount).all()
    due = plan.issued_on[chosen][:, None] + np.array(INSTALMENT_DAYS)[None, :]
    field_type = SCHEMAS["InvoiceIssued"].field("instalments").type
    values = pa.StructArray.from_arrays(
        [_dates(due.ravel()), _ints(amounts.ravel())], fields=list(field_type.value_type)
    )
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=field_type)


def _issued(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    customer = rows.customer
    return [
        _strings(_invoice_keys(plan, invoice)),
        _ids(rows.ids[customer]),
        _ints(plan.amount[invoice]),
        _currency(plan, customer),
        _dates(plan.issued_on[invoice]),
        _dates(plan.due_on[invoice]),
        _schedule(plan, invoice),
        _constant("", rows.count),
        # Interest and fees: the generated invoices are all principal.
        _ints(np.zeros(len(invoice), dtype=np.int64)),
        _ints(np.zeros(len(invoice), dtype=np.int64)),
    ]


def _added(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [_ids(rows.ids[rows.space.invoice(invoice)]), _strings(_invoice_keys(plan, invoice))]


def _dispute_opened(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    reason = plan.dispute_reason[invoice]
    return [
        _strings(_dispute_keys(plan, invoice)),
        _ints(plan.disputed[invoice]),
        _currency(plan, rows.customer),
        _pool(tuple(r.value for r in _DISPUTE_REASONS), reason),
        _pool(_ROOT_CAUSES, reason),
        _dates(plan.dispute_on[invoice]),
    ]


def _dispute_resolved(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    rejected = (plan.upheld[invoice] == 0).astype(np.int64)
    return [
        _strings(_dispute_keys(plan, invoice)),
        _pool((DisputeOutcome.UPHELD.value, DisputeOutcome.REJECTED.value), rejected),
        _ints(plan.upheld[invoice]),
        _currency(plan, rows.customer),
        _dates(plan.resolved_on[invoice]),
        _pool(_RESOLVE_NOTES, rejected),
    ]


def _credit_note(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    # The ledger's defaults for an upheld dispute: note "<dispute>-CN", reason "dispute <ref>
    # upheld".
    invoice = rows.invoice
    return [
        _strings(_credit_note_keys(plan, invoice)),
        _ints(plan.upheld[invoice]),
        _currency(plan, rows.customer),
        _dates(plan.resolved_on[invoice]),
        _credit_note_reason(plan, rows),
        _senior_if_above(plan.upheld[invoice], plan.currency[rows.customer]),
        pa.nulls(rows.count, pa.string()),  # second_approver: a dispute has one approver
    ]


def _senior_if_above(amount_minor: np.ndarray, currency: np.ndarray) -> pa.Array:
    """The approver of a reduction with one approver: the finance director, or above their
    two-approver threshold the chief financial officer."""
    return _pool((APPROVER, SENIOR_APPROVER), _above_threshold(amount_minor, currency))


def _rate_decimal(plan: _Plan, month: int, pair: int) -> Decimal:
    return Decimal(int(plan.rate_ten_thousandths[month, pair])).scaleb(-4)


def _rate_recorded(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    # The month is in the invoice column, the pair in the sub column (see ``_commands``).
    terms = [
        rate_terms(
            _rate_decimal(plan, month, pair),
            from_currency=RATE_PAIRS[pair][0],
            to_currency=RATE_PAIRS[pair][1],
        )
        for month, pair in zip(rows.invoice.tolist(), rows.sub.tolist(), strict=True)
    ]
    return [
        _pool(tuple(pair[0] for pair in RATE_PAIRS), rows.sub),
        _pool(tuple(pair[1] for pair in RATE_PAIRS), rows.sub),
        pa.array([numerator for numerator, _ in terms], pa.int64()),
        pa.array([denominator for _, denominator in terms], pa.int64()),
        _dates(plan.rate_on[rows.invoice]),
        _constant(_RATE_SOURCE, rows.count),
    ]


def _authority_adopted(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    return [
        pa.array([policy_text(authority_policy())] * rows.count, pa.string()),
        _dates(np.full(rows.count, plan.authority_on)),
        _constant(_AUTHORITY_APPROVER, rows.count),
        _constant(_AUTHORITY_REASON, rows.count),
    ]


def _credit_note_registered(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    """The registration of the upheld dispute's credit-note number, with the same content."""
    invoice = rows.invoice
    return [
        _strings(_credit_note_keys(plan, invoice)),
        _ids(rows.ids[rows.space.invoice(invoice)]),
        _ids(rows.ids[rows.customer]),
        _ints(plan.upheld[invoice]),
        _currency(plan, rows.customer),
        _dates(plan.resolved_on[invoice]),
        _credit_note_reason(plan, rows),
    ]


def _credit_note_reason(plan: _Plan, rows: _Rows) -> pa.Array:
    reference = _strings(_dispute_keys(plan, rows.invoice))
    return pc.binary_join_element_wise(
        _constant("dispute", rows.count), reference, _constant("upheld", rows.count), " "
    )


def _payment_keys(plan: _Plan, invoice: np.ndarray, sub: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-P", _number(plan, invoice), _INVOICE_DIGITS, sub + 1)


def _received(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, sub, customer = rows.invoice, rows.sub, rows.customer
    return [
        _strings(_payment_keys(plan, invoice, sub)),
        _ids(rows.ids[customer]),
        _ints(plan.pay_amount[invoice, sub]),
        _currency(plan, customer),
        _dates(plan.pay_on[invoice, sub]),
    ]


def _applied(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    # Applied on the value date (cash: the day after its handover): no payment is planned
    # before its invoice's issue or reopening.
    invoice, sub = rows.invoice, rows.sub
    return [
        _ids(rows.ids[rows.space.payment(invoice, sub)]),
        _ints(plan.pay_amount[invoice, sub]),
        _currency(plan, rows.customer),
        _dates(plan.allocated_on(invoice, sub)),
    ]


def _collected(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, customer = rows.invoice, rows.customer
    return [
        _pool(OWNERS, _owner_on(plan, customer, plan.pay_on[invoice, 0])),
        _constant(ReceiptMethod.CASH.value, rows.count),
    ]


def _handed_over(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    return [_dates(plan.handed_on[rows.invoice]), _constant(FINANCE_CASHIER, rows.count)]


def _allocated(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, sub = rows.invoice, rows.sub
    return [
        _ids(rows.ids[rows.space.invoice(invoice)]),
        _ints(plan.pay_amount[invoice, sub]),
        _currency(plan, rows.customer),
        _dates(plan.allocated_on(invoice, sub)),
        pa.nulls(rows.count, pa.string()),  # allocation_key: the generator's commands give none
    ]


def _unapplied(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _ids(rows.ids[rows.space.payment(invoice, np.zeros_like(invoice))]),
        _ints(plan.pay_amount[invoice, 0]),
        _currency(plan, rows.customer),
        _dates(plan.reversed_on[invoice]),
        _constant(_REVERSAL_REASON, rows.count),
    ]


def _reversed(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    field_type = SCHEMAS["PaymentReversed"].field("released").type
    values = pa.StructArray.from_arrays(
        [_ids(rows.ids[rows.space.invoice(invoice)]), _ints(plan.pay_amount[invoice, 0])],
        fields=list(field_type.value_type),
    )
    offsets = pa.array(np.arange(rows.count + 1, dtype=np.int32))
    return [
        _dates(plan.reversed_on[invoice]),
        _constant(_REVERSAL_REASON, rows.count),
        pa.ListArray.from_arrays(offsets, values, type=field_type),
    ]


def _owner_on(plan: _Plan, customer: np.ndarray, on: np.ndarray) -> np.ndarray:
    changed = (plan.owner_new[customer] >= 0) & (plan.owner_changed_on[customer] <= on)
    owner: np.ndarray = np.where(changed, plan.owner_new[customer], plan.owner[customer])
    return owner


def _action(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, index, customer = rows.invoice, rows.sub, rows.customer
    taken = plan.action_on[invoice, index]
    kind = plan.action_kind[invoice, index]
    step_days = _STEP_DAYS[kind]
    has_step = _HAS_STEP[kind]
    return [
        _ids(rows.ids[customer]),
        _pool(tuple(a.channel.value for a in _ACTIONS), kind),
        _dates(taken),
        _pool(OWNERS, _owner_on(plan, customer, taken)),
        _pool(CONTACTS, plan.contact[customer]),
        _pool(tuple(a.outcome for a in _ACTIONS), kind),
        _pool(tuple(a.next_step for a in _ACTIONS), kind),
        _dates(taken + step_days, has_step),
    ]


def _promise_keys(plan: _Plan, invoice: np.ndarray, sub: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-R", _number(plan, invoice), _INVOICE_DIGITS, sub + 1)


def _superseded(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _dates(plan.promise_made[invoice, 1]),
        _strings(_promise_keys(plan, invoice, np.ones_like(invoice))),
    ]


def _promised(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, sub, customer = rows.invoice, rows.sub, rows.customer
    offsets = pa.array(np.arange(rows.count + 1, dtype=np.int32))
    field_type = SCHEMAS["PromiseMade"].field("invoice_ids").type
    return [
        _strings(_promise_keys(plan, invoice, sub)),
        _ids(rows.ids[customer]),
        _ints(plan.amount[invoice]),
        _currency(plan, customer),
        _dates(plan.promise_on[invoice, sub]),
        _dates(plan.promise_made[invoice, sub]),
        _pool(CONTACTS, plan.contact[customer]),
        pa.ListArray.from_arrays(
            offsets, _ids(rows.ids[rows.space.invoice(invoice)]), type=field_type
        ),
        _tranches(plan, invoice, plan.promise_made[invoice, sub], plan.promise_on[invoice, sub]),
    ]


def _written_off(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    # What is open: the amount less the part paid and the goods settled before (always dated
    # earlier).
    invoice = rows.invoice
    open_minor = plan.amount[invoice] - plan.pay_amount[invoice, 0] - plan.goods_valued[invoice]
    second = _above_threshold(open_minor, plan.currency[rows.customer])
    return [
        _ints(open_minor),
        _currency(plan, rows.customer),
        _dates(plan.written_off_on[invoice]),
        _constant(_WRITE_OFF_REASON, rows.count),
        _constant(APPROVER, rows.count),
        # Above the finance director's threshold the chief financial officer approves too.
        pa.array([SENIOR_APPROVER if above else None for above in second.tolist()], pa.string()),
    ]


def _due_date_overridden(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _dates(plan.overridden_due_on[invoice]),
        _dates(plan.due_on[invoice]),
        _dates(plan.overridden_on[invoice]),
        _constant(_OVERRIDE_REASON, rows.count),
        _pool((MANAGER_APPROVER, APPROVER), _postponed_long(plan, invoice)),
    ]


def _postponed_long(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    """Per override: longer than the collections manager may grant (the finance director
    approves it)."""
    days = plan.overridden_due_on[invoice] - plan.due_on[invoice]
    long: np.ndarray = days > _MANAGER_POSTPONEMENT_DAYS
    return long


def _request_keys(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-Q", _number(plan, invoice), _INVOICE_DIGITS)


def _reduction_requested(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice, customer = rows.invoice, rows.customer
    on = plan.request_on[invoice]
    return [
        _strings(_request_keys(plan, invoice)),
        _constant(ReductionKind.CONCESSION.value, rows.count),
        _ids(rows.ids[rows.space.invoice(invoice)]),
        _ids(rows.ids[customer]),
        _ints(plan.request_amount[invoice]),
        _currency(plan, customer),
        _dates(on),
        _constant(_REQUEST_REASON, rows.count),
        _pool(OWNERS, _owner_on(plan, customer, on)),
        _dates(on),
        pa.nulls(rows.count, pa.string()),  # credit_note_number: a concession has none
        pa.nulls(rows.count, pa.date32()),  # due_on: not a due-date override
    ]


def _reduction_rejected(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    return [
        _constant(APPROVER, rows.count),
        _dates(plan.request_rejected_on[rows.invoice]),
        _constant(_REJECT_REASON, rows.count),
    ]


def _reduction_approved(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _senior_if_above(plan.request_amount[invoice], plan.currency[rows.customer]),
        _dates(plan.request_approved_on[invoice]),
        pa.array(np.ones(rows.count, dtype=np.bool_)),  # applied: one approver completes it
    ]


def _concession_approved(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    # The Ledger applies the request as asked: dated its ``reduce_on`` (the request's day).
    invoice = rows.invoice
    return [
        _ints(plan.request_amount[invoice]),
        _currency(plan, rows.customer),
        _dates(plan.request_on[invoice]),
        _constant(_REQUEST_REASON, rows.count),
        _senior_if_above(plan.request_amount[invoice], plan.currency[rows.customer]),
        pa.nulls(rows.count, pa.string()),  # second_approver: one approver suffices
    ]


def _goods_keys(plan: _Plan, invoice: np.ndarray) -> np.ndarray:
    return _keys(f"G{plan.seed}-G", _number(plan, invoice), _INVOICE_DIGITS)


def _goods_proposed(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _strings(_goods_keys(plan, invoice)),
        _constant(_GOODS, rows.count),
        _ints(np.ones(rows.count, dtype=np.int64)),
        _constant(_GOODS_UNIT, rows.count),
        _ints(plan.goods_appraised[invoice]),
        _currency(plan, rows.customer),
        _constant(APPRAISER, rows.count),
        _ints(np.full(rows.count, _GOODS_HAIRCUT_BPS, dtype=np.int64)),
        _ints(plan.goods_valued[invoice]),
        _dates(plan.goods_on[invoice]),
    ]


def _goods_approved(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _strings(_goods_keys(plan, invoice)),
        _ints(plan.goods_valued[invoice]),
        _currency(plan, rows.customer),
        _senior_if_above(plan.goods_valued[invoice], plan.currency[rows.customer]),
        _constant(_GOODS_REASON, rows.count),
        _dates(plan.goods_on[invoice] + 5),
    ]


def _goods_applied(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    return [
        _strings(_goods_keys(plan, invoice)),
        _ints(plan.goods_valued[invoice]),
        _currency(plan, rows.customer),
        _dates(plan.goods_on[invoice] + 10),
    ]


def _goods_settled(plan: _Plan, rows: _Rows) -> list[pa.Array]:
    invoice = rows.invoice
    field_type = SCHEMAS["GoodsInLieuSettled"].field("allocations").type
    values = pa.StructArray.from_arrays(
        [_ids(rows.ids[rows.space.invoice(invoice)]), _ints(plan.goods_valued[invoice])],
        fields=list(field_type.value_type),
    )
    offsets = pa.array(np.arange(rows.count + 1, dtype=np.int32))
    return [
        _strings(_goods_keys(plan, invoice)),
        pa.ListArray.from_arrays(offsets, values, type=field_type),
        _currency(plan, rows.customer),
        _dates(plan.goods_on[invoice] + 10),
    ]


_FIELDS: Final[dict[str, Fields]] = {
    "CustomerAccountOpened": _opened,
    "CreditLineSet": _credit_line,
    "CollectionOwnerChanged": _owner_changed,
    "RiskRated": _rated,
    "AuthorityPolicyAdopted": _authority_adopted,
    "ExchangeRateRecorded": _rate_recorded,
    "AllocationRuleAdopted": _rule_adopted,
    "InvoiceIssued": _issued,
    "InvoiceDueDateOverridden": _due_date_overridden,
    "InvoiceAddedToAccount": _added,
    "DisputeOpened": _dispute_opened,
    "DisputeResolved": _dispute_resolved,
    "CreditNoteApplied": _credit_note,
    "CreditNoteRegistered": _credit_note_registered,
    "PaymentReceived": _received,
    "PaymentApplied": _applied,
    "PaymentCollected": _collected,
    "CashHandedOver": _handed_over,
    "ReductionRequested": _reduction_requested,
    "ReductionRejected": _reduction_rejected,
    "ReductionApproved": _reduction_approved,
    "ConcessionApproved": _concession_approved,
    "PaymentAllocated": _allocated,
    "PaymentUnapplied": _unapplied,
    "PaymentReversed": _reversed,
    "CollectionActionRecorded": _action,
    "DelinquencyDiagnosed": _diagnosed,
    "BankruptcyFiled": _bankruptcy_filed,
    "FraudSuspected": _fraud_suspected,
    "CollectionTargetSet": _target_set,
    "PromiseSuperseded": _superseded,
    "PromiseMade": _promised,
    "InvoiceWrittenOff": _written_off,
    "GoodsInLieuProposed": _goods_proposed,
    "GoodsInLieuApproved": _goods_approved,
    "GoodsInLieuApplied": _goods_applied,
    "GoodsInLieuSettled": _goods_settled,
}


# Chunks and pages -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Options:
    invoices: int
    seed: int
    chunk_customers: int
    start_on: date
    end_on: date

    @property
    def start(self) -> int:
        return (self.start_on - EPOCH).days

    @property
    def end(self) -> int:
        return (self.end_on - EPOCH).days

    @property
    def customers(self) -> int:
        return -(-self.invoices // INVOICES_PER_CUSTOMER)

    @property
    def recorded_from(self) -> datetime:
        """Midnight UTC after the period: the recording clock's start (first command a tick
        later)."""
        return datetime.combine(self.end_on + timedelta(days=1), datetime.min.time(), UTC)


def _options(
    invoices: int, seed: int, chunk_customers: int, start_on: date, end_on: date
) -> _Options:
    if type(invoices) is not int or not INVOICES_MIN <= invoices <= INVOICES_MAX:
        raise InvalidCommandError(
            f"invoices must be a whole number from {INVOICES_MIN} to {INVOICES_MAX:,}, "
            f"got {invoices!r}",
            field="invoices",
        )
    if type(seed) is not int or not 0 <= seed <= SEED_MAX:
        raise InvalidCommandError(
            f"seed must be a whole number from 0 to {SEED_MAX}, got {seed!r}", field="seed"
        )
    if type(chunk_customers) is not int or chunk_customers < 1:
        raise InvalidCommandError(
            f"chunk_customers must be a positive whole number, got {chunk_customers!r}",
            field="chunk_customers",
        )
    if not isinstance(start_on, date) or not isinstance(end_on, date) or end_on < start_on:
        raise InvalidCommandError(
            f"the period {start_on!r} .. {end_on!r} must be two dates in order", field="end_on"
        )
    return _Options(
        invoices=invoices,
        seed=seed,
        chunk_customers=chunk_customers,
        start_on=start_on,
        end_on=end_on,
    )


def _plans(options: _Options) -> Iterator[_Plan]:
    """Each chunk's plan: customers in chunks, invoices shared out in proportion."""
    customers = options.customers
    for chunk, low in enumerate(range(0, customers, options.chunk_customers)):
        high = min(low + options.chunk_customers, customers)
        invoices = (options.invoices * low // customers, options.invoices * high // customers)
        yield _plan(options.seed, chunk, (low, high), invoices, options.start, options.end)


def _chunks(options: _Options, *, ids_per_chunk: bool = False) -> Iterator[tuple[_Plan, _Chunk]]:
    """Each chunk's events; ids index the whole log's ``ids`` table, or with ``ids_per_chunk``
    the chunk's own (to decode a chunk alone)."""
    recorded_from = int(options.recorded_from.timestamp()) * 1_000_000
    seq = ids = ticks = 0
    for plan in _plans(options):
        chunk = _build(
            plan,
            options.end,
            seq_base=seq,
            ids_base=0 if ids_per_chunk else ids,
            tick_base=ticks,
            recorded_from=recorded_from,
        )
        seq += chunk.events
        ids += chunk.ids.num_rows
        ticks += chunk.commands
        yield plan, chunk


# Public API -----------------------------------------------------------------------------------


def generate(
    invoices: int,
    seed: int,
    sink: Sink,
    *,
    chunk_customers: int = CHUNK_CUSTOMERS_DEFAULT,
    start_on: date = START_ON_DEFAULT,
    end_on: date = END_ON_DEFAULT,
    page_rows: int = PAGE_ROWS_DEFAULT,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Stream the synthetic ledger to ``sink`` in the columnar layout; returns rows per table.

    ``sink`` gets ("ids", batch) before any page that refers to those ids, and pages of at most
    ``page_rows`` rows per class, as ``columnar.ColumnarWriter`` gives them. ``progress(done,
    total)`` is called after each chunk with invoices generated so far.
    """
    options = _options(invoices, seed, chunk_customers, start_on, end_on)
    pages = Pages(sink, page_rows)
    for plan, chunk in _chunks(options):
        pages.emit("ids", chunk.ids)
        for name, batch in chunk.batches.items():
            pages.add(name, batch)
        if progress is not None:
            progress(plan.invoice_first + len(plan.amount), invoices)
    pages.close()
    return dict(pages.rows)


def generate_columnar(invoices: int, seed: int, **options: Any) -> ColumnarLog:
    """The synthetic ledger in memory (for tests and benchmarks); options as ``generate``."""
    collector = Collector()
    generate(invoices, seed, collector, **options)
    return collector.log()


def generate_parquet(invoices: int, seed: int, directory: Path, **options: Any) -> dict[str, int]:
    """Write the synthetic ledger to a Parquet directory (``columnar.read_parquet`` reads it);
    returns rows per table. Options as ``generate``."""
    with ParquetSink(directory) as sink:
        generate(invoices, seed, sink, **options)
    return dict(sink.rows)


def generate_partitioned(
    invoices: int,
    seed: int,
    directory: Path,
    *,
    partitions: int,
    chunk_customers: int = CHUNK_CUSTOMERS_DEFAULT,
    start_on: date = START_ON_DEFAULT,
    end_on: date = END_ON_DEFAULT,
    page_rows: int = PAGE_ROWS_DEFAULT,
    progress: Progress | None = None,
) -> PartitionedExport:
    """Write the synthetic ledger as ``partitions`` customer partitions of ``directory``
    (``partitions.write_partitioned``'s layout), with no store in between.

    Each chunk of customers is cut into the partitions as it is made, in columns
    (``partitions.write_partitioned_columns``): no event is decoded, and the whole log is
    never held (decoding every event to re-partition it took 483 s at 1M invoices, and
    held the log and its events at once). Options as ``generate``."""
    options = _options(invoices, seed, chunk_customers, start_on, end_on)
    partitioned_target(directory)  # a folder it may not write: refused before the work

    def slices() -> Iterator[tuple[pa.Array, dict[str, pa.RecordBatch]]]:
        for plan, chunk in _chunks(options):
            yield chunk.ids.column(0), chunk.batches
            if progress is not None:
                progress(plan.invoice_first + len(plan.amount), invoices)

    return write_partitioned_columns(
        slices(), directory, partitions=partitions, page_rows=page_rows
    )


def generate_to_store(
    ledger: Ledger,
    invoices: int,
    seed: int,
    *,
    chunk_customers: int = CHUNK_CUSTOMERS_DEFAULT,
    start_on: date = START_ON_DEFAULT,
    end_on: date = END_ON_DEFAULT,
    events_per_batch: int = bulk.EVENTS_PER_BATCH,
    progress: Progress | None = None,
) -> int:
    """Record the synthetic ledger in ``ledger``'s store; returns how many events.

    Each chunk is decoded to events (as ``columnar.from_columnar`` does) and written by the bulk
    path, one transaction per ``events_per_batch`` events, never splitting a command's events;
    nothing is kept from one chunk to the next. The keys (``G<seed>-...``) must be new to the
    store: a repeat meets the library's ``IntegrityError`` on the first batch. The ledger-wide
    books (the authority policy, the exchange rates) are the first generated book's: a book of
    another seed generated into the same store leaves them as it finds them.
    """
    options = _options(invoices, seed, chunk_customers, start_on, end_on)
    if events_per_batch < 1:
        raise ValueError(f"events_per_batch must be positive, got {events_per_batch}")
    held = frozenset(
        book
        for book in (domain_ids.authority_book_id(), domain_ids.rate_book_id())
        if list(ledger.events.get(book, limit=1))
    )
    written = 0
    for plan, chunk in _chunks(options, ids_per_chunk=True):
        log = ColumnarLog(
            ids=pa.Table.from_batches([chunk.ids]),
            tables={name: pa.Table.from_batches([b]) for name, b in chunk.batches.items()},
        )
        events = list(from_columnar(log))
        assert len(events) == chunk.events
        for low, high in _cuts(chunk.first - chunk.first[0], len(events), events_per_batch):
            batch = events[low:high]
            if held:  # the books' commands are one event each: no command is split
                batch = [event for event in batch if event.originator_id not in held]
            bulk.insert_events(ledger, batch)
            written += len(batch)
            if progress is not None:
                # The chunk's invoices in proportion to its events written (a chunk is up to
                # ~50,000 invoices: a bar counting whole chunks would sit still).
                progress(plan.invoice_first + len(plan.amount) * high // len(events), invoices)
    return written


def _cuts(starts: np.ndarray, total: int, size: int) -> Iterator[tuple[int, int]]:
    """Slices of at most ``size`` events, each starting at a command's first event (``starts``,
    increasing from 0), so that no command is split; a command larger than ``size`` is a slice
    of its own."""
    low = 0
    while low < total:
        high = low + size
        if high >= total:
            high = total
        else:
            # The last command starting at or before ``high``; if that is the one at ``low``,
            # the command after it.
            index = int(np.searchsorted(starts, high, side="right")) - 1
            if int(starts[index]) > low:
                high = int(starts[index])
            else:
                following = int(np.searchsorted(starts, low, side="right"))
                high = int(starts[following]) if following < len(starts) else total
        yield low, high
        low = high


def customer_profiles(invoices: int, seed: int, **options: Any) -> dict[str, Profile]:
    """Each customer code's behaviour profile (the events do not carry it)."""
    chosen = _options(
        invoices,
        seed,
        options.get("chunk_customers", CHUNK_CUSTOMERS_DEFAULT),
        options.get("start_on", START_ON_DEFAULT),
        options.get("end_on", END_ON_DEFAULT),
    )
    result: dict[str, Profile] = {}
    for plan in _plans(chosen):
        for index, profile in enumerate(plan.profile.tolist()):
            result[_code(plan, index)] = PROFILES[profile]
    return result


# The same ledger through the domain commands --------------------------------------------------


@attrs.frozen
class Command:
    """One ``Ledger`` command: the method's name and its keyword arguments."""

    name: str
    fields: Mapping[str, Any]


def _tranche_commands(plan: _Plan, invoice: int, sub: int) -> tuple[PromiseTranche, ...]:
    one = np.array([invoice])
    promised_on = plan.promise_on[one, sub]
    split, first_on, first_minor = _tranche_parts(
        plan, one, plan.promise_made[one, sub], promised_on
    )
    if not split[0]:
        return ()
    return (
        PromiseTranche(promised_on=_day(first_on[0]), amount_minor=int(first_minor[0])),
        PromiseTranche(
            promised_on=_day(promised_on[0]),
            amount_minor=int(plan.amount[invoice] - first_minor[0]),
        ),
    )


def _day(days: Any) -> date:
    return EPOCH + timedelta(days=int(days))


def _code(plan: _Plan, customer: int) -> str:
    return customer_code(plan.seed, plan.customer_first + customer + 1)


def customer_code(seed: int, number: int) -> str:
    """The code of the generated ledger's customer ``number`` (1-based) for ``seed``."""
    return f"G{seed}-C{number:0{_CUSTOMER_DIGITS}d}"


def commands(
    invoices: int,
    seed: int,
    *,
    chunk_customers: int = CHUNK_CUSTOMERS_DEFAULT,
    start_on: date = START_ON_DEFAULT,
    end_on: date = END_ON_DEFAULT,
) -> Iterator[Command]:
    """The synthetic ledger as ``Ledger`` commands, in log order (for small sizes: one Python
    object per command). Keys and texts are formatted here independently of the columnar path."""
    options = _options(invoices, seed, chunk_customers, start_on, end_on)
    for plan in _plans(options):
        table = _commands(plan, options.end)
        for kind, on, customer, invoice, sub in zip(
            table.kind.tolist(),
            table.on.tolist(),
            table.customer.tolist(),
            table.invoice.tolist(),
            table.sub.tolist(),
            strict=True,
        ):
            yield _command(plan, _Kind(kind), _day(on), customer, invoice, sub)


def _command(plan: _Plan, kind: _Kind, on: date, customer: int, invoice: int, sub: int) -> Command:
    if kind is _Kind.EXCHANGE_RATE:
        from_currency, to_currency = RATE_PAIRS[sub]
        return Command(
            "record_exchange_rate",
            {
                "from_currency": from_currency,
                "to_currency": to_currency,
                "rate": _rate_decimal(plan, invoice, sub),
                "effective_on": on,
                "source": _RATE_SOURCE,
            },
        )
    if kind is _Kind.AUTHORITY:
        return Command(
            "adopt_authority_policy",
            {
                "policy": authority_policy(),
                "effective_on": on,
                "approver": _AUTHORITY_APPROVER,
                "reason": _AUTHORITY_REASON,
            },
        )
    code = _code(plan, customer)
    currency = CURRENCIES[int(plan.currency[customer])]
    contact = CONTACTS[int(plan.contact[customer])]
    if kind is _Kind.OPEN:
        places = _PLACES[int(plan.currency[customer])]
        number = plan.customer_first + customer + 1
        by_instalments = bool(plan.instalment_terms[customer])
        return Command(
            "open_account",
            {
                "customer_code": code,
                "name": f"{places[int(plan.place[customer])]} "
                f"{_TRADES[int(plan.trade[customer])]} {number:07d}",
                "currency": currency,
                "collection_owner": OWNERS[int(plan.owner[customer])],
                "opened_on": on,
                "terms_kind": PaymentTermsKind.INSTALMENTS
                if by_instalments
                else PaymentTermsKind.NET,
                "terms_days": int(plan.terms_days[customer]),
            },
        )
    if kind is _Kind.CREDIT:
        return Command(
            "set_credit_line",
            {
                "customer_code": code,
                "amount": Money(int(plan.credit_line[customer]), currency),
                "effective_on": on,
                "approver": CREDIT_APPROVER,
                "reason": _CREDIT_REASON,
            },
        )
    if kind is _Kind.OWNER:
        return Command(
            "change_owner",
            {
                "customer_code": code,
                "collection_owner": OWNERS[int(plan.owner_new[customer])],
                "changed_on": on,
            },
        )
    if kind is _Kind.TARGET:
        one = np.array([customer])
        set_on, month_on, amount = (values[one] for values in _targets(plan))
        return Command(
            "set_collection_target",
            {
                "customer_code": code,
                "month_on": _day(month_on[0]),
                "target": Money(int(amount[0]), currency),
                "set_by": OWNERS[int(_owner_on(plan, one, set_on)[0])],
                "set_on": on,
                "note": _TARGET_NOTE,
            },
        )
    if kind is _Kind.DIAGNOSE:
        types, notes = _diagnosis_codes(plan, np.array([customer]))
        return Command(
            "diagnose",
            {
                "customer_code": code,
                "delinquency_type": _DIAGNOSIS_TYPES[int(types[0])],
                "diagnosed_on": on,
                "note": _DIAGNOSIS_NOTES[int(notes[0])],
            },
        )
    if kind in (_Kind.BANKRUPTCY, _Kind.FRAUD):
        bankrupt = kind is _Kind.BANKRUPTCY
        return Command(
            "file_bankruptcy" if bankrupt else "suspect_fraud",
            {
                "customer_code": code,
                "filed_on" if bankrupt else "suspected_on": on,
                "reason": _BANKRUPTCY_REASON if bankrupt else _FRAUD_REASON,
            },
        )
    if kind is _Kind.RATE:
        return Command(
            "rate_risk",
            {
                "customer_code": code,
                "rating": tuple(RiskRating)[int(plan.rating[customer])],
                "rated_on": on,
                "reason": _RATING_REASON,
            },
        )
    if kind is _Kind.ALLOCATION_RULE:
        return Command(
            "adopt_allocation_rule",
            {
                "customer_code": code,
                "rule": _RULES_ADOPTED[int(plan.rule_adopted[customer])],
                "effective_on": on,
                "approver": APPROVER,
                "reason": _RULE_REASON,
            },
        )
    number = plan.invoice_first + invoice + 1
    invoice_number = f"G{plan.seed}-I{number:08d}"
    amount = int(plan.amount[invoice])
    dispute_reference = f"G{plan.seed}-D{number:08d}"
    bank_reference = f"G{plan.seed}-P{number:08d}-{sub + 1}"
    if kind is _Kind.ISSUE:
        instalments: tuple[Instalment, ...] = ()
        if plan.instalment_terms[customer]:
            parts = len(INSTALMENT_DAYS)
            instalments = tuple(
                Instalment(
                    due_on=on + timedelta(days=days),
                    amount_minor=amount // parts + (index < amount % parts),
                )
                for index, days in enumerate(INSTALMENT_DAYS)
            )
        return Command(
            "issue_invoice",
            {
                "invoice_number": invoice_number,
                "customer_code": code,
                "amount": Money(amount, currency),
                "issued_on": on,
                "due_on": _day(plan.due_on[invoice]),
                "instalments": instalments,
            },
        )
    if kind is _Kind.DISPUTE:
        reason = int(plan.dispute_reason[invoice])
        return Command(
            "open_dispute",
            {
                "invoice_number": invoice_number,
                "dispute_reference": dispute_reference,
                "amount": Money(int(plan.disputed[invoice]), currency),
                "reason_code": _DISPUTE_REASONS[reason],
                "root_cause": _ROOT_CAUSES[reason],
                "opened_on": on,
            },
        )
    if kind is _Kind.RESOLVE:
        upheld = int(plan.upheld[invoice]) > 0
        return Command(
            "resolve_dispute",
            {
                "invoice_number": invoice_number,
                "dispute_reference": dispute_reference,
                "outcome": DisputeOutcome.UPHELD if upheld else DisputeOutcome.REJECTED,
                "resolved_on": on,
                "note": _RESOLVE_NOTES[0 if upheld else 1],
                "approver": _one_approver(plan, int(plan.upheld[invoice]), customer)
                if upheld
                else None,
            },
        )
    cash = bool(plan.is_cash(np.asarray([invoice]), sub)[0])
    if kind is _Kind.RECEIVE:
        collector = _owner_on(plan, np.asarray([customer]), np.asarray([(on - EPOCH).days]))[0]
        return Command(
            "receive_payment",
            {
                "bank_reference": bank_reference,
                "payer_code": code,
                "amount": Money(int(plan.pay_amount[invoice, sub]), currency),
                "value_on": on,
                **(
                    {"method": ReceiptMethod.CASH, "received_by": OWNERS[int(collector)]}
                    if cash
                    else {}
                ),
            },
        )
    if kind is _Kind.ALLOCATE:
        paid = Money(int(plan.pay_amount[invoice, sub]), currency)
        return Command(
            "allocate_payment",
            {
                "bank_reference": bank_reference,
                "allocations": {invoice_number: paid},
                **({"allocated_on": on} if cash else {}),
            },
        )
    if kind is _Kind.REDUCTION_REQUEST:
        requested_by = _owner_on(plan, np.asarray([customer]), np.asarray([(on - EPOCH).days]))[0]
        return Command(
            "request_reduction",
            {
                "request_reference": f"G{plan.seed}-Q{number:08d}",
                "kind": ReductionKind.CONCESSION,
                "invoice_number": invoice_number,
                "amount": Money(int(plan.request_amount[invoice]), currency),
                "reduce_on": on,
                "reason": _REQUEST_REASON,
                "requested_by": OWNERS[int(requested_by)],
                "requested_on": on,
            },
        )
    if kind is _Kind.REDUCTION_REJECT:
        return Command(
            "reject_reduction",
            {
                "request_reference": f"G{plan.seed}-Q{number:08d}",
                "rejected_by": APPROVER,
                "rejected_on": on,
                "reason": _REJECT_REASON,
            },
        )
    if kind is _Kind.REDUCTION_APPROVE:
        return Command(
            "approve_reduction",
            {
                "request_reference": f"G{plan.seed}-Q{number:08d}",
                "approver": _one_approver(plan, int(plan.request_amount[invoice]), customer),
                "approved_on": on,
            },
        )
    if kind is _Kind.HAND_OVER:
        return Command(
            "hand_over_cash",
            {
                "bank_reference": bank_reference,
                "handed_on": on,
                "received_by_finance": FINANCE_CASHIER,
            },
        )
    if kind is _Kind.REVERSE:
        return Command(
            "reverse_payment",
            {"bank_reference": bank_reference, "reversed_on": on, "reason": _REVERSAL_REASON},
        )
    if kind is _Kind.ACTION:
        action = _ACTIONS[int(plan.action_kind[invoice, sub])]
        changed = plan.owner_new[customer] >= 0 and _day(plan.owner_changed_on[customer]) <= on
        owner = plan.owner_new[customer] if changed else plan.owner[customer]
        return Command(
            "record_action",
            {
                "customer_code": code,
                "channel": action.channel,
                "taken_on": on,
                "collector": OWNERS[int(owner)],
                "contact": contact,
                "outcome": action.outcome,
                "next_step": action.next_step,
                "next_step_on": None
                if action.next_step_days is None
                else on + timedelta(days=action.next_step_days),
            },
        )
    if kind is _Kind.PROMISE:
        return Command(
            "make_promise",
            {
                "customer_code": code,
                "promise_reference": f"G{plan.seed}-R{number:08d}-{sub + 1}",
                "amount": Money(amount, currency),
                "promised_on": _day(plan.promise_on[invoice, sub]),
                "made_on": on,
                "contact": contact,
                "invoice_numbers": (invoice_number,),
                "supersedes": f"G{plan.seed}-R{number:08d}-1" if sub == 1 else None,
                "tranches": _tranche_commands(plan, invoice, sub),
            },
        )
    reference = f"G{plan.seed}-G{number:08d}"
    if kind is _Kind.GOODS_PROPOSE:
        return Command(
            "propose_goods_in_lieu",
            {
                "customer_code": code,
                "settlement_reference": reference,
                "goods": _GOODS,
                "quantity": 1,
                "unit": _GOODS_UNIT,
                "appraised": Money(int(plan.goods_appraised[invoice]), currency),
                "appraiser": APPRAISER,
                "proposed_on": on,
            },
        )
    if kind is _Kind.GOODS_APPROVE:
        return Command(
            "approve_goods_in_lieu",
            {
                "customer_code": code,
                "settlement_reference": reference,
                "approver": _one_approver(plan, int(plan.goods_valued[invoice]), customer),
                "reason": _GOODS_REASON,
                "approved_on": on,
            },
        )
    if kind is _Kind.GOODS_SETTLE:
        return Command(
            "settle_goods_in_lieu",
            {
                "customer_code": code,
                "settlement_reference": reference,
                "allocations": {invoice_number: Money(int(plan.goods_valued[invoice]), currency)},
                "settled_on": on,
            },
        )
    if kind is _Kind.DUE_DATE_OVERRIDE:
        return Command(
            "override_due_date",
            {
                "invoice_number": invoice_number,
                "due_on": _day(plan.overridden_due_on[invoice]),
                "overridden_on": on,
                "reason": _OVERRIDE_REASON,
                "approver": (MANAGER_APPROVER, APPROVER)[
                    int(_postponed_long(plan, np.array([invoice]))[0])
                ],
            },
        )
    assert kind is _Kind.WRITE_OFF
    open_minor = amount - int(plan.pay_amount[invoice, 0]) - int(plan.goods_valued[invoice])
    return Command(
        "write_off",
        {
            "invoice_number": invoice_number,
            "written_off_on": on,
            "reason": _WRITE_OFF_REASON,
            "approver": APPROVER,
            **(
                {"second_approver": SENIOR_APPROVER}
                if _one_approver(plan, open_minor, customer) == SENIOR_APPROVER
                else {}
            ),
        },
    )


def _one_approver(plan: _Plan, amount_minor: int, customer: int) -> str:
    above = _above_threshold(np.array([amount_minor]), plan.currency[np.array([customer])])
    return SENIOR_APPROVER if bool(above[0]) else APPROVER


class _Ticks:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += TICK
        return self.now


def recording_clock(*, end_on: date = END_ON_DEFAULT) -> Callable[[], datetime]:
    """The clock the generator's timestamps follow: from midnight UTC after ``end_on``, one
    ``TICK`` per reading. Give it to the ``Ledger`` that ``replay`` feeds."""
    return _Ticks(datetime.combine(end_on + timedelta(days=1), datetime.min.time(), UTC))


def replay(
    ledger: Ledger,
    invoices: int,
    seed: int,
    *,
    chunk_customers: int = CHUNK_CUSTOMERS_DEFAULT,
    start_on: date = START_ON_DEFAULT,
    end_on: date = END_ON_DEFAULT,
) -> int:
    """Run ``commands`` through the ledger's public API, one transaction each; returns how many.

    With ``recording_clock(end_on=end_on)`` as the ledger's clock (one reading per command) the
    recorded events equal ``generate``'s, event for event.
    """
    count = 0
    for command in commands(
        invoices, seed, chunk_customers=chunk_customers, start_on=start_on, end_on=end_on
    ):
        getattr(ledger, command.name)(**command.fields)
        count += 1
    return count


def events(invoices: int, seed: int, **options: Any) -> Iterator[Event]:
    """The synthetic ledger as event objects, in log order (small sizes)."""
    return from_columnar(generate_columnar(invoices, seed, **options))
