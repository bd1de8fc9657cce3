"""Read models stored in the ledger's database, kept up to date by a batched projection runner.

The stored read model is the portfolio fold (``projections.portfolio``), partitioned by
customer: one row per customer holding every fact of that customer (its account history,
invoices with their dated movements, disputes, payments, promises, actions), one row for the
escalation policy versions, and a routing table from invoice, payment and promise ids to their
customer. Ageing, escalation status, the worklist and promise status are pure queries over
those facts for any as-of date, so serving them reads a few rows instead of replaying history.

The runner reads the event log in batches after its tracking position, folds each batch into
the partitions it touches, and writes the changed partitions, the new routes and the new
position in ONE transaction: a batch is applied exactly once, and a runner stopped or killed
at any point resumes from the last committed position. ``rebuild`` clears the tables and folds
the whole log again.

Tables (SQLite file or PostgreSQL schema of the ledger):
``arledger_rm_partitions(partition_key, state)``, ``arledger_rm_routes(aggregate_id,
partition_key)``, ``arledger_rm_tracking(name, notification_id)``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, Protocol
from uuid import UUID

import attrs

from arledger.domain.errors import ConfigurationError
from arledger.domain.events import (
    CollectionActionRecorded,
    CustomerAccountOpened,
    DelinquencyDiagnosed,
    EscalationPolicyAdopted,
    Event,
    InvoiceIssued,
    PaymentReceived,
    PromiseMade,
)
from arledger.projections import ageing, portfolio
from arledger.projections.portfolio import PortfolioState

from .serialization import make_converter

BATCH_SIZE_DEFAULT: Final = 5000
"""Events per runner transaction: large enough to amortise the commit, small enough that a
batch's changed partitions stay a few megabytes."""

POLICY_PARTITION: Final = "policy"
RUNNER_NAME: Final = "portfolio"

_STATE_CLASSES = (
    PortfolioState,
    ageing.AgeingState,
    ageing.CustomerFacts,
    ageing.InvoiceFacts,
    portfolio.CustomerHistory,
    portfolio.Confirmation,
    portfolio.DisputeFacts,
    portfolio.PaymentFacts,
    portfolio.PromiseFacts,
    portfolio.ActionFacts,
    portfolio.DiagnosisFacts,
)
for _cls in _STATE_CLASSES:
    attrs.resolve_types(_cls)
_CONVERTER: Final = make_converter()


def dump_partition(state: PortfolioState) -> str:
    return json.dumps(_CONVERTER.unstructure(state), separators=(",", ":"))


def load_partition(text: str) -> PortfolioState:
    return _CONVERTER.structure(json.loads(text), PortfolioState)


def merge(states: Iterable[PortfolioState]) -> PortfolioState:
    """One portfolio state from disjoint partitions (each customer's facts are in one)."""
    merged = portfolio.initial()
    for state in states:
        merged.ageing.customers.update(state.ageing.customers)
        merged.ageing.invoices.update(state.ageing.invoices)
        merged.customers.update(state.customers)
        merged.disputes.update(state.disputes)
        merged.payments.update(state.payments)
        merged.applications.update(state.applications)
        merged.promises.update(state.promises)
        merged.promise_ids_by_reference.update(state.promise_ids_by_reference)
        merged.actions.update(state.actions)
        merged.diagnoses.update(state.diagnoses)
        merged.policy_versions.extend(state.policy_versions)
    return merged


