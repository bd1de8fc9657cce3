"""Store selection by environment: in-memory, SQLite (the embedded default) or PostgreSQL.

``ARLEDGER_STORE`` = ``sqlite`` (default) | ``memory`` | ``postgres``.
- sqlite: the file in ``ARLEDGER_DB``, default ``arledger.db`` in the working directory.
- postgres: ``ARLEDGER_POSTGRES_HOST`` (127.0.0.1), ``_PORT`` (5432), ``_DBNAME`` (postgres),
  ``_USER`` (postgres), ``_PASSWORD`` (empty), ``_SCHEMA`` (empty: the default schema; else a
  plain lower-case identifier), ``_CONNECT_TIMEOUT`` (10 seconds).
- every store: ``ARLEDGER_LOCK_TIMEOUT`` (10 s: the longest wait for a lock or a free
  connection), ``ARLEDGER_STATEMENT_TIMEOUT`` (120 s: the longest statement),
  ``ARLEDGER_IDLE_IN_TRANSACTION_TIMEOUT`` (60 s, PostgreSQL: a session left idle inside a
  transaction is ended by the server, and its locks with it). Read here, never in the domain;
  ``timeouts(settings)`` gives them to the adapters, and a wait that runs out raises
  ``StoreBusyError`` (``busy_errors``).
The result is the eventsourcing environment for ``Ledger``; keys eventsourcing already knows
(``PERSISTENCE_MODULE`` and friends) given explicitly win, so the library's own settings work.

Opening a store that cannot be used (a server that refuses or does not answer, a database or
user that does not exist, a file that is not a SQLite database) raises
``StoreUnavailableError`` naming the store, the reason and the setting to check: one line,
for services and the command line alike. A SQLite file the Ledger creates is readable by its
owner only (0600); SQLite gives its -wal and -shm files the database file's mode.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
from eventsourcing.persistence import InfrastructureFactoryError, PersistenceError

from arledger.domain.errors import ConfigurationError, StoreBusyError, StoreUnavailableError

STORES: Final = {
    "memory": "eventsourcing.popo",
    "sqlite": "eventsourcing.sqlite",
    "postgres": "eventsourcing.postgres",
}
DEFAULT_SQLITE_PATH: Final = "arledger.db"

POSTGRES_CONNECT_TIMEOUT_DEFAULT: Final = 10
"""Seconds to wait for a PostgreSQL server to accept a connection (per attempt) before
giving up: long enough for a loaded server across a network, short enough that a command
pointed at a host that swallows packets fails in seconds rather than hanging (psycopg's own
default is 130 s, the kernel's TCP retries about as long)."""

SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A PostgreSQL schema name arledger accepts: a plain identifier (lower case, as PostgreSQL
folds unquoted names, so that the schema a person creates with ``CREATE SCHEMA ar`` is the
one used), at most 63 bytes (PostgreSQL's limit). Anything else is refused before connecting:
the name is composed into statements, always as an identifier, but a name that needs quoting
is a mistake, and it once ran SQL of its own."""

LOCK_TIMEOUT_DEFAULT: Final = 10.0
"""Seconds any database wait for a lock (or for a free pooled connection) lasts at most before
``StoreBusyError``: a session that holds a lock for longer is stuck or doing something no
interactive query should wait behind; a service's request fails and can be retried rather than
queueing forever (the hang of issue 11: one connection idle in transaction stopped every
query of every process)."""
STATEMENT_TIMEOUT_DEFAULT: Final = 120.0
"""Seconds one statement may run: well above the longest one arledger issues (a page of
20,000 events, a batch of partitions; a rebuild's largest write is a few seconds)."""
IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT: Final = 60.0
"""Seconds PostgreSQL lets a session sit idle inside a transaction before ending it and
releasing its locks: a process that stops mid-transaction (stopped in a debugger, paused,
cut off) cannot hold the read models' tracking row for longer."""
TIMEOUT_SETTINGS: Final = {
    "ARLEDGER_LOCK_TIMEOUT": LOCK_TIMEOUT_DEFAULT,
    "ARLEDGER_STATEMENT_TIMEOUT": STATEMENT_TIMEOUT_DEFAULT,
    "ARLEDGER_IDLE_IN_TRANSACTION_TIMEOUT": IDLE_IN_TRANSACTION_TIMEOUT_DEFAULT,
}


@attrs.frozen
class Timeouts:
    """The database waits' limits, in seconds (see ``TIMEOUT_SETTINGS``)."""

    lock_s: float
    statement_s: float
    idle_in_transaction_s: float

    def postgres_options(self) -> str:
        """libpq ``options`` giving every statement of a session these limits."""
        return " ".join(
            f"-c {name}={round(seconds * 1000)}"
            for name, seconds in (
                ("lock_timeout", self.lock_s),
                ("statement_timeout", self.statement_s),
                ("idle_in_transaction_session_timeout", self.idle_in_transaction_s),
            )
        )


def timeouts(settings: Mapping[str, str]) -> Timeouts:
    """The limits ``store_env`` resolved (the defaults for settings made otherwise)."""

    def seconds(key: str) -> float:
        text = settings.get(key)
        return TIMEOUT_SETTINGS[key] if text is None else float(text)

    return Timeouts(
        lock_s=seconds("ARLEDGER_LOCK_TIMEOUT"),
        statement_s=seconds("ARLEDGER_STATEMENT_TIMEOUT"),
        idle_in_transaction_s=seconds("ARLEDGER_IDLE_IN_TRANSACTION_TIMEOUT"),
    )


def _seconds_setting(environ: Mapping[str, str], key: str) -> float:
    text = environ.get(key)
    if text is None or not text.strip():
        return TIMEOUT_SETTINGS[key]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(
            f"{key}={text!r}: expected a number of seconds above 0 (there is no 'wait forever')",
            setting=key,
        )
    return value


SQLITE_FILE_MODE: Final = 0o600
"""A new store file holds names and amounts: readable and writable by its owner only."""


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
    limits = {key: _seconds_setting(environ, key) for key in TIMEOUT_SETTINGS}
    env.update({key: repr(value) for key, value in limits.items()})
    # The library takes whole seconds; rounded up, so that it never waits less than asked.
    lock_whole = str(math.ceil(limits["ARLEDGER_LOCK_TIMEOUT"]))
    if kind == "sqlite":
        env["SQLITE_DBNAME"] = environ.get("ARLEDGER_DB") or DEFAULT_SQLITE_PATH
        # A second writer (thread or process) waits for the write lock rather than failing at
        # once, but not for ever. ARLEDGER_SQLITE_LOCK_TIMEOUT is the earlier name.
        env["SQLITE_LOCK_TIMEOUT"] = environ.get("ARLEDGER_SQLITE_LOCK_TIMEOUT", lock_whole)
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
        env["POSTGRES_CONNECT_TIMEOUT"] = _connect_timeout(environ)
        # The library's own pool: a session idle in a transaction is ended by the server, and
        # a connection is checked before it is handed out (a backend terminated meanwhile is
        # replaced, not failed on). ``configure_library_store`` then sets its lock timeout per
        # try (a tenth of ours) and gives its sessions the statement timeout.
        env["POSTGRES_LOCK_TIMEOUT"] = lock_whole
        env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] = str(
            math.ceil(limits["ARLEDGER_IDLE_IN_TRANSACTION_TIMEOUT"])
        )
        env["POSTGRES_PRE_PING"] = "y"
        schema = environ.get("ARLEDGER_POSTGRES_SCHEMA", "")
        if schema:
            env["POSTGRES_SCHEMA"] = postgres_schema(schema, "ARLEDGER_POSTGRES_SCHEMA")
    for key in (
        "PERSISTENCE_MODULE",
        "SQLITE_DBNAME",
        "POSTGRES_SCHEMA",
        "COMPRESSOR_TOPIC",
        "CIPHER_TOPIC",
        "CIPHER_KEY",
    ):
        if key in environ:
            env[key] = environ[key]
    if env.get("POSTGRES_SCHEMA"):
        postgres_schema(env["POSTGRES_SCHEMA"], "POSTGRES_SCHEMA")
    return env


def quoted_identifier(name: str) -> str:
    """``name`` quoted as a standard SQL identifier, for SQLite and DuckDB, which have no
    composition API like psycopg's ``sql.Identifier``: a double quote inside is doubled."""
    return '"' + name.replace('"', '""') + '"'


def postgres_schema(name: str, setting: str = "ARLEDGER_POSTGRES_SCHEMA") -> str:
    """``name`` if it is a schema name arledger accepts (see ``SCHEMA_NAME``), else a
    ``ConfigurationError`` naming the setting."""
    if SCHEMA_NAME.fullmatch(name) is None:
        raise ConfigurationError(
            f"{setting}={name!r} is not a plain schema name: use lower-case letters a-z, digits "
            "and underscores, not starting with a digit, at most 63 characters",
            schema=name,
            setting=setting,
        )
    return name


def _connect_timeout(environ: Mapping[str, str]) -> str:
    # The library reads the prefixed key first (its application is named arledger), so the
    # same order here keeps its pool and arledger's own connections on one timeout.
    for key in ("ARLEDGER_POSTGRES_CONNECT_TIMEOUT", "POSTGRES_CONNECT_TIMEOUT"):
        text = environ.get(key)
        if text is None:
            continue
        if not text.strip().isdigit() or int(text) < 1:
            raise ConfigurationError(
                f"{key}={text!r}: expected a whole number of seconds, at least 1", setting=key
            )
        return str(int(text))
    return str(POSTGRES_CONNECT_TIMEOUT_DEFAULT)


def describe_store(env: Mapping[str, str]) -> str:
    """Human description of the store an eventsourcing environment points at."""
    module = env.get("PERSISTENCE_MODULE", "")
    if module.endswith("sqlite"):
        return f"SQLite {env.get('SQLITE_DBNAME')}"
    if module.endswith("postgres"):
        return _describe_postgres(
            env.get("POSTGRES_USER"),
            env.get("POSTGRES_HOST"),
            env.get("POSTGRES_PORT"),
            env.get("POSTGRES_DBNAME"),
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
        "connect_timeout": settings.get(
            "POSTGRES_CONNECT_TIMEOUT", str(POSTGRES_CONNECT_TIMEOUT_DEFAULT)
        ),
    }


def postgres_connect_kwargs(connect: Mapping[str, str], limits: Timeouts | None) -> dict[str, Any]:
    """psycopg.connect keyword arguments: an autocommit session with ``limits`` on its waits
    (the defaults when None)."""
    return {
        "host": connect["host"],
        "port": connect["port"],
        "dbname": connect["dbname"],
        "user": connect["user"],
        "password": connect.get("password", ""),
        "connect_timeout": int(connect.get("connect_timeout", POSTGRES_CONNECT_TIMEOUT_DEFAULT)),
        "autocommit": True,
        "options": (limits or timeouts({})).postgres_options(),
    }


def connect_postgres(connect: Mapping[str, str], limits: Timeouts | None = None) -> Any:
    """An autocommit psycopg connection (``connect``: ``postgres_connect_args``) whose waits
    have ``limits``; a server that cannot be used raises ``StoreUnavailableError``."""
    import psycopg

    try:
        return psycopg.connect(**postgres_connect_kwargs(connect, limits))
    except psycopg.Error as error:
        raise postgres_unavailable(error, connect) from error


LIBRARY_WRITE_ATTEMPTS: Final = 10
"""How many times the eventsourcing library tries a PostgreSQL write (or read) that fails with
an operational error, such as a lock timeout, pausing 0.2 s between tries (its ``@retry`` on
``insert_events``): each try gets a tenth of the lock timeout, so that a command behind a held
lock gives up after about the lock timeout (plus ~2 s of pauses), not ten times it."""


def configure_library_store(factory: Any, settings: Mapping[str, str]) -> None:
    """Give the eventsourcing library's PostgreSQL sessions arledger's timeouts, before its
    pool opens and its recorder is built: the statement and idle-in-transaction timeouts as
    they are, the lock timeout split over the library's tries (``LIBRARY_WRITE_ATTEMPTS``), for
    its own ``LOCK TABLE`` (which sets it per transaction) and every other statement."""
    datastore: Any = getattr(factory, "datastore", None)
    pool = getattr(datastore, "pool", None)
    if not settings.get("PERSISTENCE_MODULE", "").endswith("postgres") or pool is None:
        return
    limits = timeouts(settings)
    per_try = attrs.evolve(limits, lock_s=round(limits.lock_s / LIBRARY_WRITE_ATTEMPTS, 3))
    # The library formats it into "SET LOCAL lock_timeout = '{0}s'"; PostgreSQL takes a
    # fraction of a second there (0.1s is 100 ms).
    datastore.lock_timeout = per_try.lock_s
    pool.kwargs["options"] = per_try.postgres_options()
    # No server-side prepared statements on the library's sessions. The library writes in
    # psycopg's pipeline mode and prepares its statements; a write that fails mid-pipeline (a
    # lock timeout, a concurrency conflict) can leave psycopg believing a statement prepared
    # that the server skipped, and a later write on that session then fails with "prepared
    # statement _pg3_N does not exist" (seen once under 16 threads and 4 processes sharing a
    # ledger: a lost write, not a business refusal). psycopg's documented remedy; measured
    # with the bulk-write benchmark, PostgreSQL's bulk and per-command rates stay as they were.
    pool.kwargs["prepare_threshold"] = None


_PSYCOPG_LOCK_CODES: Final = {"55P03"}
"""SQLSTATE lock_not_available: ``lock_timeout`` ran out (or NOWAIT)."""
_PSYCOPG_STATEMENT_CODES: Final = {"57014"}
"""SQLSTATE query_canceled: ``statement_timeout`` ran out (or a cancel request)."""


def busy_error(error: BaseException, settings: Mapping[str, str]) -> StoreBusyError | None:
    """``error`` (or one it was raised from) as ``StoreBusyError`` when it is a database wait
    that ran out of time; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _busy_kind(current)
        if found is not None:
            return store_busy(settings, *found, reason=first_line(current))
        current = current.__cause__ or current.__context__
    return None


def store_busy(
    settings: Mapping[str, str], what: str, setting: str, *, reason: str = ""
) -> StoreBusyError:
    """The refusal of a call whose ``what`` outlasted the limit ``setting`` names."""
    limits = timeouts(settings)
    waited = limits.statement_s if setting == "ARLEDGER_STATEMENT_TIMEOUT" else limits.lock_s
    store = describe_store(settings)
    return StoreBusyError(
        f"{store} is busy: {what} took longer than {waited:g} s ({setting}); nothing was "
        "recorded by this call, which may be retried",
        store=store,
        setting=setting,
        waited_s=waited,
        reason=reason or what,
    )


def _busy_kind(error: BaseException) -> tuple[str, str] | None:
    """(what waited, the setting that limits it) for a wait that ran out, else None."""
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return "waiting for a lock", "ARLEDGER_LOCK_TIMEOUT"
        if "interrupted" in text:
            return "a statement", "ARLEDGER_STATEMENT_TIMEOUT"
        return None
    pool_module = sys.modules.get("psycopg_pool")
    if pool_module is not None and isinstance(error, pool_module.PoolTimeout):
        return "waiting for a free connection", "ARLEDGER_LOCK_TIMEOUT"
    if type(error).__name__ == "ConnectionUnavailableError":  # the library's pools
        return "waiting for a free connection", "ARLEDGER_LOCK_TIMEOUT"
    code = (
        getattr(getattr(error, "diag", None), "sqlstate", None)
        if _is_psycopg_error(error)
        else None
    )
    if code in _PSYCOPG_LOCK_CODES:
        return "waiting for a lock", "ARLEDGER_LOCK_TIMEOUT"
    if code in _PSYCOPG_STATEMENT_CODES:
        return "a statement", "ARLEDGER_STATEMENT_TIMEOUT"
    return None


@contextmanager
def busy_errors(settings: Mapping[str, str]) -> Iterator[None]:
    """Database waits that run out of time within, raised as ``StoreBusyError``."""
    try:
        yield
    except Exception as error:
        busy = busy_error(error, settings)
        if busy is None:
            raise
        raise busy from error


def _describe_postgres(
    user: str | None, host: str | None, port: str | None, dbname: str | None
) -> str:
    return f"PostgreSQL {user}@{host}:{port}/{dbname}"


_PSYCOPG_PREFIX: Final = re.compile(
    r'^connection failed: connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: '
)
"""What psycopg puts before the reason a connection failed (the host and port, which the
store's description already names)."""


def first_line(error: BaseException) -> str:
    """A driver's message on one line, without what the store's description already says."""
    text = " ".join(str(error).split("\n")[0].split()) or type(error).__name__
    text = _PSYCOPG_PREFIX.sub("", text)
    return text.replace("FATAL: ", "").replace("ERROR: ", "")


_NO_ANSWER: Final = (
    "ARLEDGER_POSTGRES_HOST, ARLEDGER_POSTGRES_PORT, ARLEDGER_POSTGRES_CONNECT_TIMEOUT"
)
_POSTGRES_CAUSES: Final = (
    # (words in the driver's message, settings to check), first match wins.
    (("timeout",), _NO_ANSWER),
    (("couldn't get a connection",), _NO_ANSWER),  # the library's pool waited in vain
    (("database", "does not exist"), "ARLEDGER_POSTGRES_DBNAME"),
    (("role", "does not exist"), "ARLEDGER_POSTGRES_USER"),
    (("authentication",), "ARLEDGER_POSTGRES_USER, ARLEDGER_POSTGRES_PASSWORD"),
    (("password",), "ARLEDGER_POSTGRES_USER, ARLEDGER_POSTGRES_PASSWORD"),
    (("schema", "does not exist"), "ARLEDGER_POSTGRES_SCHEMA"),
    (("permission denied",), "ARLEDGER_POSTGRES_USER (its rights on the database and schema)"),
)


def postgres_unavailable(error: BaseException, connect: Mapping[str, str]) -> StoreUnavailableError:
    """A driver's or the library's error on opening a PostgreSQL store, as arledger's."""
    reason = first_line(error)
    lowered = reason.lower()
    setting = "ARLEDGER_POSTGRES_HOST, ARLEDGER_POSTGRES_PORT"
    for words, settings in _POSTGRES_CAUSES:
        if all(word in lowered for word in words):
            setting = settings
            break
    store = _describe_postgres(
        connect.get("user"), connect.get("host"), connect.get("port"), connect.get("dbname")
    )
    hint = " and that the server is running" if setting.startswith("ARLEDGER_POSTGRES_HOST") else ""
    return StoreUnavailableError(
        f"{store} cannot be used: {reason}; check {setting}{hint}",
        store=store,
        setting=setting,
        reason=reason,
    )


def sqlite_unavailable(error: BaseException | str, path: str) -> StoreUnavailableError:
    """A driver's or the library's error on opening a SQLite store, as arledger's."""
    reason = error if isinstance(error, str) else first_line(error)
    store = f"SQLite {path}"
    return StoreUnavailableError(
        f"{store} cannot be used: {reason}; check ARLEDGER_DB (a SQLite database file, or the "
        "name of a new one in a folder you can write to)",
        store=store,
        setting="ARLEDGER_DB",
        reason=reason,
    )


def sqlite_in_memory(settings: Mapping[str, str]) -> bool:
    """Whether the settings name an in-memory SQLite database (one process's alone)."""
    if not settings.get("PERSISTENCE_MODULE", "").endswith("sqlite"):
        return False
    name = settings.get("SQLITE_DBNAME", "")
    return not name or ":memory:" in name or "mode=memory" in name


def _sqlite_path(settings: Mapping[str, str]) -> str | None:
    """The file of a SQLite store, or None for in-memory databases and URIs."""
    if not settings.get("PERSISTENCE_MODULE", "").endswith("sqlite"):
        return None
    name = settings.get("SQLITE_DBNAME", "")
    if sqlite_in_memory(settings) or name.startswith("file:"):
        return None
    return name


def prepare_sqlite_file(settings: Mapping[str, str]) -> None:
    """Check the SQLite file a store names before the library opens it, and create it
    readable by its owner only if it does not exist yet.

    The library would create it with the process's umask (0644: anyone on the machine could
    read the ledger), and it opens a file that is not a database without complaint until its
    first statement fails; neither happens here. An existing file keeps the mode it has.
    """
    name = _sqlite_path(settings)
    if name is None:
        return
    path = Path(name)
    if path.is_dir():
        raise sqlite_unavailable("it is a folder, not a file", name)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise sqlite_unavailable(f"the folder {path.parent} does not exist", name) from None
    except OSError as error:
        raise sqlite_unavailable(error.strerror or str(error), name) from None
    else:
        os.close(descriptor)
        return
    # Through SQLite, not a descriptor of our own: closing any descriptor of the file drops
    # every POSIX lock this process holds on it, its open connections' locks included, and
    # another process may then write under a reader (a second Ledger opened on the file of a
    # Ledger in use in the same process corrupted a 1M-invoice store while another process read
    # it). SQLite keeps one set of locks per file per process and defers closing descriptors.
    try:
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        text = str(error)
        if "not a database" in text:
            raise sqlite_unavailable("the file is not a SQLite database", name) from None
        if "locked" not in text and "busy" not in text:  # a writer at work: the library waits
            raise sqlite_unavailable(text, name) from None


@contextmanager
def store_errors(settings: Mapping[str, str]) -> Iterator[None]:
    """Errors of the driver or the library while opening the store ``settings`` select,
    raised as ``StoreUnavailableError`` (one line: what failed, where, what to check)."""
    module = settings.get("PERSISTENCE_MODULE", "")
    try:
        yield
    except (PersistenceError, sqlite3.Error) as error:
        if module.endswith("sqlite"):
            raise sqlite_unavailable(error, settings.get("SQLITE_DBNAME", "")) from error
        if module.endswith("postgres"):
            raise postgres_unavailable(error, postgres_connect_args(settings)) from error
        raise
    except InfrastructureFactoryError as error:
        raise ConfigurationError(
            f"{describe_store(settings)}: {first_line(error)}", store=module
        ) from error
    except Exception as error:
        if module.endswith("postgres") and _is_psycopg_error(error):
            raise postgres_unavailable(error, postgres_connect_args(settings)) from error
        raise


def _is_psycopg_error(error: BaseException) -> bool:
    psycopg = sys.modules.get("psycopg")  # never imported here when it was not used
    return psycopg is not None and isinstance(error, psycopg.Error)


def is_driver_error(error: BaseException) -> bool:
    """An error of a database driver (sqlite3, psycopg) that the library did not translate."""
    return isinstance(error, sqlite3.Error) or _is_psycopg_error(error)


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
    with (
        connect_postgres(postgres_connect_args(settings)) as connection,
        connection.transaction(),
    ):
        # A transaction-level lock: released however the transaction ends (no unlock to lose,
        # also behind a pooler in transaction mode).
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (TABLE_CREATION_LOCK,))
        yield
