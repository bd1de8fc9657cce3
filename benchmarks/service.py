"""The embedded-service case (issue 11): concurrent clients mixing commands and queries against
one shared ``Ledger``, as a web service with a thread pool would.

``prepare`` records a ledger of ``customers`` accounts with invoices (a few thousand); ``run``
starts ``clients`` threads behind a barrier, each making ``operations`` calls chosen at random
(seeded) with the weights of ``MIX``: commands (issue an invoice; receive a payment and allocate
it) and every query (worklist, ageing by customer, quarter KPIs, one customer's escalation
status, a credit check). Each call's latency is recorded; the figures are throughput (calls
per second of wall time), p50/p99 latency overall and per kind, errors (any exception: none is
expected) and the calls made.

``serialised=True`` runs the same load with every call under one global lock: the workaround
services used when a shared Ledger was not safe (a lock per process), measured beside the
shared Ledger in the same run.

From the command line, against the store of the environment (``ARLEDGER_STORE`` ...)::

    python -m benchmarks.service --clients 16 --operations 40 [--serialised] [--prepare]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import closing, nullcontext
from datetime import date, timedelta
from typing import Any, Final

import attrs

from arledger import Ledger, Money
from arledger.projections.ageing import AgeingGrouping

CURRENCY: Final = "USD"
AS_OF: Final = date(2025, 12, 31)
QUARTER: Final = (date(2025, 10, 1), date(2025, 12, 31))
CUSTOMERS_DEFAULT: Final = 250
INVOICES_PER_CUSTOMER: Final = 10
"""2,500 invoices: the size at which issue 11 measured the per-process-lock workaround."""
MIX: Final = {
    "issue_invoice": 15,
    "receive_and_allocate": 10,
    "worklist": 10,
    "ageing": 15,
    "kpis": 5,
    "escalation_status": 25,
    "check_credit": 20,
}
"""Relative weights of the calls: 25% commands, 75% queries."""
BARRIER_TIMEOUT_S: Final = 120.0


def customer_code(n: int) -> str:
    return f"SVC-{n:05d}"


def prepare(ledger: Ledger, customers: int = CUSTOMERS_DEFAULT, seed: int = 1) -> None:
    """Accounts with ``INVOICES_PER_CUSTOMER`` invoices each, in a few transactions."""
    rng = random.Random(seed)
    session = ledger.session()
    for n in range(customers):
        session.open_account(
            customer_code=customer_code(n),
            name=f"Service customer {n}",
            currency=CURRENCY,
            collection_owner=f"owner-{n % 7}",
            opened_on=date(2025, 1, 1),
            terms_days=30,
        )
        for k in range(INVOICES_PER_CUSTOMER):
            session.issue_invoice(
                invoice_number=f"SVC-INV-{n:05d}-{k:03d}",
                customer_code=customer_code(n),
                amount=Money(rng.randrange(100_00, 10_000_00), CURRENCY),
                issued_on=date(2025, 1, 1) + timedelta(days=rng.randrange(330)),
            )
        if n % 50 == 49:
            session.commit()
            session = ledger.session()
    session.commit()


@attrs.frozen(kw_only=True)
class Figures:
    clients: int
    operations: int
    """Calls made, all clients."""
    serialised: bool
    wall_s: float
    throughput_ops_s: float
    p50_ms: float
    p99_ms: float
    errors: list[str]
    by_kind: dict[str, dict[str, float]]
    """Per kind of call: ``count``, ``p50_ms``, ``p99_ms``."""

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _percentile_ms(latencies_s: list[float], percent: int) -> float:
    if not latencies_s:
        return 0.0
    if len(latencies_s) == 1:
        return latencies_s[0] * 1000
    return statistics.quantiles(latencies_s, n=100, method="inclusive")[percent - 1] * 1000


class _Client:
    """One client's calls (each with a fresh business key where it records something)."""

    def __init__(self, ledger: Ledger, name: str, customers: int, seed: int) -> None:
        self.ledger = ledger
        self.name = name
        self.customers = customers
        self.rng = random.Random(seed)
        self.made = 0

    def call(self, kind: str) -> Callable[[], Any]:
        ledger, rng = self.ledger, self.rng
        code = customer_code(rng.randrange(self.customers))
        self.made += 1
        key = f"{self.name}-{self.made}"
        on = date(2025, 1, 1) + timedelta(days=rng.randrange(360))
        if kind == "issue_invoice":
            amount = Money(rng.randrange(100_00, 10_000_00), CURRENCY)
            return lambda: ledger.issue_invoice(
                f"SVC-NEW-{key}", customer_code=code, amount=amount, issued_on=on
            )
        if kind == "receive_and_allocate":
            # Smaller than the least invoice: every payment is allocated in full.
            amount = Money(rng.randrange(1_00, 50_00), CURRENCY)

            def pay() -> None:
                ledger.receive_payment(
                    f"SVC-PAY-{key}", payer_code=code, amount=amount, value_on=on
                )
                ledger.allocate_payment(f"SVC-PAY-{key}", allocation_key=key)

            return pay
        if kind == "worklist":
            return lambda: ledger.worklist(AS_OF)
        if kind == "ageing":
            return lambda: ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
        if kind == "kpis":
            return lambda: ledger.kpis(*QUARTER)
        if kind == "escalation_status":
            return lambda: ledger.escalation_status(code, AS_OF)
        if kind == "check_credit":
            return lambda: ledger.check_credit(code, Money(1_000_00, CURRENCY), AS_OF)
        raise ValueError(kind)


