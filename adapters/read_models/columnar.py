"""The event log in columnar form: one Arrow table per event class, read in pages.

The layout, written down once (the generator and the fast path rely on it):

- Every event class has its own table, named by the class name, with ``seq`` (int64: the
  event's position in the log, 1-based, recording order), ``originator_id``,
  ``originator_version`` (int64) and ``timestamp`` (when it was recorded, microseconds UTC),
  then the class's own fields in declaration order.
- UUIDs are int32 indexes into one ``ids`` table (fixed 16 bytes per id, in order of first
  appearance), so joins are integer joins. Dates are date32, datetimes timestamps in UTC, ints
  int64, enums their value as a string, other strings strings; ``X | None`` is a nullable X;
  tuples are lists (of structs for attrs classes); the escalation and authority policies are
  their JSON forms.
- On disk (Parquet): a directory with ``ids.parquet``, one ``<ClassName>.parquet`` per class
  present, and ``manifest.json`` (layout version and row counts). Writers append record batches
  (pages), so a log of any size streams through a bounded buffer.

``columns`` turns tables into plain NumPy arrays for the pure fast path (which imports neither
pyarrow nor this module): dates become int32 days since 1970-01-01, timestamps int64
microseconds, strings dictionary codes (int32) with their values, lists offsets plus flattened
children.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import heapq
import itertools
import json
import operator
import os
import shutil
import stat
import sys
import tempfile
import threading
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from arledger.adapters.persistence.serialization import CONVERTER
from arledger.domain import events as events_module
from arledger.domain.authority import AuthorityPolicy
from arledger.domain.errors import ArledgerError
from arledger.domain.events import ALL_EVENTS, Event, upcast_policy_v1_v2
from arledger.domain.policy import EscalationPolicy

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, and no partial is ever deleted
    fcntl = None  # type: ignore[assignment]

LAYOUT_VERSION: Final = 1
PAGE_ROWS_DEFAULT: Final = 65_536
"""Rows per record batch (and Parquet row group) per class: a few MB per page."""
BATCH_EVENTS_DEFAULT: Final = 8_192
"""Events ``ColumnarWriter.write_all`` encodes at once: enough that a column's one call per
batch costs nothing per event, few enough that a batch's Python values stay small."""

NULL_DATE: Final = np.iinfo(np.int32).min
"""A null date in ``columns`` (days since epoch)."""
NULL_INT: Final = np.iinfo(np.int64).min
"""A null int in ``columns``."""

EVENT_CLASSES: Final[dict[str, type[Event]]] = {cls.__name__: cls for cls in ALL_EVENTS}
ENVELOPE: Final = ("seq", "originator_id", "originator_version", "timestamp")
IDS_SCHEMA: Final = pa.schema([pa.field("id", pa.binary(16), nullable=False)])
TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
EPOCH: Final = date(1970, 1, 1)


# Schema ---------------------------------------------------------------------------------------


