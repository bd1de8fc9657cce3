"""Shared fixtures: Hypothesis profiles, a fixed clock, stores for the ledger suite, and the
Numba kernels compiled once per session.

The query engine's kernels are compiled (or, with a warm cache, loaded) by ``arledger
warm-up``'s function before the first test, and the time it took is printed, so no test pays
~35 s of compilation unknowingly; the summary at the end names any kernel variant compiled
after it (a test that feeds the kernels arrays of other types than the engine does). Under
pytest-xdist (the README's test command runs ``tests`` with ``-n auto --dist worksteal``) the
workers take the warm-up in turn under a file lock: the first compiles into the on-disk cache,
the others load from it, instead of every worker compiling the same kernels at once on a cold
cache.

PostgreSQL is at 127.0.0.1:5432, database ``test`` (trust auth). Each test gets a schema of
its own, dropped afterwards. Under CI=true a missing server fails the tests instead of
skipping them, so CI can never pass by not testing the production store.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from arledger.adapters.read_models import warm_up

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

POSTGRES_TEST = {
    "host": "127.0.0.1",
    "port": "5432",
    "dbname": "test",
    "user": os.environ.get("ARLEDGER_TEST_POSTGRES_USER", "postgres"),
}


class FixedClock:
    """A clock for tests: starts at a fixed UTC instant and moves one second per reading."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def postgres_available() -> str | None:
    """None when the test database answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - dev extra missing
        return f"psycopg not installed: {error}"
    try:
        with psycopg.connect(
            host=POSTGRES_TEST["host"],
            port=POSTGRES_TEST["port"],
            dbname=POSTGRES_TEST["dbname"],
            user=POSTGRES_TEST["user"],
            connect_timeout=5,
        ) as connection:
            connection.execute("SELECT 1")
    except Exception as error:
        return f"PostgreSQL at 127.0.0.1:5432/test unavailable: {error}"
    return None


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI=true needs PostgreSQL: {reason}")
    pytest.skip(reason)


def postgres_connection() -> Any:
    """An autocommit connection to the test database."""
    import psycopg

    return psycopg.connect(
        host=POSTGRES_TEST["host"],
        port=POSTGRES_TEST["port"],
        dbname=POSTGRES_TEST["dbname"],
        user=POSTGRES_TEST["user"],
        autocommit=True,
    )


def create_postgres_schema(prefix: str = "t") -> tuple[str, dict[str, str]]:
    """A fresh schema in the test database and the ledger env pointing at it."""
    from psycopg.sql import SQL, Identifier

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with postgres_connection() as connection:
        connection.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    return schema, {
        "ARLEDGER_STORE": "postgres",
        "ARLEDGER_POSTGRES_HOST": POSTGRES_TEST["host"],
        "ARLEDGER_POSTGRES_PORT": POSTGRES_TEST["port"],
        "ARLEDGER_POSTGRES_DBNAME": POSTGRES_TEST["dbname"],
        "ARLEDGER_POSTGRES_USER": POSTGRES_TEST["user"],
        "ARLEDGER_POSTGRES_SCHEMA": schema,
    }


def drop_postgres_schemas(*schemas: str) -> None:
    from psycopg.sql import SQL, Identifier

    with postgres_connection() as connection:
        for schema in schemas:
            connection.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))


@contextmanager
def postgres_schemas(prefix: str) -> Iterator[Callable[[], dict[str, str]]]:
    """A maker of fresh schemas (returning the ledger env of each); all dropped at the end."""
    require_postgres()
    made: list[str] = []

    def make() -> dict[str, str]:
        schema, env = create_postgres_schema(prefix)
        made.append(schema)
        return env

    try:
        yield make
    finally:
        drop_postgres_schemas(*made)


@pytest.fixture
def postgres_schema() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL schema and the ledger env pointing at it."""
    require_postgres()
    schema, env = create_postgres_schema()
    try:
        yield env
    finally:
        drop_postgres_schemas(schema)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The ledger environment for each of the three stores, in turn."""
    if request.param == "memory":
        yield {"ARLEDGER_STORE": "memory"}
    elif request.param == "sqlite":
        yield {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    else:
        yield request.getfixturevalue("postgres_schema")


@pytest.fixture(params=["sqlite", "postgres"])
def persistent_store_env(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The stores that outlive one Ledger instance (every in-memory ledger is its own store)."""
    if request.param == "sqlite":
        yield {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    else:
        yield request.getfixturevalue("postgres_schema")


@contextmanager
def _one_worker_at_a_time(request: pytest.FixtureRequest, name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by the xdist workers of this run (no-op without xdist)."""
    if not hasattr(request.config, "workerinput"):
        yield
        return
    shared = request.getfixturevalue("tmp_path_factory").getbasetemp().parent
    with (shared / name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def no_terminal_size_from_the_runner() -> Iterator[None]:
    """pytest-xdist's workers run with COLUMNS=80 and LINES=24 in their environment, a plain
    pytest with neither: a CLI test that does not set COLUMNS itself would see tables laid out
    for 80 columns under ``-n`` and for the unattended width otherwise. The session starts
    without them (before any fixture of a module or class); tests about widths set COLUMNS
    (CliRunner's env)."""
    taken = {name: os.environ.pop(name) for name in ("COLUMNS", "LINES") if name in os.environ}
    yield
    os.environ.update(taken)


WARMED_UP: dict[str, int] = {}
"""Kernel variants per kernel right after the session's warm-up (empty before it ran)."""


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels(request: pytest.FixtureRequest) -> warm_up.WarmUpReport:
    """Every kernel variant the engine uses, compiled (or loaded from the cache) once."""
    with _one_worker_at_a_time(request, "numba-warm-up.lock"):
        report = warm_up.warm_up()
    WARMED_UP.update({name: len(d.signatures) for name, d in warm_up.dispatchers().items()})
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"numba warm-up: {report.compiled} kernel variant(s) compiled, {report.loaded} "
            f"loaded from {report.cache_dir}, {report.seconds:.1f} s"
        )
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the kernel variants compiled after the warm-up (types the engine never uses)."""
    if not WARMED_UP:
        return
    later = {
        name: len(d.signatures) - WARMED_UP.get(name, 0)
        for name, d in warm_up.dispatchers().items()
        if len(d.signatures) > WARMED_UP.get(name, 0)
    }
    if later:
        listed = ", ".join(f"{name} +{count}" for name, count in sorted(later.items()))
        terminalreporter.write_line(f"numba: variants compiled after the warm-up: {listed}")
