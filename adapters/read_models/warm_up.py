"""Warm-up: compile every Numba kernel variant the query engine uses, once, into the on-disk cache.

The fast path's kernels (``projections/fast/kernels.py``) are compiled by Numba on their first
call with each combination of argument types and cached on disk (``cache=True``: in
``__pycache__`` beside the kernels, or in ``NUMBA_CACHE_DIR``). Compiling them is what a fresh
install's first portfolio query would otherwise wait for: measured here, the first worklist on
a 100,000-invoice ledger took 34 s cold, of which ~33 s compiling (``timeline_part`` and
``customer_pass`` ~12 s each), against 0.4 s once the cache is filled (README, "Cold start").

``warm_up()`` answers every portfolio query the engine serves (worklist, ageing in every
grouping and with other bucket edges, KPIs in every grouping, each also as known at an instant)
on a small generated ledger held in memory. The kernels see the same argument types as on any
real ledger (the columns come through the same ``LiveLog``), so every variant the engine uses is
compiled and written to the cache; a later process, on any store and any size, loads them
(tests/integration/test_warm_up.py proves it by Numba's cache statistics, not by timing).
Run it after installing or upgrading (``arledger warm-up``), e.g. in a container image's build;
a service that cannot may call ``warm_up_in_background()`` as it starts.
"""

from __future__ import annotations

import importlib.util
import py_compile
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import attrs
import numba

from arledger.projections.ageing import AgeingGrouping
from arledger.projections.fast import incremental, kernels
from arledger.projections.fast import portfolio as fast_portfolio
from arledger.projections.kpis import KpiGrouping

INVOICES: Final = 300
"""Invoices of the warm-up ledger: enough for every event class and every kernel branch to
see rows (a few seconds to generate and query, compilation aside)."""
SEED: Final = 11
KNOWN_AT_LATE: Final = datetime(2199, 12, 31, tzinfo=UTC)
"""A known-at instant after every recording (nothing cut); the warm-up also cuts mid-log."""
EDGES_DAYS: Final = (15, 45)
"""Bucket edges other than the policy's (the ``--edges`` view)."""


@attrs.frozen(kw_only=True)
class KernelStats:
    """One kernel: how many compiled variants (signatures) it holds after the warm-up, and how
    many of them were compiled here or loaded from the cache."""

    name: str
    signatures: int
    compiled: int
    loaded: int


@attrs.frozen(kw_only=True)
class WarmUpReport:
    """What ``warm_up`` did: per kernel its variants, the wall seconds, and where Numba keeps
    its cache (``NUMBA_CACHE_DIR`` or ``__pycache__`` beside the kernels)."""

    kernels: tuple[KernelStats, ...]
    seconds: float
    cache_dir: Path
    modules_compiled: int = 0
    """arledger's modules whose bytecode this warm-up wrote (``compile_modules``)."""

    @property
    def signatures(self) -> int:
        return sum(kernel.signatures for kernel in self.kernels)

    @property
    def compiled(self) -> int:
        """Variants compiled by this warm-up (0: the cache already held them all)."""
        return sum(kernel.compiled for kernel in self.kernels)

    @property
    def loaded(self) -> int:
        """Variants loaded from the on-disk cache."""
        return sum(kernel.loaded for kernel in self.kernels)


def dispatchers() -> dict[str, numba.core.registry.CPUDispatcher]:
    """The fast path's Numba kernels by name: ``kernels`` (the engine's) and ``incremental``'s
    (used by the incremental fast path, not by the engine: the warm-up leaves them alone)."""
    found = {}
    for module in (kernels, incremental):
        prefix = "" if module is kernels else "incremental."
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                found[prefix + name] = value
    return found


def kernel_stats() -> tuple[KernelStats, ...]:
    """Per kernel with at least one variant in this process: its variants, compiled here or
    loaded from the cache (Numba's dispatcher statistics)."""
    stats = []
    for name, dispatcher in sorted(dispatchers().items()):
        if not dispatcher.signatures:
            continue
        counts = dispatcher.stats
        stats.append(
            KernelStats(
                name=name,
                signatures=len(dispatcher.signatures),
                compiled=sum(counts.cache_misses.values()),
                loaded=sum(counts.cache_hits.values()),
            )
        )
    return tuple(stats)


ENGINE_KERNELS: Final = (
    "customer_pass",
    "group",
    "group_applications",
    "group_payments",
    "index_rows",
    "invoice_customers",
    "invoice_pass",
    "latest",
    "link",
    "match_resolutions",
    "named_groups",
    "promise_pass",
    "promise_settled",
    "promise_summary",
    "settle",
    "settle_part",
    "settle_since",
    "timeline_part",
    "timelines",
    "values_on",
)
"""The kernels the engine calls (the ones it inlines into them are compiled with them)."""


def cached() -> bool | None:
    """Whether Numba's on-disk cache holds compiled variants of every kernel the engine calls,
    for this Numba and these sources (None: the cache cannot be inspected). Reads only the
    cache's small index files; says nothing of whether the variants match (the warm-up's do)."""
    try:
        found = dispatchers()
        for name in ENGINE_KERNELS:
            cache = found[name]._cache  # type: ignore[attr-defined]
            if not cache._cache_file._load_index():
                return False
        return True
    except (AttributeError, KeyError, OSError):  # Numba's private cache API changed
        return None


