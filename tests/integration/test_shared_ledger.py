"""One Ledger shared by 16 threads, plus 4 processes with a Ledger each, on PostgreSQL and on
SQLite (issue 11.4): writes and every query mixed, a bounded number of operations each.

Each worker (thread or process) owns customers of its own and records invoices, payments and
their allocations to them, so it knows its customers' open balance exactly; between writes it
asks every query (ageing, worklist, KPIs, escalation status, credit check) over the whole
ledger, which the others are changing. On purpose, one operation in eight re-issues an invoice
number with another amount: the only error allowed is that business refusal
(``DuplicateKeyConflictError``), counted. Every worker must finish before a deadline (a join or
result timeout: a hang fails the test, as does any other error). Afterwards the totals
reconcile: what the workers say they invoiced and were paid against the log's events, the
engine's ageing and a replay of the log.

Also here: a backend terminated in the middle of a catch-up (the catch-up fails, writes
nothing, and the next query succeeds on a fresh connection), and a lock held elsewhere turning
into ``StoreBusyError`` within the lock timeout instead of a wait for ever.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest

from arledger import Ledger, Money, StoreBusyError, StoreUnavailableError
from arledger.adapters.persistence.connections import PostgresConnections, SQLiteConnections
from arledger.adapters.persistence.store import Timeouts, store_env, timeouts
from arledger.domain.errors import ConfigurationError, DuplicateKeyConflictError
from arledger.domain.events import InvoiceIssued, PaymentReceived
from arledger.projections import portfolio
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.kpis import KpiGrouping
from tests.conftest import postgres_connection, postgres_schemas

THREADS = 16
PROCESSES = 4
OPERATIONS = 12
"""Operations per worker (each a write and a query, or a refused write)."""
DEADLINE_S = 300.0
"""For all workers together; generous for a loaded 2-core machine (the work takes seconds)."""
AS_OF = date(2025, 6, 30)
START_ON = date(2025, 1, 1)
CURRENCY = "USD"


@attrs.define
class Tally:
    """What one worker did: money in minor units, refusals counted."""

    invoiced_minor: int = 0
    paid_minor: int = 0
    invoices: int = 0
    payments: int = 0
    refusals: int = 0
    refusals_meant: int = 0
    queries: int = 0


def customer_code(worker: str) -> str:
    return f"CUST-{worker}"


def open_account(ledger: Ledger, worker: str) -> None:
    ledger.open_account(
        customer_code(worker),
        name=f"Customer {worker}",
        currency=CURRENCY,
        collection_owner=f"owner-{len(worker) % 3}",
        opened_on=date(2025, 1, 1),
        terms_days=30,
    )


def every_query(ledger: Ledger, code: str) -> None:
    """Ask each portfolio and customer query once; check each answer is one."""
    report = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
    assert all(row.open_minor >= 0 for row in report.rows)
    worklist = ledger.worklist(AS_OF)
    assert all(item.level >= 1 for item in worklist)
    kpis = ledger.kpis(START_ON, AS_OF, grouping=KpiGrouping.CUSTOMER)
    assert kpis.rows is not None
    status = ledger.escalation_status(code, AS_OF)
    assert status is not None
    decision = ledger.check_credit(code, Money(1_00, CURRENCY), AS_OF)
    assert isinstance(decision.approved, bool)


def work(ledger: Ledger, worker: str, seed: int) -> Tally:
    """``OPERATIONS`` operations on the worker's own customer, with queries of everything."""
    rng = random.Random(seed)
    tally = Tally()
    code = customer_code(worker)
    open_minor = 0
    for step in range(OPERATIONS):
        issued_on = date(2025, 1 + step % 6, 1 + rng.randrange(28))
        if step % 8 == 7 and tally.invoices:
            # The same invoice number with another amount: refused, nothing recorded.
            tally.refusals_meant += 1
            try:
                ledger.issue_invoice(
                    f"INV-{worker}-0",
                    customer_code=code,
                    amount=Money(999_999, CURRENCY),
                    issued_on=issued_on,
                )
            except DuplicateKeyConflictError:
                tally.refusals += 1
        elif step % 3 == 2 and open_minor:
            amount = rng.randrange(1, open_minor + 1)
            reference = f"PAY-{worker}-{step}"
            ledger.receive_payment(
                reference, payer_code=code, amount=Money(amount, CURRENCY), value_on=issued_on
            )
            ledger.allocate_payment(reference, allocation_key=f"k-{reference}")
            open_minor -= amount
            tally.paid_minor += amount
            tally.payments += 1
        else:
            amount = rng.randrange(1_00, 5_000_00)
            ledger.issue_invoice(
                f"INV-{worker}-{tally.invoices}",
                customer_code=code,
                amount=Money(amount, CURRENCY),
                issued_on=issued_on,
            )
            open_minor += amount
            tally.invoiced_minor += amount
            tally.invoices += 1
        every_query(ledger, code)
        tally.queries += 5
    return tally


