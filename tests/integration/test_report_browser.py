"""The portfolio report opened in a real browser: headless Chromium (Debian's ``chromium``,
installed by .ci/run) renders it to a PNG and dumps its DOM.

The page must load without a console message (a script error, a request refused by its
Content-Security-Policy), hold every chart as SVG with the marks its figures call for, and be
painted (the screenshot shows the charts' colours). The report, the screenshot and the dumped
DOM are kept in ``artifacts/report/`` (gitignored) for CI to publish. Without Chromium the
test is skipped, and under CI=true it fails instead, as the PostgreSQL tests do.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.report import browser
from arledger.adapters.report.charts import CHARTS, CURRENT_COLOUR, bucket_colours
from tests.integration.test_report import AS_OF, marks
from tests.integration.test_report import store as store  # the module's generated ledger

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"
WIDTH, HEIGHT = 1280, 5000


@pytest.fixture
def chromium() -> None:
    if browser.find_chromium() is None:
        reason = "chromium is not installed (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI"):
            pytest.fail(f"CI=true needs Chromium: {reason}")
        pytest.skip(reason)


def colour_pixels(image: Image.Image, colour: str) -> int:
    rgb = tuple(int(colour[index : index + 2], 16) for index in (1, 3, 5))
    histogram = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    return sum(count for count, pixel in histogram if pixel == rgb)


def test_the_report_loads_in_chromium_without_errors_and_shows_every_chart(
    chromium: None,
    store: dict[str, str],
) -> None:
    report = Ledger(env=store).report(AS_OF)
    html = report.html()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = ARTIFACTS / "report.html"
    page.write_text(html, encoding="utf-8")

    shown = browser.render(page, ARTIFACTS / "report.png", width=WIDTH, height=HEIGHT)
    (ARTIFACTS / "report-dom.html").write_text(shown.dom, encoding="utf-8")

    assert () == shown.console
    assert shown.dom.rstrip().endswith("</html>")
    assert 'id="worklist"' in shown.dom  # the last section was built
    for chart in CHARTS:
        figure = re.search(
            rf'<figure id="chart-{chart}" data-chart="{chart}"><svg .*?</svg>', shown.dom, re.S
        )
        assert figure is not None, chart
        assert marks(html, chart), chart
        assert marks(html, chart) == marks(figure.group(0), chart), chart
    with Image.open(shown.screenshot) as image:
        assert (WIDTH, HEIGHT) == image.size
        colours = bucket_colours(len(report.bucket_labels))
        painted = [
            colours[index]
            for row in report.ageing_by_currency
            for index, amount in enumerate(row.buckets_minor)
            if amount > 0
        ]
        for colour in {*painted, CURRENT_COLOUR}:
            assert colour_pixels(image, colour) > 200, colour


def test_a_page_that_asks_the_network_is_caught_by_the_console(
    chromium: None, tmp_path: Path
) -> None:
    """The check above could fail: the report's policy refuses a request and says so."""
    html = Ledger(env={"ARLEDGER_STORE": "memory"}).report(AS_OF).html()
    page = tmp_path / "fetching.html"
    page.write_text(
        html.replace("</body>", '<img src="http://127.0.0.1:9/logo.png"></body>'),
        encoding="utf-8",
    )

    shown = browser.render(page, tmp_path / "fetching.png", width=800, height=600)

    assert any("127.0.0.1:9/logo.png" in line for line in shown.console), shown.console


def test_cli_screenshot_is_the_top_of_the_page_in_chromium(
    chromium: None, store: dict[str, str], tmp_path: Path
) -> None:
    out, png = tmp_path / "report.html", tmp_path / "report.png"

    result = CliRunner().invoke(
        app,
        ["report", "--as-of", str(AS_OF), "--out", str(out), "--screenshot", str(png)],
        env=store,
    )

    assert 0 == result.exit_code, result.output
    assert f"Screenshot of its top in Chromium: {png}" in result.stdout
    with Image.open(png) as image:
        assert (browser.SCREENSHOT_WIDTH, browser.SCREENSHOT_HEIGHT) == image.size
        assert colour_pixels(image, CURRENT_COLOUR) > 200
