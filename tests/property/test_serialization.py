"""Every event type survives a round trip through ``CattrsMapper``; older versions upcast."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
import pytest
from cattrs.errors import ClassValidationError
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.persistence.serialization import CattrsMapper
from arledger.domain.events import (
    ALL_EVENTS,
    Event,
    InvoiceAddedToAccount,
    PaymentTermsKind,
)
from tests.strategies import EVENT_STRATEGIES, events

ORIGINATOR_ID = UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class ReminderSent(Event):
    """A test-only event at version 2: version 1 had no ``channel``, every reminder was a letter."""

    class_version = 2

    channel: str
    terms_kind: PaymentTermsKind

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["channel"] = "letter"


def mapper() -> CattrsMapper:
    return CattrsMapper(transcoder=JSONTranscoder())


def round_trip(event: Event) -> Any:
    return mapper().to_domain_event(mapper().to_stored_event(event))


def test_there_is_a_strategy_for_every_event_type() -> None:
    assert set(ALL_EVENTS) == set(EVENT_STRATEGIES)


@given(data=st.data())
def test_every_event_type_survives_a_round_trip(data: st.DataObject) -> None:
    covered: set[type[Event]] = set()
    for event_type in ALL_EVENTS:
        event = data.draw(EVENT_STRATEGIES[event_type], label=event_type.__name__)
        loaded = round_trip(event)
        assert type(event) is type(loaded)
        assert event == loaded
        covered.add(type(loaded))
    assert set(ALL_EVENTS) == covered


@given(event=events)
def test_any_mix_of_events_round_trips(event: Event) -> None:
    assert event == round_trip(event)


def test_the_stored_form_is_plain_json_without_the_envelope_ids() -> None:
    event = InvoiceAddedToAccount(
        originator_id=ORIGINATOR_ID,
        originator_version=3,
        timestamp=AT,
        invoice_id=UUID("00000000-0000-4000-8000-000000000002"),
        invoice_number="INV-1",
    )
    stored = mapper().to_stored_event(event)
    assert ORIGINATOR_ID == stored.originator_id
    assert 3 == stored.originator_version
    assert "arledger.domain.events:InvoiceAddedToAccount" == stored.topic
    assert {
        "invoice_id": "00000000-0000-4000-8000-000000000002",
        "invoice_number": "INV-1",
        "timestamp": "2026-01-01T00:00:00+00:00",
    } == json.loads(stored.state)


def test_a_naive_datetime_is_refused_on_store() -> None:
    event = InvoiceAddedToAccount(
        originator_id=ORIGINATOR_ID,
        originator_version=1,
        timestamp=datetime(2026, 1, 1),
        invoice_id=ORIGINATOR_ID,
        invoice_number="INV-1",
    )
    with pytest.raises(ValueError, match="naive"):
        mapper().to_stored_event(event)


def test_a_naive_datetime_is_refused_on_load() -> None:
    state = {
        "invoice_id": str(ORIGINATOR_ID),
        "invoice_number": "INV-1",
        "timestamp": "2026-01-01T00:00:00",
    }
    stored = StoredEvent(
        originator_id=ORIGINATOR_ID,
        originator_version=1,
        topic=get_topic(InvoiceAddedToAccount),
        state=json.dumps(state).encode(),
    )
    with pytest.raises(ClassValidationError) as raised:
        mapper().to_domain_event(stored)
    assert raised.group_contains(ValueError, match="naive")


def test_an_event_at_the_current_class_version_round_trips_with_its_version() -> None:
    event = ReminderSent(
        originator_id=ORIGINATOR_ID,
        originator_version=1,
        timestamp=AT,
        channel="phone",
        terms_kind=PaymentTermsKind.NET,
    )
    stored = mapper().to_stored_event(event)
    assert 2 == json.loads(stored.state)["class_version"]
    assert event == mapper().to_domain_event(stored)


def test_an_event_stored_under_an_older_class_version_is_upcast() -> None:
    version_1_state = {"timestamp": AT.isoformat(), "terms_kind": "instalments"}
    stored = StoredEvent(
        originator_id=ORIGINATOR_ID,
        originator_version=4,
        topic=get_topic(ReminderSent),
        state=json.dumps(version_1_state).encode(),
    )
    expected = ReminderSent(
        originator_id=ORIGINATOR_ID,
        originator_version=4,
        timestamp=AT,
        channel="letter",
        terms_kind=PaymentTermsKind.INSTALMENTS,
    )
    assert expected == mapper().to_domain_event(stored)
