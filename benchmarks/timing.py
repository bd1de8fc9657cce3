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


def median_cpu_s(
    work: Callable[[], Any], rounds: int, before: Callable[[], Any] = lambda: None
) -> float:
    """``median_s`` in the process's CPU seconds: a figure that holds on a loaded machine
    (for work on the calling thread alone; threads the work starts add theirs)."""
    times = []
    for _ in range(rounds):
        before()
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times)
