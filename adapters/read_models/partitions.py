"""The columnar log cut by customer: N partitions, each a complete columnar log of its customers.

Every rule of the ledger is per customer (one customer's money never settles another's
invoice), so the portfolio splits by customer without changing a rule: the fast path run on
each partition and the answers combined (``combined_ageing``, ``combined_worklist``) equal the
fast path on the whole log. The distributed recompute (``distributed.py``) runs the same
per-partition function on a Dask cluster's workers, each reading its partition from a local
folder or any pyarrow/fsspec filesystem (``resolved``).

The layout, written down once:

- ``DIR/partitions.json`` (written last: a folder without it is an export that did not finish)
  names the count, the hash rule and the partitions' folders and event counts.
- ``DIR/part-<i>-of-<N>/`` is an ordinary export (``columnar.ParquetSink``: ids table, one file
  per event class, manifest), readable by ``columnar.read_parquet``; its manifest also names
  ``partition`` (count, index, hash rule and the export's own random id, also in
  ``partitions.json``), so a reader refuses a folder mixing exports.
- The main invariant: each event belongs to exactly one customer or to the shared books.
  A customer's events are those of its account (originator = the customer) and of every
  aggregate one of whose events names it in a ``engine.CUSTOMER_COLUMNS`` column (invoices,
  payments, promises, cases, credit notes): the mapping ``QueryEngine.customer_events`` uses.
  Every other event (escalation and authority policies, exchange rates: the shared books) is
  written to every partition. Within a partition the events keep their recording order
  (``seq`` numbers them 1.. again, as any log of just those events would).
- The hash rule (``HASH_RULE``): BLAKE2b with an 8-byte digest of the customer id's 16 bytes,
  read big-endian, modulo N. Never Python's ``hash()``, which changes between processes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import ColumnarLog, ColumnarWriter, ParquetSink
from arledger.adapters.read_models.engine import CUSTOMER_COLUMNS, SELECT
from arledger.domain.errors import ArledgerError
from arledger.domain.events import CustomerAccountOpened, Event
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.backtest import Backtest, BacktestPeriod, BacktestRow
from arledger.projections.escalation.worklist import worklist_order
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast import reports
from arledger.projections.results import Worklist

HASH_RULE: Final = "blake2b-8(customer_id.bytes) big-endian mod N"
"""The rule named in every manifest: a reader refuses partitions cut by another rule."""
PARTITIONS_MAX: Final = 4096
"""Partitions one export may have (each holds open files while the export runs)."""
TOP_MANIFEST: Final = "partitions.json"
PARTITIONS_LAYOUT: Final = 1
BATCH_EVENTS: Final = columnar.BATCH_EVENTS_DEFAULT
_PART_NAME: Final = re.compile(r"\.?part-\d+-of-\d+")
_STAGED: Final = f".{TOP_MANIFEST}.new"
"""``partitions.json`` as it is written, before its rename (one a killed export left is
overwritten by the next, not taken for a foreign file)."""


@attrs.define(kw_only=True, slots=False)
class PartitionError(ArledgerError, ValueError):
    """A partitioned export that cannot be read or written as asked: a missing, corrupt or
    foreign partition (``partition``: its index), or events that belong to no one customer."""

    directory: str | None = None
    partition: int | None = None


def partition_of(customer_id: UUID, partitions: int) -> int:
    """The partition of a customer (``HASH_RULE``): the same in every process and release."""
    digest = hashlib.blake2b(customer_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partition_folder(index: int, partitions: int) -> str:
    return f"part-{index:05d}-of-{partitions:05d}"


class Partitioner:
    """Assigns events, in log order, to the customer they belong to (None: the shared books).

    An aggregate belongs to the customer its events name; one that names none by its first
    event is shared. That is checked, not assumed: an aggregate naming a customer after it
    was found shared, or naming two customers, is refused (``PartitionError``)."""

    def __init__(self) -> None:
        self.owner: dict[UUID, UUID | None] = {}
        self._naming: dict[type, tuple[str, ...]] = {}
        """Per event class, the ``CUSTOMER_COLUMNS`` it has (most have none)."""

    def customer_of(self, event: Event) -> UUID | None:
        cls = type(event)
        naming = self._naming.get(cls)
        if naming is None:
            fields = attrs.fields_dict(cls)
            naming = self._naming[cls] = tuple(c for c in CUSTOMER_COLUMNS if c in fields)
        if not naming and cls is not CustomerAccountOpened:
            # The common case, kept short (a log has tens of millions of events): the
            # aggregate's owner as its earlier events named it (none: the shared books).
            return self.owner.setdefault(event.originator_id, None)
        named = {value for column in naming if (value := getattr(event, column)) is not None}
        if isinstance(event, CustomerAccountOpened):
            named.add(event.originator_id)
        origin = event.originator_id
        known = self.owner.get(origin, _UNSEEN)
        if len(named) > 1 or (named and known not in (_UNSEEN, *named)):
            was = "the shared books" if known is None else f"customer {known}"
            raise PartitionError(
                f"{type(event).__name__} of aggregate {origin} names customer(s) "
                f"{', '.join(sorted(map(str, named)))}, but the aggregate belongs to {was}: "
                "each aggregate must belong to one customer or to the shared books; "
                "nothing was written"
            )
        if known is _UNSEEN:
            customer = next(iter(named)) if named else None
            self.owner[origin] = customer
            return customer
        assert known is None or isinstance(known, UUID)
        return known


_UNSEEN: Final = UUID(int=0)
"""No aggregate has the nil id: a sentinel of the owner map's type."""


