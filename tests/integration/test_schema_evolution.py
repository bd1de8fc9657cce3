"""Schema evolution against real stores: older stored forms upcast, renamed classes still load.

Events stored years ago are never rewritten. A class that gained a field carries
``class_version`` and ``upcast_vN_vN+1``; a class that was renamed or moved keeps loading by
its old topic through ``arledger.adapters.persistence.serialization.OLD_TOPICS``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import attrs
import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic

from arledger import Ledger, Money
from arledger.adapters.persistence import serialization
from arledger.adapters.persistence.serialization import CONVERTER, CattrsMapper
from arledger.adapters.read_models.columnar import decode_policy
from arledger.adapters.read_models.runner import dump_partition, load_partition
from arledger.adapters.read_models.runner_events import EventDecoder
from arledger.domain import ids
from arledger.domain.events import (
    CreditNoteApplied,
    CustomerAccountOpened,
    EscalationPolicyAdopted,
    Event,
    InvoiceIssued,
    PaymentTermsKind,
)
from arledger.domain.policy import EscalationPolicy
from arledger.domain.policy_book import PolicyVersion
from arledger.projections import portfolio
from tests.conftest import FixedClock

AT = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
POLICY_ID = ids.policy_book_id()


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


# EscalationPolicyAdopted version 2: the policy's amount thresholds carry their unit -----------


def _policy_v1_state() -> dict[str, Any]:
    """A version 1 stored policy: what ``CattrsMapper`` wrote before the rename."""
    state: dict[str, Any] = CONVERTER.unstructure(
        EscalationPolicy(
            version=2, large_above_major=50_000, large_above_major_by_currency={"JPY": 7_000_000}
        )
    )
    state["large_above"] = state.pop("large_above_major")
    state["large_above_by_currency"] = state.pop("large_above_major_by_currency")
    return state


def _adopted_v1_row() -> tuple[int, str, int, str, bytes]:
    state = {
        "timestamp": AT.isoformat(),
        "policy": _policy_v1_state(),
        "effective_on": "2024-07-01",
        "approver": "cfo",
        "reason": "review",
    }
    return (1, str(POLICY_ID), 1, get_topic(EscalationPolicyAdopted), json.dumps(state).encode())


def test_a_policy_adopted_before_the_rename_loads_with_its_thresholds(
    persistent_store_env: dict[str, str],
) -> None:
    _, originator_id, version, topic, state = _adopted_v1_row()
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=UUID(originator_id),
                originator_version=version,
                topic=topic,
                state=state,
            )
        ]
    )

    reader = Ledger(env=persistent_store_env)  # kept: a dropped Application closes its pool
    (event,) = reader.events.get(POLICY_ID)

    assert 50_000 == event.policy.large_above_major
    assert {"JPY": 7_000_000} == event.policy.large_above_major_by_currency
    assert 7_000_000 == event.policy.large_above_minor("JPY")
    mapper = CattrsMapper(transcoder=JSONTranscoder())
    assert 2 == json.loads(mapper.to_stored_event(event).state)["class_version"]


def test_the_runners_decoder_upcasts_an_old_policy_through_the_mapper() -> None:
    decoder = EventDecoder(CattrsMapper(transcoder=JSONTranscoder()))

    (event,) = decoder.decode([_adopted_v1_row()])

    assert isinstance(event, EscalationPolicyAdopted)
    assert 50_000 == event.policy.large_above_major


def test_a_columnar_policy_written_before_the_rename_decodes() -> None:
    """Persisted segments hold the policy's JSON as it was written."""
    policy = decode_policy(json.dumps(_policy_v1_state()))

    assert 5_000_000 == policy.large_above_minor("USD")
    assert {"JPY": 7_000_000} == policy.large_above_major_by_currency


