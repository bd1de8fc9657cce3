"""Commit order for audits (issue 12 item 3): every answer names the log position it reflects,
and that position, or its commit instant, reproduces the answer exactly afterwards.

Eight writer threads (two on each of four Ledgers) record invoices, payments and allocations
for customers of their own while a ninth thread, on a Ledger of its own answering from the query
engine, takes ageing and worklist snapshots. Afterwards each snapshot is asked again of a fresh
Ledger (the engine's path and the replay's) with ``at_position=`` its position and with
``known_at=`` its commit instant: the figures and the ``AsOfLog`` must be the same. Before
commit instants, ``known_at`` compared the stamps read when each session started, and most
such snapshots matched no ``known_at`` at all.

PostgreSQL (several connections, the library's insert lock) and SQLite (one writer at a time).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.audit import cut as cut_module
from arledger.adapters.cli.app import app
from arledger.adapters.persistence import chain
from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import LogPositionError
from arledger.domain.money import Money
from arledger.projections.ageing import AgeingGrouping, AgeingReport
from arledger.projections.results import Worklist
from tests.conftest import FixedClock

WRITERS = 8
LEDGERS = 4
INVOICES_PER_WRITER = 6
AS_OF = date(2025, 6, 30)
JOIN_TIMEOUT_S = 300.0


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def customer_code(writer: int) -> str:
    return f"C-{writer}"


@attrs.frozen
class Checkpoints:
    """Where the writers stop together, twice, for one snapshot each (no sleeps): ``arrived``
    holds them until the snapshotter joins, ``resume`` until it has taken its snapshot, so two
    snapshots are taken at distinct positions between the first write and the last."""

    arrived: threading.Barrier
    resume: threading.Barrier
    after_invoices: tuple[int, ...] = (2, 4)


def write(
    ledger: Ledger,
    writer: int,
    errors: list[BaseException],
    checkpoints: Checkpoints | None = None,
) -> None:
    """One writer's commands: an account, then invoices, each second one paid in part."""
    try:
        code = customer_code(writer)
        ledger.open_account(
            code,
            name=f"Customer {writer}",
            currency="USD",
            collection_owner="li" if writer % 2 else "wang",
            opened_on=date(2025, 1, 1),
            terms_days=30,
        )
        for n in range(INVOICES_PER_WRITER):
            if checkpoints is not None and n in checkpoints.after_invoices:
                checkpoints.arrived.wait()
                checkpoints.resume.wait()
            number = f"{code}-INV-{n}"
            ledger.issue_invoice(
                number,
                customer_code=code,
                amount=usd(f"{100 + 10 * writer + n}.00"),
                issued_on=date(2025, 1, 1) + timedelta(days=7 * n),
            )
            if n % 2:
                reference = f"{code}-PAY-{n}"
                ledger.receive_payment(
                    reference,
                    payer_code=code,
                    amount=usd("40.00"),
                    value_on=date(2025, 3, 1) + timedelta(days=n),
                )
                ledger.allocate_payment(reference, {number: usd("40.00")})
    except BaseException as error:  # reported by the test, not lost in the thread
        errors.append(error)


@attrs.frozen
class Snapshot:
    ageing: AgeingReport
    worklist: Worklist


def take_snapshots(
    ledger: Ledger,
    done: threading.Event,
    snapshots: list[Snapshot],
    errors: list[BaseException],
    checkpoints: Checkpoints,
) -> None:
    def snapshot() -> None:
        snapshots.append(
            Snapshot(ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER), ledger.worklist(AS_OF))
        )

    try:
        while True:
            finished = done.is_set()  # read first: a snapshot after it sees every write
            if checkpoints.arrived.n_waiting == WRITERS:  # every writer at a checkpoint
                checkpoints.arrived.wait()
                snapshot()
                checkpoints.resume.wait()
            snapshot()
            if finished:
                return
    except BaseException as error:
        errors.append(error)


def log_of(result: Any) -> AsOfLog:
    found = result.as_of_log
    assert isinstance(found, AsOfLog)
    return found


