"""The hash chain over the log (``adapters/persistence/chain.py``) and ``Ledger.verify``, on
SQLite and PostgreSQL.

Every write path chains its events in the same transaction (commands, sessions, the bulk
writer, the importer); concurrent writers on PostgreSQL keep one chain; each way of tampering
with the stored log (an edited state, a deleted, reordered or inserted row, a log cut short
and written on, a read-model row changed) is a finding naming its first position; a store
written before chains existed is told apart and gets its chain built once.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from arledger import ArledgerError, ChainMismatchError, FindingKind, Ledger, Money, VerifyReport
from arledger.adapters.audit import verify as verify_module
from arledger.adapters.ingest.importer import import_file, preset
from arledger.adapters.persistence import bulk, chain, library
from arledger.domain.errors import ConfigurationError
from tests.integration.test_import_kill import write_ibm_file

OPENED_ON = date(2024, 1, 1)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def write_some(ledger: Ledger, customers: int = 2, invoices: int = 3) -> None:
    """Commands, a session and a bulk write: every path but the importer."""
    for c in range(customers):
        code = f"C{c}"
        ledger.open_account(
            code, name=f"Customer {c}", currency="USD", collection_owner="li", opened_on=OPENED_ON
        )
        ledger.issue_invoice(
            f"INV-{c}-0", customer_code=code, amount=usd("100.00"), issued_on=date(2024, 1, 10)
        )
    session = ledger.session()
    for n in range(1, invoices):
        session.issue_invoice(
            invoice_number=f"INV-0-{n}",
            customer_code="C0",
            amount=usd("10.00"),
            issued_on=date(2024, 1, 11),
        )
    session.commit()
    ledger.receive_payment(
        "BANK-1", payer_code="C0", amount=usd("50.00"), value_on=date(2024, 2, 1)
    )
    ledger.allocate_payment("BANK-1", allocation_key="k1")
    batch = ledger.session()
    for n in range(5):
        batch.issue_invoice(
            invoice_number=f"INV-B{n}",
            customer_code=f"C{customers - 1}",
            amount=usd("1.00"),
            issued_on=date(2024, 1, 12),
        )
        batch.end_unit()
    bulk.write_pending(ledger, batch, events_per_batch=4)


@contextmanager
def raw(env: dict[str, str]) -> Iterator[tuple[Any, str, str]]:
    """(autocommit connection, events table, position column) of a store, for tampering."""
    if env["ARLEDGER_STORE"] == "sqlite":
        connection = sqlite3.connect(env["ARLEDGER_DB"], isolation_level=None)
        try:
            yield connection, "stored_events", "rowid"
        finally:
            connection.close()
        return
    from psycopg.sql import SQL, Identifier

    from tests.conftest import postgres_connection

    with postgres_connection() as connection:
        connection.execute(
            SQL("SET search_path TO {}").format(Identifier(env["ARLEDGER_POSTGRES_SCHEMA"]))
        )
        yield _Marked(connection), "arledger_events", "notification_id"


class _Marked:
    """A psycopg connection taking SQLite's ``?`` markers, so that one statement serves both."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        return self.connection.execute(statement.replace("?", "%s"), parameters)


def chain_rows(env: dict[str, str]) -> list[tuple[int, bytes, int | None]]:
    with raw(env) as (connection, _, _):
        return [
            (int(p), bytes(link), at)
            for p, link, at in connection.execute(
                "SELECT position, link, committed_at_us FROM arledger_chain ORDER BY position"
            ).fetchall()
        ]


def positions(env: dict[str, str]) -> list[int]:
    with raw(env) as (connection, table, column):
        return [
            int(row[0])
            for row in connection.execute(f"SELECT {column} FROM {table} ORDER BY {column}")
        ]


def kinds(report: VerifyReport) -> set[FindingKind]:
    return {finding.kind for finding in report.findings}


