"""Loaded by every pytest run in the repository (tests/, benchmarks/, or one file of either)."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from benchmarks.figures import FIGURES

PROFILES: Final = ("medium", "large")
"""The benchmark profiles: run only when ``-m`` names them (``pytest benchmarks -m medium``)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the benchmark profiles deselected under any ``-m`` that does not name them.

    pyproject's default ``-m 'not large and not medium'`` is replaced by any ``-m`` given on the
    command line, so ``pytest -m "not slow"`` would otherwise run the 100k-, 1M- and
    10M-invoice benchmarks (~15 min and more). An item is kept when ``-m`` names one of its
    profiles (the 1M-invoice Ledger benchmark is in both)."""
    named = {profile for profile in PROFILES if profile in (config.getoption("markexpr") or "")}
    kept, dropped = [], []
    for item in items:
        profiles = {profile for profile in PROFILES if item.get_closest_marker(profile)}
        (dropped if profiles and not profiles & named else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The benchmarks' figures, one line each (``benchmarks.figures.report_figures``)."""
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures, default=str)}")
