"""The stored read models refuse a log that no longer holds what they folded (issue 9.10).

SQLite numbers events by rowid without AUTOINCREMENT: after the last rows are deleted (or the
file is restored from an older copy) the next event reuses an id the read models have already
passed, and a catch-up would silently fold nothing. PostgreSQL numbers them from a sequence,
but a restored or truncated table can leave the read models ahead of the log in the same way.
The runner compares its tracking position with the log (its head, and the event it last
folded at that position) before serving, and refuses with a clear error; ``rebuild`` is the
way out. Runs on a SQLite file and a PostgreSQL schema.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import pytest

from arledger import Ledger, Money
from arledger.adapters.read_models.runner import ProjectionRunner
from arledger.domain.errors import ReadModelMismatchError
from arledger.projections import portfolio
from tests.conftest import FixedClock, postgres_connection


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def record_customers(ledger: Ledger, first: int, count: int) -> None:
    for number in range(first, first + count):
        code = f"C{number}"
        ledger.open_account(
            code,
            name=f"Customer {number}",
            currency="USD",
            collection_owner="li",
            opened_on=date(2024, 1, 1),
        )
        ledger.issue_invoice(
            f"INV-{number}", customer_code=code, amount=usd("100.00"), issued_on=date(2024, 1, 5)
        )


def delete_last_events(env: dict[str, str], count: int) -> None:
    """What a restore from an older copy does to the log: its last rows go, and their links
    in the hash chain with them (an older copy has the older chain; an edit by hand that left
    the links would make the next write refused, tests/integration/test_chain.py)."""
    if env["ARLEDGER_STORE"] == "sqlite":
        with closing(sqlite3.connect(env["ARLEDGER_DB"])) as connection, connection:
            connection.execute(
                "DELETE FROM stored_events WHERE rowid IN "
                "(SELECT rowid FROM stored_events ORDER BY rowid DESC LIMIT ?)",
                (count,),
            )
            connection.execute(
                "DELETE FROM arledger_chain WHERE position > "
                "(SELECT COALESCE(MAX(rowid), 0) FROM stored_events)"
            )
        return
    from psycopg.sql import SQL, Identifier

    table = SQL("{}.{}").format(
        Identifier(env["ARLEDGER_POSTGRES_SCHEMA"]), Identifier("arledger_events")
    )
    with postgres_connection() as connection:
        connection.execute(
            SQL(
                "DELETE FROM {0} WHERE notification_id IN "
                "(SELECT notification_id FROM {0} ORDER BY notification_id DESC LIMIT %s)"
            ).format(table),
            (count,),
        )
        connection.execute(
            SQL(
                "DELETE FROM {0}.arledger_chain WHERE position > "
                "(SELECT COALESCE(MAX(notification_id), 0) FROM {1})"
            ).format(Identifier(env["ARLEDGER_POSTGRES_SCHEMA"]), table)
        )


def stored_tables(runner: ProjectionRunner) -> tuple[int, dict[str, str]]:
    return runner.tables.position(), runner.tables.partitions(None)


def test_a_log_whose_head_is_below_the_tracked_position_is_refused(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 0, 4)
    ledger.portfolio()  # the read models catch up to the head
    ledger.ageing(date(2024, 6, 30))  # and the query engine's columnar log
    runner = ledger.projection_runner()
    tracked, partitions = stored_tables(runner)
    delete_last_events(persistent_store_env, 2)

    with pytest.raises(ReadModelMismatchError) as error:
        ledger.ageing(date(2024, 6, 30))

    head = ledger.recorder.max_notification_id() or 0
    assert head < tracked
    assert (tracked, head) == (error.value.position, error.value.head)
    assert f"event {tracked}" in error.value.message
    assert f"event {head}" in error.value.message
    assert "rebuild" in error.value.message
    with pytest.raises(ReadModelMismatchError):
        runner.catch_up()
    with pytest.raises(ReadModelMismatchError):
        runner.status()
    assert (tracked, partitions) == stored_tables(runner)  # nothing was changed


def test_an_event_id_reused_below_the_tracked_position_is_refused_not_skipped(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 0, 4)
    ledger.portfolio()
    runner = ledger.projection_runner()
    tracked, partitions = stored_tables(runner)
    delete_last_events(persistent_store_env, 2)
    # One new customer (two events) and an invoice: on SQLite the first two reuse the deleted
    # ids, the third goes past the tracked position; on PostgreSQL all three come after it.
    record_customers(ledger, 10, 1)
    ledger.issue_invoice(
        "INV-10-B", customer_code="C10", amount=usd("7.00"), issued_on=date(2024, 2, 1)
    )
    head = ledger.recorder.max_notification_id() or 0
    assert head > tracked  # the head check alone would not see it

    with pytest.raises(ReadModelMismatchError) as error:
        ledger.portfolio()

    assert tracked == error.value.position
    assert "rebuild" in error.value.message
    assert (tracked, partitions) == stored_tables(runner)


def test_rebuild_is_the_way_out_and_then_equals_a_fresh_fold(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 0, 4)
    ledger.portfolio()
    delete_last_events(persistent_store_env, 2)
    record_customers(ledger, 10, 1)
    runner = ledger.projection_runner()
    with pytest.raises(ReadModelMismatchError):
        runner.catch_up()

    runner.rebuild()

    assert portfolio.fold_all(ledger.iter_events()) == ledger.portfolio()
    assert 0 == runner.status().lag


def test_read_models_written_before_the_check_existed_are_still_served(
    persistent_store_env: dict[str, str],
) -> None:
    """A tracking table of an older version (no identity of the folded event) gains its
    columns and is checked against the head only until the next batch is written."""
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 0, 3)
    ledger.projection_runner().catch_up()
    ledger.close()
    columns = ("originator_id", "originator_version")
    if persistent_store_env["ARLEDGER_STORE"] == "sqlite":
        with closing(sqlite3.connect(persistent_store_env["ARLEDGER_DB"])) as connection:
            connection.execute("ALTER TABLE arledger_rm_tracking DROP COLUMN originator_id")
            connection.execute("ALTER TABLE arledger_rm_tracking DROP COLUMN originator_version")
    else:
        from psycopg.sql import SQL, Identifier

        schema = Identifier(persistent_store_env["ARLEDGER_POSTGRES_SCHEMA"])
        with postgres_connection() as connection:
            for column in columns:
                connection.execute(
                    SQL("ALTER TABLE {}.arledger_rm_tracking DROP COLUMN {}").format(
                        schema, Identifier(column)
                    )
                )
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 10, 1)

    assert portfolio.fold_all(ledger.iter_events()) == ledger.portfolio()
    # The batch just written recorded the identity of its last event: checked again.
    delete_last_events(persistent_store_env, 1)
    record_customers(ledger, 20, 1)
    with pytest.raises(ReadModelMismatchError):
        ledger.portfolio()
