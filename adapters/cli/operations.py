"""The operating commands: ``arledger generate``, ``export``, ``projections status|catch-up|
rebuild``, ``verify``, ``chain build`` and ``warm-up``; they register on ``app.app``."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Final

import typer
from eventsourcing.persistence import (
    IntegrityError,
)

from arledger.adapters.cli.app import (
    EXIT_REFUSED,
    EXIT_USAGE,
    _ledger,
    _printable,
    _reported_errors,
    _stderr,
    _stdout,
    _utf8_directory,
    app,
)
from arledger.adapters.cli.formats import Column, FittedTable, Kind
from arledger.adapters.persistence.bulk import Progress, progress_bar
from arledger.adapters.read_models import columnar, partitions
from arledger.adapters.synthetic import generate
from arledger.domain.events import Event

# generate -------------------------------------------------------------------------------------


class GenerateOut(enum.Enum):
    STORE = "store"
    PARQUET = "parquet"


@app.command("generate")
def generate_command(
    invoices: Annotated[
        int,
        typer.Option(
            min=generate.INVOICES_MIN, max=generate.INVOICES_MAX, help="Invoices to generate."
        ),
    ],
    seed: Annotated[
        int, typer.Option(min=0, max=generate.SEED_MAX, help="Same seed, same ledger.")
    ] = 0,
    out: Annotated[
        GenerateOut, typer.Option(help="Record in the store, or write Parquet to --directory.")
    ] = GenerateOut.STORE,
    directory: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the Parquet files (new, empty or an earlier export, which is "
            "replaced once the new one is complete); --out parquet."
        ),
    ] = None,
    partitions_count: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            max=partitions.PARTITIONS_MAX,
            help="With --out parquet: write N partitions by a stable hash of the customer, as "
            "arledger export --partitions N does.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Generate a synthetic ledger with behaviour profiles, deterministic per seed.

    Customers pay promptly, late, chronically late or in part, break promises, dispute, bounce
    payments or default and are written off; invoices in CNY, USD and EUR, some in instalments.
    """
    if out is GenerateOut.PARQUET and directory is None:
        typer.echo("error: --out parquet needs --directory", err=True)
        raise typer.Exit(EXIT_USAGE)
    if out is GenerateOut.STORE and directory is not None:
        typer.echo("error: --directory is for --out parquet", err=True)
        raise typer.Exit(EXIT_USAGE)
    if partitions_count is not None and directory is None:
        typer.echo("error: --partitions is for --out parquet --directory DIR", err=True)
        raise typer.Exit(EXIT_USAGE)
    if directory is not None:
        _utf8_directory(directory)
    if partitions_count is not None and directory is not None:
        with _reported_errors():
            written = generate.generate_partitioned(
                invoices, seed, directory, partitions=partitions_count
            )
        counts = ", ".join(f"{count:,}" for count in written.events)
        _stdout().print(
            f"Generated {invoices} invoice(s) (seed {seed}) as {partitions_count} partition(s) "
            f"by customer in {directory}: {counts} event(s) (the shared books are in each)."
        )
        return
    with (
        _reported_errors(),
        progress_bar(_stderr(), "Generating", unit="invoices", total=invoices) as progress,
    ):
        if directory is not None:
            rows = generate.generate_parquet(invoices, seed, directory, progress=progress)
            events = sum(count for name, count in rows.items() if name != "ids")
            where = str(directory)
        else:
            ledger = _ledger()
            try:
                events = generate.generate_to_store(ledger, invoices, seed, progress=progress)
            except IntegrityError:
                typer.echo(
                    f"error: {ledger.store_description} already holds ledger keys of seed {seed} "
                    f"(G{seed}-...): an earlier run recorded them, in full or, if it was "
                    "interrupted, in part (whole transactions); nothing more was recorded: "
                    "use another seed or a new store",
                    err=True,
                )
                raise typer.Exit(EXIT_REFUSED) from None
            where = ledger.store_description
    _stdout().print(f"Generated {invoices} invoice(s) (seed {seed}): {events} event(s) in {where}.")


