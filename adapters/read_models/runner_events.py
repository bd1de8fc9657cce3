"""Reading the event log for the projection runner: one query per batch, one decoder per class.

The runner's rebuild spends most of its time turning stored events back into domain events.
``CattrsMapper.to_domain_event`` parses each event's JSON into a dict and then dispatches the
converter field by field, about 6 microseconds an event here. ``EventDecoder`` gives the same
events (equal as attrs values) from the same stored bytes with msgspec, which parses JSON
straight into the attrs event class in C (dates, UUIDs, enums by value and nested attrs values
included, validators run), about 2 microseconds an event. The envelope the recorder keeps in
columns (originator id and version) is spliced into the JSON first, so that the class's own
required fields are checked by the decoder as the mapper's converter checks them.

Invariant: for every stored event, ``EventDecoder`` returns what ``ledger.mapper`` returns, or
raises. Where the two could differ the mapper decodes instead: with a cipher or compressor
configured, and for classes with ``class_version`` above 1 (stored forms may need upcasting).
The first event of each class a decoder sees is also decoded by the mapper and compared, so the
two paths cannot drift apart unnoticed (as ``adapters.bulk.to_stored_events`` does on writes).
Naive timestamps are refused, as the converter's hook refuses them. One difference is left:
msgspec ignores keys the class does not have, which the converter refuses; only the first event
of each class is checked for them (a newer writer's field would show there first).

``PostgresEventReader`` reads a batch of stored events with one binary query on the runner's
own connection, originator ids as text (the decoder needs text, not ``UUID`` objects), and is
about three times faster than ``select_notifications``, which builds a ``Notification`` per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol, TypeAlias

import msgspec
from eventsourcing.persistence import Mapper, MapperDeserialisationError, Notification
from eventsourcing.utils import resolve_topic

from arledger.domain.events import Event

StoredRow: TypeAlias = tuple[int, str, int, str, bytes]
"""One stored event as the runner reads it: notification id, originator id (as text),
originator version, topic, state. A plain tuple: psycopg builds it in C."""


class EventReader(Protocol):
    def read(self, start: int, limit: int) -> list[StoredRow]:
        """Up to ``limit`` stored events from notification id ``start`` on, in log order."""
        ...


class RecorderEventReader:
    """Any application recorder, through the library's ``select_notifications``."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def read(self, start: int, limit: int) -> list[StoredRow]:
        notifications: Sequence[Notification] = self.recorder.select_notifications(start, limit)
        return [
            (n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
            for n in notifications
        ]


class PostgresEventReader:
    """The ledger's PostgreSQL events table, each page read on a connection borrowed from
    ``connections`` (a pool's ``connection()`` context) for that read only."""

    def __init__(self, connections: Any, schema: str, table: str) -> None:
        from psycopg.sql import SQL, Identifier

        self.connections = connections
        self.statement = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM {}.{} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(schema), Identifier(table))

    def read(self, start: int, limit: int) -> list[StoredRow]:
        with self.connections.connection() as connection, connection.cursor(binary=True) as cursor:
            cursor.execute(self.statement, (start, limit), prepare=True)
            rows: list[StoredRow] = cursor.fetchall()
            return rows


_ENVELOPE: Final = b',"originator_id":"%s","originator_version":%d}'
"""Appended to the stored state (after its keys: msgspec keeps the last of duplicate keys, so
the envelope columns win, as they do in the mapper)."""


class EventDecoder:
    """Stored events to domain events, equal to what ``mapper.to_domain_event`` returns."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self.fast = not (mapper.cipher or mapper.compressor)
        # topic -> (class, its decoder, checked against the mapper yet); decoder None: mapper.
        # Class None: a record that is not a ledger event (``domain/idempotency.py``), skipped.
        self._by_topic: dict[str, tuple[type[Event] | None, msgspec.json.Decoder[Any] | None]] = {}
        self._checked: set[str] = set()

    def decode(self, rows: Sequence[StoredRow]) -> list[Event]:
        by_topic = self._by_topic
        events: list[Event] = []
        append = events.append
        for row in rows:
            _, originator_id, originator_version, topic, state = row
            known = by_topic.get(topic)
            if known is None:
                known = by_topic[topic] = self._decoder_for(topic)
            if known[0] is None:
                continue  # bookkeeping (an idempotency record), not an event of the ledger
            decoder = known[1]
            if decoder is None or len(state) < 3 or state[-1:] != b"}":
                append(self._by_mapper(row))
                continue
            tail = _ENVELOPE % (originator_id.encode(), originator_version)
            try:
                event = decoder.decode(state[:-1] + tail)
            except msgspec.DecodeError:
                # JSON msgspec does not read but the mapper does (a lone surrogate's escape,
                # an offset with seconds): the mapper decides, and raises if it cannot read it.
                append(self._by_mapper(row))
                continue
            if event.timestamp.tzinfo is None:
                raise MapperDeserialisationError(
                    f"naive timestamp in stored event {topic} {originator_id} v{originator_version}"
                )
            if topic not in self._checked:
                self._check(row, event)
            append(event)
        return events

    def _decoder_for(
        self, topic: str
    ) -> tuple[type[Event] | None, msgspec.json.Decoder[Any] | None]:
        cls: type[Any] = resolve_topic(topic)
        if not issubclass(cls, Event):
            return None, None
        if not self.fast or getattr(cls, "class_version", 1) != 1:
            return cls, None
        return cls, msgspec.json.Decoder(cls)

    def _by_mapper(self, row: StoredRow) -> Event:
        notification_id, originator_id, originator_version, topic, state = row
        event = self.mapper.to_domain_event(
            Notification(
                id=notification_id,
                originator_id=originator_id,
                originator_version=originator_version,
                topic=topic,
                state=state,
            )
        )
        assert isinstance(event, Event)
        return event

    def _check(self, row: StoredRow, event: Event) -> None:
        expected = self._by_mapper(row)
        if expected != event:
            raise AssertionError(f"decoding {row[3]} differs from the ledger's mapper")
        self._checked.add(row[3])
