"""Concurrent allocation on PostgreSQL: four processes, the same invoices, thousands of attempts.

One customer has ten invoices of 2,000.00 and 500 payments of 50.00 (more money than the
invoices can take). Four real processes (multiprocessing, spawn) start together behind a barrier
and each makes 550 allocation attempts on random payments: three in four explicit (one or two of
the ten invoices, 1.00 to 10.00 each), one in four automatic (oldest due first). Every command
runs through ``Ledger.run``, which re-runs it from fresh state after a version conflict; a command
that still conflicts after its retries raises ``ConcurrencyError`` and is counted as reported.
The domain refuses what would over-allocate a payment or an invoice. The workers construct their
ledgers at the same moment too (the Ledger serialises the library's table creation).

Afterwards, from the store:
- every allocation a worker saw succeed is stored exactly once, and nothing else is
  (``PaymentAllocated`` events against the workers' reports, by originator id and version);
- each allocation has exactly its invoice side (``PaymentApplied``), pair for pair;
- no invoice is over-allocated (folding asserts open >= 0 at every version) and no payment
  either, and per (payment, invoice) the two sides agree;
- totals reconcile to the cent: invoiced - applied = open, received - allocated = unapplied,
  allocated = applied, and the ageing report's open total equals the folded invoices'.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from arledger.adapters.application.ledger import Ledger, Session
from arledger.domain import ids
from arledger.domain.errors import ArledgerError, ConcurrencyError
from arledger.domain.events import (
    Event,
    InvoiceIssued,
    PaymentAllocated,
    PaymentApplied,
    PaymentReceived,
)
from arledger.domain.money import Money
from arledger.projections import ageing

WORKERS = 4
ATTEMPTS_PER_WORKER = 550
INVOICES = 10
INVOICE_MINOR = 200_000
PAYMENTS = 500
PAYMENT_MINOR = 5_000
CUSTOMER = "HOT-1"
ISSUED_ON = date(2025, 3, 1)
BARRIER_TIMEOUT_S = 120.0
WORKER_TIMEOUT_S = 300.0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

Allocation = tuple[UUID, int, UUID, int]
"""(payment id, payment version, invoice id, amount in minor units) of one ``PaymentAllocated``."""
Report = tuple[int, dict[str, int], list[Allocation]]
"""What a worker reports: its seed, its outcomes counted by kind, the allocations it recorded."""


def invoice_number(n: int) -> str:
    return f"HOT-INV-{n:02d}"


def bank_reference(n: int) -> str:
    return f"HOT-PAY-{n:03d}"


def set_up(env: dict[str, str]) -> None:
    ledger = Ledger(env)
    try:
        session = ledger.session()
        session.open_account(
            customer_code=CUSTOMER,
            name="Hot spot customer",
            currency="USD",
            collection_owner="Li Wei",
            opened_on=ISSUED_ON,
        )
        for n in range(INVOICES):
            session.issue_invoice(
                invoice_number=invoice_number(n),
                customer_code=CUSTOMER,
                amount=Money(INVOICE_MINOR, "USD"),
                issued_on=ISSUED_ON,
            )
        for n in range(PAYMENTS):
            session.receive_payment(
                bank_reference=bank_reference(n),
                payer_code=CUSTOMER,
                amount=Money(PAYMENT_MINOR, "USD"),
                value_on=ISSUED_ON,
            )
        session.commit()
    finally:
        ledger.close()


class CountingLedger(Ledger):  # type: ignore[misc]  # mypy sees the re-exported Ledger as Any
    """Counts the sessions ``Ledger.run`` opens: one per try, so tries - 1 are retries."""

    name = Ledger.name  # the library names tables after the application: keep the ledger's
    sessions_opened = 0

    def session(self) -> Session:
        CountingLedger.sessions_opened += 1
        return super().session()


def worker(env: dict[str, str], seed: int, barrier: Any, results: Any) -> None:
    """Run the attempts; put (seed, outcomes, allocations) or (seed, traceback, None)."""
    try:
        results.put(attempt_allocations(env, seed, barrier))
    except BaseException:
        barrier.abort()  # the others stop waiting for this one at once
        results.put((seed, traceback.format_exc(), None))
        raise


def attempt_allocations(env: dict[str, str], seed: int, barrier: Any) -> Report:
    """Make ``ATTEMPTS_PER_WORKER`` allocation attempts; report each outcome."""
    rng = random.Random(seed)
    # All at once: the Ledger serialises its table creation (test_concurrent_start.py).
    ledger = CountingLedger(env)
    outcomes: Counter[str] = Counter()
    allocations: list[Allocation] = []
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        for _attempt in range(ATTEMPTS_PER_WORKER):
            reference = bank_reference(rng.randrange(PAYMENTS))
            if rng.random() < 0.75:
                targets = rng.sample(range(INVOICES), rng.choice((1, 2)))
                explicit: dict[str, Money] | None = {
                    invoice_number(n): Money(rng.randrange(100, 1_001), "USD") for n in targets
                }
            else:
                explicit = None
            try:
                events = ledger.allocate_payment(reference, explicit)
            except ConcurrencyError:
                outcomes["conflict reported"] += 1
                continue
            except ArledgerError as error:
                outcomes[f"refused: {type(error).__name__}"] += 1
                continue
            outcomes["automatic" if explicit is None else "explicit"] += 1
            allocations.extend(
                (e.originator_id, e.originator_version, e.invoice_id, e.amount_minor)
                for e in events
                if isinstance(e, PaymentAllocated)
            )
    finally:
        ledger.close()
    outcomes["retries"] = CountingLedger.sessions_opened - sum(
        count for name, count in outcomes.items() if name != "retries"
    )
    return seed, dict(outcomes), allocations


def run_workers(env: dict[str, str]) -> list[Report]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(env, seed, barrier, results))
        for seed in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = []
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    try:
        for _ in processes:
            reports.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    failures = [report[1] for report in reports if report[2] is None]
    assert [] == failures
    assert [0] * WORKERS == [process.exitcode for process in processes]
    return [(seed, counts, allocations) for seed, counts, allocations in reports]


def test_four_processes_allocating_to_the_same_invoices_lose_and_double_nothing(
    postgres_schema: dict[str, str],
) -> None:
    set_up(postgres_schema)

    reports = run_workers(postgres_schema)

    outcomes: Counter[str] = Counter()
    reported: Counter[Allocation] = Counter()
    for _seed, counts, allocations in reports:
        outcomes.update(counts)
        reported.update(allocations)
        attempts = sum(count for name, count in counts.items() if name != "retries")
        assert ATTEMPTS_PER_WORKER == attempts
    print(f"\noutcomes of {WORKERS * ATTEMPTS_PER_WORKER} attempts: {dict(outcomes)}")
    assert outcomes["explicit"] > 0
    assert outcomes["automatic"] > 0
    assert outcomes["retries"] > 0, "the workers never met: no contention was tested"

    ledger = Ledger(postgres_schema)
    try:
        events = list(ledger.iter_events())
        check_each_allocation_stored_once(events, reported)
        check_no_over_allocation_and_totals_reconcile(ledger, events)
    finally:
        ledger.close()


def check_each_allocation_stored_once(events: list[Event], reported: Counter[Allocation]) -> None:
    stored = Counter(
        (e.originator_id, e.originator_version, e.invoice_id, e.amount_minor)
        for e in events
        if isinstance(e, PaymentAllocated)
    )
    assert reported == stored
    assert {1} == set(stored.values())
    allocated_pairs = Counter(
        (e.originator_id, e.invoice_id, e.amount_minor)
        for e in events
        if isinstance(e, PaymentAllocated)
    )
    applied_pairs = Counter(
        (e.payment_id, e.originator_id, e.amount_minor)
        for e in events
        if isinstance(e, PaymentApplied)
    )
    assert allocated_pairs == applied_pairs


def check_no_over_allocation_and_totals_reconcile(ledger: Ledger, events: list[Event]) -> None:
    session = ledger.session()
    invoices = [session.require_invoice(invoice_number(n)) for n in range(INVOICES)]
    payments = [session.require_payment(bank_reference(n)) for n in range(PAYMENTS)]
    for invoice in invoices:
        assert 0 <= invoice.open_minor <= invoice.amount_minor
        assert invoice.amount_minor - invoice.applied_minor == invoice.open_minor
    for payment in payments:
        assert 0 <= payment.unapplied_minor <= payment.amount_minor
    by_payment = {
        (payment.id, invoice_id): amount
        for payment in payments
        for invoice_id, amount in payment.allocations.items()
    }
    by_invoice = {
        (payment_id, invoice.id): amount
        for invoice in invoices
        for payment_id, amount in invoice.applied_by_payment.items()
    }
    assert by_payment == by_invoice

    invoiced = sum(e.amount_minor for e in events if isinstance(e, InvoiceIssued))
    received = sum(e.amount_minor for e in events if isinstance(e, PaymentReceived))
    allocated = sum(e.amount_minor for e in events if isinstance(e, PaymentAllocated))
    applied = sum(e.amount_minor for e in events if isinstance(e, PaymentApplied))
    open_minor = sum(invoice.open_minor for invoice in invoices)
    unapplied_minor = sum(payment.unapplied_minor for payment in payments)
    assert (INVOICES * INVOICE_MINOR, PAYMENTS * PAYMENT_MINOR) == (invoiced, received)
    assert allocated == applied == sum(by_payment.values())
    assert invoiced - applied == open_minor
    assert received - allocated == unapplied_minor
    report = ageing.ageing_report(ageing.fold_all(events), date(2025, 12, 31))
    assert open_minor == sum(row.open_minor for row in report.rows)
    assert {ids.customer_id(CUSTOMER)} == {invoice.customer_id for invoice in invoices}
