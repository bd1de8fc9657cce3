"""A bulk import killed with SIGKILL part-way, then run again: whole rows only, exact totals.

Real processes, no mocks: ``python -m arledger import`` runs on a generated file in the IBM
layout (8,000 settled invoices of 800 customers, 40,800 events, five batches) against a SQLite
file and a PostgreSQL schema. The test polls the store's event count and kills the process as
soon as the first batch is committed, i.e. during the write phase (the file is checked whole
before anything is written, so a count above zero means writing has begun). Then:
- the store holds only whole transactions: every invoice with its entry in its account's index,
  its settlement received and allocated, every allocation with the invoice's side of it, and
  versions without gaps; all of it a subset of what a clean import records;
- importing the file again completes, records exactly the rest (ids come from business keys),
  and the store then equals a clean import event for event (originator id and version), with
  the file's totals to the cent.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.ingest.importer import import_file, preset
from arledger.domain import ids
from arledger.domain.events import (
    CustomerAccountOpened,
    Event,
    InvoiceAddedToAccount,
    InvoiceIssued,
    PaymentAllocated,
    PaymentApplied,
    PaymentReceived,
)
from tests.conftest import POSTGRES_TEST

ROWS = 8_000
CUSTOMERS = 800
EVENTS = CUSTOMERS + 5 * ROWS
"""An account opening per customer; per row an invoice issued and indexed in its account, and
its settlement received and allocated (payment and invoice side)."""
KILL_DEADLINE_S = 120.0
"""Deciding 8,000 rows takes a few seconds; a loaded CI machine gets plenty of slack."""
POLL_INTERVAL_S = 0.01

pytestmark = pytest.mark.slow

IBM_HEADER = (
    "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,"
    "Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n"
)


def us_date(on: date) -> str:
    return f"{on.month}/{on.day}/{on.year}"


def write_ibm_file(path: Path, *, rows: int, customers: int, seed: int = 11) -> int:
    """A file in the IBM layout, every invoice settled in full; returns the total in cents."""
    rng = random.Random(seed)
    total_minor = 0
    with path.open("w", encoding="utf-8") as file:
        file.write(IBM_HEADER)
        for n in range(rows):
            issued_on = date(2013, 1, 1) + timedelta(days=rng.randrange(700))
            due_on = issued_on + timedelta(days=30)
            settled_on = issued_on + timedelta(days=rng.randrange(1, 90))
            amount_minor = rng.randrange(100, 1_000_000)
            total_minor += amount_minor
            file.write(
                f"391,K{n % customers:05d}-KILL,1/1/2013,{n:010d},{us_date(issued_on)},"
                f"{us_date(due_on)},{Decimal(amount_minor) / 100},No,{us_date(settled_on)},"
                "Paper,1,0\n"
            )
    return total_minor


class Clean:
    """What a clean import of the file records."""

    def __init__(self, path: Path, total_minor: int, keys: set[tuple[UUID, int]]) -> None:
        self.path = path
        self.total_minor = total_minor
        self.keys = keys


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    """The file, and the (originator id, version) of every event a clean import records."""
    directory = tmp_path_factory.mktemp("kill")
    path = directory / "ibm-large.csv"
    total_minor = write_ibm_file(path, rows=ROWS, customers=CUSTOMERS)
    ledger = Ledger({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(directory / "clean.db")})
    try:
        result = import_file(ledger, path, preset("ibm"))
        keys = {(event.originator_id, event.originator_version) for event in ledger.iter_events()}
    finally:
        ledger.close()
    assert EVENTS == result.events_recorded
    assert EVENTS == len(keys)
    return Clean(path, total_minor, keys)


# Watching the store from outside ---------------------------------------------------------------


def stored_count(env: dict[str, str]) -> int:
    """Events committed in the store so far; 0 while its table does not exist yet."""
    if env["ARLEDGER_STORE"] == "sqlite":
        try:
            with closing(sqlite3.connect(env["ARLEDGER_DB"], timeout=10)) as connection:
                row = connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return 0
            raise
        return int(row[0])
    import psycopg
    from psycopg.sql import SQL, Identifier

    schema = env["ARLEDGER_POSTGRES_SCHEMA"]
    with psycopg.connect(
        host=POSTGRES_TEST["host"],
        port=POSTGRES_TEST["port"],
        dbname=POSTGRES_TEST["dbname"],
        user=POSTGRES_TEST["user"],
        autocommit=True,
    ) as connection:
        try:
            row = connection.execute(
                SQL("SELECT count(*) FROM {}.arledger_events").format(Identifier(schema))
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    assert row is not None
    return int(row[0])


def start_import(env: dict[str, str], path: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arledger", "import", str(path), "--preset", "ibm"],
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_writing(process: subprocess.Popen[str], env: dict[str, str]) -> int:
    """SIGKILL ``process`` as soon as its first batch is committed; the events stored then."""
    deadline = time.monotonic() + KILL_DEADLINE_S
    while time.monotonic() < deadline and process.poll() is None:
        if stored_count(env) > 0:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(POLL_INTERVAL_S)
    else:
        process.kill()
        _out, err = process.communicate()
        pytest.fail(f"the import never started writing (exit {process.returncode}): {err}")
    process.communicate()
    assert -signal.SIGKILL == process.returncode
    return stored_count(env)


# Checking what is stored -----------------------------------------------------------------------


def read_events(env: dict[str, str]) -> list[Event]:
    ledger = Ledger(env)
    try:
        return list(ledger.iter_events())
    finally:
        ledger.close()


def check_whole_transactions(events: list[Event]) -> None:
    """Every command and every row in ``events`` is whole, and no aggregate has a gap."""
    versions: dict[UUID, list[int]] = defaultdict(list)
    for event in events:
        versions[event.originator_id].append(event.originator_version)
    for aggregate_id, numbers in versions.items():
        assert list(range(1, len(numbers) + 1)) == sorted(numbers), aggregate_id

    issued = {e.originator_id: e for e in events if isinstance(e, InvoiceIssued)}
    indexed = {
        (e.originator_id, e.invoice_id) for e in events if isinstance(e, InvoiceAddedToAccount)
    }
    received = {e.originator_id for e in events if isinstance(e, PaymentReceived)}
    allocated = Counter(
        (e.originator_id, e.invoice_id, e.amount_minor)
        for e in events
        if isinstance(e, PaymentAllocated)
    )
    applied = Counter(
        (e.payment_id, e.originator_id, e.amount_minor)
        for e in events
        if isinstance(e, PaymentApplied)
    )
    assert {(invoice.customer_id, invoice_id) for invoice_id, invoice in issued.items()} == indexed
    assert allocated == applied
    # Whole rows: each invoice came with its settlement, received and allocated in full.
    settlements = {
        ids.payment_id(f"SETTLE-{invoice.invoice_number}"): (invoice_id, invoice.amount_minor)
        for invoice_id, invoice in issued.items()
    }
    assert set(settlements) == received
    assert {(p, i, amount) for p, (i, amount) in settlements.items()} == set(allocated)
    assert all(1 == count for count in allocated.values())


def check_totals(events: list[Event], total_minor: int) -> None:
    kinds = Counter(type(event) for event in events)
    assert CUSTOMERS == kinds[CustomerAccountOpened]
    assert ROWS == kinds[InvoiceIssued]
    assert ROWS == kinds[PaymentReceived]
    invoiced = sum(e.amount_minor for e in events if isinstance(e, InvoiceIssued))
    received = sum(e.amount_minor for e in events if isinstance(e, PaymentReceived))
    allocated = sum(e.amount_minor for e in events if isinstance(e, PaymentAllocated))
    applied = sum(e.amount_minor for e in events if isinstance(e, PaymentApplied))
    assert (total_minor,) * 4 == (invoiced, received, allocated, applied)


def test_an_import_killed_while_writing_leaves_whole_rows_and_a_rerun_completes_it(
    persistent_store_env: dict[str, str], clean: Clean, tmp_path: Path
) -> None:
    store = persistent_store_env
    killed = start_import(store, clean.path, tmp_path)
    count_at_kill = kill_when_writing(killed, store)

    events = read_events(store)
    assert count_at_kill == len(events)
    assert 0 < len(events) < EVENTS, "killed before or after the write phase"
    check_whole_transactions(events)
    assert {(e.originator_id, e.originator_version) for e in events} <= clean.keys

    rerun = start_import(store, clean.path, tmp_path)
    out, err = rerun.communicate(timeout=KILL_DEADLINE_S)

    assert 0 == rerun.returncode, err
    assert f"({EVENTS - count_at_kill} events)" in " ".join(out.split())
    events = read_events(store)
    assert clean.keys == {(e.originator_id, e.originator_version) for e in events}
    assert EVENTS == len(events)
    check_whole_transactions(events)
    check_totals(events, clean.total_minor)
