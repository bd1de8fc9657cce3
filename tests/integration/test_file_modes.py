"""Files holding the ledger are readable by their owner only (issue 9.17): the SQLite store with
its -wal and -shm files, and the Parquet export. A file that already exists keeps its mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from arledger import Ledger, Money
from tests.conftest import FixedClock


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems give a login (022): files open to everyone unless asked."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def record_something(ledger: Ledger) -> None:
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money.parse("10.00", "USD"),
        issued_on=date(2024, 1, 5),
    )


def test_a_new_sqlite_store_and_its_wal_and_shm_are_created_for_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "books.db"
    ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}, clock=FixedClock())
    record_something(ledger)
    ledger.portfolio()  # the read models, in the same file

    files = {p.name: mode(p) for p in tmp_path.iterdir()}
    ledger.close()

    assert {"books.db", "books.db-wal", "books.db-shm"} == set(files)
    assert {name: 0o600 for name in files} == files


def test_an_existing_sqlite_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}).close()
    path.chmod(0o640)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    ledger = Ledger(env={"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(path)}, clock=FixedClock())
    record_something(ledger)

    assert 0o640 == mode(path)
    assert 0o640 == mode(Path(f"{path}-wal"))  # SQLite copies the database file's mode
    ledger.close()