def run_concurrently(env: dict[str, str]) -> list[Snapshot]:
    writers_ledgers = [Ledger(env=env) for _ in range(LEDGERS)]
    reader = Ledger(env=env, read_models="stored")
    errors: list[BaseException] = []
    snapshots: list[Snapshot] = []
    done = threading.Event()
    checkpoints = Checkpoints(
        threading.Barrier(WRITERS + 1, timeout=JOIN_TIMEOUT_S),
        threading.Barrier(WRITERS + 1, timeout=JOIN_TIMEOUT_S),
    )
    try:
        writers = [
            threading.Thread(
                target=write, args=(writers_ledgers[i % LEDGERS], i, errors, checkpoints)
            )
            for i in range(WRITERS)
        ]
        snapshotter = threading.Thread(
            target=take_snapshots, args=(reader, done, snapshots, errors, checkpoints)
        )
        snapshotter.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(JOIN_TIMEOUT_S)
        done.set()
        snapshotter.join(JOIN_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in [*writers, snapshotter])
        assert [] == errors
    finally:
        for ledger in [*writers_ledgers, reader]:
            ledger.close()
    return snapshots


@pytest.mark.slow
def test_snapshots_taken_while_eight_threads_write_are_reproduced_by_position_and_instant(
    persistent_store_env: dict[str, str],
) -> None:
    snapshots = run_concurrently(persistent_store_env)

    positions = [log_of(s.ageing).position for s in snapshots]
    head = positions[-1]
    # The last snapshot was taken after every write: it holds every invoice.
    invoiced = sum(
        (100 + 10 * w + n) * 100 for w in range(WRITERS) for n in range(INVOICES_PER_WRITER)
    )
    paid = 4_000 * WRITERS * (INVOICES_PER_WRITER // 2)
    assert invoiced - paid == sum(row.open_minor for row in snapshots[-1].ageing.rows)
    assert positions == sorted(positions)  # one reader: the log only grows
    assert len({p for p in positions if 0 < p < head}) >= 2, positions  # taken during writes
    assert len(snapshots) >= 4
    assert len({s.ageing.rows for s in snapshots}) >= 3  # the figures moved as writes landed

    # Snapshots at one position are one answer; each position is reproduced once below.
    by_position: dict[tuple[int, int], Snapshot] = {}
    for snapshot in snapshots:
        key = (log_of(snapshot.ageing).position, log_of(snapshot.worklist).position)
        assert by_position.setdefault(key, snapshot) == snapshot
        assert log_of(by_position[key].ageing) == log_of(snapshot.ageing)

    for read_models in ("stored", "replay"):
        ledger = Ledger(env=persistent_store_env, read_models=read_models)
        try:
            for snapshot in by_position.values():
                ageing_log, worklist_log = log_of(snapshot.ageing), log_of(snapshot.worklist)
                assert ageing_log.stamped_by is None
                if ageing_log.position == 0:  # before the first commit: nothing to name
                    assert (None, None) == (ageing_log.link, ageing_log.committed_at)
                    assert snapshot.ageing == ledger.ageing(
                        AS_OF, grouping=AgeingGrouping.CUSTOMER, at_position=0
                    )
                    continue
                assert ageing_log.link is not None and ageing_log.committed_at is not None
                for cut in (
                    {"at_position": ageing_log.position},
                    {"known_at": ageing_log.committed_at},
                ):
                    again = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER, **cut)
                    assert (snapshot.ageing, ageing_log) == (again, log_of(again)), (
                        read_models,
                        cut,
                    )
                for cut in (
                    {"at_position": worklist_log.position},
                    {"known_at": worklist_log.committed_at},
                ):
                    again_list = ledger.worklist(AS_OF, **cut)
                    assert (snapshot.worklist, worklist_log) == (
                        again_list,
                        log_of(again_list),
                    ), (read_models, cut)
        finally:
            ledger.close()


def test_at_position_and_known_at_together_or_past_the_log_are_refused(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env)
    try:
        errors: list[BaseException] = []
        write(ledger, 0, errors)
        assert [] == errors
        head = log_of(ledger.ageing(AS_OF)).position
        committed_at = log_of(ledger.ageing(AS_OF)).committed_at
        with pytest.raises(LogPositionError) as both:
            ledger.worklist(AS_OF, at_position=1, known_at=committed_at)
        with pytest.raises(LogPositionError) as beyond:
            ledger.kpis(date(2025, 1, 1), date(2025, 6, 30), at_position=head + 1)
        with pytest.raises(LogPositionError):
            ledger.statement("C-0", date(2025, 1, 1), AS_OF, at_position=-1)
        assert (1, committed_at) == (both.value.at_position, both.value.known_at)
        assert (head + 1, head) == (beyond.value.at_position, beyond.value.head)
        # At position 0 the log is empty: no customer yet, nothing owed.
        assert () == ledger.ageing(AS_OF, at_position=0).rows
        assert 0 == log_of(ledger.ageing(AS_OF, at_position=0)).position
    finally:
        ledger.close()


