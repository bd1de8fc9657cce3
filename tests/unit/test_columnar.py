"""The columnar log: every event survives events -> Arrow/Parquet -> events; NumPy columns."""

from __future__ import annotations

import itertools
import json
import types
import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import attrs
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import (
    NULL_DATE,
    SCHEMAS,
    IncompleteExportError,
    columns,
    from_columnar,
    read_parquet,
    to_columnar,
    write_parquet,
)
from arledger.domain.events import (
    ALL_EVENTS,
    ActionChannel,
    CollectionActionRecorded,
    Event,
    Instalment,
    InvoiceIssued,
    PaymentApplied,
)
from tests.strategies import events

CUSTOMER = UUID("00000000-0000-4000-8000-0000000000c1")
INVOICE = UUID("00000000-0000-4000-8000-0000000000a1")
PAYMENT = UUID("00000000-0000-4000-8000-0000000000b1")
AT = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def issued(version: int = 1) -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=INVOICE,
        originator_version=version,
        timestamp=AT,
        invoice_number="INV-1",
        customer_id=CUSTOMER,
        amount_minor=1_000_00,
        currency="EUR",
        issued_on=date(2026, 1, 10),
        due_on=date(2026, 3, 10),
        instalments=(
            Instalment(due_on=date(2026, 2, 10), amount_minor=400_00),
            Instalment(due_on=date(2026, 3, 10), amount_minor=600_00),
        ),
    )


def applied() -> PaymentApplied:
    return PaymentApplied(
        originator_id=INVOICE,
        originator_version=2,
        timestamp=AT,
        payment_id=PAYMENT,
        amount_minor=250_00,
        currency="EUR",
        applied_on=date(2026, 2, 1),
    )


def test_every_event_class_has_a_schema_with_the_envelope_first() -> None:
    assert {cls.__name__ for cls in ALL_EVENTS} == set(SCHEMAS)
    for schema in SCHEMAS.values():
        assert ["seq", "originator_id", "originator_version", "timestamp"] == schema.names[:4]


@settings(max_examples=60)
@given(st.lists(events, max_size=40), st.integers(1, 7))
def test_any_log_survives_the_columnar_form_in_any_page_size(
    log: list[Event], page_rows: int
) -> None:
    columnar_log = to_columnar(log, page_rows=page_rows)

    assert log == list(from_columnar(columnar_log))
    assert len(log) == columnar_log.event_count


def test_ids_are_shared_indexes_in_order_of_first_appearance() -> None:
    log = to_columnar([issued(), applied()])

    ids = [UUID(bytes=raw) for raw in log.ids.column("id").to_pylist()]
    assert [INVOICE, CUSTOMER, PAYMENT] == ids
    cols = columns(log, {"InvoiceIssued": ["originator_id", "customer_id"]})
    assert [0] == cols["InvoiceIssued"]["originator_id"].tolist()
    assert [1] == cols["InvoiceIssued"]["customer_id"].tolist()


def test_numpy_columns_give_dates_as_days_lists_as_offsets_and_strings_as_codes() -> None:
    log = to_columnar([issued(), applied()])

    invoice = columns(log)["InvoiceIssued"]

    assert [columnar.days(date(2026, 1, 10))] == invoice["issued_on"].tolist()
    assert np.int32 == invoice["issued_on"].dtype
    assert [0, 2] == invoice["instalments.offsets"].tolist()
    assert [400_00, 600_00] == invoice["instalments.amount_minor"].tolist()
    assert [columnar.microseconds(AT)] == invoice["timestamp"].tolist()
    assert ("EUR",) == invoice["currency.dictionary"]
    assert [0] == invoice["currency"].tolist()
    assert [2] == columns(log)["PaymentApplied"]["seq"].tolist()


def test_absent_classes_give_empty_columns_and_null_dates_a_sentinel() -> None:
    action = CollectionActionRecorded(
        originator_id=CUSTOMER,
        originator_version=1,
        timestamp=AT,
        customer_id=CUSTOMER,
        channel=ActionChannel.PHONE,
        taken_on=date(2026, 3, 1),
        collector="ana",
        contact="bob",
        outcome="no answer",
    )
    cols = columns(to_columnar([action]))

    assert [NULL_DATE] == cols["CollectionActionRecorded"]["next_step_on"].tolist()
    assert 0 == len(cols["PaymentReversed"]["seq"])
    assert [0] == cols["PaymentReversed"]["released.offsets"].tolist()


def test_parquet_round_trip_in_pages(tmp_path: Path) -> None:
    log = [issued(), applied()]

    rows = write_parquet(log, tmp_path, page_rows=1)

    assert {"ids": 3, "InvoiceIssued": 1, "PaymentApplied": 1} == rows
    assert log == list(from_columnar(read_parquet(tmp_path)))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert columnar.LAYOUT_VERSION == manifest["layout"]


