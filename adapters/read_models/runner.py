"""Read models stored in the ledger's database, kept up to date by a batched projection runner.

The stored read model is the portfolio fold (``projections.portfolio``), partitioned by
customer: one row per customer holding every fact of that customer (its account history,
invoices with their dated movements, disputes, payments, promises, actions), one row for the
escalation policy versions, and a routing table from invoice, payment and promise ids to their
customer. Ageing, escalation status, the worklist and promise status are pure queries over
those facts for any as-of date, so serving them reads a few rows instead of replaying history.

The runner reads the event log in batches after its tracking position, folds each batch into
the partitions it touches, and writes the changed partitions, the new routes and the new
position in ONE transaction: a batch is applied exactly once, and a runner stopped or killed
at any point resumes from the last committed position. ``rebuild`` clears the tables and folds
the whole log again.

Where a rebuild's time goes, and what keeps it small (measured on the 21,000-event demo log on
PostgreSQL): decoding stored events (``runner_events``: msgspec straight into the attrs events,
not cattrs over parsed dicts), folding (``portfolio.fold`` itself, untouched), dumping changed
partitions (msgspec again), and the database's reads and writes. Reads and writes wait on
threads of their own while this one decodes and folds, partitions go in by binary COPY
compressed with lz4, batches of a catch-up grow so that a rebuild writes each partition about
one and a half times rather than once per batch, and the garbage collector pauses while the
partitions are built.

Before serving, the runner checks that the log still holds, at its tracking position, the
event it folded last (``ProjectionRunner._checked_position``): a log cut short or restored
from an older copy is refused with ``ReadModelMismatchError`` until ``rebuild``. With the
event store's cipher configured, partitions are stored encrypted with it and the routes under
keyed hashes of the aggregate ids (``PartitionCodec``).

Threads: every statement or transaction runs on a connection borrowed from the Ledger's pool
(``adapters/persistence/connections.py``) and given back outside any transaction, so a
failed catch-up is rolled back and holds nothing; one catch-up runs at a time per runner, and
the calls queued behind it are served by the next one (it began after they arrived). Waits
are bounded by the store's lock and statement timeouts (``StoreBusyError``).

Tables (SQLite file or PostgreSQL schema of the ledger):
``arledger_rm_partitions(partition_key, state)``, ``arledger_rm_routes(aggregate_id,
partition_key)``, ``arledger_rm_tracking(name, notification_id, originator_id,
originator_version)`` (the last two: the identity of the event at ``notification_id``).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final, Protocol, TypeAlias
from uuid import UUID

import attrs
import msgspec

from arledger.adapters.persistence.connections import (
    Connections,
    PostgresConnections,
    SQLiteConnections,
    connections_for,
)
from arledger.adapters.persistence.store import busy_errors, store_busy, store_errors, timeouts
from arledger.adapters.read_models.runner_events import (
    EventDecoder,
    EventReader,
    PostgresEventReader,
    RecorderEventReader,
    StoredRow,
)
from arledger.domain.errors import (
    ConcurrencyError,
    ConfigurationError,
    ReadModelMismatchError,
)
from arledger.domain.events import (
    POLICY_RENAMED_V2,
    CollectionActionRecorded,
    CreditNoteRegistered,
    CustomerAccountOpened,
    DelinquencyDiagnosed,
    EscalationPolicyAdopted,
    Event,
    ExchangeRateRecorded,
    InvoiceIssued,
    NegotiationWaived,
    PaymentReceived,
    PromiseMade,
    ReductionRequested,
    upcast_policy_v1_v2,
)
from arledger.projections import portfolio
from arledger.projections.portfolio import PortfolioState

BATCH_SIZE_DEFAULT: Final = 5000
"""Events in a catch-up's first transaction (and in ``run_batch``'s): large enough to amortise
the commit."""
BATCH_EVENTS_MAX: Final = 1_000_000
"""Most events in one transaction of a catch-up, however far it has gone: bounds what a killed
runner loses. Memory is bounded apart, by reading the log in pages."""
EVENTS_PER_READ_MAX: Final = 5000
"""Events read, decoded and folded at a time (a few megabytes of stored events and their
decoded objects)."""

STALE_RETRIES_MAX: Final = 100
"""Catch-ups restarted because another runner wrote a batch first, before giving up with
``ConcurrencyError``. Each restart reads on from the other runner's position, so every retry
is progress; a hundred in a row means runners are racing without end (a bug worth seeing)."""

POLICY_PARTITION: Final = "policy"
RUNNER_NAME: Final = "portfolio"

_PARTITION_ENCODER: Final = msgspec.json.Encoder()
_PARTITION_DECODER: Final = msgspec.json.Decoder(PortfolioState)


def dump_partition(state: PortfolioState) -> str:
    """A partition's state as JSON: the attrs fields by name, dates ISO, UUIDs as text, enums by
    their value, tuples as arrays (the converter's conventions, so that partitions stored by
    earlier versions still load). msgspec walks the attrs values in C, about 8x faster than
    unstructuring with cattrs and then dumping with json."""
    try:
        return _PARTITION_ENCODER.encode(state).decode()
    except UnicodeEncodeError:
        # Text with a lone surrogate (the domain accepts it): msgspec cannot write it as UTF-8;
        # the json module escapes it ("\\ud800"), as the mapper does for events.
        return json.dumps(msgspec.to_builtins(state), separators=(",", ":"))


_POLICY_KEYS_V1: Final = tuple(f'"{old}":' for old in POLICY_RENAMED_V2)
"""Keys of a policy stored before ``EscalationPolicyAdopted`` class version 2. Only a key is
followed by a colon outside a string (a string's own quotes are escaped), so finding one means
a partition written before the rename."""


_CALENDAR_KEY_V1: Final = '"calendar":'
"""A customer's one payment calendar, as partitions stored it before calendars became dated
history (``CustomerHistory.calendars``)."""


def _upcast_calendar_v1(customer: dict[str, Any]) -> None:
    """A customer stored with its latest calendar only: its history is not in the partition,
    so that calendar is taken as in force from the account's opening (what every query
    assumed then); ``projections rebuild`` folds the dated history from the log.
    ``Ledger.expected_pay_on`` does not read partitions: it folds the customer's events."""
    calendar = customer.pop("calendar", None)
    if "calendars" not in customer:
        unset = calendar is None or (calendar[0] is None and not calendar[1])
        customer["calendars"] = [] if unset else [[customer["opened_on"], calendar]]


