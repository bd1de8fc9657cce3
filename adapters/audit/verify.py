"""``verify``: is the stored log the one arledger wrote, and do the read models follow from it?

One pass over the log in position order, a page at a time, checks:
1. the hash chain (``persistence/chain.py``): every event has its link, every link its event,
   each link recomputes from the record and the link before it, commit instants never go back;
   an ``expect_head`` link (written down by an auditor earlier) is still in the chain;
2. every record decodes (the read path's decoder, which equals the ledger's mapper);
3. every aggregate replays: versions 1, 2, 3, ... in position order, and its ``evolve`` (the
   domain's invariants) accepts each event; one aggregate's events are all of one kind;
4. the stored read models: the portfolio partitions and routes equal a fresh fold of the log
   up to their tracking position (and the log still holds, there, the event they name); the
   columnar segments equal the columnar log built afresh from the events they cover.

A finding names the first position it concerns and says what is wrong, one line each. A
finding stops nothing: the pass goes on from the stored link, so one edit is one finding, not
a cascade. ``from_position`` resumes the chain and decoding checks there (from the stored link
before it); replaying and the read models need the whole log, so they are checked only on a
full pass.

A pass over ``WORKER_EVENTS_MIN`` positions or more is shared with a second process
(``_Worker``), which reads the same positions and checks the chain (when this one folds the
read models: replays the aggregates and checks the first links, this one the last
``CHAIN_HERE`` of them); the findings are the same either way.

Invariant: verify reads; it never writes, and never repairs (history is not edited).
``build_chain`` is the one writer here: the explicit, one-off building of a chain for a store
written before chains existed.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final
from uuid import UUID

import attrs
import pyarrow as pa
from eventsourcing.utils import resolve_topic

from arledger.adapters.application.unit_of_work import evolver_of
from arledger.adapters.audit.report import Finding, FindingKind, VerifyReport
from arledger.adapters.persistence import chain
from arledger.adapters.persistence.connections import Connections, PostgresConnections
from arledger.adapters.persistence.store import sqlite_in_memory
from arledger.adapters.read_models import runner as runner_module
from arledger.adapters.read_models.columnar import IDS_SCHEMA, SCHEMAS, ColumnarWriter
from arledger.adapters.read_models.engine import SQLiteEventReader
from arledger.adapters.read_models.runner_events import (
    EventDecoder,
    EventReader,
    PostgresEventReader,
    StoredRow,
)
from arledger.adapters.read_models.segments import TABLE as SEGMENTS_TABLE
from arledger.adapters.read_models.segments import SegmentStore
from arledger.domain import idempotency
from arledger.domain.errors import ArledgerError, ChainMismatchError
from arledger.domain.events import Event
from arledger.projections import portfolio
from arledger.projections.portfolio import PortfolioState

PAGE_EVENTS: Final = 20_000
"""Stored events read, checked and decoded at a time (a few MB)."""
CHAIN_HERE: Final = 0.4
"""With a second process replaying the aggregates, the share of the positions whose links this
one checks (the last ones; the second process checks the first): it folds the read models,
which cost a little less than the replay (measured at 1.08M events: 13.8 s of CPU here, 15.3
s there, checking every link about 2 s), so both finish about together."""
WORKER_EVENTS_MIN: Final = 50_000
"""A pass over at least this many positions checks the chain in a second process
(``_Worker``), and replays the aggregates there too when this one folds the read models
afresh, if a core is spare (``_shared``): starting one costs about a second of imports, more
than a smaller pass saves."""
FINDINGS_MAX: Final = 1_000
"""Findings reported at most; more are counted (``findings_omitted``). A store rewritten
wholesale would otherwise report every event."""


# Reading the store ----------------------------------------------------------------------------


class _Store:
    """The statements verify needs on one store, on the Ledger's read-model connections."""

    def __init__(self, ledger: Any, connections: Connections) -> None:
        recorder = ledger.recorder
        self.connections = connections
        self.postgres = isinstance(connections, PostgresConnections)
        self.events: EventReader
        if self.postgres:
            schema = recorder.datastore.schema
            self.events = PostgresEventReader(connections, schema, recorder.events_table_name)
            self.marker = "%s"
            self.events_table = f'"{schema}"."{recorder.events_table_name}"'
            self.position_column = "notification_id"
        else:
            self.events = SQLiteEventReader(connections, recorder.events_table_name)
            self.marker = "?"
            self.events_table = recorder.events_table_name
            self.position_column = "rowid"

    def fetchall(self, statement: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self.connections.connection() as connection:
            rows: list[Any] = connection.execute(
                statement.replace("?", self.marker), tuple(parameters)
            ).fetchall()
            return rows

    def links(self, start: int, upto: int | None) -> list[tuple[int, bytes, int | None]]:
        statement = f"SELECT position, link, committed_at_us FROM {chain.TABLE} WHERE position >= ?"
        parameters: list[Any] = [start]
        if upto is not None:
            statement += " AND position <= ?"
            parameters.append(upto)
        return [
            (int(p), bytes(link), None if at is None else int(at))
            for p, link, at in self.fetchall(statement + " ORDER BY position", parameters)
        ]

    def link_before(self, position: int) -> tuple[int, bytes, int | None] | None:
        rows = self.fetchall(
            f"SELECT position, link, committed_at_us FROM {chain.TABLE} WHERE position < ? "
            "ORDER BY position DESC LIMIT 1",
            (position,),
        )
        return None if not rows else (int(rows[0][0]), bytes(rows[0][1]), rows[0][2])

    def tail(self) -> tuple[int, bytes] | None:
        rows = self.fetchall(
            f"SELECT position, link FROM {chain.TABLE} ORDER BY position DESC LIMIT 1"
        )
        return None if not rows else (int(rows[0][0]), bytes(rows[0][1]))

    def count_events(self) -> int:
        return int(self.fetchall(f"SELECT COUNT(*) FROM {self.events_table}")[0][0])

    def has_table(self, name: str) -> bool:
        if self.postgres:
            statement = (
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_name = ? AND table_schema = current_schema()"
            )
        else:
            statement = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self.fetchall(statement, (name,)))


