"""The embedded-service case on PostgreSQL (issue 11's target): 16 concurrent clients mixing
commands and queries against ONE shared Ledger, against the same load with every call
serialised by one global lock (the workaround when a shared Ledger was not safe), in the same
run on the same ledger (``benchmarks/service.py`` is the driver).

Budget: no errors at all (each call a command that succeeds or a query that answers), and the
shared Ledger's throughput at least ``RATIO_FLOOR`` times the serialised one's (the median run
of ``ROUNDS`` each, run alternately): sharing must not cost much. On a quiet 2-core machine
the two are close (0.7-1.0x on 2026-12-07: the queries are Python holding the GIL, so 16 threads
gain little over one at a time, and pay for switching); under load the shared Ledger is ~3x
faster (one client's waits overlap the others' work). Throughput and p50/p99 latency of both,
per kind of call too, are written to ``benchmarks/results/service-<date>.json`` and printed.
"""

from __future__ import annotations

import json
import os
import platform
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest

from arledger import Ledger
from benchmarks import service
from tests.conftest import postgres_schemas

CLIENTS: Final = 16
OPERATIONS: Final = 40
"""Calls per client in each mode: 640 in all."""
RATIO_FLOOR: Final = 0.5
"""Far outside the ratio's noise, as CI's figures must be: on 2026-12-07, quiet, the median
of three ran from 0.70 to 1.02 (seven runs: two on the commit before, five after the
worklist's cash held and pending approvals stopped decoding every payment and request). That
change made the serialised runs faster, 115 -> 125-146 ops/s, and the shared ones no slower,
106-117 -> 103-125, so the ratio fell while both got better. 0.75 failed a CI rehearsal at
0.70: noise, not a defect. The floor catches what sharing must never do: a lock convoy or
thrashing that halves the throughput."""
ROUNDS: Final = 3
"""Each mode is run this many times, alternately, and the median run of each compared: one run
is ~3 s, and on a quiet machine a single pair's ratio swung from 0.71 to 0.88."""
RESULTS: Final = Path(__file__).parent / "results"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_sixteen_clients_share_one_ledger_on_postgres(benchmark: Any) -> None:
    with postgres_schemas("service") as make, closing(Ledger(make())) as ledger:
        service.prepare(ledger)
        # Warm: the query engine's log loaded, the kernels compiled, the read models caught up.
        service.run(ledger, clients=2, operations=10, seed=1)

        runs: dict[bool, list[service.Figures]] = {True: [], False: []}

        def alternate() -> None:
            for round_ in range(ROUNDS):
                for serialised in (True, False) if round_ % 2 == 0 else (False, True):
                    seed = 2 + 2 * round_ + serialised
                    runs[serialised].append(
                        service.run(
                            ledger,
                            clients=CLIENTS,
                            operations=OPERATIONS,
                            serialised=serialised,
                            seed=seed,
                        )
                    )

        benchmark.pedantic(alternate, rounds=1, iterations=1)

    serialised, shared = (
        sorted(runs[mode], key=lambda run: run.throughput_ops_s)[ROUNDS // 2]
        for mode in (True, False)
    )
    ratio = shared.throughput_ops_s / serialised.throughput_ops_s
    figures = {
        "command": "pytest benchmarks/test_service_benchmark.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": "PostgreSQL 127.0.0.1:5432",
        "customers": service.CUSTOMERS_DEFAULT,
        "invoices_at_start": service.CUSTOMERS_DEFAULT * service.INVOICES_PER_CUSTOMER,
        "mix": service.MIX,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "shared": shared.as_json(),
        "serialised": serialised.as_json(),
        "rounds": ROUNDS,
        "throughputs_ops_s": {
            "shared": [run.throughput_ops_s for run in runs[False]],
            "serialised": [run.throughput_ops_s for run in runs[True]],
        },
        "x_throughput_shared_vs_serialised": ratio,
    }
    benchmark.extra_info.update(
        {
            "shared_ops_s": shared.throughput_ops_s,
            "shared_p50_ms": shared.p50_ms,
            "shared_p99_ms": shared.p99_ms,
            "serialised_ops_s": serialised.throughput_ops_s,
            "x_throughput": ratio,
        }
    )
    day = datetime.now(UTC).date().isoformat()
    (RESULTS / f"service-{day}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"\nshared: {shared.throughput_ops_s:.0f} ops/s, p50 {shared.p50_ms:.1f} ms, "
        f"p99 {shared.p99_ms:.1f} ms; serialised: {serialised.throughput_ops_s:.0f} ops/s, "
        f"p50 {serialised.p50_ms:.1f} ms, p99 {serialised.p99_ms:.1f} ms; x{ratio:.2f}"
    )

    assert [] == [error for run in runs[True] + runs[False] for error in run.errors]
    assert [CLIENTS * OPERATIONS] * ROUNDS * 2 == [
        run.operations for run in runs[True] + runs[False]
    ]
    assert ratio >= RATIO_FLOOR
