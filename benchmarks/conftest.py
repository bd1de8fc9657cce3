"""Fixtures shared by the benchmark suites.

The medium profile's two 100,000-invoice benchmarks (the engine against the replay, and the
cold start) measure the same generated ledger; generating it takes over a minute, so it is
generated once per run and each benchmark works on its own copy (one appends events to it,
the other persists segments in it). The same holds for its two 1,000,000-invoice benchmarks
(the engine, the policy back-test), on ``generated_1m``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.synthetic.generate import generate_to_store

MEDIUM_INVOICES: Final = 100_000
MEDIUM_SEED: Final = 20_261_206
LARGE_INVOICES: Final = 1_000_000


@pytest.fixture(scope="session")
def generated_100k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the generated ledger of 100,000 invoices (do not write to it:
    take a ``copy_store`` of it)."""
    path = tmp_path_factory.mktemp("generated-100k") / "generated.db"
    generated_store(path, MEDIUM_INVOICES, MEDIUM_SEED)
    return path


@pytest.fixture(scope="session")
def generated_1m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the generated ledger of 1,000,000 invoices, generated once per run
    for the medium profile's two 1M benchmarks (the engine, the policy back-test): take a
    ``copy_store`` of it."""
    path = tmp_path_factory.mktemp("generated-1m") / "generated.db"
    generated_store(path, LARGE_INVOICES, MEDIUM_SEED)
    return path


def generated_store(path: Path, invoices: int, seed: int) -> dict[str, str]:
    """Generate the ledger of ``invoices`` invoices drawn from ``seed`` into a new SQLite store at
    ``path`` through the Ledger; the store's settings (a Ledger's ``env``)."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}
    ledger = Ledger(env=env)
    try:
        generate_to_store(ledger, invoices, seed)
    finally:
        ledger.close()
    return env


def copy_store(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite store (SQLite's online backup: WAL content included)."""
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    reading.close()
    writing.close()
    return target
