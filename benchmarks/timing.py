"""Timing shared by the benchmarks: the median of a few rounds of one piece of work."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_s(
    work: Callable[[], Any], rounds: int, before: Callable[[], Any] = lambda: None
) -> float:
    """Median seconds of ``rounds`` calls of ``work``; ``before`` runs ahead of each round,
    outside the timing (e.g. clearing a cache, so every round measures the work itself)."""
    times = []
    for _ in range(rounds):
        before()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
