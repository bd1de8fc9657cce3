"""``arledger backtest``: a candidate escalation policy replayed over past period ends beside
the policy in force (``Ledger.backtest``).

Registered on the ``app`` of ``adapters/cli/app.py``, kept in a module of its own. Invariant:
a back-test records nothing; a policy file that is not an ``EscalationPolicy`` in JSON is one
line on stderr and exit code 2, never a traceback; the table, CSV and JSON carry the same
figures, amounts as exact decimal strings.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final

import cattrs
import typer

from arledger.adapters import csv_output
from arledger.adapters.cli.app import (
    _CSV_RAW_OPTION,
    OutputFormat,
    _check_csv_raw,
    _ledger,
    _printable,
    _reported_errors,
    _stdout,
    app,
    known_at_option,
)
from arledger.adapters.cli.formats import Column, FittedTable, Kind, money_cell
from arledger.adapters.persistence.serialization import make_converter
from arledger.adapters.read_models import distributed
from arledger.domain.errors import ConfigurationError
from arledger.domain.money import Money, format_minor
from arledger.domain.policy import EscalationPolicy
from arledger.projections.backtest import (
    BACKTEST_MIN_LEVEL,
    Backtest,
    BacktestRow,
    BacktestStep,
)

_CONVERTER: Final = make_converter()
BACKTEST_COLUMNS: Final = (
    "kind",
    "period_end",
    "policy",
    "policy_version",
    "customers_by_level",
    "on_supply_hold",
    "at_legal_level",
    "promises_broken",
    "escalated",
    "written_off_caught",
    "collected_after",
    "customer_code",
    "actual_level",
    "candidate_level",
)
DIFFERENCES_SHOWN: Final = 50
"""Differences the table lists (CSV and JSON list them all)."""


def read_policy(path: Path) -> EscalationPolicy:
    """The escalation policy in a JSON file (the form ``EscalationPolicyAdopted`` stores:
    enums by value, every field optional but none unknown).

    Raises:
        ConfigurationError: the file is not JSON or not a policy (``path`` names it).
    """
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"policy file {path} is not JSON: {error}", path=str(path), field="policy"
        ) from error
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"policy file {path} holds a {type(data).__name__}, not a policy object",
            path=str(path),
            field="policy",
        )
    try:
        return _CONVERTER.structure(data, EscalationPolicy)
    except ConfigurationError as error:
        raise ConfigurationError(
            f"policy file {path}: {error.message}", path=str(path), field="policy"
        ) from error
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as error:
        rules = _policy_rules(error)
        reason = (
            "; ".join(rules or cattrs.transform_error(error))
            if isinstance(error, cattrs.BaseValidationError)
            else str(error)
        )
        raise ConfigurationError(
            f"policy file {path} is not an escalation policy: {reason}",
            path=str(path),
            field="policy",
        ) from error


def _policy_rules(error: BaseException) -> list[str]:
    """The messages of the policy's own rules (``ConfigurationError``) a cattrs error holds."""
    if isinstance(error, ConfigurationError):
        return [error.message]
    found = []
    for inner in getattr(error, "exceptions", ()):
        found += _policy_rules(inner)
    return found