def process_worker(env: dict[str, str], worker: str, seed: int) -> Tally | str:
    """A process of its own, with a Ledger of its own: its tally, or the traceback."""
    try:
        with closing(Ledger(env)) as ledger:
            open_account(ledger, worker)
            return work(ledger, worker, seed)
    except BaseException:
        return traceback.format_exc()


def run_shared(env: dict[str, str]) -> None:
    """16 threads on one Ledger and 4 processes, then the reconciliation."""
    with closing(Ledger(env)) as ledger:
        threads = [f"t{n}" for n in range(THREADS)]
        for worker in threads:
            open_account(ledger, worker)
        # The fast path's kernels compiled or loaded before the clock starts (cold start is
        # issue 11.5, not this test).
        every_query(ledger, customer_code(threads[0]))

        tallies: dict[str, Tally] = {}
        failures: list[str] = []
        start = threading.Barrier(THREADS + 1, timeout=DEADLINE_S)

        def thread_worker(worker: str, seed: int) -> None:
            try:
                start.wait()
                tallies[worker] = work(ledger, worker, seed)
            except BaseException:
                failures.append(f"{worker}: {traceback.format_exc()}")

        context = multiprocessing.get_context("spawn")
        deadline = time.monotonic() + DEADLINE_S
        with ProcessPoolExecutor(PROCESSES, mp_context=context) as processes:
            futures = {
                f"p{n}": processes.submit(process_worker, env, f"p{n}", 1000 + n)
                for n in range(PROCESSES)
            }
            running = [
                threading.Thread(target=thread_worker, args=(worker, n), daemon=True)
                for n, worker in enumerate(threads)
            ]
            for thread in running:
                thread.start()
            start.wait()
            for thread in running:
                thread.join(max(deadline - time.monotonic(), 0.1))
            hung = [thread.name for thread in running if thread.is_alive()]
            assert [] == hung, f"threads still running after {DEADLINE_S} s"
            for worker, future in futures.items():
                outcome = future.result(timeout=max(deadline - time.monotonic(), 0.1))
                if isinstance(outcome, str):
                    failures.append(f"{worker}: {outcome}")
                else:
                    tallies[worker] = outcome
        assert [] == failures

        assert THREADS + PROCESSES == len(tallies)
        for tally in tallies.values():
            assert tally.refusals_meant == tally.refusals
            assert OPERATIONS * 5 == tally.queries
        invoiced = sum(t.invoiced_minor for t in tallies.values())
        paid = sum(t.paid_minor for t in tallies.values())
        events = list(ledger.iter_events())
        issued = [e for e in events if isinstance(e, InvoiceIssued)]
        received = [e for e in events if isinstance(e, PaymentReceived)]
        assert sum(t.invoices for t in tallies.values()) == len(issued)
        assert invoiced == sum(e.amount_minor for e in issued)
        assert sum(t.payments for t in tallies.values()) == len(received)
        assert paid == sum(e.amount_minor for e in received)
        # Every payment was allocated in full to its payer's open invoices.
        served = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
        assert invoiced - paid == sum(row.open_minor for row in served.rows)
        with closing(Ledger(env, read_models="replay")) as replay:
            assert replay.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER) == served
        assert portfolio.fold_all(events) == ledger.portfolio()


