"""The retry loops have named maxima: a conflict that never resolves ends in
``ConcurrencyError`` after a bounded number of attempts, never in a loop without end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models import runner as runner_module
from arledger.adapters.read_models.runner import STALE_RETRIES_MAX, StaleRunnerError
from arledger.domain.errors import ConcurrencyError


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "l.db")})
    yield ledger
    ledger.close()


def always_stale(calls: list[int]) -> Any:
    def stale(*_args: Any, **_kwargs: Any) -> None:
        calls.append(1)
        raise StaleRunnerError("another runner came first")

    return stale


def test_a_catch_up_that_is_always_overtaken_gives_up_after_the_maximum(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ledger.projection_runner()
    calls: list[int] = []
    monkeypatch.setattr(runner, "_catch_up", always_stale(calls))

    with pytest.raises(ConcurrencyError) as gave_up:
        runner.catch_up()

    assert STALE_RETRIES_MAX == len(calls) == gave_up.value.attempts


def test_a_portfolio_query_whose_catch_up_is_always_overtaken_gives_up(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ledger.projection_runner()
    calls: list[int] = []
    monkeypatch.setattr(runner, "catch_up", always_stale(calls))

    with pytest.raises(ConcurrencyError):
        ledger.portfolio()

    assert runner_module.STALE_RETRIES_MAX == len(calls)
