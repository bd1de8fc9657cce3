"""``arledger warm-up`` fills Numba's on-disk cache with every kernel variant the query engine
uses: a later process answers its first portfolio queries, on another store and another ledger,
without compiling anything.

Each step runs in its own process with ``NUMBA_CACHE_DIR`` set to a fresh folder (the cache is
per process and per folder). What is asserted are Numba's dispatcher statistics (variants
compiled in the process, variants loaded from the cache), never a time.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import warm_up
from arledger.adapters.synthetic.generate import generate_to_store

SEED = 4_242
INVOICES = 400
"""A ledger other than the warm-up's (its own seed and size), in a SQLite file."""

FIRST_QUERIES = """
import json, sys
from datetime import date, timedelta
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import warm_up
from arledger.adapters.read_models.warm_up import kernel_stats
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.kpis import KpiGrouping

ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": sys.argv[1]})
as_of = date(2025, 12, 31)
answers = {"worklist": len(ledger.worklist(as_of))}
for grouping in AgeingGrouping:
    answers[grouping.value] = len(ledger.ageing(as_of, grouping=grouping).rows)
for kpi_grouping in KpiGrouping:
    answers[kpi_grouping.value + "_kpis"] = len(
        ledger.kpis(as_of - timedelta(days=91), as_of, grouping=kpi_grouping).rows
    )
ledger.close()
stats = {k.name: [k.signatures, k.compiled, k.loaded] for k in kernel_stats()}
print(json.dumps({"answers": answers, "kernels": stats}))
"""

CACHED = "from arledger.adapters.read_models import warm_up; print(warm_up.cached())"


def run(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    env.pop("ARLEDGER_STORE", None)
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=True, timeout=600
    )


def first_queries(database: Path, cache: Path) -> dict[str, Any]:
    result = run(["-c", FIRST_QUERIES, str(database)], cache)
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Path:
    database = tmp_path / "ledger.db"
    ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(database)})
    try:
        generate_to_store(ledger, INVOICES, SEED)
    finally:
        ledger.close()
    return database


@pytest.mark.slow
def test_after_warm_up_a_new_process_answers_without_compiling(
    tmp_path: Path, sqlite_ledger: Path
) -> None:
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    assert "False" == run(["-c", CACHED], cache).stdout.strip()

    warmed = run(["-m", "arledger", "warm-up", "--kernels"], cache)
    summary = re.search(
        r"(\d+)\s+kernel\s+variant\(s\),\s+(\d+)\s+compiled\s+and\s+(\d+)\s+loaded", warmed.stdout
    )
    assert summary is not None, warmed.stdout
    variants, compiled_here, loaded_here = map(int, summary.groups())
    assert (variants, 0) == (compiled_here, loaded_here)  # an empty cache: all compiled
    assert any(cache.rglob("*.nbi")), "warm-up wrote no cache index"
    assert "True" == run(["-c", CACHED], cache).stdout.strip()

    answered = first_queries(sqlite_ledger, cache)
    assert answered["answers"]["worklist"] > 0
    kernels = answered["kernels"]
    assert {"customer_pass", "timeline_part", "invoice_pass", "promise_pass"} <= set(kernels)
    compiled = {name: counts[1] for name, counts in kernels.items() if counts[1]}
    assert {} == compiled, "compiled after warm-up"
    assert all(signatures == loaded for signatures, _, loaded in kernels.values())


def test_the_warm_up_compiles_every_kernel_the_engine_calls(
    compiled_kernels: warm_up.WarmUpReport,
) -> None:
    names = {kernel.name for kernel in compiled_kernels.kernels}
    assert set(warm_up.ENGINE_KERNELS) <= names
    # Besides them, only the helpers inlined into them (compiled with them, never loaded).
    assert all(name.startswith("_") for name in names - set(warm_up.ENGINE_KERNELS))
    assert compiled_kernels.signatures >= len(warm_up.ENGINE_KERNELS)
    assert warm_up.cached() is True  # the session's warm-up filled the cache


@pytest.mark.parametrize(("cached", "noted"), [(False, True), (True, False), (None, False)])
def test_a_query_on_an_empty_cache_says_why_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool | None, noted: bool
) -> None:
    monkeypatch.setattr(warm_up, "cached", lambda: cached)
    monkeypatch.setenv("ARLEDGER_STORE", "sqlite")
    monkeypatch.setenv("ARLEDGER_DB", str(tmp_path / "ledger.db"))

    result = CliRunner().invoke(app, ["worklist", "--as-of", "2025-12-31"])

    assert 0 == result.exit_code, result.output
    assert noted == ("arledger warm-up" in result.stderr)


def test_a_service_warms_up_in_the_background_only_on_an_empty_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(warm_up, "warm_up", lambda: ran.append("warm-up"))
    for cached in (True, None):
        monkeypatch.setattr(warm_up, "cached", lambda cached=cached: cached)
        assert warm_up.warm_up_in_background() is None
    monkeypatch.setattr(warm_up, "cached", lambda: False)

    thread = warm_up.warm_up_in_background()

    assert thread is not None and thread.daemon
    thread.join(timeout=60)
    assert ["warm-up"] == ran


def test_the_warm_up_writes_missing_and_stale_bytecode_that_python_then_takes(
    tmp_path: Path,
) -> None:
    package = tmp_path / "package"
    (package / "inner").mkdir(parents=True)
    module = package / "module.py"
    module.write_text("VALUE = 1\n")
    (package / "inner" / "other.py").write_text("OTHER = 2\n")

    assert warm_up.compile_modules([package]) == 2
    assert warm_up.compile_modules([package]) == 0  # current: left as it is
    module.write_text("VALUE = 10\n")  # a changed source makes its bytecode stale
    assert warm_up.compile_modules([package]) == 1

    # Python loads the written bytecode instead of the source: code of another source put
    # behind the written header is what the import machinery executes.
    cached = Path(importlib.util.cache_from_source(str(module)))
    header = cached.read_bytes()[:16]
    cached.write_bytes(header + marshal.dumps(compile("VALUE = 99\n", str(module), "exec")))
    loader = importlib.machinery.SourceFileLoader("bytecode_probe", str(module))
    namespace: dict[str, Any] = {}
    exec(loader.get_code("bytecode_probe"), namespace)
    assert namespace["VALUE"] == 99


def test_the_warm_up_leaves_arledger_with_current_bytecode_for_every_module() -> None:
    warm_up.compile_modules()
    sources = [
        source
        for root in warm_up.module_roots()
        for source in root.rglob("*.py")
        if "__pycache__" not in source.parts
    ]
    assert Path(warm_up.__file__).resolve() in sources
    assert warm_up.compile_modules() == 0
    stale = [
        source
        for source in sources
        if not warm_up._current(source, Path(importlib.util.cache_from_source(str(source))))
    ]
    assert stale == []
