"""`arledger generate`: a synthetic ledger into the store or to Parquet, the same per seed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar
from arledger.adapters.synthetic.generate import generate_columnar


def test_generate_to_parquet_writes_the_seeded_ledger(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"

    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--invoices",
            "1000",
            "--seed",
            "5",
            "--out",
            "parquet",
            "--directory",
            str(out),
        ],
        env={"ARLEDGER_STORE": "memory"},
    )

    assert 0 == result.exit_code, result.output
    expected = list(columnar.from_columnar(generate_columnar(1000, 5)))
    assert expected == list(columnar.from_columnar(columnar.read_parquet(out)))
    assert f"Generated 1000 invoice(s) (seed 5): {len(expected)} event(s)" in result.output


def test_generate_into_the_store_records_the_same_events(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "g.db")}

    result = CliRunner().invoke(app, ["generate", "--invoices", "1000", "--seed", "5"], env=env)

    assert 0 == result.exit_code, result.output
    ledger = Ledger(env=env)
    try:
        recorded = list(ledger.iter_events())
    finally:
        ledger.close()
    assert list(columnar.from_columnar(generate_columnar(1000, 5))) == recorded


def test_generating_the_same_seed_twice_into_a_store_is_refused_and_records_nothing_more(
    tmp_path: Path,
) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "g.db")}
    runner = CliRunner()
    runner.invoke(app, ["generate", "--invoices", "1000"], env=env)

    again = runner.invoke(app, ["generate", "--invoices", "1000"], env=env)

    assert 1 == again.exit_code
    assert "already holds ledger keys of seed 0" in again.output
    ledger = Ledger(env=env)
    try:
        count = sum(1 for _ in ledger.iter_events())
    finally:
        ledger.close()
    assert generate_columnar(1000, 0).event_count == count


def test_usage_errors_for_the_output_options(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ARLEDGER_STORE": "memory"}

    missing_dir = runner.invoke(app, ["generate", "--invoices", "10", "--out", "parquet"], env=env)
    stray_dir = runner.invoke(
        app, ["generate", "--invoices", "10", "--directory", str(tmp_path)], env=env
    )
    too_many = runner.invoke(app, ["generate", "--invoices", "10000001"], env=env)
    none = runner.invoke(app, ["generate", "--invoices", "0"], env=env)

    assert [2, 2, 2, 2] == [r.exit_code for r in (missing_dir, stray_dir, too_many, none)]
    assert "--out parquet needs --directory" in missing_dir.output