# The pass -------------------------------------------------------------------------------------


class _Findings:
    def __init__(self) -> None:
        self.listed: list[Finding] = []
        self.omitted = 0

    def add(self, kind: FindingKind, position: int | None, message: str) -> None:
        if len(self.listed) < FINDINGS_MAX:
            self.listed.append(Finding(kind=kind, position=position, message=message))
        else:
            self.omitted += 1


_BROKEN: Final = object()
"""An aggregate's state once a finding was made about it: its later events are not replayed."""


class _Replay:
    """Every aggregate's state, replayed event by event with the domain's evolve functions."""

    def __init__(self, findings: _Findings) -> None:
        self.findings = findings
        self.states: dict[int, Any] = {}
        """Per aggregate, by its id's integer (hashed and compared in C, where a UUID key
        costs two Python-level calls per lookup): (kind, version, state), or ``_BROKEN``."""
        self.evolvers: dict[type, Any] = {}

    def record(self, position: int, record: object) -> None:
        cls = type(record)
        rule = self.evolvers.get(cls)
        if rule is None:
            rule = self.evolvers[cls] = evolver_of(cls) or ("idempotency", _accept_once)
        kind, evolve = rule
        originator_id: UUID = record.originator_id  # type: ignore[attr-defined]
        version: int = record.originator_version  # type: ignore[attr-defined]
        key = originator_id.int
        held = self.states.get(key)
        if held is None:
            known_kind, before, state = kind, 0, None
        elif held is _BROKEN:
            return
        else:
            known_kind, before, state = held
        problem = None
        if version != before + 1:
            problem = f"follows version {before} (not contiguous)"
        elif known_kind != kind:
            problem = f"is not an event of a {known_kind} aggregate"
        else:
            try:
                self.states[key] = (kind, version, evolve(state, record))
            except (AssertionError, LookupError, ValueError, TypeError, AttributeError) as error:
                problem = f"breaks the aggregate's invariants ({type(error).__name__}: {error})"
        if problem is not None:
            self.findings.add(
                FindingKind.REPLAY,
                position,
                f"{cls.__name__} of {originator_id} v{version} {problem}",
            )
            self.states[key] = _BROKEN


def _accept_once(state: object, record: object) -> object:
    return idempotency.fold([record] if state is None else [state, record])


class _FreshFold:
    """The portfolio read model folded afresh, partitioned as the runner partitions it."""

    def __init__(self) -> None:
        self.states: dict[str, PortfolioState] = {}
        self.routes: dict[UUID, str] = {}
        self.new_routes: dict[UUID, str] = {}
        self.customer_keys: dict[UUID, str] = {}

    def fold(self, events: Sequence[Event]) -> None:
        keys = runner_module.partition_keys(
            events, self.routes, self.new_routes, self.customer_keys
        )
        states = self.states
        for event, key in zip(events, keys, strict=True):
            state = states.get(key)
            if state is None:
                state = states[key] = portfolio.initial()
            portfolio.fold(state, event)


