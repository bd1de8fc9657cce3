"""The report's charts as inline SVG, drawn by matplotlib's SVG backend.

Invariant: a chart is a pure function of the report's figures: the same figures give the same
SVG, byte for byte (a fixed hash salt per chart, no date in the metadata), with its text drawn
as paths (no font is fetched or needed when the file is opened) and no URL in it. Every mark
that stands for a figure (a bar segment, a line) carries an id ``<chart>-mark-...`` so that a
browser's DOM shows which were drawn.

Coordinates are minor units (amounts) or the KPIs' decimals converted for drawing only; every
figure a reader reads as text comes from the integers (``money_text``), never from a float.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from arledger.adapters.report.model import PortfolioReport
from arledger.domain.money import currency_exponent
from arledger.domain.policy import Grade
from arledger.projections.kpis import KpiRow

CHARTS: Final = ("ageing", "open", "dso", "cei", "collection", "levels")
"""Every chart of the report, in page order (the ids of their ``<figure>`` elements)."""

GRADE_WORDS: Final = {
    Grade.FINANCE_FOLLOW_UP: "finance follow-up",
    Grade.FOCUSED_PURSUIT: "focused pursuit",
    Grade.SETTLE: "settle",
    Grade.LEGAL_COLLECTION: "legal collection",
    None: "no grade",
}
GRADE_COLOURS: Final = {
    Grade.FINANCE_FOLLOW_UP: "#74add1",
    Grade.FOCUSED_PURSUIT: "#fdae61",
    Grade.SETTLE: "#a6a6a6",
    Grade.LEGAL_COLLECTION: "#b2182b",
    None: "#d9d9d9",
}
CURRENT_COLOUR: Final = "#4d9221"
OVERDUE_COLOUR: Final = "#d6604d"
_LINE_COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_STYLE: Final[dict[str, Any]] = {
    "svg.fonttype": "path",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
_PROLOG: Final = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_METADATA: Final = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_NAMESPACES: Final = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')


def bucket_colours(count: int) -> list[str]:
    """Green for current through red for the oldest bucket, ``count`` colours."""
    cmap = matplotlib.colormaps["RdYlGn_r"]
    if count == 1:
        return [CURRENT_COLOUR]
    return [
        matplotlib.colors.to_hex(cmap(0.1 + 0.85 * index / (count - 1))) for index in range(count)
    ]


def grade_key(grade: Grade | None) -> str:
    return "none" if grade is None else grade.value


def currency_colour(currencies: Sequence[str], currency: str) -> str:
    return _LINE_COLOURS[currencies.index(currency) % len(_LINE_COLOURS)]


def compact_money(minor: float, currency: str) -> str:
    """An axis tick in major units, shortened (12.5M, 300K): the tables give exact figures."""
    major = Decimal(int(minor)).scaleb(-currency_exponent(currency))
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
        if abs(major) >= size:
            return f"{(major / size).quantize(Decimal('0.1')).normalize():f}{suffix}"
    return f"{major.quantize(Decimal(1)):f}"


def all_charts(report: PortfolioReport) -> dict[str, str]:
    """Each chart's SVG by name (``CHARTS``); a chart with nothing to draw says so in it."""
    return {
        "ageing": ageing_chart(report),
        "open": open_chart(report),
        "dso": ratio_chart(
            report, "dso", "DSO (days)", lambda row: row.dso_days, clip_outliers=True
        ),
        "cei": ratio_chart(report, "cei", "CEI (%)", lambda row: row.cei_total_sales),
        "collection": ratio_chart(
            report, "collection", "Collection rate (%)", lambda row: row.collection_rate
        ),
        "levels": levels_chart(report),
    }


def _rc(name: str) -> Any:  # matplotlib types rc_context's keys as a Literal of every name
    return {**_STYLE, "svg.hashsalt": f"arledger-{name}"}


