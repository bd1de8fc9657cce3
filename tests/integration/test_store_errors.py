"""A store that cannot be opened is a typed error naming what failed, where and what to check
(issue 9.12); a PostgreSQL schema name is a plain identifier, refused otherwise before any
connection, and composed as an identifier, never as text (issue 9.15)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from arledger import Ledger
from arledger.adapters.persistence.connections import PostgresConnections
from arledger.adapters.persistence.store import postgres_connect_args, store_env
from arledger.domain.errors import ConfigurationError, StoreUnavailableError
from tests.conftest import POSTGRES_TEST, postgres_connection, require_postgres


def postgres_env(**overrides: str) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "postgres",
        "ARLEDGER_POSTGRES_HOST": POSTGRES_TEST["host"],
        "ARLEDGER_POSTGRES_PORT": POSTGRES_TEST["port"],
        "ARLEDGER_POSTGRES_DBNAME": POSTGRES_TEST["dbname"],
        "ARLEDGER_POSTGRES_USER": POSTGRES_TEST["user"],
    }
    env.update(overrides)
    return env


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose server accepts TCP connections (the kernel completes them from the
    backlog) and never answers: a hung or firewalled PostgreSQL."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def test_an_unreachable_server_is_a_store_unavailable_error_naming_host_and_port() -> None:
    port = closed_port()

    with pytest.raises(StoreUnavailableError) as error:
        Ledger(env=postgres_env(ARLEDGER_POSTGRES_PORT=str(port)))

    message = error.value.message
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert "ARLEDGER_POSTGRES_HOST" in message
    assert "ARLEDGER_POSTGRES_PORT" in message
    assert f"postgres@127.0.0.1:{port}/test" in error.value.store
    assert "ARLEDGER_POSTGRES_PORT" in error.value.setting


def test_a_database_that_does_not_exist_names_the_dbname_setting() -> None:
    require_postgres()

    with pytest.raises(StoreUnavailableError) as error:
        Ledger(env=postgres_env(ARLEDGER_POSTGRES_DBNAME="no_such_db_i9"))

    assert "\n" not in error.value.message
    assert 'database "no_such_db_i9" does not exist' in error.value.message
    assert "ARLEDGER_POSTGRES_DBNAME" == error.value.setting


def test_a_user_that_does_not_exist_names_the_user_setting() -> None:
    require_postgres()

    with pytest.raises(StoreUnavailableError) as error:
        Ledger(env=postgres_env(ARLEDGER_POSTGRES_USER="no_such_user_i9"))

    assert "\n" not in error.value.message
    assert 'role "no_such_user_i9" does not exist' in error.value.message
    assert "ARLEDGER_POSTGRES_USER" in error.value.setting


def test_a_server_that_never_answers_times_out_instead_of_hanging(silent_server: int) -> None:
    started = time.monotonic()

    with pytest.raises(StoreUnavailableError) as error:
        Ledger(
            env=postgres_env(
                ARLEDGER_POSTGRES_PORT=str(silent_server), ARLEDGER_POSTGRES_CONNECT_TIMEOUT="2"
            )
        )

    assert time.monotonic() - started < 15  # two attempts (SSL, then plain) of 2 s at most
    assert "timeout" in error.value.message.lower()
    assert "ARLEDGER_POSTGRES_CONNECT_TIMEOUT" in error.value.message


def test_connections_have_a_connect_timeout_by_default() -> None:
    settings = store_env({"ARLEDGER_STORE": "postgres"})

    assert "10" == postgres_connect_args(settings)["connect_timeout"]
    assert "10" == settings["POSTGRES_CONNECT_TIMEOUT"]  # the library's pool waits as long


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1.5"])
def test_a_bad_connect_timeout_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError, match="ARLEDGER_POSTGRES_CONNECT_TIMEOUT"):
        store_env({"ARLEDGER_STORE": "postgres", "ARLEDGER_POSTGRES_CONNECT_TIMEOUT": value})


def test_arledger_db_that_is_not_a_sqlite_file_is_refused_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a database\n")

    with pytest.raises(StoreUnavailableError) as error:
        Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(text)})

    assert "\n" not in error.value.message
    assert str(text) in error.value.message
    assert "not a SQLite database" in error.value.message
    assert "ARLEDGER_DB" == error.value.setting
    assert "these are my notes, not a database\n" == text.read_text()
    assert ["notes.txt"] == [p.name for p in tmp_path.iterdir()]  # no -wal, -shm or journal


def test_arledger_db_in_a_folder_that_does_not_exist_is_a_store_unavailable_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(StoreUnavailableError) as error:
        Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "no" / "a.db")})

    assert "ARLEDGER_DB" == error.value.setting
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "schema",
    ['ar"; DROP TABLE x; --', "ar.events", "Ar", "1ar", "ar-1", "", " ar", "a" * 64],
)
def test_a_schema_name_that_is_not_a_plain_identifier_is_refused_before_connecting(
    schema: str,
) -> None:
    env = postgres_env(ARLEDGER_POSTGRES_SCHEMA=schema, ARLEDGER_POSTGRES_PORT=str(closed_port()))
    if not schema:
        store_env(env)  # empty: the default schema
        return

    with pytest.raises(ConfigurationError) as error:
        Ledger(env=env)  # a configuration error, not a connection refused

    assert "ARLEDGER_POSTGRES_SCHEMA" in error.value.message
    assert schema == error.value.schema


def test_the_librarys_own_schema_key_is_checked_too() -> None:
    with pytest.raises(ConfigurationError, match="POSTGRES_SCHEMA"):
        store_env({"ARLEDGER_STORE": "postgres", "POSTGRES_SCHEMA": 'x" CASCADE'})


def test_read_model_tables_refuse_a_schema_that_is_not_a_plain_identifier() -> None:
    settings = store_env(postgres_env(ARLEDGER_POSTGRES_PORT="1"))

    with pytest.raises(ConfigurationError):
        PostgresConnections({**settings, "POSTGRES_SCHEMA": 'x"; DROP TABLE y; --'})


def test_a_schema_name_cannot_run_sql_in_the_read_model_tables() -> None:
    """Before the fix ``SET search_path TO "{schema}"`` ran what the name held: here a DROP
    TABLE of a table in another schema."""
    require_postgres()
    from psycopg.sql import SQL, Identifier

    victim = f"victim_{uuid.uuid4().hex[:12]}"
    hostile = f'x"; DROP TABLE {victim}.precious; SET search_path TO "x'
    with postgres_connection() as connection:
        connection.execute(SQL("CREATE SCHEMA {}").format(Identifier(victim)))
        connection.execute(SQL("CREATE TABLE {}.precious (id int)").format(Identifier(victim)))
    settings = store_env(postgres_env())
    try:
        with pytest.raises(ConfigurationError) as error:
            PostgresConnections({**settings, "POSTGRES_SCHEMA": hostile})

        assert hostile == error.value.schema
        with postgres_connection() as connection:
            row = connection.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = 'precious'",
                (victim,),
            ).fetchone()
        assert (1,) == row
    finally:
        with postgres_connection() as connection:
            connection.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(victim)))


def test_the_constructors_store_settings_win_over_the_process_environment_for_the_library(
    postgres_schema: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library looks up ``ARLEDGER_<key>`` before ``<key>``: a schema in the process
    environment must not send its tables elsewhere than the read models."""
    monkeypatch.setenv("ARLEDGER_POSTGRES_SCHEMA", "not_this_one")

    ledger = Ledger(env=postgres_schema)

    assert postgres_schema["ARLEDGER_POSTGRES_SCHEMA"] == ledger.recorder.datastore.schema
    ledger.close()


def test_opening_a_ledger_keeps_the_locks_of_the_files_connections_in_the_process(
    tmp_path: Path,
) -> None:
    """Checking the file must not open and close a descriptor of its own: that drops every
    POSIX lock the process holds on the file, among them the shared lock each WAL connection
    keeps, so another process closing its last connection deletes the write-ahead log under
    this one (a 1M-invoice store was corrupted so)."""
    path = tmp_path / "ledger.db"
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}
    Ledger(env=env).close()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
        Ledger(env=env).close()  # a second Ledger of this process on the file
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('SELECT count(*) FROM sqlite_master').fetchall(); c.close()",
                str(path),
            ],
            check=True,
        )

        assert (tmp_path / "ledger.db-wal").exists()  # still this process's, not deleted
    finally:
        holder.close()
