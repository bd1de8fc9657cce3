"""A customer-partitioned columnar log (issue 16, item 1): the fast path's portfolio answers per
partition, combined, equal the answers on the whole log, field by field; every customer's events
land in one partition; a missing or corrupt partition is an error naming it."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar, partitions
from arledger.adapters.read_models.partitions import (
    Partitioner,
    PartitionError,
    combined_ageing,
    combined_worklist,
    partition_of,
    policy_of,
    portfolio_answers,
    read_partition,
    read_partitions,
    write_partitioned,
    write_partitioned_log,
)
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.adapters.synthetic.generate import (
    END_ON_DEFAULT,
    generate_columnar,
    generate_partitioned,
    generate_to_store,
)
from arledger.domain import ids
from arledger.domain.events import (
    CustomerAccountOpened,
    EscalationPolicyAdopted,
    Event,
    InvoiceIssued,
    PaymentReceived,
)
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock
from tests.property.test_fast_path_differential import STRICTER

INVOICES = 1_500
README = Path(__file__).resolve().parents[2] / "README.md"
SEED = 20_261_207


@pytest.fixture(scope="module")
def events() -> list[Event]:
    """The generated ledger with a stricter policy version adopted half-way through the log
    (effective mid-period): shared books that every partition needs, placed among customers'
    events, so that each partition must keep them in their place in the log."""
    return with_policy(list(columnar.from_columnar(generate_columnar(INVOICES, SEED))))


def with_policy(generated: list[Event]) -> list[Event]:
    """``generated`` with STRICTER adopted half-way through it."""
    half = len(generated) // 2
    adopted = EscalationPolicyAdopted(
        originator_id=ids.policy_book_id(),
        originator_version=1,
        timestamp=generated[half - 1].timestamp,
        policy=STRICTER,
        effective_on=date(2025, 7, 1),
        approver="CFO",
        reason="review",
    )
    return [*generated[:half], adopted, *generated[half:]]


@pytest.fixture(scope="module")
def few(events: list[Event]) -> list[Event]:
    """A prefix of the log (a log itself): enough for the tests of refusals."""
    return events[: len(events) // 8]


@pytest.fixture(scope="module")
def whole(events: list[Event]) -> partitions.PortfolioAnswers:
    return portfolio_answers(columnar.to_columnar(events), END_ON_DEFAULT)


def test_the_hash_rule_is_stable_and_spreads_customers() -> None:
    # Fixed values: a change of rule (or a use of Python's salted hash()) fails here.
    customer = UUID("12345678-1234-5678-1234-567812345678")
    digest = int.from_bytes(hashlib.blake2b(customer.bytes, digest_size=8).digest(), "big")
    assert [0, 1, 1] == [digest % n for n in (1, 2, 7)]
    assert [0, 1, 1] == [partition_of(customer, n) for n in (1, 2, 7)]
    spread = Counter(partition_of(UUID(int=k * 7919 + 1), 7) for k in range(700))
    assert 7 == len(spread)
    assert 60 < min(spread.values())


@pytest.mark.parametrize("count", [1, 2, 7])
def test_partitioned_answers_combined_equal_the_whole_logs(
    tmp_path: Path, events: list[Event], whole: partitions.PortfolioAnswers, count: int
) -> None:
    # The comparison is not vacuous: several customers owe money, in several currencies, and
    # the worklist has customers at more than one level.
    assert 30 < len(whole.ageing_by_customer.rows)
    assert 2 < len(whole.ageing_by_currency.rows)
    assert 5 < len(whole.worklist.items)
    assert 1 < len({item.level for item in whole.worklist.items})
    assert STRICTER.version == whole.worklist.policy_version

    written = write_partitioned(events, tmp_path / "out", partitions=count)
    logs = read_partitions(tmp_path / "out")
    assert count == len(logs)
    assert [log.event_count for log in logs] == list(written.events)
    answers = [portfolio_answers(log, END_ON_DEFAULT) for log in logs]
    if count > 1:  # every partition holds some of the portfolio
        assert all(part.ageing_by_customer.rows for part in answers)

    by_customer = combined_ageing([part.ageing_by_customer for part in answers])
    by_currency = combined_ageing([part.ageing_by_currency for part in answers])
    policy = policy_of(logs[0], END_ON_DEFAULT)
    worklist = combined_worklist([part.worklist for part in answers], policy)
    assert whole.ageing_by_customer == by_customer
    assert whole.ageing_by_currency == by_currency
    assert whole.worklist.items == worklist.items
    assert whole.worklist == worklist


@pytest.mark.parametrize("count", [2, 7])
def test_every_customers_events_land_in_exactly_one_partition(
    tmp_path: Path, events: list[Event], count: int
) -> None:
    write_partitioned(events, tmp_path / "out", partitions=count)
    logs = read_partitions(tmp_path / "out")
    found = [list(columnar.from_columnar(log)) for log in logs]
    customers_in = [
        {event.originator_id for event in part if isinstance(event, CustomerAccountOpened)}
        for part in found
    ]
    customers = {e.originator_id for e in events if isinstance(e, CustomerAccountOpened)}
    assert sum(len(part) for part in customers_in) == len(customers)
    for index, part in enumerate(customers_in):
        assert all(partition_of(customer, count) == index for customer in part)

    # Each event is in one partition if a customer's, in all of them if the shared books';
    # nothing is lost or doubled, and each partition keeps the log's order.
    partitioner = Partitioner()
    owners = [partitioner.customer_of(event) for event in events]
    shared = [e for e, owner in zip(events, owners, strict=True) if owner is None]
    assert shared  # the escalation policies at least
    assert len(events) + (count - 1) * len(shared) == sum(len(part) for part in found)
    for index, part in enumerate(found):
        expected = [
            e
            for e, owner in zip(events, owners, strict=True)
            if owner is None or partition_of(owner, count) == index
        ]
        assert expected == part


def test_a_payment_names_its_payer_so_it_follows_the_payer(events: list[Event]) -> None:
    partitioner = Partitioner()
    for event in events:
        owner = partitioner.customer_of(event)
        if isinstance(event, PaymentReceived):
            assert event.payer_customer_id == owner


def test_a_missing_partition_is_an_error_naming_it(tmp_path: Path, few: list[Event]) -> None:
    out = tmp_path / "out"
    write_partitioned(few, out, partitions=3)
    (out / "part-00001-of-00003" / "manifest.json").unlink()
    with pytest.raises(PartitionError, match=r"partition 1 of 3 .*part-00001-of-00003") as error:
        read_partitions(out)
    assert 1 == error.value.partition
    read_partition(out, 0)  # the others still read
    for entry in (out / "part-00001-of-00003").iterdir():
        entry.unlink()
    (out / "part-00001-of-00003").rmdir()
    with pytest.raises(PartitionError, match=r"partition 1 of 3 .* is missing"):
        read_partitions(out)


def test_a_corrupt_partition_is_an_error_naming_it(tmp_path: Path, few: list[Event]) -> None:
    out = tmp_path / "out"
    write_partitioned(few, out, partitions=2)
    table = out / "part-00000-of-00002" / "InvoiceIssued.parquet"
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])
    with pytest.raises(PartitionError, match=r"partition 0 of 2 .*corrupt") as error:
        read_partitions(out)
    assert 0 == error.value.partition


def test_a_folder_mixing_two_exports_is_refused(tmp_path: Path, few: list[Event]) -> None:
    # Same count, same index: only the export's id in the manifests tells them apart.
    write_partitioned(few, tmp_path / "a", partitions=2)
    write_partitioned(few, tmp_path / "b", partitions=2)
    (tmp_path / "a" / "part-00001-of-00002").rename(tmp_path / "x")
    (tmp_path / "b" / "part-00001-of-00002").rename(tmp_path / "a" / "part-00001-of-00002")
    read_partition(tmp_path / "a", 0)
    with pytest.raises(PartitionError, match=r"partition 1 of 2 .*another export") as error:
        read_partitions(tmp_path / "a")
    assert 1 == error.value.partition


def test_an_unfinished_export_is_refused_and_a_rewrite_drops_old_partitions(
    tmp_path: Path, few: list[Event]
) -> None:
    out = tmp_path / "out"
    write_partitioned(few, out, partitions=7)
    write_partitioned(few, out, partitions=2)
    assert {"partitions.json", "part-00000-of-00002", "part-00001-of-00002"} == {
        entry.name for entry in out.iterdir()
    }
    (out / "partitions.json").rename(out / ".partitions.json.new")  # killed before its rename
    with pytest.raises(PartitionError, match=r"no partitions\.json"):
        read_partitions(out)
    write_partitioned(few, out, partitions=2)  # the next export finishes the folder
    assert 2 == len(read_partitions(out))


def test_a_folder_holding_other_files_is_refused_before_writing(
    tmp_path: Path, few: list[Event]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(columnar.ExportDirectoryError, match=r"notes\.txt"):
        write_partitioned(few, out, partitions=2)
    assert ["notes.txt"] == [entry.name for entry in out.iterdir()]
    with pytest.raises(PartitionError, match="1 to 4096"):
        write_partitioned(few, tmp_path / "new", partitions=0)


def test_each_partition_reads_as_an_ordinary_export(tmp_path: Path, few: list[Event]) -> None:
    write_partitioned(few, tmp_path / "out", partitions=2)
    manifest = json.loads((tmp_path / "out" / "part-00001-of-00002" / "manifest.json").read_text())
    top = json.loads((tmp_path / "out" / "partitions.json").read_text())
    assert {
        "count": 2,
        "index": 1,
        "hash": partitions.HASH_RULE,
        "export": top["export"],
    } == manifest["partition"]
    log = columnar.read_parquet(tmp_path / "out" / "part-00001-of-00002")
    assert 0 < log.event_count


def test_the_export_command_writes_partitions_that_hold_the_whole_log(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "export.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    record_demo(ledger, generate_demo(7, customers=12, invoices=150))
    recorded = list(ledger.iter_events())
    ledger.close()
    out = tmp_path / "log"

    result = CliRunner().invoke(app, ["export", str(out), "--partitions", "3"], env=env)

    assert 0 == result.exit_code, result.output
    assert "Exported 3 partition(s) by customer" in result.output
    logs = read_partitions(out)
    parts = [list(columnar.from_columnar(log)) for log in logs]
    partitioner = Partitioner()
    owners = [partitioner.customer_of(event) for event in recorded]
    for index, part in enumerate(parts):
        assert [
            e
            for e, owner in zip(recorded, owners, strict=True)
            if owner is None or partition_of(owner, 3) == index
        ] == part
    assert {e.originator_id for e in recorded} == {e.originator_id for p in parts for e in p}


def test_the_generate_command_writes_partitions_of_the_generated_ledger(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    result = CliRunner().invoke(
        app,
        [
            *("generate", "--invoices", "300", "--seed", "5", "--out", "parquet"),
            *("--directory", str(out), "--partitions", "3"),
        ],
    )

    assert 0 == result.exit_code, result.output
    assert "as 3 partition(s) by customer" in result.output
    generated = list(columnar.from_columnar(generate_columnar(300, 5)))
    partitioner = Partitioner()
    owners = [partitioner.customer_of(event) for event in generated]
    for index, log in enumerate(read_partitions(out)):
        assert [
            e
            for e, owner in zip(generated, owners, strict=True)
            if owner is None or partition_of(owner, 3) == index
        ] == list(columnar.from_columnar(log))


def test_generate_partitions_needs_a_parquet_directory(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "g.db")}
    result = CliRunner().invoke(app, ["generate", "--invoices", "10", "--partitions", "2"], env=env)

    assert 2 == result.exit_code
    assert "--partitions is for --out parquet" in result.output
    assert not (tmp_path / "g.db").exists()


def test_the_export_command_refuses_a_bad_partition_count_before_any_work(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "export.db")}
    result = CliRunner().invoke(app, ["export", str(tmp_path / "x"), "--partitions", "0"], env=env)

    assert 2 == result.exit_code
    assert not (tmp_path / "x").exists()


def test_the_readme_partition_example_runs_as_written(tmp_path: Path, monkeypatch: Any) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (example,) = [block for block in blocks if "write_partitioned(" in block]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}

    exec("from datetime import date\n" + example, namespace)

    assert 4 == len(namespace["answers"])
    assert namespace["by_currency"].rows
    assert namespace["combined"].items


def test_an_aggregate_naming_two_customers_is_refused_and_nothing_is_written(
    tmp_path: Path, few: list[Event]
) -> None:
    issued = next(e for e in few if isinstance(e, InvoiceIssued))
    other = next(
        e.originator_id
        for e in few
        if isinstance(e, CustomerAccountOpened) and e.originator_id != issued.customer_id
    )
    # The same invoice, named again for another customer: it cannot be in one partition.
    bad = attrs.evolve(issued, originator_version=issued.originator_version + 1, customer_id=other)
    out = tmp_path / "out"

    with pytest.raises(PartitionError, match=rf"aggregate {issued.originator_id}.*{other}"):
        write_partitioned([*few, bad], out, partitions=3)

    assert [] == list(out.iterdir())
    with pytest.raises(PartitionError, match=r"no partitions\.json"):
        read_partitions(out)


def test_a_logs_answers_are_the_query_engines() -> None:
    # portfolio_answers calls what QueryEngine.ageing and .worklist call, over a log instead of
    # a store's live one: this ties the two, so the differential above compares partitions
    # with the answers the Ledger gives.
    clock = FixedClock(datetime(2027, 1, 1, tzinfo=UTC))  # after the generator's own times
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=clock, read_models="stored")
    generate_to_store(ledger, 300, SEED)
    ledger.adopt_policy(
        policy=STRICTER, effective_on=date(2025, 7, 1), approver="CFO", reason="review"
    )
    answers = portfolio_answers(columnar.to_columnar(ledger.iter_events()), END_ON_DEFAULT)

    assert answers.worklist.items
    assert ledger.ageing(END_ON_DEFAULT, grouping=AgeingGrouping.CUSTOMER) == (
        answers.ageing_by_customer
    )
    assert ledger.ageing(END_ON_DEFAULT, grouping=AgeingGrouping.CURRENCY) == (
        answers.ageing_by_currency
    )
    assert ledger.worklist(END_ON_DEFAULT).items == answers.worklist.items
    ledger.close()


def test_partitions_without_customers_hold_the_shared_books_and_answer_nothing(
    tmp_path: Path,
) -> None:
    small = with_policy(list(columnar.from_columnar(generate_columnar(100, SEED))))
    customers = {e.originator_id for e in small if isinstance(e, CustomerAccountOpened)}
    count = len(customers) + 2  # two partitions at least have no customer
    whole = portfolio_answers(columnar.to_columnar(small), END_ON_DEFAULT)
    assert whole.ageing_by_customer.rows

    write_partitioned(small, tmp_path / "out", partitions=count)
    logs = read_partitions(tmp_path / "out")
    answers = [portfolio_answers(log, END_ON_DEFAULT) for log in logs]

    empty = [a for a in answers if not a.ageing_by_customer.rows]
    assert empty
    assert all(STRICTER.version == a.worklist.policy_version for a in answers)
    assert whole.ageing_by_customer == combined_ageing([a.ageing_by_customer for a in answers])
    assert whole.ageing_by_currency == combined_ageing([a.ageing_by_currency for a in answers])
    policy = policy_of(logs[0], END_ON_DEFAULT)
    assert whole.worklist == combined_worklist([a.worklist for a in answers], policy)


# The columnar way (write_partitioned_columns): the same partitions without decoding an event --


def same_partitions(expected: Path, actual: Path) -> None:
    """Two partitioned exports hold the same partitions: per partition the same ids table,
    tables (every column, in order) and manifest (the export's own random id aside)."""
    count = partitions.partition_count(expected)
    assert count == partitions.partition_count(actual)
    top = [json.loads((where / "partitions.json").read_text()) for where in (expected, actual)]
    assert {**top[0], "export": None} == {**top[1], "export": None}
    for index in range(count):
        want, got = read_partition(expected, index), read_partition(actual, index)
        assert want.ids.num_rows == got.ids.num_rows
        assert want.ids.equals(got.ids), f"partition {index}: ids"
        assert sorted(want.tables) == sorted(got.tables)
        for name, table in want.tables.items():
            assert table.num_rows == got.tables[name].num_rows, f"partition {index}: {name}"
            assert table.equals(got.tables[name], check_metadata=True), f"{index}: {name}"
        folder = partitions.partition_folder(index, count)
        manifests = [
            json.loads((where / folder / "manifest.json").read_text())
            for where in (expected, actual)
        ]
        for manifest in manifests:
            manifest["partition"]["export"] = None
        assert manifests[0] == manifests[1]


@pytest.mark.parametrize("count", [1, 3, 7])
def test_the_generator_cuts_its_columns_as_the_events_would_be_cut(
    tmp_path: Path, count: int
) -> None:
    # Small chunks: several slices, so that each partition's seq and ids continue from one
    # slice to the next.
    generate_partitioned(600, SEED, tmp_path / "columns", partitions=count, chunk_customers=7)
    log = generate_columnar(600, SEED, chunk_customers=7)
    write_partitioned(columnar.from_columnar(log), tmp_path / "events", partitions=count)

    same_partitions(tmp_path / "events", tmp_path / "columns")
    assert 1 < len(read_partitions(tmp_path / "columns")[0].tables)


@pytest.mark.parametrize("count", [2, 7])
def test_a_log_with_shared_books_is_cut_in_columns_as_its_events(
    tmp_path: Path, events: list[Event], count: int
) -> None:
    # The shared books (a policy adopted half-way) go to every partition in their place, and
    # a log read back (dictionary-encoded columns) is cut as one made in memory.
    write_partitioned(events, tmp_path / "events", partitions=count)
    write_partitioned_log(columnar.to_columnar(events), tmp_path / "columns", partitions=count)
    same_partitions(tmp_path / "events", tmp_path / "columns")

    whole = columnar.read_parquet(tmp_path / "events" / partitions.partition_folder(0, count))
    write_partitioned_log(whole, tmp_path / "again", partitions=count)
    write_partitioned(columnar.from_columnar(whole), tmp_path / "again-events", partitions=count)
    same_partitions(tmp_path / "again-events", tmp_path / "again")


def test_the_columnar_way_refuses_an_aggregate_naming_two_customers_as_the_event_way(
    tmp_path: Path, few: list[Event]
) -> None:
    issued = next(e for e in few if isinstance(e, InvoiceIssued))
    other = next(
        e.originator_id
        for e in few
        if isinstance(e, CustomerAccountOpened) and e.originator_id != issued.customer_id
    )
    bad = attrs.evolve(issued, originator_version=issued.originator_version + 1, customer_id=other)
    with pytest.raises(PartitionError) as by_events:
        write_partitioned([*few, bad], tmp_path / "events", partitions=3)

    with pytest.raises(PartitionError) as by_columns:
        write_partitioned_log(columnar.to_columnar([*few, bad]), tmp_path / "out", partitions=3)

    assert str(by_events.value) == str(by_columns.value)
    assert [] == list((tmp_path / "out").iterdir())


def test_a_slice_missing_events_is_refused(tmp_path: Path, few: list[Event]) -> None:
    log = columnar.to_columnar(few)
    name = "InvoiceIssued"
    tables = {**log.tables, name: log.tables[name].slice(1)}
    with pytest.raises(PartitionError, match="misses events"):
        partitions.write_partitioned_columns(
            [(log.ids.column("id"), tables)], tmp_path / "out", partitions=2
        )
    assert [] == list((tmp_path / "out").iterdir())
