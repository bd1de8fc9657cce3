"""``arledger report``: the portfolio report as one self-contained HTML file
(``Ledger.report``, ``adapters/report``).

Registered on the ``app`` of ``adapters/cli/app.py`` (imported by the package), kept in a
module of its own. Invariant: the file is written whole or not at all (a temporary file beside
it, renamed over it), only to a path ending in ``.html`` (so that a slip of the argument never
overwrites the store or another file), and an error is one line on stderr with exit code 1 or
2, never a traceback.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from arledger.adapters.cli.app import (
    _query_ledger,
    _reported_errors,
    _stdout,
    app,
    at_position_option,
    known_at_option,
    parse_iso_date,
    usage_error,
)
from arledger.adapters.report import browser
from arledger.adapters.report.browser import SCREENSHOT_HEIGHT, SCREENSHOT_WIDTH


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over
    it: a reader never sees half a file, and a failure leaves any earlier file as it was."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def require_suffix(path: Path, suffix: str) -> None:
    """A usage error unless ``path`` ends in ``suffix`` (``.html``, ``.xlsx``)."""
    if path.suffix.lower() != suffix:
        usage_error(f"--out {str(path)!r} must end in {suffix}: nothing was written")


@app.command("report")
def report_command(
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The report as of the end of this day.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="FILE.html",
            help="The HTML file to write (replaced if it exists).",
            show_default=False,
        ),
    ],
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="Only this collection owner's ageing, KPIs and worklist.",
            show_default=False,
        ),
    ] = None,
    known_at: Annotated[datetime | None, known_at_option("The report")] = None,
    at_position: Annotated[int | None, at_position_option("The report")] = None,
    screenshot: Annotated[
        Path | None,
        typer.Option(
            "--screenshot",
            metavar="FILE.png",
            help="Also open the file in headless Chromium (Debian's chromium package) and save "
            f"a {SCREENSHOT_WIDTH}x{SCREENSHOT_HEIGHT} screenshot of its top, as the README's.",
            show_default=False,
        ),
    ] = None,
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="With an encrypted store (CIPHER_TOPIC, CIPHER_KEY), write the report anyway: "
            "it holds the ledger's figures in plaintext (refused without it).",
        ),
    ] = False,
) -> None:
    """Write the portfolio report: one HTML file that opens in any browser without a network.

    Ageing by bucket per currency (stacked bars), open money, DSO, CEI and collection rate by
    month over the last twelve whole months, customers per escalation level and grade, the
    customers with the most overdue money and the worklist per owner; charts are drawn in the
    file (SVG), nothing is fetched when it is opened.
    """
    require_suffix(out, ".html")
    if screenshot is not None:
        require_suffix(screenshot, ".png")
    with _reported_errors():
        ledger = _query_ledger()
        ledger.check_plaintext_output(out, output="report", plaintext=plaintext)
        report = ledger.report(as_of, owner=owner, known_at=known_at, at_position=at_position)
        data = report.html().encode("utf-8")
        write_atomically(out, data)
        if screenshot is not None:
            page = browser.render(out, screenshot)
            if page.console:
                raise browser.BrowserError(
                    f"the browser reported a problem with {out}: {page.console[0]}"
                )
    where = "" if report.as_of_log is None else f" at log position {report.as_of_log.position}"
    customers = sum(len(worklist.items) for worklist in report.worklists)
    _stdout().print(
        f"Wrote the report as of {as_of}{f' for owner {owner}' if owner else ''} to {out} "
        f"({len(data) // 1024:,} KB){where}: {len(report.ageing_by_currency)} currencies, "
        f"{len(report.months)} months, {customers} customers on the worklist.",
        markup=False,
        soft_wrap=True,
    )
    if screenshot is not None:
        _stdout().print(f"Screenshot of its top in Chromium: {screenshot}", markup=False)