# export ---------------------------------------------------------------------------------------

EXPORT_PROGRESS_EVERY: Final = 10_000


def _counted(events: Iterable[Event], total: int, progress: Progress | None) -> Iterator[Event]:
    done = 0
    for event in events:
        yield event
        done += 1
        if progress is not None and done % EXPORT_PROGRESS_EVERY == 0:
            progress(done, total)
    if progress is not None:
        progress(done, total)


@app.command("export")
def export_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder for the Parquet files (new, empty or an earlier export, which is "
            "replaced once the new one is complete)."
        ),
    ],
    page_rows: Annotated[
        int, typer.Option(min=1, help="Rows per page (Parquet row group) and event class.")
    ] = columnar.PAGE_ROWS_DEFAULT,
    plaintext: Annotated[
        bool,
        typer.Option(
            "--plaintext",
            help="With an encrypted store (CIPHER_TOPIC, CIPHER_KEY), write the export anyway: "
            "Parquet files are plaintext (refused without it).",
        ),
    ] = False,
    partitions_count: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            max=partitions.PARTITIONS_MAX,
            help="Write N partitions by a stable hash of the customer (DIR/part-I-of-N/, each "
            "a complete columnar log of its customers and the shared books).",
        ),
    ] = None,
) -> None:
    """Export the event log to Parquet in the columnar layout the fast path reads."""
    _utf8_directory(directory)
    with _reported_errors():
        # A folder it may not replace: refused before any work.
        if partitions_count is None:
            columnar.export_target(directory)
        else:
            partitions.partitioned_target(directory)
        ledger = _ledger()
        ledger.check_plaintext_output(directory, output="export", plaintext=plaintext)
        head = ledger.recorder.max_notification_id() or 0
        with progress_bar(_stderr(), f"Exporting to {directory}", total=head) as progress:
            events_read = _counted(ledger.iter_events(), head, progress)
            if partitions_count is not None:
                written = partitions.write_partitioned(
                    events_read, directory, partitions=partitions_count, page_rows=page_rows
                )
            else:
                rows = columnar.write_parquet(events_read, directory, page_rows=page_rows)
    if partitions_count is not None:
        counts = ", ".join(f"{count:,}" for count in written.events)
        _stdout().print(
            f"Exported {partitions_count} partition(s) by customer from "
            f"{ledger.store_description} to {directory}: {counts} event(s) (the shared books "
            "are in each)."
        )
        return
    events = sum(count for name, count in rows.items() if name != "ids")
    _stdout().print(
        f"Exported {events} event(s) in {len(rows) - 1} table(s) and {rows['ids']} id(s) "
        f"from {ledger.store_description} to {directory}."
    )


projections_app = typer.Typer(
    help="The read models stored beside the event log (SQLite and PostgreSQL stores).",
    no_args_is_help=True,
)
app.add_typer(projections_app, name="projections")


@projections_app.command("status")
def projections_status() -> None:
    """How far the stored read models are behind the event log."""
    with _reported_errors():
        ledger = _ledger()
        status = ledger.projection_runner().status()
        engine = ledger.query_engine().status()
    _stdout().print(
        f"{ledger.store_description}: read models at event {status.position} of "
        f"{status.head}; lag {status.lag} event(s)"
    )
    _stdout().print(
        f"Columnar log: {engine['persisted']:,} event(s) in stored segments "
        f"(this process caught up to {engine['events']:,})"
    )