@attrs.frozen(kw_only=True)
class PartitionedExport:
    """What ``write_partitioned`` wrote: per partition its rows per table."""

    directory: Path
    rows: tuple[dict[str, int], ...]

    @property
    def events(self) -> tuple[int, ...]:
        return tuple(sum(n for name, n in rows.items() if name != "ids") for rows in self.rows)


def partitioned_target(directory: Path) -> Path:
    """The folder a partitioned export writes, checked before any work: new, empty or an
    earlier partitioned export; never the working folder or one of its parents."""
    target = Path(os.path.realpath(directory))
    working = Path.cwd().resolve()
    if target == working or target in working.parents:
        raise columnar.ExportDirectoryError(
            f"{directory} is the working folder or holds it: name a folder of its own; "
            "nothing was written",
            directory=str(directory),
        )
    if target.exists():
        if not target.is_dir():
            raise columnar.ExportDirectoryError(
                f"{directory} is a file, not a folder", directory=str(directory)
            )
        foreign = sorted(
            entry.name
            for entry in target.iterdir()
            if entry.name not in (TOP_MANIFEST, _STAGED) and not _PART_NAME.match(entry.name)
        )
        if foreign:
            raise columnar.ExportDirectoryError(
                f"{directory} holds files that are not a partitioned arledger export "
                f"({', '.join(foreign[:3])}...); nothing was written: choose a new or empty "
                "folder",
                directory=str(directory),
            )
    return target


def write_partitioned(
    events: Iterable[Event],
    directory: Path,
    *,
    partitions: int,
    page_rows: int = columnar.PAGE_ROWS_DEFAULT,
) -> PartitionedExport:
    """Stream a log into ``partitions`` partitions of ``directory`` (see the module's doc).

    Each partition is written as an export of its own (beside its folder, swapped in when
    complete); ``partitions.json`` is removed first and written last, so a failed export
    leaves a folder every reader refuses, never a mix taken for a whole."""
    with _PartitionSinks(directory, partitions) as sinks:
        writers = [ColumnarWriter(sink, page_rows=page_rows) for sink in sinks.sinks]
        pending: list[list[Event]] = [[] for _ in sinks.sinks]
        partitioner = Partitioner()
        every = range(partitions)
        place: dict[UUID, tuple[int]] = {}  # hashed once per customer, not once per event
        for event in events:
            customer = partitioner.customer_of(event)
            chosen: Sequence[int] = every
            if customer is not None:
                found = place.get(customer)
                if found is None:
                    found = place[customer] = (partition_of(customer, partitions),)
                chosen = found
            for index in chosen:
                pending[index].append(event)
                if len(pending[index]) >= BATCH_EVENTS:
                    writers[index].write_batch(pending[index])
                    pending[index] = []
        for writer, batch in zip(writers, pending, strict=True):
            if batch:
                writer.write_batch(batch)
            writer.close()
    return sinks.written


def write_partitioned_columns(
    slices: Iterable[tuple[pa.Array | pa.ChunkedArray, Mapping[str, pa.Table | pa.RecordBatch]]],
    directory: Path,
    *,
    partitions: int,
    page_rows: int = columnar.PAGE_ROWS_DEFAULT,
) -> PartitionedExport:
    """``write_partitioned`` of a log already in columns, without making an event of it: the
    same partitions, table by table and id by id (``tests/integration/test_partitioned_export.py``
    compares the two), cut from the Arrow tables by the partition of each row's customer.

    ``slices``: the log in order, as (ids, tables) pairs: a slice's tables hold every event
    numbered (``seq``) after the previous slice's and before the next's, and ``ids`` the ids
    (16 bytes each) its events name that earlier slices did not (the log's ids table, cut
    there). A whole log is one slice (``write_partitioned_log``); the generator gives one per
    chunk of customers, so a log of any size is cut in bounded memory."""
    with _PartitionSinks(directory, partitions) as sinks:
        cutter = _ColumnCutter(
            [columnar.Pages(sink, page_rows) for sink in sinks.sinks], sinks.sinks
        )
        for ids, tables in slices:
            cutter.add(ids, tables)
        cutter.close()
    return sinks.written


def write_partitioned_log(
    log: ColumnarLog,
    directory: Path,
    *,
    partitions: int,
    page_rows: int = columnar.PAGE_ROWS_DEFAULT,
) -> PartitionedExport:
    """``write_partitioned`` of a columnar log in memory (``write_partitioned_columns``)."""
    return write_partitioned_columns(
        [(log.ids.column("id"), log.tables)],
        directory,
        partitions=partitions,
        page_rows=page_rows,
    )


