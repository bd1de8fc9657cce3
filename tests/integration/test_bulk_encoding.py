"""The bulk write path's msgspec encoding (``adapters.bulk_encoding``) stores what the mapper would.

- For every event type (Hypothesis-generated events), what ``StateEncoder`` stores reads back
  equal through ``CattrsMapper.to_domain_event`` and the runner's ``EventDecoder``, and is the
  same JSON document the mapper stores, up to key order and how UTC is spelled.
- Naive timestamps are refused; what msgspec would write differently (an offset with seconds, a
  lone surrogate, a class with a field type the converter has no hook for) is left to the
  mapper, and so is a compressed log; a class at ``class_version`` 2 keeps its version.
- The first event of each class is checked against the mapper, so a drift raises.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import attrs
import msgspec
import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.persistence.bulk_encoding import Row, StateEncoder
from arledger.adapters.persistence.serialization import CattrsMapper
from arledger.adapters.read_models.runner_events import EventDecoder
from arledger.domain.events import (
    ALL_EVENTS,
    CustomerAccountOpened,
    Event,
    InvoiceAddedToAccount,
    PaymentTermsKind,
)
from tests.property.test_serialization import ReminderSent
from tests.strategies import EVENT_STRATEGIES, events

ORIGINATOR_ID = UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class RateQuoted(Event):
    """A test-only event with a float, which the converter has no hook for: msgspec and
    ``json.dumps`` may write floats differently, so the mapper encodes it."""

    rate: float


def mapper(**options: Any) -> CattrsMapper:
    return CattrsMapper(transcoder=JSONTranscoder(), **options)


def stored(row: Row) -> StoredEvent:
    originator_id, originator_version, topic, state = row
    return StoredEvent(
        originator_id=originator_id,
        originator_version=originator_version,
        topic=topic,
        state=state,
    )


def opened(**changes: Any) -> CustomerAccountOpened:
    event = CustomerAccountOpened(
        originator_id=ORIGINATOR_ID,
        originator_version=1,
        timestamp=AT,
        customer_code="C1",
        name="Customer C1",
        currency="EUR",
        collection_owner="Maria",
        terms_kind=PaymentTermsKind.NET,
        terms_days=30,
        opened_on=AT.date(),
    )
    return attrs.evolve(event, **changes)


def reads_back(event: Event, row: Row) -> None:
    """``row`` is ``event`` stored: the mapper and the runner's decoder both give it back."""
    the_mapper = mapper()
    assert (event.originator_id, event.originator_version) == row[:2]
    assert the_mapper.to_stored_event(event).topic == row[2]
    assert event == the_mapper.to_domain_event(stored(row))
    decoded = EventDecoder(the_mapper).decode(
        [(1, str(event.originator_id), event.originator_version, row[2], row[3])]
    )
    assert [event] == decoded


def same_document(event: Event, state: bytes) -> None:
    """``state`` is the mapper's JSON document for ``event``, up to key order and spelling UTC."""
    expected = json.loads(mapper().to_stored_event(event).state)
    actual = json.loads(state)
    assert datetime.fromisoformat(expected.pop("timestamp")) == datetime.fromisoformat(
        actual.pop("timestamp")
    )
    assert expected == actual


# Every event type -------------------------------------------------------------------------------


@given(data=st.data())
def test_every_event_type_is_stored_so_that_the_mapper_and_the_runner_read_it_back(
    data: st.DataObject,
) -> None:
    for event_type in ALL_EVENTS:
        event = data.draw(EVENT_STRATEGIES[event_type], label=event_type.__name__)

        [row] = StateEncoder(mapper()).rows([event])

        reads_back(event, row)
        same_document(event, row[3])


@given(st.lists(events, min_size=1, max_size=30))
def test_a_mix_of_events_is_stored_in_order_and_reads_back(batch: list[Event]) -> None:
    rows = StateEncoder(mapper()).rows(batch)

    assert len(batch) == len(rows)
    for event, row in zip(batch, rows, strict=True):
        reads_back(event, row)


