"""The portfolio report: ``Ledger.report`` and ``arledger report --as-of D --out F.html``.

A small generated ledger (300 invoices, 30 customers in CNY, USD and EUR over 2024-2025) on
SQLite. Every figure of the report is held to the Ledger's own answer at the same log
position (ageing, kpis_monthly, worklist), never to fixed numbers, so the generator may change
its shape. The HTML is checked as text here (self-contained, one chart per figure with its
marks); ``test_report_browser`` opens it in Chromium.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.report.charts import CHARTS
from arledger.adapters.report.html import money_text
from arledger.adapters.report.model import TREND_MONTHS, trend_months
from arledger.adapters.synthetic import generate
from arledger.domain.errors import NotFoundError
from arledger.projections.ageing import AgeingGrouping

AS_OF = date(2025, 6, 30)
INVOICES = 300


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("report") / "ledger.db"),
    }
    generate.generate_to_store(Ledger(env=env), INVOICES, 15)
    return env


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.iter_events())


def marks(html: str, chart: str) -> set[str]:
    return set(re.findall(rf'id="({chart}-mark-[^"]+)"', html))


def test_the_report_holds_the_ledgers_own_answers_at_one_position(store: dict[str, str]) -> None:
    ledger = Ledger(env=store)

    report = ledger.report(AS_OF)

    assert report.as_of_log is not None
    at = report.as_of_log.position
    ageing = ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY, at_position=at)
    assert ageing.rows == report.ageing_by_currency
    assert ageing.bucket_labels == report.bucket_labels
    assert ledger.kpis_monthly(*trend_months(AS_OF), at_position=at).reports == report.months
    assert TREND_MONTHS == len(report.months)
    assert (date(2024, 7, 1), AS_OF) == (report.months[0].start_on, report.months[-1].end_on)
    worklist = ledger.worklist(AS_OF, at_position=at)
    assert [item for owner in report.worklists for item in owner.items] == sorted(
        worklist, key=lambda item: item.owner
    )
    assert len({item.customer_code for item in worklist}) == sum(
        count.customers for count in report.levels
    )
    by_customer = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER, at_position=at).rows
    overdue = {(row.key, row.currency): row.overdue_minor for row in by_customer}
    assert report.top_overdue, "the generated ledger has overdue customers"
    for row in report.top_overdue:
        assert overdue[(row.customer_code, row.currency)] == row.overdue_minor
    for currency in report.currencies:
        listed = [row.overdue_minor for row in report.top_overdue if row.currency == currency]
        assert sorted(listed, reverse=True) == listed
        others = sorted(
            (amount for (_code, cur), amount in overdue.items() if cur == currency), reverse=True
        )
        assert others[: len(listed)] == listed


def test_the_html_is_self_contained_and_draws_every_chart_with_its_marks(
    store: dict[str, str],
) -> None:
    report = Ledger(env=store).report(AS_OF)

    html = report.html()

    assert not re.search(r"https?:|//[a-z]|<script|<link|<img|@import|url\((?!#)", html)
    assert "default-src 'none'" in html
    for chart in CHARTS:
        assert re.search(rf'<figure id="chart-{chart}" data-chart="{chart}"><svg ', html), chart
    expected_ageing = {
        f"ageing-mark-{row.currency}-{index}"
        for row in report.ageing_by_currency
        for index, amount in enumerate(row.buckets_minor)
        if amount > 0
    }
    assert expected_ageing == marks(html, "ageing")
    expected_open = {
        f"open-mark-{currency}-{index}-{part}"
        for currency in report.currencies
        for index in range(TREND_MONTHS)
        for part in ("current", "overdue")
    }
    assert expected_open == marks(html, "open")
    assert {f"dso-mark-{c}" for c in report.currencies} == marks(html, "dso")
    assert sum(count.customers > 0 for count in report.levels) == len(marks(html, "levels"))
    for row in report.ageing_by_currency:  # the tables give exact figures, with separators
        assert f"<b>{money_text(row.open_minor, row.currency)}</b>" in html


def test_an_owners_report_holds_only_that_owners_worklist_and_figures(
    store: dict[str, str],
) -> None:
    ledger = Ledger(env=store)
    owner = ledger.worklist(AS_OF)[0].owner

    report = ledger.report(AS_OF, owner=owner)

    assert [owner] == [worklist.owner for worklist in report.worklists]
    assert list(ledger.worklist(AS_OF, owner=owner)) == list(report.worklists[0].items)
    by_owner = ledger.ageing(AS_OF, grouping=AgeingGrouping.OWNER).rows
    assert tuple(row for row in by_owner if row.key == owner) == report.ageing_by_currency
    assert any(month.rows for month in report.months)
    assert all(row.key == owner for month in report.months for row in month.rows)
    assert report.customers_open_not_listed is None


def test_an_unknown_owner_is_refused_and_nothing_is_recorded(store: dict[str, str]) -> None:
    ledger = Ledger(env=store)
    before = event_count(ledger)

    with pytest.raises(NotFoundError, match="no collection owner 'nobody'"):
        ledger.report(AS_OF, owner="nobody")

    assert before == event_count(ledger)


def test_cli_writes_the_report_file(store: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "report.html"

    result = CliRunner().invoke(
        app, ["report", "--as-of", str(AS_OF), "--out", str(out)], env=store
    )

    assert 0 == result.exit_code, result.output
    assert f"Wrote the report as of {AS_OF}" in result.stdout
    # Rendered again from the same figures: the same bytes (no date, fixed SVG ids).
    assert Ledger(env=store).report(AS_OF).html() == out.read_text(encoding="utf-8")
    assert [out] == list(tmp_path.iterdir())  # no temporary file left beside it


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--out", "report.txt"], 2, "must end in .html"),
        (["--out", "report.html", "--owner", "nobody"], 1, "no collection owner 'nobody'"),
        (["--out", "report.html", "--as-of", "2025-13-01"], 2, "not a date"),
    ],
)
def test_cli_refusals_write_nothing(
    store: dict[str, str], tmp_path: Path, arguments: list[str], exit_code: int, message: str
) -> None:
    as_of = [] if "--as-of" in arguments else ["--as-of", str(AS_OF)]
    arguments = [str(tmp_path / a) if a.startswith("report.") else a for a in arguments]

    result = CliRunner().invoke(app, ["report", *as_of, *arguments], env=store)

    assert exit_code == result.exit_code, result.output
    assert message in result.output
    assert [] == list(tmp_path.iterdir())


def test_the_engine_and_the_replay_give_the_same_report(store: dict[str, str]) -> None:
    replayed = Ledger(env={**store, "ARLEDGER_READ_MODELS": "replay"}).report(AS_OF)

    assert Ledger(env=store).report(AS_OF) == replayed


def test_importing_arledger_and_its_cli_loads_no_plotting_or_workbook_library() -> None:
    """matplotlib (~1 s to import here) and openpyxl load when a report or workbook is made,
    not at start."""
    probe = (
        "import sys, arledger, arledger.adapters.cli; "
        "print(sorted(m for m in ('matplotlib', 'openpyxl') if m in sys.modules))"
    )

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)

    assert 0 == done.returncode, done.stderr
    assert "[]" == done.stdout.strip()


def test_cli_with_a_cipher_writes_the_report_only_when_plaintext_is_asked_for(
    tmp_path: Path,
) -> None:
    from eventsourcing.cipher import AESCipher

    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path / "ledger.db"),
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    generate.generate_to_store(Ledger(env=env), 20, 3)
    out = tmp_path / "report.html"
    asked = ["report", "--as-of", str(AS_OF), "--out", str(out)]

    refused = CliRunner().invoke(app, asked, env=env)
    nothing_written = not out.exists()
    written = CliRunner().invoke(app, [*asked, "--plaintext"], env=env)

    assert 2 == refused.exit_code, refused.output
    assert "is encrypted (CIPHER_TOPIC/CIPHER_KEY)" in refused.output
    assert nothing_written
    assert 0 == written.exit_code, written.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_dso_far_above_the_others_is_drawn_at_a_ceiling_of_four_medians() -> None:
    from decimal import Decimal

    from arledger.adapters.report.charts import _ceiling

    days = [Decimal("10.0"), Decimal("12.0"), Decimal("11.0")]

    assert _ceiling(days) is None
    assert Decimal("46.00") == _ceiling([*days, Decimal("500.0")])  # median 11.5 x 4
    assert _ceiling([Decimal(0), Decimal(0)]) is None
