"""The portfolio read model maintained the eventsourcing library's stock way, for comparison.

``StockPortfolioProjection`` is a library ``Projection`` whose view is a
``PostgresTrackingRecorder`` subclass holding the SAME read model as
``arledger.adapters.read_models.runner``: one row per partition (customer, or the policy partition)
with the partition's portfolio state as JSON, and the routes from invoice, payment and promise
ids to their customer. It is run by the library's ``ProjectionRunner``, which feeds it one
event at a time from a subscription; ``process_event`` looks up the event's route, loads its
partition, folds the event, and writes the partition, any new route and the tracking record in
ONE transaction (exactly-once, one event per transaction), as the library's examples do.

The partitioning, the (de)serialisation and the fold are our own functions, so any difference
in throughput is the runner's design (per-event transactions and partition round trips against
batches), not the read model's.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg.sql import SQL, Identifier

from arledger.adapters.read_models.runner import dump_partition, load_partition, merge, partition_of
from arledger.projections import portfolio
from arledger.projections.portfolio import PortfolioState

PARTITIONS_TABLE = "stockportfolio_partitions"
ROUTES_TABLE = "stockportfolio_routes"


class StockPortfolioView(PostgresTrackingRecorder):
    """Partitions and routes beside the library's tracking table, in the same schema."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.partitions_table = SQL("{0}.{1}").format(schema, Identifier(PARTITIONS_TABLE))
        self.routes_table = SQL("{0}.{1}").format(schema, Identifier(ROUTES_TABLE))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "partition_key text PRIMARY KEY, state text NOT NULL)"
            ).format(self.partitions_table)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (aggregate_id uuid PRIMARY KEY, "
                "partition_key text NOT NULL)"
            ).format(self.routes_table)
        )
        self.select_route = SQL("SELECT partition_key FROM {0} WHERE aggregate_id = %s").format(
            self.routes_table
        )
        self.select_partition = SQL("SELECT state FROM {0} WHERE partition_key = %s").format(
            self.partitions_table
        )
        self.upsert_partition = SQL(
            "INSERT INTO {0} (partition_key, state) VALUES (%s, %s) "
            "ON CONFLICT (partition_key) DO UPDATE SET state = excluded.state"
        ).format(self.partitions_table)
        self.insert_route = SQL(
            "INSERT INTO {0} (aggregate_id, partition_key) VALUES (%s, %s)"
        ).format(self.routes_table)

    def route(self, aggregate_id: UUID) -> str | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_route, (aggregate_id,), prepare=True)
            row = curs.fetchone()
        return None if row is None else str(row["partition_key"])

    def partition(self, key: str) -> PortfolioState:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_partition, (key,), prepare=True)
            row = curs.fetchone()
        return portfolio.initial() if row is None else load_partition(row["state"])

    def apply(
        self, key: str, state: PortfolioState, route: UUID | None, tracking: Tracking
    ) -> None:
        """Write the partition, the new route and the tracking record in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.upsert_partition, (key, dump_partition(state)), prepare=True)
            if route is not None:
                curs.execute(self.insert_route, (route, key), prepare=True)
            self._insert_tracking(curs, tracking)

    def portfolio(self) -> PortfolioState:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT state FROM {0}").format(self.partitions_table))
            rows = curs.fetchall()
        return merge(load_partition(row["state"]) for row in rows)

    def reset(self) -> None:
        """Forget everything projected, so that the next runner starts from the log's start."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("TRUNCATE {0}, {1}").format(self.partitions_table, self.routes_table))
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE application_name <> %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
                ),
                (self.table_migration_identifier,),
            )


class StockPortfolioProjection(Projection[StockPortfolioView]):
    name = "stockportfolio"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        routes: dict[UUID, str] = {}
        known = self.view.route(domain_event.originator_id)
        if known is not None:
            routes[domain_event.originator_id] = known
        key, routed = partition_of(domain_event, routes)
        state = self.view.partition(key)
        portfolio.fold(state, domain_event)
        self.view.apply(key, state, routed, tracking)
