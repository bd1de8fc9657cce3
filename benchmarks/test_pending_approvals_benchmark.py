"""Pending reduction requests on the worklist (issue 13.1): the query engine's answer reads only
the request tables, the requested invoices and their customers from the columnar log
(``QueryEngine.reduction_request_events``), where the reductions fold over the whole log (what
``Ledger.pending_approvals`` folded before) decodes every event.

Small profile: a generated ledger of 20,000 invoices (its concession requests among them).
Timed in the same run, warm (the columnar log loaded): the pending approvals from the engine's
cut of the log, and from the whole log's reductions fold; the ratio goes into
``benchmark.extra_info`` and is printed. Asserted: both give the same pending requests, and the
engine's answer is at least ``RATIO_MIN`` times faster (far below what it gives: a ratio, never
an absolute time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.projections import reductions
from benchmarks import timing
from benchmarks.conftest import generated_store

INVOICES: Final = 20_000
SEED: Final = 20261207
ROUNDS: Final = 5
RATIO_MIN: Final = 5.0


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path = Path(tmp_path_factory.mktemp("pending")) / "generated.db"
    opened = Ledger(env=generated_store(path, INVOICES, SEED))
    yield opened
    opened.close()


def test_pending_approvals_read_a_cut_of_the_log_not_every_event(
    benchmark: Any, ledger: Ledger
) -> None:
    engine = ledger.query_engine()

    def from_requests() -> tuple[reductions.PendingApproval, ...]:
        return reductions.pending_approvals(
            reductions.fold_all(engine.reduction_request_events(None))
        )

    def from_whole_log() -> tuple[reductions.PendingApproval, ...]:
        return reductions.pending_approvals(reductions.fold_all(engine.events(None)))

    pending = from_requests()
    assert pending  # the generated ledger has requests waiting
    assert from_whole_log() == pending
    whole_s = timing.median_s(from_whole_log, ROUNDS)
    benchmark.pedantic(from_requests, rounds=ROUNDS, iterations=1)
    cut_s = benchmark.stats.stats.median
    ratio = whole_s / cut_s
    benchmark.extra_info.update(
        {"pending": len(pending), "whole_log_s": whole_s, "cut_s": cut_s, "ratio": ratio}
    )
    print(
        f"\npending approvals, {INVOICES:,} invoices: cut {cut_s * 1000:.1f} ms, whole log "
        f"{whole_s * 1000:.1f} ms ({ratio:.0f}x)"
    )
    assert ratio >= RATIO_MIN