class _PartitionSinks:
    """The partitions' sinks of one export, and its ``partitions.json`` written last: on an
    error every sink is aborted and no ``partitions.json`` is left (see ``write_partitioned``)."""

    def __init__(self, directory: Path, partitions: int) -> None:
        if not 1 <= partitions <= PARTITIONS_MAX:
            raise PartitionError(
                f"partitions must be 1 to {PARTITIONS_MAX}, not {partitions}",
                directory=str(directory),
            )
        self.directory = directory
        self.partitions = partitions
        self.target = partitioned_target(directory)
        self.names = [partition_folder(index, partitions) for index in range(partitions)]
        self.export_id = str(uuid4())  # tells this export's partitions from another's
        self.sinks: list[ParquetSink] = []
        self.written = PartitionedExport(directory=directory, rows=())

    def __enter__(self) -> _PartitionSinks:
        self.target.mkdir(parents=True, exist_ok=True)
        (self.target / TOP_MANIFEST).unlink(missing_ok=True)
        try:
            for index, name in enumerate(self.names):
                self.sinks.append(
                    ParquetSink(
                        self.target / name,
                        manifest_extra={
                            "partition": _place(self.partitions, index, self.export_id)
                        },
                    )
                )
        except BaseException:
            self._abort()
            raise
        return self

    def _abort(self) -> None:
        for sink in self.sinks:
            sink.abort()  # a sink already swapped in only loses its (empty) partial name

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._abort()
            return
        try:
            for sink in self.sinks:
                sink.close()
        except BaseException:
            self._abort()
            raise
        rows = tuple(dict(sink.rows) for sink in self.sinks)
        manifest = {
            "layout": PARTITIONS_LAYOUT,
            "partitions": self.partitions,
            "hash": HASH_RULE,
            "export": self.export_id,
            "folders": self.names,
            "events": [sum(n for table, n in r.items() if table != "ids") for r in rows],
        }
        target = self.target
        staged = target / _STAGED
        staged.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        columnar._fsync(staged)
        staged.rename(target / TOP_MANIFEST)
        columnar._fsync(target)
        for entry in target.iterdir():  # partitions of an earlier export with another count
            if entry.name not in self.names and entry.name.startswith("part-") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
        self.written = PartitionedExport(directory=self.directory, rows=rows)


class _Growing:
    """A NumPy array appended to, its capacity doubled (a slice at a time, not copied whole)."""

    def __init__(self, dtype: Any, fill: int | None = None) -> None:
        self.fill = fill
        self.data = np.zeros(1024, dtype) if fill is None else np.full(1024, fill, dtype)
        self.size = 0

    def grow_to(self, size: int) -> np.ndarray:
        """The array, at least ``size`` long (new places hold ``fill``)."""
        if size > len(self.data):
            capacity = max(size, 2 * len(self.data))
            more = np.zeros(capacity, self.data.dtype)
            more[: len(self.data)] = self.data
            if self.fill is not None:
                more[len(self.data) :] = self.fill
            self.data = more
        self.size = max(self.size, size)
        return self.data[: self.size]

    def extend(self, values: np.ndarray) -> None:
        start = self.size
        self.grow_to(start + len(values))[start:] = values


_UNOWNED: Final = -2
"""An aggregate not met yet (``_ColumnCutter.owner``); -1: the shared books."""
_SHIFT: Final = 56
"""A UUID's place in its event, as one int64 (``_id_occurrences``): the field's rank in the
top bits, then an item's index in a list, a field's rank in a struct, 20 bits each."""
_LEVEL_BITS: Final = 20


def _holds_ids(kind: pa.DataType) -> bool:
    """Whether a column of a class's schema holds UUIDs (int32 indexes into the ids table)."""
    if kind == pa.int32():
        return True
    if pa.types.is_list(kind):
        return _holds_ids(kind.value_type)
    if pa.types.is_struct(kind):
        return any(_holds_ids(kind.field(i).type) for i in range(kind.num_fields))
    return False