@contextmanager
def _figure(name: str, width: float, height: float) -> Iterator[Figure]:
    with matplotlib.rc_context(_rc(name)):
        yield Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Figure, name: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(_rc(name)):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _PROLOG.sub("", buffer.getvalue(), count=1)
    text = _METADATA.sub("", text, count=1)
    # Inline SVG in HTML needs no namespace declarations (the parser knows svg and xlink:href),
    # and without them the file holds no URL at all.
    text = _NAMESPACES.sub("", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{name} chart" ', 1)


def _empty(figure: Figure, message: str) -> None:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", color="#666666")


def ageing_chart(report: PortfolioReport) -> str:
    """One horizontal bar per currency, stacked by ageing bucket, in that currency's units."""
    rows = [row for row in report.ageing_by_currency if row.open_minor > 0]
    colours = bucket_colours(len(report.bucket_labels))
    with _figure("ageing", 11.0, 0.8 + 0.55 * max(len(rows), 1)) as figure:
        if not rows:
            _empty(figure, "Nothing is open on this date.")
        else:
            axes_all = figure.subplots(len(rows), 1, squeeze=False)[:, 0]
            for axes, row in zip(axes_all, rows, strict=True):
                left = 0
                for index, amount in enumerate(row.buckets_minor):
                    if amount <= 0:
                        continue
                    (bar,) = axes.barh(
                        [0],
                        [amount],
                        left=left,
                        color=colours[index],
                        height=0.7,
                        label=report.bucket_labels[index],
                    )
                    bar.set_gid(f"ageing-mark-{row.currency}-{index}")
                    left += amount
                axes.set_yticks([0], [row.currency])
                axes.set_xlim(0, row.open_minor * 1.02)
                currency = row.currency
                axes.xaxis.set_major_formatter(
                    FuncFormatter(lambda value, _pos, c=currency: compact_money(value, c))
                )
                axes.spines["left"].set_visible(False)
            handles = [
                matplotlib.patches.Patch(color=colour, label=label)
                for colour, label in zip(colours, report.bucket_labels, strict=True)
            ]
            figure.legend(
                handles=handles,
                loc="outside upper center",
                ncols=len(handles),
                frameon=False,
                title="days past due",
                fontsize=8,
            )
        return _svg(figure, "ageing")


def open_chart(report: PortfolioReport) -> str:
    """Open money at each month end, current and overdue stacked, one panel per currency."""
    currencies = report.currencies
    months = [f"{month.end_on:%b %y}" for month in report.months]
    with _figure("open", 11.0, 0.4 + 1.25 * max(len(currencies), 1)) as figure:
        if not currencies:
            _empty(figure, "No receivables in these months.")
            return _svg(figure, "open")
        axes_all = figure.subplots(len(currencies), 1, squeeze=False, sharex=True)[:, 0]
        for axes, currency in zip(axes_all, currencies, strict=True):
            current = []
            overdue = []
            for _month, row in report.trend(currency):
                current.append(0 if row is None else row.receivables_minor_current)
                overdue.append(0 if row is None else row.receivables_minor_overdue)
            positions = list(range(len(months)))
            lower = axes.bar(positions, current, color=CURRENT_COLOUR, label="current")
            upper = axes.bar(
                positions, overdue, bottom=current, color=OVERDUE_COLOUR, label="overdue"
            )
            for index, (low, high) in enumerate(zip(lower, upper, strict=True)):
                low.set_gid(f"open-mark-{currency}-{index}-current")
                high.set_gid(f"open-mark-{currency}-{index}-overdue")
            axes.set_ylabel(currency)
            axes.yaxis.set_major_formatter(
                FuncFormatter(lambda value, _pos, c=currency: compact_money(value, c))
            )
            axes.set_xticks(positions, months, fontsize=8)
        axes_all[0].legend(loc="upper left", frameon=False, ncols=2, fontsize=8)
        return _svg(figure, "open")


def ratio_chart(
    report: PortfolioReport,
    name: str,
    title: str,
    figure_of: Callable[[KpiRow], Decimal | None],
    *,
    clip_outliers: bool = False,
) -> str:
    """A KPI by month, one line per currency; a month without the figure is a gap. With
    ``clip_outliers`` (days, not percentages), a month far above the others (DSO in a month of
    almost no sales) is drawn at the top edge with its figure written above it, so that it
    does not flatten every other month."""
    currencies = report.currencies
    months = [f"{month.end_on:%b %y}" for month in report.months]
    given = [
        value
        for currency in currencies
        for _month, row in report.trend(currency)
        if row is not None and (value := figure_of(row)) is not None
    ]
    ceiling = _ceiling(given) if clip_outliers else None
    with _figure(name, 3.6, 2.6) as figure:
        axes = figure.add_subplot()
        axes.set_title(title)
        drawn = False
        for currency in currencies:
            figures = [
                None if row is None else figure_of(row) for _month, row in report.trend(currency)
            ]
            if ceiling is not None:
                for index, value in enumerate(figures):
                    if value is not None and value > ceiling:
                        axes.annotate(
                            f"{value:,.0f}",
                            (index, float(ceiling)),
                            fontsize=6,
                            ha="center",
                            va="bottom",
                            color=currency_colour(currencies, currency),
                        )
            values = [
                _drawn(None if value is None else min(value, ceiling or value)) for value in figures
            ]
            if all(value != value for value in values):  # all NaN: nothing to draw
                continue
            (line,) = axes.plot(
                range(len(months)),
                values,
                marker="o",
                markersize=3,
                color=currency_colour(currencies, currency),
                label=currency,
            )
            line.set_gid(f"{name}-mark-{currency}")
            drawn = True
        axes.set_xticks(range(len(months)), [m if i % 3 == 0 else "" for i, m in enumerate(months)])
        axes.tick_params(axis="x", labelsize=7)
        if ceiling is not None:
            axes.set_ylim(top=float(ceiling) * 1.15)
        if drawn:
            axes.legend(frameon=False, fontsize=7)
        else:
            axes.text(0.5, 0.5, "no figure in these months", ha="center", transform=axes.transAxes)
        return _svg(figure, name)


OUTLIER_X_MEDIAN: Final = 4
"""A KPI above this many times the median of the chart's figures is drawn at that height."""


def _ceiling(figures: Sequence[Decimal]) -> Decimal | None:
    """The height above which a figure is an outlier, or None when none is."""
    positive = [value for value in figures if value > 0]
    if not positive:
        return None
    ceiling = statistics.median(positive) * OUTLIER_X_MEDIAN
    return ceiling if max(positive) > ceiling else None


def _drawn(value: Decimal | None) -> float:
    """A KPI as a coordinate; NaN leaves a gap where the figure has no denominator."""
    return float("nan") if value is None else float(value)


def levels_chart(report: PortfolioReport) -> str:
    """Customers per escalation level, stacked by grade."""
    levels = sorted({(count.level, count.level_name) for count in report.levels})
    with _figure("levels", 5.5, 2.8) as figure:
        if not levels:
            _empty(figure, "No customer needs collection action on this date.")
            return _svg(figure, "levels")
        axes = figure.add_subplot()
        positions = list(range(len(levels)))
        bottoms = [0] * len(levels)
        for grade, colour in GRADE_COLOURS.items():
            heights = [
                sum(
                    count.customers
                    for count in report.levels
                    if (count.level, count.level_name) == level and count.grade == grade
                )
                for level in levels
            ]
            if not any(heights):
                continue
            bars = axes.bar(
                positions, heights, bottom=bottoms, color=colour, label=GRADE_WORDS[grade]
            )
            for index, (bar, height) in enumerate(zip(bars, heights, strict=True)):
                if height:
                    bar.set_gid(f"levels-mark-{levels[index][0]}-{grade_key(grade)}")
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        axes.set_xticks(positions, [f"{level} {name}" for level, name in levels], fontsize=8)
        axes.set_ylabel("customers")
        axes.legend(frameon=False, fontsize=8, title="grade", title_fontsize=8)
        return _svg(figure, "levels")