class _Columns:
    """The columnar log of the events, built afresh as the engine builds it (raw tables)."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.RecordBatch]] = {}
        self.writer = ColumnarWriter(self._sink)
        self.positions: list[int] = [0]
        """Position of each event, by ``seq``."""

    def _sink(self, name: str, batch: pa.RecordBatch) -> None:
        self.batches.setdefault(name, []).append(batch)

    def write_all(self, events: Sequence[tuple[int, Event]]) -> None:
        self.writer.write_batch([event for _position, event in events])
        self.positions.extend(position for position, _event in events)

    def tables(self) -> dict[str, pa.Table]:
        self.writer.close()
        return {
            name: pa.Table.from_batches(
                batches, schema=IDS_SCHEMA if name == "ids" else SCHEMAS[name]
            ).combine_chunks()
            for name, batches in self.batches.items()
        }


class Verifier:
    """One verify pass over a Ledger's store (see the module's doc)."""

    def __init__(self, ledger: Any, connections: Connections) -> None:
        self.ledger = ledger
        self.store = _Store(ledger, connections)
        self.decoder = EventDecoder(ledger.mapper)
        self.event_topics: dict[str, bool] = {}

    def run(self, from_position: int | None = None, expect_head: str | None = None) -> VerifyReport:
        with _collector_spared() as spare:
            return self._run(from_position, expect_head, spare)

    def _run(
        self, from_position: int | None, expect_head: str | None, spare: Callable[[], None]
    ) -> VerifyReport:
        findings = _Findings()
        full = from_position is None or from_position <= 1
        start = 1 if full else int(from_position or 1)
        store = self.store
        # The pass covers what was committed when it began: events and links are written in
        # one transaction, in position order, so everything up to the higher of the two ends
        # read now is committed, and what writers add meanwhile (above it) is left out rather
        # than taken for an event without its link.
        head = self.ledger.recorder.max_notification_id() or 0
        tail = store.tail()
        bound = max(head, 0 if tail is None else tail[0])
        walked = self._chain_state(start, bound, expect_head)
        tracking = self._tracking() if full else None
        replay = _Replay(findings) if full else None
        fresh = _FreshFold() if tracking is not None else None
        columns = _Columns() if full and store.has_table(SEGMENTS_TABLE) else None
        checked = 0
        if tail is None:
            stored = store.count_events()
            if stored:
                findings.add(
                    FindingKind.NO_CHAIN,
                    None,
                    f"the log holds {stored} events but no hash chain: it was written before "
                    "chains existed; build it once with `arledger chain build`",
                )
                return self._report(start, 0, tail, full, findings)
        worker = None
        # The chain in a second process; the replay too when this one folds the read models
        # afresh, so that each does about half of the work.
        replays_apart = replay is not None and (fresh is not None or columns is not None)
        # The positions whose links this process checks: all of them, or when the second
        # process replays, the last ``CHAIN_HERE`` of them (it checks the others).
        if _shared(bound - start + 1, self.ledger.store_settings):
            if replays_apart:
                walk_from = bound + 1 - int((bound - start + 1) * CHAIN_HERE)
            else:
                walk_from = bound + 1
            worker = _Worker.start(
                self.ledger.env_given,
                _Share(start, bound, expect_head, replays_apart, walk_upto=walk_from - 1),
            )
            walked = self._chain_state(walk_from, bound, expect_head)
        try:
            checked, folded_found = self._pass(
                start,
                bound,
                findings,
                spare,
                walked=walked,
                decoding=findings if worker is None or not replays_apart else _Findings(),
                replay=None if worker is not None and replays_apart else replay,
                tracking=tracking,
                fresh=fresh,
                columns=columns,
            )
            # The stored read models are compared while the second process finishes its
            # share: they need nothing from it.
            if tracking is not None and fresh is not None:
                self._compare_read_models(tracking, folded_found, fresh, findings)
            if columns is not None:
                self._compare_segments(columns, findings)
            if worker is not None:
                read_there, seen_there = worker.join(findings)
                walked.head_seen = walked.head_seen or seen_there
                worker = None
                if read_there != checked:
                    raise ArledgerError(
                        f"verify's second process read {read_there} records up to position "
                        f"{bound}, this one {checked}: the two did not see one store"
                    )
        finally:
            if worker is not None:
                worker.stop()
        if not walked.head_seen:
            findings.add(
                FindingKind.HEAD,
                None,
                f"the head written down earlier ({expect_head}) is not in the chain: the log "
                "was cut short or rewritten since",
            )
        return self._report(start, checked, tail, full, findings)

    def _pass(
        self,
        start: int,
        bound: int,
        findings: _Findings,
        spare: Callable[[], None],
        *,
        walked: _ChainState | None,
        decoding: _Findings | None,
        replay: _Replay | None,
        tracking: runner_module.Tracking | None,
        fresh: _FreshFold | None,
        columns: _Columns | None,
    ) -> tuple[int, tuple[str, int] | None]:
        """One pass over the log from ``start`` up to ``bound``, a page at a time: the chain
        (``walked``), decoding (its findings to ``decoding``; None: nothing decoded), the
        replay and the fresh folds, each where given (a ``_Worker`` does the rest; where it
        decodes, records that do not decode are its findings and only left out of the folds
        here). Returns the records read and the (id, version) of the event the read models
        name at their tracking position (None: not in the log)."""
        store = self.store
        checked = 0
        folded_found: tuple[str, int] | None = None
        page_start = start
        while True:
            rows = store.events.read(page_start, PAGE_EVENTS)
            if rows and rows[-1][0] > bound:
                rows = [row for row in rows if row[0] <= bound]
                last_page = True
            else:
                last_page = len(rows) < PAGE_EVENTS
            if any(type(row[4]) is not bytes for row in rows):
                rows = [(*row[:4], _as_bytes(row[4])) for row in rows]
            checked += len(rows)
            if walked is not None:
                upto = min(walked.last, bound if last_page else rows[-1][0])
                first = max(page_start, walked.first)
                if first <= upto:
                    if rows and (rows[0][0] < first or rows[-1][0] > upto):
                        rows_walked = [row for row in rows if first <= row[0] <= upto]
                    else:
                        rows_walked = rows
                    _walk(rows_walked, store.links(first, upto), walked, findings)
            if rows and decoding is not None:
                decoded = self._decode(rows, decoding)
                if replay is not None:
                    record = replay.record
                    for position, event in decoded:
                        record(position, event)
                events = [(p, e) for p, e in decoded if isinstance(e, Event)]
                if fresh is not None and tracking is not None:
                    tracked = tracking.position
                    if events and events[-1][0] <= tracked:
                        fresh.fold([e for _p, e in events])
                    else:
                        fresh.fold([e for p, e in events if p <= tracked])
                    if events and events[0][0] <= tracked <= events[-1][0]:
                        for position, event in events:
                            if position == tracked:
                                folded_found = (str(event.originator_id), event.originator_version)
                if columns is not None:
                    columns.write_all(events)
            spare()
            if last_page:
                return checked, folded_found
            page_start = rows[-1][0] + 1

    def integrity(self, share: _Share, kept: list[object]) -> _Integrity:
        """A ``_Worker``'s share of a pass: the chain, and decoding and the replay if asked.
        The replayed states go to ``kept`` rather than being freed here, one by one."""
        findings = _Findings()
        replay = _Replay(findings) if share.replays else None
        kept.append(replay)
        walked = self._chain_state(share.start, share.walk_upto, share.expect_head)
        with _collector_spared() as spare:
            checked, _found = self._pass(
                share.start,
                share.bound,
                findings,
                spare,
                walked=walked,
                decoding=findings if share.replays else None,
                replay=replay,
                tracking=None,
                fresh=None,
                columns=None,
            )
        return _Integrity(tuple(findings.listed), findings.omitted, checked, walked.head_seen)

    def _chain_state(self, first: int, last: int, expect_head: str | None) -> _ChainState:
        """Where checking the links of positions ``first`` to ``last`` begins: at the stored
        link before ``first`` (the genesis link at the log's start)."""
        expected_head = None if expect_head is None else _parse_head(expect_head)
        walked = _ChainState(
            chain.GENESIS, None, expected_head, expected_head is None, first=first, last=last
        )
        if first > 1:
            before = self.store.link_before(first)
            if before is not None:
                walked.previous, walked.committed_before = before[1], before[2]
        return walked

    def _report(
        self,
        start: int,
        checked: int,
        tail: tuple[int, bytes] | None,
        full: bool,
        findings: _Findings,
    ) -> VerifyReport:
        return VerifyReport(
            from_position=start,
            events_checked=checked,
            head_position=0 if tail is None else tail[0],
            head_link="" if tail is None else tail[1].hex(),
            replayed=full,
            findings=tuple(sorted(findings.listed, key=_finding_order)),
            findings_omitted=findings.omitted,
        )

    def _decode(self, rows: Sequence[StoredRow], findings: _Findings) -> list[tuple[int, object]]:
        """(position, decoded record) of every row that decodes; a finding for each that
        does not. Ledger events through the read path's decoder, idempotency records through
        the mapper."""
        topics = self.event_topics
        wanted: list[StoredRow] = []
        result: list[tuple[int, object]] = []
        others: list[StoredRow] = []
        for row in rows:
            topic = row[3]
            is_event = topics.get(topic)
            if is_event is None:
                try:
                    is_event = topics[topic] = issubclass(resolve_topic(topic), Event)
                except Exception as error:
                    findings.add(FindingKind.DECODE, row[0], f"unknown topic {topic!r} ({error})")
                    continue
            (wanted if is_event else others).append(row)
        try:
            decoded = self.decoder.decode(wanted)
        except Exception:
            decoded = None
        if decoded is not None and len(decoded) == len(wanted):
            result.extend(zip((row[0] for row in wanted), decoded, strict=True))
        else:
            for row in wanted:
                try:
                    result.extend((row[0], event) for event in self.decoder.decode([row]))
                except Exception as error:
                    findings.add(
                        FindingKind.DECODE,
                        row[0],
                        f"{row[3]} of {row[1]} v{row[2]} does not decode "
                        f"({type(error).__name__}: {str(error)[:200]})",
                    )
        for row in others:
            try:
                result.append((row[0], self._by_mapper(row)))
            except Exception as error:
                findings.add(
                    FindingKind.DECODE,
                    row[0],
                    f"{row[3]} of {row[1]} v{row[2]} does not decode ({type(error).__name__})",
                )
        if others:
            result.sort(key=lambda pair: pair[0])
        return result

    def _by_mapper(self, row: StoredRow) -> object:
        from eventsourcing.persistence import Notification

        return self.ledger.mapper.to_domain_event(
            Notification(
                id=row[0],
                originator_id=UUID(row[1]),
                originator_version=row[2],
                topic=row[3],
                state=bytes(row[4]),
            )
        )

    def _tracking(self) -> runner_module.Tracking | None:
        if not self.store.has_table("arledger_rm_tracking"):
            return None
        rows = self.store.fetchall(
            "SELECT notification_id, originator_id, originator_version FROM arledger_rm_tracking "
            "WHERE name = ?",
            (runner_module.RUNNER_NAME,),
        )
        if not rows:
            return None
        return runner_module._tracking(rows[0])

    def _compare_read_models(
        self,
        tracking: runner_module.Tracking,
        found: tuple[str, int] | None,
        fresh: _FreshFold,
        findings: _Findings,
    ) -> None:
        position = tracking.position
        if tracking.folded is not None and found is not None:
            # SQLite keeps the id as hex text, the tracking row as the UUID's text.
            if (UUID(found[0]), found[1]) != (UUID(tracking.folded[0]), tracking.folded[1]):
                findings.add(
                    FindingKind.READ_MODEL,
                    position,
                    f"the read models folded {tracking.folded[0]} v{tracking.folded[1]} here, "
                    f"the log holds {found[0]} v{found[1]}",
                )
        elif tracking.folded is not None and position:
            findings.add(
                FindingKind.READ_MODEL,
                position,
                f"the read models folded {tracking.folded[0]} v{tracking.folded[1]} here; the "
                "log holds no event there",
            )
        codec = runner_module.PartitionCodec.of(self.ledger)
        plain = self.ledger.mapper.cipher is None
        dump = runner_module.dump_partition
        stored = dict(
            self.store.fetchall("SELECT partition_key, state FROM arledger_rm_partitions")
        )
        for key in sorted(stored.keys() | fresh.states.keys()):
            text = stored.get(key)
            state = fresh.states.get(key)
            if text is None or state is None:
                what = "is missing" if text is None else "has no events in the log"
                findings.add(
                    FindingKind.READ_MODEL,
                    position,
                    f"stored read model partition {key} {what} (a fresh fold up to the "
                    "tracking position differs)",
                )
                continue
            if plain and text == dump(state):
                # The fresh state written as the runner writes it is the stored text: equal
                # (loading what dump wrote gives the state back), without loading the stored
                # one and comparing the two object by object, most of this step's cost.
                continue
            try:
                loaded = codec.load(text)
            except Exception as error:
                findings.add(
                    FindingKind.READ_MODEL,
                    position,
                    f"stored read model partition {key} does not load ({type(error).__name__})",
                )
                continue
            if loaded != state:
                findings.add(
                    FindingKind.READ_MODEL,
                    position,
                    f"stored read model partition {key} differs from a fresh fold of the log "
                    "up to the tracking position",
                )
        # Compared as written (``stored_routes``: under keyed ids with a cipher), in the form
        # the store hands back: UUIDs on PostgreSQL, their text on SQLite (where the runner
        # looks a route up by that text, so text in another form is a difference too).
        expected: Mapping[Any, str] = codec.stored_routes(fresh.routes)
        stored_routes = dict(
            self.store.fetchall("SELECT aggregate_id, partition_key FROM arledger_rm_routes")
        )
        if stored_routes and not isinstance(next(iter(stored_routes)), UUID):
            expected = {str(aggregate_id): key for aggregate_id, key in expected.items()}
        if stored_routes != expected:
            wrong = sorted(
                str(i)
                for i in stored_routes.keys() | expected.keys()
                if stored_routes.get(i) != expected.get(i)
            )
            findings.add(
                FindingKind.READ_MODEL,
                position,
                f"stored read model routes differ from a fresh fold for {len(wrong)} "
                f"aggregate(s), first {wrong[0]}",
            )

    def _compare_segments(self, columns: _Columns, findings: _Findings) -> None:
        segments = SegmentStore(self.store.connections, cipher=self.ledger.mapper.cipher).load()
        if not segments:
            return
        last = segments[-1]
        fresh = columns.tables()
        positions = columns.positions
        if last.last_event >= len(positions):
            findings.add(
                FindingKind.SEGMENTS,
                last.position,
                f"the columnar segments hold {last.last_event} events, the log "
                f"{len(positions) - 1}",
            )
            return
        if positions[last.last_event] != last.position:
            findings.add(
                FindingKind.SEGMENTS,
                last.position,
                f"the columnar segments end at event {last.last_event}, which the log holds at "
                f"position {positions[last.last_event]}",
            )
        names = {name for segment in segments for name in segment.tables} | {
            name
            for name, table in fresh.items()
            if name == "ids" or (table.num_rows and table["seq"][0].as_py() <= last.last_event)
        }
        for name in sorted(names):
            parts = [segment.tables[name] for segment in segments if name in segment.tables]
            schema = IDS_SCHEMA if name == "ids" else SCHEMAS[name]
            stored = pa.concat_tables(parts or [schema.empty_table()]).combine_chunks()
            expected = fresh.get(name)
            if name == "ids":
                expected = None if expected is None else expected.slice(0, last.ids_count)
            elif expected is not None:
                expected = expected.filter(pa.compute.less_equal(expected["seq"], last.last_event))
            if expected is not None and stored.equals(expected):
                continue
            row = _first_difference(stored, expected)
            position = None
            if name != "ids" and expected is not None and row < expected.num_rows:
                position = positions[int(expected["seq"][row].as_py())]
            elif name != "ids" and row < stored.num_rows:
                seq = int(stored["seq"][row].as_py())
                position = positions[seq] if seq < len(positions) else None
            findings.add(
                FindingKind.SEGMENTS,
                position,
                f"the columnar segments' {name} table differs from the log from its row {row}",
            )


def _shared(positions: int, settings: Mapping[str, str]) -> bool:
    """Whether a pass over ``positions`` shares its work with a second process (``_Worker``).

    Not for a small pass (the process's start would cost more than it saves), nor on an
    in-memory SQLite database (this process's alone: a second one would open another), nor
    when no core is spare: the two processes use about a quarter more CPU time than one, and
    on a machine busy already the second one would only queue for a core."""
    return positions >= WORKER_EVENTS_MIN and not sqlite_in_memory(settings) and _core_spare()


def _core_spare() -> bool:
    """Whether a core is free for a second process: two or more cores this process may run
    on, and a load average (over the last minute) below their number less one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and os.getloadavg()[0] <= (cores or 1) - 1


@attrs.frozen
class _Share:
    """A ``_Worker``'s share of a pass: the chain from ``start`` up to ``bound``, and
    decoding and replaying every aggregate too if ``replays``."""

    start: int
    bound: int
    expect_head: str | None
    replays: bool
    walk_upto: int
    """The last position whose link it checks (this process checks the rest)."""


@attrs.frozen
class _Integrity:
    """What a ``_Worker`` reports: its findings, the records it read, whether it saw the
    expected head."""

    findings: tuple[Finding, ...]
    omitted: int
    checked: int
    head_seen: bool


class _Worker:
    """A share of a pass (``_Share``) in a second process.

    A pass is Python work per event under one interpreter lock. Split in two, it takes about
    half as long on two cores: the replay and most of the chain there, the read models' fresh
    fold and the rest of the chain here, or, with no read models stored, the chain there and
    decoding and the replay here.

    The process is a new interpreter (``subprocess``): forking would share this one's store
    connections and pool threads, and ``multiprocessing``'s spawn re-imports the caller's main
    module, which a script without a ``__main__`` guard cannot bear. It opens the store with
    the same settings (sent on its standard input, not on its command line, where ``ps`` would
    show a password or a cipher key), reads the same positions (up to the bound fixed before
    either began) and writes what it found to its standard output; it then exits at once,
    leaving its millions of replayed states to the operating system rather than freeing them
    one by one."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(cls, settings: Mapping[str, str], share: _Share) -> _Worker:
        process = subprocess.Popen(
            # -P: the working directory is not put on the path (a checkout's top directory
            # holds an ``arledger`` folder that is not the installed package).
            [sys.executable, "-P", "-c", _WORKER_MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None
        pickle.dump((dict(settings), share), process.stdin)
        process.stdin.close()
        return cls(process)

    def join(self, findings: _Findings) -> tuple[int, bool]:
        """Wait for the worker's result; add its findings; (records read, head seen)."""
        assert self.process.stdout is not None
        data = self.process.stdout.read()
        self.process.stdout.close()
        code = self.process.wait()
        if not data:
            raise ArledgerError(
                f"verify's second process ended without a result (exit code {code}): nothing "
                "was checked"
            )
        status, result = pickle.loads(data)
        if status != "ok":
            raise result
        assert isinstance(result, _Integrity)
        for finding in result.findings:
            findings.add(finding.kind, finding.position, finding.message)
        findings.omitted += result.omitted
        return result.checked, result.head_seen

    def stop(self) -> None:
        """End a worker whose result is no longer wanted (the pass here failed)."""
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdout, self.process.stdin):
            if stream is not None:
                stream.close()


_WORKER_MAIN: Final = "from arledger.adapters.audit.verify import _worker_main; _worker_main()"


def _worker_main() -> None:
    """A ``_Worker``'s process: reads (settings, ``_Share``) on its standard input,
    writes ("ok", ``_Integrity``) or ("error", the exception) on its standard output."""
    from arledger.adapters.application.ledger import Ledger
    from arledger.adapters.persistence.store import busy_errors

    # The result's channel is the standard output as it was; anything printed meanwhile
    # (a library's notice) goes to the standard error instead of into the result.
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # The collector stays off to the end: the states the pass made are left to the exit.
    gc.disable()
    kept: list[object] = []
    message: tuple[str, object]
    try:
        settings, share = pickle.load(sys.stdin.buffer)
        ledger = Ledger(env=settings)
        connections = ledger.read_model_connections()
        assert connections is not None  # the Ledger verifying has a store on disk
        with busy_errors(ledger.store_settings):
            message = ("ok", Verifier(ledger, connections).integrity(share, kept))
    except BaseException as error:  # sent to the pass, which raises it
        message = ("error", error)
    try:
        data = pickle.dumps(message)
    except Exception:  # an exception that does not pickle: its text
        failed = ArledgerError(f"verify's second process failed: {message[1]!r}")
        data = pickle.dumps(("error", failed))
    result.write(data)
    result.close()
    os._exit(0)


@contextmanager
def _collector_spared() -> Iterator[Callable[[], None]]:
    """A pass keeps every aggregate's and partition's state (millions of objects, alive until
    it ends); the cyclic collector would scan them again and again: measured, its scans took
    48% of a pass over 600,000 events, and their share grows with the log. So the collector is
    off during the pass, and after each page (``spare``) what the page made is moved out of its
    generations (``gc.freeze``, a constant-time splice). Objects are still freed by reference
    counting; only garbage in reference cycles waits for the end of the pass, which hands
    everything back (``gc.unfreeze``) and turns the collector on again as it was. A freeze made
    by someone before the pass is left as it was (our objects then stay frozen too).
    Process-wide while the pass runs, as the collector is."""
    enabled = gc.isenabled()
    ours = gc.get_freeze_count() == 0

    gc.disable()
    try:
        yield gc.freeze
    finally:
        if ours:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _as_bytes(state: object) -> bytes:
    """A stored state as bytes: text put in its place (an edit by hand) as its UTF-8."""
    if isinstance(state, str):
        return state.encode("utf-8", "surrogatepass")
    assert isinstance(state, bytes | bytearray | memoryview)
    return bytes(state)


def _first_difference(stored: pa.Table, expected: pa.Table | None) -> int:
    """The first row at which two tables differ (by bisection on equal prefixes)."""
    if expected is None:
        return 0
    low, high = 0, min(stored.num_rows, expected.num_rows)
    while low < high:
        middle = (low + high + 1) // 2
        if stored.slice(0, middle).equals(expected.slice(0, middle)):
            low = middle
        else:
            high = middle - 1
    return low


@attrs.define
class _ChainState:
    """Where the chain check is: the link and commit instant before the next position, and
    the positions this process checks (``first`` to ``last``)."""

    previous: bytes
    committed_before: int | None
    expected_head: bytes | None
    head_seen: bool
    first: int
    last: int


def _walk(
    rows: Sequence[StoredRow],
    links: Sequence[tuple[int, bytes, int | None]],
    state: _ChainState,
    findings: _Findings,
) -> None:
    """Check one page of records against the links of the same positions.

    Each record's link is recomputed over the record and the *stored* link before it (so one
    edit is one finding, not a cascade); ``chain.link_of`` is inlined (SHA-256 over the packed
    head, the topic and the state), the loop's cost for a million records."""
    sha256 = hashlib.sha256
    pack = chain.HEAD.pack
    unknown = chain.UNKNOWN_INSTANT
    id_bytes = chain.id_bytes
    topics: dict[str, bytes] = {}
    previous = state.previous
    committed_before = state.committed_before
    expected_head = state.expected_head
    rows_count = len(rows)
    links_count = len(links)
    i = j = 0
    while i < rows_count or j < links_count:
        row = rows[i] if i < rows_count else None
        link = links[j] if j < links_count else None
        if link is not None and (row is None or link[0] < row[0]):
            j += 1
            findings.add(
                FindingKind.CHAIN, link[0], "a link without its event: the event was deleted"
            )
            previous = link[1]
            continue
        assert row is not None
        position, originator_id, version, topic, stored = row
        i += 1
        if link is None or position < link[0]:
            findings.add(
                FindingKind.CHAIN,
                position,
                f"{_record_name(row)} has no link: inserted outside arledger",
            )
            continue
        j += 1
        committed = link[2]
        topic_bytes = topics.get(topic)
        if topic_bytes is None:
            topic_bytes = topics[topic] = topic.encode("utf-8", "surrogatepass")
        record = stored if type(stored) is bytes else bytes(stored)
        expected = sha256(
            pack(
                previous,
                position,
                unknown if committed is None else committed,
                id_bytes(originator_id),
                version,
                len(topic_bytes),
                len(record),
            )
            + topic_bytes
            + record
        ).digest()
        previous = link[1]
        if expected_head is not None and previous == expected_head:
            state.head_seen = True
        if expected != previous:
            findings.add(
                FindingKind.CHAIN,
                position,
                f"the link does not match the record ({_record_name(row)}) and the link before "
                "it: the record or an earlier one was changed, moved or inserted",
            )
        if committed is not None:
            if committed_before is not None and committed < committed_before:
                findings.add(
                    FindingKind.CHAIN, position, "its commit instant is earlier than the one before"
                )
            committed_before = committed
    state.previous = previous
    state.committed_before = committed_before


def _record_name(row: StoredRow) -> str:
    return f"{row[3].rsplit(':', 1)[-1]} of {row[1]} v{row[2]}"


_KIND_ORDER: Final = {kind: rank for rank, kind in enumerate(FindingKind)}


def _finding_order(finding: Finding) -> tuple[int, int]:
    """By position, then kind (the chain, decoding, the replay, the read models): the same
    order whichever process made a finding (``_Worker``)."""
    return (-1 if finding.position is None else finding.position, _KIND_ORDER[finding.kind])


def _parse_head(text: str) -> bytes:
    try:
        head = bytes.fromhex(text.strip().lower())
    except ValueError:
        head = b""
    if len(head) != 32:
        raise ChainMismatchError(
            f"expect_head {text!r} is not a chain link: 64 hexadecimal digits",
        )
    return head


# Building a chain for an existing store -------------------------------------------------------


@contextmanager
def _write_locked(store: _Store, ledger: Any) -> Iterator[Any]:
    """A transaction holding the events' insert lock (no event is written meanwhile)."""
    with store.connections.connection() as held:
        connection: Any = held
        if store.postgres:
            from psycopg.sql import SQL, Identifier

            with connection.transaction():
                connection.execute(
                    SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
                        Identifier(ledger.recorder.datastore.schema),
                        Identifier(ledger.recorder.events_table_name),
                    )
                )
                yield connection
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def build_chain(
    ledger: Any, connections: Connections, progress: Callable[[int], None] | None = None
) -> int:
    """Build the chain of a store that has events and no chain; returns the links written.

    One transaction under the events' insert lock (writers wait; a killed build leaves no
    chain). Commit instants were never recorded: they stay NULL. A store that has a chain is
    refused (``ChainMismatchError``): a chain is never rebuilt over, which would launder edits.
    """
    store = _Store(ledger, connections)
    marker = store.marker
    written = 0
    with _write_locked(store, ledger) as connection:
        if connection.execute(f"SELECT 1 FROM {chain.TABLE} LIMIT 1").fetchall():
            raise ChainMismatchError(
                "the store already has a hash chain: it is never rebuilt (run arledger verify)",
            )
        previous = chain.GENESIS
        start = 1
        statement = (
            f"SELECT {store.position_column}, originator_id, originator_version, topic, state "
            f"FROM {store.events_table} WHERE {store.position_column} >= {marker} "
            f"ORDER BY {store.position_column} LIMIT {marker}"
        )
        insert = (
            f"INSERT INTO {chain.TABLE} (position, link, committed_at_us) "
            f"VALUES ({marker}, {marker}, NULL)"
        )
        while True:
            rows = connection.execute(statement, (start, PAGE_EVENTS)).fetchall()
            if not rows:
                break
            links = []
            for position, originator_id, version, topic, state in rows:
                previous = chain.link_of(
                    previous,
                    int(position),
                    None,
                    chain.as_uuid(
                        originator_id if isinstance(originator_id, UUID) else str(originator_id)
                    ),
                    int(version),
                    topic,
                    bytes(state),
                )
                links.append((int(position), previous))
            cursor = connection.cursor()
            cursor.executemany(insert, links)
            written += len(links)
            if progress is not None:
                progress(written)
            start = int(rows[-1][0]) + 1
    return written
