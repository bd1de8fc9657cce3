"""The command line refuses bad text and dates with one line, never a traceback (issue 9.11, 9.13).

Each case runs ``arledger`` as a subprocess (the venv's script, as a user would) on a SQLite store
holding one customer, so that a date reaches the queries instead of stopping at an unknown
customer: the command exits non-zero and stderr is exactly one line, saying what was wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from arledger import Ledger, Money
from arledger.domain.rules import DATE_MAX, DATE_MIN

ARLEDGER = Path(sys.executable).with_name("arledger")


def command_line() -> list[str]:
    """The installed script when there is one, else the module."""
    return [str(ARLEDGER)] if ARLEDGER.exists() else [sys.executable, "-m", "arledger"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("refusals")
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(directory / "ledger.db")}
    ledger = Ledger(env)
    ledger.open_account(
        "ACME",
        name="Acme Ltd",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money.parse("1200.00", "USD"),
        issued_on=date(2024, 1, 10),
    )
    ledger.close()
    return env


def run(store: dict[str, str], *args: str | bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command_line(), *args],
        env={**os.environ, **store},
        cwd=Path(store["ARLEDGER_DB"]).parent,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=120,
    )


def test_the_store_answers_good_queries(store: dict[str, str]) -> None:
    result = run(store, "explain", "ACME", "--as-of", "2024-05-31")

    assert 0 == result.returncode, result.stderr
    assert "ACME" in result.stdout


RANGE = f"{DATE_MIN} to {DATE_MAX}"
CASES: dict[str, tuple[tuple[str | bytes, ...], str]] = {
    "explain of a code that is not UTF-8": (
        ("explain", b"C\xffX", "--as-of", "2024-05-31"),
        "lone surrogate",
    ),
    "explain of a code with a zero-width space": (
        ("explain", "ACME\u200b", "--as-of", "2024-05-31"),
        "U+200B",
    ),
    "worklist of an owner that is not UTF-8": (
        ("worklist", "--as-of", "2024-05-31", "--owner", b"l\xffi"),
        "lone surrogate",
    ),
    "explain on 9999-12-31": (("explain", "ACME", "--as-of", "9999-12-31"), RANGE),
    "explain on 0001-01-01": (("explain", "ACME", "--as-of", "0001-01-01"), RANGE),
    "kpis as of 9999-12-31": (("kpis", "--as-of", "9999-12-31"), RANGE),
    "kpis as of 0001-01-01": (("kpis", "--as-of", "0001-01-01"), RANGE),
    "kpis from 0001-01-01 to 9999-12-31": (
        ("kpis", "--from", "0001-01-01", "--to", "9999-12-31"),
        RANGE,
    ),
    "kpis as of a date whose trailing months start before the range": (
        ("kpis", "--as-of", "1900-01-15"),
        RANGE,
    ),
    "kpis from a start after the end": (
        ("kpis", "--from", "2024-02-01", "--to", "2024-01-01"),
        "after",
    ),
    "ageing on 9999-12-31": (("ageing", "--as-of", "9999-12-31"), RANGE),
    "ageing on 0001-01-01": (("ageing", "--as-of", "0001-01-01"), RANGE),
    "worklist on 9999-12-31": (("worklist", "--as-of", "9999-12-31"), RANGE),
    "worklist on 0001-01-01": (("worklist", "--as-of", "0001-01-01"), RANGE),
    "ageing on a day that does not exist": (("ageing", "--as-of", "2024-02-30"), "YYYY-MM-DD"),
    "demo on 9999-12-31": (("demo", "--as-of", "9999-12-31"), RANGE),
    "export to a folder whose name is not UTF-8": (("export", b"out\xff"), "UTF-8"),
    "generate to a folder whose name is not UTF-8": (
        ("generate", "--invoices", "10", "--out", "parquet", "--directory", b"out\xff"),
        "UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(
    store: dict[str, str], case: str
) -> None:
    args, expected = CASES[case]

    result = run(store, *args)

    assert 0 != result.returncode
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
