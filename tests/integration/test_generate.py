"""Synthetic ledgers through the adapters: the domain commands, the stores and Parquet agree."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from eventsourcing.persistence import IntegrityError

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.columnar import read_parquet
from arledger.adapters.synthetic import generate
from arledger.domain.events import Event

SEED = 77


@pytest.fixture
def memory_ledger() -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=generate.recording_clock())
    try:
        yield ledger
    finally:
        ledger.close()


def test_the_domain_commands_record_exactly_the_generated_events(memory_ledger: Ledger) -> None:
    # Three chunks, so that ids, versions, seq and the clock carry over from chunk to chunk.
    expected = list(generate.events(600, SEED, chunk_customers=25))
    commands = generate.replay(memory_ledger, 600, SEED, chunk_customers=25)
    actual = list(memory_ledger.iter_events())
    assert len(expected) == len(actual)
    assert 600 * 3 < commands < len(expected)
    assert expected == actual


GOODS_SEED: Final = 8
"""A seed whose 400 invoices include settlements in goods (two: they are rare, defaulters being
2% of the customers)."""


def test_the_domain_commands_record_the_generated_settlements_in_goods(
    memory_ledger: Ledger,
) -> None:
    expected = list(generate.events(400, GOODS_SEED))
    generate.replay(memory_ledger, 400, GOODS_SEED)
    actual = list(memory_ledger.iter_events())
    settled = [e for e in expected if type(e).__name__ == "GoodsInLieuSettled"]
    assert settled
    assert expected == actual


def test_the_default_chunking_replays_to_the_same_events(memory_ledger: Ledger) -> None:
    expected = list(generate.events(300, SEED + 1))
    generate.replay(memory_ledger, 300, SEED + 1)
    assert expected == list(memory_ledger.iter_events())


def test_commands_name_only_public_ledger_methods() -> None:
    names = {command.name for command in generate.commands(300, SEED)}
    assert {"open_account", "issue_invoice", "receive_payment", "allocate_payment"} <= names
    assert all(callable(getattr(Ledger, name)) for name in names)


def store_ledger(env: dict[str, str]) -> Ledger:
    return Ledger(env, clock=generate.recording_clock(), read_models="replay")


def test_generate_to_store_writes_the_generated_events(store_env: dict[str, str]) -> None:
    expected = list(generate.events(1_200, SEED, chunk_customers=50))
    ledger = store_ledger(store_env)
    try:
        written = generate.generate_to_store(
            ledger, 1_200, SEED, chunk_customers=50, events_per_batch=997
        )
        actual = list(ledger.iter_events())
    finally:
        ledger.close()
    assert len(expected) == written
    assert expected == actual


@pytest.mark.parametrize("events_per_batch", [1, 101])
def test_a_batch_never_splits_a_command(
    monkeypatch: pytest.MonkeyPatch, events_per_batch: int
) -> None:
    from arledger.adapters.persistence import bulk

    batches: list[list[Event]] = []
    real = bulk.insert_events

    def spy(ledger: Ledger, events: list[Event]) -> None:
        batches.append(list(events))
        real(ledger, events)

    monkeypatch.setattr(bulk, "insert_events", spy)
    ledger = store_ledger({"ARLEDGER_STORE": "memory"})
    try:
        written = generate.generate_to_store(ledger, 300, SEED, events_per_batch=events_per_batch)
    finally:
        ledger.close()
    assert written == sum(len(batch) for batch in batches)
    assert len(batches) > 10
    # A command of several events (at most three: an upheld dispute with its credit note and
    # the note's registration) exceeds a batch of one: it is a batch of its own.
    assert all(len(batch) <= max(events_per_batch, 3) for batch in batches)
    for batch in batches:
        assert events_per_batch > 1 or len({event.timestamp for event in batch}) == 1
    for before, after in itertools.pairwise(batches):
        # The events of one command share a timestamp: a cut falls between two commands.
        assert before[-1].timestamp < after[0].timestamp


def test_generating_the_same_ledger_into_a_store_again_is_refused(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = store_ledger(env)
    try:
        generate.generate_to_store(ledger, 100, SEED)
        with pytest.raises(IntegrityError):
            generate.generate_to_store(ledger, 100, SEED)
        assert len(list(generate.events(100, SEED))) == len(list(ledger.iter_events()))
    finally:
        ledger.close()


def test_parquet_holds_the_same_ledger_byte_for_byte_per_seed(tmp_path: Path) -> None:
    rows = generate.generate_parquet(3_000, SEED, tmp_path / "a", chunk_customers=100)
    generate.generate_parquet(3_000, SEED, tmp_path / "b", chunk_customers=100)
    memory = generate.generate_columnar(3_000, SEED, chunk_customers=100)
    on_disk = read_parquet(tmp_path / "a")
    assert memory.ids.equals(on_disk.ids)
    assert sorted(memory.tables) == sorted(on_disk.tables)
    for name, table in memory.tables.items():
        assert table.equals(on_disk.tables[name]), name
        assert rows[name] == table.num_rows
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
    generate.generate_parquet(3_000, SEED + 1, tmp_path / "c", chunk_customers=100)
    issued = "InvoiceIssued.parquet"
    assert (tmp_path / "a" / issued).read_bytes() != (tmp_path / "c" / issued).read_bytes()