@pytest.mark.slow
@pytest.mark.postgres
def test_sixteen_threads_and_four_processes_share_a_postgres_ledger() -> None:
    with postgres_schemas("shared") as make:
        run_shared(make())


@pytest.mark.slow
def test_sixteen_threads_and_four_processes_share_a_sqlite_ledger(tmp_path: Path) -> None:
    run_shared({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "shared.db")})


# Interrupted connections and locks held elsewhere ---------------------------------------------


def seed_ledger(ledger: Ledger, invoices: int) -> None:
    open_account(ledger, "k")
    session = ledger.session()
    for n in range(invoices):
        session.issue_invoice(
            invoice_number=f"INV-k-{n}",
            customer_code=customer_code("k"),
            amount=Money(100_00 + n, CURRENCY),
            issued_on=date(2025, 1, 1 + n % 28),
        )
    session.commit()


def terminate(backend_pid: int) -> None:
    """End a session from another one, and wait until it has gone."""
    with postgres_connection() as connection:
        row = connection.execute("SELECT pg_terminate_backend(%s, 10000)", (backend_pid,))
        assert (True,) == row.fetchone()


def sessions(connections: PostgresConnections, state: str | None = None) -> int:
    """The read models' sessions of a ledger (in ``state`` if given), as the server sees them."""
    with postgres_connection() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND (%s::text IS NULL OR state = %s)",
            (connections.application_name, state, state),
        ).fetchone()
        assert row is not None
        return int(row[0])


@contextmanager
def next_checkout_terminated(connections: PostgresConnections) -> Iterator[list[int]]:
    """Within the block, the first connection handed out by ``connections`` has its backend
    terminated just after the pool's check-out check (as a server restart or an operator
    would, while the connection is in use); the pids so ended are yielded."""
    real = connections.connection
    ended: list[int] = []

    @contextmanager
    def connection() -> Iterator[Any]:
        with real() as handed_out:
            if not ended:
                ended.append(handed_out.info.backend_pid)
                terminate(handed_out.info.backend_pid)
            yield handed_out

    connections.connection = connection
    try:
        yield ended
    finally:
        del connections.connection


@pytest.mark.postgres
def test_a_backend_terminated_mid_catch_up_is_recovered_by_the_next_query() -> None:
    import psycopg

    with postgres_schemas("killed") as make, closing(Ledger(make())) as ledger:
        seed_ledger(ledger, 200)
        runner = ledger.projection_runner()
        connections = ledger.read_model_connections()
        assert isinstance(connections, PostgresConnections)
        real_write = runner.tables.write_batch

        def write_on_a_killed_session(*args: Any, **kwargs: Any) -> None:
            with next_checkout_terminated(connections):
                real_write(*args, **kwargs)

        runner.tables.write_batch = write_on_a_killed_session
        with pytest.raises(StoreUnavailableError) as error:
            runner.catch_up()
        assert isinstance(error.value.__cause__, psycopg.OperationalError)
        assert "terminating connection" in (error.value.reason or "")
        del runner.tables.write_batch

        # The batch was rolled back with the session: nothing written, nothing left holding.
        assert 0 == runner.tables.position()
        assert 0 == sessions(connections, "idle in transaction")
        # The next queries get working connections and see every event: one customer's
        # (the engine's log) and the portfolio (the partitions' catch-up).
        decision = ledger.check_credit(customer_code("k"), Money(1_00, CURRENCY), AS_OF)
        assert sum(100_00 + n for n in range(200)) == decision.open_minor
        assert portfolio.fold_all(ledger.iter_events()) == ledger.portfolio()
        assert ledger.recorder.max_notification_id() == runner.tables.position()