def test_an_unfinished_export_is_refused(tmp_path: Path) -> None:
    write_parquet([issued()], tmp_path)
    (tmp_path / "manifest.json").unlink()

    with pytest.raises(IncompleteExportError, match="manifest"):
        read_parquet(tmp_path)


def test_a_new_export_replaces_the_old_files(tmp_path: Path) -> None:
    write_parquet([issued(), applied()], tmp_path)

    write_parquet([issued()], tmp_path)

    assert not (tmp_path / "PaymentApplied.parquet").exists()
    assert [issued()] == list(from_columnar(read_parquet(tmp_path)))


def test_an_empty_log_exports_and_reads_back(tmp_path: Path) -> None:
    write_parquet([], tmp_path)

    log = read_parquet(tmp_path)

    assert 0 == log.event_count
    assert [] == list(from_columnar(log))


def test_not_an_event_is_refused() -> None:
    with pytest.raises(TypeError, match="not an arledger event"):
        to_columnar([object()])  # type: ignore[list-item]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        columnar.microseconds(datetime(2026, 1, 1))


def test_arrow_types_follow_the_field_types() -> None:
    schema = SCHEMAS["InvoiceIssued"]

    assert pa.int32() == schema.field("customer_id").type
    assert pa.date32() == schema.field("issued_on").type
    assert pa.int64() == schema.field("amount_minor").type
    assert pa.types.is_list(schema.field("instalments").type)
    assert SCHEMAS["CollectionActionRecorded"].field("next_step_on").nullable


def test_a_failed_export_leaves_the_previous_one_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "log"
    write_parquet([issued()], out)

    def failing() -> Iterator[Event]:
        yield issued()
        yield applied()
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_parquet(failing(), out, page_rows=1)

    assert [issued()] == list(from_columnar(read_parquet(out)))
    assert [out] == list(tmp_path.iterdir())  # the partial folder is gone


def test_an_export_written_before_allocation_keys_existed_reads_back_without_them(
    tmp_path: Path,
) -> None:
    # PaymentAllocated gained ``allocation_key`` (optional, default None): an export written
    # before has no such column, and must still read back, the key absent.
    import pyarrow.parquet as pq

    from arledger.domain.events import PaymentAllocated

    allocated = PaymentAllocated(
        originator_id=PAYMENT,
        originator_version=2,
        timestamp=AT,
        invoice_id=INVOICE,
        amount_minor=100_00,
        currency="EUR",
        allocated_on=date(2026, 2, 1),
    )
    keyed = attrs.evolve(allocated, originator_version=3, allocation_key="remit-7")
    directory = tmp_path / "export"
    write_parquet([issued(), allocated, keyed], directory)
    path = directory / "PaymentAllocated.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["allocation_key"]), path)

    old = list(from_columnar(read_parquet(directory)))

    assert [issued(), allocated, attrs.evolve(keyed, allocation_key=None)] == old
    selected = columns(read_parquet(directory), select={"PaymentAllocated": ["amount_minor"]})
    assert [100_00, 100_00] == selected["PaymentAllocated"]["amount_minor"].tolist()


# Batched writes -------------------------------------------------------------------------------


def _reference_pages(log: list[Event], page_rows: int) -> dict[str, list[pa.RecordBatch]]:
    """The pages writing ``log`` one event and one value at a time gives (the writer's first
    form, which ``ColumnarWriter`` must reproduce): ids numbered in order of first appearance,
    event by event, field by field, item by item."""
    ids = columnar.IdIndex()
    pages: dict[str, list[pa.RecordBatch]] = {}
    rows: dict[str, list[list[object]]] = {}

    def flush(name: str) -> None:
        values = rows.pop(name)
        schema = SCHEMAS[name]
        arrays = [
            pa.array(column, type=field.type) for column, field in zip(values, schema, strict=True)
        ]
        pending = ids.take_pending()
        if pending is not None:
            pages.setdefault("ids", []).append(pending)
        pages.setdefault(name, []).append(pa.record_batch(arrays, schema=schema))

    for seq, event in enumerate(log, start=1):
        name = type(event).__name__
        hints = columnar._hints(type(event))
        fields = [field.name for field in attrs.fields(type(event))]
        table = rows.setdefault(name, [[] for _ in range(len(fields) + 1)])
        table[0].append(seq)
        for column, field in zip(table[1:], fields, strict=True):
            column.append(columnar._encoder(hints[field], ids)(getattr(event, field)))
        if len(table[0]) >= page_rows:
            flush(name)
    for name in list(rows):
        flush(name)
    pending = ids.take_pending()
    if pending is not None:
        pages.setdefault("ids", []).append(pending)
    return pages


