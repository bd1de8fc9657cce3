"""The command line over stores and folders it cannot use (issue 9, acceptance): a real
``python -m arledger`` process each time, which must print exactly one clear line on stderr
(never a traceback), exit non-zero, and record or destroy nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from datetime import date
from pathlib import Path

from arledger import Ledger
from tests.conftest import FixedClock, postgres_connection, require_postgres
from tests.integration.test_read_model_position import delete_last_events, record_customers
from tests.integration.test_store_errors import closed_port, postgres_env, silent_server

__all__ = ["silent_server"]  # a fixture, used by name

REPOSITORY = Path(__file__).resolve().parents[2]
RUN_SECONDS_MAX = 60
"""A refusal is quick; a command still running after this long hangs."""


def cli(*arguments: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ARLEDGER_", "POSTGRES_", "SQLITE_", "PERSISTENCE_", "CIPHER_"))
    }
    clean["PYTHONPATH"] = str(REPOSITORY)
    return subprocess.run(
        [sys.executable, "-m", "arledger", *arguments],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS_MAX,
    )


def one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr of a command that was refused."""
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    assert 0 != result.returncode
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# PostgreSQL ----------------------------------------------------------------------------------


def test_an_unreachable_postgres_port(tmp_path: Path) -> None:
    port = closed_port()

    result = cli(
        "ageing",
        "--as-of",
        "2024-01-01",
        env=postgres_env(ARLEDGER_POSTGRES_PORT=str(port)),
        cwd=tmp_path,
    )

    line = one_line_refusal(result)
    assert f"127.0.0.1:{port}" in line
    assert "Connection refused" in line
    assert "ARLEDGER_POSTGRES_PORT" in line
    assert {} == files_under(tmp_path)


def test_a_postgres_server_that_never_answers_times_out(tmp_path: Path, silent_server: int) -> None:
    started = time.monotonic()

    result = cli(
        "ageing",
        "--as-of",
        "2024-01-01",
        env=postgres_env(
            ARLEDGER_POSTGRES_PORT=str(silent_server), ARLEDGER_POSTGRES_CONNECT_TIMEOUT="2"
        ),
        cwd=tmp_path,
    )

    line = one_line_refusal(result)
    assert time.monotonic() - started < 20
    assert "ARLEDGER_POSTGRES_CONNECT_TIMEOUT" in line


def test_a_postgres_database_that_does_not_exist(tmp_path: Path) -> None:
    require_postgres()
    name = f"no_such_db_{uuid.uuid4().hex[:8]}"

    result = cli(
        "demo", env=postgres_env(ARLEDGER_POSTGRES_DBNAME=name), cwd=tmp_path
    )  # a command that records

    line = one_line_refusal(result)
    assert f'database "{name}" does not exist' in line
    assert "ARLEDGER_POSTGRES_DBNAME" in line
    with postgres_connection() as connection:
        assert (0,) == connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()


def test_a_postgres_user_that_does_not_exist(tmp_path: Path) -> None:
    require_postgres()
    name = f"no_such_user_{uuid.uuid4().hex[:8]}"

    result = cli("demo", env=postgres_env(ARLEDGER_POSTGRES_USER=name), cwd=tmp_path)

    line = one_line_refusal(result)
    assert f'role "{name}" does not exist' in line
    assert "ARLEDGER_POSTGRES_USER" in line


def test_a_schema_name_with_a_quote(tmp_path: Path) -> None:
    require_postgres()
    from psycopg.sql import SQL, Identifier

    victim = f"victim_{uuid.uuid4().hex[:12]}"
    hostile = f'x"; DROP TABLE {victim}.precious; SET search_path TO "x'
    with postgres_connection() as connection:
        connection.execute(SQL("CREATE SCHEMA {}").format(Identifier(victim)))
        connection.execute(SQL("CREATE TABLE {}.precious (id int)").format(Identifier(victim)))
    try:
        result = cli(
            "projections",
            "status",
            env=postgres_env(ARLEDGER_POSTGRES_SCHEMA=hostile),
            cwd=tmp_path,
        )

        line = one_line_refusal(result)
        assert 2 == result.returncode  # a configuration error
        assert "ARLEDGER_POSTGRES_SCHEMA" in line
        with postgres_connection() as connection:
            assert (1,) == connection.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = 'precious'",
                (victim,),
            ).fetchone()
    finally:
        with postgres_connection() as connection:
            connection.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(victim)))


# SQLite and folders -------------------------------------------------------------------------


def test_arledger_db_pointing_at_a_text_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a ledger\n")

    result = cli("demo", env={"ARLEDGER_DB": str(notes)}, cwd=tmp_path)

    line = one_line_refusal(result)
    assert "not a SQLite database" in line
    assert "ARLEDGER_DB" in line
    assert {"notes.txt": b"my notes, not a ledger\n"} == files_under(tmp_path)


def test_export_to_the_working_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("mine")

    result = cli("export", ".", env={"ARLEDGER_DB": str(tmp_path / "books.db")}, cwd=work)

    line = one_line_refusal(result)
    assert "working folder" in line
    assert {"work/keep.txt": b"mine"} == files_under(tmp_path)  # no store, no partial export
    assert [] == list(tmp_path.glob(".*"))


def test_a_store_whose_head_is_below_the_tracked_position(tmp_path: Path) -> None:
    path = tmp_path / "books.db"
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}
    ledger = Ledger(env=env, clock=FixedClock())
    record_customers(ledger, 0, 4)
    ledger.portfolio()  # the read models at the head
    ledger.ageing(date(2024, 6, 30))  # the query engine's columnar log too (segments stored)
    tracked = ledger.projection_runner().status().position
    ledger.close()
    delete_last_events(env, 1)

    def tables() -> tuple[object, ...]:
        with closing(sqlite3.connect(path)) as connection:
            return tuple(
                connection.execute(statement).fetchall()
                for statement in (
                    "SELECT * FROM arledger_rm_tracking ORDER BY 1",
                    "SELECT * FROM arledger_rm_partitions ORDER BY 1",
                    "SELECT rowid, * FROM stored_events ORDER BY 1",
                )
            )

    before = tables()
    for command in (
        ["projections", "status"],
        ["projections", "catch-up"],
        ["ageing", "--as-of", "2024-06-30"],
    ):
        result = cli(*command, env=env, cwd=tmp_path)

        line = one_line_refusal(result)
        assert f"at event {tracked} but its event log ends at event {tracked - 1}" in line
        assert "projections rebuild" in line
    assert before == tables()

    rebuilt = cli("projections", "rebuild", env=env, cwd=tmp_path)
    assert 0 == rebuilt.returncode, rebuilt.stderr
    assert (
        f"event {tracked - 1} of {tracked - 1}"
        in cli("projections", "status", env=env, cwd=tmp_path).stdout
    )
