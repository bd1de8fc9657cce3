"""The columnar log cut by customer: N partitions, each a complete columnar log of its customers.

Every rule of the ledger is per customer (one customer's money never settles another's
invoice), so the portfolio splits by customer without changing a rule: the fast path run on
each partition and the answers combined (``combined_ageing``, ``combined_worklist``) equal the
fast path on the whole log. The distributed recompute (``distributed.py``) runs the same
per-partition function on a Dask cluster's workers, each reading its partition from a local
folder or any pyarrow/fsspec filesystem (``resolved``).

The layout, written down once:

- ``DIR/partitions.json`` (written last: a folder without it is an export that did not finish)
  names the count, the hash rule and the partitions' folders and event counts.
- ``DIR/part-<i>-of-<N>/`` is an ordinary export (``columnar.ParquetSink``: ids table, one file
  per event class, manifest), readable by ``columnar.read_parquet``; its manifest also names
  ``partition`` (count, index, hash rule and the export's own random id, also in
  ``partitions.json``), so a reader refuses a folder mixing exports.
- The main invariant: each event belongs to exactly one customer or to the shared books.
  A customer's events are those of its account (originator = the customer) and of every
  aggregate one of whose events names it in a ``engine.CUSTOMER_COLUMNS`` column (invoices,
  payments, promises, cases, credit notes): the mapping ``QueryEngine.customer_events`` uses.
  Every other event (escalation and authority policies, exchange rates: the shared books) is
  written to every partition. Within a partition the events keep their recording order
  (``seq`` numbers them 1.. again, as any log of just those events would).
- The hash rule (``HASH_RULE``): BLAKE2b with an 8-byte digest of the customer id's 16 bytes,
  read big-endian, modulo N. Never Python's ``hash()``, which changes between processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import ColumnarLog, ColumnarWriter, ParquetSink
from arledger.adapters.read_models.engine import CUSTOMER_COLUMNS, SELECT
from arledger.domain.errors import ArledgerError
from arledger.domain.events import CustomerAccountOpened, Event
from arledger.domain.policy import EscalationPolicy
from arledger.domain.policy_book import PolicyVersion, policy_in_force
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.escalation.worklist import worklist_order
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast import reports
from arledger.projections.results import Worklist

HASH_RULE: Final = "blake2b-8(customer_id.bytes) big-endian mod N"
"""The rule named in every manifest: a reader refuses partitions cut by another rule."""
PARTITIONS_MAX: Final = 4096
"""Partitions one export may have (each holds open files while the export runs)."""
TOP_MANIFEST: Final = "partitions.json"
PARTITIONS_LAYOUT: Final = 1
BATCH_EVENTS: Final = columnar.BATCH_EVENTS_DEFAULT
_PART_NAME: Final = re.compile(r"\.?part-\d+-of-\d+")
_STAGED: Final = f".{TOP_MANIFEST}.new"
"""``partitions.json`` as it is written, before its rename (one a killed export left is
overwritten by the next, not taken for a foreign file)."""


@attrs.define(kw_only=True, slots=False)
class PartitionError(ArledgerError, ValueError):
    """A partitioned export that cannot be read or written as asked: a missing, corrupt or
    foreign partition (``partition``: its index), or events that belong to no one customer."""

    directory: str | None = None
    partition: int | None = None


def partition_of(customer_id: UUID, partitions: int) -> int:
    """The partition of a customer (``HASH_RULE``): the same in every process and release."""
    digest = hashlib.blake2b(customer_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partition_folder(index: int, partitions: int) -> str:
    return f"part-{index:05d}-of-{partitions:05d}"


class Partitioner:
    """Assigns events, in log order, to the customer they belong to (None: the shared books).

    An aggregate belongs to the customer its events name; one that names none by its first
    event is shared. That is checked, not assumed: an aggregate naming a customer after it
    was found shared, or naming two customers, is refused (``PartitionError``)."""

    def __init__(self) -> None:
        self.owner: dict[UUID, UUID | None] = {}
        self._naming: dict[type, tuple[str, ...]] = {}
        """Per event class, the ``CUSTOMER_COLUMNS`` it has (most have none)."""

    def customer_of(self, event: Event) -> UUID | None:
        cls = type(event)
        naming = self._naming.get(cls)
        if naming is None:
            fields = attrs.fields_dict(cls)
            naming = self._naming[cls] = tuple(c for c in CUSTOMER_COLUMNS if c in fields)
        if not naming and cls is not CustomerAccountOpened:
            # The common case, kept short (a log has tens of millions of events): the
            # aggregate's owner as its earlier events named it (none: the shared books).
            return self.owner.setdefault(event.originator_id, None)
        named = {value for column in naming if (value := getattr(event, column)) is not None}
        if isinstance(event, CustomerAccountOpened):
            named.add(event.originator_id)
        origin = event.originator_id
        known = self.owner.get(origin, _UNSEEN)
        if len(named) > 1 or (named and known not in (_UNSEEN, *named)):
            was = "the shared books" if known is None else f"customer {known}"
            raise PartitionError(
                f"{type(event).__name__} of aggregate {origin} names customer(s) "
                f"{', '.join(sorted(map(str, named)))}, but the aggregate belongs to {was}: "
                "each aggregate must belong to one customer or to the shared books; "
                "nothing was written"
            )
        if known is _UNSEEN:
            customer = next(iter(named)) if named else None
            self.owner[origin] = customer
            return customer
        assert known is None or isinstance(known, UUID)
        return known


_UNSEEN: Final = UUID(int=0)
"""No aggregate has the nil id: a sentinel of the owner map's type."""