def load_partition(text: str | bytes) -> PortfolioState:
    """The state of a partition ``dump_partition`` wrote, by this version or an earlier one:
    policies stored before their thresholds were renamed (``large_above``) are upcast, and a
    customer's calendar stored before calendars were dated becomes a history of one entry,
    which msgspec would not do (it would drop the unknown key and take the default); so are
    customers stored before reconciliation items were kept (``_with_reconciliations``)."""
    return _with_reconciliations(_decoded_partition(text))


def _with_reconciliations(state: PortfolioState) -> PortfolioState:
    """A customer stored before reconciliation items were kept has none, although its
    acknowledged differences opened one each (the fold keeps one per difference, resolved or
    not): they are built from its confirmations, open (nothing could resolve them then)."""
    for customer in state.customers.values():
        if customer.reconciliations:
            continue
        for confirmation in customer.confirmations:
            if confirmation.difference_minor and confirmation.acknowledged_on is not None:
                customer.reconciliations.append(
                    portfolio.Reconciliation(
                        confirmation_reference=confirmation.reference,
                        difference_minor=confirmation.difference_minor,
                        currency=confirmation.currency,
                        opened_on=confirmation.acknowledged_on,
                    )
                )
    return state


def _decoded_partition(text: str | bytes) -> PortfolioState:
    keys = (*_POLICY_KEYS_V1, _CALENDAR_KEY_V1)
    if isinstance(text, str):
        written_before = any(key in text for key in keys)
    else:
        written_before = any(key.encode() in text for key in keys)
    if written_before:
        state = json.loads(text)
        for version in state.get("policy_versions", ()):
            upcast_policy_v1_v2(version["policy"])
        for customer in state.get("customers", {}).values():
            _upcast_calendar_v1(customer)
        return msgspec.convert(state, PortfolioState)
    try:
        return _PARTITION_DECODER.decode(text)
    except msgspec.DecodeError:
        # An escaped lone surrogate, which msgspec's JSON reader refuses: read it with the json
        # module, then let msgspec build the state (it raises if the state is not one).
        return msgspec.convert(json.loads(text), PortfolioState)


ENCRYPTED_PREFIX: Final = "enc1:"
"""Starts a partition stored encrypted (then base64 of the cipher's output); a plaintext
partition is a JSON object and starts with ``{``."""


class PartitionCodec:
    """Partitions to the text stored and back, through the event store's cipher if it has one.

    With ``CIPHER_TOPIC``/``CIPHER_KEY`` configured the library encrypts every stored event;
    the read models hold the same names and amounts, so they are encrypted with the same
    cipher (AES-GCM for the library's ``AESCipher``: each partition written gets a nonce of its
    own, and a changed or foreign partition fails its check). The text columns stay text:
    base64 after a prefix, so that tables written with and without a cipher tell themselves
    apart and a mismatch is a clear error rather than a decoding failure.
    """

    def __init__(self, cipher: Any = None, cipher_key: str | None = None) -> None:
        self.cipher = cipher
        self._route_key = (
            None
            if cipher is None
            else hashlib.sha256(b"arledger routes\0" + (cipher_key or "").encode()).digest()
        )
        """Keys the routes' aggregate ids (``route_id``); derived from ``CIPHER_KEY``."""

    @classmethod
    def of(cls, ledger: Any) -> PartitionCodec:
        """The codec of a Ledger's read models: its store's cipher and the key the routes are
        keyed with (``CIPHER_KEY``)."""
        return cls(ledger.mapper.cipher, ledger.factory.env.get("CIPHER_KEY"))

    @property
    def keyed_routes(self) -> bool:
        return self._route_key is not None

    def route_id(self, aggregate_id: UUID) -> UUID:
        """The id a route is stored under: the aggregate's own without a cipher; with one, a
        keyed hash of it (BLAKE2b's keyed mode, 128 bits, so still a UUID column; half the
        time of an HMAC-SHA-256 here). The events table shows an invoice's id but not its
        customer; stored as they are, the routes would pair every invoice, payment and promise
        with its customer id in the clear. Keyed, the pairs link to no event, and ids guessed
        from business keys (uuid5) cannot be looked up."""
        if self._route_key is None:
            return aggregate_id
        digest = hashlib.blake2b(aggregate_id.bytes, key=self._route_key, digest_size=16)
        return UUID(bytes=digest.digest())

    def stored_routes(self, routes: Mapping[UUID, str]) -> Mapping[UUID, str]:
        """``routes`` as written: under ``route_id``."""
        if self._route_key is None:
            return routes
        return {self.route_id(aggregate_id): key for aggregate_id, key in routes.items()}

    def dump(self, state: PortfolioState) -> str:
        text = dump_partition(state)
        if self.cipher is None:
            return text
        sealed = self.cipher.encrypt(text.encode("utf-8"))
        return ENCRYPTED_PREFIX + base64.b64encode(sealed).decode("ascii")

    def load(self, text: str) -> PortfolioState:
        encrypted = text.startswith(ENCRYPTED_PREFIX)
        if self.cipher is None:
            if encrypted:
                raise ConfigurationError(
                    "the stored read models are encrypted and no cipher is configured: set "
                    "CIPHER_TOPIC and CIPHER_KEY as for the events",
                    setting="CIPHER_KEY",
                )
            return load_partition(text)
        if not encrypted:
            raise ConfigurationError(
                "the stored read models are not encrypted but a cipher is configured: they "
                "were written without one; rebuild them (arledger projections rebuild) with "
                "the CIPHER_TOPIC and CIPHER_KEY of the events",
                setting="CIPHER_KEY",
            )
        try:
            plain = self.cipher.decrypt(base64.b64decode(text[len(ENCRYPTED_PREFIX) :]))
        except ValueError:
            # AES-GCM's tag check: another key, or a partition that was altered.
            raise ConfigurationError(
                "the stored read models cannot be decrypted with this CIPHER_KEY (another key, "
                "or altered rows); use the key of the events, or rebuild them",
                setting="CIPHER_KEY",
            ) from None
        return load_partition(plain)


