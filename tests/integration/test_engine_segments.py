"""The query engine persists its columnar log off the query path, and a new process still loads
the segments plus the tail.

A query's refresh used to append the new events to the stored segments itself (at 1M invoices:
+178..+668 ms on the first query after 10,000 new events). Now the write runs on the engine's
persisting thread, from a snapshot of the log the refresh left; these tests hold it to that,
and to the segments it writes: each event stored once, loaded again by a new Ledger.
"""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arledger import Ledger, Money
from arledger.adapters.read_models import engine as engine_module
from arledger.adapters.read_models.columnar import append_columns
from arledger.adapters.read_models.engine import rows_after
from arledger.adapters.read_models.segments import Segment
from arledger.projections.ageing import AgeingGrouping

AS_OF = date(2025, 6, 30)
CURRENCY = "EUR"


def issue(ledger: Ledger, first: int, count: int) -> None:
    session = ledger.session()
    for n in range(first, first + count):
        session.issue_invoice(
            invoice_number=f"INV-{n}",
            customer_code="K-1",
            amount=Money(100_00 + n, CURRENCY),
            issued_on=date(2025, 1, 1 + n % 28),
        )
    session.commit()


def open_account(ledger: Ledger) -> None:
    ledger.open_account(
        "K-1", name="Kestrel", currency=CURRENCY, collection_owner="li", opened_on=date(2025, 1, 1)
    )


def open_ledger(path: Path) -> Ledger:
    return Ledger({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)})


def test_a_query_after_new_events_leaves_the_segment_write_to_another_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PERSIST_EVENTS_MIN", 5)
    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        issue(ledger, 0, 3)
        ledger.ageing(AS_OF)
        engine = ledger.query_engine()
        engine.log.wait_persisted()  # the first load's write (nothing was stored yet)
        first = engine.status()
        assert first["events"] == first["persisted"]

        segments = engine.log.segments
        assert segments is not None
        writes: list[tuple[str, int]] = []
        write = segments.write

        def recorded(segment: Segment, *, replace_all: bool = False) -> bool:
            writes.append((threading.current_thread().name, segment.first_event))
            return write(segment, replace_all=replace_all)

        monkeypatch.setattr(segments, "write", recorded)
        issue(ledger, 3, 10)
        expected = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        engine.log.wait_persisted()

        assert [name for name, _ in writes] != []
        assert threading.current_thread().name not in {name for name, _ in writes}
        assert [first["events"] + 1] == [first_event for _, first_event in writes]
        after = engine.status()
        assert after["events"] > first["events"]
        assert after["events"] == after["persisted"]

    with closing(open_ledger(path)) as again:
        engine = again.query_engine()
        assert 0 == engine.refresh()  # every event came from the segments, each once
        assert after["events"] == engine.status()["events"]
        assert expected == again.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)


def test_a_new_process_loads_the_segments_and_reads_the_tail_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer new events than the threshold stay in memory only: a new Ledger reads them from
    the store after the segments."""
    monkeypatch.setattr(engine_module, "PERSIST_EVENTS_MIN", 1_000)
    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        issue(ledger, 0, 3)
        ledger.ageing(AS_OF)
        ledger.query_engine().log.wait_persisted()
        persisted = ledger.query_engine().status()["persisted"]
        issue(ledger, 3, 4)
        expected = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        status = ledger.query_engine().status()
        assert persisted == status["persisted"] < status["events"]

    with closing(open_ledger(path)) as again:
        engine = again.query_engine()
        assert status["events"] - persisted == engine.refresh()
        assert expected == again.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)


@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    after=st.integers(0, 40),
)
@settings(max_examples=60)
def test_rows_after_slices_as_a_filter_on_seq_would(sizes: list[int], after: int) -> None:
    start = 1
    chunks: list[pa.RecordBatch] = []
    for size in sizes:
        seq = pa.array(range(start, start + 2 * size, 2), pa.int64())  # gaps: other classes
        value = pa.array(range(size), pa.int64())
        chunks.append(pa.record_batch({"seq": seq, "value": value}))
        start += 2 * size
    table = pa.Table.from_batches(chunks, schema=chunks[0].schema)

    expected: Any = table.filter(pc.greater(table["seq"], after))

    assert expected.to_pylist() == rows_after(table, after).to_pylist()


def test_new_events_extend_the_numpy_columns_of_every_class_list_columns_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InvoiceIssued (instalments) and PromiseMade (invoice_ids) have list columns, held as
    offsets and children: a refresh converts only their new rows, and the extended columns
    equal a fresh conversion of the whole log."""
    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        issue(ledger, 0, 5)
        ledger.make_promise(
            customer_code="K-1",
            promise_reference="P-1",
            amount=Money(50_00, CURRENCY),
            promised_on=date(2025, 2, 1),
            made_on=date(2025, 1, 20),
            contact="Ana",
            invoice_numbers=["INV-1"],
        )
        ledger.ageing(AS_OF)
        converted: list[tuple[str, int]] = []
        ready = engine_module.query_ready

        def recorded(name: str, table: pa.Table) -> pa.Table:
            converted.append((name, table.num_rows))
            return ready(name, table)

        monkeypatch.setattr(engine_module, "query_ready", recorded)
        issue(ledger, 5, 3)
        ledger.make_promise(
            customer_code="K-1",
            promise_reference="P-2",
            amount=Money(20_00, CURRENCY),
            promised_on=date(2025, 3, 1),
            made_on=date(2025, 2, 20),
            contact="Ana",
            invoice_numbers=["INV-6", "INV-7"],
        )
        extended = ledger.query_engine()._snapshot()[0]

        assert ("InvoiceIssued", 3) in converted
        assert ("PromiseMade", 1) in converted
        assert all(rows <= 3 for _name, rows in converted), converted
        assert 8 == len(extended["InvoiceIssued"]["amount_minor"])
        monkeypatch.setattr(engine_module, "query_ready", ready)
    with closing(open_ledger(path)) as again:
        fresh = again.query_engine()._snapshot()[0]
    assert fresh.keys() == extended.keys()
    for name, arrays in fresh.items():
        assert arrays.keys() == extended[name].keys(), name
        for key, values in arrays.items():
            if key.endswith(".dictionary"):
                assert values == extended[name][key], (name, key)
            else:
                assert values.tolist() == extended[name][key].tolist(), (name, key)


