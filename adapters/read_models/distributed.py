"""The portfolio recomputed on a Dask cluster over a customer-partitioned columnar log.

``recompute`` sends one task per partition to the cluster's workers (``dask.distributed``:
an existing engine's scheduling, retries and worker restarts, never a home-made scheduler).
Each task reads its partition itself (a local folder the workers share, or object storage:
``partitions.resolved``) and runs the fast path on it; only its answers travel back (ageing
rows, worklist items, KPI sums: no event moves to the client), and the client combines them:
ageing rows added per (key, currency), worklists merged in the policy's priority order, KPIs
worked out from the added sums. The main invariant: the answer equals the single-process fast
path on the whole log, field by field, because every rule is per customer and a customer lives
in one partition (``tests/integration/test_distributed_recompute.py`` holds it to that).

Dask is an optional dependency (``pip install 'arledger[distributed]'``): this module imports
it only when a recompute runs, so the core and the CLI work without it.
"""

from __future__ import annotations

import os
import pickle
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import attrs

from arledger.adapters.read_models import columnar, partitions
from arledger.adapters.read_models.engine import SELECT
from arledger.adapters.read_models.partitions import Location, PortfolioAnswers
from arledger.domain.errors import ConfigurationError
from arledger.domain.policy import EscalationPolicy
from arledger.domain.rules import require_date, require_known_at
from arledger.projections import kpis
from arledger.projections.ageing import AgeingReport
from arledger.projections.backtest import BACKTEST_MIN_LEVEL, Backtest, BacktestStep
from arledger.projections.backtest import require_terms as require_backtest_terms
from arledger.projections.fast import backtest as fast_backtest
from arledger.projections.fast import kpis as fast_kpis
from arledger.projections.results import Worklist

DISTRIBUTED_EXTRA: Final = "pip install 'arledger[distributed]'"
KPI_MONTHS_DEFAULT: Final = 3
"""The KPIs' period: the trailing months ending on the as-of date (as ``arledger kpis``)."""
LOCAL_WORKERS_MAX: Final = 256


@attrs.frozen(kw_only=True)
class PartitionResult:
    """What one partition's task sends back to the client: answers and sums, no event."""

    index: int
    events: int
    invoices: int
    answers: PortfolioAnswers
    kpi_sums: fast_kpis.KpiSums
    seconds: float
    """Wall time of the task on its worker: reading the partition, the fast path, the answers."""
    log_bytes: int
    """Arrow bytes of the partition's columnar log as read (what the worker held)."""
    peak_rss_bytes: int
    """The worker process's peak resident memory when the task ended (since it started:
    ``peak_rss_bytes``)."""
    answer_bytes: int = 0
    """The pickled size of the answers and sums, measured on the worker after ``seconds``:
    what moves to the client (pickling them again on the client cost seconds at 10M)."""


@attrs.frozen(kw_only=True)
class PartitionFigures:
    index: int
    events: int
    invoices: int
    seconds: float
    log_bytes: int
    peak_rss_bytes: int
    answer_bytes: int
    """The pickled size of its result: what moved from the worker to the client."""


@attrs.frozen(kw_only=True)
class Recompute:
    """The portfolio answer of a partitioned export, combined from its partitions'."""

    as_of: date
    known_at: datetime | None
    partitions: int
    ageing_by_currency: AgeingReport
    ageing_by_owner: AgeingReport
    ageing_by_customer: AgeingReport
    worklist: Worklist
    """In the policy's priority order; the first ``top`` items only when ``top`` was asked."""
    worklist_customers: int
    """Customers in the whole worklist (before ``top``)."""
    escalation_counts: tuple[tuple[int, int], ...]
    """(level, customers at it) in the whole worklist, by level."""
    kpis: kpis.KpiReport
    figures: tuple[PartitionFigures, ...] = attrs.field(eq=False)
    """Per partition: events, time, memory, bytes to the client (measurements: not compared)."""

    @property
    def bytes_to_client(self) -> int:
        return sum(figure.answer_bytes for figure in self.figures)