def cache_dir() -> Path:
    """Where Numba caches the kernels: ``NUMBA_CACHE_DIR``, else ``__pycache__`` beside them."""
    configured: str = getattr(numba.config, "CACHE_DIR", "")
    if configured:
        return Path(configured)
    return Path(kernels.__file__).resolve().parent / "__pycache__"


def module_roots() -> tuple[Path, ...]:
    """The directories of arledger's packages (the top package and the three it maps from the
    project's top level: ``domain``, ``projections``, ``adapters``)."""
    import arledger
    import arledger.adapters
    import arledger.domain
    import arledger.projections

    packages = (arledger, arledger.adapters, arledger.domain, arledger.projections)
    paths = {Path(path).resolve() for package in packages for path in package.__path__}
    return tuple(sorted(paths))


def compile_modules(roots: Iterable[Path] | None = None) -> int:
    """Write the bytecode of every module under ``roots`` (arledger's packages by default)
    whose cached bytecode is missing or no longer matches its source; the count written.

    Installing a wheel writes it; an editable install, or any made under
    ``PYTHONDONTWRITEBYTECODE``, never does, and every new process then compiled ~120 of
    arledger's modules from source before its first answer: ``arledger worklist`` on the 1M
    ledger took 5.3-5.4 s here without the bytecode and 4.3-4.5 s with it. Modules in a
    directory that cannot be written are left to be compiled at import, as before."""
    written = 0
    for root in module_roots() if roots is None else roots:
        for source in sorted(root.rglob("*.py")):
            if "__pycache__" in source.parts:
                continue
            cached = Path(importlib.util.cache_from_source(str(source)))
            try:
                if _current(source, cached):
                    continue
                py_compile.compile(
                    str(source),
                    cfile=str(cached),
                    doraise=True,
                    # Validated by the source's time and size, as ``_current`` reads it,
                    # whatever ``SOURCE_DATE_EPOCH`` says.
                    invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
                )
            except (OSError, py_compile.PyCompileError):
                continue
            written += 1
    return written


def _current(source: Path, cached: Path) -> bool:
    """Whether ``cached`` is bytecode Python would take for ``source`` as it is now: this
    interpreter's magic number, validated by the source's modification time and size (the
    header ``py_compile`` writes by default: PEP 552)."""
    try:
        with cached.open("rb") as file:
            header = file.read(16)
    except FileNotFoundError:
        return False
    stat = source.stat()
    return header == b"".join(
        (
            importlib.util.MAGIC_NUMBER,
            (0).to_bytes(4, "little"),
            (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little"),
            (stat.st_size & 0xFFFFFFFF).to_bytes(4, "little"),
        )
    )


def warm_up(*, invoices: int = INVOICES) -> WarmUpReport:
    """Compile (or load from the cache) every kernel variant the query engine uses, and write
    the bytecode of arledger's modules where it is missing (``compile_modules``).

    Generates a small ledger in an in-memory store, answers each portfolio query of the engine
    on it, and reports the kernels. Safe to run again (then everything is loaded), and from
    several processes at once (Numba writes each cache file aside and renames it; Python
    writes bytecode the same way).
    """
    from arledger.adapters.application.ledger import Ledger
    from arledger.adapters.synthetic.generate import END_ON_DEFAULT, generate_to_store

    started = time.perf_counter()
    modules_compiled = compile_modules()
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, read_models="stored")
    try:
        generate_to_store(ledger, invoices, SEED)
        events = list(ledger.iter_events())
        middle = events[len(events) // 2].timestamp
        as_of = END_ON_DEFAULT
        quarter = (as_of - timedelta(days=91), as_of)
        for known_at in (None, KNOWN_AT_LATE, middle):
            ledger.worklist(as_of, known_at=known_at)
            for grouping in AgeingGrouping:
                ledger.ageing(as_of, grouping=grouping, known_at=known_at)
            ledger.ageing(as_of, edges_days=EDGES_DAYS, known_at=known_at)
            for kpi_grouping in KpiGrouping:
                ledger.kpis(*quarter, grouping=kpi_grouping, known_at=known_at)
        ledger.worklist(date(as_of.year, 1, 1))
        # Large ledgers split the settlement pass between threads (another kernel); a date
        # not asked yet (a worklist asked again is the engine's kept answer).
        with fast_portfolio.settlement_split_always():
            ledger.worklist(as_of - timedelta(days=1))
    finally:
        ledger.close()
    return WarmUpReport(
        kernels=kernel_stats(),
        seconds=time.perf_counter() - started,
        cache_dir=cache_dir(),
        modules_compiled=modules_compiled,
    )


def warm_up_in_background() -> threading.Thread | None:
    """For a service: when the cache lacks the engine's kernels, start ``warm_up`` on a daemon
    thread (and return it), so that compiling overlaps the service's start-up instead of its
    first query. A query arriving meanwhile waits only for what is left (Numba compiles under
    one lock and reuses what the thread compiled). None when the cache is warm or unknown."""
    if cached() is not False:
        return None
    thread = threading.Thread(target=warm_up, name="arledger-warm-up", daemon=True)
    thread.start()
    return thread