def merge(states: Iterable[PortfolioState]) -> PortfolioState:
    """One portfolio state from disjoint partitions (each customer's facts are in one)."""
    merged = portfolio.initial()
    for state in states:
        merged.ageing.customers.update(state.ageing.customers)
        merged.ageing.invoices.update(state.ageing.invoices)
        merged.customers.update(state.customers)
        merged.disputes.update(state.disputes)
        merged.payments.update(state.payments)
        merged.applications.update(state.applications)
        merged.promises.update(state.promises)
        merged.promise_ids_by_reference.update(state.promise_ids_by_reference)
        merged.actions.update(state.actions)
        merged.diagnoses.update(state.diagnoses)
        merged.waivers.update(state.waivers)
        merged.policy_versions.extend(state.policy_versions)
    return merged


_CUSTOMER_FIELDS: Final[tuple[tuple[type[Event], str, bool], ...]] = (
    (CustomerAccountOpened, "originator_id", False),
    (InvoiceIssued, "customer_id", True),
    (PaymentReceived, "payer_customer_id", True),
    (PromiseMade, "customer_id", True),
    (CollectionActionRecorded, "customer_id", False),
    (DelinquencyDiagnosed, "customer_id", False),
    (NegotiationWaived, "customer_id", False),
    (CreditNoteRegistered, "customer_id", False),
    (ReductionRequested, "customer_id", True),
)
"""Events that name their customer: the field naming it, and whether the event starts a route
from its aggregate (originator) to that customer."""

_ROUTING: dict[type, tuple[str | None, bool]] = {}
"""Per event class, the customer field and whether it starts a route (field None: the event
follows the route of its originator; ``POLICY_PARTITION``: the policy partition). Filled on
first sight of a class, so that routing an event costs one dictionary look-up."""


def _routing(cls: type) -> tuple[str | None, bool]:
    rule = _ROUTING.get(cls)
    if rule is None:
        rule = (
            (POLICY_PARTITION, False)
            if issubclass(cls, (EscalationPolicyAdopted, ExchangeRateRecorded))
            else (None, False)
        )
        for event_class, field, starts_route in _CUSTOMER_FIELDS:
            if issubclass(cls, event_class):
                rule = (field, starts_route)
                break
        _ROUTING[cls] = rule
    return rule


def partition_of(event: Event, routes: Mapping[UUID, str]) -> tuple[str, UUID | None]:
    """(partition key, new routed aggregate id or None) for an event.

    Events that name their customer start a route for their aggregate; the others follow the
    route of their originator.
    """
    field, starts_route = _routing(type(event))
    if field == POLICY_PARTITION:
        return POLICY_PARTITION, None
    if field is not None:
        return str(getattr(event, field)), event.originator_id if starts_route else None
    routed_to = routes.get(event.originator_id)
    if routed_to is None:
        # Customer-account events carry the customer's own id.
        return str(event.originator_id), None
    return routed_to, None


def partition_keys(
    events: Iterable[Event],
    routes: dict[UUID, str],
    new_routes: dict[UUID, str],
    customer_keys: dict[UUID, str],
) -> list[str]:
    """The partition key of each event, as ``partition_of`` gives it; routes the events start
    are added to ``routes`` and ``new_routes``. ``customer_keys`` caches customer id -> key
    (turning a UUID into text costs more than the rest of routing an event)."""
    keys: list[str] = []
    append = keys.append
    for event in events:
        cls = type(event)
        rule = _ROUTING.get(cls) or _routing(cls)
        field = rule[0]
        if field is None:
            originator_id = event.originator_id
            key = routes.get(originator_id)
            if key is None:
                key = customer_keys.get(originator_id)
                if key is None:
                    key = customer_keys[originator_id] = str(originator_id)
        elif field == POLICY_PARTITION:
            key = POLICY_PARTITION
        else:
            customer_id = getattr(event, field)
            key = customer_keys.get(customer_id)
            if key is None:
                key = customer_keys[customer_id] = str(customer_id)
            if rule[1]:
                routes[event.originator_id] = key
                new_routes[event.originator_id] = key
        append(key)
    return keys


