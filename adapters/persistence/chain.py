"""The hash chain over the event log: one link per committed event, in position order.

``link(n) = SHA-256(link(n-1) || position || commit instant || originator id || version ||
topic || state)`` over the stored record's exact bytes (``link_of`` fixes the encoding: fixed-
width integers, the id's 16 bytes, lengths before the topic and the state, so that no two
records hash the same input). The first link follows ``GENESIS`` (32 zero bytes). Each link is
written in the same transaction as its event by every write path (the Ledger's recorder for
commands and sessions, the bulk writer for imports and generated ledgers), so a committed event
without its link, or a link without its event, is never the work of arledger.

Invariant: the chain table holds, for every position of the log in order, the link computed over
the record stored there and the link before it. Any edit, deletion, reordering or insertion of
stored records breaks the recomputation at the first position touched (``verify``); an attacker
who rewrites the records and every later link is caught only by a head recorded elsewhere.

Table ``arledger_chain(position, link, committed_at_us)`` beside the events (SQLite file or
PostgreSQL schema). ``committed_at_us`` is the instant the writing transaction took its
positions (microseconds since 1970 UTC, under the store's insert lock, strictly after the
previous transaction's), the same for every event of a transaction; it is covered by the link.
NULL for links built afterwards by ``build`` (the instant was never recorded).

Concurrency: links are appended under the lock that serialises inserts of events (SQLite's one
writer; PostgreSQL's EXCLUSIVE lock on the events table, taken by the library's recorder and
the bulk writer before inserting), so the tail read before appending is the chain's tail.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TypeAlias
from uuid import UUID

import attrs

from arledger.domain.errors import ChainMismatchError

TABLE: Final = "arledger_chain"
GENESIS: Final = bytes(32)
"""The link before the first one."""
UNKNOWN_INSTANT: Final = -(2**63)
"""``committed_at_us`` as hashed when it is NULL (a link built after the fact)."""

SQLITE_CREATE: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "position INTEGER PRIMARY KEY, link BLOB NOT NULL, committed_at_us INTEGER)"
)
POSTGRES_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
    "position BIGINT PRIMARY KEY, link BYTEA NOT NULL, committed_at_us BIGINT)"
)
"""A ``psycopg.sql.SQL`` template (schema and table as identifiers)."""
INDEX: Final = "arledger_chain_committed"
SQLITE_INDEX: Final = f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} (committed_at_us, position)"
POSTGRES_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (committed_at_us, position)"
)
"""The commit instants, for a query's cut (``adapters/audit/cut.py``): the last position
committed by an instant is one index entry away, where it was a scan of the chain (one row per
event: 2.3 s on PostgreSQL and ~0.4 s on SQLite at 1M invoices, in every ``known_at`` query).
Made with the table; a store made before it gets it the next time a Ledger opens it (a pass
over the chain, once: 0.7 s at 100k invoices on SQLite)."""

ChainRow: TypeAlias = tuple[int, UUID | str, int, str, bytes]
"""One stored event as the chain hashes it: position, originator id (UUID or its text as
stored), version, topic, state."""

HEAD: Final = struct.Struct(">32sqq16sqIQ")
"""previous link, position, commit instant, originator id, version, topic and state lengths:
the fixed-width part hashed before the topic and the state (``link_of``; inlined by the hot
loops of ``append`` and ``verify``)."""
_HEAD: Final = HEAD


def link_of(
    previous: bytes,
    position: int,
    committed_at_us: int | None,
    originator_id: UUID,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The link of one stored record after ``previous``."""
    topic_bytes = topic.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(
        _HEAD.pack(
            previous,
            position,
            UNKNOWN_INSTANT if committed_at_us is None else committed_at_us,
            originator_id.bytes,
            originator_version,
            len(topic_bytes),
            len(state),
        )
    )
    digest.update(topic_bytes)
    digest.update(state)
    return digest.digest()


def id_bytes(originator_id: UUID | str) -> bytes:
    """A stored originator id's 16 bytes, as ``as_uuid(originator_id).bytes`` (which raises on a
    malformed id), without building a UUID for the hex text SQLite and PostgreSQL hand back."""
    if isinstance(originator_id, str):
        digits = originator_id.replace("-", "")
        if len(digits) == 32:
            try:
                raw = bytes.fromhex(digits)
            except ValueError:
                pass
            else:
                if len(raw) == 16:
                    return raw
    return as_uuid(originator_id).bytes


def as_uuid(originator_id: UUID | str) -> UUID:
    """A stored originator id (SQLite keeps the hex text) as a UUID."""
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def wall_clock_us() -> int:
    """Now, in microseconds since 1970 UTC: the commit instants' clock (a Ledger's injected
    clock stamps events; it is not read here, so that tests' fixed clocks stay in step)."""
    return time.time_ns() // 1000


@attrs.frozen
class Tail:
    """The last link of a chain."""

    position: int
    link: bytes
    committed_at_us: int | None


@attrs.frozen
class Dialect:
    """The statements of one database, its cursor's parameter marker composed in."""

    tail: Any
    earlier_event: Any
    insert: Any
    postgres: bool
    copy: Any = None


def sqlite_dialect(events_table: str) -> Dialect:
    return Dialect(
        tail=f"SELECT position, link, committed_at_us FROM {TABLE} ORDER BY position DESC LIMIT 1",
        earlier_event=f"SELECT 1 FROM {events_table} WHERE rowid < ? LIMIT 1",
        insert=f"INSERT INTO {TABLE} (position, link, committed_at_us) VALUES (?, ?, ?)",
        postgres=False,
    )