def answer_partition(
    location: Location,
    index: int,
    as_of: date,
    known_at: datetime | None,
    kpi_start_on: date,
    filesystem: Any = None,
) -> PartitionResult:
    """Run on a worker: read partition ``index`` and compute its answers and KPI sums."""
    started = time.perf_counter()
    log = partitions.read_partition(location, index, filesystem=filesystem)
    answers = partitions.portfolio_answers(log, as_of, known_at=known_at)
    sums = fast_kpis.kpi_sums_fast(
        columnar.columns(log, select=SELECT),
        kpi_start_on,
        as_of,
        decode_policy=columnar.decode_policy,
        known_at=known_at,
    )
    seconds = time.perf_counter() - started
    return PartitionResult(
        index=index,
        events=log.event_count,
        invoices=log.tables["InvoiceIssued"].num_rows if "InvoiceIssued" in log.tables else 0,
        answers=answers,
        kpi_sums=sums,
        seconds=seconds,
        log_bytes=log.ids.nbytes + sum(table.nbytes for table in log.tables.values()),
        peak_rss_bytes=peak_rss_bytes(),
        answer_bytes=len(pickle.dumps((answers, sums), protocol=pickle.HIGHEST_PROTOCOL)),
    )


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started: ``VmHWM`` of /proc/self/status
    where there is one. Not ``ru_maxrss``, which Linux carries over fork and exec: a Dask
    worker (spawned from its nanny, spawned from the client's process) reported the client's
    own peak when that was higher, as the first 10M benchmark run showed."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


PartitionTask = Callable[[Location, int, date, datetime | None, date, Any], PartitionResult]


def dask_distributed() -> Any:
    """``dask.distributed``, or a ``ConfigurationError`` naming the extra that installs it."""
    try:
        import dask.distributed
    except ImportError as error:
        raise ConfigurationError(
            f"the distributed recompute needs Dask ({error}): {DISTRIBUTED_EXTRA}"
        ) from None
    return dask.distributed


@contextmanager
def cluster_client(scheduler: str | None, local_workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``local_workers``
    worker processes (one thread each: the fast path holds the GIL in places), closed after."""
    if scheduler is not None and local_workers is not None:
        raise ConfigurationError("give a scheduler address or local workers, not both")
    if local_workers is not None and not 1 <= local_workers <= LOCAL_WORKERS_MAX:
        raise ConfigurationError(
            f"local workers must be 1 to {LOCAL_WORKERS_MAX}, not {local_workers}"
        )
    distributed = dask_distributed()
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise ConfigurationError(
                f"no Dask scheduler reachable at {scheduler}: {error}"
            ) from None
        with client:
            yield client
        return
    workers = local_workers if local_workers is not None else (os.cpu_count() or 1)
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: several clusters may share a machine
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def recompute(
    location: Location | Sequence[Location],
    as_of: date,
    *,
    known_at: datetime | None = None,
    kpi_months: int = KPI_MONTHS_DEFAULT,
    top: int | None = None,
    scheduler: str | None = None,
    local_workers: int | None = None,
    client: Any = None,
    filesystem: Any = None,
    task: PartitionTask = answer_partition,
) -> Recompute:
    """The portfolio of the partitioned export at ``location`` on ``as_of`` (as recorded by
    ``known_at``, by event stamps), recomputed on a Dask cluster: ``client`` (a
    ``distributed.Client``), else the scheduler at ``scheduler``, else a local cluster of
    ``local_workers`` processes (default: one per CPU).

    ``location`` may be several exports (ledgers sharded over several stores, one export
    each): their partitions are recomputed together, as one portfolio, provided that no
    customer is in two of them and that they hold the same escalation policy (else
    ``PartitionError``).

    Args:
        kpi_months: the KPIs' period, the trailing months ending on ``as_of``.
        top: keep the first ``top`` worklist items (None: all); the counts are of all.
        filesystem: the filesystem ``location`` is a path in (pyarrow or fsspec), if not a
            local folder or a URI. The workers must reach it, and receive it pickled.
        task: the function each partition's task runs (``answer_partition``; a test wraps it).

    Raises:
        PartitionError: a missing, corrupt or foreign partition (named), or no export there.
        ConfigurationError: Dask is not installed, or no scheduler answers.
    """
    require_date("as_of", as_of)
    if top is not None and top < 0:
        raise ConfigurationError(f"top must be 0 or more, not {top}")
    start_on, end_on = kpis.trailing_period(as_of, kpi_months)
    tasks = _tasks(location, filesystem)
    if client is None:
        with cluster_client(scheduler, local_workers) as owned:
            results = _run(owned, task, tasks, as_of, known_at, start_on, filesystem)
    else:
        results = _run(client, task, tasks, as_of, known_at, start_on, filesystem)
    assert end_on == as_of
    return combined(results, as_of=as_of, known_at=known_at, top=top)


def _tasks(location: Location | Sequence[Location], filesystem: Any) -> list[tuple[Location, int]]:
    """(export, partition index) of every partition of the export(s) at ``location``."""
    locations = [location] if isinstance(location, (str, Path)) else list(location)
    if not locations:
        raise ConfigurationError("no export to recompute")
    # The top manifests only (a few hundred bytes each): the counts, and early clear errors.
    return [
        (where, index)
        for where in locations
        for index in range(partitions.partition_count(where, filesystem=filesystem))
    ]


def _run(
    client: Any,
    task: PartitionTask,
    tasks: Sequence[tuple[Location, int]],
    as_of: date,
    known_at: datetime | None,
    start_on: date,
    filesystem: Any,
) -> list[PartitionResult]:
    # pure=False: a key of its own per run, so that a rerun is computed again, not taken from
    # an earlier run's result still held by a worker.
    futures = [
        client.submit(task, location, index, as_of, known_at, start_on, filesystem, pure=False)
        for location, index in tasks
    ]
    results: list[PartitionResult] = client.gather(futures)
    return results


def combined(
    results: list[PartitionResult], *, as_of: date, known_at: datetime | None, top: int | None
) -> Recompute:
    """The whole portfolio's answer from every partition's result (of one export or more)."""
    answers = [result.answers for result in results]
    policy = answers[0].policy
    for result in results[1:]:
        if result.answers.policy != policy or result.kpi_sums.policy != results[0].kpi_sums.policy:
            raise partitions.PartitionError(
                "the exports hold different escalation policies: one portfolio is ordered and "
                "aged by one policy; recompute them apart",
                partition=result.index,
            )
    seen: set[str] = set()
    for part in answers:
        keys = {row.key for row in part.ageing_by_customer.rows}
        if seen & keys:
            raise partitions.PartitionError(
                f"customer(s) {', '.join(sorted(seen & keys)[:3])} are in two partitions: "
                "exports of different stores whose customers overlap are not one portfolio",
            )
        seen |= keys
    worklist = partitions.combined_worklist([part.worklist for part in answers], policy)
    levels = Counter(item.level for item in worklist.items)
    shown = worklist if top is None else attrs.evolve(worklist, items=worklist.items[:top])
    report = fast_kpis.kpi_report_of_sums(
        fast_kpis.combined_kpi_sums([result.kpi_sums for result in results])
    )
    return Recompute(
        as_of=as_of,
        known_at=known_at,
        partitions=len(results),
        ageing_by_currency=partitions.combined_ageing([a.ageing_by_currency for a in answers]),
        ageing_by_owner=partitions.combined_ageing([a.ageing_by_owner for a in answers]),
        ageing_by_customer=partitions.combined_ageing([a.ageing_by_customer for a in answers]),
        worklist=shown,
        worklist_customers=len(worklist.items),
        escalation_counts=tuple(sorted(levels.items())),
        kpis=report,
        figures=tuple(
            PartitionFigures(
                index=result.index,
                events=result.events,
                invoices=result.invoices,
                seconds=result.seconds,
                log_bytes=result.log_bytes,
                peak_rss_bytes=result.peak_rss_bytes,
                answer_bytes=result.answer_bytes,
            )
            for result in results
        ),
    )


# Back-testing over the partitions ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PartitionBacktest:
    """What one partition's back-test task sends back: its rows, no event."""

    index: int
    backtest: Backtest
    seconds: float


def backtest_partition(
    location: Location,
    index: int,
    candidate: EscalationPolicy,
    ends: tuple[date, ...],
    terms: tuple[str, str, BacktestStep, int],
    known_at: datetime | None,
    filesystem: Any = None,
) -> PartitionBacktest:
    """Run on a worker: read partition ``index`` and back-test ``candidate`` on it
    (``terms``: from month, to month, step, min level), as ``Ledger.backtest`` does on the
    query engine's fast path."""
    started = time.perf_counter()
    log = partitions.read_partition(location, index, filesystem=filesystem)
    from_month, to_month, step, min_level = terms
    result = fast_backtest.backtest(
        columnar.columns(log, select=SELECT),
        candidate=candidate,
        ends=ends,
        decode_policy=columnar.decode_policy,
        from_month=from_month,
        to_month=to_month,
        step=step,
        min_level=min_level,
        known_at=known_at,
    )
    return PartitionBacktest(index=index, backtest=result, seconds=time.perf_counter() - started)


def recompute_backtest(
    location: Location | Sequence[Location],
    candidate: EscalationPolicy,
    from_month: str,
    to_month: str,
    *,
    step: BacktestStep = BacktestStep.MONTH,
    min_level: int = BACKTEST_MIN_LEVEL,
    known_at: datetime | None = None,
    scheduler: str | None = None,
    local_workers: int | None = None,
    client: Any = None,
    filesystem: Any = None,
) -> Backtest:
    """``Ledger.backtest`` of the partitioned export(s) at ``location``, on a Dask cluster (as
    ``recompute`` chooses it): each partition back-tested on a worker, the rows combined
    (``partitions.combined_backtest``). Equal to the back-test of the whole log, field by field.

    Raises:
        InvalidDateError: a month is not ``YYYY-MM``, or ``to_month`` is before
            ``from_month``.
        InvalidCommandError: ``candidate``, ``step`` or ``min_level`` is not one.
        PartitionError: a missing, corrupt or foreign partition (named), or exports holding
            different policies or the same customers.
        ConfigurationError: Dask is not installed, or no scheduler answers.
    """
    require_known_at(known_at)
    ends = require_backtest_terms(candidate, from_month, to_month, step, min_level)
    tasks = _tasks(location, filesystem)
    terms = (from_month, to_month, step, min_level)

    def run(on: Any) -> list[PartitionBacktest]:
        futures = [
            on.submit(
                backtest_partition,
                where,
                index,
                candidate,
                ends,
                terms,
                known_at,
                filesystem,
                pure=False,
            )
            for where, index in tasks
        ]
        found: list[PartitionBacktest] = on.gather(futures)
        return found

    if client is None:
        with cluster_client(scheduler, local_workers) as owned:
            results = run(owned)
    else:
        results = run(client)
    return partitions.combined_backtest([result.backtest for result in results])