FoldedEvent: TypeAlias = tuple[str, int]
"""The identity of an event the read models folded: originator id (as text) and version."""


@attrs.frozen
class Tracking:
    """The read models' tracking row: the position (the id of the last event folded) and, when
    known, that event's identity, to check that the log still holds it there."""

    position: int
    folded: FoldedEvent | None


class ReadModelTables(Protocol):
    """The few statements the runner needs, per database."""

    def position(self) -> int: ...

    def tracking(self) -> Tracking: ...

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]: ...

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]: ...

    def any_route(self) -> UUID | None: ...

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
        folded: FoldedEvent | None = None,
    ) -> None: ...

    def reset(self) -> None: ...

    def event_reader(self, recorder: Any) -> EventReader: ...

    def close(self) -> None: ...


TRACKING_IDENTITY_ADDED: Final = {
    "originator_id": "ALTER TABLE arledger_rm_tracking ADD COLUMN originator_id TEXT",
    "originator_version": "ALTER TABLE arledger_rm_tracking ADD COLUMN originator_version BIGINT",
}
"""The columns of the tracking row naming the last event folded, as added to the tables of
earlier versions (the same statements on SQLite and PostgreSQL)."""


def _tracking(row: Any) -> Tracking:
    if row is None:
        return Tracking(0, None)
    position, originator_id, originator_version = row
    folded = None if originator_id is None else (str(originator_id), int(originator_version))
    return Tracking(int(position), folded)


class StaleRunnerError(RuntimeError):
    """Another runner moved the tracking position first; this batch was not written."""


