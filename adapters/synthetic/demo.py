"""Seeded demo ledgers: what ``arledger demo`` records, and a smaller one of commands for tests.

``record_book`` records the book ``arledger demo`` shows: the synthetic generator's ledger
(``generate``) of ``DEMO_BOOK_INVOICES`` invoices over the demo's year, with its default
behaviour profiles, so that it looks like a real B2B book (most open money current or 1-30
days late, a small tail over 90 days, promises, disputes and collection actions whose next
steps are mostly followed up). Recording it again records nothing.

``generate_demo`` (invoices and payments only, recorded through the commands by
``record_demo``) is a pure function of the seed: customers in several currencies, invoices
issued over one fixed year (some with instalment schedules), and payments that settle them on
time, late, partly or not at all by the demo's as-of date. Nothing depends on today's date, so
the same seed gives the same ledger and the same report on every machine.

Invariant: recording a demo twice records it once. Every key is derived from the seed and a
sequence number, the domain's decide functions return no events for a repeat, and a payment's
allocation is recorded only together with its receipt (allocating again would settle twice).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Final, TypeVar

import attrs

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.application.session import Session
from arledger.domain.errors import CustomerNotFoundError, InvalidCommandError
from arledger.domain.events import Instalment, PaymentTermsKind
from arledger.domain.money import Money, split_largest_remainder

T = TypeVar("T")

DEMO_SEED_DEFAULT: Final = 20240101
DEMO_CUSTOMERS: Final = 200
DEMO_INVOICES: Final = 5000
DEMO_PERIOD_START: Final = date(2024, 1, 1)
DEMO_AS_OF: Final = date(2024, 12, 31)
"""The end of the generated year: the default as-of date of the demo's report."""
DEMO_BOOK_INVOICES: Final = 2_000
"""The book ``arledger demo`` records: 2,000 invoices of 200 customers (the generator's ten
per customer), enough for every kind of fact and a worklist a person can read."""

COMMANDS_PER_COMMIT: Final = 300
"""Commands saved per transaction. Batching is what makes SQLite and PostgreSQL fast (see
EVENTSOURCING_NOTES.md); a few hundred commands keep each transaction well under a second."""

SEED_MAX: Final = 2**32 - 1
"""Seeds are part of the business keys (``D<seed>-...``), so they stay short."""

# Currencies across customers, with weights: mostly CNY, as for the practitioners behind
# DOMAIN.md, then USD and EUR export customers.
CURRENCY_WEIGHTS: Final = (("CNY", 5), ("USD", 3), ("EUR", 2))
OWNERS: Final = (
    "Li Wei",
    "Wang Fang",
    "Zhang Min",
    "Chen Jing",
    "Liu Yang",
    "Maria Schmidt",
    "John Carter",
    "Ana Silva",
)
NAME_PLACES: Final = {
    "CNY": ("Huadong", "Shenzhen", "Hangzhou", "Suzhou", "Chengdu", "Wuhan", "Xiamen", "Jinan"),
    "USD": ("Lakeside", "Bay Area", "Midwest", "Hudson", "Pacific", "Gulf Coast"),
    "EUR": ("Rhein", "Lombardia", "Flandern", "Catalonia", "Baltic", "Alpen"),
}
NAME_TRADES: Final = (
    "Trading",
    "Electronics",
    "Machinery",
    "Foods",
    "Textiles",
    "Logistics",
    "Chemicals",
    "Building Materials",
)
# Major-unit scale of a typical invoice per currency, so that amounts look alike in value.
AMOUNT_SCALE: Final = {"CNY": 7, "USD": 1, "EUR": 1}


class DemoOutcome(enum.Enum):
    """How an invoice fares by the as-of date."""

    ON_TIME = "on_time"
    LATE = "late"
    PARTIAL = "partial"
    UNPAID = "unpaid"


OUTCOME_WEIGHTS: Final = (
    (DemoOutcome.ON_TIME, 50),
    (DemoOutcome.LATE, 25),
    (DemoOutcome.PARTIAL, 10),
    (DemoOutcome.UNPAID, 15),
)


@attrs.frozen(kw_only=True)
class DemoCustomer:
    customer_code: str
    name: str
    currency: str
    collection_owner: str
    terms_kind: PaymentTermsKind
    terms_days: int
    opened_on: date


@attrs.frozen(kw_only=True)
class DemoPayment:
    bank_reference: str
    amount: Money
    value_on: date


@attrs.frozen(kw_only=True)
class DemoInvoice:
    invoice_number: str
    customer_code: str
    amount: Money
    issued_on: date
    due_on: date
    instalments: tuple[Instalment, ...]
    outcome: DemoOutcome
    payment: DemoPayment | None