def _id_occurrences(
    array: pa.Array, rows: np.ndarray, place: np.ndarray, shift: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row, place, id) of every UUID in ``array`` (rows and places of its values given)."""
    kind = array.type
    if kind == pa.int32():
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), bool)
        values = array.fill_null(0).to_numpy().astype(np.int64)
        yield rows[valid], place[valid], values[valid]
        return
    shift -= _LEVEL_BITS
    assert shift >= 0
    if pa.types.is_list(kind):
        offsets = array.offsets.to_numpy().astype(np.int64)
        lengths = np.diff(offsets)
        parents = np.repeat(np.arange(len(array)), lengths)
        items = np.arange(len(parents)) - (offsets[:-1] - offsets[0])[parents]
        assert not len(items) or int(items.max()) < 1 << _LEVEL_BITS
        child = array.values.slice(offsets[0], offsets[-1] - offsets[0])
        yield from _id_occurrences(child, rows[parents], place[parents] | items << shift, shift)
        return
    assert pa.types.is_struct(kind)
    for rank in range(kind.num_fields):
        if _holds_ids(kind.field(rank).type):
            yield from _id_occurrences(array.field(rank), rows, place | rank << shift, shift)


def _remapped(array: pa.Array, local: np.ndarray) -> pa.Array:
    """``array`` with each UUID index ``g`` replaced by ``local[g]``."""
    kind = array.type
    mask = array.is_null() if array.null_count else None
    if kind == pa.int32():
        values = local[array.fill_null(0).to_numpy()]
        return pa.array(values, pa.int32(), mask=None if mask is None else mask.to_numpy(False))
    if pa.types.is_list(kind):
        offsets = array.offsets.to_numpy()
        child = array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        return pa.ListArray.from_arrays(
            pa.array(offsets - offsets[0], pa.int32()),
            _remapped(child, local),
            type=kind,
            mask=mask,
        )
    assert pa.types.is_struct(kind)
    fields = [kind.field(rank) for rank in range(kind.num_fields)]
    return pa.StructArray.from_arrays(
        [
            _remapped(array.field(rank), local) if _holds_ids(field.type) else array.field(rank)
            for rank, field in enumerate(fields)
        ],
        fields=fields,
        mask=mask,
    )


class _ColumnCutter:
    """Cuts a columnar log, a slice at a time, into partitions by the customer of each row,
    giving each partition what ``ColumnarWriter`` gives a log of just its events: ``seq``
    1.. in log order, ids numbered in order of first appearance (by event, then by the
    UUID's place in it), pages of ``page_rows``. The owner of an aggregate is decided as
    ``Partitioner`` decides it (the customer its first event names, else the shared books),
    and an aggregate naming another customer later is refused as it refuses it."""

    def __init__(self, pages: list[columnar.Pages], sinks: Sequence[Any]) -> None:
        self.pages = pages
        self.sinks = sinks
        self.partitions = len(pages)
        self.id_bytes = _Growing("V16")
        self.owner = _Growing(np.int64, _UNOWNED)
        """Per aggregate (global id index): its customer's id index, -1 for the shared books."""
        self.partition = _Growing(np.int16, -1)
        """Per customer (global id index): its partition (-1: not hashed yet)."""
        self.local = [_Growing(np.int32, -1) for _ in pages]
        """Per partition, per global id index: the id's index in the partition's ids table."""
        self.ids_count = [0] * len(pages)
        self.seq_count = [0] * len(pages)
        self.seq_seen = 0

    def add(
        self, ids: pa.Array | pa.ChunkedArray, tables: Mapping[str, pa.Table | pa.RecordBatch]
    ) -> None:
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
        raw = np.frombuffer(ids.buffers()[1], "V16", count=len(ids), offset=16 * ids.offset)
        self.id_bytes.extend(raw)
        known = self.id_bytes.size
        parts = {
            name: self._conformed(name, table) for name, table in tables.items() if table.num_rows
        }
        events = sum(table.num_rows for table in parts.values())
        low = self.seq_seen
        at: dict[str, np.ndarray] = {}  # per table, each row's place in the slice (seq order)
        origin = np.full(events, -1, np.int64)
        naming = np.full(events, -1, np.int64)
        conflict = np.zeros(events, bool)
        for name, table in parts.items():
            where = table.column("seq").to_numpy() - low - 1
            if where.min() < 0 or where.max() >= events:
                raise self._gap(low, events)
            at[name] = where
            origin[where] = table.column("originator_id").to_numpy()
            named = [
                table.column(column).fill_null(-1).to_numpy().astype(np.int64)
                for column in CUSTOMER_COLUMNS
                if column in table.column_names
            ]
            if name == CustomerAccountOpened.__name__:
                named.append(origin[where])
            if named:
                single = np.max(named, axis=0)
                naming[where] = single
                conflict[where] = np.any([(n >= 0) & (n != single) for n in named], axis=0)
        if (origin < 0).any():
            raise self._gap(low, events)
        owner = self.owner.grow_to(known)
        aggregates, first = np.unique(origin, return_index=True)
        new = owner[aggregates] == _UNOWNED
        owner[aggregates[new]] = naming[first[new]]
        owners = owner[origin]
        refused = conflict | ((naming >= 0) & (owners != naming))
        if refused.any():
            self._refuse(int(np.argmax(refused)), parts, at)
        customers = np.unique(owners[owners >= 0])
        partition = self.partition.grow_to(known)
        for customer in customers[partition[customers] < 0].tolist():
            partition[customer] = partition_of(
                UUID(bytes=self.id_bytes.data[customer].tobytes()), self.partitions
            )
        placed = np.where(owners >= 0, partition[np.maximum(owners, 0)], -1)
        for index in range(self.partitions):
            self._add_to(index, (placed == index) | (placed < 0), parts, at, known)
        self.seq_seen += events

    @staticmethod
    def _gap(low: int, events: int) -> PartitionError:
        return PartitionError(
            f"the slice after event {low} misses events or numbers them outside "
            f"{low + 1}..{low + events}: a slice holds every event after the previous slice's"
        )

    @staticmethod
    def _conformed(name: str, table: pa.Table | pa.RecordBatch) -> pa.Table:
        """A class's rows as its schema lays them out (dictionaries decoded, columns added
        since filled as ``columnar.conformed`` fills them), in one chunk."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        table = columnar.conformed(name, table)
        schema = columnar.SCHEMAS[name]
        if table.schema != schema:
            table = pa.Table.from_arrays(
                [table.column(field.name).cast(field.type) for field in schema],
                schema=schema,
            )
        return table.combine_chunks()

    def _refuse(
        self, position: int, parts: Mapping[str, pa.Table], at: Mapping[str, np.ndarray]
    ) -> None:
        """Raise ``Partitioner``'s error for the event at ``position`` of the slice."""
        name = next(n for n, where in at.items() if (where == position).any())
        table = parts[name]
        row = int(np.flatnonzero(at[name] == position)[0])
        index_of = self.id_bytes.data

        def uuid_of(index: int) -> UUID:
            return UUID(bytes=index_of[index].tobytes())

        origin = int(table.column("originator_id")[row].as_py())
        named = {
            uuid_of(value)
            for column in CUSTOMER_COLUMNS
            if column in table.column_names
            and (value := table.column(column)[row].as_py()) is not None
        }
        if name == CustomerAccountOpened.__name__:
            named.add(uuid_of(origin))
        known = int(self.owner.data[origin])
        was = "the shared books" if known < 0 else f"customer {uuid_of(known)}"
        raise PartitionError(
            f"{name} of aggregate {uuid_of(origin)} names customer(s) "
            f"{', '.join(sorted(map(str, named)))}, but the aggregate belongs to {was}: "
            "each aggregate must belong to one customer or to the shared books; "
            "nothing was written"
        )

    def _add_to(
        self,
        index: int,
        taken: np.ndarray,
        parts: Mapping[str, pa.Table],
        at: Mapping[str, np.ndarray],
        known: int,
    ) -> None:
        """The slice's events of partition ``index`` (``taken``, by place in the slice)."""
        seq_of = self.seq_count[index] + np.cumsum(taken)
        local = self.local[index].grow_to(known)
        kept: dict[str, tuple[pa.Table, np.ndarray]] = {}
        rows_of, places_of, ids_of = [], [], []
        for name, table in parts.items():
            mine = taken[at[name]]
            if not mine.any():
                continue
            part = table if mine.all() else table.filter(pa.array(mine)).combine_chunks()
            seqs = seq_of[at[name][mine]]
            kept[name] = (part, seqs)
            for rank, field in enumerate(part.schema):
                if rank == 0 or not _holds_ids(field.type):
                    continue  # rank 0: seq; the class's fields follow in declaration order
                column = part.column(rank)
                array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
                place = np.full(len(array), (rank - 1) << _SHIFT, np.int64)
                for rows, places, found in _id_occurrences(array, seqs, place, _SHIFT):
                    new = local[found] < 0
                    rows_of.append(rows[new])
                    places_of.append(places[new])
                    ids_of.append(found[new])
        if rows_of and sum(len(rows) for rows in rows_of):
            order = np.lexsort((np.concatenate(places_of), np.concatenate(rows_of)))
            met = np.concatenate(ids_of)[order]
            found, first = np.unique(met, return_index=True)
            fresh = found[np.argsort(first)]
            local[fresh] = self.ids_count[index] + np.arange(len(fresh), dtype=np.int32)
            self.ids_count[index] += len(fresh)
            new_ids = self.id_bytes.data[fresh]
            self.sinks[index](
                "ids",
                pa.record_batch(
                    [
                        pa.FixedSizeBinaryArray.from_buffers(
                            pa.binary(16), len(fresh), [None, pa.py_buffer(new_ids.tobytes())]
                        )
                    ],
                    schema=columnar.IDS_SCHEMA,
                ),
            )
        pages = self.pages[index]
        for name, (part, seqs) in kept.items():
            arrays: list[pa.Array] = [pa.array(seqs, pa.int64())]
            for rank, field in enumerate(part.schema):
                if rank == 0:
                    continue
                column = part.column(rank)
                array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
                arrays.append(_remapped(array, local) if _holds_ids(field.type) else array)
            batch = pa.record_batch(arrays, schema=columnar.SCHEMAS[name])
            pages.add(name, batch)
        self.seq_count[index] += int(taken.sum())

    def close(self) -> None:
        for pages in self.pages:
            pages.close()


def _place(partitions: int, index: int, export_id: str) -> dict[str, Any]:
    """What a partition's manifest says of its place in its export."""
    return {"count": partitions, "index": index, "hash": HASH_RULE, "export": export_id}


Location = Path | str
"""Where a partitioned export is: a local folder, or a URI pyarrow resolves (``s3://bucket/dir``,
``gs://...``, ``hdfs://...``, ``file:///...``)."""


def resolved(location: Location, filesystem: Any = None) -> tuple[pafs.FileSystem | None, str]:
    """(filesystem, path in it) of ``location``: in ``filesystem`` if given (a pyarrow
    filesystem, or an fsspec one, wrapped); else the filesystem of its URI; else local (None)."""
    if filesystem is not None:
        if not isinstance(filesystem, pafs.FileSystem):
            filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(filesystem))
        return filesystem, str(location).rstrip("/")
    text = str(location)
    if "://" in text:
        try:
            found, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowException, ValueError, OSError) as error:
            raise PartitionError(f"{text}: {error}", directory=text) from error
        return found, path.rstrip("/")
    return None, text


