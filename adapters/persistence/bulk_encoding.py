"""Encoding events for the bulk write path: the stored state with msgspec, one encoder for all.

``CattrsMapper.to_stored_event`` unstructures an event into a dict field by field and then runs
``json.dumps`` over it, about 8 microseconds an event here. ``StateEncoder`` encodes the attrs
event straight to JSON with msgspec in C (about 0.5 microseconds) and cuts the envelope out of
the bytes. msgspec makes the decisions of ``adapters/persistence/serialization.py`` itself:
dates as ISO ``YYYY-MM-DD``, UUIDs as canonical strings, enums by value, Decimals as strings,
tuples as lists. Timestamps are ISO 8601 with offset too, though UTC is written ``Z`` rather than
``+00:00``, which ``datetime.fromisoformat`` and msgspec both read. Keys are in msgspec's order,
not sorted: the stored bytes differ from the mapper's, the events read back do not.

Invariant: for every event, ``ledger.mapper.to_domain_event`` of what ``StateEncoder`` stores
equals the event. Where msgspec would decide otherwise the mapper encodes instead: with a
cipher or compressor configured; for classes with a field msgspec treats differently (private
names, types the converter has no hook for, datetimes below the top level); for an event whose
timestamp has an offset in seconds (msgspec writes whole minutes) or whose text cannot be UTF-8
(a lone surrogate, which ``json.dumps`` escapes). Naive datetimes are refused, as the
converter's hook refuses them. The first event of each class an encoder sees is also decoded by
the mapper and compared, so that the two paths cannot drift apart unnoticed (as
``adapters.runner_events.EventDecoder`` does on reads).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeAlias
from uuid import UUID

import attrs
import msgspec
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from arledger.adapters.persistence.serialization import CattrsMapper
from arledger.domain.events import Event

Row: TypeAlias = tuple[UUID, int, str, bytes]
"""One event as the store keeps it: originator id, originator version, topic, state."""

_ID_KEY: Final = b'"originator_id":"'
_VERSION_KEY: Final = b'","originator_version":'
_UUID_TEXT_LENGTH: Final = 36
_COMMA: Final = ord(",")
_MINUTE: Final = timedelta(minutes=1)

_LEAF_TYPES: Final = frozenset({str, int, bool, date, UUID, Decimal, type(None)})
"""Types msgspec encodes as the converter's hooks do (``date`` exactly: a datetime is not one
here)."""


@attrs.frozen
class _Plan:
    """How the events of one class are encoded: its topic, the ``class_version`` key spliced into
    the state when above 1, and its top-level datetime fields (checked per event)."""

    topic: str
    head: bytes
    datetime_fields: tuple[str, ...]


class StateEncoder:
    """Events to rows whose state ``mapper.to_domain_event`` reads back equal."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self.fast = type(mapper) is CattrsMapper and not (mapper.compressor or mapper.cipher)
        self._encode = msgspec.json.Encoder().encode
        self._checked: set[type] = set()

    def rows(self, events: Sequence[Event]) -> list[Row]:
        """The events' rows, in order."""
        if not self.fast:
            return [self._by_mapper(event) for event in events]
        encode = self._encode
        checked = self._checked
        rows: list[Row] = []
        append = rows.append
        for event in events:
            cls = type(event)
            plan = _PLANS[cls] if cls in _PLANS else _plan(cls)
            if plan is None or not _timestamps_fit(event, plan.datetime_fields):
                append(self._by_mapper(event))
                continue
            try:
                encoded = encode(event)
            except UnicodeEncodeError:
                append(self._by_mapper(event))
                continue
            state = _without_envelope(encoded, event.originator_version)
            if plan.head:
                state = plan.head + state[1:] if len(state) > 2 else plan.head[:-1] + b"}"
            row = (event.originator_id, event.originator_version, plan.topic, state)
            if cls not in checked:
                self._check(row, event)
            append(row)
        return rows

    def _by_mapper(self, event: Event) -> Row:
        stored = self.mapper.to_stored_event(event)
        originator_id = stored.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(originator_id)
        return (originator_id, stored.originator_version, stored.topic, stored.state)

    def _check(self, row: Row, event: Event) -> None:
        originator_id, originator_version, topic, state = row
        stored = StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=state,
        )
        if self.mapper.to_domain_event(stored) != event:
            raise AssertionError(f"bulk encoding of {topic} does not read back equal")
        self._checked.add(type(event))


