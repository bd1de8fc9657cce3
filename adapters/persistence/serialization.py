"""Serialization of the attrs events: one cattrs converter and an eventsourcing ``Mapper``.

Decisions written down once: enums are stored by value; dates as ISO ``YYYY-MM-DD``; datetimes
as ISO 8601 with offset and refused when naive; UUIDs as canonical strings; Decimals as strings.
Stored state is JSON, then the library's compressor and cipher when configured. An event class
with ``class_version = N`` upcasts older stored forms through ``upcast_vK_vK+1`` static methods;
a renamed or moved class keeps loading by registering its old topic in ``OLD_TOPICS``.
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import cattrs
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, register_topic, resolve_topic

from arledger.domain.events import ALL_EVENTS, Event

OLD_TOPICS: Final[dict[str, type[Event]]] = {}
"""Topics under which events were stored before a rename or move: old topic -> class."""


def _structure_datetime(value: Any, _type: type) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime) or parsed.utcoffset() is None:
        raise ValueError(f"naive or invalid datetime in stored event: {value!r}")
    return parsed


def _structure_date(value: Any, _type: type) -> date:
    if not isinstance(value, str):
        raise ValueError(f"date must be an ISO string, got {value!r}")
    return date.fromisoformat(value)


def _structure_uuid(value: Any, _type: type) -> UUID:
    # The envelope's id arrives as a UUID already (the recorder parsed it); fields as text.
    return value if isinstance(value, UUID) else UUID(value)


def _unstructure_datetime(value: datetime) -> str:
    if value.utcoffset() is None:
        raise ValueError(f"refusing to store a naive datetime: {value!r}")
    return value.isoformat()


def make_converter() -> cattrs.Converter:
    """The one converter for events: explicit hooks, nothing global."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, _structure_date)
    converter.register_unstructure_hook(UUID, str)
    converter.register_structure_hook(UUID, _structure_uuid)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda value, _t: Decimal(str(value)))
    converter.register_unstructure_hook(enum.Enum, lambda member: member.value)
    return converter


CONVERTER: Final = make_converter()


def register_event_topics() -> None:
    """Make old topics of renamed events resolve to their current classes."""
    for old_topic, cls in OLD_TOPICS.items():
        register_topic(old_topic, cls)


class CattrsMapper(Mapper[UUID]):
    """Maps attrs events to stored events and back through ``CONVERTER``.

    Keeps the library's pipeline (JSON, then compressor, then cipher), so compression and
    encryption configured by environment keep working.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        state = CONVERTER.unstructure(domain_event, cls)
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        stored_state = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=UUID(originator_id),
            originator_version=originator_version,
            topic=get_topic(cls),
            state=stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            state: dict[str, Any] = json.loads(stored_state)
        except Exception as error:
            raise MapperDeserialisationError(
                f"cannot read stored event {stored_event.topic} "
                f"{stored_event.originator_id} v{stored_event.originator_version}: {error}"
            ) from error
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return CONVERTER.structure(state, cls)


def event_types() -> tuple[type[Event], ...]:
    return ALL_EVENTS
