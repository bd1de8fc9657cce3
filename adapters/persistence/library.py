"""Every use of the eventsourcing library's private API, in one place (tests/integration/
test_chain.py holds each to what arledger needs of it, so that an upgrade of the library that
changes one fails there first).

- The application recorders that write the hash chain (``chain``) in the transaction that
  inserts the events: SQLite's ``_insert_events`` (called inside the recorder's transaction,
  rows inserted one by one with their positions) and PostgreSQL's
  ``_fetch_ids_after_insert_events`` (called inside the transaction, under the EXCLUSIVE lock,
  once the inserted rows' positions are known). The Ledger selects them through the library's
  public ``APPLICATION_RECORDER_TOPIC`` setting.
- ``lock_for_insert``: the PostgreSQL recorder's table lock and notification, taken by the bulk
  writer before its COPY so that it inserts exactly as the recorder does.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from arledger.adapters.persistence import chain
from arledger.domain.errors import ConfigurationError


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, chaining every event it inserts (``chain``)."""

    def __init__(self, datastore: Any, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.chain_dialect = chain.sqlite_dialect(self.events_table_name)
        self.commit_clock: Callable[[], int] = chain.wall_clock_us
        """The commit instants' clock (µs); a Ledger with an injected clock sets its own."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            chain.SQLITE_CREATE,
            chain.SQLITE_INDEX,
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        chain.append(
            c,
            self.chain_dialect,
            [
                (position, s.originator_id, s.originator_version, s.topic, s.state)
                for position, s in zip(positions, stored_events, strict=True)
            ],
            self.commit_clock,
        )
        return positions


def _postgres_recorder_class() -> type[Any]:
    from eventsourcing.postgres import PostgresApplicationRecorder

    class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
        """The library's PostgreSQL recorder, chaining every event it inserts (``chain``)."""

        def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
            super().__init__(datastore, events_table_name=events_table_name)
            if datastore.enable_db_functions:
                # That path inserts in a database function, out of reach of the chain.
                raise ConfigurationError(
                    "POSTGRES_ENABLE_DB_FUNCTIONS is not supported: the hash chain is written "
                    "with the events",
                    setting="POSTGRES_ENABLE_DB_FUNCTIONS",
                )
            self.chain_dialect = chain.postgres_dialect(datastore.schema, self.events_table_name)
            self.commit_clock: Callable[[], int] = chain.wall_clock_us
            self.sql_create_statements.extend(chain.postgres_create(datastore.schema))

        def _fetch_ids_after_insert_events(
            self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
        ) -> Sequence[int] | None:
            positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            assert positions is not None
            if any(b <= a for a, b in itertools.pairwise(positions)):
                # RETURNING gave the rows out of insert order: read back what each got.
                positions, rows = _read_back(curs, self, positions)
            else:
                rows = [
                    (position, s.originator_id, s.originator_version, s.topic, s.state)
                    for position, s in zip(positions, stored_events, strict=True)
                ]
            chain.append(curs, self.chain_dialect, rows, self.commit_clock)
            return positions

    return ChainedPostgresApplicationRecorder


def _read_back(
    curs: Any, recorder: Any, positions: Sequence[int]
) -> tuple[list[int], list[chain.ChainRow]]:
    from psycopg.sql import SQL, Identifier

    curs.execute(
        SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE notification_id = ANY(%s) ORDER BY notification_id"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)),
        (list(positions),),
    )
    rows = [
        (
            int(row["notification_id"]),
            row["originator_id"],
            int(row["originator_version"]),
            row["topic"],
            bytes(row["state"]),
        )
        for row in curs.fetchall()
    ]
    return list(positions), rows


_CHAINED: dict[str, type[Any]] = {}


def chained_recorder_class(persistence_module: str) -> type[Any] | None:
    """The chaining application recorder for a persistence module (None: in memory, where
    nothing outlives the process and there is nothing to chain)."""
    if persistence_module.endswith("sqlite"):
        return ChainedSQLiteApplicationRecorder
    if persistence_module.endswith("postgres"):
        if "postgres" not in _CHAINED:
            _CHAINED["postgres"] = _postgres_recorder_class()
        return _CHAINED["postgres"]
    return None


def chained_recorder_topic(persistence_module: str) -> str | None:
    """``APPLICATION_RECORDER_TOPIC`` for ``chained_recorder_class``."""
    cls = chained_recorder_class(persistence_module)
    if cls is None:
        return None
    if cls is ChainedSQLiteApplicationRecorder:
        return f"{__name__}:ChainedSQLiteApplicationRecorder"
    return f"{__name__}:ChainedPostgresApplicationRecorder"


def __getattr__(name: str) -> Any:
    # The library resolves the topic by attribute; the PostgreSQL class is made on first use
    # (psycopg is an optional dependency).
    if name == "ChainedPostgresApplicationRecorder":
        return chained_recorder_class("eventsourcing.postgres")
    raise AttributeError(name)


def is_postgres_recorder(recorder: object) -> bool:
    """Whether ``recorder`` is the library's PostgreSQL application recorder (or ours), without
    importing the PostgreSQL driver where it was never used."""
    module = sys.modules.get("eventsourcing.postgres")
    return module is not None and isinstance(recorder, module.PostgresApplicationRecorder)


def lock_for_insert(recorder: Any, cursor: Any) -> None:
    """Take the PostgreSQL recorder's EXCLUSIVE table lock and send its notification, in the
    transaction of ``cursor``, as its ``insert_events`` does before inserting."""
    recorder._lock_table(cursor)
    recorder._notify_channel(cursor)
