"""The bulk write path: a session's pending events saved in batches, many commands per transaction.

An import decides every row first (in memory, through the domain's decide functions) and only
then writes. Writing a hundred thousand events one command per transaction is slow (each commit
is a disk sync on SQLite and a table lock plus a round trip on PostgreSQL), and writing them in
one transaction holds the lock for the whole write and loses everything on a crash. So the
events are cut into batches of about ``EVENTS_PER_BATCH`` and each batch is one transaction.

Invariant: a batch holds whole units, in the order they were recorded, and never splits one. A
unit is what the caller marked with ``UnitOfWork.end_unit``: for an import, one row with all its
commands (an invoice with its entry in the account's index, its settlement's receipt and the
allocation's payment and invoice events). A crash or a conflict therefore leaves a prefix of the
rows, each one whole, and since ids come from business keys a re-run records exactly the rest.
Events after the last mark form one unit, so a session nobody marked is written in one
transaction, as ``UnitOfWork.commit`` would.

For speed the batches bypass ``Application.save`` on SQLite and PostgreSQL: events are encoded
with msgspec (``bulk_encoding.StateEncoder``: what it stores reads back through the ledger's
mapper as the events written, though the bytes differ from the mapper's) before the transaction,
and inserted with one ``executemany`` (SQLite) or one binary ``COPY`` (PostgreSQL), under the
same table lock and notification the library's recorder takes. ``Ledger`` takes no
snapshots and has no ``_notify`` hook, so nothing the library would do on ``save`` is skipped;
any other store goes through ``Ledger.save``. ``prefetch`` reads many aggregates in one query
before deciding, so that an import does not ask the store about each key on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from arledger.adapters.application.ledger import LatestReading, Ledger
from arledger.adapters.application.unit_of_work import AggregateKind, UnitOfWork
from arledger.adapters.audit.cut import microseconds
from arledger.adapters.persistence import chain
from arledger.adapters.persistence.bulk_encoding import Row, StateEncoder
from arledger.adapters.persistence.library import is_postgres_recorder, lock_for_insert
from arledger.adapters.persistence.store import quoted_identifier
from arledger.domain import customer as customer_module
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain.events import Event

EVENTS_PER_BATCH: Final = 10_000
"""Events per transaction. Measured on two cores with 2,000 to 20,000: PostgreSQL is as fast at
5,000 to 10,000 as beyond, SQLite gains a little more (its cost per transaction is a disk sync).
A batch of 10,000 holds the PostgreSQL table lock for about a third of a second, and is at most
what a crash loses (the rows in it are written again by the next run)."""

IDS_PER_QUERY_MAX: Final = 500
"""Aggregate ids in one prefetch query: within SQLite's bound-parameter limit (999 in old
builds), and a page of rows that stays small in memory."""

Progress = Callable[[int, int], None]
"""Called after each batch with (events written, events to write)."""

# Commands and batches -------------------------------------------------------------------------


def pending_units(session: UnitOfWork) -> list[list[Event]]:
    """The session's pending events cut into its units (see ``UnitOfWork.end_unit``)."""
    return session.units()


def batches(units: Iterable[Sequence[Event]], events_per_batch: int) -> Iterator[list[Event]]:
    """Whole units gathered into batches of at most ``events_per_batch`` events each; a unit
    larger than that is a batch of its own."""
    if events_per_batch < 1:
        raise ValueError(f"events_per_batch must be positive, got {events_per_batch}")
    batch: list[Event] = []
    for unit in units:
        if batch and len(batch) + len(unit) > events_per_batch:
            yield batch
            batch = []
        batch.extend(unit)
    if batch:
        yield batch