def test_segments_stream_one_at_a_time_up_to_a_break_in_the_chain(tmp_path: Path) -> None:
    """``SegmentStore.stream`` yields the chain as ``load`` lists it, from one read of the
    table (a segment removed while the stream is read does not tear it); a segment without its
    ``ids`` row ends the chain."""
    from arledger.adapters.read_models.segments import TABLE

    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        segments = ledger.query_engine().log.segments
        assert segments is not None
        for first in range(3):
            issue(ledger, first * 2, 2)
            ledger.query_engine().refresh()
            ledger.query_engine().persist()  # the first one was written on the engine's thread
        loaded = segments.load()
        assert len(loaded) == segments.count() == 3
        stream = segments.stream()
        first_segment = next(stream)
        assert first_segment.first_event == 1
        # Removed while the stream is read: the stream still yields the chain it began reading.
        with segments.connections.connection() as connection:
            connection.execute(
                f"DELETE FROM {TABLE} WHERE first_event = ? AND name = 'ids'",
                (loaded[2].first_event,),
            )
        rest = list(stream)
        assert [s.last_event for s in rest] == [loaded[1].last_event, loaded[2].last_event]
        # Read again: the chain ends before the segment without its ids.
        assert [s.first_event for s in segments.load()] == [s.first_event for s in loaded[:2]]
        assert all(
            a.tables.keys() == b.tables.keys()
            and all(a.tables[n].equals(b.tables[n]) for n in a.tables)
            for a, b in zip(segments.load(), loaded, strict=False)
        )


def test_segments_written_lz4_compressed_before_still_decode() -> None:
    """Segments are now written uncompressed (decoded without a copy); those a store holds
    from before, lz4-compressed Arrow IPC, decode to the same table."""
    from arledger.adapters.read_models.segments import decode_table, encode_table

    table = pa.table({"seq": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", None]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")
    ) as writer:
        writer.write_table(table)
    compressed = bytes(sink.getvalue())
    assert decode_table(compressed).equals(table)
    assert decode_table(encode_table(table)).equals(table)
    assert len(encode_table(table)) != len(compressed)


def test_a_table_of_many_batches_is_stored_as_one_and_loads_as_one_chunk_per_column() -> None:
    """The writer's pages are many batches; stored as they were, every new process copied the
    whole log into one chunk per column (``LiveLog._combine``). Stored as one batch, they load
    as one chunk, which the engine queries without a copy; the rows are the same."""
    from arledger.adapters.read_models.segments import decode_table, encode_table

    pages = [
        pa.record_batch({"seq": pa.array([n, n + 1], pa.int64()), "name": ["a", None]})
        for n in range(1, 20, 2)
    ]
    table = pa.Table.from_batches(pages)
    assert 10 == table.column("seq").num_chunks

    loaded = decode_table(encode_table(table))

    assert loaded.equals(table)
    assert [1, 1] == [column.num_chunks for column in loaded.columns]