@attrs.frozen(kw_only=True)
class PartitionedExport:
    """What ``write_partitioned`` wrote: per partition its rows per table."""

    directory: Path
    rows: tuple[dict[str, int], ...]

    @property
    def events(self) -> tuple[int, ...]:
        return tuple(sum(n for name, n in rows.items() if name != "ids") for rows in self.rows)


def partitioned_target(directory: Path) -> Path:
    """The folder a partitioned export writes, checked before any work: new, empty or an
    earlier partitioned export; never the working folder or one of its parents."""
    target = Path(os.path.realpath(directory))
    working = Path.cwd().resolve()
    if target == working or target in working.parents:
        raise columnar.ExportDirectoryError(
            f"{directory} is the working folder or holds it: name a folder of its own; "
            "nothing was written",
            directory=str(directory),
        )
    if target.exists():
        if not target.is_dir():
            raise columnar.ExportDirectoryError(
                f"{directory} is a file, not a folder", directory=str(directory)
            )
        foreign = sorted(
            entry.name
            for entry in target.iterdir()
            if entry.name not in (TOP_MANIFEST, _STAGED) and not _PART_NAME.match(entry.name)
        )
        if foreign:
            raise columnar.ExportDirectoryError(
                f"{directory} holds files that are not a partitioned arledger export "
                f"({', '.join(foreign[:3])}...); nothing was written: choose a new or empty "
                "folder",
                directory=str(directory),
            )
    return target


def write_partitioned(
    events: Iterable[Event],
    directory: Path,
    *,
    partitions: int,
    page_rows: int = columnar.PAGE_ROWS_DEFAULT,
) -> PartitionedExport:
    """Stream a log into ``partitions`` partitions of ``directory`` (see the module's doc).

    Each partition is written as an export of its own (beside its folder, swapped in when
    complete); ``partitions.json`` is removed first and written last, so a failed export
    leaves a folder every reader refuses, never a mix taken for a whole."""
    if not 1 <= partitions <= PARTITIONS_MAX:
        raise PartitionError(
            f"partitions must be 1 to {PARTITIONS_MAX}, not {partitions}",
            directory=str(directory),
        )
    target = partitioned_target(directory)
    target.mkdir(parents=True, exist_ok=True)
    (target / TOP_MANIFEST).unlink(missing_ok=True)
    names = [partition_folder(index, partitions) for index in range(partitions)]
    export_id = str(uuid4())  # tells this export's partitions from another's of the same count
    sinks: list[ParquetSink] = []
    try:
        for index, name in enumerate(names):
            sinks.append(
                ParquetSink(
                    target / name,
                    manifest_extra={"partition": _place(partitions, index, export_id)},
                )
            )
        writers = [ColumnarWriter(sink, page_rows=page_rows) for sink in sinks]
        pending: list[list[Event]] = [[] for _ in names]
        partitioner = Partitioner()
        every = range(partitions)
        place: dict[UUID, tuple[int]] = {}  # hashed once per customer, not once per event
        for event in events:
            customer = partitioner.customer_of(event)
            chosen: Sequence[int] = every
            if customer is not None:
                found = place.get(customer)
                if found is None:
                    found = place[customer] = (partition_of(customer, partitions),)
                chosen = found
            for index in chosen:
                pending[index].append(event)
                if len(pending[index]) >= BATCH_EVENTS:
                    writers[index].write_batch(pending[index])
                    pending[index] = []
        for writer, batch in zip(writers, pending, strict=True):
            if batch:
                writer.write_batch(batch)
            writer.close()
        for sink in sinks:
            sink.close()
    except BaseException:
        for sink in sinks:
            sink.abort()  # a sink already swapped in only loses its (empty) partial name
        raise
    rows = tuple(dict(sink.rows) for sink in sinks)
    manifest = {
        "layout": PARTITIONS_LAYOUT,
        "partitions": partitions,
        "hash": HASH_RULE,
        "export": export_id,
        "folders": names,
        "events": [sum(n for table, n in r.items() if table != "ids") for r in rows],
    }
    staged = target / _STAGED
    staged.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    columnar._fsync(staged)
    staged.rename(target / TOP_MANIFEST)
    columnar._fsync(target)
    for entry in target.iterdir():  # partitions of an earlier export with another count
        if entry.name not in names and entry.name.startswith("part-") and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    return PartitionedExport(directory=directory, rows=rows)