class SQLiteTables:
    """The runner's tables in a SQLite file, each statement on a pooled connection."""

    def __init__(self, connections: SQLiteConnections, *, owned: bool = False) -> None:
        self.connections = connections
        self.owned = owned
        """Close ``connections`` with the tables (they were made for them alone)."""
        with connections.connection() as connection:
            connection.executescript(
                """
                CREATE TABLE IF NOT EXISTS arledger_rm_partitions (
                    partition_key TEXT PRIMARY KEY, state TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS arledger_rm_routes (
                    aggregate_id TEXT PRIMARY KEY, partition_key TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS arledger_rm_tracking (
                    name TEXT PRIMARY KEY, notification_id INTEGER NOT NULL,
                    originator_id TEXT, originator_version INTEGER);
                """
            )
            # Tracking tables of earlier versions lack the folded event's identity.
            if self._identity_missing(connection.cursor()):
                with self._transaction() as cursor:
                    for statement in self._identity_missing(cursor):
                        cursor.execute(statement)

    @staticmethod
    def _identity_missing(cursor: sqlite3.Cursor) -> list[str]:
        """The statements adding what an earlier version's tracking table lacks (asked before
        taking the write lock, and again under it)."""
        present = {row[1] for row in cursor.execute("PRAGMA table_info(arledger_rm_tracking)")}
        return [
            statement
            for column, statement in TRACKING_IDENTITY_ADDED.items()
            if column not in present
        ]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction on a connection of its own, rolled back however it fails."""
        with self.connections.connection() as connection:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _fetchall(self, statement: str, parameters: Iterable[Any] = ()) -> list[Any]:
        with self.connections.connection() as connection:
            return connection.execute(statement, tuple(parameters)).fetchall()

    def position(self) -> int:
        return self.tracking().position

    def tracking(self) -> Tracking:
        rows = self._fetchall(
            "SELECT notification_id, originator_id, originator_version "
            "FROM arledger_rm_tracking WHERE name = ?",
            (RUNNER_NAME,),
        )
        return _tracking(rows[0] if rows else None)

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]:
        if keys is None:
            return dict(self._fetchall("SELECT partition_key, state FROM arledger_rm_partitions"))
        found: dict[str, str] = {}
        wanted = list(keys)
        with self.connections.connection() as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    connection.execute(
                        "SELECT partition_key, state FROM arledger_rm_partitions "
                        f"WHERE partition_key IN ({marks})",
                        chunk,
                    ).fetchall()
                )
        return found

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        found: dict[UUID, str] = {}
        wanted = [str(i) for i in ids]
        with self.connections.connection() as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for aggregate_id, key in connection.execute(
                    "SELECT aggregate_id, partition_key FROM arledger_rm_routes "
                    f"WHERE aggregate_id IN ({marks})",
                    chunk,
                ):
                    found[UUID(aggregate_id)] = key
        return found

    def any_route(self) -> UUID | None:
        rows = self._fetchall("SELECT aggregate_id FROM arledger_rm_routes LIMIT 1")
        return UUID(rows[0][0]) if rows else None

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
        folded: FoldedEvent | None = None,
    ) -> None:
        with self._transaction() as cursor:
            if self._moved(cursor, old_position, new_position, folded):
                raise StaleRunnerError(f"tracking position is no longer {old_position}")
            cursor.executemany(
                "INSERT INTO arledger_rm_partitions (partition_key, state) VALUES (?, ?) "
                "ON CONFLICT (partition_key) DO UPDATE SET state = excluded.state",
                list(partitions.items()),
            )
            cursor.executemany(
                "INSERT INTO arledger_rm_routes (aggregate_id, partition_key) VALUES (?, ?)",
                [(str(i), key) for i, key in routes.items()],
            )

    def _moved(
        self,
        cursor: sqlite3.Cursor,
        old_position: int,
        new_position: int,
        folded: FoldedEvent | None,
    ) -> bool:
        if old_position == 0:
            cursor.execute(
                "INSERT INTO arledger_rm_tracking (name, notification_id) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (RUNNER_NAME, 0),
            )
        originator_id, originator_version = folded or (None, None)
        cursor.execute(
            "UPDATE arledger_rm_tracking SET notification_id = ?, originator_id = ?, "
            "originator_version = ? WHERE name = ? AND notification_id = ?",
            (new_position, originator_id, originator_version, RUNNER_NAME, old_position),
        )
        return cursor.rowcount != 1

    def reset(self) -> None:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM arledger_rm_partitions")
            cursor.execute("DELETE FROM arledger_rm_routes")
            cursor.execute("DELETE FROM arledger_rm_tracking")

    def event_reader(self, recorder: Any) -> EventReader:
        return RecorderEventReader(recorder)

    def close(self) -> None:
        if self.owned:
            self.connections.close()


class PostgresTables:
    """The runner's tables in a PostgreSQL schema, each statement or transaction on a pooled
    connection (several threads of a Ledger at once; a catch-up reads and writes on two)."""

    def __init__(self, connections: PostgresConnections, *, owned: bool = False) -> None:
        self.connections = connections
        self.owned = owned
        """Close ``connections`` with the tables (they were made for them alone)."""
        with connections.connection() as connection, connection.transaction():
            # Serialise table creation between runners starting at once.
            connection.execute("SELECT pg_advisory_xact_lock(4242017)")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_partitions ("
                "partition_key TEXT PRIMARY KEY, state TEXT NOT NULL)"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_routes ("
                "aggregate_id UUID PRIMARY KEY, partition_key TEXT NOT NULL)"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS arledger_rm_tracking ("
                "name TEXT PRIMARY KEY, notification_id BIGINT NOT NULL, "
                "originator_id TEXT, originator_version BIGINT)"
            )
            # Tracking tables of earlier versions lack the folded event's identity. Asked
            # first: ALTER TABLE locks the table even when it has nothing to add.
            present = {
                row[0]
                for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = 'arledger_rm_tracking'"
                )
            }
            for column, statement in TRACKING_IDENTITY_ADDED.items():
                if column not in present:
                    connection.execute(statement)

    def _fetchall(self, statement: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        with self.connections.connection() as connection:
            rows: list[Any] = connection.execute(statement, parameters).fetchall()
            return rows

    def position(self) -> int:
        return self.tracking().position

    def tracking(self) -> Tracking:
        rows = self._fetchall(
            "SELECT notification_id, originator_id, originator_version "
            "FROM arledger_rm_tracking WHERE name = %s",
            (RUNNER_NAME,),
        )
        return _tracking(rows[0] if rows else None)

    def partitions(self, keys: Iterable[str] | None) -> dict[str, str]:
        if keys is None:
            rows = self._fetchall("SELECT partition_key, state FROM arledger_rm_partitions")
        else:
            rows = self._fetchall(
                "SELECT partition_key, state FROM arledger_rm_partitions "
                "WHERE partition_key = ANY(%s)",
                (list(keys),),
            )
        return {key: state for key, state in rows}

    def routes(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        rows = self._fetchall(
            "SELECT aggregate_id, partition_key FROM arledger_rm_routes "
            "WHERE aggregate_id = ANY(%s)",
            (list(ids),),
        )
        return {aggregate_id: key for aggregate_id, key in rows}

    def any_route(self) -> UUID | None:
        rows = self._fetchall("SELECT aggregate_id FROM arledger_rm_routes LIMIT 1")
        return UUID(str(rows[0][0])) if rows else None

    def write_batch(
        self,
        partitions: Mapping[str, str],
        routes: Mapping[UUID, str],
        old_position: int,
        new_position: int,
        folded: FoldedEvent | None = None,
    ) -> None:
        originator_id, originator_version = folded or (None, None)
        with (
            self.connections.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO arledger_rm_tracking (name, notification_id) VALUES (%s, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (RUNNER_NAME,),
            )
            cursor.execute(
                "UPDATE arledger_rm_tracking SET notification_id = %s, originator_id = %s, "
                "originator_version = %s WHERE name = %s AND notification_id = %s",
                (new_position, originator_id, originator_version, RUNNER_NAME, old_position),
            )
            if cursor.rowcount != 1:
                raise StaleRunnerError(f"tracking position is no longer {old_position}")
            # Binary COPY is the cheapest way in for many large rows; an upsert of the same rows
            # through unnest() took twice the server time. Deleting first is safe: the update
            # of the tracking row above holds that row's lock until commit, so writers of the
            # read model are serialised, and readers see the old rows until the commit.
            cursor.execute(
                "DELETE FROM arledger_rm_partitions WHERE partition_key = ANY(%s)",
                (list(partitions),),
            )
            with cursor.copy(
                "COPY arledger_rm_partitions (partition_key, state) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text"])
                for partition in partitions.items():
                    copy.write_row(partition)
            with cursor.copy(
                "COPY arledger_rm_routes (aggregate_id, partition_key) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["uuid", "text"])
                for route in routes.items():
                    copy.write_row(route)

    def reset(self) -> None:
        # DELETE, not TRUNCATE: TRUNCATE takes an exclusive lock that stops every reader of the
        # read model, and its file work cost about 40 ms here against 4 to 8 ms for deleting
        # the rows of the demo ledger's read model; vacuum reclaims the rows later.
        # The tracking row first: deleting it waits for a runner's batch in flight (which holds
        # that row) and makes a later one stale, so the partitions and routes deleted next
        # cannot be joined by rows of a batch committed meanwhile.
        with self.connections.connection() as connection, connection.transaction():
            connection.execute("DELETE FROM arledger_rm_tracking")
            connection.execute("DELETE FROM arledger_rm_partitions")
            connection.execute("DELETE FROM arledger_rm_routes")

    def event_reader(self, recorder: Any) -> EventReader:
        """The events table read with one binary query a page, on a pooled connection (a
        rebuild reads while it writes); the library's reads for any other recorder."""
        from eventsourcing.postgres import PostgresApplicationRecorder

        if not isinstance(recorder, PostgresApplicationRecorder):
            return RecorderEventReader(recorder)
        return PostgresEventReader(
            self.connections, recorder.datastore.schema, recorder.events_table_name
        )

    def close(self) -> None:
        if self.owned:
            self.connections.close()


