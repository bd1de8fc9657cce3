"""A projection runner killed mid-batch resumes to results equal to a rebuild.

Real processes, no mocks: a child process rebuilds the stored read model over a few thousand
events, from a small first batch (later batches of a catch-up grow); the test polls the
tracking position in the database until the child has committed some batches but not all,
SIGKILLs it, then resumes in this process with ``catch_up`` and checks the stored portfolio
against a rebuild and a fresh fold of the log.
Runs on a SQLite file and a PostgreSQL schema.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import closing

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.runner import ProjectionRunner, ReadModelTables, tables_for
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.projections import portfolio
from tests.conftest import FixedClock

CHILD_BATCH_SIZE = 10
"""A small first batch: commits start early (at 10, 30, 90, ... events as batches grow), so the
child is caught between two of them."""
DEADLINE_S = 60.0

CHILD = """
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models.runner import ProjectionRunner

runner = ProjectionRunner(Ledger(), batch_size={batch_size})
runner.rebuild()
runner.close()
"""

pytestmark = pytest.mark.slow


def wait_mid_way(child: subprocess.Popen[bytes], tables: ReadModelTables, head: int) -> int:
    """Poll the committed position until the child is past its first batch and short of the
    head; returns that position. Fails if the child ends first or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        position = tables.position()
        if 0 < position < head:
            return position
        if child.poll() is not None:
            pytest.fail(f"the child ended (code {child.returncode}) at position {position}")
    pytest.fail(f"the child did not get past its first batch within {DEADLINE_S} s")


def test_a_runner_killed_mid_rebuild_resumes_to_a_rebuild(
    persistent_store_env: dict[str, str],
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_demo(ledger, generate_demo(7, customers=40, invoices=600))
    head = ledger.recorder.max_notification_id() or 0
    tables = tables_for(ledger.store_settings)
    assert head > 2_000

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(batch_size=CHILD_BATCH_SIZE)],
        env={**os.environ, **persistent_store_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen = wait_mid_way(child, tables, head)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        _, stderr = child.communicate(timeout=DEADLINE_S)
    killed_at = tables.position()
    tables.close()

    resumed_ledger = Ledger(env=persistent_store_env)
    with closing(resumed_ledger), closing(ProjectionRunner(resumed_ledger)) as runner:
        folded_after_kill = runner.catch_up()
        status = runner.status()
        resumed = runner.portfolio()
        fresh = portfolio.fold_all(resumed_ledger.iter_events())
        runner.rebuild()
        rebuilt = runner.portfolio()

    assert -signal.SIGKILL == child.returncode, stderr.decode()
    assert 0 < seen <= killed_at < head
    assert folded_after_kill > 0  # ids may have gaps on PostgreSQL: no exact count
    assert head == status.position
    assert fresh == resumed
    assert rebuilt == resumed