def share_with_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify shares every pass with its second process (``_Worker``), however small the pass
    and however busy the machine."""
    monkeypatch.setattr(verify_module, "WORKER_EVENTS_MIN", 0)
    monkeypatch.setattr(verify_module, "_core_spare", lambda: True)


# Writing the chain ------------------------------------------------------------------------------


def test_every_write_path_chains_each_event_in_position_order(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    ledger = Ledger(persistent_store_env)
    write_some(ledger)
    path = tmp_path / "ibm.csv"
    write_ibm_file(path, rows=30, customers=4)
    import_file(ledger, path, preset("ibm"), currency="USD")

    links = chain_rows(persistent_store_env)
    assert positions(persistent_store_env) == [p for p, _, _ in links]
    assert 90 < len(links)
    # Each link recomputes from the record and the link before it (the verify pass does this).
    report = ledger.verify()
    assert [] == [str(f) for f in report.findings]
    assert (links[-1][0], links[-1][1].hex()) == (report.head_position, report.head_link)
    assert len(links) == report.events_checked
    instants = [at for _, _, at in links]
    assert None not in instants
    assert sorted(instants) == instants  # type: ignore[type-var]
    ledger.close()


def test_the_ledger_records_through_the_chaining_recorder(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(persistent_store_env)
    store = persistent_store_env["ARLEDGER_STORE"]
    expected = library.chained_recorder_class(f"eventsourcing.{store}")
    assert expected is type(ledger.recorder)
    ledger.close()


def test_a_refused_command_leaves_no_link(persistent_store_env: dict[str, str]) -> None:
    ledger = Ledger(persistent_store_env)
    write_some(ledger, customers=1, invoices=1)
    before = chain_rows(persistent_store_env)
    with pytest.raises(ArledgerError):  # the same number with other content
        ledger.issue_invoice(
            "INV-0-0", customer_code="C0", amount=usd("5.00"), issued_on=date(2024, 1, 10)
        )
    assert before == chain_rows(persistent_store_env)
    assert ledger.verify().ok
    ledger.close()


def test_concurrent_writers_on_postgres_keep_one_chain(
    postgres_schema: dict[str, str],
) -> None:
    """Six threads, each with a Ledger of its own (its own connections), write at once: the
    library's EXCLUSIVE insert lock serialises them, so the chain is one sequence of links in
    position order, each after the one before, commit instants never going back."""
    setup = Ledger(postgres_schema)
    for c in range(6):
        setup.open_account(
            f"C{c}", name="C", currency="USD", collection_owner="li", opened_on=OPENED_ON
        )
    setup.close()
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def write(c: int) -> None:
        ledger = Ledger(postgres_schema)
        try:
            start.wait()
            for n in range(15):
                ledger.issue_invoice(
                    f"INV-{c}-{n}",
                    customer_code=f"C{c}",
                    amount=usd("1.00"),
                    issued_on=date(2024, 1, 2),
                )
            batch = ledger.session()
            for n in range(20):
                batch.issue_invoice(
                    invoice_number=f"INV-{c}-B{n}",
                    customer_code=f"C{c}",
                    amount=usd("1.00"),
                    issued_on=date(2024, 1, 3),
                )
                batch.end_unit()
            bulk.write_pending(ledger, batch, events_per_batch=10)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            ledger.close()

    threads = [threading.Thread(target=write, args=(c,)) for c in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [] == errors
    links = chain_rows(postgres_schema)
    assert positions(postgres_schema) == [p for p, _, _ in links]
    assert 6 + 6 * (15 * 2 + 20 * 2) == len(links)
    instants = [at for _, _, at in links]
    assert sorted(instants) == instants  # type: ignore[type-var]
    ledger = Ledger(postgres_schema)
    report = ledger.verify()
    assert [] == [str(f) for f in report.findings]
    ledger.close()


def test_verify_while_others_write_finds_nothing(persistent_store_env: dict[str, str]) -> None:
    """A pass covers what was committed when it began: events a writer adds meanwhile are not
    taken for events without links, nor their links for links without events."""
    ledger = Ledger(persistent_store_env)
    write_some(ledger, customers=1)
    done = threading.Event()
    writing = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        writer = Ledger(persistent_store_env)
        try:
            n = 0
            while not done.is_set() and n < 5000:
                writer.issue_invoice(
                    f"W-{n}", customer_code="C0", amount=usd("1.00"), issued_on=date(2024, 1, 4)
                )
                writing.set()
                n += 1
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert writing.wait(30)
        reports: list[VerifyReport] = []
        while len({report.head_position for report in reports}) < 3 and len(reports) < 200:
            reports.append(ledger.verify())
    finally:
        done.set()
        thread.join()

    assert [] == errors
    assert [] == [str(f) for report in reports for f in report.findings]
    assert len({report.head_position for report in reports}) >= 3  # writes went on meanwhile
    ledger.close()


# Tampering --------------------------------------------------------------------------------------


@pytest.fixture(params=["one process", "two processes"])
def written(
    request: pytest.FixtureRequest,
    persistent_store_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Ledger, dict[str, str]]]:
    """A written store with its read models and segments; verify runs its pass in one process,
    or (as on a large store) with the chain and the replay in a second one (``_Worker``)."""
    if request.param == "two processes":
        share_with_a_second_process(monkeypatch)
    ledger = Ledger(persistent_store_env)
    write_some(ledger)
    ledger.ageing(date(2024, 3, 31))  # the engine and its segments
    # The stored partitions, caught up (one customer's queries fold from the engine's log and
    # leave them alone; portfolio() catches them up).
    ledger.portfolio()
    ledger.query_engine().persist()
    assert ledger.verify().ok
    yield ledger, persistent_store_env
    ledger.close()


def test_an_edited_state_is_found_at_its_position(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    with raw(env) as (connection, table, column):
        state = bytes(
            connection.execute(f"SELECT state FROM {table} WHERE {column} = 4").fetchone()[0]
        )
        edited = state.replace(b"10000", b"90000") if b"10000" in state else state + b" "
        connection.execute(f"UPDATE {table} SET state = ? WHERE {column} = 4", (edited,))

    report = ledger.verify()

    assert 4 == report.first_bad_position
    assert FindingKind.CHAIN in kinds(report)
    assert not report.ok


def test_a_deleted_row_is_found_at_its_position(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    with raw(env) as (connection, table, column):
        connection.execute(f"DELETE FROM {table} WHERE {column} = 5")

    report = ledger.verify()

    assert 5 == report.first_bad_position
    first = report.findings[0]
    assert (FindingKind.CHAIN, 5) == (first.kind, first.position)
    assert "deleted" in first.message
    # The aggregate it belonged to no longer replays with contiguous versions, or the stored
    # read models hold what the log lost.
    assert kinds(report) & {FindingKind.REPLAY, FindingKind.READ_MODEL, FindingKind.SEGMENTS}


def test_two_reordered_rows_are_found_at_the_first(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    with raw(env) as (connection, table, column):
        rows = {
            int(row[0]): row[1:]
            for row in connection.execute(
                f"SELECT {column}, originator_id, originator_version, topic, state FROM {table} "
                f"WHERE {column} IN (6, 7)"
            )
        }
        # Swap the two records' contents (their positions stay): the log's order changes.
        for position in (6, 7):
            # Out of the way first: (originator id, version) is the primary key.
            connection.execute(
                f"UPDATE {table} SET originator_version = -{position} WHERE {column} = ?",
                (position,),
            )
        for position, other in ((6, 7), (7, 6)):
            originator_id, version, topic, state = rows[other]
            connection.execute(
                f"UPDATE {table} SET originator_id = ?, originator_version = ?, topic = ?, "
                f"state = ? WHERE {column} = ?",
                (originator_id, version, topic, state, position),
            )

    report = ledger.verify()

    assert 6 == report.first_bad_position
    assert {6, 7} <= {f.position for f in report.findings if f.kind is FindingKind.CHAIN}


def test_an_inserted_row_is_found_at_its_position(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    head = positions(env)[-1]
    with raw(env) as (connection, table, column):
        originator_id, topic, state = connection.execute(
            f"SELECT originator_id, topic, state FROM {table} WHERE {column} = 1"
        ).fetchone()
        connection.execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            (originator_id, 99, topic, state),
        )

    report = ledger.verify()

    inserted = positions(env)[-1]
    assert head < inserted
    assert inserted == report.first_bad_position
    assert "no link" in report.findings[0].message
    assert FindingKind.REPLAY in kinds(report)  # version 99 after version 1


def test_a_log_cut_short_and_written_on_is_found_by_the_head_written_down(
    written: tuple[Ledger, dict[str, str]],
) -> None:
    """The end of the log and of its chain removed, then new events recorded through the
    ledger (they chain after the cut): the chain holds together, but the head an auditor wrote
    down is gone, and the stored read models folded events the log no longer holds."""
    ledger, env = written
    before = ledger.verify()
    cut = before.head_position - 3
    with raw(env) as (connection, table, column):
        connection.execute(f"DELETE FROM {table} WHERE {column} > ?", (cut,))
        connection.execute("DELETE FROM arledger_chain WHERE position > ?", (cut,))
    fresh = Ledger(env)
    fresh.open_account("C9", name="C9", currency="USD", collection_owner="li", opened_on=OPENED_ON)
    fresh.issue_invoice(
        "INV-9", customer_code="C9", amount=usd("7.00"), issued_on=date(2024, 1, 10)
    )

    report = fresh.verify(expect_head=before.head_link)
    fresh.close()

    assert FindingKind.HEAD in kinds(report)
    assert FindingKind.READ_MODEL in kinds(report)
    assert before.head_link != report.head_link
    assert ledger.verify().ok is False


def test_writing_after_the_last_events_were_deleted_is_refused(
    written: tuple[Ledger, dict[str, str]],
) -> None:
    ledger, env = written
    head = positions(env)[-1]
    with raw(env) as (connection, table, column):
        connection.execute(f"DELETE FROM {table} WHERE {column} > ?", (head - 2,))

    if env["ARLEDGER_STORE"] == "sqlite":
        # SQLite hands the deleted positions out again: the chain already has links there.
        with pytest.raises(ChainMismatchError) as raised:
            ledger.open_account(
                "C8", name="C8", currency="USD", collection_owner="li", opened_on=OPENED_ON
            )
        assert head - 1 == raised.value.position
    else:
        # PostgreSQL's sequence moves on: the new events chain on; the holes are findings.
        ledger.open_account(
            "C8", name="C8", currency="USD", collection_owner="li", opened_on=OPENED_ON
        )
    assert head - 1 == ledger.verify().first_bad_position


def test_a_changed_read_model_row_is_found(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    with raw(env) as (connection, _, _):
        key, state = connection.execute(
            "SELECT partition_key, state FROM arledger_rm_partitions "
            "WHERE partition_key <> 'policy' ORDER BY partition_key LIMIT 1"
        ).fetchone()
        assert '"amount_minor":10000' in state
        connection.execute(
            "UPDATE arledger_rm_partitions SET state = ? WHERE partition_key = ?",
            (state.replace('"amount_minor":10000', '"amount_minor":90000', 1), key),
        )

    report = ledger.verify()

    assert [FindingKind.READ_MODEL] == [f.kind for f in report.findings]
    assert key in report.findings[0].message
    assert ledger.projection_runner().status().position == report.first_bad_position


def test_a_changed_segment_is_found(written: tuple[Ledger, dict[str, str]]) -> None:
    ledger, env = written
    with raw(env) as (connection, _, _):
        connection.execute("DELETE FROM arledger_rm_columnar WHERE name = 'InvoiceIssued'")

    report = ledger.verify()

    assert {FindingKind.SEGMENTS} == kinds(report)


def test_an_encrypted_store_verifies_and_a_changed_keyed_route_is_found(
    persistent_store_env: dict[str, str],
) -> None:
    """With a cipher the routes are stored under keyed ids (``PartitionCodec.route_id``, keyed
    by ``CIPHER_KEY``): verify compares them under the same key. It once built its codec
    without the key and reported every route of every encrypted store as changed."""
    from eventsourcing.cipher import AESCipher

    env = {
        **persistent_store_env,
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    ledger = Ledger(env)
    try:
        write_some(ledger)
        ledger.portfolio()
        ledger.query_engine().persist()
        clean = ledger.verify()
        with raw(env) as (connection, _, _):
            routes = connection.execute("SELECT COUNT(*) FROM arledger_rm_routes").fetchone()[0]
            connection.execute(
                "UPDATE arledger_rm_routes SET partition_key = 'someone else' "
                "WHERE aggregate_id = "
                "(SELECT aggregate_id FROM arledger_rm_routes ORDER BY aggregate_id LIMIT 1)"
            )
        changed = ledger.verify()
    finally:
        ledger.close()

    assert 0 < routes
    assert [] == [str(f) for f in clean.findings]
    assert [FindingKind.READ_MODEL] == [f.kind for f in changed.findings]
    assert "routes differ from a fresh fold for 1 aggregate(s)" in changed.findings[0].message


@pytest.mark.parametrize("read_models", ["stored", "none stored"])
def test_a_pass_shared_with_a_second_process_finds_what_one_process_finds(
    persistent_store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, read_models: str
) -> None:
    """An edited, a deleted and an undecodable record: the same findings, whichever process
    checks the chain, decodes and replays (``verify._Worker``), from the start or resumed."""
    ledger = Ledger(persistent_store_env)
    write_some(ledger)
    if read_models == "stored":
        ledger.portfolio()
        ledger.query_engine().persist()
    with raw(persistent_store_env) as (connection, table, column):
        connection.execute(f"DELETE FROM {table} WHERE {column} = 5")
        connection.execute(f"UPDATE {table} SET state = ? WHERE {column} = 8", (b"not json",))
        state = bytes(
            connection.execute(f"SELECT state FROM {table} WHERE {column} = 4").fetchone()[0]
        )
        connection.execute(f"UPDATE {table} SET state = ? WHERE {column} = 4", (state + b" ",))

    passes: dict[str, list[list[str]]] = {}
    for mode in ("one", "two"):
        if mode == "two":
            share_with_a_second_process(monkeypatch)
        passes[mode] = [
            [str(f) for f in ledger.verify().findings],
            [str(f) for f in ledger.verify(from_position=6).findings],
        ]
    ledger.close()

    assert passes["one"] == passes["two"]
    full, resumed = passes["two"]
    assert full[0].startswith("position 4: chain:")
    assert any(line.startswith("position 5: chain:") and "deleted" in line for line in full)
    assert any(line.startswith("position 8: decode:") for line in full)
    assert any(line.startswith("position 8: decode:") for line in resumed)
    assert not any(line.startswith("position 4:") for line in resumed)


def test_the_chain_checked_in_two_parts_finds_each_edit_on_either_side_of_the_split(
    persistent_store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the read models stored, the second process checks the first links and this one
    the last ``CHAIN_HERE`` of them: records edited just before the split and at the end, and
    one deleted at the split, are each found once, as a pass in one process finds them."""
    ledger = Ledger(persistent_store_env)
    write_some(ledger)
    ledger.portfolio()
    ledger.query_engine().persist()
    bound = max(positions(persistent_store_env))
    split = bound + 1 - int(bound * verify_module.CHAIN_HERE)
    assert 1 < split < bound
    with raw(persistent_store_env) as (connection, table, column):
        for position in (split - 1, bound):
            connection.execute(
                f"UPDATE {table} SET state = state || ? WHERE {column} = ?", (b" ", position)
            )
        connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (split,))

    found: dict[str, list[str]] = {}
    for mode in ("one", "two"):
        if mode == "two":
            share_with_a_second_process(monkeypatch)
        found[mode] = [str(f) for f in ledger.verify().findings if f.kind is FindingKind.CHAIN]
    ledger.close()

    assert found["one"] == found["two"]
    assert [split - 1, split, bound] == [
        int(line.split(":")[0].split()[1]) for line in found["two"]
    ]


