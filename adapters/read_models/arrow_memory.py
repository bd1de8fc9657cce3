"""Which allocator Arrow's buffers come from, chosen once per process by the query engine.

pyarrow's wheels allocate from mimalloc by default. On the virtual machines measured here its
lazily committed arenas made memory touched for the first time cost ~3 ms a MB (100 MB of new
buffers filled: 0.30-0.47 s, against 0.08 s from jemalloc and 0.02-0.06 s from NumPy), and
a new process takes in the whole columnar log at once: at 1M invoices its first worklist took
4.33-5.40 s with mimalloc against 4.01-4.25 s with jemalloc (three alternated runs each, quiet,
CPU 5.07-6.23 s against 4.87-5.19 s, peak memory 2% lower), warm queries unchanged. So the
engine asks for jemalloc, bundled in the same wheels, when the process left the choice to Arrow.

It is Arrow's allocator for the whole process (Arrow has one default pool), so a host that
chose one keeps it: setting ``ARROW_DEFAULT_MEMORY_POOL`` (Arrow's own setting: ``mimalloc``,
``jemalloc`` or ``system``) is that choice, read by Arrow itself. Buffers already allocated
are freed to the pool that made them, so switching after other Arrow use is safe.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping

import pyarrow as pa

_chosen = threading.Lock()
_done: list[bool] = []


def choose_memory_pool(environ: Mapping[str, str] | None = None) -> str:
    """Make jemalloc Arrow's default pool, once, unless ``ARROW_DEFAULT_MEMORY_POOL`` is set in
    ``environ`` (the process environment by default) or this pyarrow has no jemalloc; the name
    of the pool in use."""
    environ = os.environ if environ is None else environ
    with _chosen:
        if not _done:
            _done.append(True)
            if not environ.get("ARROW_DEFAULT_MEMORY_POOL"):
                # A build without jemalloc refuses it: its default stays.
                with contextlib.suppress(NotImplementedError):
                    pa.set_memory_pool(pa.jemalloc_memory_pool())
        return str(pa.default_memory_pool().backend_name)