def postgres_dialect(schema: str, events_table: str) -> Dialect:
    from psycopg.sql import SQL, Identifier

    chain = SQL("{}.{}").format(Identifier(schema), Identifier(TABLE))
    events = SQL("{}.{}").format(Identifier(schema), Identifier(events_table))
    return Dialect(
        tail=SQL(
            "SELECT position, link, committed_at_us FROM {} ORDER BY position DESC LIMIT 1"
        ).format(chain),
        earlier_event=SQL("SELECT 1 FROM {} WHERE notification_id < %s LIMIT 1").format(events),
        # One statement for the whole batch (the library's insert runs in pipeline mode, where
        # COPY is not allowed; executemany would send a statement per link).
        insert=SQL(
            "INSERT INTO {} (position, link, committed_at_us) "
            "SELECT * FROM unnest(%s::bigint[], %s::bytea[], %s::bigint[])"
        ).format(chain),
        postgres=True,
        copy=SQL("COPY {} (position, link, committed_at_us) FROM STDIN (FORMAT BINARY)").format(
            chain
        ),
    )


def postgres_create(schema: str) -> list[Any]:
    """The chain's table and index (``psycopg.sql`` statements)."""
    from psycopg.sql import SQL, Identifier

    return [
        SQL(POSTGRES_CREATE).format(schema=Identifier(schema), table=Identifier(TABLE)),
        SQL(POSTGRES_INDEX).format(
            index=Identifier(INDEX), schema=Identifier(schema), table=Identifier(TABLE)
        ),
    ]


def read_tail(cursor: Any, dialect: Dialect) -> Tail | None:
    cursor.execute(dialect.tail)
    row = cursor.fetchone()
    if row is None:
        return None
    if isinstance(row, dict):
        row = (row["position"], row["link"], row["committed_at_us"])
    return Tail(int(row[0]), bytes(row[1]), None if row[2] is None else int(row[2]))


def append(
    cursor: Any,
    dialect: Dialect,
    rows: Sequence[ChainRow],
    clock: Callable[[], int] = wall_clock_us,
    *,
    copy: bool = False,
) -> int:
    """Link ``rows`` (just inserted by this transaction, in position order) after the chain's
    tail, on ``cursor`` inside the transaction; returns how many links were written.

    ``copy``: on PostgreSQL, send the links by binary COPY (many links, outside the library's
    pipeline mode: the bulk writer).

    A store holding events but no chain yet (written before the chain existed) gets none: its
    chain is built once (``arledger chain build``), and ``verify`` says so until then. New
    positions at or below the tail mean events were removed under the chain (SQLite hands a
    deleted last row's position out again): ``ChainMismatchError``, nothing recorded.
    """
    if not rows:
        return 0
    tail = read_tail(cursor, dialect)
    first = rows[0][0]
    if tail is None:
        cursor.execute(dialect.earlier_event, (first,))
        if cursor.fetchone() is not None:
            return 0
        previous, committed_before = GENESIS, None
    else:
        if tail.position >= first:
            raise ChainMismatchError(
                f"the hash chain ends at position {tail.position} but new events would take "
                f"position {first}: events were removed from the log; nothing was recorded "
                "(run arledger verify)",
                position=first,
            )
        previous, committed_before = tail.link, tail.committed_at_us
    committed = clock()
    if committed_before is not None and committed <= committed_before:
        # A clock behind another writer's, or the same microsecond: commit order wins, and
        # instants rise strictly from one transaction to the next, so that ``known_at`` at a
        # transaction's instant cuts exactly after it (``Ledger`` queries, ``AsOfLog``).
        committed = committed_before + 1
    # ``link_of`` inlined: a bulk batch links ten thousand records in this loop.
    links = []
    sha256 = hashlib.sha256
    pack = _HEAD.pack
    topics: dict[str, bytes] = {}
    for position, originator_id, version, topic, state in rows:
        topic_bytes = topics.get(topic)
        if topic_bytes is None:
            topic_bytes = topics[topic] = topic.encode("utf-8", "surrogatepass")
        record = bytes(state)
        uuid_bytes = as_uuid(originator_id).bytes
        previous = sha256(
            pack(
                previous,
                position,
                committed,
                uuid_bytes,
                version,
                len(topic_bytes),
                len(record),
            )
            + topic_bytes
            + record
        ).digest()
        links.append((position, previous, committed))
    if dialect.postgres and copy:
        with cursor.copy(dialect.copy) as writer:
            writer.set_types(["bigint", "bytea", "bigint"])
            for row in links:
                writer.write_row(row)
    elif dialect.postgres:
        cursor.execute(
            dialect.insert,
            (
                [position for position, _, _ in links],
                [link for _, link, _ in links],
                [committed] * len(links),
            ),
        )
    else:
        cursor.executemany(dialect.insert, links)
    return len(links)


def links(rows: Iterable[ChainRow], previous: bytes = GENESIS) -> Iterable[tuple[int, bytes]]:
    """(position, link) for stored records in position order, built after the fact (commit
    instants unknown): what ``build`` writes."""
    for position, originator_id, version, topic, state in rows:
        previous = link_of(previous, position, None, as_uuid(originator_id), version, topic, state)
        yield position, previous
