"""The eventsourcing library's own recorder conformance suites, against our configured stores.

The suites (``eventsourcing.tests.persistence``) are what the library's authors hold every
recorder to: inserting and selecting, optimistic concurrency, notification ids, tracking and
waiting, concurrent writers. Here they run against the recorders our store configuration
(``arledger.adapters.persistence.store.store_env``) builds, for SQLite files and PostgreSQL;
each test gets a fresh file or a fresh schema.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from arledger.adapters.persistence.store import store_env
from tests.conftest import create_postgres_schema, drop_postgres_schemas, require_postgres

APPLICATION_NAME = "arledger"


def join_the_suites_reader_threads() -> None:
    """Wait for the reader threads ``test_concurrent_no_conflicts`` signals to stop but does not
    join: closing the store while one of them is inside SQLite crashes the interpreter."""
    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__name__", "") == "read_continuously":
            thread.join(timeout=30)
            assert not thread.is_alive(), "a reader thread of the suite did not stop"


class SQLiteStore:
    """A fresh SQLite file per test, configured the way the Ledger configures it."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        settings = store_env(
            {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(Path(self._tmp.name) / "t.db")}
        )
        self.env = Environment(APPLICATION_NAME, settings)
        self.factory: Any = InfrastructureFactory.construct(self.env)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        join_the_suites_reader_threads()
        super().tearDown()  # type: ignore[misc]
        self.factory.close()
        self._tmp.cleanup()


class PostgresStore:
    """A fresh PostgreSQL schema per test, configured the way the Ledger configures it."""

    def setUp(self) -> None:
        require_postgres()
        self._schema, ledger_env = create_postgres_schema("c")
        self.env = Environment(APPLICATION_NAME, store_env(ledger_env))
        self.factory: Any = InfrastructureFactory.construct(self.env)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        join_the_suites_reader_threads()
        super().tearDown()  # type: ignore[misc]
        self.factory.close()
        drop_postgres_schemas(self._schema)


# SQLite -----------------------------------------------------------------------------------------


class TestSQLiteAggregateRecorder(SQLiteStore, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder: AggregateRecorder = self.factory.aggregate_recorder()
        assert isinstance(recorder, SQLiteAggregateRecorder)
        return recorder


class TestSQLiteApplicationRecorder(SQLiteStore, ApplicationRecorderTestCase[Any]):
    def create_recorder(self) -> ApplicationRecorder:
        recorder: ApplicationRecorder = self.factory.application_recorder()
        assert isinstance(recorder, SQLiteApplicationRecorder)
        return recorder


class TestSQLiteTrackingRecorder(SQLiteStore, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder: TrackingRecorder = self.factory.tracking_recorder()
        assert isinstance(recorder, SQLiteTrackingRecorder)
        return recorder


class TestSQLiteProcessRecorder(SQLiteStore, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        recorder: ProcessRecorder = self.factory.process_recorder()
        assert isinstance(recorder, SQLiteProcessRecorder)
        return recorder


class TestSQLiteInfrastructureFactory(SQLiteStore, InfrastructureFactoryTestCase[SQLiteFactory]):
    def expected_factory_class(self) -> type[SQLiteFactory]:
        return SQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return type("SQLiteTrackingRecorderSubclass", (SQLiteTrackingRecorder,), {})

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder


# PostgreSQL -------------------------------------------------------------------------------------


@pytest.mark.postgres
class TestPostgresAggregateRecorder(PostgresStore, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        recorder: AggregateRecorder = self.factory.aggregate_recorder()
        assert isinstance(recorder, PostgresAggregateRecorder)
        return recorder


@pytest.mark.postgres
class TestPostgresApplicationRecorder(PostgresStore, ApplicationRecorderTestCase[Any]):
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = False  # sequences can leave gaps on rollback

    def create_recorder(self) -> ApplicationRecorder:
        recorder: ApplicationRecorder = self.factory.application_recorder()
        assert isinstance(recorder, PostgresApplicationRecorder)
        return recorder


@pytest.mark.postgres
class TestPostgresTrackingRecorder(PostgresStore, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        recorder: TrackingRecorder = self.factory.tracking_recorder()
        assert isinstance(recorder, PostgresTrackingRecorder)
        return recorder


@pytest.mark.postgres
class TestPostgresProcessRecorder(PostgresStore, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        recorder: ProcessRecorder = self.factory.process_recorder()
        assert isinstance(recorder, PostgresProcessRecorder)
        return recorder


@pytest.mark.postgres
class TestPostgresInfrastructureFactory(
    PostgresStore, InfrastructureFactoryTestCase[PostgresFactory]
):
    def expected_factory_class(self) -> type[PostgresFactory]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return type("PostgresTrackingRecorderSubclass", (PostgresTrackingRecorder,), {})

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


del AggregateRecorderTestCase, ApplicationRecorderTestCase, TrackingRecorderTestCase
del ProcessRecorderTestCase, InfrastructureFactoryTestCase
