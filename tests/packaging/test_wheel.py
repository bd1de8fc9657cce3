"""The distribution: one wheel, import package ``arledger`` with the root folders mapped in.

Builds the wheel from this checkout, installs it into a fresh virtual environment and uses it
from another directory, so a service embedding arledger gets ``arledger.domain`` and never a
top-level ``domain`` that could collide with its own.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import arledger

ROOT = Path(__file__).resolve().parents[2]

USE_THE_WHEEL = """
import importlib.util
from datetime import date
import arledger
from arledger import Ledger, Money, AgeingGrouping
assert importlib.util.find_spec("domain") is None, "a top-level 'domain' package leaked"
assert "site-packages" in arledger.__file__, arledger.__file__
ledger = Ledger(env={"ARLEDGER_STORE": "memory"})
ledger.open_account("C1", name="C", currency="EUR", collection_owner="o",
                    opened_on=date(2024, 1, 1))
ledger.issue_invoice("I1", customer_code="C1", amount=Money.parse("9.99", "EUR"),
                     issued_on=date(2024, 1, 1))
row = ledger.ageing(date(2024, 3, 1), grouping=AgeingGrouping.CUSTOMER).rows[0]
print(row.key, row.currency, row.open_minor)
# The letter templates are package data: found in site-packages, not in this checkout.
from arledger import Language, LetterKind
from arledger.adapters.documents.render import render_html
html = render_html(ledger.letter(LetterKind.STATEMENT, "C1", date(2024, 3, 1)), Language.ZH)
assert "对账单" in html and "9.99" in html, html
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    (built,) = out.glob("arledger-*.whl")
    return built


def test_the_wheel_maps_the_root_folders_under_arledger(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "arledger/domain/money.py" in names
    assert "arledger/projections/ageing.py" in names
    assert "arledger/adapters/application/ledger.py" in names
    assert "arledger/domain/README.md" in names
    assert "arledger/adapters/report/templates/report.html.j2" in names  # the report's template
    for kind in ("confirmation", "demand", "statement"):
        for language in ("en", "zh"):
            assert f"arledger/adapters/documents/templates/{kind}.{language}.html" in names
    assert "arledger/adapters/documents/templates/base.html" in names
    assert not [name for name in names if name.startswith(("domain/", "adapters/", "tests/"))]


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_venv_and_works_from_another_directory(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "service"
    elsewhere.mkdir()

    used = subprocess.run(
        [str(python), "-c", USE_THE_WHEEL], cwd=elsewhere, capture_output=True, text=True
    )
    cli = subprocess.run(
        [str(venv / "bin" / "arledger"), "--help"], cwd=elsewhere, capture_output=True, text=True
    )

    assert 0 == used.returncode, used.stderr
    assert "C1 EUR 999" == used.stdout.strip()
    assert 0 == cli.returncode, cli.stderr
    assert "ageing" in cli.stdout


def test_the_editable_install_maps_the_same_packages_to_the_root_folders() -> None:
    from arledger import adapters, domain, projections

    assert ROOT / "domain" == Path(domain.__file__).parent
    assert ROOT / "projections" == Path(projections.__file__).parent
    assert ROOT / "adapters" == Path(adapters.__file__).parent
    assert ROOT / "arledger" == Path(arledger.__file__).parent