def test_a_pass_is_shared_only_when_large_on_a_store_on_disk_with_a_core_spare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_disk = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": "/tmp/a.db"}
    in_memory = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    monkeypatch.setattr(verify_module.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(verify_module.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    large = verify_module.WORKER_EVENTS_MIN
    assert verify_module._shared(large, on_disk)
    assert not verify_module._shared(large - 1, on_disk)
    assert not verify_module._shared(large, in_memory)
    monkeypatch.setattr(verify_module.os, "getloadavg", lambda: (1.5, 0.5, 0.5))
    assert not verify_module._shared(large, on_disk)  # the two cores are busy
    monkeypatch.setattr(verify_module.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    monkeypatch.setattr(verify_module.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert not verify_module._shared(large, on_disk)  # one core


# Resuming, heads, stores without a chain --------------------------------------------------------


def test_verify_resumes_from_a_position_and_checks_a_head(
    written: tuple[Ledger, dict[str, str]],
) -> None:
    ledger, env = written
    report = ledger.verify()
    resumed = ledger.verify(from_position=10, expect_head=report.head_link)

    assert resumed.ok
    assert (10, report.head_position - 9, False) == (
        resumed.from_position,
        resumed.events_checked,
        resumed.replayed,
    )
    with raw(env) as (connection, table, column):
        connection.execute(f"UPDATE {table} SET state = state || ? WHERE {column} = 3", (b" ",))
    assert ledger.verify(from_position=10).ok  # before the resumed range
    assert 3 == ledger.verify(from_position=2).first_bad_position
    with pytest.raises(ChainMismatchError):
        ledger.verify(expect_head="not a link")


def test_a_store_without_a_chain_is_told_apart_and_built_once(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(persistent_store_env)
    write_some(ledger, customers=1)
    with raw(persistent_store_env) as (connection, _, _):
        connection.execute("DELETE FROM arledger_chain")  # as written before chains existed
    ledger.open_account("C7", name="C7", currency="USD", collection_owner="li", opened_on=OPENED_ON)
    assert [] == chain_rows(persistent_store_env)  # no chain is started mid-log

    report = ledger.verify()
    assert [FindingKind.NO_CHAIN] == [f.kind for f in report.findings]
    assert "arledger chain build" in report.findings[0].message

    assert len(positions(persistent_store_env)) == ledger.build_chain()
    built = chain_rows(persistent_store_env)
    assert {None} == {at for _, _, at in built}
    ledger.issue_invoice(
        "INV-7", customer_code="C7", amount=usd("3.00"), issued_on=date(2024, 1, 10)
    )
    assert [] == [str(f) for f in ledger.verify().findings]
    with pytest.raises(ChainMismatchError):
        ledger.build_chain()
    ledger.close()


def test_verify_leaves_the_cyclic_collector_as_it_found_it(
    written: tuple[Ledger, dict[str, str]],
) -> None:
    """The pass turns the collector off and freezes its pages (``_collector_spared``); after
    it, the collector is on or off as before and nothing of the pass stays frozen."""
    import gc

    ledger, _env = written
    assert gc.isenabled()
    assert 0 == gc.get_freeze_count()
    assert ledger.verify().ok
    assert gc.isenabled()
    assert 0 == gc.get_freeze_count()
    gc.disable()
    try:
        assert ledger.verify().ok
        assert not gc.isenabled()
        assert 0 == gc.get_freeze_count()
    finally:
        gc.enable()


def test_a_stored_ids_bytes_are_what_its_uuid_makes_of_it() -> None:
    """``chain.id_bytes`` skips building a UUID for plain hex text; on every text it gives the
    UUID's bytes, or refuses (ValueError) what UUID refuses."""
    from uuid import UUID

    value = UUID("0131680c-b3f0-563e-b0bf-f1c190c7de4a")
    texts = [
        value.hex,
        str(value),
        value.hex.upper(),
        "{" + str(value) + "}",
        "0131680cb3f0563eb0bff1c190c7de4",  # too short
        "0131680cb3f0563eb0bff1c190c7de4g",  # not hexadecimal
        "0131680cb3f0563eb0bff1c190c7de  ",  # fromhex skips the spaces, UUID's int() too
        " 131680cb3f0563eb0bff1c190c7de4a",
        "0131680cb3f0563eb0bff1c190c7de4a0",  # too long
    ]
    assert value.bytes == chain.id_bytes(value)
    for text in texts:
        try:
            expected: bytes | type[ValueError] = UUID(text).bytes
        except ValueError:
            expected = ValueError
        try:
            actual: bytes | type[ValueError] = chain.id_bytes(text)
        except ValueError:
            actual = ValueError
        assert (text, expected) == (text, actual)


def test_an_in_memory_ledger_has_nothing_to_verify() -> None:
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    with pytest.raises(ConfigurationError):
        ledger.verify()


def test_a_link_covers_each_part_of_the_record() -> None:
    from uuid import uuid4

    parts: list[Any] = [chain.GENESIS, 7, 1_700_000_000_000_000, uuid4(), 3, "t:X", b"{}"]
    base = chain.link_of(*parts)
    changed = [bytes(32 * [1]), 8, None, uuid4(), 4, "t:Y", b"{ }"]
    for index, value in enumerate(changed):
        altered = list(parts)
        altered[index] = value
        assert base != chain.link_of(*altered)
    # Lengths come before the topic and the state: moving a byte between them changes the link.
    assert chain.link_of(*parts[:5], "t:X{", b"}") != chain.link_of(*parts[:5], "t:X", b"{}")


# The command line -------------------------------------------------------------------------------


def test_the_command_line_prints_the_head_and_fails_on_a_finding(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from arledger.adapters.cli.app import app

    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "cli.db")}
    ledger = Ledger(env)
    write_some(ledger, customers=1)
    ledger.close()
    runner = CliRunner()

    sound = runner.invoke(app, ["verify"], env=env)
    head = sound.output.split("link ")[-1].strip()
    again = runner.invoke(app, ["verify", "--from", "3", "--expect-head", head], env=env)
    with raw(env) as (connection, table, column):
        connection.execute(f"UPDATE {table} SET state = state || x'20' WHERE {column} = 2")
    tampered = runner.invoke(app, ["verify"], env=env)
    refused = runner.invoke(app, ["chain", "build"], env=env)

    assert 0 == sound.exit_code, sound.output
    assert ": ok" in sound.output
    assert 64 == len(head)
    assert 0 == again.exit_code, again.output
    assert "from position 3 checked: ok" in again.output
    assert 1 == tampered.exit_code
    assert tampered.output.startswith("position 2: chain: the link does not match")
    assert f"link {head}" in tampered.output  # the head is printed whatever was found
    assert 1 == refused.exit_code
    assert "already has a hash chain" in refused.output


def test_chain_build_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from arledger.adapters.cli.app import app

    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "old.db")}
    ledger = Ledger(env)
    write_some(ledger, customers=1)
    ledger.close()
    with raw(env) as (connection, _, _):
        connection.execute("DELETE FROM arledger_chain")
    runner = CliRunner()

    before = runner.invoke(app, ["verify"], env=env)
    built = runner.invoke(app, ["chain", "build"], env=env)
    after = runner.invoke(app, ["verify"], env=env)

    assert 1 == before.exit_code
    assert "no hash chain" in before.output
    assert 0 == built.exit_code, built.output
    assert f"Built the hash chain over {len(positions(env))} event(s)" in built.output
    assert 0 == after.exit_code, after.output


# The library's private API, in one module -------------------------------------------------------


def test_only_the_library_module_reaches_into_the_librarys_private_api() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "adapters"
    private = re.compile(r"\b(?:recorder|datastore|curs|cursor)\._[a-z]|super\(\)\._[a-z]")
    users = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if private.search(path.read_text(encoding="utf-8"))
    )

    assert ["persistence/library.py"] == users


def test_lock_for_insert_takes_the_recorders_exclusive_lock_on_postgres(
    postgres_schema: dict[str, str],
) -> None:
    from tests.conftest import postgres_connection

    ledger = Ledger(postgres_schema)
    recorder: Any = ledger.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        library.lock_for_insert(recorder, cursor)
        with postgres_connection() as other:
            modes = [
                row[0]
                for row in other.execute(
                    "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relname = 'arledger_events' AND n.nspname = %s AND l.granted",
                    (postgres_schema["ARLEDGER_POSTGRES_SCHEMA"],),
                )
            ]
    assert "ExclusiveLock" in modes
    ledger.close()
