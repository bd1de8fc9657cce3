"""`python -m arledger import` refuses the bad inputs of issue 9 in one line, never a traceback.

Each case runs the CLI as a subprocess over a SQLite store that already holds one imported
invoice, and checks: a non-zero exit, exactly one line on stderr that says what is wrong, and
that nothing was recorded and no file was clobbered (the store and every file the command was
pointed at are the same byte for byte).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.ingest.importer import ColumnMapping, import_file

MAPPING_JSON = (
    '{"columns": {"customer_code": "cust", "invoice_number": "inv", "issued_on": "issued", '
    '"amount": "amt", "terms_days": "terms"}}'
)
GOOD = "cust,inv,issued,amt,terms\nC0,INV-0,2024-01-02,3.00,30\n"


@dataclass
class Setting:
    """A store holding INV-0, a mapping, and the files a case may point the command at.

    The command runs in ``directory`` with ARLEDGER_DB=ledger.db, relative as by default.
    """

    directory: Path
    env: dict[str, str]
    store: Path
    mapping: Path

    def write(self, name: str, text: str) -> Path:
        path = self.directory / name
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "arledger", *args],
            env={**os.environ, **self.env},
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def events(self) -> int:
        ledger = Ledger({**self.env, "ARLEDGER_DB": str(self.store)})
        try:
            return sum(1 for _ in ledger.iter_events())
        finally:
            ledger.close()


@pytest.fixture
def setting(tmp_path: Path) -> Setting:
    store = tmp_path / "ledger.db"
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": "ledger.db"}
    mapping = tmp_path / "m.json"
    mapping.write_text(MAPPING_JSON, encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    ledger = Ledger({**env, "ARLEDGER_DB": str(store)})
    try:
        import_file(
            ledger,
            good,
            ColumnMapping(
                columns={
                    "customer_code": "cust",
                    "invoice_number": "inv",
                    "issued_on": "issued",
                    "amount": "amt",
                    "terms_days": "terms",
                }
            ),
        )
    finally:
        ledger.close()
    return Setting(directory=tmp_path, env=env, store=store, mapping=mapping)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def assert_refused_in_one_line(
    result: subprocess.CompletedProcess[str], exit_code: int, *said: str
) -> None:
    assert exit_code == result.returncode, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith("error: ")
    for words in said:
        assert words in lines[0]


ONE_BAD_ROW = "cust,inv,issued,amt,terms\nC1,INV-1,2024-01-10,5.00,30\nC1,INV-2,2024-01-10,0,30\n"


# Item 1: where the rejects may go ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "overwrite", "said"),
    [
        ("ledger.db", False, "it is a file of the ledger's store"),
        ("ledger.db", True, "it is a file of the ledger's store"),
        ("ledger.db-wal", False, "it is a file of the ledger's store"),
        ("f.csv", True, "it is the imported file"),
        ("m.json", False, "it exists; write the rejects to a new file"),
        ("m.json", True, "it exists and is not a rejects file arledger wrote"),
        ("notes.txt", False, "it exists; write the rejects to a new file"),
        ("folder", True, "it is a directory"),
        ("no-such-folder/rejects.csv", False, "its directory does not exist"),
    ],
)
def test_the_rejects_are_refused_where_they_would_clobber_something(
    setting: Setting, target: str, overwrite: bool, said: str
) -> None:
    f = setting.write("f.csv", ONE_BAD_ROW)
    setting.write("notes.txt", "my notes\n")
    (setting.directory / "folder").mkdir()
    before = snapshot(setting.directory)
    events = setting.events()

    result = setting.run(
        *("import", f.name, "--mapping", "m.json", "--rejects-to", target),
        *(["--overwrite-rejects"] if overwrite else []),
    )

    assert_refused_in_one_line(result, 2, target, said, "nothing was recorded")
    assert before == snapshot(setting.directory)
    assert events == setting.events()


def test_a_previous_rejects_file_is_replaced_only_with_overwrite_rejects(setting: Setting) -> None:
    f = setting.write("f.csv", ONE_BAD_ROW)
    first = setting.run("import", f.name, "--mapping", "m.json", "--rejects-to", "rejects.csv")
    assert 0 == first.returncode, first.stderr
    before = snapshot(setting.directory)
    events = setting.events()

    refused = setting.run("import", f.name, "--mapping", "m.json", "--rejects-to", "rejects.csv")
    replaced = setting.run(
        "import",
        f.name,
        "--mapping",
        "m.json",
        "--rejects-to",
        "rejects.csv",
        "--overwrite-rejects",
    )

    assert_refused_in_one_line(refused, 2, "rejects.csv", "it exists", "--overwrite-rejects")
    assert 0 == replaced.returncode, replaced.stderr
    assert "Traceback" not in replaced.stderr
    assert events == setting.events()
    assert before["rejects.csv"] == (setting.directory / "rejects.csv").read_bytes()


# Item 2: rows with the wrong number of cells, repeated column names -----------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "cust,inv,issued,amt\nC1,INV-1,2024-01-10,1,000.00\n",
            "line 2, row: 5 cells but the header has 4 columns",
        ),
        (
            "cust,inv,issued,amt,terms\nC1,INV-1,2024-01-10,5.00,30\nC1,INV-2,2024-01-10,5.00\n",
            "line 3, row: 4 cells but the header has 5 columns",
        ),
        (
            "cust,inv,issued,amt,terms,amt\nC1,INV-1,2024-01-10,5.00,30,6.00\n",
            "line 1, header: column 'amt' is named twice",
        ),
    ],
    ids=["more cells", "fewer cells", "repeated column"],
)
def test_a_file_of_the_wrong_shape_is_refused_in_one_line(
    setting: Setting, text: str, said: str
) -> None:
    mapping = setting.mapping
    if "terms" not in text.splitlines()[0]:
        mapping = setting.write("m4.json", MAPPING_JSON.replace(', "terms_days": "terms"', ""))
    f = setting.write("f.csv", text)
    before = snapshot(setting.directory)

    result = setting.run("import", f.name, "--mapping", mapping.name)

    assert_refused_in_one_line(result, 1, said, "nothing was recorded")
    assert before == snapshot(setting.directory)


# Item 13: terms_days in digits other than 0-9 -----------------------------------------------------


@pytest.mark.parametrize("terms", ["²", "①", "٣٠", "３０"])
def test_terms_days_in_digits_other_than_ascii_are_refused_in_one_line(
    setting: Setting, terms: str
) -> None:
    f = setting.write("f.csv", f"cust,inv,issued,amt,terms\nC1,INV-1,2024-01-10,5.00,{terms}\n")
    before = snapshot(setting.directory)

    result = setting.run("import", f.name, "--mapping", "m.json")

    assert_refused_in_one_line(result, 1, "line 2, terms_days", "0-9")
    assert before == snapshot(setting.directory)


def test_terms_days_in_digits_other_than_ascii_are_rejected_rows_not_a_crash(
    setting: Setting,
) -> None:
    """With --rejects-to, one '²' crashed the whole import."""
    f = setting.write(
        "f.csv",
        "cust,inv,issued,amt,terms\nC1,INV-1,2024-01-10,5.00,30\nC1,INV-2,2024-01-10,5.00,²\n",
    )
    events = setting.events()

    result = setting.run("import", f.name, "--mapping", "m.json", "--rejects-to", "r.csv")

    assert 0 == result.returncode, result.stderr
    assert "Traceback" not in result.stderr
    assert "line 3, terms_days: '²' is not a whole number of days" in result.stderr
    with (setting.directory / "r.csv").open(encoding="utf-8", newline="") as file:
        assert ["3", "terms_days"] == next(iter(list(csv.reader(file))[1:]))[:2]
    assert events + 3 == setting.events()  # INV-1: issued, added to C1's account, C1 opened


# Item 16: the raw switch belongs to CSV ---------------------------------------------------------


def test_csv_raw_without_csv_output_is_refused_in_one_line(setting: Setting) -> None:
    result = setting.run("ageing", "--as-of", "2024-12-31", "--format", "json", "--csv-raw")

    assert_refused_in_one_line(result, 2, "--csv-raw is for --format csv")
