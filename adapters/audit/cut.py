"""Where a query cuts the log: ``known_at`` and ``at_position`` resolved to a log position.

Every Ledger query answers as of one position of the log (``AsOfLog``): the last one
committed when it read (no cut), ``at_position``, or, for ``known_at=T``, the last position
whose transaction's commit instant (``arledger_chain.committed_at_us``, taken under the store's
insert lock, rising strictly with position) is at or before T. Both query paths (the engine's
columnar log and the replay) keep exactly the events at or below that position.

Fallback: where no commit instant at or before T is recorded (an in-memory store; links built
after the fact by ``arledger chain build``, or a store whose chain was never built), the cut is
by event stamps, as before commit instants existed: the events up to the last such position
stamped by T (``AsOfLog.stamped_by``). Stamps are read when a command's session starts, so
such a cut is "stamped by T", which need not be a state the ledger ever showed.

Reading the position before answering: on SQLite and PostgreSQL a transaction's events become
visible together and in position order (the insert lock), so the last position read is always
the end of a transaction, and a later ``known_at`` at its commit instant cuts there too.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import attrs

from arledger.adapters.persistence import chain
from arledger.adapters.persistence.connections import Connections, PostgresConnections
from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import LogPositionError
from arledger.domain.rules import require_known_at

LINKS_CACHED: Final = 1_024
"""Chain links kept per Ledger (``ChainLinks``): queries cut at the head, which moves only
with new events, so a few recent positions serve nearly every query."""


class ChainLinks:
    """The chain links read at log positions, kept: a link, once written, never changes (history
    is never edited; ``arledger chain build`` only adds the links a store lacked), so a query
    cut where another was cut (the head, while no event is recorded) reads none again (one
    round trip less a query on PostgreSQL). Positions without a link are not kept. Shared by
    a Ledger's threads."""

    def __init__(self, size_max: int = LINKS_CACHED) -> None:
        self.size_max = size_max
        self._links: dict[int, tuple[bytes, int | None]] = {}
        self._lock = threading.Lock()

    def get(self, position: int) -> tuple[bytes, int | None] | None:
        with self._lock:
            return self._links.get(position)

    def clear(self) -> None:
        with self._lock:
            self._links = {}

    def forget_past(self, head: int) -> None:
        """Forget the links past ``head``: a log whose head went back (its last events deleted,
        or an older copy restored) may give those positions to other events."""
        with self._lock:
            if any(position > head for position in self._links):
                self._links = {at: link for at, link in self._links.items() if at <= head}

    def put(self, position: int, link: tuple[bytes, int | None]) -> None:
        with self._lock:
            if position not in self._links and len(self._links) >= self.size_max:
                self._links.pop(next(iter(self._links)))  # the one read first
            self._links[position] = link


@attrs.frozen
class Cut:
    """A query's cut: the events at or below ``position`` (and, for a fallback, stamped by
    ``stamped_by``), reported as ``as_of_log``."""

    position: int
    stamped_by: datetime | None
    as_of_log: AsOfLog
    named: str = ""
    """The cut as a refusal names it (" recorded by ..."; nothing when none was asked)."""


