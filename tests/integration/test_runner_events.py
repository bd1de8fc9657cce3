"""The runner's fast paths equal the slow ones they replace.

- ``EventDecoder`` gives the events ``CattrsMapper.to_domain_event`` gives, for every event
  type (Hypothesis-generated events) and for generated collections histories; it refuses naive
  timestamps, hands compressed logs to the mapper, and raises if the two ever disagree.
- Partitions dumped with msgspec load back equal, and partitions stored by earlier versions
  (cattrs unstructure, then ``json.dumps``) load equal too.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from cattrs.errors import ClassValidationError
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.persistence.serialization import CattrsMapper, make_converter
from arledger.adapters.read_models.runner import dump_partition, load_partition, partition_of
from arledger.adapters.read_models.runner_events import EventDecoder, RecorderEventReader, StoredRow
from arledger.domain.events import (
    ALL_EVENTS,
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    CollectionActionRecorded,
    CollectionOwnerChanged,
    CreditLineSet,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    DelinquencyDiagnosed,
    EscalationPolicyAdopted,
    Event,
    KeyContactSet,
    PaymentCalendarSet,
    PaymentTermsChanged,
    RiskRated,
    SupplyHeld,
    SupplyReleased,
)
from arledger.projections import ageing, portfolio
from arledger.projections.portfolio import PortfolioState
from tests.property.test_escalation_properties import Step, histories, run
from tests.strategies import EVENT_STRATEGIES, events


def memory_mapper() -> CattrsMapper:
    mapper = Ledger(env={"ARLEDGER_STORE": "memory"}).mapper
    assert isinstance(mapper, CattrsMapper)
    return mapper


MAPPER = memory_mapper()


def stored_rows(mapper: CattrsMapper, recorded: Sequence[Event]) -> list[StoredRow]:
    rows: list[StoredRow] = []
    for number, event in enumerate(recorded, start=1):
        stored = mapper.to_stored_event(event)
        rows.append(
            (
                number,
                str(stored.originator_id),
                stored.originator_version,
                stored.topic,
                stored.state,
            )
        )
    return rows


def _stored(row: StoredRow) -> StoredEvent:
    _, originator_id, originator_version, topic, state = row
    return StoredEvent(
        originator_id=originator_id, originator_version=originator_version, topic=topic, state=state
    )


@given(recorded=st.lists(events, min_size=1, max_size=12))
def test_the_decoder_gives_the_mappers_events_for_every_event_type(
    recorded: list[Event],
) -> None:
    rows = stored_rows(MAPPER, recorded)

    decoded = EventDecoder(MAPPER).decode(rows)

    assert recorded == decoded
    assert [MAPPER.to_domain_event(_stored(row)) for row in rows] == decoded


def test_every_event_type_has_a_strategy_here() -> None:
    assert set(ALL_EVENTS) == set(EVENT_STRATEGIES)


@given(history=histories)
def test_the_decoder_reads_a_recorded_collections_history_as_the_ledger_does(
    history: list[Step],
) -> None:
    ledger = run(history).ledger
    rows = RecorderEventReader(ledger.recorder).read(1, 10_000)

    decoded = EventDecoder(ledger.mapper).decode(rows)

    assert list(ledger.iter_events()) == decoded
    assert len(rows) == len(decoded)


@given(event=EVENT_STRATEGIES[RiskRated])
def test_a_naive_timestamp_is_refused_as_the_mapper_refuses_it(event: RiskRated) -> None:
    (row,) = stored_rows(MAPPER, [event])
    state = json.loads(row[4])
    state["timestamp"] = event.timestamp.replace(tzinfo=None).isoformat()
    naive: StoredRow = (*row[:4], json.dumps(state).encode())

    with pytest.raises(MapperDeserialisationError, match="naive"):
        EventDecoder(MAPPER).decode([naive])
    with pytest.raises(ClassValidationError):
        MAPPER.to_domain_event(_stored(naive))


@given(recorded=st.lists(events, min_size=1, max_size=5))
def test_a_compressed_log_is_decoded_by_the_mapper(recorded: list[Event]) -> None:
    compressing = CattrsMapper(transcoder=MAPPER.transcoder, compressor=zlib)
    rows = stored_rows(compressing, recorded)
    decoder = EventDecoder(compressing)

    decoded = decoder.decode(rows)

    assert not decoder.fast
    assert recorded == decoded


class DriftingMapper(CattrsMapper):
    """A mapper whose events differ from what the stored JSON says (as an upcast would)."""

    def to_domain_event(self, stored_event: Any) -> Any:
        event = super().to_domain_event(stored_event)
        return attrs.evolve(event, originator_version=event.originator_version + 1)


@given(event=events.filter(lambda event: getattr(type(event), "class_version", 1) == 1))
def test_a_decoder_that_disagrees_with_the_mapper_raises_instead_of_folding(event: Event) -> None:
    # A class above version 1 is decoded by the mapper itself: nothing to disagree with.
    drifting = DriftingMapper(transcoder=MAPPER.transcoder)
    rows = stored_rows(drifting, [event])

    with pytest.raises(AssertionError, match="differs from the ledger's mapper"):
        EventDecoder(drifting).decode(rows)


# Partitions -------------------------------------------------------------------------------------


def partitions(recorded: Sequence[Event]) -> dict[str, PortfolioState]:
    routes: dict[Any, str] = {}
    states: dict[str, PortfolioState] = {}
    for event in recorded:
        key, routed = partition_of(event, routes)
        if routed is not None:
            routes[routed] = key
        portfolio.fold(states.setdefault(key, portfolio.initial()), event)
    return states


LEGACY = make_converter()
for _cls in (
    PortfolioState,
    ageing.AgeingState,
    ageing.CustomerFacts,
    ageing.InvoiceFacts,
    portfolio.CustomerHistory,
    portfolio.Confirmation,
    portfolio.DisputeFacts,
    portfolio.PaymentFacts,
    portfolio.PromiseFacts,
    portfolio.ActionFacts,
    portfolio.DiagnosisFacts,
):
    attrs.resolve_types(_cls)


def legacy_dump(state: PortfolioState) -> str:
    """How partitions were stored before msgspec: cattrs unstructure, then json.dumps."""
    return json.dumps(LEGACY.unstructure(state), separators=(",", ":"))


CUSTOMER_EVENT_TYPES = (
    CreditLineSet,
    RiskRated,
    CustomerBlacklisted,
    CustomerCleared,
    PaymentTermsChanged,
    PaymentCalendarSet,
    CollectionOwnerChanged,
    KeyContactSet,
    SupplyHeld,
    SupplyReleased,
    BalanceConfirmationSent,
    BalanceConfirmationAcknowledged,
)


@st.composite
def customer_histories(draw: st.DrawFn) -> list[Event]:
    """One customer's account with every kind of customer fact, case facts and policies."""
    opened: CustomerAccountOpened = draw(EVENT_STRATEGIES[CustomerAccountOpened])
    customer_id = opened.originator_id
    facts = draw(st.lists(st.one_of(*(EVENT_STRATEGIES[t] for t in CUSTOMER_EVENT_TYPES))))
    cases = draw(
        st.lists(
            st.one_of(
                EVENT_STRATEGIES[CollectionActionRecorded], EVENT_STRATEGIES[DelinquencyDiagnosed]
            )
        )
    )
    policies = draw(st.lists(EVENT_STRATEGIES[EscalationPolicyAdopted], max_size=2))
    return [
        opened,
        *(attrs.evolve(fact, originator_id=customer_id) for fact in facts),
        *(attrs.evolve(case, customer_id=customer_id) for case in cases),
        *policies,
    ]


def assert_partitions_round_trip(recorded: Sequence[Event]) -> None:
    states = partitions(recorded)

    assert states
    for state in states.values():
        assert state == load_partition(dump_partition(state))
        assert state == load_partition(legacy_dump(state))


@given(recorded=customer_histories())
def test_partitions_with_every_customer_fact_load_back_equal(recorded: list[Event]) -> None:
    assert_partitions_round_trip(recorded)


@given(history=histories)
def test_partitions_of_collections_histories_load_back_equal(history: list[Step]) -> None:
    assert_partitions_round_trip(list(run(history).ledger.iter_events()))