def partition_count(directory: Location, *, filesystem: Any = None) -> int:
    """The number of partitions of a finished partitioned export."""
    found, root = resolved(directory, filesystem)
    return int(_top_manifest(found, root, directory)["partitions"])


def _text(filesystem: pafs.FileSystem | None, path: str) -> str:
    if filesystem is None:
        return Path(path).read_text()
    text = columnar.read_text(filesystem, path)
    if text is None:
        raise FileNotFoundError(path)
    return text


def _top_manifest(
    filesystem: pafs.FileSystem | None, root: str, directory: Location
) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(_text(filesystem, f"{root}/{TOP_MANIFEST}"))
    except FileNotFoundError:
        raise PartitionError(
            f"{directory}: no {TOP_MANIFEST} (not a partitioned export, or it did not finish)",
            directory=str(directory),
        ) from None
    except (OSError, ValueError, pa.ArrowException) as error:
        raise PartitionError(
            f"{directory}: {TOP_MANIFEST} unreadable ({error})", directory=str(directory)
        ) from error
    count = manifest.get("partitions")
    if (
        manifest.get("layout") != PARTITIONS_LAYOUT
        or manifest.get("hash") != HASH_RULE
        or not isinstance(count, int)
        or not 1 <= count <= PARTITIONS_MAX
    ):
        raise PartitionError(
            f"{directory}: {TOP_MANIFEST} names layout {manifest.get('layout')!r}, "
            f"hash {manifest.get('hash')!r}, {count!r} partitions: expected layout "
            f"{PARTITIONS_LAYOUT}, hash {HASH_RULE!r}",
            directory=str(directory),
        )
    return manifest


