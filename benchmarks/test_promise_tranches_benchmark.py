"""Promises judged tranche by tranche on the fast path (issue 14, strategy item 1): the cost
of judging every tranche on its own deadline.

Small profile, on the generated ledger (``generate_columnar``, about one promise in four of
the long ones in two tranches). ``fast_portfolio`` on one date is timed on the log as it is
and, as the baseline in the same run, on the same log with the tranches taken off (every
promise one tranche: a promise of one date). Budget: at most 1.5x the baseline (asserted at
three times that, far outside noise); medians and the ratio go to ``extra_info``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import numpy as np
import pytest

from arledger.adapters.read_models.columnar import columns, decode_policy
from arledger.adapters.synthetic.generate import generate_columnar
from arledger.projections.fast.portfolio import SELECT, fast_portfolio
from benchmarks.timing import median_s

INVOICES: Final = 20_000
SEED: Final = 14
AS_OF: Final = date(2025, 6, 30)
ROUNDS: Final = 5
BUDGET_X: Final = 1.5


@pytest.fixture(scope="module")
def logs() -> tuple[Any, Any]:
    """(the generated log's columns, the same without tranches)."""
    with_tranches = columns(generate_columnar(INVOICES, SEED), select=SELECT)
    made = dict(with_tranches["PromiseMade"])
    made["tranches.offsets"] = np.zeros_like(made["tranches.offsets"])
    for name in ("tranches.promised_on", "tranches.amount_minor"):
        made[name] = made[name][:0]
    without = dict(with_tranches)
    without["PromiseMade"] = made
    return with_tranches, without


def _run(cols: Any) -> Any:
    return fast_portfolio(cols, AS_OF, decode_policy=decode_policy)


def test_judging_promises_tranche_by_tranche_against_promises_of_one_date(
    benchmark: Any, logs: tuple[Any, Any]
) -> None:
    with_tranches, without = logs
    made = with_tranches["PromiseMade"]
    in_tranches = int((np.diff(made["tranches.offsets"]) > 0).sum())
    assert in_tranches > 0, "the generated ledger has promises in tranches"
    _run(with_tranches)  # compile and warm up both, outside the timings
    _run(without)

    baseline_s = median_s(lambda: _run(without), ROUNDS)
    result = benchmark.pedantic(_run, args=(with_tranches,), rounds=ROUNDS, iterations=1)
    tranches_s = median_s(lambda: _run(with_tranches), ROUNDS)
    ratio = tranches_s / baseline_s

    benchmark.extra_info.update(
        promises=len(made["originator_id"]),
        promises_in_tranches=in_tranches,
        baseline_median_s=round(baseline_s, 4),
        tranches_median_s=round(tranches_s, 4),
        x_baseline=round(ratio, 2),
    )
    print(
        f"\nfast_portfolio at {INVOICES:,} invoices, {in_tranches:,} of "
        f"{len(made['originator_id']):,} promises in tranches: {tranches_s:.3f} s against "
        f"{baseline_s:.3f} s without tranches ({ratio:.2f}x; budget {BUDGET_X}x)"
    )
    assert len(result.promises.status) == len(made["originator_id"])
    assert ratio <= 3 * BUDGET_X
