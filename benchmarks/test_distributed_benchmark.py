"""The distributed recompute's scaling: 1 against 2 Dask workers, overhead per partition, bytes
moved to the client, and per-partition time and memory as functions of its invoices.

Each figure is a median of rounds on a ``LocalCluster`` of worker processes (one thread each),
started and warmed (kernels loaded) before the timing (its start is reported apart). The
baseline, measured in the same run, is the single-process fast path on the whole log (the same
answers: ageing by currency, owner and customer, worklist, KPI sums, combined from one
partition). Answers are asserted equal to the in-process combination's; timings never are.

Small profile (with the benchmarks): ``SMALL_INVOICES`` invoices in 2 partitions, 2 workers.

Large profile, by hand (``pytest benchmarks/test_distributed_benchmark.py -m large -s``): the
sizes in ``ARLEDGER_BENCHMARK_DISTRIBUTED`` (invoices:partitions[:rounds], default
``100000:2,100000:8,1000000:2``; partitioned exports are generated, or reused from
``ARLEDGER_BENCHMARK_DISTRIBUTED_DIR/<invoices>-p<partitions>``), each with 1 and 2 workers
(``ARLEDGER_BENCHMARK_DISTRIBUTED_ROUNDS`` rounds, default 3; the whole-log baseline up to
``ARLEDGER_BENCHMARK_DISTRIBUTED_BASELINE_MAX`` invoices, default 1M); writes
``benchmarks/results/distributed-<date>.json`` with the machine's load at each size's start
and end and a per-partition model (time, log bytes, answer bytes against invoices). On this
2-core machine shared by other work, 2 workers can at best halve the wall time; the README's
model of N machines is built from the per-partition figures and the combine cost measured here.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import distributed
import numpy as np
import pyarrow as pa
import pytest

from arledger.adapters.read_models import columnar, partitions
from arledger.adapters.read_models.distributed import (
    Recompute,
    answer_partition,
    combined,
    recompute,
)
from arledger.adapters.read_models.engine import SELECT
from arledger.adapters.synthetic.generate import (
    END_ON_DEFAULT,
    generate_columnar,
    generate_partitioned,
)
from arledger.projections import kpis
from arledger.projections.fast import kpis as fast_kpis
from benchmarks.figures import report_figures
from benchmarks.test_fast_path_benchmark import machine
from benchmarks.timing import median_s

SEED: Final = 20_261_206
SMALL_INVOICES: Final = 10_000
AS_OF: Final = END_ON_DEFAULT
ROUNDS: Final = 3
SIZES_DEFAULT: Final = "100000:2,100000:8,1000000:2"
BASELINE_MAX_DEFAULT: Final = 1_000_000
RESULTS: Final = Path(__file__).parent / "results"


@pytest.fixture
def cluster_of() -> Iterator[Any]:
    """Starts local clusters of n workers; returns (client, cluster, seconds the start took)."""
    opened: list[Any] = []

    def start(workers: int) -> tuple[Any, Any, float]:
        started = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = distributed.Client(cluster)
        opened.extend([client, cluster])
        return client, cluster, time.perf_counter() - started

    yield start
    for thing in reversed(opened):
        thing.close()


def in_process(directory: Path, rounds: int = 1) -> tuple[Recompute, float, float]:
    """The partitions computed one after the other in this process and combined: the answer,
    the partitions' seconds in all, the combine's seconds (median of ``rounds``)."""
    start_on, _ = kpis.trailing_period(AS_OF, 3)
    count = partitions.partition_count(directory)
    results = [answer_partition(directory, i, AS_OF, None, start_on) for i in range(count)]
    answer = combined(results, as_of=AS_OF, known_at=None, top=None)
    combine_s = median_s(lambda: combined(results, as_of=AS_OF, known_at=None, top=None), rounds)
    return answer, sum(result.seconds for result in results), combine_s


def whole_log_s(invoices: int, rounds: int = ROUNDS) -> tuple[float, int]:
    """The baseline: the single-process fast path on the whole log (the same generated ledger,
    in memory), median seconds; its invoices."""
    log = generate_columnar(invoices, SEED)
    start_on, _ = kpis.trailing_period(AS_OF, 3)

    def work() -> None:
        partitions.portfolio_answers(log, AS_OF)
        fast_kpis.kpi_sums_fast(
            columnar.columns(log, select=SELECT),
            start_on,
            AS_OF,
            decode_policy=columnar.decode_policy,
        )

    work()  # Numba's kernels loaded
    return median_s(work, rounds), log.tables["InvoiceIssued"].num_rows


def export(invoices: int, count: int, where: Path) -> Path:
    reused = os.environ.get("ARLEDGER_BENCHMARK_DISTRIBUTED_DIR")
    if reused:
        found = Path(reused) / f"{invoices}-p{count}"
        if (found / partitions.TOP_MANIFEST).exists():
            return found
        if found.exists():
            # No partitions.json: an export that did not finish, or one another process is
            # still writing; never generated over.
            raise RuntimeError(f"{found}: an unfinished export; remove it to generate it here")
        where = found
    generate_partitioned(invoices, SEED, where, partitions=count)
    return where


def measure(client: Any, directory: Path, rounds: int) -> tuple[float, float, Recompute]:
    """Median wall seconds of a recompute over ``rounds`` rounds (the workers warmed before);
    the median of each round's wall minus its tasks' seconds (what the cluster and the
    combine add, in the same round); the last round's answer."""
    walls, added = [], []
    answer = None
    for _ in range(rounds):
        started = time.perf_counter()
        answer = recompute(directory, AS_OF, client=client)
        wall = time.perf_counter() - started
        walls.append(wall)
        added.append(wall - sum(figure.seconds for figure in answer.figures))
    assert answer is not None
    return statistics.median(walls), statistics.median(added), answer