def tables_for(
    settings: Mapping[str, str], connections: Connections | None = None
) -> ReadModelTables:
    """The read-model tables beside the event store that ``settings`` configure, on
    ``connections`` (a Ledger's shared pool), or on a pool of their own, closed with them."""
    owned = connections is None
    with store_errors(settings):
        if connections is None:
            connections = connections_for(settings)
        try:
            if isinstance(connections, SQLiteConnections):
                return SQLiteTables(connections, owned=owned)
            assert isinstance(connections, PostgresConnections)
            return PostgresTables(connections, owned=owned)
        except BaseException:
            if owned:
                connections.close()
            raise


@attrs.frozen(kw_only=True)
class ProjectionStatus:
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


Progress = Callable[[int, int], None]
"""Called after each batch with (position, head)."""


class _Working:
    """What one catch-up holds between its batches: the partitions and routes it has read or
    folded, and what the batch being folded has changed and not yet written.

    ``complete``: the tables were empty at its start (position 0), so every partition and route
    that exists is held here, and the tables need not be asked. ``at_head``: its last read of the
    log found fewer events than it asked for, so there is nothing more to read for now.
    """

    def __init__(self, position: int, dump: Callable[[PortfolioState], str]) -> None:
        self.dump = dump
        self.start = position
        self.position = position
        self.folded: FoldedEvent | None = None  # the last event read, once one was
        self.at_head = False
        self.complete = position == 0
        self.states: dict[str, PortfolioState] = {}
        self.routes: dict[UUID, str] = {}
        self.touched: set[str] = set()
        self.new_routes: dict[UUID, str] = {}
        self.customer_keys: dict[UUID, str] = {}

    def take_batch(self) -> tuple[dict[str, str], dict[UUID, str]]:
        """The changed partitions (dumped now, before later folds change them) and new routes."""
        states = self.states
        dump = self.dump
        changed = {key: dump(states[key]) for key in self.touched}
        routes = self.new_routes
        self.touched = set()
        self.new_routes = {}
        return changed, routes


