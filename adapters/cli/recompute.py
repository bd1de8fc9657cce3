"""``arledger recompute DIR``: the portfolio of a partitioned export recomputed on a Dask cluster.

The command reads no store: only the export (``arledger export DIR --partitions N``), which the
cluster's workers read themselves. Without the distributed extra it ends with a usage error
naming it (``distributed.dask_distributed``); the rest of the CLI never imports Dask.
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from arledger.adapters.cli.app import (
    _reported_errors,
    _stdout,
    app,
    known_at_option,
    parse_iso_date,
)
from arledger.adapters.cli.formats import (
    ageing_json,
    ageing_table,
    kpis_json,
    kpis_table,
    worklist_json,
    worklist_table,
)
from arledger.adapters.data_output import JsonData
from arledger.adapters.read_models import distributed
from arledger.projections import kpis

TOP_DEFAULT = 20


class RecomputeFormat(enum.Enum):
    TABLE = "table"
    JSON = "json"


@app.command("recompute")
def recompute_command(
    directories: Annotated[
        list[str],
        typer.Argument(
            help="The partitioned export (arledger export DIR --partitions N): a folder the "
            "workers share, or a URI such as s3://bucket/dir; several (one per store of "
            "ledgers sharded over stores) are recomputed as one portfolio.",
            show_default=False,
        ),
    ],
    as_of: Annotated[
        date,
        typer.Option(
            "--as-of",
            parser=parse_iso_date,
            metavar="YYYY-MM-DD",
            help="Recompute the portfolio as of the end of this day.",
        ),
    ],
    known_at: Annotated[datetime | None, known_at_option("The portfolio")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (its workers must reach DIR).",
            show_default=False,
        ),
    ] = None,
    local_workers: Annotated[
        int | None,
        typer.Option(
            "--local-workers",
            min=1,
            max=distributed.LOCAL_WORKERS_MAX,
            help="Start a Dask cluster of K worker processes on this machine (default: one "
            "per CPU, when no --scheduler).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option("--top", min=0, help="Worklist customers to show (0: all)."),
    ] = TOP_DEFAULT,
    kpi_months: Annotated[
        int,
        typer.Option(
            "--kpi-months",
            min=1,
            max=kpis.TRAILING_MONTHS_MAX,
            help="The KPIs' period: the trailing months ending on --as-of.",
        ),
    ] = distributed.KPI_MONTHS_DEFAULT,
    output_format: Annotated[
        RecomputeFormat,
        typer.Option("--format", help="Tables for people, or JSON with exact amounts."),
    ] = RecomputeFormat.TABLE,
) -> None:
    """Recompute the portfolio of a partitioned export on a Dask cluster: ageing by currency,
    owner and customer, the worklist, escalation counts and KPIs, each partition on a worker.

    Needs the distributed extra: pip install 'arledger[distributed]'. --known-at cuts by the
    events' stamps (an export keeps no commit instants).
    """
    if scheduler is not None and local_workers is not None:
        typer.echo("error: give --scheduler or --local-workers, not both", err=True)
        raise typer.Exit(2)
    with _reported_errors():
        answer = distributed.recompute(
            directories,
            as_of,
            known_at=known_at,
            kpi_months=kpi_months,
            top=top or None,
            scheduler=scheduler,
            local_workers=local_workers,
        )
    if output_format is RecomputeFormat.JSON:
        data: dict[str, JsonData] = {
            "as_of": as_of.isoformat(),
            "partitions": answer.partitions,
            "ageing_by_currency": ageing_json(answer.ageing_by_currency, known_at=known_at),
            "ageing_by_owner": ageing_json(answer.ageing_by_owner, known_at=known_at),
            "ageing_by_customer": ageing_json(answer.ageing_by_customer, known_at=known_at),
            "worklist_customers": answer.worklist_customers,
            "escalation_counts": {str(level): n for level, n in answer.escalation_counts},
            "worklist": worklist_json(answer.worklist, known_at=known_at),
            "kpis": kpis_json(answer.kpis, known_at=known_at),
            "bytes_to_client": answer.bytes_to_client,
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    console = _stdout()
    console.print(
        f"Recomputed {', '.join(directories)} as of {as_of}: {answer.partitions} partition(s), "
        f"{sum(f.events for f in answer.figures):,} event(s) read on the workers, "
        f"{answer.bytes_to_client:,} byte(s) of answers to the client."
    )
    console.print(ageing_table(answer.ageing_by_currency))
    console.print(ageing_table(answer.ageing_by_owner))
    levels = Table(title="Customers per escalation level", min_width=40)
    levels.add_column("Level", justify="right")
    levels.add_column("Customers", justify="right")
    for level, count in answer.escalation_counts:
        levels.add_row(str(level), f"{count:,}")
    console.print(levels)
    console.print(worklist_table(as_of, None, answer.worklist.items))
    if answer.worklist_customers > len(answer.worklist.items):
        console.print(
            f"... {answer.worklist_customers - len(answer.worklist.items):,} more customer(s) "
            "(--top 0 for all)."
        )
    report = answer.kpis
    console.print(
        kpis_table(
            [report], title=f"KPIs {report.start_on} to {report.end_on} ({report.days} days)"
        )
    )