@attrs.frozen(kw_only=True)
class DemoLedger:
    seed: int
    as_of: date
    customers: tuple[DemoCustomer, ...]
    invoices: tuple[DemoInvoice, ...]


@attrs.frozen(kw_only=True)
class DemoResult:
    customers: int
    invoices: int
    payments: int | None
    """Payments recorded (None for the generated book, which does not count them)."""
    events_recorded: int

    @property
    def already_recorded(self) -> bool:
        return self.events_recorded == 0


def _weighted(rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    values = [value for value, _weight in weighted]
    weights = [weight for _value, weight in weighted]
    return rng.choices(values, weights=weights)[0]


def _customer(rng: random.Random, prefix: str, number: int) -> DemoCustomer:
    currency = _weighted(rng, CURRENCY_WEIGHTS)
    # One customer in ten pays by instalments, the rest on net terms.
    if rng.random() < 0.1:
        terms_kind, terms_days = PaymentTermsKind.INSTALMENTS, 90
    else:
        terms_kind, terms_days = PaymentTermsKind.NET, rng.choice((30, 30, 45, 60, 90))
    return DemoCustomer(
        customer_code=f"{prefix}-C{number:04d}",
        name=f"{rng.choice(NAME_PLACES[currency])} {rng.choice(NAME_TRADES)} {number:03d}",
        currency=currency,
        collection_owner=rng.choice(OWNERS),
        terms_kind=terms_kind,
        terms_days=terms_days,
        opened_on=DEMO_PERIOD_START - timedelta(days=rng.randint(30, 720)),
    )


def _instalments(amount_minor: int, issued_on: date) -> tuple[Instalment, ...]:
    """Three monthly instalments, split by largest remainder so they add up to the amount."""
    parts = split_largest_remainder(amount_minor, [1, 1, 1])
    schedule = tuple(
        Instalment(due_on=issued_on + timedelta(days=30 * (index + 1)), amount_minor=part)
        for index, part in enumerate(parts)
    )
    assert sum(instalment.amount_minor for instalment in schedule) == amount_minor
    return schedule


def _payment(
    rng: random.Random,
    reference: str,
    amount: Money,
    issued_on: date,
    due_on: date,
    outcome: DemoOutcome,
    as_of: date,
) -> tuple[DemoOutcome, DemoPayment | None]:
    """The payment for an outcome, or none when the outcome cannot happen by ``as_of``."""
    if outcome is DemoOutcome.UNPAID:
        return outcome, None
    if outcome is DemoOutcome.ON_TIME:
        value_on = issued_on + timedelta(days=rng.randint(0, (due_on - issued_on).days))
        paid = amount
    elif outcome is DemoOutcome.LATE:
        value_on = due_on + timedelta(days=rng.randint(1, 120))
        paid = amount
    else:
        value_on = issued_on + timedelta(days=rng.randint(0, (due_on - issued_on).days + 60))
        # Integer percent of integer minor units: exact, and flooring only picks a demo figure.
        paid = Money(amount.amount_minor * rng.randint(10, 90) // 100, amount.currency)
    if value_on > as_of:
        # Money that would arrive after the as-of date has not arrived yet.
        return DemoOutcome.UNPAID, None
    return outcome, DemoPayment(bank_reference=reference, amount=paid, value_on=value_on)


def generate_demo(
    seed: int = DEMO_SEED_DEFAULT,
    *,
    customers: int = DEMO_CUSTOMERS,
    invoices: int = DEMO_INVOICES,
    as_of: date = DEMO_AS_OF,
) -> DemoLedger:
    """The demo ledger for ``seed``: the same seed always gives the same ledger."""
    if type(seed) is not int or not 0 <= seed <= SEED_MAX:
        raise InvalidCommandError(
            f"seed must be a whole number from 0 to {SEED_MAX}, got {seed!r}", field="seed"
        )
    rng = random.Random(seed)
    prefix = f"D{seed}"
    demo_customers = tuple(_customer(rng, prefix, number) for number in range(1, customers + 1))
    # A few big customers get most invoices, as in any real portfolio.
    activity = [rng.paretovariate(1.5) for _ in demo_customers]
    period_days = (as_of - DEMO_PERIOD_START).days
    issued_dates = sorted(
        DEMO_PERIOD_START + timedelta(days=rng.randint(0, period_days - 5)) for _ in range(invoices)
    )
    demo_invoices = []
    payments = 0
    for number, issued_on in enumerate(issued_dates, start=1):
        customer = rng.choices(demo_customers, weights=activity)[0]
        major = rng.randint(50, 50_000) * AMOUNT_SCALE[customer.currency]
        amount = Money(major * 100 + rng.randint(0, 99), customer.currency)
        if customer.terms_kind is PaymentTermsKind.INSTALMENTS:
            instalments = _instalments(amount.amount_minor, issued_on)
            due_on = instalments[-1].due_on
        else:
            instalments = ()
            due_on = issued_on + timedelta(days=customer.terms_days)
        outcome, payment = _payment(
            rng,
            f"{prefix}-PAY-{payments + 1:06d}",
            amount,
            issued_on,
            due_on,
            _weighted(rng, OUTCOME_WEIGHTS),
            as_of,
        )
        payments += payment is not None
        demo_invoices.append(
            DemoInvoice(
                invoice_number=f"{prefix}-INV-{number:06d}",
                customer_code=customer.customer_code,
                amount=amount,
                issued_on=issued_on,
                due_on=due_on,
                instalments=instalments,
                outcome=outcome,
                payment=payment,
            )
        )
    return DemoLedger(
        seed=seed, as_of=as_of, customers=demo_customers, invoices=tuple(demo_invoices)
    )


def _record_invoice(session: Session, invoice: DemoInvoice) -> None:
    session.issue_invoice(
        invoice_number=invoice.invoice_number,
        customer_code=invoice.customer_code,
        amount=invoice.amount,
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        instalments=invoice.instalments,
    )
    payment = invoice.payment
    if payment is None:
        return
    received = session.receive_payment(
        bank_reference=payment.bank_reference,
        payer_code=invoice.customer_code,
        amount=payment.amount,
        value_on=payment.value_on,
    )
    # Allocate only with the receipt: a payment already recorded was allocated back then.
    if received:
        session.allocate_payment(
            bank_reference=payment.bank_reference,
            allocations={invoice.invoice_number: payment.amount},
        )


def record_demo(
    ledger: Ledger,
    demo: DemoLedger,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Record ``demo`` through one session, committing every ``COMMANDS_PER_COMMIT`` commands.

    ``progress(done, total)`` is called after each commit. Returns how much was recorded; a demo
    already in the store records nothing.
    """
    session = ledger.session()
    total = len(demo.customers) + len(demo.invoices)
    done = 0
    events_recorded = 0

    def commit_if_due(force: bool = False) -> None:
        nonlocal events_recorded
        if force or done % COMMANDS_PER_COMMIT == 0:
            events_recorded += session.commit()
            if progress is not None:
                progress(done, total)

    for customer in demo.customers:
        session.open_account(
            customer_code=customer.customer_code,
            name=customer.name,
            currency=customer.currency,
            collection_owner=customer.collection_owner,
            opened_on=customer.opened_on,
            terms_kind=customer.terms_kind,
            terms_days=customer.terms_days,
        )
        done += 1
        commit_if_due()
    for invoice in demo.invoices:
        _record_invoice(session, invoice)
        done += 1
        commit_if_due()
    commit_if_due(force=True)
    return DemoResult(
        customers=len(demo.customers),
        invoices=len(demo.invoices),
        payments=sum(invoice.payment is not None for invoice in demo.invoices),
        events_recorded=events_recorded,
    )


def record_book(
    ledger: Ledger,
    seed: int = DEMO_SEED_DEFAULT,
    *,
    invoices: int = DEMO_BOOK_INVOICES,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Record the demo book for ``seed`` (the generator's ledger of ``invoices`` invoices over
    ``DEMO_PERIOD_START`` .. ``DEMO_AS_OF``) by the bulk path, unless its first customer is
    already in the store: then nothing is recorded (``DemoResult.already_recorded``).

    ``progress(done, total)`` counts invoices, as ``generate.generate_to_store`` reports them.
    """
    # Imported here: the generator takes the demo's names and owners from this module.
    from arledger.adapters.synthetic import generate

    customers = -(-invoices // generate.INVOICES_PER_CUSTOMER)
    try:
        ledger.customer(generate.customer_code(seed, 1))
    except CustomerNotFoundError:
        pass
    else:
        return DemoResult(customers=customers, invoices=invoices, payments=None, events_recorded=0)
    recorded = generate.generate_to_store(
        ledger,
        invoices,
        seed,
        start_on=DEMO_PERIOD_START,
        end_on=DEMO_AS_OF,
        progress=progress,
    )
    return DemoResult(
        customers=customers, invoices=invoices, payments=None, events_recorded=recorded
    )