class ProjectionRunner:
    """Catches the stored portfolio read model up with a ledger's event log, in batches.

    ``batch_size`` events make one transaction in ``run_batch`` and the first one of a
    catch-up. Each later batch of a catch-up holds twice what the catch-up has folded before it
    (up to ``BATCH_EVENTS_MAX``): a batch rewrites every partition it touched, and on a busy
    ledger every batch touches nearly all of them, so with a fixed size a rebuild would rewrite
    the whole read model once per batch, quadratic in the log; growing batches write it about
    one and a half times (on the demo log, fixed 5,000-event batches took 10 to 30% longer).
    A killed rebuild loses at most the last two thirds of its work.
    """

    def __init__(
        self,
        ledger: Any,
        *,
        batch_size: int = BATCH_SIZE_DEFAULT,
        tables: Any = None,
        connections: Connections | None = None,
    ) -> None:
        """``connections``: the Ledger's shared pool (a pool of the runner's own if None)."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.ledger = ledger
        self.batch_size = batch_size
        self.tables: ReadModelTables = tables or tables_for(ledger.store_settings, connections)
        self.reader: EventReader = self.tables.event_reader(ledger.recorder)
        self.decoder = EventDecoder(ledger.mapper)
        self.codec = PartitionCodec.of(ledger)
        self._routes_checked = not self.codec.keyed_routes
        """Whether the stored routes are known to be keyed as this codec keys them."""
        self._catching_up = threading.Lock()
        """One catch-up at a time per runner: the threads of a Ledger sharing it wait for the
        one at work rather than folding the same batches and losing the race to commit them."""
        self._tickets = itertools.count(1)
        """Numbers the calls of ``catch_up`` in their order of arrival."""
        self._covered = 0
        """Every call numbered up to this arrived before a catch-up that has since completed
        began: the log it read holds everything they could ask to see."""

    def close(self) -> None:
        self.tables.close()

    def status(self) -> ProjectionStatus:
        """The tracking position and the log's head; raises ``ReadModelMismatchError`` if the
        log no longer holds what the read models folded."""
        position, head = self._checked_position()
        return ProjectionStatus(position=position, head=head)

    def _checked_position(self) -> tuple[int, int]:
        """(tracking position, head of the log), once the log is seen to still hold the event
        the read models folded last, at that position.

        Event ids are never reused while the log only grows, but SQLite hands out the id of a
        deleted last row again (no AUTOINCREMENT in the library's table), and a PostgreSQL table
        can be restored or truncated under its sequence: the read models would then skip the
        new events at ids they have passed, or keep facts the log no longer has. Checked before
        every catch-up (one indexed read); the position is read before the head, so a runner
        moving it meanwhile cannot make a sound log look short.
        """
        tracking = self.tables.tracking()
        head = self.ledger.recorder.max_notification_id() or 0
        position = tracking.position
        if position == 0:
            return position, head
        if not self._routes_checked:
            self._check_routes_keyed()
        found: FoldedEvent | None = None
        if head >= position and tracking.folded is not None:
            rows = self.reader.read(position, 1)
            if rows and rows[0][0] == position:
                found = (rows[0][1], rows[0][2])
            if found == tracking.folded:
                return position, head
        elif head >= position:
            return position, head  # tracked by an earlier version: the head is all to check
        raise self._mismatch(position, head, tracking.folded, found)

    def _check_routes_keyed(self) -> None:
        """Refuse routes stored by an earlier version under the aggregates' own ids: looked up
        by keyed id they would be missed, and events folded into the wrong partitions. One
        stored route is enough to tell (a keyed id is the id of no event); checked once per
        runner, as a rebuild stores every route again."""
        first = self.tables.any_route()
        if first is not None and self.ledger.recorder.select_events(first, limit=1):
            raise ConfigurationError(
                "the stored read models were written by an earlier version, which kept their "
                "routing ids in the clear under a cipher; rebuild them (arledger projections "
                "rebuild)",
                setting="CIPHER_KEY",
            )
        self._routes_checked = True

    def _mismatch(
        self, position: int, head: int, folded: FoldedEvent | None, found: FoldedEvent | None
    ) -> ReadModelMismatchError:
        return log_mismatch(self.ledger.store_description, position, head, folded, found)

    def run_batch(self) -> int:
        """Fold the next batch after the tracking position; returns how many events."""
        position, _ = self._checked_position()
        rows = self.reader.read(position + 1, self.batch_size)
        if not rows:
            return 0
        working = _Working(position, self.codec.dump)
        self._fold(working, self.decoder.decode(rows))
        partitions, routes = working.take_batch()
        last = rows[-1]
        self.tables.write_batch(
            partitions, self.codec.stored_routes(routes), position, last[0], (last[1], last[2])
        )
        return len(rows)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Run batches until the log's head; returns how many events this runner folded.

        The partitions and routes of earlier batches stay in memory until it returns, so each
        batch reads from the tables only what it has not seen yet (nothing, from position 0).
        If another runner commits first, what this one holds is stale: it starts again from
        the position stored by the other.

        Two threads wait on the database meanwhile: one reads the next page of the log while
        this one decodes and folds, and from position 0 (a rebuild) the other writes a batch
        while the next is folded, so that the server's share of the work (finding and sending
        rows; compressing, logging and syncing a write) runs on another core. At most one write
        is in flight, and none is asked for before the one before it committed, so a stale
        runner's first failed write is its last.
        """
        settings = self.ledger.store_settings
        limits = timeouts(settings)
        ticket = next(self._tickets)
        # As long as a catch-up's statements may take, and its lock waits: a thread never waits
        # for ever behind another one's catch-up.
        if not self._catching_up.acquire(timeout=limits.statement_s + limits.lock_s):
            raise store_busy(
                settings, "waiting for another thread's catch-up", "ARLEDGER_LOCK_TIMEOUT"
            )
        try:
            if self._covered >= ticket:
                # A catch-up that began after this call arrived has completed while it waited:
                # under load, one catch-up serves the queries queued behind the one before.
                return 0
            begins = next(self._tickets) - 1
            with busy_errors(settings):
                folded = self._catch_up_locked(progress)
            self._covered = max(self._covered, begins)
            return folded
        finally:
            self._catching_up.release()

    def _catch_up_locked(self, progress: Progress | None) -> int:
        folded = [0]
        with (
            _collection_paused(),
            ThreadPoolExecutor(1, "arledger-read-model-reader") as reader,
            ThreadPoolExecutor(1, "arledger-read-model-writer") as writer,
        ):
            pages = _ReadAhead(self.reader, reader)
            for _attempt in range(STALE_RETRIES_MAX):
                try:
                    self._catch_up(pages, writer, progress, folded)
                except StaleRunnerError:
                    continue
                return folded[0]
        raise ConcurrencyError(
            f"gave up catching up after {STALE_RETRIES_MAX} attempts: other runners kept "
            "writing the same batches first",
            attempts=STALE_RETRIES_MAX,
        )

    def _catch_up(
        self, pages: _ReadAhead, writer: Executor, progress: Progress | None, folded: list[int]
    ) -> None:
        working = _Working(self._checked_position()[0], self.codec.dump)
        writing: tuple[Future[None], int, int] | None = None  # (write, events, last position)
        while True:
            start = working.position
            count = 0 if working.at_head else self._fold_growing_batch(working, pages)
            if writing is not None:
                write, events, written = writing
                write.result()  # raises StaleRunnerError if another runner came first
                folded[0] += events
                if progress is not None:
                    progress(written, self.ledger.recorder.max_notification_id() or 0)
            if not count:
                return
            partitions, routes = working.take_batch()
            write = writer.submit(
                self.tables.write_batch,
                partitions,
                self.codec.stored_routes(routes),
                start,
                working.position,
                working.folded,
            )
            writing = (write, count, working.position)
            if not working.complete:
                # The next batch may read partitions and routes from the tables: not while
                # this write is on the same connection.
                write.result()

    def _batch_target(self, working: _Working) -> int:
        """Events in the next batch of a catch-up: twice what it has folded, at least
        ``batch_size``."""
        folded = working.position - working.start
        return min(max(self.batch_size, 2 * folded), BATCH_EVENTS_MAX)

    def _fold_growing_batch(self, working: _Working, pages: _ReadAhead) -> int:
        """Read and fold one batch of a catch-up, in pages; returns how many events it holds.
        Each page is asked for before the one before it is folded."""
        target = self._batch_target(working)
        count = 0
        while count < target:
            limit = min(target - count, EVENTS_PER_READ_MAX)
            rows = pages.read(working.position + 1, limit)
            # Fewer rows than asked for: these were the last ones recorded (so far).
            working.at_head = len(rows) < limit
            if not rows:
                break
            count += len(rows)
            last = rows[-1]
            working.position = last[0]
            working.folded = (last[1], last[2])
            if not working.at_head:
                ahead = target - count if count < target else self._batch_target(working)
                pages.ask(working.position + 1, min(ahead, EVENTS_PER_READ_MAX))
            self._fold(working, self.decoder.decode(rows))
            if working.at_head:
                break
        return count

    def _fold(self, working: _Working, events: list[Event]) -> None:
        """Fold events into the partitions held, reading first those the tables have and this
        catch-up has not seen."""
        routes = working.routes
        if not working.complete:
            unseen = {e.originator_id for e in events} - routes.keys()
            routes.update(self._stored_routes(unseen))
        keys = partition_keys(events, routes, working.new_routes, working.customer_keys)
        states = working.states
        touched = set(keys)
        if not working.complete:
            stored = self.tables.partitions(touched - states.keys())
            load = self.codec.load
            states.update((key, load(text)) for key, text in stored.items())
        fold = portfolio.fold
        for event, key in zip(events, keys, strict=True):
            state = states.get(key)
            if state is None:
                state = states[key] = portfolio.initial()
            fold(state, event)
        working.touched |= touched

    def _stored_routes(self, ids: set[UUID]) -> dict[UUID, str]:
        """The stored routes of ``ids``, by the aggregates' own ids."""
        if not self.codec.keyed_routes:
            return self.tables.routes(ids)
        keyed = {self.codec.route_id(aggregate_id): aggregate_id for aggregate_id in ids}
        return {keyed[stored]: key for stored, key in self.tables.routes(keyed).items()}

    def rebuild(self, progress: Progress | None = None) -> int:
        """Clear the stored read model and fold the whole log again."""
        self.tables.reset()
        return self.catch_up(progress)

    def portfolio(self, customer_ids: Iterable[UUID] | None = None) -> PortfolioState:
        """The stored portfolio (all customers, or some, with the policy versions)."""
        keys = None if customer_ids is None else [*map(str, customer_ids), POLICY_PARTITION]
        load = self.codec.load
        return merge(load(text) for text in self.tables.partitions(keys).values())


class _ReadAhead:
    """Pages of the log read on a thread of their own, one page ahead of the folding: the
    database finds and sends the next page while this one is decoded and folded."""

    def __init__(self, reader: EventReader, pool: Executor) -> None:
        self.reader = reader
        self.pool = pool
        self.ahead: tuple[int, int, Future[list[StoredRow]]] | None = None

    def ask(self, start: int, limit: int) -> None:
        self.ahead = (start, limit, self.pool.submit(self.reader.read, start, limit))

    def read(self, start: int, limit: int) -> list[StoredRow]:
        ahead, self.ahead = self.ahead, None
        if ahead is not None and ahead[:2] == (start, limit):
            return ahead[2].result()
        return self.reader.read(start, limit)


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a catch-up builds the partitions.

    A rebuild allocates a few objects per event that all stay alive (the facts), so the
    collector's full passes walk an ever larger heap and find nothing: measured, they took a
    third of a rebuild's CPU time. The facts and events hold no reference cycles, so pausing
    only delays collecting what others allocate meanwhile; the collector is switched back on
    (if it was on) when the catch-up ends, however it ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def log_mismatch(
    store: str, position: int, head: int, folded: FoldedEvent | None, found: FoldedEvent | None
) -> ReadModelMismatchError:
    """The refusal of read models (stored or columnar) at ``position`` over a log that no
    longer holds, there, the event they read last (``folded``; ``found`` is what it holds)."""
    if head < position:
        what = f"are at event {position} but its event log ends at event {head}"
    else:
        held = "no event" if found is None else f"{found[0]} v{found[1]}"
        assert folded is not None
        what = (
            f"folded event {position} as {folded[0]} v{folded[1]}, but the event log now "
            f"holds {held} there"
        )
    return ReadModelMismatchError(
        f"the read models stored in {store} {what}: events were removed or the store was "
        "restored from an older copy; nothing was served or changed; rebuild them "
        "(arledger projections rebuild)",
        position=position,
        head=head,
        store=store,
    )