def read_partition(directory: Location, index: int, *, filesystem: Any = None) -> ColumnarLog:
    """Partition ``index`` of a partitioned export (a local folder, a URI, or a path in
    ``filesystem``: see ``resolved``), checked to be that partition of that export (count, index
    and hash rule in its manifest) and whole (every table readable, with the rows its manifest
    names); else ``PartitionError`` naming it."""
    found, root = resolved(directory, filesystem)
    top = _top_manifest(found, root, directory)
    count = int(top["partitions"])
    if not 0 <= index < count:
        raise PartitionError(
            f"{directory} has partitions 0 to {count - 1}, not {index}",
            directory=str(directory),
            partition=index,
        )
    folder = f"{root}/{partition_folder(index, count)}"
    where = f"partition {index} of {count} ({folder})"
    is_dir = (
        Path(folder).is_dir()
        if found is None
        else found.get_file_info(folder).type == pafs.FileType.Directory
    )
    if not is_dir:
        raise PartitionError(f"{where} is missing", directory=str(directory), partition=index)
    try:
        manifest = json.loads(_text(found, f"{folder}/manifest.json"))
        place = manifest.get("partition")
        if place != _place(count, index, top.get("export", "")):
            raise PartitionError(
                f"{where} belongs to another export (its manifest names {place!r})",
                directory=str(directory),
                partition=index,
            )
        log = columnar.read_parquet(folder, filesystem=found)
        counts = {name: table.num_rows for name, table in log.tables.items()}
        counts["ids"] = log.ids.num_rows
        if counts != manifest["rows"]:
            raise PartitionError(
                f"{where} holds other rows than its manifest names",
                directory=str(directory),
                partition=index,
            )
    except PartitionError:
        raise
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        raise PartitionError(
            f"{where} is missing files or corrupt: {error}",
            directory=str(directory),
            partition=index,
        ) from error
    return log


def read_partitions(directory: Location, *, filesystem: Any = None) -> list[ColumnarLog]:
    """Every partition of a partitioned export, in index order (each checked as
    ``read_partition`` checks it)."""
    count = partition_count(directory, filesystem=filesystem)
    return [read_partition(directory, index, filesystem=filesystem) for index in range(count)]


# Answers per partition, and combined ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PortfolioAnswers:
    """The fast path's portfolio answers of one log (a partition's or the whole log's)."""

    ageing_by_customer: AgeingReport
    ageing_by_currency: AgeingReport
    ageing_by_owner: AgeingReport
    worklist: Worklist
    policy: EscalationPolicy
    """The escalation policy in force on the date (which ordered the worklist)."""


