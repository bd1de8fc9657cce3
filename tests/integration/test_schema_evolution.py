"""Schema evolution against real stores: older stored forms upcast, renamed classes still load.

Events stored years ago are never rewritten. A class that gained a field carries
``class_version`` and ``upcast_vN_vN+1``; a class that was renamed or moved keeps loading by
its old topic through ``arledger.adapters.persistence.serialization.OLD_TOPICS``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from arledger import Ledger, Money
from arledger.adapters.persistence import serialization
from arledger.domain import ids
from arledger.domain.events import Event, InvoiceIssued
from tests.conftest import FixedClock

AT = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class DunningLetterSent(Event):
    """Test-only event now at version 3: v1 had no channel (always a letter), v2 no language."""

    class_version = 3

    channel: str
    language: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["channel"] = "letter"

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["language"] = "zh"


def stored(event_id: Any, version: int, topic: str, state: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=event_id,
        originator_version=version,
        topic=topic,
        state=json.dumps(state).encode(),
    )


def test_an_event_stored_at_version_1_loads_through_both_upcasters(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    letter_id = ids.customer_id("letters")
    older_forms = [
        stored(letter_id, 1, get_topic(DunningLetterSent), {"timestamp": AT.isoformat()}),
        stored(
            letter_id,
            2,
            get_topic(DunningLetterSent),
            {"timestamp": AT.isoformat(), "channel": "email", "class_version": 2},
        ),
    ]
    ledger.recorder.insert_events(older_forms)

    reader = Ledger(env=persistent_store_env)  # kept: a dropped Application closes its pool
    loaded = list(reader.events.get(letter_id))

    assert [("letter", "zh"), ("email", "zh")] == [(e.channel, e.language) for e in loaded]
    assert all(isinstance(e, DunningLetterSent) for e in loaded)


def test_a_renamed_event_class_still_loads_by_its_old_topic(
    persistent_store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old_topic = "arledger.domain.events:InvoiceRaised"
    monkeypatch.setitem(serialization.OLD_TOPICS, old_topic, InvoiceIssued)
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    ledger.open_account(
        "OLD", name="Old Co", currency="USD", collection_owner="li", opened_on=date(2020, 1, 1)
    )
    invoice_id = ids.invoice_id("INV-2019-1")
    raised = {
        "timestamp": AT.isoformat(),
        "invoice_number": "INV-2019-1",
        "customer_id": str(ids.customer_id("OLD")),
        "amount_minor": 12345,
        "currency": "USD",
        "issued_on": "2020-01-10",
        "due_on": "2020-02-09",
        "instalments": [],
        "contract_reference": "",
    }
    ledger.recorder.insert_events([stored(invoice_id, 1, old_topic, raised)])

    invoice = Ledger(env=persistent_store_env).invoice("INV-2019-1")
    report = ledger.ageing(date(2020, 3, 1))

    assert Money(12345, "USD") == Money(invoice.open_minor, invoice.currency)
    assert date(2020, 2, 9) == invoice.due_on
    assert 12345 == report.rows[0].open_minor
