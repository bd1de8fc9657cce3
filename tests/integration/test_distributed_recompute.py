"""The portfolio recomputed on a Dask cluster (issue 16, items 2 and 3): each partition on a
worker of a ``LocalCluster``, the answers combined, equal the single-process fast path on the
whole log field by field (ageing by currency, owner and customer; worklist; escalation counts;
KPIs); a worker killed mid-task is retried and the answer is still exact; a missing partition is
an error naming it; the core and the CLI's help work with Dask hidden."""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import attrs
import distributed  # the dev extra holds it: missing, the module fails, never skips
import pyarrow.fs as pafs
import pytest
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar, partitions
from arledger.adapters.read_models.distributed import (
    PartitionResult,
    Recompute,
    answer_partition,
    recompute,
)
from arledger.adapters.read_models.engine import SELECT
from arledger.adapters.read_models.partitions import PartitionError, write_partitioned
from arledger.adapters.synthetic.generate import (
    END_ON_DEFAULT,
    generate_columnar,
    generate_to_store,
)
from arledger.domain.events import Event
from arledger.projections import kpis
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.fast import kpis as fast_kpis
from tests.integration.test_partitioned_export import with_policy

INVOICES = 800
SEED = 20_261_216
AS_OF = END_ON_DEFAULT
KPI_MONTHS = 3


@attrs.frozen(kw_only=True)
class Expected:
    """The single-process fast path's answers on the whole log."""

    answers: partitions.PortfolioAnswers
    kpis: kpis.KpiReport


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return with_policy(list(columnar.from_columnar(generate_columnar(INVOICES, SEED))))


def expected_of(events: list[Event], known_at: datetime | None = None) -> Expected:
    log = columnar.to_columnar(events)
    start_on, end_on = kpis.trailing_period(AS_OF, KPI_MONTHS)
    report = fast_kpis.kpi_report_fast(
        columnar.columns(log, select=SELECT),
        start_on,
        end_on,
        decode_policy=columnar.decode_policy,
        known_at=known_at,
    )
    return Expected(
        answers=partitions.portfolio_answers(log, AS_OF, known_at=known_at), kpis=report
    )


@pytest.fixture(scope="module")
def whole(events: list[Event]) -> Expected:
    return expected_of(events)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes, one thread each: the tasks are pickled to and from processes."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def assert_equal_to(expected: Expected, answer: Recompute) -> None:
    assert expected.answers.ageing_by_currency == answer.ageing_by_currency
    assert expected.answers.ageing_by_owner == answer.ageing_by_owner
    assert expected.answers.ageing_by_customer == answer.ageing_by_customer
    assert expected.answers.worklist == answer.worklist
    levels = Counter(item.level for item in expected.answers.worklist.items)
    assert tuple(sorted(levels.items())) == answer.escalation_counts
    assert expected.kpis == answer.kpis


@pytest.mark.parametrize("count", [1, 2, 7])
def test_the_recompute_on_a_cluster_equals_the_single_process_fast_path(
    tmp_path: Path, events: list[Event], whole: Expected, client: Any, count: int
) -> None:
    # Not vacuous: several customers, currencies, owners and levels; KPIs with sales and a
    # countback; rows of one owner in several partitions (summed, not concatenated).
    assert 30 < len(whole.answers.ageing_by_customer.rows)
    assert 2 < len(whole.answers.ageing_by_currency.rows)
    assert 1 < len(whole.answers.ageing_by_owner.rows)
    assert 1 < len({item.level for item in whole.answers.worklist.items})
    assert any(row.credit_sales_minor and row.dso_days_countback for row in whole.kpis.rows)

    written = write_partitioned(events, tmp_path / "parts", partitions=count)
    answer = recompute(tmp_path / "parts", AS_OF, kpi_months=KPI_MONTHS, client=client)

    assert_equal_to(whole, answer)
    assert count == answer.partitions
    assert list(written.events) == [figure.events for figure in answer.figures]
    # Answers, not events, came back: far fewer bytes than the partitions' logs.
    assert answer.bytes_to_client < sum(figure.log_bytes for figure in answer.figures)