def _place(partitions: int, index: int, export_id: str) -> dict[str, Any]:
    """What a partition's manifest says of its place in its export."""
    return {"count": partitions, "index": index, "hash": HASH_RULE, "export": export_id}


Location = Path | str
"""Where a partitioned export is: a local folder, or a URI pyarrow resolves (``s3://bucket/dir``,
``gs://...``, ``hdfs://...``, ``file:///...``)."""


def resolved(location: Location, filesystem: Any = None) -> tuple[pafs.FileSystem | None, str]:
    """(filesystem, path in it) of ``location``: in ``filesystem`` if given (a pyarrow
    filesystem, or an fsspec one, wrapped); else the filesystem of its URI; else local (None)."""
    if filesystem is not None:
        if not isinstance(filesystem, pafs.FileSystem):
            filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(filesystem))
        return filesystem, str(location).rstrip("/")
    text = str(location)
    if "://" in text:
        try:
            found, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowException, ValueError, OSError) as error:
            raise PartitionError(f"{text}: {error}", directory=text) from error
        return found, path.rstrip("/")
    return None, text


def partition_count(directory: Location, *, filesystem: Any = None) -> int:
    """The number of partitions of a finished partitioned export."""
    found, root = resolved(directory, filesystem)
    return int(_top_manifest(found, root, directory)["partitions"])


def _text(filesystem: pafs.FileSystem | None, path: str) -> str:
    if filesystem is None:
        return Path(path).read_text()
    text = columnar.read_text(filesystem, path)
    if text is None:
        raise FileNotFoundError(path)
    return text


def _top_manifest(
    filesystem: pafs.FileSystem | None, root: str, directory: Location
) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(_text(filesystem, f"{root}/{TOP_MANIFEST}"))
    except FileNotFoundError:
        raise PartitionError(
            f"{directory}: no {TOP_MANIFEST} (not a partitioned export, or it did not finish)",
            directory=str(directory),
        ) from None
    except (OSError, ValueError, pa.ArrowException) as error:
        raise PartitionError(
            f"{directory}: {TOP_MANIFEST} unreadable ({error})", directory=str(directory)
        ) from error
    count = manifest.get("partitions")
    if (
        manifest.get("layout") != PARTITIONS_LAYOUT
        or manifest.get("hash") != HASH_RULE
        or not isinstance(count, int)
        or not 1 <= count <= PARTITIONS_MAX
    ):
        raise PartitionError(
            f"{directory}: {TOP_MANIFEST} names layout {manifest.get('layout')!r}, "
            f"hash {manifest.get('hash')!r}, {count!r} partitions: expected layout "
            f"{PARTITIONS_LAYOUT}, hash {HASH_RULE!r}",
            directory=str(directory),
        )
    return manifest