def test_the_stored_state_holds_no_envelope_ids() -> None:
    event = InvoiceAddedToAccount(
        originator_id=ORIGINATOR_ID,
        originator_version=12,
        timestamp=AT,
        invoice_id=UUID("00000000-0000-4000-8000-000000000002"),
        invoice_number="INV-1",
    )

    [row] = StateEncoder(mapper()).rows([event])

    assert {
        "invoice_id": "00000000-0000-4000-8000-000000000002",
        "invoice_number": "INV-1",
        "timestamp": "2026-01-01T00:00:00Z",
    } == json.loads(row[3])


# Where the mapper decides -----------------------------------------------------------------------


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        StateEncoder(mapper()).rows([opened(timestamp=datetime(2026, 1, 1))])


def test_a_timestamp_with_an_offset_in_minutes_is_kept_and_one_in_seconds_goes_to_the_mapper() -> (
    None
):
    in_minutes = opened(timestamp=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5.5))))
    in_seconds = opened(
        timestamp=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1, seconds=15)))
    )

    rows = StateEncoder(mapper()).rows([in_minutes, in_seconds])

    assert '"2026-01-01T00:00:00+05:30"' in rows[0][3].decode()
    assert mapper().to_stored_event(in_seconds).state == rows[1][3]
    assert (
        in_seconds.timestamp.utcoffset()
        == mapper().to_domain_event(stored(rows[1])).timestamp.utcoffset()
    )


def test_text_that_is_not_utf8_goes_to_the_mapper() -> None:
    event = opened(name="half a pair \ud800")

    [row] = StateEncoder(mapper()).rows([event])

    assert mapper().to_stored_event(event).state == row[3]
    assert event == mapper().to_domain_event(stored(row))


def test_a_class_with_a_field_the_converter_has_no_hook_for_goes_to_the_mapper() -> None:
    event = RateQuoted(originator_id=ORIGINATOR_ID, originator_version=1, timestamp=AT, rate=0.1)

    [row] = StateEncoder(mapper()).rows([event])

    assert mapper().to_stored_event(event).state == row[3]


def test_a_compressed_log_is_encoded_by_the_mapper() -> None:
    compressing = mapper(compressor=zlib)
    event = opened()

    [row] = StateEncoder(compressing).rows([event])

    assert compressing.to_stored_event(event).state == row[3]
    assert event == compressing.to_domain_event(stored(row))


def test_a_class_above_version_1_is_stored_with_its_version() -> None:
    event = ReminderSent(
        originator_id=ORIGINATOR_ID,
        originator_version=3,
        timestamp=AT,
        channel="phone",
        terms_kind=PaymentTermsKind.INSTALMENTS,
    )

    [row] = StateEncoder(mapper()).rows([event])

    assert 2 == json.loads(row[3])["class_version"]
    assert event == mapper().to_domain_event(stored(row))
    same_document(event, row[3])


# The cross-check --------------------------------------------------------------------------------


def test_an_encoding_that_drifted_from_the_mappers_raises_on_the_first_event_of_a_class() -> None:
    encoder = StateEncoder(mapper())
    encode = msgspec.json.Encoder().encode
    encoder._encode = lambda event: encode(attrs.evolve(event, name=event.name + "!"))

    with pytest.raises(AssertionError, match="CustomerAccountOpened"):
        encoder.rows([opened()])


def test_each_class_is_checked_once_per_encoder() -> None:
    encoder = StateEncoder(mapper())
    checks: list[Event] = []
    check = encoder._check

    def counting(row: Row, event: Event) -> None:
        checks.append(event)
        check(row, event)

    encoder._check = counting  # type: ignore[method-assign]
    batch = [opened(originator_version=n) for n in range(1, 4)]

    encoder.rows(batch)
    encoder.rows(batch)

    assert [batch[0]] == checks
