"""`arledger export DIR`: the event log of any store to Parquet in the columnar layout."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from tests.conftest import FixedClock


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "export.db")}


def test_export_writes_every_event_in_pages_and_they_read_back_equal(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    ledger = Ledger(env=sqlite_env, clock=FixedClock())
    record_demo(ledger, generate_demo(7, customers=12, invoices=150))
    recorded = list(ledger.iter_events())
    ledger.close()
    out = tmp_path / "log"

    result = CliRunner().invoke(app, ["export", str(out), "--page-rows", "40"], env=sqlite_env)

    assert 0 == result.exit_code, result.output
    assert f"Exported {len(recorded)} event(s)" in result.output
    exported = columnar.read_parquet(out)
    assert recorded == list(columnar.from_columnar(exported))
    # Pages: the biggest table was written as several row groups, not one.
    row_groups = {
        name: pq.ParquetFile(out / f"{name}.parquet").num_row_groups for name in exported.tables
    }
    assert 1 < max(row_groups.values())


def test_export_of_an_empty_store_writes_an_empty_log(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(app, ["export", str(tmp_path / "empty")], env=sqlite_env)

    assert 0 == result.exit_code, result.output
    assert "Exported 0 event(s) in 0 table(s)" in result.output
    assert 0 == columnar.read_parquet(tmp_path / "empty").event_count


def test_a_bad_page_size_is_a_usage_error(tmp_path: Path, sqlite_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "x"), "--page-rows", "0"], env=sqlite_env
    )

    assert 2 == result.exit_code
    assert not (tmp_path / "x").exists()


def test_export_refuses_a_folder_holding_other_files_and_writes_nothing(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "sales.parquet").write_text("not ours")

    result = CliRunner().invoke(app, ["export", str(folder)], env=sqlite_env)

    assert 1 == result.exit_code
    assert "holds files that are not an arledger export" in result.output
    assert ["sales.parquet"] == [p.name for p in folder.iterdir()]
    assert not list(tmp_path.glob(".mine*"))  # no partial folder left behind


def test_export_to_a_file_is_an_error_not_a_traceback(
    tmp_path: Path, sqlite_env: dict[str, str]
) -> None:
    (tmp_path / "afile").write_text("x")

    result = CliRunner().invoke(app, ["export", str(tmp_path / "afile")], env=sqlite_env)

    assert 1 == result.exit_code
    assert "is a file, not a folder" in result.output
    assert "Traceback" not in result.output
