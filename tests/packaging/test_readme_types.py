"""The README's Python examples type-check under ``mypy --strict`` as a service's code would,
run as written, and mypy rejects a client that passes the wrong types.

mypy cannot follow setuptools' editable finder, so, as ``.ci/typecheck`` does, the package is
given to it as a tree of symlinks with the installed shape (``arledger/`` holding ``domain``,
``projections`` and ``adapters``); ``--follow-imports=silent`` checks the client against the
package's annotations without reporting the package's own strictness, which is CI's business.
A wheel carries the ``py.typed`` marker (checked here), so an installed arledger is typed too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

WRONG_CLIENT = """
from datetime import date
from arledger import AgeingGrouping, KpiGrouping, Ledger, Money

ledger = Ledger(env={"ARLEDGER_STORE": "memory"})
ledger.ageing(as_of="2025-01-01")  # WRONG: text where a date is expected
ledger.ageing(date(2025, 1, 1), grouping="customer")  # WRONG: text, not AgeingGrouping
ledger.kpis(date(2025, 1, 1), date(2025, 3, 31), grouping="owner")  # WRONG: not KpiGrouping
ledger.check_credit("ACME", "12.00", date(2025, 1, 1))  # WRONG: text where Money is expected
ledger.worklist(date(2025, 1, 1))[0].overdue_minor.upper()  # WRONG: an int has no upper()
ledger.explain("ACME", date(2025, 1, 1)).status.level_name + 1  # WRONG: str + int
day = date(2025, 1, 1)
ledger.issue_invoice("I-1", customer_code="ACME", amount="12.00", issued_on=day)  # WRONG: text
report = ledger.ageing(date(2025, 1, 1), grouping=AgeingGrouping.CUSTOMER)
kpis = ledger.kpis(date(2025, 1, 1), date(2025, 3, 31), grouping=KpiGrouping.OWNER)
print(report.rows, kpis.rows, Money.parse("12.00", "USD"))
"""
"""Each line marked WRONG must get a mypy error (queries and commands: ``issue_invoice`` with
text where Money is expected); the rest of the file is correct."""


def readme_examples() -> str:
    """The README's Python examples that use the Ledger, in order, as one client module."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return "\n".join(block for block in blocks if "Ledger" in block or "ledger." in block)


def staged_package(directory: Path) -> Path:
    """A tree of symlinks with the installed shape of the package, for mypy."""
    package = directory / "arledger"
    package.mkdir(parents=True)
    for entry in (ROOT / "arledger").iterdir():
        (package / entry.name).symlink_to(entry)
    for sub in ("domain", "projections", "adapters"):
        (package / sub).symlink_to(ROOT / sub)
    return directory


@pytest.fixture(scope="module")
def mypy_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """mypy --strict's exit code and output for the README client and the wrong client (one
    cache, so the second run checks only its own file)."""
    work = tmp_path_factory.mktemp("clients")
    staged = staged_package(work / "stage")
    config = work / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")
    results = {}
    for name, text in (("readme_client", readme_examples()), ("wrong_client", WRONG_CLIENT)):
        client = work / f"{name}.py"
        client.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(config),
                "--strict",
                "--follow-imports=silent",
                "--cache-dir",
                str(work / ".mypy_cache"),
                "--no-error-summary",
                str(client),
            ],
            capture_output=True,
            text=True,
            cwd=work,
            env={**os.environ, "MYPYPATH": str(staged)},
            timeout=600,
        )
        results[name] = (done.returncode, done.stdout + done.stderr)
    return results


def _error_lines(output: str, name: str) -> set[int]:
    return {int(line) for line in re.findall(rf"{name}\.py:(\d+): error", output)}


def _marked_lines(marker: str) -> set[int]:
    return {
        number
        for number, line in enumerate(WRONG_CLIENT.splitlines(), start=1)
        if f"# {marker}" in line
    }


@pytest.mark.slow
def test_the_readme_examples_pass_mypy_strict(mypy_results: dict[str, tuple[int, str]]) -> None:
    code, output = mypy_results["readme_client"]

    assert "ledger.kpis(" in readme_examples()
    assert (0, "") == (code, output.strip())


@pytest.mark.slow
def test_mypy_rejects_each_wrong_call_and_nothing_else(
    mypy_results: dict[str, tuple[int, str]],
) -> None:
    code, output = mypy_results["wrong_client"]
    errors = _error_lines(output, "wrong_client")

    assert 1 == code
    assert 7 == len(_marked_lines("WRONG"))
    assert _marked_lines("WRONG") == errors, output


def test_the_readme_examples_run_as_written(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARLEDGER_STORE", "memory")
    namespace: dict[str, Any] = {}

    exec(readme_examples(), namespace)

    assert namespace["decision"].customer_code == "ACME"
    assert namespace["worklist"].as_of == namespace["explanation"].as_of


def test_the_package_ships_its_py_typed_marker() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]

    assert (ROOT / "arledger" / "py.typed").is_file()
    assert "py.typed" in package_data["arledger"]
