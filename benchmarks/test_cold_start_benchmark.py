"""Cold start: the first worklist of a new process on a 100,000-invoice SQLite ledger, with an
empty Numba cache (a fresh install) against after ``arledger warm-up`` (issue 11, item 5).

Each run is its own process with ``NUMBA_CACHE_DIR`` pointing at a folder of its own, so the
cache is empty or holds exactly what the warm-up wrote. The ledger's columnar segments are
persisted beforehand (by this process), so every run loads the same stored log and the runs
differ only by the cache. Figures (``benchmark.extra_info``, printed): the first worklist's
seconds inside each process, the process's wall seconds, the warm-up's seconds, and Numba's
count of variants compiled and loaded.

Asserted: both runs give the same worklist; the cold run compiles and the warmed one compiles
nothing (Numba's statistics); and the cold first worklist is at least ``RATIO_MIN`` times the
warmed one (measured here ~25x: a ratio far outside noise, never an absolute time).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.synthetic.generate import END_ON_DEFAULT
from benchmarks.conftest import MEDIUM_INVOICES, copy_store

INVOICES: Final = MEDIUM_INVOICES
RATIO_MIN: Final = 5.0
WARM_ROUNDS: Final = 3

FIRST_WORKLIST = """
import hashlib, json, sys, time
started = time.perf_counter()
from datetime import date
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.warm_up import kernel_stats
imported = time.perf_counter()
ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": sys.argv[1]})
ledger.query_engine().refresh()
loaded = time.perf_counter()
items = ledger.worklist(date.fromisoformat(sys.argv[2]))
answered = time.perf_counter()
ledger.close()
stats = kernel_stats()
print(json.dumps({
    "import_s": imported - started,
    "load_s": loaded - imported,
    "worklist_s": answered - loaded,
    "items": len(items),
    "digest": hashlib.sha256(repr(items).encode()).hexdigest(),
    "compiled": sum(k.compiled for k in stats),
    "loaded": sum(k.loaded for k in stats),
}))
"""


def in_process(args: list[str], cache: Path) -> tuple[float, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=True, timeout=1200
    )
    return time.perf_counter() - started, result.stdout


def first_worklist(database: Path, cache: Path) -> dict[str, Any]:
    wall, out = in_process(["-c", FIRST_WORKLIST, str(database), END_ON_DEFAULT.isoformat()], cache)
    figures: dict[str, Any] = json.loads(out.splitlines()[-1])
    figures["process_s"] = wall
    return figures


@pytest.fixture
def ledger_100k(generated_100k: Path, tmp_path: Path) -> Path:
    database = copy_store(generated_100k, tmp_path / "ledger.db")
    ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(database)})
    try:
        ledger.query_engine().persist()  # the stored segments every run loads
    finally:
        ledger.close()
    return database


@pytest.mark.medium
@pytest.mark.slow
def test_first_worklist_cold_against_after_warm_up(
    benchmark: Any, ledger_100k: Path, tmp_path: Path
) -> None:
    cold = first_worklist(ledger_100k, tmp_path / "cold")

    warm_cache = tmp_path / "warmed"
    warm_up_s, _ = in_process(["-m", "arledger", "warm-up"], warm_cache)
    runs: list[dict[str, Any]] = []
    benchmark.pedantic(
        lambda: runs.append(first_worklist(ledger_100k, warm_cache)),
        rounds=WARM_ROUNDS,
        iterations=1,
    )
    warm = {
        key: statistics.median(float(run[key]) for run in runs)
        for key in ("import_s", "load_s", "worklist_s", "process_s", "compiled", "loaded")
    }
    figures = {
        "invoices": INVOICES,
        "items": cold["items"],
        "cold": cold,
        "warm_up_s": warm_up_s,
        "warm_medians": warm,
        "first_worklist_x_faster_after_warm_up": cold["worklist_s"] / warm["worklist_s"],
    }
    benchmark.extra_info.update(figures)
    print(json.dumps(figures, indent=2))

    assert all(run["digest"] == cold["digest"] for run in runs)
    assert cold["compiled"] > 0
    assert all(run["compiled"] == 0 and run["loaded"] > 0 for run in runs)
    assert figures["first_worklist_x_faster_after_warm_up"] >= RATIO_MIN, figures
