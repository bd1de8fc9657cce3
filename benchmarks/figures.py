"""Benchmark figures printed at the end of a pytest run (the repository's ``conftest.py``), so
that CI's log shows them: pytest captures what a passing test prints."""

from __future__ import annotations

from collections.abc import Mapping

FIGURES: dict[str, dict[str, object]] = {}


def report_figures(name: str, figures: Mapping[str, object]) -> None:
    FIGURES[name] = dict(figures)
