"""Pooled connections for the read models (the projection runner's tables, the query engine's
event reader and segments), one pool per Ledger, shared by its threads.

Invariant: a connection is used by one thread at a time, from check-out to check-in, and goes
back to the pool outside any transaction (a failed block's transaction is rolled back, and a
broken connection is dropped, never handed out again).

- PostgreSQL: a ``psycopg_pool.ConnectionPool`` of autocommit sessions with the lock,
  statement and idle-in-transaction timeouts (``store.timeouts``), the ledger's schema on the
  search path, and a check on check-out, so that a backend terminated while the connection sat
  in the pool (an operator's ``pg_terminate_backend``, a restarted server, a network cut) is
  replaced rather than failed on. At rest it holds ``POSTGRES_POOL_MIN`` connections; at most
  ``POSTGRES_POOL_MAX``; one idle for ``POOL_IDLE_S`` is closed.
- SQLite: a small pool of ``sqlite3`` connections (made on demand, at most ``SQLITE_POOL_IDLE``
  kept), each in WAL mode with the lock timeout as its busy timeout, and the statement timeout
  enforced by a progress handler that interrupts a statement past its deadline.

A wait that runs out (a lock, a statement, a free connection) raises ``StoreBusyError``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, Final, TypeAlias

from arledger.adapters.persistence.store import (
    busy_error,
    busy_errors,
    connect_postgres,
    postgres_connect_args,
    postgres_connect_kwargs,
    postgres_schema,
    postgres_unavailable,
    store_errors,
    timeouts,
)
from arledger.domain.errors import ConfigurationError

POSTGRES_POOL_MIN: Final = 1
"""Read-model connections a Ledger keeps open at rest on PostgreSQL."""
POSTGRES_POOL_MAX: Final = 8
"""Most read-model connections of one Ledger: a catch-up uses up to three at once (fold,
read-ahead, write); queries take one each for a moment. More threads than this wait (at most
the lock timeout) for one to be free."""
POOL_IDLE_S: Final = 60.0
"""A connection above the minimum idle this long is closed."""
SQLITE_POOL_IDLE: Final = 4
"""SQLite connections kept open when idle (more are opened on demand and closed on return)."""
PROGRESS_STEPS: Final = 10_000
"""SQLite virtual-machine steps between two looks at a statement's deadline (~1 ms of work)."""


def application_name(schema: str | None) -> str:
    """What the read models' sessions call themselves in ``pg_stat_activity``: an operator
    sees which ledger (schema) a session serves."""
    return f"arledger read models {schema or 'public'}"[:63]


class PostgresConnections:
    """The read models' psycopg pool (see the module's doc)."""

    def __init__(
        self,
        settings: Mapping[str, str],
        *,
        min_size: int = POSTGRES_POOL_MIN,
        max_size: int = POSTGRES_POOL_MAX,
    ) -> None:
        from psycopg.sql import SQL, Identifier
        from psycopg_pool import ConnectionPool

        self.settings = dict(settings)
        schema = settings.get("POSTGRES_SCHEMA") or None
        # Refused before connecting; composed as an identifier all the same.
        search_path = None if schema is None else postgres_schema(schema, "POSTGRES_SCHEMA")
        self.limits = timeouts(settings)
        self.connect_args = postgres_connect_args(settings)

        def configure(connection: Any) -> None:
            if search_path is not None:
                connection.execute(SQL("SET search_path TO {}").format(Identifier(search_path)))
            # Partitions and segments are large values, compressed as they are written: lz4
            # takes a fifth of the server time of the default pglz. Servers built without lz4
            # refuse the setting and keep pglz.
            import psycopg

            with suppress(psycopg.Error):
                connection.execute("SET default_toast_compression = 'lz4'")

        # One connection first, made directly: a server that cannot be used is reported at
        # once with its reason (the pool would retry in the background until its timeout).
        connect_postgres(self.connect_args, self.limits).close()
        self.application_name = application_name(search_path)
        self.pool: Any = ConnectionPool(
            kwargs={
                **postgres_connect_kwargs(self.connect_args, self.limits),
                "application_name": self.application_name,
            },
            min_size=min_size,
            max_size=max_size,
            open=False,
            configure=configure,
            check=ConnectionPool.check_connection,
            timeout=self.limits.lock_s,
            max_idle=POOL_IDLE_S,
            name="arledger-read-models",
        )
        with store_errors(self.settings):
            self.pool.open(wait=False)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for this block: rolled back if the block leaves it in a transaction,
        dropped if it broke; ``StoreBusyError`` for a wait that ran out, and
        ``StoreUnavailableError`` for a session lost on the way (its backend terminated, the
        server restarted): the next call gets a fresh connection."""
        import psycopg

        with busy_errors(self.settings):
            try:
                with self.pool.connection() as connection:
                    yield connection
            except psycopg.OperationalError as error:
                if busy_error(error, self.settings) is not None:
                    raise  # StoreBusyError, just above
                raise postgres_unavailable(error, self.connect_args) from error

    def close(self) -> None:
        self.pool.close()

    def __del__(self) -> None:
        # A Ledger dropped without close(): the pool's worker threads hold the pool, not this
        # object, so closing here ends them and the sessions.
        with suppress(Exception):
            self.pool.close(timeout=0)


class SQLiteConnections:
    """The read models' SQLite connections (see the module's doc)."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.settings = dict(settings)
        self.path = settings["SQLITE_DBNAME"]
        self.limits = timeouts(settings)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # One connection first: a file that is not a database is refused here.
        with store_errors(self.settings), self.connection():
            pass

    def _open(self) -> sqlite3.Connection:
        # check_same_thread=False: a connection goes back to the pool and on to another thread
        # (never used by two at once).
        connection = sqlite3.connect(
            self.path,
            timeout=self.limits.lock_s,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for this block, with the statement timeout from now; rolled back if
        the block leaves it in a transaction; ``StoreBusyError`` for a wait that ran out."""
        with self._lock:
            if self._closed:
                raise ConfigurationError("the ledger's read-model connections are closed")
            connection = self._idle.pop() if self._idle else None
        with busy_errors(self.settings):
            if connection is None:
                connection = self._open()
            deadline = time.monotonic() + self.limits.statement_s
            connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
            try:
                yield connection
            finally:
                self._return(connection)

    def _return(self, connection: sqlite3.Connection) -> None:
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.set_progress_handler(None, 0)
        except sqlite3.Error:
            connection.close()
            return
        with self._lock:
            if not self._closed and len(self._idle) < SQLITE_POOL_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


Connections: TypeAlias = PostgresConnections | SQLiteConnections
"""A source of database connections, each borrowed for one block (``connection()``)."""


def connections_for(settings: Mapping[str, str]) -> Connections:
    """The read models' connection pool for the store ``settings`` configure."""
    module = settings.get("PERSISTENCE_MODULE", "")
    if module.endswith("sqlite"):
        return SQLiteConnections(settings)
    if module.endswith("postgres"):
        return PostgresConnections(settings)
    raise ConfigurationError(
        "stored read models need a SQLite or PostgreSQL store; in-memory ledgers replay",
        store=module,
    )