def write_pending(
    ledger: Ledger,
    session: UnitOfWork,
    *,
    events_per_batch: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Save the session's pending events in batches of whole units; returns how many.

    The session hands its events over (``take_pending``): when a batch fails it is spent.
    """
    return write_units(
        ledger, session.take_pending(), events_per_batch=events_per_batch, progress=progress
    )


def write_units(
    ledger: Ledger,
    units: Sequence[Sequence[Event]],
    *,
    events_per_batch: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Save decided events in batches of whole units; returns how many.

    Each batch is one transaction of at most ``events_per_batch`` events (by default
    ``EVENTS_PER_BATCH``) unless one unit is larger. When one fails, ``PartialWriteError`` (a
    version conflict: the library's ``IntegrityError``) says how many events the batches before
    it recorded.
    """
    if events_per_batch is None:
        events_per_batch = EVENTS_PER_BATCH
    total = sum(len(unit) for unit in units)
    written = 0
    for batch in batches(units, events_per_batch):
        try:
            insert_events(ledger, batch)
        except IntegrityError as error:
            raise PartialWriteError(
                f"{error}; {written} of {total} events were recorded before",
                events_written=written,
                events_total=total,
            ) from error
        written += len(batch)
        if progress is not None:
            progress(written, total)
    return written


class PartialWriteError(IntegrityError):
    """A batch met a version conflict: the batches before it (``events_written`` events, whole
    units) are recorded, the rest is not. Running the same work again records the rest."""

    def __init__(self, message: str, *, events_written: int, events_total: int) -> None:
        super().__init__(message)
        self.events_written = events_written
        self.events_total = events_total


@contextmanager
def progress_bar(
    console: Console, description: str, *, unit: str = "events", total: int | None = None
) -> Iterator[Progress | None]:
    """A rich progress bar of the events written, for a command line.

    It pulses with ``description`` until the first batch is written (a file is checked whole
    first), then counts events; with ``total`` it shows that total from the start. Yields
    ``None`` when ``console`` is not a terminal (pipes, tests), so that nothing is drawn or
    computed there.
    """
    if not console.is_terminal:
        yield None
        return
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


# Writing one batch ----------------------------------------------------------------------------


def insert_events(ledger: Ledger, events: Sequence[Event]) -> None:
    """Save ``events`` in one transaction, by the fastest way the store offers."""
    if not events:
        return
    recorder = ledger.recorder
    clock = _commit_clock(ledger, events)
    if isinstance(recorder, SQLiteApplicationRecorder):
        _insert_sqlite(recorder, StateEncoder(ledger.mapper).rows(events), clock)
        return
    if is_postgres_recorder(recorder):
        _insert_postgres(recorder, StateEncoder(ledger.mapper).rows(events), clock)
        return
    ledger.save(*events)


def _commit_clock(ledger: Ledger, events: Sequence[Event]) -> Callable[[], int]:
    """The commit instant of one bulk transaction: the wall clock's, or, for a Ledger given its
    own clock (tests, generated histories whose stamps follow a recording clock the Ledger
    never reads), the batch's latest stamp, so that stamps and commit instants share one time
    line (``chain.append`` still keeps the instants rising)."""
    if isinstance(ledger.clock, LatestReading):
        latest = microseconds(max(event.timestamp for event in events))
        return lambda: latest
    clock: Callable[[], int] = getattr(ledger.recorder, "commit_clock", chain.wall_clock_us)
    return clock


def _insert_sqlite(recorder: Any, rows: Sequence[Row], clock: Callable[[], int]) -> None:
    # The application recorder inserts row by row to learn each notification id; nobody here
    # needs them, so one executemany does the same insert. Constraint violations become the
    # library's IntegrityError inside its transaction context. The recorder stores ids as hex;
    # a generator, so that no second list of rows is built.
    parameters = (
        (originator_id.hex, originator_version, topic, state)
        for originator_id, originator_version, topic, state in rows
    )
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.executemany(recorder.insert_events_statement, parameters)
        # Positions are handed out one after the other by the one writer: the last ``len``.
        cursor.execute(f"SELECT MAX(rowid) FROM {quoted_identifier(recorder.events_table_name)}")
        last = int(cursor.fetchone()[0])
        _chain(recorder, cursor, last - len(rows) + 1, rows, clock)


def _chain(
    recorder: Any,
    cursor: Any,
    first: int,
    rows: Sequence[Row],
    clock: Callable[[], int],
    *,
    copy: bool = False,
) -> None:
    """Link the rows just inserted at positions ``first``, ``first + 1``, ... (``chain``)."""
    chain.append(
        cursor,
        recorder.chain_dialect,
        [
            (first + offset, originator_id, originator_version, topic, state)
            for offset, (originator_id, originator_version, topic, state) in enumerate(rows)
        ],
        clock,
        copy=copy,
    )


def _insert_postgres(recorder: Any, rows: Sequence[Row], clock: Callable[[], int]) -> None:
    # The same transaction as the recorder's insert_events (EXCLUSIVE table lock, so that
    # notification ids are issued in commit order, and a NOTIFY for subscribers), but the rows go
    # in by binary COPY: about four times the library's INSERT ... unnest of composite values.
    from psycopg.sql import SQL, Identifier

    datastore = recorder.datastore
    statement = SQL(
        "COPY {schema}.{table} (originator_id, originator_version, topic, state) "
        "FROM STDIN (FORMAT BINARY)"
    ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))
    as_text = datastore.originator_id_type == "text"
    with datastore.transaction(commit=True) as cursor:
        lock_for_insert(recorder, cursor)
        with cursor.copy(statement) as copy:
            copy.set_types([datastore.originator_id_type, "bigint", "text", "bytea"])
            write_row = copy.write_row
            if as_text:
                for originator_id, originator_version, topic, state in rows:
                    write_row((str(originator_id), originator_version, topic, state))
            else:
                for row in rows:
                    write_row(row)
        # Under the EXCLUSIVE lock no one else inserts: the highest positions are these rows',
        # handed out in the order COPY read them.
        # Under the EXCLUSIVE lock nobody else takes positions: COPY took the next ones from
        # the sequence, one per row in the order it read them.
        cursor.execute(
            SQL("SELECT MAX(notification_id) AS last FROM {schema}.{table}").format(
                schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name)
            )
        )
        last = int(cursor.fetchone()["last"])
        _chain(recorder, cursor, last - len(rows) + 1, rows, clock, copy=True)