def portfolio_answers(
    log: ColumnarLog, as_of: date, *, known_at: datetime | None = None
) -> PortfolioAnswers:
    """The fast path's ageing (by customer, currency and owner) and worklist of ``log`` on
    ``as_of``, as recorded by ``known_at`` (event stamps), computed as ``QueryEngine.ageing``
    and ``QueryEngine.worklist`` compute them (the same functions, ``reports.assembled_worklist``
    included, over this log instead of a store's live one): what each partition's worker
    computes, and what the whole log's answer is compared with."""
    cols = columnar.columns(log, select=SELECT)
    policy = _policy_on(cols, as_of, known_at)
    decode = columnar.decode_policy
    with_buckets = fast_path.fast_portfolio(
        cols,
        as_of,
        decode_policy=decode,
        known_at=known_at,
        ageing_policy=policy.ageing,
        invoice_buckets=True,
    )
    by_customer, by_currency, by_owner = (
        reports.ageing_report(cols, with_buckets, grouping=grouping)
        for grouping in (AgeingGrouping.CUSTOMER, AgeingGrouping.CURRENCY, AgeingGrouping.OWNER)
    )
    result = fast_path.fast_portfolio(cols, as_of, decode_policy=decode, known_at=known_at)
    issued = log.tables.get("InvoiceIssued")
    numbers = None
    if issued is not None:
        if known_at is not None:  # the rows the fast path numbers: those known by then
            limit = pa.scalar(known_at, type=issued.schema.field("timestamp").type)
            issued = issued.filter(pc.less_equal(issued["timestamp"], limit))
        numbers = issued.column("invoice_number")

    def numbers_of(rows: np.ndarray) -> list[str]:
        if len(rows) == 0 or numbers is None:
            return []
        taken: list[str] = numbers.take(pa.array(rows)).to_pylist()
        return taken

    id_column = log.ids.column("id")

    def ids_of(indexes: np.ndarray) -> list[UUID]:
        # Only the ids asked for (the worklist's customers): decoding every id of the log
        # into a UUID was a fixed cost of each partition's task.
        taken = id_column.take(pa.array(indexes, type=pa.int64())).to_pylist()
        return [UUID(bytes=raw) for raw in taken]

    items = reports.assembled_worklist(cols, result, decode, numbers_of, ids_of)
    worklist = Worklist(as_of=as_of, owner=None, policy_version=policy.version, items=tuple(items))
    return PortfolioAnswers(
        ageing_by_customer=by_customer,
        ageing_by_currency=by_currency,
        ageing_by_owner=by_owner,
        worklist=worklist,
        policy=policy,
    )


def _policy_on(
    cols: columnar.Columns, on: date, known_at: datetime | None = None
) -> EscalationPolicy:
    adopted = fast_path.known_tables(cols, known_at)["EscalationPolicyAdopted"]
    texts = adopted.get("policy.dictionary", ())
    versions = [
        PolicyVersion(
            policy=columnar.decode_policy(texts[code]), effective_on=fast_path.on_date(day)
        )
        for code, day in zip(
            adopted.get("policy", ()), adopted.get("effective_on", ()), strict=True
        )
    ]
    return policy_in_force(versions, on)


def combined_ageing(reports_of: Sequence[AgeingReport]) -> AgeingReport:
    """The ageing of the whole log from its partitions' (same date, policy and grouping): rows
    of one (key, currency) summed (amounts, disputed) or maxed (days past due), in the
    (key, currency) order every ageing report has (Python's string order). A customer lives in
    one partition, so by customer no two rows meet; by currency they are summed."""
    first = reports_of[0]
    for other in reports_of[1:]:
        if (other.as_of, other.policy, other.grouping) != (
            first.as_of,
            first.policy,
            first.grouping,
        ):
            raise PartitionError(
                "the partitions' ageing reports differ in date, policy or grouping"
            )
    merged: dict[tuple[str, str], AgeingRow] = {}
    for report in reports_of:
        for row in report.rows:
            known = merged.get((row.key, row.currency))
            if known is None:
                merged[row.key, row.currency] = row
                continue
            merged[row.key, row.currency] = AgeingRow(
                key=row.key,
                label=row.label,
                currency=row.currency,
                buckets_minor=tuple(
                    a + b for a, b in zip(known.buckets_minor, row.buckets_minor, strict=True)
                ),
                open_minor=known.open_minor + row.open_minor,
                days_past_due_max=max(known.days_past_due_max, row.days_past_due_max),
                disputed_minor=known.disputed_minor + row.disputed_minor,
                settled_in_goods_minor=known.settled_in_goods_minor + row.settled_in_goods_minor,
            )
    return AgeingReport(
        as_of=first.as_of,
        policy=first.policy,
        grouping=first.grouping,
        rows=tuple(merged[key] for key in sorted(merged)),
    )