@app.command("backtest")
def backtest_command(
    policy_file: Annotated[
        Path,
        typer.Option(
            "--policy",
            metavar="FILE.json",
            help="The candidate escalation policy, as JSON.",
            show_default=False,
        ),
    ],
    from_month: Annotated[
        str,
        typer.Option("--from", metavar="YYYY-MM", help="First month.", show_default=False),
    ],
    to_month: Annotated[
        str,
        typer.Option("--to", metavar="YYYY-MM", help="Last month, included.", show_default=False),
    ],
    step: Annotated[
        BacktestStep,
        typer.Option("--step", help="Period ends: each month's last day, or each Sunday."),
    ] = BacktestStep.MONTH,
    min_level: Annotated[
        int,
        typer.Option(
            "--min-level",
            min=1,
            help="The level from which a customer counts as escalated.",
        ),
    ] = BACKTEST_MIN_LEVEL,
    known_at: Annotated[datetime | None, known_at_option("The back-test")] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="A table for people, or CSV / JSON with exact decimal amounts."
        ),
    ] = OutputFormat.TABLE,
    csv_raw: Annotated[bool, _CSV_RAW_OPTION] = False,
    partitions_dirs: Annotated[
        list[str] | None,
        typer.Option(
            "--partitions-dir",
            metavar="DIR",
            help="Back-test a partitioned export (arledger export DIR --partitions N) on a "
            "Dask cluster instead of the store: a folder the workers share, or a URI such as "
            "s3://bucket/dir; repeat it for the exports of ledgers sharded over stores. "
            "Needs the distributed extra.",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="With --partitions-dir: a running Dask scheduler, e.g. tcp://10.0.0.5:8786.",
            show_default=False,
        ),
    ] = None,
    local_workers: Annotated[
        int | None,
        typer.Option(
            "--local-workers",
            min=1,
            max=distributed.LOCAL_WORKERS_MAX,
            help="With --partitions-dir: a Dask cluster of K worker processes on this machine "
            "(default: one per CPU, when no --scheduler).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay past period ends under a candidate escalation policy and the policy in force.

    Per period end and policy: customers per level, on supply hold, at the top (legal) level,
    broken promises counted, the customers at --min-level or above with the money collected
    from them afterwards and how many were written off later; then each customer whose level
    differs. The candidate is the single policy on every date. Records nothing.

    With --partitions-dir, the export's partitions are back-tested on a Dask cluster's workers
    (--known-at then cuts by the events' stamps: an export keeps no commit instants) and
    their rows combined: the same figures as the store's.
    """
    _check_csv_raw(csv_raw, output_format)
    if not partitions_dirs and (scheduler is not None or local_workers is not None):
        typer.echo("error: --scheduler and --local-workers are for --partitions-dir", err=True)
        raise typer.Exit(2)
    if scheduler is not None and local_workers is not None:
        typer.echo("error: give --scheduler or --local-workers, not both", err=True)
        raise typer.Exit(2)
    with _reported_errors():
        candidate = read_policy(policy_file)
        if partitions_dirs:
            result = distributed.recompute_backtest(
                partitions_dirs,
                candidate,
                from_month,
                to_month,
                step=step,
                min_level=min_level,
                known_at=known_at,
                scheduler=scheduler,
                local_workers=local_workers,
            )
        else:
            result = _ledger().backtest(
                candidate, from_month, to_month, step=step, min_level=min_level, known_at=known_at
            )
    if output_format is OutputFormat.CSV:
        sys.stdout.write(backtest_csv(result, raw=csv_raw))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(json.dumps(backtest_json(result), indent=2) + "\n")
    else:
        _print_tables(result)


def _moneys(moneys: tuple[Money, ...]) -> str:
    return "; ".join(
        f"{money.currency} {format_minor(money.amount_minor, money.currency)}" for money in moneys
    )


def _row_json(row: BacktestRow) -> dict[str, Any]:
    return {
        "policy_version": row.policy_version,
        "customers_by_level": list(row.customers_by_level),
        "on_supply_hold": row.on_supply_hold,
        "at_legal_level": row.at_legal_level,
        "promises_broken": row.promises_broken,
        "written_off_caught": row.written_off_caught,
        "collected_after": {
            money.currency: format_minor(money.amount_minor, money.currency)
            for money in row.collected_after
        },
        "escalated": [
            {
                "customer_code": customer.customer_code,
                "level": customer.level,
                "written_off_after": customer.written_off_after,
                "collected_after": {
                    money.currency: format_minor(money.amount_minor, money.currency)
                    for money in customer.collected_after
                },
            }
            for customer in row.escalated
        ],
    }


def backtest_json(result: Backtest) -> dict[str, Any]:
    """The back-test as JSON-ready data; amounts are exact decimal strings per currency."""
    return {
        "from_month": result.from_month,
        "to_month": result.to_month,
        "step": result.step.value,
        "known_at": None if result.known_at is None else result.known_at.isoformat(),
        "min_level": result.min_level,
        "candidate_version": result.candidate_version,
        "periods": [
            {
                "period_end": period.period_end.isoformat(),
                "actual": _row_json(period.actual),
                "candidate": _row_json(period.candidate),
            }
            for period in result.periods
        ],
        "differences": [
            {
                "period_end": difference.period_end.isoformat(),
                "customer_code": difference.customer_code,
                "actual_level": difference.actual_level,
                "candidate_level": difference.candidate_level,
            }
            for difference in result.differences
        ],
    }


def backtest_csv(result: Backtest, *, raw: bool = False) -> str:
    """One CSV line per period end and policy (kind ``period``), then one per difference (kind
    ``difference``), all with ``BACKTEST_COLUMNS``. Cells are neutralised for spreadsheets
    unless ``raw``."""
    buffer = io.StringIO()
    writer = csv_output.writer(buffer, raw=raw, lineterminator="\n")
    writer.writerow(BACKTEST_COLUMNS)
    for period in result.periods:
        for row in (period.actual, period.candidate):
            writer.writerow(
                [
                    "period",
                    row.period_end.isoformat(),
                    row.policy.value,
                    row.policy_version,
                    "/".join(str(count) for count in row.customers_by_level),
                    row.on_supply_hold,
                    row.at_legal_level,
                    row.promises_broken,
                    len(row.escalated),
                    row.written_off_caught,
                    _moneys(row.collected_after),
                    "",
                    "",
                    "",
                ]
            )
    for difference in result.differences:
        writer.writerow(
            [
                "difference",
                difference.period_end.isoformat(),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                difference.customer_code,
                difference.actual_level,
                difference.candidate_level,
            ]
        )
    return buffer.getvalue()


def _print_tables(result: Backtest) -> None:
    out = _stdout()
    table = FittedTable(
        Column("Period end", Kind.CODE, key=True),
        Column("Policy", key=True),
        Column("Version", Kind.NUMBER),
        Column("Customers by level", Kind.CODE),
        Column("Supply hold", Kind.NUMBER),
        Column("Legal", Kind.NUMBER),
        Column("Promises broken", Kind.NUMBER),
        Column("Escalated", Kind.NUMBER),
        Column("Written off later", Kind.NUMBER),
        Column("Collected later from the escalated", Kind.AMOUNT),
        title=f"Back-test {result.from_month} to {result.to_month} by {result.step.value}: "
        f"candidate version {result.candidate_version} against the policy in force "
        f"(escalated: level {result.min_level} or above)",
    )
    for period in result.periods:
        for row in (period.actual, period.candidate):
            table.add_row(
                str(row.period_end),
                row.policy.value,
                str(row.policy_version),
                " / ".join(str(count) for count in row.customers_by_level),
                f"{row.on_supply_hold:,}",
                f"{row.at_legal_level:,}",
                f"{row.promises_broken:,}",
                f"{len(row.escalated):,}",
                f"{row.written_off_caught:,}",
                "\n".join(
                    money_cell(money.amount_minor, money.currency) for money in row.collected_after
                ),
            )
    out.print(table)
    differences = FittedTable(
        Column("Period end", Kind.CODE, key=True),
        Column("Customer", Kind.CODE, key=True),
        Column("Actual level", Kind.NUMBER),
        Column("Candidate level", Kind.NUMBER),
        title=f"{len(result.differences)} customer level(s) differ",
    )
    for difference in result.differences[:DIFFERENCES_SHOWN]:
        differences.add_row(
            str(difference.period_end),
            _printable(difference.customer_code),
            str(difference.actual_level),
            str(difference.candidate_level),
        )
    out.print(differences)
    if len(result.differences) > DIFFERENCES_SHOWN:
        out.print(
            f"(the first {DIFFERENCES_SHOWN}; --format csv or json lists them all)", markup=False
        )