@pytest.mark.postgres
def test_idle_pooled_connections_whose_backends_ended_are_replaced() -> None:
    with postgres_schemas("idle") as make, closing(Ledger(make())) as ledger:
        seed_ledger(ledger, 20)
        ledger.ageing(AS_OF)
        ledger.check_credit(customer_code("k"), Money(1_00, CURRENCY), AS_OF)
        connections = ledger.read_model_connections()
        assert isinstance(connections, PostgresConnections)
        with postgres_connection() as connection:
            pids = [
                row[0]
                for row in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                    (connections.application_name,),
                )
            ]
        assert pids
        for pid in pids:
            terminate(pid)
        ledger.issue_invoice(
            "INV-k-late",
            customer_code=customer_code("k"),
            amount=Money(7_00, CURRENCY),
            issued_on=date(2025, 2, 1),
        )

        report = ledger.ageing(AS_OF)
        decision = ledger.check_credit(customer_code("k"), Money(1_00, CURRENCY), AS_OF)

        expected = sum(100_00 + n for n in range(20)) + 7_00
        assert expected == sum(row.open_minor for row in report.rows)
        assert expected == decision.open_minor


def within(deadline_s: float, call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    """Run ``call`` on a thread; its error (None if it returned) and the seconds it took. Fails
    the test if it is still running after ``deadline_s``."""
    outcome: list[BaseException | None] = []
    started = time.monotonic()

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(deadline_s)
    assert not thread.is_alive(), f"still waiting after {deadline_s} s"
    return outcome[0], time.monotonic() - started


LOCK_TIMEOUT_S = 1.0
LIBRARY_PAUSES_S = 5.0
"""The eventsourcing library's pauses between its tries of a write (10 x 0.2 s), with room for
a loaded machine."""
HANG_S = 30.0
"""Far beyond the lock timeout: a call still waiting then would have waited for ever."""


@pytest.mark.postgres
def test_a_catch_up_behind_a_held_tracking_row_raises_store_busy_within_the_timeout() -> None:
    with postgres_schemas("busy") as make:
        env = {**make(), "ARLEDGER_LOCK_TIMEOUT": str(LOCK_TIMEOUT_S)}
        with closing(Ledger(env)) as ledger:
            seed_ledger(ledger, 5)
            ledger.portfolio()  # the tracking row exists
            ledger.issue_invoice(
                "INV-k-new",
                customer_code=customer_code("k"),
                amount=Money(1_00, CURRENCY),
                issued_on=date(2025, 3, 1),
            )
            with postgres_connection() as holder, holder.transaction():
                holder.execute(f"SET search_path TO {env['ARLEDGER_POSTGRES_SCHEMA']}")
                holder.execute("SELECT * FROM arledger_rm_tracking FOR UPDATE")

                error, took = within(HANG_S, ledger.portfolio)

            assert isinstance(error, StoreBusyError)
            assert "ARLEDGER_LOCK_TIMEOUT" == error.setting
            assert LOCK_TIMEOUT_S <= took < HANG_S
            # Once the lock is released, the same Ledger serves again.
            assert 6 == len(ledger.portfolio().ageing.invoices)


@pytest.mark.postgres
def test_a_command_behind_a_locked_events_table_raises_store_busy() -> None:
    with postgres_schemas("busyw") as make:
        env = {**make(), "ARLEDGER_LOCK_TIMEOUT": str(LOCK_TIMEOUT_S)}
        with closing(Ledger(env)) as ledger:
            seed_ledger(ledger, 1)
            table = f"{env['ARLEDGER_POSTGRES_SCHEMA']}.{ledger.recorder.events_table_name}"
            with postgres_connection() as holder, holder.transaction():
                holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

                error, took = within(
                    HANG_S,
                    lambda: ledger.issue_invoice(
                        "INV-k-blocked",
                        customer_code=customer_code("k"),
                        amount=Money(1_00, CURRENCY),
                        issued_on=date(2025, 3, 1),
                    ),
                )

            assert isinstance(error, StoreBusyError)
            assert "ARLEDGER_LOCK_TIMEOUT" == error.setting
            # The library tries its write ten times, each with a tenth of the lock timeout and
            # a pause of 0.2 s after it: about the timeout plus 2 s, not ten times the timeout.
            assert LOCK_TIMEOUT_S <= took < LOCK_TIMEOUT_S + LIBRARY_PAUSES_S
            with pytest.raises(LookupError):
                ledger.invoice("INV-k-blocked")  # nothing recorded


def test_a_sqlite_command_behind_another_writer_raises_store_busy(tmp_path: Path) -> None:
    import sqlite3

    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path / "busy.db"),
        "ARLEDGER_LOCK_TIMEOUT": str(LOCK_TIMEOUT_S),
    }
    with closing(Ledger(env)) as ledger:
        seed_ledger(ledger, 1)
        holder = sqlite3.connect(env["ARLEDGER_DB"], isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")

            error, took = within(
                HANG_S,
                lambda: ledger.issue_invoice(
                    "INV-k-blocked",
                    customer_code=customer_code("k"),
                    amount=Money(1_00, CURRENCY),
                    issued_on=date(2025, 3, 1),
                ),
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert isinstance(error, StoreBusyError)
        assert "ARLEDGER_LOCK_TIMEOUT" == error.setting
        assert LOCK_TIMEOUT_S <= took < HANG_S
        ledger.issue_invoice(
            "INV-k-after",
            customer_code=customer_code("k"),
            amount=Money(1_00, CURRENCY),
            issued_on=date(2025, 3, 1),
        )
        assert 2 == len(ledger.portfolio().ageing.invoices)


@pytest.mark.parametrize(
    "setting",
    ["ARLEDGER_LOCK_TIMEOUT", "ARLEDGER_STATEMENT_TIMEOUT", "ARLEDGER_IDLE_IN_TRANSACTION_TIMEOUT"],
)
@pytest.mark.parametrize("text", ["0", "-1", "soon", "nan", "inf"])
def test_a_timeout_must_be_a_number_of_seconds_above_zero(setting: str, text: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        store_env({"ARLEDGER_STORE": "postgres", setting: text})

    assert setting == error.value.setting


def test_the_timeouts_are_resolved_for_the_library_and_for_arledgers_sessions() -> None:
    settings = store_env(
        {
            "ARLEDGER_STORE": "postgres",
            "ARLEDGER_LOCK_TIMEOUT": "2.5",
            "ARLEDGER_STATEMENT_TIMEOUT": "30",
        }
    )

    assert Timeouts(lock_s=2.5, statement_s=30.0, idle_in_transaction_s=60.0) == timeouts(settings)
    assert "3" == settings["POSTGRES_LOCK_TIMEOUT"]  # the library's whole seconds, rounded up
    assert "60" == settings["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"]
    assert (
        "-c lock_timeout=2500 -c statement_timeout=30000 "
        "-c idle_in_transaction_session_timeout=60000"
    ) == timeouts(settings).postgres_options()


@pytest.mark.postgres
def test_the_librarys_sessions_and_the_read_models_have_the_timeouts() -> None:
    with postgres_schemas("limits") as make:
        env = {**make(), "ARLEDGER_LOCK_TIMEOUT": "2.5", "ARLEDGER_STATEMENT_TIMEOUT": "30"}
        with closing(Ledger(env)) as ledger:
            connections = ledger.read_model_connections()
            assert isinstance(connections, PostgresConnections)
            with connections.connection() as connection:
                read_models = [
                    connection.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("lock_timeout", "statement_timeout")
                ]
            with ledger.factory.datastore.get_connection() as connection:
                library = [
                    connection.execute(f"SHOW {name}").fetchone()[name]
                    for name in ("lock_timeout", "statement_timeout")
                ]

        assert ["2500ms", "30s"] == read_models
        assert ["250ms", "30s"] == library  # a tenth per try: the library tries ten times


@pytest.mark.postgres
def test_the_librarys_sessions_prepare_no_statements_after_writes_that_failed() -> None:
    """The library writes in psycopg's pipeline mode; a write failing mid-pipeline could leave
    psycopg taking a statement for prepared that the server never prepared, and the session's
    next write failed ("prepared statement _pg3_N does not exist", once, in the 16-thread test
    above). Its sessions prepare nothing: writes refused by a concurrency conflict or a lock
    timeout leave the next ones on the same session working, and none is prepared."""
    from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

    topic = "arledger.domain.events:CollectionActionRecorded"

    def stored(originator_id: UUID | None = None) -> StoredEvent:
        return StoredEvent(
            originator_id=originator_id or uuid4(), originator_version=1, topic=topic, state=b"{}"
        )

    with postgres_schemas("prepared") as make:
        env = {**make(), "ARLEDGER_LOCK_TIMEOUT": "0.3"}
        with closing(Ledger(env)) as ledger:
            recorder = ledger.recorder
            taken = stored()
            recorder.insert_events([taken])
            for _ in range(8):
                with pytest.raises(IntegrityError):
                    recorder.insert_events([stored(), stored(taken.originator_id)])
                recorder.insert_events([stored(), stored()])
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            with postgres_connection() as holder, holder.transaction():
                holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
                with pytest.raises(OperationalError):
                    recorder.insert_events([stored()])
            recorder.insert_events([stored(), stored()])
            with ledger.factory.datastore.get_connection() as connection:
                assert connection.prepare_threshold is None
                prepared = connection.execute("SELECT COUNT(*) FROM pg_prepared_statements")
                assert 0 == prepared.fetchone()["count"]


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_segments_written_through_the_pool_load_in_a_new_ledger(store: str, tmp_path: Path) -> None:
    with postgres_schemas("segments") if store == "postgres" else nullcontext(None) as make:
        env = (
            make()
            if make is not None
            else {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "segments.db")}
        )
        with closing(Ledger(env)) as ledger:
            seed_ledger(ledger, 30)
            expected = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
            engine = ledger.query_engine()
            engine.persist()
            events = engine.status()["events"]

        with closing(Ledger(env)) as again:
            engine = again.query_engine()
            assert 0 == engine.refresh()  # everything came from the segments
            assert events == engine.status()["persisted"] == engine.status()["events"]
            assert expected == again.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)


STATEMENT_TIMEOUT_S = 0.3


def test_a_sqlite_statement_past_the_statement_timeout_is_interrupted(tmp_path: Path) -> None:
    settings = store_env(
        {
            "ARLEDGER_STORE": "sqlite",
            "ARLEDGER_DB": str(tmp_path / "slow.db"),
            "ARLEDGER_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT_S),
        }
    )
    connections = SQLiteConnections(settings)
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    try:

        def run() -> None:
            with connections.connection() as connection:
                connection.execute(endless).fetchall()

        error, took = within(HANG_S, run)

        assert isinstance(error, StoreBusyError)
        assert "ARLEDGER_STATEMENT_TIMEOUT" == error.setting
        assert STATEMENT_TIMEOUT_S <= took < HANG_S
        with connections.connection() as connection:  # the connection serves again
            assert [(1,)] == connection.execute("SELECT 1").fetchall()
    finally:
        connections.close()


@pytest.mark.postgres
def test_a_postgres_statement_past_the_statement_timeout_is_cancelled() -> None:
    with postgres_schemas("slow") as make:
        settings = store_env({**make(), "ARLEDGER_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT_S)})
        connections = PostgresConnections(settings)
        try:

            def run() -> None:
                with connections.connection() as connection:
                    connection.execute("SELECT pg_sleep(60)")

            error, took = within(HANG_S, run)

            assert isinstance(error, StoreBusyError)
            assert "ARLEDGER_STATEMENT_TIMEOUT" == error.setting
            assert STATEMENT_TIMEOUT_S <= took < HANG_S
        finally:
            connections.close()