def test_every_customer_query_names_the_position_it_answers_at(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env)
    try:
        errors: list[BaseException] = []
        write(ledger, 0, errors)
        assert [] == errors
        head = log_of(ledger.worklist(AS_OF)).position
        early = 3
        results = [
            ledger.escalation_status("C-0", AS_OF, at_position=early),
            ledger.explain("C-0", AS_OF, at_position=early),
            ledger.promises("C-0", AS_OF, at_position=early),
            ledger.collection_case("C-0", AS_OF, at_position=early),
            ledger.check_credit("C-0", usd("1.00"), AS_OF, at_position=early),
            ledger.statement("C-0", date(2025, 1, 1), AS_OF, at_position=early),
            ledger.unapplied_cash(AS_OF, at_position=early),
            ledger.kpis(date(2025, 1, 1), AS_OF, at_position=early),
        ]
        assert [early] * len(results) == [log_of(r).position for r in results]
        latest = ledger.statement("C-0", date(2025, 1, 1), AS_OF)
        assert head == log_of(latest).position
        then = ledger.statement("C-0", date(2025, 1, 1), AS_OF, at_position=early)
        assert then.closing_balance_minor < latest.closing_balance_minor
    finally:
        ledger.close()


# The command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["worklist", "--as-of", "2025-06-30"],
        ["ageing", "--as-of", "2025-06-30", "--by", "customer"],
        ["kpis", "--from", "2025-01-01", "--to", "2025-06-30"],
        ["statement", "C-0", "--from", "2025-01-01", "--to", "2025-06-30"],
        ["unapplied-cash", "--as-of", "2025-06-30"],
    ],
)
def test_cli_json_names_its_position_and_at_position_reproduces_it(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env)
    errors: list[BaseException] = []
    write(ledger, 0, errors)
    early = log_of(ledger.worklist(AS_OF)).position  # the end of a transaction
    write(ledger, 1, errors)
    ledger.close()
    assert [] == errors

    def run(*args: str) -> Any:
        result = CliRunner().invoke(app, [*command, *args, "--format", "json"], env=env)
        assert 0 == result.exit_code, result.output
        return json.loads(result.stdout)

    latest, then = run(), run("--at-position", str(early))
    assert early == then["as_of_log"]["position"] < latest["as_of_log"]["position"]
    assert then["as_of_log"]["link"] is not None
    again = run("--known-at", then["as_of_log"]["committed_at"])
    assert {**then, "known_at": None} == {**again, "known_at": None}
    assert then != latest
    assert then == run("--at-position", str(early))


def test_cli_refuses_a_position_past_the_log_or_with_known_at_in_one_line(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env)
    errors: list[BaseException] = []
    write(ledger, 0, errors)
    ledger.close()
    for args, message in [
        (["--at-position", "100000"], "beyond the log"),
        (["--at-position", "1", "--known-at", "2026-01-01T00:00:00Z"], "not both"),
    ]:
        result = CliRunner().invoke(app, ["worklist", "--as-of", "2025-06-30", *args], env=env)
        assert 0 != result.exit_code
        assert message in result.stderr
        assert 1 == len(result.stderr.strip().splitlines())
        assert "Traceback" not in result.output