def test_kpis_are_combined_from_sums_not_averaged(
    tmp_path: Path, events: list[Event], whole: Expected, client: Any
) -> None:
    # The portfolio's DSO differs from the mean of the partitions' DSOs: an average of
    # averages would not give the portfolio's figure; the sums do.
    write_partitioned(events, tmp_path / "parts", partitions=2)
    results = [
        answer_partition(tmp_path / "parts", index, AS_OF, None, whole.kpis.start_on)
        for index in range(2)
    ]
    per_part = [fast_kpis.kpi_report_of_sums(result.kpi_sums) for result in results]
    currency = whole.kpis.rows[0].currency
    dso = [next(r.dso_days for r in report.rows if r.currency == currency) for report in per_part]
    assert all(value is not None for value in dso)
    mean = sum(value for value in dso if value is not None) / 2
    combined = fast_kpis.kpi_report_of_sums(
        fast_kpis.combined_kpi_sums([result.kpi_sums for result in results])
    )
    assert whole.kpis == combined
    assert mean != whole.kpis.rows[0].dso_days


def test_the_recompute_at_a_known_at_equals_the_fast_path_at_it(
    tmp_path: Path, events: list[Event], client: Any
) -> None:
    known_at = events[len(events) * 2 // 3].timestamp
    expected = expected_of(events, known_at)
    assert expected.answers.worklist != expected_of(events).answers.worklist  # the cut shows
    write_partitioned(events, tmp_path / "parts", partitions=2)
    answer = recompute(
        tmp_path / "parts", AS_OF, known_at=known_at, kpi_months=KPI_MONTHS, client=client
    )
    assert_equal_to(expected, answer)


def test_top_keeps_the_first_items_and_counts_all(
    tmp_path: Path, events: list[Event], whole: Expected, client: Any
) -> None:
    write_partitioned(events, tmp_path / "parts", partitions=2)
    answer = recompute(tmp_path / "parts", AS_OF, top=3, client=client)
    assert whole.answers.worklist.items[:3] == answer.worklist.items
    assert len(whole.answers.worklist.items) == answer.worklist_customers
    assert len(whole.answers.worklist.items) == sum(n for _, n in answer.escalation_counts)


def test_partitions_are_read_through_a_pyarrow_or_fsspec_filesystem(
    tmp_path: Path, events: list[Event], whole: Expected, client: Any
) -> None:
    write_partitioned(events, tmp_path / "parts", partitions=2)
    uri = (tmp_path / "parts").as_uri()  # file:///...: pyarrow resolves the filesystem
    assert_equal_to(whole, recompute(uri, AS_OF, kpi_months=KPI_MONTHS, client=client))
    fsspec = pytest.importorskip("fsspec")  # installed with dask
    local = fsspec.filesystem("file")
    logs = partitions.read_partitions(str(tmp_path / "parts"), filesystem=local)
    arrow = partitions.read_partitions(str(tmp_path / "parts"), filesystem=pafs.LocalFileSystem())
    expected = partitions.read_partitions(tmp_path / "parts")
    assert [log.event_count for log in expected] == [log.event_count for log in logs]
    assert [list(columnar.from_columnar(log)) for log in expected] == [
        list(columnar.from_columnar(log)) for log in arrow
    ]


def test_a_missing_partition_is_an_error_naming_it(
    tmp_path: Path, events: list[Event], client: Any
) -> None:
    write_partitioned(events[:2_000], tmp_path / "parts", partitions=3)
    folder = tmp_path / "parts" / partitions.partition_folder(1, 3)
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    with pytest.raises(PartitionError, match="partition 1 of 3") as raised:
        recompute(tmp_path / "parts", AS_OF, client=client)
    assert 1 == raised.value.partition


def test_a_corrupt_partition_is_an_error_naming_it(
    tmp_path: Path, events: list[Event], client: Any
) -> None:
    write_partitioned(events[:2_000], tmp_path / "parts", partitions=2)
    table = tmp_path / "parts" / partitions.partition_folder(0, 2) / "InvoiceIssued.parquet"
    table.write_bytes(table.read_bytes()[:100])
    with pytest.raises(PartitionError, match="partition 0 of 2") as raised:
        recompute(tmp_path / "parts", AS_OF, client=client)
    assert 0 == raised.value.partition


def held_once(
    hold: str,
    location: partitions.Location,
    index: int,
    as_of: date,
    known_at: datetime | None,
    kpi_start_on: date,
    filesystem: Any = None,
) -> PartitionResult:
    """``answer_partition``, except that the first attempt at partition 0 tells the test its
    process id through the ``ready`` FIFO and then blocks for good (opening the ``never`` FIFO,
    which no one writes): the test kills that worker while it is in the task."""
    if index == 0:
        try:
            os.close(os.open(Path(hold) / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass  # a retry: compute
        else:
            with open(Path(hold) / "ready", "w") as ready:
                ready.write(str(os.getpid()))
            with open(Path(hold) / "never"):
                pass
            raise AssertionError("the never FIFO was opened for writing")
    return answer_partition(location, index, as_of, known_at, kpi_start_on, filesystem)


def test_a_worker_killed_mid_task_is_retried_and_the_answer_is_exact(
    tmp_path: Path, events: list[Event], whole: Expected
) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    os.mkfifo(hold / "ready")
    os.mkfifo(hold / "never")
    write_partitioned(events, tmp_path / "parts", partitions=2)
    task = functools.partial(held_once, str(hold))
    # A cluster of its own: its killed worker does not disturb the other tests' cluster.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as own,
        ThreadPoolExecutor(1) as pool,
    ):
        # Opened before the task writes, without blocking: the task's open for writing then
        # returns at once, and select waits for its process id (a bound, not a sleep).
        reader = os.open(hold / "ready", os.O_RDONLY | os.O_NONBLOCK)
        try:
            running = pool.submit(
                recompute, tmp_path / "parts", AS_OF, kpi_months=KPI_MONTHS, client=own, task=task
            )
            readable, _, _ = select.select([reader], [], [], 120)
            assert readable, f"the task did not start: {running.exception(timeout=0)}"
            pid = int(os.read(reader, 64).decode())
        finally:
            os.close(reader)
        worker_pids = set(own.run(os.getpid).values())
        assert pid in worker_pids  # the task is held in a worker process of the cluster
        os.kill(pid, signal.SIGKILL)
        answer = running.result(timeout=300)
    assert (hold / "claimed").exists()  # the held attempt never returns: a retry answered
    assert_equal_to(whole, answer)


def test_the_cli_recomputes_on_local_workers_or_a_scheduler(
    tmp_path: Path, events: list[Event], whole: Expected, client: Any
) -> None:
    write_partitioned(events, tmp_path / "parts", partitions=2)
    result = CliRunner().invoke(
        app,
        [
            "recompute",
            str(tmp_path / "parts"),
            "--as-of",
            AS_OF.isoformat(),
            "--local-workers",
            "1",
            "--top",
            "0",
            "--format",
            "json",
        ],
    )
    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert 2 == data["partitions"]
    assert len(whole.answers.worklist.items) == len(data["worklist"]["items"])
    codes = [item.customer_code for item in whole.answers.worklist.items]
    assert codes == [item["customer_code"] for item in data["worklist"]["items"]]
    rows = whole.answers.ageing_by_currency.rows
    assert [row.currency for row in rows] == [
        row["currency"] for row in data["ageing_by_currency"]["rows"]
    ]

    table = CliRunner().invoke(
        app,
        [
            "recompute",
            str(tmp_path / "parts"),
            "--as-of",
            AS_OF.isoformat(),
            "--scheduler",
            client.scheduler.address,
        ],
        env={"COLUMNS": "200"},
    )
    assert 0 == table.exit_code, table.output
    assert "Customers per escalation level" in table.stdout
    assert whole.answers.worklist.items[0].customer_code in table.stdout


def test_the_cli_names_a_missing_export_and_refuses_two_clusters(tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        app, ["recompute", str(tmp_path / "none"), "--as-of", "2025-12-31", "--local-workers", "1"]
    )
    assert 1 == missing.exit_code
    assert "partitions.json" in missing.stderr
    both = CliRunner().invoke(
        app,
        [
            "recompute",
            str(tmp_path),
            "--as-of",
            "2025-12-31",
            "--local-workers",
            "1",
            "--scheduler",
            "tcp://127.0.0.1:1",
        ],
    )
    assert 2 == both.exit_code
    assert "not both" in both.stderr


HIDDEN = textwrap.dedent(
    """
    import importlib.abc, sys

    class Hidden(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("dask", "distributed"):
                raise ImportError(f"No module named {name!r} (hidden by the test)")
            return None

    sys.meta_path.insert(0, Hidden())
    import arledger
    from typer.testing import CliRunner
    from arledger.adapters.cli.app import app

    help = CliRunner().invoke(app, ["--help"])
    assert help.exit_code == 0, help.output
    assert "recompute" in help.stdout
    run = CliRunner().invoke(
        app, ["recompute", sys.argv[1], "--as-of", "2025-12-31", "--local-workers", "2"]
    )
    print(run.exit_code)
    print(run.stderr)
    assert not any(name.split(".")[0] in ("dask", "distributed") for name in sys.modules)
    """
)


def test_the_core_and_the_cli_work_without_dask(tmp_path: Path, events: list[Event]) -> None:
    write_partitioned(events[:2_000], tmp_path / "parts", partitions=2)
    done = subprocess.run(
        [sys.executable, "-c", HIDDEN, str(tmp_path / "parts")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    code, message = done.stdout.split("\n", 1)
    assert "2" == code
    assert "pip install 'arledger[distributed]'" in message


def test_an_as_of_outside_the_log_is_answered_and_a_bad_top_refused(
    tmp_path: Path, events: list[Event], client: Any
) -> None:
    write_partitioned(events[:2_000], tmp_path / "parts", partitions=2)
    with pytest.raises(ValueError, match="top"):
        recompute(tmp_path / "parts", AS_OF, top=-1, client=client)
    early = recompute(tmp_path / "parts", date(2000, 1, 31), client=client)
    assert () == early.ageing_by_customer.rows
    assert () == early.worklist.items


def test_two_stores_one_ledger_each_are_recomputed_as_one_portfolio(
    tmp_path: Path, client: Any
) -> None:
    # Ledgers sharded over two stores (here two SQLite files; on PostgreSQL, two servers or
    # two schemas): each store exported on its own, one recompute over both exports. Seeds
    # differ, so do the customers (codes G<seed>-...); the policy is the generator's in both.
    ledgers = []
    for seed in (11, 12):
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / f"shard-{seed}.db")}
        ledger = Ledger(env=env)
        generate_to_store(ledger, 250, seed)
        write_partitioned(ledger.iter_events(), tmp_path / f"export-{seed}", partitions=2)
        ledgers.append(ledger)
    try:
        answer = recompute(
            [tmp_path / "export-11", tmp_path / "export-12"], AS_OF, top=None, client=client
        )
        by_customer = [ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER) for ledger in ledgers]
        by_currency = [ledger.ageing(AS_OF, grouping=AgeingGrouping.CURRENCY) for ledger in ledgers]
        worklists = [ledger.worklist(AS_OF) for ledger in ledgers]
    finally:
        for ledger in ledgers:
            ledger.close()

    assert 4 == answer.partitions
    assert all(report.rows for report in by_customer)  # both stores owe money
    assert (
        tuple(
            sorted(
                (row for report in by_customer for row in report.rows),
                key=lambda r: (r.key, r.currency),
            )
        )
        == answer.ageing_by_customer.rows
    )
    assert partitions.combined_ageing(by_currency) == answer.ageing_by_currency
    assert {item for worklist in worklists for item in worklist.items} == set(answer.worklist.items)
    assert len(worklists[0].items) + len(worklists[1].items) == len(answer.worklist.items)


def test_exports_whose_customers_overlap_are_refused(
    tmp_path: Path, events: list[Event], client: Any
) -> None:
    write_partitioned(events, tmp_path / "a", partitions=2)
    write_partitioned(events, tmp_path / "b", partitions=3)
    with pytest.raises(PartitionError, match="are in two partitions"):
        recompute([tmp_path / "a", tmp_path / "b"], AS_OF, client=client)
