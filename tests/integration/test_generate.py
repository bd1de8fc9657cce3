"""Synthetic ledgers through the adapters: the domain commands, the stores and Parquet agree."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Final
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.columnar import read_parquet
from arledger.adapters.synthetic import generate
from arledger.domain import approval, ids
from arledger.domain.approval import Authority, AuthorityVersion
from arledger.domain.events import (
    AuthorityPolicyAdopted,
    ConcessionApproved,
    CreditNoteApplied,
    Event,
    ExchangeRateRecorded,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceWrittenOff,
)

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


def test_a_book_of_another_seed_goes_into_the_same_store_leaving_its_books_as_found(
    tmp_path: Path,
) -> None:
    """The authority policy and the rate book are ledger-wide aggregates: a second generated
    book (as the engine benchmark writes its new events) must not record them again."""
    ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "two.db")})
    try:
        generate.generate_to_store(ledger, 100, SEED)
        books = [ids.authority_book_id(), ids.rate_book_id()]
        before = {book: list(ledger.events.get(book)) for book in books}
        assert all(before.values())
        written = generate.generate_to_store(ledger, 100, SEED + 1)
        assert {book: list(ledger.events.get(book)) for book in books} == before
        second = generate.generate_columnar(100, SEED + 1)
        shared = sum(
            second.tables[name].num_rows
            for name in ("AuthorityPolicyAdopted", "ExchangeRateRecorded")
        )
        assert 0 < shared
        assert second.event_count - shared == written
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


def test_the_generated_book_adopts_its_authority_policy_before_anything_else() -> None:
    events = list(generate.events(600, SEED, chunk_customers=25))

    first = events[0]
    assert isinstance(first, AuthorityPolicyAdopted)
    assert generate.authority_policy() == first.policy
    assert 1 == sum(isinstance(event, AuthorityPolicyAdopted) for event in events)
    # Every reduction is dated on or after the policy's effective date.
    assert first.effective_on < min(
        event.applied_on for event in events if isinstance(event, CreditNoteApplied)
    )


def test_the_generated_reductions_name_the_approvers_their_amounts_need() -> None:
    """Above the finance director's two-approver threshold the chief financial officer
    approves an upheld dispute's credit note alone and a write-off as the second approver;
    the collections manager grants the shorter postponements. Replayed through the ledger
    (the tests above) each is held to the policy; here, that the seeds used there hold each
    case."""
    approvers = {
        (type(event).__name__, event.approver, getattr(event, "second_approver", None))
        for seed, options in ((SEED, {"chunk_customers": 25}), (GOODS_SEED, {}))
        for event in generate.events(600 if seed == SEED else 400, seed, **options)
        if isinstance(event, CreditNoteApplied | InvoiceWrittenOff | InvoiceDueDateOverridden)
    }

    assert ("CreditNoteApplied", generate.SENIOR_APPROVER, None) in approvers
    assert ("InvoiceWrittenOff", generate.APPROVER, generate.SENIOR_APPROVER) in approvers
    assert ("InvoiceDueDateOverridden", generate.MANAGER_APPROVER, None) in approvers
    assert ("InvoiceDueDateOverridden", generate.APPROVER, None) in approvers


def test_a_larger_generated_book_stays_within_its_authority_policy() -> None:
    """The approval rule the ledger applies, run over every reduction of a 10,000-invoice book
    in log order with each role's earlier reductions of the customer in the month counted (as
    the ledger's handler does): none is refused."""
    policy = generate.authority_policy()
    events = list(generate.events(10_000, 5))
    adopted = events[0]
    assert isinstance(adopted, AuthorityPolicyAdopted)
    versions = [AuthorityVersion(effective_on=adopted.effective_on, policy=policy)]
    customer_of: dict[UUID, UUID] = {}
    earlier: dict[UUID, list[tuple[date, int, tuple[str, ...]]]] = {}
    checked = 0
    conceded = 0
    for event in events:
        if isinstance(event, InvoiceIssued):
            customer_of[event.originator_id] = event.customer_id
            continue
        if isinstance(event, CreditNoteApplied):
            on = event.applied_on
        elif isinstance(event, InvoiceWrittenOff):
            on = event.written_off_on
        elif isinstance(event, ConcessionApproved):
            on = event.approved_on
            conceded += 1
        else:
            continue
        names = approval.approvers_of(event.approver, event.second_approver)
        reductions = earlier.setdefault(customer_of[event.originator_id], [])
        approval.require_approval(
            Authority(
                policy=policy,
                approved_minor_by_role=approval.approved_in_period(reductions, versions, on),
            ),
            approvers=names,
            amount_minor=event.amount_minor,
            currency=event.currency,
            what=f"generated reduction of {event.originator_id}",
        )
        reductions.append((on, event.amount_minor, names))
        checked += 1
    assert checked > 100
    assert conceded > 10


def test_the_generated_book_records_monthly_rates_and_reads_in_cny(memory_ledger: Ledger) -> None:
    generate.replay(memory_ledger, 300, SEED + 1)
    rates = [e for e in memory_ledger.iter_events() if isinstance(e, ExchangeRateRecorded)]
    # Per pair: one at the book's start, then one on the 1st of each of the period's 24 months.
    assert 2 * (1 + 24) == len(rates)

    report = memory_ledger.ageing_in("CNY", generate.END_ON_DEFAULT)

    assert {("USD", date(2025, 12, 1)), ("EUR", date(2025, 12, 1))} == {
        (rate.from_currency, rate.effective_on) for rate in report.rates_used
    }
    assert report.per_currency == memory_ledger.ageing(generate.END_ON_DEFAULT)