@projections_app.command("catch-up")
def projections_catch_up() -> None:
    """Fold the events recorded since the last run into the stored read models."""
    with _reported_errors():
        ledger = _ledger()
        runner = ledger.projection_runner()
        with progress_bar(_stderr(), "Catching up") as progress:
            count = runner.catch_up(progress)
        status = runner.status()
        engine = ledger.query_engine()
        engine.persist()
    _stdout().print(f"Folded {count} event(s); read models at event {status.position}.")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Clear the stored read models and fold the whole event log again, in batches."""
    with _reported_errors():
        ledger = _ledger()
        runner = ledger.projection_runner()
        with progress_bar(_stderr(), "Rebuilding") as progress:
            count = runner.rebuild(progress)
        ledger.query_engine().rebuild()
        ledger.query_engine().persist()
    _stdout().print(f"Rebuilt the read models from {count} event(s).")


# audits ---------------------------------------------------------------------------------------


@app.command("verify")
def verify_command(
    from_position: Annotated[
        int | None,
        typer.Option(
            "--from",
            min=1,
            help="Resume the chain and decoding checks at this position (a full pass, without "
            "it, also replays every aggregate and compares the read models).",
        ),
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="A chain link printed by an earlier verify: it must still be in the chain.",
        ),
    ] = None,
) -> None:
    """Check the event log's hash chain, decode and replay it, and compare the stored read
    models with a fresh fold; one line per finding, exit 1 on any."""
    with _reported_errors():
        ledger = _ledger()
        report = ledger.verify(from_position, expect_head)
    out = _stdout()
    for finding in report.findings:
        out.print(_printable(str(finding)), markup=False, soft_wrap=True)
    if report.findings_omitted:
        out.print(f"... and {report.findings_omitted} more finding(s)")
    what = "checked" if not report.replayed else "checked, replayed, read models compared"
    out.print(
        f"{ledger.store_description}: {report.events_checked} event(s) from position "
        f"{report.from_position} {what}: "
        + ("ok" if report.ok else f"{len(report.findings) + report.findings_omitted} finding(s)")
    )
    if report.head_link:
        out.print(
            f"chain head: position {report.head_position} link {report.head_link}", soft_wrap=True
        )
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


chain_app = typer.Typer(
    help="The hash chain over the event log (written with the events; see `arledger verify`).",
    no_args_is_help=True,
)
app.add_typer(chain_app, name="chain")


@chain_app.command("build")
def chain_build() -> None:
    """Build, once, the hash chain of a store written before chains existed (refused when it
    has one). Writers wait meanwhile; commit instants are not known for these events."""
    with _reported_errors():
        ledger = _ledger()
        count = ledger.build_chain()
        report = ledger.verify()
    _stdout().print(f"Built the hash chain over {count} event(s) of {ledger.store_description}.")
    if report.head_link:
        _stdout().print(
            f"chain head: position {report.head_position} link {report.head_link}", soft_wrap=True
        )


# warm-up --------------------------------------------------------------------------------------


@app.command("warm-up")
def warm_up_command(
    kernels: Annotated[
        bool, typer.Option("--kernels", help="List each kernel and its compiled variants.")
    ] = False,
) -> None:
    """Compile the query engine's Numba kernels into the on-disk cache, and arledger's modules
    where their bytecode is missing (run after installing or upgrading, so no query waits for
    compilation). Touches no store."""
    from arledger.adapters.read_models import warm_up

    with _reported_errors(), _stderr().status("Compiling the query engine's kernels"):
        report = warm_up.warm_up()
    if kernels:
        table = FittedTable(
            Column("kernel", Kind.CODE, key=True),
            Column("variants", Kind.NUMBER),
            Column("compiled", Kind.NUMBER),
            Column("from cache", Kind.NUMBER),
        )
        for kernel in report.kernels:
            table.add_row(
                kernel.name, str(kernel.signatures), str(kernel.compiled), str(kernel.loaded)
            )
        _stdout().print(table)
    _stdout().print(
        f"Warm: {report.signatures} kernel variant(s), {report.compiled} compiled and "
        f"{report.loaded} loaded from the cache, in {report.seconds:.1f} s; "
        f"cache: {report.cache_dir}; {report.modules_compiled} module(s) byte-compiled"
    )