def test_a_session_stamped_first_but_committed_last_is_not_known_before_its_commit(
    persistent_store_env: dict[str, str],
) -> None:
    """The defect commit instants fix, without threads: session A is stamped before session B
    but commits after it. An answer taken between the two commits shows B and not A; known_at
    at its commit instant reproduces it (by stamp, A's earlier stamp would have counted A)."""
    ledger = Ledger(env=persistent_store_env)
    try:
        errors: list[BaseException] = []
        write(ledger, 0, errors)
        write(ledger, 1, errors)
        assert [] == errors
        first, second = ledger.session(), ledger.session()  # stamped in this order
        first.issue_invoice(
            invoice_number="C-0-LATE", customer_code="C-0", amount=usd("7.00"), issued_on=AS_OF
        )
        second.issue_invoice(
            invoice_number="C-1-EARLY", customer_code="C-1", amount=usd("5.00"), issued_on=AS_OF
        )
        second.commit()
        between = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        first.commit()
        stamp_of_first = max(event.timestamp for event in ledger.iter_events())
        shown = {row.key for row in between.rows}
        again = ledger.ageing(
            AS_OF, grouping=AgeingGrouping.INVOICE, known_at=log_of(between).committed_at
        )

        assert ("C-1-EARLY" in shown, "C-0-LATE" in shown) == (True, False)
        assert stamp_of_first < log_of(between).committed_at  # type: ignore[operator]
        assert (between, log_of(between)) == (again, log_of(again))
    finally:
        ledger.close()