def _with_ids_from(event: Event, pool: list[UUID], pick: st.DataObject) -> Event:
    """``event`` with every id (nested ones too) drawn from ``pool``: ids recur across events,
    fields and items, as in a real log."""

    def replaced(hint: object, value: object) -> object:
        if value is None or not columnar._has_ids(hint):
            return value
        if hint is UUID:
            return pick.draw(st.sampled_from(pool))
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
            return replaced(inner, value)
        if origin is tuple:
            (item,) = typing.get_args(hint)[:1]
            return tuple(replaced(item, part) for part in value)  # type: ignore[attr-defined]
        if isinstance(hint, type) and attrs.has(hint):
            subs = columnar._hints(hint)
            return attrs.evolve(
                value, **{n: replaced(h, getattr(value, n)) for n, h in subs.items()}
            )  # type: ignore[misc]
        return value

    hints = columnar._hints(type(event))
    return attrs.evolve(
        event,
        **{
            f.name: replaced(hints[f.name], getattr(event, f.name))
            for f in attrs.fields(type(event))
        },
    )


@settings(max_examples=80)
@given(
    st.lists(events, max_size=40),
    st.lists(st.uuids(), min_size=1, max_size=6, unique=True),
    st.integers(1, 7),
    st.lists(st.integers(1, 12), min_size=1, max_size=8),
    st.data(),
)
def test_writing_in_batches_gives_the_pages_and_ids_of_writing_one_event_at_a_time(
    log: list[Event], pool: list[UUID], page_rows: int, cuts: list[int], pick: st.DataObject
) -> None:
    log = [_with_ids_from(event, pool, pick) for event in log]
    expected = _reference_pages(log, page_rows)
    pages: dict[str, list[pa.RecordBatch]] = {}
    writer = columnar.ColumnarWriter(
        lambda name, batch: pages.setdefault(name, []).append(batch), page_rows=page_rows
    )
    start = 0
    for size in itertools.cycle(cuts):
        if start >= len(log):
            break
        writer.write_batch(log[start : start + size])
        start += size
    writer.close()

    assert expected.keys() == pages.keys()
    for name, batches in expected.items():
        if name != "ids":  # ids come in batches of their own sizes, before the pages using them
            assert [b.num_rows for b in batches] == [b.num_rows for b in pages[name]], name
        assert pa.Table.from_batches(batches).equals(pa.Table.from_batches(pages[name])), name


def test_a_batch_that_fails_leaves_the_writer_as_it_was() -> None:
    pages: dict[str, list[pa.RecordBatch]] = {}
    writer = columnar.ColumnarWriter(lambda name, batch: pages.setdefault(name, []).append(batch))
    writer.write_batch([issued()])
    too_large = attrs.evolve(applied(), amount_minor=2**70)  # no int64 holds it
    other = UUID("00000000-0000-4000-8000-0000000000d1")

    with pytest.raises(OverflowError):
        writer.write_batch([attrs.evolve(applied(), payment_id=other), too_large])
    with pytest.raises(TypeError, match="not an arledger event"):
        writer.write_batch([applied(), object()])  # type: ignore[list-item]

    assert 1 == writer.seq
    assert [INVOICE.bytes, CUSTOMER.bytes] == writer.ids.pending
    writer.write_batch([applied()])
    writer.close()
    assert [issued(), applied()] == list(
        from_columnar(
            columnar.ColumnarLog(
                ids=pa.Table.from_batches(pages["ids"]),
                tables={n: pa.Table.from_batches(b) for n, b in pages.items() if n != "ids"},
            )
        )
    )
    assert [INVOICE, CUSTOMER, PAYMENT] == [
        UUID(bytes=raw) for raw in pa.Table.from_batches(pages["ids"])["id"].to_pylist()
    ]


def test_a_restored_id_index_numbers_known_ids_as_before_and_new_ones_after() -> None:
    """``IdIndex.restore`` keeps the restored ids in NumPy (sorted by their first 8 bytes):
    each is found at its index, ids sharing their first 8 bytes included, through ``find``,
    a call, and ``prefetch``; a new id is numbered after them, and removing it undoes that."""
    import numpy as np

    shared = b"\x01" * 8
    restored = [shared + b"\x00" * 8, bytes(range(16)), shared + b"\xff" * 8, b"\x09" * 16]
    ids = columnar.IdIndex()
    ids.restore(np.frombuffer(b"".join(restored), "V16"))
    assert [ids.find(key) for key in restored] == [0, 1, 2, 3]
    assert ids.find(shared + b"\x07" * 8) is None
    again = columnar.IdIndex()
    again.restore(np.frombuffer(b"".join(restored), "V16"))
    again.prefetch([restored[2], None, restored[0], shared + b"\x07" * 8])
    assert again.index == {restored[2]: 2, restored[0]: 0}
    new = UUID(bytes=shared + b"\x07" * 8)
    assert again(UUID(bytes=restored[3])) == 3
    assert again(new) == 4 == again.count - 1
    assert again.take_pending() is not None
    again.add(b"\x05" * 16)
    again.remove(b"\x05" * 16)
    assert again.count == 5 and again.find(b"\x05" * 16) is None