def _timestamps_fit(event: Event, names: tuple[str, ...]) -> bool:
    """Whether msgspec writes the event's datetimes as the converter would; raises on naive."""
    for name in names:
        value = getattr(event, name)
        if value is None or value.tzinfo is UTC:
            continue
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"refusing to store a naive datetime: {value!r}")
        if offset % _MINUTE:
            return False  # msgspec would drop the offset's seconds
    return True


def _without_envelope(encoded: bytes, originator_version: int) -> bytes:
    """The encoded event without its ``originator_id`` and ``originator_version`` keys.

    The store keeps both in columns and the mapper takes them from there. The id key is found by
    its text ``"originator_id":"``, which cannot occur inside a JSON string (a quote in a string
    is escaped) and which no nested value of an event has; the checks below make sure it is the
    envelope's id followed by its version.
    """
    start = encoded.find(_ID_KEY)
    version_at = start + len(_ID_KEY) + _UUID_TEXT_LENGTH
    digits_at = version_at + len(_VERSION_KEY)
    digits = b"%d" % originator_version
    stop = digits_at + len(digits)
    if (
        start < 1
        or encoded[version_at:digits_at] != _VERSION_KEY
        or encoded[digits_at:stop] != digits
    ):
        raise AssertionError(f"no envelope where expected in {encoded[:120]!r}")
    if encoded[stop] == _COMMA:
        return encoded[:start] + encoded[stop + 1 :]
    assert encoded[start - 1] == _COMMA, "the envelope is the only content"
    return encoded[: start - 1] + encoded[stop:]


_PLANS: Final[dict[type, _Plan | None]] = {}
"""Plans by class, made once per process (a plan depends on the class only)."""


def _plan(cls: type) -> _Plan | None:
    """The class's plan, or None when the mapper must encode its events; remembered."""
    plan = _PLANS[cls] = _make_plan(cls)
    return plan


def _make_plan(cls: type) -> _Plan | None:
    if not attrs.has(cls):
        return None
    hints = typing.get_type_hints(cls)
    datetime_fields: list[str] = []
    for field in attrs.fields(cls):
        hint = hints.get(field.name)
        if hint is None or field.name.startswith("_"):
            return None
        if datetime in _members(hint) and all(
            member in (datetime, type(None)) for member in _members(hint)
        ):
            datetime_fields.append(field.name)
        elif not _encodes_alike(hint):
            return None
    if "originator_id" not in hints or "originator_version" not in hints:
        return None
    class_version = getattr(cls, "class_version", 1)
    head = b'{"class_version":%d,' % class_version if class_version > 1 else b""
    return _Plan(topic=get_topic(cls), head=head, datetime_fields=tuple(datetime_fields))


def _members(hint: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``), or the type itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _encodes_alike(hint: Any, seen: frozenset[type] = frozenset()) -> bool:
    """Whether msgspec encodes values of ``hint`` as the converter's hooks and ``json.dumps``
    would; datetimes only count at the top level (see ``_timestamps_fit``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return all(_encodes_alike(member, seen) for member in typing.get_args(hint))
    if origin in (tuple, list):
        return all(_encodes_alike(arg, seen) for arg in typing.get_args(hint) if arg is not ...)
    if origin is dict:
        key, value = typing.get_args(hint)
        return key is str and _encodes_alike(value, seen)
    if not isinstance(hint, type):
        return False
    if hint in _LEAF_TYPES:
        return True
    if issubclass(hint, enum.Enum):
        return all(
            isinstance(member.value, str | int) and not isinstance(member.value, bool)
            for member in hint
        )
    if attrs.has(hint):
        if hint in seen:
            return True
        nested = typing.get_type_hints(hint)
        return all(
            not field.name.startswith("_") and _encodes_alike(nested[field.name], seen | {hint})
            for field in attrs.fields(hint)
        )
    return False