def test_recompute_on_two_workers_small(benchmark: Any, tmp_path: Path, cluster_of: Any) -> None:
    """Budget: none asserted; the answer equals the in-process combination."""
    directory = export(SMALL_INVOICES, 2, tmp_path / "parts")
    expected, _, _ = in_process(directory)
    client, _, _ = cluster_of(2)
    answer = benchmark.pedantic(
        lambda: recompute(directory, AS_OF, client=client), rounds=ROUNDS, warmup_rounds=1
    )
    assert expected == answer
    benchmark.extra_info["bytes_to_client"] = answer.bytes_to_client


def released() -> None:
    """Give the Arrow pool's unused memory back (a large partition's, before the next step)."""
    gc.collect()
    pa.default_memory_pool().release_unused()


def fitted(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least squares ``y = fixed + per_invoice * x`` over (invoices, y) points."""
    xs = np.array([x for x, _ in points], float)
    ys = np.array([y for _, y in points], float)
    per_invoice, fixed = np.polyfit(xs, ys, 1)
    return {"fixed": float(fixed), "per_invoice": float(per_invoice), "points": len(points)}


@pytest.mark.large
def test_distributed_scaling(tmp_path: Path, cluster_of: Any) -> None:
    """Per size: the baseline (whole log in this process, up to ``BASELINE_MAX_DEFAULT``
    invoices or ``ARLEDGER_BENCHMARK_DISTRIBUTED_BASELINE_MAX``: above, the generated log
    and the fast path's arrays do not fit beside the other work of this shared machine), the
    partitions one after the other in this process (the expected answer and the combine's
    cost), then a cluster of 1 and of 2 workers, one at a time (their memory apart), each
    warmed on a small export (kernels loaded) before ``ROUNDS`` rounds
    (``ARLEDGER_BENCHMARK_DISTRIBUTED_ROUNDS``)."""
    sizes = os.environ.get("ARLEDGER_BENCHMARK_DISTRIBUTED", SIZES_DEFAULT)
    default_rounds = int(os.environ.get("ARLEDGER_BENCHMARK_DISTRIBUTED_ROUNDS", ROUNDS))
    baseline_max = int(
        os.environ.get("ARLEDGER_BENCHMARK_DISTRIBUTED_BASELINE_MAX", BASELINE_MAX_DEFAULT)
    )
    started_at = datetime.now(UTC)
    warm = export(SMALL_INVOICES, 2, tmp_path / "warm")
    runs = []
    for pair in sizes.split(","):
        # invoices:partitions, or invoices:partitions:rounds (fewer rounds at 10M, where one
        # pass over the partitions takes minutes on this shared machine).
        invoices, count, *more = (int(part) for part in pair.split(":"))
        rounds = more[0] if more else default_rounds
        directory = export(invoices, count, tmp_path / f"{invoices}-p{count}")
        run: dict[str, Any] = {
            "invoices": invoices,
            "partitions": count,
            "rounds": rounds,
            "load_average_at_start": os.getloadavg(),
        }
        if invoices <= baseline_max:
            baseline_s, _ = whole_log_s(invoices, rounds)
            run["baseline_whole_log_in_process_s"] = baseline_s
        else:
            run["baseline_whole_log_in_process_s"] = None
            run["baseline_note"] = (
                f"not measured above {baseline_max:,} invoices: the whole log generated in "
                "one process (held twice while made query-ready, plus the fast path's "
                "arrays) exceeds the memory this shared machine allows one engineer"
            )
        released()
        expected, partitions_s, combine_s = in_process(directory, rounds)
        released()
        run["partitions_in_process_s"] = partitions_s
        run["combine_s"] = combine_s
        run["benchmark_process_peak_rss_bytes"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        for workers in (1, 2):
            client, cluster, start_s = cluster_of(workers)
            recompute(warm, AS_OF, client=client)  # every worker loads the kernels
            seconds, added_s, answer = measure(client, directory, rounds)
            assert expected == answer
            run[f"workers_{workers}"] = {
                "median_s": seconds,
                "wall_minus_tasks_s": added_s,
                "cluster_start_s": start_s,
                "x_of_baseline": (
                    None
                    if run["baseline_whole_log_in_process_s"] is None
                    else seconds / run["baseline_whole_log_in_process_s"]
                ),
                "bytes_to_client": answer.bytes_to_client,
                "per_partition": [
                    {
                        "invoices": figure.invoices,
                        "events": figure.events,
                        "seconds": figure.seconds,
                        "log_bytes": figure.log_bytes,
                        "worker_peak_rss_bytes": figure.peak_rss_bytes,
                        "answer_bytes": figure.answer_bytes,
                    }
                    for figure in answer.figures
                ],
            }
            client.close()
            cluster.close()
        run["load_average_at_end"] = os.getloadavg()
        one, two = run["workers_1"], run["workers_2"]
        run["speed_up_2_vs_1_workers"] = one["median_s"] / two["median_s"]
        # What the cluster adds per partition on top of computing it: scheduling, moving the
        # task and its answer, the combine (1 worker: the partitions run one after the other,
        # so the wall minus the tasks' own seconds, in the same round, is the overhead).
        run["overhead_per_partition_s"] = one["wall_minus_tasks_s"] / count
        run["per_partition_s_median"] = statistics.median(
            figure["seconds"] for figure in one["per_partition"]
        )
        runs.append(run)
        report_figures(
            f"distributed {invoices}:{count}",
            {
                "baseline_s": run["baseline_whole_log_in_process_s"],
                "1_worker_s": round(one["median_s"], 3),
                "2_workers_s": round(two["median_s"], 3),
                "speed_up": round(run["speed_up_2_vs_1_workers"], 2),
                "overhead_per_partition_s": round(run["overhead_per_partition_s"], 3),
                "bytes_to_client": two["bytes_to_client"],
                "combine_s": round(combine_s, 3),
                "load": run["load_average_at_end"],
            },
        )
    # Per-partition time and memory as functions of its invoices: the 1-worker figures (a
    # partition alone on the worker; with 2 workers two share this machine's 2 cores with
    # the other work), fitted over every size measured.
    alone = [figure for run in runs for figure in run["workers_1"]["per_partition"]]
    model = {
        "seconds": fitted([(f["invoices"], f["seconds"]) for f in alone]),
        "log_bytes": fitted([(f["invoices"], f["log_bytes"]) for f in alone]),
        "answer_bytes": fitted([(f["invoices"], f["answer_bytes"]) for f in alone]),
        "combine_s": fitted([(run["invoices"], run["combine_s"]) for run in runs]),
        # Each size has clusters of its own, so a worker's peak is that of the largest
        # partition it ran (after the small warm-up export).
        "worker_peak_rss_bytes": fitted(
            [
                (
                    max(f["invoices"] for f in run["workers_1"]["per_partition"]),
                    max(f["worker_peak_rss_bytes"] for f in run["workers_1"]["per_partition"]),
                )
                for run in runs
            ]
        ),
    }
    data = {
        "profile": "large",
        "command": "pytest benchmarks/test_distributed_benchmark.py -m large -s",
        "sizes": sizes,
        "started_at": started_at.isoformat(),
        "as_of": AS_OF.isoformat(),
        "rounds": default_rounds,
        "load_average_at_end": os.getloadavg(),
        "machine": machine(),
        "per_partition_model": model,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"distributed-{started_at.date().isoformat()}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
