"""The bulk write path (``arledger.adapters.persistence.bulk``): batches of whole units, on every
store.

Units are what a caller marks with ``Session.end_unit`` (an import's rows); a batch is one
transaction and never splits a unit. A conflict in a later batch keeps the earlier batches, and
doing the same work again records exactly the rest. What the fast mapping stores reads back
through the mapper as the events written (``test_bulk_encoding`` goes further), and ``prefetch``
gives the states lazy loading gives, without a read per aggregate.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from arledger.adapters.application.ledger import Ledger, Session
from arledger.adapters.ingest.importer import import_file, preset
from arledger.adapters.persistence import bulk
from arledger.domain import ids
from arledger.domain.errors import ConcurrencyError
from arledger.domain.events import Event, InvoiceIssued, PaymentAllocated, PaymentReceived
from arledger.domain.money import Money
from tests.integration.test_import_kill import write_ibm_file
from tests.strategies import events as any_events

OPENED_ON = date(2025, 1, 1)


def open_customers(session: Session, codes: Sequence[str]) -> None:
    for code in codes:
        session.open_account(
            customer_code=code,
            name=f"Customer {code}",
            currency="EUR",
            collection_owner="Maria",
            opened_on=OPENED_ON,
        )
        session.end_unit()


def settle_invoices(session: Session, numbers: Sequence[int], customer_code: str) -> None:
    """Per number an invoice and its settlement: one unit of five events, as an import row."""
    for number in numbers:
        session.issue_invoice(
            invoice_number=f"INV-{number}",
            customer_code=customer_code,
            amount=Money(1000 + number, "EUR"),
            issued_on=OPENED_ON,
        )
        session.receive_payment(
            bank_reference=f"PAY-{number}",
            payer_code=customer_code,
            amount=Money(1000 + number, "EUR"),
            value_on=OPENED_ON,
        )
        session.allocate_payment(
            bank_reference=f"PAY-{number}",
            allocations={f"INV-{number}": Money(1000 + number, "EUR")},
        )
        session.end_unit()


def keys(events: Sequence[Event]) -> list[tuple[Any, int]]:
    return [(event.originator_id, event.originator_version) for event in events]


@pytest.fixture
def memory_ledger(clock: Any) -> Ledger:
    return Ledger({"ARLEDGER_STORE": "memory"}, clock=clock)


# Units and batches ------------------------------------------------------------------------------


def test_pending_events_are_cut_into_units_only_where_marked(memory_ledger: Ledger) -> None:
    session = memory_ledger.session()
    open_customers(session, ["C1", "C2"])
    settle_invoices(session, [1, 2], "C1")

    units = bulk.pending_units(session)

    assert [1, 1, 5, 5] == [len(unit) for unit in units]
    assert session.pending == [event for unit in units for event in unit]


def test_events_nobody_marked_form_one_unit_so_they_are_written_in_one_transaction(
    memory_ledger: Ledger,
) -> None:
    setup = memory_ledger.session()
    open_customers(setup, ["C1"])
    setup.commit()
    session = memory_ledger.session()
    for number, amount_minor in (("INV-1", 500), ("INV-2", 700)):
        session.issue_invoice(
            invoice_number=number,
            customer_code="C1",
            amount=Money(amount_minor, "EUR"),
            issued_on=OPENED_ON,
        )

    units = bulk.pending_units(session)

    assert [4] == [len(unit) for unit in units]
    assert [4] == [len(batch) for batch in bulk.batches(units, events_per_batch=2)]


def test_a_batch_holds_whole_units_and_a_unit_larger_than_a_batch_goes_alone(
    memory_ledger: Ledger,
) -> None:
    session = memory_ledger.session()
    open_customers(session, ["C1", "C2", "C3"])
    settle_invoices(session, [1, 2, 3], "C1")

    sizes = [len(batch) for batch in bulk.batches(bulk.pending_units(session), 7)]

    assert [3, 5, 5, 5] == sizes


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        list(bulk.batches([], 0))


# Mapping ----------------------------------------------------------------------------------------


@given(st.lists(any_events, min_size=1, max_size=20))
def test_bulk_mapping_gives_stored_events_the_mapper_reads_back_as_the_events(
    events: list[Event],
) -> None:
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    by_mapper = [ledger.mapper.to_stored_event(event) for event in events]

    stored = bulk.to_stored_events(ledger, events)

    assert [envelope(s) for s in by_mapper] == [envelope(s) for s in stored]
    assert events == [ledger.mapper.to_domain_event(s) for s in stored]


def envelope(stored: StoredEvent) -> tuple[Any, int, str]:
    return (stored.originator_id, stored.originator_version, stored.topic)


# Writing on every store -------------------------------------------------------------------------


def test_write_pending_records_every_event_in_batches_and_reports_progress(
    store_env: dict[str, str], clock: Any
) -> None:
    ledger = Ledger(store_env, clock=clock)
    session = ledger.session()
    open_customers(session, ["C1", "C2"])
    settle_invoices(session, range(1, 21), "C1")
    settle_invoices(session, range(21, 31), "C2")
    pending = list(session.pending)
    progress: list[tuple[int, int]] = []

    written = bulk.write_pending(
        ledger, session, events_per_batch=12, progress=lambda *done: progress.append(done)
    )

    assert 152 == written == len(pending)
    assert pending == list(ledger.iter_events())
    assert [] == session.pending
    assert [(12, 152), (22, 152), (32, 152)] == progress[:3]
    assert (152, 152) == progress[-1]
    assert 15 == len(progress)  # two openings, then two rows a batch
    assert 0 == ledger.invoice("INV-30").open_minor


def test_a_conflict_in_a_later_batch_keeps_the_earlier_ones_and_redoing_records_the_rest(
    store_env: dict[str, str], clock: Any
) -> None:
    ledger = Ledger(store_env, clock=clock)
    setup = ledger.session()
    open_customers(setup, ["C1", "C2"])
    setup.commit()
    session = ledger.session()
    settle_invoices(session, [1], "C1")
    settle_invoices(session, [2, 3], "C2")
    # Another writer changes C2 after the session read it: its rows can no longer be written.
    ledger.change_owner(customer_code="C2", collection_owner="Li Wei", changed_on=OPENED_ON)

    with pytest.raises(bulk.PartialWriteError) as raised:
        bulk.write_pending(ledger, session, events_per_batch=5)

    assert issubclass(bulk.PartialWriteError, IntegrityError)  # what Ledger.run retries on
    assert (5, 15) == (raised.value.events_written, raised.value.events_total)
    invoices = [e.invoice_number for e in ledger.iter_events() if isinstance(e, InvoiceIssued)]
    assert ["INV-1"] == invoices
    assert 0 == ledger.invoice("INV-1").open_minor

    again = ledger.session()
    settle_invoices(again, [2, 3], "C2")  # the rows not recorded (the importer finds them)
    assert 10 == bulk.write_pending(ledger, again, events_per_batch=5)
    assert "Li Wei" == ledger.customer("C2").collection_owner
    assert [0, 0, 0] == [ledger.invoice(f"INV-{n}").open_minor for n in (1, 2, 3)]


# Prefetch ---------------------------------------------------------------------------------------


def test_prefetch_gives_the_states_lazy_loading_gives_and_marks_absent_ids(
    persistent_store_env: dict[str, str], clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(persistent_store_env, clock=clock)
    setup = ledger.session()
    open_customers(setup, ["C1", "C2"])
    settle_invoices(setup, [1, 2], "C1")
    setup.commit()
    customer_ids = [ids.customer_id(code) for code in ("C1", "C2", "C3")]
    invoice_ids = [ids.invoice_id(f"INV-{n}") for n in (1, 2, 3)]
    payment_ids = [ids.payment_id(f"PAY-{n}") for n in (1, 2, 3)]
    lazy = ledger.session()
    expected = (
        [lazy.customer_by_id(i) for i in customer_ids],
        [lazy.invoice_by_id(i) for i in invoice_ids],
        [lazy.payment(f"PAY-{n}") for n in (1, 2, 3)],
    )

    session = ledger.session()
    found = bulk.prefetch(
        session, customer_ids=customer_ids, invoice_ids=invoice_ids, payment_ids=payment_ids
    )

    assert 6 == found
    assert expected == (
        [session.customer_by_id(i) for i in customer_ids],
        [session.invoice_by_id(i) for i in invoice_ids],
        [session.payment_by_id(i) for i in payment_ids],
    )
    assert expected[0][2] is None
    # Deciding on prefetched keys reads nothing more from the store.
    monkeypatch.setattr(ledger.events, "get", _no_reads)
    settle_invoices(session, [3], "C2")
    open_customers(session, ["C3"])
    assert 6 == len(session.pending)


def _no_reads(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("prefetched: no read per aggregate expected")


# The import's write -----------------------------------------------------------------------------


def test_an_import_writes_each_row_whole_in_one_batch(
    tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ibm.csv"
    total_minor = write_ibm_file(path, rows=40, customers=6)
    ledger = Ledger(
        {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "l.db")}, clock=clock
    )
    monkeypatch.setattr(bulk, "EVENTS_PER_BATCH", 13)
    written: list[list[Event]] = []
    insert_events = bulk.insert_events

    def recording(ledger: Ledger, events: Sequence[Event]) -> None:
        written.append(list(events))
        insert_events(ledger, events)

    monkeypatch.setattr(bulk, "insert_events", recording)

    result = import_file(ledger, path, preset("ibm"))

    assert 6 + 40 * 5 == result.events_recorded == sum(len(batch) for batch in written)
    assert [6 + 5] + [10] * 19 + [5] == [len(batch) for batch in written]
    for batch in written:
        issued = {e.invoice_number for e in batch if isinstance(e, InvoiceIssued)}
        received = {e.bank_reference for e in batch if isinstance(e, PaymentReceived)}
        assert {f"SETTLE-{number}" for number in issued} == received
    allocated = [e for e in ledger.iter_events() if isinstance(e, PaymentAllocated)]
    assert total_minor == sum(e.amount_minor for e in allocated)


def test_an_import_cut_short_by_a_conflict_says_what_it_recorded_and_a_rerun_completes_it(
    tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ibm.csv"
    total_minor = write_ibm_file(path, rows=30, customers=3)
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "l.db")}
    ledger = Ledger(env, clock=clock)
    other = Ledger(env, clock=clock)
    monkeypatch.setattr(bulk, "EVENTS_PER_BATCH", 25)
    insert_events = bulk.insert_events
    batches_seen: list[int] = []

    def conflicting_before_the_third(ledger: Ledger, events: Sequence[Event]) -> None:
        batches_seen.append(len(events))
        if len(batches_seen) == 3:
            # A real second writer: it changes every customer the import is about to invoice.
            for code in ("K00000-KILL", "K00001-KILL", "K00002-KILL"):
                other.change_owner(
                    customer_code=code, collection_owner="Li Wei", changed_on=OPENED_ON
                )
        insert_events(ledger, events)

    monkeypatch.setattr(bulk, "insert_events", conflicting_before_the_third)

    with pytest.raises(ConcurrencyError) as raised:
        import_file(ledger, path, preset("ibm"))

    recorded = sum(batches_seen[:2])
    assert 3 + 30 * 5 > recorded > 0
    assert recorded == raised.value.events_recorded
    assert f"{recorded} of {3 + 30 * 5} events" in raised.value.message
    monkeypatch.setattr(bulk, "insert_events", insert_events)

    again = import_file(ledger, path, preset("ibm"))

    events = list(ledger.iter_events())
    assert 3 + 30 * 5 - recorded == again.events_recorded
    assert 3 + 30 * 5 + 3 == len(events)  # and the other writer's three changes
    invoiced = sum(e.amount_minor for e in events if isinstance(e, InvoiceIssued))
    allocated = sum(e.amount_minor for e in events if isinstance(e, PaymentAllocated))
    assert (total_minor, total_minor) == (invoiced, allocated)


# Progress ---------------------------------------------------------------------------------------


def test_the_progress_bar_counts_events_on_a_terminal_and_is_off_elsewhere() -> None:
    drawn = io.StringIO()
    terminal = Console(file=drawn, force_terminal=True, width=100)
    with bulk.progress_bar(terminal, "Importing ibm.csv") as progress:
        assert progress is not None
        progress(5_000, 20_000)
        progress(20_000, 20_000)
    written = io.StringIO()
    piped = Console(file=written)
    with bulk.progress_bar(piped, "Importing ibm.csv") as progress:
        assert progress is None

    assert "Importing ibm.csv" in drawn.getvalue()
    assert "" == written.getvalue()