_HINTS: Final[dict[type, dict[str, Any]]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The class's resolved type hints (cached: resolving them cost a customer's query ~1 ms a
    class)."""
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls, vars(events_module))
    return found


def _arrow_type(hint: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) for a field's type hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        (inner,) = args
        return _arrow_type(inner)[0], True
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return pa.list_(pa.field("item", _arrow_type(item)[0], nullable=False)), False
    if hint is UUID:
        return pa.int32(), False
    if hint is bool:
        return pa.bool_(), False
    if hint is int:
        return pa.int64(), False
    if hint is str or (isinstance(hint, type) and issubclass(hint, enum.Enum)):
        return pa.string(), False
    if hint is datetime:
        return TIMESTAMP, False
    if hint is date:
        return pa.date32(), False
    if hint is EscalationPolicy or hint is AuthorityPolicy:
        return pa.string(), False
    if attrs.has(hint):
        fields = [pa.field(name, *_arrow_type(sub)) for name, sub in _hints(hint).items()]
        return pa.struct(fields), False
    raise TypeError(f"no columnar type for {hint!r}")


def schema_for(cls: type[Event]) -> pa.Schema:
    """The table schema of an event class (envelope first, then its fields in order)."""
    hints = _hints(cls)
    fields = [pa.field("seq", pa.int64(), nullable=False)]
    for field in attrs.fields(cls):
        arrow_type, nullable = _arrow_type(hints[field.name])
        fields.append(pa.field(field.name, arrow_type, nullable=nullable))
    return pa.schema(fields, metadata={"arledger_layout": str(LAYOUT_VERSION)})


SCHEMAS: Final[dict[str, pa.Schema]] = {
    name: schema_for(cls) for name, cls in EVENT_CLASSES.items()
}

FEW_VALUED: Final = frozenset({"currency", "collection_owner", "collector", "dispute_reference"})
"""String fields with few distinct values per log (plus every enum): kept dictionary-encoded
in a query-ready log, so that ``columns`` hands out their codes without encoding them again."""


def _few_valued(cls: type[Event]) -> tuple[str, ...]:
    hints = _hints(cls)
    return tuple(
        field.name
        for field in attrs.fields(cls)
        if field.name in FEW_VALUED
        or (isinstance(hints[field.name], type) and issubclass(hints[field.name], enum.Enum))
    )


DICTIONARY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    name: _few_valued(cls) for name, cls in EVENT_CLASSES.items()
}


def conformed(name: str, table: pa.Table) -> pa.Table:
    """A class's table laid out as its schema is now: a table written before the class gained
    a field (always with a default, so nullable here: ``X | None = None``) gets the column,
    null, so that segments and exports written earlier keep loading beside new rows. Decoded,
    ``from_columnar`` decodes a null as None, such a field's default. A list field added later
    (its default the empty tuple, as ``PromiseMade.tranches``) gets empty lists instead."""
    schema = SCHEMAS[name]
    if table.schema.names == schema.names:
        return table
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name))
        elif pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            columns.append(pa.chunked_array([pa.array([[]] * table.num_rows, field.type)]))
        else:
            assert field.nullable, f"{name}.{field.name}: a field added later must default to None"
            columns.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)]))
    return pa.Table.from_arrays(columns, schema=schema)


def query_ready(name: str, table: pa.Table) -> pa.Table:
    """The table as queries want it: one chunk per column (so NumPy views need no copy) and
    the few-valued strings dictionary-encoded once, here, rather than at every query."""
    table = table.combine_chunks()
    for column in DICTIONARY_COLUMNS[name]:
        index = table.schema.get_field_index(column)
        values = table.column(index)
        if not pa.types.is_dictionary(values.type):
            table = table.set_column(index, column, pc.dictionary_encode(values))
    return table


# Events -> columns ----------------------------------------------------------------------------


class IdIndex:
    """UUIDs to dense int32 indexes, in order of first appearance (keyed by the UUID's 16 bytes:
    a loaded log's index is rebuilt from the ids table without making a UUID per id).

    A restored log's ids stay in NumPy (``restore``): their first 8 bytes sorted, found by
    bisection, ~24 bytes an id; ``index`` (a dict) holds the ids added since and those of the
    restored ones looked up. A dict of every id cost ~140 bytes an id and seconds to build: at
    1M invoices (2M ids) a new process with any new event to append held ~590 MB more, 3.4x
    the columnar log where the target is 3x."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.pending: list[bytes] = []
        self.count = 0
        """Ids numbered (restored ones included): the next id's index."""
        self._base = np.zeros(0, "V16")
        self._heads = np.zeros(0, np.uint64)
        self._order = np.zeros(0, np.int64)
        self._sorting: Future[tuple[np.ndarray, np.ndarray]] | None = None
        """The restored ids' heads being sorted on a thread of their own (``restore``)."""

    def __call__(self, value: UUID) -> int:
        key = value.bytes
        found = self.find(key)
        if found is None:
            found = self.add(key)
        return found

    def add(self, key: bytes) -> int:
        """Number ``key``, an id not held yet."""
        found = self.index[key] = self.count
        self.count += 1
        self.pending.append(key)
        return found

    def remove(self, key: bytes) -> None:
        """Forget ``key``, the last id added (a batch that failed)."""
        del self.index[key]
        self.count -= 1

    def find(self, key: bytes) -> int | None:
        found = self.index.get(key)
        if found is None and len(self._base):
            found = self._restored(key)
            if found is not None:
                self.index[key] = found
        return found

    def prefetch(self, keys: list[bytes | None]) -> None:
        """Look up at once (vectorised) the restored ids among ``keys`` not in ``index`` yet,
        so that ``index`` holds every one of them that is known."""
        if not len(self._base):
            return
        missing = list({key for key in keys if key is not None and key not in self.index})
        if not missing:
            return
        heads = np.frombuffer(b"".join(missing), np.uint64)[::2]
        restored, _order = self._sorted()
        at = np.minimum(np.searchsorted(restored, heads), len(restored) - 1)
        candidates = np.flatnonzero(restored[at] == heads)
        for one in candidates.tolist():
            found = self._restored(missing[one])
            if found is not None:
                self.index[missing[one]] = found

    def _restored(self, key: bytes) -> int | None:
        head = np.frombuffer(key, np.uint64, count=1)[0]
        heads, order = self._sorted()
        low = int(np.searchsorted(heads, head, side="left"))
        while low < len(heads) and heads[low] == head:
            index = int(order[low])
            if self._base[index].tobytes() == key:
                return index
            low += 1
        return None

    def restore(self, ids: np.ndarray, *, in_background: bool = False) -> None:
        """Continue after a log whose ids table holds ``ids`` (16-byte values, ``V16``; nothing
        pending). ``in_background``: sort their heads on a thread of their own, which the first
        look-up waits for (a process that loads a log starts it then, so that the first refresh
        bringing new events does not pay for it: ~0.3 s of CPU for 2.2M ids, NumPy's sort
        releasing the GIL)."""
        self._base = ids
        self.index = {}
        self.pending = []
        self.count = len(ids)
        if not in_background:
            self._heads, self._order = _sorted_heads(ids)
            self._sorting = None
            return
        sorting: Future[tuple[np.ndarray, np.ndarray]] = Future()

        def run() -> None:
            try:
                sorting.set_result(_sorted_heads(ids))
            except BaseException as error:  # handed to the look-up that waits for it
                sorting.set_exception(error)

        self._sorting = sorting
        threading.Thread(target=run, name="arledger-id-index", daemon=True).start()

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The restored ids' first 8 bytes, sorted, and their indexes in that order."""
        if self._sorting is not None:
            self._heads, self._order = self._sorting.result()
            self._sorting = None
        return self._heads, self._order

    def take_pending(self) -> pa.RecordBatch | None:
        if not self.pending:
            return None
        batch = pa.record_batch([pa.array(self.pending, pa.binary(16))], schema=IDS_SCHEMA)
        self.pending = []
        return batch


def _sorted_heads(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first 8 bytes of each of ``ids`` sorted, and the order that sorts them (ids sharing
    their first 8 bytes are all compared whole: the order among them does not matter)."""
    heads = np.ascontiguousarray(ids).view(np.uint64)[::2]
    order = np.argsort(heads)
    return heads[order], order


def _encoder(hint: Any, ids: IdIndex) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        encode = _encoder(inner, ids)
        return lambda value: None if value is None else encode(value)
    if origin is tuple:
        encode_item = _encoder(typing.get_args(hint)[0], ids)
        return lambda value: [encode_item(item) for item in value]
    if hint is UUID:
        return ids
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value: value.value
    if hint is EscalationPolicy or hint is AuthorityPolicy:
        return lambda value: json.dumps(CONVERTER.unstructure(value), sort_keys=True)
    if attrs.has(hint):
        encoders = {name: _encoder(sub, ids) for name, sub in _hints(hint).items()}
        return lambda value: {name: enc(getattr(value, name)) for name, enc in encoders.items()}
    return _as_is


def _fields_getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of ``names`` of an object, as a tuple (even for one name)."""
    getter = operator.attrgetter(*names)
    if len(names) > 1:
        return getter

    def one(value: Any) -> tuple[Any, ...]:
        return (getter(value),)

    return one


def _as_is(value: Any) -> Any:
    """The encoder of a value that goes into its column as it is."""
    return value


def _decoder(hint: Any, ids: Callable[[int], UUID]) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        decode = _decoder(inner, ids)
        return lambda value: None if value is None else decode(value)
    if origin is tuple:
        decode_item = _decoder(typing.get_args(hint)[0], ids)
        return lambda value: tuple(decode_item(item) for item in value)
    if hint is UUID:
        return ids
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if hint is EscalationPolicy:
        return decode_policy
    if hint is AuthorityPolicy:
        return lambda text: CONVERTER.structure(json.loads(text), AuthorityPolicy)
    if hint is datetime:
        return lambda value: value.astimezone(UTC)
    if attrs.has(hint):
        decoders = {name: _decoder(sub, ids) for name, sub in _hints(hint).items()}
        return lambda value: hint(**{name: dec(value[name]) for name, dec in decoders.items()})
    return lambda value: value


def decode_policy(text: str) -> EscalationPolicy:
    """A policy column's JSON back to the policy (what the fast path's ``decode_policy`` wants:
    projections/ cannot use the adapters' converter). A policy written before
    ``EscalationPolicyAdopted`` class version 2 (persisted segments may hold one) is upcast."""
    state = json.loads(text)
    upcast_policy_v1_v2(state)
    return CONVERTER.structure(state, EscalationPolicy)


def _policy_text(policy: EscalationPolicy | AuthorityPolicy) -> str:
    return json.dumps(CONVERTER.unstructure(policy), sort_keys=True)


def policy_text(policy: EscalationPolicy | AuthorityPolicy) -> str:
    """A policy column's JSON, as the columnar writer stores it (for the synthetic generator,
    which writes the columns itself)."""
    return _policy_text(policy)


_JSON_POLICIES: Final = (EscalationPolicy, AuthorityPolicy)
"""Policies stored as their JSON text in one string column (not as nested columns)."""


def _has_ids(hint: Any) -> bool:
    """Whether a field's values hold UUIDs (numbered in order of first appearance)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) or origin is tuple:
        return any(_has_ids(arg) for arg in typing.get_args(hint) if arg is not type(None))
    if hint is UUID:
        return True
    if hint in _JSON_POLICIES:
        return False  # stored as its JSON text
    return attrs.has(hint) and any(_has_ids(sub) for sub in _hints(hint).values())


def _optional_holding_ids(hint: Any) -> bool:
    """An optional tuple or attrs value holding ids: ``_BatchColumns`` encodes those value by
    value, which cannot number their ids in order (no event has one)."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return False
    (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return inner is not UUID and _has_ids(inner)


Place = Callable[[int], tuple[int, ...]]
"""A value's place in a batch, by its position in its column: (the event's position in the
batch, the field's in its class, then the item's in a tuple, the field's in an attrs value...).
Places sort as writing the batch one event, field and item at a time meets the values."""
Build = Callable[[], pa.Array]
"""Makes a gathered column into its Arrow array, once the batch's new ids are numbered."""


def _then(place: Place, rank: int) -> Place:
    return lambda at: (*place(at), rank)


class _BatchColumns:
    """One batch's values to Arrow arrays, a whole column at a time (for ``ColumnarWriter``).

    Ids are numbered in two steps: ``gather`` notes each id the index does not hold yet with
    its ``Place``, and the ``Build`` it returns runs once the writer has numbered the new ids
    in the order of their places: the numbers are those writing the events one by one gives."""

    def __init__(self, ids: IdIndex) -> None:
        self.ids = ids
        self.index = ids.index
        self.new: list[tuple[tuple[int, ...], bytes]] = []

    def gather(self, hint: Any, kind: pa.DataType, values: list[Any], place: Place) -> Build:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
            return self._optional(inner, kind, values, place)
        if origin is tuple:
            return self._tuples(typing.get_args(hint)[0], kind, values, place)
        if hint is UUID:
            return self._ids([value.bytes for value in values], place)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            texts = [value.value for value in values]
            return lambda: pa.array(texts, type=kind)
        if hint in _JSON_POLICIES:
            texts = [_policy_text(value) for value in values]
            return lambda: pa.array(texts, type=kind)
        if attrs.has(hint):
            return self._attrs(hint, kind, values, place)
        return lambda: pa.array(values, type=kind)

    def _ids(self, keys: list[bytes | None], place: Place) -> Build:
        self.ids.prefetch(keys)
        index = self.index
        self.new.extend(
            (place(at), key) for at, key in enumerate(keys) if key is not None and key not in index
        )
        return lambda: pa.array(
            [None if key is None else index[key] for key in keys], type=pa.int32()
        )

    def _optional(self, inner: Any, kind: pa.DataType, values: list[Any], place: Place) -> Build:
        if inner is UUID:
            return self._ids([None if value is None else value.bytes for value in values], place)
        if isinstance(inner, type) and issubclass(inner, enum.Enum):
            texts = [None if value is None else value.value for value in values]
            return lambda: pa.array(texts, type=kind)
        if inner in _JSON_POLICIES:
            texts = [None if value is None else _policy_text(value) for value in values]
            return lambda: pa.array(texts, type=kind)
        if typing.get_origin(inner) is tuple or attrs.has(inner):
            # No event has an optional tuple or attrs value yet: such values go through the
            # per-value encoder (one holding ids is refused when the writer is made).
            encode = _encoder(inner, IdIndex())
            encoded = [None if value is None else encode(value) for value in values]
            return lambda: pa.array(encoded, type=kind)
        return lambda: pa.array(values, type=kind)

    def _tuples(self, item: Any, kind: pa.DataType, values: list[Any], place: Place) -> Build:
        lengths = np.fromiter(map(len, values), dtype=np.int32, count=len(values))
        offsets = np.zeros(len(values) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        items = [part for value in values for part in value]
        parents = np.repeat(np.arange(len(values)), lengths)

        def item_place(at: int) -> tuple[int, ...]:
            parent = int(parents[at])
            return (*place(parent), at - int(offsets[parent]))

        build_items = self.gather(item, kind.value_type, items, item_place)
        return lambda: pa.ListArray.from_arrays(pa.array(offsets), build_items(), type=kind)

    def _attrs(self, hint: Any, kind: pa.DataType, values: list[Any], place: Place) -> Build:
        builds = [
            self.gather(
                sub, kind.field(rank).type, list(map(attrgetter(name), values)), _then(place, rank)
            )
            for rank, (name, sub) in enumerate(_hints(hint).items())
        ]
        fields = [kind.field(rank) for rank in range(kind.num_fields)]
        return lambda: pa.StructArray.from_arrays([build() for build in builds], fields=fields)


def _field_place(rows: list[int], rank: int) -> Place:
    return lambda at: (rows[at], rank)


class ColumnarWriter:
    """Turns events into per-class record batches of at most ``page_rows`` rows.

    ``sink`` receives each full page as (class name, record batch) and the new ids as
    ("ids", record batch) before any page that refers to them.

    Events are encoded a batch at a time (``write_batch``; ``write_all`` cuts an iterable into
    batches): each class's columns are built from the batch's values in one call per column,
    not one Python call per event and field (which cost ~50 us an event: half a second for the
    10,000 events a live log appends). The result is what writing the events one at a time
    gives: the same pages, ids numbered in order of first appearance. A batch that fails
    (an event that is not one, a value its column cannot hold) leaves the writer as it was.
    """

    def __init__(
        self,
        sink: Callable[[str, pa.RecordBatch], None],
        *,
        page_rows: int = PAGE_ROWS_DEFAULT,
    ) -> None:
        if page_rows < 1:
            raise ValueError("page_rows must be positive")
        self.sink = sink
        self.page_rows = page_rows
        self.ids = IdIndex()
        self.seq = 0
        self._pending: dict[str, list[pa.RecordBatch]] = {}
        self._buffered: dict[str, int] = {}
        self._fields: dict[str, list[tuple[str, Any, pa.DataType]]] = {}
        for name, cls in EVENT_CLASSES.items():
            hints = _hints(cls)
            schema = SCHEMAS[name]
            self._fields[name] = [
                (field.name, hints[field.name], schema.field(field.name).type)
                for field in attrs.fields(cls)
            ]
            for field_name, hint, _kind in self._fields[name]:
                if _optional_holding_ids(hint):
                    raise TypeError(f"{name}.{field_name}: no batch encoding of its ids")

    def write(self, event: Event) -> None:
        self.write_batch((event,))

    def write_all(
        self, events: Iterable[Event], *, batch_events: int = BATCH_EVENTS_DEFAULT
    ) -> None:
        iterator = iter(events)
        while batch := list(itertools.islice(iterator, batch_events)):
            self.write_batch(batch)

    def write_batch(self, events: Sequence[Event]) -> None:
        """Encode ``events`` (in log order, numbered after the events written before)."""
        rows_of: dict[str, list[int]] = {}
        for at, event in enumerate(events):
            name = type(event).__name__
            rows = rows_of.get(name)
            if rows is None:
                if name not in EVENT_CLASSES:
                    raise TypeError(f"not an arledger event: {type(event)!r}")
                rows = rows_of[name] = []
            rows.append(at)
        ids = self.ids
        known = ids.count
        pending = len(ids.pending)
        try:
            gathered = _BatchColumns(ids)
            builds: dict[str, list[Build]] = {}
            for name, rows in rows_of.items():
                picked = [events[at] for at in rows]
                builds[name] = [
                    gathered.gather(
                        hint, kind, list(map(attrgetter(field), picked)), _field_place(rows, rank)
                    )
                    for rank, (field, hint, kind) in enumerate(self._fields[name])
                ]
            gathered.new.sort()
            for _place, key in gathered.new:
                if key not in ids.index:
                    ids.add(key)
            batches = {
                name: pa.record_batch(
                    [
                        pa.array(np.asarray(rows, np.int64) + (self.seq + 1)),
                        *(build() for build in builds[name]),
                    ],
                    schema=SCHEMAS[name],
                )
                for name, rows in rows_of.items()
            }
        except BaseException:
            for key in ids.pending[pending:]:
                ids.remove(key)
            del ids.pending[pending:]
            assert ids.count == known
            raise
        self.seq += len(events)
        for name, batch in batches.items():
            self._pending.setdefault(name, []).append(batch)
            self._buffered[name] = self._buffered.get(name, 0) + batch.num_rows
            if self._buffered[name] >= self.page_rows:
                self._flush(name, partial=False)

    def _flush(self, name: str, *, partial: bool) -> None:
        """Send the class's full pages (and, if ``partial``, the rows left after them)."""
        batches = self._pending.pop(name, [])
        self._buffered.pop(name, None)
        if not batches:
            return
        merged = batches[0] if len(batches) == 1 else pa.concat_batches(batches)
        rows = merged.num_rows
        sent = rows if partial else rows - rows % self.page_rows
        if sent:
            ids = self.ids.take_pending()
            if ids is not None:
                self.sink("ids", ids)
        for start in range(0, sent, self.page_rows):
            self.sink(name, merged.slice(start, min(self.page_rows, sent - start)))
        if sent < rows:
            self._pending[name] = [merged.slice(sent)]
            self._buffered[name] = rows - sent

    def close(self) -> None:
        """Flush every partial page."""
        for name in list(self._pending):
            self._flush(name, partial=True)
        ids = self.ids.take_pending()
        if ids is not None:
            self.sink("ids", ids)


class Pages:
    """Gathers each class's rows into pages of ``page_rows`` for the sink (the pages
    ``ColumnarWriter`` sends, from record batches already encoded)."""

    def __init__(self, sink: Callable[[str, pa.RecordBatch], None], page_rows: int) -> None:
        if page_rows < 1:
            raise ValueError("page_rows must be positive")
        self.sink = sink
        self.page_rows = page_rows
        self.pending: dict[str, list[pa.RecordBatch]] = {}
        self.rows: dict[str, int] = {}

    def emit(self, name: str, batch: pa.RecordBatch) -> None:
        self.sink(name, batch)
        self.rows[name] = self.rows.get(name, 0) + batch.num_rows

    def add(self, name: str, batch: pa.RecordBatch) -> None:
        pending = self.pending.setdefault(name, [])
        pending.append(batch)
        if sum(b.num_rows for b in pending) < self.page_rows:
            return
        merged = pa.concat_batches(pending)
        start = 0
        while merged.num_rows - start >= self.page_rows:
            self.emit(name, merged.slice(start, self.page_rows))
            start += self.page_rows
        self.pending[name] = [merged.slice(start)] if start < merged.num_rows else []

    def close(self) -> None:
        for name in SCHEMAS:
            pending = self.pending.pop(name, [])
            if pending:
                self.emit(name, pa.concat_batches(pending))


@attrs.frozen
class ColumnarLog:
    """The columnar log in memory: ``ids`` and one table per event class present."""

    ids: pa.Table
    tables: Mapping[str, pa.Table]

    @property
    def event_count(self) -> int:
        return sum(table.num_rows for table in self.tables.values())

    def between(self, after: int, upto: int) -> ColumnarLog:
        """The events with ``after < seq <= upto`` (the ids table shared): a batch of the log,
        as an incremental update takes it. Query-ready, with dictionaries of its own values in
        order of first appearance, as a log of just those events would have."""
        tables = {}
        for name, table in self.tables.items():
            part = table.filter(
                pc.and_(pc.greater(table["seq"], after), pc.less_equal(table["seq"], upto))
            )
            for column in DICTIONARY_COLUMNS[name]:
                index = part.schema.get_field_index(column)
                part = part.set_column(index, column, part.column(index).cast(pa.string()))
            tables[name] = query_ready(name, part)
        return ColumnarLog(ids=self.ids, tables=tables)

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes) + sum(int(table.nbytes) for table in self.tables.values())


class Collector:
    """A sink that keeps the pages in memory; ``log()`` is the columnar log they make."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.RecordBatch]] = {}

    def __call__(self, name: str, batch: pa.RecordBatch) -> None:
        self.batches.setdefault(name, []).append(batch)

    def log(self) -> ColumnarLog:
        ids = pa.Table.from_batches(self.batches.pop("ids", []), schema=IDS_SCHEMA)
        return ColumnarLog(
            ids=ids,
            tables={
                name: query_ready(name, pa.Table.from_batches(batches, schema=SCHEMAS[name]))
                for name, batches in self.batches.items()
            },
        )


def to_columnar(events: Iterable[Event], *, page_rows: int = PAGE_ROWS_DEFAULT) -> ColumnarLog:
    """The columnar form of a log (in memory)."""
    collector = Collector()
    writer = ColumnarWriter(collector, page_rows=page_rows)
    writer.write_all(events)
    writer.close()
    return collector.log()


def from_columnar(
    log: ColumnarLog,
    *,
    id_of: Callable[[int], UUID] | None = None,
    decoders: dict[type, dict[str, Callable[[Any], Any]]] | None = None,
) -> Iterator[Event]:
    """The events back, in log order (``seq``). ``id_of`` turns an id index into its UUID
    (default: a UUID made for every id of ``log.ids`` first; a caller decoding a few events of
    a large log passes a cached lookup instead). ``decoders``: the fields' decoders per class,
    kept there for the next call with the same ``id_of`` (one customer's query decodes a few
    events of each of many classes, and making the decoders cost more than that)."""
    if id_of is None:
        id_of = [UUID(bytes=raw) for raw in log.ids.column("id").to_pylist()].__getitem__
    streams = []
    for name, table in log.tables.items():
        cls = EVENT_CLASSES[name]
        if decoders is None:
            fields = _decoders(cls, id_of)
        else:
            fields = decoders.get(cls) or decoders.setdefault(cls, _decoders(cls, id_of))
        streams.append(_rows_of(cls, table, fields))
    for _seq, event in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield event


def _decoders(cls: type[Event], id_of: Callable[[int], UUID]) -> dict[str, Callable[[Any], Any]]:
    """Per field of ``cls``, its decoder."""
    hints = _hints(cls)
    return {f.name: _decoder(hints[f.name], id_of) for f in attrs.fields(cls)}


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _pylist(array: pa.Array) -> list[Any]:
    """``array.to_pylist()``, with dates and UTC microsecond timestamps made from their integers
    here: pyarrow makes each through a scalar, 3 and 12 microseconds a value (measured with
    pyarrow 26), which was most of the time a customer's events took to decode."""
    kind = array.type
    if pa.types.is_date32(kind):
        days = array.cast(pa.int32()).to_pylist()
        return [None if day is None else date.fromordinal(day + _EPOCH_ORDINAL) for day in days]
    if kind == TIMESTAMP:
        micros = array.cast(pa.int64()).to_pylist()
        return [None if m is None else _EPOCH + timedelta(microseconds=m) for m in micros]
    values: list[Any] = array.to_pylist()
    return values


def _rows_of(
    cls: type[Event], table: pa.Table, decoders: Mapping[str, Callable[[Any], Any]]
) -> Iterator[tuple[int, Event]]:
    """Decoded column by column (one conversion and one pass of its decoder per column), not
    row by row through a dict of each row's values."""
    names = [name for name in table.column_names if name != "seq"]
    for batch in table.to_batches():
        seqs = batch.column("seq").to_pylist()
        values = [list(map(decoders[name], _pylist(batch.column(name)))) for name in names]
        for seq, row in zip(seqs, zip(*values, strict=True), strict=True):
            yield seq, cls(**dict(zip(names, row, strict=True)))


# Parquet --------------------------------------------------------------------------------------

PARTIAL_MARKER: Final = ".arledger-export"
"""A file in every folder an export writes, and kept in the finished export: it marks the folder
as arledger's (an abandoned partial export may be deleted only if it has one), and an export
holds a lock on it (``flock``) for as long as it uses the folder, so that no other export
deletes a partial that a live process is writing, or an old export that one is replacing. The
lock dies with its process: a killed export's folder is free to clean."""

_OURS: Final = frozenset(
    {"manifest.json", PARTIAL_MARKER} | {f"{name}.parquet" for name in ("ids", *EVENT_CLASSES)}
)
"""Every name an export writes into its folder."""

EXPORT_FILE_MODE: Final = 0o600
"""The files of a new export: the whole ledger in plaintext, so its owner's only. The files
of an export that replaces another take the mode the other's manifest had."""


@attrs.define(kw_only=True, slots=False)
class ExportDirectoryError(ArledgerError, ValueError):
    """A folder an export may not replace: a file, the working folder, or a folder holding
    something else (``directory``)."""

    directory: str | None = None


def export_target(directory: Path) -> Path:
    """The folder an export to ``directory`` replaces, checked before any work is done.

    A symbolic link is followed (the link stays, the folder it names is replaced): the new
    export is written beside that folder, on its file system, and renamed into its place.
    The working folder and its ancestors are refused: replacing a folder means renaming it
    away, which cannot be done to the one a process works in (``export .`` used to do the
    whole export and then fail).
    """
    target = Path(os.path.realpath(directory))
    working = Path.cwd().resolve()
    if target == working or target in working.parents:
        raise ExportDirectoryError(
            f"{directory} is the working folder or holds it: an export replaces its folder, "
            "so name a folder of its own (for example export/); nothing was written",
            directory=str(directory),
        )
    _replaceable(target, shown=directory)
    return target


def _replaceable(directory: Path, *, shown: Path | None = None) -> None:
    """Refuse to replace anything but a finished or unfinished export of ours, or nothing."""
    name = shown if shown is not None else directory
    if not directory.exists():
        return
    if not directory.is_dir():
        raise ExportDirectoryError(f"{name} is a file, not a folder", directory=str(name))
    entries = {entry.name for entry in directory.iterdir()}
    if entries - _OURS:
        raise ExportDirectoryError(
            f"{name} holds files that are not an arledger export "
            f"({', '.join(sorted(entries - _OURS)[:3])}...); nothing was written: "
            "choose a new or empty folder",
            directory=str(name),
        )


def _lock(path: Path, *, wait: bool) -> int | None:
    """A descriptor of ``path`` holding its exclusive lock; None if another process holds it
    (``wait`` False) or the lock cannot be taken here (no ``flock``)."""
    if fcntl is None:
        return None
    descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _new_marker(folder: Path) -> int | None:
    """Create the folder's marker with its lock already held: written under another name,
    locked, then renamed (a rename keeps the file and its lock), so that no cleaner ever sees
    the marker unlocked while this process lives."""
    staged = folder / f"{PARTIAL_MARKER}.new"
    descriptor = os.open(staged, os.O_RDWR | os.O_CREAT | os.O_EXCL, EXPORT_FILE_MODE)
    try:
        if fcntl is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.rename(staged, folder / PARTIAL_MARKER)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _lock_export(folder: Path) -> int | None:
    """Lock an existing export (or empty folder) that is about to be replaced, creating its
    marker if it has none; waits while another export replaces it. Checked after locking that
    the marker is still the folder's (another export may have swapped it away meanwhile)."""
    marker = folder / PARTIAL_MARKER
    while True:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(marker, os.O_RDWR | os.O_CREAT | os.O_EXCL, EXPORT_FILE_MODE))
        descriptor = _lock(marker, wait=True)
        if descriptor is None:
            return None
        try:
            current = os.stat(marker, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        held = os.fstat(descriptor)
        if current is not None and (current.st_dev, current.st_ino) == (
            held.st_dev,
            held.st_ino,
        ):
            return descriptor
        os.close(descriptor)


def _release(descriptor: int | None) -> None:
    if descriptor is not None:
        os.close(descriptor)


def _remove_abandoned_partials(target: Path) -> None:
    """Delete the partial exports (``.<name>.partial-*``) of earlier exports to ``target`` that
    were killed or cut short: only folders holding an export's files and nothing else, with a
    marker no live export holds locked. Anything else named so is left as it is."""
    if fcntl is None:
        return  # no way to tell a live export's folder from an abandoned one: keep them all
    prefix = f".{target.name}.partial-"
    for folder in target.parent.iterdir():
        if not folder.name.startswith(prefix):
            continue
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            names = {entry.name for entry in folder.iterdir()}
            if PARTIAL_MARKER not in names or names - _OURS:
                continue
            descriptor = _lock(folder / PARTIAL_MARKER, wait=False)
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if descriptor is None:
            continue  # a live export is writing it, or replacing the export it holds
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(descriptor)


def _fsync(path: Path) -> None:
    """Force a file's or a folder's content (a folder's: its entries) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


RENAME_EXCHANGE: Final = 2
"""renameat2's flag swapping two existing entries atomically (Linux 3.15+)."""
AT_FDCWD: Final = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the system or file system cannot, and the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False  # a C library without renameat2 (glibc before 2.28, musl before 1.2.?)
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE):
        number = ctypes.get_errno()
        if number in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            return False
        raise OSError(number, os.strerror(number), str(first), None, str(second))
    return True


class ParquetSink:
    """Writes pages to a directory of Parquet files (one per class, row group per page).

    The files are written into a hidden folder beside ``directory`` (``.<name>.partial-*``)
    and swapped in only when ``close`` has finished them: an export that fails or is killed
    leaves the previous export as it was. Only a folder that is empty or holds an earlier
    export is replaced; anything else, and the working folder, are refused before writing. A
    symbolic link is followed: the folder it names is replaced and the link kept.

    Safety, in order: the next export deletes partial folders that killed exports left (see
    ``PARTIAL_MARKER``: never one a live export holds, never a folder holding anything else);
    every file is synced, then the manifest (written last: a folder without one is refused on
    read), then the folder; the swap is one atomic exchange of the two folders where Linux
    offers it (``renameat2``), else two renames with a moment between them when ``directory``
    does not exist (a reader then finds nothing, never a mix; an export killed there leaves
    the new export complete in ``.<name>.partial-*`` and the old one in
    ``.<name>.partial-*.previous``, both deleted by the next export); then the parent folder
    is synced, and the old export deleted. The folder keeps the mode it had (a new one is its
    owner's only) and the files the mode the old manifest had (new: 0600).
    Used as a context manager, it closes on success and aborts on an error.
    """

    def __init__(self, directory: Path, *, manifest_extra: Mapping[str, Any] | None = None) -> None:
        target = export_target(directory)
        self.directory = directory
        self.manifest_extra = dict(manifest_extra or {})
        """More keys for the manifest (a partition's place in a partitioned export); the
        reader ignores keys it does not know, so such an export reads as any other."""
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_partials(target)
        manifest = target / "manifest.json"
        self.file_mode = stat.S_IMODE(manifest.stat().st_mode) if manifest.exists() else None
        self.partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            self._marker: int | None = _new_marker(self.partial)
        except BaseException:
            shutil.rmtree(self.partial, ignore_errors=True)
            raise
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _new_file(self, name: str) -> Path:
        """An empty file of the export, created with its mode (writers then truncate it)."""
        path = self.partial / name
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, EXPORT_FILE_MODE))
        if self.file_mode is not None:
            path.chmod(self.file_mode)
        return path

    def __call__(self, name: str, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = pq.ParquetWriter(
                self._new_file(f"{name}.parquet"), batch.schema, compression="zstd"
            )
        writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
        self.rows[name] = self.rows.get(name, 0) + batch.num_rows

    def close(self) -> None:
        """Finish the files and put them in place of ``directory``."""
        try:
            for writer in self._writers.values():
                writer.close()
            if "ids" not in self.rows:
                pq.write_table(
                    pa.table({"id": pa.array([], pa.binary(16))}, schema=IDS_SCHEMA),
                    self._new_file("ids.parquet"),
                )
                self.rows["ids"] = 0
            for name in self.rows:
                _fsync(self.partial / f"{name}.parquet")
            # Written last: a directory without a manifest is an export that did not finish.
            manifest = self._new_file("manifest.json")
            manifest.write_text(
                json.dumps(
                    {**self.manifest_extra, "layout": LAYOUT_VERSION, "rows": self.rows},
                    indent=2,
                    sort_keys=True,
                )
            )
            _fsync(manifest)
            _fsync(self.partial)
            self._swap()
        except BaseException:
            self.abort()
            raise
        _release(self._marker)
        self._marker = None

    def _swap(self) -> None:
        target, partial = self.target, self.partial
        for _attempt in range(SWAP_ATTEMPTS_MAX):
            if not target.exists():
                try:
                    # Replaces nothing, or an empty folder that appeared meanwhile.
                    partial.rename(target)
                except OSError as error:
                    if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    continue  # another export put one there first: replace it as below
                _fsync(target.parent)
                return
            previous_lock = _lock_export(target)
            try:
                _replaceable(target, shown=self.directory)  # nothing else appeared meanwhile
                partial.chmod(stat.S_IMODE(target.stat().st_mode))
                if _exchange(partial, target):
                    old = partial  # the exchanged name now holds the old export
                else:
                    old = partial.with_name(f"{partial.name}.previous")
                    target.rename(old)
                    try:
                        partial.rename(target)
                    except BaseException:
                        old.rename(target)  # the old export back where it was
                        raise
                _fsync(target.parent)
                # The old export, still locked against cleaners; its deletion failing leaves
                # a folder the next export deletes, not a failed export.
                shutil.rmtree(old, ignore_errors=True)
            finally:
                _release(previous_lock)
            return
        raise ExportDirectoryError(
            f"{self.directory} kept changing while the export was put in its place; "
            "nothing was replaced",
            directory=str(self.directory),
        )

    def abort(self) -> None:
        """Drop what was written; ``directory`` stays as it was."""
        for writer in self._writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        # What the partial's name holds: this export's files, or after an exchange the old
        # export it replaced.
        shutil.rmtree(self.partial, ignore_errors=True)
        _release(self._marker)
        self._marker = None


SWAP_ATTEMPTS_MAX: Final = 3
"""Swaps tried when other exports to the same folder keep replacing it at the same moment."""


def write_parquet(
    events: Iterable[Event], directory: Path, *, page_rows: int = PAGE_ROWS_DEFAULT
) -> dict[str, int]:
    """Stream a log to Parquet; returns rows written per table."""
    with ParquetSink(directory) as sink:
        writer = ColumnarWriter(sink, page_rows=page_rows)
        writer.write_all(events)
        writer.close()
    return dict(sink.rows)


class IncompleteExportError(ValueError):
    """A Parquet directory without its manifest: the export did not finish."""


def read_text(filesystem: pafs.FileSystem, path: str) -> str | None:
    """The text of the file at ``path`` of ``filesystem`` (None: there is none)."""
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with filesystem.open_input_stream(path) as stream:
        return bytes(stream.read()).decode()


def read_parquet(
    directory: Path | str, *, filesystem: pafs.FileSystem | None = None
) -> ColumnarLog:
    """A columnar log from a directory written by ``write_parquet``: memory-mapped from a local
    folder, or read through ``filesystem`` (any pyarrow filesystem: S3, GCS, HDFS, or an fsspec
    one wrapped in ``pyarrow.fs.PyFileSystem(FSSpecHandler(...))``), ``directory`` being a path
    in it."""
    if filesystem is None:
        local = Path(directory)

        def text_of(name: str) -> str | None:
            path = local / name
            return path.read_text() if path.exists() else None

        def table_of(name: str) -> pa.Table:
            return pq.read_table(local / name, memory_map=True)

    else:
        root = str(directory).rstrip("/")

        def text_of(name: str) -> str | None:
            return read_text(filesystem, f"{root}/{name}")

        def table_of(name: str) -> pa.Table:
            return pq.read_table(f"{root}/{name}", filesystem=filesystem)

    text = text_of("manifest.json")
    if text is None:
        raise IncompleteExportError(f"{directory}: no manifest.json (export not finished?)")
    manifest = json.loads(text)
    if manifest.get("layout") != LAYOUT_VERSION:
        raise IncompleteExportError(
            f"{directory}: layout {manifest.get('layout')!r}, expected {LAYOUT_VERSION}"
        )
    tables = {}
    for name in manifest["rows"]:
        if name == "ids":
            continue
        if name not in SCHEMAS:
            raise IncompleteExportError(f"{directory}: unknown event table {name!r}")
        table = table_of(f"{name}.parquet")
        tables[name] = query_ready(name, conformed(name, table))
    ids = table_of("ids.parquet").combine_chunks()
    return ColumnarLog(ids=ids, tables=tables)


# NumPy columns for the fast path --------------------------------------------------------------

Columns = dict[str, dict[str, Any]]
"""Per class name, per column name: a NumPy array (or, for ``<name>.dictionary``, a tuple)."""


def _to_numpy(prefix: str, array: pa.Array | pa.ChunkedArray, out: dict[str, Any]) -> None:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    kind = array.type
    if pa.types.is_list(kind):
        offsets = array.offsets.to_numpy().astype(np.int64)
        out[f"{prefix}.offsets"] = offsets - offsets[0] if len(offsets) else offsets
        values = array.flatten()
        if pa.types.is_struct(values.type):
            for index in range(values.type.num_fields):
                child = values.type.field(index).name
                _to_numpy(f"{prefix}.{child}", values.field(index), out)
        else:
            _to_numpy(f"{prefix}.values", values, out)
        return
    if pa.types.is_date32(kind):
        days = array.cast(pa.int32())
        out[prefix] = days.fill_null(NULL_DATE).to_numpy()
        return
    if pa.types.is_timestamp(kind):
        out[prefix] = array.cast(pa.int64()).to_numpy()
        return
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        encoded = pc.dictionary_encode(array)
        out[prefix] = encoded.indices.cast(pa.int32()).to_numpy()
        out[f"{prefix}.dictionary"] = tuple(encoded.dictionary.to_pylist())
        return
    if pa.types.is_dictionary(kind):
        out[prefix] = array.indices.cast(pa.int32()).to_numpy(zero_copy_only=False)
        out[f"{prefix}.dictionary"] = tuple(array.dictionary.to_pylist())
        return
    if pa.types.is_integer(kind):
        if array.null_count:
            array = array.fill_null(NULL_INT)
        out[prefix] = array.to_numpy()
        return
    if pa.types.is_boolean(kind):
        out[prefix] = array.to_numpy(zero_copy_only=False)
        return
    raise TypeError(f"no NumPy form for column {prefix} of type {kind}")


COLUMN_SPARE_FRACTION: Final = 8
"""An extended column's buffer holds room for an eighth more rows (at least
``COLUMN_SPARE_ROWS``): new rows are written there, and the buffer is copied into a larger one
only once they fill it, so an append costs its own rows, not a copy of the whole column."""
COLUMN_SPARE_ROWS: Final = 4_096


def _extended(
    buffers: dict[str, np.ndarray] | None,
    key: str,
    values: np.ndarray,
    added: np.ndarray,
    *,
    cast: bool = False,
) -> np.ndarray:
    """``values`` followed by ``added`` (as ``np.concatenate`` gives them; as ``values``'s
    dtype if ``cast``).

    With ``buffers``: written into the spare room of the buffer ``values`` is a view of, when
    ``values`` is the very view handed out last (kept in ``buffers[key]``); views handed out
    earlier are shorter and never see the rows written past their end."""
    dtype = values.dtype if cast else np.result_type(values.dtype, added.dtype)
    if buffers is None or dtype != values.dtype:
        return np.concatenate([values, added]).astype(dtype, copy=False)
    used, total = len(values), len(values) + len(added)
    handed = buffers.get(key)
    buffer = None if handed is None or values is not handed else handed.base
    if not isinstance(buffer, np.ndarray) or buffer.dtype != values.dtype or len(buffer) < total:
        spare = max(COLUMN_SPARE_ROWS, total // COLUMN_SPARE_FRACTION)
        buffer = np.empty(total + spare, dtype=values.dtype)
        buffer[:used] = values
    buffer[used:total] = added
    view = buffers[key] = buffer[:total]
    return view


def append_columns(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    code_maps: dict[str, dict[Any, int]],
    buffers: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """``old`` followed by ``new`` (both ``columns`` of one class: ``new`` converted from the
    rows after ``old``'s), equal to converting all the rows at once.

    List offsets continue from ``old``'s last; dictionary codes are mapped into ``old``'s
    dictionary, values not yet in it appended in order of first appearance (as
    ``dictionary_encode`` orders them). ``code_maps`` keeps each dictionary's value -> code
    between calls (keyed by column), so a call costs the new rows and new values, plus copying
    the arrays; with ``buffers`` (kept by the caller between calls, keyed by column), the
    arrays grow in place past the rows handed out (``_extended``) and are copied only when
    their spare room is full."""
    result: dict[str, Any] = {}
    for key, values in old.items():
        if key.endswith(".dictionary"):
            continue
        added = new[key]
        if key.endswith(".offsets"):
            end = values[-1] if len(values) else 0
            result[key] = _extended(buffers, key, values, added[1:] + end) if len(values) else added
        elif f"{key}.dictionary" in old:
            dictionary = old[f"{key}.dictionary"]
            codes = code_maps.get(key)
            if codes is None or len(codes) != len(dictionary):
                codes = code_maps[key] = dict(zip(dictionary, range(len(dictionary)), strict=True))
            appended = []
            remap = np.empty(len(new[f"{key}.dictionary"]), dtype=np.int32)
            for at, value in enumerate(new[f"{key}.dictionary"]):
                code = codes.get(value)
                if code is None:
                    code = codes[value] = len(codes)
                    appended.append(value)
                remap[at] = code
            result[key] = _extended(buffers, key, values, remap[added], cast=True)
            # The same tuple when no value is new: what is kept for it (its ranks,
            # ``reports.dictionary_ranks``) still serves, and nothing is copied.
            result[f"{key}.dictionary"] = (*dictionary, *appended) if appended else dictionary
        else:
            result[key] = _extended(buffers, key, values, added)
    for values in result.values():
        if isinstance(values, np.ndarray):
            values.flags.writeable = False  # as Arrow's views: the kernels' compiled variants
    return result


def columns(log: ColumnarLog, select: Mapping[str, Iterable[str]] | None = None) -> Columns:
    """NumPy arrays per class and column (empty for classes absent from the log).

    ``select``: class name -> the columns wanted (a list column brings all its children);
    without it, every column of every class (string columns of unique values, such as invoice
    numbers, are costly to encode at scale: select what you need).
    """
    wanted: Mapping[str, Iterable[str] | None] = (
        dict.fromkeys(EVENT_CLASSES) if select is None else select
    )
    result: Columns = {}
    for name, column_names in wanted.items():
        table = log.tables.get(name)
        if table is None:
            table = SCHEMAS[name].empty_table()
        out: dict[str, Any] = {}
        for column_name in table.schema.names if column_names is None else column_names:
            _to_numpy(column_name, table.column(column_name), out)
        result[name] = out
    return result


def days(on: date) -> int:
    """A date as the fast path's int (days since 1970-01-01)."""
    return (on - EPOCH).days


def microseconds(at: datetime) -> int:
    """A recorded time as the fast path's int (microseconds since the epoch, UTC)."""
    if at.utcoffset() is None:
        raise ValueError(f"naive datetime: {at!r}")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
