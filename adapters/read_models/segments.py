"""The columnar log persisted in segments, in the store's own database, so that a new process
loads it instead of decoding the JSON log.

Where: a table ``arledger_rm_columnar`` beside the event store's, on SQLite and on PostgreSQL
alike. Every process that can reach the store can reach its segments (no shared directory to
configure on service hosts), they are backed up with the store, and a segment is written in
one transaction with the position it covers, so it is never half there. Measured at 1M invoices
(6M events): the whole log is about 500 MB of Arrow IPC, loaded in 2-4 s, where decoding the
JSON log takes minutes.

Uncompressed: a loaded segment's Arrow buffers point into the bytes read (no copy), where lz4
(~250 MB at 1M) cost every new process ~0.6 s of CPU to decompress and ~80 MB more at its
peak; on PostgreSQL the server compresses the rows as TOAST all the same (lz4 where it has it:
``PostgresConnections`` asks for it). Segments
written lz4-compressed before still load (Arrow IPC names its compression).

A segment holds the events ``first_event..last_event`` (the columnar ``seq`` numbers: 1, 2, ...
in log order) with, per event class present, one Arrow IPC stream, plus the ``ids`` rows
it added (a row named ``ids``, always present: it marks the segment). ``position`` is the
store's notification id of its last event, ``ids_count`` the size of the id table after it.
Segments chain: each starts right after the previous one ends. Writers take a lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: an exclusive table lock, bounded by a lock timeout), read the
chain's end, and append after it or do nothing; a compaction replaces them all by one. With
the store encrypted (``CIPHER_TOPIC``), so are the segments.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs
import pyarrow as pa

from arledger.adapters.persistence.connections import PostgresConnections
from arledger.adapters.read_models.columnar import conformed
from arledger.domain.errors import StoreBusyError

TABLE: Final = "arledger_rm_columnar"
IPC_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression=None)
"""Uncompressed (see the module's doc)."""
STREAM_ROWS: Final = 4
"""Segment rows a PostgreSQL load fetches at a time (each up to tens of MB compressed)."""
SEGMENT_LOCK_TIMEOUT_S: Final = 5.0
"""Longest a segment writer waits for another one (less if ``ARLEDGER_LOCK_TIMEOUT`` is less);
it then gives up writing (the log stays in memory and the next write tries again): never a
query blocked long behind a writer."""


@attrs.frozen(kw_only=True)
class Segment:
    first_event: int
    last_event: int
    position: int
    ids_count: int
    tables: Mapping[str, pa.Table]
    """Per event class present, its rows; ``"ids"``: the ids added."""


def encode_table(table: pa.Table) -> bytes:
    """One record batch: loaded, the table is one chunk per column, which the engine queries
    as it is (``LiveLog._combine`` copies nothing), where a table of many batches (the
    writer's pages) was copied whole into one chunk by every new process (0.8 s of CPU at 1M
    invoices)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=IPC_OPTIONS) as writer:
        writer.write_table(table.combine_chunks())
    return bytes(sink.getvalue())


def decode_table(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def _segment(head: list[int], tables: dict[str, pa.Table]) -> Segment:
    first_event, last_event, position, ids_count = head
    return Segment(
        first_event=first_event,
        last_event=last_event,
        position=position,
        ids_count=ids_count,
        tables=tables,
    )


class SegmentStore:
    """Segments in a SQLite file or a PostgreSQL database, each operation on a connection
    borrowed from the Ledger's read-model pool (``connections``)."""

    def __init__(self, connections: Any, cipher: Any = None, *, owned: bool = False) -> None:
        self.connections = connections
        self.cipher = cipher
        self.owned = owned
        """Close ``connections`` with the store (they were made for it alone)."""
        self.postgres = isinstance(connections, PostgresConnections)
        self.marker = "%s" if self.postgres else "?"
        blob = "BYTEA" if self.postgres else "BLOB"
        with self._transaction() as connection:
            self._execute(
                connection,
                f"CREATE TABLE IF NOT EXISTS {TABLE} (first_event BIGINT NOT NULL, "
                "last_event BIGINT NOT NULL, position BIGINT NOT NULL, ids_count BIGINT NOT NULL, "
                f"name TEXT NOT NULL, data {blob} NOT NULL, PRIMARY KEY (first_event, name))",
            )

    def close(self) -> None:
        if self.owned:
            self.connections.close()

    def _execute(self, connection: Any, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        return connection.execute(statement.replace("?", self.marker), parameters)

    def _fetchall(self, statement: str) -> list[Any]:
        with self.connections.connection() as connection:
            rows: list[Any] = self._execute(connection, statement).fetchall()
            return rows

    @contextlib.contextmanager
    def _transaction(self, *, locked: bool = False) -> Iterator[Any]:
        """A transaction on a connection of its own (its lock bounded by the lock timeout:
        ``SEGMENT_LOCK_TIMEOUT_S`` at most), rolled back however it fails."""
        with self.connections.connection() as connection:
            if self.postgres:
                with connection.transaction():
                    if locked:
                        limit = min(self.connections.limits.lock_s, SEGMENT_LOCK_TIMEOUT_S)
                        self._execute(
                            connection, f"SET LOCAL lock_timeout = '{round(limit * 1000)}ms'"
                        )
                        self._execute(connection, f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
                    yield connection
                return
            connection.execute("BEGIN IMMEDIATE" if locked else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _seal(self, data: bytes) -> bytes:
        return data if self.cipher is None else bytes(self.cipher.encrypt(data))

    def _open(self, data: bytes) -> bytes:
        return data if self.cipher is None else bytes(self.cipher.decrypt(bytes(data)))

    def load(self) -> list[Segment]:
        """The chain of segments from the first event on (a broken chain: up to the break)."""
        return list(self.stream())

    def stream(self) -> Iterator[Segment]:
        """The chain of segments from the first event on (a broken chain: up to the break), one
        at a time, as they are read: each row's stored bytes are decoded as it arrives and let
        go (PostgreSQL: through a server-side cursor), so a loader holds the decoded log and one
        segment's bytes, never every segment's bytes besides (at 1M invoices they were ~250 MB
        held beside the 520 MB log until the last was decoded)."""
        statement = (
            f"SELECT first_event, last_event, position, ids_count, name, data FROM {TABLE} "
            "ORDER BY first_event"
        )
        expected = 1
        current: list[Any] | None = None
        tables: dict[str, pa.Table] = {}
        with self._rows(statement) as rows:
            for first_event, last_event, position, ids_count, name, data in rows:
                if current is None or int(first_event) != current[0]:
                    if current is not None:
                        if "ids" not in tables:
                            return
                        yield _segment(current, tables)
                        expected = current[1] + 1
                    if int(first_event) != expected:
                        return
                    current = [int(first_event), int(last_event), int(position), int(ids_count)]
                    tables = {}
                tables[name] = self._table(name, data)
                del data
        if current is not None and "ids" in tables:
            yield _segment(current, tables)

    @contextlib.contextmanager
    def _rows(self, statement: str) -> Iterator[Iterator[Any]]:
        """The rows of ``statement`` fetched as they are iterated (SQLite steps its cursor;
        PostgreSQL reads a server-side cursor a few rows at a time, in a transaction, in the
        binary format: as text, every stored byte came as two hex digits, encoded by the server
        and decoded here (the 100k log's 54 MB: 0.31 s of this process's CPU against 0.07 s,
        and 0.77 s of wall time against 0.22 s))."""
        with self.connections.connection() as connection:
            if not self.postgres:
                yield iter(self._execute(connection, statement))
                return
            with (
                connection.transaction(),
                connection.cursor(name=f"{TABLE}_load", binary=True) as cursor,
            ):
                cursor.itersize = STREAM_ROWS
                cursor.execute(statement)
                yield iter(cursor)

    def _table(self, name: str, data: bytes) -> pa.Table:
        """A stored table, an event class's laid out as its schema is now (``conformed``:
        segments written before the class gained a field keep loading)."""
        table = decode_table(self._open(data))
        return table if name == "ids" else conformed(name, table)

    def chain_end(self, connection: Any = None) -> tuple[int, int]:
        """(last event, ids count) of the chain as stored (0, 0 when empty); on ``connection``
        (inside its transaction) if given."""
        statement = (
            f"SELECT first_event, last_event, ids_count FROM {TABLE} WHERE name = 'ids' "
            "ORDER BY first_event"
        )
        if connection is None:
            rows = self._fetchall(statement)
        else:
            rows = self._execute(connection, statement).fetchall()
        end, ids_count = 0, 0
        for first_event, last_event, count in rows:
            if int(first_event) != end + 1:
                break
            end, ids_count = int(last_event), int(count)
        return end, ids_count

    def count(self) -> int:
        return int(self._fetchall(f"SELECT COUNT(*) FROM {TABLE} WHERE name = 'ids'")[0][0])

    def write(self, segment: Segment, *, replace_all: bool = False) -> bool:
        """Append ``segment`` after the stored chain's end (or replace every segment by it);
        False when another writer got there first or holds the lock."""
        try:
            with self._transaction(locked=True) as connection:
                end, _ = self.chain_end(connection)
                if replace_all:
                    self._execute(connection, f"DELETE FROM {TABLE}")
                elif end + 1 != segment.first_event:
                    return False
                else:
                    # Rows past a break of the chain are never loaded: make room.
                    self._execute(connection, f"DELETE FROM {TABLE} WHERE first_event > ?", (end,))
                for name, table in segment.tables.items():
                    self._execute(
                        connection,
                        f"INSERT INTO {TABLE} (first_event, last_event, position, ids_count, "
                        "name, data) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            segment.first_event,
                            segment.last_event,
                            segment.position,
                            segment.ids_count,
                            name,
                            self._seal(encode_table(table)),
                        ),
                    )
        except Exception as error:
            if _is_contention(error):
                return False
            raise
        return True

    def reset(self) -> None:
        with self._transaction(locked=True) as connection:
            self._execute(connection, f"DELETE FROM {TABLE}")


def _is_contention(error: Exception) -> bool:
    """A lock not granted in time or a duplicate segment: another writer is at work."""
    if isinstance(error, StoreBusyError):
        return getattr(error, "setting", "") == "ARLEDGER_LOCK_TIMEOUT"
    if isinstance(error, sqlite3.OperationalError | sqlite3.IntegrityError):
        return "locked" in str(error) or "UNIQUE" in str(error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL extras absent
        return False
    return isinstance(error, psycopg.errors.LockNotAvailable | psycopg.errors.UniqueViolation)