def test_a_first_refresh_combines_segments_and_tail_and_event_at_finds_every_event(
    tmp_path: Path,
) -> None:
    """A new Ledger's first refresh leaves each class one chunk, the tail read from the store
    after the segments included (else its first query combines a second copy); and
    ``LiveLog._event_at`` names, for every event of a log extended since (several chunks a
    class), the originator and version a filter over every row finds."""
    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        issue(ledger, 0, 3)
        ledger.query_engine().persist()
    with closing(open_ledger(path)) as again:
        issue(again, 3, 2)
        log = again.query_engine().log
        again.query_engine().refresh()  # the first: the segments and the tail, combined
        # (the ids apart: combined on loading, the writer's index views them; the tail's are
        # a chunk of their own, which no query combines)
        assert all(t.column(0).num_chunks == 1 for n, t in log._raw.items() if n != "ids")
        issue(again, 5, 2)
        again.query_engine().refresh()  # appended as chunks of their own
        assert any(t.column("seq").num_chunks > 1 for n, t in log._raw.items() if n != "ids")
        for seq in range(1, log.events + 1):
            expected = [
                (
                    log.id_of(
                        table.filter(pc.equal(table["seq"], seq))["originator_id"][0].as_py()
                    ),
                    table.filter(pc.equal(table["seq"], seq))["originator_version"][0].as_py(),
                )
                for name, table in log._raw.items()
                if name != "ids" and pc.any(pc.equal(table["seq"], seq)).as_py()
            ]
            assert [log._event_at(seq)] == expected
        with pytest.raises(AssertionError):
            log._event_at(log.events + 1)


def test_extended_columns_grow_in_their_buffer_and_leave_earlier_views_as_they_were() -> None:
    """New rows are written past the end of the view handed out last (no copy of the column);
    a view handed out earlier never sees them, and extending an earlier view copies."""
    buffers: dict[str, np.ndarray] = {}
    start = {"amount_minor": np.arange(3, dtype=np.int64)}
    first = append_columns(start, {"amount_minor": np.array([3, 4])}, {}, buffers)
    second = append_columns(first, {"amount_minor": np.array([5])}, {}, buffers)
    assert np.shares_memory(first["amount_minor"], second["amount_minor"])
    assert [0, 1, 2, 3, 4] == first["amount_minor"].tolist()
    assert [0, 1, 2, 3, 4, 5] == second["amount_minor"].tolist()
    assert not second["amount_minor"].flags.writeable
    third = append_columns(first, {"amount_minor": np.array([9])}, {}, buffers)
    assert not np.shares_memory(second["amount_minor"], third["amount_minor"])
    assert [0, 1, 2, 3, 4, 5] == second["amount_minor"].tolist()
    assert [0, 1, 2, 3, 4, 9] == third["amount_minor"].tolist()
    assert np.int64 == third["amount_minor"].dtype


def test_segments_written_before_promises_had_tranches_still_load() -> None:
    """A segment's PromiseMade table from before ``tranches`` existed gets empty lists, the
    field's default (a store upgraded with persisted segments failed to load them)."""
    from arledger.adapters.read_models.columnar import SCHEMAS, conformed

    schema = SCHEMAS["PromiseMade"]
    old = pa.table(
        {field.name: pa.nulls(2, field.type) for field in schema if field.name != "tranches"}
    )
    table = conformed("PromiseMade", old)
    assert schema == table.schema
    assert [[], []] == table.column("tranches").to_pylist()


def test_a_loaded_log_sorts_its_id_index_at_load_and_new_events_find_their_ids(
    tmp_path: Path,
) -> None:
    """A new Ledger that loads segments makes its writer's id index then, on a thread of its
    own, viewing the loaded ids (no copy), so that the first refresh bringing events pays for
    them only; the new events of a known customer and invoice take their ids from it."""
    path = tmp_path / "ledger.db"
    with closing(open_ledger(path)) as ledger:
        open_account(ledger)
        issue(ledger, 0, 3)
        ledger.query_engine().persist()
    with closing(open_ledger(path)) as again:
        log = again.query_engine().log
        assert 0 == again.query_engine().refresh()
        assert log._writer is not None  # made on loading, before any new event
        restored = log._writer.ids
        assert len(restored._base) == log._raw["ids"].num_rows
        loaded = log._raw["ids"].column("id").chunk(0).buffers()[1]
        assert np.shares_memory(restored._base, np.frombuffer(loaded, np.uint8))
        ids_before = log._raw["ids"].num_rows
        issue(again, 3, 2)  # a known customer's invoices: only the new invoices' ids are new
        assert 0 < again.query_engine().refresh()
        customers = log._raw["InvoiceIssued"].column("customer_id").to_pylist()
        expected = again.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
    with closing(Ledger({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)})) as fresh:
        fresh.query_engine().log.segments = None  # the JSON log, read whole
        assert expected == fresh.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)

    assert 1 == len(set(customers))
    assert ids_before + 2 == log._raw["ids"].num_rows
