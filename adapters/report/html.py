"""The portfolio report as one self-contained HTML file (``arledger report``).

Invariant: the file needs nothing but itself: styles inline, charts inline SVG with their text
as paths (``charts``), no script, no image or font to fetch, and a Content-Security-Policy that
forbids every request, so that a browser opening it asks the network for nothing (the browser
test checks the console for a refused request). Jinja2 autoescapes every value the ledger
holds (customer names, owners); the charts are the only markup passed through unescaped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import jinja2
from markupsafe import Markup

from arledger.adapters.report.charts import (
    CHARTS,
    CURRENT_COLOUR,
    GRADE_WORDS,
    OVERDUE_COLOUR,
    all_charts,
    bucket_colours,
)
from arledger.adapters.report.model import (
    TOP_OVERDUE_PER_CURRENCY,
    TREND_MONTHS,
    WORKLIST_ROWS_PER_OWNER,
    PortfolioReport,
)
from arledger.domain.money import currency_exponent
from arledger.domain.policy import Grade

TEMPLATE: Final = "report.html.j2"


def money_text(amount_minor: int, currency: str) -> str:
    """An amount with thousands separators and the currency's decimals: 1,234,567.89."""
    exponent = currency_exponent(currency)
    value = Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
    return f"{value:,}"


def ratio_text(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:,}"


def words(code: str) -> str:
    """A code in words: ``lawyer_letter`` -> ``lawyer letter``."""
    return code.replace("_", " ")


def grade_text(grade: Grade | None) -> str:
    return GRADE_WORDS[grade]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("arledger.adapters.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["money"] = money_text
    environment.filters["ratio"] = ratio_text
    environment.filters["words"] = words
    environment.filters["grade"] = grade_text
    return environment


def report_html(report: PortfolioReport) -> str:
    """The report as an HTML document (text); write it to a file as UTF-8."""
    charts = {name: Markup(svg) for name, svg in all_charts(report).items()}
    assert tuple(charts) == CHARTS
    grades = [*Grade, None]
    levels = sorted({(count.level, count.level_name) for count in report.levels})
    level_grid = [
        (
            level,
            name,
            [
                sum(
                    count.customers
                    for count in report.levels
                    if (count.level, count.level_name) == (level, name) and count.grade == grade
                )
                for grade in grades
            ],
        )
        for level, name in levels
    ]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            report=report,
            charts=charts,
            bucket_colours=bucket_colours(len(report.bucket_labels)),
            current_colour=CURRENT_COLOUR,
            overdue_colour=OVERDUE_COLOUR,
            grades=grades,
            level_grid=level_grid,
            trend_months=TREND_MONTHS,
            top_per_currency=TOP_OVERDUE_PER_CURRENCY,
            rows_per_owner=WORKLIST_ROWS_PER_OWNER,
        )
    )
