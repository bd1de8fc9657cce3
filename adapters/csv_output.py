"""CSV for spreadsheets: every CSV arledger writes goes through ``writer`` here.

Text from the ledger (a customer name, an owner, a key, a cell of an imported file) may begin
like a formula: ``=HYPERLINK("http://...","click")`` recorded as a customer name becomes a live
link, or worse, when an ageing report or a rejects file is opened in a spreadsheet (CSV or
formula injection). The rule is OWASP's: a cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return is written with an apostrophe before it, which spreadsheets take as
"this is text". Two refinements:

- A cell that is a plain number (``-12.00``, ``+3``, ``-1.5E+3``) is left as it is: a
  spreadsheet reads it as that number and there is nothing to evaluate, while an apostrophe
  would turn every negative amount into text.
- A cell that begins with apostrophes followed by one of those characters gets one more
  apostrophe, so that ``restore`` gives back exactly what was neutralised (the importer reads
  a corrected rejects file back with ``restore``).

``raw=True`` writes the cells as they are, for programs that read the CSV themselves.

Invariant: ``restore(neutralise(text)) == text`` for every text; a neutralised cell begins
with one of the formula characters only when it is a plain number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Final, TextIO

FORMULA_STARTS: Final = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP, CSV injection)."""

NEUTRALISER: Final = "'"

_PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _evaluable(text: str) -> bool:
    """Whether ``text``, once its leading apostrophes are taken off, would be evaluated."""
    bare = text.lstrip(NEUTRALISER)
    return bool(bare) and bare[0] in FORMULA_STARTS and _PLAIN_NUMBER.fullmatch(bare) is None


def neutralise(cell: object) -> str:
    """The cell as text a spreadsheet shows rather than evaluates (``None`` is empty)."""
    text = "" if cell is None else str(cell)
    return NEUTRALISER + text if _evaluable(text) else text


def restore(cell: str) -> str:
    """The text ``neutralise`` was given for ``cell``: one neutralising apostrophe less."""
    if cell.startswith(NEUTRALISER) and _evaluable(cell):
        return cell[len(NEUTRALISER) :]
    return cell


_RECORD_END: Final = "\r\n"


class SpreadsheetWriter:
    """A ``csv.writer`` whose rows are neutralised cell by cell (unless raw).

    ``csv.writer`` quotes a cell for the characters of its own line terminator only: with
    ``"\n"`` a carriage return in a name is written bare and splits the row when read. Each
    row is therefore formatted as if records ended in CR LF (so both are quoted), and its end
    is then written as ``lineterminator``.
    """

    def __init__(self, file: TextIO, *, raw: bool, lineterminator: str) -> None:
        self._file = file
        self._line = io.StringIO(newline="")
        self._writer = csv.writer(self._line, lineterminator=_RECORD_END)
        self.raw = raw
        self.lineterminator = lineterminator

    def writerow(self, cells: Iterable[object]) -> None:
        self._line.seek(0)
        self._line.truncate()
        self._writer.writerow(cells if self.raw else [neutralise(cell) for cell in cells])
        record = self._line.getvalue()
        assert record.endswith(_RECORD_END)
        self._file.write(record[: -len(_RECORD_END)] + self.lineterminator)


def writer(file: TextIO, *, raw: bool = False, lineterminator: str = "\r\n") -> SpreadsheetWriter:
    """The CSV writer of every arledger output: cells neutralised unless ``raw``."""
    return SpreadsheetWriter(file, raw=raw, lineterminator=lineterminator)