def read_partition(directory: Location, index: int, *, filesystem: Any = None) -> ColumnarLog:
    """Partition ``index`` of a partitioned export (a local folder, a URI, or a path in
    ``filesystem``: see ``resolved``), checked to be that partition of that export (count, index
    and hash rule in its manifest) and whole (every table readable, with the rows its manifest
    names); else ``PartitionError`` naming it."""
    found, root = resolved(directory, filesystem)
    top = _top_manifest(found, root, directory)
    count = int(top["partitions"])
    if not 0 <= index < count:
        raise PartitionError(
            f"{directory} has partitions 0 to {count - 1}, not {index}",
            directory=str(directory),
            partition=index,
        )
    folder = f"{root}/{partition_folder(index, count)}"
    where = f"partition {index} of {count} ({folder})"
    is_dir = (
        Path(folder).is_dir()
        if found is None
        else found.get_file_info(folder).type == pafs.FileType.Directory
    )
    if not is_dir:
        raise PartitionError(f"{where} is missing", directory=str(directory), partition=index)
    try:
        manifest = json.loads(_text(found, f"{folder}/manifest.json"))
        place = manifest.get("partition")
        if place != _place(count, index, top.get("export", "")):
            raise PartitionError(
                f"{where} belongs to another export (its manifest names {place!r})",
                directory=str(directory),
                partition=index,
            )
        log = columnar.read_parquet(folder, filesystem=found)
        counts = {name: table.num_rows for name, table in log.tables.items()}
        counts["ids"] = log.ids.num_rows
        if counts != manifest["rows"]:
            raise PartitionError(
                f"{where} holds other rows than its manifest names",
                directory=str(directory),
                partition=index,
            )
    except PartitionError:
        raise
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        raise PartitionError(
            f"{where} is missing files or corrupt: {error}",
            directory=str(directory),
            partition=index,
        ) from error
    return log


def read_partitions(directory: Location, *, filesystem: Any = None) -> list[ColumnarLog]:
    """Every partition of a partitioned export, in index order (each checked as
    ``read_partition`` checks it)."""
    count = partition_count(directory, filesystem=filesystem)
    return [read_partition(directory, index, filesystem=filesystem) for index in range(count)]


# Answers per partition, and combined ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PortfolioAnswers:
    """The fast path's portfolio answers of one log (a partition's or the whole log's)."""

    ageing_by_customer: AgeingReport
    ageing_by_currency: AgeingReport
    ageing_by_owner: AgeingReport
    worklist: Worklist
    policy: EscalationPolicy
    """The escalation policy in force on the date (which ordered the worklist)."""


def portfolio_answers(
    log: ColumnarLog, as_of: date, *, known_at: datetime | None = None
) -> PortfolioAnswers:
    """The fast path's ageing (by customer, currency and owner) and worklist of ``log`` on
    ``as_of``, as recorded by ``known_at`` (event stamps), computed as ``QueryEngine.ageing``
    and ``QueryEngine.worklist`` compute them (the same functions, ``reports.assembled_worklist``
    included, over this log instead of a store's live one): what each partition's worker
    computes, and what the whole log's answer is compared with."""
    cols = columnar.columns(log, select=SELECT)
    policy = _policy_on(cols, as_of, known_at)
    decode = columnar.decode_policy
    with_buckets = fast_path.fast_portfolio(
        cols,
        as_of,
        decode_policy=decode,
        known_at=known_at,
        ageing_policy=policy.ageing,
        invoice_buckets=True,
    )
    by_customer, by_currency, by_owner = (
        reports.ageing_report(cols, with_buckets, grouping=grouping)
        for grouping in (AgeingGrouping.CUSTOMER, AgeingGrouping.CURRENCY, AgeingGrouping.OWNER)
    )
    result = fast_path.fast_portfolio(cols, as_of, decode_policy=decode, known_at=known_at)
    issued = log.tables.get("InvoiceIssued")
    numbers = None
    if issued is not None:
        if known_at is not None:  # the rows the fast path numbers: those known by then
            limit = pa.scalar(known_at, type=issued.schema.field("timestamp").type)
            issued = issued.filter(pc.less_equal(issued["timestamp"], limit))
        numbers = issued.column("invoice_number")

    def numbers_of(rows: np.ndarray) -> list[str]:
        if len(rows) == 0 or numbers is None:
            return []
        taken: list[str] = numbers.take(pa.array(rows)).to_pylist()
        return taken

    id_column = log.ids.column("id")

    def ids_of(indexes: np.ndarray) -> list[UUID]:
        # Only the ids asked for (the worklist's customers): decoding every id of the log
        # into a UUID was a fixed cost of each partition's task.
        taken = id_column.take(pa.array(indexes, type=pa.int64())).to_pylist()
        return [UUID(bytes=raw) for raw in taken]

    items = reports.assembled_worklist(cols, result, decode, numbers_of, ids_of)
    worklist = Worklist(as_of=as_of, owner=None, policy_version=policy.version, items=tuple(items))
    return PortfolioAnswers(
        ageing_by_customer=by_customer,
        ageing_by_currency=by_currency,
        ageing_by_owner=by_owner,
        worklist=worklist,
        policy=policy,
    )


