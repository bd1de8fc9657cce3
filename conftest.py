"""Loaded by every pytest run in the repository (tests/, benchmarks/, or one file of either)."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The benchmarks' figures, one line each (``benchmarks.figures.report_figures``)."""
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures, default=str)}")
