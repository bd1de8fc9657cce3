"""``--format xlsx --out FILE.xlsx`` of the query commands (ageing, kpis, worklist, statement):
the format choice and the writing of the file, apart from the commands (``queries``,
``statement``) and from the text formats (``formats``); the workbooks are
``adapters/xlsx_output.py``'s.

Invariant: ``--out`` goes with ``--format xlsx`` and only with it, must end in ``.xlsx`` (a slip
never overwrites the store or another file), and the file is written whole or not at all.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Final

import typer

from arledger.adapters.cli.app import OutputFormat, _stdout, usage_error
from arledger.adapters.cli.report import require_suffix, write_atomically


class SheetFormat(enum.Enum):
    """``OutputFormat`` and a workbook."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


FORMAT_HELP: Final = (
    "A table for people, CSV / JSON with exact decimal amounts, or an Excel workbook "
    "(xlsx, with --out)."
)
OUT_OPTION: Final = typer.Option(
    "--out",
    metavar="FILE.xlsx",
    help="The workbook --format xlsx writes (replaced if it exists).",
    show_default=False,
)


def text_format(
    sheet_format: SheetFormat, out: Path | None, *, reporting_currency: str | None = None
) -> OutputFormat:
    """The text format asked for (JSON for a workbook, which holds the JSON's figures); a
    usage error when --out and --format do not go together."""
    if sheet_format is SheetFormat.XLSX:
        if out is None:
            usage_error("--format xlsx writes a file: give --out FILE.xlsx")
        if reporting_currency is not None:
            usage_error("--reporting-currency gives a table or JSON, not xlsx")
        require_suffix(out, ".xlsx")
        return OutputFormat.JSON
    if out is not None:
        usage_error("--out is for --format xlsx (the other formats print to stdout)")
    return OutputFormat(sheet_format.value)


def write_workbook(out: Path | None, data: bytes, what: str) -> None:
    """Write the workbook and say so in one line."""
    assert out is not None
    write_atomically(out, data)
    _stdout().print(
        f"Wrote {what} to {out} ({len(data) // 1024:,} KB).", markup=False, soft_wrap=True
    )