def _policy_on(
    cols: columnar.Columns, on: date, known_at: datetime | None = None
) -> EscalationPolicy:
    adopted = fast_path.known_tables(cols, known_at)["EscalationPolicyAdopted"]
    texts = adopted.get("policy.dictionary", ())
    versions = [
        PolicyVersion(
            policy=columnar.decode_policy(texts[code]), effective_on=fast_path.on_date(day)
        )
        for code, day in zip(
            adopted.get("policy", ()), adopted.get("effective_on", ()), strict=True
        )
    ]
    return policy_in_force(versions, on)


def combined_ageing(reports_of: Sequence[AgeingReport]) -> AgeingReport:
    """The ageing of the whole log from its partitions' (same date, policy and grouping): rows
    of one (key, currency) summed (amounts, disputed) or maxed (days past due), in the
    (key, currency) order every ageing report has (Python's string order). A customer lives in
    one partition, so by customer no two rows meet; by currency they are summed."""
    first = reports_of[0]
    for other in reports_of[1:]:
        if (other.as_of, other.policy, other.grouping) != (
            first.as_of,
            first.policy,
            first.grouping,
        ):
            raise PartitionError(
                "the partitions' ageing reports differ in date, policy or grouping"
            )
    merged: dict[tuple[str, str], AgeingRow] = {}
    for report in reports_of:
        for row in report.rows:
            known = merged.get((row.key, row.currency))
            if known is None:
                merged[row.key, row.currency] = row
                continue
            merged[row.key, row.currency] = AgeingRow(
                key=row.key,
                label=row.label,
                currency=row.currency,
                buckets_minor=tuple(
                    a + b for a, b in zip(known.buckets_minor, row.buckets_minor, strict=True)
                ),
                open_minor=known.open_minor + row.open_minor,
                days_past_due_max=max(known.days_past_due_max, row.days_past_due_max),
                disputed_minor=known.disputed_minor + row.disputed_minor,
                settled_in_goods_minor=known.settled_in_goods_minor + row.settled_in_goods_minor,
            )
    return AgeingReport(
        as_of=first.as_of,
        policy=first.policy,
        grouping=first.grouping,
        rows=tuple(merged[key] for key in sorted(merged)),
    )


def combined_worklist(worklists: Sequence[Worklist], policy: EscalationPolicy) -> Worklist:
    """The worklist of the whole log from its partitions' (same date, owner and policy
    version): their items merged in the policy's priority order (``worklist_order``, the
    fold's own ordering), every partition's customers being its own."""
    first = worklists[0]
    for other in worklists[1:]:
        if (other.as_of, other.owner, other.policy_version) != (
            first.as_of,
            first.owner,
            first.policy_version,
        ):
            raise PartitionError("the partitions' worklists differ in date, owner or policy")
    if policy.version != first.policy_version:
        raise PartitionError(
            f"the worklists were ordered by policy version {first.policy_version}, "
            f"not {policy.version}"
        )
    items = [item for worklist in worklists for item in worklist.items]
    figures = [
        (
            item.level,
            item.overdue_minor,
            item.days_past_due_max,
            item.broken_promises,
            item.currency,
            item.customer_code,
        )
        for item in items
    ]
    order = worklist_order(figures, policy)
    return Worklist(
        as_of=first.as_of,
        owner=first.owner,
        policy_version=first.policy_version,
        items=tuple(items[at] for at in order),
    )


def policy_of(log: ColumnarLog, on: date, known_at: datetime | None = None) -> EscalationPolicy:
    """The escalation policy in force on ``on`` in ``log`` as recorded by ``known_at`` (every
    partition holds them all)."""
    return _policy_on(columnar.columns(log, select=SELECT), on, known_at)
