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


# The read models under the event store's cipher ---------------------------------------------


def cipher_env(env: dict[str, str]) -> dict[str, str]:
    from eventsourcing.cipher import AESCipher

    return {
        **env,
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }


def stored_partitions(env: dict[str, str]) -> list[str]:
    if env["ARLEDGER_STORE"] == "sqlite":
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(env["ARLEDGER_DB"])) as connection:
            rows = connection.execute("SELECT state FROM arledger_rm_partitions").fetchall()
    else:
        from psycopg.sql import SQL, Identifier

        from tests.conftest import postgres_connection

        with postgres_connection() as connection:
            rows = connection.execute(
                SQL("SELECT state FROM {}.arledger_rm_partitions").format(
                    Identifier(env["ARLEDGER_POSTGRES_SCHEMA"])
                )
            ).fetchall()
    return [row[0] for row in rows]


def test_with_a_cipher_the_stored_read_models_are_encrypted_too(
    persistent_store_env: dict[str, str],
) -> None:
    from arledger.projections import portfolio

    env = cipher_env(persistent_store_env)
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME",
        name="Zebulon Secretive Trading",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money.parse("98765.43", "USD"),
        issued_on=date(2024, 1, 5),
    )

    served = ledger.portfolio()

    assert portfolio.fold_all(ledger.iter_events()) == served
    states = stored_partitions(env)
    assert states  # the read models were stored
    for state in states:
        assert "Zebulon" not in state
        assert "9876543" not in state
        assert "INV-1" not in state
    # Another process with the same key reads them back.
    assert served == Ledger(env=env).portfolio()
    ledger.close()


def test_encrypted_read_models_are_refused_without_the_key(
    persistent_store_env: dict[str, str],
) -> None:
    from arledger.adapters.read_models.runner import ProjectionRunner
    from arledger.domain.errors import ConfigurationError

    env = cipher_env(persistent_store_env)
    ledger = Ledger(env=env, clock=FixedClock())
    record_something(ledger)
    ledger.portfolio()
    other_key = cipher_env(persistent_store_env)

    with pytest.raises(ConfigurationError, match="CIPHER_KEY"):
        ProjectionRunner(Ledger(env=other_key)).portfolio()
    ledger.close()