def partition_of(event: Event, routes: Mapping[UUID, str]) -> tuple[str, UUID | None]:
    """(partition key, new routed aggregate id or None) for an event.

    Events that name their customer start a route for their aggregate; the others follow the
    route of their originator.
    """
    if isinstance(event, CustomerAccountOpened):
        return str(event.originator_id), None
    if isinstance(event, InvoiceIssued):
        return str(event.customer_id), event.originator_id
    if isinstance(event, PaymentReceived):
        return str(event.payer_customer_id), event.originator_id
    if isinstance(event, PromiseMade):
        return str(event.customer_id), event.originator_id
    if isinstance(event, CollectionActionRecorded | DelinquencyDiagnosed):
        return str(event.customer_id), None
    if isinstance(event, EscalationPolicyAdopted):
        return POLICY_PARTITION, None
    key = routes.get(event.originator_id)
    if key is None:
        # Customer-account events carry the customer's own id.
        return str(event.originator_id), None
    return key, None


class ReadModelTables(Protocol):
    """The few statements the runner needs, per database."""

    def position(self) -> int: ...

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]: ...

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]: ...

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
    ) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class StaleRunnerError(RuntimeError):
    """Another runner moved the tracking position first; this batch was not written."""


class SQLiteTables:
    def __init__(self, path: str) -> None:
        # check_same_thread=False: the Ledger may be closed (garbage collected) on another thread.
        self.connection = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self.connection.executescript(
            """
            CREATE TABLE IF NOT EXISTS arledger_rm_partitions (
                partition_key TEXT PRIMARY KEY, state TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS arledger_rm_routes (
                aggregate_id TEXT PRIMARY KEY, partition_key TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS arledger_rm_tracking (
                name TEXT PRIMARY KEY, notification_id INTEGER NOT NULL);
            """
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def position(self) -> int:
        row = self.connection.execute(
            "SELECT notification_id FROM arledger_rm_tracking WHERE name = ?", (RUNNER_NAME,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]:
        if keys is None:
            rows = self.connection.execute(
                "SELECT partition_key, state FROM arledger_rm_partitions"
            ).fetchall()
            return dict(rows)
        found: dict[str, str] = {}
        wanted = list(keys)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.connection.execute(
                    "SELECT partition_key, state FROM arledger_rm_partitions "
                    f"WHERE partition_key IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return found

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        found: dict[UUID, str] = {}
        wanted = [str(i) for i in ids]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for aggregate_id, key in self.connection.execute(
                "SELECT aggregate_id, partition_key FROM arledger_rm_routes "
                f"WHERE aggregate_id IN ({marks})",
                chunk,
            ):
                found[UUID(aggregate_id)] = key
        return found

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
    ) -> None:
        with self._transaction() as cursor:
            if self._moved(cursor, old_position, new_position):
                raise StaleRunnerError(f"tracking position is no longer {old_position}")
            cursor.executemany(
                "INSERT INTO arledger_rm_partitions (partition_key, state) VALUES (?, ?) "
                "ON CONFLICT (partition_key) DO UPDATE SET state = excluded.state",
                list(partitions.items()),
            )
            cursor.executemany(
                "INSERT INTO arledger_rm_routes (aggregate_id, partition_key) VALUES (?, ?)",
                [(str(i), key) for i, key in routes.items()],
            )

    def _moved(self, cursor: sqlite3.Cursor, old_position: int, new_position: int) -> bool:
        if old_position == 0:
            cursor.execute(
                "INSERT INTO arledger_rm_tracking (name, notification_id) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (RUNNER_NAME, 0),
            )
        cursor.execute(
            "UPDATE arledger_rm_tracking SET notification_id = ? "
            "WHERE name = ? AND notification_id = ?",
            (new_position, RUNNER_NAME, old_position),
        )
        return cursor.rowcount != 1

    def reset(self) -> None:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM arledger_rm_partitions")
            cursor.execute("DELETE FROM arledger_rm_routes")
            cursor.execute("DELETE FROM arledger_rm_tracking")

    def close(self) -> None:
        self.connection.close()


class PostgresTables:
    def __init__(self, connect: Mapping[str, str], schema: str | None) -> None:
        import psycopg

        self.connection = psycopg.connect(
            host=connect["host"],
            port=connect["port"],
            dbname=connect["dbname"],
            user=connect["user"],
            password=connect.get("password", ""),
            autocommit=True,
        )
        if schema:
            self.connection.execute(f'SET search_path TO "{schema}"')
        with self.connection.transaction():
            # Serialise table creation between runners starting at once.
            self.connection.execute("SELECT pg_advisory_xact_lock(4242017)")
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_partitions ("
                "partition_key TEXT PRIMARY KEY, state TEXT NOT NULL)"
            )
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_routes ("
                "aggregate_id UUID PRIMARY KEY, partition_key TEXT NOT NULL)"
            )
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_tracking ("
                "name TEXT PRIMARY KEY, notification_id BIGINT NOT NULL)"
            )

    def position(self) -> int:
        row = self.connection.execute(
            "SELECT notification_id FROM arledger_rm_tracking WHERE name = %s", (RUNNER_NAME,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]:
        if keys is None:
            rows = self.connection.execute(
                "SELECT partition_key, state FROM arledger_rm_partitions"
            ).fetchall()
        else:
            rows = self.connection.execute(
                "SELECT partition_key, state FROM arledger_rm_partitions "
                "WHERE partition_key = ANY(%s)",
                (list(keys),),
            ).fetchall()
        return {key: state for key, state in rows}

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        rows = self.connection.execute(
            "SELECT aggregate_id, partition_key FROM arledger_rm_routes "
            "WHERE aggregate_id = ANY(%s)",
            (list(ids),),
        ).fetchall()
        return {aggregate_id: key for aggregate_id, key in rows}

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
    ) -> None:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO arledger_rm_tracking (name, notification_id) VALUES (%s, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (RUNNER_NAME,),
            )
            cursor.execute(
                "UPDATE arledger_rm_tracking SET notification_id = %s "
                "WHERE name = %s AND notification_id = %s",
                (new_position, RUNNER_NAME, old_position),
            )
            if cursor.rowcount != 1:
                raise StaleRunnerError(f"tracking position is no longer {old_position}")
            # One statement per table (arrays unnested server-side), not one per row.
            cursor.execute(
                "INSERT INTO arledger_rm_partitions (partition_key, state) "
                "SELECT * FROM unnest(%b::text[], %b::text[]) "
                "ON CONFLICT (partition_key) DO UPDATE SET state = excluded.state",
                (list(partitions.keys()), list(partitions.values())),
            )
            cursor.execute(
                "INSERT INTO arledger_rm_routes (aggregate_id, partition_key) "
                "SELECT * FROM unnest(%b::uuid[], %b::text[])",
                (list(routes.keys()), list(routes.values())),
            )

    def reset(self) -> None:
        with self.connection.transaction():
            self.connection.execute("TRUNCATE arledger_rm_partitions, arledger_rm_routes")
            self.connection.execute("DELETE FROM arledger_rm_tracking")

    def close(self) -> None:
        self.connection.close()


def tables_for(settings: Mapping[str, str]) -> ReadModelTables:
    """The read-model tables beside the event store that ``settings`` configure."""
    module = settings.get("PERSISTENCE_MODULE", "")
    if module.endswith("sqlite"):
        return SQLiteTables(settings["SQLITE_DBNAME"])
    if module.endswith("postgres"):
        return PostgresTables(
            {
                "host": settings["POSTGRES_HOST"],
                "port": settings["POSTGRES_PORT"],
                "dbname": settings["POSTGRES_DBNAME"],
                "user": settings["POSTGRES_USER"],
                "password": settings.get("POSTGRES_PASSWORD", ""),
            },
            settings.get("POSTGRES_SCHEMA") or None,
        )
    raise ConfigurationError(
        "stored read models need a SQLite or PostgreSQL store; in-memory ledgers replay",
        store=module,
    )


@attrs.frozen(kw_only=True)
class ProjectionStatus:
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


Progress = Callable[[int, int], None]
"""Called after each batch with (position, head)."""


class _Working:
    """What one catch-up holds between its batches: the partitions and routes it has read or
    written, as of the tracking position it last committed (None: nothing is held).

    ``complete``: the tables were empty at its start (position 0), so every partition and route
    that exists is held here, and the tables need not be asked.
    """

    def __init__(self) -> None:
        self.position: int | None = None
        self.complete = False
        self.states: dict[str, PortfolioState] = {}
        self.routes: dict[UUID, str] = {}

    def reset(self, position: int | None, *, complete: bool) -> None:
        self.position = position
        self.complete = complete
        self.states = {}
        self.routes = {}


class ProjectionRunner:
    """Catches the stored portfolio read model up with a ledger's event log, in batches."""

    def __init__(
        self, ledger: Any, *, batch_size: int = BATCH_SIZE_DEFAULT, tables: Any = None
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.ledger = ledger
        self.batch_size = batch_size
        self.tables: ReadModelTables = tables or tables_for(ledger.store_settings)

    def close(self) -> None:
        self.tables.close()

    def status(self) -> ProjectionStatus:
        head = self.ledger.recorder.max_notification_id() or 0
        return ProjectionStatus(position=self.tables.position(), head=head)

    def run_batch(self) -> int:
        """Fold the next batch after the tracking position; returns how many events."""
        return self._run_batch(_Working())

    def _run_batch(self, working: _Working) -> int:
        position = self.tables.position()
        if working.position != position:
            # Another runner moved the position (or this is the first batch): what this one
            # holds no longer reflects the stored tables.
            working.reset(position, complete=position == 0)
        notifications = self.ledger.recorder.select_notifications(position + 1, self.batch_size)
        if not notifications:
            return 0
        events: list[Event] = [self.ledger.mapper.to_domain_event(n) for n in notifications]
        try:
            self._fold_and_write(working, events, position, notifications[-1].id)
        except BaseException:
            # Routes and states held were changed in place: they no longer match the tables.
            working.reset(None, complete=False)
            raise
        working.position = notifications[-1].id
        return len(notifications)

    def _fold_and_write(
        self, working: _Working, events: list[Event], position: int, new_position: int
    ) -> None:
        routes = working.routes
        if not working.complete:
            routes.update(self.tables.routes({e.originator_id for e in events} - routes.keys()))
        new_routes: dict[UUID, str] = {}
        keys: list[str] = []
        for event in events:
            key, routed = partition_of(event, routes)
            if routed is not None:
                routes[routed] = key
                new_routes[routed] = key
            keys.append(key)
        states = working.states
        touched = set(keys)
        if not working.complete:
            stored = self.tables.partitions(touched - states.keys())
            states.update((key, load_partition(text)) for key, text in stored.items())
        for event, key in zip(events, keys, strict=True):
            state = states.get(key)
            if state is None:
                state = states[key] = portfolio.initial()
            portfolio.fold(state, event)
        self.tables.write_batch(
            {key: dump_partition(states[key]) for key in touched},
            new_routes,
            position,
            new_position,
        )

    def catch_up(self, progress: Progress | None = None) -> int:
        """Run batches until the log's head; returns how many events were folded.

        The partitions and routes of earlier batches stay in memory until it returns, so each
        batch reads from the tables only what it has not seen yet (nothing, from position 0).
        """
        working = _Working()
        total = 0
        while True:
            count = self._run_batch(working)
            if count == 0:
                return total
            total += count
            if progress is not None:
                status = self.status()
                progress(status.position, status.head)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Clear the stored read model and fold the whole log again."""
        self.tables.reset()
        return self.catch_up(progress)

    def portfolio(self, customer_ids: Iterable[UUID] | None = None) -> PortfolioState:
        """The stored portfolio (all customers, or some, with the policy versions)."""
        keys = None if customer_ids is None else [*map(str, customer_ids), POLICY_PARTITION]
        return merge(load_partition(text) for text in self.tables.partitions(keys).values())
