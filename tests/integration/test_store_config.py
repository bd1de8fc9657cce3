"""Store selection by environment: SQLite by default, in-memory and PostgreSQL on request."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arledger import Ledger
from arledger.adapters.persistence.store import store_env
from arledger.domain.errors import ConfigurationError


def test_the_default_store_is_arledger_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("ARLEDGER_STORE", "ARLEDGER_DB", "PERSISTENCE_MODULE", "SQLITE_DBNAME"):
        monkeypatch.delenv(key, raising=False)

    ledger = Ledger()
    ledger.open_account(
        "C1", name="C", currency="USD", collection_owner="o", opened_on=date(2024, 1, 1)
    )

    assert "SQLite arledger.db" == ledger.store_description
    assert (tmp_path / "arledger.db").exists()


def test_arledger_db_names_the_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARLEDGER_STORE", raising=False)
    monkeypatch.setenv("ARLEDGER_DB", str(tmp_path / "books.db"))

    Ledger().open_account(
        "C1", name="C", currency="USD", collection_owner="o", opened_on=date(2024, 1, 1)
    )

    assert (tmp_path / "books.db").exists()


def test_postgres_settings_have_local_defaults_and_can_be_overridden() -> None:
    defaults = store_env({"ARLEDGER_STORE": "postgres"})
    chosen = store_env(
        {
            "ARLEDGER_STORE": "postgres",
            "ARLEDGER_POSTGRES_DBNAME": "books",
            "ARLEDGER_POSTGRES_SCHEMA": "ar",
        }
    )

    assert "eventsourcing.postgres" == defaults["PERSISTENCE_MODULE"]
    assert ("127.0.0.1", "5432", "postgres") == (
        defaults["POSTGRES_HOST"],
        defaults["POSTGRES_PORT"],
        defaults["POSTGRES_USER"],
    )
    assert ("books", "ar") == (chosen["POSTGRES_DBNAME"], chosen["POSTGRES_SCHEMA"])


def test_an_unknown_store_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as error:
        Ledger(env={"ARLEDGER_STORE": "mongo"})

    assert "mongo" == error.value.store
    assert "memory, postgres, sqlite" in str(error.value)