def test_a_read_model_partition_written_before_the_rename_keeps_its_policy() -> None:
    """msgspec would drop the unknown ``large_above`` and take the default: upcast instead."""
    state = portfolio.initial()
    adopted = EscalationPolicy(
        version=2, large_above_major=50_000, large_above_major_by_currency={"JPY": 7_000_000}
    )
    state.policy_versions.append(PolicyVersion(effective_on=date(2024, 7, 1), policy=adopted))
    text = dump_partition(state)
    old = text.replace('"large_above_major":', '"large_above":').replace(
        '"large_above_major_by_currency":', '"large_above_by_currency":'
    )
    assert old != text

    assert [adopted] == [v.policy for v in load_partition(old).policy_versions]
    assert [adopted] == [v.policy for v in load_partition(old.encode()).policy_versions]
    assert [adopted] == [v.policy for v in load_partition(text).policy_versions]


def test_a_read_model_partition_written_before_dated_calendars_keeps_its_calendar() -> None:
    """A partition stored one calendar per customer (``"calendar"``): it loads as a history of
    that one calendar from the account's opening (what queries assumed then), a customer
    without one as no history; msgspec alone would drop the key and forget the calendar."""
    state = portfolio.fold_all(
        [
            CustomerAccountOpened(
                originator_id=ids.customer_id("ACME"),
                originator_version=1,
                timestamp=AT,
                customer_code="ACME",
                name="Acme Ltd",
                currency="USD",
                collection_owner="li",
                opened_on=date(2024, 1, 1),
                terms_kind=PaymentTermsKind.NET,
                terms_days=30,
            ),
            CustomerAccountOpened(
                originator_id=ids.customer_id("BETA"),
                originator_version=1,
                timestamp=AT,
                customer_code="BETA",
                name="Beta",
                currency="USD",
                collection_owner="li",
                opened_on=date(2024, 2, 1),
                terms_kind=PaymentTermsKind.NET,
                terms_days=30,
            ),
        ]
    )
    text = dump_partition(state)
    stored = json.loads(text)
    for customer in stored["customers"].values():
        del customer["calendars"]
        customer["calendar"] = [25, [10, 31]] if customer["customer_code"] == "ACME" else [None, []]
    old = json.dumps(stored)

    loaded = load_partition(old)

    histories = {c.customer_code: c.calendars for c in loaded.customers.values()}
    assert {"ACME": [(date(2024, 1, 1), (25, (10, 31)))], "BETA": []} == histories
    assert histories == {
        c.customer_code: c.calendars for c in load_partition(old.encode()).customers.values()
    }
    assert {"ACME": [], "BETA": []} == {
        c.customer_code: c.calendars for c in load_partition(text).customers.values()
    }


# Approvers on reductions (issue 13.1): credit notes stored before they named one --------------


def test_a_credit_note_stored_without_an_approver_loads_and_is_reported_without_one(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    ledger.open_account(
        "OLD", name="Old Co", currency="USD", collection_owner="li", opened_on=date(2020, 1, 1)
    )
    ledger.issue_invoice(
        "INV-2019-2", customer_code="OLD", amount=Money(10_000, "USD"), issued_on=date(2020, 1, 10)
    )
    credited = {
        "timestamp": AT.isoformat(),
        "credit_note_number": "CN-2019",
        "amount_minor": 2_500,
        "currency": "USD",
        "applied_on": "2020-01-20",
        "reason": "goodwill",
    }
    invoice_id = ids.invoice_id("INV-2019-2")
    ledger.recorder.insert_events([stored(invoice_id, 2, get_topic(CreditNoteApplied), credited)])

    reader = Ledger(env=persistent_store_env)  # kept: a dropped Application closes its pool
    (row,) = reader.reductions(date(2020, 1, 1), date(2020, 12, 31)).rows

    assert 7_500 == reader.invoice("INV-2019-2").open_minor
    assert ("CN-2019", 2_500, None, None) == (
        row.reference,
        row.amount_minor,
        row.approver,
        row.second_approver,
    )
