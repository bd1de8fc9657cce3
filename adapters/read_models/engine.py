"""The query engine: the Ledger's portfolio queries answered from a live columnar read model.

``LiveLog`` keeps the event log in the columnar layout (``columnar``: one Arrow table per event
class) in memory and up to date: each refresh reads the events recorded since its position
(one query per page, decoded by ``EventDecoder``), appends them through one long-lived
``ColumnarWriter`` (so ids keep their numbers). Once enough have gathered, a thread of its own
appends them to the persisted segments (``segments``) with the position they reach, exactly
once, from a snapshot of the log taken at the end of the refresh: the query that brought them
never waits for the write (measured at 1M invoices, writing inside the query's refresh cost
+178..+668 ms a query, a compaction more). A new process loads the segments and reads only what
came after them; ``persist`` writes everything at once, and ``close`` waits for a write in
flight.

``QueryEngine`` answers ageing (every grouping), the worklist and KPIs with the fast path
(``fast_portfolio``, ``fast_timeline``, ``kpi_report_fast``, ``reports``) over the log's NumPy
columns, which are converted once per class after each change and cached; ``known_at`` cuts
the columns by recording time (no replay). Results equal the folds', field by field and in the
same order (tests/property/test_engine_differential.py).

Threads: one lock per engine serialises refreshes and the caches; the fast path's work runs
outside it on arrays that are never changed in place (a refresh makes new ones).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arledger.adapters.persistence.connections import Connections, connections_for
from arledger.adapters.read_models.arrow_memory import choose_memory_pool
from arledger.adapters.read_models.columnar import (
    IDS_SCHEMA,
    SCHEMAS,
    ColumnarLog,
    ColumnarWriter,
    append_columns,
    columns,
    decode_policy,
    from_columnar,
    query_ready,
)
from arledger.adapters.read_models.runner import _collection_paused, log_mismatch
from arledger.adapters.read_models.runner_events import (
    EventDecoder,
    EventReader,
    PostgresEventReader,
    RecorderEventReader,
    StoredRow,
)
from arledger.adapters.read_models.segments import Segment, SegmentStore
from arledger.domain.errors import ReadModelMismatchError
from arledger.domain.events import Event
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force
from arledger.domain.rules import require_date
from arledger.projections import kpis as kpis_module
from arledger.projections.ageing import AgeingGrouping, AgeingReport
from arledger.projections.backtest import Backtest, BacktestStep
from arledger.projections.fast import backtest as fast_backtest
from arledger.projections.fast import kpis as fast_kpis
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast import reports
from arledger.projections.fast import timeline as fast_timeline
from arledger.projections.fast.portfolio import FastPortfolio
from arledger.projections.results import Worklist

MERGED_CHUNKS_MAX: Final = 64
"""Chunks a class's table may grow to (one per refresh that brings its events) before they are
combined: queries read the NumPy columns, which extend without it."""
READ_ROWS: Final = 20_000
"""Stored events read per query while catching up."""
PERSIST_EVENTS_MIN: Final = 10_000
"""New events gathered before they are appended to the persisted segments, in the background
(fewer stay in memory only: a process that starts meanwhile reads them from the store, a few
ms)."""
SEGMENTS_MAX: Final = 16
"""More segments than this are compacted into one (loading many small ones costs more)."""
CUSTOMER_COLUMNS: Final = ("customer_id", "payer_customer_id")
"""Columns naming the customer an aggregate belongs to (an invoice, payment, promise, case or
credit note: each aggregate's events name it in at least one of its events)."""
TAIL_ROWS_MIN: Final = 16_384
"""Rows a ``RowsByValue`` leaves unsorted before it sorts them in (a scan of this many takes
well under a millisecond)."""
RESULTS_CACHED: Final = 8
"""Fast-path results kept per log version (several as-of dates in use at once)."""
FOLDS_KEPT: Final = 4
"""Folded states kept per customer (cuts in use at once: now, and an audit's instants)."""
ANSWERS_KEPT: Final = 16
"""Answers kept per customer (``QueryEngine.customer_answer``: a status and an explanation
for a few as-of dates and cuts)."""
ROWS_DECODED_KEPT: Final = 200_000
"""Events decoded for the portfolio folds that read a few classes' rows (cash held, pending
approvals), kept by position for the next query (a worklist decodes the same open requests
again each time); past this many, forgotten all at once and decoded again as asked."""
CUSTOMER_EVENTS_CACHED: Final = 50_000
"""Decoded events kept for the customers queried last (``QueryEngine.customer_events``), in
all: a few MB, room for hundreds of ordinary customers. The customer asked last is kept
whatever its size (the largest of the generated 1M-invoice ledger has ~145,000 events), with
its folds and answers: asked again, it costs no decoding, fold or evaluation."""


def _extendable(
    folded: dict[tuple[int, datetime | None], _Fold], count: int
) -> tuple[int, _Fold] | None:
    """The kept fold of the most events fewer than ``count`` (as known now) that no one else
    holds, taken out of ``folded`` to be extended (the caller holds the engine's lock)."""
    found = [
        key[0]
        for key, kept in folded.items()
        if key[1] is None and key[0] < count and kept.users == 0 and not kept.lent
    ]
    if not found:
        return None
    most = max(found)
    return most, folded.pop((most, None))


def _carried(
    folded: dict[tuple[int, datetime | None], _Fold], count: int
) -> dict[tuple[int, datetime | None], _Fold]:
    """For a customer's next version, the fold of all ``count`` events of the previous one
    (as known now), taken out of ``folded`` if no one else holds it, for the next fold to
    extend (the caller holds the engine's lock)."""
    kept = folded.get((count, None))
    if kept is None or kept.users or kept.lent:
        return {}
    del folded[(count, None)]
    return {(count, None): kept}


def _union(*selects: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, list[str]] = {}
    for select in selects:
        for name, names in select.items():
            known = merged.setdefault(name, [])
            known.extend(column for column in names if column not in known)
    return {name: tuple(names) for name, names in merged.items()}


SELECT: Final = _union(
    fast_path.SELECT, fast_timeline.SELECT, fast_kpis.SELECT, reports.REPORT_SELECT
)
"""Every column the engine's queries read (invoice numbers apart: only the invoice grouping)."""


class SQLiteEventReader:
    """The ledger's SQLite events table, one query a page, each on a pooled connection (with
    the store's busy and statement timeouts, ``connections.SQLiteConnections``)."""

    def __init__(self, connections: Any, table: str) -> None:
        self.connections = connections
        self.statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            "WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )

    def read(self, start: int, limit: int) -> list[StoredRow]:
        with self.connections.connection() as connection:
            rows: list[StoredRow] = connection.execute(self.statement, (start, limit)).fetchall()
            return rows


def _holds(converted: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """Whether a class's NumPy columns hold each of ``names`` (a list column is held as its
    offsets and children, never under its own name: missing that, every refresh converted
    InvoiceIssued, the largest table, again in full, instead of its new rows)."""
    return all(name in converted or f"{name}.offsets" in converted for name in names)


def rows_after(table: pa.Table, after: int) -> pa.Table:
    """The rows of a class's table numbered past ``after``: a slice, since each table holds its
    rows in ``seq`` order (segments load in chain order, refreshes append in log order, and a
    compaction writes the whole table as it is), found chunk by chunk and then by bisection,
    rather than a filter over every row (which cost tens of ms a class at 1M invoices)."""
    start = 0
    for chunk in table.column("seq").chunks:
        if len(chunk) and chunk[len(chunk) - 1].as_py() > after:
            values = chunk.to_numpy(zero_copy_only=False)
            return table.slice(start + int(np.searchsorted(values, after, side="right")))
        start += len(chunk)
    return table.slice(table.num_rows)


def id_bytes(ids: pa.Table | None) -> np.ndarray:
    """The ids table's UUIDs as 16-byte values (NumPy ``V16``), a view of the fixed-size binary
    column (no Python object per id)."""
    if ids is None or not ids.num_rows:
        return np.zeros(0, "V16")
    chunked = ids.column("id")
    # One chunk is viewed as it is (``combine_chunks`` copies even a single chunk: 35 MB held
    # twice at 1M invoices).
    column = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
    data = column.buffers()[1]
    assert data is not None
    return np.frombuffer(data, dtype="V16", count=len(column), offset=column.offset * 16)


class RowsByValue:
    """The rows of one class's table by the value of one of its id columns (``originator_id``,
    ``customer_id``): a customer's query picks its few hundred rows out of millions in
    microseconds rather than comparing every row (tens of ms a query at 1M invoices).

    The rows indexed are sorted once (a stable argsort); rows appended since are scanned, and
    sorted in with the others once they grow past an eighth of them, so refreshes never pay
    for the index and a query pays at most a scan of the recent rows."""

    def __init__(self) -> None:
        self.values = np.zeros(0, np.int32)
        """The column, as many rows of it as the table had at the last look."""
        self.indexed = 0
        self.order = np.zeros(0, np.int64)
        self.sorted = np.zeros(0, np.int32)

    def extend(self, column: pa.ChunkedArray) -> None:
        """Take in the rows appended to ``column`` since the last look."""
        if len(column) > len(self.values):
            assert column.null_count == 0  # id columns are never null (int32 indexes)
            added = column.slice(len(self.values)).to_numpy().astype(np.int32, copy=False)
            self.values = np.concatenate([self.values, added])

    def rows_of(
        self, column: pa.ChunkedArray, wanted: np.ndarray, is_wanted: np.ndarray
    ) -> np.ndarray:
        """The row numbers (ascending) whose value is in ``wanted`` (sorted, unique);
        ``is_wanted``: True at each value of ``wanted``, for every value the column holds."""
        self.extend(column)
        if len(self.values) - self.indexed > max(TAIL_ROWS_MIN, self.indexed // 8):
            self.order = np.argsort(self.values, kind="stable")
            self.sorted = self.values[self.order]
            self.indexed = len(self.values)
        low = np.searchsorted(self.sorted, wanted, side="left")
        counts = np.searchsorted(self.sorted, wanted, side="right") - low
        found = np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        rows = self.order[found]
        if self.indexed < len(self.values):
            tail = self.values[self.indexed :]
            recent = np.flatnonzero(is_wanted[tail]) + self.indexed
            rows = np.concatenate([rows, recent])
        return np.sort(rows)


def take_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """``table.take(rows)`` (rows ascending), batch by batch: a log's table holds up to
    ``MERGED_CHUNKS_MAX`` chunks, and taking a few rows through the whole chunked table cost
    about a millisecond a class."""
    batches = table.to_batches()
    if len(batches) <= 1:
        return table.take(rows)
    ends = np.cumsum([batch.num_rows for batch in batches])
    which = np.searchsorted(ends, rows, side="right")
    parts = []
    for index in np.unique(which).tolist():
        start = int(ends[index]) - batches[index].num_rows
        parts.append(batches[index].take(pa.array(rows[which == index] - start)))
    return pa.Table.from_batches(parts, schema=table.schema)


_MISSING: Final = object()


def _keep(kept: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    """``kept[key] = value``, dropping the oldest first to hold at most ``most``."""
    if key not in kept and len(kept) >= most:
        kept.pop(next(iter(kept)))
    kept[key] = value


@attrs.define(eq=False)
class _Fold:
    """A folded state kept for a customer, and who else holds it: a fold is extended in place
    with later events (the folds mutate their state) only when no answer is being computed
    from it and it was never handed out (``QueryEngine.customer_state``'s callers keep it)."""

    state: Any
    users: int = 0
    """Answers being computed from it now (``QueryEngine.customer_answer``)."""
    lent: bool = False
    """Handed to a caller, who may read it at any time: never extended."""


@attrs.frozen(kw_only=True)
class _CustomerEvents:
    """One customer's events decoded from the log (``QueryEngine.customer_events``), as the
    log held them at ``events_seen`` events (its version ``version``)."""

    version: int
    events_seen: int
    seqs: np.ndarray
    """Each event's ``seq``, ascending."""
    events: tuple[Event, ...]
    folded: dict[tuple[int, datetime | None], _Fold] = attrs.field(factory=dict, eq=False)
    """Folds of the first n events as known at an instant (``QueryEngine.customer_state``)."""
    answers: dict[tuple[int, datetime | None, Hashable], Any] = attrs.field(factory=dict, eq=False)
    """Answers computed from those folds (``QueryEngine.customer_answer``), by the fold's key
    and the question's."""


@attrs.frozen(kw_only=True)
class _Snapshot:
    """The columnar log as one refresh left it: what a segment write reads, on its own thread,
    while later refreshes go on."""

    tables: Mapping[str, pa.Table]
    events: int
    position: int

    def segment(self, after: int, ids_after: int) -> Segment:
        """The events past ``after`` and the ids past the first ``ids_after``."""
        tables: dict[str, pa.Table] = {}
        for name, table in self.tables.items():
            if name == "ids":
                continue
            part = rows_after(table, after) if after else table
            if part.num_rows:
                tables[name] = part
        ids = self.tables.get("ids", IDS_SCHEMA.empty_table())
        tables["ids"] = ids.slice(ids_after)
        return Segment(
            first_event=after + 1,
            last_event=self.events,
            position=self.position,
            ids_count=ids.num_rows,
            tables=tables,
        )


class LiveLog:
    """The columnar log of one store, in memory, kept up to date and persisted in segments."""

    def __init__(
        self,
        reader: EventReader,
        decoder: EventDecoder,
        segments: SegmentStore | None,
        *,
        store: str = "the store",
        head: Callable[[], int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.reader = reader
        self.decoder = decoder
        self.segments = segments
        self.store = store
        """The store, as error messages name it."""
        self.head = head
        """The log's last notification id (for error messages and progress)."""
        self.progress = progress
        """Called as ``progress(done, total)`` after each page a refresh reads: events read
        so far and events to read (None: silent)."""
        self._last: tuple[UUID, int] | None = None
        """Originator id and version of the event at ``position``."""
        self.position = 0
        """Notification id of the last event in the log."""
        self.events = 0
        """Events in the log (the last ``seq``)."""
        self.persisted = 0
        """Events known to be in the stored segments."""
        self.version = 0
        """Changes with every refresh that brings events."""
        self._loaded = False
        self._writer: ColumnarWriter | None = None
        self._raw: dict[str, pa.Table] = {}
        self._pending: dict[str, list[pa.RecordBatch]] = {}
        self._ready: dict[str, pa.Table] = {}
        self._columns: dict[str, dict[str, Any]] = {}
        """Per class, NumPy columns of its first ``_converted`` rows (``_selected`` columns)."""
        self._converted: dict[str, int] = {}
        self._selected: dict[str, tuple[str, ...]] = {}
        self._code_maps: dict[str, dict[str, dict[Any, int]]] = {}
        self._buffers: dict[str, dict[str, np.ndarray]] = {}
        """Per class, the growing buffers its extended NumPy columns are views of."""
        self._ids: list[UUID | None] = []
        self._by_value: dict[tuple[str, str], RowsByValue] = {}
        self.decoders: dict[type, dict[str, Callable[[Any], Any]]] = {}
        """``from_columnar``'s decoders of this log's rows (its ``id_of``), per class."""
        self._persister: ThreadPoolExecutor | None = None
        self._persisting: Future[bool] | None = None
        self._persisting_lock = threading.Lock()
        self.segments_paused = False
        """Set by ``stop_persisting``: no background write starts any more."""

    # Catching up ------------------------------------------------------------------------------

    def refresh(self, upto: int | None = None) -> int:
        """Read and append every event recorded since the position; the count appended.

        The first page is read from the position itself: the log must still hold there the
        event read last, else ``ReadModelMismatchError`` (events removed, or the store restored
        from an older copy: the log would otherwise skip new events at ids it has passed).

        ``upto``: the position the caller's query is cut at (the store's head, read just
        before, when it asks for no earlier cut). When the log already ends there, nothing is
        read: the query needs no other event, and the head has not moved (a round trip less
        a query; on PostgreSQL ~15 ms under load). Below or past the position, the refresh
        reads as always (a head gone back is refused)."""
        loading = not self._loaded
        if loading:
            self._load()
        elif upto is not None and upto == self.position:
            return 0
        added = 0
        progress = self.progress
        # The events to read, for a progress report only: the head is one more query.
        behind = (
            max(0, self.head() - self.position)
            if progress is not None and self.head is not None
            else 0
        )
        rows: list[StoredRow] | None = (
            self.reader.read(self.position, READ_ROWS + 1) if self.position else []
        )
        if self.position:
            first = (UUID(rows[0][1]), rows[0][2]) if rows else None
            if not rows or rows[0][0] != self.position or first != self._last:
                raise self._mismatch(first)
            rows = rows[1:]
            if not rows:
                # The page held only the event read last: the log ends there (a short page is
                # its end; reading the next one would be a round trip for nothing).
                rows = None
        # The decoded events of a page die with it and hold no cycles: without the pause, their
        # allocations set off the collector's passes over the whole heap (a full one cost
        # ~60 ms of CPU at 100k invoices, more at 1M) in a refresh that frees all it made.
        with _collection_paused():
            while rows is not None:
                if not rows:
                    rows = self.reader.read(self.position + 1, READ_ROWS)
                if not rows:
                    break
                # A short page is the log's end when it was read: nothing more to ask for.
                last_page = len(rows) < READ_ROWS
                # One batch per page read: a page's events are appended whole or not at all,
                # so the position never passes an event that is not in the log, nor stops
                # short of one that is (``ColumnarWriter.write_batch`` leaves no trace when it
                # fails).
                self._writer_ready().write_batch(self.decoder.decode(rows))
                self.position = int(rows[-1][0])
                self._last = (UUID(rows[-1][1]), rows[-1][2])
                added += len(rows)
                rows = None if last_page else []
                if progress is not None:
                    progress(added, max(added, behind))
        if added:
            assert self._writer is not None
            self._writer.close()  # flushes partial pages; the writer stays usable
            self.events = self._writer.seq
            self._merge()
            if loading:
                self._combine()
            self.version += 1
            self._persist_later()
        elif loading:
            self._combine()
        return added

    def _mismatch(self, found: tuple[UUID, int] | None) -> ReadModelMismatchError:
        head = self.head() if self.head is not None else 0
        return log_mismatch(
            self.store,
            self.position,
            head,
            None if self._last is None else (str(self._last[0]), self._last[1]),
            None if found is None else (str(found[0]), found[1]),
        )

    def _load(self) -> None:
        self._loaded = True
        if self.segments is None:
            return
        self._load_segments()
        self.version += 1
        if self.events:
            self._last = self._event_at(self.events)
            # The writer's index of the loaded ids is sorted now, on a thread of its own, so
            # that a later refresh bringing events pays for them only (it waits for the sort
            # only if it comes first). The ids are combined first: the index keeps a view of
            # them, and ``_combine`` leaves them as they are (no second copy).
            self._raw["ids"] = self._raw["ids"].combine_chunks()
            self._writer_ready(in_background=True)

    def _combine(self) -> None:
        """One chunk per column, class by class (each class's chunks freed as it is combined):
        ``query_ready`` then shares this memory instead of combining the chunks into a second
        copy of the whole log (a new process held the log twice over). Done once the first
        refresh has appended the events read from the store after the segments too: combined
        before them, the tail's chunk made every class it touched two chunks again, and the
        first query held both the log and a combined copy of those classes (+370 MB at 1M
        invoices with a few hundred new events)."""
        for name in list(self._raw):
            if name != "ids":  # combined on loading (``_load``): the writer's index views them
                self._raw[name] = self._raw[name].combine_chunks()

    def _load_segments(self) -> None:
        """The stored segments appended, in chain order (none of them held once it returns)."""
        assert self.segments is not None
        for segment in self.segments.stream():
            for name, table in segment.tables.items():
                self._pending.setdefault(name, []).extend(table.to_batches())
            self.events = self.persisted = segment.last_event
            self.position = segment.position
            del segment
        self._merge()

    def _event_at(self, seq: int) -> tuple[UUID, int]:
        """Originator id and version of the event numbered ``seq`` in the log: found by
        bisection in each class's ``seq`` column (rows are in ``seq`` order, see ``rows_after``),
        not a filter over every row (0.3 s of CPU at 1M invoices, in every new process)."""
        for name, table in self._raw.items():
            if name == "ids":
                continue
            start = 0
            for chunk in table.column("seq").chunks:
                if len(chunk) and chunk[len(chunk) - 1].as_py() >= seq:
                    values = chunk.to_numpy(zero_copy_only=False)
                    at = int(np.searchsorted(values, seq))
                    if values[at] == seq:
                        row = table.slice(start + at, 1)
                        index = row.column("originator_id")[0].as_py()
                        return self.id_of(index), row.column("originator_version")[0].as_py()
                    break
                start += len(chunk)
        raise AssertionError(f"the columnar log has no event {seq}")

    def _sink(self, name: str, batch: pa.RecordBatch) -> None:
        self._pending.setdefault(name, []).append(batch)

    def _writer_ready(self, *, in_background: bool = False) -> ColumnarWriter:
        if self._writer is None:
            writer = ColumnarWriter(self._sink)
            writer.seq = self.events
            writer.ids.restore(id_bytes(self._raw.get("ids")), in_background=in_background)
            self._writer = writer
        return self._writer

    def _merge(self) -> None:
        for name, batches in self._pending.items():
            if not batches:
                continue
            schema = IDS_SCHEMA if name == "ids" else SCHEMAS[name]
            parts = [pa.Table.from_batches(batches, schema=schema)]
            if name in self._raw:
                parts.insert(0, self._raw[name])
            merged = pa.concat_tables(parts)  # no copy: the new rows become new chunks
            if merged.column(0).num_chunks > MERGED_CHUNKS_MAX:
                merged = merged.combine_chunks()
            self._raw[name] = merged
            self._ready.pop(name, None)  # the NumPy columns (``columns``) extend instead
        self._pending = {}
        if "ids" in self._raw:
            self._ids.extend([None] * (self._raw["ids"].num_rows - len(self._ids)))

    # Persisting -------------------------------------------------------------------------------

    def _persist_later(self) -> None:
        """Start appending the events not yet in the stored segments on the persisting thread,
        when enough have gathered (or none were stored yet) and no write is in flight.

        Called under the engine's lock at the end of a refresh, so the snapshot is a whole
        log: the tables of one position, their ids with them (Arrow tables are never changed
        in place; a refresh replaces them)."""
        if self.segments is None or self.events == self.persisted:
            return
        if self.persisted and self.events - self.persisted < PERSIST_EVENTS_MIN:
            return
        with self._persisting_lock:
            if self.segments_paused:
                return
            if self._persisting is not None and not self._persisting.done():
                return  # the next refresh starts another if there is still enough
            if self._persister is None:
                self._persister = ThreadPoolExecutor(1, "arledger-segments")
            self._persisting = self._persister.submit(self._write, self._snapshot())

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(tables=dict(self._raw), events=self.events, position=self.position)

    def wait_persisted(self) -> None:
        """Wait for the segment write in flight, if any (its error, if it failed, is raised)."""
        with self._persisting_lock:
            persisting = self._persisting
        if persisting is not None:
            persisting.result()

    def persist(self, *, force: bool = False) -> bool:
        """Append the events not yet in the stored segments now, on the caller's thread (when
        enough have gathered, or ``force``), after any write in flight; compact when there are
        many segments. False when nothing was written."""
        self.wait_persisted()
        if self.segments is None or self.events == self.persisted:
            return False
        if not force and self.events - self.persisted < PERSIST_EVENTS_MIN:
            return False
        return self._write(self._snapshot())

    def _write(self, snapshot: _Snapshot) -> bool:
        """Append what ``snapshot`` holds past the stored chain's end (the whole log instead,
        compacted, when there are many segments); False when nothing was written. The chain's
        end is read under the write's lock again (``SegmentStore.write``): another process
        appending first makes this write a no-op, never a duplicate."""
        assert self.segments is not None
        end, ids_count = self.segments.chain_end()
        if end >= snapshot.events:
            self.persisted = max(self.persisted, min(end, snapshot.events))
            return False
        whole = self.segments.count() >= SEGMENTS_MAX
        after, ids_after = (0, 0) if whole else (end, ids_count)
        written = self.segments.write(snapshot.segment(after, ids_after), replace_all=whole)
        if written:
            self.persisted = max(self.persisted, snapshot.events)
        return written

    # Reading ----------------------------------------------------------------------------------

    def table(self, name: str) -> pa.Table:
        """One class's rows, query-ready (``columnar.query_ready``)."""
        ready = self._ready.get(name)
        if ready is None:
            raw = self._raw.get(name)
            ready = SCHEMAS[name].empty_table() if raw is None else raw
            ready = self._ready[name] = query_ready(name, ready)
        return ready

    def columns(self, select: Mapping[str, tuple[str, ...]] = SELECT) -> dict[str, dict[str, Any]]:
        """NumPy columns of ``select`` (cached per class until the class changes)."""
        result: dict[str, dict[str, Any]] = {}
        for name, names in select.items():
            rows = self._raw[name].num_rows if name in self._raw else 0
            cached = self._columns.get(name)
            covered = self._converted.get(name, 0)
            if cached is not None and covered < rows and _holds(cached, names):
                # Events appended since: convert those rows only, and extend (O(new rows)).
                added = query_ready(name, self._raw[name].slice(covered))
                log = ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables={name: added})
                converted = columns(log, {name: tuple(self._selected[name])})[name]
                maps = self._code_maps.setdefault(name, {})
                buffers = self._buffers.setdefault(name, {})
                cached = self._columns[name] = append_columns(cached, converted, maps, buffers)
                self._converted[name] = rows
            elif cached is None or covered < rows or not _holds(cached, names):
                log = ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables={name: self.table(name)})
                wanted = tuple(dict.fromkeys((*self._selected.get(name, ()), *names)))
                cached = self._columns[name] = columns(log, {name: wanted})[name]
                self._selected[name] = wanted
                self._converted[name] = rows
                self._code_maps.pop(name, None)
                self._buffers.pop(name, None)
            result[name] = cached
        return result

    def rows_of(
        self, name: str, column: str, wanted: np.ndarray, is_wanted: np.ndarray
    ) -> np.ndarray:
        """Row numbers of class ``name``'s table whose ``column`` holds one of ``wanted`` (id
        indexes, sorted, unique; ``is_wanted``: ``id_mask(wanted)``), ascending."""
        return self._rows_by(name, column).rows_of(
            self._raw[name].column(column), wanted, is_wanted
        )

    def values_of(self, name: str, column: str) -> np.ndarray:
        """One id column of class ``name``'s table as NumPy (kept with its index)."""
        found = self._rows_by(name, column)
        found.extend(self._raw[name].column(column))
        return found.values

    def _rows_by(self, name: str, column: str) -> RowsByValue:
        found = self._by_value.get((name, column))
        if found is None:
            found = self._by_value[name, column] = RowsByValue()
        return found

    def id_mask(self, wanted: np.ndarray) -> np.ndarray:
        """True at the id indexes of ``wanted``, over every id of the log."""
        mask = np.zeros(self._raw["ids"].num_rows, bool)
        mask[wanted] = True
        return mask

    def raw_table(self, name: str) -> pa.Table:
        """One class's rows as appended (chunked, strings not dictionary-encoded)."""
        return self._raw[name]

    def index_of(self, value: UUID) -> int | None:
        """The id index of ``value`` in the log; None if no event names it."""
        return self._writer_ready().ids.find(value.bytes)

    def id_of(self, index: int) -> UUID:
        found = self._ids[index]
        if found is None:
            found = self._ids[index] = UUID(bytes=self._raw["ids"]["id"][index].as_py())
        return found

    def ids_of(self, indexes: np.ndarray) -> list[UUID]:
        """``id_of`` of many id indexes: those not made yet taken from the id table at once,
        not as one Arrow scalar each (a new process's first worklist at 1M invoices names
        ~70,000 customers: 2 s of its time went there)."""
        listed = indexes.tolist()
        ids = self._ids
        wanted = [index for index in listed if ids[index] is None]
        if wanted:
            raws = self._raw["ids"]["id"].take(pa.array(wanted, pa.int64())).to_pylist()
            for index, raw in zip(wanted, raws, strict=True):
                ids[index] = UUID(bytes=raw)
        return [ids[index] for index in listed]

    def names(self) -> list[str]:
        """The event classes present in the log."""
        return [name for name in self._raw if name != "ids"]

    @property
    def nbytes(self) -> int:
        return sum(int(table.nbytes) for table in self._raw.values())

    def stop_persisting(self) -> None:
        """Wait for the segment write in flight, if any, and start no other."""
        with self._persisting_lock:
            persister, self._persister = self._persister, None
            self.segments_paused = True
        if persister is not None:
            persister.shutdown(wait=True)

    def close(self) -> None:
        """Wait for the segment write in flight (a new process then loads it), then close."""
        self.stop_persisting()
        for part in (self.reader, self.segments):
            close = getattr(part, "close", None)
            if close is not None:
                close()


class QueryEngine:
    """Portfolio queries of one store, from its live columnar log (see the module's doc)."""

    def __init__(self, log: LiveLog) -> None:
        self.log = log
        self._lock = threading.RLock()
        self._results: dict[tuple[Any, ...], FastPortfolio | Worklist] = {}
        self._results_version = -1
        self._decode = functools.lru_cache(maxsize=64)(decode_policy)
        self._customers: dict[UUID, _CustomerEvents] = {}
        """Decoded events of the customers queried last, least recent first."""
        self._rows_decoded: dict[int, Event] = {}
        """Events ``_decoded`` made, by position (an event at a position never changes)."""

    @classmethod
    def for_ledger(
        cls,
        ledger: Any,
        connections: Connections | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> QueryEngine:
        """The engine of a Ledger's store: SQLite and PostgreSQL read their events table
        directly and persist segments beside it, on ``connections`` (the Ledger's shared
        read-model pool; a pool of the engine's own if None); other stores read through the
        recorder and keep the log in memory only. Arrow's allocator becomes jemalloc for the
        process unless it was chosen (``arrow_memory``)."""
        choose_memory_pool()
        settings = ledger.store_settings
        module = settings.get("PERSISTENCE_MODULE", "")
        recorder = ledger.recorder
        reader: EventReader
        segments = None
        if module.endswith(("sqlite", "postgres")):
            owned = connections is None
            pool = connections_for(settings) if connections is None else connections
            if module.endswith("sqlite"):
                reader = SQLiteEventReader(pool, recorder.events_table_name)
            else:
                reader = PostgresEventReader(
                    pool, recorder.datastore.schema, recorder.events_table_name
                )
            segments = SegmentStore(pool, cipher=ledger.mapper.cipher, owned=owned)
        else:
            reader = RecorderEventReader(recorder)
        return cls(
            LiveLog(
                reader,
                EventDecoder(ledger.mapper),
                segments,
                store=ledger.store_description,
                head=lambda: recorder.max_notification_id() or 0,
                progress=progress,
            )
        )

    def refresh(self) -> int:
        """Catch up with the store; the count of new events."""
        with self._lock:
            return self.log.refresh()

    def persist(self) -> bool:
        """Write every event still held in memory only to the stored segments."""
        with self._lock:
            self.log.refresh()
            return self.log.persist(force=True)

    def rebuild(self) -> int:
        """Forget the columnar log and the stored segments, and build them again."""
        with self._lock:
            self.log.stop_persisting()  # no write of the old log may land after the reset
            if self.log.segments is not None:
                self.log.segments.reset()
            log = self.log
            self.log = LiveLog(
                log.reader,
                log.decoder,
                log.segments,
                store=log.store,
                head=log.head,
                progress=log.progress,
            )
            self._results = {}
            self._customers = {}
            self._rows_decoded = {}
            return self.log.refresh()

    def close(self) -> None:
        self.log.close()

    # Queries ----------------------------------------------------------------------------------

    def _snapshot(
        self, upto: int | None = None
    ) -> tuple[dict[str, dict[str, Any]], int, int | None]:
        """The columns, the log's version and the position they are cut at (None: not cut,
        the log ends at or before ``upto``). ``upto``: keep only the rows at or below that
        position (each class's rows are in position order: a prefix of each)."""
        with self._lock:
            self.log.refresh(upto)
            cols, version = self.log.columns(), self.log.version
            if upto is None or upto >= self.log.position:
                return cols, version, None
            counts = {name: self._rows_upto(name, upto) for name in cols}
        cut = {}
        for name, table in cols.items():
            count = counts[name]
            rows = None if count is None else np.arange(count, dtype=np.int64)
            cut[name] = table if rows is None else fast_path.take_rows(table, rows)
        return cut, version, upto

    def _rows_upto(self, name: str, upto: int) -> int | None:
        """How many of class ``name``'s rows are at or below position ``upto`` (None: all)."""
        if name not in self.log.names():
            return None
        raw = self.log.raw_table(name)
        seq = raw.column("seq").to_numpy()
        count = int(np.searchsorted(seq, upto, side="right"))
        return None if count == raw.num_rows else count

    def policy_on(
        self, on: date, known_at: datetime | None = None, *, upto: int | None = None
    ) -> EscalationPolicy:
        """The escalation policy in force on ``on`` (as known at ``known_at``, at or below
        position ``upto``)."""
        cols, _, _ = self._snapshot(upto)
        return self._policy_on(cols, on, known_at)

    def _policy_on(
        self, cols: Mapping[str, Mapping[str, Any]], on: date, known_at: datetime | None
    ) -> EscalationPolicy:
        adopted = fast_path.known_tables(cols, known_at)["EscalationPolicyAdopted"]
        texts = adopted.get("policy.dictionary", ())
        versions = [
            PolicyVersion(policy=self._decode(texts[code]), effective_on=fast_path.on_date(day))
            for code, day in zip(
                adopted.get("policy", ()), adopted.get("effective_on", ()), strict=True
            )
        ]
        return policy_in_force(versions, on)

    def _portfolio(
        self,
        cols: Mapping[str, Mapping[str, Any]],
        version: int,
        as_of: date,
        known_at: datetime | None,
        ageing_policy: AgeingPolicy | None = None,
        invoice_buckets: bool = False,
        upto: int | None = None,
    ) -> FastPortfolio:
        key = (as_of, known_at, ageing_policy, invoice_buckets, upto)
        with self._lock:
            if self._results_version != version:
                self._results, self._results_version = {}, version
            found = self._results.get(key)
        if isinstance(found, FastPortfolio):
            return found
        result = fast_path.fast_portfolio(
            cols,
            as_of,
            decode_policy=self._decode,
            known_at=known_at,
            ageing_policy=ageing_policy,
            invoice_buckets=invoice_buckets,
        )
        with self._lock:
            if self._results_version == version:
                if len(self._results) >= RESULTS_CACHED:
                    self._results.pop(next(iter(self._results)))
                self._results[key] = result
        return result

    def ageing(
        self,
        as_of: date,
        *,
        grouping: AgeingGrouping = AgeingGrouping.PORTFOLIO,
        policy: AgeingPolicy | None = None,
        edges_days: tuple[int, ...] | None = None,
        known_at: datetime | None = None,
        upto: int | None = None,
    ) -> AgeingReport:
        """As ``Ledger.ageing``: the policy in force on ``as_of`` unless one is given; the
        log cut at position ``upto``, if given."""
        require_date("as_of", as_of)
        cols, version, upto = self._snapshot(upto)
        if policy is None:
            policy = self._policy_on(cols, as_of, known_at).ageing
        if edges_days is not None:
            policy = AgeingPolicy(edges_days=edges_days, basis=policy.basis)
        result = self._portfolio(
            cols, version, as_of, known_at, policy, invoice_buckets=True, upto=upto
        )
        numbers = None
        if grouping is AgeingGrouping.INVOICE:
            numbers = self._invoice_numbers(known_at, upto)
        return reports.ageing_report(cols, result, grouping=grouping, invoice_numbers=numbers)

    def _invoice_numbers(self, known_at: datetime | None, upto: int | None) -> list[str]:
        with self._lock:
            table = self._invoice_numbers_table()
            count = None if upto is None else self._rows_upto("InvoiceIssued", upto)
        if count is not None:
            table = table.slice(0, count)
        if known_at is not None:
            limit = pa.scalar(known_at, type=table.schema.field("timestamp").type)
            table = table.filter(pc.less_equal(table["timestamp"], limit))
        numbers: list[str] = table.column("invoice_number").to_pylist()
        return numbers

    def _invoice_numbers_table(self) -> pa.Table:
        """The ``InvoiceIssued`` rows' numbers and recording instants, as appended: rows in
        the order of the query-ready table (``LiveLog.table``), without making it, whose
        combining and dictionary encoding of every invoice after each refresh that brought
        one cost tens of ms a query at 1M invoices (O(log), where the rows wanted are few)."""
        if "InvoiceIssued" not in self.log.names():
            return SCHEMAS["InvoiceIssued"].empty_table().select(["timestamp", "invoice_number"])
        return self.log.raw_table("InvoiceIssued").select(["timestamp", "invoice_number"])

    def _numbers_of(self, rows: np.ndarray, known_at: datetime | None) -> list[str]:
        """The invoice numbers of rows of the ``InvoiceIssued`` table as known at
        ``known_at`` (only these rows: numbers are costly to take out at scale)."""
        if len(rows) == 0:
            return []
        with self._lock:
            table = self._invoice_numbers_table()
        if known_at is not None:
            limit = pa.scalar(known_at, type=table.schema.field("timestamp").type)
            table = table.filter(pc.less_equal(table["timestamp"], limit))
        numbers: list[str] = table.column("invoice_number").take(pa.array(rows)).to_pylist()
        return numbers

    def worklist(
        self,
        as_of: date,
        *,
        owner: str | None = None,
        known_at: datetime | None = None,
        upto: int | None = None,
    ) -> Worklist:
        """As ``escalation.worklist``, with the version of the policy that ordered it (read
        from the same snapshot of the log, cut at position ``upto``, if given)."""
        require_date("as_of", as_of)
        cols, version, upto = self._snapshot(upto)
        # The answer is a frozen value: one log version, date, owner and cut give the same
        # (services asking for one worklist again pay nothing); cached with the portfolios.
        key = ("worklist", as_of, owner, known_at, upto)
        with self._lock:
            found = self._results.get(key) if self._results_version == version else None
        if isinstance(found, Worklist):
            return found
        # Tens of thousands of items (and their parts) at 1M invoices, none of them in a
        # reference cycle: without the pause, their allocations set off the collector's passes
        # over the whole heap, which took most of the time of making them.
        with _collection_paused():
            worklist = self._worklist(cols, version, as_of, owner, known_at, upto)
        with self._lock:
            if self._results_version == version:
                if len(self._results) >= RESULTS_CACHED:
                    self._results.pop(next(iter(self._results)))
                self._results[key] = worklist
        return worklist

    def _worklist(
        self,
        cols: dict[str, dict[str, Any]],
        version: int,
        as_of: date,
        owner: str | None,
        known_at: datetime | None,
        upto: int | None,
    ) -> Worklist:
        result = self._portfolio(cols, version, as_of, known_at, upto=upto)

        def ids_of(indexes: np.ndarray) -> list[UUID]:
            with self._lock:  # the log's cache of UUIDs is shared by the engine's threads
                return self.log.ids_of(indexes)

        items = reports.assembled_worklist(
            cols,
            result,
            self._decode,
            lambda rows: self._numbers_of(rows, known_at),
            ids_of,
            owner=owner,
        )
        policy = self._policy_on(cols, as_of, known_at)
        return Worklist(as_of=as_of, owner=owner, policy_version=policy.version, items=tuple(items))

    def owners(self, known_at: datetime | None, upto: int | None = None) -> frozenset[str]:
        """The collection owners named in the log (``reports.owners_named``), cut at position
        ``upto`` if given."""
        cols, _version, _upto = self._snapshot(upto)
        return reports.owners_named(cols, known_at)

    def customer_events(
        self, customer_id: UUID, known_at: datetime | None, *, upto: int | None = None
    ) -> list[Event]:
        """Every event of one customer's aggregates (its account, invoices, payments, promises,
        cases, credit notes) and of the escalation policies, recorded by ``known_at`` (at or
        below position ``upto``), in log order: a fold of them answers that customer's queries
        as a replay of the whole log would, from the columnar log (no JSON decoding, no other
        customer, and no catch-up of the stored partitions: the log is caught up with the
        store anyway). The rows are found through ``RowsByValue`` indexes (by customer, then by
        aggregate), so the cost follows the customer's events, not the log's.

        The decoded events of the customers queried last are kept (``_CustomerEvents``, up to
        ``CUSTOMER_EVENTS_CACHED`` events in all): decoding them was 40% of a customer's query
        (45 ms of CPU of 110 for the largest customer at 1M invoices), and one customer is usually
        asked several things in a row (status, explanation, promises, credit). Events are
        immutable and the log only grows, so after new events only the customer's new rows
        are decoded and appended; the cuts (``known_at``, ``upto``) are applied to the kept
        events."""
        cached, count = self._customer_entry(customer_id, upto)
        if cached is None:
            return []
        if known_at is None:
            return list(cached.events[:count])
        return [event for event in cached.events[:count] if event.timestamp <= known_at]

    def customer_state(
        self,
        customer_id: UUID,
        known_at: datetime | None,
        fold: Callable[..., Any],
        *,
        upto: int | None = None,
    ) -> Any:
        """``fold(customer_events(...), known_at=known_at)``, kept with the customer's events
        for the next query at the same cut (a fold was 17 ms of CPU of the 64 left to a status
        of the largest customer at 1M invoices). The folded state is shared: no query changes
        the state it is given (the differential tests hold every query to the replay's
        answers)."""
        cached, count = self._customer_entry(customer_id, upto)
        if cached is None:
            return fold([], known_at=known_at)
        kept = self._fold_of(cached, count, known_at, fold, lend=True)
        return kept.state

    def customer_answer(
        self,
        customer_id: UUID,
        known_at: datetime | None,
        fold: Callable[..., Any],
        question: Hashable,
        answer: Callable[[Any], Any],
        *,
        upto: int | None = None,
    ) -> Any:
        """``answer(customer_state(...))``, kept with the customer's events under ``question``
        (which must name everything ``answer`` depends on besides the state, e.g. the query and
        its as-of date) for the next ask at the same cut of the same events. An answer is a
        pure function of the events it was computed from, so it holds until the customer's
        events change (new ones make a new entry at the log's next version, and ask again).

        Evaluating a status over the history of one of the largest customers (~22,000 invoices
        at 1M invoices) took seconds, every ask: a service shows the same customer's status
        and explanation many times between two of its events."""
        cached, count = self._customer_entry(customer_id, upto)
        if cached is None:
            return answer(fold([], known_at=known_at))
        key = (count, known_at, question)
        with self._lock:
            found = cached.answers.get(key, _MISSING)
        if found is not _MISSING:
            return found
        kept = self._fold_of(cached, count, known_at, fold, lend=False)
        try:
            # The status of a large customer makes hundreds of thousands of objects (its
            # evaluation's), none in a cycle: as for a fold (``_fold_of``), no collector passes.
            with _collection_paused():
                result = answer(kept.state)
        finally:
            with self._lock:
                kept.users -= 1
        with self._lock:
            _keep(cached.answers, key, result, ANSWERS_KEPT)
        return result

    def _fold_of(
        self,
        cached: _CustomerEvents,
        count: int,
        known_at: datetime | None,
        fold: Callable[..., Any],
        *,
        lend: bool,
    ) -> _Fold:
        """The fold of ``cached``'s first ``count`` events known at ``known_at``, kept: lent
        to the caller for good (``lend``), or with one more user, whom the caller must take
        off when its answer is made.

        A kept fold of fewer events (all of the previous version's, carried over by
        ``_decode_customer``) that no one else holds is extended with the events after them:
        after a few new events of a large customer the fold costs those events, not the
        ~130,000 of its history again. ``fold`` must then accept ``onto`` (a state to fold the
        events onto, as ``portfolio.fold_all``)."""
        key = (count, known_at)
        with self._lock:
            kept = cached.folded.get(key)
            if kept is not None:
                kept.lent = kept.lent or lend
                kept.users += 0 if lend else 1
                return kept
            base = None if known_at is not None else _extendable(cached.folded, count)
        # A fold of the largest customer at 1M invoices (146,000 events) makes as many facts,
        # all kept alive and none in a reference cycle: the collector's passes over the heap
        # they grow (the decoded events with it) found nothing and took a third of the time.
        with _collection_paused():
            if base is not None:
                state = fold(cached.events[base[0] : count], known_at=None, onto=base[1].state)
            else:
                events = cached.events[:count]
                if known_at is not None:
                    events = tuple(event for event in events if event.timestamp <= known_at)
                state = fold(events, known_at=known_at)
        with self._lock:
            kept = cached.folded.get(key)
            if kept is None:  # else another thread folded the same meanwhile: take its
                kept = _Fold(state)
                _keep(cached.folded, key, kept, FOLDS_KEPT)
            kept.lent = kept.lent or lend
            kept.users += 0 if lend else 1
        return kept

    def _customer_entry(
        self, customer_id: UUID, upto: int | None
    ) -> tuple[_CustomerEvents | None, int]:
        """The customer's kept events, caught up with the store, and how many of them are at
        or below position ``upto``."""
        with self._lock:
            self.log.refresh(upto)
            cached = self._customers.pop(customer_id, None)
            if cached is None or cached.version != self.log.version:
                with _collection_paused():  # events kept alive, no cycles: as ``_fold_of``
                    cached = self._decode_customer(customer_id, cached)
            if cached is None:
                return None, 0
            self._customers[customer_id] = cached  # the most recent, last
            self._evict_customers()
        count = len(cached.events)
        if upto is not None:
            count = int(np.searchsorted(cached.seqs, upto, side="right"))
        return cached, count

    def _evict_customers(self) -> None:
        held = sum(len(entry.events) for entry in self._customers.values())
        while held > CUSTOMER_EVENTS_CACHED and len(self._customers) > 1:
            oldest = next(iter(self._customers))
            held -= len(self._customers.pop(oldest).events)

    def _decode_customer(
        self, customer_id: UUID, previous: _CustomerEvents | None
    ) -> _CustomerEvents | None:
        """The customer's events at the log's version (None: no event names it); with
        ``previous`` (an earlier version's), only the rows appended since are decoded.

        The rows of the log's first ``previous.events_seen`` events that belong to the
        customer now are those ``previous`` decoded, unless an aggregate came to name the
        customer only in a later event: counted equal, they are taken as they are, else
        everything is decoded again."""
        log = self.log
        index = log.index_of(customer_id)
        if index is None:
            return None
        names = log.names()
        me = np.array([index], np.int32)
        is_me = log.id_mask(me)
        owned = [me]
        for name in names:
            for column in CUSTOMER_COLUMNS:
                if column in log.raw_table(name).column_names:
                    rows = log.rows_of(name, column, me, is_me)
                    owned.append(log.values_of(name, "originator_id")[rows])
        if "EscalationPolicyAdopted" in names:
            owned.append(log.values_of("EscalationPolicyAdopted", "originator_id"))
        wanted = np.unique(np.concatenate(owned).astype(np.int32))
        is_wanted = log.id_mask(wanted)
        seen = 0 if previous is None else previous.events_seen
        parts: dict[str, pa.Table] = {}
        old_rows = 0
        for name in names:
            rows = log.rows_of(name, "originator_id", wanted, is_wanted)
            if not len(rows):
                continue
            part = take_rows(log.raw_table(name), rows)
            if seen:
                seqs = part.column("seq").to_numpy()
                old = int(np.searchsorted(seqs, seen, side="right"))  # rows ascend in seq
                old_rows += old
                part = part.slice(old)
            if part.num_rows:
                parts[name] = part
        if previous is None or old_rows != len(previous.events):
            if previous is not None:
                return self._decode_customer(customer_id, None)
            previous = _CustomerEvents(
                version=0, events_seen=0, seqs=np.zeros(0, np.int64), events=()
            )
        new_seqs = np.sort(
            np.concatenate(
                [np.zeros(0, np.int64)]
                + [part.column("seq").to_numpy().astype(np.int64) for part in parts.values()]
            )
        )
        added = from_columnar(
            ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables=parts),
            id_of=log.id_of,
            decoders=log.decoders,
        )
        return _CustomerEvents(
            version=log.version,
            events_seen=log.events,
            seqs=np.concatenate([previous.seqs, new_seqs]),
            events=(*previous.events, *added),
            folded=_carried(previous.folded, len(previous.events)),
        )

    def events(self, known_at: datetime | None, *, upto: int | None = None) -> list[Event]:
        """Every event recorded by ``known_at`` (at or below position ``upto``, if given), in
        log order, from the columnar log (no JSON
        decoding): folded, the whole portfolio as the ledger held it then (the stored read
        models hold only the latest facts)."""
        with self._lock:
            self.log.refresh(upto)
            tables = {name: self.log.table(name) for name in self.log.names()}
            id_of = self.log.id_of
        picked: dict[str, pa.Table] = {}
        for name, table in tables.items():
            if upto is not None:
                table = table.filter(pc.less_equal(table["seq"], upto))
            if known_at is not None:
                limit = pa.scalar(known_at, type=table.schema.field("timestamp").type)
                table = table.filter(pc.less_equal(table["timestamp"], limit))
            if table.num_rows:
                picked[name] = table
        log = ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables=picked)
        with self._lock:
            return list(from_columnar(log, id_of=id_of))

    def handover_events(
        self, known_at: datetime | None, upto: int | None = None, *, held_on: date | None = None
    ) -> list[Event]:
        """The events the cash-handover query folds (``projections.handover``), at or below
        position ``upto`` and stamped by ``known_at`` (each if given), in log order, from the
        columnar log: the payments collected in person (their receipt, collection, handover
        and reversal), their payers' openings and the policy versions. With ``held_on``, only
        the payments that may be held on that day (collected by it, neither handed over nor
        reversed by it): all ``cash_not_handed_over`` reads for that day, chosen by column
        before any row is decoded (a generated 1M ledger collects ~10^5 payments in person,
        nearly all handed over: decoding each made the worklist ~2 s). No payment collected in
        person: the policy versions only (a look-up and a few rows), so the worklist pays for
        the query only in a ledger that uses it."""
        wanted = (
            "PaymentCollected",
            "PaymentReceived",
            "CashHandedOver",
            "PaymentReversed",
            "CustomerAccountOpened",
            "EscalationPolicyAdopted",
        )
        found = self._tables_at(wanted, "PaymentCollected", known_at, upto)
        if found is None:
            # No payment collected in person: the report has no rows, but it names the policy
            # version in force as the fold of the whole log does (the differential test found
            # version 1 here against the replay's 2).
            return self.policy_events(known_at, upto)
        tables, id_of = found
        payments = pc.unique(tables["PaymentCollected"]["originator_id"])
        if held_on is not None:
            for name, column in (
                ("CashHandedOver", "handed_on"),
                ("PaymentReversed", "reversed_on"),
            ):
                payments = _less(payments, _ids_dated_by(tables, name, column, held_on))
            _keep_in(tables, "PaymentReceived", "originator_id", payments)
            received = tables["PaymentReceived"]
            tables["PaymentReceived"] = received.filter(
                pc.less_equal(received["value_on"], pa.scalar(held_on, pa.date32()))
            )
            payments = tables["PaymentReceived"]["originator_id"]
        for name in ("PaymentCollected", "PaymentReceived", "CashHandedOver", "PaymentReversed"):
            _keep_in(tables, name, "originator_id", payments)
        payers = pc.unique(tables["PaymentReceived"]["payer_customer_id"])
        _keep_in(tables, "CustomerAccountOpened", "originator_id", payers)
        return self._decoded(tables, id_of)

    def policy_events(self, known_at: datetime | None, upto: int | None = None) -> list[Event]:
        """The escalation policy's versions (``EscalationPolicyAdopted``) at or below position
        ``upto`` and stamped by ``known_at`` (each if given), in log order: who manages whom,
        without the payments (``Ledger.owners``)."""
        found = self._tables_at(
            ("EscalationPolicyAdopted",), "EscalationPolicyAdopted", known_at, upto
        )
        return [] if found is None else self._decoded(*found)

    def reduction_request_events(
        self, known_at: datetime | None, upto: int | None = None
    ) -> list[Event]:
        """The events pending approvals fold (``projections.reductions.pending_approvals``),
        at or below position ``upto`` and stamped by ``known_at`` (each if given), in log
        order, from the columnar log: the requests still open (not closed by their last
        approval or a rejection) with their approvals, the authority policy versions, and only
        those requests' invoices' issues and due-date overrides and their customers' openings
        (not every invoice of the log; closed requests are chosen out by column before any row
        is decoded). No request: nothing (one look-up), so the worklist pays for it only where
        it is used."""
        wanted = (
            "ReductionRequested",
            "ReductionApproved",
            "ReductionRejected",
            "AuthorityPolicyAdopted",
            "InvoiceIssued",
            "InvoiceDueDateOverridden",
            "CustomerAccountOpened",
        )
        found = self._tables_at(wanted, "ReductionRequested", known_at, upto)
        if found is None:
            return []
        tables, id_of = found
        closed = _closed_requests(tables.get("ReductionApproved"), tables.get("ReductionRejected"))
        requested = tables["ReductionRequested"]
        open_requests = requested.filter(
            pc.invert(pc.is_in(requested["originator_id"], value_set=closed))
        )
        tables["ReductionRequested"] = open_requests
        tables.pop("ReductionRejected", None)
        _keep_in(tables, "ReductionApproved", "originator_id", open_requests["originator_id"])
        invoices = pc.unique(open_requests["invoice_id"])
        for name in ("InvoiceIssued", "InvoiceDueDateOverridden"):
            _keep_in(tables, name, "originator_id", invoices)
        customers = pc.unique(open_requests["customer_id"])
        _keep_in(tables, "CustomerAccountOpened", "originator_id", customers)
        return self._decoded(tables, id_of)

    def _tables_at(
        self,
        wanted: Sequence[str],
        required: str,
        known_at: datetime | None,
        upto: int | None,
    ) -> tuple[dict[str, pa.Table], Any] | None:
        """The raw tables of ``wanted`` classes present in the log, cut at position ``upto``
        and to the rows stamped by ``known_at`` (each if given), with the log's id look-up;
        None when the log has no ``required`` class at all."""
        with self._lock:
            self.log.refresh(upto)
            names = set(self.log.names())
            if required not in names:
                return None
            # As appended (not ``LiveLog.table``: making the query-ready tables again after
            # each refresh that brought new rows cost a pass over every row of the class).
            tables = {name: self.log.raw_table(name) for name in wanted if name in names}
            if upto is not None:  # each class's rows are in position order: a prefix of each
                for name in tables:
                    count = self._rows_upto(name, upto)
                    if count is not None:
                        tables[name] = tables[name].slice(0, count)
            id_of = self.log.id_of
        if known_at is not None:
            for name, table in tables.items():
                limit = pa.scalar(known_at, type=table.schema.field("timestamp").type)
                tables[name] = table.filter(pc.less_equal(table["timestamp"], limit))
        return tables, id_of

    def _decoded(self, tables: Mapping[str, pa.Table], id_of: Any) -> list[Event]:
        """The events of some tables' rows, in log order: those decoded before taken from
        ``_rows_decoded``, the others decoded (column by column) and kept there."""
        seqs = {name: table["seq"].to_numpy() for name, table in tables.items() if table.num_rows}
        if not seqs:
            return []
        with self._lock:
            kept = self._rows_decoded
            missing: dict[str, pa.Table] = {}
            for name, seq in seqs.items():
                known = np.fromiter((at in kept for at in seq.tolist()), bool, len(seq))
                if not known.all():
                    missing[name] = tables[name].filter(pa.array(~known))
            if missing:
                if len(kept) + sum(t.num_rows for t in missing.values()) > ROWS_DECODED_KEPT:
                    kept.clear()
                    return self._decoded_afresh(tables, id_of)
                log = ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables=missing)
                for event, seq in zip(
                    from_columnar(log, id_of=id_of),
                    np.sort(np.concatenate([t["seq"].to_numpy() for t in missing.values()])),
                    strict=True,
                ):
                    kept[int(seq)] = event
            return [kept[at] for at in np.sort(np.concatenate(list(seqs.values()))).tolist()]

    def _decoded_afresh(self, tables: Mapping[str, pa.Table], id_of: Any) -> list[Event]:
        """The events of some tables' rows, in log order, decoded without keeping them."""
        picked = {name: table for name, table in tables.items() if table.num_rows}
        log = ColumnarLog(ids=IDS_SCHEMA.empty_table(), tables=picked)
        with self._lock:
            return list(from_columnar(log, id_of=id_of))

    def kpis(
        self,
        start_on: date,
        end_on: date,
        *,
        grouping: kpis_module.KpiGrouping | str = kpis_module.KpiGrouping.PORTFOLIO,
        known_at: datetime | None = None,
        upto: int | None = None,
    ) -> kpis_module.KpiReport:
        """As ``kpis.kpi_report`` (the log cut at position ``upto``, if given)."""
        cols, _, _ = self._snapshot(upto)
        return fast_kpis.kpi_report_fast(
            cols, start_on, end_on, decode_policy=self._decode, grouping=grouping, known_at=known_at
        )

    def backtest(
        self,
        candidate: EscalationPolicy,
        ends: Sequence[date],
        *,
        from_month: str,
        to_month: str,
        step: BacktestStep,
        min_level: int,
        known_at: datetime | None = None,
        upto: int | None = None,
    ) -> Backtest:
        """As ``Ledger.backtest``, on the period ends ``ends``, from one snapshot of the log
        (cut at position ``upto``, if given)."""
        cols, _, _ = self._snapshot(upto)
        return fast_backtest.backtest(
            cols,
            candidate=candidate,
            ends=ends,
            decode_policy=self._decode,
            from_month=from_month,
            to_month=to_month,
            step=step,
            min_level=min_level,
            known_at=known_at,
        )

    def status(self) -> dict[str, int]:
        """Position, events, events persisted and bytes held (for ``arledger projections``)."""
        with self._lock:
            return {
                "position": self.log.position,
                "events": self.log.events,
                "persisted": self.log.persisted,
                "bytes": self.log.nbytes,
            }


def _ids_dated_by(tables: Mapping[str, pa.Table], name: str, column: str, on: date) -> pa.Array:
    """The distinct ``originator_id`` of class ``name``'s rows (if present) whose date
    ``column`` is on or before ``on``."""
    table = tables.get(name)
    if table is None:
        return pa.array([], type=pa.int32())
    dated = table.filter(pc.less_equal(table[column], pa.scalar(on, pa.date32())))
    return pc.unique(dated["originator_id"])


def _less(values: pa.Array, removed: pa.Array) -> pa.Array:
    """``values`` without those in ``removed``."""
    if not len(removed):
        return values
    return values.filter(pc.invert(pc.is_in(values, value_set=removed)))


def _closed_requests(approved: pa.Table | None, rejected: pa.Table | None) -> pa.Array:
    """The reduction requests closed by their last approval or rejection (as the reductions
    fold closes them: an approval sets ``closed`` to whether it applied the reduction, a
    rejection closes), from the two classes' rows."""
    parts: list[tuple[Any, Any, Any]] = []
    if approved is not None and approved.num_rows:
        parts.append((approved["originator_id"], approved["seq"], approved["applied"].to_numpy()))
    if rejected is not None and rejected.num_rows:
        parts.append((rejected["originator_id"], rejected["seq"], np.ones(rejected.num_rows, bool)))
    if not parts:
        return pa.array([], type=pa.int32())
    ids = np.concatenate([part[0].to_numpy() for part in parts])
    seqs = np.concatenate([part[1].to_numpy() for part in parts])
    closes = np.concatenate([part[2] for part in parts])
    order = np.argsort(seqs, kind="stable")[::-1]  # the last first
    _, last = np.unique(ids[order], return_index=True)
    picked = order[last]
    return pa.array(ids[picked][closes[picked]])


def _keep_in(tables: dict[str, pa.Table], name: str, column: str, values: pa.Array) -> None:
    """Keep only the rows of ``tables[name]`` (if present) whose ``column`` is in ``values``."""
    if name in tables:
        table = tables[name]
        tables[name] = table.filter(pc.is_in(table[column], value_set=values))
