"""``Ledger.report`` and its HTML on a generated ledger in a SQLite store, against the queries
it is made of, measured in the same run.

Medium profile (CI): 10,000 invoices (1,000 customers). Timed warm (the columnar log loaded),
medians of ``ROUNDS``: the report's figures (``Ledger.report``) against the four queries it
asks (ageing by currency and by customer, ``kpis_monthly`` over twelve months, the worklist),
asked one after the other; and the HTML (charts and template) apart. Budgets, as ratios and
sizes, never absolute times: gathering the figures costs at most ``FIGURES_X_QUERIES_MAX``
times the queries alone (it adds only sorting and counting), and the file stays under
``HTML_BYTES_MAX`` whatever the ledger's size (the tables are bounded: ten customers per
currency, fifteen worklist lines per owner).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.report.model import trend_months
from arledger.projections.ageing import AgeingGrouping
from benchmarks.conftest import generated_store
from benchmarks.figures import report_figures
from benchmarks.timing import median_s

SEED: Final = 20_261_207
INVOICES: Final = 10_000
AS_OF: Final = date(2025, 6, 30)
ROUNDS: Final = 5
FIGURES_X_QUERIES_MAX: Final = 1.5
HTML_BYTES_MAX: Final = 1_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield generated_store(
        tmp_path_factory.mktemp("report") / f"generated-{INVOICES}.db", INVOICES, SEED
    )


@pytest.mark.medium
def test_report_against_the_queries_it_is_made_of(benchmark: Any, store: dict[str, str]) -> None:
    ledger = Ledger(env=store)
    try:
        report = ledger.report(AS_OF)  # warm: columnar log loaded, kernels compiled
        at = report.as_of_log.position if report.as_of_log is not None else None

        def queries() -> None:
            ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY, at_position=at)
            ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER, at_position=at)
            ledger.kpis_monthly(*trend_months(AS_OF), at_position=at)
            ledger.worklist(AS_OF, at_position=at)

        queries_s = median_s(queries, ROUNDS)
        figures_s = median_s(lambda: ledger.report(AS_OF), ROUNDS)
        html = report.html()
        html_s = median_s(report.html, rounds=3)
        benchmark.pedantic(lambda: ledger.report(AS_OF), rounds=ROUNDS, iterations=1)
    finally:
        ledger.close()
    ratio = figures_s / queries_s
    size = len(html.encode("utf-8"))
    figures = {
        "queries_ms": round(queries_s * 1000, 1),
        "report_figures_ms": round(figures_s * 1000, 1),
        "figures_x_queries": round(ratio, 2),
        "html_ms": round(html_s * 1000, 1),
        "html_bytes": size,
    }
    benchmark.extra_info.update(figures)
    report_figures(f"report, {INVOICES:,} invoices", figures)
    assert ratio <= FIGURES_X_QUERIES_MAX, figures
    assert size <= HTML_BYTES_MAX, figures