def combined_worklist(worklists: Sequence[Worklist], policy: EscalationPolicy) -> Worklist:
    """The worklist of the whole log from its partitions' (same date, owner and policy
    version): their items merged in the policy's priority order (``worklist_order``, the
    fold's own ordering), every partition's customers being its own."""
    first = worklists[0]
    for other in worklists[1:]:
        if (other.as_of, other.owner, other.policy_version) != (
            first.as_of,
            first.owner,
            first.policy_version,
        ):
            raise PartitionError("the partitions' worklists differ in date, owner or policy")
    if policy.version != first.policy_version:
        raise PartitionError(
            f"the worklists were ordered by policy version {first.policy_version}, "
            f"not {policy.version}"
        )
    items = [item for worklist in worklists for item in worklist.items]
    figures = [
        (
            item.level,
            item.overdue_minor,
            item.days_past_due_max,
            item.broken_promises,
            item.currency,
            item.customer_code,
        )
        for item in items
    ]
    order = worklist_order(figures, policy)
    return Worklist(
        as_of=first.as_of,
        owner=first.owner,
        policy_version=first.policy_version,
        items=tuple(items[at] for at in order),
    )


def policy_of(log: ColumnarLog, on: date, known_at: datetime | None = None) -> EscalationPolicy:
    """The escalation policy in force on ``on`` in ``log`` as recorded by ``known_at`` (every
    partition holds them all)."""
    return _policy_on(columnar.columns(log, select=SELECT), on, known_at)


def combined_backtest(backtests: Sequence[Backtest]) -> Backtest:
    """The back-test of the whole log from its partitions' (same months, step, level, known-at
    and candidate): per period end and policy, the customers per level, holds, legal
    referrals, broken promises and written-off customers added, the escalated customers
    merged in customer-code order (Python's string order, as each partition sorts them), the
    money collected after added per currency; the differences merged by period end, then
    customer code. A customer lives in one partition, so no two partitions list one customer.

    Raises:
        PartitionError: the back-tests differ in their terms, or the partitions hold
            different policies (their rows name different versions), or a customer is listed
            by two partitions (exports of stores whose customers overlap).
    """
    first = backtests[0]
    terms = (
        first.from_month,
        first.to_month,
        first.step,
        first.known_at,
        first.min_level,
        first.candidate_version,
    )
    for other in backtests[1:]:
        if terms != (
            other.from_month,
            other.to_month,
            other.step,
            other.known_at,
            other.min_level,
            other.candidate_version,
        ) or [p.period_end for p in other.periods] != [p.period_end for p in first.periods]:
            raise PartitionError("the partitions' back-tests differ in their period or terms")
    periods = []
    for at, period in enumerate(first.periods):
        periods.append(
            BacktestPeriod(
                period_end=period.period_end,
                actual=_combined_rows([b.periods[at].actual for b in backtests]),
                candidate=_combined_rows([b.periods[at].candidate for b in backtests]),
            )
        )
    differences = sorted(
        (difference for backtest in backtests for difference in backtest.differences),
        key=lambda difference: (difference.period_end, difference.customer_code),
    )
    for before, after in itertools.pairwise(differences):
        if (before.period_end, before.customer_code) == (after.period_end, after.customer_code):
            raise PartitionError(
                f"customer {after.customer_code} is in two partitions: exports of different "
                "stores whose customers overlap are not one portfolio"
            )
    return attrs.evolve(first, periods=tuple(periods), differences=tuple(differences))


def _combined_rows(rows: Sequence[BacktestRow]) -> BacktestRow:
    """One policy's row on one period end, from every partition's."""
    first = rows[0]
    for other in rows[1:]:
        if (other.policy_version, len(other.customers_by_level)) != (
            first.policy_version,
            len(first.customers_by_level),
        ):
            raise PartitionError(
                f"the partitions' {first.policy.value} policies on {first.period_end} differ "
                f"(versions {first.policy_version} and {other.policy_version}): one portfolio "
                "is back-tested against one policy; back-test them apart"
            )
    escalated = sorted(
        (customer for row in rows for customer in row.escalated),
        key=lambda customer: customer.customer_code,
    )
    for before, after in itertools.pairwise(escalated):
        if before.customer_code == after.customer_code:
            raise PartitionError(
                f"customer {after.customer_code} is in two partitions: exports of different "
                "stores whose customers overlap are not one portfolio"
            )
    totals: dict[str, int] = {}
    for row in rows:
        for money in row.collected_after:
            totals[money.currency] = totals.get(money.currency, 0) + money.amount_minor
    return attrs.evolve(
        first,
        customers_by_level=tuple(
            sum(counts) for counts in zip(*(row.customers_by_level for row in rows), strict=True)
        ),
        on_supply_hold=sum(row.on_supply_hold for row in rows),
        at_legal_level=sum(row.at_legal_level for row in rows),
        promises_broken=sum(row.promises_broken for row in rows),
        escalated=tuple(escalated),
        collected_after=tuple(
            Money(amount_minor=amount, currency=currency)
            for currency, amount in sorted(totals.items())
        ),
        written_off_caught=sum(row.written_off_caught for row in rows),
    )