def test_known_at_falls_back_to_stamps_where_links_were_built_without_instants(
    tmp_path: Path,
) -> None:
    """A chain built after the fact has no commit instants: known_at before the first recorded
    instant cuts those positions by stamp, and says so; at or after it, by position."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        errors: list[BaseException] = []
        write(ledger, 0, errors)
        assert [] == errors
        built_upto = log_of(ledger.worklist(AS_OF)).position
        with sqlite3.connect(env["ARLEDGER_DB"]) as connection:
            connection.execute("DELETE FROM arledger_chain")
        assert built_upto == ledger.build_chain()
        ledger.issue_invoice("C-0-AFTER", customer_code="C-0", amount=usd("9.00"), issued_on=AS_OF)
        stamps = sorted(event.timestamp for event in ledger.iter_events())
        middle = stamps[len(stamps) // 2]

        by_stamp = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE, known_at=middle)
        latest = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        replayed = Ledger(env=env, read_models="replay")
        try:
            again = replayed.ageing(AS_OF, grouping=AgeingGrouping.INVOICE, known_at=middle)
        finally:
            replayed.close()
        committed = log_of(latest).committed_at
        assert committed is not None
        at_commit = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE, known_at=committed)
    finally:
        ledger.close()

    assert (built_upto, middle, None) == (
        log_of(by_stamp).position,
        log_of(by_stamp).stamped_by,
        log_of(by_stamp).committed_at,
    )
    assert by_stamp == again
    assert 0 < len(by_stamp.rows) < len(latest.rows) - 1  # the later half is not counted
    assert "C-0-AFTER" not in {row.key for row in by_stamp.rows}
    assert (latest, log_of(latest)) == (at_commit, log_of(at_commit))


def test_one_aggregate_books_and_reductions_are_cut_in_commit_order_too(
    persistent_store_env: dict[str, str],
) -> None:
    """The same defect on the queries that read one aggregate (an invoice, an account, a
    payment), the book of exchange rates, and the reductions: a session stamped first but
    committed last is not known at an instant between the two commits, and the queries in a
    reporting currency read the report and the rates at one cut."""
    from decimal import Decimal

    from arledger.domain.errors import CustomerNotFoundError, InvoiceNotFoundError

    ledger = Ledger(env=persistent_store_env)
    try:
        errors: list[BaseException] = []
        write(ledger, 0, errors)
        write(ledger, 1, errors)
        assert [] == errors
        rate = {"from_currency": "USD", "to_currency": "EUR", "source": "ECB"}
        ledger.record_exchange_rate(**rate, rate=Decimal("0.9"), effective_on=date(2025, 1, 1))
        first, second = ledger.session(), ledger.session()  # stamped in this order
        first.open_account(
            customer_code="C-LATE",
            name="Late",
            currency="USD",
            collection_owner="li",
            opened_on=date(2025, 1, 1),
            terms_days=30,
        )
        first.issue_invoice(
            invoice_number="C-0-LATE", customer_code="C-0", amount=usd("7.00"), issued_on=AS_OF
        )
        first.apply_credit_note(
            invoice_number="C-0-LATE",
            credit_note_number="CN-LATE",
            amount=usd("2.00"),
            applied_on=AS_OF,
            reason="price agreed",
            approver="zhao",
        )
        first.record_exchange_rate(**rate, rate=Decimal("0.5"), effective_on=date(2025, 6, 1))
        second.issue_invoice(
            invoice_number="C-1-EARLY", customer_code="C-1", amount=usd("5.00"), issued_on=AS_OF
        )
        second.commit()
        between = log_of(ledger.ageing(AS_OF))
        first.commit()
        instant = between.committed_at
        assert instant is not None
        position = between.position

        for cut in ({"known_at": instant}, {"at_position": position}):
            with pytest.raises(InvoiceNotFoundError, match="C-0-LATE"):
                ledger.invoice("C-0-LATE", **cut)  # type: ignore[arg-type]
            with pytest.raises(CustomerNotFoundError, match="C-LATE"):
                ledger.customer("C-LATE", **cut)  # type: ignore[arg-type]
            assert "C-1-EARLY" == ledger.invoice("C-1-EARLY", **cut).invoice_number  # type: ignore[arg-type]
            assert [Decimal("0.9")] == [
                r.rate
                for r in ledger.exchange_rates(**cut)  # type: ignore[arg-type]
            ]
            assert () == ledger.reductions(date(2025, 1, 1), AS_OF, **cut).rows  # type: ignore[arg-type]
            in_eur = ledger.ageing_in("EUR", AS_OF, **cut)  # type: ignore[arg-type]
            assert (position, [Decimal("0.9")]) == (
                log_of(in_eur.per_currency).position,
                [r.rate for r in in_eur.rates_used],
            )
        assert 2 == len(ledger.exchange_rates())
        assert 1 == len(ledger.reductions(date(2025, 1, 1), AS_OF).rows)
        assert "C-LATE" == ledger.customer("C-LATE").customer_code
    finally:
        ledger.close()


def test_the_last_position_committed_by_an_instant_is_read_from_the_index(
    persistent_store_env: dict[str, str],
) -> None:
    """The cut's look-up of the last position committed by an instant (one index entry,
    ``chain.INDEX``) answers what the highest position among the links committed by then is,
    at each transaction's instant, a microsecond before and after it, before the first and
    after the last; and where links have no instant, the last of them."""
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    try:
        errors: list[BaseException] = []
        for writer in range(3):
            write(ledger, writer, errors)
        assert [] == errors
        connections = ledger.read_model_connections()
        assert connections is not None
        store = cut_module._Chain(connections)
        marker = "%s" if persistent_store_env["ARLEDGER_STORE"] == "postgres" else "?"
        with connections.connection() as connection:
            links = connection.execute(
                "SELECT position, committed_at_us FROM arledger_chain ORDER BY position"
            ).fetchall()
            instants = sorted({int(us) for _, us in links})
            assert len(instants) > 10  # many transactions
            for us in [instants[0] - 1, *instants, *(us + 1 for us in instants)]:
                scanned = connection.execute(
                    f"SELECT MAX(position) FROM arledger_chain WHERE committed_at_us <= {marker}",
                    (us,),
                ).fetchone()[0]
                assert store.last_committed_by(us) == scanned, us
            assert store.last_without_instant() is None
            # Links built after the fact have no instant: the last of them, by the index.
            connection.execute(
                f"UPDATE arledger_chain SET committed_at_us = NULL WHERE position <= {marker}",
                (links[len(links) // 2][0],),
            )
            if persistent_store_env["ARLEDGER_STORE"] == "sqlite":
                connection.commit()
                for statement, parameters in (
                    (cut_module.LAST_COMMITTED_BY, (instants[-1],)),
                    (cut_module.LAST_WITHOUT_INSTANT, ()),
                ):
                    plan = connection.execute(
                        f"EXPLAIN QUERY PLAN {statement}", parameters
                    ).fetchall()
                    assert f"COVERING INDEX {chain.INDEX}" in str(plan), plan
            else:
                connection.commit()
                indexes = connection.execute(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = %s AND schemaname = %s",
                    (chain.INDEX, persistent_store_env["ARLEDGER_POSTGRES_SCHEMA"]),
                ).fetchall()
                assert ["(committed_at_us, position)"] == [
                    row[0][row[0].index("(") :].replace('"', "") for row in indexes
                ]
        assert store.last_without_instant() == links[len(links) // 2][0]
    finally:
        ledger.close()