def run(
    ledger: Ledger,
    *,
    clients: int = 16,
    operations: int = 40,
    customers: int = CUSTOMERS_DEFAULT,
    serialised: bool = False,
    seed: int = 7,
    deadline_s: float = 600.0,
) -> Figures:
    """``clients`` threads, ``operations`` calls each, against ``ledger`` (see the module)."""
    kinds = list(MIX)
    weights = list(MIX.values())
    one_at_a_time = threading.Lock()
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    errors: list[str] = []
    record = threading.Lock()
    barrier = threading.Barrier(clients + 1, timeout=BARRIER_TIMEOUT_S)

    def client(number: int) -> None:
        me = _Client(ledger, f"c{seed}-{number}", customers, seed * 1000 + number)
        plan = me.rng.choices(kinds, weights, k=operations)
        barrier.wait()
        for kind in plan:
            call = me.call(kind)
            started = time.perf_counter()
            try:
                with one_at_a_time if serialised else nullcontext():
                    call()
            except Exception:
                with record:
                    errors.append(f"{kind}: {traceback.format_exc(limit=3)}")
                continue
            took = time.perf_counter() - started
            with record:
                latencies[kind].append(took)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(max(deadline_s - (time.perf_counter() - started), 0.1))
    wall = time.perf_counter() - started
    hung = sum(thread.is_alive() for thread in threads)
    if hung:
        errors.append(f"{hung} clients still running after {deadline_s} s")
    every = [took for kind in kinds for took in latencies[kind]]
    return Figures(
        clients=clients,
        operations=len(every) + len(errors),
        serialised=serialised,
        wall_s=wall,
        throughput_ops_s=len(every) / wall if wall else 0.0,
        p50_ms=_percentile_ms(every, 50),
        p99_ms=_percentile_ms(every, 99),
        errors=errors,
        by_kind={
            kind: {
                "count": float(len(latencies[kind])),
                "p50_ms": _percentile_ms(latencies[kind], 50),
                "p99_ms": _percentile_ms(latencies[kind], 99),
            }
            for kind in kinds
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--operations", type=int, default=40, help="calls per client")
    parser.add_argument("--customers", type=int, default=CUSTOMERS_DEFAULT)
    parser.add_argument("--serialised", action="store_true", help="one call at a time")
    parser.add_argument("--prepare", action="store_true", help="record the accounts first")
    args = parser.parse_args(argv)
    with closing(Ledger()) as ledger:
        if args.prepare:
            prepare(ledger, args.customers)
        figures = run(
            ledger,
            clients=args.clients,
            operations=args.operations,
            customers=args.customers,
            serialised=args.serialised,
        )
    print(json.dumps(figures.as_json(), indent=2))


if __name__ == "__main__":
    main()
