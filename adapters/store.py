"""Store selection by environment: in-memory, SQLite (the embedded default) or PostgreSQL.

``ARLEDGER_STORE`` = ``sqlite`` (default) | ``memory`` | ``postgres``.
- sqlite: the file in ``ARLEDGER_DB``, default ``arledger.db`` in the working directory.
- postgres: ``ARLEDGER_POSTGRES_HOST`` (127.0.0.1), ``_PORT`` (5432), ``_DBNAME`` (postgres),
  ``_USER`` (postgres), ``_PASSWORD`` (empty), ``_SCHEMA`` (empty: the default schema).
The result is the eventsourcing environment for ``Ledger``; keys eventsourcing already knows
(``PERSISTENCE_MODULE`` and friends) given explicitly win, so the library's own settings work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from arledger.domain.errors import ConfigurationError

STORES: Final = {
    "memory": "eventsourcing.popo",
    "sqlite": "eventsourcing.sqlite",
    "postgres": "eventsourcing.postgres",
}
DEFAULT_SQLITE_PATH: Final = "arledger.db"


def store_kind(environ: Mapping[str, str]) -> str:
    kind = environ.get("ARLEDGER_STORE", "sqlite").strip().lower() or "sqlite"
    if kind not in STORES:
        raise ConfigurationError(
            f"ARLEDGER_STORE={kind!r}; expected one of {', '.join(sorted(STORES))}", store=kind
        )
    return kind


def store_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The eventsourcing environment for the store ``environ`` selects."""
    kind = store_kind(environ)
    env = {"PERSISTENCE_MODULE": STORES[kind]}
    if kind == "sqlite":
        env["SQLITE_DBNAME"] = environ.get("ARLEDGER_DB") or DEFAULT_SQLITE_PATH
        # Only in-memory SQLite needs a shared cache; a file needs no lock timeout games, but a
        # second process writing at once should wait rather than fail at once.
        env["SQLITE_LOCK_TIMEOUT"] = environ.get("ARLEDGER_SQLITE_LOCK_TIMEOUT", "10")
    elif kind == "postgres":
        env.update(
            {
                "POSTGRES_HOST": environ.get("ARLEDGER_POSTGRES_HOST", "127.0.0.1"),
                "POSTGRES_PORT": environ.get("ARLEDGER_POSTGRES_PORT", "5432"),
                "POSTGRES_DBNAME": environ.get("ARLEDGER_POSTGRES_DBNAME", "postgres"),
                "POSTGRES_USER": environ.get("ARLEDGER_POSTGRES_USER", "postgres"),
                "POSTGRES_PASSWORD": environ.get("ARLEDGER_POSTGRES_PASSWORD", ""),
            }
        )
        schema = environ.get("ARLEDGER_POSTGRES_SCHEMA", "")
        if schema:
            env["POSTGRES_SCHEMA"] = schema
    for key in (
        "PERSISTENCE_MODULE",
        "SQLITE_DBNAME",
        "COMPRESSOR_TOPIC",
        "CIPHER_TOPIC",
        "CIPHER_KEY",
    ):
        if key in environ:
            env[key] = environ[key]
    return env


def describe_store(env: Mapping[str, str]) -> str:
    """Human description of the store an eventsourcing environment points at."""
    module = env.get("PERSISTENCE_MODULE", "")
    if module.endswith("sqlite"):
        return f"SQLite {env.get('SQLITE_DBNAME')}"
    if module.endswith("postgres"):
        return (
            f"PostgreSQL {env.get('POSTGRES_USER')}@{env.get('POSTGRES_HOST')}:"
            f"{env.get('POSTGRES_PORT')}/{env.get('POSTGRES_DBNAME')}"
        )
    return "in-memory"


TABLE_CREATION_LOCK: Final = 4_242_016
"""PostgreSQL advisory lock key held while a Ledger creates the library's tables."""


def postgres_connect_args(settings: Mapping[str, str]) -> dict[str, str]:
    """psycopg.connect keyword arguments for the PostgreSQL store an environment selects."""
    return {
        "host": settings["POSTGRES_HOST"],
        "port": settings["POSTGRES_PORT"],
        "dbname": settings["POSTGRES_DBNAME"],
        "user": settings["POSTGRES_USER"],
        "password": settings.get("POSTGRES_PASSWORD", ""),
    }


@contextmanager
def table_creation_serialised(settings: Mapping[str, str]) -> Iterator[None]:
    """On PostgreSQL, one process at a time creates the store's tables.

    The library creates its tables with CREATE ... IF NOT EXISTS when a Ledger is constructed;
    PostgreSQL fails such statements run at the same moment in two sessions ("duplicate key
    value violates unique constraint pg_type_typname_nsp_index", "tuple concurrently updated"),
    so services starting together on a new schema would crash. A session-level advisory lock on
    a connection of its own makes them take turns; other stores need nothing.
    """
    if not settings.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        yield
        return
    import psycopg

    connect = postgres_connect_args(settings)
    with (
        psycopg.connect(
            host=connect["host"],
            port=connect["port"],
            dbname=connect["dbname"],
            user=connect["user"],
            password=connect["password"],
            autocommit=True,
        ) as connection,
        connection.transaction(),
    ):
        # A transaction-level lock: released however the transaction ends (no unlock to lose,
        # also behind a pooler in transaction mode).
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (TABLE_CREATION_LOCK,))
        yield
