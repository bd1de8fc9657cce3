"""``arledger audit-pack`` and ``arledger audit-check``: an audit pack written from the store,
and checked offline from its folder alone (``adapters/audit/pack.py``).

Registered on the ``app`` of ``adapters/cli/app.py``, kept in a module of its own. Invariant:
``audit-check`` opens no store (it reads the folder only), and either command ends with one
line per finding and exit code 1 when anything is wrong, never a traceback.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from arledger.adapters.audit.pack import check_audit_pack
from arledger.adapters.cli.app import (
    EXIT_REFUSED,
    _ledger,
    _printable,
    _reported_errors,
    _stdout,
    _utf8_directory,
    app,
    known_at_option,
    parse_iso_date,
)


@app.command("audit-pack")
def audit_pack_command(
    directory: Annotated[
        Path,
        typer.Argument(help="New or empty folder for the pack.", show_default=False),
    ],
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="The figures as of the end of this day.",
        ),
    ],
    known_at: Annotated[datetime | None, known_at_option("The figures")] = None,
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="With an encrypted store (CIPHER_TOPIC, CIPHER_KEY), write the pack anyway: "
            "its files are plaintext (refused without it).",
        ),
    ] = False,
) -> None:
    """Write an audit pack: the figures as of a date with the log they come from.

    Verifies the store, exports the log to Parquet up to the chain head, and writes the ageing,
    worklist, KPIs (the 3 months to --as-of) and statements computed from that export, the
    policies in force and the verify result, with a manifest of SHA-256 hashes.
    `arledger audit-check DIR` re-runs every figure from the folder alone. Exit 1 when verify
    found anything (the pack is written and records it).
    """
    _utf8_directory(directory)
    with _reported_errors():
        ledger = _ledger()
        pack = ledger.audit_pack(directory, as_of=as_of, known_at=known_at, plaintext=plaintext)
    out = _stdout()
    for finding in pack.verify.findings:
        out.print(_printable(f"verify: {finding}"), markup=False, soft_wrap=True)
    out.print(
        f"Wrote the audit pack {directory}: {pack.events} event(s) to position "
        f"{pack.log_position}, figures as of {pack.as_of} (KPIs and statements from "
        f"{pack.period_from_on}), {pack.statements} statement(s), {pack.files} file(s) hashed.",
        markup=False,
        soft_wrap=True,
    )
    if pack.head_link:
        out.print(f"chain head: position {pack.log_position} link {pack.head_link}", soft_wrap=True)
    out.print(f"manifest SHA-256: {pack.manifest_sha256}")
    if not pack.verify.ok:
        out.print(
            f"verify found {len(pack.verify.findings) + pack.verify.findings_omitted} "
            "finding(s): the pack records them (verify.json)"
        )
        raise typer.Exit(EXIT_REFUSED)


@app.command("audit-check")
def audit_check_command(
    directory: Annotated[
        Path, typer.Argument(help="The folder of an audit pack.", show_default=False)
    ],
) -> None:
    """Check an audit pack offline, from its folder alone (no store).

    Every file against the manifest's SHA-256, and every figure recomputed from the pack's
    Parquet export; one line per mismatch, exit 1 on any.
    """
    _utf8_directory(directory)
    with _reported_errors():
        report = check_audit_pack(directory)
    out = _stdout()
    for mismatch in report.mismatches:
        out.print(_printable(str(mismatch)), markup=False, soft_wrap=True)
    out.print(
        f"{directory}: {report.files_checked} file(s) hashed, {report.figures_checked} figure "
        f"file(s) recomputed from {report.events} event(s) of the export: "
        + ("ok" if report.ok else f"{len(report.mismatches)} mismatch(es)"),
        markup=False,
        soft_wrap=True,
    )
    if report.head_link:
        out.print(
            f"chain head: position {report.log_position} link {report.head_link}", soft_wrap=True
        )
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)
