"""Back-testing over a partitioned export on a Dask cluster (issue 16, item 2's back-testing):
each partition back-tested on a worker of a ``LocalCluster``, the rows combined, equal
``Ledger.backtest`` of the same ledger field by field (customers per level, holds, legal
referrals, broken promises, escalated customers with the money collected from them later and
their write-offs, differences by customer); by the API and by ``arledger backtest
--partitions-dir``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import distributed  # the dev extra holds it: missing, the module fails, never skips
import pytest
from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.adapters.cli.backtest import backtest_json
from arledger.adapters.persistence.serialization import make_converter
from arledger.adapters.read_models.distributed import recompute_backtest
from arledger.adapters.read_models.partitions import PartitionError, write_partitioned
from arledger.adapters.synthetic.generate import generate_to_store
from arledger.domain.errors import InvalidCommandError, InvalidDateError
from arledger.projections.backtest import Backtest, BacktestStep
from tests.conftest import FixedClock
from tests.integration.test_backtest import STRICTER as CANDIDATE
from tests.property.test_fast_path_differential import STRICTER as ADOPTED

INVOICES = 700
SEED = 20_261_223
FROM, TO = "2024-10", "2025-12"


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    """The generated ledger with a stricter policy adopted for the second half of 2025: the
    actual rows change policy on the way, the candidate's do not."""
    clock = FixedClock(datetime(2027, 1, 1, tzinfo=UTC))  # after the generator's own times
    found = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=clock)
    generate_to_store(found, INVOICES, SEED)
    found.adopt_policy(
        policy=ADOPTED, effective_on=date(2025, 7, 1), approver="CFO", reason="review"
    )
    yield found
    found.close()


@pytest.fixture(scope="module")
def expected(ledger: Ledger) -> Backtest:
    return ledger.backtest(CANDIDATE, FROM, TO)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


@pytest.mark.parametrize("count", [1, 2, 7])
def test_the_backtest_on_a_cluster_equals_the_ledgers(
    tmp_path: Path, ledger: Ledger, expected: Backtest, client: Any, count: int
) -> None:
    # Not vacuous: the policies disagree on customers, customers are escalated and later pay
    # or are written off, promises are broken, and the actual policy changes in the period.
    assert expected.differences
    rows = [row for period in expected.periods for row in (period.actual, period.candidate)]
    assert any(row.escalated and row.collected_after for row in rows)
    assert any(row.written_off_caught for row in rows)
    assert any(row.promises_broken for row in rows)
    assert any(row.on_supply_hold for row in rows)
    assert 1 < len({period.actual.policy_version for period in expected.periods})
    write_partitioned(ledger.iter_events(), tmp_path / "parts", partitions=count)

    answer = recompute_backtest(tmp_path / "parts", CANDIDATE, FROM, TO, client=client)

    assert expected.periods == answer.periods
    assert expected.differences == answer.differences
    assert expected == answer


def test_weeks_a_level_and_a_known_at_are_backtested_as_the_ledgers(
    tmp_path: Path, ledger: Ledger, client: Any
) -> None:
    # Known at the instant the policy was adopted (the clock's): the same log, by its stamps.
    known_at = datetime(2027, 1, 1, tzinfo=UTC)
    expected = ledger.backtest(
        CANDIDATE, "2025-05", "2025-08", step=BacktestStep.WEEK, min_level=2, known_at=known_at
    )
    write_partitioned(ledger.iter_events(), tmp_path / "parts", partitions=3)

    answer = recompute_backtest(
        tmp_path / "parts",
        CANDIDATE,
        "2025-05",
        "2025-08",
        step=BacktestStep.WEEK,
        min_level=2,
        known_at=known_at,
        client=client,
    )

    assert 18 == len(answer.periods)  # the Sundays from 4 May to 31 August 2025
    assert expected == answer


def test_the_cli_backtests_a_partitioned_export_as_the_ledger(
    tmp_path: Path, ledger: Ledger, expected: Backtest, client: Any
) -> None:
    write_partitioned(ledger.iter_events(), tmp_path / "parts", partitions=2)
    policy = tmp_path / "candidate.json"
    policy.write_text(json.dumps(make_converter().unstructure(CANDIDATE)))
    result = CliRunner().invoke(
        app,
        [
            *("backtest", "--policy", str(policy), "--from", FROM, "--to", TO),
            *("--partitions-dir", str(tmp_path / "parts"), "--scheduler"),
            *(client.scheduler.address, "--format", "json"),
        ],
    )

    assert 0 == result.exit_code, result.output
    assert backtest_json(expected) == json.loads(result.stdout)

    both = CliRunner().invoke(
        app,
        [
            *("backtest", "--policy", str(policy), "--from", FROM, "--to", TO),
            *("--partitions-dir", str(tmp_path / "parts"), "--local-workers", "1"),
            *("--scheduler", client.scheduler.address),
        ],
    )
    assert 2 == both.exit_code
    assert "not both" in both.output
    cluster_only = CliRunner().invoke(
        app,
        [
            *("backtest", "--policy", str(policy), "--from", FROM, "--to", TO),
            *("--local-workers", "1"),
        ],
    )
    assert 2 == cluster_only.exit_code
    assert "--partitions-dir" in cluster_only.output


def test_bad_terms_are_refused_before_any_work(tmp_path: Path) -> None:
    # No export there and no cluster: the terms are checked first.
    with pytest.raises(InvalidDateError, match="to_month"):
        recompute_backtest(tmp_path / "none", CANDIDATE, "2025-05", "2025-01", local_workers=1)
    with pytest.raises(InvalidCommandError, match="min_level"):
        recompute_backtest(tmp_path / "none", CANDIDATE, FROM, TO, min_level=0, local_workers=1)
    with pytest.raises(InvalidCommandError, match="candidate"):
        recompute_backtest(tmp_path / "none", "strict", FROM, TO, local_workers=1)  # type: ignore[arg-type]
    with pytest.raises(PartitionError, match=r"no partitions\.json"):
        recompute_backtest(tmp_path / "none", CANDIDATE, FROM, TO, local_workers=1)


def test_exports_whose_customers_overlap_are_refused(
    tmp_path: Path, ledger: Ledger, client: Any
) -> None:
    write_partitioned(ledger.iter_events(), tmp_path / "a", partitions=2)
    write_partitioned(ledger.iter_events(), tmp_path / "b", partitions=3)
    with pytest.raises(PartitionError, match="in two partitions"):
        recompute_backtest([tmp_path / "a", tmp_path / "b"], CANDIDATE, FROM, TO, client=client)