# Mapping --------------------------------------------------------------------------------------


def to_stored_events(ledger: Ledger, events: Sequence[Event]) -> list[StoredEvent]:
    """Map a batch of events to stored events that ``ledger.mapper`` reads back equal.

    The state is encoded with msgspec (``bulk_encoding.StateEncoder``), about ten times faster
    than the mapper; with a compressor or cipher configured the mapper itself is used.
    """
    return [
        StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=state,
        )
        for originator_id, originator_version, topic, state in StateEncoder(ledger.mapper).rows(
            events
        )
    ]


# Reading many aggregates at once --------------------------------------------------------------


_FOLDS: Final[dict[AggregateKind, Callable[[Iterable[Event]], Any]]] = {
    AggregateKind.CUSTOMER: customer_module.fold,
    AggregateKind.INVOICE: invoice_module.fold,
    AggregateKind.PAYMENT: payment_module.fold,
}
"""Kinds of state ``prefetch`` fills, with the fold that builds their states."""


def prefetch(
    session: UnitOfWork,
    *,
    customer_ids: Iterable[UUID] = (),
    invoice_ids: Iterable[UUID] = (),
    payment_ids: Iterable[UUID] = (),
) -> int:
    """Load the states of many aggregates into the session's caches with a few queries.

    Ids the store does not know are cached as absent, so deciding a command about them asks the
    store nothing. Ids the session already holds are left alone. On a store without a fast path
    (in memory) nothing is read: the session loads each aggregate when it needs it, as usual.
    Returns how many aggregates were found in the store.
    """
    select = _selector(session.ledger)
    if select is None:
        return 0
    found = 0
    for kind, aggregate_ids in (
        (AggregateKind.CUSTOMER, customer_ids),
        (AggregateKind.INVOICE, invoice_ids),
        (AggregateKind.PAYMENT, payment_ids),
    ):
        wanted = list(dict.fromkeys(i for i in aggregate_ids if not session.holds(kind, i)))
        fold = _FOLDS[kind]
        for start in range(0, len(wanted), IDS_PER_QUERY_MAX):
            chunk = wanted[start : start + IDS_PER_QUERY_MAX]
            events: dict[UUID, list[Event]] = defaultdict(list)
            for stored in select(chunk):
                event = cast(Event, session.ledger.mapper.to_domain_event(stored))
                events[event.originator_id].append(event)
            session.preload(
                kind,
                {
                    aggregate_id: None
                    if (history := events.get(aggregate_id)) is None
                    else fold(history)
                    for aggregate_id in chunk
                },
            )
            found += len(events)
    return found


Selector = Callable[[Sequence[UUID]], list[StoredEvent]]


def _selector(ledger: Ledger) -> Selector | None:
    """A function reading the stored events of many aggregates in version order, if the store
    has one."""
    recorder: Any = ledger.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):

        def select_sqlite(aggregate_ids: Sequence[UUID]) -> list[StoredEvent]:
            marks = ",".join("?" * len(aggregate_ids))
            statement = (
                "SELECT originator_id, originator_version, topic, state "
                f"FROM {quoted_identifier(recorder.events_table_name)} "
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [i.hex for i in aggregate_ids])
                return [
                    StoredEvent(
                        originator_id=UUID(row["originator_id"]),
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=row["state"],
                    )
                    for row in cursor.fetchall()
                ]

        return select_sqlite
    if not is_postgres_recorder(recorder):
        return None
    from psycopg.sql import SQL, Identifier

    datastore: Any = recorder.datastore
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))

    def select_postgres(aggregate_ids: Sequence[UUID]) -> list[StoredEvent]:
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            as_text = datastore.originator_id_type == "text"
            cursor.execute(statement, ([str(i) if as_text else i for i in aggregate_ids],))
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]

    return select_postgres