def microseconds(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def instant(us: int | None) -> datetime | None:
    if us is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def require_position(at_position: object) -> int | None:
    if at_position is None:
        return None
    if not isinstance(at_position, int) or isinstance(at_position, bool) or at_position < 0:
        raise LogPositionError(
            f"at_position must be a log position (0 or more), got {at_position!r}",
            field="at_position",
            value=at_position,
        )
    return at_position


LAST_COMMITTED_BY: Final = (
    f"SELECT position FROM {chain.TABLE} WHERE committed_at_us <= ? "
    "ORDER BY committed_at_us DESC, position DESC LIMIT 1"
)
LAST_WITHOUT_INSTANT: Final = (
    f"SELECT position FROM {chain.TABLE} WHERE committed_at_us IS NULL "
    "ORDER BY position DESC LIMIT 1"
)


class _Chain:
    """The chain table's few statements on the Ledger's read-model connections."""

    def __init__(self, connections: Connections, links: ChainLinks | None = None) -> None:
        self.connections = connections
        self.links = ChainLinks() if links is None else links
        self.marker = "%s" if isinstance(connections, PostgresConnections) else "?"

    def one(self, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        with self.connections.connection() as connection:
            return connection.execute(statement.replace("?", self.marker), parameters).fetchone()

    def last_committed_by(self, us: int) -> int | None:
        """The last position committed by ``us``. Instants rise strictly from one transaction
        to the next and a transaction's events share one (``chain.append``), so the highest
        position among the instants up to ``us`` is the last entry of the chain's index
        (``chain.INDEX``) at or below ``us``: one look-up, not a scan of every link."""
        row = self.one(LAST_COMMITTED_BY, (us,))
        return None if row is None else int(row[0])

    def last_without_instant(self) -> int | None:
        """The last position whose link has no instant (built after the fact), by the index."""
        row = self.one(LAST_WITHOUT_INSTANT)
        return None if row is None else int(row[0])

    def link_at(self, position: int) -> tuple[bytes, int | None] | None:
        found = self.links.get(position)
        if found is not None:
            return found
        row = self.one(
            f"SELECT link, committed_at_us FROM {chain.TABLE} WHERE position = ?", (position,)
        )
        if row is None:
            return None
        found = (bytes(row[0]), None if row[1] is None else int(row[1]))
        self.links.put(position, found)
        return found


def resolve(
    head: int,
    connections: Connections | None,
    known_at: datetime | None,
    at_position: int | None,
    links: ChainLinks | None = None,
) -> Cut:
    """The cut of a query asked with ``known_at`` or ``at_position`` (at most one) of a log
    whose last position is ``head`` (read before the query reads its events); ``links``: the
    chain links already read (the Ledger's), else none."""
    known_at = require_known_at(known_at)
    at_position = require_position(at_position)
    if known_at is not None and at_position is not None:
        raise LogPositionError(
            "give known_at or at_position, not both: each names the point of the log to answer at",
            field="at_position",
            at_position=at_position,
            known_at=known_at,
        )
    if at_position is not None and at_position > head:
        raise LogPositionError(
            f"at_position {at_position} is beyond the log, whose last position is {head}",
            field="at_position",
            at_position=at_position,
            head=head,
        )
    if links is not None:
        links.forget_past(head)
    store = None if connections is None else _Chain(connections, links)
    position, stamped_by = head, None
    if at_position is not None:
        position = at_position
    elif known_at is not None:
        found = None if store is None else store.last_committed_by(microseconds(known_at))
        if found is not None:
            position = min(found, head)
        else:
            unrecorded = None if store is None else store.last_without_instant()
            if store is not None and unrecorded is None and store.link_at(head) is not None:
                position = 0  # every position has an instant, all after known_at
            else:
                position = head if unrecorded is None else min(unrecorded, head)
                stamped_by = known_at
    link = None if store is None or position == 0 else store.link_at(position)
    if known_at is not None:
        named = f" recorded by {known_at.isoformat()}"
    elif at_position is not None:
        named = f" recorded by log position {at_position}"
    else:
        named = ""
    return Cut(
        named=named,
        position=position,
        stamped_by=stamped_by,
        as_of_log=AsOfLog(
            position=position,
            link=None if link is None else link[0].hex(),
            committed_at=None if link is None else instant(link[1]),
            stamped_by=stamped_by,
        ),
    )


def aggregate_version_at(
    connections: Connections, recorder: Any, aggregate_id: UUID, position: int
) -> int | None:
    """The version of one aggregate at log position ``position``: its last event at or below it
    (None: the aggregate had no event by then). One indexed read of the events table (the
    library's notification id: ``rowid`` on SQLite), so a single aggregate (an account, an
    invoice, a book of rates) is cut by commit order like the portfolio queries, without
    reading any other aggregate's events."""
    table = recorder.events_table_name
    if isinstance(connections, PostgresConnections):
        from psycopg.sql import SQL, Identifier

        statement: Any = SQL(
            "SELECT MAX(originator_version) FROM {}.{} "
            "WHERE originator_id = %s AND notification_id <= %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(table))
        parameters: tuple[Any, ...] = (aggregate_id, position)
    else:
        statement = (
            f"SELECT MAX(originator_version) FROM {table} WHERE originator_id = ? AND rowid <= ?"
        )
        parameters = (aggregate_id.hex, position)
    with connections.connection() as connection:
        row = connection.execute(statement, parameters).fetchone()
    return None if row is None or row[0] is None else int(row[0])
